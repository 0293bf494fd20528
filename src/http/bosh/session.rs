//! BOSH sessions across connections: one record per sid.
//!
//! Takes [`Event`]s from every connection, in capture order; gives findings
//! for rid repeats and jumps, long polls cut before `wait`, terminations with
//! their condition and HTTP errors, plus a serialisable summary per session.
//! Holds at most `limits.max_bosh_sessions` sessions (least recently active
//! forgotten first). Never re-reads bodies.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::finding::{Finding, Findings, Level};
use crate::limits::Limits;
use crate::position::{Dir, FrameRef};

use super::{millis, Body, Event, FindingCode, Role, Unanswered};

/// TCP streams listed per BOSH session.
pub(crate) const MAX_STREAMS_LISTED: usize = 64;

/// A long poll answered or cut this much before `wait` is still "on time".
const WAIT_SLACK_MS: f64 = 1500.0;

/// What xmppcap knows about one BOSH session.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Session {
    pub sid: String,
    /// Frame of the session creation response (or of the first body seen with this sid).
    pub first: FrameRef,
    pub last_active: FrameRef,
    /// True when the creation request and response were in the capture.
    pub created_in_capture: bool,
    pub to: Option<String>,
    pub wait: Option<u32>,
    pub hold: Option<u32>,
    pub requests: Option<u32>,
    pub inactivity: Option<u32>,
    pub polling: Option<u32>,
    pub last_rid: Option<u64>,
    pub request_count: u64,
    pub response_count: u64,
    /// Empty responses: long polls that ended with nothing to deliver.
    pub empty_responses: u64,
    pub restarts: u64,
    /// Longest time the server held a request, in milliseconds.
    pub max_held_ms: f64,
    /// `type="terminate"` seen, with its condition (empty when none).
    pub terminated: Option<String>,
    /// The client asked to end the session: a plain `terminate` from the
    /// server after that is its acknowledgement, not news.
    #[serde(skip)]
    client_ended: bool,
    /// TCP streams that carried this session's bodies, in order of first use.
    pub streams: Vec<u64>,
}

impl Session {
    fn new(sid: &str, at: FrameRef) -> Session {
        Session {
            sid: sid.to_string(),
            first: at,
            last_active: at,
            created_in_capture: false,
            to: None,
            wait: None,
            hold: None,
            requests: None,
            inactivity: None,
            polling: None,
            last_rid: None,
            request_count: 0,
            response_count: 0,
            empty_responses: 0,
            restarts: 0,
            max_held_ms: 0.0,
            terminated: None,
            client_ended: false,
            streams: Vec::new(),
        }
    }
}

/// Every BOSH session of a capture.
#[derive(Debug)]
pub struct Sessions {
    max: usize,
    by_sid: BTreeMap<String, Session>,
}

fn finding(code: FindingCode, stream: u64, dir: Dir, at: FrameRef, msg: String) -> Finding {
    Finding::new(code, msg).in_stream(stream, Some(dir)).at(at)
}

impl Sessions {
    pub fn new(limits: &Limits) -> Sessions {
        Sessions {
            max: limits.max_bosh_sessions.max(1),
            by_sid: BTreeMap::new(),
        }
    }

    /// The sessions, ordered by sid.
    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.by_sid.values()
    }

    /// Bytes of the session records held now (strings by length).
    pub fn held_bytes(&self) -> usize {
        self.by_sid
            .iter()
            .map(|(sid, s)| {
                let strings = s.sid.len()
                    + s.to.as_ref().map_or(0, String::len)
                    + s.terminated.as_ref().map_or(0, String::len);
                sid.len()
                    + strings
                    + std::mem::size_of::<Session>()
                    + s.streams.len() * std::mem::size_of::<u64>()
            })
            .sum()
    }

    /// Feeds one event from [`super::super::Connection`].
    pub fn on_event(&mut self, event: &Event, findings: &mut impl Findings) {
        match event {
            Event::Body(b) if b.role == Role::Request => self.on_request(b, findings),
            Event::Body(b) => self.on_response(b, findings),
            Event::Unanswered(u) => self.on_unanswered(u, findings),
        }
    }

    fn session(&mut self, sid: &str, at: FrameRef, stream: u64) -> &mut Session {
        if !self.by_sid.contains_key(sid) && self.by_sid.len() >= self.max {
            let oldest = self
                .by_sid
                .values()
                .min_by(|a, b| (a.last_active, &a.sid).cmp(&(b.last_active, &b.sid)))
                .map(|s| s.sid.clone());
            if let Some(old) = oldest {
                self.by_sid.remove(&old);
            }
        }
        let s = self
            .by_sid
            .entry(sid.to_string())
            .or_insert_with(|| Session::new(sid, at));
        s.last_active = s.last_active.max(at);
        // Real sessions use two or three connections; a reused sid may not grow this without end.
        if s.streams.len() < MAX_STREAMS_LISTED && !s.streams.contains(&stream) {
            s.streams.push(stream);
        }
        s
    }

    fn on_request(&mut self, b: &Body, findings: &mut impl Findings) {
        let Some(sid) = b.attrs.sid.as_deref() else {
            return; // a creation request: the response names the session
        };
        let s = self.session(sid, b.first, b.stream);
        s.request_count += 1;
        if b.attrs.restart {
            s.restarts += 1;
        }
        if b.attrs.is_terminate() {
            s.terminated = Some(b.attrs.condition.clone().unwrap_or_default());
            s.client_ended = true;
        }
        let Some(rid) = b.attrs.rid else { return };
        let msg = match s.last_rid {
            Some(last) if rid == last => Some((
                FindingCode::RidRepeat,
                format!("session {sid}: rid {rid} sent again: a retransmission (the client saw no answer to the first one)"),
            )),
            Some(last) if rid < last => Some((
                FindingCode::RidRepeat,
                format!("session {sid}: rid {rid} sent after rid {last}: an old request repeated"),
            )),
            Some(last) if rid > last.saturating_add(1) => Some((
                FindingCode::RidJump,
                format!(
                    "session {sid}: rid jumped from {last} to {rid}: {} request(s) not seen (lost, or on a connection missing from the capture)",
                    rid - last - 1
                ),
            )),
            _ => None,
        };
        s.last_rid = Some(s.last_rid.map_or(rid, |l| l.max(rid)));
        if let Some((code, m)) = msg {
            findings.push_finding(finding(code, b.stream, b.dir, b.first, m));
        }
    }

    fn on_response(&mut self, b: &Body, findings: &mut impl Findings) {
        let req = b.request.as_ref();
        let sid = b
            .attrs
            .sid
            .clone()
            .or_else(|| req.and_then(|r| r.attrs.sid.clone()));
        let creating = req.is_some_and(|r| r.attrs.sid.is_none()) && b.attrs.sid.is_some();
        let Some(sid) = sid else {
            if let Some(status) = b.status.filter(|s| *s != 200) {
                let m =
                    format!("BOSH request answered with HTTP {status} before a session existed");
                findings.push_finding(finding(FindingCode::HttpError, b.stream, b.dir, b.first, m));
            }
            return;
        };
        let s = self.session(&sid, b.first, b.stream);
        s.response_count += 1;
        if creating {
            s.created_in_capture = true;
            let r = req.map(|r| &r.attrs);
            s.to = r.and_then(|a| a.to.clone());
            s.wait = b.attrs.wait.or(r.and_then(|a| a.wait));
            s.hold = b.attrs.hold.or(r.and_then(|a| a.hold));
            s.requests = b.attrs.requests;
            s.inactivity = b.attrs.inactivity;
            s.polling = b.attrs.polling;
            s.last_rid = r.and_then(|a| a.rid);
        }
        if let Some(held) = b.held_ms {
            s.max_held_ms = s.max_held_ms.max(held);
        }
        if b.is_empty_poll() {
            s.empty_responses += 1;
        }
        let rid = req.and_then(|r| r.attrs.rid);
        let wait = s.wait;
        if b.attrs.is_terminate() {
            let cond = b.attrs.condition.clone().unwrap_or_default();
            let acknowledged = cond.is_empty() && s.client_ended;
            s.terminated = Some(cond.clone());
            if !acknowledged {
                findings.push_finding(terminated(b, &sid, rid, &cond));
            }
        }
        if let Some(status) = b.status.filter(|s| *s != 200) {
            findings.push_finding(http_error(b, &sid, rid, status, wait));
        }
    }

    fn on_unanswered(&mut self, u: &Unanswered, findings: &mut impl Findings) {
        let attrs = &u.request.attrs;
        let held = millis(u.request.last, u.ended);
        let sid = attrs.sid.clone();
        let wait = sid
            .as_deref()
            .and_then(|sid| self.by_sid.get(sid))
            .and_then(|s| s.wait)
            .or(attrs.wait);
        if !u.closed {
            return; // the capture stopped while the poll was held: nothing to say
        }
        let rid = attrs.rid.map_or_else(|| "?".to_string(), |r| r.to_string());
        let sid_txt = sid.unwrap_or_else(|| "(new)".to_string());
        let (code, m) = match wait {
            Some(w) if held + WAIT_SLACK_MS < f64::from(w) * 1000.0 => (
                FindingCode::PollCut,
                format!(
                    "session {sid_txt}: long poll rid {rid} cut after {:.1} s, before wait={w} s elapsed: something between client and server (proxy, load balancer, firewall) closes long polls",
                    held / 1000.0
                ),
            ),
            _ => (
                FindingCode::PollUnanswered,
                format!(
                    "session {sid_txt}: request rid {rid} got no answer; the connection closed {:.1} s later",
                    held / 1000.0
                ),
            ),
        };
        findings.push_finding(finding(code, u.stream, Dir::ClientToServer, u.ended, m));
    }
}

fn rid_text(rid: Option<u64>) -> String {
    rid.map_or_else(|| "?".to_string(), |r| r.to_string())
}

fn held_text(b: &Body) -> String {
    b.held_ms
        .map_or_else(String::new, |h| format!(" after {:.1} s", h / 1000.0))
}

/// The server ended the session with `type="terminate"`.
fn terminated(b: &Body, sid: &str, rid: Option<u64>, cond: &str) -> Finding {
    let (level, why) = match cond {
        "" => (Level::Info, "normal end".to_string()),
        "item-not-found" => (Level::Error, "item-not-found: the server did not know the session or the rid was out of its window (a repeated or skipped request)".to_string()),
        "policy-violation" => (Level::Error, "policy-violation: the client broke a session rule (too many requests, polling too fast)".to_string()),
        "host-gone" | "system-shutdown" | "remote-connection-failed" => {
            (Level::Error, format!("{cond}: the server side went away"))
        }
        other => (Level::Error, other.to_string()),
    };
    let m = format!(
        "session {sid} terminated by the server (answer to rid {}{}): {why}",
        rid_text(rid),
        held_text(b)
    );
    // A terminate without a condition is the normal end of a session.
    finding(FindingCode::Terminate, b.stream, b.dir, b.first, m).with_level(level)
}

/// A BOSH request answered with an HTTP error status.
fn http_error(b: &Body, sid: &str, rid: Option<u64>, status: u16, wait: Option<u32>) -> Finding {
    let cut = matches!((b.held_ms, wait), (Some(h), Some(w)) if h + WAIT_SLACK_MS < f64::from(w) * 1000.0);
    let proxy = if cut && matches!(status, 502..=504) {
        ", before wait elapsed: a proxy or load balancer between client and server likely answered"
    } else {
        ""
    };
    let m = format!(
        "session {sid}: rid {} answered with HTTP {status}{}{proxy}",
        rid_text(rid),
        held_text(b)
    );
    finding(FindingCode::HttpError, b.stream, b.dir, b.first, m)
}
