//! The keystream of the stream-cipher AEADs, for the captured start of a
//! record whose end was not captured (a snaplen, the end of the capture).
//!
//! Takes a traffic key, the record's 12-byte nonce and the ciphertext
//! bytes that were captured; gives them decrypted in place *without* the
//! tag, which was not captured: the result is unauthenticated and the
//! caller must say so. AES-GCM is AES-CTR whose first payload block uses
//! counter 2 (counter 1 encrypts the tag; NIST SP 800-38D §7.1);
//! ChaCha20-Poly1305 is ChaCha20 from block 1 (block 0 makes the Poly1305
//! key; RFC 8439 §2.8). `ring` exposes neither keystream, so RustCrypto's
//! `aes` + `ctr` and `chacha20` do it. Never authenticates, never panics.

use aes::{Aes128, Aes256};
use chacha20::ChaCha20;
use ctr::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use ring::aead::NONCE_LEN;

use crate::tls::suites::Aead;

/// The key of one direction as the keystream needs it.
#[derive(Clone)]
pub(crate) struct StreamKey {
    aead: Aead,
    key: [u8; 32],
}

impl StreamKey {
    /// `None` when `key` is not the AEAD's key length.
    pub(crate) fn new(aead: Aead, key: &[u8]) -> Option<StreamKey> {
        let mut k = [0u8; 32];
        k.get_mut(..aead.key_len())?
            .copy_from_slice(key.get(..aead.key_len())?);
        (key.len() == aead.key_len()).then_some(StreamKey { aead, key: k })
    }

    /// XORs the keystream of the record with `nonce` into `buf` (the
    /// record's ciphertext from its first byte). `None` if the cipher
    /// refused (a wrong length: a bug, never a panic).
    pub(crate) fn apply(&self, nonce: &[u8; NONCE_LEN], buf: &mut [u8]) -> Option<()> {
        let key = self.key.get(..self.aead.key_len())?;
        let mut counter_block = [0u8; 16];
        counter_block.get_mut(..NONCE_LEN)?.copy_from_slice(nonce);
        // GCM: J0 = nonce || 1 encrypts the tag; the payload starts at 2.
        *counter_block.last_mut()? = 2;
        match self.aead {
            Aead::Aes128Gcm => ctr::Ctr32BE::<Aes128>::new_from_slices(key, &counter_block)
                .ok()?
                .try_apply_keystream(buf)
                .ok(),
            Aead::Aes256Gcm => ctr::Ctr32BE::<Aes256>::new_from_slices(key, &counter_block)
                .ok()?
                .try_apply_keystream(buf)
                .ok(),
            Aead::ChaCha20Poly1305 => {
                let mut c = ChaCha20::new_from_slices(key, nonce).ok()?;
                // Block 0 made the Poly1305 key: the payload starts at block 1.
                c.try_seek(64u32).ok()?;
                c.try_apply_keystream(buf).ok()
            }
        }
    }
}

impl std::fmt::Debug for StreamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StreamKey({:?})", self.aead)
    }
}

#[cfg(test)]
mod tests {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey};

    use super::*;

    /// Sealed with `ring`, cut before its end, opened by the keystream alone:
    /// the captured start is the plaintext's start, for each AEAD.
    #[test]
    fn the_keystream_opens_the_start_of_a_sealed_record() {
        let plain = b"<message from='pubsub.finesse'><event><items node='/finesse/api/User/1001'/></event></message>";
        let nonce = [7u8; NONCE_LEN];
        for (aead, alg) in [
            (Aead::Aes128Gcm, &ring::aead::AES_128_GCM),
            (Aead::Aes256Gcm, &ring::aead::AES_256_GCM),
            (Aead::ChaCha20Poly1305, &ring::aead::CHACHA20_POLY1305),
        ] {
            let key: Vec<u8> = (0..aead.key_len() as u8).collect();
            let sealer = LessSafeKey::new(UnboundKey::new(alg, &key).unwrap());
            let mut sealed = plain.to_vec();
            sealer
                .seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(&b"aad"[..]),
                    &mut sealed,
                )
                .unwrap();
            let stream = StreamKey::new(aead, &key).unwrap();
            for cut in [0, 1, 15, 16, 17, 63, 64, 65, plain.len()] {
                let mut start = sealed[..cut].to_vec();
                stream.apply(&nonce, &mut start).unwrap();
                assert_eq!(start, plain[..cut], "{aead:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn a_key_of_the_wrong_length_is_refused() {
        assert!(StreamKey::new(Aead::Aes128Gcm, &[0; 32]).is_none());
        assert!(StreamKey::new(Aead::Aes256Gcm, &[0; 16]).is_none());
        assert!(StreamKey::new(Aead::ChaCha20Poly1305, &[0; 32]).is_some());
    }
}
