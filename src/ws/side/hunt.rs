//! Hunting for a frame boundary in one direction: after a gap, an impossible
//! header, or when the capture started mid-connection. Bytes are held in the
//! spool until [`midstream::scan`](crate::ws::midstream::scan) trusts a
//! boundary, then replayed; what was skipped is reported.

use super::*;
use crate::ws::FindingCode;

impl Side {
    /// Sync is lost from `offset` on: whatever was open is cut.
    pub(super) fn start_hunting<S: Sink>(
        &mut self,
        at: FrameRef,
        offset: u64,
        cx: &mut Emitter<'_, S>,
    ) {
        self.frame = None;
        self.asm.abort(at, cx);
        self.asm.lose_context(at, offset, cx);
        self.head_len = 0;
        self.mode = Mode::Hunting;
        self.reason = HuntReason::Lost;
        self.hunt.clear();
        self.hunt_needed = 0;
        self.hunt_offset = offset;
        self.offset = offset;
    }

    pub(super) fn hunt_scan<S: Sink>(&mut self, at_end: bool, cx: &mut Emitter<'_, S>) {
        let expect = Expect {
            masked: self.masked(cx),
            rsv1: self.rules.rsv_allowed & RSV1 != 0,
            max_len: self.max_hunt_frame,
        };
        if !at_end && self.hunt.len() < self.hunt_needed {
            return; // the candidate frame is still incomplete: nothing new to decide
        }
        let (found, needed) = scan_needing(self.hunt.bytes(), &expect, at_end);
        self.hunt_needed = 0;
        match found {
            Scan::Found { at, masked } => {
                self.skip(at);
                self.report_skipped(true, cx);
                cx.learn_roles(self.dir, masked);
                self.rules.masked = self.masked(cx);
                self.mode = Mode::Frames;
                self.offset = self.hunt_offset;
                self.replay = Some(std::mem::take(&mut self.hunt));
            }
            Scan::Pending { at } => {
                self.skip(at);
                self.hunt_needed = needed;
            }
            Scan::Nothing => {
                self.skip(self.hunt.len());
                self.report_skipped(false, cx);
            }
        }
    }

    pub(super) fn skip(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let first = self.hunt.frame_at(0).unwrap_or(self.last_at);
        let entry = self.skipped.get_or_insert((first, self.hunt_offset, 0));
        entry.2 = entry.2.saturating_add(n as u64);
        self.hunt.drop_front(n);
        self.hunt_offset = self.hunt_offset.saturating_add(n as u64);
        let stats = &mut self.asm.stats;
        stats.unparsed_bytes = stats.unparsed_bytes.saturating_add(n as u64);
    }

    pub(super) fn report_skipped<S: Sink>(&mut self, locked: bool, cx: &mut Emitter<'_, S>) {
        let Some((first, offset, count)) = self.skipped.take() else {
            return;
        };
        let (level, what) = match self.reason {
            HuntReason::Midstream => (Level::Info, "before the first frame boundary"),
            HuntReason::Lost => (Level::Warn, "while looking for a frame boundary"),
        };
        let end = if locked { "" } else { " (none found)" };
        let msg = format!(
            "{count} bytes from frame {} skipped {what}{end}",
            first.frame
        );
        cx.report(level, FindingCode::Unparsed, self.dir, first, offset, msg);
    }

    /// `len` bytes of this direction are missing: lost in the capture, or
    /// (`not_decrypted`: why) captured but not decrypted.
    pub(crate) fn on_gap<S: Sink>(
        &mut self,
        at: FrameRef,
        len: u64,
        not_decrypted: Option<&str>,
        cx: &mut Emitter<'_, S>,
    ) {
        if not_decrypted.is_none() {
            let stats = &mut self.asm.stats;
            stats.gap_bytes = stats.gap_bytes.saturating_add(len);
        }
        let gap_end = self.stream_end().saturating_add(len);
        // Nothing can follow the bytes before the gap: hunt in them as at an end.
        self.flush_hunt(cx);
        match self.mode {
            Mode::Ended => return,
            Mode::Hunting => {
                self.report_skipped(false, cx);
                self.hunt_offset = gap_end;
                self.offset = gap_end;
                return;
            }
            Mode::Frames => {}
        }
        let (level, code, missing) = match not_decrypted {
            None => (
                Level::Warn,
                FindingCode::Gap,
                format!("{len} bytes missing"),
            ),
            Some(why) => (
                Level::Info,
                FindingCode::NotDecrypted,
                format!("{len} bytes not decrypted ({why})"),
            ),
        };
        if let Some(f) = &mut self.frame {
            let remaining = f.h.payload_len.saturating_sub(f.done);
            if len <= remaining {
                f.done += len;
                self.offset += len;
                let (kind, offset, first) = (f.kind, f.offset, f.at);
                match kind {
                    Kind::Data => self.asm.gap(len, at, cx),
                    Kind::Control => self.control_truncated = true,
                    Kind::Skip => {}
                }
                let msg = format!("{missing} inside the frame at frame {}", first.frame);
                let code = match not_decrypted {
                    None => FindingCode::GapInFrame,
                    Some(_) => code,
                };
                cx.report(level, code, self.dir, at, offset, msg);
                if len == remaining {
                    self.end_frame(at, cx);
                }
                return;
            }
        }
        let msg = format!("{missing}: looking for the next frame boundary");
        cx.report(level, code, self.dir, at, self.stream_end(), msg);
        self.start_hunting(at, gap_end, cx);
    }

    /// No more bytes will follow the hunting buffer: decide on what is there.
    pub(super) fn flush_hunt<S: Sink>(&mut self, cx: &mut Emitter<'_, S>) {
        while self.mode == Mode::Hunting && !self.hunt.is_empty() {
            self.hunt_scan(true, cx);
            self.drain_replay(cx);
        }
    }
}
