//! The per-connection summary: one `conn.summary` event per TCP connection.
//!
//! Takes nothing; gives [`Summary`] and the small types it is made of, with
//! the JSON shape the report schema documents. Never computes anything: the
//! connection-story stage fills it in.

use std::net::SocketAddr;

use serde::Serialize;

use crate::position::{FrameRef, Timestamp};

/// How far a statement can be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Read from decrypted (or clear) application data.
    Decrypted,
    /// Inferred from what the wire shows without decryption: ports, SNI,
    /// ALPN, record sizes and timing. The reasons say which.
    Inferred,
}

/// What the connection carried, for a Finesse desktop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// XMPP over WebSocket (the 12.5+ desktop's notification channel, `/ws/` on 8445).
    XmppWebsocket,
    /// XMPP over BOSH (`/http-bind/` on 7443): one of a session's long polls.
    XmppBosh,
    /// XMPP on a TCP stream (5222 with STARTTLS, 5223 direct TLS).
    XmppTcp,
    /// Finesse REST calls (`/finesse/api/...`).
    Rest,
    /// Anything else, or not enough evidence to say.
    Other,
}

/// One side of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Client,
    Server,
}

/// How the connection opened, as first seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Opened {
    /// Its SYN (or at least its SYN-ACK) is in the capture.
    Syn,
    /// The capture started while it was already open.
    Midstream,
}

/// How the connection ended, as first seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndHow {
    /// A side sent FIN first.
    Fin,
    /// A side sent RST first, after the connection was established.
    Rst,
    /// A RST answered the SYN; no SYN-ACK was seen (service down on that node).
    Refused,
    /// The SYN was never answered (retries counted): a firewall or a dead host.
    NoAnswer,
    /// Neither FIN nor RST by the end of the capture.
    Open,
    /// Neither FIN nor RST before the analysis stopped following it: the
    /// memory budget cut it (`limits.memory`); how it ended is not known.
    NotFollowed,
}

/// The ending: how, who, where and when.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ended {
    pub how: EndHow,
    /// The side that sent the first FIN or RST (`server` for `refused`; none
    /// for `no-answer` and `open`).
    pub by: Option<Side>,
    /// The frame of that FIN or RST (for `no-answer`: the last SYN; for
    /// `open`: none).
    pub frame: Option<u64>,
    pub time: Option<Timestamp>,
    /// SYNs sent again after the first (for `refused` and `no-answer`, and
    /// any connection whose SYN was retransmitted).
    pub syn_retries: u32,
}

/// What one direction sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirFacts {
    /// TCP payload bytes delivered in order.
    pub payload_bytes: u64,
    /// TLS records seen (any content type).
    pub tls_records: u64,
    /// Bytes sent again (retransmissions, overlaps).
    pub retransmitted_bytes: u64,
    /// Times this side advertised a zero window (zero-window probes from the other side count here).
    pub zero_windows: u64,
}

/// A silence of more than 30 s on the whole connection.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct IdleGap {
    /// The last frame before the silence and the first after it.
    pub from: FrameRef,
    pub to: FrameRef,
    pub seconds: f64,
}

/// The keepalive rhythm: XEP-0199 pings answered and WebSocket ping/pong
/// pairs (decrypted), or small records answered by small records at a
/// steady rhythm after the login burst (inferred). Without keys on a
/// connection whose keepalives the wire cannot tell from other traffic
/// (BOSH), no count is given and `not_inferred_because` says why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Keepalive {
    /// The exchanges; `None` when they cannot be inferred.
    pub exchanges: Option<u64>,
    /// The median interval between exchanges, in seconds.
    pub interval_s: Option<f64>,
    /// When the last exchange began.
    pub last_time: Option<Timestamp>,
    pub last_frame: Option<u64>,
    pub basis: Basis,
    /// Why `exchanges` is `None`, in words (serialised only then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_inferred_because: Option<&'static str>,
}

/// What the wire shows of the server's certificate (TLS 1.2 and below:
/// in clear; TLS 1.3: encrypted, so only `encrypted` is set).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CertificateFacts {
    /// True when the certificate travelled encrypted (TLS 1.3) and nothing
    /// below is known.
    pub encrypted: bool,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub sans: Vec<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    /// Checked against the capture's time: `valid`, `expired`, `not_yet_valid`.
    pub validity: Option<&'static str>,
    /// The SNI matches neither the subject's CN nor a SAN.
    pub name_mismatch: bool,
}

/// The TLS facts of one connection, keys or not.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TlsFacts {
    pub version: Option<String>,
    pub suite: Option<String>,
    pub sni: Option<String>,
    pub alpn: Option<String>,
    pub certificate: Option<CertificateFacts>,
    /// Alerts seen in clear, in words (`fatal handshake_failure from server`).
    pub alerts: Vec<String>,
    /// The handshake resumed an earlier session (PSK or session ID/ticket).
    pub resumed: bool,
    /// `yes`, `partly`, `no` or `none` (no encrypted record).
    pub decrypted: crate::tls::Decrypted,
    /// Why not (or not all), in words, when `decrypted` is not `yes`.
    pub not_decrypted_because: Option<String>,
}

/// One TCP connection's story.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Wireshark's `tcp.stream` (not serialised: the `conn.summary` event
    /// and the connection report around the summary carry it).
    #[serde(skip)]
    pub stream: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub sni: Option<String>,
    pub role: Role,
    pub role_basis: Basis,
    /// Why that role, in words (decrypted facts or the inference's reasons).
    pub role_reasons: Vec<String>,
    pub opened: Opened,
    pub first: FrameRef,
    pub ended: Ended,
    pub duration_s: f64,
    pub c2s: DirFacts,
    pub s2c: DirFacts,
    /// The round trip seen in the TCP handshake (SYN → SYN-ACK → ACK), in milliseconds.
    pub rtt_ms: Option<f64>,
    pub idle_gaps: Vec<IdleGap>,
    pub keepalive: Keepalive,
    pub tls: Option<TlsFacts>,
}
