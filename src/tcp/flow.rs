//! One TCP connection: roles, both directions, handshake and teardown.
//!
//! Takes the segments of one 4-tuple (already matched to this stream); gives
//! the stream's events through the two direction [`Assembler`]s, and its
//! [`StreamStats`] when it leaves the table. Never decides stream identity on
//! its own: the table asks the stream's [`Identity`] (Wireshark's rule)
//! before handing a segment over, and keeps that identity after the stream
//! is released. Never looks at capture time to decide anything.

use std::net::SocketAddr;

use crate::decode::TcpSegment;
use crate::position::{Dir, FrameRef};

use super::assembler::{Assembler, Caps, StreamDir};
use super::event::{Ending, Event, GapReason, Handshake, Origin, Sink, StreamStats};
use super::seq::Seq;

/// Ports that identify the server side when a capture starts mid-connection:
/// web, XMPP (c2s, direct TLS, s2s, BOSH) and the Finesse/Openfire ports
/// (7071/7443 BOSH, 8082/8445 desktop and REST, 8080/8443 proxies).
const SERVICE_PORTS: [u16; 12] = [
    80, 443, 5222, 5223, 5269, 5280, 7071, 7443, 8080, 8082, 8443, 8445,
];

/// Client and server of a connection whose handshake the capture missed.
///
/// The side on a known service port is the server; failing that, a side on a
/// well-known port (below 1024) facing one that is not; failing that, a side
/// below the ephemeral range (32768 and up, where Linux, BSD and Windows
/// pick client ports) facing one inside it; failing that, the sender of the
/// first packet seen is the client (as Wireshark's "node 0").
pub(crate) fn mid_stream_roles(src: SocketAddr, dst: SocketAddr) -> (SocketAddr, SocketAddr) {
    let known = |a: SocketAddr| SERVICE_PORTS.contains(&a.port());
    let low = |a: SocketAddr| a.port() < 1024;
    let ephemeral = |a: SocketAddr| a.port() >= 32768;
    match (known(src), known(dst)) {
        (true, false) => (dst, src),
        (false, true) => (src, dst),
        _ if low(src) && !low(dst) => (dst, src),
        _ if low(dst) && !low(src) => (src, dst),
        _ if !ephemeral(src) && ephemeral(dst) => (dst, src),
        _ => (src, dst),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    /// Both FINs delivered, or a RST: no buffers, late packets only counted.
    Closed(Ending),
}

/// What numbers a stream: enough to apply Wireshark's rule to later
/// packets of its 4-tuple, kept after the stream itself is released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) stream: u64,
    pub(crate) client: SocketAddr,
    /// Wireshark's `tcpd->fwd/rev->base_seq` per direction (by `Dir::index`).
    base_seq: [Option<Seq>; 2],
}

impl Identity {
    fn dir_of(&self, src: SocketAddr) -> Dir {
        if src == self.client {
            Dir::ClientToServer
        } else {
            Dir::ServerToClient
        }
    }

    /// Wireshark 4.0 `dissect_tcp` (epan/dissectors/packet-tcp.c): a SYN
    /// without ACK whose sequence number differs from the `base_seq` recorded
    /// for its direction creates a new conversation (`conversation_new`, flag
    /// `TCP_A_REUSED_PORTS`). A SYN with the same number is a retransmission,
    /// even after FIN or RST (tshark 4.0.17 keeps such a SYN in the old
    /// stream); a SYN-ACK never creates one (it only replaces `base_seq`).
    /// Time plays no part: a connection silent for hours, or a frame dated
    /// decades away, stays in its stream.
    pub(crate) fn starts_new_stream(&self, seg: &TcpSegment<'_>) -> bool {
        if !seg.flags.syn || seg.flags.ack {
            return false;
        }
        let dir = self.dir_of(seg.src);
        self.base_seq[dir.index()].is_some_and(|base| base != Seq(seg.seq))
    }
}

/// One TCP connection (one Wireshark `tcp.stream`).
#[derive(Debug)]
pub(crate) struct Flow {
    id: Identity,
    server: SocketAddr,
    origin: Origin,
    first: FrameRef,
    /// The last frame; its time never precedes `first`'s (see [`Flow::on_segment`]).
    last: FrameRef,
    asm: [Assembler; 2],
    syn_seen: bool,
    syn_ack_seen: bool,
    fin_seen: [bool; 2],
    rst_from: Option<Dir>,
    state: State,
    handshake: Handshake,
}

impl Flow {
    /// Payload bytes held by both directions' reassembly.
    pub(crate) fn held_bytes(&self) -> usize {
        self.asm.iter().map(Assembler::held_bytes).sum()
    }

    /// Frees both directions' out-of-order buffers: holes become gaps, the
    /// data is delivered (see `Assembler::give_up_holes`).
    pub(crate) fn give_up_holes(&mut self, at: FrameRef, sink: &mut impl Sink) {
        for dir in Dir::BOTH {
            let cx = StreamDir {
                stream: self.id.stream,
                dir,
            };
            if let Some(asm) = self.asm.get_mut(dir.index()) {
                asm.give_up_holes(cx, at, sink);
            }
        }
    }

    /// A new stream whose first packet is `seg`; roles are decided here, once.
    pub(crate) fn new(stream: u64, at: FrameRef, seg: &TcpSegment<'_>, caps: Caps) -> Flow {
        let (client, server, origin) = match (seg.flags.syn, seg.flags.ack) {
            (true, false) => (seg.src, seg.dst, Origin::Handshake),
            (true, true) => (seg.dst, seg.src, Origin::SynAck),
            _ => {
                let (c, s) = mid_stream_roles(seg.src, seg.dst);
                (c, s, Origin::MidStream)
            }
        };
        Flow {
            id: Identity {
                stream,
                client,
                base_seq: [None, None],
            },
            server,
            origin,
            first: at,
            last: at,
            asm: [Assembler::new(caps), Assembler::new(caps)],
            syn_seen: false,
            syn_ack_seen: false,
            fin_seen: [false, false],
            rst_from: None,
            state: State::Open,
            handshake: Handshake::default(),
        }
    }

    pub(crate) fn stream(&self) -> u64 {
        self.id.stream
    }

    pub(crate) fn identity(&self) -> Identity {
        self.id
    }

    pub(crate) fn last(&self) -> FrameRef {
        self.last
    }

    pub(crate) fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// Closed for good: a RST came (both directions flushed), or both
    /// FINs were delivered and each acknowledged by its peer. What comes
    /// later of its 4-tuple is a late retransmission or ACK, or a new
    /// connection ([`Identity::starts_new_stream`]): the table releases
    /// the stream now and keeps only its identity.
    pub(crate) fn is_done(&self) -> bool {
        match self.state {
            State::Open => false,
            State::Closed(_) if self.rst_from.is_some() => true,
            State::Closed(_) => self.asm.iter().all(Assembler::is_fin_acked),
        }
    }

    pub(crate) fn opened(&self) -> Event<'static> {
        Event::Opened {
            stream: self.id.stream,
            at: self.first,
            client: self.id.client,
            server: self.server,
            origin: self.origin,
        }
    }

    /// Wireshark's `base_seq` bookkeeping, in its order: a SYN-ACK with another
    /// number replaces it; otherwise the first segment of a direction sets it
    /// (SYN: seq, else seq - 1) and the first ACK sets the other direction's (ack - 1).
    fn track_base_seq(&mut self, dir: Dir, seg: &TcpSegment<'_>) {
        let seq = Seq(seg.seq);
        let fwd = dir.index();
        let rev = dir.flip().index();
        let base_seq = &mut self.id.base_seq;
        if seg.flags.syn && seg.flags.ack && base_seq[fwd].is_some() {
            base_seq[fwd] = Some(seq);
        }
        if base_seq[fwd].is_none() {
            base_seq[fwd] = Some(if seg.flags.syn {
                seq
            } else {
                Seq(seg.seq.wrapping_sub(1))
            });
        }
        if seg.flags.ack && base_seq[rev].is_none() {
            base_seq[rev] = Some(Seq(seg.ack.wrapping_sub(1)));
        }
    }

    /// One segment of this stream. A frame dated before the stream's first
    /// (a capture whose clock went back) is recorded as last at the first's
    /// time, so that no duration computed from the stats is negative.
    pub(crate) fn on_segment(&mut self, at: FrameRef, seg: &TcpSegment<'_>, sink: &mut impl Sink) {
        let dir = self.id.dir_of(seg.src);
        let cx = StreamDir {
            stream: self.id.stream,
            dir,
        };
        let peer = StreamDir {
            stream: self.id.stream,
            dir: dir.flip(),
        };
        self.last = FrameRef::new(at.frame, at.ts.max(self.first.ts));
        self.track_base_seq(dir, seg);
        let flags = seg.flags;
        self.note_handshake(dir, at, seg);
        if flags.syn {
            if flags.ack {
                self.syn_ack_seen = true;
            } else {
                self.syn_seen = true;
            }
        }
        if flags.fin {
            self.fin_seen[dir.index()] = true;
        }
        let [own, other] = self.pair_mut(dir);
        own.stats.packets += 1;
        if flags.ack && !flags.rst && !flags.syn && seg.window == 0 {
            own.stats.zero_windows += 1;
        }
        if flags.rst {
            // RST payload is not stream data (RFC 9293 §3.5.3).
            self.on_rst(dir, at, sink);
            return;
        }
        if flags.syn {
            own.on_syn(Seq(seg.seq));
        }
        let data_seq = Seq(seg.seq) + u32::from(flags.syn);
        let span = (seg.payload.len() as u64 + u64::from(seg.missing)) as u32;
        if span > 0 {
            own.on_data(cx, at, data_seq, seg.payload, seg.missing, sink);
        } else if !flags.syn && !flags.fin {
            own.on_empty(Seq(seg.seq));
        }
        if flags.fin {
            own.on_fin(cx, at, data_seq + span, sink);
        }
        if flags.ack {
            if flags.syn {
                other.on_peer_syn_ack(Seq(seg.ack));
            }
            other.on_peer_window(seg.window);
            other.on_peer_ack(peer, at, Seq(seg.ack), sink);
        }
        if self.state == State::Open && self.asm.iter().all(Assembler::is_finished) {
            self.state = State::Closed(Ending::Fin);
        }
    }

    /// The opening handshake's frames: the SYNs (and their retries), the
    /// first SYN-ACK, and the client's first ACK after it.
    fn note_handshake(&mut self, dir: Dir, at: FrameRef, seg: &TcpSegment<'_>) {
        let hs = &mut self.handshake;
        let flags = seg.flags;
        match (dir, flags.syn, flags.ack) {
            (Dir::ClientToServer, true, false) => {
                if hs.syn.is_some() {
                    hs.syn_retries = hs.syn_retries.saturating_add(1);
                } else {
                    hs.syn = Some(at);
                }
                hs.last_syn = Some(at);
            }
            (Dir::ServerToClient, true, true) if hs.syn_ack.is_none() => hs.syn_ack = Some(at),
            (Dir::ClientToServer, false, true)
                if hs.syn_ack.is_some() && hs.ack.is_none() && !flags.rst =>
            {
                hs.ack = Some(at)
            }
            _ => {}
        }
    }

    fn pair_mut(&mut self, dir: Dir) -> [&mut Assembler; 2] {
        let [c2s, s2c] = &mut self.asm;
        match dir {
            Dir::ClientToServer => [c2s, s2c],
            Dir::ServerToClient => [s2c, c2s],
        }
    }

    fn on_rst(&mut self, dir: Dir, at: FrameRef, sink: &mut impl Sink) {
        if self.rst_from.is_none() {
            self.rst_from = Some(dir);
        }
        if self.state != State::Open {
            return;
        }
        self.flush(at, GapReason::Closed, sink);
        sink.on_tcp(Event::Rst {
            stream: self.id.stream,
            dir,
            at,
        });
        self.state = State::Closed(Ending::Rst);
    }

    fn flush(&mut self, at: FrameRef, reason: GapReason, sink: &mut impl Sink) {
        for dir in Dir::BOTH {
            let cx = StreamDir {
                stream: self.id.stream,
                dir,
            };
            if let Some(asm) = self.asm.get_mut(dir.index()) {
                asm.flush(cx, at, reason, sink);
            }
        }
    }

    /// The stream leaves the table: flush what is open, emit `Closed`.
    /// `ending` applies only if the stream was still open.
    pub(crate) fn release(
        &mut self,
        at: FrameRef,
        ending: Ending,
        reason: GapReason,
        sink: &mut impl Sink,
    ) {
        if self.state == State::Open {
            self.flush(at, reason, sink);
            self.state = State::Closed(ending);
        }
        let stats = self.stats();
        sink.on_tcp(Event::Closed {
            stream: self.id.stream,
            at,
            stats: &stats,
        });
    }

    pub(crate) fn stats(&self) -> StreamStats {
        let [c2s, s2c] = &self.asm;
        StreamStats {
            stream: self.id.stream,
            client: self.id.client,
            server: self.server,
            origin: self.origin,
            first: self.first,
            last: self.last,
            client_to_server: c2s.stats,
            server_to_client: s2c.stats,
            syn_seen: self.syn_seen,
            syn_ack_seen: self.syn_ack_seen,
            fin_from_client: self.fin_seen[0],
            fin_from_server: self.fin_seen[1],
            rst_from: self.rst_from,
            ending: match self.state {
                State::Closed(e) => e,
                State::Open => Ending::OpenAtEnd,
            },
            handshake: self.handshake,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn mid_stream_roles_prefer_service_ports_then_low_ports_then_non_ephemeral_then_first_sender() {
        let c = a("10.0.0.1:51000");
        assert_eq!(
            mid_stream_roles(a("10.0.0.2:8445"), c),
            (c, a("10.0.0.2:8445"))
        );
        assert_eq!(
            mid_stream_roles(c, a("10.0.0.2:7443")),
            (c, a("10.0.0.2:7443"))
        );
        assert_eq!(
            mid_stream_roles(a("10.0.0.2:993"), c),
            (c, a("10.0.0.2:993"))
        );
        let d = a("10.0.0.2:40000");
        assert_eq!(mid_stream_roles(d, c), (d, c));
        assert_eq!(mid_stream_roles(c, d), (c, d));
        // A port below the ephemeral range facing one in it serves, whoever spoke first.
        let e = a("10.0.0.3:7070");
        assert_eq!(mid_stream_roles(e, c), (c, e));
        assert_eq!(mid_stream_roles(c, e), (c, e));
        // Both on service ports: the well-known one serves.
        assert_eq!(
            mid_stream_roles(a("10.0.0.1:8443"), a("10.0.0.2:443")),
            (a("10.0.0.1:8443"), a("10.0.0.2:443"))
        );
    }
}
