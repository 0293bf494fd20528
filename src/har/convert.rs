//! Turns the small JSON values of one entry into the typed [`Entry`]: checks
//! each field's type, decodes base64 bodies, applies the caps.
//!
//! Takes `serde_json::Value`s of one entry (never of the whole file) and the
//! limits; gives an [`Entry`] and findings. Pure: no I/O, never panics; a
//! wrong field is dropped with a finding, never an error.

use base64::Engine;
use serde_json::{Map, Value};

use super::finding::Finding;
use super::model::{Body, Entry, EntryKind, Header, Request, Response, Timings};
use super::time::{is_wall_clock, parse_rfc3339};
use super::HarLimits;
use crate::position::Timestamp;

/// The parts of an entry the reader keeps, as read.
#[derive(Debug, Default)]
pub(crate) struct RawEntry {
    pub(crate) request: Option<Value>,
    pub(crate) response: Option<Value>,
    pub(crate) started: Option<Value>,
    pub(crate) time: Option<Value>,
    pub(crate) timings: Option<Value>,
    pub(crate) server_ip: Option<Value>,
    pub(crate) connection: Option<Value>,
    pub(crate) resource_type: Option<Value>,
    pub(crate) initiator: Option<Value>,
}

impl RawEntry {
    /// Chrome writes `_webSocketMessages` last; when it comes earlier the
    /// messages wait for these.
    pub(crate) fn head_complete(&self) -> bool {
        self.request.is_some() && self.response.is_some() && self.started.is_some()
    }
}

/// Converts one entry; findings go to `note`.
pub(crate) struct Converter<'a> {
    pub(crate) index: usize,
    pub(crate) limits: &'a HarLimits,
    pub(crate) note: &'a mut dyn FnMut(Finding),
}

impl Converter<'_> {
    pub(crate) fn entry(&mut self, raw: RawEntry) -> Entry {
        let index = self.index;
        let request = self.request(raw.request.as_ref());
        let response = self.response(raw.response.as_ref());
        let resource_type = self.short_text(raw.resource_type.as_ref(), "_resourceType");
        let kind = entry_kind(resource_type.as_deref(), &request);
        let entry = Entry {
            index,
            kind,
            started: self.started(raw.started.as_ref(), kind, &request),
            time_ms: self
                .number(raw.time.as_ref(), "time")
                .filter(|ms| *ms >= 0.0),
            timings: self.timings(raw.timings.as_ref()),
            resource_type,
            initiator: raw
                .initiator
                .as_ref()
                .and_then(|i| i.get("type"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            server_ip: self
                .short_text(raw.server_ip.as_ref(), "serverIPAddress")
                .filter(|ip| !ip.is_empty()),
            connection: self.connection(raw.connection.as_ref()),
            request,
            response,
        };
        if raw.request.is_none() {
            (self.note)(Finding::MissingField {
                entry: index,
                field: "request",
            });
        }
        if raw.response.is_none() {
            (self.note)(Finding::MissingField {
                entry: index,
                field: "response",
            });
        }
        entry
    }

    fn started(
        &mut self,
        value: Option<&Value>,
        kind: EntryKind,
        request: &Request,
    ) -> Option<Timestamp> {
        let Some(value) = value else {
            (self.note)(Finding::MissingField {
                entry: self.index,
                field: "startedDateTime",
            });
            return None;
        };
        let Some(time) = value.as_str().and_then(parse_rfc3339) else {
            self.malformed(None, "startedDateTime", "an RFC 3339 date-time");
            return None;
        };
        if is_wall_clock(time) {
            return Some(time);
        }
        // A WebSocket never sent is reported as such, not as a bad clock.
        if !(kind == EntryKind::WebSocket && request.method.is_empty()) {
            (self.note)(Finding::NotWallClock {
                entry: self.index,
                message: None,
                field: "startedDateTime",
            });
        }
        None
    }

    fn request(&mut self, value: Option<&Value>) -> Request {
        let Some(object) = self.object(value, "request") else {
            return Request::default();
        };
        Request {
            method: self.field_text(object, "method", "request.method"),
            url: self.field_text(object, "url", "request.url"),
            http_version: self.field_text(object, "httpVersion", "request.httpVersion"),
            headers: self.headers(object.get("headers"), "request.headers"),
            headers_size: self.size(object.get("headersSize"), "request.headersSize"),
            body_size: self.size(object.get("bodySize"), "request.bodySize"),
            body: self.post_data(object.get("postData")),
        }
    }

    fn response(&mut self, value: Option<&Value>) -> Response {
        let Some(object) = self.object(value, "response") else {
            return Response::default();
        };
        let status = match object.get("status") {
            None => None,
            Some(v) => {
                let status = v.as_u64().and_then(|s| u16::try_from(s).ok());
                if status.is_none() {
                    self.malformed(None, "response.status", "a status code");
                }
                status
            }
        };
        Response {
            status,
            status_text: self.field_text(object, "statusText", "response.statusText"),
            http_version: self.field_text(object, "httpVersion", "response.httpVersion"),
            headers: self.headers(object.get("headers"), "response.headers"),
            headers_size: self.size(object.get("headersSize"), "response.headersSize"),
            body_size: self.size(object.get("bodySize"), "response.bodySize"),
            body: self.content(object.get("content")),
            error: self.short_text(object.get("_error"), "response._error"),
        }
    }

    fn post_data(&mut self, value: Option<&Value>) -> Option<Body> {
        let object = self.object(value, "request.postData")?;
        let mime_type = self.field_text(object, "mimeType", "request.postData.mimeType");
        let text = self.text(object.get("text"), "request.postData.text")?;
        Some(self.body(mime_type, text, false, "request.postData.text"))
    }

    fn content(&mut self, value: Option<&Value>) -> Option<Body> {
        let object = self.object(value, "response.content")?;
        let mime_type = self.field_text(object, "mimeType", "response.content.mimeType");
        let text = self.text(object.get("text"), "response.content.text")?;
        let base64 = object.get("encoding").and_then(Value::as_str) == Some("base64");
        Some(self.body(mime_type, text, base64, "response.content.text"))
    }

    fn body(&mut self, mime_type: String, text: &str, base64: bool, field: &'static str) -> Body {
        let cap = self.limits.max_body;
        let mut data = if base64 {
            match decode_base64(text) {
                Some(bytes) => bytes,
                None => {
                    (self.note)(Finding::InvalidBase64 {
                        entry: self.index,
                        message: None,
                        field,
                    });
                    text.as_bytes().to_vec()
                }
            }
        } else {
            text.as_bytes().to_vec()
        };
        let full_len = data.len();
        if full_len > cap {
            data.truncate(cap);
            data.shrink_to_fit();
            (self.note)(Finding::Capped {
                entry: self.index,
                message: None,
                field,
                len: full_len,
                cap,
            });
        }
        Body {
            mime_type: clip(mime_type, self.limits.max_field),
            data,
            full_len,
        }
    }

    fn headers(&mut self, value: Option<&Value>, field: &'static str) -> Vec<Header> {
        let Some(value) = value else {
            return Vec::new();
        };
        let Some(list) = value.as_array() else {
            self.malformed(None, field, "an array of headers");
            return Vec::new();
        };
        let mut headers = Vec::with_capacity(list.len().min(self.limits.max_headers));
        let mut bad = false;
        for item in list {
            let name = item.get("name").and_then(Value::as_str);
            let value = item.get("value").and_then(Value::as_str);
            let (Some(name), Some(value)) = (name, value) else {
                bad = true;
                continue;
            };
            if headers.len() == self.limits.max_headers {
                (self.note)(Finding::TooManyHeaders {
                    entry: self.index,
                    field,
                    count: list.len(),
                });
                break;
            }
            let max = self.limits.max_field;
            headers.push(Header {
                name: clip(name.to_owned(), max),
                value: clip(value.to_owned(), max),
            });
        }
        if bad {
            self.malformed(None, field, "a list of {name, value} strings");
        }
        headers
    }

    fn timings(&mut self, value: Option<&Value>) -> Timings {
        let Some(object) = self.object(value, "timings") else {
            return Timings::default();
        };
        let mut get = |name: &'static str, field: &'static str| {
            let ms = self.number(object.get(name), field)?;
            (ms >= 0.0).then_some(ms)
        };
        Timings {
            blocked: get("blocked", "timings.blocked"),
            dns: get("dns", "timings.dns"),
            connect: get("connect", "timings.connect"),
            ssl: get("ssl", "timings.ssl"),
            send: get("send", "timings.send"),
            wait: get("wait", "timings.wait"),
            receive: get("receive", "timings.receive"),
        }
    }

    /// `connection` is a string in HAR 1.2; some writers put a number.
    fn connection(&mut self, value: Option<&Value>) -> Option<String> {
        match value? {
            Value::String(s) if !s.is_empty() => Some(clip(s.clone(), self.limits.max_field)),
            Value::String(_) | Value::Null => None,
            Value::Number(n) => Some(n.to_string()),
            _ => {
                self.malformed(None, "connection", "a string");
                None
            }
        }
    }

    /// `headersSize` / `bodySize`: -1 is HAR's "unknown"; below that is a finding.
    fn size(&mut self, value: Option<&Value>, field: &'static str) -> Option<u64> {
        let value = value?;
        if let Some(size) = value.as_u64() {
            return Some(size);
        }
        match value.as_i64() {
            Some(-1) => None,
            Some(negative) => {
                (self.note)(Finding::NegativeSizes {
                    first_entry: self.index,
                    field,
                    value: negative,
                    count: 1,
                });
                None
            }
            None => {
                self.malformed(None, field, "an integer");
                None
            }
        }
    }

    fn number(&mut self, value: Option<&Value>, field: &'static str) -> Option<f64> {
        let value = value?;
        let number = value.as_f64();
        if number.is_none() && !value.is_null() {
            self.malformed(None, field, "a number");
        }
        number
    }

    fn object<'v>(
        &mut self,
        value: Option<&'v Value>,
        field: &'static str,
    ) -> Option<&'v Map<String, Value>> {
        let value = value?;
        let object = value.as_object();
        if object.is_none() && !value.is_null() {
            self.malformed(None, field, "an object");
        }
        object
    }

    fn text<'v>(&mut self, value: Option<&'v Value>, field: &'static str) -> Option<&'v str> {
        let value = value?;
        let text = value.as_str();
        if text.is_none() && !value.is_null() {
            self.malformed(None, field, "a string");
        }
        text
    }

    /// A short string field of `object` (empty when absent), cut to `max_field`.
    fn field_text(
        &mut self,
        object: &Map<String, Value>,
        name: &str,
        field: &'static str,
    ) -> String {
        self.short_text(object.get(name), field).unwrap_or_default()
    }

    fn short_text(&mut self, value: Option<&Value>, field: &'static str) -> Option<String> {
        let text = self.text(value, field)?;
        Some(clip(text.to_owned(), self.limits.max_field))
    }

    fn malformed(&mut self, message: Option<usize>, field: &'static str, expected: &'static str) {
        (self.note)(Finding::MalformedField {
            entry: self.index,
            message,
            field,
            expected,
        });
    }
}

fn entry_kind(resource_type: Option<&str>, request: &Request) -> EntryKind {
    let url = request
        .url
        .get(..6)
        .unwrap_or_default()
        .to_ascii_lowercase();
    if resource_type == Some("websocket") || url.starts_with("ws://") || url.starts_with("wss://") {
        EntryKind::WebSocket
    } else if resource_type == Some("preflight")
        || (request.method == "OPTIONS"
            && request.header("Access-Control-Request-Method").is_some())
    {
        EntryKind::Preflight
    } else {
        EntryKind::Http
    }
}

/// Standard base64, padded or not, ignoring line breaks some writers insert.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let engine = &base64::engine::general_purpose::STANDARD;
    if let Ok(bytes) = engine.decode(text) {
        return Some(bytes);
    }
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let unpadded = compact.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(unpadded)
        .ok()
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub(crate) fn clip(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}
