//! The pure parser of one complete XMPP element.
//!
//! Takes the text of one top-level element (a stanza, `<open/>`, a stream
//! header...) and the namespace bindings it inherits; gives a small read-only
//! tree whose names, attributes and (unescaped where possible) texts borrow
//! from that text. Uses quick-xml's `NsReader` for the XML itself. Never
//! panics, never keeps more than `max_xml_nodes` elements, never nests deeper
//! than `max_xml_depth`: anything else is a typed [`XmlError`].

use std::borrow::Cow;
use std::cell::OnceCell;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::attributes::Attributes;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::{Namespace, NamespaceResolver, PrefixDeclaration, ResolveResult};
use quick_xml::{NsReader, XmlVersion};

use super::escaped::{source_text, Scratch};
use super::ns::{self, Ns};
use crate::limits::Limits;

/// Why an element could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    #[error("not UTF-8 (invalid byte at offset {valid_up_to})")]
    NotUtf8 { valid_up_to: usize },
    #[error("{len} bytes is over the stanza cap of {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("nesting deeper than {limit} elements")]
    TooDeep { limit: usize },
    #[error("XML error at offset {position}: {source}")]
    Syntax {
        position: u64,
        source: quick_xml::Error,
    },
    #[error("unknown entity &{name};")]
    UnknownEntity { name: String },
    #[error("DTDs are not allowed in XMPP")]
    Doctype,
    #[error("element <{name}> is not closed")]
    Unclosed { name: String },
    #[error("no element")]
    Empty,
    #[error("content after the element, at offset {position}")]
    Trailing { position: u64 },
}

/// Namespace bindings an element inherits: from the `<stream:stream>`
/// header on TCP, assumed (`jabber:client`, `stream:`) on WebSocket and BOSH.
#[derive(Clone, Debug)]
pub(crate) struct Context {
    /// quick-xml's resolver with those bindings, built once and cloned for
    /// each element (building it binds and copies every namespace again).
    resolver: NamespaceResolver,
}

impl Default for Context {
    fn default() -> Context {
        Context::with(ns::CLIENT, &[("stream", ns::STREAMS)])
    }
}

impl Context {
    fn with(default: &str, prefixes: &[(&str, &str)]) -> Context {
        let mut resolver = NamespaceResolver::default();
        // A binding quick-xml refuses (e.g. a header rebinding `xml:`) is just
        // left out: the element then resolves as if it were not declared.
        let _ = resolver.add(PrefixDeclaration::Default, Namespace(default));
        for (prefix, uri) in prefixes {
            let _ = resolver.add(PrefixDeclaration::Named(prefix), Namespace(uri));
        }
        Context { resolver }
    }

    /// The bindings a stream header declares, on top of the defaults (a header
    /// that forgets `xmlns:stream` still gets the usual one).
    pub(crate) fn from_header(header: &Element<'_>) -> Context {
        let mut default = Cow::Borrowed(ns::CLIENT);
        let mut prefixes = vec![(Cow::Borrowed("stream"), Cow::Borrowed(ns::STREAMS))];
        let root = header.root();
        for (key, value) in root.attrs() {
            if key == "xmlns" {
                default = value;
            } else if let Some(prefix) = key.strip_prefix("xmlns:") {
                prefixes.retain(|(p, _)| p != prefix);
                prefixes.push((Cow::Borrowed(prefix), value));
            }
        }
        let prefixes: Vec<(&str, &str)> = prefixes.iter().map(|(p, u)| (&**p, &**u)).collect();
        Context::with(&default, &prefixes)
    }
}

/// One element of the tree. Children follow their parent (pre-order).
#[derive(Debug)]
struct Node<'a> {
    qname: &'a str,
    ns: Ns,
    /// The tag without `<` and `>`/`/>`: name then attributes.
    tag: &'a str,
    name_len: usize,
    text: Cow<'a, str>,
    /// Byte range of the direct text content in the source (for redaction).
    text_span: Option<(usize, usize)>,
    /// Index one past the last descendant.
    end: usize,
}

/// A parsed element: a tree borrowing from the element's text.
#[derive(Debug)]
pub(crate) struct Element<'a> {
    src: &'a str,
    nodes: Vec<Node<'a>>,
    /// Elements dropped because of `max_xml_nodes` (they were still checked).
    pub(crate) dropped: usize,
    /// The root's attributes, read once at the first lookup: handling a
    /// stanza asks for several (`type`, `id`, `from`, `to`...).
    root_attrs: OnceCell<Vec<(&'a str, Cow<'a, str>)>>,
}

/// Parses `src` as exactly one element (whitespace, comments and an XML
/// declaration around it are allowed).
pub(crate) fn parse_element<'a>(
    src: &'a str,
    ctx: &Context,
    limits: &Limits,
    scratch: &mut Scratch,
) -> Result<Element<'a>, XmlError> {
    let parsed = parse(src, ctx, limits, false, scratch);
    scratch.keep_small();
    parsed
}

/// Parses a `<stream:stream ...>` header: a start tag that is never closed.
pub(crate) fn parse_header<'a>(
    src: &'a str,
    ctx: &Context,
    limits: &Limits,
    scratch: &mut Scratch,
) -> Result<Element<'a>, XmlError> {
    let parsed = parse(src, ctx, limits, true, scratch);
    scratch.keep_small();
    parsed
}

fn parse<'a>(
    src: &'a str,
    ctx: &Context,
    limits: &Limits,
    open_root: bool,
    scratch: &mut Scratch,
) -> Result<Element<'a>, XmlError> {
    if src.len() > limits.max_stanza_bytes {
        return Err(XmlError::TooLarge {
            len: src.len(),
            limit: limits.max_stanza_bytes,
        });
    }
    // Long escaped texts (a Finesse notification is hundreds of `&lt;`) cost
    // quick-xml one event per reference: parse a copy where they are blanked
    // out, and unescape each of them in one go from the source instead.
    let (input, runs) = scratch.mask(src).unwrap_or((src, &[]));
    let mut reader = NsReader::from_str(input);
    *reader.resolver_mut() = ctx.resolver.clone();
    let mut builder = Builder {
        el: Element {
            src,
            nodes: Vec::with_capacity(8),
            dropped: 0,
            root_attrs: OnceCell::new(),
        },
        stack: Vec::with_capacity(8),
        done: false,
        max_nodes: limits.max_xml_nodes,
        max_depth: limits.max_xml_depth,
    };
    let mut before = 0u64;
    loop {
        // Only start tags need their namespace (what `read_resolved_event`
        // would give them); end tags and texts are not resolved.
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(source) => {
                return Err(XmlError::Syntax {
                    position: reader.error_position(),
                    source,
                })
            }
        };
        let after = reader.buffer_position();
        let span = (to_usize(before), to_usize(after));
        let ns = |e: &BytesStart<'_>| resolve(&reader.resolver().resolve_element(e.name()).0);
        match event {
            Event::Start(e) => builder.open(&e, ns(&e), span, false)?,
            Event::Empty(e) => builder.open(&e, ns(&e), span, true)?,
            Event::End(_) => builder.close(),
            Event::Text(_) => builder.text(source_text(src, span, runs)?, span, before)?,
            Event::CData(_) => {
                let inner = src
                    .get(span.0 + 9..span.1.saturating_sub(3))
                    .unwrap_or_default();
                builder.text(Cow::Borrowed(inner), span, before)?
            }
            Event::GeneralRef(r) => builder.text(resolve_ref(&r)?, span, before)?,
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
            Event::Eof => break,
        }
        if open_root && builder.stack.len() == 1 {
            // A header is complete once its start tag is read.
            return Ok(builder.el);
        }
        before = after;
    }
    if let Some(&open) = builder.stack.last() {
        let name = builder.el.nodes.get(open).map_or("?", |n| n.qname);
        return Err(XmlError::Unclosed {
            name: name.to_owned(),
        });
    }
    if builder.el.nodes.is_empty() {
        return Err(XmlError::Empty);
    }
    Ok(builder.el)
}

fn resolve(r: &ResolveResult<'_>) -> Ns {
    match r {
        ResolveResult::Bound(n) => Ns::from_uri(n.0),
        ResolveResult::Unbound => Ns::None,
        ResolveResult::Unknown(_) => Ns::Other,
    }
}

fn resolve_ref(r: &BytesRef<'_>) -> Result<Cow<'static, str>, XmlError> {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return Ok(Cow::Owned(c.to_string()));
    }
    match resolve_predefined_entity(r) {
        Some(s) => Ok(Cow::Borrowed(s)),
        None => Err(XmlError::UnknownEntity {
            name: r.to_string(),
        }),
    }
}

fn to_usize(pos: u64) -> usize {
    usize::try_from(pos).unwrap_or(usize::MAX)
}

struct Builder<'a> {
    el: Element<'a>,
    /// Open elements; `usize::MAX` marks one not kept (over `max_nodes`).
    stack: Vec<usize>,
    done: bool,
    max_nodes: usize,
    max_depth: usize,
}

impl<'a> Builder<'a> {
    fn open(
        &mut self,
        e: &BytesStart<'_>,
        ns: Ns,
        span: (usize, usize),
        empty: bool,
    ) -> Result<(), XmlError> {
        if self.done {
            return Err(XmlError::Trailing {
                position: span.0 as u64,
            });
        }
        if self.stack.len() >= self.max_depth {
            return Err(XmlError::TooDeep {
                limit: self.max_depth,
            });
        }
        let name_len = e.name().as_ref().len();
        let close_len = if empty { 2 } else { 1 };
        // The event spans `<`..`>` in the source; take the tag from there so
        // that it borrows from the source, not from the event.
        let tag = self
            .el
            .src
            .get(span.0.saturating_add(1)..span.1.saturating_sub(close_len))
            .filter(|t| t.len() >= name_len)
            .ok_or(XmlError::Empty)?;
        let qname = tag.get(..name_len).ok_or(XmlError::Empty)?;
        let idx = if self.el.nodes.len() < self.max_nodes {
            self.el.nodes.push(Node {
                qname,
                ns,
                tag,
                name_len,
                text: Cow::Borrowed(""),
                text_span: None,
                end: self.el.nodes.len() + 1,
            });
            self.el.nodes.len() - 1
        } else {
            self.el.dropped += 1;
            usize::MAX
        };
        if empty {
            if self.stack.is_empty() {
                self.done = true;
            }
        } else {
            self.stack.push(idx);
        }
        Ok(())
    }

    fn close(&mut self) {
        if let Some(idx) = self.stack.pop() {
            let end = self.el.nodes.len();
            if let Some(node) = self.el.nodes.get_mut(idx) {
                node.end = end;
            }
        }
        if self.stack.is_empty() {
            self.done = true;
        }
    }

    fn text(&mut self, piece: Cow<'a, str>, span: (usize, usize), at: u64) -> Result<(), XmlError> {
        let Some(&idx) = self.stack.last() else {
            if piece.trim().is_empty() {
                return Ok(());
            }
            return Err(XmlError::Trailing { position: at });
        };
        let Some(node) = self.el.nodes.get_mut(idx) else {
            return Ok(());
        };
        match &mut node.text_span {
            None => {
                node.text = piece;
                node.text_span = Some(span);
            }
            Some(s) => {
                node.text.to_mut().push_str(&piece);
                s.1 = span.1;
            }
        }
        Ok(())
    }
}

/// A handle on one element of a parsed tree.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NodeRef<'e, 'a> {
    el: &'e Element<'a>,
    idx: usize,
    node: &'e Node<'a>,
}

impl<'a> Element<'a> {
    /// The top-level element. Parsing guarantees there is one.
    pub(crate) fn root(&self) -> NodeRef<'_, 'a> {
        self.at(0).unwrap_or(NodeRef {
            el: self,
            idx: 0,
            node: &EMPTY_NODE,
        })
    }

    fn at(&self, idx: usize) -> Option<NodeRef<'_, 'a>> {
        self.nodes.get(idx).map(|node| NodeRef {
            el: self,
            idx,
            node,
        })
    }

    /// Byte ranges of the direct text of `nodes`, for redaction.
    pub(crate) fn source(&self) -> &'a str {
        self.src
    }
}

static EMPTY_NODE: Node<'static> = Node {
    qname: "",
    ns: Ns::None,
    tag: "",
    name_len: 0,
    text: Cow::Borrowed(""),
    text_span: None,
    end: 0,
};

impl<'e, 'a> NodeRef<'e, 'a> {
    /// The name as written, with its prefix (`stream:features`).
    pub(crate) fn name(&self) -> &'a str {
        self.node.qname
    }

    /// The name without its prefix.
    pub(crate) fn local(&self) -> &'a str {
        let q = self.node.qname;
        q.rsplit_once(':').map_or(q, |(_, l)| l)
    }

    pub(crate) fn ns(&self) -> Ns {
        self.node.ns
    }

    pub(crate) fn is(&self, ns: Ns, local: &str) -> bool {
        self.node.ns == ns && self.local() == local
    }

    /// The direct text, unescaped, untrimmed.
    pub(crate) fn text(&self) -> &'e str {
        &self.node.text
    }

    pub(crate) fn text_span(&self) -> Option<(usize, usize)> {
        self.node.text_span
    }

    /// All attributes (name as written, unescaped value); malformed ones end the list.
    pub(crate) fn attrs(&self) -> impl Iterator<Item = (&'a str, Cow<'a, str>)> + 'a {
        let mut it = Attributes::new(self.node.tag, self.node.name_len);
        it.with_checks(false);
        it.map_while(|a| a.ok()).map(|a| {
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .unwrap_or(a.value);
            (a.key.0, value)
        })
    }

    /// One attribute by its name as written (`type`, `xml:lang`).
    pub(crate) fn attr(&self, name: &str) -> Option<Cow<'a, str>> {
        if self.idx == 0 {
            let all = self.el.root_attrs.get_or_init(|| self.attrs().collect());
            return all.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
        }
        self.attrs().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// Direct children, in order.
    pub(crate) fn children(&self) -> impl Iterator<Item = NodeRef<'e, 'a>> + 'e {
        let el = self.el;
        let end = self.node.end;
        let mut next = self.idx + 1;
        std::iter::from_fn(move || {
            if next >= end {
                return None;
            }
            let child = el.at(next)?;
            next = child.node.end.max(next + 1);
            Some(child)
        })
    }

    /// The first direct child with this namespace and local name.
    pub(crate) fn child(&self, ns: Ns, local: &str) -> Option<NodeRef<'e, 'a>> {
        self.children().find(|c| c.is(ns, local))
    }

    /// The first direct child with this local name, whatever its namespace.
    pub(crate) fn child_named(&self, local: &str) -> Option<NodeRef<'e, 'a>> {
        self.children().find(|c| c.local() == local)
    }

    /// The trimmed text of the first child with this local name.
    pub(crate) fn child_text(&self, local: &str) -> Option<&'e str> {
        self.child_named(local).map(|c| c.text().trim())
    }

    /// This element and all its descendants, in document order.
    pub(crate) fn descendants(&self) -> impl Iterator<Item = NodeRef<'e, 'a>> + 'e {
        let el = self.el;
        (self.idx..self.node.end).filter_map(move |i| el.at(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &str) -> Element<'_> {
        parse_element(
            src,
            &Context::default(),
            &Limits::default(),
            &mut Scratch::default(),
        )
        .unwrap()
    }

    fn parse_err(src: &str) -> XmlError {
        parse_element(
            src,
            &Context::default(),
            &Limits::default(),
            &mut Scratch::default(),
        )
        .unwrap_err()
    }

    #[test]
    fn inherits_default_and_stream_prefix() {
        let el = parse_ok("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>");
        let root = el.root();
        assert_eq!(root.name(), "stream:features");
        assert_eq!(root.local(), "features");
        assert_eq!(root.ns(), Ns::Streams);
        let mechs = root.child(Ns::Sasl, "mechanisms").unwrap();
        let m: Vec<_> = mechs.children().map(|c| c.text()).collect();
        assert_eq!(m, ["PLAIN"]);
        let iq = parse_ok("<iq type='get'/>");
        assert_eq!(iq.root().ns(), Ns::Client);
    }

    #[test]
    fn header_bindings_replace_defaults() {
        let limits = Limits::default();
        let h = parse_header(
            "<s:stream xmlns='jabber:server' xmlns:s='http://etherx.jabber.org/streams' to='a'>",
            &Context::default(),
            &limits,
            &mut Scratch::default(),
        )
        .unwrap();
        assert_eq!(h.root().name(), "s:stream");
        assert_eq!(h.root().attr("to").as_deref(), Some("a"));
        let ctx = Context::from_header(&h);
        let el = parse_element("<s:features/>", &ctx, &limits, &mut Scratch::default()).unwrap();
        assert_eq!(el.root().ns(), Ns::Streams);
        let el = parse_element("<iq/>", &ctx, &limits, &mut Scratch::default()).unwrap();
        assert_eq!(el.root().ns(), Ns::Server);
    }

    #[test]
    fn text_is_unescaped_and_spanned() {
        let src = "<a><b>x&amp;y&#65;</b><c><![CDATA[<z>]]></c></a>";
        let el = parse_ok(src);
        let kids: Vec<_> = el.root().children().collect();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[0].text(), "x&yA");
        let (s, e) = kids[0].text_span().unwrap();
        assert_eq!(&src[s..e], "x&amp;y&#65;");
        assert_eq!(kids[1].text(), "<z>");
    }

    #[test]
    fn attributes_borrow_and_unescape() {
        let el = parse_ok(r#"<message to="a&amp;b" type='chat' xml:lang="en"/>"#);
        let r = el.root();
        assert_eq!(r.attr("to").as_deref(), Some("a&b"));
        assert_eq!(r.attr("type").as_deref(), Some("chat"));
        assert_eq!(r.attr("xml:lang").as_deref(), Some("en"));
        assert_eq!(r.attr("id"), None);
    }

    #[test]
    fn children_skip_grandchildren() {
        let el = parse_ok("<a><b><x/><y/></b><c/><d>t</d></a>");
        let names: Vec<_> = el.root().children().map(|c| c.name()).collect();
        assert_eq!(names, ["b", "c", "d"]);
        assert_eq!(el.root().child_text("d"), Some("t"));
        assert_eq!(el.root().descendants().count(), 6);
    }

    #[test]
    fn each_malformation_names_its_error() {
        assert!(matches!(parse_err("<a><b></a>"), XmlError::Syntax { .. }));
        assert!(matches!(parse_err("<a>"), XmlError::Unclosed { name } if name == "a"));
        assert!(matches!(parse_err("  "), XmlError::Empty));
        assert!(matches!(parse_err("<a/><b/>"), XmlError::Trailing { .. }));
        assert!(matches!(parse_err("<a/>junk"), XmlError::Trailing { .. }));
        assert!(
            matches!(parse_err("<a>&nbsp;</a>"), XmlError::UnknownEntity { name } if name == "nbsp")
        );
        assert!(matches!(parse_err("<!DOCTYPE a><a/>"), XmlError::Doctype));
        let limits = Limits {
            max_xml_depth: 3,
            ..Limits::default()
        };
        let r = parse_element(
            "<a><b><c><d/></c></b></a>",
            &Context::default(),
            &limits,
            &mut Scratch::default(),
        );
        assert!(matches!(r, Err(XmlError::TooDeep { limit: 3 })));
        let limits = Limits {
            max_stanza_bytes: 4,
            ..Limits::default()
        };
        let r = parse_element(
            "<abc/>",
            &Context::default(),
            &limits,
            &mut Scratch::default(),
        );
        assert!(matches!(r, Err(XmlError::TooLarge { len: 6, limit: 4 })));
    }

    #[test]
    fn long_escaped_texts_read_in_one_piece_match_the_event_path() {
        let inner =
            "<Update><data><user><state>READY</state><v>AT&amp;T</v></user></data></Update>";
        let escaped = quick_xml::escape::escape(inner);
        let amps = "&amp;".repeat(20);
        let src = format!(
            "<message a='x&gt;{amps}' b=\"&lt;&gt;\"><n>{escaped}</n><raw>1 &gt; 0 &amp; 2 > 1 {amps}</raw><c><![CDATA[&lt;]]></c></message>"
        );
        assert!(Scratch::default().mask(&src).is_some());
        let el = parse_ok(&src);
        let root = el.root();
        assert_eq!(root.attr("a").unwrap(), format!("x>{}", "&".repeat(20)));
        assert_eq!(root.attr("b").as_deref(), Some("<>"));
        assert_eq!(root.child_text("n"), Some(inner));
        assert_eq!(
            root.child_text("raw").unwrap(),
            format!("1 > 0 & 2 > 1 {}", "&".repeat(20))
        );
        assert_eq!(root.child_text("c"), Some("&lt;"));
        let (s, e) = root.child_named("n").unwrap().text_span().unwrap();
        assert_eq!(&src[s..e], &*escaped);
        let bad = format!("<m><n>{escaped}&bogus;</n></m>");
        assert!(matches!(parse_err(&bad), XmlError::UnknownEntity { name } if name == "bogus"));
    }

    #[test]
    fn node_cap_keeps_parsing_but_drops_elements() {
        let limits = Limits {
            max_xml_nodes: 2,
            ..Limits::default()
        };
        let el = parse_element(
            "<a><b/><c><d/></c></a>",
            &Context::default(),
            &limits,
            &mut Scratch::default(),
        )
        .unwrap();
        assert_eq!(el.dropped, 2);
        assert_eq!(el.root().children().count(), 1);
    }

    #[test]
    fn every_prefix_of_an_element_is_an_error_not_a_panic() {
        let src = "<iq type='set' id='x'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>desk&amp;top</resource></bind></iq>";
        for end in 0..src.len() {
            assert!(parse_element(
                &src[..end],
                &Context::default(),
                &Limits::default(),
                &mut Scratch::default()
            )
            .is_err());
        }
        assert!(parse_element(
            src,
            &Context::default(),
            &Limits::default(),
            &mut Scratch::default()
        )
        .is_ok());
    }
}
