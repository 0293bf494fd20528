//! Command line of the fixture generator.
//!
//! ```text
//! cargo run --release --example fixturegen -- write fixtures/ [--keys keys/] [--only NAME]
//! cargo run --release --example fixturegen -- list
//! cargo run --release --example fixturegen -- bench-tcp --size 500M --out /tmp/bench-tcp.pcap
//! cargo run --release --example fixturegen -- bench-wss --sessions 10000 --concurrent 200 --out /tmp/s.pcapng
//! ```
//!
//! Output format follows the file name: `.pcap` or `.pcapng`, plus `.gz`
//! for gzip. Benchmarks stream: memory stays flat whatever `--size`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use flate2::write::GzEncoder;
use flate2::Compression;
use xmppcap_fixturegen::bench::{self, BenchConfig, BenchStats};
use xmppcap_fixturegen::bench_sessions::{self, SessionsConfig};
use xmppcap_fixturegen::frame::{Endian, Frame, FrameSink, LINKTYPE_ETHERNET};
use xmppcap_fixturegen::hostile;
use xmppcap_fixturegen::hostile_held::{self, HeldCase};
use xmppcap_fixturegen::pcap::{PcapFormat, PcapWriter};
use xmppcap_fixturegen::pcapng::{Interface, PcapNgWriter};
use xmppcap_fixturegen::{catalog, catalog::write_all, DirTruth, Fixture};

#[derive(Parser)]
#[command(about = "Generates xmppcap's test and benchmark captures")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Writes every committed fixture (and key logs) into DIR.
    Write {
        /// Output folder for captures.
        dir: PathBuf,
        /// Output folder for key logs.
        #[arg(long, default_value = "keys")]
        keys: PathBuf,
        /// Only fixtures whose name contains this.
        #[arg(long)]
        only: Option<String>,
    },
    /// Lists the catalog as a Markdown table.
    List,
    /// Prints a fixture's truth as JSON (per stream: lengths, SHA-256, gaps).
    Truth {
        /// Fixture file name, as in `list`.
        name: String,
    },
    /// Many concurrent plain TCP connections.
    BenchTcp(BenchArgs),
    /// Many concurrent TLS 1.3 connections (key log written to OUT.keys).
    BenchTls(BenchArgs),
    /// Many concurrent Finesse desktops over wss (key log written to OUT.keys):
    /// long sessions until --size, or with --sessions N many short ones
    /// (login, subscriptions, a few notifications, close), --concurrent at once.
    BenchWss(BenchArgs),
    /// A hostile capture for memory measurements (pcapng, `.gz` for gzip).
    Hostile {
        /// `empty-dsbs` (COUNT empty secrets blocks), `distinct-secrets`
        /// (COUNT secrets, 1000 to a block), `seq-jump` (a TCP connection
        /// jumping 2^31 + 1000 after 100 bytes, then COUNT bytes), or
        /// `big-records` (pcap, snaplen 65535: COUNT records of 300 KB to 8 MiB),
        /// or `xml-flood` (a stanza of COUNT elements, each with a duplicate attribute),
        /// or COUNT connections each holding a buffer just under its cap (pcap, never
        /// ended): `held-stanzas` (4 MiB stanzas), `held-http-bodies` (4 MiB bodies),
        /// `held-ws-deflate` (8 MiB first fragments of compressed WebSocket messages),
        /// `held-out-of-order` (16 segments after a hole that never fills),
        /// `held-out-of-order-deep` (700 such segments).
        case: String,
        #[arg(long, default_value_t = 5_000_000)]
        count: u64,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Approximate size, e.g. 500M or 2G.
    #[arg(long, default_value = "500M")]
    size: String,
    /// Output file (.pcap, .pcapng, optionally .gz).
    #[arg(long)]
    out: PathBuf,
    /// Concurrent connections.
    #[arg(long, default_value_t = 200)]
    conns: usize,
    /// RNG seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// bench-wss: vary the notifications like a contact centre's (new calls,
    /// caller numbers, call variables, reason codes, timestamps).
    #[arg(long, conflicts_with = "sessions")]
    varied: bool,
    /// bench-wss: this many short sessions, each its own connection, instead
    /// of long ones until --size (which is then ignored).
    #[arg(long)]
    sessions: Option<u64>,
    /// bench-wss --sessions: sessions open at once.
    #[arg(long, default_value_t = 200, requires = "sessions")]
    concurrent: usize,
}

impl BenchArgs {
    fn config(&self) -> Result<BenchConfig> {
        Ok(BenchConfig {
            size: parse_size(&self.size)?,
            conns: self.conns,
            seed: self.seed,
            varied: self.varied,
        })
    }
}

/// `x.pcapng.gz` → `x.keys`.
fn keys_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let stem = name.split('.').next().unwrap_or("bench");
    out.with_file_name(format!("{stem}.keys"))
}

fn parse_size(s: &str) -> Result<u64> {
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n: u64 = num.parse().with_context(|| format!("bad size {s:?}"))?;
    Ok(n * mult)
}

/// A streaming capture file chosen by extension.
enum Sink {
    Pcap(PcapWriter<Box<dyn Write>>),
    Ng(PcapNgWriter<Box<dyn Write>>),
}

impl FrameSink for Sink {
    fn write_frame(&mut self, frame: &Frame) -> std::io::Result<()> {
        match self {
            Sink::Pcap(w) => w.write_frame(frame),
            Sink::Ng(w) => w.write_frame(frame),
        }
    }
}

impl Sink {
    fn create(path: &Path) -> Result<Sink> {
        let name = path.to_string_lossy().to_string();
        let file = File::create(path).with_context(|| format!("creating {name}"))?;
        let buffered = BufWriter::with_capacity(1 << 20, file);
        let out: Box<dyn Write> = if name.ends_with(".gz") {
            Box::new(GzEncoder::new(buffered, Compression::fast()))
        } else {
            Box::new(buffered)
        };
        if name.contains(".pcapng") {
            let mut w = PcapNgWriter::new(out, Endian::Little)?;
            w.interface(Interface::new(LINKTYPE_ETHERNET))?;
            Ok(Sink::Ng(w))
        } else if name.contains(".pcap") {
            Ok(Sink::Pcap(PcapWriter::new(
                out,
                PcapFormat::usec(LINKTYPE_ETHERNET),
            )?))
        } else {
            bail!("{name}: the file name must end in .pcap or .pcapng (optionally .gz)")
        }
    }

    /// Flushes; dropping the writer finishes a gzip stream.
    fn finish(self) -> Result<()> {
        match self {
            Sink::Pcap(w) => drop(w.into_inner()?),
            Sink::Ng(w) => drop(w.into_inner()?),
        }
        Ok(())
    }
}

fn report(what: &str, stats: BenchStats, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{what}: {} frames, {:.1} MB of frames, {:.1} MB of payload, {} connections in {secs:.1} s ({:.0} MB/s)",
        stats.frames,
        stats.frame_bytes as f64 / 1e6,
        stats.payload_bytes as f64 / 1e6,
        stats.conns,
        stats.frame_bytes as f64 / 1e6 / secs.max(1e-9),
    );
}

fn dir_json(d: &DirTruth) -> serde_json::Value {
    serde_json::json!({"len": d.len(), "sha256": d.sha256_hex(), "gaps": d.gaps})
}

fn truth_json(f: &Fixture) -> serde_json::Value {
    let streams: Vec<_> = f
        .streams
        .iter()
        .map(|s| {
            serde_json::json!({
                "stream": s.index,
                "client": s.client.to_string(),
                "server": s.server.to_string(),
                "first_frame": s.first_frame,
                "c2s": dir_json(&s.tcp[0]),
                "s2c": dir_json(&s.tcp[1]),
                "tls": s.tls.as_ref().map(|t| [dir_json(&t[0]), dir_json(&t[1])]),
                "ws": s.ws.iter().map(|m| serde_json::json!({
                    "dir": m.dir,
                    "opcode": m.opcode,
                    "compressed": m.compressed,
                    "len": m.payload.len(),
                    "sha256": xmppcap_fixturegen::truth::sha256_hex(&m.payload),
                    "close_code": m.close_code,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({"frames": f.frames, "streams": streams})
}

type KeyedBench =
    fn(&mut dyn FrameSink, &BenchConfig) -> Result<(BenchStats, String), xmppcap_fixturegen::Error>;

/// Runs a benchmark generator that also produces a key log (OUT.keys).
fn keyed_bench(what: &str, args: &BenchArgs, gen: KeyedBench) -> Result<()> {
    let cfg = args.config()?;
    let mut sink = Sink::create(&args.out)?;
    let started = Instant::now();
    let (stats, keylog) = gen(&mut sink, &cfg)?;
    sink.finish()?;
    let keys = keys_path(&args.out);
    std::fs::write(&keys, keylog).with_context(|| format!("writing {}", keys.display()))?;
    report(what, stats, started);
    eprintln!("key log: {}", keys.display());
    Ok(())
}

/// `bench-wss --sessions`: frames and key log both streamed to their files.
fn sessions_bench(args: &BenchArgs, sessions: u64) -> Result<()> {
    let cfg = SessionsConfig {
        sessions,
        concurrent: args.concurrent,
        seed: args.seed,
    };
    let mut sink = Sink::create(&args.out)?;
    let keys = keys_path(&args.out);
    let file = File::create(&keys).with_context(|| format!("creating {}", keys.display()))?;
    let mut keylog = BufWriter::new(file);
    let started = Instant::now();
    let stats = bench_sessions::bench_sessions(&mut sink, &mut keylog, &cfg)?;
    sink.finish()?;
    keylog
        .flush()
        .with_context(|| format!("writing {}", keys.display()))?;
    report("bench-wss --sessions", stats, started);
    eprintln!("key log: {}", keys.display());
    Ok(())
}

fn run() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Write { dir, keys, only } => {
            std::fs::create_dir_all(&dir)?;
            std::fs::create_dir_all(&keys)?;
            for name in write_all(&dir, &keys, only.as_deref())? {
                println!("{}", dir.join(name).display());
            }
        }
        Cmd::List => {
            println!("| file | contents |\n|---|---|");
            for spec in catalog() {
                println!("| `{}` | {} |", spec.name, spec.about);
            }
        }
        Cmd::Truth { name } => {
            let spec =
                xmppcap_fixturegen::find(&name).with_context(|| format!("no fixture {name}"))?;
            let fixture = (spec.build)()?;
            println!("{}", serde_json::to_string_pretty(&truth_json(&fixture))?);
        }
        Cmd::BenchTcp(args) => {
            let cfg = args.config()?;
            let mut sink = Sink::create(&args.out)?;
            let started = Instant::now();
            let stats = bench::bench_tcp(&mut sink, &cfg)?;
            sink.finish()?;
            report("bench-tcp", stats, started);
        }
        Cmd::BenchTls(args) => keyed_bench("bench-tls", &args, bench::bench_tls)?,
        Cmd::BenchWss(args) => match args.sessions {
            Some(sessions) => sessions_bench(&args, sessions)?,
            None => keyed_bench("bench-wss", &args, bench::bench_wss)?,
        },
        Cmd::Hostile { case, count, out } => write_hostile(&case, count, &out)?,
    }
    Ok(())
}

/// `count` connections each holding `bytes` in `case`'s buffer.
fn held(sink: Box<dyn Write>, case: HeldCase, count: u64, bytes: usize) -> Result<Box<dyn Write>> {
    Ok(hostile_held::held_connections(
        sink,
        case,
        u32::try_from(count)?,
        bytes,
    )?)
}

fn write_hostile(case: &str, count: u64, out: &Path) -> Result<()> {
    let name = out.display().to_string();
    let file = File::create(out).with_context(|| format!("creating {name}"))?;
    let buffered = BufWriter::with_capacity(1 << 20, file);
    let sink: Box<dyn Write> = if name.ends_with(".gz") {
        Box::new(GzEncoder::new(buffered, Compression::best()))
    } else {
        Box::new(buffered)
    };
    let done = match case {
        "empty-dsbs" => hostile::empty_dsbs(sink, count)?,
        "distinct-secrets" => hostile::distinct_secrets(sink, count, 1000)?,
        "seq-jump" => hostile::seq_jump(sink, 100, usize::try_from(count)?)?,
        "xml-flood" => hostile::xml_flood(sink, usize::try_from(count)?)?,
        "big-records" => {
            let sizes: Vec<usize> = (0..count)
                .map(|i| [60, 300_000, 8 << 20][(i % 3) as usize])
                .collect();
            hostile::raw_records(sink, 65535, &sizes)?
        }
        "held-stanzas" => held(sink, HeldCase::Stanza, count, (4 << 20) - 4096)?,
        "held-http-bodies" => held(sink, HeldCase::HttpBody, count, (4 << 20) - 4096)?,
        "held-ws-deflate" => held(sink, HeldCase::CompressedWsMessage, count, (8 << 20) - 4096)?,
        "held-out-of-order" => hostile_held::held_out_of_order(sink, u32::try_from(count)?, 16)?,
        "held-out-of-order-deep" => {
            hostile_held::held_out_of_order(sink, u32::try_from(count)?, 700)?
        }
        other => bail!("unknown hostile case {other:?}: see --help"),
    };
    drop(done);
    eprintln!("{name}: {case}, {count}");
    Ok(())
}

fn main() -> Result<()> {
    run()
}
