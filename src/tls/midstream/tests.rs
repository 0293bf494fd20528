use super::*;
use crate::tls::crypto;
use crate::tls::keylog::KeySource;
use crate::tls::record::ContentType;
use crate::tls::suites;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};

const SEQ: u64 = 5;
const MAX_SEQ: u64 = 8;

fn log(lines: &str) -> KeyLog {
    let mut k = KeyLog::new();
    k.add_text(
        lines.as_bytes(),
        KeySource::Named("t.keys".into()),
        &mut Vec::new(),
    );
    k
}

/// `SERVER_TRAFFIC_SECRET_0` lines: `decoys` wrong secrets (client randoms
/// 01…, 02…), then the right one (client random ee…, secret 5a…).
fn server_secrets(decoys: u8) -> KeyLog {
    let mut lines = String::new();
    for i in 1..=decoys {
        let random = format!("{i:02x}").repeat(32);
        lines += &format!("SERVER_TRAFFIC_SECRET_0 {random} {}\n", "77".repeat(32));
    }
    lines += &format!(
        "SERVER_TRAFFIC_SECRET_0 {} {}\n",
        "ee".repeat(32),
        "5a".repeat(32)
    );
    log(&lines)
}

/// "hi" sealed as an application_data record at sequence [`SEQ`] with
/// ChaCha20-Poly1305 under the secret 5a… (RFC 8446 §5.2, §7.3).
fn sealed_record() -> (Header, Vec<u8>) {
    let secret = [0x5au8; 32];
    let mut key = [0u8; 32];
    let mut iv = [0u8; 12];
    crypto::hkdf_expand_label(suites::Hash::Sha256, &secret, b"key", &[], &mut key);
    crypto::hkdf_expand_label(suites::Hash::Sha256, &secret, b"iv", &[], &mut iv);
    let mut nonce = iv;
    nonce[11] ^= SEQ as u8;
    let mut body = b"hi\x17".to_vec();
    let sealing = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &key).unwrap());
    sealing
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from([23, 3, 3, 0, 19]),
            &mut body,
        )
        .unwrap();
    let header = Header {
        typ: ContentType::ApplicationData,
        version: 0x0303,
        len: body.len(),
        header_len: 5,
    };
    (header, body)
}

/// The work of trying one 32-byte secret in full: two AEADs of SHA-256, each
/// derived once and tried at [`MAX_SEQ`] sequence numbers.
fn per_secret(body: &[u8]) -> u64 {
    2 * DERIVATION_BYTES + 2 * MAX_SEQ * (body.len() as u64 + TRIAL_FIXED_BYTES)
}

fn run(
    keys: &KeyLog,
    dir: Dir,
    body: &[u8],
    caps: SearchCaps,
    prefer: Option<[u8; 32]>,
) -> Outcome {
    let (header, _) = sealed_record();
    search(keys, dir, &header, body, caps, prefer, &mut Vec::new())
}

fn unbounded(max_seq: u64) -> SearchCaps {
    SearchCaps {
        max_seq,
        max_bytes: u64::MAX,
    }
}

#[test]
fn finds_secret_and_sequence() {
    let keys = server_secrets(1);
    let (_, body) = sealed_record();
    let Outcome::Found(found) = run(&keys, Dir::ServerToClient, &body, unbounded(MAX_SEQ), None)
    else {
        panic!("not found");
    };
    assert_eq!((found.seq, found.client_random), (SEQ, [0xee; 32]));
    assert_eq!(found.key.phase, KeyPhase::Application);
    // Sequence 5 lies outside 0..5; the client's label has no secret at all.
    let short = run(&keys, Dir::ServerToClient, &body, unbounded(SEQ), None);
    assert!(matches!(short, Outcome::NotFound));
    let other = run(&keys, Dir::ClientToServer, &body, unbounded(MAX_SEQ), None);
    assert!(matches!(other, Outcome::NotFound));
}

#[test]
fn a_secret_within_the_work_cap_is_found() {
    let keys = server_secrets(10);
    let (_, body) = sealed_record();
    let caps = SearchCaps {
        max_seq: MAX_SEQ,
        max_bytes: 11 * per_secret(&body),
    };
    let outcome = run(&keys, Dir::ServerToClient, &body, caps, None);
    assert!(matches!(outcome, Outcome::Found(f) if f.client_random == [0xee; 32]));
}

#[test]
fn a_secret_beyond_the_work_cap_is_not_found_and_the_stop_says_how_far() {
    let keys = server_secrets(10);
    let (_, body) = sealed_record();
    let caps = SearchCaps {
        max_seq: MAX_SEQ,
        max_bytes: 4 * per_secret(&body) + per_secret(&body) / 2,
    };
    let Outcome::Stopped(stopped) = run(&keys, Dir::ServerToClient, &body, caps, None) else {
        panic!("the search was not stopped");
    };
    assert_eq!(
        stopped,
        Stopped {
            tried: 4,
            secrets: 11
        }
    );
    assert_eq!(
        stopped.clause(),
        "the mid-stream search stopped after 4 of 11 secrets (tls_midstream_search_bytes)"
    );
    let nothing = SearchCaps {
        max_seq: MAX_SEQ,
        max_bytes: 0,
    };
    let at_once = run(&keys, Dir::ServerToClient, &body, nothing, None);
    assert!(matches!(
        at_once,
        Outcome::Stopped(Stopped {
            tried: 0,
            secrets: 11
        })
    ));
}

#[test]
fn the_secret_the_other_direction_matched_goes_first() {
    let keys = server_secrets(10);
    let (_, body) = sealed_record();
    let caps = SearchCaps {
        max_seq: MAX_SEQ,
        max_bytes: per_secret(&body),
    };
    let outcome = run(&keys, Dir::ServerToClient, &body, caps, Some([0xee; 32]));
    assert!(matches!(outcome, Outcome::Found(f) if f.seq == SEQ));
}

#[test]
fn the_work_does_not_grow_with_the_key_log() {
    // Past the cap, a key log ten times bigger costs the same trials: the
    // stop point depends on the cap and the record alone.
    let (_, body) = sealed_record();
    let caps = SearchCaps {
        max_seq: MAX_SEQ,
        max_bytes: 3 * per_secret(&body),
    };
    for decoys in [10, 100] {
        let keys = server_secrets(decoys);
        let Outcome::Stopped(stopped) = run(&keys, Dir::ServerToClient, &body, caps, None) else {
            panic!("the search was not stopped");
        };
        assert_eq!(stopped.tried, 3);
        assert_eq!(stopped.secrets, usize::from(decoys) + 1);
    }
}

#[test]
fn every_prefix_of_the_record_ends_the_search_without_a_panic() {
    let keys = server_secrets(2);
    let (_, body) = sealed_record();
    for cut in 0..body.len() {
        let prefix = body.get(..cut).unwrap();
        let outcome = run(&keys, Dir::ServerToClient, prefix, unbounded(MAX_SEQ), None);
        assert!(
            matches!(outcome, Outcome::NotFound),
            "prefix of {cut} bytes"
        );
    }
}
