//! The key search for a connection joined mid-stream, bounded.
//!
//! Takes the first encrypted record of a direction whose handshake was not
//! captured, the key log, and two caps from `Limits`; gives the TLS 1.3
//! application secret (with its AEAD and the record's sequence number) that
//! opens the record, or how far the search got: every secret tried, or
//! stopped by `tls_midstream_search_bytes` after some of them. The work of
//! one search is counted in AEAD input bytes (record length and a fixed
//! share per trial and per derived key), so its cost does not grow with the
//! key log: a capture of many connections joined mid-stream costs linear
//! time, never secrets × connections. Never counts work across connections
//! (the cap is per connection and direction, whatever the thread count),
//! and never logs key material.

use super::keylog::{KeyLog, Label};
use super::keys::{tls13_key, Key, SeqTrial};
use super::record::Header;
use super::suites::Aead;
use super::summary::KeyPhase;
use crate::position::Dir;

/// Work charged per trial decryption besides its input bytes: copying the
/// record, the nonce and the tag cost about as much as opening 256 bytes
/// (measured: 0.33 µs a trial on a 19-byte record, 0.54 µs on 200 bytes,
/// 1.85 µs on 1400), so a stream of tiny records cannot buy many more trials.
pub(super) const TRIAL_FIXED_BYTES: u64 = 256;
/// Work charged per key derived from a secret (HKDF-Expand-Label twice, the
/// AEAD key schedule, reading the secret back from a key log file): about
/// 1.1 µs, as much as opening 1 KiB.
pub(super) const DERIVATION_BYTES: u64 = 1024;

/// The caps of one search, from `Limits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SearchCaps {
    /// Sequence numbers tried per secret and AEAD (`tls_midstream_seq_search`).
    pub(crate) max_seq: u64,
    /// Work allowed to one search, in AEAD input bytes (`tls_midstream_search_bytes`).
    pub(crate) max_bytes: u64,
}

/// A secret that opens the record.
pub(crate) struct Found {
    pub(crate) key: Key,
    pub(crate) seq: u64,
    pub(crate) client_random: [u8; 32],
}

/// A search that ran out of work before trying every secret of its label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stopped {
    /// Secrets tried at every AEAD and sequence number.
    pub(crate) tried: usize,
    /// Secrets of the direction's label in the key log.
    pub(crate) secrets: usize,
}

impl Stopped {
    /// The clause the undecryptable reason ends with.
    pub(crate) fn clause(&self) -> String {
        format!(
            "the mid-stream search stopped after {} of {} secrets (tls_midstream_search_bytes)",
            self.tried, self.secrets
        )
    }
}

/// How a search ended.
pub(crate) enum Outcome {
    Found(Found),
    /// Every secret was tried; none opens the record.
    NotFound,
    Stopped(Stopped),
}

/// What a trial run of one key gave.
enum Trial {
    Opened(u64),
    NotOpened,
    OutOfWork,
}

/// Work left to one search, in bytes.
struct Work {
    left: u64,
}

impl Work {
    /// Takes `cost` if that much is left.
    fn take(&mut self, cost: u64) -> bool {
        match self.left.checked_sub(cost) {
            Some(left) => {
                self.left = left;
                true
            }
            None => false,
        }
    }
}

/// Every TLS 1.3 application secret of `dir`'s label, with each AEAD of its
/// hash, at sequence numbers 0..`caps.max_seq`, until one opens the record
/// or `caps.max_bytes` of work is done. `prefer` (a client random the other
/// direction already matched) goes first; the rest follow in the key log's
/// order, so where a search stops does not depend on timing or threads.
pub(crate) fn search(
    keys: &KeyLog,
    dir: Dir,
    header: &Header,
    body: &[u8],
    caps: SearchCaps,
    prefer: Option<[u8; 32]>,
    scratch: &mut Vec<u8>,
) -> Outcome {
    let label = match dir {
        Dir::ClientToServer => Label::ClientTraffic0,
        Dir::ServerToClient => Label::ServerTraffic0,
    };
    let mut work = Work {
        left: caps.max_bytes,
    };
    let trial_cost = u64::try_from(body.len())
        .unwrap_or(u64::MAX)
        .saturating_add(TRIAL_FIXED_BYTES);
    // Lazily: key log files' secrets are read back one at a time, never all
    // held at once, and never past where the work runs out.
    let preferred = prefer.and_then(|p| keys.get(&p, label).map(|(s, src)| (p, s, src)));
    let rest = keys.all(label).filter(|(r, _, _)| Some(*r) != prefer);
    let mut tried = 0usize;
    for (client_random, secret, source) in preferred.into_iter().chain(rest) {
        for aead in Aead::TLS13 {
            let phase = KeyPhase::Application;
            // An AEAD of another hash than the secret's is refused before any derivation.
            let Some(mut key) = tls13_key(aead, secret.clone(), phase, source.clone(), 0, false)
            else {
                continue;
            };
            if !work.take(DERIVATION_BYTES) {
                return stopped(keys, label, tried);
            }
            match try_seqs(
                &mut key,
                header,
                body,
                caps.max_seq,
                trial_cost,
                &mut work,
                scratch,
            ) {
                Trial::Opened(seq) => {
                    return Outcome::Found(Found {
                        key,
                        seq,
                        client_random,
                    })
                }
                Trial::NotOpened => {}
                Trial::OutOfWork => return stopped(keys, label, tried),
            }
        }
        tried = tried.saturating_add(1);
    }
    Outcome::NotFound
}

fn stopped(keys: &KeyLog, label: Label, tried: usize) -> Outcome {
    Outcome::Stopped(Stopped {
        tried,
        secrets: keys.count(label),
    })
}

/// One key at sequence numbers 0..`max_seq`, each trial paid from `work`.
fn try_seqs(
    key: &mut Key,
    header: &Header,
    body: &[u8],
    max_seq: u64,
    trial_cost: u64,
    work: &mut Work,
    scratch: &mut Vec<u8>,
) -> Trial {
    for seq in 0..max_seq {
        if !work.take(trial_cost) {
            return Trial::OutOfWork;
        }
        match key.try_seq(header, body, seq, scratch) {
            SeqTrial::Opened => return Trial::Opened(seq),
            SeqTrial::NotAuthentic => {}
            SeqTrial::NeverOpens => return Trial::NotOpened,
        }
    }
    Trial::NotOpened
}

#[cfg(test)]
mod tests;
