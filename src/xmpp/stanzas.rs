//! `<presence>` and `<message>`, including pubsub event notifications.
//!
//! Takes presence and message stanzas of a session; gives summaries in words
//! (type, addresses, priority, show, status; message type and capped body),
//! the client's initial presence for the session summary, and the payload
//! elements of each pubsub event `<item>`, unread. Never keeps message
//! bodies beyond the summary's cap.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::element::NodeRef;
use super::ns::Ns;
use super::session::{Out, Session, Span};
use super::summary::Presence;
use super::PubsubItem;
use crate::position::Dir;
use crate::xmpp::FindingCode;

/// Characters of a message body shown in its summary.
const BODY_CAP: usize = 120;

pub(super) fn cap(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((i, _)) => Cow::Owned(format!("{}…", text.get(..i).unwrap_or_default())),
        None => Cow::Borrowed(text),
    }
}

/// A `<presence>`: its summary in words; the client's first initial
/// (broadcast) presence goes into `initial`, the session summary's.
pub(crate) fn presence(
    span: Span,
    root: NodeRef<'_, '_>,
    initial: &mut Option<Presence>,
    out: &mut Out,
) {
    let ty = root.attr("type");
    let to = root.attr("to");
    let from = root.attr("from");
    let show = root.child_text("show").filter(|s| !s.is_empty());
    let status = root.child_text("status").filter(|s| !s.is_empty());
    let priority_text = root.child_text("priority");
    let priority = priority_text.and_then(|p| p.parse::<i32>().ok());
    // Summaries are pieces put together, not `format!`ed: one per stanza.
    let mut s = ["presence ", ty.as_deref().unwrap_or("available")].concat();
    if let Some(to) = &to {
        s.extend([" to ", to]);
    }
    if let Some(from) = &from {
        s.extend([" from ", from]);
    }
    if let Some(show) = show {
        s.extend([" show ", show]);
    }
    if let Some(p) = priority_text {
        s.extend([" priority ", p]);
    }
    if let Some(status) = status {
        s.extend([" \"", &cap(status, BODY_CAP), "\""]);
    }
    out.summary = s;
    let broadcast = span.dir == Dir::ClientToServer && to.is_none() && ty.is_none();
    if broadcast {
        if let Some(p) = priority.filter(|p| *p < 0) {
            out.find(
                    FindingCode::NegativePriority,
                    format!("the client announced presence priority {p}: a negative priority gets no events delivered"),
                );
        }
        if initial.is_none() {
            *initial = Some(Presence {
                priority,
                show: show.map(str::to_owned),
                status: status.map(|s| cap(s, BODY_CAP).into_owned()),
                at: span.first,
            });
        }
    }
}

impl Session {
    pub(crate) fn message<'e>(&mut self, span: Span, root: NodeRef<'e, '_>, out: &mut Out<'e>) {
        if let Some(event) = root.child(Ns::PubsubEvent, "event") {
            self.pubsub_event(event, out);
            return;
        }
        let ty = root.attr("type");
        let mut s = ["message ", ty.as_deref().unwrap_or("normal")].concat();
        match span.dir {
            Dir::ClientToServer => {
                if let Some(to) = root.attr("to") {
                    s.extend([" to ", &to]);
                }
            }
            Dir::ServerToClient => {
                if let Some(from) = root.attr("from") {
                    s.extend([" from ", &from]);
                }
            }
        }
        if ty.as_deref() == Some("error") {
            let cond = root
                .child_named("error")
                .and_then(|e| e.children().find(|c| c.local() != "text"))
                .map_or("undefined-condition", |c| c.local());
            s.extend([": ", cond]);
        } else if let Some(body) = root.child_named("body") {
            s.extend([": \"", &cap(body.text().trim(), BODY_CAP), "\""]);
        } else if let Some(first) = root.children().next() {
            s.extend([" (", first.name(), ")"]);
        }
        out.summary = s;
    }

    fn pubsub_event<'e>(&mut self, event: NodeRef<'e, '_>, out: &mut Out<'e>) {
        self.summary.pubsub_events += 1;
        let Some(op) = event.children().next() else {
            out.summary = "event (empty)".to_owned();
            return;
        };
        let node = op.attr("node").unwrap_or_default();
        if op.local() != "items" {
            out.summary = ["event ", op.local(), " ", &node].concat();
            return;
        }
        let (mut items, mut first_id) = (0usize, None);
        let mut retracted = 0;
        for item in op.children() {
            if item.local() == "retract" {
                retracted += 1;
                continue;
            }
            let id = item.attr("id");
            for payload in item.children() {
                out.items.push(PubsubItem {
                    node: node.clone(),
                    item_id: id.clone(),
                    name: payload.local(),
                    text: payload.text(),
                });
            }
            items += 1;
            if items == 1 {
                first_id = Some(id);
            }
        }
        let mut s = ["event ", &node].concat();
        match (items, first_id) {
            (0, _) => {}
            (1, Some(id)) => {
                s.extend([" item ", id.as_deref().unwrap_or("(no id)")]);
            }
            (many, _) => {
                let _ = write!(s, ": {many} items");
            }
        }
        if retracted > 0 {
            let _ = write!(s, ", {retracted} retracted");
        }
        out.summary = s;
    }
}
