//! Capture impairments as transformations of one conversation's segments:
//! reordering, exact duplicates, overlapping retransmissions, loss,
//! mid-stream start and IPv4 fragmentation. (Snap-length cuts act on
//! frames: see `capture`.)
//!
//! Takes a time-ordered segment list and a seeded RNG; gives the impaired
//! list, still in non-decreasing time order. Deterministic for a given
//! seed. Never invents bytes: every payload byte is one the model sent at
//! the same stream offset, so the truth stays "the bytes sent, minus what
//! was lost".

use fastrand::Rng;

use super::tcp::Segment;
use crate::Dir;

fn is_data(s: &Segment) -> bool {
    !s.payload.is_empty() && !s.syn
}

/// Positions of the data segments of `dir`.
fn data_positions(segs: &[Segment], dir: Dir) -> Vec<usize> {
    (0..segs.len())
        .filter(|&i| segs[i].dir == dir && is_data(&segs[i]))
        .collect()
}

/// Picks up to `count` distinct items, in increasing order.
fn pick<T: Copy + Ord>(rng: &mut Rng, mut items: Vec<T>, count: usize) -> Vec<T> {
    rng.shuffle(&mut items);
    items.truncate(count);
    items.sort();
    items
}

/// Swaps `count` data segments of `dir` with the next data segment of the
/// same direction (timestamps stay in place, so the later bytes arrive first).
pub fn reorder(segs: &mut [Segment], rng: &mut Rng, dir: Dir, count: usize) {
    let pos = data_positions(segs, dir);
    let pairs: Vec<(usize, usize)> = pos.windows(2).map(|w| (w[0], w[1])).collect();
    let mut used = Vec::new();
    for (a, b) in pick(rng, pairs, count) {
        if used.contains(&a) || used.contains(&b) {
            continue;
        }
        used.extend([a, b]);
        let (ta, tb) = (segs[a].ts_ns, segs[b].ts_ns);
        segs.swap(a, b);
        segs[a].ts_ns = ta;
        segs[b].ts_ns = tb;
    }
}

/// Inserts exact copies (same sequence number, same bytes) of `count` data
/// segments of `dir`, each one or two packets after the original.
pub fn duplicate(segs: &mut Vec<Segment>, rng: &mut Rng, dir: Dir, count: usize) {
    let chosen = pick(rng, data_positions(segs, dir), count);
    for &i in chosen.iter().rev() {
        let at = (i + 1 + rng.usize(0..2)).min(segs.len());
        let mut copy = segs[i].clone();
        copy.ts_ns = segs[at - 1].ts_ns;
        segs.insert(at, copy);
    }
}

/// Inserts `count` retransmissions that overlap two consecutive data
/// segments of `dir` (the second half of one and the first half of the
/// next, same bytes), right after the second.
pub fn overlap(segs: &mut Vec<Segment>, rng: &mut Rng, dir: Dir, count: usize) {
    let pos = data_positions(segs, dir);
    let pairs: Vec<(usize, usize)> = pos
        .windows(2)
        .map(|w| (w[0], w[1]))
        .filter(|&(a, b)| {
            let (x, y) = (&segs[a], &segs[b]);
            x.stream_off + x.payload.len() as u64 == y.stream_off
                && x.payload.len() >= 2
                && y.payload.len() >= 2
        })
        .collect();
    for (a, b) in pick(rng, pairs, count).into_iter().rev() {
        let (x, y) = (&segs[a], &segs[b]);
        let half_x = x.payload.len() / 2;
        let half_y = y.payload.len() / 2;
        let mut payload = x.payload[half_x..].to_vec();
        payload.extend_from_slice(&y.payload[..half_y]);
        let retrans = Segment {
            seq: x.seq.wrapping_add(half_x as u32),
            stream_off: x.stream_off + half_x as u64,
            payload,
            psh: false,
            ip_id: y.ip_id.wrapping_add(500),
            ..y.clone()
        };
        segs.insert(b + 1, retrans);
    }
}

/// Removes the `nth` (0-based) data segment of `dir`, as if the capture
/// missed it; the receiver's later ACKs still cover it. Returns it.
pub fn lose(segs: &mut Vec<Segment>, dir: Dir, nth: usize) -> Option<Segment> {
    let i = *data_positions(segs, dir).get(nth)?;
    Some(segs.remove(i))
}

/// Drops the first `n` segments (handshake included): a capture started
/// mid-stream.
pub fn start_mid_stream(segs: &mut Vec<Segment>, n: usize) {
    segs.drain(..n.min(segs.len()));
}

/// Marks the `nth` data segment of `dir` to be sent as IPv4 fragments of
/// `size` bytes of IP payload.
pub fn fragment(segs: &mut [Segment], dir: Dir, nth: usize, size: usize) {
    if let Some(&i) = data_positions(segs, dir).get(nth) {
        segs[i].fragment = Some(size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::{ConvConfig, Conversation};

    fn segs() -> (Vec<Segment>, Vec<u8>) {
        let mut cfg = ConvConfig::new(
            "10.0.0.1:40000".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        );
        cfg.mss = 100;
        let mut c = Conversation::new(0, cfg, 0);
        c.handshake();
        let body: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        c.send(Dir::ServerToClient, &body);
        (c.drain(), body)
    }

    /// The bytes at each stream offset are always the bytes sent there.
    fn consistent(segs: &[Segment], body: &[u8]) -> bool {
        segs.iter().filter(|s| is_data(s)).all(|s| {
            let off = s.stream_off as usize;
            body[off..off + s.payload.len()] == s.payload[..]
                && s.seq == 0x7000_0001u32.wrapping_add(s.stream_off as u32)
        })
    }

    fn sorted(segs: &[Segment]) -> bool {
        segs.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns)
    }

    #[test]
    fn impairments_keep_bytes_and_time_order() {
        let (mut s, body) = segs();
        let mut rng = Rng::with_seed(7);
        let n = s.len();
        overlap(&mut s, &mut rng, Dir::ServerToClient, 2);
        duplicate(&mut s, &mut rng, Dir::ServerToClient, 2);
        reorder(&mut s, &mut rng, Dir::ServerToClient, 2);
        assert_eq!(s.len(), n + 4);
        assert!(consistent(&s, &body));
        assert!(sorted(&s));
        let offs: Vec<u64> = s
            .iter()
            .filter(|s| is_data(s))
            .map(|s| s.stream_off)
            .collect();
        assert!(offs.windows(2).any(|w| w[0] > w[1]), "nothing out of order");
    }

    #[test]
    fn loss_removes_exactly_one_segment() {
        let (mut s, _) = segs();
        let lost = lose(&mut s, Dir::ServerToClient, 3).unwrap();
        assert_eq!(lost.stream_off, 300);
        assert!(s
            .iter()
            .all(|x| x.stream_off != 300 || x.payload.is_empty()));
    }

    #[test]
    fn same_seed_same_result() {
        let run = || {
            let (mut s, _) = segs();
            let mut rng = Rng::with_seed(42);
            duplicate(&mut s, &mut rng, Dir::ServerToClient, 3);
            reorder(&mut s, &mut rng, Dir::ServerToClient, 3);
            s
        };
        assert_eq!(run(), run());
    }
}
