//! Handshake messages: reassembly across records and the fields xmppcap
//! reports (RFC 8446 §4, RFC 5246 §7.4), plus alerts.
//!
//! Takes handshake-record plaintext (in clear or decrypted) and gives whole
//! messages, however they were fragmented or coalesced; parses ClientHello,
//! ServerHello (HelloRetryRequest included), EncryptedExtensions,
//! Certificate (X.509 via `x509-parser`), NewSessionTicket, KeyUpdate and
//! alerts into typed values. Never trusts a length: every read is bounds
//! checked and every error names the field.

use thiserror::Error;

mod certificate;
pub(crate) mod state;

pub(crate) use certificate::parse_certificate;
pub use certificate::CertSummary;

use super::record::{Reader, Truncated};

/// Handshake message types (RFC 8446 §4, RFC 5246 §7.4).
pub(crate) mod msg {
    pub(crate) const CLIENT_HELLO: u8 = 1;
    pub(crate) const SERVER_HELLO: u8 = 2;
    pub(crate) const NEW_SESSION_TICKET: u8 = 4;
    pub(crate) const END_OF_EARLY_DATA: u8 = 5;
    pub(crate) const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub(crate) const CERTIFICATE: u8 = 11;
    pub(crate) const FINISHED: u8 = 20;
    pub(crate) const KEY_UPDATE: u8 = 24;
}

/// The ServerHello random that marks a HelloRetryRequest (RFC 8446 §4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Why a handshake message or alert could not be parsed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub(crate) enum HandshakeError {
    #[error(transparent)]
    Truncated(#[from] Truncated),
    #[error("{what} has {extra} trailing bytes")]
    Trailing { what: &'static str, extra: usize },
    #[error("handshake message of {len} bytes exceeds the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("KeyUpdate request_update {0} is neither 0 nor 1")]
    KeyUpdateRequest(u8),
    #[error("alert of {len} bytes, expected 2")]
    AlertLength { len: usize },
}

fn done(r: &Reader<'_>, what: &'static str) -> Result<(), HandshakeError> {
    match r.remaining() {
        0 => Ok(()),
        extra => Err(HandshakeError::Trailing { what, extra }),
    }
}

/// Joins handshake-record plaintext into whole messages. `T` is the place
/// (frame) where a message's first byte arrived.
#[derive(Debug)]
pub(crate) struct Reassembler<T> {
    buf: Vec<u8>,
    started: Option<T>,
    max: usize,
    /// Bytes of an over-long message still to drop.
    skip: usize,
}

impl<T: Copy> Reassembler<T> {
    /// Bytes held now: the part of a handshake message received so far.
    pub(crate) fn held_bytes(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn new(max: usize) -> Reassembler<T> {
        Reassembler {
            buf: Vec::new(),
            started: None,
            max,
            skip: 0,
        }
    }

    /// Whether part of a message is waiting for more records.
    pub(crate) fn is_partial(&self) -> bool {
        !self.buf.is_empty() || self.skip > 0
    }

    /// Forgets any partial message (after a key change or a gap).
    pub(crate) fn reset(&mut self) {
        self.buf.clear();
        self.started = None;
        self.skip = 0;
    }

    /// Feeds one record's plaintext; calls `on_message(first_at, type, body)`
    /// for each whole message and `on_error` for an over-long one.
    pub(crate) fn feed(
        &mut self,
        at: T,
        mut bytes: &[u8],
        on_message: &mut dyn FnMut(T, u8, &[u8]),
        on_error: &mut dyn FnMut(T, HandshakeError),
    ) {
        let dropped = self.skip.min(bytes.len());
        self.skip -= dropped;
        bytes = bytes.get(dropped..).unwrap_or_default();
        if self.buf.is_empty() {
            // Fast path: whole messages straight from the record, buffer only a tail.
            let used = self.split(at, at, bytes, on_message, on_error);
            self.keep(at, bytes.get(used..).unwrap_or_default());
            return;
        }
        self.buf.extend_from_slice(bytes);
        let buf = std::mem::take(&mut self.buf);
        let first = self.started.unwrap_or(at);
        let used = self.split(first, at, &buf, on_message, on_error);
        // A message still incomplete keeps the frame where it began.
        self.started = if used == 0 { Some(first) } else { None };
        self.keep(at, buf.get(used..).unwrap_or_default());
    }

    fn keep(&mut self, at: T, tail: &[u8]) {
        if self.skip > 0 {
            return;
        }
        if !tail.is_empty() && self.started.is_none() {
            self.started = Some(at);
        }
        self.buf.extend_from_slice(tail);
    }

    /// Emits the whole messages at the start of `bytes`; returns bytes used.
    /// The first message started at `first`, later ones in the current record `at`.
    fn split(
        &mut self,
        first: T,
        at: T,
        bytes: &[u8],
        on_message: &mut dyn FnMut(T, u8, &[u8]),
        on_error: &mut dyn FnMut(T, HandshakeError),
    ) -> usize {
        let mut used = 0;
        loop {
            let mut r = Reader::new(bytes.get(used..).unwrap_or_default());
            let (Ok(typ), Ok(len)) = (r.u8("msg_type"), r.u24("length")) else {
                return used;
            };
            let here = if used == 0 { first } else { at };
            if len > self.max {
                on_error(here, HandshakeError::TooLong { len, max: self.max });
                let have = r.remaining().min(len);
                // have = min(remaining, len), so this cannot underflow.
                self.skip = len - have;
                return used + 4 + have;
            }
            let Ok(body) = r.take(len, "body") else {
                return used;
            };
            on_message(here, typ, body);
            used += 4 + len;
        }
    }
}

/// The fields of a ClientHello that the report and the decryption need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ClientHello {
    pub(crate) legacy_version: u16,
    pub(crate) random: [u8; 32],
    pub(crate) session_id: Vec<u8>,
    pub(crate) suites: Vec<u16>,
    pub(crate) sni: Option<String>,
    pub(crate) alpn: Vec<String>,
    pub(crate) supported_versions: Vec<u16>,
    pub(crate) key_share_groups: Vec<u16>,
    pub(crate) psk: bool,
    pub(crate) early_data: bool,
    pub(crate) extended_master_secret: bool,
    pub(crate) encrypt_then_mac: bool,
    /// SessionTicket extension contents (RFC 5077), empty when absent.
    pub(crate) session_ticket: Vec<u8>,
    /// Sent in the SSLv2-compatible format.
    pub(crate) sslv2: bool,
}

/// Extension numbers (IANA TLS ExtensionType registry).
mod ext {
    pub(crate) const SERVER_NAME: u16 = 0;
    pub(crate) const SESSION_TICKET: u16 = 35;
    pub(crate) const ALPN: u16 = 16;
    pub(crate) const ENCRYPT_THEN_MAC: u16 = 22;
    pub(crate) const EXTENDED_MASTER_SECRET: u16 = 23;
    pub(crate) const PRE_SHARED_KEY: u16 = 41;
    pub(crate) const EARLY_DATA: u16 = 42;
    pub(crate) const SUPPORTED_VERSIONS: u16 = 43;
    pub(crate) const KEY_SHARE: u16 = 51;
}

/// Calls `f(type, data)` for each extension of an optional extensions block.
fn extensions<'a>(
    r: &mut Reader<'a>,
    mut f: impl FnMut(u16, Reader<'a>) -> Result<(), HandshakeError>,
) -> Result<(), HandshakeError> {
    if r.is_empty() {
        return Ok(());
    }
    let mut list = r.vec_u16("extensions")?;
    while !list.is_empty() {
        let typ = list.u16("extension_type")?;
        let data = list.vec_u16("extension_data")?;
        f(typ, data)?;
    }
    Ok(())
}

fn alpn_list(mut data: Reader<'_>) -> Result<Vec<String>, HandshakeError> {
    let mut list = data.vec_u16("protocol_name_list")?;
    let mut out = Vec::new();
    while !list.is_empty() {
        let name = list.vec_u8("protocol_name")?.rest();
        out.push(String::from_utf8_lossy(name).into_owned());
    }
    done(&data, "ALPN extension")?;
    Ok(out)
}

fn server_name(mut data: Reader<'_>) -> Result<Option<String>, HandshakeError> {
    let mut list = data.vec_u16("server_name_list")?;
    while !list.is_empty() {
        let name_type = list.u8("name_type")?;
        let name = list.vec_u16("host_name")?.rest();
        if name_type == 0 {
            return Ok(Some(String::from_utf8_lossy(name).into_owned()));
        }
    }
    Ok(None)
}

fn u16_list(mut list: Reader<'_>, field: &'static str) -> Result<Vec<u16>, HandshakeError> {
    let mut out = Vec::new();
    while !list.is_empty() {
        out.push(list.u16(field)?);
    }
    Ok(out)
}

pub(crate) fn parse_client_hello(body: &[u8]) -> Result<ClientHello, HandshakeError> {
    let mut r = Reader::new(body);
    let mut ch = ClientHello {
        legacy_version: r.u16("legacy_version")?,
        ..ClientHello::default()
    };
    ch.random.copy_from_slice(r.take(32, "random")?);
    ch.session_id = r.vec_u8("legacy_session_id")?.rest().to_vec();
    ch.suites = u16_list(r.vec_u16("cipher_suites")?, "cipher_suite")?;
    r.vec_u8("legacy_compression_methods")?;
    extensions(&mut r, |typ, mut data| {
        match typ {
            ext::SERVER_NAME => ch.sni = server_name(data)?,
            ext::ALPN => ch.alpn = alpn_list(data)?,
            ext::SUPPORTED_VERSIONS => {
                ch.supported_versions = u16_list(data.vec_u8("versions")?, "version")?
            }
            ext::KEY_SHARE => {
                let mut shares = data.vec_u16("client_shares")?;
                while !shares.is_empty() {
                    ch.key_share_groups.push(shares.u16("group")?);
                    shares.vec_u16("key_exchange")?;
                }
            }
            ext::PRE_SHARED_KEY => ch.psk = true,
            ext::EARLY_DATA => ch.early_data = true,
            ext::EXTENDED_MASTER_SECRET => ch.extended_master_secret = true,
            ext::ENCRYPT_THEN_MAC => ch.encrypt_then_mac = true,
            ext::SESSION_TICKET => ch.session_ticket = data.rest().to_vec(),
            _ => {}
        }
        Ok(())
    })?;
    done(&r, "ClientHello")?;
    Ok(ch)
}

/// An SSLv2-compatible ClientHello (RFC 5246 Appendix E.2); `body` starts at msg_type.
pub(crate) fn parse_sslv2_client_hello(body: &[u8]) -> Result<ClientHello, HandshakeError> {
    let mut r = Reader::new(body);
    r.u8("msg_type")?;
    let legacy_version = r.u16("version")?;
    let specs_len = usize::from(r.u16("cipher_spec_length")?);
    let session_len = usize::from(r.u16("session_id_length")?);
    let challenge_len = usize::from(r.u16("challenge_length")?);
    let mut specs = Reader::new(r.take(specs_len, "cipher_specs")?);
    let session_id = r.take(session_len, "session_id")?.to_vec();
    let challenge = r.take(challenge_len, "challenge")?;
    done(&r, "SSLv2 ClientHello")?;
    let mut suites = Vec::new();
    while !specs.is_empty() {
        let spec = specs.take(3, "cipher_spec")?;
        if spec[0] == 0 {
            suites.push(u16::from_be_bytes([spec[1], spec[2]]));
        }
    }
    // The challenge is right-aligned in the 32-byte random (E.2).
    let mut random = [0u8; 32];
    let n = challenge.len().min(32);
    // n <= 32 and n <= challenge.len(): both ranges are in bounds.
    random[32 - n..].copy_from_slice(&challenge[challenge.len() - n..]);
    Ok(ClientHello {
        legacy_version,
        random,
        session_id,
        suites,
        sslv2: true,
        ..ClientHello::default()
    })
}

/// The fields of a ServerHello (or HelloRetryRequest).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ServerHello {
    pub(crate) legacy_version: u16,
    pub(crate) random: [u8; 32],
    pub(crate) session_id: Vec<u8>,
    pub(crate) suite: u16,
    /// From `supported_versions` (TLS 1.3).
    pub(crate) selected_version: Option<u16>,
    pub(crate) hello_retry_request: bool,
    pub(crate) psk: bool,
    pub(crate) alpn: Option<String>,
    pub(crate) key_share_group: Option<u16>,
    pub(crate) extended_master_secret: bool,
    pub(crate) encrypt_then_mac: bool,
    /// `legacy_compression_method` (0 = none; TLS 1.3 and early drafts: always 0).
    pub(crate) compression: u8,
}

impl ServerHello {
    /// The negotiated version: `supported_versions` wins over the legacy field.
    pub(crate) fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

pub(crate) fn parse_server_hello(body: &[u8]) -> Result<ServerHello, HandshakeError> {
    let mut r = Reader::new(body);
    let mut sh = ServerHello {
        legacy_version: r.u16("legacy_version")?,
        ..ServerHello::default()
    };
    sh.random.copy_from_slice(r.take(32, "random")?);
    sh.hello_retry_request = sh.random == HRR_RANDOM;
    // TLS 1.3 drafts up to 21 put the real version first and had no session id or compression.
    let early_draft = (0x7f00..=0x7f15).contains(&sh.legacy_version);
    if early_draft {
        sh.selected_version = Some(sh.legacy_version);
    } else {
        sh.session_id = r.vec_u8("legacy_session_id")?.rest().to_vec();
    }
    sh.suite = r.u16("cipher_suite")?;
    if !early_draft {
        sh.compression = r.u8("legacy_compression_method")?;
    }
    extensions(&mut r, |typ, mut data| {
        match typ {
            ext::SUPPORTED_VERSIONS => sh.selected_version = Some(data.u16("selected_version")?),
            ext::KEY_SHARE => sh.key_share_group = Some(data.u16("group")?),
            ext::PRE_SHARED_KEY => sh.psk = true,
            ext::ALPN => sh.alpn = alpn_list(data)?.into_iter().next(),
            ext::EXTENDED_MASTER_SECRET => sh.extended_master_secret = true,
            ext::ENCRYPT_THEN_MAC => sh.encrypt_then_mac = true,
            _ => {}
        }
        Ok(())
    })?;
    done(&r, "ServerHello")?;
    Ok(sh)
}

/// TLS 1.3 EncryptedExtensions: the chosen ALPN and whether early data was accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct EncryptedExtensions {
    pub(crate) alpn: Option<String>,
    pub(crate) early_data: bool,
}

pub(crate) fn parse_encrypted_extensions(
    body: &[u8],
) -> Result<EncryptedExtensions, HandshakeError> {
    let mut r = Reader::new(body);
    let mut ee = EncryptedExtensions::default();
    let mut list = r.vec_u16("extensions")?;
    while !list.is_empty() {
        let typ = list.u16("extension_type")?;
        let data = list.vec_u16("extension_data")?;
        match typ {
            ext::ALPN => ee.alpn = alpn_list(data)?.into_iter().next(),
            ext::EARLY_DATA => ee.early_data = true,
            _ => {}
        }
    }
    done(&r, "EncryptedExtensions")?;
    Ok(ee)
}

/// NewSessionTicket: ticket lifetime, and the TLS 1.3 early-data allowance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NewSessionTicket {
    pub(crate) lifetime: u32,
    pub(crate) max_early_data: Option<u32>,
}

/// `version` is the negotiated one: TLS 1.3 drafts before 21 had no ticket nonce.
pub(crate) fn parse_new_session_ticket(
    body: &[u8],
    version: u16,
) -> Result<NewSessionTicket, HandshakeError> {
    let tls13 = version == 0x0304 || version >> 8 == 0x7f;
    let mut r = Reader::new(body);
    let mut t = NewSessionTicket {
        lifetime: r.u32("ticket_lifetime")?,
        max_early_data: None,
    };
    if tls13 {
        r.u32("ticket_age_add")?;
        if !(0x7f00..0x7f15).contains(&version) {
            r.vec_u8("ticket_nonce")?;
        }
        r.vec_u16("ticket")?;
        let mut list = r.vec_u16("extensions")?;
        while !list.is_empty() {
            let typ = list.u16("extension_type")?;
            let mut data = list.vec_u16("extension_data")?;
            if typ == ext::EARLY_DATA {
                t.max_early_data = Some(data.u32("max_early_data_size")?);
            }
        }
    } else {
        r.vec_u16("ticket")?;
    }
    done(&r, "NewSessionTicket")?;
    Ok(t)
}

/// KeyUpdate: whether the peer is asked to update too (RFC 8446 §4.6.3).
pub(crate) fn parse_key_update(body: &[u8]) -> Result<bool, HandshakeError> {
    let mut r = Reader::new(body);
    let request = r.u8("request_update")?;
    done(&r, "KeyUpdate")?;
    match request {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(HandshakeError::KeyUpdateRequest(other)),
    }
}

/// An alert record: level and description numbers.
pub(crate) fn parse_alert(body: &[u8]) -> Result<(u8, u8), HandshakeError> {
    match body {
        [level, description] => Ok((*level, *description)),
        _ => Err(HandshakeError::AlertLength { len: body.len() }),
    }
}

pub(crate) fn alert_level_name(level: u8) -> String {
    match level {
        1 => "warning".into(),
        2 => "fatal".into(),
        n => format!("level {n}"),
    }
}

/// Alert description names (IANA TLS Alerts registry).
pub(crate) fn alert_name(description: u8) -> String {
    let name = match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        n => return format!("alert {n}"),
    };
    name.into()
}

#[cfg(test)]
mod tests;
