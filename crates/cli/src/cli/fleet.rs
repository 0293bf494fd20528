//! `-o DIR/`: one output file per capture and a manifest, for audits of
//! many captures run by a job scheduler and loaded by DuckDB or Spark.
//!
//! Takes the analysis setup and an output directory; writes
//! `DIR/<capture name>.<ndjson|json|html|txt>` per capture (analysed in
//! parallel, one thread per core) and appends one line per capture to
//! `DIR/manifest.json` (newline-delimited JSON: input, output, SHA-256,
//! exit status, counts), in the order the captures were given. Never
//! writes outside DIR; a capture that fails gets its manifest line with the
//! error, and the others go on.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::Context;
use serde::Serialize;

use xmppcap::finding::Level;
use xmppcap::pipeline;
use xmppcap::report::html::sha256_of_file;
use xmppcap::report::ndjson::{NdjsonWriter, Selection};

use super::commands::{self, Format, NdjsonOutcome, Setup};
use super::{EXIT_ERROR, EXIT_FINDINGS};

/// The manifest's file name inside the output directory.
pub(super) const MANIFEST: &str = "manifest.json";

/// Whether `-o PATH` names a directory: it ends with a path separator or
/// is an existing directory.
pub(super) fn is_output_dir(path: &Path) -> bool {
    let text = path.as_os_str().to_string_lossy();
    text.ends_with('/') || text.ends_with(std::path::MAIN_SEPARATOR) || path.is_dir()
}

/// One manifest line: what a scheduler or a query needs to know of a run.
#[derive(Serialize)]
struct ManifestLine<'a> {
    input: &'a str,
    /// The output file, relative to the manifest's directory.
    output: &'a str,
    /// The input's SHA-256 (null when it could not be read, or for stdin).
    sha256: Option<String>,
    /// The input's size in bytes.
    bytes: Option<u64>,
    format: &'static str,
    /// The exit code `xmppcap` would give for this capture alone.
    exit: u8,
    /// `ok`, `findings` (at or above `--fail-on`) or `error`.
    status: &'static str,
    error: Option<&'a str>,
    packets: u64,
    connections: u64,
    sessions: u64,
    findings: usize,
    worst: Option<Level>,
    xmppcap: &'static str,
}

/// Runs the analysis of every capture into its own file under `dir`.
pub(super) fn run(
    setup: &Setup,
    selection: Selection,
    format: Format,
    dir: &Path,
) -> anyhow::Result<ExitCode> {
    if format == Format::Ndjson {
        commands::refuse_agent_filter(setup)?;
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create output directory {}", dir.display()))?;
    let names = output_names(&setup.captures, format);
    let outcomes = in_parallel(setup.captures.len(), |i| {
        let (Some(path), Some(name)) = (setup.captures.get(i), names.get(i)) else {
            return NdjsonOutcome::failed("no such capture".into());
        };
        one_capture(setup, selection, format, path, &dir.join(name))
    });
    let mut manifest = String::new();
    let mut exit = 0;
    for ((path, name), outcome) in setup.captures.iter().zip(&names).zip(&outcomes) {
        let code = exit_of(outcome, setup.fail_on);
        exit = exit.max(code);
        manifest.push_str(&manifest_line(path, name, format, outcome, code)?);
    }
    append_manifest(&dir.join(MANIFEST), &manifest)?;
    Ok(ExitCode::from(exit))
}

/// Runs `job(0..count)` on one thread per core, results in index order.
fn in_parallel(count: usize, job: impl Fn(usize) -> NdjsonOutcome + Sync) -> Vec<NdjsonOutcome> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(count.max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, NdjsonOutcome)>> = Mutex::new(Vec::with_capacity(count));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let outcome = job(i);
                if let Ok(mut done) = results.lock() {
                    done.push((i, outcome));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, outcome)| outcome).collect()
}

/// One capture into `out`, in `format`.
fn one_capture(
    setup: &Setup,
    selection: Selection,
    format: Format,
    path: &Path,
    out: &Path,
) -> NdjsonOutcome {
    let file = match File::create(out) {
        Ok(file) => file,
        Err(e) => return NdjsonOutcome::failed(format!("cannot create {}: {e}", out.display())),
    };
    let mut file = BufWriter::new(file);
    let one = setup.for_one(path);
    if format == Format::Ndjson {
        let mut writer = NdjsonWriter::new(&mut file, selection);
        let mut outcome = commands::ndjson_capture(&one, path, &mut writer);
        if let Some(e) = writer.take_error() {
            outcome.error = Some(format!("cannot write {}: {e}", out.display()));
        }
        drop(writer);
        return flushed(outcome, &mut file, out);
    }
    let report = pipeline::report(path, &one.opts, selection).map(|mut report| {
        one.filter.apply(&mut report);
        report
    });
    let outcome = match &report {
        // Counted, not only listed (a filter counts what it kept).
        Ok(r) => NdjsonOutcome {
            packets: r.capture.packets,
            connections: r.connections_seen.max(r.connections.len() as u64),
            sessions: r.sessions_seen.max(r.sessions.len() as u64),
            findings: r.findings.len(),
            worst: r.worst_level(),
            error: None,
        },
        Err(e) => {
            eprintln!("xmppcap: {}: {e}", path.display());
            NdjsonOutcome::failed(e.to_string())
        }
    };
    let reports = [report];
    if let Err(e) = commands::render_reports(&one, &reports, selection, format, &mut file) {
        return NdjsonOutcome::failed(format!("cannot write {}: {e}", out.display()));
    }
    flushed(outcome, &mut file, out)
}

fn flushed(mut outcome: NdjsonOutcome, file: &mut impl Write, out: &Path) -> NdjsonOutcome {
    if let Err(e) = file.flush() {
        outcome.error = Some(format!("cannot write {}: {e}", out.display()));
    }
    outcome
}

fn exit_of(outcome: &NdjsonOutcome, fail_on: Option<Level>) -> u8 {
    match (&outcome.error, outcome.worst, fail_on) {
        (Some(_), _, _) => EXIT_ERROR,
        (None, Some(worst), Some(fail_on)) if worst >= fail_on => EXIT_FINDINGS,
        _ => 0,
    }
}

fn manifest_line(
    path: &Path,
    name: &str,
    format: Format,
    outcome: &NdjsonOutcome,
    exit: u8,
) -> anyhow::Result<String> {
    let stdin = path.as_os_str() == "-";
    let input = path.display().to_string();
    let line = ManifestLine {
        input: &input,
        output: name,
        sha256: (!stdin).then(|| sha256_of_file(path).ok()).flatten(),
        bytes: (!stdin)
            .then(|| std::fs::metadata(path).ok().map(|m| m.len()))
            .flatten(),
        format: extension(format),
        exit,
        status: match exit {
            0 => "ok",
            EXIT_FINDINGS => "findings",
            _ => "error",
        },
        error: outcome.error.as_deref(),
        packets: outcome.packets,
        connections: outcome.connections,
        sessions: outcome.sessions,
        findings: outcome.findings,
        worst: outcome.worst,
        xmppcap: env!("CARGO_PKG_VERSION"),
    };
    Ok(serde_json::to_string(&line)? + "\n")
}

/// Appends the lines in one write, so that jobs run side by side on the
/// same directory (each with one capture) do not interleave their lines.
fn append_manifest(path: &Path, lines: &str) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open the manifest {}", path.display()))?;
    file.write_all(lines.as_bytes())
        .with_context(|| format!("cannot write the manifest {}", path.display()))
}

fn extension(format: Format) -> &'static str {
    match format {
        Format::Ndjson => "ndjson",
        Format::Json => "json",
        Format::Html => "html",
        Format::Table => "txt",
    }
}

/// Each capture's output file name: its file name without the capture
/// extensions, reduced to safe characters, made unique within the run
/// (`-2`, `-3`... in the order given), plus the format's extension.
pub(super) fn output_names(captures: &[PathBuf], format: Format) -> Vec<String> {
    let mut used = BTreeSet::new();
    captures
        .iter()
        .map(|path| {
            let stem = stem_of(path);
            let mut name = format!("{stem}.{}", extension(format));
            let mut n = 1;
            while !used.insert(name.clone()) || name == MANIFEST {
                n += 1;
                name = format!("{stem}-{n}.{}", extension(format));
            }
            name
        })
        .collect()
}

fn stem_of(path: &Path) -> String {
    if path.as_os_str() == "-" {
        return "stdin".into();
    }
    let mut name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for ext in [".gz", ".pcapng", ".pcap", ".cap", ".har"] {
        if let Some(stripped) = name.strip_suffix(ext) {
            name = stripped.to_string();
        }
    }
    let safe: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect();
    match safe.trim_start_matches('.') {
        "" => "capture".into(),
        s => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_strip_capture_extensions_and_stay_unique() {
        let captures: Vec<PathBuf> = [
            "a/day1.pcapng.gz",
            "b/day1.pcapng",
            "c/case 42;rm.har",
            "-",
            "..",
            "x/manifest.pcap",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(
            output_names(&captures, Format::Ndjson),
            [
                "day1.ndjson",
                "day1-2.ndjson",
                "case_42_rm.ndjson",
                "stdin.ndjson",
                "capture.ndjson",
                "manifest.ndjson",
            ]
        );
        let json = output_names(&[PathBuf::from("manifest")], Format::Json);
        assert_eq!(json, ["manifest-2.json"]);
    }

    #[test]
    fn a_trailing_slash_or_an_existing_directory_is_a_directory() {
        assert!(is_output_dir(Path::new("out/")));
        assert!(is_output_dir(&std::env::temp_dir()));
        assert!(!is_output_dir(Path::new("out.ndjson")));
    }
}
