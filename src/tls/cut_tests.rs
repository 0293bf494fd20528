//! Records cut by the capture (a snaplen, the end of the capture) under a
//! stream-cipher AEAD: the captured start is decrypted without its tag and
//! given upward as unauthenticated, for TLS 1.3 and TLS 1.2, AES-GCM and
//! ChaCha20-Poly1305, real rustls sessions.

use rustls::crypto::ring::cipher_suite as suite;

use super::rustls_tests::{at, converse, keys_of, Setup, Step, Transcript};
use super::testutil::Collect;
use super::*;
use crate::limits::Limits;
use crate::position::Dir;

const STANZA: &[u8] = b"<message from='pubsub.finesse' to='1001@finesse/desktop'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='/finesse/api/User/1001'/></event></message>";

fn setup(suite: rustls::SupportedCipherSuite, tls12: bool) -> Setup {
    Setup {
        suites: vec![suite],
        tls12,
        hello_retry: false,
    }
}

/// The server's last chunk: the record carrying [`STANZA`].
fn stanza_chunk(t: &Transcript) -> usize {
    t.chunks
        .iter()
        .rposition(|c| c.0 == Dir::ServerToClient && c.1.len() > STANZA.len())
        .unwrap()
}

/// Replays `t` with the stanza's record cut after `keep` bytes: then a gap
/// of the rest (a snaplen) or nothing more (the end of the capture).
fn replay_cut(t: &Transcript, keep: usize, snaplen: bool) -> (Collect, Summary) {
    let keys = keys_of(t);
    let cut = stanza_chunk(t);
    let mut s = Session::new(9, &Limits::default());
    let mut sink = Collect::default();
    for (i, (dir, bytes)) in t.chunks.iter().enumerate() {
        if i < cut {
            s.on_data(&keys, *dir, at(i), bytes, &mut sink);
        } else if i == cut {
            s.on_data(&keys, *dir, at(i), &bytes[..keep], &mut sink);
            if snaplen {
                s.on_gap(*dir, at(i), (bytes.len() - keep) as u64, &mut sink);
            }
        }
    }
    s.finish(&mut sink);
    (sink, s.summary().clone())
}

#[test]
fn a_cut_record_shows_its_start_unauthenticated() {
    let cases = [
        (suite::TLS13_AES_128_GCM_SHA256, false, 0),
        (suite::TLS13_CHACHA20_POLY1305_SHA256, false, 0),
        (suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, true, 8),
        (
            suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            true,
            0,
        ),
    ];
    for (suite, tls12, explicit_nonce) in cases {
        let steps = [
            Step::Send(Dir::ClientToServer, b"<presence/>"),
            Step::Send(Dir::ServerToClient, STANZA),
        ];
        let t = converse(&setup(suite, tls12), &steps);
        let name = format!("{:?}", suite.suite());
        for snaplen in [false, true] {
            let keep = 5 + explicit_nonce + 60;
            let (sink, summary) = replay_cut(&t, keep, snaplen);
            assert_eq!(sink.plain[0], b"<presence/>", "{name}");
            assert_eq!(sink.plain[1], &STANZA[..60], "{name} snaplen {snaplen}");
            let f: Vec<_> = sink
                .findings
                .iter()
                .filter(|f| f.code == "tls.unauthenticated")
                .collect();
            assert_eq!(f.len(), 1, "{name}: {:?}", sink.findings);
            assert!(f[0].message.contains(
                "its first 60 bytes of plaintext are given decrypted but unauthenticated"
            ));
            assert_eq!(
                f[0].message
                    .contains("taken as application data by assumption"),
                !tls12,
                "{name}"
            );
            // Counted as before: cut at the end it is "truncated", cut by a
            // snaplen its rest is a lost record.
            let expected = if snaplen {
                Decrypted::Partly
            } else {
                Decrypted::Yes
            };
            assert_eq!(summary.decrypted, expected, "{name}");
        }
    }
}

#[test]
fn a_tls12_gcm_record_cut_inside_its_explicit_nonce_gives_nothing() {
    let steps = [Step::Send(Dir::ServerToClient, STANZA)];
    let t = converse(
        &setup(suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, true),
        &steps,
    );
    let (sink, _) = replay_cut(&t, 5 + 6, false);
    assert!(sink.plain[1].is_empty());
    assert!(sink
        .findings
        .iter()
        .all(|f| f.code != "tls.unauthenticated"));
    assert!(sink.findings.iter().any(|f| f.code == "tls.truncated"));
}

#[test]
fn without_a_key_a_cut_record_stays_undecrypted() {
    let steps = [Step::Send(Dir::ServerToClient, STANZA)];
    let t = converse(&setup(suite::TLS13_AES_128_GCM_SHA256, false), &steps);
    let cut = stanza_chunk(&t);
    let mut s = Session::new(9, &Limits::default());
    let mut sink = Collect::default();
    for (i, (dir, bytes)) in t.chunks.iter().enumerate().take(cut + 1) {
        let bytes = if i == cut { &bytes[..70] } else { &bytes[..] };
        s.on_data(&KeyLog::new(), *dir, at(i), bytes, &mut sink);
    }
    s.finish(&mut sink);
    assert!(sink.plain[1].is_empty());
    assert!(sink
        .findings
        .iter()
        .all(|f| f.code != "tls.unauthenticated"));
}
