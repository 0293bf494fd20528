//! The header-line checker alone: what each fault is, where, how it is
//! shown, which lines httparse would refuse the head for, and the caps.

use super::*;

const START: &[u8] = b"GET / HTTP/1.1\r\n";

fn check_request(lines: &[u8]) -> BadHeaders {
    check(&[START, lines, b"\r\n"].concat(), Kind::Request)
}

#[test]
fn a_value_fault_names_the_header_and_shows_the_value_escaped() {
    let bad = check_request(b"Host: f\r\nUser-Agent: Mozilla/5.0 \x1b[31mred\r\n");
    assert_eq!(bad.more, 0);
    assert_eq!(
        bad.described,
        [BadHeader {
            name: "User-Agent".into(),
            line: 3,
            at: START.len() + 9 + 24,
            fault: HeaderFault::ValueByte { byte: 0x1b },
            shown: "Mozilla/5.0 \\x1b[31mred".into(),
        }]
    );
    assert_eq!(bad.described[0].fault.to_string(), "byte 0x1b in the value");
    // Skipped by httparse's tolerant mode: nothing to take out for it.
    assert_eq!(bad.refused_len(), 0);
}

#[test]
fn a_name_fault_shows_the_whole_line() {
    let bad = check_request(b"X\x01Y: 1\r\n");
    let b = &bad.described[0];
    assert_eq!((b.name.as_str(), b.shown.as_str()), ("X", "X\\x01Y: 1"));
    assert_eq!(b.fault, HeaderFault::NameByte { byte: 1 });
}

#[test]
fn nul_and_bare_cr_lines_are_taken_out_for_the_parser() {
    let lines = b"A: 1\r\nB: x\x00y\r\nC: 2\r\nD: p\rq\r\nE: \x1b\r\n";
    let head = [START, lines, b"\r\n"].concat();
    let bad = check(&head, Kind::Request);
    let faults: Vec<_> = bad.described.iter().map(|b| b.fault.clone()).collect();
    assert_eq!(
        faults,
        [
            HeaderFault::ValueByte { byte: 0 },
            HeaderFault::BareCr,
            HeaderFault::ValueByte { byte: 0x1b }
        ]
    );
    let cleaned = bad.without_refused(&head).expect("two lines out");
    assert_eq!(
        cleaned,
        [START, b"A: 1\r\nC: 2\r\nE: \x1b\r\n\r\n".as_slice()].concat()
    );
    assert_eq!(bad.refused_len(), head.len() - cleaned.len());
    assert_eq!(check_request(b"A: \x1b\r\n").without_refused(b""), None);
}

#[test]
fn a_folded_response_field_is_judged_whole() {
    let head = b"HTTP/1.1 200 OK\r\nA: 1\r\nX-Long: one\r\n two\x7f\r\nB: 2\r\n\r\n";
    let bad = check(head, Kind::Response);
    assert_eq!(bad.described.len(), 1);
    let b = &bad.described[0];
    assert_eq!((b.name.as_str(), b.line), ("X-Long", 3));
    assert_eq!(b.fault, HeaderFault::ValueByte { byte: 0x7f });
    assert_eq!(b.shown, "one\\r\\n two\\x7f");
    // The same lines in a request: the continuation is its own bad line.
    let bad = check(
        b"GET / HTTP/1.1\r\nX-Long: one\r\n two\r\n\r\n",
        Kind::Request,
    );
    let b = &bad.described[0];
    assert_eq!(
        (b.name.as_str(), b.line, &b.fault),
        ("X-Long", 3, &HeaderFault::Folded)
    );
}

#[test]
fn a_first_line_starting_with_whitespace_is_bad_in_a_response_too() {
    let bad = check(b"HTTP/1.1 200 OK\r\n X: 1\r\n\r\n", Kind::Response);
    assert_eq!(bad.described[0].fault, HeaderFault::Folded);
}

#[test]
fn only_header_lines_are_judged() {
    // The start line is the parser's; the body after the empty line is not a head.
    let head = b"GET /\x1b HTTP/1.1\r\nA: 1\r\n\r\nB\x00: body";
    assert_eq!(check(head, Kind::Request), BadHeaders::default());
    assert_eq!(
        check(b"GET / HTTP/1.1", Kind::Request),
        BadHeaders::default()
    );
}

#[test]
fn an_unfinished_line_is_not_judged_yet() {
    for prefix in [
        &b"User-Agent"[..],
        b"User-Agent ",
        b"User-Agent: a\r",
        b"Host: f\r",
    ] {
        let head = [START, prefix].concat();
        assert_eq!(
            check(&head, Kind::Request),
            BadHeaders::default(),
            "{prefix:?}"
        );
    }
}

#[test]
fn many_bad_lines_are_counted_past_the_first_few() {
    let lines = b"Bad line\r\n".repeat(MAX_DESCRIBED + 3);
    let bad = check_request(&lines);
    assert_eq!((bad.described.len(), bad.more), (MAX_DESCRIBED, 3));
    assert_eq!(
        bad.described.last().map(|b| b.line),
        Some(MAX_DESCRIBED + 1)
    );
}

#[test]
fn long_lines_are_shown_clipped() {
    let line = [b"X: ".as_slice(), &[0x01; 1000], b"\r\n"].concat();
    let bad = check_request(&line);
    assert_eq!(bad.described[0].shown, "\\x01".repeat(MAX_SHOWN));
}
