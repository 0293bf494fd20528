//! The desktop stage fed connection summaries built by hand: refused runs,
//! unanswered SYNs with retries, reconnect gaps, loops, failover, users
//! behind one address, REST interleaved, caps, and the orders the contract
//! leaves free.

use super::*;
use crate::conn::{Basis, DirFacts, EndHow, Ended, Keepalive, Opened, Role, Side, Summary};
use crate::finding::{Finding, Level};
use crate::limits::Limits;
use crate::position::{FrameRef, Timestamp};

const DESKTOP: &str = "192.168.10.21";
const NODE1: &str = "10.20.30.40";
const NODE2: &str = "10.20.30.42";

fn at(secs: f64) -> Timestamp {
    Timestamp::from_nanos_i128((1_772_442_000.0 * 1e9 + secs * 1e9) as i128)
}

/// A connection of the desktop: stream `n`, from `start` to `end` seconds,
/// its first frame `n * 100`, its last `n * 100 + 99`.
fn conn(n: u64, node: &str, role: Role, start: f64, end: f64, how: EndHow) -> Summary {
    let ended = match how {
        EndHow::Open | EndHow::NotFollowed => Ended {
            how,
            by: None,
            frame: None,
            time: None,
            syn_retries: 0,
        },
        EndHow::NoAnswer => Ended {
            how,
            by: None,
            frame: Some(n * 100 + 99),
            time: Some(at(end)),
            syn_retries: 0,
        },
        _ => Ended {
            how,
            by: Some(Side::Server),
            frame: Some(n * 100 + 99),
            time: Some(at(end)),
            syn_retries: 0,
        },
    };
    Summary {
        stream: n,
        client: format!("{DESKTOP}:{}", 50_000 + n).parse().unwrap(),
        server: format!("{node}:8445").parse().unwrap(),
        sni: match how {
            EndHow::Refused | EndHow::NoAnswer => None,
            _ if node == NODE2 => Some("finesse2.example.com".to_owned()),
            _ => Some("finesse1.example.com".to_owned()),
        },
        role,
        role_basis: Basis::Inferred,
        role_reasons: vec!["port 8445".to_owned(), "long-lived".to_owned()],
        opened: Opened::Syn,
        first: FrameRef::new(n * 100, at(start)),
        ended,
        duration_s: end - start,
        c2s: DirFacts::default(),
        s2c: DirFacts::default(),
        rtt_ms: None,
        idle_gaps: Vec::new(),
        keepalive: Keepalive {
            exchanges: Some(0),
            interval_s: None,
            last_time: None,
            last_frame: None,
            basis: Basis::Inferred,
            not_inferred_because: None,
        },
        tls: None,
    }
}

fn ws(n: u64, node: &str, start: f64, end: f64, how: EndHow) -> Summary {
    conn(n, node, Role::XmppWebsocket, start, end, how)
}

fn decrypted(mut s: Summary) -> Summary {
    s.role_basis = Basis::Decrypted;
    s
}

fn refused(n: u64, node: &str, start: f64) -> Summary {
    conn(n, node, Role::Other, start, start + 0.001, EndHow::Refused)
}

fn unanswered(n: u64, node: &str, start: f64, retries: u32) -> Summary {
    let mut s = conn(n, node, Role::Other, start, start + 7.0, EndHow::NoAnswer);
    s.ended.syn_retries = retries;
    s
}

/// Feeds the summaries in the order given, each with its user.
fn story(feed: &[(Summary, Option<&str>)]) -> (Vec<Finding>, Vec<Desktop>) {
    story_with(feed, &Limits::default())
}

fn story_with(feed: &[(Summary, Option<&str>)], limits: &Limits) -> (Vec<Finding>, Vec<Desktop>) {
    let mut findings = Vec::new();
    let mut story = Story::new(limits);
    for (s, user) in feed {
        story.on_connection(s, *user, &mut findings);
    }
    let desktops = story.finish(&mut findings);
    (findings, desktops)
}

fn anonymous(list: Vec<Summary>) -> Vec<(Summary, Option<&'static str>)> {
    list.into_iter().map(|s| (s, None)).collect()
}

/// In the order the contract feeds them: by the end of each.
fn by_end(mut list: Vec<Summary>) -> Vec<(Summary, Option<&'static str>)> {
    list.sort_by_key(|s| (s.ended.time.unwrap_or(at(1e6)), s.stream));
    anonymous(list)
}

fn codes(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.code.code()).collect()
}

#[test]
fn a_node_that_went_away_refused_twice_then_a_success_is_a_reconnect_and_a_refused_run() {
    let (f, d) = story(&by_end(vec![
        ws(0, NODE1, 0.0, 30.0, EndHow::Rst),
        refused(1, NODE1, 32.0),
        refused(2, NODE1, 36.0),
        ws(3, NODE1, 44.0, 100.0, EndHow::Fin),
    ]));
    assert_eq!(
        codes(&f),
        ["conn.refused", "conn.reconnect"],
        "the run is over once the node answers"
    );
    let refused = &f[0];
    assert_eq!(refused.level, Level::Warn, "a RST to a SYN is seen");
    assert_eq!((refused.frame, refused.stream), (Some(100), Some(1)));
    assert!(
        refused
            .message
            .contains("2 connection attempts over 4.000 s refused"),
        "{}",
        refused.message
    );
    assert!(
        refused
            .message
            .contains("first frames 100–199 (stream 1), last frames 200–299 (stream 2)"),
        "{}",
        refused.message
    );
    let reconnect = &f[1];
    assert_eq!(reconnect.level, Level::Info);
    assert_eq!((reconnect.frame, reconnect.stream), (Some(300), Some(3)));
    assert!(
        reconnect
            .message
            .contains("14.000 s after stream 0 ended (RST by the server at frame 99)"),
        "{}",
        reconnect.message
    );
    assert!(
        reconnect
            .message
            .contains("inferred (port 8445, long-lived)"),
        "{}",
        reconnect.message
    );
    let [desktop] = d.as_slice() else {
        panic!("one desktop: {d:?}");
    };
    let streams: Vec<u64> = desktop.connections.iter().map(|c| c.stream).collect();
    assert_eq!(streams, [0, 1, 2, 3]);
    let gaps: Vec<Option<f64>> = desktop.connections.iter().map(|c| c.gap_s).collect();
    assert_eq!(gaps, [None, Some(2.0), Some(6.0), Some(14.0)]);
}

#[test]
fn unanswered_syns_count_their_retries_and_the_success_elsewhere_is_a_failover() {
    let (f, _) = story(&by_end(vec![
        ws(0, NODE1, 0.0, 20.0, EndHow::Rst),
        unanswered(1, NODE1, 21.0, 3),
        unanswered(2, NODE1, 30.0, 3),
        ws(3, NODE2, 40.0, 90.0, EndHow::Open),
    ]));
    assert_eq!(codes(&f), ["conn.failover", "conn.no_answer"]);
    assert!(
        f[1].message.contains("2 connection attempts over 9.000 s never answered: no SYN-ACK nor RST to 8 SYNs, 6 of them retries"),
        "{}",
        f[1].message
    );
    assert_eq!(f[1].level, Level::Warn);
    assert!(
        f[0].message
            .contains("finesse1.example.com (10.20.30.40) → finesse2.example.com (10.20.30.42)"),
        "{}",
        f[0].message
    );
    assert_eq!(
        f[0].level,
        Level::Info,
        "the notification roles are inferred"
    );
}

#[test]
fn one_syn_never_retried_is_only_info() {
    let (f, _) = story(&anonymous(vec![unanswered(1, NODE1, 0.0, 0)]));
    assert_eq!(codes(&f), ["conn.no_answer"]);
    assert_eq!(f[0].level, Level::Info);
    assert!(
        f[0].message.contains("1 connection attempt never"),
        "{}",
        f[0].message
    );
}

#[test]
fn attempts_far_apart_are_two_runs_and_other_servers_their_own() {
    let (f, _) = story(&anonymous(vec![
        refused(1, NODE1, 0.0),
        refused(2, NODE2, 1.0),
        refused(3, NODE1, 400.0),
    ]));
    assert_eq!(codes(&f), ["conn.refused", "conn.refused", "conn.refused"]);
    assert_eq!(
        f[0].stream,
        Some(1),
        "the first run is told when the second begins"
    );
    let mut rest: Vec<Option<u64>> = f[1..].iter().map(|x| x.stream).collect();
    rest.sort();
    assert_eq!(rest, [Some(2), Some(3)]);
}

#[test]
fn a_connection_that_opens_ends_the_run_before_it() {
    let (f, _) = story(&by_end(vec![
        refused(1, NODE1, 0.0),
        refused(2, NODE1, 2.0),
        ws(3, NODE1, 5.0, 60.0, EndHow::Rst),
        refused(4, NODE1, 61.0),
    ]));
    assert_eq!(codes(&f), ["conn.refused", "conn.refused"]);
    assert!(
        f[0].message.contains("2 connection attempts over 2.000 s"),
        "{}",
        f[0].message
    );
    assert_eq!((f[1].stream, f[1].frame), (Some(4), Some(400)));
    assert!(
        f[1].message.contains("1 connection attempt refused"),
        "{}",
        f[1].message
    );
}

#[test]
fn a_run_is_the_same_whatever_order_its_attempts_end_in() {
    let list = vec![
        refused(1, NODE1, 0.0),
        refused(2, NODE1, 2.0),
        refused(3, NODE1, 5.0),
    ];
    let (forward, _) = story(&anonymous(list.clone()));
    let mut reversed = list;
    reversed.reverse();
    let (backward, _) = story(&anonymous(reversed));
    assert_eq!(forward, backward);
    assert!(
        forward[0]
            .message
            .contains("3 connection attempts over 5.000 s"),
        "{}",
        forward[0].message
    );
}

#[test]
fn three_reconnects_within_two_minutes_are_a_loop_with_its_rhythm() {
    let mut list = Vec::new();
    for i in 0..4u64 {
        let start = i as f64 * 20.0;
        list.push(ws(i, NODE1, start, start + 17.0, EndHow::Fin));
    }
    let (f, _) = story(&by_end(list));
    assert_eq!(
        codes(&f),
        [
            "conn.reconnect",
            "conn.reconnect",
            "conn.reconnect",
            "conn.reconnect_loop"
        ]
    );
    let l = &f[3];
    assert_eq!(l.level, Level::Info, "inferred roles");
    assert_eq!((l.frame, l.stream), (Some(100), Some(1)));
    assert!(
        l.message.contains(
            "reconnected 3 times within 1 min 0 s, one every 20.000 s (median) (streams 1 to 3)"
        ),
        "{}",
        l.message
    );
}

#[test]
fn a_connection_the_budget_cut_is_followed_by_no_claimed_reconnect() {
    // Stream 1 was cut after 10 s: whether it was still open when stream 2
    // opened is not known, so neither a reconnect nor a failover is said;
    // stream 2's FIN is seen, so stream 3 after it is a reconnect.
    let (f, _) = story(&by_end(vec![
        ws(1, NODE1, 0.0, 10.0, EndHow::NotFollowed),
        ws(2, NODE2, 40.0, 60.0, EndHow::Fin),
        ws(3, NODE2, 70.0, 90.0, EndHow::Fin),
    ]));
    assert_eq!(codes(&f), ["conn.reconnect"]);
    assert!(f[0].message.contains("stream 2 ended"), "{}", f[0].message);
}

#[test]
fn three_reconnects_over_three_minutes_are_no_loop() {
    let mut list = Vec::new();
    for i in 0..4u64 {
        // Reconnects at 90, 180 and 270 s: three within three minutes.
        let start = i as f64 * 90.0;
        list.push(ws(i, NODE1, start, start + 80.0, EndHow::Fin));
    }
    let (f, _) = story(&by_end(list));
    assert_eq!(codes(&f), ["conn.reconnect"; 3]);
}

#[test]
fn a_loop_ends_when_the_desktop_settles_and_a_decrypted_one_warns() {
    let mut list = Vec::new();
    for i in 0..5u64 {
        let start = i as f64 * 20.0;
        list.push(decrypted(ws(i, NODE1, start, start + 15.0, EndHow::Rst)));
    }
    // Settled for ten minutes, then one more reconnect: not part of the loop.
    list.push(decrypted(ws(5, NODE1, 700.0, 800.0, EndHow::Fin)));
    let (f, _) = story(&by_end(list));
    let loops: Vec<&Finding> = f
        .iter()
        .filter(|x| x.code == "conn.reconnect_loop")
        .collect();
    assert_eq!(loops.len(), 1);
    assert_eq!(loops[0].level, Level::Warn);
    assert!(
        loops[0].message.contains("reconnected 4 times"),
        "{}",
        loops[0].message
    );
    assert!(
        loops[0].message.contains("(streams 1 to 4)"),
        "{}",
        loops[0].message
    );
    let reconnects: Vec<&Finding> = f.iter().filter(|x| x.code == "conn.reconnect").collect();
    assert_eq!(reconnects.len(), 5);
    assert!(reconnects.iter().all(|r| r.level == Level::Info));
}

#[test]
fn a_decrypted_failover_warns_and_the_same_node_is_a_reconnect() {
    let (f, _) = story(&by_end(vec![
        decrypted(ws(0, NODE1, 0.0, 10.0, EndHow::Rst)),
        decrypted(ws(1, NODE2, 15.0, 100.0, EndHow::Fin)),
        decrypted(ws(2, NODE2, 103.0, 200.0, EndHow::Fin)),
    ]));
    assert_eq!(codes(&f), ["conn.failover", "conn.reconnect"]);
    assert_eq!(f[0].level, Level::Warn);
    assert!(
        f[0].message.contains("both seen decrypted"),
        "{}",
        f[0].message
    );
    assert!(
        f[0].message.contains("5.000 s after stream 0"),
        "{}",
        f[0].message
    );
}

#[test]
fn two_agents_behind_one_address_are_told_apart_with_keys() {
    let a = |n, start, end| {
        (
            decrypted(ws(n, NODE1, start, end, EndHow::Fin)),
            Some("1001"),
        )
    };
    let b = |n, start, end| {
        (
            decrypted(ws(n, NODE1, start, end, EndHow::Fin)),
            Some("1002"),
        )
    };
    // Interleaved: without users, 2 would look like 1001's reconnect after 1 (gap 1 s).
    let feed = [
        a(0, 0.0, 10.0),
        b(1, 5.0, 11.0),
        a(2, 12.0, 30.0),
        b(3, 40.0, 50.0),
    ];
    let (f, d) = story(&feed);
    assert_eq!(codes(&f), ["conn.reconnect", "conn.reconnect"]);
    assert!(
        f[0].message
            .starts_with("1001 on 192.168.10.21 reconnected"),
        "{}",
        f[0].message
    );
    assert!(
        f[0].message.contains("2.000 s after stream 0"),
        "{}",
        f[0].message
    );
    assert!(
        f[1].message.starts_with("1002 on 192.168.10.21"),
        "{}",
        f[1].message
    );
    assert!(
        f[1].message.contains("29.000 s after stream 1"),
        "{}",
        f[1].message
    );
    assert_eq!(d[0].users, ["1001", "1002"]);
    let node = &crate::report::desktops::connection_row(&d[0], &d[0].connections[1])[2];
    assert_eq!(
        node, "finesse1.example.com (10.20.30.40) · 1002",
        "two users: each row names its own"
    );
    let gaps: Vec<Option<f64>> = d[0].connections.iter().map(|c| c.gap_s).collect();
    assert_eq!(gaps, [None, None, Some(2.0), Some(29.0)]);
}

#[test]
fn rest_connections_interleaved_are_summarised_per_node_and_break_nothing() {
    let rest = |n, node, start: f64| conn(n, node, Role::Rest, start, start + 0.5, EndHow::Fin);
    let (f, d) = story(&by_end(vec![
        ws(0, NODE1, 0.0, 30.0, EndHow::Rst),
        rest(1, NODE1, 10.0),
        rest(2, NODE1, 31.0),
        rest(3, NODE2, 33.0),
        ws(4, NODE2, 35.0, 90.0, EndHow::Fin),
        conn(5, NODE2, Role::Other, 36.0, 37.0, EndHow::Fin),
    ]));
    assert_eq!(codes(&f), ["conn.failover"]);
    let desktop = &d[0];
    let streams: Vec<u64> = desktop.connections.iter().map(|c| c.stream).collect();
    assert_eq!(
        streams,
        [0, 4],
        "REST and other connections are not listed one by one"
    );
    let rest: Vec<(String, u64, f64)> = desktop
        .rest
        .iter()
        .map(|r| (r.node.to_string(), r.connections, r.span_s))
        .collect();
    assert_eq!(
        rest,
        [
            ("finesse1.example.com (10.20.30.40)".to_owned(), 2, 21.5),
            ("finesse2.example.com (10.20.30.42)".to_owned(), 1, 0.5),
        ]
    );
}

#[test]
fn overlapping_connections_and_close_bosh_polls_are_not_reconnects() {
    let bosh = |n, start, end| conn(n, NODE1, Role::XmppBosh, start, end, EndHow::Fin);
    let (f, _) = story(&by_end(vec![
        ws(0, NODE1, 0.0, 100.0, EndHow::Fin),
        ws(1, NODE1, 50.0, 60.0, EndHow::Fin),
    ]));
    assert!(f.is_empty(), "{f:?}");
    let (f, _) = story(&by_end(vec![
        bosh(0, 0.0, 61.0),
        bosh(1, 62.0, 120.0),
        bosh(2, 200.0, 260.0),
    ]));
    assert_eq!(codes(&f), ["conn.reconnect"], "only after the 80 s quiet");
    assert_eq!(f[0].stream, Some(2));
}

#[test]
fn the_desktop_list_and_the_desktops_are_capped_with_one_finding_each() {
    let limits = Limits {
        max_desktop_connections: 2,
        max_desktops: 1,
        ..Limits::default()
    };
    let mut feed = by_end(vec![
        ws(0, NODE1, 0.0, 1.0, EndHow::Fin),
        ws(1, NODE1, 2.0, 3.0, EndHow::Fin),
        ws(2, NODE1, 4.0, 5.0, EndHow::Fin),
        ws(3, NODE1, 6.0, 7.0, EndHow::Fin),
    ]);
    let mut other = ws(4, NODE1, 8.0, 9.0, EndHow::Fin);
    other.client = "192.168.10.99:50000".parse().unwrap();
    feed.push((other.clone(), None));
    feed.push((other, None));
    let (f, d) = story_with(&feed, &limits);
    let limit: Vec<&Finding> = f
        .iter()
        .filter(|x| x.code == "conn.desktop_limit")
        .collect();
    assert_eq!(limit.len(), 2, "{f:?}");
    assert_eq!(limit[0].stream, Some(2));
    assert!(
        limit[1].message.contains("192.168.10.99"),
        "{}",
        limit[1].message
    );
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].connections.len(), d[0].connections_dropped), (2, 2));
    assert_eq!(
        codes(&f).iter().filter(|c| **c == "conn.reconnect").count(),
        3
    );
}

#[test]
fn ties_in_ending_order_give_the_same_findings() {
    // Two connections ending at the same moment may come in either order.
    let list = vec![
        ws(0, NODE1, 0.0, 10.0, EndHow::Rst),
        refused(1, NODE1, 10.0),
        ws(2, NODE2, 12.0, 50.0, EndHow::Fin),
    ];
    let mut tied = list.clone();
    tied[1].ended.time = Some(at(10.0));
    tied[1].duration_s = 0.0;
    let (a, da) = story(&anonymous(tied.clone()));
    tied.swap(0, 1);
    let (b, db) = story(&anonymous(tied));
    assert_eq!(a, b);
    assert_eq!(da, db);
}

#[test]
fn nodes_differ_by_address_or_by_a_named_sni() {
    let node = |a: &str, sni: Option<&str>| Node {
        address: a.parse().unwrap(),
        sni: sni.map(str::to_owned),
    };
    assert!(node(NODE1, None).is_other_than(&node(NODE2, None)));
    assert!(!node(NODE1, None).is_other_than(&node(NODE1, Some("a"))));
    assert!(node(NODE1, Some("a")).is_other_than(&node(NODE1, Some("b"))));
    assert!(!node(NODE1, Some("A")).is_other_than(&node(NODE1, Some("a"))));
    assert_eq!(super::chain::median(&[]), None);
    assert_eq!(super::chain::median(&[5, 1, 3, 2]), Some(2));
}

proptest::proptest! {
    /// Attempts within the run break of each other, to two servers, ending
    /// either way: whatever order their summaries come in, the same runs are told.
    #[test]
    fn runs_do_not_depend_on_the_order_attempts_end_in(
        attempts in proptest::collection::vec((0u32..240_000, proptest::bool::ANY, proptest::bool::ANY, 0u32..4), 1..12),
        seed in proptest::num::u64::ANY,
    ) {
        let list: Vec<Summary> = attempts
            .iter()
            .enumerate()
            .map(|(i, &(ms, other_node, refused_it, retries))| {
                let node = if other_node { NODE2 } else { NODE1 };
                let start = f64::from(ms) / 1000.0;
                if refused_it {
                    refused(i as u64 + 1, node, start)
                } else {
                    unanswered(i as u64 + 1, node, start, retries)
                }
            })
            .collect();
        let (mut forward, _) = story(&anonymous(list.clone()));
        let mut shuffled = list;
        fastrand::Rng::with_seed(seed).shuffle(&mut shuffled);
        let (mut other, _) = story(&anonymous(shuffled));
        forward.sort_by(|a, b| a.message.cmp(&b.message));
        other.sort_by(|a, b| a.message.cmp(&b.message));
        proptest::prop_assert_eq!(forward, other);
    }
}
