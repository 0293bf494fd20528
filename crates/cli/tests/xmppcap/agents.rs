//! The agent's story end to end: on finesse-failover the 503 REST call of
//! its own connection is in agent 1001's story, the state timeline says how
//! the READY was entered, the dialog goes ALERTING → ACTIVE → DROPPED, and
//! call variables appear only with --raw; `--agent` keeps the section.

use serde_json::Value;

use crate::cli::xmppcap;

fn agents(capture: &str, extra: &[&str]) -> Vec<Value> {
    let cap = format!("fixtures/{capture}.pcapng");
    let keys = format!("keys/{capture}.keys");
    let mut args = vec![
        "report",
        cap.as_str(),
        "--keylog",
        keys.as_str(),
        "--format",
        "json",
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    let out = xmppcap(&args);
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    json["captures"][0]["agents"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn the_failovers_503_is_in_agent_1001s_story_with_its_states_and_dialog() {
    let agents = agents("finesse-failover", &[]);
    let [a] = agents.as_slice() else {
        panic!("one agent expected: {agents:?}");
    };
    assert_eq!(a["agent"], "1001");
    let calls = a["rest_calls"].as_array().expect("rest_calls");
    assert!(calls
        .iter()
        .any(|c| c["status"] == 503 && c["stream"] == 1 && c["linked_by"] == "url"));
    let sessions: Vec<&str> = a["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|s| s["node"].as_str())
        .collect();
    assert_eq!(sessions, ["finesse1.example.com", "finesse2.example.com"]);
    let states = a["states"].as_array().expect("states");
    let ready = &states[1];
    assert_eq!(
        (ready["state"].as_str(), ready["entered"]["how"].as_str()),
        (Some("READY"), Some("rest"))
    );
    assert_eq!(ready["entered"]["request"]["frame"], 142);
    assert_eq!(
        states.last().expect("a last state")["until_capture_end"],
        true
    );
    let dialog_states: Vec<&str> = a["dialogs"][0]["states"]
        .as_array()
        .expect("dialog states")
        .iter()
        .filter_map(|s| s["state"].as_str())
        .collect();
    assert_eq!(dialog_states, ["ALERTING", "ACTIVE", "DROPPED"]);
    assert!(a["dialogs"][0].get("call_variables").is_none());
    let codes: Vec<&str> = a["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(
        codes.contains(&"http.rest_error") && codes.contains(&"conn.failover"),
        "{codes:?}"
    );
}

#[test]
fn call_variables_only_with_raw_and_the_agent_filter_keeps_the_section() {
    let raw = agents("finesse-wss", &["--raw"]);
    let vars = raw[0]["dialogs"][0]["call_variables"]
        .as_array()
        .expect("call variables with --raw");
    assert!(vars.iter().any(|v| v["value"] == "AT&T"));
    assert_eq!(agents("finesse-wss", &["--agent", "1001"]).len(), 1);
    assert!(agents("finesse-wss", &["--agent", "2002"]).is_empty());
    let out = xmppcap(&[
        "report",
        "fixtures/finesse-failover.pcapng",
        "--keylog",
        "keys/finesse-failover.keys",
        "--no-progress",
    ]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("━━ agent 1001 · "), "{table}");
    assert!(
        table.contains("REST GET /finesse/api/User/1001 → 503 in 12 ms (frame 66, stream 1)"),
        "{table}"
    );
}

#[test]
fn the_html_report_has_each_agents_story() {
    let out = crate::cli::xmppcap(&[
        "report",
        "fixtures/finesse-failover.pcapng",
        "--keylog",
        "keys/finesse-failover.keys",
        "--format",
        "html",
        "--no-progress",
    ]);
    let page = String::from_utf8_lossy(&out.stdout);
    let (_, section) = page
        .split_once("<section id=\"a-0\"><h2>agent 1001")
        .expect("agent 1001's section");
    let section = section.split("</section>").next().unwrap_or_default();
    assert!(
        section.contains("<table class=\"agent-states\">"),
        "{section}"
    );
    assert!(section.contains("503"), "{section}");
    assert!(
        page.contains("<a href=\"#a-0\">agent 1001"),
        "listed in the contents"
    );
}

/// The NDJSON lines of `capture` with its keys and `extra` options.
fn ndjson_lines(capture: &str, extra: &[&str]) -> Vec<Value> {
    let cap = format!("fixtures/{capture}.pcapng");
    let keys = format!("keys/{capture}.keys");
    let mut args = vec![
        "report",
        cap.as_str(),
        "--keylog",
        keys.as_str(),
        "--format",
        "ndjson",
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    let out = xmppcap(&args);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn ndjson_ends_each_capture_with_the_json_reports_agent_entries() {
    for extra in [&[][..], &["--raw"][..]] {
        let lines = ndjson_lines("finesse-failover", extra);
        let kinds: Vec<&str> = lines.iter().filter_map(|l| l["kind"].as_str()).collect();
        let summaries: Vec<usize> = kinds
            .iter()
            .enumerate()
            .filter(|(_, k)| **k == "agent.summary")
            .map(|(i, _)| i)
            .collect();
        // Just before capture.end, after every event.
        assert_eq!(summaries, [kinds.len() - 2], "{kinds:?}");
        let mut line = lines[kinds.len() - 2].clone();
        assert_eq!(line["capture"], "fixtures/finesse-failover.pcapng");
        let object = line.as_object_mut().expect("an object");
        object.remove("kind");
        object.remove("capture");
        assert_eq!(vec![line], agents("finesse-failover", extra));
    }
}

#[test]
fn a_time_window_narrows_the_agents_story_in_every_format() {
    let window = ["--since", "+20s"];
    let agents = agents("finesse-failover", &window);
    let [a] = agents.as_slice() else {
        panic!("one agent expected: {agents:?}");
    };
    // The NOT_READY that ended at 19.3 s is left out; the READY that
    // began then and lasted into the window is kept whole.
    let states: Vec<&str> = a["states"]
        .as_array()
        .expect("states")
        .iter()
        .filter_map(|s| s["state"].as_str())
        .collect();
    assert_eq!(states, ["READY", "RESERVED", "TALKING", "READY"]);
    assert_eq!(a["rest_calls"].as_array().map(Vec::len), Some(0));
    let lines = ndjson_lines("finesse-failover", &window);
    let summary = lines
        .iter()
        .find(|l| l["kind"] == "agent.summary")
        .expect("an agent.summary line");
    assert_eq!(summary["states"], a["states"]);
    let table = xmppcap(&[
        "report",
        "fixtures/finesse-failover.pcapng",
        "--keylog",
        "keys/finesse-failover.keys",
        "--since",
        "+20s",
    ]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("filter: since +20s"), "{table}");
    assert!(!table.contains("NOT_READY"), "{table}");
    assert!(
        !table.contains("REST GET /finesse/api/User/1001 → 503"),
        "{table}"
    );
    let html = xmppcap(&[
        "report",
        "fixtures/finesse-failover.pcapng",
        "--keylog",
        "keys/finesse-failover.keys",
        "--since",
        "+20s",
        "--format",
        "html",
    ]);
    let html = String::from_utf8_lossy(&html.stdout);
    assert!(
        html.contains("<p class=\"filter\">Filtered: since +20s."),
        "{html}"
    );
    assert!(html.contains("<td>READY</td>"), "{html}");
    assert!(!html.contains("<td>NOT_READY</td>"), "{html}");
    assert!(!html.contains("class=\"state s-NOT_READY\""), "{html}");
}
