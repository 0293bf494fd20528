//! The key log's parsing, merging, caps and findings, on text held in memory.

use super::*;
use std::path::Path;

fn hex(n: usize, byte: &str) -> String {
    byte.repeat(n)
}

fn log(text: &str) -> (KeyLog, Vec<Finding>) {
    let mut k = KeyLog::new();
    let mut f = Vec::new();
    k.add_text(text.as_bytes(), KeySource::Named("test".into()), &mut f);
    (k, f)
}

#[test]
fn all_labels_comments_blank_lines_and_uppercase() {
    let r = hex(32, "AB");
    let text = format!(
        "# comment\n\n  \r\nCLIENT_RANDOM {r} {}\r\nCLIENT_EARLY_TRAFFIC_SECRET {r} {}\n\
         CLIENT_HANDSHAKE_TRAFFIC_SECRET {r} {}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {r} {}\n\
         CLIENT_TRAFFIC_SECRET_0 {r} {}\nSERVER_TRAFFIC_SECRET_0 {r} {}\n\
         EXPORTER_SECRET {r} {}\nRSA abc def\n",
        hex(48, "01"),
        hex(32, "02"),
        hex(48, "03"),
        hex(32, "0A"),
        hex(32, "0b"),
        hex(32, "0C"),
        hex(32, "ff"),
    );
    let (k, f) = log(&text);
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(k.len(), 6);
    let random = [0xab; 32];
    let (s, src) = k.get(&random, Label::ServerHandshakeTraffic).unwrap();
    assert_eq!(s.bytes(), &[0x0a; 32]);
    assert_eq!(src.to_string(), "test");
    assert_eq!(
        k.get(&random, Label::MasterSecret).unwrap().0.bytes().len(),
        48
    );
}

#[test]
fn held_bytes_grow_with_new_secrets_and_sources_only() {
    let mut k = KeyLog::new();
    let mut f = Vec::new();
    assert_eq!(k.held_bytes(), 0);
    let line = |byte: &str| format!("CLIENT_RANDOM {} {}\n", hex(32, byte), hex(48, "01"));
    k.add_text(
        line("AA").as_bytes(),
        KeySource::Named("one".into()),
        &mut f,
    );
    let one = k.held_bytes();
    assert!(one > 48 + 3, "{one}");
    k.add_text(line("AA").as_bytes(), KeySource::Dsb { offset: 8 }, &mut f);
    let repeated = k.held_bytes();
    assert_eq!(
        repeated - one,
        std::mem::size_of::<KeySource>(),
        "a repeated secret costs nothing, its source its entry"
    );
    k.add_text(line("BB").as_bytes(), KeySource::Dsb { offset: 9 }, &mut f);
    assert!(k.held_bytes() - repeated > 48 + std::mem::size_of::<KeySource>());
}

#[test]
fn a_source_without_any_secret_says_so_once() {
    let (k, findings) = log("[package]\nname = \"xmppcap\"\n");
    assert!(k.is_empty());
    let codes: Vec<&str> = findings.iter().map(|f| f.code.code()).collect();
    assert_eq!(codes, ["tls.keylog_empty"]);
    assert!(findings[0].message.contains("test holds no TLS secret"));
    let r = hex(32, "AB");
    let (_, findings) = log(&format!("CLIENT_RANDOM {r} {}\n", hex(48, "01")));
    assert!(findings.is_empty(), "{findings:?}");
}

#[test]
fn a_flood_of_malformed_lines_gives_a_bounded_number_of_findings() {
    let (k, f) = log(&"CLIENT_RANDOM\n".repeat(100_000));
    assert!(k.is_empty());
    assert_eq!(f.len() as u64, MALFORMED_LINES_SHOWN + 1);
    assert_eq!(
        f.last().map(|f| f.message.as_str()),
        Some("test: 99980 more malformed lines ignored")
    );
}

#[test]
fn malformed_lines_are_findings_with_line_numbers() {
    let r = hex(32, "ab");
    let text = format!(
        "CLIENT_RANDOM {r}\nCLIENT_RANDOM {} {}\nCLIENT_RANDOM {r} {}\n\
         CLIENT_TRAFFIC_SECRET_0 {r} {}\nCLIENT_RANDOM {r} {}\n",
        hex(31, "ab"),
        hex(48, "00"),
        hex(47, "00"),
        hex(32, "zz"),
        hex(48, "00"),
    );
    let (k, f) = log(&text);
    let messages: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "test line 1: CLIENT_RANDOM line has 2 fields, expected 3; line ignored",
            "test line 2: client random is not 64 hex digits; line ignored",
            "test line 3: CLIENT_RANDOM secret is not hex of 48 bytes; line ignored",
            "test line 4: CLIENT_TRAFFIC_SECRET_0 secret is not hex of 32 or 48 bytes; line ignored",
        ]
    );
    assert!(f.iter().all(|f| f.code == "tls.keylog_malformed"));
    assert_eq!(k.len(), 1, "line 5 still counts");
    let mut k = KeyLog::new();
    let mut f = Vec::new();
    k.add_text(
        b"CLIENT_RANDOM \xff\xfe\n",
        KeySource::Named("bin".into()),
        &mut f,
    );
    assert_eq!(
        f[0].message,
        "bin line 1: line is not UTF-8 text; line ignored"
    );
}

#[test]
fn sources_merge_and_are_remembered() {
    let mut k = KeyLog::new();
    let mut f = Vec::new();
    let a = format!("CLIENT_RANDOM {} {}\n", hex(32, "01"), hex(48, "aa"));
    let b = format!(
        "CLIENT_RANDOM {} {}\nCLIENT_RANDOM {} {}\n",
        hex(32, "01"),
        hex(48, "bb"),
        hex(32, "02"),
        hex(48, "cc")
    );
    assert_eq!(
        k.add_text(a.as_bytes(), KeySource::File("a.keys".into()), &mut f),
        1
    );
    let g = k.generation();
    assert_eq!(
        k.add_text(b.as_bytes(), KeySource::Dsb { offset: 1234 }, &mut f),
        1
    );
    assert!(k.generation() > g);
    let (s, src) = k.get(&[1; 32], Label::MasterSecret).unwrap();
    assert_eq!(
        (s.bytes()[0], src.to_string()),
        (0xaa, "a.keys".to_string())
    );
    let (_, src) = k.get(&[2; 32], Label::MasterSecret).unwrap();
    assert_eq!(src.to_string(), "pcapng DSB at byte 1234");
    assert_eq!(k.all(Label::MasterSecret).count(), 2);
    assert!(k.get(&[3; 32], Label::MasterSecret).is_none());
}

#[test]
fn debug_never_shows_key_material() {
    let (k, _) = log(&format!(
        "CLIENT_RANDOM {} {}\n",
        hex(32, "01"),
        hex(48, "5e")
    ));
    let dump = format!("{k:?}");
    assert!(!dump.contains("5e5e") && !dump.contains("94, 94"), "{dump}");
    assert!(dump.contains("48 bytes, redacted"));
}

#[test]
fn unreadable_file_is_an_error() {
    let mut k = KeyLog::new();
    let err = k
        .load_file(Path::new("/nonexistent/x.keys"), &mut Vec::new())
        .unwrap_err();
    assert!(err
        .to_string()
        .starts_with("cannot read key log file /nonexistent/x.keys"));
}

#[test]
fn short_hex_abbreviates() {
    assert_eq!(short_hex(&[0x1a, 0x2b]), "1a2b");
    assert_eq!(short_hex(&[0x1a; 32]), "1a1a1a1a1a1a1a1a…");
}

fn line(i: usize) -> String {
    format!("CLIENT_RANDOM {:064x} {}\n", i, hex(48, "ab"))
}

#[test]
fn secrets_past_the_cap_are_counted_and_said_once() {
    let mut k = KeyLog::with_caps(KeyCaps {
        max_secrets: 3,
        max_file_secrets: 1_000_000,
        max_sources: 10,
    });
    let mut findings = Vec::new();
    let text: String = (0..5).map(line).collect();
    assert_eq!(
        k.add_text(text.as_bytes(), KeySource::Named("a".into()), &mut findings),
        3
    );
    let more: String = (5..9).map(line).collect();
    assert_eq!(
        k.add_text(more.as_bytes(), KeySource::Named("b".into()), &mut findings),
        0
    );
    assert_eq!((k.len(), k.secrets_over_cap()), (3, 6));
    let codes: Vec<&str> = findings.iter().map(|f| f.code.code()).collect();
    assert_eq!(codes, ["tls.key_secret_limit"]);
    assert!(
        findings[0].message.starts_with("a: 2 new secrets not kept"),
        "{}",
        findings[0].message
    );
    // Secrets already held are still found; repeats cost nothing.
    assert!(k.get(&[0; 32], Label::MasterSecret).is_some());
    assert_eq!(
        k.add_text(
            line(0).as_bytes(),
            KeySource::Named("c".into()),
            &mut findings
        ),
        0
    );
    assert_eq!(k.secrets_over_cap(), 6);
}

#[test]
fn a_repeated_secret_counts_once_whatever_its_source() {
    let mut k = KeyLog::new();
    let mut findings = Vec::new();
    for i in 0..100 {
        k.add_text(
            line(7).as_bytes(),
            KeySource::Dsb { offset: i },
            &mut findings,
        );
    }
    assert_eq!(k.len(), 1);
    let (_, source) = k
        .get(
            &{
                let mut r = [0u8; 32];
                r[31] = 7;
                r
            },
            Label::MasterSecret,
        )
        .unwrap();
    assert_eq!(
        *source,
        KeySource::Dsb { offset: 0 },
        "the first source wins"
    );
}

#[test]
fn sources_past_the_cap_are_used_but_named_together() {
    let mut k = KeyLog::with_caps(KeyCaps {
        max_secrets: 100,
        max_file_secrets: 1_000_000,
        max_sources: 2,
    });
    let mut findings = Vec::new();
    for i in 0..1000 {
        k.add_text(b"", KeySource::Dsb { offset: i }, &mut findings);
    }
    k.add_text(
        line(1).as_bytes(),
        KeySource::Dsb { offset: 5000 },
        &mut findings,
    );
    assert_eq!(k.sources.len(), 3, "two named and one for the rest");
    let (_, source) = k
        .get(
            &{
                let mut r = [0u8; 32];
                r[31] = 1;
                r
            },
            Label::MasterSecret,
        )
        .unwrap();
    assert_eq!(source.to_string(), "key sources after the first 2");
    let codes: Vec<&str> = findings.iter().map(|f| f.code.code()).collect();
    assert_eq!(codes, ["tls.key_source_limit"]);
    assert!(
        findings[0]
            .message
            .contains("pcapng DSB at byte 2 and later ones"),
        "{}",
        findings[0].message
    );
}
