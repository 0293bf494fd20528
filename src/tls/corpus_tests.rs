//! Decryption of real captures from the shared corpus, compared byte for byte
//! (length and SHA-256) with tshark's `tls` rows. Skipped loudly when the
//! corpus is absent.

use std::collections::BTreeMap;
use std::path::Path;

use super::keylog::{KeyLog, KeySource};
use super::session::Session;
use super::summary::{Decrypted, EventKind, GapReason, Summary};
use super::testutil::{corpus, expected_tls, read_capture, sha256_hex, Collect, Item};
use crate::limits::Limits;
use crate::position::Dir;

pub(crate) struct Run {
    pub(crate) sinks: BTreeMap<u64, Collect>,
    pub(crate) summaries: BTreeMap<u64, Summary>,
}

pub(crate) fn run(capture: &Path, keylogs: &[&Path]) -> Run {
    let mut keys = KeyLog::new();
    let mut findings = Vec::new();
    for k in keylogs {
        if k.extension().is_some_and(|e| e == "key") {
            #[cfg(feature = "rsa-keys")]
            keys.load_rsa_key(k).unwrap();
            continue;
        }
        keys.load_file(k, &mut findings).unwrap();
    }
    assert!(findings.is_empty(), "{findings:?}");
    let limits = Limits::default();
    let mut sessions: BTreeMap<u64, Session> = BTreeMap::new();
    let mut sinks: BTreeMap<u64, Collect> = BTreeMap::new();
    for item in read_capture(capture) {
        match item {
            Item::Data {
                stream,
                dir,
                at,
                bytes,
            } => {
                let s = sessions
                    .entry(stream)
                    .or_insert_with(|| Session::new(stream, &limits));
                let sink = sinks.entry(stream).or_default();
                assert_eq!(s.on_data(&keys, dir, at, &bytes, sink), bytes.len());
            }
            Item::Gap {
                stream,
                dir,
                at,
                len,
            } => {
                let s = sessions
                    .entry(stream)
                    .or_insert_with(|| Session::new(stream, &limits));
                s.on_gap(dir, at, len, sinks.entry(stream).or_default());
            }
            Item::Secrets { offset, text } => {
                keys.add_text(&text, KeySource::Dsb { offset }, &mut findings);
            }
        }
    }
    let mut summaries = BTreeMap::new();
    for (stream, mut s) in sessions {
        s.finish(sinks.entry(stream).or_default());
        summaries.insert(stream, s.summary().clone());
    }
    Run { sinks, summaries }
}

/// Compares every `tls` row; returns the mismatches, each with its reason.
fn conformance(rel: &str, keylogs: &[&str]) -> Option<Vec<String>> {
    let dir = corpus()?;
    let capture = dir.join(rel);
    let keys: Vec<_> = keylogs.iter().map(|k| dir.join(k)).collect();
    let keys: Vec<&Path> = keys.iter().map(|k| k.as_path()).collect();
    let run = run(&capture, &keys);
    let mut bad = Vec::new();
    for (stream, d, len, sha) in expected_tls(&capture) {
        let got = run
            .sinks
            .get(&stream)
            .map(|c| c.plain[d.index()].clone())
            .unwrap_or_default();
        if got.len() as u64 != len || sha256_hex(&got) != sha {
            let why = run.summaries.get(&stream).and_then(|s| s.reason.clone());
            bad.push(format!(
                "{rel} stream {stream} {d}: {} bytes, tshark {len} ({why:?})",
                got.len()
            ));
        }
    }
    Some(bad)
}

fn assert_conforms(rel: &str, keylogs: &[&str]) {
    if let Some(bad) = conformance(rel, keylogs) {
        assert!(bad.is_empty(), "{bad:#?}");
    }
}

#[test]
fn tls12_chacha20poly1305() {
    assert_conforms(
        "wireshark-4.0.17/captures/tls12-chacha20poly1305.pcap",
        &["wireshark-4.0.17/keys/tls12-chacha20poly1305.keys"],
    );
}

#[test]
fn tls13_rfc8446_with_early_data() {
    assert_conforms(
        "wireshark-4.0.17/captures/tls13-rfc8446.pcap",
        &["wireshark-4.0.17/keys/tls13-rfc8446.keys"],
    );
}

#[test]
fn tls13_rfc8446_without_the_early_secret_says_why() {
    let Some(dir) = corpus() else { return };
    let run = run(
        &dir.join("wireshark-4.0.17/captures/tls13-rfc8446.pcap"),
        &[&dir.join("wireshark-4.0.17/keys/tls13-rfc8446-noearly.keys")],
    );
    let c = &run.sinks[&1];
    // Frame 8 (0-RTT "GET /early") stays encrypted and is reported as a gap.
    assert!(
        c.gaps
            .iter()
            .any(|g| g.0 == Dir::ClientToServer && g.1 == 8 && g.3 == GapReason::NoEarlyKey),
        "{:?}",
        c.gaps
    );
    assert_eq!(
        c.plain[0],
        b"GET /second HTTP/1.1\r\n\r\n".to_vec(),
        "later client data still decrypts"
    );
    let s = &run.summaries[&1];
    assert_eq!(s.decrypted, Decrypted::Partly);
    assert!(
        s.reason
            .as_deref()
            .unwrap()
            .starts_with("no CLIENT_EARLY_TRAFFIC_SECRET for client random"),
        "{s:?}"
    );
    // The server's handshake (a resumption: no certificate) and data are still decrypted.
    assert_eq!(c.plain[1].len(), 237);
    assert!(c.events.iter().any(|e| e.dir == Dir::ServerToClient
        && matches!(
            e.kind,
            EventKind::EncryptedExtensions {
                early_data_accepted: true,
                ..
            }
        )));
    assert!(s.resumption && s.early_data.offered && s.early_data.accepted);
    // Stream 0 (no 0-RTT) is untouched.
    assert_eq!(run.summaries[&0].decrypted, Decrypted::Yes);
}

#[test]
fn tls13_chacha20poly1305() {
    assert_conforms(
        "wireshark-4.0.17/captures/tls13-20-chacha20poly1305.pcap",
        &["wireshark-4.0.17/keys/tls13-20-chacha20poly1305.keys"],
    );
}

#[test]
fn illustrated_tls12_cbc_sha() {
    assert_conforms(
        "illustrated-tls/tls12/capture.pcap",
        &["illustrated-tls/tls12/keylog.txt"],
    );
}

#[test]
fn illustrated_tls13() {
    assert_conforms(
        "illustrated-tls/tls13/capture.pcap",
        &["illustrated-tls/tls13/keylog.txt"],
    );
}

#[test]
fn illustrated_tls13_archive() {
    assert_conforms(
        "illustrated-tls/tls13-archive/capture.pcap",
        &["illustrated-tls/tls13-archive/keylog.txt"],
    );
}

#[test]
fn zeek_tls12_decryption() {
    assert_conforms(
        "zeek/tls_tls12-decryption.pcap",
        &["zeek/keys/tls12-decryption.nss.keys"],
    );
}

#[test]
fn zeek_tls12_stream_keylog() {
    assert_conforms(
        "zeek/tls_tls-1.2-stream-keylog.pcap",
        &["zeek/keys/tls-1.2-stream-keylog.nss.keys"],
    );
}

#[test]
fn tls10_dhe_cbc() {
    assert_conforms(
        "wireshark-4.0.17/captures/dhe1.pcapng.gz",
        &["wireshark-4.0.17/keys/dhe1_keylog.dat"],
    );
}

#[test]
fn http2_data_reassembly_gcm() {
    assert_conforms(
        "wireshark-4.0.17/captures/http2-data-reassembly.pcap",
        &["wireshark-4.0.17/keys/http2-data-reassembly.keys"],
    );
}

#[test]
fn dsb_capture_matches_its_exported_twin() {
    let Some(dir) = corpus() else { return };
    let with_dsb = run(&dir.join("wireshark-4.0.17/captures/tls12-dsb.pcapng"), &[]);
    let twin = run(
        &dir.join("wireshark-4.0.17/derived/tls12-dsb.nodsb.pcapng"),
        &[&dir.join("wireshark-4.0.17/derived/tls12-dsb.dsb-export.keys")],
    );
    assert!(!with_dsb.sinks.is_empty());
    for (stream, c) in &with_dsb.sinks {
        assert_eq!(c.plain, twin.sinks[stream].plain, "stream {stream}");
    }
    assert_conforms("wireshark-4.0.17/captures/tls12-dsb.pcapng", &[]);
}

#[test]
fn out_of_order_capture_with_embedded_secrets_and_its_twin() {
    assert_conforms(
        "wireshark-4.0.17/captures/challenge01_ooo_stream.pcapng.gz",
        &[],
    );
    assert_conforms(
        "wireshark-4.0.17/derived/challenge01_ooo_stream.nodsb.pcapng.gz",
        &["wireshark-4.0.17/derived/challenge01_ooo_stream.dsb-export.keys"],
    );
}

#[test]
fn certificates_in_clear_are_summarised() {
    let Some(dir) = corpus() else { return };
    let run = run(
        &dir.join("illustrated-tls/tls12/capture.pcap"),
        &[&dir.join("illustrated-tls/tls12/keylog.txt")],
    );
    let s = &run.summaries[&0];
    assert_eq!(s.version.as_deref(), Some("TLS 1.2"));
    assert_eq!(
        s.suite.as_deref(),
        Some("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")
    );
    let cert = &s.certificates[0];
    assert_eq!(
        cert.subject_cn.as_deref(),
        Some("example.ulfheim.net"),
        "{cert:?}"
    );
    assert!(cert.not_after.is_some() && cert.error.is_none());
}

#[cfg(feature = "rsa-keys")]
#[test]
fn rsa_key_exchange_with_the_server_key() {
    assert_conforms(
        "wireshark-4.0.17/captures/rsa-p-lt-q.pcap",
        &["wireshark-4.0.17/keys/rsa-p-lt-q.key"],
    );
}

#[cfg(feature = "rsa-keys")]
#[test]
fn rsa_key_exchange_across_renegotiation() {
    assert_conforms(
        "wireshark-4.0.17/captures/tls-renegotiation.pcap",
        &["wireshark-4.0.17/keys/rsasnakeoil2.key"],
    );
}

/// Every capture of the manifest, TLS detected by content on any port, with
/// its key material when it has some: never a panic, every TLS connection
/// summarised. Prints one line per connection (visible with --nocapture).
#[test]
fn every_manifest_capture_runs() {
    let Some(dir) = corpus() else { return };
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    for line in manifest.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let capture = dir.join(f[0]);
        let Ok(items) = std::panic::catch_unwind(|| read_capture(&capture)) else {
            eprintln!("{}: the test extractor cannot read it", f[0]);
            continue;
        };
        drop(items);
        let keys: Vec<_> = f[1..3]
            .iter()
            .filter(|k| **k != "-")
            .map(|k| dir.join(k))
            .collect();
        let keys: Vec<&Path> = keys.iter().map(|k| k.as_path()).collect();
        let run = run_detected(&capture, &keys);
        if run.len() > 5 {
            eprintln!("{}: {} TLS connections", f[0], run.len());
        }
        for s in run.values().take(5) {
            eprintln!(
                "{} stream {}: {:?} {:?} {:?} {:?}",
                f[0], s.stream, s.version, s.suite, s.decrypted, s.reason
            );
        }
    }
}

/// Like [`run`], but only for streams whose first bytes look like TLS.
fn run_detected(capture: &Path, keylogs: &[&Path]) -> BTreeMap<u64, Summary> {
    use super::record::{detect, Probe};
    let mut keys = KeyLog::new();
    for k in keylogs {
        if k.extension().is_some_and(|e| e == "key") {
            #[cfg(feature = "rsa-keys")]
            keys.load_rsa_key(k).unwrap();
            continue;
        }
        keys.load_file(k, &mut Vec::new()).unwrap();
    }
    let limits = Limits::default();
    let mut sessions: BTreeMap<u64, Option<Session>> = BTreeMap::new();
    let mut sink = Collect::default();
    for item in read_capture(capture) {
        match item {
            Item::Data {
                stream,
                dir,
                at,
                bytes,
            } => {
                let slot = sessions.entry(stream).or_insert_with(|| {
                    (detect(&bytes) != Probe::NotTls).then(|| Session::new(stream, &limits))
                });
                if let Some(s) = slot {
                    s.on_data(&keys, dir, at, &bytes, &mut sink);
                }
            }
            Item::Gap {
                stream,
                dir,
                at,
                len,
            } => {
                if let Some(Some(s)) = sessions.get_mut(&stream) {
                    s.on_gap(dir, at, len, &mut sink);
                }
            }
            Item::Secrets { offset, text } => {
                keys.add_text(&text, KeySource::Dsb { offset }, &mut Vec::new());
            }
        }
    }
    sessions
        .into_iter()
        .filter_map(|(i, s)| {
            let mut s = s?;
            s.finish(&mut sink);
            Some((i, s.summary().clone()))
        })
        .collect()
}
