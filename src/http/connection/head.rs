//! One message head being read: skip the empty lines before it, check that
//! it starts like a message, find the empty line that ends it, parse it.
//!
//! Takes the direction's bytes while the reader expects a head, in pieces
//! of any size; gives how many it took and, at the end of the head, the
//! parsed head with where it starts and ends; or, for a bad start line, a
//! head past the cap or a head the parser refuses, a finding and how many
//! bytes to skip. Buffers at most `limits.max_http_head` bytes.

use crate::finding::Code;
use crate::http::FindingCode;
use crate::limits::Limits;
use crate::position::{Dir, FrameRef};

use super::super::parser::{
    detect, find_head_end, parse_request, parse_response, BadHeaders, HeadError, HeaderFault,
    HeaderSlots, Parsed, Probe, RequestHead, ResponseHead, MAX_DESCRIBED,
};
use super::super::Sink;
use super::resync::Resumed;
use super::{note, Spot};

/// A head, parsed.
#[derive(Debug)]
pub(super) enum Head {
    Request(RequestHead),
    Response(ResponseHead),
}

/// A head read off the wire.
#[derive(Debug)]
pub(super) struct HeadRead {
    pub head: Head,
    pub span: Span,
}

/// Where a message part starts (its first byte) and ends (its last byte's
/// frame, the offset just past it).
#[derive(Clone, Copy, Debug)]
pub(super) struct Span {
    pub start: Spot,
    pub end: Spot,
}

/// What one piece of bytes did to the head.
#[derive(Debug)]
pub(super) enum HeadStep {
    /// This many bytes were taken; the head goes on.
    Took(usize),
    /// This many bytes were taken and the head is refused (the finding is
    /// sent): `skipped` bytes are given up, the last of them `mid_line` or not.
    Refused {
        taken: usize,
        skipped: u64,
        mid_line: bool,
    },
    /// This many bytes were taken and ended the head.
    Read(usize, Box<HeadRead>),
}

/// The head being read in one direction.
#[derive(Debug)]
pub(super) struct HeadReader {
    stream: u64,
    dir: Dir,
    /// Longest head kept while looking for its end.
    cap: usize,
    slots: HeaderSlots,
    buf: Vec<u8>,
    /// Frame and stream offset of the head's first byte.
    at: FrameRef,
    offset: u64,
    /// `buf` starts with a plausible start line.
    start_ok: bool,
}

impl HeadReader {
    /// Bytes held now: the head read so far, waiting for its end.
    pub fn held_bytes(&self) -> usize {
        self.buf.len()
    }

    pub fn new(stream: u64, dir: Dir, limits: &Limits) -> HeadReader {
        HeadReader {
            stream,
            dir,
            cap: limits.max_http_head.max(16),
            slots: HeaderSlots::new(limits.max_http_headers.max(1)),
            buf: Vec::new(),
            at: FrameRef::default(),
            offset: 0,
            start_ok: false,
        }
    }

    /// Where the current (or last) head starts.
    pub fn start(&self) -> Spot {
        Spot {
            dir: self.dir,
            at: self.at,
            offset: self.offset,
        }
    }

    /// No byte of a head read yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Gives up the head read so far: its bytes.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Resynchronisation found a start line: the head goes on from it.
    pub fn resume(&mut self, found: Resumed) {
        self.buf = found.line;
        self.at = found.at;
        self.offset = found.offset;
        self.start_ok = true;
    }

    /// Bytes of frame `at`, the first at stream `offset`.
    pub fn feed(
        &mut self,
        at: FrameRef,
        offset: u64,
        rest: &[u8],
        sink: &mut impl Sink,
    ) -> HeadStep {
        if self.buf.is_empty() {
            // Empty lines between messages are allowed (RFC 9112 section 2.2).
            let blank = rest
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            if blank > 0 {
                return HeadStep::Took(blank);
            }
            self.at = at;
            self.offset = offset;
            self.start_ok = false;
        }
        let start_len = self.buf.len();
        let take = self.cap.saturating_sub(start_len).min(rest.len());
        self.buf
            .extend_from_slice(rest.get(..take).unwrap_or_default());
        if !self.start_ok {
            if let Some(refused) = self.probe_start_line(start_len, sink) {
                return refused;
            }
        }
        match find_head_end(&self.buf, start_len.saturating_sub(2)) {
            Some(end) => {
                let end_offset = offset + end.saturating_sub(start_len) as u64;
                self.end_head(at, end_offset, start_len, end, sink)
            }
            None if self.buf.len() >= self.cap => {
                let e = HeadError::TooLarge { limit: self.cap };
                self.refuse(take, e.code(), e.to_string(), sink)
            }
            None => HeadStep::Took(take),
        }
    }

    /// Does the head start like a message? Some (the bad line dropped, with
    /// a finding) when it does not.
    fn probe_start_line(&mut self, start_len: usize, sink: &mut impl Sink) -> Option<HeadStep> {
        match detect(self.dir, &self.buf) {
            Probe::Http => self.start_ok = true,
            Probe::NeedMore => {}
            Probe::NotHttp => {
                // Drop the bad line only: the next line may start a message.
                let cut = self
                    .buf
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(self.buf.len(), |i| i + 1);
                self.buf.truncate(cut);
                let what = match self.dir {
                    Dir::ClientToServer => "request",
                    Dir::ServerToClient => "status",
                };
                let msg =
                    format!("bytes that are not an HTTP {what} line where a message should start");
                let taken = cut.saturating_sub(start_len);
                return Some(self.refuse(taken, FindingCode::BadStartLine, msg, sink));
            }
        }
        None
    }

    /// Drops the head being read, with a finding at its start.
    fn refuse(
        &mut self,
        taken: usize,
        code: impl Into<Code>,
        msg: String,
        sink: &mut impl Sink,
    ) -> HeadStep {
        let msg = format!("{msg}; skipping to the next message");
        note(sink, self.stream, self.start(), code, msg);
        let buf = self.take();
        HeadStep::Refused {
            taken,
            skipped: buf.len() as u64,
            mid_line: !buf.ends_with(b"\n"),
        }
    }

    /// The head ends at `end` in `buf` (`start_len` bytes were there before
    /// this piece), at frame `at` and stream offset `end_offset`: parse it.
    fn end_head(
        &mut self,
        at: FrameRef,
        end_offset: u64,
        start_len: usize,
        end: usize,
        sink: &mut impl Sink,
    ) -> HeadStep {
        let taken = end.saturating_sub(start_len);
        self.buf.truncate(end);
        let head = self.take();
        let span = Span {
            start: self.start(),
            end: Spot {
                dir: self.dir,
                at,
                offset: end_offset,
            },
        };
        match self.parse(&head) {
            Ok((parsed, skipped)) => {
                self.report_skipped(&skipped, span.start, sink);
                HeadStep::Read(taken, Box::new(HeadRead { head: parsed, span }))
            }
            Err(e) => {
                let msg = format!(
                    "{e} in a {}-byte head; skipping to the next message",
                    head.len()
                );
                note(sink, self.stream, span.start, e.code(), msg);
                HeadStep::Refused {
                    taken,
                    skipped: head.len() as u64,
                    mid_line: false,
                }
            }
        }
    }

    fn parse(&mut self, head: &[u8]) -> Result<(Head, BadHeaders), HeadError> {
        match self.dir {
            Dir::ClientToServer => {
                let p = complete_head(parse_request(head, &mut self.slots)?)?;
                Ok((Head::Request(p.head), p.skipped))
            }
            Dir::ServerToClient => {
                let p = complete_head(parse_response(head, &mut self.slots)?)?;
                Ok((Head::Response(p.head), p.skipped))
            }
        }
    }

    /// One finding per header field the parse skipped (the first few; then
    /// how many more), located at the offending byte.
    fn report_skipped(&self, skipped: &BadHeaders, start: Spot, sink: &mut impl Sink) {
        let what = match self.dir {
            Dir::ClientToServer => "request",
            Dir::ServerToClient => "response",
        };
        for bad in &skipped.described {
            let offset = start.offset + bad.at as u64;
            if let HeaderFault::TargetByte { .. } = bad.fault {
                let msg = format!(
                    "{what} line: {} at stream offset {offset}; read as `?` and the {what} goes on (target: \"{}\")",
                    bad.fault, bad.shown
                );
                let at = Spot { offset, ..start };
                note(sink, self.stream, at, FindingCode::BadStartLine, msg);
                continue;
            }
            let name = match bad.name.as_str() {
                "" => "a header line without a name".to_string(),
                name => format!("header {name:?}"),
            };
            let dropped = match bad.fault {
                HeaderFault::Folded => "the continuation is dropped",
                _ => "the header is skipped",
            };
            let msg = format!(
                "{what} {name} on line {} of the head: {} at stream offset {offset}; {dropped} and the {what} goes on (line: \"{}\")",
                bad.line, bad.fault, bad.shown
            );
            let at = Spot { offset, ..start };
            note(sink, self.stream, at, FindingCode::BadHeader, msg);
        }
        if skipped.more > 0 {
            let msg = format!(
                "{} more malformed header lines in this {what} head skipped (only the first {} are described)",
                skipped.more,
                MAX_DESCRIBED
            );
            note(sink, self.stream, start, FindingCode::BadHeader, msg);
        }
    }
}

/// A head cut at its empty line is complete; the parser saying otherwise means a cut start line.
fn complete_head<T>(s: httparse::Status<Parsed<T>>) -> Result<Parsed<T>, HeadError> {
    match s {
        httparse::Status::Complete(parsed) => Ok(parsed),
        httparse::Status::Partial => Err(HeadError::Truncated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::tests::Rec;
    use crate::position::Timestamp;

    const GET: &[u8] = b"\r\nGET /a HTTP/1.1\r\nHost: f\r\n\r\nrest";

    fn frame(n: u64) -> FrameRef {
        FrameRef::new(n, Timestamp::from_secs_nanos(n as i64, 0))
    }

    /// Feeds `bytes` (frame `i + 1` for piece `i`) until a head is read or refused.
    fn read(dir: Dir, limits: &Limits, bytes: &[u8], step: usize) -> (HeadStep, usize, Rec) {
        let mut head = HeadReader::new(7, dir, limits);
        let mut rec = Rec::default();
        let mut offset = 0;
        for (i, piece) in bytes.chunks(step).enumerate() {
            let mut rest = piece;
            while !rest.is_empty() {
                match head.feed(frame(i as u64 + 1), offset as u64, rest, &mut rec) {
                    HeadStep::Took(n) => {
                        offset += n;
                        rest = &rest[n..];
                    }
                    done => return (done, offset, rec),
                }
            }
        }
        (HeadStep::Took(0), offset, rec)
    }

    #[test]
    fn a_head_in_any_pieces_is_read_with_where_it_starts_and_ends() {
        for step in 1..GET.len() {
            let (step_done, before, rec) = read(Dir::ClientToServer, &Limits::default(), GET, step);
            let HeadStep::Read(n, read) = step_done else {
                panic!("step {step}: {step_done:?}")
            };
            assert_eq!(before + n, GET.len() - 4, "step {step}");
            let Head::Request(req) = &read.head else {
                panic!("a request")
            };
            assert_eq!(req.target, "/a");
            assert_eq!(read.span.start.offset, 2, "blank line skipped");
            assert_eq!(read.span.end.offset, GET.len() as u64 - 4);
            assert_eq!(read.span.start.at.frame, 1 + 2 / step as u64);
            assert!(rec.events.is_empty());
        }
    }

    #[test]
    fn a_bad_start_line_is_refused_alone() {
        let bytes = b"HELLO there\r\nGET / HTTP/1.1\r\n\r\n";
        let (done, _, rec) = read(Dir::ClientToServer, &Limits::default(), bytes, 64);
        let HeadStep::Refused {
            taken,
            skipped,
            mid_line,
        } = done
        else {
            panic!("{done:?}")
        };
        assert_eq!((taken, skipped, mid_line), (13, 13, false));
        assert_eq!(rec.codes(), ["http.bad_start_line"]);
        // A request line from the server is no status line.
        let (done, _, rec) = read(Dir::ServerToClient, &Limits::default(), bytes, 64);
        assert!(matches!(done, HeadStep::Refused { .. }));
        assert!(rec.findings()[0]
            .message
            .contains("not an HTTP status line"));
    }

    #[test]
    fn a_head_past_the_cap_is_refused() {
        let limits = Limits {
            max_http_head: 32,
            ..Limits::default()
        };
        let long = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; 64]].concat();
        let (done, _, rec) = read(Dir::ClientToServer, &limits, &long, 5);
        let HeadStep::Refused {
            skipped, mid_line, ..
        } = done
        else {
            panic!("{done:?}")
        };
        assert_eq!((skipped, mid_line), (32, true));
        assert_eq!(rec.codes(), ["http.head_too_large"]);
    }

    #[test]
    fn a_head_the_parser_refuses_is_skipped_whole() {
        // Probed as a request line (HTTP/1. and a digit), refused by the parser.
        let bytes = b"GET / HTTP/1.2\r\n\r\n";
        let (done, _, rec) = read(Dir::ClientToServer, &Limits::default(), bytes, 64);
        let HeadStep::Refused {
            taken,
            skipped,
            mid_line,
        } = done
        else {
            panic!("{done:?}")
        };
        assert_eq!((taken, skipped, mid_line), (18, 18, false));
        assert_eq!(rec.codes(), ["http.bad_start_line"]);
    }
}
