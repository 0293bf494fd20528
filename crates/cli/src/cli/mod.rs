//! The command line: argument parsing, command dispatch and exit codes.
//!
//! Takes `std::env::args`; gives an exit code: 0 clean, 1 a finding at or
//! above `--fail-on`, 2 an error (bad command line, unreadable capture or key
//! file). stdout carries only the requested output; errors and the progress
//! bar go to stderr. A closed stdout (`| head`) ends the run quietly.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use xmppcap::finding::Level;
use xmppcap::pipeline::{self, Depth, Options};
use xmppcap::position::Dir;
use xmppcap::report::follow::{FollowStyle, FollowWriter};
use xmppcap::report::ndjson::Selection;
use xmppcap::report::streams::{self, StreamsReport};
use xmppcap::report::terminal;

use crate::progress::StderrBar;
use crate::render;

mod commands;
mod fleet;
mod view;

use view::{FilterArgs, ViewArgs};

/// Exit code when a finding reaches `--fail-on`.
const EXIT_FINDINGS: u8 = 1;
/// Exit code for errors: bad arguments, unreadable input.
const EXIT_ERROR: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "xmppcap",
    version,
    about = "Turns packet captures of Cisco Finesse desktop traffic into the XMPP conversation, in order, in words.",
    after_help = "`xmppcap CAPTURE...` is short for `xmppcap report CAPTURE...`.\n\
                  Exit codes: 0 clean, 1 a finding at or above --fail-on, 2 error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The XMPP conversations of each capture as a timeline with findings (the default command).
    Report(ReportArgs),
    /// Every TLS connection: version, suite, SNI, certificates, key source, decrypted or why not.
    Tls(TlsArgs),
    /// The WebSocket messages and control frames of every connection, decompressed and reassembled.
    Ws(ListArgs),
    /// The HTTP exchanges (REST calls, WebSocket upgrades) and BOSH bodies.
    Http(ListArgs),
    /// One row per TCP connection: endpoints, frames, bytes, retransmissions, gaps, how it ended.
    Streams(StreamsArgs),
    /// The reassembled bytes of one TCP stream, like Wireshark's Follow TCP Stream
    /// (read by one thread: it follows the bytes as each layer sees them).
    Follow(FollowArgs),
}

/// Options every command that reads captures shares.
#[derive(Args, Debug, Clone)]
struct InputArgs {
    /// Capture files (pcap or pcapng, optionally gzip-compressed); `-` reads stdin.
    #[arg(required = true, value_name = "CAPTURE")]
    captures: Vec<PathBuf>,
    /// Write the output to FILE instead of stdout. A directory (ending with
    /// `/`, or existing) gets one file per capture plus `manifest.json`, one
    /// line per capture: input, SHA-256, exit status, counts (`report`, `ws`, `http`).
    #[arg(short = 'o', long = "output", value_name = "FILE|DIR/")]
    output: Option<PathBuf>,
    /// Exit with code 1 when a finding at or above this level is reported.
    #[arg(long = "fail-on", value_enum, value_name = "LEVEL")]
    fail_on: Option<FailOn>,
    /// Never draw a progress bar (it is drawn only when stderr is a terminal anyway).
    #[arg(long = "no-progress")]
    no_progress: bool,
    /// Bytes all connections' buffers may hold together (default 48M); past
    /// it the connection holding the most is finished early with a
    /// `limits.memory` finding. The report's caps (max_report_bytes,
    /// max_timeline_bytes) scale with it. A number with K, M or G (powers of 1024).
    #[arg(long = "memory-limit", value_name = "SIZE", value_parser = parse_size)]
    memory_limit: Option<usize>,
    /// Threads for one capture: one reads, decodes and reassembles TCP, N
    /// workers run the connections (they and the reader each have
    /// memory-limit / (N + 1)), and the
    /// output is the same as with -j 1. Default: the number of cores for
    /// one capture; 1 each when several captures are given (they run side
    /// by side, one per core), unless -j is given. A HAR is read by one thread.
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = parse_jobs)]
    jobs: Option<usize>,
}

impl InputArgs {
    /// The options every capture-reading command starts from, with `-j`.
    fn options(&self) -> Options {
        let mut opts = options(self.no_progress, self.memory_limit);
        opts.jobs = jobs_per_capture(self.jobs, self.captures.len());
        opts
    }
}

/// `-j`: threads for each capture. Captures run side by side first (one
/// per core, `run_many` and `-o DIR/`), so with several captures each gets
/// one thread unless `-j` says otherwise; one capture gets every core.
fn jobs_per_capture(asked: Option<usize>, captures: usize) -> usize {
    match asked {
        Some(jobs) => jobs,
        None if captures > 1 => 1,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// `-j N`: a whole number, at least 1.
fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) | Err(_) => Err(format!("{text:?} is not a number of threads: 1 or more")),
        Ok(jobs) => Ok(jobs),
    }
}

/// Options of the commands that decode above TCP.
#[derive(Args, Debug, Clone)]
struct AnalysisArgs {
    #[command(flatten)]
    input: InputArgs,
    /// TLS key log file (NSS SSLKEYLOGFILE format); repeatable. The file named by
    /// the SSLKEYLOGFILE environment variable and secrets embedded in pcapng are used too.
    #[arg(long = "keylog", value_name = "FILE")]
    keylogs: Vec<PathBuf>,
    /// A server's RSA private key (PEM, PKCS#1 or PKCS#8) to decrypt TLS_RSA_* suites;
    /// repeatable. Needs a build with `--features rsa-keys`.
    #[arg(long = "rsa-key", value_name = "FILE")]
    rsa_keys: Vec<PathBuf>,
    /// Show SASL credentials, Authorization headers, cookies and tokens instead of redacting them.
    #[arg(long = "show-secrets")]
    show_secrets: bool,
}

#[derive(Args, Debug)]
struct ReportArgs {
    #[command(flatten)]
    analysis: AnalysisArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    /// Add each stanza's XML (redacted unless --show-secrets), in every format.
    #[arg(long)]
    raw: bool,
    #[command(flatten)]
    view: ViewArgs,
    #[command(flatten)]
    filter: FilterArgs,
}

#[derive(Args, Debug)]
struct TlsArgs {
    #[command(flatten)]
    analysis: AnalysisArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
    format: TableOrJson,
}

#[derive(Args, Debug)]
struct ListArgs {
    #[command(flatten)]
    analysis: AnalysisArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    format: ListFormat,
    #[command(flatten)]
    view: ViewArgs,
    #[command(flatten)]
    filter: FilterArgs,
}

#[derive(Args, Debug)]
struct StreamsArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
    format: TableOrJson,
    #[command(flatten)]
    view: ViewArgs,
}

#[derive(Args, Debug)]
struct FollowArgs {
    /// Capture file.
    #[arg(value_name = "CAPTURE")]
    capture: PathBuf,
    /// Wireshark `tcp.stream` index of the connection.
    #[arg(value_name = "STREAM")]
    stream: u64,
    /// Which direction to show.
    #[arg(long, value_enum, default_value_t = FollowDir::Both)]
    dir: FollowDir,
    /// Write exactly the bytes of the chosen direction to stdout (gaps skipped and
    /// listed on stderr): WebSocket frames as sent, masked, never redacted. Without
    /// it, a WebSocket is shown as its messages (unmasked, inflated, redacted).
    #[arg(long)]
    raw: bool,
    /// `tcp`: the TCP payload; `tls`: the decrypted TLS application data.
    #[arg(long, value_enum, default_value_t = FollowLayer::Tcp)]
    layer: FollowLayer,
    /// TLS key log file (for `--layer tls`); repeatable.
    #[arg(long = "keylog", value_name = "FILE")]
    keylogs: Vec<PathBuf>,
    /// A server's RSA private key (PEM, PKCS#1 or PKCS#8) to decrypt TLS_RSA_*
    /// suites (for `--layer tls`); repeatable. Needs a build with `--features rsa-keys`.
    #[arg(long = "rsa-key", value_name = "FILE")]
    rsa_keys: Vec<PathBuf>,
    /// Show credentials (Authorization, cookies, SASL) in the readable view;
    /// `--raw` always writes the exact bytes.
    #[arg(long = "show-secrets")]
    show_secrets: bool,
    /// Write the output to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Never draw a progress bar.
    #[arg(long = "no-progress")]
    no_progress: bool,
    /// Bytes all connections' buffers may hold together (default 48M); past
    /// it the connection holding the most is finished early with a
    /// `limits.memory` finding. The report's caps (max_report_bytes,
    /// max_timeline_bytes) scale with it. A number with K, M or G (powers of 1024).
    #[arg(long = "memory-limit", value_name = "SIZE", value_parser = parse_size)]
    memory_limit: Option<usize>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum TableOrJson {
    Table,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ReportFormat {
    Table,
    Json,
    Ndjson,
    Html,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ListFormat {
    Table,
    Json,
    Ndjson,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum FollowLayer {
    Tcp,
    Tls,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum FollowDir {
    Client,
    Server,
    Both,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum FailOn {
    Info,
    Warn,
    Error,
}

impl FailOn {
    fn level(self) -> Level {
        match self {
            FailOn::Info => Level::Info,
            FailOn::Warn => Level::Warn,
            FailOn::Error => Level::Error,
        }
    }
}

/// Entry point of the binary.
pub(crate) fn main() -> ExitCode {
    let args = with_default_command(std::env::args_os().collect());
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xmppcap: {}", terminal::field(&format!("{e:#}")));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// `xmppcap CAPTURE...` means `xmppcap report CAPTURE...`: insert the command
/// when the first argument is neither a known command nor an option.
fn with_default_command(mut args: Vec<OsString>) -> Vec<OsString> {
    const COMMANDS: &[&str] = &["streams", "follow", "tls", "http", "ws", "report", "help"];
    const HELP_OR_VERSION: &[&str] = &["-h", "--help", "-V", "--version"];
    let first = args.get(1).and_then(|a| a.to_str()).unwrap_or("-h");
    let is_command = COMMANDS.contains(&first);
    let is_option = first.starts_with('-') && first != "-";
    // `xmppcap --keylog k cap.pcapng`, as tshark users type it: options
    // first mean `report` too, unless a command is named later.
    let names_a_command = args
        .iter()
        .skip(1)
        .any(|a| a.to_str().is_some_and(|a| COMMANDS.contains(&a)));
    let shorthand = if is_option {
        !HELP_OR_VERSION.contains(&first) && !names_a_command
    } else {
        !is_command
    };
    if shorthand && args.len() > 1 {
        args.insert(1, OsString::from("report"));
    }
    args
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Report(ReportArgs { analysis, .. })
    | Command::Tls(TlsArgs { analysis, .. })
    | Command::Ws(ListArgs { analysis, .. })
    | Command::Http(ListArgs { analysis, .. }) = &cli.command
    {
        if !analysis.rsa_keys.is_empty() && !cfg!(feature = "rsa-keys") {
            anyhow::bail!("--rsa-key needs a build with the rsa-keys feature: cargo build --release --features rsa-keys");
        }
    }
    match cli.command {
        Command::Report(args) => {
            let format = match args.format {
                ReportFormat::Table => commands::Format::Table,
                ReportFormat::Json => commands::Format::Json,
                ReportFormat::Ndjson => commands::Format::Ndjson,
                ReportFormat::Html => commands::Format::Html,
            };
            let mut setup = args.analysis.setup(args.raw)?;
            setup.opts.xmpp_message_text = args.raw;
            setup.narrow(&args.view, &args.filter, args.raw);
            commands::run_analysis(&setup, Selection::All, format)
        }
        Command::Tls(args) => {
            let mut setup = args.analysis.setup(false)?;
            setup.opts.depth = Depth::Http;
            commands::run_tls(&setup, args.format == TableOrJson::Json)
        }
        Command::Ws(args) => {
            let mut setup = args.analysis.setup(false)?;
            setup.opts.xmpp_message_text = true;
            setup.opts.depth = Depth::Xmpp;
            setup.narrow(&args.view, &args.filter, false);
            commands::run_analysis(&setup, Selection::WebSocket, args.format.into())
        }
        Command::Http(args) => {
            let mut setup = args.analysis.setup(false)?;
            setup.opts.depth = Depth::Http;
            setup.narrow(&args.view, &args.filter, false);
            commands::run_analysis(&setup, Selection::Http, args.format.into())
        }
        Command::Streams(args) => run_streams(args),
        Command::Follow(args) => run_follow(args),
    }
}

impl From<ListFormat> for commands::Format {
    fn from(f: ListFormat) -> commands::Format {
        match f {
            ListFormat::Table => commands::Format::Table,
            ListFormat::Json => commands::Format::Json,
            ListFormat::Ndjson => commands::Format::Ndjson,
        }
    }
}

impl AnalysisArgs {
    fn setup(&self, raw: bool) -> anyhow::Result<commands::Setup> {
        let mut opts = self.input.options();
        (opts.keylogs, opts.keylog_texts) = keylogs_and_stdin(&self.keylogs, &self.input.captures)?;
        opts.rsa_keys = self.rsa_keys.clone();
        opts.show_secrets = self.show_secrets;
        opts.raw = raw;
        opts.use_env_keylog = true;
        Ok(commands::Setup {
            captures: self.input.captures.clone(),
            output: self.input.output.clone(),
            fail_on: self.input.fail_on.map(FailOn::level),
            opts,
            filter: Default::default(),
            style: Default::default(),
        })
    }
}

impl commands::Setup {
    /// The filter and the table's style the command line asked for.
    fn narrow(&mut self, view: &ViewArgs, filter: &FilterArgs, raw: bool) {
        self.filter = filter.filter();
        self.style = view.style(self.output.as_ref(), raw, &self.filter);
    }
}

/// `--keylog` files, and `--keylog -` read from standard input once (so
/// every capture of the run gets it); refused when a capture is `-` too.
type KeyLogInputs = (Vec<PathBuf>, Vec<(String, std::sync::Arc<[u8]>)>);

fn keylogs_and_stdin(keylogs: &[PathBuf], captures: &[PathBuf]) -> anyhow::Result<KeyLogInputs> {
    let is_stdin = |p: &PathBuf| p.as_os_str() == "-";
    let files = keylogs.iter().filter(|p| !is_stdin(p)).cloned().collect();
    if !keylogs.iter().any(is_stdin) {
        return Ok((files, Vec::new()));
    }
    if captures.iter().any(is_stdin) {
        anyhow::bail!("--keylog - and a capture named - cannot both read standard input");
    }
    let mut text = Vec::new();
    io::Read::read_to_end(&mut io::stdin().lock(), &mut text)
        .map_err(|e| anyhow::anyhow!("cannot read the key log from standard input: {e}"))?;
    Ok((files, vec![("standard input".to_owned(), text.into())]))
}

/// The options every command starts from: a progress bar on stderr unless
/// `--no-progress` or stderr is not a terminal, and the memory budget
/// `--memory-limit` set.
fn options(no_progress: bool, memory_limit: Option<usize>) -> Options {
    let bar = !no_progress && io::stderr().is_terminal();
    let mut opts = Options {
        progress: bar.then(|| Arc::new(StderrBar) as Arc<dyn pipeline::Progress>),
        ..Options::default()
    };
    if let Some(bytes) = memory_limit {
        opts.limits = xmppcap::limits::Limits::with_memory_limit(bytes);
    }
    opts
}

/// `--memory-limit`: `150M`, `1G`, `65536`, `512K` (K, M, G are powers of
/// 1024; `KiB`, `MB` and the like are read the same way).
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: usize = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size: a number, then K, M or G"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        other => return Err(format!("unknown size unit {other:?}: use K, M or G")),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Opens the output: the file named by `-o`, else a locked, buffered stdout.
pub(crate) fn open_output(path: Option<&PathBuf>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => {
            Box::new(BufWriter::new(File::create(p).with_context(|| {
                format!("cannot create output file {}", p.display())
            })?))
        }
        None => Box::new(BufWriter::new(io::stdout().lock())),
    })
}

fn run_streams(args: StreamsArgs) -> anyhow::Result<ExitCode> {
    let opts = args.input.options();
    let reports = pipeline::run_many(&args.input.captures, |path| pipeline::streams(path, &opts));
    let mut out = open_output(args.input.output.as_ref())?;
    match args.format {
        TableOrJson::Table => {
            let style = args
                .view
                .style(args.input.output.as_ref(), false, &Default::default());
            render::streams::render_table(&reports, &style, &mut out)?
        }
        TableOrJson::Json => streams::render_json(&reports, &mut out)?,
    }
    out.flush()?;
    let fail_on = args.input.fail_on.map(FailOn::level);
    Ok(commands::exit_code_of(
        &args.input.captures,
        &reports,
        StreamsReport::worst_level,
        fail_on,
    ))
}

fn run_follow(args: FollowArgs) -> anyhow::Result<ExitCode> {
    let mut opts = options(args.no_progress, args.memory_limit);
    if !args.rsa_keys.is_empty() && !cfg!(feature = "rsa-keys") {
        anyhow::bail!("--rsa-key needs a build with the rsa-keys feature: cargo build --release --features rsa-keys");
    }
    (opts.keylogs, opts.keylog_texts) =
        keylogs_and_stdin(&args.keylogs, std::slice::from_ref(&args.capture))?;
    opts.rsa_keys = args.rsa_keys.clone();
    opts.use_env_keylog = true;
    opts.show_secrets = args.show_secrets;
    let layer = match args.layer {
        FollowLayer::Tcp => pipeline::FollowLayer::Tcp,
        FollowLayer::Tls => pipeline::FollowLayer::Tls,
    };
    let dirs: &[Dir] = match args.dir {
        FollowDir::Client => &[Dir::ClientToServer],
        FollowDir::Server => &[Dir::ServerToClient],
        FollowDir::Both => &Dir::BOTH,
    };
    let mut out = open_output(args.output.as_ref())?;
    let style = FollowStyle {
        dirs,
        raw: args.raw,
        redact: !opts.show_secrets,
    };
    let mut writer = FollowWriter::new(&mut out, style);
    let view = if args.raw {
        pipeline::FollowView::Raw
    } else {
        pipeline::FollowView::Readable
    };
    let followed = pipeline::follow(
        &args.capture,
        args.stream,
        layer,
        view,
        &opts,
        &mut |chunk| writer.on_chunk(chunk),
    )?;
    let gaps = writer.finish().map_err(pipeline::PipelineError::Output)?;
    out.flush()?;
    if !followed.found {
        let what = if layer == pipeline::FollowLayer::Tls {
            "TLS connection"
        } else {
            "TCP stream"
        };
        anyhow::bail!(
            "{}: no {what} {} in this capture ({} streams)",
            args.capture.display(),
            args.stream,
            followed.streams_seen
        );
    }
    if args.raw {
        for gap in &gaps.listed {
            eprintln!("gap: {}", terminal::field(gap));
        }
        if gaps.not_listed > 0 {
            eprintln!("gap: {} more", gaps.not_listed);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        with_default_command(v.iter().map(OsString::from).collect())
            .into_iter()
            .map(|a| a.into_string().unwrap_or_default())
            .collect()
    }

    #[test]
    fn memory_limit_reads_sizes_with_binary_units() {
        assert_eq!(parse_size("150M"), Ok(150 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("2MiB"), Ok(2 << 20));
        assert!(parse_size("M").is_err());
        assert!(parse_size("12X").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
        let cli = Cli::try_parse_from(["xmppcap", "report", "--memory-limit", "150M", "a.pcap"]);
        assert!(cli.is_ok(), "{cli:?}");
    }

    #[test]
    fn jobs_default_to_the_cores_for_one_capture_and_to_one_for_several() {
        assert_eq!(jobs_per_capture(Some(3), 5), 3);
        assert_eq!(jobs_per_capture(None, 2), 1);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(jobs_per_capture(None, 1), cores);
        assert_eq!(parse_jobs("8"), Ok(8));
        assert!(parse_jobs("0").is_err() && parse_jobs("many").is_err());
        let cli = Cli::try_parse_from(["xmppcap", "report", "-j", "2", "a.pcap"]);
        assert!(cli.is_ok(), "{cli:?}");
        let cli = Cli::try_parse_from(["xmppcap", "streams", "--jobs", "0", "a.pcap"]);
        assert!(cli.is_err());
    }

    #[test]
    fn bare_capture_means_report() {
        assert_eq!(
            args(&["xmppcap", "a.pcap"]),
            ["xmppcap", "report", "a.pcap"]
        );
        assert_eq!(args(&["xmppcap", "-"]), ["xmppcap", "report", "-"]);
        assert_eq!(
            args(&["xmppcap", "streams", "a.pcap"]),
            ["xmppcap", "streams", "a.pcap"]
        );
        assert_eq!(args(&["xmppcap", "--help"]), ["xmppcap", "--help"]);
    }

    #[test]
    fn options_before_the_capture_mean_report_too() {
        assert_eq!(
            args(&["xmppcap", "--keylog", "k", "a.pcap"]),
            ["xmppcap", "report", "--keylog", "k", "a.pcap"]
        );
        assert_eq!(args(&["xmppcap", "-V"]), ["xmppcap", "-V"]);
        // A command named after options is left for clap to judge.
        assert_eq!(
            args(&["xmppcap", "--no-progress", "ws", "a.pcap"]),
            ["xmppcap", "--no-progress", "ws", "a.pcap"]
        );
    }

    #[test]
    fn fail_on_compares_levels() {
        assert_eq!(
            commands::exit_code(Some(Level::Warn), Some(Level::Warn)),
            ExitCode::from(1)
        );
        assert_eq!(
            commands::exit_code(Some(Level::Info), Some(Level::Warn)),
            ExitCode::SUCCESS
        );
        assert_eq!(
            commands::exit_code(Some(Level::Error), None),
            ExitCode::SUCCESS
        );
    }
}
