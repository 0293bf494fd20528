//! Report [`Event`]s from each stage's events, with a one-line summary in
//! words: the only place the timeline's sentences are written.
//!
//! Takes stage events (TCP, HTTP, BOSH, WebSocket, XMPP, Finesse); gives
//! report events. Pure functions; never reads payload beyond what a stage
//! already redacted.

use std::fmt::Write as _;

use crate::http::{self, bosh};
use crate::position::{Dir, FrameRef};
use crate::report::event::{
    BoshBody, Detail, Event, FinesseUpdate, RestRequest, Stanza, WsControl, WsMessage,
};
use crate::report::text;
use crate::{finesse, tcp, tls, ws, xmpp};

pub(crate) fn tcp_open(
    stream: u64,
    at: FrameRef,
    client: std::net::SocketAddr,
    server: std::net::SocketAddr,
    origin: tcp::Origin,
) -> Event {
    let summary = format!("TCP {client} → {server}, {}", origin.describe());
    Event::new(
        Some(at),
        summary,
        Detail::TcpOpen {
            client,
            server,
            origin,
        },
    )
    .in_stream(stream, None)
}

pub(crate) fn tcp_gap(
    stream: u64,
    dir: Dir,
    at: FrameRef,
    offset: u64,
    len: u64,
    reason: tcp::GapReason,
) -> Event {
    let summary = format!(
        "{len} bytes from the {} missing in the capture ({})",
        dir.side(),
        reason.as_str()
    );
    Event::new(
        Some(at),
        summary,
        Detail::TcpGap {
            offset,
            len,
            reason,
        },
    )
    .in_stream(stream, Some(dir))
}

pub(crate) fn tcp_end(stream: u64, dir: Dir, at: FrameRef, rst: bool) -> Event {
    let (detail, what) = if rst {
        (Detail::TcpRst {}, "reset the connection (RST)")
    } else {
        (Detail::TcpFin {}, "closed its side (FIN)")
    };
    Event::new(Some(at), format!("{} {what}", dir.side()), detail).in_stream(stream, Some(dir))
}

pub(crate) fn tcp_close(stream: u64, at: FrameRef, stats: &tcp::StreamStats) -> Event {
    let summary = format!(
        "connection done ({}): {} bytes from the client, {} from the server, {} gaps",
        stats.ending_words(),
        stats.client_to_server.bytes,
        stats.server_to_client.bytes,
        stats.client_to_server.gaps + stats.server_to_client.gaps,
    );
    Event::new(
        Some(at),
        summary,
        Detail::TcpClose {
            stats: Box::new(stats.clone()),
        },
    )
    .in_stream(stream, None)
}

/// A connection's story, from its first frame to the frame that ended it.
pub(crate) fn conn_summary(s: &crate::conn::Summary) -> Event {
    let summary = crate::report::story::one_line(s);
    let detail = Detail::ConnSummary(Box::new(s.clone()));
    let event = Event::new(Some(s.first), summary, detail).in_stream(s.stream, None);
    match (s.ended.frame, s.ended.time) {
        (Some(frame), Some(ts)) => event.until(FrameRef::new(frame, ts)),
        _ => event,
    }
}

pub(crate) fn exchange(ex: &http::Exchange) -> Event {
    let at = ex
        .request
        .as_ref()
        .map(|r| r.first)
        .or(ex.response.as_ref().map(|r| r.first));
    let request = ex.request.as_ref().map_or_else(
        || "(request not captured)".to_owned(),
        |r| {
            let id = r
                .headers
                .request_id
                .as_deref()
                .map(|id| format!(" (requestId {id})"))
                .unwrap_or_default();
            format!("{} {}{id}", r.method, r.path)
        },
    );
    let response = match (&ex.response, ex.latency_ms) {
        (Some(r), Some(ms)) => format!(
            "{} {} ({})",
            r.status,
            r.reason,
            text::duration_nanos((ms * 1e6) as i64)
        ),
        (Some(r), None) => format!("{} {}", r.status, r.reason),
        (None, _) => "no response".to_owned(),
    };
    let mut event = Event::new(
        at,
        format!("{request} → {response}"),
        Detail::HttpExchange {
            exchange: Box::new(ex.clone()),
        },
    )
    .in_stream(ex.stream, Some(Dir::ClientToServer));
    if let Some(r) = &ex.response {
        event = event.until(r.last);
    }
    event
}

pub(crate) fn upgrade(up: &http::Upgrade) -> Event {
    let protocol = match &up.protocol {
        http::Protocol::Websocket => "websocket".to_owned(),
        http::Protocol::Other(p) => p.clone(),
        http::Protocol::Tunnel => "tunnel".to_owned(),
    };
    let mut summary = format!("switched to {protocol}");
    if let Some(sub) = &up.subprotocol {
        summary.push_str(&format!(", subprotocol {sub}"));
    }
    if let Some(ext) = &up.extensions_accepted {
        summary.push_str(&format!(", extensions: {ext}"));
    }
    if up.accept_valid == Some(false) {
        summary.push_str(", Sec-WebSocket-Accept WRONG");
    }
    let detail = Detail::HttpUpgrade {
        protocol,
        subprotocol: up.subprotocol.clone(),
        extensions_offered: up.extensions_offered.clone(),
        extensions_accepted: up.extensions_accepted.clone(),
        accept_valid: up.accept_valid,
    };
    Event::new(Some(up.server_at), summary, detail).in_stream(up.stream, Some(Dir::ServerToClient))
}

pub(crate) fn bosh_body(body: &bosh::Body) -> Event {
    let role = match body.role {
        bosh::Role::Request => "request",
        bosh::Role::Response => "response",
    };
    let a = &body.attrs;
    let mut summary = format!("BOSH {role}");
    if let Some(rid) = a.rid {
        summary.push_str(&format!(" rid {rid}"));
    }
    if let Some(status) = body.status.filter(|s| *s != 200) {
        summary.push_str(&format!(" HTTP {status}"));
    }
    if a.restart {
        summary.push_str(" restart");
    }
    if a.is_terminate() {
        summary.push_str(&format!(
            " terminate{}",
            a.condition
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        ));
    }
    let names: Vec<String> = body.stanzas.iter().map(|s| s.name.clone()).collect();
    if names.is_empty() {
        summary.push_str(if body.is_empty_poll() {
            ": empty (long poll ended)"
        } else {
            ": empty"
        });
    } else {
        summary.push_str(&format!(": {}", names.join(", ")));
    }
    if let Some(ms) = body.held_ms {
        summary.push_str(&format!(
            ", held {}",
            text::duration_nanos((ms * 1e6) as i64)
        ));
    }
    let detail = Detail::BoshBody(Box::new(BoshBody {
        role,
        status: body.status,
        attrs: body.attrs.clone(),
        stanzas: names,
        held_ms: body.held_ms,
        error: body.error.clone(),
    }));
    Event::new(Some(body.first), summary, detail)
        .in_stream(body.stream, Some(body.dir))
        .until(body.last)
}

/// `text` is what the report may show of a text message (XMPP redacted by the caller).
pub(crate) fn ws_message(m: &ws::Message<'_>, text: Option<String>) -> Event {
    let opcode = match m.opcode {
        ws::MessageOpcode::Text => "text",
        ws::MessageOpcode::Binary => "binary",
    };
    let mut summary = String::with_capacity(48);
    let _ = write!(summary, "{opcode} message");
    let _ = match (m.len, m.known_bytes, m.inflate_cap) {
        (_, Some(known), _) => write!(
            summary,
            ", {known} of {} bytes known ({} compressed; the rest refers to compression history from before the capture or a gap)",
            m.payload.len(),
            m.wire_len
        ),
        (None, _, Some(cap)) => write!(
            summary,
            ", inflated to the {} cap, the rest dropped ({} compressed bytes)",
            text::bytes(cap),
            m.wire_len
        ),
        (Some(len), ..) if m.compressed => {
            write!(summary, ", {len} bytes ({} compressed)", m.wire_len)
        }
        (Some(len), ..) => write!(summary, ", {len} bytes"),
        (None, ..) => write!(summary, ", {} compressed bytes not inflated", m.wire_len),
    };
    if m.frames > 1 {
        let _ = write!(summary, " in {} frames", m.frames);
    }
    if let Some(t) = &text {
        let _ = write!(summary, ": {}", one_line(t, 80));
    }
    let detail = Detail::WsMessage(WsMessage {
        opcode,
        compressed: m.compressed,
        frames: m.frames,
        wire_len: m.wire_len,
        len: m.len,
        truncated: m.truncated,
        not_inflated: m.not_inflated.map(|n| format!("{n:?}").to_lowercase()),
        text,
    });
    Event::new(Some(m.frame), summary, detail)
        .in_stream(m.stream, Some(m.dir))
        .until(m.last_frame)
}

pub(crate) fn ws_control(c: &ws::Control<'_>) -> Event {
    let opcode = match c.opcode {
        ws::ControlOpcode::Close => "close",
        ws::ControlOpcode::Ping => "ping",
        ws::ControlOpcode::Pong => "pong",
    };
    let summary = match (c.opcode, c.close_code, c.latency_ms) {
        (ws::ControlOpcode::Close, Some(code), _) => {
            format!(
                "Close {code}{}",
                c.close_reason
                    .map(|r| format!(" \"{}\"", one_line(r, 60)))
                    .unwrap_or_default()
            )
        }
        (ws::ControlOpcode::Close, None, _) => "Close (no code)".to_owned(),
        (ws::ControlOpcode::Pong, _, Some(ms)) => {
            format!("Pong ({})", text::duration_nanos((ms * 1e6) as i64))
        }
        (ws::ControlOpcode::Ping, ..) => format!("Ping ({} bytes)", c.len),
        (ws::ControlOpcode::Pong, ..) => format!("Pong ({} bytes, unsolicited)", c.len),
    };
    let detail = Detail::WsControl(WsControl {
        opcode,
        len: c.len,
        close_code: c.close_code,
        close_reason: c.close_reason.map(str::to_owned),
        answers_frame: c.answers_frame,
        latency_ms: c.latency_ms,
    });
    Event::new(Some(c.frame), summary, detail).in_stream(c.stream, Some(c.dir))
}

/// How a WebSocket ended, in words (also used in session summaries).
pub(crate) fn describe_ws_closed(closed: &ws::Closed) -> String {
    match (closed.first, &closed.tcp_end) {
        (Some(first), _) => {
            let sent = if first == Dir::ClientToServer {
                &closed.c2s
            } else {
                &closed.s2c
            };
            let code = sent
                .as_ref()
                .and_then(|s| s.code)
                .map_or("no code".to_owned(), |c| c.to_string());
            let answered = if first == Dir::ClientToServer {
                closed.s2c.is_some()
            } else {
                closed.c2s.is_some()
            };
            format!(
                "Close {code} from the {}{}",
                first.side(),
                if answered {
                    ", answered"
                } else {
                    ", not answered"
                }
            )
        }
        (None, Some(end)) => format!(
            "1006: TCP {} by the {} without a Close frame",
            if end.rst { "reset" } else { "closed" },
            end.dir.side()
        ),
        (None, None) => "still open at the end of the capture".to_owned(),
    }
}

pub(crate) fn ws_closed(closed: &ws::Closed) -> Option<Event> {
    let (at, dir) = match (closed.first, &closed.tcp_end) {
        (Some(first), _) => {
            let sent = if first == Dir::ClientToServer {
                &closed.c2s
            } else {
                &closed.s2c
            };
            (sent.as_ref().map(|s| s.frame)?, first)
        }
        (None, Some(end)) => (end.frame, end.dir),
        (None, None) => return None,
    };
    let detail = Detail::WsClose {
        closed: Box::new(closed.clone()),
    };
    Some(
        Event::new(
            Some(at),
            format!("WebSocket ended: {}", describe_ws_closed(closed)),
            detail,
        )
        .in_stream(closed.stream, Some(dir)),
    )
}

pub(crate) fn stanza(stream: u64, s: &xmpp::Stanza<'_>, raw: bool) -> Event {
    let detail = Detail::XmppStanza(Stanza {
        name: s.name.to_owned(),
        kind: s.kind.as_deref().map(str::to_owned),
        id: s.id.as_deref().map(str::to_owned),
        from: s.from.as_deref().map(str::to_owned),
        to: s.to.as_deref().map(str::to_owned),
        raw: raw.then(|| s.raw.to_string()),
    });
    Event::new(Some(s.first), s.summary.clone(), detail)
        .in_stream(stream, Some(s.dir))
        .until(s.last)
}

pub(crate) fn finesse(
    stream: u64,
    s: &xmpp::Stanza<'_>,
    u: finesse::Update,
    rest: Option<RestRequest>,
) -> Event {
    let mut summary = u.summary();
    if let Some(r) = &rest {
        summary.push_str(&format!(
            " (answers {} {} of {}, {} earlier)",
            r.method,
            r.path,
            crate::position::Position::of_frame_number(r.frame),
            text::duration_nanos((r.ms_before_update * 1e6) as i64)
        ));
    }
    let detail = Detail::FinesseUpdate(Box::new(FinesseUpdate {
        node: u.node,
        item_id: u.item_id,
        event: u.event,
        request_id: u.request_id,
        source: u.source,
        data: u.payload,
        rest_request: rest,
    }));
    Event::new(Some(s.first), summary, detail)
        .in_stream(stream, Some(s.dir))
        .until(s.last)
}

pub(crate) fn tls_handover(stream: u64, h: &xmpp::TlsHandover) -> Event {
    let summary = format!("STARTTLS: the {}'s bytes are TLS from here", h.dir.side());
    Event::new(
        Some(h.at),
        summary,
        Detail::XmppStartTls { offset: h.offset },
    )
    .in_stream(stream, Some(h.dir))
}

/// A TLS handshake milestone as a report event.
pub(crate) fn tls_event(event: &tls::Event) -> Event {
    Event::new(
        Some(event.at),
        tls_summary(&event.kind),
        Detail::Tls {
            event: Box::new(event.kind.clone()),
        },
    )
    .in_stream(event.stream, Some(event.dir))
}

/// A TLS milestone in words.
fn tls_summary(kind: &tls::EventKind) -> String {
    use tls::EventKind as K;
    match kind {
        K::ClientHello {
            sni,
            alpn,
            versions,
            ..
        } => client_hello_summary(sni.as_deref(), alpn, versions),
        K::ServerHello {
            suite,
            hello_retry_request: true,
            ..
        } => format!("HelloRetryRequest ({suite})"),
        K::ServerHello { version, suite, .. } => format!("ServerHello {version} {suite}"),
        K::EncryptedExtensions { alpn, .. } => format!(
            "EncryptedExtensions{}",
            alpn.as_deref()
                .map(|a| format!(" ALPN {a}"))
                .unwrap_or_default()
        ),
        K::Certificate { certificates } => {
            let first = certificates.first().and_then(|c| c.subject_cn.clone());
            let name = first.unwrap_or_else(|| format!("({} certificates)", certificates.len()));
            format!("Certificate {name}")
        }
        K::ChangeCipherSpec => "ChangeCipherSpec".to_owned(),
        K::Finished => "Finished".to_owned(),
        K::EndOfEarlyData => "EndOfEarlyData".to_owned(),
        K::Alert {
            level, description, ..
        } => format!("Alert {level} {description}"),
        K::NewSessionTicket { lifetime, .. } => {
            format!("NewSessionTicket (lifetime {lifetime} s)")
        }
        K::KeyUpdate { generation, .. } => format!("KeyUpdate (traffic secret {generation})"),
        K::DecryptionStarted { key_source, .. } => {
            format!("decrypting with keys from {key_source}")
        }
        K::DecryptionFailed { reason } => format!("cannot decrypt: {reason}"),
    }
}

/// "ClientHello SNI host ALPN h2,http/1.1, offers TLS 1.3".
fn client_hello_summary(sni: Option<&str>, alpn: &[String], versions: &[String]) -> String {
    let sni = sni.map(|s| format!(" SNI {s}")).unwrap_or_default();
    let alpn = if alpn.is_empty() {
        String::new()
    } else {
        format!(" ALPN {}", alpn.join(","))
    };
    format!("ClientHello{sni}{alpn}, offers {}", versions.join(", "))
}

/// The WebSocket part of a session's transport, in words; `not_followed`:
/// the memory budget cut its connection (an open one is not said open).
pub(crate) fn websocket_detail(summary: &ws::Summary, not_followed: bool) -> String {
    let mut parts = Vec::new();
    if summary.midstream {
        parts.push("handshake not captured".to_owned());
    }
    let closed = &summary.closed;
    if not_followed && closed.first.is_none() && closed.tcp_end.is_none() {
        parts.push("not followed to its end (cut for the memory budget)".to_owned());
    } else {
        parts.push(describe_ws_closed(closed));
    }
    parts.join(", ")
}

/// How an XMPP session ended, in words.
pub(crate) fn describe_ending(s: &xmpp::Summary) -> String {
    let mut parts = Vec::new();
    if let Some(e) = &s.stream_error {
        parts.push(format!(
            "stream error {} from the {}",
            e.condition.as_deref().unwrap_or("(no condition)"),
            e.by.side()
        ));
    }
    if let Some(c) = &s.close {
        let what = if s.transport == xmpp::Transport::WebSocket {
            "<close/>"
        } else {
            "</stream:stream>"
        };
        parts.push(format!("{what} from the {}", c.by.side()));
        if let Some(uri) = &c.see_other_uri {
            parts.push(format!("redirected to {uri}"));
        }
    }
    match s.end.as_ref().map(|e| &e.how) {
        Some(how) => parts.push(how.in_words()),
        None => parts.push(xmpp::Ending::CaptureEnded.in_words()),
    }
    parts.join(", ")
}

/// The first `max` characters of `s` on one line.
pub(crate) fn one_line(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::Timestamp;

    fn compressed(
        len: Option<u64>,
        known: Option<u64>,
        cap: Option<u64>,
        payload: &[u8],
    ) -> String {
        let at = FrameRef::new(5, Timestamp::default());
        let m = ws::Message {
            stream: 0,
            dir: Dir::ServerToClient,
            frame: at,
            last_frame: at,
            time: at.ts,
            opcode: ws::MessageOpcode::Text,
            compressed: true,
            frames: 1,
            wire_len: 300,
            len,
            truncated: cap.is_some(),
            not_inflated: None,
            known_bytes: known,
            inflate_cap: cap,
            text: None,
            payload,
        };
        ws_message(&m, None).summary
    }

    #[test]
    fn a_message_inflated_to_the_cap_says_so() {
        let summary = compressed(None, None, Some(8 << 20), b"<message>");
        assert_eq!(
            summary,
            "text message, inflated to the 8.0 MiB cap, the rest dropped (300 compressed bytes)"
        );
    }

    #[test]
    fn a_partly_known_message_says_how_much() {
        let summary = compressed(Some(6), Some(2), None, b"<\xff\xff\xff2>");
        assert!(
            summary.starts_with("text message, 2 of 6 bytes known (300 compressed;"),
            "{summary}"
        );
    }
}
