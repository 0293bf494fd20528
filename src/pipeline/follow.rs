//! `xmppcap follow`: the reassembled bytes of one TCP stream, like
//! Wireshark's Follow TCP Stream.
//!
//! Takes a capture, a `tcp.stream` index and the directions to show; writes
//! the bytes as they are reassembled (streaming, nothing buffered beyond one
//! segment). In raw mode exactly the payload bytes of the chosen directions,
//! gaps skipped and returned for stderr; otherwise readable blocks per
//! direction with frame numbers and gap markers.

use std::io::{self, Write};
use std::path::Path;

use crate::common::{Dir, FrameRef};
use crate::finding::{Finding, Findings};
use crate::pipeline::{run_tcp, Options, PipelineError, TcpConsumer};
use crate::report::text;
use crate::tcp;

/// What following a stream found, besides the bytes written.
#[derive(Debug, Default)]
pub struct Followed {
    /// The stream exists in the capture.
    pub found: bool,
    /// How many streams the capture has, for the error message when not found.
    pub streams_seen: u64,
    /// Gaps in the shown directions, described for stderr.
    pub gaps: Vec<String>,
}

/// Writes stream `stream` of `path` to `out`.
pub fn follow(
    path: &Path,
    stream: u64,
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
        last_dir: None,
        error: None,
        followed: Followed::default(),
    };
    run_tcp(path, opts, &mut follower)?;
    if let Some(e) = follower.error {
        return Err(PipelineError::Output(e));
    }
    Ok(follower.followed)
}

struct Follower<'o> {
    stream: u64,
    dirs: &'o [Dir],
    out: &'o mut dyn Write,
    raw: bool,
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

    fn block_header(&mut self, dir: Dir, at: FrameRef) {
        if self.raw || self.last_dir == Some(dir) {
            return;
        }
        self.last_dir = Some(dir);
        let arrow = match dir {
            Dir::ClientToServer => "client → server",
            Dir::ServerToClient => "server → client",
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
}

impl Findings for Follower<'_> {
    fn push_finding(&mut self, _finding: Finding) {}
}

impl tcp::Sink for Follower<'_> {
    fn on_tcp(&mut self, event: tcp::Event<'_>) {
        use tcp::Event;
        match event {
            Event::Opened {
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
                        self.write(|o| {
                            writeln!(
                                o,
                                "stream {stream}: {client} → {server}, first frame {}, {}",
                                at.frame,
                                origin.describe()
                            )
                        });
                    }
                }
            }
            Event::Data {
                stream,
                dir,
                at,
                bytes,
                ..
            } if stream == self.stream && self.dirs.contains(&dir) => {
                self.block_header(dir, at);
                if self.raw {
                    self.write(|o| o.write_all(bytes));
                } else {
                    let shown = text::printable(bytes);
                    self.write(|o| o.write_all(shown.as_bytes()));
                }
            }
            Event::Gap {
                stream,
                dir,
                at,
                offset,
                len,
                reason,
            } if stream == self.stream && self.dirs.contains(&dir) => {
                let what = format!(
                    "{dir}: {len} bytes missing at offset {offset} ({}), noticed at frame {}",
                    reason.as_str(),
                    at.frame
                );
                if !self.raw {
                    self.last_dir = None;
                    self.write(|o| writeln!(o, "\n[gap: {what}]"));
                }
                self.followed.gaps.push(what);
            }
            Event::Fin { stream, dir, at } | Event::Rst { stream, dir, at }
                if stream == self.stream && !self.raw =>
            {
                let what = if matches!(event, Event::Fin { .. }) {
                    "FIN"
                } else {
                    "RST"
                };
                self.last_dir = None;
                self.write(|o| {
                    writeln!(o, "\n── {what} from the {dir} side · frame {} ──", at.frame)
                });
            }
            _ => {}
        }
    }
}

impl TcpConsumer for Follower<'_> {}
