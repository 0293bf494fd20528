//! TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 §3.4).
//!
//! Takes raw `u32` sequence and acknowledgement numbers; gives a [`Seq`] whose
//! comparisons and differences wrap, so a stream that crosses 2^32 needs no
//! special case anywhere. Two numbers more than 2^31 apart have no meaningful
//! order; TCP never keeps that much data in flight, and callers that turn
//! sequence numbers into 64-bit stream offsets only ever measure from the
//! current receive point.
//!
//! Modelled on smoltcp's `wire::tcp::SeqNumber`: `PartialOrd` only (the
//! order is not transitive across the whole space, so no `Ord`).

use std::cmp::Ordering;
use std::fmt;
use std::ops::Add;

/// A TCP sequence number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u32);

impl Seq {
    /// Signed distance from `earlier` to `self`: positive when `self` is later.
    pub fn diff(self, earlier: Seq) -> i32 {
        // Reinterpreting the wrapped difference as i32 is the RFC 1982 rule.
        self.0.wrapping_sub(earlier.0) as i32
    }

    /// The later of two sequence numbers.
    pub fn max(self, other: Seq) -> Seq {
        if other > self {
            other
        } else {
            self
        }
    }
}

impl Add<u32> for Seq {
    type Output = Seq;

    fn add(self, n: u32) -> Seq {
        Seq(self.0.wrapping_add(n))
    }
}

impl PartialOrd for Seq {
    fn partial_cmp(&self, other: &Seq) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

impl fmt::Debug for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seq({})", self.0)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_wraps_at_2_pow_32() {
        assert_eq!(Seq(u32::MAX) + 1, Seq(0));
        assert_eq!(Seq(u32::MAX - 9) + 20, Seq(10));
    }

    #[test]
    fn order_crosses_the_wrap() {
        assert!(Seq(u32::MAX) < Seq(0));
        assert!(Seq(0) > Seq(u32::MAX));
        assert!(Seq(u32::MAX - 5) < Seq(5));
        assert!(Seq(5) <= Seq(5));
        assert_eq!(Seq(7).partial_cmp(&Seq(7)), Some(Ordering::Equal));
    }

    #[test]
    fn diff_is_signed_and_wraps() {
        assert_eq!(Seq(5).diff(Seq(u32::MAX - 4)), 10);
        assert_eq!(Seq(u32::MAX - 4).diff(Seq(5)), -10);
        assert_eq!(Seq(0).diff(Seq(0)), 0);
    }

    #[test]
    fn half_space_edge() {
        // Exactly 2^31 apart: the difference is i32::MIN, so "earlier" both ways;
        // TCP never has that much in flight, so the only requirement is no panic.
        assert_eq!(Seq(1 << 31).diff(Seq(0)), i32::MIN);
        assert_eq!(Seq(0).diff(Seq(1 << 31)), i32::MIN);
        assert_eq!(Seq((1 << 31) - 1).diff(Seq(0)), i32::MAX);
    }

    #[test]
    fn max_prefers_the_later_number() {
        assert_eq!(Seq(u32::MAX).max(Seq(3)), Seq(3));
        assert_eq!(Seq(3).max(Seq(u32::MAX)), Seq(3));
        assert_eq!(Seq(10).max(Seq(9)), Seq(10));
    }
}
