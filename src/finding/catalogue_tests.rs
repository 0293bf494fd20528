//! The catalogue against the documents and the code: the README table and the
//! schema's list of codes are generated from it, and every code in it is
//! built somewhere in `src/`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::catalogue;

const BEGIN: &str = "<!-- findings:begin -->";
const END: &str = "<!-- findings:end -->";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bless() -> bool {
    std::env::var_os("XMPPCAP_BLESS").is_some()
}

/// The README's table of every finding code, one row per code.
fn readme_table() -> String {
    let mut out = String::from("| code | level | layer | meaning |\n|---|---|---|---|\n");
    for code in catalogue() {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            code.code(),
            code.level(),
            code.layer().as_str(),
            code.meaning().replace('|', "\\|")
        ));
    }
    out
}

#[test]
fn readme_table_is_generated_from_the_catalogue() {
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (Some(begin), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md has no {BEGIN} … {END} markers");
    };
    let (head, tail) = (&readme[..begin + BEGIN.len()], &readme[end..]);
    let current = &readme[begin + BEGIN.len()..end];
    let wanted = format!("\n{}", readme_table());
    if current == wanted {
        return;
    }
    if bless() {
        std::fs::write(&path, format!("{head}{wanted}{tail}")).unwrap();
        return;
    }
    panic!(
        "the README's findings table differs from the catalogue (XMPPCAP_BLESS=1 cargo test --lib finding:: rewrites it); expected:\n{wanted}"
    );
}

/// The `enum` of the finding's `code` property, as text between its brackets.
fn schema_code_enum(schema: &str) -> Option<(usize, usize)> {
    let code = schema.find("\"code\": {")?;
    let start = code + schema[code..].find("\"enum\": [")? + "\"enum\": [".len();
    let end = start + schema[start..].find(']')?;
    Some((start, end))
}

#[test]
fn schema_lists_exactly_the_catalogue_codes() {
    let path = root().join("docs/report.schema.json");
    let schema = std::fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&schema).unwrap();
    let listed: Vec<&str> = json["$defs"]["finding"]["properties"]["code"]["enum"]
        .as_array()
        .map(|codes| codes.iter().filter_map(|c| c.as_str()).collect())
        .unwrap_or_default();
    let wanted: Vec<&str> = catalogue().iter().map(|c| c.code()).collect();
    if listed == wanted {
        return;
    }
    if bless() {
        let (start, end) = schema_code_enum(&schema).expect("the code property has an enum");
        let indent = "            ";
        let items: Vec<String> = wanted.iter().map(|c| format!("{indent}\"{c}\"")).collect();
        let list = format!("\n{}\n          ", items.join(",\n"));
        std::fs::write(
            &path,
            format!("{}{list}{}", &schema[..start], &schema[end..]),
        )
        .unwrap();
        return;
    }
    let listed: BTreeSet<&str> = listed.into_iter().collect();
    let wanted: BTreeSet<&str> = wanted.into_iter().collect();
    panic!(
        "docs/report.schema.json's finding codes differ from the catalogue (XMPPCAP_BLESS=1 rewrites them): missing {:?}, unknown {:?}, or the order differs",
        wanted.difference(&listed).collect::<Vec<_>>(),
        listed.difference(&wanted).collect::<Vec<_>>()
    );
}

#[test]
fn codes_are_unique_and_named_by_their_layer() {
    let mut seen = BTreeSet::new();
    for code in catalogue() {
        assert!(seen.insert(code.code()), "{} declared twice", code.code());
        assert!(!code.meaning().is_empty(), "{} has no meaning", code.code());
        assert!(
            code.code().contains('.'),
            "{} is not layer.what",
            code.code()
        );
    }
}

/// Non-test source text of every `.rs` file under `dir`: test files are
/// skipped and a file's own `#[cfg(test)]` tail is cut.
fn sources(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let is_test = name.starts_with("tests")
            || name.ends_with("_tests.rs")
            || name.starts_with("testkit")
            || name.starts_with("testutil")
            || name == "tests";
        if path.is_dir() && !is_test {
            sources(&path, out);
        } else if name.ends_with(".rs") && !is_test && name != "findings.rs" {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let code = text.split("#[cfg(test)]\nmod ").next().unwrap_or_default();
            out.push((path, code.to_owned()));
        }
    }
}

/// Where a stage's enum lives, from the `Code` variant's name.
fn stage_dir(stage: &str) -> (&'static str, &'static str) {
    match stage {
        "Capture" => ("src/capture", "capture"),
        "Decode" => ("src/decode", "decode"),
        "Tcp" => ("src/tcp", "tcp"),
        "Conn" => ("src/conn", "conn"),
        "Tls" => ("src/tls", "tls"),
        "Http" => ("src/http", "http"),
        "Bosh" => ("src/http/bosh", "bosh"),
        "Ws" => ("src/ws", "ws"),
        "Har" => ("src/har", "har"),
        "Xmpp" => ("src/xmpp", "xmpp"),
        "Finesse" => ("src/finesse", "finesse"),
        "Desktop" => ("src/desktop", "desktop"),
        "Limits" => ("src/limits.rs", "limits"),
        "Report" => ("src/report", "report"),
        other => panic!("no directory known for stage {other}"),
    }
}

/// Whether `text` names `path` as a whole word: `FindingCode::Gap` must not
/// count for `FindingCode::GapInFrame`.
fn mentions(text: &str, path: &str) -> bool {
    text.match_indices(path).any(|(i, _)| {
        !text[i + path.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
    })
}

/// Fails when a catalogue code is built nowhere: neither as
/// `FindingCode::Variant` in its stage (or `stage::FindingCode::Variant`
/// anywhere) nor, for the call sites still on strings, as its code string.
#[test]
fn every_code_is_constructed_somewhere_in_src() {
    let mut files = Vec::new();
    sources(&root().join("src"), &mut files);
    let files: Vec<_> = files
        .into_iter()
        .filter(|(p, _)| !p.starts_with(root().join("src/finding")))
        .collect();
    let mut unused = Vec::new();
    for code in catalogue() {
        // `Tcp(Gap)`: the stage and the variant.
        let debug = format!("{code:?}");
        let (stage, variant) = debug
            .trim_end_matches(')')
            .split_once('(')
            .expect("Code's Debug is Stage(Variant)");
        let (dir, module) = stage_dir(stage);
        let dir = root().join(dir);
        let local = format!("FindingCode::{variant}");
        let qualified = format!("{module}::FindingCode::{variant}");
        let literal = format!("\"{}\"", code.code());
        let built = files.iter().any(|(path, text)| {
            let in_stage = path.starts_with(&dir)
                && (stage != "Http" || !path.starts_with(root().join("src/http/bosh")));
            text.contains(&literal)
                || (in_stage && mentions(text, &local))
                || mentions(text, &qualified)
        });
        if !built {
            unused.push(code.code());
        }
    }
    assert!(
        unused.is_empty(),
        "catalogue codes never built in src/ (remove them, or build them): {unused:?}"
    );
}
