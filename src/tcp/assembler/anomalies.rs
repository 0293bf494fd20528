//! What one direction's reassembly says about bytes it could not use as
//! they came: retransmissions that differ from the first copy, segments far
//! outside the window, data after this direction's FIN or after a RST.
//!
//! Takes the assembler and the segment's place; gives counts in its stats and
//! at most a few findings per kind. Never changes what is delivered.

use super::*;
use crate::tcp::FindingCode;

impl Assembler {
    pub(super) fn record_overlap(
        &mut self,
        cx: StreamDir,
        at: FrameRef,
        overlap: Overlap,
        sink: &mut impl Sink,
    ) {
        self.stats.retransmitted_bytes += overlap.copied;
        let Some((first, offset)) = overlap.first_conflict else {
            return;
        };
        let reported = self.stats.conflicting_overlaps;
        self.stats.conflicting_overlaps += overlap.conflicts;
        if reported < MAX_MISMATCH_FINDINGS {
            sink.push_finding(
                Finding::new(
                    FindingCode::OverlapMismatch,
                    format!(
                        "bytes retransmitted in frame {} differ from the first copy in frame {}; the first copy is kept",
                        at.frame, first.frame
                    ),
                )
                .at(at)
                .in_stream(cx.stream, Some(cx.dir))
                .at_offset(offset),
            );
        }
    }

    /// A segment or FIN more than a window away from the receive point,
    /// ahead or behind: counted and ignored, said once when first met and
    /// once in total when the direction ends.
    pub(super) fn note_out_of_window(
        &mut self,
        cx: StreamDir,
        at: FrameRef,
        seq: Seq,
        span: u64,
        sink: &mut impl Sink,
    ) {
        self.stats.out_of_window_segments += 1;
        self.out_of_window_bytes += span;
        if self.stats.out_of_window_segments == 1 {
            let side = if seq.diff(self.next_seq) >= 0 {
                "ahead of"
            } else {
                "behind"
            };
            sink.push_finding(
                Finding::new(
                    FindingCode::OutOfWindow,
                    format!(
                        "segment at sequence number {seq} is more than 2^30 bytes (the largest TCP window) {side} the next expected byte ({}): neither new data nor a retransmission, so it is ignored (a receiver would drop it too); the sequence numbers may have been rewritten or the capture mixes two connections",
                        self.next_seq
                    ),
                )
                .at(at)
                .in_stream(cx.stream, Some(cx.dir))
                .at_offset(self.next_off),
            );
        }
    }

    /// At the end of the direction: how much was ignored as out of window,
    /// when more than the first segment was.
    pub(super) fn note_out_of_window_total(
        &mut self,
        cx: StreamDir,
        at: FrameRef,
        sink: &mut impl Sink,
    ) {
        let segments = self.stats.out_of_window_segments;
        if segments < 2 || self.noted_out_of_window_total {
            return;
        }
        self.noted_out_of_window_total = true;
        sink.push_finding(
            Finding::new(
                FindingCode::OutOfWindow,
                format!(
                    "{segments} segments ({} bytes) in all were more than 2^30 bytes from the next expected byte ({}) and ignored; the stream after them is not analysed",
                    self.out_of_window_bytes, self.next_seq
                ),
            )
            .at(at)
            .in_stream(cx.stream, Some(cx.dir))
            .at_offset(self.next_off),
        );
    }

    pub(super) fn note_after_fin(
        &mut self,
        cx: StreamDir,
        at: FrameRef,
        fin_off: u64,
        bytes: u64,
        sink: &mut impl Sink,
    ) {
        self.stats.bytes_after_close += bytes;
        if !self.noted_after_fin {
            self.noted_after_fin = true;
            sink.push_finding(
                Finding::new(
                    FindingCode::DataAfterFin,
                    format!(
                        "{bytes} bytes sent after this direction's FIN at offset {fin_off}; they are not part of the stream"
                    ),
                )
                .at(at)
                .in_stream(cx.stream, Some(cx.dir))
                .at_offset(fin_off),
            );
        }
    }

    /// Payload after the FIN was delivered, or after a RST.
    pub(super) fn on_late_data(
        &mut self,
        cx: StreamDir,
        at: FrameRef,
        seq: Seq,
        captured: u64,
        span: u64,
        sink: &mut impl Sink,
    ) {
        let end = seq + span as u32;
        match self.phase {
            Phase::Finished if end.diff(self.fin_seq) > 0 => {
                let beyond = (end.diff(self.fin_seq) as u64).min(captured);
                self.stats.retransmitted_bytes += captured - beyond;
                self.note_after_fin(cx, at, self.next_off, beyond, sink);
            }
            Phase::Closed if end.diff(self.next_seq) > 0 => {
                self.stats.bytes_after_close += captured;
            }
            _ => self.stats.retransmitted_bytes += captured,
        }
    }
}
