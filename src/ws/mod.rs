//! Stage `ws`: WebSocket (RFC 6455) with permessage-deflate (RFC 7692).
//!
//! Takes the bytes of one upgraded TCP connection, per direction and in any
//! chunking, with the handshake's agreement ([`Negotiated`]) or without it
//! (capture started mid-connection); gives every data [`Message`]
//! (reassembled from fragments, unmasked, inflated), every [`Control`] frame
//! (pongs matched to pings), how the connection [`Closed`], and findings for
//! protocol violations, lost data and hit limits, all into a [`Sink`].
//! Without a handshake, [`probe`] decides from both directions' first bytes
//! whether the connection is WebSocket at all, and the connection states
//! how sure it is ([`Confidence`]).
//!
//! It never panics on input, never buffers beyond [`Limits`](crate::limits::Limits)
//! (compressed bytes are inflated as they arrive, inflation stops at the size
//! and ratio caps), never shows bytes inflated from a compression window it
//! does not have as if they were known (they are 0xFF, and such text is
//! never given as text), and reports no WebSocket finding on a connection
//! whose only sign of WebSocket is frame structure.
//!
//! Files: `frame` (pure header parser, unmasking), `negotiate` (handshake
//! headers), `deflate` (one inflater per direction), `assembler` (frames to
//! messages), `midstream` (finding frame boundaries), `evidence` (grading
//! what frames show), `probe` (WebSocket or not, without a handshake),
//! `proof` (findings held until the connection is proven), `side` (one
//! direction's frame machine), `connection` (both directions, controls,
//! close), `message` (the event types).

mod assembler;
mod connection;
mod deflate;
mod emit;
mod evidence;
mod findings;
mod frame;
mod message;
mod midstream;
mod negotiate;
mod probe;
mod proof;
mod side;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_corpus;
#[cfg(test)]
mod tests_probe;
#[cfg(test)]
mod tests_window;

pub use connection::Connection;
pub use evidence::{Confidence, DirEvidence, Evidence, Ports};
pub use findings::FindingCode;
pub use message::{
    CloseSent, Closed, Control, ControlOpcode, DirSummary, Message, MessageOpcode, NotInflated,
    Summary, TcpEnd,
};
pub use negotiate::{accept_key, Negotiated, NegotiationProblem, PermessageDeflate};
pub use probe::{probe, Probe};

use crate::finding::Findings;

/// Where the WebSocket stage sends its events.
pub trait Sink: Findings {
    /// A complete data message (or what is left of a cut one).
    fn on_message(&mut self, message: &Message<'_>);
    /// A control frame (close, ping, pong).
    fn on_control(&mut self, control: &Control<'_>);
    /// How the connection ended; once, from [`Connection::finish`].
    fn on_closed(&mut self, _closed: &Closed) {}
}

/// Entry points for fuzzers; not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    use crate::finding::{Finding, Findings};
    use crate::limits::Limits;
    use crate::position::{Dir, FrameRef, Timestamp};

    use super::{Closed, Connection, Control, Message, Negotiated, Sink};

    /// Counts events, keeps nothing.
    #[derive(Default)]
    struct Discard(u64);

    impl Findings for Discard {
        fn push_finding(&mut self, _f: Finding) {
            self.0 += 1;
        }
    }

    impl Sink for Discard {
        fn on_message(&mut self, m: &Message<'_>) {
            self.0 += m.payload.len() as u64;
        }
        fn on_control(&mut self, _c: &Control<'_>) {
            self.0 += 1;
        }
        fn on_closed(&mut self, _c: &Closed) {
            self.0 += 1;
        }
    }

    /// The frame header parser on arbitrary bytes.
    pub fn parse_frame_header(data: &[u8]) {
        let _ = super::frame::parse_header(data);
    }

    /// The detection of a WebSocket without its handshake: `data` split at
    /// its middle into the first bytes of the two directions.
    pub fn probe(data: &[u8]) {
        let (c2s, s2c) = data.split_at(data.len() / 2);
        for at_end in [false, true] {
            let _ = super::probe([c2s, s2c], None, 4096, at_end);
        }
    }

    /// The handshake header reader: `data` split at NUL bytes into offer, answer, subprotocol.
    pub fn negotiate(data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        let mut parts = text.split('\0');
        let (offer, answer, proto) = (parts.next(), parts.next(), parts.next());
        let _ = Negotiated::from_headers(offer, answer, proto);
    }

    /// A whole connection: the first byte picks the mode (handshake with
    /// deflate, without, or mid-stream); then each control byte gives the
    /// direction (bit 7), data or event (bit 6) and a length (bits 0-5) of
    /// the chunk that follows; an event chunk's first byte picks gap or TCP end.
    pub fn connection(data: &[u8]) {
        let limits = Limits {
            max_ws_message: 4096,
            max_inflated_message: 4096,
            max_ws_resync_frame: 1024,
            ..Limits::default()
        };
        let Some((&mode, mut rest)) = data.split_first() else {
            return;
        };
        let mut conn = match mode % 3 {
            0 => Connection::new_midstream(0, &limits),
            1 => Connection::new(0, Negotiated::default(), &limits),
            _ => {
                let (n, _) = Negotiated::from_headers(None, Some("permessage-deflate"), None);
                Connection::new(0, n, &limits)
            }
        };
        let mut sink = Discard::default();
        let mut frame = 0;
        while let Some((&control, tail)) = rest.split_first() {
            frame += 1;
            let at = FrameRef::new(frame, Timestamp::from_secs_nanos(frame as i64, 0));
            let dir = if control & 0x80 == 0 {
                Dir::ClientToServer
            } else {
                Dir::ServerToClient
            };
            let len = usize::from(control & 0x3f) + 1;
            let (chunk, after) = tail.split_at(len.min(tail.len()));
            let flag = chunk.first().copied().unwrap_or(0);
            match (control & 0x40 != 0, flag & 1 == 1) {
                (false, _) => {
                    conn.on_data(dir, at, chunk, &mut sink);
                }
                (true, true) => conn.on_gap(dir, at, len as u64, &mut sink),
                (true, false) => conn.on_tcp_end(dir, at, flag & 2 != 0, &mut sink),
            }
            rest = after;
        }
        conn.finish(&mut sink);
        let _ = conn.summary();
    }
}
