//! Connection-level tests: scripted conversations fed whole, byte by byte
//! and split at every offset must give the same events.

mod bosh_flow;
mod corpus;
mod flows;
mod pairing;
mod tolerance;

use crate::finding::{Finding, Findings};
use crate::limits::Limits;
use crate::position::{Dir, FrameRef, Timestamp};

use super::{bosh, Connection, Exchange, Sink, Upgrade};

pub(super) const C: Dir = Dir::ClientToServer;
pub(super) const S: Dir = Dir::ServerToClient;

/// Everything a connection emitted, in order.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Ev {
    Exchange(Box<Exchange>),
    Upgrade(Box<Upgrade>),
    Bosh(bosh::Event),
    Finding(Finding),
}

#[derive(Debug, Default)]
pub(super) struct Rec {
    pub events: Vec<Ev>,
}

impl Findings for Rec {
    fn push_finding(&mut self, finding: Finding) {
        self.events.push(Ev::Finding(finding));
    }
}

impl Sink for Rec {
    fn on_exchange(&mut self, exchange: &Exchange) {
        self.events.push(Ev::Exchange(Box::new(exchange.clone())));
    }
    fn on_upgrade(&mut self, upgrade: &Upgrade) {
        self.events.push(Ev::Upgrade(Box::new(upgrade.clone())));
    }
    fn on_bosh(&mut self, event: &bosh::Event) {
        self.events.push(Ev::Bosh(event.clone()));
    }
}

impl Rec {
    pub fn exchanges(&self) -> Vec<&Exchange> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Ev::Exchange(x) => Some(x.as_ref()),
                _ => None,
            })
            .collect()
    }

    pub fn upgrades(&self) -> Vec<&Upgrade> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Ev::Upgrade(x) => Some(x.as_ref()),
                _ => None,
            })
            .collect()
    }

    pub fn findings(&self) -> Vec<&Finding> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Ev::Finding(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    pub fn codes(&self) -> Vec<&'static str> {
        self.findings().iter().map(|f| f.code.code()).collect()
    }

    pub fn bosh(&self) -> Vec<&bosh::Event> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Ev::Bosh(b) => Some(b),
                _ => None,
            })
            .collect()
    }
}

/// One scripted step: data from a frame, a gap, or a close.
#[derive(Clone, Debug)]
pub(super) enum Step {
    Data(Dir, Vec<u8>),
    Gap(Dir, u64),
    /// Captured but not decrypted, and why.
    Undecrypted(Dir, u64, &'static str),
    Close(Dir),
}

pub(super) fn data(dir: Dir, bytes: &[u8]) -> Step {
    Step::Data(dir, bytes.to_vec())
}

/// Frame `n` (1-based) at `n` seconds, unless a time is given by `times`.
pub(super) fn frame(n: usize, times: Option<&[f64]>) -> FrameRef {
    let secs = times
        .and_then(|t| t.get(n - 1).copied())
        .unwrap_or(n as f64);
    let ts = Timestamp::from_secs_nanos(0, (secs * 1e9) as u64);
    FrameRef::new(n as u64, ts)
}

/// What a run produced: events, and the bytes handed over per direction.
#[derive(Debug, PartialEq)]
pub(super) struct Run {
    pub events: Vec<Ev>,
    pub handed: [Vec<u8>; 2],
}

impl Run {
    pub fn rec(&self) -> Rec {
        Rec {
            events: self.events.clone(),
        }
    }
}

/// How to cut each data step into `on_data` calls.
#[derive(Clone, Copy, Debug)]
pub(super) enum Cut {
    Whole,
    Bytes,
    /// Step `.0` split at offset `.1`.
    At(usize, usize),
}

pub(super) fn run_with(
    script: &[Step],
    cut: Cut,
    limits: &Limits,
    show: bool,
    times: Option<&[f64]>,
) -> Run {
    let mut conn = Connection::new(7, limits, show);
    let mut rec = Rec::default();
    let mut handed: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    for (i, step) in script.iter().enumerate() {
        let at = frame(i + 1, times);
        match step {
            Step::Data(dir, bytes) => {
                let pieces: Vec<&[u8]> = match cut {
                    Cut::Whole => vec![bytes],
                    Cut::Bytes => bytes.chunks(1).collect(),
                    Cut::At(j, k) if j == i && k <= bytes.len() => {
                        let (a, b) = bytes.split_at(k);
                        vec![a, b]
                    }
                    Cut::At(..) => vec![bytes],
                };
                for piece in pieces {
                    let h = &mut handed[dir.index()];
                    if !h.is_empty() || conn.is_switched(*dir) {
                        h.extend_from_slice(piece);
                        continue;
                    }
                    let took = conn.on_data(*dir, at, piece, &mut rec);
                    assert!(took <= piece.len());
                    if took < piece.len() {
                        assert!(conn.is_switched(*dir));
                        h.extend_from_slice(&piece[took..]);
                    }
                }
            }
            Step::Gap(dir, len) => conn.on_gap(*dir, at, *len, &mut rec),
            Step::Undecrypted(dir, len, why) => conn.on_undecrypted(*dir, at, *len, why, &mut rec),
            Step::Close(dir) => conn.on_close(*dir, at, &mut rec),
        }
    }
    conn.finish(&mut rec);
    Run {
        events: rec.events,
        handed,
    }
}

/// Runs `script` whole, byte by byte and split at every offset of every
/// step; asserts all runs agree and returns the whole run.
pub(super) fn run_all_ways(script: &[Step], limits: &Limits, show: bool) -> Run {
    run_all_ways_at(script, limits, show, None)
}

/// [`run_all_ways`] with frame times given in seconds.
pub(super) fn run_all_ways_at(
    script: &[Step],
    limits: &Limits,
    show: bool,
    times: Option<&[f64]>,
) -> Run {
    let whole = run_with(script, Cut::Whole, limits, show, times);
    let bytes = run_with(script, Cut::Bytes, limits, show, times);
    assert_eq!(whole, bytes, "byte-by-byte run differs");
    for (i, step) in script.iter().enumerate() {
        if let Step::Data(_, b) = step {
            for k in 1..b.len() {
                let split = run_with(script, Cut::At(i, k), limits, show, times);
                assert_eq!(whole, split, "split of step {i} at {k} differs");
            }
        }
    }
    whole
}
