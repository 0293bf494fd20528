//! `-j N` gives the output of `-j 1`, byte for byte: the NDJSON events
//! with 1, 2 and 8 workers and the JSON report with 1 and 8, for every
//! capture in `fixtures/` (with its key log from `keys/`) and every capture
//! of the public corpus (`../shared/corpus/MANIFEST.tsv`, with its key log;
//! its RSA keys with the `rsa-keys` feature).

use std::path::{Path, PathBuf};

use crate::cli::xmppcap;
use crate::workspace_root;

/// The worker counts compared with one thread, per format.
const RUNS: &[(&str, &[&str])] = &[("ndjson", &["2", "8"]), ("json", &["8"])];

/// A capture and the key options it is read with.
struct Case {
    capture: PathBuf,
    keys: Vec<String>,
}

fn fixture_cases(root: &Path) -> Vec<Case> {
    let mut cases: Vec<Case> = std::fs::read_dir(root.join("fixtures"))
        .expect("fixtures/ readable")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.contains(".pcap")
        })
        .map(|capture| {
            let name = capture.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let stem = name.split('.').next().unwrap_or(name);
            let keylog = root.join("keys").join(format!("{stem}.keys"));
            let keys = if keylog.is_file() {
                vec!["--keylog".to_owned(), keylog.display().to_string()]
            } else {
                Vec::new()
            };
            Case { capture, keys }
        })
        .collect();
    cases.sort_by(|a, b| a.capture.cmp(&b.capture));
    cases
}

fn corpus_cases(root: &Path) -> Vec<Case> {
    let corpus = std::env::var_os("XMPPCAP_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/corpus"));
    let Ok(manifest) = std::fs::read_to_string(corpus.join("MANIFEST.tsv")) else {
        eprintln!(
            "SKIPPING the corpus in the -j test: no MANIFEST.tsv at {} (set XMPPCAP_CORPUS)",
            corpus.display()
        );
        return Vec::new();
    };
    manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let given = |i: usize| cols.get(i).copied().filter(|c| *c != "-" && !c.is_empty());
            let mut keys = Vec::new();
            if let Some(keylog) = given(1) {
                keys.extend([
                    "--keylog".to_owned(),
                    corpus.join(keylog).display().to_string(),
                ]);
            }
            if let Some(rsa) = given(2).filter(|_| cfg!(feature = "rsa-keys")) {
                keys.extend([
                    "--rsa-key".to_owned(),
                    corpus.join(rsa).display().to_string(),
                ]);
            }
            let capture = corpus.join(given(0).unwrap_or_default());
            Case { capture, keys }
        })
        .collect()
}

/// Where the outputs of `-j 1` and `-j jobs` differ, or `None`.
fn difference(case: &Case, format: &str, jobs: &str, one: &[u8]) -> Option<String> {
    let capture = case.capture.display().to_string();
    let mut args = vec![
        "report",
        &capture,
        "--format",
        format,
        "--no-progress",
        "-j",
        jobs,
    ];
    args.extend(case.keys.iter().map(String::as_str));
    let many = xmppcap(&args).stdout;
    if many == one {
        return None;
    }
    let line = one
        .split(|&b| b == b'\n')
        .zip(many.split(|&b| b == b'\n'))
        .position(|(a, b)| a != b)
        .map_or_else(|| "the length".to_owned(), |i| format!("line {}", i + 1));
    Some(format!(
        "{capture} --format {format}: -j {jobs} differs from -j 1 at {line}"
    ))
}

/// Every difference for one capture.
fn differences(case: &Case) -> Vec<String> {
    let capture = case.capture.display().to_string();
    let mut found = Vec::new();
    for (format, jobs) in RUNS {
        let mut args = vec![
            "report",
            &capture,
            "--format",
            format,
            "--no-progress",
            "-j",
            "1",
        ];
        args.extend(case.keys.iter().map(String::as_str));
        let one = xmppcap(&args).stdout;
        assert!(!one.is_empty(), "{args:?} gave nothing");
        found.extend(
            jobs.iter()
                .filter_map(|j| difference(case, format, j, &one)),
        );
    }
    found
}

#[test]
fn any_number_of_workers_gives_the_output_of_one() {
    let root = workspace_root();
    let cases: Vec<Case> = fixture_cases(&root)
        .into_iter()
        .chain(corpus_cases(&root))
        .collect();
    assert!(cases.len() >= 50, "only {} captures found", cases.len());
    // Two threads of runs: the binary itself runs up to 8 more.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = [0, 1]
            .into_iter()
            .map(|half| {
                let cases = &cases;
                scope.spawn(move || {
                    cases
                        .iter()
                        .skip(half)
                        .step_by(2)
                        .flat_map(differences)
                        .collect::<Vec<String>>()
                })
            })
            .collect();
        runs.into_iter()
            .flat_map(|run| run.join().expect("a run thread"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} outputs differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Past its share of the budget a worker cuts alone, and its finding says
/// whose share it was.
#[test]
fn a_worker_s_cut_names_its_share_of_the_budget() {
    let args = [
        "report",
        "fixtures/finesse-wss.pcapng",
        "--keylog",
        "keys/finesse-wss.keys",
        "--format",
        "ndjson",
        "--no-progress",
        "--memory-limit",
        "4K",
        "-j",
        "2",
    ];
    let out = xmppcap(&args);
    assert_eq!(out.status.code(), Some(0), "{args:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let cuts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(r#"{"kind":"finding""#) && l.contains("limits.memory"))
        .collect();
    assert!(!cuts.is_empty(), "no limits.memory finding");
    for worker in ["of worker 1 of 2", "of worker 2 of 2"] {
        assert!(
            cuts.iter()
                .any(|c| c.contains(worker) && c.contains("memory_budget / 3")),
            "{worker}: {cuts:?}"
        );
    }
}
