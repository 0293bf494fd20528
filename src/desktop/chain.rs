//! One desktop user's chain of notification connections: reconnects,
//! failovers and connect/disconnect loops.
//!
//! Takes that user's notification connections (or, without keys, the
//! address's) in the order they end; gives `conn.reconnect`,
//! `conn.failover` and `conn.reconnect_loop` findings. Holds the last
//! connection, the last [`LOOP_RECONNECTS`] reconnect starts and the open
//! loop; never sees a connection still open when a later one ends, so a
//! reconnect is judged against the connections ended before it.

use std::collections::VecDeque;
use std::net::IpAddr;

use crate::conn::{Basis, EndHow, Role, Side, Summary};
use crate::finding::{Finding, Findings, Level};
use crate::position::{FrameRef, Timestamp};
use crate::words;

use super::model::Node;
use super::FindingCode;

/// Reconnects that make a loop…
pub(crate) const LOOP_RECONNECTS: usize = 3;
/// …when they all start within this.
pub(crate) const LOOP_WINDOW_NANOS: i64 = 120_000_000_000;
/// Openfire drops a BOSH session after 30 s without a request (DOMAIN.md
/// §2): a BOSH connection after a shorter quiet is the same session's next
/// poll, not a reconnect.
pub(crate) const BOSH_SESSION_GAP_NANOS: i64 = 30_000_000_000;
/// Intervals kept for a loop's rhythm; a longer loop's median is of the first ones.
const MAX_LOOP_INTERVALS: usize = 256;

/// What the chain keeps of the last notification connection.
#[derive(Clone, Debug)]
pub(crate) struct Last {
    pub(crate) stream: u64,
    pub(crate) start: Timestamp,
    pub(crate) end: Timestamp,
    node: Node,
    role: Role,
    decrypted: bool,
    how: EndHow,
    by: Option<Side>,
    end_frame: Option<u64>,
}

/// A reconnect: when it started and when the connection it follows did.
#[derive(Clone, Copy, Debug)]
struct Restart {
    at: FrameRef,
    stream: u64,
    previous_start: Timestamp,
    decrypted: bool,
}

/// A loop being told: reconnects within the window of each other.
#[derive(Clone, Debug)]
struct Loop {
    first: Restart,
    last_stream: u64,
    last_start: Timestamp,
    reconnects: u64,
    intervals: Vec<i64>,
    decrypted: bool,
}

/// The chain of one user (or one address without keys).
#[derive(Debug, Default)]
pub(crate) struct Chain {
    last: Option<Last>,
    recent: VecDeque<Restart>,
    open_loop: Option<Loop>,
}

/// Who the chain is about, for messages.
pub(crate) struct Who<'a> {
    pub(crate) client: IpAddr,
    pub(crate) user: Option<&'a str>,
}

impl Who<'_> {
    fn name(&self) -> String {
        match self.user {
            Some(user) => format!("{user} on {}", self.client),
            None => format!("the desktop at {}", self.client),
        }
    }
}

/// When a connection ended (or was last seen, while open).
pub(crate) fn end_of(s: &Summary) -> Timestamp {
    s.ended.time.unwrap_or_else(|| {
        let nanos = (s.duration_s.max(0.0) * 1e9) as i128;
        Timestamp::from_nanos_i128(i128::from(s.first.ts.as_nanos()).saturating_add(nanos))
    })
}

pub(crate) fn node_of(s: &Summary) -> Node {
    Node {
        address: s.server.ip(),
        sni: s.sni.clone(),
    }
}

impl Chain {
    /// One notification connection of this chain, as it ends.
    pub(crate) fn on_notification(&mut self, who: &Who<'_>, s: &Summary, sink: &mut dyn Findings) {
        let this = Last {
            stream: s.stream,
            start: s.first.ts,
            end: end_of(s),
            node: node_of(s),
            role: s.role,
            decrypted: s.role_basis == Basis::Decrypted,
            how: s.ended.how,
            by: s.ended.by,
            end_frame: s.ended.frame,
        };
        let previous = self.last.replace(this.clone());
        let Some(previous) = previous else {
            return;
        };
        if previous.how == EndHow::NotFollowed {
            // The budget cut the previous one: whether it had ended when
            // this one opened is not known, so no reconnect is claimed.
            return;
        }
        let gap = s.first.ts.nanos_since(previous.end);
        let same_bosh = this.role == Role::XmppBosh && previous.role == Role::XmppBosh;
        if gap < 0 || (same_bosh && gap < BOSH_SESSION_GAP_NANOS) {
            // Overlapping, or the same BOSH session's next connection:
            // the later-ending one is the one the next reconnect follows.
            if previous.end > this.end {
                self.last = Some(previous);
            }
            return;
        }
        sink.push_finding(reconnect(who, &previous, s, gap));
        let restart = Restart {
            at: s.first,
            stream: s.stream,
            previous_start: previous.start,
            decrypted: this.decrypted && previous.decrypted,
        };
        self.on_restart(who, restart, sink);
    }

    /// Keeps the window of recent reconnects; opens, extends or tells a loop.
    fn on_restart(&mut self, who: &Who<'_>, r: Restart, sink: &mut dyn Findings) {
        self.recent.push_back(r);
        while self.recent.len() > LOOP_RECONNECTS {
            self.recent.pop_front();
        }
        let in_window = match self.recent.front() {
            Some(oldest) if self.recent.len() == LOOP_RECONNECTS => {
                r.at.ts.nanos_since(oldest.at.ts) <= LOOP_WINDOW_NANOS
            }
            _ => false,
        };
        match (&mut self.open_loop, in_window) {
            (Some(open), true) => open.extend(r),
            (None, true) => self.open_loop = Loop::from_window(&self.recent),
            (Some(_), false) => {
                if let Some(done) = self.open_loop.take() {
                    sink.push_finding(tell_loop(who, &done));
                }
            }
            (None, false) => {}
        }
    }

    /// Tells the loop still open at the end of the capture.
    pub(crate) fn finish(self, who: &Who<'_>, sink: &mut dyn Findings) {
        if let Some(open) = self.open_loop {
            sink.push_finding(tell_loop(who, &open));
        }
    }
}

impl Loop {
    fn from_window(window: &VecDeque<Restart>) -> Option<Loop> {
        let first = *window.front()?;
        let mut open = Loop {
            first,
            last_stream: first.stream,
            last_start: first.at.ts,
            reconnects: 1,
            intervals: vec![first.at.ts.nanos_since(first.previous_start)],
            decrypted: first.decrypted,
        };
        for r in window.iter().skip(1) {
            open.extend(*r);
        }
        Some(open)
    }

    fn extend(&mut self, r: Restart) {
        if self.intervals.len() < MAX_LOOP_INTERVALS {
            self.intervals.push(r.at.ts.nanos_since(self.last_start));
        }
        self.last_stream = r.stream;
        self.last_start = r.at.ts;
        self.reconnects = self.reconnects.saturating_add(1);
        self.decrypted &= r.decrypted;
    }
}

/// `conn.reconnect`, or `conn.failover` when the node changed.
fn reconnect(who: &Who<'_>, previous: &Last, s: &Summary, gap: i64) -> Finding {
    let node = node_of(s);
    let decrypted = previous.decrypted && s.role_basis == Basis::Decrypted;
    let ended = match (previous.how, previous.by, previous.end_frame) {
        (how, Some(by), Some(frame)) => format!(
            "{} by the {} at frame {frame}",
            how_word(how),
            side_word(by)
        ),
        (how, _, Some(frame)) => format!("{} at frame {frame}", how_word(how)),
        (how, _, None) => how_word(how).to_owned(),
    };
    let after = format!(
        "{} after stream {} ended ({ended})",
        words::duration_nanos(gap),
        previous.stream
    );
    let basis = basis_words(previous, s);
    let (code, text) = if node.is_other_than(&previous.node) {
        (
            FindingCode::Failover,
            format!(
                "{} moved to another node {after}: {} → {} (stream {}); {basis}",
                who.name(),
                previous.node,
                node,
                s.stream
            ),
        )
    } else {
        (
            FindingCode::Reconnect,
            format!(
                "{} reconnected to {node} {after} (stream {}); {basis}",
                who.name(),
                s.stream
            ),
        )
    };
    let finding = Finding::new(code, text)
        .at(s.first)
        .in_stream(s.stream, None);
    if decrypted {
        finding
    } else {
        finding.with_level(Level::Info)
    }
}

/// What the finding rests on: seen decrypted, or inferred (and why).
fn basis_words(previous: &Last, s: &Summary) -> String {
    if previous.decrypted && s.role_basis == Basis::Decrypted {
        return "both seen decrypted as notification channels".to_owned();
    }
    let reasons: Vec<&str> = s.role_reasons.iter().take(3).map(String::as_str).collect();
    if reasons.is_empty() {
        "the notification role is inferred".to_owned()
    } else {
        format!("the notification role is inferred ({})", reasons.join(", "))
    }
}

fn how_word(how: EndHow) -> &'static str {
    match how {
        EndHow::Fin => "FIN",
        EndHow::Rst => "RST",
        EndHow::Refused => "refused",
        EndHow::NoAnswer => "no answer",
        EndHow::Open => "still open",
        EndHow::NotFollowed => "not followed to its end (memory budget)",
    }
}

fn side_word(side: Side) -> &'static str {
    match side {
        Side::Client => "client",
        Side::Server => "server",
    }
}

/// `conn.reconnect_loop`: how many, over what span, at what rhythm.
fn tell_loop(who: &Who<'_>, l: &Loop) -> Finding {
    let span = words::duration_nanos(l.last_start.nanos_since(l.first.previous_start));
    let rhythm = median(&l.intervals)
        .map(|m| format!(", one every {} (median)", words::duration_nanos(m)))
        .unwrap_or_default();
    let basis = if l.decrypted {
        "seen decrypted"
    } else {
        "notification roles inferred"
    };
    let finding = Finding::new(
        FindingCode::ReconnectLoop,
        format!(
            "{} reconnected {} times within {span}{rhythm} (streams {} to {}): a connect/disconnect loop; {basis}",
            who.name(),
            l.reconnects,
            l.first.stream,
            l.last_stream
        ),
    )
    .at(l.first.at)
    .in_stream(l.first.stream, None);
    if l.decrypted {
        finding
    } else {
        finding.with_level(Level::Info)
    }
}

/// The median of some intervals (the lower middle of an even count).
pub(crate) fn median(values: &[i64]) -> Option<i64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let middle = sorted.len().checked_sub(1)? / 2;
    sorted.get(middle).copied()
}
