//! NDJSON output: one event per line, written as the capture is read.
//!
//! Takes events from the pipeline as they happen; writes each as one JSON
//! object on its own line, keeping only the kinds asked for. Never buffers
//! more than one line; a write error (a closed pipe) is kept and stops
//! further writing.
//!
//! Lines are serialised with sonic-rs, a serde `Serializer` cloned from
//! serde_json's whose string escaping checks many bytes at a time: the
//! same bytes (a test compares both on edge and random values), about 3 %
//! fewer instructions for a whole `report` (BENCHMARKS.md). Every other
//! JSON the tool writes stays with serde_json.

use std::io::{self, Write};

use serde::Serialize;

use crate::report::event::{Detail, Event};
use crate::report::sink::EventSink;

/// Which event kinds a command shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Everything (`report`).
    All,
    /// WebSocket messages and control frames (`ws`).
    WebSocket,
    /// HTTP exchanges, upgrades and BOSH bodies (`http`).
    Http,
    /// TLS handshake events (`tls`).
    Tls,
}

impl Selection {
    pub fn keeps(self, event: &Event) -> bool {
        match self {
            Selection::All => true,
            Selection::WebSocket => event.detail.is_websocket(),
            Selection::Http => event.detail.is_http(),
            Selection::Tls => matches!(event.detail, Detail::Tls { .. }),
        }
    }
}

/// Streams events as NDJSON lines.
pub struct NdjsonWriter<'w> {
    out: &'w mut dyn Write,
    /// One line, serialised here first so the writer gets one call per line.
    line: Vec<u8>,
    selection: Selection,
    error: Option<io::Error>,
    pub written: u64,
}

impl<'w> NdjsonWriter<'w> {
    pub fn new(out: &'w mut dyn Write, selection: Selection) -> Self {
        NdjsonWriter {
            out,
            line: Vec::with_capacity(4096),
            selection,
            error: None,
            written: 0,
        }
    }

    /// Writes any serialisable line (capture start and end markers), as
    /// `serde_json::to_writer` would.
    pub fn line(&mut self, value: &impl Serialize) {
        if self.error.is_some() {
            return;
        }
        self.line.clear();
        let result = sonic_rs::to_writer(&mut self.line, value)
            .map_err(io::Error::from)
            .and_then(|()| {
                self.line.push(b'\n');
                self.out.write_all(&self.line)
            });
        if let Err(e) = result {
            self.error = Some(e);
        } else {
            self.written += 1;
        }
    }

    /// Writes a line rendered elsewhere (`report::ndjson_lines`).
    fn pieces(&mut self, pieces: &[&[u8]]) {
        if self.error.is_some() {
            return;
        }
        let result = pieces
            .iter()
            .chain([&&b"\n"[..]])
            .try_for_each(|piece| self.out.write_all(piece));
        if let Err(e) = result {
            self.error = Some(e);
        } else {
            self.written += 1;
        }
    }

    /// The first write error, if any.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }
}

impl EventSink for NdjsonWriter<'_> {
    fn emit(&mut self, event: Event) {
        if self.selection.keeps(&event) {
            self.line(&event);
        }
    }

    fn takes_lines(&self) -> Option<Selection> {
        Some(self.selection)
    }

    fn emit_line(&mut self, pieces: &[&[u8]]) {
        self.pieces(pieces);
    }
}

/// Keeps the selected events for a timeline, up to a cap.
pub struct Collector {
    selection: Selection,
    cap: usize,
    /// What the kept events may hold together (see [`Event::approx_bytes`]).
    byte_cap: usize,
    bytes: usize,
    pub events: Vec<Event>,
    pub dropped: u64,
}

impl Collector {
    pub fn new(selection: Selection, cap: usize, byte_cap: usize) -> Collector {
        Collector {
            selection,
            cap,
            byte_cap,
            bytes: 0,
            events: Vec::new(),
            dropped: 0,
        }
    }

    /// The events in capture order: by time, then frame; equal ones keep the
    /// order they happened in.
    pub fn into_timeline(self) -> (Vec<Event>, u64) {
        let mut events = self.events;
        events.sort_by_key(|e| (e.time, e.frame));
        (events, self.dropped)
    }
}

impl EventSink for Collector {
    fn emit(&mut self, event: Event) {
        if !self.selection.keeps(&event) {
            return;
        }
        let size = event.approx_bytes();
        if self.events.len() < self.cap && self.bytes.saturating_add(size) <= self.byte_cap {
            self.bytes += size;
            self.events.push(event);
        } else {
            self.dropped += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::event::{Detail, WsMessage};

    fn message(text_len: usize) -> Event {
        let m = WsMessage {
            opcode: "text",
            compressed: true,
            frames: 1,
            wire_len: 10,
            len: Some(text_len as u64),
            truncated: false,
            not_inflated: None,
            text: Some("x".repeat(text_len)),
        };
        Event::new(None, "text message", Detail::WsMessage(m))
    }

    #[test]
    fn the_kept_timeline_is_capped_by_count_and_by_bytes() {
        let mut by_count = Collector::new(Selection::All, 3, usize::MAX);
        for _ in 0..5 {
            by_count.emit(message(10));
        }
        assert_eq!((by_count.events.len(), by_count.dropped), (3, 2));
        // Highly compressible texts: few bytes on the wire, megabytes kept.
        let mut by_bytes = Collector::new(Selection::All, 1000, 10 << 20);
        for _ in 0..100 {
            by_bytes.emit(message(1 << 20));
        }
        assert_eq!((by_bytes.events.len(), by_bytes.dropped), (9, 91));
        // Small events still fit after a large one was refused.
        by_bytes.emit(message(10));
        assert_eq!(by_bytes.events.len(), 10);
    }

    /// Every scalar kind an event holds, nested and flattened the way
    /// [`Event`]'s wire form is.
    #[derive(Serialize)]
    struct Sample<'s> {
        text: &'s str,
        float: f64,
        unsigned: u64,
        signed: i64,
        small: u16,
        flag: bool,
        absent: Option<&'s str>,
        list: Vec<&'s str>,
        #[serde(flatten)]
        inner: Inner<'s>,
    }

    #[derive(Serialize)]
    #[serde(untagged)]
    enum Inner<'s> {
        Fields {
            key: &'s str,
            #[serde(skip_serializing_if = "Option::is_none")]
            maybe: Option<f64>,
        },
    }

    fn both(sample: &Sample<'_>) -> (String, String) {
        let ours = sonic_rs::to_string(sample).unwrap();
        let reference = serde_json::to_string(sample).unwrap();
        (ours, reference)
    }

    #[test]
    fn lines_are_what_serde_json_writes_for_edge_values() {
        let texts = [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}",
            "AT&T <priority> é ü 名前 🙂 \u{2028}\u{2029}",
            &"x".repeat(100),
            &"\"".repeat(40),
        ];
        let floats = [
            0.0,
            -0.0,
            0.1,
            1.0,
            3.0,
            1.5e-7,
            1e15,
            1e16,
            1e21,
            1e300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            123.456,
            250.000001,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for (text, float) in texts
            .iter()
            .zip(floats.iter().cycle())
            .chain(floats.iter().map(|f| (&"f", f)))
        {
            let sample = Sample {
                text,
                float: *float,
                unsigned: u64::MAX,
                signed: i64::MIN,
                small: 1000,
                flag: true,
                absent: None,
                list: vec![text, "b"],
                inner: Inner::Fields {
                    key: text,
                    maybe: Some(*float),
                },
            };
            let (ours, reference) = both(&sample);
            assert_eq!(ours, reference);
        }
    }

    proptest::proptest! {
        #[test]
        fn lines_are_what_serde_json_writes(
            text in proptest::string::string_regex("(.|\\PC|[\\x00-\\x1f\\x7f\"\\\\])*").unwrap(),
            float in proptest::num::f64::ANY,
            unsigned in proptest::num::u64::ANY,
            signed in proptest::num::i64::ANY,
            maybe in proptest::option::of(proptest::num::f64::NORMAL),
        ) {
            let sample = Sample {
                text: &text,
                float,
                unsigned,
                signed,
                small: 7,
                flag: false,
                absent: Some(&text),
                list: vec![],
                inner: Inner::Fields { key: &text, maybe },
            };
            let (ours, reference) = both(&sample);
            proptest::prop_assert_eq!(ours, reference);
        }
    }
}
