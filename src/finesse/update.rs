//! The typed Finesse `Update` and its one-line summary.
//!
//! Gives the fields support engineers read (agent state and reason, dialogs
//! and call variables, team members, queue statistics, system status,
//! asynchronous API errors), filled by [`super::map`], and the summary in
//! words. Never fails: a field that is absent is `None`, an unknown payload
//! keeps its element name.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// One Finesse notification (`<Update>`), as carried by a pubsub item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Update {
    /// The pubsub node it was published on (`/finesse/api/User/1001`), set by the XMPP stage.
    pub node: Option<String>,
    /// The pubsub item id, set by the XMPP stage.
    pub item_id: Option<String>,
    /// `POST` (added), `PUT` (changed) or `DELETE` (removed), upper-cased as received.
    pub event: Option<String>,
    /// Echo of the REST request's `requestId` header; `None` for unsolicited updates.
    pub request_id: Option<String>,
    /// URI of the changed object (may differ from the node).
    pub source: Option<String>,
    /// What changed.
    #[serde(flatten)]
    pub payload: Payload,
}

/// The `<data>` of an update, by kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    User(User),
    Dialog(Dialog),
    Dialogs {
        dialogs: Vec<Dialog>,
    },
    Team(Team),
    Queue(Queue),
    Queues {
        queues: Vec<Queue>,
    },
    SystemInfo(SystemInfo),
    Media(Media),
    ApiErrors {
        errors: Vec<ApiError>,
    },
    /// A payload element xmppcap does not know, by name.
    Unknown {
        element: String,
    },
    /// `<data/>` with nothing inside.
    Empty,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReasonCode {
    pub id: Option<String>,
    pub category: Option<String>,
    pub code: Option<String>,
    pub label: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct User {
    pub login_id: Option<String>,
    pub login_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub extension: Option<String>,
    pub state: Option<String>,
    pub pending_state: Option<String>,
    pub reason_code_id: Option<String>,
    pub reason_code: Option<ReasonCode>,
    pub state_change_time: Option<String>,
    pub team_id: Option<String>,
    pub team_name: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Participant {
    pub media_address: Option<String>,
    pub state: Option<String>,
    pub state_cause: Option<String>,
    pub actions: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CallVariable {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MediaProperties {
    pub dnis: Option<String>,
    pub call_type: Option<String>,
    pub dialed_number: Option<String>,
    pub queue_number: Option<String>,
    pub queue_name: Option<String>,
    pub wrap_up_reason: Option<String>,
    pub call_variables: Vec<CallVariable>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Dialog {
    pub id: Option<String>,
    pub state: Option<String>,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    pub media_type: Option<String>,
    pub participants: Vec<Participant>,
    pub media_properties: Option<MediaProperties>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TeamUser {
    pub login_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub extension: Option<String>,
    pub state: Option<String>,
    pub pending_state: Option<String>,
    pub reason_code: Option<ReasonCode>,
    pub state_change_time: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Team {
    pub id: Option<String>,
    pub name: Option<String>,
    pub users: Vec<TeamUser>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Queue {
    pub id: Option<String>,
    pub name: Option<String>,
    /// Statistic name → value as sent (`-1` means not assigned).
    pub statistics: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SystemInfo {
    pub status: Option<String>,
    pub deployment_type: Option<String>,
    pub current_timestamp: Option<String>,
    pub primary_node: Option<String>,
    pub secondary_node: Option<String>,
    pub xmpp_domain: Option<String>,
    pub xmpp_pubsub_domain: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Media {
    pub media_id: Option<String>,
    pub state: Option<String>,
    pub pending_state: Option<String>,
    pub reason_code: Option<ReasonCode>,
    pub state_change_time: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub error_data: Option<String>,
    pub error_media: Option<String>,
    pub peripheral_error_code: Option<String>,
    pub peripheral_error_msg: Option<String>,
}

fn or_q(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("?")
}

impl ReasonCode {
    /// `reason 12 "Lunch"` into `out`; false when there is no code at all.
    fn describe(&self, id: &Option<String>, out: &mut String) -> bool {
        let Some(code) = self.code.as_ref().or(self.id.as_ref()).or(id.as_ref()) else {
            return false;
        };
        let _ = match &self.label {
            Some(label) => write!(out, "reason {code} \"{label}\""),
            None => write!(out, "reason {code}"),
        };
        true
    }
}

/// The reason note of a state (`reason 12 "Lunch"`) into `out`; false when none.
fn reason(rc: &Option<ReasonCode>, id: &Option<String>, out: &mut String) -> bool {
    match (rc, id) {
        (Some(rc), _) => rc.describe(id, out),
        (None, Some(id)) => {
            let _ = write!(out, "reason {id}");
            true
        }
        (None, None) => false,
    }
}

/// `line (pending P, reason R)`, leaving out the notes that are absent.
fn state_line(
    mut line: String,
    pending: Option<&str>,
    rc: &Option<ReasonCode>,
    id: &Option<String>,
) -> String {
    let bare = line.len();
    if let Some(p) = pending {
        let _ = write!(line, " (pending {p}");
    }
    let before_reason = line.len();
    line.push_str(if pending.is_some() { ", " } else { " (" });
    if !reason(rc, id, &mut line) {
        line.truncate(before_reason);
    }
    if line.len() > bare {
        line.push(')');
    }
    line
}

impl Dialog {
    fn summary(&self) -> String {
        // Summaries are pieces put together, not `format!`ed: one per update.
        let mut s = ["Dialog ", or_q(&self.id), " ", or_q(&self.state)].concat();
        if let Some(from) = &self.from_address {
            s.extend([" from ", from]);
        }
        if let Some(to) = &self.to_address {
            s.extend([" to ", to]);
        }
        s
    }
}

impl Queue {
    fn summary(&self) -> String {
        let mut s = ["Queue ", or_q(&self.id)].concat();
        if let Some(name) = &self.name {
            s.extend([" \"", name, "\""]);
        }
        let stat = |k: &str| self.statistics.get(k).map(String::as_str);
        let parts: Vec<String> = [("callsInQueue", "in queue"), ("agentsReady", "ready")]
            .iter()
            .filter_map(|(k, what)| stat(k).map(|v| [v, " ", what].concat()))
            .collect();
        if !parts.is_empty() {
            s.extend([": ", &parts.join(", ")]);
        }
        s
    }
}

impl ApiError {
    fn summary(&self) -> String {
        format!("apiError {}", self.summary_line())
    }
}

impl Update {
    /// One line in words, e.g. `User 1001 NOT_READY (reason 12 "Lunch")`.
    pub fn summary(&self) -> String {
        let removed = self.event.as_deref() == Some("DELETE");
        let line = match &self.payload {
            Payload::User(u) => state_line(
                ["User ", or_q(&u.login_id), " ", or_q(&u.state)].concat(),
                u.pending_state.as_deref(),
                &u.reason_code,
                &u.reason_code_id,
            ),
            Payload::Dialog(d) => d.summary(),
            Payload::Dialogs { dialogs } => match dialogs.as_slice() {
                [one] => one.summary(),
                many => {
                    let all: Vec<String> = many.iter().map(Dialog::summary).collect();
                    format!("{} dialogs: {}", many.len(), all.join("; "))
                }
            },
            Payload::Team(t) => {
                let mut s = ["Team ", or_q(&t.id)].concat();
                if let Some(name) = &t.name {
                    s.extend([" \"", name, "\""]);
                }
                let _ = write!(s, ": {} users", t.users.len());
                s
            }
            Payload::Queue(q) => q.summary(),
            Payload::Queues { queues } => {
                let all: Vec<String> = queues.iter().map(Queue::summary).collect();
                format!("{} queues: {}", queues.len(), all.join("; "))
            }
            Payload::SystemInfo(i) => ["SystemInfo ", or_q(&i.status)].concat(),
            Payload::Media(m) => state_line(
                ["Media ", or_q(&m.media_id), " ", or_q(&m.state)].concat(),
                None,
                &m.reason_code,
                &None,
            ),
            Payload::ApiErrors { errors } => {
                let all: Vec<String> = errors.iter().map(ApiError::summary).collect();
                if all.is_empty() {
                    "apiErrors (empty)".to_owned()
                } else {
                    all.join("; ")
                }
            }
            Payload::Unknown { element } => format!("{element} update"),
            Payload::Empty => "empty update".to_owned(),
        };
        let mut line = line;
        if removed {
            line.push_str(" (removed)");
        }
        line
    }
}
