//! The desktop-story fixtures (issue 10, section 2): a desktop whose node
//! went away and refused its reconnect attempts, one whose SYNs were never
//! answered before it failed over, and a connect/disconnect loop. Every
//! notification connection is a real wss session (rustls, TLS 1.3, key log
//! written), so each can be read with keys and without.
//!
//! Takes nothing; gives [`SPECS`].

use super::capture::Capture;
use super::catalog::{Fixture, FixtureSpec};
use super::channel::{Transport, WsTransport, MS};
use super::content::{DOMAIN, DOMAIN2, PASSWORD};
use super::finesse::{login, ping, ws_logout};
use super::fixtures_finesse::{env, keyed, wss_transport};
use super::fixtures_tls::finesse_conv;
use super::frame::START_NS;
use super::wire::Wire;
use super::Error;

/// The desktop-story fixtures.
pub(crate) const SPECS: &[FixtureSpec] = &[
    FixtureSpec {
        name: "desktop-refused.pcapng",
        about: "wss session on finesse1 reset by the server; two reconnect attempts refused (SYN → RST-ACK) 2 s and 6 s later; the third, 14 s after the reset, reaches finesse1 again",
        build: refused,
    },
    FixtureSpec {
        name: "desktop-no-answer.pcapng",
        about: "wss session on finesse1 reset by the server; two reconnect attempts to finesse1 whose SYNs are never answered (3 and 2 retransmissions); then a wss session on finesse2",
        build: no_answer,
    },
    FixtureSpec {
        name: "desktop-loop.pcapng",
        about: "four wss sessions in a row on finesse1, each reset by the server 15–17 s after it began and followed 2–3 s later by the next: a reconnect loop",
        build: reconnect_loop,
    },
];

/// Client port of the desktop's connection `id` (the same as `wss_transport` picks).
fn client_port(id: u32) -> u16 {
    50_900 + id as u16
}

/// A session that logs in, pings after `ping_after_ms`, then, `rst_after_ms`
/// later, dies by a RST from the server's side. Returns its end (relative
/// to the capture's start).
fn reset_session(
    t: &mut WsTransport,
    domain: &str,
    ping_after_ms: i64,
    rst_after_ms: i64,
) -> Result<i64, Error> {
    login(t, domain, PASSWORD)?;
    t.wait(ping_after_ms)?;
    ping(t, domain, "ping_5")?;
    t.wait(rst_after_ms)?;
    t.abort();
    Ok(t.now() - START_NS)
}

/// A session that logs in, pings and logs out cleanly.
fn healthy_session(t: &mut WsTransport, domain: &str) -> Result<(), Error> {
    login(t, domain, PASSWORD)?;
    t.wait(4_000)?;
    ping(t, domain, "ping_6")?;
    t.wait(2_000)?;
    ws_logout(t)?;
    t.close()
}

fn refused() -> Result<Fixture, Error> {
    let env = env(230)?;
    let mut cap = Capture::new();
    let mut first = wss_transport(&env, 0, 1, 0, 230)?;
    let down = reset_session(&mut first, DOMAIN, 5_000, 3_000)?;
    first.add_to(&mut cap);
    // The desktop's backoff: 2 s, then 4 s more; the node's service is down.
    for (id, after_ms) in [(1u32, 2_000i64), (2, 6_000)] {
        let mut attempt = finesse_conv(id, client_port(id), 1, 8445, down + after_ms * MS);
        attempt.syn_refused();
        let segs = attempt.drain();
        cap.add(&attempt, segs, Wire::ethernet());
    }
    let mut third = wss_transport(&env, 3, 1, down + 14_000 * MS, 233)?;
    healthy_session(&mut third, DOMAIN)?;
    third.add_to(&mut cap);
    keyed(&cap, &env)
}

fn no_answer() -> Result<Fixture, Error> {
    let env = env(231)?;
    let mut cap = Capture::new();
    let mut first = wss_transport(&env, 0, 1, 0, 231)?;
    let down = reset_session(&mut first, DOMAIN, 5_000, 2_000)?;
    first.add_to(&mut cap);
    // SYNs at +1, +2, +4, +8 s, then at +16, +17, +19 s: nobody answers.
    for (id, after_ms, retries) in [(1u32, 1_000i64, 3u32), (2, 16_000, 2)] {
        let mut attempt = finesse_conv(id, client_port(id), 1, 8445, down + after_ms * MS);
        attempt.syn_unanswered(retries, 1_000 * MS);
        let segs = attempt.drain();
        cap.add(&attempt, segs, Wire::ethernet());
    }
    let mut other = wss_transport(&env, 3, 2, down + 24_000 * MS, 234)?;
    healthy_session(&mut other, DOMAIN2)?;
    other.add_to(&mut cap);
    keyed(&cap, &env)
}

fn reconnect_loop() -> Result<Fixture, Error> {
    let env = env(232)?;
    let mut cap = Capture::new();
    let mut start = 0;
    for id in 0..4u32 {
        let mut t = wss_transport(&env, id, 1, start, 240 + u64::from(id))?;
        let lived_ms = 15_000 + 700 * i64::from(id);
        let end = reset_session(&mut t, DOMAIN, 6_000, lived_ms - 6_000)?;
        t.add_to(&mut cap);
        start = end + (2_000 + 300 * i64::from(id)) * MS;
    }
    keyed(&cap, &env)
}
