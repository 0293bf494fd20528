//! The case report's verdict: the headline findings as sentences, errors and
//! warnings first, each linking to the finding that proves it.
//!
//! Takes a report; gives [`Statement`]s and their HTML. Sentences about a
//! desktop's notification connections come from the desktop story (how a
//! connection ended, whether and where the desktop reconnected, refused or
//! unanswered attempts); every other warning or error is grouped by code.
//! Never invents a fact: every number is in the model, and a statement that
//! rests on an inferred role says so.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use quick_xml::escape::escape;

use crate::conn::{Basis, EndHow, Role, Side};
use crate::desktop::{Desktop, DesktopConnection};
use crate::finding::{Finding, Level};
use crate::position::Timestamp;
use crate::report::model::Report;
use crate::report::text;
use crate::words;

/// At most this many statements; the rest are counted and point to the findings.
const MAX_STATEMENTS: usize = 12;

/// Codes a desktop sentence already says for the streams it covers.
const TOLD_BY_DESKTOP: &[&str] = &[
    "conn.reset",
    "conn.refused",
    "conn.no_answer",
    "conn.failover",
    "ws.abnormal_closure",
    "xmpp.ended_without_close",
];

/// One sentence of the verdict.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Statement {
    pub level: Level,
    pub time: Option<Timestamp>,
    pub text: String,
    /// The index in `report.findings` of the finding that proves it.
    pub proof: Option<usize>,
    /// It rests on an inferred role (no keys).
    pub inferred: bool,
}

/// The verdict's statements, errors first, then warnings, each by time.
pub(crate) fn statements(report: &Report) -> Vec<Statement> {
    let mut told: BTreeSet<u64> = BTreeSet::new();
    let mut out = Vec::new();
    for d in &report.desktops {
        desktop_statements(d, &report.findings, &mut told, &mut out);
    }
    out.extend(grouped_findings(&report.findings, &told));
    out.sort_by(|a, b| b.level.cmp(&a.level).then(a.time.cmp(&b.time)));
    out
}

/// The index of the first warning or error on one of `streams` whose code is
/// one of `codes` (or any code when `codes` is empty).
fn proof(findings: &[Finding], streams: &[u64], codes: &[&str]) -> Option<(usize, Level)> {
    findings
        .iter()
        .enumerate()
        .filter(|(_, f)| f.level >= Level::Warn)
        .filter(|(_, f)| f.stream.is_some_and(|s| streams.contains(&s)))
        .find(|(_, f)| codes.is_empty() || codes.contains(&f.code.code()))
        .map(|(i, f)| (i, f.level))
}

fn is_notification(role: Role) -> bool {
    matches!(role, Role::XmppWebsocket | Role::XmppBosh | Role::XmppTcp)
}

fn is_attempt(c: &DesktopConnection) -> bool {
    matches!(c.ended, EndHow::Refused | EndHow::NoAnswer)
}

/// `Agent 1001's` or `Desktop 192.168.10.21's`.
fn whose(d: &Desktop, c: &DesktopConnection) -> String {
    match (c.user.as_deref(), d.users.as_slice()) {
        (Some(u), _) => format!("Agent {u}'s"),
        (None, [u]) => format!("Agent {u}'s"),
        _ => format!("Desktop {}'s", d.client),
    }
}

fn node_name(c: &DesktopConnection) -> String {
    c.node
        .sni
        .clone()
        .unwrap_or_else(|| c.node.address.to_string())
}

fn desktop_statements(
    d: &Desktop,
    findings: &[Finding],
    told: &mut BTreeSet<u64>,
    out: &mut Vec<Statement>,
) {
    let mut i = 0;
    while let Some(c) = d.connections.get(i) {
        if is_attempt(c) {
            let run: Vec<&DesktopConnection> = d
                .connections
                .iter()
                .skip(i)
                .take_while(|a| a.ended == c.ended && a.server == c.server)
                .collect();
            i += run.len().max(1);
            out.push(attempts_statement(d, &run, findings, told));
            continue;
        }
        i += 1;
        let broken =
            c.ended == EndHow::Rst || (c.ended == EndHow::Fin && c.ended_by == Some(Side::Server));
        if broken && is_notification(c.role) {
            let next = d.connections.iter().skip(i).find(|n| !is_attempt(n));
            out.push(broken_statement(d, c, next, findings, told));
        }
    }
}

fn broken_statement(
    d: &Desktop,
    c: &DesktopConnection,
    next: Option<&DesktopConnection>,
    findings: &[Finding],
    told: &mut BTreeSet<u64>,
) -> Statement {
    let how = match (c.ended, c.ended_by) {
        (EndHow::Rst, Some(Side::Server)) => "was reset by the server",
        (EndHow::Rst, _) => "was reset by the desktop",
        _ => "was closed by the server",
    };
    let at = c
        .end
        .map(|t| format!(" at {}", short_clock(t)))
        .unwrap_or_default();
    let after = match (next, c.end) {
        (Some(n), Some(end)) => format!(
            "the desktop reconnected to {} {} later",
            node_name(n),
            words::duration_nanos(n.start.nanos_since(end))
        ),
        _ => "the desktop did not reconnect before the capture ended".to_owned(),
    };
    let mut streams = vec![c.stream];
    streams.extend(next.map(|n| n.stream));
    told.extend(streams.iter().copied());
    let found =
        proof(findings, &[c.stream], &["conn.reset"]).or_else(|| proof(findings, &[c.stream], &[]));
    Statement {
        level: found.map_or(Level::Warn, |(_, l)| l),
        time: c.end.or(Some(c.start)),
        text: format!(
            "{} notification connection to {} {how}{at}; {after}.",
            whose(d, c),
            node_name(c),
        ),
        proof: found.map(|(i, _)| i),
        inferred: c.role_basis == Basis::Inferred,
    }
}

fn attempts_statement(
    d: &Desktop,
    run: &[&DesktopConnection],
    findings: &[Finding],
    told: &mut BTreeSet<u64>,
) -> Statement {
    let streams: Vec<u64> = run.iter().map(|c| c.stream).collect();
    told.extend(streams.iter().copied());
    let (first_start, server, ended) = match run.first() {
        Some(c) => (Some(c.start), c.server.to_string(), c.ended),
        None => (None, String::new(), EndHow::Refused),
    };
    let verb = if ended == EndHow::Refused {
        "refused (the service is down on that node)"
    } else {
        "never answered (a firewall or a dead host)"
    };
    let n = run.len();
    let attempts = if n == 1 {
        "1 connection attempt".to_owned()
    } else {
        format!("{n} connection attempts")
    };
    let were = if n == 1 { "was" } else { "were" };
    let found = proof(findings, &streams, &["conn.refused", "conn.no_answer"]);
    Statement {
        level: found.map_or(Level::Warn, |(_, l)| l),
        time: first_start,
        text: format!("{attempts} from {} to {server} {were} {verb}.", d.client),
        proof: found.map(|(i, _)| i),
        inferred: false,
    }
}

/// Warnings and errors no desktop sentence told, one statement per code:
/// the first message, and how many more there are.
fn grouped_findings(findings: &[Finding], told: &BTreeSet<u64>) -> Vec<Statement> {
    let mut by_code: BTreeMap<(Level, &str), Vec<usize>> = BTreeMap::new();
    for (i, f) in findings.iter().enumerate() {
        let said =
            f.stream.is_some_and(|s| told.contains(&s)) && TOLD_BY_DESKTOP.contains(&f.code.code());
        if f.level >= Level::Warn && !said {
            by_code.entry((f.level, f.code.code())).or_default().push(i);
        }
    }
    by_code
        .into_iter()
        .filter_map(|((level, _), indexes)| {
            let first = *indexes.first()?;
            let f = findings.get(first)?;
            let more = match indexes.len().saturating_sub(1) {
                0 => String::new(),
                1 => " (and once more)".to_owned(),
                n => format!(" (and {n} more times)"),
            };
            // The message may already say "at frame N": the time goes in brackets.
            let at = f
                .time
                .map(|t| format!(" ({})", short_clock(t)))
                .unwrap_or_default();
            Some(Statement {
                level,
                time: f.time,
                text: format!(
                    "{}{at}{more}.",
                    upper_first(f.message.trim_end_matches('.'))
                ),
                proof: Some(first),
                inferred: f.message.contains("inferred"),
            })
        })
        .collect()
}

/// `09:00:06` (the seconds are enough in a sentence; rows carry the rest).
fn short_clock(t: Timestamp) -> String {
    let clock = text::clock(t);
    clock.get(..8).map(str::to_owned).unwrap_or(clock)
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// How many the capture had: counted, or listed when more (a report built
/// by hand counts nothing).
fn seen(counted: u64, listed: usize) -> usize {
    usize::try_from(counted).unwrap_or(usize::MAX).max(listed)
}

/// The verdict section: the statements as a list, or that nothing is wrong.
/// Links go to `#{prefix}f-<n>` (finding `n`'s row) and `#{prefix}findings`.
pub(crate) fn render(report: &Report, prefix: &str, out: &mut dyn Write) -> io::Result<()> {
    let all = statements(report);
    writeln!(out, "<section class=\"verdict\"><h2>Verdict</h2>")?;
    if all.is_empty() {
        let infos = report.findings.len();
        writeln!(
            out,
            "<p class=\"ok\">Nothing wrong was found: no error and no warning in {} and {} ({}).</p></section>",
            text::count(seen(report.connections_seen, report.connections.len()), "connection"),
            text::count(seen(report.sessions_seen, report.sessions.len()), "XMPP session"),
            text::count(infos, "informational note"),
        )?;
        return Ok(());
    }
    writeln!(out, "<ul>")?;
    for s in all.iter().take(MAX_STATEMENTS) {
        let inferred = if s.inferred {
            " <em class=\"inferred\">(inferred without keys from ports, sizes and timing)</em>"
        } else {
            ""
        };
        let link = s
            .proof
            .map(|i| format!(" <a href=\"#{prefix}f-{i}\">proof</a>"))
            .unwrap_or_default();
        writeln!(
            out,
            "<li class=\"{}\"><span class=\"lvl\">{}</span> {}{inferred}{link}</li>",
            s.level,
            s.level,
            escape(&s.text)
        )?;
    }
    writeln!(out, "</ul>")?;
    if all.len() > MAX_STATEMENTS {
        writeln!(
            out,
            "<p>… and {} more: see <a href=\"#{prefix}findings\">Findings</a>.</p>",
            all.len() - MAX_STATEMENTS,
        )?;
    }
    writeln!(out, "</section>")
}

#[cfg(test)]
mod tests;
