//! One memory budget for the whole analysis: what every open connection's
//! stages hold, and what the capture-wide layer holds, added up.
//!
//! Takes, after each TCP event a connection handled, that connection's
//! [`Holdings`] (its stages' held bytes, by holder), and now and then the
//! capture-wide layer's held bytes (BOSH sessions, the Finesse stage's maps,
//! the TLS key material); gives the total, the connection to finish when
//! the total passes [`Limits::memory_budget`](crate::limits::Limits::memory_budget)
//! and the highest total accounted. Each update costs O(1) amortised, plus
//! O(log n) in the open connections when its buffered bytes changed, never a
//! walk over them. Never frees anything itself: the
//! analysis finishes the connection it names.
//!
//! What is counted, one rule for every stage: the **length** of the data a
//! stage holds because the input has not finished something (out-of-order
//! segments, partial records, heads and bodies, messages, stanzas, map keys
//! taken from the capture), never a buffer's capacity (a growing buffer may
//! have up to twice its length allocated, which the default budget allows
//! for), **plus a fixed estimate for each structure that exists because the
//! input opened it**: an open TCP flow (`tcp::FLOW_STATE_BYTES`), a
//! connection's stack and the stages it created (their `size_of` and an
//! allowance for their idle heap, [`STACK_HEAP_BYTES`]), a permessage-deflate
//! inflater (`ws::INFLATER_STATE_BYTES`), a secret of the key log.
//!
//! Which connection is finished when the total is over: the one holding the
//! most in buffers, when those buffers are more than its fixed state (one
//! cut then frees more than finishing an idle connection would); otherwise
//! the least recently active connection (many connections each holding
//! little: connection-count pressure), whose TCP flow is released too.

use std::collections::{BinaryHeap, VecDeque};

use crate::finding::Finding;
use crate::report::text::{bytes as size, count};

/// What the idle heap of a connection's stack is estimated at, beyond the
/// `size_of` of its structures (1.8 KB for the stack with its story inline,
/// 1.2 KB for a TLS session, 0.6 to 2 KB for the application stage): the
/// story's and the stages' small vectors and strings (the TLS summary, the
/// HTTP pairing queue, the XMPP summary). An allowance, not a measurement
/// per connection: with the TCP flow (960 bytes), an idle connection is charged about
/// 4.8 KB, against the 7.6 KB per connection of RSS that BENCHMARKS.md
/// measured with everything a connection leaves behind (its report, its
/// findings) included.
pub(crate) const STACK_HEAP_BYTES: usize = 2 << 10;

/// What holds a connection's bytes, in the order the stages see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Holder {
    /// Fixed state: the TCP flow, the stack and its stages, whatever they hold.
    ConnectionState,
    TcpOutOfOrder,
    TlsRecords,
    Probe,
    HttpMessage,
    WebSocketMessage,
    Inflater,
    XmppStanza,
}

impl Holder {
    const ALL: [Holder; 8] = [
        Holder::ConnectionState,
        Holder::TcpOutOfOrder,
        Holder::TlsRecords,
        Holder::Probe,
        Holder::HttpMessage,
        Holder::WebSocketMessage,
        Holder::Inflater,
        Holder::XmppStanza,
    ];

    /// Words for the finding: "an unfinished WebSocket message of 7.9 MB".
    fn describe(self) -> &'static str {
        match self {
            Holder::ConnectionState => "the state of an open connection (TCP flow, stages, story)",
            Holder::TcpOutOfOrder => "out-of-order TCP segments waiting for a hole",
            Holder::TlsRecords => "partial TLS records and handshake messages",
            Holder::Probe => "bytes waiting for their protocol to be recognised",
            Holder::HttpMessage => "an unfinished HTTP message (head and body)",
            Holder::WebSocketMessage => "an unfinished WebSocket message",
            Holder::Inflater => "permessage-deflate inflaters (window and state)",
            Holder::XmppStanza => "an unfinished XMPP stanza",
        }
    }
}

/// The bytes one connection holds, by holder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Holdings {
    /// Indexed by `Holder as usize`: [`Holder::ConnectionState`] first.
    bytes: [usize; Holder::ALL.len()],
}

impl Holdings {
    pub fn add(&mut self, holder: Holder, bytes: usize) {
        if let Some(slot) = self.bytes.get_mut(holder as usize) {
            *slot = slot.saturating_add(bytes);
        }
    }

    pub fn get(&self, holder: Holder) -> usize {
        self.bytes.get(holder as usize).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.bytes.iter().fold(0, |sum, b| sum.saturating_add(*b))
    }

    /// What the connection holds beyond its fixed state.
    pub fn buffers(&self) -> usize {
        self.total()
            .saturating_sub(self.get(Holder::ConnectionState))
    }

    /// The holder with the most bytes (the first in stage order on a tie).
    fn largest(&self) -> (Holder, usize) {
        Holder::ALL
            .iter()
            .zip(self.bytes)
            .fold((Holder::ConnectionState, 0), |best, (&h, b)| {
                if b > best.1 {
                    (h, b)
                } else {
                    best
                }
            })
    }

    /// What held the bytes, for the finding's message.
    pub fn describe(&self) -> String {
        let (holder, bytes) = self.largest();
        let total = self.total();
        let mut words = format!("{} of {}", holder.describe(), size(bytes as u64));
        if total > bytes {
            words.push_str(&format!(", {} in all", size(total as u64)));
        }
        words
    }
}

/// Which connection to finish to get back within the budget, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// The connection holding the most in buffers: finished with what it
    /// has, its out-of-order holes given up; its TCP flow goes on.
    Largest(u64),
    /// The least recently active connection: finished, and its TCP flow
    /// released (connection-count pressure).
    Oldest(u64),
}

/// What the budget knows of one connection.
#[derive(Clone, Copy, Debug)]
struct Accounted {
    total: usize,
    buffers: usize,
    /// When it was last accounted (the budget's own clock).
    tick: u64,
}

/// The running total and the ordered indexes of holders.
pub(crate) struct MemoryBudget {
    limit: usize,
    /// Hashed, never iterated: nothing said depends on its order.
    by_stream: hashbrown::HashMap<u64, Accounted, foldhash::fast::FixedState>,
    /// (buffers, stream) of the connections holding buffers, the largest on
    /// top. An entry whose buffers are no longer its stream's is stale and
    /// skipped, as in `by_age` (a connection's buffers change with nearly
    /// every segment); the top is never stale.
    by_buffers: BinaryHeap<(usize, u64)>,
    /// (tick, stream) in the order of the ticks, the oldest first. An entry
    /// whose tick is no longer its stream's is stale and skipped: every
    /// update appends one entry instead of moving one in an ordered set
    /// (one connection is accounted after each TCP event). The front is
    /// never stale ([`MemoryBudget::drop_stale`]).
    by_age: VecDeque<(u64, u64)>,
    tick: u64,
    connections: usize,
    capture_wide: usize,
    peak: usize,
    cuts: u64,
    /// Whose budget this is (said in the cut's finding).
    share: Share,
}

/// Whose budget a [`MemoryBudget`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Share {
    /// The whole analysis' (one thread).
    Whole,
    /// With `-j N`: worker `.0`'s (0-based) of `.1`, over its connections.
    Worker(usize, usize),
    /// With `-j N`: the reading thread's, over the TCP stage's out-of-order
    /// buffers (its cuts give up holes; the connections go on).
    Reader(usize),
}

impl MemoryBudget {
    /// A share of the budget, `limit` bytes (`-j N`: `memory_budget / (N + 1)`).
    pub fn of_share(limit: usize, share: Share) -> MemoryBudget {
        MemoryBudget {
            share,
            ..MemoryBudget::new(limit)
        }
    }

    pub fn new(limit: usize) -> MemoryBudget {
        MemoryBudget {
            share: Share::Whole,
            limit,
            by_stream: hashbrown::HashMap::default(),
            by_buffers: BinaryHeap::new(),
            by_age: VecDeque::new(),
            tick: 0,
            connections: 0,
            capture_wide: 0,
            peak: 0,
            cuts: 0,
        }
    }

    /// Connection `stream` holds `held` now (and was active now).
    pub fn set_connection(&mut self, stream: u64, held: &Holdings) {
        let total = held.total();
        if total == 0 {
            self.forget(stream);
            return;
        }
        let buffers = held.buffers();
        self.tick += 1;
        let entry = Accounted {
            total,
            buffers,
            tick: self.tick,
        };
        let before = self.by_stream.insert(stream, entry);
        if buffers > 0 && before.is_none_or(|b| b.buffers != buffers) {
            self.by_buffers.push((buffers, stream));
        }
        let before_total = before.map_or(0, |b| b.total);
        self.connections = self
            .connections
            .saturating_sub(before_total)
            .saturating_add(total);
        self.by_age.push_back((entry.tick, stream));
        self.drop_stale();
        self.note_peak();
    }

    /// Connection `stream` holds nothing any more (it ended, or was cut).
    pub fn forget(&mut self, stream: u64) {
        if let Some(before) = self.by_stream.remove(&stream) {
            self.connections = self.connections.saturating_sub(before.total);
            self.drop_stale();
        }
    }

    /// Whether `by_age`'s entry (tick, stream) is no longer its stream's.
    fn is_stale(&self, (tick, stream): (u64, u64)) -> bool {
        self.by_stream.get(&stream).is_none_or(|a| a.tick != tick)
    }

    /// Whether `by_buffers`' entry (buffers, stream) is no longer its stream's.
    fn is_stale_buffers(&self, (buffers, stream): (usize, u64)) -> bool {
        self.by_stream
            .get(&stream)
            .is_none_or(|a| a.buffers != buffers)
    }

    /// Keeps the front of `by_age` and the top of `by_buffers` live, and
    /// each within twice the live entries (each compaction follows as many
    /// updates as it walks).
    fn drop_stale(&mut self) {
        while let Some(&front) = self.by_age.front() {
            if !self.is_stale(front) {
                break;
            }
            self.by_age.pop_front();
        }
        while let Some(&top) = self.by_buffers.peek() {
            if !self.is_stale_buffers(top) {
                break;
            }
            self.by_buffers.pop();
        }
        let most = 2 * self.by_stream.len() + 64;
        let by_stream = &self.by_stream;
        if self.by_age.len() > most {
            self.by_age
                .retain(|&(tick, stream)| by_stream.get(&stream).is_some_and(|a| a.tick == tick));
        }
        if self.by_buffers.len() > most {
            // Live entries only, once each (a stream back at an earlier size
            // has two entries for it).
            self.by_buffers = by_stream
                .iter()
                .filter(|(_, a)| a.buffers > 0)
                .map(|(&stream, a)| (a.buffers, stream))
                .collect();
        }
    }

    /// The capture-wide layer holds `held` bytes now.
    pub fn set_capture_wide(&mut self, held: usize) {
        self.capture_wide = held;
        self.note_peak();
    }

    fn note_peak(&mut self) {
        self.peak = self.peak.max(self.total());
    }

    pub fn total(&self) -> usize {
        self.connections.saturating_add(self.capture_wide)
    }

    /// Connections accounted now.
    pub fn open(&self) -> usize {
        self.by_stream.len()
    }

    /// The connection to finish now to get back within the budget, while
    /// the total is over the limit (see the module's rule).
    pub fn over(&self) -> Option<Cut> {
        if self.total() <= self.limit {
            return None;
        }
        if let Some(&(buffers, stream)) = self.by_buffers.peek() {
            let fixed = self
                .by_stream
                .get(&stream)
                .map_or(0, |a| a.total.saturating_sub(a.buffers));
            if buffers > fixed {
                return Some(Cut::Largest(stream));
            }
        }
        self.by_age.front().map(|&(_, stream)| Cut::Oldest(stream))
    }

    /// The highest total accounted so far (after each update, before any cut
    /// it caused).
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// The `limits.memory` finding for connection `stream`, cut with `held`.
    pub fn cut_finding(&mut self, cut: Cut, held: &Holdings) -> Finding {
        self.cuts += 1;
        let (stream, what) = match cut {
            Cut::Largest(stream) | Cut::Oldest(stream) if matches!(self.share, Share::Reader(_)) => (stream, "its out-of-order holes were given up as gaps and the connection goes on".to_owned()),
            Cut::Largest(stream) => {
                let holes = if held.get(Holder::TcpOutOfOrder) > 0 {
                    " (its out-of-order holes given up as gaps)"
                } else {
                    ""
                };
                (stream, format!("the connection was finished early with what it had{holes}, and its later bytes are counted as unparsed"))
            }
            // A worker cannot release a flow of the TCP table (it is the reading thread's).
            Cut::Oldest(stream) if matches!(self.share, Share::Worker(..)) => (stream, format!("it was the least recently active of {}, so it was finished early with what it had, and its later bytes are counted as unparsed", count(self.open(), "open connection"))),
            Cut::Oldest(stream) => (stream, format!("it was the least recently active of {}, so it was finished early with what it had and its TCP flow released; later packets of its 4-tuple are counted, not analysed", count(self.open(), "open connection"))),
        };
        let share = match self.share {
            Share::Whole => String::new(),
            Share::Worker(worker, n) => format!(
                " of worker {} of {n} (-j {n}: the workers and the reading thread each have memory_budget / {})",
                worker + 1,
                n + 1
            ),
            Share::Reader(n) => format!(
                " of the reading thread, for out-of-order TCP segments (-j {n}: the workers and the reading thread each have memory_budget / {})",
                n + 1
            ),
        };
        let message = format!(
            "the analysis held {} with connection {stream} holding {}, over the memory budget{share} of {} (memory_budget, --memory-limit): {what} ({} cut so far)",
            size(self.total() as u64),
            held.describe(),
            size(self.limit as u64),
            count(self.cuts as usize, "connection"),
        );
        Finding::new(crate::limits::FindingCode::Memory, message).in_stream(stream, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holding(fixed: usize, buffers: usize) -> Holdings {
        let mut held = Holdings::default();
        held.add(Holder::ConnectionState, fixed);
        held.add(Holder::HttpMessage, buffers);
        held
    }

    #[test]
    fn the_total_follows_updates_and_names_the_largest_holder_only_when_over() {
        let mut budget = MemoryBudget::new(100);
        budget.set_connection(1, &holding(0, 40));
        budget.set_connection(2, &holding(0, 50));
        assert_eq!((budget.total(), budget.over()), (90, None));
        budget.set_capture_wide(20);
        assert_eq!(budget.over(), Some(Cut::Largest(2)));
        budget.set_connection(2, &holding(0, 10));
        budget.forget(1);
        assert_eq!((budget.total(), budget.over()), (30, None));
        assert_eq!(budget.peak(), 110);
        budget.set_connection(3, &Holdings::default());
        assert_eq!(budget.total(), 30, "an empty connection is not indexed");
        assert_eq!(budget.open(), 1);
    }

    #[test]
    fn ties_in_bytes_pick_the_higher_stream_and_never_lose_count() {
        let mut budget = MemoryBudget::new(10);
        budget.set_connection(7, &holding(0, 30));
        budget.set_connection(3, &holding(0, 30));
        assert_eq!(budget.over(), Some(Cut::Largest(7)));
        budget.forget(7);
        assert_eq!(budget.over(), Some(Cut::Largest(3)));
        budget.forget(3);
        assert_eq!((budget.total(), budget.over()), (0, None));
    }

    #[test]
    fn many_small_connections_give_way_oldest_first() {
        let mut budget = MemoryBudget::new(950);
        for stream in 0..10 {
            budget.set_connection(stream, &holding(100, 10));
        }
        assert_eq!(budget.total(), 1100);
        // Stream 0 was active again: stream 1 is now the least recently active.
        budget.set_connection(0, &holding(100, 20));
        assert_eq!(budget.over(), Some(Cut::Oldest(1)));
        budget.forget(1);
        assert_eq!(budget.over(), Some(Cut::Oldest(2)));
        budget.forget(2);
        assert_eq!(budget.over(), None);
    }

    #[test]
    fn buffers_larger_than_a_connections_state_are_cut_first() {
        let mut budget = MemoryBudget::new(1000);
        for stream in 0..10 {
            budget.set_connection(stream, &holding(90, 0));
        }
        budget.set_connection(10, &holding(90, 91));
        assert_eq!(budget.over(), Some(Cut::Largest(10)));
        budget.set_connection(10, &holding(90, 90));
        assert_eq!(
            budget.over(),
            Some(Cut::Oldest(0)),
            "no more than its state"
        );
    }

    /// The budget before its age queue and hashed index: three ordered
    /// sets, each entry moved on every update. The obviously correct model.
    #[derive(Default)]
    struct OrderedModel {
        by_stream: std::collections::BTreeMap<u64, Accounted>,
        by_buffers: std::collections::BTreeSet<(usize, u64)>,
        by_age: std::collections::BTreeSet<(u64, u64)>,
        tick: u64,
        connections: usize,
    }

    impl OrderedModel {
        fn set(&mut self, stream: u64, held: &Holdings) {
            self.forget(stream);
            if held.total() == 0 {
                return;
            }
            self.tick += 1;
            let entry = Accounted {
                total: held.total(),
                buffers: held.buffers(),
                tick: self.tick,
            };
            self.by_stream.insert(stream, entry);
            if entry.buffers > 0 {
                self.by_buffers.insert((entry.buffers, stream));
            }
            self.by_age.insert((entry.tick, stream));
            self.connections += entry.total;
        }

        fn forget(&mut self, stream: u64) {
            if let Some(before) = self.by_stream.remove(&stream) {
                self.by_buffers.remove(&(before.buffers, stream));
                self.by_age.remove(&(before.tick, stream));
                self.connections -= before.total;
            }
        }

        fn over(&self, limit: usize, capture_wide: usize) -> Option<Cut> {
            if self.connections + capture_wide <= limit {
                return None;
            }
            if let Some(&(buffers, stream)) = self.by_buffers.last() {
                let a = self.by_stream[&stream];
                if buffers > a.total - a.buffers {
                    return Some(Cut::Largest(stream));
                }
            }
            self.by_age.first().map(|&(_, stream)| Cut::Oldest(stream))
        }
    }

    /// The same cuts, totals and counts as the ordered model, over random
    /// updates, forgets and cuts of a few streams (so entries go stale
    /// often and the queue is compacted many times).
    #[test]
    fn the_age_queue_and_hashed_index_cut_what_ordered_sets_cut() {
        let mut rng = fastrand::Rng::with_seed(14);
        for round in 0..200 {
            let limit = rng.usize(100..5_000);
            let streams = rng.u64(1..40);
            let mut budget = MemoryBudget::new(limit);
            let mut model = OrderedModel::default();
            for step in 0..2_000 {
                let stream = rng.u64(0..streams);
                match rng.u8(0..10) {
                    0 => {
                        budget.forget(stream);
                        model.forget(stream);
                    }
                    1 => {
                        budget.set_capture_wide(rng.usize(0..200));
                    }
                    _ => {
                        let held = holding(rng.usize(0..3) * 100, rng.usize(0..4) * 50);
                        budget.set_connection(stream, &held);
                        model.set(stream, &held);
                    }
                }
                assert_eq!(budget.connections, model.connections, "{round}/{step}");
                assert_eq!(budget.open(), model.by_stream.len(), "{round}/{step}");
                let cut = budget.over();
                assert_eq!(
                    cut,
                    model.over(limit, budget.capture_wide),
                    "{round}/{step}"
                );
                if let Some(Cut::Largest(s) | Cut::Oldest(s)) = cut.filter(|_| rng.bool()) {
                    budget.forget(s);
                    model.forget(s);
                }
                assert!(budget.by_age.len() <= 2 * budget.open() + 65);
                assert!(budget.by_buffers.len() <= 2 * budget.open() + 65);
            }
        }
    }

    #[test]
    fn the_finding_names_the_stream_the_holder_and_the_budget() {
        let mut budget = MemoryBudget::new(1 << 20);
        let mut held = Holdings::default();
        held.add(Holder::WebSocketMessage, 3 << 20);
        held.add(Holder::TlsRecords, 100);
        budget.set_connection(4, &held);
        let finding = budget.cut_finding(Cut::Largest(4), &held);
        assert_eq!(finding.code, "limits.memory");
        assert_eq!(finding.stream, Some(4));
        assert!(
            finding
                .message
                .contains("connection 4 holding an unfinished WebSocket message of"),
            "{}",
            finding.message
        );
        assert!(finding.message.contains("in all"), "{}", finding.message);
        let finding = budget.cut_finding(Cut::Oldest(4), &holding(7000, 0));
        assert!(
            finding
                .message
                .contains("holding the state of an open connection")
                && finding
                    .message
                    .contains("least recently active of 1 open connection")
                && finding.message.contains("TCP flow released")
                && finding.message.contains("2 connections cut so far"),
            "{}",
            finding.message
        );
    }
}
