//! Narrowing the stories (an agent's, a desktop's) to a [`Scope`]: what
//! ran on the kept streams and overlapped the window stays, the rest goes.
//! A state, a dialog state, a session or a connection that overlaps the
//! window is kept whole (its start and duration are facts; cutting them at
//! the window would invent new ones).
//!
//! Takes a resolved [`Scope`] and a story; leaves out what is outside and
//! says whether anything is left. Never rewrites a kept item.

use std::collections::BTreeSet;

use super::Scope;
use crate::desktop::{Desktop, DesktopConnection};
use crate::position::{FrameRef, Timestamp};
use crate::report::agents::{AgentSession, AgentStory};

/// The end of a span that started at `at` and lasted `seconds` (open when
/// its length is unknown).
fn end_of(at: FrameRef, seconds: Option<f64>) -> Option<Timestamp> {
    let nanos = seconds? * 1e9;
    // A span beyond what a timestamp holds is as good as open.
    (nanos.is_finite() && nanos.abs() < 9.2e18)
        .then(|| Timestamp::from_nanos_i128(i128::from(at.ts.as_nanos()) + nanos as i128))
}

impl Scope {
    /// Whether a span from `start` to `end` (either unknown: open on that
    /// side) overlaps the window.
    pub(super) fn overlaps(&self, start: Option<Timestamp>, end: Option<Timestamp>) -> bool {
        let starts_in = self.until.is_none_or(|u| start.is_none_or(|s| s <= u));
        let ends_in = self
            .since
            .is_none_or(|since| end.is_none_or(|e| e >= since));
        starts_in && ends_in
    }

    fn keeps_agent_session(&self, s: &AgentSession) -> bool {
        let chosen = self.sessions.as_ref().is_none_or(|ids| ids.contains(&s.id));
        chosen && s.streams.iter().any(|&st| self.keeps_stream(st)) && self.overlaps(s.start, s.end)
    }

    fn keeps_connection(&self, c: &DesktopConnection) -> bool {
        self.keeps_stream(c.stream) && self.overlaps(Some(c.start), c.end)
    }

    /// Narrows `a` in place; whether anything of it is left.
    pub(super) fn narrow_agent(&self, a: &mut AgentStory) -> bool {
        a.sessions.retain(|s| self.keeps_agent_session(s));
        let sessions: BTreeSet<u32> = a.sessions.iter().map(|s| s.id).collect();
        a.connections.retain(|c| self.keeps_connection(c));
        a.rest_calls
            .retain(|r| self.keeps_stream(r.call.stream) && self.in_window(Some(r.call.at.ts)));
        // States and dialogs arrived on sessions: `--stream` keeps those
        // of the sessions it kept (`--agent` alone keeps all of its own).
        let by_stream = self.asked_streams;
        a.states.retain(|s| {
            let carried = !by_stream || s.session.is_some_and(|id| sessions.contains(&id));
            carried && self.overlaps(Some(s.at.ts), end_of(s.at, s.duration_s))
        });
        if by_stream && sessions.is_empty() {
            a.dialogs.clear();
        }
        a.dialogs.retain_mut(|d| {
            let had_states = !d.states.is_empty();
            d.states
                .retain(|s| self.overlaps(Some(s.at.ts), end_of(s.at, s.duration_s)));
            !had_states || !d.states.is_empty()
        });
        a.findings.retain(|f| self.keeps_finding(f));
        !(a.sessions.is_empty()
            && a.connections.is_empty()
            && a.rest_calls.is_empty()
            && a.states.is_empty()
            && a.dialogs.is_empty()
            && a.findings.is_empty())
    }

    /// Narrows `d` in place; whether anything of it is left. REST traffic
    /// is counted per node, not per stream: `--stream` leaves it out.
    pub(super) fn narrow_desktop(&self, d: &mut Desktop) -> bool {
        d.connections.retain(|c| self.keeps_connection(c));
        let by_stream = self.asked_streams;
        d.rest
            .retain(|r| !by_stream && self.overlaps(Some(r.first), Some(r.last)));
        !(d.connections.is_empty() && d.rest.is_empty())
    }
}
