//! The codes of the findings the capture reader reports.
//!
//! Takes nothing; gives [`FindingCode`], one variant per thing the reader can
//! notice in a pcap or pcapng file it can still read. Never reports what lies
//! inside the packets: that is for the stages after it.

use crate::finding::codes::finding_codes;

finding_codes! {
    /// What the capture reader notices in a file.
    pub enum FindingCode in Capture {
        /// The file ends inside a block or packet; everything before it is kept.
        Truncated => "capture.truncated", Warn;
        /// The file's structure is broken beyond resynchronising; reading stops there.
        Corrupt => "capture.corrupt", Error;
        /// Reading the file failed (an I/O or gzip error); reading stops there.
        ReadError => "capture.read_error", Error;
        /// The reader lost track of its own buffer; reading stops there (a bug in xmppcap, never expected).
        Internal => "capture.internal", Error;
        /// A block is larger than `max_capture_block`; it is skipped.
        OversizedBlock => "capture.oversized_block", Warn;
        /// A pcapng Decryption Secrets Block of a type other than a TLS key log is ignored.
        SecretsIgnored => "capture.secrets_ignored", Info;
        /// More pcapng interfaces than xmppcap keeps; the extra interface's packets are skipped.
        InterfaceLimit => "capture.interface_limit", Warn;
        /// An interface's `if_tsresol` cannot be used; microseconds are assumed.
        BadTsresol => "capture.bad_tsresol", Warn;
        /// A packet refers to an interface its section does not describe; it is skipped.
        BadInterface => "capture.bad_interface", Warn;
        /// A pcapng block cannot be read; it is skipped.
        BadBlock => "capture.bad_block", Warn;
        /// A packet's time jumps away from its neighbours, so spans across it are not durations; `warn` when the jump is a year or more.
        TimeGlitch => "capture.time_glitch", Info;
        /// A packet holds more captured bytes than the file's snapshot length; it is read whole all the same (said once per file).
        OverSnaplen => "capture.over_snaplen", Warn;
    }
}
