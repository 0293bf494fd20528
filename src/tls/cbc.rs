//! AES-CBC record protection with HMAC: TLS 1.0 (implicit IV chained from
//! the previous record), TLS 1.1/1.2 (explicit IV), MAC-then-encrypt
//! (RFC 5246 §6.2.3.2) and encrypt-then-MAC (RFC 7366).
//!
//! Takes key-block material and record bodies; opens records in place and
//! checks padding and MAC. Uses the RustCrypto `aes`, `cbc`, `hmac`, `sha1`
//! and `sha2` crates; never a hand-written primitive. Not constant-time: this
//! reads captures, it does not defend a live connection.

use aes::cipher::array::Array;
use aes::cipher::{BlockModeDecrypt, KeyIvInit};
use hmac::{KeyInit, Mac};

use super::crypto::{DecryptError, Plain, RecordDecrypter};
use super::suites::MacAlg;

const BLOCK: usize = 16;

/// One direction of an AES-CBC suite.
pub(crate) struct CbcDecrypter {
    key: Box<[u8]>,
    mac: MacAlg,
    mac_key: Box<[u8]>,
    encrypt_then_mac: bool,
    /// TLS 1.0 only: the IV for the next record (the last ciphertext block so far).
    implicit_iv: Option<[u8; BLOCK]>,
}

impl CbcDecrypter {
    /// `iv` is the key block's IV: used for TLS 1.0 (`explicit_iv == false`), ignored otherwise.
    /// `None` when the key has a length AES does not take.
    pub(crate) fn new(
        key: &[u8],
        mac: MacAlg,
        mac_key: &[u8],
        encrypt_then_mac: bool,
        explicit_iv: bool,
        iv: &[u8],
    ) -> Option<CbcDecrypter> {
        if key.len() != 16 && key.len() != 32 {
            return None;
        }
        let implicit_iv = if explicit_iv {
            None
        } else {
            Some(iv.try_into().ok()?)
        };
        Some(CbcDecrypter {
            key: key.into(),
            mac,
            mac_key: mac_key.into(),
            encrypt_then_mac,
            implicit_iv,
        })
    }

    /// Decrypts whole blocks in place; the caller checked alignment.
    fn decrypt_blocks(&self, iv: &[u8; BLOCK], data: &mut [u8]) {
        let (blocks, _) = Array::slice_as_chunks_mut(data);
        // Key lengths were checked in `new`, and the IV is one block long.
        if self.key.len() == 16 {
            if let Ok(mut d) = cbc::Decryptor::<aes::Aes128>::new_from_slices(&self.key, iv) {
                d.decrypt_blocks(blocks);
            }
        } else if let Ok(mut d) = cbc::Decryptor::<aes::Aes256>::new_from_slices(&self.key, iv) {
            d.decrypt_blocks(blocks);
        }
    }

    /// HMAC(seq || type || version || length || data) against `tag`.
    fn mac_ok(&self, seq: u64, typ: u8, version: u16, data: &[u8], tag: &[u8]) -> bool {
        let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
        let header = [
            &seq.to_be_bytes()[..],
            &[typ],
            &version.to_be_bytes(),
            &len.to_be_bytes(),
        ];
        match self.mac {
            MacAlg::Sha1 => verify::<hmac::Hmac<sha1::Sha1>>(&self.mac_key, &header, data, tag),
            MacAlg::Sha256 => verify::<hmac::Hmac<sha2::Sha256>>(&self.mac_key, &header, data, tag),
            MacAlg::Sha384 => verify::<hmac::Hmac<sha2::Sha384>>(&self.mac_key, &header, data, tag),
        }
    }
}

fn verify<M: Mac + KeyInit>(key: &[u8], header: &[&[u8]; 4], data: &[u8], tag: &[u8]) -> bool {
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
        return false;
    };
    for h in header {
        mac.update(h);
    }
    mac.update(data);
    mac.verify_slice(tag).is_ok()
}

/// Checks TLS padding at the end of `plain` (every padding byte equals the
/// padding length, RFC 5246 §6.2.3.2); returns the length without it.
fn unpad(plain: &[u8]) -> Result<usize, DecryptError> {
    let &pad = plain.last().ok_or(DecryptError::Padding)?;
    let pad_total = usize::from(pad) + 1;
    let start = plain
        .len()
        .checked_sub(pad_total)
        .ok_or(DecryptError::Padding)?;
    // start = len - pad_total was checked not to underflow.
    if plain[start..].iter().all(|&b| b == pad) {
        Ok(start)
    } else {
        Err(DecryptError::Padding)
    }
}

impl RecordDecrypter for CbcDecrypter {
    fn decrypt(
        &mut self,
        typ: u8,
        version: u16,
        body: &mut [u8],
        seq: u64,
    ) -> Result<Plain, DecryptError> {
        let mac_len = self.mac.len();
        let iv_len = if self.implicit_iv.is_some() { 0 } else { BLOCK };
        let enc_end = if self.encrypt_then_mac {
            body.len().checked_sub(mac_len)
        } else {
            Some(body.len())
        }
        .ok_or(DecryptError::TooShort { len: body.len() })?;
        let ct_len = enc_end.saturating_sub(iv_len);
        if ct_len == 0 || enc_end < iv_len {
            return Err(DecryptError::TooShort { len: body.len() });
        }
        if ct_len % BLOCK != 0 {
            return Err(DecryptError::BlockAlign { len: ct_len });
        }
        if self.encrypt_then_mac {
            let (enc, tag) = body.split_at(enc_end);
            if !self.mac_ok(seq, typ, version, enc, tag) {
                return Err(DecryptError::Auth);
            }
        }
        let iv: [u8; BLOCK] = match self.implicit_iv {
            Some(iv) => {
                // The next record chains from this one's last ciphertext block.
                let last = &body[enc_end - BLOCK..enc_end];
                self.implicit_iv = last.try_into().ok();
                iv
            }
            None => body[..BLOCK]
                .try_into()
                .map_err(|_| DecryptError::TooShort { len: body.len() })?,
        };
        // iv_len <= enc_end <= body.len() was checked above.
        let data = &mut body[iv_len..enc_end];
        self.decrypt_blocks(&iv, data);
        let unpadded = unpad(data)?;
        let content_len = if self.encrypt_then_mac {
            unpadded
        } else {
            let content_len = unpadded.checked_sub(mac_len).ok_or(DecryptError::Padding)?;
            let (content, tag) = data[..unpadded].split_at(content_len);
            if !self.mac_ok(seq, typ, version, content, tag) {
                return Err(DecryptError::Auth);
            }
            content_len
        };
        Ok(Plain {
            typ,
            range: iv_len..iv_len + content_len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockModeEncrypt;

    /// Builds a record the way RFC 5246 §6.2.3.2 / RFC 7366 describe, with the
    /// same crates in encrypt direction, so each check can be broken on purpose.
    fn seal(
        key: &[u8],
        mac_key: &[u8],
        etm: bool,
        iv: [u8; 16],
        explicit: bool,
        content: &[u8],
        seq: u64,
    ) -> Vec<u8> {
        let mac_of = |data: &[u8]| {
            let mut m = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(mac_key).unwrap();
            m.update(&seq.to_be_bytes());
            m.update(&[23, 3, 3]);
            m.update(&(data.len() as u16).to_be_bytes());
            m.update(data);
            m.finalize().into_bytes().to_vec()
        };
        let mut plain = content.to_vec();
        if !etm {
            plain.extend(mac_of(content));
        }
        let pad = 15 - plain.len() % 16;
        plain.extend(std::iter::repeat_n(pad as u8, pad + 1));
        let mut enc = cbc::Encryptor::<aes::Aes128>::new_from_slices(key, &iv).unwrap();
        let (blocks, rest) = Array::slice_as_chunks_mut(&mut plain);
        assert!(rest.is_empty());
        enc.encrypt_blocks(blocks);
        let mut out = if explicit { iv.to_vec() } else { Vec::new() };
        out.extend(plain);
        if etm {
            let tag = mac_of(&out);
            out.extend(tag);
        }
        out
    }

    fn open(etm: bool, explicit: bool, rec: &mut [u8], seq: u64) -> Result<Vec<u8>, DecryptError> {
        let mut d =
            CbcDecrypter::new(&[1; 16], MacAlg::Sha1, &[2; 20], etm, explicit, &[3; 16]).unwrap();
        let p = d.decrypt(23, 0x0303, rec, seq)?;
        Ok(rec[p.range].to_vec())
    }

    #[test]
    fn mac_then_encrypt_and_encrypt_then_mac_round_trip() {
        for etm in [false, true] {
            for explicit in [false, true] {
                let mut rec = seal(
                    &[1; 16],
                    &[2; 20],
                    etm,
                    [3; 16],
                    explicit,
                    b"GET / HTTP/1.1\r\n",
                    4,
                );
                assert_eq!(
                    open(etm, explicit, &mut rec, 4).unwrap(),
                    b"GET / HTTP/1.1\r\n"
                );
            }
        }
    }

    #[test]
    fn wrong_sequence_number_fails_the_mac() {
        for etm in [false, true] {
            let mut rec = seal(&[1; 16], &[2; 20], etm, [3; 16], true, b"hello", 4);
            assert_eq!(open(etm, true, &mut rec, 5), Err(DecryptError::Auth));
        }
    }

    #[test]
    fn bad_padding_is_named() {
        // Flip a bit in the second-to-last ciphertext block: the padding byte in the last block changes.
        let mut rec = seal(
            &[1; 16],
            &[2; 20],
            false,
            [3; 16],
            true,
            b"0123456789abcdef",
            0,
        );
        let n = rec.len();
        rec[n - 17] ^= 0x01;
        assert_eq!(open(false, true, &mut rec, 0), Err(DecryptError::Padding));
    }

    #[test]
    fn misaligned_and_short_records_are_named() {
        assert_eq!(
            open(false, true, &mut [0u8; 16 + 20], 0),
            Err(DecryptError::BlockAlign { len: 20 })
        );
        assert_eq!(
            open(false, true, &mut [0u8; 16], 0),
            Err(DecryptError::TooShort { len: 16 })
        );
        assert_eq!(
            open(true, true, &mut [0u8; 10], 0),
            Err(DecryptError::TooShort { len: 10 })
        );
    }

    #[test]
    fn tls10_chains_the_iv_across_records() {
        // Two records encrypted as one CBC stream: the second's IV is the first's last block.
        let mut d =
            CbcDecrypter::new(&[1; 16], MacAlg::Sha1, &[2; 20], false, false, &[3; 16]).unwrap();
        let mut r1 = seal(&[1; 16], &[2; 20], false, [3; 16], false, b"first", 0);
        let next_iv: [u8; 16] = r1[r1.len() - 16..].try_into().unwrap();
        let mut r2 = seal(&[1; 16], &[2; 20], false, next_iv, false, b"second", 1);
        let p = d.decrypt(23, 0x0303, &mut r1, 0).unwrap();
        assert_eq!(&r1[p.range], b"first");
        let p = d.decrypt(23, 0x0303, &mut r2, 1).unwrap();
        assert_eq!(&r2[p.range], b"second");
    }

    #[test]
    fn unpad_rules() {
        assert_eq!(unpad(&[9, 9, 1, 1]), Ok(2));
        assert_eq!(unpad(&[9, 0]), Ok(1));
        assert_eq!(unpad(&[9, 2, 1, 2]), Err(DecryptError::Padding));
        assert_eq!(unpad(&[5]), Err(DecryptError::Padding));
        assert_eq!(unpad(&[]), Err(DecryptError::Padding));
    }
}
