//! Stream-level tests of the TCP stage: stream indexes, roles, closing,
//! limits, and property tests of reassembly against a first-seen byte model.

use std::time::Duration;

use proptest::prelude::*;

use crate::limits::Limits;
use crate::position::{Dir, FrameRef, Timestamp};

use super::event::{Ending, GapReason, Origin, StreamStats};
use super::testkit::{addr, frame, seg, Owned, Recorder, Seg};
use super::Reassembler;

const C: &str = "10.0.0.1:50000";
const S: &str = "10.0.0.2:8445";
const C2S: Dir = Dir::ClientToServer;
const S2C: Dir = Dir::ServerToClient;

/// Feeds segments as frames 1, 2, 3... (one second apart), then finishes.
fn run_with(limits: &Limits, segs: &[Seg]) -> Recorder {
    let mut r = Recorder::default();
    let mut t = Reassembler::new(limits);
    for (i, s) in segs.iter().enumerate() {
        t.on_segment(frame(i as u64 + 1), &s.view(), &mut r);
    }
    t.finish(&mut r);
    r.assert_well_formed();
    r
}

fn run(segs: &[Seg]) -> Recorder {
    run_with(&Limits::default(), segs)
}

/// SYN, SYN-ACK, ACK with the given ISNs.
fn handshake(isn_c: u32, isn_s: u32) -> Vec<Seg> {
    vec![
        seg(C, S).seq(isn_c).syn(),
        seg(S, C).seq(isn_s).ack(isn_c + 1).syn(),
        seg(C, S).seq(isn_c + 1).ack(isn_s + 1),
    ]
}

fn opened(r: &Recorder) -> Vec<(u64, String, String, Origin)> {
    r.events
        .iter()
        .filter_map(|e| match e {
            Owned::Opened {
                stream,
                client,
                server,
                origin,
                ..
            } => Some((*stream, client.to_string(), server.to_string(), *origin)),
            _ => None,
        })
        .collect()
}

fn stats_of(r: &Recorder, stream: u64) -> StreamStats {
    r.closed()
        .into_iter()
        .find(|s| s.stream == stream)
        .cloned()
        .unwrap()
}

#[test]
fn full_connection_gives_data_fins_and_final_stats() {
    let mut segs = handshake(1000, 5000);
    segs.push(
        seg(C, S)
            .seq(1001)
            .ack(5001)
            .data(b"GET / HTTP/1.1\r\n\r\n"),
    );
    segs.push(
        seg(S, C)
            .seq(5001)
            .ack(1019)
            .data(b"HTTP/1.1 200 OK\r\n\r\n"),
    );
    segs.push(seg(C, S).seq(1019).ack(5020).fin());
    segs.push(seg(S, C).seq(5020).ack(1020).fin());
    segs.push(seg(C, S).seq(1020).ack(5021));
    let r = run(&segs);
    assert_eq!(opened(&r), vec![(0, C.into(), S.into(), Origin::Handshake)]);
    assert_eq!(r.concat(C2S), b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(r.concat(S2C), b"HTTP/1.1 200 OK\r\n\r\n");
    assert!(r.events.contains(&Owned::fin(0, C2S, 6)));
    assert!(r.events.contains(&Owned::fin(0, S2C, 7)));
    let st = stats_of(&r, 0);
    assert_eq!((st.first.frame, st.last.frame), (1, 8));
    assert_eq!(
        (st.client_to_server.packets, st.server_to_client.packets),
        (5, 3)
    );
    assert_eq!(
        (st.client_to_server.bytes, st.server_to_client.bytes),
        (18, 19)
    );
    assert!(st.syn_seen && st.syn_ack_seen && st.fin_from_client && st.fin_from_server);
    assert_eq!((st.rst_from, st.ending), (None, Ending::Fin));
    assert!(r.findings.is_empty(), "{:?}", r.findings);
}

#[test]
fn new_syn_with_another_isn_on_a_closed_tuple_is_a_new_stream() {
    let mut segs = handshake(1000, 5000);
    segs.push(seg(C, S).seq(1001).ack(5001).fin());
    segs.push(seg(S, C).seq(5001).ack(1002).fin());
    segs.push(seg(C, S).seq(1002).ack(5002));
    segs.extend(handshake(90_000, 7000));
    segs.push(seg(C, S).seq(90_001).ack(7001).data(b"again"));
    let r = run(&segs);
    let o = opened(&r);
    assert_eq!(o.len(), 2);
    assert_eq!(o[1], (1, C.into(), S.into(), Origin::Handshake));
    // The old stream ends before the new one opens.
    let closed_at = r
        .events
        .iter()
        .position(|e| matches!(e, Owned::Closed { stream: 0, .. }));
    let opened_at = r
        .events
        .iter()
        .position(|e| matches!(e, Owned::Opened { stream: 1, .. }));
    assert!(closed_at < opened_at);
    assert_eq!(stats_of(&r, 0).ending, Ending::Fin);
    assert_eq!(r.concat(C2S), b"again");
}

#[test]
fn retransmitted_syn_keeps_the_stream() {
    let segs = vec![
        seg(C, S).seq(1000).syn(),
        seg(C, S).seq(1000).syn(),
        seg(S, C).seq(5000).ack(1001).syn(),
        seg(S, C).seq(5000).ack(1001).syn(),
        seg(C, S).seq(1001).ack(5001).data(b"x"),
    ];
    let r = run(&segs);
    assert_eq!(opened(&r).len(), 1);
    assert_eq!(stats_of(&r, 0).client_to_server.packets, 3);
}

#[test]
fn syn_on_an_open_tuple_with_another_isn_closes_it_as_port_reused() {
    let mut segs = handshake(1000, 5000);
    segs.push(seg(C, S).seq(1001).ack(5001).data(b"abc"));
    segs.push(seg(C, S).seq(777).syn());
    let r = run(&segs);
    assert_eq!(opened(&r).len(), 2);
    assert_eq!(stats_of(&r, 0).ending, Ending::PortReused);
    assert_eq!(stats_of(&r, 1).ending, Ending::OpenAtEnd);
}

#[test]
fn syn_after_rst_with_the_same_isn_stays_in_the_stream_as_in_wireshark_4_0() {
    let mut segs = handshake(1000, 5000);
    segs.push(seg(S, C).seq(5001).ack(1001).rst());
    segs.push(seg(C, S).seq(1000).syn());
    let r = run(&segs);
    assert_eq!(opened(&r).len(), 1);
    assert!(r.events.contains(&Owned::Rst {
        stream: 0,
        dir: S2C,
        frame: 4
    }));
}

#[test]
fn syn_after_a_midstream_start_starts_a_new_stream() {
    // The first packet sets base_seq to seq - 1; a later SYN differs from it.
    let segs = vec![
        seg(C, S).seq(1000).ack(1).data(b"old"),
        seg(C, S).seq(2000).syn(),
    ];
    let r = run(&segs);
    assert_eq!(opened(&r).len(), 2);
}

#[test]
fn server_ack_fixes_the_client_base_seq_so_its_syn_with_that_isn_is_the_same_stream() {
    // SYN-ACK first: the client's base_seq is ack - 1, so its (late) SYN matches.
    let segs = vec![
        seg(S, C).seq(5000).ack(1001).syn(),
        seg(C, S).seq(1000).syn(),
        seg(C, S).seq(1001).ack(5001).data(b"hi"),
    ];
    let r = run(&segs);
    assert_eq!(opened(&r), vec![(0, C.into(), S.into(), Origin::SynAck)]);
    assert_eq!(r.concat(C2S), b"hi");
}

#[test]
fn syn_ack_only_start_makes_its_sender_the_server() {
    let segs = vec![
        seg(S, C).seq(5000).ack(1001).syn(),
        seg(C, S).seq(1001).ack(5001).data(b"hello"),
        seg(S, C).seq(5001).ack(1006).data(b"world"),
    ];
    let r = run(&segs);
    assert_eq!(opened(&r), vec![(0, C.into(), S.into(), Origin::SynAck)]);
    assert_eq!(r.concat(C2S), b"hello");
    assert_eq!(r.concat(S2C), b"world");
    let st = stats_of(&r, 0);
    assert!(!st.syn_seen && st.syn_ack_seen);
}

#[test]
fn mid_stream_start_uses_the_service_port_for_roles() {
    // The server speaks first in the capture; 8445 still makes it the server.
    let segs = vec![
        seg(S, C).seq(9000).ack(3000).data(b"push"),
        seg(C, S).seq(3000).ack(9004).data(b"ack"),
    ];
    let r = run(&segs);
    assert_eq!(opened(&r), vec![(0, C.into(), S.into(), Origin::MidStream)]);
    assert_eq!(r.concat(S2C), b"push");
    assert_eq!(r.concat(C2S), b"ack");
}

#[test]
fn mid_stream_start_between_high_ports_takes_the_first_sender_as_client() {
    let a = "10.0.0.5:40001";
    let b = "10.0.0.6:40002";
    let segs = vec![seg(b, a).seq(1).data(b"x"), seg(a, b).seq(1).data(b"y")];
    let r = run(&segs);
    assert_eq!(opened(&r), vec![(0, b.into(), a.into(), Origin::MidStream)]);
}

#[test]
fn both_directions_are_one_stream_and_streams_count_in_first_packet_order() {
    let c2 = "10.0.0.3:50001";
    let segs = vec![
        seg(C, S).seq(1).syn(),
        seg(c2, S).seq(1).syn(),
        seg(S, c2).seq(10).ack(2).syn(),
        seg(S, C).seq(20).ack(2).syn(),
    ];
    let r = run(&segs);
    let o = opened(&r);
    assert_eq!(o.len(), 2);
    assert_eq!((o[0].1.as_str(), o[1].1.as_str()), (C, c2));
    assert_eq!(stats_of(&r, 1).server_to_client.packets, 1);
}

/// The findings of code `code`.
fn findings_of<'r>(r: &'r Recorder, code: &str) -> Vec<&'r crate::finding::Finding> {
    r.findings.iter().filter(|f| f.code == code).collect()
}

#[test]
fn rst_flushes_and_ends_the_stream_and_later_packets_stay_in_it_as_late() {
    let mut segs = handshake(0, 0);
    segs.push(seg(C, S).seq(5).ack(1).data(b"later")); // offset 4: hole before it
    segs.push(seg(S, C).seq(1).ack(1).rst());
    segs.push(seg(C, S).seq(1).ack(1).data(b"abcd")); // too late
    segs.push(seg(S, C).seq(1).ack(1).rst());
    let r = run(&segs);
    assert_eq!(opened(&r).len(), 1);
    let tail: Vec<_> = r.events.iter().skip(1).cloned().collect();
    assert_eq!(tail.len(), 4, "{tail:?}");
    assert_eq!(
        tail[..3],
        [
            Owned::gap(0, C2S, 5, 0, 4, GapReason::Closed),
            Owned::data(0, C2S, 4, 4, b"later"),
            Owned::Rst {
                stream: 0,
                dir: S2C,
                frame: 5
            },
        ]
    );
    // Closed at the RST itself, not at the end of the capture.
    assert!(matches!(
        tail[3],
        Owned::Closed {
            stream: 0,
            frame: 5,
            ..
        }
    ));
    let st = stats_of(&r, 0);
    assert_eq!((st.rst_from, st.ending), (Some(S2C), Ending::Rst));
    assert_eq!(st.client_to_server.bytes_after_close, 0);
    assert_eq!(st.client_to_server.retransmitted_bytes, 0);
    assert_eq!(
        (st.client_to_server.packets, st.server_to_client.packets),
        (3, 2)
    );
    let late = findings_of(&r, "tcp.late_packets");
    assert_eq!(late.len(), 1);
    assert_eq!((late[0].frame, late[0].stream), (Some(6), Some(0)));
    assert!(late[0]
        .message
        .starts_with("2 packets came for 1 stream already closed"));
}

/// The usual teardown: the last ACK (of the second FIN) ends the stream
/// then; a late ACK or FIN retransmission after it stays in its
/// `tcp.stream` (one stream opened) but in no statistics.
#[test]
fn a_late_ack_after_both_fins_stays_in_the_stream_and_is_counted_late() {
    let mut segs = handshake(1000, 5000);
    segs.push(seg(C, S).seq(1001).ack(5001).data(b"hi"));
    segs.push(seg(C, S).seq(1003).ack(5001).fin()); // frame 5
    segs.push(seg(S, C).seq(5001).ack(1004).fin()); // frame 6: acks the client's FIN
    segs.push(seg(C, S).seq(1004).ack(5002)); // frame 7: acks the server's: done
    segs.push(seg(C, S).seq(1004).ack(5002)); // frame 8: a duplicate ACK, late
    segs.push(seg(S, C).seq(5001).ack(1004).fin()); // frame 9: a FIN again, late
    let r = run(&segs);
    assert_eq!(opened(&r).len(), 1);
    let closed = r.events.iter().position(|e| {
        matches!(
            e,
            Owned::Closed {
                stream: 0,
                frame: 7,
                ..
            }
        )
    });
    assert_eq!(closed, Some(r.events.len() - 1), "{:?}", r.events);
    let st = stats_of(&r, 0);
    assert_eq!((st.ending, st.last.frame), (Ending::Fin, 7));
    assert_eq!(
        (st.client_to_server.packets, st.server_to_client.packets),
        (5, 2)
    );
    assert_eq!(st.server_to_client.retransmitted_bytes, 0);
    let late = findings_of(&r, "tcp.late_packets");
    assert_eq!(late.len(), 1);
    assert_eq!((late[0].frame, late[0].stream), (Some(8), Some(0)));
    assert!(late[0]
        .message
        .starts_with("2 packets came for 1 stream already"));
}

/// Both FINs, and the ACK of the first, but the second FIN acknowledged
/// only later: the stream stays until that ACK, with everything before it.
#[test]
fn the_stream_ends_at_the_ack_of_the_second_fin_whichever_side_acks_last() {
    let mut segs = handshake(1000, 5000);
    segs.push(seg(S, C).seq(5001).ack(1001).fin()); // frame 4: the server first
    segs.push(seg(C, S).seq(1001).ack(5001).data(b"tail")); // frame 5: not yet acking the FIN
    segs.push(seg(C, S).seq(1005).ack(5002).fin()); // frame 6: acks it, its own FIN
    segs.push(seg(S, C).seq(5002).ack(1005)); // frame 7: short of the FIN: not done
    segs.push(seg(S, C).seq(5002).ack(1006)); // frame 8: done
    let r = run(&segs);
    assert_eq!(r.concat(C2S), b"tail");
    let st = stats_of(&r, 0);
    assert_eq!((st.ending, st.last.frame), (Ending::Fin, 8));
    assert!(findings_of(&r, "tcp.late_packets").is_empty());
}

/// One side's FIN, acknowledged, while the other keeps sending: the
/// stream stays open (half-closed) and delivers that side's bytes.
#[test]
fn one_fin_only_keeps_the_stream_open() {
    let mut segs = handshake(1000, 5000);
    segs.push(seg(C, S).seq(1001).ack(5001).fin()); // frame 4
    segs.push(seg(S, C).seq(5001).ack(1002).data(b"still")); // frame 5
    segs.push(seg(C, S).seq(1002).ack(5006)); // frame 6
    segs.push(seg(S, C).seq(5006).ack(1002).data(b" here")); // frame 7
    let r = run(&segs);
    assert_eq!(r.concat(S2C), b"still here");
    let closed: Vec<_> = r
        .closed()
        .iter()
        .map(|s| (s.ending, s.last.frame))
        .collect();
    assert_eq!(closed, vec![(Ending::OpenAtEnd, 7)]);
    // Closed by the capture's end only, after every other event.
    assert!(matches!(
        r.events.last(),
        Some(Owned::Closed { frame: 7, .. })
    ));
    assert!(findings_of(&r, "tcp.late_packets").is_empty());
}

/// After a close by FINs, a new SYN with another ISN on the same
/// 4-tuple is a new stream, opened after the old one's `Closed`; a SYN
/// with the old ISN is a late retransmission of the old one.
#[test]
fn a_new_syn_after_the_close_opens_a_new_stream_and_the_old_isn_does_not() {
    let mut segs = handshake(1000, 5000);
    segs.push(seg(C, S).seq(1001).ack(5001).fin());
    segs.push(seg(S, C).seq(5001).ack(1002).fin());
    segs.push(seg(C, S).seq(1002).ack(5002)); // frame 6: done
    segs.push(seg(C, S).seq(1000).syn()); // frame 7: the old ISN: late
    segs.extend(handshake(90_000, 7000)); // frames 8-10: stream 1
    segs.push(seg(C, S).seq(90_001).ack(7001).data(b"again"));
    let r = run(&segs);
    let o = opened(&r);
    assert_eq!(o.iter().map(|o| o.0).collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(stats_of(&r, 0).last.frame, 6);
    let first = stats_of(&r, 1);
    assert_eq!((first.first.frame, first.client_to_server.packets), (8, 3));
    let late = findings_of(&r, "tcp.late_packets");
    assert_eq!(late.len(), 1);
    assert_eq!((late[0].frame, late[0].stream), (Some(7), Some(0)));
    assert!(late[0]
        .message
        .starts_with("1 packet came for 1 stream already"));
}

#[test]
fn keep_alives_and_zero_window_probes_are_not_data() {
    let mut segs = handshake(0, 0);
    segs.push(seg(C, S).seq(1).ack(1).data(b"abc"));
    segs.push(seg(S, C).seq(1).ack(4).window(0));
    segs.push(seg(C, S).seq(4).ack(1).data(b"d")); // zero-window probe
    segs.push(seg(S, C).seq(1).ack(4).window(8192));
    segs.push(seg(C, S).seq(3).ack(1).data(b"\0")); // keep-alive with one byte
    segs.push(seg(C, S).seq(3).ack(1)); // keep-alive without
    segs.push(seg(C, S).seq(4).ack(1).data(b"de"));
    let r = run(&segs);
    assert_eq!(r.concat(C2S), b"abcde");
    let st = stats_of(&r, 0).client_to_server;
    assert_eq!(
        (
            st.keep_alives,
            st.zero_window_probes,
            st.retransmitted_bytes
        ),
        (2, 1, 0)
    );
}

#[test]
fn snaplen_cut_gives_captured_bytes_then_a_snaplen_gap() {
    let mut segs = handshake(0, 0);
    segs.push(seg(C, S).seq(1).ack(1).data(b"head").missing(96));
    segs.push(seg(C, S).seq(101).ack(1).data(b"next"));
    let r = run(&segs);
    assert_eq!(
        r.events[1..4],
        [
            Owned::data(0, C2S, 4, 0, b"head"),
            Owned::gap(0, C2S, 4, 4, 96, GapReason::SnapLen),
            Owned::data(0, C2S, 5, 100, b"next"),
        ]
    );
}

#[test]
fn tfo_data_on_the_syn_is_data() {
    let segs = vec![
        seg(C, S).seq(100).syn().data(b"early"),
        seg(S, C).seq(700).ack(106).syn(),
        seg(C, S).seq(106).ack(701).data(b"!"),
    ];
    let r = run(&segs);
    assert_eq!(r.concat(C2S), b"early!");
}

#[test]
fn ooo_cap_gives_a_buffer_limit_gap_and_one_finding() {
    let limits = Limits {
        max_ooo_bytes_per_dir: 8,
        max_ooo_segments_per_dir: 2,
        ..Limits::default()
    };
    let mut segs = handshake(0, 0);
    for i in 0..5u32 {
        segs.push(seg(C, S).seq(11 + 4 * i).ack(1).data(b"wxyz"));
    }
    let r = run_with(&limits, &segs);
    assert_eq!(
        r.events[1],
        Owned::gap(0, C2S, 6, 0, 10, GapReason::BufferLimit)
    );
    assert_eq!(
        r.findings
            .iter()
            .filter(|f| f.code == "tcp.ooo_limit")
            .count(),
        1
    );
    assert_eq!(r.concat(C2S).len(), 20);
}

#[test]
fn data_after_fin_is_a_finding_and_not_delivered() {
    let mut segs = handshake(0, 0);
    segs.push(seg(C, S).seq(1).ack(1).data(b"ok").fin());
    segs.push(seg(C, S).seq(4).ack(1).data(b"bad"));
    let r = run(&segs);
    assert_eq!(r.concat(C2S), b"ok");
    assert_eq!(r.findings[0].code, "tcp.data_after_fin");
    assert_eq!(stats_of(&r, 0).client_to_server.bytes_after_close, 3);
}

/// Feeds `(seconds since the first frame, segment)` as frames 1, 2, 3..., then finishes.
fn run_timed(limits: &Limits, segs: &[(i64, Seg)]) -> Recorder {
    let mut r = Recorder::default();
    let mut t = Reassembler::new(limits);
    for (i, (secs, s)) in segs.iter().enumerate() {
        let at = FrameRef::new(
            i as u64 + 1,
            Timestamp::from_secs_nanos(1_700_000_000 + secs, 0),
        );
        t.on_segment(at, &s.view(), &mut r);
    }
    t.finish(&mut r);
    r.assert_well_formed();
    r
}

const HOUR: i64 = 3600;
const YEAR: i64 = 365 * 86_400;

#[test]
fn a_connection_silent_for_two_hours_stays_one_stream() {
    let mut segs: Vec<(i64, Seg)> = handshake(1000, 5000).into_iter().map(|s| (0, s)).collect();
    segs.push((1, seg(C, S).seq(1001).ack(5001).data(b"before")));
    segs.push((2 * HOUR, seg(C, S).seq(1007).ack(5001).data(b"after")));
    segs.push((2 * HOUR, seg("10.0.0.9:1", S).seq(1).data(b"other")));
    let r = run_timed(&Limits::default(), &segs);
    assert_eq!(opened(&r).len(), 2);
    assert_eq!(r.concat(C2S), b"beforeafterother");
    let st = stats_of(&r, 0);
    assert_eq!((st.ending, st.last.frame), (Ending::OpenAtEnd, 5));
    assert_eq!(
        st.last.ts.nanos_since(st.first.ts),
        2 * HOUR * 1_000_000_000
    );
}

/// As tshark 4.0.17 numbers the same packets: one stream, the glitched
/// frame shown with its own date.
#[test]
fn a_frame_dated_forty_years_later_does_not_split_the_stream() {
    let mut segs: Vec<(i64, Seg)> = handshake(1000, 5000).into_iter().map(|s| (0, s)).collect();
    segs.push((1, seg(C, S).seq(1001).ack(5001).data(b"a")));
    segs.push((40 * YEAR, seg(S, C).seq(5001).ack(1002).data(b"glitch")));
    segs.push((2, seg(C, S).seq(1002).ack(5007).data(b"b")));
    segs.push((3, seg("10.0.0.9:1", S).seq(1).data(b"c")));
    let r = run_timed(&Limits::default(), &segs);
    assert_eq!(
        opened(&r).iter().map(|o| o.0).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert_eq!(r.concat(S2C), b"glitch");
    let glitch = r.events.iter().find_map(|e| match e {
        Owned::Data { frame: 5, .. } => Some(()),
        _ => None,
    });
    assert!(glitch.is_some());
    let st = stats_of(&r, 0);
    assert_eq!(st.last.frame, 6);
    assert_eq!(st.last.ts.nanos_since(st.first.ts), 2_000_000_000);
}

#[test]
fn frames_dated_before_the_first_give_no_negative_duration() {
    let segs = vec![
        (100, seg(C, S).seq(1).ack(1).data(b"a")),
        (50, seg(S, C).seq(1).ack(2).data(b"b")),
        (-40 * YEAR, seg(C, S).seq(2).ack(2).data(b"c")),
    ];
    let r = run_timed(&Limits::default(), &segs);
    let st = stats_of(&r, 0);
    assert_eq!(st.last.frame, 3);
    assert_eq!(st.last.ts, st.first.ts);
    assert_eq!(r.concat(C2S), b"ac");
}

#[test]
fn syn_after_fin_with_the_same_isn_stays_in_the_stream_as_in_wireshark_4_0() {
    let mut segs = handshake(1000, 5000);
    segs.push(seg(C, S).seq(1001).ack(5001).fin());
    segs.push(seg(S, C).seq(5001).ack(1002).fin());
    segs.push(seg(C, S).seq(1002).ack(5002));
    segs.extend(handshake(1000, 5000));
    let r = run(&segs);
    assert_eq!(opened(&r).len(), 1);
    // The handshake again comes after the stream ended: late, in no statistics.
    assert_eq!(stats_of(&r, 0).client_to_server.packets, 4);
    let late = findings_of(&r, "tcp.late_packets");
    assert!(late.len() == 1 && late[0].message.starts_with("3 packets came for 1 stream"));
}

/// A stream reset is released at once; later packets of its 4-tuple keep
/// being numbered by Wireshark's rule, however late.
#[test]
fn released_streams_keep_their_number() {
    let limits = Limits {
        flow_idle_timeout: Duration::from_secs(10),
        ..Limits::default()
    };
    let mut segs: Vec<(i64, Seg)> = handshake(1000, 5000).into_iter().map(|s| (0, s)).collect();
    segs.push((1, seg(S, C).seq(5001).ack(1001).rst())); // frame 4: released
    segs.push((5, seg(S, C).seq(5001).ack(1001).rst())); // late
    segs.push((20, seg("10.0.0.9:1", S).seq(1).data(b"x"))); // stream 1
    segs.push((HOUR, seg(S, C).seq(5001).ack(1001).rst())); // late, an hour on
    segs.push((HOUR, seg(C, S).seq(1000).syn())); // the old ISN again: late
    segs.push((HOUR + 1, seg(C, S).seq(77_000).syn())); // a new ISN: a new stream
    let r = run_timed(&limits, &segs);
    assert_eq!(
        opened(&r).iter().map(|o| o.0).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    let closed_at = r.events.iter().position(|e| {
        matches!(
            e,
            Owned::Closed {
                stream: 0,
                frame: 4,
                ..
            }
        )
    });
    let late_rst = r.events.iter().position(|e| {
        matches!(
            e,
            Owned::Rst {
                stream: 0,
                frame: 5,
                ..
            }
        )
    });
    assert_eq!(closed_at, Some(2), "right after its RST: {:?}", r.events);
    assert_eq!(late_rst, None, "a late RST says nothing");
    let st = stats_of(&r, 0);
    assert_eq!((st.ending, st.server_to_client.packets), (Ending::Rst, 2));
    let late = findings_of(&r, "tcp.late_packets");
    assert_eq!(late.len(), 1);
    assert_eq!((late[0].frame, late[0].stream), (Some(5), Some(0)));
    assert!(late[0]
        .message
        .starts_with("3 packets came for 1 stream already closed"));
}

/// Both FINs came but the capture missed the last ACK: the stream waits,
/// counting what comes, until `flow_idle_timeout` passes without a packet.
#[test]
fn fins_without_their_last_ack_wait_for_flow_idle_timeout() {
    let limits = Limits {
        flow_idle_timeout: Duration::from_secs(10),
        ..Limits::default()
    };
    let mut segs: Vec<(i64, Seg)> = handshake(1000, 5000).into_iter().map(|s| (0, s)).collect();
    segs.push((1, seg(C, S).seq(1001).ack(5001).fin())); // frame 4
    segs.push((1, seg(S, C).seq(5001).ack(1002).fin())); // frame 5: not acknowledged
    segs.push((5, seg(S, C).seq(5001).ack(1002).fin())); // frame 6: again, in the stream
    segs.push((12, seg("10.0.0.9:1", S).seq(1).data(b"x"))); // frame 7: not due yet
    segs.push((16, seg("10.0.0.9:1", S).seq(2).data(b"y"))); // frame 8: releases stream 0
    segs.push((HOUR, seg(C, S).seq(1002).ack(5002))); // frame 9: late
    let r = run_timed(&limits, &segs);
    let closed: Vec<_> = r
        .events
        .iter()
        .filter_map(|e| match e {
            Owned::Closed { stream, frame, .. } => Some((*stream, *frame)),
            _ => None,
        })
        .collect();
    assert_eq!(closed, vec![(0, 6), (1, 8)]);
    // Released when frame 8 came, before its data.
    let released = r
        .events
        .iter()
        .position(|e| matches!(e, Owned::Closed { stream: 0, .. }));
    let y = r
        .events
        .iter()
        .position(|e| matches!(e, Owned::Data { frame: 8, .. }));
    assert!(released < y);
    let st = stats_of(&r, 0);
    assert_eq!((st.ending, st.server_to_client.packets), (Ending::Fin, 3));
    let late = findings_of(&r, "tcp.late_packets");
    assert!(late.len() == 1 && late[0].frame == Some(9));
}

/// Both FINs of a new stream from `client`, neither acknowledged (so the
/// stream waits for `flow_idle_timeout`), in frame `at`.
fn close_unacked(t: &mut Reassembler, r: &mut Recorder, client: &str, at: FrameRef) {
    t.on_segment(at, &seg(client, S).seq(1).fin().view(), r);
    t.on_segment(at, &seg(S, client).seq(1).fin().view(), r);
}

#[test]
fn release_check_runs_at_most_once_per_capture_second_or_when_time_goes_back() {
    let limits = Limits {
        flow_idle_timeout: Duration::from_millis(100),
        ..Limits::default()
    };
    let mut t = Reassembler::new(&limits);
    let mut r = Recorder::default();
    let at = |n: u64, ms: i64| {
        let nanos = 1_700_000_000_000_000_000 + i128::from(ms) * 1_000_000;
        FrameRef::new(n, Timestamp::from_nanos_i128(nanos))
    };
    close_unacked(&mut t, &mut r, C, at(1, 0));
    t.on_segment(
        at(2, 500),
        &seg("10.0.0.3:1", S).seq(1).data(b"a").view(),
        &mut r,
    );
    assert!(r.closed().is_empty(), "no check before a second has passed");
    t.on_segment(
        at(3, 1000),
        &seg("10.0.0.3:1", S).seq(2).data(b"b").view(),
        &mut r,
    );
    assert_eq!(
        r.closed().iter().map(|s| s.stream).collect::<Vec<_>>(),
        vec![0]
    );
    // A reset far in the capture's future, then the clock going back.
    close_unacked(&mut t, &mut r, "10.0.0.4:1", at(4, 40_000));
    close_unacked(&mut t, &mut r, "10.0.0.5:1", at(5, 40_500));
    t.on_segment(
        at(6, 1_200),
        &seg("10.0.0.3:1", S).seq(3).data(b"c").view(),
        &mut r,
    );
    assert_eq!(
        r.closed().len(),
        1,
        "the back step checks, but nothing is due"
    );
    t.on_segment(
        at(7, 41_000),
        &seg("10.0.0.3:1", S).seq(4).data(b"d").view(),
        &mut r,
    );
    assert_eq!(
        r.closed().iter().map(|s| s.stream).collect::<Vec<_>>(),
        vec![0, 2, 3]
    );
    assert_eq!(t.tracked_flows(), 4);
    t.finish(&mut r);
    r.assert_well_formed();
}

/// A stream closed at a date far in the capture's future blocks the
/// release queue; the queue still stays about the size of the table.
#[test]
fn the_release_queue_stays_bounded_behind_a_stuck_stream() {
    let limits = Limits {
        max_open_flows: 8,
        ..Limits::default()
    };
    let mut t = Reassembler::new(&limits);
    let mut r = Recorder::default();
    let at =
        |n: u64, secs: i64| FrameRef::new(n, Timestamp::from_secs_nanos(1_700_000_000 + secs, 0));
    close_unacked(&mut t, &mut r, C, at(1, 40 * YEAR));
    for i in 0..1000u16 {
        let client = format!("10.0.1.1:{}", 1000 + i);
        let frame = 2 + 2 * u64::from(i);
        let secs = i64::from(i);
        close_unacked(&mut t, &mut r, &client, at(frame, secs));
        // A FIN again keeps the stuck stream the most recently active one.
        t.on_segment(at(frame + 1, secs), &seg(C, S).seq(1).fin().view(), &mut r);
        assert!(
            t.queued_for_release() <= 2 * 8 + 17,
            "{}",
            t.queued_for_release()
        );
    }
    assert!(t.tracked_flows() <= 8);
    t.finish(&mut r);
    r.assert_well_formed();
    // The stuck stream stayed in the table to the end.
    assert_eq!(stats_of(&r, 0).client_to_server.packets, 1001);
}

#[test]
fn eviction_at_max_open_flows_closes_the_least_recently_active() {
    let limits = Limits {
        max_open_flows: 2,
        ..Limits::default()
    };
    let segs = vec![
        seg("10.0.0.1:1", S).seq(1).data(b"a"),
        seg("10.0.0.1:2", S).seq(1).data(b"b"),
        seg("10.0.0.1:1", S).seq(2).data(b"c"), // stream 0 is now the most recent
        seg("10.0.0.1:3", S).seq(1).data(b"d"), // evicts stream 1
        seg("10.0.0.1:2", S).seq(2).data(b"e"), // a new stream (3), evicting stream 0
    ];
    let r = run_with(&limits, &segs);
    let closed: Vec<_> = r.closed().iter().map(|s| (s.stream, s.ending)).collect();
    assert_eq!(closed[..2], [(1, Ending::Evicted), (0, Ending::Evicted)]);
    assert_eq!(opened(&r).len(), 4);
    let evicted = r
        .findings
        .iter()
        .filter(|f| f.code == "tcp.flow_evicted")
        .count();
    assert_eq!(evicted, 2);
}

#[test]
fn closed_flows_evicted_give_one_info_finding() {
    let limits = Limits {
        max_open_flows: 1,
        ..Limits::default()
    };
    let mut segs = Vec::new();
    for port in 1..4u16 {
        let c = format!("10.0.0.1:{port}");
        segs.push(seg(&c, S).seq(1).ack(1).rst());
    }
    let r = run_with(&limits, &segs);
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].code, "tcp.closed_flows_forgotten");
}

#[test]
fn finish_closes_in_stream_index_order() {
    let segs = vec![
        seg("10.0.0.1:1", S).seq(1).data(b"a"),
        seg("10.0.0.1:2", S).seq(1).data(b"b"),
        seg("10.0.0.1:1", S).seq(2).data(b"c"),
    ];
    let r = run(&segs);
    let order: Vec<_> = r.closed().iter().map(|s| (s.stream, s.ending)).collect();
    assert_eq!(order, vec![(0, Ending::OpenAtEnd), (1, Ending::OpenAtEnd)]);
}

#[test]
fn data_acknowledged_but_never_captured_is_lost_at_the_end() {
    let mut segs = handshake(0, 0);
    segs.push(seg(C, S).seq(1).ack(1).data(b"ab"));
    segs.push(seg(S, C).seq(1).ack(11));
    let r = run(&segs);
    assert!(r
        .events
        .contains(&Owned::gap(0, C2S, 5, 2, 8, GapReason::Lost)));
}

#[test]
fn ipv6_endpoints_work_the_same() {
    let a6 = "[2001:db8::1]:50000";
    let b6 = "[2001:db8::2]:443";
    let segs = vec![
        seg(a6, b6).seq(10).syn(),
        seg(b6, a6).seq(20).ack(11).syn(),
        seg(a6, b6).seq(11).ack(21).data(b"v6"),
    ];
    let r = run(&segs);
    assert_eq!(opened(&r)[0].1, a6);
    assert_eq!(r.concat(C2S), b"v6");
    assert_eq!(addr(b6).port(), 443);
}

// --- properties ---

/// One data segment of the client-to-server direction: offset and bytes.
type Piece = (u64, Vec<u8>);

/// Splits `data` at `sizes`, adds extra copies (some corrupted) over random
/// ranges, and marks which original pieces to drop.
fn pieces(
    data: &[u8],
    sizes: &[usize],
    extras: &[(usize, usize, bool)],
    drops: &[bool],
) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut off = 0usize;
    let mut i = 0usize;
    while off < data.len() {
        let len = sizes[i % sizes.len()].min(data.len() - off);
        if !drops.get(i).copied().unwrap_or(false) {
            out.push((off as u64, data[off..off + len].to_vec()));
        }
        off += len;
        i += 1;
    }
    for &(start, len, corrupt) in extras {
        let start = start % data.len();
        let end = (start + len).min(data.len());
        let mut bytes = data[start..end].to_vec();
        if corrupt {
            bytes.iter_mut().for_each(|b| *b ^= 0x5a);
        }
        out.push((start as u64, bytes));
    }
    out
}

/// The model: for each offset, the first byte fed for it.
fn first_seen(feed: &[Piece], len: usize) -> Vec<Option<u8>> {
    let mut map = vec![None; len];
    for (off, bytes) in feed {
        for (i, b) in bytes.iter().enumerate() {
            let slot = &mut map[*off as usize + i];
            if slot.is_none() {
                *slot = Some(*b);
            }
        }
    }
    map
}

/// What the events say about the client-to-server direction, offset by offset.
fn delivered(r: &Recorder) -> (Vec<Option<u8>>, Vec<GapReason>) {
    let mut out = Vec::new();
    let mut reasons = Vec::new();
    for e in &r.events {
        match e {
            Owned::Data {
                dir: C2S, bytes, ..
            } => out.extend(bytes.iter().map(|b| Some(*b))),
            Owned::Gap {
                dir: C2S,
                len,
                reason,
                ..
            } => {
                out.extend(std::iter::repeat_n(None, *len as usize));
                reasons.push(*reason);
            }
            _ => {}
        }
    }
    (out, reasons)
}

fn isn() -> impl Strategy<Value = u32> {
    prop_oneof![any::<u32>(), (u32::MAX - 3000)..=u32::MAX]
}

/// Feeds a handshake then `feed` (client data, frames in feed order), then
/// optionally a FIN (before feed element `pos`, or last) and the server's
/// ACK of everything, then finishes.
fn feed_stream(
    isn: u32,
    feed: &[Piece],
    close_at: Option<(usize, u64)>,
    limits: &Limits,
) -> Recorder {
    let first = isn.wrapping_add(1);
    let mut segs = vec![seg(C, S).seq(isn).syn(), seg(S, C).seq(0).ack(first).syn()];
    let mut datas: Vec<Seg> = feed
        .iter()
        .map(|(off, bytes)| {
            seg(C, S)
                .seq(first.wrapping_add(*off as u32))
                .ack(1)
                .data(bytes)
        })
        .collect();
    if let Some((pos, len)) = close_at {
        let fin = seg(C, S).seq(first.wrapping_add(len as u32)).ack(1).fin();
        datas.insert(pos.min(datas.len()), fin);
    }
    segs.extend(datas);
    if let Some((_, len)) = close_at {
        segs.push(seg(S, C).seq(1).ack(first.wrapping_add(len as u32 + 1)));
    }
    run_with(limits, &segs)
}

fn scenario() -> impl Strategy<Value = (Vec<u8>, u32, Vec<Piece>)> {
    (
        prop::collection::vec(any::<u8>(), 1..1500),
        isn(),
        prop::collection::vec(1usize..200, 1..12),
        prop::collection::vec((any::<usize>(), 1usize..300, any::<bool>()), 0..8),
        prop::collection::vec(prop::bool::weighted(0.15), 0..40),
    )
        .prop_flat_map(|(data, isn, sizes, extras, drops)| {
            let feed = pieces(&data, &sizes, &extras, &drops);
            (Just(data), Just(isn), Just(feed).prop_shuffle())
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn any_segmentation_order_and_duplication_reassembles_the_first_seen_bytes(
        (data, isn, feed) in scenario(),
    ) {
        let r = feed_stream(isn, &feed, None, &Limits::default());
        let model = first_seen(&feed, data.len());
        let seen_end = model.iter().rposition(Option::is_some).map_or(0, |p| p + 1);
        let (got, reasons) = delivered(&r);
        prop_assert_eq!(&got, &model[..seen_end].to_vec());
        prop_assert!(reasons.iter().all(|g| *g == GapReason::EndOfCapture));
        let mismatches = r.findings.iter().filter(|f| f.code == "tcp.overlap_mismatch").count();
        prop_assert_eq!(mismatches, r.findings.len());
    }

    #[test]
    fn with_everything_acknowledged_every_hole_is_lost_and_the_fin_arrives(
        (data, isn, feed) in scenario(),
        fin_pos in any::<prop::sample::Index>(),
    ) {
        let pos = fin_pos.index(feed.len() + 1);
        let r = feed_stream(isn, &feed, Some((pos, data.len() as u64)), &Limits::default());
        let model = first_seen(&feed, data.len());
        let (got, reasons) = delivered(&r);
        prop_assert_eq!(got, model);
        prop_assert!(reasons.iter().all(|g| *g == GapReason::Lost));
        let fin = r.events.iter().any(|e| matches!(e, Owned::Fin { dir: C2S, .. }));
        prop_assert!(fin, "no FIN");
    }

    #[test]
    fn under_tiny_caps_every_delivered_byte_is_still_the_first_seen(
        (data, isn, feed) in scenario(),
        max_bytes in 0usize..300,
        max_segments in 0usize..4,
    ) {
        let limits = Limits {
            max_ooo_bytes_per_dir: max_bytes,
            max_ooo_segments_per_dir: max_segments,
            ..Limits::default()
        };
        let r = feed_stream(isn, &feed, None, &limits);
        let model = first_seen(&feed, data.len());
        let (got, _) = delivered(&r);
        prop_assert!(got.len() <= model.len());
        for (i, b) in got.iter().enumerate() {
            if let Some(b) = b {
                prop_assert_eq!(Some(*b), model[i], "offset {}", i);
            }
        }
    }

    #[test]
    fn harmless_duplicates_do_not_change_the_events(
        data in prop::collection::vec(any::<u8>(), 1..800),
        isn in isn(),
        sizes in prop::collection::vec(1usize..100, 1..8),
        dups in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let clean = pieces(&data, &sizes, &[], &[]);
        let mut noisy = Vec::new();
        for (i, p) in clean.iter().enumerate() {
            noisy.push(p.clone());
            for d in &dups {
                let j = d.index(clean.len());
                if j <= i && d.index(7) == 0 {
                    noisy.push(clean[j].clone());
                }
            }
        }
        let a = feed_stream(isn, &clean, None, &Limits::default());
        let b = feed_stream(isn, &noisy, None, &Limits::default());
        let data_events = |r: &Recorder| -> Vec<(u64, Vec<u8>)> {
            r.events.iter().filter_map(|e| match e {
                Owned::Data { offset, bytes, .. } => Some((*offset, bytes.clone())),
                _ => None,
            }).collect()
        };
        prop_assert_eq!(data_events(&a), data_events(&b));
        prop_assert_eq!(a.concat(C2S), data);
    }
}

/// One arbitrary segment: 4-tuple, direction, flags, sequence and ack
/// offsets (around the wrap), payload length, snaplen cut, window.
type Soup = (u8, bool, u8, i32, i32, usize, u32, u16);

fn soup_segment(&(tuple, back, flags, seq, ack, len, missing, window): &Soup) -> Seg {
    let ends = [(C, S), ("10.0.0.3:50001", S), ("[::1]:5", "[::2]:5222")];
    let (a, b) = ends[usize::from(tuple) % ends.len()];
    let (src, dst) = if back { (b, a) } else { (a, b) };
    let base = u32::MAX - 500;
    let mut s = seg(src, dst)
        .seq(base.wrapping_add_signed(seq))
        .window(window)
        .data(&vec![b'x'; len])
        .missing(missing);
    s.flags.syn = flags & 1 != 0;
    s.flags.fin = flags & 2 != 0;
    s.flags.rst = flags & 4 != 0 && flags & 8 != 0;
    if flags & 16 != 0 {
        s = s.ack(base.wrapping_add_signed(ack));
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_segment_soup_gives_well_formed_events(
        soup in prop::collection::vec(
            (0u8..3, any::<bool>(), any::<u8>(), -600i32..3000, -600i32..3000, 0usize..300, 0u32..40, 0u16..3),
            0..80,
        ),
        max_bytes in 0usize..2000,
        max_segments in 0usize..6,
        max_flows in 1usize..4,
    ) {
        let limits = Limits {
            max_ooo_bytes_per_dir: max_bytes,
            max_ooo_segments_per_dir: max_segments,
            max_open_flows: max_flows,
            ..Limits::default()
        };
        let segs: Vec<Seg> = soup.iter().map(soup_segment).collect();
        // run_with asserts the stream contract after finish.
        let r = run_with(&limits, &segs);
        let closed = r.closed().len();
        prop_assert_eq!(closed, opened(&r).len());
    }
}

/// Throughput check, run by hand:
/// `cargo test --release --lib tcp::tests::throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput_of_in_order_segments() {
    use crate::decode::{TcpFlags, TcpSegment};
    use crate::finding::{Finding, Findings};

    #[derive(Default)]
    struct Count(u64);
    impl Findings for Count {
        fn push_finding(&mut self, _: Finding) {}
    }
    impl super::Sink for Count {
        fn on_tcp(&mut self, e: super::Event<'_>) {
            if let super::Event::Data { bytes, .. } = e {
                self.0 += bytes.len() as u64;
            }
        }
    }
    let flows: Vec<_> = (0..1000u16)
        .map(|i| {
            (
                addr(&format!("10.0.{}.{}:{}", i / 250, i % 250, 40000 + i)),
                addr(S),
            )
        })
        .collect();
    let payload = vec![0x42u8; 1400];
    let n = 4_000_000u64;
    let mut t = Reassembler::new(&Limits::default());
    let mut sink = Count::default();
    let start = std::time::Instant::now();
    for k in 0..n {
        let (src, dst) = flows[(k % flows.len() as u64) as usize];
        let round = (k / flows.len() as u64) as u32;
        let seg = TcpSegment {
            src,
            dst,
            seq: 1_000u32.wrapping_add(round.wrapping_mul(1400)),
            ack: 1,
            flags: TcpFlags {
                ack: true,
                ..TcpFlags::default()
            },
            window: 1000,
            payload: &payload,
            missing: 0,
        };
        let at = FrameRef::new(k + 1, Timestamp::from_secs_nanos(1_700_000_000, k * 1000));
        t.on_segment(at, &seg, &mut sink);
    }
    t.finish(&mut sink);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} segments in {secs:.3} s: {:.1} M segments/s, {:.2} GB/s of payload",
        n as f64 / secs / 1e6,
        sink.0 as f64 / secs / 1e9
    );
    assert_eq!(sink.0, n * 1400);
}

#[test]
fn held_bytes_are_the_out_of_order_bytes_waiting_for_a_hole() {
    let mut r = Recorder::default();
    let mut t = Reassembler::new(&Limits::default());
    let mut n = 0;
    let mut feed = |t: &mut Reassembler, s: Seg| {
        n += 1;
        t.on_segment(frame(n), &s.view(), &mut r);
    };
    for s in handshake(1000, 5000) {
        feed(&mut t, s);
    }
    assert_eq!(t.held_bytes(), 0);
    feed(&mut t, seg(C, S).seq(1001).ack(5001).data(b"in order"));
    assert_eq!(t.held_bytes(), 0, "in-order bytes are delivered at once");
    feed(&mut t, seg(C, S).seq(1019).ack(5001).data(b"later"));
    feed(&mut t, seg(S, C).seq(5004).ack(1009).data(b"xyz"));
    assert_eq!(t.held_bytes(), 5 + 3);
    feed(&mut t, seg(C, S).seq(1009).ack(5001).data(b"0123456789"));
    assert_eq!(
        t.held_bytes(),
        3,
        "the hole filled: the client's bytes went up"
    );
    feed(&mut t, seg(S, C).seq(5001).ack(1024).data(b"abc"));
    assert_eq!(t.held_bytes(), 0);
    t.finish(&mut r);
    assert_eq!(r.concat(C2S), b"in order0123456789later");
    assert_eq!(r.concat(S2C), b"abcxyz");
}

#[test]
fn handshake_frames_give_the_rtt_and_count_syn_retries() {
    let segs = vec![
        seg(C, S).seq(1000).syn(),
        seg(C, S).seq(1000).syn(),
        seg(S, C).seq(5000).ack(1001).syn(),
        seg(C, S).seq(1001).ack(5001),
    ];
    let r = run(&segs);
    assert_eq!(opened(&r).len(), 1, "a retried SYN stays in its stream");
    let hs = stats_of(&r, 0).handshake;
    assert_eq!(hs.syn.map(|f| f.frame), Some(1));
    assert_eq!(hs.last_syn.map(|f| f.frame), Some(2));
    assert_eq!(hs.syn_retries, 1);
    assert_eq!(hs.syn_ack.map(|f| f.frame), Some(3));
    assert_eq!(hs.ack.map(|f| f.frame), Some(4));
    // Frames are one second apart: from the last SYN (2) to the ACK (4).
    assert_eq!(hs.rtt_ms(), Some(2000.0));
}

#[test]
fn a_refused_or_unanswered_syn_still_opens_and_closes_its_stream() {
    let refused = run(&[seg(C, S).seq(1000).syn(), seg(S, C).seq(0).ack(1001).rst()]);
    assert_eq!(opened(&refused).len(), 1);
    let stats = stats_of(&refused, 0);
    assert_eq!(stats.rst_from, Some(S2C));
    assert!(stats.syn_seen && !stats.syn_ack_seen);
    assert_eq!(stats.handshake.rtt_ms(), None);

    let unanswered = run(&[
        seg(C, S).seq(1000).syn(),
        seg(C, S).seq(1000).syn(),
        seg(C, S).seq(1000).syn(),
    ]);
    assert_eq!(opened(&unanswered).len(), 1);
    let stats = stats_of(&unanswered, 0);
    assert_eq!(stats.handshake.syn_retries, 2);
    assert_eq!(stats.ending, Ending::OpenAtEnd);
}

#[test]
fn zero_windows_count_on_the_side_that_advertised_them() {
    let mut segs = handshake(1000, 5000);
    segs.push(seg(C, S).seq(1001).ack(5001).data(b"hello"));
    segs.push(seg(S, C).seq(5001).ack(1006).window(0));
    segs.push(seg(S, C).seq(5001).ack(1006).window(0));
    let r = run(&segs);
    let stats = stats_of(&r, 0);
    assert_eq!(stats.server_to_client.zero_windows, 2);
    assert_eq!(stats.client_to_server.zero_windows, 0);
}

#[test]
fn given_up_holes_become_buffer_limit_gaps_and_the_stream_goes_on() {
    let mut r = Recorder::default();
    let mut t = Reassembler::new(&Limits::default());
    let mut n = 0;
    let mut feed = |t: &mut Reassembler, r: &mut Recorder, s: Seg| {
        n += 1;
        t.on_segment(frame(n), &s.view(), r);
    };
    for s in handshake(1000, 5000) {
        feed(&mut t, &mut r, s);
    }
    feed(&mut t, &mut r, seg(C, S).seq(1011).ack(5001).data(b"later"));
    let (c, s) = (C.parse().unwrap(), S.parse().unwrap());
    assert_eq!(
        t.held_between(s, c),
        Some((0, 5)),
        "either end names the stream"
    );
    t.give_up_holes(c, s, 1, frame(9), &mut r);
    assert_eq!(
        t.held_bytes(),
        5,
        "another stream's number gives up nothing"
    );
    t.give_up_holes(c, s, 0, frame(9), &mut r);
    assert_eq!(t.held_between(c, s), Some((0, 0)));
    let gap = r.events.iter().find_map(|e| match e {
        Owned::Gap { len, reason, .. } => Some((*len, *reason)),
        _ => None,
    });
    assert_eq!(gap, Some((10, GapReason::BufferLimit)));
    feed(&mut t, &mut r, seg(C, S).seq(1016).ack(5001).data(b" more"));
    t.finish(&mut r);
    assert_eq!(r.concat(C2S), b"later more");
}

/// The memory budget releases an open stream: its `Closed` says so, and
/// the 4-tuple's later packets stay in its stream (Wireshark's numbering)
/// as counted late packets, never a stream joined mid-way.
#[test]
fn a_stream_the_budget_released_keeps_its_later_packets() {
    let mut r = Recorder::default();
    let mut t = Reassembler::new(&Limits::default());
    let mut segs = handshake(1000, 5000);
    segs.push(seg(C, S).seq(1001).ack(5001).data(b"before"));
    for (i, s) in segs.iter().enumerate() {
        t.on_segment(frame(i as u64 + 1), &s.view(), &mut r);
    }
    t.release_stream(addr(C), addr(S), 0, frame(4), &mut r);
    let later = [
        seg(S, C).seq(5001).ack(1007).data(b"reply"),
        seg(C, S).seq(1007).ack(5006).data(b"after"),
        seg("10.0.0.9:1", S).seq(1).syn(),
    ];
    for (i, s) in later.iter().enumerate() {
        t.on_segment(frame(i as u64 + 5), &s.view(), &mut r);
    }
    t.finish(&mut r);
    r.assert_well_formed();
    assert_eq!(
        opened(&r).iter().map(|o| o.0).collect::<Vec<_>>(),
        vec![0, 1],
        "no stream is born from the released one's packets"
    );
    assert_eq!(stats_of(&r, 0).ending, Ending::MemoryBudget);
    let late = findings_of(&r, "tcp.late_packets");
    assert_eq!(late.len(), 1);
    assert!(
        late[0]
            .message
            .starts_with("2 packets came for 1 stream the memory budget had released"),
        "{}",
        late[0].message
    );
}
