//! Every committed fixture, read through capture → decode → TCP, must give
//! exactly the streams its generator says it holds: index, endpoints, first
//! frame, and per direction the bytes present and the gaps at their offsets.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use xmppcap::finding::{Finding, Findings};
use xmppcap::pipeline::{self, Options, TcpConsumer};
use xmppcap::tcp;
use xmppcap_fixturegen::{self as fixturegen, truth::Gap};

#[derive(Default)]
struct Collected {
    streams: BTreeMap<u64, Stream>,
}

struct Stream {
    client: SocketAddr,
    server: SocketAddr,
    first_frame: u64,
    bytes: [Vec<u8>; 2],
    gaps: [Vec<Gap>; 2],
}

impl Findings for Collected {
    fn push_finding(&mut self, _finding: Finding) {}
}

impl tcp::Sink for Collected {
    fn on_tcp(&mut self, event: tcp::Event<'_>) {
        match event {
            tcp::Event::Opened {
                stream,
                at,
                client,
                server,
                ..
            } => {
                self.streams.insert(
                    stream,
                    Stream {
                        client,
                        server,
                        first_frame: at.frame,
                        bytes: Default::default(),
                        gaps: Default::default(),
                    },
                );
            }
            tcp::Event::Data {
                stream, dir, bytes, ..
            } => {
                if let Some(s) = self.streams.get_mut(&stream) {
                    s.bytes[dir.index()].extend_from_slice(bytes);
                }
            }
            tcp::Event::Gap {
                stream,
                dir,
                offset,
                len,
                ..
            } => {
                if let Some(s) = self.streams.get_mut(&stream) {
                    let gaps = &mut s.gaps[dir.index()];
                    // Adjacent gaps (e.g. a loss then a trailing cut) are one hole in the truth.
                    match gaps.last_mut() {
                        Some(last) if last.offset + last.len == offset => last.len += len,
                        _ => gaps.push(Gap { offset, len }),
                    }
                }
            }
            _ => {}
        }
    }
}

impl TcpConsumer for Collected {}

#[test]
fn every_fixture_reassembles_to_its_truth() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut failures = Vec::new();
    let mut checked = 0;
    for spec in fixturegen::catalog() {
        let fixture = match (spec.build)() {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{}: generator failed: {e}", spec.name));
                continue;
            }
        };
        let mut got = Collected::default();
        if let Err(e) = pipeline::run_tcp(&root.join(spec.name), &Options::default(), &mut got) {
            failures.push(format!("{}: {e}", spec.name));
            continue;
        }
        checked += 1;
        if got.streams.len() != fixture.streams.len() {
            failures.push(format!(
                "{}: {} streams, expected {}",
                spec.name,
                got.streams.len(),
                fixture.streams.len()
            ));
        }
        for truth in &fixture.streams {
            let Some(ours) = got.streams.get(&u64::from(truth.index)) else {
                failures.push(format!("{} stream {}: missing", spec.name, truth.index));
                continue;
            };
            if (ours.client, ours.server, ours.first_frame)
                != (truth.client, truth.server, truth.first_frame)
            {
                failures.push(format!(
                    "{} stream {}: {} → {} from frame {}, expected {} → {} from frame {}",
                    spec.name,
                    truth.index,
                    ours.client,
                    ours.server,
                    ours.first_frame,
                    truth.client,
                    truth.server,
                    truth.first_frame
                ));
            }
            for (i, dir) in ["c2s", "s2c"].iter().enumerate() {
                let (want, have) = (&truth.tcp[i], (&ours.bytes[i], &ours.gaps[i]));
                if &want.bytes != have.0 {
                    failures.push(format!(
                        "{} stream {} {dir}: {} bytes, expected {} (first difference at {})",
                        spec.name,
                        truth.index,
                        have.0.len(),
                        want.bytes.len(),
                        want.bytes
                            .iter()
                            .zip(have.0.iter())
                            .position(|(a, b)| a != b)
                            .unwrap_or(want.bytes.len().min(have.0.len()))
                    ));
                }
                if &want.gaps != have.1 {
                    failures.push(format!(
                        "{} stream {} {dir}: gaps {:?}, expected {:?}",
                        spec.name, truth.index, have.1, want.gaps
                    ));
                }
            }
        }
    }
    assert!(checked > 0, "no fixtures checked");
    assert!(
        failures.is_empty(),
        "fixtures differ from their truth:\n{}",
        failures.join("\n")
    );
}
