//! The Finesse desktop fixtures (issue 5): complete sessions over wss,
//! ws, BOSH and TCP 5222 with STARTTLS, a SASL failure, a `conflict`
//! stream error from a second tab, and an abrupt drop followed by a
//! reconnect to the other node. Each adds the desktop's REST PUT on its own
//! connection.
//!
//! Takes nothing; gives [`SPECS`].

use super::bosh::BoshTransport;
use super::capture::Capture;
use super::catalog::{pcap_bytes, pcapng_bytes, Fixture, FixtureSpec};
use super::channel::{Channel, DeflateParams, TcpTransport, Transport, WsTransport, MS};
use super::content::{AGENT, DOMAIN, DOMAIN2, PASSWORD, WRONG_PASSWORD};
use super::finesse::{login, rest_get_refused, rest_put, work, ws_logout};
use super::fixtures_tls::finesse_conv;
use super::frame::{LINKTYPE_ETHERNET, START_NS};
use super::pcap::PcapFormat;
use super::tls::{TlsEnv, TlsOptions};
use super::{xmpp, Error};
use crate::Dir;
use base64::Engine as _;

/// The Finesse fixtures.
pub(crate) const SPECS: &[FixtureSpec] = &[
    FixtureSpec {
        name: "finesse-wss.pcapng",
        about: "Finesse desktop over wss (TLS 1.3, permessage-deflate): login, events, REST PUT, logout",
        build: wss,
    },
    FixtureSpec {
        name: "finesse-ws.pcap",
        about: "the same session over plain ws on 7070 (deflate, client_no_context_takeover, windows 12/10), REST on http 8082",
        build: ws_plain,
    },
    FixtureSpec {
        name: "finesse-bosh.pcapng",
        about: "the same session over BOSH on https 7443, with empty long polls",
        build: bosh,
    },
    FixtureSpec {
        name: "finesse-xmpp5222.pcapng",
        about: "the same session over XMPP on TCP 5222 with STARTTLS",
        build: xmpp5222,
    },
    FixtureSpec {
        name: "finesse-sasl-failure.pcapng",
        about: "wss login with a wrong password: SASL <failure><not-authorized/>, close",
        build: sasl_failure,
    },
    FixtureSpec {
        name: "finesse-conflict.pcapng",
        about: "a second desktop tab binds resource desktop: conflict stream error kicks the first",
        build: conflict,
    },
    FixtureSpec {
        name: "finesse-failover.pcapng",
        about: "wss session reset by a middlebox (no Close), reconnect to finesse2 5 s later",
        build: failover,
    },
];

pub(crate) fn env(seed: u64) -> Result<TlsEnv, Error> {
    Ok(TlsEnv::new(&TlsOptions::tls13(), seed)?)
}

pub(crate) fn keyed(cap: &Capture, env: &TlsEnv) -> Result<Fixture, Error> {
    let (frames, streams) = cap.finish()?;
    Ok(Fixture {
        bytes: pcapng_bytes(&frames, None)?,
        keylog: Some(env.keylog.text()),
        streams,
        frames: frames.len() as u64,
    })
}

/// A wss transport on conversation `id` to `node` (1 or 2) at `start`.
pub(crate) fn wss_transport(
    env: &TlsEnv,
    id: u32,
    node: u8,
    start: i64,
    seed: u64,
) -> Result<WsTransport, Error> {
    let conv = finesse_conv(id, 50900 + id as u16, node, 8445, start);
    let sni = if node == 2 { DOMAIN2 } else { DOMAIN };
    let ch = Channel::open(conv, Some((env, sni)))?;
    WsTransport::upgrade(ch, Some(DeflateParams::browser()), seed)
}

/// Login, then work: the REST PUT on conversation `rest_id`, its Update
/// `update_lag_ms` later, notifications.
fn full_session(
    t: &mut dyn Transport,
    domain: &str,
    cap: &mut Capture,
    env: Option<&TlsEnv>,
    rest_id: u32,
    node: u8,
    update_lag_ms: i64,
) -> Result<(), Error> {
    login(t, domain, PASSWORD)?;
    let mut rest = |at: i64| -> Result<(), Error> {
        rest_put(rest_id, at, env, node)?.add_to(cap, Vec::new());
        Ok(())
    };
    work(t, domain, &mut rest, update_lag_ms)
}

/// From a REST PUT to its Update on a healthy server.
const HEALTHY_LAG_MS: i64 = 300;
/// The server-side lag of a Cisco TAC case (DOMAIN.md §4), in `finesse-ws`.
const SLOW_LAG_MS: i64 = 14_700;

fn wss() -> Result<Fixture, Error> {
    let env = env(201)?;
    let mut cap = Capture::new();
    let mut t = wss_transport(&env, 0, 1, 0, 201)?;
    full_session(&mut t, DOMAIN, &mut cap, Some(&env), 1, 1, HEALTHY_LAG_MS)?;
    ws_logout(&mut t)?;
    t.close()?;
    t.add_to(&mut cap);
    keyed(&cap, &env)
}

fn ws_plain() -> Result<Fixture, Error> {
    let mut cap = Capture::new();
    let conv = finesse_conv(0, 50950, 1, 7070, 0);
    let ch = Channel::open(conv, None)?;
    let params = DeflateParams {
        client_bits: 12,
        server_bits: 10,
        client_no_takeover: true,
        server_no_takeover: false,
    };
    let mut t = WsTransport::upgrade(ch, Some(params), 202)?;
    full_session(&mut t, DOMAIN, &mut cap, None, 1, 1, SLOW_LAG_MS)?;
    ws_logout(&mut t)?;
    t.close()?;
    t.add_to(&mut cap);
    let (frames, streams) = cap.finish()?;
    Ok(Fixture {
        bytes: pcap_bytes(&frames, PcapFormat::usec(LINKTYPE_ETHERNET))?,
        keylog: None,
        streams,
        frames: frames.len() as u64,
    })
}

fn bosh() -> Result<Fixture, Error> {
    let env = env(203)?;
    let mut cap = Capture::new();
    let a = Channel::open(finesse_conv(0, 50960, 1, 7443, 0), Some((&env, DOMAIN)))?;
    let b = Channel::open(finesse_conv(2, 50961, 1, 7443, MS), Some((&env, DOMAIN)))?;
    let mut t = BoshTransport::new([a, b], 2_841_937_105, "7f3a2c91");
    full_session(&mut t, DOMAIN, &mut cap, Some(&env), 1, 1, HEALTHY_LAG_MS)?;
    // Idle for a minute: two empty long polls expire.
    t.wait(61_000)?;
    t.terminate(&mut cap)?;
    keyed(&cap, &env)
}

fn xmpp5222() -> Result<Fixture, Error> {
    let env = env(204)?;
    let mut cap = Capture::new();
    let conv = finesse_conv(0, 50970, 1, 5222, 0);
    let mut t = TcpTransport::starttls(conv, &env)?;
    full_session(&mut t, DOMAIN, &mut cap, Some(&env), 1, 1, HEALTHY_LAG_MS)?;
    t.client(&xmpp::presence(false))?;
    t.close()?;
    t.ch.add_to(&mut cap, Vec::new());
    keyed(&cap, &env)
}

fn sasl_failure() -> Result<Fixture, Error> {
    let env = env(205)?;
    let mut cap = Capture::new();
    let mut t = wss_transport(&env, 0, 1, 0, 205)?;
    login(&mut t, DOMAIN, WRONG_PASSWORD)?;
    // The desktop's REST sign-in with the same wrong password (DOMAIN.md §3).
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{AGENT}:{WRONG_PASSWORD}"))
    );
    let unauthorized = "<ApiErrors><ApiError><ErrorType>Authentication Failure</ErrorType>\
        <ErrorMessage>UNAUTHORIZED</ErrorMessage><ErrorData>1001</ErrorData></ApiError></ApiErrors>";
    rest_get_refused(
        1,
        t.now(),
        &env,
        1,
        &basic,
        "401 Unauthorized",
        unauthorized,
    )?
    .add_to(&mut cap, Vec::new());
    t.client(&xmpp::ws_close())?;
    t.server(&xmpp::ws_close())?;
    t.close()?;
    t.add_to(&mut cap);
    keyed(&cap, &env)
}

fn conflict() -> Result<Fixture, Error> {
    let env = env(206)?;
    let mut cap = Capture::new();
    let mut first = wss_transport(&env, 0, 1, 0, 206)?;
    login(&mut first, DOMAIN, PASSWORD)?;
    first.wait(10_000)?;
    let start = first.now() - START_NS;
    let mut second = wss_transport(&env, 1, 1, start, 207)?;
    login(&mut second, DOMAIN, PASSWORD)?;
    // Binding `desktop` again replaces the first session.
    first.ch.conv.set_now(second.now());
    let text = "Replaced by new connection";
    first.server(&xmpp::stream_error("conflict", text))?;
    first.server(&xmpp::ws_close())?;
    first.close_from(Dir::ServerToClient, 1000, "")?;
    first.add_to(&mut cap);
    second.wait(2_000)?;
    super::finesse::ping(&mut second, DOMAIN, "ping_5")?;
    ws_logout(&mut second)?;
    second.close()?;
    second.add_to(&mut cap);
    keyed(&cap, &env)
}

fn failover() -> Result<Fixture, Error> {
    let env = env(208)?;
    let mut cap = Capture::new();
    let mut first = wss_transport(&env, 0, 1, 0, 208)?;
    login(&mut first, DOMAIN, PASSWORD)?;
    first.wait(4_000)?;
    super::finesse::ping(&mut first, DOMAIN, "ping_5")?;
    first.wait(2_000)?;
    first.abort();
    // The desktop asks node 1 over REST, which is going out of service.
    let basic = super::content::basic_auth();
    rest_get_refused(
        3,
        first.now() + 1_000 * MS,
        &env,
        1,
        &basic,
        "503 Service Unavailable",
        "",
    )?
    .add_to(&mut cap, Vec::new());
    let start = first.now() - START_NS + 5_000 * MS;
    first.add_to(&mut cap);
    let mut second = wss_transport(&env, 1, 2, start, 209)?;
    full_session(
        &mut second,
        DOMAIN2,
        &mut cap,
        Some(&env),
        2,
        2,
        HEALTHY_LAG_MS,
    )?;
    ws_logout(&mut second)?;
    second.close()?;
    second.add_to(&mut cap);
    keyed(&cap, &env)
}
