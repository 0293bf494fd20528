//! The user-facing HTTP events: an exchange (request and response), an
//! upgrade, and the redaction of secrets in both.
//!
//! Takes parsed heads and bodies; gives plain serialisable values holding
//! only the headers that matter, with Authorization, Cookie, Set-Cookie and
//! password-like parameters already redacted (unless secrets are shown), so
//! no renderer can leak them. Never parses bytes itself.

use serde::Serialize;

use crate::position::{Dir, FrameRef};

use super::parser::{Fields, RequestHead, ResponseHead};

/// What replaces a secret value.
pub const REDACTED: &str = "<redacted>";

/// The request headers xmppcap reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RequestHeaders {
    pub host: Option<String>,
    pub user_agent: Option<String>,
    pub upgrade: Option<String>,
    pub connection: Option<String>,
    pub sec_websocket_key: Option<String>,
    pub sec_websocket_protocol: Option<String>,
    pub sec_websocket_extensions: Option<String>,
    pub sec_websocket_version: Option<String>,
    /// Finesse's `requestId`, echoed in the notification the request causes.
    pub request_id: Option<String>,
    pub content_type: Option<String>,
    pub content_length: Option<String>,
    pub transfer_encoding: Option<String>,
    pub content_encoding: Option<String>,
    /// Scheme kept, credentials redacted (`Basic <redacted>`).
    pub authorization: Option<String>,
    /// Cookie names kept, values redacted.
    pub cookie: Option<String>,
}

/// The response headers xmppcap reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResponseHeaders {
    pub server: Option<String>,
    pub upgrade: Option<String>,
    pub connection: Option<String>,
    pub sec_websocket_accept: Option<String>,
    pub sec_websocket_protocol: Option<String>,
    pub sec_websocket_extensions: Option<String>,
    pub content_type: Option<String>,
    pub content_length: Option<String>,
    pub transfer_encoding: Option<String>,
    pub content_encoding: Option<String>,
    pub location: Option<String>,
    /// Cookie names and attributes kept, values redacted.
    pub set_cookie: Vec<String>,
}

/// What is known about a message body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Payload {
    /// Payload bytes on the wire (without chunk framing), including skipped and lost ones.
    pub wire_len: u64,
    /// Bytes after undoing the content coding (equal to what was kept when not coded).
    pub decoded_len: u64,
    /// Bytes beyond `limits.max_http_body`, counted and not kept.
    pub skipped: u64,
    /// Bytes lost in capture gaps.
    pub missing: u64,
    /// False when the body was cut (gap, connection end, broken framing).
    pub complete: bool,
    /// The body as text (XML, JSON, text, form bodies), cut at `limits.max_http_body_text`.
    pub text: Option<String>,
    /// True when `text` is shorter than the decoded body.
    pub text_truncated: bool,
    /// Names of the trailer fields of a chunked body.
    pub trailers: Vec<String>,
}

/// A request as seen on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Request {
    pub method: String,
    /// The request-target as sent (path and query), password-like parameters redacted.
    pub path: String,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: &'static str,
    /// Frame holding the first byte of the request.
    pub first: FrameRef,
    /// Frame holding the last byte of the request (head or body).
    pub last: FrameRef,
    pub headers: RequestHeaders,
    pub body: Payload,
}

/// A response as seen on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub version: &'static str,
    pub first: FrameRef,
    pub last: FrameRef,
    pub headers: ResponseHeaders,
    pub body: Payload,
}

/// One request and its response, paired in order (pipelining included).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Exchange {
    /// Wireshark `tcp.stream`.
    pub stream: u64,
    /// 0-based position of this exchange on its connection.
    pub index: u64,
    /// None when the capture holds a response whose request it missed.
    pub request: Option<Request>,
    pub response: Option<Response>,
    /// Interim 1xx statuses (other than 101) seen before the response.
    pub informational: Vec<u16>,
    /// Milliseconds from the request's last frame to the response's first frame.
    pub latency_ms: Option<f64>,
    /// True when the connection ended (or the capture did) before a response.
    pub unanswered: bool,
}

/// What a `101 Switching Protocols` (or a successful CONNECT) switched to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// RFC 6455 WebSocket.
    Websocket,
    /// Another `Upgrade:` token (`tcp`, `h2c`...); the rest of the stream is opaque here.
    Other(String),
    /// A CONNECT tunnel (often TLS to the real server).
    Tunnel,
}

/// Client bytes that followed the upgrade request before the answer came;
/// they belong to the new protocol and must be fed to it first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Held {
    pub at: FrameRef,
    /// Bytes lost in the capture just before these (feed them as a gap first).
    pub gap_before: u64,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// A connection switched protocol: from the byte after the response head
/// (server) and after the request (client) on, the bytes are not HTTP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Upgrade {
    pub stream: u64,
    pub protocol: Protocol,
    /// Frame of the response's last head byte: server bytes after it are the new protocol.
    pub server_at: FrameRef,
    /// Offset in the server direction of the first new-protocol byte.
    pub server_offset: u64,
    /// Frame of the upgrade request's last byte.
    pub client_at: FrameRef,
    /// Offset in the client direction of the first new-protocol byte.
    pub client_offset: u64,
    /// Client bytes already received after the request, in order, to be fed to
    /// the new protocol before anything else. `Connection::on_data` takes no
    /// more client bytes after this event.
    pub client_held: Vec<Held>,
    /// Client bytes after the last held chunk that were dropped (over
    /// `limits.max_http_body`) or lost in a gap: the new protocol's stage should
    /// see them as a gap after `client_held`.
    pub client_dropped: u64,
    /// `Sec-WebSocket-Protocol` chosen by the server (`xmpp`).
    pub subprotocol: Option<String>,
    /// `Sec-WebSocket-Extensions` offered by the client, raw.
    pub extensions_offered: Option<String>,
    /// `Sec-WebSocket-Extensions` accepted by the server, raw (the ws stage parses it).
    pub extensions_accepted: Option<String>,
    /// `Some(true)` when `Sec-WebSocket-Accept` matches the key, `Some(false)` when not.
    pub accept_valid: Option<bool>,
}

impl Upgrade {
    /// The direction's switch point as (frame, offset).
    pub fn switch_at(&self, dir: Dir) -> (FrameRef, u64) {
        match dir {
            Dir::ClientToServer => (self.client_at, self.client_offset),
            Dir::ServerToClient => (self.server_at, self.server_offset),
        }
    }
}

pub(crate) fn version(minor: u8) -> &'static str {
    if minor == 0 {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    }
}

/// Builds the reported request headers, redacting unless `show`.
pub(crate) fn request_headers(f: &Fields, show: bool) -> RequestHeaders {
    RequestHeaders {
        host: f.get("host"),
        user_agent: f.get("user-agent"),
        upgrade: f.get("upgrade"),
        connection: f.get("connection"),
        sec_websocket_key: f.get("sec-websocket-key"),
        sec_websocket_protocol: f.get("sec-websocket-protocol"),
        sec_websocket_extensions: f.get("sec-websocket-extensions"),
        sec_websocket_version: f.get("sec-websocket-version"),
        request_id: f.get("requestid"),
        content_type: f.get("content-type"),
        content_length: f.get("content-length"),
        transfer_encoding: f.get("transfer-encoding"),
        content_encoding: f.get("content-encoding"),
        authorization: f
            .get("authorization")
            .map(|v| if show { v } else { redact_authorization(&v) }),
        cookie: f
            .get_joined("cookie", "; ")
            .map(|v| if show { v } else { redact_cookie(&v) }),
    }
}

/// Builds the reported response headers, redacting unless `show`.
pub(crate) fn response_headers(f: &Fields, show: bool) -> ResponseHeaders {
    ResponseHeaders {
        server: f.get("server"),
        upgrade: f.get("upgrade"),
        connection: f.get("connection"),
        sec_websocket_accept: f.get("sec-websocket-accept"),
        sec_websocket_protocol: f.get("sec-websocket-protocol"),
        sec_websocket_extensions: f.get("sec-websocket-extensions"),
        content_type: f.get("content-type"),
        content_length: f.get("content-length"),
        transfer_encoding: f.get("transfer-encoding"),
        content_encoding: f.get("content-encoding"),
        location: f.get("location"),
        set_cookie: f
            .all("set-cookie")
            .into_iter()
            .map(|v| if show { v } else { redact_set_cookie(&v) })
            .collect(),
    }
}

pub(crate) fn new_request(
    head: &RequestHead,
    first: FrameRef,
    last: FrameRef,
    show: bool,
) -> Request {
    Request {
        method: head.method.clone(),
        path: if show {
            head.target.clone()
        } else {
            redact_query(&head.target)
        },
        version: version(head.minor),
        first,
        last,
        headers: request_headers(&head.fields, show),
        body: Payload::default(),
    }
}

pub(crate) fn new_response(
    head: &ResponseHead,
    first: FrameRef,
    last: FrameRef,
    show: bool,
) -> Response {
    Response {
        status: head.status,
        reason: head.reason.clone(),
        version: version(head.minor),
        first,
        last,
        headers: response_headers(&head.fields, show),
        body: Payload::default(),
    }
}

/// `Basic dXNlcjpwYXNz` → `Basic <redacted>`.
pub(crate) fn redact_authorization(value: &str) -> String {
    match value.split_once(char::is_whitespace) {
        Some((scheme, _)) => format!("{scheme} {REDACTED}"),
        None => REDACTED.to_string(),
    }
}

/// `a=1; b=2` → `a=<redacted>; b=<redacted>`.
pub(crate) fn redact_cookie(value: &str) -> String {
    value
        .split(';')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{}={REDACTED}", name.trim()),
            None => pair.trim().to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `JSESSIONID=abc; Path=/; HttpOnly` → `JSESSIONID=<redacted>; Path=/; HttpOnly`.
pub(crate) fn redact_set_cookie(value: &str) -> String {
    let (pair, attrs) = value.split_once(';').unwrap_or((value, ""));
    let name = pair.split_once('=').map_or(pair, |(n, _)| n).trim();
    if attrs.is_empty() {
        format!("{name}={REDACTED}")
    } else {
        format!("{name}={REDACTED};{attrs}")
    }
}

/// Is a parameter or field name one whose value is a secret?
pub(crate) fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token", "jsessionid"]
        .iter()
        .any(|s| n.contains(s))
}

/// Redacts password-like `name=value` pairs in a `&`/`;`-separated list.
fn redact_pairs(list: &str) -> String {
    list.split('&')
        .map(|param| {
            param
                .split(';')
                .map(|p| match p.split_once('=') {
                    Some((name, _)) if is_secret_name(name) => format!("{name}={REDACTED}"),
                    _ => p.to_string(),
                })
                .collect::<Vec<_>>()
                .join(";")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Redacts password-like query (and `;jsessionid=`) parameters in a request-target.
pub(crate) fn redact_query(target: &str) -> String {
    match target.split_once('?') {
        Some((path, query)) => format!("{}?{}", redact_pairs(path), redact_pairs(query)),
        None => redact_pairs(target),
    }
}

/// Redacts secrets in any captured text shown to a user (the readable view
/// of `follow`): credential header values (`Authorization`, `Cookie`,
/// `Set-Cookie`, `Proxy-Authorization`) and everything [`redact_text`] covers.
pub fn redact_view(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let value_trimmed = value.trim_end_matches(['\r', '\n']);
        let eol = value.get(value_trimmed.len()..).unwrap_or_default();
        let redacted = match name.to_ascii_lowercase().as_str() {
            "authorization" | "proxy-authorization" => {
                Some(redact_authorization(value_trimmed.trim()))
            }
            "cookie" => Some(redact_cookie(value_trimmed)),
            "set-cookie" => Some(redact_set_cookie(value_trimmed)),
            _ => None,
        };
        match redacted {
            Some(v) => out.push_str(&format!("{name}: {v}{eol}")),
            None => out.push_str(line),
        }
    }
    redact_text(&out, None)
}

/// Redacts secrets in a body shown as text: SASL `<auth>`/`<response>`
/// payloads, `<password>` elements, JSON `"password": "..."` and form fields.
pub(crate) fn redact_text(text: &str, content_type: Option<&str>) -> String {
    let form = content_type.is_some_and(|c| c.contains("x-www-form-urlencoded"));
    if form {
        return redact_pairs(text.trim_end());
    }
    let mut out = text.to_string();
    for tag in ["auth", "response", "password", "Password"] {
        out = redact_element(&out, tag);
    }
    redact_json_secrets(&out)
}

/// Replaces the text content of every `<tag ...>content</tag>` with the marker.
fn redact_element(text: &str, tag: &str) -> String {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(&open) {
        let after = rest.get(i + open.len()..).unwrap_or_default();
        let is_tag = after.starts_with(['>', ' ', '\t', '\r', '\n', '/']);
        let (Some(gt), true) = (after.find('>'), is_tag) else {
            out.push_str(rest.get(..i + open.len()).unwrap_or_default());
            rest = after;
            continue;
        };
        let head_end = i + open.len() + gt + 1;
        out.push_str(rest.get(..head_end).unwrap_or_default());
        rest = rest.get(head_end..).unwrap_or_default();
        if after.get(..gt).is_some_and(|h| h.ends_with('/')) {
            continue;
        }
        if let Some(end) = rest.find(&close) {
            if end > 0 {
                out.push_str(REDACTED);
            }
            rest = rest.get(end..).unwrap_or_default();
        }
    }
    out.push_str(rest);
    out
}

/// Replaces string values of JSON members with secret names.
fn redact_json_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(q) = rest.find('"') {
        let after = rest.get(q + 1..).unwrap_or_default();
        let Some(endq) = after.find('"') else { break };
        let name = after.get(..endq).unwrap_or_default();
        let tail = after.get(endq + 1..).unwrap_or_default();
        out.push_str(rest.get(..q + 1 + endq + 1).unwrap_or_default());
        rest = tail;
        let trimmed = tail.trim_start();
        if is_secret_name(name) && trimmed.starts_with(':') {
            let value = trimmed.get(1..).unwrap_or_default().trim_start();
            if let Some(v) = value.strip_prefix('"') {
                if let Some(vend) = v.find('"') {
                    out.push_str(&format!(": \"{REDACTED}\""));
                    rest = v.get(vend + 1..).unwrap_or_default();
                }
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_view_hides_credential_headers_and_sasl() {
        let text = "PUT /x HTTP/1.1\r\nAuthorization: Basic dXNlcjpwYXNz\r\ncookie: a=1; b=2\r\n\r\n<auth mechanism='PLAIN'>AGEAYg==</auth>";
        let shown = super::redact_view(text);
        assert!(
            !shown.contains("dXNlcjpwYXNz")
                && !shown.contains("AGEAYg==")
                && !shown.contains("a=1"),
            "{shown}"
        );
        assert!(
            shown.contains("Authorization: Basic") && shown.starts_with("PUT /x HTTP/1.1\r\n"),
            "{shown}"
        );
    }

    use super::*;

    #[test]
    fn authorization_keeps_scheme() {
        assert_eq!(
            redact_authorization("Basic dXNlcjpwYXNz"),
            "Basic <redacted>"
        );
        assert_eq!(redact_authorization("token"), "<redacted>");
    }

    #[test]
    fn cookies_keep_names_and_attributes() {
        assert_eq!(
            redact_cookie("a=1; JSESSIONID=xyz"),
            "a=<redacted>; JSESSIONID=<redacted>"
        );
        assert_eq!(
            redact_set_cookie("JSESSIONID=abc; Path=/; HttpOnly"),
            "JSESSIONID=<redacted>; Path=/; HttpOnly"
        );
        assert_eq!(redact_set_cookie("id=abc"), "id=<redacted>");
    }

    #[test]
    fn password_like_parameters_are_redacted() {
        assert_eq!(
            redact_query("/login?user=a&password=s3cret&x=1"),
            "/login?user=a&password=<redacted>&x=1"
        );
        assert_eq!(
            redact_query("/a;jsessionid=ABC?q=1"),
            "/a;jsessionid=<redacted>?q=1"
        );
        assert_eq!(
            redact_query("/finesse/api/User/1001"),
            "/finesse/api/User/1001"
        );
    }

    #[test]
    fn secrets_in_body_text_are_redacted() {
        let sasl = r#"<body rid="1"><auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">AGFnZW50AHBhc3M=</auth></body>"#;
        assert_eq!(
            redact_text(sasl, None),
            r#"<body rid="1"><auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN"><redacted></auth></body>"#
        );
        assert_eq!(
            redact_text("<User><password>x</password><authz/></User>", None),
            "<User><password><redacted></password><authz/></User>"
        );
        assert_eq!(
            redact_text(r#"{"user":"a","password" : "p"}"#, None),
            r#"{"user":"a","password": "<redacted>"}"#
        );
        assert_eq!(
            redact_text("user=a&pwd=b", Some("application/x-www-form-urlencoded")),
            "user=a&pwd=<redacted>"
        );
        assert_eq!(
            redact_text("<authorize>x</authorize>", None),
            "<authorize>x</authorize>"
        );
    }
}
