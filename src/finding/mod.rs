//! Findings: everything noteworthy or wrong that xmppcap saw in a capture.
//!
//! Takes facts from any stage; gives one plain, serialisable record with the
//! layer, severity, a stable machine code and a sentence for humans, located
//! by stream, direction, frame and byte offset where known. Anything wrong
//! inside a capture is a finding, never an error: the run always goes on.
//!
//! Codes are typed: each stage declares its own in its `findings.rs` with
//! [`finding_codes!`](codes) (code string, default level, meaning), [`Code`]
//! wraps them all and [`catalogue`] lists them. [`Throttle`] is the one
//! "first N, then a count" cut-off for findings that repeat.

mod code;
pub(crate) mod codes;
mod throttle;

#[cfg(test)]
mod catalogue_tests;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::Serialize;

use crate::position::{Dir, FrameRef, Timestamp};

pub use code::{catalogue, Code};
pub use throttle::{Overflow, Throttle};

/// How much a finding matters; `--fail-on` compares against this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth knowing, not a fault (e.g. capture started mid-connection).
    Info,
    /// Something that degrades what xmppcap or the user can see (a gap, an unmatched ping).
    Warn,
    /// A protocol failure or lost data (authentication failed, decryption impossible).
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pipeline stage a finding comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    Capture,
    Decode,
    Tcp,
    /// The connection and desktop stories (`conn.*`): across a desktop's connections.
    Conn,
    Tls,
    Http,
    Ws,
    Bosh,
    Xmpp,
    Finesse,
    Har,
    /// The whole analysis's budget (`limits.*`): a connection cut to stay within it.
    Limits,
    /// The report itself (`report.*`): what a renderer left out.
    Report,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Capture => "capture",
            Layer::Decode => "decode",
            Layer::Tcp => "tcp",
            Layer::Conn => "conn",
            Layer::Tls => "tls",
            Layer::Http => "http",
            Layer::Ws => "ws",
            Layer::Bosh => "bosh",
            Layer::Xmpp => "xmpp",
            Layer::Finesse => "finesse",
            Layer::Har => "har",
            Layer::Limits => "limits",
            Layer::Report => "report",
        }
    }
}

/// One finding. Build with [`Finding::new`] and the `at_*`/`in_*` helpers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The code's default level unless the stage decided otherwise ([`Finding::with_level`]).
    pub level: Level,
    /// Stable machine-readable code, `layer.what` (e.g. `tcp.gap`, `capture.truncated`).
    pub code: Code,
    /// One sentence for a human, with the numbers that matter.
    pub message: String,
    /// Wireshark `tcp.stream` index, when the finding belongs to a connection.
    pub stream: Option<u64>,
    pub dir: Option<Dir>,
    /// Wireshark `frame.number` where the problem shows.
    pub frame: Option<u64>,
    pub time: Option<Timestamp>,
    /// Byte offset: in the file for capture findings, in the direction's stream otherwise.
    pub offset: Option<u64>,
}

impl Finding {
    /// Where the finding shows: its frame, or its HAR entry and message.
    pub fn position(&self) -> Option<crate::position::Position> {
        self.frame.map(crate::position::Position::of_frame_number)
    }

    /// A finding of `code` at the code's default level.
    pub fn new(code: impl Into<Code>, message: impl Into<String>) -> Finding {
        let code = code.into();
        Finding {
            level: code.level(),
            code,
            message: message.into(),
            stream: None,
            dir: None,
            frame: None,
            time: None,
            offset: None,
        }
    }

    /// Overrides the code's default level, where the stage decides by context.
    pub fn with_level(mut self, level: Level) -> Finding {
        self.level = level;
        self
    }

    /// The layer the finding is reported under, from its code.
    pub fn layer(&self) -> Layer {
        self.code.layer()
    }

    /// Locates the finding at a frame.
    pub fn at(mut self, at: FrameRef) -> Finding {
        self.frame = Some(at.frame);
        self.time = Some(at.ts);
        self
    }

    /// Locates the finding in a connection and direction.
    pub fn in_stream(mut self, stream: u64, dir: Option<Dir>) -> Finding {
        self.stream = Some(stream);
        self.dir = dir;
        self
    }

    /// Adds a byte offset (file offset for capture findings, stream offset otherwise).
    pub fn at_offset(mut self, offset: u64) -> Finding {
        self.offset = Some(offset);
        self
    }

    /// Cuts the message to [`MAX_MESSAGE`] bytes (on a character boundary):
    /// messages quote captured names and values, which can be megabytes.
    pub fn clipped(mut self) -> Finding {
        if self.message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !self.message.is_char_boundary(cut) {
                cut -= 1;
            }
            self.message.truncate(cut);
            self.message.push('…');
        }
        self
    }
}

/// The JSON shape of a finding: today's field order, with the layer taken
/// from the code.
#[derive(Serialize)]
struct Repr<'a> {
    level: Level,
    layer: Layer,
    code: Code,
    message: &'a str,
    stream: Option<u64>,
    dir: Option<Dir>,
    frame: Option<u64>,
    /// Where a finding in a HAR is (`frame` is null then); absent for captures.
    #[serde(skip_serializing_if = "Option::is_none")]
    har: Option<crate::position::HarPosition>,
    time: &'a Option<Timestamp>,
    offset: Option<u64>,
}

impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Repr {
            level: self.level,
            layer: self.layer(),
            code: self.code,
            message: &self.message,
            stream: self.stream,
            dir: self.dir,
            frame: self.position().and_then(crate::position::Position::frame),
            har: self.position().and_then(crate::position::Position::har),
            time: &self.time,
            offset: self.offset,
        }
        .serialize(s)
    }
}

/// Longest finding message kept, in bytes.
pub const MAX_MESSAGE: usize = 1024;

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.level, self.code, self.message)?;
        if let Some(position) = self.position() {
            write!(f, " ({position})")?;
        }
        Ok(())
    }
}

/// Anything a stage can hand findings to: the pipeline's sink, or a `Vec` in tests.
pub trait Findings {
    fn push_finding(&mut self, finding: Finding);
}

impl Findings for Vec<Finding> {
    fn push_finding(&mut self, finding: Finding) {
        self.push(finding);
    }
}
