//! Issue 15's cases on their generated fixtures (see fixtures/README.md,
//! "Real-capture cases"), through the binary as a user runs it: what must
//! and must not be reported. The exact decrypted bytes and reassembled
//! streams are compared with the generator's truth by the library's
//! `tests/xmppcap/fixtures_*.rs`; here the commands' answers are checked.

use serde_json::Value;

use crate::cli::xmppcap;

/// Runs a command with `--format json` and gives the first capture's object and the exit code.
fn json(args: &[&str]) -> (Value, Option<i32>) {
    let mut all = args.to_vec();
    all.extend(["--format", "json", "--no-progress"]);
    let out = xmppcap(&all);
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "{all:?}: exit {code:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    (doc["captures"][0].clone(), code)
}

/// (level, code, stream, frame) of every finding.
fn findings(capture: &Value) -> Vec<(String, String, Option<u64>, Option<u64>)> {
    capture["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["level"].as_str().unwrap_or_default().to_owned(),
                f["code"].as_str().unwrap_or_default().to_owned(),
                f["stream"].as_u64(),
                f["frame"].as_u64(),
            )
        })
        .collect()
}

fn codes(capture: &Value) -> Vec<String> {
    findings(capture).into_iter().map(|f| f.1).collect()
}

fn port(endpoint: &Value) -> u64 {
    let s = endpoint.as_str().unwrap_or_default();
    s.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_binary_protocol_without_a_handshake_is_not_a_websocket() {
    const CAP: &str = "fixtures/binary-not-websocket.pcap";
    let (report, code) = json(&["report", CAP, "--fail-on", "warn"]);
    assert_eq!(code, Some(0), "{:?}", findings(&report));
    assert!(
        !codes(&report).iter().any(|c| c.starts_with("ws.")),
        "{:?}",
        codes(&report)
    );
    let conn = &report["connections"][0];
    let layers = conn["layers"].as_array().expect("layers");
    assert_eq!(
        layers,
        &["unknown"],
        "not WebSocket, not anything else either"
    );
    assert_eq!(report["sessions"].as_array().map(Vec::len), Some(0));
    // The connection is there, whole, ended by the switch's RST.
    let (streams, _) = json(&["streams", CAP]);
    let s = &streams["streams"][0];
    assert_eq!(streams["streams"].as_array().map(Vec::len), Some(1));
    assert_eq!(port(&s["server"]), 6653);
    assert_eq!(s["rst_from"], "c2s");
    assert_eq!(s["ending"], "rst");
    assert_eq!(s["client_to_server"]["gaps"], 0);
    assert_eq!(s["server_to_client"]["gaps"], 0);
    // `ws` finds nothing to show, and says so.
    let out = xmppcap(&["ws", CAP, "--no-progress"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("nothing of this kind"), "{text}");
}

#[test]
fn tunnelled_tcp_keeps_tsharks_stream_numbers_and_geneve_is_named() {
    const CAP: &str = "fixtures/tunnels.pcap";
    let (streams, _) = json(&["streams", CAP]);
    let list = streams["streams"].as_array().expect("streams");
    // tshark 4.0 (`-T fields -e tcp.stream`) numbers GRE 0, GRE+key 1,
    // ERSPAN II 2, ERSPAN III 3, VXLAN 4, MPLS 5, PPPoE 6, IP-in-IP 7, IPv6
    // fragments 8 and Geneve 9, each from its SYN 11 frames after the last
    // (the IPv6 one has two more: its fragments).
    assert_eq!(list.len(), 9, "Geneve is not decoded, the rest is");
    for (i, s) in list.iter().enumerate() {
        assert_eq!(s["stream"], i as u64);
        assert_eq!(port(&s["client"]), 52_000 + i as u64, "stream {i}");
        assert_eq!(s["first"]["frame"], 1 + 11 * i as u64, "stream {i}");
        assert_eq!(s["origin"], "handshake", "stream {i}");
        assert_eq!(s["ending"], "fin", "stream {i}");
        let (up, down) = if i == 8 { (120, 1200) } else { (120, 300) };
        assert_eq!(s["client_to_server"]["bytes"], up, "stream {i}");
        assert_eq!(s["server_to_client"]["bytes"], down, "stream {i}");
        assert_eq!(s["server_to_client"]["gaps"], 0, "stream {i}");
    }
    assert_eq!(list[8]["client"], "[2001:db8:10::21]:52008");
    assert_eq!(list[0]["client"], "192.168.10.21:52000");
    let (report, code) = json(&["report", CAP, "--fail-on", "info"]);
    assert_eq!(code, Some(1), "the Geneve finding is info");
    let skipped: Vec<_> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "decode.tunnel_not_decoded")
        .collect();
    assert_eq!(skipped.len(), 1, "{:?}", codes(&report));
    assert_eq!(skipped[0]["level"], "info", "TCP was decoded, so info");
    assert_eq!(skipped[0]["frame"], 102);
    let message = skipped[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Geneve"), "{message}");
    assert!(message.starts_with("11 packets"), "{message}");
    // The server's IPv6 data segment came as three fragments, put back together.
    assert_eq!(report["decode"]["fragments"]["reassembled"], 1);
    assert_eq!(report["decode"]["fragments"]["dropped"], 0);
}

#[test]
fn a_frame_dated_decades_later_is_a_glitch_not_a_new_stream() {
    const CAP: &str = "fixtures/tcp-time-glitch.pcap";
    let (streams, _) = json(&["streams", CAP]);
    let list = streams["streams"].as_array().expect("streams");
    assert_eq!(list.len(), 1, "tshark 4.0 sees one stream");
    assert_eq!(list[0]["first"]["frame"], 1);
    assert_eq!(list[0]["last"]["frame"], 22);
    assert_eq!(list[0]["last"]["ts"], "2026-03-02T09:03:00.011132Z");
    assert_eq!(list[0]["server_to_client"]["bytes"], 5400);
    let (report, code) = json(&["report", CAP, "--fail-on", "warn"]);
    assert_eq!(code, Some(1));
    let glitches: Vec<_> = findings(&report)
        .into_iter()
        .filter(|f| f.1 == "capture.time_glitch")
        .collect();
    assert_eq!(
        glitches,
        [("warn".into(), "capture.time_glitch".into(), None, Some(11))]
    );
    assert_eq!(report["capture"]["time_glitches"], 1);
    // No negative number anywhere in the JSON, no negative duration in the tables.
    assert_eq!(negative_numbers(&report, "report"), Vec::<String>::new());
    assert_eq!(negative_numbers(&streams, "streams"), Vec::<String>::new());
    for command in ["report", "streams"] {
        let out = xmppcap(&[command, CAP, "--no-progress"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.lines().any(|l| l.contains("(-") || l.contains(" -")),
            "{command}: {text}"
        );
    }
    let out = xmppcap(&["streams", CAP, "--no-progress"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 min 0 s"));
}

/// JSON paths of every number below zero.
fn negative_numbers(v: &Value, path: &str) -> Vec<String> {
    match v {
        Value::Number(n) if n.as_f64().is_some_and(|x| x < 0.0) => vec![format!("{path} = {n}")],
        Value::Array(a) => a
            .iter()
            .enumerate()
            .flat_map(|(i, x)| negative_numbers(x, &format!("{path}[{i}]")))
            .collect(),
        Value::Object(o) => o
            .iter()
            .flat_map(|(k, x)| negative_numbers(x, &format!("{path}.{k}")))
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn deflate_compressed_tls_12_decrypts_to_the_http_it_carries() {
    const CAP: &str = "fixtures/tls12-deflate.pcapng";
    const KEYS: &str = "keys/tls12-deflate.keys";
    let (tls, _) = json(&["tls", CAP, "--keylog", KEYS]);
    let t = &tls["connections"][0]["tls"];
    assert_eq!(t["version"], "TLS 1.2");
    assert_eq!(t["suite"], "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    assert_eq!(t["compression"], "deflate");
    assert_eq!(t["decrypted"], "yes");
    // Finished, request, close_notify up; Finished, two response records, close_notify down.
    assert_eq!(t["c2s"]["records_decrypted"], 3);
    assert_eq!(t["s2c"]["records_decrypted"], 4);
    let (report, _) = json(&["report", CAP, "--keylog", KEYS]);
    assert!(
        !codes(&report).iter().any(|c| c.starts_with("tls.")),
        "{:?}",
        codes(&report)
    );
    let follow = |dir: &str| {
        let out = xmppcap(&[
            "follow", CAP, "0", "--layer", "tls", "--raw", "--dir", dir, "--keylog", KEYS,
        ]);
        assert_eq!(out.status.code(), Some(0));
        out.stdout
    };
    let request = follow("client");
    assert!(request.starts_with(b"GET /finesse/api/User/1001 HTTP/1.1\r\n"));
    assert!(request.ends_with(b"\r\n\r\n"));
    let response = String::from_utf8(follow("server")).expect("inflated text");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|n| n.parse().ok())
        .expect("Content-Length");
    assert!(head.starts_with("HTTP/1.1 200 OK"));
    assert_eq!(body.len(), length, "every inflated byte, none more");
    assert!(body.ends_with("</teams></User>"));
}

#[test]
fn each_added_tls_12_suite_family_decrypts() {
    const CAP: &str = "fixtures/tls12-suites.pcapng";
    let (tls, _) = json(&["tls", CAP, "--keylog", "keys/tls12-suites.keys"]);
    let suites: Vec<&str> = tls["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .map(|c| {
            assert_eq!(c["tls"]["decrypted"], "yes", "{}", c["tls"]["suite"]);
            assert_eq!(c["tls"]["c2s"]["records_decrypted"], 3);
            assert_eq!(c["tls"]["s2c"]["records_decrypted"], 3);
            c["tls"]["suite"].as_str().unwrap_or_default()
        })
        .collect();
    assert_eq!(
        suites,
        [
            "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
            "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384",
            "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384",
            "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
            "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384",
        ]
    );
    let (report, code) = json(&[
        "report",
        CAP,
        "--keylog",
        "keys/tls12-suites.keys",
        "--fail-on",
        "warn",
    ]);
    assert_eq!(code, Some(0), "{:?}", findings(&report));
}

#[test]
fn tls_on_a_plain_xmpp_port_and_an_unanswered_stream_are_named() {
    const CAP: &str = "fixtures/xmpp-tls-on-plain-port.pcap";
    let (report, code) = json(&["report", CAP, "--fail-on", "error"]);
    assert_eq!(code, Some(1));
    let f = findings(&report);
    let want = [
        ("error", "xmpp.tls_on_plaintext_port", Some(0), Some(4)),
        ("error", "xmpp.stream_error", Some(0), Some(6)),
        ("warn", "xmpp.no_stream_response", Some(1), Some(15)),
    ];
    let got: Vec<_> = f
        .iter()
        .map(|(l, c, s, fr)| (l.as_str(), c.as_str(), *s, *fr))
        .collect();
    assert_eq!(got, want);
    // The server's reply is read as XMPP and shown, not fed to TLS.
    let shown: Vec<(&str, &str)> = report["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["stream"] == 0 && e["dir"] == "s2c")
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default(),
                e["summary"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        shown
            .iter()
            .any(|(_, s)| *s == "stream error not-well-formed"),
        "{shown:?}"
    );
    let (tls, _) = json(&["tls", CAP]);
    assert_eq!(tls["connections"].as_array().map(Vec::len), Some(0));
}

/// Every command on every fixture above: it runs to the end (exit 0 or 1), never exit 2 or a panic.
#[test]
fn every_command_runs_on_every_real_capture_fixture() {
    const CASES: [(&str, &str); 6] = [
        ("fixtures/binary-not-websocket.pcap", ""),
        ("fixtures/tunnels.pcap", ""),
        ("fixtures/tcp-time-glitch.pcap", ""),
        ("fixtures/tls12-deflate.pcapng", "keys/tls12-deflate.keys"),
        ("fixtures/tls12-suites.pcapng", "keys/tls12-suites.keys"),
        ("fixtures/xmpp-tls-on-plain-port.pcap", ""),
    ];
    for (capture, keys) in CASES {
        let key_args: &[&str] = if keys.is_empty() {
            &[]
        } else {
            &["--keylog", keys]
        };
        let mut runs: Vec<Vec<&str>> = ["report", "streams", "tls", "ws", "http"]
            .iter()
            .map(|c| vec![*c, capture, "--fail-on", "error"])
            .collect();
        runs.push(vec!["report", capture, "--format", "html"]);
        runs.push(vec!["follow", capture, "0"]);
        runs.push(vec!["follow", capture, "0", "--raw", "--dir", "server"]);
        if !keys.is_empty() {
            runs.push(vec!["follow", capture, "0", "--layer", "tls"]);
        }
        for mut args in runs {
            if args[0] != "streams" {
                args.extend_from_slice(key_args);
            }
            args.push("--no-progress");
            let out = xmppcap(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                matches!(out.status.code(), Some(0 | 1)),
                "{args:?}: exit {:?}: {stderr}",
                out.status.code()
            );
            assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
            assert!(!out.stdout.is_empty(), "{args:?}");
        }
    }
}
