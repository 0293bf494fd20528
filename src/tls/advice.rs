//! Advice for the next capture when no TLS connection of this one could be
//! decrypted.
//!
//! Takes the summary of every TLS connection as it ends; gives, at the end
//! of the capture, at most one `tls.no_keys` finding saying how to get keys
//! next time. Never looks at key material or payload: counts only.

use super::{Decrypted, FindingCode, Summary};
use crate::finding::Finding;

/// TLS connections seen with encrypted records, and how many were decrypted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecryptionTally {
    /// Connections with at least one encrypted record.
    encrypted: u64,
    /// Of those, connections with at least one record decrypted.
    decrypted: u64,
}

impl DecryptionTally {
    /// A TLS connection ended with this summary.
    pub fn note(&mut self, summary: &Summary) {
        match summary.decrypted {
            Decrypted::NothingEncrypted => {}
            Decrypted::No => self.encrypted += 1,
            Decrypted::Yes | Decrypted::Partly => {
                self.encrypted += 1;
                self.decrypted += 1;
            }
        }
    }

    /// The advice, when there were encrypted connections and none was
    /// decrypted (`keys_given`: a key log or key was given, and matched none).
    pub fn advice(&self, keys_given: bool) -> Option<Finding> {
        if self.encrypted == 0 || self.decrypted > 0 {
            return None;
        }
        let n = self.encrypted;
        let conns = if n == 1 { "connection" } else { "connections" };
        let given = if keys_given {
            " (the keys given match none of them)"
        } else {
            ""
        };
        let msg = format!(
            "none of the {n} TLS {conns} could be decrypted{given}. To read them next time, \
             capture on the agent PC with SSLKEYLOGFILE set to a file path before Chrome or \
             Edge starts (the browser writes its TLS secrets there), then give that file with \
             --keylog; the Finesse server cannot export its TLS secrets"
        );
        Some(Finding::new(FindingCode::NoKeys, msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(decrypted: Decrypted) -> Summary {
        Summary {
            decrypted,
            ..Summary::default()
        }
    }

    #[test]
    fn advice_only_when_nothing_encrypted_was_decrypted() {
        let mut tally = DecryptionTally::default();
        assert!(tally.advice(false).is_none(), "no TLS at all");
        tally.note(&summary(Decrypted::NothingEncrypted));
        assert!(tally.advice(false).is_none(), "a ClientHello only");
        tally.note(&summary(Decrypted::No));
        tally.note(&summary(Decrypted::No));
        let f = tally.advice(false).expect("advice");
        assert_eq!(f.code.code(), "tls.no_keys");
        assert!(f
            .message
            .starts_with("none of the 2 TLS connections could be decrypted. "));
        assert!(f.message.contains("SSLKEYLOGFILE") && f.message.contains("--keylog"));
        let given = tally.advice(true).expect("advice");
        assert!(given
            .message
            .contains("(the keys given match none of them)"));
        tally.note(&summary(Decrypted::Partly));
        assert!(tally.advice(false).is_none(), "one was decrypted");
    }
}
