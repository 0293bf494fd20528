//! A notification payload as a plain tree of named elements with text.
//!
//! Takes the notification text, XML (with quick-xml, namespaces ignored,
//! attributes ignored, a lone `&` tolerated) or JSON (serde_json: object keys
//! become child elements, arrays repeat their key, scalars become text); gives
//! one tree whose names are compared ignoring ASCII case, so `dialogs/Dialog`,
//! `Queue` and `apiErrors`/`ApiErrors` all look alike. The tree is built in
//! a [`Scratch`] the caller keeps, so a stream of notifications reuses one
//! node list. Never keeps more than `max_xml_nodes` elements or nests deeper
//! than `max_xml_depth`.

use std::borrow::Cow;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::Value;

use super::Error;
use crate::limits::Limits;

#[derive(Debug)]
struct Node<'a> {
    name: Cow<'a, str>,
    text: Cow<'a, str>,
    /// Index one past the last descendant (pre-order).
    end: usize,
}

/// The parsed payload. Node 0 is the document: its children are the top-level elements.
#[derive(Debug)]
pub(crate) struct Tree<'a> {
    nodes: Vec<Node<'a>>,
}

/// A handle on one element.
#[derive(Clone, Copy, Debug)]
pub(crate) struct El<'t, 'a> {
    tree: &'t Tree<'a>,
    idx: usize,
}

/// The node list and element stack a tree is built in, kept from one
/// document to the next so that reading a notification allocates neither:
/// a node list of a few kilobytes is a large-bin request for malloc, which
/// first sweeps every small freed chunk (malloc_consolidate).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// Always empty between documents; only its allocation is kept.
    nodes: Vec<Node<'static>>,
    stack: Vec<usize>,
}

/// Node lists larger than this (about 57 KB) are not kept between documents.
const KEEP_NODES: usize = 1024;

/// An emptied node list under another lifetime, in the same allocation
/// (an empty vector collected into itself keeps its buffer).
// `filter` would keep the element type, and the point is to change it.
#[allow(clippy::unnecessary_filter_map)]
fn relabel<'b>(mut nodes: Vec<Node<'_>>) -> Vec<Node<'b>> {
    nodes.clear();
    nodes.into_iter().filter_map(|_| None).collect()
}

struct Builder<'a, 's> {
    nodes: Vec<Node<'a>>,
    stack: &'s mut Vec<usize>,
    max_nodes: usize,
    max_depth: usize,
}

impl<'a, 's> Builder<'a, 's> {
    fn new(limits: &Limits, size_hint: usize, scratch: &'s mut Scratch) -> Builder<'a, 's> {
        let mut nodes = relabel(std::mem::take(&mut scratch.nodes));
        // About one element per 24 bytes of a Finesse payload: reserve a
        // little more so that the vector grows at most once.
        nodes.reserve((size_hint / 20).clamp(8, KEEP_NODES));
        nodes.push(Node {
            name: Cow::Borrowed(""),
            text: Cow::Borrowed(""),
            end: 1,
        });
        let stack = &mut scratch.stack;
        stack.clear();
        stack.push(0);
        Builder {
            nodes,
            stack,
            max_nodes: limits.max_xml_nodes,
            max_depth: limits.max_xml_depth,
        }
    }

    #[inline]
    fn open(&mut self, name: Cow<'a, str>) -> Result<(), Error> {
        if self.stack.len() > self.max_depth {
            return Err(Error::TooDeep {
                limit: self.max_depth,
            });
        }
        if self.nodes.len() >= self.max_nodes {
            return Err(Error::TooManyElements {
                limit: self.max_nodes,
            });
        }
        self.nodes.push(Node {
            name,
            text: Cow::Borrowed(""),
            end: self.nodes.len() + 1,
        });
        self.stack.push(self.nodes.len() - 1);
        Ok(())
    }

    #[inline]
    fn close(&mut self) {
        // The document (index 0) is never popped.
        if self.stack.len() > 1 {
            if let Some(idx) = self.stack.pop() {
                let end = self.nodes.len();
                if let Some(n) = self.nodes.get_mut(idx) {
                    n.end = end;
                }
            }
        }
    }

    #[inline]
    fn text(&mut self, piece: Cow<'a, str>) {
        let Some(node) = self.stack.last().and_then(|&i| self.nodes.get_mut(i)) else {
            return;
        };
        if node.text.is_empty() {
            node.text = piece;
        } else {
            node.text.to_mut().push_str(&piece);
        }
    }

    fn finish(mut self) -> Tree<'a> {
        while self.stack.len() > 1 {
            self.close();
        }
        let end = self.nodes.len();
        if let Some(doc) = self.nodes.first_mut() {
            doc.end = end;
        }
        Tree { nodes: self.nodes }
    }
}

/// Parses the XML form.
pub(crate) fn parse_xml<'a>(
    text: &'a str,
    limits: &Limits,
    scratch: &mut Scratch,
) -> Result<Tree<'a>, Error> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().allow_dangling_amp = true;
    let mut b = Builder::new(limits, text.len(), scratch);
    let mut before = 0;
    loop {
        let event = reader.read_event().map_err(|source| Error::Xml {
            position: reader.error_position(),
            source,
        })?;
        let after = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let tag_name = |qname_len: usize| -> Cow<'a, str> {
            // Borrow the name from the text (the event's own copy would not live long enough).
            let name = text
                .get(before + 1..)
                .and_then(|t| t.get(..qname_len))
                .unwrap_or_default();
            // Names are a few bytes: a plain scan beats setting up a SIMD search.
            let local = match name.bytes().rposition(|b| b == b':') {
                Some(i) => name.get(i + 1..).unwrap_or(name),
                None => name,
            };
            Cow::Borrowed(local)
        };
        match event {
            Event::Start(e) => b.open(tag_name(e.name().as_ref().len()))?,
            Event::Empty(e) => {
                b.open(tag_name(e.name().as_ref().len()))?;
                b.close();
            }
            Event::End(_) => b.close(),
            Event::Text(t) => b.text(t.into_inner()),
            Event::CData(t) => b.text(t.into_inner()),
            Event::GeneralRef(r) => {
                let piece = match r.resolve_char_ref() {
                    Ok(Some(c)) => Cow::Owned(c.to_string()),
                    _ => match resolve_predefined_entity(&r) {
                        Some(s) => Cow::Borrowed(s),
                        // Unknown entities are kept as written rather than failing the update.
                        None => Cow::Owned(format!("&{};", &*r)),
                    },
                };
                b.text(piece);
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
        before = after;
    }
    if let Some(open) = b.stack.last().filter(|_| b.stack.len() > 1) {
        let name = b.nodes.get(*open).map_or("", |n| &n.name);
        return Err(Error::Unclosed {
            name: name.to_owned(),
        });
    }
    Ok(b.finish())
}

/// Parses the JSON form.
pub(crate) fn parse_json<'a>(
    text: &str,
    limits: &Limits,
    scratch: &mut Scratch,
) -> Result<Tree<'a>, Error> {
    let value: Value = serde_json::from_str(text).map_err(|source| Error::Json { source })?;
    let mut b = Builder::new(limits, text.len(), scratch);
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                add_json(&mut b, key, v)?;
            }
        }
        other => add_json(&mut b, String::new(), other)?,
    }
    Ok(b.finish())
}

fn add_json(b: &mut Builder<'_, '_>, key: String, value: Value) -> Result<(), Error> {
    match value {
        Value::Array(items) => {
            for item in items {
                add_json(b, key.clone(), item)?;
            }
        }
        Value::Object(map) => {
            b.open(Cow::Owned(key))?;
            for (k, v) in map {
                // `@attr` keys of XML-to-JSON converters are not Finesse fields.
                if !k.starts_with('@') {
                    add_json(b, k, v)?;
                }
            }
            b.close();
        }
        scalar => {
            b.open(Cow::Owned(key))?;
            let text = match scalar {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            b.text(Cow::Owned(text));
            b.close();
        }
    }
    Ok(())
}

impl<'a> Tree<'a> {
    /// Gives the node list back to `scratch` for the next document.
    pub(crate) fn recycle(self, scratch: &mut Scratch) {
        if self.nodes.capacity() <= KEEP_NODES {
            scratch.nodes = relabel(self.nodes);
        }
    }

    /// The document: its children are the top-level elements.
    pub(crate) fn doc(&self) -> El<'_, 'a> {
        El { tree: self, idx: 0 }
    }
}

impl<'t, 'a> El<'t, 'a> {
    fn node(&self) -> Option<&'t Node<'a>> {
        self.tree.nodes.get(self.idx)
    }

    /// The element name as written (local part for XML).
    pub(crate) fn name(&self) -> &'t str {
        self.node().map_or("", |n| &n.name)
    }

    pub(crate) fn is(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name)
    }

    /// Direct children in order.
    pub(crate) fn children(&self) -> impl Iterator<Item = El<'t, 'a>> + 't {
        let tree = self.tree;
        let end = self.node().map_or(0, |n| n.end);
        let mut next = self.idx + 1;
        std::iter::from_fn(move || {
            if next >= end {
                return None;
            }
            let child = El { tree, idx: next };
            next = child.node()?.end.max(next + 1);
            Some(child)
        })
    }

    /// The first child with this name (ASCII case ignored).
    pub(crate) fn child(&self, name: &str) -> Option<El<'t, 'a>> {
        // `children` spelled out: mapping a payload asks for every field by name.
        let nodes = self.tree.nodes.as_slice();
        let end = self.node().map_or(0, |n| n.end);
        let mut idx = self.idx + 1;
        while idx < end {
            let node = nodes.get(idx)?;
            if node.name.eq_ignore_ascii_case(name) {
                return Some(El {
                    tree: self.tree,
                    idx,
                });
            }
            idx = node.end.max(idx + 1);
        }
        None
    }

    /// The first child of each name (ASCII case ignored), in one pass over
    /// the children: what [`El::child`] gives for each name, for mappers that
    /// read many fields of one element.
    pub(crate) fn fields<const N: usize>(&self, names: [&str; N]) -> [Option<El<'t, 'a>>; N] {
        let mut found = [None; N];
        let mut missing = N;
        for child in self.children() {
            let name = child.name();
            for (slot, wanted) in found.iter_mut().zip(names) {
                if slot.is_none() && name.eq_ignore_ascii_case(wanted) {
                    *slot = Some(child);
                    missing -= 1;
                }
            }
            if missing == 0 {
                break;
            }
        }
        found
    }

    /// All children with this name.
    pub(crate) fn all(&self, name: &'t str) -> impl Iterator<Item = El<'t, 'a>> + 't {
        self.children().filter(move |c| c.is(name))
    }

    /// Follows a `/`-separated path of child names.
    pub(crate) fn path(&self, path: &str) -> Option<El<'t, 'a>> {
        path.split('/').try_fold(*self, |el, name| el.child(name))
    }

    /// Whether the element has child elements.
    pub(crate) fn has_children(&self) -> bool {
        self.children().next().is_some()
    }

    /// The trimmed text of this element.
    pub(crate) fn text(&self) -> &'t str {
        self.node().map_or("", |n| n.text.trim())
    }

    /// The trimmed text of this element, `None` when empty.
    pub(crate) fn value(&self) -> Option<String> {
        Some(self.text())
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    }

    /// The trimmed text of the child at `path`, `None` when absent or empty.
    pub(crate) fn get(&self, path: &str) -> Option<String> {
        let found = if path.contains('/') {
            self.path(path)
        } else {
            self.child(path)
        };
        found
            .map(|c| c.text())
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_names_ignore_case_and_text_unescapes() {
        let limits = Limits::default();
        let t = parse_xml(
            "<Update><data><Dialogs><dialog><v>AT&amp;T</v></dialog></Dialogs></data></Update>",
            &limits,
            &mut Scratch::default(),
        )
        .unwrap();
        let u = t.doc().child("update").unwrap();
        assert_eq!(u.path("DATA/dialogs/Dialog/V").unwrap().text(), "AT&T");
        assert_eq!(u.get("data/dialogs/dialog/v").as_deref(), Some("AT&T"));
    }

    #[test]
    fn json_arrays_repeat_their_key() {
        let limits = Limits::default();
        let t = parse_json(r#"{"Update":{"data":{"dialogs":{"Dialog":[{"id":"1"},{"id":2}]}},"event":"put","requestId":null}}"#, &limits, &mut Scratch::default()).unwrap();
        let u = t.doc().child("Update").unwrap();
        let ids: Vec<_> = u
            .path("data/dialogs")
            .unwrap()
            .all("dialog")
            .map(|d| d.get("id"))
            .collect();
        assert_eq!(ids, [Some("1".to_owned()), Some("2".to_owned())]);
        assert_eq!(u.get("event").as_deref(), Some("put"));
        assert_eq!(u.get("requestId"), None);
    }

    #[test]
    fn caps_are_errors() {
        let limits = Limits {
            max_xml_depth: 2,
            ..Limits::default()
        };
        assert!(matches!(
            parse_xml("<a><b><c/></b></a>", &limits, &mut Scratch::default()),
            Err(Error::TooDeep { limit: 2 })
        ));
        let limits = Limits {
            max_xml_nodes: 3,
            ..Limits::default()
        };
        assert!(matches!(
            parse_xml("<a><b/><c/></a>", &limits, &mut Scratch::default()),
            Err(Error::TooManyElements { limit: 3 })
        ));
        assert!(matches!(
            parse_json("[[[", &limits, &mut Scratch::default()),
            Err(Error::Json { .. })
        ));
    }

    #[test]
    fn a_scratch_keeps_its_allocation_and_changes_no_tree() {
        let limits = Limits::default();
        let mut scratch = Scratch::default();
        let text = "<Update><data><user><state>READY</state></user></data></Update>";
        let first = parse_xml(text, &limits, &mut scratch).unwrap();
        let capacity = first.nodes.capacity();
        assert_eq!(
            first.doc().get("Update/data/user/state").as_deref(),
            Some("READY")
        );
        first.recycle(&mut scratch);
        assert_eq!(scratch.nodes.capacity(), capacity);
        // A different document in the same buffers reads as it would alone.
        let other =
            "<Update><event>PUT</event><data><team><name>A&amp;B</name></team></data></Update>";
        let reused = parse_xml(other, &limits, &mut scratch).unwrap();
        assert_eq!(reused.nodes.capacity(), capacity);
        let alone = parse_xml(other, &limits, &mut Scratch::default()).unwrap();
        let texts = |t: &Tree<'_>| -> Vec<(String, String)> {
            t.nodes
                .iter()
                .map(|n| (n.name.to_string(), n.text.to_string()))
                .collect()
        };
        assert_eq!(texts(&reused), texts(&alone));
        assert_eq!(
            reused.doc().get("update/data/team/name").as_deref(),
            Some("A&B")
        );
        // An error leaves the scratch usable.
        assert!(parse_xml("<a><b>", &limits, &mut scratch).is_err());
        assert!(parse_xml(text, &limits, &mut scratch).is_ok());
    }
}
