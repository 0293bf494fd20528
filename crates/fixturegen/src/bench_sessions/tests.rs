use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

use etherparse::{NetSlice, SlicedPacket, TransportSlice};

use super::*;
use crate::frame::Frame;

/// The TCP facts of one frame: client end, whether it is a SYN (not
/// SYN-ACK) from the client, a FIN, and the payload length.
struct Seen {
    client: SocketAddr,
    syn: bool,
    fin: bool,
    payload: usize,
}

fn seen(frame: &Frame) -> Seen {
    let p = SlicedPacket::from_ethernet(&frame.data).unwrap();
    let (Some(NetSlice::Ipv4(v4)), Some(TransportSlice::Tcp(t))) = (p.net, p.transport) else {
        panic!("every frame is TCP over IPv4");
    };
    let (src, dst): (IpAddr, IpAddr) = (
        v4.header().source_addr().into(),
        v4.header().destination_addr().into(),
    );
    let client = if t.destination_port() == 8445 {
        SocketAddr::new(src, t.source_port())
    } else {
        SocketAddr::new(dst, t.destination_port())
    };
    Seen {
        client,
        syn: t.syn() && !t.ack(),
        fin: t.fin(),
        payload: t.payload().len(),
    }
}

fn generate(sessions: u64, concurrent: usize, seed: u64) -> (Vec<Frame>, String, BenchStats) {
    let mut frames: Vec<Frame> = Vec::new();
    let mut keys: Vec<u8> = Vec::new();
    let cfg = SessionsConfig {
        sessions,
        concurrent,
        seed,
    };
    let stats = bench_sessions(&mut frames, &mut keys, &cfg).unwrap();
    (frames, String::from_utf8(keys).unwrap(), stats)
}

#[test]
fn every_session_is_its_own_connection_opened_and_closed() {
    let (frames, keys, stats) = generate(23, 5, 7);
    assert_eq!(stats.conns, 23);
    assert_eq!(stats.frames, frames.len() as u64);
    assert!(frames.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
    // Five TLS 1.3 secrets per connection, one client random per connection.
    assert_eq!(keys.lines().count(), 23 * 5);
    let randoms: BTreeSet<&str> = keys.lines().filter_map(|l| l.split(' ').nth(1)).collect();
    assert_eq!(randoms.len(), 23);
    let mut syns = BTreeMap::new();
    let mut fins: BTreeMap<SocketAddr, u32> = BTreeMap::new();
    let mut payload: BTreeMap<SocketAddr, usize> = BTreeMap::new();
    for f in &frames {
        let s = seen(f);
        if s.syn {
            *syns.entry(s.client).or_insert(0) += 1;
        }
        if s.fin {
            *fins.entry(s.client).or_insert(0) += 1;
        }
        *payload.entry(s.client).or_insert(0) += s.payload;
    }
    assert_eq!(syns.len(), 23, "distinct client ends");
    assert!(syns.values().all(|&n| n == 1));
    assert!(fins.values().all(|&n| n == 2), "FIN both ways: {fins:?}");
    assert_eq!(fins.len(), 23);
    // Login, upgrade and a few notifications: a few kilobytes each, not bulk.
    assert!(
        payload.values().all(|&n| (3_000..30_000).contains(&n)),
        "{payload:?}"
    );
}

#[test]
fn never_more_sessions_open_than_asked() {
    let (frames, _, _) = generate(40, 6, 3);
    let mut open: BTreeSet<SocketAddr> = BTreeSet::new();
    let mut fins: BTreeMap<SocketAddr, u32> = BTreeMap::new();
    let mut most = 0;
    for f in &frames {
        let s = seen(f);
        if s.syn {
            open.insert(s.client);
        }
        if s.fin {
            let n = fins.entry(s.client).or_insert(0);
            *n += 1;
            if *n == 2 {
                open.remove(&s.client);
            }
        }
        most = most.max(open.len());
    }
    assert_eq!(most, 6);
    assert!(open.is_empty());
}

#[test]
fn the_same_seed_gives_the_same_capture() {
    let (a, ka, _) = generate(9, 4, 11);
    let (b, kb, _) = generate(9, 4, 11);
    let (c, _, _) = generate(9, 4, 12);
    assert_eq!(ka, kb);
    assert_eq!(a.len(), b.len());
    assert!(a
        .iter()
        .zip(&b)
        .all(|(x, y)| x.ts_ns == y.ts_ns && x.data == y.data));
    assert!(a.len() != c.len() || a.iter().zip(&c).any(|(x, y)| x.data != y.data));
}

#[test]
fn client_ends_stay_distinct_past_the_port_range() {
    let ends: BTreeSet<SocketAddr> = (0..200_000u64)
        .map(|s| session_conv(s, START_NS).config().client)
        .collect();
    assert_eq!(ends.len(), 200_000);
}

#[test]
fn user_and_team_documents_name_the_agent() {
    let user = user_doc(10_007, 8, "READY", None, "t");
    assert!(user.contains("<loginId>10007</loginId>") && user.contains("<teamId>8</teamId>"));
    let team = team_doc(10_007, 8, "TALKING", "t", &mut Rng::with_seed(1));
    assert!(team.contains("<loginId>10007</loginId><state>TALKING</state>"));
}
