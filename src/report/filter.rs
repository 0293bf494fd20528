//! Narrowing a report to what the reader asked for: some TCP streams, one
//! agent's sessions, a time window, or the summary without timelines.
//!
//! Takes a [`Filter`] (built by the command line) and a finished [`Report`]
//! or, for NDJSON, events as they stream; gives the report with only the
//! sessions, connections, desktops, agents' stories, events and findings
//! inside the filter,
//! so that every renderer (table, JSON, NDJSON, HTML) and the exit code see
//! the same narrowed model. Never invents or rewrites a fact: it only
//! leaves things out, and the filter itself is carried to the output so the
//! reader knows something was left out.

use std::collections::BTreeSet;

use serde::{Serialize, Serializer};

use crate::finding::Finding;
use crate::position::Timestamp;
use crate::report::agents::AgentStory;
use crate::report::event::Event;
use crate::report::model::{Report, SessionReport};

/// One end of a time window, as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bound {
    /// An absolute time (RFC 3339).
    At(Timestamp),
    /// Nanoseconds after the capture's first packet (`+90s`).
    AfterStart(i64),
}

/// What the reader asked to see. Serialised (JSON's `filter` object, NDJSON's
/// `capture.start`) with the window ends as they were typed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Filter {
    /// TCP streams (`tcp.stream`) to keep; empty keeps every stream.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<u64>,
    /// Agent login id (the JID's local part or the SASL user) whose sessions to keep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<WindowEnd>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<WindowEnd>,
    /// Headers, connection stories and findings only: no timelines.
    #[serde(skip_serializing_if = "is_false")]
    pub summary: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A window end: what was typed, and what it means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowEnd {
    pub typed: String,
    pub bound: Bound,
}

impl Serialize for WindowEnd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.typed)
    }
}

/// The filter resolved against one capture: absolute window ends and the
/// streams and sessions it keeps.
#[derive(Clone, Debug)]
pub struct Scope {
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    /// `None` keeps every stream.
    streams: Option<BTreeSet<u64>>,
    /// `None` keeps every session.
    sessions: Option<BTreeSet<u32>>,
    /// Streams were asked for (`--stream`), not only implied by `--agent`.
    asked_streams: bool,
}

impl Filter {
    /// Whether the filter leaves anything out at all.
    pub fn is_active(&self) -> bool {
        !self.streams.is_empty()
            || self.agent.is_some()
            || self.since.is_some()
            || self.until.is_some()
            || self.summary
    }

    /// The filter's words for a report header: `stream 3, agent 1001, since +90s`.
    pub fn describe(&self) -> String {
        let mut words = Vec::new();
        if !self.streams.is_empty() {
            let streams: Vec<String> = self.streams.iter().map(u64::to_string).collect();
            let noun = if self.streams.len() == 1 {
                "stream"
            } else {
                "streams"
            };
            words.push(format!("{noun} {}", streams.join(", ")));
        }
        if let Some(agent) = &self.agent {
            words.push(format!("agent {agent}"));
        }
        if let Some(since) = &self.since {
            words.push(format!("since {}", since.typed));
        }
        if let Some(until) = &self.until {
            words.push(format!("until {}", until.typed));
        }
        if self.summary {
            words.push("summary (no timelines)".to_owned());
        }
        words.join(", ")
    }

    /// The window ends as times of this capture (offsets count from `start`,
    /// the capture's first packet), and the streams kept.
    pub fn scope(&self, start: Option<Timestamp>) -> Scope {
        let resolve = |end: &Option<WindowEnd>| {
            end.as_ref().and_then(|e| match e.bound {
                Bound::At(t) => Some(t),
                Bound::AfterStart(n) => start
                    .map(|s| Timestamp::from_nanos_i128(i128::from(s.as_nanos()) + i128::from(n))),
            })
        };
        Scope {
            since: resolve(&self.since),
            until: resolve(&self.until),
            streams: (!self.streams.is_empty()).then(|| self.streams.iter().copied().collect()),
            sessions: None,
            asked_streams: !self.streams.is_empty(),
        }
    }

    /// Narrows `report` in place: see the module doc. Every section is
    /// narrowed alike: sessions, connections, events, findings, and the
    /// desktops' and agents' stories ([`stories`]).
    pub fn apply(&self, report: &mut Report) {
        if !self.is_active() {
            return;
        }
        let mut scope = self.scope(report.capture.first_time);
        if let Some(agent) = &self.agent {
            report.agents.retain(|a| a.agent == *agent);
            scope.keep_agent(agent, &report.sessions, report.agents.first());
        }
        report.sessions.retain(|s| scope.keeps_session(s));
        let session_streams: BTreeSet<u64> = report
            .sessions
            .iter()
            .flat_map(|s| s.streams.iter().copied())
            .collect();
        report.timeline.retain(|e| scope.keeps_event(e));
        let event_streams: BTreeSet<u64> =
            report.timeline.iter().filter_map(|e| e.stream).collect();
        let windowed = scope.since.is_some() || scope.until.is_some();
        report.connections.retain(|c| {
            scope.keeps_stream(c.stream)
                && (!windowed
                    || session_streams.contains(&c.stream)
                    || event_streams.contains(&c.stream)
                    || c.summary
                        .as_ref()
                        .is_some_and(|s| scope.overlaps(Some(s.first.ts), s.ended.time)))
        });
        report.desktops.retain_mut(|d| scope.narrow_desktop(d));
        report.findings.retain(|f| scope.keeps_finding(f));
        // What the filter kept is all that is in scope: no count beyond it.
        report.connections_seen = report.connections.len() as u64;
        report.sessions_seen = report.sessions.len() as u64;
        report.agents.retain_mut(|a| scope.narrow_agent(a));
        if self.summary {
            report.timeline.clear();
            report.timeline_dropped = 0;
        }
    }

    /// The agents' stories of one capture narrowed as [`Filter::apply`]
    /// narrows the report's (NDJSON's `agent.summary`, written after the
    /// capture). `start` is where offsets in the window count from.
    pub fn narrow_agents(
        &self,
        agents: &mut Vec<AgentStory>,
        sessions: &[SessionReport],
        start: Option<Timestamp>,
    ) {
        if !self.is_active() {
            return;
        }
        let mut scope = self.scope(start);
        if let Some(agent) = &self.agent {
            agents.retain(|a| a.agent == *agent);
            scope.keep_agent(agent, sessions, agents.first());
        }
        agents.retain_mut(|a| scope.narrow_agent(a));
    }
}

impl Scope {
    /// Keeps only the sessions of `agent` (JID local part or SASL user),
    /// their streams and the other streams of its story (REST calls,
    /// connection attempts from its desktop).
    fn keep_agent(&mut self, agent: &str, sessions: &[SessionReport], story: Option<&AgentStory>) {
        let theirs: Vec<&SessionReport> = sessions.iter().filter(|s| is_agents(s, agent)).collect();
        let mut streams: BTreeSet<u64> = theirs
            .iter()
            .flat_map(|s| s.streams.iter().copied())
            .collect();
        if let Some(a) = story {
            streams.extend(a.connections.iter().map(|c| c.stream));
            streams.extend(a.rest_calls.iter().map(|r| r.call.stream));
        }
        self.streams = Some(match self.streams.take() {
            Some(asked) => asked.intersection(&streams).copied().collect(),
            None => streams,
        });
        self.sessions = Some(theirs.iter().map(|s| s.id).collect());
    }

    fn keeps_stream(&self, stream: u64) -> bool {
        self.streams.as_ref().is_none_or(|s| s.contains(&stream))
    }

    fn in_window(&self, time: Option<Timestamp>) -> bool {
        match time {
            Some(t) => self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u),
            None => self.since.is_none() && self.until.is_none(),
        }
    }

    fn keeps_session(&self, s: &SessionReport) -> bool {
        let chosen = self.sessions.as_ref().is_none_or(|ids| ids.contains(&s.id));
        let on_streams =
            self.streams.is_none() || s.streams.iter().any(|&st| self.keeps_stream(st));
        // A session overlapping the window is kept (its header says when it ran).
        let start_ok = self.until.is_none_or(|u| s.start.is_none_or(|t| t <= u));
        let end_ok = self
            .since
            .is_none_or(|since| s.end.is_none_or(|t| t >= since));
        chosen && on_streams && start_ok && end_ok
    }

    /// Whether an event is inside the filter: on a kept stream (or of a
    /// kept session) and in the window.
    pub fn keeps_event(&self, e: &Event) -> bool {
        let placed = match (e.stream, e.session) {
            (_, Some(id)) if self.sessions.as_ref().is_some_and(|ids| ids.contains(&id)) => true,
            (Some(stream), _) => self.keeps_stream(stream),
            (None, _) => self.streams.is_none(),
        };
        placed && self.in_window(e.time)
    }

    /// Whether a finding is inside the filter: on a kept stream and in the window.
    pub fn keeps_finding(&self, f: &Finding) -> bool {
        let placed = match f.stream {
            Some(stream) => self.keeps_stream(stream),
            None => self.streams.is_none(),
        };
        placed && self.in_window(f.time)
    }
}

/// Whether session `s` is agent `agent`'s: the bound JID's local part, or
/// the SASL user when no JID was bound.
fn is_agents(s: &SessionReport, agent: &str) -> bool {
    let local = |jid: &str| jid.split('@').next().map(str::to_owned);
    let from_jid = s.xmpp.jid.as_deref().and_then(local);
    let from_sasl = s
        .xmpp
        .sasl
        .as_ref()
        .and_then(|a| a.user.as_deref())
        .and_then(local);
    from_jid.as_deref() == Some(agent) || from_sasl.as_deref() == Some(agent)
}

mod stories;

#[cfg(test)]
mod tests;
