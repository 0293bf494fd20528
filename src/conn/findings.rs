//! The codes of the findings about one connection's story.
//!
//! Takes nothing; gives [`FindingCode`], one variant per thing the
//! connection story can say about a single connection (how it ended, its
//! keepalive rhythm, its TLS handshake and certificate). Never speaks about
//! several connections together: that is the desktop story's.

use crate::finding::codes::finding_codes;

finding_codes! {
    /// What the connection story notices about one connection.
    pub enum FindingCode in Tcp {
        /// A notification connection (role xmpp-*) ended by a RST; `warn` when its role was decrypted or the RST came from the server after established traffic, `info` when it rests on an inferred role alone.
        Reset => "conn.reset", Warn;
        /// The keepalive rhythm stopped well before the connection ended; the message says which side went quiet.
        KeepaliveStopped => "keepalive.stopped", Info;
        /// Records from one side went unanswered by the other for longer than a keepalive timeout.
        PeerSilent => "conn.peer_silent", Info;
        /// The TLS handshake failed: an alert in clear, or no ServerHello after the ClientHello.
        HandshakeFailed => "tls.handshake_failed", Warn, Tls;
        /// The server's certificate, seen in clear (TLS 1.2), is expired, not yet valid at the capture's time, or does not name the SNI.
        Certificate => "tls.certificate", Warn, Tls;
    }
}
