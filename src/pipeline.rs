//! Wires the stages together: the only module that knows every stage. It
//! creates them with their options and connects their sinks; it makes no
//! protocol or domain decision of its own.
//!
//! Takes capture paths and [`Options`]; drives capture → decode → tcp, then
//! per connection a stack (`connection`): each direction's bytes follow a
//! route (`route`: straight to the application stage, or through TLS) that
//! changes only when the application stage asks (`app_stage`, which asks
//! each protocol's probe what the bytes are). Gives each command its model:
//! report events to an [`EventSink`] as they happen, [`Analyzed`] at the
//! end, or a followed stream's chunks ([`follow`]). A browser HAR given in
//! place of a capture is read by `har_input` (entries and WebSocket
//! messages fed through the same sinks, `har_feed` and `har_entry`) into
//! the same model.
//!
//! Two layers, so that connections can later be processed apart: a
//! connection's stack keeps its own state, and everything that spans
//! connections (XMPP session numbering, BOSH sessions by `sid`, Finesse
//! `requestId` correlation, desktop story, the finding log, the
//! summaries) sits in `context::Wiring` (options, sink, finding log) and the
//! capture-wide stages inside it (`capture_wide::CaptureWide`: session
//! numbering, BOSH sessions, the Finesse stage, the desktop story), handed
//! to the stacks and hearing from them in capture order. With
//! [`Options::jobs`] above 1 the stacks run on worker threads (`workers`,
//! `reader`): their calls on the `Wiring` are recorded (`record`) and
//! applied in that same order by a merger (`merge`), so the output is the
//! single thread's.
//!
//! Never prints: rendering is `report`'s (and the binary's); exit codes and
//! the progress bar are the `xmppcap` binary's (see [`Progress`]). Depends
//! on `report` for the sink it feeds and the types it fills; `report` never
//! depends on it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::capture::{CaptureError, CaptureReader, CaptureSummary, Item};
use crate::decode::{DecodeStats, Decoded, Decoder};
use crate::finding::{Finding, Level};
use crate::limits::Limits;
use crate::report::streams::StreamsReport;
use crate::tcp::{self, Reassembler};

mod analysis;
mod app_stage;
mod bosh;
mod budget;
mod capture_wide;
mod conn_table;
mod connection;
mod context;
mod follow;
mod har_entry;
mod har_feed;
mod har_input;
mod key_sources;
mod merge;
mod probe_order;
mod reader;
mod record;
mod route;
mod settled;
mod stage_sinks;
mod workers;
mod ws_app;

pub use crate::report::sink::EventSink;
pub use analysis::{analyze, Analyzed};
pub use follow::{follow, Followed, Layer as FollowLayer, View as FollowView};

/// What the user asked for, independent of the command.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub limits: Limits,
    /// Told how far reading each capture has got (the binary draws a bar
    /// with it); `None` reports nothing.
    pub progress: Option<Arc<dyn Progress>>,
    /// Key log files given with `--keylog`.
    pub keylogs: Vec<PathBuf>,
    /// Key log text read before the analysis (`--keylog -`: standard input,
    /// read once for every capture), with the name it is reported under.
    pub keylog_texts: Vec<(String, Arc<[u8]>)>,
    /// Show credentials, cookies and tokens instead of redacting them.
    pub show_secrets: bool,
    /// Keep each stanza's (redacted) XML in the report.
    pub raw: bool,
    /// Keep the text of WebSocket messages that carried XMPP (`xmppcap ws`,
    /// or `report --raw`); without it the stanza events say what they held.
    pub xmpp_message_text: bool,
    /// Also read the key log named by the `SSLKEYLOGFILE` environment variable.
    pub use_env_keylog: bool,
    /// Servers' RSA private keys (PEM, PKCS#1 or PKCS#8) for `TLS_RSA_*` suites;
    /// used when built with the `rsa-keys` feature.
    pub rsa_keys: Vec<PathBuf>,
    /// How far up the stack to decode: the commands that show a lower layer
    /// skip the work above it.
    pub depth: Depth,
    /// The events are the whole output (NDJSON): keep no connection or
    /// session summaries, only their counts, so that a finished connection
    /// leaves nothing behind ([`Analyzed::connections`] and
    /// [`Analyzed::sessions`] stay empty).
    pub events_only: bool,
    /// Threads for one capture's analysis (`-j N`): the reading thread
    /// reads, decodes and reassembles TCP, and `jobs` workers run the
    /// connections' stacks (stream `s` on worker `s % jobs`), their output
    /// merged back in the order one thread gives it (`pipeline::workers`).
    /// 0 or 1: one thread. A HAR, and a sink that follows bytes (`follow`),
    /// always take one thread.
    pub jobs: usize,
}

/// Hears how far reading each capture has got, so that a front end can
/// show progress; the library itself never draws or prints anything.
///
/// Shared by the threads of [`run_many`], hence `Send + Sync`.
pub trait Progress: Send + Sync + std::fmt::Debug {
    /// Reading the capture at `path` (`-` for stdin) begins; the returned
    /// tracker hears about this capture only.
    fn start(&self, path: &Path) -> Box<dyn CaptureProgress>;
}

/// How far reading one capture has got (see [`Progress`]).
pub trait CaptureProgress {
    /// `bytes_read` bytes of the file have been read (before gunzipping);
    /// called every few thousand packets.
    fn update(&mut self, bytes_read: u64);
    /// The capture has been read to its end.
    fn finish(&mut self);
}

/// The highest layer an analysis decodes. Findings come only from the
/// layers decoded, so a command's exit code reflects what it looked at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Depth {
    /// Everything, up to the Finesse documents inside notifications (`report`).
    #[default]
    Finesse,
    /// XMPP stanzas (needed to redact credentials inside WebSocket messages
    /// and to number sessions) but not the Finesse documents (`ws`).
    Xmpp,
    /// HTTP exchanges, BOSH bodies and XMPP on TCP (STARTTLS switches to TLS
    /// at a byte only the XMPP stage finds); WebSocket payloads are counted,
    /// not decoded, and Finesse documents are not read (`http`, `tls`).
    Http,
}

/// Errors that stop the processing of one capture.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    #[error(transparent)]
    Keys(#[from] crate::tls::KeyLogError),
    /// A HAR that cannot be read to its end (truncated or invalid JSON, not
    /// a HAR): the events before the byte offset it names were given.
    #[error(transparent)]
    Har(#[from] crate::har::Error),
    /// `streams` and `follow` show TCP connections, which a HAR does not record.
    #[error("a browser HAR records no TCP connections: `{command}` reads captures only (`report`, `ws`, `http` and `tls` read HARs)")]
    HarHasNoTcp { command: &'static str },
}

/// What reading a capture's packets produced, besides the stage events.
#[derive(Debug)]
pub struct CaptureRun {
    pub summary: CaptureSummary,
    pub decode: DecodeStats,
}

/// Receives everything the TCP stage and the capture produce.
pub trait TcpConsumer: tcp::Sink {
    /// Key log text found in a pcapng Decryption Secrets Block.
    fn on_key_log(&mut self, _at_offset: u64, _text: &[u8]) {}

    /// After a segment: the TCP stage holds `held` out-of-order bytes of
    /// `stream`, the connection between `ends` (for the memory budget).
    fn on_tcp_held(&mut self, _stream: u64, _ends: TcpEnds, _held: usize) {}

    /// Streams whose out-of-order buffers the consumer wants given up now
    /// (holes become gaps, the data is delivered; the stream goes on).
    fn take_tcp_cuts(&mut self) -> Vec<(u64, TcpEnds)> {
        Vec::new()
    }

    /// Streams the consumer wants released now (closed as if evicted:
    /// their `Closed` follows; later packets of the 4-tuple start a new
    /// stream), for the memory budget's connection-count pressure.
    fn take_tcp_releases(&mut self) -> Vec<(u64, TcpEnds)> {
        Vec::new()
    }
}

/// The two ends of a TCP connection, as its segments name them.
pub type TcpEnds = (std::net::SocketAddr, std::net::SocketAddr);

/// Reads `path` through decode and TCP reassembly, feeding `consumer`.
pub fn run_tcp(
    path: &Path,
    opts: &Options,
    consumer: &mut impl TcpConsumer,
) -> Result<CaptureRun, PipelineError> {
    let mut reader = CaptureReader::open(path, &opts.limits)?;
    let mut progress = opts.progress.as_ref().map(|p| p.start(path));
    let mut decoder = Decoder::new(&opts.limits);
    let mut tcp = Reassembler::new(&opts.limits);
    let mut decode_findings: Vec<Finding> = Vec::new();
    let mut packets: u64 = 0;
    while let Some(item) = reader.next_item() {
        match item {
            Item::Packet(packet) => {
                packets += 1;
                if let Decoded::Tcp(segment) = decoder.on_packet(&packet, &mut decode_findings) {
                    tcp.on_segment(packet.at, &segment, consumer);
                    let ends = (segment.src, segment.dst);
                    if let Some((stream, held)) = tcp.held_between(segment.src, segment.dst) {
                        consumer.on_tcp_held(stream, ends, held);
                    }
                    for (stream, (a, b)) in consumer.take_tcp_cuts() {
                        tcp.give_up_holes(a, b, stream, packet.at, consumer);
                    }
                    for (stream, (a, b)) in consumer.take_tcp_releases() {
                        tcp.release_stream(a, b, stream, packet.at, consumer);
                    }
                }
                for finding in decode_findings.drain(..) {
                    consumer.push_finding(finding);
                }
            }
            Item::KeyLog { at_offset, text } => consumer.on_key_log(at_offset, text),
            Item::Finding(finding) => consumer.push_finding(finding),
        }
        if packets % 4096 == 0 {
            if let Some(progress) = progress.as_mut() {
                progress.update(reader.bytes_read());
            }
        }
    }
    decoder.finish(&mut decode_findings);
    for finding in decode_findings.drain(..) {
        consumer.push_finding(finding);
    }
    tcp.finish(consumer);
    if let Some(progress) = progress.as_mut() {
        progress.finish();
    }
    Ok(CaptureRun {
        summary: reader.summary().clone(),
        decode: decoder.stats().clone(),
    })
}

/// Runs `job` on every capture, in parallel (one thread per core at most),
/// returning the results in the order the captures were given.
pub fn run_many<T: Send>(
    captures: &[PathBuf],
    job: impl Fn(&Path) -> Result<T, PipelineError> + Sync,
) -> Vec<Result<T, PipelineError>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(captures.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<T, PipelineError>>>> = captures
        .iter()
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(path) = captures.get(i) else { break };
                let result = job(path);
                if let Some(slot) = results.get(i) {
                    // A poisoned lock means another worker panicked; keep this result anyway.
                    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                // Every index below captures.len() was claimed by exactly one worker.
                .expect("invariant: every capture was processed")
        })
        .collect()
}

/// `xmppcap streams`: the per-connection table of one capture, with the
/// findings of the TCP stage and of each connection's story (a
/// notification connection reset, a failed handshake...): the whole
/// analysis runs, its events are dropped.
pub fn streams(path: &Path, opts: &Options) -> Result<StreamsReport, PipelineError> {
    if har_input::is_har(path) {
        return Err(PipelineError::HarHasNoTcp { command: "streams" });
    }
    let analyzed = analyze(path, opts, &mut DropEvents)?;
    let streams = analyzed
        .connections
        .into_iter()
        .filter_map(|c| c.tcp)
        .collect();
    let findings = analyzed
        .findings
        .into_iter()
        .filter(|f| {
            use crate::finding::Code;
            // `stream.not_decoded` is the application stage's, shown by `report`.
            let above_tcp = Code::Tcp(tcp::FindingCode::StreamNotDecoded);
            f.code != above_tcp
                && matches!(
                    f.code,
                    Code::Capture(_)
                        | Code::Decode(_)
                        | Code::Tcp(_)
                        | Code::Conn(_)
                        | Code::Desktop(_)
                )
        })
        .collect();
    Ok(StreamsReport {
        capture: analyzed.run.summary,
        decode: analyzed.run.decode,
        streams,
        findings,
    })
}

/// An event sink that keeps nothing.
struct DropEvents;

impl EventSink for DropEvents {
    fn emit(&mut self, _: crate::report::event::Event) {}
}

/// The worst level among findings, for `--fail-on`.
pub fn worst_level(findings: &[Finding]) -> Option<Level> {
    findings.iter().map(|f| f.level).max()
}

/// `xmppcap report` (and `ws`, `http`, `tls`): the whole analysis of one
/// capture, with the events `selection` keeps as its timeline.
pub fn report(
    path: &Path,
    opts: &Options,
    selection: crate::report::ndjson::Selection,
) -> Result<crate::report::model::Report, PipelineError> {
    let mut collector = crate::report::ndjson::Collector::new(
        selection,
        opts.limits.max_timeline_events,
        opts.limits.max_timeline_bytes,
    );
    let analyzed = analyze(path, opts, &mut collector)?;
    let agents = analyzed.agent_stories(opts.raw);
    let (timeline, timeline_dropped) = collector.into_timeline();
    let (connections_seen, sessions_seen) = (analyzed.connections_seen, analyzed.sessions_seen);
    let mut findings = analyzed.findings;
    if timeline_dropped > 0 {
        findings.push(timeline_cut(timeline_dropped, &opts.limits));
    }
    Ok(crate::report::model::Report {
        capture: analyzed.run.summary,
        decode: analyzed.run.decode,
        keys: analyzed.keys,
        connections: analyzed.connections,
        sessions: analyzed.sessions,
        desktops: analyzed.desktops,
        agents,
        timeline,
        timeline_dropped,
        findings,
        connections_seen,
        sessions_seen,
    })
}

/// `report.timeline_cut`: the kept timeline reached its cap.
fn timeline_cut(dropped: u64, limits: &Limits) -> Finding {
    Finding::new(
        crate::report::FindingCode::TimelineCut,
        format!(
            "{dropped} events are not in this report's timeline (max_timeline_events {}, max_timeline_bytes {}); the findings and summaries count them, and --format ndjson gives every event",
            limits.max_timeline_events, limits.max_timeline_bytes
        ),
    )
}
