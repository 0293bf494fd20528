//! One HAR entry as the parts the HTTP stage builds an exchange from: when
//! its request and response were (from `startedDateTime` and `timings`),
//! the request-target and server of its URL, its `/http-bind` bodies as BOSH
//! events (request and response paired by entry), and a WebSocket entry's
//! 101 as the HTTP stage's upgrade.
//!
//! Takes a `har::Entry`; gives an `http::Exchange` (made by
//! `http::exchange_from_parts`, so with the HTTP stage's redaction and caps),
//! `http::bosh::Event`s and an `http::Upgrade`, all positioned with
//! `FrameRef::har`. Pure apart from the findings it hands to the wiring; never
//! redacts or decides what a body is by itself (`http` and `http::bosh` do).

use std::net::{IpAddr, SocketAddr};

use crate::finding::Finding;
use crate::har;
use crate::http::{self, bosh};
use crate::limits::Limits;
use crate::pipeline::context::Wiring;
use crate::position::{FrameRef, Timestamp};
use crate::ws;

/// When an entry's request and response were, from `startedDateTime` and `timings`.
pub(crate) struct Times {
    pub request: FrameRef,
    pub response_first: FrameRef,
    pub response_last: FrameRef,
}

impl Times {
    pub fn of(entry: &har::Entry) -> Times {
        let index = entry.index as u64;
        let started = entry.started.unwrap_or_default();
        let t = &entry.timings;
        // The response begins after blocking, DNS, connect, send and wait
        // (HAR 1.2 §timings); a WebSocket's `wait` and `time` span the
        // socket's whole life, so its 101 is placed after `send`.
        let socket = entry.kind == har::EntryKind::WebSocket;
        let wait = if socket { None } else { t.wait };
        let until_response: f64 = [t.blocked, t.dns, t.connect, t.send, wait]
            .iter()
            .flatten()
            .filter(|ms| ms.is_finite() && **ms > 0.0)
            .sum();
        let after = |ms: f64| {
            Timestamp::from_nanos_i128(i128::from(started.as_nanos()) + (ms * 1e6) as i128)
        };
        let first = after(until_response);
        let last = entry
            .ended()
            .filter(|l| *l >= first && !socket)
            .unwrap_or(first);
        Times {
            request: FrameRef::har(index, None, started),
            response_first: FrameRef::har(index, None, first),
            response_last: FrameRef::har(index, None, last),
        }
    }
}

/// The entry as an HTTP exchange (built by the HTTP stage from parts, with
/// its redaction and caps) and its BOSH bodies; findings go to `ctx`.
pub(crate) fn exchange_of(
    entry: &har::Entry,
    limits: &Limits,
    ctx: &mut Wiring,
) -> (Option<http::Exchange>, Vec<bosh::Event>) {
    let stream = entry.index as u64;
    let times = Times::of(entry);
    let q = &entry.request;
    let r = &entry.response;
    let q_headers: Vec<(&str, &str)> = q
        .headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_str()))
        .collect();
    let r_headers: Vec<(&str, &str)> = r
        .headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_str()))
        .collect();
    let q_body = q.body.as_ref().map_or(&[][..], |b| b.data.as_slice());
    let r_body = r.body.as_ref().map_or(&[][..], |b| b.data.as_slice());
    let target = target_of(&q.url);
    let request = (!q.method.is_empty()).then(|| http::RequestParts {
        method: &q.method,
        target,
        message: http::MessageParts {
            first: times.request,
            last: times.request,
            minor: minor_of(&q.http_version),
            headers: &q_headers,
            body: q_body,
        },
    });
    // Chrome writes status 0 when no response came.
    let response = r
        .status
        .filter(|s| *s != 0)
        .map(|status| http::ResponseParts {
            status,
            reason: &r.status_text,
            message: http::MessageParts {
                first: times.response_first,
                last: times.response_last,
                minor: minor_of(&r.http_version),
                headers: &r_headers,
                body: r_body,
            },
        });
    if request.is_none() && response.is_none() {
        return (None, Vec::new());
    }
    let at = http::ExchangeAt {
        stream,
        index: 0,
        limits,
        show_secrets: ctx.show_secrets,
    };
    let mut findings = Vec::new();
    let exchange =
        http::exchange_from_parts(at, request.as_ref(), response.as_ref(), &mut findings);
    let bosh = bosh_bodies(
        stream,
        &times,
        q_body,
        response.map(|r| (r.status, r_body)),
        limits,
        &mut findings,
    );
    for f in findings {
        ctx.finding(f, Some(stream), None);
    }
    (Some(exchange), bosh)
}

/// The BOSH bodies of an entry: its request body when it is one, and the
/// response that answers it (paired by entry, as the browser recorded them).
fn bosh_bodies(
    stream: u64,
    times: &Times,
    request: &[u8],
    response: Option<(u16, &[u8])>,
    limits: &Limits,
    findings: &mut Vec<Finding>,
) -> Vec<bosh::Event> {
    let caps = bosh::Caps {
        max_depth: limits.max_xml_depth,
        max_stanza: limits.max_stanza_bytes,
    };
    let mut parse = |bytes: &[u8], at: FrameRef| {
        let parsed = bosh::looks_like(bytes)
            .then(|| bosh::parse(bytes, caps))
            .flatten()?;
        if let Some(e) = &parsed.error {
            let f = Finding::new(e.code(), format!("BOSH body: {e}")).at(at);
            findings.push(f.in_stream(stream, None));
        }
        Some(parsed)
    };
    let mut events = Vec::new();
    let Some(asked) = parse(request, times.request) else {
        return events;
    };
    let attrs = asked.attrs.clone();
    events.push(bosh_event(
        stream,
        bosh::Role::Request,
        times.request,
        times.request,
        asked,
    ));
    let Some((status, bytes)) = response else {
        return events;
    };
    let is_bosh = bosh::looks_like(bytes);
    let answer = parse(bytes, times.response_first).unwrap_or_default();
    let mut body = bosh::Body::from_parsed(
        answer,
        stream,
        bosh::Role::Response,
        times.response_first,
        times.response_last,
    );
    body.status = Some(status);
    body.request = Some(bosh::RequestRef {
        attrs,
        first: times.request,
        last: times.request,
    });
    body.held_ms = Some(bosh::millis(times.request, times.response_first));
    if !is_bosh {
        body.error = Some(format!("the answer (HTTP {status}) carries no BOSH <body>"));
    }
    events.push(bosh::Event::Body(Box::new(body)));
    events
}

fn bosh_event(
    stream: u64,
    role: bosh::Role,
    first: FrameRef,
    last: FrameRef,
    p: bosh::Parsed,
) -> bosh::Event {
    bosh::Event::Body(Box::new(bosh::Body::from_parsed(
        p, stream, role, first, last,
    )))
}

/// The 101 answer of a WebSocket entry as the HTTP stage's upgrade.
pub(crate) fn upgrade_of(entry: &har::Entry, times: &Times) -> http::Upgrade {
    let q = &entry.request;
    let r = &entry.response;
    let accept_valid = q
        .header("sec-websocket-key")
        .zip(r.header("sec-websocket-accept"))
        .map(|(key, accept)| ws::accept_key(key) == accept.trim());
    http::Upgrade {
        stream: entry.index as u64,
        protocol: http::Protocol::Websocket,
        server_at: times.response_first,
        server_offset: 0,
        client_at: times.request,
        client_offset: 0,
        client_held: Vec::new(),
        client_dropped: 0,
        subprotocol: r.header("sec-websocket-protocol").map(str::to_owned),
        extensions_offered: q.header("sec-websocket-extensions").map(str::to_owned),
        extensions_accepted: r.header("sec-websocket-extensions").map(str::to_owned),
        accept_valid,
    }
}

/// The request-target of a URL: its path and query, without the fragment
/// (`/` when it has no path; a query without a path is dropped with it).
pub(crate) fn target_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let without_fragment = after_scheme.split('#').next().unwrap_or_default();
    let authority_end = without_fragment
        .find(['/', '?'])
        .unwrap_or(without_fragment.len());
    match without_fragment.get(authority_end..) {
        Some(target) if target.starts_with('/') => target,
        _ => "/",
    }
}

/// `HTTP/1.0` is minor 0; everything else (1.1, h2, h3) reads as 1.1.
pub(crate) fn minor_of(version: &str) -> u8 {
    u8::from(!version.eq_ignore_ascii_case("HTTP/1.0"))
}

/// The server's address: `serverIPAddress` and the URL's port (or the
/// scheme's); `None` when the browser left the address empty.
pub(crate) fn server_of(entry: &har::Entry) -> Option<SocketAddr> {
    let ip: IpAddr = entry
        .server_ip
        .as_deref()?
        .trim_matches(|c| c == '[' || c == ']')
        .parse()
        .ok()?;
    let url = &entry.request.url;
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let port = authority
        .rsplit_once(':')
        .filter(|(host, _)| !host.ends_with(']') || authority.starts_with('['))
        .and_then(|(_, port)| port.parse().ok())
        .or(match scheme {
            "https" | "wss" => Some(443),
            "http" | "ws" => Some(80),
            _ => None,
        })?;
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::har::{Entry, EntryKind, Request, Response, Timings};

    fn entry(kind: EntryKind, url: &str, server_ip: Option<&str>) -> Entry {
        Entry {
            index: 4,
            kind,
            started: Some(Timestamp::from_secs_nanos(1_000, 0)),
            time_ms: Some(500.0),
            timings: Timings {
                blocked: Some(2.0),
                dns: None,
                connect: Some(-1.0),
                ssl: None,
                send: Some(1.0),
                wait: Some(400.0),
                receive: Some(97.0),
            },
            resource_type: None,
            initiator: None,
            server_ip: server_ip.map(str::to_owned),
            connection: None,
            request: Request {
                method: "GET".to_owned(),
                url: url.to_owned(),
                ..Request::default()
            },
            response: Response::default(),
        }
    }

    #[test]
    fn a_url_gives_its_request_target() {
        let cases = [
            (
                "https://finesse1:8445/finesse/api/User/1001?a=1#x",
                "/finesse/api/User/1001?a=1",
            ),
            ("wss://finesse1/ws/", "/ws/"),
            ("http://finesse1", "/"),
            ("http://finesse1?token=secret", "/"),
            ("http://[::1]:8080/http-bind/", "/http-bind/"),
            ("/relative?q", "/relative?q"),
            ("", "/"),
        ];
        for (url, target) in cases {
            assert_eq!(target_of(url), target, "{url}");
        }
    }

    #[test]
    fn the_server_is_the_recorded_address_and_the_url_port() {
        let addr = |url, ip| server_of(&entry(EntryKind::Http, url, ip));
        assert_eq!(
            addr("https://finesse1:8445/x", Some("10.20.30.41")),
            "10.20.30.41:8445".parse().ok()
        );
        assert_eq!(
            addr("https://finesse1/x", Some("10.20.30.41")),
            "10.20.30.41:443".parse().ok()
        );
        assert_eq!(
            addr("ws://finesse1/ws/", Some("10.20.30.41")),
            "10.20.30.41:80".parse().ok()
        );
        assert_eq!(
            addr("http://[::1]:8080/", Some("[::1]")),
            "[::1]:8080".parse().ok()
        );
        assert_eq!(addr("http://[::1]/", Some("::1")), "[::1]:80".parse().ok());
        // Chrome leaves WebSocket addresses empty; the reader gives None.
        assert_eq!(addr("ws://finesse1/ws/", None), None);
        assert_eq!(addr("ftp://finesse1/x", Some("10.0.0.1")), None);
        assert_eq!(addr("https://finesse1/x", Some("not an address")), None);
    }

    #[test]
    fn versions_other_than_http_1_0_read_as_1_1() {
        assert_eq!(minor_of("HTTP/1.0"), 0);
        for v in ["HTTP/1.1", "http/2.0", "h3", ""] {
            assert_eq!(minor_of(v), 1, "{v}");
        }
    }

    #[test]
    fn a_response_comes_after_the_waits_and_a_101_before_the_socket_lives() {
        let http = Times::of(&entry(EntryKind::Http, "https://f/x", None));
        let ms = |at: FrameRef| at.ts.nanos_since(Timestamp::from_secs_nanos(1_000, 0)) / 1_000_000;
        // blocked 2 + send 1 + wait 400; -1 and absent timings count nothing.
        assert_eq!(
            (
                ms(http.request),
                ms(http.response_first),
                ms(http.response_last)
            ),
            (0, 403, 500)
        );
        assert_eq!(http.request.position().to_string(), "e4");
        let socket = Times::of(&entry(EntryKind::WebSocket, "wss://f/ws/", None));
        assert_eq!(
            (ms(socket.response_first), ms(socket.response_last)),
            (3, 3)
        );
    }
}
