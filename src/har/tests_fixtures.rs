//! The committed HARs under fixtures/har/: real Chromium 156 exports made by
//! tools/har-recorder, and hand-made edge cases.

use std::fs::File;
use std::path::PathBuf;

use super::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/har")
        .join(name)
}

fn read_fixture(name: &str) -> (Result<Summary, Error>, Collected) {
    let file = File::open(fixture(name)).expect("fixture present");
    let mut sink = Collected::default();
    let result = read(file, &HarLimits::default(), &mut sink);
    (result, sink)
}

#[test]
fn smoke() {
    for name in [
        "finesse-ws.har",
        "finesse-ws-sanitized.har",
        "finesse-bosh.har.gz",
        "finesse-ws-open.har.gz",
    ] {
        let (result, sink) = read_fixture(name);
        println!("{name}: {result:?} {:?}", sink.header);
        for f in &sink.findings {
            println!("  {} {f}", f.code());
        }
        for e in &sink.entries {
            println!(
                "  {} {:?} {} {} {:?} {:?}",
                e.index,
                e.kind,
                e.request.method,
                e.request.url,
                e.response.status,
                e.started.map(|t| t.to_rfc3339())
            );
        }
    }
}
