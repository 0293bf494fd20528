//! The header lines of a head, checked one by one the way httparse reads
//! them in its tolerant mode, to say which ones it skips and why.
//!
//! httparse, told to ignore invalid header lines, drops a bad line silently
//! (and still refuses a whole head for a NUL or a bare CR). This module
//! takes the head and gives each malformed header field (its name as far as
//! it reads, line number, the offending byte's position, the line shown
//! escaped), whether httparse would refuse the head for it, and the head
//! without those fields for that case. Pure; never allocates unless a line
//! is bad; bounded by the head it is given.

use std::ops::Range;

use thiserror::Error;

/// Malformed header fields described one by one; the rest are only counted.
pub(crate) const MAX_DESCRIBED: usize = 8;
/// Bytes of a bad line shown in its description.
const MAX_SHOWN: usize = 160;

/// Which kind of head: responses may put whitespace before the colon and
/// fold lines (RFC 9112 sections 5.1 and 5.2 ask user agents to accept both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Request,
    Response,
}

/// What is wrong with a header line.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub(crate) enum HeaderFault {
    #[error("byte 0x{byte:02x} in the name")]
    NameByte { byte: u8 },
    #[error("byte 0x{byte:02x} in the value")]
    ValueByte { byte: u8 },
    #[error("a bare CR (no LF after it)")]
    BareCr,
    #[error("no colon after the name")]
    NoColon,
    #[error("no name before the colon")]
    EmptyName,
    #[error("whitespace between the name and the colon")]
    SpaceBeforeColon,
    #[error("a continuation line (obsolete line folding)")]
    Folded,
    /// Not a header: a control byte in the request target, read as `?`.
    #[error("byte 0x{byte:02x} in the request target")]
    TargetByte { byte: u8 },
}

/// One header field the tolerant parse skips.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BadHeader {
    /// The name as far as it could be read (for a continuation line in a
    /// request, the name of the field it continues); may be empty.
    pub name: String,
    /// Line number in the head; the start line is line 1.
    pub line: usize,
    /// Position of the offending byte from the head's first byte.
    pub at: usize,
    pub fault: HeaderFault,
    /// The line (from its value on, when it has one), escaped and clipped.
    pub shown: String,
}

/// The malformed header fields of a head.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct BadHeaders {
    /// The first [`MAX_DESCRIBED`], in head order.
    pub described: Vec<BadHeader>,
    /// How many more there were.
    pub more: usize,
    /// Fields httparse refuses the whole head for (a NUL, a bare CR).
    refused: Vec<Range<usize>>,
}

impl BadHeaders {
    /// Bytes of the fields httparse would refuse the head for.
    pub fn refused_len(&self) -> usize {
        self.refused.iter().map(|r| r.len()).sum()
    }

    /// `head` without the fields httparse would refuse it for; None when there are none.
    pub fn without_refused(&self, head: &[u8]) -> Option<Vec<u8>> {
        if self.refused.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(head.len());
        let mut from = 0;
        for r in &self.refused {
            out.extend_from_slice(head.get(from..r.start).unwrap_or_default());
            from = r.end;
        }
        out.extend_from_slice(head.get(from..).unwrap_or_default());
        Some(out)
    }
}

/// The request line's target with the bytes httparse refuses there (C0
/// controls, space, DEL) replaced by `?`: the same length, so offsets hold,
/// and one bad byte in a URL does not hide the exchange (Wireshark still
/// dissects such a request). Gives the repaired head and each byte
/// replaced, described; `None` when the target is clean or the request
/// line is not complete yet.
pub(crate) fn repair_target(head: &[u8]) -> Option<(Vec<u8>, Vec<BadHeader>)> {
    let line_end = head.iter().position(|b| *b == b'\n')?;
    let line = head.get(..line_end)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let first_space = line.iter().position(|b| *b == b' ')?;
    let version_space = line.iter().rposition(|b| *b == b' ')?;
    let after = line.get(version_space + 1..)?;
    if version_space <= first_space || !after.starts_with(b"HTTP/") {
        return None;
    }
    let target = first_space + 1..version_space;
    let bad: Vec<usize> = target
        .clone()
        .filter(|&i| line.get(i).is_some_and(|&b| b < 0x21 || b == 0x7f))
        .collect();
    if bad.is_empty() {
        return None;
    }
    let mut repaired = head.to_vec();
    let mut described = Vec::new();
    for &i in &bad {
        let byte = head.get(i).copied().unwrap_or(b'?');
        if let Some(slot) = repaired.get_mut(i) {
            *slot = b'?';
        }
        if described.len() < MAX_DESCRIBED {
            described.push(BadHeader {
                name: String::new(),
                line: 1,
                at: i,
                fault: HeaderFault::TargetByte { byte },
                shown: line
                    .get(target.clone())
                    .unwrap_or_default()
                    .iter()
                    .take(MAX_SHOWN)
                    .copied()
                    .collect::<Vec<u8>>()
                    .escape_ascii()
                    .to_string(),
            });
        }
    }
    Some((repaired, described))
}

/// The request line is not complete yet and what it has of the target holds
/// a byte httparse refuses: wait for the line's end (then
/// [`repair_target`] reads it) rather than let httparse refuse the head.
pub(crate) fn target_unfinished_and_bad(head: &[u8]) -> bool {
    if head.contains(&b'\n') {
        return false;
    }
    let Some(first_space) = head.iter().position(|b| *b == b' ') else {
        return false;
    };
    let rest = head.get(first_space + 1..).unwrap_or_default();
    let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
    rest.iter().any(|&b| (b < 0x21 && b != b' ') || b == 0x7f)
}

/// httparse's header-name bytes (RFC 9110 `tchar`).
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// httparse's header-value bytes: HTAB, visible ASCII, space, obs-text.
fn is_value_byte(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}

/// Checks every header line of `head` (a whole head, or a prefix of one:
/// an unfinished last line is judged only on the bytes it has).
pub(crate) fn check(head: &[u8], kind: Kind) -> BadHeaders {
    let mut out = BadHeaders::default();
    let Some(start_line_end) = head.iter().position(|b| *b == b'\n') else {
        return out;
    };
    let mut pos = start_line_end + 1;
    let mut line = 2;
    let mut last_name: &[u8] = b"";
    while let Some(rest) = head.get(pos..).filter(|r| !r.is_empty()) {
        if rest.starts_with(b"\n") || rest.starts_with(b"\r\n") {
            break; // the empty line: end of the head
        }
        let len = field_len(rest, kind);
        let field = rest.get(..len).unwrap_or_default();
        let lines = field.iter().filter(|b| **b == b'\n').count().max(1);
        match judge(field, kind) {
            Ok(name) => last_name = name,
            Err((fault, at)) => {
                let name = match fault {
                    HeaderFault::Folded => last_name,
                    _ => {
                        let len = field.iter().take_while(|b| is_token(**b)).count();
                        field.get(..len).unwrap_or_default()
                    }
                };
                out.note(field, pos..pos + len, (fault, at), (name, line));
            }
        }
        pos += len;
        line += lines;
    }
    out
}

impl BadHeaders {
    fn note(
        &mut self,
        field: &[u8],
        span: Range<usize>,
        (fault, at): (HeaderFault, usize),
        (name, line): (&[u8], usize),
    ) {
        if field.contains(&0) || has_bare_cr(field) {
            self.refused.push(span.clone());
        }
        if self.described.len() >= MAX_DESCRIBED {
            self.more += 1;
            return;
        }
        let colon = field.iter().position(|b| *b == b':');
        let shown_from = match (&fault, colon) {
            (HeaderFault::ValueByte { .. } | HeaderFault::BareCr, Some(c)) if c < at => c + 1,
            _ => 0,
        };
        let shown = field
            .get(shown_from..)
            .unwrap_or_default()
            .trim_ascii()
            .iter()
            .take(MAX_SHOWN)
            .copied()
            .collect::<Vec<u8>>();
        self.described.push(BadHeader {
            name: String::from_utf8_lossy(name).into_owned(),
            line,
            at: span.start + at,
            fault,
            shown: shown.escape_ascii().to_string(),
        });
    }
}

/// A CR not followed by LF (a CR ending the bytes may still get its LF).
fn has_bare_cr(bytes: &[u8]) -> bool {
    bytes
        .windows(2)
        .any(|w| matches!(w, [b'\r', next] if *next != b'\n'))
}

/// Bytes of the field starting `rest`: its line, and for a response the
/// continuation lines folded into it.
fn field_len(rest: &[u8], kind: Kind) -> usize {
    let line_len = |from: usize| {
        rest.get(from..)
            .and_then(|r| r.iter().position(|b| *b == b'\n'))
            .map_or(rest.len(), |i| from + i + 1)
    };
    let mut end = line_len(0);
    if kind == Kind::Response {
        while matches!(rest.get(end), Some(b' ' | b'\t')) {
            end = line_len(end);
        }
    }
    end
}

/// The field's name when httparse keeps it; else what is wrong and where
/// (from the field's first byte).
fn judge(field: &[u8], kind: Kind) -> Result<&[u8], (HeaderFault, usize)> {
    let name_len = field.iter().take_while(|b| is_token(**b)).count();
    let after = field.get(name_len..).unwrap_or_default();
    let fault = |f: HeaderFault, i: usize| Err((f, name_len + i));
    match after {
        [b':', value @ ..] if name_len > 0 => {
            return judge_value(value)
                .map_err(|(f, i)| (f, name_len + 1 + i))
                .map(|()| field.get(..name_len).unwrap_or_default());
        }
        [b':', ..] => return Err((HeaderFault::EmptyName, 0)),
        [b' ' | b'\t', ..] if name_len == 0 => return Err((HeaderFault::Folded, 0)),
        _ => {}
    }
    let spaces = after
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    match (after, after.get(spaces)) {
        (_, Some(b':')) if spaces > 0 && kind == Kind::Response => {
            let value = after.get(spaces + 1..).unwrap_or_default();
            let skip = name_len + spaces + 1;
            judge_value(value)
                .map_err(|(f, i)| (f, skip + i))
                .map(|()| field.get(..name_len).unwrap_or_default())
        }
        (_, Some(b':')) if spaces > 0 => fault(HeaderFault::SpaceBeforeColon, 0),
        ([b'\r', b'\n', ..] | [b'\n', ..], _) => fault(HeaderFault::NoColon, 0),
        ([b'\r', next, ..], _) if *next != b'\n' => fault(HeaderFault::BareCr, 0),
        ([] | [b'\r'], _) => Ok(b""), // unfinished: nothing wrong yet
        (_, None) if spaces > 0 => Ok(b""),
        (_, Some(b'\r' | b'\n')) if spaces > 0 => fault(HeaderFault::NoColon, 0),
        ([byte, ..], _) => fault(HeaderFault::NameByte { byte: *byte }, 0),
    }
}

/// Checks the bytes after the colon (continuation lines included).
fn judge_value(value: &[u8]) -> Result<(), (HeaderFault, usize)> {
    let mut i = 0;
    while let Some(&b) = value.get(i) {
        match (b, value.get(i + 1)) {
            (b'\r', Some(b'\n')) => i += 2,
            (b'\r', None) => return Ok(()), // unfinished
            (b'\r', Some(_)) => return Err((HeaderFault::BareCr, i)),
            (b'\n', _) => i += 1,
            (b, _) if is_value_byte(b) => i += 1,
            (byte, _) => return Err((HeaderFault::ValueByte { byte }, i)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
