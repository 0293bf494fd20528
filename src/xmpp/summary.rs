//! What one XMPP session amounted to, for the report's session block.
//!
//! Takes nothing itself: the session fills it as elements arrive; gives plain
//! serialisable facts (who, how authenticated, which JID, what was
//! subscribed, how pings went, how it ended). Never holds a secret.

use serde::Serialize;

use super::{Ending, Transport};
use crate::position::{Dir, FrameRef};

/// Facts about one session, filled as it goes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The identifier the pipeline gave the session (the TCP stream index for TCP and WebSocket).
    pub stream: u64,
    pub transport: Transport,
    pub first: Option<FrameRef>,
    pub last: Option<FrameRef>,
    /// The domain the client opened its stream to.
    pub to: Option<String>,
    /// The domain the server answered from.
    pub from: Option<String>,
    /// The server's last stream id.
    pub stream_id: Option<String>,
    pub version: Option<String>,
    pub lang: Option<String>,
    pub features: Features,
    pub starttls: Option<StartTls>,
    pub sasl: Option<Sasl>,
    /// Stream restarts by the client (after STARTTLS or SASL success, or BOSH `xmpp:restart`).
    pub restarts: u32,
    pub bind: Option<Bind>,
    /// The full JID the server assigned.
    pub jid: Option<String>,
    pub session_established: bool,
    /// The client's first initial (broadcast) presence.
    pub presence: Option<Presence>,
    pub subscriptions: Vec<Subscription>,
    /// Elements per direction: `[c2s, s2c]`.
    pub stanzas: [u64; 2],
    pub malformed: u64,
    pub pubsub_events: u64,
    pub pings: Pings,
    pub stream_error: Option<StreamError>,
    pub close: Option<Close>,
    pub end: Option<End>,
    /// The client library, guessed from its iq ids (`_bind_auth_2`: Strophe.js).
    pub client: Option<&'static str>,
}

impl Summary {
    /// Who the session is: the SASL user, else the local part of the bound JID.
    pub fn user(&self) -> Option<String> {
        let sasl = self.sasl.as_ref().and_then(|a| a.user.clone());
        sasl.or_else(|| {
            self.jid
                .as_deref()
                .map(|j| j.split(['@', '/']).next().unwrap_or(j).to_owned())
        })
    }

    /// The session's last moment: its last stanza, or how its transport
    /// ended (a Close, a TCP RST) when that came later.
    pub fn last_seen(&self) -> Option<crate::position::FrameRef> {
        let ended = self.end.as_ref().and_then(|e| e.at);
        match (self.last, ended) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn new(stream: u64, transport: Transport) -> Summary {
        Summary {
            stream,
            transport,
            first: None,
            last: None,
            to: None,
            from: None,
            stream_id: None,
            version: None,
            lang: None,
            features: Features::default(),
            starttls: None,
            sasl: None,
            restarts: 0,
            bind: None,
            jid: None,
            session_established: false,
            presence: None,
            subscriptions: Vec::new(),
            stanzas: [0, 0],
            malformed: 0,
            pubsub_events: 0,
            pings: Pings::default(),
            stream_error: None,
            close: None,
            end: None,
            client: None,
        }
    }
}

/// Stream features the server offered (merged over all `<stream:features>`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Features {
    pub mechanisms: Vec<String>,
    /// `Some(true)` when STARTTLS was offered as required.
    pub starttls: Option<bool>,
    pub bind: bool,
    pub session: bool,
    pub compression: Vec<String>,
    /// Other features by element name (`sm`, `csi`, `register`...).
    pub other: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StartTls {
    pub at: FrameRef,
    /// `proceed` or `failure`, once the server answered.
    pub outcome: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Sasl {
    pub mechanism: Option<String>,
    pub authzid: Option<String>,
    /// The authentication identity (PLAIN authcid, SCRAM `n=`, DIGEST-MD5 `username`).
    pub user: Option<String>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
    /// The failure condition (`not-authorized`...).
    pub condition: Option<String>,
    pub text: Option<String>,
    pub at: Option<FrameRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Bind {
    pub requested_resource: Option<String>,
    pub jid: Option<String>,
    /// `error type/condition` when the bind failed.
    pub error: Option<String>,
    pub latency_ms: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Presence {
    pub priority: Option<i32>,
    pub show: Option<String>,
    pub status: Option<String>,
    pub at: FrameRef,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Subscription {
    pub node: Option<String>,
    pub jid: Option<String>,
    pub subid: Option<String>,
    /// `subscribe` or `unsubscribe`.
    pub action: &'static str,
    /// The server's answer: `subscribed`, `pending`, `none`, `error cancel/item-not-found`...
    pub outcome: Option<String>,
    pub at: FrameRef,
    pub latency_ms: Option<f64>,
}

/// XEP-0199 pings in both directions.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Pings {
    /// Pings sent `[by the client, by the server]`.
    pub sent: [u64; 2],
    pub answered: u64,
    pub unanswered: u64,
    pub max_latency_ms: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StreamError {
    pub condition: Option<String>,
    pub text: Option<String>,
    pub by: Dir,
    pub at: FrameRef,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Close {
    /// Who closed first (`<close/>` or `</stream:stream>`).
    pub by: Dir,
    pub at: FrameRef,
    pub see_other_uri: Option<String>,
    /// Whether the other side closed too.
    pub answered: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct End {
    pub at: Option<FrameRef>,
    #[serde(flatten)]
    pub how: Ending,
}
