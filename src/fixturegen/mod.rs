//! The fixture generator: makes every test capture by driving protocol
//! models (TCP here, real rustls sessions, our own WebSocket encoder and
//! Finesse/XMPP scripts) in memory and writing pcap or pcapng.
//!
//! Takes nothing from the analyzer stages (`capture`, `decode`, `tcp`,
//! `tls`, `http`, `ws`, `xmpp`): it is an independent implementation so
//! that it tests them. Gives the committed fixtures under `fixtures/`, the
//! truth each one must yield ([`catalog`]), and large streamed captures for
//! benchmarks ([`bench`]). Deterministic: fixed clock ([`frame::START_NS`])
//! and seeded RNGs. Test tooling, not part of the analyzer's API.

use std::net::SocketAddr;

pub mod bench;
mod bench_varied;
pub mod bosh;
pub mod capture;
pub mod catalog;
pub mod channel;
pub mod content;
pub mod det;
pub mod finesse;
mod fixtures_finesse;
mod fixtures_tcp;
mod fixtures_tls;
mod fixtures_ws;
pub mod frame;
pub mod impair;
pub mod pcap;
pub mod pcapng;
#[cfg(test)]
mod readback;
pub mod tcp;
pub mod tls;
pub mod truth;
pub mod wire;
pub mod ws;
pub mod xmpp;

pub use catalog::{catalog, find, Fixture, FixtureSpec};
pub use truth::{DirTruth, Gap, StreamTruth, WsTruth};

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
