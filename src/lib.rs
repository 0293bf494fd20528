//! xmppcap: turns a packet capture of Cisco Finesse desktop traffic into the
//! XMPP conversation it carried, in order, in words.
//!
//! The modules follow the data: [`capture`] (pcap, pcapng, gzip) → [`decode`]
//! (link, IP, TCP headers) → [`tcp`] (streams) → [`tls`] (decryption) →
//! [`http`] (HTTP/1.1, upgrade, BOSH) → [`ws`] (WebSocket) → [`xmpp`]
//! (stanzas, sessions) → [`finesse`] (notification payloads) → [`report`]
//! (timeline, findings, renderers). Only [`pipeline`] knows every stage.
//!
//! Nothing in a capture can make the library panic or abort: bad input
//! becomes a [`finding::Finding`], and every buffer is capped by
//! [`limits::Limits`].

#![forbid(unsafe_code)]

pub mod capture;
pub mod cli;
pub mod common;
pub mod decode;
pub mod finding;
pub mod finesse;
pub mod http;
pub mod limits;
pub mod pipeline;
pub mod report;
pub mod tcp;
pub mod tls;
pub mod ws;
pub mod xmpp;

/// One entry per parser for fuzzers and fuzz-smoke tests; not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::tls::fuzz::{tls_handshake, tls_keylog, tls_record, tls_session};
}
