//! Messages of a connection: registering requests and responses, pairing
//! them first-in first-out, finishing their bodies (BOSH included), and
//! switching protocol after a `101` or a CONNECT.
//!
//! Takes parsed heads and finished body readers from the parent module;
//! gives exchanges, upgrades, BOSH events and findings to the sink. Never
//! touches raw stream bytes except the client bytes held for an upgrade.

use crate::common::{Dir, FrameRef};
use crate::finding::Level;
use crate::limits::Limits;

use super::super::body::Reader;
use super::super::exchange::{new_request, new_response, Exchange, Held, Upgrade};
use super::super::parser::{
    request_framing, response_framing, Fields, Framing, FramingDecision, FramingError, RequestHead,
    ResponseHead,
};
use super::super::payload::{self, Note};
use super::super::upgrade::{asks_to_switch, check_websocket_request, is_websocket_request, judge};
use super::super::{bosh, Protocol, Sink};
use super::{Connection, Entry, Holding, InBody, Phase, Req, Resp, C2S, S2C};

/// What finishing one message body needs to know.
struct Ctx<'a> {
    limits: &'a Limits,
    show: bool,
    stream: u64,
    at: FrameRef,
    end: u64,
    index: u64,
    complete: bool,
}

/// What finishing one message body produced.
struct Done {
    first: FrameRef,
    offset: u64,
    notes: Vec<Note>,
    event: Option<bosh::Body>,
    next_phase: Phase,
}

fn bosh_caps(limits: &Limits) -> bosh::Caps {
    bosh::Caps {
        max_depth: limits.max_xml_depth,
        max_stanza: limits.max_stanza_bytes,
    }
}

fn finish_request(req: &mut Req, answered: bool, reader: Reader, ctx: &Ctx<'_>) -> Done {
    let fin = payload::finish(reader, &req.head.fields, ctx.complete, ctx.limits, ctx.show);
    let mut notes = fin.notes;
    req.report.body = fin.payload;
    req.report.last = ctx.at;
    req.done = true;
    let first = req.report.first;
    let mut event = None;
    if bosh::looks_like(&fin.decoded) {
        if let Some(p) = bosh::parse(&fin.decoded, bosh_caps(ctx.limits)) {
            req.bosh = Some(p.attrs.clone());
            if let Some(e) = &p.error {
                notes.push((Level::Warn, e.code(), format!("BOSH body: {e}")));
            }
            let role = bosh::Role::Request;
            event = Some(bosh_body(
                ctx.stream, C2S, role, first, ctx.at, None, p, None,
            ));
        }
    }
    let next_phase = if asks_to_switch(&req.head) && !answered {
        Phase::Held(Box::new(Holding {
            index: ctx.index,
            switch_at: ctx.at,
            switch_offset: ctx.end,
            chunks: Vec::new(),
            bytes: 0,
            pending_gap: 0,
            dropped: 0,
        }))
    } else {
        Phase::Head
    };
    Done {
        first,
        offset: req.offset,
        notes,
        event,
        next_phase,
    }
}

fn finish_response(resp: &mut Resp, req: Option<&Req>, reader: Reader, ctx: &Ctx<'_>) -> Done {
    let fin = payload::finish(
        reader,
        &resp.head.fields,
        ctx.complete,
        ctx.limits,
        ctx.show,
    );
    let mut notes = fin.notes;
    resp.report.body = fin.payload;
    resp.report.last = ctx.at;
    resp.done = true;
    let first = resp.report.first;
    let bosh_req = req.and_then(|r| r.bosh.clone());
    let is_bosh = bosh::looks_like(&fin.decoded);
    let parsed = if is_bosh {
        bosh::parse(&fin.decoded, bosh_caps(ctx.limits))
    } else {
        None
    };
    let mut event = None;
    // The answer to a BOSH request is reported even when it carries no <body>.
    if parsed.is_some() || bosh_req.is_some() {
        let status = resp.report.status;
        let p = parsed.unwrap_or_default();
        if let Some(e) = &p.error {
            notes.push((Level::Warn, e.code(), format!("BOSH body: {e}")));
        }
        let reqref = req.map(|r| bosh::RequestRef {
            attrs: bosh_req.unwrap_or_default(),
            first: r.report.first,
            last: r.report.last,
        });
        let role = bosh::Role::Response;
        let mut body = bosh_body(
            ctx.stream,
            S2C,
            role,
            first,
            ctx.at,
            Some(status),
            p,
            reqref,
        );
        if !is_bosh {
            body.error = Some(format!("the answer (HTTP {status}) carries no BOSH <body>"));
        }
        event = Some(body);
    }
    Done {
        first,
        offset: resp.offset,
        notes,
        event,
        next_phase: Phase::Head,
    }
}

impl Connection {
    pub(super) fn push_entry(
        &mut self,
        req: Option<Req>,
        at: FrameRef,
        sink: &mut impl Sink,
    ) -> u64 {
        if self.pending.len() >= self.limits.max_http_pending.max(1) {
            if let Some(old) = self.pending.pop_front() {
                let msg = format!(
                    "more than {} requests waiting for answers; the oldest is reported unanswered",
                    self.limits.max_http_pending
                );
                self.note(
                    sink,
                    Level::Warn,
                    "http.pending_limit",
                    C2S,
                    at,
                    self.side(C2S).head_offset,
                    msg,
                );
                self.emit(old, true, sink);
            }
        }
        let index = self.next_index;
        self.next_index += 1;
        self.pending.push_back(Entry {
            index,
            req,
            resp: None,
            informational: Vec::new(),
            response_lost: false,
        });
        index
    }

    pub(super) fn entry_mut(&mut self, index: u64) -> Option<&mut Entry> {
        self.pending.iter_mut().find(|e| e.index == index)
    }

    pub(super) fn on_request(
        &mut self,
        at: FrameRef,
        head: RequestHead,
        end: u64,
        sink: &mut impl Sink,
    ) {
        let first = self.side(C2S).head_at;
        let off = self.side(C2S).head_offset;
        let framing = request_framing(&head);
        if is_websocket_request(&head) {
            for p in check_websocket_request(&head) {
                self.note(sink, p.level, p.code, C2S, first, off, p.message);
            }
        }
        let report = new_request(&head, first, at, self.show_secrets);
        let req = Req {
            offset: off,
            head,
            report,
            done: false,
            bosh: None,
        };
        let index = self.push_entry(Some(req), first, sink);
        let Some(reader) = self.body_reader(C2S, index, at, end, framing, sink) else {
            return;
        };
        if reader.is_done_at_start() {
            self.complete(C2S, index, at, reader, true, end, sink);
        } else {
            self.side_mut(C2S).phase = Phase::Body(Box::new(InBody { reader, index }));
        }
    }

    /// The reader of a message's body, from its framing; None (the message
    /// ends here, parsing resynchronises) when the body cannot be delimited.
    fn body_reader(
        &mut self,
        dir: Dir,
        index: u64,
        at: FrameRef,
        end: u64,
        framing: Result<FramingDecision, FramingError>,
        sink: &mut impl Sink,
    ) -> Option<Reader> {
        let (first, off) = (self.side(dir).head_at, self.side(dir).head_offset);
        let what = if dir == C2S { "request" } else { "response" };
        let decision = match framing {
            Ok(d) => d,
            Err(e) => {
                let msg = format!("{e}; the {what} body cannot be delimited");
                self.note(sink, Level::Warn, e.code(), dir, first, off, msg);
                let empty = Reader::new(Framing::Empty, 0, 0);
                self.complete(dir, index, at, empty, false, end, sink);
                self.lose(dir, at, 0, false);
                return None;
            }
        };
        if decision.length_overridden {
            // In a request this is also how request smuggling looks.
            let sign = if dir == C2S {
                "; a request-smuggling sign"
            } else {
                ""
            };
            let msg = format!(
                "{what} has both Transfer-Encoding and Content-Length (Transfer-Encoding wins{sign})"
            );
            self.note(
                sink,
                Level::Warn,
                "http.length_conflict",
                dir,
                first,
                off,
                msg,
            );
        }
        let caps = (self.limits.max_http_body, self.limits.max_http_head);
        Some(Reader::new(decision.framing, caps.0, caps.1))
    }

    pub(super) fn on_response(
        &mut self,
        at: FrameRef,
        head: ResponseHead,
        end: u64,
        sink: &mut impl Sink,
    ) {
        let first = self.side(S2C).head_at;
        let off = self.side(S2C).head_offset;
        self.side_mut(S2C).phase = Phase::Head;
        let Some(index) = self.pair_response(&head, sink) else {
            return;
        };
        let show = self.show_secrets;
        let Some(entry) = self.entry_mut(index) else {
            return;
        };
        let req_head = entry.req.as_ref().map(|r| &r.head);
        let framing = response_framing(&head, req_head.map(|h| h.method.as_str()));
        let outcome = judge(req_head, &head);
        // Both heads are needed again only for an upgrade: copy them only then.
        let switch_heads = outcome
            .switched
            .as_ref()
            .map(|_| (req_head.cloned(), head.fields.clone()));
        let report = new_response(&head, first, at, show);
        let status = head.status;
        entry.resp = Some(Resp {
            offset: off,
            head,
            report,
            done: false,
        });
        for p in &outcome.problems {
            self.note(sink, p.level, p.code, S2C, first, off, p.message.clone());
        }
        let Some(reader) = self.body_reader(S2C, index, at, end, framing, sink) else {
            return self.release_held(index, status, sink);
        };
        if let Some(protocol) = outcome.switched {
            self.complete(S2C, index, at, reader, true, end, sink);
            let (req_head, fields) = switch_heads.unwrap_or_default();
            let heads = (req_head.as_ref(), &fields);
            let up = self.switch(protocol, heads, index, at, end, outcome.accept_valid);
            sink.on_upgrade(&up);
            return;
        }
        if reader.is_done_at_start() {
            self.complete(S2C, index, at, reader, true, end, sink);
        } else {
            self.side_mut(S2C).phase = Phase::Body(Box::new(InBody { reader, index }));
        }
        self.release_held(index, status, sink);
    }

    /// A final answer that did not switch: client bytes held for it are HTTP after all.
    fn release_held(&mut self, index: u64, status: u16, sink: &mut impl Sink) {
        let c = self.side_mut(C2S);
        let held_for_this = matches!(&c.phase, Phase::Held(h) if h.index == index);
        if !held_for_this || status < 200 {
            return;
        }
        let Phase::Held(h) = std::mem::replace(&mut c.phase, Phase::Head) else {
            return;
        };
        c.offset = h.switch_offset;
        for chunk in h.chunks {
            if chunk.gap_before > 0 {
                self.on_gap(C2S, chunk.at, chunk.gap_before, sink);
            }
            self.on_data(C2S, chunk.at, &chunk.bytes, sink);
        }
        let lost = h.dropped + h.pending_gap;
        if lost > 0 {
            let at = self.side(C2S).last_at.unwrap_or(h.switch_at);
            self.on_gap(C2S, at, lost, sink);
        }
    }

    /// Both directions switch protocol; builds the event.
    fn switch(
        &mut self,
        protocol: Protocol,
        (req, resp): (Option<&RequestHead>, &Fields),
        index: u64,
        at: FrameRef,
        end: u64,
        accept_valid: Option<bool>,
    ) -> Upgrade {
        let c = self.side_mut(C2S);
        let (client_at, client_offset, client_held, client_dropped) =
            match std::mem::replace(&mut c.phase, Phase::Switched) {
                Phase::Held(h) if h.index == index => {
                    let lost = h.dropped + h.pending_gap;
                    (h.switch_at, h.switch_offset, h.chunks, lost)
                }
                Phase::Head if !c.buf.is_empty() => {
                    let bytes = std::mem::take(&mut c.buf);
                    let offset = c.offset.saturating_sub(bytes.len() as u64);
                    (
                        c.head_at,
                        offset,
                        vec![Held {
                            at: c.head_at,
                            gap_before: 0,
                            bytes,
                        }],
                        0,
                    )
                }
                _ => (c.last_at.unwrap_or(at), c.offset, Vec::new(), 0),
            };
        self.side_mut(S2C).phase = Phase::Switched;
        let resp_get = |name: &str| resp.get(name);
        Upgrade {
            stream: self.stream,
            protocol,
            server_at: at,
            server_offset: end,
            client_at,
            client_offset,
            client_held,
            client_dropped,
            subprotocol: resp_get("sec-websocket-protocol"),
            extensions_offered: req.and_then(|r| r.fields.get("sec-websocket-extensions")),
            extensions_accepted: resp_get("sec-websocket-extensions"),
            accept_valid,
        }
    }

    /// A message finished (or was cut): report its body and pair it.
    /// A message finished (or was cut) at frame `at`, stream offset `end`:
    /// report its body, hand BOSH bodies up, and pair it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn complete(
        &mut self,
        dir: Dir,
        index: u64,
        at: FrameRef,
        reader: Reader,
        complete: bool,
        end: u64,
        sink: &mut impl Sink,
    ) {
        let limits = self.limits.clone();
        let ctx = Ctx {
            limits: &limits,
            show: self.show_secrets,
            stream: self.stream,
            at,
            end,
            index,
            complete,
        };
        let Some(entry) = self.entry_mut(index) else {
            return;
        };
        let done = match (dir, entry.req.as_mut(), entry.resp.as_mut()) {
            (C2S, Some(req), resp) => finish_request(req, resp.is_some(), reader, &ctx),
            (S2C, req, Some(resp)) => finish_response(resp, req.as_deref(), reader, &ctx),
            _ => return,
        };
        for (level, code, msg) in done.notes {
            self.note(sink, level, code, dir, done.first, done.offset, msg);
        }
        if let Some(body) = done.event {
            sink.on_bosh(&bosh::Event::Body(Box::new(body)));
        }
        let side = self.side_mut(dir);
        if !matches!(side.phase, Phase::Switched) {
            side.phase = done.next_phase;
        }
        self.drain(sink);
    }

    /// Emits, in order, every exchange whose request and response are both done.
    fn drain(&mut self, sink: &mut impl Sink) {
        while let Some(front) = self.pending.front() {
            let req_done = front.req.as_ref().is_none_or(|r| r.done);
            let resp_done = front.resp.as_ref().is_some_and(|r| r.done) || front.response_lost;
            if !(req_done && resp_done) {
                return;
            }
            if let Some(entry) = self.pending.pop_front() {
                let unanswered = entry.response_lost;
                self.emit(entry, unanswered, sink);
            }
        }
    }

    pub(super) fn emit(&mut self, entry: Entry, unanswered: bool, sink: &mut impl Sink) {
        let request = entry.req.map(|r| r.report);
        let response = entry.resp.map(|r| r.report);
        let latency_ms = match (&request, &response) {
            (Some(q), Some(r)) => Some(bosh::millis(q.last, r.first)),
            _ => None,
        };
        sink.on_exchange(&Exchange {
            stream: self.stream,
            index: entry.index,
            request,
            response,
            informational: entry.informational,
            latency_ms,
            unanswered,
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn bosh_body(
    stream: u64,
    dir: Dir,
    role: bosh::Role,
    first: FrameRef,
    last: FrameRef,
    status: Option<u16>,
    p: bosh::Parsed,
    request: Option<bosh::RequestRef>,
) -> bosh::Body {
    let held_ms = request.as_ref().map(|r| bosh::millis(r.last, first));
    bosh::Body {
        stream,
        dir,
        role,
        first,
        last,
        status,
        attrs: p.attrs,
        stanzas: p.stanzas,
        error: p.error.map(|e| e.to_string()),
        request,
        held_ms,
    }
}
