//! Whether a connection whose handshake was not captured carries WebSocket,
//! from the first bytes of both directions.
//!
//! Takes the first bytes each direction sent (as many as the caller keeps
//! while undecided), the connection's ports, and whether more will come;
//! gives [`Probe::WebSocket`] only when the frames prove it
//! ([`Confidence::Content`](crate::ws::Confidence): XMPP or Finesse text, or
//! readable text with the client masking every frame and the server none),
//! [`Probe::NotWebSocket`] when no frames start there or when only frame
//! structure says WebSocket, and [`Probe::NeedMore`] while more bytes could
//! still decide. Frame structure alone is not enough: binary protocols such
//! as OpenFlow, HART-IP, Aerospike or length-prefixed RPC start their
//! records with a type and a length byte that parse as a frame header, and
//! a message decoded from them would be made up. Pure; allocates at most a
//! bounded message buffer and an inflater per direction.

use crate::position::Dir;
use crate::ws::deflate::Inflater;
use crate::ws::evidence::{Confidence, Evidence, Ports};
use crate::ws::frame::{parse_header, unmask, Header, Opcode, Parse, RSV1};
use crate::ws::midstream::{
    chain, payload_plausible, plausible, scan_needing, Expect, Scan, Verdict,
};

/// The answer of [`probe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Proven: XMPP or Finesse text, or readable text with consistent masking.
    WebSocket,
    /// No frames start there, or only frame structure says WebSocket.
    NotWebSocket,
    /// More bytes may still decide.
    NeedMore,
}

/// Frames after which a connection that only has frame structure is given up.
const GIVE_UP_FRAMES: u64 = 64;
/// Bytes of one message looked at (text evidence needs far less).
const MESSAGE_CAP: usize = 64 << 10;

/// Whether the connection carries WebSocket: `first` holds the first bytes
/// of each direction (indexed by [`Dir::index`]), `max_len` bounds a
/// frame's payload, `at_end`: no more bytes will come.
pub fn probe(first: [&[u8]; 2], ports: Option<Ports>, max_len: u64, at_end: bool) -> Probe {
    let expect = Expect {
        masked: None,
        rsv1: true,
        max_len,
    };
    let verdicts = first.map(|bytes| chain(bytes, &expect, at_end));
    let mut starts: [Option<(usize, bool)>; 2] = verdicts.map(|v| match v {
        Verdict::Accept(masked) => Some((0, masked)),
        Verdict::Wait(_) | Verdict::Reject => None,
    });
    if starts == [None, None] {
        return if verdicts.iter().any(|v| matches!(v, Verdict::Wait(_))) {
            Probe::NeedMore
        } else {
            Probe::NotWebSocket
        };
    }
    // Once one direction has frames, the other is read with the opposite
    // masking: from its first byte while its frames are still arriving (its
    // whole ones count, as they would at the end), or from the boundary a
    // scan finds when it starts mid-frame (the capture began there).
    for dir in Dir::BOTH {
        let (i, other) = (dir.index(), dir.flip().index());
        let (None, Some((_, masked))) = (starts[i], starts[other]) else {
            continue;
        };
        let expect = Expect {
            masked: Some(!masked),
            ..expect
        };
        starts[i] = match (verdicts[i], scan_needing(first[i], &expect, at_end)) {
            (Verdict::Wait(_), _) => Some((0, !masked)),
            (_, (Scan::Found { at, masked }, _)) => Some((at, masked)),
            _ => None,
        };
    }
    let mut evidence = Evidence::new(ports);
    for dir in Dir::BOTH {
        if let Some((at, masked)) = starts[dir.index()] {
            let bytes = first[dir.index()].get(at..).unwrap_or_default();
            walk(dir, bytes, masked, max_len, &mut evidence);
        }
    }
    match evidence.confidence() {
        Confidence::Content => Probe::WebSocket,
        _ if at_end || evidence.frames() >= GIVE_UP_FRAMES => Probe::NotWebSocket,
        _ => Probe::NeedMore,
    }
}

/// The message being read by [`walk`], with its buffers.
#[derive(Default)]
struct Messages {
    open: Option<Reading>,
    inflater: Option<Inflater>,
    plain: Vec<u8>,
    scratch: Vec<u8>,
}

struct Reading {
    text: bool,
    compressed: bool,
    /// Not valid deflate: no text to look at.
    broken: bool,
}

impl Messages {
    /// A data frame (text, binary or continuation) and its payload; gives
    /// the text of the text message it completes (unknown bytes 0xFF).
    fn on_frame(&mut self, h: &Header, payload: &[u8]) -> Option<&[u8]> {
        if h.opcode != Opcode::Continuation {
            self.plain.clear();
            self.open = Some(Reading {
                text: h.opcode == Opcode::Text,
                compressed: h.rsv & RSV1 != 0,
                broken: false,
            });
        }
        let r = self.open.as_mut()?;
        self.scratch.clear();
        self.scratch
            .extend_from_slice(payload.get(..MESSAGE_CAP).unwrap_or(payload));
        if let Some(key) = h.mask {
            unmask(&mut self.scratch, key, 0);
        }
        if r.compressed && !r.broken {
            let inf = self
                .inflater
                .get_or_insert_with(|| Inflater::new(true, false));
            r.broken = inf
                .feed(&self.scratch, &mut self.plain, MESSAGE_CAP)
                .is_err();
            if h.fin && !r.broken {
                r.broken = inf.end_message(&mut self.plain, MESSAGE_CAP).is_err();
            }
            if r.broken {
                inf.lose_context();
            }
        } else if !r.compressed {
            let room = MESSAGE_CAP.saturating_sub(self.plain.len());
            let keep = self.scratch.get(..room).unwrap_or(&self.scratch);
            self.plain.extend_from_slice(keep);
        }
        if !h.fin {
            return None;
        }
        let done = self.open.take()?;
        (done.text && !done.broken).then_some(self.plain.as_slice())
    }
}

/// Reads one direction's frames from a boundary until the bytes end or a
/// frame is implausible, giving the evidence every whole frame and text
/// message holds. Compressed text is inflated with an unknown window, as
/// the stage would.
fn walk(dir: Dir, bytes: &[u8], masked: bool, max_len: u64, evidence: &mut Evidence) {
    let expect = Expect {
        masked: Some(masked),
        rsv1: true,
        max_len,
    };
    let (mut pos, mut fragment_open) = (0usize, false);
    let mut messages = Messages::default();
    while let Parse::Complete(h) = parse_header(bytes.get(pos..).unwrap_or_default()) {
        let len = usize::try_from(h.payload_len).unwrap_or(usize::MAX);
        let start = pos.saturating_add(h.header_len());
        let payload = bytes.get(start..start.saturating_add(len));
        let Some(payload) = payload.filter(|_| {
            h.payload_len <= max_len
                && plausible(&h, pos == 0, fragment_open, Some(masked), &expect)
        }) else {
            return;
        };
        if !payload_plausible(&h, payload) {
            return;
        }
        evidence.on_frame(dir, h.mask.is_some());
        pos = start + payload.len();
        if h.opcode.is_control() {
            continue;
        }
        fragment_open = !h.fin;
        if let Some(text) = messages.on_frame(&h, payload) {
            evidence.on_text(dir, text);
        }
    }
}
