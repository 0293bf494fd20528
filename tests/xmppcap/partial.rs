//! Partial and damaged evidence (issue 10 §3): a partial key log says "not
//! decrypted", never "lost"; a capture with no usable key gets one piece of
//! advice on how to get keys next time.

use std::path::Path;

use xmppcap::pipeline::{self, EventSink, Options};
use xmppcap::report::event::Event;

struct Ignore;

impl EventSink for Ignore {
    fn emit(&mut self, _: Event) {}
}

fn analyze(fixture: &str, keys: Option<&str>) -> pipeline::Analyzed {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let opts = Options {
        keylogs: keys.map(|k| root.join("keys").join(k)).into_iter().collect(),
        use_env_keylog: false,
        ..Options::default()
    };
    pipeline::analyze(&root.join("fixtures").join(fixture), &opts, &mut Ignore)
        .expect("fixture readable")
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
    assert_eq!(count(&a, "tls.no_keys"), 0, "the client's bytes were decrypted");
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
