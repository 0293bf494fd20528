//! The conversation of one XMPP session: elements in, stanzas and findings out.
//!
//! Takes complete top-level elements (from WebSocket messages, BOSH bodies
//! or the TCP [`super::StreamFramer`]) with their direction and frames;
//! parses each, follows the stream (open, features, STARTTLS, SASL, restart,
//! bind, session, presence, iq pairs, pubsub, pings, close, stream errors)
//! and emits one [`Stanza`] per element, then the pubsub items it carried,
//! then its findings. The session composes its parts: [`StreamState`]
//! (namespaces, opens and restarts per direction), [`SaslExchange`] (the
//! mechanism in progress), the iq [`Tracker`] (requests awaiting replies,
//! pings included, capped by `max_pending_iqs`), and the presence and
//! subscription readers, which fill the [`Summary`] it keeps. Never panics
//! on input.

use std::borrow::Cow;
use std::fmt::Display;

use super::element::{self, Element, Namespaces, NodeRef, XmlError};
use super::escaped::Scratch;
use super::iq::Tracker;
use super::ns::Ns;
use super::sasl::SaslExchange;
use super::scan::{ItemKind, Pending, Scanner, Step};
use super::stream::StreamState;
use super::subscriptions::{no_automatic_feeds, AutomaticFeeds};
use super::summary::{End, Summary};
use super::{Ending, PubsubItem, Sink, Stanza, Transport};
use crate::finding::Finding;
use crate::limits::Limits;
use crate::position::{Dir, FrameRef};
use crate::xmpp::FindingCode;

/// Where an element was: its direction and the frames of its first and last bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) dir: Dir,
    pub(crate) first: FrameRef,
    pub(crate) last: FrameRef,
}

/// The condition (first child other than `<text>`) and the `<text>` of a
/// SASL `<failure>` or a `<stream:error>`.
pub(crate) fn condition_and_text(root: NodeRef<'_, '_>) -> (Option<String>, Option<String>) {
    let condition = root
        .children()
        .find(|c| c.local() != "text")
        .map(|c| c.local().to_owned());
    let text = root
        .child_text("text")
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    (condition, text)
}

impl<'a> Stanza<'a> {
    /// A stanza without attributes: a stream end, or an element that could
    /// not be read (its summary says why, `raw` what is shown of it).
    pub(crate) fn bare(span: Span, name: &'a str, summary: String, raw: Cow<'a, str>) -> Self {
        Stanza {
            dir: span.dir,
            first: span.first,
            last: span.last,
            name,
            kind: None,
            id: None,
            from: None,
            to: None,
            summary,
            raw,
        }
    }
}

/// What the TCP framer must act on after an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    /// The client asked for STARTTLS.
    StartTls,
    /// The server said `<proceed/>`: TLS starts right after it.
    Proceed,
}

/// What handling one element produced; emitted after its stanza.
#[derive(Default)]
pub(crate) struct Out<'e> {
    pub(crate) summary: String,
    /// Findings not yet located (the session adds stream, direction and frame).
    pub(crate) findings: Vec<Finding>,
    /// Payloads of the pubsub items the element carried.
    pub(crate) items: Vec<PubsubItem<'e>>,
    /// Byte ranges of the element's text to replace by `[redacted]`.
    pub(crate) redact: Vec<(usize, usize)>,
    pub(crate) signal: Option<Signal>,
}

impl Out<'_> {
    /// A finding of `code` at its default level.
    pub(crate) fn find(&mut self, code: FindingCode, message: impl Into<String>) {
        self.findings.push(Finding::new(code, message));
    }

    /// A finding built by the caller, for a level chosen by context.
    pub(crate) fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}

/// One XMPP session (one stream, restarts included).
#[derive(Debug)]
pub struct Session {
    pub(crate) limits: Limits,
    pub(crate) show_secrets: bool,
    /// Per direction: namespaces, stream opens, whether it was heard.
    pub(crate) stream: StreamState,
    pub(crate) summary: Summary,
    /// iq requests awaiting their replies.
    pub(crate) iqs: Tracker,
    /// The SASL mechanism in progress.
    sasl: SaslExchange,
    /// Capture gaps seen (a reply may have been lost in one).
    pub(crate) gaps: u32,
    /// Parser buffers kept from one element to the next.
    scratch: Scratch,
    /// The pubsub nodes its server delivers unasked (none unless told).
    pub(crate) automatic_feeds: AutomaticFeeds,
}

const REDACTED: &str = "[redacted]";

impl Session {
    /// A session identified by `stream` (the TCP stream index for TCP and
    /// WebSocket; any stable number for BOSH) over `transport`.
    pub fn new(stream: u64, transport: Transport, limits: &Limits, show_secrets: bool) -> Session {
        Session {
            limits: limits.clone(),
            show_secrets,
            stream: StreamState::default(),
            summary: Summary::new(stream, transport),
            iqs: Tracker::new(limits.max_pending_iqs),
            sasl: SaslExchange::new(show_secrets),
            gaps: 0,
            scratch: Scratch::default(),
            automatic_feeds: no_automatic_feeds,
        }
    }

    /// The same session, told which pubsub nodes its server delivers without
    /// a subscription: subscribing to one is `xmpp.subscription_redundant`.
    pub fn with_automatic_feeds(mut self, automatic_feeds: AutomaticFeeds) -> Session {
        self.automatic_feeds = automatic_feeds;
        self
    }

    /// Bytes the session holds now beyond its summary: requests waiting for
    /// a reply and parser buffers (both capped by [`Limits`]).
    pub fn held_bytes(&self) -> usize {
        self.iqs.held_bytes() + self.scratch.held_bytes()
    }

    /// What the session amounted to so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// One WebSocket message or one child of a BOSH `<body>`, all in frame `at`.
    pub fn on_element(&mut self, dir: Dir, at: FrameRef, xml: &[u8], sink: &mut impl Sink) {
        self.on_element_spanning(dir, at, at, xml, sink);
    }

    /// Like [`Session::on_element`], for a message spread over frames `first..=last`.
    /// Whitespace is ignored; several elements in one message are each handled;
    /// a legacy `<stream:stream>` header or `</stream:stream>` is understood.
    pub fn on_element_spanning(
        &mut self,
        dir: Dir,
        first: FrameRef,
        last: FrameRef,
        xml: &[u8],
        sink: &mut impl Sink,
    ) {
        let span = Span { dir, first, last };
        let text = std::str::from_utf8(xml.trim_ascii()).ok();
        if !text.is_some_and(|t| self.single_element(span, t, sink)) {
            self.split_elements(span, xml, sink);
        }
    }

    /// One complete WebSocket text message (RFC 7395), seen from frame
    /// `first` to `last`: like [`Session::on_element_spanning`], for text
    /// already known to be UTF-8 (it is not checked again). No bytes need be
    /// under it: a HAR `_webSocketMessages` entry feeds it the same way.
    pub fn on_ws_message(
        &mut self,
        dir: Dir,
        first: FrameRef,
        last: FrameRef,
        text: &str,
        sink: &mut impl Sink,
    ) {
        let span = Span { dir, first, last };
        if !self.single_element(span, text.trim_ascii(), sink) {
            self.split_elements(span, text.as_bytes(), sink);
        }
    }

    /// Splits a message that is not one plain element into its items.
    fn split_elements(&mut self, span: Span, xml: &[u8], sink: &mut impl Sink) {
        let mut scanner = Scanner::default();
        let (mut pos, mut items) = (0, 0usize);
        while let Some(rest) = xml.get(pos..).filter(|r| !r.is_empty()) {
            // RFC 7395 wants one element per message: a few is tolerance, a flood is not.
            items += 1;
            if items > self.limits.max_xml_nodes {
                let why = format!(
                    "more than {} elements in one message",
                    self.limits.max_xml_nodes
                );
                self.malformed(span, rest, &why, sink);
                break;
            }
            match scanner.scan(rest) {
                Step::Item { start, end, kind } => {
                    let item = rest.get(start.unwrap_or(0)..end).unwrap_or_default();
                    if kind == ItemKind::Junk {
                        self.malformed(span, item, &"not XML", sink);
                    } else {
                        self.on_item(span, kind, item, sink);
                    }
                    pos += end;
                }
                Step::More(Pending::From(s)) => {
                    let item = rest.get(s..).unwrap_or_default();
                    self.malformed(span, item, &"element not closed", sink);
                    break;
                }
                Step::More(_) => break,
            }
        }
    }

    /// The usual case, one plain element per message (`text` is trimmed),
    /// without the splitter: false when the message needs it (headers,
    /// several elements, not XML).
    fn single_element(&mut self, span: Span, text: &str, sink: &mut impl Sink) -> bool {
        let plain = match text.as_bytes() {
            [b'<', c, ..] => c.is_ascii_alphabetic() && !text.starts_with("<stream:stream"),
            _ => false,
        };
        if !plain {
            return false;
        }
        let ctx = self.stream.context(span.dir);
        match element::parse_element(text, ctx, &self.limits, &mut self.scratch) {
            Ok(el) if el.root().local() != "stream" => {
                self.dispatch(span, &el, sink);
                el.recycle();
                true
            }
            Ok(_) | Err(XmlError::Trailing { .. } | XmlError::Unclosed { .. }) => false,
            Err(err) => {
                self.malformed(span, text.as_bytes(), &err, sink);
                true
            }
        }
    }

    /// A BOSH `xmpp:restart='true'` request: the stream restarts without a new `<open/>`.
    pub fn on_bosh_restart(&mut self, dir: Dir, at: FrameRef) {
        self.summary.restarts += 1;
        self.touch(Span {
            dir,
            first: at,
            last: at,
        });
    }

    /// The transport under the session ended (`at` = the frame that showed it, if any).
    pub fn on_transport_end(&mut self, at: Option<FrameRef>, how: Ending, sink: &mut impl Sink) {
        if self.summary.end.is_some() {
            return;
        }
        let closed = self.summary.close.is_some() || self.summary.stream_error.is_some();
        if how.is_abnormal() && !closed {
            let mut f = Finding::new(
                FindingCode::EndedWithoutClose,
                format!(
                    "the XMPP session ended without <close/> or a stream error: {}",
                    how.in_words()
                ),
            )
            .in_stream(self.summary.stream, None);
            if let Some(at) = at {
                f = f.at(at);
            }
            sink.push_finding(f);
        }
        self.summary.end = Some(End { at, how });
    }

    /// The session is over: reports what never got an answer and what never happened.
    pub fn finish(&mut self, sink: &mut impl Sink) {
        let stream = self.summary.stream;
        let last = self.summary.last;
        let gaps = self.gaps;
        let mut findings = Vec::new();
        self.iqs
            .finish(&mut self.summary, last, gaps, &mut findings);
        let authenticated = self
            .summary
            .sasl
            .as_ref()
            .and_then(|s| s.outcome.as_deref())
            == Some("success");
        findings.extend(self.unanswered_open());
        let ended = self
            .summary
            .end
            .as_ref()
            .is_some_and(|end| !matches!(end.how, Ending::CaptureEnded | Ending::NotFollowed));
        if ended {
            // Only a session seen to end left its subscriptions behind: one
            // still open when the capture ended, or when the analysis
            // stopped following its connection (the memory budget), may
            // yet unsubscribe, and saying otherwise would be a guess.
            super::subscriptions::left_subscriptions(
                &self.summary.subscriptions,
                self.summary.stream,
                &mut findings,
            );
        }
        if (authenticated || self.summary.jid.is_some()) && self.summary.presence.is_none() {
            findings.push(
                Finding::new(
                    FindingCode::NoPresence,
                    "the client never sent its initial <presence/>: the server delivers no events (pubsub notifications) to it",
                )
                .at(last.unwrap_or_default())
                .in_stream(stream, None),
            );
        }
        for f in findings {
            sink.push_finding(f);
        }
        if self.summary.end.is_none() {
            self.summary.end = Some(End {
                at: last,
                how: Ending::CaptureEnded,
            });
        }
    }

    /// A capture gap in one direction (reported by the TCP framer).
    pub(crate) fn note_gap(&mut self) {
        self.gaps = self.gaps.saturating_add(1);
    }

    pub(crate) fn touch(&mut self, span: Span) {
        if self.summary.first.is_none() {
            self.summary.first = Some(span.first);
        }
        self.summary.last = Some(span.last.max(self.summary.last.unwrap_or_default()));
        self.stream.on_heard(span.dir);
    }

    /// One top-level item of the stream.
    pub(crate) fn on_item(
        &mut self,
        span: Span,
        kind: ItemKind,
        bytes: &[u8],
        sink: &mut impl Sink,
    ) -> Option<Signal> {
        let header = match kind {
            ItemKind::Decl | ItemKind::Comment => return None,
            ItemKind::Junk => {
                self.malformed(span, bytes, &"not XML", sink);
                return None;
            }
            ItemKind::StreamEnd => {
                self.stream_end(span, bytes, sink);
                return None;
            }
            ItemKind::Header => true,
            ItemKind::Element => false,
        };
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let err = XmlError::NotUtf8 {
                    valid_up_to: e.valid_up_to(),
                };
                self.malformed(span, bytes, &err, sink);
                return None;
            }
        };
        let ctx = self.stream.context(span.dir);
        let parsed = if header {
            element::parse_header(text, ctx, &self.limits, &mut self.scratch)
        } else {
            element::parse_element(text, ctx, &self.limits, &mut self.scratch)
        };
        match parsed {
            Ok(el) => {
                if header {
                    self.stream
                        .set_context(span.dir, Namespaces::from_header(&el));
                }
                self.dispatch(span, &el, sink)
            }
            Err(err) => {
                self.malformed(span, bytes, &err, sink);
                None
            }
        }
    }

    fn dispatch(&mut self, span: Span, el: &Element<'_>, sink: &mut impl Sink) -> Option<Signal> {
        for f in el.findings(self.limits.max_xml_nodes) {
            sink.push_finding(
                f.at(span.first)
                    .in_stream(self.summary.stream, Some(span.dir)),
            );
        }
        let root = el.root();
        let mut out = Out::default();
        match (root.ns(), root.local()) {
            (Ns::Framing, "open") | (Ns::Streams, "stream") => self.open(span, root, &mut out),
            (Ns::Framing, "close") => self.close(span, root.attr("see-other-uri"), &mut out),
            (Ns::Streams, "features") => self.features(root, &mut out),
            (Ns::Streams, "error") => self.stream_error(span, root, &mut out),
            (Ns::Tls, _) => self.tls(span, root, &mut out),
            (Ns::Sasl, _) => self
                .sasl
                .on_element(span, root, &mut self.summary.sasl, &mut out),
            (ns, "iq") if ns.is_stanza() => self.iq(span, root, &mut out),
            (ns, "presence") if ns.is_stanza() => {
                super::stanzas::presence(span, root, &mut self.summary.presence, &mut out)
            }
            (ns, "message") if ns.is_stanza() => self.message(span, root, &mut out),
            _ => super::stream::other(root, &mut out),
        }
        redact_passwords(root, &mut out);
        self.emit(span, el, out, sink)
    }

    fn emit(
        &mut self,
        span: Span,
        el: &Element<'_>,
        out: Out<'_>,
        sink: &mut impl Sink,
    ) -> Option<Signal> {
        self.touch(span);
        self.summary.stanzas[span.dir.index()] += 1;
        let root = el.root();
        let raw = if self.show_secrets || out.redact.is_empty() {
            Cow::Borrowed(el.source())
        } else {
            Cow::Owned(redact(el.source(), out.redact))
        };
        let stanza = Stanza {
            dir: span.dir,
            first: span.first,
            last: span.last,
            name: root.name(),
            kind: root.attr("type"),
            id: root.attr("id"),
            from: root.attr("from"),
            to: root.attr("to"),
            summary: out.summary,
            raw,
        };
        sink.on_stanza(&stanza);
        if !out.items.is_empty() {
            sink.on_pubsub_items(&stanza, &out.items);
        }
        for f in out.findings {
            sink.push_finding(
                f.at(span.first)
                    .in_stream(self.summary.stream, Some(span.dir)),
            );
        }
        out.signal
    }

    /// An element over `max_stanza_bytes`, counted but not kept.
    pub(crate) fn oversized(&mut self, span: Span, name: &str, len: usize, sink: &mut impl Sink) {
        self.touch(span);
        self.summary.malformed += 1;
        let cap = self.limits.max_stanza_bytes;
        let stanza = Stanza::bare(
            span,
            name,
            format!("skipped: {len} bytes, over the {cap}-byte cap"),
            Cow::Owned(format!("[{len} bytes not kept]")),
        );
        sink.on_stanza(&stanza);
        sink.push_finding(
            Finding::new(
                FindingCode::StanzaTooLarge,
                format!("<{name}> of {len} bytes is over the {cap}-byte stanza cap; skipped"),
            )
            .at(span.first)
            .in_stream(self.summary.stream, Some(span.dir)),
        );
    }

    /// An element that could not be parsed: a stanza saying so, and a finding.
    fn malformed(&mut self, span: Span, bytes: &[u8], err: &dyn Display, sink: &mut impl Sink) {
        self.touch(span);
        self.summary.malformed += 1;
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => std::str::from_utf8(bytes.get(..e.valid_up_to()).unwrap_or_default())
                .unwrap_or_default(),
        };
        let name = guess_name(text);
        // Unparsed XML cannot be redacted element by element: hide what may hold secrets.
        let risky =
            matches!(name, "auth" | "response" | "iq" | "presence") || text.contains("password");
        let raw = if self.show_secrets || !risky {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(format!("[{} bytes not shown: unparsed]", bytes.len()))
        };
        let stanza = Stanza::bare(span, name, format!("malformed XML: {err}"), raw);
        sink.on_stanza(&stanza);
        let code = if text.len() > self.limits.max_stanza_bytes {
            FindingCode::StanzaTooLarge
        } else {
            FindingCode::MalformedXml
        };
        let label = if name.is_empty() { "data" } else { name };
        sink.push_finding(
            Finding::new(
                code,
                format!("malformed XML in <{label}> ({} bytes): {err}", bytes.len()),
            )
            .at(span.first)
            .in_stream(self.summary.stream, Some(span.dir)),
        );
    }
}

/// `<password>` anywhere (jabber:iq:auth, registration, MUC) and the legacy auth digest.
fn redact_passwords(root: NodeRef<'_, '_>, out: &mut Out) {
    for node in root.descendants() {
        let secret = node.local() == "password" || node.is(Ns::IqAuth, "digest");
        if let (true, Some(span)) = (secret, node.text_span()) {
            out.redact.push(span);
        }
    }
}

/// Replaces each byte range by `[redacted]`.
fn redact(src: &str, mut spans: Vec<(usize, usize)>) -> String {
    spans.sort_unstable();
    let mut out = String::with_capacity(src.len());
    let mut pos = 0;
    for (start, end) in spans {
        if start < pos {
            continue;
        }
        out.push_str(src.get(pos..start).unwrap_or_default());
        out.push_str(REDACTED);
        pos = end;
    }
    out.push_str(src.get(pos..).unwrap_or_default());
    out
}

/// The element name at the start of unparsed text, for labelling it.
fn guess_name(text: &str) -> &str {
    let t = text.trim_start();
    let t = t.strip_prefix('<').unwrap_or("");
    let end = t
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/' || c == '<')
        .unwrap_or(t.len());
    t.get(..end.min(64)).unwrap_or("")
}
