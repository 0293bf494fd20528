//! Stage `finesse`: Cisco Finesse notification payloads, REST calls, and
//! what they say about agents across a capture.
//!
//! [`Stage`] is the stateful part, fed the XMPP stanzas and pubsub items of
//! every session and the REST exchanges of every connection, in capture
//! order; it matches Updates to REST requests by `requestId` and keeps each
//! agent's state changes (see its module). The parsers below it are pure.
//!
//! Takes the text of one pubsub `<notification>` (already unescaped once by
//! the stanza parser); parses it as its own document, XML or, when it starts
//! with `{`, JSON; gives a typed [`Update`] (node, event, requestId, source,
//! and a User, Dialog(s), Team, Queue(s), SystemInfo, Media or apiErrors
//! payload) with a one-line summary, plus the findings that matter to a
//! support engineer (failover, forced logout, API errors). Element names and
//! `event` values are compared ignoring case; doubly escaped text (`AT&amp;T`
//! inside the notification) comes out once unescaped (`AT&T`). Also reads
//! the `<ApiErrors>` body of a failed REST call ([`rest_failure`]). Never
//! panics and never keeps more than the XML caps of [`Limits`].

mod agents;
mod calls;
mod correlate;
mod dialogs;
mod feeds;
mod findings;
pub(crate) mod fuzz;
mod map;
mod rest;
mod stage;
mod tree;
mod update;

pub use agents::{AgentStates, Entered, StateChange};
pub use calls::RestCallRecord;
pub use correlate::RestMatch;
pub use dialogs::{DialogRecord, DialogState};
pub use feeds::automatic_feed;
pub use findings::FindingCode;
pub use rest::{api_errors, rest_failure, RestCall};
pub use stage::{
    read_notifications, Records, RestExchange, RestRequest, RestResponse, SessionFacts, Sink,
    Stage, StanzaAt,
};
pub use update::{
    ApiError, CallVariable, Dialog, Media, MediaProperties, Participant, Payload, Queue,
    ReasonCode, SystemInfo, Team, TeamUser, Update, User,
};

use crate::finding::Finding;
use crate::limits::Limits;

/// Why a notification could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("notification of {len} bytes is over the cap of {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("empty notification")]
    Empty,
    #[error("notification XML error at offset {position}: {source}")]
    Xml {
        position: u64,
        source: quick_xml::Error,
    },
    #[error("notification JSON error: {source}")]
    Json { source: serde_json::Error },
    #[error("notification element <{name}> is not closed")]
    Unclosed { name: String },
    #[error("notification nests deeper than {limit} elements")]
    TooDeep { limit: usize },
    #[error("notification has more than {limit} elements")]
    TooManyElements { limit: usize },
    #[error("no <Update> in the notification (found <{found}>)")]
    NotAnUpdate { found: String },
}

/// Parses one notification text into an [`Update`] (`node` and `item_id` unset).
pub fn parse_notification(text: &str, limits: &Limits) -> Result<Update, Error> {
    parse_notification_in(text, limits, &mut tree::Scratch::default())
}

/// [`parse_notification`] with the tree built in `scratch`, which keeps its
/// buffers for the next notification.
pub(crate) fn parse_notification_in(
    text: &str,
    limits: &Limits,
    scratch: &mut tree::Scratch,
) -> Result<Update, Error> {
    if text.len() > limits.max_stanza_bytes {
        return Err(Error::TooLarge {
            len: text.len(),
            limit: limits.max_stanza_bytes,
        });
    }
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(Error::Empty);
    }
    if trimmed.starts_with('{') {
        let tree = tree::parse_json(trimmed, limits, scratch)?;
        return from_tree(tree, scratch);
    }
    if trimmed.starts_with("&lt;") {
        // Escaped once more than usual (a hand-made publisher): undo that first.
        let once = quick_xml::escape::unescape(trimmed).map_err(|e| Error::Xml {
            position: 0,
            source: e.into(),
        })?;
        let tree = tree::parse_xml(&once, limits, scratch)?;
        return from_tree(tree, scratch);
    }
    let tree = tree::parse_xml(trimmed, limits, scratch)?;
    from_tree(tree, scratch)
}

/// The Update in a parsed tree, whose buffers then go back to `scratch`.
fn from_tree(tree: tree::Tree<'_>, scratch: &mut tree::Scratch) -> Result<Update, Error> {
    let update = from_doc(tree.doc());
    tree.recycle(scratch);
    update
}

fn from_doc(doc: tree::El<'_, '_>) -> Result<Update, Error> {
    if let Some(u) = doc.child("Update") {
        return Ok(map::map_update(u));
    }
    // A JSON body without the `Update` wrapper carries the same keys at top level.
    if doc.child("data").is_some() || doc.child("event").is_some() {
        return Ok(map::map_update(doc));
    }
    Err(Error::NotAnUpdate {
        found: doc
            .children()
            .next()
            .map(|c| c.name().to_owned())
            .unwrap_or_default(),
    })
}

fn is_forced(reason: &Option<ReasonCode>, id: &Option<String>) -> bool {
    let code = reason.as_ref().and_then(|r| r.code.as_deref());
    code == Some("255") || id.as_deref() == Some("255")
}

impl Update {
    /// Findings this update carries, not yet located (the caller adds stream and frame).
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut push = |code: FindingCode, message: String| {
            out.push(Finding::new(code, message));
        };
        match &self.payload {
            Payload::SystemInfo(info) if info.status.as_deref() == Some("OUT_OF_SERVICE") => push(
                FindingCode::OutOfService,
                "Finesse reports OUT_OF_SERVICE: desktops fail over to the other node".to_owned(),
            ),
            Payload::User(u) if is_forced(&u.reason_code, &u.reason_code_id) => {
                let who = u.login_id.as_deref().unwrap_or("?");
                match u.state.as_deref() {
                    Some("LOGOUT") => push(
                        FindingCode::ForcedLogout,
                        format!("agent {who} logged out by the server with reason 255: its desktop session vanished"),
                    ),
                    Some("NOT_READY") => push(
                        FindingCode::ForcedNotReady,
                        format!("agent {who} made NOT_READY by the server with reason 255: its desktop session vanished"),
                    ),
                    _ => {}
                }
            }
            Payload::ApiErrors { errors } => {
                for e in errors {
                    let msg = format!("Finesse API error: {}", e.describe());
                    push(FindingCode::ApiError, msg);
                }
            }
            Payload::Dialog(d) if d.state.as_deref() == Some("FAILED") => push(
                FindingCode::DialogFailed,
                format!("dialog {} FAILED", d.id.as_deref().unwrap_or("?")),
            ),
            _ => {}
        }
        out
    }
}

impl ApiError {
    /// "message (type)", as the update summary says it.
    pub(crate) fn summary_line(&self) -> String {
        match (&self.error_message, &self.error_type) {
            (Some(m), Some(t)) => format!("{m} ({t})"),
            (Some(m), None) => m.clone(),
            (None, Some(t)) => t.clone(),
            (None, None) => "unspecified".to_owned(),
        }
    }

    /// "message (type), data D": what a finding says of it.
    pub(crate) fn describe(&self) -> String {
        match &self.error_data {
            Some(data) => format!("{}, data {data}", self.summary_line()),
            None => self.summary_line(),
        }
    }
}

#[cfg(test)]
mod tests;
