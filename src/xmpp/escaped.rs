//! Long escaped texts inside one element, the way a Finesse notification
//! (hundreds of `&lt;`) travels in its pubsub item.
//!
//! Takes the element's text; gives a copy with those texts blanked out (so
//! that quick-xml reads each as one text event instead of one event per
//! reference), their byte ranges, and their unescaped text in one pass.
//! Never moves an offset (runs are blanked with as many spaces) and never
//! decides anything differently from quick-xml: any reference but the five
//! predefined entities, and any error, goes to quick-xml's own unescape.

use std::borrow::Cow;

use super::element::XmlError;

/// Buffers reused from one element to the next (a session parses many).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The copy of the element with long escaped texts blanked out.
    masked: String,
    /// Those texts' byte ranges.
    runs: Vec<(usize, usize)>,
}

impl Scratch {
    /// Bytes held now, by length as every stage counts for the memory
    /// budget (the capacity kept between elements is bounded by
    /// [`Scratch::keep_small`]).
    pub(crate) fn held_bytes(&self) -> usize {
        self.masked.len() + self.runs.len() * std::mem::size_of::<(usize, usize)>()
    }
}

/// What a [`Scratch`] keeps between elements at most; a larger buffer
/// (one big stanza) is given back.
const SCRATCH_KEEP: usize = 64 * 1024;

impl Scratch {
    /// Gives back a buffer grown by one big stanza.
    pub(crate) fn keep_small(&mut self) {
        if self.masked.capacity() > SCRATCH_KEEP {
            *self = Scratch::default();
        }
    }
}

/// Text runs worth blanking out: at least this many references in the element...
const MASK_MIN_REFS: usize = 16;
/// ...and runs of at least this many bytes.
const MASK_MIN_RUN: usize = 64;

/// What a blanked run is made of, a piece at a time.
const SPACES: &str = "                                                                ";

impl Scratch {
    /// A copy of `src` with long escaped character-data runs replaced by
    /// spaces (same length, so every offset stays valid), and those runs;
    /// `None` when there are none.
    ///
    /// A run is the text between the last `>` before an `&` and the next `<`;
    /// it is character data only if it holds no `>` (otherwise the `&` is in
    /// an attribute value, a comment, CDATA or a PI, whose ends hold a `>`).
    pub(crate) fn mask(&mut self, src: &str) -> Option<(&str, &[(usize, usize)])> {
        let bytes = src.as_bytes();
        memchr::memchr_iter(b'&', bytes).nth(MASK_MIN_REFS)?;
        find_runs(bytes, &mut self.runs);
        if self.runs.is_empty() {
            return None;
        }
        blank_runs(src, &self.runs, &mut self.masked);
        Some((self.masked.as_str(), self.runs.as_slice()))
    }
}

/// The escaped character-data runs of `bytes` worth blanking out.
fn find_runs(bytes: &[u8], runs: &mut Vec<(usize, usize)>) {
    runs.clear();
    let mut i = 0;
    while let Some(off) = bytes.get(i..).and_then(|b| memchr::memchr(b'&', b)) {
        let amp = i + off;
        let before = bytes.get(..amp).unwrap_or_default();
        let start = memchr::memrchr(b'>', before).map_or(0, |p| p + 1);
        let after = bytes.get(amp..).unwrap_or_default();
        let end = memchr::memchr(b'<', after).map_or(bytes.len(), |p| amp + p);
        let run = bytes.get(start..end).unwrap_or_default();
        if start > 0
            && end < bytes.len()
            && run.len() >= MASK_MIN_RUN
            && memchr::memchr(b'>', run).is_none()
        {
            runs.push((start, end));
        }
        i = end.max(amp + 1);
    }
}

/// `src` into `copy` with `runs` replaced by spaces. Runs start after `>`
/// and end at `<`: whole characters are blanked, and the copy is built from
/// slices of `src` so it needs no UTF-8 check.
fn blank_runs(src: &str, runs: &[(usize, usize)], copy: &mut String) {
    copy.clear();
    let mut kept = 0;
    for &(start, end) in runs {
        copy.push_str(src.get(kept..start).unwrap_or_default());
        let mut blank = end - start;
        while blank > 0 {
            let step = blank.min(SPACES.len());
            copy.push_str(SPACES.get(..step).unwrap_or_default());
            blank -= step;
        }
        kept = end;
    }
    copy.push_str(src.get(kept..).unwrap_or_default());
}

/// The text of a Text event, from the source: unescaped if it is a blanked run.
pub(crate) fn source_text<'a>(
    src: &'a str,
    span: (usize, usize),
    runs: &[(usize, usize)],
) -> Result<Cow<'a, str>, XmlError> {
    let raw = src.get(span.0..span.1).unwrap_or_default();
    if runs.binary_search(&span).is_err() {
        // quick-xml splits text at every `&`: outside runs a Text event is verbatim.
        return Ok(Cow::Borrowed(raw));
    }
    unescape(raw).map_err(|e| match e {
        quick_xml::escape::EscapeError::UnrecognizedEntity(_, name) => {
            XmlError::UnknownEntity { name }
        }
        other => XmlError::Syntax {
            position: span.0 as u64,
            source: other.into(),
        },
    })
}

/// `quick_xml::escape::unescape`, with the five predefined entities (a
/// Finesse notification holds hundreds of `&lt;`) replaced in one pass here;
/// any other reference or error sends the whole text to quick-xml.
pub(crate) fn unescape(raw: &str) -> Result<Cow<'_, str>, quick_xml::escape::EscapeError> {
    let Some(first) = memchr::memchr(b'&', raw.as_bytes()) else {
        return Ok(Cow::Borrowed(raw));
    };
    let (head, mut rest) = raw.as_bytes().split_at_checked(first).unwrap_or_default();
    // Room for `copy_text` to write a whole word past the end.
    let mut out = Vec::with_capacity(raw.len() + 8);
    out.extend_from_slice(head);
    // `rest` starts at an `&`.
    while !rest.is_empty() {
        let (value, len) = match rest {
            [_, b'l', b't', b';', ..] => (b'<', 4),
            [_, b'g', b't', b';', ..] => (b'>', 4),
            [_, b'a', b'm', b'p', b';', ..] => (b'&', 5),
            [_, b'q', b'u', b'o', b't', b';', ..] => (b'"', 6),
            [_, b'a', b'p', b'o', b's', b';', ..] => (b'\'', 6),
            _ => return quick_xml::escape::unescape(raw),
        };
        out.push(value);
        rest = copy_text(rest.get(len..).unwrap_or_default(), &mut out);
    }
    // Only ASCII references were replaced, between whole characters of `raw`.
    match String::from_utf8(out) {
        Ok(text) => Ok(Cow::Owned(text)),
        Err(_) => quick_xml::escape::unescape(raw),
    }
}

/// Copies `text` up to its next `&` into `out`; gives the rest (from the `&`).
///
/// References are a few bytes apart: eight bytes are copied at a time and
/// checked for an `&` as one word, and the copy is cut back to it, rather
/// than a search being set up (or a byte loop branching) for each.
fn copy_text<'t>(mut text: &'t [u8], out: &mut Vec<u8>) -> &'t [u8] {
    const AMPS: u64 = u64::from_le_bytes([b'&'; 8]);
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    while let Some(word) = text.first_chunk::<8>() {
        out.extend_from_slice(word);
        // A zero byte of `x` is an `&`; the lowest flagged byte is the first one.
        let x = u64::from_le_bytes(*word) ^ AMPS;
        let amps = x.wrapping_sub(ONES) & !x & HIGHS;
        if amps == 0 {
            text = text.get(8..).unwrap_or_default();
            continue;
        }
        let at = (amps.trailing_zeros() / 8) as usize;
        // The word was just pushed: the length is at least 8.
        out.truncate(out.len().saturating_sub(8 - at));
        return text.get(at..).unwrap_or_default();
    }
    let at = text.iter().position(|&b| b == b'&').unwrap_or(text.len());
    let (plain, rest) = text.split_at_checked(at).unwrap_or_default();
    out.extend_from_slice(plain);
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_agrees_with_quick_xml() {
        let pieces = [
            "",
            "a",
            "é",
            ";",
            "&",
            "&lt;",
            "&gt;",
            "&amp;",
            "&quot;",
            "&apos;",
            "&lt",
            "&amp",
            "&#65;",
            "&#x41;",
            "&#0;",
            "&nbsp;",
            "&;",
            "&LT;",
            "&apos",
            "abcdefgh",
            "0123456789abc",
            "éèà€",
            "&amp;amp;",
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        for round in 0..20_000 {
            let n = if round < pieces.len() {
                1
            } else {
                rng.usize(1..8)
            };
            let s: String = (0..n)
                .map(|i| {
                    if round < pieces.len() {
                        pieces[round]
                    } else {
                        pieces[(rng.usize(..pieces.len()) + i) % pieces.len()]
                    }
                })
                .collect();
            let ours = format!("{:?}", unescape(&s));
            let theirs = format!("{:?}", quick_xml::escape::unescape(&s));
            assert_eq!(ours, theirs, "{s:?}");
        }
    }

    #[test]
    fn runs_are_blanked_in_place() {
        let inner = "&lt;a&gt;".repeat(20);
        let src = format!("<m x='&amp;'><n>{inner}</n><o>&lt;</o></m>");
        let mut scratch = Scratch::default();
        let (masked, runs) = scratch.mask(&src).unwrap();
        assert_eq!(masked.len(), src.len());
        let start = src.find("&lt;a").unwrap();
        assert_eq!(runs, [(start, start + inner.len())]);
        assert_eq!(&masked[start..start + inner.len()], " ".repeat(inner.len()));
        assert_eq!(masked, src.replace(&inner, &" ".repeat(inner.len())));
        assert!(Scratch::default().mask("<m>&lt;</m>").is_none());
    }
}
