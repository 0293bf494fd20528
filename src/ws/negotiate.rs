//! What the opening handshake agreed: subprotocol and extensions.
//!
//! Takes the header values the HTTP stage saw (`Sec-WebSocket-Extensions` of
//! the request and of the 101 response, `Sec-WebSocket-Protocol` of the
//! response); gives a [`Negotiated`] value plus the problems found in those
//! headers, and the `Sec-WebSocket-Accept` value a key must produce. Pure: no
//! I/O, never fails: a malformed parameter is a problem and is left out.

use base64::Engine as _;
use serde::Serialize;
use sha1::{Digest as _, Sha1};

use crate::finding::{Finding, Level};
use crate::ws::FindingCode;

/// RFC 6455 §1.3: appended to `Sec-WebSocket-Key` before hashing.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The value `Sec-WebSocket-Accept` must carry for `key`: base64(SHA-1(key + GUID)).
/// The one definition: the HTTP stage checks a 101 against it.
pub fn accept_key(key: &str) -> String {
    let mut hash = Sha1::new();
    hash.update(key.trim().as_bytes());
    hash.update(ACCEPT_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hash.finalize())
}

/// The parameters of an accepted permessage-deflate (RFC 7692 §7.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PermessageDeflate {
    /// The server resets its compression window for every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression window for every message.
    pub client_no_context_takeover: bool,
    /// Window bits (8..=15) the server compresses with; `None` means 15.
    pub server_max_window_bits: Option<u8>,
    /// Window bits (8..=15) the client compresses with; `None` means 15.
    pub client_max_window_bits: Option<u8>,
}

/// What the handshake agreed, as far as the WebSocket stage needs to know.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Negotiated {
    /// `Sec-WebSocket-Protocol` of the response (`xmpp` for RFC 7395).
    pub subprotocol: Option<String>,
    /// permessage-deflate, when the server accepted it.
    pub deflate: Option<PermessageDeflate>,
    /// Other extensions the server accepted: their RSV bits are not flagged,
    /// their payloads are not decoded.
    pub other_extensions: Vec<String>,
}

/// Something wrong in the extension or subprotocol headers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationProblem {
    #[error("extension header is malformed near {near:?}")]
    Malformed { near: String },
    #[error("permessage-deflate parameter {name:?} is unknown")]
    UnknownParameter { name: String },
    #[error("permessage-deflate parameter {name} appears twice")]
    DuplicateParameter { name: &'static str },
    #[error("{name}={value:?} is not a window size in 8..=15")]
    BadWindowBits { name: &'static str, value: String },
    #[error("{name} needs a value in the server's answer")]
    MissingValue { name: &'static str },
    #[error("{name} takes no value but carries {value:?}")]
    UnexpectedValue { name: &'static str, value: String },
    #[error("the server accepted permessage-deflate more than once")]
    AcceptedTwice,
    #[error("the server accepted permessage-deflate, which the client did not offer")]
    NotOffered,
    #[error("the server set client_max_window_bits, which the client did not offer")]
    ClientWindowNotOffered,
}

impl NegotiationProblem {
    /// Stable machine code of the finding this problem becomes.
    pub fn code(&self) -> FindingCode {
        match self {
            NegotiationProblem::Malformed { .. } => FindingCode::ExtensionMalformed,
            NegotiationProblem::UnknownParameter { .. }
            | NegotiationProblem::DuplicateParameter { .. }
            | NegotiationProblem::BadWindowBits { .. }
            | NegotiationProblem::MissingValue { .. }
            | NegotiationProblem::UnexpectedValue { .. } => FindingCode::DeflateParameter,
            NegotiationProblem::AcceptedTwice
            | NegotiationProblem::NotOffered
            | NegotiationProblem::ClientWindowNotOffered => FindingCode::DeflateNegotiation,
        }
    }

    /// An unlocated finding; the HTTP stage adds stream, direction and frame.
    pub fn to_finding(&self) -> Finding {
        Finding::new(self.code(), self.to_string()).with_level(Level::Warn)
    }
}

impl Negotiated {
    /// Reads the handshake headers. `offered` is the request's
    /// `Sec-WebSocket-Extensions` (several header lines joined by commas),
    /// `accepted` the response's; `None` when the header was absent.
    pub fn from_headers(
        offered: Option<&str>,
        accepted: Option<&str>,
        subprotocol: Option<&str>,
    ) -> (Negotiated, Vec<NegotiationProblem>) {
        let mut problems = Vec::new();
        let mut negotiated = Negotiated {
            subprotocol: subprotocol
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            ..Negotiated::default()
        };
        let offers = offered.map(|h| read_offers(h, &mut problems));
        for ext in accepted
            .map(|h| parse_list(h, &mut problems))
            .unwrap_or_default()
        {
            if !ext.name.eq_ignore_ascii_case(DEFLATE_NAME) {
                negotiated.other_extensions.push(ext.name.to_owned());
                continue;
            }
            if negotiated.deflate.is_some() {
                problems.push(NegotiationProblem::AcceptedTwice);
                continue;
            }
            let (params, _) = read_deflate(&ext, Side::Answer, &mut problems);
            match offers.as_deref() {
                Some([]) => problems.push(NegotiationProblem::NotOffered),
                Some(offers)
                    if params.client_max_window_bits.is_some()
                        && !offers.iter().any(|o| o.client_max_window_bits) =>
                {
                    problems.push(NegotiationProblem::ClientWindowNotOffered)
                }
                _ => {}
            }
            negotiated.deflate = Some(params);
        }
        (negotiated, problems)
    }
}

const DEFLATE_NAME: &str = "permessage-deflate";

/// One extension of a header list: its name and raw `(name, value)` parameters.
struct Extension<'a> {
    name: &'a str,
    params: Vec<(&'a str, Option<String>)>,
}

/// What an offer said, as far as validating the answer needs.
#[derive(Default)]
struct Offer {
    client_max_window_bits: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Offer,
    Answer,
}

/// The permessage-deflate offers of a request header, validated.
fn read_offers(header: &str, problems: &mut Vec<NegotiationProblem>) -> Vec<Offer> {
    parse_list(header, problems)
        .into_iter()
        .filter(|e| e.name.eq_ignore_ascii_case(DEFLATE_NAME))
        .map(|e| read_deflate(&e, Side::Offer, problems).1)
        .collect()
}

/// Splits `a; p=1, b` into extensions, honouring quoted strings (RFC 6455 §9.1).
fn parse_list<'a>(header: &'a str, problems: &mut Vec<NegotiationProblem>) -> Vec<Extension<'a>> {
    let mut out = Vec::new();
    for item in split_outside_quotes(header, ',') {
        let mut parts = split_outside_quotes(item, ';').into_iter();
        let name = parts.next().unwrap_or("").trim();
        if name.is_empty() {
            if !item.trim().is_empty() {
                problems.push(NegotiationProblem::Malformed {
                    near: item.trim().to_owned(),
                });
            }
            continue;
        }
        let mut params = Vec::new();
        for part in parts {
            let (key, value) = match part.split_once('=') {
                Some((k, v)) => (k.trim(), Some(unquote(v.trim()))),
                None => (part.trim(), None),
            };
            if key.is_empty() {
                problems.push(NegotiationProblem::Malformed {
                    near: part.trim().to_owned(),
                });
                continue;
            }
            params.push((key, value));
        }
        out.push(Extension { name, params });
    }
    out
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(s.get(start..i).unwrap_or(""));
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(s.get(start..).unwrap_or(""));
    parts
}

/// `"10"` → `10`, `"a\"b"` → `a"b`; tokens pass through.
fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return v.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if c == '\\' && !escaped {
            escaped = true;
        } else {
            out.push(c);
            escaped = false;
        }
    }
    out
}

/// Validates one permessage-deflate offer or answer (RFC 7692 §7.1).
fn read_deflate(
    ext: &Extension<'_>,
    side: Side,
    problems: &mut Vec<NegotiationProblem>,
) -> (PermessageDeflate, Offer) {
    let mut params = PermessageDeflate::default();
    let mut offer = Offer::default();
    let mut seen: Vec<&'static str> = Vec::new();
    for (key, value) in &ext.params {
        let Some(name) = PARAM_NAMES
            .iter()
            .copied()
            .find(|n| n.eq_ignore_ascii_case(key))
        else {
            problems.push(NegotiationProblem::UnknownParameter {
                name: (*key).to_owned(),
            });
            continue;
        };
        if seen.contains(&name) {
            problems.push(NegotiationProblem::DuplicateParameter { name });
            continue;
        }
        seen.push(name);
        match name {
            "server_no_context_takeover" | "client_no_context_takeover" => {
                if let Some(value) = value {
                    problems.push(NegotiationProblem::UnexpectedValue {
                        name,
                        value: value.clone(),
                    });
                }
                if name == "server_no_context_takeover" {
                    params.server_no_context_takeover = true;
                } else {
                    params.client_no_context_takeover = true;
                }
            }
            _ => {
                let client = name == "client_max_window_bits";
                offer.client_max_window_bits |= client;
                let bits = window_bits(name, value.as_deref(), client && side == Side::Offer);
                match bits {
                    Ok(bits) if client => params.client_max_window_bits = bits,
                    Ok(bits) => params.server_max_window_bits = bits,
                    Err(problem) => problems.push(problem),
                }
            }
        }
    }
    (params, offer)
}

const PARAM_NAMES: [&str; 4] = [
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
];

/// A window-bits value: 8..=15; absent only where RFC 7692 §7.1.2.2 allows it
/// (`client_max_window_bits` in an offer).
fn window_bits(
    name: &'static str,
    value: Option<&str>,
    may_be_empty: bool,
) -> Result<Option<u8>, NegotiationProblem> {
    match value {
        None if may_be_empty => Ok(None),
        None => Err(NegotiationProblem::MissingValue { name }),
        Some(v) => match v.parse::<u8>() {
            // RFC 7692: 1*DIGIT without leading zeros, 8..=15.
            Ok(bits @ 8..=15) if !v.starts_with('0') => Ok(Some(bits)),
            _ => Err(NegotiationProblem::BadWindowBits {
                name,
                value: v.to_owned(),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deflate(offer: &str, answer: &str) -> (PermessageDeflate, Vec<NegotiationProblem>) {
        let (n, p) = Negotiated::from_headers(Some(offer), Some(answer), None);
        (n.deflate.expect("deflate accepted"), p)
    }

    #[test]
    fn accept_key_rfc6455_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        // zeek/websocket_websocket_compressed.pcap, frames 4 and 6.
        assert_eq!(
            accept_key("Vc7O8lujVLWTE2dqdfliyw=="),
            "T1n8SghTv5PjT/G4qZqJNm6UK3c="
        );
    }

    #[test]
    fn browser_offer_and_openfire_style_answer() {
        let (d, p) = deflate(
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(d.server_max_window_bits, Some(12));
        assert_eq!(d.client_max_window_bits, Some(12));
        assert!(!d.server_no_context_takeover && !d.client_no_context_takeover);
    }

    #[test]
    fn no_context_takeover_and_quoted_values() {
        let (d, p) = deflate(
            "permessage-deflate; client_max_window_bits; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=\"10\"",
        );
        assert!(p.is_empty(), "{p:?}");
        assert!(d.server_no_context_takeover && d.client_no_context_takeover);
        assert_eq!(d.client_max_window_bits, Some(10));
    }

    #[test]
    fn several_offers_and_other_extensions() {
        let (n, p) = Negotiated::from_headers(
            Some("permessage-deflate; server_max_window_bits=10, permessage-deflate; client_max_window_bits, x-webkit-deflate-frame"),
            Some("permessage-deflate; client_max_window_bits=9, x-kaazing-idle-timeout"),
            Some(" xmpp "),
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(n.subprotocol.as_deref(), Some("xmpp"));
        assert_eq!(n.other_extensions, vec!["x-kaazing-idle-timeout"]);
        assert_eq!(n.deflate.and_then(|d| d.client_max_window_bits), Some(9));
    }

    #[test]
    fn no_extensions_means_no_deflate() {
        let (n, p) = Negotiated::from_headers(Some("permessage-deflate"), None, None);
        assert_eq!(n, Negotiated::default());
        assert!(p.is_empty());
    }

    #[test]
    fn window_bits_out_of_range() {
        for bad in ["7", "16", "08", "x", ""] {
            let (d, p) = deflate(
                "permessage-deflate",
                &format!("permessage-deflate; server_max_window_bits={bad}"),
            );
            assert_eq!(d.server_max_window_bits, None);
            assert_eq!(
                p,
                vec![NegotiationProblem::BadWindowBits {
                    name: "server_max_window_bits",
                    value: bad.to_owned()
                }]
            );
        }
    }

    #[test]
    fn answer_needs_window_value() {
        let (_, p) = deflate(
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits",
        );
        assert_eq!(
            p,
            vec![NegotiationProblem::MissingValue {
                name: "client_max_window_bits"
            }]
        );
        assert_eq!(p[0].code(), "ws.deflate_parameter");
    }

    #[test]
    fn unknown_duplicate_and_valued_flags() {
        let (_, p) = deflate(
            "permessage-deflate",
            "permessage-deflate; foo=1; server_no_context_takeover; server_no_context_takeover; client_no_context_takeover=yes",
        );
        assert_eq!(
            p,
            vec![
                NegotiationProblem::UnknownParameter { name: "foo".into() },
                NegotiationProblem::DuplicateParameter {
                    name: "server_no_context_takeover"
                },
                NegotiationProblem::UnexpectedValue {
                    name: "client_no_context_takeover",
                    value: "yes".into()
                },
            ]
        );
    }

    #[test]
    fn answer_not_matching_offer() {
        let (_, p) = deflate("x-other", "permessage-deflate");
        assert_eq!(p, vec![NegotiationProblem::NotOffered]);
        let (_, p) = deflate(
            "permessage-deflate",
            "permessage-deflate; client_max_window_bits=10",
        );
        assert_eq!(p, vec![NegotiationProblem::ClientWindowNotOffered]);
        let (_, p) = deflate(
            "permessage-deflate",
            "permessage-deflate, permessage-deflate",
        );
        assert_eq!(p, vec![NegotiationProblem::AcceptedTwice]);
        // The request was not seen: the answer is taken as it is.
        let (n, p) = Negotiated::from_headers(None, Some("permessage-deflate"), None);
        assert!(n.deflate.is_some() && p.is_empty());
    }

    #[test]
    fn malformed_lists() {
        let (_, p) = Negotiated::from_headers(None, Some("; a=1, permessage-deflate; =3"), None);
        assert_eq!(
            p,
            vec![
                NegotiationProblem::Malformed {
                    near: "; a=1".into()
                },
                NegotiationProblem::Malformed { near: "=3".into() },
            ]
        );
        assert_eq!(p[0].to_finding().code, "ws.extension_malformed");
        assert_eq!(
            split_outside_quotes("a; b=\"x,;\\\"y\", c", ','),
            vec!["a; b=\"x,;\\\"y\"", " c"]
        );
        assert_eq!(unquote("\"x\\\"y\""), "x\"y");
    }
}
