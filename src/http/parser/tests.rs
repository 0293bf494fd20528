//! Parser tests: detection, heads (every prefix), malformed fields, framing rules, chunk lines.

use super::*;
use httparse::Status;

const GET: &[u8] =
    b"GET /finesse/api/User/1001 HTTP/1.1\r\nHost: finesse1\r\nrequestId: 42\r\n\r\n";
const OK: &[u8] = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";

fn slots() -> HeaderSlots {
    HeaderSlots::new(8)
}

const C2S: Dir = Dir::ClientToServer;
const S2C: Dir = Dir::ServerToClient;

#[test]
fn detect_request_lines() {
    assert_eq!(detect(C2S, GET), Probe::Http);
    assert_eq!(detect(C2S, b"\r\nOPTIONS * HTTP/1.0\r\n"), Probe::Http);
    assert_eq!(detect(C2S, b"CONNECT f:8445 HTTP/1.1"), Probe::Http);
    assert_eq!(detect(C2S, b"PRI * HTTP/2.0\r\n"), Probe::NotHttp);
    assert_eq!(detect(C2S, b"\x16\x03\x01\x02\x00"), Probe::NotHttp);
    assert_eq!(detect(C2S, b"<stream:stream"), Probe::NotHttp);
    assert_eq!(detect(C2S, b"get / HTTP/1.1"), Probe::NotHttp);
    assert_eq!(detect(C2S, b"GET  / HTTP/1.1"), Probe::NotHttp);
    assert_eq!(detect(C2S, b"GET / HTTP/1.x"), Probe::NotHttp);
    assert_eq!(detect(C2S, b"GET /\r\n"), Probe::NotHttp);
}

#[test]
fn detect_status_lines() {
    assert_eq!(detect(S2C, OK), Probe::Http);
    assert_eq!(detect(S2C, b"\r\nHTTP/1.0 503 Service"), Probe::Http);
    assert_eq!(detect(S2C, b"HTTP/1.1 1x1"), Probe::NotHttp);
    assert_eq!(detect(S2C, b"HTTP/1.1  200"), Probe::NotHttp);
    assert_eq!(detect(S2C, b"HTTP/2 200"), Probe::NotHttp);
    assert_eq!(detect(S2C, b"http/1.1 200"), Probe::NotHttp);
    assert_eq!(detect(S2C, b"<stream:features/>"), Probe::NotHttp);
}

#[test]
fn each_direction_has_its_own_start_line() {
    // A status line from the client, a request line from the server: not HTTP.
    assert_eq!(detect(C2S, OK), Probe::NotHttp);
    assert_eq!(detect(S2C, GET), Probe::NotHttp);
}

#[test]
fn detect_every_prefix_needs_more() {
    let cases: [(Dir, &[u8]); 4] = [
        (C2S, b"GET /ws/ HTTP/1.1"),
        (C2S, b"\r\n\r\nPOST /http-bind/ HTTP/1.0"),
        (S2C, b"HTTP/1.1 101"),
        (S2C, b"\r\nHTTP/1.0 200"),
    ];
    for (dir, line) in cases {
        for n in 0..line.len() {
            assert_eq!(detect(dir, &line[..n]), Probe::NeedMore, "{dir} prefix {n}");
        }
        assert_eq!(detect(dir, line), Probe::Http, "{dir} whole");
    }
}

#[test]
fn detect_gives_up_on_endless_target() {
    let mut long = b"GET /".to_vec();
    long.resize(MAX_PROBE_TARGET + 10, b'a');
    assert_eq!(detect(C2S, &long), Probe::NotHttp);
}

#[test]
fn request_head_parses_and_every_prefix_is_partial() {
    let mut s = slots();
    for n in 0..GET.len() {
        assert_eq!(
            parse_request(&GET[..n], &mut s),
            Ok(Status::Partial),
            "prefix {n}"
        );
    }
    let Ok(Status::Complete(Parsed { head, len, skipped })) = parse_request(GET, &mut s) else {
        panic!("complete request expected")
    };
    assert_eq!((len, skipped), (GET.len(), BadHeaders::default()));
    assert_eq!(head.method, "GET");
    assert_eq!(head.target, "/finesse/api/User/1001");
    assert_eq!(head.minor, 1);
    assert_eq!(head.fields.get("REQUESTID").as_deref(), Some("42"));
    assert_eq!(find_head_end(GET, 0), Some(GET.len()));
}

#[test]
fn response_head_parses_and_every_prefix_is_partial() {
    let mut s = slots();
    for n in 0..OK.len() {
        assert_eq!(
            parse_response(&OK[..n], &mut s),
            Ok(Status::Partial),
            "prefix {n}"
        );
    }
    let Ok(Status::Complete(Parsed { head, len, .. })) = parse_response(OK, &mut s) else {
        panic!("complete response expected")
    };
    assert_eq!(
        (head.status, head.reason.as_str(), len),
        (202, "Accepted", OK.len())
    );
}

fn req_err(bytes: &[u8]) -> HeadError {
    match parse_request(bytes, &mut slots()) {
        Err(e) => e,
        other => panic!("error expected, got {other:?}"),
    }
}

fn resp_err(bytes: &[u8]) -> HeadError {
    match parse_response(bytes, &mut slots()) {
        Err(e) => e,
        other => panic!("error expected, got {other:?}"),
    }
}

#[test]
fn malformed_fields_name_their_error() {
    assert_eq!(req_err(b"G(T / HTTP/1.1\r\n\r\n"), HeadError::Token);
    assert_eq!(req_err(b"GET / HTTQ/1.1\r\n\r\n"), HeadError::Version);
    // A bad byte in the start line still refuses the head.
    assert_eq!(req_err(b"GET / HTTP/1.1\rX\r\n\r\n"), HeadError::NewLine);
    assert_eq!(resp_err(b"HTTP/1.1 2x0 OK\r\n\r\n"), HeadError::Status);
    assert_eq!(resp_err(b"HTTP/1.1 200 O\x00K\r\n\r\n"), HeadError::Status);
    let many: Vec<u8> = [
        b"GET / HTTP/1.1\r\n".to_vec(),
        b"A: 1\r\n".repeat(9),
        b"\r\n".to_vec(),
    ]
    .concat();
    assert_eq!(req_err(&many), HeadError::TooManyHeaders { limit: 8 });
    assert_eq!(
        HeadError::TooManyHeaders { limit: 8 }.code(),
        "http.too_many_headers"
    );
}

#[test]
fn header_slots_are_reused_across_parses() {
    let mut s = slots();
    let cap = s.0.capacity();
    for _ in 0..3 {
        let _ = parse_request(GET, &mut s);
        let _ = parse_response(OK, &mut s);
    }
    assert_eq!((s.0.len(), s.0.capacity()), (8, cap));
}

fn head(fields: &[(&str, &str)]) -> ResponseHead {
    ResponseHead {
        status: 200,
        reason: "OK".into(),
        minor: 1,
        fields: Fields(
            fields
                .iter()
                .map(|(n, v)| Field {
                    name: n.to_string(),
                    value: v.as_bytes().to_vec(),
                })
                .collect(),
        ),
    }
}

#[test]
fn response_framing_rules() {
    let f = |h: &ResponseHead, m| response_framing(h, m).map(|d| d.framing);
    assert_eq!(
        f(&head(&[("Content-Length", "5")]), Some("GET")),
        Ok(Framing::Length(5))
    );
    assert_eq!(
        f(&head(&[("Content-Length", "5")]), Some("HEAD")),
        Ok(Framing::Empty)
    );
    assert_eq!(f(&head(&[]), Some("GET")), Ok(Framing::UntilClose));
    assert_eq!(
        f(&head(&[("Transfer-Encoding", "gzip, chunked")]), None),
        Ok(Framing::Chunked)
    );
    assert_eq!(
        f(&head(&[("Transfer-Encoding", "gzip")]), None),
        Ok(Framing::UntilClose)
    );
    let mut h = head(&[("Content-Length", "5")]);
    for status in [100, 101, 204, 304] {
        h.status = status;
        assert_eq!(f(&h, Some("GET")), Ok(Framing::Empty), "{status}");
    }
    let both = head(&[("Content-Length", "5"), ("Transfer-Encoding", "chunked")]);
    assert_eq!(
        response_framing(&both, None),
        Ok(FramingDecision {
            framing: Framing::Chunked,
            length_overridden: true
        })
    );
}

#[test]
fn bad_lengths_name_their_error() {
    let bad = head(&[("Content-Length", "5x")]);
    assert_eq!(
        response_framing(&bad, None),
        Err(FramingError::BadContentLength { value: "5x".into() })
    );
    let two = head(&[("Content-Length", "5"), ("Content-Length", "6")]);
    assert_eq!(
        response_framing(&two, None),
        Err(FramingError::ConflictingContentLength {
            first: 5,
            second: 6
        })
    );
    let same = head(&[("Content-Length", "5, 5")]);
    assert_eq!(
        response_framing(&same, None).map(|d| d.framing),
        Ok(Framing::Length(5))
    );
    let padded = head(&[("Content-Length", "000000000000000000000005")]);
    assert_eq!(
        response_framing(&padded, None).map(|d| d.framing),
        Ok(Framing::Length(5))
    );
    let req = RequestHead {
        method: "POST".into(),
        target: "/".into(),
        minor: 1,
        fields: head(&[("Transfer-Encoding", "gzip")]).fields,
    };
    assert_eq!(
        request_framing(&req),
        Err(FramingError::RequestNotChunked {
            value: "gzip".into()
        })
    );
}

#[test]
fn chunk_size_lines() {
    assert_eq!(
        parse_chunk_size(b"1a;x=y\r\n"),
        Ok(Status::Complete((8, 26)))
    );
    assert_eq!(parse_chunk_size(b"1a"), Ok(Status::Partial));
    assert_eq!(parse_chunk_size(b"zz\r\n"), Err(ChunkSizeError));
    assert_eq!(
        parse_chunk_size(b"fffffffffffffffff\r\n"),
        Err(ChunkSizeError)
    );
}

#[test]
fn head_end_with_bare_newlines() {
    assert_eq!(find_head_end(b"GET / HTTP/1.0\n\nxyz", 0), Some(16));
    assert_eq!(find_head_end(b"GET / HTTP/1.0\r\nA: b\r\n", 0), None);
}

/// Parses `bytes` as a request or response head; gives its fields as
/// (name, value) and what was skipped.
fn tolerant(kind: Kind, bytes: &[u8]) -> (Vec<(String, String)>, BadHeaders) {
    let mut s = slots();
    let (fields, skipped) = match kind {
        Kind::Request => match parse_request(bytes, &mut s) {
            Ok(Status::Complete(p)) => (p.head.fields, p.skipped),
            other => panic!("{:?}: {other:?}", bytes.escape_ascii().to_string()),
        },
        Kind::Response => match parse_response(bytes, &mut s) {
            Ok(Status::Complete(p)) => (p.head.fields, p.skipped),
            other => panic!("{:?}: {other:?}", bytes.escape_ascii().to_string()),
        },
    };
    let fields = fields
        .0
        .into_iter()
        .map(|f| (f.name, String::from_utf8_lossy(&f.value).into_owned()))
        .collect();
    (fields, skipped)
}

fn head_with(kind: Kind, line: &[u8]) -> Vec<u8> {
    let start: &[u8] = match kind {
        Kind::Request => b"GET /ws/ HTTP/1.1\r\n",
        Kind::Response => b"HTTP/1.1 101 Switching Protocols\r\n",
    };
    [
        start,
        b"Upgrade: websocket\r\n",
        line,
        b"\r\nHost: f\r\n\r\n",
    ]
    .concat()
}

#[test]
fn a_bad_byte_skips_its_header_not_the_head() {
    // The bad line, what is wrong, and where in the line.
    let cases: [(&[u8], HeaderFault, usize); 6] = [
        (
            b"User-Agent: Mozilla\x1b[31m",
            HeaderFault::ValueByte { byte: 0x1b },
            19,
        ),
        (
            b"User-Agent: a\x00b",
            HeaderFault::ValueByte { byte: 0 },
            13,
        ),
        (
            b"User-Agent: a\x7fb",
            HeaderFault::ValueByte { byte: 0x7f },
            13,
        ),
        (b"User-Agent: a\rb", HeaderFault::BareCr, 13),
        (b"User\xe9Agent: a", HeaderFault::NameByte { byte: 0xe9 }, 4),
        (b"User-Agent a", HeaderFault::NameByte { byte: b' ' }, 10),
    ];
    for kind in [Kind::Request, Kind::Response] {
        for (line, fault, at) in &cases {
            let bytes = head_with(kind, line);
            let (fields, skipped) = tolerant(kind, &bytes);
            let names: Vec<_> = fields.iter().map(|f| f.0.as_str()).collect();
            assert_eq!(names, ["Upgrade", "Host"], "{kind:?} {fault}");
            assert_eq!(skipped.described.len(), 1, "{kind:?} {fault}");
            let bad = &skipped.described[0];
            assert_eq!((&bad.fault, bad.line), (fault, 3), "{kind:?}");
            let line_at = bytes.windows(line.len()).position(|w| w == *line);
            assert_eq!(Some(bad.at), line_at.map(|i| i + at), "{kind:?} {fault}");
        }
    }
}

#[test]
fn obs_text_in_a_value_is_kept() {
    for kind in [Kind::Request, Kind::Response] {
        let bytes = head_with(kind, b"X-Agent: caf\xc3\xa9 \x80\xff");
        let (fields, skipped) = tolerant(kind, &bytes);
        assert_eq!(skipped, BadHeaders::default());
        assert_eq!(fields[1].0, "X-Agent");
        assert_eq!(fields[1].1, "caf\u{e9} \u{fffd}\u{fffd}");
    }
}

#[test]
fn lines_without_colon_and_spaces_before_it() {
    let bytes = head_with(Kind::Request, b"Just some words");
    let (fields, skipped) = tolerant(Kind::Request, &bytes);
    assert_eq!(fields.len(), 2);
    assert_eq!(
        skipped.described[0].fault,
        HeaderFault::NameByte { byte: b' ' }
    );
    let bytes = head_with(Kind::Request, b"Nocolon");
    assert_eq!(
        tolerant(Kind::Request, &bytes).1.described[0].fault,
        HeaderFault::NoColon
    );
    let bytes = head_with(Kind::Request, b": no name");
    assert_eq!(
        tolerant(Kind::Request, &bytes).1.described[0].fault,
        HeaderFault::EmptyName
    );
    // Whitespace before the colon: refused in a request, accepted from a server.
    let bytes = head_with(Kind::Request, b"Sec-WebSocket-Protocol : xmpp");
    let (fields, skipped) = tolerant(Kind::Request, &bytes);
    assert_eq!(
        (fields.len(), &skipped.described[0].fault),
        (2, &HeaderFault::SpaceBeforeColon)
    );
    let bytes = head_with(Kind::Response, b"Sec-WebSocket-Protocol : xmpp");
    let (fields, skipped) = tolerant(Kind::Response, &bytes);
    assert_eq!(skipped, BadHeaders::default());
    assert_eq!(fields[1], ("Sec-WebSocket-Protocol".into(), "xmpp".into()));
}

#[test]
fn folded_lines_join_in_a_response_and_are_dropped_from_a_request() {
    let bytes = head_with(Kind::Response, b"X-Long: one\r\n  two");
    let (fields, skipped) = tolerant(Kind::Response, &bytes);
    assert_eq!(skipped, BadHeaders::default());
    assert_eq!(fields[1], ("X-Long".into(), "one    two".into()));
    let bytes = head_with(Kind::Request, b"X-Long: one\r\n  two");
    let (fields, skipped) = tolerant(Kind::Request, &bytes);
    assert_eq!(fields[1], ("X-Long".into(), "one".into()));
    let bad = &skipped.described[0];
    assert_eq!(
        (bad.name.as_str(), &bad.fault, bad.line),
        ("X-Long", &HeaderFault::Folded, 4)
    );
}

#[test]
fn every_prefix_of_a_head_with_a_bad_line_is_partial() {
    for line in [
        &b"User-Agent: a\x1bb"[..],
        b"User-Agent: a\x00b",
        b"User-Agent: a\rb",
        b"Bad line",
    ] {
        for kind in [Kind::Request, Kind::Response] {
            let bytes = head_with(kind, line);
            let mut s = slots();
            for n in 0..bytes.len() {
                let partial = match kind {
                    Kind::Request => parse_request(&bytes[..n], &mut s).map(|s| s.is_partial()),
                    Kind::Response => parse_response(&bytes[..n], &mut s).map(|s| s.is_partial()),
                };
                assert_eq!(partial, Ok(true), "{kind:?} {line:?} prefix {n}");
            }
            // The length is the whole head's, whatever was left out for the parser.
            let len = match kind {
                Kind::Request => parse_request(&bytes, &mut s).map(|s| s.unwrap().len),
                Kind::Response => parse_response(&bytes, &mut s).map(|s| s.unwrap().len),
            };
            assert_eq!(len, Ok(bytes.len()), "{kind:?} {line:?}");
        }
    }
}

#[test]
fn content_length_too_large_says_so() {
    let over = head(&[("Content-Length", "18446744073709551615")]);
    let e = response_framing(&over, None).unwrap_err();
    assert_eq!(
        e,
        FramingError::ContentLengthOverCap {
            length: u64::MAX,
            cap: MAX_CONTENT_LENGTH
        }
    );
    assert_eq!(
        e.to_string(),
        "Content-Length 18446744073709551615 exceeds the 1 TiB cap (1099511627776 bytes): no capture holds a body that long"
    );
    assert_eq!(MAX_CONTENT_LENGTH, 1 << 40, "the message says 1 TiB");
    let wide = head(&[("Content-Length", "99999999999999999999")]);
    let e = response_framing(&wide, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Content-Length 99999999999999999999 does not fit in 64 bits"
    );
    assert_eq!(e.code(), "http.bad_content_length");
    let at_cap = head(&[("Content-Length", "1099511627776")]);
    assert_eq!(
        response_framing(&at_cap, None).map(|d| d.framing),
        Ok(Framing::Length(MAX_CONTENT_LENGTH))
    );
    let past = head(&[("Content-Length", "1099511627777")]);
    assert!(matches!(
        response_framing(&past, None),
        Err(FramingError::ContentLengthOverCap {
            length: 1_099_511_627_777,
            ..
        })
    ));
}

#[test]
fn a_control_byte_in_the_request_target_is_read_as_a_question_mark() {
    let head = b"GET /ws/\x1b[2J x HTTP/1.1\r\nHost: a\r\n\r\n";
    let Ok(httparse::Status::Complete(p)) = parse_request(head, &mut slots()) else {
        panic!("the request is read");
    };
    assert_eq!(p.head.target, "/ws/?[2J?x");
    assert_eq!(p.len, head.len());
    let faults: Vec<(usize, HeaderFault)> = p
        .skipped
        .described
        .iter()
        .map(|b| (b.at, b.fault.clone()))
        .collect();
    assert_eq!(
        faults,
        [
            (8, HeaderFault::TargetByte { byte: 0x1b }),
            (12, HeaderFault::TargetByte { byte: b' ' })
        ]
    );
    // Every prefix: partial, never a panic, never a different target.
    for n in 0..head.len() {
        match parse_request(&head[..n], &mut slots()) {
            Ok(httparse::Status::Partial) => {}
            other => panic!("prefix {n}: {other:?}"),
        }
    }
    // A clean target is left alone.
    let Ok(httparse::Status::Complete(p)) = parse_request(b"GET /a HTTP/1.1\r\n\r\n", &mut slots())
    else {
        panic!("clean");
    };
    assert!(p.skipped.described.is_empty());
}
