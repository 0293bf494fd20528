//! Stream-level elements: open and restart, features, STARTTLS, close,
//! `</stream:stream>` and stream errors.
//!
//! Takes those elements of a session; gives their summaries in words, fills
//! the session summary (domains, stream id, offered features, how the stream
//! closed) and the findings support engineers look for (`conflict`,
//! `system-shutdown`, `connection-timeout`, redirects, STARTTLS refused).

use std::borrow::Cow;

use super::element::{Namespaces, NodeRef};
use super::ns::Ns;
use super::session::{condition_and_text, Out, Session, Signal, Span};
use super::summary::{Close, StreamError};
use super::{Sink, Stanza};
use crate::finding::Finding;
use crate::position::{Dir, FrameRef};
use crate::xmpp::FindingCode;

/// The state of a stream's two directions: the namespaces their last
/// stream header declared, when each first opened its stream (a later
/// open is a restart), and whether each was heard at all.
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    /// Per direction: the namespace context of its last stream header.
    namespaces: [Namespaces; 2],
    /// Per direction: the frame of its first stream open (`<open/>` or a header).
    opened: [Option<FrameRef>; 2],
    /// Per direction: it sent at least one item (an element, a stream end,
    /// or data that could not be read as one).
    heard: [bool; 2],
}

impl StreamState {
    /// The namespace context `dir`'s elements are read in.
    pub(crate) fn context(&self, dir: Dir) -> &Namespaces {
        &self.namespaces[dir.index()]
    }

    /// `dir` sent a stream header declaring `namespaces`.
    pub(crate) fn set_context(&mut self, dir: Dir, namespaces: Namespaces) {
        self.namespaces[dir.index()] = namespaces;
    }

    /// `dir` opens its stream at `at`: true when it had opened before (a restart).
    pub(crate) fn on_open(&mut self, dir: Dir, at: FrameRef) -> bool {
        let opened = &mut self.opened[dir.index()];
        let restart = opened.is_some();
        opened.get_or_insert(at);
        restart
    }

    /// Where `dir` first opened its stream, if it did.
    pub(crate) fn opened(&self, dir: Dir) -> Option<FrameRef> {
        self.opened[dir.index()]
    }

    /// `dir` sent an item.
    pub(crate) fn on_heard(&mut self, dir: Dir) {
        self.heard[dir.index()] = true;
    }

    /// Whether `dir` sent anything read as (or tried as) an XMPP item.
    pub(crate) fn heard(&self, dir: Dir) -> bool {
        self.heard[dir.index()]
    }
}

impl Session {
    pub(crate) fn open(&mut self, span: Span, root: NodeRef<'_, '_>, out: &mut Out) {
        let restart = self.stream.on_open(span.dir, span.first);
        let attr = |n: &str| root.attr(n).map(Cow::into_owned);
        let mut s = String::from("stream open");
        match span.dir {
            Dir::ClientToServer => {
                if restart {
                    self.summary.restarts += 1;
                }
                self.summary.to = attr("to").or(self.summary.to.take());
                self.summary.lang = attr("xml:lang").or(self.summary.lang.take());
                if let Some(to) = &self.summary.to {
                    s.push_str(&format!(" to {to}"));
                }
            }
            Dir::ServerToClient => {
                self.summary.from = attr("from").or(self.summary.from.take());
                self.summary.stream_id = attr("id");
                self.summary.version = attr("version").or(self.summary.version.take());
                if let Some(from) = &self.summary.from {
                    s.push_str(&format!(" from {from}"));
                }
                if let Some(id) = &self.summary.stream_id {
                    s.push_str(&format!(", id {id}"));
                }
            }
        }
        if root.attr("version").is_none() {
            s.push_str(" (no version: pre-RFC 3920 stream)");
        }
        if restart {
            s.push_str(" (restart)");
        }
        out.summary = s;
    }

    pub(crate) fn close(&mut self, span: Span, see_other: Option<Cow<'_, str>>, out: &mut Out) {
        out.summary = "close".to_owned();
        if let Some(uri) = &see_other {
            out.summary = format!("close, see-other-uri {uri}");
            out.find(
                FindingCode::Redirect,
                format!("the server redirects the client to {uri} (see-other-uri)"),
            );
        }
        match &mut self.summary.close {
            Some(c) if c.by != span.dir => c.answered = true,
            Some(_) => {}
            None => {
                self.summary.close = Some(Close {
                    by: span.dir,
                    at: span.first,
                    see_other_uri: see_other.map(Cow::into_owned),
                    answered: false,
                })
            }
        }
    }

    pub(crate) fn stream_end(&mut self, span: Span, bytes: &[u8], sink: &mut impl Sink) {
        let text = std::str::from_utf8(bytes).unwrap_or("</stream:stream>");
        let name = text
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim();
        let mut out = Out::default();
        self.close(span, None, &mut out);
        out.summary = "stream end".to_owned();
        self.touch(span);
        self.summary.stanzas[span.dir.index()] += 1;
        let stanza = Stanza::bare(span, name, out.summary, Cow::Borrowed(text));
        sink.on_stanza(&stanza);
    }

    pub(crate) fn features(&mut self, root: NodeRef<'_, '_>, out: &mut Out) {
        let f = &mut self.summary.features;
        let mut parts = Vec::new();
        for child in root.children() {
            match (child.ns(), child.local()) {
                (Ns::Sasl, "mechanisms") => {
                    f.mechanisms = child
                        .children()
                        .map(|m| m.text().trim().to_owned())
                        .collect();
                    parts.push(format!("SASL {}", f.mechanisms.join(" ")));
                }
                (Ns::Tls, "starttls") => {
                    let required = child.child_named("required").is_some();
                    f.starttls = Some(required);
                    parts.push(
                        if required {
                            "STARTTLS required"
                        } else {
                            "STARTTLS"
                        }
                        .to_owned(),
                    );
                }
                (Ns::Bind, "bind") => {
                    f.bind = true;
                    parts.push("bind".to_owned());
                }
                (Ns::Session, "session") => {
                    f.session = true;
                    let optional = child.child_named("optional").is_some();
                    parts.push(
                        if optional {
                            "session (optional)"
                        } else {
                            "session"
                        }
                        .to_owned(),
                    );
                }
                (Ns::Compress, "compression") => {
                    f.compression = child
                        .children()
                        .map(|m| m.text().trim().to_owned())
                        .collect();
                    parts.push(format!("compression {}", f.compression.join(" ")));
                }
                (ns, name) => {
                    if !f.other.iter().any(|o| o == name) && f.other.len() < 32 {
                        f.other.push(name.to_owned());
                    }
                    parts.push(feature_in_words(ns, name).to_owned());
                }
            }
        }
        out.summary = if parts.is_empty() {
            "features: none".to_owned()
        } else {
            format!("features: {}", parts.join(", "))
        };
    }

    pub(crate) fn stream_error(&mut self, span: Span, root: NodeRef<'_, '_>, out: &mut Out) {
        let (condition, text) = condition_and_text(root);
        let cond = condition.as_deref().unwrap_or("undefined");
        out.summary = match &text {
            Some(t) => format!("stream error {cond}: {t}"),
            None => format!("stream error {cond}"),
        };
        let resource = self.bound_resource();
        let (code, message) = match cond {
            "conflict" => (
                FindingCode::Conflict,
                format!(
                    "stream error conflict: another client bound the same resource{}; this session was replaced",
                    resource.map(|r| format!(" ({r})")).unwrap_or_default()
                ),
            ),
            "system-shutdown" => (
                FindingCode::SystemShutdown,
                "stream error system-shutdown: the server is going down".to_owned(),
            ),
            "connection-timeout" => (
                FindingCode::ConnectionTimeout,
                "stream error connection-timeout: the server closed the idle session".to_owned(),
            ),
            "see-other-host" => (
                FindingCode::Redirect,
                format!("stream error see-other-host: the server redirects the client to {}", text.as_deref().unwrap_or("another host")),
            ),
            _ => (FindingCode::StreamError, format!("stream error {cond}")),
        };
        out.find(code, message);
        if self.summary.stream_error.is_none() {
            self.summary.stream_error = Some(StreamError {
                condition,
                text,
                by: span.dir,
                at: span.first,
            });
        }
    }

    /// `xmpp.no_stream_response`: the client opened its stream and nothing
    /// came back from the server, by the end of the session or the capture.
    pub(crate) fn unanswered_open(&self) -> Option<Finding> {
        let at = self.stream.opened(Dir::ClientToServer)?;
        if self.stream.heard(Dir::ServerToClient) {
            return None;
        }
        let to = self
            .summary
            .to
            .as_deref()
            .map(|t| format!(" to {t}"))
            .unwrap_or_default();
        let until = match &self.summary.end {
            Some(end) => format!("before the session ended ({})", end.how.in_words()),
            None => "by the end of the capture".to_owned(),
        };
        let mut message = format!(
            "the server never answered the client's stream open{to}: no stream header, features or stream error came back {until}"
        );
        if self.gaps > 0 {
            message.push_str(" (a capture gap may have hidden it)");
        }
        Some(
            Finding::new(FindingCode::NoStreamResponse, message)
                .at(at)
                .in_stream(self.summary.stream, Some(Dir::ClientToServer)),
        )
    }

    /// The resource this session bound (or asked for).
    pub(crate) fn bound_resource(&self) -> Option<String> {
        let from_jid = self
            .summary
            .jid
            .as_deref()
            .and_then(|j| j.split_once('/'))
            .map(|(_, r)| r.to_owned());
        from_jid.or_else(|| self.summary.bind.as_ref()?.requested_resource.clone())
    }

    pub(crate) fn tls(&mut self, span: Span, root: NodeRef<'_, '_>, out: &mut Out) {
        match root.local() {
            "starttls" => {
                out.summary = "starttls".to_owned();
                out.signal = Some(Signal::StartTls);
                self.summary.starttls = Some(super::StartTls {
                    at: span.first,
                    outcome: None,
                });
            }
            "proceed" => {
                out.summary = "proceed: TLS starts".to_owned();
                out.signal = Some(Signal::Proceed);
                self.set_tls_outcome(span, "proceed");
            }
            "failure" => {
                out.summary = "starttls failure".to_owned();
                out.find(FindingCode::StarttlsFailure, "the server refused STARTTLS");
                self.set_tls_outcome(span, "failure");
            }
            other => out.summary = other.to_owned(),
        }
    }

    fn set_tls_outcome(&mut self, span: Span, outcome: &str) {
        let tls = self.summary.starttls.get_or_insert(super::StartTls {
            at: span.first,
            outcome: None,
        });
        tls.outcome = Some(outcome.to_owned());
    }
}

/// Any element xmppcap does not follow: its name and namespace.
pub(crate) fn other(root: NodeRef<'_, '_>, out: &mut Out) {
    out.summary = match root.attr("xmlns") {
        Some(ns) => format!("{} ({ns})", root.name()),
        None => root.name().to_owned(),
    };
    if root.ns() == Ns::StreamManagement {
        if let Some(h) = root.attr("h") {
            out.summary = format!("sm {} h={h}", root.local());
        } else {
            out.summary = format!("sm {}", root.local());
        }
    }
}

/// Well-known stream features by namespace and element name, in words
/// (others by their name as written). Three namespaces share `<register>`.
fn feature_in_words(ns: Ns, name: &str) -> &str {
    match (ns, name) {
        (Ns::Caps, "c") => "caps",
        (Ns::RosterVer, "ver") => "roster versioning",
        (Ns::StreamManagement, "sm") => "stream management",
        (Ns::Csi, "csi") => "client state indication",
        (Ns::RegisterFeature, "register") => "in-band registration (XEP-0077)",
        (Ns::IbrToken, "register") => "pre-authenticated registration (XEP-0445 invitation token)",
        (Ns::Invite, "register") => "invitation registration (XEP-0401, older namespace)",
        (Ns::IqAuthFeature, "auth") => "legacy auth (XEP-0078)",
        (Ns::PreApproval, "sub") => "presence pre-approval",
        (_, other) => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::Timestamp;

    #[test]
    fn a_second_open_is_a_restart_and_the_first_is_remembered() {
        let at = |n| FrameRef::new(n, Timestamp::from_secs_nanos(n as i64, 0));
        let mut s = StreamState::default();
        assert!(!s.heard(Dir::ServerToClient));
        assert!(!s.on_open(Dir::ClientToServer, at(1)));
        assert!(s.on_open(Dir::ClientToServer, at(7)));
        assert!(!s.on_open(Dir::ServerToClient, at(2)));
        assert_eq!(s.opened(Dir::ClientToServer), Some(at(1)));
        s.on_heard(Dir::ServerToClient);
        assert!(s.heard(Dir::ServerToClient) && !s.heard(Dir::ClientToServer));
    }
}
