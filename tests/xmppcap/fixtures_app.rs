//! Every committed fixture through the whole pipeline: the decrypted TLS
//! bytes and the WebSocket messages must be exactly what the generator sent.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};
use xmppcap::pipeline::{self, EventSink, Options};
use xmppcap::position::{Dir, FrameRef};
use xmppcap::report::event::{Detail, Event};
use xmppcap_fixturegen as fixturegen;

#[derive(Default)]
struct Seen {
    plaintext: BTreeMap<(u64, Dir), Vec<u8>>,
    ws: BTreeMap<u64, Vec<WsSeen>>,
}

/// (dir, opcode, compressed, length, SHA-256 of the text or "", close code).
type WsSeen = (Dir, String, bool, u64, String, Option<u16>);

/// The generator's direction as the analyzer's: the generator has its own
/// type because it shares no code with what it tests.
fn analyzer_dir(dir: fixturegen::Dir) -> Dir {
    match dir {
        fixturegen::Dir::ClientToServer => Dir::ClientToServer,
        fixturegen::Dir::ServerToClient => Dir::ServerToClient,
    }
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl EventSink for Seen {
    fn emit(&mut self, e: Event) {
        let (Some(stream), Some(dir)) = (e.stream, e.dir) else {
            return;
        };
        let seen = match &e.detail {
            Detail::WsMessage(m) => {
                let text = m
                    .text
                    .as_deref()
                    .map(|t| sha(t.as_bytes()))
                    .unwrap_or_default();
                (
                    dir,
                    m.opcode.to_owned(),
                    m.compressed,
                    m.len.unwrap_or(0),
                    text,
                    None,
                )
            }
            Detail::WsControl(c) => (
                dir,
                c.opcode.to_owned(),
                false,
                0,
                String::new(),
                c.close_code,
            ),
            _ => return,
        };
        self.ws.entry(stream).or_default().push(seen);
    }

    fn on_plaintext(&mut self, stream: u64, dir: Dir, _at: FrameRef, bytes: &[u8]) {
        self.plaintext
            .entry((stream, dir))
            .or_default()
            .extend_from_slice(bytes);
    }
}

#[test]
fn every_fixture_decrypts_and_decodes_to_what_was_sent() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    let (mut tls_checked, mut ws_checked) = (0, 0);
    for spec in fixturegen::catalog() {
        let Ok(fixture) = (spec.build)() else {
            failures.push(format!("{}: generator failed", spec.name));
            continue;
        };
        let keys = root.join("keys").join(spec.keys_name());
        let opts = Options {
            keylogs: if keys.is_file() {
                vec![keys]
            } else {
                Vec::new()
            },
            show_secrets: true,
            xmpp_message_text: true,
            ..Options::default()
        };
        let mut seen = Seen::default();
        if let Err(e) = pipeline::analyze(&root.join("fixtures").join(spec.name), &opts, &mut seen)
        {
            failures.push(format!("{}: {e}", spec.name));
            continue;
        }
        for truth in &fixture.streams {
            let stream = u64::from(truth.index);
            if let Some(tls) = &truth.tls {
                tls_checked += 1;
                for dir in Dir::BOTH {
                    let got = seen
                        .plaintext
                        .get(&(stream, dir))
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    if got != tls[dir.index()].bytes.as_slice() {
                        failures.push(format!(
                            "{} stream {stream} {dir}: {} plaintext bytes, expected {}",
                            spec.name,
                            got.len(),
                            tls[dir.index()].bytes.len()
                        ));
                    }
                }
            }
            if truth.ws.is_empty() {
                continue;
            }
            ws_checked += 1;
            let expected: Vec<WsSeen> = truth
                .ws
                .iter()
                .map(|w| {
                    let is_data = w.opcode == "text" || w.opcode == "binary";
                    let text = if w.opcode == "text" {
                        sha(&w.payload)
                    } else {
                        String::new()
                    };
                    let len = if is_data { w.payload.len() as u64 } else { 0 };
                    (
                        analyzer_dir(w.dir),
                        w.opcode.to_owned(),
                        w.compressed,
                        len,
                        text,
                        w.close_code,
                    )
                })
                .collect();
            let got = seen.ws.get(&stream).cloned().unwrap_or_default();
            if got != expected {
                let at = got
                    .iter()
                    .zip(&expected)
                    .position(|(a, b)| a != b)
                    .unwrap_or(got.len().min(expected.len()));
                failures.push(format!(
                    "{} stream {stream}: {} WebSocket messages/controls, expected {}; first difference at {at}: {:?} vs {:?}",
                    spec.name,
                    got.len(),
                    expected.len(),
                    got.get(at),
                    expected.get(at)
                ));
            }
        }
    }
    eprintln!("fixtures: {tls_checked} TLS streams and {ws_checked} WebSocket streams checked");
    assert!(
        tls_checked > 10 && ws_checked > 5,
        "too few checked: {tls_checked} TLS, {ws_checked} WebSocket"
    );
    assert!(
        failures.is_empty(),
        "fixtures differ from what was sent:\n{}",
        failures.join("\n")
    );
}
