//! The HTML case report as a browser reads it: each Finesse and desktop
//! fixture's page is loaded in a real headless Chromium (Debian's
//! `chromium`), and the DOM it built is checked: the verdict is there, the
//! timeline has one bar per connection, no script ran into an error, and no
//! element came from the capture. A hostile capture carries
//! `<script>alert(1)</script>` and `"><img src=x onerror=…>` in its file
//! name, SNI, stream domain, bound JID, presence and HTTP path: the title
//! must stay the capture's name and no `img` or `script` element may appear.
//!
//! Without `chromium` on the PATH the test says so and passes, unless
//! `XMPPCAP_REQUIRE_CHROMIUM` is set (CI sets it), where it fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use xmppcap_fixturegen::capture::Capture;
use xmppcap_fixturegen::frame::{FrameSink, START_NS};
use xmppcap_fixturegen::pcap::{PcapFormat, PcapWriter};
use xmppcap_fixturegen::tcp::{ConvConfig, Conversation};
use xmppcap_fixturegen::wire::Wire;
use xmppcap_fixturegen::Dir::{ClientToServer as C, ServerToClient as S};

use crate::terminal::{base64, client_hello, Script};
use crate::workspace_root;

/// Markup every hostile field carries.
const INJECTED: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";

/// The browser, or why the test is skipped; a panic when CI requires it.
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
            .find(|p| p.is_file())
    });
    match (found, std::env::var_os("XMPPCAP_REQUIRE_CHROMIUM")) {
        (Some(path), _) => Some(path),
        (None, Some(_)) => {
            panic!("XMPPCAP_REQUIRE_CHROMIUM is set but no chromium is on the PATH (apt-get install chromium)")
        }
        (None, None) => {
            eprintln!("html_browser: SKIPPED: no chromium on the PATH (apt-get install chromium; set XMPPCAP_REQUIRE_CHROMIUM to make this a failure)");
            None
        }
    }
}

/// Renders `capture` as HTML (and JSON, to count its connections) with a fixed generation time.
fn render(capture: &Path, keys: Option<&Path>, html: &Path) -> usize {
    let run = |format: &str, out: &Path| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xmppcap"));
        cmd.current_dir(workspace_root())
            .env("XMPPCAP_GENERATED_AT", "2026-03-02T12:00:00Z")
            .args(["report", "--no-progress", "--format", format, "-o"])
            .arg(out)
            .arg(capture);
        if let Some(k) = keys {
            cmd.arg("--keylog").arg(k);
        }
        let done = cmd.output().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            done.status.code().is_some_and(|c| c < 2),
            "{}: {}",
            capture.display(),
            String::from_utf8_lossy(&done.stderr)
        );
    };
    run("html", html);
    let json = html.with_extension("json");
    run("json", &json);
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("{e}"));
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let conns = value
        .pointer("/captures/0/connections")
        .and_then(|c| c.as_array())
        .map_or(0, |c| c.iter().filter(|c| !c["summary"].is_null()).count());
    conns
}

/// The DOM Chromium built from `page`, and its console on stderr.
fn load(browser: &Path, page: &Path) -> (String, String) {
    let done = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", browser.display()));
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    (
        String::from_utf8_lossy(&done.stdout).into_owned(),
        String::from_utf8_lossy(&done.stderr).into_owned(),
    )
}

/// The document's title as the browser holds it (entities decoded).
fn title(dom: &str) -> String {
    let start = dom.find("<title>").map_or(0, |i| i + "<title>".len());
    let end = dom
        .get(start..)
        .and_then(|d| d.find("</title>"))
        .map_or(start, |i| start + i);
    dom.get(start..end)
        .unwrap_or("")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn assert_inert(what: &str, dom: &str, console: &str) {
    assert!(
        !console.contains("Uncaught"),
        "{what}: console error: {console}"
    );
    for element in ["<script", "<img", "<iframe", "<object", "<embed"] {
        assert!(
            !dom.contains(element),
            "{what}: a {element} element was created"
        );
    }
}

#[test]
fn every_finesse_fixture_page_reads_in_chromium() {
    let Some(browser) = chromium() else { return };
    let root = workspace_root();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html_browser");
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
    let mut cases: Vec<(String, bool)> = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(root.join("fixtures"))
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("finesse-") || n.starts_with("desktop-"))
        .collect();
    names.sort();
    for name in names {
        let stem = name.split('.').next().unwrap_or(&name).to_owned();
        if root.join("keys").join(format!("{stem}.keys")).is_file() {
            cases.push((name.clone(), true));
        }
        if stem == "finesse-failover"
            || stem.starts_with("desktop-")
            || !cases.iter().any(|(n, _)| *n == name)
        {
            cases.push((name, false));
        }
    }
    assert!(cases.len() >= 10, "{cases:?}");
    for (name, keyed) in cases {
        let stem = name.split('.').next().unwrap_or(&name).to_owned();
        let keys = keyed.then(|| root.join("keys").join(format!("{stem}.keys")));
        let page = out.join(format!("{stem}{}.html", if keyed { "" } else { ".nokeys" }));
        let conns = render(&root.join("fixtures").join(&name), keys.as_deref(), &page);
        let (dom, console) = load(&browser, &page);
        let what = page.display().to_string();
        assert_inert(&what, &dom, &console);
        assert!(
            dom.contains("<section class=\"verdict\"><h2>Verdict</h2>"),
            "{what}: no verdict"
        );
        let bars = dom.matches("<rect class=\"conn ").count();
        assert!(conns > 0, "{what}: no connection story");
        assert_eq!(bars, conns, "{what}: one bar per connection");
        assert_eq!(
            title(&dom),
            format!("{} · xmppcap", root.join("fixtures").join(&name).display()),
            "{what}"
        );
        assert!(
            dom.contains("sha256:"),
            "{what}: no input hash in the footer"
        );
        assert!(
            dom.contains("<code>xmppcap report --no-progress --format html -o "),
            "{what}: no command line in the footer"
        );
        assert!(
            dom.contains("2026-03-02T12:00:00Z"),
            "{what}: no generation time"
        );
    }
}

/// A session on 5222 and a TLS ClientHello, every captured name hostile.
fn hostile_capture(dir: &Path) -> PathBuf {
    let h = INJECTED;
    let auth = base64(b"\0agent\0secret");
    let xmpp: Script = [
        (C, "<?xml version='1.0'?><stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>".to_owned()),
        (S, format!("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='example.com{}' version='1.0'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>", xml_attr(h))),
        (C, format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{auth}</auth>")),
        (S, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>".to_owned()),
        (C, "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>desk</resource></bind></iq>".to_owned()),
        (S, format!("<iq type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>agent{}@example.com/desk</jid></bind></iq>", xml_text(h))),
        (C, format!("<presence><status>lunch{}</status></presence>", xml_text(h))),
    ]
    .into_iter()
    .map(|(d, t)| (d, t.into_bytes()))
    .collect();
    let http = format!(
        "GET /finesse/api/User/{} HTTP/1.1\r\nHost: finesse\r\n\r\n",
        h.replace(' ', "%20")
    );
    let connections: Vec<(u16, Script)> = vec![
        (5222, xmpp),
        (
            8445,
            vec![
                (C, client_hello(format!("finesse{h}.example").as_bytes())),
                (S, vec![0x15, 3, 3, 0, 2, 2, 40]),
            ],
        ),
        (
            80,
            vec![
                (C, http.into_bytes()),
                (
                    S,
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".to_vec(),
                ),
            ],
        ),
    ];
    let mut cap = Capture::new();
    for (i, (port, script)) in connections.into_iter().enumerate() {
        let client: SocketAddr = ([192, 168, 10, 21], 52_000 + i as u16).into();
        let server: SocketAddr = ([10, 20, 30, 41], port).into();
        let mut conv = Conversation::new(
            i as u32,
            ConvConfig::new(client, server),
            START_NS + i as i64 * 1_000_000_000,
        );
        conv.handshake();
        for (dir, bytes) in &script {
            conv.send(*dir, bytes);
            conv.advance(1_000_000);
        }
        conv.rst(S);
        let segments = conv.drain();
        cap.add(&conv, segments, Wire::ethernet());
    }
    let (frames, _) = cap.finish().unwrap_or_else(|e| panic!("{e}"));
    let mut w = PcapWriter::new(
        Vec::new(),
        PcapFormat::usec(Wire::ethernet().link.linktype()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for f in &frames {
        w.write_frame(f).unwrap_or_else(|e| panic!("{e}"));
    }
    let path = dir.join(format!("html{}.pcap", h.replace('/', "_")));
    std::fs::write(&path, w.into_inner().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    path
}

/// `s` as XML character data: the parser hands the stage the markup back.
fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn xml_attr(s: &str) -> String {
    xml_text(s).replace('"', "&quot;").replace('\'', "&apos;")
}

#[test]
fn markup_in_captured_fields_stays_text_in_chromium() {
    let Some(browser) = chromium() else { return };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html_hostile");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let capture = hostile_capture(&dir);
    let page = dir.join("hostile.html");
    render(&capture, None, &page);
    let html = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{e}"));
    // The markup reached the page as text (so the test tests something).
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("finesse&lt;script&gt;"),
        "SNI not shown: {html}"
    );
    assert!(
        html.contains("agent&lt;script&gt;"),
        "JID not shown: {html}"
    );
    let (dom, console) = load(&browser, &page);
    assert_inert("hostile", &dom, &console);
    assert_eq!(title(&dom), format!("{} · xmppcap", capture.display()));
}

/// `conns` wss desktops of the bench generator, with their key log.
fn many_sessions(dir: &Path, conns: usize) -> (PathBuf, PathBuf) {
    use xmppcap_fixturegen::bench::{bench_wss, BenchConfig};
    let mut w = PcapWriter::new(
        Vec::new(),
        PcapFormat::usec(Wire::ethernet().link.linktype()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let cfg = BenchConfig {
        size: 0,
        conns,
        seed: 7,
        varied: false,
    };
    let (_, keys) = bench_wss(&mut w, &cfg).unwrap_or_else(|e| panic!("{e}"));
    let capture = dir.join("many.pcap");
    let keylog = dir.join("many.keys");
    std::fs::write(&capture, w.into_inner().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&keylog, keys).unwrap_or_else(|e| panic!("{e}"));
    (capture, keylog)
}

#[test]
fn a_page_of_many_sessions_summarises_them_and_its_links_land() {
    let Some(browser) = chromium() else { return };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html_many");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let (capture, keys) = many_sessions(&dir, 60);
    let page = dir.join("many.html");
    let conns = render(&capture, Some(&keys), &page);
    assert_eq!(conns, 60);
    let (dom, console) = load(&browser, &page);
    assert_inert("many", &dom, &console);
    // One dense row per session in one table, no per-session block.
    assert!(
        dom.contains("<section id=\"sessions\" class=\"sessions-summarised\">"),
        "no summary table"
    );
    assert!(dom.contains("This page summarises a capture of 60 XMPP sessions"));
    assert_eq!(dom.matches("<tr id=\"s-").count(), 60);
    assert_eq!(dom.matches("<details").count(), 0);
    // The desktops in one table too, each still anchored.
    assert_eq!(dom.matches("<tr id=\"d-").count(), 60);
    // Every link of the DOM lands on an element of the DOM.
    let ids: Vec<&str> = attribute_values(&dom, "id");
    let hrefs = attribute_values(&dom, "href");
    assert!(hrefs.len() > 3, "{hrefs:?}");
    for href in hrefs {
        let target = href.strip_prefix('#').unwrap_or(href);
        assert!(ids.contains(&target), "#{target} has no element");
    }
    assert!(dom.contains("<section class=\"verdict\"><h2>Verdict</h2>"));
}

/// The values of `attr="…"` in `html`.
fn attribute_values<'h>(html: &'h str, attr: &str) -> Vec<&'h str> {
    let key = format!(" {attr}=\"");
    html.match_indices(&key)
        .filter_map(|(i, _)| {
            let rest = html.get(i + key.len()..)?;
            rest.get(..rest.find('"')?)
        })
        .collect()
}
