//! One HTTP/1.1 connection: two message readers and the exchanges they
//! pair, composed; upgrades where the connection switches protocol.
//!
//! Takes the bytes of both directions of one TCP connection, in capture
//! order and in pieces of any size; gives [`Exchange`]s (request plus
//! response, paired first-in first-out, pipelining included), an
//! [`Upgrade`] when the connection switches protocol at an exact byte, BOSH
//! events, and findings. Each direction is a [`reader::MessageReader`]
//! (heads, body framing, held upgrade bytes, resync); the exchanges wait in
//! a [`pairing::Pairing`]; this module decides what a head means for both.
//! Buffers at most one head per direction (`limits.max_http_head`), one kept
//! body per direction (`limits.max_http_body`), the client bytes that follow
//! an upgrade request until its answer, and `limits.max_http_pending`
//! unanswered requests. Never panics on input.
//!
//! [`Exchange`]: super::Exchange

mod head;
mod hold;
mod message;
mod pairing;
mod reader;
mod resync;

use crate::finding::{Code, Finding, Findings};
use crate::limits::Limits;
use crate::position::{Dir, FrameRef};

use super::body;
use super::exchange::{Protocol, Upgrade};
use super::parser::{
    request_framing, response_framing, Fields, Framing, FramingDecision, FramingError, RequestHead,
    ResponseHead,
};
use super::upgrade::{check_websocket_request, is_websocket_request, judge};
use super::{bosh, Sink};
use head::{Head, HeadRead, Span};
use message::{Finishing, Req, Resp};
use pairing::{Answer, Pairing};
use reader::{BodyEnd, Fed, MessageReader};

const C2S: Dir = Dir::ClientToServer;
const S2C: Dir = Dir::ServerToClient;

/// Where something was seen: direction, frame, and offset in the direction's stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Spot {
    pub dir: Dir,
    pub at: FrameRef,
    pub offset: u64,
}

/// Sends one finding of connection `stream`, located at `spot`.
pub(super) fn note(
    sink: &mut impl Findings,
    stream: u64,
    spot: Spot,
    code: impl Into<Code>,
    msg: String,
) {
    sink.push_finding(
        Finding::new(code, msg)
            .in_stream(stream, Some(spot.dir))
            .at(spot.at)
            .at_offset(spot.offset),
    );
}

/// The handshake header values an upgrade carries on to the next stage.
#[derive(Debug, Default)]
struct Agreed {
    subprotocol: Option<String>,
    extensions_offered: Option<String>,
    extensions_accepted: Option<String>,
}

impl Agreed {
    fn from_heads(req: Option<&RequestHead>, resp: &Fields) -> Agreed {
        Agreed {
            subprotocol: resp.get("sec-websocket-protocol"),
            extensions_offered: req.and_then(|r| r.fields.get("sec-websocket-extensions")),
            extensions_accepted: resp.get("sec-websocket-extensions"),
        }
    }
}

/// The HTTP stage of one TCP connection.
pub struct Connection {
    stream: u64,
    limits: Limits,
    show_secrets: bool,
    /// Client then server.
    readers: [MessageReader; 2],
    pairing: Pairing,
    last_seen: FrameRef,
    finished: bool,
}

impl Connection {
    /// A connection whose first bytes looked like HTTP ([`super::detect`]).
    pub fn new(stream: u64, limits: &Limits, show_secrets: bool) -> Connection {
        Connection {
            stream,
            limits: limits.clone(),
            show_secrets,
            readers: [
                MessageReader::new(stream, C2S, limits),
                MessageReader::new(stream, S2C, limits),
            ],
            pairing: Pairing::new(stream, limits.max_http_pending),
            last_seen: FrameRef::default(),
            finished: false,
        }
    }

    /// Bytes held now: both directions' readers (heads, bodies, held or
    /// resynchronising bytes) and the body text of exchanges still waiting
    /// in the pairing queue.
    pub fn held_bytes(&self) -> usize {
        self.readers
            .iter()
            .map(MessageReader::held_bytes)
            .sum::<usize>()
            + self.pairing.held_bytes()
    }

    /// Bytes of `dir` this stage skipped without parsing (resynchronisation, cut heads).
    pub fn unparsed(&self, dir: Dir) -> u64 {
        self.reader(dir).unparsed()
    }

    /// True once `dir` was handed to another protocol.
    pub fn is_switched(&self, dir: Dir) -> bool {
        self.reader(dir).is_switched()
    }

    fn reader(&self, dir: Dir) -> &MessageReader {
        &self.readers[dir.index()]
    }

    fn reader_mut(&mut self, dir: Dir) -> &mut MessageReader {
        &mut self.readers[dir.index()]
    }

    /// Feeds bytes of `dir` from frame `at`. Returns how many were taken: all
    /// of them, unless the direction switched protocol (see [`Upgrade`]).
    pub fn on_data(&mut self, dir: Dir, at: FrameRef, bytes: &[u8], sink: &mut impl Sink) -> usize {
        self.last_seen = self.last_seen.max(at);
        self.reader_mut(dir).saw(at);
        let mut pos = 0;
        let mut stalls = 0;
        while let Some(rest) = bytes.get(pos..).filter(|r| !r.is_empty()) {
            let n = match self.reader_mut(dir).feed(at, rest, sink) {
                Fed::Switched => return pos,
                Fed::Took(n) => n,
                Fed::Head(n, read) => {
                    self.on_head(*read, sink);
                    n
                }
                Fed::Body(n, end) => {
                    self.complete(dir, *end, sink);
                    n
                }
            };
            // Each step takes a byte or changes phase; two idle steps in a row would be a bug.
            stalls = if n == 0 { stalls + 1 } else { 0 };
            if stalls > 2 {
                self.reader_mut(dir).give_up(rest.len());
                return bytes.len();
            }
            pos += n;
        }
        pos
    }

    fn on_head(&mut self, read: HeadRead, sink: &mut impl Sink) {
        match read.head {
            Head::Request(head) => self.on_request(head, read.span, sink),
            Head::Response(head) => self.on_response(head, read.span, sink),
        }
    }

    fn on_request(&mut self, head: RequestHead, span: Span, sink: &mut impl Sink) {
        let framing = request_framing(&head);
        if is_websocket_request(&head) {
            for p in check_websocket_request(&head) {
                note(sink, self.stream, span.start, p.code, p.message);
            }
        }
        let req = Req::new(head, span.start, span.end.at, self.show_secrets);
        let index = self.pairing.open(Some(req), span.start, sink);
        if let Some(body) = self.open_body(C2S, index, framing, span, sink) {
            self.read_body(C2S, index, body, span.end, sink);
        }
    }

    fn on_response(&mut self, head: ResponseHead, span: Span, sink: &mut impl Sink) {
        let index = match self.pairing.answer(&head, span.start, sink) {
            Answer::Interim => return,
            Answer::Final(index) => index,
            Answer::Unrequested => {
                // Located as the requests it could push out: client side.
                let at = Spot {
                    dir: C2S,
                    at: span.start.at,
                    offset: self.reader(C2S).head_offset(),
                };
                self.pairing.open(None, at, sink)
            }
        };
        let show = self.show_secrets;
        let Some(entry) = self.pairing.entry_mut(index) else {
            return;
        };
        let req_head = entry.req.as_ref().map(|r| &r.head);
        let framing = response_framing(&head, req_head.map(|h| h.method.as_str()));
        let outcome = judge(req_head, &head);
        // The heads are gone once the exchange is reported: keep what the upgrade needs now.
        let switched = outcome
            .switched
            .map(|p| (p, Agreed::from_heads(req_head, &head.fields)));
        let status = head.status;
        entry.resp = Some(Resp::new(head, span.start, span.end.at, show));
        for p in outcome.problems {
            note(sink, self.stream, span.start, p.code, p.message);
        }
        let Some(body) = self.open_body(S2C, index, framing, span, sink) else {
            return self.release_held(index, status, sink);
        };
        if let Some((protocol, agreed)) = switched {
            let end = BodyEnd {
                index,
                body,
                whole: true,
                end: span.end,
            };
            self.complete(S2C, end, sink);
            let up = self.switch(protocol, agreed, index, span.end, outcome.accept_valid);
            sink.on_upgrade(&up);
            return;
        }
        self.read_body(S2C, index, body, span.end, sink);
        self.release_held(index, status, sink);
    }

    /// The body reader of a message; None (the message ends here, cut, and
    /// the reader resynchronises) when its body cannot be delimited.
    fn open_body(
        &mut self,
        dir: Dir,
        index: u64,
        framing: Result<FramingDecision, FramingError>,
        span: Span,
        sink: &mut impl Sink,
    ) -> Option<body::Reader> {
        let opened = self.reader_mut(dir).open_body(framing, span, sink);
        if opened.is_none() {
            let end = BodyEnd {
                index,
                body: body::Reader::new(Framing::Empty, 0, 0),
                whole: false,
                end: span.end,
            };
            self.complete(dir, end, sink);
        }
        opened
    }

    /// A message's body follows its head ending at `end`, or it has none.
    fn read_body(
        &mut self,
        dir: Dir,
        index: u64,
        body: body::Reader,
        end: Spot,
        sink: &mut impl Sink,
    ) {
        if body.is_done_at_start() {
            let whole = true;
            self.complete(
                dir,
                BodyEnd {
                    index,
                    body,
                    whole,
                    end,
                },
                sink,
            );
        } else {
            self.reader_mut(dir).read_body(index, body);
        }
    }

    /// A final answer that did not switch: client bytes held for it are HTTP after all.
    fn release_held(&mut self, index: u64, status: u16, sink: &mut impl Sink) {
        if status < 200 {
            return;
        }
        let Some(hold) = self.reader_mut(C2S).release(index) else {
            return;
        };
        let (lost, switch_at) = (hold.lost(), hold.switch_at);
        for chunk in hold.chunks {
            if chunk.gap_before > 0 {
                self.on_gap(C2S, chunk.at, chunk.gap_before, sink);
            }
            self.on_data(C2S, chunk.at, &chunk.bytes, sink);
        }
        if lost > 0 {
            let at = self.reader(C2S).last_at().unwrap_or(switch_at);
            self.on_gap(C2S, at, lost, sink);
        }
    }

    /// Both directions switch protocol after exchange `index`, the server's
    /// answer ending at `end`; builds the event.
    fn switch(
        &mut self,
        protocol: Protocol,
        agreed: Agreed,
        index: u64,
        end: Spot,
        accept_valid: Option<bool>,
    ) -> Upgrade {
        let client = self.reader_mut(C2S).hand_over(index, end.at);
        self.reader_mut(S2C).hand_over(index, end.at);
        Upgrade {
            stream: self.stream,
            protocol,
            server_at: end.at,
            server_offset: end.offset,
            client_at: client.at,
            client_offset: client.offset,
            client_held: client.held,
            client_dropped: client.dropped,
            subprotocol: agreed.subprotocol,
            extensions_offered: agreed.extensions_offered,
            extensions_accepted: agreed.extensions_accepted,
            accept_valid,
        }
    }

    /// A body of `dir` ended (whole or cut): report it, hand BOSH bodies up,
    /// hold the client bytes after a request that asks to switch, and report
    /// the exchanges now done.
    fn complete(&mut self, dir: Dir, end: BodyEnd, sink: &mut impl Sink) {
        let how = Finishing {
            limits: &self.limits,
            show_secrets: self.show_secrets,
            stream: self.stream,
            last: end.end.at,
            whole: end.whole,
        };
        let Some(entry) = self.pairing.entry_mut(end.index) else {
            return;
        };
        let (fin, hold) = match (dir, entry.req.as_mut(), entry.resp.as_mut()) {
            (C2S, Some(req), resp) => {
                let hold = resp.is_none() && req.asks_to_switch();
                (req.finish(end.body, &how), hold)
            }
            (S2C, req, Some(resp)) => (resp.finish(req.as_deref(), end.body, &how), false),
            _ => return,
        };
        let at = Spot {
            dir,
            at: fin.first,
            offset: fin.offset,
        };
        for (code, msg) in fin.notes {
            note(sink, self.stream, at, code, msg);
        }
        if let Some(body) = fin.bosh {
            sink.on_bosh(&bosh::Event::Body(Box::new(body)));
        }
        if hold {
            self.reader_mut(C2S).hold(end.index, end.end);
        }
        self.pairing.drain(sink);
    }

    /// `len` bytes of `dir` were lost in the capture at frame `at`.
    pub fn on_gap(&mut self, dir: Dir, at: FrameRef, len: u64, sink: &mut impl Sink) {
        self.on_missing(dir, at, len, None, sink);
    }

    /// `len` bytes of `dir` were captured at frame `at` but the TLS stage
    /// could not decrypt them, for the reason `why` ("no key for the
    /// server's direction"): told as such (info), never as lost.
    pub fn on_undecrypted(
        &mut self,
        dir: Dir,
        at: FrameRef,
        len: u64,
        why: &str,
        sink: &mut impl Sink,
    ) {
        self.on_missing(dir, at, len, Some(why), sink);
    }

    fn on_missing(
        &mut self,
        dir: Dir,
        at: FrameRef,
        len: u64,
        not_decrypted: Option<&str>,
        sink: &mut impl Sink,
    ) {
        self.last_seen = self.last_seen.max(at);
        if dir == S2C {
            self.pairing.on_server_gap(not_decrypted.is_some());
        }
        if let Some(cut) = self.reader_mut(dir).on_gap(at, len, not_decrypted, sink) {
            self.complete(dir, cut, sink);
        }
    }

    /// The peer sending `dir` closed (FIN or RST) at frame `at`: a body
    /// delimited by the close ends here, any other message is cut.
    pub fn on_close(&mut self, dir: Dir, at: FrameRef, sink: &mut impl Sink) {
        self.last_seen = self.last_seen.max(at);
        if let Some(cut) = self.reader_mut(dir).on_close(at, sink) {
            self.complete(dir, cut, sink);
        }
    }

    /// The connection is over: close-delimited bodies complete, requests
    /// without answers are reported (and BOSH long polls cut).
    pub fn finish(&mut self, sink: &mut impl Sink) {
        if self.finished {
            return;
        }
        self.finished = true;
        let closed = self.readers.iter().any(MessageReader::is_closed);
        let end = self.last_seen;
        for dir in Dir::BOTH {
            if let Some(cut) = self.reader_mut(dir).finish(end, sink) {
                self.complete(dir, cut, sink);
            }
        }
        for reader in &mut self.readers {
            reader.count_held_as_unparsed();
        }
        self.pairing.finish(end, closed, sink);
    }
}
