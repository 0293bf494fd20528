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
use xmppcap::report::model::Report;
use xmppcap::report::ndjson::{NdjsonWriter, Selection};
use xmppcap::report::{html, json, terminal};

use super::{open_output, EXIT_ERROR, EXIT_FINDINGS};
use crate::render;

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
    if format == Format::Ndjson {
        return run_ndjson(setup, selection);
    }
    let reports = pipeline::run_many(&setup.captures, |path| {
        pipeline::report(path, &setup.opts, selection)
    });
    let mut out = open_output(setup.output.as_ref())?;
    let ok: Vec<&Report> = reports.iter().flatten().collect();
    match (format, selection) {
        (Format::Json, Selection::All) => json::render_reports(&reports, &mut out)?,
        (Format::Json, _) => json::render_events(&reports, selection, &mut out)?,
        (Format::Html, _) => html::render_page(&ok, &html_page(setup, &reports), &mut out)?,
        (_, Selection::All) => {
            for (i, report) in ok.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                render::table::render(report, &mut out)?;
            }
        }
        (_, _) => render::listing::render_events(&ok, selection, &mut out)?,
    }
    out.flush()?;
    finish(setup, &reports)
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
        json::render_tls(&reports, &mut out)?;
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

/// NDJSON: captures one after the other, each event written as it happens,
/// framed by `capture.start` and `capture.end` lines.
fn run_ndjson(setup: &Setup, selection: Selection) -> anyhow::Result<ExitCode> {
    let mut out = open_output(setup.output.as_ref())?;
    let mut writer = NdjsonWriter::new(&mut out, selection);
    let (mut worst, mut failed) = (None, false);
    for path in &setup.captures {
        let name = path.display().to_string();
        writer.line(&CaptureStart {
            kind: "capture.start",
            capture: &name,
        });
        match pipeline::analyze(path, &setup.opts, &mut writer) {
            Ok(a) => {
                let capture_worst = a.findings.iter().map(|f| f.level).max();
                worst = worst.max(capture_worst);
                writer.line(&CaptureEnd {
                    kind: "capture.end",
                    capture: &name,
                    packets: a.run.summary.packets,
                    connections: a.connections_seen,
                    sessions: a.sessions_seen,
                    findings: a.findings.len(),
                    worst: capture_worst,
                });
            }
            Err(e) => {
                eprintln!("xmppcap: {}", terminal::field(&format!("{name}: {e}")));
                failed = true;
            }
        }
        if let Some(e) = writer.take_error() {
            return Err(e.into());
        }
    }
    drop(writer);
    out.flush()?;
    if failed {
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    Ok(exit_code(worst, setup.fail_on))
}
