//! The story builder on constructed records: durations, how states were
//! entered, dialogs, REST calls tied to their agent, caps.

use super::*;
use crate::finesse::{AgentStates, DialogRecord, DialogState, RestMatch, StateChange};

fn at(frame: u64, secs: i64) -> FrameRef {
    FrameRef::new(frame, Timestamp::from_secs_nanos(secs, 0))
}

fn change(
    frame: u64,
    secs: i64,
    state: &str,
    reason: Option<&str>,
    entered: Entered,
) -> StateChange {
    StateChange {
        at: at(frame, secs),
        session: Some(1),
        state: state.to_owned(),
        reason_code: reason.map(str::to_owned),
        reason_label: reason.map(|r| {
            if r == "255" {
                "Forced".to_owned()
            } else {
                "Lunch".to_owned()
            }
        }),
        entered,
    }
}

fn rest_entered() -> Entered {
    Entered::Rest {
        request_id: "r-1".to_owned(),
        request: Box::new(RestMatch {
            frame: 142,
            stream: 3,
            method: "PUT".to_owned(),
            path: "/finesse/api/User/1001".to_owned(),
            ms_before_update: 298.0,
        }),
    }
}

fn call(stream: u64, path: &str, agent: Option<&str>) -> RestCallRecord {
    RestCallRecord {
        stream,
        at: at(66, 7),
        method: "GET".to_owned(),
        path: path.to_owned(),
        request_id: None,
        status: Some(503),
        latency_ms: Some(12.0),
        agent: agent.map(str::to_owned),
    }
}

fn records() -> Records {
    let mut agents = BTreeMap::new();
    agents.insert(
        "1001".to_owned(),
        AgentStates {
            changes: vec![
                change(10, 100, "NOT_READY", Some("12"), Entered::ServerInitiated),
                change(20, 130, "READY", None, rest_entered()),
                change(30, 190, "LOGOUT", Some("255"), Entered::ServerInitiated),
            ],
            not_kept: 2,
        },
    );
    let dialog = DialogRecord {
        id: "16777301".to_owned(),
        agent: Some("1001".to_owned()),
        session: Some(1),
        from_address: Some("6125551234".to_owned()),
        to_address: Some("4001".to_owned()),
        media_type: Some("Voice".to_owned()),
        states: vec![
            DialogState {
                at: at(21, 140),
                state: "ALERTING".to_owned(),
            },
            DialogState {
                at: at(22, 144),
                state: "ACTIVE".to_owned(),
            },
            DialogState {
                at: at(23, 159),
                state: "DROPPED".to_owned(),
            },
        ],
        states_not_kept: 0,
        participants: vec![Participant {
            media_address: Some("4001".to_owned()),
            state: Some("DROPPED".to_owned()),
            ..Participant::default()
        }],
        call_variables: vec![CallVariable {
            name: "callVariable1".to_owned(),
            value: "AT&T".to_owned(),
        }],
    };
    Records {
        agents,
        dialogs: vec![dialog],
        dialogs_not_kept: 0,
        rest_calls: vec![
            call(1, "/finesse/api/User/1001", Some("1001")),
            call(4, "/finesse/api/SystemInfo", None),
            call(5, "/finesse/api/User/2002", Some("2002")),
        ],
        rest_calls_not_kept: 0,
    }
}

fn sources(records: &Records, raw: bool) -> Sources<'_> {
    Sources {
        sessions: &[],
        connections: &[],
        desktops: &[],
        findings: &[],
        records,
        capture_end: Some(Timestamp::from_secs_nanos(200, 0)),
        raw,
    }
}

#[test]
fn states_last_to_the_next_one_and_the_last_to_the_end_of_the_capture() {
    let records = records();
    let stories = build(&sources(&records, false));
    let names: Vec<&str> = stories.iter().map(|a| a.agent.as_str()).collect();
    assert_eq!(names, ["1001", "2002"]);
    let a = &stories[0];
    let spans: Vec<(&str, Option<f64>, bool)> = a
        .states
        .iter()
        .map(|s| (s.state.as_str(), s.duration_s, s.until_capture_end))
        .collect();
    assert_eq!(
        spans,
        [
            ("NOT_READY", Some(30.0), false),
            ("READY", Some(60.0), false),
            ("LOGOUT", Some(10.0), true)
        ]
    );
    assert_eq!(a.states_not_kept, 2);
    let rows: Vec<[String; 5]> = a.states.iter().map(words::state_row).collect();
    assert_eq!(rows[0][2], "12 \"Lunch\"");
    assert_eq!(
        rows[1][4],
        "PUT /finesse/api/User/1001 (frame 142, stream 3, requestId r-1), Update 298 ms later"
    );
    assert_eq!(
        rows[2][4],
        "by the server (reason 255: the desktop session vanished)"
    );
    assert_eq!(rows[2][3], "10.000 s (until the end of the capture)");
    assert_eq!(
        rows[0][4],
        "by the server (no REST request of the capture asked)"
    );
}

#[test]
fn a_dialog_shows_its_states_with_durations_and_call_variables_only_when_raw() {
    let records = records();
    let a = &build(&sources(&records, false))[0];
    let [d] = a.dialogs.as_slice() else {
        panic!("one dialog expected: {:?}", a.dialogs);
    };
    let spans: Vec<(&str, Option<f64>)> = d
        .states
        .iter()
        .map(|s| (s.state.as_str(), s.duration_s))
        .collect();
    assert_eq!(
        spans,
        [
            ("ALERTING", Some(4.0)),
            ("ACTIVE", Some(15.0)),
            ("DROPPED", None)
        ]
    );
    assert!(d.call_variables.is_none() && words::call_variables_line(d).is_none());
    assert_eq!(
        words::dialog_line(d),
        "dialog 16777301 Voice 6125551234 → 4001: ALERTING at 00:02:20.000 (frame 21) for 4.000 s → ACTIVE at 00:02:24.000 (frame 22) for 15.000 s → DROPPED at 00:02:39.000 (frame 23); participants 4001 DROPPED"
    );
    let raw = &build(&sources(&records, true))[0].dialogs[0];
    assert_eq!(
        words::call_variables_line(raw).as_deref(),
        Some("call variables of 16777301: callVariable1=AT&T")
    );
}

#[test]
fn rest_calls_go_to_the_agent_their_url_names_and_no_other() {
    let records = records();
    let stories = build(&sources(&records, false));
    let paths = |i: usize| -> Vec<&str> {
        stories[i]
            .rest_calls
            .iter()
            .map(|c| c.call.path.as_str())
            .collect()
    };
    // Without sessions, the SystemInfo call has no desktop address to tie it by.
    assert_eq!(paths(0), ["/finesse/api/User/1001"]);
    assert_eq!(paths(1), ["/finesse/api/User/2002"]);
    assert_eq!(stories[0].rest_calls[0].linked_by, LinkedBy::Url);
    let lines = words::story_lines(&stories[0]);
    assert_eq!(
        lines.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(),
        ["REST GET /finesse/api/User/1001 → 503 in 12 ms (frame 66, stream 1)"]
    );
}

#[test]
fn with_nothing_recorded_there_is_no_story() {
    let records = Records::default();
    assert!(build(&sources(&records, false)).is_empty());
    let mut records = Records::default();
    records
        .agents
        .insert("1001".to_owned(), AgentStates::default());
    let a = &build(&Sources {
        capture_end: None,
        ..sources(&records, false)
    })[0];
    assert!(a.states.is_empty() && a.sessions.is_empty() && a.findings.is_empty());
    let spans = build::state_spans_for_test(
        &AgentStates {
            changes: vec![change(1, 1, "READY", None, Entered::ServerInitiated)],
            not_kept: 0,
        },
        None,
    );
    assert_eq!(
        (spans[0].duration_s, spans[0].until_capture_end),
        (None, true)
    );
    assert_eq!(
        words::state_row(&spans[0])[3],
        "until the end of the capture"
    );
}
