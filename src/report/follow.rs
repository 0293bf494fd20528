//! `xmppcap follow`'s output: one stream's bytes as the pipeline gives them
//! ([`Chunk`]s: data, losses, ends, TLS milestones), written raw or readable.
//!
//! Takes chunks of one stream in capture order; gives, in raw mode, exactly
//! the bytes of the chosen directions (gaps skipped, listed for stderr in
//! [`Gaps`]), otherwise readable blocks per direction with frame numbers,
//! gap markers and credentials redacted. Never buffers more than one
//! readable block ([`BLOCK_LIMIT`] bytes).

use std::io::{self, Write};
use std::net::SocketAddr;

use crate::position::{Dir, FrameRef, Position};
use crate::report::event::{Detail, Event};
use crate::report::text;
use crate::{tcp, tls, ws};

/// One piece of a followed stream, in capture order.
#[derive(Clone, Copy, Debug)]
pub enum Chunk<'a> {
    /// The stream's first packet.
    Opened {
        stream: u64,
        client: SocketAddr,
        server: SocketAddr,
        at: FrameRef,
        origin: tcp::Origin,
    },
    /// Bytes of one direction: TCP payload, or decrypted TLS application data.
    Data {
        dir: Dir,
        at: FrameRef,
        bytes: &'a [u8],
    },
    /// Bytes of one direction missing in the capture.
    Lost {
        dir: Dir,
        at: FrameRef,
        offset: u64,
        len: u64,
        reason: tcp::GapReason,
    },
    /// TLS application data that could not be given: `len` bytes (an upper
    /// bound, the ciphertext length) and why.
    NotDecrypted {
        dir: Dir,
        at: FrameRef,
        len: u64,
        why: &'a str,
    },
    /// A FIN (or, with `rst`, a RST) from the side sending `dir`.
    End { dir: Dir, at: FrameRef, rst: bool },
    /// A report event of the stream (TLS handshake milestones among them).
    Event(&'a Event),
    /// A whole WebSocket message, unmasked and inflated (readable view).
    WsMessage(&'a ws::Message<'a>),
}

/// Gaps in the shown directions, described for stderr: the first
/// [`MAX_GAPS_LISTED`], then a count.
#[derive(Debug, Default)]
pub struct Gaps {
    pub listed: Vec<String>,
    pub not_listed: u64,
}

/// Gaps described one by one for `--raw` on stderr.
pub const MAX_GAPS_LISTED: usize = 1000;

/// Bytes of a readable block kept before it is written anyway.
pub const BLOCK_LIMIT: usize = 64 << 10;

/// How to write a followed stream.
#[derive(Clone, Copy, Debug)]
pub struct FollowStyle<'d> {
    /// The directions whose bytes are shown.
    pub dirs: &'d [Dir],
    /// Exactly the bytes, nothing else (gaps go to [`Gaps`]).
    pub raw: bool,
    /// Redact credentials in the readable view (`--raw` writes exact bytes).
    pub redact: bool,
}

/// Writes one followed stream.
pub struct FollowWriter<'o> {
    out: &'o mut dyn Write,
    style: FollowStyle<'o>,
    /// The readable view's current block, redacted and written when it ends,
    /// so a header split across segments is still recognised.
    block: Vec<u8>,
    /// Direction of the block being written, to print a header when it changes.
    last_dir: Option<Dir>,
    /// The first write error; later output is skipped.
    error: Option<io::Error>,
    gaps: Gaps,
}

impl<'o> FollowWriter<'o> {
    pub fn new(out: &'o mut dyn Write, style: FollowStyle<'o>) -> FollowWriter<'o> {
        FollowWriter {
            out,
            style,
            block: Vec::new(),
            last_dir: None,
            error: None,
            gaps: Gaps::default(),
        }
    }

    /// Writes what `chunk` shows.
    pub fn on_chunk(&mut self, chunk: Chunk<'_>) {
        match chunk {
            Chunk::Opened {
                stream,
                client,
                server,
                at,
                origin,
            } if !self.style.raw => {
                let line = format!(
                    "stream {stream}: {client} → {server}, first {}, {}",
                    at.position(),
                    origin.describe()
                );
                self.write(|o| writeln!(o, "{line}"));
            }
            Chunk::Data { dir, at, bytes } if self.shows(dir) => self.data(dir, at, bytes),
            Chunk::Lost {
                dir,
                at,
                offset,
                len,
                reason,
            } if self.shows(dir) => self.gap(format!(
                "{dir}: {len} bytes missing at offset {offset} ({}), noticed at {}",
                reason.as_str(),
                at.position()
            )),
            Chunk::NotDecrypted { dir, at, len, why } if self.shows(dir) => self.gap(format!(
                "{dir}: {len} bytes not decrypted ({why}), {}",
                at.position()
            )),
            Chunk::End { dir, at, rst } => {
                let what = if rst { "RST" } else { "FIN" };
                self.note(format!("{what} from the {dir} side · {}", at.position()));
            }
            Chunk::WsMessage(message) if !self.style.raw && self.shows(message.dir) => {
                self.ws_message(message);
            }
            Chunk::Event(event) if !self.style.raw && is_tls_milestone(event) => {
                let place = event.position().unwrap_or(Position::Frame(0));
                self.note(format!("{} · {place}", event.summary));
            }
            _ => {}
        }
    }

    /// Writes what is left; gives the gaps for stderr, or the first write error.
    pub fn finish(mut self) -> io::Result<Gaps> {
        self.flush_block();
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.gaps),
        }
    }

    fn shows(&self, dir: Dir) -> bool {
        self.style.dirs.contains(&dir)
    }

    fn write(&mut self, f: impl FnOnce(&mut dyn Write) -> io::Result<()>) {
        if self.error.is_none() {
            if let Err(e) = f(self.out) {
                self.error = Some(e);
            }
        }
    }

    fn data(&mut self, dir: Dir, at: FrameRef, bytes: &[u8]) {
        if self.style.raw {
            self.write(|o| o.write_all(bytes));
            return;
        }
        if self.last_dir != Some(dir) {
            self.flush_block();
            self.last_dir = Some(dir);
            let arrow = if dir == Dir::ClientToServer {
                "client → server"
            } else {
                "server → client"
            };
            self.write(|o| {
                writeln!(
                    o,
                    "\n── {arrow} · {} · {} ──",
                    at.position(),
                    text::clock(at.ts)
                )
            });
        }
        self.block.extend_from_slice(bytes);
        if self.block.len() >= BLOCK_LIMIT {
            self.flush_block();
        }
    }

    /// Writes the readable block, credentials redacted unless asked for.
    fn flush_block(&mut self) {
        if self.block.is_empty() {
            return;
        }
        let mut shown = text::printable(&self.block);
        if self.style.redact {
            shown = crate::http::redact_view(&shown);
        }
        self.block.clear();
        self.write(|o| o.write_all(shown.as_bytes()));
    }

    /// One WebSocket message under its own header: its text (redacted like
    /// every readable block), or its bytes escaped, and what is missing.
    fn ws_message(&mut self, m: &ws::Message<'_>) {
        self.flush_block();
        self.last_dir = None;
        let header = ws_message_header(m);
        self.write(|o| writeln!(o, "\n── {header} ──"));
        // Bytes that were not inflated are compressed data: nothing to read.
        let body = match (m.text, m.not_inflated) {
            (_, Some(_)) => String::new(),
            (Some(text), None) => text::printable(text.as_bytes()),
            (None, None) => text::printable(m.payload),
        };
        let body = if self.style.redact {
            crate::http::redact_view(&body)
        } else {
            body
        };
        let missing = ws_message_missing(m);
        self.write(|o| {
            if !body.is_empty() {
                writeln!(o, "{body}")?;
            }
            match missing {
                Some(line) => writeln!(o, "[{line}]"),
                None => Ok(()),
            }
        });
    }

    /// Missing bytes: a marker in the readable view, a line for stderr in raw mode.
    fn gap(&mut self, what: String) {
        self.flush_block();
        if !self.style.raw {
            self.last_dir = None;
            self.write(|o| writeln!(o, "\n[gap: {what}]"));
        }
        // Each gap was written in place; the list for stderr stays bounded.
        if self.gaps.listed.len() < MAX_GAPS_LISTED {
            self.gaps.listed.push(what);
        } else {
            self.gaps.not_listed += 1;
        }
    }

    fn note(&mut self, line: String) {
        self.flush_block();
        if !self.style.raw {
            self.last_dir = None;
            self.write(|o| writeln!(o, "\n── {line} ──"));
        }
    }
}

/// `client → server · WebSocket text message, 152 bytes (inflated from 98) · frame 12 · 09:00:01.234`.
fn ws_message_header(m: &ws::Message<'_>) -> String {
    let arrow = if m.dir == Dir::ClientToServer {
        "client → server"
    } else {
        "server → client"
    };
    let kind = match m.opcode {
        ws::MessageOpcode::Text => "text",
        ws::MessageOpcode::Binary => "binary",
    };
    let size = match (m.len, m.compressed) {
        (Some(len), true) => format!("{len} bytes (inflated from {})", m.wire_len),
        (Some(len), false) => format!("{len} bytes"),
        (None, true) => format!("{} bytes compressed", m.wire_len),
        (None, false) => format!("{} bytes", m.wire_len),
    };
    format!(
        "{arrow} · WebSocket {kind} message, {size} · {} · {}",
        m.frame.position(),
        text::clock(m.time)
    )
}

/// What the shown payload lacks, if anything, in words.
fn ws_message_missing(m: &ws::Message<'_>) -> Option<String> {
    if let Some(why) = m.not_inflated {
        use ws::NotInflated as N;
        let why = match why {
            N::NoContext => "it refers to compression history from before the capture",
            N::InvalidDeflate => "its deflate data is invalid",
            N::Gap => "part of it is missing from the capture",
            N::Unfinished => "it never ended, and what inflated cannot be told from garbage",
            N::OtherExtension => "RSV1 belongs to an extension other than permessage-deflate",
        };
        return Some(format!("not inflated: {why}"));
    }
    if let Some(known) = m.known_bytes {
        return Some(format!(
            "only {known} of {} bytes known: the rest refers to compression history from before the capture (shown as \\xff)",
            m.payload.len()
        ));
    }
    if let Some(cap) = m.inflate_cap {
        return Some(format!("cut at the inflate limit ({cap} bytes)"));
    }
    m.truncated
        .then(|| "cut: the rest of the message is not in the capture".to_owned())
}

/// The TLS events the readable view marks between blocks.
fn is_tls_milestone(event: &Event) -> bool {
    use tls::EventKind as K;
    matches!(
        &event.detail,
        Detail::Tls { event } if matches!(
            **event,
            K::ServerHello { .. } | K::Alert { .. } | K::DecryptionFailed { .. }
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::Timestamp;

    const C2S: Dir = Dir::ClientToServer;
    const S2C: Dir = Dir::ServerToClient;

    fn at(frame: u64) -> FrameRef {
        FrameRef::new(frame, Timestamp::from_secs_nanos(1_700_000_000, 0))
    }

    fn render(style: FollowStyle<'_>, chunks: &[Chunk<'_>]) -> (String, Gaps) {
        let mut out = Vec::new();
        let mut writer = FollowWriter::new(&mut out, style);
        for chunk in chunks {
            writer.on_chunk(*chunk);
        }
        let gaps = writer.finish().unwrap();
        (String::from_utf8(out).unwrap(), gaps)
    }

    fn readable(dirs: &[Dir]) -> FollowStyle<'_> {
        FollowStyle {
            dirs,
            raw: false,
            redact: true,
        }
    }

    fn raw(dirs: &[Dir]) -> FollowStyle<'_> {
        FollowStyle {
            dirs,
            raw: true,
            redact: false,
        }
    }

    fn lost(dir: Dir, frame: u64) -> Chunk<'static> {
        Chunk::Lost {
            dir,
            at: at(frame),
            offset: 10,
            len: 5,
            reason: tcp::GapReason::Lost,
        }
    }

    #[test]
    fn readable_view_has_a_header_per_direction_change_and_gap_markers() {
        let chunks = [
            Chunk::Data {
                dir: C2S,
                at: at(4),
                bytes: b"GET / HTTP/1.1\r\n",
            },
            Chunk::Data {
                dir: C2S,
                at: at(5),
                bytes: b"Host: x\r\n\r\n",
            },
            lost(S2C, 6),
            Chunk::Data {
                dir: S2C,
                at: at(7),
                bytes: b"HTTP/1.1 200 OK\r\n",
            },
            Chunk::End {
                dir: C2S,
                at: at(8),
                rst: true,
            },
        ];
        let (text, gaps) = render(readable(&Dir::BOTH), &chunks);
        assert_eq!(text.matches("── client → server · frame 4").count(), 1);
        // One block for both chunks: carriage returns dropped, lines kept.
        assert!(text.contains("GET / HTTP/1.1\nHost: x\n\n"), "{text}");
        assert!(text
            .contains("\n[gap: s2c: 5 bytes missing at offset 10 (lost), noticed at frame 6]\n"));
        assert!(text.contains("── server → client · frame 7"));
        assert!(text.contains("── RST from the c2s side · frame 8 ──"));
        assert_eq!(gaps.listed.len(), 1);
    }

    #[test]
    fn readable_view_redacts_credentials_split_across_chunks() {
        let chunks = [
            Chunk::Data {
                dir: C2S,
                at: at(1),
                bytes: b"GET / HTTP/1.1\r\nAuthorization: Basic dXNl",
            },
            Chunk::Data {
                dir: C2S,
                at: at(2),
                bytes: b"cjpwYXNz\r\n\r\n",
            },
        ];
        let (text, _) = render(readable(&Dir::BOTH), &chunks);
        assert!(!text.contains("dXNl"), "{text}");
        let mut shown = readable(&Dir::BOTH);
        shown.redact = false;
        let (text, _) = render(shown, &chunks);
        assert!(text.contains("Basic dXNlcjpwYXNz"), "{text}");
    }

    #[test]
    fn raw_view_is_exactly_the_chosen_directions_bytes() {
        let chunks = [
            Chunk::Data {
                dir: C2S,
                at: at(1),
                bytes: b"\x00\x01client",
            },
            Chunk::Data {
                dir: S2C,
                at: at(2),
                bytes: b"server",
            },
            lost(C2S, 3),
            lost(S2C, 3),
            Chunk::NotDecrypted {
                dir: C2S,
                at: at(4),
                len: 7,
                why: "NoKey",
            },
            Chunk::End {
                dir: S2C,
                at: at(5),
                rst: false,
            },
            Chunk::Data {
                dir: C2S,
                at: at(6),
                bytes: b"!",
            },
        ];
        let (text, gaps) = render(raw(&[C2S]), &chunks);
        assert_eq!(text.as_bytes(), b"\x00\x01client!");
        assert_eq!(
            gaps.listed,
            vec![
                "c2s: 5 bytes missing at offset 10 (lost), noticed at frame 3".to_owned(),
                "c2s: 7 bytes not decrypted (NoKey), frame 4".to_owned(),
            ]
        );
    }

    #[test]
    fn gaps_for_stderr_are_listed_up_to_the_cap_then_counted() {
        let chunks = vec![lost(C2S, 1); MAX_GAPS_LISTED + 3];
        let (text, gaps) = render(raw(&Dir::BOTH), &chunks);
        assert!(text.is_empty());
        assert_eq!(gaps.listed.len(), MAX_GAPS_LISTED);
        assert_eq!(gaps.not_listed, 3);
    }

    #[test]
    fn tls_milestones_are_marked_and_other_events_are_not() {
        let failed = Event::new(
            Some(at(9)),
            "cannot decrypt: no key",
            Detail::Tls {
                event: Box::new(tls::EventKind::DecryptionFailed {
                    reason: "no key".to_owned(),
                }),
            },
        );
        let finished = Event::new(
            Some(at(10)),
            "Finished",
            Detail::Tls {
                event: Box::new(tls::EventKind::Finished),
            },
        );
        let chunks = [Chunk::Event(&failed), Chunk::Event(&finished)];
        let (text, _) = render(readable(&Dir::BOTH), &chunks);
        assert_eq!(text, "\n── cannot decrypt: no key · frame 9 ──\n");
        let (text, _) = render(raw(&Dir::BOTH), &chunks);
        assert!(text.is_empty());
    }

    #[test]
    fn a_long_block_is_written_in_pieces_of_the_block_limit() {
        let big = vec![b'a'; BLOCK_LIMIT * 2 + 1];
        let chunk = Chunk::Data {
            dir: S2C,
            at: at(1),
            bytes: &big,
        };
        let (text, _) = render(readable(&Dir::BOTH), &[chunk]);
        let (header, body) = text.split_once("──\n").unwrap();
        assert!(header.contains("server → client · frame 1"), "{header}");
        assert_eq!(body.as_bytes(), big.as_slice());
    }

    /// A writer that refuses every byte.
    struct Refusing;

    impl Write for Refusing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_first_write_error_is_given_at_the_end() {
        let mut out = Refusing;
        let mut writer = FollowWriter::new(&mut out, raw(&Dir::BOTH));
        for frame in 1..4 {
            writer.on_chunk(Chunk::Data {
                dir: C2S,
                at: at(frame),
                bytes: b"x",
            });
        }
        let error = writer.finish().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
    }
}
