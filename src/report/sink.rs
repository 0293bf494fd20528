//! The seam between the pipeline and the report: the pipeline feeds an
//! [`EventSink`] as events happen; the NDJSON writer streams them, the
//! collector keeps the timeline the other renderers draw.
//!
//! Takes report events (and, for `follow`, the bytes each layer saw: TCP
//! segments, decrypted TLS data, WebSocket messages); gives nothing back to
//! the pipeline.

use crate::position::{Dir, FrameRef};
use crate::report::event::Event;
use crate::{tcp, ws};

/// Where events go as they happen: an NDJSON writer, or a collector for the
/// table/JSON/HTML timeline.
pub trait EventSink {
    fn emit(&mut self, event: Event);

    /// Decrypted TLS application data of `stream` (for `follow --layer tls`
    /// and conformance tests); most sinks ignore it.
    fn on_plaintext(&mut self, _stream: u64, _dir: Dir, _at: FrameRef, _bytes: &[u8]) {}

    /// TLS application data of `stream` that could not be given: `len` bytes
    /// (an upper bound: the ciphertext length) and why.
    fn on_plaintext_gap(&mut self, _stream: u64, _dir: Dir, _at: FrameRef, _len: u64, _why: &str) {}

    /// Each TCP event, before the stages above TCP are fed it (for `follow`).
    fn on_tcp(&mut self, _event: &tcp::Event<'_>) {}

    /// `stream` switched to WebSocket framing at these byte offsets of each
    /// direction: offsets of the decrypted data when `over_tls`, of the TCP
    /// payload otherwise. Comes after the bytes that carried the switch.
    fn on_websocket_start(&mut self, _stream: u64, _start: WebSocketStart) {}

    /// A whole WebSocket message (unmasked and inflated), for `follow`.
    fn on_ws_message(&mut self, _message: &ws::Message<'_>) {}

    /// Whether this sink reads the bytes each layer saw (the calls above
    /// other than [`EventSink::emit`]): those come from every connection's
    /// stack as it runs, so a sink that reads them is fed by one thread
    /// (`pipeline::Options::jobs` is not used for it).
    fn follows_bytes(&self) -> bool {
        false
    }

    /// Which events this sink writes as NDJSON lines, when it takes them
    /// already rendered ([`EventSink::emit_line`]): `-j N` then renders
    /// each line on the worker that made its event. `None`: events only.
    fn takes_lines(&self) -> Option<crate::report::ndjson::Selection> {
        None
    }

    /// One event's NDJSON line (its pieces, to be written one after the
    /// other, without the newline), for a sink whose
    /// [`EventSink::takes_lines`] kept the event's kind.
    fn emit_line(&mut self, _pieces: &[&[u8]]) {}
}

/// Where WebSocket framing began on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebSocketStart {
    pub over_tls: bool,
    pub client_offset: u64,
    pub server_offset: u64,
}

impl WebSocketStart {
    /// The offset where `dir`'s WebSocket frames begin.
    pub fn offset(&self, dir: Dir) -> u64 {
        match dir {
            Dir::ClientToServer => self.client_offset,
            Dir::ServerToClient => self.server_offset,
        }
    }
}
