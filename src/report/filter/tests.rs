use super::*;

fn end(typed: &str, bound: Bound) -> Option<WindowEnd> {
    Some(WindowEnd {
        typed: typed.to_owned(),
        bound,
    })
}

#[test]
fn an_empty_filter_is_inactive_and_says_nothing() {
    let f = Filter::default();
    assert!(!f.is_active());
    assert_eq!(f.describe(), "");
}

#[test]
fn the_description_names_every_part() {
    let f = Filter {
        streams: vec![0, 3],
        agent: Some("1001".to_owned()),
        since: end("+90s", Bound::AfterStart(90_000_000_000)),
        until: None,
        summary: true,
    };
    assert_eq!(
        f.describe(),
        "streams 0, 3, agent 1001, since +90s, summary (no timelines)"
    );
}

#[test]
fn an_offset_counts_from_the_capture_start_and_bounds_are_inclusive() {
    let start = Timestamp::from_secs_nanos(1_000, 0);
    let f = Filter {
        since: end("+2s", Bound::AfterStart(2_000_000_000)),
        until: end("+3s", Bound::AfterStart(3_000_000_000)),
        ..Filter::default()
    };
    let scope = f.scope(Some(start));
    let at = |s: i64, n: u64| Some(Timestamp::from_secs_nanos(s, n));
    assert!(!scope.in_window(at(1_001, 999_999_999)));
    assert!(scope.in_window(at(1_002, 0)));
    assert!(scope.in_window(at(1_003, 0)));
    assert!(!scope.in_window(at(1_003, 1)));
    // Nothing without a time is inside a window.
    assert!(!scope.in_window(None));
}

#[test]
fn a_stream_filter_drops_findings_of_other_streams_and_of_none() {
    let f = Filter {
        streams: vec![2],
        ..Filter::default()
    };
    let scope = f.scope(None);
    let on = |stream: Option<u64>| Finding {
        stream,
        ..Finding::new(crate::tcp::FindingCode::Gap, "x")
    };
    assert!(scope.keeps_finding(&on(Some(2))));
    assert!(!scope.keeps_finding(&on(Some(1))));
    assert!(!scope.keeps_finding(&on(None)));
}

mod stories {
    use std::path::Path;

    use super::*;
    use crate::pipeline::{self, Options};
    use crate::report::ndjson::Selection;

    fn failover() -> Report {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let opts = Options {
            keylogs: vec![root.join("keys/finesse-failover.keys")],
            ..Options::default()
        };
        pipeline::report(
            &root.join("fixtures/finesse-failover.pcapng"),
            &opts,
            Selection::All,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn narrowed(f: &Filter) -> Report {
        let mut r = failover();
        f.apply(&mut r);
        r
    }

    fn after(secs: i64) -> Option<WindowEnd> {
        end(
            &format!("+{secs}s"),
            Bound::AfterStart(secs * 1_000_000_000),
        )
    }

    #[test]
    fn a_window_keeps_the_states_and_connections_that_overlap_it() {
        let r = narrowed(&Filter {
            since: after(20),
            ..Filter::default()
        });
        let [a] = r.agents.as_slice() else {
            panic!("{:?}", r.agents)
        };
        // NOT_READY ended at 19.344 s; READY began then and lasted past 20 s.
        let states: Vec<&str> = a.states.iter().map(|s| s.state.as_str()).collect();
        assert_eq!(states, ["READY", "RESERVED", "TALKING", "READY"]);
        let ids: Vec<u32> = a.sessions.iter().map(|s| s.id).collect();
        assert_eq!(ids, [2]);
        assert!(a.rest_calls.is_empty(), "the 503 was at 7 s");
        let start = r.capture.first_time.unwrap_or_else(|| panic!("no packets"));
        assert!(!a.findings.is_empty());
        assert!(a.findings.iter().all(|f| f
            .time
            .is_some_and(|t| t.nanos_since(start) >= 20_000_000_000)));
        assert_eq!(a.dialogs.len(), 1);
        let [d] = r.desktops.as_slice() else {
            panic!("{:?}", r.desktops)
        };
        let streams: Vec<u64> = d.connections.iter().map(|c| c.stream).collect();
        assert_eq!(streams, [2]);
        // The REST traffic to finesse1 was over before the window.
        assert!(
            d.rest
                .iter()
                .all(|t| t.node.sni.as_deref() == Some("finesse2.example.com")),
            "{:?}",
            d.rest
        );
    }

    #[test]
    fn a_window_before_any_state_leaves_the_agent_its_first_session_only() {
        let r = narrowed(&Filter {
            until: after(5),
            ..Filter::default()
        });
        let [a] = r.agents.as_slice() else {
            panic!("{:?}", r.agents)
        };
        assert!(a.states.is_empty() && a.dialogs.is_empty() && a.rest_calls.is_empty());
        assert_eq!(a.sessions.iter().map(|s| s.id).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn a_stream_keeps_only_what_ran_on_it() {
        let r = narrowed(&Filter {
            streams: vec![1],
            ..Filter::default()
        });
        let [a] = r.agents.as_slice() else {
            panic!("{:?}", r.agents)
        };
        assert!(a.sessions.is_empty() && a.states.is_empty() && a.dialogs.is_empty());
        assert_eq!(a.rest_calls.len(), 1);
        assert_eq!(a.rest_calls[0].call.status, Some(503));
        assert!(a.findings.iter().all(|f| f.stream == Some(1)));
        assert!(r.desktops.is_empty(), "{:?}", r.desktops);
        // A stream with nothing of the agent leaves no agent section.
        let none = narrowed(&Filter {
            streams: vec![99],
            ..Filter::default()
        });
        assert!(none.agents.is_empty() && none.desktops.is_empty());
    }

    #[test]
    fn the_agent_filter_keeps_its_whole_story_and_its_rest_connections() {
        let whole = failover();
        let r = narrowed(&Filter {
            agent: Some("1001".to_owned()),
            ..Filter::default()
        });
        assert_eq!(r.agents, whole.agents);
        assert!(
            r.connections.iter().any(|c| c.stream == 1),
            "the 503's connection"
        );
        assert!(narrowed(&Filter {
            agent: Some("2002".to_owned()),
            ..Filter::default()
        })
        .agents
        .is_empty());
    }

    #[test]
    fn ndjson_narrows_the_stories_as_the_report_does() {
        for f in [
            Filter {
                since: after(20),
                ..Filter::default()
            },
            Filter {
                streams: vec![1, 2],
                until: after(30),
                ..Filter::default()
            },
        ] {
            let whole = failover();
            let mut agents = whole.agents.clone();
            f.narrow_agents(&mut agents, &whole.sessions, whole.capture.first_time);
            assert_eq!(agents, narrowed(&f).agents, "{}", f.describe());
        }
    }
}
