//! The pairing queue alone: first-in first-out, interim answers, a response
//! lost in the capture, pipelining, unrequested responses, the pending cap,
//! report order and the end of the connection.

use super::*;
use crate::http::parser::{Fields, RequestHead};
use crate::http::tests::{Ev, Rec};
use crate::position::Timestamp;

const C2S: Dir = Dir::ClientToServer;
const S2C: Dir = Dir::ServerToClient;

fn frame(n: u64) -> FrameRef {
    FrameRef::new(n, Timestamp::from_secs_nanos(n as i64, 0))
}

fn spot(dir: Dir, n: u64) -> Spot {
    Spot {
        dir,
        at: frame(n),
        offset: n * 100,
    }
}

/// A finished `GET path` whose head is frame `n`.
fn get(path: &str, n: u64) -> Req {
    let head = RequestHead {
        method: "GET".into(),
        target: path.into(),
        minor: 1,
        fields: Fields::default(),
    };
    let mut req = Req::new(head, spot(C2S, n), frame(n), false);
    req.done = true;
    req
}

fn status(code: u16) -> ResponseHead {
    ResponseHead {
        status: code,
        reason: "R".into(),
        minor: 1,
        fields: Fields::default(),
    }
}

/// A finished response of `code` at frame `n` for exchange `index`, as the connection records it.
fn respond(p: &mut Pairing, index: u64, code: u16, n: u64) {
    let mut resp = Resp::new(status(code), spot(S2C, n), frame(n), false);
    resp.done = true;
    p.entry_mut(index).expect("open exchange").resp = Some(resp);
}

/// (path, status, unanswered) of each exchange reported.
fn reported(rec: &Rec) -> Vec<(Option<String>, Option<u16>, bool)> {
    rec.exchanges()
        .iter()
        .map(|x| {
            (
                x.request.as_ref().map(|q| q.path.clone()),
                x.response.as_ref().map(|r| r.status),
                x.unanswered,
            )
        })
        .collect()
}

#[test]
fn responses_pair_first_in_first_out() {
    let (mut p, mut rec) = (Pairing::new(7, 8), Rec::default());
    let a = p.open(Some(get("/a", 1)), spot(C2S, 1), &mut rec);
    let b = p.open(Some(get("/b", 2)), spot(C2S, 2), &mut rec);
    assert_eq!((a, b), (0, 1));
    assert_eq!(
        p.answer(&status(200), spot(S2C, 3), &mut rec),
        Answer::Final(a)
    );
    respond(&mut p, a, 200, 3);
    assert_eq!(
        p.answer(&status(404), spot(S2C, 4), &mut rec),
        Answer::Final(b)
    );
    respond(&mut p, b, 404, 4);
    p.drain(&mut rec);
    assert_eq!(
        reported(&rec),
        [
            (Some("/a".into()), Some(200), false),
            (Some("/b".into()), Some(404), false)
        ]
    );
    assert_eq!(rec.exchanges()[0].latency_ms, Some(2000.0));
    assert!(rec.findings().is_empty());
}

#[test]
fn interim_answers_are_kept_on_the_waiting_request() {
    let (mut p, mut rec) = (Pairing::new(7, 8), Rec::default());
    let a = p.open(Some(get("/a", 1)), spot(C2S, 1), &mut rec);
    assert_eq!(
        p.answer(&status(100), spot(S2C, 2), &mut rec),
        Answer::Interim
    );
    assert_eq!(
        p.answer(&status(103), spot(S2C, 3), &mut rec),
        Answer::Interim
    );
    // 101 is the final answer of an upgrade.
    assert_eq!(
        p.answer(&status(101), spot(S2C, 4), &mut rec),
        Answer::Final(a)
    );
    respond(&mut p, a, 101, 4);
    p.drain(&mut rec);
    assert_eq!(rec.exchanges()[0].informational, [100, 103]);
}

#[test]
fn after_a_server_loss_the_response_answers_the_latest_request() {
    let (mut p, mut rec) = (Pairing::new(7, 8), Rec::default());
    p.open(Some(get("/a", 1)), spot(C2S, 1), &mut rec);
    p.on_server_gap(false);
    let b = p.open(Some(get("/b", 3)), spot(C2S, 3), &mut rec);
    assert_eq!(
        p.answer(&status(202), spot(S2C, 4), &mut rec),
        Answer::Final(b)
    );
    respond(&mut p, b, 202, 4);
    p.drain(&mut rec);
    assert_eq!(
        reported(&rec),
        [
            (Some("/a".into()), None, true),
            (Some("/b".into()), Some(202), false)
        ]
    );
    let lost = rec.findings();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].code, "http.response_lost");
    assert_eq!((lost[0].frame, lost[0].offset), (Some(4), Some(400)));
    assert!(
        lost[0].message.contains("GET /a (frame 1)"),
        "{}",
        lost[0].message
    );
}

#[test]
fn a_pipelining_client_keeps_first_in_first_out_after_a_loss() {
    let (mut p, mut rec) = (Pairing::new(7, 8), Rec::default());
    let a = p.open(Some(get("/a", 1)), spot(C2S, 1), &mut rec);
    let b = p.open(Some(get("/b", 1)), spot(C2S, 1), &mut rec);
    assert_eq!(
        p.answer(&status(200), spot(S2C, 2), &mut rec),
        Answer::Final(a)
    );
    respond(&mut p, a, 200, 2);
    p.open(Some(get("/c", 3)), spot(C2S, 3), &mut rec);
    p.on_server_gap(false);
    assert_eq!(
        p.answer(&status(200), spot(S2C, 4), &mut rec),
        Answer::Final(b)
    );
    assert!(rec.findings().is_empty());
}

#[test]
fn a_loss_with_one_request_waiting_pairs_as_usual() {
    let (mut p, mut rec) = (Pairing::new(7, 8), Rec::default());
    let a = p.open(Some(get("/a", 1)), spot(C2S, 1), &mut rec);
    p.on_server_gap(false);
    assert_eq!(
        p.answer(&status(200), spot(S2C, 2), &mut rec),
        Answer::Final(a)
    );
    assert!(rec.findings().is_empty());
}

#[test]
fn a_response_without_request_needs_an_exchange_of_its_own() {
    let (mut p, mut rec) = (Pairing::new(7, 8), Rec::default());
    assert_eq!(
        p.answer(&status(200), spot(S2C, 1), &mut rec),
        Answer::Unrequested
    );
    assert_eq!(rec.codes(), ["http.response_without_request"]);
    let i = p.open(None, spot(C2S, 1), &mut rec);
    respond(&mut p, i, 200, 1);
    p.drain(&mut rec);
    assert_eq!(reported(&rec), [(None, Some(200), false)]);
}

#[test]
fn too_many_waiting_requests_push_out_the_oldest_unanswered() {
    let (mut p, mut rec) = (Pairing::new(7, 2), Rec::default());
    for (n, path) in ["/a", "/b", "/c"].into_iter().enumerate() {
        let n = n as u64 + 1;
        p.open(Some(get(path, n)), spot(C2S, n), &mut rec);
    }
    assert_eq!(rec.codes(), ["http.pending_limit"]);
    assert_eq!(reported(&rec), [(Some("/a".into()), None, true)]);
    assert!(p.entry_mut(0).is_none() && p.entry_mut(2).is_some());
}

#[test]
fn an_unfinished_request_holds_back_the_exchanges_after_it() {
    let (mut p, mut rec) = (Pairing::new(7, 8), Rec::default());
    let mut slow = get("/upload", 1);
    slow.done = false;
    let a = p.open(Some(slow), spot(C2S, 1), &mut rec);
    let b = p.open(Some(get("/b", 2)), spot(C2S, 2), &mut rec);
    respond(&mut p, a, 200, 3);
    respond(&mut p, b, 200, 4);
    p.drain(&mut rec);
    assert!(rec.exchanges().is_empty());
    if let Some(req) = p.entry_mut(a).and_then(|e| e.req.as_mut()) {
        req.done = true;
    }
    p.drain(&mut rec);
    let paths: Vec<_> = reported(&rec).into_iter().map(|r| r.0).collect();
    assert_eq!(paths, [Some("/upload".into()), Some("/b".into())]);
}

#[test]
fn the_end_reports_requests_left_without_an_answer() {
    let (mut p, mut rec) = (Pairing::new(7, 8), Rec::default());
    let mut poll = get("/http-bind/", 1);
    poll.bosh = Some(bosh::Attrs::default());
    p.open(Some(poll), spot(C2S, 1), &mut rec);
    p.finish(frame(9), true, &mut rec);
    assert_eq!(rec.codes(), ["http.unanswered"]);
    let f = rec.findings()[0].clone();
    assert_eq!((f.frame, f.offset, f.dir), (Some(1), Some(100), Some(C2S)));
    assert!(
        f.message
            .contains("GET /http-bind/ got no response before the connection ended"),
        "{}",
        f.message
    );
    assert_eq!(reported(&rec), [(Some("/http-bind/".into()), None, true)]);
    let cut = rec.events.iter().find_map(|e| match e {
        Ev::Bosh(bosh::Event::Unanswered(u)) => Some((u.ended.frame, u.closed)),
        _ => None,
    });
    assert_eq!(cut, Some((9, true)));
}
