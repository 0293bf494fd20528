//! `xmppcap follow`: the reassembled bytes of one TCP stream (like
//! Wireshark's Follow TCP Stream) or its decrypted TLS application data
//! (Follow TLS Stream).
//!
//! Takes a capture, a `tcp.stream` index, a layer and the directions to
//! show; writes the bytes as they are reassembled or decrypted (streaming,
//! nothing buffered beyond one segment or record). In raw mode exactly the
//! bytes of the chosen directions, gaps skipped and returned for stderr;
//! otherwise readable blocks per direction with frame numbers and gap markers.

use std::io::{self, Write};
use std::path::Path;

use crate::finding::{Finding, Findings};
use crate::pipeline::{analyze, run_tcp, EventSink, Options, PipelineError, TcpConsumer};
use crate::position::{Dir, FrameRef};
use crate::report::event::Event;
use crate::report::text;
use crate::tcp;

/// Which bytes to follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// TCP payload.
    Tcp,
    /// Decrypted TLS application data.
    Tls,
}

/// What following a stream found, besides the bytes written.
#[derive(Debug, Default)]
pub struct Followed {
    /// The stream exists in the capture.
    pub found: bool,
    /// How many streams the capture has, for the error message when not found.
    pub streams_seen: u64,
    /// Gaps in the shown directions (lost or undecryptable bytes), described for
    /// stderr: the first [`MAX_GAPS_LISTED`], then a count.
    pub gaps: Vec<String>,
    pub gaps_not_listed: u64,
}

/// Gaps described one by one for `--raw` on stderr.
pub const MAX_GAPS_LISTED: usize = 1000;

/// Writes stream `stream` of `path` to `out`.
pub fn follow(
    path: &Path,
    stream: u64,
    layer: Layer,
    opts: &Options,
    dirs: &[Dir],
    out: &mut dyn Write,
    raw: bool,
) -> Result<Followed, PipelineError> {
    let mut follower = Follower {
        stream,
        dirs,
        out,
        raw,
        redact: !opts.show_secrets,
        block: Vec::new(),
        last_dir: None,
        error: None,
        followed: Followed::default(),
    };
    match layer {
        Layer::Tcp => {
            run_tcp(path, opts, &mut follower)?;
        }
        Layer::Tls => {
            let analyzed = analyze(path, opts, &mut follower)?;
            follower.followed.streams_seen = analyzed.connections_seen;
            follower.followed.found = analyzed
                .connections
                .iter()
                .any(|c| c.stream == stream && c.tls.is_some());
        }
    }
    follower.flush_block();
    if let Some(e) = follower.error {
        return Err(PipelineError::Output(e));
    }
    Ok(follower.followed)
}

/// Bytes of a readable block kept before it is written anyway.
const BLOCK_LIMIT: usize = 64 << 10;

struct Follower<'o> {
    stream: u64,
    dirs: &'o [Dir],
    out: &'o mut dyn Write,
    raw: bool,
    /// Redact credentials in the readable view (`--raw` writes exact bytes).
    redact: bool,
    /// The readable view's current block, redacted and written when it ends,
    /// so a header split across segments is still recognised.
    block: Vec<u8>,
    /// Direction of the block being written, to print a header when it changes.
    last_dir: Option<Dir>,
    /// The first write error; later output is skipped.
    error: Option<io::Error>,
    followed: Followed,
}

impl Follower<'_> {
    fn write(&mut self, f: impl FnOnce(&mut dyn Write) -> io::Result<()>) {
        if self.error.is_none() {
            if let Err(e) = f(self.out) {
                self.error = Some(e);
            }
        }
    }

    fn shows(&self, stream: u64, dir: Dir) -> bool {
        stream == self.stream && self.dirs.contains(&dir)
    }

    fn data(&mut self, dir: Dir, at: FrameRef, bytes: &[u8]) {
        if self.raw {
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
                    "\n── {arrow} · frame {} · {} ──",
                    at.frame,
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
        if self.redact {
            shown = crate::http::redact_view(&shown);
        }
        self.block.clear();
        self.write(|o| o.write_all(shown.as_bytes()));
    }

    /// Missing bytes: a marker in the readable view, a line for stderr in raw mode.
    fn gap(&mut self, what: String) {
        self.flush_block();
        if !self.raw {
            self.last_dir = None;
            self.write(|o| writeln!(o, "\n[gap: {what}]"));
        }
        // Each gap was written in place; the list for stderr stays bounded.
        if self.followed.gaps.len() < MAX_GAPS_LISTED {
            self.followed.gaps.push(what);
        } else {
            self.followed.gaps_not_listed += 1;
        }
    }

    fn note(&mut self, line: String) {
        self.flush_block();
        if !self.raw {
            self.last_dir = None;
            self.write(|o| writeln!(o, "\n── {line} ──"));
        }
    }
}

impl Findings for Follower<'_> {
    fn push_finding(&mut self, _finding: Finding) {}
}

impl tcp::Sink for Follower<'_> {
    fn on_tcp(&mut self, event: tcp::Event<'_>) {
        use tcp::Event as E;
        match event {
            E::Opened {
                stream,
                client,
                server,
                origin,
                at,
            } => {
                self.followed.streams_seen = self.followed.streams_seen.max(stream + 1);
                if stream == self.stream {
                    self.followed.found = true;
                    if !self.raw {
                        let line = format!(
                            "stream {stream}: {client} → {server}, first frame {}, {}",
                            at.frame,
                            origin.describe()
                        );
                        self.write(|o| writeln!(o, "{line}"));
                    }
                }
            }
            E::Data {
                stream,
                dir,
                at,
                bytes,
                ..
            } if self.shows(stream, dir) => self.data(dir, at, bytes),
            E::Gap {
                stream,
                dir,
                at,
                offset,
                len,
                reason,
            } if self.shows(stream, dir) => {
                self.gap(format!(
                    "{dir}: {len} bytes missing at offset {offset} ({}), noticed at frame {}",
                    reason.as_str(),
                    at.frame
                ));
            }
            E::Fin { stream, dir, at } if stream == self.stream => {
                self.note(format!("FIN from the {dir} side · frame {}", at.frame))
            }
            E::Rst { stream, dir, at } if stream == self.stream => {
                self.note(format!("RST from the {dir} side · frame {}", at.frame))
            }
            _ => {}
        }
    }
}

impl TcpConsumer for Follower<'_> {}

impl EventSink for Follower<'_> {
    fn emit(&mut self, event: Event) {
        if event.stream != Some(self.stream) || self.raw {
            return;
        }
        if event.kind == "tls.server_hello"
            || event.kind == "tls.alert"
            || event.kind == "tls.decryption_failed"
        {
            self.note(format!(
                "{} · frame {}",
                event.summary,
                event.frame.unwrap_or(0)
            ));
        }
    }

    fn on_plaintext(&mut self, stream: u64, dir: Dir, at: FrameRef, bytes: &[u8]) {
        if self.shows(stream, dir) {
            self.data(dir, at, bytes);
        }
    }

    fn on_plaintext_gap(&mut self, stream: u64, dir: Dir, at: FrameRef, len: u64, why: &str) {
        if self.shows(stream, dir) {
            self.gap(format!(
                "{dir}: {len} bytes not decrypted ({why}), frame {}",
                at.frame
            ));
        }
    }
}
