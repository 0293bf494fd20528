//! TLS record compression (RFC 3749 DEFLATE), undone after decryption.
//!
//! Takes the compression method a ServerHello chose and, per direction and
//! connection state (from each ChangeCipherSpec on), the decrypted record
//! fragments in order; gives each record's plaintext. The context persists
//! across records: each fragment is the output of one zlib `deflate` call
//! with `Z_SYNC_FLUSH` on one stream per direction. Bounded: a fragment over
//! 2^14 + 1024 bytes (the `TLSCompressed.length` cap, RFC 5246 §6.2.2) or one
//! that inflates past 2^14 bytes (`TLSPlaintext`) is an error, and memory
//! never grows past one record's worth. Never guesses: after an error the
//! stream is out of step and every later record of that state fails too.

use flate2::{Decompress, FlushDecompress, Status};
use thiserror::Error;

/// Largest plaintext fragment (RFC 5246 §6.2.1).
pub(crate) const MAX_PLAINTEXT: usize = 1 << 14;
/// Largest compressed fragment (RFC 5246 §6.2.2).
pub(crate) const MAX_COMPRESSED: usize = MAX_PLAINTEXT + 1024;

/// The ServerHello's `compression_method` (IANA TLS Compression Methods).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Method {
    #[default]
    Null,
    /// RFC 3749.
    Deflate,
    /// A method xmppcap does not know (LZS is 64, RFC 3943).
    Unknown(u8),
}

impl Method {
    pub(crate) fn from_u8(v: u8) -> Method {
        match v {
            0 => Method::Null,
            1 => Method::Deflate,
            other => Method::Unknown(other),
        }
    }

    /// The method as the summary names it; `None` for no compression.
    pub(crate) fn name(self) -> Option<String> {
        match self {
            Method::Null => None,
            Method::Deflate => Some("deflate".into()),
            Method::Unknown(64) => Some("LZS (method 64)".into()),
            Method::Unknown(m) => Some(format!("unknown method {m}")),
        }
    }
}

/// Why a record's fragment did not decompress.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub(crate) enum InflateError {
    #[error("compressed fragment of {len} bytes exceeds the limit of {MAX_COMPRESSED}")]
    TooLong { len: usize },
    #[error("fragment inflates past {MAX_PLAINTEXT} bytes (decompression bomb)")]
    Bomb,
    #[error("not a DEFLATE stream: {0}")]
    Corrupt(String),
    #[error("the DEFLATE stream ended, yet the record has more data")]
    AfterEnd,
    #[error("the DEFLATE context was lost with an earlier record that could not be read")]
    ContextLost,
    #[error("an earlier record of this direction did not decompress")]
    OutOfStep,
}

/// One direction's DEFLATE stream for one connection state.
pub(crate) struct Inflater {
    stream: Decompress,
    ended: bool,
    /// Why the stream is out of step: said once, then `OutOfStep`.
    failed: Option<InflateError>,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("in", &self.stream.total_in())
            .field("out", &self.stream.total_out())
            .field("failed", &self.failed)
            .finish()
    }
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater::new()
    }
}

impl Inflater {
    pub(crate) fn new() -> Inflater {
        Inflater {
            // RFC 3749 §2.1: the zlib format, header included.
            stream: Decompress::new(true),
            ended: false,
            failed: None,
        }
    }

    /// A record of this stream was lost (a capture gap, a damaged record):
    /// later records may refer back into it, so none of them can be trusted.
    pub(crate) fn lose_context(&mut self) {
        self.failed.get_or_insert(InflateError::ContextLost);
    }

    /// Inflates one record's fragment into `out` (cleared first).
    pub(crate) fn inflate(
        &mut self,
        fragment: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), InflateError> {
        out.clear();
        if let Some(why) = self.failed.as_mut() {
            return Err(std::mem::replace(why, InflateError::OutOfStep));
        }
        let result = self.run(fragment, out);
        if result.is_err() {
            self.failed = Some(InflateError::OutOfStep);
            out.clear();
        }
        result
    }

    fn run(&mut self, fragment: &[u8], out: &mut Vec<u8>) -> Result<(), InflateError> {
        if fragment.len() > MAX_COMPRESSED {
            return Err(InflateError::TooLong {
                len: fragment.len(),
            });
        }
        // One byte past the cap tells a bomb from a full record.
        out.reserve_exact(MAX_PLAINTEXT + 1);
        let mut input = fragment;
        loop {
            if self.ended && !input.is_empty() {
                return Err(InflateError::AfterEnd);
            }
            let before_in = self.stream.total_in();
            let before_out = self.stream.total_out();
            let room = MAX_PLAINTEXT + 1 - out.len().min(MAX_PLAINTEXT + 1);
            let limit = out.len() + room;
            let status = self
                .stream
                .decompress_vec(input, out, FlushDecompress::Sync)
                .map_err(|e| InflateError::Corrupt(e.to_string()))?;
            out.truncate(limit);
            if out.len() > MAX_PLAINTEXT {
                return Err(InflateError::Bomb);
            }
            // total_in grew by what this call read, at most input.len().
            let used = usize::try_from(self.stream.total_in() - before_in).unwrap_or(usize::MAX);
            input = input.get(used..).unwrap_or_default();
            if status == Status::StreamEnd {
                self.ended = true;
            }
            let progressed = used > 0 || self.stream.total_out() > before_out;
            if input.is_empty() || !progressed {
                break;
            }
        }
        if input.is_empty() {
            Ok(())
        } else {
            Err(InflateError::Corrupt(format!(
                "{} bytes of the fragment left unread",
                input.len()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    /// Compresses each record the way RFC 3749 senders do: one stream, a sync flush per record.
    pub(crate) fn deflate_records(records: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut z = Compress::new(Compression::default(), true);
        records
            .iter()
            .map(|r| {
                let mut out = Vec::with_capacity(r.len() + 64);
                z.compress_vec(r, &mut out, FlushCompress::Sync).unwrap();
                out
            })
            .collect()
    }

    #[test]
    fn records_share_one_context() {
        let text: &[&[u8]] = &[b"<presence/>", b"<presence/>", b"<iq type='get'/>"];
        let frags = deflate_records(text);
        // The second record is a back-reference into the first: the context persisted.
        assert!(frags[1].len() < frags[0].len());
        let mut inf = Inflater::new();
        let mut out = Vec::new();
        for (f, want) in frags.iter().zip(text) {
            inf.inflate(f, &mut out).unwrap();
            assert_eq!(&out, want);
        }
        // A fresh context cannot read the second record alone.
        assert!(Inflater::new().inflate(&frags[1], &mut out).is_err());
    }

    #[test]
    fn a_full_record_inflates_and_one_byte_more_is_a_bomb() {
        let full = vec![b'a'; MAX_PLAINTEXT];
        let mut out = Vec::new();
        let f = deflate_records(&[&full]);
        Inflater::new().inflate(&f[0], &mut out).unwrap();
        assert_eq!(out.len(), MAX_PLAINTEXT);
        let over = vec![b'a'; MAX_PLAINTEXT + 1];
        let f = deflate_records(&[&over]);
        assert!(f[0].len() < 100, "highly compressible");
        let mut inf = Inflater::new();
        assert_eq!(inf.inflate(&f[0], &mut out), Err(InflateError::Bomb));
        assert!(out.is_empty());
        assert_eq!(inf.inflate(&f[0], &mut out), Err(InflateError::OutOfStep));
        // A megabyte of zeros in a few hundred bytes: refused, never held.
        let bomb = deflate_records(&[&vec![0u8; 1 << 20]]);
        let mut out = Vec::new();
        assert_eq!(
            Inflater::new().inflate(&bomb[0], &mut out),
            Err(InflateError::Bomb)
        );
        assert!(out.capacity() <= 2 * MAX_PLAINTEXT);
    }

    #[test]
    fn malformed_fragments_are_named() {
        let mut out = Vec::new();
        assert!(matches!(
            Inflater::new().inflate(b"not zlib at all", &mut out),
            Err(InflateError::Corrupt(_))
        ));
        assert_eq!(
            Inflater::new().inflate(&vec![0u8; MAX_COMPRESSED + 1], &mut out),
            Err(InflateError::TooLong {
                len: MAX_COMPRESSED + 1
            })
        );
        // A finished stream followed by more bytes.
        let mut z = Compress::new(Compression::default(), true);
        let mut f = Vec::with_capacity(64);
        z.compress_vec(b"bye", &mut f, FlushCompress::Finish)
            .unwrap();
        f.extend_from_slice(b"junk");
        assert_eq!(
            Inflater::new().inflate(&f, &mut out),
            Err(InflateError::AfterEnd)
        );
        // Every prefix of a record is either short of input or decodes what is there: never a panic.
        let whole = deflate_records(&[b"<message><body>hello</body></message>"]);
        for cut in 0..whole[0].len() {
            let _ = Inflater::new().inflate(&whole[0][..cut], &mut out);
        }
    }

    #[test]
    fn a_lost_context_is_said_once() {
        let frags = deflate_records(&[b"<a/>", b"<b/>"]);
        let mut inf = Inflater::new();
        let mut out = Vec::new();
        inf.inflate(&frags[0], &mut out).unwrap();
        inf.lose_context();
        assert_eq!(
            inf.inflate(&frags[1], &mut out),
            Err(InflateError::ContextLost)
        );
        assert_eq!(
            inf.inflate(&frags[1], &mut out),
            Err(InflateError::OutOfStep)
        );
    }

    #[test]
    fn methods_are_named() {
        assert_eq!(Method::from_u8(0).name(), None);
        assert_eq!(Method::from_u8(1).name().as_deref(), Some("deflate"));
        assert_eq!(
            Method::from_u8(64).name().as_deref(),
            Some("LZS (method 64)")
        );
        assert_eq!(Method::from_u8(9), Method::Unknown(9));
    }
}
