//! The proof that a connection seen without its handshake is WebSocket, as
//! its frames come.
//!
//! Takes each decoded frame's mask bit and each text message, and every
//! finding the stage wants to report; gives the findings through only once
//! the connection is proven ([`Confidence::Content`]), with a `ws.midstream`
//! finding saying why first. Until then findings are held (a bounded few,
//! the rest counted); at the end of a connection that stayed at
//! [`Confidence::FramesOnly`] they are dropped and one `ws.midstream` finding
//! says so: no WebSocket finding rests on a guess. A connection whose
//! handshake was seen passes everything straight through.

use crate::finding::{Finding, Findings, Level};
use crate::position::{Dir, FrameRef};
use crate::ws::evidence::{Confidence, Evidence, Ports};
use crate::ws::FindingCode;

/// Findings held while the connection is unproven; later ones are counted.
const MAX_HELD: usize = 64;

pub(crate) struct Proof {
    stream: u64,
    confidence: Confidence,
    evidence: Evidence,
    held: Vec<Finding>,
    withheld: u64,
    /// Where the first frame was found.
    first: Option<(FrameRef, Dir)>,
}

impl Proof {
    pub(crate) fn handshake(stream: u64) -> Proof {
        Proof::new(stream, Confidence::Handshake)
    }

    pub(crate) fn midstream(stream: u64) -> Proof {
        Proof::new(stream, Confidence::FramesOnly)
    }

    fn new(stream: u64, confidence: Confidence) -> Proof {
        Proof {
            stream,
            confidence,
            evidence: Evidence::new(None),
            held: Vec::new(),
            withheld: 0,
            first: None,
        }
    }

    pub(crate) fn set_ports(&mut self, ports: Ports) {
        self.evidence.ports = Some(ports);
    }

    pub(crate) fn confidence(&self) -> Confidence {
        self.confidence
    }

    /// The evidence, for a connection seen without its handshake.
    pub(crate) fn evidence(&self) -> Option<Evidence> {
        (self.confidence != Confidence::Handshake).then_some(self.evidence)
    }

    /// Still gathering evidence: only then are frames and texts looked at.
    pub(crate) fn gathering(&self) -> bool {
        self.confidence == Confidence::FramesOnly
    }

    /// A frame was decoded in `dir` from capture frame `at`.
    pub(crate) fn on_frame<S: Findings>(
        &mut self,
        dir: Dir,
        masked: bool,
        at: FrameRef,
        client: Option<Dir>,
        sink: &mut S,
    ) {
        if !self.gathering() {
            return;
        }
        self.first.get_or_insert((at, dir));
        self.evidence.on_frame(dir, masked);
        self.check(client, sink);
    }

    /// A whole text message (unknown bytes 0xFF).
    pub(crate) fn on_text<S: Findings>(
        &mut self,
        dir: Dir,
        payload: &[u8],
        client: Option<Dir>,
        sink: &mut S,
    ) {
        if !self.gathering() {
            return;
        }
        self.evidence.on_text(dir, payload);
        self.check(client, sink);
    }

    /// Passes a finding on, or holds it while the connection is unproven.
    pub(crate) fn pass<S: Findings>(&mut self, finding: Finding, sink: &mut S) {
        if !self.gathering() {
            sink.push_finding(finding);
        } else if self.held.len() < MAX_HELD {
            self.held.push(finding);
        } else {
            self.withheld += 1;
        }
    }

    fn check<S: Findings>(&mut self, client: Option<Dir>, sink: &mut S) {
        if self.evidence.confidence() != Confidence::Content {
            return;
        }
        self.confidence = Confidence::Content;
        let msg = format!(
            "decoded as WebSocket without its handshake because {}{}",
            self.evidence.because(client),
            roles(client)
        );
        sink.push_finding(self.midstream_finding(Level::Info, msg));
        for f in std::mem::take(&mut self.held) {
            sink.push_finding(f);
        }
        if self.withheld > 0 {
            let msg = format!(
                "{} more WebSocket findings from before the connection was proven not shown",
                self.withheld
            );
            sink.push_finding(self.midstream_finding(Level::Info, msg));
        }
    }

    /// The connection ended: one finding if it never got past frame structure.
    pub(crate) fn finish<S: Findings>(&mut self, client: Option<Dir>, sink: &mut S) {
        if !self.gathering() {
            return;
        }
        let count = self.held.len() as u64 + self.withheld;
        let msg = match (self.evidence.frames(), count) {
            (0, 0) => return,
            (0, _) => format!(
                "no WebSocket frame found in a connection seen without its handshake \
                 ({count} findings withheld)"
            ),
            _ => format!(
                "frames found without a WebSocket handshake, but only their structure says \
                 WebSocket: {}; decoded, with no WebSocket finding reported ({count} withheld){}",
                self.evidence.because(client),
                roles(client)
            ),
        };
        self.held.clear();
        self.withheld = 0;
        sink.push_finding(self.midstream_finding(Level::Info, msg));
    }

    fn midstream_finding(&self, level: Level, msg: String) -> Finding {
        let mut f = Finding::new(FindingCode::Midstream, msg).with_level(level);
        if let Some((at, dir)) = self.first {
            f = f.at(at).in_stream(self.stream, Some(dir));
        } else {
            f = f.in_stream(self.stream, None);
        }
        f
    }
}

fn roles(client: Option<Dir>) -> String {
    match client {
        Some(c) => format!("; the masking side (the WebSocket client) sends {c}"),
        None => String::new(),
    }
}
