//! BOSH (XEP-0124 / XEP-0206): XMPP stanzas carried in HTTP long polls.
//!
//! Takes the decoded bodies of HTTP requests and responses (from
//! [`super::Connection`]), recognised by content, never by path; gives one
//! [`Event::Body`] per BOSH request or response with its attributes and its
//! stanzas as standalone XML, in wire order per direction (what the XMPP
//! stage would have read from a socket), and [`Event::Unanswered`] for a long
//! poll the connection ended on. [`Sessions`] follows sessions (sid) across
//! connections: rid sequence, hold/wait, long-poll hold times, restarts,
//! terminations and server errors, as findings; [`Route`] runs those checks
//! and says which session (the caller's, an XMPP session) each body
//! belongs to, within `max_bosh_sessions`. Never panics on broken XML.

mod findings;
mod parser;
mod route;
mod session;

use serde::Serialize;

use crate::position::{Dir, FrameRef};

pub use findings::FindingCode;
pub use parser::{looks_like, Attrs, BodyError, Stanza, CLIENT_NS, HTTPBIND_NS, XBOSH_NS};
pub(crate) use parser::{parse, Caps, Parsed};
pub use route::{Claim, Route, Routed};
pub(crate) use session::MAX_STREAMS_LISTED;
pub use session::{Session, Sessions};

/// Whether a body went up (request) or down (response).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Request,
    Response,
}

/// The request a response answers, as far as BOSH cares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestRef {
    pub attrs: Attrs,
    /// First and last frame of the request.
    pub first: FrameRef,
    pub last: FrameRef,
}

/// One BOSH `<body>` (or the HTTP answer to a BOSH request that carried none).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Body {
    /// Wireshark `tcp.stream`.
    pub stream: u64,
    pub dir: Dir,
    pub role: Role,
    /// Frame of the HTTP message's first and last byte.
    pub first: FrameRef,
    pub last: FrameRef,
    /// HTTP status of a response.
    pub status: Option<u16>,
    pub attrs: Attrs,
    /// Child elements in order, each standalone XML.
    pub stanzas: Vec<Stanza>,
    /// Why the body could not be read fully (stanzas before the error are kept);
    /// also set when a BOSH request's answer carries no `<body>`.
    pub error: Option<String>,
    /// For a response: the request it answers.
    pub request: Option<RequestRef>,
    /// For a response: milliseconds the server held the request (request's last
    /// frame to the response's first frame).
    pub held_ms: Option<f64>,
}

impl Body {
    /// The body of a parsed `<body>` of `stream` (capture or HAR): a
    /// response's status, request and hold time are the caller's to add.
    pub(crate) fn from_parsed(
        p: Parsed,
        stream: u64,
        role: Role,
        first: FrameRef,
        last: FrameRef,
    ) -> Body {
        let dir = match role {
            Role::Request => Dir::ClientToServer,
            Role::Response => Dir::ServerToClient,
        };
        Body {
            stream,
            dir,
            role,
            first,
            last,
            status: None,
            attrs: p.attrs,
            stanzas: p.stanzas,
            error: p.error.map(|e| e.to_string()),
            request: None,
            held_ms: None,
        }
    }

    /// An empty response: the normal end of a long poll with nothing to say.
    pub fn is_empty_poll(&self) -> bool {
        self.role == Role::Response
            && self.stanzas.is_empty()
            && self.attrs.kind.is_none()
            && self.error.is_none()
    }
}

/// A BOSH request the connection ended on without an answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unanswered {
    pub stream: u64,
    pub request: RequestRef,
    /// Last frame seen on the connection (its FIN/RST when `closed`).
    pub ended: FrameRef,
    /// True when a FIN or RST ended the connection; false when the capture just stopped.
    pub closed: bool,
}

/// What the HTTP stage reports about BOSH.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Body(Box<Body>),
    Unanswered(Box<Unanswered>),
}

/// Milliseconds between two frames (negative when out of order).
pub(crate) fn millis(from: FrameRef, to: FrameRef) -> f64 {
    to.ts.nanos_since(from.ts) as f64 / 1e6
}
