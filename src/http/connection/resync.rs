//! Finding the next message after the reader lost its place (a gap, a bad
//! head, a broken body): line by line, the first line that starts like a
//! request (client) or a status line (server).
//!
//! Takes the direction's bytes in pieces of any size; gives how many it
//! skipped and, once found, the start line read so far with where it began.
//! Holds at most one line, bounded by the probe's longest request target;
//! longer lines are skipped whole.

use crate::position::{Dir, FrameRef};

use super::super::parser::{detect, Probe, MAX_PROBE_TARGET};

/// Looking for the next start line.
#[derive(Debug)]
pub(super) struct Resync {
    /// The line being read (it may still become a start line).
    line: Vec<u8>,
    line_at: FrameRef,
    line_offset: u64,
    /// Inside a line already known not to start a message.
    rejecting: bool,
    /// Bytes skipped so far.
    skipped: u64,
}

/// What a piece of bytes did to the search.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Scan {
    /// This many bytes were taken; still looking.
    Looking(usize),
    /// This many bytes were taken and the line read starts a message.
    Found(usize, Resumed),
}

/// A start line found after skipping.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Resumed {
    /// The line's bytes so far (the head goes on from here).
    pub line: Vec<u8>,
    pub at: FrameRef,
    pub offset: u64,
    /// Bytes skipped before it.
    pub skipped: u64,
}

impl Resync {
    /// Bytes held now: the line that may still become a start line.
    pub fn held_bytes(&self) -> usize {
        self.line.len()
    }

    /// Starts looking at frame `at`, `skipped` bytes already given up;
    /// `mid_line`: the first bytes finish a line that is not a start line.
    pub fn new(at: FrameRef, skipped: u64, mid_line: bool) -> Resync {
        Resync {
            line: Vec::new(),
            line_at: at,
            line_offset: 0,
            rejecting: mid_line,
            skipped,
        }
    }

    /// Bytes given up so far, the open line included.
    pub fn skipped(&self) -> u64 {
        self.skipped + self.line.len() as u64
    }

    /// Bytes of `dir` from frame `at`, starting at stream `offset`.
    pub fn feed(&mut self, dir: Dir, at: FrameRef, offset: u64, rest: &[u8]) -> Scan {
        let eol = rest.iter().position(|b| *b == b'\n');
        let n = eol.map_or(rest.len(), |i| i + 1);
        if self.rejecting {
            self.skipped += n as u64;
            self.rejecting = eol.is_none();
            return Scan::Looking(n);
        }
        if self.line.is_empty() {
            self.line_at = at;
            self.line_offset = offset;
        }
        if self.line.len() + n > MAX_PROBE_TARGET + 64 {
            self.skipped += (self.line.len() + n) as u64;
            self.line.clear();
            self.rejecting = eol.is_none();
            return Scan::Looking(n);
        }
        self.line
            .extend_from_slice(rest.get(..n).unwrap_or_default());
        match (detect(dir, &self.line), eol) {
            (Probe::Http, _) => Scan::Found(
                n,
                Resumed {
                    line: std::mem::take(&mut self.line),
                    at: self.line_at,
                    offset: self.line_offset,
                    skipped: self.skipped,
                },
            ),
            (_, Some(_)) | (Probe::NotHttp, None) => {
                self.skipped += self.line.len() as u64;
                self.line.clear();
                self.rejecting = eol.is_none();
                Scan::Looking(n)
            }
            (Probe::NeedMore, None) => Scan::Looking(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::Timestamp;

    const C2S: Dir = Dir::ClientToServer;
    const S2C: Dir = Dir::ServerToClient;

    fn frame(n: u64) -> FrameRef {
        FrameRef::new(n, Timestamp::from_secs_nanos(n as i64, 0))
    }

    /// Feeds `bytes` in pieces of `step`; gives the resumption and the bytes taken.
    fn scan(dir: Dir, mid_line: bool, bytes: &[u8], step: usize) -> (Option<Resumed>, usize) {
        let mut r = Resync::new(frame(1), 0, mid_line);
        let mut taken = 0;
        for (i, piece) in bytes.chunks(step).enumerate() {
            let mut rest = piece;
            while !rest.is_empty() {
                match r.feed(dir, frame(i as u64 + 1), taken as u64, rest) {
                    Scan::Looking(n) => {
                        taken += n;
                        rest = &rest[n..];
                    }
                    Scan::Found(n, found) => return (Some(found), taken + n),
                }
            }
        }
        (None, taken)
    }

    #[test]
    fn finds_the_next_request_line_in_any_pieces() {
        let bytes = b"garbage\r\nmore: x\r\nGET /b HTTP/1.1\r\nHost: f\r\n";
        for step in 1..bytes.len() {
            let (found, taken) = scan(C2S, false, bytes, step);
            let found = found.expect("a request line");
            assert_eq!(found.skipped, 18, "step {step}");
            assert_eq!(found.offset, 18, "step {step}");
            assert!(found.line.starts_with(b"GET /b HTTP/1."), "step {step}");
            assert_eq!(taken, 18 + found.line.len(), "step {step}");
        }
    }

    #[test]
    fn the_rest_of_a_cut_line_is_skipped_even_when_it_looks_like_a_start() {
        let (found, _) = scan(S2C, true, b"HTTP/1.1 200 OK\r\nHTTP/1.1 204 No\r\n", 64);
        let found = found.expect("the second status line");
        assert_eq!((found.offset, found.skipped), (17, 17));
    }

    #[test]
    fn a_server_line_must_be_a_status_line() {
        let (found, taken) = scan(S2C, false, b"GET / HTTP/1.1\r\n", 64);
        assert_eq!((found, taken), (None, 16));
    }

    #[test]
    fn endless_lines_are_skipped_not_kept() {
        let mut r = Resync::new(frame(1), 3, false);
        let long = vec![b'a'; MAX_PROBE_TARGET + 100];
        assert_eq!(r.feed(C2S, frame(2), 0, &long), Scan::Looking(long.len()));
        assert_eq!(r.skipped(), 3 + long.len() as u64);
        assert!(r.line.is_empty() && r.rejecting);
    }
}
