//! xmppcap: turns a packet capture of Cisco Finesse desktop traffic into the
//! XMPP conversation it carried, in order, in words.
//!
//! The modules follow the data: [`capture`] (pcap, pcapng, gzip) → [`decode`]
//! (link, IP, TCP headers) → [`tcp`] (streams) → [`tls`] (decryption) →
//! [`http`] (HTTP/1.1, upgrade, BOSH) → [`ws`] (WebSocket) → [`xmpp`]
//! (stanzas, sessions) → [`finesse`] (notification payloads) → [`report`]
//! (timeline, findings, renderers). Beside them, [`conn`] tells each TCP
//! connection's story from what the wire shows, keys or not, and
//! [`desktop`] the story across one desktop's connections. Only
//! [`pipeline`] knows every stage;
//! [`position`] says where and when a piece of input was seen, for all;
//! [`words`] how a duration is said, for stages and renderers alike.
//!
//! This crate is the analyzer only. The command line, its terminal tables
//! and progress bar are the `xmppcap` binary (`crates/cli`); the captures the
//! tests read are made by `xmppcap-fixturegen` (`crates/fixturegen`), which
//! shares no code with this crate; the fuzz targets (`fuzz/`) call
//! `fuzzing`.
//!
//! Nothing in a capture can make the library panic or abort: bad input
//! becomes a [`finding::Finding`], and every buffer is capped by
//! [`limits::Limits`].

#![forbid(unsafe_code)]

pub mod capture;
pub mod conn;
pub mod decode;
pub mod desktop;
pub mod finding;
pub mod finesse;
pub mod har;
pub mod http;
pub mod limits;
pub mod pipeline;
pub mod position;
pub mod report;
pub mod tcp;
pub mod tls;
pub mod words;
pub mod ws;
pub mod xmpp;

/// One entry per parser for fuzzers and fuzz-smoke tests; not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    /// Reads arbitrary bytes as a capture to the end (tiny buffer, 1 MiB block cap).
    pub fn capture_bytes(data: &[u8]) {
        crate::capture::fuzz::read_all(data)
    }

    /// Decodes arbitrary bytes as one packet of the given LINKTYPE_*.
    pub fn decode_packet(link_type: u32, data: &[u8]) {
        crate::decode::fuzz::decode_one(link_type, data)
    }

    /// Decodes packets (each prefixed by a 2-byte big-endian length) through
    /// one decoder, so IPv4 fragment state carries over between them.
    pub fn decode_packets(link_type: u32, data: &[u8]) {
        crate::decode::fuzz::decode_sequence(link_type, data)
    }

    pub use crate::tcp::fuzz::reassemble as tcp_reassemble;

    pub use crate::http::fuzz::{
        bosh_body as http_bosh_body, connection as http_connection, heads as http_heads,
    };
    pub use crate::ws::fuzzing as ws;
    /// The XMPP TCP framer (segments, directions and gaps seeded by the first byte).
    pub fn xmpp_framer(data: &[u8]) {
        crate::xmpp::fuzz::framer(data)
    }

    /// An XMPP session fed WebSocket messages (split at NUL bytes).
    pub fn xmpp_element(data: &[u8]) {
        crate::xmpp::fuzz::element(data)
    }

    /// The Finesse notification parser, then the Finesse stage, on one text.
    pub fn finesse_notification(data: &[u8]) {
        crate::finesse::fuzz::notification(data)
    }
    pub use crate::tls::fuzz::{tls_handshake, tls_keylog, tls_record, tls_session};

    /// The HAR reader on arbitrary bytes (plain or gzip), to the end or its error.
    pub use crate::har::fuzz_read as har_read;

    /// The whole analysis on one input, rendered as JSON and HTML: the first
    /// two bytes (big-endian) are the length of a key log text that follows,
    /// the rest is the capture (or HAR). The input is written to a file in
    /// the temporary directory (the pipeline reads paths), one per process.
    pub fn pipeline_report(data: &[u8]) {
        let (keylog, capture) = match data {
            [hi, lo, rest @ ..] => {
                let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
                rest.split_at(len)
            }
            _ => (&[][..], data),
        };
        let path = std::env::temp_dir().join(format!("xmppcap-fuzz-{}.input", std::process::id()));
        if std::fs::write(&path, capture).is_err() {
            return;
        }
        let opts = crate::pipeline::Options {
            limits: crate::limits::Limits {
                memory_budget: 16 << 20,
                ..crate::limits::Limits::default()
            },
            keylog_texts: vec![("fuzz.keys".to_string(), std::sync::Arc::from(keylog))],
            raw: true,
            xmpp_message_text: true,
            ..crate::pipeline::Options::default()
        };
        let report = crate::pipeline::report(&path, &opts, crate::report::ndjson::Selection::All);
        if let Ok(report) = &report {
            let mut sink = std::io::sink();
            let _ = crate::report::html::render(&[report], &mut sink);
        }
        let _ = crate::report::json::render_reports(&[report], &mut std::io::sink());
    }
}
