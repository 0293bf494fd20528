//! How a notification's tree maps onto the typed [`Update`].
//!
//! Takes the tree of one notification (XML or JSON, names compared ignoring
//! ASCII case); gives the `Update` with every field it finds, reading each
//! element's children once. Never fails: a field that is absent or empty is
//! `None`, an unknown payload keeps its element name.

use super::tree::El;
use super::update::{
    ApiError, CallVariable, Dialog, Media, MediaProperties, Participant, Payload, Queue,
    ReasonCode, SystemInfo, Team, TeamUser, Update, User,
};

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
    } else if let Some(errors) = api_errors_in(el) {
        Payload::ApiErrors { errors }
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

/// The errors of an `apiErrors` (or lone `apiError`) element, any case.
pub(crate) fn api_errors_in(el: El<'_, '_>) -> Option<Vec<ApiError>> {
    if el.is("apiErrors") {
        Some(el.all("apiError").map(api_error).collect())
    } else if el.is("apiError") {
        Some(vec![api_error(el)])
    } else {
        None
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
