//! Conformance on real captures: the XMPP elements of each TCP connection
//! against the XMPP section of tshark 4.0's ground truth (`.tshark.txt`).
//!
//! The TCP stage is not part of this module, so a small test-only helper
//! pulls the in-order payload of each direction out of the capture
//! (pcap-parser + etherparse, pcap or pcapng, Ethernet) and feeds it to a
//! [`StreamFramer`]; lost bytes become `on_gap`. Captures are read from
//! `$XMPPCAP_CORPUS`, else from the public capture corpus checked out
//! beside the repository (one or two levels above the crate root); the
//! tests say loudly when they are skipped.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_parser::{create_reader, Block, PcapBlockOwned, PcapError};

use super::testkit::Collect;
use super::StreamFramer;
use crate::limits::Limits;
use crate::position::{Dir, FrameRef, Timestamp};

fn corpus() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("XMPPCAP_CORPUS").map(PathBuf::from),
        Some(root.join("../shared/corpus")),
        Some(root.join("../../shared/corpus")),
    ];
    let found = candidates.into_iter().flatten().find(|p| p.is_dir());
    if found.is_none() {
        eprintln!("SKIPPED: no corpus (set XMPPCAP_CORPUS to ../shared/corpus)");
    }
    found
}

struct Segment {
    frame: FrameRef,
    src: (String, u16),
    dst: (String, u16),
    seq: u32,
    syn: bool,
    ack: bool,
    payload: Vec<u8>,
}

fn segment(frame: FrameRef, data: &[u8]) -> Option<Segment> {
    let p = SlicedPacket::from_ethernet(data).ok()?;
    let (src, dst) = match p.net? {
        NetSlice::Ipv4(ip) => (
            ip.header().source_addr().to_string(),
            ip.header().destination_addr().to_string(),
        ),
        NetSlice::Ipv6(ip) => (
            ip.header().source_addr().to_string(),
            ip.header().destination_addr().to_string(),
        ),
        NetSlice::Arp(_) => return None,
    };
    let TransportSlice::Tcp(tcp) = p.transport? else {
        return None;
    };
    Some(Segment {
        frame,
        src: (src, tcp.source_port()),
        dst: (dst, tcp.destination_port()),
        seq: tcp.sequence_number(),
        syn: tcp.syn(),
        ack: tcp.ack(),
        payload: tcp.payload().to_vec(),
    })
}

/// Every TCP segment of the capture, with Wireshark's frame numbers.
fn read_segments(path: &PathBuf) -> Vec<Segment> {
    let file = File::open(path).unwrap();
    let mut reader = create_reader(1 << 20, file).unwrap();
    let mut out = Vec::new();
    let mut n = 0u64;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                let packet = match block {
                    PcapBlockOwned::Legacy(b) => Some((
                        Timestamp::from_secs_nanos(b.ts_sec.into(), u64::from(b.ts_usec) * 1000),
                        b.data.get(..b.caplen as usize).unwrap_or(b.data),
                    )),
                    PcapBlockOwned::NG(Block::EnhancedPacket(b)) => {
                        let micros = (u64::from(b.ts_high) << 32) | u64::from(b.ts_low);
                        Some((
                            Timestamp::from_secs_nanos(0, micros * 1000),
                            b.data.get(..b.caplen as usize).unwrap_or(b.data),
                        ))
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(b)) => {
                        Some((Timestamp::default(), b.data))
                    }
                    _ => None,
                };
                if let Some((ts, data)) = packet {
                    n += 1;
                    out.extend(segment(FrameRef::new(n, ts), data));
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().unwrap(),
            Err(e) => panic!("{path:?}: {e:?}"),
        }
    }
    out
}

/// One connection's element sequence: (stream, dir, first frame, last frame, name, type).
type Element = (u64, Dir, u64, u64, String, Option<String>);

fn decode(path: &PathBuf) -> (Vec<Element>, Collect) {
    let (elements, sink, _) = decode_with_bytes(path);
    (elements, sink)
}

/// Also returns each direction's in-order payload, by (stream, dir).
#[allow(clippy::type_complexity)]
fn decode_with_bytes(path: &PathBuf) -> (Vec<Element>, Collect, BTreeMap<(u64, Dir), Vec<u8>>) {
    let mut bytes: BTreeMap<(u64, Dir), Vec<u8>> = BTreeMap::new();
    let segments = read_segments(path);
    // Streams in order of first appearance; node 0 is the first sender (or the SYN's sender).
    let mut streams: BTreeMap<((String, u16), (String, u16)), (u64, (String, u16))> =
        BTreeMap::new();
    let mut framers: Vec<StreamFramer> = Vec::new();
    let mut next_seq: BTreeMap<(u64, Dir), u32> = BTreeMap::new();
    let mut sink = Collect::default();
    let mut elements = Vec::new();
    for s in &segments {
        let key = if s.src <= s.dst {
            (s.src.clone(), s.dst.clone())
        } else {
            (s.dst.clone(), s.src.clone())
        };
        let count = streams.len() as u64;
        let (stream, client) = streams
            .entry(key)
            .or_insert_with(|| {
                let client = if s.syn && s.ack {
                    s.dst.clone()
                } else {
                    s.src.clone()
                };
                (count, client)
            })
            .clone();
        if framers.len() as u64 <= stream {
            framers.push(StreamFramer::new(stream, &Limits::default(), false));
        }
        let dir = if s.src == client {
            Dir::ClientToServer
        } else {
            Dir::ServerToClient
        };
        let start = s.seq.wrapping_add(u32::from(s.syn));
        let next = *next_seq.entry((stream, dir)).or_insert(start);
        let len = s.payload.len() as u32;
        let end = start.wrapping_add(len);
        if len == 0 || end.wrapping_sub(next) as i32 <= 0 {
            continue; // empty, or all seen before
        }
        let framer = &mut framers[stream as usize];
        let ahead = start.wrapping_sub(next) as i32;
        let payload = if ahead > 0 {
            framer.on_gap(dir, s.frame, ahead as u64, &mut sink);
            &s.payload[..]
        } else {
            &s.payload[(-ahead) as usize..]
        };
        next_seq.insert((stream, dir), end);
        bytes
            .entry((stream, dir))
            .or_default()
            .extend_from_slice(payload);
        let before = sink.stanzas.len();
        framer.on_data(dir, s.frame, payload, &mut sink);
        for r in &sink.stanzas[before..] {
            elements.push((
                stream,
                r.dir,
                r.first,
                r.last,
                r.name.clone(),
                r.kind.clone(),
            ));
        }
    }
    for f in &mut framers {
        f.finish(&mut sink);
    }
    (elements, sink, bytes)
}

/// tshark's XMPP section: (frame, stream, element name, iq type).
fn tshark_xmpp(path: &PathBuf) -> Vec<(u64, u64, String, Option<String>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("XMPP:"))
        .unwrap();
    let mut out = Vec::new();
    for line in section.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (frame, stream) = (cols[0].parse().unwrap(), cols[1].parse().unwrap());
        let mut info = *cols.last().unwrap();
        while let Some(rest) = info.trim_start().strip_prefix('[') {
            info = rest.split_once(']').map_or("", |(_, r)| r);
        }
        let info = info.trim();
        let (name, ty) = match info.split_whitespace().next().unwrap_or("") {
            "STREAM" if info.starts_with("STREAM END") => ("/stream:stream", None),
            "STREAM" => ("stream:stream", None),
            "FEATURES" => ("stream:features", None),
            "XML" | "UNKNOWN" => continue,
            word => match word.strip_prefix("IQ(") {
                Some(t) => ("iq", Some(t.trim_end_matches(')').to_owned())),
                None => (word, None),
            },
        };
        out.push((frame, stream, name.to_ascii_lowercase(), ty));
    }
    out
}

/// Every element tshark names is one of ours, in the same stream, with the
/// same iq type, covering the frame tshark named (tshark names an element
/// spread over several segments at one of them, not always the first or
/// last); every one of ours covers a frame tshark decoded as XMPP, or shares
/// its first frame with another of ours (tshark names one element per frame).
fn conform(capture: &str) -> Option<(Vec<Element>, Collect)> {
    let dir = corpus()?;
    let (ours, sink) = decode(&dir.join(capture));
    let theirs = tshark_xmpp(&dir.join(format!("{capture}.tshark.txt")));
    for (frame, stream, name, ty) in &theirs {
        let found = ours.iter().any(|(s, _, first, last, n, t)| {
            s == stream && (first..=last).contains(&frame) && n == name && (ty.is_none() || t == ty)
        });
        assert!(
            found,
            "{capture}: tshark's {name} {ty:?} in frame {frame} (stream {stream}) not found"
        );
    }
    let frames: Vec<(u64, u64)> = theirs.iter().map(|(f, s, ..)| (*s, *f)).collect();
    let xml_streams: Vec<u64> = theirs.iter().map(|t| t.1).collect();
    for (s, _, first, last, name, _) in &ours {
        if xml_streams.contains(s) {
            assert!(
                frames
                    .iter()
                    .any(|(fs, f)| fs == s && (first..=last).contains(&f))
                    || shares_frame(&ours, *s, *first),
                "{capture}: our {name} in frames {first}..{last} (stream {s}) is unknown to tshark"
            );
        }
    }
    Some((ours, sink))
}

/// Whether another of our elements in the same stream starts in `frame`
/// (tshark names one element per frame).
fn shares_frame(ours: &[Element], stream: u64, frame: u64) -> bool {
    ours.iter()
        .filter(|e| e.0 == stream && (e.2 == frame || e.3 == frame))
        .count()
        > 1
}

fn count(ours: &[Element], name: &str) -> usize {
    ours.iter().filter(|e| e.4 == name).count()
}

#[test]
fn softportal_prosody_sessions_match_tshark() {
    let Some((ours, sink)) = conform("softportal-Bin/xmpp.out") else {
        return;
    };
    // 3 sessions with SCRAM-SHA-1: auth, challenge, response, success each.
    for (name, n) in [
        ("auth", 3),
        ("challenge", 3),
        ("response", 3),
        ("success", 3),
        ("stream:stream", 12),
        ("/stream:stream", 2),
    ] {
        assert_eq!(count(&ours, name), n, "{name}");
    }
    assert_eq!(count(&ours, "iq"), 54);
    assert_eq!(count(&ours, "message"), 20);
    assert_eq!(count(&ours, "presence"), 6);
    let users: Vec<&str> = sink
        .stanzas
        .iter()
        .filter(|s| s.name == "auth")
        .map(|s| s.summary.as_str())
        .collect();
    assert_eq!(
        users,
        [
            "auth SCRAM-SHA-1 as sergio",
            "auth SCRAM-SHA-1 as lucas",
            "auth SCRAM-SHA-1 as lucas"
        ]
    );
    let pongs = sink
        .stanzas
        .iter()
        .filter(|s| s.summary.starts_with("ping → pong"))
        .count();
    assert_eq!(pongs, 15);
    assert_eq!(
        sink.findings
            .iter()
            .filter(|f| f.code == "xmpp.malformed_xml")
            .count(),
        0
    );
    assert!(
        !sink
            .json
            .contains("cD1vQ0JvQUZQZnMxK3dxNnVDcW1wVU4vWWJXeG89"),
        "SCRAM proof leaked"
    );
}

#[test]
fn ndpi_jabber_sessions_match_tshark() {
    let Some((ours, sink)) = conform("ndpi/jabber.pcap") else {
        return;
    };
    assert_eq!(count(&ours, "failure"), 1);
    assert!(sink.codes().contains(&"xmpp.sasl_failure"));
    let digest_users: Vec<&str> = sink
        .stanzas
        .iter()
        .filter(|s| s.name == "response" && s.summary.contains(" as "))
        .map(|s| s.summary.as_str())
        .collect();
    assert_eq!(digest_users.len(), 3, "{digest_users:?}");
    assert!(digest_users
        .iter()
        .all(|s| *s == "response DIGEST-MD5 as tom (redacted)"));
    // A stanza split across three segments (frames 46-48) comes out whole.
    assert!(
        ours.iter()
            .any(|e| e.0 == 0 && e.2 == 46 && e.3 == 48 && e.4 == "iq"),
        "{ours:?}"
    );
    assert!(sink.codes().contains(&"xmpp.gap"));
}

#[test]
fn zeek_starttls_hands_over_at_the_client_hello_and_server_hello() {
    let Some(dir) = corpus() else {
        return;
    };
    let (ours, sink, bytes) = decode_with_bytes(&dir.join("zeek/tls_xmpp-starttls.pcap"));
    let names: Vec<&str> = ours.iter().map(|e| e.4.as_str()).collect();
    assert_eq!(
        names,
        [
            "stream:stream",
            "stream:stream",
            "stream:features",
            "starttls",
            "proceed"
        ]
    );
    assert_eq!(sink.handovers.len(), 2, "{:?}", sink.handovers);
    for h in &sink.handovers {
        let stream = &bytes[&(0, h.dir)];
        let at = h.offset as usize;
        // A TLS handshake record (0x16, version 3.x) starts exactly there.
        assert_eq!(&stream[at..at + 2], &[0x16, 0x03], "{:?}", h.dir);
        assert!(stream[..at].ends_with(b"/>"), "{:?}", h.dir);
    }
    assert!(sink
        .findings
        .iter()
        .all(|f| f.code != "xmpp.junk" && f.code != "xmpp.malformed_xml"));
}

#[test]
fn zeek_s2s_dialback_starttls() {
    let Some(dir) = corpus() else {
        return;
    };
    let (ours, sink, bytes) = decode_with_bytes(&dir.join("zeek/tls_xmpp-dialback-starttls.pcap"));
    let names: Vec<&str> = ours.iter().map(|e| e.4.as_str()).collect();
    assert_eq!(
        names,
        [
            "stream:stream",
            "stream:stream",
            "stream:features",
            "starttls",
            "proceed"
        ]
    );
    assert_eq!(sink.stanzas[2].summary, "features: dialback, STARTTLS");
    assert_eq!(sink.handovers.len(), 2, "{:?}", sink.handovers);
    for h in &sink.handovers {
        let stream = &bytes[&(0, h.dir)];
        assert_eq!(stream[h.offset as usize], 0x16);
    }
}
