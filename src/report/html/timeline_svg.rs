//! The case report's picture: an inline SVG timeline with one lane per
//! desktop (client address, with the agent when known), one row per Finesse
//! node inside it, each connection a bar from open to end coloured by how it
//! ended (REST and other connections thinner), agent-state bands from the
//! Finesse user updates, and the findings as markers linking to their rows.
//!
//! Takes a report; writes SVG. Hover details are `<title>` children, so the
//! picture needs no script. Never draws more than [`MAX_LANES`] lanes: a note
//! says how many desktops were left out. Every captured text is escaped.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;

use quick_xml::escape::escape;

use crate::conn::{EndHow, Role, Summary};
use crate::finding::Level;
use crate::finesse::Payload;
use crate::position::Timestamp;
use crate::report::desktops::{how_word, role_word};
use crate::report::event::Detail;
use crate::report::model::Report;
use crate::report::text;

/// Lanes drawn at most; a huge capture's other desktops are counted in a note.
pub(crate) const MAX_LANES: usize = 40;

const WIDTH: f64 = 1000.0;
const LABEL_W: f64 = 190.0;
const ROW_H: f64 = 18.0;
const BAND_H: f64 = 12.0;
const AXIS_H: f64 = 22.0;
/// Dialog bars drawn per lane (a dialog lasts seconds to minutes: more would be one dark band).
const MAX_DIALOGS: usize = 500;

/// One desktop's lane: its agent, its nodes with their connections, and the
/// agent states its updates showed.
#[derive(Default)]
struct Lane<'r> {
    agents: Vec<String>,
    nodes: BTreeMap<String, Vec<&'r Summary>>,
    states: Vec<(Timestamp, String)>,
    /// The agents' dialogs: start, end (None: still on at the end of the
    /// capture) and their states in words.
    dialogs: Vec<(Timestamp, Option<Timestamp>, String)>,
    findings: Vec<(usize, Timestamp, Level, &'r str)>,
}

/// Time to x, over the capture's span.
struct Scale {
    t0: Timestamp,
    span_ns: f64,
}

impl Scale {
    fn x(&self, t: Timestamp) -> f64 {
        let frac = (t.nanos_since(self.t0) as f64 / self.span_ns).clamp(0.0, 1.0);
        LABEL_W + frac * (WIDTH - LABEL_W - 10.0)
    }
}

fn lanes(report: &Report) -> BTreeMap<IpAddr, Lane<'_>> {
    let mut lanes: BTreeMap<IpAddr, Lane<'_>> = BTreeMap::new();
    let mut client_of: BTreeMap<u64, IpAddr> = BTreeMap::new();
    for s in report.connections.iter().filter_map(|c| c.summary.as_ref()) {
        client_of.insert(s.stream, s.client.ip());
        let node = s.sni.clone().unwrap_or_else(|| s.server.ip().to_string());
        let lane = lanes.entry(s.client.ip()).or_default();
        lane.nodes.entry(node).or_default().push(s);
    }
    // A dialog is drawn in its agent's lane only when the agent used one
    // desktop: a dialog record does not say which connection carried it.
    let mut desktops_of: BTreeMap<&str, usize> = BTreeMap::new();
    for user in report.desktops.iter().flat_map(|d| d.users.iter()) {
        *desktops_of.entry(user.as_str()).or_default() += 1;
    }
    for d in &report.desktops {
        let lane = lanes.entry(d.client).or_default();
        lane.agents = d.users.clone();
        lane.dialogs = report
            .agents
            .iter()
            .filter(|a| d.users.contains(&a.agent))
            .filter(|a| desktops_of.get(a.agent.as_str()) == Some(&1))
            .flat_map(|a| a.dialogs.iter())
            .take(MAX_DIALOGS)
            .filter_map(dialog_span)
            .collect();
    }
    for e in &report.timeline {
        let (Detail::FinesseUpdate(u), Some(t), Some(stream)) = (&e.detail, e.time, e.stream)
        else {
            continue;
        };
        let (Payload::User(user), Some(ip)) = (&u.data, client_of.get(&stream)) else {
            continue;
        };
        if let (Some(state), Some(lane)) = (&user.state, lanes.get_mut(ip)) {
            let reason = user.reason_code.as_ref().and_then(|r| r.label.clone());
            let label = match reason {
                Some(r) => format!("{state} ({r})"),
                None => state.clone(),
            };
            lane.states.push((t, label));
        }
    }
    for (i, f) in report.findings.iter().enumerate() {
        let place = f.stream.and_then(|s| client_of.get(&s)).zip(f.time);
        if let Some((ip, t)) = place.filter(|_| f.level >= Level::Warn) {
            if let Some(lane) = lanes.get_mut(ip) {
                lane.findings.push((i, t, f.level, f.code.code()));
            }
        }
    }
    lanes
}

/// A dialog as a span: from its first state to the end of its last one.
fn dialog_span(
    d: &crate::report::agents::DialogStory,
) -> Option<(Timestamp, Option<Timestamp>, String)> {
    let first = d.states.first()?;
    let last = d.states.last()?;
    let end = match (last.until_capture_end, last.duration_s) {
        (true, _) => None,
        (false, Some(s)) => Some(Timestamp::from_nanos_i128(
            i128::from(last.at.ts.as_nanos()) + (s * 1e9) as i128,
        )),
        (false, None) => Some(last.at.ts),
    };
    let states: Vec<&str> = d.states.iter().map(|s| s.state.as_str()).collect();
    let label = format!("dialog {} {}", d.id, states.join(" → "));
    Some((first.at.ts, end, label))
}

fn lane_height(lane: &Lane<'_>) -> f64 {
    let band = |present: bool| if present { BAND_H + 2.0 } else { 0.0 };
    let bands = band(!lane.states.is_empty()) + band(!lane.dialogs.is_empty());
    16.0 + bands + ROW_H * lane.nodes.len().max(1) as f64 + 4.0
}

/// The picture, with its legend and, past [`MAX_LANES`], a note.
/// Findings link to `#{prefix}f-<n>`.
pub(crate) fn render(report: &Report, prefix: &str, out: &mut dyn Write) -> io::Result<()> {
    let (Some(t0), Some(t1)) = (report.capture.first_time, report.capture.last_time) else {
        return writeln!(out, "<p>No packets: nothing to draw.</p>");
    };
    let scale = Scale {
        t0,
        span_ns: (t1.nanos_since(t0) as f64).max(1.0),
    };
    let all = lanes(report);
    if all.is_empty() {
        return writeln!(out, "<p>No TCP connection: nothing to draw.</p>");
    }
    let drawn: Vec<(&IpAddr, &Lane<'_>)> = all.iter().take(MAX_LANES).collect();
    let height = AXIS_H + drawn.iter().map(|(_, l)| lane_height(l)).sum::<f64>();
    writeln!(out, "<figure class=\"timeline\">")?;
    if all.len() > MAX_LANES {
        writeln!(
            out,
            "<p class=\"note\">The first {} of {} desktops are drawn; every desktop is in the sections below, and JSON/NDJSON have all the data.</p>",
            MAX_LANES,
            all.len()
        )?;
    }
    writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"100%\" role=\"img\" aria-label=\"connections per desktop over time\">"
    )?;
    render_axis(&scale, t1, height, out)?;
    let mut y = AXIS_H;
    for (ip, lane) in drawn {
        render_lane(ip, lane, &scale, y, t1, prefix, out)?;
        y += lane_height(lane);
    }
    writeln!(out, "</svg>")?;
    render_legend(out)?;
    writeln!(out, "</figure>")
}

fn render_axis(scale: &Scale, t1: Timestamp, height: f64, out: &mut dyn Write) -> io::Result<()> {
    const TICKS: i64 = 6;
    let span = t1.nanos_since(scale.t0);
    for k in 0..=TICKS {
        let t = Timestamp::from_nanos_i128(
            i128::from(scale.t0.as_nanos()) + i128::from(span / TICKS) * i128::from(k),
        );
        let x = scale.x(t);
        let anchor = if k == TICKS { "end" } else { "middle" };
        writeln!(
            out,
            "<line class=\"tick\" x1=\"{x:.1}\" y1=\"{AXIS_H}\" x2=\"{x:.1}\" y2=\"{height:.0}\"/><text class=\"tick\" x=\"{x:.1}\" y=\"14\" text-anchor=\"{anchor}\">{}</text>",
            text::clock(t)
        )?;
    }
    Ok(())
}

fn render_lane(
    ip: &IpAddr,
    lane: &Lane<'_>,
    scale: &Scale,
    top: f64,
    t1: Timestamp,
    prefix: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    let who = match lane.agents.as_slice() {
        [] => ip.to_string(),
        agents => format!("{ip} · {}", agents.join(", ")),
    };
    writeln!(
        out,
        "<g class=\"lane\"><line class=\"lane-sep\" x1=\"0\" y1=\"{top:.1}\" x2=\"{WIDTH}\" y2=\"{top:.1}\"/><text class=\"lane-label\" x=\"4\" y=\"{:.1}\">{}</text>",
        top + 12.0,
        escape(&who)
    )?;
    let mut y = top + 16.0;
    if !lane.states.is_empty() {
        render_states(&lane.states, scale, y, t1, out)?;
        y += BAND_H + 2.0;
    }
    if !lane.dialogs.is_empty() {
        for (start, end, label) in &lane.dialogs {
            let until = end.unwrap_or(t1);
            let (x0, x1) = (scale.x(*start), scale.x(until));
            writeln!(
                out,
                "<rect class=\"dialog\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{} from {} for {}</title></rect>",
                y + 2.0,
                (x1 - x0).max(1.0),
                BAND_H - 4.0,
                escape(label),
                text::clock(*start),
                text::duration_nanos(until.nanos_since(*start))
            )?;
        }
        y += BAND_H + 2.0;
    }
    for (node, conns) in &lane.nodes {
        writeln!(
            out,
            "<text class=\"node-label\" x=\"14\" y=\"{:.1}\">{}</text>",
            y + 13.0,
            escape(shorten(node, 26))
        )?;
        for s in conns {
            render_bar(s, scale, y, t1, out)?;
        }
        y += ROW_H;
    }
    let bottom = top + lane_height(lane);
    for (i, t, level, code) in &lane.findings {
        let x = scale.x(*t);
        writeln!(
            out,
            "<a href=\"#{prefix}f-{i}\"><path class=\"marker {level}\" d=\"M{x:.1} {:.1} l-4 -7 h8 z\"><title>{level} {} at {}</title></path></a>",
            bottom - 1.0,
            escape(*code),
            text::clock(*t)
        )?;
    }
    writeln!(out, "</g>")
}

fn render_states(
    states: &[(Timestamp, String)],
    scale: &Scale,
    y: f64,
    t1: Timestamp,
    out: &mut dyn Write,
) -> io::Result<()> {
    for (k, (t, label)) in states.iter().enumerate() {
        let until = states.get(k + 1).map_or(t1, |(next, _)| *next);
        let (x0, x1) = (scale.x(*t), scale.x(until));
        let state = label.split(' ').next().unwrap_or("");
        writeln!(
            out,
            "<rect class=\"state s-{}\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{BAND_H}\"><title>agent {} from {} for {}</title></rect>",
            css_word(state),
            (x1 - x0).max(1.0),
            escape(label),
            text::clock(*t),
            text::duration_nanos(until.nanos_since(*t))
        )?;
    }
    Ok(())
}

fn render_bar(
    s: &Summary,
    scale: &Scale,
    row_top: f64,
    t1: Timestamp,
    out: &mut dyn Write,
) -> io::Result<()> {
    let start = s.first.ts;
    let followed_until =
        Timestamp::from_nanos_i128(i128::from(start.as_nanos()) + (s.duration_s * 1e9) as i128);
    let end = match s.ended.how {
        // Drawn as far as it was followed, not to the capture's end.
        EndHow::NotFollowed => followed_until,
        _ => s.ended.time.unwrap_or(t1),
    };
    let notification = matches!(s.role, Role::XmppWebsocket | Role::XmppBosh | Role::XmppTcp);
    // Thin bars go under the thick ones, so that a REST call during a
    // notification connection to the same node stays visible.
    let (top, h, kind) = if notification {
        (row_top + 2.0, 9.0, "notify")
    } else {
        (row_top + 12.0, 4.0, "rest")
    };
    let (x0, x1) = (scale.x(start), scale.x(end));
    let how = how_word(s.ended.how);
    let until = match s.ended.how {
        EndHow::Open => "still open at the end of the capture".to_owned(),
        EndHow::NotFollowed => format!(
            "not followed after {} (cut for the memory budget)",
            text::clock(end)
        ),
        _ => format!("ended {how} at {}", text::clock(end)),
    };
    writeln!(
        out,
        "<rect class=\"conn {kind} end-{how}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h}\"><title>stream {} · {} ({}) · {} → {} · from {} · {until}</title></rect>",
        top,
        (x1 - x0).max(3.0),
        s.stream,
        role_word(s.role),
        crate::report::desktops::basis_word(s.role_basis),
        s.client,
        s.server,
        text::clock(start),
    )
}

fn render_legend(out: &mut dyn Write) -> io::Result<()> {
    let items = [
        ("end-fin", "ended with FIN"),
        ("end-rst", "reset (RST)"),
        ("end-refused", "refused"),
        ("end-no-answer", "no answer"),
        ("end-open", "open at the end"),
    ];
    write!(out, "<figcaption>")?;
    for (class, label) in items {
        write!(out, "<span class=\"key {class}\"></span>{label} ")?;
    }
    writeln!(out, "· thick bars: notification connections, thin: REST and others · ▼ findings (link to their rows) · bands above: agent states (green READY, orange NOT_READY, blue TALKING or HOLD, purple WORK or RESERVED, red LOGOUT; hover for the reason), then dialogs (dark: from the first state to the last; hover for the states)</figcaption>")
}

/// A captured word made safe for a class name: letters, digits, `_` and `-`.
fn css_word(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(32)
        .collect()
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let head: String = s.chars().take(max.saturating_sub(1)).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_words_keep_only_safe_characters() {
        assert_eq!(css_word("READY"), "READY");
        assert_eq!(css_word("\"><script>"), "script");
        assert_eq!(css_word(""), "");
    }

    #[test]
    fn long_names_are_shortened_on_a_character_boundary() {
        assert_eq!(shorten("finesse1.example.com", 26), "finesse1.example.com");
        assert_eq!(shorten("ééééé", 3), "éé…");
    }

    #[test]
    fn the_scale_clamps_times_outside_the_capture() {
        let t0 = Timestamp::from_secs_nanos(100, 0);
        let scale = Scale { t0, span_ns: 1e9 };
        assert_eq!(scale.x(Timestamp::from_secs_nanos(50, 0)), LABEL_W);
        assert_eq!(scale.x(Timestamp::from_secs_nanos(500, 0)), WIDTH - 10.0);
    }
}
