//! The state changes of each agent, as the Finesse User updates announced
//! them: the raw material of an agent's story (when it went READY or
//! NOT_READY, with which reason, and whether the desktop asked for it).
//!
//! Takes User updates with where they were seen and the REST request they
//! answer, if any; gives typed [`StateChange`] records per agent login id,
//! in capture order. Never renders, and never holds more than
//! [`MAX_AGENTS`] agents and [`MAX_STATE_CHANGES`] changes in all (a few
//! megabytes): past that, changes are counted, not kept.

use std::collections::BTreeMap;

use serde::Serialize;

use super::correlate::{prefix, RestMatch, MAX_REQUEST_ID_BYTES};
use super::User;
use crate::position::FrameRef;

/// Agents followed per capture; past that new agents are not recorded.
pub(crate) const MAX_AGENTS: usize = 4096;
/// State changes kept in all; past that each agent's later changes are counted only.
pub(crate) const MAX_STATE_CHANGES: usize = 65_536;

/// How an agent came to a state.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum Entered {
    /// The desktop asked with a REST call whose `requestId` the Update
    /// echoes (its first `MAX_REQUEST_ID_BYTES`, as it was matched).
    Rest {
        request_id: String,
        /// Boxed: inline it made every change, most of them entered
        /// otherwise, 64 bytes larger (`MAX_STATE_CHANGES` of them).
        request: Box<RestMatch>,
    },
    /// No REST request of the capture asked for it: the server changed the
    /// state (a forced logout, a routed call), or the request was not captured.
    ServerInitiated,
}

/// One state an agent entered, as a User update announced it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StateChange {
    /// The frame of the Update's first byte.
    pub at: FrameRef,
    /// The XMPP session that carried the Update.
    pub session: Option<u32>,
    pub state: String,
    pub reason_code: Option<String>,
    pub reason_label: Option<String>,
    pub entered: Entered,
}

/// The state changes of one agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AgentStates {
    pub changes: Vec<StateChange>,
    /// Changes seen once the capture's cap on kept changes was reached, counted only.
    pub not_kept: u64,
}

/// Every agent's state changes, by login id.
#[derive(Debug, Default)]
pub(crate) struct AgentLog {
    by_agent: BTreeMap<String, AgentStates>,
    /// Changes kept, all agents together.
    kept: usize,
    /// What [`AgentLog::held_bytes`] says, kept as records are added: the
    /// budget asks often and a recount walks every change kept.
    held: usize,
}

impl AgentLog {
    /// Records the state a User update announces, when it differs from the
    /// agent's last recorded state or reason (an Update repeating the state
    /// is not a change).
    pub(crate) fn on_user(
        &mut self,
        user: &User,
        at: FrameRef,
        session: Option<u32>,
        request_id: Option<&str>,
        rest: Option<&RestMatch>,
    ) {
        let (Some(agent), Some(state)) = (&user.login_id, &user.state) else {
            return;
        };
        let reason = user.reason_code.as_ref();
        let reason_code = reason
            .and_then(|r| r.code.clone().or_else(|| r.id.clone()))
            .or_else(|| user.reason_code_id.clone());
        let reason_label = reason.and_then(|r| r.label.clone());
        if !self.by_agent.contains_key(agent) && self.by_agent.len() >= MAX_AGENTS {
            return;
        }
        let states = match self.by_agent.entry(agent.clone()) {
            std::collections::btree_map::Entry::Occupied(known) => known.into_mut(),
            std::collections::btree_map::Entry::Vacant(new) => {
                self.held += new.key().len();
                new.insert(AgentStates::default())
            }
        };
        let last = states.changes.last();
        if last.is_some_and(|l| l.state == *state && l.reason_code == reason_code) {
            return;
        }
        if self.kept >= MAX_STATE_CHANGES {
            states.not_kept += 1;
            return;
        }
        self.kept += 1;
        let entered = match (request_id, rest) {
            (Some(id), Some(request)) => Entered::Rest {
                request_id: prefix(id, MAX_REQUEST_ID_BYTES).to_owned(),
                request: Box::new(request.clone()),
            },
            _ => Entered::ServerInitiated,
        };
        let change = StateChange {
            at,
            session,
            state: state.clone(),
            reason_code,
            reason_label,
            entered,
        };
        self.held += change.held_bytes();
        states.changes.push(change);
    }

    pub(crate) fn agents(&self) -> &BTreeMap<String, AgentStates> {
        &self.by_agent
    }

    pub(crate) fn into_agents(self) -> BTreeMap<String, AgentStates> {
        self.by_agent
    }

    /// Bytes of the records held now (strings counted by length).
    pub(crate) fn held_bytes(&self) -> usize {
        self.held
    }

    /// [`AgentLog::held_bytes`] counted over every record.
    #[cfg(test)]
    fn recount_held_bytes(&self) -> usize {
        self.by_agent
            .iter()
            .map(|(agent, states)| {
                let changes: usize = states.changes.iter().map(StateChange::held_bytes).sum();
                agent.len() + changes
            })
            .sum()
    }
}

impl StateChange {
    /// Its size and its strings' lengths.
    fn held_bytes(&self) -> usize {
        let strings = self.state.len()
            + self.reason_code.as_ref().map_or(0, String::len)
            + self.reason_label.as_ref().map_or(0, String::len);
        let entered = match &self.entered {
            Entered::Rest {
                request_id,
                request,
            } => {
                std::mem::size_of::<RestMatch>()
                    + request_id.len()
                    + request.method.len()
                    + request.path.len()
            }
            Entered::ServerInitiated => 0,
        };
        std::mem::size_of::<StateChange>() + strings + entered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finesse::ReasonCode;
    use crate::position::Timestamp;

    fn user(id: &str, state: &str, reason: &str) -> User {
        User {
            login_id: Some(id.to_owned()),
            state: Some(state.to_owned()),
            reason_code: Some(ReasonCode {
                code: Some(reason.to_owned()),
                ..ReasonCode::default()
            }),
            ..User::default()
        }
    }

    #[test]
    fn repeats_are_not_changes_and_past_the_cap_changes_are_counted() {
        let mut log = AgentLog::default();
        let at = FrameRef::new(1, Timestamp::from_secs_nanos(1, 0));
        log.on_user(&user("1001", "READY", "0"), at, Some(1), None, None);
        log.on_user(&user("1001", "READY", "0"), at, Some(1), None, None);
        log.on_user(
            &user("1001", "NOT_READY", "12"),
            at,
            Some(1),
            Some("r-1"),
            None,
        );
        let states = &log.agents()["1001"];
        assert_eq!(states.changes.len(), 2);
        // A requestId without a captured request is not proof the desktop asked.
        assert_eq!(states.changes[1].entered, Entered::ServerInitiated);
        log.kept = MAX_STATE_CHANGES;
        log.on_user(&user("1001", "READY", "0"), at, Some(1), None, None);
        let states = &log.agents()["1001"];
        assert_eq!((states.changes.len(), states.not_kept), (2, 1));
        assert!(log.held_bytes() > 2 * std::mem::size_of::<StateChange>());
    }

    /// The running count is what a walk over every record gives, after
    /// each update: new agents, repeats, REST-entered changes, the cap.
    #[test]
    fn held_bytes_kept_as_records_are_added_equal_a_recount() {
        let mut log = AgentLog::default();
        let at = FrameRef::new(1, Timestamp::from_secs_nanos(1, 0));
        let rest = RestMatch {
            frame: 3,
            stream: 2,
            method: "PUT".to_owned(),
            path: "/finesse/api/User/1001".to_owned(),
            ms_before_update: 12.5,
        };
        let mut rng = fastrand::Rng::with_seed(129);
        for step in 0..3_000 {
            if step == 2_500 {
                log.kept = MAX_STATE_CHANGES;
            }
            let agent = format!("{}", 1000 + rng.u32(0..40));
            let state = ["READY", "NOT_READY", "TALKING"][rng.usize(0..3)];
            let reason = format!("{}", rng.u32(0..3));
            let request = rng.bool().then_some(("r-9f1c", &rest));
            log.on_user(
                &user(&agent, state, &reason),
                at,
                Some(1),
                request.map(|r| r.0),
                request.map(|r| r.1),
            );
            assert_eq!(log.held_bytes(), log.recount_held_bytes(), "{step}");
        }
        assert!(log.held_bytes() > 40 * std::mem::size_of::<StateChange>());
    }

    /// Up to `MAX_STATE_CHANGES` of them are kept: the REST match, rare, is
    /// boxed so that every change does not pay for it.
    #[test]
    fn a_state_change_stays_small() {
        let size = std::mem::size_of::<StateChange>();
        assert!(size <= 144, "{size}");
    }
}
