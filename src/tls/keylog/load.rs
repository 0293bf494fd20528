//! Reading key log sources into a [`KeyLog`]: files (indexed where they
//! lie, `index`), the `SSLKEYLOGFILE` file, and text.
//!
//! Takes a path or bytes and the source's name; gives the new secrets'
//! count and findings for malformed lines, empty sources and caps. Never
//! holds a whole key log file in memory unless it is not a regular file (a
//! pipe cannot be read again at an offset).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::index::{LinePlace, CAN_INDEX, MAX_LINE, MAX_OFFSET};
use super::MALFORMED_LINES_SHOWN;
use super::{parse_line, Added, KeyLog, KeyLogError, KeySource, Label, Line, SourceId};
use crate::finding::{Finding, Findings, Throttle};
use crate::tls::FindingCode;

impl KeyLog {
    /// Reads a `--keylog` file. Malformed lines become findings; an
    /// unreadable file is an error. A regular file is indexed where it lies
    /// (read once, front to back, a line at a time); anything else (a pipe,
    /// a device) is read whole and held in memory.
    pub fn load_file(
        &mut self,
        path: &Path,
        findings: &mut impl Findings,
    ) -> Result<usize, KeyLogError> {
        let source = KeySource::File(path.to_path_buf());
        self.load_path(path, source, findings)
            .map_err(|source| KeyLogError::Read {
                path: path.to_path_buf(),
                source,
            })
    }

    /// Reads the file named by `SSLKEYLOGFILE`, if that variable is set and
    /// not empty. The variable may be left over from another task, so a file
    /// that cannot be read is a finding naming the variable, not an error.
    pub fn load_env(&mut self, findings: &mut impl Findings) -> usize {
        let Some(path) = std::env::var_os("SSLKEYLOGFILE").filter(|p| !p.is_empty()) else {
            return 0;
        };
        let path = PathBuf::from(path);
        match self.load_path(&path, KeySource::Env(path.clone()), findings) {
            Ok(added) => added,
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

    fn load_path(
        &mut self,
        path: &Path,
        source: KeySource,
        findings: &mut impl Findings,
    ) -> std::io::Result<usize> {
        let file = std::fs::File::open(path)?;
        let indexable = CAN_INDEX && file.metadata()?.is_file();
        let id = self.source_id(&source, findings);
        let reader = BufReader::with_capacity(64 << 10, file.try_clone()?);
        let file_no = match indexable {
            true => self.files.begin_file(file, id),
            false => None,
        };
        let Some(file_no) = file_no else {
            // Read from the handle already open: a pipe cannot be opened twice.
            let mut text = Vec::new();
            reader.into_inner().read_to_end(&mut text)?;
            return Ok(self.add_text_as(&text, id, &source, findings));
        };
        let mut reading = Reading::new(&source);
        let read = self.index_lines(reader, file_no, id, &mut reading, findings);
        let repeated = self.files.end_file();
        reading.added = reading.added.saturating_sub(repeated);
        read?;
        Ok(self.end_reading(reading, findings))
    }

    /// Indexes every secret line of a file, from its first byte.
    fn index_lines(
        &mut self,
        mut reader: impl BufRead,
        file_no: usize,
        id: SourceId,
        reading: &mut Reading<'_>,
        findings: &mut impl Findings,
    ) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(256);
        let (mut offset, mut n) = (0u64, 0usize);
        loop {
            line.clear();
            let len = reader.read_until(b'\n', &mut line)?;
            if len == 0 {
                return Ok(());
            }
            let start = offset;
            offset = offset.saturating_add(len as u64);
            n += 1;
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            let Some((label, random, secret)) = reading.parse(n, text, findings) else {
                continue;
            };
            let place = LinePlace {
                file: file_no,
                offset: start,
                len: text.len(),
            };
            let added = if text.len() > MAX_LINE || start > MAX_OFFSET {
                // Too long or too far for an entry: held in memory instead.
                self.insert(label, random, secret, id)
            } else {
                self.index(label, &random, place)
            };
            reading.count(added);
        }
    }

    /// Adds a secret line of the file being indexed.
    fn index(&mut self, label: Label, random: &[u8; 32], place: LinePlace) -> Added {
        if self.entries.contains_key(&(*random, label)) || self.files.contains(random, label) {
            return Added::Known;
        }
        if self.files.len() >= self.caps.max_file_secrets {
            return Added::OverCap;
        }
        if self.files.push(label, random, place) {
            Added::New
        } else {
            Added::OverCap
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
        self.add_text_as(text, id, &source, findings)
    }

    fn add_text_as(
        &mut self,
        text: &[u8],
        id: SourceId,
        source: &KeySource,
        findings: &mut impl Findings,
    ) -> usize {
        let mut reading = Reading::new(source);
        for (n, line) in text.split(|&b| b == b'\n').enumerate() {
            if let Some((label, random, secret)) = reading.parse(n + 1, line, findings) {
                let added = self.insert(label, random, secret, id);
                reading.count(added);
            }
        }
        self.end_reading(reading, findings)
    }

    /// Says what reading one source found; returns how many new secrets it gave.
    fn end_reading(&mut self, reading: Reading<'_>, findings: &mut impl Findings) -> usize {
        let source = reading.source;
        for o in reading.malformed.overflowed() {
            findings.push_finding(Finding::new(
                o.key,
                format!("{source}: {} more malformed lines ignored", o.hidden()),
            ));
        }
        if reading.over_cap > 0 {
            self.note_secrets_over_cap(source, reading.over_cap, findings);
        }
        // Malformed lines already say what is wrong; an empty Decryption
        // Secrets Block is the capture's business, and there may be millions.
        let named_by_user = matches!(
            source,
            KeySource::File(_) | KeySource::Env(_) | KeySource::Named(_)
        );
        if reading.secret_lines == 0 && reading.bad_lines == 0 && named_by_user {
            findings.push_finding(Finding::new(
                FindingCode::KeylogEmpty,
                format!("{source} holds no TLS secret: is it an NSS key log (the SSLKEYLOGFILE format, lines like CLIENT_RANDOM <random> <secret>)?"),
            ));
        }
        if reading.added > 0 {
            self.generation += 1;
        }
        reading.added
    }
}

/// What reading one source found so far, for its findings.
struct Reading<'s> {
    source: &'s KeySource,
    added: usize,
    over_cap: u64,
    secret_lines: u64,
    bad_lines: u64,
    malformed: Throttle<FindingCode>,
}

impl<'s> Reading<'s> {
    fn new(source: &'s KeySource) -> Reading<'s> {
        Reading {
            source,
            added: 0,
            over_cap: 0,
            secret_lines: 0,
            bad_lines: 0,
            malformed: Throttle::new(MALFORMED_LINES_SHOWN),
        }
    }

    /// Line `n` (from 1): its secret, or nothing (a blank line, a comment,
    /// another label; a malformed line is also a finding).
    fn parse(&mut self, n: usize, line: &[u8], findings: &mut impl Findings) -> Option<Line> {
        match parse_line(line) {
            Ok(None) => None,
            Ok(Some(secret)) => {
                self.secret_lines += 1;
                Some(secret)
            }
            Err(e) => {
                self.bad_lines += 1;
                if self.malformed.admit(FindingCode::KeylogMalformed) {
                    findings.push_finding(Finding::new(
                        FindingCode::KeylogMalformed,
                        format!("{} line {n}: {e}; line ignored", self.source),
                    ));
                }
                None
            }
        }
    }

    fn count(&mut self, added: Added) {
        match added {
            Added::New => self.added += 1,
            Added::Known => {}
            Added::OverCap => self.over_cap += 1,
        }
    }
}
