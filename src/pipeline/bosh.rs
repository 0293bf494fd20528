//! BOSH across connections: one XMPP session per BOSH `sid`, however many
//! TCP connections its long polls used.
//!
//! Takes the HTTP stage's BOSH events in capture order; gives each body's
//! stanzas to the session's XMPP stage as if they had come over a socket,
//! and the BOSH checks (rid sequence, long-poll cuts) to `http::bosh::Sessions`.
//! Never holds more than `limits.max_bosh_sessions` sessions: past that the
//! least recently active one is finished and reported to make room.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::FrameRef;
use crate::finding::{Finding, Layer, Level};
use crate::http::bosh;
use crate::pipeline::adapters::{StreamFindings, XmppOut};
use crate::pipeline::context::Context;
use crate::pipeline::describe_ending;
use crate::report::model::SessionReport;
use crate::xmpp;

#[derive(Default)]
pub(crate) struct BoshState {
    checks: Option<bosh::Sessions>,
    by_sid: BTreeMap<String, BoshXmpp>,
    /// A session was finished early to make room.
    evicted: bool,
}

pub(crate) struct BoshXmpp {
    pub sid: String,
    pub session: xmpp::Session,
    pub id: u32,
    pub streams: BTreeSet<u64>,
    /// Its last body, to choose which session makes room.
    last_active: FrameRef,
}

/// Feeds the BOSH events of connection `stream` (in the order they happened).
pub(crate) fn feed(ctx: &mut Context, stream: u64, events: &[bosh::Event]) {
    for event in events {
        let mut checks = ctx
            .bosh
            .checks
            .take()
            .unwrap_or_else(|| bosh::Sessions::new(&ctx.limits));
        checks.on_event(
            event,
            &mut StreamFindings {
                ctx,
                stream,
                session: None,
            },
        );
        ctx.bosh.checks = Some(checks);
        if let bosh::Event::Body(body) = event {
            feed_body(ctx, body);
        }
    }
}

fn feed_body(ctx: &mut Context, body: &bosh::Body) {
    let sid = body
        .attrs
        .sid
        .clone()
        .or_else(|| body.request.as_ref().and_then(|r| r.attrs.sid.clone()))
        .unwrap_or_else(|| format!("(no sid, stream {})", body.stream));
    if !ctx.bosh.by_sid.contains_key(&sid) {
        if body.stanzas.is_empty() && body.attrs.sid.is_none() {
            return;
        }
        if ctx.bosh.by_sid.len() >= ctx.limits.max_bosh_sessions.max(1) {
            make_room(ctx, body.first);
        }
        let (id, session) = ctx.start_xmpp_session(body.stream, xmpp::Transport::Bosh);
        ctx.bosh.by_sid.insert(
            sid.clone(),
            BoshXmpp {
                sid: sid.clone(),
                session,
                id,
                streams: BTreeSet::new(),
                last_active: body.first,
            },
        );
    }
    // Take the session out so the XMPP stage can write events into the context.
    let Some(mut x) = ctx.bosh.by_sid.remove(&sid) else {
        return;
    };
    x.last_active = x.last_active.max(body.last);
    if x.streams.len() < bosh::MAX_STREAMS_LISTED {
        x.streams.insert(body.stream);
    }
    let mut out = XmppOut::new(ctx, body.stream, Some(x.id));
    out.session_stream = x.session.summary().stream;
    if body.attrs.restart {
        x.session.on_bosh_restart(body.dir, body.first);
    }
    for stanza in &body.stanzas {
        x.session.on_element_spanning(
            body.dir,
            body.first,
            body.last,
            stanza.xml.as_bytes(),
            &mut out,
        );
    }
    if body.attrs.is_terminate() {
        let how = xmpp::Ending::BoshTerminate {
            condition: body.attrs.condition.clone(),
            by: body.dir,
        };
        x.session.on_transport_end(Some(body.first), how, &mut out);
    }
    out.flush();
    ctx.bosh.by_sid.insert(sid, x);
}

/// Finishes the least recently active session (said once per capture).
fn make_room(ctx: &mut Context, at: FrameRef) {
    let oldest = ctx
        .bosh
        .by_sid
        .values()
        .min_by(|a, b| (a.last_active, a.id).cmp(&(b.last_active, b.id)))
        .map(|x| x.sid.clone());
    let Some(x) = oldest.and_then(|sid| ctx.bosh.by_sid.remove(&sid)) else {
        return;
    };
    if !ctx.bosh.evicted {
        ctx.bosh.evicted = true;
        let cap = ctx.limits.max_bosh_sessions;
        let message = format!(
            "more than {cap} BOSH sessions at once: the least recently active (sid {}) is reported as it stood",
            x.sid
        );
        let f = Finding::new(Level::Warn, Layer::Bosh, "bosh.session_limit", message).at(at);
        ctx.finding(f, None, Some(x.id));
    }
    retire(ctx, x);
}

/// End of capture: every BOSH XMPP session finishes, in session order.
pub(crate) fn finish(ctx: &mut Context) {
    let mut sessions: Vec<BoshXmpp> = std::mem::take(&mut ctx.bosh.by_sid).into_values().collect();
    sessions.sort_by_key(|x| x.id);
    for x in sessions {
        retire(ctx, x);
    }
}

/// Finishes a session and keeps its summary.
fn retire(ctx: &mut Context, mut x: BoshXmpp) {
    let stream = x.streams.iter().next().copied().unwrap_or(0);
    let mut out = XmppOut::new(ctx, stream, Some(x.id));
    out.session_stream = x.session.summary().stream;
    x.session.finish(&mut out);
    out.flush();
    let summary = x.session.summary().clone();
    ctx.keep_session(SessionReport {
        id: x.id,
        streams: x.streams.iter().copied().collect(),
        client: None,
        server: None,
        tls: None,
        transport_detail: Some(format!("sid {}", x.sid)),
        start: summary.first.map(|a| a.ts),
        end: summary.last_seen().map(|a| a.ts),
        ended: describe_ending(&summary),
        xmpp: summary,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::{Dir, Timestamp};
    use crate::limits::Limits;
    use crate::report::event::Event;

    struct Drop;
    impl crate::pipeline::EventSink for Drop {
        fn emit(&mut self, _: Event) {}
    }

    fn body(sid: &str, frame: u64) -> bosh::Body {
        let at = FrameRef::new(frame, Timestamp::from_secs_nanos(frame as i64, 0));
        bosh::Body {
            stream: frame,
            dir: Dir::ClientToServer,
            role: bosh::Role::Request,
            first: at,
            last: at,
            status: None,
            attrs: bosh::Attrs {
                sid: Some(sid.to_owned()),
                ..bosh::Attrs::default()
            },
            stanzas: vec![bosh::Stanza {
                name: "presence".to_owned(),
                xml: "<presence xmlns='jabber:client'/>".to_owned(),
            }],
            error: None,
            request: None,
            held_ms: None,
        }
    }

    #[test]
    fn past_the_cap_the_least_recently_active_session_is_reported_and_room_made() {
        let limits = Limits {
            max_bosh_sessions: 2,
            ..Limits::default()
        };
        let mut sink = Drop;
        let mut ctx = Context::new(limits, false, false, false, &mut sink);
        for (sid, frame) in [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("d", 5)] {
            feed_body(&mut ctx, &body(sid, frame));
        }
        // "b" (last seen at frame 2), then "a" (frame 3) made room.
        let sids: Vec<&str> = ctx
            .sessions
            .iter()
            .filter_map(|s| s.transport_detail.as_deref())
            .collect();
        assert_eq!(sids, ["sid b", "sid a"]);
        assert_eq!(ctx.bosh.by_sid.len(), 2);
        finish(&mut ctx);
        assert_eq!(ctx.sessions.len(), 4);
        let findings = std::mem::take(&mut ctx.findings).into_sorted();
        let codes: Vec<&str> = findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, ["bosh.session_limit"]);
    }
}
