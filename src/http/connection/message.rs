//! The two messages of an exchange while they are read: a request or a
//! response head with its reported form, and the finishing of its body
//! (payload, content decoding, BOSH).
//!
//! Takes a parsed head and, once its body ended, the body reader; gives the
//! reported [`Request`] / [`Response`] with its payload, the problems found
//! in the body and the BOSH event it carried. Never sees raw stream bytes,
//! never emits anything itself: the connection locates and sends.

use crate::limits::Limits;
use crate::position::FrameRef;

use super::super::body::Reader;
use super::super::bosh;
use super::super::exchange::{new_request, new_response, Request, Response};
use super::super::parser::{RequestHead, ResponseHead};
use super::super::payload::{self, Note};
use super::super::upgrade::asks_to_switch;
use super::Spot;

/// A request of the connection, from its head on.
#[derive(Debug)]
pub(super) struct Req {
    /// Stream offset of its first byte.
    pub offset: u64,
    pub head: RequestHead,
    pub report: Request,
    /// Its body ended (whole or cut).
    pub done: bool,
    /// The attributes of the BOSH `<body>` it carried.
    pub bosh: Option<bosh::Attrs>,
}

/// A response of the connection, from its head on.
#[derive(Debug)]
pub(super) struct Resp {
    pub offset: u64,
    pub head: ResponseHead,
    pub report: Response,
    pub done: bool,
}

/// What finishing a body needs besides the message itself.
pub(super) struct Finishing<'a> {
    pub limits: &'a Limits,
    pub show_secrets: bool,
    pub stream: u64,
    /// Frame of the body's last byte.
    pub last: FrameRef,
    /// False when the body was cut (gap, close, broken framing).
    pub whole: bool,
}

/// What finishing a body gave: problems to report at the message's start,
/// and the BOSH body it carried.
pub(super) struct Finished {
    pub first: FrameRef,
    pub offset: u64,
    pub notes: Vec<Note>,
    pub bosh: Option<bosh::Body>,
}

impl Req {
    /// A request whose head spans `start` to frame `last`.
    pub fn new(head: RequestHead, start: Spot, last: FrameRef, show_secrets: bool) -> Req {
        let report = new_request(&head, start.at, last, show_secrets);
        Req {
            offset: start.offset,
            head,
            report,
            done: false,
            bosh: None,
        }
    }

    /// Does it ask to switch protocols, so that the client's next bytes may not be HTTP?
    pub fn asks_to_switch(&self) -> bool {
        asks_to_switch(&self.head)
    }

    /// Its body ended: the payload is reported, a BOSH body read.
    pub fn finish(&mut self, body: Reader, how: &Finishing<'_>) -> Finished {
        let fin = payload::finish(
            body,
            &self.head.fields,
            how.whole,
            how.limits,
            how.show_secrets,
        );
        let mut notes = fin.notes;
        self.report.body = fin.payload;
        self.report.last = how.last;
        self.done = true;
        let first = self.report.first;
        let mut event = None;
        if bosh::looks_like(&fin.decoded) {
            if let Some(p) = bosh::parse(&fin.decoded, bosh_caps(how.limits)) {
                self.bosh = Some(p.attrs.clone());
                push_bosh_error(&mut notes, &p);
                event = Some(bosh::Body::from_parsed(
                    p,
                    how.stream,
                    bosh::Role::Request,
                    first,
                    how.last,
                ));
            }
        }
        Finished {
            first,
            offset: self.offset,
            notes,
            bosh: event,
        }
    }
}

impl Resp {
    /// A response whose head spans `start` to frame `last`.
    pub fn new(head: ResponseHead, start: Spot, last: FrameRef, show_secrets: bool) -> Resp {
        let report = new_response(&head, start.at, last, show_secrets);
        Resp {
            offset: start.offset,
            head,
            report,
            done: false,
        }
    }

    /// Its body ended: the payload is reported; the answer to a BOSH request
    /// is a BOSH event even when it carries no `<body>`.
    pub fn finish(&mut self, req: Option<&Req>, body: Reader, how: &Finishing<'_>) -> Finished {
        let fin = payload::finish(
            body,
            &self.head.fields,
            how.whole,
            how.limits,
            how.show_secrets,
        );
        let mut notes = fin.notes;
        self.report.body = fin.payload;
        self.report.last = how.last;
        self.done = true;
        let first = self.report.first;
        let bosh_req = req.and_then(|r| r.bosh.clone());
        let is_bosh = bosh::looks_like(&fin.decoded);
        let parsed = if is_bosh {
            bosh::parse(&fin.decoded, bosh_caps(how.limits))
        } else {
            None
        };
        let mut event = None;
        if parsed.is_some() || bosh_req.is_some() {
            let status = self.report.status;
            let p = parsed.unwrap_or_default();
            push_bosh_error(&mut notes, &p);
            let mut body =
                bosh::Body::from_parsed(p, how.stream, bosh::Role::Response, first, how.last);
            body.status = Some(status);
            body.request = req.map(|r| bosh::RequestRef {
                attrs: bosh_req.unwrap_or_default(),
                first: r.report.first,
                last: r.report.last,
            });
            body.held_ms = body.request.as_ref().map(|r| bosh::millis(r.last, first));
            if !is_bosh {
                body.error = Some(format!("the answer (HTTP {status}) carries no BOSH <body>"));
            }
            event = Some(body);
        }
        Finished {
            first,
            offset: self.offset,
            notes,
            bosh: event,
        }
    }
}

fn bosh_caps(limits: &Limits) -> bosh::Caps {
    bosh::Caps {
        max_depth: limits.max_xml_depth,
        max_stanza: limits.max_stanza_bytes,
    }
}

fn push_bosh_error(notes: &mut Vec<Note>, p: &bosh::Parsed) {
    if let Some(e) = &p.error {
        notes.push((e.code().into(), format!("BOSH body: {e}")));
    }
}
