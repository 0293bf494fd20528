//! What the HAR reader notices in a file it can still read: one variant per
//! kind, each located by entry (and message) index.
//!
//! Takes facts from the reader; gives a level, a stable code and a sentence.
//! Never quotes captured content beyond short, clipped fields (a URL, a
//! browser error text): bodies and messages stay out of findings.

use std::fmt;

use super::FindingCode;
use crate::finding::Level;
use crate::position::Timestamp;

/// One thing noticed while reading a HAR.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// `log.entries` is empty: the export holds no traffic.
    NoEntries,
    /// An element of `log.entries` is not an object; it is skipped.
    EntryNotObject { entry: usize },
    /// A required part (`request`, `response`, `startedDateTime`) is missing.
    MissingField { entry: usize, field: &'static str },
    /// A field has the wrong JSON type or an impossible value; it is ignored.
    MalformedField {
        entry: usize,
        message: Option<usize>,
        field: &'static str,
        expected: &'static str,
    },
    /// This entry started before the previous one did; entries are given in
    /// file order all the same.
    OutOfOrder {
        entry: usize,
        started: Timestamp,
        previous_entry: usize,
        previous_started: Timestamp,
    },
    /// Sizes below -1 (HAR's "unknown"), once per file: Chrome writes
    /// `bodySize` as transfer size minus header size, negative for WebSocket
    /// upgrades and preflights. Those sizes are dropped.
    NegativeSizes {
        first_entry: usize,
        field: &'static str,
        value: i64,
        count: usize,
    },
    /// A WebSocket whose upgrade request was never sent (empty method, start
    /// time 1969): the connection failed first (refused, DNS, TLS).
    WebSocketNeverSent {
        entry: usize,
        url: String,
        reason: Option<String>,
    },
    /// A WebSocket that did not open (status other than 101); `reason` is the
    /// browser's error message when it recorded one.
    WebSocketFailed {
        entry: usize,
        status: u16,
        reason: Option<String>,
    },
    /// Messages recorded after the entry's end (`startedDateTime` + `time`):
    /// the page had already closed the socket.
    MessagesAfterClose {
        entry: usize,
        first: usize,
        count: usize,
    },
    /// A `time` or `startedDateTime` that is not a wall-clock time (before 2000).
    NotWallClock {
        entry: usize,
        message: Option<usize>,
        field: &'static str,
    },
    /// A message `type` other than `send`, `receive` or `error`; skipped.
    UnknownMessageType { entry: usize, message: usize },
    /// An opcode other than 1 (text) or 2 (binary); the data is kept.
    UnexpectedOpcode {
        entry: usize,
        message: usize,
        opcode: i64,
    },
    /// Base64 that does not decode (binary message or `encoding: "base64"`
    /// body); the text itself is kept.
    InvalidBase64 {
        entry: usize,
        message: Option<usize>,
        field: &'static str,
    },
    /// A body, message or field longer than its cap was cut.
    Capped {
        entry: usize,
        message: Option<usize>,
        field: &'static str,
        len: usize,
        cap: usize,
    },
    /// More header lines than `max_headers`; the rest are dropped.
    TooManyHeaders {
        entry: usize,
        field: &'static str,
        count: usize,
    },
    /// Messages listed before the entry's request/response exceeded
    /// `max_held_messages`; the rest are dropped.
    HeldMessagesDropped { entry: usize, dropped: usize },
    /// An entry field that came after `_webSocketMessages`, when the entry had
    /// already been given; it is ignored.
    LateField { entry: usize, field: &'static str },
    /// More findings of one kind than `max_findings_per_kind`.
    Suppressed { code: FindingCode, count: usize },
}

impl Finding {
    /// The level of this kind of finding (its code's).
    pub fn level(&self) -> Level {
        self.code().level()
    }

    /// Stable machine code (`har.` + kind).
    pub fn code(&self) -> FindingCode {
        use Finding::*;
        match self {
            NoEntries => FindingCode::NoEntries,
            EntryNotObject { .. } => FindingCode::EntryNotObject,
            MissingField { .. } => FindingCode::MissingField,
            MalformedField { .. } => FindingCode::MalformedField,
            OutOfOrder { .. } => FindingCode::OutOfOrder,
            NegativeSizes { .. } => FindingCode::NegativeSizes,
            WebSocketNeverSent { .. } => FindingCode::WebSocketNeverSent,
            WebSocketFailed { .. } => FindingCode::WebSocketFailed,
            MessagesAfterClose { .. } => FindingCode::MessagesAfterClose,
            NotWallClock { .. } => FindingCode::NotWallClock,
            UnknownMessageType { .. } => FindingCode::UnknownMessageType,
            UnexpectedOpcode { .. } => FindingCode::UnexpectedOpcode,
            InvalidBase64 { .. } => FindingCode::InvalidBase64,
            Capped { .. } => FindingCode::Capped,
            TooManyHeaders { .. } => FindingCode::TooManyHeaders,
            HeldMessagesDropped { .. } => FindingCode::HeldMessagesDropped,
            LateField { .. } => FindingCode::LateField,
            Suppressed { .. } => FindingCode::Suppressed,
        }
    }

    /// The entry this finding is about, if any.
    pub fn entry(&self) -> Option<usize> {
        use Finding::*;
        match self {
            NoEntries | Suppressed { .. } => None,
            NegativeSizes { first_entry, .. } => Some(*first_entry),
            EntryNotObject { entry }
            | MissingField { entry, .. }
            | MalformedField { entry, .. }
            | OutOfOrder { entry, .. }
            | WebSocketNeverSent { entry, .. }
            | WebSocketFailed { entry, .. }
            | MessagesAfterClose { entry, .. }
            | NotWallClock { entry, .. }
            | UnknownMessageType { entry, .. }
            | UnexpectedOpcode { entry, .. }
            | InvalidBase64 { entry, .. }
            | Capped { entry, .. }
            | TooManyHeaders { entry, .. }
            | HeldMessagesDropped { entry, .. }
            | LateField { entry, .. } => Some(*entry),
        }
    }
}

impl Finding {
    /// The WebSocket message this finding is about, if any (for messages
    /// recorded after the close, the first of them).
    pub fn message(&self) -> Option<usize> {
        use Finding::*;
        match self {
            MalformedField { message, .. }
            | NotWallClock { message, .. }
            | InvalidBase64 { message, .. }
            | Capped { message, .. } => *message,
            MessagesAfterClose { first, .. } => Some(*first),
            UnknownMessageType { message, .. } | UnexpectedOpcode { message, .. } => Some(*message),
            _ => None,
        }
    }
}

/// `entry 3` or `entry 3 message 7`.
struct At(usize, Option<usize>);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(message) => write!(f, "entry {} message {}", self.0, message),
            None => write!(f, "entry {}", self.0),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Finding::*;
        match self {
            NoEntries => write!(f, "the HAR holds no entries"),
            EntryNotObject { entry } => write!(f, "entry {entry} is not a JSON object: skipped"),
            MissingField { entry, field } => write!(f, "entry {entry} has no {field}"),
            MalformedField { entry, message, field, expected } => {
                write!(f, "{}: {field} is not {expected}: ignored", At(*entry, *message))
            }
            OutOfOrder { entry, started, previous_entry, previous_started } => write!(
                f,
                "entry {entry} started at {} before entry {previous_entry} ({}): the HAR is not in time order; entries are kept in file order",
                started.to_rfc3339(),
                previous_started.to_rfc3339()
            ),
            NegativeSizes { first_entry, field, value, count } => write!(
                f,
                "{count} size(s) below -1, the first in entry {first_entry} ({field} {value}): treated as unknown"
            ),
            WebSocketNeverSent { entry, url, reason } => {
                write!(
                    f,
                    "entry {entry}: WebSocket {url} never sent its upgrade request (no method, start time 1969): the connection failed first"
                )?;
                match reason {
                    Some(reason) => write!(f, ": {reason}"),
                    None => Ok(()),
                }
            }
            WebSocketFailed { entry, status, reason } => {
                write!(f, "entry {entry}: WebSocket did not open (status {status})")?;
                match reason {
                    Some(reason) => write!(f, ": {reason}"),
                    None => Ok(()),
                }
            }
            MessagesAfterClose { entry, first, count } => write!(
                f,
                "entry {entry}: {count} message(s) from message {first} on were recorded after the socket closed"
            ),
            NotWallClock { entry, message, field } => write!(
                f,
                "{}: {field} is not a wall-clock time: left out of the timeline",
                At(*entry, *message)
            ),
            UnknownMessageType { entry, message } => write!(
                f,
                "{}: type is not send, receive or error: skipped",
                At(*entry, Some(*message))
            ),
            UnexpectedOpcode { entry, message, opcode } => write!(
                f,
                "{}: opcode {opcode} (browsers record only 1 text and 2 binary)",
                At(*entry, Some(*message))
            ),
            InvalidBase64 { entry, message, field } => write!(
                f,
                "{}: {field} is not valid base64: the text is kept as it is",
                At(*entry, *message)
            ),
            Capped { entry, message, field, len, cap } => write!(
                f,
                "{}: {field} of {len} bytes cut to {cap}",
                At(*entry, *message)
            ),
            TooManyHeaders { entry, field, count } => {
                write!(f, "entry {entry}: {count} {field}: only the first ones are kept")
            }
            HeldMessagesDropped { entry, dropped } => write!(
                f,
                "entry {entry}: {dropped} WebSocket message(s) listed before the request and response were dropped (held-message cap)"
            ),
            LateField { entry, field } => write!(
                f,
                "entry {entry}: {field} comes after _webSocketMessages: ignored"
            ),
            Suppressed { code, count } => write!(f, "{count} more {code} finding(s) not shown"),
        }
    }
}
