//! Cipher suites by IANA number: their names and how xmppcap decrypts them.
//!
//! Takes a two-byte suite number; gives its IANA name and the record
//! protection and PRF hash it uses, or names the cipher xmppcap does not
//! decrypt. A pure table: no crypto happens here.

/// AEAD ciphers (TLS 1.2 and 1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Aead {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

impl Aead {
    pub(crate) const TLS13: [Aead; 3] = [Aead::Aes128Gcm, Aead::Aes256Gcm, Aead::ChaCha20Poly1305];

    pub(crate) fn key_len(self) -> usize {
        match self {
            Aead::Aes128Gcm => 16,
            Aead::Aes256Gcm | Aead::ChaCha20Poly1305 => 32,
        }
    }

    /// The TLS 1.3 suite using this AEAD.
    pub(crate) fn tls13_suite(self) -> &'static Suite {
        let id = match self {
            Aead::Aes128Gcm => 0x1301,
            Aead::Aes256Gcm => 0x1302,
            Aead::ChaCha20Poly1305 => 0x1303,
        };
        // Invariant: the three TLS 1.3 AEAD suites are in SUITES.
        lookup(id).unwrap_or(&SUITES[0])
    }
}

/// The hash behind HKDF (TLS 1.3) or the PRF (TLS 1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
}

/// HMAC used by CBC suites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MacAlg {
    Sha1,
    Sha256,
    Sha384,
}

impl MacAlg {
    pub(crate) fn len(self) -> usize {
        match self {
            MacAlg::Sha1 => 20,
            MacAlg::Sha256 => 32,
            MacAlg::Sha384 => 48,
        }
    }
}

/// Block ciphers of CBC suites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockCipher {
    Aes128,
    Aes256,
    /// 3DES-EDE with three keys (RFC 5246 Appendix C: 24-byte key, 8-byte blocks).
    TripleDes,
    Camellia128,
    Camellia256,
}

impl BlockCipher {
    pub(crate) fn key_len(self) -> usize {
        match self {
            BlockCipher::Aes128 | BlockCipher::Camellia128 => 16,
            BlockCipher::TripleDes => 24,
            BlockCipher::Aes256 | BlockCipher::Camellia256 => 32,
        }
    }

    pub(crate) fn block_len(self) -> usize {
        match self {
            BlockCipher::TripleDes => 8,
            _ => 16,
        }
    }

    /// The cipher as IANA suite names spell it.
    #[cfg(test)]
    fn iana(self) -> &'static str {
        match self {
            BlockCipher::Aes128 => "AES_128_CBC",
            BlockCipher::Aes256 => "AES_256_CBC",
            BlockCipher::TripleDes => "3DES_EDE_CBC",
            BlockCipher::Camellia128 => "CAMELLIA_128_CBC",
            BlockCipher::Camellia256 => "CAMELLIA_256_CBC",
        }
    }
}

/// Ciphers xmppcap names but does not decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Undecrypted {
    Rc4,
    Seed,
    /// 40- and 56-bit export ciphers (RC4_40, RC2_CBC_40, DES40_CBC).
    Export,
    /// Single DES.
    Des,
    /// No encryption at all (a MAC only).
    Null,
    /// AES-CCM and AES-CCM-8.
    Ccm,
    /// A signalling value listed among suites (SCSV), never negotiated.
    Signal,
}

impl Undecrypted {
    /// The cipher in words, for the summary and the finding.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Undecrypted::Rc4 => "RC4",
            Undecrypted::Seed => "SEED",
            Undecrypted::Export => "export-grade ciphers",
            Undecrypted::Des => "single DES",
            Undecrypted::Null => "NULL-cipher suites",
            Undecrypted::Ccm => "AES-CCM",
            Undecrypted::Signal => "signalling values (not a cipher)",
        }
    }
}

/// How records are protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protection {
    Aead(Aead),
    /// Camellia-GCM (RFC 6367), TLS 1.2 only; the key length in bytes.
    CamelliaGcm {
        key_len: usize,
    },
    /// A block cipher in CBC mode with HMAC.
    Cbc {
        cipher: BlockCipher,
        mac: MacAlg,
    },
    /// Named, but xmppcap does not decrypt this cipher.
    Unsupported(Undecrypted),
}

/// One cipher suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Suite {
    pub(crate) id: u16,
    pub(crate) name: &'static str,
    pub(crate) tls13: bool,
    pub(crate) protection: Protection,
    /// PRF hash for TLS 1.2, HKDF hash for TLS 1.3 (TLS 1.0/1.1 always use MD5+SHA-1).
    pub(crate) hash: Hash,
}

impl Suite {
    /// `TLS_RSA_WITH_*`: the pre-master secret travels encrypted with the server's RSA key.
    #[cfg(feature = "rsa-keys")]
    pub(crate) fn rsa_key_exchange(&self) -> bool {
        self.name.starts_with("TLS_RSA_WITH_")
    }
}

use Aead::*;
use BlockCipher as B;
use Hash::*;
use MacAlg as M;
use Protection::{Aead as A, Cbc, Unsupported as X};
use Undecrypted as U;

const fn s(id: u16, name: &'static str, protection: Protection, hash: Hash) -> Suite {
    Suite {
        id,
        name,
        tls13: id >> 8 == 0x13,
        protection,
        hash,
    }
}

const fn cbc(cipher: BlockCipher, mac: MacAlg) -> Protection {
    Cbc { cipher, mac }
}

const C128_1: Protection = cbc(B::Aes128, M::Sha1);
const C256_1: Protection = cbc(B::Aes256, M::Sha1);
const C128_256: Protection = cbc(B::Aes128, M::Sha256);
const C256_256: Protection = cbc(B::Aes256, M::Sha256);
const C256_384: Protection = cbc(B::Aes256, M::Sha384);
const TDES: Protection = cbc(B::TripleDes, M::Sha1);
const CAM128_1: Protection = cbc(B::Camellia128, M::Sha1);
const CAM256_1: Protection = cbc(B::Camellia256, M::Sha1);
const CAM128_256: Protection = cbc(B::Camellia128, M::Sha256);
const CAM256_256: Protection = cbc(B::Camellia256, M::Sha256);
const CAM256_384: Protection = cbc(B::Camellia256, M::Sha384);
const G128: Protection = A(Aes128Gcm);
const G256: Protection = A(Aes256Gcm);
const CHACHA: Protection = A(ChaCha20Poly1305);
const CCM: Protection = X(U::Ccm);
const RC4: Protection = X(U::Rc4);
const SEED: Protection = X(U::Seed);
const EXPORT: Protection = X(U::Export);
const DES: Protection = X(U::Des);
const NULL: Protection = X(U::Null);
const SCSV: Protection = X(U::Signal);
const CAMGCM128: Protection = Protection::CamelliaGcm { key_len: 16 };
const CAMGCM256: Protection = Protection::CamelliaGcm { key_len: 32 };

/// IANA TLS Cipher Suites registry, the suites seen in practice.
#[rustfmt::skip] // One suite a line: a table, not code.
static SUITES: &[Suite] = &[
    s(0x1301, "TLS_AES_128_GCM_SHA256", G128, Sha256),
    s(0x1302, "TLS_AES_256_GCM_SHA384", G256, Sha384),
    s(0x1303, "TLS_CHACHA20_POLY1305_SHA256", CHACHA, Sha256),
    s(0x1304, "TLS_AES_128_CCM_SHA256", CCM, Sha256),
    s(0x1305, "TLS_AES_128_CCM_8_SHA256", CCM, Sha256),
    s(0x0000, "TLS_NULL_WITH_NULL_NULL", NULL, Sha256),
    s(0x0001, "TLS_RSA_WITH_NULL_MD5", NULL, Sha256),
    s(0x0002, "TLS_RSA_WITH_NULL_SHA", NULL, Sha256),
    s(0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", EXPORT, Sha256),
    s(0x0004, "TLS_RSA_WITH_RC4_128_MD5", RC4, Sha256),
    s(0x0005, "TLS_RSA_WITH_RC4_128_SHA", RC4, Sha256),
    s(0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", EXPORT, Sha256),
    s(0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", EXPORT, Sha256),
    s(0x0009, "TLS_RSA_WITH_DES_CBC_SHA", DES, Sha256),
    s(0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", TDES, Sha256),
    s(0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA", TDES, Sha256),
    s(0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", EXPORT, Sha256),
    s(0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA", DES, Sha256),
    s(0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", TDES, Sha256),
    s(0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA", C128_1, Sha256),
    s(0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA", C128_1, Sha256),
    s(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", C128_1, Sha256),
    s(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", C256_1, Sha256),
    s(0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA", C256_1, Sha256),
    s(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", C256_1, Sha256),
    s(0x003b, "TLS_RSA_WITH_NULL_SHA256", NULL, Sha256),
    s(0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256", C128_256, Sha256),
    s(0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256", C256_256, Sha256),
    s(0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256", C128_256, Sha256),
    s(0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", CAM128_1, Sha256),
    s(0x0044, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA", CAM128_1, Sha256),
    s(0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA", CAM128_1, Sha256),
    s(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", C128_256, Sha256),
    s(0x006a, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256", C256_256, Sha256),
    s(0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", C256_256, Sha256),
    s(0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", CAM256_1, Sha256),
    s(0x0087, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA", CAM256_1, Sha256),
    s(0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA", CAM256_1, Sha256),
    s(0x008a, "TLS_PSK_WITH_RC4_128_SHA", RC4, Sha256),
    s(0x008b, "TLS_PSK_WITH_3DES_EDE_CBC_SHA", TDES, Sha256),
    s(0x008c, "TLS_PSK_WITH_AES_128_CBC_SHA", C128_1, Sha256),
    s(0x008d, "TLS_PSK_WITH_AES_256_CBC_SHA", C256_1, Sha256),
    s(0x0096, "TLS_RSA_WITH_SEED_CBC_SHA", SEED, Sha256),
    s(0x0099, "TLS_DHE_DSS_WITH_SEED_CBC_SHA", SEED, Sha256),
    s(0x009a, "TLS_DHE_RSA_WITH_SEED_CBC_SHA", SEED, Sha256),
    s(0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", G128, Sha256),
    s(0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", G256, Sha384),
    s(0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", G128, Sha256),
    s(0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", G256, Sha384),
    s(0x00a2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", G128, Sha256),
    s(0x00a3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384", G256, Sha384),
    s(0x00a8, "TLS_PSK_WITH_AES_128_GCM_SHA256", G128, Sha256),
    s(0x00a9, "TLS_PSK_WITH_AES_256_GCM_SHA384", G256, Sha384),
    s(0x00aa, "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256", G128, Sha256),
    s(0x00ab, "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384", G256, Sha384),
    s(0x00ac, "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256", G128, Sha256),
    s(0x00ad, "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384", G256, Sha384),
    s(0x00ae, "TLS_PSK_WITH_AES_128_CBC_SHA256", C128_256, Sha256),
    s(0x00af, "TLS_PSK_WITH_AES_256_CBC_SHA384", C256_384, Sha384),
    s(0x00ba, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256", CAM128_256, Sha256),
    s(0x00bd, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256", CAM128_256, Sha256),
    s(0x00be, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", CAM128_256, Sha256),
    s(0x00c0, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256", CAM256_256, Sha256),
    s(0x00c3, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256", CAM256_256, Sha256),
    s(0x00c4, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256", CAM256_256, Sha256),
    s(0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", SCSV, Sha256),
    s(0x5600, "TLS_FALLBACK_SCSV", SCSV, Sha256),
    s(0xc003, "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA", TDES, Sha256),
    s(0xc004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", C128_1, Sha256),
    s(0xc005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", C256_1, Sha256),
    s(0xc007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", RC4, Sha256),
    s(0xc008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", TDES, Sha256),
    s(0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", C128_1, Sha256),
    s(0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", C256_1, Sha256),
    s(0xc00d, "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA", TDES, Sha256),
    s(0xc00e, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", C128_1, Sha256),
    s(0xc00f, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", C256_1, Sha256),
    s(0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", RC4, Sha256),
    s(0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", TDES, Sha256),
    s(0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", C128_1, Sha256),
    s(0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", C256_1, Sha256),
    s(0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", C128_256, Sha256),
    s(0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", C256_384, Sha384),
    s(0xc025, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256", C128_256, Sha256),
    s(0xc026, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384", C256_384, Sha384),
    s(0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", C128_256, Sha256),
    s(0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", C256_384, Sha384),
    s(0xc029, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256", C128_256, Sha256),
    s(0xc02a, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384", C256_384, Sha384),
    s(0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", G128, Sha256),
    s(0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", G256, Sha384),
    s(0xc02d, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", G128, Sha256),
    s(0xc02e, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384", G256, Sha384),
    s(0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", G128, Sha256),
    s(0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", G256, Sha384),
    s(0xc031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", G128, Sha256),
    s(0xc032, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384", G256, Sha384),
    s(0xc034, "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA", TDES, Sha256),
    s(0xc035, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", C128_1, Sha256),
    s(0xc036, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA", C256_1, Sha256),
    s(0xc037, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256", C128_256, Sha256),
    s(0xc038, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384", C256_384, Sha384),
    s(0xc072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256", CAM128_256, Sha256),
    s(0xc073, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384", CAM256_384, Sha384),
    s(0xc076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", CAM128_256, Sha256),
    s(0xc077, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384", CAM256_384, Sha384),
    s(0xc07a, "TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256", CAMGCM128, Sha256),
    s(0xc07b, "TLS_RSA_WITH_CAMELLIA_256_GCM_SHA384", CAMGCM256, Sha384),
    s(0xc07c, "TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256", CAMGCM128, Sha256),
    s(0xc07d, "TLS_DHE_RSA_WITH_CAMELLIA_256_GCM_SHA384", CAMGCM256, Sha384),
    s(0xc086, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256", CAMGCM128, Sha256),
    s(0xc087, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384", CAMGCM256, Sha384),
    s(0xc08a, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256", CAMGCM128, Sha256),
    s(0xc08b, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384", CAMGCM256, Sha384),
    s(0xc09c, "TLS_RSA_WITH_AES_128_CCM", CCM, Sha256),
    s(0xc0a4, "TLS_PSK_WITH_AES_128_CCM", CCM, Sha256),
    s(0xc0ac, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", CCM, Sha256),
    s(0xc0ae, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", CCM, Sha256),
    s(0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", CHACHA, Sha256),
    s(0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", CHACHA, Sha256),
    s(0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", CHACHA, Sha256),
    s(0xccab, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", CHACHA, Sha256),
    s(0xccac, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", CHACHA, Sha256),
    s(0xccad, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256", CHACHA, Sha256),
    s(0xccae, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256", CHACHA, Sha256),
];

/// The suite with this number, if xmppcap knows it.
pub(crate) fn lookup(id: u16) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.id == id)
}

/// The IANA name, or `0x1234` for a number not in the table (GREASE included).
pub(crate) fn name(id: u16) -> String {
    match lookup(id) {
        Some(s) => s.name.to_string(),
        None => format!("0x{id:04x}"),
    }
}

/// Protocol version names as Wireshark prints them.
pub(crate) fn version_name(v: u16) -> String {
    match v {
        0x0002 => "SSL 2.0".into(),
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        0x7f00..=0x7fff => format!("TLS 1.3 (draft {})", v & 0xff),
        _ => format!("0x{v:04x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (i, a) in SUITES.iter().enumerate() {
            assert!(
                SUITES[i + 1..].iter().all(|b| b.id != a.id),
                "duplicate {:04x}",
                a.id
            );
            assert!(a.name.starts_with("TLS_"));
            if a.name.ends_with("SHA384") {
                assert_eq!(a.hash, Hash::Sha384, "{}", a.name);
            }
            if let Protection::Aead(aead) = a.protection {
                let bits = if aead.key_len() == 16 { "128" } else { "256" };
                assert!(
                    a.name.contains(bits) || a.name.contains("CHACHA"),
                    "{}",
                    a.name
                );
            }
            if let Protection::Cbc { cipher, mac } = a.protection {
                assert!(a.name.contains(cipher.iana()), "{}", a.name);
                let suffix = match mac {
                    MacAlg::Sha1 => "_SHA",
                    MacAlg::Sha256 => "_SHA256",
                    MacAlg::Sha384 => "_SHA384",
                };
                assert!(a.name.ends_with(suffix), "{}", a.name);
            }
            if let Protection::CamelliaGcm { key_len } = a.protection {
                let bits = if key_len == 16 { "128" } else { "256" };
                assert!(
                    a.name.contains(&format!("CAMELLIA_{bits}_GCM")),
                    "{}",
                    a.name
                );
            }
            if a.name.ends_with("_SHA256") && !a.tls13 {
                assert_eq!(a.hash, Hash::Sha256, "{}", a.name);
            }
        }
    }

    #[test]
    fn names_and_unknowns() {
        assert_eq!(name(0xc030), "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
        assert_eq!(name(0x0a0a), "0x0a0a");
        assert_eq!(Aead::Aes256Gcm.tls13_suite().id, 0x1302);
        assert_eq!(version_name(0x7f1c), "TLS 1.3 (draft 28)");
    }
}
