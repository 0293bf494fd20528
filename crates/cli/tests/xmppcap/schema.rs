//! The JSON schema (`docs/report.schema.json`) against the output: every
//! golden JSON report and every line of every golden NDJSON report must be
//! valid, and the schema's closed shapes must refuse a field it does not
//! describe (so a field added to the output without the schema fails here).

use std::path::Path;

use jsonschema::Validator;
use serde_json::{json, Value};

use crate::workspace_root;

fn schema() -> Value {
    let path = workspace_root().join("docs/report.schema.json");
    let text = std::fs::read_to_string(&path).expect("docs/report.schema.json readable");
    serde_json::from_str(&text).expect("the schema is JSON")
}

/// The validator of the whole report (`--format json`).
fn report_validator() -> Validator {
    jsonschema::validator_for(&schema()).expect("the schema is a valid JSON schema")
}

/// The validator of one NDJSON line: the schema's `ndjson_line` definition.
fn line_validator() -> Validator {
    let mut line = schema();
    line["$ref"] = json!("#/$defs/ndjson_line");
    for keyword in ["type", "required", "properties", "additionalProperties"] {
        line.as_object_mut().map(|o| o.remove(keyword));
    }
    jsonschema::validator_for(&line).expect("the line schema is a valid JSON schema")
}

/// Every schema error of `instance`, one per line, named after `what`.
fn errors(validator: &Validator, instance: &Value, what: &str) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{what}: {} at {}", e, e.instance_path()))
        .collect()
}

fn goldens(ext: &str) -> Vec<std::path::PathBuf> {
    let dir = workspace_root().join("fixtures/expected");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/expected readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}

fn read_json(path: &Path, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

#[test]
fn every_golden_json_report_is_valid_against_the_schema() {
    let validator = report_validator();
    let files = goldens("json");
    assert!(files.len() >= 10, "golden JSON reports found: {files:?}");
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("golden readable");
        let what = path.display().to_string();
        failures.extend(errors(&validator, &read_json(path, &text), &what));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_golden_ndjson_line_is_valid_against_the_schema() {
    let validator = line_validator();
    let files = goldens("ndjson");
    assert!(files.len() >= 10, "golden NDJSON reports found: {files:?}");
    let mut failures = Vec::new();
    let mut lines = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("golden readable");
        for (n, line) in text.lines().enumerate() {
            lines += 1;
            let what = format!("{}:{}", path.display(), n + 1);
            failures.extend(errors(&validator, &read_json(path, line), &what));
        }
    }
    assert!(lines > 100, "{lines} NDJSON lines");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A real line of each kind, with one field the schema does not know added:
/// the schema must refuse it, or a new field could slip out undocumented.
#[test]
fn the_schema_refuses_a_field_it_does_not_describe() {
    let validator = line_validator();
    let mut kinds = std::collections::BTreeMap::new();
    for path in goldens("ndjson") {
        let text = std::fs::read_to_string(&path).expect("golden readable");
        for line in text.lines() {
            let value = read_json(&path, line);
            let kind = value["kind"].as_str().unwrap_or_default().to_owned();
            kinds.entry(kind).or_insert(value);
        }
    }
    assert!(kinds.len() > 20, "kinds in the goldens: {:?}", kinds.keys());
    for (kind, mut value) in kinds {
        assert!(validator.is_valid(&value), "{kind} valid as written");
        value["undocumented"] = json!(1);
        assert!(!validator.is_valid(&value), "{kind} with an unknown field");
    }
}

#[test]
fn the_schema_refuses_an_unknown_kind_and_a_kind_with_the_wrong_fields() {
    let validator = line_validator();
    let common = json!({
        "kind": "tcp.fin", "time": null, "frame": 3, "last_frame": null,
        "stream": 0, "dir": "c2s", "session": null, "summary": "client closed its side (FIN)"
    });
    assert!(validator.is_valid(&common));
    let mut unknown = common.clone();
    unknown["kind"] = json!("tcp.teleport");
    assert!(!validator.is_valid(&unknown));
    let mut gap_fields_on_fin = common.clone();
    gap_fields_on_fin["offset"] = json!(0);
    assert!(!validator.is_valid(&gap_fields_on_fin));
    let mut gap = common.clone();
    gap["kind"] = json!("tcp.gap");
    gap["offset"] = json!(0);
    gap["len"] = json!(10);
    gap["reason"] = json!("lost");
    assert!(validator.is_valid(&gap));
    gap["reason"] = json!("stolen");
    assert!(
        !validator.is_valid(&gap),
        "a reason the schema does not list"
    );
}

/// A shared definition used through `$ref` (a capture position) is checked,
/// not taken on trust.
#[test]
fn the_schema_checks_what_its_shared_definitions_hold() {
    let validator = line_validator();
    let mut found = None;
    for path in goldens("ndjson") {
        let text = std::fs::read_to_string(&path).expect("golden readable");
        found = found.or_else(|| {
            text.lines()
                .map(|l| read_json(&path, l))
                .find(|v| v["kind"] == "http.exchange")
        });
    }
    let mut exchange = found.expect("an http.exchange line in the goldens");
    assert!(validator.is_valid(&exchange));
    exchange["exchange"]["request"]["first"]["frame"] = json!("one");
    assert!(!validator.is_valid(&exchange));
}

/// Public captures that show what the goldens do not (HTTP requests without
/// responses, TCP gaps, STARTTLS on XMPP, undecrypted TLS 1.3, WebSocket
/// pings): their NDJSON lines and JSON report are valid too.
const CORPUS: &[&str] = &[
    "wireshark-4.0.17/captures/http-ooo.pcap",
    "ndpi/jabber.pcap",
    "zeek/tls_xmpp-starttls.pcap",
    "wireshark-4.0.17/captures/tls13-rfc8446.pcap",
    "suricata-verify/websocket-ping/input.pcap",
];

#[test]
fn corpus_reports_are_valid_against_the_schema() {
    let corpus = workspace_root().join("../shared/corpus");
    let (lines, report) = (line_validator(), report_validator());
    let mut failures = Vec::new();
    for capture in CORPUS {
        let path = corpus.join(capture);
        assert!(path.exists(), "{} in the corpus", path.display());
        let path = path.to_string_lossy().into_owned();
        for format in ["ndjson", "json"] {
            let out = crate::cli::xmppcap(&["report", &path, "--format", format, "--no-progress"]);
            let text = String::from_utf8_lossy(&out.stdout);
            let (validator, docs): (&Validator, Vec<&str>) = if format == "json" {
                (&report, vec![&text])
            } else {
                (&lines, text.lines().collect())
            };
            for (n, doc) in docs.into_iter().enumerate() {
                let what = format!("{capture} {format} #{}", n + 1);
                let value = read_json(Path::new(capture), doc);
                failures.extend(errors(validator, &value, &what));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A filtered report names its filter, in JSON and on NDJSON's
/// `capture.start`, and both are valid against the schema.
#[test]
fn a_filtered_report_is_valid_against_the_schema() {
    let common = [
        "report",
        "fixtures/finesse-failover.pcapng",
        "--keylog",
        "keys/finesse-failover.keys",
        "--no-progress",
        "--stream",
        "2",
        "--since",
        "+5s",
        "--until",
        "2026-03-02T09:00:40Z",
    ];
    let with = |extra: &[&str]| {
        let mut args = common.to_vec();
        args.extend_from_slice(extra);
        crate::cli::xmppcap(&args)
    };
    let json = with(&["--format", "json", "--raw"]);
    let doc: Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(
        doc["filter"],
        json!({"streams": [2], "since": "+5s", "until": "2026-03-02T09:00:40Z"})
    );
    let errs = errors(&report_validator(), &doc, "filtered json");
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    let summary = with(&["--format", "json", "--summary"]);
    let doc: Value = serde_json::from_slice(&summary.stdout).expect("JSON");
    assert_eq!(doc["filter"]["summary"], true);
    let errs = errors(&report_validator(), &doc, "summary json");
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    let ndjson = with(&["--format", "ndjson"]);
    let validator = line_validator();
    for (i, line) in String::from_utf8_lossy(&ndjson.stdout).lines().enumerate() {
        let value: Value = serde_json::from_str(line).expect("NDJSON line");
        let errs = errors(&validator, &value, &format!("line {}", i + 1));
        assert!(errs.is_empty(), "{}", errs.join("\n"));
    }
}

/// A keepalive count declined without keys (finesse-bosh's BOSH
/// connections) is valid as written, and the schema ties the reason to the
/// missing count: no count without a reason, no reason beside a count.
#[test]
fn a_declined_keepalive_count_is_valid_and_needs_its_reason() {
    let path = workspace_root().join("fixtures/finesse-bosh.pcapng");
    let path = path.to_string_lossy().into_owned();
    let out = crate::cli::xmppcap(&["report", &path, "--format", "ndjson", "--no-progress"]);
    let validator = line_validator();
    let mut declined = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let value = read_json(Path::new(&path), line);
        assert!(validator.is_valid(&value), "{line}");
        if value["kind"] == "conn.summary" && value["keepalive"]["exchanges"].is_null() {
            declined.push(value);
        }
    }
    assert_eq!(declined.len(), 2, "the two BOSH connections decline");
    let mut line = declined.remove(0);
    let keepalive = line["keepalive"].clone();
    assert!(keepalive["not_inferred_because"].is_string(), "{keepalive}");
    line["keepalive"]
        .as_object_mut()
        .map(|k| k.remove("not_inferred_because"));
    assert!(!validator.is_valid(&line), "no count and no reason");
    line["keepalive"] = keepalive;
    line["keepalive"]["exchanges"] = json!(2);
    assert!(!validator.is_valid(&line), "a count beside a reason");
}

/// A capture that fails is named in JSON and closes its NDJSON framing with
/// its error; both are valid against the schema.
#[test]
fn a_failed_capture_is_named_in_json_and_closed_in_ndjson() {
    let args = [
        "report",
        "fixtures/finesse-ws.pcap",
        "Cargo.toml",
        "--no-progress",
    ];
    let run = |format: &str| {
        let mut all = args.to_vec();
        all.extend(["--format", format]);
        crate::cli::xmppcap(&all)
    };
    let json_out = run("json");
    assert_eq!(json_out.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&json_out.stdout).expect("JSON");
    assert_eq!(doc["captures"][1]["capture"], "Cargo.toml");
    assert!(doc["captures"][1]["error"].is_string());
    let errs = errors(&report_validator(), &doc, "json with a failure");
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    let ndjson = run("ndjson");
    let text = String::from_utf8_lossy(&ndjson.stdout);
    let last: Value = serde_json::from_str(text.lines().last().unwrap_or_default()).expect("line");
    assert_eq!(last["kind"], "capture.end");
    assert_eq!(last["capture"], "Cargo.toml");
    assert!(last["error"].is_string(), "{last}");
    let validator = line_validator();
    for (i, line) in text.lines().enumerate() {
        let value: Value = serde_json::from_str(line).expect("NDJSON line");
        let errs = errors(&validator, &value, &format!("line {}", i + 1));
        assert!(errs.is_empty(), "{}", errs.join("\n"));
    }
}
