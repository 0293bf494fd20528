//! Looks across the XMPP sessions of a capture for what no single session
//! shows: a user reconnecting, reconnecting to another server (failover),
//! or a connect/disconnect loop.
//!
//! Takes the facts of each finished session ([`SessionFacts`]) as the
//! capture-wide layer files it, in any order; gives findings at the end of
//! the capture ([`Reconnects::findings`]). Holds one small record per
//! session fed (the wiring feeds only the sessions it keeps a summary of,
//! so `max_summaries` bounds it); never sees payload.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::Summary;
use crate::finding::Finding;
use crate::position::{FrameRef, Timestamp};
use crate::words;
use crate::xmpp::FindingCode;

/// Sessions shorter than this, several in a row, make a loop.
const SHORT_SESSION_NANOS: i64 = 60_000_000_000;
/// Short sessions in a row that make a loop.
const LOOP_SESSIONS: usize = 3;

/// What the reconnect analysis needs of one finished session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionFacts {
    /// The session's number in the report.
    pub id: u32,
    /// The SASL user, else the JID's local part: after a failover the same
    /// agent has a JID on another node. Sessions without one are not followed.
    pub user: Option<String>,
    /// The server it reached (unknown for BOSH until its connections are matched).
    pub server: Option<SocketAddr>,
    /// When it started (its connection's first packet) and its last moment.
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    /// Its first stanza, where a finding about it points.
    pub first: Option<FrameRef>,
    /// The first connection that carried it.
    pub first_stream: Option<u64>,
    /// How it ended, in words.
    pub ended: String,
}

impl SessionFacts {
    /// The user a session's summary names: its SASL user, else its JID's local part.
    pub fn user_of(summary: &Summary) -> Option<String> {
        let sasl = summary.sasl.as_ref().and_then(|a| a.user.clone());
        sasl.or_else(|| {
            summary
                .jid
                .as_deref()
                .map(|j| j.split(['@', '/']).next().unwrap_or(j).to_owned())
        })
    }
}

/// The sessions of a capture, by user, waiting for the end of the capture.
#[derive(Debug, Default)]
pub struct Reconnects {
    by_user: BTreeMap<String, Vec<SessionFacts>>,
}

impl Reconnects {
    /// One finished session (sessions without a user are not followed).
    pub fn on_session(&mut self, facts: SessionFacts) {
        if let Some(user) = facts.user.clone() {
            self.by_user.entry(user).or_default().push(facts);
        }
    }

    /// Findings about reconnections, per user in user order.
    pub fn findings(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        for (user, list) in &self.by_user {
            let mut list: Vec<&SessionFacts> = list.iter().collect();
            list.sort_by_key(|s| (s.start, s.id));
            for pair in list.windows(2) {
                if let [a, b] = pair {
                    findings.extend(reconnect(user, a, b));
                }
            }
            findings.extend(reconnect_loop(user, &list));
        }
        findings
    }

    /// Bytes of the records held now.
    pub fn held_bytes(&self) -> usize {
        self.by_user
            .iter()
            .map(|(user, list)| {
                let each: usize = list
                    .iter()
                    .map(|s| {
                        std::mem::size_of::<SessionFacts>()
                            + s.user.as_ref().map_or(0, String::len)
                            + s.ended.len()
                    })
                    .sum();
                user.len() + each
            })
            .sum()
    }
}

/// `b` started after `a` ended: a reconnection, to another server or not.
fn reconnect(user: &str, a: &SessionFacts, b: &SessionFacts) -> Option<Finding> {
    let (Some(a_end), Some(b_start)) = (a.end, b.start) else {
        return None;
    };
    if b_start < a_end {
        return None;
    }
    let after = words::duration_nanos(b_start.nanos_since(a_end));
    let moved = a.server.zip(b.server).filter(|(x, y)| x.ip() != y.ip());
    let finding = match moved {
        Some((from, to)) => Finding::new(
            FindingCode::Failover,
            format!(
                "{user} reconnected to another server {after} after session {} ended ({}): {from} → {to} (session {})",
                a.id, a.ended, b.id
            ),
        ),
        None => Finding::new(
            FindingCode::Reconnect,
            format!("{user} reconnected {after} after session {} ended ({}) (session {})", a.id, a.ended, b.id),
        ),
    };
    let finding = match b.first {
        Some(at) => finding.at(at),
        None => finding,
    };
    Some(match b.first_stream {
        Some(stream) => finding.in_stream(stream, None),
        None => finding,
    })
}

/// Several short sessions in a row: the desktop keeps connecting and dropping.
fn reconnect_loop(user: &str, list: &[&SessionFacts]) -> Option<Finding> {
    let short = |s: &&&SessionFacts| match (s.start, s.end) {
        (Some(a), Some(b)) => b.nanos_since(a) < SHORT_SESSION_NANOS,
        _ => false,
    };
    let run: Vec<&&SessionFacts> = list.iter().filter(short).collect();
    if run.len() < LOOP_SESSIONS {
        return None;
    }
    let (first, last) = (run.first()?, run.last()?);
    let span = match (first.start, last.end) {
        (Some(a), Some(b)) => words::duration_nanos(b.nanos_since(a)),
        _ => "?".to_owned(),
    };
    let finding = Finding::new(
        FindingCode::ReconnectLoop,
        format!(
            "{user} had {} sessions shorter than a minute within {span} (sessions {} to {}): a connect/disconnect loop",
            run.len(),
            first.id,
            last.id
        ),
    );
    Some(match first.first {
        Some(at) => finding.at(at),
        None => finding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Level;

    fn session(id: u32, user: &str, server: &str, start_s: i64, end_s: i64) -> SessionFacts {
        SessionFacts {
            id,
            user: Some(user.to_owned()),
            server: Some(server.parse().unwrap()),
            start: Some(Timestamp::from_secs_nanos(start_s, 0)),
            end: Some(Timestamp::from_secs_nanos(end_s, 0)),
            first: Some(FrameRef::new(
                u64::from(id) * 100,
                Timestamp::from_secs_nanos(start_s, 0),
            )),
            first_stream: Some(u64::from(id)),
            ended: "TCP reset by the server".to_owned(),
        }
    }

    fn reconnect_findings(sessions: &[SessionFacts]) -> Vec<Finding> {
        let mut r = Reconnects::default();
        for s in sessions {
            r.on_session(s.clone());
        }
        r.findings()
    }

    fn codes(findings: &[Finding]) -> Vec<&'static str> {
        findings.iter().map(|f| f.code.code()).collect()
    }

    #[test]
    fn the_user_is_the_sasl_user_else_the_jid_local_part() {
        let mut s = Summary::new(1, super::super::Transport::WebSocket);
        assert_eq!(SessionFacts::user_of(&s), None);
        s.jid = Some("1001@finesse2.example.com/desktop".to_owned());
        assert_eq!(SessionFacts::user_of(&s).as_deref(), Some("1001"));
        s.sasl = Some(super::super::Sasl {
            user: Some("agent1".to_owned()),
            ..Default::default()
        });
        assert_eq!(SessionFacts::user_of(&s).as_deref(), Some("agent1"));
    }

    #[test]
    fn sessions_without_a_user_are_not_followed_and_held_bytes_grows() {
        let mut r = Reconnects::default();
        let mut anonymous = session(1, "x", "10.0.0.5:8445", 0, 1);
        anonymous.user = None;
        r.on_session(anonymous);
        assert_eq!(r.held_bytes(), 0);
        r.on_session(session(2, "1001", "10.0.0.5:8445", 0, 1));
        assert!(r.held_bytes() >= std::mem::size_of::<SessionFacts>() + 2 * "1001".len());
    }

    #[test]
    fn a_reconnect_to_the_same_server_is_info_and_to_another_a_failover() {
        let same = [
            session(1, "1001", "10.0.0.5:8445", 0, 100),
            session(2, "1001", "10.0.0.5:8445", 103, 400),
        ];
        let f = reconnect_findings(&same);
        assert_eq!(codes(&f), ["xmpp.reconnect"]);
        assert_eq!(
            (f[0].level, f[0].frame, f[0].stream),
            (Level::Info, Some(200), Some(2))
        );
        assert!(
            f[0].message.contains("3.000 s after session 1"),
            "{}",
            f[0].message
        );
        let moved = [
            session(1, "1001", "10.0.0.5:8445", 0, 100),
            session(2, "1001", "10.0.0.6:8445", 107, 400),
        ];
        let f = reconnect_findings(&moved);
        assert_eq!(codes(&f), ["xmpp.failover"]);
        assert!(
            f[0].message.contains("10.0.0.5:8445 → 10.0.0.6:8445"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn overlapping_sessions_and_other_users_are_not_reconnects() {
        let s = [
            session(1, "1001", "10.0.0.5:8445", 0, 100),
            session(2, "1001", "10.0.0.5:8445", 50, 400),
            session(3, "1002", "10.0.0.5:8445", 500, 600),
        ];
        assert!(reconnect_findings(&s).is_empty());
    }

    #[test]
    fn three_short_sessions_make_a_loop() {
        let s = [
            session(1, "1001", "10.0.0.5:8445", 0, 15),
            session(2, "1001", "10.0.0.5:8445", 17, 33),
            session(3, "1001", "10.0.0.5:8445", 35, 52),
        ];
        let f = reconnect_findings(&s);
        assert_eq!(
            codes(&f),
            ["xmpp.reconnect", "xmpp.reconnect", "xmpp.reconnect_loop"]
        );
        assert_eq!(f[2].level, Level::Warn);
        assert!(
            f[2].message.contains("3 sessions shorter than a minute"),
            "{}",
            f[2].message
        );
    }
}
