//! Golden reports: the table, JSON and NDJSON reports of every Finesse
//! fixture and of issue 15's real-capture cases must equal the files in
//! `fixtures/expected/` byte for byte.
//! `XMPPCAP_BLESS=1 cargo test -p xmppcap-cli golden` rewrites them.

use std::path::Path;

use crate::cli::xmppcap;
use crate::workspace_root;

/// (fixture, key log or "").
const FIXTURES: &[(&str, &str)] = &[
    ("finesse-wss.pcapng", "keys/finesse-wss.keys"),
    ("finesse-ws.pcap", ""),
    ("finesse-bosh.pcapng", "keys/finesse-bosh.keys"),
    ("finesse-xmpp5222.pcapng", "keys/finesse-xmpp5222.keys"),
    (
        "finesse-sasl-failure.pcapng",
        "keys/finesse-sasl-failure.keys",
    ),
    ("finesse-conflict.pcapng", "keys/finesse-conflict.keys"),
    ("finesse-failover.pcapng", "keys/finesse-failover.keys"),
    ("binary-not-websocket.pcap", ""),
    ("tunnels.pcap", ""),
    ("tcp-time-glitch.pcap", ""),
    ("tls12-deflate.pcapng", "keys/tls12-deflate.keys"),
    ("tls12-suites.pcapng", "keys/tls12-suites.keys"),
    ("tls12-bad-certs.pcapng", "keys/tls12-bad-certs.keys"),
    ("conn-nat-timeout.pcapng", "keys/conn-nat-timeout.keys"),
    ("xmpp-tls-on-plain-port.pcap", ""),
    ("desktop-refused.pcapng", "keys/desktop-refused.keys"),
    ("desktop-no-answer.pcapng", "keys/desktop-no-answer.keys"),
    ("desktop-loop.pcapng", "keys/desktop-loop.keys"),
];

const FORMATS: &[(&str, &str)] = &[("table", "txt"), ("json", "json"), ("ndjson", "ndjson")];

/// (fixture, key log or "", golden stem): table reports of partial and
/// damaged evidence (issue 10 §3): a partial key log (bytes "not
/// decrypted", never "lost"), a capture started mid-deflate.
const PARTIAL_EVIDENCE: &[(&str, &str, &str)] = &[
    (
        "finesse-wss.pcapng",
        "keys/finesse-wss.client-only.keys",
        "finesse-wss.client-only",
    ),
    ("ws-deflate-midstream.pcap", "", "ws-deflate-midstream"),
];

#[test]
fn partial_evidence_reports_match_golden_files() {
    let root = workspace_root();
    let bless = std::env::var_os("XMPPCAP_BLESS").is_some();
    let mut failures = Vec::new();
    for (fixture, keys, stem) in PARTIAL_EVIDENCE {
        let capture = format!("fixtures/{fixture}");
        let mut args = vec!["report", &capture, "--no-progress"];
        if !keys.is_empty() {
            args.extend(["--keylog", keys]);
        }
        let out = xmppcap(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let golden = root
            .join("fixtures/expected")
            .join(format!("{stem}.report.txt"));
        if bless {
            std::fs::write(&golden, &out.stdout).expect("golden file writable");
            continue;
        }
        let expected = std::fs::read(&golden).unwrap_or_default();
        if expected != out.stdout {
            failures.push(first_difference(&golden, &expected, &out.stdout));
        }
    }
    assert!(
        failures.is_empty(),
        "reports differ from golden files (XMPPCAP_BLESS=1 to accept):\n{}",
        failures.join("\n")
    );
}

#[test]
fn finesse_reports_match_golden_files() {
    let root = workspace_root();
    let bless = std::env::var_os("XMPPCAP_BLESS").is_some();
    let mut failures = Vec::new();
    for (fixture, keys) in FIXTURES {
        for (format, ext) in FORMATS {
            let capture = format!("fixtures/{fixture}");
            let mut args = vec![
                "report",
                capture.as_str(),
                "--format",
                format,
                "--no-progress",
            ];
            if !keys.is_empty() {
                args.extend(["--keylog", keys]);
            }
            let out = xmppcap(&args);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stem = fixture.split('.').next().unwrap_or(fixture);
            let golden = root
                .join("fixtures/expected")
                .join(format!("{stem}.report.{ext}"));
            if bless {
                std::fs::write(&golden, &out.stdout).expect("golden file writable");
                continue;
            }
            let expected = std::fs::read(&golden).unwrap_or_default();
            if expected != out.stdout {
                failures.push(first_difference(&golden, &expected, &out.stdout));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "reports differ from golden files (XMPPCAP_BLESS=1 to accept):\n{}",
        failures.join("\n")
    );
}

/// The first differing line, readable.
fn first_difference(golden: &Path, expected: &[u8], got: &[u8]) -> String {
    let (e, g) = (
        String::from_utf8_lossy(expected),
        String::from_utf8_lossy(got),
    );
    let line = e
        .lines()
        .zip(g.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| e.lines().count().min(g.lines().count()));
    format!(
        "{} line {}:\n  expected: {}\n  got:      {}",
        golden.display(),
        line + 1,
        e.lines().nth(line).unwrap_or("<end>"),
        g.lines().nth(line).unwrap_or("<end>")
    )
}

/// Fixtures whose table report is also kept as read without their key log
/// (`{stem}.nokeys.report.txt`): the connection story from the wire alone.
const WITHOUT_KEYS: &[&str] = &[
    "finesse-failover.pcapng",
    "tls12-bad-certs.pcapng",
    "conn-nat-timeout.pcapng",
    "desktop-refused.pcapng",
    "desktop-no-answer.pcapng",
    "desktop-loop.pcapng",
    "finesse-bosh.pcapng",
];

#[test]
fn reports_without_keys_match_golden_files() {
    let root = workspace_root();
    let bless = std::env::var_os("XMPPCAP_BLESS").is_some();
    let mut failures = Vec::new();
    for fixture in WITHOUT_KEYS {
        let capture = format!("fixtures/{fixture}");
        let args = ["report", capture.as_str(), "--no-progress"];
        let out = xmppcap(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let stem = fixture.split('.').next().unwrap_or(fixture);
        let golden = root
            .join("fixtures/expected")
            .join(format!("{stem}.nokeys.report.txt"));
        if bless {
            std::fs::write(&golden, &out.stdout).expect("golden file writable");
            continue;
        }
        let expected = std::fs::read(&golden).unwrap_or_default();
        if expected != out.stdout {
            failures.push(first_difference(&golden, &expected, &out.stdout));
        }
    }
    assert!(
        failures.is_empty(),
        "reports differ from golden files (XMPPCAP_BLESS=1 to accept):\n{}",
        failures.join("\n")
    );
}
