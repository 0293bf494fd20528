//! The pure parser of one complete XMPP element.
//!
//! Takes the text of one top-level element (a stanza, `<open/>`, a stream
//! header...) and the namespace bindings it inherits; gives a small read-only
//! tree whose names, attributes and (unescaped where possible) texts borrow
//! from that text. Uses quick-xml's `Reader` for the XML itself and its
//! `NamespaceResolver` for namespaces (see [`scope`]); the node list and
//! element stack are kept per thread between elements
//! ([`Element::recycle`]). Never
//! panics, never keeps more than `max_xml_nodes` elements, never nests deeper
//! than `max_xml_depth`: anything else is a typed [`XmlError`].

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::attributes::{Attribute, Attributes};
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{Reader, XmlVersion};

use super::escaped::{source_text, Scratch};
use super::ns::Ns;
use crate::finding::Finding;
use crate::limits::Limits;
use crate::xmpp::FindingCode;
pub(crate) use namespaces::Namespaces;
use scope::Scope;

mod namespaces;
mod scope;

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
    /// The first element written with the same attribute twice, and that
    /// attribute: not well-formed XML, read anyway (the first value counts).
    pub(crate) duplicate_attribute: Option<(&'a str, String)>,
    /// The root's attributes, read once at the first lookup: handling a
    /// stanza asks for several (`type`, `id`, `from`, `to`...).
    root_attrs: OnceCell<Vec<(&'a str, Cow<'a, str>)>>,
}

thread_local! {
    /// The node list of the last element parsed on this thread, emptied:
    /// kept per thread rather than per session, so 20,000 open sessions
    /// keep nothing each and a session's size (which the memory budget
    /// counts) does not change.
    static NODES: Cell<Vec<Node<'static>>> = const { Cell::new(Vec::new()) };
    /// The element stack of the last parse on this thread.
    static STACK: Cell<Vec<usize>> = const { Cell::new(Vec::new()) };
}

/// Node lists larger than this (about 27 KB) are not kept between elements.
const KEEP_NODES: usize = 256;

/// An emptied node list under another lifetime, in the same allocation
/// (an empty vector collected into itself keeps its buffer).
// `filter` would keep the element type, and the point is to change it.
#[allow(clippy::unnecessary_filter_map)]
fn relabel<'b>(mut nodes: Vec<Node<'_>>) -> Vec<Node<'b>> {
    nodes.clear();
    nodes.into_iter().filter_map(|_| None).collect()
}

impl Element<'_> {
    /// Gives the node list back to this thread for the next element.
    pub(crate) fn recycle(self) {
        if self.nodes.capacity() <= KEEP_NODES {
            NODES.set(relabel(self.nodes));
        }
    }
}

/// Parses `src` as exactly one element (whitespace, comments and an XML
/// declaration around it are allowed).
pub(crate) fn parse_element<'a>(
    src: &'a str,
    namespaces: &Namespaces,
    limits: &Limits,
    scratch: &mut Scratch,
) -> Result<Element<'a>, XmlError> {
    let parsed = parse(src, namespaces, limits, false, scratch);
    scratch.keep_small();
    parsed
}

/// Parses a `<stream:stream ...>` header: a start tag that is never closed.
pub(crate) fn parse_header<'a>(
    src: &'a str,
    namespaces: &Namespaces,
    limits: &Limits,
    scratch: &mut Scratch,
) -> Result<Element<'a>, XmlError> {
    let parsed = parse(src, namespaces, limits, true, scratch);
    scratch.keep_small();
    parsed
}

fn parse<'a>(
    src: &'a str,
    namespaces: &Namespaces,
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
    let mut nodes = relabel(NODES.take());
    let mut stack = STACK.take();
    nodes.reserve(8);
    stack.clear();
    // Long escaped texts (a Finesse notification is hundreds of `&lt;`) cost
    // quick-xml one event per reference: parse a copy where they are blanked
    // out, and unescape each of them in one go from the source instead.
    let (input, runs) = scratch.mask(src).unwrap_or((src, &[]));
    let mut reader = Reader::from_str(input);
    let mut scope = Scope::new(namespaces);
    let mut builder = Builder {
        el: Element {
            src,
            nodes,
            dropped: 0,
            duplicate_attribute: None,
            root_attrs: OnceCell::new(),
        },
        stack,
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
        let syntax = |source| XmlError::Syntax {
            position: reader.error_position(),
            source,
        };
        match event {
            Event::Start(e) => builder.open(&e, scope.start(&e).map_err(syntax)?, span, false)?,
            Event::Empty(e) => builder.open(&e, scope.empty(&e).map_err(syntax)?, span, true)?,
            Event::End(_) => {
                scope.end();
                builder.close()
            }
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
            STACK.set(builder.stack);
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
    scope.finish(namespaces);
    STACK.set(builder.stack);
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

/// The first attribute written twice in a start tag, if any. Checked on
/// every element, so the common cases are cheap: a tag with fewer than two
/// `=` has no attribute walk at all, one with a few attributes compares
/// their names on the stack; a tag with more attributes than that falls back to quick-xml's
/// own check, which allocates.
fn duplicated(tag: &str, name_len: usize) -> Option<String> {
    const FEW: usize = 8;
    // Most elements carry one attribute or none: no attribute walk for them
    // (an `=` inside a value only sends a tag to the walk below).
    // The search stops at the second `=` (memchr, not a byte loop: this runs
    // on every tag).
    memchr::memchr_iter(b'=', tag.as_bytes()).nth(1)?;
    let mut seen: [&str; FEW] = [""; FEW];
    let mut attrs = Attributes::new(tag, name_len);
    attrs.with_checks(false);
    for (count, attr) in attrs.flatten().enumerate() {
        let key = attr.key.into_inner();
        let earlier = seen.get(..count).unwrap_or_default();
        if earlier.contains(&key) {
            return Some(key.to_owned());
        }
        match seen.get_mut(count) {
            Some(slot) => *slot = key,
            None => return duplicated_among_many(tag, name_len),
        }
    }
    None
}

/// [`duplicated`] for a tag with many attributes: quick-xml's check.
fn duplicated_among_many(tag: &str, name_len: usize) -> Option<String> {
    let mut attrs = Attributes::new(tag, name_len);
    attrs.with_checks(true);
    attrs.find_map(|a| match a {
        Err(quick_xml::events::attributes::AttrError::Duplicated(at, _)) => {
            let rest = tag.get(at..).unwrap_or_default();
            let name = rest.split(|c: char| c == '=' || c.is_whitespace()).next();
            Some(name.unwrap_or_default().to_owned())
        }
        _ => None,
    })
}

impl Element<'_> {
    /// What parsing left out or let pass, as findings for the caller to
    /// place: elements over `max_xml_nodes`, an attribute written twice.
    pub(crate) fn findings(&self, max_nodes: usize) -> Vec<Finding> {
        let mut out = Vec::new();
        if self.dropped > 0 {
            out.push(Finding::new(
                FindingCode::TooManyElements,
                format!(
                    "<{}> has more than {max_nodes} elements (max_xml_nodes); {} more were checked but not analysed",
                    self.root().name(),
                    self.dropped
                ),
            ));
        }
        if let Some((element, attr)) = &self.duplicate_attribute {
            out.push(Finding::new(
                FindingCode::DuplicateAttribute,
                format!(
                    "<{element}> has the attribute {attr} twice (not well-formed XML); the first value is used"
                ),
            ));
        }
        out
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
        if self.el.duplicate_attribute.is_none() {
            self.el.duplicate_attribute = duplicated(tag, name_len).map(|attr| (qname, attr));
        }
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

/// An attribute's name as written and its value unescaped and normalised
/// (as written when that fails).
fn unescaped(a: Attribute<'_>) -> (&str, Cow<'_, str>) {
    let value = a
        .normalized_value(XmlVersion::Implicit1_0)
        .unwrap_or(a.value);
    (a.key.0, value)
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
        self.raw_attrs().map(unescaped)
    }

    /// The attributes as written; malformed ones end the list.
    fn raw_attrs(&self) -> impl Iterator<Item = Attribute<'a>> + 'a {
        let mut it = Attributes::new(self.node.tag, self.node.name_len);
        it.with_checks(false);
        it.map_while(|a| a.ok())
    }

    /// One attribute by its name as written (`type`, `xml:lang`).
    pub(crate) fn attr(&self, name: &str) -> Option<Cow<'a, str>> {
        if self.idx == 0 {
            let all = self.el.root_attrs.get_or_init(|| self.attrs().collect());
            return all.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
        }
        // Only the value asked for is unescaped.
        self.raw_attrs()
            .find(|a| a.key.0 == name)
            .map(|a| unescaped(a).1)
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
mod tests;
