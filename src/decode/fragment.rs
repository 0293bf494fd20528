//! IPv4 and IPv6 fragment reassembly, bounded.
//!
//! Takes IP fragments (addresses, identification, protocol, offset, more
//! flag, payload) in capture order; gives the reassembled IP payload (for
//! IPv6, the fragmentable part) and its protocol when a datagram completes. Each datagram's bytes and holes live in etherparse's
//! `IpDefragBuf`; this module bounds how many datagrams and bytes are held,
//! expires datagrams by capture time, and refuses overlaps whose bytes
//! disagree. IPv4 and IPv6 datagrams share the caps and the counters. Never holds more than `Limits::max_fragment_datagrams`
//! datagrams or `Limits::max_fragment_bytes` bytes: a cap hit drops a
//! datagram with a finding.
//!
//! Policy: overlapping fragments must carry the same bytes where they
//! overlap (a retransmitted fragment); different bytes drop the datagram,
//! since either version may be the one the receiver kept. To make room for a
//! new datagram the oldest one is dropped.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

use etherparse::defrag::IpDefragBuf;
use etherparse::{IpFragOffset, IpNumber};

use super::FragmentStats;
use crate::decode::FindingCode;
use crate::finding::{Finding, Findings};
use crate::limits::Limits;
use crate::position::{FrameRef, Timestamp};

/// Identifies the datagram a fragment belongs to: source, destination and
/// identification, plus the protocol for IPv4 (RFC 791; RFC 8200 §4.5 keys
/// IPv6 packets on addresses and identification only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DatagramKey {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    /// IPv4 only.
    pub(crate) protocol: Option<u8>,
    pub(crate) id: u32,
}

impl DatagramKey {
    fn describe(&self) -> String {
        match self.protocol {
            Some(_) => format!(
                "IPv4 datagram {} -> {} id 0x{:04x}",
                self.src, self.dst, self.id
            ),
            None => format!(
                "IPv6 packet {} -> {} id 0x{:08x}",
                self.src, self.dst, self.id
            ),
        }
    }
}

/// One fragment of a datagram.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fragment<'a> {
    pub(crate) key: DatagramKey,
    /// The protocol this fragment names (IPv6: its Fragment header's next
    /// header; only the first fragment's counts, RFC 8200 §4.5).
    pub(crate) protocol: IpNumber,
    pub(crate) offset: IpFragOffset,
    pub(crate) more: bool,
    pub(crate) payload: &'a [u8],
    /// The fragment was cut by the snapshot length.
    pub(crate) cut: bool,
}

/// What a fragment did to its datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Held,
    Dropped,
    /// The datagram is complete: its IP payload and the protocol it carries.
    Complete(Vec<u8>, IpNumber),
}

/// Datagrams still incomplete, for the end of the capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Incomplete {
    pub(crate) datagrams: usize,
    pub(crate) bytes: usize,
    /// The first fragment of the oldest one.
    pub(crate) first: FrameRef,
}

struct Datagram {
    buf: IpDefragBuf,
    first_seen: FrameRef,
    /// The protocol named by the fragment at offset 0, once seen.
    protocol: Option<IpNumber>,
    generation: u64,
}

pub(crate) struct Reassembler {
    datagrams: BTreeMap<DatagramKey, Datagram>,
    /// Datagrams in creation order (with a generation to skip stale entries): expiry and eviction.
    order: VecDeque<(Timestamp, DatagramKey, u64)>,
    held_bytes: usize,
    next_generation: u64,
    max_datagrams: usize,
    max_bytes: usize,
    timeout_nanos: i64,
    pub(crate) stats: FragmentStats,
}

impl Reassembler {
    pub(crate) fn new(limits: &Limits) -> Reassembler {
        Reassembler {
            datagrams: BTreeMap::new(),
            order: VecDeque::new(),
            held_bytes: 0,
            next_generation: 0,
            max_datagrams: limits.max_fragment_datagrams,
            max_bytes: limits.max_fragment_bytes,
            timeout_nanos: i64::try_from(limits.fragment_timeout.as_nanos()).unwrap_or(i64::MAX),
            stats: FragmentStats::default(),
        }
    }

    /// Bytes held in incomplete datagrams.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// What is still held: at the end of the capture, fragments never completed.
    pub(crate) fn incomplete(&self) -> Option<Incomplete> {
        let first = self.datagrams.values().map(|d| d.first_seen).min()?;
        Some(Incomplete {
            datagrams: self.datagrams.len(),
            bytes: self.held_bytes,
            first,
        })
    }

    pub(crate) fn on_fragment(
        &mut self,
        fragment: Fragment<'_>,
        at: FrameRef,
        findings: &mut impl Findings,
    ) -> Outcome {
        self.expire(at, findings);
        let key = fragment.key;
        if fragment.cut {
            return self.refuse(
                key,
                at,
                findings,
                "a fragment was cut by the snapshot length",
            );
        }
        if !self.datagrams.contains_key(&key) && !self.make_room(at, findings) {
            return self.refuse(key, at, findings, "max_fragment_datagrams is 0");
        }
        match self.add(fragment, at) {
            Err(why) => self.refuse(key, at, findings, &why),
            Ok(false) => {
                self.stats.held += 1;
                Outcome::Held
            }
            Ok(true) => match self.datagrams.remove(&key) {
                Some(done) => {
                    let protocol = done.protocol.unwrap_or(fragment.protocol);
                    let (data, _) = done.buf.take_bufs();
                    self.held_bytes = self.held_bytes.saturating_sub(data.len());
                    self.stats.reassembled += 1;
                    Outcome::Complete(data, protocol)
                }
                None => Outcome::Held, // unreachable: `add` just completed it
            },
        }
    }

    /// Adds a fragment to its datagram (created if new); whether the datagram
    /// is complete, or why the fragment cannot be accepted.
    fn add(&mut self, fragment: Fragment<'_>, now: FrameRef) -> Result<bool, String> {
        let key = fragment.key;
        let start = usize::from(fragment.offset.byte_offset());
        let end = start.saturating_add(fragment.payload.len());
        if !self.datagrams.contains_key(&key) {
            self.forget_stale_order();
        }
        let datagram = self.datagrams.entry(key).or_insert_with(|| {
            let generation = self.next_generation;
            self.next_generation += 1;
            self.order.push_back((now.ts, key, generation));
            Datagram {
                buf: IpDefragBuf::new(fragment.protocol, Vec::new(), Vec::new()),
                first_seen: now,
                protocol: None,
                generation,
            }
        });
        if start == 0 {
            datagram.protocol = Some(fragment.protocol);
        }
        if let Some(at_byte) = first_disagreement(&datagram.buf, start, fragment.payload) {
            return Err(format!("overlapping fragments disagree at byte {at_byte}"));
        }
        let old_len = datagram.buf.data().len();
        let growth = end.saturating_sub(old_len);
        if self.held_bytes.saturating_add(growth) > self.max_bytes {
            return Err(format!(
                "holding it would exceed max_fragment_bytes ({})",
                self.max_bytes
            ));
        }
        datagram
            .buf
            .add(fragment.offset, fragment.more, fragment.payload)
            .map_err(|e| e.to_string())?;
        let new_len = datagram.buf.data().len();
        self.held_bytes = self
            .held_bytes
            .saturating_sub(old_len)
            .saturating_add(new_len);
        Ok(datagram.buf.is_complete())
    }

    /// `order` keeps an entry per datagram ever started; `expire` only pops
    /// stale ones at the front, so behind a long-lived datagram they would
    /// pile up. Past twice the live maximum they are swept (amortised O(1)).
    fn forget_stale_order(&mut self) {
        if self.order.len() < 2 * self.max_datagrams.max(1) + 16 {
            return;
        }
        let datagrams = &self.datagrams;
        self.order
            .retain(|(_, k, g)| datagrams.get(k).map(|d| d.generation) == Some(*g));
    }

    /// Drops datagrams whose first fragment is older than the timeout.
    fn expire(&mut self, at: FrameRef, findings: &mut impl Findings) {
        while let Some(&(first_seen, key, generation)) = self.order.front() {
            let current = self.datagrams.get(&key).map(|d| d.generation);
            if current != Some(generation) {
                self.order.pop_front();
                continue;
            }
            if at.ts.nanos_since(first_seen) <= self.timeout_nanos {
                break;
            }
            let secs = self.timeout_nanos / 1_000_000_000;
            self.drop_datagram(
                key,
                at,
                findings,
                &format!("still incomplete after {secs} s"),
            );
        }
    }

    /// Makes room for one more datagram by dropping the oldest; false if none may be held.
    fn make_room(&mut self, at: FrameRef, findings: &mut impl Findings) -> bool {
        while self.datagrams.len() >= self.max_datagrams {
            let Some((_, key, generation)) = self.order.pop_front() else {
                return false;
            };
            if self.datagrams.get(&key).map(|d| d.generation) == Some(generation) {
                let why = format!("max_fragment_datagrams ({}) reached", self.max_datagrams);
                self.drop_datagram(key, at, findings, &why);
            }
        }
        true
    }

    fn refuse(
        &mut self,
        key: DatagramKey,
        at: FrameRef,
        findings: &mut impl Findings,
        why: &str,
    ) -> Outcome {
        if !self.drop_datagram(key, at, findings, why) {
            let message = format!("{} dropped: {why}", key.describe());
            findings.push_finding(Finding::new(FindingCode::FragmentDropped, message).at(at));
            self.stats.dropped += 1;
        }
        Outcome::Dropped
    }

    /// Drops a held datagram with a finding; false if it was not held.
    fn drop_datagram(
        &mut self,
        key: DatagramKey,
        at: FrameRef,
        findings: &mut impl Findings,
        why: &str,
    ) -> bool {
        let Some(datagram) = self.datagrams.remove(&key) else {
            return false;
        };
        let held = datagram.buf.data().len();
        self.held_bytes = self.held_bytes.saturating_sub(held);
        self.stats.dropped += 1;
        let age = at.ts.secs_since(datagram.first_seen.ts);
        let message = format!(
            "{} dropped ({held} bytes held, first fragment {age:.3} s earlier): {why}",
            key.describe()
        );
        findings.push_finding(Finding::new(FindingCode::FragmentDropped, message).at(at));
        true
    }
}

/// The first datagram offset where `payload` (placed at `start`) differs from bytes already held.
fn first_disagreement(buf: &IpDefragBuf, start: usize, payload: &[u8]) -> Option<usize> {
    let end = start.saturating_add(payload.len());
    for section in buf.sections() {
        let lo = start.max(usize::from(section.start));
        let hi = end.min(usize::from(section.end));
        if lo >= hi {
            continue;
        }
        let held = buf.data().get(lo..hi)?;
        let new = payload.get(lo - start..hi - start)?;
        if let Some(i) = held.iter().zip(new).position(|(a, b)| a != b) {
            return Some(lo + i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const KEY: DatagramKey = DatagramKey {
        src: IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)),
        dst: IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)),
        protocol: Some(6),
        id: 0x1234,
    };

    fn frag(offset_bytes: u16, more: bool, payload: &[u8]) -> Fragment<'_> {
        Fragment {
            key: KEY,
            protocol: IpNumber::TCP,
            offset: IpFragOffset::try_new(offset_bytes / 8).unwrap(),
            more,
            payload,
            cut: false,
        }
    }

    fn at(frame: u64, secs: i64) -> FrameRef {
        FrameRef::new(frame, Timestamp::from_secs_nanos(secs, 0))
    }

    fn datagram() -> Vec<u8> {
        (0..40u8).collect()
    }

    #[test]
    fn fragments_in_any_order_reassemble() {
        let d = datagram();
        let orders: [[usize; 3]; 6] = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for order in orders {
            let mut r = Reassembler::new(&Limits::default());
            let mut findings = Vec::new();
            let parts = [
                frag(0, true, &d[..16]),
                frag(16, true, &d[16..32]),
                frag(32, false, &d[32..]),
            ];
            let outcomes: Vec<Outcome> = order
                .iter()
                .map(|&i| r.on_fragment(parts[i], at(i as u64, 0), &mut findings))
                .collect();
            assert_eq!(
                outcomes,
                vec![
                    Outcome::Held,
                    Outcome::Held,
                    Outcome::Complete(d.clone(), IpNumber::TCP)
                ],
                "{order:?}"
            );
            assert_eq!(r.held_bytes(), 0);
            assert!(findings.is_empty());
        }
    }

    #[test]
    fn identical_overlap_is_accepted_and_different_overlap_drops() {
        let d = datagram();
        let mut r = Reassembler::new(&Limits::default());
        let mut findings = Vec::new();
        assert_eq!(
            r.on_fragment(frag(0, true, &d[..24]), at(1, 0), &mut findings),
            Outcome::Held
        );
        assert_eq!(
            r.on_fragment(frag(16, true, &d[16..32]), at(2, 0), &mut findings),
            Outcome::Held
        );
        assert_eq!(
            r.on_fragment(frag(32, false, &d[32..]), at(3, 0), &mut findings),
            Outcome::Complete(d.clone(), IpNumber::TCP)
        );
        assert!(findings.is_empty());

        let mut evil = d[16..32].to_vec();
        evil[4] ^= 0xff;
        assert_eq!(
            r.on_fragment(frag(0, true, &d[..24]), at(4, 0), &mut findings),
            Outcome::Held
        );
        assert_eq!(
            r.on_fragment(frag(16, true, &evil), at(5, 0), &mut findings),
            Outcome::Dropped
        );
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0]
                .message
                .contains("overlapping fragments disagree at byte 20"),
            "{}",
            findings[0].message
        );
        assert_eq!(
            (r.stats.dropped, r.stats.reassembled, r.held_bytes()),
            (1, 1, 0)
        );
    }

    #[test]
    fn timeout_by_capture_time_drops_the_datagram() {
        let d = datagram();
        let limits = Limits {
            fragment_timeout: Duration::from_secs(30),
            ..Limits::default()
        };
        let mut r = Reassembler::new(&limits);
        let mut findings = Vec::new();
        r.on_fragment(frag(0, true, &d[..16]), at(1, 100), &mut findings);
        assert_eq!(
            r.on_fragment(frag(32, false, &d[32..]), at(2, 131), &mut findings),
            Outcome::Held
        );
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0].message.contains("still incomplete after 30 s"),
            "{}",
            findings[0].message
        );
        assert_eq!(findings[0].frame, Some(2));
        // Held bytes count the buffer up to the highest fragment end, holes included.
        assert_eq!(r.held_bytes(), 40);
    }

    #[test]
    fn datagram_cap_drops_the_oldest() {
        let d = datagram();
        let limits = Limits {
            max_fragment_datagrams: 2,
            ..Limits::default()
        };
        let mut r = Reassembler::new(&limits);
        let mut findings = Vec::new();
        for id in 0..3u32 {
            let f = Fragment {
                key: DatagramKey { id, ..KEY },
                ..frag(0, true, &d[..16])
            };
            assert_eq!(
                r.on_fragment(f, at(u64::from(id), 0), &mut findings),
                Outcome::Held
            );
        }
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0].message.contains("id 0x0000 dropped"),
            "{}",
            findings[0].message
        );
        assert!(findings[0]
            .message
            .contains("max_fragment_datagrams (2) reached"));
        let zero = Limits {
            max_fragment_datagrams: 0,
            ..Limits::default()
        };
        let mut r = Reassembler::new(&zero);
        assert_eq!(
            r.on_fragment(frag(0, true, &d[..16]), at(1, 0), &mut findings),
            Outcome::Dropped
        );
    }

    #[test]
    fn byte_cap_drops_the_datagram() {
        let d = datagram();
        let limits = Limits {
            max_fragment_bytes: 24,
            ..Limits::default()
        };
        let mut r = Reassembler::new(&limits);
        let mut findings = Vec::new();
        assert_eq!(
            r.on_fragment(frag(0, true, &d[..16]), at(1, 0), &mut findings),
            Outcome::Held
        );
        assert_eq!(
            r.on_fragment(frag(16, true, &d[16..32]), at(2, 0), &mut findings),
            Outcome::Dropped
        );
        assert!(
            findings[0].message.contains("max_fragment_bytes (24)"),
            "{}",
            findings[0].message
        );
        assert_eq!((r.held_bytes(), r.stats.dropped), (0, 1));
    }

    #[test]
    fn finished_datagrams_behind_a_held_one_leave_no_bookkeeping() {
        let d = datagram();
        let mut r = Reassembler::new(&Limits::default());
        let mut findings = Vec::new();
        // One datagram held forever (same capture time: it never expires)...
        r.on_fragment(frag(0, true, &d[..16]), at(1, 0), &mut findings);
        // ...then a hundred thousand dropped ones behind it.
        for id in 0..100_000u32 {
            let mut f = frag(0, true, &d[..10]);
            f.key.id = id % 60_000;
            f.key.dst = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 3));
            assert_eq!(r.on_fragment(f, at(2, 0), &mut findings), Outcome::Dropped);
        }
        assert!(r.order.len() <= 2 * 1024 + 16, "{}", r.order.len());
        assert_eq!(r.datagrams.len(), 1);
    }

    #[test]
    fn invalid_fragments_drop_with_etherparse_reason() {
        let d = datagram();
        let mut r = Reassembler::new(&Limits::default());
        let mut findings = Vec::new();
        // A non-final fragment whose length is not a multiple of 8.
        assert_eq!(
            r.on_fragment(frag(0, true, &d[..10]), at(1, 0), &mut findings),
            Outcome::Dropped
        );
        // A fragment past the end the last fragment announced.
        assert_eq!(
            r.on_fragment(frag(16, false, &d[16..24]), at(2, 0), &mut findings),
            Outcome::Held
        );
        assert_eq!(
            r.on_fragment(frag(24, true, &d[24..32]), at(3, 0), &mut findings),
            Outcome::Dropped
        );
        assert!(
            findings[1].message.contains("conflicts"),
            "{}",
            findings[1].message
        );
        assert_eq!(findings.len(), 2, "{findings:?}");
        assert_eq!(r.stats.dropped, 2);
    }

    #[test]
    fn cut_fragment_drops_its_datagram() {
        let d = datagram();
        let mut r = Reassembler::new(&Limits::default());
        let mut findings = Vec::new();
        r.on_fragment(frag(0, true, &d[..16]), at(1, 0), &mut findings);
        let cut = Fragment {
            cut: true,
            ..frag(16, false, &d[16..20])
        };
        assert_eq!(
            r.on_fragment(cut, at(2, 0), &mut findings),
            Outcome::Dropped
        );
        assert_eq!((findings.len(), r.stats.dropped, r.held_bytes()), (1, 1, 0));
    }
}
