//! BOSH across connections: one XMPP session per BOSH `sid`, however many
//! TCP connections its long polls used.
//!
//! Takes the HTTP stage's BOSH events in capture order; gives each body's
//! stanzas to the session's XMPP stage as if they had come over a socket,
//! and the BOSH checks (rid sequence, long-poll cuts) to `http::bosh::Sessions`.
//! Never holds more than `limits.max_bosh_sessions` sessions.

use std::collections::{BTreeMap, BTreeSet};

use crate::http::bosh;
use crate::pipeline::adapters::{StreamFindings, XmppOut};
use crate::pipeline::context::Context;
use crate::xmpp;

#[derive(Default)]
pub(crate) struct BoshState {
    checks: Option<bosh::Sessions>,
    by_sid: BTreeMap<String, BoshXmpp>,
}

pub(crate) struct BoshXmpp {
    pub sid: String,
    pub session: xmpp::Session,
    pub id: u32,
    pub streams: BTreeSet<u64>,
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
        if ctx.bosh.by_sid.len() >= ctx.limits.max_bosh_sessions
            || (body.stanzas.is_empty() && body.attrs.sid.is_none())
        {
            return;
        }
        let mut session = xmpp::Session::new(
            body.stream,
            xmpp::Transport::Bosh,
            &ctx.limits,
            ctx.show_secrets,
        );
        if ctx.depth != crate::pipeline::Depth::Finesse {
            session.skip_notifications();
        }
        let id = ctx.new_session();
        ctx.bosh.by_sid.insert(
            sid.clone(),
            BoshXmpp {
                sid: sid.clone(),
                session,
                id,
                streams: BTreeSet::new(),
            },
        );
    }
    // Take the session out so the XMPP stage can write events into the context.
    let Some(mut x) = ctx.bosh.by_sid.remove(&sid) else {
        return;
    };
    if x.streams.len() < bosh::MAX_STREAMS_LISTED {
        x.streams.insert(body.stream);
    }
    let mut out = XmppOut::new(ctx, body.stream, Some(x.id));
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

/// End of capture: every BOSH XMPP session finishes.
pub(crate) fn finish(ctx: &mut Context) -> Vec<BoshXmpp> {
    let sessions = std::mem::take(&mut ctx.bosh.by_sid);
    let mut done = Vec::new();
    for (_, mut x) in sessions {
        let stream = x.streams.iter().next().copied().unwrap_or(0);
        let mut out = XmppOut::new(ctx, stream, Some(x.id));
        x.session.finish(&mut out);
        out.flush();
        done.push(x);
    }
    done.sort_by_key(|x| x.id);
    done
}
