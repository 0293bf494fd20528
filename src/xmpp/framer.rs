//! XMPP on a TCP connection (5222, 5269): bytes in, elements out.
//!
//! Takes the payload of each direction in segments of any size; splits it
//! into the stream's top-level items whatever the segmentation (an element
//! may span many segments, many may share one), keeps the bytes of a partial
//! element (up to `max_stanza_bytes`, beyond which it is counted and
//! skipped), and feeds each complete element, with the frames of its first
//! and last bytes, to the connection's [`Session`]. Hands a direction over to
//! TLS at the exact byte after `<proceed/>` (server) or `<starttls/>`
//! (client), resynchronises after a capture gap on the next plausible
//! top-level element, and reports bytes that are not XMPP. Never panics,
//! never buffers more than one capped element per direction.

use super::scan::{ItemKind, Pending, Scanner, Step};
use super::session::{side, Session, Signal, Span};
use super::{Ending, Sink, Summary, TlsHandover, Transport};
use crate::common::{Dir, FrameRef};
use crate::finding::{Finding, Layer, Level};
use crate::limits::Limits;

/// The first byte of a TLS record carrying a handshake (the ClientHello).
const TLS_HANDSHAKE: u8 = 0x16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Plain XML.
    Xml,
    /// The client sent `<starttls/>`: its next bytes are a ClientHello or more XML.
    StartTlsRequested,
    /// Handed over to TLS: raw bytes are no longer ours.
    HandedOver,
    /// Fed the plaintext from inside TLS (`on_tls_data`).
    InsideTls,
}

#[derive(Debug)]
struct Direction {
    scanner: Scanner,
    state: State,
    /// Bytes of the item in progress (empty while it is zero-copy or oversized).
    buf: Vec<u8>,
    item_len: usize,
    oversized: bool,
    /// Frame of the first byte of the item in progress.
    first: FrameRef,
    /// Offset of the next byte in this direction (of the TCP payload, or of
    /// the plaintext once inside TLS).
    offset: u64,
    /// Junk skipped since the last element, and where it began.
    junk: u64,
    junk_at: Option<FrameRef>,
}

impl Direction {
    fn new() -> Direction {
        Direction {
            // A capture may start mid-connection: hunt for the first real item.
            scanner: Scanner::hunting(),
            state: State::Xml,
            buf: Vec::new(),
            item_len: 0,
            oversized: false,
            first: FrameRef::default(),
            offset: 0,
            junk: 0,
            junk_at: None,
        }
    }

    fn begin(&mut self, at: FrameRef) {
        self.buf.clear();
        self.item_len = 0;
        self.oversized = false;
        self.first = at;
    }

    fn keep(&mut self, piece: &[u8], cap: usize) {
        self.item_len = self.item_len.saturating_add(piece.len());
        if self.oversized {
            return;
        }
        if self.item_len > cap {
            self.oversized = true;
            self.buf = Vec::new();
        } else {
            self.buf.extend_from_slice(piece);
        }
    }
}

/// One TCP connection carrying XMPP, with its session.
#[derive(Debug)]
pub struct StreamFramer {
    session: Session,
    dirs: [Direction; 2],
    finished: bool,
}

impl StreamFramer {
    /// A connection with Wireshark's `tcp.stream` index `stream`.
    pub fn new(stream: u64, limits: &Limits, show_secrets: bool) -> StreamFramer {
        StreamFramer {
            session: Session::new(stream, Transport::Tcp, limits, show_secrets),
            dirs: [Direction::new(), Direction::new()],
            finished: false,
        }
    }

    /// See [`Session::skip_notifications`].
    pub fn skip_notifications(&mut self) {
        self.session.skip_notifications();
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn summary(&self) -> &Summary {
        self.session.summary()
    }

    /// Bytes of one frame in one direction. Returns how many were taken:
    /// all of them, unless the direction switched to TLS (then a
    /// [`TlsHandover`] was emitted and the rest belongs to the TLS stage).
    pub fn on_data(&mut self, dir: Dir, at: FrameRef, bytes: &[u8], sink: &mut impl Sink) -> usize {
        let d = &mut self.dirs[dir.index()];
        match d.state {
            State::HandedOver | State::InsideTls => return 0,
            State::StartTlsRequested => {
                if bytes.first() == Some(&TLS_HANDSHAKE) {
                    self.hand_over(dir, at, sink);
                    return 0;
                }
                if !bytes.is_empty() {
                    d.state = State::Xml;
                }
            }
            State::Xml => {}
        }
        self.feed(dir, at, bytes, sink)
    }

    /// Plaintext from inside TLS after STARTTLS (decrypted by the TLS stage).
    /// The stream restarts with a new header.
    pub fn on_tls_data(&mut self, dir: Dir, at: FrameRef, bytes: &[u8], sink: &mut impl Sink) {
        let d = &mut self.dirs[dir.index()];
        if d.state != State::InsideTls {
            d.state = State::InsideTls;
            d.scanner = Scanner::hunting();
            d.begin(at);
            d.offset = 0;
        }
        self.feed(dir, at, bytes, sink);
    }

    /// `len` bytes of this direction were lost: resynchronise on the next element.
    pub fn on_gap(&mut self, dir: Dir, at: FrameRef, len: u64, sink: &mut impl Sink) {
        let stream = self.session.summary().stream;
        let d = &mut self.dirs[dir.index()];
        let offset = d.offset;
        d.offset = d.offset.saturating_add(len);
        if d.state == State::HandedOver {
            return;
        }
        let partial = if d.scanner.in_item() {
            let name = String::from_utf8_lossy(d.scanner.name()).into_owned();
            format!(" with the partial <{name}> element they belonged to")
        } else {
            String::new()
        };
        d.scanner.hunt();
        d.begin(at);
        self.session.note_gap();
        sink.push_finding(
            Finding::new(
                Level::Warn,
                Layer::Xmpp,
                "xmpp.gap",
                format!(
                    "{len} bytes from the {} were lost{partial}; resynchronising on the next element",
                    side(dir)
                ),
            )
            .at(at)
            .in_stream(stream, Some(dir))
            .at_offset(offset),
        );
    }

    /// The connection ended; the session learns how.
    pub fn on_transport_end(&mut self, at: Option<FrameRef>, how: Ending, sink: &mut impl Sink) {
        self.flush(sink);
        self.session.on_transport_end(at, how, sink);
    }

    /// End of the capture or connection: reports what is left over.
    pub fn finish(&mut self, sink: &mut impl Sink) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.flush(sink);
        self.session.finish(sink);
    }

    fn flush(&mut self, sink: &mut impl Sink) {
        let stream = self.session.summary().stream;
        for dir in Dir::BOTH {
            let d = &mut self.dirs[dir.index()];
            report_junk(d, stream, dir, sink);
            if d.scanner.in_item() && matches!(d.state, State::Xml | State::InsideTls) {
                let name = String::from_utf8_lossy(d.scanner.name()).into_owned();
                sink.push_finding(
                    Finding::new(
                        Level::Info,
                        Layer::Xmpp,
                        "xmpp.truncated",
                        format!(
                            "the stream ended inside <{name}> ({} bytes never completed)",
                            d.item_len
                        ),
                    )
                    .at(d.first)
                    .in_stream(stream, Some(dir)),
                );
                d.scanner.hunt();
                d.begin(d.first);
            }
        }
    }

    fn feed(&mut self, dir: Dir, at: FrameRef, bytes: &[u8], sink: &mut impl Sink) -> usize {
        let cap = self.session.limits.max_stanza_bytes;
        let mut pos = 0;
        while let Some(rest) = bytes.get(pos..).filter(|r| !r.is_empty()) {
            let d = &mut self.dirs[dir.index()];
            match d.scanner.scan(rest) {
                Step::Item { start, end, kind } => {
                    if start.is_some() {
                        d.begin(at);
                    }
                    let piece = rest.get(start.unwrap_or(0)..end).unwrap_or_default();
                    pos += end;
                    let signal = self.complete(dir, at, kind, piece, sink);
                    let d = &mut self.dirs[dir.index()];
                    if d.state == State::InsideTls {
                        continue;
                    }
                    match (signal, dir) {
                        (Some(Signal::StartTls), Dir::ClientToServer) => {
                            d.state = State::StartTlsRequested;
                            if bytes.get(pos) == Some(&TLS_HANDSHAKE) {
                                d.offset += pos as u64;
                                self.hand_over(dir, at, sink);
                                return pos;
                            }
                        }
                        (Some(Signal::Proceed), Dir::ServerToClient) => {
                            d.offset += pos as u64;
                            self.hand_over(dir, at, sink);
                            if self.dirs[Dir::ClientToServer.index()].state
                                == State::StartTlsRequested
                            {
                                self.hand_over(Dir::ClientToServer, at, sink);
                            }
                            return pos;
                        }
                        _ => {}
                    }
                }
                Step::More(pending) => {
                    match pending {
                        Pending::From(s) => {
                            d.begin(at);
                            d.keep(rest.get(s..).unwrap_or_default(), cap);
                        }
                        Pending::All => d.keep(rest, cap),
                        Pending::None => {}
                    }
                    pos = bytes.len();
                }
            }
        }
        let d = &mut self.dirs[dir.index()];
        d.offset = d.offset.saturating_add(pos as u64);
        pos
    }

    /// An item is complete; `piece` is its last (or only) part.
    fn complete(
        &mut self,
        dir: Dir,
        at: FrameRef,
        kind: ItemKind,
        piece: &[u8],
        sink: &mut impl Sink,
    ) -> Option<Signal> {
        let stream = self.session.summary().stream;
        let cap = self.session.limits.max_stanza_bytes;
        let d = &mut self.dirs[dir.index()];
        if kind == ItemKind::Junk {
            d.junk = d.junk.saturating_add((d.item_len + piece.len()) as u64);
            d.junk_at.get_or_insert(d.first);
            d.begin(at);
            return None;
        }
        report_junk(d, stream, dir, sink);
        let span = Span {
            dir,
            first: d.first,
            last: at,
        };
        let zero_copy = d.item_len == 0;
        if !zero_copy {
            d.keep(piece, cap);
        }
        if d.oversized || (zero_copy && piece.len() > cap) {
            let name = String::from_utf8_lossy(d.scanner.name()).into_owned();
            let len = d.item_len.max(piece.len());
            d.begin(at);
            self.session.oversized(span, &name, len, sink);
            return None;
        }
        if zero_copy {
            return self.session.on_item(span, kind, piece, sink);
        }
        let buf = std::mem::take(&mut d.buf);
        let signal = self.session.on_item(span, kind, &buf, sink);
        // Give the allocation back for the next partial element.
        let d = &mut self.dirs[dir.index()];
        d.buf = buf;
        d.begin(at);
        signal
    }

    fn hand_over(&mut self, dir: Dir, at: FrameRef, sink: &mut impl Sink) {
        let d = &mut self.dirs[dir.index()];
        d.state = State::HandedOver;
        d.buf = Vec::new();
        sink.on_tls_handover(&TlsHandover {
            dir,
            at,
            offset: d.offset,
        });
    }
}

fn report_junk(d: &mut Direction, stream: u64, dir: Dir, sink: &mut impl Sink) {
    if d.junk == 0 {
        return;
    }
    let at = d.junk_at.take().unwrap_or_default();
    sink.push_finding(
        Finding::new(
            Level::Warn,
            Layer::Xmpp,
            "xmpp.junk",
            format!(
                "{} bytes from the {} are not part of any XMPP element (stream seen from its middle, after a gap, or not XMPP)",
                d.junk,
                side(dir)
            ),
        )
        .at(at)
        .in_stream(stream, Some(dir)),
    );
    d.junk = 0;
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
