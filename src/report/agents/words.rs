//! The words of an agent's section, shared by the terminal table and the
//! HTML report: the title, one row per state, one line per dialog, and the
//! story (sessions, connections, REST calls, references to findings) as
//! dated lines.
//!
//! Takes an [`AgentStory`]; gives strings. Never derives a fact: every
//! number is in the story, only said here.

use super::{AgentStory, DialogStory, LinkedBy, StateSpan};
use crate::finding::Finding;
use crate::finesse::Entered;
use crate::position::Timestamp;
use crate::report::text::Clock;
use crate::words;

/// The column heads of [`state_row`] (UTC).
pub const STATE_COLUMNS: [&str; 5] = ["time (UTC)", "state", "reason", "duration", "entered"];

/// The column heads of [`state_row_with`] in `clock`'s zone.
pub fn state_columns(clock: &Clock) -> [String; 5] {
    let [_, rest @ ..] = STATE_COLUMNS;
    let [a, b, c, d] = rest;
    [
        format!("time ({})", clock.zone()),
        a.to_owned(),
        b.to_owned(),
        c.to_owned(),
        d.to_owned(),
    ]
}

/// The title of an agent's section: login id and JIDs.
pub fn title(a: &AgentStory) -> String {
    match a.jids.as_slice() {
        [] => format!("agent {}", a.agent),
        jids => format!("agent {} · {}", a.agent, jids.join(", ")),
    }
}

fn seconds(s: f64) -> String {
    words::duration_nanos((s * 1e9) as i64)
}

fn duration(d: Option<f64>, until_end: bool) -> String {
    match (d, until_end) {
        (Some(d), true) => format!("{} (until the end of the capture)", seconds(d)),
        (Some(d), false) => seconds(d),
        (None, true) => "until the end of the capture".to_owned(),
        (None, false) => String::new(),
    }
}

/// One state in words, in [`STATE_COLUMNS`] order; the time is the state's start.
pub fn state_row(s: &StateSpan) -> [String; 5] {
    state_row_with(s, &Clock::default())
}

/// [`state_row`] with its time written by `clock`.
pub fn state_row_with(s: &StateSpan, clock: &Clock) -> [String; 5] {
    let reason = match (&s.reason_code, &s.reason_label) {
        (Some(c), Some(l)) => format!("{c} \"{l}\""),
        (Some(c), None) => c.clone(),
        (None, _) => String::new(),
    };
    [
        clock.time_of_day(s.at.ts),
        s.state.clone(),
        reason,
        duration(s.duration_s, s.until_capture_end),
        entered(&s.entered, s.reason_code.as_deref()),
    ]
}

/// How a state was entered: `PUT /finesse/api/User/1001 (frame 142, requestId …) 298 ms before`.
pub fn entered(e: &Entered, reason_code: Option<&str>) -> String {
    match e {
        Entered::Rest {
            request_id,
            request,
        } => format!(
            "{} {} (frame {}, stream {}, requestId {request_id}), Update {} later",
            request.method,
            request.path,
            request.frame,
            request.stream,
            words::duration_nanos((request.ms_before_update * 1e6) as i64)
        ),
        Entered::ServerInitiated if reason_code == Some("255") => {
            "by the server (reason 255: the desktop session vanished)".to_owned()
        }
        Entered::ServerInitiated => {
            "by the server (no REST request of the capture asked)".to_owned()
        }
    }
}

/// A dialog on one line: `dialog 16777301 Voice 6125551234 → 4001: ALERTING 4.000 s → ACTIVE 15.000 s → DROPPED; participants 4001 DROPPED`.
pub fn dialog_line(d: &DialogStory) -> String {
    dialog_line_with(d, &Clock::default())
}

/// [`dialog_line`] with its times written by `clock`.
pub fn dialog_line_with(d: &DialogStory, clock: &Clock) -> String {
    let q = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".to_owned());
    let media = d
        .media_type
        .as_deref()
        .map(|m| format!(" {m}"))
        .unwrap_or_default();
    let states: Vec<String> = d
        .states
        .iter()
        .map(|s| {
            let lasted = duration(s.duration_s, s.until_capture_end);
            let at = clock.time_of_day(s.at.ts);
            match lasted.is_empty() {
                true => format!("{} at {at} (frame {})", s.state, s.at.frame),
                false => format!("{} at {at} (frame {}) for {lasted}", s.state, s.at.frame),
            }
        })
        .collect();
    let more = match d.states_not_kept {
        0 => String::new(),
        n => format!(" (+{n} states not kept)"),
    };
    let participants: Vec<String> = d
        .participants
        .iter()
        .map(|p| format!("{} {}", q(&p.media_address), q(&p.state)))
        .collect();
    format!(
        "dialog {}{media} {} → {}: {}{more}; participants {}",
        d.id,
        q(&d.from_address),
        q(&d.to_address),
        states.join(" → "),
        if participants.is_empty() {
            "none".to_owned()
        } else {
            participants.join(", ")
        }
    )
}

/// A dialog's call variables (`--raw`): `call variables: callVariable1=AT&T, …`.
pub fn call_variables_line(d: &DialogStory) -> Option<String> {
    let vars = d.call_variables.as_ref()?;
    let pairs: Vec<String> = vars
        .iter()
        .map(|v| format!("{}={}", v.name, v.value))
        .collect();
    Some(format!("call variables of {}: {}", d.id, pairs.join(", ")))
}

/// A finding where it is only pointed at (an agent's story, a timeline):
/// `warn conn.reset (frame 54): see findings`. Its whole line is in the
/// findings list only, so that a search for its words finds it once.
pub fn finding_reference(f: &Finding) -> String {
    match f.position() {
        Some(place) => format!("{} {} ({place}): see findings", f.level, f.code),
        None => format!("{} {}: see findings", f.level, f.code),
    }
}

/// The story as dated lines in time order: sessions, notification
/// connections, REST calls and findings (referred to, not repeated).
pub fn story_lines(a: &AgentStory) -> Vec<(Option<Timestamp>, String)> {
    let mut lines: Vec<(Option<Timestamp>, u64, String)> = Vec::new();
    for s in &a.sessions {
        let node = s.node.as_deref().unwrap_or("?");
        let streams: Vec<String> = s.streams.iter().map(u64::to_string).collect();
        lines.push((
            s.start,
            0,
            format!(
                "XMPP session {} to {node} (stream {}) started",
                s.id,
                streams.join(", ")
            ),
        ));
        lines.push((
            s.end,
            0,
            format!("XMPP session {} ended: {}", s.id, s.ended),
        ));
    }
    for c in &a.connections {
        let ended = crate::report::desktops::ended(c);
        lines.push((
            Some(c.start),
            c.frame,
            format!(
                "notification connection stream {} to {}: {ended}",
                c.stream, c.node
            ),
        ));
    }
    for r in &a.rest_calls {
        let c = &r.call;
        let status = c.status.map_or("no response".to_owned(), |s| s.to_string());
        let latency = c
            .latency_ms
            .map(|ms| format!(" in {}", words::duration_nanos((ms * 1e6) as i64)))
            .unwrap_or_default();
        let id = c
            .request_id
            .as_deref()
            .map(|i| format!(", requestId {i}"))
            .unwrap_or_default();
        let by = match r.linked_by {
            LinkedBy::Url => "",
            LinkedBy::ClientAddress => " (from this agent's desktop address)",
        };
        lines.push((
            Some(c.at.ts),
            c.at.frame,
            format!(
                "REST {} {} → {status}{latency} (frame {}, stream {}{id}){by}",
                c.method, c.path, c.at.frame, c.stream
            ),
        ));
    }
    for f in &a.findings {
        let frame = f.frame.unwrap_or_default();
        lines.push((f.time, frame, finding_reference(f)));
    }
    lines.sort_by_key(|(t, frame, _)| (*t, *frame));
    lines.into_iter().map(|(t, _, line)| (t, line)).collect()
}
