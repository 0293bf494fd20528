//! The events the WebSocket stage emits: messages, control frames, the close
//! summary, and per-direction counts.
//!
//! Plain serialisable values (snake_case fields, frames as Wireshark frame
//! numbers, times as RFC 3339). Payloads are borrowed from the stage and are
//! not serialised raw: text travels as `text`, binary stays out of JSON.

use serde::{Serialize, Serializer};

use crate::position::{Dir, FrameRef, Timestamp};
use crate::ws::evidence::{Confidence, Evidence};

/// The opcode of a data message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageOpcode {
    Text,
    Binary,
}

/// The opcode of a control frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlOpcode {
    Close,
    Ping,
    Pong,
}

/// Why a compressed message has no payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotInflated {
    /// A binary message that refers to compression context from before the
    /// capture (or before a gap, or before invalid data): its real 0xFF
    /// bytes cannot be told from unknown ones. (A text message in that case
    /// is given with [`Message::known_bytes`].)
    NoContext,
    /// Its deflate data is invalid.
    InvalidDeflate,
    /// Part of it is missing from the capture.
    Gap,
    /// It never ended (a new message began, sync or the capture was lost)
    /// and its frame boundary was found by heuristic: what inflated before
    /// the cut cannot be told from garbage.
    Unfinished,
    /// RSV1 belongs to an extension other than permessage-deflate.
    OtherExtension,
}

/// One complete (or cut) data message: all its frames reassembled and inflated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message<'a> {
    /// Wireshark `tcp.stream`.
    pub stream: u64,
    pub dir: Dir,
    /// The frame holding the first byte of the message's first WebSocket frame.
    #[serde(serialize_with = "frame_number")]
    pub frame: FrameRef,
    /// The frame holding the last byte of the message.
    #[serde(serialize_with = "frame_number")]
    pub last_frame: FrameRef,
    /// Capture time of `frame`.
    pub time: Timestamp,
    pub opcode: MessageOpcode,
    /// RSV1 was set: the payload was (or should have been) inflated.
    pub compressed: bool,
    /// WebSocket frames in the message.
    pub frames: u32,
    /// Payload bytes on the wire, compressed size for compressed messages.
    pub wire_len: u64,
    /// Payload length after inflating; `None` when unknown (not inflated, or
    /// inflating stopped at a limit: see `inflate_cap`).
    pub len: Option<u64>,
    /// `payload` holds less than the whole message (a cap, a gap, the end of
    /// the capture).
    pub truncated: bool,
    /// Why a compressed message has no payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_inflated: Option<NotInflated>,
    /// A compressed text message that refers to compression history from
    /// before the capture (or a gap): this many of the payload's bytes are
    /// known. Each unknown byte is 0xFF in `payload` (never part of UTF-8),
    /// and `text` is `None`: the message is never passed on as if whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_bytes: Option<u64>,
    /// Inflating stopped at this cap (bytes): `payload` holds the message's
    /// first `inflate_cap` inflated bytes, the rest was dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inflate_cap: Option<u64>,
    /// The payload of a text message, when it is valid UTF-8 and wholly
    /// known (a cut message loses its incomplete last character).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
    /// The payload bytes kept (unmasked and inflated).
    #[serde(skip)]
    pub payload: &'a [u8],
}

/// One control frame; pongs are matched to the ping they answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Control<'a> {
    pub stream: u64,
    pub dir: Dir,
    #[serde(serialize_with = "frame_number")]
    pub frame: FrameRef,
    pub time: Timestamp,
    pub opcode: ControlOpcode,
    /// Payload length on the wire.
    pub len: u64,
    /// Close: the status code, when the payload has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_code: Option<u16>,
    /// Close: the reason, when present and valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<&'a str>,
    /// Pong: the frame of the ping from the other side with the same payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answers_frame: Option<u64>,
    /// Pong: milliseconds since that ping.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Part of the payload is missing (cap or gap).
    pub truncated: bool,
    #[serde(skip)]
    pub payload: &'a [u8],
}

/// A Close frame one side sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CloseSent {
    #[serde(serialize_with = "frame_number")]
    pub frame: FrameRef,
    pub time: Timestamp,
    pub code: Option<u16>,
    pub reason: Option<String>,
}

/// The first TCP FIN or RST of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TcpEnd {
    /// The side that sent it.
    pub dir: Dir,
    #[serde(serialize_with = "frame_number")]
    pub frame: FrameRef,
    pub time: Timestamp,
    pub rst: bool,
}

/// How the connection ended, emitted once by `finish`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Closed {
    pub stream: u64,
    /// The side whose Close frame came first.
    pub first: Option<Dir>,
    pub c2s: Option<CloseSent>,
    pub s2c: Option<CloseSent>,
    pub tcp_end: Option<TcpEnd>,
    /// The code the WebSocket client (a browser) reports: the server's Close
    /// code (1005 when it had none), or 1006 when TCP ended before the
    /// server's Close arrived; `None` while still open at the capture's end.
    pub client_code: Option<u16>,
    /// `client_code` is the 1006 inferred from TCP, not a code on the wire.
    pub inferred: bool,
}

/// Counts for one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirSummary {
    pub frames: u64,
    pub messages: u64,
    pub text: u64,
    pub binary: u64,
    pub compressed: u64,
    pub not_inflated: u64,
    /// Compressed text messages with only some bytes known (the window from
    /// before the capture or a gap).
    pub partial: u64,
    pub truncated: u64,
    pub controls: u64,
    /// Bytes decoded as frames (headers and payloads).
    pub frame_bytes: u64,
    /// Plain payload bytes of messages after inflating.
    pub inflated_bytes: u64,
    /// Bytes skipped while looking for a frame boundary, or left unparsed.
    pub unparsed_bytes: u64,
    /// Bytes missing from the capture.
    pub gap_bytes: u64,
}

/// Everything `summary()` knows about one connection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub stream: u64,
    /// No handshake was seen: frame boundaries were found by heuristic.
    pub midstream: bool,
    /// How sure the stage is that this is WebSocket: `handshake`, `content`
    /// or `frames-only` (no WebSocket finding is reported at `frames-only`).
    pub confidence: Confidence,
    /// What the frames showed, for a connection seen without its handshake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// The direction the WebSocket client (masking side) sends in, once known.
    pub client_dir: Option<Dir>,
    pub c2s: DirSummary,
    pub s2c: DirSummary,
    pub closed: Closed,
}

fn frame_number<S: Serializer>(f: &FrameRef, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(f.frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_json_has_the_documented_fields() {
        let at = FrameRef::new(8, Timestamp::from_secs_nanos(1_700_000_000, 0));
        let m = Message {
            stream: 3,
            dir: Dir::ServerToClient,
            frame: at,
            last_frame: FrameRef::new(9, at.ts),
            time: at.ts,
            opcode: MessageOpcode::Text,
            compressed: true,
            frames: 2,
            wire_len: 7,
            len: Some(5),
            truncated: false,
            not_inflated: None,
            known_bytes: None,
            inflate_cap: None,
            text: Some("Hello"),
            payload: b"Hello",
        };
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(
            json,
            r#"{"stream":3,"dir":"s2c","frame":8,"last_frame":9,"time":"2023-11-14T22:13:20.000000Z","opcode":"text","compressed":true,"frames":2,"wire_len":7,"len":5,"truncated":false,"text":"Hello"}"#
        );
    }

    #[test]
    fn control_json() {
        let at = FrameRef::new(10, Timestamp::default());
        let c = Control {
            stream: 0,
            dir: Dir::ClientToServer,
            frame: at,
            time: at.ts,
            opcode: ControlOpcode::Close,
            len: 2,
            close_code: Some(1000),
            close_reason: None,
            answers_frame: None,
            latency_ms: None,
            truncated: false,
            payload: &[3, 232],
        };
        let json = serde_json::to_string(&c).unwrap();
        assert!(
            json.contains(r#""opcode":"close","len":2,"close_code":1000"#),
            "{json}"
        );
    }
}
