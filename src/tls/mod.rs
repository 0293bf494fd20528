//! Stage `tls`: finds TLS in a TCP stream, follows its handshake and, with
//! keys from a key log, decrypts it.
//!
//! Takes the bytes of each direction of one TCP connection (from any offset:
//! the first byte may be a ClientHello after STARTTLS, or the middle of a
//! record when the capture started late) and a [`KeyLog`]; gives the decrypted
//! application data in order per direction, plaintext gaps for what cannot be
//! decrypted, handshake [`Event`]s, findings, and a per-connection
//! [`Summary`] saying what was decrypted or exactly why not. Never panics on
//! input, never holds more than one record (plus one handshake message) per
//! direction, and never prints key material.
//!
//! Wiring (what the pipeline does):
//!
//! ```
//! use xmppcap::position::{Dir, FrameRef};
//! use xmppcap::finding::{Finding, Findings};
//! use xmppcap::limits::Limits;
//! use xmppcap::tls::{self, Event, GapReason, KeyLog, KeySource, Probe, Session, Sink};
//!
//! struct Up(Vec<u8>);
//! impl Findings for Up {
//!     fn push_finding(&mut self, _: Finding) {}
//! }
//! impl Sink for Up {
//!     fn on_plaintext(&mut self, _: Dir, _: FrameRef, bytes: &[u8]) { self.0.extend_from_slice(bytes) }
//!     fn on_plaintext_gap(&mut self, _: Dir, _: FrameRef, _: u64, _: GapReason) {}
//!     fn on_tls_event(&mut self, _: &Event) {}
//! }
//!
//! let mut findings = Vec::new();
//! let mut keys = KeyLog::new();
//! keys.load_env(&mut findings); // and KeyLog::load_file for each --keylog
//! // A pcapng Decryption Secrets Block met during the capture:
//! keys.add_text(b"# no secrets here\n", KeySource::Dsb { offset: 1234 }, &mut findings);
//!
//! let first_bytes = [0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00];
//! assert_eq!(tls::detect(&first_bytes), Probe::Tls);
//! let mut session = Session::new(0, &Limits::default()); // one per tcp.stream
//! let mut up = Up(Vec::new());
//! session.on_data(&keys, Dir::ClientToServer, FrameRef::default(), &first_bytes, &mut up);
//! session.finish(&mut up);
//! println!("{}", serde_json::to_string(session.summary()).unwrap());
//! ```

mod advice;
mod camellia_gcm;
mod cbc;
mod compression;
mod crypto;
mod findings;
mod flow;
#[doc(hidden)]
pub mod fuzz;
mod handshake;
mod keylog;
mod keys;
mod midstream;
mod record;
mod record_layer;
#[cfg(feature = "rsa-keys")]
mod rsa;
mod session;
mod suites;
mod summary;

pub use advice::DecryptionTally;
pub use findings::FindingCode;
pub use handshake::CertSummary;
pub use keylog::{KeyCaps, KeyLog, KeyLogError, KeySource, Label, Secret};
pub use record::{detect, Probe};
pub use session::Session;
pub use summary::{
    AlertSeen, Decrypted, DirStats, EarlyData, Event, EventKind, GapReason, KeyPhase, Sink, Summary,
};

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod cut_tests;
#[cfg(test)]
pub(crate) mod rustls_tests;
#[cfg(test)]
mod testutil;
#[cfg(test)]
mod tls12_tests;
#[cfg(test)]
mod tls12_vectors;
