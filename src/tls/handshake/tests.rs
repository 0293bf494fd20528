//! Handshake parser tests: the messages xmppcap reads, prefixes, malformed fields, reassembly across records.

use super::*;

fn vec16(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

fn vec8(body: &[u8]) -> Vec<u8> {
    let mut v = vec![body.len() as u8];
    v.extend_from_slice(body);
    v
}

fn ext(typ: u16, data: &[u8]) -> Vec<u8> {
    let mut v = typ.to_be_bytes().to_vec();
    v.extend(vec16(data));
    v
}

/// A ClientHello with every extension xmppcap reads (RFC 8446 §4.1.2 layout).
pub(crate) fn client_hello_body() -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend([0x11; 32]);
    b.extend(vec8(&[0x22; 32]));
    b.extend(vec16(&[0x13, 0x01, 0x13, 0x03, 0xc0, 0x2f]));
    b.extend(vec8(&[0]));
    let mut exts = Vec::new();
    let mut sni = vec![0];
    sni.extend(vec16(b"finesse.example.com"));
    exts.extend(ext(ext::SERVER_NAME, &vec16(&sni)));
    let mut alpn = vec8(b"h2");
    alpn.extend(vec8(b"http/1.1"));
    exts.extend(ext(ext::ALPN, &vec16(&alpn)));
    exts.extend(ext(ext::SUPPORTED_VERSIONS, &vec8(&[3, 4, 3, 3])));
    let mut share = vec![0, 0x1d];
    share.extend(vec16(&[9; 32]));
    exts.extend(ext(ext::KEY_SHARE, &vec16(&share)));
    exts.extend(ext(ext::EXTENDED_MASTER_SECRET, &[]));
    exts.extend(ext(ext::ENCRYPT_THEN_MAC, &[]));
    exts.extend(ext(ext::EARLY_DATA, &[]));
    exts.extend(ext(ext::PRE_SHARED_KEY, &[0, 0]));
    b.extend(vec16(&exts));
    b
}

fn server_hello_body(random: [u8; 32]) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend(random);
    b.extend(vec8(&[0x22; 32]));
    b.extend([0x13, 0x02, 0]);
    let mut exts = ext(ext::SUPPORTED_VERSIONS, &[3, 4]);
    exts.extend(ext(ext::KEY_SHARE, &[0, 0x1d]));
    exts.extend(ext(ext::PRE_SHARED_KEY, &[0, 0]));
    b.extend(vec16(&exts));
    b
}

fn message(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![typ];
    m.extend(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend(body);
    m
}

#[test]
fn client_hello_fields() {
    let ch = parse_client_hello(&client_hello_body()).unwrap();
    assert_eq!(ch.random, [0x11; 32]);
    assert_eq!(ch.suites, [0x1301, 0x1303, 0xc02f]);
    assert_eq!(ch.sni.as_deref(), Some("finesse.example.com"));
    assert_eq!(ch.alpn, ["h2", "http/1.1"]);
    assert_eq!(ch.supported_versions, [0x0304, 0x0303]);
    assert_eq!(ch.key_share_groups, [0x1d]);
    assert!(ch.psk && ch.early_data && ch.extended_master_secret && ch.encrypt_then_mac);
}

#[test]
fn every_prefix_of_a_client_hello_is_truncated_not_a_panic() {
    let body = client_hello_body();
    // Without the optional extensions block (77 bytes) a hello is complete.
    let no_extensions = 2 + 32 + 33 + 8 + 2;
    for cut in 0..body.len() {
        let parsed = parse_client_hello(&body[..cut]);
        if cut == no_extensions {
            assert_eq!(parsed.unwrap().sni, None);
        } else {
            assert!(
                matches!(parsed, Err(HandshakeError::Truncated(_))),
                "cut {cut}"
            );
        }
    }
}

#[test]
fn truncated_cipher_suites_are_named() {
    let mut b = vec![3, 3];
    b.extend([0; 32]);
    b.extend([0, 0, 8, 0x13, 0x01]);
    assert_eq!(
        parse_client_hello(&b),
        Err(HandshakeError::Truncated(Truncated {
            field: "cipher_suites",
            need: 8,
            have: 2
        }))
    );
}

#[test]
fn trailing_bytes_are_named() {
    let mut b = client_hello_body();
    b.push(0);
    assert_eq!(
        parse_client_hello(&b),
        Err(HandshakeError::Trailing {
            what: "ClientHello",
            extra: 1
        })
    );
}

#[test]
fn server_hello_and_hello_retry_request() {
    let sh = parse_server_hello(&server_hello_body([7; 32])).unwrap();
    assert_eq!((sh.version(), sh.suite, sh.psk), (0x0304, 0x1302, true));
    assert!(!sh.hello_retry_request);
    let hrr = parse_server_hello(&server_hello_body(HRR_RANDOM)).unwrap();
    assert!(hrr.hello_retry_request);
    let body = server_hello_body([7; 32]);
    for cut in 0..body.len() {
        // 70 bytes: a complete hello without extensions.
        assert_eq!(
            parse_server_hello(&body[..cut]).is_ok(),
            cut == 70,
            "cut {cut}"
        );
    }
}

#[test]
fn sslv2_client_hello() {
    // RFC 5246 E.2 layout: type, version, three lengths, specs, session id, challenge.
    let mut b = vec![1, 3, 1, 0, 6, 0, 0, 0, 16];
    b.extend([0, 0, 0x2f, 0x01, 0x00, 0x80]);
    b.extend([0xaa; 16]);
    let ch = parse_sslv2_client_hello(&b).unwrap();
    assert_eq!(ch.suites, [0x002f]);
    assert_eq!(&ch.random[..16], &[0; 16]);
    assert_eq!(&ch.random[16..], &[0xaa; 16]);
    assert!(ch.sslv2);
}

#[test]
fn encrypted_extensions_early_data_and_alpn() {
    let mut exts = ext(ext::EARLY_DATA, &[]);
    exts.extend(ext(ext::ALPN, &vec16(&vec8(b"h2"))));
    let ee = parse_encrypted_extensions(&vec16(&exts)).unwrap();
    assert_eq!(
        ee,
        EncryptedExtensions {
            alpn: Some("h2".into()),
            early_data: true
        }
    );
}

#[test]
fn key_update_alert_and_ticket() {
    assert_eq!(parse_key_update(&[1]), Ok(true));
    assert_eq!(
        parse_key_update(&[2]),
        Err(HandshakeError::KeyUpdateRequest(2))
    );
    assert_eq!(
        parse_key_update(&[0, 0]),
        Err(HandshakeError::Trailing {
            what: "KeyUpdate",
            extra: 1
        })
    );
    assert_eq!(parse_alert(&[2, 40]), Ok((2, 40)));
    assert_eq!(
        parse_alert(&[2]),
        Err(HandshakeError::AlertLength { len: 1 })
    );
    assert_eq!(alert_name(40), "handshake_failure");
    assert_eq!(alert_name(200), "alert 200");
    assert_eq!(alert_level_name(2), "fatal");
    // TLS 1.3 ticket with an early_data extension allowing 16384 bytes.
    let mut t = vec![0, 0, 0x1c, 0x20, 1, 2, 3, 4];
    t.extend(vec8(&[0]));
    t.extend(vec16(&[5; 10]));
    t.extend(vec16(&ext(ext::EARLY_DATA, &[0, 0, 0x40, 0])));
    assert_eq!(
        parse_new_session_ticket(&t, 0x0304),
        Ok(NewSessionTicket {
            lifetime: 7200,
            max_early_data: Some(16384)
        })
    );
    let mut t12 = vec![0, 0, 0, 60];
    t12.extend(vec16(&[1, 2, 3]));
    assert_eq!(parse_new_session_ticket(&t12, 0x0303).unwrap().lifetime, 60);
}

#[test]
fn certificate_list_with_a_bad_der_entry() {
    let mut list = Vec::new();
    list.extend(&(3u32).to_be_bytes()[1..]);
    list.extend([0x30, 0x01, 0x00]);
    let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
    body.extend(&list);
    let (certs, omitted) = parse_certificate(&body, false, 16).unwrap();
    assert_eq!((certs.len(), omitted), (1, 0));
    assert!(certs[0]
        .error
        .as_deref()
        .unwrap()
        .starts_with("not an X.509 certificate"));
    // TLS 1.3 adds a request context and per-entry extensions.
    let mut list13 = list.clone();
    list13.extend([0, 0]);
    let mut body13 = vec![0];
    body13.extend(&(list13.len() as u32).to_be_bytes()[1..]);
    body13.extend(&list13);
    assert_eq!(parse_certificate(&body13, true, 16).unwrap().0.len(), 1);
    assert!(parse_certificate(&body13, false, 16).is_err());
}

#[test]
fn certificates_beyond_the_cap_are_checked_and_counted_not_summarised() {
    // 1000 empty entries: tiny on the wire, a summary each would not be.
    let list: Vec<u8> = std::iter::repeat_n([0u8, 0, 0], 1000).flatten().collect();
    let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
    body.extend(&list);
    let (certs, omitted) = parse_certificate(&body, false, 16).unwrap();
    assert_eq!((certs.len(), omitted), (16, 984));
    // The framing is still checked past the cap.
    body.push(0);
    assert!(parse_certificate(&body, false, 16).is_err());
}

type Seen = Vec<(u32, u8, usize)>;

fn feed_all(chunks: &[(u32, &[u8])], max: usize) -> (Seen, Vec<HandshakeError>) {
    let mut r = Reassembler::new(max);
    let mut seen = Vec::new();
    let mut errors = Vec::new();
    for &(at, bytes) in chunks {
        r.feed(
            at,
            bytes,
            &mut |at, typ, body| seen.push((at, typ, body.len())),
            &mut |_, e| errors.push(e),
        );
    }
    (seen, errors)
}

#[test]
fn messages_fragmented_across_records_and_coalesced_in_one() {
    let ch = message(msg::CLIENT_HELLO, &client_hello_body());
    let fin = message(msg::FINISHED, &[0xf; 12]);
    let mut both = ch.clone();
    both.extend(&fin);
    // Coalesced: both messages in one record.
    assert_eq!(
        feed_all(&[(1, &both)], 1 << 16).0,
        [(1, 1, ch.len() - 4), (1, 20, 12)]
    );
    // Fragmented at every offset: the first message keeps its first record's frame.
    for cut in 1..both.len() {
        let (seen, errors) = feed_all(&[(1, &both[..cut]), (2, &both[cut..])], 1 << 16);
        assert!(errors.is_empty());
        let fin_at = if cut <= ch.len() { 2 } else { 1 };
        assert_eq!(seen, [(1, 1, ch.len() - 4), (fin_at, 20, 12)], "cut {cut}");
    }
    // Every prefix alone gives no message and no error.
    for cut in 0..ch.len() {
        assert_eq!(
            feed_all(&[(1, &ch[..cut])], 1 << 16),
            (vec![], vec![]),
            "cut {cut}"
        );
    }
}

#[test]
fn over_long_message_is_skipped_with_an_error() {
    let big = message(msg::CERTIFICATE, &[0; 100]);
    let fin = message(msg::FINISHED, &[0xf; 12]);
    let (seen, errors) = feed_all(&[(1, &big[..50]), (2, &big[50..]), (3, &fin)], 64);
    assert_eq!(errors, [HandshakeError::TooLong { len: 100, max: 64 }]);
    assert_eq!(seen, [(3, 20, 12)]);
}

proptest::proptest! {
    /// Messages come out whole and in order however the records split them.
    #[test]
    fn reassembly_ignores_record_boundaries(
        sizes in proptest::collection::vec(0usize..300, 1..6),
        cuts in proptest::collection::vec(1usize..200, 1..20),
    ) {
        let mut stream = Vec::new();
        let mut expect = Vec::new();
        for (i, n) in sizes.iter().enumerate() {
            stream.extend(message(i as u8, &vec![i as u8; *n]));
            expect.push((i as u8, *n));
        }
        let mut r = Reassembler::new(1 << 16);
        let mut seen = Vec::new();
        let mut rest = &stream[..];
        for &c in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (a, z) = rest.split_at(c.min(rest.len()));
            r.feed(0u32, a, &mut |_, typ, body| seen.push((typ, body.len())), &mut |_, e| panic!("{e}"));
            rest = z;
        }
        proptest::prop_assert_eq!(seen, expect);
        proptest::prop_assert!(!r.is_partial());
    }
}
