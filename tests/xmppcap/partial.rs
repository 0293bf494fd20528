//! Partial and damaged evidence (issue 10 §3): a partial key log says "not
//! decrypted", never "lost"; a capture with no usable key gets one piece of
//! advice on how to get keys next time.

use std::path::{Path, PathBuf};

use xmppcap::pipeline::{self, EventSink, Options};
use xmppcap::report::event::Event;
use xmppcap_fixturegen::capture::Capture as Frames;
use xmppcap_fixturegen::frame::{FrameSink, START_NS};
use xmppcap_fixturegen::pcap::{PcapFormat, PcapWriter};
use xmppcap_fixturegen::tcp::{ConvConfig, Conversation};
use xmppcap_fixturegen::wire::Wire;
use xmppcap_fixturegen::Dir::ClientToServer as C;

struct Ignore;

impl EventSink for Ignore {
    fn emit(&mut self, _: Event) {}
}

fn analyze(fixture: &str, keys: Option<&str>) -> pipeline::Analyzed {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    analyze_path(
        &root.join("fixtures").join(fixture),
        keys.map(|k| root.join("keys").join(k)),
    )
}

fn analyze_path(capture: &Path, keys: Option<PathBuf>) -> pipeline::Analyzed {
    let opts = Options {
        keylogs: keys.into_iter().collect(),
        use_env_keylog: false,
        ..Options::default()
    };
    pipeline::analyze(capture, &opts, &mut Ignore).expect("capture readable")
}

fn count(a: &pipeline::Analyzed, code: &str) -> usize {
    a.findings.iter().filter(|f| f.code == code).count()
}

#[test]
fn a_partial_key_log_leaves_bytes_not_decrypted_never_lost() {
    let a = analyze("finesse-wss.pcapng", Some("finesse-wss.client-only.keys"));
    assert_eq!(count(&a, "http.gap"), 0);
    assert_eq!(count(&a, "ws.gap"), 0);
    assert_eq!(count(&a, "http.unanswered"), 0);
    assert!(count(&a, "http.not_decrypted") >= 2);
    assert_eq!(
        count(&a, "tls.no_keys"),
        0,
        "the client's bytes were decrypted"
    );
    for c in &a.connections {
        assert!(c.bytes.s2c.undecryptable > 0, "stream {}", c.stream);
        assert_eq!(c.bytes.s2c.gaps, 0, "stream {}", c.stream);
        assert!(c.bytes.c2s.decrypted > 0, "stream {}", c.stream);
    }
}

#[test]
fn no_usable_key_gives_one_piece_of_advice() {
    let none = analyze("finesse-failover.pcapng", None);
    assert_eq!(count(&none, "tls.no_keys"), 1);
    let advice = none.findings.iter().find(|f| f.code == "tls.no_keys");
    let msg = &advice.expect("advice").message;
    assert!(msg.contains("none of the 4 TLS connections"), "{msg}");
    assert!(msg.contains("SSLKEYLOGFILE") && msg.contains("Chrome or Edge"));
    let wrong = analyze("finesse-failover.pcapng", Some("finesse-wss.keys"));
    assert_eq!(count(&wrong, "tls.no_keys"), 1);
    let keys = analyze("finesse-failover.pcapng", Some("finesse-failover.keys"));
    assert_eq!(count(&keys, "tls.no_keys"), 0);
    let plain = analyze("finesse-ws.pcap", None);
    assert_eq!(count(&plain, "tls.no_keys"), 0, "no TLS at all");
}

/// A TLS 1.2 ClientHello offering one suite, no extensions (RFC 5246 §7.4.1.2).
fn client_hello() -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend([0x11; 32]);
    body.extend([0, 0, 2, 0xc0, 0x2f, 1, 0]);
    let mut message = vec![1, 0, 0, body.len() as u8];
    message.extend(body);
    let mut record = vec![22, 3, 1, 0, message.len() as u8];
    record.extend(message);
    record
}

/// A connection to 8445 whose ClientHello the server never answers (it
/// only ACKs), closed by the client's FIN.
fn client_hello_only(path: &Path) {
    let client = "192.168.10.21:51000".parse().expect("address");
    let server = std::net::SocketAddr::from(([10, 20, 30, 41], 8445));
    let mut conv = Conversation::new(0, ConvConfig::new(client, server), START_NS);
    conv.handshake();
    conv.send(C, &client_hello());
    conv.advance(10_000_000_000);
    conv.close_fin(C);
    let mut cap = Frames::new();
    let segments = conv.drain();
    cap.add(&conv, segments, Wire::ethernet());
    let (frames, _) = cap.finish().expect("frames");
    let format = PcapFormat::usec(Wire::ethernet().link.linktype());
    let mut w = PcapWriter::new(Vec::new(), format).expect("pcap");
    for f in &frames {
        w.write_frame(f).expect("frame");
    }
    std::fs::write(path, w.into_inner().expect("pcap")).expect("temp file writable");
}

#[test]
fn a_client_hello_never_answered_shows_its_tls_layer_and_says_so() {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tls-client-hello-only.pcap");
    client_hello_only(&path);
    let a = analyze_path(&path, None);
    let conn = a.connections.first().expect("one connection");
    assert!(conn.layers.contains(&"tls"), "{:?}", conn.layers);
    let tls = conn.tls.as_ref().expect("a TLS summary");
    assert_eq!(tls.client_random.as_deref(), Some("11".repeat(32).as_str()));
    assert!(tls.suite.is_none());
    assert_eq!(count(&a, "tls.handshake_incomplete"), 1);
    assert_eq!(count(&a, "tls.no_keys"), 0, "nothing encrypted to decrypt");
}

/// The WebSocket messages of the event stream: summary, XMPP session, detail.
#[derive(Default)]
struct WsMessages(Vec<(String, Option<u32>, xmppcap::report::event::WsMessage)>);

impl EventSink for WsMessages {
    fn emit(&mut self, e: Event) {
        if let xmppcap::report::event::Detail::WsMessage(m) = e.detail {
            self.0.push((e.summary, e.session, m));
        }
    }
}

/// `ws-deflate-midstream.pcap` starts after three compressed server
/// messages (context takeover). The three classes: a message that refers
/// to the lost window is partly known and never given as text or to XMPP;
/// new text is exact while the window is still partly unknown; once 32 KiB
/// of known output lie behind, every message is exact again (Finesse
/// updates whose templates were in the lost window decode as usual).
#[test]
fn a_capture_started_mid_deflate_gives_partly_known_then_exact() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let opts = Options {
        use_env_keylog: false,
        ..Options::default()
    };
    let mut sink = WsMessages::default();
    let a = pipeline::analyze(
        &root.join("fixtures/ws-deflate-midstream.pcap"),
        &opts,
        &mut sink,
    )
    .expect("fixture readable");
    let server: Vec<_> = sink.0.iter().filter(|m| m.2.compressed).collect();
    assert_eq!(server.len(), 1 + 9 + 3, "one message per message sent");
    // Partly known: said so, with its length, never given to XMPP.
    let (summary, session, m) = server[0];
    assert!(
        summary.starts_with("text message, 21 of 92 bytes known"),
        "{summary}"
    );
    assert_eq!((session, m.len, &m.not_inflated), (&None, Some(92), &None));
    assert!(a.findings.iter().any(|f| f.code == "ws.partly_inflated"));
    // Exact while the lost window is still within reach (new text), and
    // for good after 32 KiB: whole, and read by XMPP.
    let plain_len = |n: usize| (15 + 2 * n + 17) as u64;
    for (i, (summary, session, m)) in server.iter().enumerate().skip(1) {
        assert!(!summary.contains("known"), "message {i}: {summary}");
        assert!(session.is_some(), "message {i} reached XMPP");
        if i < 10 {
            assert_eq!(m.len, Some(plain_len(2048)), "message {i}");
        }
    }
    let session = a.sessions.first().expect("the XMPP session");
    assert_eq!(session.finesse.updates, 3);
}

/// A snaplen cuts the record carrying a stanza (TLS 1.3 and TLS 1.2,
/// AES-GCM): its captured start is decrypted unauthenticated, so XMPP sees
/// the `<message>` begin, and the report says how far to trust it.
#[test]
fn a_snaplen_cut_record_still_shows_which_stanza_began() {
    for (fixture, tls13) in [
        ("tls13-snaplen-cut", true),
        ("tls12-gcm-snaplen-cut", false),
    ] {
        let a = analyze(
            &format!("{fixture}.pcapng"),
            Some(&format!("{fixture}.keys")),
        );
        let said: Vec<&str> = a
            .findings
            .iter()
            .filter(|f| f.code == "tls.unauthenticated")
            .map(|f| f.message.as_str())
            .collect();
        assert_eq!(said.len(), 1, "{fixture}: {said:?}");
        assert!(
            said[0].contains("decrypted but unauthenticated"),
            "{fixture}"
        );
        assert_eq!(said[0].contains("by assumption"), tls13, "{fixture}");
        let began = a.findings.iter().any(|f| {
            f.code == "xmpp.gap" && f.message.contains("with the partial <message> element")
        });
        assert!(began, "{fixture}: the stanza's start reached XMPP");
    }
}

/// XMPP over TLS with the client's secrets only: the server's stanzas are
/// "not decrypted" (info) in XMPP's words too, never lost.
#[test]
fn xmpp_over_tls_with_a_partial_key_log_says_not_decrypted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let all = std::fs::read_to_string(root.join("keys/tls13-snaplen-cut.keys")).expect("keys");
    let client_only: String = all
        .lines()
        .filter(|l| !l.starts_with("SERVER_"))
        .map(|l| format!("{l}\n"))
        .collect();
    let keys = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tls13-snaplen-cut.client-only.keys");
    std::fs::write(&keys, client_only).expect("temp file writable");
    let a = analyze_path(&root.join("fixtures/tls13-snaplen-cut.pcapng"), Some(keys));
    let not_decrypted: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.code == "xmpp.not_decrypted")
        .collect();
    assert_eq!(not_decrypted.len(), 2, "{:?}", a.findings);
    assert!(not_decrypted[0]
        .message
        .contains("bytes from the server not decrypted (no key for the server's direction)"));
    // The only XMPP gaps left are the snaplen's.
    let gaps = a.findings.iter().filter(|f| f.code == "xmpp.gap").count();
    assert_eq!(gaps, 2);
}
