//! Browser HAR files as input (issue 11): golden reports of the Chromium
//! recordings and hand-made edge cases in `fixtures/har/`, the same
//! conversation as a capture and as a HAR, errors with their byte offset,
//! a HAR beside a capture in one run, and redaction in every format.
//! `XMPPCAP_BLESS=1 cargo test -p xmppcap-cli har` rewrites the goldens
//! (`fixtures/expected/har-*`).

use serde_json::Value;

use crate::cli::xmppcap;
use crate::workspace_root;

/// The HARs with golden reports, under `fixtures/har/`.
const HARS: &[&str] = &[
    "finesse-ws.har",
    "finesse-bosh.har.gz",
    "finesse-ws-sanitized.har",
    "edge-rest-only.har",
    "finesse-binary.har",
];

const FORMATS: &[(&str, &str)] = &[("table", "txt"), ("json", "json"), ("ndjson", "ndjson")];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn har_reports_match_golden_files() {
    let root = workspace_root();
    let bless = std::env::var_os("XMPPCAP_BLESS").is_some();
    let mut failures = Vec::new();
    for har in HARS {
        for (format, ext) in FORMATS {
            let input = format!("fixtures/har/{har}");
            let args = ["report", &input, "--format", format, "--no-progress"];
            let out = xmppcap(&args);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{args:?}: {}",
                text(&out.stderr)
            );
            let stem = har.split('.').next().unwrap_or(har);
            let golden = root
                .join("fixtures/expected")
                .join(format!("har-{stem}.report.{ext}"));
            if bless {
                std::fs::write(&golden, &out.stdout).expect("golden file writable");
                continue;
            }
            let expected = std::fs::read(&golden).unwrap_or_default();
            if expected != out.stdout {
                let (e, g) = (text(&expected), text(&out.stdout));
                let line = e.lines().zip(g.lines()).position(|(a, b)| a != b);
                let line = line.unwrap_or_else(|| e.lines().count().min(g.lines().count()));
                failures.push(format!(
                    "{} line {}:\n  expected: {}\n  got:      {}",
                    golden.display(),
                    line + 1,
                    e.lines().nth(line).unwrap_or("<end>"),
                    g.lines().nth(line).unwrap_or("<end>")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "HAR reports differ from golden files (XMPPCAP_BLESS=1 to accept):\n{}",
        failures.join("\n")
    );
}

fn ndjson(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["report", "--format", "ndjson", "--no-progress"];
    all.extend_from_slice(args);
    let out = xmppcap(&all);
    assert_eq!(out.status.code(), Some(0), "{all:?}: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON line"))
        .collect()
}

/// Stanzas and Finesse updates in order: kind, direction, and the summary
/// without the measured times (a capture and a browser clock differ by a
/// few ms) nor the request's place (a frame, or a HAR entry).
fn conversation(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| matches!(e["kind"].as_str(), Some("xmpp.stanza" | "finesse.update")))
        .map(|e| {
            let summary = e["summary"].as_str().unwrap_or_default();
            let kept = summary
                .split(" (")
                .filter(|part| !part.ends_with("ms)") && !part.starts_with("answers "))
                .collect::<Vec<_>>()
                .join(" (");
            let kept = kept.split(" → pong").next().unwrap_or_default();
            format!("{} {} {kept}", e["kind"], e["dir"])
        })
        .collect()
}

/// The same conversation recorded as a capture (dumpcap on the loopback)
/// and as a HAR (Chromium's DevTools) gives the same stanzas and updates.
#[test]
fn a_har_and_a_capture_of_one_conversation_agree() {
    for (capture, har) in [
        (
            "fixtures/har/finesse-ws.pcapng",
            "fixtures/har/finesse-ws.har",
        ),
        (
            "fixtures/har/finesse-bosh.pcapng",
            "fixtures/har/finesse-bosh.har.gz",
        ),
        (
            "fixtures/har/finesse-ws-open.pcapng",
            "fixtures/har/finesse-ws-open.har.gz",
        ),
    ] {
        let from_capture = conversation(&ndjson(&[capture]));
        let from_har = conversation(&ndjson(&[har]));
        assert!(from_har.len() > 20, "{har}: {from_har:#?}");
        let (shared, late) = from_capture.split_at(from_har.len().min(from_capture.len()));
        assert_eq!(shared, from_har.as_slice(), "{capture} vs {har}");
        if har.ends_with("finesse-ws.har") {
            // fixtures/README: Finesse's LOGOUT came after the page closed its
            // socket, so Chrome never recorded it; the capture has it.
            assert_eq!(late.len(), 2, "{late:?}");
            assert!(
                late.iter()
                    .all(|l| l.contains("/finesse/api/User/1001") || l.contains("LOGOUT")),
                "{late:?}"
            );
        } else {
            assert!(late.is_empty(), "{late:?}");
        }
    }
}

/// The REST PUT's requestId is matched to the Update over the WebSocket
/// even though Chrome lists the socket (and its messages) first.
#[test]
fn a_har_update_answers_its_rest_request_by_entry() {
    let events = ndjson(&["fixtures/har/finesse-ws.har"]);
    let update = events
        .iter()
        .find(|e| e["kind"] == "finesse.update" && !e["rest_request"].is_null())
        .expect("an update matched to its REST request");
    assert_eq!(update["frame"], Value::Null);
    assert_eq!(update["har"]["entry"], 6);
    assert_eq!(update["stream"], 6);
    let rest = &update["rest_request"];
    assert_eq!(
        (rest["frame"].clone(), rest["har"].clone()),
        (
            Value::Null,
            serde_json::json!({"entry": 7, "message": null})
        )
    );
    assert_eq!(rest["method"], "PUT");
    let ms = rest["ms_before_update"].as_f64().unwrap_or_default();
    assert!((300.0..400.0).contains(&ms), "{ms}");
    let exchange = events
        .iter()
        .find(|e| e["kind"] == "http.exchange" && e["har"]["entry"] == 7)
        .expect("the PUT's exchange");
    assert_eq!(exchange["har"]["message"], Value::Null);
}

#[test]
fn truncated_and_invalid_hars_are_exit_2_naming_the_byte() {
    for (har, said) in [
        (
            "fixtures/har/edge-truncated.har",
            "the HAR is truncated at byte 25738",
        ),
        (
            "fixtures/har/edge-invalid.har",
            "invalid JSON in the HAR at byte ",
        ),
    ] {
        for format in ["table", "json", "ndjson"] {
            let out = xmppcap(&["report", har, "--format", format, "--no-progress"]);
            assert_eq!(out.status.code(), Some(2), "{har} {format}");
            let stderr = text(&out.stderr);
            assert!(
                stderr.starts_with(&format!("xmppcap: {har}: {said}")),
                "{stderr}"
            );
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            if format == "ndjson" {
                // What was read before the break streamed out; the capture.end
                // that closes it carries the error, never the counts of a whole read.
                let stdout = text(&out.stdout);
                assert!(stdout.contains("\"kind\":\"http.exchange\""), "{stdout}");
                let end = stdout.lines().last().unwrap_or_default();
                assert!(end.starts_with("{\"kind\":\"capture.end\""), "{end}");
                assert!(
                    end.contains("\"error\":") && !end.contains("\"packets\""),
                    "{end}"
                );
            }
        }
    }
}

#[test]
fn a_har_and_a_capture_in_one_run() {
    let (capture, har) = ("fixtures/finesse-ws.pcap", "fixtures/har/finesse-ws.har");
    let out = xmppcap(&["report", capture, har, "--format", "json", "--no-progress"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let reports = json["captures"].as_array().expect("captures");
    let names: Vec<&str> = reports
        .iter()
        .filter_map(|r| r["capture"]["name"].as_str())
        .collect();
    assert_eq!(names, [capture, har]);
    assert_eq!(reports[1]["capture"]["format"]["kind"], "har");
    assert_eq!(reports[1]["capture"]["har"]["entries"], 8);
    let events = ndjson(&[capture, har]);
    let starts: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "capture.start")
        .filter_map(|e| e["capture"].as_str())
        .collect();
    assert_eq!(starts, [capture, har]);
    let table = xmppcap(&[
        "report",
        capture,
        har,
        "--no-progress",
        "--fail-on",
        "error",
    ]);
    assert_eq!(
        table.status.code(),
        Some(1),
        "the HAR's finesse.api_error is an error"
    );
    let table = text(&table.stdout);
    assert!(
        table.contains("capture fixtures/finesse-ws.pcap: "),
        "{table}"
    );
    assert!(
        table.contains("HAR fixtures/har/finesse-ws.har: 8 entries"),
        "{table}"
    );
}

/// The SASL PLAIN payload (in a WebSocket message and in a BOSH body), the
/// Basic credentials and the session cookie appear in no format, with or
/// without `--raw`. (The password itself is in the scripted desktop's
/// JavaScript source, a response body shown as a capture shows it.)
#[test]
fn har_secrets_are_redacted_in_every_format() {
    const SECRETS: [&str; 3] = [
        "ADEwMDEARmluM3NzZSFTZWNyZXQtMTAwMQ",
        "MTAwMTpGaW4zc3NlIVNlY3JldC0xMDAx",
        "8C1F2E3D4B5A69788796A5B4C3D2E1F0",
    ];
    for har in [
        "fixtures/har/finesse-ws.har",
        "fixtures/har/finesse-bosh.har.gz",
        "fixtures/har/finesse-ws-sanitized.har",
    ] {
        for format in ["table", "json", "ndjson", "html"] {
            for raw in [false, true] {
                let mut args = vec!["report", har, "--format", format, "--no-progress"];
                if raw {
                    args.push("--raw");
                }
                let out = xmppcap(&args);
                assert_eq!(out.status.code(), Some(0), "{args:?}");
                let stdout = text(&out.stdout);
                assert!(
                    stdout.contains("redacted"),
                    "{args:?}: nothing said redacted"
                );
                for secret in SECRETS {
                    assert!(!stdout.contains(secret), "{args:?} shows {secret}");
                }
            }
        }
    }
    let shown = xmppcap(&[
        "report",
        "fixtures/har/finesse-ws.har",
        "--format",
        "ndjson",
        "--raw",
        "--show-secrets",
        "--no-progress",
    ]);
    assert!(
        text(&shown.stdout).contains(SECRETS[0]),
        "--show-secrets shows the payload"
    );
}

/// Sanitized exports drop Authorization and Cookie: normal, not a finding.
#[test]
fn a_sanitized_har_raises_nothing_the_full_one_does_not() {
    let codes = |har: &str| -> Vec<String> {
        let out = xmppcap(&["report", har, "--format", "json", "--no-progress"]);
        let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        json["captures"][0]["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["code"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(
        codes("fixtures/har/finesse-ws-sanitized.har"),
        codes("fixtures/har/finesse-ws.har")
    );
}

#[test]
fn a_har_without_websocket_messages_says_why_there_is_no_xmpp() {
    let events = ndjson(&["fixtures/har/edge-rest-only.har"]);
    let why: Vec<&str> = events
        .iter()
        .filter(|e| e["code"] == "har.no_xmpp")
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert_eq!(why.len(), 1, "{why:?}");
    assert!(why[0].contains("no WebSocket entry"), "{why:?}");
    let rest = events
        .iter()
        .filter(|e| e["kind"] == "http.exchange")
        .count();
    assert_eq!(rest, 4);
    let failed = ndjson(&["fixtures/har/edge-failed-websocket.har"]);
    assert!(failed.iter().any(|e| e["code"] == "har.no_xmpp"
        && e["message"]
            .as_str()
            .is_some_and(|m| m.contains("no WebSocket of the HAR opened"))));
}

#[test]
fn streams_and_follow_say_a_har_has_no_tcp() {
    for args in [
        &["streams", "fixtures/har/finesse-ws.har"][..],
        &["follow", "fixtures/har/finesse-ws.har", "6"][..],
    ] {
        let out = xmppcap(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("a browser HAR records no TCP connections"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let listing = xmppcap(&["ws", "fixtures/har/finesse-ws.har", "--no-progress"]);
    assert_eq!(listing.status.code(), Some(0));
    let listing = text(&listing.stdout);
    assert!(
        listing.starts_with("HAR fixtures/har/finesse-ws.har: 8 entries"),
        "{listing}"
    );
    assert!(listing.contains(" e6.m3 "), "{listing}");
    let html = xmppcap(&[
        "report",
        "fixtures/har/finesse-ws.har",
        "--format",
        "html",
        "--no-progress",
    ]);
    let html = text(&html.stdout);
    assert!(
        html.contains("<h1>HAR fixtures/har/finesse-ws.har</h1>"),
        "{html}"
    );
    assert!(html.contains("<td>e6.m3</td>"), "a stanza's place");
    assert!(
        html.contains("e7: PUT /finesse/api/User/1001"),
        "the REST entry among the others"
    );
}

/// A socket still open when the HAR was saved: its session's ending is
/// unknown, and what it subscribed to was not (yet) left behind.
#[test]
fn a_session_open_at_the_export_ends_unknown_without_leftovers() {
    let out = xmppcap(&[
        "report",
        "fixtures/har/finesse-ws-open.har.gz",
        "--format",
        "json",
        "--no-progress",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let capture = &json["captures"][0];
    assert_eq!(capture["capture"]["gzip"], true);
    let session = &capture["sessions"][0];
    assert_eq!(session["ended"], "unknown (HAR)");
    assert_eq!(session["xmpp"]["end"]["how"], "har_unknown");
    let codes: Vec<&str> = capture["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(!codes.contains(&"xmpp.subscription_left"), "{codes:?}");
    assert!(
        !codes
            .iter()
            .any(|c| c.starts_with("tcp.") || c.starts_with("tls.") || c.starts_with("ws.")),
        "{codes:?}"
    );
}
