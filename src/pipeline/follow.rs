//! `xmppcap follow`: the chunks of one TCP stream, as TCP reassembles it or
//! as TLS decrypts it (Wireshark's Follow TCP Stream / Follow TLS Stream).
//!
//! Takes a capture, a `tcp.stream` index and a layer; gives that stream's
//! [`Chunk`]s, in capture order, to a callback (the `report::follow` writer
//! renders them). Never buffers a chunk and never writes anything itself.

use std::path::Path;

use crate::finding::{Finding, Findings};
use crate::pipeline::{analyze, run_tcp, EventSink, Options, PipelineError, TcpConsumer};
use crate::position::{Dir, FrameRef};
use crate::report::event::Event;
use crate::report::follow::Chunk;
use crate::tcp;

/// Which bytes to follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// TCP payload.
    Tcp,
    /// Decrypted TLS application data.
    Tls,
}

/// What following a stream found, besides the chunks given.
#[derive(Debug, Default)]
pub struct Followed {
    /// The stream exists in the capture (with TLS, for [`Layer::Tls`]).
    pub found: bool,
    /// How many streams the capture has, for the error message when not found.
    pub streams_seen: u64,
}

/// Gives the chunks of stream `stream` of `path` to `on_chunk`.
pub fn follow(
    path: &Path,
    stream: u64,
    layer: Layer,
    opts: &Options,
    on_chunk: &mut dyn FnMut(Chunk<'_>),
) -> Result<Followed, PipelineError> {
    if crate::pipeline::har_input::is_har(path) {
        return Err(PipelineError::HarHasNoTcp { command: "follow" });
    }
    let mut follower = Follower {
        stream,
        on_chunk,
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
    Ok(follower.followed)
}

/// Picks one stream's TCP events (or its TLS plaintext and events).
struct Follower<'f> {
    stream: u64,
    on_chunk: &'f mut dyn FnMut(Chunk<'_>),
    followed: Followed,
}

impl Findings for Follower<'_> {
    fn push_finding(&mut self, _finding: Finding) {}
}

impl tcp::Sink for Follower<'_> {
    fn on_tcp(&mut self, event: tcp::Event<'_>) {
        use tcp::Event as E;
        if let E::Opened { stream, .. } = event {
            self.followed.streams_seen = self.followed.streams_seen.max(stream + 1);
        }
        let chunk = match event {
            E::Opened {
                stream,
                client,
                server,
                origin,
                at,
            } if stream == self.stream => {
                self.followed.found = true;
                Chunk::Opened {
                    stream,
                    client,
                    server,
                    at,
                    origin,
                }
            }
            E::Data {
                stream,
                dir,
                at,
                bytes,
                ..
            } if stream == self.stream => Chunk::Data { dir, at, bytes },
            E::Gap {
                stream,
                dir,
                at,
                offset,
                len,
                reason,
            } if stream == self.stream => Chunk::Lost {
                dir,
                at,
                offset,
                len,
                reason,
            },
            E::Fin { stream, dir, at } if stream == self.stream => Chunk::End {
                dir,
                at,
                rst: false,
            },
            E::Rst { stream, dir, at } if stream == self.stream => {
                Chunk::End { dir, at, rst: true }
            }
            _ => return,
        };
        (self.on_chunk)(chunk);
    }
}

impl TcpConsumer for Follower<'_> {}

impl EventSink for Follower<'_> {
    fn emit(&mut self, event: Event) {
        if event.stream == Some(self.stream) {
            (self.on_chunk)(Chunk::Event(&event));
        }
    }

    fn on_plaintext(&mut self, stream: u64, dir: Dir, at: FrameRef, bytes: &[u8]) {
        if stream == self.stream {
            (self.on_chunk)(Chunk::Data { dir, at, bytes });
        }
    }

    fn on_plaintext_gap(&mut self, stream: u64, dir: Dir, at: FrameRef, len: u64, why: &str) {
        if stream == self.stream {
            (self.on_chunk)(Chunk::NotDecrypted { dir, at, len, why });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name)
    }

    /// What each chunk is, with its direction where it has one.
    fn shape(chunk: Chunk<'_>) -> String {
        match chunk {
            Chunk::Opened { stream, .. } => format!("opened {stream}"),
            Chunk::Data { dir, bytes, .. } => format!("data {dir} {}", bytes.len()),
            Chunk::Lost { dir, len, .. } => format!("lost {dir} {len}"),
            Chunk::NotDecrypted { dir, len, .. } => format!("not decrypted {dir} {len}"),
            Chunk::End { dir, rst, .. } => format!("end {dir} rst={rst}"),
            Chunk::Event(e) => format!("event {}", e.kind()),
        }
    }

    #[test]
    fn tcp_chunks_are_the_streams_only_in_capture_order() {
        let mut shapes = Vec::new();
        let followed = follow(
            &fixture("tcp-loss.pcap"),
            0,
            Layer::Tcp,
            &Options::default(),
            &mut |c| shapes.push(shape(c)),
        )
        .unwrap();
        assert!(followed.found);
        assert!(followed.streams_seen >= 1);
        assert_eq!(shapes.first().map(String::as_str), Some("opened 0"));
        assert!(shapes.iter().any(|s| s.starts_with("lost ")), "{shapes:?}");
        assert!(shapes.iter().any(|s| s.starts_with("end ")), "{shapes:?}");
        assert!(!shapes.iter().any(|s| s.starts_with("event")), "{shapes:?}");
    }

    #[test]
    fn tls_chunks_without_keys_are_milestones_and_undecrypted_stretches() {
        let mut shapes = Vec::new();
        let followed = follow(
            &fixture("finesse-wss.pcapng"),
            0,
            Layer::Tls,
            &Options::default(),
            &mut |c| shapes.push(shape(c)),
        )
        .unwrap();
        assert!(followed.found);
        assert!(
            shapes.contains(&"event tls.server_hello".to_owned()),
            "{shapes:?}"
        );
        assert!(
            shapes.iter().any(|s| s.starts_with("not decrypted ")),
            "{shapes:?}"
        );
        assert!(!shapes.iter().any(|s| s.starts_with("data ")), "{shapes:?}");
    }

    #[test]
    fn a_stream_not_in_the_capture_is_not_found() {
        let mut chunks = 0;
        let followed = follow(
            &fixture("tcp-loss.pcap"),
            999,
            Layer::Tcp,
            &Options::default(),
            &mut |_| chunks += 1,
        )
        .unwrap();
        assert!(!followed.found);
        assert_eq!(chunks, 0);
    }
}
