//! The connection story told with and without keys: for every committed
//! fixture that has a key log, each connection's role, ending and keepalive
//! count must be the same whether the story was read decrypted or inferred
//! from the wire alone (issue 10 §1).

use std::path::Path;

use xmppcap::conn::{Basis, Summary};
use xmppcap::pipeline::{analyze, Options};
use xmppcap::report::ndjson::Collector;
use xmppcap::report::ndjson::Selection;

/// Fixtures whose inferred story cannot honestly agree with the decrypted
/// one, each with the reason (the test checks they still differ).
const KNOWN_DIFFERENT: &[(&str, &str)] = &[(
    "finesse-bosh",
    "BOSH carries each XMPP ping in an HTTP request like any other body: \
     record sizes and timing cannot tell a ping answered at once from a poll \
     or the terminate body answered at once (inferred 2 and 3 where 0 and 2 were pings)",
)];

fn summaries(capture: &Path, keys: Option<&Path>) -> Vec<Summary> {
    let opts = Options {
        keylogs: keys.map(Path::to_path_buf).into_iter().collect(),
        ..Options::default()
    };
    let mut sink = Collector::new(Selection::All, 0, 0);
    let analyzed = analyze(capture, &opts, &mut sink).expect("fixture readable");
    analyzed
        .connections
        .into_iter()
        .filter_map(|c| c.summary)
        .collect()
}

/// A value's JSON string (`xmpp-websocket`, `rst`).
fn word(value: impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Role, ending and keepalive count of one connection, in words.
fn story(s: &Summary) -> String {
    format!(
        "{} / {} / {}",
        word(s.role),
        word(s.ended.how),
        s.keepalive.exchanges
    )
}

#[test]
fn role_ending_and_keepalives_agree_with_and_without_keys() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut table = vec!["fixture | stream | with keys | without keys".to_owned()];
    let mut differing = Vec::new();
    let mut fixtures: Vec<_> = std::fs::read_dir(root.join("fixtures"))
        .expect("fixtures/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    fixtures.sort();
    let mut checked = 0;
    for capture in fixtures {
        let Some(stem) = capture.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let keys = root.join("keys").join(format!("{stem}.keys"));
        if !keys.is_file() {
            continue;
        }
        checked += 1;
        let with = summaries(&capture, Some(&keys));
        let without = summaries(&capture, None);
        assert_eq!(with.len(), without.len(), "{stem}: connections");
        let mut same = true;
        for (w, n) in with.iter().zip(&without) {
            let (a, b) = (story(w), story(n));
            same &= a == b;
            let mark = if a == b { "" } else { "  ≠" };
            let b = match n.role_basis {
                Basis::Inferred => b,
                // Clear text before STARTTLS is read without keys.
                Basis::Decrypted => format!("{b} (seen in clear)"),
            };
            table.push(format!("{stem} | {} | {a} | {b}{mark}", w.stream));
        }
        if !same {
            differing.push(stem.to_owned());
        }
    }
    eprintln!("{}", table.join("\n"));
    assert!(checked >= 10, "only {checked} fixtures with keys");
    let known: Vec<String> = KNOWN_DIFFERENT
        .iter()
        .map(|(f, _)| (*f).to_owned())
        .collect();
    assert_eq!(
        differing, known,
        "fixtures whose story differs without keys"
    );
}
