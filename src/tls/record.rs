//! TLS record layer framing (RFC 8446 §5.1, RFC 5246 §6.2) and a bounds-checked
//! byte cursor shared by the handshake parser.
//!
//! Takes raw bytes of one TCP direction; gives record headers and bodies
//! borrowed from the input, or says how many more bytes are needed, or why the
//! bytes cannot be a record. Never allocates, never indexes out of bounds, and
//! never decides anything about encryption: that is the session's job.

use thiserror::Error;

/// Bytes in a TLS record header: type, version, length.
pub(crate) const HEADER_LEN: usize = 5;

/// Result of parsing something that may not have fully arrived yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Parse<T, E> {
    /// Parsed; the value says how many bytes it used where that matters.
    Complete(T),
    /// At least this many bytes in total are needed before trying again.
    NeedMore(usize),
    /// These bytes cannot be what was expected.
    Invalid(E),
}

/// Record content types we accept (RFC 8446 §5.1 plus heartbeat, RFC 6520).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ContentType {
    ChangeCipherSpec,
    Alert,
    Handshake,
    ApplicationData,
    Heartbeat,
    /// An SSLv2-compatible ClientHello (RFC 5246 Appendix E.2): no number on the wire.
    Sslv2ClientHello,
}

impl ContentType {
    pub(crate) fn from_u8(v: u8) -> Option<ContentType> {
        Some(match v {
            20 => ContentType::ChangeCipherSpec,
            21 => ContentType::Alert,
            22 => ContentType::Handshake,
            23 => ContentType::ApplicationData,
            24 => ContentType::Heartbeat,
            _ => return None,
        })
    }

    pub(crate) fn to_u8(self) -> u8 {
        match self {
            ContentType::ChangeCipherSpec => 20,
            ContentType::Alert => 21,
            ContentType::Handshake => 22,
            ContentType::ApplicationData => 23,
            ContentType::Heartbeat => 24,
            ContentType::Sslv2ClientHello => 22,
        }
    }
}

/// A record header as it appeared on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) typ: ContentType,
    /// Legacy record version (0x0301..=0x0304; 0x0300 for SSL 3.0).
    pub(crate) version: u16,
    /// Body length (excluding the header).
    pub(crate) len: usize,
    /// 5, or 2 for an SSLv2-compatible ClientHello.
    pub(crate) header_len: usize,
}

impl Header {
    /// Header plus body.
    pub(crate) fn total_len(&self) -> usize {
        self.header_len + self.len
    }
}

/// Why bytes cannot be a TLS record header.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub(crate) enum RecordError {
    #[error("unknown record content type {0}")]
    ContentType(u8),
    #[error("unknown record version 0x{0:04x}")]
    Version(u16),
    #[error("record length {len} exceeds the limit of {max} bytes")]
    TooLong { len: usize, max: usize },
    #[error("empty {0:?} record")]
    Empty(ContentType),
}

fn version_ok(version: u16) -> bool {
    (0x0300..=0x0304).contains(&version)
}

/// Parses a record header at the start of `bytes`. `allow_sslv2` accepts an
/// SSLv2-compatible ClientHello header (only meaningful as a client's first record).
pub(crate) fn parse_header(
    bytes: &[u8],
    max_len: usize,
    allow_sslv2: bool,
) -> Parse<Header, RecordError> {
    let Some(&first) = bytes.first() else {
        return Parse::NeedMore(HEADER_LEN);
    };
    if allow_sslv2 && first & 0x80 != 0 {
        return match parse_sslv2_header(bytes) {
            Parse::Complete(h) if h.len > max_len => Parse::Invalid(RecordError::TooLong {
                len: h.len,
                max: max_len,
            }),
            other => other,
        };
    }
    let Some(typ) = ContentType::from_u8(first) else {
        return Parse::Invalid(RecordError::ContentType(first));
    };
    let Some(head) = bytes.get(..HEADER_LEN) else {
        // Reject a bad version as soon as its bytes are there.
        if let (Some(&major), Some(&minor)) = (bytes.get(1), bytes.get(2)) {
            let version = u16::from_be_bytes([major, minor]);
            if !version_ok(version) {
                return Parse::Invalid(RecordError::Version(version));
            }
        }
        return Parse::NeedMore(HEADER_LEN);
    };
    let version = u16::from_be_bytes([head[1], head[2]]);
    if !version_ok(version) {
        return Parse::Invalid(RecordError::Version(version));
    }
    let len = usize::from(u16::from_be_bytes([head[3], head[4]]));
    if len > max_len {
        return Parse::Invalid(RecordError::TooLong { len, max: max_len });
    }
    if len == 0 && typ != ContentType::ApplicationData {
        return Parse::Invalid(RecordError::Empty(typ));
    }
    Parse::Complete(Header {
        typ,
        version,
        len,
        header_len: HEADER_LEN,
    })
}

/// SSLv2 record header with the ClientHello message type and a 3.x version.
fn parse_sslv2_header(bytes: &[u8]) -> Parse<Header, RecordError> {
    let Some(head) = bytes.get(..HEADER_LEN) else {
        return Parse::NeedMore(HEADER_LEN);
    };
    let len = usize::from(u16::from_be_bytes([head[0] & 0x7f, head[1]]));
    if head[2] != 1 {
        return Parse::Invalid(RecordError::ContentType(head[0]));
    }
    let version = u16::from_be_bytes([head[3], head[4]]);
    if !version_ok(version) && version != 0x0002 {
        return Parse::Invalid(RecordError::Version(version));
    }
    if len < 3 {
        return Parse::Invalid(RecordError::Empty(ContentType::Sslv2ClientHello));
    }
    Parse::Complete(Header {
        typ: ContentType::Sslv2ClientHello,
        version,
        len,
        header_len: 2,
    })
}

/// A whole record borrowed from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    pub(crate) header: Header,
    pub(crate) body: &'a [u8],
}

/// Parses one whole record at the start of `bytes`.
pub(crate) fn parse_record(
    bytes: &[u8],
    max_len: usize,
    allow_sslv2: bool,
) -> Parse<Record<'_>, RecordError> {
    let header = match parse_header(bytes, max_len, allow_sslv2) {
        Parse::Complete(h) => h,
        Parse::NeedMore(n) => return Parse::NeedMore(n),
        Parse::Invalid(e) => return Parse::Invalid(e),
    };
    match bytes.get(header.header_len..header.total_len()) {
        Some(body) => Parse::Complete(Record { header, body }),
        None => Parse::NeedMore(header.total_len()),
    }
}

/// What the first bytes of a TCP direction look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// A plausible TLS record header (any port).
    Tls,
    /// Certainly not TLS.
    NotTls,
    /// Too few bytes to tell.
    NeedMore,
}

/// Tells TLS from other protocols by content: a record header with a known
/// content type, a 3.x version and a length within the protocol maximum, or an
/// SSLv2-compatible ClientHello header.
pub fn detect(bytes: &[u8]) -> Probe {
    const MAX: usize = (1 << 14) + 2048;
    let allow_sslv2 = bytes.first().is_some_and(|b| b & 0x80 != 0);
    match parse_header(bytes, MAX, allow_sslv2) {
        Parse::Complete(h) if h.len > 0 => Probe::Tls,
        Parse::Complete(_) | Parse::Invalid(_) => Probe::NotTls,
        Parse::NeedMore(_) => Probe::NeedMore,
    }
}

/// Whether `bytes` starts with a header that a resynchronising reader may trust:
/// type 20–24, version 0x0301–0x0304, length within `max_len`.
pub(crate) fn plausible_header(bytes: &[u8], max_len: usize) -> Option<Header> {
    match parse_header(bytes, max_len, false) {
        Parse::Complete(h) if h.version >= 0x0301 && h.len > 0 => Some(h),
        _ => None,
    }
}

/// Not enough bytes for a field.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[error("{field} truncated: need {need} bytes, have {have}")]
pub(crate) struct Truncated {
    pub(crate) field: &'static str,
    pub(crate) need: usize,
    pub(crate) have: usize,
}

/// A cursor over untrusted bytes that never reads past the end
/// (after rustls `msgs/codec.rs` `Reader`).
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], Truncated> {
        let have = self.remaining();
        let end = self.pos.checked_add(n);
        match end.and_then(|end| self.buf.get(self.pos..end)) {
            Some(bytes) => {
                self.pos += n;
                Ok(bytes)
            }
            None => Err(Truncated {
                field,
                need: n,
                have,
            }),
        }
    }

    /// Everything left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        rest
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, Truncated> {
        Ok(self.take(1, field)?[0])
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, Truncated> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u24(&mut self, field: &'static str) -> Result<usize, Truncated> {
        let b = self.take(3, field)?;
        Ok(usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, Truncated> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A vector with a one-byte length prefix.
    pub(crate) fn vec_u8(&mut self, field: &'static str) -> Result<Reader<'a>, Truncated> {
        let n = usize::from(self.u8(field)?);
        Ok(Reader::new(self.take(n, field)?))
    }

    /// A vector with a two-byte length prefix.
    pub(crate) fn vec_u16(&mut self, field: &'static str) -> Result<Reader<'a>, Truncated> {
        let n = usize::from(self.u16(field)?);
        Ok(Reader::new(self.take(n, field)?))
    }

    /// A vector with a three-byte length prefix.
    pub(crate) fn vec_u24(&mut self, field: &'static str) -> Result<Reader<'a>, Truncated> {
        let n = self.u24(field)?;
        Ok(Reader::new(self.take(n, field)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = (1 << 14) + 2048;

    // First record of tls13-rfc8446.pcap frame 1 (ClientHello header, 0x0301, 512 bytes).
    const CH_HEADER: [u8; 5] = [0x16, 0x03, 0x01, 0x02, 0x00];

    #[test]
    fn every_prefix_of_a_record_needs_more() {
        let mut rec = CH_HEADER.to_vec();
        rec.resize(5 + 512, 0xab);
        for cut in 0..rec.len() {
            match parse_record(&rec[..cut], MAX, false) {
                Parse::NeedMore(n) => assert!(n > cut, "cut {cut} asked for {n}"),
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        let Parse::Complete(r) = parse_record(&rec, MAX, false) else {
            panic!("whole record");
        };
        assert_eq!(r.header.typ, ContentType::Handshake);
        assert_eq!(r.header.version, 0x0301);
        assert_eq!(r.body.len(), 512);
    }

    #[test]
    fn coalesced_records_parse_one_at_a_time() {
        let bytes = [
            20, 3, 3, 0, 1, 1, // CCS
            21, 3, 3, 0, 2, 2, 40, // alert
        ];
        let Parse::Complete(a) = parse_record(&bytes, MAX, false) else {
            panic!()
        };
        assert_eq!(a.header.total_len(), 6);
        let Parse::Complete(b) = parse_record(&bytes[6..], MAX, false) else {
            panic!()
        };
        assert_eq!((b.header.typ, b.body), (ContentType::Alert, &[2u8, 40][..]));
    }

    #[test]
    fn bad_content_type_is_named() {
        assert_eq!(
            parse_header(&[0x47, 0x45, 0x54, 0x20, 0x2f], MAX, false),
            Parse::Invalid(RecordError::ContentType(0x47))
        );
        // Known as soon as the first byte is there.
        assert_eq!(
            parse_header(&[0x19], MAX, false),
            Parse::Invalid(RecordError::ContentType(0x19))
        );
    }

    #[test]
    fn bad_version_is_named() {
        assert_eq!(
            parse_header(&[22, 3, 9, 0, 1], MAX, false),
            Parse::Invalid(RecordError::Version(0x0309))
        );
        assert_eq!(
            parse_header(&[22, 2, 0], MAX, false),
            Parse::Invalid(RecordError::Version(0x0200))
        );
    }

    #[test]
    fn over_long_record_is_named() {
        assert_eq!(
            parse_header(&[23, 3, 3, 0xff, 0xff], MAX, false),
            Parse::Invalid(RecordError::TooLong {
                len: 0xffff,
                max: MAX
            })
        );
    }

    #[test]
    fn empty_handshake_record_is_named() {
        assert_eq!(
            parse_header(&[22, 3, 3, 0, 0], MAX, false),
            Parse::Invalid(RecordError::Empty(ContentType::Handshake))
        );
    }

    #[test]
    fn sslv2_client_hello_header() {
        // RFC 5246 E.2: msg_length with the high bit set, msg_type 1, version 3.1.
        let bytes = [0x80, 0x2e, 0x01, 0x03, 0x01];
        let Parse::Complete(h) = parse_header(&bytes, MAX, true) else {
            panic!()
        };
        assert_eq!(
            (h.typ, h.len, h.header_len),
            (ContentType::Sslv2ClientHello, 0x2e, 2)
        );
        assert_eq!(detect(&bytes), Probe::Tls);
        assert_eq!(
            parse_header(&[0x80, 0x2e, 0x04, 3, 1], MAX, true),
            Parse::Invalid(RecordError::ContentType(0x80))
        );
    }

    #[test]
    fn detect_by_content() {
        assert_eq!(detect(&CH_HEADER), Probe::Tls);
        assert_eq!(detect(b"GET / HTTP/1.1\r\n"), Probe::NotTls);
        assert_eq!(detect(b"<?xml version='1.0'?>"), Probe::NotTls);
        assert_eq!(detect(&[22, 3]), Probe::NeedMore);
        assert_eq!(detect(&[]), Probe::NeedMore);
    }

    #[test]
    fn plausible_header_for_resync() {
        assert!(plausible_header(&[23, 3, 3, 0, 40], MAX).is_some());
        assert!(plausible_header(&[23, 3, 0, 0, 40], MAX).is_none());
        assert!(plausible_header(&[23, 3, 3, 0x70, 0], MAX).is_none());
    }

    #[test]
    fn reader_never_reads_past_the_end() {
        let mut r = Reader::new(&[0, 3, 1, 2]);
        assert_eq!(
            r.vec_u16("cipher_suites").unwrap_err(),
            Truncated {
                field: "cipher_suites",
                need: 3,
                have: 2
            }
        );
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u24("length").unwrap(), 0x010203);
        assert!(r.is_empty());
        assert!(r.u8("x").is_err());
        assert!(r.take(usize::MAX, "huge").is_err());
        assert_eq!(r.rest(), &[] as &[u8]);
    }
}
