//! The WebSocket frame header (RFC 6455 §5.2) and payload unmasking.
//!
//! Takes bytes starting at a frame boundary; gives a [`Header`], or how many
//! bytes are needed, or why the bytes cannot be a header. Checking a header
//! against the connection's rules gives [`Violation`]s. Pure: never allocates,
//! never indexes out of bounds, never panics.

use serde::Serialize;

use crate::ws::FindingCode;

/// The longest header: 2 bytes, 8 length bytes, 4 mask bytes.
pub(crate) const MAX_HEADER_LEN: usize = 14;
/// RFC 6455 §5.5: control frames carry at most 125 payload bytes.
pub(crate) const MAX_CONTROL_PAYLOAD: u64 = 125;
/// The RSV1 bit as kept in [`Header::rsv`] (permessage-deflate's "compressed").
pub(crate) const RSV1: u8 = 0b100;

/// A frame opcode (RFC 6455 §5.2, §11.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    /// 3..=7 (data) and 11..=15 (control): reserved, never valid on the wire.
    Reserved(u8),
}

impl Opcode {
    pub(crate) fn from_bits(v: u8) -> Opcode {
        match v & 0x0f {
            0 => Opcode::Continuation,
            1 => Opcode::Text,
            2 => Opcode::Binary,
            8 => Opcode::Close,
            9 => Opcode::Ping,
            10 => Opcode::Pong,
            other => Opcode::Reserved(other),
        }
    }

    /// Control opcodes have the high bit of the nibble set (8..=15).
    pub(crate) fn is_control(self) -> bool {
        match self {
            Opcode::Close | Opcode::Ping | Opcode::Pong => true,
            Opcode::Reserved(v) => v >= 8,
            _ => false,
        }
    }
}

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub fin: bool,
    /// RSV1..RSV3 as the low three bits (RSV1 = 0b100).
    pub rsv: u8,
    pub opcode: Opcode,
    pub mask: Option<[u8; 4]>,
    pub payload_len: u64,
    /// Bytes of the header itself (2..=14).
    pub len: u8,
    /// The length used the shortest encoding (RFC 6455 §5.2 requires it).
    pub minimal_len: bool,
}

impl Header {
    pub(crate) fn header_len(&self) -> usize {
        usize::from(self.len)
    }
}

/// The outcome of [`parse_header`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Parse {
    Complete(Header),
    /// At least this many bytes (counted from the header's start) are needed.
    NeedMore(usize),
    Invalid(HeaderError),
}

/// Bytes that cannot be a frame header at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeaderError {
    #[error("64-bit payload length {len:#018x} has its most significant bit set")]
    LengthMsbSet { len: u64 },
}

/// Parses the header at the start of `bytes`; the payload is not looked at.
pub(crate) fn parse_header(bytes: &[u8]) -> Parse {
    let [b0, b1, rest @ ..] = bytes else {
        return Parse::NeedMore(2);
    };
    let masked = b1 & 0x80 != 0;
    let len7 = b1 & 0x7f;
    let len_bytes: usize = match len7 {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask_bytes = if masked { 4 } else { 0 };
    let header_len = 2 + len_bytes + mask_bytes;
    let Some(rest) = rest.get(..len_bytes + mask_bytes) else {
        return Parse::NeedMore(header_len);
    };
    let (ext, key) = rest.split_at(len_bytes);
    let ext_len = be_uint(ext);
    let (payload_len, minimal_len) = match len_bytes {
        0 => (u64::from(len7), true),
        2 => (ext_len, ext_len >= 126),
        _ => {
            if ext_len >> 63 != 0 {
                return Parse::Invalid(HeaderError::LengthMsbSet { len: ext_len });
            }
            (ext_len, ext_len > 0xffff)
        }
    };
    Parse::Complete(Header {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 0b111,
        opcode: Opcode::from_bits(*b0),
        mask: <[u8; 4]>::try_from(key).ok(),
        payload_len,
        // At most 14: fits.
        len: header_len as u8,
        minimal_len,
    })
}

/// Big-endian unsigned integer of up to 8 bytes.
fn be_uint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

/// What a connection allows in a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rules {
    /// Whether frames in this direction must be masked; `None` while unknown.
    pub masked: Option<bool>,
    /// RSV bits the accepted extensions may set.
    pub rsv_allowed: u8,
    /// permessage-deflate is in use (RSV1 means "compressed").
    pub deflate: bool,
}

/// A header that breaks RFC 6455 or RFC 7692 on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Violation {
    ReservedOpcode(u8),
    NonMinimalLength { len: u64 },
    ControlTooLong { len: u64 },
    ControlFragmented,
    RsvWithoutExtension { bits: u8 },
    Rsv1OnContinuation,
    Rsv1OnControl,
    UnmaskedClientFrame,
    MaskedServerFrame,
}

impl Violation {
    pub(crate) fn code(self) -> FindingCode {
        match self {
            Violation::ReservedOpcode(_) => FindingCode::ReservedOpcode,
            Violation::NonMinimalLength { .. } => FindingCode::NonMinimalLength,
            Violation::ControlTooLong { .. } => FindingCode::ControlTooLong,
            Violation::ControlFragmented => FindingCode::ControlFragmented,
            Violation::RsvWithoutExtension { .. } => FindingCode::RsvWithoutExtension,
            Violation::Rsv1OnContinuation => FindingCode::Rsv1OnContinuation,
            Violation::Rsv1OnControl => FindingCode::Rsv1OnControl,
            Violation::UnmaskedClientFrame => FindingCode::UnmaskedClientFrame,
            Violation::MaskedServerFrame => FindingCode::MaskedServerFrame,
        }
    }

    pub(crate) fn describe(self) -> String {
        match self {
            Violation::ReservedOpcode(v) => format!("frame with reserved opcode {v}"),
            Violation::NonMinimalLength { len } => {
                format!("payload length {len} is not in its shortest encoding")
            }
            Violation::ControlTooLong { len } => {
                format!("control frame carries {len} bytes (at most 125 allowed)")
            }
            Violation::ControlFragmented => "control frame without FIN (fragmented)".into(),
            Violation::RsvWithoutExtension { bits } => {
                format!("RSV bits {bits:03b} set without an extension that uses them")
            }
            Violation::Rsv1OnContinuation => {
                "RSV1 set on a continuation frame (only the first frame of a message may carry it)"
                    .into()
            }
            Violation::Rsv1OnControl => "RSV1 set on a control frame".into(),
            Violation::UnmaskedClientFrame => "client frame is not masked".into(),
            Violation::MaskedServerFrame => "server frame is masked".into(),
        }
    }
}

/// Reports every way `h` breaks `rules` on its own; sequence rules
/// (continuation without start, data after Close) are the connection's.
pub(crate) fn check_header(h: &Header, rules: &Rules, mut report: impl FnMut(Violation)) {
    if let Opcode::Reserved(v) = h.opcode {
        report(Violation::ReservedOpcode(v));
    }
    if !h.minimal_len {
        report(Violation::NonMinimalLength { len: h.payload_len });
    }
    let control = h.opcode.is_control();
    if control && h.payload_len > MAX_CONTROL_PAYLOAD {
        report(Violation::ControlTooLong { len: h.payload_len });
    }
    if control && !h.fin {
        report(Violation::ControlFragmented);
    }
    let unexpected = h.rsv & !rules.rsv_allowed;
    if unexpected != 0 {
        report(Violation::RsvWithoutExtension { bits: unexpected });
    }
    if rules.deflate && h.rsv & RSV1 != 0 {
        if h.opcode == Opcode::Continuation {
            report(Violation::Rsv1OnContinuation);
        } else if control {
            report(Violation::Rsv1OnControl);
        }
    }
    match (rules.masked, h.mask.is_some()) {
        (Some(true), false) => report(Violation::UnmaskedClientFrame),
        (Some(false), true) => report(Violation::MaskedServerFrame),
        _ => {}
    }
}

/// XORs `buf` with `key`, `buf` starting `offset` bytes into the payload.
/// Works a machine word at a time.
pub(crate) fn unmask(buf: &mut [u8], key: [u8; 4], offset: u64) {
    let mut key = key;
    // offset % 4 < 4: the rotation is in range.
    key.rotate_left((offset % 4) as usize);
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    for (b, k) in chunks.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *b ^= k;
    }
}

/// Why a close code may not appear in a Close frame (RFC 6455 §7.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseCodeProblem {
    /// 1005, 1006, 1015: reserved for reporting, never sent.
    ReportingOnly,
    /// Below 1000, unassigned in 1000..=2999, or 5000 and above.
    Invalid,
}

pub(crate) fn close_code_problem(code: u16) -> Option<CloseCodeProblem> {
    match code {
        1005 | 1006 | 1015 => Some(CloseCodeProblem::ReportingOnly),
        // 1012..=1014 are registered with IANA since RFC 6455.
        1000..=1003 | 1007..=1014 | 3000..=4999 => None,
        _ => Some(CloseCodeProblem::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(bytes: &[u8]) -> Header {
        match parse_header(bytes) {
            Parse::Complete(h) => h,
            other => panic!("not complete: {other:?}"),
        }
    }

    fn violations(bytes: &[u8], rules: Rules) -> Vec<Violation> {
        let mut v = Vec::new();
        check_header(&complete(bytes), &rules, |x| v.push(x));
        v
    }

    const SERVER: Rules = Rules {
        masked: Some(false),
        rsv_allowed: 0,
        deflate: false,
    };
    const CLIENT: Rules = Rules {
        masked: Some(true),
        rsv_allowed: 0,
        deflate: false,
    };
    const SERVER_DEFLATE: Rules = Rules {
        masked: Some(false),
        rsv_allowed: RSV1,
        deflate: true,
    };

    // RFC 6455 §5.7 examples.
    const UNMASKED_HELLO: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    const MASKED_HELLO: [u8; 11] = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];

    #[test]
    fn rfc6455_single_frame_unmasked() {
        let h = complete(&UNMASKED_HELLO);
        assert!(h.fin && h.rsv == 0 && h.mask.is_none());
        assert_eq!((h.opcode, h.payload_len, h.len), (Opcode::Text, 5, 2));
        assert!(violations(&UNMASKED_HELLO, SERVER).is_empty());
    }

    #[test]
    fn rfc6455_single_frame_masked() {
        let h = complete(&MASKED_HELLO);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!((h.payload_len, h.len), (5, 6));
        let mut payload = MASKED_HELLO[6..].to_vec();
        unmask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(payload, b"Hello");
        assert!(violations(&MASKED_HELLO, CLIENT).is_empty());
    }

    #[test]
    fn rfc6455_fragmented_and_ping_pong() {
        let first = complete(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
        assert!(!first.fin && first.opcode == Opcode::Text);
        let last = complete(&[0x80, 0x02, 0x6c, 0x6f]);
        assert!(last.fin && last.opcode == Opcode::Continuation);
        let ping = complete(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!((ping.opcode, ping.payload_len), (Opcode::Ping, 5));
        let pong = complete(&[
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ]);
        assert_eq!(pong.opcode, Opcode::Pong);
        assert!(pong.opcode.is_control() && !Opcode::Binary.is_control());
    }

    #[test]
    fn rfc6455_16_and_64_bit_lengths() {
        let h = complete(&[0x82, 0x7e, 0x01, 0x00]);
        assert_eq!((h.opcode, h.payload_len, h.len), (Opcode::Binary, 256, 4));
        assert!(h.minimal_len);
        let h = complete(&[0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
        assert_eq!((h.payload_len, h.len), (65536, 10));
        assert!(h.minimal_len);
        let h = complete(&[0x82, 0xff, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 1, 2, 3, 4]);
        assert_eq!(
            (h.payload_len, h.len, h.mask),
            (65536, 14, Some([1, 2, 3, 4]))
        );
    }

    #[test]
    fn every_prefix_needs_more() {
        let samples: [&[u8]; 4] = [
            &MASKED_HELLO[..6],
            &[0x82, 0x7e, 0x01, 0x00],
            &[0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00],
            &[0x82, 0xff, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 1, 2, 3, 4],
        ];
        for sample in samples {
            for cut in 0..sample.len() {
                match parse_header(&sample[..cut]) {
                    Parse::NeedMore(n) => assert!(n > cut && n <= sample.len()),
                    other => panic!("prefix {cut} of {sample:02x?}: {other:?}"),
                }
            }
            assert!(matches!(parse_header(sample), Parse::Complete(_)));
        }
    }

    #[test]
    fn length_msb_set_is_invalid() {
        let bytes = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            parse_header(&bytes),
            Parse::Invalid(HeaderError::LengthMsbSet {
                len: 0x8000_0000_0000_0001
            })
        );
    }

    #[test]
    fn non_minimal_lengths() {
        assert_eq!(
            violations(&[0x82, 0x7e, 0x00, 0x05], SERVER),
            vec![Violation::NonMinimalLength { len: 5 }]
        );
        assert_eq!(
            violations(&[0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff], SERVER),
            vec![Violation::NonMinimalLength { len: 0xffff }]
        );
    }

    #[test]
    fn reserved_opcodes() {
        for op in [3u8, 7, 11, 15] {
            let h = complete(&[0x80 | op, 0x00]);
            assert_eq!(h.opcode, Opcode::Reserved(op));
            assert_eq!(h.opcode.is_control(), op >= 8);
            assert_eq!(
                violations(&[0x80 | op, 0x00], SERVER),
                vec![Violation::ReservedOpcode(op)]
            );
        }
    }

    #[test]
    fn control_rules() {
        assert_eq!(
            violations(&[0x88, 0x7e, 0x00, 0x7e], SERVER),
            vec![Violation::ControlTooLong { len: 126 }]
        );
        assert_eq!(
            violations(&[0x09, 0x00], SERVER),
            vec![Violation::ControlFragmented]
        );
        assert!(violations(&[0x89, 0x7d], SERVER).is_empty());
    }

    #[test]
    fn rsv_rules() {
        assert_eq!(
            violations(&[0xc1, 0x00], SERVER),
            vec![Violation::RsvWithoutExtension { bits: RSV1 }]
        );
        assert_eq!(
            violations(&[0xb1, 0x00], SERVER_DEFLATE),
            vec![Violation::RsvWithoutExtension { bits: 0b011 }]
        );
        assert!(violations(&[0xc1, 0x00], SERVER_DEFLATE).is_empty());
        assert_eq!(
            violations(&[0xc0, 0x00], SERVER_DEFLATE),
            vec![Violation::Rsv1OnContinuation]
        );
        assert_eq!(
            violations(&[0xc9, 0x00], SERVER_DEFLATE),
            vec![Violation::Rsv1OnControl]
        );
    }

    #[test]
    fn mask_rules() {
        assert_eq!(
            violations(&UNMASKED_HELLO, CLIENT),
            vec![Violation::UnmaskedClientFrame]
        );
        assert_eq!(
            violations(&MASKED_HELLO, SERVER),
            vec![Violation::MaskedServerFrame]
        );
        let unknown = Rules {
            masked: None,
            ..SERVER
        };
        assert!(violations(&MASKED_HELLO, unknown).is_empty());
    }

    #[test]
    fn close_codes() {
        for ok in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1014, 3000, 4999,
        ] {
            assert_eq!(close_code_problem(ok), None, "{ok}");
        }
        for reporting in [1005, 1006, 1015] {
            assert_eq!(
                close_code_problem(reporting),
                Some(CloseCodeProblem::ReportingOnly)
            );
        }
        for bad in [0, 999, 1004, 1016, 2999, 5000, 65535] {
            assert_eq!(
                close_code_problem(bad),
                Some(CloseCodeProblem::Invalid),
                "{bad}"
            );
        }
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(
            Violation::UnmaskedClientFrame.code(),
            "ws.unmasked_client_frame"
        );
        assert!(Violation::ControlTooLong { len: 200 }
            .describe()
            .contains("200"));
    }

    #[test]
    fn unmask_matches_bytewise_at_every_offset_and_length() {
        let key = [0x12, 0x34, 0x56, 0x78];
        let data: Vec<u8> = (0..100u8).collect();
        for offset in 0..8u64 {
            for len in 0..data.len() {
                let mut fast = data[..len].to_vec();
                unmask(&mut fast, key, offset);
                let slow: Vec<u8> = data[..len]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ key[(i + offset as usize) % 4])
                    .collect();
                assert_eq!(fast, slow, "offset {offset} len {len}");
            }
        }
    }
}
