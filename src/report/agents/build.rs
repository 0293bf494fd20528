//! Building [`AgentStory`] values from [`Sources`]: who the agents are,
//! which sessions, connections, REST calls and findings are theirs, and how
//! long each state and dialog state lasted.
//!
//! Takes the report model's parts; gives the stories in login-id order.
//! Never guesses an owner when two agents share a desktop address.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    agents_by_address, session_agent, AgentRestCall, AgentSession, AgentStory, DialogStateSpan,
    DialogStory, LinkedBy, Sources, StateSpan,
};
use crate::finesse::{AgentStates, DialogRecord};
use crate::position::{FrameRef, Timestamp};
use crate::report::model::SessionReport;

/// Every agent's story, in login-id order.
pub fn build(src: &Sources<'_>) -> Vec<AgentStory> {
    let mut names: BTreeSet<&str> = src.records.agents.keys().map(String::as_str).collect();
    names.extend(src.sessions.iter().filter_map(session_agent));
    names.extend(
        src.records
            .dialogs
            .iter()
            .filter_map(|d| d.agent.as_deref()),
    );
    names.extend(
        src.records
            .rest_calls
            .iter()
            .filter_map(|c| c.agent.as_deref()),
    );
    let by_address = agents_by_address(src.sessions);
    // Each session's agent read once, not once per agent (400 agents over
    // 10,000 sessions read 4,000,000 JIDs).
    let mut sessions_of: BTreeMap<&str, Vec<&SessionReport>> = BTreeMap::new();
    for session in src.sessions {
        if let Some(agent) = session_agent(session) {
            sessions_of.entry(agent).or_default().push(session);
        }
    }
    names
        .into_iter()
        .map(|agent| {
            let sessions = sessions_of.get(agent).map_or(&[][..], Vec::as_slice);
            story(src, agent, sessions, &by_address)
        })
        .collect()
}

/// The story of `agent`, whose sessions are `sessions` (in capture order).
fn story(
    src: &Sources<'_>,
    agent: &str,
    sessions: &[&SessionReport],
    by_address: &BTreeMap<std::net::IpAddr, BTreeSet<&str>>,
) -> AgentStory {
    let sessions: Vec<AgentSession> = sessions.iter().map(|s| agent_session(s)).collect();
    let mut jids: Vec<String> = Vec::new();
    for jid in sessions.iter().filter_map(|s| s.jid.clone()) {
        if !jids.contains(&jid) {
            jids.push(jid);
        }
    }
    let connections: Vec<_> = src
        .desktops
        .iter()
        .flat_map(|d| {
            let only_theirs = d.users.len() == 1 && d.users.iter().any(|u| u == agent);
            d.connections
                .iter()
                .filter(move |c| match c.user.as_deref() {
                    Some(u) => u == agent,
                    None => only_theirs,
                })
        })
        .cloned()
        .collect();
    let rest_calls = rest_calls(src, agent, by_address);
    let mut streams: BTreeSet<u64> = sessions.iter().flat_map(|s| s.streams.clone()).collect();
    streams.extend(connections.iter().map(|c| c.stream));
    streams.extend(rest_calls.iter().map(|c| c.call.stream));
    let findings = src
        .findings
        .iter()
        .filter(|f| f.stream.is_some_and(|s| streams.contains(&s)))
        .cloned()
        .collect();
    let no_states = AgentStates::default();
    let states = src.records.agents.get(agent).unwrap_or(&no_states);
    let session_ids: BTreeSet<u32> = sessions.iter().map(|s| s.id).collect();
    AgentStory {
        agent: agent.to_owned(),
        jids,
        sessions,
        connections,
        rest_calls,
        states: state_spans(states, src.capture_end),
        states_not_kept: states.not_kept,
        dialogs: src
            .records
            .dialogs
            .iter()
            .filter(|d| match d.agent.as_deref() {
                Some(a) => a == agent,
                None => d.session.is_some_and(|s| session_ids.contains(&s)),
            })
            .map(|d| dialog_story(d, src.capture_end, src.raw))
            .collect(),
        findings,
    }
}

fn agent_session(s: &SessionReport) -> AgentSession {
    AgentSession {
        id: s.id,
        streams: s.streams.clone(),
        node: s
            .xmpp
            .to
            .clone()
            .or_else(|| s.server.map(|a| a.to_string())),
        jid: s.xmpp.jid.clone(),
        start: s.start,
        end: s.end,
        ended: s.ended.clone(),
    }
}

/// The agent's REST calls: those whose URL names them, and those without a
/// named agent from a desktop address that carried only their sessions.
fn rest_calls(
    src: &Sources<'_>,
    agent: &str,
    by_address: &BTreeMap<std::net::IpAddr, BTreeSet<&str>>,
) -> Vec<AgentRestCall> {
    let client_of = |stream: u64| {
        src.connections
            .iter()
            .find(|c| c.stream == stream)
            .map(|c| c.client.ip())
    };
    src.records
        .rest_calls
        .iter()
        .filter_map(|call| {
            let linked_by = match call.agent.as_deref() {
                Some(a) if a == agent => LinkedBy::Url,
                Some(_) => return None,
                None => {
                    let owners = by_address.get(&client_of(call.stream)?)?;
                    let only = owners.len() == 1 && owners.contains(agent);
                    only.then_some(LinkedBy::ClientAddress)?
                }
            };
            Some(AgentRestCall {
                call: call.clone(),
                linked_by,
            })
        })
        .collect()
}

/// Seconds from `from` to the next start or to the end of the capture.
fn span(from: FrameRef, next: Option<FrameRef>, end: Option<Timestamp>) -> (Option<f64>, bool) {
    match (next, end) {
        (Some(n), _) => (Some(n.ts.nanos_since(from.ts) as f64 / 1e9), false),
        (None, Some(end)) => (Some(end.nanos_since(from.ts).max(0) as f64 / 1e9), true),
        (None, None) => (None, true),
    }
}

fn state_spans(states: &AgentStates, end: Option<Timestamp>) -> Vec<StateSpan> {
    let changes = &states.changes;
    changes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let next = changes.get(i + 1).map(|n| n.at);
            let (duration_s, until_capture_end) = span(c.at, next, end);
            StateSpan {
                at: c.at,
                session: c.session,
                state: c.state.clone(),
                reason_code: c.reason_code.clone(),
                reason_label: c.reason_label.clone(),
                duration_s,
                until_capture_end,
                entered: c.entered.clone(),
            }
        })
        .collect()
}

fn dialog_story(d: &DialogRecord, end: Option<Timestamp>, raw: bool) -> DialogStory {
    let states = d
        .states
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let next = d.states.get(i + 1).map(|n| n.at);
            // A dropped call is over: its last state lasts no longer.
            let last_is_final = next.is_none() && is_final(&s.state);
            let (duration_s, until_capture_end) = if last_is_final {
                (None, false)
            } else {
                span(s.at, next, end)
            };
            DialogStateSpan {
                at: s.at,
                state: s.state.clone(),
                duration_s,
                until_capture_end,
            }
        })
        .collect();
    DialogStory {
        id: d.id.clone(),
        from_address: d.from_address.clone(),
        to_address: d.to_address.clone(),
        media_type: d.media_type.clone(),
        states,
        states_not_kept: d.states_not_kept,
        participants: d.participants.clone(),
        call_variables: raw.then(|| d.call_variables.clone()),
    }
}

/// The states after which a dialog is over.
fn is_final(state: &str) -> bool {
    matches!(state, "DROPPED" | "FAILED" | "WRAP_UP_DONE")
}

#[cfg(test)]
pub(super) fn state_spans_for_test(states: &AgentStates, end: Option<Timestamp>) -> Vec<StateSpan> {
    state_spans(states, end)
}
