use super::*;
use crate::finding::Finding;
use crate::position::{Dir, FrameRef, Timestamp};
use crate::report::event::{Detail, WsMessage};

/// Events of several kinds, with hostile text where the capture puts text.
fn events() -> Vec<Event> {
    let hostile = "\"session\":null, \"session\":7 } \\ \u{0} 名前 🙂";
    let at = FrameRef::new(42, Timestamp::default());
    let message = |text: &str| WsMessage {
        opcode: "text",
        compressed: true,
        frames: 2,
        wire_len: 10,
        len: Some(text.len() as u64),
        truncated: false,
        not_inflated: None,
        text: Some(text.to_owned()),
    };
    let mut events = vec![
        Event::new(Some(at), hostile, Detail::WsMessage(message(hostile))),
        Event::new(None, "session", Detail::WsMessage(message("session"))),
        Event::finding(&Finding::new(crate::tcp::FindingCode::Gap, hostile)),
    ];
    for (i, e) in events.iter_mut().enumerate() {
        e.stream = Some(i as u64);
        e.dir = Some(Dir::ServerToClient);
    }
    events
}

fn rendered(event: &Event) -> Vec<u8> {
    sonic_rs::to_vec(event).unwrap()
}

#[test]
fn the_open_line_with_a_number_placed_is_the_line_with_that_number() {
    for mut event in events() {
        let mut out = b"before".to_vec();
        event.session = None;
        let place = with_renderer(&mut out, |r| r.render_open(&event))
            .unwrap()
            .expect("a session field");
        assert_eq!(out.get(..6), Some(&b"before"[..]), "appended");
        assert_eq!(out.get(place.clone()), Some(&b"null"[..]));
        assert_eq!(
            out.get(6..),
            Some(&rendered(&event)[..]),
            "as the writer renders it"
        );
        for number in [Some(1), Some(u32::MAX), None] {
            let mut placed = out.get(6..place.start).unwrap().to_vec();
            placed.extend(sonic_rs::to_vec(&number).unwrap());
            placed.extend(out.get(place.end..).unwrap());
            event.session = number;
            assert_eq!(
                String::from_utf8_lossy(&placed),
                String::from_utf8_lossy(&rendered(&event))
            );
        }
    }
}

#[test]
fn an_event_with_its_number_renders_as_the_writer_renders_it() {
    for mut event in events() {
        event.session = Some(12);
        let mut out = Vec::new();
        let place = with_renderer(&mut out, |r| r.render_open(&event))
            .unwrap()
            .expect("a session field");
        assert_eq!(out, rendered(&event));
        assert_eq!(out.get(place), Some(&b"12"[..]));
    }
}

#[test]
fn keys_are_compared_as_strings() {
    assert!(is_named("session", "session"));
    assert!(!is_named("sessions", "session"));
    assert!(!is_named("sess", "session"));
    assert!(!is_named(&7u32, "session"));
    assert!(!is_named("", "session"));
}

#[test]
fn a_value_that_is_not_a_map_is_refused() {
    let mut out = Vec::new();
    let open = Open {
        out: RefCell::new(Vec::new()),
        found: Cell::new(None),
    };
    let mut serializer = sonic_rs::Serializer::new(&mut out);
    let top = Top {
        inner: &mut serializer,
        open: &open,
    };
    assert!("text".serialize(top).is_err());
    assert!(open.found.get().is_none());
}

#[test]
fn one_renderer_writes_lines_one_after_the_other() {
    let mut out = Vec::new();
    let mut expected = Vec::new();
    let places = with_renderer(&mut out, |r| {
        let mut places = Vec::new();
        for (i, mut event) in events().into_iter().enumerate() {
            event.session = Some(i as u32);
            let start = r.len();
            if i % 2 == 0 {
                r.render(&event).unwrap();
            } else {
                places.push((start, r.render_open(&event).unwrap()));
            }
            expected.extend(rendered(&event));
        }
        places
    });
    assert_eq!(out, expected);
    for (start, place) in places {
        let place = place.expect("a session field");
        assert!(place.start > start);
        assert!(out
            .get(place)
            .is_some_and(|v| v.iter().all(u8::is_ascii_digit)));
    }
}
