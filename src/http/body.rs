//! Message bodies: reading a body off the wire by its framing, and undoing its
//! content coding.
//!
//! Takes the bytes after a head, in chunks of any size; gives the payload
//! (kept up to `limits.max_http_body`, the rest counted), the trailers' names
//! and, once complete, the inflated content. Never holds more than the caps
//! allow: chunk-size lines and trailers are bounded by `limits.max_http_head`,
//! inflation by `limits.max_http_body` and `limits.max_inflate_ratio`.

use std::io::Read;

use thiserror::Error;

use super::parser::{parse_chunk_size, Framing};
use crate::http::FindingCode;

/// Why a chunked body could not be followed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ChunkError {
    #[error("invalid chunk-size line")]
    BadChunkSize,
    #[error("chunk-size line or trailers longer than {limit} bytes")]
    LineTooLong { limit: usize },
    #[error("chunk data not followed by CRLF")]
    MissingCrlf,
}

impl ChunkError {
    pub(crate) fn code(&self) -> FindingCode {
        match self {
            ChunkError::BadChunkSize => FindingCode::BadChunkSize,
            ChunkError::LineTooLong { .. } => FindingCode::ChunkLineTooLong,
            ChunkError::MissingCrlf => FindingCode::BadChunkEnd,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    Size,
    Data,
    DataCr,
    DataLf,
    Trailers,
}

/// What feeding bytes to a body did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// All given bytes were body; more are needed.
    More,
    /// The body ended after this many of the given bytes.
    Done(usize),
    /// The framing broke after this many bytes.
    Broken(usize, ChunkError),
}

/// A body being read off the wire.
#[derive(Debug)]
pub(crate) struct Reader {
    framing: Framing,
    chunk: Chunk,
    remaining: u64,
    line: Vec<u8>,
    line_cap: usize,
    keep_cap: usize,
    /// Payload bytes kept (up to the cap).
    pub kept: Vec<u8>,
    /// Payload bytes seen on the wire, including skipped and lost ones.
    pub len: u64,
    /// Payload bytes beyond the cap, counted and dropped.
    pub skipped: u64,
    /// Payload bytes lost in capture gaps.
    pub missing: u64,
    /// Names of trailer fields of a chunked body.
    pub trailers: Vec<String>,
}

impl Reader {
    /// Bytes held now: the payload kept so far and a chunk-size or trailer
    /// line in progress.
    pub fn held_bytes(&self) -> usize {
        self.kept.len() + self.line.len()
    }

    pub fn new(framing: Framing, keep_cap: usize, line_cap: usize) -> Reader {
        let remaining = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        Reader {
            framing,
            chunk: Chunk::Size,
            remaining,
            line: Vec::new(),
            line_cap,
            keep_cap,
            kept: Vec::new(),
            len: 0,
            skipped: 0,
            missing: 0,
            trailers: Vec::new(),
        }
    }

    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// True when the body is already complete without any byte (empty framing).
    pub fn is_done_at_start(&self) -> bool {
        self.framing == Framing::Empty
    }

    fn keep(&mut self, payload: &[u8]) {
        let room = self.keep_cap.saturating_sub(self.kept.len());
        let (kept, dropped) = payload.split_at(room.min(payload.len()));
        self.kept.extend_from_slice(kept);
        self.skipped += dropped.len() as u64;
        self.len += payload.len() as u64;
    }

    /// Feeds body bytes; see [`Step`].
    pub fn feed(&mut self, bytes: &[u8]) -> Step {
        match self.framing {
            Framing::Empty => Step::Done(0),
            Framing::UntilClose => {
                self.keep(bytes);
                Step::More
            }
            Framing::Length(_) => {
                let n = take_len(self.remaining, bytes.len());
                let (body, _) = bytes.split_at(n);
                self.keep(body);
                self.remaining -= n as u64;
                if self.remaining == 0 {
                    Step::Done(n)
                } else {
                    Step::More
                }
            }
            Framing::Chunked => self.feed_chunked(bytes),
        }
    }

    fn feed_chunked(&mut self, bytes: &[u8]) -> Step {
        let mut pos = 0;
        while pos < bytes.len() {
            let rest = bytes.get(pos..).unwrap_or_default();
            match self.chunk {
                Chunk::Size | Chunk::Trailers => match self.take_line(rest) {
                    Ok(Some(n)) => {
                        pos += n;
                        if let Some(done) = self.line_done() {
                            return match done {
                                Ok(()) => Step::Done(pos),
                                Err(e) => Step::Broken(pos, e),
                            };
                        }
                    }
                    Ok(None) => return Step::More,
                    Err(e) => return Step::Broken(pos, e),
                },
                Chunk::Data => {
                    let n = take_len(self.remaining, rest.len());
                    let (data, _) = rest.split_at(n);
                    self.keep(data);
                    self.remaining -= n as u64;
                    pos += n;
                    if self.remaining == 0 {
                        self.chunk = Chunk::DataCr;
                    }
                }
                Chunk::DataCr | Chunk::DataLf => {
                    let byte = rest.first().copied();
                    pos += 1;
                    self.chunk = match (self.chunk, byte) {
                        (Chunk::DataCr, Some(b'\r')) => Chunk::DataLf,
                        (_, Some(b'\n')) => Chunk::Size,
                        _ => return Step::Broken(pos, ChunkError::MissingCrlf),
                    };
                }
            }
        }
        Step::More
    }

    /// Appends bytes up to and including the next LF to `line`: how many were taken,
    /// or None when the line is still open.
    fn take_line(&mut self, rest: &[u8]) -> Result<Option<usize>, ChunkError> {
        let (n, complete) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (rest.len(), false),
        };
        if self.line.len() + n > self.line_cap {
            return Err(ChunkError::LineTooLong {
                limit: self.line_cap,
            });
        }
        self.line
            .extend_from_slice(rest.get(..n).unwrap_or_default());
        Ok(complete.then_some(n))
    }

    /// A full line is in `line`: act on it. Some(result) when the body ended or broke.
    fn line_done(&mut self) -> Option<Result<(), ChunkError>> {
        if self.chunk == Chunk::Size {
            let parsed = parse_chunk_size(&self.line);
            self.line.clear();
            match parsed {
                Ok(httparse::Status::Complete((_, 0))) => self.chunk = Chunk::Trailers,
                Ok(httparse::Status::Complete((_, size))) => {
                    self.remaining = size;
                    self.chunk = Chunk::Data;
                }
                Ok(httparse::Status::Partial) | Err(_) => {
                    return Some(Err(ChunkError::BadChunkSize))
                }
            }
            return None;
        }
        // Trailers: `line` holds every trailer line so far (bounded by line_cap).
        let last_start = self
            .line
            .iter()
            .rev()
            .skip(1)
            .position(|b| *b == b'\n')
            .map_or(0, |i| self.line.len() - 1 - i);
        let last = self.line.get(last_start..).unwrap_or_default();
        if last == b"\r\n" || last == b"\n" {
            return Some(Ok(()));
        }
        if let Some(colon) = last.iter().position(|b| *b == b':') {
            let name = String::from_utf8_lossy(last.get(..colon).unwrap_or_default());
            self.trailers.push(name.trim().to_string());
        }
        None
    }

    /// `len` body bytes were lost in the capture. Returns false when the body's
    /// framing can no longer be followed.
    pub fn on_gap(&mut self, len: u64) -> bool {
        let in_data = match self.framing {
            Framing::UntilClose => true,
            Framing::Length(_) => len < self.remaining,
            Framing::Chunked => self.chunk == Chunk::Data && len < self.remaining,
            Framing::Empty => false,
        };
        if in_data {
            if self.framing != Framing::UntilClose {
                self.remaining -= len;
            }
            self.missing += len;
            self.len += len;
        }
        in_data
    }
}

fn take_len(remaining: u64, avail: usize) -> usize {
    usize::try_from(remaining).map_or(avail, |r| r.min(avail))
}

/// A content coding xmppcap undoes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coding {
    Gzip,
    Deflate,
}

impl Coding {
    /// The coding named by a `Content-Encoding` value, if it is one we undo.
    pub fn from_header(value: &str) -> Option<Coding> {
        match value.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Some(Coding::Gzip),
            "deflate" => Some(Coding::Deflate),
            _ => None,
        }
    }
}

/// Why inflating a body stopped.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum InflateError {
    #[error("inflating {input} bytes stopped at {limit} bytes (size or ratio cap)")]
    Limit { input: usize, limit: usize },
    #[error("{coding} data is corrupt after {output} inflated bytes")]
    Corrupt { coding: &'static str, output: usize },
}

impl InflateError {
    pub(crate) fn code(&self) -> FindingCode {
        match self {
            InflateError::Limit { .. } => FindingCode::InflateLimit,
            InflateError::Corrupt { .. } => FindingCode::InflateError,
        }
    }
}

/// Inflates `data`, producing at most `max_out` bytes and at most `ratio`
/// times the input. On a hit, the bytes inflated so far come with the error.
pub(crate) fn inflate(
    data: &[u8],
    coding: Coding,
    max_out: usize,
    ratio: u64,
) -> (Vec<u8>, Option<InflateError>) {
    let by_ratio = u64::try_from(data.len())
        .unwrap_or(u64::MAX)
        .saturating_mul(ratio.max(1));
    let limit = usize::try_from(by_ratio).unwrap_or(usize::MAX).min(max_out);
    match coding {
        Coding::Gzip => read_bounded(flate2::read::MultiGzDecoder::new(data), limit, "gzip", data),
        Coding::Deflate => {
            // "deflate" is zlib-wrapped by the RFC, but many servers send raw deflate.
            let zlib = read_bounded(flate2::read::ZlibDecoder::new(data), limit, "deflate", data);
            match zlib {
                (out, Some(InflateError::Corrupt { output: 0, .. })) if out.is_empty() => {
                    read_bounded(
                        flate2::read::DeflateDecoder::new(data),
                        limit,
                        "deflate",
                        data,
                    )
                }
                other => other,
            }
        }
    }
}

fn read_bounded(
    mut decoder: impl Read,
    limit: usize,
    coding: &'static str,
    input: &[u8],
) -> (Vec<u8>, Option<InflateError>) {
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match decoder.read(&mut chunk) {
            Ok(0) => return (out, None),
            Ok(n) => {
                let room = limit.saturating_sub(out.len());
                let got = chunk.get(..n).unwrap_or_default();
                if n > room {
                    out.extend_from_slice(got.get(..room).unwrap_or_default());
                    let err = InflateError::Limit {
                        input: input.len(),
                        limit,
                    };
                    return (out, Some(err));
                }
                out.extend_from_slice(got);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => {
                let output = out.len();
                return (out, Some(InflateError::Corrupt { coding, output }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(framing: Framing, wire: &[u8], split: usize) -> (Reader, Step, usize) {
        let mut r = Reader::new(framing, 1 << 20, 256);
        let mut pos = 0;
        let mut last = Step::More;
        for piece in wire.chunks(split.max(1)) {
            last = r.feed(piece);
            match last {
                Step::More => pos += piece.len(),
                Step::Done(n) | Step::Broken(n, _) => {
                    pos += n;
                    break;
                }
            }
        }
        (r, last, pos)
    }

    #[test]
    fn chunked_with_trailers_any_split() {
        let wire = b"4\r\nWiki\r\n5;ext\r\npedia\r\n0\r\nExpires: never\r\nX-T: 1\r\n\r\nNEXT";
        for split in 1..wire.len() {
            let (r, step, pos) = read_all(Framing::Chunked, wire, split);
            assert!(matches!(step, Step::Done(_)), "split {split}: {step:?}");
            assert_eq!(pos, wire.len() - 4, "split {split}");
            assert_eq!(r.kept, b"Wikipedia");
            assert_eq!(r.trailers, ["Expires", "X-T"]);
        }
    }

    #[test]
    fn chunked_errors_name_the_field() {
        let (_, step, _) = read_all(Framing::Chunked, b"zz\r\n", 100);
        assert_eq!(step, Step::Broken(4, ChunkError::BadChunkSize));
        let (_, step, _) = read_all(Framing::Chunked, b"2\r\nabX", 100);
        assert_eq!(step, Step::Broken(6, ChunkError::MissingCrlf));
        let long = [b"1;".to_vec(), vec![b'x'; 300]].concat();
        let (_, step, _) = read_all(Framing::Chunked, &long, 100);
        assert!(matches!(
            step,
            Step::Broken(_, ChunkError::LineTooLong { limit: 256 })
        ));
    }

    #[test]
    fn length_body_keeps_up_to_cap_and_counts_the_rest() {
        let mut r = Reader::new(Framing::Length(10), 4, 256);
        assert_eq!(r.feed(b"0123456"), Step::More);
        assert_eq!(r.feed(b"789abc"), Step::Done(3));
        assert_eq!((r.kept.as_slice(), r.len, r.skipped), (&b"0123"[..], 10, 6));
    }

    #[test]
    fn gaps_inside_a_length_body_keep_sync() {
        let mut r = Reader::new(Framing::Length(10), 64, 256);
        assert_eq!(r.feed(b"012"), Step::More);
        assert!(r.on_gap(4));
        assert_eq!(r.feed(b"789X"), Step::Done(3));
        assert_eq!(r.missing, 4);
        let mut r = Reader::new(Framing::Length(10), 64, 256);
        assert!(!r.on_gap(10));
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn inflates_gzip_zlib_and_raw_deflate() {
        let text = b"<ApiErrors><ApiError/></ApiErrors>";
        assert_eq!(
            inflate(&gzip(text), Coding::Gzip, 1 << 20, 1000),
            (text.to_vec(), None)
        );
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(text).unwrap();
        let z = z.finish().unwrap();
        assert_eq!(
            inflate(&z, Coding::Deflate, 1 << 20, 1000),
            (text.to_vec(), None)
        );
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(text).unwrap();
        let d = d.finish().unwrap();
        assert_eq!(
            inflate(&d, Coding::Deflate, 1 << 20, 1000),
            (text.to_vec(), None)
        );
    }

    #[test]
    fn gzip_bomb_is_capped_by_ratio_and_size() {
        let bomb = gzip(&vec![0u8; 10 << 20]);
        let (out, err) = inflate(&bomb, Coding::Gzip, 1 << 20, 1000);
        let limit = (bomb.len() * 1000).min(1 << 20);
        assert_eq!(out.len(), limit);
        assert_eq!(
            err,
            Some(InflateError::Limit {
                input: bomb.len(),
                limit
            })
        );
    }

    #[test]
    fn corrupt_gzip_is_an_error() {
        let mut bad = gzip(b"hello hello hello");
        let n = bad.len();
        bad[n - 12] ^= 0xff;
        let (_, err) = inflate(&bad, Coding::Gzip, 1 << 20, 1000);
        assert!(matches!(
            err,
            Some(InflateError::Corrupt { coding: "gzip", .. })
        ));
    }
}
