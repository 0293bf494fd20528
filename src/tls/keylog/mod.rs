//! NSS key log files (the `SSLKEYLOGFILE` format) from every source, merged.
//!
//! Takes key log text from `--keylog` files, the `SSLKEYLOGFILE` environment
//! variable and pcapng Decryption Secrets Blocks (which may arrive in the
//! middle of a capture); gives the secrets by client random and label, each
//! with the source that supplied it. Key log files are read once and
//! indexed where they lie (`index`: 16 bytes a secret, the secret
//! read back when a connection asks for it); text (Decryption Secrets
//! Blocks, text handed over, pipes) is held in memory. A malformed line is
//! a finding naming the source and line number; only an unreadable file is
//! an error. Never prints key material: [`Secret`]'s `Debug` and every
//! message say lengths, not bytes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Serialize, Serializer};
use thiserror::Error;

use index::{FileIndex, Found};

mod index;
mod load;

use crate::finding::{Finding, Findings};
use crate::tls::FindingCode;

/// Malformed key log lines reported one by one per source; the rest are
/// counted in one finding (a hostile DSB can hold millions).
const MALFORMED_LINES_SHOWN: u64 = 20;
/// The NSS labels xmppcap uses; every other label is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Label {
    /// `CLIENT_RANDOM`: the TLS 1.2 (and earlier) master secret.
    MasterSecret,
    ClientEarlyTraffic,
    ClientHandshakeTraffic,
    ServerHandshakeTraffic,
    ClientTraffic0,
    ServerTraffic0,
}

impl Label {
    const ALL: [Label; 6] = [
        Label::MasterSecret,
        Label::ClientEarlyTraffic,
        Label::ClientHandshakeTraffic,
        Label::ServerHandshakeTraffic,
        Label::ClientTraffic0,
        Label::ServerTraffic0,
    ];

    /// The label as written in key log files.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::MasterSecret => "CLIENT_RANDOM",
            Label::ClientEarlyTraffic => "CLIENT_EARLY_TRAFFIC_SECRET",
            Label::ClientHandshakeTraffic => "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            Label::ServerHandshakeTraffic => "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            Label::ClientTraffic0 => "CLIENT_TRAFFIC_SECRET_0",
            Label::ServerTraffic0 => "SERVER_TRAFFIC_SECRET_0",
        }
    }

    fn from_str(s: &str) -> Option<Label> {
        Label::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// Secret lengths this label may carry: the master secret is always 48
    /// bytes, TLS 1.3 secrets are one hash long (SHA-256 or SHA-384).
    fn lengths(self) -> &'static [usize] {
        match self {
            Label::MasterSecret => &[48],
            _ => &[32, 48],
        }
    }
}

/// Key material. Its `Debug` shows only the length.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<[u8]>);

impl Secret {
    pub(crate) fn new(bytes: &[u8]) -> Secret {
        Secret(bytes.into())
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes, redacted)", self.0.len())
    }
}

/// Where a secret came from, as the report names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeySource {
    /// A `--keylog` file.
    File(PathBuf),
    /// The file named by `SSLKEYLOGFILE`.
    Env(PathBuf),
    /// A pcapng Decryption Secrets Block starting at this byte of the capture file.
    Dsb { offset: u64 },
    /// Text handed over by a test or an embedding program.
    Named(String),
    /// Every source after the first `cap` (`Limits::max_key_sources`), together.
    Beyond { cap: usize },
}

impl KeySource {
    /// Bytes of its path or name.
    fn name_bytes(&self) -> usize {
        match self {
            KeySource::File(path) | KeySource::Env(path) => path.as_os_str().len(),
            KeySource::Named(name) => name.len(),
            KeySource::Dsb { .. } | KeySource::Beyond { .. } => 0,
        }
    }
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::File(p) => write!(f, "{}", p.display()),
            KeySource::Env(p) => write!(f, "SSLKEYLOGFILE {}", p.display()),
            KeySource::Dsb { offset } => write!(f, "pcapng DSB at byte {offset}"),
            KeySource::Named(s) => f.write_str(s),
            KeySource::Beyond { cap } => write!(f, "key sources after the first {cap}"),
        }
    }
}

impl Serialize for KeySource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A key file that cannot be read: fatal for the run.
#[derive(Debug, Error)]
pub enum KeyLogError {
    #[error("cannot read key log file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `--rsa-key`: the file is not a PEM RSA private key.
    #[error("cannot use RSA key file {path}: {reason}")]
    RsaKey { path: PathBuf, reason: String },
}

type SourceId = usize;

/// Every secret known so far, keyed by client random (a secret repeated,
/// from the same source or another, is kept once: the first one wins).
#[derive(Clone, Debug)]
pub struct KeyLog {
    /// One entry per secret held in memory (a TLS 1.2 connection has one, a
    /// TLS 1.3 one up to five): about 150 bytes each, against 400 for a
    /// slot per label.
    entries: BTreeMap<([u8; 32], Label), (Secret, SourceId)>,
    /// Secrets of key log files, left in the files.
    files: FileIndex,
    /// Secrets in `entries`.
    secrets: usize,
    /// Secrets in `entries` by label (indexed by `Label as usize`), so that
    /// counting them costs nothing however many there are.
    held_by_label: [usize; Label::ALL.len()],
    /// Secrets left out because of `caps.max_secrets` or `caps.max_file_secrets`.
    secrets_over_cap: u64,
    sources: Vec<KeySource>,
    /// Bytes of the sources' paths and names (for [`KeyLog::held_bytes`]).
    source_name_bytes: usize,
    caps: KeyCaps,
    generation: u64,
    #[cfg(feature = "rsa-keys")]
    rsa: Vec<super::rsa::RsaKey>,
}

/// Why a key log line was rejected (never containing the line itself).
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
enum LineError {
    #[error("{label} line has {found} fields, expected 3")]
    Fields { label: &'static str, found: usize },
    #[error("client random is not 64 hex digits")]
    ClientRandom,
    #[error("{label} secret is not hex of {expected} bytes")]
    SecretHex {
        label: &'static str,
        expected: &'static str,
    },
    #[error("line is not UTF-8 text")]
    NotText,
}

/// How much key material a [`KeyLog`] holds (from `Limits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyCaps {
    /// Secrets held in memory (Decryption Secrets Blocks, text), all those
    /// sources together; later new ones are counted.
    pub max_secrets: usize,
    /// Secrets of key log files indexed (16 bytes each); later new ones are counted.
    pub max_file_secrets: usize,
    /// Sources named one by one; later ones are kept as [`KeySource::Beyond`].
    pub max_sources: usize,
}

impl KeyCaps {
    pub fn of(limits: &crate::limits::Limits) -> KeyCaps {
        KeyCaps {
            max_secrets: limits.max_key_secrets,
            max_file_secrets: limits.max_key_file_secrets,
            max_sources: limits.max_key_sources,
        }
    }
}

impl Default for KeyLog {
    fn default() -> KeyLog {
        KeyLog::with_caps(KeyCaps::of(&crate::limits::Limits::default()))
    }
}

/// Why [`KeyLog::lookup`] has no secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Missing<'k> {
    /// No source gave it.
    Absent,
    /// This key log file had a line for it when it was indexed, and that
    /// line no longer reads back (the file changed during the run).
    Changed(&'k KeySource),
}

/// What adding one secret did.
enum Added {
    New,
    Known,
    OverCap,
}

impl KeyLog {
    pub fn new() -> KeyLog {
        KeyLog::default()
    }

    pub fn with_caps(caps: KeyCaps) -> KeyLog {
        KeyLog {
            entries: BTreeMap::new(),
            files: FileIndex::default(),
            secrets: 0,
            held_by_label: [0; Label::ALL.len()],
            secrets_over_cap: 0,
            sources: Vec::new(),
            source_name_bytes: 0,
            caps,
            generation: 0,
            #[cfg(feature = "rsa-keys")]
            rsa: Vec::new(),
        }
    }

    /// The id `source` is known by: its own up to `max_sources`, then one
    /// shared by all later sources (said once), so that millions of
    /// Decryption Secrets Blocks cost one entry.
    fn source_id(&mut self, source: &KeySource, findings: &mut impl Findings) -> SourceId {
        let cap = self.caps.max_sources;
        if self.sources.len() < cap {
            self.source_name_bytes += source.name_bytes();
            self.sources.push(source.clone());
            return self.sources.len() - 1;
        }
        if self.sources.len() == cap {
            findings.push_finding(Finding::new(
                FindingCode::KeySourceLimit,
                format!(
                    "more than {cap} key sources (key log files and pcapng Decryption Secrets Blocks, max_key_sources): {source} and later ones are used but named together"
                ),
            ));
            self.sources.push(KeySource::Beyond { cap });
        }
        cap
    }

    fn note_secrets_over_cap(&mut self, source: &KeySource, n: u64, findings: &mut impl Findings) {
        let first = self.secrets_over_cap == 0;
        self.secrets_over_cap += n;
        if first {
            let (held, cap) = match source {
                KeySource::File(_) | KeySource::Env(_) => {
                    (self.files.len(), "max_key_file_secrets")
                }
                _ => (self.secrets, "max_key_secrets"),
            };
            findings.push_finding(Finding::new(
                FindingCode::KeySecretLimit,
                format!(
                    "{source}: {n} new secrets not kept, {held} are already held ({cap}); connections they belong to are not decrypted"
                ),
            ));
        }
    }

    fn insert(&mut self, label: Label, random: [u8; 32], secret: Secret, id: SourceId) -> Added {
        let key = (random, label);
        if self.entries.contains_key(&key) || self.files.contains(&random, label) {
            // The first source wins; repeating a line is common and harmless.
            return Added::Known;
        }
        if self.secrets >= self.caps.max_secrets {
            return Added::OverCap;
        }
        self.entries.insert(key, (secret, id));
        self.secrets += 1;
        if let Some(n) = self.held_by_label.get_mut(label as usize) {
            *n += 1;
        }
        Added::New
    }

    /// Number of secrets known.
    pub fn len(&self) -> usize {
        self.secrets + self.files.len()
    }

    /// Bytes the key material holds, for the memory budget: per secret held
    /// in memory its map entry, the secret itself (48 bytes at most) and a
    /// share of the tree's node (about 16 bytes); the key log files' index
    /// (16 bytes a secret); per source its entry (a path or name counted by
    /// length). Bounded by `max_key_secrets`, `max_key_file_secrets` and
    /// `max_key_sources`; O(1), as it is asked after every Decryption
    /// Secrets Block.
    pub fn held_bytes(&self) -> usize {
        const SECRET_BYTES: usize = 48;
        const NODE_SHARE: usize = 16;
        let entry = std::mem::size_of::<(([u8; 32], Label), (Secret, SourceId))>()
            + SECRET_BYTES
            + NODE_SHARE;
        self.secrets.saturating_mul(entry)
            + self.files.held_bytes()
            + self.sources.len() * std::mem::size_of::<KeySource>()
            + self.source_name_bytes
    }

    /// New secrets left out because `max_key_secrets` or `max_key_file_secrets` was reached.
    pub fn secrets_over_cap(&self) -> u64 {
        self.secrets_over_cap
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.files.is_empty()
    }

    /// Changes whenever a secret is added: sessions retry lookups that failed before.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The secret for a client random and label, with its source: the first
    /// source's when several gave it (a key log file's is read back from the file).
    pub(crate) fn get(
        &self,
        client_random: &[u8; 32],
        label: Label,
    ) -> Option<(Secret, &KeySource)> {
        self.lookup(client_random, label).ok()
    }

    /// Like [`KeyLog::get`], saying why there is no secret: never logged,
    /// or logged in a file whose line no longer reads back as it did.
    pub(crate) fn lookup(
        &self,
        client_random: &[u8; 32],
        label: Label,
    ) -> Result<(Secret, &KeySource), Missing<'_>> {
        // A secret is in one place only: each source's lines are checked
        // against both before they are kept.
        let (secret, id) = match self.entries.get(&(*client_random, label)) {
            Some((held, id)) => (held.clone(), *id),
            None => match self.files.find(client_random, label) {
                Found::Secret(secret, id) => (secret, id),
                Found::Changed(id) => {
                    return Err(self
                        .sources
                        .get(id)
                        .map_or(Missing::Absent, Missing::Changed))
                }
                Found::Absent => return Err(Missing::Absent),
            },
        };
        self.sources
            .get(id)
            .map(|source| (secret, source))
            .ok_or(Missing::Absent)
    }

    #[cfg(feature = "rsa-keys")]
    pub(crate) fn add_rsa_key(&mut self, key: super::rsa::RsaKey) {
        self.rsa.push(key);
        self.generation += 1;
    }

    #[cfg(feature = "rsa-keys")]
    pub(crate) fn rsa_keys(&self) -> impl Iterator<Item = &super::rsa::RsaKey> {
        self.rsa.iter()
    }

    /// Whether any secret of this label is known.
    pub(crate) fn has_label(&self, label: Label) -> bool {
        self.count(label) > 0
    }

    /// How many secrets of a label are known; O(1), as it is asked per
    /// connection joined mid-stream.
    pub(crate) fn count(&self, label: Label) -> usize {
        let held = self.held_by_label.get(label as usize).copied();
        held.unwrap_or_default() + self.files.count(label)
    }

    /// Every secret with a label, with its source (for mid-stream trials):
    /// those held in memory in client-random order, then those of key log
    /// files in their index's order, each read back when its turn comes.
    pub(crate) fn all(
        &self,
        label: Label,
    ) -> impl Iterator<Item = ([u8; 32], Secret, &KeySource)> + '_ {
        let held = self
            .entries
            .iter()
            .filter(move |((_, l), _)| *l == label)
            .map(|((r, _), (secret, id))| (*r, secret.clone(), *id));
        held.chain(self.files.with_label(label))
            .filter_map(|(r, secret, id)| Some((r, secret, self.sources.get(id)?)))
    }
}

type Line = (Label, [u8; 32], Secret);

/// One key log line: a secret, nothing (blank, comment, a label xmppcap
/// does not use), or why it is malformed.
fn parse_line(line: &[u8]) -> Result<Option<Line>, LineError> {
    let line = std::str::from_utf8(line).map_err(|_| LineError::NotText)?;
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let fields: Vec<&str> = line.split_ascii_whitespace().collect();
    let Some(label) = fields.first().and_then(|l| Label::from_str(l)) else {
        return Ok(None);
    };
    let [_, random, secret] = fields[..] else {
        return Err(LineError::Fields {
            label: label.as_str(),
            found: fields.len(),
        });
    };
    let random: [u8; 32] = decode_hex(random)
        .and_then(|v| v.try_into().ok())
        .ok_or(LineError::ClientRandom)?;
    let secret = decode_hex(secret)
        .filter(|s| label.lengths().contains(&s.len()))
        .ok_or(LineError::SecretHex {
            label: label.as_str(),
            expected: if label == Label::MasterSecret {
                "48"
            } else {
                "32 or 48"
            },
        })?;
    Ok(Some((label, random, Secret(secret.into_boxed_slice()))))
}

/// Hex in either case; `None` for odd length or a non-hex digit.
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    s.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            u8::try_from(hi << 4 | lo).ok()
        })
        .collect()
}

/// Short hex of the first bytes of a client random, for messages: `1a2b3c4d…`.
pub(crate) fn short_hex(bytes: &[u8]) -> String {
    let mut s: String = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 8 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod index_tests;
#[cfg(test)]
mod tests;
