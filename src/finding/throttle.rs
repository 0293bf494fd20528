//! "The first N, then a count": the one cut-off every stage uses for findings
//! that can repeat without end (a gap per lost segment, a malformed line per
//! line of a key log).
//!
//! Takes one key per finding about to be given (a [`Code`], or a code with a
//! direction); answers whether it is among the first `cap` of its key, and at
//! the end gives, in the order keys were first seen, each key that went over
//! with how many there were in all. Never builds the findings nor their
//! words: each stage words its own summary, so the output stays its own.

use super::Code;

/// Counts findings per key and admits the first `cap` of each.
#[derive(Clone, Debug)]
pub struct Throttle<K = Code> {
    cap: u64,
    /// In first-seen order, so summaries come out in a deterministic order
    /// that follows the capture; few keys, so a linear search is enough.
    counts: Vec<(K, u64)>,
}

/// A key that went over its cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow<K> {
    pub key: K,
    /// Findings of this key given (the cap).
    pub shown: u64,
    /// Findings of this key seen in all, shown or not.
    pub total: u64,
}

impl<K> Overflow<K> {
    /// Findings of this key that were only counted.
    pub fn hidden(&self) -> u64 {
        self.total.saturating_sub(self.shown)
    }
}

impl<K: Copy + PartialEq> Throttle<K> {
    /// A throttle that admits `cap` findings per key.
    pub fn new(cap: u64) -> Throttle<K> {
        Throttle {
            cap,
            counts: Vec::new(),
        }
    }

    /// How many findings per key are admitted.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// Counts one finding of `key`; true while it is among the first `cap`.
    pub fn admit(&mut self, key: K) -> bool {
        self.count_one(key) <= self.cap
    }

    /// Counts one finding of `key` and gives its number (1 for the first).
    pub fn count_one(&mut self, key: K) -> u64 {
        match self.counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => {
                *n = n.saturating_add(1);
                *n
            }
            None => {
                self.counts.push((key, 1));
                1
            }
        }
    }

    /// How many findings of `key` were counted so far.
    pub fn count(&self, key: K) -> u64 {
        self.counts
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(0, |&(_, n)| n)
    }

    /// How many findings were counted in all, admitted or not.
    pub fn total(&self) -> u64 {
        self.counts
            .iter()
            .fold(0, |sum, &(_, n)| sum.saturating_add(n))
    }

    /// The keys counted past the cap, in the order they were first seen.
    pub fn overflowed(&self) -> impl Iterator<Item = Overflow<K>> + '_ {
        self.counts
            .iter()
            .filter(|&&(_, n)| n > self.cap)
            .map(|&(key, total)| Overflow {
                key,
                shown: self.cap,
                total,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::FindingCode as Tcp;

    #[test]
    fn admits_the_first_cap_of_each_key_and_counts_the_rest() {
        let mut t: Throttle = Throttle::new(2);
        let gap = Code::from(Tcp::OutOfWindow);
        let ooo = Code::from(Tcp::OooLimit);
        let admitted: Vec<bool> = [gap, gap, ooo, gap, gap].map(|c| t.admit(c)).into();
        assert_eq!(admitted, [true, true, true, false, false]);
        assert_eq!((t.count(gap), t.count(ooo), t.total()), (4, 1, 5));
        let over: Vec<_> = t.overflowed().collect();
        assert_eq!(
            over,
            [Overflow {
                key: gap,
                shown: 2,
                total: 4
            }]
        );
        assert_eq!(over[0].hidden(), 2);
    }

    #[test]
    fn overflows_come_in_first_seen_order() {
        let mut t = Throttle::new(0);
        for key in [3, 1, 3, 2] {
            assert!(!t.admit(key));
        }
        let keys: Vec<u8> = t.overflowed().map(|o| o.key).collect();
        assert_eq!(keys, [3, 1, 2]);
    }

    #[test]
    fn a_cap_of_zero_admits_nothing() {
        let mut t: Throttle<u8> = Throttle::new(0);
        assert!(!t.admit(1));
        assert_eq!(t.count(1), 1);
    }
}
