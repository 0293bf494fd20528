//! The Finesse stage: what the XMPP stanzas and REST calls of a capture say
//! about Finesse, across every connection.
//!
//! Takes, in capture order, the XMPP stanzas of every session with the
//! pubsub items they carried ([`Stage::on_stanza`], [`Stage::on_pubsub_items`])
//! and the REST exchanges of every HTTP connection ([`Stage::on_rest_exchange`]),
//! each located by the wiring. Gives, into a [`Sink`], the typed [`Update`]
//! of each `<notification>` with the REST request it answers (matched by
//! `requestId`) and the findings: the update's own (failover, forced
//! logout, API errors), `finesse.malformed_notification`,
//! `finesse.slow_update`, `xmpp.finesse_unavailable` (a presence from
//! `finesse@…`), `http.rest_error` and `finesse.request_id_cut` (said once
//! per capture). Keeps per XMPP session the update
//! count and last agent state, and per agent the state changes it saw
//! ([`StateChange`]). Never renders and never holds payload bytes beyond
//! one call; every record kept is capped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::agents::{AgentLog, AgentStates};
use super::calls::{CallLog, RestCallRecord};
use super::correlate::{RestLog, RestMatch, MAX_REQUEST_ID_BYTES};
use super::dialogs::{DialogLog, DialogRecord};
use super::{parse_notification_in, rest_failure, Payload, RestCall, Update};
use crate::finding::{Finding, Findings};
use crate::finesse::FindingCode;
use crate::limits::Limits;
use crate::position::{Dir, FrameRef};
use crate::xmpp;

/// From a REST request to the Update that echoes its `requestId`, beyond
/// which the desktop has shown the old state for too long (a Cisco TAC case
/// shows 14.7 s). Finesse answers `202` at once and does the work
/// asynchronously; a healthy server sends the Update well under a second later.
const SLOW_UPDATE_MS: f64 = 5_000.0;

/// Where an XMPP stanza was seen, as the wiring locates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StanzaAt {
    /// The XMPP session that carried it (its report number).
    pub session: Option<u32>,
    /// The connection that carried it.
    pub stream: u64,
    /// The connection the session is filed under (for BOSH, its first one):
    /// where the findings a notification carries are located.
    pub session_stream: u64,
    pub dir: Dir,
    pub first: FrameRef,
    pub last: FrameRef,
}

/// Each `<notification>` among a stanza's pubsub items read as an Update
/// (with its node and item id), or the finding saying why it could not be:
/// the pure part of [`Stage::on_pubsub_items`].
pub fn read_notifications(
    items: &[xmpp::PubsubItem<'_>],
    limits: &Limits,
) -> Vec<Result<Update, Finding>> {
    let notifications = items.iter().filter(|i| i.name == "notification");
    let mut scratch = NOTIFICATION_SCRATCH.take();
    let read = notifications
        .map(
            |item| match parse_notification_in(item.text, limits, &mut scratch) {
                Ok(mut update) => {
                    update.node = Some(item.node.clone().into_owned()).filter(|n| !n.is_empty());
                    update.item_id = item.item_id.as_deref().map(str::to_owned);
                    Ok(update)
                }
                Err(e) => Err(Finding::new(
                    FindingCode::MalformedNotification,
                    format!("notification on {} could not be read: {e}", item.node),
                )),
            },
        )
        .collect();
    NOTIFICATION_SCRATCH.set(scratch);
    read
}

thread_local! {
    /// The node list and stack the last notification on this thread was
    /// built in: kept per thread (a worker's, with `-j N`) so that reading
    /// thousands of notifications allocates them once.
    static NOTIFICATION_SCRATCH: std::cell::Cell<super::tree::Scratch> =
        std::cell::Cell::new(super::tree::Scratch::default());
}

/// The request of one REST exchange.
#[derive(Clone, Copy, Debug)]
pub struct RestRequest<'a> {
    /// The frame of its first byte.
    pub at: FrameRef,
    pub method: &'a str,
    pub path: &'a str,
    /// Its `requestId` header.
    pub request_id: Option<&'a str>,
}

/// The response of one REST exchange.
#[derive(Clone, Copy, Debug)]
pub struct RestResponse<'a> {
    /// The frame of its first byte.
    pub at: FrameRef,
    pub status: u16,
    pub reason: &'a str,
    /// The body's text, when the HTTP stage kept it.
    pub body: Option<&'a str>,
}

/// One complete HTTP exchange, from a TCP connection or a HAR entry.
#[derive(Clone, Copy, Debug)]
pub struct RestExchange<'a> {
    /// The connection that carried it.
    pub stream: u64,
    pub request: Option<RestRequest<'a>>,
    pub response: Option<RestResponse<'a>>,
}

/// Where the Finesse stage's output goes. `Findings` receives the findings.
pub trait Sink: Findings {
    /// The Update of one notification carried by the stanza at `at`, and the
    /// REST request whose `requestId` it echoes.
    fn on_update(&mut self, at: &StanzaAt, update: Update, rest: Option<RestMatch>);
}

/// What the Finesse stage knows of one XMPP session.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SessionFacts {
    /// Notifications read as Finesse Updates.
    pub updates: u64,
    /// The last agent state a User update announced, e.g. `1001 NOT_READY`.
    pub last_agent_state: Option<String>,
}

/// The Finesse stage of one capture.
#[derive(Debug)]
pub struct Stage {
    limits: Limits,
    /// Read the Finesse documents inside notifications (off for the commands
    /// that never show them; presence and REST are still followed).
    read_notifications: bool,
    rest: RestLog,
    /// A `requestId` was cut to its start (said once per capture).
    id_cut_said: bool,
    sessions: BTreeMap<u32, SessionFacts>,
    agents: AgentLog,
    dialogs: DialogLog,
    calls: CallLog,
}

/// What the Finesse stage kept of a capture for the agents' stories, each
/// part bounded by its own caps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Records {
    /// Each agent's state changes, by login id.
    pub agents: BTreeMap<String, AgentStates>,
    /// Dialogs in order of first appearance.
    pub dialogs: Vec<DialogRecord>,
    /// Dialogs seen past the cap, counted only.
    pub dialogs_not_kept: u64,
    /// Finesse REST calls in capture order.
    pub rest_calls: Vec<RestCallRecord>,
    /// REST calls seen past the cap, counted only.
    pub rest_calls_not_kept: u64,
}

impl Stage {
    pub fn new(limits: &Limits, read_notifications: bool) -> Stage {
        Stage {
            limits: limits.clone(),
            read_notifications,
            rest: RestLog::default(),
            id_cut_said: false,
            sessions: BTreeMap::new(),
            agents: AgentLog::default(),
            dialogs: DialogLog::default(),
            calls: CallLog::default(),
        }
    }

    /// One XMPP stanza: a presence from `finesse@…` going unavailable is the
    /// Finesse service on that node going down.
    pub fn on_stanza(&mut self, at: &StanzaAt, stanza: &xmpp::Stanza<'_>, sink: &mut impl Sink) {
        let finesse_gone = stanza.dir == Dir::ServerToClient
            && stanza.name == "presence"
            && stanza.kind.as_deref() == Some("unavailable")
            && stanza
                .from
                .as_deref()
                .is_some_and(|f| f.starts_with("finesse@"));
        if finesse_gone {
            let from = stanza.from.as_deref().unwrap_or_default();
            let f = Finding::new(
                crate::xmpp::FindingCode::FinesseUnavailable,
                format!("{from} went unavailable: the Finesse service on this node is down (failover signal)"),
            );
            sink.push_finding(f.at(at.first).in_stream(at.session_stream, Some(at.dir)));
        }
    }

    /// The pubsub items one stanza carried: each `<notification>` is read as
    /// an Update, given with the REST request it answers; then the findings
    /// the Updates carry.
    pub fn on_pubsub_items(
        &mut self,
        at: &StanzaAt,
        items: &[xmpp::PubsubItem<'_>],
        sink: &mut impl Sink,
    ) {
        if !self.read_notifications {
            return;
        }
        let read = read_notifications(items, &self.limits);
        self.on_read_notifications(at, read, sink);
    }

    /// [`Stage::on_pubsub_items`] after [`read_notifications`] (which
    /// `-j N` runs on a worker thread: it is pure).
    pub fn on_read_notifications(
        &mut self,
        at: &StanzaAt,
        read: Vec<Result<Update, Finding>>,
        sink: &mut impl Sink,
    ) {
        let mut findings = Vec::new();
        for item in read {
            match item {
                Ok(update) => {
                    findings.extend(update.findings());
                    self.on_update(at, update, sink);
                }
                Err(f) => findings.push(f),
            }
        }
        for f in findings {
            sink.push_finding(f.at(at.first).in_stream(at.session_stream, Some(at.dir)));
        }
    }

    /// One Update: counted for its session, matched to its REST request,
    /// recorded as an agent's state change, then given with a
    /// `finesse.slow_update` finding when it came late.
    fn on_update(&mut self, at: &StanzaAt, update: Update, sink: &mut impl Sink) {
        let rest = self.rest.find(update.request_id.as_deref(), at.first);
        if let Payload::User(user) = &update.payload {
            if let Some(session) = at.session {
                let facts = self.sessions.entry(session).or_default();
                if let (Some(id), Some(state)) = (&user.login_id, &user.state) {
                    // Written over the previous one: agents change state often.
                    let last = facts.last_agent_state.get_or_insert_default();
                    last.clear();
                    let _ = write!(last, "{id} {state}");
                }
            }
            let request_id = update.request_id.as_deref();
            self.agents
                .on_user(user, at.first, at.session, request_id, rest.as_ref());
        }
        self.on_dialogs(at, &update, sink);
        if let Some(session) = at.session {
            self.sessions.entry(session).or_default().updates += 1;
        }
        let slow = rest
            .as_ref()
            .filter(|r| r.ms_before_update > SLOW_UPDATE_MS)
            .map(|r| slow_update(r, update.request_id.as_deref().unwrap_or_default()));
        sink.on_update(at, update, rest);
        if let Some(f) = slow {
            sink.push_finding(f.at(at.first).in_stream(at.stream, Some(at.dir)));
        }
    }

    /// The dialogs an Update announces, recorded for the agents' stories.
    fn on_dialogs(&mut self, at: &StanzaAt, update: &Update, sink: &mut impl Sink) {
        let dialogs = match &update.payload {
            Payload::Dialog(d) => std::slice::from_ref(d),
            Payload::Dialogs { dialogs } => dialogs.as_slice(),
            _ => return,
        };
        let node = update.node.as_deref();
        for d in dialogs {
            if let Some(f) = self.dialogs.on_dialog(d, node, at.first, at.session) {
                sink.push_finding(f.at(at.first).in_stream(at.session_stream, Some(at.dir)));
            }
        }
    }

    /// One complete REST exchange: its `requestId` is remembered for the
    /// Update that will echo it, and a failed `/finesse/` call is a finding.
    pub fn on_rest_exchange(&mut self, exchange: &RestExchange<'_>, sink: &mut impl Findings) {
        self.calls.on_exchange(exchange);
        if let Some(q) = &exchange.request {
            if let Some(id) = q.request_id {
                let cut = self
                    .rest
                    .remember(id, q.at, exchange.stream, q.method, q.path);
                if let Some(len) = cut.id_len.filter(|_| !self.id_cut_said) {
                    self.id_cut_said = true;
                    let f = request_id_cut(len)
                        .at(q.at)
                        .in_stream(exchange.stream, Some(Dir::ClientToServer));
                    sink.push_finding(f);
                }
            }
        }
        let (Some(q), Some(r)) = (&exchange.request, &exchange.response) else {
            return;
        };
        let call = RestCall {
            method: q.method,
            path: q.path,
            status: r.status,
            reason: r.reason,
            body: r.body,
        };
        if let Some(f) = rest_failure(&call, &self.limits) {
            let dir = Some(Dir::ServerToClient);
            sink.push_finding(f.at(r.at).in_stream(exchange.stream, dir));
        }
    }

    /// What the stage knows of XMPP session `session`, forgotten from here
    /// (the wiring asks once, when it files the session).
    pub fn take_session_facts(&mut self, session: u32) -> SessionFacts {
        self.sessions.remove(&session).unwrap_or_default()
    }

    /// Each agent's state changes, by login id.
    pub fn agents(&self) -> &BTreeMap<String, AgentStates> {
        self.agents.agents()
    }

    /// What the stage kept for the agents' stories, forgotten from here
    /// (the wiring asks once, at the end of the capture).
    pub fn take_records(&mut self) -> Records {
        let dialogs = std::mem::take(&mut self.dialogs);
        let calls = std::mem::take(&mut self.calls);
        Records {
            agents: std::mem::take(&mut self.agents).into_agents(),
            dialogs_not_kept: dialogs.not_kept(),
            dialogs: dialogs.into_dialogs(),
            rest_calls_not_kept: calls.not_kept(),
            rest_calls: calls.into_calls(),
        }
    }

    /// Bytes of REST requests, session facts and agent records held now.
    pub fn held_bytes(&self) -> usize {
        let sessions: usize = self
            .sessions
            .values()
            .map(|f| {
                std::mem::size_of::<SessionFacts>()
                    + f.last_agent_state.as_ref().map_or(0, String::len)
            })
            .sum();
        self.rest.held_bytes()
            + sessions
            + self.agents.held_bytes()
            + self.dialogs.held_bytes()
            + self.calls.held_bytes()
    }
}

fn request_id_cut(len: usize) -> Finding {
    Finding::new(
        FindingCode::RequestIdCut,
        format!(
            "a REST requestId of {len} bytes (a Finesse desktop sends 36) is kept as its first {MAX_REQUEST_ID_BYTES} bytes: Updates are matched to it on that start (said once per capture)"
        ),
    )
}

fn slow_update(rest: &RestMatch, request_id: &str) -> Finding {
    Finding::new(
        FindingCode::SlowUpdate,
        format!(
            "the Update for {} {} (frame {}, requestId {request_id}) came {} after the request: the desktop showed the old state until then",
            rest.method,
            rest.path,
            rest.frame,
            crate::words::duration_nanos((rest.ms_before_update * 1e6) as i64)
        ),
    )
}

#[cfg(test)]
#[path = "stage_tests.rs"]
mod tests;
