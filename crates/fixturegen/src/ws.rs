//! Our own WebSocket encoder (RFC 6455 + RFC 7692): the HTTP/1.1 upgrade
//! with a correct `Sec-WebSocket-Accept`, frames with 7/16/64-bit lengths,
//! seeded masking keys on the client side, fragmentation with
//! continuation frames and control frames between fragments, and
//! permessage-deflate (raw deflate, window bits 9..=15, with or without
//! context takeover, RSV1 on the first frame only, trailing `00 00 ff ff`
//! stripped).
//!
//! Takes messages; gives wire bytes and the [`WsTruth`] a decoder must
//! recover. Never decodes anything.

use base64::Engine;
use fastrand::Rng;
use flate2::{Compress, Compression, FlushCompress};
use sha1::{Digest, Sha1};

use super::truth::WsTruth;
use crate::Dir;

/// Continuation frame.
pub const CONTINUATION: u8 = 0;
/// Text frame.
pub const TEXT: u8 = 1;
/// Binary frame.
pub const BINARY: u8 = 2;
/// Close frame.
pub const CLOSE: u8 = 8;
/// Ping frame.
pub const PING: u8 = 9;
/// Pong frame.
pub const PONG: u8 = 10;

fn opcode_name(op: u8) -> &'static str {
    match op {
        TEXT => "text",
        BINARY => "binary",
        CLOSE => "close",
        PING => "ping",
        PONG => "pong",
        _ => "continuation",
    }
}

/// `base64(SHA-1(key + GUID))`.
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// A browser's upgrade request for XMPP over WebSocket.
pub fn upgrade_request(host: &str, path: &str, key: &str, deflate: bool) -> Vec<u8> {
    let ext = if deflate {
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    } else {
        ""
    };
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nPragma: no-cache\r\n\
         Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\n\
         Upgrade: websocket\r\nOrigin: https://{host}\r\nSec-WebSocket-Version: 13\r\n\
         Accept-Encoding: gzip, deflate, br\r\nSec-WebSocket-Key: {key}\r\n{ext}\
         Sec-WebSocket-Protocol: xmpp\r\n\r\n"
    )
    .into_bytes()
}

/// The server's 101 answer; `extensions` is the negotiated
/// permessage-deflate line, if any.
pub fn upgrade_response(key: &str, extensions: Option<&str>) -> Vec<u8> {
    let ext = extensions
        .map(|e| format!("Sec-WebSocket-Extensions: {e}\r\n"))
        .unwrap_or_default();
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nDate: Mon, 02 Mar 2026 09:00:00 GMT\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n{ext}Sec-WebSocket-Protocol: xmpp\r\n\
         Upgrade: WebSocket\r\n\r\n",
        accept_key(key)
    )
    .into_bytes()
}

/// One direction's permessage-deflate compressor.
pub struct Deflater {
    comp: Compress,
    takeover: bool,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("takeover", &self.takeover)
            .finish()
    }
}

impl Deflater {
    /// Raw deflate with a `bits`-bit window (clamped to 9..=15).
    pub fn new(bits: u8, takeover: bool) -> Deflater {
        Deflater {
            comp: Compress::new_with_window_bits(Compression::default(), false, bits.clamp(9, 15)),
            takeover,
        }
    }

    /// Compresses one message: sync flush, `00 00 ff ff` removed.
    pub fn compress(&mut self, msg: &[u8]) -> Vec<u8> {
        if !self.takeover {
            self.comp.reset();
        }
        let start = self.comp.total_in();
        let mut out = Vec::with_capacity(msg.len() / 2 + 64);
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(256));
            }
            let used = (self.comp.total_in() - start) as usize;
            let input = msg.get(used..).unwrap_or(&[]);
            // Compressing into memory cannot fail but for a bad stream state,
            // which we never create; stop rather than loop forever.
            if self
                .comp
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .is_err()
            {
                break;
            }
            let done = (self.comp.total_in() - start) as usize == msg.len();
            if done && out.len() < out.capacity() {
                break;
            }
        }
        if out.ends_with(&[0, 0, 0xff, 0xff]) {
            out.truncate(out.len() - 4);
        }
        out
    }
}

/// Encodes one frame.
pub fn frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(u8::from(fin) << 7 | u8::from(rsv1) << 6 | (opcode & 0x0f));
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(m | n as u8),
        n if n <= 0xffff => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(m | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// How one message is sent.
#[derive(Clone, Debug, Default)]
pub struct MsgOpts {
    /// Number of frames (1 = unfragmented).
    pub fragments: usize,
    /// A ping (with this payload) between the first and second fragment.
    pub ping_between: Option<Vec<u8>>,
    /// Compress (only if the sender has a deflater).
    pub compress: bool,
}

/// One side's frame writer.
#[derive(Debug)]
pub struct WsSender {
    dir: Dir,
    rng: Rng,
    deflate: Option<Deflater>,
}

impl WsSender {
    /// The client masks its frames, the server does not.
    pub fn new(dir: Dir, seed: u64, deflate: Option<Deflater>) -> WsSender {
        WsSender {
            dir,
            rng: Rng::with_seed(seed),
            deflate,
        }
    }

    fn mask(&mut self) -> Option<[u8; 4]> {
        (self.dir == Dir::ClientToServer).then(|| self.rng.u32(..).to_be_bytes())
    }

    /// Encodes a data message; returns its bytes and the truth entries
    /// (the ping between fragments first, as a decoder completes it first).
    pub fn message(
        &mut self,
        opcode: u8,
        payload: &[u8],
        opts: &MsgOpts,
    ) -> (Vec<u8>, Vec<WsTruth>) {
        let compressed = opts.compress && self.deflate.is_some();
        let body = match (&mut self.deflate, compressed) {
            (Some(d), true) => d.compress(payload),
            _ => payload.to_vec(),
        };
        let n = opts.fragments.max(1);
        let size = body.len().div_ceil(n).max(1);
        let mut parts: Vec<&[u8]> = body.chunks(size).collect();
        parts.resize(n.max(parts.len()), &[]);
        let mut out = Vec::with_capacity(body.len() + 16 * n);
        let mut truth = Vec::new();
        let last = parts.len() - 1;
        for (i, part) in parts.iter().enumerate() {
            let op = if i == 0 { opcode } else { CONTINUATION };
            let mask = self.mask();
            out.extend(frame(i == last, compressed && i == 0, op, part, mask));
            if let (0, Some(ping)) = (i, &opts.ping_between) {
                if last > 0 {
                    let (bytes, t) = self.control(PING, ping);
                    out.extend(bytes);
                    truth.push(t);
                }
            }
        }
        truth.push(self.truth(opcode, compressed, payload.to_vec(), None));
        (out, truth)
    }

    /// A text message in one frame, compressed if the sender can.
    pub fn text(&mut self, text: &str) -> (Vec<u8>, Vec<WsTruth>) {
        let opts = MsgOpts {
            fragments: 1,
            ping_between: None,
            compress: true,
        };
        self.message(TEXT, text.as_bytes(), &opts)
    }

    /// A control frame (ping, pong).
    pub fn control(&mut self, opcode: u8, payload: &[u8]) -> (Vec<u8>, WsTruth) {
        let mask = self.mask();
        let bytes = frame(true, false, opcode, payload, mask);
        (bytes, self.truth(opcode, false, payload.to_vec(), None))
    }

    /// A close frame with a status code and reason.
    pub fn close(&mut self, code: u16, reason: &str) -> (Vec<u8>, WsTruth) {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        let mask = self.mask();
        let bytes = frame(true, false, CLOSE, &payload, mask);
        let t = self.truth(CLOSE, false, reason.as_bytes().to_vec(), Some(code));
        (bytes, t)
    }

    fn truth(&self, op: u8, compressed: bool, payload: Vec<u8>, code: Option<u16>) -> WsTruth {
        WsTruth {
            dir: self.dir,
            opcode: opcode_name(op),
            compressed,
            payload,
            close_code: code,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Decompress, FlushDecompress};

    #[test]
    fn rfc6455_accept_key() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn rfc7692_hello_vectors() {
        let mut d = Deflater::new(15, true);
        assert_eq!(
            d.compress(b"Hello"),
            [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
        assert_eq!(d.compress(b"Hello"), [0xf2, 0x00, 0x11, 0x00, 0x00]);
        let mut fresh = Deflater::new(15, false);
        fresh.compress(b"Hello");
        assert_eq!(
            fresh.compress(b"Hello"),
            [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
    }

    fn inflate(stream: &mut Decompress, data: &[u8]) -> Vec<u8> {
        let mut input = data.to_vec();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut out = Vec::with_capacity(1 << 16);
        stream
            .decompress_vec(&input, &mut out, FlushDecompress::Sync)
            .unwrap();
        out
    }

    #[test]
    fn every_window_size_inflates_with_context() {
        for bits in 9..=15u8 {
            let mut d = Deflater::new(bits, true);
            let mut inf = Decompress::new(false);
            for i in 0..5 {
                let msg = format!("<message id='{i}'>{}</message>", "agent ready ".repeat(200));
                assert_eq!(
                    inflate(&mut inf, &d.compress(msg.as_bytes())),
                    msg.as_bytes()
                );
            }
        }
    }

    #[test]
    fn frames_have_the_right_headers() {
        assert_eq!(frame(true, false, TEXT, b"Hi", None), [0x81, 2, b'H', b'i']);
        let f = frame(true, true, TEXT, &[0u8; 200], Some([1, 2, 3, 4]));
        assert_eq!(&f[..8], &[0xc1, 0xfe, 0, 200, 1, 2, 3, 4]);
        let f = frame(false, false, BINARY, &[0u8; 70_000], None);
        assert_eq!(&f[..10], &[0x02, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    }

    #[test]
    fn fragmented_compressed_message_sets_rsv1_once() {
        let mut s = WsSender::new(Dir::ServerToClient, 1, Some(Deflater::new(15, true)));
        let opts = MsgOpts {
            fragments: 3,
            ping_between: Some(b"p".to_vec()),
            compress: true,
        };
        let (bytes, truth) = s.message(TEXT, "x".repeat(500).as_bytes(), &opts);
        assert_eq!(bytes[0], 0x41, "first fragment: RSV1, text, not FIN");
        assert_eq!(truth.len(), 2);
        assert_eq!(truth[0].opcode, "ping");
        assert!(truth[1].compressed);
    }
}
