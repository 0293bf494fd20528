//! Camellia-GCM record protection for TLS 1.2 (RFC 6367 §3.1, which reuses
//! the AES-GCM record format of RFC 5288: a 4-byte salt from the key block,
//! an 8-byte explicit nonce at the start of each record, a 16-byte tag at
//! its end).
//!
//! Takes key-block material and record bodies; opens records in place.
//! `ring` has no Camellia, so this uses the RustCrypto `aes-gcm` crate's
//! GCM over the `camellia` block cipher; never a hand-written primitive.

use aes_gcm::aead::array::Array;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::AesGcm;

use super::crypto::{DecryptError, Plain, RecordDecrypter};

const EXPLICIT_NONCE: usize = 8;
const TAG: usize = 16;

enum Cipher {
    Camellia128(Box<AesGcm<camellia::Camellia128, U12>>),
    Camellia256(Box<AesGcm<camellia::Camellia256, U12>>),
}

/// One direction of a Camellia-GCM suite.
pub(crate) struct CamelliaGcmDecrypter {
    cipher: Cipher,
    salt: [u8; 4],
}

impl CamelliaGcmDecrypter {
    /// `None` when the key is neither 16 nor 32 bytes or the salt is not 4.
    pub(crate) fn new(key: &[u8], salt: &[u8]) -> Option<CamelliaGcmDecrypter> {
        let cipher = match key.len() {
            16 => Cipher::Camellia128(Box::new(AesGcm::new_from_slice(key).ok()?)),
            32 => Cipher::Camellia256(Box::new(AesGcm::new_from_slice(key).ok()?)),
            _ => return None,
        };
        Some(CamelliaGcmDecrypter {
            cipher,
            salt: salt.try_into().ok()?,
        })
    }
}

impl RecordDecrypter for CamelliaGcmDecrypter {
    fn decrypt(
        &mut self,
        typ: u8,
        version: u16,
        body: &mut [u8],
        seq: u64,
    ) -> Result<Plain, DecryptError> {
        let too_short = DecryptError::TooShort { len: body.len() };
        let plain_len = body
            .len()
            .checked_sub(EXPLICIT_NONCE + TAG)
            .ok_or(too_short)?;
        let (explicit, rest) = body.split_at_mut(EXPLICIT_NONCE);
        let (data, tag) = rest.split_at_mut(plain_len);
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&self.salt);
        nonce[4..].copy_from_slice(explicit);
        let nonce = Array::<u8, U12>::from(nonce);
        let tag = Array::try_from(&*tag).map_err(|_| too_short)?;
        let aad = super::crypto::tls12_aad(seq, typ, version, plain_len);
        let opened = match &self.cipher {
            Cipher::Camellia128(c) => c.decrypt_inout_detached(&nonce, &aad, data.into(), &tag),
            Cipher::Camellia256(c) => c.decrypt_inout_detached(&nonce, &aad, data.into(), &tag),
        };
        opened.map_err(|_| DecryptError::Auth)?;
        Ok(Plain {
            typ,
            range: EXPLICIT_NONCE..EXPLICIT_NONCE + plain_len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::crypto::tests::unhex;

    /// Seals a record the RFC 5288 way with the same crate, so each check can be broken.
    pub(crate) fn seal(
        key: &[u8],
        salt: [u8; 4],
        explicit: [u8; 8],
        seq: u64,
        text: &[u8],
    ) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&salt);
        nonce[4..].copy_from_slice(&explicit);
        let aad = crate::tls::crypto::tls12_aad(seq, 23, 0x0303, text.len());
        let mut data = text.to_vec();
        let tag = match key.len() {
            16 => AesGcm::<camellia::Camellia128, U12>::new_from_slice(key)
                .unwrap()
                .encrypt_inout_detached(&Array::from(nonce), &aad, data.as_mut_slice().into()),
            _ => AesGcm::<camellia::Camellia256, U12>::new_from_slice(key)
                .unwrap()
                .encrypt_inout_detached(&Array::from(nonce), &aad, data.as_mut_slice().into()),
        }
        .unwrap();
        let mut record = explicit.to_vec();
        record.extend(data);
        record.extend_from_slice(&tag);
        record
    }

    /// Camellia-128 known answer (RFC 3713 Appendix A, the same vector NESSIE
    /// lists): GCM's hash key is E(K, 0^128), so the GCM layer must drive the
    /// real Camellia cipher for a record to open.
    #[test]
    fn camellia_is_the_rfc3713_cipher() {
        use aes::cipher::{BlockCipherEncrypt, KeyInit as _};
        let key = unhex("01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10");
        let c = camellia::Camellia128::new_from_slice(&key).unwrap();
        let mut block = Array::try_from(&key[..]).unwrap();
        c.encrypt_block(&mut block);
        assert_eq!(
            block.to_vec(),
            unhex("67 67 31 38 54 96 69 73 08 57 06 56 48 ea be 43")
        );
    }

    #[test]
    fn records_open_and_every_fault_is_named() {
        for key in [vec![7u8; 16], vec![9u8; 32]] {
            let mut d = CamelliaGcmDecrypter::new(&key, &[1, 2, 3, 4]).unwrap();
            let mut rec = seal(
                &key,
                [1, 2, 3, 4],
                [0, 0, 0, 0, 0, 0, 0, 5],
                5,
                b"<presence/>",
            );
            let p = d.decrypt(23, 0x0303, &mut rec, 5).unwrap();
            assert_eq!(&rec[p.range], b"<presence/>");
            let mut rec = seal(&key, [1, 2, 3, 4], [0; 8], 5, b"<presence/>");
            assert_eq!(d.decrypt(23, 0x0303, &mut rec, 6), Err(DecryptError::Auth));
            assert_eq!(
                d.decrypt(23, 0x0303, &mut [0u8; 23], 0),
                Err(DecryptError::TooShort { len: 23 })
            );
        }
        assert!(CamelliaGcmDecrypter::new(&[0; 24], &[0; 4]).is_none());
        assert!(CamelliaGcmDecrypter::new(&[0; 16], &[0; 12]).is_none());
    }
}
