//! Stage `tcp`: flow tracking and stream reassembly.
//!
//! Takes every [`crate::decode::TcpSegment`] of the capture, in capture order,
//! with its [`crate::position::FrameRef`]; gives, through a [`Sink`], each TCP
//! connection's bytes per direction, in order, each byte exactly once with the
//! frame that supplied it, and every byte it could not deliver as an explicit
//! [`Event::Gap`]. Never reads packets itself, never copies in-order bytes,
//! never buffers beyond [`crate::limits::Limits`], never panics on any input.
//!
//! # Stream identity (Wireshark's `tcp.stream`)
//! Connections are direction-independent 4-tuples; indexes count from 0 in
//! order of each connection's first packet. As in Wireshark 4.0
//! `dissect_tcp` (epan/dissectors/packet-tcp.c), a SYN without ACK on a known
//! 4-tuple starts a new stream only when its sequence number differs from the
//! `base_seq` recorded for its direction (set by the direction's first segment,
//! SYN: seq, else seq - 1, or by the other direction's first ACK, ack - 1); a
//! retransmitted SYN, a SYN-ACK, a FIN or a RST never does, so late packets
//! after a RST still belong to the old stream, and so does a SYN repeating
//! the old ISN after FIN or RST (tshark 4.0.17 agrees). Capture time plays
//! no part: a connection silent for hours, a capture whose clock jumps, or a
//! frame dated decades away keeps its stream. Divergence: a stream evicted
//! at `max_open_flows` is forgotten, and a later packet of its 4-tuple starts
//! a new index (Wireshark never forgets).
//!
//! # Roles
//! The SYN sender is the client; failing a SYN, the SYN-ACK sender is the
//! server; failing both (capture started mid-connection), the side on a known
//! service port (80, 443, 5222, 5223, 5269, 5280, 7071, 7443, 8080, 8082,
//! 8443, 8445) is the server, else a side on a port below 1024 facing a higher
//! one, else a side below the ephemeral range (32768 and up) facing one in it,
//! else the sender of the first packet seen is the client.
//!
//! # Bytes
//! - Offsets count payload bytes of one direction from 0 (SYN and FIN take no
//!   offset). With a SYN (or, failing it, the peer's SYN-ACK, which names the
//!   ISN), offset 0 is ISN + 1. Mid-stream, offset 0 is the first payload byte
//!   seen, and acknowledgements of earlier bytes are not gaps (we never saw
//!   the start); a 1-byte segment the peer had already acknowledged is a
//!   keep-alive, not that first byte.
//! - Overlap policy: the first bytes seen for an offset win, delivered or
//!   still buffered. Later copies count as retransmitted bytes; a copy that
//!   differs from a still-buffered first copy is a `tcp.overlap_mismatch`
//!   finding naming both frames (delivered bytes are not kept, so their
//!   retransmissions are not compared). Wireshark's follow agrees whenever
//!   copies agree; with conflicting copies it keeps whichever buffered
//!   fragment starts at the current position.
//! - Keep-alives (0 or 1 byte ending at the highest byte seen) and zero-window
//!   probes (1 new byte while the peer advertises window 0) are counted, not
//!   delivered. SYN and FIN take one sequence number; data on a SYN is data.
//!   Segments or ACKs more than 2^30 ahead (beyond any TCP window) are ignored
//!   with a `tcp.out_of_window` finding.
//! - Gaps: a hole is declared `Lost` when the peer acknowledged past it and
//!   something later of that direction was seen (so an ACK captured just
//!   before the data it covers loses nothing); `BufferLimit` when the
//!   out-of-order buffer hits its cap (finding `tcp.ooo_limit`); `SnapLen`
//!   at once for bytes cut by the snapshot length; `Closed`/`EndOfCapture` for
//!   holes left when the stream ends (their acknowledged part is `Lost`). At
//!   the end, bytes acknowledged but never seen are a `Lost` gap too, except a
//!   single sequence number (most likely a FIN the capture missed). Where
//!   tshark's follow skips a hole it writes `[N bytes missing in capture
//!   file]` and a NUL into the stream instead; we write nothing and emit the gap.
//! - FIN is delivered in sequence order; bytes after it are a finding
//!   (`tcp.data_after_fin`). A RST flushes both directions, then `Rst`; its
//!   payload is not data.
//! - A stream ends at a RST, or once both FINs were delivered and each
//!   acknowledged by its peer: `Closed` (with final [`StreamStats`]) is
//!   emitted right after the packet that did it, and the stream's state is
//!   freed; only its identity stays (a few dozen bytes), so later packets of
//!   the 4-tuple still number as above: a late retransmission or ACK belongs
//!   to the old stream, a SYN with another ISN starts a new one. Those late
//!   packets are in no stream's statistics; they are counted in one
//!   `tcp.late_packets` finding. A stream whose FINs came but not both
//!   acknowledgements (the capture missed the last ACK) waits without buffers
//!   until `flow_idle_timeout` of capture time passes without a packet, then
//!   ends the same way. `Closed` is also emitted at port reuse, eviction and
//!   [`Reassembler::finish`] (in stream index order); an open stream is never
//!   closed for being silent. Identities are forgotten only at eviction
//!   (`max_open_flows` counts them), never for time.
//! - Time: `first` is the stream's first frame, `last` its last, dated no
//!   earlier than `first` (a frame dated before the first, in a capture
//!   whose clock went back, counts at the first's time), so no duration
//!   computed from [`StreamStats`] is negative.

mod assembler;
mod buffer;
mod event;
mod findings;
mod flow;
#[doc(hidden)]
pub mod fuzz;
mod seq;
mod table;
mod table_index;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

pub(crate) use event::gap_finding;
pub use event::{DirStats, Ending, Event, GapReason, Handshake, Origin, Sink, StreamStats};
pub use findings::FindingCode;
pub use table::{Reassembler, FLOW_STATE_BYTES};
