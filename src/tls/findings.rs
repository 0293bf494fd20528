//! The codes of the findings the TLS stage reports.
//!
//! Takes nothing; gives [`FindingCode`], one variant per thing the TLS stage
//! (records, handshake, key log, decryption) can notice. Never reports on the
//! plaintext: that is for the stages above.

use crate::finding::codes::finding_codes;

finding_codes! {
    /// What the TLS stage notices.
    pub enum FindingCode in Tls {
        /// Records of a direction could not be decrypted (the reason says why); `error` when the key was wrong or records damaged, `info` when no key material was given at all.
        Undecryptable => "tls.undecryptable", Warn;
        /// A side sent a fatal alert, which ends the connection.
        FatalAlert => "tls.fatal_alert", Warn;
        /// A handshake message could not be parsed; it is skipped.
        BadHandshake => "tls.bad_handshake", Warn;
        /// The negotiated cipher suite is one xmppcap does not decrypt (RC4, SEED, export, single DES, NULL, AES-CCM).
        UnsupportedSuite => "tls.unsupported_suite", Error;
        /// The negotiated record compression is not DEFLATE; records are not decompressed.
        UnsupportedCompression => "tls.unsupported_compression", Error;
        /// A handshake list (cipher suites, extensions, certificates) is longer than its cap; the rest is not kept.
        ListLimit => "tls.list_limit", Warn;
        /// A compressed record inflates past 16 KiB; the rest of the direction is not decompressed.
        DecompressionBomb => "tls.decompression_bomb", Error;
        /// A compressed record needs DEFLATE history lost to a gap; the rest of the direction is not decompressed.
        DeflateContextLost => "tls.deflate_context_lost", Error;
        /// A compressed record is not valid DEFLATE; the rest of the direction is not decompressed.
        DecompressionFailed => "tls.decompression_failed", Error;
        /// The capture starts after the handshake; decryption is tried with the key log's secrets at guessed sequence numbers.
        Midstream => "tls.midstream", Info;
        /// A record header is invalid; xmppcap looks for the next record boundary.
        BadRecord => "tls.bad_record", Warn;
        /// Record boundaries were found again after a gap or a bad record.
        Resync => "tls.resync", Info;
        /// Bytes of a direction were lost by the capture; `error` when no record boundary is found again and the rest of the direction is given up.
        Gap => "tls.gap", Warn;
        /// The connection ended inside a record; the partial record is not decrypted.
        Truncated => "tls.truncated", Info;
        /// A key log line cannot be read; it is ignored (the first 20 per source, then a count).
        KeylogMalformed => "tls.keylog_malformed", Warn;
        /// A key log source holds no TLS secret at all (not a key log, or an empty one).
        KeylogEmpty => "tls.keylog_empty", Warn;
        /// The file named by `SSLKEYLOGFILE` cannot be read; the analysis goes on without it.
        KeylogUnreadable => "tls.keylog_unreadable", Warn;
        /// More key sources than `max_key_sources`; the later ones are still used but named together.
        KeySourceLimit => "tls.key_source_limit", Warn;
        /// More secrets than `max_key_secrets` (held in memory: Decryption Secrets Blocks, text) or `max_key_file_secrets` (key log files, indexed); the new ones are not kept, so their connections are not decrypted.
        KeySecretLimit => "tls.key_secret_limit", Warn;
        /// The capture has TLS connections and none could be decrypted: how to get keys next time (once per capture).
        NoKeys => "tls.no_keys", Info;
        /// A ClientHello got no ServerHello before the connection or the capture ended: the handshake did not complete.
        HandshakeIncomplete => "tls.handshake_incomplete", Warn;
        /// A record cut by the snaplen or the end of the capture was decrypted without its tag (AES-GCM, ChaCha20-Poly1305): its plaintext is given but unauthenticated.
        Unauthenticated => "tls.unauthenticated", Info;
    }
}
