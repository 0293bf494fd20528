//! The codes of the findings the desktop story reports.
//!
//! Takes nothing; gives [`FindingCode`], one variant per thing the desktop
//! stage notices across one desktop's connections. Codes are `conn.*`: they
//! are told from connection summaries, keys or not.

use crate::finding::codes::finding_codes;

finding_codes! {
    /// What the desktop story notices.
    pub enum FindingCode in Conn {
        /// Connection attempts a node refused: a RST answered each SYN (the service is down on that node); seen on the wire.
        Refused => "conn.refused", Warn;
        /// Connection attempts a node never answered (SYNs retried, no SYN-ACK): a firewall or a dead host; `info` for one SYN never retried.
        NoAnswer => "conn.no_answer", Warn;
        /// A new notification connection after the desktop's last one ended, to the same node; the gap says how long it was without one.
        Reconnect => "conn.reconnect", Info;
        /// The next notification connection went to another Finesse node; `info` when a notification role is only inferred.
        Failover => "conn.failover", Warn;
        /// Three or more reconnects within two minutes: a connect/disconnect loop; `info` when a notification role is only inferred.
        ReconnectLoop => "conn.reconnect_loop", Warn;
        /// More desktops than `max_desktops`, or more connections for one desktop than `max_desktop_connections`: the rest are counted, not told.
        DesktopLimit => "conn.desktop_limit", Warn;
    }
}
