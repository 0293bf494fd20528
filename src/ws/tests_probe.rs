//! Without a handshake, a WebSocket must be proven: binary protocols whose
//! records start with a type and a length byte (OpenFlow, HART-IP,
//! Aerospike, AFP over DSI, length-prefixed RPC) parse as frames, and must
//! neither become WebSocket in [`probe`] nor give a WebSocket finding in a
//! connection decoded on frame structure alone; real WebSocket traffic
//! (text both ways, XMPP, a compressed Finesse session seen mid-way) must.

use flate2::{Compress, Compression};

use super::deflate::tests::compress_message;
use super::tests::{
    assert_chunking_invariant, at, frame, run_with, text, Recorder, Segment, C2S, KEY, S2C,
};
use super::*;
use crate::limits::Limits;

const MAX: u64 = 256 << 10;

/// Small deterministic noise for record bodies (xorshift).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// OpenFlow: version, type, 16-bit length, 32-bit xid, body (OpenFlow 1.0 §5.1).
fn openflow(version: u8, kind: u8, xid: u32, body: &[u8]) -> Vec<u8> {
    let mut m = vec![version, kind];
    m.extend_from_slice(&(8 + body.len() as u16).to_be_bytes());
    m.extend_from_slice(&xid.to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// A switch (TCP client) and its controller (port 6653): hello, features,
/// echo keepalives, packet-ins answered by packet-outs and flow-mods.
fn openflow_session(version: u8) -> [Vec<u8>; 2] {
    let mut switch = openflow(version, 0, 1, &[]);
    let mut controller = openflow(version, 0, 1, &[]);
    controller.extend(openflow(version, 5, 2, &[]));
    switch.extend(openflow(version, 6, 2, &noise(1, 24)));
    for i in 0..12u32 {
        switch.extend(openflow(version, 2, 10 + i, &[]));
        controller.extend(openflow(version, 3, 10 + i, &[]));
        switch.extend(openflow(
            version,
            10,
            100 + i,
            &noise(u64::from(i), 18 + i as usize * 7),
        ));
        controller.extend(openflow(
            version,
            13,
            100 + i,
            &noise(50 + u64::from(i), 24),
        ));
        controller.extend(openflow(
            version,
            14,
            200 + i,
            &noise(90 + u64::from(i), 64),
        ));
    }
    [switch, controller]
}

/// HART-IP: version 1, message type, message id, status, sequence, byte
/// count, body: session initiate, keep-alives, token-passing PDUs.
fn hart_ip_session() -> [Vec<u8>; 2] {
    let msg = |kind: u8, id: u8, seq: u16, body: &[u8]| {
        let mut m = vec![1, kind, id, 0];
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(&(8 + body.len() as u16).to_be_bytes());
        m.extend_from_slice(body);
        m
    };
    let (mut client, mut server) = (Vec::new(), Vec::new());
    client.extend(msg(0, 0, 1, &[1, 0, 0, 0x75, 0x30]));
    server.extend(msg(1, 0, 1, &[1, 0, 0, 0x75, 0x30]));
    for seq in 2..20u16 {
        let id = if seq % 5 == 0 { 2 } else { 3 };
        client.extend(msg(0, id, seq, &noise(u64::from(seq), 9)));
        server.extend(msg(1, id, seq, &noise(100 + u64::from(seq), 21)));
    }
    [client, server]
}

/// Aerospike: version 2, type (1 info, 3 message), 48-bit size, body.
fn aerospike_session() -> [Vec<u8>; 2] {
    let msg = |kind: u8, body: &[u8]| {
        let mut m = vec![2, kind];
        m.extend_from_slice(&(body.len() as u64).to_be_bytes()[2..]);
        m.extend_from_slice(body);
        m
    };
    let (mut client, mut server) = (msg(1, b"namespaces\n"), msg(1, b"namespaces\ttest;bar\n"));
    for i in 0..10 {
        client.extend(msg(3, &noise(i, 30 + i as usize)));
        server.extend(msg(3, &noise(40 + i, 60)));
    }
    [client, server]
}

/// AFP over DSI: flags (0 request, 1 reply), command, request id, error
/// code, data length, reserved, data.
fn afp_dsi_session() -> [Vec<u8>; 2] {
    let msg = |flags: u8, command: u8, id: u16, data: &[u8]| {
        let mut m = vec![flags, command];
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&[0; 4]);
        m.extend_from_slice(&(data.len() as u32).to_be_bytes());
        m.extend_from_slice(&[0; 4]);
        m.extend_from_slice(data);
        m
    };
    let (mut client, mut server) = (
        msg(0, 4, 1, &[1, 4, 0, 0, 4, 0]),
        msg(1, 4, 1, &[0, 4, 0, 0, 0x80, 0]),
    );
    for id in 2..16u16 {
        let command = if id % 4 == 0 { 5 } else { 2 };
        client.extend(msg(0, command, id, &noise(u64::from(id), 12)));
        server.extend(msg(1, command, id, &noise(200 + u64::from(id), 40)));
    }
    [client, server]
}

/// The worst case: records of a type byte that is a data opcode with FIN and
/// a length byte under 126, both ways (length-prefixed RPC, Raft-like).
fn type_length_session(masked_lengths: bool) -> [Vec<u8>; 2] {
    let rec = |kind: u8, body: &[u8], high: bool| {
        let mut m = vec![kind, body.len() as u8 | if high { 0x80 } else { 0 }];
        m.extend_from_slice(body);
        m
    };
    let (mut client, mut server) = (Vec::new(), Vec::new());
    for i in 0..20u64 {
        let kind = [0x82, 0x81, 0x89, 0x82][i as usize % 4];
        let body = noise(i, if kind == 0x89 { 8 } else { 20 + i as usize });
        // A ping-typed record must fit a control frame; text-typed ones are
        // rejected by UTF-8 unless they happen to be valid.
        client.extend(rec(kind, &body, masked_lengths));
        server.extend(rec(0x82, &noise(300 + i, 30), masked_lengths));
    }
    [client, server]
}

fn binary_protocols() -> Vec<(&'static str, [Vec<u8>; 2])> {
    vec![
        ("OpenFlow 1.0", openflow_session(1)),
        ("OpenFlow 1.3", openflow_session(4)),
        ("HART-IP", hart_ip_session()),
        ("Aerospike", aerospike_session()),
        ("AFP over DSI", afp_dsi_session()),
        ("type+length records", type_length_session(false)),
        (
            "type+length records, high length bit",
            type_length_session(true),
        ),
    ]
}

fn ports(server: u16) -> Option<Ports> {
    Some(Ports {
        client: 50123,
        server,
    })
}

/// The probe's answer on every prefix of both directions (as the pipeline
/// calls it while bytes arrive), and at the end.
fn answers(first: &[Vec<u8>; 2], server_port: u16) -> (Vec<Probe>, Probe) {
    let longest = first[0].len().max(first[1].len());
    let during = (1..=longest)
        .map(|n| {
            let cut = |b: &Vec<u8>| b.get(..n.min(b.len())).unwrap_or_default().to_vec();
            let (c, s) = (cut(&first[0]), cut(&first[1]));
            probe([&c, &s], ports(server_port), MAX, false)
        })
        .collect();
    let end = probe([&first[0], &first[1]], ports(server_port), MAX, true);
    (during, end)
}

/// Names of the sessions whose frames parse from the first byte of a
/// direction: what the structure-only heuristic took for WebSocket.
fn shaped_like_frames() -> Vec<&'static str> {
    let expect = super::midstream::Expect {
        masked: None,
        rsv1: true,
        max_len: MAX,
    };
    binary_protocols()
        .into_iter()
        .filter(|(_, session)| {
            session.iter().any(|d| {
                matches!(
                    super::midstream::chain(d, &expect, false),
                    super::midstream::Verdict::Accept(_)
                )
            })
        })
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn binary_protocols_are_not_websocket() {
    // The test has teeth: most of these parse as frames.
    let shaped = shaped_like_frames();
    for name in [
        "OpenFlow 1.0",
        "HART-IP",
        "Aerospike",
        "AFP over DSI",
        "type+length records",
    ] {
        assert!(
            shaped.contains(&name),
            "{name} does not even parse: {shaped:?}"
        );
    }
    for (name, session) in binary_protocols() {
        let (during, end) = answers(&session, 6653);
        assert!(
            !during.contains(&Probe::WebSocket),
            "{name}: taken for WebSocket while bytes arrived"
        );
        assert_eq!(end, Probe::NotWebSocket, "{name} at the end");
        // On a WebSocket port too: a port is never enough.
        assert_eq!(
            answers(&session, 443).1,
            Probe::NotWebSocket,
            "{name} on 443"
        );
    }
}

/// Decoded on frame structure alone (a caller that skips the probe), they
/// give no WebSocket finding: no 1006, no unanswered ping, no violation.
#[test]
fn frames_only_gives_no_websocket_finding() {
    for (name, [client, server]) in binary_protocols() {
        let mut segs: Vec<Segment> = Vec::new();
        for (i, (c, s)) in client.chunks(40).zip(server.chunks(40)).enumerate() {
            segs.push((C2S, 2 * i as u64 + 1, c.to_vec()));
            segs.push((S2C, 2 * i as u64 + 2, s.to_vec()));
        }
        let mut conn = Connection::new_midstream(4, &Limits::default());
        conn.set_ports(Ports {
            client: 50123,
            server: 6653,
        });
        let mut r = Recorder::default();
        for (dir, n, bytes) in &segs {
            conn.on_data(*dir, at(*n), bytes, &mut r);
        }
        conn.on_tcp_end(S2C, at(999), true, &mut r);
        conn.finish(&mut r);
        let s = conn.summary();
        assert_eq!(s.confidence, Confidence::FramesOnly, "{name}");
        if shaped_like_frames().contains(&name) {
            assert!(
                s.c2s.frames + s.s2c.frames > 2,
                "{name}: frames were decoded"
            );
        }
        assert!(
            r.codes().iter().all(|c| *c == "ws.midstream"),
            "{name}: {:?}",
            r.codes()
        );
        let closed = r.closed.as_ref().unwrap();
        assert_eq!(
            (closed.client_code, closed.inferred),
            (None, false),
            "{name}"
        );
        if let Some(f) = r.findings.first() {
            let said = ["only their structure", "no WebSocket frame found"];
            assert!(
                said.iter().any(|s| f.message.contains(s)),
                "{name}: {}",
                f.message
            );
        }
    }
}

/// nDPI's websocket.pcap: no handshake, port 12345, a chat server's text
/// and the client's masked text (the frames as tshark lists them).
fn ndpi_chat() -> [Vec<u8>; 2] {
    let server = [
        "Welcome, 192.168.43.1 !",
        "21:33:52 ('192.168.43.1', 50999) say: test message",
        "21:34:53 ('192.168.43.1', 50999) say: hello websocket",
    ];
    let client = ["test message", "hello websocket"];
    [
        client.iter().flat_map(|t| text(C2S, t)).collect(),
        server.iter().flat_map(|t| text(S2C, t)).collect(),
    ]
}

#[test]
fn text_both_ways_with_consistent_masking_is_websocket() {
    let chat = ndpi_chat();
    assert_eq!(answers(&chat, 12345).1, Probe::WebSocket);
    // The same frames, both sides unmasked (or both masked): not a browser's WebSocket.
    let unmasked: Vec<u8> = ["test message", "hello websocket"]
        .iter()
        .flat_map(|t| text(S2C, t))
        .collect();
    assert_eq!(
        answers(&[unmasked, chat[1].clone()], 12345).1,
        Probe::NotWebSocket
    );
    let masked: Vec<u8> = ["Welcome, 192.168.43.1 !", "21:33:52 test", "21:34:53 more"]
        .iter()
        .flat_map(|t| text(C2S, t))
        .collect();
    assert_eq!(
        answers(&[chat[0].clone(), masked], 12345).1,
        Probe::NotWebSocket
    );
    // One direction only: readable text is not enough, XMPP is.
    assert_eq!(
        answers(&[Vec::new(), chat[1].clone()], 80).1,
        Probe::NotWebSocket
    );
    let xmpp: Vec<u8> = [
        "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='finesse' id='c0ffee' version='1.0'/>",
        "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
        "<iq type='result' id='_bind_auth_2'/>",
    ]
    .iter()
    .flat_map(|t| text(S2C, t))
    .collect();
    assert_eq!(answers(&[Vec::new(), xmpp], 7443).1, Probe::WebSocket);
}

/// Every prefix: never WebSocket before the evidence is there, never "not
/// WebSocket" while more bytes may still prove it, and WebSocket from the
/// point the proof is complete.
#[test]
fn the_answer_only_firms_up_as_bytes_come() {
    let chat = ndpi_chat();
    let (during, _) = answers(&chat, 12345);
    assert!(!during.contains(&Probe::NotWebSocket), "{during:?}");
    let first = during.iter().position(|p| *p == Probe::WebSocket);
    let proven = first.expect("proven before the end");
    assert!(during[proven..].iter().all(|p| *p == Probe::WebSocket));
}

/// The brief's main case: a Finesse desktop's compressed session, captured
/// after the handshake and with the server direction starting mid-frame.
/// The known bytes of the inflated text (states, ids) and the masking prove it.
#[test]
fn a_compressed_session_seen_mid_way_is_websocket() {
    let mut client_z = Compress::new(Compression::default(), false);
    let mut server_z = Compress::new(Compression::default(), false);
    let (mut client, mut server) = (Vec::new(), Vec::new());
    for i in 0..12 {
        let ping = format!(
            "<iq type='get' id='{}:sendIQ'><ping xmlns='urn:xmpp:ping'/></iq>",
            4000 + i
        );
        let pong = format!(
            "<iq type='result' id='{}:sendIQ' to='1001@finesse/desktop'/>",
            4000 + i
        );
        let state = ["READY", "NOT_READY", "TALKING", "WORK_READY"][i % 4];
        let update = format!(
            "<message><event><items><item><notification>&lt;Update&gt;&lt;state&gt;{state}\
             &lt;/state&gt;&lt;stateChangeTime&gt;2026-03-02T09:{:02}:00Z&lt;/stateChangeTime&gt;\
             &lt;/Update&gt;</notification></item></items></event></message>",
            i
        );
        client.extend(frame(
            true,
            4,
            1,
            Some([i as u8, 7, 7, 7]),
            &compress_message(&mut client_z, ping.as_bytes()),
        ));
        server.extend(frame(
            true,
            4,
            1,
            None,
            &compress_message(&mut server_z, pong.as_bytes()),
        ));
        server.extend(frame(
            true,
            4,
            1,
            None,
            &compress_message(&mut server_z, update.as_bytes()),
        ));
    }
    // The capture starts after 4 exchanges, in the middle of a server frame.
    let c = client.len() / 3;
    let c_start = (c..client.len()).find(|&i| client[i] == 0xc1).unwrap();
    let client = client[c_start..].to_vec();
    let server = server[server.len() / 3 + 5..].to_vec();
    assert_eq!(
        answers(&[client.clone(), server.clone()], 8445).1,
        Probe::WebSocket
    );
    // The connection decoded from the same bytes is proven too, and says why.
    let segs: Vec<Segment> = vec![(C2S, 1, client), (S2C, 2, server)];
    let mut conn = Connection::new_midstream(9, &Limits::default());
    conn.set_ports(Ports {
        client: 51000,
        server: 8445,
    });
    let r = run_with(&mut conn, &segs, |_, b| vec![b.to_vec()]);
    let s = conn.summary();
    assert_eq!(s.confidence, Confidence::Content);
    let why = &r
        .findings
        .iter()
        .find(|f| f.code == "ws.midstream")
        .unwrap()
        .message;
    assert!(
        why.starts_with("decoded as WebSocket without its handshake because ")
            && why.contains("masks every frame")
            && why.contains("port 8445 is one WebSocket servers use"),
        "{why}"
    );
    assert!(s.s2c.partial > 0 && s.c2s.partial > 0);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["confidence"], "content");
    assert!(json["evidence"]["c2s"]["masked"].as_u64() > Some(0));
}

/// Proven mid-way: findings held until then (a masked server frame) are
/// reported after the proof, and the 1006 is inferred again.
#[test]
fn findings_wait_for_the_proof_then_come() {
    let mut c2s = frame(true, 0, 9, Some(KEY), b"ping");
    c2s.extend(frame(true, 0, 2, Some(KEY), b"\x00\x01"));
    c2s.extend(frame(true, 0, 2, Some(KEY), b"\x00\x02"));
    let mut s2c = frame(true, 0, 2, None, b"\x05");
    s2c.extend(frame(true, 0, 2, None, b"\x06"));
    s2c.extend(frame(true, 0, 2, None, b"\x07"));
    s2c.extend(frame(true, 0, 2, Some(KEY), b"\x08"));
    let later = text(S2C, "<presence from='1001@finesse/desktop'/>");
    let segs: Vec<Segment> = vec![(C2S, 1, c2s), (S2C, 2, s2c), (S2C, 3, later)];
    let mut conn = Connection::new_midstream(5, &Limits::default());
    let mut r = Recorder::default();
    for (dir, n, bytes) in &segs {
        conn.on_data(*dir, at(*n), bytes, &mut r);
        if *n == 2 {
            assert!(r.findings.is_empty(), "held: {:?}", r.codes());
        }
    }
    conn.on_tcp_end(S2C, at(9), true, &mut r);
    conn.finish(&mut r);
    assert_eq!(
        r.codes(),
        [
            "ws.midstream",
            "ws.masked_server_frame",
            "ws.ping_unanswered",
            "ws.abnormal_closure"
        ]
    );
    assert!(r.findings[0].message.contains("carry XMPP"));
    assert_eq!(conn.summary().confidence, Confidence::Content);
    assert_eq!(r.closed.as_ref().unwrap().client_code, Some(1006));
}

/// Held findings come out at the same point of the events whatever the
/// chunking: the proof rests on whole frames and messages only.
#[test]
fn the_proof_does_not_depend_on_the_chunking() {
    let mut c2s = frame(true, 0, 2, Some(KEY), b"\x00\x01");
    c2s.extend(text(C2S, "hello"));
    c2s.extend(frame(true, 0, 2, Some(KEY), b"\x00\x02"));
    let mut s2c = b"tail of a frame".to_vec();
    s2c.extend(frame(true, 0, 2, None, b"\x05"));
    s2c.extend(frame(true, 0, 9, None, b"p"));
    s2c.extend(frame(true, 0, 2, None, b"\x06"));
    s2c.extend(text(S2C, "welcome back"));
    let segs: Vec<Segment> = vec![(S2C, 1, s2c), (C2S, 2, c2s)];
    let r = assert_chunking_invariant(None, &Limits::default(), &segs);
    let codes = r.codes();
    assert_eq!(codes.first(), Some(&"ws.midstream"), "{codes:?}");
    assert!(
        codes.contains(&"ws.unparsed") && codes.contains(&"ws.ping_unanswered"),
        "{codes:?}"
    );
}

/// The issue end to end: a capture of an OpenFlow switch and its controller
/// (handshake, keepalives, packet-ins, a reset at the end) reported with no
/// WebSocket layer and no WebSocket finding, so `report --fail-on warn`
/// exits 0 where `tshark -Y websocket` finds nothing.
#[test]
fn an_openflow_capture_is_not_reported_as_websocket() {
    use etherparse::PacketBuilder;
    use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};

    let [switch, controller] = openflow_session(1);
    let mut pcap = PcapHeader {
        network: Linktype::ETHERNET,
        ..PcapHeader::default()
    }
    .to_vec_raw()
    .unwrap();
    let (mut seq, mut n) = ([1000u32, 5000u32], 0u32);
    let mut packet = |pcap: &mut Vec<u8>, from_switch: bool, flags: &str, payload: &[u8]| {
        let (i, ports) = if from_switch {
            (0, (40001, 6653))
        } else {
            (1, (6653, 40001))
        };
        let ips = if from_switch {
            ([10, 0, 0, 2], [10, 0, 0, 1])
        } else {
            ([10, 0, 0, 1], [10, 0, 0, 2])
        };
        let mut b = PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4(ips.0, ips.1, 64)
            .tcp(ports.0, ports.1, seq[i], 65535)
            .ack(seq[1 - i]);
        if flags.contains('S') {
            b = b.syn();
        }
        if flags.contains('R') {
            b = b.rst();
        }
        let mut data = Vec::new();
        b.write(&mut data, payload).unwrap();
        seq[i] = seq[i].wrapping_add(payload.len() as u32 + u32::from(flags.contains('S')));
        n += 1;
        let block = LegacyPcapBlock {
            ts_sec: 1_772_442_000 + n,
            ts_usec: 0,
            caplen: data.len() as u32,
            origlen: data.len() as u32,
            data: &data,
        };
        pcap.extend(block.to_vec_raw().unwrap());
    };
    packet(&mut pcap, true, "S", &[]);
    packet(&mut pcap, false, "S", &[]);
    for (s, c) in switch.chunks(24).zip(controller.chunks(40)) {
        packet(&mut pcap, true, "", s);
        packet(&mut pcap, false, "", c);
    }
    packet(&mut pcap, true, "R", &[]);
    let path = std::env::temp_dir().join(format!("xmppcap-openflow-{}.pcap", std::process::id()));
    std::fs::write(&path, &pcap).unwrap();
    let report = crate::pipeline::report(
        &path,
        &crate::pipeline::Options::default(),
        crate::report::ndjson::Selection::All,
    );
    let _ = std::fs::remove_file(&path);
    let report = report.unwrap();
    let conn = &report.connections[0];
    assert_eq!(
        (conn.layers.as_slice(), conn.websocket.is_none()),
        (&["unknown"][..], true)
    );
    let levels: Vec<_> = report.findings.iter().map(|f| (f.code, f.level)).collect();
    assert!(
        report.findings.iter().all(|f| !f.code.starts_with("ws.")),
        "{levels:?}"
    );
    assert!(
        crate::pipeline::worst_level(&report.findings) < Some(crate::finding::Level::Warn),
        "{levels:?}"
    );
}
