//! One direction of a WebSocket connection: bytes to frames.
//!
//! Takes the direction's bytes in any chunking, plus gaps and its end; gives
//! frame headers checked against the rules, data payloads to the
//! [`Assembler`], control frames to the connection. When the frame boundary
//! is unknown (no handshake, a gap, an impossible header) it buffers bytes and
//! hunts for one ([`midstream`](super::midstream)), then replays them. The
//! events never depend on how the bytes were chunked. Buffers: a 14-byte
//! header, one control payload, the hunting window (bounded by the limits).

use crate::finding::Level;
use crate::limits::Limits;
use crate::position::{Dir, FrameRef};
use crate::ws::assembler::{Assembler, DeflateUse};
use crate::ws::connection::Emitter;
use crate::ws::frame::{
    check_header, parse_header, unmask, Header, HeaderError, Opcode, Parse, Rules, Violation,
    MAX_HEADER_LEN, RSV1,
};
use crate::ws::midstream::{scan_needing, Expect, Scan, Spool};
use crate::ws::FindingCode;
use crate::ws::Sink;

mod hunt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// At a known frame boundary or inside a known frame.
    Frames,
    /// Looking for a frame boundary.
    Hunting,
    /// The direction ended (FIN/RST or finish): later bytes are only counted.
    Ended,
}

/// Bytes of one control frame's payload kept: RFC 6455 allows 125; a
/// violating peer's longer payload is shown this far (kept per unanswered
/// ping until its pong, so it must stay small).
const MAX_CONTROL_KEPT: usize = 4096;
/// Why the direction is hunting: sets how loud the findings are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HuntReason {
    Midstream,
    Lost,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Data,
    Control,
    /// Payload counted and dropped (reserved opcode, orphan continuation).
    Skip,
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    h: Header,
    at: FrameRef,
    offset: u64,
    done: u64,
    kind: Kind,
}

enum HeaderStep {
    /// All input went into the partial header.
    Partial,
    /// A header, and how many input bytes it took.
    Done(Header, usize),
    /// Not a header; input bytes taken so far.
    Invalid(HeaderError, usize),
}

pub(crate) struct Side {
    dir: Dir,
    /// `masked: None` until the roles are known (mid-stream).
    rules: Rules,
    max_hunt_frame: u64,
    max_control: usize,
    /// Stream offset of the next byte the frame machine takes.
    offset: u64,
    mode: Mode,
    reason: HuntReason,
    head: [u8; MAX_HEADER_LEN],
    head_len: usize,
    head_at: FrameRef,
    head_offset: u64,
    frame: Option<Frame>,
    control: Vec<u8>,
    control_truncated: bool,
    pub(crate) asm: Assembler,
    hunt: Spool,
    hunt_offset: u64,
    /// Hunted bytes needed before scanning again can decide anything.
    hunt_needed: usize,
    /// First frame, offset and count of the bytes skipped in this hunt.
    skipped: Option<(FrameRef, u64, u64)>,
    replay: Option<Spool>,
    /// This side sent a Close frame.
    pub(crate) close_sent: bool,
    said_after_close: bool,
    pub(crate) last_at: FrameRef,
}

impl Side {
    /// Bytes held now: a partial frame header, a control frame's payload,
    /// the message being assembled, and bytes spooled while hunting for
    /// frames (or waiting to be replayed).
    pub(crate) fn held_bytes(&self) -> usize {
        self.head_len
            + self.control.len()
            + self.asm.held_bytes()
            + self.hunt.len()
            + self.replay.as_ref().map_or(0, Spool::len)
    }

    /// Bytes this side's inflater holds (0 without permessage-deflate).
    pub(crate) fn inflater_bytes(&self) -> usize {
        self.asm.inflater_bytes()
    }

    pub(crate) fn new(
        dir: Dir,
        rules: Rules,
        deflate: DeflateUse,
        hunting: bool,
        limits: &Limits,
    ) -> Side {
        Side {
            dir,
            rules,
            max_hunt_frame: limits.max_ws_resync_frame as u64,
            max_control: MAX_CONTROL_KEPT.min(limits.max_ws_message),
            offset: 0,
            mode: if hunting { Mode::Hunting } else { Mode::Frames },
            reason: HuntReason::Midstream,
            head: [0; MAX_HEADER_LEN],
            head_len: 0,
            head_at: FrameRef::default(),
            head_offset: 0,
            frame: None,
            control: Vec::new(),
            control_truncated: false,
            asm: Assembler::new(dir, deflate, limits),
            hunt: Spool::default(),
            hunt_offset: 0,
            hunt_needed: 0,
            skipped: None,
            replay: None,
            close_sent: false,
            said_after_close: false,
            last_at: FrameRef::default(),
        }
    }

    pub(crate) fn set_offset(&mut self, offset: u64) {
        self.offset = offset;
        self.hunt_offset = offset;
    }

    pub(crate) fn on_data<S: Sink>(&mut self, at: FrameRef, bytes: &[u8], cx: &mut Emitter<'_, S>) {
        self.feed(at, bytes, cx);
        self.drain_replay(cx);
    }

    fn drain_replay<S: Sink>(&mut self, cx: &mut Emitter<'_, S>) {
        while let Some(replay) = self.replay.take() {
            for (at, run) in replay.runs() {
                self.feed(at, run, cx);
            }
        }
    }

    fn feed<S: Sink>(&mut self, at: FrameRef, bytes: &[u8], cx: &mut Emitter<'_, S>) {
        if bytes.is_empty() {
            return;
        }
        self.last_at = self.last_at.max(at);
        if let Some(replay) = &mut self.replay {
            replay.push(at, bytes);
            return;
        }
        match self.mode {
            Mode::Ended => {
                let n = bytes.len() as u64;
                self.asm.stats.unparsed_bytes = self.asm.stats.unparsed_bytes.saturating_add(n);
            }
            Mode::Hunting => {
                self.hunt.push(at, bytes);
                self.hunt_scan(false, cx);
            }
            Mode::Frames => self.frames(at, bytes, cx),
        }
    }

    fn frames<S: Sink>(&mut self, at: FrameRef, bytes: &[u8], cx: &mut Emitter<'_, S>) {
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.frame.is_some() {
                rest = self.frame_payload(at, rest, cx);
                continue;
            }
            match self.take_header(at, rest) {
                HeaderStep::Partial => return,
                HeaderStep::Done(h, used) => {
                    let after = rest.get(used..).unwrap_or_default();
                    rest = self.start_frame(h, at, after, cx);
                }
                HeaderStep::Invalid(e, used) => {
                    let after = rest.get(used..).unwrap_or_default();
                    self.invalid_header(e, at, after, cx);
                    return;
                }
            }
        }
    }

    fn take_header(&mut self, at: FrameRef, rest: &[u8]) -> HeaderStep {
        if self.head_len == 0 {
            self.head_at = at;
            self.head_offset = self.offset;
            return match parse_header(rest) {
                Parse::Complete(h) => {
                    self.offset += u64::from(h.len);
                    HeaderStep::Done(h, h.header_len())
                }
                Parse::NeedMore(_) => {
                    // NeedMore means fewer bytes than the longest header: n == rest.len().
                    let n = rest.len().min(MAX_HEADER_LEN);
                    self.head[..n].copy_from_slice(&rest[..n]);
                    self.head_len = n;
                    self.offset += n as u64;
                    HeaderStep::Partial
                }
                Parse::Invalid(e) => HeaderStep::Invalid(e, 0),
            };
        }
        let mut used = 0;
        loop {
            let have = self.head.get(..self.head_len).unwrap_or_default();
            match parse_header(have) {
                Parse::Complete(h) => {
                    self.head_len = 0;
                    return HeaderStep::Done(h, used);
                }
                Parse::Invalid(e) => return HeaderStep::Invalid(e, used),
                Parse::NeedMore(need) => {
                    let input = rest.get(used..).unwrap_or_default();
                    let take = need.saturating_sub(self.head_len).min(input.len());
                    let (Some(dst), Some(src)) = (
                        self.head.get_mut(self.head_len..self.head_len + take),
                        input.get(..take),
                    ) else {
                        return HeaderStep::Partial;
                    };
                    if take == 0 {
                        return HeaderStep::Partial;
                    }
                    dst.copy_from_slice(src);
                    self.head_len += take;
                    used += take;
                    self.offset += take as u64;
                }
            }
        }
    }

    /// A header is complete; returns the input after whatever the frame took.
    fn start_frame<'b, S: Sink>(
        &mut self,
        h: Header,
        at: FrameRef,
        rest: &'b [u8],
        cx: &mut Emitter<'_, S>,
    ) -> &'b [u8] {
        let (start, offset) = (self.head_at, self.head_offset);
        let stats = &mut self.asm.stats;
        stats.frames += 1;
        stats.frame_bytes = stats.frame_bytes.saturating_add(u64::from(h.len));
        cx.note_frame(self.dir, h.mask.is_some(), start);
        self.report_violations(&h, start, offset, cx);
        if self.close_sent && !self.said_after_close {
            self.said_after_close = true;
            let msg = format!("{:?} frame after this side's Close frame", h.opcode);
            self.warn(cx, FindingCode::DataAfterClose, start, offset, msg);
        }
        let kind = match h.opcode {
            Opcode::Close | Opcode::Ping | Opcode::Pong => {
                self.control.clear();
                self.control_truncated = false;
                Kind::Control
            }
            Opcode::Reserved(_) => Kind::Skip,
            Opcode::Text | Opcode::Binary => {
                if let Some(used) = self.begin_message(&h, at, rest, cx) {
                    return rest.get(used..).unwrap_or_default();
                }
                Kind::Data
            }
            Opcode::Continuation if self.asm.is_open() => {
                self.asm.next_frame(start);
                Kind::Data
            }
            Opcode::Continuation => {
                let msg = "continuation frame without a message to continue";
                self.warn(cx, FindingCode::OrphanContinuation, start, offset, msg);
                Kind::Skip
            }
        };
        self.frame = Some(Frame {
            h,
            at: start,
            offset,
            done: 0,
            kind,
        });
        if h.payload_len == 0 {
            self.end_frame(at, cx);
        }
        rest
    }

    /// A text or binary frame begins a message. Returns the bytes taken when
    /// the whole message was emitted straight from `rest`.
    fn begin_message<S: Sink>(
        &mut self,
        h: &Header,
        at: FrameRef,
        rest: &[u8],
        cx: &mut Emitter<'_, S>,
    ) -> Option<usize> {
        let (start, offset) = (self.head_at, self.head_offset);
        if self.asm.is_open() {
            let msg = "a new message started before the fragmented one before it ended";
            self.warn(cx, FindingCode::UnfinishedMessage, start, offset, msg);
            self.asm.abort(start, cx);
        }
        let len = usize::try_from(h.payload_len).unwrap_or(usize::MAX);
        if let Some(payload) = rest.get(..len) {
            if self.asm.whole(h, start, at, offset, payload, cx) {
                self.offset += h.payload_len;
                let stats = &mut self.asm.stats;
                stats.frame_bytes = stats.frame_bytes.saturating_add(h.payload_len);
                return Some(len);
            }
        }
        self.asm.begin(h, start, offset);
        None
    }

    fn warn<S: Sink>(
        &self,
        cx: &mut Emitter<'_, S>,
        code: FindingCode,
        at: FrameRef,
        offset: u64,
        msg: impl Into<String>,
    ) {
        cx.report(Level::Warn, code, self.dir, at, offset, msg.into());
    }

    /// Whether this side must mask: from the handshake, or learnt mid-stream.
    fn masked<S: Sink>(&self, cx: &Emitter<'_, S>) -> Option<bool> {
        self.rules
            .masked
            .or_else(|| cx.client_dir().map(|c| c == self.dir))
    }

    fn report_violations<S: Sink>(
        &mut self,
        h: &Header,
        at: FrameRef,
        offset: u64,
        cx: &mut Emitter<'_, S>,
    ) {
        let mut found: [Option<Violation>; 9] = [None; 9];
        let mut n = 0;
        let rules = Rules {
            masked: self.masked(cx),
            ..self.rules
        };
        check_header(h, &rules, |v| {
            if let Some(slot) = found.get_mut(n) {
                *slot = Some(v);
                n += 1;
            }
        });
        for v in found.into_iter().flatten() {
            cx.report(Level::Warn, v.code(), self.dir, at, offset, v.describe());
        }
    }

    fn frame_payload<'b, S: Sink>(
        &mut self,
        at: FrameRef,
        rest: &'b [u8],
        cx: &mut Emitter<'_, S>,
    ) -> &'b [u8] {
        let Some(f) = &mut self.frame else {
            return rest;
        };
        let remaining = f.h.payload_len.saturating_sub(f.done);
        let n = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        match f.kind {
            Kind::Data => self.asm.payload(&f.h, f.done, chunk, at, cx),
            Kind::Control => {
                let room = self.max_control.saturating_sub(self.control.len());
                let keep = chunk.get(..room).unwrap_or(chunk);
                let start = self.control.len();
                self.control.extend_from_slice(keep);
                if let Some(key) = f.h.mask {
                    unmask(
                        self.control.get_mut(start..).unwrap_or_default(),
                        key,
                        f.done,
                    );
                }
                self.control_truncated |= keep.len() < chunk.len();
            }
            Kind::Skip => {}
        }
        f.done += n as u64;
        let done = f.done == f.h.payload_len;
        self.offset += n as u64;
        let stats = &mut self.asm.stats;
        stats.frame_bytes = stats.frame_bytes.saturating_add(n as u64);
        if done {
            self.end_frame(at, cx);
        }
        tail
    }

    fn end_frame<S: Sink>(&mut self, at: FrameRef, cx: &mut Emitter<'_, S>) {
        let Some(f) = self.frame.take() else {
            return;
        };
        match f.kind {
            Kind::Data if f.h.fin => self.asm.finish(at, cx),
            Kind::Data | Kind::Skip => {}
            Kind::Control => {
                self.asm.stats.controls += 1;
                cx.control(
                    self.dir,
                    &f.h,
                    f.at,
                    f.offset,
                    &self.control,
                    self.control_truncated,
                );
                // An oversized control frame must not pin its buffer.
                if self.control.capacity() > 4096 {
                    self.control = Vec::new();
                }
                self.close_sent |= f.h.opcode == Opcode::Close;
            }
        }
    }

    /// The bytes at `head_offset` cannot be a header: hunt from the next byte.
    fn invalid_header<S: Sink>(
        &mut self,
        e: HeaderError,
        at: FrameRef,
        after: &[u8],
        cx: &mut Emitter<'_, S>,
    ) {
        let (head_at, head_offset) = (self.head_at, self.head_offset);
        let msg = format!("impossible frame header ({e}): looking for the next frame boundary");
        cx.report(
            Level::Warn,
            FindingCode::BadHeader,
            self.dir,
            head_at,
            head_offset,
            msg,
        );
        let head = self.head;
        let head_len = self.head_len;
        self.start_hunting(head_at, head_offset + 1, cx);
        if head_len > 0 {
            self.hunt
                .push(head_at, head.get(1..head_len).unwrap_or_default());
            self.hunt.push(at, after);
        } else {
            self.hunt.push(at, after.get(1..).unwrap_or_default());
        }
        self.hunt_scan(false, cx);
    }

    /// Stream offset just after the last byte handed to this side.
    fn stream_end(&self) -> u64 {
        let pending = self.replay.as_ref().map_or(0, |r| r.len() as u64);
        match self.mode {
            Mode::Hunting => self.hunt_offset.saturating_add(self.hunt.len() as u64),
            _ => self.offset.saturating_add(pending),
        }
    }

    /// No more bytes will come in this direction.
    pub(crate) fn on_end<S: Sink>(
        &mut self,
        at: FrameRef,
        capture_end: bool,
        cx: &mut Emitter<'_, S>,
    ) {
        if self.mode == Mode::Ended {
            return;
        }
        self.flush_hunt(cx);
        if self.mode == Mode::Hunting {
            self.report_skipped(false, cx);
        }
        let level = if capture_end {
            Level::Info
        } else {
            Level::Warn
        };
        if let Some(f) = self.frame.take() {
            let msg = format!(
                "the connection ended {} bytes into a {}-byte frame",
                f.done, f.h.payload_len
            );
            cx.report(
                level,
                FindingCode::TruncatedFrame,
                self.dir,
                f.at,
                f.offset,
                msg,
            );
        } else if self.head_len > 0 {
            let msg = format!(
                "the connection ended inside a frame header ({} bytes)",
                self.head_len
            );
            cx.report(
                level,
                FindingCode::TruncatedFrame,
                self.dir,
                self.head_at,
                self.head_offset,
                msg,
            );
        }
        if self.asm.is_open() {
            let msg = "the connection ended inside a fragmented message";
            cx.report(
                level,
                FindingCode::UnfinishedMessage,
                self.dir,
                at,
                self.offset,
                msg.into(),
            );
            self.asm.abort(at, cx);
        }
        self.asm.release();
        self.mode = Mode::Ended;
    }
}
