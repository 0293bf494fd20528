//! One upgraded TCP connection: both directions, control frames, the close.
//!
//! Takes the bytes, gaps and TCP ends of both directions as the pipeline
//! sees them; gives messages and control frames as they complete, findings,
//! and at `finish` how the connection closed. Pongs are matched to pings,
//! Close frames recorded per side, a TCP end without the server's Close
//! becomes the 1006 a browser would report. Findings of one kind are shown a
//! few times per direction and then counted, so a broken peer cannot flood
//! the report. Without a handshake, every finding waits for the [`Proof`]
//! that the connection is WebSocket, and none is reported without it.

use std::collections::VecDeque;

use crate::finding::Throttle;
use crate::finding::{Finding, Level};
use crate::limits::Limits;
use crate::position::{Dir, FrameRef};
use crate::ws::assembler::DeflateUse;
use crate::ws::evidence::{Confidence, Ports};
use crate::ws::frame::{close_code_problem, CloseCodeProblem, Header, Opcode, Rules, RSV1};
use crate::ws::message::{CloseSent, Closed, Control, ControlOpcode, Summary, TcpEnd};
use crate::ws::negotiate::Negotiated;
use crate::ws::proof::Proof;
use crate::ws::side::Side;
use crate::ws::FindingCode;
use crate::ws::Sink;

/// Findings of one code shown per direction before the rest are only counted.
const SHOWN_PER_CODE: u64 = 3;
/// Pings remembered while waiting for their pong.
const MAX_PENDING_PINGS: usize = 32;

/// The WebSocket stage for one connection. See the module docs of [`crate::ws`].
pub struct Connection {
    midstream: bool,
    sides: [Side; 2],
    shared: Shared,
    finished: bool,
}

struct PendingPing {
    dir: Dir,
    at: FrameRef,
    payload: Vec<u8>,
}

/// State both directions share.
pub(crate) struct Shared {
    stream: u64,
    client_dir: Option<Dir>,
    /// Findings per direction and code: the first [`SHOWN_PER_CODE`] are shown.
    throttle: Throttle<(Dir, FindingCode)>,
    /// The level of the first finding of each (direction, code), for its summary.
    first_levels: Vec<((Dir, FindingCode), Level)>,
    pings: VecDeque<PendingPing>,
    closes: [Option<CloseSent>; 2],
    first_close: Option<Dir>,
    tcp_end: Option<TcpEnd>,
    proof: Proof,
}

/// What a side needs to emit events: the shared state and the sink.
pub(crate) struct Emitter<'a, S> {
    pub(crate) stream: u64,
    shared: &'a mut Shared,
    pub(crate) sink: &'a mut S,
}

impl Connection {
    /// A connection whose handshake was seen; `negotiated` comes from
    /// [`Negotiated::from_headers`].
    pub fn new(stream: u64, negotiated: Negotiated, limits: &Limits) -> Connection {
        let deflate = negotiated.deflate;
        let mut rsv_allowed = if deflate.is_some() { RSV1 } else { 0 };
        if !negotiated.other_extensions.is_empty() {
            rsv_allowed = 0b111;
        }
        let side = |dir: Dir, no_takeover: fn(&crate::ws::PermessageDeflate) -> bool| {
            let rules = Rules {
                masked: Some(dir == Dir::ClientToServer),
                rsv_allowed,
                deflate: deflate.is_some(),
            };
            let use_ = match &deflate {
                Some(d) => DeflateUse::Negotiated {
                    takeover: !no_takeover(d),
                },
                None if negotiated.other_extensions.is_empty() => DeflateUse::Guess,
                None => DeflateUse::Other,
            };
            Side::new(dir, rules, use_, false, limits)
        };
        Connection {
            midstream: false,
            sides: [
                side(Dir::ClientToServer, |d| d.client_no_context_takeover),
                side(Dir::ServerToClient, |d| d.server_no_context_takeover),
            ],
            shared: Shared::new(stream, Some(Dir::ClientToServer), Proof::handshake(stream)),
            finished: false,
        }
    }

    /// A connection seen without its handshake: frame boundaries, roles and
    /// compression are found from the bytes.
    pub fn new_midstream(stream: u64, limits: &Limits) -> Connection {
        let side = |dir| {
            let rules = Rules {
                masked: None,
                rsv_allowed: RSV1,
                deflate: true,
            };
            Side::new(dir, rules, DeflateUse::Guess, true, limits)
        };
        Connection {
            midstream: true,
            sides: [side(Dir::ClientToServer), side(Dir::ServerToClient)],
            shared: Shared::new(stream, None, Proof::midstream(stream)),
            finished: false,
        }
    }

    /// The connection's TCP ports: supporting evidence when the handshake
    /// was not seen, named in the words that say why it was decoded.
    pub fn set_ports(&mut self, ports: Ports) {
        self.shared.proof.set_ports(ports);
    }

    /// Where WebSocket bytes start in `dir`'s TCP stream, so that finding
    /// offsets are TCP stream offsets (default 0). Call before the first
    /// `on_data` of that direction.
    pub fn set_stream_offset(&mut self, dir: Dir, offset: u64) {
        self.side_mut(dir).set_offset(offset);
    }

    /// Bytes of direction `dir` from capture frame `at`. Takes them all.
    pub fn on_data<S: Sink>(
        &mut self,
        dir: Dir,
        at: FrameRef,
        bytes: &[u8],
        sink: &mut S,
    ) -> usize {
        let (side, mut cx) = self.parts(dir, sink);
        side.on_data(at, bytes, &mut cx);
        bytes.len()
    }

    /// `len` bytes of direction `dir` are missing from the capture before `at`.
    pub fn on_gap<S: Sink>(&mut self, dir: Dir, at: FrameRef, len: u64, sink: &mut S) {
        let (side, mut cx) = self.parts(dir, sink);
        side.on_gap(at, len, None, &mut cx);
    }

    /// `len` bytes of direction `dir` were captured before `at` but the TLS
    /// stage could not decrypt them, for the reason `why`: the frames are
    /// hunted for again as after a gap, but told as not decrypted (info).
    pub fn on_undecrypted<S: Sink>(
        &mut self,
        dir: Dir,
        at: FrameRef,
        len: u64,
        why: &str,
        sink: &mut S,
    ) {
        let (side, mut cx) = self.parts(dir, sink);
        side.on_gap(at, len, Some(why), &mut cx);
    }

    /// Side `dir` sent a TCP FIN (or RST when `rst`) in frame `at`.
    pub fn on_tcp_end<S: Sink>(&mut self, dir: Dir, at: FrameRef, rst: bool, sink: &mut S) {
        let (side, mut cx) = self.parts(dir, sink);
        side.on_end(at, false, &mut cx);
        self.shared.tcp_end.get_or_insert(TcpEnd {
            dir,
            frame: at,
            time: at.ts,
            rst,
        });
    }

    /// The capture ended (or the pipeline dropped the connection): flushes
    /// what is open, reports what stayed unanswered, emits [`Closed`]. Idempotent.
    pub fn finish<S: Sink>(&mut self, sink: &mut S) {
        if self.finished {
            return;
        }
        self.finished = true;
        for dir in Dir::BOTH {
            let at = self.side_mut(dir).last_at;
            let (side, mut cx) = self.parts(dir, sink);
            side.on_end(at, true, &mut cx);
        }
        let last = [self.sides[0].last_at, self.sides[1].last_at];
        self.shared.report_unanswered_pings(last, sink);
        self.shared.report_abnormal_end(sink);
        self.shared.report_tallies(sink);
        let client = self.shared.client_dir;
        self.shared.proof.finish(client, sink);
        sink.on_closed(&self.shared.closed());
    }

    /// Directions whose inflater (and its 32 KiB window) is still kept.
    #[cfg(test)]
    pub(crate) fn inflaters_kept(&self) -> usize {
        self.sides.iter().filter(|s| s.asm.keeps_inflater()).count()
    }

    /// Bytes held now by both directions (frame headers, control payloads,
    /// messages being assembled, bytes spooled while hunting for frames).
    pub fn held_bytes(&self) -> usize {
        self.sides.iter().map(Side::held_bytes).sum()
    }

    /// Bytes both directions' permessage-deflate inflaters hold while they
    /// exist (charged to the memory budget apart from the held messages).
    pub fn inflater_bytes(&self) -> usize {
        self.sides.iter().map(Side::inflater_bytes).sum()
    }

    /// Counts so far and how the connection closed.
    pub fn summary(&self) -> Summary {
        Summary {
            stream: self.shared.stream,
            midstream: self.midstream,
            confidence: self.shared.proof.confidence(),
            evidence: self.shared.proof.evidence(),
            client_dir: self.shared.client_dir,
            c2s: self.sides[0].asm.stats,
            s2c: self.sides[1].asm.stats,
            closed: self.shared.closed(),
        }
    }

    fn side_mut(&mut self, dir: Dir) -> &mut Side {
        let [c2s, s2c] = &mut self.sides;
        match dir {
            Dir::ClientToServer => c2s,
            Dir::ServerToClient => s2c,
        }
    }

    fn parts<'a, S: Sink>(
        &'a mut self,
        dir: Dir,
        sink: &'a mut S,
    ) -> (&'a mut Side, Emitter<'a, S>) {
        let [c2s, s2c] = &mut self.sides;
        let side = match dir {
            Dir::ClientToServer => c2s,
            Dir::ServerToClient => s2c,
        };
        let cx = Emitter {
            stream: self.shared.stream,
            shared: &mut self.shared,
            sink,
        };
        (side, cx)
    }
}

impl Shared {
    fn new(stream: u64, client_dir: Option<Dir>, proof: Proof) -> Shared {
        Shared {
            stream,
            client_dir,
            throttle: Throttle::new(SHOWN_PER_CODE),
            first_levels: Vec::new(),
            pings: VecDeque::new(),
            closes: [None, None],
            first_close: None,
            tcp_end: None,
            proof,
        }
    }

    fn server_dir(&self) -> Dir {
        self.client_dir.unwrap_or(Dir::ClientToServer).flip()
    }

    fn closed(&self) -> Closed {
        let [c2s, s2c] = self.closes.clone();
        let server_close = match self.server_dir() {
            Dir::ClientToServer => &c2s,
            Dir::ServerToClient => &s2c,
        };
        // What a browser would report is said only of a connection known to
        // be a WebSocket.
        let proven = self.proof.confidence() != Confidence::FramesOnly;
        let (client_code, inferred) = match (server_close, self.tcp_end) {
            _ if !proven => (None, false),
            (Some(close), _) => (Some(close.code.unwrap_or(1005)), false),
            (None, Some(_)) => (Some(1006), true),
            (None, None) => (None, false),
        };
        Closed {
            stream: self.stream,
            first: self.first_close,
            c2s,
            s2c,
            tcp_end: self.tcp_end,
            client_code,
            inferred,
        }
    }

    /// The 1006 a browser would report, as a finding at the TCP end.
    fn report_abnormal_end<S: Sink>(&mut self, sink: &mut S) {
        let (Some(end), None) = (self.tcp_end, &self.closes[self.server_dir().index()]) else {
            return;
        };
        let who = if end.dir == self.server_dir().flip() {
            "client"
        } else {
            "server"
        };
        let how = if end.rst { "RST" } else { "FIN" };
        let client_close = &self.closes[self.server_dir().flip().index()];
        let before = match client_close {
            Some(c) => format!(
                "after the client's Close ({}) but before the server's",
                c.code.map_or("no code".to_owned(), |c| c.to_string())
            ),
            None => "without a WebSocket Close frame".to_owned(),
        };
        let msg = format!(
            "TCP {how} from the {who} at frame {} {before}: a browser reports 1006 (abnormal closure)",
            end.frame.frame
        );
        let f = Finding::new(FindingCode::AbnormalClosure, msg)
            .at(end.frame)
            .in_stream(self.stream, Some(end.dir));
        self.proof.pass(f, sink);
    }

    /// A pong from `dir`: the latest earlier ping from the other side with
    /// the same payload (RFC 6455 §5.5.3: a pong may answer only the latest
    /// ping). Returns its frame and the latency; drops it and the pings it
    /// superseded.
    fn answer_ping(&mut self, dir: Dir, at: FrameRef, payload: &[u8]) -> Option<(u64, f64)> {
        let i = self
            .pings
            .iter()
            .rposition(|p| p.dir != dir && p.payload == payload)?;
        let ping = self.pings.get(i)?;
        let answer = (ping.at.frame, at.ts.nanos_since(ping.at.ts) as f64 / 1e6);
        let mut index = 0;
        self.pings.retain(|p| {
            index += 1;
            p.dir == dir || index > i + 1
        });
        Some(answer)
    }

    /// Pings without a pong: a warning when the other side kept sending
    /// after them, information when the capture simply ended first.
    fn report_unanswered_pings<S: Sink>(&mut self, last: [FrameRef; 2], sink: &mut S) {
        for dir in Dir::BOTH {
            let mut pending = self.pings.iter().filter(|p| p.dir == dir);
            let Some(first) = pending.next() else {
                continue;
            };
            let n = 1 + pending.count();
            let peer_went_on = last[dir.flip().index()].frame > first.at.frame;
            let (level, tail) = if peer_went_on {
                (Level::Warn, "although the other side kept sending")
            } else {
                (Level::Info, "before the capture ended")
            };
            let msg = format!(
                "{n} ping(s) not answered by a pong {tail} (first at frame {})",
                first.at.frame
            );
            let f = Finding::new(FindingCode::PingUnanswered, msg)
                .with_level(level)
                .at(first.at)
                .in_stream(self.stream, Some(dir));
            self.proof.pass(f, sink);
        }
    }

    fn report_tallies<S: Sink>(&mut self, sink: &mut S) {
        for o in self.throttle.overflowed() {
            let (dir, code) = o.key;
            let level = self
                .first_levels
                .iter()
                .find(|(key, _)| *key == o.key)
                .map_or(code.level(), |&(_, level)| level);
            let msg = format!(
                "{} more {code} findings not shown ({} in total)",
                o.hidden(),
                o.total
            );
            let f = Finding::new(code, msg)
                .with_level(level)
                .in_stream(self.stream, Some(dir));
            self.proof.pass(f, sink);
        }
    }
}

impl<S: Sink> Emitter<'_, S> {
    /// The direction the WebSocket client sends in, once known.
    pub(crate) fn client_dir(&self) -> Option<Dir> {
        self.shared.client_dir
    }

    /// Mid-stream: the first side whose frames were found tells, by its mask
    /// bit, which side is the WebSocket client.
    pub(crate) fn learn_roles(&mut self, dir: Dir, masked: bool) {
        if self.shared.client_dir.is_none() {
            self.shared.client_dir = Some(if masked { dir } else { dir.flip() });
        }
    }

    /// A frame header was decoded: evidence, while the connection is unproven.
    pub(crate) fn note_frame(&mut self, dir: Dir, masked: bool, at: FrameRef) {
        let client = self.shared.client_dir;
        self.shared
            .proof
            .on_frame(dir, masked, at, client, &mut *self.sink);
    }

    /// A whole text message: evidence, while the connection is unproven.
    pub(crate) fn note_text(&mut self, dir: Dir, payload: &[u8]) {
        if self.shared.proof.gathering() {
            let client = self.shared.client_dir;
            self.shared
                .proof
                .on_text(dir, payload, client, &mut *self.sink);
        }
    }

    /// Reports a finding, unless this code was already shown enough in `dir`.
    pub(crate) fn report(
        &mut self,
        level: Level,
        code: FindingCode,
        dir: Dir,
        at: FrameRef,
        offset: u64,
        message: String,
    ) {
        let shared = &mut *self.shared;
        let count = shared.throttle.count_one((dir, code));
        if count == 1 {
            shared.first_levels.push(((dir, code), level));
        }
        if count <= SHOWN_PER_CODE {
            let f = Finding::new(code, message)
                .with_level(level)
                .at(at)
                .in_stream(self.stream, Some(dir))
                .at_offset(offset);
            self.shared.proof.pass(f, &mut *self.sink);
        }
    }

    /// A complete control frame: checks it, matches pongs, records closes, emits it.
    pub(crate) fn control(
        &mut self,
        dir: Dir,
        h: &Header,
        at: FrameRef,
        offset: u64,
        payload: &[u8],
        truncated: bool,
    ) {
        let opcode = match h.opcode {
            Opcode::Close => ControlOpcode::Close,
            Opcode::Ping => ControlOpcode::Ping,
            Opcode::Pong => ControlOpcode::Pong,
            _ => return,
        };
        let mut control = Control {
            stream: self.stream,
            dir,
            frame: at,
            time: at.ts,
            opcode,
            len: h.payload_len,
            close_code: None,
            close_reason: None,
            answers_frame: None,
            latency_ms: None,
            truncated,
            payload,
        };
        match opcode {
            ControlOpcode::Close => {
                let (code, reason) = self.read_close(dir, at, offset, payload, truncated);
                control.close_code = code;
                control.close_reason = reason;
                self.record_close(dir, at, code, reason);
            }
            ControlOpcode::Ping => {
                let pings = &mut self.shared.pings;
                if pings.len() == MAX_PENDING_PINGS {
                    pings.pop_front();
                }
                pings.push_back(PendingPing {
                    dir,
                    at,
                    payload: payload.to_vec(),
                });
            }
            ControlOpcode::Pong => {
                if let Some((ping, latency_ms)) = self.shared.answer_ping(dir, at, payload) {
                    control.answers_frame = Some(ping);
                    control.latency_ms = Some(latency_ms);
                }
            }
        }
        self.sink.on_control(&control);
    }

    fn read_close<'p>(
        &mut self,
        dir: Dir,
        at: FrameRef,
        offset: u64,
        payload: &'p [u8],
        truncated: bool,
    ) -> (Option<u16>, Option<&'p str>) {
        let (hi, lo, reason) = match payload {
            [] => return (None, None),
            [_] => {
                let msg = "Close frame with a 1-byte payload (a code needs 2)".to_owned();
                self.report(
                    Level::Warn,
                    FindingCode::ClosePayloadOneByte,
                    dir,
                    at,
                    offset,
                    msg,
                );
                return (None, None);
            }
            [hi, lo, reason @ ..] => (*hi, *lo, reason),
        };
        let code = u16::from_be_bytes([hi, lo]);
        match close_code_problem(code) {
            Some(CloseCodeProblem::ReportingOnly) => {
                let msg =
                    format!("close code {code} is for reporting only and never sent on the wire");
                self.report(
                    Level::Warn,
                    FindingCode::ReservedCloseCode,
                    dir,
                    at,
                    offset,
                    msg,
                );
            }
            Some(CloseCodeProblem::Invalid) => {
                let msg = format!("close code {code} is not a valid close code");
                self.report(
                    Level::Warn,
                    FindingCode::InvalidCloseCode,
                    dir,
                    at,
                    offset,
                    msg,
                );
            }
            None => {}
        }
        let reason = match std::str::from_utf8(reason) {
            Ok(r) => Some(r),
            Err(e) if truncated && e.error_len().is_none() => {
                std::str::from_utf8(reason.get(..e.valid_up_to()).unwrap_or_default()).ok()
            }
            Err(_) => {
                let msg = "close reason is not valid UTF-8".to_owned();
                self.report(
                    Level::Warn,
                    FindingCode::InvalidCloseReason,
                    dir,
                    at,
                    offset,
                    msg,
                );
                None
            }
        };
        (Some(code), reason.filter(|r| !r.is_empty()))
    }

    fn record_close(&mut self, dir: Dir, at: FrameRef, code: Option<u16>, reason: Option<&str>) {
        let slot = &mut self.shared.closes[dir.index()];
        if slot.is_none() {
            *slot = Some(CloseSent {
                frame: at,
                time: at.ts,
                code,
                reason: reason.map(str::to_owned),
            });
        }
        self.shared.first_close.get_or_insert(dir);
    }
}
