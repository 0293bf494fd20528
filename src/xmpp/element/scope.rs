//! The namespace bindings in scope while one element is read.
//!
//! Takes the start and end tags quick-xml's `Reader` gives, and the
//! bindings the element inherits; gives each start tag's namespace, resolved
//! by quick-xml's own `NamespaceResolver`. Never resolves anything itself
//! and never walks attributes itself: a tag is pushed through the resolver
//! when `xmlns` appears in its attributes (what `NsReader` does for every
//! tag, and what only such a tag can change). Never panics.
//!
//! Why not `NsReader`: it builds a fresh resolver for every element (which
//! was then replaced by a clone of the inherited one) and walks every start
//! tag's attributes, about a tenth of `report --format ndjson` on
//! `bench-wss --varied`. The resolver here is the inherited one's copy kept
//! by [`Namespaces`] between elements, handed back as it was found.

use quick_xml::events::BytesStart;
use quick_xml::name::NamespaceResolver;

use super::{resolve, Namespaces};
use crate::xmpp::ns::Ns;

/// Depths from which every tag is pushed (a bit per depth below it says whether it was).
const TRACKED_DEPTHS: usize = 64;

pub(super) struct Scope {
    resolver: NamespaceResolver,
    /// Bit `d`: the open element at depth `d` pushed a scope.
    pushed: u64,
    depth: usize,
}

impl Scope {
    pub(super) fn new(namespaces: &Namespaces) -> Scope {
        Scope {
            resolver: namespaces.take_resolver(),
            pushed: 0,
            depth: 0,
        }
    }

    /// A start tag: its namespace, its declarations in scope until [`Scope::end`].
    pub(super) fn start(&mut self, tag: &BytesStart<'_>) -> Result<Ns, quick_xml::Error> {
        let pushed = self.push(tag)?;
        if pushed && self.depth < TRACKED_DEPTHS {
            self.pushed |= 1 << self.depth;
        }
        self.depth += 1;
        Ok(resolve(&self.resolver.resolve_element(tag.name()).0))
    }

    /// An empty tag: its namespace, its declarations in scope for itself only.
    pub(super) fn empty(&mut self, tag: &BytesStart<'_>) -> Result<Ns, quick_xml::Error> {
        let pushed = self.push(tag)?;
        let ns = resolve(&self.resolver.resolve_element(tag.name()).0);
        if pushed {
            self.resolver.pop();
        }
        Ok(ns)
    }

    /// An end tag (quick-xml has checked that it closes the innermost start tag).
    pub(super) fn end(&mut self) {
        let Some(depth) = self.depth.checked_sub(1) else {
            return;
        };
        self.depth = depth;
        let pushed = depth >= TRACKED_DEPTHS || self.pushed & (1 << depth) != 0;
        if pushed {
            self.resolver.pop();
            if depth < TRACKED_DEPTHS {
                self.pushed &= !(1 << depth);
            }
        }
    }

    /// Gives the resolver back to `namespaces` when every tag was closed
    /// (it is then as it was taken); otherwise it is dropped.
    pub(super) fn finish(self, namespaces: &Namespaces) {
        if self.depth == 0 {
            namespaces.give_back(self.resolver);
        }
    }

    /// Pushes `tag` through the resolver when it may declare a namespace:
    /// whether it did. A tag whose attributes never say `xmlns` declares
    /// nothing, and pushing it would only open an empty scope.
    fn push(&mut self, tag: &BytesStart<'_>) -> Result<bool, quick_xml::Error> {
        let attrs = tag.attributes_raw().as_bytes();
        let may_declare = memchr::memchr_iter(b'x', attrs).any(|at| {
            attrs
                .get(at..)
                .is_some_and(|rest| rest.starts_with(b"xmlns"))
        });
        if may_declare || self.depth >= TRACKED_DEPTHS {
            self.resolver.push(tag)?;
        }
        Ok(may_declare || self.depth >= TRACKED_DEPTHS)
    }
}
