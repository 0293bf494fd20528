//! The fixtures of issue 15 that need no hand-sealed TLS: what real customer
//! captures hold besides Finesse traffic. A binary protocol whose bytes read
//! as WebSocket frame headers, TCP inside each tunnel kind, a timestamp
//! glitch in the middle of a connection, and a client speaking TLS to a plain
//! XMPP port next to a stream open nobody answers.
//!
//! Takes nothing; gives [`SPECS`]. Deterministic (fixed clock, seeded RNG,
//! rustls with the seeded provider for the one ClientHello).

use std::net::SocketAddr;

use fastrand::Rng;
use rustls::pki_types::ServerName;
use rustls::ClientConnection;

use super::capture::Capture;
use super::catalog::{pcap_bytes, Fixture, FixtureSpec};
use super::frame::{LINKTYPE_ETHERNET, START_NS};
use super::pcap::PcapFormat;
use super::tcp::{ConvConfig, Conversation};
use super::tls::{TlsEnv, TlsOptions};
use super::tunnel::Tunnel;
use super::wire::{Link, Wire};
use super::Error;
use crate::fixtures_tcp::text;
use crate::Dir;

const C2S: Dir = Dir::ClientToServer;
const S2C: Dir = Dir::ServerToClient;
const MS: i64 = 1_000_000;

/// The issue 15 fixtures without TLS decryption.
pub(crate) const SPECS: &[FixtureSpec] = &[
    FixtureSpec {
        name: "binary-not-websocket.pcap",
        about: "OpenFlow 1.3 on 6653 (no HTTP handshake) whose bytes parse as WebSocket frame headers, ending in RST",
        build: binary_not_websocket,
    },
    FixtureSpec {
        name: "tunnels.pcap",
        about: "TCP inside GRE (with and without key), ERSPAN II and III, VXLAN, MPLS, PPPoE, IP-in-IP, IPv6 fragments; then Geneve (not decoded)",
        build: tunnels,
    },
    FixtureSpec {
        name: "tcp-time-glitch.pcap",
        about: "one connection where a mid-connection frame is dated 40 years later, then normal frames again",
        build: time_glitch,
    },
    FixtureSpec {
        name: "xmpp-tls-on-plain-port.pcap",
        about: "a TLS ClientHello to 5222 answered with <not-well-formed/>; a stream open the server never answers",
        build: tls_on_plain_port,
    },
];

fn conv(id: u32, client: SocketAddr, server: SocketAddr, start: i64) -> Conversation {
    let mut cfg = ConvConfig::new(client, server);
    cfg.isn_client = 0x3100_0000u32.wrapping_add(id.wrapping_mul(0x0135_7531));
    cfg.isn_server = 0x6400_0000u32.wrapping_add(id.wrapping_mul(0x0246_8642));
    Conversation::new(id, cfg, START_NS + start)
}

fn v4(a: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::from((a, port))
}

fn eth_fixture(cap: &Capture) -> Result<Fixture, Error> {
    let (frames, streams) = cap.finish()?;
    Ok(Fixture {
        bytes: pcap_bytes(&frames, PcapFormat::usec(LINKTYPE_ETHERNET))?,
        keylog: None,
        streams,
        frames: frames.len() as u64,
    })
}

/// One OpenFlow 1.3 message (OpenFlow Switch Specification 1.3.5 §7.1:
/// version 0x04, type, 16-bit length including the header, xid).
fn openflow(kind: u8, xid: u32, body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + body.len()).unwrap_or(u16::MAX);
    let mut m = vec![0x04, kind];
    m.extend_from_slice(&len.to_be_bytes());
    m.extend_from_slice(&xid.to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// A switch (the TCP client) and its controller on 6653: HELLO both ways
/// (with a version bitmap element), FEATURES_REQUEST/REPLY, SET_CONFIG, a
/// FLOW_MOD, echo requests and replies, two PACKET_INs (one coalesced with
/// an echo reply), then the switch resets the connection. Byte 0x04 reads
/// as a WebSocket frame with FIN clear and opcode 4, the type byte as an
/// unmasked payload length: a frame heuristic sees "frames" everywhere.
fn binary_not_websocket() -> Result<Fixture, Error> {
    let mut c = conv(
        0,
        v4([192, 168, 10, 60], 40_422),
        v4([10, 20, 30, 70], 6653),
        0,
    );
    // HELLO's version bitmap element: OpenFlow 1.3 only.
    let hello_elem = [0, 1, 0, 8, 0, 0, 0, 0x10];
    c.handshake();
    c.send(C2S, &openflow(0, 1, &hello_elem));
    c.send(S2C, &openflow(0, 0x11, &hello_elem));
    c.advance(2 * MS);
    c.send(S2C, &openflow(5, 0x12, &[]));
    c.send(C2S, &openflow(6, 0x12, &features_reply()));
    c.send(S2C, &openflow(9, 0x13, &[0, 0, 0xff, 0xe5]));
    c.send(S2C, &openflow(14, 0x14, &flow_mod()));
    for round in 0..3u32 {
        c.advance(5_000 * MS);
        c.send(S2C, &openflow(2, 0x20 + round, b"ofecho\0\x01"));
        let mut reply = openflow(3, 0x20 + round, b"ofecho\0\x01");
        if round == 1 {
            reply.extend_from_slice(&openflow(10, 0x40, &packet_in(3)));
        }
        c.send(C2S, &reply);
    }
    c.advance(700 * MS);
    c.send(C2S, &openflow(10, 0x41, &packet_in(7)));
    c.advance(MS);
    c.rst(C2S);
    let mut cap = Capture::new();
    let segs = c.drain();
    cap.add(&c, segs, Wire::ethernet());
    eth_fixture(&cap)
}

/// FEATURES_REPLY body: datapath id, buffers, tables, auxiliary id, pad, capabilities, reserved.
fn features_reply() -> Vec<u8> {
    let mut b = 0x0000_5254_00ab_cdefu64.to_be_bytes().to_vec();
    b.extend_from_slice(&256u32.to_be_bytes());
    b.extend_from_slice(&[254, 0, 0, 0]);
    b.extend_from_slice(&0x4fu32.to_be_bytes());
    b.extend_from_slice(&0u32.to_be_bytes());
    b
}

/// FLOW_MOD body: cookie, mask, table 0, ADD, idle 60, hard 0, priority
/// 100, no buffer, any out port and group, flags, pad; an empty OXM match
/// (type 1, length 4, padded).
fn flow_mod() -> Vec<u8> {
    let mut b = vec![0u8; 16];
    b.extend_from_slice(&[0, 0, 0, 60, 0, 0, 0, 100]);
    b.extend_from_slice(&[0xff; 12]);
    b.extend_from_slice(&[0, 0, 0, 0]);
    b.extend_from_slice(&[0, 1, 0, 4, 0, 0, 0, 0]);
    b
}

/// PACKET_IN body: no buffer, total length 60, reason, table, cookie, an
/// empty match, 2 bytes of pad, then a 60-byte frame patterned by `n`.
fn packet_in(n: u8) -> Vec<u8> {
    let mut b = 0xffff_ffffu32.to_be_bytes().to_vec();
    b.extend_from_slice(&[0, 60, 0, 0]);
    b.extend_from_slice(&[0u8; 8]);
    b.extend_from_slice(&[0, 1, 0, 4, 0, 0, 0, 0, 0, 0]);
    b.extend((0..60u8).map(|i| i.wrapping_mul(n)));
    b
}

/// A connection per tunnel kind, 50 ms apart, each a request and a
/// response closed with FIN. The IPv6 one sends its data in fragments. The
/// Geneve connection comes last: xmppcap does not decode Geneve, so it is
/// not in the truth (tshark 4.0 gives it `tcp.stream` 9).
fn tunnels() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(1501);
    let mut cap = Capture::new();
    let kinds = [
        Some(Tunnel::Gre { key: None }),
        Some(Tunnel::Gre {
            key: Some(0x0102_0304),
        }),
        Some(Tunnel::ErspanII),
        Some(Tunnel::ErspanIII),
        Some(Tunnel::Vxlan),
        Some(Tunnel::Mpls),
        Some(Tunnel::Pppoe),
        Some(Tunnel::IpInIp),
        None,
        Some(Tunnel::Geneve),
    ];
    for (i, kind) in kinds.into_iter().enumerate() {
        let id = i as u32;
        let port = 52_000 + i as u16;
        let (client, server, link) = match kind {
            Some(t) => (
                v4([192, 168, 10, 21], port),
                v4([10, 20, 30, 40], 5222),
                Link::Tunnel(t),
            ),
            None => (
                SocketAddr::new("2001:db8:10::21".parse().unwrap_or([0u16; 8].into()), port),
                SocketAddr::new("2001:db8:20::40".parse().unwrap_or([0u16; 8].into()), 8445),
                Link::Ethernet,
            ),
        };
        let mut c = conv(id, client, server, i as i64 * 50 * MS);
        c.handshake();
        c.send(C2S, &text(&mut rng, 120));
        c.advance(2 * MS);
        c.send(
            S2C,
            &text(&mut rng, if kind.is_none() { 1200 } else { 300 }),
        );
        c.close_fin(C2S);
        c.close_fin(S2C);
        let mut segs = c.drain();
        if kind.is_none() {
            for s in segs.iter_mut().filter(|s| s.payload.len() > 200) {
                s.fragment = Some(512);
            }
        }
        if kind == Some(Tunnel::Geneve) {
            cap.add_untracked(segs, Wire::on(link));
        } else {
            cap.add(&c, segs, Wire::on(link));
        }
    }
    eth_fixture(&cap)
}

/// A client on 5222 and its server: three exchanges, a minute apart; the
/// server's first data frame of the second exchange carries a timestamp
/// 40 years (14 610 days) late, as a dumpcap glitch writes it.
fn time_glitch() -> Result<Fixture, Error> {
    const GLITCH_NS: i64 = 14_610 * 86_400 * 1_000_000_000;
    let mut rng = Rng::with_seed(1502);
    let mut c = conv(
        0,
        v4([192, 168, 10, 21], 53_300),
        v4([10, 20, 30, 40], 5222),
        0,
    );
    c.handshake();
    for _ in 0..3 {
        c.send(C2S, &text(&mut rng, 200));
        c.advance(3 * MS);
        c.send(S2C, &text(&mut rng, 1800));
        c.advance(60_000 * MS);
    }
    c.close_fin(C2S);
    c.close_fin(S2C);
    let mut cap = Capture::new();
    let segs = c.drain();
    cap.add(&c, segs, Wire::ethernet());
    let caps = cap.render()?;
    let streams = cap.truth(&caps);
    let mut frames: Vec<_> = caps.into_iter().map(|c| c.frame).collect();
    // Frames: 3 handshake, then per exchange a request, its ACK, two server
    // segments and an ACK: the second exchange's first server segment is frame 11.
    if let Some(f) = frames.get_mut(10) {
        f.ts_ns += GLITCH_NS;
    }
    Ok(Fixture {
        bytes: pcap_bytes(&frames, PcapFormat::usec(LINKTYPE_ETHERNET))?,
        keylog: None,
        streams,
        frames: frames.len() as u64,
    })
}

/// Prosody's answer to bytes that are not XML (stream header, error, end).
const NOT_WELL_FORMED: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' id='d9c1f0a2-3e57-4b8a-9f61-0c2d7e4b5a13' from='finesse1.example.com' version='1.0'><stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>";

const STREAM_OPEN: &[u8] = b"<?xml version='1.0'?><stream:stream to='finesse1.example.com' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

/// A client set up for direct TLS (XEP-0368) pointed at 5222: a real
/// rustls ClientHello (SNI, ALPN `xmpp-client`), Prosody's stream error
/// and FIN both ways. Two seconds later another client opens a plain
/// stream; the server never answers; the client gives up after 30 s.
fn tls_on_plain_port() -> Result<Fixture, Error> {
    let options = TlsOptions {
        versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
        client_alpn: vec!["xmpp-client"],
        ..TlsOptions::tls13()
    };
    let env = TlsEnv::new(&options, 1503)?;
    let name = ServerName::try_from("finesse1.example.com")
        .map_err(|_| rustls::Error::General("server name".into()))?;
    let mut client = ClientConnection::new(env.client.clone(), name)?;
    let mut hello = Vec::new();
    while client.wants_write() {
        client
            .write_tls(&mut hello)
            .map_err(|e| rustls::Error::General(format!("ClientHello: {e}")))?;
    }
    let server = v4([10, 20, 30, 40], 5222);
    let mut tls = conv(0, v4([192, 168, 10, 21], 53_400), server, 0);
    tls.handshake();
    tls.send(C2S, &hello);
    tls.advance(MS);
    tls.send(S2C, NOT_WELL_FORMED);
    tls.close_fin(S2C);
    tls.close_fin(C2S);
    let mut silent = conv(1, v4([192, 168, 10, 22], 53_401), server, 2_000 * MS);
    silent.handshake();
    silent.send(C2S, STREAM_OPEN);
    silent.advance(30_000 * MS);
    silent.close_fin(C2S);
    silent.close_fin(S2C);
    let mut cap = Capture::new();
    for c in [&mut tls, &mut silent] {
        let segs = c.drain();
        cap.add(c, segs, Wire::ethernet());
    }
    eth_fixture(&cap)
}
