//! One HTTP/1.1 connection: heads, bodies, pairing, upgrades and resync.
//!
//! Takes the bytes of both directions of one TCP connection, in capture
//! order and in pieces of any size; gives [`Exchange`]s (request plus
//! response, paired first-in first-out, pipelining included), an
//! [`Upgrade`] when the connection switches protocol at an exact byte, BOSH
//! events, and findings. Buffers at most one head (`limits.max_http_head`),
//! one kept body per direction (`limits.max_http_body`), the client bytes
//! that follow an upgrade request until its answer, and
//! `limits.max_http_pending` unanswered requests. Never panics on input.

mod ending;
mod message;
mod pairing;

use std::collections::VecDeque;

use crate::common::{Dir, FrameRef};
use crate::finding::{Finding, Layer, Level};
use crate::limits::Limits;

use super::body::{Reader, Step};
use super::exchange::{Held, Request, Response};
use super::parser::{
    detect, find_head_end, parse_request, parse_response, Framing, HeadError, HeaderSlots, Probe,
    RequestHead, ResponseHead, MAX_PROBE_TARGET,
};
use super::{bosh, Sink};

const C2S: Dir = Dir::ClientToServer;
const S2C: Dir = Dir::ServerToClient;

/// One direction's parsing state.
#[derive(Debug)]
enum Phase {
    /// Reading a head into `Side::buf`.
    Head,
    /// Reading the body of message `index`.
    Body(Box<InBody>),
    /// Client bytes after an upgrade request, held until its answer.
    Held(Box<Holding>),
    /// Lost sync: looking for the next plausible start line.
    Lost(Box<Resync>),
    /// Handed to another protocol; no more bytes are taken.
    Switched,
}

#[derive(Debug)]
struct InBody {
    reader: Reader,
    index: u64,
}

#[derive(Debug)]
struct Holding {
    index: u64,
    switch_at: FrameRef,
    switch_offset: u64,
    chunks: Vec<Held>,
    bytes: usize,
    /// Bytes lost in a gap since the last held chunk.
    pending_gap: u64,
    /// Bytes over the cap (all after the held chunks).
    dropped: u64,
}

#[derive(Debug)]
struct Resync {
    line: Vec<u8>,
    line_at: FrameRef,
    line_offset: u64,
    rejecting: bool,
    skipped: u64,
}

#[derive(Debug)]
struct Side {
    phase: Phase,
    buf: Vec<u8>,
    head_at: FrameRef,
    head_offset: u64,
    start_ok: bool,
    offset: u64,
    unparsed: u64,
    last_at: Option<FrameRef>,
    closed: bool,
}

impl Side {
    fn new() -> Side {
        Side {
            phase: Phase::Head,
            buf: Vec::new(),
            head_at: FrameRef::default(),
            head_offset: 0,
            start_ok: false,
            offset: 0,
            unparsed: 0,
            last_at: None,
            closed: false,
        }
    }
}

#[derive(Debug)]
struct Req {
    offset: u64,
    head: RequestHead,
    report: Request,
    done: bool,
    bosh: Option<bosh::Attrs>,
}

#[derive(Debug)]
struct Resp {
    offset: u64,
    head: ResponseHead,
    report: Response,
    done: bool,
}

#[derive(Debug)]
struct Entry {
    index: u64,
    req: Option<Req>,
    resp: Option<Resp>,
    informational: Vec<u16>,
    /// Its response was in bytes the capture lost (see `pairing`).
    response_lost: bool,
}

/// The HTTP stage of one TCP connection.
pub struct Connection {
    stream: u64,
    limits: Limits,
    show_secrets: bool,
    slots: HeaderSlots,
    sides: [Side; 2],
    pending: VecDeque<Entry>,
    next_index: u64,
    last_seen: FrameRef,
    finished: bool,
    /// Server bytes were lost in the capture since the last response began.
    server_lost: bool,
    /// Two requests were seen waiting at once with nothing lost: the client
    /// pipelines, so responses pair first-in first-out whatever happens.
    pipelined: bool,
}

impl Connection {
    /// A connection whose first bytes looked like HTTP ([`super::detect`]).
    pub fn new(stream: u64, limits: &Limits, show_secrets: bool) -> Connection {
        Connection {
            stream,
            limits: limits.clone(),
            show_secrets,
            slots: HeaderSlots::new(limits.max_http_headers.max(1)),
            sides: [Side::new(), Side::new()],
            pending: VecDeque::new(),
            next_index: 0,
            last_seen: FrameRef::default(),
            finished: false,
            server_lost: false,
            pipelined: false,
        }
    }

    /// Bytes of `dir` this stage skipped without parsing (resynchronisation, cut heads).
    pub fn unparsed(&self, dir: Dir) -> u64 {
        self.side(dir).unparsed
    }

    /// True once `dir` was handed to another protocol.
    pub fn is_switched(&self, dir: Dir) -> bool {
        matches!(self.side(dir).phase, Phase::Switched)
    }

    fn side(&self, dir: Dir) -> &Side {
        &self.sides[dir.index()]
    }

    fn side_mut(&mut self, dir: Dir) -> &mut Side {
        &mut self.sides[dir.index()]
    }

    #[allow(clippy::too_many_arguments)] // one finding: what, where (dir, frame, offset)
    fn note(
        &self,
        sink: &mut impl Sink,
        level: Level,
        code: &'static str,
        dir: Dir,
        at: FrameRef,
        offset: u64,
        msg: String,
    ) {
        sink.push_finding(
            Finding::new(level, Layer::Http, code, msg)
                .in_stream(self.stream, Some(dir))
                .at(at)
                .at_offset(offset),
        );
    }

    /// Feeds bytes of `dir` from frame `at`. Returns how many were taken: all
    /// of them, unless the direction switched protocol (see [`Upgrade`]).
    pub fn on_data(&mut self, dir: Dir, at: FrameRef, bytes: &[u8], sink: &mut impl Sink) -> usize {
        self.last_seen = self.last_seen.max(at);
        self.side_mut(dir).last_at = Some(at);
        let mut pos = 0;
        let mut stalls = 0;
        while let Some(rest) = bytes.get(pos..).filter(|r| !r.is_empty()) {
            let n = match self.side(dir).phase {
                Phase::Switched => return pos,
                Phase::Head => self.feed_head(dir, at, rest, sink),
                Phase::Body(_) => self.feed_body(dir, at, rest, sink),
                Phase::Held(_) => self.feed_held(at, rest),
                Phase::Lost(_) => self.feed_lost(dir, at, rest, sink),
            };
            // Each step takes a byte or changes phase; two idle steps in a row would be a bug.
            stalls = if n == 0 { stalls + 1 } else { 0 };
            if stalls > 2 {
                let left = rest.len() as u64;
                self.side_mut(dir).unparsed += left;
                return bytes.len();
            }
            self.side_mut(dir).offset += n as u64;
            pos += n;
        }
        pos
    }

    fn feed_head(&mut self, dir: Dir, at: FrameRef, rest: &[u8], sink: &mut impl Sink) -> usize {
        let cap = self.limits.max_http_head.max(16);
        let side = self.side_mut(dir);
        if side.buf.is_empty() {
            // Empty lines between messages are allowed (RFC 9112 section 2.2).
            let blank = rest
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            if blank > 0 {
                return blank;
            }
            side.head_at = at;
            side.head_offset = side.offset;
            side.start_ok = false;
        }
        let start_len = side.buf.len();
        let take = cap.saturating_sub(start_len).min(rest.len());
        side.buf
            .extend_from_slice(rest.get(..take).unwrap_or_default());
        if !side.start_ok {
            match detect(dir, &side.buf) {
                Probe::Http => side.start_ok = true,
                Probe::NeedMore => {}
                Probe::NotHttp => {
                    // Drop the bad line only: the next line may start a message.
                    let cut = side
                        .buf
                        .iter()
                        .position(|b| *b == b'\n')
                        .map_or(side.buf.len(), |i| i + 1);
                    side.buf.truncate(cut);
                    let what = if dir == C2S { "request" } else { "status" };
                    let msg = format!(
                        "bytes that are not an HTTP {what} line where a message should start"
                    );
                    self.lose_head(dir, at, "http.bad_start_line", msg, sink);
                    return cut.saturating_sub(start_len);
                }
            }
        }
        let side = self.side_mut(dir);
        match find_head_end(&side.buf, start_len.saturating_sub(2)) {
            Some(end) => {
                let taken = end.saturating_sub(start_len);
                side.buf.truncate(end);
                let end_offset = side.offset + taken as u64;
                let head = std::mem::take(&mut side.buf);
                self.on_head(dir, at, &head, end_offset, sink);
                taken
            }
            None if side.buf.len() >= cap => {
                let e = HeadError::TooLarge { limit: cap };
                self.lose_head(dir, at, e.code(), e.to_string(), sink);
                take
            }
            None => take,
        }
    }

    /// Drops the head being read and looks for the next start line.
    fn lose_head(
        &mut self,
        dir: Dir,
        at: FrameRef,
        code: &'static str,
        msg: String,
        sink: &mut impl Sink,
    ) {
        let head_at = self.side(dir).head_at;
        self.note(
            sink,
            Level::Warn,
            code,
            dir,
            head_at,
            self.side(dir).head_offset,
            format!("{msg}; skipping to the next message"),
        );
        let side = self.side_mut(dir);
        let buf = std::mem::take(&mut side.buf);
        let mid_line = !buf.ends_with(b"\n");
        self.lose(dir, at, buf.len() as u64, mid_line);
    }

    fn lose(&mut self, dir: Dir, at: FrameRef, skipped: u64, mid_line: bool) {
        let side = self.side_mut(dir);
        side.buf.clear();
        side.phase = Phase::Lost(Box::new(Resync {
            line: Vec::new(),
            line_at: at,
            line_offset: 0,
            rejecting: mid_line,
            skipped,
        }));
    }

    fn on_head(&mut self, dir: Dir, at: FrameRef, head: &[u8], end: u64, sink: &mut impl Sink) {
        let parsed = match dir {
            C2S => parse_request(head, &mut self.slots).map(|s| complete_head(s).map(Ok)),
            S2C => parse_response(head, &mut self.slots).map(|s| complete_head(s).map(Err)),
        };
        match parsed {
            Ok(Some(Ok(req))) => self.on_request(at, req, end, sink),
            Ok(Some(Err(resp))) => self.on_response(at, resp, end, sink),
            Ok(None) | Err(_) => {
                let e = parsed.err().unwrap_or(HeadError::Truncated);
                let head_at = self.side(dir).head_at;
                let msg = format!(
                    "{e} in a {}-byte head; skipping to the next message",
                    head.len()
                );
                let off = self.side(dir).head_offset;
                self.note(sink, Level::Warn, e.code(), dir, head_at, off, msg);
                self.lose(dir, at, head.len() as u64, false);
            }
        }
    }

    fn feed_body(&mut self, dir: Dir, at: FrameRef, rest: &[u8], sink: &mut impl Sink) -> usize {
        let side = self.side_mut(dir);
        let Phase::Body(mut b) = std::mem::replace(&mut side.phase, Phase::Head) else {
            return 0;
        };
        match b.reader.feed(rest) {
            Step::More => {
                side.phase = Phase::Body(b);
                rest.len()
            }
            Step::Done(n) => {
                let end = side.offset + n as u64;
                self.complete(dir, b.index, at, b.reader, true, end, sink);
                n
            }
            Step::Broken(n, e) => {
                let end = side.offset + n as u64;
                let msg =
                    format!("{e}; the body is cut here and parsing resumes at the next message");
                self.note(sink, Level::Warn, e.code(), dir, at, end, msg);
                self.complete(dir, b.index, at, b.reader, false, end, sink);
                // A bad size line was read whole; other breaks leave us mid-line.
                let mid_line = !matches!(e, super::ChunkError::BadChunkSize);
                self.lose(dir, at, 0, mid_line);
                n
            }
        }
    }

    fn feed_held(&mut self, at: FrameRef, rest: &[u8]) -> usize {
        let cap = self.limits.max_http_body;
        if let Phase::Held(h) = &mut self.side_mut(C2S).phase {
            let room = cap.saturating_sub(h.bytes).min(rest.len());
            if room == 0 {
                h.dropped += h.pending_gap + rest.len() as u64;
                h.pending_gap = 0;
                return rest.len();
            }
            let gap_before = std::mem::take(&mut h.pending_gap);
            let same_frame = h
                .chunks
                .last_mut()
                .filter(|c| c.at == at && gap_before == 0);
            if let (true, Some(last)) = (room > 0, same_frame) {
                // One held chunk per frame, however the frame's bytes were cut.
                last.bytes
                    .extend_from_slice(rest.get(..room).unwrap_or_default());
                h.bytes += room;
            } else {
                h.chunks.push(Held {
                    at,
                    gap_before,
                    bytes: rest.get(..room).unwrap_or_default().to_vec(),
                });
                h.bytes += room;
            }
            h.dropped += (rest.len() - room) as u64;
        }
        rest.len()
    }

    fn feed_lost(&mut self, dir: Dir, at: FrameRef, rest: &[u8], sink: &mut impl Sink) -> usize {
        let side = self.side_mut(dir);
        let Phase::Lost(r) = &mut side.phase else {
            return 0;
        };
        let eol = rest.iter().position(|b| *b == b'\n');
        let n = eol.map_or(rest.len(), |i| i + 1);
        if r.rejecting {
            r.skipped += n as u64;
            r.rejecting = eol.is_none();
            return n;
        }
        if r.line.is_empty() {
            r.line_at = at;
            r.line_offset = side.offset;
        }
        if r.line.len() + n > MAX_PROBE_TARGET + 64 {
            r.skipped += (r.line.len() + n) as u64;
            r.line.clear();
            r.rejecting = eol.is_none();
            return n;
        }
        r.line.extend_from_slice(rest.get(..n).unwrap_or_default());
        match (detect(dir, &r.line), eol) {
            (Probe::Http, _) => {
                let (line, line_at, skipped) = (std::mem::take(&mut r.line), r.line_at, r.skipped);
                let line_offset = r.line_offset;
                side.head_offset = line_offset;
                side.unparsed += skipped;
                side.phase = Phase::Head;
                side.buf = line;
                side.head_at = line_at;
                side.start_ok = true;
                let msg =
                    format!("parsing resumed at a message start after skipping {skipped} bytes");
                self.note(
                    sink,
                    Level::Info,
                    "http.resync",
                    dir,
                    line_at,
                    line_offset,
                    msg,
                );
            }
            (_, Some(_)) | (Probe::NotHttp, None) => {
                r.skipped += r.line.len() as u64;
                r.line.clear();
                r.rejecting = eol.is_none();
            }
            (Probe::NeedMore, None) => {}
        }
        n
    }
}

fn complete_head<T>(s: httparse::Status<(T, usize)>) -> Option<T> {
    match s {
        httparse::Status::Complete((head, _)) => Some(head),
        httparse::Status::Partial => None,
    }
}
