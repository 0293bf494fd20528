//! Which XMPP session each BOSH body belongs to, across connections: one
//! session per `sid`, however many TCP connections its long polls used.
//!
//! Takes the HTTP stage's BOSH [`Event`]s in capture order; runs the BOSH
//! checks of [`Sessions`] on each (rid sequence, long-poll cuts) and gives,
//! for each [`Body`], the session it belongs to ([`Route::claim`]), taken
//! out until the caller has fed it the body's stanzas ([`Route::put_back`]).
//! What a session is (`S`, an XMPP session for the wiring) is the caller's:
//! this module only routes. Never holds more than `limits.max_bosh_sessions`
//! sessions: past that the least recently active one is handed back to be
//! finished and reported, to make room.

use std::collections::{BTreeMap, BTreeSet};

use super::{Body, Event, Sessions, MAX_STREAMS_LISTED};
use crate::finding::{Finding, Findings};
use crate::http::bosh::FindingCode;
use crate::limits::Limits;
use crate::position::FrameRef;

/// One BOSH session as routed: its sid, the caller's session and number,
/// and the connections that carried it.
#[derive(Debug)]
pub struct Routed<S> {
    pub sid: String,
    /// The caller's number for the session (its report number).
    pub id: u32,
    pub session: S,
    /// Connections that carried its bodies (at most `MAX_STREAMS_LISTED`).
    pub streams: BTreeSet<u64>,
    /// Its last body, to choose which session makes room.
    last_active: FrameRef,
}

impl<S> Routed<S> {
    /// A session the caller made for `sid` at its first body.
    pub fn new(sid: String, id: u32, session: S, body: &Body) -> Routed<S> {
        Routed {
            sid,
            id,
            session,
            streams: BTreeSet::from([body.stream]),
            last_active: body.first.max(body.last),
        }
    }

    /// The first connection that carried it.
    pub fn first_stream(&self) -> Option<u64> {
        self.streams.iter().next().copied()
    }
}

/// Where a body goes.
#[derive(Debug)]
pub enum Claim<S> {
    /// Nowhere: a body without sid nor stanzas for a session not seen yet.
    Skip,
    /// Its session, taken out of the route until [`Route::put_back`].
    Known(Routed<S>),
    /// A sid not seen yet: the caller makes the session, then puts it back.
    /// `evicted` is the session that made room for it (to finish and report),
    /// with a finding the first time in a capture.
    New {
        sid: String,
        evicted: Option<(Routed<S>, Option<Finding>)>,
    },
}

/// BOSH sessions by sid, and the BOSH checks.
#[derive(Debug)]
pub struct Route<S> {
    checks: Sessions,
    by_sid: BTreeMap<String, Routed<S>>,
    /// `limits.max_bosh_sessions`.
    max_sessions: usize,
    /// A session was finished early to make room (said once per capture).
    evicted: bool,
}

impl<S> Route<S> {
    pub fn new(limits: &Limits) -> Route<S> {
        Route {
            checks: Sessions::new(limits),
            by_sid: BTreeMap::new(),
            max_sessions: limits.max_bosh_sessions,
            evicted: false,
        }
    }

    /// Runs the BOSH checks on one event; findings go to `findings`.
    pub fn check(&mut self, event: &Event, findings: &mut impl Findings) {
        self.checks.on_event(event, findings);
    }

    /// The session `body` belongs to (by its sid, or its request's), noting
    /// the body's connection and time in it.
    pub fn claim(&mut self, body: &Body) -> Claim<S> {
        let sid = body
            .attrs
            .sid
            .clone()
            .or_else(|| body.request.as_ref().and_then(|r| r.attrs.sid.clone()))
            .unwrap_or_else(|| format!("(no sid, stream {})", body.stream));
        match self.by_sid.remove(&sid) {
            Some(mut routed) => {
                Self::note(&mut routed, body);
                Claim::Known(routed)
            }
            None if body.stanzas.is_empty() && body.attrs.sid.is_none() => Claim::Skip,
            None => {
                let evicted = if self.by_sid.len() >= self.max_sessions.max(1) {
                    self.make_room(body.first)
                } else {
                    None
                };
                Claim::New { sid, evicted }
            }
        }
    }

    /// Gives back a claimed session (or a new one, made for [`Claim::New`]).
    pub fn put_back(&mut self, routed: Routed<S>) {
        self.by_sid.insert(routed.sid.clone(), routed);
    }

    fn note(routed: &mut Routed<S>, body: &Body) {
        routed.last_active = routed.last_active.max(body.last);
        if routed.streams.len() < MAX_STREAMS_LISTED {
            routed.streams.insert(body.stream);
        }
    }

    /// Takes out the least recently active session, with a finding the first time.
    fn make_room(&mut self, at: FrameRef) -> Option<(Routed<S>, Option<Finding>)> {
        let oldest = self
            .by_sid
            .values()
            .min_by(|a, b| (a.last_active, a.id).cmp(&(b.last_active, b.id)))
            .map(|x| x.sid.clone());
        let routed = oldest.and_then(|sid| self.by_sid.remove(&sid))?;
        let finding = (!self.evicted).then(|| {
            let message = format!(
                "more than {} BOSH sessions at once: the least recently active (sid {}) is reported as it stood",
                self.max_sessions, routed.sid
            );
            Finding::new(
                FindingCode::SessionLimit,
                message).at(at)
        });
        self.evicted = true;
        Some((routed, finding))
    }

    /// End of capture: every session, in number order, to finish and report.
    pub fn finish(&mut self) -> Vec<Routed<S>> {
        let mut sessions: Vec<Routed<S>> = std::mem::take(&mut self.by_sid).into_values().collect();
        sessions.sort_by_key(|x| x.id);
        sessions
    }

    /// Sessions routed now (claimed ones are the caller's until put back).
    pub fn len(&self) -> usize {
        self.by_sid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_sid.is_empty()
    }

    /// Bytes held now: the BOSH checks' records, sids and stream lists,
    /// plus what `session_bytes` says each session holds.
    pub fn held_bytes(&self, session_bytes: impl Fn(&S) -> usize) -> usize {
        let routed: usize = self
            .by_sid
            .values()
            .map(|r| {
                r.sid.len() * 2
                    + r.streams.len() * std::mem::size_of::<u64>()
                    + session_bytes(&r.session)
            })
            .sum();
        routed + self.checks.held_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::bosh::{Attrs, Role, Stanza};
    use crate::position::{Dir, Timestamp};

    fn body(sid: Option<&str>, frame: u64, stanzas: usize) -> Body {
        let at = FrameRef::new(frame, Timestamp::from_secs_nanos(frame as i64, 0));
        Body {
            stream: frame,
            dir: Dir::ClientToServer,
            role: Role::Request,
            first: at,
            last: at,
            status: None,
            attrs: Attrs {
                sid: sid.map(str::to_owned),
                ..Attrs::default()
            },
            stanzas: (0..stanzas)
                .map(|_| Stanza {
                    name: "presence".to_owned(),
                    xml: "<presence xmlns='jabber:client'/>".to_owned(),
                })
                .collect(),
            error: None,
            request: None,
            held_ms: None,
        }
    }

    /// Routes `b` as the wiring does, numbering new sessions from 1; gives
    /// the evicted sids and findings.
    fn route(r: &mut Route<()>, b: &Body, next: &mut u32) -> Vec<(String, Option<&'static str>)> {
        let mut evicted = Vec::new();
        let routed = match r.claim(b) {
            Claim::Skip => return evicted,
            Claim::Known(routed) => routed,
            Claim::New { sid, evicted: out } => {
                if let Some((old, finding)) = out {
                    evicted.push((old.sid, finding.map(|f| f.code.code())));
                }
                *next += 1;
                Routed::new(sid, *next, (), b)
            }
        };
        r.put_back(routed);
        evicted
    }

    #[test]
    fn past_the_cap_the_least_recently_active_session_makes_room() {
        let limits = Limits {
            max_bosh_sessions: 2,
            ..Limits::default()
        };
        let mut r = Route::new(&limits);
        let mut next = 0;
        let mut evicted = Vec::new();
        for (sid, frame) in [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("d", 5)] {
            evicted.extend(route(&mut r, &body(Some(sid), frame, 1), &mut next));
        }
        // "b" (last seen at frame 2), then "a" (frame 3) made room; said once.
        assert_eq!(
            evicted,
            [
                ("b".to_owned(), Some("bosh.session_limit")),
                ("a".to_owned(), None)
            ]
        );
        assert_eq!(r.len(), 2);
        let left: Vec<(String, u32, Vec<u64>)> = r
            .finish()
            .into_iter()
            .map(|x| (x.sid, x.id, x.streams.into_iter().collect()))
            .collect();
        assert_eq!(
            left,
            [("c".to_owned(), 3, vec![4]), ("d".to_owned(), 4, vec![5])]
        );
        assert!(r.is_empty());
    }

    #[test]
    fn bodies_without_sid_follow_their_request_or_their_connection() {
        let mut r = Route::new(&Limits::default());
        let mut next = 0;
        // Nothing to say and no sid: not a session.
        route(&mut r, &body(None, 1, 0), &mut next);
        assert!(r.is_empty());
        route(&mut r, &body(Some("s1"), 2, 0), &mut next);
        let mut answer = body(None, 3, 1);
        answer.request = Some(crate::http::bosh::RequestRef {
            attrs: Attrs {
                sid: Some("s1".to_owned()),
                ..Attrs::default()
            },
            first: answer.first,
            last: answer.last,
        });
        route(&mut r, &answer, &mut next);
        route(&mut r, &body(None, 7, 1), &mut next);
        let left: Vec<(String, Vec<u64>)> = r
            .finish()
            .into_iter()
            .map(|x| (x.sid, x.streams.into_iter().collect()))
            .collect();
        assert_eq!(
            left,
            [
                ("s1".to_owned(), vec![2, 3]),
                ("(no sid, stream 7)".to_owned(), vec![7])
            ]
        );
    }

    #[test]
    fn held_bytes_counts_sids_streams_and_sessions() {
        let mut r: Route<Vec<u8>> = Route::new(&Limits::default());
        assert_eq!(r.held_bytes(Vec::len), 0);
        let b = body(Some("sid-1"), 1, 1);
        let Claim::New { sid, .. } = r.claim(&b) else {
            panic!("a new sid")
        };
        r.put_back(Routed::new(sid, 1, vec![0; 100], &b));
        assert_eq!(r.held_bytes(Vec::len), 2 * "sid-1".len() + 8 + 100);
        // The BOSH checks keep a record of the session once it is checked.
        r.check(&Event::Body(Box::new(b)), &mut Vec::new());
        assert!(
            r.held_bytes(Vec::len)
                > 2 * "sid-1".len() + 8 + 100 + std::mem::size_of::<super::super::Session>()
        );
    }
}
