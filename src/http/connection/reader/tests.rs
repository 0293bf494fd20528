//! One direction read alone: heads and bodies in any pieces, gaps, closes,
//! held upgrade bytes and the hand-over.

use super::*;
use crate::http::parser::request_framing;
use crate::http::tests::Rec;
use crate::position::Timestamp;

use super::super::head::Head;

const C2S: Dir = Dir::ClientToServer;
const POST: &[u8] = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";

fn frame(n: u64) -> FrameRef {
    FrameRef::new(n, Timestamp::from_secs_nanos(n as i64, 0))
}

/// What the connection would see, in short.
#[derive(Debug, PartialEq)]
enum Seen {
    Head(String, u64, u64),
    Body(u64, bool, u64, Vec<u8>),
}

/// Feeds `bytes` in pieces of `step` (piece `i` is frame `i + 1`), acting as
/// the connection does: a request head opens its body as exchange 0, 1...;
/// an empty body ends with its head.
fn run(reader: &mut MessageReader, bytes: &[u8], step: usize, rec: &mut Rec) -> Vec<Seen> {
    let mut seen = Vec::new();
    let mut index = 0;
    for (i, piece) in bytes.chunks(step).enumerate() {
        let at = frame(i as u64 + 1);
        reader.saw(at);
        let mut rest = piece;
        while !rest.is_empty() {
            let n = match reader.feed(at, rest, rec) {
                Fed::Took(n) => n,
                Fed::Head(n, read) => {
                    let Head::Request(head) = read.head else {
                        panic!("a request")
                    };
                    let span = read.span;
                    seen.push(Seen::Head(
                        head.target.clone(),
                        span.start.offset,
                        span.end.offset,
                    ));
                    let framing = request_framing(&head);
                    match reader.open_body(framing, span, rec) {
                        Some(body) if body.is_done_at_start() => {
                            seen.push(Seen::Body(index, true, span.end.offset, Vec::new()))
                        }
                        Some(body) => reader.read_body(index, body),
                        None => {}
                    }
                    index += 1;
                    n
                }
                Fed::Body(n, end) => {
                    let kept = end.body.kept.clone();
                    seen.push(Seen::Body(end.index, end.whole, end.end.offset, kept));
                    n
                }
                Fed::Switched => break,
            };
            rest = &rest[n..];
        }
    }
    seen
}

fn reader() -> MessageReader {
    MessageReader::new(7, C2S, &Limits::default())
}

#[test]
fn heads_and_bodies_in_any_pieces() {
    let bytes = [POST, POST].concat();
    let whole = run(&mut reader(), &bytes, bytes.len(), &mut Rec::default());
    assert_eq!(
        whole,
        [
            Seen::Head("/a".into(), 0, 39),
            Seen::Body(0, true, 44, b"hello".to_vec()),
            Seen::Head("/a".into(), 44, 83),
            Seen::Body(1, true, 88, b"hello".to_vec()),
        ]
    );
    for step in 1..bytes.len() {
        assert_eq!(
            run(&mut reader(), &bytes, step, &mut Rec::default()),
            whole,
            "step {step}"
        );
    }
}

#[test]
fn a_gap_in_a_body_cuts_it_and_the_next_start_line_resumes() {
    let mut r = reader();
    let mut rec = Rec::default();
    run(&mut r, &POST[..42], 64, &mut rec);
    let cut = r
        .on_gap(frame(2), 100, None, &mut rec)
        .expect("the body is cut");
    assert_eq!((cut.index, cut.whole, cut.end.offset), (0, false, 42));
    let next = b"tail\r\nGET /b HTTP/1.1\r\n\r\n";
    let seen = run(&mut r, next, 64, &mut rec);
    // 42 bytes, 100 lost, 6 skipped: the GET starts at 148 (this run numbers it 0).
    assert_eq!(
        seen,
        [
            Seen::Head("/b".into(), 148, 167),
            Seen::Body(0, true, 167, Vec::new())
        ]
    );
    assert_eq!(rec.codes(), ["http.gap", "http.resync"]);
    assert_eq!(r.unparsed(), 6);
}

#[test]
fn a_close_ends_a_body_and_cuts_a_head() {
    let mut r = reader();
    let mut rec = Rec::default();
    run(&mut r, &POST[..42], 64, &mut rec);
    let cut = r.on_close(frame(3), &mut rec).expect("the body is cut");
    assert!(!cut.whole);
    assert_eq!(rec.codes(), ["http.body_cut"]);
    assert!(r.on_close(frame(4), &mut rec).is_none(), "closed once");

    let mut r = reader();
    let mut rec = Rec::default();
    run(&mut r, b"GET /a HT", 64, &mut rec);
    assert!(r.finish(frame(3), &mut rec).is_none());
    assert_eq!(
        (rec.codes(), r.unparsed(), r.is_closed()),
        (vec!["http.head_cut"], 9, false)
    );
}

#[test]
fn held_bytes_are_released_as_http_or_handed_over() {
    let upgrade = b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
    let mut r = reader();
    let mut rec = Rec::default();
    run(&mut r, upgrade, 64, &mut rec);
    let end = Spot {
        dir: C2S,
        at: frame(1),
        offset: upgrade.len() as u64,
    };
    r.hold(0, end);
    run(&mut r, b"GET /b HTTP/1.1\r\n\r\n", 64, &mut rec);
    assert!(r.release(1).is_none(), "held for exchange 0 only");
    let hold = r.release(0).expect("held bytes");
    assert_eq!(hold.chunks.len(), 1);
    assert_eq!(r.offset, upgrade.len() as u64, "read again from the switch");

    r.hold(1, end);
    run(&mut r, b"\x81\x05hello", 64, &mut rec);
    let out = r.hand_over(1, frame(9));
    assert_eq!((out.at, out.offset, out.dropped), (frame(1), end.offset, 0));
    assert_eq!(out.held[0].bytes, b"\x81\x05hello");
    assert!(r.is_switched());
    assert!(matches!(
        r.feed(frame(10), b"more", &mut rec),
        Fed::Switched
    ));
}

#[test]
fn a_body_that_cannot_be_delimited_loses_the_place() {
    let mut r = reader();
    let mut rec = Rec::default();
    let bad = b"POST /a HTTP/1.1\r\nContent-Length: x\r\n\r\nbody";
    let seen = run(&mut r, bad, 64, &mut rec);
    assert_eq!(seen, [Seen::Head("/a".into(), 0, 39)]);
    assert_eq!(rec.codes(), ["http.bad_content_length"]);
    assert!(matches!(r.phase, Phase::Lost(_)));
}
