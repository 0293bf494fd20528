//! `TLS_RSA_*` decryption with the server's private key (cargo feature
//! `rsa-keys`): the pre-master secret from the ClientKeyExchange, then the
//! master secret, with or without the extended master secret (RFC 7627).
//!
//! Takes PEM private keys (PKCS#1 or PKCS#8) and the handshake; gives a
//! master secret for the session's key block. Uses the RustCrypto `rsa`
//! crate; never prints key material.

use std::path::Path;

use md5::Md5;
use pkcs1::DecodeRsaPrivateKey;
use pkcs8::DecodePrivateKey;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384};

use super::crypto::{prf, PrfKind};
use super::keylog::{KeyLog, KeyLogError, KeySource, Secret};
use super::record::Reader;
use super::suites::Hash;

/// A server private key and the file it came from.
#[derive(Clone)]
pub(crate) struct RsaKey {
    key: rsa::PrivateKey,
    pub(crate) source: KeySource,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaKey(from {}, redacted)", self.source)
    }
}

impl KeyLog {
    /// Reads a server RSA private key (PEM, PKCS#1 or PKCS#8) for `TLS_RSA_*` suites.
    pub fn load_rsa_key(&mut self, path: &Path) -> Result<(), KeyLogError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyLogError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        // Key files often carry the certificate or notes around the key block.
        let text = private_key_block(&text).unwrap_or(&text);
        let key = rsa::PrivateKey::from_pkcs8_pem(text)
            .map_err(|e| e.to_string())
            .or_else(|e8| {
                rsa::PrivateKey::from_pkcs1_pem(text)
                    .map_err(|e1| format!("PKCS#8: {e8}; PKCS#1: {e1}"))
            })
            .map_err(|reason| KeyLogError::RsaKey {
                path: path.to_path_buf(),
                reason,
            })?;
        self.add_rsa_key(RsaKey {
            key,
            source: KeySource::File(path.to_path_buf()),
        });
        Ok(())
    }
}

/// The first `-----BEGIN (RSA )PRIVATE KEY-----` … `-----END …-----` block.
fn private_key_block(text: &str) -> Option<&str> {
    let start = [
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----",
    ]
    .iter()
    .filter_map(|b| text.find(b))
    .min()?;
    let rest = text.get(start..)?;
    let end_label = rest.find("-----END ")?;
    let end = end_label + rest.get(end_label + 9..)?.find("-----")? + 9 + 5;
    rest.get(..end)
}

/// Running hashes of the handshake messages for the extended master secret's
/// session hash (every hash that could be needed, since the suite comes later).
#[derive(Clone, Debug, Default)]
pub(crate) struct Transcript {
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
    sha384: Sha384,
}

impl Transcript {
    /// Adds one handshake message (header included).
    pub(crate) fn add(&mut self, typ: u8, body: &[u8]) {
        let len = u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes();
        for part in [&[typ][..], &len[1..], body] {
            self.md5.update(part);
            self.sha1.update(part);
            self.sha256.update(part);
            self.sha384.update(part);
        }
    }

    /// session_hash (RFC 7627 §3): the PRF hash for TLS 1.2, MD5 || SHA-1 before.
    fn session_hash(&self, prf_kind: PrfKind) -> Vec<u8> {
        match prf_kind {
            PrfKind::Tls12(Hash::Sha256) => self.sha256.clone().finalize().to_vec(),
            PrfKind::Tls12(Hash::Sha384) => self.sha384.clone().finalize().to_vec(),
            PrfKind::Md5Sha1 => {
                let mut out = self.md5.clone().finalize().to_vec();
                out.extend_from_slice(&self.sha1.clone().finalize());
                out
            }
        }
    }
}

/// Per-connection RSA state: the handshake hash, and master secrets kept for
/// abbreviated handshakes (session id or ticket resumption, RFC 5246 §7.3,
/// RFC 5077) later on the same connection, e.g. at a renegotiation.
#[derive(Clone, Debug, Default)]
pub(crate) struct RsaState {
    pub(crate) transcript: Transcript,
    client_session_id: Vec<u8>,
    client_ticket: Vec<u8>,
    server_session_id: Vec<u8>,
    cache: Vec<(Vec<u8>, Secret, KeySource)>,
}

const CACHE: usize = 16;

impl RsaState {
    /// A new ClientHello: new transcript; remembers what it offers to resume.
    pub(crate) fn client_hello(&mut self, session_id: &[u8], ticket: &[u8]) {
        self.transcript = Transcript::default();
        self.client_session_id = session_id.to_vec();
        self.client_ticket = ticket.to_vec();
    }

    /// The ServerHello: if it resumes, the cached master secret.
    pub(crate) fn server_hello(&mut self, session_id: &[u8]) -> Option<(Secret, KeySource)> {
        self.server_session_id = session_id.to_vec();
        if session_id.is_empty() || session_id != self.client_session_id {
            return None;
        }
        [&self.client_ticket, &self.client_session_id]
            .iter()
            .filter(|k| !k.is_empty())
            .find_map(|k| self.cache.iter().find(|(id, _, _)| id == *k))
            .map(|(_, s, src)| (s.clone(), src.clone()))
    }

    /// Keeps a derived master secret under the session id (and later a ticket).
    pub(crate) fn remember(&mut self, id: Vec<u8>, master: &(Secret, KeySource)) {
        if id.is_empty() {
            return;
        }
        if self.cache.len() >= CACHE {
            self.cache.remove(0);
        }
        self.cache.push((id, master.0.clone(), master.1.clone()));
    }

    pub(crate) fn server_session_id(&self) -> Vec<u8> {
        self.server_session_id.clone()
    }
}

/// Opens the ClientKeyExchange's encrypted pre-master secret with each loaded
/// key in turn and derives the master secret (RFC 5246 §8.1, RFC 7627 §4).
pub(crate) fn master_secret(
    keys: &KeyLog,
    client_key_exchange: &[u8],
    prf_kind: PrfKind,
    randoms: (&[u8; 32], &[u8; 32]),
    extended: Option<&Transcript>,
) -> Option<(Secret, KeySource)> {
    let mut r = Reader::new(client_key_exchange);
    let encrypted = r.vec_u16("encrypted_pre_master_secret").ok()?.rest();
    for key in keys.rsa_keys() {
        let Ok(pre_master) = key.key.decrypt(rsa::Pkcs1v15Encrypt, encrypted) else {
            continue;
        };
        if pre_master.len() != 48 {
            continue;
        }
        let mut master = [0u8; 48];
        match extended {
            Some(t) => prf(
                prf_kind,
                &pre_master,
                b"extended master secret",
                &t.session_hash(prf_kind),
                &mut master,
            ),
            None => {
                let mut seed = [0u8; 64];
                seed[..32].copy_from_slice(randoms.0);
                seed[32..].copy_from_slice(randoms.1);
                prf(prf_kind, &pre_master, b"master secret", &seed, &mut master);
            }
        }
        return Some((Secret::new(&master), key.source.clone()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_block_is_cut_out_of_surrounding_text() {
        let text =
            "note\n-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\ncert...";
        assert_eq!(
            private_key_block(text),
            Some("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----")
        );
        assert_eq!(private_key_block("nothing"), None);
    }

    #[test]
    fn bad_key_file_is_a_typed_error() {
        let dir = std::env::temp_dir().join(format!("xmppcap-rsa-{}", std::process::id()));
        std::fs::write(&dir, "not a key").unwrap();
        let err = KeyLog::new().load_rsa_key(&dir).unwrap_err();
        assert!(matches!(err, KeyLogError::RsaKey { .. }), "{err}");
        std::fs::remove_file(&dir).unwrap();
    }

    /// A throwaway 1024-bit key, PKCS#1 v1.5 ciphertext and both master
    /// secrets, all made independently with Python's `cryptography` and `hmac`
    /// modules from RFC 5246 §8.1 and RFC 7627 §4 (pre-master 03 03 00 01 … 2d,
    /// client random 32 x 0x11, server random 32 x 0x22, TLS 1.2 SHA-256 PRF).
    const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAK5bjm0x5fvNplTV
zTWHMo60bcXfGgcvVx13PcZvP6rvogZC8Au9r65rKgzqhRt9qVEkfxKUpEfV14Ca
uHHIs4khy3W+6TH7ZiPpgbMLEuGxxRj63d3P2CwMvOFU2XZKsUN8R7t0c53omFF3
xsI2u4T6aFpXy0fT8cQ7QXLCp1hPAgMBAAECgYB5HTguOb8bzpp/y5QkXqmL32Fx
Vaxq2UOWQEI1GQoM3zCZUN4WCcmDSwWGu1GC6yM2Ljfm3EHRdIWh29fLkjLDJaQo
R79mQGnTumBG8SpETJjaY34J1HVvsIBIunIuiZ1wWhB0XrsfQE81SfixG6L3me0x
ZU3toxVSt6sP8QvwoQJBANT3pNwyMuaRmfs9LXZZzOjt1R1QiYusDaf99As3T7nw
uy/6VS9Kj3UrOV6TrGfp8WGN9jAjyZ+rxxXqXjeRYEUCQQDRlrZjfh8LvgtbobSb
ZZOcKXwqQMDfvg56yiqzzzjr37hTIshqGQejdW4nBaF4D3A1ptbyxopHD7ld8lVe
jJGDAkEAnv7D9iEEH19Utl1WM6WXdc8Z7GjUR5KMH39ZU4ZX31n6ZjdeoY/oynEa
w6E8ddgSfeKeihIt1SdJ2vK+pH3EgQJAcbfrmEorQCzKbtpra1GO6NFdjHN78ypl
ItyklNFf2iOWGI2r3l1cVqV1sfiNJt6BjKrMwAdXqbzvX/kHtvhgTwJAO8vi+3ZF
yJwUVvsFq0TaJojQCta1MTISchjPntgUY0QhscZ98EfSZwdOdfdk1erxMxQBPXQA
UpdBIX37dhdamw==
-----END PRIVATE KEY-----";
    const CIPHERTEXT: &str = "885ccbe71411f0dbcbcf10a8f5394eb69c8e76b1b443570ffe20e2fb7873b344701c13f24407679aa695f1d1614b91d7aaa40acdc41a9a6b1717228159bad5ecf37b432d15f4bb0381004ef6640b5a9d55a8d7c2c1c17c8c88c6c7834dcb467098515e4713994cfda06319fd25a7a8d282101daf68375ef5821f845582ead2df";
    const EMS: &str = "245978653e4ac7b41e03752adca1e20274bd285d2a9e65a2eba563db73286487d8e0159dd32e612f03d2b049f40ecb7c";
    const MS: &str = "674f57692819f5b43c0363f3ae9bd93986acf50e580500c440778a68d1ec6024dc0b2b7db9615acae681ad71cc30ab1c";

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn master_and_extended_master_secret_from_the_server_key() {
        let path = std::env::temp_dir().join(format!("xmppcap-rsa-key-{}", std::process::id()));
        std::fs::write(&path, TEST_KEY).unwrap();
        let mut keys = KeyLog::new();
        keys.load_rsa_key(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let ct = unhex(CIPHERTEXT);
        let mut cke = (ct.len() as u16).to_be_bytes().to_vec();
        cke.extend(&ct);
        let prf = PrfKind::Tls12(Hash::Sha256);
        let randoms = (&[0x11; 32], &[0x22; 32]);
        let (ms, src) = master_secret(&keys, &cke, prf, randoms, None).unwrap();
        assert_eq!(ms.bytes(), &unhex(MS)[..]);
        assert!(src.to_string().contains("xmppcap-rsa-key"));
        let mut t = Transcript::default();
        t.add(1, &[1; 40]);
        t.add(2, &[2; 40]);
        t.add(11, &[11; 10]);
        t.add(14, &[]);
        t.add(16, &cke);
        let (ems, _) = master_secret(&keys, &cke, prf, randoms, Some(&t)).unwrap();
        assert_eq!(ems.bytes(), &unhex(EMS)[..]);
        // Garbage ciphertext: no secret, no panic.
        assert!(master_secret(&keys, &[0, 3, 1, 2, 3], prf, randoms, None).is_none());
    }
}
