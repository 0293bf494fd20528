//! NSS key log files (the `SSLKEYLOGFILE` format) from every source, merged.
//!
//! Takes key log text from `--keylog` files, the `SSLKEYLOGFILE` environment
//! variable and pcapng Decryption Secrets Blocks (which may arrive in the
//! middle of a capture); gives the secrets by client random and label, each
//! with the source that supplied it. A malformed line is a finding naming the
//! source and line number; only an unreadable file is an error. Never prints
//! key material: [`Secret`]'s `Debug` and every message say lengths, not bytes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};
use thiserror::Error;

use crate::finding::{Finding, Findings, Throttle};
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
    /// One entry per secret (a TLS 1.2 connection has one, a TLS 1.3 one up
    /// to five): about 150 bytes each, against 400 for a slot per label.
    entries: BTreeMap<([u8; 32], Label), (Secret, SourceId)>,
    /// Secrets in `entries`.
    secrets: usize,
    /// Secrets left out because of `caps.max_secrets`.
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
    /// Secrets kept, all sources together; later new ones are counted.
    pub max_secrets: usize,
    /// Sources named one by one; later ones are kept as [`KeySource::Beyond`].
    pub max_sources: usize,
}

impl KeyCaps {
    pub fn of(limits: &crate::limits::Limits) -> KeyCaps {
        KeyCaps {
            max_secrets: limits.max_key_secrets,
            max_sources: limits.max_key_sources,
        }
    }
}

impl Default for KeyLog {
    fn default() -> KeyLog {
        KeyLog::with_caps(KeyCaps::of(&crate::limits::Limits::default()))
    }
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
            secrets: 0,
            secrets_over_cap: 0,
            sources: Vec::new(),
            source_name_bytes: 0,
            caps,
            generation: 0,
            #[cfg(feature = "rsa-keys")]
            rsa: Vec::new(),
        }
    }

    /// Reads a `--keylog` file. Malformed lines become findings; an unreadable file is an error.
    pub fn load_file(
        &mut self,
        path: &Path,
        findings: &mut impl Findings,
    ) -> Result<usize, KeyLogError> {
        let text = std::fs::read(path).map_err(|source| KeyLogError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(self.add_text(&text, KeySource::File(path.to_path_buf()), findings))
    }

    /// Reads the file named by `SSLKEYLOGFILE`, if that variable is set and
    /// not empty. The variable may be left over from another task, so a file
    /// that cannot be read is a finding naming the variable, not an error.
    pub fn load_env(&mut self, findings: &mut impl Findings) -> usize {
        let Some(path) = std::env::var_os("SSLKEYLOGFILE").filter(|p| !p.is_empty()) else {
            return 0;
        };
        let path = PathBuf::from(path);
        match std::fs::read(&path) {
            Ok(text) => self.add_text(&text, KeySource::Env(path), findings),
            Err(e) => {
                findings.push_finding(Finding::new(
                    FindingCode::KeylogUnreadable,
                    format!(
                        "the environment variable SSLKEYLOGFILE names {}, which cannot be read ({e}); going on without it",
                        path.display()
                    ),
                ));
                0
            }
        }
    }

    /// Adds key log text; returns how many new secrets it gave.
    pub fn add_text(
        &mut self,
        text: &[u8],
        source: KeySource,
        findings: &mut impl Findings,
    ) -> usize {
        let id = self.source_id(&source, findings);
        let (mut added, mut over_cap, mut secret_lines, mut bad_lines) = (0, 0u64, 0u64, 0u64);
        let mut malformed = Throttle::new(MALFORMED_LINES_SHOWN);
        for (n, line) in text.split(|&b| b == b'\n').enumerate() {
            match parse_line(line) {
                Ok(None) => {}
                Ok(Some((label, random, secret))) => {
                    secret_lines += 1;
                    match self.insert(label, random, secret, id) {
                        Added::New => added += 1,
                        Added::Known => {}
                        Added::OverCap => over_cap += 1,
                    }
                }
                Err(e) => {
                    bad_lines += 1;
                    if malformed.admit(FindingCode::KeylogMalformed) {
                        findings.push_finding(Finding::new(
                            FindingCode::KeylogMalformed,
                            format!("{source} line {}: {e}; line ignored", n + 1),
                        ));
                    }
                }
            }
        }
        for o in malformed.overflowed() {
            findings.push_finding(Finding::new(
                o.key,
                format!("{source}: {} more malformed lines ignored", o.hidden()),
            ));
        }
        if over_cap > 0 {
            self.note_secrets_over_cap(&source, over_cap, findings);
        }
        // Malformed lines already say what is wrong; an empty Decryption
        // Secrets Block is the capture's business, and there may be millions.
        let named_by_user = matches!(
            source,
            KeySource::File(_) | KeySource::Env(_) | KeySource::Named(_)
        );
        if secret_lines == 0 && bad_lines == 0 && named_by_user {
            findings.push_finding(Finding::new(
                FindingCode::KeylogEmpty,
                format!("{source} holds no TLS secret: is it an NSS key log (the SSLKEYLOGFILE format, lines like CLIENT_RANDOM <random> <secret>)?"),
            ));
        }
        if added > 0 {
            self.generation += 1;
        }
        added
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
            findings.push_finding(Finding::new(
                FindingCode::KeySecretLimit,
                format!(
                    "{source}: {n} new secrets not kept, {} are already held (max_key_secrets); connections they belong to are not decrypted",
                    self.caps.max_secrets
                ),
            ));
        }
    }

    fn insert(&mut self, label: Label, random: [u8; 32], secret: Secret, id: SourceId) -> Added {
        let key = (random, label);
        if self.entries.contains_key(&key) {
            // The first source wins; repeating a line is common and harmless.
            return Added::Known;
        }
        if self.secrets >= self.caps.max_secrets {
            return Added::OverCap;
        }
        self.entries.insert(key, (secret, id));
        self.secrets += 1;
        Added::New
    }

    /// Number of secrets known.
    pub fn len(&self) -> usize {
        self.secrets
    }

    /// Bytes the key material holds, for the memory budget: per secret its
    /// map entry, the secret itself (48 bytes at most) and a share of the
    /// tree's node (about 16 bytes); per source its entry (a path or name
    /// counted by length). Bounded by `max_key_secrets` and `max_key_sources`;
    /// O(1), as it is asked after every Decryption Secrets Block.
    pub fn held_bytes(&self) -> usize {
        const SECRET_BYTES: usize = 48;
        const NODE_SHARE: usize = 16;
        let entry = std::mem::size_of::<(([u8; 32], Label), (Secret, SourceId))>()
            + SECRET_BYTES
            + NODE_SHARE;
        self.secrets.saturating_mul(entry)
            + self.sources.len() * std::mem::size_of::<KeySource>()
            + self.source_name_bytes
    }

    /// New secrets left out because `max_key_secrets` was reached.
    pub fn secrets_over_cap(&self) -> u64 {
        self.secrets_over_cap
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Changes whenever a secret is added: sessions retry lookups that failed before.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The secret for a client random and label, with its source.
    pub(crate) fn get(
        &self,
        client_random: &[u8; 32],
        label: Label,
    ) -> Option<(&Secret, &KeySource)> {
        let (secret, id) = self.entries.get(&(*client_random, label))?;
        Some((secret, self.sources.get(*id)?))
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

    /// Every secret with a label, in client-random order (for mid-stream trials).
    pub(crate) fn all(&self, label: Label) -> impl Iterator<Item = (&[u8; 32], &Secret)> + '_ {
        self.entries
            .iter()
            .filter(move |((_, l), _)| *l == label)
            .map(|((r, _), (secret, _))| (r, secret))
    }
}

type Line = (Label, [u8; 32], Secret);

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
mod tests {
    use super::*;

    fn hex(n: usize, byte: &str) -> String {
        byte.repeat(n)
    }

    fn log(text: &str) -> (KeyLog, Vec<Finding>) {
        let mut k = KeyLog::new();
        let mut f = Vec::new();
        k.add_text(text.as_bytes(), KeySource::Named("test".into()), &mut f);
        (k, f)
    }

    #[test]
    fn all_labels_comments_blank_lines_and_uppercase() {
        let r = hex(32, "AB");
        let text = format!(
            "# comment\n\n  \r\nCLIENT_RANDOM {r} {}\r\nCLIENT_EARLY_TRAFFIC_SECRET {r} {}\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {r} {}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {r} {}\n\
             CLIENT_TRAFFIC_SECRET_0 {r} {}\nSERVER_TRAFFIC_SECRET_0 {r} {}\n\
             EXPORTER_SECRET {r} {}\nRSA abc def\n",
            hex(48, "01"),
            hex(32, "02"),
            hex(48, "03"),
            hex(32, "0A"),
            hex(32, "0b"),
            hex(32, "0C"),
            hex(32, "ff"),
        );
        let (k, f) = log(&text);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(k.len(), 6);
        let random = [0xab; 32];
        let (s, src) = k.get(&random, Label::ServerHandshakeTraffic).unwrap();
        assert_eq!(s.bytes(), &[0x0a; 32]);
        assert_eq!(src.to_string(), "test");
        assert_eq!(
            k.get(&random, Label::MasterSecret).unwrap().0.bytes().len(),
            48
        );
    }

    #[test]
    fn held_bytes_grow_with_new_secrets_and_sources_only() {
        let mut k = KeyLog::new();
        let mut f = Vec::new();
        assert_eq!(k.held_bytes(), 0);
        let line = |byte: &str| format!("CLIENT_RANDOM {} {}\n", hex(32, byte), hex(48, "01"));
        k.add_text(
            line("AA").as_bytes(),
            KeySource::Named("one".into()),
            &mut f,
        );
        let one = k.held_bytes();
        assert!(one > 48 + 3, "{one}");
        k.add_text(line("AA").as_bytes(), KeySource::Dsb { offset: 8 }, &mut f);
        let repeated = k.held_bytes();
        assert_eq!(
            repeated - one,
            std::mem::size_of::<KeySource>(),
            "a repeated secret costs nothing, its source its entry"
        );
        k.add_text(line("BB").as_bytes(), KeySource::Dsb { offset: 9 }, &mut f);
        assert!(k.held_bytes() - repeated > 48 + std::mem::size_of::<KeySource>());
    }

    #[test]
    fn a_source_without_any_secret_says_so_once() {
        let (k, findings) = log("[package]\nname = \"xmppcap\"\n");
        assert!(k.is_empty());
        let codes: Vec<&str> = findings.iter().map(|f| f.code.code()).collect();
        assert_eq!(codes, ["tls.keylog_empty"]);
        assert!(findings[0].message.contains("test holds no TLS secret"));
        let r = hex(32, "AB");
        let (_, findings) = log(&format!("CLIENT_RANDOM {r} {}\n", hex(48, "01")));
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn a_flood_of_malformed_lines_gives_a_bounded_number_of_findings() {
        let (k, f) = log(&"CLIENT_RANDOM\n".repeat(100_000));
        assert!(k.is_empty());
        assert_eq!(f.len() as u64, MALFORMED_LINES_SHOWN + 1);
        assert_eq!(
            f.last().map(|f| f.message.as_str()),
            Some("test: 99980 more malformed lines ignored")
        );
    }

    #[test]
    fn malformed_lines_are_findings_with_line_numbers() {
        let r = hex(32, "ab");
        let text = format!(
            "CLIENT_RANDOM {r}\nCLIENT_RANDOM {} {}\nCLIENT_RANDOM {r} {}\n\
             CLIENT_TRAFFIC_SECRET_0 {r} {}\nCLIENT_RANDOM {r} {}\n",
            hex(31, "ab"),
            hex(48, "00"),
            hex(47, "00"),
            hex(32, "zz"),
            hex(48, "00"),
        );
        let (k, f) = log(&text);
        let messages: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "test line 1: CLIENT_RANDOM line has 2 fields, expected 3; line ignored",
                "test line 2: client random is not 64 hex digits; line ignored",
                "test line 3: CLIENT_RANDOM secret is not hex of 48 bytes; line ignored",
                "test line 4: CLIENT_TRAFFIC_SECRET_0 secret is not hex of 32 or 48 bytes; line ignored",
            ]
        );
        assert!(f.iter().all(|f| f.code == "tls.keylog_malformed"));
        assert_eq!(k.len(), 1, "line 5 still counts");
        let mut k = KeyLog::new();
        let mut f = Vec::new();
        k.add_text(
            b"CLIENT_RANDOM \xff\xfe\n",
            KeySource::Named("bin".into()),
            &mut f,
        );
        assert_eq!(
            f[0].message,
            "bin line 1: line is not UTF-8 text; line ignored"
        );
    }

    #[test]
    fn sources_merge_and_are_remembered() {
        let mut k = KeyLog::new();
        let mut f = Vec::new();
        let a = format!("CLIENT_RANDOM {} {}\n", hex(32, "01"), hex(48, "aa"));
        let b = format!(
            "CLIENT_RANDOM {} {}\nCLIENT_RANDOM {} {}\n",
            hex(32, "01"),
            hex(48, "bb"),
            hex(32, "02"),
            hex(48, "cc")
        );
        assert_eq!(
            k.add_text(a.as_bytes(), KeySource::File("a.keys".into()), &mut f),
            1
        );
        let g = k.generation();
        assert_eq!(
            k.add_text(b.as_bytes(), KeySource::Dsb { offset: 1234 }, &mut f),
            1
        );
        assert!(k.generation() > g);
        let (s, src) = k.get(&[1; 32], Label::MasterSecret).unwrap();
        assert_eq!(
            (s.bytes()[0], src.to_string()),
            (0xaa, "a.keys".to_string())
        );
        let (_, src) = k.get(&[2; 32], Label::MasterSecret).unwrap();
        assert_eq!(src.to_string(), "pcapng DSB at byte 1234");
        assert_eq!(k.all(Label::MasterSecret).count(), 2);
        assert!(k.get(&[3; 32], Label::MasterSecret).is_none());
    }

    #[test]
    fn debug_never_shows_key_material() {
        let (k, _) = log(&format!(
            "CLIENT_RANDOM {} {}\n",
            hex(32, "01"),
            hex(48, "5e")
        ));
        let dump = format!("{k:?}");
        assert!(!dump.contains("5e5e") && !dump.contains("94, 94"), "{dump}");
        assert!(dump.contains("48 bytes, redacted"));
    }

    #[test]
    fn unreadable_file_is_an_error() {
        let mut k = KeyLog::new();
        let err = k
            .load_file(Path::new("/nonexistent/x.keys"), &mut Vec::new())
            .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("cannot read key log file /nonexistent/x.keys"));
    }

    #[test]
    fn short_hex_abbreviates() {
        assert_eq!(short_hex(&[0x1a, 0x2b]), "1a2b");
        assert_eq!(short_hex(&[0x1a; 32]), "1a1a1a1a1a1a1a1a…");
    }

    fn line(i: usize) -> String {
        format!("CLIENT_RANDOM {:064x} {}\n", i, hex(48, "ab"))
    }

    #[test]
    fn secrets_past_the_cap_are_counted_and_said_once() {
        let mut k = KeyLog::with_caps(KeyCaps {
            max_secrets: 3,
            max_sources: 10,
        });
        let mut findings = Vec::new();
        let text: String = (0..5).map(line).collect();
        assert_eq!(
            k.add_text(text.as_bytes(), KeySource::Named("a".into()), &mut findings),
            3
        );
        let more: String = (5..9).map(line).collect();
        assert_eq!(
            k.add_text(more.as_bytes(), KeySource::Named("b".into()), &mut findings),
            0
        );
        assert_eq!((k.len(), k.secrets_over_cap()), (3, 6));
        let codes: Vec<&str> = findings.iter().map(|f| f.code.code()).collect();
        assert_eq!(codes, ["tls.key_secret_limit"]);
        assert!(
            findings[0].message.starts_with("a: 2 new secrets not kept"),
            "{}",
            findings[0].message
        );
        // Secrets already held are still found; repeats cost nothing.
        assert!(k.get(&[0; 32], Label::MasterSecret).is_some());
        assert_eq!(
            k.add_text(
                line(0).as_bytes(),
                KeySource::Named("c".into()),
                &mut findings
            ),
            0
        );
        assert_eq!(k.secrets_over_cap(), 6);
    }

    #[test]
    fn a_repeated_secret_counts_once_whatever_its_source() {
        let mut k = KeyLog::new();
        let mut findings = Vec::new();
        for i in 0..100 {
            k.add_text(
                line(7).as_bytes(),
                KeySource::Dsb { offset: i },
                &mut findings,
            );
        }
        assert_eq!(k.len(), 1);
        let (_, source) = k
            .get(
                &{
                    let mut r = [0u8; 32];
                    r[31] = 7;
                    r
                },
                Label::MasterSecret,
            )
            .unwrap();
        assert_eq!(
            *source,
            KeySource::Dsb { offset: 0 },
            "the first source wins"
        );
    }

    #[test]
    fn sources_past_the_cap_are_used_but_named_together() {
        let mut k = KeyLog::with_caps(KeyCaps {
            max_secrets: 100,
            max_sources: 2,
        });
        let mut findings = Vec::new();
        for i in 0..1000 {
            k.add_text(b"", KeySource::Dsb { offset: i }, &mut findings);
        }
        k.add_text(
            line(1).as_bytes(),
            KeySource::Dsb { offset: 5000 },
            &mut findings,
        );
        assert_eq!(k.sources.len(), 3, "two named and one for the rest");
        let (_, source) = k
            .get(
                &{
                    let mut r = [0u8; 32];
                    r[31] = 1;
                    r
                },
                Label::MasterSecret,
            )
            .unwrap();
        assert_eq!(source.to_string(), "key sources after the first 2");
        let codes: Vec<&str> = findings.iter().map(|f| f.code.code()).collect();
        assert_eq!(codes, ["tls.key_source_limit"]);
        assert!(
            findings[0]
                .message
                .contains("pcapng DSB at byte 2 and later ones"),
            "{}",
            findings[0].message
        );
    }
}
