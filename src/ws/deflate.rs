//! permessage-deflate decompression (RFC 7692 §7.2.2), one inflater per direction.
//!
//! Takes the compressed payload bytes of a message in any number of pieces;
//! gives the inflated bytes appended to the caller's buffer, never more than
//! the caller's cap, in bounded steps. It never allocates beyond the cap, and
//! never hides an error: output after invalid data is not produced.
//!
//! The window persists across messages ("context takeover") unless the
//! sender's `*_no_context_takeover` was negotiated. A message may end with a
//! final (BFINAL) block (RFC 7692 §7.2.3.4): the inflater is then restarted
//! with the last 32 KiB of plain text as its dictionary, so later messages
//! can still refer to earlier ones.

use flate2::{Decompress, FlushDecompress, Status};

/// Appended to every compressed message before inflating (RFC 7692 §7.2.2).
pub(crate) const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// The largest LZ77 window (window bits 15). Inflating with it decodes data
/// made with any smaller window, so the negotiated bits need no enforcing.
const WINDOW: usize = 1 << 15;
/// Output is grown at most this much (or doubled) per step.
const STEP: usize = 32 << 10;

/// Why inflating a message stopped early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The output would exceed the cap; the first `cap` bytes are kept.
    Limit,
    /// The data is not valid deflate (or refers to a window we do not have).
    Invalid(String),
}

pub(crate) struct Inflater {
    z: Decompress,
    /// The window carries over to the next message.
    takeover: bool,
    /// Everything this direction compressed so far went through this inflater:
    /// an error is the sender's fault. When false (capture started late, a
    /// gap, an earlier error) errors only mean the context is missing.
    trusted: bool,
    /// Plain text window, kept once a message ended with a final block.
    history: Option<Vec<u8>>,
    /// The current message's deflate stream ended (BFINAL); the rest is ignored.
    ended: bool,
}

impl Inflater {
    pub(crate) fn new(takeover: bool, trusted: bool) -> Inflater {
        Inflater {
            z: Decompress::new(false),
            takeover,
            trusted,
            history: None,
            ended: false,
        }
    }

    pub(crate) fn trusted(&self) -> bool {
        self.trusted
    }

    /// Forgets the window: the next message starts fresh. With context
    /// takeover it may need what was lost, so it is only accepted if it
    /// inflates cleanly; without, every message starts fresh anyway.
    pub(crate) fn lose_context(&mut self) {
        self.z.reset(false);
        self.trusted &= !self.takeover;
        self.history = None;
        self.ended = false;
    }

    /// Inflates the next compressed bytes of the current message into `out`,
    /// keeping `out.len() <= cap`.
    pub(crate) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>, cap: usize) -> Result<(), Stop> {
        self.run(input, out, cap, FlushDecompress::None)
    }

    /// Ends the current message: inflates the tail, then readies the window
    /// for the next message.
    pub(crate) fn end_message(&mut self, out: &mut Vec<u8>, cap: usize) -> Result<(), Stop> {
        self.run(&TAIL, out, cap, FlushDecompress::Sync)?;
        if self.ended {
            self.ended = false;
            self.z.reset(false);
            if self.takeover {
                let window = self.window_with(out);
                self.z
                    .set_dictionary(&window)
                    .map_err(|e| Stop::Invalid(e.to_string()))?;
                self.history = Some(window);
            }
        } else if !self.takeover {
            self.z.reset(false);
        } else if self.history.is_some() {
            self.history = Some(self.window_with(out));
        }
        Ok(())
    }

    /// The last 32 KiB of the history followed by `latest`.
    fn window_with(&mut self, latest: &[u8]) -> Vec<u8> {
        let mut window = self.history.take().unwrap_or_default();
        // Only the last 32 KiB can matter: never copy a long message whole.
        let tail = latest
            .get(latest.len().saturating_sub(WINDOW)..)
            .unwrap_or(latest);
        window.extend_from_slice(tail);
        let excess = window.len().saturating_sub(WINDOW);
        window.drain(..excess);
        window
    }

    fn run(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        cap: usize,
        flush: FlushDecompress,
    ) -> Result<(), Stop> {
        while !self.ended {
            // Room for one byte beyond the cap, so that going over it shows.
            let room = cap.saturating_add(1).saturating_sub(out.len());
            if out.capacity() == out.len() {
                out.reserve_exact(room.min(STEP.max(out.len())));
            }
            let (in_before, out_before) = (self.z.total_in(), out.len());
            let status = self
                .z
                .decompress_vec(input, out, flush)
                .map_err(|e| Stop::Invalid(e.to_string()))?;
            let used =
                usize::try_from(self.z.total_in().wrapping_sub(in_before)).unwrap_or(usize::MAX);
            input = input.get(used..).unwrap_or_default();
            if out.len() > cap {
                out.truncate(cap);
                return Err(Stop::Limit);
            }
            if status == Status::StreamEnd {
                self.ended = true;
                break;
            }
            let progressed = used > 0 || out.len() > out_before;
            let full = out.len() == out.capacity();
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
}
