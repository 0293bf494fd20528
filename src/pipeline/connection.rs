//! One TCP connection through every stage above TCP: TLS when the bytes are
//! TLS (from the first byte, or from a STARTTLS switch), then the
//! application side ([`AppStage`]).
//!
//! Takes the TCP stage's data, gaps and ends for one stream; gives report
//! events and, when the connection is done, its [`ConnectionReport`] (and
//! the XMPP session it carried). Every byte is accounted for: decoded, lost
//! in the capture, undecryptable, or unparsed.

use std::net::SocketAddr;

use crate::finding::{Finding, Findings};
use crate::pipeline::app_stage::{AppStage, FinishedSession, Pending};
use crate::pipeline::context::Context;
use crate::position::{Dir, FrameRef};
use crate::report::event::{Detail, Event};
use crate::report::model::{ByteAccounts, ConnectionReport, SessionReport};
use crate::tcp::StreamStats;
use crate::tls::{self, KeyLog};

pub(crate) struct ConnectionStack {
    pub stream: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    tls: Option<Box<tls::Session>>,
    /// Directions whose TCP bytes go through TLS.
    tls_dirs: [bool; 2],
    app: AppStage,
    bytes: ByteAccounts,
}

impl ConnectionStack {
    pub fn new(stream: u64, client: SocketAddr, server: SocketAddr) -> ConnectionStack {
        ConnectionStack {
            stream,
            client,
            server,
            tls: None,
            tls_dirs: [false; 2],
            app: AppStage::new(
                stream,
                crate::ws::Ports {
                    client: client.port(),
                    server: server.port(),
                },
            ),
            bytes: ByteAccounts::default(),
        }
    }

    pub fn on_data(
        &mut self,
        ctx: &mut Context,
        keys: &KeyLog,
        dir: Dir,
        at: FrameRef,
        bytes: &[u8],
    ) {
        self.bytes.dir_mut(dir).tcp += bytes.len() as u64;
        if self.tls_dirs[dir.index()] {
            self.feed_tls(ctx, keys, Pending::Data(dir, at, Vec::new()), bytes);
        } else {
            self.app.on_data(ctx, dir, at, bytes, false);
            self.drain_handover(ctx, keys);
        }
    }

    pub fn on_gap(&mut self, ctx: &mut Context, keys: &KeyLog, dir: Dir, at: FrameRef, len: u64) {
        self.bytes.dir_mut(dir).gaps += len;
        if self.tls_dirs[dir.index()] {
            self.feed_tls(ctx, keys, Pending::Gap(dir, at, len), &[]);
        } else {
            self.app.on_gap(ctx, dir, at, len, false);
            self.drain_handover(ctx, keys);
        }
    }

    pub fn on_tcp_end(&mut self, ctx: &mut Context, dir: Dir, at: FrameRef, rst: bool) {
        self.app.on_tcp_end(ctx, dir, at, rst);
    }

    /// The stream left the TCP table: flush every stage and file the reports.
    pub fn finish(mut self, ctx: &mut Context, keys: &KeyLog, stats: Option<&StreamStats>) {
        self.drain_handover(ctx, keys);
        let stream = self.stream;
        let session_hint = self.app.session();
        if let Some(tls) = self.tls.as_mut() {
            let mut out = TlsOut {
                ctx,
                app: &mut self.app,
                bytes: &mut self.bytes,
                stream,
                session: session_hint,
            };
            tls.finish(&mut out);
        }
        let via_tls = self.tls.is_some();
        let finished = self.app.finish(ctx, via_tls);
        for dir in Dir::BOTH {
            self.bytes.dir_mut(dir).unparsed += self.app.unparsed[dir.index()];
        }
        let tls_summary = self.tls.as_ref().map(|t| t.summary().clone());
        let mut layers = Vec::new();
        if self.app.started_tls() {
            // Plain XMPP first, then TLS, with XMPP inside.
            layers.push("xmpp");
        }
        if tls_summary.is_some() {
            layers.push("tls");
        }
        layers.extend(self.app.layers.iter().copied());
        if let Some(f) = &finished {
            if !layers.contains(&"xmpp") {
                layers.push("xmpp");
            }
            let mut report = session_report(f, &self, tls_summary.as_ref());
            // The session starts with its connection, not its first stanza.
            report.start = stats
                .map(|s| s.first.ts)
                .into_iter()
                .chain(report.start)
                .min();
            ctx.keep_session(report);
        }
        ctx.keep_connection(ConnectionReport {
            stream,
            client: self.client,
            server: self.server,
            layers,
            tcp: stats.cloned(),
            tls: tls_summary,
            websocket: self.app.ws_summary.take(),
            http_exchanges: self.app.http_exchanges,
            session: finished.as_ref().map(|f| f.id),
            bytes: self.bytes,
        });
    }

    /// Bytes the application side found to be TLS go to the TLS stage.
    fn drain_handover(&mut self, ctx: &mut Context, keys: &KeyLog) {
        while !self.app.handover.is_empty() {
            for item in std::mem::take(&mut self.app.handover) {
                let dir = match &item {
                    Pending::Data(dir, ..) | Pending::Gap(dir, ..) => *dir,
                };
                self.tls_dirs[dir.index()] = true;
                match item {
                    Pending::Data(dir, at, bytes) => {
                        self.feed_tls(ctx, keys, Pending::Data(dir, at, Vec::new()), &bytes)
                    }
                    gap => self.feed_tls(ctx, keys, gap, &[]),
                }
            }
        }
    }

    /// Feeds one item to TLS (creating the session at its first byte); `bytes`
    /// holds the data of a `Pending::Data` item.
    fn feed_tls(&mut self, ctx: &mut Context, keys: &KeyLog, item: Pending, bytes: &[u8]) {
        let stream = self.stream;
        let session = self.app.session();
        let tls = self
            .tls
            .get_or_insert_with(|| Box::new(tls::Session::new(stream, &ctx.limits)));
        let mut out = TlsOut {
            ctx,
            app: &mut self.app,
            bytes: &mut self.bytes,
            stream,
            session,
        };
        match item {
            Pending::Data(dir, at, _) => {
                out.bytes.dir_mut(dir).tls += bytes.len() as u64;
                tls.on_data(keys, dir, at, bytes, &mut out);
            }
            Pending::Gap(dir, at, len) => tls.on_gap(dir, at, len, &mut out),
        }
    }
}

/// Receives the TLS stage's plaintext (for the application side), its
/// undecryptable stretches and its handshake events.
struct TlsOut<'a, 'c, 's> {
    ctx: &'c mut Context<'s>,
    app: &'a mut AppStage,
    bytes: &'a mut ByteAccounts,
    stream: u64,
    session: Option<u32>,
}

impl Findings for TlsOut<'_, '_, '_> {
    fn push_finding(&mut self, finding: Finding) {
        self.ctx.finding(finding, Some(self.stream), self.session);
    }
}

impl tls::Sink for TlsOut<'_, '_, '_> {
    fn on_plaintext(&mut self, dir: Dir, at: FrameRef, bytes: &[u8]) {
        self.bytes.dir_mut(dir).decrypted += bytes.len() as u64;
        self.ctx.sink.on_plaintext(self.stream, dir, at, bytes);
        self.app.on_data(self.ctx, dir, at, bytes, true);
    }

    fn on_plaintext_gap(&mut self, dir: Dir, at: FrameRef, len: u64, reason: tls::GapReason) {
        let why = format!("{reason:?}");
        self.ctx
            .sink
            .on_plaintext_gap(self.stream, dir, at, len, &why);
        match reason {
            tls::GapReason::CaptureGap => {}
            tls::GapReason::Unparsed => self.bytes.dir_mut(dir).unparsed += len,
            _ => self.bytes.dir_mut(dir).undecryptable += len,
        }
        self.app.on_gap(self.ctx, dir, at, len, true);
    }

    fn on_tls_event(&mut self, event: &tls::Event) {
        let mut e = tls_event(event);
        e.session = self.session;
        self.ctx.emit(e);
    }
}

/// A TLS handshake milestone as a report event.
fn tls_event(event: &tls::Event) -> Event {
    use tls::EventKind as K;
    let (name, summary) = match &event.kind {
        K::ClientHello {
            sni,
            alpn,
            versions,
            ..
        } => (
            "client_hello",
            client_hello_summary(sni.as_deref(), alpn, versions),
        ),
        K::ServerHello {
            version,
            suite,
            hello_retry_request,
            ..
        } => (
            "server_hello",
            if *hello_retry_request {
                format!("HelloRetryRequest ({suite})")
            } else {
                format!("ServerHello {version} {suite}")
            },
        ),
        K::EncryptedExtensions { alpn, .. } => (
            "encrypted_extensions",
            format!(
                "EncryptedExtensions{}",
                alpn.as_deref()
                    .map(|a| format!(" ALPN {a}"))
                    .unwrap_or_default()
            ),
        ),
        K::Certificate { certificates } => {
            let first = certificates.first().and_then(|c| c.subject_cn.clone());
            let name = first.unwrap_or_else(|| format!("({} certificates)", certificates.len()));
            ("certificate", format!("Certificate {name}"))
        }
        K::ChangeCipherSpec => ("change_cipher_spec", "ChangeCipherSpec".to_owned()),
        K::Finished => ("finished", "Finished".to_owned()),
        K::EndOfEarlyData => ("end_of_early_data", "EndOfEarlyData".to_owned()),
        K::Alert {
            level, description, ..
        } => ("alert", format!("Alert {level} {description}")),
        K::NewSessionTicket { lifetime, .. } => (
            "new_session_ticket",
            format!("NewSessionTicket (lifetime {lifetime} s)"),
        ),
        K::KeyUpdate { generation, .. } => (
            "key_update",
            format!("KeyUpdate (traffic secret {generation})"),
        ),
        K::DecryptionStarted { key_source, .. } => (
            "decryption_started",
            format!("decrypting with keys from {key_source}"),
        ),
        K::DecryptionFailed { reason } => {
            ("decryption_failed", format!("cannot decrypt: {reason}"))
        }
    };
    Event::new(
        format!("tls.{name}"),
        Some(event.at),
        summary,
        Detail::Tls {
            event: Box::new(event.kind.clone()),
        },
    )
    .in_stream(event.stream, Some(event.dir))
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

fn session_report(
    f: &FinishedSession,
    conn: &ConnectionStack,
    tls: Option<&tls::Summary>,
) -> SessionReport {
    SessionReport {
        id: f.id,
        streams: vec![conn.stream],
        client: Some(conn.client),
        server: Some(conn.server),
        tls: tls.map(tls::Summary::describe),
        transport_detail: f.websocket.clone(),
        start: f.summary.first.map(|a| a.ts),
        end: f.summary.last_seen().map(|a| a.ts),
        ended: crate::pipeline::describe_ending(&f.summary),
        xmpp: f.summary.clone(),
    }
}
