//! Which request a response answers. First-in first-out, as HTTP/1.1 says,
//! except after the capture lost server bytes: browsers (and the Java
//! clients Finesse sees) send one request at a time on a connection, so
//! when a response arrives after a loss with several requests waiting, the
//! earlier ones were answered in the lost bytes and this response answers
//! the latest. Pairing it first-in first-out would shift every later
//! exchange of the connection by one: wrong status, wrong latency.
//! A client seen pipelining (two requests waiting with nothing lost) keeps
//! first-in first-out.

use crate::finding::Level;

use super::super::parser::ResponseHead;
use super::super::Sink;
use super::{Connection, Entry};

/// Interim (1xx) statuses kept per exchange.
const MAX_INFORMATIONAL: usize = 16;

impl Entry {
    /// Still waiting for its response (not answered, not lost).
    fn awaiting(&self) -> bool {
        self.resp.is_none() && !self.response_lost
    }
}
use crate::common::Dir::ServerToClient as S2C;

impl Connection {
    /// The entry a final response answers, or a new entry without a
    /// request; None for an interim 1xx (recorded on its entry).
    pub(super) fn pair_response(
        &mut self,
        head: &ResponseHead,
        sink: &mut impl Sink,
    ) -> Option<u64> {
        let (first, off) = (self.side(S2C).head_at, self.side(S2C).head_offset);
        if (100..200).contains(&head.status) && head.status != 101 {
            let mut waiting = self.pending.iter_mut();
            if let Some(e) = waiting.find(|e| e.awaiting() && e.req.is_some()) {
                // A flood of interim answers is counted in the events, not kept.
                if e.informational.len() < MAX_INFORMATIONAL {
                    e.informational.push(head.status);
                }
            }
            return None;
        }
        let lost = std::mem::take(&mut self.server_lost);
        let waiting = self.pending.iter().filter(|e| e.awaiting()).count();
        if waiting > 1 && !lost {
            self.pipelined = true;
        }
        if waiting > 1 && lost && !self.pipelined {
            self.mark_lost_responses(waiting - 1, sink);
        }
        if let Some(e) = self.pending.iter().find(|e| e.awaiting()) {
            return Some(e.index);
        }
        let msg = format!(
            "response {} {} without a request in the capture (capture started mid-connection, or requests were lost)",
            head.status, head.reason
        );
        let code = "http.response_without_request";
        self.note(sink, Level::Info, code, S2C, first, off, msg);
        Some(self.push_entry(None, first, sink))
    }

    /// The first `count` waiting requests were answered in lost bytes.
    fn mark_lost_responses(&mut self, count: usize, sink: &mut impl Sink) {
        let (first, off) = (self.side(S2C).head_at, self.side(S2C).head_offset);
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
            first.frame
        );
        self.note(
            sink,
            Level::Warn,
            "http.response_lost",
            S2C,
            first,
            off,
            msg,
        );
    }
}
