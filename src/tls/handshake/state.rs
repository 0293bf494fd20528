//! Where a connection's handshake stands, as typed states (after rustls
//! `client/tls13.rs`: `ExpectServerHello` … `ExpectTraffic`).
//!
//! Takes the handshake milestones the session saw (hellos, retry,
//! EncryptedExtensions, Certificate, ChangeCipherSpec, Finished,
//! EndOfEarlyData) in capture order; gives the decisions that depend on
//! them: whether a ClientHello was seen at all, which key phase a
//! direction's first encrypted record uses, whether a ChangeCipherSpec
//! switches keys, whether 0-RTT data is still expected. A capture may miss
//! or repeat messages, so every milestone is accepted in any state (a
//! renegotiating ClientHello starts over); nothing here rejects input.

use crate::position::Dir;
use crate::tls::summary::KeyPhase;

/// What the latest ClientHello offered, which a ServerHello answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Offer {
    pub(crate) session_id: Vec<u8>,
    pub(crate) encrypt_then_mac: bool,
    pub(crate) extended_master_secret: bool,
    /// TLS 1.3 (or a draft) was listed in supported_versions.
    pub(crate) tls13: bool,
}

/// A TLS 1.3 server flight after the ServerHello: what the server sends next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServerFlight {
    EncryptedExtensions,
    /// Certificate (or Finished, with a PSK).
    Certificate,
    Finished,
    Traffic,
}

/// A TLS 1.3 client flight after the ServerHello: what the client sends next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientFlight {
    /// 0-RTT data, ended by EndOfEarlyData.
    EarlyData,
    Finished,
    Traffic,
}

/// One direction of a TLS ≤ 1.2 handshake after the ServerHello: what it sends next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tls12Flight {
    ChangeCipherSpec,
    Finished,
    Traffic,
}

/// The handshake's stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Nothing seen (or the capture began after the ClientHello).
    ExpectClientHello,
    ExpectServerHello,
    /// A HelloRetryRequest asked for a second ClientHello.
    ExpectSecondClientHello,
    Tls13 {
        server: ServerFlight,
        client: ClientFlight,
    },
    /// Indexed by [`Dir::index`].
    Tls12([Tls12Flight; 2]),
}

/// The handshake as seen so far.
#[derive(Clone, Debug)]
pub(crate) struct Tracker {
    stage: Stage,
    offer: Offer,
    /// A HelloRetryRequest was seen on this connection.
    hello_retry: bool,
    /// The client offered 0-RTT and has not finished sending it.
    early_pending: bool,
    /// A ServerHello (not a retry request) was seen on this connection.
    server_hello_seen: bool,
}

impl Tracker {
    pub(crate) fn new() -> Tracker {
        Tracker {
            stage: Stage::ExpectClientHello,
            offer: Offer::default(),
            hello_retry: false,
            early_pending: false,
            server_hello_seen: false,
        }
    }

    pub(crate) fn stage(&self) -> &Stage {
        &self.stage
    }

    pub(crate) fn client_hello_seen(&self) -> bool {
        self.stage != Stage::ExpectClientHello
    }

    /// What the latest ClientHello offered (empty before any).
    pub(crate) fn offer(&self) -> &Offer {
        &self.offer
    }

    /// A ClientHello (the first, a second after a retry, or a renegotiation).
    pub(crate) fn client_hello(&mut self, offer: Offer, early_data: bool) {
        // 0-RTT is abandoned after a HelloRetryRequest (RFC 8446 §4.2.10).
        self.early_pending = early_data && !self.hello_retry;
        self.offer = offer;
        self.stage = Stage::ExpectServerHello;
    }

    pub(crate) fn hello_retry_request(&mut self) {
        self.hello_retry = true;
        self.early_pending = false;
        self.stage = Stage::ExpectSecondClientHello;
    }

    /// A ServerHello choosing TLS 1.3 (`psk`: with a pre-shared key) or an earlier version.
    pub(crate) fn server_hello(&mut self, tls13: bool, psk: bool) {
        self.server_hello_seen = true;
        if tls13 && !psk {
            // Without a PSK there is no 0-RTT to wait for.
            self.early_pending = false;
        }
        self.stage = if tls13 {
            Stage::Tls13 {
                server: ServerFlight::EncryptedExtensions,
                client: if self.early_pending {
                    ClientFlight::EarlyData
                } else {
                    ClientFlight::Finished
                },
            }
        } else {
            Stage::Tls12([Tls12Flight::ChangeCipherSpec; 2])
        };
    }

    pub(crate) fn encrypted_extensions(&mut self) {
        if let Stage::Tls13 { server, .. } = &mut self.stage {
            *server = ServerFlight::Certificate;
        }
    }

    pub(crate) fn certificate(&mut self, dir: Dir) {
        if let (Stage::Tls13 { server, .. }, Dir::ServerToClient) = (&mut self.stage, dir) {
            *server = ServerFlight::Finished;
        }
    }

    /// The client's 0-RTT data ended (EndOfEarlyData, or a later key opened its records).
    pub(crate) fn early_data_over(&mut self) {
        self.early_pending = false;
        if let Stage::Tls13 { client, .. } = &mut self.stage {
            if *client == ClientFlight::EarlyData {
                *client = ClientFlight::Finished;
            }
        }
    }

    /// A Finished of `dir` (`encrypted_tls13`: a TLS 1.3 Finished under the handshake key).
    pub(crate) fn finished(&mut self, dir: Dir, encrypted_tls13: bool) {
        if encrypted_tls13 && dir == Dir::ClientToServer {
            self.early_pending = false;
        }
        match (&mut self.stage, dir) {
            (Stage::Tls13 { server, .. }, Dir::ServerToClient) => *server = ServerFlight::Traffic,
            (Stage::Tls13 { client, .. }, Dir::ClientToServer) => *client = ClientFlight::Traffic,
            (Stage::Tls12(flights), _) => {
                if let Some(f) = flights.get_mut(dir.index()) {
                    *f = Tls12Flight::Traffic;
                }
            }
            _ => {}
        }
    }

    /// Whether a ChangeCipherSpec switches `dir` to TLS ≤ 1.2 keys: TLS 1.3's
    /// middlebox-compatibility CCS changes nothing (RFC 8446 §D.4); before any
    /// ServerHello only a client that cannot speak 1.3 means it.
    pub(crate) fn change_cipher_spec(&mut self, dir: Dir, negotiated_tls13: bool) -> bool {
        let tls12 = if self.server_hello_seen {
            !negotiated_tls13
        } else {
            !self.offer.tls13
        };
        if let (true, Stage::Tls12(flights)) = (tls12, &mut self.stage) {
            if let Some(f) = flights.get_mut(dir.index()) {
                *f = Tls12Flight::Finished;
            }
        }
        tls12
    }

    /// The key phase of a direction's first encrypted record, or `None` when
    /// the ClientHello was not captured (the connection was joined mid-stream).
    pub(crate) fn first_phase(&self, dir: Dir, negotiated_tls13: bool) -> Option<KeyPhase> {
        if !self.client_hello_seen() {
            None
        } else if dir == Dir::ClientToServer && self.early_pending {
            Some(KeyPhase::Early)
        } else if negotiated_tls13 {
            Some(KeyPhase::Handshake)
        } else {
            Some(KeyPhase::Tls12)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(tls13: bool) -> Offer {
        Offer {
            tls13,
            ..Offer::default()
        }
    }

    #[test]
    fn tls13_flights_follow_the_messages() {
        let mut t = Tracker::new();
        assert_eq!(t.first_phase(Dir::ClientToServer, false), None);
        t.client_hello(offer(true), false);
        assert_eq!(t.stage(), &Stage::ExpectServerHello);
        t.server_hello(true, false);
        assert_eq!(
            t.first_phase(Dir::ServerToClient, true),
            Some(KeyPhase::Handshake)
        );
        t.encrypted_extensions();
        t.certificate(Dir::ServerToClient);
        t.finished(Dir::ServerToClient, true);
        t.finished(Dir::ClientToServer, true);
        assert_eq!(
            t.stage(),
            &Stage::Tls13 {
                server: ServerFlight::Traffic,
                client: ClientFlight::Traffic
            }
        );
        // The middlebox-compatibility CCS changes no key.
        assert!(!t.change_cipher_spec(Dir::ClientToServer, true));
    }

    #[test]
    fn early_data_lasts_until_end_of_early_data_and_not_past_a_retry() {
        let mut t = Tracker::new();
        t.client_hello(offer(true), true);
        assert_eq!(
            t.first_phase(Dir::ClientToServer, false),
            Some(KeyPhase::Early)
        );
        t.server_hello(true, true);
        assert!(matches!(
            t.stage(),
            Stage::Tls13 {
                client: ClientFlight::EarlyData,
                ..
            }
        ));
        t.early_data_over();
        assert_eq!(
            t.first_phase(Dir::ClientToServer, true),
            Some(KeyPhase::Handshake)
        );
        let mut t = Tracker::new();
        t.client_hello(offer(true), true);
        t.hello_retry_request();
        // The client's CCS after a retry request is TLS 1.3 compatibility, not a key change.
        assert!(!t.change_cipher_spec(Dir::ClientToServer, false));
        t.client_hello(offer(true), true);
        assert_eq!(
            t.first_phase(Dir::ClientToServer, false),
            Some(KeyPhase::Tls12)
        );
    }

    #[test]
    fn tls12_change_cipher_spec_switches_keys_and_renegotiation_starts_over() {
        let mut t = Tracker::new();
        // Before any hello, a CCS can only be TLS ≤ 1.2.
        assert!(t.change_cipher_spec(Dir::ClientToServer, false));
        t.client_hello(offer(false), false);
        t.server_hello(false, false);
        assert!(t.change_cipher_spec(Dir::ClientToServer, false));
        t.finished(Dir::ClientToServer, false);
        assert_eq!(
            t.stage(),
            &Stage::Tls12([Tls12Flight::Traffic, Tls12Flight::ChangeCipherSpec])
        );
        t.client_hello(offer(false), false);
        assert_eq!(t.stage(), &Stage::ExpectServerHello);
        assert!(t.change_cipher_spec(Dir::ServerToClient, false));
    }
}
