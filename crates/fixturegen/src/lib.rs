//! The fixture generator: makes every test capture by driving protocol
//! models (TCP here, real rustls sessions, our own WebSocket encoder and
//! Finesse/XMPP scripts) in memory and writing pcap or pcapng.
//!
//! Takes nothing from the analyzer: the `xmppcap` library is not a
//! dependency of this crate, so the generator is an independent
//! implementation (pcap-parser to write and read back, rustls, etherparse's
//! packet builder) that tests the analyzer instead of mirroring it. Gives
//! the committed fixtures under the repository's `fixtures/`, the truth each
//! one must yield ([`catalog()`]), and large streamed captures for
//! benchmarks ([`bench`](mod@bench)). Deterministic: fixed clock
//! ([`frame::START_NS`]) and seeded RNGs. Its command line is the
//! `fixturegen` example of this package (`cargo run --release --example
//! fixturegen -- list`).

#![forbid(unsafe_code)]

use std::net::SocketAddr;

use serde::{Serialize, Serializer};

pub mod bench;
pub mod bench_sessions;
mod bench_varied;
pub mod bosh;
pub mod capture;
pub mod catalog;
pub mod channel;
pub mod content;
pub mod det;
pub mod finesse;
mod fixtures_conn;
mod fixtures_desktop;
mod fixtures_finesse;
mod fixtures_real;
mod fixtures_tcp;
mod fixtures_tls;
mod fixtures_tls12;
mod fixtures_ws;
pub mod frame;
pub mod hostile;
pub mod hostile_held;
pub mod impair;
pub mod pcap;
pub mod pcapng;
#[cfg(test)]
mod readback;
pub mod tcp;
pub mod tls;
pub mod tls12_sealed;
pub mod truth;
pub mod tunnel;
pub mod wire;
pub mod ws;
pub mod xmpp;

pub use catalog::{catalog, find, Fixture, FixtureSpec};
pub use truth::{DirTruth, Gap, StreamTruth, WsTruth};

/// Which way a byte travels, relative to the TCP client.
///
/// The generator's own type, not the analyzer's `xmppcap::position::Dir`: the
/// generator shares no code with what it tests. Serialised as `c2s`/`s2c`,
/// the words the analyzer's reports use, so truths and reports read alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dir {
    /// From the client (the side that sends the SYN).
    ClientToServer,
    /// From the server.
    ServerToClient,
}

impl Dir {
    /// Both directions, client first.
    pub const BOTH: [Dir; 2] = [Dir::ClientToServer, Dir::ServerToClient];

    /// The other direction.
    pub fn flip(self) -> Dir {
        match self {
            Dir::ClientToServer => Dir::ServerToClient,
            Dir::ServerToClient => Dir::ClientToServer,
        }
    }

    /// 0 for client-to-server, 1 for server-to-client: an index into per-direction arrays.
    pub fn index(self) -> usize {
        match self {
            Dir::ClientToServer => 0,
            Dir::ServerToClient => 1,
        }
    }

    /// `c2s` or `s2c`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dir::ClientToServer => "c2s",
            Dir::ServerToClient => "s2c",
        }
    }
}

impl Serialize for Dir {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why generating a capture failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing the output failed.
    #[error("writing the capture failed: {0}")]
    Io(#[from] std::io::Error),
    /// etherparse refused to build a packet.
    #[error("building a packet failed: {0}")]
    Packet(Box<dyn std::error::Error + Send + Sync>),
    /// A segment had an IPv4 and an IPv6 endpoint.
    #[error("segment {0} -> {1} mixes address families")]
    MixedFamilies(SocketAddr, SocketAddr),
    /// A rustls session failed (config, handshake or record layer).
    #[error("TLS session failed: {0}")]
    Tls(#[from] rustls::Error),
    /// No fixture of that name in the catalog.
    #[error("no fixture named {0:?}")]
    UnknownFixture(String),
}

impl Error {
    pub(crate) fn packet(e: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::Packet(Box::new(e))
    }
}
