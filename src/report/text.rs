//! The words the human-readable renderers share: sizes, durations (from
//! [`crate::words`], which the stages use too), clock times, safe display of
//! captured bytes, and a session's header facts and an event's label. Used
//! by the HTML report here and by the `xmppcap` binary's tables, so both say
//! the same thing the same way.
//!
//! Takes model values; gives strings. Never fails and never derives a fact
//! the model does not hold.

use crate::capture::HarSummary;
use crate::position::Timestamp;
use crate::report::event::{Detail, Event};
use crate::report::model::{ConnectionReport, KeySourceReport, SessionReport};
use crate::xmpp::{self, Transport};

/// `n` and the noun, plural unless `n` is 1: "1 XMPP session", "2 XMPP sessions".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `1448 B`, `12.3 KiB`, `4.0 MiB`: exact below 10 KiB, one decimal above.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 10 * 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS.get(unit).copied().unwrap_or("TiB"))
}

pub use crate::words::duration_nanos;

/// The end of a span after its start `from`: the time of day when both fall
/// on the same day, the whole timestamp otherwise (an end without its date
/// would read as the same day).
pub fn span_end(from: Timestamp, to: Timestamp) -> String {
    let (a, b) = (from.to_rfc3339(), to.to_rfc3339());
    if a.get(..10) == b.get(..10) {
        clock(to)
    } else {
        b
    }
}

/// Time of day with milliseconds, UTC: `09:00:01.234`.
pub fn clock(ts: Timestamp) -> String {
    let full = ts.to_rfc3339();
    // RFC 3339 from Timestamp is `YYYY-MM-DDTHH:MM:SS.ffffffZ`; take `HH:MM:SS.fff`.
    full.get(11..23).map(str::to_owned).unwrap_or(full)
}

/// The key sources in words: `keys/a.keys (6 secrets), pcapng DSB at byte 120 (2 secrets)` or `none`.
pub fn key_sources(keys: &[KeySourceReport]) -> String {
    // Named one by one up to a few; then counted, so that a capture of
    // millions of secrets blocks gives one short line.
    const NAMED: usize = 3;
    if keys.is_empty() {
        return "none".to_owned();
    }
    let mut words: Vec<String> = keys
        .iter()
        .take(NAMED)
        .map(|k| format!("{} ({} secrets)", k.source, k.secrets))
        .collect();
    let rest = keys.get(NAMED..).unwrap_or_default();
    if !rest.is_empty() {
        let sources: u64 = rest.iter().map(|k| k.merged.max(1)).sum();
        let secrets: usize = rest.iter().map(|k| k.secrets).sum();
        words.push(format!("{sources} more sources ({secrets} secrets)"));
    }
    words.join(", ")
}

/// Captured bytes as text a terminal can show safely, several lines kept:
/// see [`terminal::block`](crate::report::terminal::block).
pub fn printable(data: &[u8]) -> String {
    crate::report::terminal::block(data)
}

/// The session's header lines: transport, TLS, user, subscriptions, time, end.
pub fn session_facts(s: &SessionReport) -> Vec<(&'static str, String)> {
    let x = &s.xmpp;
    let mut facts = vec![("transport", transport_fact(s))];
    if let Some(tls) = &s.tls {
        facts.push(("tls", tls.clone()));
    }
    if let Some(detail) = &s.transport_detail {
        // How the WebSocket closed, or which BOSH session it was.
        let label = match x.transport {
            Transport::WebSocket => "websocket",
            Transport::Bosh => "bosh",
            Transport::Tcp => "transport",
        };
        facts.push((label, detail.clone()));
    }
    if let Some(sasl) = &x.sasl {
        let sasl = format!(
            "{} as {} → {}",
            sasl.mechanism.as_deref().unwrap_or("?"),
            sasl.user.as_deref().unwrap_or("?"),
            sasl.outcome.as_deref().unwrap_or("no answer")
        );
        facts.push(("sasl", sasl));
    }
    if let Some(p) = &x.presence {
        // The initial presence has no type: it is "available", shown as its `<show>` says.
        let kind = p.show.as_deref().unwrap_or("available");
        facts.push((
            "presence",
            format!("{kind} (priority {})", p.priority.unwrap_or(0)),
        ));
    }
    for sub in &x.subscriptions {
        let node = sub.node.as_deref().unwrap_or("?");
        let outcome = sub.outcome.as_deref().unwrap_or("no answer");
        facts.push(("subscription", format!("{} {node} → {outcome}", sub.action)));
    }
    if s.finesse.updates > 0 {
        let state = s
            .finesse
            .last_agent_state
            .as_deref()
            .map(|s| format!(", last agent state {s}"))
            .unwrap_or_default();
        facts.push(("finesse", format!("{} updates{state}", s.finesse.updates)));
    }
    facts.extend(pings_fact(x).map(|p| ("pings", p)));
    if let (Some(a), Some(b)) = (s.start, s.end) {
        let span = duration_nanos(b.nanos_since(a));
        facts.push((
            "time",
            format!("{} → {} ({span})", clock(a), span_end(a, b)),
        ));
    }
    facts.push(("ended", s.ended.clone()));
    facts
}

/// What a HAR held: `8 entries (3 WebSocket, 28 messages), written by WebInspector 537.36`.
pub fn har_contents(h: &HarSummary) -> String {
    let by = h
        .creator
        .as_deref()
        .map(|c| format!(", written by {c}"))
        .unwrap_or_default();
    format!(
        "{} ({} WebSocket, {}){by}",
        count(h.entries as usize, "entry").replace("entrys", "entries"),
        h.websockets,
        count(h.messages as usize, "message")
    )
}

/// Where a connection went: `client → server`; for a HAR entry (no client
/// address in a HAR) the server, or `server unknown` when the browser left it out.
pub fn endpoints(c: &ConnectionReport, har: bool) -> String {
    match (har, c.server.ip().is_unspecified()) {
        (false, _) => format!("{} → {}", c.client, c.server),
        (true, false) => format!("server {}", c.server),
        (true, true) => "server unknown".to_owned(),
    }
}

/// "websocket · stream 0 · client → server".
fn transport_fact(s: &SessionReport) -> String {
    let streams: Vec<String> = s.streams.iter().map(u64::to_string).collect();
    let endpoints = match (s.client, s.server) {
        (Some(c), Some(v)) => format!(" · {c} → {v}"),
        // A HAR knows the server, never the client.
        (None, Some(v)) => format!(" · server {v}"),
        _ => String::new(),
    };
    format!(
        "{:?} · stream {}{endpoints}",
        s.xmpp.transport,
        streams.join(", ")
    )
    .to_lowercase()
}

/// "2 sent, 2 answered, 0 unanswered, slowest 900 µs", when pings were sent.
fn pings_fact(x: &xmpp::Summary) -> Option<String> {
    let p = &x.pings;
    let sent = p.sent[0] + p.sent[1];
    if sent == 0 {
        return None;
    }
    let max = p
        .max_latency_ms
        .map(|m| format!(", slowest {}", duration_nanos((m * 1e6) as i64)))
        .unwrap_or_default();
    Some(format!(
        "{sent} sent, {} answered, {} unanswered{max}",
        p.answered, p.unanswered
    ))
}

/// An event's name in a timeline: the stanza's name for stanzas, the
/// finding's level and code for findings, else the event kind.
pub fn event_label(e: &Event) -> String {
    match &e.detail {
        Detail::XmppStanza(s) => s.name.clone(),
        Detail::Finding { level, code, .. } => format!("{level} {code}"),
        _ => e.kind().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_say_one_or_many() {
        assert_eq!(count(1, "XMPP session"), "1 XMPP session");
        assert_eq!(count(0, "XMPP session"), "0 XMPP sessions");
        assert_eq!(count(2, "TCP connection"), "2 TCP connections");
    }

    #[test]
    fn sizes() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(10239), "10239 B");
        assert_eq!(bytes(10 * 1024), "10.0 KiB");
        assert_eq!(bytes(5 << 20), "5.0 MiB");
    }

    #[test]
    fn clock_is_time_of_day() {
        assert_eq!(
            clock(Timestamp::from_secs_nanos(1_700_000_000, 123_456_789)),
            "22:13:20.123"
        );
    }

    #[test]
    fn a_span_end_on_another_day_keeps_its_date() {
        let start = Timestamp::from_secs_nanos(1_700_000_000, 0);
        let same_day = Timestamp::from_secs_nanos(1_700_000_060, 0);
        let next_day = Timestamp::from_secs_nanos(1_700_090_000, 0);
        assert_eq!(span_end(start, same_day), "22:14:20.000");
        assert_eq!(span_end(start, next_day), next_day.to_rfc3339());
    }

    #[test]
    fn printable_escapes_control_and_invalid_bytes() {
        assert_eq!(
            printable(b"GET / HTTP/1.1\r\nHost: x\r\n"),
            "GET / HTTP/1.1\nHost: x\n"
        );
        assert_eq!(printable(b"\x1b[31mred\xff"), "\\u{1b}[31mred\\xff");
    }
}
