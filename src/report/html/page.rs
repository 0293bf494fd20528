//! What the case report's frame says about how it was made: the title (the
//! capture names), and the footer (xmppcap's version, when the page was
//! generated, the command line with secrets removed, each input file's
//! SHA-256).
//!
//! Takes what the command line knows; gives a [`Page`] and its footer in
//! HTML. Never reads a key file's contents: key logs are named, not hashed,
//! and an argument that could carry a secret is replaced by `<redacted>`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use quick_xml::escape::escape;
use sha2::{Digest, Sha256};

use crate::position::Timestamp;

/// The environment variable that fixes the footer's generation time
/// (RFC 3339, or seconds since the Unix epoch), so that a page made twice is
/// the same page: goldens and tests set it.
pub const GENERATED_AT_VAR: &str = "XMPPCAP_GENERATED_AT";

/// How the page was made; [`Page::default`] says nothing (a library caller
/// that knows no command line).
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// When, as written in the footer (UTC).
    pub generated_at: Option<String>,
    /// The command line, secrets removed ([`redact_args`]).
    pub command_line: Option<String>,
    /// The input files in the order given.
    pub inputs: Vec<InputFile>,
    /// Inputs that could not be analysed, with why: each gets a section.
    pub failed: Vec<(String, String)>,
    /// The filter the report was narrowed by, in words (`--stream`, `--agent`, …).
    pub filter: Option<String>,
}

/// One input file and its SHA-256 (none when it could not be read again).
#[derive(Clone, Debug)]
pub struct InputFile {
    pub name: String,
    pub sha256: Option<String>,
}

impl Page {
    /// The page for a run over `inputs` with `args` (the whole `argv`):
    /// hashes each input, takes the time from [`GENERATED_AT_VAR`] or the clock.
    pub fn for_run(args: &[String], inputs: &[&Path]) -> Page {
        Page {
            generated_at: Some(generated_at()),
            command_line: Some(redact_args(args).join(" ")),
            inputs: inputs
                .iter()
                .map(|p| InputFile {
                    name: p.display().to_string(),
                    sha256: sha256_of_file(p).ok(),
                })
                .collect(),
            failed: Vec::new(),
            filter: None,
        }
    }
}

/// The generation time: [`GENERATED_AT_VAR`] when set and readable, else now.
fn generated_at() -> String {
    let fixed = std::env::var(GENERATED_AT_VAR).ok();
    let from_var = fixed.as_deref().and_then(|v| {
        let v = v.trim();
        match v.parse::<i64>() {
            Ok(secs) => Some(Timestamp::from_secs_nanos(secs, 0).to_rfc3339()),
            Err(_) if !v.is_empty() => Some(v.to_owned()),
            Err(_) => None,
        }
    });
    from_var.unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Timestamp::from_secs_nanos(i64::try_from(now).unwrap_or(i64::MAX), 0).to_rfc3339()
    })
}

/// The lower-case hex SHA-256 of a file, read in blocks.
pub fn sha256_of_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut block = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut block)?;
        let Some(read) = block.get(..n).filter(|r| !r.is_empty()) else {
            break;
        };
        hasher.update(read);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Options whose value could be a secret (passwords, tokens); key files are
/// named, since a path is not a secret, but never read here.
const SECRET_OPTIONS: &[&str] = &["--password", "--token", "--secret", "--psk"];

/// The command line with any secret value replaced by `<redacted>`, and
/// every argument quoted when a shell would need it.
pub fn redact_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut hide_next = false;
    for arg in args {
        if hide_next {
            out.push("<redacted>".to_owned());
            hide_next = false;
            continue;
        }
        match arg.split_once('=') {
            Some((name, _)) if SECRET_OPTIONS.contains(&name) => {
                out.push(format!("{name}=<redacted>"));
            }
            _ if SECRET_OPTIONS.contains(&arg.as_str()) => {
                out.push(arg.clone());
                hide_next = true;
            }
            _ => out.push(shell_word(arg)),
        }
    }
    out
}

/// `arg` as a shell reads it back: bare when it is plain, else single-quoted.
fn shell_word(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// The footer: version, generation time, command line, inputs and their hashes.
pub fn render_footer(page: &Page, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "<footer><table class=\"facts\">")?;
    row(
        out,
        "made by",
        &format!("xmppcap {}", env!("CARGO_PKG_VERSION")),
    )?;
    if let Some(at) = &page.generated_at {
        row(out, "generated", at)?;
    }
    if let Some(cmd) = &page.command_line {
        writeln!(
            out,
            "<tr><td>command</td><td><code>{}</code></td></tr>",
            escape(cmd)
        )?;
    }
    for input in &page.inputs {
        let hash = input.sha256.as_deref().unwrap_or("(unreadable)");
        writeln!(
            out,
            "<tr><td>input</td><td>{} <code>sha256:{}</code></td></tr>",
            escape(&input.name),
            escape(hash)
        )?;
    }
    writeln!(out, "</table>")?;
    writeln!(out, "<p><small>Frame numbers are Wireshark's <code>frame.number</code>; stream numbers are <code>tcp.stream</code>; for a HAR, <code>e12.m340</code> is entry 12 of <code>log.entries</code>, message 340 of its <code>_webSocketMessages</code>, and the stream is the entry.</small></p></footer>")
}

fn row(out: &mut dyn Write, label: &str, value: &str) -> io::Result<()> {
    writeln!(
        out,
        "<tr><td>{}</td><td>{}</td></tr>",
        escape(label),
        escape(value)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn secrets_are_redacted_and_key_paths_kept() {
        let args = strings(&[
            "xmppcap",
            "report",
            "--keylog",
            "keys/a.keys",
            "--password",
            "hunter2",
            "--token=abc",
            "my capture.pcapng",
        ]);
        let shown = redact_args(&args).join(" ");
        assert_eq!(
            shown,
            "xmppcap report --keylog keys/a.keys --password <redacted> --token=<redacted> 'my capture.pcapng'"
        );
    }

    #[test]
    fn a_quote_in_an_argument_stays_readable_by_a_shell() {
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn sha256_of_a_known_file() {
        let path = std::env::temp_dir().join(format!("xmppcap-sha-{}", std::process::id()));
        std::fs::write(&path, b"abc").unwrap_or_else(|e| panic!("{e}"));
        let hash = sha256_of_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_file(&path);
        // FIPS 180-2, appendix B.1.
        assert_eq!(
            hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_footer_escapes_names_and_command() {
        let page = Page {
            generated_at: Some("2026-01-01T00:00:00Z".to_owned()),
            command_line: Some("xmppcap '<script>'".to_owned()),
            filter: None,
            inputs: vec![InputFile {
                name: "<b>x</b>.pcap".to_owned(),
                sha256: None,
            }],
            failed: Vec::new(),
        };
        let mut out = Vec::new();
        render_footer(&page, &mut out).unwrap_or_else(|e| panic!("{e}"));
        let html = String::from_utf8_lossy(&out);
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
        assert!(html.contains("(unreadable)"), "{html}");
    }
}
