//! TLS 1.2 fixtures rustls cannot make (issue 15): DEFLATE record
//! compression, and the suites added to the analyzer (AES-CBC with SHA-256
//! and SHA-384 under DHE-DSS and static ECDH, AES-256-GCM-SHA384 under
//! DHE-DSS, 3DES, Camellia), sealed by [`crate::tls12_sealed`].
//!
//! Takes nothing; gives [`SPECS`]. The handshake is a real message sequence
//! (ClientHello with SNI, ServerHello, the test PKI's Certificate,
//! ServerHelloDone, ClientKeyExchange, ChangeCipherSpec and Finished with
//! verify_data computed over the transcript), but the key exchange values
//! are seeded random bytes and there is no ServerKeyExchange: the key log's
//! `CLIENT_RANDOM` line carries the master secret, which is all a decoder
//! needs. Every session is the Finesse REST GET and its 200 response.

use fastrand::Rng;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::capture::Capture;
use super::catalog::{pcapng_bytes, Fixture, FixtureSpec};
use super::content::{rest_get_user, rest_user_response, DOMAIN};
use super::fixtures_tls::finesse_conv;
use super::tcp::Conversation;
use super::tls12_sealed::{
    prf, record, transcript_hash, BlockCipher, MacHash, PrfHash, Protection, Suite, Writer,
};
use super::truth::DirTruth;
use super::wire::Wire;
use super::Error;
use crate::Dir;

const C2S: Dir = Dir::ClientToServer;
const S2C: Dir = Dir::ServerToClient;
const MS: i64 = 1_000_000;
const CERT_PEM: &[u8] = include_bytes!("../../../keys/finesse.pem");
/// The test CA's certificate for finesse1, valid only during 2024.
const EXPIRED_PEM: &[u8] = include_bytes!("../../../keys/finesse-expired.pem");
/// The test CA's certificate for another name (`finesse-old.example.com`).
const OTHER_NAME_PEM: &[u8] = include_bytes!("../../../keys/finesse-old-name.pem");

/// The hand-sealed TLS 1.2 fixtures.
pub(crate) const SPECS: &[FixtureSpec] = &[
    FixtureSpec {
        name: "tls12-deflate.pcapng",
        about: "TLS 1.2 ECDHE_RSA_WITH_AES_128_GCM_SHA256 with DEFLATE record compression (RFC 3749)",
        build: deflate,
    },
    FixtureSpec {
        name: "tls12-suites.pcapng",
        about: "five TLS 1.2 connections, one per added suite family: AES-CBC-SHA256 (DHE-DSS), AES-256-GCM-SHA384 (DHE-DSS), AES-256-CBC-SHA384 (ECDH-RSA), 3DES, Camellia-256-CBC-SHA384",
        build: suites,
    },
    FixtureSpec {
        name: "tls12-bad-certs.pcapng",
        about: "two TLS 1.2 REST connections to finesse1.example.com whose certificates are seen in clear: one expired (valid during 2024 only), one naming finesse-old.example.com",
        build: bad_certs,
    },
];

const GCM128: Suite = Suite {
    id: 0xc02f,
    name: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    prf: PrfHash::Sha256,
    protection: Protection::AesGcm { aes256: false },
    ecdh: true,
};

/// One suite per family the analyzer added (issue 15 item 5).
const ADDED: [Suite; 5] = [
    Suite {
        id: 0x0040,
        name: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
        prf: PrfHash::Sha256,
        protection: Protection::Cbc(BlockCipher::Aes128, MacHash::Sha256),
        ecdh: false,
    },
    Suite {
        id: 0x00a3,
        name: "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384",
        prf: PrfHash::Sha384,
        protection: Protection::AesGcm { aes256: true },
        ecdh: false,
    },
    Suite {
        id: 0xc02a,
        name: "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384",
        prf: PrfHash::Sha384,
        protection: Protection::Cbc(BlockCipher::Aes256, MacHash::Sha384),
        ecdh: true,
    },
    Suite {
        id: 0x0016,
        name: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
        prf: PrfHash::Sha256,
        protection: Protection::Cbc(BlockCipher::TripleDes, MacHash::Sha1),
        ecdh: false,
    },
    Suite {
        id: 0xc073,
        name: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384",
        prf: PrfHash::Sha384,
        protection: Protection::Cbc(BlockCipher::Camellia256, MacHash::Sha384),
        ecdh: true,
    },
];

fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap_or(0).to_be_bytes();
    let mut m = vec![typ, len[1], len[2], len[3]];
    m.extend_from_slice(body);
    m
}

fn u16_len(b: &[u8]) -> [u8; 2] {
    u16::try_from(b.len()).unwrap_or(u16::MAX).to_be_bytes()
}

fn random(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.u8(..)).collect()
}

/// RFC 5246 §7.4.1.2 with RFC 6066 server_name.
fn client_hello(random: &[u8], suite: u16, methods: &[u8]) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(random);
    b.push(0);
    b.extend_from_slice(&[0, 2]);
    b.extend_from_slice(&suite.to_be_bytes());
    b.push(u8::try_from(methods.len()).unwrap_or(0));
    b.extend_from_slice(methods);
    let name = DOMAIN.as_bytes();
    let mut entry = vec![0];
    entry.extend_from_slice(&u16_len(name));
    entry.extend_from_slice(name);
    let mut sni = u16_len(&entry).to_vec();
    sni.extend_from_slice(&entry);
    let mut ext = vec![0, 0];
    ext.extend_from_slice(&u16_len(&sni));
    ext.extend_from_slice(&sni);
    b.extend_from_slice(&u16_len(&ext));
    b.extend_from_slice(&ext);
    handshake(1, &b)
}

fn server_hello(random: &[u8], session_id: &[u8], suite: u16, method: u8) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(random);
    b.push(u8::try_from(session_id.len()).unwrap_or(0));
    b.extend_from_slice(session_id);
    b.extend_from_slice(&suite.to_be_bytes());
    b.push(method);
    handshake(2, &b)
}

fn certificate(pem: &[u8]) -> Result<Vec<u8>, Error> {
    let der = CertificateDer::from_pem_slice(pem)
        .map_err(|e| rustls::Error::General(format!("test PKI: {e:?}")))?;
    let u24 = |n: usize| u32::try_from(n).unwrap_or(0).to_be_bytes()[1..].to_vec();
    let mut list = u24(der.len());
    list.extend_from_slice(&der);
    let mut b = u24(list.len());
    b.extend_from_slice(&list);
    Ok(handshake(11, &b))
}

/// The key log line and plaintext truth of one finished connection.
struct Sealed {
    keylog: String,
    truth: [DirTruth; 2],
}

/// What one connection's key schedule starts from.
struct Secrets {
    client_random: Vec<u8>,
    server_random: Vec<u8>,
    session_id: Vec<u8>,
    master: Vec<u8>,
}

impl Secrets {
    fn writer(&self, suite: &Suite, dir: Dir, deflate: bool) -> Writer {
        Writer::new(
            suite,
            dir,
            &self.master,
            &self.client_random,
            &self.server_random,
            deflate,
        )
    }

    /// The NSS key log line: `CLIENT_RANDOM <client random> <master secret>`.
    fn keylog(&self) -> String {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        format!(
            "CLIENT_RANDOM {} {}\n",
            hex(&self.client_random),
            hex(&self.master)
        )
    }
}

/// A whole connection on `c`: handshake (the test PKI's certificate),
/// REST GET, a `resp_len` response in `record_len`-byte records,
/// close_notify both ways, FIN both ways.
fn session(
    c: &mut Conversation,
    rng: &mut Rng,
    suite: &Suite,
    deflate: bool,
    resp_len: usize,
    record_len: usize,
) -> Result<Sealed, Error> {
    session_with(c, rng, (suite, CERT_PEM), deflate, resp_len, record_len)
}

/// [`session`] with the server certificate `cert` (PEM).
fn session_with(
    c: &mut Conversation,
    rng: &mut Rng,
    (suite, cert): (&Suite, &[u8]),
    deflate: bool,
    resp_len: usize,
    record_len: usize,
) -> Result<Sealed, Error> {
    let secrets = Secrets {
        client_random: random(rng, 32),
        server_random: random(rng, 32),
        session_id: random(rng, 32),
        master: random(rng, 48),
    };
    c.handshake();
    let (mut cw, mut sw) = tls_handshake(c, rng, (suite, cert), deflate, &secrets)?;
    c.advance(3 * MS);
    let request = rest_get_user(DOMAIN);
    c.send(C2S, &cw.seal(23, &request));
    c.advance(12 * MS);
    let response = rest_user_response(resp_len);
    for piece in response.chunks(record_len.max(1)) {
        c.send(S2C, &sw.seal(23, piece));
    }
    c.advance(40 * MS);
    c.send(C2S, &cw.seal(21, &[1, 0]));
    c.send(S2C, &sw.seal(21, &[1, 0]));
    c.close_fin(C2S);
    c.close_fin(S2C);
    Ok(Sealed {
        keylog: secrets.keylog(),
        truth: [DirTruth::whole(request), DirTruth::whole(response)],
    })
}

/// The four handshake flights; gives the client's and the server's writers
/// after their ChangeCipherSpec.
fn tls_handshake(
    c: &mut Conversation,
    rng: &mut Rng,
    (suite, cert): (&Suite, &[u8]),
    deflate: bool,
    secrets: &Secrets,
) -> Result<(Writer, Writer), Error> {
    let methods: &[u8] = if deflate { &[1, 0] } else { &[0] };
    let hello = client_hello(&secrets.client_random, suite.id, methods);
    c.send(C2S, &record(22, &hello));
    let mut transcript = hello;
    let mut flight = Vec::new();
    for m in [
        server_hello(
            &secrets.server_random,
            &secrets.session_id,
            suite.id,
            u8::from(deflate),
        ),
        certificate(cert)?,
        handshake(14, &[]),
    ] {
        flight.extend(record(22, &m));
        transcript.extend(m);
    }
    c.send(S2C, &flight);
    let kx = if suite.ecdh {
        let mut point = vec![65, 4];
        point.extend(random(rng, 64));
        point
    } else {
        let mut y = vec![0, 128];
        y.extend(random(rng, 128));
        y
    };
    let kx = handshake(16, &kx);
    transcript.extend_from_slice(&kx);
    let (mut cw, mut sw) = (
        secrets.writer(suite, C2S, deflate),
        secrets.writer(suite, S2C, deflate),
    );
    let finished = |label: &[u8], transcript: &[u8]| {
        let hash = transcript_hash(suite.prf, transcript);
        handshake(20, &prf(suite.prf, &secrets.master, label, &hash, 12))
    };
    let client_finished = finished(b"client finished", &transcript);
    let mut flight = record(22, &kx);
    flight.extend(record(20, &[1]));
    flight.extend(cw.seal(22, &client_finished));
    c.send(C2S, &flight);
    transcript.extend_from_slice(&client_finished);
    let mut flight = record(20, &[1]);
    flight.extend(sw.seal(22, &finished(b"server finished", &transcript)));
    c.send(S2C, &flight);
    Ok((cw, sw))
}

fn finish(cap: &Capture, keylog: String) -> Result<Fixture, Error> {
    let (frames, streams) = cap.finish()?;
    Ok(Fixture {
        bytes: pcapng_bytes(&frames, None)?,
        keylog: Some(keylog),
        streams,
        frames: frames.len() as u64,
    })
}

/// One connection to 8445 with DEFLATE negotiated: the 6 KB XML response
/// (4 KB records) compresses to a fraction of its size.
fn deflate() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(1510);
    let mut c = finesse_conv(0, 50_600, 1, 8445, 0);
    let sealed = session(&mut c, &mut rng, &GCM128, true, 6000, 4096)?;
    let mut cap = Capture::new();
    let segs = c.drain();
    cap.add(&c, segs, Wire::ethernet());
    cap.set_tls(0, sealed.truth);
    finish(&cap, sealed.keylog)
}

/// One connection per added suite, a second apart, no compression.
fn suites() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(1511);
    let mut cap = Capture::new();
    let mut keylog = String::new();
    for (i, suite) in ADDED.iter().enumerate() {
        let id = i as u32;
        let mut c = finesse_conv(id, 50_700 + i as u16, 1, 8445, i as i64 * 1000 * MS);
        let sealed = session(&mut c, &mut rng, suite, false, 600, 16_384)?;
        keylog.push_str(&sealed.keylog);
        let segs = c.drain();
        cap.add(&c, segs, Wire::ethernet());
        cap.set_tls(id, sealed.truth);
    }
    finish(&cap, keylog)
}

/// Two REST connections a second apart whose certificates the wire shows:
/// the first expired before the capture, the second names another host.
fn bad_certs() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(1512);
    let mut cap = Capture::new();
    let mut keylog = String::new();
    for (i, cert) in [EXPIRED_PEM, OTHER_NAME_PEM].into_iter().enumerate() {
        let id = i as u32;
        let mut c = finesse_conv(id, 50_800 + i as u16, 1, 8445, i as i64 * 1000 * MS);
        let sealed = session_with(&mut c, &mut rng, (&GCM128, cert), false, 600, 16_384)?;
        keylog.push_str(&sealed.keylog);
        let segs = c.drain();
        cap.add(&c, segs, Wire::ethernet());
        cap.set_tls(id, sealed.truth);
    }
    finish(&cap, keylog)
}
