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

const NAME_CAP: usize = 64;
const COMMENT_OPEN: &[u8] = b"--";
const CDATA_OPEN: &[u8] = b"[CDATA[";

/// The resumable scanner of one direction.
#[derive(Clone, Debug)]
pub(crate) struct Scanner {
    lex: Lex,
    depth: u32,
    in_item: bool,
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
            in_item: false,
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
        self.in_item
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
            match self.lex {
                Lex::Top => {
                    if b == b'<' {
                        self.begin(&mut start, i, Lex::Lt);
                    } else if !is_space(b) {
                        self.hunting = true;
                        self.begin(&mut start, i, Lex::Junk);
                    }
                }
                Lex::Junk => match memchr::memchr(b'<', input.get(i..).unwrap_or_default()) {
                    Some(n) => return self.item(start, i + n, ItemKind::Junk, Lex::Top),
                    None => break,
                },
                Lex::Text => match memchr::memchr(b'<', input.get(i..).unwrap_or_default()) {
                    Some(n) => {
                        i += n;
                        self.lex = Lex::Lt;
                    }
                    None => break,
                },
                Lex::Lt => {
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
                    if self.lex == Lex::Junk {
                        // Not markup after all; `<` itself would restart an item.
                        if b == b'<' {
                            return self.item(start, i, ItemKind::Junk, Lex::Top);
                        }
                    }
                }
                Lex::StartName => {
                    let ends = is_space(b) || b == b'/' || b == b'>';
                    if !ends {
                        if at_top {
                            self.push_name(b);
                        }
                    } else if at_top && self.hunting && !self.plausible_start() {
                        self.lex = Lex::Junk;
                    } else {
                        if at_top {
                            self.hunting = false;
                        }
                        match b {
                            b'/' => self.lex = Lex::Slash,
                            b'>' => {
                                if let Some(step) = self.tag_end(start, i, false) {
                                    return step;
                                }
                            }
                            _ => self.lex = Lex::Attrs,
                        }
                    }
                }
                Lex::Attrs => match b {
                    b'"' | b'\'' => self.lex = Lex::Quote(b),
                    b'/' => self.lex = Lex::Slash,
                    b'>' => {
                        if let Some(step) = self.tag_end(start, i, false) {
                            return step;
                        }
                    }
                    _ => {}
                },
                Lex::Quote(q) => match memchr::memchr(q, input.get(i..).unwrap_or_default()) {
                    Some(n) => {
                        i += n;
                        self.lex = Lex::Attrs;
                    }
                    None => break,
                },
                Lex::Slash => match b {
                    b'>' => {
                        if let Some(step) = self.tag_end(start, i, true) {
                            return step;
                        }
                    }
                    b'/' => {}
                    b'"' | b'\'' => self.lex = Lex::Quote(b),
                    _ => self.lex = Lex::Attrs,
                },
                Lex::EndName | Lex::EndRest => {
                    if b == b'>' {
                        if let Some(step) = self.end_tag(start, i) {
                            return step;
                        }
                    } else if self.lex == Lex::EndName {
                        if is_space(b) {
                            self.lex = Lex::EndRest;
                        } else if at_top {
                            self.push_name(b);
                        }
                    }
                    if at_top && self.hunting && self.lex == Lex::EndRest && !is_stream(self.name())
                    {
                        self.lex = Lex::Junk;
                    }
                }
                Lex::Bang => self.bang(b),
                Lex::Comment(n) => match b {
                    b'-' => self.lex = Lex::Comment((n + 1).min(2)),
                    b'>' if n >= 2 => {
                        if let Some(step) = self.markup_end(start, i, ItemKind::Comment) {
                            return step;
                        }
                    }
                    _ => self.lex = Lex::Comment(0),
                },
                Lex::CData(n) => match b {
                    b']' => self.lex = Lex::CData((n + 1).min(2)),
                    b'>' if n >= 2 => {
                        if let Some(step) = self.markup_end(start, i, ItemKind::Junk) {
                            return step;
                        }
                    }
                    _ => self.lex = Lex::CData(0),
                },
                Lex::Pi(q) => match b {
                    b'?' => self.lex = Lex::Pi(true),
                    b'>' if q => {
                        if let Some(step) = self.markup_end(start, i, ItemKind::Decl) {
                            return step;
                        }
                    }
                    _ => self.lex = Lex::Pi(false),
                },
                Lex::Markup => {
                    if b == b'>' {
                        if let Some(step) = self.markup_end(start, i, ItemKind::Junk) {
                            return step;
                        }
                    }
                }
            }
            i += 1;
        }
        Step::More(match (self.in_item, start) {
            (false, _) => Pending::None,
            (true, Some(s)) => Pending::From(s),
            (true, None) => Pending::All,
        })
    }

    fn begin(&mut self, start: &mut Option<usize>, i: usize, lex: Lex) {
        self.in_item = true;
        *start = Some(i);
        self.lex = lex;
    }

    fn item(&mut self, start: Option<usize>, end: usize, kind: ItemKind, lex: Lex) -> Step {
        self.in_item = false;
        self.lex = lex;
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
            return Some(self.item(start, i + 1, ItemKind::Element, Lex::Top));
        }
        if !self.name_is_long() && is_stream(self.name()) {
            return Some(self.item(start, i + 1, ItemKind::Header, Lex::Top));
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
                Some(self.item(start, i + 1, kind, Lex::Top))
            }
            1 => {
                self.depth = 0;
                Some(self.item(start, i + 1, ItemKind::Element, Lex::Top))
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
            Some(self.item(start, i + 1, kind, Lex::Top))
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
mod tests {
    use super::*;

    /// Feeds `chunks` and returns every item with its bytes, as the framer would.
    pub(crate) fn split(scanner: &mut Scanner, chunks: &[&[u8]]) -> Vec<(ItemKind, String)> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for chunk in chunks {
            let mut pos = 0;
            while pos < chunk.len() {
                let rest = &chunk[pos..];
                match scanner.scan(rest) {
                    Step::Item { start, end, kind } => {
                        buf.extend_from_slice(&rest[start.unwrap_or(0)..end]);
                        out.push((kind, String::from_utf8_lossy(&buf).into_owned()));
                        buf.clear();
                        pos += end;
                    }
                    Step::More(Pending::From(s)) => {
                        buf.extend_from_slice(&rest[s..]);
                        break;
                    }
                    Step::More(Pending::All) => {
                        buf.extend_from_slice(rest);
                        break;
                    }
                    Step::More(Pending::None) => break,
                }
            }
        }
        out
    }

    fn whole(input: &str) -> Vec<(ItemKind, String)> {
        split(&mut Scanner::default(), &[input.as_bytes()])
    }

    use ItemKind::*;

    const STREAM: &str = "<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>\n  <stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features> <iq type='get' id='a>b'><query xmlns='x'><!-- a > b <c> --><v><![CDATA[ </iq> > ]]></v></query></iq><message to='x'><body>1 &gt; 0</body></message><presence/>\n \n</stream:stream>";

    fn expected() -> Vec<(ItemKind, &'static str)> {
        vec![
            (Decl, "<?xml version='1.0'?>"),
            (Header, "<stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"),
            (Element, "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"),
            (Element, "<iq type='get' id='a>b'><query xmlns='x'><!-- a > b <c> --><v><![CDATA[ </iq> > ]]></v></query></iq>"),
            (Element, "<message to='x'><body>1 &gt; 0</body></message>"),
            (Element, "<presence/>"),
            (StreamEnd, "</stream:stream>"),
        ]
    }

    fn owned(v: Vec<(ItemKind, &str)>) -> Vec<(ItemKind, String)> {
        v.into_iter().map(|(k, s)| (k, s.to_owned())).collect()
    }

    #[test]
    fn splits_a_stream_into_items() {
        assert_eq!(whole(STREAM), owned(expected()));
    }

    #[test]
    fn same_items_byte_by_byte_and_at_every_split() {
        let bytes = STREAM.as_bytes();
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(split(&mut Scanner::default(), &singles), owned(expected()));
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(
                split(&mut Scanner::default(), &[a, b]),
                owned(expected()),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn no_item_before_it_is_complete() {
        let bytes = STREAM.as_bytes();
        let ends: Vec<usize> = {
            let mut e = Vec::new();
            let mut n = 0;
            for (_, text) in expected() {
                n = STREAM[n..].find(text).unwrap() + n + text.len();
                e.push(n);
            }
            e
        };
        for cut in 0..bytes.len() {
            let got = split(&mut Scanner::default(), &[&bytes[..cut]]);
            let want = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(got.len(), want, "prefix {cut}");
        }
    }

    #[test]
    fn self_closed_and_comment_items() {
        assert_eq!(
            whole("<!-- hi --><open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"),
            owned(vec![
                (Comment, "<!-- hi -->"),
                (
                    Element,
                    "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"
                )
            ])
        );
        assert_eq!(
            whole("<a b=\"/>\" c='>'/><c/>"),
            owned(vec![(Element, "<a b=\"/>\" c='>'/>"), (Element, "<c/>")])
        );
    }

    #[test]
    fn junk_at_top_level_then_hunts_for_a_plausible_item() {
        let got = whole("hello <b>x</b> <iq/>");
        assert_eq!(
            got,
            owned(vec![
                (Junk, "hello "),
                (Junk, "<b>x"),
                (Junk, "</b>"),
                (Element, "<iq/>")
            ])
        );
        let got = whole("<a></a></x><presence/>");
        assert_eq!(
            got,
            owned(vec![
                (Element, "<a></a>"),
                (Junk, "</x>"),
                (Element, "<presence/>")
            ])
        );
    }

    #[test]
    fn hunting_skips_to_the_next_plausible_item() {
        let mut s = Scanner::hunting();
        let got = split(
            &mut s,
            &[b"ody>hi</body></message><message id='2'><body>x</body></message>"],
        );
        assert_eq!(
            got.last().unwrap(),
            &(
                Element,
                "<message id='2'><body>x</body></message>".to_owned()
            )
        );
        assert!(got[..got.len() - 1].iter().all(|(k, _)| *k == Junk));
        let mut s = Scanner::hunting();
        let got = split(&mut s, &[b"<iq type='result'/>"]);
        assert_eq!(got, owned(vec![(Element, "<iq type='result'/>")]));
        let mut s = Scanner::hunting();
        let got = split(&mut s, &[b"x</stream:stream>"]);
        assert_eq!(
            got,
            owned(vec![(Junk, "x"), (StreamEnd, "</stream:stream>")])
        );
    }

    #[test]
    fn pending_reports_where_the_open_item_began() {
        let mut s = Scanner::default();
        assert_eq!(s.scan(b"  <iq"), Step::More(Pending::From(2)));
        assert!(s.in_item());
        assert_eq!(s.scan(b" type='x'"), Step::More(Pending::All));
        assert_eq!(
            s.scan(b"/>  "),
            Step::Item {
                start: None,
                end: 2,
                kind: Element
            }
        );
        assert_eq!(s.scan(b"  "), Step::More(Pending::None));
        assert!(!s.in_item());
    }

    #[test]
    fn deep_nesting_and_long_names_do_not_confuse_depth() {
        let deep = format!("{}{}", "<a>".repeat(1000), "</a>".repeat(1000));
        let long = format!("<{n}>x</{n}>", n = "n".repeat(200));
        assert_eq!(whole(&deep), owned(vec![(Element, deep.as_str())]));
        assert_eq!(whole(&long), owned(vec![(Element, long.as_str())]));
    }
}
