//! The event model every report renderer consumes: one [`Event`] per thing
//! that happened on the wire, owned and serialisable.
//!
//! Takes nothing by itself (the report's `from_stages` builds events from the
//! stages'); gives the NDJSON line format (`kind`, `time`, `frame`,
//! `last_frame`, `stream`, `dir`, `session`, `summary`, then the kind's own
//! fields) and the timeline rows. The kind is the [`Detail`] variant; its
//! name on the wire is derived from it ([`Detail::kind`]), never stored.
//! Never holds captured secrets: stages redact before events are built.

use std::net::SocketAddr;

use serde::{Serialize, Serializer};

use crate::finding::{Finding, Layer, Level};
use crate::position::{Dir, FrameRef, HarPosition, Position, Timestamp};
use crate::tcp::{GapReason, Origin, StreamStats};

/// One thing that happened, located in the capture: the fields every kind
/// has, around the [`Detail`] that says which kind it is.
#[derive(Clone, Debug)]
pub struct Event {
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
    /// What happened: one variant per kind, with the kind's own fields.
    pub detail: Detail,
}

/// The wire form of an [`Event`]: the kind's name first, then the common
/// fields, then the kind's own fields, in the order the schema documents.
#[derive(Serialize)]
struct Repr<'e> {
    kind: &'static str,
    time: &'e Option<Timestamp>,
    frame: Option<u64>,
    /// Where a HAR event is (`frame` is null then); absent for captures.
    #[serde(skip_serializing_if = "Option::is_none")]
    har: Option<HarPosition>,
    last_frame: Option<u64>,
    stream: Option<u64>,
    dir: Option<Dir>,
    session: Option<u32>,
    summary: &'e str,
    #[serde(flatten)]
    detail: &'e Detail,
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Repr {
            kind: self.kind(),
            time: &self.time,
            frame: self.position().and_then(Position::frame),
            har: self.position().and_then(Position::har),
            last_frame: self
                .last_frame
                .map(Position::of_frame_number)
                .and_then(Position::frame),
            stream: self.stream,
            dir: self.dir,
            session: self.session,
            summary: &self.summary,
            detail: &self.detail,
        }
        .serialize(serializer)
    }
}

impl Event {
    /// About how many bytes the event holds, counting the texts that can be
    /// large (message texts, bodies, raw XML, messages) and a flat amount for
    /// the rest: what a kept timeline is budgeted by.
    pub fn approx_bytes(&self) -> usize {
        let len = |t: &Option<String>| t.as_ref().map_or(0, String::len);
        let heavy = match &self.detail {
            Detail::WsMessage(m) => len(&m.text),
            Detail::HttpExchange { exchange } => {
                let q = exchange.request.as_ref();
                let r = exchange.response.as_ref();
                q.map_or(0, |q| q.path.len() + len(&q.body.text))
                    + r.map_or(0, |r| len(&r.body.text))
            }
            Detail::XmppStanza(s) => len(&s.raw) + len(&s.id) + len(&s.from) + len(&s.to),
            Detail::Finding { message, .. } => message.len(),
            _ => 0,
        };
        512 + self.summary.len() + self.kind().len() + heavy
    }

    /// Where the event is: its frame, or its HAR entry and message.
    pub fn position(&self) -> Option<Position> {
        self.frame.map(Position::of_frame_number)
    }

    /// The kind's name on the wire (`tcp.open`, `ws.message`, `finding`...).
    pub fn kind(&self) -> &'static str {
        self.detail.kind()
    }
}

impl Event {
    /// An event at a frame; `detail` says what it is, `summary` in words.
    pub fn new(at: Option<FrameRef>, summary: impl Into<String>, detail: Detail) -> Event {
        Event {
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

/// What happened: one variant per event kind, holding the kind's own
/// fields. Serialised flat into the event, after the common fields.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Detail {
    /// A TCP connection seen for the first time.
    TcpOpen {
        client: SocketAddr,
        server: SocketAddr,
        origin: Origin,
    },
    /// Bytes missing from the capture in one direction.
    TcpGap {
        offset: u64,
        len: u64,
        reason: GapReason,
    },
    /// One side closed its direction (FIN).
    TcpFin {},
    /// One side reset the connection (RST).
    TcpRst {},
    /// The connection is done; its counters.
    TcpClose {
        stats: Box<StreamStats>,
    },
    /// A TLS handshake milestone: the stage's own event, whose variant is
    /// the kind (`tls.client_hello`, `tls.alert`...).
    Tls {
        #[serde(flatten)]
        event: Box<crate::tls::EventKind>,
    },
    HttpExchange {
        exchange: Box<crate::http::Exchange>,
    },
    HttpUpgrade {
        protocol: String,
        subprotocol: Option<String>,
        extensions_offered: Option<String>,
        extensions_accepted: Option<String>,
        accept_valid: Option<bool>,
    },
    BoshBody(Box<BoshBody>),
    WsMessage(WsMessage),
    WsControl(WsControl),
    /// How a WebSocket ended (close frames, or the TCP end without them).
    WsClose {
        closed: Box<crate::ws::Closed>,
    },
    XmppStanza(Stanza),
    /// STARTTLS: a direction's bytes are TLS from `offset` on.
    XmppStartTls {
        offset: u64,
    },
    FinesseUpdate(Box<FinesseUpdate>),
    /// One connection's story, when it ended (or at the end of the capture).
    ConnSummary(Box<crate::conn::Summary>),
    Finding {
        level: Level,
        layer: Layer,
        code: &'static str,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        offset: Option<u64>,
    },
}

impl Detail {
    /// The kind's name on the wire: the `kind` field of the NDJSON line.
    pub fn kind(&self) -> &'static str {
        match self {
            Detail::TcpOpen { .. } => "tcp.open",
            Detail::TcpGap { .. } => "tcp.gap",
            Detail::TcpFin {} => "tcp.fin",
            Detail::TcpRst {} => "tcp.rst",
            Detail::TcpClose { .. } => "tcp.close",
            Detail::Tls { event } => tls_kind(event),
            Detail::HttpExchange { .. } => "http.exchange",
            Detail::HttpUpgrade { .. } => "http.upgrade",
            Detail::BoshBody(_) => "bosh.body",
            Detail::WsMessage(_) => "ws.message",
            Detail::WsControl(_) => "ws.control",
            Detail::WsClose { .. } => "ws.close",
            Detail::XmppStanza(_) => "xmpp.stanza",
            Detail::XmppStartTls { .. } => "xmpp.starttls",
            Detail::FinesseUpdate(_) => "finesse.update",
            Detail::ConnSummary(_) => "conn.summary",
            Detail::Finding { .. } => "finding",
        }
    }

    /// A WebSocket message, control frame or ending (what `ws` lists).
    pub fn is_websocket(&self) -> bool {
        matches!(
            self,
            Detail::WsMessage(_) | Detail::WsControl(_) | Detail::WsClose { .. }
        )
    }

    /// An HTTP exchange, upgrade or BOSH body (what `http` lists).
    pub fn is_http(&self) -> bool {
        matches!(
            self,
            Detail::HttpExchange { .. } | Detail::HttpUpgrade { .. } | Detail::BoshBody(_)
        )
    }
}

/// The wire name of a TLS milestone's kind.
fn tls_kind(event: &crate::tls::EventKind) -> &'static str {
    use crate::tls::EventKind as K;
    match event {
        K::ClientHello { .. } => "tls.client_hello",
        K::ServerHello { .. } => "tls.server_hello",
        K::EncryptedExtensions { .. } => "tls.encrypted_extensions",
        K::Certificate { .. } => "tls.certificate",
        K::ChangeCipherSpec => "tls.change_cipher_spec",
        K::Finished => "tls.finished",
        K::EndOfEarlyData => "tls.end_of_early_data",
        K::Alert { .. } => "tls.alert",
        K::NewSessionTicket { .. } => "tls.new_session_ticket",
        K::KeyUpdate { .. } => "tls.key_update",
        K::DecryptionStarted { .. } => "tls.decryption_started",
        K::DecryptionFailed { .. } => "tls.decryption_failed",
    }
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
#[derive(Clone, Debug)]
pub struct RestRequest {
    /// Its frame (or HAR position number, see [`FrameRef::har`]).
    pub frame: u64,
    pub stream: u64,
    pub method: String,
    pub path: String,
    /// From the request to the update, in milliseconds.
    pub ms_before_update: f64,
}

/// The wire form of a [`RestRequest`]: `frame` null and `har` set for a HAR entry.
#[derive(Serialize)]
struct RestRequestRepr<'r> {
    frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    har: Option<HarPosition>,
    stream: u64,
    method: &'r str,
    path: &'r str,
    ms_before_update: f64,
}

impl Serialize for RestRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let position = Position::of_frame_number(self.frame);
        RestRequestRepr {
            frame: position.frame(),
            har: position.har(),
            stream: self.stream,
            method: &self.method,
            path: &self.path,
            ms_before_update: self.ms_before_update,
        }
        .serialize(serializer)
    }
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
