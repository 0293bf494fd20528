//! Scanner tests: element boundaries in any chunking, comments, junk and hunting, deep nesting.

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
