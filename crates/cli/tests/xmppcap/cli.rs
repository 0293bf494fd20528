//! The binary as a user runs it: exit codes, errors, output formats.

use std::process::{Command, Output};

use crate::workspace_root;

/// Runs the binary from the workspace root (fixture paths are relative to it).
pub fn xmppcap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xmppcap"))
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("the xmppcap binary runs")
}

#[test]
fn missing_file_is_exit_2_with_one_clear_line() {
    let out = xmppcap(&["streams", "no/such/file.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no/such/file.pcap"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn not_a_capture_says_what_it_looks_like() {
    let out = xmppcap(&["streams", "Cargo.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a pcap or pcapng"), "{stderr}");
}

#[test]
fn bad_arguments_are_exit_2() {
    assert_eq!(xmppcap(&["streams"]).status.code(), Some(2));
    assert_eq!(
        xmppcap(&["streams", "--format", "xml", "x.pcap"])
            .status
            .code(),
        Some(2)
    );
}

const WSS: &str = "fixtures/finesse-wss.pcapng";
const WSS_KEYS: &str = "keys/finesse-wss.keys";
/// The fixture's SASL PLAIN password, its base64 blob and the REST Basic credentials.
const SECRETS: [&str; 3] = [
    "Fin3sse!Secret-1001",
    "ADEwMDEARmluM3NzZSFTZWNyZXQtMTAwMQ",
    "MTAwMTpGaW4zc3NlIVNlY3JldC0xMDAx",
];

#[test]
fn fail_on_sets_exit_code_1() {
    // The fixture has an apiErrors update: an error-level finding.
    let out = xmppcap(&[
        "report",
        WSS,
        "--keylog",
        WSS_KEYS,
        "--fail-on",
        "error",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let out = xmppcap(&["report", WSS, "--keylog", WSS_KEYS, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let out = xmppcap(&["streams", "fixtures/tcp-in-order.pcap", "--fail-on", "info"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a clean capture has no findings"
    );
}

#[test]
fn bare_capture_runs_the_report() {
    let short = xmppcap(&[WSS, "--keylog", WSS_KEYS]);
    let long = xmppcap(&["report", WSS, "--keylog", WSS_KEYS]);
    assert_eq!(short.status.code(), Some(0));
    assert_eq!(short.stdout, long.stdout);
}

#[test]
fn unreadable_key_file_is_exit_2() {
    let out = xmppcap(&["report", WSS, "--keylog", "keys/no-such.keys"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such.keys"));
}

#[test]
fn secrets_are_redacted_in_every_format_unless_asked() {
    let fixtures = [
        (WSS, Some(WSS_KEYS)),
        ("fixtures/finesse-ws.pcap", None),
        (
            "fixtures/finesse-bosh.pcapng",
            Some("keys/finesse-bosh.keys"),
        ),
    ];
    let commands: [&[&str]; 7] = [
        &["report", "--raw"],
        &["report", "--raw", "--format", "json"],
        &["report", "--raw", "--format", "ndjson"],
        &["report", "--raw", "--format", "html"],
        &["ws", "--format", "ndjson"],
        &["http", "--format", "json"],
        &["http"],
    ];
    for (capture, keys) in fixtures {
        for command in commands {
            let mut args: Vec<&str> = command.to_vec();
            args.push(capture);
            if let Some(k) = keys {
                args.extend(["--keylog", k]);
            }
            let out = String::from_utf8_lossy(&xmppcap(&args).stdout).into_owned();
            for secret in SECRETS {
                assert!(!out.contains(secret), "{args:?} shows {secret}");
            }
        }
    }
    let shown = xmppcap(&[
        "report",
        "--format",
        "ndjson",
        "--raw",
        "--show-secrets",
        WSS,
        "--keylog",
        WSS_KEYS,
    ]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains(SECRETS[1]),
        "--show-secrets shows the SASL blob"
    );
}

#[test]
fn ndjson_lines_have_the_common_fields() {
    let out = xmppcap(&["report", "--format", "ndjson", WSS, "--keylog", WSS_KEYS]);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut kinds = std::collections::BTreeSet::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        let kind = v["kind"].as_str().expect("kind").to_owned();
        // Markers and the agents' stories are not events.
        if !kind.starts_with("capture.") && kind != "agent.summary" {
            for field in ["time", "frame", "stream", "dir", "session", "summary"] {
                assert!(v.get(field).is_some(), "{kind} line lacks {field}: {line}");
            }
        }
        kinds.insert(kind);
    }
    for kind in [
        "capture.start",
        "tcp.open",
        "tls.client_hello",
        "http.exchange",
        "ws.message",
        "ws.control",
        "xmpp.stanza",
        "finesse.update",
        "finding",
        "capture.end",
    ] {
        assert!(kinds.contains(kind), "no {kind} line");
    }
}

#[test]
fn ws_ndjson_messages_carry_the_documented_fields() {
    let out = xmppcap(&["ws", "--format", "ndjson", WSS, "--keylog", WSS_KEYS]);
    let text = String::from_utf8_lossy(&out.stdout);
    let messages: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "ws.message")
        .collect();
    assert!(!messages.is_empty());
    for m in &messages {
        for field in [
            "stream",
            "dir",
            "frame",
            "last_frame",
            "time",
            "opcode",
            "compressed",
            "len",
            "text",
        ] {
            assert!(
                m.get(field).is_some_and(|v| !v.is_null()),
                "ws.message lacks {field}: {m}"
            );
        }
    }
    let close = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["opcode"] == "close");
    assert_eq!(
        close.map(|c| c["close_code"].clone()),
        Some(serde_json::json!(1000))
    );
}

#[test]
fn html_report_escapes_captured_text() {
    let out = xmppcap(&[
        "report", "--format", "html", "--raw", WSS, "--keylog", WSS_KEYS,
    ]);
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("<iq") && !html.contains("<message"),
        "captured XML must be escaped"
    );
    assert!(
        !html.contains("<script") && !html.contains("src=\"http"),
        "self-contained, no scripts"
    );
}

#[test]
fn json_report_has_the_fields_its_schema_requires() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("docs/report.schema.json"))
            .expect("schema file"),
    )
    .expect("schema is JSON");
    let out = xmppcap(&["report", "--format", "json", WSS, "--keylog", WSS_KEYS]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report is JSON");
    assert_eq!(doc["schema"], schema["properties"]["schema"]["const"]);
    let required = |def: &str| -> Vec<String> {
        schema["$defs"][def]["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let capture = &doc["captures"][0];
    for key in required("capture_report") {
        assert!(capture.get(&key).is_some(), "capture report lacks {key}");
    }
    for (def, items) in [
        ("event", "timeline"),
        ("finding", "findings"),
        ("connection", "connections"),
        ("session", "sessions"),
    ] {
        let list = capture[items].as_array().expect("a list");
        assert!(!list.is_empty(), "{items} is empty");
        for item in list {
            for key in required(def) {
                assert!(item.get(&key).is_some(), "{items} item lacks {key}: {item}");
            }
        }
    }
}

#[test]
fn follow_takes_rsa_key_like_the_other_commands() {
    let capture = "fixtures/tls12-ecdhe-aes128gcm.pcapng";
    let out = xmppcap(&[
        "follow",
        capture,
        "0",
        "--layer",
        "tls",
        "--rsa-key",
        "no-such.pem",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    if cfg!(feature = "rsa-keys") {
        assert!(stderr.contains("no-such.pem"), "{stderr}");
    } else {
        assert!(
            stderr.contains("--rsa-key needs a build with the rsa-keys feature"),
            "{stderr}"
        );
    }
}

/// The readable view of a WebSocket: the upgrade, then the messages
/// unmasked and inflated with SASL redacted, and never a client frame (whose
/// mask key would give the password back to anyone who XORs it).
fn assert_follow_shows_messages_not_frames(args: &[&str]) {
    let out = xmppcap(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let text = String::from_utf8(out.stdout).expect("the readable view is UTF-8");
    let (before, after) = text
        .split_once("101 Switching Protocols")
        .expect("the upgrade is shown");
    assert!(before.contains("GET /ws/ HTTP/1.1"), "{text}");
    assert!(
        after.contains(
            "<auth xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\" mechanism=\"PLAIN\"><redacted></auth>"
        ),
        "{text}"
    );
    assert!(!text.contains("Fin3sse"), "{text}");
    // Past the upgrade, every client block is a WebSocket message.
    for header in after
        .lines()
        .filter(|l| l.starts_with("── client → server"))
    {
        assert!(header.contains("WebSocket text message"), "{header}");
    }
    assert!(after.contains("<success xmlns"), "{text}");
}

#[test]
fn follow_readable_view_shows_websocket_messages_redacted_over_tcp() {
    assert_follow_shows_messages_not_frames(&["follow", "fixtures/finesse-ws.pcap", "0"]);
}

#[test]
fn follow_readable_view_shows_websocket_messages_redacted_over_tls() {
    assert_follow_shows_messages_not_frames(&[
        "follow",
        "fixtures/finesse-wss.pcapng",
        "0",
        "--layer",
        "tls",
        "--keylog",
        "keys/finesse-wss.keys",
    ]);
}

#[test]
fn follow_raw_view_stays_the_exact_masked_frames() {
    let out = xmppcap(&[
        "follow",
        "fixtures/finesse-ws.pcap",
        "0",
        "--raw",
        "--dir",
        "client",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let upgrade_end = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("the upgrade request");
    let frames = out.stdout.get(upgrade_end + 4..).unwrap_or_default();
    // A client frame: FIN + text or continuation, MASK bit set.
    assert!(frames.len() > 6, "frames follow the upgrade");
    assert_eq!(frames[1] & 0x80, 0x80, "client frames stay masked in --raw");
}

/// Runs the binary with `stdin` as its standard input and `env` set.
fn xmppcap_with(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_xmppcap"))
        .args(args)
        .current_dir(workspace_root())
        .env_remove("SSLKEYLOGFILE")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the xmppcap binary runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    // A run that refuses its arguments exits without reading: a broken pipe then.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().expect("the binary ends")
}

#[test]
fn keylog_dash_reads_standard_input_once_for_every_capture() {
    let keys = std::fs::read(workspace_root().join("keys/finesse-wss.keys")).unwrap();
    let cap = "fixtures/finesse-wss.pcapng";
    let out = xmppcap_with(&["--keylog", "-", cap, cap], &keys, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    // Options first, as tshark users type them, and both captures decrypted.
    assert_eq!(
        text.matches("keys: standard input (8 secrets)").count(),
        2,
        "{text}"
    );
    assert_eq!(text.matches("1 XMPP session").count(), 2, "{text}");
    let both = xmppcap_with(&["report", "--keylog", "-", "-"], &keys, &[]);
    assert_eq!(both.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&both.stderr).contains("cannot both read standard input"));
}

#[test]
fn key_log_problems_are_named_for_what_they_are() {
    let cap = "fixtures/finesse-wss.pcapng";
    // A file that is not a key log: said once, and no "no key material was given".
    let out = xmppcap_with(&[cap, "--keylog", "Cargo.toml"], b"", &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("tls.keylog_empty: Cargo.toml holds no TLS secret"),
        "{text}"
    );
    assert!(!text.contains("no key material was given"), "{text}");
    // An unreadable SSLKEYLOGFILE names the variable and the run goes on.
    let out = xmppcap_with(&[cap], b"", &[("SSLKEYLOGFILE", "/no/such/keys.txt")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("the environment variable SSLKEYLOGFILE names /no/such/keys.txt"),
        "{text}"
    );
    // An unreadable --keylog is an error about the key file, not the capture.
    let out = xmppcap_with(&[cap, "--keylog", "no/such/keys.txt"], b"", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.starts_with("xmppcap: cannot read key log file no/such/keys.txt"),
        "{stderr}"
    );
}

#[test]
fn streams_fail_on_warn_sees_a_notification_connection_reset_without_keys() {
    let out = xmppcap(&[
        "streams",
        "fixtures/finesse-failover.pcapng",
        "--no-progress",
        "--fail-on",
        "warn",
    ]);
    assert_eq!(out.status.code(), Some(1), "the server's RST on stream 0");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("warn conn.reset [frame 54, stream 0]"),
        "{table}"
    );
}

/// `capture.end` counts the `finding` lines the NDJSON holds, even past the
/// 1,000 of one code the report's finding log keeps: 1,500 connections that
/// only shake hands under a 1 MiB budget are cut by the hundred.
#[test]
fn ndjson_capture_end_counts_every_finding_line() {
    let path =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-1500-idle-connections.pcap");
    let capture = xmppcap_fixturegen::hostile_held::held_out_of_order(Vec::new(), 1500, 0)
        .expect("the capture is generated");
    std::fs::write(&path, capture).expect("the capture is written");
    let path = path.display().to_string();
    // `-j 2` too: its workers render lines, and findings must still be counted.
    for jobs in ["1", "2"] {
        let args = [
            "report",
            "--format",
            "ndjson",
            "-j",
            jobs,
            "--memory-limit",
            "1M",
        ];
        let out = xmppcap(&[&args[..], &[path.as_str()]].concat());
        assert_counted(&String::from_utf8_lossy(&out.stdout), jobs);
    }
}

fn assert_counted(stdout: &str, jobs: &str) {
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let findings = lines.iter().filter(|l| l["kind"] == "finding").count();
    let cuts = lines
        .iter()
        .filter(|l| l["kind"] == "finding" && l["code"] == "limits.memory")
        .count();
    assert!(cuts > 1000, "-j {jobs}: {cuts} cuts");
    let end = lines.last().expect("a capture.end line");
    assert_eq!(end["kind"], "capture.end");
    assert_eq!(end["findings"], findings, "-j {jobs}: {end}");
    assert_eq!(end["connections"], 1500, "-j {jobs}: {end}");
}
