//! The merger of `-j N`: puts the workers' recorded calls
//! (`pipeline::record::Op`) back in the order one thread makes them, and
//! applies them to the real `Wiring`, so that the capture-wide stages
//! (Finesse correlation, BOSH routing, session numbering, the findings'
//! per-code caps, retention) and the event sink see exactly the calls they
//! see with one thread.
//!
//! Takes, in the reading thread's order, what it says itself and which
//! worker's output for which TCP event comes next ([`Sequencer`]), and the
//! workers' outputs as they arrive; gives the ops in sequence order, and
//! applies each one ([`Merger::apply`]): numbering the sessions the workers
//! named locally and writing the capture's numbers in their place, running
//! the Finesse calls and emitting their events where the stack said them.
//! Never sorts events: the order is the single thread's by construction.

use std::collections::{BTreeMap, VecDeque};

use crate::pipeline::context::Wiring;
use crate::pipeline::record::{Op, LOCAL_SESSION};
use crate::pipeline::stage_sinks::{finesse_on_read, finesse_on_rest, finesse_on_stanza};
use crate::report::event::Event;

/// What the merger keeps between ops: the workers' local session names
/// and the Finesse events waiting for their place.
#[derive(Default)]
pub(crate) struct Merger {
    /// Local session name → the capture's number, while the session's
    /// connection lasts.
    sessions: BTreeMap<u32, u32>,
    /// Finesse events computed at their call, until their place comes.
    slots: BTreeMap<u64, Vec<Event>>,
    /// What BOSH bodies' stanzas told of their connection, for its story.
    facts: BTreeMap<u64, Vec<crate::conn::Fact>>,
    /// A session number as JSON, for a line rendered by a worker.
    number_json: Vec<u8>,
}

impl Merger {
    /// The capture's number for `session` (a local name, or already one).
    fn number(&self, session: Option<u32>) -> Option<u32> {
        match session {
            Some(local) if local & LOCAL_SESSION != 0 => self.sessions.get(&local).copied(),
            other => other,
        }
    }

    /// Applies one recorded call to the real `Wiring`, taking what it
    /// needs of `op`; `lines` holds the lines rendered by the op's worker
    /// (`Op::Line`, read in place: the op stays where its worker wrote it).
    pub fn apply(&mut self, ctx: &mut Wiring, op: &mut Op, lines: &[u8]) {
        if let Op::Line { line, session } = op {
            self.line(ctx, line.clone(), session.clone(), lines);
            return;
        }
        let op = std::mem::replace(op, Op::Unselected);
        match op {
            Op::Line { .. } | Op::Unselected => {}
            Op::Emit(mut event) => {
                event.session = self.number(event.session);
                ctx.emit(event);
            }
            Op::EmitFinesse(slot) => {
                for event in self.slots.remove(&slot).unwrap_or_default() {
                    ctx.emit(event);
                }
            }
            Op::LogFinding(finding) => ctx.findings.push_within(finding, &mut ctx.retention),
            Op::StartSession(local) => {
                let id = ctx.wide.number_session();
                self.sessions.insert(local, id);
            }
            Op::FinesseStanza { .. } | Op::FinessePubsub { .. } => self.finesse(ctx, op),
            Op::RestExchange(rest) => finesse_on_rest(ctx, &rest.view()),
            Op::Bosh { stream, events } => self.bosh(ctx, stream, &events),
            Op::TlsNote(summary) => ctx.wide.tls.note(&summary),
            Op::Story(mut end) => {
                for fact in self.facts.remove(&end.stream).unwrap_or_default() {
                    end.story.on_fact(fact);
                }
                end.session = self.number(end.session);
                end.tell(ctx);
            }
            Op::KeepSession(mut report) => {
                report.id = self.number(Some(report.id)).unwrap_or(report.id);
                ctx.keep_session(*report);
            }
            Op::KeepConnection(mut report) => {
                let local = report.session;
                report.session = self.number(local);
                ctx.keep_connection(*report);
                // Nothing of a connection is said after its report is kept.
                if let Some(local) = local.filter(|l| l & LOCAL_SESSION != 0) {
                    self.sessions.remove(&local);
                }
            }
            Op::CloseCut {
                stream,
                after,
                stats,
            } => ctx.close_cut(stream, after, &stats),
        }
    }

    /// A line rendered by a worker, with the capture's session number
    /// written where its worker left the value of `session`.
    fn line(
        &mut self,
        ctx: &mut Wiring,
        line: std::ops::Range<usize>,
        session: Option<(std::ops::Range<usize>, u32)>,
        lines: &[u8],
    ) {
        let Some((value, local)) = session else {
            ctx.sink.emit_line(&[lines.get(line).unwrap_or_default()]);
            return;
        };
        self.number_json.clear();
        let number = self.number(Some(local));
        if sonic_rs::to_writer(&mut self.number_json, &number).is_err() {
            // Writing an `Option<u32>` to a vector cannot fail.
            return;
        }
        let before = lines.get(line.start..value.start).unwrap_or_default();
        let after = lines.get(value.end..line.end).unwrap_or_default();
        ctx.sink.emit_line(&[before, &self.number_json, after]);
    }

    /// A Finesse call about a stanza: run now, its events kept for their slot.
    fn finesse(&mut self, ctx: &mut Wiring, op: Op) {
        let (slot, events) = match op {
            Op::FinesseStanza {
                slot,
                mut at,
                stanza,
            } => {
                at.session = self.number(at.session);
                (slot, finesse_on_stanza(ctx, &at, &stanza.view()))
            }
            Op::FinessePubsub {
                slot,
                mut at,
                stanza,
                read,
            } => {
                at.session = self.number(at.session);
                (slot, finesse_on_read(ctx, &at, &stanza.view(), read))
            }
            _ => return,
        };
        self.keep_slot(slot, events);
    }

    /// A connection's BOSH events, routed capture-wide.
    fn bosh(&mut self, ctx: &mut Wiring, stream: u64, events: &[crate::http::bosh::Event]) {
        crate::pipeline::bosh::feed(ctx, stream, events);
        // What the bodies' stanzas tell the connection's story (with one
        // thread its stack takes them right after this call).
        for (fact_stream, fact) in ctx.conn_facts.drain(..) {
            if fact_stream == stream {
                self.facts.entry(stream).or_default().push(fact);
            }
        }
    }

    fn keep_slot(&mut self, slot: u64, events: Vec<Event>) {
        if !events.is_empty() {
            self.slots.insert(slot, events);
        }
    }
}

/// Where the next ops come from, in the order one thread makes them.
#[derive(Debug)]
pub(crate) enum Place {
    /// Said by the reading thread itself.
    Own(Box<Op>),
    /// Worker `.0`'s ops for the TCP event numbered `.1`.
    Worker(usize, u64),
}

/// Worker output for one batch: the ops of the TCP events that made some,
/// all in one vector, and for each such event its number and how many of
/// the ops are its; then the number of the last event handled.
#[derive(Debug, Default)]
pub(crate) struct Done {
    pub worker: usize,
    pub through: u64,
    pub ops: Vec<Op>,
    pub marks: Vec<(u64, usize)>,
    /// The NDJSON lines of its `Op::Line`s.
    pub lines: Vec<u8>,
}

/// One worker output being taken apart, in order.
#[derive(Debug)]
struct Received {
    /// Taken ops are left for the vector's next use.
    ops: Vec<Op>,
    next_op: usize,
    marks: Vec<(u64, usize)>,
    next_mark: usize,
    lines: Vec<u8>,
}

/// Orders the reading thread's own ops and the workers' outputs: a queue
/// of places in sequence order, and each worker's output as it came (each
/// worker's output is already in its own sequence order).
#[derive(Debug)]
pub(crate) struct Sequencer {
    queue: VecDeque<Place>,
    /// Per worker: its outputs received and not applied yet.
    received: Vec<VecDeque<Received>>,
    /// Per worker: the last event it handled (`None`: none yet).
    through: Vec<Option<u64>>,
    /// Outputs taken apart, emptied, for their worker to fill again (a
    /// vector freed on another thread than it grew on costs the allocator).
    spent: Vec<Done>,
}

impl Sequencer {
    pub fn new(workers: usize) -> Sequencer {
        Sequencer {
            queue: VecDeque::new(),
            received: (0..workers).map(|_| VecDeque::new()).collect(),
            through: vec![None; workers],
            spent: Vec::new(),
        }
    }

    /// The emptied outputs, to give back to their workers.
    pub fn take_spent(&mut self) -> Vec<Done> {
        std::mem::take(&mut self.spent)
    }

    /// Places waiting (for backpressure).
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// The places the reading thread gave, in its order.
    pub fn extend(&mut self, places: Vec<Place>) {
        self.queue.extend(places);
    }

    /// A worker's output arrived.
    pub fn on_done(&mut self, done: Done) {
        if let Some(through) = self.through.get_mut(done.worker) {
            // A batch of key material only handles no event.
            *through = (*through).max(Some(done.through));
        }
        if let Some(received) = self.received.get_mut(done.worker) {
            if done.marks.is_empty() {
                self.spent.push(done.emptied());
            } else {
                received.push_back(Received {
                    ops: done.ops,
                    next_op: 0,
                    marks: done.marks,
                    next_mark: 0,
                    lines: done.lines,
                });
            }
        }
    }

    /// The worker the next place waits for, if it waits for one.
    #[cfg(test)]
    pub fn blocked_on(&self) -> Option<usize> {
        match self.queue.front() {
            Some(Place::Worker(w, seq)) if !self.has(*w, *seq) => Some(*w),
            _ => None,
        }
    }

    fn has(&self, worker: usize, seq: u64) -> bool {
        self.through
            .get(worker)
            .copied()
            .flatten()
            .is_some_and(|t| t >= seq)
    }

    /// Gives `apply` every op whose place has come, in sequence order,
    /// with the lines of its worker's output; returns how many places that
    /// took.
    pub fn apply_ready(&mut self, mut apply: impl FnMut(&mut Op, &[u8])) -> usize {
        let mut places = 0;
        while let Some(place) = self.queue.front() {
            match place {
                Place::Own(_) => {
                    if let Some(Place::Own(mut op)) = self.queue.pop_front() {
                        apply(&mut op, &[]);
                    }
                }
                &Place::Worker(w, seq) => {
                    if !self.has(w, seq) {
                        break;
                    }
                    self.queue.pop_front();
                    self.take_worker_ops(w, seq, &mut apply);
                }
            }
            places += 1;
        }
        places
    }

    /// Worker `w`'s ops for event `seq`, if it made any.
    fn take_worker_ops(&mut self, w: usize, seq: u64, apply: &mut impl FnMut(&mut Op, &[u8])) {
        let Some(received) = self.received.get_mut(w) else {
            return;
        };
        let Some(front) = received.front_mut() else {
            return;
        };
        let Some(&(mark, count)) = front.marks.get(front.next_mark) else {
            return;
        };
        if mark != seq {
            return;
        }
        front.next_mark += 1;
        let end = front.next_op.saturating_add(count);
        for op in front.ops.get_mut(front.next_op..end).unwrap_or_default() {
            apply(op, &front.lines);
        }
        front.next_op = end;
        if front.next_mark >= front.marks.len() {
            if let Some(used) = received.pop_front() {
                self.spent.push(
                    Done {
                        worker: w,
                        through: 0,
                        ops: used.ops,
                        marks: used.marks,
                        lines: used.lines,
                    }
                    .emptied(),
                );
            }
        }
    }
}

impl Done {
    /// The same vectors, emptied (their capacity kept).
    fn emptied(mut self) -> Done {
        self.ops.clear();
        self.marks.clear();
        self.lines.clear();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use crate::pipeline::record::{OwnedStanza, Recorder};
    use crate::position::{Dir, FrameRef, Timestamp};
    use crate::report::sink::EventSink;
    use std::borrow::Cow;

    /// The marker each op stands for in these tests.
    fn marker(op: &Op) -> u32 {
        match op {
            Op::StartSession(n) => *n,
            _ => u32::MAX,
        }
    }

    /// Worker output with one op per event named (two for `0`).
    fn done(worker: usize, through: u64, ops: &[(u64, u32)]) -> Done {
        let mut out = Done {
            worker,
            through,
            ..Done::default()
        };
        for &(seq, m) in ops {
            let count = if m == 0 { 2 } else { 1 };
            out.ops.extend((0..count).map(|_| Op::StartSession(m)));
            out.marks.push((seq, count));
        }
        out
    }

    fn drain(sequencer: &mut Sequencer) -> Vec<u32> {
        let mut seen = Vec::new();
        let places = sequencer.apply_ready(|op, _| seen.push(marker(op)));
        assert!(places >= seen.len().min(1), "{places} places for {seen:?}");
        seen
    }

    #[test]
    fn ops_come_out_in_event_order_whatever_order_the_workers_finish_in() {
        let mut sequencer = Sequencer::new(2);
        let own = |m| Place::Own(Box::new(Op::StartSession(m)));
        sequencer.extend(vec![own(10), Place::Worker(0, 1), Place::Worker(1, 2)]);
        sequencer.extend(vec![own(11), Place::Worker(0, 3), Place::Worker(1, 4)]);
        // Worker 1 is first: only the reading thread's own op can go.
        sequencer.on_done(done(1, 4, &[(2, 22), (4, 24)]));
        assert_eq!(drain(&mut sequencer), [10]);
        assert_eq!(sequencer.blocked_on(), Some(0));
        // Worker 0 handled event 1 only: its op, then worker 1's for event 2.
        sequencer.on_done(done(0, 1, &[(1, 21)]));
        assert_eq!(drain(&mut sequencer), [21, 22, 11]);
        assert_eq!(sequencer.blocked_on(), Some(0));
        // Event 3 said nothing, event 5 (worker 0 again) two things.
        sequencer.extend(vec![Place::Worker(0, 5)]);
        sequencer.on_done(done(0, 5, &[(5, 0)]));
        assert_eq!(drain(&mut sequencer), [24, 0, 0]);
        assert_eq!((sequencer.waiting(), sequencer.blocked_on()), (0, None));
    }

    #[derive(Default)]
    struct Kept(Vec<Event>);

    impl EventSink for Kept {
        fn emit(&mut self, event: Event) {
            self.0.push(event);
        }
    }

    fn event(session: Option<u32>, summary: &str) -> Event {
        let mut e = Event::finding(&crate::finding::Finding::new(
            crate::tcp::FindingCode::Gap,
            summary,
        ));
        e.session = session;
        e
    }

    fn connection(stream: u64, session: Option<u32>) -> ConnectionReport {
        ConnectionReport {
            stream,
            client: "10.0.0.1:50000".parse().expect("an address"),
            server: "10.0.0.2:7443".parse().expect("an address"),
            layers: Vec::new(),
            tcp: None,
            tls: None,
            websocket: None,
            http_exchanges: 0,
            session,
            bytes: Default::default(),
            summary: None,
        }
    }

    use crate::report::model::ConnectionReport;

    #[test]
    fn sessions_are_numbered_in_the_order_they_start_across_workers() {
        let (mut first, mut second) = (Recorder::new(0, 2), Recorder::new(1, 2));
        // Worker 1's session starts first in the capture: it is session 1.
        let b = second.name_session();
        let a = first.name_session();
        let mut kept = Kept::default();
        let mut ctx = Wiring::new(Limits::default(), false, false, false, &mut kept);
        ctx.wide.number_session(); // a BOSH session numbered by the merger itself
        let mut merger = Merger::default();
        let ops = [
            Op::StartSession(b),
            Op::StartSession(a),
            Op::Emit(event(Some(a), "a")),
            Op::Emit(event(Some(b), "b")),
            Op::Emit(event(Some(1), "bosh")),
            Op::Emit(event(None, "none")),
            Op::KeepConnection(Box::new(connection(7, Some(a)))),
        ];
        for mut op in ops {
            merger.apply(&mut ctx, &mut op, &[]);
        }
        assert_eq!(ctx.connections.first().and_then(|c| c.session), Some(3));
        assert!(
            !merger.sessions.contains_key(&a),
            "forgotten with its connection"
        );
        assert_eq!(merger.sessions.get(&b), Some(&2));
        drop(ctx);
        let sessions: Vec<Option<u32>> = kept.0.iter().map(|e| e.session).collect();
        assert_eq!(sessions, [Some(3), Some(2), Some(1), None]);
    }

    /// A sink that takes lines rendered elsewhere.
    #[derive(Default)]
    struct Lines(Vec<u8>);

    impl EventSink for Lines {
        fn emit(&mut self, _: Event) {
            panic!("every event comes as a line here");
        }

        fn takes_lines(&self) -> Option<crate::report::ndjson::Selection> {
            Some(crate::report::ndjson::Selection::All)
        }

        fn emit_line(&mut self, pieces: &[&[u8]]) {
            pieces.iter().for_each(|p| self.0.extend_from_slice(p));
            self.0.push(b'\n');
        }
    }

    #[test]
    fn a_line_rendered_by_a_worker_gets_the_capture_s_session_number() {
        let mut recorder = Recorder::new(1, 2);
        let local = recorder.name_session();
        let mut said = event(None, "\"session\":null, \"session\":1 }");
        let mut lines = b"another line".to_vec();
        let value =
            crate::report::ndjson_lines::with_renderer(&mut lines, |r| r.render_open(&said))
                .expect("rendered")
                .expect("a session field");
        let line = 12..lines.len();
        let mut sink = Lines::default();
        let mut ctx = Wiring::new(Limits::default(), false, false, false, &mut sink);
        ctx.wide.number_session(); // session 1 is a BOSH session's
        let mut merger = Merger::default();
        let ops = [
            Op::StartSession(local),
            Op::Line {
                line: line.clone(),
                session: Some((value, local)),
            },
            Op::Line {
                line,
                session: None,
            },
            Op::Unselected,
        ];
        for mut op in ops {
            merger.apply(&mut ctx, &mut op, &lines);
        }
        drop(ctx);
        let mut expected = Vec::new();
        for session in [Some(2), None] {
            said.session = session;
            expected.extend(sonic_rs::to_vec(&said).expect("rendered"));
            expected.push(b'\n');
        }
        assert_eq!(
            String::from_utf8_lossy(&sink.0),
            String::from_utf8_lossy(&expected)
        );
    }

    #[test]
    fn a_finesse_call_s_events_are_emitted_where_the_stack_said_them() {
        let mut recorder = Recorder::new(0, 1);
        let local = recorder.name_session();
        let slot = recorder.finesse_slot();
        let at = FrameRef::new(9, Timestamp::default());
        let stanza = crate::xmpp::Stanza {
            dir: Dir::ServerToClient,
            first: at,
            last: at,
            name: "presence",
            kind: Some(Cow::Borrowed("unavailable")),
            id: None,
            from: Some(Cow::Borrowed("finesse@node-a.example")),
            to: None,
            summary: String::new(),
            raw: Cow::Borrowed(""),
        };
        let stanza_at = crate::finesse::StanzaAt {
            session: Some(local),
            stream: 4,
            session_stream: 4,
            dir: Dir::ServerToClient,
            first: at,
            last: at,
        };
        let mut kept = Kept::default();
        let mut ctx = Wiring::new(Limits::default(), false, false, false, &mut kept);
        let mut merger = Merger::default();
        let ops = [
            Op::StartSession(local),
            Op::FinesseStanza {
                slot,
                at: stanza_at,
                stanza: OwnedStanza::of(&stanza),
            },
            Op::Emit(event(Some(local), "the message")),
            Op::EmitFinesse(slot),
        ];
        for mut op in ops {
            merger.apply(&mut ctx, &mut op, &[]);
        }
        let logged = std::mem::take(&mut ctx.findings).into_sorted();
        assert_eq!(logged.len(), 1, "logged at the call");
        drop(ctx);
        let said: Vec<(&str, Option<u32>)> = kept.0.iter().map(|e| (e.kind(), e.session)).collect();
        assert_eq!(said.len(), 2, "{said:?}");
        assert_eq!(said.first().map(|s| s.1), Some(Some(1)));
        assert!(kept
            .0
            .last()
            .is_some_and(|e| e.summary.contains("went unavailable")));
        assert!(merger.slots.is_empty());
    }
}
