//! Conformance of TCP reassembly with tshark's own (`tcp` rows of every
//! `<capture>.streams.tsv`): stream index, endpoints, byte count and SHA-256
//! per direction. Every difference must be listed in [`KNOWN_DIFFERENCES`]
//! with its reason, or the test fails naming the stream.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use sha2::{Digest, Sha256};
use xmppcap::finding::{Finding, Findings};
use xmppcap::pipeline::{self, Options, TcpConsumer};
use xmppcap::position::Dir;
use xmppcap::tcp;

use crate::corpus;

/// Streams (tshark's index) where xmppcap deliberately differs from tshark: (capture, stream, reason).
const KNOWN_DIFFERENCES: &[(&str, u64, &str)] = &[
    (
        "softportal-Bin/xmpp.out",
        0,
        "capture starts mid-connection on a keep-alive: tshark takes the keep-alive's sequence number as \
         the start of the server's direction and writes a `[1 bytes missing in capture file]` marker; \
         xmppcap treats the keep-alive as a keep-alive (83930 bytes + the 34-byte marker = tshark's 83964)",
    ),
    (
        "zeek/tcp_reassembly.pcap",
        0,
        "crafted capture with overlapping segments whose bytes conflict: xmppcap keeps the first copy seen \
         for every sequence number (documented overlap policy, reported as tcp.overlap_mismatch); \
         tshark's follow keeps whichever buffered fragment starts at the current position",
    ),
    (
        "wireshark-4.0.17/captures/wireguard-ping-tcp-dsb.pcapng",
        0,
        "the TCP connection is inside a WireGuard tunnel that tshark decrypts with the capture's keys; \
         xmppcap does not decrypt WireGuard",
    ),
];

/// Streams whose index differs: (capture, xmppcap's index, tshark's index, reason). Their bytes must match.
const INDEX_SHIFTS: &[(&str, u64, u64, &str)] = &[(
    "ndpi/tls_heur__vmess-websocket.pcapng",
    2,
    3,
    "Wireshark's SOCKS dissector opens a conversation for the proxied target, which takes tcp.stream 2; \
     xmppcap does not decode SOCKS",
)];

#[derive(Default)]
struct Digests {
    streams: BTreeMap<u64, StreamDigest>,
}

struct StreamDigest {
    client: SocketAddr,
    server: SocketAddr,
    hashers: [Sha256; 2],
    bytes: [u64; 2],
    gap_bytes: [u64; 2],
    /// A gap not yet followed by data: tshark's follow marks a gap only when
    /// bytes come after it.
    pending_gap: [u64; 2],
}

impl Findings for Digests {
    fn push_finding(&mut self, _finding: Finding) {}
}

impl tcp::Sink for Digests {
    fn on_tcp(&mut self, event: tcp::Event<'_>) {
        match event {
            tcp::Event::Opened {
                stream,
                client,
                server,
                ..
            } => {
                self.streams.insert(
                    stream,
                    StreamDigest {
                        client,
                        server,
                        hashers: [Sha256::new(), Sha256::new()],
                        bytes: [0; 2],
                        gap_bytes: [0; 2],
                        pending_gap: [0; 2],
                    },
                );
            }
            tcp::Event::Data {
                stream, dir, bytes, ..
            } => {
                if let Some(d) = self.streams.get_mut(&stream) {
                    let i = dir.index();
                    let pending = std::mem::take(&mut d.pending_gap[i]);
                    if pending > 0 {
                        // tshark 4.0's follow writes this text (with its NUL) in place of missing bytes.
                        let marker = format!("[{pending} bytes missing in capture file]\0");
                        d.hashers[i].update(marker.as_bytes());
                        d.bytes[i] += marker.len() as u64;
                    }
                    d.hashers[i].update(bytes);
                    d.bytes[i] += bytes.len() as u64;
                }
            }
            tcp::Event::Gap {
                stream, dir, len, ..
            } => {
                if let Some(d) = self.streams.get_mut(&stream) {
                    d.gap_bytes[dir.index()] += len;
                    d.pending_gap[dir.index()] += len;
                }
            }
            _ => {}
        }
    }
}

impl TcpConsumer for Digests {}

#[test]
fn tcp_streams_match_tshark() {
    let Some(corpus) = corpus::dir("tcp_streams_match_tshark") else {
        return;
    };
    let (mut captures, mut compared, mut exact, mut known) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for entry in corpus::manifest(&corpus) {
        let name = corpus::short(&corpus, &entry.capture);
        let mut digests = Digests::default();
        if let Err(e) = pipeline::run_tcp(&entry.capture, &Options::default(), &mut digests) {
            failures.push(format!("{name}: {e}"));
            continue;
        }
        captures += 1;
        let rows: Vec<_> = corpus::stream_rows(&entry.capture)
            .into_iter()
            .filter(|r| r.layer == "tcp")
            .collect();
        let mut by_stream: BTreeMap<u64, Vec<&corpus::StreamRow>> = BTreeMap::new();
        for row in &rows {
            by_stream.entry(row.stream).or_default().push(row);
        }
        for (stream, rows) in by_stream {
            compared += 1;
            let shift = INDEX_SHIFTS.iter().find(|k| k.0 == name && k.2 == stream);
            let ours = shift.map_or(stream, |k| k.1);
            let problem = compare(&digests, ours, &rows);
            match (
                problem,
                KNOWN_DIFFERENCES
                    .iter()
                    .find(|k| k.0 == name && k.1 == stream),
            ) {
                (None, None) if shift.is_some() => known += 1,
                (None, None) => exact += 1,
                (None, Some(_)) => failures.push(format!(
                    "{name} stream {stream}: listed as known difference but matches"
                )),
                (Some(_), Some(_)) => known += 1,
                (Some(p), None) => failures.push(format!("{name} stream {stream}: {p}")),
            }
        }
        // Streams tshark does not have are a difference too.
        for stream in digests.streams.keys() {
            let theirs = INDEX_SHIFTS
                .iter()
                .find(|k| k.0 == name && k.1 == *stream)
                .map_or(*stream, |k| k.2);
            if !rows.iter().any(|r| r.stream == theirs) {
                failures.push(format!(
                    "{name} stream {stream}: xmppcap has it, tshark does not"
                ));
            }
        }
    }
    eprintln!(
        "tcp conformance: {captures} captures, {compared} streams compared, {exact} exact, {known} known differences, {} failures",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "TCP streams differ from tshark:\n{}",
        failures.join("\n")
    );
}

fn compare(digests: &Digests, stream: u64, rows: &[&corpus::StreamRow]) -> Option<String> {
    let Some(ours) = digests.streams.get(&stream) else {
        return Some("tshark has it, xmppcap does not".to_owned());
    };
    let mut problems = Vec::new();
    for row in rows {
        let tshark_client_is_ours =
            row.client == ours.client.to_string() && row.server == ours.server.to_string();
        let flipped =
            row.client == ours.server.to_string() && row.server == ours.client.to_string();
        if !tshark_client_is_ours && !flipped {
            problems.push(format!(
                "endpoints differ: tshark {} ↔ {}, xmppcap {} → {}",
                row.client, row.server, ours.client, ours.server
            ));
            continue;
        }
        let tshark_dir = if row.dir == "c2s" {
            Dir::ClientToServer
        } else {
            Dir::ServerToClient
        };
        let dir = if flipped {
            tshark_dir.flip()
        } else {
            tshark_dir
        };
        let sha: String = ours.hashers[dir.index()]
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let bytes = ours.bytes[dir.index()];
        if bytes != row.bytes || sha != row.sha256 {
            problems.push(format!(
                "{} (our {dir}): tshark {} bytes, xmppcap {} bytes (+{} in gaps){}",
                row.dir,
                row.bytes,
                bytes,
                ours.gap_bytes[dir.index()],
                if bytes == row.bytes {
                    ", same length, different bytes"
                } else {
                    ""
                }
            ));
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}
