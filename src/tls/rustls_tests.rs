//! Session tests on real TLS produced in memory by rustls (client and server)
//! with a key log captured from rustls itself: every AEAD suite, TLS 1.2,
//! HelloRetryRequest, KeyUpdate, chunking independence, gaps, late keys and
//! mid-stream joins.

use std::io::Write;
use std::sync::{Arc, Mutex};

use rustls::crypto::{ring as provider, CryptoProvider};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

use super::keylog::{KeyLog, KeySource};
use super::session::Session;
use super::summary::{Decrypted, EventKind, GapReason, Summary};
use super::testutil::Collect;

use crate::finding::Level;
use crate::limits::Limits;
use crate::position::{Dir, FrameRef, Timestamp};

#[derive(Debug, Default)]
struct KeyLines(Mutex<String>);

impl rustls::KeyLog for KeyLines {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
        self.0.lock().unwrap().push_str(&line);
    }
}

/// What the wire carried, one chunk per `write_tls`, plus the key log text.
pub(crate) struct Transcript {
    pub(crate) chunks: Vec<(Dir, Vec<u8>)>,
    pub(crate) keylog: String,
    /// Application bytes each side wrote, client first.
    pub(crate) sent: [Vec<u8>; 2],
}

pub(crate) enum Step {
    Send(Dir, &'static [u8]),
    KeyUpdate(Dir),
    Close(Dir),
}

pub(crate) struct Setup {
    pub(crate) suites: Vec<rustls::SupportedCipherSuite>,
    pub(crate) tls12: bool,
    /// Client key shares X25519 first while the server only takes P-256.
    pub(crate) hello_retry: bool,
}

fn provider_with(setup: &Setup, server: bool) -> Arc<CryptoProvider> {
    let mut p = provider::default_provider();
    p.cipher_suites = setup.suites.clone();
    if setup.hello_retry {
        p.kx_groups = if server {
            vec![provider::kx_group::SECP256R1]
        } else {
            vec![provider::kx_group::X25519, provider::kx_group::SECP256R1]
        };
    }
    Arc::new(p)
}

pub(crate) fn converse(setup: &Setup, steps: &[Step]) -> Transcript {
    let cert = rcgen::generate_simple_self_signed(vec!["finesse.example.com".to_string()]).unwrap();
    let cert_der = cert.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let versions: &[&rustls::SupportedProtocolVersion] = if setup.tls12 {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13]
    };
    let mut server_cfg = ServerConfig::builder_with_provider(provider_with(setup, true))
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key)
        .unwrap();
    server_cfg.alpn_protocols = vec![b"xmpp-client".to_vec()];
    let mut roots = RootCertStore::empty();
    roots.add(cert_der).unwrap();
    let mut client_cfg = ClientConfig::builder_with_provider(provider_with(setup, false))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client_cfg.alpn_protocols = vec![b"h2".to_vec(), b"xmpp-client".to_vec()];
    let lines = Arc::new(KeyLines::default());
    client_cfg.key_log = lines.clone();
    let name = ServerName::try_from("finesse.example.com").unwrap();
    let mut client = ClientConnection::new(Arc::new(client_cfg), name).unwrap();
    let mut server = ServerConnection::new(Arc::new(server_cfg)).unwrap();
    client.set_buffer_limit(None);
    server.set_buffer_limit(None);
    let mut t = Transcript {
        chunks: Vec::new(),
        keylog: String::new(),
        sent: [Vec::new(), Vec::new()],
    };
    pump(&mut client, &mut server, &mut t);
    for step in steps {
        match *step {
            Step::Send(Dir::ClientToServer, b) => client.writer().write_all(b).unwrap(),
            Step::Send(Dir::ServerToClient, b) => server.writer().write_all(b).unwrap(),
            Step::KeyUpdate(Dir::ClientToServer) => client.refresh_traffic_keys().unwrap(),
            Step::KeyUpdate(Dir::ServerToClient) => server.refresh_traffic_keys().unwrap(),
            Step::Close(Dir::ClientToServer) => client.send_close_notify(),
            Step::Close(Dir::ServerToClient) => server.send_close_notify(),
        }
        if let Step::Send(d, b) = *step {
            t.sent[d.index()].extend_from_slice(b);
        }
        pump(&mut client, &mut server, &mut t);
    }
    t.keylog = lines.0.lock().unwrap().clone();
    t
}

fn pump(client: &mut ClientConnection, server: &mut ServerConnection, t: &mut Transcript) {
    loop {
        let mut moved = false;
        while client.wants_write() {
            let mut buf = Vec::new();
            client.write_tls(&mut buf).unwrap();
            let mut rest = &buf[..];
            while !rest.is_empty() {
                server.read_tls(&mut rest).unwrap();
                server.process_new_packets().unwrap();
                drain(&mut server.reader());
            }
            t.chunks.push((Dir::ClientToServer, buf));
            moved = true;
        }
        while server.wants_write() {
            let mut buf = Vec::new();
            server.write_tls(&mut buf).unwrap();
            let mut rest = &buf[..];
            while !rest.is_empty() {
                client.read_tls(&mut rest).unwrap();
                client.process_new_packets().unwrap();
                drain(&mut client.reader());
            }
            t.chunks.push((Dir::ServerToClient, buf));
            moved = true;
        }
        if !moved {
            break;
        }
    }
}

/// Reads and drops received plaintext so that rustls's buffer never fills.
fn drain(reader: &mut dyn std::io::Read) {
    let mut buf = [0u8; 1 << 16];
    while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
}

pub(crate) fn keys_of(t: &Transcript) -> KeyLog {
    let mut k = KeyLog::new();
    k.add_text(
        t.keylog.as_bytes(),
        KeySource::Named("rustls".into()),
        &mut Vec::new(),
    );
    k
}

pub(crate) fn at(frame: usize) -> FrameRef {
    FrameRef::new(frame as u64 + 1, Timestamp::default())
}

/// Feeds the transcript with each chunk cut into pieces by `split`; returns the sink and summary.
pub(crate) fn replay(
    t: &Transcript,
    keys: &KeyLog,
    split: impl Fn(&[u8]) -> Vec<&[u8]>,
) -> (Collect, Summary) {
    let mut s = Session::new(7, &Limits::default());
    let mut sink = Collect::default();
    for (i, (dir, bytes)) in t.chunks.iter().enumerate() {
        for piece in split(bytes) {
            s.on_data(keys, *dir, at(i), piece, &mut sink);
        }
    }
    s.finish(&mut sink);
    (sink, s.summary().clone())
}

fn whole(b: &[u8]) -> Vec<&[u8]> {
    vec![b]
}

const TALK: &[Step] = &[
    Step::Send(
        Dir::ClientToServer,
        b"<stream:stream to='finesse.example.com'>",
    ),
    Step::Send(
        Dir::ServerToClient,
        b"<stream:stream from='finesse.example.com'>",
    ),
    Step::Send(Dir::ClientToServer, b"<presence/>"),
];

fn suite_setup(suite: rustls::SupportedCipherSuite, tls12: bool) -> Setup {
    Setup {
        suites: vec![suite],
        tls12,
        hello_retry: false,
    }
}

fn assert_all_decrypted(t: &Transcript, expect_suite: &str, expect_version: &str) -> Summary {
    let (sink, summary) = replay(t, &keys_of(t), whole);
    assert_eq!(sink.plain, t.sent, "{:#?}", sink.findings);
    assert_eq!(summary.decrypted, Decrypted::Yes, "{summary:#?}");
    assert_eq!(summary.suite.as_deref(), Some(expect_suite));
    assert_eq!(summary.version.as_deref(), Some(expect_version));
    assert_eq!(summary.sni.as_deref(), Some("finesse.example.com"));
    assert_eq!(summary.alpn.as_deref(), Some("xmpp-client"));
    assert_eq!(summary.alpn_offered, ["h2", "xmpp-client"]);
    assert_eq!(summary.key_source.as_deref(), Some("rustls"));
    assert!(
        sink.gaps.is_empty() && sink.findings.is_empty(),
        "{:#?}",
        sink.findings
    );
    summary
}

#[test]
fn tls13_every_aead_suite() {
    use provider::cipher_suite::*;
    for (suite, name) in [
        (TLS13_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256"),
        (TLS13_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384"),
        (
            TLS13_CHACHA20_POLY1305_SHA256,
            "TLS_CHACHA20_POLY1305_SHA256",
        ),
    ] {
        let t = converse(&suite_setup(suite, false), TALK);
        let s = assert_all_decrypted(&t, name, "TLS 1.3");
        // TLS 1.3 certificates arrive encrypted: summarised after decryption.
        assert_eq!(s.certificates[0].sans, ["finesse.example.com"]);
    }
}

#[test]
fn tls12_ecdhe_gcm_and_chacha() {
    use provider::cipher_suite::*;
    for (suite, name) in [
        (
            TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        ),
        (
            TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        ),
        (
            TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        ),
    ] {
        let t = converse(&suite_setup(suite, true), TALK);
        let s = assert_all_decrypted(&t, name, "TLS 1.2");
        assert_eq!(s.certificates.len(), 1);
    }
}

#[test]
fn hello_retry_request() {
    let setup = Setup {
        suites: vec![provider::cipher_suite::TLS13_AES_128_GCM_SHA256],
        tls12: false,
        hello_retry: true,
    };
    let t = converse(&setup, TALK);
    let s = assert_all_decrypted(&t, "TLS_AES_128_GCM_SHA256", "TLS 1.3");
    assert!(s.hello_retry_request);
}

fn key_update_transcript() -> Transcript {
    let steps = [
        Step::Send(Dir::ClientToServer, b"before"),
        Step::KeyUpdate(Dir::ClientToServer),
        Step::Send(Dir::ClientToServer, b" after one"),
        Step::KeyUpdate(Dir::ServerToClient),
        Step::Send(Dir::ServerToClient, b"server after"),
        Step::KeyUpdate(Dir::ClientToServer),
        Step::Send(Dir::ClientToServer, b" after two"),
        Step::Close(Dir::ClientToServer),
    ];
    converse(
        &suite_setup(provider::cipher_suite::TLS13_AES_256_GCM_SHA384, false),
        &steps,
    )
}

#[test]
fn key_updates_derive_the_next_secret() {
    let t = key_update_transcript();
    let s = assert_all_decrypted(&t, "TLS_AES_256_GCM_SHA384", "TLS 1.3");
    assert!(s.key_updates >= 3, "{s:#?}");
    assert_eq!(s.alerts.len(), 1);
    assert_eq!(s.alerts[0].description, "close_notify");
    assert!(s.alerts[0].encrypted);
}

#[test]
fn chunking_does_not_change_anything() {
    let t = key_update_transcript();
    let keys = keys_of(&t);
    let reference = replay(&t, &keys, whole);
    let bytewise = replay(&t, &keys, |b| b.chunks(1).collect());
    assert_eq!(format!("{:?}", bytewise.0), format!("{:?}", reference.0));
    assert_eq!(bytewise.1, reference.1);
    let longest = t.chunks.iter().map(|c| c.1.len()).max().unwrap();
    for cut in 1..longest {
        let split = replay(&t, &keys, |b| {
            let (a, z) = b.split_at(cut.min(b.len()));
            vec![a, z]
        });
        assert_eq!(
            format!("{:?}", split.0),
            format!("{:?}", reference.0),
            "cut {cut}"
        );
        assert_eq!(split.1, reference.1, "cut {cut}");
    }
}

#[test]
fn no_key_is_reported_once_with_the_client_random() {
    let t = converse(
        &suite_setup(provider::cipher_suite::TLS13_AES_128_GCM_SHA256, false),
        TALK,
    );
    let (sink, s) = replay(&t, &KeyLog::new(), whole);
    assert_eq!(s.decrypted, Decrypted::No);
    let reason = s.reason.unwrap();
    assert!(reason.starts_with("no key for client random "), "{reason}");
    assert_eq!(
        sink.findings
            .iter()
            .filter(|f| f.code == "tls.undecryptable")
            .count(),
        1
    );
    assert!(sink.gaps.iter().all(|g| g.3 == GapReason::NoKey));
    assert!(sink.plain.iter().all(Vec::is_empty));
}

#[test]
fn without_any_key_material_undecryptable_is_info_and_says_so() {
    let t = converse(
        &suite_setup(provider::cipher_suite::TLS13_AES_128_GCM_SHA256, false),
        TALK,
    );
    let no_keys = KeyLog::new();
    let level_and_message = |keys_given: bool| {
        let mut s = Session::new(7, &Limits::default()).with_keys_given(keys_given);
        let mut sink = Collect::default();
        for (i, (dir, bytes)) in t.chunks.iter().enumerate() {
            s.on_data(&no_keys, *dir, at(i), bytes, &mut sink);
        }
        s.finish(&mut sink);
        let found: Vec<_> = sink
            .findings
            .iter()
            .filter(|f| f.code == "tls.undecryptable")
            .map(|f| (f.level, f.message.clone()))
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        found.into_iter().next().unwrap()
    };
    let (level, message) = level_and_message(false);
    assert_eq!(level, Level::Info);
    assert!(
        message.ends_with(" (no key material was given)"),
        "{message}"
    );
    let (level, message) = level_and_message(true);
    assert_eq!(level, Level::Warn);
    assert!(
        message.starts_with("no key for client random "),
        "{message}"
    );
    assert!(!message.contains("no key material"), "{message}");
}

#[test]
fn keys_arriving_later_start_at_the_right_sequence_number() {
    let t = converse(
        &suite_setup(
            provider::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
            false,
        ),
        TALK,
    );
    let full = keys_of(&t);
    let mut keys = KeyLog::new();
    let mut s = Session::new(1, &Limits::default());
    let mut sink = Collect::default();
    let half = t.chunks.len() / 2;
    for (i, (dir, bytes)) in t.chunks.iter().enumerate() {
        if i == half {
            // A pcapng DSB in the middle of the capture.
            keys.add_text(
                t.keylog.as_bytes(),
                KeySource::Dsb { offset: 4096 },
                &mut Vec::new(),
            );
        }
        s.on_data(&keys, *dir, at(i), bytes, &mut sink);
    }
    assert_eq!(keys.len(), full.len());
    let last_client = t
        .chunks
        .iter()
        .rposition(|c| c.0 == Dir::ClientToServer)
        .unwrap();
    assert!(last_client >= half);
    assert!(
        t.sent[0].ends_with(&sink.plain[0]) && !sink.plain[0].is_empty(),
        "{sink:#?}"
    );
    assert_eq!(
        s.summary().key_source.as_deref(),
        Some("pcapng DSB at byte 4096")
    );
}

#[test]
fn midstream_join_finds_secret_and_sequence_number() {
    let steps = [
        Step::Send(Dir::ClientToServer, b"first"),
        Step::Send(Dir::ServerToClient, b"reply one"),
        Step::Send(Dir::ClientToServer, b"second"),
        Step::Send(Dir::ServerToClient, b"reply two"),
    ];
    let t = converse(
        &suite_setup(provider::cipher_suite::TLS13_AES_128_GCM_SHA256, false),
        &steps,
    );
    let keys = keys_of(&t);
    // Start after the first application-data exchange.
    let first_data = t
        .chunks
        .iter()
        .position(|c| c.0 == Dir::ClientToServer && c.1.len() < 40)
        .unwrap_or(0);
    let start = t.chunks.len() - 2;
    assert!(start > first_data);
    let mut s = Session::new(2, &Limits::default());
    let mut sink = Collect::default();
    for (i, (dir, bytes)) in t.chunks.iter().enumerate().skip(start) {
        s.on_data(&keys, *dir, at(i), bytes, &mut sink);
    }
    assert_eq!(
        sink.plain,
        [b"second".to_vec(), b"reply two".to_vec()],
        "{sink:#?}"
    );
    let sum = s.summary();
    assert!(sum.midstream);
    assert_eq!(sum.suite.as_deref(), Some("TLS_AES_128_GCM_SHA256"));
    // Without the key log: "ClientHello not captured".
    let mut s = Session::new(2, &Limits::default());
    let mut sink = Collect::default();
    for (i, (dir, bytes)) in t.chunks.iter().enumerate().skip(start) {
        s.on_data(&KeyLog::new(), *dir, at(i), bytes, &mut sink);
    }
    assert_eq!(
        s.summary().reason.as_deref(),
        Some("ClientHello not captured")
    );
}

#[test]
fn midstream_search_past_its_work_cap_says_where_it_stopped() {
    let steps = [
        Step::Send(Dir::ClientToServer, b"first"),
        Step::Send(Dir::ServerToClient, b"reply one"),
        Step::Send(Dir::ClientToServer, b"second"),
        Step::Send(Dir::ServerToClient, b"reply two"),
    ];
    let t = converse(
        &suite_setup(provider::cipher_suite::TLS13_AES_128_GCM_SHA256, false),
        &steps,
    );
    let keys = keys_of(&t);
    let start = t.chunks.len() - 2;
    let limits = Limits {
        tls_midstream_search_bytes: 0,
        ..Limits::default()
    };
    let mut s = Session::new(2, &limits);
    let mut sink = Collect::default();
    for (i, (dir, bytes)) in t.chunks.iter().enumerate().skip(start) {
        s.on_data(&keys, *dir, at(i), bytes, &mut sink);
    }
    assert_eq!(sink.plain, [Vec::<u8>::new(), Vec::new()], "{sink:#?}");
    let why = "ClientHello not captured; the mid-stream search stopped after 0 of 1 secrets (tls_midstream_search_bytes)";
    assert_eq!(s.summary().reason.as_deref(), Some(why));
    let undecryptable: Vec<&str> = sink
        .findings
        .iter()
        .filter(|f| f.code == "tls.undecryptable")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(undecryptable, [why]);
}

/// Index of the chunk carrying `text` (the only application record of that chunk).
fn chunk_with(t: &Transcript, dir: Dir, len_hint: usize) -> usize {
    t.chunks
        .iter()
        .position(|c| c.0 == dir && c.1.len() == len_hint + 5 + 16 + 1)
        .unwrap()
}

#[test]
fn gap_inside_a_record_resumes_at_the_next_record() {
    let steps = [
        Step::Send(Dir::ClientToServer, b"one"),
        Step::Send(Dir::ClientToServer, b"two-two"),
        Step::Send(Dir::ClientToServer, b"three"),
    ];
    let t = converse(
        &suite_setup(provider::cipher_suite::TLS13_AES_128_GCM_SHA256, false),
        &steps,
    );
    let keys = keys_of(&t);
    let lost = chunk_with(&t, Dir::ClientToServer, 7);
    let mut s = Session::new(3, &Limits::default());
    let mut sink = Collect::default();
    for (i, (dir, bytes)) in t.chunks.iter().enumerate() {
        if i == lost {
            s.on_data(&keys, *dir, at(i), &bytes[..9], &mut sink);
            s.on_gap(*dir, at(i), (bytes.len() - 9) as u64, &mut sink);
        } else {
            s.on_data(&keys, *dir, at(i), bytes, &mut sink);
        }
    }
    // The record's captured start is given, unauthenticated, before the gap.
    assert_eq!(sink.plain[0], b"onetwo-three");
    let unauthenticated = sink
        .findings
        .iter()
        .filter(|f| f.code == "tls.unauthenticated");
    assert_eq!(unauthenticated.count(), 1);
    assert!(sink.gaps.iter().any(|g| g.3 == GapReason::CaptureGap));
    assert_eq!(s.summary().c2s.records_undecryptable, 1);
}

#[test]
fn gap_over_whole_records_resynchronises_by_sequence_search() {
    let steps = [
        Step::Send(Dir::ClientToServer, b"one"),
        Step::Send(Dir::ClientToServer, b"two-two"),
        Step::Send(Dir::ClientToServer, b"three"),
    ];
    let t = converse(
        &suite_setup(provider::cipher_suite::TLS13_AES_128_GCM_SHA256, false),
        &steps,
    );
    let keys = keys_of(&t);
    let lost = chunk_with(&t, Dir::ClientToServer, 7);
    let mut s = Session::new(3, &Limits::default());
    let mut sink = Collect::default();
    for (i, (dir, bytes)) in t.chunks.iter().enumerate() {
        if i == lost {
            s.on_gap(*dir, at(i), bytes.len() as u64, &mut sink);
        } else {
            s.on_data(&keys, *dir, at(i), bytes, &mut sink);
        }
    }
    assert_eq!(sink.plain[0], b"onethree", "{:#?}", sink.findings);
    assert!(sink.findings.iter().any(|f| f.code == "tls.resync"));
}

#[test]
fn garbage_after_a_gap_stops_the_direction_naming_the_frame() {
    let t = converse(
        &suite_setup(provider::cipher_suite::TLS13_AES_128_GCM_SHA256, false),
        TALK,
    );
    let keys = keys_of(&t);
    let mut s = Session::new(4, &Limits::default());
    let mut sink = Collect::default();
    for (i, (dir, bytes)) in t.chunks.iter().enumerate() {
        s.on_data(&keys, *dir, at(i), bytes, &mut sink);
    }
    let frame = at(100);
    s.on_gap(Dir::ClientToServer, frame, 1000, &mut sink);
    // 23 03 03 headers that never authenticate, then plain zeros.
    let mut junk = Vec::new();
    for _ in 0..3000 {
        junk.extend_from_slice(&[23, 3, 3, 0, 20]);
        junk.extend_from_slice(&[0u8; 20]);
    }
    s.on_data(&keys, Dir::ClientToServer, at(101), &junk, &mut sink);
    let sum = s.summary().clone();
    assert_eq!(sum.reason.as_deref(), Some("gap at frame 101"));
    assert!(sink
        .findings
        .iter()
        .any(|f| f.code == "tls.gap" && f.level == crate::finding::Level::Error));
    // Later bytes of that direction are ignored, the other direction still works.
    s.on_data(
        &keys,
        Dir::ClientToServer,
        at(102),
        &[23, 3, 3, 0, 1, 0],
        &mut sink,
    );
    assert!(sink
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::DecryptionFailed { .. })));
}

/// Decryption throughput on large TLS 1.3 AES-128-GCM records (run with
/// `cargo test --release -- --ignored throughput --nocapture`).
#[test]
#[ignore]
fn throughput() {
    static BLOCK: [u8; 1 << 20] = [b'x'; 1 << 20];
    let mut steps = vec![];
    for _ in 0..64 {
        steps.push(Step::Send(Dir::ServerToClient, &BLOCK[..]));
    }
    let t = converse(
        &suite_setup(provider::cipher_suite::TLS13_AES_128_GCM_SHA256, false),
        &steps,
    );
    let keys = keys_of(&t);
    // Feed in 1448-byte pieces, as TCP segments would arrive.
    struct Count(u64);
    impl crate::finding::Findings for Count {
        fn push_finding(&mut self, _: crate::finding::Finding) {}
    }
    impl super::summary::Sink for Count {
        fn on_plaintext(&mut self, _: Dir, _: FrameRef, b: &[u8]) {
            self.0 += b.len() as u64;
        }
        fn on_plaintext_gap(&mut self, _: Dir, _: FrameRef, _: u64, _: GapReason) {}
        fn on_tls_event(&mut self, _: &super::summary::Event) {}
    }
    let total: usize = t.chunks.iter().map(|c| c.1.len()).sum();
    let start = std::time::Instant::now();
    let mut sink = Count(0);
    let mut s = Session::new(0, &Limits::default());
    for (i, (dir, bytes)) in t.chunks.iter().enumerate() {
        for piece in bytes.chunks(1448) {
            s.on_data(&keys, *dir, at(i), piece, &mut sink);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(sink.0, 64 << 20);
    eprintln!(
        "{} MB in {secs:.3}s: {:.2} GB/s",
        total >> 20,
        total as f64 / secs / 1e9
    );
}

fn shared_transcript() -> &'static (Transcript, KeyLog) {
    static T: std::sync::OnceLock<(Transcript, KeyLog)> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let t = key_update_transcript();
        let k = keys_of(&t);
        (t, k)
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
        crate::tls::testutil::proptest_cases_or(48)
    ))]

    /// Any chunking of each frame's bytes gives the same plaintext, events, findings and summary.
    #[test]
    fn random_chunking_is_invisible(cuts in proptest::collection::vec(1usize..700, 1..12)) {
        let (t, keys) = shared_transcript();
        let reference = replay(t, keys, whole);
        let pieces = replay(t, keys, |b| {
            let mut out = Vec::new();
            let mut rest = b;
            for &c in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (a, z) = rest.split_at(c.min(rest.len()));
                out.push(a);
                rest = z;
            }
            out
        });
        proptest::prop_assert_eq!(format!("{:?}", pieces.0), format!("{:?}", reference.0));
        proptest::prop_assert_eq!(pieces.1, reference.1);
    }
}

#[test]
fn damaged_record_fails_authentication_and_the_next_one_still_decrypts() {
    let steps = [
        Step::Send(Dir::ServerToClient, b"one"),
        Step::Send(Dir::ServerToClient, b"two-two"),
        Step::Send(Dir::ServerToClient, b"three"),
    ];
    let mut t = converse(
        &suite_setup(provider::cipher_suite::TLS13_AES_128_GCM_SHA256, false),
        &steps,
    );
    let hit = chunk_with(&t, Dir::ServerToClient, 7);
    t.chunks[hit].1[8] ^= 0x40;
    let (sink, s) = replay(&t, &keys_of(&t), whole);
    assert_eq!(sink.plain[1], b"onethree");
    assert_eq!(
        s.reason,
        Some(format!("record authentication failed at frame {}", hit + 1))
    );
    assert_eq!(s.decrypted, Decrypted::Partly);
    assert_eq!(
        sink.gaps,
        [(
            Dir::ServerToClient,
            hit as u64 + 1,
            7 + 17,
            GapReason::AuthenticationFailed
        )]
    );
}
