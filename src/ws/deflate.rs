//! permessage-deflate decompression (RFC 7692 §7.2.2), one inflater per direction.
//!
//! Takes the compressed payload bytes of a message in any number of pieces;
//! gives the inflated bytes appended to the caller's buffer, never more than
//! the caller's cap, in bounded steps, and at the end of each message how
//! much of it is known. It never allocates beyond the cap, and never hides an
//! error: output after invalid data is not produced.
//!
//! The window persists across messages ("context takeover") unless the
//! sender's `*_no_context_takeover` was negotiated. When the window is lost
//! (the capture started after the handshake, a gap, an error) it is preset
//! with 32 KiB of [`UNKNOWN`] bytes: a back-reference into what was lost
//! copies [`UNKNOWN`], and so does every later reference to such a copy, so
//! the output says byte by byte what is known. Valid UTF-8 never contains
//! 0xFF, so in text an [`UNKNOWN`] byte is always an unknown one; once the
//! last 32 KiB of output hold none, no reference can reach the lost window
//! and the direction is exact again. A message may end with a final
//! (BFINAL) block (RFC 7692 §7.2.3.4): the inflater is then restarted with
//! the last 32 KiB of plain text as its dictionary, so later messages can
//! still refer to earlier ones.

use flate2::{Decompress, FlushDecompress, Status};

/// Appended to every compressed message before inflating (RFC 7692 §7.2.2).
pub(crate) const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// Stands for a window byte from before the capture (or a gap) in the
/// output: never part of valid UTF-8.
pub(crate) const UNKNOWN: u8 = 0xff;
/// The largest LZ77 window (window bits 15). Inflating with it decodes data
/// made with any smaller window, so the negotiated bits need no enforcing.
pub(crate) const WINDOW: usize = 1 << 15;
/// The window of a direction whose history is lost.
static UNKNOWN_WINDOW: [u8; WINDOW] = [UNKNOWN; WINDOW];
/// Output is inflated this much at most per zlib call, into a scratch
/// buffer, then appended: a long message fed a segment at a time never
/// zero-fills more than this per call (growing by doubling made that
/// quadratic).
const STEP: usize = 8 << 10;

thread_local! {
    /// The scratch buffer zlib inflates into: zero-filled once per thread,
    /// not per call (a fresh `[0; STEP]` per call was 13 % of a whole
    /// `report`'s instructions), and not per inflater (20,000 open
    /// connections would hold 320 MB of them).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; STEP]);
}

/// Why inflating a message stopped early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The output would exceed the cap; the first `cap` bytes are kept.
    Limit,
    /// The data is not valid deflate (no lost window explains this: every
    /// reference into it is accepted).
    Invalid(String),
}

/// How much of an inflated message is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exactness {
    /// Every byte is what the sender compressed.
    Exact,
    /// The window held unknown bytes and the message has [`UNKNOWN`] bytes:
    /// `known` of them are not [`UNKNOWN`]. In text every [`UNKNOWN`] byte is
    /// an unknown one; in binary some may be real 0xFF bytes.
    Partial { known: usize },
}

/// How much of `out` is known, when it was inflated from a window that was
/// wholly known (`window_known`) or not.
pub(crate) fn exactness(window_known: bool, out: &[u8]) -> Exactness {
    if window_known {
        return Exactness::Exact;
    }
    match memchr::memchr_iter(UNKNOWN, out).count() {
        0 => Exactness::Exact,
        unknown => Exactness::Partial {
            known: out.len().saturating_sub(unknown),
        },
    }
}

/// What one zlib inflater holds while it exists, whatever it inflates:
/// its 32 KiB window and its state, about 44 KiB in all with zlib-rs (the
/// backend flate2 uses here, issue 13's measurement). Charged to the
/// memory budget per inflater.
pub(crate) const INFLATER_STATE_BYTES: usize = 44 << 10;

pub(crate) struct Inflater {
    z: Decompress,
    /// The window carries over to the next message.
    takeover: bool,
    /// Everything this direction compressed so far went through this
    /// inflater: an error is the sender's fault. When false (capture started
    /// late, a gap, an earlier error) the frame boundary may have been found
    /// by heuristic, or RSV1 may mean something else.
    trusted: bool,
    /// While the window may hold unknown bytes: how many output bytes came
    /// since the last unknown one. `None`: the window is wholly known.
    known_run: Option<usize>,
    /// Plain text window, kept once a message ended with a final block.
    history: Option<Vec<u8>>,
    /// The current message's deflate stream ended (BFINAL); the rest is ignored.
    ended: bool,
}

impl Inflater {
    /// `trusted`: the inflater sees the direction from its first compressed
    /// byte. Otherwise, with context takeover, it starts with an unknown window.
    pub(crate) fn new(takeover: bool, trusted: bool) -> Inflater {
        let mut inflater = Inflater {
            z: Decompress::new(false),
            takeover,
            trusted,
            known_run: None,
            history: None,
            ended: false,
        };
        if !trusted {
            inflater.lose_context();
        }
        inflater
    }

    /// Bytes held: the inflater's state and the plain text window kept
    /// between messages.
    pub(crate) fn held_bytes(&self) -> usize {
        INFLATER_STATE_BYTES + self.history.as_ref().map_or(0, Vec::len)
    }

    pub(crate) fn trusted(&self) -> bool {
        self.trusted
    }

    /// The window holds no unknown byte: every message is exact.
    pub(crate) fn window_known(&self) -> bool {
        self.known_run.is_none()
    }

    /// Forgets the window. With context takeover the next messages may refer
    /// to it, so it becomes 32 KiB of [`UNKNOWN`]; without, every message
    /// starts fresh anyway.
    pub(crate) fn lose_context(&mut self) {
        self.z.reset(false);
        self.history = None;
        self.ended = false;
        if !self.takeover {
            return;
        }
        self.trusted = false;
        self.known_run = Some(0);
        // A raw inflater takes a dictionary at any time; were it refused, a
        // reference into the lost window would be an error instead: reported
        // as invalid data, never shown.
        let _ = self.z.set_dictionary(&UNKNOWN_WINDOW);
    }

    /// Inflates the next compressed bytes of the current message into `out`,
    /// keeping `out.len() <= cap`.
    pub(crate) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>, cap: usize) -> Result<(), Stop> {
        self.run(input, out, cap, FlushDecompress::None)
    }

    /// Ends the current message (`out` holds all of its output): inflates
    /// the tail, says how much of the message is known, then readies the
    /// window for the next message.
    pub(crate) fn end_message(&mut self, out: &mut Vec<u8>, cap: usize) -> Result<Exactness, Stop> {
        let window_known = self.window_known();
        self.run(&TAIL, out, cap, FlushDecompress::Sync)?;
        let exactness = exactness(window_known, out);
        if self.ended {
            // Output of earlier messages since the last reset is in zlib's
            // window but not in `history` when none was kept: it is lost with
            // the restart, so it becomes unknown rather than silently absent.
            let earlier = self.z.total_out() > out.len() as u64;
            let base_unknown = self.history.is_none() && (earlier || !window_known);
            self.restart(out, base_unknown, base_unknown || !window_known)?;
        } else if !self.takeover {
            self.z.reset(false);
        } else {
            if self.history.is_some() {
                self.history = Some(self.window_with(out, false));
            }
            self.count_known(out);
        }
        Ok(exactness)
    }

    /// After a final block: a fresh stream whose dictionary is the window
    /// so far (`base_unknown`: what came before `latest` is unknown;
    /// `unknown_possible`: the window may hold unknown bytes).
    fn restart(
        &mut self,
        latest: &[u8],
        base_unknown: bool,
        unknown_possible: bool,
    ) -> Result<(), Stop> {
        self.ended = false;
        self.z.reset(false);
        if !self.takeover {
            return Ok(());
        }
        let window = self.window_with(latest, base_unknown);
        self.z
            .set_dictionary(&window)
            .map_err(|e| Stop::Invalid(e.to_string()))?;
        self.known_run = if unknown_possible {
            memchr::memrchr(UNKNOWN, &window).map(|i| window.len() - i - 1)
        } else {
            None
        };
        self.history = Some(window);
        Ok(())
    }

    /// Moves the count of known bytes on past `out`: once 32 KiB of output
    /// hold no unknown byte, no reference can reach the lost window.
    fn count_known(&mut self, out: &[u8]) {
        let Some(run) = self.known_run else {
            return;
        };
        let run = match memchr::memrchr(UNKNOWN, out) {
            Some(i) => out.len() - i - 1,
            None => run.saturating_add(out.len()),
        };
        self.known_run = (run < WINDOW).then_some(run);
    }

    /// The last 32 KiB of the history (or of an unknown window when
    /// `base_unknown` and none was kept) followed by `latest`.
    fn window_with(&mut self, latest: &[u8], base_unknown: bool) -> Vec<u8> {
        let mut window = match self.history.take() {
            Some(history) => history,
            None if base_unknown => UNKNOWN_WINDOW.to_vec(),
            None => Vec::new(),
        };
        // Only the last 32 KiB can matter: never copy a long message whole.
        let tail = latest
            .get(latest.len().saturating_sub(WINDOW)..)
            .unwrap_or(latest);
        window.extend_from_slice(tail);
        let excess = window.len().saturating_sub(WINDOW);
        window.drain(..excess);
        window
    }

    /// Inflates into `out` through a window that never reaches past
    /// `cap + 1` bytes, whatever capacity `out` already has: zlib stops where
    /// its output space ends, so the space must depend on the cap alone, or
    /// whether data past the cap is read (and found invalid) would depend on
    /// how the input was cut.
    fn run(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        cap: usize,
        flush: FlushDecompress,
    ) -> Result<(), Stop> {
        SCRATCH.with_borrow_mut(|space| self.run_in(input, out, cap, flush, space))
    }

    fn run_in(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        cap: usize,
        flush: FlushDecompress,
        space: &mut [u8],
    ) -> Result<(), Stop> {
        while !self.ended {
            // Room for one byte beyond the cap, so that going over it shows.
            let room = cap.saturating_add(1).saturating_sub(out.len());
            let step = room.min(STEP);
            let (in_before, out_before) = (self.z.total_in(), self.z.total_out());
            let result = self
                .z
                .decompress(input, space.get_mut(..step).unwrap_or_default(), flush);
            let used =
                usize::try_from(self.z.total_in().wrapping_sub(in_before)).unwrap_or(usize::MAX);
            let made =
                usize::try_from(self.z.total_out().wrapping_sub(out_before)).unwrap_or(usize::MAX);
            out.extend_from_slice(space.get(..made.min(step)).unwrap_or_default());
            input = input.get(used..).unwrap_or_default();
            // Past the cap is a limit even when zlib went on to find invalid
            // data: with the input cut elsewhere it would have stopped first.
            if out.len() > cap {
                out.truncate(cap);
                return Err(Stop::Limit);
            }
            let status = result.map_err(|e| Stop::Invalid(e.to_string()))?;
            if status == Status::StreamEnd {
                self.ended = true;
                break;
            }
            let progressed = used > 0 || made > 0;
            let full = made == step;
            if !progressed || (input.is_empty() && !full) {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    /// Compresses `plain` as one permessage-deflate message (sync flush, tail removed).
    pub(crate) fn compress_message(z: &mut Compress, plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plain.len() / 2 + 64);
        let mut input = plain;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(1024));
            }
            let before = z.total_in();
            z.compress_vec(input, &mut out, FlushCompress::Sync)
                .expect("compress");
            input = &input[(z.total_in() - before) as usize..];
            if input.is_empty() && out.capacity() > out.len() {
                break;
            }
        }
        if out.is_empty() {
            // zlib adds no block for an empty flush after a flush: send the
            // empty stored block's first byte, as RFC 7692 §7.2.3.6 does.
            return vec![0x00];
        }
        assert!(out.ends_with(&TAIL));
        out.truncate(out.len() - 4);
        out
    }

    fn inflate(inf: &mut Inflater, compressed: &[u8]) -> Result<Vec<u8>, Stop> {
        let mut out = Vec::new();
        inf.feed(compressed, &mut out, 1 << 20)?;
        inf.end_message(&mut out, 1 << 20)?;
        Ok(out)
    }

    const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

    #[test]
    fn rfc7692_hello_and_shared_window() {
        // §7.2.3.1 and §7.2.3.2.
        let mut inf = Inflater::new(true, true);
        assert_eq!(inflate(&mut inf, &HELLO).unwrap(), b"Hello");
        assert_eq!(
            inflate(&mut inf, &[0xf2, 0x00, 0x11, 0x00, 0x00]).unwrap(),
            b"Hello"
        );
    }

    #[test]
    fn rfc7692_second_hello_needs_the_window() {
        let mut inf = Inflater::new(false, true);
        assert_eq!(inflate(&mut inf, &HELLO).unwrap(), b"Hello");
        // No context takeover: the back reference has nothing to point at.
        assert!(matches!(
            inflate(&mut inf, &[0xf2, 0x00, 0x11, 0x00, 0x00]),
            Err(Stop::Invalid(_))
        ));
    }

    #[test]
    fn rfc7692_stored_block_final_block_and_two_blocks() {
        // §7.2.3.3: no compression.
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        // §7.2.3.4: BFINAL set, one padding octet.
        let bfinal = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        // §7.2.3.5: two blocks in one message.
        let two = [
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
        ];
        for sample in [&stored[..], &bfinal, &two] {
            let mut inf = Inflater::new(true, true);
            assert_eq!(
                inflate(&mut inf, sample).unwrap(),
                b"Hello",
                "{sample:02x?}"
            );
            // The next message still sees "Hello" in the window.
            assert_eq!(
                inflate(&mut inf, &[0xf2, 0x00, 0x11, 0x00, 0x00]).unwrap(),
                b"Hello"
            );
        }
    }

    #[test]
    fn final_block_keeps_a_window_longer_than_one_message() {
        let mut inf = Inflater::new(true, true);
        let bfinal = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        for _ in 0..3 {
            assert_eq!(inflate(&mut inf, &bfinal).unwrap(), b"Hello");
        }
        assert_eq!(
            inflate(&mut inf, &[0xf2, 0x00, 0x11, 0x00, 0x00]).unwrap(),
            b"Hello"
        );
        assert!(inf.history.as_ref().is_some_and(|h| h.len() <= WINDOW));
    }

    #[test]
    fn fed_in_pieces_gives_the_same_output() {
        let plain: Vec<u8> = (0..20_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut z = Compress::new(Compression::default(), false);
        let c = compress_message(&mut z, &plain);
        for piece in [1, 3, 7, 100, c.len()] {
            let mut inf = Inflater::new(true, true);
            let mut out = Vec::new();
            for chunk in c.chunks(piece) {
                inf.feed(chunk, &mut out, 1 << 20).unwrap();
            }
            inf.end_message(&mut out, 1 << 20).unwrap();
            assert_eq!(out, plain, "piece {piece}");
        }
    }

    #[test]
    fn window_bits_9_to_15_on_the_sending_side() {
        let plain = b"<message to='agent1@finesse'><body>state READY</body></message>".repeat(50);
        for bits in 9..=15u8 {
            let mut z = Compress::new_with_window_bits(Compression::best(), false, bits);
            let mut inf = Inflater::new(true, true);
            for _ in 0..3 {
                let c = compress_message(&mut z, &plain);
                assert_eq!(inflate(&mut inf, &c).unwrap(), plain, "bits {bits}");
            }
        }
    }

    /// 100 MiB of zeros as one compressed message, built without compressing
    /// 100 MiB: once the window is all zeros, every further MiB compresses to
    /// the same bytes.
    pub(crate) fn zero_bomb() -> Vec<u8> {
        let mib = vec![0u8; 1 << 20];
        let mut z = Compress::new(Compression::best(), false);
        let mut bomb = compress_message(&mut z, &mib);
        bomb.extend_from_slice(&TAIL);
        let steady = compress_message(&mut z, &mib);
        assert_eq!(steady, compress_message(&mut z, &mib));
        for _ in 1..100 {
            bomb.extend_from_slice(&steady);
            bomb.extend_from_slice(&TAIL);
        }
        bomb.truncate(bomb.len() - 4);
        bomb
    }

    #[test]
    fn bomb_stops_at_the_cap_with_bounded_memory() {
        let c = zero_bomb();
        assert!(c.len() < 200 << 10);
        let mut inf = Inflater::new(true, true);
        let mut out = Vec::new();
        let cap = 1 << 20;
        assert_eq!(inf.feed(&c, &mut out, cap), Err(Stop::Limit));
        assert_eq!(out.len(), cap);
        assert!(out.capacity() <= 2 * cap, "capacity {}", out.capacity());
    }

    #[test]
    fn invalid_data_is_an_error() {
        let mut inf = Inflater::new(true, true);
        // BTYPE 11 is reserved.
        assert!(matches!(
            inflate(&mut inf, &[0xff, 0xff, 0xff]),
            Err(Stop::Invalid(_))
        ));
        inf.lose_context();
        assert!(!inf.trusted());
        let mut fresh_each_time = Inflater::new(false, true);
        fresh_each_time.lose_context();
        assert!(fresh_each_time.trusted());
        assert_eq!(inflate(&mut inf, &HELLO).unwrap(), b"Hello");
    }

    /// Inflates one message, saying how much of it is known.
    fn inflate_exactness(inf: &mut Inflater, compressed: &[u8]) -> (Vec<u8>, Exactness) {
        let mut out = Vec::new();
        inf.feed(compressed, &mut out, 1 << 20).unwrap();
        let exactness = inf.end_message(&mut out, 1 << 20).unwrap();
        (out, exactness)
    }

    /// The oracle for which output bytes depend on the lost window: the same
    /// messages inflated after a window of another filler (0xFE). A byte that
    /// copies the window differs between the two; every other byte is the
    /// plain text in both.
    fn depends_on_window(messages: &[Vec<u8>]) -> Vec<Vec<bool>> {
        let mut z = Decompress::new(false);
        z.set_dictionary(&[0xfe; WINDOW]).unwrap();
        let mut other = Inflater {
            z,
            takeover: true,
            trusted: false,
            known_run: Some(0),
            history: None,
            ended: false,
        };
        let mut ours = Inflater::new(true, false);
        messages
            .iter()
            .map(|c| {
                let (a, _) = inflate_exactness(&mut ours, c);
                let (b, _) = inflate_exactness(&mut other, c);
                a.iter().zip(&b).map(|(x, y)| x != y).collect()
            })
            .collect()
    }

    /// Deterministic words nobody repeats: a message made of them needs no window.
    fn fresh_words(seed: u64, n: usize) -> String {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                format!("w{x:016x} ")
            })
            .collect()
    }

    #[test]
    fn rfc7692_second_hello_after_a_lost_window_is_wholly_unknown() {
        let mut inf = Inflater::new(true, false);
        assert!(!inf.window_known() && !inf.trusted());
        // §7.2.3.2: a literal 'H', then 4 bytes copied from 5 back.
        let (out, exactness) = inflate_exactness(&mut inf, &[0xf2, 0x00, 0x11, 0x00, 0x00]);
        assert_eq!(out, [b'H', UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN]);
        assert_eq!(exactness, Exactness::Partial { known: 1 });
        // The first "Hello" needs no window: exact, and later references to it are known.
        let (out, exactness) = inflate_exactness(&mut inf, &HELLO);
        assert_eq!(
            (out.as_slice(), exactness),
            (&b"Hello"[..], Exactness::Exact)
        );
        let (out, exactness) = inflate_exactness(&mut inf, &[0xf2, 0x00, 0x11, 0x00, 0x00]);
        assert_eq!(
            (out.as_slice(), exactness),
            (&b"Hello"[..], Exactness::Exact)
        );
    }

    /// A session with context takeover seen from message `k` on: messages of
    /// new words are exact, messages that repeat earlier ones are partial and
    /// their known bytes are exactly those the oracle says do not depend on
    /// the lost window, each equal to what was sent.
    #[test]
    fn starting_after_message_k_marks_exactly_the_unknown_bytes() {
        let ping =
            |i: usize| format!("<iq type='get' id='ping-{i}'><ping xmlns='urn:xmpp:ping'/></iq>");
        let plain: Vec<String> = vec![
            ping(1),
            "<presence><show>READY</show></presence>".to_owned(),
            ping(2),
            fresh_words(1, 12),
            format!(
                "<presence><show>READY</show></presence>{}",
                fresh_words(2, 3)
            ),
            ping(3),
            fresh_words(3, 40),
        ];
        let mut z = Compress::new(Compression::best(), false);
        let compressed: Vec<Vec<u8>> = plain
            .iter()
            .map(|p| compress_message(&mut z, p.as_bytes()))
            .collect();
        for k in 1..plain.len() {
            let oracle = depends_on_window(&compressed[k..]);
            let mut inf = Inflater::new(true, false);
            for (i, c) in compressed.iter().enumerate().skip(k) {
                let (out, exactness) = inflate_exactness(&mut inf, c);
                let sent = plain[i].as_bytes();
                assert_eq!(out.len(), sent.len(), "k {k} message {i}");
                let unknown = &oracle[i - k];
                for (j, (&got, &was)) in out.iter().zip(sent).enumerate() {
                    let expected = if unknown[j] { UNKNOWN } else { was };
                    assert_eq!(got, expected, "k {k} message {i} byte {j}");
                }
                let known = unknown.iter().filter(|&&u| !u).count();
                let expected = if known == sent.len() {
                    Exactness::Exact
                } else {
                    Exactness::Partial { known }
                };
                assert_eq!(exactness, expected, "k {k} message {i}");
            }
        }
        // The oracle is not trivially all-known or all-unknown: ping-2 after
        // a lost ping-1 has its new digit known (and at most the '<' that
        // zlib chose to send as a literal), the rest unknown.
        let mut inf = Inflater::new(true, false);
        inflate_exactness(&mut inf, &compressed[1]);
        let (out, exactness) = inflate_exactness(&mut inf, &compressed[2]);
        assert_eq!(out.get(24), Some(&b'2'), "{out:02x?}");
        assert!(
            matches!(exactness, Exactness::Partial { known: 1..=2 }),
            "{out:02x?}"
        );
        let (_, exactness) = inflate_exactness(&mut inf, &compressed[3]);
        assert_eq!(exactness, Exactness::Exact);
    }

    /// Unknown bytes propagate: a template every message copies from the
    /// one before stays unknown for as long as it is repeated within 32 KiB.
    /// Only 32 KiB of output without an unknown byte (here: text that cannot
    /// refer to the template) pushes the lost window out of reach; from then on every
    /// message is exact, the template included (sent again as literals).
    #[test]
    fn after_32_kib_of_known_output_everything_is_exact() {
        let update = |i: usize| {
            format!(
                "<message><event><Update><state>READY</state><id>{i}</id>{}</Update></event></message>",
                fresh_words(i as u64, 2)
            )
        };
        let mut plain: Vec<String> = (0..120).map(update).collect();
        // Greek letters: nothing the ASCII template holds can be referred to.
        let greek = |seed: u64| -> String {
            fresh_words(seed, 80)
                .chars()
                .map(|c| {
                    c.to_digit(16)
                        .map_or(c, |d| char::from_u32(0x3b1 + d).unwrap_or(c))
                })
                .collect()
        };
        plain.extend((0..30).map(|i| greek(1000 + i)));
        plain.extend((120..200).map(update));
        let mut z = Compress::new(Compression::default(), false);
        let compressed: Vec<Vec<u8>> = plain
            .iter()
            .map(|p| compress_message(&mut z, p.as_bytes()))
            .collect();
        let start = 50;
        let mut inf = Inflater::new(true, false);
        // The rule as a model: output bytes since the last unknown one.
        let mut run = 0usize;
        let (mut partial, mut exact_since) = (0, None);
        for (i, c) in compressed.iter().enumerate().skip(start) {
            let was_known = inf.window_known();
            let (out, exactness) = inflate_exactness(&mut inf, c);
            if was_known {
                exact_since.get_or_insert(i);
                assert_eq!(exactness, Exactness::Exact, "message {i}");
                assert_eq!(out, plain[i].as_bytes(), "message {i}");
                continue;
            }
            partial += usize::from(exactness != Exactness::Exact);
            run = match out.iter().rposition(|&b| b == UNKNOWN) {
                Some(p) => out.len() - p - 1,
                None => run + out.len(),
            };
            assert_eq!(inf.window_known(), run >= WINDOW, "message {i}");
        }
        assert_eq!(
            partial, 70,
            "every template message before the fresh text is partial"
        );
        let exact_since = exact_since.unwrap();
        assert!(
            (120..150).contains(&exact_since),
            "exact from {exact_since}"
        );
    }

    #[test]
    fn a_lost_window_inflates_the_same_in_any_pieces() {
        let plain: Vec<String> = (0..30)
            .map(|i| {
                format!(
                    "<presence id='{i}'><show>READY</show>{}</presence>",
                    fresh_words(i, 2)
                )
            })
            .collect();
        let mut z = Compress::new(Compression::default(), false);
        let compressed: Vec<Vec<u8>> = plain
            .iter()
            .map(|p| compress_message(&mut z, p.as_bytes()))
            .collect();
        let whole: Vec<_> = {
            let mut inf = Inflater::new(true, false);
            compressed[10..]
                .iter()
                .map(|c| inflate_exactness(&mut inf, c))
                .collect()
        };
        for piece in [1, 2, 5] {
            let mut inf = Inflater::new(true, false);
            for (c, expected) in compressed[10..].iter().zip(&whole) {
                let mut out = Vec::new();
                for chunk in c.chunks(piece) {
                    inf.feed(chunk, &mut out, 1 << 20).unwrap();
                }
                let exactness = inf.end_message(&mut out, 1 << 20).unwrap();
                assert_eq!(&(out, exactness), expected, "piece {piece}");
            }
        }
    }

    /// A final block after sync-flushed messages: the inflater kept no copy
    /// of them, so a later reference to them is unknown, not an error.
    #[test]
    fn a_final_block_after_unkept_messages_marks_them_unknown() {
        let mut z = Compress::new(Compression::default(), false);
        let first = compress_message(&mut z, b"Bonjour");
        let mut last = Vec::with_capacity(64);
        z.compress_vec(b"Hello", &mut last, FlushCompress::Finish)
            .unwrap();
        z.reset();
        z.set_dictionary(b"BonjourHello").unwrap();
        let after = compress_message(&mut z, b"Bonjour Hello");
        let mut inf = Inflater::new(true, true);
        assert_eq!(inflate(&mut inf, &first).unwrap(), b"Bonjour");
        assert_eq!(inflate(&mut inf, &last).unwrap(), b"Hello");
        let (out, exactness) = inflate_exactness(&mut inf, &after);
        assert_eq!(out.len(), 13);
        assert!(out.ends_with(b"Hello"), "{out:02x?}");
        assert!(matches!(exactness, Exactness::Partial { known } if (5..13).contains(&known)));
    }
}
