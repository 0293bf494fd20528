//! Every cap in `Limits` is said (issue 13: "every cap or drop produces a
//! finding"). The walk takes the field names from `Limits`'s `Debug`, so a
//! cap added without a trigger here fails the test; each trigger lowers one
//! cap, runs a committed fixture (or a generated capture) through the whole
//! pipeline and asserts the finding, after checking the default limits do
//! not give it. Caps that cannot be reached yet are listed with the reason.

use std::path::{Path, PathBuf};

use xmppcap::limits::Limits;
use xmppcap::pipeline::{self, Options};
use xmppcap::report::ndjson::Selection;
use xmppcap_fixturegen::capture::Capture as Frames;
use xmppcap_fixturegen::frame::{Frame, FrameSink, START_NS};
use xmppcap_fixturegen::hostile;
use xmppcap_fixturegen::hostile_held::{held_connections, held_out_of_order, HeldCase};
use xmppcap_fixturegen::pcap::{PcapFormat, PcapWriter};
use xmppcap_fixturegen::tcp::{ConvConfig, Conversation};
use xmppcap_fixturegen::wire::{render, Wire};
use xmppcap_fixturegen::Dir::{ClientToServer as C, ServerToClient as S};

/// A cap, the capture that reaches it, how to lower it, and the finding codes
/// that say it was reached (any one of them).
struct Trigger {
    cap: &'static str,
    capture: Capture,
    lower: fn(&mut Limits),
    codes: &'static [&'static str],
}

enum Capture {
    /// A committed fixture, with its key log when it has one.
    Fixture(&'static str, Option<&'static str>),
    /// Generated under Cargo's scratch folder.
    Generated(&'static str, fn(&Path)),
}

/// Caps that no capture can reach as a finding today, and why.
const KNOWN_GAPS: &[(&str, &str)] = &[
    (
        "max_http_body_text",
        "not a drop: the body is kept whole up to max_http_body (http.body_truncated past it); only the copy shown as text is cut, and the exchange marks it (text_truncated)",
    ),
    (
        "max_keepalive_intervals",
        "not a drop: every keepalive exchange is still counted; the median interval is taken over the first max_keepalive_intervals intervals only",
    ),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn codes_with(capture: &Capture, limits: Limits) -> Vec<&'static str> {
    let (path, keylogs) = match capture {
        Capture::Fixture(name, keys) => (
            repo().join("fixtures").join(name),
            keys.map(|k| vec![repo().join("keys").join(k)])
                .unwrap_or_default(),
        ),
        Capture::Generated(name, write) => {
            let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
            write(&path);
            (path, Vec::new())
        }
    };
    let opts = Options {
        limits,
        keylogs,
        xmpp_message_text: true,
        ..Options::default()
    };
    let report = pipeline::report(&path, &opts, Selection::All)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut codes: Vec<&'static str> = report.findings.iter().map(|f| f.code.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

fn write(path: &Path, bytes: Vec<u8>) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// An Ethernet pcap holding one TCP SYN carried IPv4-in-IPv4.
fn ip_in_ip(path: &Path) {
    let inner = {
        let builder = etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(50_000, 5222, 1, 65_535)
            .syn();
        let mut bytes = Vec::with_capacity(builder.size(0));
        builder.write(&mut bytes, &[]).unwrap();
        bytes
    };
    let outer = etherparse::Ipv4Header::new(
        inner.len() as u16,
        64,
        etherparse::IpNumber::IPV4,
        [192, 0, 2, 1],
        [192, 0, 2, 2],
    )
    .unwrap();
    let mut frame = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00];
    outer.write(&mut frame).unwrap();
    frame.extend_from_slice(&inner);
    let mut pcap = Vec::new();
    for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, 1] {
        pcap.extend_from_slice(&word.to_le_bytes());
    }
    let len = frame.len() as u32;
    for word in [1_772_442_000u32, 0, len, len] {
        pcap.extend_from_slice(&word.to_le_bytes());
    }
    pcap.extend_from_slice(&frame);
    write(path, pcap);
}

/// Three desktops on wss, each from its own address (the benchmark's
/// generator, cut short).
fn three_desktops(path: &Path) {
    let format = PcapFormat::usec(Wire::ethernet().link.linktype());
    let mut w = PcapWriter::new(Vec::new(), format).unwrap();
    let cfg = xmppcap_fixturegen::bench::BenchConfig {
        size: 60_000,
        conns: 3,
        seed: 1,
        varied: false,
    };
    xmppcap_fixturegen::bench::bench_wss(&mut w, &cfg).unwrap();
    write(path, w.into_inner().unwrap());
}

fn write_frames(path: &Path, frames: &[Frame]) {
    let format = PcapFormat::usec(Wire::ethernet().link.linktype());
    let mut w = PcapWriter::new(Vec::new(), format).unwrap();
    for f in frames {
        w.write_frame(f).unwrap();
    }
    write(path, w.into_inner().unwrap());
}

/// One connection to `port` playing `script` (1 ms apart, each step as
/// one write), closed with FIN both ways.
fn conversation(path: &Path, port: u16, script: &[(xmppcap_fixturegen::Dir, &[u8])]) {
    let client = "192.168.10.21:51000".parse().unwrap();
    let server = std::net::SocketAddr::from(([10, 20, 30, 40], port));
    let mut conv = Conversation::new(0, ConvConfig::new(client, server), START_NS);
    conv.handshake();
    for (dir, bytes) in script {
        conv.send(*dir, bytes);
        conv.advance(1_000_000);
    }
    conv.close_fin(C);
    conv.close_fin(S);
    let mut cap = Frames::new();
    let segments = conv.drain();
    cap.add(&conv, segments, Wire::ethernet());
    let (frames, _) = cap.finish().unwrap();
    write_frames(path, &frames);
}

const XMPP_OPEN_C: &[u8] = b"<?xml version='1.0'?><stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
const XMPP_OPEN_S: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='example.com' version='1.0'>";

/// A plain XMPP client with two pings awaiting their replies at once.
fn two_pending_iqs(path: &Path) {
    conversation(
        path,
        5222,
        &[
            (C, XMPP_OPEN_C),
            (S, XMPP_OPEN_S),
            (
                C,
                b"<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>",
            ),
            (
                C,
                b"<iq type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>",
            ),
            (S, b"<iq type='result' id='p2'/>"),
            (S, b"<iq type='result' id='p1'/>"),
        ],
    );
}

/// An HTTP client pipelining two requests before the first answer.
fn pipelined_http(path: &Path) {
    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    conversation(
        path,
        80,
        &[
            (
                C,
                b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
            ),
            (S, OK),
            (S, OK),
        ],
    );
}

/// Two BOSH sessions (two session creation requests and their answers).
fn two_bosh_sessions(path: &Path) {
    let create = |rid: u32| {
        let body = format!("<body rid='{rid}' to='example.com' wait='60' hold='1' ver='1.6' xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'/>");
        format!(
            "POST /http-bind/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let created = |sid: &str| {
        let body = format!("<body sid='{sid}' wait='60' requests='2' hold='1' ver='1.6' from='example.com' xmlns='http://jabber.org/protocol/httpbind'/>");
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let (c1, s1, c2, s2) = (
        create(100),
        created("sid-one"),
        create(900),
        created("sid-two"),
    );
    conversation(
        path,
        7443,
        &[
            (C, c1.as_bytes()),
            (S, s1.as_bytes()),
            (C, c2.as_bytes()),
            (S, s2.as_bytes()),
        ],
    );
}

/// A TCP segment sent as IPv4 fragments whose last one is lost, then
/// another fragmented one two seconds later.
fn lost_fragment(path: &Path) {
    let client = "192.168.10.21:51000".parse().unwrap();
    let server = "10.20.30.40:5222".parse().unwrap();
    let mut conv = Conversation::new(0, ConvConfig::new(client, server), START_NS);
    conv.handshake();
    conv.send(C, &[b'x'; 200]);
    let mut segments = conv.drain();
    conv.advance(2_000_000_000);
    conv.send(C, &[b'y'; 200]);
    segments.extend(conv.drain());
    let wire = Wire::ethernet();
    let mut frames = Vec::new();
    for mut seg in segments {
        // Expiry is checked when fragments come: the later datagram is fragmented too.
        if seg.payload.len() == 200 {
            seg.fragment = Some(64);
        }
        let mut rendered = render(&seg, &wire).unwrap();
        if seg.payload.first() == Some(&b'x') {
            rendered.pop();
        }
        frames.extend(rendered.into_iter().map(|r| r.frame));
    }
    write_frames(path, &frames);
}

/// A WebSocket (permessage-deflate) whose server sends one 200 KB text
/// message that deflates about 300:1: under the default 1000:1 ratio cap,
/// over a ratio of 10 (and past the 64 KiB the ratio leaves alone).
fn deflated_ws_message(path: &Path) {
    use xmppcap_fixturegen::ws::{frame, upgrade_request, upgrade_response, Deflater};
    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    let message = "<a/>".repeat(50_000);
    let payload = Deflater::new(15, true).compress(message.as_bytes());
    let wire = frame(true, true, 1, &payload, None);
    conversation(
        path,
        80,
        &[
            (C, &upgrade_request("example.com", "/ws/", KEY, true)),
            (S, &upgrade_response(KEY, Some("permessage-deflate"))),
            (S, &wire),
        ],
    );
}

/// A connection closed by FINs both ways, then one more segment of it
/// three seconds later.
fn late_segment(path: &Path) {
    let client = "192.168.10.21:51000".parse().unwrap();
    let server = "10.20.30.40:5222".parse().unwrap();
    let mut conv = Conversation::new(0, ConvConfig::new(client, server), START_NS);
    conv.handshake();
    conv.send(C, b"hello");
    conv.close_fin(C);
    conv.close_fin(S);
    // The capture misses the client's ACK of the server's FIN: the stream
    // waits for `flow_idle_timeout` before it ends (with that ACK it ends at
    // once, and anything later is late whatever the limit).
    let mut segments = conv.drain();
    segments.pop();
    conv.advance(3_000_000_000);
    // Within the timeout, the server's late bytes and the client's ACK (of
    // them and of the FIN) are in the stream; after it, both are late.
    conv.send(S, b"late");
    segments.extend(conv.drain());
    let mut cap = Frames::new();
    cap.add(&conv, segments, Wire::ethernet());
    let (frames, _) = cap.finish().unwrap();
    write_frames(path, &frames);
}

fn seq_jump(path: &Path) {
    write(path, hostile::seq_jump(Vec::new(), 100, 3000).unwrap());
}

fn dsbs(path: &Path) {
    write(path, hostile::distinct_secrets(Vec::new(), 10, 2).unwrap());
}

/// Eight connections each holding 100 KB of an unfinished compressed
/// WebSocket message.
fn held_ws(path: &Path) {
    write(
        path,
        held_connections(Vec::new(), HeldCase::CompressedWsMessage, 8, 100_000).unwrap(),
    );
}

fn triggers() -> Vec<Trigger> {
    use Capture::{Fixture as F, Generated as G};
    const WSS: Capture = F("finesse-wss.pcapng", Some("finesse-wss.keys"));
    const WS: Capture = F("finesse-ws.pcap", None);
    const BOSH: Capture = F("finesse-bosh.pcapng", Some("finesse-bosh.keys"));
    vec![
        Trigger {
            cap: "max_desktop_connections",
            capture: F("desktop-loop.pcapng", None),
            lower: |l| l.max_desktop_connections = 2,
            codes: &["conn.desktop_limit"],
        },
        Trigger {
            cap: "max_desktops",
            capture: G("three-desktops.pcap", three_desktops),
            lower: |l| l.max_desktops = 2,
            codes: &["conn.desktop_limit"],
        },
        Trigger {
            cap: "max_timeline_events",
            capture: F("finesse-wss.pcapng", Some("finesse-wss.keys")),
            lower: |l| l.max_timeline_events = 10,
            codes: &["report.timeline_cut"],
        },
        Trigger {
            cap: "max_timeline_bytes",
            capture: F("finesse-wss.pcapng", Some("finesse-wss.keys")),
            lower: |l| l.max_timeline_bytes = 4096,
            codes: &["report.timeline_cut"],
        },
        Trigger {
            cap: "max_report_bytes",
            capture: WSS,
            lower: |l| l.max_report_bytes = 4096,
            codes: &["limits.report"],
        },
        Trigger {
            cap: "max_capture_block",
            capture: F("tcp-in-order.pcap", None),
            lower: |l| l.max_capture_block = 64,
            codes: &["capture.oversized_block"],
        },
        Trigger {
            cap: "max_encapsulation_depth",
            capture: G("ip-in-ip.pcap", ip_in_ip),
            lower: |l| l.max_encapsulation_depth = 0,
            codes: &["decode.nesting_limit"],
        },
        Trigger {
            cap: "max_fragment_datagrams",
            capture: F("tcp-ipv4-fragments.pcap", None),
            lower: |l| l.max_fragment_datagrams = 0,
            codes: &["decode.fragment_dropped"],
        },
        Trigger {
            cap: "max_fragment_bytes",
            capture: F("tcp-ipv4-fragments.pcap", None),
            lower: |l| l.max_fragment_bytes = 8,
            codes: &["decode.fragment_dropped"],
        },
        Trigger {
            cap: "fragment_timeout",
            capture: G("lost-fragment.pcap", lost_fragment),
            lower: |l| l.fragment_timeout = std::time::Duration::from_secs(1),
            codes: &["decode.fragment_dropped"],
        },
        Trigger {
            cap: "max_open_flows",
            capture: WSS,
            lower: |l| l.max_open_flows = 1,
            codes: &["tcp.flow_evicted"],
        },
        Trigger {
            cap: "max_ooo_bytes_per_dir",
            capture: F("tcp-reorder-dup-overlap.pcap", None),
            lower: |l| l.max_ooo_bytes_per_dir = 1,
            codes: &["tcp.ooo_limit"],
        },
        Trigger {
            cap: "max_ooo_segments_per_dir",
            capture: F("tcp-reorder-dup-overlap.pcap", None),
            lower: |l| l.max_ooo_segments_per_dir = 0,
            codes: &["tcp.ooo_limit"],
        },
        Trigger {
            cap: "flow_idle_timeout",
            capture: G("late-segment.pcap", late_segment),
            lower: |l| l.flow_idle_timeout = std::time::Duration::from_secs(1),
            codes: &["tcp.late_packets"],
        },
        Trigger {
            cap: "max_tls_record",
            capture: WSS,
            lower: |l| l.max_tls_record = 64,
            codes: &["tls.bad_record"],
        },
        Trigger {
            cap: "max_tls_handshake_message",
            capture: WSS,
            lower: |l| l.max_tls_handshake_message = 64,
            codes: &["tls.bad_handshake"],
        },
        Trigger {
            cap: "tls_midstream_seq_search",
            capture: F("tls13-midstream.pcapng", Some("tls13-midstream.keys")),
            lower: |l| l.tls_midstream_seq_search = 0,
            codes: &["tls.undecryptable"],
        },
        Trigger {
            cap: "tls_midstream_search_bytes",
            capture: F("tls13-midstream.pcapng", Some("tls13-midstream.keys")),
            lower: |l| l.tls_midstream_search_bytes = 0,
            codes: &["tls.undecryptable"],
        },
        Trigger {
            cap: "max_tls_certificates",
            capture: WSS,
            lower: |l| l.max_tls_certificates = 0,
            codes: &["tls.list_limit"],
        },
        Trigger {
            cap: "max_tls_list_items",
            capture: WSS,
            lower: |l| l.max_tls_list_items = 1,
            codes: &["tls.list_limit"],
        },
        Trigger {
            cap: "max_key_secrets",
            capture: G("dsbs.pcapng", dsbs),
            lower: |l| l.max_key_secrets = 1,
            codes: &["tls.key_secret_limit"],
        },
        Trigger {
            cap: "max_key_file_secrets",
            capture: WSS,
            lower: |l| l.max_key_file_secrets = 1,
            codes: &["tls.key_secret_limit"],
        },
        Trigger {
            cap: "max_key_sources",
            capture: G("dsbs.pcapng", dsbs),
            lower: |l| l.max_key_sources = 2,
            codes: &["tls.key_source_limit"],
        },
        Trigger {
            cap: "max_http_head",
            capture: WS,
            lower: |l| l.max_http_head = 64,
            codes: &["http.head_too_large"],
        },
        Trigger {
            cap: "max_http_headers",
            capture: WS,
            lower: |l| l.max_http_headers = 2,
            codes: &["http.too_many_headers"],
        },
        Trigger {
            cap: "max_http_body",
            capture: BOSH,
            lower: |l| l.max_http_body = 16,
            codes: &["http.body_truncated"],
        },
        Trigger {
            cap: "max_http_pending",
            capture: G("pipelined.pcap", pipelined_http),
            lower: |l| l.max_http_pending = 1,
            codes: &["http.pending_limit"],
        },
        Trigger {
            cap: "max_bosh_sessions",
            capture: G("two-bosh.pcap", two_bosh_sessions),
            lower: |l| l.max_bosh_sessions = 1,
            codes: &["bosh.session_limit"],
        },
        // The fixture's messages are compressed: the message cap bounds inflation.
        Trigger {
            cap: "max_ws_message",
            capture: WS,
            lower: |l| l.max_ws_message = 16,
            codes: &["ws.message_too_large", "ws.inflate_limit"],
        },
        Trigger {
            cap: "max_inflated_message",
            capture: F("ws-deflate-params.pcap", None),
            lower: |l| l.max_inflated_message = 16,
            codes: &["ws.inflate_limit"],
        },
        Trigger {
            cap: "max_inflate_ratio",
            capture: G("deflated-ws.pcap", deflated_ws_message),
            lower: |l| l.max_inflate_ratio = 10,
            codes: &["ws.inflate_limit"],
        },
        Trigger {
            cap: "max_ws_resync_frame",
            capture: F("ws-midstream.pcap", None),
            lower: |l| l.max_ws_resync_frame = 4,
            codes: &["ws.unparsed", "stream.not_decoded"],
        },
        Trigger {
            cap: "max_xml_depth",
            capture: WS,
            lower: |l| l.max_xml_depth = 1,
            codes: &["xmpp.malformed_xml", "finesse.malformed_notification"],
        },
        Trigger {
            cap: "max_stanza_bytes",
            capture: WS,
            lower: |l| l.max_stanza_bytes = 64,
            codes: &["xmpp.stanza_too_large"],
        },
        Trigger {
            cap: "max_xml_nodes",
            capture: WS,
            lower: |l| l.max_xml_nodes = 1,
            codes: &["xmpp.too_many_elements"],
        },
        Trigger {
            cap: "max_pending_iqs",
            capture: G("two-iqs.pcap", two_pending_iqs),
            lower: |l| l.max_pending_iqs = 1,
            codes: &["xmpp.pending_iq_limit"],
        },
        Trigger {
            cap: "max_summaries",
            capture: WSS,
            lower: |l| l.max_summaries = 0,
            codes: &["tcp.summary_limit", "xmpp.summary_limit"],
        },
        Trigger {
            cap: "memory_budget",
            capture: G("held-ws.pcap", held_ws),
            lower: |l| l.memory_budget = 256 << 10,
            codes: &["limits.memory"],
        },
        // Not a `Limits` field but a drop all the same (issue 13).
        Trigger {
            cap: "(sequence jump of 2^31 or more)",
            capture: G("seq-jump.pcap", seq_jump),
            lower: |_| {},
            codes: &["tcp.out_of_window"],
        },
    ]
}

/// The field names of `Limits`, read from its `Debug`.
fn limit_names() -> Vec<String> {
    let debug = format!("{:?}", Limits::default());
    let inner = debug
        .split_once('{')
        .and_then(|(_, rest)| rest.rsplit_once('}'))
        .map_or("", |(fields, _)| fields);
    inner
        .split(", ")
        .filter_map(|field| field.split_once(':'))
        .map(|(name, _)| name.trim().to_owned())
        .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect()
}

#[test]
fn every_cap_is_walked_or_listed_as_a_known_gap() {
    let names = limit_names();
    assert!(names.len() > 30, "{names:?}");
    let walked: Vec<&str> = triggers().iter().map(|t| t.cap).collect();
    let gaps: Vec<&str> = KNOWN_GAPS.iter().map(|(cap, _)| *cap).collect();
    for name in &names {
        assert!(
            walked.contains(&name.as_str()) || gaps.contains(&name.as_str()),
            "cap {name} has no trigger in this test and is not a known gap"
        );
    }
    for cap in walked.iter().chain(&gaps) {
        assert!(
            cap.starts_with('(') || names.iter().any(|n| n == cap),
            "{cap} is no longer a field of Limits"
        );
    }
}

#[test]
fn every_cap_reached_is_a_finding() {
    let mut failures = Vec::new();
    for t in triggers() {
        let mut limits = Limits::default();
        let defaults = codes_with(&t.capture, limits.clone());
        (t.lower)(&mut limits);
        let lowered = codes_with(&t.capture, limits);
        let said = t.codes.iter().any(|c| lowered.contains(c));
        let said_before = t.codes.iter().any(|c| defaults.contains(c));
        let is_drop = t.cap.starts_with('(');
        if !said || (said_before && !is_drop) {
            failures.push(format!(
                "{}: expected one of {:?}; default limits gave {defaults:?}, lowered gave {lowered:?}",
                t.cap, t.codes
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// 100 000 empty Decryption Secrets Blocks (issue 13: five million cost
/// 541 MB and a 204 MB `keys:` line): the key sources the report holds and
/// the words it says stay within the cap, whatever the count.
#[test]
fn a_flood_of_secrets_blocks_is_held_and_said_in_bounded_space() {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dsb-flood.pcapng");
    write(&path, hostile::empty_dsbs(Vec::new(), 100_000).unwrap());
    let limits = Limits::default();
    let cap = limits.max_key_sources;
    let opts = Options {
        limits,
        ..Options::default()
    };
    let report = pipeline::report(&path, &opts, Selection::All).unwrap();
    assert_eq!(
        report.keys.len(),
        cap + 1,
        "named ones plus one for the rest"
    );
    let rest = report.keys.last().unwrap();
    assert_eq!(rest.merged, 100_000 - cap as u64);
    assert_eq!(
        rest.source,
        format!("{} key sources after the first {cap}", rest.merged)
    );
    let words = xmppcap::report::text::key_sources(&report.keys);
    assert!(words.len() < 200, "{words}");
    assert!(words.ends_with("99997 more sources (0 secrets)"), "{words}");
    let limit_findings = report
        .findings
        .iter()
        .filter(|f| f.code == "tls.key_source_limit")
        .count();
    assert_eq!(limit_findings, 1);
}

/// Issue 13's held-buffer cases, small: 40 connections each holding 200 KB
/// (an unfinished stanza, HTTP body or compressed WebSocket message, or
/// out-of-order segments after a hole; `None` below), under
/// a 1 MiB budget. The accounted total stays within the budget plus what one
/// TCP event can add before the cut it causes (a segment, or a buffer's
/// capacity doubling: at most one holder's size, 256 KiB here), every
/// connection cut is said, and the analysis goes on to the end.
#[test]
fn many_held_buffers_stay_within_the_memory_budget() {
    let budget = 1 << 20;
    for case in [
        Some(HeldCase::Stanza),
        Some(HeldCase::HttpBody),
        Some(HeldCase::CompressedWsMessage),
        None,
    ] {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("held-{case:?}.pcap"));
        let capture = match case {
            Some(case) => held_connections(Vec::new(), case, 40, 200_000).unwrap(),
            // 40 connections × 137 segments of 1460 bytes: 200 KB each.
            None => held_out_of_order(Vec::new(), 40, 137).unwrap(),
        };
        write(&path, capture);
        let opts = Options {
            limits: Limits {
                memory_budget: budget,
                ..Limits::default()
            },
            ..Options::default()
        };
        let analyzed = pipeline::analyze(&path, &opts, &mut IgnoreEvents).unwrap();
        assert!(
            analyzed.memory_peak > budget / 2 && analyzed.memory_peak <= budget + (256 << 10),
            "{case:?}: peak {}",
            analyzed.memory_peak
        );
        let cuts: Vec<_> = analyzed
            .findings
            .iter()
            .filter(|f| f.code == "limits.memory")
            .collect();
        assert!(cuts.len() >= 30, "{case:?}: {} cuts", cuts.len());
        assert!(
            cuts.iter()
                .all(|f| f.stream.is_some() && f.message.contains("1.0 MiB")),
            "{case:?}: {:?}",
            cuts.first()
        );
        assert_eq!(
            analyzed.connections.len(),
            40,
            "{case:?}: every connection is still reported"
        );
        assert_cut_ones_are_not_followed(&analyzed, &cuts, case);
    }
}

/// A connection the budget cut never reads "open at the end of the
/// capture": its story and its XMPP session say they were not followed.
fn assert_cut_ones_are_not_followed(
    analyzed: &pipeline::Analyzed,
    cuts: &[&xmppcap::finding::Finding],
    case: Option<HeldCase>,
) {
    use xmppcap::conn::EndHow;
    for stream in cuts.iter().filter_map(|f| f.stream) {
        let conn = analyzed.connections.iter().find(|c| c.stream == stream);
        let how = conn.and_then(|c| c.summary.as_ref()).map(|s| s.ended.how);
        assert_eq!(how, Some(EndHow::NotFollowed), "{case:?}: stream {stream}");
    }
    let on_cut = |s: &&xmppcap::report::model::SessionReport| {
        s.streams
            .iter()
            .any(|st| cuts.iter().any(|f| f.stream == Some(*st)))
    };
    let sessions: Vec<_> = analyzed.sessions.iter().filter(on_cut).collect();
    if case == Some(HeldCase::CompressedWsMessage) {
        assert!(
            sessions.len() >= 30,
            "{case:?}: {} sessions",
            sessions.len()
        );
    }
    for s in sessions {
        assert!(
            s.ended.starts_with("not followed to its end"),
            "{case:?}: {}",
            s.ended
        );
        let transport = s.transport_detail.as_deref().unwrap_or_default();
        assert!(!transport.contains("still open"), "{case:?}: {transport}");
    }
}

/// Connection-count pressure (issue 13: 65,536 connections each holding
/// little peaked at 499 MB): 600 connections that only shake hands, under a
/// budget that holds about a third of them. The least recently active are
/// finished and their flows released, each said; the accounted total stays
/// within the budget and every connection is still reported, with its TCP
/// statistics.
#[test]
fn many_idle_connections_give_way_oldest_first_within_the_budget() {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("idle-connections.pcap");
    write(&path, held_out_of_order(Vec::new(), 600, 0).unwrap());
    let per_connection = xmppcap::tcp::FLOW_STATE_BYTES + 4096;
    let budget = 200 * per_connection;
    let opts = Options {
        limits: Limits {
            memory_budget: budget,
            ..Limits::default()
        },
        ..Options::default()
    };
    let analyzed = pipeline::analyze(&path, &opts, &mut IgnoreEvents).unwrap();
    assert!(
        analyzed.memory_peak <= budget + per_connection,
        "peak {} over {budget}",
        analyzed.memory_peak
    );
    let cuts: Vec<_> = analyzed
        .findings
        .iter()
        .filter(|f| f.code == "limits.memory")
        .collect();
    assert!(cuts.len() >= 300, "{} cuts", cuts.len());
    let first = cuts.first().unwrap();
    assert_eq!(first.stream, Some(0), "the oldest goes first");
    assert!(
        first.message.contains("least recently active")
            && first.message.contains("the state of an open connection"),
        "{}",
        first.message
    );
    assert_eq!(analyzed.connections.len(), 600);
    assert!(analyzed.connections.iter().all(|c| c.tcp.is_some()));
    let released = analyzed
        .connections
        .iter()
        .filter(|c| {
            c.tcp
                .as_ref()
                .is_some_and(|t| t.ending == xmppcap::tcp::Ending::MemoryBudget)
        })
        .count();
    assert_eq!(released, cuts.len());
}

struct IgnoreEvents;

impl pipeline::EventSink for IgnoreEvents {
    fn emit(&mut self, _event: xmppcap::report::event::Event) {}
}

/// What the report keeps for table, JSON and HTML with many connections
/// (issue 13: 65,536 connections kept 486 MB for JSON): 600 connections
/// under a 256 KiB report cap and a 128 KiB timeline. The kept summaries,
/// findings and timeline stay within their caps, what was left out is said
/// once with its exact count, and the counts of what was seen stay whole.
#[test]
fn many_connections_keep_a_report_within_its_byte_cap() {
    use xmppcap::report::retention::approx_bytes;
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-cap-connections.pcap");
    write(&path, held_out_of_order(Vec::new(), 600, 2).unwrap());
    let limits = Limits {
        max_report_bytes: 256 << 10,
        max_timeline_bytes: 128 << 10,
        ..Limits::default()
    };
    let opts = Options {
        limits: limits.clone(),
        ..Options::default()
    };
    let report = pipeline::report(&path, &opts, Selection::All).unwrap();
    let summaries: usize = report.connections.iter().map(approx_bytes).sum::<usize>()
        + report.sessions.iter().map(approx_bytes).sum::<usize>();
    assert!(
        summaries <= limits.max_report_bytes * 3 / 4,
        "summaries hold {summaries}"
    );
    let findings: usize = report.findings.iter().map(approx_bytes).sum();
    assert!(
        summaries + findings <= limits.max_report_bytes + (8 << 10),
        "summaries {summaries} + findings {findings}"
    );
    let kept = report.connections.len();
    assert!(kept > 20 && kept < 600, "{kept} connection summaries kept");
    let said: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code == "limits.report")
        .collect();
    assert_eq!(said.len(), 1, "said once");
    let words = format!("{} of 600 connection summaries", 600 - kept);
    assert!(
        said[0].message.contains(&words) && said[0].message.contains("256.0 KiB"),
        "{}",
        said[0].message
    );
    let timeline: usize = report.timeline.iter().map(|e| e.approx_bytes()).sum();
    assert!(timeline <= limits.max_timeline_bytes, "timeline {timeline}");
    assert!(report.timeline_dropped > 0);
    assert!(report
        .findings
        .iter()
        .any(|f| f.code == "report.timeline_cut"));
    // `tls --format json` lists the kept connections: it says the rest
    // were left out (it showed only TLS findings before).
    let tls_report = pipeline::report(&path, &opts, Selection::Tls).unwrap();
    let mut tls_json = Vec::new();
    xmppcap::report::json::render_tls::<pipeline::PipelineError>(
        &[Ok(tls_report)],
        &["c.pcap".to_string()],
        &mut tls_json,
    )
    .unwrap();
    let tls_json = String::from_utf8(tls_json).unwrap();
    assert!(tls_json.contains("\"limits.report\""), "{tls_json}");
    // NDJSON streams every event and keeps no summary: the count of
    // connections stays exact whatever the report kept.
    let ndjson = Options {
        events_only: true,
        ..opts
    };
    let analyzed = pipeline::analyze(&path, &ndjson, &mut IgnoreEvents).unwrap();
    assert_eq!(analyzed.connections_seen, 600);
}

/// `--memory-limit` scales the report's byte caps with the budget.
#[test]
fn the_memory_limit_scales_the_report_caps() {
    let default = Limits::default();
    assert_eq!(
        Limits::with_memory_limit(default.memory_budget),
        default,
        "the default budget gives the defaults"
    );
    let double = Limits::with_memory_limit(default.memory_budget * 2);
    assert_eq!(double.max_report_bytes, default.max_report_bytes * 2);
    assert_eq!(double.max_timeline_bytes, default.max_timeline_bytes * 2);
    let tiny = Limits::with_memory_limit(1 << 10);
    assert_eq!(
        (tiny.memory_budget, tiny.max_report_bytes),
        (1 << 10, 1 << 20)
    );
    let huge = Limits::with_memory_limit(usize::MAX);
    assert!(huge.max_report_bytes >= default.max_report_bytes);
}
