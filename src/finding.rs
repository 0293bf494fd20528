//! Findings: everything noteworthy or wrong that xmppcap saw in a capture.
//!
//! Takes facts from any stage; gives one plain, serialisable record with the
//! layer, severity, a stable machine code and a sentence for humans, located
//! by stream, direction, frame and byte offset where known. Anything wrong
//! inside a capture is a finding, never an error: the run always goes on.

use std::fmt;

use serde::Serialize;

use crate::position::{Dir, FrameRef, Timestamp};

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
    Tls,
    Http,
    Ws,
    Bosh,
    Xmpp,
    Finesse,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Capture => "capture",
            Layer::Decode => "decode",
            Layer::Tcp => "tcp",
            Layer::Tls => "tls",
            Layer::Http => "http",
            Layer::Ws => "ws",
            Layer::Bosh => "bosh",
            Layer::Xmpp => "xmpp",
            Layer::Finesse => "finesse",
        }
    }
}

/// One finding. Build with [`Finding::new`] and the `at_*`/`in_*` helpers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub level: Level,
    pub layer: Layer,
    /// Stable machine-readable code, `layer.what` (e.g. `tcp.gap`, `capture.truncated`).
    pub code: &'static str,
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
    pub fn new(
        level: Level,
        layer: Layer,
        code: &'static str,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            level,
            layer,
            code,
            message: message.into(),
            stream: None,
            dir: None,
            frame: None,
            time: None,
            offset: None,
        }
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

/// Longest finding message kept, in bytes.
pub const MAX_MESSAGE: usize = 1024;

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.level, self.code, self.message)?;
        if let Some(frame) = self.frame {
            write!(f, " (frame {frame})")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_clipped_on_a_character() {
        let f = Finding::new(Level::Info, Layer::Xmpp, "x.y", "é".repeat(2000)).clipped();
        assert_eq!(f.message.len(), MAX_MESSAGE + '…'.len_utf8());
        assert!(f.message.ends_with('…'));
        let short = Finding::new(Level::Info, Layer::Xmpp, "x.y", "short").clipped();
        assert_eq!(short.message, "short");
    }

    #[test]
    fn levels_order_for_fail_on() {
        assert!(Level::Info < Level::Warn && Level::Warn < Level::Error);
    }

    #[test]
    fn builder_locates_finding() {
        let f = Finding::new(Level::Warn, Layer::Tcp, "tcp.gap", "12 bytes missing")
            .at(FrameRef::new(7, Timestamp::default()))
            .in_stream(3, Some(Dir::ServerToClient))
            .at_offset(100);
        assert_eq!(
            (f.frame, f.stream, f.dir, f.offset),
            (Some(7), Some(3), Some(Dir::ServerToClient), Some(100))
        );
        assert_eq!(f.to_string(), "warn tcp.gap: 12 bytes missing (frame 7)");
    }
}
