//! Pairing responses with requests when the capture lost server bytes.

use super::*;

const GET_A: &[u8] = b"GET /a HTTP/1.1\r\nHost: f\r\n\r\n";
const PUT_B: &[u8] =
    b"PUT /finesse/api/User/1001 HTTP/1.1\r\nHost: f\r\nContent-Length: 2\r\n\r\n{}";
const OK_A: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
const ACCEPTED_B: &[u8] = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";

fn pairs(rec: &Rec) -> Vec<(Option<String>, Option<u16>, bool)> {
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
fn a_lost_response_does_not_shift_the_later_pairs() {
    let script = [
        data(C, GET_A),
        Step::Gap(S, OK_A.len() as u64),
        data(C, PUT_B),
        data(S, ACCEPTED_B),
    ];
    let rec = run_all_ways(&script, &Limits::default(), false).rec();
    assert_eq!(
        pairs(&rec),
        [
            (Some("/a".into()), None, true),
            (Some("/finesse/api/User/1001".into()), Some(202), false),
        ]
    );
    assert!(
        rec.codes().contains(&"http.response_lost"),
        "{:?}",
        rec.codes()
    );
    let lost = rec
        .findings()
        .into_iter()
        .find(|f| f.code == "http.response_lost")
        .unwrap();
    assert_eq!(lost.frame, Some(4));
    assert!(
        lost.message.contains("GET /a (frame 1)"),
        "{}",
        lost.message
    );
    // The latency is the PUT's, not the GET's.
    assert_eq!(rec.exchanges()[1].latency_ms, Some(1000.0));
}

#[test]
fn a_loss_with_one_request_waiting_pairs_as_usual() {
    let script = [
        data(C, GET_A),
        Step::Gap(S, 10),
        data(S, ACCEPTED_B),
        data(C, PUT_B),
    ];
    let rec = run_all_ways(&script, &Limits::default(), false).rec();
    assert_eq!(
        pairs(&rec),
        [
            (Some("/a".into()), Some(202), false),
            (Some("/finesse/api/User/1001".into()), None, true),
        ]
    );
    assert!(!rec.codes().contains(&"http.response_lost"));
}

#[test]
fn a_pipelining_client_keeps_first_in_first_out() {
    let script = [
        data(C, &[GET_A, GET_A].concat()),
        data(S, &[OK_A, OK_A].concat()),
        data(C, &[GET_A, PUT_B].concat()),
        Step::Gap(S, OK_A.len() as u64),
        data(S, ACCEPTED_B),
    ];
    let rec = run_all_ways(&script, &Limits::default(), false).rec();
    let got = pairs(&rec);
    assert_eq!(got.len(), 4, "{got:?}");
    // Which response was lost cannot be known; first-in first-out stays.
    assert_eq!(got[2], (Some("/a".into()), Some(202), false));
    assert_eq!(got[3], (Some("/finesse/api/User/1001".into()), None, true));
    assert!(!rec.codes().contains(&"http.response_lost"));
}

#[test]
fn a_flood_of_interim_answers_is_not_kept_whole() {
    let script = [
        data(C, GET_A),
        data(S, &b"HTTP/1.1 100 Continue\r\n\r\n".repeat(100)),
        data(S, OK_A),
    ];
    let rec = run_with(&script, Cut::Whole, &Limits::default(), false, None).rec();
    let x = rec.exchanges();
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].informational, [100; 16]);
    assert_eq!(x[0].response.as_ref().map(|r| r.status), Some(200));
}
