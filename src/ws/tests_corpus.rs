//! Conformance of the WebSocket stage against tshark 4.0 on the public corpus
//! (`XMPPCAP_CORPUS`, else `../shared/corpus`; skipped loudly when absent).
//!
//! The TCP stage is not available here, so a tiny test-only helper reads the
//! capture (pcap-parser, etherparse), keeps one TCP connection, reassembles
//! each direction in order, checks the bytes against tshark's
//! `<capture>.streams.tsv`, cuts the HTTP heads off at the first blank line,
//! and feeds the rest. Compared with the "WebSocket frames" section of
//! `<capture>.tshark.txt`: data messages and control frames per direction and
//! opcode, compression flags, and the texts (tshark escapes CR/LF and cuts long
//! texts).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use pcap_parser::pcapng::Block;
use pcap_parser::{create_reader, Linktype, PcapBlockOwned, PcapError};
use sha2::{Digest, Sha256};

use super::tests::Recorder;
use super::{Connection, Negotiated};
use crate::limits::Limits;
use crate::position::{Dir, FrameRef, Timestamp};

fn corpus() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // ../shared/corpus from the main checkout, ../../shared/corpus from a worktree.
    let candidates = match std::env::var_os("XMPPCAP_CORPUS") {
        Some(dir) => vec![PathBuf::from(dir)],
        None => vec![
            root.join("../shared/corpus"),
            root.join("../../shared/corpus"),
        ],
    };
    let found = candidates.iter().find(|d| d.is_dir()).cloned();
    if found.is_none() {
        eprintln!("SKIPPED: no corpus at {candidates:?} (set XMPPCAP_CORPUS)");
    }
    found
}

/// One TCP segment of the chosen connection.
struct Segment {
    frame: FrameRef,
    dir: Dir,
    seq: u32,
    syn: bool,
    fin: bool,
    rst: bool,
    payload: Vec<u8>,
}

type Endpoint = (IpAddr, u16);
/// A connection's (client, server).
type Connection4 = (Endpoint, Endpoint);

/// tshark's client and server of stream `stream`, from `<capture>.streams.tsv`.
fn tshark_endpoints(path: &Path, stream: usize) -> Option<(String, String)> {
    let text = std::fs::read_to_string(format!("{}.streams.tsv", path.display())).ok()?;
    text.lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && f[0] == "tcp" && f[1] == stream.to_string())
        .map(|f| (f[2].to_owned(), f[3].to_owned()))
}

fn endpoint_name((ip, port): Endpoint) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// Segments of TCP stream `wanted`: found by tshark's endpoints, or numbered
/// by first appearance.
fn read_stream(path: &Path, wanted: usize) -> Vec<Segment> {
    let endpoints = tshark_endpoints(path, wanted);
    let (streams, segments) = read_segments(path);
    segments
        .into_iter()
        .filter(|(index, _)| {
            let (client, server) = streams[*index];
            match &endpoints {
                Some((c, s)) => endpoint_name(client) == *c && endpoint_name(server) == *s,
                None => *index == wanted,
            }
        })
        .map(|(_, segment)| segment)
        .collect()
}

/// Every TCP segment of the capture with the index of its connection
/// (numbered by first appearance), and each connection's (client, server).
fn read_segments(path: &Path) -> (Vec<Connection4>, Vec<(usize, Segment)>) {
    let bytes = std::fs::read(path).expect("capture reads");
    let input: Box<dyn std::io::Read + Send> = if bytes.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(std::io::Cursor::new(bytes)))
    } else {
        Box::new(std::io::Cursor::new(bytes))
    };
    let mut reader = create_reader(1 << 20, input).expect("pcap or pcapng");
    let mut linktypes: Vec<Linktype> = Vec::new();
    let mut streams: Vec<Connection4> = Vec::new();
    let mut out = Vec::new();
    let mut frame = 0u64;
    loop {
        let (used, packet) = match reader.next() {
            Ok((used, block)) => {
                let packet = match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        linktypes = vec![h.network];
                        None
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let ts = Timestamp::from_secs_nanos(
                            i64::from(b.ts_sec),
                            u64::from(b.ts_usec) * 1000,
                        );
                        Some((b.data.to_vec(), linktypes.first().copied(), ts))
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        linktypes.push(idb.linktype);
                        None
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let data = epb
                            .data
                            .get(..epb.caplen as usize)
                            .unwrap_or(epb.data)
                            .to_vec();
                        let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        // Microsecond resolution is the default and all the corpus uses.
                        let ts = Timestamp::from_nanos_i128(i128::from(ts) * 1000);
                        Some((data, linktypes.get(epb.if_id as usize).copied(), ts))
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => Some((
                        spb.data.to_vec(),
                        linktypes.first().copied(),
                        Timestamp::default(),
                    )),
                    PcapBlockOwned::NG(_) => None,
                };
                (used, packet)
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                reader.refill().expect("refill");
                continue;
            }
            Err(e) => panic!("{}: {e:?}", path.display()),
        };
        reader.consume(used);
        let Some((data, Some(linktype), ts)) = packet else {
            continue;
        };
        frame += 1;
        let at = FrameRef::new(frame, ts);
        let sliced = match linktype {
            Linktype::ETHERNET => etherparse::SlicedPacket::from_ethernet(&data),
            // etherparse refuses SLL with ARPHRD 772 (loopback): skip the 16-byte header.
            Linktype::LINUX_SLL => {
                etherparse::SlicedPacket::from_ip(data.get(16..).unwrap_or_default())
            }
            Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 => {
                etherparse::SlicedPacket::from_ip(&data)
            }
            Linktype::NULL => etherparse::SlicedPacket::from_ip(data.get(4..).unwrap_or_default()),
            _ => continue,
        };
        let Ok(sliced) = sliced else { continue };
        let (Some(net), Some(etherparse::TransportSlice::Tcp(tcp))) =
            (sliced.net, sliced.transport)
        else {
            continue;
        };
        let (src_ip, dst_ip) = match &net {
            etherparse::NetSlice::Ipv4(s) => (
                IpAddr::V4(s.header().source_addr()),
                IpAddr::V4(s.header().destination_addr()),
            ),
            etherparse::NetSlice::Ipv6(s) => (
                IpAddr::V6(s.header().source_addr()),
                IpAddr::V6(s.header().destination_addr()),
            ),
            _ => continue,
        };
        let (src, dst) = (
            (src_ip, tcp.source_port()),
            (dst_ip, tcp.destination_port()),
        );
        let index = match streams
            .iter()
            .position(|&(a, b)| (a, b) == (src, dst) || (a, b) == (dst, src))
        {
            Some(i) => i,
            None => {
                // The SYN sender (or the first sender) is the client.
                let client_first = !tcp.syn() || !tcp.ack();
                streams.push(if client_first { (src, dst) } else { (dst, src) });
                streams.len() - 1
            }
        };
        let dir = if streams[index].0 == src {
            Dir::ClientToServer
        } else {
            Dir::ServerToClient
        };
        out.push((
            index,
            Segment {
                frame: at,
                dir,
                seq: tcp.sequence_number(),
                syn: tcp.syn(),
                fin: tcp.fin(),
                rst: tcp.rst(),
                payload: tcp.payload().to_vec(),
            },
        ));
    }
    (streams, out)
}

/// What the connection saw per direction, in order: in-order bytes only.
enum Event {
    Data(Dir, FrameRef, Vec<u8>),
    End(Dir, FrameRef, bool),
}

fn reassemble(segments: &[Segment]) -> (Vec<Event>, [Vec<u8>; 2]) {
    let mut next: [Option<u32>; 2] = [None, None];
    let mut events = Vec::new();
    let mut all = [Vec::new(), Vec::new()];
    for s in segments {
        let i = s.dir.index();
        if s.syn {
            next[i] = Some(s.seq.wrapping_add(1));
        }
        let expected = *next[i].get_or_insert(s.seq);
        let skip = expected.wrapping_sub(s.seq) as usize;
        if !s.payload.is_empty()
            && skip < s.payload.len()
            && (s.seq == expected || skip < (1 << 30))
        {
            let fresh = s.payload[skip..].to_vec();
            next[i] = Some(expected.wrapping_add(fresh.len() as u32));
            all[i].extend_from_slice(&fresh);
            events.push(Event::Data(s.dir, s.frame, fresh));
        }
        if s.fin || s.rst {
            events.push(Event::End(s.dir, s.frame, s.rst));
        }
    }
    (events, all)
}

/// tshark's reassembled payload hashes: `(dir, sha256)` of stream `stream`.
fn tshark_hashes(path: &Path, stream: usize) -> Vec<(Dir, String)> {
    let text =
        std::fs::read_to_string(format!("{}.streams.tsv", path.display())).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f.len() >= 7 && f[0] == "tcp" && f[1] == stream.to_string())
        .map(|f| {
            (
                if f[4] == "c2s" {
                    Dir::ClientToServer
                } else {
                    Dir::ServerToClient
                },
                f[6].to_owned(),
            )
        })
        .collect()
}

/// One WebSocket frame as tshark listed it.
#[derive(Debug)]
struct TsharkFrame {
    frame: u64,
    stream: usize,
    fin: bool,
    compressed: bool,
    opcode: u8,
    masked: bool,
    text: String,
}

fn tshark_frames(path: &Path) -> Vec<TsharkFrame> {
    let text = std::fs::read_to_string(format!("{}.tshark.txt", path.display()))
        .expect("tshark ground truth");
    let mut frames = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("## ") {
            inside = line.starts_with("## WebSocket frames");
            continue;
        }
        if !inside || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.splitn(9, '\t').collect();
        let list = |i: usize| {
            f.get(i)
                .copied()
                .unwrap_or("")
                .split(',')
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let (fins, rsvs, opcodes, masks) = (list(2), list(3), list(5), list(6));
        for k in 0..fins.len() {
            let rsv =
                u8::from_str_radix(rsvs.get(k).map_or("0", |s| s.trim_start_matches("0x")), 16)
                    .unwrap_or(0);
            frames.push(TsharkFrame {
                frame: f[0].parse().unwrap_or(0),
                stream: f[1].parse().unwrap_or(0),
                fin: fins[k] == "1",
                compressed: rsv & 4 != 0,
                opcode: opcodes.get(k).and_then(|o| o.parse().ok()).unwrap_or(255),
                masked: masks.get(k).is_some_and(|m| m == "1"),
                // Several frames in one packet: the texts cannot be told apart.
                text: if fins.len() == 1 {
                    f.get(8).copied().unwrap_or("").to_owned()
                } else {
                    String::new()
                },
            });
        }
    }
    frames
}

/// A message as compared: from the TCP client?, opcode, compressed, escaped text.
type MessageKey = (bool, u8, bool, String);
/// Control frames: (from the TCP client?, opcode) → count.
type ControlCounts = BTreeMap<(bool, u8), usize>;

/// tshark's view as messages: `(from the TCP client?, opcode, compressed,
/// text)` and control frames; `dir_of` gives the TCP direction of a frame.
fn tshark_messages(
    frames: &[TsharkFrame],
    dir_of: impl Fn(u64) -> Dir,
) -> (Vec<MessageKey>, ControlCounts) {
    let mut messages = Vec::new();
    let mut controls = BTreeMap::new();
    let mut open: [Option<(u8, bool)>; 2] = [None, None];
    for f in frames {
        let from_client = dir_of(f.frame) == Dir::ClientToServer;
        let side = usize::from(from_client);
        match f.opcode {
            8..=10 => *controls.entry((from_client, f.opcode)).or_default() += 1,
            0..=2 => {
                let (opcode, compressed) = if f.opcode == 0 {
                    open[side].unwrap_or((0, false))
                } else {
                    (f.opcode, f.compressed)
                };
                open[side] = if f.fin {
                    None
                } else {
                    Some((opcode, compressed))
                };
                if f.fin {
                    messages.push((from_client, opcode, compressed, f.text.clone()));
                }
            }
            _ => {}
        }
    }
    (messages, controls)
}

fn header<'a>(head: &'a str, name: &str) -> Vec<&'a str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('\r', "\\r")
        .replace('\n', "\\n")
        .replace('\t', "\\t")
}

/// Runs one capture; returns a line for the report, panics on disagreement.
fn conform(corpus: &Path, name: &str) -> String {
    let path = corpus.join(name);
    let frames = tshark_frames(&path);
    let stream = frames.first().map_or(0, |f| f.stream);
    let frames: Vec<TsharkFrame> = frames.into_iter().filter(|f| f.stream == stream).collect();
    let segments = read_stream(&path, stream);
    let (events, all) = reassemble(&segments);
    for (dir, hash) in tshark_hashes(&path, stream) {
        let ours: String = Sha256::digest(&all[dir.index()])
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            ours, hash,
            "{name}: our {dir} reassembly differs from tshark's"
        );
    }
    // The HTTP head of each direction, if there is one.
    let mut heads = [String::new(), String::new()];
    let mut body_start = [0usize; 2];
    for dir in Dir::BOTH {
        let bytes = &all[dir.index()];
        if bytes.starts_with(b"GET ") || bytes.starts_with(b"HTTP/") {
            let end = bytes
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("end of head")
                + 4;
            heads[dir.index()] = String::from_utf8_lossy(&bytes[..end]).into_owned();
            body_start[dir.index()] = end;
        }
    }
    let midstream = heads[0].is_empty();
    let limits = Limits::default();
    let negotiated = (!midstream).then(|| negotiate(name, &heads));
    let feed = |bytewise: bool| {
        let mut conn = match &negotiated {
            None => Connection::new_midstream(stream as u64, &limits),
            Some(n) => Connection::new(stream as u64, n.clone(), &limits),
        };
        for dir in Dir::BOTH {
            conn.set_stream_offset(dir, body_start[dir.index()] as u64);
        }
        let mut r = Recorder::default();
        let mut seen = [0usize; 2];
        for event in &events {
            match event {
                Event::Data(dir, at, bytes) => {
                    let i = dir.index();
                    let skip = body_start[i].saturating_sub(seen[i]).min(bytes.len());
                    seen[i] += bytes.len();
                    let ws = &bytes[skip..];
                    if bytewise {
                        for b in ws.chunks(1) {
                            conn.on_data(*dir, *at, b, &mut r);
                        }
                    } else if !ws.is_empty() {
                        conn.on_data(*dir, *at, ws, &mut r);
                    }
                }
                Event::End(dir, at, rst) => conn.on_tcp_end(*dir, *at, *rst, &mut r),
            }
        }
        conn.finish(&mut r);
        (r, conn.summary().client_dir)
    };
    let (r, client_dir) = feed(false);
    assert_eq!(r.events, feed(true).0.events, "{name}: fed byte by byte");
    let dir_of = |frame: u64| {
        segments
            .iter()
            .find(|s| s.frame.frame == frame)
            .map_or(Dir::ClientToServer, |s| s.dir)
    };
    let masked_ok = frames
        .iter()
        .all(|f| f.masked == (dir_of(f.frame) == client_dir.unwrap_or(Dir::ClientToServer)));
    let (expected, expected_controls) = tshark_messages(&frames, dir_of);
    let line = compare(name, expected, expected_controls, &r);
    format!(
        "{line}{}",
        if masked_ok {
            ""
        } else {
            " (a peer masks the wrong way; tshark agrees)"
        }
    )
}

/// The handshake headers, with the accept key checked.
fn negotiate(name: &str, heads: &[String; 2]) -> Negotiated {
    let offered = header(&heads[0], "Sec-WebSocket-Extensions").join(", ");
    let accepted = header(&heads[1], "Sec-WebSocket-Extensions").join(", ");
    let proto = header(&heads[1], "Sec-WebSocket-Protocol").first().copied();
    let key = header(&heads[0], "Sec-WebSocket-Key");
    let accept = header(&heads[1], "Sec-WebSocket-Accept");
    if let (Some(key), Some(accept)) = (key.first(), accept.first()) {
        let matches = super::accept_key(key) == *accept;
        assert_eq!(
            matches,
            !name.contains("wrong-accept"),
            "{name}: Sec-WebSocket-Accept check"
        );
    }
    let (n, problems) = Negotiated::from_headers(
        (!offered.is_empty()).then_some(offered.as_str()),
        (!accepted.is_empty()).then_some(accepted.as_str()),
        proto,
    );
    assert!(problems.is_empty(), "{name}: {problems:?}");
    n
}

fn compare(
    name: &str,
    expected: Vec<MessageKey>,
    expected_controls: ControlCounts,
    r: &Recorder,
) -> String {
    let client = Dir::ClientToServer;
    let ours: Vec<MessageKey> = r
        .messages
        .iter()
        .map(|(dir, json, _)| {
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            let opcode = if v["opcode"] == "text" { 1 } else { 2 };
            let text = v["text"].as_str().map(escape).unwrap_or_default();
            (*dir == client, opcode, v["compressed"] == true, text)
        })
        .collect();
    // Per direction: mid-stream, a direction's messages come out once its
    // frames are located, so the two directions may interleave differently.
    let by_side = |v: &[MessageKey]| {
        let mut v = v.to_vec();
        v.sort_by_key(|m| !m.0);
        v
    };
    let (ours, expected) = (by_side(&ours), by_side(&expected));
    assert_eq!(ours.len(), expected.len(), "{name}: message count");
    for (i, (o, e)) in ours.iter().zip(&expected).enumerate() {
        assert_eq!(
            (o.0, o.1, o.2),
            (e.0, e.1, e.2),
            "{name}: message {i} (client?, opcode, compressed)"
        );
        // tshark cuts long texts: theirs must be a prefix of ours, and a long one.
        let same = o.3 == e.3 || (e.3.len() >= 1000 && o.3.starts_with(&e.3));
        assert!(
            e.3.is_empty() || same,
            "{name}: message {i} text\n ours: {:?}\n tshark: {:?}",
            o.3,
            e.3
        );
    }
    let mut controls = BTreeMap::new();
    for e in &r.events {
        if let Some(json) = e.strip_prefix("control ") {
            let json = json.rsplit_once(" [").map_or(json, |(j, _)| j);
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            let opcode = match v["opcode"].as_str() {
                Some("close") => 8,
                Some("ping") => 9,
                _ => 10,
            };
            let from_client = v["dir"] == client.as_str();
            *controls.entry((from_client, opcode)).or_insert(0usize) += 1;
        }
    }
    assert_eq!(
        controls, expected_controls,
        "{name}: control frames (client?, opcode) → count"
    );
    let per_dir = |client_side: bool| ours.iter().filter(|m| m.0 == client_side).count();
    format!(
        "{name}: {} client + {} server messages, {} controls, findings {:?}",
        per_dir(true),
        per_dir(false),
        controls.values().sum::<usize>(),
        r.codes()
    )
}

/// Every WebSocket capture of the corpus with tshark ground truth.
const CAPTURES: [&str; 22] = [
    "arkime/websocket.pcap",
    "ndpi/websocket.pcap",
    "ndpi/tls_heur__vmess-websocket.pcapng",
    "suricata-verify/websocket-compressed/example_websocket.pcap",
    "suricata-verify/websocket-control-frag/input.pcap",
    "suricata-verify/websocket-ping/input.pcap",
    "suricata-verify/websocket/basic_websockets.pcap",
    "zeek/http_websocket.pcap",
    "zeek/websocket_broker-websocket.pcap",
    "zeek/websocket_fragmented-http-reply.pcap",
    "zeek/websocket_jupyter-websocket.pcap",
    "zeek/websocket_message-too-big-status.pcap",
    "zeek/websocket_oversized-close-frame.pcapng",
    "zeek/websocket_reply-ping-coalesced.pcap",
    "zeek/websocket_reply-ping-separate.pcap",
    "zeek/websocket_two-binary-fragments.pcap",
    "zeek/websocket_websocket_baseline.pcap",
    "zeek/websocket_websocket_compressed.pcap",
    "zeek/websocket_wrong-accept-header.pcap",
    "zeek/websocket_wstunnel-http.pcap",
    "zeek/websocket_wstunnel-https.pcap",
    "zeek/websocket_wstunnel-ssh.pcap",
];

#[test]
fn corpus_matches_tshark() {
    let Some(corpus) = corpus() else {
        return;
    };
    let mut report = Vec::new();
    for name in CAPTURES {
        report.push(conform(&corpus, name));
    }
    eprintln!("{}", report.join("\n"));
}

/// Without a handshake, the probe takes a connection for WebSocket only when
/// it is one: over every TCP connection of the corpus (TLS, HTTP, XMPP,
/// SSH, SMB, DNS over TCP, binary protocols...), fed the first 16 KiB of
/// each direction as the pipeline does, exactly nDPI's mid-stream chat is.
/// The structure-only check it replaced is counted for comparison.
#[test]
fn only_a_websocket_is_taken_for_one_without_its_handshake() {
    let Some(corpus) = corpus() else {
        return;
    };
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("manifest");
    let (mut checked, mut proven, mut structure_only) = (0, Vec::new(), Vec::new());
    let any = super::midstream::Expect {
        masked: None,
        rsv1: true,
        max_len: Limits::default().max_ws_resync_frame as u64,
    };
    for name in manifest
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
    {
        let path = corpus.join(name);
        if !path.is_file() {
            continue;
        }
        let (streams, segments) = read_segments(&path);
        for (index, (client, server)) in streams.iter().enumerate() {
            let mine: Vec<Segment> = segments
                .iter()
                .filter(|(i, _)| *i == index)
                .map(|(_, s)| Segment {
                    payload: s.payload.clone(),
                    ..*s
                })
                .collect();
            let (_, all) = reassemble(&mine);
            let first = all.map(|d| d[..d.len().min(16 << 10)].to_vec());
            if first.iter().all(Vec::is_empty) {
                continue;
            }
            checked += 1;
            let ports = super::Ports {
                client: client.1,
                server: server.1,
            };
            let max = any.max_len;
            if super::probe([&first[0], &first[1]], Some(ports), max, true)
                == super::Probe::WebSocket
            {
                proven.push(format!("{name}#{index}"));
            }
            if first.iter().any(|d| {
                matches!(
                    super::midstream::chain(d, &any, true),
                    super::midstream::Verdict::Accept(_)
                )
            }) {
                structure_only.push(format!("{name}#{index}"));
            }
        }
    }
    eprintln!(
        "{checked} connections: proven WebSocket {proven:?}; frame structure alone accepted {} ({structure_only:?})",
        structure_only.len()
    );
    assert!(checked > 100, "only {checked} connections");
    assert_eq!(proven, ["ndpi/websocket.pcap#0"]);
}
