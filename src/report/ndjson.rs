//! NDJSON output: one event per line, written as the capture is read.
//!
//! Takes events from the pipeline as they happen; writes each as one JSON
//! object on its own line, keeping only the kinds asked for. Never buffers
//! more than one line; a write error (a closed pipe) is kept and stops
//! further writing.

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

    /// Writes any serialisable line (capture start and end markers).
    pub fn line(&mut self, value: &impl Serialize) {
        if self.error.is_some() {
            return;
        }
        self.line.clear();
        let result = serde_json::to_writer(&mut self.line, value)
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
}
