//! The dialogs (calls) of a capture as the Finesse Dialog updates announced
//! them: the states each went through (ALERTING → ACTIVE → DROPPED), its
//! participants and call variables, and the agent whose feed carried it.
//!
//! Takes Dialog updates with where they were seen and the pubsub node they
//! came on; gives typed [`DialogRecord`]s in order of first appearance.
//! Never renders and never holds more than [`MAX_DIALOGS`] dialogs,
//! [`MAX_DIALOG_STATES`] states, [`MAX_PARTICIPANTS`] participants and
//! [`MAX_CALL_VARIABLES`] call variables of [`MAX_VALUE_BYTES`] each per
//! dialog: past that, dialogs and states are counted, not kept, and the
//! first dialog not kept says so once (`finesse.dialogs_cut`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::correlate::prefix;
use super::{CallVariable, Dialog, FindingCode, Participant};
use crate::finding::Finding;
use crate::position::FrameRef;

/// Dialogs followed per capture; past that new dialogs are counted only.
pub(crate) const MAX_DIALOGS: usize = 4096;
/// States kept per dialog (a call rarely has more than ten).
pub(crate) const MAX_DIALOG_STATES: usize = 64;
/// Participants kept per dialog (a conference has a handful).
pub(crate) const MAX_PARTICIPANTS: usize = 16;
/// Call variables kept per dialog (Finesse has 10 plus ECC variables).
pub(crate) const MAX_CALL_VARIABLES: usize = 64;
/// Bytes kept of a field (id, address, variable name or value).
pub(crate) const MAX_VALUE_BYTES: usize = 256;

/// One state a dialog entered.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DialogState {
    /// The frame of the Update's first byte.
    pub at: FrameRef,
    pub state: String,
}

/// One dialog, as its Updates announced it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DialogRecord {
    pub id: String,
    /// The agent whose Dialogs feed carried it (`/finesse/api/User/<id>/Dialogs`).
    pub agent: Option<String>,
    /// The XMPP session of its first Update.
    pub session: Option<u32>,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    pub media_type: Option<String>,
    /// Its states in capture order; a repeated state is not a new one.
    pub states: Vec<DialogState>,
    /// States seen past [`MAX_DIALOG_STATES`], counted only.
    pub states_not_kept: u64,
    /// The participants as the last Update listed them.
    pub participants: Vec<Participant>,
    /// The call variables as the last Update carried them.
    pub call_variables: Vec<CallVariable>,
}

/// Every dialog of a capture, in order of first appearance.
#[derive(Debug, Default)]
pub(crate) struct DialogLog {
    dialogs: Vec<DialogRecord>,
    by_id: BTreeMap<String, usize>,
    /// Dialogs seen once [`MAX_DIALOGS`] were kept.
    not_kept: u64,
    /// What [`DialogLog::held_bytes`] says, kept as dialogs change: the
    /// budget asks often and a recount walks every dialog kept.
    held: usize,
}

/// The agent a pubsub node belongs to: `/finesse/api/User/1001/Dialogs` → `1001`.
pub(crate) fn agent_of_path(path: &str) -> Option<&str> {
    let rest = path.split("/User/").nth(1)?;
    let id = rest.split(['/', '?', '#']).next()?;
    (!id.is_empty()).then_some(id)
}

fn cut(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(|v| prefix(v, MAX_VALUE_BYTES).to_owned())
}

impl DialogLog {
    /// Records the state `dialog` announces; gives `finesse.dialogs_cut`
    /// (unlocated) for the first dialog past the cap.
    pub(crate) fn on_dialog(
        &mut self,
        dialog: &Dialog,
        node: Option<&str>,
        at: FrameRef,
        session: Option<u32>,
    ) -> Option<Finding> {
        let id = prefix(dialog.id.as_deref()?, MAX_VALUE_BYTES);
        let index = match self.by_id.get(id) {
            Some(&i) => i,
            None if self.dialogs.len() >= MAX_DIALOGS => {
                self.not_kept += 1;
                return (self.not_kept == 1).then(|| dialogs_cut(id));
            }
            None => {
                self.dialogs.push(DialogRecord {
                    id: id.to_owned(),
                    agent: node
                        .and_then(agent_of_path)
                        .map(|a| prefix(a, MAX_VALUE_BYTES).to_owned()),
                    session,
                    from_address: None,
                    to_address: None,
                    media_type: None,
                    states: Vec::new(),
                    states_not_kept: 0,
                    participants: Vec::new(),
                    call_variables: Vec::new(),
                });
                self.by_id.insert(id.to_owned(), self.dialogs.len() - 1);
                self.held += id.len();
                self.held += self.dialogs.last().map_or(0, DialogRecord::held_bytes);
                self.dialogs.len() - 1
            }
        };
        let record = self.dialogs.get_mut(index)?;
        let before = record.held_bytes();
        record.update(dialog, at);
        self.held = self.held.saturating_sub(before) + record.held_bytes();
        None
    }

    #[cfg(test)]
    pub(crate) fn dialogs(&self) -> &[DialogRecord] {
        &self.dialogs
    }

    pub(crate) fn into_dialogs(self) -> Vec<DialogRecord> {
        self.dialogs
    }

    pub(crate) fn not_kept(&self) -> u64 {
        self.not_kept
    }

    /// Bytes of the records held now (strings counted by length).
    pub(crate) fn held_bytes(&self) -> usize {
        self.held
    }

    /// [`DialogLog::held_bytes`] counted over every record.
    #[cfg(test)]
    fn recount_held_bytes(&self) -> usize {
        self.dialogs
            .iter()
            .map(DialogRecord::held_bytes)
            .sum::<usize>()
            + self.by_id.keys().map(String::len).sum::<usize>()
    }
}

impl DialogRecord {
    fn update(&mut self, dialog: &Dialog, at: FrameRef) {
        for (mine, theirs) in [
            (&mut self.from_address, &dialog.from_address),
            (&mut self.to_address, &dialog.to_address),
            (&mut self.media_type, &dialog.media_type),
        ] {
            if theirs.is_some() {
                *mine = cut(theirs);
            }
        }
        if let Some(state) = &dialog.state {
            let repeated = self.states.last().is_some_and(|s| s.state == *state);
            if !repeated && self.states.len() < MAX_DIALOG_STATES {
                let state = prefix(state, MAX_VALUE_BYTES).to_owned();
                self.states.push(DialogState { at, state });
            } else if !repeated {
                self.states_not_kept += 1;
            }
        }
        if !dialog.participants.is_empty() {
            self.participants = dialog
                .participants
                .iter()
                .take(MAX_PARTICIPANTS)
                .map(|p| Participant {
                    media_address: cut(&p.media_address),
                    state: cut(&p.state),
                    state_cause: cut(&p.state_cause),
                    actions: p
                        .actions
                        .iter()
                        .take(MAX_PARTICIPANTS)
                        .map(|a| prefix(a, MAX_VALUE_BYTES).to_owned())
                        .collect(),
                })
                .collect();
        }
        if let Some(media) = dialog.media_properties.as_ref() {
            if !media.call_variables.is_empty() {
                self.call_variables = media
                    .call_variables
                    .iter()
                    .take(MAX_CALL_VARIABLES)
                    .map(|v| CallVariable {
                        name: prefix(&v.name, MAX_VALUE_BYTES).to_owned(),
                        value: prefix(&v.value, MAX_VALUE_BYTES).to_owned(),
                    })
                    .collect();
            }
        }
    }

    fn held_bytes(&self) -> usize {
        let opt = |v: &Option<String>| v.as_ref().map_or(0, String::len);
        let states: usize = self
            .states
            .iter()
            .map(|s| s.state.len() + std::mem::size_of::<DialogState>())
            .sum();
        let participants: usize = self
            .participants
            .iter()
            .map(|p| {
                opt(&p.media_address)
                    + opt(&p.state)
                    + opt(&p.state_cause)
                    + p.actions.iter().map(String::len).sum::<usize>()
                    + std::mem::size_of::<Participant>()
            })
            .sum();
        let variables: usize = self
            .call_variables
            .iter()
            .map(|v| v.name.len() + v.value.len() + std::mem::size_of::<CallVariable>())
            .sum();
        std::mem::size_of::<DialogRecord>()
            + self.id.len()
            + opt(&self.agent)
            + opt(&self.from_address)
            + opt(&self.to_address)
            + opt(&self.media_type)
            + states
            + participants
            + variables
    }
}

fn dialogs_cut(id: &str) -> Finding {
    Finding::new(
        FindingCode::DialogsCut,
        format!(
            "dialog {id} and the later new dialogs are counted, not kept: the capture's first {MAX_DIALOGS} dialogs are kept for the agents' stories (said once per capture)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::Timestamp;

    fn dialog(id: &str, state: &str) -> Dialog {
        Dialog {
            id: Some(id.to_owned()),
            state: Some(state.to_owned()),
            from_address: Some("6125551234".to_owned()),
            to_address: Some("4001".to_owned()),
            participants: vec![Participant {
                media_address: Some("4001".to_owned()),
                state: Some(state.to_owned()),
                ..Participant::default()
            }],
            ..Dialog::default()
        }
    }

    fn at(frame: u64) -> FrameRef {
        FrameRef::new(frame, Timestamp::from_secs_nanos(frame as i64, 0))
    }

    #[test]
    fn a_call_goes_through_its_states_once_each_on_its_agents_feed() {
        let mut log = DialogLog::default();
        let node = Some("/finesse/api/User/1001/Dialogs");
        for (frame, state) in [
            (1, "ALERTING"),
            (2, "ALERTING"),
            (3, "ACTIVE"),
            (4, "DROPPED"),
        ] {
            assert!(log
                .on_dialog(&dialog("d1", state), node, at(frame), Some(2))
                .is_none());
        }
        let [d] = log.dialogs() else {
            panic!("one dialog expected, got {:?}", log.dialogs());
        };
        let states: Vec<(&str, u64)> = d
            .states
            .iter()
            .map(|s| (s.state.as_str(), s.at.frame))
            .collect();
        assert_eq!(states, [("ALERTING", 1), ("ACTIVE", 3), ("DROPPED", 4)]);
        assert_eq!((d.agent.as_deref(), d.session), (Some("1001"), Some(2)));
        assert_eq!(d.participants[0].state.as_deref(), Some("DROPPED"));
        assert!(log.held_bytes() > std::mem::size_of::<DialogRecord>());
        assert_eq!(log.held_bytes(), log.recount_held_bytes());
    }

    /// The running count is what a walk over every dialog gives, after
    /// each update: new dialogs, new states, participants and call
    /// variables replaced by longer or shorter lists.
    #[test]
    fn held_bytes_kept_as_dialogs_change_equal_a_recount() {
        let mut log = DialogLog::default();
        let mut rng = fastrand::Rng::with_seed(4001);
        for frame in 0..2_000 {
            let id = format!("d{}", rng.u32(0..30));
            let state = ["ALERTING", "ACTIVE", "HELD", "DROPPED"][rng.usize(0..4)];
            let mut update = dialog(&id, state);
            update.participants = (0..rng.usize(0..4))
                .map(|i| Participant {
                    media_address: Some(format!("40{i}")),
                    actions: vec!["HOLD".to_owned(); rng.usize(0..3)],
                    ..Participant::default()
                })
                .collect();
            if rng.bool() {
                update.media_properties = Some(crate::finesse::MediaProperties {
                    call_variables: (0..rng.usize(0..5))
                        .map(|i| CallVariable {
                            name: format!("callVariable{i}"),
                            value: "x".repeat(rng.usize(0..300)),
                        })
                        .collect(),
                    ..Default::default()
                });
            }
            let node = rng.bool().then_some("/finesse/api/User/1001/Dialogs");
            log.on_dialog(&update, node, at(frame), Some(1));
            assert_eq!(log.held_bytes(), log.recount_held_bytes(), "{frame}");
        }
    }

    #[test]
    fn past_the_caps_dialogs_and_states_are_counted_and_said_once() {
        let mut log = DialogLog::default();
        for i in 0..MAX_DIALOGS {
            assert!(log
                .on_dialog(&dialog(&i.to_string(), "ALERTING"), None, at(1), None)
                .is_none());
        }
        let first = log.on_dialog(&dialog("late", "ALERTING"), None, at(2), None);
        assert_eq!(
            first.map(|f| f.code.to_string()).as_deref(),
            Some("finesse.dialogs_cut")
        );
        assert!(log
            .on_dialog(&dialog("later", "ALERTING"), None, at(3), None)
            .is_none());
        assert_eq!((log.dialogs().len(), log.not_kept()), (MAX_DIALOGS, 2));
        let mut log = DialogLog::default();
        for i in 0..=MAX_DIALOG_STATES {
            let state = if i % 2 == 0 { "HELD" } else { "ACTIVE" };
            log.on_dialog(&dialog("d", state), None, at(i as u64), None);
        }
        let d = &log.dialogs()[0];
        assert_eq!((d.states.len(), d.states_not_kept), (MAX_DIALOG_STATES, 1));
    }

    #[test]
    fn long_fields_are_cut_and_a_dialog_without_id_is_not_kept() {
        let mut log = DialogLog::default();
        let mut long = dialog(&"9".repeat(10_000), "ALERTING");
        long.call_variables_for_test("v", &"x".repeat(10_000), 1000);
        log.on_dialog(&long, Some("/finesse/api/User/"), at(1), None);
        let d = &log.dialogs()[0];
        assert_eq!((d.id.len(), d.agent.as_deref()), (MAX_VALUE_BYTES, None));
        assert_eq!(d.call_variables.len(), MAX_CALL_VARIABLES);
        assert!(d
            .call_variables
            .iter()
            .all(|v| v.value.len() == MAX_VALUE_BYTES));
        let mut no_id = dialog("x", "ACTIVE");
        no_id.id = None;
        assert!(log.on_dialog(&no_id, None, at(2), None).is_none());
        assert_eq!(log.dialogs().len(), 1);
        assert_eq!(agent_of_path("/finesse/api/User/1001?x=1"), Some("1001"));
        assert_eq!(agent_of_path("/finesse/api/Dialog/1"), None);
    }

    impl Dialog {
        fn call_variables_for_test(&mut self, name: &str, value: &str, count: usize) {
            let vars = (0..count)
                .map(|i| CallVariable {
                    name: format!("{name}{i}"),
                    value: value.to_owned(),
                })
                .collect();
            self.media_properties = Some(super::super::MediaProperties {
                call_variables: vars,
                ..Default::default()
            });
        }
    }
}
