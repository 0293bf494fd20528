//! What a connection carried: from the facts the decrypting stages
//! established, or inferred from what the wire shows without them.
//!
//! Takes [`Decoded`] (what the stages above saw in clear or decrypted) or
//! [`WireEvidence`] (ports, SNI, ALPN, lifetime, rhythm); gives a [`Role`],
//! its [`Basis`] and the reasons in words. Pure: no state, no I/O.

use super::{Basis, Role};

/// A connection that lives at least this long, with records the server
/// sent unprompted or keepalive exchanges, is a notification channel.
pub(crate) const LONG_LIVED_S: f64 = 5.0;
/// Client turns (runs of client records after server records) in the first
/// seconds that make an XMPP login's shape: upgrade, open, auth, restart,
/// bind... where a REST call is one request and its answer.
pub(crate) const LOGIN_TURNS: u64 = 3;

/// What the stages above saw on the connection, in clear or decrypted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// An HTTP upgrade to WebSocket (with the `xmpp` subprotocol or not).
    pub websocket: bool,
    pub websocket_xmpp: bool,
    /// XMPP stanzas (over any transport).
    pub stanzas: u64,
    /// BOSH bodies.
    pub bosh_bodies: u64,
    /// HTTP exchanges, and those to `/finesse/api/`.
    pub http_exchanges: u64,
    pub rest_exchanges: u64,
}

impl Decoded {
    fn any(&self) -> bool {
        self.websocket || self.stanzas > 0 || self.bosh_bodies > 0 || self.http_exchanges > 0
    }
}

/// What the wire shows without decryption.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct WireEvidence<'a> {
    pub server_port: u16,
    pub sni: Option<&'a str>,
    pub alpn: Option<&'a str>,
    pub duration_s: f64,
    /// Encrypted application records each way.
    pub client_records: u64,
    pub server_records: u64,
    /// Server records that came when the client had sent nothing within a
    /// reply window: what a server pushes (notifications).
    pub unprompted_server_records: u64,
    pub keepalives: u64,
    /// Client turns in the connection's first seconds.
    pub early_client_turns: u64,
}

/// `1 XMPP stanza`, `3 XMPP stanzas`.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The role from decoded facts, when the stages above read anything.
pub(crate) fn decoded_role(d: &Decoded) -> Option<(Role, Vec<String>)> {
    if !d.any() {
        return None;
    }
    let stanzas = count(d.stanzas, "XMPP stanza", "XMPP stanzas");
    Some(if d.bosh_bodies > 0 {
        let bodies = count(d.bosh_bodies, "BOSH body", "BOSH bodies");
        (Role::XmppBosh, vec![bodies])
    } else if d.websocket && (d.websocket_xmpp || d.stanzas > 0) {
        let upgrade = if d.websocket_xmpp {
            "HTTP upgrade to WebSocket, subprotocol xmpp"
        } else {
            "HTTP upgrade to WebSocket"
        };
        (Role::XmppWebsocket, vec![upgrade.to_owned(), stanzas])
    } else if d.stanzas > 0 && !d.websocket {
        (Role::XmppTcp, vec![stanzas])
    } else if d.rest_exchanges > 0 {
        let rest = format!(
            "{} to /finesse/api",
            count(d.rest_exchanges, "exchange", "exchanges")
        );
        (Role::Rest, vec![rest])
    } else if d.websocket {
        (Role::Other, vec!["WebSocket without XMPP".to_owned()])
    } else {
        let http = format!(
            "{}, none to /finesse/api",
            count(d.http_exchanges, "HTTP exchange", "HTTP exchanges")
        );
        (Role::Other, vec![http])
    })
}

/// The role inferred from the wire: the port says which Finesse service,
/// and on the desktop port (8445, or 443 behind a proxy) the rhythm tells a
/// notification WebSocket from REST calls.
pub(crate) fn inferred_role(w: &WireEvidence<'_>) -> (Role, Vec<String>) {
    let port = w.server_port;
    let mut reasons = Vec::new();
    let role = match port {
        5222 | 5223 => {
            reasons.push(format!("port {port} (XMPP client)"));
            Role::XmppTcp
        }
        7443 | 7071 => {
            reasons.push(format!("port {port} (Finesse BOSH)"));
            Role::XmppBosh
        }
        8445 | 443 | 8443 | 8082 => {
            reasons.push(format!("port {port} (Finesse desktop and REST)"));
            desktop_port_role(w, &mut reasons)
        }
        _ => {
            reasons.push(format!("port {port} is no Finesse port"));
            Role::Other
        }
    };
    if let Some(sni) = w.sni {
        reasons.push(format!("SNI {sni}"));
    }
    if let Some(alpn) = w.alpn {
        reasons.push(format!("ALPN {alpn}"));
    }
    (role, reasons)
}

fn desktop_port_role(w: &WireEvidence<'_>, reasons: &mut Vec<String>) -> Role {
    let long = w.duration_s >= LONG_LIVED_S;
    let pushed = w.unprompted_server_records > 0;
    if long && (pushed || w.keepalives > 0) {
        reasons.push(format!("long-lived ({:.1} s)", w.duration_s));
        if pushed {
            let n = w.unprompted_server_records;
            reasons.push(format!(
                "{} unprompted",
                count(n, "server record", "server records")
            ));
        }
        if w.keepalives > 0 {
            reasons.push(count(
                w.keepalives,
                "keepalive exchange",
                "keepalive exchanges",
            ));
        }
        return Role::XmppWebsocket;
    }
    if w.early_client_turns >= LOGIN_TURNS {
        reasons.push(format!(
            "{} round trips at once (an XMPP login's shape)",
            w.early_client_turns
        ));
        return Role::XmppWebsocket;
    }
    if w.alpn == Some("h2") {
        reasons.push("HTTP/2 negotiated".to_owned());
        return Role::Rest;
    }
    if w.client_records == 0 && w.server_records == 0 {
        reasons.push("no application data".to_owned());
        return Role::Other;
    }
    let life = if long {
        format!("{:.1} s, nothing pushed by the server", w.duration_s)
    } else {
        format!("short-lived ({:.3} s)", w.duration_s)
    };
    reasons.push(life);
    reasons.push("request/response records".to_owned());
    Role::Rest
}

/// The role and its basis: decoded facts win over inference.
pub(crate) fn role(decoded: &Decoded, wire: &WireEvidence<'_>) -> (Role, Basis, Vec<String>) {
    match decoded_role(decoded) {
        Some((role, reasons)) => (role, Basis::Decrypted, reasons),
        None => {
            let (role, reasons) = inferred_role(wire);
            (role, Basis::Inferred, reasons)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(port: u16, duration_s: f64, pushed: u64, keepalives: u64) -> WireEvidence<'static> {
        WireEvidence {
            server_port: port,
            sni: Some("finesse1.example.com"),
            duration_s,
            client_records: 10,
            server_records: 10,
            unprompted_server_records: pushed,
            keepalives,
            ..WireEvidence::default()
        }
    }

    #[test]
    fn decoded_facts_name_the_transport() {
        let ws = Decoded {
            websocket: true,
            websocket_xmpp: true,
            stanzas: 20,
            ..Decoded::default()
        };
        let (role, basis, reasons) = role(&ws, &wire(8445, 0.1, 0, 0));
        assert_eq!((role, basis), (Role::XmppWebsocket, Basis::Decrypted));
        assert_eq!(reasons[0], "HTTP upgrade to WebSocket, subprotocol xmpp");
        let bosh = Decoded {
            bosh_bodies: 3,
            stanzas: 4,
            http_exchanges: 3,
            ..Decoded::default()
        };
        assert_eq!(decoded_role(&bosh).map(|r| r.0), Some(Role::XmppBosh));
        let tcp = Decoded {
            stanzas: 4,
            ..Decoded::default()
        };
        assert_eq!(decoded_role(&tcp).map(|r| r.0), Some(Role::XmppTcp));
        let rest = Decoded {
            http_exchanges: 2,
            rest_exchanges: 1,
            ..Decoded::default()
        };
        assert_eq!(decoded_role(&rest).map(|r| r.0), Some(Role::Rest));
        let web = Decoded {
            http_exchanges: 2,
            ..Decoded::default()
        };
        assert_eq!(decoded_role(&web).map(|r| r.0), Some(Role::Other));
        assert_eq!(decoded_role(&Decoded::default()), None);
    }

    #[test]
    fn ports_name_the_xmpp_transports() {
        assert_eq!(inferred_role(&wire(5222, 1.0, 0, 0)).0, Role::XmppTcp);
        assert_eq!(inferred_role(&wire(5223, 1.0, 0, 0)).0, Role::XmppTcp);
        assert_eq!(inferred_role(&wire(7443, 1.0, 0, 0)).0, Role::XmppBosh);
        let (role, reasons) = inferred_role(&wire(9999, 100.0, 5, 5));
        assert_eq!(role, Role::Other);
        assert_eq!(reasons[0], "port 9999 is no Finesse port");
    }

    #[test]
    fn on_the_desktop_port_the_rhythm_tells_websocket_from_rest() {
        let (role, reasons) = inferred_role(&wire(8445, 35.3, 12, 3));
        assert_eq!(role, Role::XmppWebsocket);
        assert_eq!(
            reasons,
            vec![
                "port 8445 (Finesse desktop and REST)",
                "long-lived (35.3 s)",
                "12 server records unprompted",
                "3 keepalive exchanges",
                "SNI finesse1.example.com"
            ]
        );
        assert_eq!(inferred_role(&wire(8445, 0.021, 0, 0)).0, Role::Rest);
        // Long-lived but only answers: a kept-alive REST connection.
        assert_eq!(inferred_role(&wire(8445, 60.0, 0, 0)).0, Role::Rest);
        // Pushed records on a short connection: not enough to say WebSocket.
        assert_eq!(inferred_role(&wire(8445, 1.0, 3, 0)).0, Role::Rest);
        // A short connection with a login's round trips (a failed login).
        let login = WireEvidence {
            early_client_turns: 4,
            ..wire(8445, 0.02, 0, 0)
        };
        let (role, reasons) = inferred_role(&login);
        assert_eq!(role, Role::XmppWebsocket);
        assert_eq!(reasons[1], "4 round trips at once (an XMPP login's shape)");
        let silent = WireEvidence {
            server_port: 8445,
            ..WireEvidence::default()
        };
        assert_eq!(inferred_role(&silent).0, Role::Other);
    }
}
