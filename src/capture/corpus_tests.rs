//! Smoke test over the public corpus (../shared/corpus, or `XMPPCAP_CORPUS`):
//! every capture in MANIFEST.tsv is read to the end, its packet count must
//! equal capinfos' "Number of packets" in `<capture>.tshark.txt`, and every
//! packet is decoded without a panic; the TCP segment count is compared with
//! tshark's protocol hierarchy and reported.

use std::path::{Path, PathBuf};

use super::{CaptureReader, Item};
use crate::decode::{Decoded, Decoder};
use crate::finding::Finding;
use crate::limits::Limits;

/// The corpus folder: `XMPPCAP_CORPUS`, else `../shared/corpus` from the crate root.
pub(crate) fn corpus_dir() -> Option<PathBuf> {
    let from_env = std::env::var_os("XMPPCAP_CORPUS").map(PathBuf::from);
    let relative = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    from_env
        .into_iter()
        .chain(std::iter::once(relative))
        .find(|p| p.join("MANIFEST.tsv").is_file())
}

/// Capture paths listed in MANIFEST.tsv, relative to the corpus folder.
pub(crate) fn manifest(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv readable");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split('\t').next().map(str::to_string))
        .collect()
}

/// capinfos' "Number of packets" and the sum of tshark's `tcp` lines in the protocol hierarchy.
fn tshark_counts(dir: &Path, capture: &str) -> (u64, u64) {
    let text = std::fs::read_to_string(dir.join(format!("{capture}.tshark.txt")))
        .expect("tshark.txt readable");
    let packets = text
        .lines()
        .find_map(|l| l.strip_prefix("Number of packets:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("Number of packets line");
    let mut in_hierarchy = false;
    let mut tcp = 0;
    for line in text.lines() {
        if line.starts_with("Protocol Hierarchy Statistics") {
            in_hierarchy = true;
        } else if in_hierarchy && line.starts_with("## ") {
            break;
        } else if in_hierarchy {
            let mut words = line.split_whitespace();
            if words.next() == Some("tcp") {
                let frames = words.next().and_then(|w| w.strip_prefix("frames:"));
                tcp += frames.and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
            }
        }
    }
    (packets, tcp)
}

struct Outcome {
    packets: u64,
    tcp_segments: u64,
    findings: Vec<Finding>,
}

fn read_and_decode(path: &Path) -> Outcome {
    let limits = Limits::default();
    let mut reader = CaptureReader::open(path, &limits).unwrap_or_else(|e| panic!("{e}"));
    let mut decoder = Decoder::new(&limits);
    let mut findings = Vec::new();
    let mut tcp_segments = 0;
    while let Some(item) = reader.next_item() {
        match item {
            Item::Packet(p) => {
                if let Decoded::Tcp(_) = decoder.on_packet(&p, &mut findings) {
                    tcp_segments += 1;
                }
            }
            Item::KeyLog { .. } => {}
            Item::Finding(f) => findings.push(f),
        }
    }
    Outcome {
        packets: reader.summary().packets,
        tcp_segments,
        findings,
    }
}

/// Captures whose clock jumps, with the frames the jumps are reported at, and why.
const TIME_GLITCHES: [(&str, &[u64], &str); 5] = [
    (
        "ndpi/jabber.pcap",
        &[289, 302, 317, 332, 347, 362],
        "sessions recorded days to years apart (2017 to 2022), concatenated into one file",
    ),
    (
        "wireshark-4.0.17/captures/http-ooo.pcap",
        &[1],
        "a crafted capture dated from the Unix epoch (frame 1 at 0.000000 s)",
    ),
    (
        "wireshark-4.0.17/captures/http-ooo2.pcap",
        &[1],
        "a crafted capture dated from the Unix epoch",
    ),
    (
        "wireshark-4.0.17/captures/tcp-badsegments.pcap",
        &[1],
        "a crafted capture dated from the Unix epoch",
    ),
    (
        "zeek/websocket_oversized-close-frame.pcapng",
        &[1],
        "a crafted capture dated from the Unix epoch",
    ),
];

/// Captures where xmppcap decodes fewer TCP segments than tshark, and why.
const TCP_COUNT_EXCEPTIONS: [(&str, &str); 1] = [(
    "wireshark-4.0.17/captures/wireguard-ping-tcp-dsb.pcapng",
    "the TCP runs inside WireGuard, which tshark decrypts with the capture's secrets",
)];

#[test]
fn corpus_packet_counts_match_capinfos_and_every_packet_decodes() {
    let Some(dir) = corpus_dir() else {
        eprintln!("SKIPPED: no corpus (set XMPPCAP_CORPUS or check out ../shared/corpus)");
        return;
    };
    let mut mismatches = Vec::new();
    let captures = manifest(&dir);
    for capture in &captures {
        let (expected_packets, tshark_tcp) = tshark_counts(&dir, capture);
        let outcome = read_and_decode(&dir.join(capture));
        let codes: Vec<&str> = outcome.findings.iter().map(|f| f.code).collect();
        eprintln!(
            "{capture}: packets {} (capinfos {expected_packets}), tcp segments {} (tshark {tshark_tcp}), findings {codes:?}",
            outcome.packets, outcome.tcp_segments
        );
        if outcome.packets != expected_packets {
            mismatches.push(format!(
                "{capture}: {} packets, capinfos says {expected_packets}",
                outcome.packets
            ));
        }
        if outcome.tcp_segments != tshark_tcp {
            match TCP_COUNT_EXCEPTIONS.iter().find(|(c, _)| c == capture) {
                Some((_, why)) => eprintln!("  known difference: {why}"),
                None => mismatches.push(format!(
                    "{capture}: {} TCP segments, tshark's protocol hierarchy has {tshark_tcp}",
                    outcome.tcp_segments
                )),
            }
        }
        let glitches: Vec<u64> = outcome
            .findings
            .iter()
            .filter(|f| f.code == "capture.time_glitch")
            .filter_map(|f| f.frame)
            .collect();
        let expected_glitches = TIME_GLITCHES
            .iter()
            .find(|(c, _, _)| c == capture)
            .map_or(&[][..], |(_, frames, _)| frames);
        if glitches != expected_glitches {
            mismatches.push(format!(
                "{capture}: time glitches at frames {glitches:?}, expected {expected_glitches:?}"
            ));
        }
        let unexpected: Vec<&Finding> = outcome
            .findings
            .iter()
            .filter(|f| !matches!(f.code, "capture.secrets_ignored" | "capture.time_glitch"))
            .collect();
        if !unexpected.is_empty() {
            mismatches.push(format!("{capture}: unexpected findings {unexpected:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "corpus mismatches:\n{}",
        mismatches.join("\n")
    );
    eprintln!("{} captures read", captures.len());
}

/// Every `.pcapng` under `dir`, recursively, in sorted order.
fn pcapng_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "pcapng") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// hadrielk/pcapng-test-generator files (both byte orders, every block type,
/// several sections and interfaces): the packet count equals capinfos'.
#[test]
fn pcapng_conformance_files_count_like_capinfos() {
    let Some(dir) = corpus_dir() else {
        eprintln!("SKIPPED: no corpus (set XMPPCAP_CORPUS or check out ../shared/corpus)");
        return;
    };
    let files = pcapng_files(&dir.join("pcapng-test-generator"));
    let mut mismatches = Vec::new();
    for path in &files {
        let Ok(relative) = path.strip_prefix(&dir) else {
            continue;
        };
        let relative = relative.to_string_lossy().into_owned();
        let (expected, _) = tshark_counts(&dir, &relative);
        let outcome = read_and_decode(path);
        let codes: Vec<&str> = outcome.findings.iter().map(|f| f.code).collect();
        eprintln!(
            "{relative}: packets {} (capinfos {expected}), findings {codes:?}",
            outcome.packets
        );
        if outcome.packets != expected {
            mismatches.push(format!(
                "{relative}: {} packets, capinfos says {expected}",
                outcome.packets
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "conformance mismatches:\n{}",
        mismatches.join("\n")
    );
    eprintln!("{} conformance files read", files.len());
}
