//! `xmppcap follow`: the chunks of one TCP stream, as TCP reassembles it or
//! as TLS decrypts it (Wireshark's Follow TCP Stream / Follow TLS Stream).
//!
//! Takes a capture, a `tcp.stream` index, a layer and a view; gives that
//! stream's [`Chunk`]s, in capture order, to a callback (the
//! `report::follow` writer renders them). The raw view gives exactly the
//! layer's bytes. The readable view, like Wireshark's Follow of a WebSocket,
//! gives the bytes up to the switch to WebSocket framing and then the
//! messages (unmasked and inflated) instead of the frames, so a client's
//! masked frames never reach the screen beside their mask key. Holds at
//! most one data chunk (to cut it where WebSocket framing began) and never
//! writes anything itself.

use std::path::Path;

use crate::finding::{Finding, Findings};
use crate::pipeline::{analyze, run_tcp, EventSink, Options, PipelineError, TcpConsumer};
use crate::position::{Dir, FrameRef};
use crate::report::event::Event;
use crate::report::follow::Chunk;
use crate::report::sink::WebSocketStart;
use crate::{tcp, ws};

/// Which bytes to follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// TCP payload.
    Tcp,
    /// Decrypted TLS application data.
    Tls,
}

/// How the followed bytes will be shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Exactly the layer's bytes (WebSocket frames as sent, masked).
    Raw,
    /// WebSocket messages instead of their frames, once framing began.
    Readable,
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
    view: View,
    opts: &Options,
    on_chunk: &mut dyn FnMut(Chunk<'_>),
) -> Result<Followed, PipelineError> {
    if crate::pipeline::har_input::is_har(path) {
        return Err(PipelineError::HarHasNoTcp { command: "follow" });
    }
    let mut follower = Follower {
        stream,
        layer,
        view,
        on_chunk,
        followed: Followed::default(),
        next_offset: [0; 2],
        websocket: None,
        held: None,
    };
    if layer == Layer::Tcp && view == View::Raw {
        run_tcp(path, opts, &mut follower)?;
        return Ok(follower.followed);
    }
    let analyzed = analyze(path, opts, &mut follower)?;
    follower.release_held();
    follower.followed.streams_seen = analyzed.connections_seen;
    if layer == Layer::Tls {
        follower.followed.found = analyzed
            .connections
            .iter()
            .any(|c| c.stream == stream && c.tls.is_some());
    }
    Ok(follower.followed)
}

/// A data chunk kept until the next callback says whether WebSocket
/// framing began inside it.
struct HeldData {
    dir: Dir,
    at: FrameRef,
    offset: u64,
    bytes: Vec<u8>,
}

/// Picks one stream's TCP events (or its TLS plaintext and events).
struct Follower<'f> {
    stream: u64,
    layer: Layer,
    view: View,
    on_chunk: &'f mut dyn FnMut(Chunk<'_>),
    followed: Followed,
    /// Per direction, the offset of the next plaintext byte (the TLS layer
    /// counts what it is given; TCP events carry their offsets).
    next_offset: [u64; 2],
    /// Where WebSocket framing began on the followed layer (readable view).
    websocket: Option<WebSocketStart>,
    held: Option<HeldData>,
}

impl Follower<'_> {
    /// The TCP events of the followed stream as chunks (the TCP layer).
    fn tcp_event(&mut self, event: &tcp::Event<'_>) {
        use tcp::Event as E;
        if let E::Opened { stream, .. } = *event {
            self.followed.streams_seen = self.followed.streams_seen.max(stream + 1);
        }
        if event_stream(event) != self.stream {
            return;
        }
        if let E::Data {
            dir,
            at,
            offset,
            bytes,
            ..
        } = *event
        {
            self.data(dir, at, offset, bytes);
            return;
        }
        self.release_held();
        let chunk = match *event {
            E::Opened {
                stream,
                client,
                server,
                origin,
                at,
            } => {
                self.followed.found = true;
                Chunk::Opened {
                    stream,
                    client,
                    server,
                    at,
                    origin,
                }
            }
            E::Gap {
                dir,
                at,
                offset,
                len,
                reason,
                ..
            } => Chunk::Lost {
                dir,
                at,
                offset,
                len,
                reason,
            },
            E::Fin { dir, at, .. } => Chunk::End {
                dir,
                at,
                rst: false,
            },
            E::Rst { dir, at, .. } => Chunk::End { dir, at, rst: true },
            E::Data { .. } | E::Closed { .. } => return,
        };
        (self.on_chunk)(chunk);
    }

    /// Bytes of `dir` at `offset`: given at once in the raw view; in the
    /// readable view held until the next callback, and cut where WebSocket
    /// framing began.
    fn data(&mut self, dir: Dir, at: FrameRef, offset: u64, bytes: &[u8]) {
        if self.view == View::Raw {
            (self.on_chunk)(Chunk::Data { dir, at, bytes });
            return;
        }
        self.release_held();
        self.held = Some(HeldData {
            dir,
            at,
            offset,
            bytes: bytes.to_vec(),
        });
    }

    /// Gives the held chunk, without the bytes past the start of WebSocket
    /// framing (its messages are given instead).
    fn release_held(&mut self) {
        let Some(held) = self.held.take() else {
            return;
        };
        let shown = match self.websocket {
            Some(start) => {
                let before = start.offset(held.dir).saturating_sub(held.offset);
                let keep = usize::try_from(before).unwrap_or(usize::MAX);
                held.bytes.get(..keep).unwrap_or(&held.bytes)
            }
            None => &held.bytes[..],
        };
        if !shown.is_empty() {
            (self.on_chunk)(Chunk::Data {
                dir: held.dir,
                at: held.at,
                bytes: shown,
            });
        }
    }

    /// WebSocket framing concerns the followed layer: decrypted data for a
    /// WebSocket over TLS, TCP payload for a plain one.
    fn websocket_on_this_layer(&self, start: &WebSocketStart) -> bool {
        start.over_tls == (self.layer == Layer::Tls)
    }
}

fn event_stream(event: &tcp::Event<'_>) -> u64 {
    use tcp::Event as E;
    match *event {
        E::Opened { stream, .. }
        | E::Data { stream, .. }
        | E::Gap { stream, .. }
        | E::Fin { stream, .. }
        | E::Rst { stream, .. }
        | E::Closed { stream, .. } => stream,
    }
}

impl Findings for Follower<'_> {
    fn push_finding(&mut self, _finding: Finding) {}
}

impl tcp::Sink for Follower<'_> {
    fn on_tcp(&mut self, event: tcp::Event<'_>) {
        self.tcp_event(&event);
    }
}

impl TcpConsumer for Follower<'_> {}

impl EventSink for Follower<'_> {
    fn follows_bytes(&self) -> bool {
        true
    }

    fn emit(&mut self, event: Event) {
        if self.layer == Layer::Tls && event.stream == Some(self.stream) {
            self.release_held();
            (self.on_chunk)(Chunk::Event(&event));
        }
    }

    fn on_tcp(&mut self, event: &tcp::Event<'_>) {
        if self.layer == Layer::Tcp {
            self.tcp_event(event);
        }
    }

    fn on_plaintext(&mut self, stream: u64, dir: Dir, at: FrameRef, bytes: &[u8]) {
        if stream == self.stream && self.layer == Layer::Tls {
            let next = &mut self.next_offset[dir.index()];
            let offset = *next;
            *next = next.saturating_add(bytes.len() as u64);
            self.data(dir, at, offset, bytes);
        }
    }

    fn on_plaintext_gap(&mut self, stream: u64, dir: Dir, at: FrameRef, len: u64, why: &str) {
        if stream == self.stream && self.layer == Layer::Tls {
            let next = &mut self.next_offset[dir.index()];
            *next = next.saturating_add(len);
            self.release_held();
            (self.on_chunk)(Chunk::NotDecrypted { dir, at, len, why });
        }
    }

    fn on_websocket_start(&mut self, stream: u64, start: WebSocketStart) {
        if stream == self.stream
            && self.view == View::Readable
            && self.websocket_on_this_layer(&start)
        {
            self.websocket = Some(start);
            self.release_held();
        }
    }

    fn on_ws_message(&mut self, message: &ws::Message<'_>) {
        if message.stream == self.stream && self.websocket.is_some() {
            self.release_held();
            (self.on_chunk)(Chunk::WsMessage(message));
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
            Chunk::WsMessage(m) => format!("ws {} {}", m.dir, m.payload.len()),
        }
    }

    #[test]
    fn tcp_chunks_are_the_streams_only_in_capture_order() {
        let mut shapes = Vec::new();
        let followed = follow(
            &fixture("tcp-loss.pcap"),
            0,
            Layer::Tcp,
            View::Raw,
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
            View::Readable,
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
            View::Readable,
            &Options::default(),
            &mut |_| chunks += 1,
        )
        .unwrap();
        assert!(!followed.found);
        assert_eq!(chunks, 0);
    }

    #[test]
    fn readable_view_cuts_a_chunk_where_websocket_framing_began() {
        use crate::position::Timestamp;
        let at = FrameRef::new(7, Timestamp::default());
        let head = b"HTTP/1.1 101 Switching Protocols\r\n\r\n";
        let mut bytes = head.to_vec();
        bytes.extend_from_slice(b"\x81\x05hello");
        let mut shown = Vec::new();
        let mut on_chunk = |c: Chunk<'_>| {
            if let Chunk::Data { dir, bytes, .. } = c {
                shown.push((dir, bytes.to_vec()));
            }
        };
        let mut follower = Follower {
            stream: 3,
            layer: Layer::Tls,
            view: View::Readable,
            on_chunk: &mut on_chunk,
            followed: Followed::default(),
            next_offset: [0; 2],
            websocket: None,
            held: None,
        };
        follower.on_plaintext(3, Dir::ServerToClient, at, &bytes);
        let start = WebSocketStart {
            over_tls: true,
            client_offset: 0,
            server_offset: head.len() as u64,
        };
        follower.on_websocket_start(3, start);
        // Later frames of either direction are not shown as bytes.
        follower.on_plaintext(3, Dir::ServerToClient, at, b"\x81\x02hi");
        follower.on_plaintext(3, Dir::ClientToServer, at, b"\x81\x82abcd\x09\x0b");
        follower.release_held();
        assert_eq!(shown, vec![(Dir::ServerToClient, head.to_vec())]);
    }
}
