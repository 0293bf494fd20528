//! Conformance of TLS decryption with tshark's (`tls` rows of every
//! `<capture>.streams.tsv`), through the whole pipeline: for every capture
//! with a key log or embedded secrets, the decrypted application bytes per
//! stream and direction (count and SHA-256).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use xmppcap::pipeline::{self, EventSink, Options};
use xmppcap::position::{Dir, FrameRef};
use xmppcap::report::event::{Detail, Event};

use crate::corpus;

/// (capture, tshark stream, reason) where xmppcap deliberately differs.
/// Only reached with the rsa-keys feature (the capture has an RSA key, no key log).
const KNOWN_DIFFERENCES: &[(&str, u64, &str)] = &[
    (
        "wireshark-4.0.17/captures/rsasnakeoil2.pcap",
        0,
        "SSL 3.0 is not decrypted (reported as \"version not supported: SSL 3.0\"); Finesse never uses it",
    ),
    (
        "wireshark-4.0.17/captures/rsasnakeoil2.pcap",
        1,
        "3DES suites are not decrypted (reported as \"suite not supported: 0x000a\"); Finesse never uses them",
    ),
];

#[derive(Default)]
struct Plaintext {
    streams: BTreeMap<(u64, Dir), (Sha256, u64)>,
    events: Vec<Event>,
}

impl EventSink for Plaintext {
    fn emit(&mut self, event: Event) {
        if matches!(event.detail, Detail::Tls { .. } | Detail::TcpOpen { .. }) {
            self.events.push(event);
        }
    }

    fn on_plaintext(&mut self, stream: u64, dir: Dir, _at: FrameRef, bytes: &[u8]) {
        let entry = self
            .streams
            .entry((stream, dir))
            .or_insert_with(|| (Sha256::new(), 0));
        entry.0.update(bytes);
        entry.1 += bytes.len() as u64;
    }
}

fn hex(h: &Sha256) -> String {
    h.clone()
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn tls_plaintext_matches_tshark() {
    let Some(dir) = corpus::dir("tls_plaintext_matches_tshark") else {
        return;
    };
    let (mut captures, mut compared, mut exact) = (0, 0, 0);
    let mut failures = Vec::new();
    for entry in corpus::manifest(&dir) {
        // RSA private keys (column 3) count only when the rsa-keys feature is built.
        let rsa = cfg!(feature = "rsa-keys") && entry.rsa_key.is_some();
        if entry.keylog.is_none() && !entry.notes.contains("DSB") && !rsa {
            continue;
        }
        let name = corpus::short(&dir, &entry.capture);
        let opts = Options {
            keylogs: entry.keylog.iter().cloned().collect(),
            rsa_keys: if rsa {
                entry.rsa_key.iter().cloned().collect()
            } else {
                Vec::new()
            },
            ..Options::default()
        };
        let mut got = Plaintext::default();
        let analyzed = match pipeline::analyze(&entry.capture, &opts, &mut got) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        captures += 1;
        for row in corpus::stream_rows(&entry.capture)
            .iter()
            .filter(|r| r.layer == "tls")
        {
            compared += 1;
            let Some(conn) = analyzed.connections.iter().find(|c| c.stream == row.stream) else {
                failures.push(format!("{name} stream {}: no such connection", row.stream));
                continue;
            };
            // tshark's c2s is from its node 0 (the first sender); map by endpoints.
            let flipped = row.client == conn.server.to_string();
            let want = if row.dir == "c2s" {
                Dir::ClientToServer
            } else {
                Dir::ServerToClient
            };
            let ours = if flipped { want.flip() } else { want };
            let (sha, bytes) = got
                .streams
                .get(&(row.stream, ours))
                .map_or_else(|| (hex(&Sha256::new()), 0), |(h, n)| (hex(h), *n));
            let known = KNOWN_DIFFERENCES
                .iter()
                .any(|k| k.0 == name && k.1 == row.stream);
            if (bytes, sha.as_str()) == (row.bytes, row.sha256.as_str()) {
                exact += 1;
            } else if !known {
                let reason = conn
                    .tls
                    .as_ref()
                    .and_then(|t| t.reason.clone())
                    .unwrap_or_default();
                failures.push(format!(
                    "{name} stream {} {}: tshark {} bytes, xmppcap {bytes} ({reason})",
                    row.stream, row.dir, row.bytes
                ));
            }
        }
    }
    eprintln!("tls conformance: {captures} captures, {compared} directions compared, {exact} exact, {} failures", failures.len());
    assert!(
        failures.is_empty(),
        "decrypted bytes differ from tshark:\n{}",
        failures.join("\n")
    );
}

#[test]
fn rfc8446_early_data_stays_encrypted_without_its_secret() {
    let Some(dir) = corpus::dir("rfc8446_early_data_stays_encrypted_without_its_secret") else {
        return;
    };
    let capture = dir.join("wireshark-4.0.17/captures/tls13-rfc8446.pcap");
    let opts = Options {
        keylogs: vec![dir.join("wireshark-4.0.17/keys/tls13-rfc8446-noearly.keys")],
        ..Options::default()
    };
    let mut got = Plaintext::default();
    let analyzed = pipeline::analyze(&capture, &opts, &mut got).expect("capture readable");
    let early = analyzed
        .connections
        .iter()
        .filter_map(|c| c.tls.as_ref())
        .find(|t| {
            t.reason
                .as_deref()
                .is_some_and(|r| r.contains("CLIENT_EARLY_TRAFFIC_SECRET"))
        });
    assert!(
        early.is_some(),
        "a connection says why its early data was not decrypted"
    );
    let undecrypted: u64 = analyzed
        .connections
        .iter()
        .map(|c| c.bytes.c2s.undecryptable)
        .sum();
    assert!(
        undecrypted > 0,
        "frame 8's early data is counted as undecryptable"
    );
}

#[test]
fn dsb_capture_and_exported_key_log_give_identical_reports() {
    let Some(dir) = corpus::dir("dsb_capture_and_exported_key_log_give_identical_reports") else {
        return;
    };
    for (dsb, twin, keys) in [
        (
            "wireshark-4.0.17/captures/tls12-dsb.pcapng",
            "wireshark-4.0.17/derived/tls12-dsb.nodsb.pcapng",
            "wireshark-4.0.17/derived/tls12-dsb.dsb-export.keys",
        ),
        (
            "wireshark-4.0.17/captures/challenge01_ooo_stream.pcapng.gz",
            "wireshark-4.0.17/derived/challenge01_ooo_stream.nodsb.pcapng.gz",
            "wireshark-4.0.17/derived/challenge01_ooo_stream.dsb-export.keys",
        ),
    ] {
        let mut a = Plaintext::default();
        let mut b = Plaintext::default();
        pipeline::analyze(&dir.join(dsb), &Options::default(), &mut a).expect("readable");
        let opts = Options {
            keylogs: vec![dir.join(keys)],
            ..Options::default()
        };
        pipeline::analyze(&dir.join(twin), &opts, &mut b).expect("readable");
        let digest = |p: &Plaintext| {
            p.streams
                .iter()
                .map(|(k, (h, n))| (*k, hex(h), *n))
                .collect::<Vec<_>>()
        };
        assert!(!a.streams.is_empty(), "{dsb}: something decrypted");
        assert_eq!(
            digest(&a),
            digest(&b),
            "{dsb} and its twin decrypt the same bytes"
        );
        let summaries = |p: &Plaintext| {
            p.events
                .iter()
                .map(|e| (e.kind(), e.frame))
                .collect::<Vec<_>>()
        };
        assert_eq!(summaries(&a), summaries(&b), "{dsb}: same TLS events");
    }
}
