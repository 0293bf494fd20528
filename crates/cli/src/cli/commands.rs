//! Runs the analysis commands (`report`, `tls`, `ws`, `http`) over one or
//! more captures and writes the chosen format.
//!
//! Takes parsed options; gives an exit code. NDJSON streams capture after
//! capture as events happen; the other formats analyse captures in parallel
//! and print them in the order given.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use xmppcap::finding::Level;
use xmppcap::pipeline::{self, Options, PipelineError};
use xmppcap::report::agents::AgentStory;
use xmppcap::report::event::{Detail, Event};
use xmppcap::report::filter::{Filter, Scope};
use xmppcap::report::model::Report;
use xmppcap::report::ndjson::{NdjsonWriter, Selection};
use xmppcap::report::sink::EventSink;
use xmppcap::report::{html, json, terminal};

use super::{fleet, open_output, EXIT_ERROR, EXIT_FINDINGS};
use crate::render;
use crate::render::style::Style;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    Table,
    Json,
    Ndjson,
    Html,
}

/// What every analysis command needs.
pub(super) struct Setup {
    pub captures: Vec<PathBuf>,
    pub output: Option<PathBuf>,
    pub fail_on: Option<Level>,
    pub opts: Options,
    /// What to keep of each capture (`--stream`, `--agent`, `--since`...).
    pub filter: Filter,
    /// How the tables look (`--width`, `--color`, `--precision`, `--local`, `--raw`).
    pub style: Style,
}

impl Setup {
    /// The same run narrowed to one capture (`-o DIR/` runs them one by one).
    pub fn for_one(&self, path: &Path) -> Setup {
        Setup {
            captures: vec![path.to_path_buf()],
            output: None,
            fail_on: self.fail_on,
            opts: self.opts.clone(),
            filter: self.filter.clone(),
            style: self.style.clone(),
        }
    }

    /// The inputs as named in the output (a failed one's JSON entry, NDJSON's framing).
    fn capture_names(&self) -> Vec<String> {
        self.captures
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    }
}

pub(super) fn exit_code(worst: Option<Level>, fail_on: Option<Level>) -> ExitCode {
    match (worst, fail_on) {
        (Some(worst), Some(fail_on)) if worst >= fail_on => ExitCode::from(EXIT_FINDINGS),
        _ => ExitCode::SUCCESS,
    }
}

pub(super) fn run_analysis(
    setup: &Setup,
    selection: Selection,
    format: Format,
) -> anyhow::Result<ExitCode> {
    if let Some(dir) = setup.output.as_deref().filter(|p| fleet::is_output_dir(p)) {
        return fleet::run(setup, selection, format, dir);
    }
    if format == Format::Ndjson {
        return run_ndjson(setup, selection);
    }
    let reports = pipeline::run_many(&setup.captures, |path| {
        let mut report = pipeline::report(path, &setup.opts, selection)?;
        // Narrowed once, here: every format and the exit code see the same report.
        setup.filter.apply(&mut report);
        Ok(report)
    });
    let mut out = open_output(setup.output.as_ref())?;
    render_reports(setup, &reports, selection, format, &mut out)?;
    finish(setup, &reports)
}

/// Writes `reports` (in the order of `setup.captures`) in `format`.
pub(super) fn render_reports(
    setup: &Setup,
    reports: &[Result<Report, PipelineError>],
    selection: Selection,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let ok: Vec<&Report> = reports.iter().flatten().collect();
    let filter = Some(&setup.filter);
    let names = setup.capture_names();
    let mut out = out;
    match (format, selection) {
        (Format::Json, Selection::All) => {
            json::render_reports_filtered(reports, &names, filter, &mut out)?
        }
        (Format::Json, _) => {
            json::render_events_filtered(reports, &names, selection, filter, &mut out)?
        }
        (Format::Html, _) => html::render_page(&ok, &html_page(setup, reports), &mut out)?,
        (_, Selection::All) => {
            for (i, report) in ok.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                render::table::render_with(report, &setup.style, &mut out)?;
            }
        }
        (_, _) => render::listing::render_events_with(&ok, selection, &setup.style, &mut out)?,
    }
    out.flush()?;
    Ok(())
}

/// The HTML footer's facts: the command line as typed (secrets removed by
/// the library), each input's SHA-256, and the captures that failed.
fn html_page(setup: &Setup, reports: &[Result<Report, PipelineError>]) -> html::Page {
    // The program as a user types it (`xmppcap`), not the path it ran from.
    let args: Vec<String> = std::env::args_os()
        .enumerate()
        .map(|(i, a)| match Path::new(&a).file_name() {
            Some(name) if i == 0 => name.to_string_lossy().into_owned(),
            _ => a.to_string_lossy().into_owned(),
        })
        .collect();
    let inputs: Vec<&Path> = setup.captures.iter().map(PathBuf::as_path).collect();
    let mut page = html::Page::for_run(&args, &inputs);
    page.filter = setup.filter.is_active().then(|| setup.filter.describe());
    page.failed = setup
        .captures
        .iter()
        .zip(reports)
        .filter_map(|(path, r)| {
            r.as_ref()
                .err()
                .map(|e| (path.display().to_string(), e.to_string()))
        })
        .collect();
    page
}

pub(super) fn run_tls(setup: &Setup, json: bool) -> anyhow::Result<ExitCode> {
    let reports = pipeline::run_many(&setup.captures, |path| {
        pipeline::report(path, &setup.opts, Selection::Tls)
    });
    let mut out = open_output(setup.output.as_ref())?;
    if json {
        json::render_tls(&reports, &setup.capture_names(), &mut out)?;
    } else {
        let ok: Vec<&Report> = reports.iter().flatten().collect();
        render::listing::render_tls(&ok, &mut out)?;
    }
    out.flush()?;
    finish(setup, &reports)
}

/// Reports failed captures on stderr and chooses the exit code.
fn finish(setup: &Setup, reports: &[Result<Report, PipelineError>]) -> anyhow::Result<ExitCode> {
    Ok(exit_code_of(
        &setup.captures,
        reports,
        Report::worst_level,
        setup.fail_on,
    ))
}

/// 2 when a capture failed (each failure said on stderr), else by the worst finding.
pub(super) fn exit_code_of<T>(
    captures: &[PathBuf],
    reports: &[Result<T, PipelineError>],
    worst_of: impl Fn(&T) -> Option<Level>,
    fail_on: Option<Level>,
) -> ExitCode {
    let mut failed = false;
    for (path, report) in captures.iter().zip(reports) {
        if let Err(e) = report {
            // A key file's error names the key file; the capture is not at fault.
            let said = match e {
                PipelineError::Keys(_) => e.to_string(),
                _ => format!("{}: {e}", path.display()),
            };
            eprintln!("xmppcap: {}", terminal::field(&said));
            failed = true;
        }
    }
    if failed {
        return ExitCode::from(EXIT_ERROR);
    }
    let worst = reports.iter().flatten().filter_map(worst_of).max();
    exit_code(worst, fail_on)
}

#[derive(Serialize)]
struct CaptureStart<'a> {
    kind: &'static str,
    capture: &'a str,
    /// The filter applied to the events that follow, when any.
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<&'a Filter>,
}

/// The NDJSON writer behind a filter: events outside it are dropped as they
/// stream. The window's offsets count from the first event's time (the
/// capture's first packet is not known before it is read: they differ only
/// when the capture opens with packets that make no event).
struct Narrowed<'s, 'w> {
    writer: &'s mut NdjsonWriter<'w>,
    filter: &'s Filter,
    scope: Option<Scope>,
    /// `finding` lines written, and the worst level among them: the
    /// report's finding log keeps the first 1,000 of each code, the stream
    /// has them all, and `capture.end` counts what the stream holds.
    findings: u64,
    worst: Option<Level>,
}

impl Narrowed<'_, '_> {
    fn keeps(&mut self, e: &Event) -> bool {
        if self.filter.summary
            && !matches!(e.detail, Detail::Finding { .. } | Detail::ConnSummary(_))
        {
            return false;
        }
        if self.scope.is_none() && e.time.is_some() {
            self.scope = Some(self.filter.scope(e.time));
        }
        match &self.scope {
            Some(scope) => scope.keeps_event(e),
            None => self.filter.scope(None).keeps_event(e),
        }
    }

    fn keeps_finding(&self, f: &xmppcap::finding::Finding) -> bool {
        match &self.scope {
            Some(scope) => scope.keeps_finding(f),
            None => self.filter.scope(None).keeps_finding(f),
        }
    }
}

impl EventSink for Narrowed<'_, '_> {
    fn emit(&mut self, event: Event) {
        if self.keeps(&event) {
            if let Detail::Finding { level, .. } = &event.detail {
                self.findings += 1;
                self.worst = self.worst.max(Some(*level));
            }
            self.writer.emit(event);
        }
    }

    /// Lines rendered elsewhere only when no filter reads the events.
    fn takes_lines(&self) -> Option<Selection> {
        self.writer
            .takes_lines()
            .filter(|_| !self.filter.is_active())
    }

    fn emit_line(&mut self, pieces: &[&[u8]]) {
        self.writer.emit_line(pieces);
    }
}

#[derive(Serialize)]
struct CaptureEnd<'a> {
    kind: &'static str,
    capture: &'a str,
    packets: u64,
    connections: u64,
    sessions: u64,
    findings: usize,
    worst: Option<Level>,
}

/// One agent's story at the end of a capture: the JSON report's `agents[]`
/// entry, the same serializer, with the line's kind and capture.
#[derive(Serialize)]
struct AgentSummary<'a> {
    kind: &'static str,
    capture: &'a str,
    #[serde(flatten)]
    story: &'a AgentStory,
}

/// The `capture.end` of a capture that could not be read to its end.
#[derive(Serialize)]
struct CaptureFailed<'a> {
    kind: &'static str,
    capture: &'a str,
    error: String,
}

/// What one capture's NDJSON said at its end (the `capture.end` line's
/// figures), or why it stopped.
pub(super) struct NdjsonOutcome {
    pub packets: u64,
    pub connections: u64,
    pub sessions: u64,
    pub findings: usize,
    pub worst: Option<Level>,
    pub error: Option<String>,
}

impl NdjsonOutcome {
    /// A capture that gave nothing: why.
    pub fn failed(error: String) -> NdjsonOutcome {
        NdjsonOutcome {
            packets: 0,
            connections: 0,
            sessions: 0,
            findings: 0,
            worst: None,
            error: Some(error),
        }
    }
}

/// NDJSON: captures one after the other, each event written as it happens,
/// framed by `capture.start` and `capture.end` lines; before the end, one
/// `agent.summary` line per agent (their stories need the whole capture).
fn run_ndjson(setup: &Setup, selection: Selection) -> anyhow::Result<ExitCode> {
    refuse_agent_filter(setup)?;
    let mut out = open_output(setup.output.as_ref())?;
    let mut writer = NdjsonWriter::new(&mut out, selection);
    let (mut worst, mut failed) = (None, false);
    for path in &setup.captures {
        let outcome = ndjson_capture(setup, path, &mut writer);
        if let Some(e) = writer.take_error() {
            return Err(e.into());
        }
        worst = worst.max(outcome.worst);
        failed |= outcome.error.is_some();
    }
    drop(writer);
    out.flush()?;
    if failed {
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    Ok(exit_code(worst, setup.fail_on))
}

pub(super) fn refuse_agent_filter(setup: &Setup) -> anyhow::Result<()> {
    if setup.filter.agent.is_some() {
        // An event streams before the session names its agent (SASL, bind).
        anyhow::bail!(
            "--agent needs the whole capture first: use --format json or table with it, not ndjson"
        );
    }
    Ok(())
}

/// One capture's NDJSON, from `capture.start` to `capture.end` (which says
/// the error when the capture could not be read to its end; the error is
/// also said on stderr).
pub(super) fn ndjson_capture(
    setup: &Setup,
    path: &Path,
    writer: &mut NdjsonWriter<'_>,
) -> NdjsonOutcome {
    let name = path.display().to_string();
    let filter = Some(&setup.filter).filter(|f| f.is_active());
    writer.line(&CaptureStart {
        kind: "capture.start",
        capture: &name,
        filter,
    });
    let mut narrowed = Narrowed {
        writer,
        filter: &setup.filter,
        scope: None,
        findings: 0,
        worst: None,
    };
    // The events are the output: a finished connection leaves nothing behind
    // (no connection or session summary is kept, only counted).
    let opts = Options {
        events_only: true,
        ..setup.opts.clone()
    };
    let analysis = pipeline::analyze(path, &opts, &mut narrowed);
    let shown = analysis.as_ref().map(|a| {
        a.findings
            .iter()
            .filter(|f| narrowed.keeps_finding(f))
            .collect::<Vec<_>>()
    });
    let (streamed, streamed_worst) = (narrowed.findings, narrowed.worst);
    match (analysis.as_ref(), shown) {
        (Ok(a), Ok(shown)) => {
            let mut stories = a.agent_stories(setup.opts.raw);
            let start = a.run.summary.first_time;
            setup.filter.narrow_agents(&mut stories, &a.sessions, start);
            for story in &stories {
                writer.line(&AgentSummary {
                    kind: "agent.summary",
                    capture: &name,
                    story,
                });
            }
            let outcome = NdjsonOutcome {
                packets: a.run.summary.packets,
                connections: a.connections_seen,
                sessions: a.sessions_seen,
                // Not `shown.len()`: past 1,000 of a code the log only
                // counts (its summary lines are not findings of their own).
                findings: usize::try_from(streamed).unwrap_or(usize::MAX),
                worst: shown.iter().map(|f| f.level).max().max(streamed_worst),
                error: None,
            };
            writer.line(&CaptureEnd {
                kind: "capture.end",
                capture: &name,
                packets: outcome.packets,
                connections: outcome.connections,
                sessions: outcome.sessions,
                findings: outcome.findings,
                worst: outcome.worst,
            });
            outcome
        }
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("xmppcap: {}", terminal::field(&format!("{name}: {e}")));
            // The framing closes even when the capture failed part way.
            writer.line(&CaptureFailed {
                kind: "capture.end",
                capture: &name,
                error: e.to_string(),
            });
            NdjsonOutcome::failed(e.to_string())
        }
    }
}
