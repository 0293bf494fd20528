//! Which request a response answers, and when an exchange is reported.
//!
//! First-in first-out, as HTTP/1.1 says, except after the capture lost
//! server bytes: browsers (and the Java clients Finesse sees) send one
//! request at a time on a connection, so when a response arrives after a
//! loss with several requests waiting, the earlier ones were answered in the
//! lost bytes and this response answers the latest. Pairing it first-in
//! first-out would shift every later exchange of the connection by one:
//! wrong status, wrong latency. A client seen pipelining (two requests
//! waiting with nothing lost) keeps first-in first-out.
//!
//! Takes requests and response heads as they are read, and the news that
//! server bytes were lost; gives each response the exchange it belongs to
//! and reports exchanges in connection order once both messages are done
//! (`http.response_lost`, `http.response_without_request`,
//! `http.pending_limit`, `http.unanswered` as findings). Keeps at most
//! `limits.max_http_pending` exchanges; never looks at bytes.

use std::collections::VecDeque;

use crate::http::FindingCode;
use crate::position::{Dir, FrameRef};

use super::super::exchange::Exchange;
use super::super::parser::ResponseHead;
use super::super::{bosh, Sink};
use super::message::{Req, Resp};
use super::{note, Spot};

/// Interim (1xx) statuses kept per exchange.
const MAX_INFORMATIONAL: usize = 16;

/// One exchange being read: its request (unless the capture missed it) and its response.
#[derive(Debug)]
pub(super) struct Entry {
    pub index: u64,
    pub req: Option<Req>,
    pub resp: Option<Resp>,
    informational: Vec<u16>,
    /// Its response was in bytes the capture lost.
    response_lost: bool,
}

impl Entry {
    /// Still waiting for its response (not answered, not lost).
    fn awaiting(&self) -> bool {
        self.resp.is_none() && !self.response_lost
    }

    /// Both messages are done (or the response will never come).
    fn is_done(&self) -> bool {
        let req_done = self.req.as_ref().is_none_or(|r| r.done);
        let resp_done = self.resp.as_ref().is_some_and(|r| r.done) || self.response_lost;
        req_done && resp_done
    }

    fn into_exchange(self, stream: u64, unanswered: bool) -> Exchange {
        let request = self.req.map(|r| r.report);
        let response = self.resp.map(|r| r.report);
        let latency_ms = match (&request, &response) {
            (Some(q), Some(r)) => Some(bosh::millis(q.last, r.first)),
            _ => None,
        };
        Exchange {
            stream,
            index: self.index,
            request,
            response,
            informational: self.informational,
            latency_ms,
            unanswered,
        }
    }
}

/// What a response head is to the exchanges waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Answer {
    /// An interim 1xx, recorded on the exchange it belongs to.
    Interim,
    /// The final response of exchange `.0`.
    Final(u64),
    /// No request waits for it: it needs an exchange of its own ([`Pairing::open`]).
    Unrequested,
}

/// The exchanges of one connection, in order, until they are reported.
#[derive(Debug)]
pub(super) struct Pairing {
    stream: u64,
    max_pending: usize,
    pending: VecDeque<Entry>,
    next_index: u64,
    /// Server bytes were lost in the capture since the last final response.
    server_lost: bool,
    /// Server bytes were captured but not decrypted: a request without an
    /// answer may have had one there.
    server_undecrypted: bool,
    /// Two requests were seen waiting at once with nothing lost: the client
    /// pipelines, so responses pair first-in first-out whatever happens.
    pipelined: bool,
}

impl Pairing {
    /// Body text held now by the exchanges waiting to be paired or finished.
    pub fn held_bytes(&self) -> usize {
        let text = |body: &crate::http::Payload| body.text.as_ref().map_or(0, String::len);
        self.pending
            .iter()
            .map(|e| {
                e.req.as_ref().map_or(0, |r| text(&r.report.body))
                    + e.resp.as_ref().map_or(0, |r| text(&r.report.body))
            })
            .sum()
    }

    /// No exchange yet; at most `max_pending` kept waiting.
    pub fn new(stream: u64, max_pending: usize) -> Pairing {
        Pairing {
            stream,
            max_pending,
            pending: VecDeque::new(),
            next_index: 0,
            server_lost: false,
            server_undecrypted: false,
            pipelined: false,
        }
    }

    /// Opens the next exchange (`req` is None for a response without one);
    /// gives its index. When too many wait, the oldest is reported
    /// unanswered, with a finding at `at`.
    pub fn open(&mut self, req: Option<Req>, at: Spot, sink: &mut impl Sink) -> u64 {
        if self.pending.len() >= self.max_pending.max(1) {
            if let Some(old) = self.pending.pop_front() {
                let msg = format!(
                    "more than {} requests waiting for answers; the oldest is reported unanswered",
                    self.max_pending
                );
                note(sink, self.stream, at, FindingCode::PendingLimit, msg);
                sink.on_exchange(&old.into_exchange(self.stream, true));
            }
        }
        let index = self.next_index;
        self.next_index += 1;
        self.pending.push_back(Entry {
            index,
            req,
            resp: None,
            informational: Vec::new(),
            response_lost: false,
        });
        index
    }

    /// The exchange numbered `index`, while it is not reported yet.
    pub fn entry_mut(&mut self, index: u64) -> Option<&mut Entry> {
        self.pending.iter_mut().find(|e| e.index == index)
    }

    /// Server bytes were lost in the capture (or, `undecrypted`, captured
    /// but not decrypted).
    pub fn on_server_gap(&mut self, undecrypted: bool) {
        self.server_lost = true;
        self.server_undecrypted |= undecrypted;
    }

    /// Which exchange the response whose head starts at `start` answers.
    pub fn answer(&mut self, head: &ResponseHead, start: Spot, sink: &mut impl Sink) -> Answer {
        if (100..200).contains(&head.status) && head.status != 101 {
            let mut waiting = self.pending.iter_mut();
            if let Some(e) = waiting.find(|e| e.awaiting() && e.req.is_some()) {
                // A flood of interim answers is counted in the events, not kept.
                if e.informational.len() < MAX_INFORMATIONAL {
                    e.informational.push(head.status);
                }
            }
            return Answer::Interim;
        }
        let lost = std::mem::take(&mut self.server_lost);
        let waiting = self.pending.iter().filter(|e| e.awaiting()).count();
        if waiting > 1 && !lost {
            self.pipelined = true;
        }
        if waiting > 1 && lost && !self.pipelined {
            self.mark_lost_responses(waiting - 1, start, sink);
        }
        if let Some(e) = self.pending.iter().find(|e| e.awaiting()) {
            return Answer::Final(e.index);
        }
        let msg = format!(
            "response {} {} without a request in the capture (capture started mid-connection, or requests were lost)",
            head.status, head.reason
        );
        let code = FindingCode::ResponseWithoutRequest;
        note(sink, self.stream, start, code, msg);
        Answer::Unrequested
    }

    /// The first `count` waiting requests were answered in lost bytes.
    fn mark_lost_responses(&mut self, count: usize, start: Spot, sink: &mut impl Sink) {
        let mut marked = Vec::new();
        for e in self.pending.iter_mut().filter(|e| e.awaiting()).take(count) {
            e.response_lost = true;
            if let Some(r) = &e.req {
                marked.push(format!(
                    "{} {} (frame {})",
                    r.report.method, r.report.path, r.report.first.frame
                ));
            }
        }
        let msg = format!(
            "the response to {} was lost in the capture; the response at frame {} answers the request after it",
            marked.join(", "),
            start.at.frame
        );
        note(sink, self.stream, start, FindingCode::ResponseLost, msg);
    }

    /// Reports, in order, every exchange whose request and response are both done.
    pub fn drain(&mut self, sink: &mut impl Sink) {
        while self.pending.front().is_some_and(Entry::is_done) {
            if let Some(entry) = self.pending.pop_front() {
                let unanswered = entry.response_lost;
                sink.on_exchange(&entry.into_exchange(self.stream, unanswered));
            }
        }
    }

    /// The connection ended (`closed`: by a FIN or RST) or the capture did,
    /// at frame `ended`: every exchange left is reported, requests without an
    /// answer with a finding (and, for BOSH, an unanswered long poll).
    pub fn finish(&mut self, ended: FrameRef, closed: bool, sink: &mut impl Sink) {
        while let Some(entry) = self.pending.pop_front() {
            let answered = entry.resp.is_some();
            if let (false, Some(req)) = (answered, &entry.req) {
                let (code, msg) = if self.server_undecrypted {
                    let msg = format!(
                        "{} {} got no response that could be read: the server's direction was not all decrypted",
                        req.report.method, req.report.path,
                    );
                    (FindingCode::ResponseNotDecrypted, msg)
                } else {
                    let msg = format!(
                        "{} {} got no response before the {} ended",
                        req.report.method,
                        req.report.path,
                        if closed { "connection" } else { "capture" }
                    );
                    (FindingCode::Unanswered, msg)
                };
                let at = Spot {
                    dir: Dir::ClientToServer,
                    at: req.report.first,
                    offset: req.offset,
                };
                note(sink, self.stream, at, code, msg);
                if let Some(attrs) = &req.bosh {
                    let request = bosh::RequestRef {
                        attrs: attrs.clone(),
                        first: req.report.first,
                        last: req.report.last,
                    };
                    sink.on_bosh(&bosh::Event::Unanswered(Box::new(bosh::Unanswered {
                        stream: self.stream,
                        request,
                        ended,
                        closed,
                    })));
                }
            }
            sink.on_exchange(&entry.into_exchange(self.stream, !answered));
        }
    }
}

#[cfg(test)]
mod tests;
