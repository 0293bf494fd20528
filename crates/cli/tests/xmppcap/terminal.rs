//! A capture built to drive the reader's terminal (issue 13): screen clear
//! (`ESC[2J`), window title (`ESC]0;…BEL`), clipboard write (`ESC]52;…BEL`),
//! a bare CR and a right-to-left override (U+202E) in the file name, the
//! SNI, the SASL identity, the bound JID, the presence `<show>` and status,
//! the stream's domains and an HTTP request line and header. Every command's
//! output, on stdout and stderr, must carry none of those bytes raw and show
//! the fields escaped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use xmppcap_fixturegen::capture::Capture;
use xmppcap_fixturegen::frame::{FrameSink, START_NS};
use xmppcap_fixturegen::pcap::{PcapFormat, PcapWriter};
use xmppcap_fixturegen::tcp::{ConvConfig, Conversation};
use xmppcap_fixturegen::wire::Wire;
use xmppcap_fixturegen::Dir::{self, ClientToServer as C, ServerToClient as S};

/// What every captured string carries.
const HOSTILE: &str = "\u{1b}[2J\u{1b}]0;owned\u{7}\u{1b}]52;c;aGFjaw==\u{7}\rX\u{202e}Y";
/// How it must look once escaped.
const SHOWN: &str = "\\u{1b}[2J\\u{1b}]0;owned\\u{7}\\u{1b}]52;c;aGFjaw==\\u{7}\\u{d}X\\u{202e}Y";

pub(crate) fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A TLS 1.2 ClientHello (RFC 5246 §7.4.1.2) whose server_name (RFC 6066 §3) is `sni`.
pub(crate) fn client_hello(sni: &[u8]) -> Vec<u8> {
    let len16 = |n: usize| (n as u16).to_be_bytes();
    let mut name = vec![0];
    name.extend_from_slice(&len16(sni.len()));
    name.extend_from_slice(sni);
    let mut ext = vec![0, 0];
    ext.extend_from_slice(&len16(name.len() + 2));
    ext.extend_from_slice(&len16(name.len()));
    ext.extend_from_slice(&name);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.extend_from_slice(&[0, 0, 2, 0, 0x2f, 1, 0]);
    body.extend_from_slice(&len16(ext.len()));
    body.extend_from_slice(&ext);
    let mut hs = vec![1, 0];
    hs.extend_from_slice(&len16(body.len()));
    hs.extend_from_slice(&body);
    let mut record = vec![0x16, 3, 1];
    record.extend_from_slice(&len16(hs.len()));
    record.extend_from_slice(&hs);
    record
}

/// What each side writes, in order.
pub(crate) type Script = Vec<(Dir, Vec<u8>)>;

fn xmpp_script() -> Script {
    let h = HOSTILE;
    let auth = base64(format!("\0agent{h}\0secret").as_bytes());
    let lines = [
        (C, format!("<?xml version='1.0'?><stream:stream to='example.com{h}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")),
        (S, format!("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='example.com{h}' version='1.0'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>")),
        (C, format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{auth}</auth>")),
        (S, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>".to_owned()),
        (C, "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>desk</resource></bind></iq>".to_owned()),
        (S, format!("<iq type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>agent{h}@example.com/desk</jid></bind></iq>")),
        (C, format!("<presence><show>away{h}</show><status>lunch{h}</status></presence>")),
    ];
    lines
        .into_iter()
        .map(|(d, t)| (d, t.into_bytes()))
        .collect()
}

/// The capture, written under a file name that is itself hostile.
fn hostile_capture() -> PathBuf {
    let server_ip = [10, 20, 30, 40];
    // A request line and header values take no control bytes, but U+202E
    // passes (obs-text); a second request carries the rest.
    let http = format!("GET /finesse/api/User/a\u{202e}b HTTP/1.1\r\nHost: finesse\u{202e}\r\n\r\nGET /finesse/api/User/{HOSTILE} HTTP/1.1\r\nHost: finesse{HOSTILE}\r\nUser-Agent: ua{HOSTILE}\r\n\r\n");
    let connections: Vec<(u16, Script)> = vec![
        (5222, xmpp_script()),
        (
            443,
            vec![
                (
                    C,
                    client_hello(format!("finesse{HOSTILE}.example").as_bytes()),
                ),
                // A fatal handshake_failure alert (RFC 5246 §7.2).
                (S, vec![0x15, 3, 3, 0, 2, 2, 40]),
            ],
        ),
        (
            80,
            vec![
                (C, http.into_bytes()),
                (
                    S,
                    b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n".to_vec(),
                ),
            ],
        ),
    ];
    let mut cap = Capture::new();
    for (i, (port, script)) in connections.into_iter().enumerate() {
        let client: SocketAddr = ([192, 168, 10, 21], 51_000 + i as u16).into();
        let server: SocketAddr = (server_ip, port).into();
        let start = START_NS + i as i64 * 1_000_000_000;
        let mut conv = Conversation::new(i as u32, ConvConfig::new(client, server), start);
        conv.handshake();
        for (dir, bytes) in &script {
            conv.send(*dir, bytes);
            conv.advance(1_000_000);
        }
        conv.close_fin(C);
        conv.close_fin(S);
        let segments = conv.drain();
        cap.add(&conv, segments, Wire::ethernet());
    }
    let (frames, _) = cap.finish().unwrap();
    let mut w = PcapWriter::new(
        Vec::new(),
        PcapFormat::usec(Wire::ethernet().link.linktype()),
    )
    .unwrap();
    for f in &frames {
        w.write_frame(f).unwrap();
    }
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("term{HOSTILE}.pcap"));
    std::fs::write(&path, w.into_inner().unwrap()).unwrap();
    path
}

fn assert_inert(what: &str, bytes: &[u8]) {
    for (bad, name) in [(0x1b, "ESC"), (0x07, "BEL"), (b'\r', "CR"), (0x9b, "CSI")] {
        assert!(!bytes.contains(&bad), "{what}: raw {name} written");
    }
    let text = String::from_utf8_lossy(bytes);
    assert!(!text.contains('\u{202e}'), "{what}: raw U+202E written");
}

#[test]
fn no_command_writes_captured_control_bytes_to_the_terminal() {
    let capture = hostile_capture();
    let cap = capture.to_str().unwrap();
    let runs: [&[&str]; 8] = [
        &["report", cap],
        &["tls", cap],
        &["http", cap],
        &["ws", cap],
        &["streams", cap],
        &["follow", cap, "0"],
        &["follow", cap, "2"],
        &["report", "--show-secrets", cap],
    ];
    let mut report = String::new();
    for args in runs {
        let out = Command::new(env!("CARGO_BIN_EXE_xmppcap"))
            .args(args)
            .output()
            .unwrap();
        let what = args.first().copied().unwrap_or_default();
        assert!(out.status.code().is_some_and(|c| c < 2), "{what}: {out:?}");
        assert_inert(what, &out.stdout);
        assert_inert(what, &out.stderr);
        if args == ["report", cap] {
            report = String::from_utf8_lossy(&out.stdout).into_owned();
        }
        if what == "http" {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("/finesse/api/User/a\\u{202e}b"), "{text}");
        }
        if what == "tls" {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains(&format!("SNI finesse{SHOWN}.example")),
                "{text}"
            );
        }
    }
    // The fields are shown, escaped, not dropped.
    for field in [
        format!(
            "capture {}",
            capture.display().to_string().replace(HOSTILE, SHOWN)
        ),
        format!("agent{SHOWN}@example.com/desk"),
        format!("PLAIN as agent{SHOWN}"),
        format!("away{SHOWN}"),
    ] {
        assert!(report.contains(&field), "{field} not in\n{report}");
    }
}

/// Colour codes are the renderer's own, around escaped text: with
/// `--color always` every ESC written starts an SGR sequence, and the
/// captured fields are still shown escaped.
#[test]
fn colour_never_lets_captured_control_bytes_through() {
    let capture = hostile_capture();
    let cap = capture.to_str().unwrap();
    for args in [
        &["report", "--color", "always", "--raw", cap][..],
        &["http", "--color", "always", "--width", "80", cap],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_xmppcap"))
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains('\u{1b}'), "no colour at all: {text}");
        for (i, _) in text.match_indices('\u{1b}') {
            let sgr = text[i + 1..]
                .strip_prefix('[')
                .and_then(|rest| rest.find('m').map(|end| &rest[..end]));
            assert!(
                sgr.is_some_and(|p| p.chars().all(|c| c.is_ascii_digit() || c == ';')),
                "{args:?}: an ESC that is not a colour at {i}: {:?}",
                &text[i..(i + 20).min(text.len())]
            );
        }
        let without_colour: Vec<u8> = strip_sgr(&text).into_bytes();
        assert_inert(args[0], &without_colour);
        if args[0] == "report" {
            assert!(
                text.contains(&format!("agent{SHOWN}@example.com/desk")),
                "{text}"
            );
        }
    }
}

fn strip_sgr(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('\u{1b}') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        rest = rest.find('m').map_or("", |end| &rest[end + 1..]);
    }
    out.push_str(rest);
    out
}
