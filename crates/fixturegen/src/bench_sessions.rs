//! Server-side benchmark captures: many short Finesse desktop sessions, a
//! fixed number open at once, the way a Finesse server's port 8445 sees a
//! busy hour. Each session is its own TCP connection (distinct client
//! address and port) carrying TLS 1.3, a WebSocket upgrade with
//! permessage-deflate (context takeover), an XMPP login (open, SASL PLAIN,
//! bind, presence, pubsub subscriptions to its Team and Queue: the User
//! feed is automatic), a few pubsub notifications with Finesse `<Update>` payloads (agent
//! state changes), an XEP-0199 ping, unsubscriptions, `<close/>`, a WebSocket Close, TLS
//! close_notify and FIN both ways.
//!
//! Takes a [`FrameSink`], a key-log writer and a [`SessionsConfig`]; gives
//! statistics. Streams: frames and key-log lines are written as they are
//! made, and a finished session is dropped, so memory follows the sessions
//! open at once, never the sessions made. Deterministic for a seed.

use std::io::Write;
use std::net::SocketAddr;

use base64::Engine;
use fastrand::Rng;

use super::bench::{BenchStats, Emitter};
use super::channel::{Channel, DeflateParams, Transport, WsTransport};
use super::content::{DOMAIN, PASSWORD};
use super::frame::{FrameSink, START_NS};
use super::tcp::{ConvConfig, Conversation};
use super::tls::{TlsEnv, TlsOptions};
use super::wire::Wire;
use super::xmpp::{self as x, escape};
use super::{finesse, Error};

const PUBSUB: &str = "http://jabber.org/protocol/pubsub";
/// Time between two rounds of steps (every open session takes one step a round).
const ROUND_NS: i64 = 500_000_000;
/// The agent states a session goes through, in order, from its login.
const STATES: [(&str, Option<(u32, &str)>); 6] = [
    ("NOT_READY", Some((12, "Lunch"))),
    ("READY", None),
    ("RESERVED", None),
    ("TALKING", None),
    ("WORK_READY", None),
    ("NOT_READY", Some((14, "Break"))),
];

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct SessionsConfig {
    /// Sessions in all.
    pub sessions: u64,
    /// Sessions open at once (at most).
    pub concurrent: usize,
    /// RNG seed.
    pub seed: u64,
}

impl SessionsConfig {
    /// Distinct agents: twice the sessions open at once, so an agent logs
    /// in again later (as in a day of shifts) but rarely twice at once.
    pub fn agents(&self) -> u64 {
        (self.concurrent.max(1) as u64) * 2
    }
}

/// Session `s`'s TCP connection: a distinct client address for each of
/// the first 8 million sessions (the port wraps in the ephemeral range, the
/// address moves on), to one Finesse server's 8445.
pub fn session_conv(s: u64, start_ns: i64) -> Conversation {
    let octet = |v: u64| u8::try_from(v).unwrap_or(u8::MAX);
    let client = SocketAddr::from((
        [
            10,
            octet(128 + (s / 62_500) % 128),
            octet((s / 250) % 250),
            octet(1 + s % 250),
        ],
        u16::try_from(32_768 + s % 28_232).unwrap_or(u16::MAX),
    ));
    let server = SocketAddr::from(([10, 200, 0, 1], 8445));
    let mut cfg = ConvConfig::new(client, server);
    cfg.mss = 1448;
    cfg.record = false;
    let id = s as u32;
    cfg.isn_client = id.wrapping_mul(0x9e37_79b9) ^ 0x5bd1_e995;
    cfg.isn_server = id.wrapping_mul(0x85eb_ca6b) ^ 0x27d4_eb2f;
    Conversation::new(id, cfg, start_ns)
}

/// N short sessions, M at a time; key-log lines go to `keys` as they are made.
pub fn bench_sessions(
    sink: &mut dyn FrameSink,
    keys: &mut dyn Write,
    cfg: &SessionsConfig,
) -> Result<BenchStats, Error> {
    let env = TlsEnv::new(&TlsOptions::tls13(), cfg.seed)?;
    let mut em = Emitter {
        sink,
        stats: BenchStats::default(),
        wire: Wire::ethernet(),
    };
    let concurrent = cfg.concurrent.max(1);
    let mut open: Vec<Session> = Vec::with_capacity(concurrent);
    let mut started = 0u64;
    let mut now = START_NS;
    while started < cfg.sessions || !open.is_empty() {
        while open.len() < concurrent && started < cfg.sessions {
            let mut s = Session::open(&env, started, now, cfg)?;
            now = s.t.now();
            em.emit(&s.t.ch.conv.drain())?;
            open.push(s);
            started += 1;
        }
        keys.write_all(env.keylog.take().as_bytes())?;
        for s in &mut open {
            s.t.ch.conv.set_now(now);
            s.step()?;
            now = s.t.now();
            em.emit(&s.t.ch.conv.drain())?;
        }
        open.retain(|s| !s.closed);
        now += ROUND_NS;
    }
    keys.write_all(env.keylog.take().as_bytes())?;
    em.stats.conns = started;
    Ok(em.stats)
}

/// One desktop's session while it is open.
struct Session {
    t: WsTransport,
    agent: u64,
    team: u64,
    queue: u64,
    /// Explicit subscriptions (node, subid), until unsubscribed.
    subscriptions: Vec<(String, String)>,
    /// Notifications sent so far.
    sent: u32,
    /// Notifications to send before closing.
    notifications: u32,
    /// The ping goes after this many notifications.
    ping_after: u32,
    rng: Rng,
    closed: bool,
}

impl Session {
    /// Connects, upgrades and logs in session `s`.
    fn open(env: &TlsEnv, s: u64, now: i64, cfg: &SessionsConfig) -> Result<Session, Error> {
        let mut rng = Rng::with_seed(cfg.seed ^ s.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let ch = Channel::open(session_conv(s, now), Some((env, DOMAIN)))?;
        let mut t = WsTransport::upgrade(ch, Some(DeflateParams::browser()), cfg.seed ^ s)?;
        t.forget_truth();
        let agent = 10_000 + s % cfg.agents();
        let team = 1 + agent % 40;
        let notifications = rng.u32(2..=6);
        let mut session = Session {
            t,
            agent,
            team,
            queue: 1 + agent % 7,
            subscriptions: Vec::new(),
            sent: 0,
            notifications,
            ping_after: rng.u32(1..notifications),
            rng,
            closed: false,
        };
        session.login()?;
        Ok(session)
    }

    fn login(&mut self) -> Result<(), Error> {
        let (t, agent) = (&mut self.t, self.agent);
        let jid = jid(agent);
        t.open_stream(&format!("{:08x}", self.rng.u32(..)))?;
        t.server(&x::features_sasl(true))?;
        let plain =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{agent}\0{PASSWORD}"));
        t.client(&format!(
            "<auth xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\" mechanism=\"PLAIN\">{plain}</auth>"
        ))?;
        t.server(&x::success())?;
        t.open_stream(&format!("{:08x}", self.rng.u32(..)))?;
        t.server(&x::features_bind(true))?;
        t.client(&x::bind())?;
        t.server(&format!(
            "<iq xmlns=\"jabber:client\" type=\"result\" id=\"_bind_auth_2\" to=\"{jid}\"><bind \
             xmlns=\"urn:ietf:params:xml:ns:xmpp-bind\"><jid>{jid}</jid></bind></iq>"
        ))?;
        t.client(&x::presence(true))?;
        let team = format!("/finesse/api/Team/{}/Users", self.team);
        let queue = format!("/finesse/api/Queue/{}", self.queue);
        for (id, node) in [("sub_team_3", team), ("sub_queue_4", queue)] {
            let subid = format!("{:012x}", self.rng.u64(..1 << 48));
            let (t, jid) = (&mut self.t, &jid);
            t.client(&format!(
                "<iq type=\"set\" to=\"pubsub.{DOMAIN}\" id=\"{id}\" xmlns=\"jabber:client\"><pubsub \
                 xmlns=\"{PUBSUB}\"><subscribe node=\"{node}\" jid=\"{jid}\"/></pubsub></iq>"
            ))?;
            t.server(&format!(
                "<iq xmlns=\"jabber:client\" type=\"result\" from=\"pubsub.{DOMAIN}\" to=\"{jid}\" \
                 id=\"{id}\"><pubsub xmlns=\"{PUBSUB}\"><subscription node=\"{node}\" jid=\"{jid}\" \
                 subid=\"{subid}\" subscription=\"subscribed\"/></pubsub></iq>"
            ))?;
            self.subscriptions.push((node, subid));
        }
        Ok(())
    }

    /// One round: the next notification (and the ping when its turn
    /// comes), or the logout and close once all were sent.
    fn step(&mut self) -> Result<(), Error> {
        if self.sent >= self.notifications {
            self.unsubscribe()?;
            finesse::ws_logout(&mut self.t)?;
            self.t.close()?;
            self.closed = true;
            return Ok(());
        }
        self.notify()?;
        self.sent += 1;
        if self.sent == self.ping_after {
            let id = format!("ping_{}", self.rng.u32(..));
            finesse::ping(&mut self.t, DOMAIN, &id)?;
        }
        Ok(())
    }

    /// Explicit subscriptions persist on the node unless the desktop
    /// unsubscribes before it disconnects, as Cisco's guide asks.
    fn unsubscribe(&mut self) -> Result<(), Error> {
        let jid = jid(self.agent);
        for (k, (node, subid)) in std::mem::take(&mut self.subscriptions).iter().enumerate() {
            let id = format!("unsub_{}", 5 + k);
            self.t.client(&format!(
                "<iq type=\"set\" to=\"pubsub.{DOMAIN}\" id=\"{id}\" xmlns=\"jabber:client\"><pubsub \
                 xmlns=\"{PUBSUB}\"><unsubscribe node=\"{node}\" jid=\"{jid}\" subid=\"{subid}\"/>\
                 </pubsub></iq>"
            ))?;
            self.t.server(&format!(
                "<iq xmlns=\"jabber:client\" type=\"result\" from=\"pubsub.{DOMAIN}\" to=\"{jid}\" id=\"{id}\"/>"
            ))?;
        }
        Ok(())
    }

    /// The agent's next state as a User update, and every other time the
    /// Team's view of it.
    fn notify(&mut self) -> Result<(), Error> {
        let (state, reason) = STATES[self.sent as usize % STATES.len()];
        let now_ms = (self.t.now() - START_NS) / 1_000_000;
        let stamp = format!(
            "2026-03-02T{:02}:{:02}:{:02}.{:03}Z",
            9 + (now_ms / 3_600_000) % 12,
            (now_ms / 60_000) % 60,
            (now_ms / 1000) % 60,
            now_ms % 1000
        );
        let agent = self.agent;
        let user_node = format!("/finesse/api/User/{agent}");
        let request_id = if self.rng.bool() {
            format!("{:016x}{:016x}", self.rng.u64(..), self.rng.u64(..))
        } else {
            String::new()
        };
        let user = user_doc(agent, self.team, state, reason, &stamp);
        self.publish(&user_node, &request_id, &user_node, &user)?;
        if self.sent % 2 == 1 {
            let team = team_doc(agent, self.team, state, &stamp, &mut self.rng);
            let node = format!("/finesse/api/Team/{}/Users", self.team);
            let source = format!("/finesse/api/Team/{}", self.team);
            self.publish(&node, "", &source, &team)?;
        }
        Ok(())
    }

    fn publish(
        &mut self,
        node: &str,
        request_id: &str,
        source: &str,
        data: &str,
    ) -> Result<(), Error> {
        let n = self.sent * 2 + 1;
        let jid = jid(self.agent);
        let update = x::update("PUT", request_id, source, data);
        self.t.server(&format!(
            "<message xmlns=\"jabber:client\" from=\"pubsub.{DOMAIN}\" to=\"{jid}\" id=\"Ffn{n:05}\"><event \
             xmlns=\"{PUBSUB}#event\"><items node=\"{node}\"><item id=\"{:08x}-item\"><notification \
             xmlns=\"{PUBSUB}\">{}</notification></item></items></event></message>",
            self.rng.u32(..),
            escape(&update)
        ))
    }
}

/// The agent's full JID (resource `desktop`).
fn jid(agent: u64) -> String {
    format!("{agent}@{DOMAIN}/desktop")
}

/// The agent's `<user>` document.
fn user_doc(
    agent: u64,
    team: u64,
    state: &str,
    reason: Option<(u32, &str)>,
    stamp: &str,
) -> String {
    let (id, rc) = crate::xmpp::reason_code(reason);
    format!(
        "<user><dialogs>/finesse/api/User/{agent}/Dialogs</dialogs><extension>{ext}</extension>\
         <firstName>Agent</firstName><lastName>{agent}</lastName><loginId>{agent}</loginId>\
         <loginName>agent{agent}</loginName><pendingState></pendingState><reasonCodeId>{id}</reasonCodeId>\
         {rc}<roles><role>Agent</role></roles><state>{state}</state>\
         <stateChangeTime>{stamp}</stateChangeTime><teamId>{team}</teamId><teamName>Team {team}</teamName>\
         <uri>/finesse/api/User/{agent}</uri></user>",
        ext = agent + 30_000,
    )
}

/// The team's `<team>` document: the agent and two or three colleagues.
fn team_doc(agent: u64, team: u64, state: &str, stamp: &str, rng: &mut Rng) -> String {
    let mut users = String::new();
    let colleagues = rng.u64(2..4);
    for k in 0..=colleagues {
        let (id, st) = if k == 0 {
            (agent, state)
        } else {
            (agent + k * 40, STATES[rng.usize(..STATES.len())].0)
        };
        users.push_str(&format!(
            "<User><extension>{}</extension><firstName>Agent</firstName><lastName>{id}</lastName>\
             <loginId>{id}</loginId><state>{st}</state><stateChangeTime>{stamp}</stateChangeTime>\
             <uri>/finesse/api/User/{id}</uri></User>",
            id + 30_000
        ));
    }
    format!(
        "<team><id>{team}</id><name>Team {team}</name><uri>/finesse/api/Team/{team}</uri>\
         <users>{users}</users></team>"
    )
}

#[cfg(test)]
mod tests;
