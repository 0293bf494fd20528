//! Unit tests of one direction's reassembly.

use super::*;
use crate::tcp::testkit::{Owned, Recorder};

const CX: StreamDir = StreamDir {
    stream: 0,
    dir: Dir::ClientToServer,
};
const BIG: Caps = Caps {
    max_bytes: 1 << 20,
    max_segments: 1 << 10,
};

fn f(n: u64) -> FrameRef {
    FrameRef::new(n, crate::position::Timestamp::default())
}

fn asm(isn: u32) -> Assembler {
    let mut a = Assembler::new(BIG);
    a.on_syn(Seq(isn));
    a
}

fn data(a: &mut Assembler, r: &mut Recorder, frame: u64, seq: u32, bytes: &[u8]) {
    a.on_data(CX, f(frame), Seq(seq), bytes, 0, r);
}

#[test]
fn in_order_bytes_pass_through_with_their_frames() {
    let mut r = Recorder::default();
    let mut a = asm(99);
    data(&mut a, &mut r, 2, 100, b"hello ");
    data(&mut a, &mut r, 3, 106, b"world");
    assert_eq!(
        r.events,
        vec![
            Owned::data(0, CX.dir, 2, 0, b"hello "),
            Owned::data(0, CX.dir, 3, 6, b"world"),
        ]
    );
    assert_eq!(a.stats.bytes, 11);
}

#[test]
fn out_of_order_segment_waits_for_the_hole() {
    let mut r = Recorder::default();
    let mut a = asm(0);
    data(&mut a, &mut r, 2, 4, b"defg");
    assert!(r.events.is_empty());
    assert_eq!(a.buffered_bytes(), 4);
    data(&mut a, &mut r, 3, 1, b"abc");
    assert_eq!(r.concat(CX.dir), b"abcdefg");
    assert_eq!(r.frames(CX.dir), vec![3, 2]);
    assert_eq!(a.stats.out_of_order_segments, 1);
    assert_eq!(a.buffered_bytes(), 0);
}

#[test]
fn first_copy_wins_and_mismatch_names_both_frames() {
    let mut r = Recorder::default();
    let mut a = asm(0);
    data(&mut a, &mut r, 5, 4, b"DEF");
    data(&mut a, &mut r, 6, 3, b"cxyz"); // overlaps the buffered DEF with different bytes
    data(&mut a, &mut r, 7, 1, b"ab");
    assert_eq!(r.concat(CX.dir), b"abcDEF");
    assert_eq!(a.stats.retransmitted_bytes, 3);
    assert_eq!(r.findings.len(), 1);
    let finding = &r.findings[0];
    assert_eq!(finding.code, "tcp.overlap_mismatch");
    assert!(finding.message.contains("frame 6") && finding.message.contains("frame 5"));
    assert_eq!(finding.offset, Some(3));
}

#[test]
fn in_order_segment_does_not_override_buffered_bytes() {
    let mut r = Recorder::default();
    let mut a = asm(0);
    data(&mut a, &mut r, 2, 3, b"CD");
    data(&mut a, &mut r, 3, 1, b"abcdef");
    assert_eq!(r.concat(CX.dir), b"abCDef");
    assert_eq!(r.frames(CX.dir), vec![3, 2, 3]);
    assert_eq!(r.findings.len(), 1);
}

#[test]
fn exact_and_partial_retransmissions_are_counted_not_delivered() {
    let mut r = Recorder::default();
    let mut a = asm(0);
    data(&mut a, &mut r, 2, 1, b"abcd");
    data(&mut a, &mut r, 3, 1, b"abcd");
    data(&mut a, &mut r, 4, 3, b"cdef");
    assert_eq!(r.concat(CX.dir), b"abcdef");
    assert_eq!(a.stats.retransmitted_bytes, 6);
}

#[test]
fn keep_alive_and_zero_window_probe_are_not_data() {
    let mut r = Recorder::default();
    let mut a = asm(0);
    data(&mut a, &mut r, 2, 1, b"abc");
    data(&mut a, &mut r, 3, 3, b"\0"); // seq = next - 1
    a.on_empty(Seq(3));
    a.on_peer_window(0);
    data(&mut a, &mut r, 4, 4, b"d"); // probe at next
    a.on_peer_window(1000);
    data(&mut a, &mut r, 5, 4, b"de");
    assert_eq!(r.concat(CX.dir), b"abcde");
    assert_eq!(a.stats.keep_alives, 2);
    assert_eq!(a.stats.zero_window_probes, 1);
    assert_eq!(a.stats.retransmitted_bytes, 0);
}

#[test]
fn snaplen_cut_is_a_gap_right_away() {
    let mut r = Recorder::default();
    let mut a = asm(0);
    a.on_data(CX, f(2), Seq(1), b"ab", 3, &mut r);
    data(&mut a, &mut r, 3, 6, b"f");
    assert_eq!(
        r.events,
        vec![
            Owned::data(0, CX.dir, 2, 0, b"ab"),
            Owned::gap(0, CX.dir, 2, 2, 3, GapReason::SnapLen),
            Owned::data(0, CX.dir, 3, 5, b"f"),
        ]
    );
}

#[test]
fn ack_beyond_a_hole_declares_it_lost_once_later_data_is_seen() {
    let mut r = Recorder::default();
    let mut a = asm(0);
    data(&mut a, &mut r, 2, 1, b"ab");
    a.on_peer_ack(CX, f(3), Seq(9), &mut r); // acks up to offset 8: nothing later seen yet
    assert_eq!(r.events.len(), 1);
    data(&mut a, &mut r, 4, 7, b"gh"); // offset 6..8
    assert_eq!(
        r.events[1..],
        [
            Owned::gap(0, CX.dir, 4, 2, 4, GapReason::Lost),
            Owned::data(0, CX.dir, 4, 6, b"gh"),
        ]
    );
}

#[test]
fn data_seen_just_after_its_ack_is_not_lost() {
    let mut r = Recorder::default();
    let mut a = asm(0);
    a.on_peer_ack(CX, f(2), Seq(4), &mut r);
    data(&mut a, &mut r, 3, 1, b"abc");
    assert_eq!(r.events, vec![Owned::data(0, CX.dir, 3, 0, b"abc")]);
}

#[test]
fn ooo_cap_forces_a_gap_with_one_finding() {
    let mut r = Recorder::default();
    let mut a = Assembler::new(Caps {
        max_bytes: 4,
        max_segments: 10,
    });
    a.on_syn(Seq(0));
    a.on_data(CX, f(2), Seq(3), b"cd", 0, &mut r);
    a.on_data(CX, f(3), Seq(6), b"fgh", 0, &mut r);
    assert_eq!(
        r.events,
        vec![
            Owned::gap(0, CX.dir, 3, 0, 2, GapReason::BufferLimit),
            Owned::data(0, CX.dir, 2, 2, b"cd"),
        ]
    );
    assert_eq!(a.buffered_bytes(), 3);
    // The late filler of the first hole is old now.
    a.on_data(CX, f(4), Seq(1), b"ab", 0, &mut r);
    assert_eq!(r.events.len(), 2);
    a.on_data(CX, f(5), Seq(10), b"jk", 0, &mut r);
    assert_eq!(
        r.events[2..],
        [
            Owned::gap(0, CX.dir, 5, 4, 1, GapReason::BufferLimit),
            Owned::data(0, CX.dir, 3, 5, b"fgh"),
        ]
    );
    assert_eq!(
        r.findings
            .iter()
            .filter(|x| x.code == "tcp.ooo_limit")
            .count(),
        1
    );
    assert_eq!(a.next_offset(), 8);
}

#[test]
fn fin_waits_for_the_bytes_before_it() {
    let mut r = Recorder::default();
    let mut a = asm(0);
    a.on_fin(CX, f(3), Seq(4), &mut r);
    assert!(r.events.is_empty());
    data(&mut a, &mut r, 4, 1, b"abc");
    assert_eq!(
        r.events,
        vec![
            Owned::data(0, CX.dir, 4, 0, b"abc"),
            Owned::fin(0, CX.dir, 3)
        ]
    );
    assert!(a.is_finished());
    data(&mut a, &mut r, 5, 2, b"bc"); // retransmission after FIN
    data(&mut a, &mut r, 6, 5, b"zz"); // data after FIN
    assert_eq!(r.events.len(), 2);
    assert_eq!(a.stats.retransmitted_bytes, 2);
    assert_eq!(a.stats.bytes_after_close, 2);
    assert_eq!(r.findings[0].code, "tcp.data_after_fin");
}

#[test]
fn buffered_data_beyond_a_fin_is_dropped() {
    let mut r = Recorder::default();
    let mut a = asm(0);
    data(&mut a, &mut r, 2, 3, b"cdef");
    a.on_fin(CX, f(3), Seq(5), &mut r); // FIN at offset 4: "ef" is after it
    data(&mut a, &mut r, 4, 1, b"ab");
    assert_eq!(r.concat(CX.dir), b"abcd");
    assert_eq!(r.events.last(), Some(&Owned::fin(0, CX.dir, 3)));
    assert_eq!(a.stats.bytes_after_close, 2);
}

#[test]
fn flush_turns_holes_into_gaps_acked_part_lost() {
    let mut r = Recorder::default();
    let mut a = asm(0);
    data(&mut a, &mut r, 2, 1, b"a");
    data(&mut a, &mut r, 3, 6, b"f");
    a.on_peer_ack(CX, f(4), Seq(4), &mut r); // acks offsets < 3 only
    a.flush(CX, f(9), GapReason::EndOfCapture, &mut r);
    assert_eq!(
        r.events,
        vec![
            Owned::data(0, CX.dir, 2, 0, b"a"),
            Owned::gap(0, CX.dir, 4, 1, 2, GapReason::Lost),
            Owned::gap(0, CX.dir, 9, 3, 2, GapReason::EndOfCapture),
            Owned::data(0, CX.dir, 3, 5, b"f"),
        ]
    );
}

#[test]
fn flush_reports_acked_bytes_never_seen_but_not_a_missed_fin() {
    let mut r = Recorder::default();
    let mut a = asm(0);
    data(&mut a, &mut r, 2, 1, b"ab");
    a.on_peer_ack(CX, f(3), Seq(4), &mut r); // one past the data: a FIN we missed
    a.flush(CX, f(4), GapReason::EndOfCapture, &mut r);
    assert_eq!(r.events.len(), 1);

    let mut r = Recorder::default();
    let mut a = asm(0);
    data(&mut a, &mut r, 2, 1, b"ab");
    a.on_peer_ack(CX, f(3), Seq(11), &mut r);
    a.flush(CX, f(4), GapReason::EndOfCapture, &mut r);
    assert_eq!(r.events[1], Owned::gap(0, CX.dir, 4, 2, 8, GapReason::Lost));
}

#[test]
fn midstream_first_byte_is_offset_zero_and_earlier_acks_are_no_gap() {
    let mut r = Recorder::default();
    let mut a = Assembler::new(BIG);
    a.on_peer_ack(CX, f(1), Seq(1000), &mut r);
    data(&mut a, &mut r, 2, 5000, b"xy");
    assert_eq!(r.events, vec![Owned::data(0, CX.dir, 2, 0, b"xy")]);
}

#[test]
fn midstream_keep_alive_before_any_data_is_not_the_origin() {
    let mut r = Recorder::default();
    let mut a = Assembler::new(BIG);
    a.on_peer_ack(CX, f(1), Seq(5000), &mut r);
    data(&mut a, &mut r, 2, 4999, b"\0");
    data(&mut a, &mut r, 3, 5000, b"real");
    assert_eq!(r.events, vec![Owned::data(0, CX.dir, 3, 0, b"real")]);
    assert_eq!(a.stats.keep_alives, 1);
}

#[test]
fn wraparound_is_seamless() {
    let mut r = Recorder::default();
    let mut a = asm(u32::MAX - 3);
    data(&mut a, &mut r, 3, 1, b"efgh"); // after the wrap: offsets 5..9
    data(&mut a, &mut r, 2, u32::MAX - 2, b"abcde"); // offsets 0..5, crossing 2^32
    assert_eq!(r.concat(CX.dir), b"abcdefgh");
    a.on_fin(CX, f(4), Seq(5), &mut r);
    assert_eq!(r.events.last(), Some(&Owned::fin(0, CX.dir, 4)));
}

#[test]
fn implausibly_far_segments_and_acks_are_ignored() {
    let mut r = Recorder::default();
    let mut a = asm(0);
    data(&mut a, &mut r, 2, 1, b"a");
    data(&mut a, &mut r, 3, 1 << 31, b"far");
    a.on_peer_ack(CX, f(4), Seq(3 << 30), &mut r);
    data(&mut a, &mut r, 5, 2, b"b");
    a.flush(CX, f(6), GapReason::EndOfCapture, &mut r);
    assert_eq!(r.concat(CX.dir), b"ab");
    assert_eq!(r.events.len(), 2);
    assert_eq!(a.stats.out_of_window_segments, 1);
    assert_eq!(r.findings[0].code, "tcp.out_of_window");
}

#[test]
fn a_peer_syn_ack_fixes_the_origin_of_a_direction_without_syn() {
    let mut r = Recorder::default();
    let mut a = Assembler::new(BIG);
    a.on_peer_syn_ack(Seq(101));
    data(&mut a, &mut r, 3, 111, b"k");
    a.flush(CX, f(4), GapReason::EndOfCapture, &mut r);
    assert_eq!(
        r.events,
        vec![
            Owned::gap(0, CX.dir, 4, 0, 10, GapReason::EndOfCapture),
            Owned::data(0, CX.dir, 3, 10, b"k"),
        ]
    );
}

#[test]
fn syn_ack_with_new_isn_moves_a_pristine_origin() {
    let mut r = Recorder::default();
    let mut a = asm(100);
    a.on_syn(Seq(500));
    data(&mut a, &mut r, 2, 501, b"ok");
    assert_eq!(r.events, vec![Owned::data(0, CX.dir, 2, 0, b"ok")]);
}

#[test]
fn a_jump_of_half_the_sequence_space_or_more_is_out_of_window_not_retransmitted() {
    let mut r = Recorder::default();
    let mut a = asm(0);
    data(&mut a, &mut r, 2, 1, b"abc");
    // 2^31 + 100 ahead: its signed distance says "behind".
    let far = 4u32.wrapping_add((1 << 31) + 100);
    data(&mut a, &mut r, 3, far, b"hidden");
    data(&mut a, &mut r, 4, far.wrapping_add(6), b"more");
    a.on_fin(CX, f(5), Seq(far.wrapping_add(10)), &mut r);
    a.flush(CX, f(6), GapReason::EndOfCapture, &mut r);
    assert_eq!(r.concat(CX.dir), b"abc");
    assert_eq!(a.stats.retransmitted_bytes, 0, "not retransmissions");
    assert_eq!(
        a.stats.out_of_window_segments, 3,
        "two segments and the FIN"
    );
    let codes: Vec<&str> = r.findings.iter().map(|f| f.code.code()).collect();
    assert_eq!(codes, ["tcp.out_of_window", "tcp.out_of_window"]);
    assert!(
        r.findings[0].message.contains("behind"),
        "{}",
        r.findings[0].message
    );
    assert!(
        r.findings[1].message.starts_with("3 segments (10 bytes)"),
        "{}",
        r.findings[1].message
    );
}

#[test]
fn retransmissions_within_a_window_behind_are_still_retransmissions() {
    let mut r = Recorder::default();
    let mut a = asm(0);
    data(&mut a, &mut r, 2, 1, b"abcdef");
    data(&mut a, &mut r, 3, 1, b"abc");
    a.flush(CX, f(4), GapReason::EndOfCapture, &mut r);
    assert_eq!(a.stats.retransmitted_bytes, 3);
    assert_eq!(a.stats.out_of_window_segments, 0);
    assert!(r.findings.is_empty());
}
