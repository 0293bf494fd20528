//! The out-of-order buffer of one direction.
//!
//! Takes pieces of segments that arrived ahead of a hole, at `u64` offsets;
//! gives them back in offset order, owned, each with the frame that brought
//! it. Chunks never overlap: the first bytes seen for an offset win, so an
//! insertion stores only what no chunk covers yet and reports how much of the
//! new piece was a copy and whether that copy differed from the first. All
//! operations are O(log n) per chunk touched; never panics.

use std::collections::BTreeMap;

use crate::position::FrameRef;

/// Part of a segment: captured bytes, or bytes cut by the snapshot length.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Piece<'a> {
    Bytes(&'a [u8]),
    Missing(u64),
}

impl<'a> Piece<'a> {
    pub(crate) fn len(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::Missing(n) => *n,
        }
    }

    /// Bytes that really arrived (what counts as retransmitted when seen again).
    pub(crate) fn captured(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::Missing(_) => 0,
        }
    }

    /// The sub-piece `[from, to)`, relative to this piece's start (clamped).
    pub(crate) fn sub(&self, from: u64, to: u64) -> Piece<'a> {
        let to = to.min(self.len());
        let from = from.min(to);
        match self {
            // Both bounds are within the slice after the clamps above.
            Piece::Bytes(b) => Piece::Bytes(b.get(from as usize..to as usize).unwrap_or(&[])),
            Piece::Missing(_) => Piece::Missing(to - from),
        }
    }
}

#[derive(Debug)]
enum Body {
    Bytes(Box<[u8]>),
    Missing(u64),
}

/// A buffered piece, owned, with the frame that brought it.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) at: FrameRef,
    body: Body,
}

impl Chunk {
    fn new(at: FrameRef, piece: Piece<'_>) -> Chunk {
        let body = match piece {
            Piece::Bytes(b) => Body::Bytes(b.into()),
            Piece::Missing(n) => Body::Missing(n),
        };
        Chunk { at, body }
    }

    pub(crate) fn len(&self) -> u64 {
        self.piece().len()
    }

    fn heap_bytes(&self) -> usize {
        match &self.body {
            Body::Bytes(b) => b.len(),
            Body::Missing(_) => 0,
        }
    }

    pub(crate) fn piece(&self) -> Piece<'_> {
        match &self.body {
            Body::Bytes(b) => Piece::Bytes(b),
            Body::Missing(n) => Piece::Missing(*n),
        }
    }
}

/// What an insertion found already buffered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Overlap {
    /// Captured bytes of the new piece that were copies of buffered offsets.
    pub(crate) copied: u64,
    /// Chunks whose bytes the copy contradicted.
    pub(crate) conflicts: u64,
    /// The first contradiction: the frame of the kept copy and the offset.
    pub(crate) first_conflict: Option<(FrameRef, u64)>,
}

impl Overlap {
    pub(crate) fn add(&mut self, other: Overlap) {
        self.copied += other.copied;
        self.conflicts += other.conflicts;
        self.first_conflict = self.first_conflict.or(other.first_conflict);
    }
}

/// Non-overlapping owned chunks keyed by start offset.
#[derive(Debug, Default)]
pub(crate) struct Buffer {
    chunks: BTreeMap<u64, Chunk>,
    bytes: usize,
}

impl Buffer {
    /// Captured bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Chunks held.
    pub(crate) fn segments(&self) -> usize {
        self.chunks.len()
    }

    /// Start and length of the first chunk.
    pub(crate) fn first(&self) -> Option<(u64, u64)> {
        self.chunks.first_key_value().map(|(&k, c)| (k, c.len()))
    }

    pub(crate) fn first_start(&self) -> Option<u64> {
        self.chunks.keys().next().copied()
    }

    pub(crate) fn pop_first(&mut self) -> Option<(u64, Chunk)> {
        let (k, chunk) = self.chunks.pop_first()?;
        self.bytes -= chunk.heap_bytes();
        if self.chunks.is_empty() {
            // An emptied map keeps its last node (about 600 bytes here):
            // one per connection that ever held out-of-order data, 24 MB
            // of issue 13's 65,536-connection capture.
            self.chunks = BTreeMap::new();
        }
        Some((k, chunk))
    }

    pub(crate) fn clear(&mut self) {
        *self = Buffer::default();
    }

    /// Compares `new`, a later copy of the offsets from `pos`, with the chunk at `k`.
    pub(crate) fn compare(&self, k: u64, pos: u64, new: Piece<'_>) -> Overlap {
        let mut overlap = Overlap {
            copied: new.captured(),
            ..Overlap::default()
        };
        let (Piece::Bytes(new), Some(chunk)) = (new, self.chunks.get(&k)) else {
            return overlap;
        };
        let Body::Bytes(old) = &chunk.body else {
            return overlap;
        };
        let from = pos.saturating_sub(k) as usize;
        let old = old.get(from..from + new.len()).unwrap_or(&[]);
        if old.len() == new.len() && old != new {
            overlap.conflicts = 1;
            overlap.first_conflict = Some((chunk.at, pos));
        }
        overlap
    }

    /// Stores the parts of `piece` (starting at offset `start`) that no chunk
    /// covers; compares the parts that one does.
    pub(crate) fn insert(&mut self, start: u64, at: FrameRef, piece: Piece<'_>) -> Overlap {
        let end = start + piece.len();
        let mut overlap = Overlap::default();
        let mut pos = start;
        if let Some((&k, c)) = self.chunks.range(..pos).next_back() {
            let c_end = k + c.len();
            if c_end > pos {
                let o_end = c_end.min(end);
                overlap.add(self.compare(k, pos, piece.sub(pos - start, o_end - start)));
                pos = o_end;
            }
        }
        while pos < end {
            let next = self
                .chunks
                .range(pos..)
                .next()
                .map(|(&k, c)| (k, k + c.len()));
            match next {
                Some((k, c_end)) if k < end => {
                    if k > pos {
                        self.store(pos, at, piece.sub(pos - start, k - start));
                    }
                    let o_end = c_end.min(end);
                    overlap.add(self.compare(k, k, piece.sub(k - start, o_end - start)));
                    pos = o_end;
                }
                _ => {
                    self.store(pos, at, piece.sub(pos - start, end - start));
                    pos = end;
                }
            }
        }
        overlap
    }

    fn store(&mut self, off: u64, at: FrameRef, piece: Piece<'_>) {
        let chunk = Chunk::new(at, piece);
        self.bytes += chunk.heap_bytes();
        self.chunks.insert(off, chunk);
    }

    /// Drops everything at or beyond `off`; returns the captured bytes dropped.
    pub(crate) fn truncate(&mut self, off: u64) -> u64 {
        let beyond = self.chunks.split_off(&off);
        let mut dropped: u64 = beyond.values().map(|c| c.heap_bytes() as u64).sum();
        if let Some((&k, chunk)) = self.chunks.iter_mut().next_back() {
            let keep = off.saturating_sub(k);
            if keep < chunk.len() {
                let piece = chunk.piece().sub(0, keep);
                dropped += chunk.piece().captured() - piece.captured();
                *chunk = Chunk::new(chunk.at, piece);
            }
        }
        self.bytes = self.chunks.values().map(Chunk::heap_bytes).sum();
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: u64) -> FrameRef {
        FrameRef::new(n, crate::position::Timestamp::default())
    }

    fn contents(b: &Buffer) -> Vec<(u64, Vec<u8>, u64)> {
        b.chunks
            .iter()
            .map(|(&k, c)| match c.piece() {
                Piece::Bytes(x) => (k, x.to_vec(), c.at.frame),
                Piece::Missing(n) => (k, vec![b'?'; n as usize], c.at.frame),
            })
            .collect()
    }

    #[test]
    fn insert_keeps_first_copies_and_fills_around_them() {
        let mut b = Buffer::default();
        b.insert(10, f(1), Piece::Bytes(b"klm"));
        b.insert(20, f(2), Piece::Bytes(b"uv"));
        let o = b.insert(8, f(3), Piece::Bytes(b"ijKLMnopqrstUVw"));
        assert_eq!(
            contents(&b),
            vec![
                (8, b"ij".to_vec(), 3),
                (10, b"klm".to_vec(), 1),
                (13, b"nopqrst".to_vec(), 3),
                (20, b"uv".to_vec(), 2),
                (22, b"w".to_vec(), 3),
            ]
        );
        assert_eq!((o.copied, o.conflicts), (5, 2));
        assert_eq!(o.first_conflict, Some((f(1), 10)));
        assert_eq!((b.bytes(), b.segments()), (15, 5));
    }

    #[test]
    fn a_copy_inside_one_chunk_is_only_compared() {
        let mut b = Buffer::default();
        b.insert(0, f(1), Piece::Bytes(b"abcdef"));
        let o = b.insert(2, f(2), Piece::Bytes(b"cd"));
        assert_eq!(
            o,
            Overlap {
                copied: 2,
                ..Overlap::default()
            }
        );
        assert_eq!(b.segments(), 1);
    }

    #[test]
    fn missing_pieces_occupy_space_without_bytes() {
        let mut b = Buffer::default();
        b.insert(5, f(1), Piece::Missing(4));
        let o = b.insert(3, f(2), Piece::Bytes(b"xxxxxxxx"));
        assert_eq!(o.copied, 4);
        assert_eq!(o.conflicts, 0);
        assert_eq!((b.bytes(), b.segments()), (4, 3));
    }

    #[test]
    fn truncate_drops_and_trims_beyond_an_offset() {
        let mut b = Buffer::default();
        b.insert(0, f(1), Piece::Bytes(b"abcd"));
        b.insert(6, f(1), Piece::Bytes(b"gh"));
        assert_eq!(b.truncate(2), 4);
        assert_eq!(contents(&b), vec![(0, b"ab".to_vec(), 1)]);
        assert_eq!(b.bytes(), 2);
        assert_eq!(b.pop_first().map(|(k, c)| (k, c.len())), Some((0, 2)));
        assert_eq!(b.first(), None);
    }
}
