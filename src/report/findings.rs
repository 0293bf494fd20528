//! A bounded log of findings.
//!
//! Takes findings as they come; keeps the first [`PER_CODE`] of each code,
//! while the report's byte cap has room ([`Retention`]), and counts the
//! rest, so a capture with a million gaps cannot exhaust memory. Gives them
//! sorted by frame (then code), followed by one summary finding per code
//! with findings not listed. Never drops the count.

use crate::finding::{Code, Finding, Level, Throttle};
use crate::report::retention::{approx_bytes, Kept, Retention};

/// Findings kept per code; the rest are only counted.
pub const PER_CODE: usize = 1000;

#[derive(Debug)]
pub struct FindingLog {
    kept: Vec<Finding>,
    per_code: Throttle<Code>,
    /// Codes with a finding refused for the byte cap, with the level of
    /// the first (for its summary when none of the code was kept).
    refused: Vec<(Code, Level)>,
}

impl Default for FindingLog {
    fn default() -> FindingLog {
        FindingLog {
            kept: Vec::new(),
            per_code: Throttle::new(PER_CODE as u64),
            refused: Vec::new(),
        }
    }
}

impl FindingLog {
    /// Keeps `finding` among the first [`PER_CODE`] of its code when the
    /// report's byte cap has room for it; counts it either way.
    pub fn push_within(&mut self, finding: Finding, retention: &mut Retention) {
        if !self.per_code.admit(finding.code) {
            return;
        }
        let bytes = approx_bytes(&finding);
        if retention.admit(Kept::Finding, bytes) {
            self.kept.push(finding);
        } else if !self.refused.iter().any(|(code, _)| *code == finding.code) {
            self.refused.push((finding.code, finding.level));
        }
    }

    /// Total findings seen, including those only counted.
    pub fn total(&self) -> u64 {
        self.per_code.total()
    }

    /// The kept findings in frame order (findings without a frame first, in
    /// arrival order), then one summary per code that overflowed, ordered by
    /// code string.
    pub fn into_sorted(self) -> Vec<Finding> {
        let mut kept = self.kept;
        // Stable sort: findings at the same frame keep their arrival order.
        kept.sort_by_key(|f| f.frame.unwrap_or(0));
        let mut overflowed: Vec<Code> = self.per_code.overflowed().map(|o| o.key).collect();
        for (code, _) in &self.refused {
            if !overflowed.contains(code) {
                overflowed.push(*code);
            }
        }
        // By code string rather than first-seen order: the reports have always
        // listed summaries that way, and their goldens stay byte for byte.
        overflowed.sort_by_key(|code| code.code());
        for code in overflowed {
            let total = self.per_code.count(code);
            let listed = kept.iter().filter(|f| f.code == code).count() as u64;
            // The summary takes the level of the first listed finding of its
            // code, which the stage may have raised or lowered by context
            // (of the first refused one when none is listed).
            let level = kept
                .iter()
                .find(|f| f.code == code)
                .map(|f| f.level)
                .or_else(|| {
                    self.refused
                        .iter()
                        .find(|(c, _)| *c == code)
                        .map(|(_, level)| *level)
                });
            if let Some(level) = level {
                let message = format!(
                    "{} more `{code}` findings not listed ({total} in all)",
                    total.saturating_sub(listed)
                );
                kept.push(Finding::new(code, message).with_level(level));
            }
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Level;
    use crate::position::{FrameRef, Timestamp};
    use crate::tcp::FindingCode as Tcp;

    fn finding(code: Tcp, frame: u64) -> Finding {
        Finding::new(code, "x").at(FrameRef::new(frame, Timestamp::default()))
    }

    /// A log whose byte cap never binds: only the per-code count does.
    struct Unbounded(FindingLog, Retention);

    impl Unbounded {
        fn new() -> Unbounded {
            Unbounded(FindingLog::default(), Retention::new(usize::MAX))
        }

        fn push(&mut self, finding: Finding) {
            self.0.push_within(finding, &mut self.1);
        }
    }

    #[test]
    fn keeps_first_per_code_and_summarises_the_rest() {
        let mut log = Unbounded::new();
        for i in 0..(PER_CODE as u64 + 5) {
            log.push(finding(Tcp::Gap, 10 + i));
        }
        log.push(finding(Tcp::OooLimit, 1));
        assert_eq!(log.0.total(), PER_CODE as u64 + 6);
        let sorted = log.0.into_sorted();
        assert_eq!(sorted.len(), PER_CODE + 2);
        assert_eq!(sorted[0].code, "tcp.ooo_limit");
        let last = sorted.last().unwrap();
        assert!(
            last.message.starts_with("5 more `tcp.gap` findings"),
            "{}",
            last.message
        );
    }

    #[test]
    fn findings_past_the_byte_cap_are_counted_in_their_code_summary() {
        let one = approx_bytes(&finding(Tcp::Gap, 10));
        let mut retention = Retention::new(3 * one);
        let mut log = FindingLog::default();
        for i in 0..5 {
            log.push_within(finding(Tcp::Gap, 10 + i), &mut retention);
        }
        log.push_within(
            finding(Tcp::OooLimit, 1).with_level(Level::Error),
            &mut retention,
        );
        assert_eq!(log.total(), 6);
        assert_eq!(retention.refused(Kept::Finding), 3);
        let sorted = log.into_sorted();
        let words: Vec<(&str, &str, Level)> = sorted
            .iter()
            .map(|f| (f.code.code(), f.message.as_str(), f.level))
            .collect();
        assert_eq!(
            words[3..],
            [
                (
                    "tcp.gap",
                    "2 more `tcp.gap` findings not listed (5 in all)",
                    Level::Warn
                ),
                (
                    "tcp.ooo_limit",
                    "1 more `tcp.ooo_limit` findings not listed (1 in all)",
                    Level::Error
                ),
            ]
        );
    }

    #[test]
    fn summaries_come_by_code_string_with_the_first_listed_level() {
        let mut log = Unbounded::new();
        for i in 0..=(PER_CODE as u64) {
            log.push(finding(Tcp::OooLimit, i).with_level(Level::Error));
        }
        for i in 0..=(PER_CODE as u64) {
            log.push(finding(Tcp::Gap, i));
        }
        let sorted = log.0.into_sorted();
        let summaries: Vec<(String, Level)> = sorted
            .iter()
            .skip(2 * PER_CODE)
            .map(|f| (f.code.to_string(), f.level))
            .collect();
        assert_eq!(
            summaries,
            [
                ("tcp.gap".to_owned(), Level::Warn),
                ("tcp.ooo_limit".to_owned(), Level::Error)
            ]
        );
        assert_eq!(
            sorted.last().map(|f| f.message.as_str()),
            Some("1 more `tcp.ooo_limit` findings not listed (1001 in all)")
        );
    }
}
