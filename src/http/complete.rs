//! One complete HTTP exchange given as its parts rather than its bytes (a
//! HAR entry: heads already split into header lines, bodies already
//! decoded), made into the same [`Exchange`] the [`super::Connection`]
//! gives from bytes.
//!
//! Takes the request and response heads (method and target, or status and
//! reason; version; header lines), their decoded bodies and the positions
//! of their first and last bytes; gives an [`Exchange`] with the same header
//! selection, redaction and body caps, and the findings a cap or a body
//! raises. Pure: no state, never panics. It reads no BOSH inside bodies.

use super::body::Reader;
use super::exchange::{new_request, new_response, Exchange};
use super::parser::{Field, Fields, Framing, RequestHead, ResponseHead};
use super::payload;
use crate::finding::{Finding, Findings};
use crate::limits::Limits;
use crate::position::{Dir, FrameRef};

/// What a request and a response have alike: where they were, their
/// version, header lines and decoded body.
#[derive(Clone, Copy, Debug)]
pub struct MessageParts<'a> {
    /// The position of the message's first and last byte.
    pub first: FrameRef,
    pub last: FrameRef,
    /// `HTTP/1.<minor>`.
    pub minor: u8,
    /// Header lines as sent, names in any case.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body with any content coding already undone.
    pub body: &'a [u8],
}

#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// The request-target (path and query).
    pub target: &'a str,
    pub message: MessageParts<'a>,
}

#[derive(Clone, Copy, Debug)]
pub struct ResponseParts<'a> {
    pub status: u16,
    pub reason: &'a str,
    pub message: MessageParts<'a>,
}

/// Where an exchange was and how to report it.
#[derive(Clone, Copy, Debug)]
pub struct ExchangeAt<'l> {
    /// The connection (or input) that carried it.
    pub stream: u64,
    /// Its 0-based position there.
    pub index: u64,
    pub limits: &'l Limits,
    pub show_secrets: bool,
}

/// The [`Exchange`] of a request and its response given as parts (either
/// may be missing: an unanswered request, a response without its request).
pub fn exchange_from_parts(
    at: ExchangeAt<'_>,
    request: Option<&RequestParts<'_>>,
    response: Option<&ResponseParts<'_>>,
    findings: &mut impl Findings,
) -> Exchange {
    let request = request.map(|q| {
        let head = RequestHead {
            method: q.method.to_owned(),
            target: q.target.to_owned(),
            minor: q.message.minor,
            fields: fields(q.message.headers),
        };
        let m = &q.message;
        let mut out = new_request(&head, m.first, m.last, at.show_secrets);
        out.body = body(&at, &head.fields, m, Dir::ClientToServer, findings);
        out
    });
    let response = response.map(|r| {
        let head = ResponseHead {
            status: r.status,
            reason: r.reason.to_owned(),
            minor: r.message.minor,
            fields: fields(r.message.headers),
        };
        let m = &r.message;
        let mut out = new_response(&head, m.first, m.last, at.show_secrets);
        out.body = body(&at, &head.fields, m, Dir::ServerToClient, findings);
        out
    });
    let latency_ms = request
        .as_ref()
        .zip(response.as_ref())
        .map(|(q, r)| r.first.ts.nanos_since(q.last.ts) as f64 / 1e6);
    Exchange {
        stream: at.stream,
        index: at.index,
        unanswered: request.is_some() && response.is_none(),
        request,
        response,
        informational: Vec::new(),
        latency_ms,
    }
}

fn fields(headers: &[(&str, &str)]) -> Fields {
    Fields(
        headers
            .iter()
            .map(|(name, value)| Field {
                name: (*name).to_owned(),
                value: value.as_bytes().to_vec(),
            })
            .collect(),
    )
}

/// The reported payload of a decoded body (kept up to `max_http_body`).
fn body(
    at: &ExchangeAt<'_>,
    fields: &Fields,
    message: &MessageParts<'_>,
    dir: Dir,
    findings: &mut impl Findings,
) -> super::Payload {
    let len = message.body.len() as u64;
    let mut reader = Reader::new(Framing::Length(len), at.limits.max_http_body, 0);
    reader.feed(message.body);
    // Already decoded: the content coding the headers name is not undone again.
    let decoded = Fields(
        fields
            .0
            .iter()
            .filter(|f| !f.name.eq_ignore_ascii_case("content-encoding"))
            .cloned()
            .collect(),
    );
    let finished = payload::finish(reader, &decoded, true, at.limits, at.show_secrets);
    for (code, message_text) in finished.notes {
        let f = Finding::new(code, message_text)
            .at(message.first)
            .in_stream(at.stream, Some(dir));
        findings.push_finding(f);
    }
    finished.payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::Timestamp;

    fn at(frame: u64, ms: i64) -> FrameRef {
        FrameRef::new(
            frame,
            Timestamp::from_secs_nanos(10, (ms * 1_000_000) as u64),
        )
    }

    const ERRORS: &str =
        "<ApiErrors><ApiError><ErrorMessage>Invalid state</ErrorMessage></ApiError></ApiErrors>";

    fn put<'a>(headers: &'a [(&'a str, &'a str)]) -> RequestParts<'a> {
        RequestParts {
            method: "PUT",
            target: "/finesse/api/User/1001?password=hunter2",
            message: MessageParts {
                first: at(1, 0),
                last: at(2, 5),
                minor: 1,
                headers,
                body: b"<User><state>READY</state></User>",
            },
        }
    }

    fn answer<'a>(headers: &'a [(&'a str, &'a str)], body: &'a [u8]) -> ResponseParts<'a> {
        ResponseParts {
            status: 400,
            reason: "Bad Request",
            message: MessageParts {
                first: at(3, 45),
                last: at(3, 45),
                minor: 1,
                headers,
                body,
            },
        }
    }

    #[test]
    fn parts_make_the_exchange_bytes_would_with_secrets_redacted() {
        let limits = Limits::default();
        let place = ExchangeAt {
            stream: 4,
            index: 0,
            limits: &limits,
            show_secrets: false,
        };
        let q_headers = [
            ("Host", "finesse1:8445"),
            ("requestId", "r-9"),
            ("Authorization", "Basic MTAwMTpzZWNyZXQ="),
            ("Content-Type", "application/xml"),
        ];
        let r_headers = [
            ("Content-Type", "application/xml"),
            ("Content-Encoding", "gzip"),
        ];
        let mut found = Vec::new();
        let x = exchange_from_parts(
            place,
            Some(&put(&q_headers)),
            Some(&answer(&r_headers, ERRORS.as_bytes())),
            &mut found,
        );
        let q = x.request.as_ref().unwrap();
        assert_eq!(q.path, "/finesse/api/User/1001?password=<redacted>");
        assert_eq!(q.headers.request_id.as_deref(), Some("r-9"));
        assert_eq!(q.headers.authorization.as_deref(), Some("Basic <redacted>"));
        assert_eq!(
            q.body.text.as_deref(),
            Some("<User><state>READY</state></User>")
        );
        let r = x.response.as_ref().unwrap();
        // Decoded already: the gzip header is reported, not undone again.
        assert_eq!(r.headers.content_encoding.as_deref(), Some("gzip"));
        assert_eq!(r.body.text.as_deref(), Some(ERRORS));
        assert_eq!(
            (x.stream, x.latency_ms, x.unanswered),
            (4, Some(40.0), false)
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn a_body_over_the_cap_is_kept_in_part_with_a_finding_and_a_lone_request_is_unanswered() {
        let limits = Limits {
            max_http_body: 8,
            ..Limits::default()
        };
        let place = ExchangeAt {
            stream: 1,
            index: 3,
            limits: &limits,
            show_secrets: true,
        };
        let mut found = Vec::new();
        let x = exchange_from_parts(place, Some(&put(&[])), None, &mut found);
        let q = x.request.as_ref().unwrap();
        assert_eq!((q.body.skipped, q.body.wire_len), (25, 33));
        assert_eq!(q.path, "/finesse/api/User/1001?password=hunter2");
        assert!(x.unanswered && x.latency_ms.is_none());
        let codes: Vec<&str> = found.iter().map(|f| f.code.code()).collect();
        assert_eq!(codes, ["http.body_truncated"]);
        assert_eq!((found[0].frame, found[0].stream), (Some(1), Some(1)));
    }
}
