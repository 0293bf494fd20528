//! Protocol upgrades: the WebSocket opening handshake (RFC 6455 section 4),
//! other `101 Switching Protocols`, and CONNECT tunnels.
//!
//! Takes a request head and the response head answering it; gives what the
//! connection switched to (if anything) and the problems, in words: a wrong
//! `Sec-WebSocket-Accept`, a missing `xmpp` subprotocol, a refused upgrade.
//! The accept value a key must produce is the WebSocket handshake's
//! definition ([`crate::ws::accept_key`]); this module only compares it with
//! what the 101 carries, because a mismatch is why a browser refuses the
//! switch. Never looks at the bytes after the heads.

use crate::http::FindingCode;
use crate::ws::accept_key;

use super::exchange::Protocol;
use super::parser::{RequestHead, ResponseHead};

/// Does the request ask to switch protocols (so the client's next bytes may not be HTTP)?
pub(crate) fn asks_to_switch(req: &RequestHead) -> bool {
    req.method == "CONNECT"
        || (req.fields.get("upgrade").is_some() && req.fields.has_token("connection", "upgrade"))
        || is_websocket_request(req)
}

/// A WebSocket opening request: GET with `Upgrade: websocket`.
pub(crate) fn is_websocket_request(req: &RequestHead) -> bool {
    req.method == "GET" && req.fields.has_token("upgrade", "websocket")
}

/// One problem found in a handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Its level is the code's.
    pub code: FindingCode,
    pub message: String,
}

fn problem(code: FindingCode, message: impl Into<String>) -> Problem {
    Problem {
        code,
        message: message.into(),
    }
}

/// Problems in a WebSocket opening request itself.
pub(crate) fn check_websocket_request(req: &RequestHead) -> Vec<Problem> {
    let mut out = Vec::new();
    if !req.fields.has_token("connection", "upgrade") {
        out.push(problem(
            FindingCode::WsHandshake,
            "WebSocket request without `Connection: Upgrade`",
        ));
    }
    if req.fields.get("sec-websocket-key").is_none() {
        out.push(problem(
            FindingCode::WsHandshake,
            "WebSocket request without Sec-WebSocket-Key",
        ));
    }
    match req.fields.get("sec-websocket-version") {
        Some(v) if v == "13" => {}
        other => out.push(problem(
            FindingCode::WsHandshake,
            format!("WebSocket request with Sec-WebSocket-Version {other:?}, expected 13"),
        )),
    }
    out
}

/// What a response did to a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// The protocol switched to, if the response switched.
    pub switched: Option<Protocol>,
    /// `Some(valid)` when a WebSocket accept was checked.
    pub accept_valid: Option<bool>,
    pub problems: Vec<Problem>,
}

/// Judges a final (non-1xx, or 101) response to `req` (None when the request was not seen).
pub(crate) fn judge(req: Option<&RequestHead>, resp: &ResponseHead) -> Outcome {
    let mut out = Outcome {
        switched: None,
        accept_valid: None,
        problems: Vec::new(),
    };
    let websocket_req = req.is_some_and(is_websocket_request);
    if resp.status == 101 {
        let token = resp.fields.get("upgrade").unwrap_or_default();
        if token.eq_ignore_ascii_case("websocket") || (token.is_empty() && websocket_req) {
            out.switched = Some(Protocol::Websocket);
            if let Some(req) = req {
                check_websocket_response(req, resp, &mut out);
            }
        } else {
            out.switched = Some(Protocol::Other(token));
        }
        return out;
    }
    if let Some(req) = req {
        if req.method == "CONNECT" && (200..300).contains(&resp.status) {
            out.switched = Some(Protocol::Tunnel);
        } else if websocket_req && resp.status >= 200 {
            out.problems.push(refusal(req, resp));
        }
    }
    out
}

fn check_websocket_response(req: &RequestHead, resp: &ResponseHead, out: &mut Outcome) {
    match (
        req.fields.get("sec-websocket-key"),
        resp.fields.get("sec-websocket-accept"),
    ) {
        (Some(key), Some(accept)) => {
            let expected = accept_key(&key);
            let valid = expected == accept;
            out.accept_valid = Some(valid);
            if !valid {
                out.problems.push(problem(FindingCode::WsBadAccept, format!(
                        "Sec-WebSocket-Accept {accept:?} does not match the key {key:?} (expected {expected:?}): a browser would drop this connection"
                    )));
            }
        }
        (_, None) => out.problems.push(problem(
            FindingCode::WsBadAccept,
            "101 without Sec-WebSocket-Accept: a browser would drop this connection",
        )),
        (None, Some(_)) => {}
    }
    let offered = req.fields.get("sec-websocket-protocol");
    let chosen = resp.fields.get("sec-websocket-protocol");
    let offered_xmpp = req.fields.has_token("sec-websocket-protocol", "xmpp");
    match (&offered, &chosen) {
        (Some(o), None) if offered_xmpp => out.problems.push(problem(
            FindingCode::WsSubprotocol,
            format!(
                "client offered subprotocols {o:?} but the 101 names none (RFC 7395 wants `xmpp`)"
            ),
        )),
        (_, Some(c)) if !req.fields.has_token("sec-websocket-protocol", c) => {
            out.problems.push(problem(
                FindingCode::WsSubprotocol,
                format!(
                    "server chose subprotocol {c:?}, which the client did not offer ({offered:?})"
                ),
            ))
        }
        _ => {}
    }
}

/// Why a WebSocket upgrade was refused, in words.
fn refusal(req: &RequestHead, resp: &ResponseHead) -> Problem {
    let status = resp.status;
    let line = format!("{} {}", status, resp.reason);
    let offered_xmpp = req.fields.has_token("sec-websocket-protocol", "xmpp");
    let why = match status {
        503 if !offered_xmpp => "the request did not offer `Sec-WebSocket-Protocol: xmpp`; Openfire answers 503 \"Endpoint Creation Failed\" then".to_string(),
        503 => "the server (or a proxy) is unavailable or could not create the WebSocket endpoint".to_string(),
        400 => "the server found the handshake request malformed".to_string(),
        401 => "authentication is required first".to_string(),
        403 => "the server or a proxy forbids it (Origin check, access rules or authentication)".to_string(),
        404 => format!("there is no WebSocket endpoint at {:?}", req.target),
        426 => "the server wants another WebSocket version".to_string(),
        200..=299 => "the server (or a proxy) answered it as a plain HTTP request and does not speak WebSocket on this path".to_string(),
        300..=399 => "the server redirects elsewhere".to_string(),
        _ => "the server did not switch protocols".to_string(),
    };
    problem(
        FindingCode::WsRefused,
        format!(
            "WebSocket upgrade to {} refused with {line}: {why}",
            req.target
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::super::parser::{Field, Fields};
    use super::*;

    fn fields(list: &[(&str, &str)]) -> Fields {
        Fields(
            list.iter()
                .map(|(n, v)| Field {
                    name: n.to_string(),
                    value: v.as_bytes().to_vec(),
                })
                .collect(),
        )
    }

    fn ws_request(protocol: Option<&str>) -> RequestHead {
        let mut f = vec![
            ("Upgrade", "websocket"),
            ("Connection", "keep-alive, Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ];
        if let Some(p) = protocol {
            f.push(("Sec-WebSocket-Protocol", p));
        }
        RequestHead {
            method: "GET".into(),
            target: "/ws/".into(),
            minor: 1,
            fields: fields(&f),
        }
    }

    fn response(status: u16, list: &[(&str, &str)]) -> ResponseHead {
        ResponseHead {
            status,
            reason: "R".into(),
            minor: 1,
            fields: fields(list),
        }
    }

    #[test]
    fn good_websocket_switch() {
        let req = ws_request(Some("xmpp"));
        assert!(check_websocket_request(&req).is_empty());
        let resp = response(
            101,
            &[
                ("Upgrade", "websocket"),
                ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
                ("Sec-WebSocket-Protocol", "xmpp"),
            ],
        );
        let out = judge(Some(&req), &resp);
        assert_eq!(out.switched, Some(Protocol::Websocket));
        assert_eq!(out.accept_valid, Some(true));
        assert!(out.problems.is_empty(), "{:?}", out.problems);
    }

    #[test]
    fn wrong_accept_and_missing_subprotocol() {
        let req = ws_request(Some("xmpp"));
        let resp = response(
            101,
            &[("Upgrade", "websocket"), ("Sec-WebSocket-Accept", "bad=")],
        );
        let out = judge(Some(&req), &resp);
        assert_eq!(out.accept_valid, Some(false));
        let codes: Vec<_> = out.problems.iter().map(|p| p.code).collect();
        assert_eq!(codes, ["http.ws_bad_accept", "http.ws_subprotocol"]);
    }

    #[test]
    fn refusals_say_why() {
        let cases = [
            (503, None, "did not offer `Sec-WebSocket-Protocol: xmpp`"),
            (503, Some("xmpp"), "unavailable"),
            (401, Some("xmpp"), "authentication is required"),
            (403, Some("xmpp"), "forbids"),
            (404, Some("xmpp"), "no WebSocket endpoint at \"/ws/\""),
            (200, Some("xmpp"), "plain HTTP request"),
        ];
        for (status, proto, words) in cases {
            let out = judge(Some(&ws_request(proto)), &response(status, &[]));
            assert_eq!(out.switched, None);
            let p = &out.problems[0];
            assert_eq!(p.code, "http.ws_refused");
            assert!(p.message.contains(words), "{status}: {}", p.message);
        }
    }

    #[test]
    fn non_websocket_switch_and_tunnel() {
        let req = RequestHead {
            method: "POST".into(),
            target: "/attach".into(),
            minor: 1,
            fields: fields(&[("Upgrade", "tcp"), ("Connection", "Upgrade")]),
        };
        assert!(asks_to_switch(&req));
        let out = judge(Some(&req), &response(101, &[("Upgrade", "tcp")]));
        assert_eq!(out.switched, Some(Protocol::Other("tcp".into())));
        let connect = RequestHead {
            method: "CONNECT".into(),
            target: "f:8445".into(),
            minor: 1,
            fields: Fields::default(),
        };
        assert_eq!(
            judge(Some(&connect), &response(200, &[])).switched,
            Some(Protocol::Tunnel)
        );
        assert_eq!(judge(Some(&connect), &response(407, &[])).switched, None);
    }

    #[test]
    fn bad_websocket_requests() {
        let mut req = ws_request(None);
        req.fields = fields(&[("Upgrade", "websocket"), ("Sec-WebSocket-Version", "8")]);
        assert_eq!(check_websocket_request(&req).len(), 3);
    }
}
