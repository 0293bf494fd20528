//! The typed items the HAR reader gives its sink: one [`Entry`] per element
//! of `log.entries`, one [`WsMessage`] per element of an entry's
//! `_webSocketMessages`, and the [`LogHeader`] read before the entries.
//!
//! Plain owned values, positioned by their index in the file. Nothing here
//! parses or decides; the reader fills these in and the pipeline consumes them.

use crate::position::{Dir, Timestamp};

/// What `log` says about itself before its entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogHeader {
    /// `log.version` (`"1.2"` from every browser).
    pub version: Option<String>,
    /// `log.creator.name` (`"WebInspector"` for Chrome and Edge DevTools, `"Firefox"`...).
    pub creator: Option<String>,
    /// `log.creator.version` (Chrome writes its WebKit version, `"537.36"`).
    pub creator_version: Option<String>,
    /// Pages listed in `log.pages` (their entries point at them with `pageref`).
    pub pages: usize,
}

/// One header line, in the order the browser listed it; the value is kept as
/// written (sanitized exports drop `Cookie`, `Set-Cookie` and `Authorization`
/// lines altogether).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// The value of the first header called `name` (ASCII case-insensitive).
pub fn header_value<'h>(headers: &'h [Header], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// A request or response body as the HAR holds it, cut to
/// [`HarLimits::max_body`](super::HarLimits::max_body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body {
    /// `postData.mimeType` or `content.mimeType` (`""` when absent).
    pub mime_type: String,
    /// The bytes: the text as UTF-8, or decoded from base64 when the HAR says
    /// `encoding: "base64"`. When that base64 is invalid, the text itself (with a finding).
    pub data: Vec<u8>,
    /// Length of the whole body before the cap (decoded bytes, or text bytes).
    pub full_len: usize,
}

impl Body {
    /// True when the cap cut this body.
    pub fn is_truncated(&self) -> bool {
        self.full_len > self.data.len()
    }

    /// The body as text when it is valid UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.data).ok()
    }
}

/// The request half of an entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `PUT`, `OPTIONS`... Empty when the browser never sent the request
    /// (Chrome's failed WebSocket entries).
    pub method: String,
    pub url: String,
    /// `HTTP/1.1`, `http/2.0`, `h3`... or empty (failed WebSocket entries).
    pub http_version: String,
    pub headers: Vec<Header>,
    /// `headersSize` in bytes; `None` when unknown (-1) or absent.
    pub headers_size: Option<u64>,
    /// `bodySize` in bytes; `None` when unknown (-1) or absent.
    pub body_size: Option<u64>,
    /// `postData`: the body sent (REST payloads, BOSH `<body>` requests).
    pub body: Option<Body>,
}

impl Request {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }
}

/// The response half of an entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// `status`; `None` when absent or not a number. Chrome writes 0 when no
    /// response came (failed or aborted requests).
    pub status: Option<u16>,
    pub status_text: String,
    pub http_version: String,
    pub headers: Vec<Header>,
    pub headers_size: Option<u64>,
    pub body_size: Option<u64>,
    /// `content.text` (decoded when `encoding: "base64"`); `None` when the HAR
    /// holds no content (DevTools had none, or the export left it out).
    pub body: Option<Body>,
    /// Chrome's `_error` (`net::ERR_ABORTED`, `net::ERR_CONNECTION_REFUSED`...).
    pub error: Option<String>,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }
}

/// `timings`, in milliseconds; `None` where the HAR says -1 (not applicable)
/// or the field is absent. `ssl` is part of `connect` (HAR 1.2).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timings {
    pub blocked: Option<f64>,
    pub dns: Option<f64>,
    pub connect: Option<f64>,
    pub ssl: Option<f64>,
    pub send: Option<f64>,
    pub wait: Option<f64>,
    pub receive: Option<f64>,
}

/// What kind of exchange an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A plain HTTP exchange (document, script, XHR/fetch, REST, BOSH...).
    Http,
    /// A CORS preflight (`OPTIONS` with `Access-Control-Request-Method`, or
    /// Chrome's `_resourceType: "preflight"`): the browser's, not the page's.
    Preflight,
    /// A WebSocket (`_resourceType: "websocket"`, or a `ws:`/`wss:` URL): the
    /// upgrade request and response; its messages follow as [`WsMessage`]s.
    WebSocket,
}

/// One element of `log.entries`, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// 0-based index into `log.entries`.
    pub index: usize,
    pub kind: EntryKind,
    /// `startedDateTime`; `None` when absent, unreadable or not a wall-clock
    /// time (Chrome writes `1969-12-31T23:59:59.000Z` for a request it never sent).
    pub started: Option<Timestamp>,
    /// `time`: total milliseconds (for a WebSocket, until it closed or its last message).
    pub time_ms: Option<f64>,
    pub timings: Timings,
    /// Chrome's `_resourceType` (`document`, `script`, `xhr`, `fetch`, `websocket`, `preflight`...).
    pub resource_type: Option<String>,
    /// Chrome's `_initiator.type` (`parser`, `script`, `preflight`, `other`...).
    pub initiator: Option<String>,
    /// `serverIPAddress`; `None` when absent or empty (Chrome leaves it empty for WebSockets).
    pub server_ip: Option<String>,
    /// `connection` (Chrome 156: the server port; older Chrome and HAR 1.2: a connection id).
    pub connection: Option<String>,
    pub request: Request,
    pub response: Response,
}

impl Entry {
    /// When the entry ended (`started` + `time`), if both are known.
    pub fn ended(&self) -> Option<Timestamp> {
        let started = self.started?;
        let ms = self.time_ms?;
        Some(Timestamp::from_nanos_i128(
            i128::from(started.as_nanos()) + (ms * 1e6) as i128,
        ))
    }
}

/// What one element of `_webSocketMessages` holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsPayload {
    /// A message sent (`send`, client to server) or received (`receive`).
    Data {
        dir: Dir,
        /// The WebSocket opcode as recorded: 1 text, 2 binary (Chrome records no others).
        opcode: u8,
        /// Text as UTF-8 bytes; binary messages decoded from base64. Cut to
        /// [`HarLimits::max_ws_message`](super::HarLimits::max_ws_message).
        data: Vec<u8>,
        /// Length before the cap.
        full_len: usize,
    },
    /// Chrome's `type: "error"` (opcode -1): the handshake or connection
    /// failure, in the browser's words.
    Error { text: String },
}

/// One element of an entry's `_webSocketMessages`, already unmasked and
/// inflated by the browser. Close, ping and pong frames are never recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsMessage {
    /// Index of its entry in `log.entries`.
    pub entry: usize,
    /// 0-based index into that entry's `_webSocketMessages`.
    pub index: usize,
    /// `time` (epoch seconds) at microsecond precision; `None` when absent or
    /// not a wall-clock time (Chrome records a monotonic clock for a socket
    /// that never connected).
    pub time: Option<Timestamp>,
    pub payload: WsPayload,
}
