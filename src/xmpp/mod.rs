//! Stage `xmpp`: XMPP stanzas and the conversation of each session.
//!
//! Takes XMPP in any of its three framings: one complete element per
//! WebSocket message (RFC 7395, legacy `<stream:stream>` tolerated), the
//! children of BOSH `<body>`s (both through [`Session::on_element`]), or the
//! raw bytes of a TCP connection on 5222/5269 ([`StreamFramer`], which splits
//! the stream across any segmentation and hands STARTTLS over to TLS at the
//! exact byte); [`detect`] tells whether a direction's first bytes are
//! XMPP at all. Gives, into a [`Sink`], one [`Stanza`] per top-level element
//! (name as written on the wire, type, id, addresses, a one-line summary in
//! words and the redacted XML), the payloads of the pubsub items each
//! event carried as [`PubsubItem`]s (right after its stanza, unread: what
//! they mean is the stage above's), findings, and a per-session
//! [`Summary`]. Secrets (SASL PLAIN passwords and blobs, SCRAM and
//! DIGEST-MD5 responses, `<password>`) never reach a summary or the raw XML
//! unless `show_secrets`. Never panics on input; every buffer is capped by
//! [`Limits`](crate::limits::Limits); malformed XML is a finding and the
//! session goes on.
//!
//! Finding codes (layer `xmpp` unless noted): `xmpp.malformed_xml`,
//! `xmpp.stanza_too_large`, `xmpp.junk`, `xmpp.gap`, `xmpp.truncated`,
//! `xmpp.tls_on_plaintext_port`, `xmpp.no_stream_response`,
//! `xmpp.sasl_failure`, `xmpp.starttls_failure`, `xmpp.bind_failed`,
//! `xmpp.session_failed`, `xmpp.no_presence`, `xmpp.negative_priority`,
//! `xmpp.subscription_failed`, `xmpp.subscription_bare_jid` (info),
//! `xmpp.subscription_redundant` (info), `xmpp.subscription_left` (info),
//! `xmpp.subscription_unanswered`, `xmpp.unanswered_ping`,
//! `xmpp.slow_ping_reply`, `xmpp.unanswered_iq`, `xmpp.iq_error` (info),
//! `xmpp.pending_iq_limit`, `xmpp.conflict`, `xmpp.system_shutdown`,
//! `xmpp.connection_timeout`, `xmpp.stream_error`, `xmpp.redirect`,
//! `xmpp.ended_without_close`.

mod element;
mod escaped;
mod findings;
mod framer;
pub(crate) mod fuzz;
mod iq;
mod ns;
mod probe;
mod sasl;
mod scan;
mod session;
mod stanzas;
mod stream;
mod subscriptions;
mod summary;

use std::borrow::Cow;

use serde::Serialize;

use crate::finding::Findings;
use crate::position::{Dir, FrameRef};

pub use element::XmlError;
pub use findings::FindingCode;
pub use framer::StreamFramer;
pub use probe::{detect, looks_like_ws_message, Probe};
pub use session::Session;
pub use subscriptions::AutomaticFeeds;
pub use summary::{
    Bind, Close, End, Features, Pings, Presence, Sasl, StartTls, StreamError, Subscription, Summary,
};

/// The framing an XMPP session travels in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// RFC 7395: one element per WebSocket text message.
    WebSocket,
    /// XEP-0124/0206: stanzas inside HTTP `<body>` elements.
    Bosh,
    /// RFC 6120 on a TCP connection (5222, 5269), possibly after STARTTLS.
    Tcp,
}

/// One top-level element, as seen on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stanza<'a> {
    pub dir: Dir,
    /// The frame holding the element's first byte.
    pub first: FrameRef,
    /// The frame holding its last byte.
    pub last: FrameRef,
    /// The element name exactly as written (`open`, `stream:features`, `iq`;
    /// `/stream:stream` for the stream's end tag).
    pub name: &'a str,
    #[serde(rename = "type")]
    pub kind: Option<Cow<'a, str>>,
    pub id: Option<Cow<'a, str>>,
    pub from: Option<Cow<'a, str>>,
    pub to: Option<Cow<'a, str>>,
    /// One line in words, e.g. `bind result 1001@finesse1.example.com/desktop (12 ms)`.
    pub summary: String,
    /// The element's XML with secrets replaced by `[redacted]` (unless `show_secrets`).
    pub raw: Cow<'a, str>,
}

/// One payload element inside a pubsub event `<item>` (XEP-0060), as
/// received: what it means is for the stage that knows the node's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PubsubItem<'a> {
    /// The node the item was published on (empty when `<items>` named none).
    pub node: Cow<'a, str>,
    /// The item's `id`.
    pub item_id: Option<Cow<'a, str>>,
    /// The payload element's local name (Finesse publishes `notification`).
    pub name: &'a str,
    /// The payload element's text, unescaped once (a Finesse notification
    /// carries its document as escaped text).
    pub text: &'a str,
}

/// The moment one direction of a TCP connection switches to TLS (STARTTLS).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TlsHandover {
    pub dir: Dir,
    /// The frame whose processing decided the switch (the server's
    /// `<proceed/>`, or the client's first TLS byte).
    pub at: FrameRef,
    /// Byte offset in this direction's TCP payload where TLS begins.
    pub offset: u64,
}

/// How the transport under a session ended, as the lower stages saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum Ending {
    /// A WebSocket Close frame, the first one sent.
    WebSocketClose {
        code: Option<u16>,
        reason: Option<String>,
        by: Dir,
    },
    /// TCP closed without any WebSocket Close: what a browser reports as 1006.
    WebSocketAbnormal { dropped_by: Option<Dir> },
    /// A BOSH `type='terminate'` body.
    BoshTerminate { condition: Option<String>, by: Dir },
    /// The TCP connection closed (FIN, or RST when `reset`), first by `by`.
    TcpClosed { by: Option<Dir>, reset: bool },
    /// The capture ended with the session still open.
    CaptureEnded,
    /// The analysis stopped following its connection (the memory budget
    /// cut it, `limits.memory`): how it ended is not known.
    NotFollowed,
    /// A WebSocket read from a browser HAR: the browser records no Close or
    /// ping frames, so how it ended is not known (never a 1006).
    HarUnknown,
}

impl Ending {
    /// In words, as a report's "ended" line says it.
    pub fn in_words(&self) -> String {
        let by = |d: Option<crate::position::Dir>| d.map(|d| format!(" by the {}", d.side()));
        match self {
            Ending::WebSocketClose { code, by, .. } => format!(
                "WebSocket Close {} from the {}",
                code.map_or("(no code)".to_owned(), |c| c.to_string()),
                by.side()
            ),
            Ending::WebSocketAbnormal { dropped_by } => format!(
                "WebSocket 1006: TCP dropped{} without a Close frame",
                by(*dropped_by).unwrap_or_default()
            ),
            Ending::BoshTerminate { condition, by } => format!(
                "BOSH terminate{} from the {}",
                condition
                    .as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default(),
                by.side()
            ),
            Ending::TcpClosed { by: who, reset } => format!(
                "TCP {}{}",
                if *reset { "reset" } else { "closed" },
                by(*who).unwrap_or_default()
            ),
            Ending::CaptureEnded => "still open at the end of the capture".to_owned(),
            Ending::NotFollowed => {
                "not followed to its end: its connection was cut for the memory budget (limits.memory)"
                    .to_owned()
            }
            Ending::HarUnknown => "unknown (HAR)".to_owned(),
        }
    }

    /// Whether this ending is a failure rather than an orderly close.
    pub fn is_abnormal(&self) -> bool {
        match self {
            Ending::WebSocketClose { code, .. } => !matches!(code, Some(1000 | 1001) | None),
            Ending::WebSocketAbnormal { .. } => true,
            Ending::BoshTerminate { condition, .. } => condition.is_some(),
            Ending::TcpClosed { reset, .. } => *reset,
            Ending::CaptureEnded | Ending::NotFollowed | Ending::HarUnknown => false,
        }
    }
}

/// Where a session's events go. `Findings` receives the findings.
pub trait Sink: Findings {
    /// One top-level element, in wire order per direction.
    fn on_stanza(&mut self, stanza: &Stanza<'_>);
    /// The payloads of the pubsub items `stanza` carried (reported just
    /// before), in document order; only called when there is at least one.
    fn on_pubsub_items(&mut self, stanza: &Stanza<'_>, items: &[PubsubItem<'_>]);
    /// A TCP direction switches to TLS (only from [`StreamFramer`]).
    fn on_tls_handover(&mut self, handover: &TlsHandover);
}

#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_corpus;
