//! The end of a direction or of the connection for the HTTP stage: capture
//! gaps (resynchronise or skip), a FIN or RST from one side, and the end of
//! the capture (close-delimited bodies complete, unanswered requests reported).

use crate::common::{Dir, FrameRef};
use crate::finding::Level;

use super::super::Sink;
use super::*;

impl Connection {
    /// `len` bytes of `dir` were lost in the capture at frame `at`.
    pub fn on_gap(&mut self, dir: Dir, at: FrameRef, len: u64, sink: &mut impl Sink) {
        self.last_seen = self.last_seen.max(at);
        if dir == Dir::ServerToClient {
            self.server_lost = true;
        }
        let phase = std::mem::replace(&mut self.side_mut(dir).phase, Phase::Head);
        match phase {
            Phase::Switched => self.side_mut(dir).phase = Phase::Switched,
            Phase::Held(mut h) => {
                if h.dropped > 0 {
                    h.dropped += len;
                } else {
                    h.pending_gap += len;
                }
                self.side_mut(dir).phase = Phase::Held(h);
            }
            Phase::Body(mut b) => {
                if b.reader.on_gap(len) {
                    let msg = format!("{len} body bytes lost in the capture; the message goes on");
                    self.note(
                        sink,
                        Level::Warn,
                        "http.gap",
                        dir,
                        at,
                        self.side(dir).offset,
                        msg,
                    );
                    self.side_mut(dir).phase = Phase::Body(b);
                    self.side_mut(dir).offset += len;
                    return;
                }
                let msg = format!("{len} bytes lost in the capture inside a body; the message is cut and parsing resynchronises");
                self.note(
                    sink,
                    Level::Warn,
                    "http.gap",
                    dir,
                    at,
                    self.side(dir).offset,
                    msg,
                );
                let end = self.side(dir).offset;
                self.complete(dir, b.index, at, b.reader, false, end, sink);
                self.lose(dir, at, 0, false);
            }
            Phase::Head | Phase::Lost(_) => {
                let partial = std::mem::take(&mut self.side_mut(dir).buf).len() as u64;
                let skipped = match phase {
                    Phase::Lost(r) => r.skipped + r.line.len() as u64,
                    _ => partial,
                };
                let msg = format!("{len} bytes lost in the capture; parsing resynchronises at the next message start");
                self.note(
                    sink,
                    Level::Warn,
                    "http.gap",
                    dir,
                    at,
                    self.side(dir).offset,
                    msg,
                );
                self.lose(dir, at, skipped, false);
            }
        }
        self.side_mut(dir).offset += len;
    }

    /// The peer sending `dir` closed (FIN or RST) at frame `at`: a body
    /// delimited by the close ends here, any other message is cut.
    pub fn on_close(&mut self, dir: Dir, at: FrameRef, sink: &mut impl Sink) {
        self.last_seen = self.last_seen.max(at);
        let side = self.side_mut(dir);
        if side.closed {
            return;
        }
        side.closed = true;
        let last = side.last_at.unwrap_or(at);
        let end = side.offset;
        let phase = std::mem::replace(&mut side.phase, Phase::Head);
        match phase {
            Phase::Body(b) => {
                let whole = b.reader.framing() == Framing::UntilClose;
                if !whole {
                    let msg = format!(
                        "connection closed after {} of the body's bytes: the message is cut",
                        b.reader.len
                    );
                    self.note(sink, Level::Warn, "http.body_cut", dir, at, end, msg);
                }
                self.complete(dir, b.index, last, b.reader, whole, end, sink);
            }
            Phase::Head if !side.buf.is_empty() => {
                let cut = std::mem::take(&mut side.buf).len();
                side.unparsed += cut as u64;
                let msg = format!("connection closed inside a message head ({cut} bytes)");
                self.note(sink, Level::Warn, "http.head_cut", dir, at, end, msg);
            }
            Phase::Lost(r) => side.unparsed += r.skipped + r.line.len() as u64,
            other => side.phase = other,
        }
    }

    /// The connection is over: close-delimited bodies complete, requests
    /// without answers are reported (and BOSH long polls cut).
    pub fn finish(&mut self, sink: &mut impl Sink) {
        if self.finished {
            return;
        }
        self.finished = true;
        let closed = self.sides.iter().any(|s| s.closed);
        let end = self.last_seen;
        for dir in Dir::BOTH {
            let was_closed = self.side(dir).closed;
            self.on_close(dir, end, sink);
            self.side_mut(dir).closed = was_closed;
        }
        // Client bytes held for an upgrade that was never answered: nobody parsed them.
        if let Phase::Held(h) = &self.side(C2S).phase {
            let held = h.bytes as u64;
            self.side_mut(C2S).unparsed += held;
        }
        while let Some(entry) = self.pending.pop_front() {
            let answered = entry.resp.is_some();
            if !answered {
                if let Some(req) = &entry.req {
                    let msg = format!(
                        "{} {} got no response before the {} ended",
                        req.report.method,
                        req.report.path,
                        if closed { "connection" } else { "capture" }
                    );
                    self.note(
                        sink,
                        Level::Warn,
                        "http.unanswered",
                        C2S,
                        req.report.first,
                        req.offset,
                        msg,
                    );
                    if let Some(attrs) = &req.bosh {
                        let request = bosh::RequestRef {
                            attrs: attrs.clone(),
                            first: req.report.first,
                            last: req.report.last,
                        };
                        sink.on_bosh(&bosh::Event::Unanswered(Box::new(bosh::Unanswered {
                            stream: self.stream,
                            request,
                            ended: end,
                            closed,
                        })));
                    }
                }
            }
            self.emit(entry, !answered, sink);
        }
    }
}
