//! Generated plain-XMPP connections through the whole pipeline (issue 15,
//! items 6 and 7): a client speaking TLS to a port where the server speaks
//! plain XMPP, a stream open the server never answers, and the SASL and
//! features wording. Each capture is built with the generator's TCP model,
//! written under Cargo's per-test scratch folder and read back by
//! `pipeline::analyze` like any file.

use std::path::{Path, PathBuf};

use fixturegen::capture::Capture;
use fixturegen::frame::{FrameSink, START_NS};
use fixturegen::pcap::{PcapFormat, PcapWriter};
use fixturegen::tcp::{ConvConfig, Conversation};
use fixturegen::wire::Wire;
use fixturegen::Dir::{ClientToServer as C, ServerToClient as S};
use xmppcap::finding::Level;
use xmppcap::pipeline::{self, Analyzed, EventSink, Options};
use xmppcap::report::event::{Detail, Event};
use xmppcap_fixturegen as fixturegen;

/// The record header and first bytes of a TLS 1.2 ClientHello (RFC 5246
/// §6.2.1, §7.4.1.2): what a client set up for direct TLS sends first.
const CLIENT_HELLO: &[u8] = b"\x16\x03\x01\x00\x31\x01\x00\x00\x2d\x03\x03abcdefghijklmnopqrstuvwxyz012345\x00\x00\x02\x00\x2f\x01\x00";

/// Prosody's answer to bytes that are not XML: its stream header, then
/// `<not-well-formed/>`, then the end of the stream.
const PROSODY_NOT_WELL_FORMED: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='x1' from='example.com' version='1.0'><stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>";

const CLIENT_OPEN: &[u8] = b"<?xml version='1.0'?><stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

/// One connection to 5222 playing `script` (1 ms apart), closed with FIN
/// both ways, written as an Ethernet pcap named `name`.
fn capture(name: &str, script: &[(fixturegen::Dir, &[u8])]) -> PathBuf {
    let client = "192.168.10.21:51000".parse().unwrap();
    let server = "10.20.30.40:5222".parse().unwrap();
    let mut conv = Conversation::new(0, ConvConfig::new(client, server), START_NS);
    conv.handshake();
    for (dir, bytes) in script {
        conv.send(*dir, bytes);
        conv.advance(1_000_000);
    }
    conv.close_fin(C);
    conv.close_fin(S);
    let mut cap = Capture::new();
    let segments = conv.drain();
    cap.add(&conv, segments, Wire::ethernet());
    let (frames, _) = cap.finish().unwrap();
    let format = PcapFormat::usec(Wire::ethernet().link.linktype());
    let mut w = PcapWriter::new(Vec::new(), format).unwrap();
    for f in &frames {
        w.write_frame(f).unwrap();
    }
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, w.into_inner().unwrap()).unwrap();
    path
}

#[derive(Default)]
struct Seen {
    /// (direction, element name, summary) of each stanza.
    stanzas: Vec<(String, String, String)>,
    /// (level, code, message) of each finding, in emission order.
    findings: Vec<(Level, &'static str, String)>,
}

impl EventSink for Seen {
    fn emit(&mut self, e: Event) {
        match &e.detail {
            Detail::XmppStanza(s) => {
                let dir = e.dir.map(|d| d.to_string()).unwrap_or_default();
                self.stanzas.push((dir, s.name.clone(), e.summary.clone()));
            }
            Detail::Finding {
                level,
                code,
                message,
                ..
            } => self.findings.push((*level, code, message.clone())),
            _ => {}
        }
    }
}

impl Seen {
    fn codes(&self) -> Vec<&'static str> {
        self.findings.iter().map(|f| f.1).collect()
    }
}

fn analyze(path: &Path) -> (Seen, Analyzed) {
    let mut seen = Seen::default();
    let analyzed = pipeline::analyze(path, &Options::default(), &mut seen).unwrap();
    (seen, analyzed)
}

#[test]
fn a_tls_client_on_a_plain_xmpp_port_shows_the_servers_reply() {
    let path = capture(
        "xmpp-tls-on-plaintext-port.pcap",
        &[(C, CLIENT_HELLO), (S, PROSODY_NOT_WELL_FORMED)],
    );
    let (seen, analyzed) = analyze(&path);
    let tls_on_plain: Vec<_> = seen
        .findings
        .iter()
        .filter(|f| f.1 == "xmpp.tls_on_plaintext_port")
        .collect();
    assert_eq!(tls_on_plain.len(), 1, "{:?}", seen.findings);
    assert_eq!(tls_on_plain[0].0, Level::Error);
    assert!(tls_on_plain[0].2.contains("STARTTLS expected"));
    // The server's XML is read as XMPP, not fed to the TLS stage.
    assert!(
        !seen.codes().iter().any(|c| c.starts_with("tls.")),
        "{:?}",
        seen.codes()
    );
    let server: Vec<_> = seen
        .stanzas
        .iter()
        .map(|(dir, name, summary)| (dir.as_str(), name.as_str(), summary.as_str()))
        .collect();
    assert_eq!(
        server[1],
        ("s2c", "stream:error", "stream error not-well-formed")
    );
    assert!(server.iter().all(|s| s.0 == "s2c"), "{server:?}");
    let conn = &analyzed.connections[0];
    assert_eq!(conn.layers, ["xmpp"]);
    assert_eq!(conn.bytes.c2s.unparsed, CLIENT_HELLO.len() as u64);
    assert_eq!(conn.bytes.s2c.unparsed, 0);
}

#[test]
fn a_tls_client_answered_with_tls_stays_tls() {
    // A ServerHello's record header: a real direct-TLS server, not the
    // misconfiguration.
    let server_hello = b"\x16\x03\x03\x00\x2a\x02\x00\x00\x26\x03\x03";
    let path = capture(
        "xmpp-direct-tls.pcap",
        &[(C, CLIENT_HELLO), (S, server_hello)],
    );
    let (seen, analyzed) = analyze(&path);
    assert!(!seen.codes().contains(&"xmpp.tls_on_plaintext_port"));
    assert_eq!(analyzed.connections[0].layers.first(), Some(&"tls"));
}

#[test]
fn a_stream_open_the_server_never_answers_is_a_warning() {
    let path = capture("xmpp-no-stream-response.pcap", &[(C, CLIENT_OPEN)]);
    let (seen, _) = analyze(&path);
    let found: Vec<_> = seen
        .findings
        .iter()
        .filter(|f| f.1 == "xmpp.no_stream_response")
        .collect();
    assert_eq!(found.len(), 1, "{:?}", seen.findings);
    assert_eq!(found[0].0, Level::Warn);
    assert!(
        found[0]
            .2
            .starts_with("the server never answered the client's stream open to example.com"),
        "{}",
        found[0].2
    );
}

#[test]
fn empty_sasl_responses_and_registration_features_in_words() {
    let features = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='example.com' version='1.0'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism><mechanism>LOGIN</mechanism></mechanisms><register xmlns='http://jabber.org/features/iq-register'/><register xmlns='urn:xmpp:ibr-token:0'/><register xmlns='urn:xmpp:invite'/></stream:features>";
    let path = capture(
        "xmpp-empty-auth.pcap",
        &[
            (C, CLIENT_OPEN),
            (S, features),
            (
                C,
                b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='LOGIN'>=</auth>",
            ),
            (
                S,
                b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>",
            ),
            (
                C,
                b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>",
            ),
        ],
    );
    let (seen, _) = analyze(&path);
    let summaries: Vec<&str> = seen.stanzas.iter().map(|s| s.2.as_str()).collect();
    assert!(
        summaries.contains(&"features: SASL PLAIN LOGIN, in-band registration (XEP-0077), pre-authenticated registration (XEP-0445 invitation token), invitation registration (XEP-0401, older namespace)"),
        "{summaries:?}"
    );
    assert!(
        summaries.contains(&"auth LOGIN (empty initial response)"),
        "{summaries:?}"
    );
    assert!(
        summaries.contains(&"auth PLAIN (no initial response)"),
        "{summaries:?}"
    );
    assert!(
        !summaries.iter().any(|s| s.contains("redacted")),
        "{summaries:?}"
    );
}
