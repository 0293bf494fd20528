//! Key schedules and AEAD record decryption behind one small trait.
//!
//! Takes secrets (from the key log) and record bytes; gives decrypters that
//! open records in place, and the keys they need: TLS 1.3 HKDF-Expand-Label
//! (RFC 8446 §7.1, §7.3, §7.2 KeyUpdate) and the TLS 1.2 / 1.0 key block
//! (RFC 5246 §6.3, RFC 2246 §5). HKDF and the TLS 1.2 PRF come from rustls's
//! `ring` crypto provider; the TLS 1.0/1.1 PRF is rustls's `PrfUsingHmac`
//! over RustCrypto HMAC-MD5 and HMAC-SHA1. AEAD opening uses `ring` directly:
//! rustls 0.23 has no public constructor for a 16-byte `AeadKey`, so its
//! `MessageDecrypter`s cannot be built for AES-128-GCM from outside the crate
//! (the test `ring_aead_matches_rustls_decrypter` pins that ours agrees with
//! rustls's where rustls can be called). Never allocates per record and never
//! writes hand-made crypto primitives.

use std::ops::Range;

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, NONCE_LEN};
use rustls::crypto::hmac as rustls_hmac;
use rustls::crypto::tls12::{Prf, PrfUsingHmac};
use rustls::crypto::tls13::{Hkdf, OkmBlock};
use rustls::SupportedCipherSuite;
use thiserror::Error;

use super::keylog::Secret;
use super::suites::{Aead, Hash};

mod keystream;
use keystream::StreamKey;

/// Why a record did not decrypt.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub(crate) enum DecryptError {
    /// Wrong key, wrong sequence number or a damaged record: the tag or MAC does not match.
    #[error("authentication failed")]
    Auth,
    #[error("record of {len} bytes is too short for the cipher")]
    TooShort { len: usize },
    #[error("CBC record length {len} is not a multiple of the block size")]
    BlockAlign { len: usize },
    #[error("bad CBC padding")]
    Padding,
    #[error("TLS 1.3 record has no inner content type")]
    NoContentType,
}

/// A record opened in place: its real content type and where the plaintext lies in the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plain {
    pub(crate) typ: u8,
    pub(crate) range: Range<usize>,
}

/// Opens records of one direction under one key. A failed call leaves the
/// decrypter ready for the next record, but `body` may be overwritten.
pub(crate) trait RecordDecrypter: Send {
    /// `typ` and `version` are the record header's; `body` is the record body.
    fn decrypt(
        &mut self,
        typ: u8,
        version: u16,
        body: &mut [u8],
        seq: u64,
    ) -> Result<Plain, DecryptError>;

    /// Decrypts in place the captured start `prefix` of a record whose body
    /// is `record_len` bytes long but whose end (and tag) was not captured,
    /// *without authenticating it*; gives where the plaintext lies in
    /// `prefix`. `None` when the cipher cannot (CBC and others: only the
    /// stream-cipher AEADs can decrypt a record's start alone).
    fn decrypt_prefix(
        &self,
        record_len: usize,
        prefix: &mut [u8],
        seq: u64,
    ) -> Option<Range<usize>> {
        let _ = (record_len, prefix, seq);
        None
    }
}

const TAG_LEN: usize = 16;

fn ring_alg(aead: Aead) -> &'static aead::Algorithm {
    match aead {
        Aead::Aes128Gcm => &aead::AES_128_GCM,
        Aead::Aes256Gcm => &aead::AES_256_GCM,
        Aead::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
    }
}

/// Per-record nonce: the IV with the sequence number XORed into its last 8 bytes
/// (RFC 8446 §5.3, RFC 7905 §2).
fn xor_nonce(iv: &[u8; NONCE_LEN], seq: u64) -> Nonce {
    Nonce::assume_unique_for_key(nonce_bytes(iv, seq))
}

fn nonce_bytes(iv: &[u8; NONCE_LEN], seq: u64) -> [u8; NONCE_LEN] {
    let mut n = *iv;
    for (b, s) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
        *b ^= s;
    }
    n
}

/// Decrypts `prefix[start..]`, at most `plain_max` bytes of it, with the
/// keystream of `nonce`; gives the range decrypted.
fn keystream_prefix(
    stream: &StreamKey,
    nonce: &[u8; NONCE_LEN],
    prefix: &mut [u8],
    start: usize,
    plain_max: usize,
) -> Option<Range<usize>> {
    let end = prefix.len().min(start.checked_add(plain_max)?);
    stream.apply(nonce, prefix.get_mut(start..end)?)?;
    Some(start..end)
}

/// TLS 1.2 additional data: seq, type, version, plaintext length (RFC 5246 §6.2.3.3).
pub(crate) fn tls12_aad(seq: u64, typ: u8, version: u16, len: usize) -> [u8; 13] {
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8] = typ;
    aad[9..11].copy_from_slice(&version.to_be_bytes());
    // Record bodies are capped far below 64 KiB, so the length fits.
    aad[11..].copy_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    aad
}

/// A built AEAD key; `None` only if the key has the wrong length (a bug, reported as such).
fn aead_key(aead: Aead, key: &[u8]) -> Option<LessSafeKey> {
    UnboundKey::new(ring_alg(aead), key)
        .ok()
        .map(LessSafeKey::new)
}

/// TLS 1.3 record protection (RFC 8446 §5.2).
pub(crate) struct Tls13Decrypter {
    key: LessSafeKey,
    /// The same key for the keystream of a record cut before its tag.
    stream: Option<StreamKey>,
    iv: [u8; NONCE_LEN],
    /// Drafts before 25 authenticated no additional data (draft-ietf-tls-tls13-25 §5.2).
    empty_aad: bool,
}

impl RecordDecrypter for Tls13Decrypter {
    fn decrypt(
        &mut self,
        typ: u8,
        version: u16,
        body: &mut [u8],
        seq: u64,
    ) -> Result<Plain, DecryptError> {
        if body.len() < TAG_LEN + 1 {
            return Err(DecryptError::TooShort { len: body.len() });
        }
        let mut aad = [typ, 0, 0, 0, 0];
        aad[1..3].copy_from_slice(&version.to_be_bytes());
        aad[3..].copy_from_slice(&u16::try_from(body.len()).unwrap_or(u16::MAX).to_be_bytes());
        let aad = if self.empty_aad { &aad[..0] } else { &aad[..] };
        let plain = self
            .key
            .open_in_place(xor_nonce(&self.iv, seq), Aad::from(aad), body)
            .map_err(|_| DecryptError::Auth)?;
        // Strip zero padding; the last non-zero byte is the real content type.
        let end = plain
            .iter()
            .rposition(|&b| b != 0)
            .ok_or(DecryptError::NoContentType)?;
        Ok(Plain {
            typ: plain[end],
            range: 0..end,
        })
    }

    /// The inner content type and padding are at the record's end, which
    /// was not captured: every byte but the tag is taken as content.
    fn decrypt_prefix(
        &self,
        record_len: usize,
        prefix: &mut [u8],
        seq: u64,
    ) -> Option<Range<usize>> {
        let plain_max = record_len.checked_sub(TAG_LEN + 1)?;
        let nonce = nonce_bytes(&self.iv, seq);
        keystream_prefix(self.stream.as_ref()?, &nonce, prefix, 0, plain_max)
    }
}

/// TLS 1.2 AEAD record protection: GCM with an explicit nonce (RFC 5288 §3),
/// ChaCha20-Poly1305 with an implicit one (RFC 7905 §2).
pub(crate) struct Tls12AeadDecrypter {
    key: LessSafeKey,
    /// The same key for the keystream of a record cut before its tag.
    stream: Option<StreamKey>,
    aead: Aead,
    /// GCM: 4-byte salt then zeros; ChaCha: the 12-byte IV.
    iv: [u8; NONCE_LEN],
}

impl RecordDecrypter for Tls12AeadDecrypter {
    fn decrypt(
        &mut self,
        typ: u8,
        version: u16,
        body: &mut [u8],
        seq: u64,
    ) -> Result<Plain, DecryptError> {
        let explicit = if self.aead == Aead::ChaCha20Poly1305 {
            0
        } else {
            8
        };
        let Some(plain_len) = body.len().checked_sub(explicit + TAG_LEN) else {
            return Err(DecryptError::TooShort { len: body.len() });
        };
        let nonce = if explicit == 0 {
            xor_nonce(&self.iv, seq)
        } else {
            let mut n = self.iv;
            // body.len() >= 8 + 16: checked by the plain_len subtraction above.
            n[4..].copy_from_slice(&body[..8]);
            Nonce::assume_unique_for_key(n)
        };
        let aad = tls12_aad(seq, typ, version, plain_len);
        self.key
            .open_within(nonce, Aad::from(aad), body, explicit..)
            .map_err(|_| DecryptError::Auth)?;
        Ok(Plain {
            typ,
            range: 0..plain_len,
        })
    }

    fn decrypt_prefix(
        &self,
        record_len: usize,
        prefix: &mut [u8],
        seq: u64,
    ) -> Option<Range<usize>> {
        let stream = self.stream.as_ref()?;
        if self.aead == Aead::ChaCha20Poly1305 {
            let plain_max = record_len.checked_sub(TAG_LEN)?;
            return keystream_prefix(stream, &nonce_bytes(&self.iv, seq), prefix, 0, plain_max);
        }
        // GCM: the explicit nonce (8 bytes) comes first and must be captured.
        let plain_max = record_len.checked_sub(8 + TAG_LEN)?;
        let mut nonce = self.iv;
        nonce.get_mut(4..)?.copy_from_slice(prefix.get(..8)?);
        keystream_prefix(stream, &nonce, prefix, 8, plain_max)
    }
}

fn tls13_hkdf(hash: Hash) -> &'static dyn Hkdf {
    use rustls::crypto::ring::cipher_suite as cs;
    let suite = match hash {
        Hash::Sha256 => cs::TLS13_AES_128_GCM_SHA256,
        Hash::Sha384 => cs::TLS13_AES_256_GCM_SHA384,
    };
    match suite {
        SupportedCipherSuite::Tls13(s) => s.hkdf_provider,
        // Invariant: the two constants above are TLS 1.3 suites.
        SupportedCipherSuite::Tls12(_) => unreachable!("TLS 1.3 suite constant"),
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) into `out` (at most 255 bytes).
pub(crate) fn hkdf_expand_label(
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) {
    let expander = tls13_hkdf(hash).expander_for_okm(&OkmBlock::new(secret));
    let len = u16::try_from(out.len()).unwrap_or(u16::MAX).to_be_bytes();
    // Labels and contexts are our own constants or hashes: all under 255 bytes.
    let label_len = [u8::try_from(6 + label.len()).unwrap_or(u8::MAX)];
    let context_len = [u8::try_from(context.len()).unwrap_or(u8::MAX)];
    let info: [&[u8]; 6] = [&len, &label_len, b"tls13 ", label, &context_len, context];
    // Only fails for outputs longer than 255 hash blocks; ours are at most 48 bytes.
    let _ = expander.expand_slice(&info, out);
}

/// The hash a TLS 1.3 secret belongs to, told by its length.
pub(crate) fn hash_for_secret(secret: &[u8]) -> Option<Hash> {
    match secret.len() {
        32 => Some(Hash::Sha256),
        48 => Some(Hash::Sha384),
        _ => None,
    }
}

/// TLS 1.3 traffic key and IV from a traffic secret (RFC 8446 §7.3).
/// `empty_aad` for drafts 20–24 (same key schedule labels, no record header in the AAD).
pub(crate) fn tls13_decrypter(
    aead: Aead,
    secret: &[u8],
    empty_aad: bool,
) -> Option<Tls13Decrypter> {
    let hash = hash_for_secret(secret)?;
    let mut key = [0u8; 32];
    let key = key.get_mut(..aead.key_len())?;
    let mut iv = [0u8; NONCE_LEN];
    hkdf_expand_label(hash, secret, b"key", &[], key);
    hkdf_expand_label(hash, secret, b"iv", &[], &mut iv);
    Some(Tls13Decrypter {
        key: aead_key(aead, key)?,
        stream: StreamKey::new(aead, key),
        iv,
        empty_aad,
    })
}

/// The next application traffic secret after a KeyUpdate (RFC 8446 §7.2).
pub(crate) fn tls13_next_secret(secret: &Secret) -> Secret {
    let mut out = [0u8; 48];
    let len = secret.bytes().len().min(48);
    let hash = hash_for_secret(secret.bytes()).unwrap_or(Hash::Sha256);
    hkdf_expand_label(hash, secret.bytes(), b"traffic upd", &[], &mut out[..len]);
    Secret::new(&out[..len])
}

/// Protocol generation that decides the PRF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PrfKind {
    /// TLS 1.0 and 1.1: MD5 and SHA-1 combined (RFC 2246 §5).
    Md5Sha1,
    /// TLS 1.2 with the suite's hash (RFC 5246 §5).
    Tls12(Hash),
}

/// rustls's `Hmac` trait over a RustCrypto HMAC, so that rustls's P_hash
/// (`PrfUsingHmac`) also serves the MD5 and SHA-1 halves of the TLS 1.0 PRF.
struct RustCryptoHmac<D>(std::marker::PhantomData<D>);

struct RustCryptoHmacKey<D>(Box<[u8]>, std::marker::PhantomData<D>);

impl<D> rustls_hmac::Hmac for RustCryptoHmac<D>
where
    D: hmac::EagerHash + Send + Sync + 'static,
    hmac::Hmac<D>: hmac::KeyInit + hmac::Mac,
{
    fn with_key(&self, key: &[u8]) -> Box<dyn rustls_hmac::Key> {
        Box::new(RustCryptoHmacKey::<D>(key.into(), std::marker::PhantomData))
    }

    fn hash_output_len(&self) -> usize {
        <hmac::Hmac<D> as hmac::digest::OutputSizeUser>::output_size()
    }
}

impl<D> rustls_hmac::Key for RustCryptoHmacKey<D>
where
    D: hmac::EagerHash + Send + Sync + 'static,
    hmac::Hmac<D>: hmac::KeyInit + hmac::Mac,
{
    fn sign_concat(&self, first: &[u8], middle: &[&[u8]], last: &[u8]) -> rustls_hmac::Tag {
        use hmac::{KeyInit, Mac};
        // HMAC accepts keys of any length.
        let Ok(mut mac) = <hmac::Hmac<D> as KeyInit>::new_from_slice(&self.0) else {
            return rustls_hmac::Tag::new(&[]);
        };
        mac.update(first);
        for m in middle {
            mac.update(m);
        }
        mac.update(last);
        rustls_hmac::Tag::new(&mac.finalize().into_bytes())
    }

    fn tag_len(&self) -> usize {
        <hmac::Hmac<D> as hmac::digest::OutputSizeUser>::output_size()
    }
}

static HMAC_MD5: RustCryptoHmac<md5::Md5> = RustCryptoHmac(std::marker::PhantomData);
static HMAC_SHA1: RustCryptoHmac<sha1::Sha1> = RustCryptoHmac(std::marker::PhantomData);

fn tls12_prf(hash: Hash) -> &'static dyn Prf {
    use rustls::crypto::ring::cipher_suite as cs;
    let suite = match hash {
        Hash::Sha256 => cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        Hash::Sha384 => cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    };
    match suite {
        SupportedCipherSuite::Tls12(s) => s.prf_provider,
        // Invariant: the two constants above are TLS 1.2 suites.
        SupportedCipherSuite::Tls13(_) => unreachable!("TLS 1.2 suite constant"),
    }
}

/// PRF(secret, label, seed) into `out` (RFC 5246 §5; RFC 2246 §5 for 1.0/1.1).
pub(crate) fn prf(kind: PrfKind, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    match kind {
        PrfKind::Tls12(hash) => tls12_prf(hash).for_secret(out, secret, label, seed),
        PrfKind::Md5Sha1 => {
            // S1 is the first half, S2 the second; they share a byte when the length is odd.
            let half = secret.len().div_ceil(2);
            let s1 = secret.get(..half).unwrap_or_default();
            let s2 = secret.get(secret.len() - half..).unwrap_or_default();
            PrfUsingHmac(&HMAC_MD5).for_secret(out, s1, label, seed);
            let mut sha = vec![0u8; out.len()];
            PrfUsingHmac(&HMAC_SHA1).for_secret(&mut sha, s2, label, seed);
            for (o, s) in out.iter_mut().zip(sha) {
                *o ^= s;
            }
        }
    }
}

/// TLS 1.2 key block split into the two directions' keys (RFC 5246 §6.3).
pub(crate) struct KeyBlock {
    pub(crate) client_mac: Vec<u8>,
    pub(crate) server_mac: Vec<u8>,
    pub(crate) client_key: Vec<u8>,
    pub(crate) server_key: Vec<u8>,
    pub(crate) client_iv: Vec<u8>,
    pub(crate) server_iv: Vec<u8>,
}

impl std::fmt::Debug for KeyBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyBlock(redacted)")
    }
}

/// Expands the master secret into MAC keys, cipher keys and IVs of the given sizes.
pub(crate) fn key_block(
    kind: PrfKind,
    master: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    (mac_len, key_len, iv_len): (usize, usize, usize),
) -> KeyBlock {
    let mut seed = [0u8; 64];
    seed[..32].copy_from_slice(server_random);
    seed[32..].copy_from_slice(client_random);
    let mut block = vec![0u8; 2 * (mac_len + key_len + iv_len)];
    prf(kind, master, b"key expansion", &seed, &mut block);
    let mut rest = block.as_slice();
    let mut take = |n: usize| {
        let (a, b) = rest.split_at(n.min(rest.len()));
        rest = b;
        a.to_vec()
    };
    KeyBlock {
        client_mac: take(mac_len),
        server_mac: take(mac_len),
        client_key: take(key_len),
        server_key: take(key_len),
        client_iv: take(iv_len),
        server_iv: take(iv_len),
    }
}

/// A TLS 1.2 AEAD decrypter from key-block material (4-byte GCM salt or 12-byte ChaCha IV).
pub(crate) fn tls12_aead_decrypter(
    aead: Aead,
    key: &[u8],
    iv: &[u8],
) -> Option<Tls12AeadDecrypter> {
    let mut nonce = [0u8; NONCE_LEN];
    nonce.get_mut(..iv.len())?.copy_from_slice(iv);
    Some(Tls12AeadDecrypter {
        key: aead_key(aead, key)?,
        stream: StreamKey::new(aead, key),
        aead,
        iv: nonce,
    })
}

/// Fixed IV length in the TLS 1.2 key block for an AEAD.
pub(crate) fn tls12_aead_iv_len(aead: Aead) -> usize {
    match aead {
        Aead::ChaCha20Poly1305 => 12,
        Aead::Aes128Gcm | Aead::Aes256Gcm => 4,
    }
}

#[cfg(test)]
pub(crate) mod tests;
