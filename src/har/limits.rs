//! The caps the HAR reader puts on what it keeps, until the lead folds them
//! into [`crate::limits::Limits`].
//!
//! Takes nothing; gives the numbers the reader checks before it keeps a
//! string. Hitting one is a finding, never an error.

/// Every cap of the HAR reader. `HarLimits::default()` is what the CLI will use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HarLimits {
    /// Bytes kept of one request or response body (`postData.text`,
    /// `content.text` after base64 decoding). Default 4 MiB, as `max_http_body`.
    pub max_body: usize,
    /// Bytes kept of one WebSocket message (`data`, after base64 decoding for
    /// binary). Default 8 MiB, as `max_ws_message` (Openfire refuses inbound
    /// messages over 1 MiB; notifications are a few KiB).
    pub max_ws_message: usize,
    /// Header lines kept per request or response. Default 128, as `max_http_headers`.
    pub max_headers: usize,
    /// Bytes of one header value or other short field kept (URL, status text,
    /// error text). Default 64 KiB.
    pub max_field: usize,
    /// Bytes of WebSocket messages held back when an entry lists
    /// `_webSocketMessages` before its `request`/`response` (Chrome never does;
    /// other writers might): they wait for the entry to end. Default 64 MiB;
    /// later messages are dropped with a finding.
    pub max_held_messages: usize,
    /// Findings of one kind given per file; the rest are counted in one
    /// `suppressed` finding at the end. Default 100.
    pub max_findings_per_kind: usize,
}

impl Default for HarLimits {
    fn default() -> Self {
        HarLimits {
            max_body: 4 << 20,
            max_ws_message: 8 << 20,
            max_headers: 128,
            max_field: 64 << 10,
            max_held_messages: 64 << 20,
            max_findings_per_kind: 100,
        }
    }
}
