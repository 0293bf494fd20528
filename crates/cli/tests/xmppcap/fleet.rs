//! `-o DIR/` (a fleet audit): one file per capture, byte-identical to the
//! capture run alone, and a manifest line per capture with its SHA-256,
//! exit status and counts; a failed capture gets its line and the others go
//! on; a second run appends. README's DuckDB query is run as written
//! (Python's `duckdb` package): skipped without it, unless
//! `XMPPCAP_REQUIRE_DUCKDB` is set (CI sets it), where it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::workspace_root;

fn xmppcap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xmppcap"))
        .current_dir(workspace_root())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xmppcap-fleet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn manifest(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap_or_else(|e| panic!("{e}"));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

const FAILOVER: &str = "fixtures/finesse-failover.pcapng";
const WSS: &str = "fixtures/finesse-wss.pcapng";
const PLAIN_TCP: &str = "fixtures/tcp-in-order.pcap";

#[test]
fn each_capture_gets_the_file_it_would_get_alone_and_a_manifest_line() {
    let dir = scratch("ndjson");
    let out = format!("{}/", dir.display());
    let args = [
        "report",
        "--no-progress",
        "--format",
        "ndjson",
        "--fail-on",
        "warn",
        "--keylog",
        "keys/finesse-failover.keys",
        "--keylog",
        "keys/finesse-wss.keys",
        FAILOVER,
        PLAIN_TCP,
        "fixtures/no-such-capture.pcap",
        "-o",
        &out,
    ];
    let run = xmppcap(&args);
    assert_eq!(run.status.code(), Some(2), "a capture failed: exit 2");
    for (capture, name) in [(FAILOVER, "finesse-failover"), (PLAIN_TCP, "tcp-in-order")] {
        let alone = xmppcap(&[
            "report",
            "--no-progress",
            "--format",
            "ndjson",
            "--keylog",
            "keys/finesse-failover.keys",
            "--keylog",
            "keys/finesse-wss.keys",
            capture,
        ]);
        let file =
            std::fs::read(dir.join(format!("{name}.ndjson"))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            file, alone.stdout,
            "{name}: the same bytes as the capture run alone"
        );
    }
    let lines = manifest(&dir);
    assert_eq!(lines.len(), 3);
    let failover = &lines[0];
    assert_eq!(failover["input"], FAILOVER);
    assert_eq!(failover["output"], "finesse-failover.ndjson");
    assert_eq!(failover["status"], "findings");
    assert_eq!(failover["exit"], 1);
    assert_eq!(failover["worst"], "error");
    assert_eq!(failover["packets"], 197);
    assert_eq!(failover["connections"], 4);
    let sha = xmppcap::report::html::sha256_of_file(&workspace_root().join(FAILOVER))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(failover["sha256"], sha.as_str());
    assert_eq!(lines[1]["status"], "ok");
    assert_eq!(lines[1]["exit"], 0);
    let missing = &lines[2];
    assert_eq!(missing["status"], "error");
    assert_eq!(missing["exit"], 2);
    assert!(missing["sha256"].is_null());
    assert!(missing["error"]
        .as_str()
        .is_some_and(|e| e.contains("no-such-capture")));

    // A second job on the same directory appends its line.
    let again = xmppcap(&[
        "report",
        "--no-progress",
        "--format",
        "ndjson",
        WSS,
        "-o",
        &out,
    ]);
    assert_eq!(again.status.code(), Some(0));
    let lines = manifest(&dir);
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[3]["sessions"], 0, "without keys no session is seen");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn other_formats_write_one_document_per_capture() {
    let dir = scratch("json");
    let out = format!("{}/", dir.display());
    let run = xmppcap(&[
        "report",
        "--no-progress",
        "--format",
        "json",
        FAILOVER,
        WSS,
        "-o",
        &out,
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for name in ["finesse-failover.json", "finesse-wss.json"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{e}"));
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc["captures"].as_array().map(Vec::len), Some(1), "{name}");
    }
    let lines = manifest(&dir);
    assert_eq!(lines[0]["format"], "json");
    assert_eq!(lines[1]["output"], "finesse-wss.json");
    let html = xmppcap(&[
        "report",
        "--no-progress",
        "--format",
        "html",
        WSS,
        "-o",
        &out,
    ]);
    assert_eq!(html.status.code(), Some(0));
    assert!(dir.join("finesse-wss.html").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The SQL between README's `duckdb-fleet-query` markers.
fn readme_query() -> String {
    let readme = std::fs::read_to_string(workspace_root().join("README.md"))
        .unwrap_or_else(|e| panic!("{e}"));
    let start = readme
        .find("<!-- duckdb-fleet-query -->")
        .expect("README has the DuckDB query");
    let sql = &readme[start..];
    let open = sql.find("```sql\n").expect("an sql block") + "```sql\n".len();
    let close = sql[open..].find("```").expect("the block ends") + open;
    sql[open..close].to_string()
}

#[test]
fn readme_duckdb_query_lists_every_failover() {
    let has_duckdb = Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_duckdb {
        assert!(
            std::env::var_os("XMPPCAP_REQUIRE_DUCKDB").is_none(),
            "XMPPCAP_REQUIRE_DUCKDB is set but python3 cannot import duckdb (pip install duckdb)"
        );
        eprintln!("fleet: SKIPPED: python3 has no duckdb (pip install duckdb; set XMPPCAP_REQUIRE_DUCKDB to make this a failure)");
        return;
    }
    let dir = scratch("duckdb");
    let out = format!("{}/", dir.display());
    let mut args = vec!["report", "--no-progress", "--format", "ndjson", "-o", &out];
    let captures = [FAILOVER, WSS, "fixtures/desktop-no-answer.pcapng"];
    args.extend(captures);
    for keys in [
        "keys/finesse-failover.keys",
        "keys/finesse-wss.keys",
        "keys/desktop-no-answer.keys",
    ] {
        args.extend(["--keylog", keys]);
    }
    assert!(xmppcap(&args).status.code().is_some_and(|c| c < 2));
    // README's query names OUT/; run it on this directory.
    let sql = readme_query().replace("OUT/", &out);
    let script = "import duckdb, sys\nfor row in duckdb.sql(sys.argv[1]).fetchall():\n    print('|'.join(map(str, row)))";
    let done = Command::new("python3")
        .args(["-c", script, &sql])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let rows = String::from_utf8_lossy(&done.stdout);
    let failovers: Vec<&str> = rows
        .lines()
        .filter(|r| r.contains("conn.failover"))
        .collect();
    assert_eq!(failovers.len(), 2, "{rows}");
    assert!(
        failovers[0].starts_with("fixtures/desktop-no-answer.pcapng|"),
        "{rows}"
    );
    assert!(
        failovers[1].starts_with("fixtures/finesse-failover.pcapng|"),
        "{rows}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
