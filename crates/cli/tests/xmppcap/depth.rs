//! `tls`, `http` and `ws` decode only up to the layer they show: what they
//! print must equal that layer's part of the full `report`.

use std::path::PathBuf;

use serde_json::Value;

use crate::cli::xmppcap;
use crate::workspace_root;

/// Every shipped fixture with the arguments that name its key log.
fn fixtures() -> Vec<(String, Vec<String>)> {
    let root = workspace_root();
    let mut found: Vec<PathBuf> = std::fs::read_dir(root.join("fixtures"))
        .expect("fixtures/ is readable")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".pcap") || name.ends_with(".pcapng")
        })
        .collect();
    found.sort();
    assert!(found.len() > 20, "the fixtures are shipped");
    found
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let stem = name.split('.').next().unwrap().to_owned();
            let keys = format!("keys/{stem}.keys");
            let key_args = if root.join(&keys).exists() {
                vec!["--keylog".to_owned(), keys]
            } else {
                Vec::new()
            };
            (format!("fixtures/{name}"), key_args)
        })
        .collect()
}

fn run(command: &str, capture: &str, keys: &[String], extra: &[&str]) -> String {
    let mut args = vec![command, capture, "--no-progress"];
    args.extend(keys.iter().map(String::as_str));
    args.extend_from_slice(extra);
    let out = xmppcap(&args);
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("output is UTF-8")
}

/// The NDJSON lines whose `kind` starts with one of `prefixes`.
fn lines_of(ndjson: &str, prefixes: &[&str]) -> Vec<String> {
    ndjson
        .lines()
        .filter(|l| {
            let v: Value = serde_json::from_str(l).expect("each line is JSON");
            let kind = v["kind"].as_str().unwrap_or_default();
            prefixes.iter().any(|p| kind.starts_with(p))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn ws_and_http_events_equal_those_of_the_full_report() {
    let mut checked = [0usize; 2];
    for (capture, keys) in fixtures() {
        let full = run("report", &capture, &keys, &["--format", "ndjson", "--raw"]);
        let ws = run("ws", &capture, &keys, &["--format", "ndjson"]);
        let from_full = lines_of(&full, &["ws."]);
        assert_eq!(lines_of(&ws, &["ws."]), from_full, "ws events of {capture}");
        checked[0] += from_full.len();

        let full = run("report", &capture, &keys, &["--format", "ndjson"]);
        let http = run("http", &capture, &keys, &["--format", "ndjson"]);
        let from_full = lines_of(&full, &["http.", "bosh."]);
        assert_eq!(
            lines_of(&http, &["http.", "bosh."]),
            from_full,
            "http events of {capture}"
        );
        assert!(lines_of(&http, &["ws.", "finesse."]).is_empty());
        checked[1] += from_full.len();
    }
    assert!(checked[0] > 200 && checked[1] > 100, "checked {checked:?}");
}

#[test]
fn tls_summaries_equal_those_of_the_full_report() {
    let (mut checked, mut starttls_seen) = (0, false);
    for (capture, keys) in fixtures() {
        let full: Value =
            serde_json::from_str(&run("report", &capture, &keys, &["--format", "json"])).unwrap();
        let tls: Value =
            serde_json::from_str(&run("tls", &capture, &keys, &["--format", "json"])).unwrap();
        let expected: Vec<(Value, Value, Value)> = full["captures"][0]["connections"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| !c["tls"].is_null())
            .map(|c| {
                let starttls = c["layers"][0] == "xmpp";
                (c["stream"].clone(), c["tls"].clone(), Value::Bool(starttls))
            })
            .collect();
        let shown: Vec<(Value, Value, Value)> = tls["captures"][0]["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["stream"].clone(), c["tls"].clone(), c["starttls"].clone()))
            .collect();
        assert_eq!(shown, expected, "TLS connections of {capture}");
        starttls_seen |= expected.iter().any(|e| e.2 == Value::Bool(true));
        checked += expected.len();
    }
    assert!(checked > 20, "checked {checked} TLS connections");
    assert!(starttls_seen, "the STARTTLS fixtures say so");
}
