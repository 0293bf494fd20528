//! CBC record protection with HMAC for AES, 3DES-EDE and Camellia: TLS 1.0
//! (implicit IV chained from the previous record), TLS 1.1/1.2 (explicit
//! IV), MAC-then-encrypt (RFC 5246 §6.2.3.2) and encrypt-then-MAC
//! (RFC 7366).
//!
//! Takes key-block material and record bodies; opens records in place and
//! checks padding and MAC. Uses the RustCrypto `aes`, `des`, `camellia`,
//! `cbc`, `hmac`, `sha1` and `sha2` crates; never a hand-written primitive.
//! Not constant-time: this reads captures, it does not defend a live
//! connection.

use aes::cipher::array::Array;
use aes::cipher::{BlockCipherDecrypt, BlockModeDecrypt, KeyIvInit};
use hmac::{KeyInit, Mac};

use super::crypto::{DecryptError, Plain, RecordDecrypter};
use super::suites::{BlockCipher, MacAlg};

/// The largest block (AES, Camellia); 3DES has 8-byte blocks.
const MAX_BLOCK: usize = 16;

/// One direction of a CBC suite.
pub(crate) struct CbcDecrypter {
    cipher: BlockCipher,
    key: Box<[u8]>,
    mac: MacAlg,
    mac_key: Box<[u8]>,
    encrypt_then_mac: bool,
    /// TLS 1.0 only: the IV for the next record (the last ciphertext block so
    /// far), in the first `cipher.block_len()` bytes.
    implicit_iv: Option<[u8; MAX_BLOCK]>,
}

/// Decrypts whole blocks of `data` in place with `C` in CBC mode.
fn cbc_decrypt<C>(key: &[u8], iv: &[u8], data: &mut [u8])
where
    C: BlockCipherDecrypt + KeyInit,
{
    if let Ok(mut d) = cbc::Decryptor::<C>::new_from_slices(key, iv) {
        let (blocks, _) = Array::slice_as_chunks_mut(data);
        d.decrypt_blocks(blocks);
    }
}

impl CbcDecrypter {
    /// `iv` is the key block's IV: used for TLS 1.0 (`explicit_iv == false`), ignored otherwise.
    /// `None` when the key or IV has a length the cipher does not take.
    pub(crate) fn new(
        cipher: BlockCipher,
        (key, mac_key, iv): (&[u8], &[u8], &[u8]),
        mac: MacAlg,
        encrypt_then_mac: bool,
        explicit_iv: bool,
    ) -> Option<CbcDecrypter> {
        if key.len() != cipher.key_len() {
            return None;
        }
        let implicit_iv = if explicit_iv {
            None
        } else {
            let mut first = [0u8; MAX_BLOCK];
            first
                .get_mut(..cipher.block_len())?
                .copy_from_slice(iv.get(..cipher.block_len())?);
            Some(first)
        };
        Some(CbcDecrypter {
            cipher,
            key: key.into(),
            mac,
            mac_key: mac_key.into(),
            encrypt_then_mac,
            implicit_iv,
        })
    }

    /// Decrypts whole blocks in place; the caller checked alignment.
    fn decrypt_blocks(&self, iv: &[u8], data: &mut [u8]) {
        // Key lengths were checked in `new`, and the IV is one block long.
        let key = &self.key;
        match self.cipher {
            BlockCipher::Aes128 => cbc_decrypt::<aes::Aes128>(key, iv, data),
            BlockCipher::Aes256 => cbc_decrypt::<aes::Aes256>(key, iv, data),
            BlockCipher::TripleDes => cbc_decrypt::<des::TdesEde3>(key, iv, data),
            BlockCipher::Camellia128 => cbc_decrypt::<camellia::Camellia128>(key, iv, data),
            BlockCipher::Camellia256 => cbc_decrypt::<camellia::Camellia256>(key, iv, data),
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

impl CbcDecrypter {
    /// This record's IV: the chained one (TLS 1.0, then chained on from this
    /// record's last ciphertext block) or the explicit one at its start.
    fn record_iv<'i>(
        &mut self,
        body: &[u8],
        enc_end: usize,
        iv: &'i mut [u8; MAX_BLOCK],
    ) -> Result<&'i [u8], DecryptError> {
        let too_short = DecryptError::TooShort { len: body.len() };
        let block = self.cipher.block_len();
        let iv = iv.get_mut(..block).ok_or(too_short)?;
        match &mut self.implicit_iv {
            Some(chained) => {
                iv.copy_from_slice(chained.get(..block).ok_or(too_short)?);
                let start = enc_end.checked_sub(block).ok_or(too_short)?;
                let last = body.get(start..enc_end).ok_or(too_short)?;
                let next = chained.get_mut(..block).ok_or(too_short)?;
                next.copy_from_slice(last);
            }
            None => iv.copy_from_slice(body.get(..block).ok_or(too_short)?),
        }
        Ok(iv)
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
        let block = self.cipher.block_len();
        let iv_len = if self.implicit_iv.is_some() { 0 } else { block };
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
        if ct_len % block != 0 {
            return Err(DecryptError::BlockAlign { len: ct_len });
        }
        if self.encrypt_then_mac {
            let (enc, tag) = body.split_at(enc_end);
            if !self.mac_ok(seq, typ, version, enc, tag) {
                return Err(DecryptError::Auth);
            }
        }
        let mut iv = [0u8; MAX_BLOCK];
        let iv = self.record_iv(body, enc_end, &mut iv)?;
        // iv_len <= enc_end <= body.len() was checked above.
        let data = &mut body[iv_len..enc_end];
        self.decrypt_blocks(iv, data);
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
        let keys = (&[1u8; 16][..], &[2u8; 20][..], &[3u8; 16][..]);
        let mut d =
            CbcDecrypter::new(BlockCipher::Aes128, keys, MacAlg::Sha1, etm, explicit).unwrap();
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
        let keys = (&[1u8; 16][..], &[2u8; 20][..], &[3u8; 16][..]);
        let mut d =
            CbcDecrypter::new(BlockCipher::Aes128, keys, MacAlg::Sha1, false, false).unwrap();
        let mut r1 = seal(&[1; 16], &[2; 20], false, [3; 16], false, b"first", 0);
        let next_iv: [u8; 16] = r1[r1.len() - 16..].try_into().unwrap();
        let mut r2 = seal(&[1; 16], &[2; 20], false, next_iv, false, b"second", 1);
        let p = d.decrypt(23, 0x0303, &mut r1, 0).unwrap();
        assert_eq!(&r1[p.range], b"first");
        let p = d.decrypt(23, 0x0303, &mut r2, 1).unwrap();
        assert_eq!(&r2[p.range], b"second");
    }

    /// Seals with any of the block ciphers (MAC-then-encrypt, explicit IV, SHA-1 HMAC).
    fn seal_with(cipher: BlockCipher, key: &[u8], iv: &[u8], content: &[u8], seq: u64) -> Vec<u8> {
        use aes::cipher::BlockCipherEncrypt;
        fn enc<C: BlockCipherEncrypt + KeyInit>(key: &[u8], iv: &[u8], data: &mut [u8]) {
            let mut e = cbc::Encryptor::<C>::new_from_slices(key, iv).unwrap();
            let (blocks, rest) = Array::slice_as_chunks_mut(data);
            assert!(rest.is_empty());
            e.encrypt_blocks(blocks);
        }
        let mut m = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&[2; 20]).unwrap();
        m.update(&seq.to_be_bytes());
        m.update(&[23, 3, 3]);
        m.update(&(content.len() as u16).to_be_bytes());
        m.update(content);
        let mut plain = content.to_vec();
        plain.extend(m.finalize().into_bytes());
        let block = cipher.block_len();
        let pad = block - 1 - plain.len() % block;
        plain.extend(std::iter::repeat_n(pad as u8, pad + 1));
        match cipher {
            BlockCipher::Aes128 => enc::<aes::Aes128>(key, iv, &mut plain),
            BlockCipher::Aes256 => enc::<aes::Aes256>(key, iv, &mut plain),
            BlockCipher::TripleDes => enc::<des::TdesEde3>(key, iv, &mut plain),
            BlockCipher::Camellia128 => enc::<camellia::Camellia128>(key, iv, &mut plain),
            BlockCipher::Camellia256 => enc::<camellia::Camellia256>(key, iv, &mut plain),
        }
        let mut out = iv.to_vec();
        out.extend(plain);
        out
    }

    /// The block ciphers themselves, by their published known answers: DES
    /// (key 133457799bbcdff1, the FIPS 46 worked example, so 3DES-EDE with
    /// K1 = K2 = K3) and Camellia-128 (RFC 3713 Appendix A).
    #[test]
    fn block_ciphers_match_their_known_answers() {
        use aes::cipher::BlockCipherEncrypt;
        let des_key: Vec<u8> = [0x13, 0x34, 0x57, 0x79, 0x9b, 0xbc, 0xdf, 0xf1].repeat(3);
        let tdes = <des::TdesEde3 as KeyInit>::new_from_slice(&des_key).unwrap();
        let mut block = Array::from([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
        tdes.encrypt_block(&mut block);
        assert_eq!(
            block,
            Array::from([0x85, 0xe8, 0x13, 0x54, 0x0f, 0x0a, 0xb4, 0x05])
        );
        let cam_key = [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54,
            0x32, 0x10,
        ];
        let cam = <camellia::Camellia128 as KeyInit>::new_from_slice(&cam_key).unwrap();
        let mut block = Array::from(cam_key);
        cam.encrypt_block(&mut block);
        let want = [
            0x67, 0x67, 0x31, 0x38, 0x54, 0x96, 0x69, 0x73, 0x08, 0x57, 0x06, 0x56, 0x48, 0xea,
            0xbe, 0x43,
        ];
        assert_eq!(block, Array::from(want));
    }

    #[test]
    fn tdes_and_camellia_records_open_and_faults_are_named() {
        for cipher in [
            BlockCipher::TripleDes,
            BlockCipher::Camellia128,
            BlockCipher::Camellia256,
            BlockCipher::Aes256,
        ] {
            let key = vec![5u8; cipher.key_len()];
            let iv = vec![6u8; cipher.block_len()];
            let material = (&key[..], &[2u8; 20][..], &iv[..]);
            let mut d = CbcDecrypter::new(cipher, material, MacAlg::Sha1, false, true).unwrap();
            let mut rec = seal_with(cipher, &key, &iv, b"<iq type='get'/>", 3);
            let p = d.decrypt(23, 0x0303, &mut rec, 3).unwrap();
            assert_eq!(&rec[p.range], b"<iq type='get'/>", "{cipher:?}");
            let mut rec = seal_with(cipher, &key, &iv, b"<iq type='get'/>", 3);
            assert_eq!(d.decrypt(23, 0x0303, &mut rec, 4), Err(DecryptError::Auth));
            let odd = cipher.block_len() + 20 + 3;
            assert_eq!(
                d.decrypt(23, 0x0303, &mut vec![0u8; odd], 0),
                Err(DecryptError::BlockAlign {
                    len: odd - cipher.block_len()
                })
            );
            // A key of the wrong length is refused, not truncated.
            let short = (&key[1..], &[2u8; 20][..], &iv[..]);
            assert!(CbcDecrypter::new(cipher, short, MacAlg::Sha1, false, true).is_none());
        }
    }

    #[test]
    fn tls10_chains_8_byte_blocks_for_3des() {
        let cipher = BlockCipher::TripleDes;
        let (key, iv) = ([5u8; 24], [6u8; 8]);
        let material = (&key[..], &[2u8; 20][..], &iv[..]);
        let mut d = CbcDecrypter::new(cipher, material, MacAlg::Sha1, false, false).unwrap();
        // TLS 1.0 records carry no IV: drop the one seal_with puts first.
        let mut r1 = seal_with(cipher, &key, &iv, b"first record", 0).split_off(8);
        let next_iv = r1[r1.len() - 8..].to_vec();
        let mut r2 = seal_with(cipher, &key, &next_iv, b"second", 1).split_off(8);
        let p = d.decrypt(23, 0x0303, &mut r1, 0).unwrap();
        assert_eq!(&r1[p.range], b"first record");
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
