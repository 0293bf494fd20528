//! Session tests on hand-built TLS 1.2 connections for what rustls cannot
//! produce: the DHE-DSS and ECDH suites, 3DES, Camellia (CBC and GCM), and
//! DEFLATE record compression (RFC 3749). Records are sealed here with the
//! RustCrypto and `ring` primitives from a key block derived as RFC 5246
//! §6.3 says, then fed to a [`Session`] holding only the key log line.

use aes::cipher::array::Array;
use aes::cipher::{BlockCipherEncrypt, BlockModeEncrypt, KeyInit, KeyIvInit};
use flate2::{Compress, Compression, FlushCompress};
use hmac::Mac;

use super::crypto::{key_block, tls12_aad, PrfKind};
use super::keylog::{KeyLog, KeySource};
use super::session::Session;
use super::suites::{self, Aead, BlockCipher, MacAlg, Protection};
use super::summary::{Decrypted, GapReason};
use super::testutil::Collect;
use crate::limits::Limits;
use crate::position::{Dir, FrameRef, Timestamp};

const CLIENT_RANDOM: [u8; 32] = [0x11; 32];
const SERVER_RANDOM: [u8; 32] = [0x22; 32];
const MASTER: [u8; 48] = [0x4d; 48];

pub(super) fn record(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![typ, 3, 3];
    r.extend((body.len() as u16).to_be_bytes());
    r.extend(body);
    r
}

fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![typ];
    m.extend(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend(body);
    m
}

/// ClientHello offering `suite` and the compression methods (RFC 5246 §7.4.1.2).
pub(super) fn client_hello(suite: u16, methods: &[u8]) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend(CLIENT_RANDOM);
    b.push(0);
    b.extend([0, 2]);
    b.extend(suite.to_be_bytes());
    b.push(methods.len() as u8);
    b.extend(methods);
    record(22, &handshake(1, &b))
}

pub(super) fn server_hello(suite: u16, method: u8) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend(SERVER_RANDOM);
    b.push(0);
    b.extend(suite.to_be_bytes());
    b.push(method);
    record(22, &handshake(2, &b))
}

fn hmac_of(mac: MacAlg, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut m = <M as KeyInit>::new_from_slice(key).unwrap();
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().to_vec()
    }
    match mac {
        MacAlg::Sha1 => run::<hmac::Hmac<sha1::Sha1>>(key, parts),
        MacAlg::Sha256 => run::<hmac::Hmac<sha2::Sha256>>(key, parts),
        MacAlg::Sha384 => run::<hmac::Hmac<sha2::Sha384>>(key, parts),
    }
}

fn cbc_encrypt(cipher: BlockCipher, key: &[u8], iv: &[u8], data: &mut [u8]) {
    fn enc<C: BlockCipherEncrypt + KeyInit>(key: &[u8], iv: &[u8], data: &mut [u8]) {
        let mut e = cbc::Encryptor::<C>::new_from_slices(key, iv).unwrap();
        let (blocks, rest) = Array::slice_as_chunks_mut(data);
        assert!(rest.is_empty());
        e.encrypt_blocks(blocks);
    }
    match cipher {
        BlockCipher::Aes128 => enc::<aes::Aes128>(key, iv, data),
        BlockCipher::Aes256 => enc::<aes::Aes256>(key, iv, data),
        BlockCipher::TripleDes => enc::<des::TdesEde3>(key, iv, data),
        BlockCipher::Camellia128 => enc::<camellia::Camellia128>(key, iv, data),
        BlockCipher::Camellia256 => enc::<camellia::Camellia256>(key, iv, data),
    }
}

/// One direction's write state: keys from the key block, sequence number,
/// and the DEFLATE stream when compression was negotiated.
struct Writer {
    protection: Protection,
    mac_key: Vec<u8>,
    key: Vec<u8>,
    iv: Vec<u8>,
    seq: u64,
    deflate: Option<Compress>,
}

impl Writer {
    fn new(suite: u16, dir: Dir, deflate: bool) -> Writer {
        let s = suites::lookup(suite).unwrap();
        let shape = match s.protection {
            Protection::Cbc { cipher, mac } => (mac.len(), cipher.key_len(), cipher.block_len()),
            Protection::Aead(a) => (0, a.key_len(), 4),
            Protection::CamelliaGcm { key_len } => (0, key_len, 4),
            Protection::Unsupported(_) => panic!("no writer for {}", s.name),
        };
        let kb = key_block(
            PrfKind::Tls12(s.hash),
            &MASTER,
            &CLIENT_RANDOM,
            &SERVER_RANDOM,
            shape,
        );
        let (mac_key, key, iv) = match dir {
            Dir::ClientToServer => (kb.client_mac, kb.client_key, kb.client_iv),
            Dir::ServerToClient => (kb.server_mac, kb.server_key, kb.server_iv),
        };
        Writer {
            protection: s.protection,
            mac_key,
            key,
            iv,
            seq: 0,
            deflate: deflate.then(|| Compress::new(Compression::default(), true)),
        }
    }

    /// TLSPlaintext → TLSCompressed → TLSCiphertext, as one record.
    fn seal(&mut self, typ: u8, text: &[u8]) -> Vec<u8> {
        let fragment = match &mut self.deflate {
            Some(z) => {
                let mut out = Vec::with_capacity(text.len() + 64);
                z.compress_vec(text, &mut out, FlushCompress::Sync).unwrap();
                out
            }
            None => text.to_vec(),
        };
        let seq = self.seq;
        self.seq += 1;
        let body = match self.protection {
            Protection::Cbc { cipher, mac } => self.seal_cbc(cipher, mac, typ, &fragment, seq),
            Protection::Aead(aead) => self.seal_gcm(aead, typ, &fragment, seq),
            Protection::CamelliaGcm { .. } => self.seal_camellia_gcm(typ, &fragment, seq),
            Protection::Unsupported(_) => unreachable!(),
        };
        record(typ, &body)
    }

    fn seal_cbc(
        &self,
        cipher: BlockCipher,
        mac: MacAlg,
        typ: u8,
        data: &[u8],
        seq: u64,
    ) -> Vec<u8> {
        let len = (data.len() as u16).to_be_bytes();
        let tag = hmac_of(
            mac,
            &self.mac_key,
            &[&seq.to_be_bytes(), &[typ, 3, 3], &len, data],
        );
        let mut plain = data.to_vec();
        plain.extend(tag);
        let block = cipher.block_len();
        let pad = block - 1 - plain.len() % block;
        plain.extend(std::iter::repeat_n(pad as u8, pad + 1));
        let explicit_iv: Vec<u8> = (0..block).map(|i| (i as u8) ^ (seq as u8)).collect();
        cbc_encrypt(cipher, &self.key, &explicit_iv, &mut plain);
        let mut out = explicit_iv;
        out.extend(plain);
        out
    }

    fn seal_gcm(&self, aead: Aead, typ: u8, data: &[u8], seq: u64) -> Vec<u8> {
        use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
        let alg = if aead == Aead::Aes128Gcm {
            &AES_128_GCM
        } else {
            &AES_256_GCM
        };
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&self.iv);
        nonce[4..].copy_from_slice(&seq.to_be_bytes());
        let key = LessSafeKey::new(UnboundKey::new(alg, &self.key).unwrap());
        let mut sealed = data.to_vec();
        let aad = tls12_aad(seq, typ, 0x0303, data.len());
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut sealed,
        )
        .unwrap();
        let mut out = seq.to_be_bytes().to_vec();
        out.extend(sealed);
        out
    }

    fn seal_camellia_gcm(&self, typ: u8, data: &[u8], seq: u64) -> Vec<u8> {
        use aes_gcm::aead::consts::U12;
        use aes_gcm::aead::AeadInOut;
        use aes_gcm::AesGcm;
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&self.iv);
        nonce[4..].copy_from_slice(&seq.to_be_bytes());
        let nonce = Array::from(nonce);
        let aad = tls12_aad(seq, typ, 0x0303, data.len());
        let mut sealed = data.to_vec();
        let tag = if self.key.len() == 16 {
            AesGcm::<camellia::Camellia128, U12>::new_from_slice(&self.key)
                .unwrap()
                .encrypt_inout_detached(&nonce, &aad, sealed.as_mut_slice().into())
        } else {
            AesGcm::<camellia::Camellia256, U12>::new_from_slice(&self.key)
                .unwrap()
                .encrypt_inout_detached(&nonce, &aad, sealed.as_mut_slice().into())
        }
        .unwrap();
        let mut out = seq.to_be_bytes().to_vec();
        out.extend(sealed);
        out.extend_from_slice(&tag);
        out
    }
}

/// A whole connection: (direction, bytes) per frame, and what each side sent.
struct Wire {
    frames: Vec<(Dir, Vec<u8>)>,
    sent: [Vec<u8>; 2],
}

/// Hello, ChangeCipherSpec and Finished each way, then application data;
/// `method` is the ServerHello's compression method.
fn connection(suite: u16, method: u8, texts: &[(Dir, &[u8])]) -> Wire {
    let deflate = method == 1;
    let mut client = Writer::new(suite, Dir::ClientToServer, deflate);
    let mut server = Writer::new(suite, Dir::ServerToClient, deflate);
    let ccs = record(20, &[1]);
    let finished = handshake(20, &[0x5f; 12]);
    let mut frames = vec![
        (Dir::ClientToServer, client_hello(suite, &[method, 0])),
        (Dir::ServerToClient, server_hello(suite, method)),
    ];
    let mut c = ccs.clone();
    c.extend(client.seal(22, &finished));
    frames.push((Dir::ClientToServer, c));
    let mut s = ccs;
    s.extend(server.seal(22, &finished));
    frames.push((Dir::ServerToClient, s));
    let mut sent = [Vec::new(), Vec::new()];
    for &(dir, text) in texts {
        let writer = if dir == Dir::ClientToServer {
            &mut client
        } else {
            &mut server
        };
        frames.push((dir, writer.seal(23, text)));
        sent[dir.index()].extend_from_slice(text);
    }
    Wire { frames, sent }
}

fn keys() -> KeyLog {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let line = format!("CLIENT_RANDOM {} {}\n", hex(&CLIENT_RANDOM), hex(&MASTER));
    let mut k = KeyLog::new();
    k.add_text(
        line.as_bytes(),
        KeySource::Named("hand-built".into()),
        &mut Vec::new(),
    );
    k
}

fn replay(wire: &Wire, split: impl Fn(&[u8]) -> Vec<&[u8]>) -> (Collect, super::summary::Summary) {
    let keys = keys();
    let mut s = Session::new(1, &Limits::default());
    let mut sink = Collect::default();
    for (i, (dir, bytes)) in wire.frames.iter().enumerate() {
        for piece in split(bytes) {
            let at = FrameRef::new(i as u64 + 1, Timestamp::default());
            s.on_data(&keys, *dir, at, piece, &mut sink);
        }
    }
    s.finish(&mut sink);
    (sink, s.summary().clone())
}

/// Feeds whole frames to a session holding the key log line; returns the sink and summary.
pub(super) fn replay_frames(frames: &[(Dir, Vec<u8>)]) -> (Collect, super::summary::Summary) {
    let wire = Wire {
        frames: frames.to_vec(),
        sent: [Vec::new(), Vec::new()],
    };
    replay(&wire, |b| vec![b])
}

const TALK: &[(Dir, &[u8])] = &[
    (
        Dir::ClientToServer,
        b"<stream:stream to='finesse.example.com'>",
    ),
    (
        Dir::ServerToClient,
        b"<stream:stream from='finesse.example.com'>",
    ),
    (Dir::ClientToServer, b"<presence/>"),
    (Dir::ClientToServer, b"<presence/>"),
];

#[test]
fn every_added_suite_decrypts_a_whole_session() {
    let added = [
        0x0040, 0x006a, 0x00a2, 0x00a3, 0xc025, 0xc026, 0xc029,
        0xc02a, // AES, other key exchanges
        0x000a, 0x0013, 0x0016, 0xc008, 0xc012, // 3DES-EDE-CBC
        0x0041, 0x0084, 0x00ba, 0x00c0, 0xc072, 0xc073, 0xc076, 0xc077, // Camellia-CBC
        0xc07a, 0xc07b, 0xc086, 0xc087, 0xc08a, 0xc08b, // Camellia-GCM
    ];
    for suite in added {
        let wire = connection(suite, 0, TALK);
        let (sink, summary) = replay(&wire, |b| vec![b]);
        let name = suites::name(suite);
        assert_eq!(sink.plain, wire.sent, "{name}: {:#?}", sink.findings);
        assert!(sink.findings.is_empty(), "{name}: {:#?}", sink.findings);
        assert_eq!(summary.decrypted, Decrypted::Yes, "{name}");
        assert_eq!(summary.suite.as_deref(), Some(name.as_str()));
        assert_eq!(summary.compression, None);
        // Finished and three application records from the client.
        assert_eq!(summary.c2s.records_decrypted, 4, "{name}");
    }
}

#[test]
fn a_wrong_master_secret_fails_authentication_not_silently() {
    let wire = connection(0x0016, 0, TALK);
    let mut keys = KeyLog::new();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let line = format!(
        "CLIENT_RANDOM {} {}\n",
        hex(&CLIENT_RANDOM),
        hex(&[0x4e; 48])
    );
    keys.add_text(
        line.as_bytes(),
        KeySource::Named("wrong".into()),
        &mut Vec::new(),
    );
    let mut s = Session::new(1, &Limits::default());
    let mut sink = Collect::default();
    for (i, (dir, bytes)) in wire.frames.iter().enumerate() {
        s.on_data(
            &keys,
            *dir,
            FrameRef::new(i as u64 + 1, Timestamp::default()),
            bytes,
            &mut sink,
        );
    }
    assert!(sink.plain.iter().all(Vec::is_empty));
    assert_eq!(s.summary().decrypted, Decrypted::No);
    assert!(sink
        .gaps
        .iter()
        .all(|g| g.3 == GapReason::AuthenticationFailed));
}

#[test]
fn deflate_compressed_session_gives_the_exact_plaintext_in_every_chunking() {
    let wire = connection(0xc02f, 1, TALK);
    let reference = replay(&wire, |b| vec![b]);
    let (sink, summary) = &reference;
    assert_eq!(sink.plain, wire.sent, "{:#?}", sink.findings);
    assert!(sink.findings.is_empty(), "{:#?}", sink.findings);
    assert_eq!(summary.decrypted, Decrypted::Yes);
    assert_eq!(summary.compression.as_deref(), Some("deflate"));
    assert!(summary.describe().contains("compression deflate"));
    // The compressed Finished was parsed as a handshake message (no bad_handshake).
    assert!(sink
        .events
        .iter()
        .any(|e| matches!(e.kind, super::summary::EventKind::Finished)));
    let bytewise = replay(&wire, |b| b.chunks(1).collect());
    assert_eq!(format!("{:?}", bytewise.0), format!("{:?}", reference.0));
    assert_eq!(bytewise.1, reference.1);
    let longest = wire.frames.iter().map(|f| f.1.len()).max().unwrap();
    for cut in 1..longest {
        let split = replay(&wire, |b| {
            let (a, z) = b.split_at(cut.min(b.len()));
            vec![a, z]
        });
        assert_eq!(
            format!("{:?}", split.0),
            format!("{:?}", reference.0),
            "cut {cut}"
        );
        assert_eq!(split.1, reference.1, "cut {cut}");
    }
    // CBC with DEFLATE too: compression sits between the cipher and the handshake.
    let wire = connection(0x000a, 1, TALK);
    let (sink, _) = replay(&wire, |b| vec![b]);
    assert_eq!(sink.plain, wire.sent);
}

#[test]
fn a_decompression_bomb_is_a_finding_and_nothing_more_is_passed_up() {
    static ZEROS: [u8; 1 << 20] = [0; 1 << 20];
    let texts: &[(Dir, &[u8])] = &[
        (Dir::ServerToClient, b"<ok/>"),
        (Dir::ServerToClient, &ZEROS),
        (Dir::ServerToClient, b"<after/>"),
    ];
    let wire = connection(0xc030, 1, texts);
    let (sink, summary) = replay(&wire, |b| vec![b]);
    assert_eq!(sink.plain[1], b"<ok/>");
    let codes: Vec<&str> = sink.findings.iter().map(|f| f.code.code()).collect();
    assert_eq!(codes, ["tls.decompression_bomb"]);
    assert!(sink.findings[0].message.contains("decompression bomb"));
    let reasons: Vec<GapReason> = sink.gaps.iter().map(|g| g.3).collect();
    assert_eq!(reasons, [GapReason::DecompressionFailed; 2]);
    assert_eq!(summary.decrypted, Decrypted::Partly);
    assert!(summary.reason.unwrap().contains("not decompressed"));
}

#[test]
fn a_gap_in_a_compressed_direction_loses_the_context_and_says_so() {
    let texts: &[(Dir, &[u8])] = &[
        (Dir::ServerToClient, b"<presence from='a'/>"),
        (Dir::ServerToClient, b"<presence from='b'/>"),
        (Dir::ServerToClient, b"<presence from='a'/>"),
    ];
    let wire = connection(0xc02f, 1, texts);
    let keys = keys();
    let mut s = Session::new(1, &Limits::default());
    let mut sink = Collect::default();
    let lost = wire.frames.len() - 2;
    for (i, (dir, bytes)) in wire.frames.iter().enumerate() {
        let at = FrameRef::new(i as u64 + 1, Timestamp::default());
        if i == lost {
            s.on_data(&keys, *dir, at, &bytes[..8], &mut sink);
            s.on_gap(*dir, at, (bytes.len() - 8) as u64, &mut sink);
        } else {
            s.on_data(&keys, *dir, at, bytes, &mut sink);
        }
    }
    // The third record refers back into the lost one: it is not guessed at.
    assert_eq!(sink.plain[1], b"<presence from='a'/>");
    let codes: Vec<&str> = sink.findings.iter().map(|f| f.code.code()).collect();
    assert_eq!(codes, ["tls.gap", "tls.deflate_context_lost"]);
    assert_eq!(sink.gaps.last().unwrap().3, GapReason::DecompressionFailed);
}

#[test]
fn an_unknown_compression_method_is_reported_and_nothing_is_passed_up() {
    // The sender compresses with something xmppcap cannot undo (here: nothing at all).
    let wire = connection(0xc02f, 64, TALK);
    let (sink, summary) = replay(&wire, |b| vec![b]);
    assert!(sink.plain.iter().all(Vec::is_empty));
    let codes: Vec<&str> = sink.findings.iter().map(|f| f.code.code()).collect();
    assert_eq!(codes, ["tls.unsupported_compression"]);
    assert_eq!(
        summary.reason.as_deref(),
        Some("records compressed with LZS (method 64): not decompressed, so not decrypted")
    );
    assert_eq!(summary.compression.as_deref(), Some("LZS (method 64)"));
    assert!(sink
        .gaps
        .iter()
        .all(|g| g.3 == GapReason::UnsupportedCompression));
    assert_eq!(summary.decrypted, Decrypted::No);
}

#[test]
fn rc4_says_the_cipher_is_not_decrypted_not_that_a_key_is_missing() {
    let mut frames = vec![
        (Dir::ClientToServer, client_hello(0x0005, &[0])),
        (Dir::ServerToClient, server_hello(0x0005, 0)),
    ];
    frames.push((Dir::ClientToServer, record(20, &[1])));
    frames.push((Dir::ClientToServer, record(23, &[0x42; 40])));
    let wire = Wire {
        frames,
        sent: [Vec::new(), Vec::new()],
    };
    let (sink, summary) = replay(&wire, |b| vec![b]);
    let reason = summary.reason.unwrap();
    assert!(
        reason.starts_with("xmppcap does not decrypt RC4"),
        "{reason}"
    );
    assert!(sink.gaps.iter().all(|g| g.3 == GapReason::UnsupportedSuite));
    assert_eq!(sink.gaps.len(), 1);
}

#[test]
fn damaged_compressed_and_camellia_records_never_panic() {
    for (suite, method) in [(0xc02f, 1), (0xc08b, 1), (0x0016, 1), (0xc077, 0)] {
        let wire = connection(suite, method, TALK);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for round in 0..200usize {
            let mut damaged = Wire {
                frames: wire.frames.clone(),
                sent: [Vec::new(), Vec::new()],
            };
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let frame = (seed as usize) % damaged.frames.len();
            let bytes = &mut damaged.frames[frame].1;
            let at = (seed >> 20) as usize % bytes.len();
            bytes[at] ^= 1 << (round % 8);
            let (sink, _) = replay(&damaged, |b| b.chunks(7).collect());
            // Whatever was damaged, each record reaching the next stage is one that was sent.
            let mut offsets = [0usize; 2];
            for &(dir, _, len) in &sink.deliveries {
                let i = dir.index();
                let piece = &sink.plain[i][offsets[i]..offsets[i] + len];
                offsets[i] += len;
                assert!(
                    TALK.iter().any(|t| t.0 == dir && t.1 == piece),
                    "suite {suite:04x} frame {frame} byte {at} bit {}: {:?}",
                    round % 8,
                    String::from_utf8_lossy(piece)
                );
            }
        }
    }
}
