//! Framer tests: stanzas split anywhere across segments, STARTTLS at the exact byte, gaps.

use super::*;
use crate::finding::Level;
use crate::xmpp::testkit::{frame, Collect};
use Dir::{ClientToServer as C, ServerToClient as S};

const C2S: &str = concat!(
        r#"<?xml version="1.0"?><stream:stream to="example.com" xml:lang="en" version="1.0" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">"#,
        r#"<auth mechanism="PLAIN" xmlns="urn:ietf:params:xml:ns:xmpp-sasl">ADEwMDEAczNjcmV0IVB3</auth>"#,
        r#"<?xml version="1.0"?><stream:stream to="example.com" version="1.0" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">"#,
        r#"<iq id="b1" type="set"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>r&gt;1</resource></bind></iq>"#,
        "<presence/>\n <iq id='p' type='get' note='a>b'><ping xmlns='urn:xmpp:ping'/></iq> \n ",
        "<message to='a@b' type='chat'><body>1 &gt; 0 &amp; <![CDATA[</message> >]]><!-- </message> --></body></message>",
        "</stream:stream>",
    );

const S2C: &str = concat!(
        "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='example.com' id='s1' xml:lang='en' xmlns='jabber:client'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
        "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
        "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='example.com' id='s2' xmlns='jabber:client'><stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
        "<iq id='b1' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>u@example.com/r&gt;1</jid></bind></iq>",
        "<iq id='p' type='result'/>",
        "</stream:stream>",
    );

fn feed_chunks(chunks: &[(Dir, &[u8])]) -> (StreamFramer, Collect) {
    let mut f = StreamFramer::new(3, &Limits::default(), false);
    let mut sink = Collect::default();
    for (dir, bytes) in chunks {
        let taken = f.on_data(*dir, frame(1, 0), bytes, &mut sink);
        assert_eq!(taken, bytes.len());
    }
    f.finish(&mut sink);
    (f, sink)
}

fn expected_log() -> Vec<String> {
    let (_, sink) = feed_chunks(&[(C, C2S.as_bytes())]);
    sink.log
}

#[test]
fn splits_a_c2s_stream_into_stanzas() {
    let log = expected_log();
    let names: Vec<&str> = log.iter().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(
        names[..8],
        [
            "c2s 1 stream",
            "c2s 1 auth",
            "c2s 1 stream",
            "c2s 1 iq",
            "c2s 1 presence",
            "c2s 1 iq",
            "c2s 1 message",
            "c2s 1 /stream",
        ]
    );
    assert!(log[8].starts_with("finding xmpp.unanswered_iq the client's bind (id b1)"));
    assert!(log[9].starts_with("finding xmpp.unanswered_ping the client's ping (id p)"));
    assert!(log[3].ends_with("bind r>1"), "{}", log[3]);
    assert!(log[2].ends_with("(restart)"), "{}", log[2]);
    assert!(log[6].contains("\"1 > 0 & </message> >\""), "{}", log[6]);
}

#[test]
fn same_stanzas_whole_byte_by_byte_and_split_anywhere() {
    let want = expected_log();
    let bytes = C2S.as_bytes();
    let singles: Vec<(Dir, &[u8])> = bytes.chunks(1).map(|c| (C, c)).collect();
    assert_eq!(feed_chunks(&singles).1.log, want);
    for cut in 0..=bytes.len() {
        let (a, b) = bytes.split_at(cut);
        assert_eq!(feed_chunks(&[(C, a), (C, b)]).1.log, want, "cut at {cut}");
    }
}

proptest::proptest! {
    #[test]
    fn same_stanzas_for_any_segmentation(cuts in proptest::collection::vec(0usize..C2S.len(), 0..12)) {
        let bytes = C2S.as_bytes();
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut prev = 0;
        for c in cuts.into_iter().chain([bytes.len()]) {
            chunks.push((C, &bytes[prev..c.max(prev)]));
            prev = c.max(prev);
        }
        proptest::prop_assert_eq!(feed_chunks(&chunks).1.log, expected_log());
    }
}

#[test]
fn every_prefix_emits_only_complete_elements() {
    let bytes = C2S.as_bytes();
    let full = feed_chunks(&[(C, bytes)]).1.stanzas;
    let mut last = 0;
    for cut in 0..bytes.len() {
        let mut f = StreamFramer::new(3, &Limits::default(), false);
        let mut sink = Collect::default();
        f.on_data(C, frame(1, 0), &bytes[..cut], &mut sink);
        let n = sink.stanzas.len();
        assert!(n >= last && n < full.len(), "prefix {cut}");
        assert_eq!(sink.stanzas[..], full[..n]);
        assert!(
            sink.findings.is_empty(),
            "prefix {cut}: {:?}",
            sink.findings
        );
        last = n;
        f.finish(&mut sink);
    }
}

#[test]
fn both_directions_pair_iqs_and_inherit_the_header_namespaces() {
    let (f, sink) = feed_chunks(&[(C, C2S.as_bytes()), (S, S2C.as_bytes())]);
    let s2c: Vec<&str> = sink
        .stanzas
        .iter()
        .filter(|s| s.dir == S)
        .map(|s| s.summary.as_str())
        .collect();
    assert_eq!(
        s2c,
        [
            "stream open from example.com, id s1",
            "features: SASL PLAIN",
            "success: authenticated as 1001",
            "stream open from example.com, id s2 (restart)",
            "features: bind",
            "bind result u@example.com/r>1 (0.0 ms)",
            "ping → pong 0.0 ms",
            "stream end",
        ]
    );
    assert_eq!(f.summary().jid.as_deref(), Some("u@example.com/r>1"));
    assert!(!sink.json.contains("ADEwMDEAczNjcmV0IVB3"));
}

#[test]
fn frames_of_first_and_last_bytes() {
    let mut f = StreamFramer::new(3, &Limits::default(), false);
    let mut sink = Collect::default();
    f.on_data(
        C,
        frame(1, 0),
        b"<presence/><iq type='get' id='x'>",
        &mut sink,
    );
    f.on_data(
        C,
        frame(2, 1),
        b"<query xmlns='jabber:iq:roster'/>",
        &mut sink,
    );
    f.on_data(C, frame(3, 2), b"</iq><message/>", &mut sink);
    let spans: Vec<(u64, u64)> = sink.stanzas.iter().map(|s| (s.first, s.last)).collect();
    assert_eq!(spans, [(1, 1), (1, 3), (3, 3)]);
}

const TLS_C: &str = "<?xml version='1.0'?><stream:stream to='jabber.ccc.de' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
const STARTTLS: &str = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
const TLS_S: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='1' from='jabber.ccc.de' version='1.0' xml:lang='en'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>";
const PROCEED: &str = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
const HELLO: &[u8] = &[0x16, 0x03, 0x01, 0x00, 0x05, 1, 0, 0, 1, 0];

fn cat(a: &str, b: &str, tail: &[u8]) -> Vec<u8> {
    let mut v = a.as_bytes().to_vec();
    v.extend_from_slice(b.as_bytes());
    v.extend_from_slice(tail);
    v
}

#[test]
fn starttls_hands_over_at_the_exact_byte_in_one_segment() {
    let mut f = StreamFramer::new(3, &Limits::default(), false);
    let mut sink = Collect::default();
    let c = cat(TLS_C, STARTTLS, HELLO);
    let s = cat(TLS_S, PROCEED, HELLO);
    assert_eq!(
        f.on_data(C, frame(1, 0), &c, &mut sink),
        TLS_C.len() + STARTTLS.len()
    );
    assert_eq!(
        f.on_data(S, frame(2, 1), &s, &mut sink),
        TLS_S.len() + PROCEED.len()
    );
    assert_eq!(f.on_data(C, frame(3, 2), HELLO, &mut sink), 0);
    let h: Vec<(Dir, u64)> = sink.handovers.iter().map(|h| (h.dir, h.offset)).collect();
    assert_eq!(
        h,
        [
            (C, (TLS_C.len() + STARTTLS.len()) as u64),
            (S, (TLS_S.len() + PROCEED.len()) as u64)
        ]
    );
    assert_eq!(
        f.summary().starttls.as_ref().unwrap().outcome.as_deref(),
        Some("proceed")
    );
}

#[test]
fn starttls_offsets_are_exact_whatever_the_split() {
    let s = cat(TLS_S, PROCEED, HELLO);
    let want = (TLS_S.len() + PROCEED.len()) as u64;
    for cut in 0..=s.len() {
        let mut f = StreamFramer::new(3, &Limits::default(), false);
        let mut sink = Collect::default();
        let c = cat(TLS_C, STARTTLS, b"");
        assert_eq!(f.on_data(C, frame(1, 0), &c, &mut sink), c.len());
        let (a, b) = s.split_at(cut);
        let taken =
            f.on_data(S, frame(2, 1), a, &mut sink) + f.on_data(S, frame(3, 2), b, &mut sink);
        assert_eq!(taken as u64, want, "cut {cut}");
        assert_eq!(f.on_data(C, frame(4, 3), HELLO, &mut sink), 0);
        let h: Vec<(Dir, u64)> = sink.handovers.iter().map(|h| (h.dir, h.offset)).collect();
        // The client's handover is decided by the server's <proceed/>.
        assert_eq!(h, [(S, want), (C, c.len() as u64)], "cut {cut}");
        assert!(sink.findings.is_empty());
    }
}

#[test]
fn client_hello_before_proceed_still_hands_over() {
    let mut f = StreamFramer::new(3, &Limits::default(), false);
    let mut sink = Collect::default();
    let c = cat(TLS_C, STARTTLS, b"");
    f.on_data(C, frame(1, 0), &c, &mut sink);
    assert_eq!(f.on_data(C, frame(2, 0), HELLO, &mut sink), 0);
    assert_eq!(sink.handovers[0].offset, c.len() as u64);
    assert_eq!(sink.handovers[0].at.frame, 2);
}

#[test]
fn inside_tls_the_stream_restarts() {
    let mut f = StreamFramer::new(3, &Limits::default(), false);
    let mut sink = Collect::default();
    f.on_data(C, frame(1, 0), &cat(TLS_C, STARTTLS, b""), &mut sink);
    f.on_data(S, frame(2, 0), &cat(TLS_S, PROCEED, b""), &mut sink);
    f.on_tls_data(C, frame(5, 9), TLS_C.as_bytes(), &mut sink);
    f.on_tls_data(C, frame(6, 9), STARTTLS.as_bytes(), &mut sink);
    assert_eq!(sink.stanzas.last().unwrap().name, "starttls");
    assert_eq!(sink.handovers.len(), 2);
    assert_eq!(f.summary().restarts, 1);
}

#[test]
fn gap_resynchronises_on_the_next_element() {
    let mut f = StreamFramer::new(3, &Limits::default(), false);
    let mut sink = Collect::default();
    f.on_data(
        C,
        frame(1, 0),
        b"<iq id='1' type='get'><query xmlns='jabber:iq:roster'/></iq><message to='x'><bo",
        &mut sink,
    );
    f.on_gap(C, frame(2, 0), 20, &mut sink);
    f.on_data(
        C,
        frame(3, 0),
        b"dy>lost</body></message><presence/>",
        &mut sink,
    );
    let names: Vec<&str> = sink.stanzas.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["iq", "presence"]);
    assert_eq!(sink.codes(), ["xmpp.gap", "xmpp.junk"]);
    assert!(
        sink.findings[0].message.contains("partial <message>"),
        "{}",
        sink.findings[0].message
    );
    assert_eq!(sink.findings[0].offset, Some(79));
    assert_eq!(sink.findings[1].frame, Some(3));
}

#[test]
fn mid_stream_capture_starts_at_the_first_plausible_element() {
    let (_, sink) = feed_chunks(&[(C, b"ge'/></iq>\n<presence/>")]);
    assert_eq!(sink.stanzas.len(), 1);
    assert_eq!(sink.codes(), ["xmpp.junk"]);
}

#[test]
fn oversized_elements_are_skipped_and_counted() {
    let limits = Limits {
        max_stanza_bytes: 100,
        ..Limits::default()
    };
    let mut f = StreamFramer::new(3, &limits, false);
    let mut sink = Collect::default();
    let big = format!("<message><body>{}</body></message>", "y".repeat(500));
    let (a, b) = big.as_bytes().split_at(250);
    f.on_data(C, frame(1, 0), a, &mut sink);
    f.on_data(C, frame(2, 0), b, &mut sink);
    f.on_data(
        C,
        frame(3, 0),
        format!("{big}<presence/>").as_bytes(),
        &mut sink,
    );
    let names: Vec<(&str, u64)> = sink
        .stanzas
        .iter()
        .map(|s| (s.name.as_str(), s.first))
        .collect();
    assert_eq!(names, [("message", 1), ("message", 3), ("presence", 3)]);
    assert_eq!(
        sink.codes(),
        ["xmpp.stanza_too_large", "xmpp.stanza_too_large"]
    );
    assert!(
        sink.stanzas[0].summary.starts_with("skipped: 532 bytes"),
        "{}",
        sink.stanzas[0].summary
    );
}

#[test]
fn malformed_element_then_continue() {
    let (_, sink) = feed_chunks(&[(C, b"<iq type='get' id='1'><a></b></iq><presence/>")]);
    let names: Vec<&str> = sink.stanzas.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["iq", "presence"]);
    assert_eq!(sink.codes(), ["xmpp.malformed_xml"]);
}

#[test]
fn truncated_element_at_the_end_is_reported() {
    let (_, sink) = feed_chunks(&[(S, b"<message><body>cut")]);
    assert_eq!(sink.codes(), ["xmpp.truncated"]);
}

#[test]
fn held_bytes_counts_the_element_in_progress_and_the_open_iqs() {
    let mut f = StreamFramer::new(0, &Limits::default(), false);
    let mut sink = Collect::default();
    let base = f.held_bytes();
    let head = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='f1' version='1.0'>";
    f.on_data(C, frame(1, 0), head, &mut sink);
    let partial = b"<iq type='get' id='ping-1'><ping xmlns='urn:xmpp:ping'/>";
    f.on_data(C, frame(2, 1), partial, &mut sink);
    let waiting = f.held_bytes();
    assert!(waiting >= base + partial.len(), "{waiting} after {base}");
    f.on_data(C, frame(3, 2), b"</iq>", &mut sink);
    assert_eq!(sink.stanzas.last().map(|s| s.name.as_str()), Some("iq"));
    // The element is done; the ping waits for its reply, and is counted.
    let with_ping = f.session().held_bytes();
    assert!(with_ping >= 2 * "ping-1".len());
    f.on_data(S, frame(4, 3), b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='f1' id='s1' version='1.0'><iq type='result' id='ping-1'/>", &mut sink);
    // Answered: the request is no longer held.
    assert_eq!(sink.stanzas.last().map(|s| s.name.as_str()), Some("iq"));
    assert!(f.session().held_bytes() < with_ping);
}

/// A TLS 1.2 ClientHello's record header and start (RFC 5246 §6.2.1,
/// §7.4.1.2), as a client configured for direct TLS sends it first.
const CLIENT_HELLO: &[u8] = b"\x16\x03\x01\x00\x31\x01\x00\x00\x2d\x03\x03abcdefghijklmnopqrstuvwxyz012345\x00\x00\x02\x00\x2f\x01\x00";

/// What Prosody's mod_c2s answers bytes that are not XML: its stream
/// header, then `<not-well-formed/>`, then the end of the stream.
const PROSODY_NOT_WELL_FORMED: &str = concat!(
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='x1' from='example.com' version='1.0'>",
    "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
    "</stream:stream>",
);

#[test]
fn tls_client_on_a_plain_port_is_named_and_the_server_reply_read() {
    let want = |f: &StreamFramer, sink: &Collect| {
        assert_eq!(
            sink.codes().first(),
            Some(&"xmpp.tls_on_plaintext_port"),
            "{:?}",
            sink.log
        );
        let tls = &sink.findings[0];
        assert_eq!(tls.level, Level::Error);
        assert_eq!((tls.dir, tls.offset), (Some(C), Some(0)));
        assert!(tls.message.contains("5223 direct TLS"), "{}", tls.message);
        let names: Vec<String> = sink.stanzas.iter().map(|s| s.name.clone()).collect();
        assert_eq!(names, ["stream:stream", "stream:error", "/stream:stream"]);
        assert!(sink.stanzas.iter().all(|s| s.dir == S));
        assert_eq!(sink.stanzas[1].summary, "stream error not-well-formed");
        assert!(sink.handovers.is_empty());
        assert_eq!(f.unparsed(C), CLIENT_HELLO.len() as u64);
        assert_eq!(f.unparsed(S), 0);
        assert!(!sink.codes().contains(&"xmpp.junk"), "{:?}", sink.codes());
    };
    let reply = PROSODY_NOT_WELL_FORMED.as_bytes();
    let (f, sink) = feed_chunks(&[(C, CLIENT_HELLO), (S, reply)]);
    want(&f, &sink);
    for cut in 0..=CLIENT_HELLO.len() {
        let (a, b) = CLIENT_HELLO.split_at(cut);
        let (f, sink) = feed_chunks(&[(C, a), (C, b), (S, reply)]);
        want(&f, &sink);
    }
}

#[test]
fn a_client_hello_later_in_the_stream_is_not_a_tls_client() {
    // Only the very first client byte says "TLS client": later, 0x16 is junk.
    let mut c = br"<?xml version='1.0'?><stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>".to_vec();
    c.extend_from_slice(CLIENT_HELLO);
    let (f, sink) = feed_chunks(&[(C, &c)]);
    assert!(!sink.codes().contains(&"xmpp.tls_on_plaintext_port"));
    assert_eq!(f.unparsed(C), 0);
}
