//! The XML namespaces xmppcap understands, resolved once per element.
//!
//! Takes a namespace URI; gives a small `Copy` value to match on. Never
//! allocates: namespaces it does not know are just `Other` (the URI stays in
//! the element's own `xmlns` attribute for summaries).

/// A namespace an element was bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ns {
    /// No namespace (no default namespace in scope).
    None,
    Client,
    Server,
    Streams,
    Framing,
    Tls,
    Sasl,
    Bind,
    Session,
    Stanzas,
    StreamErrors,
    Pubsub,
    PubsubEvent,
    PubsubOwner,
    Ping,
    IqAuth,
    Compress,
    StreamManagement,
    Dialback,
    /// XEP-0077 in-band registration, as a stream feature.
    RegisterFeature,
    /// XEP-0445 pre-authenticated in-band registration (invitation token).
    IbrToken,
    /// The same token registration under XEP-0401's (Easy User Onboarding)
    /// older namespace, from before XEP-0445 took it over: Prosody's
    /// mod_invites_register offers both.
    Invite,
    /// XEP-0078 non-SASL authentication, as a stream feature.
    IqAuthFeature,
    /// XEP-0115 entity capabilities.
    Caps,
    /// RFC 6121 §2.6 roster versioning.
    RosterVer,
    /// RFC 6121 §3.4 presence subscription pre-approval.
    PreApproval,
    /// XEP-0352 client state indication.
    Csi,
    Other,
}

pub(crate) const CLIENT: &str = "jabber:client";
pub(crate) const STREAMS: &str = "http://etherx.jabber.org/streams";

impl Ns {
    /// Maps a namespace URI.
    pub(crate) fn from_uri(uri: &str) -> Ns {
        match uri {
            "" => Ns::None,
            CLIENT => Ns::Client,
            "jabber:server" => Ns::Server,
            STREAMS => Ns::Streams,
            "urn:ietf:params:xml:ns:xmpp-framing" => Ns::Framing,
            "urn:ietf:params:xml:ns:xmpp-tls" => Ns::Tls,
            "urn:ietf:params:xml:ns:xmpp-sasl" => Ns::Sasl,
            "urn:ietf:params:xml:ns:xmpp-bind" => Ns::Bind,
            "urn:ietf:params:xml:ns:xmpp-session" => Ns::Session,
            "urn:ietf:params:xml:ns:xmpp-stanzas" => Ns::Stanzas,
            "urn:ietf:params:xml:ns:xmpp-streams" => Ns::StreamErrors,
            "http://jabber.org/protocol/pubsub" => Ns::Pubsub,
            "http://jabber.org/protocol/pubsub#event" => Ns::PubsubEvent,
            "http://jabber.org/protocol/pubsub#owner" => Ns::PubsubOwner,
            "urn:xmpp:ping" => Ns::Ping,
            "jabber:iq:auth" => Ns::IqAuth,
            "http://jabber.org/protocol/compress" | "http://jabber.org/features/compress" => {
                Ns::Compress
            }
            "urn:xmpp:sm:2" | "urn:xmpp:sm:3" => Ns::StreamManagement,
            "jabber:server:dialback" | "urn:xmpp:features:dialback" => Ns::Dialback,
            "http://jabber.org/features/iq-register" => Ns::RegisterFeature,
            "urn:xmpp:ibr-token:0" => Ns::IbrToken,
            "urn:xmpp:invite" => Ns::Invite,
            "http://jabber.org/features/iq-auth" => Ns::IqAuthFeature,
            "http://jabber.org/protocol/caps" => Ns::Caps,
            "urn:xmpp:features:rosterver" => Ns::RosterVer,
            "urn:xmpp:features:pre-approval" => Ns::PreApproval,
            "urn:xmpp:csi:0" => Ns::Csi,
            _ => Ns::Other,
        }
    }

    /// Stanza namespaces: the default namespace of a c2s or s2s stream.
    pub(crate) fn is_stanza(self) -> bool {
        matches!(self, Ns::Client | Ns::Server | Ns::None)
    }
}
