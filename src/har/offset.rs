//! Where in the file the JSON reader is: a reader wrapper that counts the
//! bytes serde_json consumed and where the last two lines started, so that
//! an error's line and column become a byte offset.
//!
//! Takes any `Read`; gives the same bytes, and the position through a shared
//! cell (serde_json does not give its reader back after an error). Never
//! buffers: wrap a `BufReader` (serde_json pulls one byte at a time).

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

/// How far the reader got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    consumed: u64,
    /// Number of `\n` read so far.
    newlines: u64,
    /// Offset just after the last `\n`, and after the one before it.
    line_start: u64,
    previous_line_start: u64,
}

impl Position {
    /// Counting starts after `skipped` bytes (a BOM).
    pub(crate) fn start(skipped: u64) -> Self {
        Position {
            consumed: skipped,
            newlines: 0,
            line_start: skipped,
            previous_line_start: skipped,
        }
    }

    /// Bytes read so far.
    pub(crate) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The offset just after serde_json's 1-based `line` and byte `column`
    /// (the bytes of that line it had read). serde_json reads at most one
    /// byte ahead, so the line is the current one or the one before.
    pub(crate) fn offset_of(&self, line: usize, column: usize) -> u64 {
        let current = self.newlines.saturating_add(1);
        let line = line as u64;
        let start = if line == current {
            self.line_start
        } else if line.saturating_add(1) == current {
            self.previous_line_start
        } else {
            return self.consumed;
        };
        start.saturating_add(column as u64).min(self.consumed)
    }

    fn advance(&mut self, bytes: &[u8]) {
        for (i, &byte) in bytes.iter().enumerate() {
            if byte == b'\n' {
                self.newlines += 1;
                self.previous_line_start = self.line_start;
                self.line_start = self.consumed + i as u64 + 1;
            }
        }
        self.consumed += bytes.len() as u64;
    }
}

/// A `Read` that records its [`Position`] in a shared cell.
pub(crate) struct Counting<R> {
    inner: R,
    position: Rc<Cell<Position>>,
}

impl<R: Read> Counting<R> {
    pub(crate) fn new(inner: R, position: Rc<Cell<Position>>) -> Self {
        Counting { inner, position }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut position = self.position.get();
        position.advance(buf.get(..n).unwrap_or_default());
        self.position.set(position);
        Ok(n)
    }
}
