//! The streaming splitter of an XML stream into top-level items.
//!
//! Takes the bytes of one direction of an XMPP stream in pieces of any size;
//! gives the boundaries of its top-level items: XML declaration, stream header
//! (`<stream:stream ...>`, never closed), each complete child element, the
//! stream end (`</stream:stream>`), comments, and junk. It only tracks what
//! delimits markup (`<`, `>`, quotes, comments, CDATA, processing
//! instructions) and the element depth, so a `>` inside an attribute value,
//! a comment or CDATA never ends an element. It never buffers, never checks
//! well-formedness (the element parser does) and never fails: what is not
//! markup at top level is a junk item. After [`Scanner::hunt`] it skips to
//! the next `<` that starts a plausible top-level item.

/// What a top-level item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ItemKind {
    /// `<?xml ...?>` (or another processing instruction).
    Decl,
    /// A `<stream:stream ...>` start tag.
    Header,
    /// A complete element: `<x .../>` or `<x ...>...</x>`.
    Element,
    /// `</stream:stream>`.
    StreamEnd,
    /// `<!-- ... -->`.
    Comment,
    /// Bytes that are not a top-level item (text, stray end tags, CDATA,
    /// DTDs, or what was skipped while hunting for the next item).
    Junk,
}

/// Where the item still open at the end of an input began.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pending {
    /// No item is open: the input ended between items.
    None,
    /// An item began at this offset of the input and is still open.
    From(usize),
    /// An item that began in an earlier input is still open.
    All,
}

/// The outcome of scanning one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// An item ends just before offset `end` of the input. It began at
    /// `start` in this input, or in an earlier one when `start` is `None`.
    Item {
        start: Option<usize>,
        end: usize,
        kind: ItemKind,
    },
    /// The input is used up.
    More(Pending),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lex {
    Top,
    Junk,
    Text,
    Lt,
    StartName,
    Attrs,
    Quote(u8),
    Slash,
    EndName,
    EndRest,
    Bang,
    Comment(u8),
    CData(u8),
    Pi(bool),
    Markup,
}

/// What the scan loop does after one byte.
enum Flow {
    /// On to the next byte.
    Next,
    /// Skip this many bytes, then on to the next.
    Skip(usize),
    /// The input is used up.
    Stop,
    /// An item ended.
    Done(Step),
}

/// An ended item, or on to the next byte.
fn done(step: Option<Step>) -> Flow {
    step.map_or(Flow::Next, Flow::Done)
}

const NAME_CAP: usize = 64;
const COMMENT_OPEN: &[u8] = b"--";
const CDATA_OPEN: &[u8] = b"[CDATA[";

/// The resumable scanner of one direction.
#[derive(Clone, Debug)]
pub(crate) struct Scanner {
    lex: Lex,
    depth: u32,
    hunting: bool,
    /// Name of the last top-level tag (start or end), truncated to `NAME_CAP`.
    name: [u8; NAME_CAP],
    name_len: usize,
    bang: [u8; 7],
    bang_len: usize,
}

impl Default for Scanner {
    fn default() -> Scanner {
        Scanner {
            lex: Lex::Top,
            depth: 0,
            hunting: false,
            name: [0; NAME_CAP],
            name_len: 0,
            bang: [0; 7],
            bang_len: 0,
        }
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn local(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b':') {
        Some(i) => name.get(i + 1..).unwrap_or_default(),
        None => name,
    }
}

fn is_stream(name: &[u8]) -> bool {
    local(name) == b"stream"
}

/// Names that can start a top-level item of a client, server or component stream.
fn plausible_top(name: &[u8]) -> bool {
    if name.starts_with(b"stream:") || name.starts_with(b"db:") {
        return true;
    }
    matches!(
        name,
        b"iq"
            | b"message"
            | b"presence"
            | b"auth"
            | b"challenge"
            | b"response"
            | b"success"
            | b"failure"
            | b"abort"
            | b"starttls"
            | b"proceed"
            | b"open"
            | b"close"
            | b"compress"
            | b"compressed"
            | b"enable"
            | b"enabled"
            | b"resume"
            | b"resumed"
            | b"failed"
            | b"r"
            | b"a"
            | b"handshake"
    )
}

impl Scanner {
    /// A scanner that first skips to a plausible top-level item: for a
    /// stream seen from its middle, or after a gap.
    pub(crate) fn hunting() -> Scanner {
        let mut s = Scanner::default();
        s.hunt();
        s
    }

    /// Forgets the item in progress and skips to the next plausible top-level item.
    pub(crate) fn hunt(&mut self) {
        *self = Scanner {
            hunting: true,
            ..Scanner::default()
        };
    }

    /// Whether an item is open (bytes since its start are still needed).
    pub(crate) fn in_item(&self) -> bool {
        // Every item begins by leaving `Top` and ends by coming back to it.
        self.lex != Lex::Top
    }

    /// The name of the last top-level tag seen (for messages about partial items).
    pub(crate) fn name(&self) -> &[u8] {
        self.name.get(..self.name_len).unwrap_or_default()
    }

    fn push_name(&mut self, b: u8) {
        if let Some(slot) = self.name.get_mut(self.name_len) {
            *slot = b;
        }
        // One past the cap marks a name too long to be special.
        self.name_len = (self.name_len + 1).min(NAME_CAP);
    }

    fn name_is_long(&self) -> bool {
        self.name_len >= NAME_CAP
    }

    /// Scans `input` until the first item ends or the input is used up.
    pub(crate) fn scan(&mut self, input: &[u8]) -> Step {
        let mut start = None;
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            let at_top = self.depth == 0;
            let flow = match self.lex {
                Lex::Top => {
                    if b == b'<' {
                        self.begin(&mut start, i, Lex::Lt);
                    } else if !is_space(b) {
                        self.hunting = true;
                        self.begin(&mut start, i, Lex::Junk);
                    }
                    Flow::Next
                }
                Lex::Junk => match memchr::memchr(b'<', input.get(i..).unwrap_or_default()) {
                    Some(n) => Flow::Done(self.item(start, i + n, ItemKind::Junk)),
                    None => Flow::Stop,
                },
                Lex::Text => self.skip_to(b'<', input, i, Lex::Lt),
                Lex::Quote(q) => self.skip_to(q, input, i, Lex::Attrs),
                Lex::Lt => self.after_lt(start, i, b, at_top),
                Lex::StartName => self.in_start_name(start, i, b, at_top),
                Lex::Attrs | Lex::Slash => self.in_attrs(start, i, b),
                Lex::EndName | Lex::EndRest => self.in_end_tag(start, i, b, at_top),
                Lex::Bang => {
                    self.bang(b);
                    Flow::Next
                }
                Lex::Comment(_) | Lex::CData(_) | Lex::Pi(_) | Lex::Markup => {
                    self.in_markup(start, i, b)
                }
            };
            match flow {
                Flow::Next => i += 1,
                Flow::Skip(n) => i += n + 1,
                Flow::Stop => break,
                Flow::Done(step) => return step,
            }
        }
        Step::More(match (self.in_item(), start) {
            (false, _) => Pending::None,
            (true, Some(s)) => Pending::From(s),
            (true, None) => Pending::All,
        })
    }

    /// Text or a quoted value: jumps to the next `until` byte, then `next`.
    fn skip_to(&mut self, until: u8, input: &[u8], i: usize, next: Lex) -> Flow {
        match memchr::memchr(until, input.get(i..).unwrap_or_default()) {
            Some(n) => {
                self.lex = next;
                Flow::Skip(n)
            }
            None => Flow::Stop,
        }
    }

    /// The byte after a `<`: what kind of markup (or junk) this is.
    fn after_lt(&mut self, start: Option<usize>, i: usize, b: u8, at_top: bool) -> Flow {
        if at_top {
            self.name_len = 0;
        }
        self.lex = match b {
            b'/' => Lex::EndName,
            b'?' => Lex::Pi(false),
            b'!' if at_top && self.hunting => Lex::Junk,
            b'!' => {
                self.bang_len = 0;
                Lex::Bang
            }
            b'>' | b'<' | b'=' | b'"' | b'\'' if at_top => Lex::Junk,
            b if is_space(b) && at_top => Lex::Junk,
            b'>' | b'<' | b'=' | b'"' | b'\'' => Lex::Text,
            b if is_space(b) => Lex::Text,
            _ => {
                if at_top {
                    self.push_name(b);
                }
                Lex::StartName
            }
        };
        // Not markup after all; `<` itself would restart an item.
        if self.lex == Lex::Junk && b == b'<' {
            return Flow::Done(self.item(start, i, ItemKind::Junk));
        }
        Flow::Next
    }

    fn in_start_name(&mut self, start: Option<usize>, i: usize, b: u8, at_top: bool) -> Flow {
        let ends = is_space(b) || b == b'/' || b == b'>';
        if !ends {
            if at_top {
                self.push_name(b);
            }
            return Flow::Next;
        }
        if at_top && self.hunting && !self.plausible_start() {
            self.lex = Lex::Junk;
            return Flow::Next;
        }
        if at_top {
            self.hunting = false;
        }
        match b {
            b'/' => self.lex = Lex::Slash,
            b'>' => return done(self.tag_end(start, i, false)),
            _ => self.lex = Lex::Attrs,
        }
        Flow::Next
    }

    /// Inside a start tag, after its name (`Attrs`) or after a `/` (`Slash`).
    fn in_attrs(&mut self, start: Option<usize>, i: usize, b: u8) -> Flow {
        let slash = self.lex == Lex::Slash;
        match b {
            b'>' => return done(self.tag_end(start, i, slash)),
            b'"' | b'\'' => self.lex = Lex::Quote(b),
            b'/' => self.lex = Lex::Slash,
            _ if slash => self.lex = Lex::Attrs,
            _ => {}
        }
        Flow::Next
    }

    fn in_end_tag(&mut self, start: Option<usize>, i: usize, b: u8, at_top: bool) -> Flow {
        if b == b'>' {
            if let Some(step) = self.end_tag(start, i) {
                return Flow::Done(step);
            }
        } else if self.lex == Lex::EndName {
            if is_space(b) {
                self.lex = Lex::EndRest;
            } else if at_top {
                self.push_name(b);
            }
        }
        if at_top && self.hunting && self.lex == Lex::EndRest && !is_stream(self.name()) {
            self.lex = Lex::Junk;
        }
        Flow::Next
    }

    /// Comments, CDATA, processing instructions and other `<!...>` markup.
    fn in_markup(&mut self, start: Option<usize>, i: usize, b: u8) -> Flow {
        self.lex = match (self.lex, b) {
            (Lex::Comment(n), b'-') => Lex::Comment((n + 1).min(2)),
            (Lex::Comment(n), b'>') if n >= 2 => {
                return done(self.markup_end(start, i, ItemKind::Comment))
            }
            (Lex::Comment(_), _) => Lex::Comment(0),
            (Lex::CData(n), b']') => Lex::CData((n + 1).min(2)),
            (Lex::CData(n), b'>') if n >= 2 => {
                return done(self.markup_end(start, i, ItemKind::Junk))
            }
            (Lex::CData(_), _) => Lex::CData(0),
            (Lex::Pi(_), b'?') => Lex::Pi(true),
            (Lex::Pi(true), b'>') => return done(self.markup_end(start, i, ItemKind::Decl)),
            (Lex::Pi(_), _) => Lex::Pi(false),
            (Lex::Markup, b'>') => return done(self.markup_end(start, i, ItemKind::Junk)),
            (lex, _) => lex,
        };
        Flow::Next
    }

    fn begin(&mut self, start: &mut Option<usize>, i: usize, lex: Lex) {
        *start = Some(i);
        self.lex = lex;
    }

    fn item(&mut self, start: Option<usize>, end: usize, kind: ItemKind) -> Step {
        self.lex = Lex::Top;
        Step::Item { start, end, kind }
    }

    fn plausible_start(&self) -> bool {
        !self.name_is_long() && plausible_top(self.name())
    }

    /// `>` of a start tag at offset `i`.
    fn tag_end(&mut self, start: Option<usize>, i: usize, empty: bool) -> Option<Step> {
        if self.depth > 0 {
            if !empty {
                self.depth = self.depth.saturating_add(1);
            }
            self.lex = Lex::Text;
            return None;
        }
        if empty {
            return Some(self.item(start, i + 1, ItemKind::Element));
        }
        if !self.name_is_long() && is_stream(self.name()) {
            return Some(self.item(start, i + 1, ItemKind::Header));
        }
        self.depth = 1;
        self.lex = Lex::Text;
        None
    }

    /// `>` of an end tag at offset `i`.
    fn end_tag(&mut self, start: Option<usize>, i: usize) -> Option<Step> {
        match self.depth {
            0 => {
                let kind = if !self.name_is_long() && is_stream(self.name()) {
                    ItemKind::StreamEnd
                } else {
                    ItemKind::Junk
                };
                Some(self.item(start, i + 1, kind))
            }
            1 => {
                self.depth = 0;
                Some(self.item(start, i + 1, ItemKind::Element))
            }
            _ => {
                self.depth -= 1;
                self.lex = Lex::Text;
                None
            }
        }
    }

    /// `>` ending a comment, CDATA, PI or declaration: an item at top level.
    fn markup_end(&mut self, start: Option<usize>, i: usize, kind: ItemKind) -> Option<Step> {
        if self.depth == 0 {
            Some(self.item(start, i + 1, kind))
        } else {
            self.lex = Lex::Text;
            None
        }
    }

    fn bang(&mut self, b: u8) {
        if let Some(slot) = self.bang.get_mut(self.bang_len) {
            *slot = b;
            self.bang_len += 1;
        }
        let seen = self.bang.get(..self.bang_len).unwrap_or_default();
        if seen == COMMENT_OPEN {
            self.lex = Lex::Comment(0);
        } else if seen == CDATA_OPEN {
            self.lex = Lex::CData(0);
        } else if !COMMENT_OPEN.starts_with(seen) && !CDATA_OPEN.starts_with(seen) {
            // `<!DOCTYPE ...>` and friends: skip to `>` (the parser rejects them).
            self.lex = if b == b'>' { Lex::Text } else { Lex::Markup };
            if b == b'>' && self.depth == 0 {
                self.lex = Lex::Junk;
            }
        }
    }
}

#[cfg(test)]
mod tests;
