//! Fuzz entry points for this stage (exposed through `crate::fuzzing`).
//!
//! Takes arbitrary bytes; drives the TCP framer and the per-element session
//! with them; gives nothing back. The only
//! property checked is the stage contract: no panic, bounded work.

use super::{PubsubItem, Session, Sink, Stanza, StreamFramer, TlsHandover, Transport};
use crate::finding::{Finding, Findings};
use crate::limits::Limits;
use crate::position::{Dir, FrameRef, Timestamp};

/// A sink that looks at every event (so serialisation runs too) and keeps nothing.
struct Discard;

impl Findings for Discard {
    fn push_finding(&mut self, finding: Finding) {
        std::hint::black_box(finding);
    }
}

impl Sink for Discard {
    fn on_stanza(&mut self, stanza: &Stanza<'_>) {
        std::hint::black_box(serde_json::to_vec(stanza).ok());
    }
    fn on_pubsub_items(&mut self, _: &Stanza<'_>, items: &[PubsubItem<'_>]) {
        std::hint::black_box(serde_json::to_vec(items).ok());
    }
    fn on_tls_handover(&mut self, handover: &TlsHandover) {
        std::hint::black_box(handover);
    }
}

fn small_limits() -> Limits {
    Limits {
        max_stanza_bytes: 4096,
        max_xml_depth: 16,
        max_xml_nodes: 256,
        max_pending_iqs: 16,
        ..Limits::default()
    }
}

/// The TCP framer: the first byte seeds how `data` is cut into segments,
/// which direction each goes to, and where gaps fall.
pub(crate) fn framer(data: &[u8]) {
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let mut f = StreamFramer::new(0, &small_limits(), seed & 1 == 0);
    let mut state = u32::from(seed) | 1;
    let mut pos = 0;
    let mut frame = 1;
    while pos < rest.len() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let len = (state % 97) as usize + 1;
        let end = (pos + len).min(rest.len());
        let dir = if state & 0x100 == 0 {
            Dir::ClientToServer
        } else {
            Dir::ServerToClient
        };
        let at = FrameRef::new(frame, Timestamp::from_secs_nanos(0, frame * 1_000_000));
        if state & 0xf000 == 0 {
            f.on_gap(dir, at, u64::from(state % 50), &mut Discard);
        }
        let chunk = rest.get(pos..end).unwrap_or_default();
        if f.on_data(dir, at, chunk, &mut Discard) < chunk.len() {
            f.on_tls_data(dir, at, chunk, &mut Discard);
        }
        pos = end;
        frame += 1;
    }
    f.finish(&mut Discard);
}

/// One session fed WebSocket messages: `data` split at NUL bytes, alternating directions.
pub(crate) fn element(data: &[u8]) {
    let mut s = Session::new(0, Transport::WebSocket, &small_limits(), false);
    for (i, message) in data.split(|&b| b == 0).enumerate() {
        let dir = if i % 2 == 0 {
            Dir::ClientToServer
        } else {
            Dir::ServerToClient
        };
        let at = FrameRef::new(i as u64 + 1, Timestamp::default());
        s.on_element(dir, at, message, &mut Discard);
    }
    s.finish(&mut Discard);
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEEDS: &[&str] = &[
        "<?xml version='1.0'?><stream:stream to='a' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>ADEwMDEAczNjcmV0IVB3</auth><iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>desktop</resource></bind></iq><presence><priority>-1</priority></presence></stream:stream>",
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features><proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\u{16}\u{3}\u{1}",
        "<message from='pubsub.f'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='/finesse/api/User/1'><item id='1'><notification xmlns='http://jabber.org/protocol/pubsub'>&lt;Update&gt;&lt;data&gt;&lt;user&gt;&lt;loginId&gt;1&lt;/loginId&gt;&lt;state&gt;LOGOUT&lt;/state&gt;&lt;reasonCodeId&gt;255&lt;/reasonCodeId&gt;&lt;/user&gt;&lt;/data&gt;&lt;event&gt;PUT&lt;/event&gt;&lt;/Update&gt;</notification></item></items></event></message>",
        "<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>\0<iq type='result' id='p'/>\0<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error><!-- x --><![CDATA[y]]>",
        "<Update><data><dialogs><Dialog><id>1</id><mediaProperties><callvariables><CallVariable><name>a</name><value>AT&amp;T</value></CallVariable></callvariables></mediaProperties></Dialog></dialogs></data><event>POST</event></Update>",
        "{\"Update\":{\"data\":{\"Queue\":{\"name\":\"q\",\"statistics\":{\"callsInQueue\":2}}},\"event\":\"put\"}}",
    ];

    /// Deterministic mutations of valid inputs: flips, cuts, splices and markup bytes.
    fn mutants() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 7;
            state ^= state >> 9;
            state
        };
        for seed in SEEDS {
            for _ in 0..300 {
                let mut v = seed.as_bytes().to_vec();
                for _ in 0..(next() % 6) {
                    let i = (next() as usize) % v.len().max(1);
                    match next() % 5 {
                        0 => v.truncate(i),
                        1 => v.insert(i.min(v.len()), b"<>'\"/&;!?["[(next() % 10) as usize]),
                        2 => {
                            if let Some(b) = v.get_mut(i) {
                                *b ^= 1 << (next() % 8);
                            }
                        }
                        3 => {
                            let j = (next() as usize) % v.len().max(1);
                            let piece: Vec<u8> =
                                v.get(j.min(i)..j.max(i)).unwrap_or_default().to_vec();
                            v.splice(i.min(v.len())..i.min(v.len()), piece);
                        }
                        _ => v.insert(i.min(v.len()), (next() % 256) as u8),
                    }
                }
                out.push(v);
            }
        }
        out
    }

    #[test]
    fn fuzz_smoke_never_panics() {
        for input in mutants() {
            framer(&input);
            element(&input);
        }
        for input in [
            &b""[..],
            b"\0",
            b"<",
            b"<<<<",
            b"</",
            b"<!--",
            b"<![CDATA[",
            b"<?",
        ] {
            framer(input);
            element(input);
        }
    }

    #[test]
    fn fuzz_smoke_deep_and_wide() {
        let deep = "<a>".repeat(10_000);
        element(deep.as_bytes());
        framer(deep.as_bytes());
        let wide = format!("<iq type='result' id='x'>{}</iq>", "<item/>".repeat(5_000));
        element(wide.as_bytes());
    }
}
