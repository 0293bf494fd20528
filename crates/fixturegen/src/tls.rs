//! Real rustls client and server sessions played in memory over the TCP
//! model: each side's `write_tls` output becomes one flight of segments
//! (records split across segments and coalesced as a real stack would),
//! the client's key log is recorded in NSS format, and every application
//! byte is tracked with the TCP range of the records carrying it.
//!
//! Takes configs built from the committed test PKI (`keys/test-ca.pem`,
//! `keys/finesse.pem`, Ed25519) and a deterministic provider (`det`);
//! gives segments (through the `Conversation`), the key log, and the
//! decrypted-bytes truth. Never verifies anything the analyzer must do.

use std::io::{Read, Write};

use std::sync::{Arc, Mutex};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, Connection, KeyLog, RootCertStore, ServerConfig,
    ServerConnection, SupportedCipherSuite, SupportedProtocolVersion,
};

use super::det::{provider, FixedTime, Group, Seeded};
use super::tcp::Conversation;
use super::truth::DirTruth;
use crate::Dir;

const CA_PEM: &[u8] = include_bytes!("../../../keys/test-ca.pem");
const CERT_PEM: &[u8] = include_bytes!("../../../keys/finesse.pem");
const KEY_PEM: &[u8] = include_bytes!("../../../keys/finesse.key.pem");

/// Records NSS key log lines (`LABEL <client random hex> <secret hex>`).
#[derive(Debug, Default)]
pub struct KeyLogRecorder(Mutex<String>);

impl KeyLogRecorder {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Everything logged since the last call, removed from the recorder
    /// (streamed benchmarks write it out as they go).
    pub fn take(&self) -> String {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl KeyLog for KeyLogRecorder {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_str(&line);
    }

    fn will_log(&self, _label: &str) -> bool {
        true
    }
}

/// What a client and a server offer.
#[derive(Clone, Debug)]
pub struct TlsOptions {
    /// Protocol versions (both sides).
    pub versions: Vec<&'static SupportedProtocolVersion>,
    /// Cipher suites the client offers (the server accepts all of ring's).
    pub suites: Vec<SupportedCipherSuite>,
    /// Client key-exchange groups, first one gets the key share.
    pub client_groups: Vec<Group>,
    /// Server key-exchange groups.
    pub server_groups: Vec<Group>,
    /// ALPN protocols the client offers.
    pub client_alpn: Vec<&'static str>,
    /// ALPN protocols the server accepts.
    pub server_alpn: Vec<&'static str>,
}

impl TlsOptions {
    /// TLS 1.3, AES-128-GCM, X25519, ALPN `http/1.1` (a browser's wss).
    pub fn tls13() -> TlsOptions {
        TlsOptions {
            versions: vec![&rustls::version::TLS13],
            suites: vec![rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256],
            client_groups: vec![Group::X25519, Group::P256],
            server_groups: vec![Group::X25519, Group::P256, Group::P384],
            client_alpn: vec!["h2", "http/1.1"],
            server_alpn: vec!["http/1.1"],
        }
    }
}

/// The client's and server's configs plus the shared key log.
#[derive(Clone, Debug)]
pub struct TlsEnv {
    /// Client config (resumption cache shared by its connections).
    pub client: Arc<ClientConfig>,
    /// Server config (session cache shared by its connections).
    pub server: Arc<ServerConfig>,
    /// The client's key log.
    pub keylog: Arc<KeyLogRecorder>,
}

impl TlsEnv {
    /// Builds both configs with deterministic randomness from `seed`.
    pub fn new(opts: &TlsOptions, seed: u64) -> Result<TlsEnv, rustls::Error> {
        let rng = Seeded::new(seed);
        let client_provider = CryptoProvider {
            cipher_suites: opts.suites.clone(),
            ..provider(&rng, &opts.client_groups)
        };
        let server_provider = provider(&rng, &opts.server_groups);
        let mut roots = RootCertStore::empty();
        roots.add(pem_cert(CA_PEM)?)?;
        let mut client =
            ClientConfig::builder_with_details(Arc::new(client_provider), Arc::new(FixedTime))
                .with_protocol_versions(&opts.versions)?
                .with_root_certificates(roots)
                .with_no_client_auth();
        let keylog = Arc::new(KeyLogRecorder::default());
        client.key_log = keylog.clone();
        client.alpn_protocols = opts
            .client_alpn
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect();
        let key = PrivateKeyDer::from_pem_slice(KEY_PEM).map_err(pem_err)?;
        let mut server =
            ServerConfig::builder_with_details(Arc::new(server_provider), Arc::new(FixedTime))
                .with_protocol_versions(&opts.versions)?
                .with_no_client_auth()
                .with_single_cert(vec![pem_cert(CERT_PEM)?], key)?;
        server.alpn_protocols = opts
            .server_alpn
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect();
        Ok(TlsEnv {
            client: Arc::new(client),
            server: Arc::new(server),
            keylog,
        })
    }

    /// A new connection pair to `sni`.
    pub fn connect(&self, sni: &str) -> Result<TlsSession, rustls::Error> {
        let name = ServerName::try_from(sni.to_string())
            .map_err(|_| rustls::Error::General(format!("bad server name {sni}")))?;
        Ok(TlsSession {
            client: ClientConnection::new(self.client.clone(), name)?.into(),
            server: ServerConnection::new(self.server.clone())?.into(),
            plain: [Vec::new(), Vec::new()],
            batches: [Vec::new(), Vec::new()],
            tcp_start: None,
            record: true,
        })
    }
}

fn pem_cert(pem: &[u8]) -> Result<CertificateDer<'static>, rustls::Error> {
    CertificateDer::from_pem_slice(pem).map_err(pem_err)
}

fn pem_err(e: rustls::pki_types::pem::Error) -> rustls::Error {
    rustls::Error::General(format!("test PKI: {e:?}"))
}

/// Application bytes and the TCP stream range of the records carrying them.
#[derive(Clone, Copy, Debug)]
struct Batch {
    tcp: (u64, u64),
    plain: (u64, u64),
}

/// One TLS connection between the model client and server.
#[derive(Debug)]
pub struct TlsSession {
    client: Connection,
    server: Connection,
    plain: [Vec<u8>; 2],
    batches: [Vec<Batch>; 2],
    tcp_start: Option<[u64; 2]>,
    record: bool,
}

impl TlsSession {
    fn side(&mut self, dir: Dir) -> (&mut Connection, &mut Connection) {
        match dir {
            Dir::ClientToServer => (&mut self.client, &mut self.server),
            Dir::ServerToClient => (&mut self.server, &mut self.client),
        }
    }

    /// Stops keeping plaintext for the truth (benchmarks).
    pub fn forget_plaintext(&mut self) {
        self.record = false;
        self.plain = [Vec::new(), Vec::new()];
        self.batches = [Vec::new(), Vec::new()];
    }

    /// Moves TLS bytes both ways until neither side has anything to send.
    /// Each side's pending output goes out as one flight.
    pub fn pump(&mut self, conv: &mut Conversation) -> Result<(), rustls::Error> {
        if self.tcp_start.is_none() {
            self.tcp_start = Some([
                conv.sent(Dir::ClientToServer),
                conv.sent(Dir::ServerToClient),
            ]);
        }
        loop {
            let mut moved = false;
            for dir in Dir::BOTH {
                moved |= self.flight(conv, dir)?;
            }
            if !moved {
                return Ok(());
            }
        }
    }

    fn flight(&mut self, conv: &mut Conversation, dir: Dir) -> Result<bool, rustls::Error> {
        let (from, to) = self.side(dir);
        let mut buf = Vec::new();
        while from.wants_write() {
            from.write_tls(&mut buf).map_err(io_err)?;
        }
        if buf.is_empty() {
            return Ok(false);
        }
        conv.send(dir, &buf);
        let mut rd = &buf[..];
        while !rd.is_empty() {
            to.read_tls(&mut rd).map_err(io_err)?;
            to.process_new_packets()?;
        }
        // Drain what the peer decrypted; the truth is what was written.
        let mut scratch = [0u8; 16_384];
        loop {
            match to.reader().read(&mut scratch) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(io_err(e)),
            }
        }
        Ok(true)
    }

    /// Runs the handshake to completion.
    pub fn handshake(&mut self, conv: &mut Conversation) -> Result<(), rustls::Error> {
        self.pump(conv)?;
        if self.client.is_handshaking() || self.server.is_handshaking() {
            return Err(rustls::Error::General("handshake did not complete".into()));
        }
        Ok(())
    }

    /// Sends application bytes in `dir`, one record per `record` bytes,
    /// each record its own flight.
    pub fn send(
        &mut self,
        conv: &mut Conversation,
        dir: Dir,
        data: &[u8],
        record: usize,
    ) -> Result<(), rustls::Error> {
        for piece in data.chunks(record.clamp(1, 16_384)) {
            self.send_batch(conv, dir, &[piece])?;
        }
        Ok(())
    }

    /// Sends several application writes as one flight (coalesced records).
    pub fn send_batch(
        &mut self,
        conv: &mut Conversation,
        dir: Dir,
        pieces: &[&[u8]],
    ) -> Result<(), rustls::Error> {
        let tcp0 = conv.sent(dir);
        let plain0 = self.plain[dir.index()].len() as u64;
        for piece in pieces {
            self.side(dir).0.writer().write_all(piece).map_err(io_err)?;
            if self.record {
                self.plain[dir.index()].extend_from_slice(piece);
            }
        }
        self.pump(conv)?;
        if !self.record {
            return Ok(());
        }
        let batch = Batch {
            tcp: (tcp0, conv.sent(dir)),
            plain: (plain0, self.plain[dir.index()].len() as u64),
        };
        self.batches[dir.index()].push(batch);
        Ok(())
    }

    /// Sends a TLS 1.3 KeyUpdate from `dir` (the peer answers with its own).
    pub fn key_update(&mut self, conv: &mut Conversation, dir: Dir) -> Result<(), rustls::Error> {
        self.side(dir).0.refresh_traffic_keys()?;
        self.pump(conv)
    }

    /// Sends close_notify from `dir`.
    pub fn close_notify(&mut self, conv: &mut Conversation, dir: Dir) -> Result<(), rustls::Error> {
        self.side(dir).0.send_close_notify();
        self.pump(conv)
    }

    /// Every application byte sent in `dir`.
    pub fn plaintext(&self, dir: Dir) -> &[u8] {
        &self.plain[dir.index()]
    }

    /// The decrypted-bytes truth when the whole TLS stream was captured.
    pub fn truth(&self) -> [DirTruth; 2] {
        self.truth_kept(|_, _| true)
    }

    /// The truth keeping only the batches whose TCP range (offsets in the
    /// direction's TCP stream) satisfies `kept`; the others are gaps.
    pub fn truth_kept(&self, kept: impl Fn(Dir, (u64, u64)) -> bool) -> [DirTruth; 2] {
        Dir::BOTH.map(|dir| {
            let i = dir.index();
            let ranges = self.batches[i]
                .iter()
                .filter(|b| kept(dir, b.tcp))
                .map(|b| b.plain)
                .collect();
            DirTruth::from_ranges(&self.plain[i], ranges, self.plain[i].len() as u64)
        })
    }
}

fn io_err(e: std::io::Error) -> rustls::Error {
    rustls::Error::General(format!("in-memory TLS i/o: {e}"))
}
