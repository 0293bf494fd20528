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

use std::collections::VecDeque;

use crate::common::{Dir, FrameRef};
use crate::finding::{Finding, Layer, Level};
use crate::limits::Limits;

use super::body::{Reader, Step};
use super::exchange::{new_request, new_response, Exchange, Held, Request, Response, Upgrade};
use super::parser::{
    detect, detect_response, find_head_end, parse_request, parse_response, request_framing,
    response_framing, Fields, Framing, HeadError, HeaderSlots, Probe, RequestHead, ResponseHead,
    MAX_PROBE_TARGET,
};
use super::upgrade::{asks_to_switch, check_websocket_request, is_websocket_request, judge};
use super::{bosh, payload, Sink};

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
}

impl Connection {
    /// A connection whose client bytes looked like HTTP ([`super::detect`]).
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
            match if dir == C2S {
                detect(&side.buf)
            } else {
                detect_response(&side.buf)
            } {
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

    fn push_entry(&mut self, req: Option<Req>, at: FrameRef, sink: &mut impl Sink) -> u64 {
        if self.pending.len() >= self.limits.max_http_pending.max(1) {
            if let Some(old) = self.pending.pop_front() {
                let msg = format!(
                    "more than {} requests waiting for answers; the oldest is reported unanswered",
                    self.limits.max_http_pending
                );
                self.note(
                    sink,
                    Level::Warn,
                    "http.pending_limit",
                    C2S,
                    at,
                    self.side(C2S).head_offset,
                    msg,
                );
                self.emit(old, true, sink);
            }
        }
        let index = self.next_index;
        self.next_index += 1;
        self.pending.push_back(Entry {
            index,
            req,
            resp: None,
            informational: Vec::new(),
        });
        index
    }

    fn entry_mut(&mut self, index: u64) -> Option<&mut Entry> {
        self.pending.iter_mut().find(|e| e.index == index)
    }

    fn on_request(&mut self, at: FrameRef, head: RequestHead, end: u64, sink: &mut impl Sink) {
        let first = self.side(C2S).head_at;
        let off = self.side(C2S).head_offset;
        let framing = request_framing(&head);
        if is_websocket_request(&head) {
            for p in check_websocket_request(&head) {
                self.note(sink, p.level, p.code, C2S, first, off, p.message);
            }
        }
        let report = new_request(&head, first, at, self.show_secrets);
        let req = Req {
            offset: off,
            head,
            report,
            done: false,
            bosh: None,
        };
        let index = self.push_entry(Some(req), first, sink);
        let caps = (self.limits.max_http_body, self.limits.max_http_head);
        match framing {
            Err(e) => {
                let msg = format!("{e}; the request body cannot be delimited");
                self.note(sink, Level::Warn, e.code(), C2S, first, off, msg);
                self.complete(
                    C2S,
                    index,
                    at,
                    Reader::new(Framing::Empty, 0, 0),
                    false,
                    end,
                    sink,
                );
                self.lose(C2S, at, 0, false);
            }
            Ok(d) => {
                if d.length_overridden {
                    self.note(sink, Level::Warn, "http.length_conflict", C2S, first, off, "request has both Transfer-Encoding and Content-Length (Transfer-Encoding wins; a request-smuggling sign)".into());
                }
                let reader = Reader::new(d.framing, caps.0, caps.1);
                if reader.is_done_at_start() {
                    self.complete(C2S, index, at, reader, true, end, sink);
                } else {
                    self.side_mut(C2S).phase = Phase::Body(Box::new(InBody { reader, index }));
                }
            }
        }
    }

    fn on_response(&mut self, at: FrameRef, head: ResponseHead, end: u64, sink: &mut impl Sink) {
        let first = self.side(S2C).head_at;
        let off = self.side(S2C).head_offset;
        self.side_mut(S2C).phase = Phase::Head;
        if (100..200).contains(&head.status) && head.status != 101 {
            if let Some(e) = self
                .pending
                .iter_mut()
                .find(|e| e.resp.is_none() && e.req.is_some())
            {
                e.informational.push(head.status);
            }
            return;
        }
        let index = match self.pending.iter().find(|e| e.resp.is_none()) {
            Some(e) => e.index,
            None => {
                let msg = format!("response {} {} without a request in the capture (capture started mid-connection, or requests were lost)", head.status, head.reason);
                self.note(
                    sink,
                    Level::Info,
                    "http.response_without_request",
                    S2C,
                    first,
                    off,
                    msg,
                );
                self.push_entry(None, first, sink)
            }
        };
        let show = self.show_secrets;
        let Some(entry) = self.entry_mut(index) else {
            return;
        };
        let req_head = entry.req.as_ref().map(|r| r.head.clone());
        let framing = response_framing(&head, req_head.as_ref().map(|h| h.method.as_str()));
        let outcome = judge(req_head.as_ref(), &head);
        let report = new_response(&head, first, at, show);
        let status = head.status;
        let switch_fields = outcome.switched.as_ref().map(|_| head.fields.clone());
        entry.resp = Some(Resp {
            offset: off,
            head,
            report,
            done: false,
        });
        for p in &outcome.problems {
            self.note(sink, p.level, p.code, S2C, first, off, p.message.clone());
        }
        let caps = (self.limits.max_http_body, self.limits.max_http_head);
        match framing {
            Err(e) => {
                let msg = format!("{e}; the response body cannot be delimited");
                self.note(sink, Level::Warn, e.code(), S2C, first, off, msg);
                self.complete(
                    S2C,
                    index,
                    at,
                    Reader::new(Framing::Empty, 0, 0),
                    false,
                    end,
                    sink,
                );
                self.lose(S2C, at, 0, false);
            }
            Ok(d) => {
                if d.length_overridden {
                    self.note(sink, Level::Warn, "http.length_conflict", S2C, first, off, "response has both Transfer-Encoding and Content-Length (Transfer-Encoding wins)".into());
                }
                let reader = Reader::new(d.framing, caps.0, caps.1);
                if let Some(protocol) = outcome.switched {
                    self.complete(S2C, index, at, reader, true, end, sink);
                    let up = self.switch(
                        protocol,
                        (req_head.as_ref(), &switch_fields.unwrap_or_default()),
                        index,
                        at,
                        end,
                        outcome.accept_valid,
                    );
                    sink.on_upgrade(&up);
                    return;
                }
                if reader.is_done_at_start() {
                    self.complete(S2C, index, at, reader, true, end, sink);
                } else {
                    self.side_mut(S2C).phase = Phase::Body(Box::new(InBody { reader, index }));
                }
            }
        }
        self.release_held(index, status, sink);
    }

    /// A final answer that did not switch: client bytes held for it are HTTP after all.
    fn release_held(&mut self, index: u64, status: u16, sink: &mut impl Sink) {
        let c = self.side_mut(C2S);
        let held_for_this = matches!(&c.phase, Phase::Held(h) if h.index == index);
        if !held_for_this || status < 200 {
            return;
        }
        let Phase::Held(h) = std::mem::replace(&mut c.phase, Phase::Head) else {
            return;
        };
        c.offset = h.switch_offset;
        for chunk in h.chunks {
            self.on_data(C2S, chunk.at, &chunk.bytes, sink);
        }
        if h.dropped > 0 {
            let at = self.side(C2S).last_at.unwrap_or(h.switch_at);
            self.on_gap(C2S, at, h.dropped, sink);
        }
    }

    /// Both directions switch protocol; builds the event.
    fn switch(
        &mut self,
        protocol: super::Protocol,
        (req, resp): (Option<&RequestHead>, &Fields),
        index: u64,
        at: FrameRef,
        end: u64,
        accept_valid: Option<bool>,
    ) -> Upgrade {
        let c = self.side_mut(C2S);
        let (client_at, client_offset, client_held, client_dropped) =
            match std::mem::replace(&mut c.phase, Phase::Switched) {
                Phase::Held(h) if h.index == index => {
                    (h.switch_at, h.switch_offset, h.chunks, h.dropped)
                }
                Phase::Head if !c.buf.is_empty() => {
                    let bytes = std::mem::take(&mut c.buf);
                    let offset = c.offset.saturating_sub(bytes.len() as u64);
                    (
                        c.head_at,
                        offset,
                        vec![Held {
                            at: c.head_at,
                            bytes,
                        }],
                        0,
                    )
                }
                _ => (c.last_at.unwrap_or(at), c.offset, Vec::new(), 0),
            };
        self.side_mut(S2C).phase = Phase::Switched;
        let resp_get = |name: &str| resp.get(name);
        Upgrade {
            stream: self.stream,
            protocol,
            server_at: at,
            server_offset: end,
            client_at,
            client_offset,
            client_held,
            client_dropped,
            subprotocol: resp_get("sec-websocket-protocol"),
            extensions_offered: req.and_then(|r| r.fields.get("sec-websocket-extensions")),
            extensions_accepted: resp_get("sec-websocket-extensions"),
            accept_valid,
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
            let same_frame = h.chunks.last_mut().filter(|c| c.at == at);
            if let (true, Some(last)) = (room > 0, same_frame) {
                // One held chunk per frame, however the frame's bytes were cut.
                last.bytes
                    .extend_from_slice(rest.get(..room).unwrap_or_default());
                h.bytes += room;
            } else if room > 0 {
                h.chunks.push(Held {
                    at,
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
        let probe = if dir == C2S {
            detect(&r.line)
        } else {
            detect_response(&r.line)
        };
        match (probe, eol) {
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

    /// A message finished (or was cut): report its body and pair it.
    #[allow(clippy::too_many_arguments)]
    fn complete(
        &mut self,
        dir: Dir,
        index: u64,
        at: FrameRef,
        reader: Reader,
        complete: bool,
        end: u64,
        sink: &mut impl Sink,
    ) {
        let (limits, show, stream) = (self.limits.clone(), self.show_secrets, self.stream);
        let Some(entry) = self.entry_mut(index) else {
            return;
        };
        let mut notes;
        let mut event = None;
        let mut next_phase = Phase::Head;
        let caps = bosh::Caps {
            max_depth: limits.max_xml_depth,
            max_stanza: limits.max_stanza_bytes,
        };
        let (first, offset);
        match dir {
            C2S => {
                let Some(req) = entry.req.as_mut() else {
                    return;
                };
                let fin = payload::finish(reader, &req.head.fields, complete, &limits, show);
                notes = fin.notes;
                req.report.body = fin.payload;
                req.report.last = at;
                req.done = true;
                first = req.report.first;
                offset = req.offset;
                if let Some(p) = bosh::looks_like(&fin.decoded)
                    .then(|| bosh::parse(&fin.decoded, caps))
                    .flatten()
                {
                    req.bosh = Some(p.attrs.clone());
                    if let Some(e) = &p.error {
                        notes.push((Level::Warn, e.code(), format!("BOSH body: {e}")));
                    }
                    event = Some(bosh_body(
                        stream,
                        C2S,
                        bosh::Role::Request,
                        first,
                        at,
                        None,
                        p,
                        None,
                    ));
                }
                if asks_to_switch(&req.head) && entry.resp.is_none() {
                    next_phase = Phase::Held(Box::new(Holding {
                        index,
                        switch_at: at,
                        switch_offset: end,
                        chunks: Vec::new(),
                        bytes: 0,
                        dropped: 0,
                    }));
                }
            }
            S2C => {
                let Some(resp) = entry.resp.as_mut() else {
                    return;
                };
                let fin = payload::finish(reader, &resp.head.fields, complete, &limits, show);
                notes = fin.notes;
                resp.report.body = fin.payload;
                resp.report.last = at;
                resp.done = true;
                first = resp.report.first;
                offset = resp.offset;
                let req = entry.req.as_ref();
                let bosh_req = req.and_then(|r| r.bosh.clone());
                let parsed = bosh::looks_like(&fin.decoded)
                    .then(|| bosh::parse(&fin.decoded, caps))
                    .flatten();
                if parsed.is_some() || bosh_req.is_some() {
                    let status = resp.report.status;
                    let p = parsed.unwrap_or_default();
                    if let Some(e) = &p.error {
                        notes.push((Level::Warn, e.code(), format!("BOSH body: {e}")));
                    }
                    let reqref = req.map(|r| bosh::RequestRef {
                        attrs: bosh_req.unwrap_or_default(),
                        first: r.report.first,
                        last: r.report.last,
                    });
                    let mut body = bosh_body(
                        stream,
                        S2C,
                        bosh::Role::Response,
                        first,
                        at,
                        Some(status),
                        p,
                        reqref,
                    );
                    if !bosh::looks_like(&fin.decoded) {
                        body.error =
                            Some(format!("the answer (HTTP {status}) carries no BOSH <body>"));
                    }
                    event = Some(body);
                }
            }
        }
        for (level, code, msg) in notes {
            self.note(sink, level, code, dir, first, offset, msg);
        }
        if let Some(body) = event {
            sink.on_bosh(&bosh::Event::Body(Box::new(body)));
        }
        let side = self.side_mut(dir);
        if !matches!(side.phase, Phase::Switched) {
            side.phase = next_phase;
        }
        self.drain(sink);
    }

    /// Emits, in order, every exchange whose request and response are both done.
    fn drain(&mut self, sink: &mut impl Sink) {
        while let Some(front) = self.pending.front() {
            let req_done = front.req.as_ref().is_none_or(|r| r.done);
            let resp_done = front.resp.as_ref().is_some_and(|r| r.done);
            if !(req_done && resp_done) {
                return;
            }
            if let Some(entry) = self.pending.pop_front() {
                self.emit(entry, false, sink);
            }
        }
    }

    fn emit(&mut self, entry: Entry, unanswered: bool, sink: &mut impl Sink) {
        let request = entry.req.map(|r| r.report);
        let response = entry.resp.map(|r| r.report);
        let latency_ms = match (&request, &response) {
            (Some(q), Some(r)) => Some(bosh::millis(q.last, r.first)),
            _ => None,
        };
        sink.on_exchange(&Exchange {
            stream: self.stream,
            index: entry.index,
            request,
            response,
            informational: entry.informational,
            latency_ms,
            unanswered,
        });
    }

    /// `len` bytes of `dir` were lost in the capture at frame `at`.
    pub fn on_gap(&mut self, dir: Dir, at: FrameRef, len: u64, sink: &mut impl Sink) {
        self.last_seen = self.last_seen.max(at);
        let phase = std::mem::replace(&mut self.side_mut(dir).phase, Phase::Head);
        match phase {
            Phase::Switched => self.side_mut(dir).phase = Phase::Switched,
            Phase::Held(mut h) => {
                h.dropped += len;
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

fn complete_head<T>(s: httparse::Status<(T, usize)>) -> Option<T> {
    match s {
        httparse::Status::Complete((head, _)) => Some(head),
        httparse::Status::Partial => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn bosh_body(
    stream: u64,
    dir: Dir,
    role: bosh::Role,
    first: FrameRef,
    last: FrameRef,
    status: Option<u16>,
    p: bosh::Parsed,
    request: Option<bosh::RequestRef>,
) -> bosh::Body {
    let held_ms = request.as_ref().map(|r| bosh::millis(r.last, first));
    bosh::Body {
        stream,
        dir,
        role,
        first,
        last,
        status,
        attrs: p.attrs,
        stanzas: p.stanzas,
        error: p.error.map(|e| e.to_string()),
        request,
        held_ms,
    }
}
