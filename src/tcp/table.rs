//! The flow table: which stream a segment belongs to, and when streams leave.
//!
//! Takes every decoded TCP segment of the capture, in capture order; gives
//! each one to its [`Flow`], assigning Wireshark's `tcp.stream` indexes in
//! order of first packet. Streams leave the table at port reuse, idle timeout
//! (checked at most once per second of capture time), eviction at
//! `max_open_flows` (least recently active first) and [`Reassembler::finish`].
//! Never iterates a hash map to emit anything: streams closed together are
//! closed in stream index order. Per segment: one hash lookup and an O(1)
//! move in an intrusive least-recently-used list.

use std::net::SocketAddr;

use crate::common::{FrameRef, Timestamp};
use crate::decode::TcpSegment;
use crate::finding::{Finding, Layer, Level};
use crate::limits::Limits;

use super::assembler::Caps;
use super::event::{Ending, GapReason, Sink};
use super::flow::Flow;

/// Direction-independent 4-tuple: the smaller endpoint first.
type Key = (SocketAddr, SocketAddr);

fn key_of(a: SocketAddr, b: SocketAddr) -> Key {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

const NIL: u32 = u32::MAX;
const SWEEP_EVERY_NANOS: i64 = 1_000_000_000;

#[derive(Debug)]
struct Slot {
    flow: Option<Flow>,
    /// Neighbours in the recency list (towards the most / least recent).
    newer: u32,
    older: u32,
}

/// TCP flow tracking and reassembly for a whole capture.
///
/// Feed every segment with [`Reassembler::on_segment`] in capture order, then
/// call [`Reassembler::finish`]. Events go to the [`Sink`]; see
/// [`crate::tcp`] for the rules.
#[derive(Debug)]
pub struct Reassembler {
    caps: Caps,
    max_flows: usize,
    idle_nanos: i64,
    index: foldhash::HashMap<Key, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Most and least recently active slots.
    newest: u32,
    oldest: u32,
    next_stream: u64,
    /// Latest capture time seen (captures are not always monotonic).
    clock: Option<Timestamp>,
    next_sweep: i64,
    noted_closed_evictions: bool,
}

impl Reassembler {
    pub fn new(limits: &Limits) -> Reassembler {
        Reassembler {
            caps: Caps {
                max_bytes: limits.max_ooo_bytes_per_dir,
                max_segments: limits.max_ooo_segments_per_dir,
            },
            max_flows: limits.max_open_flows.clamp(1, NIL as usize - 1),
            idle_nanos: i64::try_from(limits.flow_idle_timeout.as_nanos()).unwrap_or(i64::MAX),
            index: foldhash::HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            newest: NIL,
            oldest: NIL,
            next_stream: 0,
            clock: None,
            next_sweep: i64::MIN,
            noted_closed_evictions: false,
        }
    }

    /// Streams currently in the table (open or closed but not yet released).
    pub fn tracked_flows(&self) -> usize {
        self.index.len()
    }

    /// One TCP segment, seen in frame `at`.
    pub fn on_segment(&mut self, at: FrameRef, seg: &TcpSegment<'_>, sink: &mut impl Sink) {
        self.sweep_idle(at.ts, sink);
        let key = key_of(seg.src, seg.dst);
        if let Some(&slot) = self.index.get(&key) {
            let reused = self
                .flow_mut(slot)
                .is_some_and(|f| f.starts_new_stream(seg));
            if !reused {
                self.touch(slot);
                if let Some(flow) = self.flow_mut(slot) {
                    flow.on_segment(at, seg, sink);
                }
                return;
            }
            self.release(slot, Some(at), Ending::PortReused, GapReason::Closed, sink);
        }
        self.open(key, at, seg, sink);
    }

    /// End of the capture: every stream is flushed and closed, in stream index order.
    pub fn finish(&mut self, sink: &mut impl Sink) {
        let mut live: Vec<(u64, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((s.flow.as_ref()?.stream(), i as u32)))
            .collect();
        live.sort_unstable();
        for (_, slot) in live {
            self.release(slot, None, Ending::OpenAtEnd, GapReason::EndOfCapture, sink);
        }
        self.index.clear();
        self.slots.clear();
        self.free.clear();
        self.newest = NIL;
        self.oldest = NIL;
    }

    fn open(&mut self, key: Key, at: FrameRef, seg: &TcpSegment<'_>, sink: &mut impl Sink) {
        if self.index.len() >= self.max_flows {
            self.evict_oldest(at, sink);
        }
        let mut flow = Flow::new(self.next_stream, at, seg, self.caps);
        self.next_stream += 1;
        sink.on_tcp(flow.opened());
        flow.on_segment(at, seg, sink);
        let slot = Slot {
            flow: Some(flow),
            newer: NIL,
            older: NIL,
        };
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(s) = self.slots.get_mut(id as usize) {
                    *s = slot;
                }
                id
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(key, id);
        self.push_newest(id);
    }

    fn evict_oldest(&mut self, at: FrameRef, sink: &mut impl Sink) {
        let slot = self.oldest;
        let Some(flow) = self.flow_mut(slot) else {
            return;
        };
        let (stream, open) = (flow.stream(), flow.is_open());
        if open {
            sink.push_finding(
                Finding::new(
                    Level::Warn,
                    Layer::Tcp,
                    "tcp.flow_evicted",
                    format!(
                        "stream {stream} closed while open to stay under max_open_flows ({}); later packets of its 4-tuple start a new stream",
                        self.max_flows
                    ),
                )
                .at(at)
                .in_stream(stream, None),
            );
        } else if !self.noted_closed_evictions {
            self.noted_closed_evictions = true;
            sink.push_finding(
                Finding::new(
                    Level::Info,
                    Layer::Tcp,
                    "tcp.closed_flows_forgotten",
                    format!(
                        "more than max_open_flows ({}) streams: closed streams are forgotten oldest first, from stream {stream} on; a late packet of one would start a new stream",
                        self.max_flows
                    ),
                )
                .at(at),
            );
        }
        self.release(slot, Some(at), Ending::Evicted, GapReason::Closed, sink);
    }

    /// Closes streams idle for `flow_idle_timeout`, at most once per second of capture time.
    fn sweep_idle(&mut self, ts: Timestamp, sink: &mut impl Sink) {
        let now = self.clock.map_or(ts, |c| c.max(ts));
        self.clock = Some(now);
        if now.as_nanos() < self.next_sweep {
            return;
        }
        self.next_sweep = now.as_nanos().saturating_add(SWEEP_EVERY_NANOS);
        let mut idle = Vec::new();
        let mut slot = self.oldest;
        while let Some(s) = self.slots.get(slot as usize) {
            let Some(flow) = &s.flow else { break };
            if now.nanos_since(flow.last().ts) < self.idle_nanos {
                break;
            }
            idle.push((flow.stream(), slot));
            slot = s.newer;
        }
        idle.sort_unstable();
        for (_, slot) in idle {
            self.release(slot, None, Ending::IdleTimeout, GapReason::Closed, sink);
        }
    }

    /// Removes a stream from the table and emits its end. `at` defaults to its last frame.
    fn release(
        &mut self,
        slot: u32,
        at: Option<FrameRef>,
        ending: Ending,
        reason: GapReason,
        sink: &mut impl Sink,
    ) {
        self.unlink(slot);
        let Some(mut flow) = self
            .slots
            .get_mut(slot as usize)
            .and_then(|s| s.flow.take())
        else {
            return;
        };
        let (a, b) = flow.endpoints();
        self.index.remove(&key_of(a, b));
        self.free.push(slot);
        flow.release(at.unwrap_or(flow.last()), ending, reason, sink);
    }

    fn flow_mut(&mut self, slot: u32) -> Option<&mut Flow> {
        self.slots.get_mut(slot as usize)?.flow.as_mut()
    }

    fn touch(&mut self, slot: u32) {
        if self.newest != slot {
            self.unlink(slot);
            self.push_newest(slot);
        }
    }

    fn push_newest(&mut self, slot: u32) {
        let old_newest = self.newest;
        if let Some(s) = self.slots.get_mut(slot as usize) {
            s.newer = NIL;
            s.older = old_newest;
        }
        match self.slots.get_mut(old_newest as usize) {
            Some(s) => s.newer = slot,
            None => self.oldest = slot,
        }
        self.newest = slot;
    }

    fn unlink(&mut self, slot: u32) {
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        let (newer, older) = (s.newer, s.older);
        s.newer = NIL;
        s.older = NIL;
        match self.slots.get_mut(newer as usize) {
            Some(n) => n.older = older,
            None if self.newest == slot => self.newest = older,
            None => {}
        }
        match self.slots.get_mut(older as usize) {
            Some(o) => o.newer = newer,
            None if self.oldest == slot => self.oldest = newer,
            None => {}
        }
    }
}
