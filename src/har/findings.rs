//! The codes of the findings the HAR reader reports.
//!
//! Takes nothing; gives [`FindingCode`], one code per kind of
//! [`super::Finding`] (which carries the kind's details and words). Never
//! reports on the traffic a HAR holds: that is for the stages it feeds.

use crate::finding::codes::finding_codes;

finding_codes! {
    /// What the HAR reader notices in a file it can still read.
    pub enum FindingCode in Har {
        /// `log.entries` is empty: the export holds no traffic.
        NoEntries => "har.no_entries", Info;
        /// An element of `log.entries` is not an object; it is skipped.
        EntryNotObject => "har.entry_not_object", Warn;
        /// An entry lacks a required part (`request`, `response`, `startedDateTime`).
        MissingField => "har.missing_field", Warn;
        /// A field has the wrong JSON type or an impossible value; it is ignored.
        MalformedField => "har.malformed_field", Warn;
        /// An entry started before the previous one; entries are kept in file order.
        OutOfOrder => "har.out_of_order", Info;
        /// Sizes below -1 (Chrome writes them for upgrades and preflights), once per file; they are treated as unknown.
        NegativeSizes => "har.negative_sizes", Info;
        /// A WebSocket whose upgrade request was never sent: the connection failed first (refused, DNS, TLS).
        WebSocketNeverSent => "har.websocket_never_sent", Warn;
        /// A WebSocket that did not open (status other than 101), with the browser's error when it recorded one.
        WebSocketFailed => "har.websocket_failed", Warn;
        /// Messages recorded after the entry's end: the page had already closed the socket.
        MessagesAfterClose => "har.messages_after_close", Warn;
        /// A time that is not a wall-clock time (before 2000).
        NotWallClock => "har.not_wall_clock", Info;
        /// A WebSocket message `type` other than `send`, `receive` or `error`; it is skipped.
        UnknownMessageType => "har.unknown_message_type", Warn;
        /// A WebSocket opcode other than 1 (text) or 2 (binary); the data is kept.
        UnexpectedOpcode => "har.unexpected_opcode", Warn;
        /// Base64 that does not decode; the text itself is kept.
        InvalidBase64 => "har.invalid_base64", Warn;
        /// A body, message or field longer than its cap was cut.
        Capped => "har.capped", Warn;
        /// More header lines than `max_headers`; the rest are dropped.
        TooManyHeaders => "har.too_many_headers", Warn;
        /// Messages listed before the entry's request and response exceeded `max_held_messages`; the rest are dropped.
        HeldMessagesDropped => "har.held_messages_dropped", Warn;
        /// An entry field came after `_webSocketMessages`, when the entry had already been given; it is ignored.
        LateField => "har.late_field", Warn;
        /// The HAR gives no XMPP (no WebSocket entry, no messages recorded, another browser, no BOSH): only the HTTP side can be reported.
        NoXmpp => "har.no_xmpp", Warn;
        /// More findings of one kind than `max_findings_per_kind`; the rest are only counted.
        Suppressed => "har.suppressed", Info;
    }
}
