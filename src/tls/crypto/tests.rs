//! Crypto tests: RFC 8448 key schedule and record, KeyUpdate, the TLS 1.0/1.2 PRFs, key blocks.

use super::*;

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// RFC 8448 §3 "Simple 1-RTT Handshake".
const SERVER_HS_SECRET: &str = "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4
        e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38";
const CLIENT_HS_SECRET: &str = "b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f
        3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21";
const SERVER_APP_SECRET: &str = "a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32
        82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43";

fn derive(secret: &str) -> (Vec<u8>, Vec<u8>) {
    let secret = unhex(secret);
    let mut key = [0u8; 16];
    let mut iv = [0u8; 12];
    hkdf_expand_label(Hash::Sha256, &secret, b"key", &[], &mut key);
    hkdf_expand_label(Hash::Sha256, &secret, b"iv", &[], &mut iv);
    (key.to_vec(), iv.to_vec())
}

#[test]
fn rfc8448_traffic_keys() {
    // RFC 8448 §3: "derive write traffic keys for handshake data" (server and client).
    assert_eq!(
        derive(SERVER_HS_SECRET),
        (
            unhex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc"),
            unhex("5d 31 3e b2 67 12 76 ee 13 00 0b 30")
        )
    );
    assert_eq!(
        derive(CLIENT_HS_SECRET),
        (
            unhex("db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01"),
            unhex("5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f")
        )
    );
    // "derive write traffic keys for application data" (server).
    assert_eq!(
        derive(SERVER_APP_SECRET),
        (
            unhex("9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56"),
            unhex("cf 78 2b 88 dd 83 54 9a ad f1 e9 84")
        )
    );
}

// RFC 8448 §3: the server's encrypted handshake record ("complete record"), and
// the start of its plaintext (EncryptedExtensions).
const SERVER_HS_RECORD: &str = "
    17 03 03 02 a2 d1 ff 33 4a 56 f5 bf f6 59 4a 07
    cc 87 b5 80 23 3f 50 0f 45 e4 89 e7 f3 3a f3 5e
    df 78 69 fc f4 0a a4 0a a2 b8 ea 73 f8 48 a7 ca
    07 61 2e f9 f9 45 cb 96 0b 40 68 90 51 23 ea 78
    b1 11 b4 29 ba 91 91 cd 05 d2 a3 89 28 0f 52 61
    34 aa dc 7f c7 8c 4b 72 9d f8 28 b5 ec f7 b1 3b
    d9 ae fb 0e 57 f2 71 58 5b 8e a9 bb 35 5c 7c 79
    02 07 16 cf b9 b1 18 3e f3 ab 20 e3 7d 57 a6 b9
    d7 47 76 09 ae e6 e1 22 a4 cf 51 42 73 25 25 0c
    7d 0e 50 92 89 44 4c 9b 3a 64 8f 1d 71 03 5d 2e
    d6 5b 0e 3c dd 0c ba e8 bf 2d 0b 22 78 12 cb b3
    60 98 72 55 cc 74 41 10 c4 53 ba a4 fc d6 10 92
    8d 80 98 10 e4 b7 ed 1a 8f d9 91 f0 6a a6 24 82
    04 79 7e 36 a6 a7 3b 70 a2 55 9c 09 ea d6 86 94
    5b a2 46 ab 66 e5 ed d8 04 4b 4c 6d e3 fc f2 a8
    94 41 ac 66 27 2f d8 fb 33 0e f8 19 05 79 b3 68
    45 96 c9 60 bd 59 6e ea 52 0a 56 a8 d6 50 f5 63
    aa d2 74 09 96 0d ca 63 d3 e6 88 61 1e a5 e2 2f
    44 15 cf 95 38 d5 1a 20 0c 27 03 42 72 96 8a 26
    4e d6 54 0c 84 83 8d 89 f7 2c 24 46 1a ad 6d 26
    f5 9e ca ba 9a cb bb 31 7b 66 d9 02 f4 f2 92 a3
    6a c1 b6 39 c6 37 ce 34 31 17 b6 59 62 22 45 31
    7b 49 ee da 0c 62 58 f1 00 d7 d9 61 ff b1 38 64
    7e 92 ea 33 0f ae ea 6d fa 31 c7 a8 4d c3 bd 7e
    1b 7a 6c 71 78 af 36 87 90 18 e3 f2 52 10 7f 24
    3d 24 3d c7 33 9d 56 84 c8 b0 37 8b f3 02 44 da
    8c 87 c8 43 f5 e5 6e b4 c5 e8 28 0a 2b 48 05 2c
    f9 3b 16 49 9a 66 db 7c ca 71 e4 59 94 26 f7 d4
    61 e6 6f 99 88 2b d8 9f c5 08 00 be cc a6 2d 6c
    74 11 6d bd 29 72 fd a1 fa 80 f8 5d f8 81 ed be
    5a 37 66 89 36 b3 35 58 3b 59 91 86 dc 5c 69 18
    a3 96 fa 48 a1 81 d6 b6 fa 4f 9d 62 d5 13 af bb
    99 2f 2b 99 2f 67 f8 af e6 7f 76 91 3f a3 88 cb
    56 30 c8 ca 01 e0 c6 5d 11 c6 6a 1e 2a c4 c8 59
    77 b7 c7 a6 99 9b bf 10 dc 35 ae 69 f5 51 56 14
    63 6c 0b 9b 68 c1 9e d2 e3 1c 0b 3b 66 76 30 38
    eb ba 42 f3 b3 8e dc 03 99 f3 a9 f2 3f aa 63 97
    8c 31 7f c9 fa 66 a7 3f 60 f0 50 4d e9 3b 5b 84
    5e 27 55 92 c1 23 35 ee 34 0b bc 4f dd d5 02 78
    40 16 e4 b3 be 7e f0 4d da 49 f4 b4 40 a3 0c b5
    d2 af 93 98 28 fd 4a e3 79 4e 44 f9 4d f5 a6 31
    ed e4 2c 17 19 bf da bf 02 53 fe 51 75 be 89 8e
    75 0e dc 53 37 0d 2b";

#[test]
fn rfc8448_server_handshake_record_decrypts() {
    let record = unhex(SERVER_HS_RECORD);
    let mut body = record[5..].to_vec();
    let mut d = tls13_decrypter(Aead::Aes128Gcm, &unhex(SERVER_HS_SECRET), false).unwrap();
    let plain = d.decrypt(23, 0x0303, &mut body, 0).unwrap();
    assert_eq!(plain.typ, 22, "inner type: handshake");
    let text = &body[plain.range.clone()];
    // RFC 8448 §3 "EncryptedExtensions" (first 8 bytes of the plaintext).
    assert_eq!(&text[..8], &unhex("08 00 00 24 00 22 00 0a")[..]);
    assert_eq!(text.len(), 0x2a2 - 17);
    // Wrong sequence number: the tag says so.
    let mut body = record[5..].to_vec();
    assert_eq!(d.decrypt(23, 0x0303, &mut body, 1), Err(DecryptError::Auth));
}

#[test]
fn key_update_is_hkdf_expand_label_traffic_upd() {
    // RFC 8446 §7.2: application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length)
    let s0 = Secret::new(&unhex(SERVER_APP_SECRET));
    let s1 = tls13_next_secret(&s0);
    let mut expect = [0u8; 32];
    hkdf_expand_label(Hash::Sha256, s0.bytes(), b"traffic upd", &[], &mut expect);
    assert_eq!(s1.bytes(), &expect);
    assert_ne!(s1.bytes(), s0.bytes());
}

#[test]
fn ring_aead_matches_rustls_decrypter() {
    // Pins the choice of `ring` for AEAD opening: for a 32-byte key, where rustls's
    // public `AeadKey::from([u8; 32])` works, rustls's TLS 1.3 decrypter and ours agree.
    use rustls::crypto::cipher::{AeadKey, InboundOpaqueMessage, Iv};
    use rustls::crypto::ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256;
    use rustls::{ContentType, ProtocolVersion};
    let key = [7u8; 32];
    let iv = [9u8; 12];
    let sealing = LessSafeKey::new(UnboundKey::new(&aead::CHACHA20_POLY1305, &key).unwrap());
    let mut rec = b"hello\x17".to_vec();
    let aad = [23u8, 3, 3, 0, 22];
    sealing
        .seal_in_place_append_tag(xor_nonce(&iv, 5), Aad::from(aad), &mut rec)
        .unwrap();
    let SupportedCipherSuite::Tls13(suite) = TLS13_CHACHA20_POLY1305_SHA256 else {
        unreachable!()
    };
    let mut theirs = suite.aead_alg.decrypter(AeadKey::from(key), Iv::new(iv));
    let mut copy = rec.clone();
    let msg = InboundOpaqueMessage::new(
        ContentType::ApplicationData,
        ProtocolVersion::TLSv1_2,
        &mut copy,
    );
    let plain = theirs.decrypt(msg, 5).unwrap();
    assert_eq!(plain.payload, b"hello");
    let mut ours = Tls13Decrypter {
        key: aead_key(Aead::ChaCha20Poly1305, &key).unwrap(),
        stream: StreamKey::new(Aead::ChaCha20Poly1305, &key),
        iv,
        empty_aad: false,
    };
    let p = ours.decrypt(23, 0x0303, &mut rec, 5).unwrap();
    assert_eq!((p.typ, &rec[p.range]), (23, &b"hello"[..]));
}

#[test]
fn tls10_prf_matches_rfc2246_definition_vector() {
    // The TLS 1.0 PRF test vector (secret 48 x 0xab, label "PRF Testvector", seed
    // 64 x 0xcd, 104 bytes), cross-checked with Python's hmac module from RFC 2246 §5.
    let mut out = [0u8; 104];
    prf(
        PrfKind::Md5Sha1,
        &[0xab; 48],
        b"PRF Testvector",
        &[0xcd; 64],
        &mut out,
    );
    assert_eq!(
        &out[..16],
        &unhex("d3 d4 d1 e3 49 b5 d5 15 04 46 66 d5 1d e3 2b ab")[..]
    );
    assert_eq!(
        &out[88..],
        &unhex("de 98 10 45 4b 8b 2d 8f 1a fb c6 55 a8 c9 a0 13")[..]
    );
}

#[test]
fn tls12_prf_sha256_vector() {
    // TLS 1.2 PRF-SHA256 known answer (IETF TLS WG mailing list, the vector rustls's
    // own tests use): secret 9b be 43 6b..., label "test label", 100 bytes.
    let secret = unhex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
    let seed = unhex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
    let mut out = [0u8; 100];
    prf(
        PrfKind::Tls12(Hash::Sha256),
        &secret,
        b"test label",
        &seed,
        &mut out,
    );
    assert_eq!(
        &out[..16],
        &unhex("e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53")[..]
    );
    assert_eq!(&out[96..], &unhex("87 34 7b 66")[..]);
}

#[test]
fn key_block_splits_in_rfc_order() {
    let kb = key_block(
        PrfKind::Tls12(Hash::Sha256),
        &[1; 48],
        &[2; 32],
        &[3; 32],
        (20, 16, 16),
    );
    let mut whole = [0u8; 104];
    let mut seed = [3u8; 64];
    seed[32..].fill(2);
    prf(
        PrfKind::Tls12(Hash::Sha256),
        &[1; 48],
        b"key expansion",
        &seed,
        &mut whole,
    );
    assert_eq!(kb.client_mac, &whole[..20]);
    assert_eq!(kb.server_iv, &whole[88..]);
    assert_eq!(format!("{kb:?}"), "KeyBlock(redacted)");
}
