//! A bounded log of findings.
//!
//! Takes findings as they come; keeps the first [`PER_CODE`] of each code and
//! counts the rest, so a capture with a million gaps cannot exhaust memory.
//! Gives them sorted by frame (then code), followed by one summary finding
//! per code that overflowed. Never drops the count.

use crate::finding::{Code, Finding, Findings, Throttle};

/// Findings kept per code; the rest are only counted.
pub const PER_CODE: usize = 1000;

#[derive(Debug)]
pub struct FindingLog {
    kept: Vec<Finding>,
    per_code: Throttle<Code>,
}

impl Default for FindingLog {
    fn default() -> FindingLog {
        FindingLog {
            kept: Vec::new(),
            per_code: Throttle::new(PER_CODE as u64),
        }
    }
}

impl FindingLog {
    pub fn push(&mut self, finding: Finding) {
        if self.per_code.admit(finding.code) {
            self.kept.push(finding);
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
        let mut overflowed: Vec<_> = self.per_code.overflowed().collect();
        // By code string rather than first-seen order: the reports have always
        // listed summaries that way, and their goldens stay byte for byte.
        overflowed.sort_by_key(|o| o.key.code());
        for over in overflowed {
            let code = over.key;
            // The summary takes the level of the first listed finding of its
            // code, which the stage may have raised or lowered by context.
            if let Some(sample) = kept.iter().find(|f| f.code == code) {
                let message = format!(
                    "{} more `{code}` findings not listed ({} in all)",
                    over.hidden(),
                    over.total
                );
                let summary = Finding::new(code, message).with_level(sample.level);
                kept.push(summary);
            }
        }
        kept
    }
}

impl Findings for FindingLog {
    fn push_finding(&mut self, finding: Finding) {
        self.push(finding);
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

    #[test]
    fn keeps_first_per_code_and_summarises_the_rest() {
        let mut log = FindingLog::default();
        for i in 0..(PER_CODE as u64 + 5) {
            log.push(finding(Tcp::Gap, 10 + i));
        }
        log.push(finding(Tcp::OooLimit, 1));
        assert_eq!(log.total(), PER_CODE as u64 + 6);
        let sorted = log.into_sorted();
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
    fn summaries_come_by_code_string_with_the_first_listed_level() {
        let mut log = FindingLog::default();
        for i in 0..=(PER_CODE as u64) {
            log.push(finding(Tcp::OooLimit, i).with_level(Level::Error));
        }
        for i in 0..=(PER_CODE as u64) {
            log.push(finding(Tcp::Gap, i));
        }
        let sorted = log.into_sorted();
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
