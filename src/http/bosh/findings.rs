//! The codes of the findings about BOSH bodies and sessions.
//!
//! Takes nothing; gives [`FindingCode`], one variant per thing the BOSH body
//! parser and session tracker can notice. The body codes are reported by the
//! HTTP stage, which reads the bodies, so they carry the `http` layer.

use crate::finding::codes::finding_codes;

finding_codes! {
    /// What BOSH bodies and sessions show.
    pub enum FindingCode in Bosh {
        /// A `<body>` is not well-formed XML (or not UTF-8, or cut short); the stanzas before the error are kept.
        Malformed => "bosh.malformed", Warn, Http;
        /// A stanza in a `<body>` is larger than `max_stanza_bytes` (with the namespaces it inherits); the rest of the body is not read.
        StanzaTooLarge => "bosh.stanza_too_large", Warn, Http;
        /// A `<body>` nests elements deeper than `max_xml_depth`; the rest of the body is not read.
        TooDeep => "bosh.too_deep", Warn, Http;
        /// A request id (rid) was sent again or after a later one: a retransmission or an old request repeated.
        RidRepeat => "bosh.rid_repeat", Warn;
        /// Request ids jumped: requests were lost, or went over a connection missing from the capture.
        RidJump => "bosh.rid_jump", Warn;
        /// A BOSH request was answered with an HTTP error status.
        HttpError => "bosh.http_error", Error;
        /// A long poll was cut before its `wait` elapsed: something between client and server closes long polls.
        PollCut => "bosh.poll_cut", Error;
        /// A request got no answer before its connection closed.
        PollUnanswered => "bosh.poll_unanswered", Warn;
        /// The server ended the session (`type="terminate"`); `info` for a normal end, `error` with a condition.
        Terminate => "bosh.terminate", Error;
        /// More BOSH sessions than `max_bosh_sessions`; the oldest is forgotten.
        SessionLimit => "bosh.session_limit", Warn;
    }
}
