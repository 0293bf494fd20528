//! The WebSocket fixtures (issue 4), plain TCP on port 7070 so any tool
//! can read them without keys: fragmented compressed messages with pings
//! between fragments (tshark 4.0 gets these wrong), every window size with
//! and without context takeover, an abrupt RST with no Close, and a
//! capture that starts after the upgrade.
//!
//! Takes nothing; gives [`SPECS`].

use super::capture::Capture;
use super::catalog::{pcap_bytes, Fixture, FixtureSpec};
use super::channel::{Channel, DeflateParams, Transport, WsTransport, MS};
use super::content::DOMAIN;
use super::fixtures_tls::finesse_conv;
use super::frame::LINKTYPE_ETHERNET;
use super::pcap::PcapFormat;
use super::ws::{MsgOpts, BINARY, TEXT};
use super::xmpp::{self, update};
use super::{impair, Error};
use crate::Dir;

const C2S: Dir = Dir::ClientToServer;
const S2C: Dir = Dir::ServerToClient;

/// The WebSocket fixtures.
pub(crate) const SPECS: &[FixtureSpec] = &[
    FixtureSpec {
        name: "ws-fragmented-deflate.pcap",
        about: "compressed messages split in fragments with pings between them, then more compressed messages",
        build: fragmented_deflate,
    },
    FixtureSpec {
        name: "ws-deflate-params.pcap",
        about: "seven connections: window bits 9..15, with and without context takeover",
        build: deflate_params,
    },
    FixtureSpec {
        name: "ws-abrupt-rst.pcap",
        about: "WebSocket session ended by a RST, no Close frame (a decoder infers 1006)",
        build: abrupt_rst,
    },
    FixtureSpec {
        name: "ws-midstream.pcap",
        about: "capture starts after the upgrade and the first messages (compressed with context takeover)",
        build: midstream,
    },
    FixtureSpec {
        name: "ws-deflate-midstream.pcap",
        about: "capture starts after three compressed server messages (context takeover): a message that refers to them is partly known, 36 KiB of new text are exact, and everything after is exact",
        build: deflate_midstream,
    },
];

fn pcap(cap: &Capture) -> Result<Fixture, Error> {
    let (frames, streams) = cap.finish()?;
    Ok(Fixture {
        bytes: pcap_bytes(&frames, PcapFormat::usec(LINKTYPE_ETHERNET))?,
        keylog: None,
        streams,
        frames: frames.len() as u64,
    })
}

fn ws(id: u32, params: Option<DeflateParams>, start: i64) -> Result<WsTransport, Error> {
    let conv = finesse_conv(id, 52000 + id as u16, 1, 7070, start);
    WsTransport::upgrade(Channel::open(conv, None)?, params, 300 + u64::from(id))
}

fn user_update(i: usize) -> String {
    let state = ["READY", "NOT_READY", "TALKING", "WORK_READY"][i % 4];
    let u = update(
        "PUT",
        "",
        "/finesse/api/User/1001",
        &xmpp::user(state, None, "2026-03-02T09:00:05.000Z"),
    );
    xmpp::notification(
        DOMAIN,
        &format!("Ffw{i:04}"),
        "/finesse/api/User/1001",
        &format!("it{i}"),
        &u,
    )
}

fn send(t: &mut WsTransport, dir: Dir, op: u8, payload: &[u8], opts: MsgOpts) -> Result<(), Error> {
    let (bytes, truth) = t.sender(dir).message(op, payload, &opts);
    t.ch.conv.advance(MS);
    t.raw(dir, &bytes, truth)
}

fn frags(n: usize, ping: bool) -> MsgOpts {
    MsgOpts {
        fragments: n,
        ping_between: ping.then(|| b"keepalive".to_vec()),
        compress: true,
    }
}

fn fragmented_deflate() -> Result<Fixture, Error> {
    let mut t = ws(0, Some(DeflateParams::browser()), 0)?;
    t.client(&xmpp::ws_open(DOMAIN))?;
    t.server(&xmpp::ws_open_reply(DOMAIN, "c0ffee01"))?;
    // A compressed notification in three fragments, a ping between the
    // first two, then compressed messages relying on the same context.
    send(&mut t, S2C, TEXT, user_update(0).as_bytes(), frags(3, true))?;
    for i in 1..4 {
        t.server(&user_update(i))?;
    }
    // The client fragments too (masked, with a ping of its own).
    send(
        &mut t,
        C2S,
        TEXT,
        xmpp::ping(DOMAIN, "ping_7").as_bytes(),
        frags(2, true),
    )?;
    t.server(&xmpp::pong(DOMAIN, "ping_7"))?;
    // Uncompressed binary despite the extension, then a 70 KB message
    // (64-bit length) in four compressed fragments.
    let plain = MsgOpts {
        fragments: 1,
        ping_between: None,
        compress: false,
    };
    send(&mut t, S2C, BINARY, &[0, 1, 2, 3, 254, 255], plain)?;
    let big: String = (0..120).map(user_update).collect::<Vec<_>>().join("");
    let big = format!("<batch>{big}</batch>");
    send(&mut t, S2C, TEXT, big.as_bytes(), frags(4, false))?;
    t.server(&user_update(200))?;
    t.client(&xmpp::ws_close())?;
    t.server(&xmpp::ws_close())?;
    t.close_from(C2S, 1000, "bye")?;
    let mut cap = Capture::new();
    t.add_to(&mut cap);
    pcap(&cap)
}

fn deflate_params() -> Result<Fixture, Error> {
    let mut cap = Capture::new();
    for (i, bits) in (9..=15u8).enumerate() {
        let params = DeflateParams {
            client_bits: bits,
            server_bits: 24 - bits,
            client_no_takeover: i % 2 == 0,
            server_no_takeover: i % 3 == 0,
        };
        let mut t = ws(i as u32, Some(params), i as i64 * 50 * MS)?;
        t.client(&xmpp::ws_open(DOMAIN))?;
        t.server(&xmpp::ws_open_reply(DOMAIN, "c0ffee02"))?;
        for k in 0..4 {
            t.server(&user_update(k + i))?;
            t.client(&xmpp::ping(DOMAIN, &format!("p{k}")))?;
        }
        t.close()?;
        t.add_to(&mut cap);
    }
    pcap(&cap)
}

fn abrupt_rst() -> Result<Fixture, Error> {
    let mut t = ws(0, Some(DeflateParams::browser()), 0)?;
    t.client(&xmpp::ws_open(DOMAIN))?;
    t.server(&xmpp::ws_open_reply(DOMAIN, "c0ffee03"))?;
    for i in 0..3 {
        t.server(&user_update(i))?;
    }
    t.keepalive()?;
    t.wait(60_000)?;
    t.abort();
    let mut cap = Capture::new();
    t.add_to(&mut cap);
    pcap(&cap)
}

fn midstream() -> Result<Fixture, Error> {
    let mut t = ws(0, Some(DeflateParams::browser()), 0)?;
    t.client(&xmpp::ws_open(DOMAIN))?;
    t.server(&xmpp::ws_open_reply(DOMAIN, "c0ffee04"))?;
    for i in 0..6 {
        t.server(&user_update(i))?;
    }
    t.close()?;
    let mut segs = t.ch.conv.drain();
    // Drop the handshake, the upgrade and the first three messages.
    let first = segs
        .iter()
        .enumerate()
        .filter(|(_, s)| s.dir == S2C && !s.payload.is_empty())
        .nth(4)
        .map_or(0, |(i, _)| i);
    impair::start_mid_stream(&mut segs, first);
    let mut cap = Capture::new();
    cap.add(&t.ch.conv, segs, super::wire::Wire::ethernet());
    pcap(&cap)
}

/// `n` Greek letters (two UTF-8 bytes each): text that shares no three
/// bytes with anything the server sent before.
fn greek(seed: u64, n: usize) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_u32(0x3b1 + (x % 24) as u32).unwrap_or('α')
        })
        .collect()
}

/// The three kinds of compressed message a capture that starts late sees
/// with context takeover. Lost with the start: the upgrade, the server's
/// `<open/>`, an iq result and a presence. Then: a presence that refers to
/// the lost one (partly known, never given as text); nine 4 KiB messages
/// of new text (exact, decoded as usual); once 32 KiB of known output lie
/// behind, Finesse updates whose references can no longer reach the lost
/// window (exact).
fn deflate_midstream() -> Result<Fixture, Error> {
    let me = "1001@finesse/desktop";
    let mut t = ws(0, Some(DeflateParams::browser()), 0)?;
    t.client(&xmpp::ws_open(DOMAIN))?;
    t.server(&xmpp::ws_open_reply(DOMAIN, "c0ffee05"))?;
    t.server(&format!("<iq type='result' id='sess_1' to='{me}'/>"))?;
    t.server(&format!("<presence from='{me}' to='{me}'/>"))?;
    t.server(&format!(
        "<presence from='{me}' to='{me}'><show>away</show></presence>"
    ))?;
    for i in 0..9 {
        t.server(&format!(
            "<message><body>{}</body></message>",
            greek(i, 2048)
        ))?;
    }
    for i in 0..3 {
        t.server(&user_update(i))?;
    }
    t.close()?;
    let mut segs = t.ch.conv.drain();
    // Drop the handshake, the upgrade and the first three server messages
    // (each one segment): start at the fifth server segment with payload.
    let first = segs
        .iter()
        .enumerate()
        .filter(|(_, s)| s.dir == S2C && !s.payload.is_empty())
        .nth(4)
        .map_or(0, |(i, _)| i);
    impair::start_mid_stream(&mut segs, first);
    let mut cap = Capture::new();
    cap.add(&t.ch.conv, segs, super::wire::Wire::ethernet());
    pcap(&cap)
}
