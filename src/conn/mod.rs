//! The connection story: what one TCP connection was and how it went, told
//! from what the wire shows whether or not it could be decrypted.
//!
//! Takes the TCP stage's events, the TLS records and handshake facts of the
//! connection, and (when decryption worked) the facts the stages above
//! established: its application role and its keepalive exchanges. Gives one
//! [`Summary`] per connection when it ends (or at the end of the capture),
//! each statement marked with its [`Basis`]: seen decrypted, or inferred
//! from ports, sizes and timing, and the findings about that one
//! connection ([`FindingCode`]). Never decodes a protocol itself and never
//! raises a finding that a wrong guess could make false.

mod certificate;
mod findings;
mod notice;
mod rhythm;
mod role;
mod summary;
mod tracker;

pub use findings::FindingCode;
pub use summary::{
    Basis, CertificateFacts, DirFacts, EndHow, Ended, IdleGap, Keepalive, Opened, Role, Side,
    Summary, TlsFacts,
};
pub use tracker::{Fact, Ping, Story, Tracker};

#[cfg(test)]
mod tests;
