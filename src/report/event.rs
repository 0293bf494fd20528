//! The event model every report renderer consumes: one [`Event`] per thing
//! that happened on the wire, owned and serialisable.
//!
//! Takes nothing by itself (the pipeline builds events from the stages');
//! gives the NDJSON line format (`kind`, `time`, `frame`, `stream`, `dir`,
//! `session`, `summary`, then the kind's own fields) and the timeline rows.
//! Never holds captured secrets: stages redact before events are built.

use std::net::SocketAddr;

use serde::Serialize;

use crate::finding::{Finding, Layer, Level};
use crate::position::{Dir, FrameRef, Timestamp};
use crate::tcp::{GapReason, Origin, StreamStats};

/// One thing that happened, located in the capture.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// What it is: `tcp.open`, `tls.client_hello`, `http.exchange`, `ws.message`,
    /// `xmpp.stanza`, `finesse.update`, `finding`...
    pub kind: String,
    /// Capture time of `frame` (RFC 3339 UTC).
    pub time: Option<Timestamp>,
    /// Wireshark `frame.number` of the event's first byte (or of the packet that showed it).
    pub frame: Option<u64>,
    /// Last frame of a unit that can span several (message, stanza, exchange); null otherwise.
    pub last_frame: Option<u64>,
    /// Wireshark `tcp.stream`.
    pub stream: Option<u64>,
    pub dir: Option<Dir>,
    /// XMPP session number (1-based, in order of appearance), when the event belongs to one.
    pub session: Option<u32>,
    /// One line in words.
    pub summary: String,
    #[serde(flatten)]
    pub detail: Detail,
}

impl Event {
    /// About how many bytes the event holds, counting the texts that can be
    /// large (message texts, bodies, raw XML, messages) and a flat amount for
    /// the rest: what a kept timeline is budgeted by.
    pub fn approx_bytes(&self) -> usize {
        let len = |t: &Option<String>| t.as_ref().map_or(0, String::len);
        let heavy = match &self.detail {
            Detail::WsMessage(m) => len(&m.text),
            Detail::Http { exchange } => {
                let q = exchange.request.as_ref();
                let r = exchange.response.as_ref();
                q.map_or(0, |q| q.path.len() + len(&q.body.text))
                    + r.map_or(0, |r| len(&r.body.text))
            }
            Detail::Stanza(s) => len(&s.raw) + len(&s.id) + len(&s.from) + len(&s.to),
            Detail::Finding { message, .. } => message.len(),
            _ => 0,
        };
        512 + self.summary.len() + self.kind.len() + heavy
    }
}

impl Event {
    /// An event at a frame; `detail` and `summary` say what it is.
    pub fn new(
        kind: impl Into<String>,
        at: Option<FrameRef>,
        summary: impl Into<String>,
        detail: Detail,
    ) -> Event {
        Event {
            kind: kind.into(),
            time: at.map(|a| a.ts),
            frame: at.map(|a| a.frame),
            last_frame: None,
            stream: None,
            dir: None,
            session: None,
            summary: summary.into(),
            detail,
        }
    }

    pub fn in_stream(mut self, stream: u64, dir: Option<Dir>) -> Event {
        self.stream = Some(stream);
        self.dir = dir;
        self
    }

    pub fn until(mut self, last: FrameRef) -> Event {
        self.last_frame = Some(last.frame);
        self
    }

    /// The event for a finding.
    pub fn finding(f: &Finding) -> Event {
        Event {
            kind: "finding".to_owned(),
            time: f.time,
            frame: f.frame,
            last_frame: None,
            stream: f.stream,
            dir: f.dir,
            session: None,
            summary: f.message.clone(),
            detail: Detail::Finding {
                level: f.level,
                layer: f.layer(),
                code: f.code.code(),
                message: f.message.clone(),
                offset: f.offset,
            },
        }
    }

    /// The finding's level, when this event is a finding.
    pub fn level(&self) -> Option<Level> {
        match self.detail {
            Detail::Finding { level, .. } => Some(level),
            _ => None,
        }
    }
}

/// The fields specific to each kind. Serialised flat into the event.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Detail {
    /// Nothing beyond the common fields (e.g. `tcp.fin`).
    Empty {},
    TcpOpen {
        client: SocketAddr,
        server: SocketAddr,
        origin: Origin,
    },
    TcpGap {
        offset: u64,
        len: u64,
        reason: GapReason,
    },
    TcpClose {
        stats: Box<StreamStats>,
    },
    /// TLS handshake milestones: the stage's own event fields.
    Tls {
        #[serde(flatten)]
        event: Box<crate::tls::EventKind>,
    },
    Http {
        exchange: Box<crate::http::Exchange>,
    },
    HttpUpgrade {
        protocol: String,
        subprotocol: Option<String>,
        extensions_offered: Option<String>,
        extensions_accepted: Option<String>,
        accept_valid: Option<bool>,
    },
    Bosh(Box<BoshBody>),
    WsMessage(WsMessage),
    WsControl(WsControl),
    WsClosed {
        closed: Box<crate::ws::Closed>,
    },
    Stanza(Stanza),
    Finesse(Box<FinesseUpdate>),
    TlsHandover {
        offset: u64,
    },
    Finding {
        level: Level,
        layer: Layer,
        code: &'static str,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        offset: Option<u64>,
    },
}

/// A WebSocket data message (all fragments, inflated).
#[derive(Clone, Debug, Serialize)]
pub struct WsMessage {
    /// `text` or `binary`.
    pub opcode: &'static str,
    pub compressed: bool,
    /// Frames the message was sent in.
    pub frames: u32,
    /// Payload bytes on the wire (after unmasking, before inflating).
    pub wire_len: u64,
    /// Payload length after inflating; null when it could not be inflated.
    pub len: Option<u64>,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_inflated: Option<String>,
    /// The text of a text message (XMPP credentials redacted unless `--show-secrets`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A WebSocket control frame.
#[derive(Clone, Debug, Serialize)]
pub struct WsControl {
    /// `close`, `ping` or `pong`.
    pub opcode: &'static str,
    pub len: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<String>,
    /// For a pong: the frame of the ping it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answers_frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// An XMPP top-level element.
#[derive(Clone, Debug, Serialize)]
pub struct Stanza {
    /// The element's name as written on the wire (`open`, `stream:features`, `iq`...).
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// The element's XML, redacted; only with `--raw`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

/// A Finesse notification carried by a pubsub event.
#[derive(Clone, Debug, Serialize)]
pub struct FinesseUpdate {
    pub node: Option<String>,
    pub item_id: Option<String>,
    /// POST, PUT or DELETE.
    pub event: Option<String>,
    pub request_id: Option<String>,
    pub source: Option<String>,
    /// The payload, tagged by its `kind` (`user`, `dialog`, `team`, `queue`...).
    pub data: crate::finesse::Payload,
    /// The REST request whose `requestId` this update echoes, when captured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rest_request: Option<RestRequest>,
}

/// A REST request matched to an update by `requestId`.
#[derive(Clone, Debug, Serialize)]
pub struct RestRequest {
    pub frame: u64,
    pub stream: u64,
    pub method: String,
    pub path: String,
    /// From the request to the update, in milliseconds.
    pub ms_before_update: f64,
}

/// A BOSH `<body>`: its attributes and the names of the stanzas it carried
/// (the stanzas themselves are `xmpp.stanza` events).
#[derive(Clone, Debug, Serialize)]
pub struct BoshBody {
    /// `request` or `response`.
    pub role: &'static str,
    pub status: Option<u16>,
    pub attrs: crate::http::bosh::Attrs,
    pub stanzas: Vec<String>,
    /// For a response: how long the server held the request, in milliseconds.
    pub held_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
