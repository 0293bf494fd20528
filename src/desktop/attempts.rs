//! Runs of connection attempts that never opened: refused by a RST, or
//! never answered.
//!
//! Takes the attempts of one desktop as their summaries end, in any order;
//! gives one `conn.refused` or `conn.no_answer` finding per run (attempts to
//! one server address ending the same way, none more than [`RUN_BREAK_NANOS`]
//! after the run's last, and none after a connection to that server opened).
//! Holds one small record per open run; never reads what an opened
//! connection carried, only when it started.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use crate::conn::{EndHow, Summary};
use crate::finding::{Finding, Findings, Level};
use crate::position::{FrameRef, Timestamp};
use crate::words;

use super::FindingCode;

/// An attempt later than this after a run's last one starts a new run.
pub(crate) const RUN_BREAK_NANOS: i64 = 300_000_000_000;

/// One attempt, as a run keeps it: where it started and where it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Attempt {
    start: FrameRef,
    stream: u64,
    /// The frame of the RST (refused) or of the last SYN (no answer).
    end_frame: Option<u64>,
}

/// Attempts to one server that ended one way.
#[derive(Clone, Debug)]
struct Run {
    first: Attempt,
    last: Attempt,
    count: u64,
    syn_retries: u64,
}

impl Run {
    fn new(attempt: Attempt, retries: u32) -> Run {
        Run {
            first: attempt,
            last: attempt,
            count: 1,
            syn_retries: u64::from(retries),
        }
    }

    /// Whether `at` belongs to this run: within the break of its span.
    fn takes(&self, at: Timestamp) -> bool {
        at.nanos_since(self.last.start.ts) <= RUN_BREAK_NANOS
            && self.first.start.ts.nanos_since(at) <= RUN_BREAK_NANOS
    }

    fn add(&mut self, attempt: Attempt, retries: u32) {
        // Min and max, so the run is the same whatever order attempts end in.
        self.first = self.first.min(attempt);
        self.last = self.last.max(attempt);
        self.count = self.count.saturating_add(1);
        self.syn_retries = self.syn_retries.saturating_add(u64::from(retries));
    }
}

/// Open runs of one desktop, per server and ending.
#[derive(Debug, Default)]
pub(crate) struct Attempts {
    runs: BTreeMap<(SocketAddr, EndHow), Run>,
}

impl Attempts {
    /// Runs held now (the caller caps them).
    pub(crate) fn len(&self) -> usize {
        self.runs.len()
    }

    /// Whether this attempt would open a new run (so the caller can cap runs).
    pub(crate) fn opens_run(&self, s: &Summary) -> bool {
        self.runs
            .get(&(s.server, s.ended.how))
            .is_none_or(|run| !run.takes(s.first.ts))
    }

    /// One refused or unanswered attempt of `client`; a run it cannot join
    /// is told first.
    pub(crate) fn on_attempt(&mut self, client: IpAddr, s: &Summary, sink: &mut dyn Findings) {
        let attempt = Attempt {
            start: s.first,
            stream: s.stream,
            end_frame: s.ended.frame,
        };
        let key = (s.server, s.ended.how);
        match self.runs.get_mut(&key) {
            Some(run) if run.takes(s.first.ts) => run.add(attempt, s.ended.syn_retries),
            Some(run) => {
                let old = std::mem::replace(run, Run::new(attempt, s.ended.syn_retries));
                sink.push_finding(tell(client, key, &old));
            }
            None => {
                self.runs
                    .insert(key, Run::new(attempt, s.ended.syn_retries));
            }
        }
    }

    /// A connection to `server` that opened, starting at `start`: runs to
    /// that server whose last attempt came before it are over (the node
    /// answered again), so they are told now and a later refusal starts a
    /// new run.
    pub(crate) fn on_opened(
        &mut self,
        client: IpAddr,
        server: SocketAddr,
        start: Timestamp,
        sink: &mut dyn Findings,
    ) {
        let over: Vec<(SocketAddr, EndHow)> = self
            .runs
            .iter()
            .filter(|((to, _), run)| *to == server && run.last.start.ts <= start)
            .map(|(key, _)| *key)
            .collect();
        for key in over {
            if let Some(run) = self.runs.remove(&key) {
                sink.push_finding(tell(client, key, &run));
            }
        }
    }

    /// Tells every open run, in server order.
    pub(crate) fn finish(self, client: IpAddr, sink: &mut dyn Findings) {
        for (key, run) in &self.runs {
            sink.push_finding(tell(client, *key, run));
        }
    }
}

/// The finding of one run: count, span, server, the frames of the first and last.
fn tell(client: IpAddr, (server, how): (SocketAddr, EndHow), run: &Run) -> Finding {
    let span = words::duration_nanos(run.last.start.ts.nanos_since(run.first.start.ts));
    let frames = |a: &Attempt| match a.end_frame {
        Some(end) => format!("frames {}–{} (stream {})", a.start.frame, end, a.stream),
        None => format!("frame {} (stream {})", a.start.frame, a.stream),
    };
    let attempts = match run.count {
        1 => "1 connection attempt".to_owned(),
        n => format!("{n} connection attempts"),
    };
    let (code, what) = match how {
        EndHow::Refused => (
            FindingCode::Refused,
            "refused: a RST answered the SYN, no SYN-ACK (seen; the service is down on that node)"
                .to_owned(),
        ),
        _ => (
            FindingCode::NoAnswer,
            format!(
                "never answered: no SYN-ACK nor RST to {} SYNs, {} of them retries (seen; a firewall or a dead host)",
                run.count.saturating_add(run.syn_retries),
                run.syn_retries
            ),
        ),
    };
    let span = if run.count > 1 {
        format!(" over {span}")
    } else {
        String::new()
    };
    let which = if run.count > 1 {
        format!("first {}, last {}", frames(&run.first), frames(&run.last))
    } else {
        frames(&run.first)
    };
    let finding = Finding::new(
        code,
        format!("{client} → {server}: {attempts}{span} {what}; {which}"),
    )
    .at(run.first.start)
    .in_stream(run.first.stream, None);
    // One SYN never retried may only have been cut by the end of the capture.
    if code == FindingCode::NoAnswer && run.count == 1 && run.syn_retries == 0 {
        finding.with_level(Level::Info)
    } else {
        finding
    }
}
