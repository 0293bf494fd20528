//! Stage tests for a permessage-deflate session seen without its start: the
//! capture began after the handshake (or a gap ate part of the stream), the
//! window is lost and inflated as unknown. Known bytes must be exactly what
//! was sent, unknown ones 0xFF, partly known text never given as text, and
//! the events the same whatever the chunking.

use flate2::{Compress, Compression};

use super::deflate::tests::compress_message;
use super::tests::{
    assert_chunking_invariant, at, deflate_both, frame, run, Recorder, Segment, C2S, KEY, S2C,
};
use super::*;
use crate::limits::Limits;

/// Finesse-like server notifications: a repeated template around a few new
/// bytes.
fn update(i: usize) -> String {
    let state = ["READY", "NOT_READY", "TALKING", "WORK_READY"][i % 4];
    format!(
        "<message from='pubsub.finesse' to='1001@finesse/desktop'><event xmlns='http://jabber.org/protocol/pubsub#event'>\
         <items node='/finesse/api/User/1001'><item id='{i:08x}'><notification xmlns='http://jabber.org/protocol/pubsub'>\
         &lt;Update&gt;&lt;data&gt;&lt;user&gt;&lt;state&gt;{state}&lt;/state&gt;&lt;/user&gt;&lt;/data&gt;&lt;/Update&gt;\
         </notification></item></items></event></message>"
    )
}

/// Text nothing in [`update`] can refer to (Greek letters), `n` characters.
fn greek(seed: usize, n: usize) -> String {
    let mut x = (seed as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_u32(0x3b1 + (x % 24) as u32).unwrap_or('α')
        })
        .collect()
}

/// The plain texts of a server direction: `updates` notifications, then
/// `fresh` messages of 2 KiB that refer to none of them (not even through
/// `<message`, which would copy the unknown template), then `after` more.
fn session(updates: usize, fresh: usize, after: usize) -> Vec<String> {
    let mut plain: Vec<String> = (0..updates).map(update).collect();
    plain.extend((0..fresh).map(|i| greek(i, 1024)));
    plain.extend((updates..updates + after).map(update));
    plain
}

/// One unmasked compressed text frame per message, one compressor (context takeover).
fn compressed_frames(plain: &[String]) -> Vec<Vec<u8>> {
    let mut z = Compress::new(Compression::default(), false);
    plain
        .iter()
        .map(|p| frame(true, 4, 1, None, &compress_message(&mut z, p.as_bytes())))
        .collect()
}

/// Checks each emitted server message against what was sent: exact ones as
/// text, partly known ones with only 0xFF where they differ. Returns the
/// index (into `sent`) of the first message after which all were exact.
fn check_against_sent(r: &Recorder, sent: &[String]) -> usize {
    let server: Vec<_> = r.messages.iter().filter(|(d, ..)| *d == S2C).collect();
    assert_eq!(server.len(), sent.len(), "one message per message sent");
    let mut exact_from = 0;
    for (i, ((_, json, payload), plain)) in server.iter().zip(sent).enumerate() {
        let m: serde_json::Value = serde_json::from_str(json).unwrap();
        let plain = plain.as_bytes();
        assert_eq!(m["len"].as_u64(), Some(plain.len() as u64), "message {i}");
        assert_eq!(payload.len(), plain.len(), "message {i}");
        match m["known_bytes"].as_u64() {
            None => {
                assert_eq!(
                    m["text"].as_str().map(str::as_bytes),
                    Some(plain),
                    "message {i}"
                );
            }
            Some(known) => {
                exact_from = i + 1;
                assert!(m["text"].is_null(), "partly known text is never text: {i}");
                assert!(m["not_inflated"].is_null(), "message {i}");
                let same = payload.iter().zip(plain).filter(|(p, s)| p == s).count();
                assert_eq!(same as u64, known, "message {i}: known bytes are exact");
                assert!(
                    payload
                        .iter()
                        .zip(plain)
                        .all(|(&p, s)| p == *s || p == 0xff),
                    "message {i}: anything not known is 0xFF"
                );
                assert!(known < plain.len() as u64);
            }
        }
    }
    exact_from
}

#[test]
fn a_capture_that_starts_after_message_k() {
    let plain = session(40, 20, 10);
    let frames = compressed_frames(&plain);
    for k in [1, 7, 39] {
        let segs: Vec<Segment> = frames
            .iter()
            .enumerate()
            .skip(k)
            .map(|(i, f)| (S2C, i as u64, f.clone()))
            .collect();
        let r = run(None, &Limits::default(), &segs);
        let exact_from = check_against_sent(&r, &plain[k..]) + k;
        // The template stays unknown for as long as it is repeated (each
        // copy copies an unknown copy); the fresh text refers to nothing, and
        // once 40 KiB of it have passed the sender can no longer refer to the
        // template either: the updates after it are exact too.
        assert_eq!(exact_from, 40, "k {k}");
        let s = r
            .messages
            .iter()
            .filter(|(_, j, _)| j.contains("known_bytes"))
            .count();
        assert_eq!(
            s,
            40 - k,
            "k {k}: every update before the fresh text is partial"
        );
    }
}

#[test]
fn partly_known_messages_do_not_depend_on_the_chunking() {
    let plain = session(6, 0, 0);
    let frames = compressed_frames(&plain);
    let segs: Vec<Segment> = frames
        .iter()
        .enumerate()
        .skip(2)
        .map(|(i, f)| (S2C, i as u64, f.clone()))
        .collect();
    let r = assert_chunking_invariant(None, &Limits::default(), &segs);
    assert_eq!(check_against_sent(&r, &plain[2..]), 4);
}

/// A handshake was seen, then a gap ate a message and a half: the messages
/// after it are inflated against the lost window, the same way.
#[test]
fn after_a_gap_in_a_negotiated_session() {
    let plain = session(12, 0, 0);
    let frames = compressed_frames(&plain);
    let mut segs: Vec<Segment> = frames[..4]
        .iter()
        .enumerate()
        .map(|(i, f)| (S2C, i as u64 + 1, f.clone()))
        .collect();
    let half = frames[5].len() / 2;
    let gap = (frames[4].len() + half) as u64;
    let mut after = frames[5][half..].to_vec();
    after.extend(frames[6..].concat());
    for whole in [true, false] {
        let mut conn = Connection::new(1, deflate_both(), &Limits::default());
        let mut r = Recorder::default();
        for (dir, n, bytes) in &segs {
            conn.on_data(*dir, at(*n), bytes, &mut r);
        }
        conn.on_gap(S2C, at(10), gap, &mut r);
        if whole {
            conn.on_data(S2C, at(11), &after, &mut r);
        } else {
            for b in after.chunks(1) {
                conn.on_data(S2C, at(11), b, &mut r);
            }
        }
        conn.finish(&mut r);
        assert!(r.has("ws.gap") && r.has("ws.deflate_context_lost"));
        assert!(r.has("ws.partly_inflated"));
        let mut sent: Vec<String> = plain[..4].to_vec();
        sent.extend_from_slice(&plain[6..]);
        // The first four are exact (the handshake's window), the rest partial.
        assert_eq!(check_against_sent(&r, &sent), sent.len());
        assert_eq!(r.texts.len(), 4);
    }
    segs.clear();
}

/// Binary: a real 0xFF cannot be told from an unknown byte, so a binary
/// message that refers to the lost window is not shown (as before); one that
/// does not is exact.
#[test]
fn binary_that_refers_to_a_lost_window_is_not_shown() {
    let mut z = Compress::new(Compression::default(), false);
    let lost = b"\x00\x01binary record \xff\xfe".repeat(3);
    let _ = compress_message(&mut z, &lost);
    let again = frame(true, 4, 2, None, &compress_message(&mut z, &lost));
    let fresh = frame(
        true,
        4,
        2,
        None,
        &compress_message(&mut z, b"\x10\x20\x30 new"),
    );
    let r = run(
        None,
        &Limits::default(),
        &[(S2C, 1, again), (S2C, 2, fresh)],
    );
    let first = r.message_json(0);
    assert_eq!(first["not_inflated"], "no_context");
    assert!(first["len"].is_null() && r.messages[0].2.is_empty());
    let second = r.message_json(1);
    assert!(second["not_inflated"].is_null() && second["known_bytes"].is_null());
    assert_eq!(r.messages[1].2, b"\x10\x20\x30 new");
}

/// The client direction too (masked), both directions independent.
#[test]
fn masked_client_messages_from_mid_session() {
    let ping =
        |i: usize| format!("<iq type='get' id='{i}:sendIQ'><ping xmlns='urn:xmpp:ping'/></iq>");
    let mut z = Compress::new(Compression::default(), false);
    let frames: Vec<Vec<u8>> = (0..8)
        .map(|i| {
            frame(
                true,
                4,
                1,
                Some(KEY),
                &compress_message(&mut z, ping(i).as_bytes()),
            )
        })
        .collect();
    let segs: Vec<Segment> = frames
        .iter()
        .enumerate()
        .skip(3)
        .map(|(i, f)| (C2S, i as u64, f.clone()))
        .collect();
    let r = assert_chunking_invariant(None, &Limits::default(), &segs);
    let client: Vec<_> = r.messages.iter().filter(|(d, ..)| *d == C2S).collect();
    assert_eq!(client.len(), 5);
    for (i, (_, json, payload)) in client.iter().enumerate() {
        let sent = ping(i + 3);
        let m: serde_json::Value = serde_json::from_str(json).unwrap();
        let known = m["known_bytes"].as_u64().expect("refers to the lost pings");
        assert!(known > 0, "the new id is known");
        assert!(payload
            .iter()
            .zip(sent.as_bytes())
            .all(|(&p, s)| p == *s || p == 0xff));
    }
}

/// A closed connection can wait in the TCP table for `flow_idle_timeout`
/// before it is finished: each direction frees its inflater when its FIN
/// comes, and the messages and the summary are the same.
#[test]
fn a_direction_that_ended_frees_its_inflater() {
    let mut z = Compress::new_with_window_bits(Compression::default(), false, 15);
    let mut conn = Connection::new(1, deflate_both(), &Limits::default());
    let mut r = Recorder::default();
    for i in 0..3 {
        let payload = compress_message(&mut z, update(i).as_bytes());
        conn.on_data(
            S2C,
            at(1 + i as u64),
            &frame(true, 4, 1, None, &payload),
            &mut r,
        );
    }
    assert_eq!(conn.inflaters_kept(), 1);
    conn.on_tcp_end(S2C, at(5), false, &mut r);
    assert_eq!(conn.inflaters_kept(), 0);
    conn.on_tcp_end(C2S, at(6), false, &mut r);
    conn.finish(&mut r);
    assert_eq!(r.texts_of(S2C), (0..3).map(update).collect::<Vec<_>>());
    // Bytes after the end are counted, not inflated with a lost window.
    let payload = compress_message(&mut z, update(3).as_bytes());
    conn.on_data(S2C, at(7), &frame(true, 4, 1, None, &payload), &mut r);
    assert_eq!(conn.inflaters_kept(), 0);
    assert_eq!(r.texts_of(S2C).len(), 3);
}
