//! XEP-0060 subscriptions: subscribe and unsubscribe requests, their
//! replies, and what Cisco's guidance says about them (a desktop is
//! subscribed to its own feeds automatically; subscriptions persist on the
//! node until unsubscribed). Which nodes are such automatic feeds is not
//! known here: the session is given it ([`AutomaticFeeds`]).
//!
//! Takes the `<pubsub>` payload of an iq request and the reply that matched
//! it; gives the summaries in words, the session summary's subscription list
//! and the findings: `xmpp.subscription_failed`, `xmpp.subscription_redundant`
//! (a node the session was told is an automatic feed, subscribed
//! explicitly), `xmpp.subscription_bare_jid` (delivered to every resource of
//! the user), and at the end of a session that ended, `xmpp.subscription_left`
//! (never unsubscribed: it persists on the node). Keeps at most [`MAX_SUBSCRIPTIONS`] per session.

use super::element::NodeRef;
use super::iq::{fmt_ms, Kind};
use super::ns::Ns;
use super::session::{Out, Span};
use super::stanzas::cap;
use super::summary::Subscription;
use crate::finding::{Finding, Level};
use crate::position::Dir;
use crate::xmpp::FindingCode;

/// Which pubsub nodes the server delivers without a subscription: for such
/// a node, why subscribing is redundant, in words that complete `the
/// subscription to <node> is redundant: `; `None` otherwise. The XMPP stage
/// knows no such node itself: the application above it says
/// ([`Session::with_automatic_feeds`](super::Session::with_automatic_feeds)).
pub type AutomaticFeeds = fn(node: &str) -> Option<&'static str>;

/// The default: no node is an automatic feed.
pub(super) fn no_automatic_feeds(_node: &str) -> Option<&'static str> {
    None
}

/// Subscriptions kept in the summary (a session normally has a handful).
const MAX_SUBSCRIPTIONS: usize = 256;
/// Subscriptions left behind reported one by one before being counted.
const MAX_LEFT_FINDINGS: usize = 10;
/// Characters of a pubsub node, JID or subid kept in the summary.
const NAME_CAP: usize = 256;

/// A subscribe or unsubscribe request (other pubsub requests are named):
/// its summary, its advice findings, and a record in `subs` (the session
/// summary's list) for the reply to complete.
pub(super) fn pubsub_request(
    span: Span,
    pubsub: NodeRef<'_, '_>,
    automatic_feeds: AutomaticFeeds,
    subs: &mut Vec<Subscription>,
    out: &mut Out,
) -> Kind {
    let Some(op) = pubsub.children().next() else {
        return Kind::Other {
            what: "pubsub (empty)".to_owned(),
        };
    };
    // Kept in the session summary: clipped like any captured name.
    let clip = |v: std::borrow::Cow<'_, str>| cap(&v, NAME_CAP).into_owned();
    let node = op.attr("node").map(clip).unwrap_or_default();
    let jid = op.attr("jid").map(clip);
    let action = match op.local() {
        "subscribe" => "subscribe",
        "unsubscribe" => "unsubscribe",
        other => {
            return Kind::Other {
                what: format!("pubsub {other} {node}").trim_end().to_owned(),
            }
        }
    };
    let subid = op.attr("subid").map(clip);
    // Summaries are pieces put together, not `format!`ed: one per request.
    let mut s = [action, " ", &node].concat();
    if let Some(j) = &jid {
        s.extend([" for ", j]);
    }
    if action == "subscribe" {
        subscribe_advice(&node, jid.as_deref(), automatic_feeds, out);
    }
    if let Some(id) = &subid {
        s.extend([" (subid ", id, ")"]);
    }
    out.summary = s;
    let index = (subs.len() < MAX_SUBSCRIPTIONS).then(|| {
        subs.push(Subscription {
            node: Some(node.clone()).filter(|n| !n.is_empty()),
            jid,
            subid,
            action,
            outcome: None,
            at: span.first,
            latency_ms: None,
        });
        subs.len() - 1
    });
    if action == "subscribe" {
        Kind::Subscribe { index, node }
    } else {
        Kind::Unsubscribe { index, node }
    }
}

/// The reply to the request recorded at `index` of `subs`: its outcome
/// and latency, and `xmpp.subscription_failed` when not granted.
pub(super) fn subscription_reply(
    root: NodeRef<'_, '_>,
    (index, node): (Option<usize>, &str),
    err: Option<String>,
    ms: f64,
    subs: &mut [Subscription],
    out: &mut Out,
) {
    let lat = fmt_ms(ms);
    let sub = index.and_then(|i| subs.get_mut(i));
    let action = sub.as_ref().map_or("subscribe", |s| s.action);
    let granted = root
        .child(Ns::Pubsub, "pubsub")
        .and_then(|p| p.child_named("subscription"));
    let outcome = match (&err, granted) {
        (Some(e), _) => ["error ", e].concat(),
        (None, Some(g)) => g
            .attr("subscription")
            .map_or("subscribed".to_owned(), |s| s.into_owned()),
        (None, None) if action == "subscribe" => "subscribed".to_owned(),
        (None, None) => "unsubscribed".to_owned(),
    };
    out.summary = [action, " ", node, " → ", &outcome, " (", &lat, ")"].concat();
    if action == "subscribe" && outcome != "subscribed" {
        let level = if err.is_some() {
            Level::Error
        } else {
            Level::Warn
        };
        // An error reply is a refusal; a grant other than `subscribed` (pending,
        // unconfigured) is only a warning.
        out.push(
            Finding::new(
                FindingCode::SubscriptionFailed,
                format!("subscription to {node} is not active: {outcome}"),
            )
            .with_level(level),
        );
    }
    if let Some(sub) = sub {
        sub.outcome = Some(outcome);
        sub.latency_ms = Some(ms);
        if let Some(id) = granted.and_then(|g| g.attr("subid")) {
            sub.subid = Some(id.into_owned());
        }
    }
}

/// `xmpp.subscription_left`: every subscription granted in this session
/// and not unsubscribed later in it (same node, and same subid when both
/// are known); `stream` is the session's.
pub(super) fn left_subscriptions(subs: &[Subscription], stream: u64, out: &mut Vec<Finding>) {
    let left = subs.iter().enumerate().filter(|(i, sub)| {
        let later = subs.get(i + 1..).unwrap_or_default();
        sub.action == "subscribe"
            && sub.outcome.as_deref() == Some("subscribed")
            && !later
                .iter()
                .any(|u| u.action == "unsubscribe" && same_subscription(sub, u))
    });
    let mut count = 0usize;
    for (_, sub) in left {
        count += 1;
        if count > MAX_LEFT_FINDINGS {
            continue;
        }
        let node = sub.node.as_deref().unwrap_or("(no node)");
        let subid = sub
            .subid
            .as_deref()
            .map(|id| format!(" (subid {id})"))
            .unwrap_or_default();
        out.push(
                Finding::new(
                    FindingCode::SubscriptionLeft,
                    format!("the subscription to {node}{subid} was not unsubscribed before the session ended: it persists on the node, and leftovers of earlier sessions make later ones receive duplicate notifications (Cisco asks clients to unsubscribe before disconnecting)"),
                )
                .at(sub.at)
                .in_stream(stream, Some(Dir::ClientToServer)),
            );
    }
    if count > MAX_LEFT_FINDINGS {
        let more = count - MAX_LEFT_FINDINGS;
        out.push(
            Finding::new(
                FindingCode::SubscriptionLeft,
                format!("{more} more subscriptions never unsubscribed, like the above"),
            )
            .in_stream(stream, None),
        );
    }
}

/// Whether `unsubscribe` ends `subscribe`: the same node, and the same
/// subid when both are known.
fn same_subscription(subscribe: &Subscription, unsubscribe: &Subscription) -> bool {
    subscribe.node == unsubscribe.node
        && match (&subscribe.subid, &unsubscribe.subid) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
}

/// Findings on a subscribe request as Cisco's developer guide sees it:
/// automatic feeds need no explicit subscription,
/// and explicit ones should name the full JID.
fn subscribe_advice(node: &str, jid: Option<&str>, automatic_feeds: AutomaticFeeds, out: &mut Out) {
    if let Some(why) = automatic_feeds(node) {
        out.find(
            FindingCode::SubscriptionRedundant,
            format!("the subscription to {node} is redundant: {why}"),
        );
    }
    if let Some(j) = jid.filter(|j| !j.contains('/')) {
        out.find(
            FindingCode::SubscriptionBareJid,
            format!("the subscription to {node} uses the bare JID {j}: the notification service delivers it to every available resource of the user (this desktop included); Cisco asks for the full JID on explicit subscriptions so that the user's other resources are not sent the same traffic"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::FrameRef;

    fn sub(action: &'static str, node: &str, outcome: &str) -> Subscription {
        Subscription {
            node: Some(node.to_owned()),
            jid: None,
            subid: None,
            action,
            outcome: Some(outcome.to_owned()),
            at: FrameRef::default(),
            latency_ms: None,
        }
    }

    #[test]
    fn only_granted_subscriptions_never_unsubscribed_are_left() {
        let team = "/finesse/api/Team/3/Users";
        let queue = "/finesse/api/Queue/5";
        let subs = [
            sub("subscribe", team, "subscribed"),
            sub("subscribe", queue, "subscribed"),
            sub(
                "subscribe",
                "/finesse/api/Queue/6",
                "error cancel/item-not-found",
            ),
            sub("unsubscribe", team, "unsubscribed"),
        ];
        let mut found = Vec::new();
        left_subscriptions(&subs, 9, &mut found);
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains(queue), "{}", found[0].message);
        assert_eq!(found[0].stream, Some(9));
    }
}
