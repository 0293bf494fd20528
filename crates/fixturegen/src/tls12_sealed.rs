//! TLS 1.2 record protection for what rustls cannot produce: the suites it
//! does not implement (DHE-DSS, static ECDH, AES-CBC with SHA-256/384,
//! 3DES, Camellia) and DEFLATE record compression (RFC 3749). The same
//! construction as the analyzer's known-answer sessions in
//! `src/tls/tls12_tests.rs`, written again on this side of the fence: the
//! RFC 5246 §5 PRF and §6.3 key block with `ring`'s HMAC, §6.2.2
//! compression with flate2's zlib stream (sync flush per record), §6.2.3.2
//! CBC with an explicit IV and MAC-then-encrypt (RustCrypto block ciphers
//! in `cbc` mode), §6.2.3.3 and RFC 5288 AES-GCM with `ring`.
//!
//! Takes a suite, a master secret and the two randoms; gives sealed
//! records, one direction at a time. Never decrypts: the analyzer does.

use aes::cipher::array::Array;
use aes::cipher::{BlockCipherEncrypt, BlockModeEncrypt, KeyInit, KeyIvInit};
use flate2::{Compress, Compression, FlushCompress};
use ring::{aead, digest, hmac};

use crate::Dir;

/// The hash of the PRF (and of the Finished transcript).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrfHash {
    /// SHA-256, every TLS 1.2 suite unless it says SHA384.
    Sha256,
    /// SHA-384.
    Sha384,
}

/// A block cipher used in CBC mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockCipher {
    /// AES-128.
    Aes128,
    /// AES-256.
    Aes256,
    /// Triple DES (EDE, three keys).
    TripleDes,
    /// Camellia-128.
    Camellia128,
    /// Camellia-256.
    Camellia256,
}

impl BlockCipher {
    fn key_len(self) -> usize {
        match self {
            BlockCipher::Aes128 | BlockCipher::Camellia128 => 16,
            BlockCipher::TripleDes => 24,
            BlockCipher::Aes256 | BlockCipher::Camellia256 => 32,
        }
    }

    fn block_len(self) -> usize {
        match self {
            BlockCipher::TripleDes => 8,
            _ => 16,
        }
    }
}

/// The record MAC of a CBC suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacHash {
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA384.
    Sha384,
}

impl MacHash {
    fn algorithm(self) -> hmac::Algorithm {
        match self {
            MacHash::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            MacHash::Sha256 => hmac::HMAC_SHA256,
            MacHash::Sha384 => hmac::HMAC_SHA384,
        }
    }

    fn len(self) -> usize {
        match self {
            MacHash::Sha1 => 20,
            MacHash::Sha256 => 32,
            MacHash::Sha384 => 48,
        }
    }
}

/// How records are protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protection {
    /// MAC-then-encrypt in CBC mode.
    Cbc(BlockCipher, MacHash),
    /// AES-GCM with a 4-byte implicit salt and an 8-byte explicit nonce.
    AesGcm {
        /// AES-256 rather than AES-128.
        aes256: bool,
    },
}

/// One TLS 1.2 cipher suite as the IANA registry names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suite {
    /// The suite's code point.
    pub id: u16,
    /// Its IANA name.
    pub name: &'static str,
    /// The PRF hash.
    pub prf: PrfHash,
    /// Record protection.
    pub protection: Protection,
    /// Elliptic-curve key exchange (a point in ClientKeyExchange) or finite-field DH.
    pub ecdh: bool,
}

/// RFC 5246 §5: `P_hash(secret, label + seed)` cut to `len` bytes.
pub fn prf(hash: PrfHash, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let alg = match hash {
        PrfHash::Sha256 => hmac::HMAC_SHA256,
        PrfHash::Sha384 => hmac::HMAC_SHA384,
    };
    let key = hmac::Key::new(alg, secret);
    let mut label_seed = label.to_vec();
    label_seed.extend_from_slice(seed);
    let mut a = hmac::sign(&key, &label_seed).as_ref().to_vec();
    let mut out = Vec::with_capacity(len + 48);
    while out.len() < len {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(&a);
        ctx.update(&label_seed);
        out.extend_from_slice(ctx.sign().as_ref());
        a = hmac::sign(&key, &a).as_ref().to_vec();
    }
    out.truncate(len);
    out
}

/// The transcript hash a Finished message's verify_data covers.
pub fn transcript_hash(hash: PrfHash, messages: &[u8]) -> Vec<u8> {
    let alg = match hash {
        PrfHash::Sha256 => &digest::SHA256,
        PrfHash::Sha384 => &digest::SHA384,
    };
    digest::digest(alg, messages).as_ref().to_vec()
}

/// One TLS record: type, version 1.2, length, body.
pub fn record(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![typ, 3, 3];
    r.extend_from_slice(&u16::try_from(body.len()).unwrap_or(u16::MAX).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// One direction's write state after its ChangeCipherSpec.
pub struct Writer {
    protection: Protection,
    mac_key: Vec<u8>,
    key: Vec<u8>,
    iv: Vec<u8>,
    seq: u64,
    deflate: Option<Compress>,
    /// Explicit CBC IVs come from this (deterministic) counter.
    iv_counter: u8,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("seq", &self.seq).finish()
    }
}

impl Writer {
    /// The writer of `dir` from the RFC 5246 §6.3 key block.
    pub fn new(
        suite: &Suite,
        dir: Dir,
        master: &[u8],
        client_random: &[u8],
        server_random: &[u8],
        deflate: bool,
    ) -> Writer {
        let (mac_len, key_len, iv_len) = match suite.protection {
            Protection::Cbc(c, m) => (m.len(), c.key_len(), c.block_len()),
            Protection::AesGcm { aes256 } => (0, if aes256 { 32 } else { 16 }, 4),
        };
        let mut seed = server_random.to_vec();
        seed.extend_from_slice(client_random);
        let block = prf(
            suite.prf,
            master,
            b"key expansion",
            &seed,
            2 * (mac_len + key_len + iv_len),
        );
        // client MAC, server MAC, client key, server key, client IV, server IV.
        let part = |start: usize, len: usize| block.get(start..start + len).unwrap_or(&[]).to_vec();
        let side = usize::from(dir == Dir::ServerToClient);
        Writer {
            protection: suite.protection,
            mac_key: part(side * mac_len, mac_len),
            key: part(2 * mac_len + side * key_len, key_len),
            iv: part(2 * (mac_len + key_len) + side * iv_len, iv_len),
            seq: 0,
            deflate: deflate.then(|| Compress::new(Compression::default(), true)),
            iv_counter: if side == 0 { 0x10 } else { 0x80 },
        }
    }

    /// TLSPlaintext → TLSCompressed → TLSCiphertext, as one record.
    pub fn seal(&mut self, typ: u8, text: &[u8]) -> Vec<u8> {
        let fragment = match &mut self.deflate {
            Some(z) => {
                let mut out = Vec::with_capacity(text.len() + 64);
                // A Vec with room for any input: compress_vec never fails on it.
                let _ = z.compress_vec(text, &mut out, FlushCompress::Sync);
                out
            }
            None => text.to_vec(),
        };
        let seq = self.seq;
        self.seq += 1;
        let body = match self.protection {
            Protection::Cbc(cipher, mac) => self.seal_cbc(cipher, mac, typ, &fragment, seq),
            Protection::AesGcm { aes256 } => self.seal_gcm(aes256, typ, &fragment, seq),
        };
        record(typ, &body)
    }

    fn seal_cbc(
        &mut self,
        cipher: BlockCipher,
        mac: MacHash,
        typ: u8,
        data: &[u8],
        seq: u64,
    ) -> Vec<u8> {
        let key = hmac::Key::new(mac.algorithm(), &self.mac_key);
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(&seq.to_be_bytes());
        ctx.update(&[typ, 3, 3]);
        ctx.update(&u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes());
        ctx.update(data);
        let mut plain = data.to_vec();
        plain.extend_from_slice(ctx.sign().as_ref());
        let block = cipher.block_len();
        let pad = block - 1 - plain.len() % block;
        plain.extend(std::iter::repeat_n(pad as u8, pad + 1));
        let explicit_iv: Vec<u8> = (0..block)
            .map(|i| (i as u8).wrapping_mul(31) ^ self.iv_counter)
            .collect();
        self.iv_counter = self.iv_counter.wrapping_add(1);
        cbc_encrypt(cipher, &self.key, &explicit_iv, &mut plain);
        let mut out = explicit_iv;
        out.extend(plain);
        out
    }

    fn seal_gcm(&self, aes256: bool, typ: u8, data: &[u8], seq: u64) -> Vec<u8> {
        let alg = if aes256 {
            &aead::AES_256_GCM
        } else {
            &aead::AES_128_GCM
        };
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(self.iv.get(..4).unwrap_or(&[0; 4]));
        nonce[4..].copy_from_slice(&seq.to_be_bytes());
        // RFC 5246 §6.2.3.3: seq_num + type + version + length of the compressed fragment.
        let mut aad = seq.to_be_bytes().to_vec();
        aad.extend_from_slice(&[typ, 3, 3]);
        aad.extend_from_slice(&u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes());
        let mut sealed = data.to_vec();
        if let Ok(key) = aead::UnboundKey::new(alg, &self.key) {
            let key = aead::LessSafeKey::new(key);
            let nonce = aead::Nonce::assume_unique_for_key(nonce);
            // Sealing into a Vec only fails on absurd lengths.
            let _ = key.seal_in_place_append_tag(nonce, aead::Aad::from(aad), &mut sealed);
        }
        let mut out = seq.to_be_bytes().to_vec();
        out.extend(sealed);
        out
    }
}

fn cbc_encrypt(cipher: BlockCipher, key: &[u8], iv: &[u8], data: &mut [u8]) {
    fn enc<C: BlockCipherEncrypt + KeyInit>(key: &[u8], iv: &[u8], data: &mut [u8]) {
        // Keys and IVs come from the key block at the cipher's own sizes.
        if let Ok(mut e) = cbc::Encryptor::<C>::new_from_slices(key, iv) {
            let (blocks, _) = Array::slice_as_chunks_mut(data);
            e.encrypt_blocks(blocks);
        }
    }
    match cipher {
        BlockCipher::Aes128 => enc::<aes::Aes128>(key, iv, data),
        BlockCipher::Aes256 => enc::<aes::Aes256>(key, iv, data),
        BlockCipher::TripleDes => enc::<des::TdesEde3>(key, iv, data),
        BlockCipher::Camellia128 => enc::<camellia::Camellia128>(key, iv, data),
        BlockCipher::Camellia256 => enc::<camellia::Camellia256>(key, iv, data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The TLS 1.2 PRF test vector for SHA-256 published on the IETF TLS
    /// list (www.ietf.org/mail-archive/web/tls/current/msg03416.html).
    #[test]
    fn prf_sha256_matches_the_published_vector() {
        let secret = unhex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
        let seed = unhex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
        let out = prf(PrfHash::Sha256, &secret, b"test label", &seed, 100);
        assert_eq!(
            out,
            unhex(
                "e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 32 9b 52 d4 e6 1e db 5a
                 6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af 0f a0 22 f7 07 7d ef 17 ab fd 37 97 c0 56 4b ab
                 4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67 89 ba a4 80 82 d1 22 ee 42 c5 a7 2e 5a 51 10 ff f7 01
                 87 34 7b 66"
            )
        );
    }

    #[test]
    fn cbc_records_are_whole_blocks_after_the_explicit_iv() {
        let suite = Suite {
            id: 0x0016,
            name: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
            prf: PrfHash::Sha256,
            protection: Protection::Cbc(BlockCipher::TripleDes, MacHash::Sha1),
            ecdh: false,
        };
        let mut w = Writer::new(
            &suite,
            Dir::ClientToServer,
            &[1; 48],
            &[2; 32],
            &[3; 32],
            false,
        );
        let r = w.seal(23, b"hello");
        // 8-byte IV, then 5 + 20 bytes of MAC padded to 32.
        assert_eq!(r.len(), 5 + 8 + 32);
        assert_eq!(&r[..5], &[23, 3, 3, 0, 40]);
    }

    #[test]
    fn deflate_shrinks_repetitive_records() {
        let suite = Suite {
            id: 0xc02f,
            name: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            prf: PrfHash::Sha256,
            protection: Protection::AesGcm { aes256: false },
            ecdh: true,
        };
        let mut w = Writer::new(
            &suite,
            Dir::ServerToClient,
            &[1; 48],
            &[2; 32],
            &[3; 32],
            true,
        );
        let r = w.seal(23, &[b'a'; 4000]);
        assert!(r.len() < 200, "{}", r.len());
    }
}
