//! Pure HTTP/1.1 parsing: content detection, request and response heads,
//! message framing and chunk-size lines.
//!
//! Takes byte slices; gives owned heads, framing decisions and typed errors,
//! or `Partial` when more bytes are needed. Parsing is done by `httparse`;
//! this module only decides what the parsed fields mean. It never buffers,
//! never allocates more than the head it is given, and never panics on input.

mod lines;

use thiserror::Error;

use crate::http::FindingCode;
use crate::position::Dir;

pub(crate) use lines::HeaderFault;
pub(crate) use lines::{BadHeaders, Kind, MAX_DESCRIBED};

/// What the first bytes of a direction look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The start of an HTTP/1.x message: from the client a request line
    /// (method token, space, target, space, `HTTP/1.` and a digit), from
    /// the server a status line (`HTTP/1.`, a digit, a space, three digits).
    Http,
    /// Not the start of an HTTP/1.x message sent that way.
    NotHttp,
    /// Too few bytes to tell.
    NeedMore,
}

/// Longest method token a probe accepts (`PROPPATCH`, `MKCALENDAR`... are far shorter).
const MAX_METHOD: usize = 24;
/// Longest request target a probe waits for before calling the stream not HTTP.
pub(crate) const MAX_PROBE_TARGET: usize = 16 << 10;

/// Does `bytes` (the first bytes `dir` sent on a stream, or its bytes after
/// a gap) start an HTTP/1.x message: a request line from the client, a
/// status line from the server? Leading empty lines are allowed.
pub fn detect(dir: Dir, bytes: &[u8]) -> Probe {
    let start = bytes
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .unwrap_or(bytes.len());
    let line = bytes.get(start..).unwrap_or_default();
    match dir {
        Dir::ClientToServer => probe_request_line(line),
        Dir::ServerToClient => probe_status_line(line),
    }
}

fn probe_request_line(bytes: &[u8]) -> Probe {
    let mut i = 0;
    // Method: an upper-case token.
    loop {
        match bytes.get(i) {
            None => return Probe::NeedMore,
            Some(b' ') if i > 0 => break,
            Some(b) if b.is_ascii_uppercase() || (i > 0 && (*b == b'-' || *b == b'_')) => {}
            Some(_) => return Probe::NotHttp,
        }
        i += 1;
        if i > MAX_METHOD {
            return Probe::NotHttp;
        }
    }
    i += 1;
    let target_start = i;
    loop {
        match bytes.get(i) {
            None => return Probe::NeedMore,
            Some(b' ') if i > target_start => break,
            // A control byte in the target is a bad request, not another
            // protocol: the parse reads it as `?` and says so.
            Some(b'\r' | b'\n' | b' ') => return Probe::NotHttp,
            Some(_) => {}
        }
        i += 1;
        if i - target_start > MAX_PROBE_TARGET {
            return Probe::NotHttp;
        }
    }
    probe_literal(bytes.get(i + 1..).unwrap_or_default(), b"HTTP/1.", true)
}

/// Does `bytes` start with an HTTP/1.x status line (`HTTP/1.1 200`)?
fn probe_status_line(bytes: &[u8]) -> Probe {
    match probe_literal(bytes, b"HTTP/1.", true) {
        Probe::Http => {}
        other => return other,
    }
    // "HTTP/1.x" is 8 bytes; then a space and three digits.
    let rest = bytes.get(8..).unwrap_or_default();
    for (i, want_digit) in [false, true, true, true].into_iter().enumerate() {
        match rest.get(i) {
            None => return Probe::NeedMore,
            Some(b) if want_digit && b.is_ascii_digit() => {}
            Some(b' ') if !want_digit => {}
            Some(_) => return Probe::NotHttp,
        }
    }
    Probe::Http
}

/// `bytes` starts with `literal` (then, if `digit`, one ASCII digit)?
fn probe_literal(bytes: &[u8], literal: &[u8], digit: bool) -> Probe {
    for (i, want) in literal.iter().enumerate() {
        match bytes.get(i) {
            None => return Probe::NeedMore,
            Some(b) if b == want => {}
            Some(_) => return Probe::NotHttp,
        }
    }
    if !digit {
        return Probe::Http;
    }
    match bytes.get(literal.len()) {
        None => Probe::NeedMore,
        Some(b) if b.is_ascii_digit() => Probe::Http,
        Some(_) => Probe::NotHttp,
    }
}

/// Why a head could not be parsed. Each names the field that was wrong.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum HeadError {
    #[error("invalid method or request-target token")]
    Token,
    #[error("invalid HTTP version")]
    Version,
    #[error("invalid status code")]
    Status,
    #[error("invalid byte in a header name")]
    HeaderName,
    #[error("invalid byte in a header value")]
    HeaderValue,
    #[error("invalid line ending")]
    NewLine,
    #[error("more than {limit} header lines")]
    TooManyHeaders { limit: usize },
    #[error("head longer than {limit} bytes without an empty line")]
    TooLarge { limit: usize },
    #[error("head ended before the start line was complete")]
    Truncated,
}

impl HeadError {
    /// The stable finding code for this error.
    pub(crate) fn code(&self) -> FindingCode {
        match self {
            HeadError::TooManyHeaders { .. } => FindingCode::TooManyHeaders,
            HeadError::TooLarge { .. } => FindingCode::HeadTooLarge,
            HeadError::Token | HeadError::Version | HeadError::Status | HeadError::Truncated => {
                FindingCode::BadStartLine
            }
            HeadError::HeaderName | HeadError::HeaderValue | HeadError::NewLine => {
                FindingCode::BadHeader
            }
        }
    }

    fn from_httparse(e: httparse::Error, limit: usize) -> HeadError {
        match e {
            httparse::Error::Token => HeadError::Token,
            httparse::Error::Version => HeadError::Version,
            httparse::Error::Status => HeadError::Status,
            httparse::Error::HeaderName => HeadError::HeaderName,
            httparse::Error::HeaderValue => HeadError::HeaderValue,
            httparse::Error::NewLine => HeadError::NewLine,
            httparse::Error::TooManyHeaders => HeadError::TooManyHeaders { limit },
        }
    }
}

/// One header line, owned; the name keeps its case, the value its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub name: String,
    pub value: Vec<u8>,
}

/// The header lines of one head, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fields(pub Vec<Field>);

impl Fields {
    /// All values of `name` (case-insensitive), joined by `sep` as RFC 9110 allows.
    pub fn get_joined(&self, name: &str, sep: &str) -> Option<String> {
        let mut out: Option<String> = None;
        for f in self.0.iter().filter(|f| f.name.eq_ignore_ascii_case(name)) {
            let v = String::from_utf8_lossy(&f.value);
            match out.as_mut() {
                None => out = Some(v.trim().to_string()),
                Some(o) => {
                    o.push_str(sep);
                    o.push_str(v.trim());
                }
            }
        }
        out
    }

    /// All values of `name`, joined by ", ".
    pub fn get(&self, name: &str) -> Option<String> {
        self.get_joined(name, ", ")
    }

    /// Each value of `name` separately (Set-Cookie, Content-Length duplicates).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| String::from_utf8_lossy(&f.value).trim().to_string())
            .collect()
    }

    /// Does the comma-separated list header `name` contain `token` (case-insensitive)?
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        let token = token.as_bytes();
        self.0
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case(name))
            .flat_map(|f| f.value.split(|&b| b == b','))
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
    }
}

/// A parsed request line and headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestHead {
    pub method: String,
    pub target: String,
    /// Minor version: 0 or 1.
    pub minor: u8,
    pub fields: Fields,
}

/// A parsed status line and headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    pub status: u16,
    pub reason: String,
    pub minor: u8,
    pub fields: Fields,
}

/// A reusable header array for httparse, sized once from `limits.max_http_headers`.
///
/// httparse borrows its header slots for the lifetime of the buffer it
/// parses; the slots are recycled between parses by collecting back into the
/// same allocation (an in-place `Vec` collect) so no head allocates them anew.
#[derive(Debug)]
pub(crate) struct HeaderSlots(Vec<httparse::Header<'static>>);

impl HeaderSlots {
    pub fn new(limit: usize) -> HeaderSlots {
        HeaderSlots(vec![httparse::EMPTY_HEADER; limit])
    }

    fn limit(&self) -> usize {
        self.0.len()
    }

    fn with<'b, T>(&mut self, f: impl FnOnce(&mut [httparse::Header<'b>]) -> T) -> T {
        let limit = self.0.len();
        let mut slots: Vec<httparse::Header<'b>> = std::mem::take(&mut self.0)
            .into_iter()
            .map(|_| httparse::EMPTY_HEADER)
            .collect();
        slots.resize(limit, httparse::EMPTY_HEADER);
        let out = f(&mut slots);
        self.0 = slots.into_iter().map(|_| httparse::EMPTY_HEADER).collect();
        out
    }
}

/// A head parsed, with the header fields the parse skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Parsed<T> {
    pub head: T,
    /// Bytes of the head, empty line included.
    pub len: usize,
    /// Malformed header fields left out of `head`.
    pub skipped: BadHeaders,
}

/// Result of parsing a head: complete, or needs more bytes.
pub(crate) type HeadStatus<T> = Result<httparse::Status<Parsed<T>>, HeadError>;

/// httparse told to skip a malformed header line instead of refusing the
/// head (what browsers do, and what keeps one bad byte from hiding a
/// session), and to accept from servers what RFC 9112 asks user agents to
/// accept: whitespace before the colon and folded lines.
fn tolerant() -> httparse::ParserConfig {
    let mut config = httparse::ParserConfig::default();
    config
        .ignore_invalid_headers_in_requests(true)
        .ignore_invalid_headers_in_responses(true)
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true);
    config
}

fn own_fields(headers: &[httparse::Header<'_>]) -> Fields {
    Fields(
        headers
            .iter()
            .take_while(|h| !h.name.is_empty())
            .map(|h| Field {
                name: h.name.to_string(),
                // A folded value keeps its line breaks: each becomes a space (RFC 9112 section 5.2).
                value: h
                    .value
                    .iter()
                    .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                    .collect(),
            })
            .collect(),
    )
}

/// Checks the header lines of `buf`; gives them and the bytes httparse is
/// to read (without the fields it would refuse the whole head for).
fn checked(buf: &[u8], kind: Kind) -> (BadHeaders, Option<Vec<u8>>) {
    let skipped = lines::check(buf, kind);
    let cleaned = skipped.without_refused(buf);
    (skipped, cleaned)
}

/// Parses a request head at the start of `buf`; malformed header lines are
/// skipped and listed, a malformed request line refuses the head.
pub(crate) fn parse_request(buf: &[u8], slots: &mut HeaderSlots) -> HeadStatus<RequestHead> {
    let limit = slots.limit();
    let (mut skipped, cleaned) = checked(buf, Kind::Request);
    let mut input = cleaned.as_deref().unwrap_or(buf);
    let removed = skipped.refused_len();
    if lines::target_unfinished_and_bad(input) {
        return Ok(httparse::Status::Partial);
    }
    let repaired = lines::repair_target(input);
    if let Some((head, target_bytes)) = &repaired {
        input = head;
        // The start line comes first in the head's order.
        skipped.described.splice(0..0, target_bytes.iter().cloned());
        let over = skipped.described.len().saturating_sub(MAX_DESCRIBED);
        skipped.described.truncate(MAX_DESCRIBED);
        skipped.more += over;
    }
    slots.with(|headers| {
        let mut req = httparse::Request::new(headers);
        match tolerant().parse_request(&mut req, input) {
            Ok(httparse::Status::Partial) => Ok(httparse::Status::Partial),
            Ok(httparse::Status::Complete(len)) => {
                let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version)
                else {
                    return Err(HeadError::Truncated);
                };
                let head = RequestHead {
                    method: method.to_string(),
                    target: target.to_string(),
                    minor,
                    fields: own_fields(req.headers),
                };
                let len = len + removed;
                Ok(httparse::Status::Complete(Parsed { head, len, skipped }))
            }
            Err(e) => Err(HeadError::from_httparse(e, limit)),
        }
    })
}

/// Parses a response head at the start of `buf`; malformed header lines are
/// skipped and listed, a malformed status line refuses the head.
pub(crate) fn parse_response(buf: &[u8], slots: &mut HeaderSlots) -> HeadStatus<ResponseHead> {
    let limit = slots.limit();
    let (skipped, cleaned) = checked(buf, Kind::Response);
    let input = cleaned.as_deref().unwrap_or(buf);
    let removed = skipped.refused_len();
    slots.with(|headers| {
        let mut resp = httparse::Response::new(headers);
        match tolerant().parse_response(&mut resp, input) {
            Ok(httparse::Status::Partial) => Ok(httparse::Status::Partial),
            Ok(httparse::Status::Complete(len)) => {
                let (Some(status), Some(minor)) = (resp.code, resp.version) else {
                    return Err(HeadError::Truncated);
                };
                let head = ResponseHead {
                    status,
                    reason: resp.reason.unwrap_or_default().to_string(),
                    minor,
                    fields: own_fields(resp.headers),
                };
                let len = len + removed;
                Ok(httparse::Status::Complete(Parsed { head, len, skipped }))
            }
            Err(e) => Err(HeadError::from_httparse(e, limit)),
        }
    })
}

/// Index just past the empty line ending a head in `buf`, searching from
/// `from` (a position already known to be before the end). Accepts bare LF
/// line endings, as httparse does.
pub(crate) fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(rel) = buf.get(i..)?.iter().position(|b| *b == b'\n') {
        let nl = i + rel;
        match (buf.get(nl + 1), buf.get(nl + 2)) {
            (Some(b'\n'), _) => return Some(nl + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

/// How the body of a message is delimited (RFC 9112 section 6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body at all.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding, with optional trailers.
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// Largest Content-Length taken as a length (1 TiB). No capture holds a
/// longer body: a larger value is a broken or hostile header, and believing
/// it would swallow the rest of the connection as one body.
pub(crate) const MAX_CONTENT_LENGTH: u64 = 1 << 40;

/// Why the length of a body cannot be known.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum FramingError {
    #[error("Content-Length {value:?} is not a number")]
    BadContentLength { value: String },
    #[error("Content-Length {value} does not fit in 64 bits")]
    ContentLengthOverflow { value: String },
    #[error("Content-Length {length} exceeds the 1 TiB cap ({cap} bytes): no capture holds a body that long")]
    ContentLengthOverCap { length: u64, cap: u64 },
    #[error("Content-Length given twice with different values ({first} and {second})")]
    ConflictingContentLength { first: u64, second: u64 },
    #[error("request Transfer-Encoding {value:?} does not end in chunked")]
    RequestNotChunked { value: String },
}

impl FramingError {
    pub(crate) fn code(&self) -> FindingCode {
        match self {
            FramingError::BadContentLength { .. }
            | FramingError::ContentLengthOverflow { .. }
            | FramingError::ContentLengthOverCap { .. } => FindingCode::BadContentLength,
            FramingError::ConflictingContentLength { .. } => FindingCode::ConflictingLengths,
            FramingError::RequestNotChunked { .. } => FindingCode::BadTransferEncoding,
        }
    }
}

/// A framing decision, plus whether Transfer-Encoding overrode a Content-Length
/// (allowed, but a smuggling sign worth a finding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FramingDecision {
    pub framing: Framing,
    pub length_overridden: bool,
}

fn content_length(fields: &Fields) -> Result<Option<u64>, FramingError> {
    let mut found: Option<u64> = None;
    for raw in fields.all("content-length") {
        for part in raw.split(',').map(str::trim) {
            let n = parse_length(part, &raw)?;
            match found {
                Some(first) if first != n => {
                    return Err(FramingError::ConflictingContentLength { first, second: n })
                }
                _ => found = Some(n),
            }
        }
    }
    Ok(found)
}

/// One Content-Length value (`raw` is the whole header, for the error).
fn parse_length(s: &str, raw: &str) -> Result<u64, FramingError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FramingError::BadContentLength {
            value: raw.to_string(),
        });
    }
    let digits = s.trim_start_matches('0');
    let length = match digits {
        "" => 0,
        _ => digits
            .parse::<u64>()
            .map_err(|_| FramingError::ContentLengthOverflow {
                value: s.to_string(),
            })?,
    };
    if length > MAX_CONTENT_LENGTH {
        return Err(FramingError::ContentLengthOverCap {
            length,
            cap: MAX_CONTENT_LENGTH,
        });
    }
    Ok(length)
}

/// The framing of `fields` for either kind of message; `no_body` forces Empty.
fn framing_of(
    fields: &Fields,
    no_body: bool,
    is_request: bool,
) -> Result<FramingDecision, FramingError> {
    let te = fields.get("transfer-encoding");
    let cl = content_length(fields);
    if no_body {
        return Ok(FramingDecision {
            framing: Framing::Empty,
            length_overridden: false,
        });
    }
    if let Some(te) = te {
        let overridden = fields.get("content-length").is_some();
        let last = te.rsplit(',').next().unwrap_or_default().trim();
        let framing = if last.eq_ignore_ascii_case("chunked") {
            Framing::Chunked
        } else if is_request {
            return Err(FramingError::RequestNotChunked { value: te });
        } else {
            Framing::UntilClose
        };
        return Ok(FramingDecision {
            framing,
            length_overridden: overridden,
        });
    }
    let framing = match cl? {
        Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
        None if is_request => Framing::Empty,
        None => Framing::UntilClose,
    };
    Ok(FramingDecision {
        framing,
        length_overridden: false,
    })
}

/// The body framing of a request.
pub(crate) fn request_framing(head: &RequestHead) -> Result<FramingDecision, FramingError> {
    framing_of(&head.fields, false, true)
}

/// The body framing of a response to a request with `method` (None when the
/// request was not seen).
pub(crate) fn response_framing(
    head: &ResponseHead,
    method: Option<&str>,
) -> Result<FramingDecision, FramingError> {
    let no_body = matches!(head.status, 100..=199 | 204 | 304)
        || method == Some("HEAD")
        || (method == Some("CONNECT") && (200..300).contains(&head.status));
    framing_of(&head.fields, no_body, false)
}

/// A chunk-size line could not be read.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("invalid chunk-size line")]
pub struct ChunkSizeError;

/// Parses a chunk-size line (`1a;ext=1\r\n`): bytes of the line and the size.
pub(crate) fn parse_chunk_size(
    buf: &[u8],
) -> Result<httparse::Status<(usize, u64)>, ChunkSizeError> {
    httparse::parse_chunk_size(buf).map_err(|_| ChunkSizeError)
}

#[cfg(test)]
mod tests;
