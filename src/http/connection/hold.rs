//! Client bytes sent after a request that asks to switch protocols (a
//! WebSocket upgrade, a CONNECT), held until the answer says what they are.
//!
//! Takes the client bytes and gaps that follow such a request; gives them
//! back as they came (one chunk per frame, with the bytes lost before each):
//! to the HTTP reader when the answer did not switch, to the [`Upgrade`]
//! event when it did. Keeps at most the cap it was given (the body cap);
//! bytes past it are counted as dropped, never kept.
//!
//! [`Upgrade`]: super::super::Upgrade

use crate::position::FrameRef;

use super::super::exchange::Held;

/// The held client bytes of one request.
#[derive(Debug)]
pub(super) struct Hold {
    /// The exchange whose answer decides.
    pub index: u64,
    /// Frame of the request's last byte.
    pub switch_at: FrameRef,
    /// Stream offset just past the request: where the held bytes start.
    pub switch_offset: u64,
    pub chunks: Vec<Held>,
    /// Bytes in `chunks`.
    bytes: usize,
    cap: usize,
    /// Bytes lost in a gap since the last held chunk.
    pending_gap: u64,
    /// Bytes over the cap (all after the held chunks).
    dropped: u64,
}

impl Hold {
    /// Bytes held now: the client bytes waiting for the answer.
    pub fn held_bytes(&self) -> usize {
        self.bytes
    }

    /// Holds what follows the request of exchange `index`, ended at `switch_at`/`switch_offset`.
    pub fn new(index: u64, switch_at: FrameRef, switch_offset: u64, cap: usize) -> Hold {
        Hold {
            index,
            switch_at,
            switch_offset,
            chunks: Vec::new(),
            bytes: 0,
            cap,
            pending_gap: 0,
            dropped: 0,
        }
    }

    /// Client bytes from frame `at`; all are taken (kept or counted).
    pub fn feed(&mut self, at: FrameRef, rest: &[u8]) {
        let room = self.cap.saturating_sub(self.bytes).min(rest.len());
        if room == 0 {
            self.dropped += self.pending_gap + rest.len() as u64;
            self.pending_gap = 0;
            return;
        }
        let kept = rest.get(..room).unwrap_or_default();
        let gap_before = std::mem::take(&mut self.pending_gap);
        match self.chunks.last_mut() {
            // One held chunk per frame, however the frame's bytes were cut.
            Some(last) if last.at == at && gap_before == 0 => last.bytes.extend_from_slice(kept),
            _ => self.chunks.push(Held {
                at,
                gap_before,
                bytes: kept.to_vec(),
            }),
        }
        self.bytes += room;
        self.dropped += rest.len().saturating_sub(room) as u64;
    }

    /// `len` client bytes were lost in the capture.
    pub fn on_gap(&mut self, len: u64) {
        if self.dropped > 0 {
            self.dropped += len;
        } else {
            self.pending_gap += len;
        }
    }

    /// Bytes not in `chunks`: over the cap, or lost after the last chunk.
    pub fn lost(&self) -> u64 {
        self.dropped + self.pending_gap
    }

    /// Bytes kept in `chunks`.
    pub fn kept(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::Timestamp;

    fn frame(n: u64) -> FrameRef {
        FrameRef::new(n, Timestamp::from_secs_nanos(n as i64, 0))
    }

    #[test]
    fn one_chunk_per_frame_with_the_gap_before_it() {
        let mut h = Hold::new(0, frame(1), 100, 64);
        h.feed(frame(2), b"<op");
        h.feed(frame(2), b"en/>");
        h.on_gap(5);
        h.feed(frame(3), b"<iq/>");
        let chunks: Vec<_> = h
            .chunks
            .iter()
            .map(|c| (c.at.frame, c.gap_before, c.bytes.as_slice()))
            .collect();
        assert_eq!(chunks, [(2, 0, &b"<open/>"[..]), (3, 5, &b"<iq/>"[..])]);
        assert_eq!((h.kept(), h.lost()), (12, 0));
    }

    #[test]
    fn bytes_past_the_cap_are_counted_not_kept() {
        let mut h = Hold::new(0, frame(1), 0, 4);
        h.feed(frame(2), b"abcdef");
        assert_eq!((h.kept(), h.lost()), (4, 2));
        h.on_gap(10);
        h.feed(frame(3), b"xyz");
        assert_eq!((h.kept(), h.lost()), (4, 15));
        assert_eq!(h.chunks.len(), 1);
    }

    #[test]
    fn a_gap_at_the_end_is_lost_not_dropped() {
        let mut h = Hold::new(0, frame(1), 0, 4);
        h.feed(frame(2), b"ab");
        h.on_gap(7);
        assert_eq!(h.lost(), 7);
        // A gap followed by bytes over the cap: both count as given up.
        h.feed(frame(3), b"cdXY");
        assert_eq!((h.kept(), h.lost()), (4, 2));
        assert_eq!(h.chunks.last().map(|c| c.gap_before), Some(7));
    }
}
