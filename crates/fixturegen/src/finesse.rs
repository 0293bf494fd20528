//! Finesse desktop session scripts (DOMAIN.md §2–4), independent of the
//! transport: login (open, SASL PLAIN, restart, bind `desktop`, session,
//! presence, Team and Queue subscriptions), a working period of pubsub
//! events (User states with reason codes, a requestId-matched state change
//! after a REST PUT, a dialog ALERTING → ACTIVE → DROPPED with call
//! variables containing `&`, Team, Queue statistics, an apiErrors), XEP-0199
//! and WebSocket pings, and logout; plus the REST PUT on its own https
//! connection.
//!
//! Takes a [`Transport`]; gives nothing but what the transport records.

use super::channel::{Channel, Transport, MS};
use super::content::{basic_auth, http_response, AGENT, PASSWORD};
use super::fixtures_tls::finesse_conv;
use super::frame::START_NS;
use super::tls::TlsEnv;
use super::xmpp::{self as x, update};
use super::Error;
use crate::Dir;

/// The requestId of the desktop's REST state change.
pub const REQUEST_ID: &str = "5d1a9e3c-7b42-4f0e-9c61-2a8b3f4d6e71";
/// The dialog id of the call.
pub const DIALOG_ID: &str = "16777301";

/// Sends pubsub notifications with deterministic ids.
#[derive(Debug)]
pub struct Notifier {
    domain: String,
    n: u32,
}

impl Notifier {
    /// Notifications from `pubsub.<domain>`.
    pub fn new(domain: &str) -> Notifier {
        Notifier {
            domain: domain.to_string(),
            n: 0,
        }
    }

    /// One notification on `node` carrying an `<Update>`.
    pub fn send(
        &mut self,
        t: &mut dyn Transport,
        node: &str,
        event: &str,
        request_id: &str,
        source: &str,
        data: &str,
    ) -> Result<(), Error> {
        self.n += 1;
        let id = format!("Ffn{:05}", self.n);
        let item = format!("9f3c{:04x}-item", self.n);
        let u = update(event, request_id, source, data);
        t.server(&x::notification(&self.domain, &id, node, &item, &u))
    }

    fn user(&mut self, t: &mut dyn Transport, rid: &str, data: &str) -> Result<(), Error> {
        let node = format!("/finesse/api/User/{AGENT}");
        self.send(t, &node, "PUT", rid, &node, data)
    }
}

/// Logs in; returns false when SASL fails (the server said `<failure>`).
pub fn login(t: &mut dyn Transport, domain: &str, password: &str) -> Result<bool, Error> {
    t.open_stream("a7c3e91f")?;
    t.server(&x::features_sasl(true))?;
    t.client(&x::auth(password))?;
    if password != PASSWORD {
        t.server(&x::failure())?;
        return Ok(false);
    }
    t.server(&x::success())?;
    t.open_stream("b8d4fa20")?;
    t.server(&x::features_bind(true))?;
    t.client(&x::bind())?;
    t.server(&x::bind_result(domain))?;
    t.client(&x::session())?;
    t.server(&x::session_result(domain))?;
    t.client(&x::presence(true))?;
    let team = "/finesse/api/Team/7/Users";
    let queue = "/finesse/api/Queue/3";
    t.client(&x::subscribe(domain, "sub_team_3", team))?;
    t.server(&x::subscribed(domain, "sub_team_3", team, "Ab3dE6gH9jK2"))?;
    t.client(&x::subscribe(domain, "sub_queue_4", queue))?;
    t.server(&x::subscribed(domain, "sub_queue_4", queue, "Mn4pQ7rS0tU3"))?;
    Ok(true)
}

/// A working period. `rest` is called when the desktop sends its REST
/// PUT (with the transport's current time); the matching Update follows.
pub fn work(
    t: &mut dyn Transport,
    domain: &str,
    rest: &mut dyn FnMut(i64) -> Result<(), Error>,
    update_lag_ms: i64,
) -> Result<(), Error> {
    let mut n = Notifier::new(domain);
    n.user(
        t,
        "",
        &x::user("NOT_READY", Some((12, "Lunch")), "2026-03-02T09:00:01.250Z"),
    )?;
    t.wait(8_000)?;
    ping(t, domain, "ping_5")?;
    rest(t.now())?;
    t.wait(update_lag_ms)?;
    n.user(
        t,
        REQUEST_ID,
        &x::user("READY", None, "2026-03-02T09:00:09.610Z"),
    )?;
    n.send(
        t,
        "/finesse/api/Team/7/Users",
        "PUT",
        "",
        "/finesse/api/Team/7",
        &x::team("READY"),
    )?;
    n.send(
        t,
        "/finesse/api/Queue/3",
        "PUT",
        "",
        "/finesse/api/Queue/3",
        &x::queue(1, 2),
    )?;
    t.wait(3_000)?;
    dialogs(t, &mut n)?;
    t.keepalive()?;
    ping(t, domain, "ping_6")?;
    t.wait(5_000)?;
    n.send(
        t,
        "/finesse/api/Queue/3",
        "PUT",
        "",
        "/finesse/api/Queue/3",
        &x::queue(0, 1),
    )?;
    Ok(())
}

fn dialogs(t: &mut dyn Transport, n: &mut Notifier) -> Result<(), Error> {
    let node = format!("/finesse/api/User/{AGENT}/Dialogs");
    let source = format!("/finesse/api/Dialog/{DIALOG_ID}");
    let alerting = format!(
        "<dialogs>{}</dialogs>",
        x::dialog("Dialog", DIALOG_ID, "ALERTING", "ALERTING")
    );
    n.send(t, &node, "POST", "", &node, &alerting)?;
    n.user(
        t,
        "",
        &x::user("RESERVED", None, "2026-03-02T09:00:12.900Z"),
    )?;
    t.wait(4_000)?;
    let active = x::dialog("dialog", DIALOG_ID, "ACTIVE", "ACTIVE");
    n.send(t, &node, "PUT", "", &source, &active)?;
    n.user(t, "", &x::user("TALKING", None, "2026-03-02T09:00:16.950Z"))?;
    t.wait(15_000)?;
    let dropped = x::dialog("dialog", DIALOG_ID, "DROPPED", "DROPPED");
    n.send(t, &node, "DELETE", "", &source, &dropped)?;
    n.send(t, &node, "PUT", "", &source, &x::api_errors())?;
    n.user(t, "", &x::user("READY", None, "2026-03-02T09:00:32.100Z"))?;
    Ok(())
}

/// An XEP-0199 ping from the desktop and the server's answer.
pub fn ping(t: &mut dyn Transport, domain: &str, id: &str) -> Result<(), Error> {
    t.client(&x::ping(domain, id))?;
    t.server(&x::pong(domain, id))
}

/// Unavailable presence and `<close/>` both ways (WebSocket framing).
pub fn ws_logout(t: &mut dyn Transport) -> Result<(), Error> {
    t.client(&x::presence(false))?;
    t.client(&x::ws_close())?;
    t.server(&x::ws_close())
}

/// The desktop's `PUT /finesse/api/User/1001` (state READY, `requestId`
/// header) on its own connection, answered `202 Accepted`; over https when
/// `env` is given, else plain HTTP on 8082.
/// A REST GET of the agent's User object over https on its own connection
/// (conversation `id`), sent with `authorization` and answered with an
/// error: `status` and `body` (an `<ApiErrors>` document, or empty).
pub fn rest_get_refused(
    id: u32,
    at_ns: i64,
    env: &TlsEnv,
    node: u8,
    authorization: &str,
    status: &str,
    body: &str,
) -> Result<Channel, Error> {
    let conv = finesse_conv(id, 51000 + id as u16, node, 8445, at_ns - START_NS);
    let host = if node == 2 {
        super::content::DOMAIN2
    } else {
        super::content::DOMAIN
    };
    let mut ch = Channel::open(conv, Some((env, host)))?;
    let req = format!(
        "GET /finesse/api/User/{AGENT} HTTP/1.1\r\nHost: {host}:8445\r\nAuthorization: {authorization}\r\n\
         Accept: application/xml\r\n\r\n"
    );
    ch.send(Dir::ClientToServer, req.as_bytes())?;
    ch.conv.advance(12 * MS);
    let content_type = if body.is_empty() {
        "text/plain"
    } else {
        "application/xml"
    };
    ch.send(
        Dir::ServerToClient,
        &http_response(status, content_type, body),
    )?;
    ch.conv.advance(5 * MS);
    ch.close()?;
    Ok(ch)
}

pub fn rest_put(id: u32, at_ns: i64, env: Option<&TlsEnv>, node: u8) -> Result<Channel, Error> {
    let port = if env.is_some() { 8445 } else { 8082 };
    let conv = finesse_conv(id, 51000 + id as u16, node, port, at_ns - START_NS);
    let host = if node == 2 {
        super::content::DOMAIN2
    } else {
        super::content::DOMAIN
    };
    let mut ch = Channel::open(conv, env.map(|e| (e, host)))?;
    let body = "<User><state>READY</state></User>";
    let req = format!(
        "PUT /finesse/api/User/{AGENT} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {}\r\n\
         Content-Type: application/xml\r\nrequestId: {REQUEST_ID}\r\nContent-Length: {}\r\n\r\n{body}",
        basic_auth(),
        body.len()
    );
    ch.send(Dir::ClientToServer, req.as_bytes())?;
    ch.conv.advance(25 * MS);
    ch.send(
        Dir::ServerToClient,
        &http_response("202 Accepted", "application/xml", ""),
    )?;
    ch.conv.advance(5 * MS);
    ch.close()?;
    Ok(ch)
}
