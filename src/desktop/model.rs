//! What the report says of one desktop: its notification connections and
//! connection attempts in order, with the gaps between them, and its REST
//! traffic per Finesse node.
//!
//! Takes nothing; gives [`Desktop`] and the small types it is made of, with
//! the JSON shape `docs/report.schema.json` documents (`desktops`). Never
//! computes anything: [`super::Story`] fills them in.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use crate::conn::{Basis, EndHow, Role, Side};
use crate::position::Timestamp;

/// A Finesse node as a desktop reaches it: the server's address and, once a
/// TLS handshake named it, the SNI.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Node {
    pub address: IpAddr,
    pub sni: Option<String>,
}

impl Node {
    /// Whether `other` is another node: another address, or the same address
    /// (a load balancer's) with another name. A missing SNI (a refused
    /// attempt never got that far) names no other node.
    pub fn is_other_than(&self, other: &Node) -> bool {
        if self.address != other.address {
            return true;
        }
        matches!((&self.sni, &other.sni), (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b))
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sni {
            Some(sni) => write!(f, "{sni} ({})", self.address),
            None => write!(f, "{}", self.address),
        }
    }
}

/// One notification connection, or one attempt that never opened.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DesktopConnection {
    /// Wireshark's `tcp.stream`.
    pub stream: u64,
    /// Its first frame (the SYN, or the first seen) and when.
    pub frame: u64,
    pub start: Timestamp,
    pub server: SocketAddr,
    pub node: Node,
    /// The user of the XMPP session it carried, when decrypted.
    pub user: Option<String>,
    pub role: Role,
    pub role_basis: Basis,
    /// How it ended, by which side, where and when (none while `open`).
    pub ended: EndHow,
    pub ended_by: Option<Side>,
    pub ended_frame: Option<u64>,
    pub end: Option<Timestamp>,
    pub duration_s: f64,
    /// SYNs sent again after the first.
    pub syn_retries: u32,
    /// Seconds since the previous notification connection of the same user
    /// (or of the address, without keys) ended; none for the first, or when
    /// it began before that one ended.
    pub gap_s: Option<f64>,
}

/// A desktop's REST connections to one node, summarised.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RestTraffic {
    pub node: Node,
    pub connections: u64,
    /// The first connection's start and the last one's end.
    pub first: Timestamp,
    pub last: Timestamp,
    pub span_s: f64,
    /// `decrypted` when every one was seen to carry `/finesse/api/`, else `inferred`.
    pub basis: Basis,
}

/// One desktop (client address) across the capture.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Desktop {
    pub client: IpAddr,
    /// The users its decrypted sessions named, sorted (two or more: agents
    /// behind one NAT address).
    pub users: Vec<String>,
    /// Notification connections and refused or unanswered attempts, by start time.
    pub connections: Vec<DesktopConnection>,
    /// Connections left out of the list by `max_desktop_connections`.
    pub connections_dropped: u64,
    /// REST traffic per node, in node order.
    pub rest: Vec<RestTraffic>,
}
