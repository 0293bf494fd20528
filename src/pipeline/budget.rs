//! One memory budget for the whole analysis: what every open connection's
//! stages hold, and what the capture-wide layer holds, added up.
//!
//! Takes, after each TCP event a connection handled, that connection's
//! [`Holdings`] (its stages' held bytes, by holder), and now and then the
//! capture-wide layer's held bytes; gives the total, the connection holding
//! the most (to be finished early when the total passes
//! [`Limits::memory_budget`](crate::limits::Limits::memory_budget)) and the
//! highest total accounted. Each update costs O(log n) in the connections
//! holding something, never a walk over them. Never frees anything itself:
//! the analysis finishes the connection it names.

use std::collections::{BTreeMap, BTreeSet};

use crate::finding::Finding;
use crate::report::text::{bytes as size, count};

/// What holds a connection's bytes, in the order the stages see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Holder {
    TcpOutOfOrder,
    TlsRecords,
    Probe,
    HttpMessage,
    WebSocketMessage,
    XmppStanza,
}

impl Holder {
    const ALL: [Holder; 6] = [
        Holder::TcpOutOfOrder,
        Holder::TlsRecords,
        Holder::Probe,
        Holder::HttpMessage,
        Holder::WebSocketMessage,
        Holder::XmppStanza,
    ];

    /// Words for the finding: "an unfinished WebSocket message of 7.9 MB".
    fn describe(self) -> &'static str {
        match self {
            Holder::TcpOutOfOrder => "out-of-order TCP segments waiting for a hole",
            Holder::TlsRecords => "partial TLS records and handshake messages",
            Holder::Probe => "bytes waiting for their protocol to be recognised",
            Holder::HttpMessage => "an unfinished HTTP message (head and body)",
            Holder::WebSocketMessage => "an unfinished WebSocket message",
            Holder::XmppStanza => "an unfinished XMPP stanza",
        }
    }
}

/// The bytes one connection holds, by holder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Holdings {
    /// Indexed by `Holder as usize`: [`Holder::TcpOutOfOrder`] first.
    bytes: [usize; Holder::ALL.len()],
}

impl Holdings {
    pub fn add(&mut self, holder: Holder, bytes: usize) {
        if let Some(slot) = self.bytes.get_mut(holder as usize) {
            *slot = slot.saturating_add(bytes);
        }
    }

    pub fn total(&self) -> usize {
        self.bytes.iter().fold(0, |sum, b| sum.saturating_add(*b))
    }

    /// The holder with the most bytes (the first in stage order on a tie).
    fn largest(&self) -> (Holder, usize) {
        Holder::ALL
            .iter()
            .zip(self.bytes)
            .fold((Holder::TcpOutOfOrder, 0), |best, (&h, b)| {
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

/// The running total and the ordered index of holders.
pub(crate) struct MemoryBudget {
    limit: usize,
    /// What each connection holding something holds, by stream.
    by_stream: BTreeMap<u64, usize>,
    /// The same, ordered by bytes held: the largest is the last.
    index: BTreeSet<(usize, u64)>,
    connections: usize,
    capture_wide: usize,
    peak: usize,
    cuts: u64,
}

impl MemoryBudget {
    pub fn new(limit: usize) -> MemoryBudget {
        MemoryBudget {
            limit,
            by_stream: BTreeMap::new(),
            index: BTreeSet::new(),
            connections: 0,
            capture_wide: 0,
            peak: 0,
            cuts: 0,
        }
    }

    /// Connection `stream` holds `held` bytes now (0 when it ended).
    pub fn set_connection(&mut self, stream: u64, held: usize) {
        let before = if held == 0 {
            self.by_stream.remove(&stream)
        } else {
            self.by_stream.insert(stream, held)
        };
        if let Some(before) = before {
            self.index.remove(&(before, stream));
            self.connections = self.connections.saturating_sub(before);
        }
        if held > 0 {
            self.index.insert((held, stream));
            self.connections = self.connections.saturating_add(held);
        }
        self.note_peak();
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

    /// The connection to finish now to get back within the budget: the one
    /// holding the most, while the total is over the limit.
    pub fn over_by_largest(&self) -> Option<(u64, usize)> {
        if self.total() <= self.limit {
            return None;
        }
        self.index.last().map(|&(held, stream)| (stream, held))
    }

    /// The highest total accounted so far (after each update, before any cut
    /// it caused).
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// The `limits.memory` finding for connection `stream`, cut with `held`.
    pub fn cut_finding(&mut self, stream: u64, held: &Holdings) -> Finding {
        self.cuts += 1;
        let holes = match held.bytes.first() {
            Some(&tcp) if tcp > 0 => " (its out-of-order holes given up as gaps)",
            _ => "",
        };
        let message = format!(
            "the analysis held {} with connection {stream} holding {}, over the memory budget of {} (memory_budget, --memory-limit): the connection was finished early with what it had{holes}, and its later bytes are counted as unparsed ({} cut so far)",
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

    #[test]
    fn the_total_follows_updates_and_names_the_largest_holder_only_when_over() {
        let mut budget = MemoryBudget::new(100);
        budget.set_connection(1, 40);
        budget.set_connection(2, 50);
        assert_eq!((budget.total(), budget.over_by_largest()), (90, None));
        budget.set_capture_wide(20);
        assert_eq!(budget.over_by_largest(), Some((2, 50)));
        budget.set_connection(2, 10);
        budget.set_connection(1, 0);
        assert_eq!((budget.total(), budget.over_by_largest()), (30, None));
        assert_eq!(budget.peak(), 110);
        budget.set_connection(3, 0);
        assert_eq!(budget.total(), 30, "an empty connection is not indexed");
    }

    #[test]
    fn ties_in_bytes_pick_the_higher_stream_and_never_lose_count() {
        let mut budget = MemoryBudget::new(10);
        budget.set_connection(7, 30);
        budget.set_connection(3, 30);
        assert_eq!(budget.over_by_largest(), Some((7, 30)));
        budget.set_connection(7, 0);
        assert_eq!(budget.over_by_largest(), Some((3, 30)));
        budget.set_connection(3, 0);
        assert_eq!((budget.total(), budget.over_by_largest()), (0, None));
    }

    #[test]
    fn the_finding_names_the_stream_the_holder_and_the_budget() {
        let mut budget = MemoryBudget::new(1 << 20);
        budget.set_connection(4, 3 << 20);
        let mut held = Holdings::default();
        held.add(Holder::WebSocketMessage, 3 << 20);
        held.add(Holder::TlsRecords, 100);
        let finding = budget.cut_finding(4, &held);
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
    }
}
