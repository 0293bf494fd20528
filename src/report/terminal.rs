//! Captured text made safe for a terminal.
//!
//! Takes captured strings or bytes (SNI, certificate names, JIDs, SASL
//! identities, presence, Finesse states, HTTP lines, file names, whole
//! readable streams); gives text that shows every character a terminal would
//! act on or hide as a visible escape: C0 and C1 controls and DEL as
//! `\u{1b}`, bidirectional overrides and isolates and other invisible format
//! characters as `\u{202e}`, invalid UTF-8 as `\xff`. Never lets a captured
//! byte clear the screen, retitle the window, write the clipboard (OSC 52),
//! move the cursor or reorder what the reader sees; never drops a character
//! silently except the CR of a CRLF line ending in a multi-line [`block`].

use std::borrow::Cow;
use std::fmt::Write as _;

/// One captured value shown on one line (a table cell, a header fact): every
/// control character is escaped, newlines and tabs included, so a value can
/// neither drive the terminal nor fake a line of the report.
pub fn field(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| needs_escape(c) || c == '\n' || c == '\t')
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) || c == '\n' || c == '\t' {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Captured bytes shown as several lines (a readable stream, a message's
/// text): newlines and tabs stay, the CR of each CRLF is dropped, a bare CR
/// and every other control or invisible format character is escaped, invalid
/// UTF-8 is shown as `\xNN`.
pub fn block(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len());
    for chunk in data.utf8_chunks() {
        let mut chars = chunk.valid().chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\n' | '\t' => out.push(c),
                // A line ending, not a cursor move: CRLF reads as a newline.
                '\r' if chars.peek() == Some(&'\n') => {}
                c if needs_escape(c) => push_escape(&mut out, c),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Characters a terminal acts on or that change how the text around them
/// reads without being seen.
fn needs_escape(c: char) -> bool {
    c.is_control() || is_invisible_format(c)
}

/// Unicode format characters (category Cf) and the line and paragraph
/// separators: bidi embeddings, overrides, isolates and marks, zero-width
/// characters, invisible operators, the byte-order mark, interlinear
/// annotation and tag characters. A terminal shows none of them, yet bidi
/// ones reorder the text after them (CVE-2021-42574, "Trojan Source").
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

fn push_escape(out: &mut String, c: char) {
    // Writing to a String cannot fail.
    let _ = write!(out, "\\u{{{:x}}}", c as u32);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte a terminal could act on, as the issue lists them.
    const HOSTILE: &str = "a\u{1b}[2Jb\u{1b}]0;title\u{7}c\u{1b}]52;c;aGk=\u{7}d\re\u{202e}f";

    fn assert_inert(shown: &str) {
        for bad in ['\u{1b}', '\u{7}', '\r', '\u{202e}', '\u{9b}', '\u{7f}'] {
            assert!(!shown.contains(bad), "{bad:?} in {shown:?}");
        }
    }

    #[test]
    fn field_escapes_controls_bidi_and_line_breaks() {
        let shown = field(HOSTILE);
        assert_eq!(
            shown,
            "a\\u{1b}[2Jb\\u{1b}]0;title\\u{7}c\\u{1b}]52;c;aGk=\\u{7}d\\u{d}e\\u{202e}f"
        );
        assert_inert(&shown);
        assert_eq!(field("x\ny\tz"), "x\\u{a}y\\u{9}z");
    }

    #[test]
    fn field_leaves_ordinary_text_borrowed() {
        assert!(matches!(
            field("agent1@finesse.example/desk · é → ✓"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn c1_controls_del_and_invisible_format_characters_are_escaped() {
        assert_eq!(field("\u{9b}2J\u{7f}"), "\\u{9b}2J\\u{7f}");
        for c in [
            '\u{200b}', '\u{200e}', '\u{2066}', '\u{2069}', '\u{202a}', '\u{feff}', '\u{2028}',
        ] {
            assert_eq!(field(&c.to_string()), format!("\\u{{{:x}}}", c as u32));
        }
    }

    #[test]
    fn block_keeps_lines_and_drops_only_the_cr_of_crlf() {
        assert_eq!(
            block(b"GET / HTTP/1.1\r\nHost: x\r\n"),
            "GET / HTTP/1.1\nHost: x\n"
        );
        assert_eq!(block(b"over\rwrite"), "over\\u{d}write");
        assert_eq!(block(b"end\r"), "end\\u{d}");
        assert_eq!(block(b"\x1b[31mred\xff"), "\\u{1b}[31mred\\xff");
        assert_inert(&block(HOSTILE.as_bytes()));
    }

    #[test]
    fn invalid_utf8_is_shown_byte_by_byte() {
        // C1 CSI as a raw byte is not UTF-8: it must not reach an 8-bit terminal.
        assert_eq!(block(b"\x9b2J\xe2\x80"), "\\x9b2J\\xe2\\x80");
    }
}
