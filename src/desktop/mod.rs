//! The desktop story: what happened across one desktop's connections —
//! attempts a node refused or never answered, reconnects, failovers to the
//! other node, connect/disconnect loops — keys or not.
//!
//! Takes one [`crate::conn::Summary`] per TCP connection as it ends, with
//! the user of the XMPP session it carried when that was decrypted (so two
//! agents behind one NAT address are told apart); gives `conn.*` findings
//! and one [`Desktop`] per client address for the report. Every finding
//! names the frames that prove it and says what is seen and what is
//! inferred: one resting on an inferred notification role is at most
//! `info`. Never reads payload, never decides a connection's role (the
//! connection story does), and holds per desktop only what its findings
//! and its capped report list need.
//!
//! With keys the same findings rest on decrypted facts: the connection
//! summary's role is `decrypted`, and the user of the session carried (SASL
//! user, else the JID's local part, as `xmpp::reconnect::SessionFacts::user_of`
//! says it) keys the reconnect chain. This replaces `xmpp::reconnect`
//! (`xmpp.reconnect`, `xmpp.failover`, `xmpp.reconnect_loop`) once the
//! wiring feeds [`Story`] from `Wiring::on_conn_summary`.

mod attempts;
mod chain;
mod findings;
mod model;
mod story;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod tests;

pub use findings::FindingCode;
pub use model::{Desktop, DesktopConnection, Node, RestTraffic};
pub use story::Story;
