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

/// The end of a span after its start `from`, in UTC with milliseconds: see
/// [`Clock::span_end`].
pub fn span_end(from: Timestamp, to: Timestamp) -> String {
    Clock::default().span_end(from, to)
}

/// Time of day with milliseconds, UTC: `09:00:01.234` (truncated, like every
/// time the renderers show: see [`Clock`]).
pub fn clock(ts: Timestamp) -> String {
    Clock::default().time_of_day(ts)
}

/// Digits after the second in the time and offset columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    #[default]
    Millis,
    Micros,
}

impl Precision {
    fn digits(self) -> usize {
        match self {
            Precision::Millis => 3,
            Precision::Micros => 6,
        }
    }
}

/// How the human-readable renderers write times: the precision, and UTC or
/// the local time of the machine reading the capture. One rounding rule for
/// every time and offset: truncate (a frame at 3.872 ms is `.003`, `+0.003`),
/// so that a time and its offset never disagree.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock {
    pub precision: Precision,
    /// The local offset from UTC, in seconds, at a given time (`--local`);
    /// `None` for UTC. A function, not a number: the offset changes with
    /// daylight saving time within a capture.
    pub local_offset: Option<fn(Timestamp) -> i32>,
}

impl Clock {
    /// The zone the times are in, for a column header: `UTC` or `local`.
    pub fn zone(&self) -> &'static str {
        if self.local_offset.is_some() {
            "local"
        } else {
            "UTC"
        }
    }

    /// RFC 3339 with microseconds in the clock's zone:
    /// `2026-03-02T09:00:00.000000Z`, or `2026-03-02T10:00:00.000000+01:00`.
    pub fn date_time(&self, ts: Timestamp) -> String {
        let Some(offset_of) = self.local_offset else {
            return ts.to_rfc3339();
        };
        let offset = offset_of(ts);
        let shifted = Timestamp::from_nanos_i128(
            i128::from(ts.as_nanos()) + i128::from(offset) * 1_000_000_000,
        );
        let text = shifted.to_rfc3339();
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.unsigned_abs();
        let zone = format!("{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60);
        match text.strip_suffix('Z') {
            Some(local) => format!("{local}{zone}"),
            None => text,
        }
    }

    /// Time of day in the clock's zone and precision: `09:00:01.234`.
    pub fn time_of_day(&self, ts: Timestamp) -> String {
        let full = self.date_time(ts);
        // `YYYY-MM-DDTHH:MM:SS.ffffff…`: take `HH:MM:SS.` and the digits kept.
        let end = 20 + self.precision.digits();
        full.get(11..end).map_or(full.clone(), str::to_owned)
    }

    /// The end of a span after its start `from`: the time of day when both
    /// fall on the same day (in the clock's zone), the whole date and time
    /// otherwise (an end without its date would read as the same day).
    pub fn span_end(&self, from: Timestamp, to: Timestamp) -> String {
        let (a, b) = (self.date_time(from), self.date_time(to));
        if a.get(..10) == b.get(..10) {
            self.time_of_day(to)
        } else {
            b
        }
    }

    /// `start → end (duration)`, the end dated when the day changes.
    pub fn span(&self, from: Timestamp, to: Timestamp) -> String {
        format!(
            "{} → {} ({})",
            self.time_of_day(from),
            self.span_end(from, to),
            duration_nanos(to.nanos_since(from))
        )
    }

    /// Seconds from `start` to `ts`, signed and truncated to the clock's
    /// precision: `+0.003`, `-1.250`.
    pub fn offset(&self, ts: Timestamp, start: Timestamp) -> String {
        let nanos = ts.nanos_since(start);
        let sign = if nanos < 0 { '-' } else { '+' };
        let abs = nanos.unsigned_abs();
        let (secs, frac) = (abs / 1_000_000_000, abs % 1_000_000_000);
        match self.precision {
            Precision::Millis => format!("{sign}{secs}.{:03}", frac / 1_000_000),
            Precision::Micros => format!("{sign}{secs}.{:06}", frac / 1_000),
        }
    }
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

/// The session's header lines: transport, TLS, user, subscriptions, time
/// (UTC, milliseconds), end.
pub fn session_facts(s: &SessionReport) -> Vec<(&'static str, String)> {
    session_facts_with(s, &Clock::default())
}

/// [`session_facts`] with times written by `clock`.
pub fn session_facts_with(s: &SessionReport, clock: &Clock) -> Vec<(&'static str, String)> {
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
        facts.push(("time", clock.span(a, b)));
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
    fn time_and_offset_truncate_alike() {
        // The frame of the issue: 3.872 ms after the start.
        let start = Timestamp::from_secs_nanos(1_772_442_000, 0);
        let at = Timestamp::from_secs_nanos(1_772_442_000, 3_872_000);
        let ms = Clock::default();
        assert_eq!(ms.time_of_day(at), "09:00:00.003");
        assert_eq!(ms.offset(at, start), "+0.003");
        let us = Clock {
            precision: Precision::Micros,
            ..Clock::default()
        };
        assert_eq!(us.time_of_day(at), "09:00:00.003872");
        assert_eq!(us.offset(at, start), "+0.003872");
        assert_eq!(ms.offset(start, at), "-0.003");
        assert_eq!(ms.offset(start, start), "+0.000");
    }

    #[test]
    fn a_local_clock_shifts_and_names_its_offset() {
        let local = Clock {
            local_offset: Some(|_| -(4 * 3600 + 30 * 60)),
            ..Clock::default()
        };
        let ts = Timestamp::from_secs_nanos(1_772_442_000, 0);
        assert_eq!(local.date_time(ts), "2026-03-02T04:30:00.000000-04:30");
        assert_eq!(local.time_of_day(ts), "04:30:00.000");
        assert_eq!(local.zone(), "local");
        // 05:00 local is the next day in UTC but the same day here.
        let later = Timestamp::from_secs_nanos(1_772_442_000 + 15 * 3600, 0);
        assert_eq!(local.span_end(ts, later), "19:30:00.000");
        assert_eq!(Clock::default().span_end(ts, later), later.to_rfc3339());
    }

    #[test]
    fn a_span_across_days_dates_its_end() {
        let start = Timestamp::from_secs_nanos(1_502_379_693, 0);
        let end = Timestamp::from_secs_nanos(1_502_379_693 + 42_668 * 3600, 406_000_000);
        let span = Clock::default().span(start, end);
        assert!(span.starts_with("15:41:33.000 → 2022-"), "{span}");
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
