//! One element of `_webSocketMessages`: read with its `data` cut to the cap
//! while it is read, converted to a [`WsMessage`] and given (or held until
//! its entry is given), with the per-socket checks.
//!
//! Takes the JSON of one message; gives a typed message and findings. Never
//! keeps more than the cap of one message's data, except messages held for
//! an entry whose request/response come later (bounded by `max_held_messages`).

use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;
use serde_json::Value;

use super::convert::{clip, decode_base64};
use super::finding::Finding;
use super::model::{EntryKind, WsMessage, WsPayload};
use super::stream::{scalars_call, Given, State};
use super::time::{from_epoch_secs, is_wall_clock};
use crate::position::{Dir, Timestamp};

/// A message recorded this much after its entry's end counts as after close
/// (`startedDateTime` has millisecond precision).
const AFTER_CLOSE_SLACK_NANOS: i64 = 5_000_000;

/// Longest browser error text kept in a finding.
const MAX_REASON: usize = 200;

/// A string read with at most `cap` bytes kept.
#[derive(Debug, Default)]
pub(crate) enum Capped {
    #[default]
    Absent,
    /// `full_len` and `padding` (trailing `=`, for the decoded length of a
    /// cut base64 text) describe the whole string.
    Text {
        text: String,
        full_len: usize,
        padding: usize,
    },
    WrongType,
}

struct CappedSeed {
    cap: usize,
}

impl<'de> DeserializeSeed<'de> for CappedSeed {
    type Value = Capped;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Capped, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl CappedSeed {
    fn wrong(self) -> Capped {
        Capped::WrongType
    }
}

impl<'de> Visitor<'de> for CappedSeed {
    type Value = Capped;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Capped, E> {
        let padding = s.bytes().rev().take(2).take_while(|&b| b == b'=').count();
        Ok(Capped::Text {
            text: clip_str(s, self.cap).to_owned(),
            full_len: s.len(),
            padding,
        })
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Capped, E> {
        Ok(self.wrong())
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Capped, E> {
        Ok(self.wrong())
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Capped, E> {
        Ok(self.wrong())
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Capped, E> {
        Ok(self.wrong())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Capped, E> {
        Ok(Capped::Absent)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Capped, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Capped::WrongType)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Capped, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Capped::WrongType)
    }
}

fn clip_str(s: &str, max: usize) -> &str {
    let mut cut = max.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.get(..cut).unwrap_or_default()
}

/// One message as read.
#[derive(Debug, Default)]
pub(crate) struct RawMessage {
    kind: Option<Value>,
    time: Option<Value>,
    opcode: Option<Value>,
    data: Capped,
    not_object: bool,
}

impl RawMessage {
    fn held_bytes(&self) -> usize {
        match &self.data {
            Capped::Text { text, .. } => text.len().saturating_add(64),
            _ => 64,
        }
    }
}

/// Reads one message; `data` keeps enough text for `max_ws_message` bytes
/// (base64 of a binary message is 4/3 longer).
pub(crate) struct MessageSeed {
    text_cap: usize,
}

impl MessageSeed {
    pub(crate) fn for_cap(max_ws_message: usize) -> Self {
        MessageSeed {
            text_cap: max_ws_message.saturating_mul(4) / 3 + 4,
        }
    }

    fn not_object(self) -> RawMessage {
        RawMessage {
            not_object: true,
            ..RawMessage::default()
        }
    }
}

impl<'de> DeserializeSeed<'de> for MessageSeed {
    type Value = RawMessage;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawMessage, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MessageSeed {
    type Value = RawMessage;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a WebSocket message")
    }
    scalars_call!(not_object);
    fn visit_unit<E: serde::de::Error>(self) -> Result<RawMessage, E> {
        Ok(self.not_object())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawMessage, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(self.not_object())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawMessage, A::Error> {
        let mut raw = RawMessage::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => raw.kind = Some(map.next_value()?),
                "time" => raw.time = Some(map.next_value()?),
                "opcode" => raw.opcode = Some(map.next_value()?),
                "data" => raw.data = map.next_value_seed(CappedSeed { cap: self.text_cap })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(raw)
    }
}

/// The messages of one entry: numbering, holding, and the per-socket checks.
pub(crate) struct Messages {
    entry: usize,
    next: usize,
    held: Vec<(usize, RawMessage)>,
    held_bytes: usize,
    dropped: usize,
    after_close: Option<(usize, usize)>,
    first_error: Option<String>,
}

impl Messages {
    pub(crate) fn new(entry: usize) -> Self {
        Messages {
            entry,
            next: 0,
            held: Vec::new(),
            held_bytes: 0,
            dropped: 0,
            after_close: None,
            first_error: None,
        }
    }

    pub(crate) fn entry(&self) -> usize {
        self.entry
    }

    /// One message read: given now when its entry was, else held.
    pub(crate) fn on_raw(&mut self, state: &mut State<'_>, given: Option<&Given>, raw: RawMessage) {
        let index = self.next;
        self.next += 1;
        match given {
            Some(given) => self.give(state, given, index, raw),
            None => {
                let bytes = raw.held_bytes();
                if self.held_bytes.saturating_add(bytes) > state.limits.max_held_messages {
                    self.dropped += 1;
                } else {
                    self.held_bytes += bytes;
                    self.held.push((index, raw));
                }
            }
        }
    }

    /// Gives the held messages once their entry was given.
    pub(crate) fn release(&mut self, state: &mut State<'_>, given: &Given) {
        for (index, raw) in std::mem::take(&mut self.held) {
            self.give(state, given, index, raw);
        }
        if self.dropped > 0 {
            state.note(Finding::HeldMessagesDropped {
                entry: self.entry,
                dropped: self.dropped,
            });
        }
    }

    /// The checks made when the entry ends.
    pub(crate) fn finish(&mut self, state: &mut State<'_>, given: &Given, url: String) {
        let entry = self.entry;
        if let Some((first, count)) = self.after_close {
            state.note(Finding::MessagesAfterClose {
                entry,
                first,
                count,
            });
        }
        if given.kind != EntryKind::WebSocket {
            return;
        }
        let reason = self.first_error.take();
        if given.never_sent {
            state.note(Finding::WebSocketNeverSent { entry, url, reason });
        } else if given.status != Some(101) {
            state.note(Finding::WebSocketFailed {
                entry,
                status: given.status.unwrap_or(0),
                reason,
            });
        }
    }

    fn give(&mut self, state: &mut State<'_>, given: &Given, index: usize, raw: RawMessage) {
        let mut notes = Vec::new();
        let message = convert(
            &mut |f| notes.push(f),
            state.limits.max_ws_message,
            given,
            index,
            raw,
        );
        for finding in notes {
            state.note(finding);
        }
        let Some(message) = message else { return };
        match &message.payload {
            WsPayload::Error { text } => {
                self.first_error
                    .get_or_insert_with(|| clip(text.clone(), MAX_REASON));
            }
            WsPayload::Data { .. } => {
                let late = match (message.time, given.ended) {
                    (Some(time), Some(ended)) => time.nanos_since(ended) > AFTER_CLOSE_SLACK_NANOS,
                    _ => false,
                };
                if late {
                    let (_, count) = self.after_close.get_or_insert((index, 0));
                    *count += 1;
                }
            }
        }
        state.messages += 1;
        state.sink.on_ws_message(message);
    }
}

/// One raw message to a [`WsMessage`]; `None` when it cannot be one.
fn convert(
    note: &mut dyn FnMut(Finding),
    cap: usize,
    given: &Given,
    index: usize,
    raw: RawMessage,
) -> Option<WsMessage> {
    let entry = given.index;
    if raw.not_object {
        note(Finding::MalformedField {
            entry,
            message: Some(index),
            field: "_webSocketMessages[]",
            expected: "an object",
        });
        return None;
    }
    let time = message_time(note, given, index, raw.time.as_ref());
    let text = match raw.data {
        Capped::Text {
            text,
            full_len,
            padding,
        } => Text {
            text,
            full_len,
            padding,
        },
        Capped::Absent => Text::default(),
        Capped::WrongType => {
            note(Finding::MalformedField {
                entry,
                message: Some(index),
                field: "data",
                expected: "a string",
            });
            Text::default()
        }
    };
    let opcode = raw.opcode.as_ref();
    let payload = match raw.kind.as_ref().and_then(Value::as_str) {
        Some("send") => data_payload(note, cap, (entry, index), Dir::ClientToServer, opcode, text),
        Some("receive") => {
            data_payload(note, cap, (entry, index), Dir::ServerToClient, opcode, text)
        }
        Some("error") => WsPayload::Error {
            text: clip(text.text, cap),
        },
        _ => {
            note(Finding::UnknownMessageType {
                entry,
                message: index,
            });
            return None;
        }
    };
    Some(WsMessage {
        entry,
        index,
        time,
        payload,
    })
}

/// A message's `data` as read: the kept text, the whole length and its
/// trailing `=` count.
#[derive(Default)]
struct Text {
    text: String,
    full_len: usize,
    padding: usize,
}

/// A sent or received message's bytes: base64-decoded for binary, cut to the cap.
fn data_payload(
    note: &mut dyn FnMut(Finding),
    cap: usize,
    (entry, index): (usize, usize),
    dir: Dir,
    opcode: Option<&Value>,
    text: Text,
) -> WsPayload {
    let opcode = opcode_of(note, entry, index, opcode);
    let (mut data, mut full_len) = (text.text.into_bytes(), text.full_len);
    if opcode == 2 {
        match decode_binary(&data, full_len, text.padding) {
            Some((bytes, len)) => (data, full_len) = (bytes, len),
            None => note(Finding::InvalidBase64 {
                entry,
                message: Some(index),
                field: "data",
            }),
        }
    }
    if full_len > cap || data.len() > cap {
        data.truncate(cap);
        note(Finding::Capped {
            entry,
            message: Some(index),
            field: "data",
            len: full_len,
            cap,
        });
    }
    let opcode = u8::try_from(opcode).unwrap_or(0);
    WsPayload::Data {
        dir,
        opcode,
        data,
        full_len,
    }
}

/// The recorded opcode; 1 (text) when absent, as every browser writes it.
fn opcode_of(
    note: &mut dyn FnMut(Finding),
    entry: usize,
    index: usize,
    value: Option<&Value>,
) -> i64 {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return 1;
    };
    match value.as_i64() {
        Some(code @ (1 | 2)) => code,
        Some(opcode) => {
            note(Finding::UnexpectedOpcode {
                entry,
                message: index,
                opcode,
            });
            opcode
        }
        None => {
            note(Finding::MalformedField {
                entry,
                message: Some(index),
                field: "opcode",
                expected: "an integer",
            });
            1
        }
    }
}

/// A binary message's base64 `data` (maybe cut to the cap) decoded, with
/// the decoded length of the whole; `None` when it is not base64.
fn decode_binary(text: &[u8], full_len: usize, padding: usize) -> Option<(Vec<u8>, usize)> {
    let was_cut = full_len > text.len();
    // A cut base64 text decodes up to its last whole quad.
    let usable = if was_cut {
        text.len() / 4 * 4
    } else {
        text.len()
    };
    let bytes = std::str::from_utf8(text.get(..usable)?)
        .ok()
        .and_then(decode_base64)?;
    let full = if was_cut {
        (full_len / 4 * 3).saturating_sub(padding)
    } else {
        bytes.len()
    };
    Some((bytes, full))
}

fn message_time(
    note: &mut dyn FnMut(Finding),
    given: &Given,
    index: usize,
    value: Option<&Value>,
) -> Option<Timestamp> {
    let value = value?;
    let entry = given.index;
    let Some(time) = value.as_f64().and_then(from_epoch_secs) else {
        if !value.is_null() {
            note(Finding::MalformedField {
                entry,
                message: Some(index),
                field: "time",
                expected: "epoch seconds",
            });
        }
        return None;
    };
    if is_wall_clock(time) {
        return Some(time);
    }
    // A socket that never connected is timed on a monotonic clock: that is
    // part of its own finding, not a separate one.
    if !given.never_sent {
        note(Finding::NotWallClock {
            entry,
            message: Some(index),
            field: "time",
        });
    }
    None
}
