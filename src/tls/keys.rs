//! The key schedule: from handshake facts and the key log to record
//! decrypters.
//!
//! Takes what the session learned from the hellos (randoms, version, suite,
//! encrypt-then-MAC, extended master secret) and a [`KeyLog`]; gives a
//! [`Key`] for one direction and key phase, or the exact reason there is
//! none ("no key for client random 1a2b…", "suite not supported: 0x…"):
//! TLS ≤ 1.2 master secret → PRF key block → MAC keys, cipher keys, IVs;
//! TLS 1.3 traffic secrets → HKDF traffic keys, and their KeyUpdate
//! generations (the search for a connection joined mid-stream is
//! [`super::midstream`]). Never logs key material.

use super::camellia_gcm::CamelliaGcmDecrypter;
use super::cbc::CbcDecrypter;
use super::compression::{Inflater, Method};
use super::crypto::{self, DecryptError, PrfKind, RecordDecrypter};
use super::keylog::{short_hex, KeyLog, KeySource, Label, Missing, Secret};
use super::record::Header;
use super::suites::{self, Aead, Protection, Suite, Undecrypted};
use super::summary::{GapReason, KeyPhase};
use crate::position::Dir;

/// The handshake facts keys are derived from, and the derivations.
#[derive(Clone, Debug, Default)]
pub(crate) struct KeySchedule {
    pub(crate) client_random: Option<[u8; 32]>,
    pub(crate) server_random: Option<[u8; 32]>,
    /// Negotiated version (from `supported_versions` when present).
    pub(crate) version: Option<u16>,
    pub(crate) suite: Option<u16>,
    /// Both hellos carried encrypt_then_mac (RFC 7366).
    pub(crate) encrypt_then_mac: bool,
    /// TLS 1.3 suites the client offered (for 0-RTT before the ServerHello).
    pub(crate) offered_tls13: Vec<Aead>,
    /// Both hellos carried extended_master_secret (RFC 7627).
    pub(crate) extended_master_secret: bool,
    /// A master secret the session derived itself (RSA key exchange), used
    /// when the key log has none for this client random.
    pub(crate) master: Option<(Secret, KeySource)>,
    /// Record compression chosen by the ServerHello (TLS ≤ 1.2).
    pub(crate) compression: Method,
}

impl KeySchedule {
    pub(crate) fn tls13(&self) -> bool {
        self.version.is_some_and(|v| v == 0x0304 || v >> 8 == 0x7f)
    }

    /// TLS 1.3 drafts 20–24 left the record header out of the AEAD's additional data.
    pub(crate) fn empty_aad(&self) -> bool {
        self.version.is_some_and(|v| (0x7f14..0x7f19).contains(&v))
    }
}

/// A ready decrypter and what it is.
pub(crate) struct Key {
    pub(crate) dec: Box<dyn RecordDecrypter>,
    pub(crate) phase: KeyPhase,
    /// TLS 1.3: the traffic secret and AEAD, to follow KeyUpdates.
    pub(crate) secret: Option<(Secret, Aead)>,
    /// TLS 1.3 draft 20–24 record protection.
    pub(crate) empty_aad: bool,
    pub(crate) source: KeySource,
    /// KeyUpdates applied to the application secret.
    pub(crate) generation: u32,
    /// TLS ≤ 1.2 with DEFLATE: this connection state's decompression stream.
    pub(crate) inflate: Option<Box<Inflater>>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Key({:?}, generation {}, from {})",
            self.phase, self.generation, self.source
        )
    }
}

/// Why there is no decrypter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeyError {
    NoClientRandom,
    NoKey {
        label: Label,
        random: [u8; 32],
    },
    /// The key log file named had a line for it when it was indexed, and
    /// that line no longer reads back: the file changed during the run.
    KeyLogChanged {
        label: Label,
        random: [u8; 32],
        file: String,
    },
    /// A suite xmppcap does not know, or cannot use in this version.
    UnsupportedSuite(u16),
    /// A known suite whose cipher xmppcap does not decrypt.
    UndecryptedCipher {
        suite: u16,
        cipher: Undecrypted,
    },
    UnsupportedVersion(u16),
    /// Records compressed with a method xmppcap does not know.
    UnsupportedCompression(u8),
    /// The ServerHello (version, suite, server random) was not captured.
    NoServerHello,
    /// The key log has secrets for this phase, but none opens the records.
    WrongKey(KeyPhase),
}

impl KeyError {
    /// The sentence the summary shows.
    pub(crate) fn reason(&self) -> String {
        match self {
            KeyError::NoClientRandom => "ClientHello not captured".into(),
            KeyError::NoKey { label, random } => match label {
                Label::MasterSecret => format!("no key for client random {}", short_hex(random)),
                Label::ClientEarlyTraffic => format!(
                    "no CLIENT_EARLY_TRAFFIC_SECRET for client random {}: early data not decrypted",
                    short_hex(random)
                ),
                other => format!(
                    "no key for client random {} ({})",
                    short_hex(random),
                    other.as_str()
                ),
            },
            KeyError::KeyLogChanged {
                label,
                random,
                file,
            } => format!(
                "the {} line for client random {} in {file} no longer reads back as it did when the file was read: the key log changed during the run",
                label.as_str(),
                short_hex(random)
            ),
            KeyError::UnsupportedSuite(id) => {
                format!("suite not supported: 0x{id:04x} ({})", suites::name(*id))
            }
            KeyError::UndecryptedCipher { suite, cipher } => format!(
                "xmppcap does not decrypt {}: suite 0x{suite:04x} ({})",
                cipher.name(),
                suites::name(*suite)
            ),
            KeyError::UnsupportedVersion(v) => {
                format!("version not supported: {}", suites::version_name(*v))
            }
            KeyError::UnsupportedCompression(m) => format!(
                "records compressed with {}: not decompressed, so not decrypted",
                Method::from_u8(*m).name().unwrap_or_default()
            ),
            KeyError::NoServerHello => "ServerHello not captured".into(),
            KeyError::WrongKey(phase) => {
                format!("the key log's {phase:?} secret does not open the records")
            }
        }
    }

    pub(crate) fn gap_reason(&self) -> GapReason {
        match self {
            KeyError::NoClientRandom | KeyError::NoServerHello => GapReason::ClientHelloNotCaptured,
            KeyError::NoKey {
                label: Label::ClientEarlyTraffic,
                ..
            } => GapReason::NoEarlyKey,
            KeyError::NoKey { .. } | KeyError::KeyLogChanged { .. } => GapReason::NoKey,
            KeyError::UnsupportedSuite(_)
            | KeyError::UndecryptedCipher { .. }
            | KeyError::UnsupportedVersion(_) => GapReason::UnsupportedSuite,
            KeyError::WrongKey(_) => GapReason::AuthenticationFailed,
            KeyError::UnsupportedCompression(_) => GapReason::UnsupportedCompression,
        }
    }

    /// Why a suite cannot be decrypted, or `None` when it can (in some version).
    pub(crate) fn for_suite(id: u16) -> Option<KeyError> {
        match suites::lookup(id).map(|s| s.protection) {
            None => Some(KeyError::UnsupportedSuite(id)),
            Some(Protection::Unsupported(cipher)) => {
                Some(KeyError::UndecryptedCipher { suite: id, cipher })
            }
            Some(_) => None,
        }
    }
}

fn tls13_label(dir: Dir, phase: KeyPhase) -> Label {
    match (dir, phase) {
        (Dir::ClientToServer, KeyPhase::Early) => Label::ClientEarlyTraffic,
        (Dir::ClientToServer, KeyPhase::Handshake) => Label::ClientHandshakeTraffic,
        (Dir::ServerToClient, KeyPhase::Handshake) => Label::ServerHandshakeTraffic,
        (Dir::ClientToServer, _) => Label::ClientTraffic0,
        (Dir::ServerToClient, _) => Label::ServerTraffic0,
    }
}

fn lookup<'k>(
    keys: &'k KeyLog,
    random: &[u8; 32],
    label: Label,
) -> Result<(Secret, &'k KeySource), KeyError> {
    keys.lookup(random, label).map_err(|missing| match missing {
        Missing::Absent => KeyError::NoKey {
            label,
            random: *random,
        },
        Missing::Changed(source) => KeyError::KeyLogChanged {
            label,
            random: *random,
            file: source.to_string(),
        },
    })
}

/// TLS 1.3 decrypter from a traffic secret; `None` if the secret length does not fit the AEAD's hash.
pub(crate) fn tls13_key(
    aead: Aead,
    secret: Secret,
    phase: KeyPhase,
    source: KeySource,
    generation: u32,
    empty_aad: bool,
) -> Option<Key> {
    if crypto::hash_for_secret(secret.bytes()) != Some(aead.tls13_suite().hash) {
        return None;
    }
    let dec = crypto::tls13_decrypter(aead, secret.bytes(), empty_aad)?;
    Some(Key {
        dec: Box::new(dec),
        phase,
        secret: Some((secret, aead)),
        empty_aad,
        source,
        generation,
        inflate: None,
    })
}

impl Key {
    /// The key after a KeyUpdate of this direction (RFC 8446 §7.2).
    pub(crate) fn next_generation(&self) -> Option<Key> {
        let (secret, aead) = self.secret.as_ref()?;
        tls13_key(
            *aead,
            crypto::tls13_next_secret(secret),
            KeyPhase::Application,
            self.source.clone(),
            self.generation.saturating_add(1),
            self.empty_aad,
        )
    }

    /// Tries this key on a copy of `body` at each sequence number in `seqs`;
    /// returns the first that authenticates. `scratch` is reused between calls.
    pub(crate) fn try_seqs(
        &mut self,
        header: &Header,
        body: &[u8],
        seqs: std::ops::Range<u64>,
        scratch: &mut Vec<u8>,
    ) -> Option<u64> {
        for seq in seqs {
            match self.try_seq(header, body, seq, scratch) {
                SeqTrial::Opened => return Some(seq),
                SeqTrial::NotAuthentic => continue,
                SeqTrial::NeverOpens => return None,
            }
        }
        None
    }

    /// Tries this key on a copy of `body` at one sequence number.
    pub(crate) fn try_seq(
        &mut self,
        header: &Header,
        body: &[u8],
        seq: u64,
        scratch: &mut Vec<u8>,
    ) -> SeqTrial {
        scratch.clear();
        scratch.extend_from_slice(body);
        match self
            .dec
            .decrypt(header.typ.to_u8(), header.version, scratch, seq)
        {
            Ok(_) => SeqTrial::Opened,
            Err(DecryptError::Auth) => SeqTrial::NotAuthentic,
            // Length or padding faults do not depend on the sequence number (CBC aside, which is never searched).
            Err(_) => SeqTrial::NeverOpens,
        }
    }
}

/// What one trial decryption gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SeqTrial {
    Opened,
    /// Not at this sequence number; perhaps at another.
    NotAuthentic,
    /// At no sequence number (the record's length does not fit the cipher).
    NeverOpens,
}

fn negotiated_suite(params: &KeySchedule) -> Result<&'static Suite, KeyError> {
    let id = params.suite.ok_or(KeyError::NoServerHello)?;
    suites::lookup(id).ok_or(KeyError::UnsupportedSuite(id))
}

impl KeySchedule {
    /// Candidate keys for one direction and phase: one, except for 0-RTT
    /// before the ServerHello, where each offered TLS 1.3 AEAD of the secret's hash is a candidate.
    pub(crate) fn build(
        &self,
        keys: &KeyLog,
        dir: Dir,
        phase: KeyPhase,
    ) -> Result<Vec<Key>, KeyError> {
        build(self, keys, dir, phase)
    }
}

fn build(
    params: &KeySchedule,
    keys: &KeyLog,
    dir: Dir,
    phase: KeyPhase,
) -> Result<Vec<Key>, KeyError> {
    let random = params.client_random.ok_or(KeyError::NoClientRandom)?;
    if phase == KeyPhase::Tls12 {
        return build_tls12(params, keys, &random, dir).map(|k| vec![k]);
    }
    let (secret, source) = lookup(keys, &random, tls13_label(dir, phase))?;
    let aeads: Vec<Aead> = match params.suite {
        Some(_) => match negotiated_suite(params)?.protection {
            Protection::Aead(a) => vec![a],
            _ => return Err(KeyError::UnsupportedSuite(params.suite.unwrap_or_default())),
        },
        None if phase == KeyPhase::Early => params.offered_tls13.clone(),
        None => return Err(KeyError::NoServerHello),
    };
    let out: Vec<Key> = aeads
        .into_iter()
        .filter_map(|a| {
            tls13_key(
                a,
                secret.clone(),
                phase,
                source.clone(),
                0,
                params.empty_aad(),
            )
        })
        .collect();
    if out.is_empty() {
        // A secret whose length does not match the suite's hash: a broken key log line.
        return Err(KeyError::NoKey {
            label: tls13_label(dir, phase),
            random,
        });
    }
    Ok(out)
}

/// The PRF a TLS ≤ 1.2 version and suite use.
pub(crate) fn prf_kind(version: u16, suite: &Suite) -> Result<PrfKind, KeyError> {
    match version {
        0x0301 | 0x0302 => Ok(PrfKind::Md5Sha1),
        0x0303 => Ok(PrfKind::Tls12(suite.hash)),
        other => Err(KeyError::UnsupportedVersion(other)),
    }
}

fn build_tls12(
    params: &KeySchedule,
    keys: &KeyLog,
    random: &[u8; 32],
    dir: Dir,
) -> Result<Key, KeyError> {
    let suite = negotiated_suite(params)?;
    if let Some(e) = KeyError::for_suite(suite.id) {
        return Err(e);
    }
    let version = params.version.ok_or(KeyError::NoServerHello)?;
    let server_random = params.server_random.ok_or(KeyError::NoServerHello)?;
    let prf = prf_kind(version, suite)?;
    let inflate = match params.compression {
        Method::Null => None,
        Method::Deflate => Some(Box::new(Inflater::new())),
        Method::Unknown(m) => return Err(KeyError::UnsupportedCompression(m)),
    };
    let (master, source) = match (lookup(keys, random, Label::MasterSecret), &params.master) {
        (Ok(found), _) => found,
        (Err(_), Some((secret, source))) => (secret.clone(), source),
        (Err(e), None) => return Err(e),
    };
    let client = dir == Dir::ClientToServer;
    let dec: Box<dyn RecordDecrypter> = match suite.protection {
        Protection::Aead(aead) if version == 0x0303 => {
            let shape = (0, aead.key_len(), crypto::tls12_aead_iv_len(aead));
            let kb = crypto::key_block(prf, master.bytes(), random, &server_random, shape);
            let (key, iv) = if client {
                (&kb.client_key, &kb.client_iv)
            } else {
                (&kb.server_key, &kb.server_iv)
            };
            Box::new(
                crypto::tls12_aead_decrypter(aead, key, iv)
                    .ok_or(KeyError::UnsupportedSuite(suite.id))?,
            )
        }
        Protection::CamelliaGcm { key_len } if version == 0x0303 => {
            let shape = (0, key_len, 4);
            let kb = crypto::key_block(prf, master.bytes(), random, &server_random, shape);
            let (key, salt) = if client {
                (&kb.client_key, &kb.client_iv)
            } else {
                (&kb.server_key, &kb.server_iv)
            };
            Box::new(
                CamelliaGcmDecrypter::new(key, salt).ok_or(KeyError::UnsupportedSuite(suite.id))?,
            )
        }
        Protection::Cbc { cipher, mac } => {
            let shape = (mac.len(), cipher.key_len(), cipher.block_len());
            let kb = crypto::key_block(prf, master.bytes(), random, &server_random, shape);
            let material = if client {
                (&kb.client_key[..], &kb.client_mac[..], &kb.client_iv[..])
            } else {
                (&kb.server_key[..], &kb.server_mac[..], &kb.server_iv[..])
            };
            let explicit_iv = version >= 0x0302;
            let etm = params.encrypt_then_mac;
            Box::new(
                CbcDecrypter::new(cipher, material, mac, etm, explicit_iv)
                    .ok_or(KeyError::UnsupportedSuite(suite.id))?,
            )
        }
        // AEADs exist from TLS 1.2 on.
        Protection::Aead(_) | Protection::CamelliaGcm { .. } | Protection::Unsupported(_) => {
            return Err(KeyError::UnsupportedSuite(suite.id))
        }
    };
    Ok(Key {
        dec,
        phase: KeyPhase::Tls12,
        secret: None,
        empty_aad: false,
        source: source.clone(),
        generation: 0,
        inflate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(lines: &str) -> KeyLog {
        let mut k = KeyLog::new();
        k.add_text(
            lines.as_bytes(),
            KeySource::Named("t.keys".into()),
            &mut Vec::new(),
        );
        k
    }

    #[test]
    fn reasons_read_like_the_report() {
        let e = KeyError::NoKey {
            label: Label::MasterSecret,
            random: [0x1a; 32],
        };
        assert_eq!(e.reason(), "no key for client random 1a1a1a1a1a1a1a1a…");
        assert_eq!(e.gap_reason(), GapReason::NoKey);
        assert_eq!(
            KeyError::UnsupportedSuite(0x1304).reason(),
            "suite not supported: 0x1304 (TLS_AES_128_CCM_SHA256)"
        );
        assert_eq!(
            KeyError::NoClientRandom.reason(),
            "ClientHello not captured"
        );
        let rc4 = KeyError::for_suite(0xc011).unwrap();
        assert_eq!(
            rc4.reason(),
            "xmppcap does not decrypt RC4: suite 0xc011 (TLS_ECDHE_RSA_WITH_RC4_128_SHA)"
        );
        assert_eq!(rc4.gap_reason(), GapReason::UnsupportedSuite);
        assert_eq!(KeyError::for_suite(0x000a), None);
    }

    #[test]
    fn a_key_log_rewritten_during_the_run_is_named_as_the_reason() {
        let path = std::env::temp_dir().join(format!(
            "xmppcap-keys-rewritten-{}.keys",
            std::process::id()
        ));
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let line = format!("CLIENT_RANDOM {} {}\n", hex(&[0x3c; 32]), hex(&[7; 48]));
        std::fs::write(&path, line).unwrap();
        let mut keys = KeyLog::new();
        keys.load_file(&path, &mut Vec::new()).unwrap();
        assert!(lookup(&keys, &[0x3c; 32], Label::MasterSecret).is_ok());
        std::fs::write(&path, b"# emptied by a log rotation\n").unwrap();
        let e = lookup(&keys, &[0x3c; 32], Label::MasterSecret).unwrap_err();
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            e.reason(),
            format!(
                "the CLIENT_RANDOM line for client random 3c3c3c3c3c3c3c3c\u{2026} in {} no longer reads back as it did when the file was read: the key log changed during the run",
                path.display()
            )
        );
        assert_eq!(e.gap_reason(), GapReason::NoKey);
        // Not [0x3d; 32]: every random of one repeated byte folds to 0,
        // the fold of the changed line's, so it would be named changed too.
        let mut other = [0x3d; 32];
        other[0] = 1;
        let never = lookup(&keys, &other, Label::MasterSecret).unwrap_err();
        assert!(matches!(never, KeyError::NoKey { .. }));
    }

    #[test]
    fn missing_pieces_are_named() {
        let keys = log("");
        let mut p = KeySchedule::default();
        assert_eq!(
            build(&p, &keys, Dir::ClientToServer, KeyPhase::Tls12).unwrap_err(),
            KeyError::NoClientRandom
        );
        p.client_random = Some([1; 32]);
        assert_eq!(
            build(&p, &keys, Dir::ClientToServer, KeyPhase::Tls12).unwrap_err(),
            KeyError::NoServerHello
        );
        p.suite = Some(0x0005);
        p.version = Some(0x0303);
        p.server_random = Some([2; 32]);
        assert_eq!(
            build(&p, &keys, Dir::ClientToServer, KeyPhase::Tls12).unwrap_err(),
            KeyError::UndecryptedCipher {
                suite: 0x0005,
                cipher: Undecrypted::Rc4
            }
        );
        p.suite = Some(0x0a0a);
        assert_eq!(
            build(&p, &keys, Dir::ClientToServer, KeyPhase::Tls12).unwrap_err(),
            KeyError::UnsupportedSuite(0x0a0a)
        );
        p.suite = Some(0xc02f);
        assert_eq!(
            build(&p, &keys, Dir::ClientToServer, KeyPhase::Tls12).unwrap_err(),
            KeyError::NoKey {
                label: Label::MasterSecret,
                random: [1; 32]
            }
        );
        let keys = log(&format!(
            "CLIENT_RANDOM {} {}\n",
            "01".repeat(32),
            "aa".repeat(48)
        ));
        assert_eq!(
            build(&p, &keys, Dir::ServerToClient, KeyPhase::Tls12)
                .unwrap()
                .len(),
            1
        );
        p.version = Some(0x0300);
        assert_eq!(
            build(&p, &keys, Dir::ServerToClient, KeyPhase::Tls12).unwrap_err(),
            KeyError::UnsupportedVersion(0x0300)
        );
    }

    #[test]
    fn early_keys_before_the_server_hello_are_candidates_per_offered_aead() {
        let keys = log(&format!(
            "CLIENT_EARLY_TRAFFIC_SECRET {} {}\n",
            "01".repeat(32),
            "aa".repeat(32)
        ));
        let p = KeySchedule {
            client_random: Some([1; 32]),
            offered_tls13: vec![Aead::Aes128Gcm, Aead::Aes256Gcm, Aead::ChaCha20Poly1305],
            ..KeySchedule::default()
        };
        // A 32-byte secret fits the SHA-256 suites only.
        assert_eq!(
            build(&p, &keys, Dir::ClientToServer, KeyPhase::Early)
                .unwrap()
                .len(),
            2
        );
    }
}
