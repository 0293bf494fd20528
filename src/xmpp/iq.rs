//! iq request/response pairs: bind, session, XEP-0199 pings, XEP-0060
//! subscriptions and everything else, matched by id per direction.
//!
//! Takes `<iq>` elements of a session; gives summaries in words with the
//! round-trip latency on each reply, fills the session summary (JID,
//! subscriptions, ping statistics), findings on subscriptions as Cisco's
//! guidance sees them (redundant, bare JID) and, at the end, findings for
//! requests that never got an answer and subscriptions never unsubscribed.
//! Holds at most `max_pending_iqs` open requests per direction: the oldest
//! is dropped (with a finding) to make room.

use std::collections::BTreeMap;

use super::element::NodeRef;
use super::ns::Ns;
use super::session::{Out, Session, Span};
use super::subscriptions;
use super::summary::{Bind, Summary};
use crate::finding::{Finding, Level, Throttle};
use crate::position::{Dir, FrameRef};
use crate::xmpp::FindingCode;

/// A Finesse desktop pings about every 10 s with a 10 s timeout.
const PING_TIMEOUT_MS: f64 = 10_000.0;
/// Unanswered-request findings reported one by one before being counted.
const MAX_UNANSWERED_FINDINGS: u64 = 10;

/// What a pending request asked for.
#[derive(Debug)]
pub(super) enum Kind {
    Bind { resource: Option<String> },
    Session,
    Ping,
    Subscribe { index: Option<usize>, node: String },
    Unsubscribe { index: Option<usize>, node: String },
    Other { what: String },
}

#[derive(Debug)]
struct Pending {
    kind: Kind,
    at: FrameRef,
    seq: u64,
}

/// Open iq requests, per requesting direction, by id: what each reply
/// answers and how long it took. Holds at most `cap` per direction.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    pending: [BTreeMap<String, Pending>; 2],
    /// The same requests by age (`Pending::seq`), so the oldest is found at once.
    by_age: [BTreeMap<u64, String>; 2],
    seq: u64,
    /// `limits.max_pending_iqs`.
    cap: usize,
    /// The oldest request was forgotten to make room (said once).
    evicted: bool,
}

/// Longest iq id tracked for its reply (real ones are a few dozen bytes).
const MAX_IQ_ID: usize = 256;

impl Tracker {
    /// At most `cap` open requests per direction (`limits.max_pending_iqs`).
    pub(crate) fn new(cap: usize) -> Tracker {
        Tracker {
            cap,
            ..Tracker::default()
        }
    }

    /// Keeps a request sent in `dir` at `at` until its reply. Gives the cap
    /// the first time the oldest request had to be forgotten to make room.
    fn await_reply(&mut self, dir: Dir, id: String, kind: Kind, at: FrameRef) -> Option<usize> {
        let seq = self.seq;
        self.seq += 1;
        let pending = Pending { kind, at, seq };
        let cap = self.cap;
        if self.insert(dir, id, pending, cap) && !self.evicted {
            self.evicted = true;
            return Some(cap);
        }
        None
    }

    /// Bytes of the requests waiting for a reply (ids counted twice: by id and by age).
    pub(crate) fn held_bytes(&self) -> usize {
        let entry = std::mem::size_of::<Pending>() + std::mem::size_of::<u64>();
        self.pending
            .iter()
            .flat_map(|p| p.keys())
            .map(|id| 2 * id.len() + entry)
            .sum()
    }

    /// Adds a request; past `cap` in its direction the oldest is forgotten
    /// (true then).
    fn insert(&mut self, dir: Dir, id: String, pending: Pending, cap: usize) -> bool {
        let (map, by_age) = (
            &mut self.pending[dir.index()],
            &mut self.by_age[dir.index()],
        );
        let mut evicted = false;
        if !map.contains_key(&id) && map.len() >= cap.max(1) {
            if let Some((_, oldest)) = by_age.pop_first() {
                map.remove(&oldest);
                evicted = true;
            }
        }
        by_age.insert(pending.seq, id.clone());
        if let Some(replaced) = map.insert(id, pending) {
            by_age.remove(&replaced.seq);
        }
        evicted
    }

    /// The request that `id` answers, sent in direction `dir`.
    fn take(&mut self, dir: Dir, id: &str) -> Option<Pending> {
        let p = self.pending[dir.index()].remove(id)?;
        self.by_age[dir.index()].remove(&p.seq);
        Some(p)
    }

    /// Every open request of `dir`.
    fn drain(&mut self, dir: Dir) -> BTreeMap<String, Pending> {
        self.by_age[dir.index()].clear();
        std::mem::take(&mut self.pending[dir.index()])
    }
}

/// Milliseconds from `from` to `to`, to 0.1 ms.
fn latency_ms(from: FrameRef, to: FrameRef) -> f64 {
    (to.ts.nanos_since(from.ts) as f64 / 100_000.0).round() / 10.0
}

pub(crate) fn fmt_ms(ms: f64) -> String {
    if ms.abs() < 1.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// `cancel/item-not-found` from a stanza's `<error>`.
fn stanza_error(root: NodeRef<'_, '_>) -> String {
    let Some(err) = root.child_named("error") else {
        return "unspecified".to_owned();
    };
    let ty = err.attr("type").unwrap_or_default();
    let cond = err
        .children()
        .find(|c| c.ns() == Ns::Stanzas && c.local() != "text")
        .or_else(|| err.children().find(|c| c.local() != "text"))
        .map_or("undefined-condition", |c| c.local());
    if ty.is_empty() {
        cond.to_owned()
    } else {
        format!("{ty}/{cond}")
    }
}

fn nonempty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn client_from_id(id: &str) -> Option<&'static str> {
    if id.starts_with("_bind_auth") {
        Some("Strophe.js")
    } else if id.starts_with("_xmpp_bind") {
        Some("libstrophe")
    } else if id.starts_with("purple") {
        Some("Pidgin (libpurple)")
    } else {
        None
    }
}

impl Session {
    pub(crate) fn iq(&mut self, span: Span, root: NodeRef<'_, '_>, out: &mut Out) {
        let ty = root.attr("type");
        match ty.as_deref() {
            Some(t @ ("get" | "set")) => self.iq_request(span, root, t, out),
            Some(t @ ("result" | "error")) => self.iq_reply(span, root, t == "error", out),
            Some(t) => out.summary = format!("iq with invalid type {t}"),
            None => out.summary = "iq without type".to_owned(),
        }
    }

    fn iq_request(&mut self, span: Span, root: NodeRef<'_, '_>, ty: &str, out: &mut Out) {
        let kind = self.request_kind(span, root, ty, out);
        out.summary = match &kind {
            Kind::Bind { resource: Some(r) } => format!("bind {r}"),
            Kind::Bind { resource: None } => "bind (server-assigned resource)".to_owned(),
            Kind::Session => "session".to_owned(),
            Kind::Ping => "ping".to_owned(),
            Kind::Subscribe { .. } | Kind::Unsubscribe { .. } => std::mem::take(&mut out.summary),
            Kind::Other { what } => format!("iq {what}"),
        };
        if let Kind::Bind { resource } = &kind {
            self.summary.bind = Some(Bind {
                requested_resource: resource.clone(),
                ..Bind::default()
            });
        }
        if matches!(kind, Kind::Ping) {
            self.summary.pings.sent[span.dir.index()] += 1;
        }
        let Some(id) = root.attr("id") else {
            out.summary.push_str(" (no id: no reply can match)");
            return;
        };
        if matches!(kind, Kind::Bind { .. }) {
            self.summary.client = self.summary.client.or(client_from_id(&id));
        }
        self.await_reply(span, id.into_owned(), kind, out);
    }

    /// What a get/set asks for, from its first child.
    fn request_kind(&mut self, span: Span, root: NodeRef<'_, '_>, ty: &str, out: &mut Out) -> Kind {
        match root.children().next() {
            Some(p) if p.is(Ns::Bind, "bind") => Kind::Bind {
                resource: nonempty(p.child_text("resource")),
            },
            Some(p) if p.is(Ns::Session, "session") => Kind::Session,
            Some(p) if p.is(Ns::Ping, "ping") => Kind::Ping,
            Some(p) if p.is(Ns::Pubsub, "pubsub") => subscriptions::pubsub_request(
                span,
                p,
                self.automatic_feeds,
                &mut self.summary.subscriptions,
                out,
            ),
            Some(p) if p.is(Ns::IqAuth, "query") => Kind::Other {
                what: match nonempty(p.child_text("username")) {
                    Some(u) => format!("{ty} jabber:iq:auth as {u}"),
                    None => format!("{ty} jabber:iq:auth"),
                },
            },
            Some(p) => Kind::Other {
                what: match p.attr("xmlns") {
                    Some(ns) => [ty, " ", p.name(), " (", &ns, ")"].concat(),
                    None => [ty, " ", p.name()].concat(),
                },
            },
            None => Kind::Other {
                what: format!("{ty} (empty)"),
            },
        }
    }

    /// Keeps a request until its reply, within `limits.max_pending_iqs` per
    /// direction (the oldest is forgotten, once with a finding).
    fn await_reply(&mut self, span: Span, id: String, kind: Kind, out: &mut Out) {
        if id.len() > MAX_IQ_ID {
            out.summary.push_str(" (id too long to match a reply)");
            return;
        }
        if let Some(cap) = self.iqs.await_reply(span.dir, id, kind, span.first) {
            out.find(
                FindingCode::PendingIqLimit,
                format!("more than {cap} iq requests awaiting replies: the oldest are no longer matched"),
            );
        }
    }

    fn iq_reply(&mut self, span: Span, root: NodeRef<'_, '_>, error: bool, out: &mut Out) {
        let err = error.then(|| stanza_error(root));
        let pending = root
            .attr("id")
            .and_then(|id| self.iqs.take(span.dir.flip(), id.as_ref()));
        let Some(p) = pending else {
            out.summary = match &err {
                Some(e) => format!("iq error {e} (no matching request)"),
                None => "iq result (no matching request)".to_owned(),
            };
            return;
        };
        let ms = latency_ms(p.at, span.first);
        let lat = fmt_ms(ms);
        match p.kind {
            Kind::Bind { .. } => self.bind_reply(root, err, ms, out),
            Kind::Session => {
                if let Some(e) = &err {
                    out.summary = format!("session → error {e} ({lat})");
                    out.find(
                        FindingCode::SessionFailed,
                        format!("session establishment failed: {e}"),
                    );
                } else {
                    self.summary.session_established = true;
                    out.summary = ["session result (", &lat, ")"].concat();
                }
            }
            Kind::Ping => self.ping_reply(span, err, ms, out),
            Kind::Subscribe { index, node } | Kind::Unsubscribe { index, node } => {
                let subs = &mut self.summary.subscriptions;
                subscriptions::subscription_reply(root, (index, &node), err, ms, subs, out)
            }
            Kind::Other { what } => match err {
                Some(e) => {
                    out.summary = format!("iq {what} → error {e} ({lat})");
                    out.find(
                        FindingCode::IqError,
                        format!("iq {what} answered with error {e}"),
                    );
                }
                None => out.summary = ["iq ", &what, " → result (", &lat, ")"].concat(),
            },
        }
    }

    fn bind_reply(&mut self, root: NodeRef<'_, '_>, err: Option<String>, ms: f64, out: &mut Out) {
        let lat = fmt_ms(ms);
        let bind = self.summary.bind.get_or_insert_with(Bind::default);
        bind.latency_ms = Some(ms);
        if let Some(e) = err {
            out.summary = format!("bind → error {e} ({lat})");
            out.find(
                FindingCode::BindFailed,
                format!(
                    "binding resource {} failed: {e}",
                    bind.requested_resource
                        .as_deref()
                        .unwrap_or("(server-assigned)")
                ),
            );
            bind.error = Some(e);
            return;
        }
        let jid = root
            .child(Ns::Bind, "bind")
            .and_then(|b| nonempty(b.child_text("jid")));
        bind.jid = jid.clone();
        out.summary = match &jid {
            Some(j) => format!("bind result {j} ({lat})"),
            None => format!("bind result ({lat})"),
        };
        if jid.is_some() {
            self.summary.jid = jid;
        }
    }

    fn ping_reply(&mut self, span: Span, err: Option<String>, ms: f64, out: &mut Out) {
        let lat = fmt_ms(ms);
        let pings = &mut self.summary.pings;
        pings.answered += 1;
        pings.max_latency_ms = Some(pings.max_latency_ms.map_or(ms, |m| m.max(ms)));
        out.summary = match err {
            // Any reply proves the peer is alive, even `service-unavailable`.
            Some(e) => format!("ping → error {e} {lat} (peer alive)"),
            None => format!("ping → pong {lat}"),
        };
        if ms > PING_TIMEOUT_MS {
            out.find(
                FindingCode::SlowPingReply,
                format!(
                    "the {} answered a ping after {lat}, beyond the 10 s a Finesse desktop waits",
                    span.dir.side()
                ),
            );
        }
    }
}

impl Tracker {
    /// Findings for every request still waiting, oldest first.
    pub(crate) fn finish(
        &mut self,
        summary: &mut Summary,
        last: Option<FrameRef>,
        gaps: u32,
        out: &mut Vec<Finding>,
    ) {
        let mut all: Vec<(Dir, String, Pending)> = Vec::new();
        for dir in Dir::BOTH {
            let map = self.drain(dir);
            all.extend(map.into_iter().map(|(id, p)| (dir, id, p)));
        }
        all.sort_by_key(|(_, _, p)| p.seq);
        let end = last.unwrap_or_default();
        let mut throttle: Throttle<FindingCode> = Throttle::new(MAX_UNANSWERED_FINDINGS);
        for (dir, id, p) in all {
            let (code, what) = match &p.kind {
                Kind::Ping => {
                    summary.pings.unanswered += 1;
                    (FindingCode::UnansweredPing, "ping".to_owned())
                }
                Kind::Subscribe { node, .. } => (
                    FindingCode::SubscriptionUnanswered,
                    format!("subscribe {node}"),
                ),
                Kind::Unsubscribe { node, .. } => {
                    (FindingCode::UnansweredIq, format!("unsubscribe {node}"))
                }
                Kind::Bind { .. } => (FindingCode::UnansweredIq, "bind".to_owned()),
                Kind::Session => (FindingCode::UnansweredIq, "session".to_owned()),
                Kind::Other { what } => (FindingCode::UnansweredIq, format!("iq {what}")),
            };
            if !throttle.admit(code) {
                continue;
            }
            let waited = latency_ms(p.at, end);
            let level = if waited >= PING_TIMEOUT_MS {
                Level::Warn
            } else {
                Level::Info
            };
            let mut msg = format!(
                "the {}'s {what} (id {id}) got no reply in the {} that followed",
                dir.side(),
                fmt_secs(waited)
            );
            if waited < PING_TIMEOUT_MS {
                msg.push_str(": the session or capture may have ended first");
            } else if gaps > 0 {
                msg.push_str(" (a capture gap may have hidden it)");
            }
            // Short waits are likely the capture ending, not a silent peer.
            out.push(
                Finding::new(code, msg)
                    .with_level(level)
                    .at(p.at)
                    .in_stream(summary.stream, Some(dir)),
            );
        }
        let mut overflowed: Vec<_> = throttle.overflowed().collect();
        // By code string, the order the summaries have always come in.
        overflowed.sort_by_key(|o| o.key.code());
        for over in overflowed {
            let msg = format!("{} more unanswered requests like the above", over.hidden());
            out.push(
                Finding::new(over.key, msg)
                    .with_level(Level::Warn)
                    .in_stream(summary.stream, None),
            );
        }
    }
}

fn fmt_secs(ms: f64) -> String {
    if ms < 1000.0 {
        fmt_ms(ms)
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::Timestamp;
    use crate::xmpp::Transport;

    fn at(n: u64) -> FrameRef {
        FrameRef::new(n, Timestamp::from_secs_nanos(n as i64, 0))
    }

    #[test]
    fn the_tracker_pairs_replies_and_forgets_the_oldest_past_its_cap() {
        let mut t = Tracker::new(2);
        let c = Dir::ClientToServer;
        assert_eq!(t.await_reply(c, "a".into(), Kind::Ping, at(1)), None);
        assert_eq!(t.await_reply(c, "b".into(), Kind::Session, at(2)), None);
        let two = t.held_bytes();
        // The third makes room by forgetting "a", said once.
        assert_eq!(t.await_reply(c, "c".into(), Kind::Ping, at(3)), Some(2));
        assert_eq!(t.await_reply(c, "d".into(), Kind::Ping, at(4)), None);
        assert!(t.take(c, "a").is_none() && t.take(c, "b").is_none());
        // A reply comes from the other side: requests are kept per sending direction.
        assert!(t.take(Dir::ServerToClient, "c").is_none());
        let p = t.take(c, "c").unwrap();
        assert_eq!((p.at, matches!(p.kind, Kind::Ping)), (at(3), true));
        assert!(t.held_bytes() < two);
    }

    #[test]
    fn unanswered_requests_past_the_cut_off_are_counted_by_code_string() {
        let mut t = Tracker::new(100);
        let c = Dir::ClientToServer;
        // Pings first, so first-seen order differs from code-string order.
        for n in 0..12 {
            t.await_reply(c, format!("p{n}"), Kind::Ping, at(n));
        }
        for n in 12..23 {
            t.await_reply(c, format!("s{n}"), Kind::Session, at(n));
        }
        let mut summary = Summary::new(7, Transport::Tcp);
        let mut out = Vec::new();
        t.finish(&mut summary, Some(at(100)), 0, &mut out);
        assert_eq!(out.len(), 2 * MAX_UNANSWERED_FINDINGS as usize + 2);
        let tail: Vec<(String, Level, &str)> = out
            .iter()
            .skip(2 * MAX_UNANSWERED_FINDINGS as usize)
            .map(|f| (f.code.to_string(), f.level, f.message.as_str()))
            .collect();
        assert_eq!(
            tail,
            [
                (
                    "xmpp.unanswered_iq".to_owned(),
                    Level::Warn,
                    "1 more unanswered requests like the above"
                ),
                (
                    "xmpp.unanswered_ping".to_owned(),
                    Level::Warn,
                    "2 more unanswered requests like the above"
                ),
            ]
        );
        assert_eq!(summary.pings.unanswered, 12);
    }
}
