//! What the report keeps for table, JSON and HTML, counted in bytes.
//!
//! Takes, as the analysis goes, each summary or finding it is about to keep
//! with its approximate size ([`approx_bytes`]); answers whether it still
//! fits under `Limits::max_report_bytes`, and counts what did not. Gives, at
//! the end, one `limits.report` finding naming what was no longer kept and
//! how many. Summaries may fill [`SUMMARY_SHARE`] of the cap, so that
//! findings, which say what went wrong, keep room after a flood of
//! connections. Never drops anything itself and never touches a count: the
//! totals (`capture.end`, connections and sessions seen) stay exact.

use std::io;

use serde::Serialize;

use crate::finding::Finding;
use crate::report::text::bytes as size;

/// What the report keeps, one kind per count in the finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// A connection's `ConnectionReport` (table, JSON, HTML).
    ConnectionSummary,
    /// An XMPP session's `SessionReport`.
    SessionSummary,
    /// A connection's two ends, kept by an NDJSON run for BOSH sessions.
    ConnectionEnds,
    /// One finding of the bounded log.
    Finding,
}

impl Kept {
    const ALL: [Kept; 4] = [
        Kept::ConnectionSummary,
        Kept::SessionSummary,
        Kept::ConnectionEnds,
        Kept::Finding,
    ];

    fn words(self) -> &'static str {
        match self {
            Kept::ConnectionSummary => "connection summaries",
            Kept::SessionSummary => "XMPP session summaries",
            Kept::ConnectionEnds => "connection ends (for BOSH sessions)",
            Kept::Finding => "findings",
        }
    }

    /// Summaries stop at [`SUMMARY_SHARE`] of the cap; findings may use it all.
    fn is_summary(self) -> bool {
        self != Kept::Finding
    }
}

/// The share of `max_report_bytes` summaries may take, as a fraction
/// (numerator, denominator): the rest is left for findings.
pub const SUMMARY_SHARE: (usize, usize) = (3, 4);

/// The running count of what the report keeps, in bytes. See the module docs.
#[derive(Clone, Debug)]
pub struct Retention {
    cap: usize,
    kept: usize,
    /// Indexed like [`Kept::ALL`]: items refused, and their bytes.
    refused: [(u64, u64); Kept::ALL.len()],
    /// Indexed like [`Kept::ALL`]: items kept.
    admitted: [u64; Kept::ALL.len()],
}

impl Retention {
    pub fn new(cap: usize) -> Retention {
        Retention {
            cap,
            kept: 0,
            refused: [(0, 0); Kept::ALL.len()],
            admitted: [0; Kept::ALL.len()],
        }
    }

    /// Whether one more `what` of about `bytes` is kept: counted as kept
    /// when it fits, as refused otherwise.
    pub fn admit(&mut self, what: Kept, bytes: usize) -> bool {
        let room = if what.is_summary() {
            self.cap / SUMMARY_SHARE.1 * SUMMARY_SHARE.0
        } else {
            self.cap
        };
        let after = self.kept.saturating_add(bytes);
        if after <= room {
            self.kept = after;
            if let Some(n) = self.admitted.get_mut(what as usize) {
                *n = n.saturating_add(1);
            }
            return true;
        }
        if let Some((items, refused)) = self.refused.get_mut(what as usize) {
            *items = items.saturating_add(1);
            *refused = refused.saturating_add(bytes as u64);
        }
        false
    }

    /// Bytes kept so far.
    pub fn kept_bytes(&self) -> usize {
        self.kept
    }

    /// How many `what` were not kept.
    pub fn refused(&self, what: Kept) -> u64 {
        self.refused.get(what as usize).map_or(0, |r| r.0)
    }

    /// `limits.report` when anything was not kept: what, how many, and
    /// about how many bytes they would have taken.
    pub fn finding(&self) -> Option<Finding> {
        let parts: Vec<String> = Kept::ALL
            .iter()
            .filter_map(|&what| {
                let (items, bytes) = self.refused.get(what as usize).copied()?;
                let offered = items.saturating_add(self.admitted.get(what as usize).copied()?);
                (items > 0).then(|| {
                    format!(
                        "{items} of {offered} {} (about {})",
                        what.words(),
                        size(bytes)
                    )
                })
            })
            .collect();
        if parts.is_empty() {
            return None;
        }
        let message = format!(
            "the report keeps at most {} of summaries and findings (max_report_bytes; --memory-limit scales it): {} not kept; the counts stay exact, and --format ndjson gives every event",
            size(self.cap as u64),
            parts.join(", ")
        );
        Some(Finding::new(crate::limits::FindingCode::Report, message))
    }
}

/// About the bytes `value` holds once kept: its inline size and the length
/// of its JSON (which stands for its strings and lists; field names make it
/// an overestimate for small values, as the allocator's rounding would).
pub fn approx_bytes<T: Serialize>(value: &T) -> usize {
    let mut counter = ByteCounter(0);
    // Serialising into a counter fails only if the value's `Serialize`
    // does, which none of the report's types do; then its inline size stands.
    let _ = serde_json::to_writer(&mut counter, value);
    std::mem::size_of::<T>().saturating_add(counter.0)
}

/// A writer that only counts.
struct ByteCounter(usize);

impl io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_stop_at_their_share_and_findings_use_the_rest() {
        let mut r = Retention::new(1000);
        assert!(r.admit(Kept::ConnectionSummary, 700));
        assert!(
            !r.admit(Kept::ConnectionSummary, 100),
            "750 is the summaries' share"
        );
        assert!(r.admit(Kept::SessionSummary, 50));
        assert!(r.admit(Kept::Finding, 200), "findings may reach the cap");
        assert!(!r.admit(Kept::Finding, 100));
        assert!(r.admit(Kept::Finding, 50));
        assert_eq!(r.kept_bytes(), 1000);
        assert_eq!(r.refused(Kept::ConnectionSummary), 1);
        assert_eq!(r.refused(Kept::Finding), 1);
        assert_eq!(r.refused(Kept::SessionSummary), 0);
    }

    #[test]
    fn the_finding_names_what_was_not_kept() {
        let mut r = Retention::new(1 << 20);
        assert!(r.finding().is_none(), "nothing refused, nothing said");
        assert!(!r.admit(Kept::ConnectionSummary, 2 << 20));
        assert!(!r.admit(Kept::ConnectionSummary, 2 << 20));
        assert!(!r.admit(Kept::Finding, 2 << 20));
        let f = r.finding().unwrap();
        assert_eq!(f.code, "limits.report");
        assert!(
            f.message.contains("1.0 MiB")
                && f.message
                    .contains("2 of 2 connection summaries (about 4.0 MiB)")
                && f.message.contains("1 of 1 findings")
                && !f.message.contains("session"),
            "{}",
            f.message
        );
    }

    #[test]
    fn approximate_bytes_grow_with_what_a_value_holds() {
        let short = approx_bytes(&vec!["a".to_owned()]);
        let long = approx_bytes(&vec!["a".repeat(10_000)]);
        assert!(long - short == 9_999, "{short} {long}");
        assert!(short >= std::mem::size_of::<Vec<String>>());
    }
}
