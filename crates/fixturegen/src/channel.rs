//! Byte channels and XMPP transports for the Finesse sessions: a TCP
//! connection optionally wrapped in TLS ([`Channel`]), XMPP over WebSocket
//! ([`WsTransport`]) and XMPP over TCP 5222 with STARTTLS
//! ([`TcpTransport`]), both behind the [`Transport`] trait the session
//! scripts drive.
//!
//! Takes stanzas; gives segments on the channel's conversation plus the
//! TLS and WebSocket truth. Never decides what is said (see `finesse`).

use super::capture::Capture;
use super::content::DOMAIN;
use super::fixtures_tls::starttls_plain;
use super::tcp::Conversation;
use super::tls::{TlsEnv, TlsSession};
use super::truth::WsTruth;
use super::wire::Wire;
use super::ws::{upgrade_request, upgrade_response, Deflater, WsSender, PING, PONG};
use super::{xmpp, Error};
use crate::Dir;

const C2S: Dir = Dir::ClientToServer;
const S2C: Dir = Dir::ServerToClient;
/// One millisecond in nanoseconds.
pub const MS: i64 = 1_000_000;

/// A TCP connection, in clear or inside TLS.
#[derive(Debug)]
pub struct Channel {
    /// The TCP model.
    pub conv: Conversation,
    /// The TLS session, once started.
    pub tls: Option<TlsSession>,
}

impl Channel {
    /// Opens TCP and, with `env`, TLS to `sni`.
    pub fn open(mut conv: Conversation, env: Option<(&TlsEnv, &str)>) -> Result<Channel, Error> {
        conv.handshake();
        let mut ch = Channel { conv, tls: None };
        if let Some((env, sni)) = env {
            ch.start_tls(env, sni)?;
        }
        Ok(ch)
    }

    /// Starts TLS at the current byte of both directions.
    pub fn start_tls(&mut self, env: &TlsEnv, sni: &str) -> Result<(), Error> {
        let mut sess = env.connect(sni)?;
        sess.handshake(&mut self.conv)?;
        self.tls = Some(sess);
        Ok(())
    }

    /// Sends application bytes.
    pub fn send(&mut self, dir: Dir, bytes: &[u8]) -> Result<(), Error> {
        match &mut self.tls {
            Some(s) => s.send(&mut self.conv, dir, bytes, 16_384)?,
            None => self.conv.send(dir, bytes),
        }
        Ok(())
    }

    /// Graceful end: close_notify from the client (TLS), FIN both ways.
    pub fn close(&mut self) -> Result<(), Error> {
        if let Some(s) = &mut self.tls {
            s.close_notify(&mut self.conv, C2S)?;
        }
        self.conv.close_fin(C2S);
        self.conv.close_fin(S2C);
        Ok(())
    }

    /// Adds the channel's segments and TLS truth to a capture.
    pub fn add_to(mut self, cap: &mut Capture, ws: Vec<WsTruth>) {
        let segs = self.conv.drain();
        cap.add(&self.conv, segs, Wire::ethernet());
        if let Some(s) = &self.tls {
            cap.set_tls(self.conv.id(), s.truth());
        }
        if !ws.is_empty() {
            cap.set_ws(self.conv.id(), ws);
        }
    }
}

/// What a session script needs from a transport.
pub trait Transport {
    /// The client sends a stanza.
    fn client(&mut self, stanza: &str) -> Result<(), Error>;
    /// The server sends a stanza.
    fn server(&mut self, stanza: &str) -> Result<(), Error>;
    /// Stream (re)start: the open exchange, before features.
    fn open_stream(&mut self, id: &str) -> Result<(), Error>;
    /// Time passes with nothing said.
    fn wait(&mut self, ms: i64) -> Result<(), Error>;
    /// The server's transport-level keepalive (WebSocket ping), if any.
    fn keepalive(&mut self) -> Result<(), Error>;
    /// The current time of the transport's clock.
    fn now(&self) -> i64;
}

/// permessage-deflate parameters both sides agreed on.
#[derive(Clone, Copy, Debug)]
pub struct DeflateParams {
    /// Window bits of the client's compressor.
    pub client_bits: u8,
    /// Window bits of the server's compressor.
    pub server_bits: u8,
    /// Client resets its context after each message.
    pub client_no_takeover: bool,
    /// Server resets its context after each message.
    pub server_no_takeover: bool,
}

impl DeflateParams {
    /// What Openfire answers a browser: full windows, context takeover.
    pub fn browser() -> DeflateParams {
        DeflateParams {
            client_bits: 15,
            server_bits: 15,
            client_no_takeover: false,
            server_no_takeover: false,
        }
    }

    /// The response's extension line.
    pub fn header(&self) -> String {
        let mut h = "permessage-deflate".to_string();
        if self.server_no_takeover {
            h.push_str("; server_no_context_takeover");
        }
        if self.client_no_takeover {
            h.push_str("; client_no_context_takeover");
        }
        if self.server_bits < 15 {
            h.push_str(&format!("; server_max_window_bits={}", self.server_bits));
        }
        h.push_str(&format!("; client_max_window_bits={}", self.client_bits));
        h
    }
}

/// XMPP over WebSocket (RFC 7395) on a channel.
#[derive(Debug)]
pub struct WsTransport {
    /// The channel.
    pub ch: Channel,
    client: WsSender,
    server: WsSender,
    /// Messages so far, in decoding order.
    pub ws: Vec<WsTruth>,
    pings: u32,
    record: bool,
}

impl WsTransport {
    /// Upgrades `ch` with `GET /ws/`, optionally negotiating deflate.
    pub fn upgrade(
        mut ch: Channel,
        deflate: Option<DeflateParams>,
        seed: u64,
    ) -> Result<WsTransport, Error> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let raw: [u8; 16] = std::array::from_fn(|_| rng.u8(..));
        let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw);
        let host = format!("{}:8445", sni_of(&ch));
        ch.send(
            C2S,
            &upgrade_request(&host, "/ws/", &key, deflate.is_some()),
        )?;
        ch.conv.advance(MS);
        let header = deflate.map(|d| d.header());
        ch.send(S2C, &upgrade_response(&key, header.as_deref()))?;
        let (cd, sd) = match deflate {
            Some(d) => (
                Some(Deflater::new(d.client_bits, !d.client_no_takeover)),
                Some(Deflater::new(d.server_bits, !d.server_no_takeover)),
            ),
            None => (None, None),
        };
        Ok(WsTransport {
            ch,
            client: WsSender::new(C2S, seed ^ 0x5a5a, cd),
            server: WsSender::new(S2C, seed ^ 0xa5a5, sd),
            ws: Vec::new(),
            pings: 0,
            record: true,
        })
    }

    /// Sends raw frames (for fixtures that build messages themselves).
    pub fn raw(&mut self, dir: Dir, bytes: &[u8], truth: Vec<WsTruth>) -> Result<(), Error> {
        self.ch.send(dir, bytes)?;
        if self.record {
            self.ws.extend(truth);
        }
        Ok(())
    }

    /// Keeps no truth from now on (benchmarks): no messages, no plaintext.
    pub fn forget_truth(&mut self) {
        self.record = false;
        self.ws = Vec::new();
        if let Some(tls) = &mut self.ch.tls {
            tls.forget_plaintext();
        }
    }

    /// The client (or server) frame writer.
    pub fn sender(&mut self, dir: Dir) -> &mut WsSender {
        match dir {
            C2S => &mut self.client,
            S2C => &mut self.server,
        }
    }

    /// Close 1000 from the client, echoed by the server, then TLS/TCP close.
    pub fn close(&mut self) -> Result<(), Error> {
        self.close_from(C2S, 1000, "")
    }

    /// A Close with `code` from `dir`, echoed (same code), then TLS/TCP close.
    pub fn close_from(&mut self, dir: Dir, code: u16, reason: &str) -> Result<(), Error> {
        let (b, t) = self.sender(dir).close(code, reason);
        self.raw(dir, &b, vec![t])?;
        self.ch.conv.advance(MS);
        let (b, t) = self.sender(dir.flip()).close(code, "");
        self.raw(dir.flip(), &b, vec![t])?;
        self.ch.close()
    }

    /// The connection dies without a Close: a middlebox resets it (the
    /// capture sees a RST coming from the server's address).
    pub fn abort(&mut self) {
        self.ch.conv.rst(S2C);
    }

    /// Adds everything to a capture.
    pub fn add_to(self, cap: &mut Capture) {
        self.ch.add_to(cap, self.ws);
    }
}

fn sni_of(ch: &Channel) -> String {
    match ch.conv.config().server.ip().to_string().as_str() {
        "10.20.30.42" => super::content::DOMAIN2.to_string(),
        _ => DOMAIN.to_string(),
    }
}

impl Transport for WsTransport {
    fn client(&mut self, stanza: &str) -> Result<(), Error> {
        let (b, t) = self.client.text(stanza);
        self.ch.conv.advance(MS / 2);
        self.raw(C2S, &b, t)
    }

    fn server(&mut self, stanza: &str) -> Result<(), Error> {
        let (b, t) = self.server.text(stanza);
        self.ch.conv.advance(MS / 2);
        self.raw(S2C, &b, t)
    }

    fn open_stream(&mut self, id: &str) -> Result<(), Error> {
        let domain = sni_of(&self.ch);
        self.client(&xmpp::ws_open(&domain))?;
        self.server(&xmpp::ws_open_reply(&domain, id))
    }

    fn wait(&mut self, ms: i64) -> Result<(), Error> {
        self.ch.conv.advance(ms * MS);
        Ok(())
    }

    fn keepalive(&mut self) -> Result<(), Error> {
        self.pings += 1;
        let payload = format!("{}", self.pings);
        let (b, t) = self.server.control(PING, payload.as_bytes());
        self.raw(S2C, &b, vec![t])?;
        self.ch.conv.advance(MS);
        let (b, t) = self.client.control(PONG, payload.as_bytes());
        self.raw(C2S, &b, vec![t])
    }

    fn now(&self) -> i64 {
        self.ch.conv.now()
    }
}

/// XMPP over TCP 5222: plain stream, STARTTLS, then TLS.
#[derive(Debug)]
pub struct TcpTransport {
    /// The channel (TLS after `starttls`).
    pub ch: Channel,
}

impl TcpTransport {
    /// Opens TCP, runs the plain part up to `<proceed/>`, starts TLS.
    pub fn starttls(conv: Conversation, env: &TlsEnv) -> Result<TcpTransport, Error> {
        let mut ch = Channel::open(conv, None)?;
        for (dir, text) in starttls_plain() {
            ch.send(dir, text.as_bytes())?;
            ch.conv.advance(2 * MS);
        }
        ch.start_tls(env, DOMAIN)?;
        Ok(TcpTransport { ch })
    }

    /// `</stream:stream>` both ways, then close.
    pub fn close(&mut self) -> Result<(), Error> {
        self.client("</stream:stream>")?;
        self.server("</stream:stream>")?;
        self.ch.close()
    }
}

impl Transport for TcpTransport {
    fn client(&mut self, stanza: &str) -> Result<(), Error> {
        self.ch.conv.advance(MS / 2);
        self.ch.send(C2S, stanza.as_bytes())
    }

    fn server(&mut self, stanza: &str) -> Result<(), Error> {
        self.ch.conv.advance(MS / 2);
        self.ch.send(S2C, stanza.as_bytes())
    }

    fn open_stream(&mut self, id: &str) -> Result<(), Error> {
        let ns = "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'";
        self.client(&format!(
            "<?xml version='1.0'?><stream:stream to='{DOMAIN}' {ns} version='1.0'>"
        ))?;
        self.server(&format!(
            "<?xml version='1.0' encoding='UTF-8'?><stream:stream {ns} from='{DOMAIN}' id='{id}' \
             xml:lang='en' version='1.0'>"
        ))
    }

    fn wait(&mut self, ms: i64) -> Result<(), Error> {
        self.ch.conv.advance(ms * MS);
        Ok(())
    }

    fn keepalive(&mut self) -> Result<(), Error> {
        Ok(())
    }

    fn now(&self) -> i64 {
        self.ch.conv.now()
    }
}
