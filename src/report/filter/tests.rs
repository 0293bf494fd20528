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
