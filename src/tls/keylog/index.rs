//! Key log files indexed where they lie, not copied into memory.
//!
//! Takes the secret lines of `--keylog` files (and `SSLKEYLOGFILE`) as the
//! file is read once, front to back: each line's label, client random,
//! byte offset and length. Gives, for a client random and label, the
//! secret read back from the file when a connection asks for it. Holds 16
//! bytes per secret (a 400,000-secret key log: 6.4 MB, against about 60 MB
//! as owned secrets in a map), never the key material itself, and never
//! trusts the file to be unchanged: a line read back is parsed again and
//! used only if it still holds that label and client random (otherwise the
//! secret is missing, and [`FileIndex::find`] says the file changed).
//!
//! Entries are sorted by a 64-bit fold of the client random, then label,
//! file and offset, so the first line of the first file wins, as it does
//! for secrets held in memory. Two randoms with the same fold are told
//! apart by reading their lines. Pipes and other files that cannot be read
//! again at an offset are not indexed: their text is held in memory
//! (`KeyLog::add_text`).

use std::fs::File;
use std::sync::Arc;

use super::{parse_line, Label, Secret, SourceId};

/// Files indexed at most (11 bits of an entry); later ones are read into memory.
pub(super) const MAX_FILES: usize = (1 << FILE_BITS) - 1;
/// Longest line indexed (10 bits); a longer one (spaces around its fields)
/// is kept in memory.
pub(super) const MAX_LINE: usize = (1 << LEN_BITS) - 1;
/// Largest offset indexed (40 bits: 1 TiB).
pub(super) const MAX_OFFSET: u64 = (1 << OFFSET_BITS) - 1;

const LEN_BITS: u32 = 10;
const OFFSET_BITS: u32 = 40;
const FILE_BITS: u32 = 11;
const LABEL_SHIFT: u32 = LEN_BITS + OFFSET_BITS + FILE_BITS;

/// One secret line: the fold of its client random, then label (3 bits),
/// file (11), offset (40) and length (10) packed in that order, so that
/// sorting the pairs sorts by random, label, then position in the inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    fold: u64,
    packed: u64,
}

impl Entry {
    fn label_bits(self) -> u64 {
        self.packed >> LABEL_SHIFT
    }

    fn file(self) -> usize {
        ((self.packed >> (LEN_BITS + OFFSET_BITS)) & ((1 << FILE_BITS) - 1)) as usize
    }

    fn offset(self) -> u64 {
        (self.packed >> LEN_BITS) & MAX_OFFSET
    }

    fn len(self) -> usize {
        (self.packed & ((1 << LEN_BITS) - 1)) as usize
    }
}

/// What the index says of a client random and label.
#[derive(Clone, Debug)]
pub(super) enum Found {
    Secret(Secret, SourceId),
    /// A line was indexed for it, but no longer reads back as that secret.
    Changed(SourceId),
    Absent,
}

/// Where a line lies: file number (from [`FileIndex::begin_file`]), byte
/// offset and length without its newline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LinePlace {
    pub file: usize,
    pub offset: u64,
    pub len: usize,
}

#[derive(Clone, Debug)]
struct IndexedFile {
    file: Arc<File>,
    source: SourceId,
}

/// The secrets of every indexed file.
#[derive(Clone, Debug, Default)]
pub(super) struct FileIndex {
    files: Vec<IndexedFile>,
    /// Sorted up to `sorted`; the file being read appends after it.
    entries: Vec<Entry>,
    sorted: usize,
    /// Sorted entries by label (indexed by `Label as usize`).
    by_label: [usize; Label::ALL.len()],
}

impl FileIndex {
    /// Starts indexing `file` for `source`; `None` when [`MAX_FILES`] are
    /// indexed already.
    pub(super) fn begin_file(&mut self, file: File, source: SourceId) -> Option<usize> {
        if self.files.len() >= MAX_FILES {
            return None;
        }
        self.files.push(IndexedFile {
            file: Arc::new(file),
            source,
        });
        Some(self.files.len() - 1)
    }

    /// Adds a line of the file being read; `false` (nothing added) when its
    /// place does not fit an entry.
    pub(super) fn push(&mut self, label: Label, random: &[u8; 32], at: LinePlace) -> bool {
        if at.file >= self.files.len() || at.offset > MAX_OFFSET || at.len > MAX_LINE {
            return false;
        }
        let packed = (label as u64) << LABEL_SHIFT
            | (at.file as u64) << (LEN_BITS + OFFSET_BITS)
            | at.offset << LEN_BITS
            | at.len as u64;
        self.entries.push(Entry {
            fold: fold(random),
            packed,
        });
        true
    }

    /// Ends the file being read: sorts its lines in and drops the ones
    /// repeating a secret of the same file (the first line wins); returns
    /// how many were dropped. Lines repeating a secret of an earlier file
    /// are the caller's to skip ([`FileIndex::contains`]) while reading.
    pub(super) fn end_file(&mut self) -> usize {
        let batch = self.entries.get_mut(self.sorted..).unwrap_or_default();
        batch.sort_unstable();
        let keep = self.first_of_each_secret(self.sorted);
        let dropped = keep.iter().filter(|k| !**k).count();
        let mut flags = keep.into_iter();
        let sorted = self.sorted;
        let mut i = 0usize;
        self.entries.retain(|_| {
            let kept = i < sorted || flags.next().unwrap_or(true);
            i += 1;
            kept
        });
        self.entries.sort_unstable();
        self.entries.shrink_to_fit();
        self.sorted = self.entries.len();
        self.by_label = [0; Label::ALL.len()];
        for e in &self.entries {
            let slot = usize::try_from(e.label_bits()).ok();
            if let Some(n) = slot.and_then(|i| self.by_label.get_mut(i)) {
                *n += 1;
            }
        }
        dropped
    }

    /// For each entry from `start` on (sorted), whether it is the first of
    /// its client random and label: entries of one fold and label are
    /// compared by the randoms their lines hold (almost always a group of one).
    fn first_of_each_secret(&self, start: usize) -> Vec<bool> {
        let batch = self.entries.get(start..).unwrap_or_default();
        let mut keep = vec![true; batch.len()];
        let mut group_start = 0;
        while group_start < batch.len() {
            let head = batch.get(group_start).copied();
            let group_len = batch
                .get(group_start..)
                .unwrap_or_default()
                .iter()
                .take_while(|e| {
                    Some((e.fold, e.label_bits())) == head.map(|h| (h.fold, h.label_bits()))
                })
                .count()
                .max(1);
            if group_len > 1 {
                let mut seen: Vec<[u8; 32]> = Vec::new();
                for (i, entry) in batch.iter().enumerate().skip(group_start).take(group_len) {
                    // An unreadable line is dropped: it could not be used anyway.
                    let random = self.read(*entry).map(|(_, random, _)| random);
                    match random {
                        Some(r) if !seen.contains(&r) => seen.push(r),
                        _ => {
                            if let Some(k) = keep.get_mut(i) {
                                *k = false;
                            }
                        }
                    }
                }
            }
            group_start += group_len;
        }
        keep
    }

    /// Secrets indexed (the file being read included).
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held: the entries (by capacity: a file being read grows them
    /// by doubling) and one record per file.
    pub(super) fn held_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.files.len() * std::mem::size_of::<IndexedFile>()
    }

    /// The secret for a client random and label in the files read so far
    /// (not the one being read), with its source.
    pub(super) fn get(&self, random: &[u8; 32], label: Label) -> Option<(Secret, SourceId)> {
        match self.find(random, label) {
            Found::Secret(secret, source) => Some((secret, source)),
            Found::Changed(_) | Found::Absent => None,
        }
    }

    /// Like [`FileIndex::get`], telling a secret never logged from one whose
    /// line no longer reads back as it did when the file was indexed (the
    /// file was rewritten or truncated during the run). A line that reads
    /// back with another random of the same fold is a collision, not a change.
    pub(super) fn find(&self, random: &[u8; 32], label: Label) -> Found {
        let sorted = self.entries.get(..self.sorted).unwrap_or_default();
        let key = (fold(random), label as u64);
        let from = sorted.partition_point(|e| (e.fold, e.label_bits()) < key);
        let mut changed = None;
        for e in sorted
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|e| (e.fold, e.label_bits()) == key)
        {
            let Some(source) = self.files.get(e.file()).map(|f| f.source) else {
                continue;
            };
            match self.read(*e) {
                Some((l, r, secret)) if l == label && r == *random => {
                    return Found::Secret(secret, source)
                }
                Some((l, r, _)) if l == label && fold(&r) == key.0 => {}
                _ => changed = changed.or(Some(source)),
            }
        }
        changed.map_or(Found::Absent, Found::Changed)
    }

    /// Whether the files read so far hold this secret.
    pub(super) fn contains(&self, random: &[u8; 32], label: Label) -> bool {
        self.get(random, label).is_some()
    }

    /// Whether any secret of this label is indexed (read so far).
    pub(super) fn count(&self, label: Label) -> usize {
        self.by_label
            .get(label as usize)
            .copied()
            .unwrap_or_default()
    }

    /// Every secret of a label, read back one line at a time, in index order.
    pub(super) fn with_label(
        &self,
        label: Label,
    ) -> impl Iterator<Item = ([u8; 32], Secret, SourceId)> + '_ {
        let sorted = self.entries.get(..self.sorted).unwrap_or_default();
        sorted
            .iter()
            .filter(move |e| e.label_bits() == label as u64)
            .filter_map(move |e| {
                let (l, random, secret) = self.read(*e)?;
                let source = self.files.get(e.file())?.source;
                (l == label).then_some((random, secret, source))
            })
    }

    /// The line an entry points at, parsed again; `None` if it cannot be
    /// read or no longer holds a secret.
    fn read(&self, entry: Entry) -> Option<(Label, [u8; 32], Secret)> {
        let file = &self.files.get(entry.file())?.file;
        let mut buf = [0u8; MAX_LINE];
        let line = buf.get_mut(..entry.len())?;
        read_exact_at(file, line, entry.offset()).ok()?;
        parse_line(line).ok().flatten()
    }
}

/// The client random folded to 64 bits: its four words, each rotated
/// differently so that equal words do not cancel.
fn fold(random: &[u8; 32]) -> u64 {
    random
        .chunks_exact(8)
        .enumerate()
        .map(|(i, word)| {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            u64::from_le_bytes(w).rotate_left(16 * i as u32)
        })
        .fold(0, |acc, w| acc ^ w)
}

/// Whether files can be read at an offset on this platform (else key logs
/// are held in memory).
pub(super) const CAN_INDEX: bool = cfg!(any(unix, windows));

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = buf.get_mut(n..).unwrap_or_default();
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(not(any(unix, windows)))]
fn read_exact_at(_: &File, _: &mut [u8], _: u64) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}
