//! Fixtures of the connection story (issue 10 §1): what a connection says
//! about itself from the wire, keys or not.
//!
//! Takes nothing; gives [`SPECS`]. Each is a whole Finesse desktop
//! connection over wss (TLS 1.3, permessage-deflate) with its key log.

use super::capture::Capture;
use super::catalog::{pcapng_bytes, Fixture, FixtureSpec};
use super::channel::{Channel, DeflateParams, Transport, WsTransport};
use super::content::{DOMAIN, PASSWORD};
use super::finesse::{login, ping};
use super::fixtures_tls::finesse_conv;
use super::tls::{TlsEnv, TlsOptions};
use super::Error;

/// The connection-story fixtures.
pub(crate) const SPECS: &[FixtureSpec] = &[FixtureSpec {
    name: "conn-nat-timeout.pcapng",
    about: "wss session pinging every 10 s four times, then silent for 120 s until a RST from the server's address (a NAT or firewall idle timeout)",
    build: nat_timeout,
}];

/// The desktop logs in and pings every 10 s; then its timer stops (a tab
/// in the background, a sleeping laptop) and nothing crosses the wire
/// until a middlebox forgets the flow and resets it from the server's side.
fn nat_timeout() -> Result<Fixture, Error> {
    let env = TlsEnv::new(&TlsOptions::tls13(), 210)?;
    let conv = finesse_conv(0, 50_910, 1, 8445, 0);
    let ch = Channel::open(conv, Some((&env, DOMAIN)))?;
    let mut t = WsTransport::upgrade(ch, Some(DeflateParams::browser()), 210)?;
    login(&mut t, DOMAIN, PASSWORD)?;
    for n in 5..9 {
        t.wait(10_000)?;
        ping(&mut t, DOMAIN, &format!("ping_{n}"))?;
    }
    t.wait(120_000)?;
    t.abort();
    let mut cap = Capture::new();
    t.add_to(&mut cap);
    let (frames, streams) = cap.finish()?;
    Ok(Fixture {
        bytes: pcapng_bytes(&frames, None)?,
        keylog: Some(env.keylog.text()),
        streams,
        frames: frames.len() as u64,
    })
}
