//! Data frames to messages, for one direction: reassembly of fragments,
//! permessage-deflate, the message and inflation caps, UTF-8 checks.
//!
//! Takes the headers and (unmasked or masked) payload pieces of data frames
//! in order; gives one [`Message`] per message into the sink, plus findings.
//! Memory is one reused payload buffer per direction, never above the caps;
//! compressed bytes are inflated as they arrive and never buffered. It never
//! shows bytes that came out of a window it does not have: a text message
//! that refers to a lost window is given with how much of it is known and
//! without text; a binary one, whose 0xFF bytes cannot be told from unknown
//! ones, is reported as not inflated.

use crate::finding::Level;
use crate::limits::Limits;
use crate::position::{Dir, FrameRef};
use crate::ws::connection::Emitter;
use crate::ws::deflate::{exactness, Exactness, Inflater, Stop};
use crate::ws::emit::emit;
use crate::ws::frame::{unmask, Header, Opcode, RSV1};
use crate::ws::message::{DirSummary, MessageOpcode, NotInflated};
use crate::ws::FindingCode;
use crate::ws::Sink;

/// Inflated output always allowed whatever the ratio (small messages that
/// refer to a long shared window legitimately inflate many times over).
const RATIO_GRACE: usize = 64 << 10;
/// Masked compressed bytes are unmasked this many at a time.
const UNMASK_STEP: usize = 16 << 10;
/// The payload buffer is shrunk back to this after a larger message.
const KEEP_CAPACITY: usize = 64 << 10;

/// How RSV1 on a data frame is to be read in this direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeflateUse {
    /// permessage-deflate was negotiated; `takeover`: the window persists.
    Negotiated { takeover: bool },
    /// Nothing negotiated that uses RSV1 (or no handshake seen): inflate from
    /// a fresh window and accept only clean results.
    Guess,
    /// Another extension owns RSV1: compressed payloads are not decoded.
    Other,
}

#[derive(Clone, Copy, Debug)]
struct Caps {
    message: usize,
    inflated: usize,
    ratio: u64,
}

/// The message being assembled.
#[derive(Clone, Debug)]
pub(super) struct Open {
    pub(super) opcode: MessageOpcode,
    pub(super) first: FrameRef,
    pub(super) last: FrameRef,
    pub(super) offset: u64,
    pub(super) frames: u32,
    /// Payload bytes of all frames so far (including bytes lost in gaps).
    pub(super) wire_len: u64,
    /// `wire_len` before the current frame.
    pub(super) frame_base: u64,
    pub(super) compressed: bool,
    /// Compressed and still being inflated.
    pub(super) inflating: bool,
    /// The inflater saw this direction from its first compressed byte: an
    /// invalid deflate stream is the sender's fault.
    pub(super) trusted: bool,
    /// The window held no unknown byte when the message began.
    pub(super) window_known: bool,
    pub(super) truncated: bool,
    pub(super) not_inflated: Option<NotInflated>,
    /// The full plain length is known (false once inflation stopped early).
    pub(super) len_known: bool,
    /// Bytes known of a message that refers to a lost window.
    pub(super) known: Option<usize>,
    /// Inflation stopped at this cap.
    pub(super) capped: Option<usize>,
}

pub(crate) struct Assembler {
    dir: Dir,
    deflate: DeflateUse,
    caps: Caps,
    open: Option<Open>,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    inflater: Option<Inflater>,
    /// The window was lost before any compressed message was seen.
    window_lost: bool,
    said_context_lost: bool,
    /// A partly known message was reported since the window was last lost.
    said_partial: bool,
    pub(crate) stats: DirSummary,
}

impl Assembler {
    /// Bytes held now: the message being assembled (the inflater is
    /// counted apart, by [`Assembler::inflater_bytes`]).
    pub(crate) fn held_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Bytes the inflater holds, while there is one (its state and window).
    pub(crate) fn inflater_bytes(&self) -> usize {
        self.inflater.as_ref().map_or(0, Inflater::held_bytes)
    }

    pub(crate) fn new(dir: Dir, deflate: DeflateUse, limits: &Limits) -> Assembler {
        Assembler {
            dir,
            deflate,
            caps: Caps {
                message: limits.max_ws_message,
                inflated: limits.max_inflated_message,
                ratio: limits.max_inflate_ratio,
            },
            open: None,
            buf: Vec::new(),
            scratch: Vec::new(),
            inflater: None,
            window_lost: false,
            said_context_lost: false,
            said_partial: false,
            stats: DirSummary::default(),
        }
    }

    /// No more bytes will come in this direction: the decoder state goes
    /// (the inflater alone keeps a 32 KiB window and its tables), the
    /// counts stay for the summary. A closed connection can linger in the
    /// TCP table for `flow_idle_timeout`; what it holds there must be small.
    pub(crate) fn release(&mut self) {
        self.inflater = None;
        self.buf = Vec::new();
        self.scratch = Vec::new();
    }

    /// The inflater (its window) is kept: what a closed connection must not do.
    #[cfg(test)]
    pub(crate) fn keeps_inflater(&self) -> bool {
        self.inflater.is_some()
    }

    pub(crate) fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Emits an unfragmented, uncompressed, unmasked message straight from
    /// the input when the whole payload is at hand. Returns false (doing
    /// nothing) when the general path is needed.
    pub(crate) fn whole<S: Sink>(
        &mut self,
        h: &Header,
        first: FrameRef,
        last: FrameRef,
        offset: u64,
        payload: &[u8],
        cx: &mut Emitter<'_, S>,
    ) -> bool {
        let Some(opcode) = data_opcode(h.opcode) else {
            return false;
        };
        let simple = h.fin && h.rsv & RSV1 == 0 && h.mask.is_none() && self.open.is_none();
        if !simple || payload.len() > self.caps.message || payload.len() as u64 != h.payload_len {
            return false;
        }
        let open = Open {
            opcode,
            first,
            last,
            offset,
            frames: 1,
            wire_len: h.payload_len,
            frame_base: 0,
            compressed: false,
            inflating: false,
            trusted: true,
            window_known: true,
            truncated: false,
            not_inflated: None,
            len_known: true,
            known: None,
            capped: None,
        };
        emit(self.dir, &open, payload, &mut self.stats, cx);
        true
    }

    /// Starts a message with its first frame (text or binary).
    pub(crate) fn begin(&mut self, h: &Header, at: FrameRef, offset: u64) {
        let opcode = data_opcode(h.opcode).unwrap_or(MessageOpcode::Binary);
        let compressed = h.rsv & RSV1 != 0;
        let mut open = Open {
            opcode,
            first: at,
            last: at,
            offset,
            frames: 1,
            wire_len: 0,
            frame_base: 0,
            compressed,
            inflating: false,
            trusted: false,
            window_known: true,
            truncated: false,
            not_inflated: None,
            len_known: true,
            known: None,
            capped: None,
        };
        if compressed {
            let (takeover, trusted) = match self.deflate {
                DeflateUse::Negotiated { takeover } => (takeover, !self.window_lost),
                // No handshake: the sender's choice is unknown; a window that
                // is never referred to costs nothing.
                DeflateUse::Guess => (true, false),
                DeflateUse::Other => (false, false),
            };
            if self.deflate == DeflateUse::Other {
                open.not_inflated = Some(NotInflated::OtherExtension);
                open.len_known = false;
            } else {
                let inf = self
                    .inflater
                    .get_or_insert_with(|| Inflater::new(takeover, trusted));
                open.inflating = true;
                open.trusted = inf.trusted();
                open.window_known = inf.window_known();
            }
        }
        self.buf.clear();
        self.open = Some(open);
    }

    /// A continuation frame of the open message begins.
    pub(crate) fn next_frame(&mut self, at: FrameRef) {
        if let Some(open) = &mut self.open {
            open.frames = open.frames.saturating_add(1);
            open.frame_base = open.wire_len;
            open.last = at;
        }
    }

    /// Payload bytes of the current frame; `done` bytes of it came before.
    pub(crate) fn payload<S: Sink>(
        &mut self,
        h: &Header,
        done: u64,
        chunk: &[u8],
        at: FrameRef,
        cx: &mut Emitter<'_, S>,
    ) {
        let Some(open) = &mut self.open else {
            return;
        };
        open.wire_len = open.wire_len.saturating_add(chunk.len() as u64);
        open.last = at;
        if open.inflating {
            let cap = inflate_cap(&self.caps, open.frame_base.saturating_add(h.payload_len));
            let result = self.inflate(chunk, h.mask, done, cap);
            self.after_inflate(result, cap, at, cx);
        } else if !open.compressed && !open.truncated {
            let room = self.caps.message.saturating_sub(self.buf.len());
            let keep = chunk.get(..room).unwrap_or(chunk);
            let start = self.buf.len();
            self.buf.extend_from_slice(keep);
            if let Some(key) = h.mask {
                unmask(self.buf.get_mut(start..).unwrap_or_default(), key, done);
            }
            if keep.len() < chunk.len() {
                open.truncated = true;
                let msg = format!(
                    "message longer than {} bytes: the rest is counted, not kept",
                    self.caps.message
                );
                cx.report(
                    Level::Warn,
                    FindingCode::MessageTooLarge,
                    self.dir,
                    at,
                    open.offset,
                    msg,
                );
            }
        }
    }

    fn inflate(
        &mut self,
        chunk: &[u8],
        mask: Option<[u8; 4]>,
        done: u64,
        cap: usize,
    ) -> Result<(), Stop> {
        let Some(inf) = &mut self.inflater else {
            return Ok(());
        };
        let Some(key) = mask else {
            return inf.feed(chunk, &mut self.buf, cap);
        };
        let mut done = done;
        for piece in chunk.chunks(UNMASK_STEP) {
            self.scratch.clear();
            self.scratch.extend_from_slice(piece);
            unmask(&mut self.scratch, key, done);
            done = done.wrapping_add(piece.len() as u64);
            inf.feed(&self.scratch, &mut self.buf, cap)?;
        }
        Ok(())
    }

    fn after_inflate<S: Sink>(
        &mut self,
        result: Result<(), Stop>,
        cap: usize,
        at: FrameRef,
        cx: &mut Emitter<'_, S>,
    ) {
        let Some(open) = &mut self.open else {
            return;
        };
        let Err(stop) = result else {
            return;
        };
        open.inflating = false;
        open.len_known = false;
        let (level, code, place, msg) = match stop {
            Stop::Limit => {
                open.truncated = true;
                open.capped = Some(cap);
                let msg = format!(
                    "decompression limit at frame {}: inflated to {}, the rest of the message \
                     dropped (caps: {} bytes, {}x the compressed size)",
                    at.frame,
                    size_in_words(cap),
                    self.caps.inflated,
                    self.caps.ratio
                );
                (Level::Warn, FindingCode::InflateLimit, at, msg)
            }
            // zlib's own reason is not shown: zlib-rs words the same bad data
            // differently depending on how much input and output room a call had.
            Stop::Invalid(_) if open.trusted => {
                open.not_inflated = Some(NotInflated::InvalidDeflate);
                let msg = format!(
                    "invalid deflate data in the message starting at frame {}; \
                     later compressed messages in this direction are inflated with \
                     its window taken as unknown",
                    open.first.frame
                );
                (Level::Error, FindingCode::InvalidDeflate, at, msg)
            }
            Stop::Invalid(_) => {
                open.not_inflated = Some(NotInflated::InvalidDeflate);
                let msg = format!(
                    "compressed message at frame {} is not valid deflate data, although \
                     the window from before the capture (or a gap) was allowed for as \
                     unknown: the frame boundary may have been found wrongly",
                    open.first.frame
                );
                (Level::Warn, FindingCode::InvalidDeflate, open.first, msg)
            }
        };
        if open.not_inflated.is_some() {
            self.buf.clear();
        }
        cx.report(level, code, self.dir, place, open.offset, msg);
        let offset = open.offset;
        self.lose_context(at, offset, cx);
    }

    /// Inflated (whole or cut) from a window that was partly unknown: how
    /// much of the message is known decides what is shown.
    fn settle<S: Sink>(&mut self, cx: &mut Emitter<'_, S>) {
        let Some(open) = &mut self.open else {
            return;
        };
        if !open.compressed || open.window_known || open.not_inflated.is_some() {
            return;
        }
        let Exactness::Partial { known } = exactness(false, &self.buf) else {
            return;
        };
        if open.opcode == MessageOpcode::Binary {
            open.not_inflated = Some(NotInflated::NoContext);
            open.len_known = false;
            self.buf.clear();
            let msg = format!(
                "binary message at frame {} refers to compression history from before the \
                 capture (or a gap): not shown, as its 0xFF bytes cannot be told from \
                 unknown ones",
                open.first.frame
            );
            cx.report(
                Level::Info,
                FindingCode::NoDeflateContext,
                self.dir,
                open.first,
                open.offset,
                msg,
            );
            return;
        }
        open.known = Some(known);
        if !std::mem::replace(&mut self.said_partial, true) {
            let msg = format!(
                "compressed text from frame {} on refers to compression history from before \
                 the capture (or a gap): such messages are given with only their known bytes \
                 ({known} of {} here), never as text, until the last 32 KiB inflated in \
                 this direction hold no unknown byte",
                open.first.frame,
                self.buf.len()
            );
            cx.report(
                Level::Info,
                FindingCode::PartlyInflated,
                self.dir,
                open.first,
                open.offset,
                msg,
            );
        }
    }

    /// The window of this direction is gone (gap, resync, error, limit).
    pub(crate) fn lose_context<S: Sink>(
        &mut self,
        at: FrameRef,
        offset: u64,
        cx: &mut Emitter<'_, S>,
    ) {
        let takeover = matches!(self.deflate, DeflateUse::Negotiated { takeover: true });
        self.said_partial = false;
        let Some(inf) = &mut self.inflater else {
            self.window_lost |= takeover;
            return;
        };
        let was_trusted = inf.trusted();
        inf.lose_context();
        if takeover && was_trusted && !self.said_context_lost {
            self.said_context_lost = true;
            let msg = "the permessage-deflate context of this direction is lost: later compressed \
                       messages are inflated with the lost window taken as unknown, and those \
                       that refer to it are given with only their known bytes";
            cx.report(
                Level::Warn,
                FindingCode::DeflateContextLost,
                self.dir,
                at,
                offset,
                msg.to_owned(),
            );
        }
    }

    /// `len` payload bytes of the current frame are missing from the capture.
    ///
    /// A compressed message cut here (or in [`Assembler::abort`]) keeps its
    /// output only when the inflater saw this direction from its first
    /// compressed byte: otherwise the frame may have been found by heuristic,
    /// and only a message that inflates to its end shows that its data is
    /// deflate at all; the output of a cut one could be garbage.
    pub(crate) fn gap<S: Sink>(&mut self, len: u64, at: FrameRef, cx: &mut Emitter<'_, S>) {
        let Some(open) = &mut self.open else {
            return;
        };
        open.wire_len = open.wire_len.saturating_add(len);
        open.truncated = true;
        if open.inflating {
            open.inflating = false;
            open.len_known = false;
            if self.buf.is_empty() || !open.trusted {
                open.not_inflated = Some(NotInflated::Gap);
                self.buf.clear();
            }
            let offset = open.offset;
            self.lose_context(at, offset, cx);
        }
    }

    /// The last frame of the message ended: emits it.
    pub(crate) fn finish<S: Sink>(&mut self, at: FrameRef, cx: &mut Emitter<'_, S>) {
        let Some(open) = &mut self.open else {
            return;
        };
        open.last = at;
        if open.inflating {
            let cap = inflate_cap(&self.caps, open.wire_len);
            let result = match &mut self.inflater {
                Some(inf) => inf.end_message(&mut self.buf, cap),
                None => Ok(Exactness::Exact),
            };
            self.after_inflate(result.map(|_| ()), cap, at, cx);
        }
        self.emit_open(cx);
    }

    /// The message cannot be completed (a new message started, sync or the
    /// connection was lost): emits what there is, marked truncated.
    pub(crate) fn abort<S: Sink>(&mut self, at: FrameRef, cx: &mut Emitter<'_, S>) {
        let Some(open) = &mut self.open else {
            return;
        };
        open.truncated = true;
        if open.inflating {
            open.inflating = false;
            open.len_known = false;
            if !open.trusted {
                open.not_inflated = Some(NotInflated::Unfinished);
                self.buf.clear();
            }
            let offset = open.offset;
            self.lose_context(at, offset, cx);
        }
        self.emit_open(cx);
    }

    fn emit_open<S: Sink>(&mut self, cx: &mut Emitter<'_, S>) {
        self.settle(cx);
        let Some(open) = self.open.take() else {
            return;
        };
        emit(self.dir, &open, &self.buf, &mut self.stats, cx);
        self.buf.clear();
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf.shrink_to(KEEP_CAPACITY);
        }
    }
}

fn data_opcode(op: Opcode) -> Option<MessageOpcode> {
    match op {
        Opcode::Text => Some(MessageOpcode::Text),
        Opcode::Binary => Some(MessageOpcode::Binary),
        _ => None,
    }
}

/// Inflated bytes allowed for a message whose compressed payload is `compressed` long.
fn inflate_cap(caps: &Caps, compressed: u64) -> usize {
    let by_ratio = caps.ratio.saturating_mul(compressed.saturating_add(4));
    let by_ratio = usize::try_from(by_ratio)
        .unwrap_or(usize::MAX)
        .max(RATIO_GRACE);
    caps.message.min(caps.inflated).min(by_ratio)
}

/// `8 MiB`, `64 KiB`, or a byte count: caps are usually round.
fn size_in_words(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}
