//! Handshake messages and alerts of a [`Session`], in clear or decrypted:
//! they fill the summary, emit timeline events and move the key schedule on
//! (Finished, EndOfEarlyData, KeyUpdate).
//!
//! Takes whole handshake messages and alert bodies; gives events, findings
//! and summary fields. Never decrypts anything itself.

use super::{Arrival, Session};
use crate::position::{Dir, FrameRef};
use crate::tls::compression::Method;
use crate::tls::handshake::state::Offer;
use crate::tls::handshake::{self as hs, msg};
use crate::tls::keys::KeyError;
use crate::tls::suites::{self, Protection};
use crate::tls::summary::{AlertSeen, EventKind, KeyPhase, Sink};
use crate::tls::FindingCode;

impl Session {
    pub(super) fn on_alert(
        &mut self,
        from: Arrival<'_>,
        body: &[u8],
        encrypted: bool,
        sink: &mut impl Sink,
    ) {
        let (dir, at) = (from.dir, from.at);
        let (level, description) = match hs::parse_alert(body) {
            Ok(a) => a,
            Err(e) => return self.bad_message(from, "alert", &e.to_string(), sink),
        };
        let (level_name, name) = (hs::alert_level_name(level), hs::alert_name(description));
        if level == 2 {
            let f = self.finding(
                FindingCode::FatalAlert,
                format!(
                    "fatal alert {name} from the {}",
                    if dir == Dir::ClientToServer {
                        "client"
                    } else {
                        "server"
                    }
                ),
                dir,
                at,
            );
            sink.push_finding(f);
        }
        if self.summary.alerts.len() >= self.limits.max_list {
            self.summary.alerts_omitted += 1;
        } else {
            self.summary.alerts.push(AlertSeen {
                level: level_name.clone(),
                description: name.clone(),
                dir,
                frame: at.frame,
                encrypted,
            });
        }
        let kind = EventKind::Alert {
            level: level_name,
            description: name,
            encrypted,
        };
        self.emit(sink, dir, at, kind);
    }

    pub(super) fn bad_message(
        &mut self,
        from: Arrival<'_>,
        what: &str,
        error: &str,
        sink: &mut impl Sink,
    ) {
        let message = format!("malformed {what}: {error}");
        let f = self.finding(FindingCode::BadHandshake, message, from.dir, from.at);
        sink.push_finding(f);
    }

    pub(super) fn feed_handshake(
        &mut self,
        from: Arrival<'_>,
        data: &[u8],
        encrypted: bool,
        sink: &mut impl Sink,
    ) {
        let mut messages = Vec::new();
        let mut errors = Vec::new();
        self.messages[from.dir.index()].feed(
            from.at,
            data,
            &mut |at, typ, body| messages.push((at, typ, body.to_vec())),
            &mut |at, e| errors.push((at, e)),
        );
        for (at, e) in errors {
            let what = "handshake message";
            self.bad_message(from.with_frame(at), what, &e.to_string(), sink);
        }
        for (at, typ, body) in messages {
            self.on_message(from.with_frame(at), typ, &body, encrypted, sink);
        }
    }

    fn on_message(
        &mut self,
        from: Arrival<'_>,
        typ: u8,
        body: &[u8],
        encrypted: bool,
        sink: &mut impl Sink,
    ) {
        let (dir, at) = (from.dir, from.at);
        let tls13 = self.schedule.tls13();
        #[cfg(feature = "rsa-keys")]
        self.rsa_observe(from.keys, typ, body);
        let result = match typ {
            msg::CLIENT_HELLO => {
                hs::parse_client_hello(body).map(|ch| self.on_client_hello(from, ch, sink))
            }
            msg::SERVER_HELLO => {
                hs::parse_server_hello(body).map(|sh| self.on_server_hello(dir, at, sh, sink))
            }
            msg::ENCRYPTED_EXTENSIONS => hs::parse_encrypted_extensions(body)
                .map(|ee| self.on_encrypted_extensions(dir, at, ee, sink)),
            msg::CERTIFICATE => self.on_certificate(from, body, tls13, sink),
            msg::NEW_SESSION_TICKET => {
                let version = self.schedule.version.unwrap_or(0x0303);
                hs::parse_new_session_ticket(body, version).map(|t| {
                    let kind = EventKind::NewSessionTicket {
                        lifetime: t.lifetime,
                        max_early_data: t.max_early_data,
                    };
                    self.emit(sink, dir, at, kind);
                })
            }
            msg::KEY_UPDATE => hs::parse_key_update(body)
                .map(|requested| self.on_key_update(dir, at, requested, sink)),
            msg::END_OF_EARLY_DATA => {
                self.emit(sink, dir, at, EventKind::EndOfEarlyData);
                self.handshake.early_data_over();
                self.switch_phase(from, KeyPhase::Handshake, sink);
                Ok(())
            }
            msg::FINISHED => {
                self.emit(sink, dir, at, EventKind::Finished);
                self.handshake.finished(dir, tls13 && encrypted);
                if tls13 && encrypted {
                    self.switch_phase(from, KeyPhase::Application, sink);
                }
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            let what = format!("handshake message type {typ}");
            self.bad_message(from, &what, &e.to_string(), sink);
        }
    }

    fn on_encrypted_extensions(
        &mut self,
        dir: Dir,
        at: FrameRef,
        ee: hs::EncryptedExtensions,
        sink: &mut impl Sink,
    ) {
        self.summary.alpn = ee.alpn.clone().or(self.summary.alpn.take());
        self.summary.early_data.accepted = ee.early_data;
        self.handshake.encrypted_extensions();
        let kind = EventKind::EncryptedExtensions {
            alpn: ee.alpn,
            early_data_accepted: ee.early_data,
        };
        self.emit(sink, dir, at, kind);
    }

    fn on_certificate(
        &mut self,
        from: Arrival<'_>,
        body: &[u8],
        tls13: bool,
        sink: &mut impl Sink,
    ) -> Result<(), hs::HandshakeError> {
        let (dir, at) = (from.dir, from.at);
        let max = self.limits.max_certificates;
        let (certs, omitted) = hs::parse_certificate(body, tls13, max)?;
        if omitted > 0 {
            let what = format!("certificates of the {}", certs.len() + omitted);
            self.list_limit(&what, max, dir, at, sink);
        }
        self.handshake.certificate(dir);
        if dir == Dir::ServerToClient && self.summary.certificates.is_empty() {
            self.summary.certificates = certs.clone();
        }
        let kind = EventKind::Certificate {
            certificates: certs,
        };
        self.emit(sink, dir, at, kind);
        Ok(())
    }

    pub(super) fn on_client_hello(
        &mut self,
        from: Arrival<'_>,
        mut ch: hs::ClientHello,
        sink: &mut impl Sink,
    ) {
        let (dir, at) = (from.dir, from.at);
        self.client_hello_at.get_or_insert(at);
        self.schedule.client_random = Some(ch.random);
        self.schedule.offered_tls13 = ch
            .suites
            .iter()
            .filter_map(|&id| match suites::lookup(id)?.protection {
                Protection::Aead(a) if id >> 8 == 0x13 => Some(a),
                _ => None,
            })
            .collect();
        let offer = Offer {
            session_id: ch.session_id.clone(),
            encrypt_then_mac: ch.encrypt_then_mac,
            extended_master_secret: ch.extended_master_secret,
            tls13: ch
                .supported_versions
                .iter()
                .any(|&v| v == 0x0304 || v >> 8 == 0x7f),
        };
        self.handshake.client_hello(offer, ch.early_data);
        // Decided on the whole lists above; only the first `max_list` of each are kept.
        self.keep_first(&mut ch.suites, "cipher suites", dir, at, sink);
        self.keep_first(&mut ch.alpn, "ALPN names", dir, at, sink);
        self.keep_first(&mut ch.supported_versions, "versions", dir, at, sink);
        self.summary.early_data.offered |= ch.early_data;
        self.summary.sni = ch.sni.clone();
        self.summary.alpn_offered = ch.alpn.clone();
        self.summary.client_random = Some(ch.random.iter().map(|b| format!("{b:02x}")).collect());
        let versions = if ch.supported_versions.is_empty() {
            vec![ch.legacy_version]
        } else {
            ch.supported_versions.clone()
        };
        let kind = EventKind::ClientHello {
            sni: ch.sni,
            alpn: ch.alpn,
            versions: versions.into_iter().map(suites::version_name).collect(),
            suites: ch.suites.into_iter().map(suites::name).collect(),
            psk: ch.psk,
            early_data: ch.early_data,
            sslv2: ch.sslv2,
        };
        self.emit(sink, dir, at, kind);
    }

    fn on_server_hello(
        &mut self,
        dir: Dir,
        at: FrameRef,
        sh: hs::ServerHello,
        sink: &mut impl Sink,
    ) {
        let kind = EventKind::ServerHello {
            version: suites::version_name(sh.version()),
            suite: suites::name(sh.suite),
            hello_retry_request: sh.hello_retry_request,
            psk: sh.psk,
            alpn: sh.alpn.clone(),
        };
        self.emit(sink, dir, at, kind);
        if sh.hello_retry_request {
            self.summary.hello_retry_request = true;
            self.handshake.hello_retry_request();
            return;
        }
        let offer = self.handshake.offer();
        let resumed_session = !sh.session_id.is_empty() && sh.session_id == offer.session_id;
        self.schedule.server_random = Some(sh.random);
        self.schedule.version = Some(sh.version());
        self.schedule.suite = Some(sh.suite);
        self.schedule.compression = Method::from_u8(sh.compression);
        self.summary.compression = self.schedule.compression.name();
        self.schedule.encrypt_then_mac = offer.encrypt_then_mac && sh.encrypt_then_mac;
        self.schedule.extended_master_secret =
            offer.extended_master_secret && sh.extended_master_secret;
        self.summary.version = Some(suites::version_name(sh.version()));
        self.summary.suite = Some(suites::name(sh.suite));
        self.summary.alpn = sh.alpn.clone();
        let tls13 = self.schedule.tls13();
        self.summary.resumption = if tls13 { sh.psk } else { resumed_session };
        self.handshake.server_hello(tls13, sh.psk);
        if let Some(e) = KeyError::for_suite(sh.suite) {
            let why = e.reason();
            if self.summary.fail(why.clone()) {
                let f = self.finding(FindingCode::UnsupportedSuite, why, dir, at);
                sink.push_finding(f);
            }
        }
        if let Method::Unknown(m) = self.schedule.compression {
            let why = KeyError::UnsupportedCompression(m).reason();
            if self.summary.fail(why.clone()) {
                let f = self.finding(FindingCode::UnsupportedCompression, why, dir, at);
                sink.push_finding(f);
            }
        }
    }

    fn on_key_update(&mut self, dir: Dir, at: FrameRef, requested: bool, sink: &mut impl Sink) {
        let generation = self.layer(dir).key_update();
        self.summary.key_updates = self.summary.key_updates.saturating_add(1);
        let kind = EventKind::KeyUpdate {
            update_requested: requested,
            generation,
        };
        self.emit(sink, dir, at, kind);
    }

    /// RSA key exchange: hashes the handshake, derives the master secret with
    /// the server's private key at the ClientKeyExchange, and reuses it when a
    /// later handshake on this connection resumes the session.
    #[cfg(feature = "rsa-keys")]
    fn rsa_observe(&mut self, keys: &crate::tls::keylog::KeyLog, typ: u8, body: &[u8]) {
        const CLIENT_KEY_EXCHANGE: u8 = 16;
        match typ {
            msg::CLIENT_HELLO => {
                self.schedule.master = None;
                if let Ok(ch) = hs::parse_client_hello(body) {
                    self.rsa.client_hello(&ch.session_id, &ch.session_ticket);
                }
            }
            msg::SERVER_HELLO => {
                if let Ok(sh) = hs::parse_server_hello(body) {
                    if let Some(cached) = self.rsa.server_hello(&sh.session_id) {
                        self.schedule.master = Some(cached);
                    }
                }
            }
            msg::NEW_SESSION_TICKET => {
                let mut r = crate::tls::record::Reader::new(body);
                let ticket = r.u32("ticket_lifetime").and_then(|_| r.vec_u16("ticket"));
                if let (Ok(mut t), Some(master)) = (ticket, &self.schedule.master) {
                    self.rsa.remember(t.rest().to_vec(), master);
                }
            }
            _ => {}
        }
        if typ != 0 {
            self.rsa.transcript.add(typ, body);
        }
        if typ != CLIENT_KEY_EXCHANGE {
            return;
        }
        let (Some(client), Some(server), Some(version)) = (
            self.schedule.client_random,
            self.schedule.server_random,
            self.schedule.version,
        ) else {
            return;
        };
        let Some(suite) = self
            .schedule
            .suite
            .and_then(suites::lookup)
            .filter(|s| s.rsa_key_exchange())
        else {
            return;
        };
        let Ok(prf) = crate::tls::keys::prf_kind(version, suite) else {
            return;
        };
        let extended = self
            .schedule
            .extended_master_secret
            .then_some(&self.rsa.transcript);
        self.schedule.master =
            crate::tls::rsa::master_secret(keys, body, prf, (&client, &server), extended);
        if let Some(master) = &self.schedule.master {
            self.rsa.remember(self.rsa.server_session_id(), master);
        }
    }
}

impl Session {
    /// Keeps the first `max_list` items of a hello's list; more is a finding.
    fn keep_first<T>(
        &mut self,
        list: &mut Vec<T>,
        what: &str,
        dir: Dir,
        at: FrameRef,
        sink: &mut impl Sink,
    ) {
        let max = self.limits.max_list;
        if list.len() > max {
            let what = format!("{what} of the {} in the hello", list.len());
            self.list_limit(&what, max, dir, at, sink);
            list.truncate(max);
        }
    }

    /// Only `kept` items of a list were kept.
    fn list_limit(
        &mut self,
        what: &str,
        kept: usize,
        dir: Dir,
        at: FrameRef,
        sink: &mut impl Sink,
    ) {
        let message = format!("only the first {kept} {what} are kept (limits)");
        let f = self.finding(FindingCode::ListLimit, message, dir, at);
        sink.push_finding(f);
    }
}
