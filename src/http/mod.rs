//! Stage `http`: HTTP/1.1 on any port, its upgrades, BOSH and REST.
//!
//! Takes the reassembled bytes of a TCP connection whose first bytes look
//! like HTTP ([`detect`]: a request line from the client, a status line from
//! the server); gives [`Exchange`]s (request and response paired
//! in order, with latency, the headers that matter and capped body text),
//! an [`Upgrade`] at the exact byte where a `101 Switching Protocols` (or a
//! CONNECT tunnel) hands the connection to another protocol, [`bosh`] events
//! carrying XMPP stanzas, and findings. Secrets (Authorization, Cookie,
//! Set-Cookie, password-like parameters, SASL payloads in body text) are
//! redacted in the values themselves unless the user asked to see them.
//!
//! Parsing is pure (module `parser`, `httparse` underneath); [`Connection`] is the
//! fed, stateful part; [`exchange_from_parts`] makes the same [`Exchange`]
//! from an exchange given whole, without bytes (a HAR entry). Never panics
//! on input, never buffers past the caps in [`crate::limits::Limits`]:
//! hitting one is a finding and parsing goes on.

mod body;
pub mod bosh;
mod complete;
mod connection;
mod exchange;
mod findings;
mod parser;
mod payload;
mod upgrade;

#[cfg(test)]
mod tests;

pub use body::{ChunkError, InflateError};
pub use complete::{exchange_from_parts, ExchangeAt, MessageParts, RequestParts, ResponseParts};
pub use connection::Connection;
pub use exchange::{
    redact_view, Exchange, Held, Payload, Protocol, Request, RequestHeaders, Response,
    ResponseHeaders, Upgrade, REDACTED,
};
pub use findings::FindingCode;
pub use parser::{detect, ChunkSizeError, FramingError, HeadError, Probe};

use crate::finding::Findings;

/// Where a [`Connection`] sends what it finds.
pub trait Sink: Findings {
    /// A request and its response (or a request left unanswered, or a
    /// response whose request was not captured), in connection order.
    fn on_exchange(&mut self, exchange: &Exchange);
    /// The connection switched protocol; see [`Upgrade`] for where each
    /// direction's new bytes start.
    fn on_upgrade(&mut self, upgrade: &Upgrade);
    /// A BOSH body (request or response) or an unanswered BOSH request.
    fn on_bosh(&mut self, event: &bosh::Event);
}

/// Entry points for fuzzers (see `crate::fuzzing`).
#[doc(hidden)]
pub mod fuzz {
    use crate::finding::{Finding, Findings};
    use crate::limits::Limits;
    use crate::position::{Dir, FrameRef, Timestamp};

    use super::{bosh, Exchange, Sink, Upgrade};

    #[derive(Default)]
    struct Discard(usize);

    impl Findings for Discard {
        fn push_finding(&mut self, _: Finding) {
            self.0 += 1;
        }
    }

    impl Sink for Discard {
        fn on_exchange(&mut self, _: &Exchange) {
            self.0 += 1;
        }
        fn on_upgrade(&mut self, _: &Upgrade) {
            self.0 += 1;
        }
        fn on_bosh(&mut self, _: &bosh::Event) {
            self.0 += 1;
        }
    }

    /// Parses `data` as a request head, a response head and a chunk-size
    /// line, and probes it as either direction's first bytes.
    pub fn heads(data: &[u8]) {
        let mut slots = super::parser::HeaderSlots::new(16);
        let _ = super::parser::parse_request(data, &mut slots);
        let _ = super::parser::parse_response(data, &mut slots);
        let _ = super::parser::parse_chunk_size(data);
        let _ = super::detect(Dir::ClientToServer, data);
        let _ = super::detect(Dir::ServerToClient, data);
    }

    /// Parses `data` as a BOSH body.
    pub fn bosh_body(data: &[u8]) {
        let caps = bosh::Caps {
            max_depth: 32,
            max_stanza: 1 << 16,
        };
        let _ = bosh::parse(data, caps);
    }

    /// Feeds `data` to a connection: the first byte picks the split points
    /// and directions, so one input exercises chunking, gaps and closes.
    pub fn connection(data: &[u8]) {
        let Some((&seed, rest)) = data.split_first() else {
            return;
        };
        let limits = Limits {
            max_http_head: 512,
            max_http_headers: 8,
            max_http_body: 1024,
            max_http_pending: 8,
            ..Limits::default()
        };
        let mut conn = super::Connection::new(0, &limits, seed & 1 == 0);
        let mut sink = Discard::default();
        let step = usize::from(seed >> 4) + 1;
        for (i, piece) in rest.chunks(step).enumerate() {
            let at = FrameRef::new(i as u64 + 1, Timestamp::from_secs_nanos(i as i64, 0));
            let dir = if piece.first().is_some_and(|b| b & 0x80 != 0) ^ (seed & 2 == 0) {
                Dir::ServerToClient
            } else {
                Dir::ClientToServer
            };
            if seed & 4 != 0 && i % 7 == 6 {
                conn.on_gap(dir, at, piece.len() as u64, &mut sink);
            } else {
                conn.on_data(dir, at, piece, &mut sink);
            }
        }
        conn.finish(&mut sink);
    }
}
