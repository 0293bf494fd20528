//! Fuzz entry points for the TLS parsers and the session (re-exported by
//! `crate::fuzzing`). Each takes arbitrary bytes and must never panic.

use super::handshake::{self as hs, Reassembler};
use super::keylog::{KeyLog, KeySource};
use super::record;
use super::session::Session;
use super::summary::{Event, GapReason, Sink};
use crate::finding::{Finding, Findings};
use crate::limits::Limits;
use crate::position::{Dir, FrameRef};

/// Record framing from every offset, with and without the SSLv2 form.
pub fn tls_record(data: &[u8]) {
    for start in 0..data.len().min(64) {
        let rest = data.get(start..).unwrap_or_default();
        let _ = record::parse_record(rest, (1 << 14) + 2048, start == 0);
        let _ = record::detect(rest);
    }
}

/// Every handshake message parser on the same bytes, and the reassembler fed in two pieces.
pub fn tls_handshake(data: &[u8]) {
    let _ = hs::parse_client_hello(data);
    let _ = hs::parse_sslv2_client_hello(data);
    let _ = hs::parse_server_hello(data);
    let _ = hs::parse_encrypted_extensions(data);
    let _ = hs::parse_certificate(data, false, 16);
    let _ = hs::parse_certificate(data, true, 16);
    let _ = hs::parse_new_session_ticket(data, 0x0304);
    let _ = hs::parse_new_session_ticket(data, 0x0303);
    let _ = hs::parse_key_update(data);
    let _ = hs::parse_alert(data);
    let mut r = Reassembler::new(4096);
    let cut = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let (a, b) = data.split_at(cut);
    for part in [a, b] {
        r.feed(0u64, part, &mut |_, _, _| {}, &mut |_, _| {});
    }
}

/// Key log text.
pub fn tls_keylog(data: &[u8]) {
    let mut k = KeyLog::new();
    k.add_text(data, KeySource::Named("fuzz".into()), &mut Vec::new());
    let _ = k.len();
}

#[derive(Default)]
struct Discard;

impl Findings for Discard {
    fn push_finding(&mut self, _: Finding) {}
}

impl Sink for Discard {
    fn on_plaintext(&mut self, _: Dir, _: FrameRef, _: &[u8]) {}
    fn on_plaintext_gap(&mut self, _: Dir, _: FrameRef, _: u64, _: GapReason) {}
    fn on_tls_event(&mut self, _: &Event) {}
}

/// A session fed arbitrary bytes: the first byte steers direction switches,
/// chunk sizes and gaps.
pub fn tls_session(data: &[u8]) {
    let limits = Limits {
        tls_midstream_seq_search: 4,
        ..Limits::default()
    };
    let keys = KeyLog::new();
    let mut s = Session::new(0, &limits);
    let mut sink = Discard;
    let steer = data.first().copied().unwrap_or(7);
    let chunk = usize::from(steer % 31) + 1;
    for (i, part) in data.chunks(chunk).enumerate() {
        let dir = if (i + usize::from(steer)) % 3 == 0 {
            Dir::ServerToClient
        } else {
            Dir::ClientToServer
        };
        let at = FrameRef::new(i as u64 + 1, Default::default());
        if steer & 0x80 != 0 && i % 17 == 16 {
            s.on_gap(dir, at, part.len() as u64, &mut sink);
        } else {
            s.on_data(&keys, dir, at, part, &mut sink);
        }
    }
    s.finish(&mut sink);
    let _ = s.summary();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::rustls_tests::{converse, keys_of, Setup, Step};

    /// xorshift64*: deterministic bytes without a dependency.
    fn noise(seed: &mut u64, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                (seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn fuzz_smoke_random_and_mutated_input() {
        let t = converse(
            &Setup {
                suites: vec![rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256],
                tls12: false,
                hello_retry: false,
            },
            &[
                Step::Send(Dir::ClientToServer, b"hello"),
                Step::KeyUpdate(Dir::ServerToClient),
            ],
        );
        let keys = keys_of(&t);
        let wire: Vec<u8> = t.chunks.iter().flat_map(|c| c.1.clone()).collect();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        // XMPPCAP_FUZZ_ROUNDS runs a longer smoke (e.g. 200000 in release).
        let rounds = std::env::var("XMPPCAP_FUZZ_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(2000);
        for round in 0..rounds {
            let random = noise(&mut seed, (round * 7) % 600);
            tls_record(&random);
            tls_handshake(&random);
            tls_keylog(&random);
            tls_session(&random);
            // Real records with a few bytes flipped, fed to a session that has the keys.
            let mut m = wire.clone();
            for _ in 0..1 + round % 4 {
                let pos = noise(&mut seed, 2);
                let i = (usize::from(pos[0]) << 8 | usize::from(pos[1])) % m.len();
                m[i] ^= 1 << (round % 8);
            }
            tls_record(&m);
            tls_handshake(m.get(5..).unwrap_or_default());
            let mut s = Session::new(0, &Limits::default());
            let mut sink = Discard;
            let mut off = 0;
            for (i, (dir, chunk)) in t.chunks.iter().enumerate() {
                let piece = &m[off..off + chunk.len()];
                off += chunk.len();
                s.on_data(
                    &keys,
                    *dir,
                    FrameRef::new(i as u64 + 1, Default::default()),
                    piece,
                    &mut sink,
                );
            }
            s.finish(&mut sink);
        }
    }
}
