//! The TLS fixtures (issue 3): real rustls sessions over the TCP model:
//! each TLS 1.3 suite, HelloRetryRequest, KeyUpdate, resumption, TLS 1.2
//! ECDHE with AES-GCM and ChaCha20, XMPP STARTTLS, secrets in a DSB, a
//! lost segment and a capture started after the handshake.
//!
//! Takes nothing; gives [`SPECS`]. Every session is a REST exchange with
//! Finesse (`GET /finesse/api/User/1001` with Basic auth) unless said.

use rustls::crypto::ring::cipher_suite as suite;
use rustls::SupportedCipherSuite;

use super::capture::Capture;
use super::catalog::{pcapng_bytes, Fixture, FixtureSpec};
use super::content::{rest_get_user, rest_user_response, sasl_plain, DOMAIN, PASSWORD};
use super::det::Group;
use super::frame::START_NS;
use super::impair;
use super::tcp::{ConvConfig, Conversation};
use super::tls::{TlsEnv, TlsOptions, TlsSession};
use super::wire::Wire;
use super::Error;
use crate::Dir;

const C2S: Dir = Dir::ClientToServer;
const S2C: Dir = Dir::ServerToClient;
const MS: i64 = 1_000_000;

/// The TLS fixtures.
pub(crate) const SPECS: &[FixtureSpec] = &[
    FixtureSpec {
        name: "tls13-aes128gcm.pcapng",
        about: "TLS 1.3 TLS_AES_128_GCM_SHA256, REST GET and a 6 KB response in 4 KB records",
        build: tls13_aes128,
    },
    FixtureSpec {
        name: "tls13-aes256gcm.pcapng",
        about: "TLS 1.3 TLS_AES_256_GCM_SHA384",
        build: tls13_aes256,
    },
    FixtureSpec {
        name: "tls13-chacha20.pcapng",
        about: "TLS 1.3 TLS_CHACHA20_POLY1305_SHA256",
        build: tls13_chacha,
    },
    FixtureSpec {
        name: "tls13-hrr.pcapng",
        about: "TLS 1.3 HelloRetryRequest: the client's P-384 key share is refused for X25519",
        build: tls13_hrr,
    },
    FixtureSpec {
        name: "tls13-keyupdate.pcapng",
        about: "TLS 1.3 KeyUpdate from the client (answered by the server), then one from the server",
        build: tls13_keyupdate,
    },
    FixtureSpec {
        name: "tls13-resumption.pcapng",
        about: "two TLS 1.3 connections, the second resumed with a ticket (PSK-DHE)",
        build: tls13_resumption,
    },
    FixtureSpec {
        name: "tls12-ecdhe-aes128gcm.pcapng",
        about: "TLS 1.2 ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (Ed25519 certificate, extended master secret)",
        build: tls12_gcm,
    },
    FixtureSpec {
        name: "tls12-ecdhe-chacha20.pcapng",
        about: "TLS 1.2 ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        build: tls12_chacha,
    },
    FixtureSpec {
        name: "xmpp-starttls.pcapng",
        about: "XMPP on 5222: plain stream and features, <starttls/>, <proceed/>, TLS 1.3, XMPP inside",
        build: starttls,
    },
    FixtureSpec {
        name: "tls13-dsb.pcapng",
        about: "TLS 1.3 with its key log embedded in a Decryption Secrets Block (no key file)",
        build: tls13_dsb,
    },
    FixtureSpec {
        name: "tls13-loss.pcapng",
        about: "TLS 1.3 with one server segment lost inside a record: that record is a gap, the next decrypt",
        build: tls13_loss,
    },
    FixtureSpec {
        name: "tls13-midstream.pcapng",
        about: "TLS 1.3 capture starting after the handshake (and the tickets)",
        build: tls13_midstream,
    },
    FixtureSpec {
        name: "tls13-snaplen-cut.pcapng",
        about: "XMPP over TLS 1.3 (AES-128-GCM) on 5223 captured with a 400-byte snaplen: the record carrying a 1.3 KB stanza is cut",
        build: tls13_snaplen_cut,
    },
    FixtureSpec {
        name: "tls12-gcm-snaplen-cut.pcapng",
        about: "XMPP over TLS 1.2 (ECDHE_ECDSA_WITH_AES_128_GCM_SHA256) on 5223 captured with a 1000-byte snaplen: the record carrying a 1.3 KB stanza is cut",
        build: tls12_gcm_snaplen_cut,
    },
];

fn opts(suite: SupportedCipherSuite) -> TlsOptions {
    TlsOptions {
        suites: vec![suite],
        ..TlsOptions::tls13()
    }
}

fn tls12(suite: SupportedCipherSuite) -> TlsOptions {
    TlsOptions {
        versions: vec![&rustls::version::TLS12],
        suites: vec![suite],
        ..TlsOptions::tls13()
    }
}

/// A desktop-to-Finesse connection on `port` from client port `cport`.
pub(crate) fn finesse_conv(id: u32, cport: u16, node: u8, port: u16, start: i64) -> Conversation {
    let client = std::net::SocketAddr::from(([192, 168, 10, 21], cport));
    let server = std::net::SocketAddr::from(([10, 20, 30, 40 + node], port));
    let mut cfg = ConvConfig::new(client, server);
    cfg.isn_client = 0x2a00_0000u32.wrapping_add(id.wrapping_mul(0x0135_7531));
    cfg.isn_server = 0x5c00_0000u32.wrapping_add(id.wrapping_mul(0x0246_8642));
    cfg.rtt_ns = 800_000;
    Conversation::new(id, cfg, START_NS + start)
}

/// Handshake, REST GET, response in `record`-byte records, close_notify
/// both ways, FIN both ways.
fn rest_session(
    sess: &mut TlsSession,
    c: &mut Conversation,
    resp_len: usize,
    record: usize,
) -> Result<(), Error> {
    c.handshake();
    sess.handshake(c)?;
    c.advance(3 * MS);
    sess.send(c, C2S, &rest_get_user(DOMAIN), 16_384)?;
    c.advance(12 * MS);
    sess.send(c, S2C, &rest_user_response(resp_len), record)?;
    c.advance(40 * MS);
    sess.close_notify(c, C2S)?;
    sess.close_notify(c, S2C)?;
    c.close_fin(C2S);
    c.close_fin(S2C);
    Ok(())
}

/// One REST session with these options, whole capture, key file.
fn one_session(options: TlsOptions, seed: u64) -> Result<Fixture, Error> {
    let env = TlsEnv::new(&options, seed)?;
    let mut c = finesse_conv(0, 50200, 1, 8445, 0);
    let mut sess = env.connect(DOMAIN)?;
    rest_session(&mut sess, &mut c, 6000, 4096)?;
    let mut cap = Capture::new();
    let segs = c.drain();
    cap.add(&c, segs, Wire::ethernet());
    cap.set_tls(0, sess.truth());
    finish(&cap, Some(env.keylog.text()), false)
}

fn finish(cap: &Capture, keylog: Option<String>, dsb: bool) -> Result<Fixture, Error> {
    let (frames, streams) = cap.finish()?;
    let secrets = if dsb { keylog.as_deref() } else { None };
    Ok(Fixture {
        bytes: pcapng_bytes(&frames, secrets)?,
        keylog: if dsb { None } else { keylog },
        streams,
        frames: frames.len() as u64,
    })
}

fn tls13_aes128() -> Result<Fixture, Error> {
    one_session(opts(suite::TLS13_AES_128_GCM_SHA256), 101)
}

fn tls13_aes256() -> Result<Fixture, Error> {
    one_session(opts(suite::TLS13_AES_256_GCM_SHA384), 102)
}

fn tls13_chacha() -> Result<Fixture, Error> {
    one_session(opts(suite::TLS13_CHACHA20_POLY1305_SHA256), 103)
}

fn tls13_hrr() -> Result<Fixture, Error> {
    let options = TlsOptions {
        client_groups: vec![Group::P384, Group::X25519],
        server_groups: vec![Group::X25519],
        ..TlsOptions::tls13()
    };
    one_session(options, 104)
}

fn tls12_gcm() -> Result<Fixture, Error> {
    one_session(tls12(suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), 107)
}

fn tls12_chacha() -> Result<Fixture, Error> {
    one_session(
        tls12(suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
        108,
    )
}

fn tls13_keyupdate() -> Result<Fixture, Error> {
    let env = TlsEnv::new(&TlsOptions::tls13(), 105)?;
    let mut c = finesse_conv(0, 50300, 1, 8445, 0);
    let mut sess = env.connect(DOMAIN)?;
    c.handshake();
    sess.handshake(&mut c)?;
    for round in 0..3 {
        sess.send(&mut c, C2S, &rest_get_user(DOMAIN), 16_384)?;
        c.advance(10 * MS);
        sess.send(&mut c, S2C, &rest_user_response(2500 + round * 700), 16_384)?;
        c.advance(500 * MS);
        match round {
            0 => sess.key_update(&mut c, C2S)?,
            1 => sess.key_update(&mut c, S2C)?,
            _ => {}
        }
    }
    sess.close_notify(&mut c, C2S)?;
    c.close_fin(C2S);
    c.close_fin(S2C);
    let mut cap = Capture::new();
    let segs = c.drain();
    cap.add(&c, segs, Wire::ethernet());
    cap.set_tls(0, sess.truth());
    finish(&cap, Some(env.keylog.text()), false)
}

fn tls13_resumption() -> Result<Fixture, Error> {
    let env = TlsEnv::new(&TlsOptions::tls13(), 106)?;
    let mut cap = Capture::new();
    for i in 0..2u32 {
        let mut c = finesse_conv(i, 50400 + i as u16, 1, 8445, i64::from(i) * 2000 * MS);
        let mut sess = env.connect(DOMAIN)?;
        rest_session(&mut sess, &mut c, 1500, 16_384)?;
        let segs = c.drain();
        cap.add(&c, segs, Wire::ethernet());
        cap.set_tls(i, sess.truth());
    }
    finish(&cap, Some(env.keylog.text()), false)
}

fn tls13_dsb() -> Result<Fixture, Error> {
    let env = TlsEnv::new(&TlsOptions::tls13(), 109)?;
    let mut c = finesse_conv(0, 50500, 1, 8445, 0);
    let mut sess = env.connect(DOMAIN)?;
    rest_session(&mut sess, &mut c, 3000, 16_384)?;
    let mut cap = Capture::new();
    let segs = c.drain();
    cap.add(&c, segs, Wire::ethernet());
    cap.set_tls(0, sess.truth());
    finish(&cap, Some(env.keylog.text()), true)
}

fn tls13_loss() -> Result<Fixture, Error> {
    let env = TlsEnv::new(&TlsOptions::tls13(), 110)?;
    let mut c = finesse_conv(0, 50600, 1, 8445, 0);
    let mut sess = env.connect(DOMAIN)?;
    rest_session(&mut sess, &mut c, 20_000, 4096)?;
    let mut segs = c.drain();
    // The 3rd of the response's ~15 data segments: inside its 2nd record.
    let before = segs
        .iter()
        .filter(|s| s.dir == S2C && !s.payload.is_empty())
        .count();
    let nth = before.saturating_sub(15) + 2;
    let lost = impair::lose(&mut segs, S2C, nth)
        .map(|s| (s.stream_off, s.stream_off + s.payload.len() as u64))
        .ok_or(Error::Tls(rustls::Error::General("nothing to lose".into())))?;
    let mut cap = Capture::new();
    cap.add(&c, segs, Wire::ethernet());
    let overlaps = |r: (u64, u64)| r.0 < lost.1 && lost.0 < r.1;
    cap.set_tls(0, sess.truth_kept(|dir, r| dir == C2S || !overlaps(r)));
    finish(&cap, Some(env.keylog.text()), false)
}

fn tls13_midstream() -> Result<Fixture, Error> {
    let env = TlsEnv::new(&TlsOptions::tls13(), 111)?;
    let mut c = finesse_conv(0, 50700, 1, 8445, 0);
    let mut sess = env.connect(DOMAIN)?;
    c.handshake();
    sess.handshake(&mut c)?;
    let start = [c.sent(C2S), c.sent(S2C)];
    let skip = c.drain().len();
    for _ in 0..3 {
        sess.send(&mut c, C2S, &rest_get_user(DOMAIN), 16_384)?;
        c.advance(10 * MS);
        sess.send(&mut c, S2C, &rest_user_response(3000), 16_384)?;
        c.advance(900 * MS);
    }
    c.close_fin(C2S);
    c.close_fin(S2C);
    let mut cap = Capture::new();
    let mut segs = c.drain();
    // Capture starts with the first request (the ACK of the server's tickets
    // and everything before it is gone).
    let first = segs
        .iter()
        .position(|s| s.dir == C2S && !s.payload.is_empty());
    impair::start_mid_stream(&mut segs, first.unwrap_or(0));
    debug_assert!(skip > 0);
    cap.add(&c, segs, Wire::ethernet());
    cap.set_tls(0, sess.truth_kept(|dir, r| r.0 >= start[dir.index()]));
    finish(&cap, Some(env.keylog.text()), false)
}

/// Plain XMPP up to `<proceed/>`, then TLS 1.3 from the next byte on.
fn starttls() -> Result<Fixture, Error> {
    let env = TlsEnv::new(&TlsOptions::tls13(), 112)?;
    let mut c = finesse_conv(0, 50800, 1, 5222, 0);
    c.handshake();
    for (dir, text) in starttls_plain() {
        c.send(dir, text.as_bytes());
        c.advance(2 * MS);
    }
    let mut sess = env.connect(DOMAIN)?;
    sess.handshake(&mut c)?;
    for (dir, text) in xmpp_after_tls() {
        sess.send(&mut c, dir, text.as_bytes(), 16_384)?;
        c.advance(5 * MS);
    }
    sess.close_notify(&mut c, C2S)?;
    c.close_fin(C2S);
    c.close_fin(S2C);
    let mut cap = Capture::new();
    let segs = c.drain();
    cap.add(&c, segs, Wire::ethernet());
    cap.set_tls(0, sess.truth());
    finish(&cap, Some(env.keylog.text()), false)
}

const STREAM_NS: &str = "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'";

fn client_open() -> String {
    format!("<?xml version='1.0'?><stream:stream to='{DOMAIN}' {STREAM_NS} version='1.0'>")
}

fn server_open(id: &str) -> String {
    format!(
        "<?xml version='1.0' encoding='UTF-8'?><stream:stream {STREAM_NS} from='{DOMAIN}' \
         id='{id}' xml:lang='en' version='1.0'>"
    )
}

/// The plain part of a STARTTLS session, up to and including `<proceed/>`.
pub(crate) fn starttls_plain() -> Vec<(Dir, String)> {
    let tls_ns = "urn:ietf:params:xml:ns:xmpp-tls";
    vec![
        (C2S, client_open()),
        (S2C, server_open("7b2c1d9e")),
        (
            S2C,
            format!(
                "<stream:features><starttls xmlns=\"{tls_ns}\"><required/></starttls>\
                 <mechanisms xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\"><mechanism>PLAIN</mechanism>\
                 </mechanisms></stream:features>"
            ),
        ),
        (C2S, format!("<starttls xmlns=\"{tls_ns}\"/>")),
        (S2C, format!("<proceed xmlns=\"{tls_ns}\"/>")),
    ]
}

fn xmpp_after_tls() -> Vec<(Dir, String)> {
    let sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
    vec![
        (C2S, client_open()),
        (S2C, server_open("4e8f0a21")),
        (
            S2C,
            format!(
                "<stream:features><mechanisms xmlns=\"{sasl}\"><mechanism>PLAIN</mechanism>\
                 </mechanisms></stream:features>"
            ),
        ),
        (
            C2S,
            format!(
                "<auth xmlns=\"{sasl}\" mechanism=\"PLAIN\">{}</auth>",
                sasl_plain(PASSWORD)
            ),
        ),
        (S2C, format!("<success xmlns=\"{sasl}\"/>")),
        (C2S, "</stream:stream>".to_string()),
        (S2C, "</stream:stream>".to_string()),
    ]
}

fn tls13_snaplen_cut() -> Result<Fixture, Error> {
    snaplen_cut(opts(suite::TLS13_AES_128_GCM_SHA256), 113, 400)
}

fn tls12_gcm_snaplen_cut() -> Result<Fixture, Error> {
    // The server's first flight is one clear handshake record: it must fit.
    snaplen_cut(
        tls12(suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
        114,
        1000,
    )
}

/// XMPP over direct TLS on 5223 (stream headers, then a long message
/// stanza from the server in one record), every frame cut to `snaplen`
/// bytes. No TLS truth: what a record cut this way gives is the
/// analyzer's choice (its start, unauthenticated), checked by its tests.
fn snaplen_cut(options: TlsOptions, seed: u64, snaplen: usize) -> Result<Fixture, Error> {
    let env = TlsEnv::new(&options, seed)?;
    let mut c = finesse_conv(0, 50900, 1, 5223, 0);
    let mut sess = env.connect(DOMAIN)?;
    c.handshake();
    sess.handshake(&mut c)?;
    c.advance(2 * MS);
    sess.send(&mut c, C2S, client_open().as_bytes(), 16_384)?;
    c.advance(2 * MS);
    sess.send(&mut c, S2C, server_open("cut1").as_bytes(), 16_384)?;
    c.advance(5 * MS);
    let body = "Agent 1001 changed state to TALKING on dialog 16777216. ".repeat(22);
    let stanza = format!(
        "<message from='pubsub.{DOMAIN}' to='1001@{DOMAIN}' id='cut-1'><body>{body}</body></message>"
    );
    sess.send(&mut c, S2C, stanza.as_bytes(), 16_384)?;
    c.advance(5 * MS);
    c.close_fin(C2S);
    c.close_fin(S2C);
    let mut cap = Capture::new();
    let segs = c.drain();
    cap.add(&c, segs, Wire::ethernet());
    cap.set_snaplen(snaplen);
    finish(&cap, Some(env.keylog.text()), false)
}
