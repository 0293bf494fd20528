//! Fuzz entry points for the TLS parsers and the session (re-exported by
//! `crate::fuzzing`). Each takes arbitrary bytes and must never panic.

use super::handshake::{self as hs, Reassembler};
use super::keylog::{KeyLog, KeySource};
use super::record;
use super::session::Session;
use super::summary::{Event, GapReason, Sink};
use crate::common::{Dir, FrameRef};
use crate::finding::{Finding, Findings};
use crate::limits::Limits;

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
    let _ = hs::parse_certificate(data, false);
    let _ = hs::parse_certificate(data, true);
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
