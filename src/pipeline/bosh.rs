//! Wires BOSH to XMPP: the HTTP stage's BOSH events go to the capture-wide
//! [`bosh::Route`] (which runs the BOSH checks and says which session each
//! body belongs to), and each body's stanzas to that session's XMPP stage,
//! as if they had come over a socket.
//!
//! Takes BOSH events in capture order; gives report events and the
//! sessions' summaries to the [`Wiring`]. Decides nothing about BOSH or
//! XMPP itself.

use crate::finding::Findings;
use crate::http::bosh;
use crate::pipeline::context::Wiring;
use crate::pipeline::stage_sinks::{StreamFindings, XmppOut};
use crate::report::from_stages::describe_ending;
use crate::report::model::SessionReport;
use crate::xmpp;

/// BOSH sessions by sid: the route owns them between bodies.
pub(crate) type BoshState = bosh::Route<xmpp::Session>;

/// Feeds the BOSH events of connection `stream` (in the order they happened).
pub(crate) fn feed(ctx: &mut Wiring, stream: u64, events: &[bosh::Event]) {
    for event in events {
        // The route is part of the context the findings go to: gather them first.
        let mut found = Vec::new();
        ctx.wide.bosh.check(event, &mut found);
        let mut located = StreamFindings {
            ctx,
            stream,
            session: None,
        };
        for f in found {
            located.push_finding(f);
        }
        if let bosh::Event::Body(body) = event {
            feed_body(ctx, body);
        }
    }
}

fn feed_body(ctx: &mut Wiring, body: &bosh::Body) {
    let mut x = match ctx.wide.bosh.claim(body) {
        bosh::Claim::Skip => return,
        bosh::Claim::Known(routed) => routed,
        bosh::Claim::New { sid, evicted } => {
            if let Some((old, finding)) = evicted {
                if let Some(f) = finding {
                    ctx.finding(f, None, Some(old.id));
                }
                retire(ctx, old);
            }
            let (id, session) = ctx.start_xmpp_session(body.stream, xmpp::Transport::Bosh);
            bosh::Routed::new(sid, id, session, body)
        }
    };
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
    ctx.wide.bosh.put_back(x);
}

/// End of capture: every BOSH XMPP session finishes, in session order.
pub(crate) fn finish(ctx: &mut Wiring) {
    for x in ctx.wide.bosh.finish() {
        retire(ctx, x);
    }
}

/// Finishes a session and keeps its summary.
fn retire(ctx: &mut Wiring, mut x: bosh::Routed<xmpp::Session>) {
    let stream = x.first_stream().unwrap_or(0);
    let mut out = XmppOut::new(ctx, stream, Some(x.id));
    out.session_stream = x.session.summary().stream;
    x.session.finish(&mut out);
    out.flush();
    let summary = x.session.summary().clone();
    ctx.keep_session(SessionReport {
        finesse: Default::default(),
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
    use crate::limits::Limits;
    use crate::position::{Dir, FrameRef, Timestamp};
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
    fn sessions_that_make_room_are_reported_as_they_stood() {
        let limits = Limits {
            max_bosh_sessions: 2,
            ..Limits::default()
        };
        let mut sink = Drop;
        let mut ctx = Wiring::new(limits, false, false, false, &mut sink);
        for (sid, frame) in [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("d", 5)] {
            let event = bosh::Event::Body(Box::new(body(sid, frame)));
            feed(&mut ctx, frame, &[event]);
        }
        let sids: Vec<&str> = ctx
            .sessions
            .iter()
            .filter_map(|s| s.transport_detail.as_deref())
            .collect();
        assert_eq!(sids, ["sid b", "sid a"]);
        finish(&mut ctx);
        assert_eq!(ctx.sessions.len(), 4);
        let findings = std::mem::take(&mut ctx.findings).into_sorted();
        let codes: Vec<&str> = findings.iter().map(|f| f.code.code()).collect();
        assert!(codes.contains(&"bosh.session_limit"), "{codes:?}");
        assert_eq!(ctx.sessions[0].xmpp.stanzas, [1, 0]);
    }

    /// The wiring tells XMPP sessions which nodes Finesse delivers unasked.
    #[test]
    fn subscribing_to_a_finesse_automatic_feed_is_redundant() {
        let mut sink = Drop;
        let mut ctx = Wiring::new(Limits::default(), false, false, false, &mut sink);
        let mut request = body("a", 1);
        request.stanzas = vec![bosh::Stanza {
            name: "iq".to_owned(),
            xml: "<iq type='set' id='s1' to='pubsub.f' xmlns='jabber:client'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='/finesse/api/User/1001/Dialogs' jid='1001@f/desktop'/></pubsub></iq>".to_owned(),
        }];
        feed(&mut ctx, 1, &[bosh::Event::Body(Box::new(request))]);
        finish(&mut ctx);
        let findings = std::mem::take(&mut ctx.findings).into_sorted();
        let redundant: Vec<&str> = findings
            .iter()
            .filter(|f| f.code.code() == "xmpp.subscription_redundant")
            .map(|f| f.message.as_str())
            .collect();
        assert_eq!(
            redundant,
            ["the subscription to /finesse/api/User/1001/Dialogs is redundant: Finesse delivers the Dialogs feed to the user without one"]
        );
    }
}
