//! The typed Finesse `Update` and how a payload tree maps onto it.
//!
//! Takes the tree of one notification; gives the fields support engineers
//! read (agent state and reason, dialogs and call variables, team members,
//! queue statistics, system status, asynchronous API errors) and a one-line
//! summary. Never fails: a field that is absent is `None`, an unknown payload
//! keeps its element name.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::tree::El;

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

/// The trimmed text of a field, `None` when absent or empty (what
/// [`El::get`] gives for one name).
fn value(field: Option<El<'_, '_>>) -> Option<String> {
    field.and_then(|f| f.value())
}

/// Maps an `<Update>` element (or a bare JSON object with the same keys).
pub(crate) fn map_update(u: El<'_, '_>) -> Update {
    let [event, request_id, source, data] = u.fields(["event", "requestId", "source", "data"]);
    Update {
        node: None,
        item_id: None,
        event: value(event).map(|mut e| {
            e.make_ascii_uppercase();
            e
        }),
        request_id: value(request_id),
        source: value(source),
        payload: match data {
            Some(data) => map_data(data),
            None => Payload::Empty,
        },
    }
}

fn map_data(data: El<'_, '_>) -> Payload {
    let Some(el) = data.children().next() else {
        return Payload::Empty;
    };
    let is = |name: &str| el.name().eq_ignore_ascii_case(name);
    if is("user") {
        Payload::User(user(el))
    } else if is("dialog") {
        Payload::Dialog(dialog(el))
    } else if is("dialogs") {
        Payload::Dialogs {
            dialogs: el.all("Dialog").map(dialog).collect(),
        }
    } else if is("team") {
        Payload::Team(team(el))
    } else if is("queue") {
        Payload::Queue(queue(el))
    } else if is("queues") {
        Payload::Queues {
            queues: el.all("Queue").map(queue).collect(),
        }
    } else if is("systemInfo") {
        Payload::SystemInfo(system_info(el))
    } else if is("media") {
        Payload::Media(media(el))
    } else if is("apiErrors") {
        Payload::ApiErrors {
            errors: el.all("apiError").map(api_error).collect(),
        }
    } else if is("apiError") {
        Payload::ApiErrors {
            errors: vec![api_error(el)],
        }
    } else {
        Payload::Unknown {
            element: el.name().to_ascii_lowercase(),
        }
    }
}

/// A `<ReasonCode>` element, `None` when absent or without children.
fn reason_code(rc: Option<El<'_, '_>>) -> Option<ReasonCode> {
    let rc = rc.filter(El::has_children)?;
    let [id, category, code, label] = rc.fields(["id", "category", "code", "label"]);
    Some(ReasonCode {
        id: value(id),
        category: value(category),
        code: value(code),
        label: value(label),
    })
}

fn user(el: El<'_, '_>) -> User {
    let [login_id, login_name, first_name, last_name, extension, state, pending_state, reason_code_id, rc, state_change_time, team_id, team_name] =
        el.fields([
            "loginId",
            "loginName",
            "firstName",
            "lastName",
            "extension",
            "state",
            "pendingState",
            "reasonCodeId",
            "ReasonCode",
            "stateChangeTime",
            "teamId",
            "teamName",
        ]);
    User {
        login_id: value(login_id),
        login_name: value(login_name),
        first_name: value(first_name),
        last_name: value(last_name),
        extension: value(extension),
        state: value(state),
        pending_state: value(pending_state),
        reason_code_id: value(reason_code_id),
        reason_code: reason_code(rc),
        state_change_time: value(state_change_time),
        team_id: value(team_id),
        team_name: value(team_name),
    }
}

fn dialog(el: El<'_, '_>) -> Dialog {
    let [id, state, from_address, to_address, media_type, participants, media_properties] = el
        .fields([
            "id",
            "state",
            "fromAddress",
            "toAddress",
            "mediaType",
            "participants",
            "mediaProperties",
        ]);
    Dialog {
        id: value(id),
        state: value(state),
        from_address: value(from_address),
        to_address: value(to_address),
        media_type: value(media_type),
        participants: participants
            .map(|p| p.all("Participant").map(participant).collect())
            .unwrap_or_default(),
        media_properties: media_properties.map(map_media_properties),
    }
}

fn participant(el: El<'_, '_>) -> Participant {
    let [media_address, state, state_cause, actions] =
        el.fields(["mediaAddress", "state", "stateCause", "actions"]);
    Participant {
        media_address: value(media_address),
        state: value(state),
        state_cause: value(state_cause),
        actions: actions
            .map(|a| a.all("action").map(|x| x.text().to_owned()).collect())
            .unwrap_or_default(),
    }
}

fn map_media_properties(el: El<'_, '_>) -> MediaProperties {
    let [dnis, call_type, dialed_number, queue_number, queue_name, wrap_up_reason, vars] = el
        .fields([
            "DNIS",
            "callType",
            "dialedNumber",
            "queueNumber",
            "queueName",
            "wrapUpReason",
            "callvariables",
        ]);
    MediaProperties {
        dnis: value(dnis),
        call_type: value(call_type),
        dialed_number: value(dialed_number),
        queue_number: value(queue_number),
        queue_name: value(queue_name),
        wrap_up_reason: value(wrap_up_reason),
        call_variables: vars
            .map(|vars| vars.all("CallVariable").map(call_variable).collect())
            .unwrap_or_default(),
    }
}

fn call_variable(v: El<'_, '_>) -> CallVariable {
    let [name, value] = v.fields(["name", "value"]);
    CallVariable {
        name: name.and_then(|n| n.value()).unwrap_or_default(),
        value: value.map(|x| x.text().to_owned()).unwrap_or_default(),
    }
}

fn team(el: El<'_, '_>) -> Team {
    let [id, uri, name, users] = el.fields(["id", "uri", "name", "users"]);
    Team {
        id: value(id).or_else(|| last_segment(value(uri))),
        name: value(name),
        users: users
            .map(|u| u.all("User").map(team_user).collect())
            .unwrap_or_default(),
    }
}

fn team_user(u: El<'_, '_>) -> TeamUser {
    let [login_id, first_name, last_name, extension, state, pending_state, rc, state_change_time] =
        u.fields([
            "loginId",
            "firstName",
            "lastName",
            "extension",
            "state",
            "pendingState",
            "ReasonCode",
            "stateChangeTime",
        ]);
    TeamUser {
        login_id: value(login_id),
        first_name: value(first_name),
        last_name: value(last_name),
        extension: value(extension),
        state: value(state),
        pending_state: value(pending_state),
        reason_code: reason_code(rc),
        state_change_time: value(state_change_time),
    }
}

fn queue(el: El<'_, '_>) -> Queue {
    let [id, uri, name, statistics] = el.fields(["id", "uri", "name", "statistics"]);
    Queue {
        id: value(id).or_else(|| last_segment(value(uri))),
        name: value(name),
        statistics: statistics
            .map(|s| {
                s.children()
                    .map(|c| (c.name().to_owned(), c.text().to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn system_info(el: El<'_, '_>) -> SystemInfo {
    SystemInfo {
        status: el.get("status"),
        deployment_type: el.get("deploymentType"),
        current_timestamp: el.get("currentTimestamp"),
        primary_node: el.get("primaryNode/host"),
        secondary_node: el.get("secondaryNode/host"),
        xmpp_domain: el.get("xmppDomain"),
        xmpp_pubsub_domain: el.get("xmppPubSubDomain"),
    }
}

fn media(el: El<'_, '_>) -> Media {
    let [media_id, state, pending_state, rc, state_change_time] = el.fields([
        "mediaId",
        "state",
        "pendingState",
        "ReasonCode",
        "stateChangeTime",
    ]);
    Media {
        media_id: value(media_id),
        state: value(state),
        pending_state: value(pending_state),
        reason_code: reason_code(rc),
        state_change_time: value(state_change_time),
    }
}

fn api_error(el: El<'_, '_>) -> ApiError {
    let [error_type, error_message, error_data, error_media, code, msg] = el.fields([
        "errorType",
        "errorMessage",
        "errorData",
        "errorMedia",
        "peripheralErrorCode",
        "peripheralErrorMsg",
    ]);
    ApiError {
        error_type: value(error_type),
        error_message: value(error_message),
        error_data: value(error_data),
        error_media: value(error_media),
        peripheral_error_code: value(code),
        peripheral_error_msg: value(msg),
    }
}

fn last_segment(uri: Option<String>) -> Option<String> {
    let uri = uri?;
    let seg = uri.trim_end_matches('/').rsplit('/').next()?;
    (!seg.is_empty()).then(|| seg.to_owned())
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
        let mut s = format!("Dialog {} {}", or_q(&self.id), or_q(&self.state));
        if let Some(from) = &self.from_address {
            let _ = write!(s, " from {from}");
        }
        if let Some(to) = &self.to_address {
            let _ = write!(s, " to {to}");
        }
        s
    }
}

impl Queue {
    fn summary(&self) -> String {
        let mut s = format!("Queue {}", or_q(&self.id));
        if let Some(name) = &self.name {
            let _ = write!(s, " \"{name}\"");
        }
        let stat = |k: &str| self.statistics.get(k).map(String::as_str);
        let parts: Vec<String> = [("callsInQueue", "in queue"), ("agentsReady", "ready")]
            .iter()
            .filter_map(|(k, what)| stat(k).map(|v| format!("{v} {what}")))
            .collect();
        if !parts.is_empty() {
            let _ = write!(s, ": {}", parts.join(", "));
        }
        s
    }
}

impl ApiError {
    fn summary(&self) -> String {
        let mut s = format!("apiError {}", or_q(&self.error_message));
        if let Some(t) = &self.error_type {
            let _ = write!(s, " ({t})");
        }
        s
    }
}

impl Update {
    /// One line in words, e.g. `User 1001 NOT_READY (reason 12 "Lunch")`.
    pub fn summary(&self) -> String {
        let removed = self.event.as_deref() == Some("DELETE");
        let line = match &self.payload {
            Payload::User(u) => state_line(
                format!("User {} {}", or_q(&u.login_id), or_q(&u.state)),
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
                let mut s = format!("Team {}", or_q(&t.id));
                if let Some(name) = &t.name {
                    let _ = write!(s, " \"{name}\"");
                }
                let _ = write!(s, ": {} users", t.users.len());
                s
            }
            Payload::Queue(q) => q.summary(),
            Payload::Queues { queues } => {
                let all: Vec<String> = queues.iter().map(Queue::summary).collect();
                format!("{} queues: {}", queues.len(), all.join("; "))
            }
            Payload::SystemInfo(i) => format!("SystemInfo {}", or_q(&i.status)),
            Payload::Media(m) => state_line(
                format!("Media {} {}", or_q(&m.media_id), or_q(&m.state)),
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
