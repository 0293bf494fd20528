//! One direction of an HTTP connection read as a sequence of messages: a
//! head, then its body by its framing (Content-Length, chunked, until the
//! close), then the next head; client bytes held after a request that asks
//! to switch protocols; resynchronisation after anything that lost the place.
//!
//! Takes the direction's bytes, gaps and close in order, in pieces of any
//! size; gives parsed heads and ended bodies to the connection one at a
//! time ([`Fed`]), which decides what a head means (pairing, framing,
//! upgrade) and tells the reader what comes next. Reports what is wrong in
//! the bytes themselves (bad start line, bad head, head too large, broken
//! chunking, gaps, cuts) as findings. Buffers at most one head
//! (`limits.max_http_head`); never panics on input.

use crate::finding::Code;
use crate::http::FindingCode;
use crate::limits::Limits;
use crate::position::{Dir, FrameRef};

use super::super::body::{self, Step};
use super::super::exchange::Held;
use super::super::parser::{Framing, FramingDecision, FramingError};
use super::super::{ChunkError, Sink};
use super::head::{HeadRead, HeadReader, HeadStep, Span};
use super::hold::Hold;
use super::resync::{Resync, Scan};
use super::{note, Spot};

/// What the reader is doing.
#[derive(Debug)]
enum Phase {
    /// Reading a head (see `MessageReader::head`).
    Head,
    /// Reading the body of exchange `index`.
    Body(Box<InBody>),
    /// Client bytes after a request that asks to switch, held until its answer.
    Held(Box<Hold>),
    /// Lost the place: looking for the next start line.
    Lost(Box<Resync>),
    /// Handed to another protocol; no more bytes are taken.
    Switched,
}

#[derive(Debug)]
struct InBody {
    body: body::Reader,
    index: u64,
}

/// A body that ended: whole, or cut by a gap, a close or broken framing.
#[derive(Debug)]
pub(super) struct BodyEnd {
    pub index: u64,
    pub body: body::Reader,
    pub whole: bool,
    /// Frame of its last byte, offset just past it.
    pub end: Spot,
}

/// What one step of reading gave the connection.
#[derive(Debug)]
pub(super) enum Fed {
    /// This many bytes were taken; nothing to act on.
    Took(usize),
    /// This many bytes were taken and ended a head.
    Head(usize, Box<HeadRead>),
    /// This many bytes were taken and ended a body.
    Body(usize, Box<BodyEnd>),
    /// The direction switched protocol: nothing was taken.
    Switched,
}

/// One direction of a connection, read as HTTP messages.
#[derive(Debug)]
pub(super) struct MessageReader {
    stream: u64,
    dir: Dir,
    /// Longest chunk-size line or trailer section (`limits.max_http_head`).
    line_cap: usize,
    /// Body bytes kept per message, and client bytes held for an upgrade.
    body_cap: usize,
    phase: Phase,
    head: HeadReader,
    /// Stream offset of the next byte.
    offset: u64,
    unparsed: u64,
    /// Stretches captured but not decrypted after the first one (which was
    /// reported): counted, and reported once at the end.
    undecrypted_more: Undecrypted,
    last_at: Option<FrameRef>,
    closed: bool,
}

/// Captured bytes the TLS stage could not decrypt, beyond the first stretch.
#[derive(Debug, Default)]
struct Undecrypted {
    /// The first stretch was reported.
    seen: bool,
    stretches: u64,
    bytes: u64,
}

impl MessageReader {
    /// Bytes held now: a head in progress, a body's kept payload, client
    /// bytes held for an upgrade, or a line read while resynchronising.
    pub fn held_bytes(&self) -> usize {
        let phase = match &self.phase {
            Phase::Body(b) => b.body.held_bytes(),
            Phase::Held(h) => h.held_bytes(),
            Phase::Lost(r) => r.held_bytes(),
            Phase::Head | Phase::Switched => 0,
        };
        self.head.held_bytes() + phase
    }

    pub fn new(stream: u64, dir: Dir, limits: &Limits) -> MessageReader {
        MessageReader {
            stream,
            dir,
            line_cap: limits.max_http_head,
            body_cap: limits.max_http_body,
            phase: Phase::Head,
            head: HeadReader::new(stream, dir, limits),
            offset: 0,
            unparsed: 0,
            undecrypted_more: Undecrypted::default(),
            last_at: None,
            closed: false,
        }
    }

    /// Bytes skipped without parsing (resynchronisation, cut heads).
    pub fn unparsed(&self) -> u64 {
        self.unparsed
    }

    pub fn is_switched(&self) -> bool {
        matches!(self.phase, Phase::Switched)
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Stream offset of the last head's first byte.
    pub fn head_offset(&self) -> u64 {
        self.head.start().offset
    }

    /// Bytes of frame `at` arrive (before they are fed).
    pub fn saw(&mut self, at: FrameRef) {
        self.last_at = Some(at);
    }

    /// Frame of the last bytes that arrived.
    pub fn last_at(&self) -> Option<FrameRef> {
        self.last_at
    }

    /// Bytes the connection gave up on without feeding them.
    pub fn give_up(&mut self, len: usize) {
        self.unparsed += len as u64;
    }

    fn spot(&self, at: FrameRef, offset: u64) -> Spot {
        Spot {
            dir: self.dir,
            at,
            offset,
        }
    }

    fn warn(&self, sink: &mut impl Sink, spot: Spot, code: impl Into<Code>, msg: String) {
        note(sink, self.stream, spot, code, msg);
    }

    /// Reads the next step of `rest` (bytes of frame `at`).
    pub fn feed(&mut self, at: FrameRef, rest: &[u8], sink: &mut impl Sink) -> Fed {
        let fed = match &mut self.phase {
            Phase::Switched => return Fed::Switched,
            Phase::Head => match self.head.feed(at, self.offset, rest, sink) {
                HeadStep::Took(n) => Fed::Took(n),
                HeadStep::Read(n, read) => Fed::Head(n, read),
                HeadStep::Refused {
                    taken,
                    skipped,
                    mid_line,
                } => {
                    self.lose(at, skipped, mid_line);
                    Fed::Took(taken)
                }
            },
            Phase::Body(_) => self.feed_body(at, rest, sink),
            Phase::Held(h) => {
                h.feed(at, rest);
                Fed::Took(rest.len())
            }
            Phase::Lost(r) => {
                let scan = r.feed(self.dir, at, self.offset, rest);
                self.on_scan(scan, sink)
            }
        };
        let taken = match &fed {
            Fed::Took(n) | Fed::Head(n, _) | Fed::Body(n, _) => *n,
            Fed::Switched => 0,
        };
        self.offset += taken as u64;
        fed
    }

    /// Looks for the next start line from frame `at`, `skipped` bytes given up.
    pub fn lose(&mut self, at: FrameRef, skipped: u64, mid_line: bool) {
        self.head.take();
        self.phase = Phase::Lost(Box::new(Resync::new(at, skipped, mid_line)));
    }

    fn on_scan(&mut self, scan: Scan, sink: &mut impl Sink) -> Fed {
        let (n, found) = match scan {
            Scan::Looking(n) => return Fed::Took(n),
            Scan::Found(n, found) => (n, found),
        };
        let (at, offset, skipped) = (found.at, found.offset, found.skipped);
        self.unparsed += skipped;
        self.phase = Phase::Head;
        self.head.resume(found);
        let msg = format!("parsing resumed at a message start after skipping {skipped} bytes");
        let spot = self.spot(at, offset);
        note(sink, self.stream, spot, FindingCode::Resync, msg);
        Fed::Took(n)
    }

    /// The body reader a head's `framing` calls for; None (with a finding,
    /// and the reader looking for the next message) when the body cannot be
    /// delimited.
    pub fn open_body(
        &mut self,
        framing: Result<FramingDecision, FramingError>,
        span: Span,
        sink: &mut impl Sink,
    ) -> Option<body::Reader> {
        let what = match self.dir {
            Dir::ClientToServer => "request",
            Dir::ServerToClient => "response",
        };
        let decision = match framing {
            Ok(d) => d,
            Err(e) => {
                let msg = format!("{e}; the {what} body cannot be delimited");
                self.warn(sink, span.start, e.code(), msg);
                self.lose(span.end.at, 0, false);
                return None;
            }
        };
        if decision.length_overridden {
            // In a request this is also how request smuggling looks.
            let sign = match self.dir {
                Dir::ClientToServer => "; a request-smuggling sign",
                Dir::ServerToClient => "",
            };
            let msg = format!(
                "{what} has both Transfer-Encoding and Content-Length (Transfer-Encoding wins{sign})"
            );
            self.warn(sink, span.start, FindingCode::LengthConflict, msg);
        }
        Some(body::Reader::new(
            decision.framing,
            self.body_cap,
            self.line_cap,
        ))
    }

    /// The next bytes are the body of exchange `index`.
    pub fn read_body(&mut self, index: u64, body: body::Reader) {
        self.phase = Phase::Body(Box::new(InBody { body, index }));
    }

    fn feed_body(&mut self, at: FrameRef, rest: &[u8], sink: &mut impl Sink) -> Fed {
        let Phase::Body(mut b) = std::mem::replace(&mut self.phase, Phase::Head) else {
            return Fed::Took(0);
        };
        let (n, whole) = match b.body.feed(rest) {
            Step::More => {
                self.phase = Phase::Body(b);
                return Fed::Took(rest.len());
            }
            Step::Done(n) => (n, true),
            Step::Broken(n, e) => {
                let end = self.spot(at, self.offset + n as u64);
                let msg =
                    format!("{e}; the body is cut here and parsing resumes at the next message");
                self.warn(sink, end, e.code(), msg);
                // A bad size line was read whole; other breaks leave us mid-line.
                let mid_line = !matches!(e, ChunkError::BadChunkSize);
                self.lose(at, 0, mid_line);
                (n, false)
            }
        };
        let end = BodyEnd {
            index: b.index,
            body: b.body,
            whole,
            end: self.spot(at, self.offset + n as u64),
        };
        Fed::Body(n, Box::new(end))
    }

    /// The request of exchange `index` ended at `end` and asks to switch:
    /// the client bytes after it are held until the answer. Only while
    /// reading heads (a cut request already lost the place).
    pub fn hold(&mut self, index: u64, end: Spot) {
        if matches!(self.phase, Phase::Head) {
            let hold = Hold::new(index, end.at, end.offset, self.body_cap);
            self.phase = Phase::Held(Box::new(hold));
        }
    }

    /// The answer to exchange `index` did not switch: the bytes held for it
    /// are to be read again as HTTP, from where they started.
    pub fn release(&mut self, index: u64) -> Option<Hold> {
        if !matches!(&self.phase, Phase::Held(h) if h.index == index) {
            return None;
        }
        let Phase::Held(h) = std::mem::replace(&mut self.phase, Phase::Head) else {
            return None;
        };
        self.offset = h.switch_offset;
        Some(*h)
    }

    /// Hands the direction to another protocol after exchange `index`
    /// (switched at frame `at`): gives the bytes already read past the
    /// switch, where they start, and how many were given up.
    pub fn hand_over(&mut self, index: u64, at: FrameRef) -> HandedOver {
        match std::mem::replace(&mut self.phase, Phase::Switched) {
            Phase::Held(h) if h.index == index => HandedOver {
                at: h.switch_at,
                offset: h.switch_offset,
                dropped: h.lost(),
                held: h.chunks,
            },
            Phase::Head if !self.head.is_empty() => {
                let at = self.head.start().at;
                let bytes = self.head.take();
                HandedOver {
                    at,
                    offset: self.offset.saturating_sub(bytes.len() as u64),
                    held: vec![Held {
                        at,
                        gap_before: 0,
                        bytes,
                    }],
                    dropped: 0,
                }
            }
            _ => HandedOver {
                at: self.last_at.unwrap_or(at),
                offset: self.offset,
                held: Vec::new(),
                dropped: 0,
            },
        }
    }

    /// `len` bytes are missing at frame `at`: lost in the capture, or
    /// (`not_decrypted`: why) captured but not decrypted by the TLS stage.
    /// Gives the body the missing bytes cut, if they did.
    pub fn on_gap(
        &mut self,
        at: FrameRef,
        len: u64,
        not_decrypted: Option<&str>,
        sink: &mut impl Sink,
    ) -> Option<BodyEnd> {
        let here = self.spot(at, self.offset);
        let phase = std::mem::replace(&mut self.phase, Phase::Head);
        let mut cut = None;
        let missing = match not_decrypted {
            None => format!("{len} bytes lost in the capture"),
            Some(why) => format!("{len} bytes not decrypted ({why})"),
        };
        let msg = match phase {
            Phase::Switched => {
                self.phase = Phase::Switched;
                None
            }
            Phase::Held(mut h) => {
                h.on_gap(len);
                self.phase = Phase::Held(h);
                None
            }
            Phase::Body(mut b) => {
                if b.body.on_gap(len) {
                    self.phase = Phase::Body(b);
                    Some(format!("{missing} inside a body; the message goes on"))
                } else {
                    self.lose(at, 0, false);
                    cut = Some(BodyEnd {
                        index: b.index,
                        body: b.body,
                        whole: false,
                        end: here,
                    });
                    Some(format!(
                        "{missing} inside a body; the message is cut and parsing resynchronises"
                    ))
                }
            }
            Phase::Head | Phase::Lost(_) => {
                let partial = self.head.take().len() as u64;
                let skipped = match phase {
                    Phase::Lost(r) => r.skipped(),
                    _ => partial,
                };
                self.lose(at, skipped, false);
                Some(format!(
                    "{missing}; parsing resynchronises at the next message start"
                ))
            }
        };
        if let Some(msg) = msg {
            self.report_missing(sink, here, len, not_decrypted.is_some(), msg);
        }
        self.offset += len;
        cut
    }

    /// A gap in the capture is a warning each time; bytes not decrypted are
    /// expected with a partial key log: the first stretch is told (info),
    /// the others counted and told once at the end.
    fn report_missing(
        &mut self,
        sink: &mut impl Sink,
        here: Spot,
        len: u64,
        not_decrypted: bool,
        msg: String,
    ) {
        if !not_decrypted {
            self.warn(sink, here, FindingCode::Gap, msg);
            return;
        }
        let more = &mut self.undecrypted_more;
        if std::mem::replace(&mut more.seen, true) {
            more.stretches += 1;
            more.bytes = more.bytes.saturating_add(len);
            return;
        }
        note(sink, self.stream, here, FindingCode::NotDecrypted, msg);
    }

    /// The sending peer closed (FIN or RST) at frame `at`: a body delimited
    /// by the close ends here (given back), any other message is cut.
    pub fn on_close(&mut self, at: FrameRef, sink: &mut impl Sink) -> Option<BodyEnd> {
        if self.closed {
            return None;
        }
        self.closed = true;
        let last = self.last_at.unwrap_or(at);
        let here = self.spot(at, self.offset);
        match std::mem::replace(&mut self.phase, Phase::Head) {
            Phase::Body(b) => {
                let whole = b.body.framing() == Framing::UntilClose;
                if !whole {
                    let msg = format!(
                        "connection closed after {} of the body's bytes: the message is cut",
                        b.body.len
                    );
                    self.warn(sink, here, FindingCode::BodyCut, msg);
                }
                return Some(BodyEnd {
                    index: b.index,
                    body: b.body,
                    whole,
                    end: self.spot(last, self.offset),
                });
            }
            Phase::Head if !self.head.is_empty() => {
                let cut = self.head.take().len();
                self.unparsed += cut as u64;
                let msg = format!("connection closed inside a message head ({cut} bytes)");
                self.warn(sink, here, FindingCode::HeadCut, msg);
            }
            Phase::Lost(r) => self.unparsed += r.skipped(),
            other => self.phase = other,
        }
        None
    }

    /// The connection is over at frame `at`: as a close, without marking the direction closed.
    pub fn finish(&mut self, at: FrameRef, sink: &mut impl Sink) -> Option<BodyEnd> {
        let more = &self.undecrypted_more;
        if more.stretches > 0 {
            let msg = format!(
                "{} more bytes not decrypted in {} more stretches of the {}'s direction",
                more.bytes,
                more.stretches,
                self.dir.side()
            );
            let here = self.spot(self.last_at.unwrap_or(at), self.offset);
            note(sink, self.stream, here, FindingCode::NotDecrypted, msg);
        }
        let was_closed = self.closed;
        let cut = self.on_close(at, sink);
        self.closed = was_closed;
        cut
    }

    /// Bytes still held for an upgrade never answered: nobody parsed them.
    pub fn count_held_as_unparsed(&mut self) {
        if let Phase::Held(h) = &self.phase {
            self.unparsed += h.kept() as u64;
        }
    }
}

/// The bytes of a direction handed to another protocol.
#[derive(Debug)]
pub(super) struct HandedOver {
    /// Frame and stream offset where the new protocol starts.
    pub at: FrameRef,
    pub offset: u64,
    /// Bytes already read past that point.
    pub held: Vec<Held>,
    /// Bytes past that point given up (over the hold cap, lost).
    pub dropped: u64,
}

#[cfg(test)]
mod tests;
