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

mod cbc;
mod crypto;
mod flow;
#[doc(hidden)]
pub mod fuzz;
mod handshake;
mod keylog;
mod keys;
mod messages;
mod record;
#[cfg(feature = "rsa-keys")]
mod rsa;
mod session;
mod suites;
mod summary;

pub use handshake::CertSummary;
pub use keylog::{KeyLog, KeyLogError, KeySource, Label, Secret};
pub use record::{detect, Probe};
pub use session::Session;
pub use summary::{
    AlertSeen, Decrypted, DirStats, EarlyData, Event, EventKind, GapReason, KeyPhase, Sink, Summary,
};

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
pub(crate) mod rustls_tests;
#[cfg(test)]
mod testutil;
