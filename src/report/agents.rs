//! The agent's story: per agent (login id), one account across all their
//! XMPP sessions and connections: sessions, notification connections, REST
//! calls, the agent-state timeline with durations and how each state was
//! entered, dialogs with their states, and the findings that concern them.
//!
//! Takes the parts of the report model ([`Sources`]: sessions, connections,
//! desktops, findings) and the Finesse stage's [`Records`]; gives
//! [`AgentStory`] values in login-id order, plain serialisable data (the
//! `agents` array of the JSON report, NDJSON's `agent.summary`). Never
//! re-reads the capture, never measures anything a stage did not; call
//! variables only when asked for (`--raw`); never holds a credential (the
//! stages keep none: a REST call is tied to its agent by its URL or by the
//! desktop address that carried only that agent's sessions, never by its
//! `Authorization` header, which is redacted before it reaches here).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;

use crate::desktop::{Desktop, DesktopConnection};
use crate::finding::Finding;
use crate::finesse::{CallVariable, Entered, Participant, Records, RestCallRecord};
use crate::position::{FrameRef, Timestamp};
use crate::report::model::{ConnectionReport, SessionReport};

mod build;
pub mod words;

pub use build::build;

/// What the story of every agent is built from.
#[derive(Clone, Copy, Debug)]
pub struct Sources<'a> {
    pub sessions: &'a [SessionReport],
    pub connections: &'a [ConnectionReport],
    pub desktops: &'a [Desktop],
    pub findings: &'a [Finding],
    pub records: &'a Records,
    /// The capture's last packet: where the last state and dialog state end.
    pub capture_end: Option<Timestamp>,
    /// Keep the dialogs' call variables (`--raw`).
    pub raw: bool,
}

/// One agent's story.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentStory {
    /// The login id (`1001`): the JID's local part, the SASL user, the
    /// `loginId` of User updates, the `/User/<id>` of URLs.
    pub agent: String,
    /// The full JIDs its sessions bound, in order.
    pub jids: Vec<String>,
    pub sessions: Vec<AgentSession>,
    /// Its notification connections (the desktop story), in order.
    pub connections: Vec<DesktopConnection>,
    pub rest_calls: Vec<AgentRestCall>,
    /// The agent-state timeline.
    pub states: Vec<StateSpan>,
    /// State changes seen past the capture's cap, counted only.
    pub states_not_kept: u64,
    pub dialogs: Vec<DialogStory>,
    /// Findings on its sessions', notification connections' and REST calls'
    /// streams, in frame order.
    pub findings: Vec<Finding>,
}

/// One XMPP session of the agent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentSession {
    pub id: u32,
    pub streams: Vec<u64>,
    /// The Finesse node: the stream's `to`, else the server address.
    pub node: Option<String>,
    pub jid: Option<String>,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    /// How it ended, in words.
    pub ended: String,
}

/// How a REST call was tied to the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkedBy {
    /// The URL names the agent (`/finesse/api/User/1001`).
    Url,
    /// It came from the desktop address that carried this agent's sessions,
    /// and no other agent's.
    ClientAddress,
}

/// One REST call of the agent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentRestCall {
    #[serde(flatten)]
    pub call: RestCallRecord,
    pub linked_by: LinkedBy,
}

/// One state of the agent, with how long it lasted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StateSpan {
    pub at: FrameRef,
    /// The XMPP session that carried the Update.
    pub session: Option<u32>,
    pub state: String,
    pub reason_code: Option<String>,
    pub reason_label: Option<String>,
    /// To the next state, or to the end of the capture for the last one.
    pub duration_s: Option<f64>,
    /// The duration runs to the end of the capture (the state outlived it).
    pub until_capture_end: bool,
    pub entered: Entered,
}

/// One state of a dialog, with how long it lasted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DialogStateSpan {
    pub at: FrameRef,
    pub state: String,
    pub duration_s: Option<f64>,
    pub until_capture_end: bool,
}

/// One dialog of the agent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DialogStory {
    pub id: String,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    pub media_type: Option<String>,
    pub states: Vec<DialogStateSpan>,
    pub states_not_kept: u64,
    pub participants: Vec<Participant>,
    /// Only with `--raw`; left out of JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_variables: Option<Vec<CallVariable>>,
}

/// The agent a session belongs to: the bound JID's local part, or the SASL
/// user when no JID was bound.
pub fn session_agent(s: &SessionReport) -> Option<&str> {
    fn local(jid: &str) -> Option<&str> {
        jid.split('@').next().filter(|l| !l.is_empty())
    }
    s.xmpp
        .jid
        .as_deref()
        .and_then(local)
        .or_else(|| s.xmpp.sasl.as_ref()?.user.as_deref().and_then(local))
}

/// Desktop addresses and the agents whose sessions they carried.
fn agents_by_address(sessions: &[SessionReport]) -> BTreeMap<IpAddr, BTreeSet<&str>> {
    let mut by_address: BTreeMap<IpAddr, BTreeSet<&str>> = BTreeMap::new();
    for s in sessions {
        if let (Some(client), Some(agent)) = (s.client, session_agent(s)) {
            by_address.entry(client.ip()).or_default().insert(agent);
        }
    }
    by_address
}

#[cfg(test)]
#[path = "agents/tests.rs"]
mod tests;
