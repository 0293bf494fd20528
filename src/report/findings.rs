//! A bounded log of findings.
//!
//! Takes findings as they come; keeps the first [`PER_CODE`] of each code and
//! counts the rest, so a capture with a million gaps cannot exhaust memory.
//! Gives them sorted by frame (then code), followed by one summary finding
//! per code that overflowed. Never drops the count.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::finding::{Finding, Findings};

/// Findings kept per code; the rest are only counted.
pub const PER_CODE: usize = 1000;

#[derive(Debug, Default)]
pub struct FindingLog {
    kept: Vec<Finding>,
    per_code: BTreeMap<&'static str, CodeCount>,
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
struct CodeCount {
    total: u64,
    kept: u64,
}

impl FindingLog {
    pub fn push(&mut self, finding: Finding) {
        let count = self.per_code.entry(finding.code.code()).or_default();
        count.total += 1;
        if count.kept < PER_CODE as u64 {
            count.kept += 1;
            self.kept.push(finding);
        }
    }

    /// Total findings seen, including those only counted.
    pub fn total(&self) -> u64 {
        self.per_code.values().map(|c| c.total).sum()
    }

    /// The kept findings in frame order (findings without a frame first, in
    /// arrival order), then one summary per code that overflowed.
    pub fn into_sorted(self) -> Vec<Finding> {
        let mut kept = self.kept;
        // Stable sort: findings at the same frame keep their arrival order.
        kept.sort_by_key(|f| f.frame.unwrap_or(0));
        for (code, count) in &self.per_code {
            if count.total > count.kept {
                if let Some(sample) = kept.iter().find(|f| f.code == *code) {
                    let mut summary = Finding::from_code_str(
                        sample.level,
                        sample.layer(),
                        code,
                        format!(
                            "{} more `{code}` findings not listed ({} in all)",
                            count.total - count.kept,
                            count.total
                        ),
                    );
                    summary.level = sample.level;
                    kept.push(summary);
                }
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
    use crate::finding::{Layer, Level};
    use crate::position::{FrameRef, Timestamp};

    fn finding(code: &'static str, frame: u64) -> Finding {
        Finding::from_code_str(Level::Warn, Layer::Tcp, code, "x")
            .at(FrameRef::new(frame, Timestamp::default()))
    }

    #[test]
    fn keeps_first_per_code_and_summarises_the_rest() {
        let mut log = FindingLog::default();
        for i in 0..(PER_CODE as u64 + 5) {
            log.push(finding("tcp.gap", 10 + i));
        }
        log.push(finding("tcp.ooo_limit", 1));
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
}
