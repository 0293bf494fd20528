//! Looks across the XMPP sessions of a capture for what no single session
//! shows: a user reconnecting, reconnecting to another server (failover),
//! or a connect/disconnect loop.
//!
//! Takes the finished session reports; gives findings. Pure.

use std::collections::BTreeMap;

use crate::finding::{Finding, Layer, Level};
use crate::report::model::SessionReport;
use crate::report::text;

/// Sessions shorter than this, several in a row, make a loop.
const SHORT_SESSION_NANOS: i64 = 60_000_000_000;
/// Short sessions in a row that make a loop.
const LOOP_SESSIONS: usize = 3;

/// Findings about reconnections, per user (the SASL user, else the JID's
/// local part: after a failover the same agent has a JID on another node).
pub(crate) fn reconnect_findings(sessions: &[SessionReport]) -> Vec<Finding> {
    let mut by_user: BTreeMap<String, Vec<&SessionReport>> = BTreeMap::new();
    for s in sessions {
        if let Some(user) = user_of(s) {
            by_user.entry(user).or_default().push(s);
        }
    }
    let mut findings = Vec::new();
    for (user, mut list) in by_user {
        list.sort_by_key(|s| (s.start, s.id));
        for pair in list.windows(2) {
            if let [a, b] = pair {
                findings.extend(reconnect(&user, a, b));
            }
        }
        findings.extend(reconnect_loop(&user, &list));
    }
    findings
}

fn user_of(s: &SessionReport) -> Option<String> {
    let sasl = s.xmpp.sasl.as_ref().and_then(|a| a.user.clone());
    sasl.or_else(|| {
        s.xmpp
            .jid
            .as_deref()
            .map(|j| j.split(['@', '/']).next().unwrap_or(j).to_owned())
    })
}

/// `b` started after `a` ended: a reconnection, to another server or not.
fn reconnect(user: &str, a: &SessionReport, b: &SessionReport) -> Option<Finding> {
    let (Some(a_end), Some(b_start)) = (a.end, b.start) else {
        return None;
    };
    if b_start < a_end {
        return None;
    }
    let after = text::duration_nanos(b_start.nanos_since(a_end));
    let moved = a.server.zip(b.server).filter(|(x, y)| x.ip() != y.ip());
    let finding = match moved {
        Some((from, to)) => Finding::from_code_str(
            Level::Warn,
            Layer::Xmpp,
            "xmpp.failover",
            format!(
                "{user} reconnected to another server {after} after session {} ended ({}): {from} → {to} (session {})",
                a.id, a.ended, b.id
            ),
        ),
        None => Finding::from_code_str(
            Level::Info,
            Layer::Xmpp,
            "xmpp.reconnect",
            format!("{user} reconnected {after} after session {} ended ({}) (session {})", a.id, a.ended, b.id),
        ),
    };
    let finding = match b.xmpp.first {
        Some(at) => finding.at(at),
        None => finding,
    };
    Some(match b.streams.first() {
        Some(stream) => finding.in_stream(*stream, None),
        None => finding,
    })
}

/// Several short sessions in a row: the desktop keeps connecting and dropping.
fn reconnect_loop(user: &str, list: &[&SessionReport]) -> Option<Finding> {
    let short = |s: &&&SessionReport| match (s.start, s.end) {
        (Some(a), Some(b)) => b.nanos_since(a) < SHORT_SESSION_NANOS,
        _ => false,
    };
    let run: Vec<&&SessionReport> = list.iter().filter(short).collect();
    if run.len() < LOOP_SESSIONS {
        return None;
    }
    let (first, last) = (run.first()?, run.last()?);
    let span = match (first.start, last.end) {
        (Some(a), Some(b)) => text::duration_nanos(b.nanos_since(a)),
        _ => "?".to_owned(),
    };
    let finding = Finding::from_code_str(
        Level::Warn,
        Layer::Xmpp,
        "xmpp.reconnect_loop",
        format!(
            "{user} had {} sessions shorter than a minute within {span} (sessions {} to {}): a connect/disconnect loop",
            run.len(),
            first.id,
            last.id
        ),
    );
    Some(match first.xmpp.first {
        Some(at) => finding.at(at),
        None => finding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::{FrameRef, Timestamp};
    use crate::xmpp::{Sasl, Summary, Transport};

    fn session(id: u32, user: &str, server: &str, start_s: i64, end_s: i64) -> SessionReport {
        let mut xmpp = Summary::new(u64::from(id), Transport::WebSocket);
        xmpp.sasl = Some(Sasl {
            user: Some(user.to_owned()),
            ..Sasl::default()
        });
        xmpp.first = Some(FrameRef::new(
            u64::from(id) * 100,
            Timestamp::from_secs_nanos(start_s, 0),
        ));
        SessionReport {
            id,
            streams: vec![u64::from(id)],
            client: Some("10.0.0.1:50000".parse().unwrap()),
            server: Some(server.parse().unwrap()),
            tls: None,
            transport_detail: None,
            start: Some(Timestamp::from_secs_nanos(start_s, 0)),
            end: Some(Timestamp::from_secs_nanos(end_s, 0)),
            ended: "TCP reset by the server".to_owned(),
            xmpp,
        }
    }

    fn codes(findings: &[Finding]) -> Vec<&'static str> {
        findings.iter().map(|f| f.code.code()).collect()
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
