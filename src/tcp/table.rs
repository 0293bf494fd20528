//! The flow table: which stream a segment belongs to, and when streams leave.
//!
//! Takes every decoded TCP segment of the capture, in capture order; gives
//! each one to its [`Flow`], assigning Wireshark's `tcp.stream` indexes in
//! order of first packet. Stream identity follows Wireshark's rule only
//! ([`Identity::starts_new_stream`]): never capture time, so a silent
//! connection, a clock jump or a frame dated decades away keeps its stream.
//!
//! Streams leave the table at port reuse, eviction at `max_open_flows`
//! (least recently active first) and [`Reassembler::finish`]. A stream is
//! also released (its `Closed` emitted, its [`Flow`] freed) as soon as it is
//! done ([`Flow::is_done`]: a RST, or both FINs acknowledged), or, closed by
//! FINs whose acknowledgements the capture missed, once no packet came for
//! `flow_idle_timeout` of capture time after the close, checked at most once
//! per second of capture time. Its [`Identity`] stays, so later packets of
//! the 4-tuple still number as Wireshark does (they are counted, see
//! `tcp.late_packets`), until eviction forgets it. Never iterates a hash map
//! to emit anything: streams closed together are closed in stream index order.
//! Per segment: one hash lookup and an O(1) move in an intrusive
//! least-recently-used list.

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::decode::TcpSegment;
use crate::finding::Finding;
use crate::limits::Limits;
use crate::position::{FrameRef, Timestamp};
use crate::tcp::FindingCode;

use super::assembler::Caps;
use super::event::{Ending, GapReason, Sink};
use super::flow::{Flow, Identity};

/// Packets that came for streams no longer in the table, and those streams.
#[derive(Debug, Default)]
struct LateTally {
    packets: u64,
    streams: u64,
    first: Option<(FrameRef, u64)>,
}

impl LateTally {
    /// `tcp.late_packets`, once, when any came; `why` says which streams.
    fn say(&self, why: &str, sink: &mut impl Sink) {
        let Some((at, stream)) = self.first else {
            return;
        };
        sink.push_finding(
            Finding::new(
                FindingCode::LatePackets,
                format!(
                    "{} came for {} {why}, the first for stream {stream}: they belong to those streams, as in Wireshark, but are not in their statistics",
                    count(self.packets, "packet"),
                    count(self.streams, "stream"),
                ),
            )
            .at(at)
            .in_stream(stream, None),
        );
    }
}

/// Direction-independent 4-tuple: the smaller endpoint first.
use super::table_index::{FlowIndex, Key};

fn key_of(a: SocketAddr, b: SocketAddr) -> Key {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

const NIL: u32 = u32::MAX;

/// The 4-tuple of a slot, for the index (which holds slot numbers only).
fn slot_key(slots: &[Slot], slot: u32) -> Option<Key> {
    slots.get(slot as usize).map(|s| s.key)
}

/// What an open stream costs the table whatever it holds: its boxed
/// [`Flow`], its slot, and its index entry (counted twice for the hash
/// map's spare room). Out-of-order data is counted apart, by length. The
/// index entry is counted as a key and slot pair (68 bytes) though
/// `table_index` holds 5 bytes since the index stopped holding keys: the
/// budget's decisions, and so the reports, stay as they were; the
/// difference (about 130 bytes an open stream) is margin.
pub const FLOW_STATE_BYTES: usize = std::mem::size_of::<Flow>()
    + std::mem::size_of::<Slot>()
    + 2 * std::mem::size_of::<(Key, u32)>();
const SWEEP_EVERY_NANOS: i64 = 1_000_000_000;

/// What the table holds for a 4-tuple.
#[derive(Debug)]
enum Entry {
    /// Boxed: released entries, many in long captures, stay small.
    Live(Box<Flow>),
    /// A closed stream already released: how to number its 4-tuple's next
    /// packets, and whether one came (to count the streams with late
    /// packets); `cut`: the memory budget released it while open.
    Released { id: Identity, late: bool, cut: bool },
}

impl Entry {
    fn identity(&self) -> Identity {
        match self {
            Entry::Live(flow) => flow.identity(),
            Entry::Released { id, .. } => *id,
        }
    }
}

#[derive(Debug)]
struct Slot {
    key: Key,
    entry: Option<Entry>,
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
    linger_nanos: i64,
    index: FlowIndex,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Most and least recently active slots.
    newest: u32,
    oldest: u32,
    next_stream: u64,
    /// Closed streams not yet released, in the order they closed: (slot, stream).
    closing: VecDeque<(u32, u64)>,
    /// Capture time (ns) of the next check for closed streams to release.
    next_sweep: Option<i64>,
    /// Packets that arrived for streams already closed and released, and
    /// for streams the memory budget released while open.
    late: LateTally,
    after_cut: LateTally,
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
            linger_nanos: i64::try_from(limits.flow_idle_timeout.as_nanos()).unwrap_or(i64::MAX),
            index: FlowIndex::default(),
            slots: Vec::new(),
            free: Vec::new(),
            newest: NIL,
            oldest: NIL,
            next_stream: 0,
            closing: VecDeque::new(),
            next_sweep: None,
            late: LateTally::default(),
            after_cut: LateTally::default(),
            noted_closed_evictions: false,
        }
    }

    fn key_of(&self) -> impl Fn(u32) -> Option<Key> + '_ {
        |slot| slot_key(&self.slots, slot)
    }

    /// 4-tuples currently in the table (open, closed, or released but remembered).
    pub fn tracked_flows(&self) -> usize {
        self.index.len()
    }

    /// Closed streams queued for release (some maybe gone already).
    #[cfg(test)]
    pub(crate) fn queued_for_release(&self) -> usize {
        self.closing.len()
    }

    /// One TCP segment, seen in frame `at`.
    pub fn on_segment(&mut self, at: FrameRef, seg: &TcpSegment<'_>, sink: &mut impl Sink) {
        self.release_lingering(at.ts, sink);
        let key = key_of(seg.src, seg.dst);
        if let Some(slot) = self.index.get(&key, self.key_of()) {
            let reused = self
                .entry(slot)
                .is_some_and(|e| e.identity().starts_new_stream(seg));
            if !reused {
                self.touch(slot);
                self.continue_stream(slot, at, seg, sink);
                return;
            }
            self.release(slot, Some(at), Ending::PortReused, GapReason::Closed, sink);
        }
        self.open(key, at, seg, sink);
    }

    /// Payload bytes held now across every open stream (out-of-order
    /// segments waiting for the bytes before them); in-order bytes are
    /// delivered at once and never held.
    pub fn held_bytes(&self) -> usize {
        self.slots
            .iter()
            .filter_map(|slot| match &slot.entry {
                Some(Entry::Live(flow)) => Some(flow.held_bytes()),
                _ => None,
            })
            .sum()
    }

    /// The stream of the connection between `a` and `b` and the bytes its
    /// out-of-order buffers hold now (one lookup, for the memory budget).
    pub fn held_between(&self, a: SocketAddr, b: SocketAddr) -> Option<(u64, usize)> {
        let slot = self.index.get(&key_of(a, b), self.key_of())?;
        match self.entry(slot)? {
            Entry::Live(flow) => Some((flow.stream(), flow.held_bytes())),
            Entry::Released { .. } => None,
        }
    }

    /// The memory budget cut stream `stream` (between `a` and `b`): its
    /// out-of-order buffers are given up as gaps and their data delivered,
    /// in frame `at`; the stream stays open.
    pub fn give_up_holes(
        &mut self,
        a: SocketAddr,
        b: SocketAddr,
        stream: u64,
        at: FrameRef,
        sink: &mut impl Sink,
    ) {
        let Some(slot) = self.index.get(&key_of(a, b), self.key_of()) else {
            return;
        };
        if let Some(Some(Entry::Live(flow))) =
            self.slots.get_mut(slot as usize).map(|s| s.entry.as_mut())
        {
            if flow.stream() == stream {
                flow.give_up_holes(at, sink);
            }
        }
    }

    /// The memory budget releases stream `stream` (between `a` and `b`)
    /// in frame `at`: it is closed as an evicted one is (its holes become
    /// gaps, its `Closed` is emitted, its flow freed) but keeps its
    /// identity, so later packets of its 4-tuple stay in its stream, as in
    /// Wireshark, and are counted ([`FindingCode::LatePackets`]) instead
    /// of starting a stream joined mid-way (whose TLS key search would be
    /// spent on bytes the budget gave up).
    pub fn release_stream(
        &mut self,
        a: SocketAddr,
        b: SocketAddr,
        stream: u64,
        at: FrameRef,
        sink: &mut impl Sink,
    ) {
        let Some(slot) = self.index.get(&key_of(a, b), self.key_of()) else {
            return;
        };
        if matches!(self.entry(slot), Some(Entry::Live(flow)) if flow.stream() == stream) {
            self.keep_identity(slot, Some(at), Ending::MemoryBudget, sink);
        }
    }

    /// End of the capture: every stream is flushed and closed, in stream index order.
    pub fn finish(&mut self, sink: &mut impl Sink) {
        let mut live: Vec<(u64, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.entry {
                Some(Entry::Live(flow)) => Some((flow.stream(), i as u32)),
                _ => None,
            })
            .collect();
        live.sort_unstable();
        for (_, slot) in live {
            self.release(slot, None, Ending::OpenAtEnd, GapReason::EndOfCapture, sink);
        }
        let why = "already closed (a RST, both FINs acknowledged, or no packet for flow_idle_timeout after their close)";
        self.late.say(why, sink);
        let why = "the memory budget had released while open (limits.memory)";
        self.after_cut.say(why, sink);
        self.index.clear();
        self.slots.clear();
        self.free.clear();
        self.closing.clear();
        self.newest = NIL;
        self.oldest = NIL;
    }

    fn continue_stream(
        &mut self,
        slot: u32,
        at: FrameRef,
        seg: &TcpSegment<'_>,
        sink: &mut impl Sink,
    ) {
        match self
            .slots
            .get_mut(slot as usize)
            .and_then(|s| s.entry.as_mut())
        {
            Some(Entry::Live(flow)) => {
                let was_open = flow.is_open();
                flow.on_segment(at, seg, sink);
                if flow.is_done() {
                    self.retire(slot, sink);
                } else if was_open && !flow.is_open() {
                    let stream = flow.stream();
                    self.queue_closing(slot, stream);
                }
            }
            Some(Entry::Released { id, late, cut }) => {
                let tally = if *cut {
                    &mut self.after_cut
                } else {
                    &mut self.late
                };
                tally.packets += 1;
                if !*late {
                    *late = true;
                    tally.streams += 1;
                }
                tally.first.get_or_insert((at, id.stream));
            }
            None => {}
        }
    }

    fn open(&mut self, key: Key, at: FrameRef, seg: &TcpSegment<'_>, sink: &mut impl Sink) {
        if self.index.len() >= self.max_flows {
            self.evict_oldest(at, sink);
        }
        let mut flow = Flow::new(self.next_stream, at, seg, self.caps);
        self.next_stream += 1;
        sink.on_tcp(flow.opened());
        flow.on_segment(at, seg, sink);
        let (closed, done) = (!flow.is_open(), flow.is_done());
        let stream = flow.stream();
        let slot = Slot {
            key,
            entry: Some(Entry::Live(Box::new(flow))),
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
        let slots = &self.slots;
        self.index.insert(&key, id, |s| slot_key(slots, s));
        self.push_newest(id);
        if done {
            self.retire(id, sink);
        } else if closed {
            self.queue_closing(id, stream);
        }
    }

    /// Queues a stream that just closed for release. Entries of streams that
    /// left the table otherwise are dropped when they reach the front, or,
    /// if the front is stuck (a close dated in the capture's future), swept
    /// once the queue outgrows the table: it never holds much more than the
    /// streams in the table.
    fn queue_closing(&mut self, slot: u32, stream: u64) {
        self.closing.push_back((slot, stream));
        if self.closing.len() > 2 * self.max_flows + 16 {
            let slots = &self.slots;
            self.closing.retain(|&(slot, stream)| {
                matches!(
                    slots.get(slot as usize).and_then(|s| s.entry.as_ref()),
                    Some(Entry::Live(flow)) if flow.stream() == stream
                )
            });
        }
    }

    fn evict_oldest(&mut self, at: FrameRef, sink: &mut impl Sink) {
        let slot = self.oldest;
        let (stream, open) = match self.entry(slot) {
            Some(Entry::Live(flow)) => (flow.stream(), flow.is_open()),
            Some(Entry::Released { id, .. }) => (id.stream, false),
            None => return,
        };
        if open {
            sink.push_finding(
                Finding::new(
                    FindingCode::FlowEvicted,
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
                    FindingCode::ClosedFlowsForgotten,
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

    /// Releases streams closed and silent for `flow_idle_timeout`, at most
    /// once per second of capture time (or whenever the capture's clock goes
    /// back by more than that), keeping their identity.
    fn release_lingering(&mut self, ts: Timestamp, sink: &mut impl Sink) {
        let now = ts.as_nanos();
        if let Some(next) = self.next_sweep {
            let went_back = now < next.saturating_sub(2 * SWEEP_EVERY_NANOS);
            if now < next && !went_back {
                return;
            }
        }
        self.next_sweep = Some(now.saturating_add(SWEEP_EVERY_NANOS));
        let mut due = Vec::new();
        while let Some(&(slot, stream)) = self.closing.front() {
            match self.entry(slot) {
                Some(Entry::Live(flow)) if flow.stream() == stream => {
                    if ts.nanos_since(flow.last().ts) < self.linger_nanos {
                        break;
                    }
                    due.push((stream, slot));
                }
                // Released already: port reuse or eviction.
                _ => {}
            }
            self.closing.pop_front();
        }
        due.sort_unstable();
        for (_, slot) in due {
            self.retire(slot, sink);
        }
    }

    /// Emits a closed stream's end and keeps only its identity.
    fn retire(&mut self, slot: u32, sink: &mut impl Sink) {
        // Closed already: the stream keeps its own ending (FIN or RST).
        self.keep_identity(slot, None, Ending::Fin, sink);
    }

    /// Frees a live stream's flow, emitting its end (`at`: its last frame
    /// by default), and keeps its identity in the slot for its 4-tuple's
    /// later packets; a [`Ending::MemoryBudget`] one is remembered as cut.
    fn keep_identity(
        &mut self,
        slot: u32,
        at: Option<FrameRef>,
        ending: Ending,
        sink: &mut impl Sink,
    ) {
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        if !matches!(s.entry, Some(Entry::Live(_))) {
            return;
        }
        if let Some(Entry::Live(mut flow)) = s.entry.take() {
            s.entry = Some(Entry::Released {
                id: flow.identity(),
                late: false,
                cut: ending == Ending::MemoryBudget,
            });
            let at = at.unwrap_or(flow.last());
            flow.release(at, ending, GapReason::Closed, sink);
        }
    }

    /// Removes a stream from the table and emits its end (unless it was
    /// released already). `at` defaults to its last frame.
    fn release(
        &mut self,
        slot: u32,
        at: Option<FrameRef>,
        ending: Ending,
        reason: GapReason,
        sink: &mut impl Sink,
    ) {
        self.unlink(slot);
        let Some((key, entry)) = self
            .slots
            .get_mut(slot as usize)
            .and_then(|s| Some((s.key, s.entry.take()?)))
        else {
            return;
        };
        self.free.push(slot);
        let slots = &self.slots;
        self.index.remove(&key, |s| slot_key(slots, s));
        if let Entry::Live(mut flow) = entry {
            flow.release(at.unwrap_or(flow.last()), ending, reason, sink);
        }
    }

    fn entry(&self, slot: u32) -> Option<&Entry> {
        self.slots.get(slot as usize)?.entry.as_ref()
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

/// `1 packet`, `2 packets`.
fn count(n: u64, noun: &str) -> String {
    let plural = if n == 1 { "" } else { "s" };
    format!("{n} {noun}{plural}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a stream leaves in the table once released, until eviction
    /// forgets it (up to `max_open_flows` of them): its slot (with the
    /// identity, no boxed flow) and its index entry.
    #[test]
    fn a_released_stream_costs_its_slot_and_index_entry_only() {
        let slot = std::mem::size_of::<Slot>();
        // The index holds the slot number (the key stays in the slot).
        let index_entry = std::mem::size_of::<u32>();
        assert!(slot <= 136 && index_entry <= 4, "{slot} + {index_entry}");
        assert!(std::mem::size_of::<Entry>() < std::mem::size_of::<Flow>() / 8);
    }
}
