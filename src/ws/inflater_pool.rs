//! zlib inflaters recycled between connections, per thread.
//!
//! Takes the inflaters of directions that ended; gives them, reset, to
//! directions that start. Never keeps more than [`POOL_CAP`] idle ones, and
//! never hands out one with anything of its past: `Decompress::reset`
//! clears the window (zlib-rs `inflate::reset`), so a reused inflater
//! inflates exactly as a new one does, whatever it inflated before.
//!
//! Why: an inflater is one allocation of about 47 KB, under glibc's mmap
//! threshold. On a capture of many short connections, each freed inflater
//! left a hole in the heap that the small records which stay (desktops,
//! session records, the key log) split before the next inflater came, so
//! every new one took fresh memory: peak RSS twice the heap (154 MB for a
//! heap peak of 81 MB on 10,000 sessions, 200 at once; 72 MB with
//! `MALLOC_MMAP_THRESHOLD_=45000`, BENCHMARKS.md "Peak RSS by sessions").
//! Reusing the blocks keeps them out of the small records' way.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

use flate2::Decompress;

/// Idle inflaters kept per thread: about 23 MiB at most, not charged to
/// the memory budget. Inflaters are only made when the pool is empty, so
/// idle and busy ones together never outnumber the most ever busy at once
/// (which the budget bounds); the cap bounds what stays idle after a burst.
/// Connections open and close in waves: on 10,000 sessions, 200 at once,
/// all 400 inflaters are idle at times, and a cap of 64 still made 4,390
/// new ones (138 MB peak RSS, against 83 MB with room for 400).
pub(crate) const POOL_CAP: usize = 512;

thread_local! {
    static POOL: RefCell<Vec<Decompress>> = const { RefCell::new(Vec::new()) };
}

/// A raw (no zlib header) inflater that goes back to its thread's pool
/// when dropped.
pub(crate) struct PooledInflater {
    /// `Some` from [`PooledInflater::take`] until `drop`.
    z: Option<Decompress>,
}

impl PooledInflater {
    /// An idle inflater, reset, or a new one.
    pub(crate) fn take() -> PooledInflater {
        let reused = POOL.with_borrow_mut(Vec::pop).map(|mut z| {
            z.reset(false);
            z
        });
        PooledInflater {
            z: Some(reused.unwrap_or_else(|| Decompress::new(false))),
        }
    }
}

impl Deref for PooledInflater {
    type Target = Decompress;

    fn deref(&self) -> &Decompress {
        // `z` is Some from `take` until `drop`, the only place it is taken.
        self.z
            .as_ref()
            .expect("a pooled inflater is present until dropped")
    }
}

impl DerefMut for PooledInflater {
    fn deref_mut(&mut self) -> &mut Decompress {
        // As in `deref`.
        self.z
            .as_mut()
            .expect("a pooled inflater is present until dropped")
    }
}

impl Drop for PooledInflater {
    fn drop(&mut self) {
        let Some(z) = self.z.take() else {
            return;
        };
        // During thread teardown the pool may be gone: the inflater is then
        // simply freed.
        let _ = POOL.try_with(|pool| {
            if let Ok(mut pool) = pool.try_borrow_mut() {
                if pool.len() < POOL_CAP {
                    pool.push(z);
                }
            }
        });
    }
}

/// Idle inflaters in this thread's pool (tests).
#[cfg(test)]
pub(crate) fn idle() -> usize {
    POOL.with_borrow(Vec::len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress, FlushDecompress, Status};

    fn deflate_raw(plain: &[u8]) -> Vec<u8> {
        let mut c = Compress::new(Compression::default(), false);
        let mut out = Vec::with_capacity(plain.len() + 64);
        let status = c
            .compress_vec(plain, &mut out, FlushCompress::Finish)
            .unwrap();
        assert_eq!(status, Status::StreamEnd);
        out
    }

    fn inflate(z: &mut Decompress, input: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(1 << 16);
        z.decompress_vec(input, &mut out, FlushDecompress::Finish)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }

    #[test]
    fn a_dropped_inflater_is_reused_and_the_pool_is_capped() {
        let before = idle();
        let many: Vec<PooledInflater> = (0..POOL_CAP + 5).map(|_| PooledInflater::take()).collect();
        assert_eq!(idle(), before.saturating_sub(POOL_CAP + 5));
        drop(many);
        assert_eq!(idle(), POOL_CAP);
        let one = PooledInflater::take();
        assert_eq!(idle(), POOL_CAP - 1);
        drop(one);
        assert_eq!(idle(), POOL_CAP);
    }

    #[test]
    fn a_reused_inflater_inflates_as_a_new_one() {
        let first = b"the first connection's text, which must not be reachable later".repeat(20);
        let mut used = PooledInflater::take();
        assert_eq!(inflate(&mut used, &deflate_raw(&first)).unwrap(), first);
        assert_eq!(used.total_out(), first.len() as u64);
        drop(used);
        let reused = PooledInflater::take();
        assert_eq!((reused.total_in(), reused.total_out()), (0, 0));
        let text = b"0123456789".repeat(30);
        let stream = deflate_raw(&text);
        let mut reused = reused;
        let mut fresh = Decompress::new(false);
        assert_eq!(inflate(&mut reused, &stream).unwrap(), text);
        assert_eq!(inflate(&mut fresh, &stream).unwrap(), text);
        // A stream that refers back past its own start: the same error from
        // a reused inflater as from a new one, never bytes of the old window.
        let dangling = dangling_reference();
        drop(reused);
        let mut reused = PooledInflater::take();
        let mut fresh = Decompress::new(false);
        let from_reused = inflate(&mut reused, &dangling);
        let from_fresh = inflate(&mut fresh, &dangling);
        assert!(from_fresh.is_err(), "{from_fresh:?}");
        assert_eq!(from_reused, from_fresh);
    }

    /// A fixed-Huffman block holding one match of length 3 at distance 1
    /// with no byte before it (RFC 1951 §3.2.6): invalid at a stream's start.
    fn dangling_reference() -> Vec<u8> {
        // Bits, least significant first: BFINAL 1, BTYPE 01 (fixed),
        // length code 257 (7 bits 0000001, Huffman codes are sent most
        // significant bit first), distance code 0 (5 bits 00000), end of
        // block 256 (7 bits 0000000).
        let mut bits: Vec<u8> = vec![1, 1, 0];
        bits.extend([0, 0, 0, 0, 0, 0, 1]);
        bits.extend([0, 0, 0, 0, 0]);
        bits.extend([0, 0, 0, 0, 0, 0, 0]);
        bits.chunks(8)
            .map(|byte| {
                byte.iter()
                    .enumerate()
                    .fold(0u8, |acc, (i, &bit)| acc | (bit << i))
            })
            .collect()
    }
}
