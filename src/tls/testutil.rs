//! Test-only helpers: a tiny in-order TCP payload extractor for simple corpus
//! captures (the real capture and TCP stages live on other branches), a
//! collecting sink, and access to the shared corpus.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_parser::{PcapBlockOwned, PcapError};
use sha2::{Digest, Sha256};

use super::summary::{Event, GapReason, Sink};
use crate::finding::{Finding, Findings};
use crate::position::{Dir, FrameRef, Timestamp};

/// The corpus folder, or `None` (said loudly) when it is not there.
/// `PROPTEST_CASES` when set (a long run), else `default` (every `cargo test`).
pub(crate) fn proptest_cases_or(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub(crate) fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("XMPPCAP_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if dir.join("MANIFEST.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: corpus not found at {} (set XMPPCAP_CORPUS)",
            dir.display()
        );
        None
    }
}

/// One thing that happened in the capture, in file order.
#[derive(Debug)]
pub(crate) enum Item {
    Data {
        stream: u64,
        dir: Dir,
        at: FrameRef,
        bytes: Vec<u8>,
    },
    Gap {
        stream: u64,
        dir: Dir,
        at: FrameRef,
        len: u64,
    },
    /// Key log text from a pcapng Decryption Secrets Block at this file offset.
    Secrets { offset: u64, text: Vec<u8> },
}

type FlowKey = (Vec<u8>, u16, Vec<u8>, u16);

#[derive(Default)]
struct Flow {
    index: u64,
    /// (address, port) of the client.
    client: (Vec<u8>, u16),
    next: [Option<u32>; 2],
    /// Segments that arrived ahead of a hole, by sequence number.
    ahead: [BTreeMap<u32, (FrameRef, Vec<u8>)>; 2],
}

/// Reads a pcap/pcapng (optionally gzipped) and gives TCP payloads per
/// stream and direction in order, trimming retransmitted bytes and reporting
/// jumps forward as gaps. Enough for in-order captures only.
pub(crate) fn read_capture(path: &Path) -> Vec<Item> {
    let mut raw = Vec::new();
    std::fs::File::open(path)
        .unwrap()
        .read_to_end(&mut raw)
        .unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        raw = out;
    }
    let mut reader = pcap_parser::create_reader(1 << 20, &raw[..]).unwrap();
    let mut items = Vec::new();
    let mut flows: BTreeMap<FlowKey, Flow> = BTreeMap::new();
    let mut linktypes = Vec::new();
    let mut frame = 0u64;
    let mut consumed = 0u64;
    loop {
        match reader.next() {
            Ok((n, block)) => {
                let packet: Option<(i32, &[u8], Timestamp)> = match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        linktypes.push(h.network.0);
                        None
                    }
                    PcapBlockOwned::Legacy(b) => Some((
                        linktypes.first().copied().unwrap_or(1),
                        b.data,
                        Timestamp::from_secs_nanos(
                            i64::from(b.ts_sec),
                            u64::from(b.ts_usec) * 1000,
                        ),
                    )),
                    PcapBlockOwned::NG(pcap_parser::Block::InterfaceDescription(idb)) => {
                        linktypes.push(idb.linktype.0);
                        None
                    }
                    PcapBlockOwned::NG(pcap_parser::Block::EnhancedPacket(epb)) => {
                        let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        Some((
                            linktypes.get(epb.if_id as usize).copied().unwrap_or(1),
                            epb.data,
                            Timestamp::from_secs_nanos(0, ts.saturating_mul(1000)),
                        ))
                    }
                    PcapBlockOwned::NG(pcap_parser::Block::SimplePacket(spb)) => Some((
                        linktypes.first().copied().unwrap_or(1),
                        spb.data,
                        Timestamp::default(),
                    )),
                    PcapBlockOwned::NG(pcap_parser::Block::DecryptionSecrets(dsb)) => {
                        items.push(Item::Secrets {
                            offset: consumed,
                            text: dsb.data.to_vec(),
                        });
                        None
                    }
                    PcapBlockOwned::NG(_) => None,
                };
                if let Some((link, data, ts)) = packet {
                    frame += 1;
                    tcp_item(&mut flows, &mut items, link, data, FrameRef::new(frame, ts));
                }
                consumed += n as u64;
                reader.consume(n);
            }
            Err(PcapError::Eof) => {
                flush(&mut flows, &mut items);
                break;
            }
            Err(PcapError::Incomplete(_)) => reader.refill().unwrap(),
            Err(e) => panic!("{}: {e:?}", path.display()),
        }
    }
    items
}

fn tcp_item(
    flows: &mut BTreeMap<FlowKey, Flow>,
    items: &mut Vec<Item>,
    link: i32,
    data: &[u8],
    at: FrameRef,
) {
    let sliced = match link {
        1 => SlicedPacket::from_ethernet(data),
        0 | 108 => SlicedPacket::from_ip(data.get(4..).unwrap_or_default()),
        101 | 12 | 14 | 228 | 229 => SlicedPacket::from_ip(data),
        113 => SlicedPacket::from_linux_sll(data),
        _ => return,
    };
    let Ok(p) = sliced else { return };
    let (src, dst) = match &p.net {
        Some(NetSlice::Ipv4(ip)) => (
            ip.header().source_addr().octets().to_vec(),
            ip.header().destination_addr().octets().to_vec(),
        ),
        Some(NetSlice::Ipv6(ip)) => (
            ip.header().source_addr().octets().to_vec(),
            ip.header().destination_addr().octets().to_vec(),
        ),
        _ => return,
    };
    let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
        return;
    };
    let a = (src, tcp.source_port());
    let b = (dst, tcp.destination_port());
    let key = if a <= b {
        (a.0.clone(), a.1, b.0.clone(), b.1)
    } else {
        (b.0.clone(), b.1, a.0.clone(), a.1)
    };
    let count = flows.len() as u64;
    let flow = flows.entry(key).or_insert_with(|| Flow {
        index: count,
        // The first packet seen comes from the client (true for these captures).
        client: a.clone(),
        next: [None, None],
        ahead: [BTreeMap::new(), BTreeMap::new()],
    });
    let dir = if a == flow.client {
        Dir::ClientToServer
    } else {
        Dir::ServerToClient
    };
    let seq = tcp.sequence_number();
    let next = &mut flow.next[dir.index()];
    if tcp.syn() {
        *next = Some(seq.wrapping_add(1));
        return;
    }
    let payload = tcp.payload();
    if payload.is_empty() {
        return;
    }
    let expected = next.unwrap_or(seq);
    if (seq.wrapping_sub(expected) as i32) > 0 {
        // Out of order: wait for the hole to fill (flushed as a gap at the end).
        flow.ahead[dir.index()].insert(seq, (at, payload.to_vec()));
        return;
    }
    deliver(flow, items, dir, seq, at, payload);
    while let Some(expected) = flow.next[dir.index()] {
        let Some((&s, _)) = flow.ahead[dir.index()]
            .iter()
            .find(|(&s, _)| (s.wrapping_sub(expected) as i32) <= 0)
        else {
            break;
        };
        let (at, bytes) = flow.ahead[dir.index()].remove(&s).unwrap_or_default();
        deliver(flow, items, dir, s, at, &bytes);
    }
}

fn deliver(
    flow: &mut Flow,
    items: &mut Vec<Item>,
    dir: Dir,
    seq: u32,
    at: FrameRef,
    payload: &[u8],
) {
    let next = &mut flow.next[dir.index()];
    let expected = next.unwrap_or(seq);
    let ahead = seq.wrapping_sub(expected) as i32;
    let bytes = if ahead < 0 {
        // Retransmission: keep only what is new.
        let old = (-ahead) as usize;
        if old >= payload.len() {
            return;
        }
        &payload[old..]
    } else {
        if ahead > 0 {
            items.push(Item::Gap {
                stream: flow.index,
                dir,
                at,
                len: ahead as u64,
            });
        }
        payload
    };
    *next = Some(seq.wrapping_add(payload.len() as u32));
    items.push(Item::Data {
        stream: flow.index,
        dir,
        at,
        bytes: bytes.to_vec(),
    });
}

/// Delivers what is still waiting behind holes, with gaps.
fn flush(flows: &mut BTreeMap<FlowKey, Flow>, items: &mut Vec<Item>) {
    for flow in flows.values_mut() {
        for dir in Dir::BOTH {
            let waiting = std::mem::take(&mut flow.ahead[dir.index()]);
            for (seq, (at, bytes)) in waiting {
                deliver(flow, items, dir, seq, at, &bytes);
            }
        }
    }
}

/// `tls` rows of `<capture>.streams.tsv`: (stream, dir, bytes, sha256).
pub(crate) fn expected_tls(capture: &Path) -> Vec<(u64, Dir, u64, String)> {
    let tsv = std::fs::read_to_string(format!("{}.streams.tsv", capture.display())).unwrap();
    tsv.lines()
        .filter(|l| l.starts_with("tls\t"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let dir = if f[4] == "c2s" {
                Dir::ClientToServer
            } else {
                Dir::ServerToClient
            };
            (
                f[1].parse().unwrap(),
                dir,
                f[5].parse().unwrap(),
                f[6].to_string(),
            )
        })
        .collect()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A sink that keeps everything, for assertions.
#[derive(Debug, Default)]
pub(crate) struct Collect {
    pub(crate) plain: [Vec<u8>; 2],
    /// (dir, frame, len, reason)
    pub(crate) gaps: Vec<(Dir, u64, u64, GapReason)>,
    pub(crate) events: Vec<Event>,
    pub(crate) findings: Vec<Finding>,
    /// (dir, frame, len) of each plaintext delivery.
    pub(crate) deliveries: Vec<(Dir, u64, usize)>,
}

impl Findings for Collect {
    fn push_finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}

impl Sink for Collect {
    fn on_plaintext(&mut self, dir: Dir, at: FrameRef, bytes: &[u8]) {
        self.plain[dir.index()].extend_from_slice(bytes);
        self.deliveries.push((dir, at.frame, bytes.len()));
    }

    fn on_plaintext_gap(&mut self, dir: Dir, at: FrameRef, len: u64, reason: GapReason) {
        self.gaps.push((dir, at.frame, len, reason));
    }

    fn on_tls_event(&mut self, event: &Event) {
        self.events.push(event.clone());
    }
}
