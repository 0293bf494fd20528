//! Access to the public capture corpus in `../shared/corpus` and its
//! tshark ground truth (`MANIFEST.tsv`, `<capture>.streams.tsv`).

use std::path::{Path, PathBuf};

/// The corpus folder: `$XMPPCAP_CORPUS`, else `../shared/corpus` beside the
/// checkout. `None` (with a loud message) when absent; CI always has it.
pub fn dir(test: &str) -> Option<PathBuf> {
    let candidate = std::env::var_os("XMPPCAP_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if candidate.join("MANIFEST.tsv").is_file() {
        Some(candidate)
    } else {
        eprintln!(
            "SKIPPING {test}: corpus not found at {} (set XMPPCAP_CORPUS)",
            candidate.display()
        );
        None
    }
}

/// One row of `MANIFEST.tsv`.
#[derive(Debug, Clone)]
pub struct Entry {
    pub capture: PathBuf,
    /// NSS key log (column 2), when the capture has one.
    pub keylog: Option<PathBuf>,
    /// Server RSA private key (column 3), when the capture has one.
    #[cfg_attr(not(feature = "rsa-keys"), allow(dead_code))]
    pub rsa_key: Option<PathBuf>,
    /// Notes (column 4): "keys embedded in pcapng (DSB)" marks secrets inside the capture.
    pub notes: String,
}

pub fn manifest(corpus: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("MANIFEST.tsv readable");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let mut cols = line.split('\t');
            let capture = corpus.join(cols.next().unwrap_or_default());
            let keylog = cols
                .next()
                .filter(|k| *k != "-" && !k.is_empty())
                .map(|k| corpus.join(k));
            let rsa_key = cols
                .next()
                .filter(|k| *k != "-" && !k.is_empty())
                .map(|k| corpus.join(k));
            Entry {
                capture,
                keylog,
                rsa_key,
                notes: cols.next().unwrap_or_default().to_owned(),
            }
        })
        .collect()
}

/// One row of `<capture>.streams.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRow {
    pub layer: String,
    pub stream: u64,
    pub client: String,
    pub server: String,
    pub dir: String,
    pub bytes: u64,
    pub sha256: String,
}

pub fn stream_rows(capture: &Path) -> Vec<StreamRow> {
    let mut name = capture.as_os_str().to_owned();
    name.push(".streams.tsv");
    let Ok(text) = std::fs::read_to_string(&name) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|line| {
            let c: Vec<&str> = line.split('\t').collect();
            Some(StreamRow {
                layer: c.first()?.to_string(),
                stream: c.get(1)?.parse().ok()?,
                client: c.get(2)?.to_string(),
                server: c.get(3)?.to_string(),
                dir: c.get(4)?.to_string(),
                bytes: c.get(5)?.parse().ok()?,
                sha256: c.get(6)?.to_string(),
            })
        })
        .collect()
}

/// Relative name of a corpus file, for messages.
pub fn short(corpus: &Path, path: &Path) -> String {
    path.strip_prefix(corpus)
        .unwrap_or(path)
        .display()
        .to_string()
}
