//! Summaries of connections and sessions are bounded: past the cap they are
//! counted, said in a finding, and NDJSON still has every event.

use std::path::Path;

use xmppcap::limits::Limits;
use xmppcap::pipeline::{self, EventSink, Options};
use xmppcap::report::event::Event;

struct Count(usize);

impl EventSink for Count {
    fn emit(&mut self, _: Event) {
        self.0 += 1;
    }
}

fn analyze(max_summaries: usize) -> (pipeline::Analyzed, usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let opts = Options {
        limits: Limits {
            max_summaries,
            ..Limits::default()
        },
        keylogs: vec![root.join("keys/finesse-failover.keys")],
        ..Options::default()
    };
    let mut events = Count(0);
    let a = pipeline::analyze(
        &root.join("fixtures/finesse-failover.pcapng"),
        &opts,
        &mut events,
    )
    .expect("fixture readable");
    (a, events.0)
}

#[test]
fn summaries_past_the_cap_are_counted_not_kept() {
    let (all, all_events) = analyze(100_000);
    let (capped, capped_events) = analyze(1);
    assert_eq!((all.connections.len(), all.sessions.len()), (4, 2));
    assert_eq!((capped.connections.len(), capped.sessions.len()), (1, 1));
    assert_eq!((capped.connections_seen, capped.sessions_seen), (4, 2));
    let codes: Vec<&str> = capped.findings.iter().map(|f| f.code.code()).collect();
    assert!(codes.contains(&"tcp.summary_limit") && codes.contains(&"xmpp.summary_limit"));
    // The event stream is the same but for those two findings: the desktop
    // story sees every connection, kept in the summaries or not.
    let across = |a: &pipeline::Analyzed| {
        a.findings
            .iter()
            .filter(|f| f.code == "conn.failover" || f.code == "conn.reconnect")
            .count()
    };
    assert_eq!((across(&all), across(&capped)), (1, 1));
    assert_eq!(capped_events, all_events + 2);
}
