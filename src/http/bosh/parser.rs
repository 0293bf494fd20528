//! Pure BOSH `<body>` parsing (XEP-0124 / XEP-0206).
//!
//! Takes the decoded bytes of one HTTP body; gives the `<body>` attributes
//! and each child element (stanza) as standalone XML text, with the namespace
//! declarations it inherits from `<body>` written out (`jabber:client` as the
//! default). Detection is by content: the root must be `body` in the
//! `http://jabber.org/protocol/httpbind` namespace. Never panics on broken
//! XML: what was parsed before the break is kept and the error is typed.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use serde::Serialize;
use thiserror::Error;

use super::FindingCode;

/// XEP-0124's namespace for `<body>`.
pub const HTTPBIND_NS: &str = "http://jabber.org/protocol/httpbind";
/// XEP-0206's namespace for `xmpp:restart` and `xmpp:version`.
pub const XBOSH_NS: &str = "urn:xmpp:xbosh";
/// What stanzas inside a body are qualified by (XEP-0206 section 3).
pub const CLIENT_NS: &str = "jabber:client";

/// The attributes of a `<body>` that matter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Attrs {
    pub rid: Option<u64>,
    pub sid: Option<String>,
    pub ack: Option<u64>,
    pub hold: Option<u32>,
    pub wait: Option<u32>,
    pub ver: Option<String>,
    pub polling: Option<u32>,
    pub inactivity: Option<u32>,
    pub requests: Option<u32>,
    pub to: Option<String>,
    pub from: Option<String>,
    /// `type` (`terminate`, `error`).
    pub kind: Option<String>,
    pub condition: Option<String>,
    /// `xmpp:restart="true"`.
    pub restart: bool,
    pub xmpp_version: Option<String>,
}

impl Attrs {
    /// `type="terminate"`.
    pub fn is_terminate(&self) -> bool {
        self.kind.as_deref() == Some("terminate")
    }
}

/// One child element of a `<body>`, as standalone XML.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stanza {
    /// Local name (`iq`, `message`, `presence`, `auth`, `features`...).
    pub name: String,
    /// The element's bytes with inherited namespace declarations written out.
    pub xml: String,
}

/// Why a `<body>` could not be parsed fully.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("body is not UTF-8 (byte {offset})")]
    NotUtf8 { offset: usize },
    #[error("XML error at byte {offset}: {message}")]
    Xml { offset: u64, message: String },
    #[error("body ended at byte {offset} before </body>")]
    Truncated { offset: u64 },
    #[error("elements nested deeper than {limit}")]
    TooDeep { limit: usize },
    #[error("a stanza of {len} bytes exceeds {limit} bytes")]
    StanzaTooLarge { len: usize, limit: usize },
    #[error(
        "the body's stanzas would grow to over {limit} bytes with the namespaces they inherit"
    )]
    TooMuchExpansion { limit: usize },
}

impl BodyError {
    /// The finding code a body that fails this way is reported with.
    pub(crate) fn code(&self) -> FindingCode {
        match self {
            BodyError::TooDeep { .. } => FindingCode::TooDeep,
            BodyError::StanzaTooLarge { .. } | BodyError::TooMuchExpansion { .. } => {
                FindingCode::StanzaTooLarge
            }
            BodyError::NotUtf8 { .. } | BodyError::Xml { .. } | BodyError::Truncated { .. } => {
                FindingCode::Malformed
            }
        }
    }
}

/// A parsed `<body>`: attributes, the stanzas read before any error, and the error.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub attrs: Attrs,
    pub stanzas: Vec<Stanza>,
    pub error: Option<BodyError>,
}

/// Caps applied while parsing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caps {
    pub max_depth: usize,
    pub max_stanza: usize,
}

/// Cheap content test: does `bytes` start (after an XML declaration and
/// whitespace) with a `<body` tag naming the httpbind namespace?
pub fn looks_like(bytes: &[u8]) -> bool {
    let head = bytes.get(..bytes.len().min(4096)).unwrap_or_default();
    let mut rest = trim_start(head);
    if rest.starts_with(b"<?xml") {
        let Some(end) = find(rest, b"?>") else {
            return false;
        };
        rest = trim_start(rest.get(end + 2..).unwrap_or_default());
    }
    let is_body = rest.starts_with(b"<body")
        && matches!(
            rest.get(5),
            Some(b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>')
        );
    let tag_end = rest.iter().position(|b| *b == b'>').unwrap_or(rest.len());
    is_body
        && find(
            rest.get(..tag_end).unwrap_or_default(),
            HTTPBIND_NS.as_bytes(),
        )
        .is_some()
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    b.get(n..).unwrap_or_default()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses a BOSH body; None when the root is not an httpbind `<body>`.
pub(crate) fn parse(bytes: &[u8], caps: Caps) -> Option<Parsed> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let error = BodyError::NotUtf8 {
                offset: e.valid_up_to(),
            };
            return looks_like(bytes).then(|| Parsed {
                error: Some(error),
                ..Parsed::default()
            });
        }
    };
    let mut reader = NsReader::from_str(text);
    let mut out = Parsed::default();
    let mut decls: Vec<(String, String)> = Vec::new();
    // Find the root element.
    loop {
        match reader.read_event() {
            Ok(ev @ (Event::Start(_) | Event::Empty(_))) => {
                let empty = matches!(ev, Event::Empty(_));
                let (Event::Start(e) | Event::Empty(e)) = ev else {
                    return None;
                };
                let (ns, local) = reader.resolver().resolve_element(e.name());
                let is_body = local.into_inner() == "body"
                    && matches!(ns, ResolveResult::Bound(n) if n.into_inner() == HTTPBIND_NS);
                if !is_body {
                    return None;
                }
                read_attrs(&reader, &e, &mut out.attrs, &mut decls);
                if empty {
                    return Some(out);
                }
                break;
            }
            Ok(Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_)) => {}
            Ok(Event::Text(t)) if t.trim().is_empty() => {}
            _ => return None,
        }
    }
    read_children(&mut reader, text, caps, &decls, &mut out);
    Some(out)
}

/// Longest `<body>` attribute value kept (sid, to, from, ver, a namespace
/// URI...); longer ones are ignored as if absent.
const MAX_ATTR_VALUE: usize = 1024;
/// `<body>` namespace prefixes passed on to the stanzas that use them.
const MAX_PREFIXES: usize = 32;

fn attr_value(a: &quick_xml::events::attributes::Attribute<'_>) -> String {
    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
        .map(|v| v.into_owned())
        .unwrap_or_else(|_| a.value.to_string())
}

fn read_attrs(
    reader: &NsReader<&[u8]>,
    e: &BytesStart<'_>,
    attrs: &mut Attrs,
    decls: &mut Vec<(String, String)>,
) {
    for a in e.attributes().with_checks(false).flatten() {
        let key = a.key.into_inner();
        let value = attr_value(&a);
        // Attribute values are kept per request and per session: real ones are short.
        if value.len() > MAX_ATTR_VALUE {
            continue;
        }
        if let Some(prefix) = key.strip_prefix("xmlns:") {
            if decls.len() < MAX_PREFIXES && !decls.iter().any(|(p, _)| p == prefix) {
                decls.push((prefix.to_string(), value));
            }
            continue;
        }
        let (ns, local) = reader.resolver().resolve_attribute(a.key);
        let local = local.into_inner();
        let xbosh = matches!(&ns, ResolveResult::Bound(n) if n.into_inner() == XBOSH_NS)
            || key.starts_with("xmpp:");
        match (xbosh, local) {
            (true, "restart") => attrs.restart = value == "true" || value == "1",
            (true, "version") => attrs.xmpp_version = Some(value),
            (true, _) => {}
            (false, "rid") => attrs.rid = value.trim().parse().ok(),
            (false, "sid") => attrs.sid = Some(value),
            (false, "ack") => attrs.ack = value.trim().parse().ok(),
            (false, "hold") => attrs.hold = value.trim().parse().ok(),
            (false, "wait") => attrs.wait = value.trim().parse().ok(),
            (false, "ver") => attrs.ver = Some(value),
            (false, "polling") => attrs.polling = value.trim().parse().ok(),
            (false, "inactivity") => attrs.inactivity = value.trim().parse().ok(),
            (false, "requests") => attrs.requests = value.trim().parse().ok(),
            (false, "to") => attrs.to = Some(value),
            (false, "from") => attrs.from = Some(value),
            (false, "type") => attrs.kind = Some(value),
            (false, "condition") => attrs.condition = Some(value),
            _ => {}
        }
    }
}

fn read_children(
    reader: &mut NsReader<&[u8]>,
    text: &str,
    caps: Caps,
    decls: &[(String, String)],
    out: &mut Parsed,
) {
    let mut depth = 0usize;
    let mut start: Option<(usize, String)> = None;
    // The inherited declarations written onto each stanza are bounded per
    // stanza; this bounds them per body (many tiny stanzas using a prefix).
    let limit = text.len().saturating_mul(2).saturating_add(caps.max_stanza);
    let (mut kept, mut counted) = (0usize, out.stanzas.len());
    loop {
        for s in out.stanzas.get(counted..).unwrap_or_default() {
            kept = kept.saturating_add(s.xml.len());
        }
        counted = out.stanzas.len();
        if kept > limit {
            out.stanzas.pop();
            out.error = Some(BodyError::TooMuchExpansion { limit });
            return;
        }
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) => {
                out.error = Some(BodyError::Xml {
                    offset: reader.error_position(),
                    message: e.to_string(),
                });
                return;
            }
        };
        let after = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        match event {
            Event::Start(e) => {
                if depth == 0 {
                    start = Some((before, e.local_name().into_inner().to_string()));
                }
                depth += 1;
                if depth >= caps.max_depth {
                    out.error = Some(BodyError::TooDeep {
                        limit: caps.max_depth,
                    });
                    return;
                }
            }
            Event::Empty(e) if depth == 0 => {
                let name = e.local_name().into_inner().to_string();
                push_stanza(text, before, after, name, caps, decls, out);
            }
            Event::End(_) if depth == 0 => return, // </body>
            Event::End(_) => {
                depth -= 1;
                if depth == 0 {
                    if let Some((from, name)) = start.take() {
                        push_stanza(text, from, after, name, caps, decls, out);
                    }
                }
            }
            Event::Eof => {
                out.error = Some(BodyError::Truncated {
                    offset: reader.buffer_position(),
                });
                return;
            }
            _ => {}
        }
    }
}

fn push_stanza(
    text: &str,
    from: usize,
    to: usize,
    name: String,
    caps: Caps,
    decls: &[(String, String)],
    out: &mut Parsed,
) {
    let raw = text.get(from..to).unwrap_or_default();
    if raw.len() > caps.max_stanza {
        out.error = Some(BodyError::StanzaTooLarge {
            len: raw.len(),
            limit: caps.max_stanza,
        });
        return;
    }
    out.stanzas.push(Stanza {
        name,
        xml: standalone(raw, decls),
    });
}

/// Writes out on the element's start tag the declarations it inherits: a
/// `jabber:client` default namespace and any `<body>` prefix it uses.
fn standalone(raw: &str, decls: &[(String, String)]) -> String {
    let name_end = raw
        .char_indices()
        .skip(1)
        .find(|(_, c)| c.is_whitespace() || *c == '/' || *c == '>')
        .map_or(raw.len(), |(i, _)| i);
    let tag_end = raw.find('>').unwrap_or(raw.len());
    let start_tag = raw.get(..tag_end).unwrap_or_default();
    let mut extra = String::new();
    let declares_default = start_tag.contains(" xmlns=") || start_tag.contains("\txmlns=");
    let qname = raw.get(1..name_end).unwrap_or_default();
    if !declares_default {
        extra.push_str(&format!(" xmlns=\"{CLIENT_NS}\""));
    }
    for (prefix, uri) in decls {
        let used = raw.contains(&format!("{prefix}:")) || qname.starts_with(&format!("{prefix}:"));
        let declared = start_tag.contains(&format!("xmlns:{prefix}="));
        if used && !declared {
            let uri = uri.replace('&', "&amp;").replace('"', "&quot;");
            extra.push_str(&format!(" xmlns:{prefix}=\"{uri}\""));
        }
    }
    let (head, tail) = raw.split_at(name_end.min(raw.len()));
    format!("{head}{extra}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: Caps = Caps {
        max_depth: 16,
        max_stanza: 1 << 16,
    };

    // XEP-0124 example 1 (session creation request).
    const CREATE: &str = "<body content='text/xml; charset=utf-8' from='user@example.com' hold='1' rid='1573741820' to='example.com' route='xmpp:example.com:9999' secure='true' ver='1.6' wait='60' ack='1' xml:lang='en' xmpp:version='1.0' xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'/>";

    #[test]
    fn session_creation_attributes() {
        let p = parse(CREATE.as_bytes(), CAPS).unwrap();
        assert_eq!(p.error, None);
        let a = &p.attrs;
        assert_eq!(
            (a.rid, a.hold, a.wait, a.ack),
            (Some(1573741820), Some(1), Some(60), Some(1))
        );
        assert_eq!(a.to.as_deref(), Some("example.com"));
        assert_eq!(a.xmpp_version.as_deref(), Some("1.0"));
        assert_eq!(a.ver.as_deref(), Some("1.6"));
        assert!(p.stanzas.is_empty());
        assert!(looks_like(CREATE.as_bytes()));
    }

    #[test]
    fn stanzas_get_inherited_namespaces() {
        let body = r#"<?xml version="1.0"?>
<body xmlns="http://jabber.org/protocol/httpbind" xmlns:stream="http://etherx.jabber.org/streams" sid="s1" rid="7"><stream:features><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>PLAIN</mechanism></mechanisms></stream:features><iq type="result" id="_bind_auth_2"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></iq><presence/></body>"#;
        let p = parse(body.as_bytes(), CAPS).unwrap();
        assert_eq!(p.error, None);
        let names: Vec<_> = p.stanzas.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["features", "iq", "presence"]);
        assert_eq!(
            p.stanzas[0].xml,
            r#"<stream:features xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>PLAIN</mechanism></mechanisms></stream:features>"#
        );
        assert_eq!(
            p.stanzas[1].xml,
            r#"<iq xmlns="jabber:client" type="result" id="_bind_auth_2"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></iq>"#
        );
        assert_eq!(p.stanzas[2].xml, r#"<presence xmlns="jabber:client"/>"#);
    }

    #[test]
    fn own_default_namespace_is_kept() {
        let body = r#"<body rid="2" sid="s" xmlns="http://jabber.org/protocol/httpbind"><auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">AGEAYg==</auth></body>"#;
        let p = parse(body.as_bytes(), CAPS).unwrap();
        assert_eq!(
            p.stanzas[0].xml,
            r#"<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">AGEAYg==</auth>"#
        );
    }

    #[test]
    fn restart_and_terminate() {
        let r = r#"<body rid="3" sid="s" xmpp:restart="true" xmlns="http://jabber.org/protocol/httpbind" xmlns:xmpp="urn:xmpp:xbosh"/>"#;
        assert!(parse(r.as_bytes(), CAPS).unwrap().attrs.restart);
        let t = r#"<body type="terminate" condition="item-not-found" xmlns="http://jabber.org/protocol/httpbind"></body>"#;
        let p = parse(t.as_bytes(), CAPS).unwrap();
        assert!(p.attrs.is_terminate());
        assert_eq!(p.attrs.condition.as_deref(), Some("item-not-found"));
        assert_eq!(p.error, None);
    }

    #[test]
    fn not_bosh() {
        assert_eq!(parse(b"<ApiErrors/>", CAPS), None);
        assert_eq!(parse(b"<body xmlns='urn:other'/>", CAPS), None);
        assert_eq!(parse(b"{\"a\":1}", CAPS), None);
        assert!(!looks_like(
            b"<bodyx xmlns='http://jabber.org/protocol/httpbind'/>"
        ));
    }

    #[test]
    fn malformed_xml_keeps_earlier_stanzas() {
        let body = r#"<body rid="4" xmlns="http://jabber.org/protocol/httpbind"><presence/><message><body>hi</bdy></message></body>"#;
        let p = parse(body.as_bytes(), CAPS).unwrap();
        assert_eq!(p.stanzas.len(), 1);
        assert!(
            matches!(p.error, Some(BodyError::Xml { .. })),
            "{:?}",
            p.error
        );
        assert_eq!(p.attrs.rid, Some(4));
        let cut = r#"<body rid="4" xmlns="http://jabber.org/protocol/httpbind"><presence/><mess"#;
        let p = parse(cut.as_bytes(), CAPS).unwrap();
        assert!(p.error.is_some());
        let p = parse(
            b"<body xmlns='http://jabber.org/protocol/httpbind'>\xff</body>",
            CAPS,
        )
        .unwrap();
        assert_eq!(p.error, Some(BodyError::NotUtf8 { offset: 50 }));
    }

    #[test]
    fn depth_and_size_caps() {
        let deep = format!(
            "<body xmlns='http://jabber.org/protocol/httpbind'>{}{}</body>",
            "<a>".repeat(20),
            "</a>".repeat(20)
        );
        let p = parse(deep.as_bytes(), CAPS).unwrap();
        assert_eq!(p.error, Some(BodyError::TooDeep { limit: 16 }));
        let small = Caps {
            max_depth: 16,
            max_stanza: 10,
        };
        let big = "<body xmlns='http://jabber.org/protocol/httpbind'><message>0123456789</message></body>";
        let p = parse(big.as_bytes(), small).unwrap();
        assert_eq!(
            p.error,
            Some(BodyError::StanzaTooLarge { len: 29, limit: 10 })
        );
    }

    #[test]
    fn inherited_namespaces_cannot_blow_a_body_up() {
        // A long (but kept) namespace URI used by very many tiny stanzas.
        let uri = "u".repeat(1000);
        let body = format!(
            "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:a='{uri}'>{}</body>",
            "<a:b/>".repeat(100_000)
        );
        let p = parse(body.as_bytes(), CAPS).unwrap();
        assert!(matches!(p.error, Some(BodyError::TooMuchExpansion { .. })));
        let kept: usize = p.stanzas.iter().map(|s| s.xml.len()).sum();
        assert!(kept <= body.len() * 2 + CAPS.max_stanza, "{kept}");
        // Over-long attribute values are ignored, not kept.
        let sid = "s".repeat(5000);
        let long =
            format!("<body xmlns='http://jabber.org/protocol/httpbind' sid='{sid}' rid='5'/>");
        let p = parse(long.as_bytes(), CAPS).unwrap();
        assert_eq!((p.attrs.sid, p.attrs.rid), (None, Some(5)));
    }

    #[test]
    fn every_prefix_is_safe() {
        let body = r#"<body rid="4" xmlns="http://jabber.org/protocol/httpbind"><presence/><iq id="1"><ping xmlns="urn:xmpp:ping"/></iq></body>"#;
        for n in 0..body.len() {
            let p = parse(&body.as_bytes()[..n], CAPS);
            if let Some(p) = p {
                assert!(p.error.is_some() || n == body.len(), "prefix {n}");
            }
        }
    }
}
