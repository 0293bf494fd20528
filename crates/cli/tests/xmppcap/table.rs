//! The table for terminals and for grep (issue 12): unwrapped when piped,
//! wrapped at `--width`, coloured on demand, one rounding rule for time and
//! offset, `--raw` stanzas, and the filters (`--stream`, `--agent`,
//! `--since`, `--until`, `--summary`) in every format, with the exit code
//! following what is shown.

use std::process::{Command, Output};

use crate::cli::xmppcap;
use crate::workspace_root;

const FAILOVER: &str = "fixtures/finesse-failover.pcapng";
const FAILOVER_KEYS: &str = "keys/finesse-failover.keys";

fn failover(extra: &[&str]) -> Output {
    let mut args = vec![
        "report",
        FAILOVER,
        "--keylog",
        FAILOVER_KEYS,
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    xmppcap(&args)
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

/// The rows of the session timelines: the lines after each `time (…)`
/// header up to the blank line or section after it.
fn timeline_lines(table: &str) -> Vec<&str> {
    let mut inside = false;
    let mut lines = Vec::new();
    for line in table.lines() {
        // A session's timeline (the desktop tables have no direction column).
        if line.starts_with(" time (") && line.contains(" dir ") {
            inside = true;
            continue;
        } else if line.starts_with(" time (") {
            inside = false;
            continue;
        } else if line.is_empty() || line.starts_with("━━") {
            inside = false;
        }
        if inside {
            lines.push(line);
        }
    }
    lines
}

#[test]
fn piped_the_table_is_one_line_per_event_and_every_finding_greps_whole() {
    let table = stdout(&failover(&[]));
    assert!(table.lines().all(|l| !l.ends_with(' ')), "trailing spaces");
    // Every finding's whole message is on exactly one line, in the findings
    // list; the timeline and the agent's story only point at it.
    let findings = json(&failover(&["--format", "json"]));
    let messages: Vec<&str> = findings["captures"][0]["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["message"].as_str())
        .collect();
    let longest = messages
        .iter()
        .max_by_key(|m| m.len())
        .copied()
        .unwrap_or("");
    assert!(longest.len() > 200, "{longest}");
    let list = table
        .split("\nfindings:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no findings list:\n{table}"));
    for message in &messages {
        let lines: Vec<&str> = table.lines().filter(|l| l.contains(message)).collect();
        let findings = messages.iter().filter(|m| *m == message).count();
        assert_eq!(lines.len(), findings, "{message} not once:\n{table}");
        assert!(lines.iter().all(|l| list.contains(*l)), "{lines:?}");
    }
    // The timeline's row and the agent's story name the code and the frame.
    let errors: Vec<&str> = table.lines().filter(|l| l.contains("ERROR")).collect();
    assert!(
        errors
            .iter()
            .any(|l| l.contains(" 168 ") && l.ends_with("finesse.api_error: see findings")),
        "{errors:?}"
    );
    assert!(
        table.contains(" error finesse.api_error (frame 168): see findings"),
        "{table}"
    );
    // Every timeline row splits into the same columns: awk's $4 is the frame.
    let rows = timeline_lines(&table);
    assert!(rows.len() > 40, "{table}");
    for row in rows {
        let words: Vec<&str> = row.split_whitespace().collect();
        assert!(words.len() >= 6, "{row}");
        assert!(words[1].starts_with(['+', '-']), "{row}");
        assert!(words[3].parse::<u64>().is_ok(), "{row}");
    }
}

#[test]
fn width_wraps_every_line_and_keeps_every_place_column_whole() {
    let piped = stdout(&failover(&[]));
    let at_80 = stdout(&failover(&["--width", "80"]));
    let at_200 = stdout(&failover(&["--width", "200"]));
    for (width, table) in [(80, &at_80), (200, &at_200)] {
        assert!(!timeline_lines(table).is_empty());
        // Every line fits: the tables, the headers, the stories, the findings.
        for line in table.lines() {
            assert!(line.chars().count() <= width, "{width}: {line}");
            assert!(!line.ends_with(' '), "{width}: trailing spaces in {line:?}");
        }
        // The time column is never cut: each time reads whole.
        assert!(table.contains(" 09:00:06.021  +6.021 "), "{table}");
    }
    let count = |t: &str| timeline_lines(t).len();
    assert!(count(&piped) <= count(&at_200));
    assert!(count(&at_200) < count(&at_80));
}

#[test]
fn time_and_offset_truncate_alike_in_both_precisions() {
    // Frame 14 is 3.872 ms after the first frame of session 1.
    let ms = stdout(&failover(&[]));
    assert!(
        ms.lines()
            .any(|l| l.starts_with(" 09:00:00.003  +0.003  s→c  14 ")),
        "{ms}"
    );
    let us = stdout(&failover(&["--precision", "us"]));
    assert!(
        us.lines()
            .any(|l| l.starts_with(" 09:00:00.003872  +0.003872  s→c  14 ")),
        "{us}"
    );
}

#[test]
fn local_time_says_so_in_the_header() {
    let out = Command::new(env!("CARGO_BIN_EXE_xmppcap"))
        .args([
            "report",
            FAILOVER,
            "--keylog",
            FAILOVER_KEYS,
            "--no-progress",
            "--local",
        ])
        .current_dir(workspace_root())
        .env("TZ", "America/St_Johns")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let table = stdout(&out);
    assert!(table.contains(" time (local) "), "{table}");
    // St. John's is 3 h 30 behind UTC in March (before daylight saving starts).
    assert!(
        table.contains("2026-03-02T05:30:00.000000-03:30 → 05:30:46.363"),
        "{table}"
    );
    // Every time goes through the one clock: the connection story's last
    // keepalive, the desktop's and the agent's tables (their heads say
    // so), the dialog's states, the REST traffic, the story's lines.
    for local in [
        "keepalive 3 every 11.2 s, last 05:30:41.355 (decrypted)",
        "ACTIVE at 05:30:26.349 (frame 162)",
        " 05:30:19.344  READY ",
        " 05:30:11.021  2 ",
        "(from 05:30:07.021, decrypted)",
        "  05:30:07.024 REST GET /finesse/api/User/1001 → 503",
    ] {
        assert!(table.contains(local), "{local:?} missing:\n{table}");
    }
    assert!(!table.contains("(UTC)"), "{table}");
    assert!(table.matches(" time (local) ").count() >= 4, "{table}");
    // No UTC time of day is left anywhere (the capture ran 09:00–09:01 UTC).
    assert!(!table.contains("09:00:"), "{table}");
}

#[test]
fn colour_always_paints_levels_directions_and_codes() {
    let table = stdout(&failover(&["--color", "always"]));
    assert!(table.contains("\u{1b}[31merror\u{1b}[0m"), "{table}");
    assert!(
        table.contains("\u{1b}[34mhttp.rest_error\u{1b}[0m"),
        "{table}"
    );
    assert!(table.contains("\u{1b}[38;5;14mc→s\u{1b}[39m"), "{table}");
    let never = stdout(&failover(&["--color", "never"]));
    assert!(!never.contains('\u{1b}'));
}

/// Runs the report under a pseudo-terminal (util-linux `script`), as a
/// user at a terminal would, with `env` set.
fn at_a_terminal(env: &[(&str, &str)]) -> Option<String> {
    let command = format!(
        "{} report {FAILOVER} --keylog {FAILOVER_KEYS} --no-progress",
        env!("CARGO_BIN_EXE_xmppcap")
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(workspace_root())
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn colour_auto_is_on_at_a_terminal_unless_no_color_and_never_in_a_pipe() {
    let piped = stdout(&failover(&["--color", "auto"]));
    assert!(!piped.contains('\u{1b}'));
    let Some(terminal) = at_a_terminal(&[]) else {
        panic!("util-linux `script` is needed to run under a pseudo-terminal");
    };
    assert!(terminal.contains("\u{1b}[31merror"), "{terminal}");
    let no_color = at_a_terminal(&[("NO_COLOR", "1")]).unwrap_or_default();
    assert!(no_color.contains("findings:"), "{no_color}");
    assert!(!no_color.contains('\u{1b}'), "{no_color}");
    // An empty NO_COLOR is unset (no-color.org).
    let empty = at_a_terminal(&[("NO_COLOR", "")]).unwrap_or_default();
    assert!(empty.contains("\u{1b}[31merror"), "{empty}");
}

#[test]
fn raw_shows_each_stanza_xml_redacted_in_the_table() {
    let table = stdout(&failover(&["--raw"]));
    let auth = table
        .lines()
        .find(|l| l.contains("  22  ") && l.contains(" xml "))
        .unwrap_or_else(|| panic!("no XML row for frame 22:\n{table}"));
    assert!(
        auth.ends_with(
            r#"<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">[redacted]</auth>"#
        ),
        "{auth}"
    );
    assert!(!stdout(&failover(&[])).contains(" xml "));
}

#[test]
fn stream_filter_keeps_that_stream_in_every_format() {
    let table = stdout(&failover(&["--stream", "2"]));
    assert!(table.contains("\nfilter: stream 2\n"), "{table}");
    assert!(table.contains("━━ session 2 "));
    assert!(!table.contains("━━ session 1 "));
    let findings: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("  ") && l.contains(" [frame "))
        .collect();
    assert!(!findings.is_empty());
    assert!(
        findings.iter().all(|l| l.contains("stream 2")),
        "{findings:?}"
    );
    let doc = json(&failover(&["--stream", "2", "--format", "json"]));
    assert_eq!(doc["filter"]["streams"], serde_json::json!([2]));
    let capture = &doc["captures"][0];
    for connection in capture["connections"].as_array().into_iter().flatten() {
        assert_eq!(connection["stream"], 2);
    }
    for event in capture["timeline"].as_array().into_iter().flatten() {
        assert_eq!(event["stream"], 2, "{event}");
    }
    let ndjson = stdout(&failover(&["--stream", "2", "--format", "ndjson"]));
    let mut lines = ndjson.lines();
    assert!(
        lines
            .next()
            .is_some_and(|l| l.contains(r#""filter":{"streams":[2]}"#)),
        "{ndjson}"
    );
    for line in lines.filter(|l| l.contains(r#""kind":"tcp."#)) {
        assert!(line.contains(r#""stream":2"#), "{line}");
    }
    // `ws` and `http` take the filter too.
    let ws = stdout(&xmppcap(&[
        "ws",
        FAILOVER,
        "--keylog",
        FAILOVER_KEYS,
        "--no-progress",
        "--stream",
        "0",
    ]));
    assert!(ws.contains("filter: stream 0"), "{ws}");
    let http = stdout(&xmppcap(&[
        "http",
        FAILOVER,
        "--keylog",
        FAILOVER_KEYS,
        "--no-progress",
        "--stream",
        "1",
    ]));
    assert!(http.contains("503"), "{http}");
    assert!(!http.contains("101 Switching Protocols"), "{http}");
}

#[test]
fn agent_filter_keeps_that_agents_sessions() {
    let table = stdout(&failover(&["--agent", "1001"]));
    assert!(table.contains("filter: agent 1001"));
    assert!(table.contains("━━ session 1 ") && table.contains("━━ session 2 "));
    let nobody = stdout(&failover(&["--agent", "9999"]));
    assert!(
        nobody.contains("0 TCP connections (0 TLS), 0 XMPP sessions"),
        "{nobody}"
    );
    assert!(!nobody.contains("findings:\n"), "{nobody}");
    // The SASL user names the agent when no JID was bound.
    let sasl = stdout(&xmppcap(&[
        "report",
        "fixtures/finesse-sasl-failure.pcapng",
        "--keylog",
        "keys/finesse-sasl-failure.keys",
        "--no-progress",
        "--agent",
        "1001",
    ]));
    assert!(sasl.contains("━━ session 1 · 1001"), "{sasl}");
    // NDJSON streams before a session names its agent: refused, clearly.
    let out = failover(&["--agent", "1001", "--format", "ndjson"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--agent"));
}

#[test]
fn time_window_keeps_what_happened_inside_it() {
    let table = stdout(&failover(&[
        "--since",
        "+5s",
        "--until",
        "2026-03-02T09:00:20Z",
    ]));
    assert!(
        table.contains("filter: since +5s, until 2026-03-02T09:00:20Z"),
        "{table}"
    );
    for row in timeline_lines(&table).iter() {
        let time = row.split_whitespace().next().unwrap_or_default();
        assert!(("09:00:05.000"..="09:00:20.000").contains(&time), "{row}");
    }
    let doc = json(&failover(&[
        "--since", "+5s", "--until", "+20s", "--format", "json",
    ]));
    assert_eq!(doc["filter"]["since"], "+5s");
    for f in doc["captures"][0]["findings"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let time = f["time"].as_str().unwrap_or_default();
        assert!(
            ("2026-03-02T09:00:05".."2026-03-02T09:00:20.000001").contains(&time),
            "{f}"
        );
    }
    let bad = failover(&["--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));
}

#[test]
fn summary_has_headers_stories_and_findings_without_timelines() {
    let table = stdout(&failover(&["--summary"]));
    assert!(table.contains("filter: summary (no timelines)"));
    assert!(table.contains("━━ session 1 ") && table.contains("  stream 0      role"));
    assert!(timeline_lines(&table).is_empty(), "{table}");
    assert!(table.contains("\nfindings:\n"));
    let doc = json(&failover(&["--summary", "--format", "json"]));
    assert_eq!(doc["captures"][0]["timeline"], serde_json::json!([]));
    let findings = doc["captures"][0]["findings"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(findings > 0, "{doc}");
}

#[test]
fn fail_on_judges_what_is_shown() {
    let all = failover(&["--fail-on", "error"]);
    assert_eq!(all.status.code(), Some(1), "the capture has errors");
    // Stream 0's findings are warnings at worst.
    let stream0 = failover(&["--fail-on", "error", "--stream", "0"]);
    assert_eq!(stream0.status.code(), Some(0));
    let before = failover(&["--fail-on", "error", "--until", "+7s", "--format", "json"]);
    assert_eq!(before.status.code(), Some(0));
    let ndjson = failover(&["--fail-on", "error", "--stream", "0", "--format", "ndjson"]);
    assert_eq!(ndjson.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ndjson.stdout).contains(r#""worst":"warn""#));
}

#[test]
fn the_html_report_says_it_was_filtered() {
    let out = failover(&["--stream", "2", "--format", "html"]);
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.contains("<p class=\"filter\">Filtered: stream 2."),
        "{page}"
    );
    let whole = failover(&["--format", "html"]);
    assert!(!String::from_utf8_lossy(&whole.stdout).contains("class=\"filter\""));
}

#[test]
fn raw_shows_each_stanzas_xml_in_the_html_report_too_redacted() {
    let page = |raw: bool| {
        let mut args = vec![
            "report",
            "fixtures/finesse-wss.pcapng",
            "--keylog",
            "keys/finesse-wss.keys",
            "--format",
            "html",
            "--no-progress",
        ];
        if raw {
            args.push("--raw");
        }
        String::from_utf8_lossy(&crate::cli::xmppcap(&args).stdout).into_owned()
    };
    let with = page(true);
    assert!(
        with.contains("<tr class=\"xml\"><td colspan=\"5\"><pre>&lt;auth xmlns=&quot;urn:ietf:params:xml:ns:xmpp-sasl&quot; mechanism=&quot;PLAIN&quot;&gt;[redacted]&lt;/auth&gt;</pre>"),
        "{with}"
    );
    assert!(!with.contains("Fin3sse"));
    assert!(!page(false).contains("class=\"xml\""));
}
