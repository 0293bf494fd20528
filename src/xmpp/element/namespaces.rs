//! The namespace bindings an element inherits, kept between elements.
//!
//! Takes the defaults (WebSocket, BOSH) or a stream header's declarations;
//! gives quick-xml's `NamespaceResolver` with those bindings, lent to each
//! element read ([`super::scope`]) and taken back as it was found. Never
//! resolves a name itself and never panics.

use std::borrow::Cow;
use std::cell::Cell;

use quick_xml::name::{Namespace, NamespaceResolver, PrefixDeclaration};

use super::Element;
use crate::xmpp::ns;

/// Namespace bindings an element inherits: from the `<stream:stream>`
/// header on TCP, assumed (`jabber:client`, `stream:`) on WebSocket and BOSH.
pub(crate) struct Namespaces {
    /// quick-xml's resolver with those bindings, built once (building it
    /// binds and copies every namespace again).
    resolver: NamespaceResolver,
    /// A copy of `resolver` lent to each element read and given back as it
    /// was found, so that the bindings are not copied for every element.
    spare: Cell<Option<NamespaceResolver>>,
}

impl Clone for Namespaces {
    fn clone(&self) -> Namespaces {
        Namespaces {
            resolver: self.resolver.clone(),
            spare: Cell::new(None),
        }
    }
}

impl std::fmt::Debug for Namespaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespaces")
            .field("resolver", &self.resolver)
            .finish_non_exhaustive()
    }
}

impl Default for Namespaces {
    fn default() -> Namespaces {
        Namespaces::with(ns::CLIENT, &[("stream", ns::STREAMS)])
    }
}

impl Namespaces {
    fn with(default: &str, prefixes: &[(&str, &str)]) -> Namespaces {
        let mut resolver = NamespaceResolver::default();
        // A binding quick-xml refuses (e.g. a header rebinding `xml:`) is just
        // left out: the element then resolves as if it were not declared.
        let _ = resolver.add(PrefixDeclaration::Default, Namespace(default));
        for (prefix, uri) in prefixes {
            let _ = resolver.add(PrefixDeclaration::Named(prefix), Namespace(uri));
        }
        Namespaces {
            resolver,
            spare: Cell::new(None),
        }
    }

    /// The bindings to read one element with: the spare copy, or a new one.
    pub(super) fn take_resolver(&self) -> NamespaceResolver {
        self.spare.take().unwrap_or_else(|| self.resolver.clone())
    }

    /// Takes back a copy that is again exactly `resolver`.
    pub(super) fn give_back(&self, resolver: NamespaceResolver) {
        self.spare.set(Some(resolver));
    }

    /// The bindings a stream header declares, on top of the defaults (a header
    /// that forgets `xmlns:stream` still gets the usual one).
    pub(crate) fn from_header(header: &Element<'_>) -> Namespaces {
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
        Namespaces::with(&default, &prefixes)
    }
}
