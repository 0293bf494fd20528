//! The key log files' index against the same text held in memory: the same
//! secrets, sources, counts and findings, on every prefix of a valid key
//! log, on malformed lines, on repeats, on randoms whose folds collide, and
//! when the file changes after it was read.

use std::path::PathBuf;

use super::{KeyCaps, KeyLog, KeySource, Label, Missing};
use crate::finding::Finding;

const LABELS: [Label; 6] = [
    Label::MasterSecret,
    Label::ClientEarlyTraffic,
    Label::ClientHandshakeTraffic,
    Label::ServerHandshakeTraffic,
    Label::ClientTraffic0,
    Label::ServerTraffic0,
];

/// A file under the system's temporary folder, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("xmppcap-keylog-{}-{name}.keys", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn random(i: u8) -> [u8; 32] {
    let mut r = [0u8; 32];
    r[0] = i;
    r[31] = 0x5a;
    r
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A TLS 1.2 connection, a TLS 1.3 one (four secrets), a comment, a blank
/// line with CRLF, an unused label, a repeat and a 48-byte TLS 1.3 secret.
fn valid_key_log() -> String {
    let r = |i| hex(&random(i));
    format!(
        "# made by a test\r\n\
         CLIENT_RANDOM {} {}\n\
         \r\n\
         CLIENT_HANDSHAKE_TRAFFIC_SECRET {} {}\n\
         SERVER_HANDSHAKE_TRAFFIC_SECRET {} {}\r\n\
         CLIENT_TRAFFIC_SECRET_0 {} {}\n\
         SERVER_TRAFFIC_SECRET_0 {} {}\n\
         EXPORTER_SECRET {} {}\n\
         CLIENT_RANDOM {} {}\n\
         CLIENT_TRAFFIC_SECRET_0   {}   {}\n",
        r(1),
        hex(&[0x11; 48]),
        r(2),
        hex(&[0x21; 32]),
        r(2),
        hex(&[0x22; 32]),
        r(2),
        hex(&[0x23; 32]),
        r(2),
        hex(&[0x24; 32]),
        r(2),
        hex(&[0x25; 32]),
        r(1),
        hex(&[0x99; 48]),
        r(3),
        hex(&[0x31; 48]),
    )
}

fn from_text(text: &[u8]) -> (KeyLog, Vec<Finding>) {
    let mut keys = KeyLog::new();
    let mut findings = Vec::new();
    keys.add_text(text, KeySource::Named("KEYTEXT".into()), &mut findings);
    (keys, findings)
}

fn from_file(file: &TempFile) -> (KeyLog, Vec<Finding>) {
    let mut keys = KeyLog::new();
    let mut findings = Vec::new();
    keys.load_file(&file.0, &mut findings).unwrap();
    (keys, findings)
}

/// Findings with the source's name taken out, to compare a file's with a text's.
fn said(findings: &[Finding], name: &str) -> Vec<(String, String)> {
    findings
        .iter()
        .map(|f| (f.code.code().to_string(), f.message.replace(name, "SOURCE")))
        .collect()
}

/// Both key logs give the same secret (or none) for randoms 0..8 and every label.
fn assert_same_lookups(file: &KeyLog, text: &KeyLog, context: &str) {
    assert_eq!(file.len(), text.len(), "{context}");
    assert_eq!(file.is_empty(), text.is_empty(), "{context}");
    for i in 0..8 {
        for label in LABELS {
            let a = file.get(&random(i), label).map(|(s, _)| s);
            let b = text.get(&random(i), label).map(|(s, _)| s);
            assert_eq!(a, b, "{context}: random {i} {label:?}");
            let has = |k: &KeyLog| k.has_label(label);
            assert_eq!(has(file), has(text), "{context}: {label:?}");
            let all = |k: &KeyLog| {
                let mut v: Vec<_> = k.all(label).map(|(r, s, _)| (r, s)).collect();
                v.sort_by_key(|(r, _)| *r);
                v
            };
            assert_eq!(all(file), all(text), "{context}: all {label:?}");
        }
    }
}

#[test]
fn a_key_log_file_gives_what_its_text_gives() {
    let text = valid_key_log();
    let file = TempFile::new("valid", text.as_bytes());
    let (indexed, findings) = from_file(&file);
    let (held, text_findings) = from_text(text.as_bytes());
    assert!(findings.is_empty(), "{findings:?}");
    assert!(text_findings.is_empty(), "{text_findings:?}");
    assert_eq!(indexed.len(), 6, "the repeated CLIENT_RANDOM counts once");
    assert_same_lookups(&indexed, &held, "whole file");
    let (secret, source) = indexed.get(&random(1), Label::MasterSecret).unwrap();
    assert_eq!(secret.bytes(), &[0x11; 48], "the first line wins");
    assert_eq!(*source, KeySource::File(file.0.clone()));
    assert!(
        indexed.held_bytes() < held.held_bytes() / 3,
        "{} against {}",
        indexed.held_bytes(),
        held.held_bytes()
    );
}

#[test]
fn every_prefix_of_a_key_log_file_gives_what_the_same_text_gives() {
    let text = valid_key_log();
    for end in 0..=text.len() {
        let prefix = &text.as_bytes()[..end];
        let file = TempFile::new(&format!("prefix-{end}"), prefix);
        let (indexed, findings) = from_file(&file);
        let (held, text_findings) = from_text(prefix);
        let name = file.0.display().to_string();
        assert_eq!(
            said(&findings, &name),
            said(&text_findings, "KEYTEXT"),
            "prefix {end}"
        );
        assert_same_lookups(&indexed, &held, &format!("prefix {end}"));
    }
}

#[test]
fn malformed_lines_of_a_file_are_the_same_findings_as_in_text() {
    let r = hex(&random(4));
    let lines = [
        format!("CLIENT_RANDOM {r}\n"),
        format!("CLIENT_RANDOM {r} {} extra\n", hex(&[1; 48])),
        format!("CLIENT_RANDOM {} {}\n", &r[..62], hex(&[1; 48])),
        format!("CLIENT_RANDOM {r}zz {}\n", hex(&[1; 48])),
        format!("CLIENT_RANDOM {r} {}\n", hex(&[1; 32])),
        format!("CLIENT_TRAFFIC_SECRET_0 {r} {}\n", hex(&[1; 40])),
        format!("CLIENT_TRAFFIC_SECRET_0 {r} {}0\n", hex(&[1; 32])),
        "CLIENT_RANDOM \u{ff}\n".replace('\u{ff}', "\u{0}"),
    ];
    for (i, line) in lines.iter().enumerate() {
        let mut bytes = line.clone().into_bytes();
        if i == lines.len() - 1 {
            bytes = b"CLIENT_RANDOM \xff\xfe\n".to_vec();
        }
        let file = TempFile::new(&format!("bad-{i}"), &bytes);
        let (indexed, findings) = from_file(&file);
        let (held, text_findings) = from_text(&bytes);
        let name = file.0.display().to_string();
        assert_eq!(findings.len(), 1, "line {i}: {findings:?}");
        assert_eq!(findings[0].code.code(), "tls.keylog_malformed");
        assert_eq!(
            said(&findings, &name),
            said(&text_findings, "KEYTEXT"),
            "line {i}"
        );
        assert!(indexed.is_empty() && held.is_empty(), "line {i}");
    }
}

#[test]
fn randoms_whose_folds_collide_are_told_apart() {
    // The fold XORs the four words rotated by 0, 16, 32 and 48 bits:
    // flipping x in the first word and x rotated right by 16 in the second
    // leaves it unchanged.
    let a = random(6);
    let mut b = a;
    let x: u64 = 0x0123_4567_89ab_cdef;
    let w0 = u64::from_le_bytes(a[0..8].try_into().unwrap()) ^ x;
    let w1 = u64::from_le_bytes(a[8..16].try_into().unwrap()) ^ x.rotate_right(16);
    b[0..8].copy_from_slice(&w0.to_le_bytes());
    b[8..16].copy_from_slice(&w1.to_le_bytes());
    let text = format!(
        "CLIENT_RANDOM {} {}\nCLIENT_RANDOM {} {}\nCLIENT_RANDOM {} {}\n",
        hex(&b),
        hex(&[0xbb; 48]),
        hex(&a),
        hex(&[0xaa; 48]),
        hex(&b),
        hex(&[0xcc; 48]),
    );
    let file = TempFile::new("collide", text.as_bytes());
    let (keys, findings) = from_file(&file);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(keys.len(), 2, "b's repeat counts once");
    let secret = |r: &[u8; 32]| keys.get(r, Label::MasterSecret).unwrap().0;
    assert_eq!(secret(&a).bytes(), &[0xaa; 48]);
    assert_eq!(secret(&b).bytes(), &[0xbb; 48]);
}

#[test]
fn a_file_changed_after_it_was_read_gives_no_wrong_secret() {
    let r = hex(&random(7));
    let text = format!("CLIENT_RANDOM {r} {}\n", hex(&[0x77; 48]));
    let file = TempFile::new("changed", text.as_bytes());
    let (keys, _) = from_file(&file);
    assert!(keys.get(&random(7), Label::MasterSecret).is_some());
    let other = format!("CLIENT_RANDOM {} {}\n", hex(&random(8)), hex(&[0x88; 48]));
    std::fs::write(&file.0, other).unwrap();
    assert!(keys.get(&random(7), Label::MasterSecret).is_none());
    assert!(keys.get(&random(8), Label::MasterSecret).is_none());
    let source = KeySource::File(file.0.clone());
    let changed = Err(Missing::Changed(&source));
    assert_eq!(
        keys.lookup(&random(7), Label::MasterSecret).map(drop),
        changed
    );
    let never_logged = keys.lookup(&random(8), Label::MasterSecret).map(drop);
    assert_eq!(never_logged, Err(Missing::Absent));
    std::fs::write(&file.0, b"").unwrap();
    assert!(keys.get(&random(7), Label::MasterSecret).is_none());
    assert_eq!(
        keys.lookup(&random(7), Label::MasterSecret).map(drop),
        changed
    );
}

#[test]
fn sources_merge_first_wins_across_files_and_text() {
    let r = hex(&random(1));
    let first = TempFile::new(
        "first",
        format!("CLIENT_RANDOM {r} {}\n", hex(&[1; 48])).as_bytes(),
    );
    let second = TempFile::new(
        "second",
        format!(
            "CLIENT_RANDOM {r} {}\nCLIENT_RANDOM {} {}\n",
            hex(&[2; 48]),
            hex(&random(2)),
            hex(&[3; 48])
        )
        .as_bytes(),
    );
    let mut keys = KeyLog::new();
    let mut findings = Vec::new();
    assert_eq!(keys.load_file(&first.0, &mut findings).unwrap(), 1);
    assert_eq!(keys.load_file(&second.0, &mut findings).unwrap(), 1);
    let text = format!("CLIENT_RANDOM {} {}\n", hex(&random(2)), hex(&[4; 48]));
    let dsb = KeySource::Dsb { offset: 9 };
    assert_eq!(keys.add_text(text.as_bytes(), dsb, &mut findings), 0);
    let got = |i| keys.get(&random(i), Label::MasterSecret).unwrap();
    assert_eq!(got(1).0.bytes(), &[1; 48]);
    assert_eq!(*got(1).1, KeySource::File(first.0.clone()));
    assert_eq!(got(2).0.bytes(), &[3; 48]);
    assert_eq!(*got(2).1, KeySource::File(second.0.clone()));
    assert_eq!(keys.len(), 2);
}

#[test]
fn file_secrets_past_their_cap_are_counted_and_said() {
    let text: String = (0..5u8)
        .map(|i| format!("CLIENT_RANDOM {} {}\n", hex(&random(i)), hex(&[i; 48])))
        .collect();
    let file = TempFile::new("cap", text.as_bytes());
    let mut keys = KeyLog::with_caps(KeyCaps {
        max_secrets: 1,
        max_file_secrets: 3,
        max_sources: 10,
    });
    let mut findings = Vec::new();
    assert_eq!(keys.load_file(&file.0, &mut findings).unwrap(), 3);
    assert_eq!((keys.len(), keys.secrets_over_cap()), (3, 2));
    let codes: Vec<&str> = findings.iter().map(|f| f.code.code()).collect();
    assert_eq!(codes, ["tls.key_secret_limit"]);
    assert!(
        findings[0]
            .message
            .contains("2 new secrets not kept, 3 are already held (max_key_file_secrets)"),
        "{}",
        findings[0].message
    );
    assert!(keys.get(&random(2), Label::MasterSecret).is_some());
    assert!(keys.get(&random(3), Label::MasterSecret).is_none());
}

#[test]
fn a_line_too_long_to_index_is_held_in_memory() {
    let padding = " ".repeat(2000);
    let text = format!(
        "CLIENT_RANDOM{padding}{}{padding}{}\n",
        hex(&random(5)),
        hex(&[5; 48])
    );
    let file = TempFile::new("long", text.as_bytes());
    let (keys, findings) = from_file(&file);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(
        keys.get(&random(5), Label::MasterSecret).unwrap().0.bytes(),
        &[5; 48]
    );
}

#[cfg(unix)]
#[test]
fn a_pipe_is_read_into_memory() {
    let path = std::env::temp_dir().join(format!("xmppcap-keylog-{}-fifo", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let made = std::process::Command::new("mkfifo").arg(&path).status();
    if !made.is_ok_and(|s| s.success()) {
        return; // no mkfifo here: nothing to test
    }
    let writer_path = path.clone();
    let text = valid_key_log();
    let expected = text.clone();
    let writer = std::thread::spawn(move || std::fs::write(writer_path, expected).unwrap());
    let mut keys = KeyLog::new();
    let mut findings = Vec::new();
    let added = keys.load_file(&path, &mut findings).unwrap();
    writer.join().unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(added, 6);
    let (held, _) = from_text(text.as_bytes());
    assert_same_lookups(&keys, &held, "fifo");
}
