//! The codes of the findings the XMPP stage reports.
//!
//! Takes nothing; gives [`FindingCode`], one variant per thing the XMPP stage
//! (framing, stream, SASL, iq tracking, presence, sessions across the
//! capture) can notice. Finesse's own codes are in
//! [`crate::finesse::FindingCode`].

use crate::finding::codes::finding_codes;

finding_codes! {
    /// What the XMPP stage notices.
    pub enum FindingCode in Xmpp {
        /// Bytes of the XML stream were lost by the capture; parsing resynchronises on the next element.
        Gap => "xmpp.gap", Warn;
        /// Bytes of the XML stream were captured but not decrypted (a partial key log); parsing resynchronises on the next element.
        NotDecrypted => "xmpp.not_decrypted", Info;
        /// The connection or capture ended inside an element.
        Truncated => "xmpp.truncated", Info;
        /// Bytes that are not XML where an element should start; they are skipped.
        Junk => "xmpp.junk", Warn;
        /// An element is not well-formed XML; it is shown raw.
        MalformedXml => "xmpp.malformed_xml", Warn;
        /// An element is larger than `max_stanza_bytes`; it is not parsed.
        StanzaTooLarge => "xmpp.stanza_too_large", Warn;
        /// The session ended without `</stream:stream>`, `<close/>` or a stream error: the connection was cut.
        EndedWithoutClose => "xmpp.ended_without_close", Warn;
        /// The client never sent its initial presence, so the server delivers it no events.
        NoPresence => "xmpp.no_presence", Warn;
        /// The client announced a negative presence priority, which gets no events delivered.
        NegativePriority => "xmpp.negative_priority", Warn;
        /// `finesse@…` went unavailable: the Finesse service on this node is down (a failover signal).
        FinesseUnavailable => "xmpp.finesse_unavailable", Warn;
        /// SASL authentication failed.
        SaslFailure => "xmpp.sasl_failure", Error;
        /// The server refused STARTTLS.
        StarttlsFailure => "xmpp.starttls_failure", Error;
        /// Stream error `conflict`: another session bound the same resource (two desktops for one agent).
        Conflict => "xmpp.conflict", Error;
        /// Stream error `system-shutdown`: the server is going down.
        SystemShutdown => "xmpp.system_shutdown", Error;
        /// Stream error `connection-timeout`: the server found the client silent too long.
        ConnectionTimeout => "xmpp.connection_timeout", Warn;
        /// Stream error `see-other-host`: the server sends the client to another host.
        Redirect => "xmpp.redirect", Warn;
        /// Any other stream error; the session ends.
        StreamError => "xmpp.stream_error", Error;
        /// Resource binding failed.
        BindFailed => "xmpp.bind_failed", Error;
        /// Session establishment failed.
        SessionFailed => "xmpp.session_failed", Error;
        /// An iq request was answered with an error.
        IqError => "xmpp.iq_error", Info;
        /// A pubsub subscription did not end subscribed; `error` when the server answered with an error.
        SubscriptionFailed => "xmpp.subscription_failed", Warn;
        /// A pubsub subscription uses the bare JID, so notifications go to every resource of the user.
        SubscriptionBareJid => "xmpp.subscription_bare_jid", Info;
        /// A ping was answered after more than the 10 s a Finesse desktop waits.
        SlowPingReply => "xmpp.slow_ping_reply", Warn;
        /// A ping got no reply; `info` when less than 10 s passed before the session or capture ended.
        UnansweredPing => "xmpp.unanswered_ping", Warn;
        /// A pubsub subscription request got no reply; `info` when less than 10 s passed before the session or capture ended.
        SubscriptionUnanswered => "xmpp.subscription_unanswered", Warn;
        /// Another iq request got no reply; `info` when less than 10 s passed before the session or capture ended.
        UnansweredIq => "xmpp.unanswered_iq", Warn;
        /// More iq requests awaiting replies than the cap; the oldest are no longer matched.
        PendingIqLimit => "xmpp.pending_iq_limit", Warn;
        /// More XMPP sessions than `max_summaries`: the rest are in the NDJSON events only.
        SummaryLimit => "xmpp.summary_limit", Warn;
        /// The server never answered the client's stream open: no stream header, features or stream error came back.
        NoStreamResponse => "xmpp.no_stream_response", Warn;
        /// The client sent a TLS ClientHello to a port where the server speaks plain XMPP.
        TlsOnPlaintextPort => "xmpp.tls_on_plaintext_port", Error;
        /// A subscription was not unsubscribed before the session ended, so it persists on the node.
        SubscriptionLeft => "xmpp.subscription_left", Info;
        /// An explicit subscription to a feed Finesse delivers without one.
        SubscriptionRedundant => "xmpp.subscription_redundant", Info;
        /// An element holds more than `max_xml_nodes` elements; the rest are checked but not analysed.
        TooManyElements => "xmpp.too_many_elements", Warn;
        /// An element has the same attribute twice (not well-formed XML); the first value is used.
        DuplicateAttribute => "xmpp.duplicate_attribute", Warn;
    }
}
