//! Finding frame boundaries without a known starting point: a capture that
//! began after the handshake, or the bytes after a gap.
//!
//! Takes the buffered bytes of one direction; gives the offset of the first
//! frame boundary it trusts, or says it needs more bytes. A boundary is
//! trusted when a plausible header (known opcode, RSV bits as the extensions
//! allow, the expected mask bit, shortest length encoding, a length under the
//! cap, valid UTF-8 for a whole uncompressed text frame, a valid close code)
//! is followed by another, and that by the header of a third frame; at the end
//! of the data, frames that end exactly there count too. Decisions depend only
//! on the bytes, never on how they were chunked. Pure apart from [`Spool`],
//! the buffer that remembers which capture frame each byte came from.

use crate::position::FrameRef;
use crate::ws::frame::{
    close_code_problem, parse_header, unmask, Header, Opcode, Parse, MAX_CONTROL_PAYLOAD, RSV1,
};

/// What a plausible frame looks like in this direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Expect {
    /// The mask bit, once known.
    pub masked: Option<bool>,
    /// RSV1 may mark a compressed message.
    pub rsv1: bool,
    /// Longest payload accepted as part of a lock.
    pub max_len: u64,
}

/// The outcome of [`scan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// A trusted boundary at `at`; its frames are `masked` or not.
    Found { at: usize, masked: bool },
    /// Nothing before `at` can be a boundary; `at` needs more bytes.
    Pending { at: usize },
    /// No boundary anywhere (only at the end of the data).
    Nothing,
}

/// Frames (after the first) that must follow a boundary before it is trusted.
const CHAIN: usize = 2;

/// Looks for the first trusted boundary in `buf`. `at_end`: no more bytes will come.
#[cfg(test)]
pub(crate) fn scan(buf: &[u8], expect: &Expect, at_end: bool) -> Scan {
    scan_needing(buf, expect, at_end).0
}

/// The first trusted boundary in `buf` (`at_end`: no more bytes will come),
/// and with [`Scan::Pending`] how many bytes (from `at`) the
/// candidate needs before another scan can decide anything: scanning again
/// sooner would re-read the same frame for every segment of it.
pub(crate) fn scan_needing(buf: &[u8], expect: &Expect, at_end: bool) -> (Scan, usize) {
    for start in 0..buf.len() {
        let candidate = buf.get(start..).unwrap_or_default();
        match chain(candidate, expect, at_end) {
            Verdict::Accept(masked) => return (Scan::Found { at: start, masked }, 0),
            Verdict::Wait(needed) => return (Scan::Pending { at: start }, needed),
            Verdict::Reject => {}
        }
    }
    if at_end {
        (Scan::Nothing, 0)
    } else {
        (Scan::Pending { at: buf.len() }, 1)
    }
}

/// Whether frames start right at the beginning of `bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Plausible frames in a row; they are masked or not.
    Accept(bool),
    /// Undecided until the bytes reach this length.
    Wait(usize),
    Reject,
}

/// Three plausible frames in a row from the first byte of `bytes` (two whole
/// ones and the third's header), or, `at_end`, frames that end exactly
/// where the bytes do.
pub(crate) fn chain(bytes: &[u8], expect: &Expect, at_end: bool) -> Verdict {
    let mut pos = 0usize;
    let mut masked = expect.masked;
    let mut fragment_open = false;
    for complete in 0..=CHAIN {
        let rest = bytes.get(pos..).unwrap_or_default();
        let mask_bit = masked.unwrap_or(false);
        if rest.is_empty() && at_end && complete > 0 {
            return Verdict::Accept(mask_bit);
        }
        let h = match parse_header(rest) {
            Parse::Complete(h) => h,
            Parse::NeedMore(_) if at_end && complete >= CHAIN => return Verdict::Accept(mask_bit),
            Parse::NeedMore(_) if at_end => return Verdict::Reject,
            Parse::NeedMore(n) => return Verdict::Wait(pos.saturating_add(n)),
            Parse::Invalid(_) => return Verdict::Reject,
        };
        if !plausible(&h, complete == 0, fragment_open, masked, expect) {
            return Verdict::Reject;
        }
        masked = Some(h.mask.is_some());
        if complete == CHAIN {
            return Verdict::Accept(h.mask.is_some());
        }
        if h.payload_len > expect.max_len {
            return Verdict::Reject;
        }
        // payload_len <= max_len, a usize: no overflow in practice; saturate anyway.
        let end = pos
            .saturating_add(h.header_len())
            .saturating_add(usize::try_from(h.payload_len).unwrap_or(usize::MAX));
        let Some(payload) = bytes.get(pos + h.header_len()..end) else {
            return if at_end {
                Verdict::Reject
            } else {
                Verdict::Wait(end)
            };
        };
        if !payload_plausible(&h, payload) {
            return Verdict::Reject;
        }
        if !h.opcode.is_control() {
            fragment_open = !h.fin;
        }
        pos = end;
    }
    Verdict::Reject
}

pub(crate) fn plausible(
    h: &Header,
    first: bool,
    fragment_open: bool,
    masked: Option<bool>,
    expect: &Expect,
) -> bool {
    let rsv_ok = match h.opcode {
        Opcode::Text | Opcode::Binary => h.rsv == 0 || (h.rsv == RSV1 && expect.rsv1),
        _ => h.rsv == 0,
    };
    let order_ok = match h.opcode {
        Opcode::Continuation => fragment_open && !first,
        Opcode::Text | Opcode::Binary => !fragment_open,
        Opcode::Close | Opcode::Ping | Opcode::Pong => {
            h.fin && h.payload_len <= MAX_CONTROL_PAYLOAD
        }
        Opcode::Reserved(_) => false,
    };
    let mask_ok = masked.is_none_or(|m| m == h.mask.is_some());
    rsv_ok && order_ok && mask_ok && h.minimal_len
}

/// Payload checks that are cheap and rarely wrong: whole uncompressed text
/// frames are UTF-8, close frames carry a sendable code.
pub(crate) fn payload_plausible(h: &Header, payload: &[u8]) -> bool {
    let check_text = h.opcode == Opcode::Text && h.fin && h.rsv == 0;
    if !check_text && h.opcode != Opcode::Close {
        return true;
    }
    if h.opcode == Opcode::Text {
        return match h.mask {
            None => std::str::from_utf8(payload).is_ok(),
            Some(key) => masked_utf8(payload, key),
        };
    }
    // A close payload is at most 125 bytes (checked before): a copy is cheap.
    let mut plain = payload.to_vec();
    if let Some(key) = h.mask {
        unmask(&mut plain, key, 0);
    }
    match plain.as_slice() {
        [] => true,
        [hi, lo, reason @ ..] => {
            close_code_problem(u16::from_be_bytes([*hi, *lo])).is_none()
                && std::str::from_utf8(reason).is_ok()
        }
        [_] => false,
    }
}

/// Whether a masked payload is UTF-8 once unmasked, a block at a time
/// through a stack buffer (a hunted frame can be hundreds of KiB, and it is
/// checked again for every candidate boundary).
fn masked_utf8(payload: &[u8], key: [u8; 4]) -> bool {
    const BLOCK: usize = 4096;
    let mut buf = [0u8; BLOCK + 4];
    let mut carry = 0usize; // bytes of a character cut by the block's end
    for (i, chunk) in payload.chunks(BLOCK).enumerate() {
        let n = carry + chunk.len();
        let Some(dst) = buf.get_mut(carry..n) else {
            return false;
        };
        dst.copy_from_slice(chunk);
        unmask(dst, key, (i * BLOCK) as u64);
        match std::str::from_utf8(buf.get(..n).unwrap_or_default()) {
            Ok(_) => carry = 0,
            Err(e) if e.error_len().is_none() => {
                let valid = e.valid_up_to();
                buf.copy_within(valid..n, 0);
                carry = n - valid;
            }
            Err(_) => return false,
        }
    }
    carry == 0
}

/// Bytes of one direction with the capture frame each run of them came from.
#[derive(Debug, Default)]
pub(crate) struct Spool {
    bytes: Vec<u8>,
    /// `(index of the run's first byte, frame)`, indexes increasing.
    marks: Vec<(usize, FrameRef)>,
}

impl Spool {
    pub(crate) fn push(&mut self, at: FrameRef, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.marks.last().is_none_or(|&(_, f)| f != at) {
            self.marks.push((self.bytes.len(), at));
        }
        self.bytes.extend_from_slice(bytes);
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The frame the byte at `index` came from.
    pub(crate) fn frame_at(&self, index: usize) -> Option<FrameRef> {
        self.marks
            .iter()
            .take_while(|&&(start, _)| start <= index)
            .last()
            .map(|&(_, f)| f)
    }

    /// Drops the first `n` bytes.
    pub(crate) fn drop_front(&mut self, n: usize) {
        let n = n.min(self.bytes.len());
        self.bytes.drain(..n);
        let keep_from = self
            .marks
            .iter()
            .rposition(|&(start, _)| start <= n)
            .unwrap_or(0);
        self.marks.drain(..keep_from);
        for (start, _) in &mut self.marks {
            *start = start.saturating_sub(n);
        }
        if self.bytes.is_empty() {
            self.marks.clear();
        }
    }

    /// The runs in order: `(frame, bytes)`.
    pub(crate) fn runs(&self) -> impl Iterator<Item = (FrameRef, &[u8])> + '_ {
        self.marks.iter().enumerate().map(|(i, &(start, at))| {
            let end = self
                .marks
                .get(i + 1)
                .map_or(self.bytes.len(), |&(next, _)| next);
            (at, self.bytes.get(start..end).unwrap_or_default())
        })
    }

    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.marks.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::Timestamp;

    const ANY: Expect = Expect {
        masked: None,
        rsv1: false,
        max_len: 1 << 16,
    };

    fn text(masked: bool, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x81];
        assert!(payload.len() < 126);
        if masked {
            f.push(0x80 | payload.len() as u8);
            let key = [1, 2, 3, 4];
            f.extend_from_slice(&key);
            let mut p = payload.to_vec();
            unmask(&mut p, key, 0);
            f.extend_from_slice(&p);
        } else {
            f.push(payload.len() as u8);
            f.extend_from_slice(payload);
        }
        f
    }

    #[test]
    fn masked_text_is_checked_in_blocks_with_characters_across_them() {
        let key = [0x9a, 0x01, 0xff, 0x37];
        for text in [
            "é".repeat(5000),
            format!("{}€{}é", "a".repeat(4095), "b".repeat(9000)),
        ] {
            let mut masked = text.clone().into_bytes();
            unmask(&mut masked, key, 0);
            assert!(masked_utf8(&masked, key));
            // Cut inside the last character, or a broken byte inside: not UTF-8.
            assert!(!masked_utf8(masked.get(..masked.len() - 1).unwrap(), key));
            let mut broken = text.into_bytes();
            broken[4096] = 0xff;
            unmask(&mut broken, key, 0);
            assert!(!masked_utf8(&broken, key));
        }
    }

    #[test]
    fn a_waiting_candidate_says_how_many_bytes_it_needs() {
        // A masked text frame announcing 1000 bytes, 10 of them here.
        let mut f = vec![0x81, 0x80 | 126, 0x03, 0xe8, 1, 2, 3, 4];
        f.extend_from_slice(&[b'a' ^ 1; 10]);
        assert_eq!(
            scan_needing(&f, &ANY, false),
            (Scan::Pending { at: 0 }, 8 + 1000)
        );
        // Only its header's first byte: two bytes decide the header length.
        assert_eq!(
            scan_needing(&[0x81], &ANY, false),
            (Scan::Pending { at: 0 }, 2)
        );
    }

    #[test]
    fn chain_accepts_frames_from_the_first_byte_only() {
        let any = Expect { rsv1: true, ..ANY };
        let mut three = Vec::new();
        for word in ["one", "two", "three"] {
            three.extend(text(true, word.as_bytes()));
        }
        assert_eq!(chain(&three, &any, false), Verdict::Accept(true));
        // Two whole frames and the third's header are needed: shorter prefixes never accept.
        let two_and_header = 2 * (2 + 4 + 3) + 2 + 4;
        assert_eq!(
            chain(&three[..two_and_header], &any, false),
            Verdict::Accept(true)
        );
        for cut in 1..two_and_header {
            assert!(
                matches!(chain(&three[..cut], &any, false), Verdict::Wait(_)),
                "cut {cut}"
            );
        }
        // Two frames ending exactly at the end of the data count when no more will come.
        let two = [text(false, b"a"), text(false, b"b")].concat();
        assert_eq!(chain(&two, &any, true), Verdict::Accept(false));
        assert_eq!(
            chain(b"SSH-2.0-OpenSSH_9.6\r\n", &any, false),
            Verdict::Reject
        );
        assert_eq!(chain(b"", &any, false), Verdict::Wait(2));
    }

    #[test]
    fn locks_after_garbage_on_three_frames() {
        let mut buf = b"tail of an earlier frame \xff\xfe".to_vec();
        let start = buf.len();
        for word in ["one", "two", "three"] {
            buf.extend(text(false, word.as_bytes()));
        }
        assert_eq!(
            scan(&buf, &ANY, false),
            Scan::Found {
                at: start,
                masked: false
            }
        );
    }

    #[test]
    fn waits_rather_than_guessing() {
        let buf = text(true, b"hello");
        assert_eq!(scan(&buf, &ANY, false), Scan::Pending { at: 0 });
        // At the end of the data one frame ending exactly there is enough.
        assert_eq!(
            scan(&buf, &ANY, true),
            Scan::Found {
                at: 0,
                masked: true
            }
        );
    }

    #[test]
    fn mask_bit_must_match() {
        let mut buf = text(true, b"a");
        buf.extend(text(true, b"b"));
        buf.extend(text(true, b"c"));
        let server = Expect {
            masked: Some(false),
            ..ANY
        };
        assert!(!matches!(scan(&buf, &server, true), Scan::Found { .. }));
        let mut mixed = text(true, b"a");
        mixed.extend(text(false, b"b"));
        mixed.extend(text(true, b"c"));
        assert!(!matches!(
            scan(&mixed, &ANY, true),
            Scan::Found { at: 0, .. }
        ));
    }

    #[test]
    fn invalid_utf8_and_bad_close_codes_are_not_frames() {
        let mut buf = vec![0x81, 0x02, 0xc3, 0x28];
        buf.extend(text(false, b"x"));
        buf.extend(text(false, b"y"));
        assert!(matches!(scan(&buf, &ANY, true), Scan::Found { at: 4, .. }));
        let mut close = vec![0x88, 0x02, 0x03, 0xed]; // 1005: never on the wire
        close.extend(text(false, b"x"));
        close.extend(text(false, b"y"));
        assert!(matches!(
            scan(&close, &ANY, true),
            Scan::Found { at: 4, .. }
        ));
    }

    #[test]
    fn continuation_cannot_start_a_lock_and_long_frames_are_skipped() {
        let mut buf = vec![0x80, 0x01, b'x'];
        buf.extend(text(false, b"a"));
        buf.extend(text(false, b"b"));
        buf.extend(text(false, b"c"));
        // (Without `at_end`, the text header at 1 claiming 120 bytes waits.)
        assert_eq!(scan(&buf, &ANY, false), Scan::Pending { at: 1 });
        assert!(matches!(scan(&buf, &ANY, true), Scan::Found { at: 3, .. }));
        let small = Expect { max_len: 2, ..ANY };
        let long = [
            text(false, b"abc"),
            text(false, b"d"),
            text(false, b"e"),
            text(false, b"f"),
        ]
        .concat();
        assert!(matches!(
            scan(&long, &small, false),
            Scan::Found { at: 5, .. }
        ));
    }

    #[test]
    fn at_end_nothing() {
        assert_eq!(scan(b"\x00\x00\x00", &ANY, true), Scan::Nothing);
        assert_eq!(scan(b"", &ANY, false), Scan::Pending { at: 0 });
    }

    #[test]
    fn same_answer_on_every_prefix_once_decided() {
        let mut buf = b"\x12\x34garbage".to_vec();
        for w in ["alpha", "beta", "gamma", "delta"] {
            buf.extend(text(true, w.as_bytes()));
        }
        let full = scan(&buf, &ANY, false);
        for cut in 0..buf.len() {
            match scan(&buf[..cut], &ANY, false) {
                Scan::Pending { at } => {
                    if let Scan::Found { at: found, .. } = full {
                        assert!(at <= found);
                    }
                }
                other => assert_eq!(other, full, "cut {cut}"),
            }
        }
    }

    #[test]
    fn spool_tracks_frames() {
        let f = |n| FrameRef::new(n, Timestamp::default());
        let mut s = Spool::default();
        s.push(f(1), b"abc");
        s.push(f(2), b"de");
        s.push(f(2), b"f");
        s.push(f(3), b"");
        assert_eq!(s.frame_at(2), Some(f(1)));
        assert_eq!(s.frame_at(5), Some(f(2)));
        s.drop_front(4);
        assert_eq!(s.bytes(), b"ef");
        let runs: Vec<_> = s.runs().collect();
        assert_eq!(runs, vec![(f(2), &b"ef"[..])]);
        s.drop_front(2);
        assert!(s.is_empty() && s.runs().count() == 0);
    }
}
