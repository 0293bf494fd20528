//! The fuzz smoke CI runs on stable (issue 13): every entry point of
//! `xmppcap::fuzzing`, shaped as the cargo-fuzz targets in `fuzz/` shape
//! their input, over seeds taken from the committed fixtures (captures,
//! HARs, key logs) and the public corpus at `../shared/corpus` when present,
//! then over deterministic mutations of them (bit flips, byte sets, inserts,
//! deletes, duplicated runs, splices with another seed, truncations).
//!
//! Each target runs its seeds, then mutations until [`MUTATIONS`] or
//! [`TIME_PER_TARGET`], whichever comes first (but at least
//! [`MIN_MUTATIONS`], however loaded the machine), so the whole smoke stays
//! within seconds per target in a debug build. A panic fails the test,
//! naming the target, and leaves the input that caused it in Cargo's
//! scratch folder for `cargo +nightly fuzz run <target> <file>`. The
//! libFuzzer campaign (`fuzz/README.md`) is separate and longer.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use xmppcap::capture::{CaptureReader, Item};
use xmppcap::fuzzing;
use xmppcap::limits::Limits;

/// Mutated inputs per target at most.
const MUTATIONS: usize = 2000;
/// Wall time per target at most (seeds included), for debug builds on a
/// shared machine.
const TIME_PER_TARGET: Duration = Duration::from_secs(4);
/// Mutations every target runs even past `TIME_PER_TARGET`.
const MIN_MUTATIONS: usize = 8;
/// Seeds longer than this are cut: a mutation is only as useful as the
/// parser gets through it quickly.
const SEED_BYTES: usize = 16 << 10;
/// Seeds kept per kind, spread over the sources.
const SEEDS_PER_KIND: usize = 48;

/// `fuzz/fuzz_targets/decode_packet.rs`'s table: the first byte picks one.
const LINK_TYPES: [u32; 11] = [1, 0, 108, 12, 14, 101, 228, 229, 113, 276, 147];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Files under `dir` (recursively), in name order.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn is_capture(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    [".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// The seed sources with their bytes, read once: fixtures first, then
/// the corpus when present.
fn sources() -> &'static [(PathBuf, Vec<u8>)] {
    static SOURCES: OnceLock<Vec<(PathBuf, Vec<u8>)>> = OnceLock::new();
    SOURCES.get_or_init(|| {
        let mut files = files_under(&repo().join("fixtures"));
        files.retain(|p| !p.starts_with(repo().join("fixtures/expected")));
        files.extend(files_under(&repo().join("keys")));
        files.extend(files_under(&repo().join("../shared/corpus")));
        files
            .into_iter()
            .filter_map(|p| Some((p.clone(), std::fs::read(&p).ok()?)))
            .collect()
    })
}

/// Every `keep`-th of `items`, at most [`SEEDS_PER_KIND`].
fn spread(items: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let step = items.len().div_ceil(SEEDS_PER_KIND).max(1);
    items.into_iter().step_by(step).collect()
}

fn cut(bytes: &[u8]) -> Vec<u8> {
    bytes[..bytes.len().min(SEED_BYTES)].to_vec()
}

/// Whole files of the kinds a target reads.
fn file_seeds(wanted: impl Fn(&Path) -> bool) -> Vec<Vec<u8>> {
    spread(
        sources()
            .iter()
            .filter(|(p, _)| wanted(p))
            .map(|(_, bytes)| cut(bytes))
            .collect(),
    )
}

/// Packets of the fixture captures (link type, bytes), a few per file.
fn packets() -> Vec<(u32, Vec<u8>)> {
    let mut out = Vec::new();
    for (path, _) in sources().iter().filter(|(p, _)| is_capture(p)) {
        let Ok(mut reader) = CaptureReader::open(path, &Limits::default()) else {
            continue;
        };
        let mut taken = 0;
        while let Some(item) = reader.next_item() {
            if let Item::Packet(packet) = item {
                out.push((packet.link_type.0 as u32, cut(packet.data)));
                taken += 1;
                if taken == 8 {
                    break;
                }
            }
        }
    }
    out
}

/// Byte windows of the captures starting at `markers` (protocol text and
/// records as they sit in the plain captures).
fn windows(markers: &[&[u8]], len: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (_, bytes) in sources() {
        for marker in markers {
            let mut from = 0;
            let mut found = 0;
            while let Some(at) = memchr::memmem::find(&bytes[from..], marker) {
                let start = from + at;
                out.push(bytes[start..(start + len).min(bytes.len())].to_vec());
                from = start + 1;
                found += 1;
                if found == 4 {
                    break;
                }
            }
        }
    }
    spread(out)
}

/// A small deterministic generator (xorshift64*): no crate, same inputs
/// on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to four byte-level edits of `input`, some borrowing from `other`.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if at < out.len() => out[at] ^= 1 << rng.below(8),
            1 if at < out.len() => {
                const EDGES: [u8; 6] = [0, 0x7f, 0x80, 0xff, b'<', b'\n'];
                out[at] = EDGES[rng.below(EDGES.len())];
            }
            2 => {
                let bytes: Vec<u8> = (0..1 + rng.below(8)).map(|_| rng.next() as u8).collect();
                out.splice(at..at, bytes);
            }
            3 => {
                let end = (at + 1 + rng.below(64)).min(out.len());
                out.drain(at.min(end)..end);
            }
            4 => {
                let end = (at + 1 + rng.below(64)).min(out.len());
                let run = out[at.min(end)..end].to_vec();
                out.splice(at..at, run);
            }
            5 if !other.is_empty() => {
                let from = rng.below(other.len());
                let end = (from + 1 + rng.below(256)).min(other.len());
                out.splice(at..at, other[from..end].iter().copied());
            }
            _ => out.truncate(at),
        }
    }
    out
}

/// Runs `entry` on every seed and then on mutations; a panic fails the
/// test with the target's name and the input saved.
fn smoke(target: &str, seeds: Vec<Vec<u8>>, entry: impl Fn(&[u8])) {
    assert!(!seeds.is_empty(), "{target}: no seeds");
    let start = Instant::now();
    let run = |input: &[u8], what: &str| {
        if catch_unwind(AssertUnwindSafe(|| entry(input))).is_err() {
            let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-smoke-{target}"));
            let _ = std::fs::write(&path, input);
            panic!("{target}: {what} panicked; input in {}", path.display());
        }
    };
    for (i, seed) in seeds.iter().enumerate() {
        run(seed, &format!("seed {i}"));
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ target.len() as u64);
    let mut done = 0;
    // The first MIN_MUTATIONS run whatever the clock says: on a loaded
    // machine the seeds alone can take the whole time of the slow targets,
    // and a smoke that mutated nothing would pass without testing anything.
    while done < MUTATIONS && (done < MIN_MUTATIONS || start.elapsed() < TIME_PER_TARGET) {
        let seed = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed, other);
        run(&input, &format!("mutation {done}"));
        done += 1;
    }
    eprintln!(
        "fuzz smoke {target}: {} seeds, {done} mutations, {:.1} s",
        seeds.len(),
        start.elapsed().as_secs_f64()
    );
}

/// The packet seeds as the decode targets take them: a byte picking the
/// link type, then one packet, or packets each after a 2-byte length.
fn packet_seeds(sequence: bool) -> Vec<Vec<u8>> {
    let packets = packets();
    let mut out = Vec::new();
    for chunk in packets.chunks(if sequence { 4 } else { 1 }) {
        let Some(pick) = chunk
            .first()
            .and_then(|(link, _)| LINK_TYPES.iter().position(|l| l == link))
        else {
            continue;
        };
        let mut seed = vec![pick as u8];
        for (_, data) in chunk {
            if sequence {
                seed.extend((data.len().min(0xffff) as u16).to_be_bytes());
            }
            seed.extend(data);
        }
        out.push(seed);
    }
    spread(out)
}

const HTTP: &[&[u8]] = &[b"GET ", b"POST ", b"PUT ", b"HTTP/1.1 "];
const XML: &[&[u8]] = &[
    b"<stream:stream",
    b"<iq",
    b"<message",
    b"<presence",
    b"<open",
];

#[test]
fn fuzz_smoke_capture_bytes() {
    smoke(
        "capture_bytes",
        file_seeds(is_capture),
        fuzzing::capture_bytes,
    );
}

#[test]
fn fuzz_smoke_decode_packet() {
    smoke("decode_packet", packet_seeds(false), |data| {
        if let Some((&pick, packet)) = data.split_first() {
            let link = LINK_TYPES[usize::from(pick) % LINK_TYPES.len()];
            fuzzing::decode_packet(link, packet);
        }
    });
}

#[test]
fn fuzz_smoke_decode_packets() {
    smoke("decode_packets", packet_seeds(true), |data| {
        if let Some((&pick, packets)) = data.split_first() {
            let link = LINK_TYPES[usize::from(pick) % LINK_TYPES.len()];
            fuzzing::decode_packets(link, packets);
        }
    });
}

#[test]
fn fuzz_smoke_tcp_reassemble() {
    smoke(
        "tcp_reassemble",
        packet_seeds(true),
        fuzzing::tcp_reassemble,
    );
}

#[test]
fn fuzz_smoke_http() {
    let seeds = windows(HTTP, 2048);
    smoke("http_connection", seeds.clone(), fuzzing::http_connection);
    smoke("http_heads", seeds, fuzzing::http_heads);
}

#[test]
fn fuzz_smoke_http_bosh_body() {
    smoke(
        "http_bosh_body",
        windows(&[b"<body"], 2048),
        fuzzing::http_bosh_body,
    );
}

#[test]
fn fuzz_smoke_ws() {
    let upgrades = windows(&[b"Sec-WebSocket", b"Upgrade: websocket"], 1024);
    smoke("ws_negotiate", upgrades, fuzzing::ws::negotiate);
    let frames = windows(&[b"\x81", b"\xc1", b"\x82", b"\x88"], 512);
    smoke(
        "ws_frame_header",
        frames.clone(),
        fuzzing::ws::parse_frame_header,
    );
    smoke("ws_connection", frames.clone(), fuzzing::ws::connection);
    // No cargo-fuzz target of its own: `ws_connection` reaches it too.
    smoke("ws_probe", frames, fuzzing::ws::probe);
}

#[test]
fn fuzz_smoke_xmpp() {
    let seeds = windows(XML, 4096);
    smoke("xmpp_framer", seeds.clone(), fuzzing::xmpp_framer);
    smoke("xmpp_element", seeds, fuzzing::xmpp_element);
}

#[test]
fn fuzz_smoke_finesse_notification() {
    let seeds = windows(&[b"<Update", b"&lt;Update", b"<Dialog", b"<User"], 4096);
    smoke("finesse_notification", seeds, fuzzing::finesse_notification);
}

#[test]
fn fuzz_smoke_har_read() {
    let seeds = file_seeds(|p| {
        let name = p.to_string_lossy();
        name.ends_with(".har") || name.ends_with(".har.gz")
    });
    smoke("har_read", seeds, fuzzing::har_read);
}

#[test]
fn fuzz_smoke_tls() {
    let keylogs = file_seeds(|p| p.extension().is_some_and(|e| e == "keys"));
    smoke("tls_keylog", keylogs, fuzzing::tls_keylog);
    let records = windows(&[b"\x16\x03\x01", b"\x16\x03\x03", b"\x17\x03\x03"], 2048);
    smoke("tls_record", records.clone(), fuzzing::tls_record);
    smoke("tls_session", records.clone(), fuzzing::tls_session);
    let handshakes: Vec<Vec<u8>> = records
        .iter()
        .map(|r| r.get(5..).unwrap_or_default().to_vec())
        .collect();
    smoke("tls_handshake", handshakes, fuzzing::tls_handshake);
}

#[test]
fn the_mutator_is_deterministic_and_changes_its_input() {
    let seed = b"<iq type='get' id='1'/>".to_vec();
    let run = || {
        let mut rng = Rng(7);
        (0..50)
            .map(|_| mutate(&mut rng, &seed, b"other"))
            .collect::<Vec<_>>()
    };
    let first = run();
    assert_eq!(first, run());
    assert!(first.iter().filter(|m| **m != seed).count() > 40);
}

/// The whole analysis (`fuzzing::pipeline_report`): the Finesse and TLS
/// fixtures with their key logs, shaped as the cargo-fuzz target reads them
/// (a two-byte key log length, the key log, the capture). The only test
/// that calls it: it writes one temporary file per process.
#[test]
fn fuzz_smoke_pipeline_report() {
    let dir = repo();
    let seeds: Vec<Vec<u8>> = files_under(&dir.join("fixtures"))
        .into_iter()
        .filter(|p| is_capture(p))
        .filter_map(|capture| {
            let stem = capture
                .file_name()?
                .to_string_lossy()
                .split('.')
                .next()?
                .to_string();
            let keys = std::fs::read(dir.join("keys").join(format!("{stem}.keys"))).ok()?;
            let capture = std::fs::read(&capture).ok()?;
            if capture.len() > SEED_BYTES * 4 || keys.len() > 0xffff {
                return None;
            }
            let mut seed = (keys.len() as u16).to_be_bytes().to_vec();
            seed.extend(keys);
            seed.extend(capture);
            Some(seed)
        })
        .collect();
    smoke("pipeline_report", seeds, fuzzing::pipeline_report);
}
