//! Browser HAR files (HTTP Archive 1.2, as Chrome's and Edge's DevTools
//! export them): the evidence a Finesse case carries besides or instead of a
//! capture.
//!
//! Takes a reader over a HAR document, plain or gzip-compressed, and gives
//! its content to a [`Sink`] as it is read: a [`LogHeader`], then each
//! element of `log.entries` as an [`Entry`] (the request and response with
//! headers, bodies and timings) followed by that entry's WebSocket messages
//! as [`WsMessage`]s (already unmasked and inflated by the browser), and a
//! [`Finding`] for what is odd but readable. Each item carries its position
//! (index into `log.entries`, and into `_webSocketMessages`) and its time.
//!
//! It streams: entries and messages are handed over one at a time, so a
//! HAR of hundreds of megabytes is never held whole (serde_json still holds
//! the longest single string of the file while reading it). It never
//! decides what the traffic means (XMPP, BOSH, REST are later stages), never
//! redacts (the XMPP and HTTP stages do), never prints or logs content, and
//! never panics: JSON that cannot be read, or a document that is not a HAR,
//! ends the read with an [`Error`] naming the byte offset, after everything
//! read before it was given.

mod convert;
mod finding;
mod findings;
mod limits;
mod message;
mod model;
mod offset;
mod stream;
mod time;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fixtures;

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use flate2::read::MultiGzDecoder;
use serde::de::DeserializeSeed;

pub use finding::Finding;
pub use findings::FindingCode;
pub use limits::HarLimits;
pub use model::{
    header_value, Body, Entry, EntryKind, Header, LogHeader, Request, Response, Timings, WsMessage,
    WsPayload,
};

use offset::Counting;
use stream::{Root, Stage, State};

/// Receives what the reader reads, in file order: `on_log` once, then for
/// each entry `on_entry`, its findings, its messages (each message's
/// findings after it), and the per-socket findings when the entry ends.
/// `har.negative_sizes` and `har.suppressed` come last.
pub trait Sink {
    /// The `log` header fields read before `entries`.
    fn on_log(&mut self, _header: &LogHeader) {}
    fn on_entry(&mut self, entry: Entry);
    fn on_ws_message(&mut self, message: WsMessage);
    fn on_finding(&mut self, finding: Finding);
}

/// A sink that keeps everything: for tests and small files.
#[derive(Debug, Default)]
pub struct Collected {
    pub header: Option<LogHeader>,
    pub entries: Vec<Entry>,
    pub messages: Vec<WsMessage>,
    pub findings: Vec<Finding>,
}

impl Sink for Collected {
    fn on_log(&mut self, header: &LogHeader) {
        self.header = Some(header.clone());
    }
    fn on_entry(&mut self, entry: Entry) {
        self.entries.push(entry);
    }
    fn on_ws_message(&mut self, message: WsMessage) {
        self.messages.push(message);
    }
    fn on_finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}

/// What a complete read gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub entries: usize,
    pub messages: usize,
    /// Bytes of JSON read (after gzip decompression).
    pub bytes: u64,
}

/// Why a document is not a HAR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotHar {
    RootNotObject,
    NoLog,
    LogNotObject,
    NoEntries,
    EntriesNotArray,
}

impl fmt::Display for NotHar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotHar::RootNotObject => "the document is not a JSON object",
            NotHar::NoLog => "the document has no `log`",
            NotHar::LogNotObject => "`log` is not an object",
            NotHar::NoEntries => "`log` has no `entries`",
            NotHar::EntriesNotArray => "`log.entries` is not an array",
        })
    }
}

/// Why a read stopped. Offsets count bytes of JSON (after gzip
/// decompression, after a BOM); everything before the offset was given.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading the HAR failed at byte {offset}: {source}")]
    Io { offset: u64, source: io::Error },
    #[error("the HAR is truncated at byte {offset}: the JSON ends before the document does")]
    Truncated { offset: u64 },
    #[error("invalid JSON in the HAR at byte {offset} (line {line}, column {column}): {detail}")]
    Syntax {
        offset: u64,
        line: usize,
        column: usize,
        detail: String,
    },
    #[error("not a HAR at byte {offset}: {what}")]
    NotHar { offset: u64, what: NotHar },
}

/// What the first bytes of a file say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// A HAR document (JSON whose root object opens with `log`, possibly gzipped).
    Har,
    /// Not a HAR.
    NotHar,
    /// Too few bytes to tell.
    NeedMore,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";
const GZIP: &[u8] = b"\x1F\x8B";

/// Recognises a HAR by content: a UTF-8 BOM and whitespace are skipped, the
/// root must be an object whose first key is `log` (as every browser writes
/// it). Gzip is inflated far enough to look inside. Capture files (pcap,
/// pcapng magic) are never claimed.
pub fn detect(first_bytes: &[u8]) -> Probe {
    if first_bytes.starts_with(GZIP) {
        let mut inflated = Vec::new();
        // An error here is usually the end of the bytes given: judge what came out.
        let _ = MultiGzDecoder::new(first_bytes)
            .take(4096)
            .read_to_end(&mut inflated);
        return match probe_json(&inflated) {
            Probe::NeedMore if inflated.len() >= 4096 => Probe::NotHar,
            probe => probe,
        };
    }
    probe_json(first_bytes)
}

fn probe_json(bytes: &[u8]) -> Probe {
    const CAPTURE_MAGICS: [[u8; 4]; 5] = [
        [0x0a, 0x0d, 0x0d, 0x0a],
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
    ];
    if CAPTURE_MAGICS.iter().any(|magic| bytes.starts_with(magic)) {
        return Probe::NotHar;
    }
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let mut rest = bytes.iter().skip_while(|b| b.is_ascii_whitespace());
    let expected = b"{\"log\"";
    let mut matched = 0;
    while matched < expected.len() {
        let Some(&byte) = rest.next() else {
            return Probe::NeedMore;
        };
        // Whitespace may stand between `{` and the key.
        if matched == 1 && byte.is_ascii_whitespace() {
            continue;
        }
        if expected.get(matched) != Some(&byte) {
            return Probe::NotHar;
        }
        matched += 1;
    }
    match rest.find(|b| !b.is_ascii_whitespace()) {
        Some(b':') => Probe::Har,
        Some(_) => Probe::NotHar,
        None => Probe::NeedMore,
    }
}

/// Reads a whole HAR (plain or gzip) into `sink`.
pub fn read<R: Read>(input: R, limits: &HarLimits, sink: &mut dyn Sink) -> Result<Summary, Error> {
    let mut input = BufReader::with_capacity(64 << 10, input);
    let head = input
        .fill_buf()
        .map_err(|source| Error::Io { offset: 0, source })?;
    if head.starts_with(GZIP) {
        let inflated = BufReader::with_capacity(64 << 10, MultiGzDecoder::new(input));
        read_json(inflated, limits, sink)
    } else {
        read_json(input, limits, sink)
    }
}

fn read_json<B: BufRead>(
    mut input: B,
    limits: &HarLimits,
    sink: &mut dyn Sink,
) -> Result<Summary, Error> {
    let head = input
        .fill_buf()
        .map_err(|source| Error::Io { offset: 0, source })?;
    let skipped = if head.starts_with(BOM) { BOM.len() } else { 0 };
    input.consume(skipped);
    let position = Rc::new(Cell::new(offset::Position::start(skipped as u64)));
    let counting = Counting::new(input, Rc::clone(&position));
    let mut json = serde_json::Deserializer::from_reader(counting);
    let mut state = State::new(sink, limits);
    let result = Root(&mut state)
        .deserialize(&mut json)
        .and_then(|()| json.end());
    state.finish();
    let at = position.get();
    match result {
        Ok(()) => Ok(Summary {
            entries: state.entries,
            messages: state.messages,
            bytes: at.consumed(),
        }),
        Err(error) => Err(classify(error, at, state.stage, state.not_har)),
    }
}

/// Reads arbitrary bytes as a HAR into a sink that drops everything: the
/// entry for fuzzers (`crate::fuzzing::har_read`). Not a stable API.
#[doc(hidden)]
pub fn fuzz_read(data: &[u8]) {
    struct Drop;
    impl Sink for Drop {
        fn on_entry(&mut self, _: Entry) {}
        fn on_ws_message(&mut self, _: WsMessage) {}
        fn on_finding(&mut self, _: Finding) {}
    }
    let limits = HarLimits {
        max_body: 1 << 10,
        max_ws_message: 1 << 10,
        ..HarLimits::default()
    };
    let _ = detect(data);
    let _ = read(data, &limits, &mut Drop);
}

/// A serde_json error as a typed [`Error`] with a byte offset.
fn classify(
    error: serde_json::Error,
    at: offset::Position,
    stage: Stage,
    not_har: Option<NotHar>,
) -> Error {
    use serde_json::error::Category;
    let (line, column) = (error.line(), error.column());
    let offset = at.offset_of(line, column);
    match error.classify() {
        Category::Eof => Error::Truncated {
            offset: at.consumed(),
        },
        Category::Io => Error::Io {
            offset: at.consumed(),
            source: io::Error::from(error),
        },
        Category::Syntax => {
            let suffix = format!(" at line {line} column {column}");
            let detail = error.to_string();
            let detail = detail.strip_suffix(&suffix).unwrap_or(&detail).to_owned();
            Error::Syntax {
                offset: offset.saturating_sub(1),
                line,
                column,
                detail,
            }
        }
        Category::Data => {
            let what = not_har.unwrap_or(match stage {
                Stage::Root => NotHar::RootNotObject,
                Stage::Log => NotHar::LogNotObject,
                Stage::Entries | Stage::InEntries => NotHar::EntriesNotArray,
            });
            Error::NotHar {
                offset: offset.saturating_sub(1),
                what,
            }
        }
    }
}
