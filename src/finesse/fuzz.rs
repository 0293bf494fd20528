//! Fuzz entry points for this stage (exposed through `crate::fuzzing`).
//!
//! Takes arbitrary bytes; drives the notification parser and the stage
//! (as the text of one pubsub item, after a REST request it may answer);
//! gives nothing back. The only property checked is the stage contract: no
//! panic, bounded work.

use std::borrow::Cow;

use super::{
    parse_notification, RestExchange, RestMatch, RestRequest, Sink, Stage, StanzaAt, Update,
};
use crate::finding::{Finding, Findings};
use crate::limits::Limits;
use crate::position::{Dir, FrameRef};
use crate::xmpp::PubsubItem;

/// A sink that looks at every event (so serialisation runs too) and keeps nothing.
struct Discard;

impl Findings for Discard {
    fn push_finding(&mut self, finding: Finding) {
        std::hint::black_box(finding);
    }
}

impl Sink for Discard {
    fn on_update(&mut self, _: &StanzaAt, update: Update, rest: Option<RestMatch>) {
        std::hint::black_box((serde_json::to_vec(&update).ok(), rest));
    }
}

fn small_limits() -> Limits {
    Limits {
        max_stanza_bytes: 4096,
        max_xml_depth: 16,
        max_xml_nodes: 256,
        ..Limits::default()
    }
}

/// The notification parser, then the stage, on any text.
pub(crate) fn notification(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let limits = small_limits();
    if let Ok(update) = parse_notification(&text, &limits) {
        std::hint::black_box((update.summary(), update.findings()));
    }
    let mut stage = Stage::new(&limits, true);
    let at = FrameRef::default();
    let request = RestRequest {
        at,
        method: "PUT",
        path: "/finesse/api/User/1",
        request_id: Some("r-1"),
    };
    let exchange = RestExchange {
        stream: 0,
        request: Some(request),
        response: None,
    };
    stage.on_rest_exchange(&exchange, &mut Discard);
    let item = PubsubItem {
        node: Cow::Borrowed("/finesse/api/User/1"),
        item_id: None,
        name: "notification",
        text: &text,
    };
    let place = StanzaAt {
        session: Some(1),
        stream: 0,
        session_stream: 0,
        dir: Dir::ServerToClient,
        first: at,
        last: at,
    };
    stage.on_pubsub_items(&place, &[item], &mut Discard);
    std::hint::black_box(stage.held_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEEDS: &[&str] = &[
        "<Update><data><user><loginId>1</loginId><state>LOGOUT</state><reasonCodeId>255</reasonCodeId></user></data><event>PUT</event><requestId>r-1</requestId></Update>",
        "<Update><data><dialogs><Dialog><id>1</id><mediaProperties><callvariables><CallVariable><name>a</name><value>AT&amp;T</value></CallVariable></callvariables></mediaProperties></Dialog></dialogs></data><event>POST</event></Update>",
        "{\"Update\":{\"data\":{\"Queue\":{\"name\":\"q\",\"statistics\":{\"callsInQueue\":2}}},\"event\":\"put\"}}",
        "&lt;Update&gt;&lt;data&gt;&lt;apiErrors&gt;&lt;apiError&gt;&lt;errorType&gt;x&lt;/errorType&gt;&lt;/apiError&gt;&lt;/apiErrors&gt;&lt;/data&gt;&lt;/Update&gt;",
    ];

    #[test]
    fn fuzz_smoke_never_panics() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 7;
            state ^= state >> 9;
            state
        };
        for seed in SEEDS {
            notification(seed.as_bytes());
            for _ in 0..300 {
                let mut v = seed.as_bytes().to_vec();
                for _ in 0..(next() % 6) {
                    let i = (next() as usize) % v.len().max(1);
                    match next() % 3 {
                        0 => v.truncate(i),
                        1 => v.insert(i.min(v.len()), b"<>'\"/&;!?{"[(next() % 10) as usize]),
                        _ => {
                            if let Some(b) = v.get_mut(i) {
                                *b ^= 1 << (next() % 8);
                            }
                        }
                    }
                }
                notification(&v);
            }
        }
        for input in [&b""[..], b"<", b"{", b"&lt;", b"<Update>"] {
            notification(input);
        }
        notification("<a>".repeat(10_000).as_bytes());
        notification(format!("<Update><data>{}</data></Update>", "<x/>".repeat(5_000)).as_bytes());
    }
}
