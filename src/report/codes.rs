//! The codes of the findings about the report itself, not the traffic.
//!
//! Takes nothing; gives [`FindingCode`]: what the renderers had to leave
//! out. Never reports on what a capture holds.

use crate::finding::codes::finding_codes;

finding_codes! {
    /// What building the report notices.
    pub enum FindingCode in Report {
        /// The table/JSON/HTML timeline keeps at most `max_timeline_events` events (or `max_timeline_bytes`); the rest are counted, and NDJSON has them all.
        TimelineCut => "report.timeline_cut", Info;
    }
}
