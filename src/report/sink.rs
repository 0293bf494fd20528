//! The seam between the pipeline and the report: the pipeline feeds an
//! [`EventSink`] as events happen; the NDJSON writer streams them, the
//! collector keeps the timeline the other renderers draw.
//!
//! Takes report events (and, for `follow --layer tls`, decrypted bytes);
//! gives nothing back to the pipeline.

use crate::position::{Dir, FrameRef};
use crate::report::event::Event;

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
}
