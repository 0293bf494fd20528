//! `-j N`: one capture on several threads, with the output one thread
//! gives, byte for byte.
//!
//! Takes the TCP stage's events on the reading thread (reading, decoding
//! and the TCP flow table stay there: Wireshark's stream numbers follow the
//! global packet order) and hands each stream's events, owned and in
//! batches, to worker `stream % N`. Each worker runs a [`ConnTable`] (the
//! connections' stacks: TLS, HTTP, WebSocket, XMPP, with its share of the
//! memory budget) against a recording `Wiring` (`pipeline::record`): every
//! call beyond a connection comes back as ops tagged with the number of the
//! TCP event that caused them. The reading thread numbers the events, says
//! the TCP stage's own events through a recording `Wiring` of its own, and
//! a [`Sequencer`] puts everything back in event order for the [`Merger`],
//! which applies it to the real `Wiring` (capture-wide stages, findings,
//! summaries, the sink). Key material from a Decryption Secrets Block goes
//! to every worker at its place in the event stream.
//!
//! Gives the capture's run and the sum of the threads' budget peaks. Memory
//! stays bounded: bounded batch queues, batches of bounded size, and at most
//! [`MAX_WAITING`] places waiting for the merger. Never sorts output and
//! never decides anything a single thread would decide differently, except
//! the memory budget's cuts (each worker, and the reading thread for the TCP
//! stage's out-of-order buffers, decides alone over `memory_budget / (N + 1)`).

use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::limits::Limits;
use crate::pipeline::budget::{MemoryBudget, Share};
use crate::pipeline::conn_table::ConnTable;
use crate::pipeline::context::Wiring;
use crate::pipeline::key_sources::KeySources;
use crate::pipeline::merge::{Done, Merger, Place, Sequencer};
use crate::pipeline::reader::Reader;
use crate::pipeline::record::{Op, LOCAL_SESSION};
use crate::pipeline::{run_tcp, CaptureRun, Depth, Options, PipelineError};
use crate::position::{Dir, FrameRef};
use crate::report::event::Event;
use crate::report::ndjson::Selection;
use crate::report::ndjson_lines::with_renderer;
use crate::tcp;
use crate::tls::{KeyLog, KeySource};

/// Batches queued per worker before the reading thread waits.
const QUEUED_BATCHES: usize = 4;
/// Places (TCP events and the reading thread's own ops) waiting for the
/// merger before the reading thread waits.
const MAX_WAITING: usize = 1 << 12;
/// Bytes of rendered lines an output's buffer keeps when it comes back
/// (one batch's lines are about 150 KiB; a batch of huge messages is not
/// kept for the next).
const LINES_KEPT: usize = 1 << 20;
/// Emptied outputs kept for each worker to fill again (the others are
/// freed: the kept ones hold their lines' and ops' capacity).
const SPENT_KEPT: usize = 2;
/// How long the merger waits before checking the other threads are alive.
const WAIT_CHECK: Duration = Duration::from_millis(200);

/// One TCP event for a worker, owned, with its number.
#[derive(Debug)]
pub(crate) struct Work {
    pub seq: u64,
    pub what: What,
}

#[derive(Debug)]
pub(crate) enum What {
    Opened(u64, FrameRef, crate::pipeline::TcpEnds, tcp::Origin),
    /// Its bytes are this range of the batch's `bytes`.
    Data(u64, Dir, FrameRef, std::ops::Range<usize>),
    Gap(u64, Dir, FrameRef, u64),
    End(u64, Dir, FrameRef, bool),
    Closed(u64, Box<tcp::StreamStats>),
    /// Key log text from a Decryption Secrets Block at this byte offset.
    Keys(u64, Arc<[u8]>),
}

/// TCP events for one worker, with the bytes of their data in one buffer.
/// A worker gives each batch back emptied, for the reader to fill again.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub work: Vec<Work>,
    pub bytes: Vec<u8>,
}

/// What a worker's `Wiring` is made with: the options a single thread's has.
#[derive(Clone)]
pub(crate) struct Settings {
    limits: Limits,
    show_secrets: bool,
    raw: bool,
    xmpp_message_text: bool,
    keys_given: bool,
    depth: Depth,
    events_only: bool,
    /// The events whose NDJSON lines the workers render, when the sink
    /// takes lines.
    lines: Option<Selection>,
}

impl Settings {
    fn of(ctx: &Wiring) -> Settings {
        Settings {
            limits: ctx.limits.clone(),
            show_secrets: ctx.show_secrets,
            raw: ctx.raw,
            xmpp_message_text: ctx.xmpp_message_text,
            keys_given: ctx.keys_given,
            depth: ctx.depth,
            events_only: ctx.events_only,
            lines: ctx.sink.takes_lines(),
        }
    }

    /// A recording `Wiring` (worker `worker` of `workers`) over `sink`.
    pub fn wiring<'s>(
        &self,
        sink: &'s mut dyn crate::report::sink::EventSink,
        worker: usize,
        workers: usize,
    ) -> Wiring<'s> {
        let mut ctx = Wiring::new(
            self.limits.clone(),
            self.show_secrets,
            self.raw,
            self.xmpp_message_text,
            sink,
        );
        ctx.keys_given = self.keys_given;
        ctx.events_only = self.events_only;
        ctx.set_depth(self.depth);
        ctx.record(worker, workers);
        ctx
    }
}

/// A sink for the recording `Wiring`s: a recording `Wiring` emits nothing.
pub(crate) struct Nowhere;

impl crate::report::sink::EventSink for Nowhere {
    fn emit(&mut self, _: Event) {}
}

/// What reaches the merger (the calling thread).
pub(crate) enum ToMerger {
    /// The reading thread's places, in its order.
    Places(Vec<Place>),
    /// A worker's output for one batch.
    Done(Done),
    /// The reading thread gave its last place.
    Read,
}

/// How many places the merger has been given and not applied: the reading
/// thread waits while there are too many, so that memory stays bounded
/// whatever the speed of the merger.
#[derive(Default)]
pub(crate) struct Gate {
    waiting: Mutex<(usize, bool)>,
    room: Condvar,
}

impl Gate {
    /// Before giving `count` places: waits while the merger holds too many
    /// (unless it holds none, or the merger stopped).
    pub fn enter(&self, count: usize) {
        let mut state = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        while state.0 > 0 && state.0 + count > MAX_WAITING && !state.1 {
            state = self.room.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.0 += count;
    }

    /// Whether giving `count` places now would wait.
    pub fn is_full(&self, count: usize) -> bool {
        let state = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        state.0 > 0 && state.0 + count > MAX_WAITING && !state.1
    }

    /// The merger applied `count` places.
    fn leave(&self, count: usize) {
        let mut state = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        state.0 = state.0.saturating_sub(count);
        self.room.notify_all();
    }

    /// The merger stopped: nobody waits any more.
    fn close(&self) {
        let mut state = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        state.1 = true;
        self.room.notify_all();
    }
}

/// Runs the capture at `path` with `jobs` workers and a reading thread,
/// merging into `ctx` on this thread (the sink's). Gives the run and the
/// sum of the workers' and the reading thread's budget peaks.
pub(crate) fn run(
    path: &Path,
    opts: &Options,
    ctx: &mut Wiring,
    keys: KeyLog,
    key_sources: &mut KeySources,
    jobs: usize,
) -> Result<(CaptureRun, usize), PipelineError> {
    let settings = Settings::of(ctx);
    let keys = Arc::new(keys);
    let gate = Gate::default();
    std::thread::scope(|scope| {
        let (to_merger, merger_rx) = mpsc::channel::<ToMerger>();
        let (workers, senders, spent) = spawn_workers(scope, &settings, &keys, &to_merger, jobs)?;
        let gate = &gate;
        let reading = std::thread::Builder::new()
            .name("xmppcap-reader".to_owned())
            .spawn_scoped(scope, move || {
                let mut nowhere = Nowhere;
                let own = settings.wiring(&mut nowhere, 0, 1);
                let budget =
                    MemoryBudget::of_share(share_of(&settings.limits, jobs), Share::Reader(jobs));
                let mut reader = Reader::new(own, keys, key_sources, senders, to_merger, gate);
                reader.budget = budget;
                let run = run_tcp(path, opts, &mut reader);
                let peak = reader.budget.peak();
                reader.finish();
                run.map(|run| (run, peak))
            })
            .map_err(PipelineError::Output)?;
        let merged = merge(ctx, (&merger_rx, &spent), gate, (&reading, &workers));
        gate.close();
        drop(merger_rx);
        let run = join(reading, workers);
        // The merger stops early only when a thread panicked, raised by `join`.
        assert!(merged, "invariant: -j merged every place");
        run
    })
}

/// A worker's thread handle, the sender of its batches with the receiver
/// of the batches it gives back, and the sender of its spent outputs.
type Spawned<'scope> = (
    Vec<std::thread::ScopedJoinHandle<'scope, usize>>,
    Vec<(mpsc::SyncSender<Batch>, Receiver<Batch>)>,
    Vec<SyncSender<Done>>,
);

/// Starts the `jobs` workers.
fn spawn_workers<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    settings: &Settings,
    keys: &Arc<KeyLog>,
    to_merger: &Sender<ToMerger>,
    jobs: usize,
) -> Result<Spawned<'scope>, PipelineError> {
    let mut spawned: Spawned = (Vec::new(), Vec::new(), Vec::new());
    for worker in 0..jobs {
        let (tx, rx) = mpsc::sync_channel::<Batch>(QUEUED_BATCHES);
        let (back, recycled) = mpsc::channel::<Batch>();
        let (spent_tx, spent_rx) = mpsc::sync_channel::<Done>(SPENT_KEPT);
        let (settings, keys, done) = (settings.clone(), Arc::clone(keys), to_merger.clone());
        let handle = std::thread::Builder::new()
            .name(format!("xmppcap-worker-{worker}"))
            .spawn_scoped(scope, move || {
                work(worker, jobs, &settings, keys, rx, (done, back, spent_rx))
            })
            // Without its threads, the capture cannot be read as asked.
            .map_err(PipelineError::Output)?;
        spawned.0.push(handle);
        spawned.1.push((tx, recycled));
        spawned.2.push(spent_tx);
    }
    Ok(spawned)
}

/// Waits for the reading thread and the workers: the run, and the sum of
/// their budget peaks. A panic on another thread is raised here: it is
/// the same bug it is with one thread.
fn join(
    reading: std::thread::ScopedJoinHandle<'_, Result<(CaptureRun, usize), PipelineError>>,
    workers: Vec<std::thread::ScopedJoinHandle<'_, usize>>,
) -> Result<(CaptureRun, usize), PipelineError> {
    let run = reading
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let mut peak = run.as_ref().map_or(0, |(_, reader_peak)| *reader_peak);
    for handle in workers {
        let worker_peak = handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        peak = peak.saturating_add(worker_peak);
    }
    run.map(|(run, _)| (run, peak))
}

type Handles<'a, 'scope> = (
    &'a std::thread::ScopedJoinHandle<'scope, Result<(CaptureRun, usize), PipelineError>>,
    &'a [std::thread::ScopedJoinHandle<'scope, usize>],
);

/// The merger: applies every op in sequence order to `ctx` as the places
/// and the workers' outputs arrive, until the reading thread's last place.
/// Stops early (false) only when another thread stopped without
/// finishing (a panic, raised again at its join).
fn merge(
    ctx: &mut Wiring,
    (rx, spent): (&Receiver<ToMerger>, &[SyncSender<Done>]),
    gate: &Gate,
    threads: Handles,
) -> bool {
    let mut sequencer = Sequencer::new(spent.len());
    let mut merger = Merger::default();
    let mut read = false;
    while !(read && sequencer.waiting() == 0) {
        let input = match rx.recv_timeout(WAIT_CHECK) {
            Ok(input) => input,
            Err(RecvTimeoutError::Timeout) => {
                // Read is given before the reading thread ends, and a
                // worker ends after it: anything else is a panic.
                let (reading, workers) = threads;
                let stopped = if read {
                    workers.iter().all(|w| w.is_finished())
                } else {
                    reading.is_finished() || workers.iter().any(|w| w.is_finished())
                };
                match rx.try_recv() {
                    Ok(input) => input,
                    Err(TryRecvError::Empty) if !stopped => continue,
                    Err(_) => return false,
                }
            }
            Err(RecvTimeoutError::Disconnected) => return false,
        };
        match input {
            ToMerger::Places(places) => sequencer.extend(places),
            ToMerger::Done(done) => sequencer.on_done(done),
            ToMerger::Read => read = true,
        }
        let places = sequencer.apply_ready(|op, lines| merger.apply(ctx, op, lines));
        gate.leave(places);
        for done in sequencer.take_spent() {
            if let Some(worker) = spent.get(done.worker) {
                // A worker gone, or enough outputs waiting for it: the
                // vectors are dropped here.
                let _ = worker.try_send(done);
            }
        }
    }
    true
}

/// What each of the `workers` and the reading thread may hold:
/// `memory_budget / (workers + 1)`.
pub(crate) fn share_of(limits: &Limits, workers: usize) -> usize {
    limits.memory_budget / workers.saturating_add(1)
}

/// An emptied output given back by the merger, or a new one, for worker
/// `worker` to fill.
fn next_output(spent: &Receiver<Done>, worker: usize) -> Done {
    let mut out = spent.try_recv().unwrap_or_default();
    (out.worker, out.through) = (worker, 0);
    if out.lines.capacity() > LINES_KEPT {
        out.lines = Vec::new();
    }
    out
}

/// Swaps the ops `ctx` recorded with `ops`.
fn swap_recorded(ctx: &mut Wiring, ops: &mut Vec<Op>) {
    if let Some(recorder) = ctx.recorder() {
        std::mem::swap(&mut recorder.ops, ops);
    }
}

/// Renders the NDJSON line of each event in `ops` at the end of `lines`,
/// for a sink that takes the lines of `selection`'s events: the event is
/// freed here, on the thread that made it, and the merger only writes
/// bytes. A local session number is left open for the merger
/// (`report::ndjson_lines`); an event that cannot be rendered so stays an
/// event.
fn render_lines(ops: &mut [Op], lines: &mut Vec<u8>, selection: Selection) {
    with_renderer(lines, |renderer| {
        for op in ops {
            let Op::Emit(event) = op else {
                continue;
            };
            if !selection.keeps(event) {
                *op = Op::Unselected;
                continue;
            }
            // Findings stay events: the sink counts them for `capture.end`
            // (and they are few).
            if matches!(event.detail, crate::report::event::Detail::Finding { .. }) {
                continue;
            }
            let start = renderer.len();
            let local = event.session.filter(|s| s & LOCAL_SESSION != 0);
            let rendered = match local {
                Some(name) => {
                    event.session = None;
                    let open = renderer.render_open(event);
                    event.session = Some(name);
                    open.ok().flatten().map(|value| Some((value, name)))
                }
                None => renderer.render(event).ok().map(|()| None),
            };
            match rendered {
                Some(session) => {
                    *op = Op::Line {
                        line: start..renderer.len(),
                        session,
                    }
                }
                None => renderer.truncate(start),
            }
        }
    });
}

/// How many ops `ctx` holds recorded.
fn recorded(ctx: &mut Wiring) -> usize {
    ctx.recorder().map_or(0, |recorder| recorder.ops.len())
}

/// One worker: its share of the connections, until the reading thread is done.
fn work(
    worker: usize,
    workers: usize,
    settings: &Settings,
    mut keys: Arc<KeyLog>,
    batches: Receiver<Batch>,
    (done, back, spent): (Sender<ToMerger>, Sender<Batch>, Receiver<Done>),
) -> usize {
    let mut nowhere = Nowhere;
    let mut ctx = settings.wiring(&mut nowhere, worker, workers);
    let limit = share_of(&settings.limits, workers);
    let share = Share::Worker(worker, workers);
    let mut table = ConnTable::of_worker(MemoryBudget::of_share(limit, share));
    for mut batch in batches {
        let mut out = next_output(&spent, worker);
        // The stacks record straight into the output's vector: an op is
        // moved once less than if it were appended to it afterwards.
        swap_recorded(&mut ctx, &mut out.ops);
        for Work { seq, what } in batch.work.drain(..) {
            let ctx = &mut ctx;
            let before = recorded(ctx);
            match what {
                What::Opened(stream, at, ends, origin) => {
                    table.on_opened(ctx, &keys, (stream, at, ends, origin))
                }
                What::Data(stream, dir, at, range) => {
                    let bytes = batch.bytes.get(range).unwrap_or_default();
                    table.on_data(ctx, &keys, (stream, dir, at), bytes)
                }
                What::Gap(stream, dir, at, len) => table.on_gap(ctx, &keys, (stream, dir, at), len),
                What::End(stream, dir, at, rst) => table.on_end(ctx, &keys, (stream, dir, at), rst),
                What::Closed(stream, stats) => table.on_closed(ctx, &keys, stream, &stats),
                What::Keys(offset, text) => {
                    // The reading thread reports the secrets and their findings.
                    let source = KeySource::Dsb { offset };
                    Arc::make_mut(&mut keys).add_text(&text, source, &mut Vec::new());
                    continue;
                }
            }
            let count = recorded(ctx).saturating_sub(before);
            if count > 0 {
                out.marks.push((seq, count));
            }
            out.through = seq;
        }
        swap_recorded(&mut ctx, &mut out.ops);
        if let Some(selection) = settings.lines {
            render_lines(&mut out.ops, &mut out.lines, selection);
        }
        if done.send(ToMerger::Done(out)).is_err() {
            break;
        }
        batch.bytes.clear();
        // The reader may be gone already: then the batch is dropped here.
        let _ = back.send(batch);
    }
    table.budget.peak()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::event::{Detail, WsControl};

    fn control() -> Event {
        let detail = Detail::WsControl(WsControl {
            opcode: "ping",
            len: 0,
            close_code: None,
            close_reason: Some("a \"session\":1 reason".to_owned()),
            answers_frame: None,
            latency_ms: None,
        });
        Event::new(None, "ping", detail)
    }

    #[test]
    fn a_worker_renders_the_lines_the_sink_keeps_and_drops_the_others() {
        let finding = Event::finding(&crate::finding::Finding::new(
            crate::tcp::FindingCode::Gap,
            "a gap",
        ));
        let mut local = control();
        local.session = Some(LOCAL_SESSION | 3);
        let mut ops = vec![
            Op::Emit(finding),
            Op::Emit(control()),
            Op::StartSession(LOCAL_SESSION),
            Op::Emit(local),
        ];
        let mut lines = Vec::new();
        render_lines(&mut ops, &mut lines, Selection::WebSocket);
        let unlocal = sonic_rs::to_vec(&control()).expect("rendered");
        match ops.as_slice() {
            [Op::Unselected, Op::Line {
                line: first,
                session: None,
            }, Op::StartSession(_), Op::Line {
                line: second,
                session: Some((value, name)),
            }] => {
                assert_eq!(lines.get(first.clone()), Some(&unlocal[..]));
                assert_eq!(*name, LOCAL_SESSION | 3);
                assert_eq!(second.start, first.end);
                assert_eq!(lines.get(value.clone()), Some(&b"null"[..]));
                assert_eq!(
                    lines.get(second.clone()),
                    Some(&unlocal[..]),
                    "session null"
                );
            }
            other => panic!("{other:?}"),
        }
        // A finding the sink keeps stays an event: the sink counts it.
        let mut ops = vec![Op::Emit(Event::finding(&crate::finding::Finding::new(
            crate::tcp::FindingCode::Gap,
            "a gap",
        )))];
        render_lines(&mut ops, &mut lines, Selection::All);
        assert!(matches!(ops.as_slice(), [Op::Emit(_)]), "{ops:?}");
    }
}
