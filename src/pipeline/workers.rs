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
//! Gives the capture's run and the sum of the workers' budget peaks. Memory
//! stays bounded: bounded batch queues, batches of bounded size, and at most
//! [`MAX_WAITING`] places waiting for the merger. Never sorts output and
//! never decides anything a single thread would decide differently, except
//! the memory budget's cuts (each worker decides alone over its share).

use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use crate::finding::{Finding, Findings};
use crate::limits::Limits;
use crate::pipeline::analysis::{say_after, say_before};
use crate::pipeline::budget::MemoryBudget;
use crate::pipeline::conn_table::ConnTable;
use crate::pipeline::context::Wiring;
use crate::pipeline::key_sources::KeySources;
use crate::pipeline::merge::{Done, Merger, Sequencer};
use crate::pipeline::{run_tcp, CaptureRun, Depth, Options, PipelineError, TcpConsumer};
use crate::position::{Dir, FrameRef};
use crate::report::event::Event;
use crate::tcp;
use crate::tls::{KeyLog, KeySource};

/// TCP events per batch handed to a worker.
const BATCH_EVENTS: usize = 512;
/// Payload bytes per batch handed to a worker.
const BATCH_BYTES: usize = 256 << 10;
/// Batches queued per worker before the reading thread waits.
const QUEUED_BATCHES: usize = 4;
/// Places (TCP events and the reading thread's own ops) waiting for the
/// merger before the reading thread stops reading to merge.
const MAX_WAITING: usize = 1 << 14;
/// How long the merger waits for a worker before checking it is alive.
const WAIT_CHECK: Duration = Duration::from_millis(200);

/// One TCP event for a worker, owned, with its number.
#[derive(Debug)]
struct Work {
    seq: u64,
    what: What,
}

#[derive(Debug)]
enum What {
    Opened(u64, FrameRef, crate::pipeline::TcpEnds, tcp::Origin),
    Data(u64, Dir, FrameRef, Vec<u8>),
    Gap(u64, Dir, FrameRef, u64),
    End(u64, Dir, FrameRef, bool),
    Closed(u64, Box<tcp::StreamStats>),
    /// Key log text from a Decryption Secrets Block at this byte offset.
    Keys(u64, Arc<[u8]>),
}

/// What a worker's `Wiring` is made with: the options a single thread's has.
#[derive(Clone)]
struct Settings {
    limits: Limits,
    show_secrets: bool,
    raw: bool,
    xmpp_message_text: bool,
    keys_given: bool,
    depth: Depth,
    events_only: bool,
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
        }
    }

    /// A recording `Wiring` (worker `worker` of `workers`) over `sink`.
    fn wiring<'s>(
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
struct Nowhere;

impl crate::report::sink::EventSink for Nowhere {
    fn emit(&mut self, _: Event) {}
}

/// Runs the capture at `path` with `jobs` workers, merging into `ctx`.
/// Gives the run and the sum of the workers' budget peaks.
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
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let mut senders = Vec::with_capacity(jobs);
        let mut handles = Vec::with_capacity(jobs);
        for worker in 0..jobs {
            let (tx, rx) = mpsc::sync_channel::<Vec<Work>>(QUEUED_BATCHES);
            let (settings, keys, done_tx) = (settings.clone(), Arc::clone(&keys), done_tx.clone());
            handles.push(scope.spawn(move || work(worker, jobs, &settings, keys, rx, done_tx)));
            senders.push(tx);
        }
        drop(done_tx);
        let mut nowhere = Nowhere;
        let mut reading = Reading {
            own: settings.wiring(&mut nowhere, 0, 1),
            ctx,
            keys,
            key_sources,
            senders,
            batches: (0..jobs).map(|_| Batch::default()).collect(),
            sequencer: Sequencer::new(jobs),
            merger: Merger::default(),
            done: done_rx,
            seq: 0,
            stalled: false,
            handles: &handles,
        };
        let run = run_tcp(path, opts, &mut reading);
        reading.merge_all();
        drop(reading);
        let mut peak = 0usize;
        for handle in handles {
            match handle.join() {
                Ok(worker_peak) => peak = peak.saturating_add(worker_peak),
                // A worker's panic is the same bug it is with one thread.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        run.map(|run| (run, peak))
    })
}

/// One worker: its share of the connections, until the reading thread is done.
fn work(
    worker: usize,
    workers: usize,
    settings: &Settings,
    mut keys: Arc<KeyLog>,
    batches: Receiver<Vec<Work>>,
    done: Sender<Done>,
) -> usize {
    let mut nowhere = Nowhere;
    let mut ctx = settings.wiring(&mut nowhere, worker, workers);
    let share = settings.limits.memory_budget / workers.max(1);
    let mut table = ConnTable::of_worker(MemoryBudget::of_worker(share, worker, workers));
    for batch in batches {
        let mut out = Done {
            worker,
            through: 0,
            ops: Vec::new(),
        };
        for Work { seq, what } in batch {
            let ctx = &mut ctx;
            match what {
                What::Opened(stream, at, ends, origin) => {
                    table.on_opened(ctx, &keys, (stream, at, ends, origin))
                }
                What::Data(stream, dir, at, bytes) => {
                    table.on_data(ctx, &keys, (stream, dir, at), &bytes)
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
            let ops = ctx.take_ops();
            if !ops.is_empty() {
                out.ops.push((seq, ops));
            }
            out.through = seq;
        }
        if done.send(out).is_err() {
            break;
        }
    }
    table.budget.peak()
}

/// The events gathered for one worker, not sent yet.
#[derive(Default)]
struct Batch {
    work: Vec<Work>,
    bytes: usize,
}

/// The reading thread: numbers the TCP events, says the TCP stage's own
/// events, hands the rest to the workers and merges their output.
struct Reading<'r, 'c, 's, 'h> {
    /// Records what the reading thread itself says, for the sequencer.
    own: Wiring<'r>,
    ctx: &'c mut Wiring<'s>,
    keys: Arc<KeyLog>,
    key_sources: &'c mut KeySources,
    senders: Vec<SyncSender<Vec<Work>>>,
    batches: Vec<Batch>,
    sequencer: Sequencer,
    merger: Merger,
    done: Receiver<Done>,
    /// The number of the last TCP event.
    seq: u64,
    /// A worker stopped (it panicked): merging stops, the panic is raised at the join.
    stalled: bool,
    handles: &'h [std::thread::ScopedJoinHandle<'h, usize>],
}

impl Reading<'_, '_, '_, '_> {
    /// What the reading thread said since the last call goes in the queue.
    fn queue_own(&mut self) {
        for op in self.own.take_ops() {
            self.sequencer.own(op);
        }
    }

    fn push(&mut self, worker: usize, what: What) {
        let Some(batch) = self.batches.get_mut(worker) else {
            return;
        };
        if let What::Data(_, _, _, bytes) = &what {
            batch.bytes += bytes.len();
        }
        batch.work.push(Work {
            seq: self.seq,
            what,
        });
        if batch.work.len() >= BATCH_EVENTS || batch.bytes >= BATCH_BYTES {
            self.send(worker);
        }
    }

    /// Hands worker `worker` its batch (waiting while its queue is full).
    fn send(&mut self, worker: usize) {
        let Some(batch) = self.batches.get_mut(worker) else {
            return;
        };
        if batch.work.is_empty() {
            return;
        }
        let work = std::mem::take(&mut batch.work);
        batch.bytes = 0;
        let sent = self.senders.get(worker).map(|s| s.send(work));
        if !matches!(sent, Some(Ok(()))) {
            self.stalled = true;
        }
    }

    /// Applies every op whose place has come; with `until`, waits for the
    /// workers until at most that many places are waiting.
    fn merge(&mut self, until: Option<usize>) {
        while let Ok(done) = self.done.try_recv() {
            self.sequencer.on_done(done);
        }
        loop {
            while let Some(ops) = self.sequencer.next_ready() {
                for op in ops {
                    self.merger.apply(self.ctx, op);
                }
            }
            let Some(limit) = until else { return };
            if self.sequencer.waiting() <= limit || self.stalled {
                return;
            }
            let Some(worker) = self.sequencer.blocked_on() else {
                return;
            };
            self.send(worker);
            self.wait_for(worker);
        }
    }

    /// Waits for the next output of any worker, checking that `worker`
    /// (the one the merger needs) is still alive.
    fn wait_for(&mut self, worker: usize) {
        loop {
            match self.done.recv_timeout(WAIT_CHECK) {
                Ok(done) => {
                    self.sequencer.on_done(done);
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.handles.get(worker).is_none_or(|h| h.is_finished()) {
                        self.stalled = true;
                        return;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.stalled = true;
                    return;
                }
            }
        }
    }

    /// The capture is read: every batch goes, every op is applied, and
    /// the workers are told there is no more.
    fn merge_all(&mut self) {
        for worker in 0..self.batches.len() {
            self.send(worker);
        }
        self.merge(Some(0));
        self.senders.clear();
    }

    fn worker_of(&self, stream: u64) -> usize {
        let workers = self.batches.len().max(1) as u64;
        usize::try_from(stream % workers).unwrap_or(0)
    }
}

impl Findings for Reading<'_, '_, '_, '_> {
    fn push_finding(&mut self, finding: Finding) {
        self.own.finding(finding, None, None);
        self.queue_own();
    }
}

impl TcpConsumer for Reading<'_, '_, '_, '_> {
    fn on_key_log(&mut self, at_offset: u64, text: &[u8]) {
        let mut findings = Vec::new();
        let source = KeySource::Dsb { offset: at_offset };
        let secrets = Arc::make_mut(&mut self.keys).add_text(text, source, &mut findings);
        self.key_sources
            .note(|| format!("pcapng DSB at byte {at_offset}"), secrets);
        for f in findings {
            self.own.finding(f, None, None);
        }
        self.queue_own();
        let text: Arc<[u8]> = Arc::from(text);
        for worker in 0..self.batches.len() {
            self.push(worker, What::Keys(at_offset, Arc::clone(&text)));
        }
    }
}

impl tcp::Sink for Reading<'_, '_, '_, '_> {
    fn on_tcp(&mut self, event: tcp::Event<'_>) {
        use tcp::Event as E;
        self.seq += 1;
        say_before(&mut self.own, &event);
        self.queue_own();
        let (stream, what) = match event {
            E::Opened {
                stream,
                at,
                client,
                server,
                origin,
            } => (stream, What::Opened(stream, at, (client, server), origin)),
            E::Data {
                stream,
                dir,
                at,
                bytes,
                ..
            } => (stream, What::Data(stream, dir, at, bytes.to_vec())),
            E::Gap {
                stream,
                dir,
                at,
                len,
                ..
            } => (stream, What::Gap(stream, dir, at, len)),
            E::Fin { stream, dir, at } => (stream, What::End(stream, dir, at, false)),
            E::Rst { stream, dir, at } => (stream, What::End(stream, dir, at, true)),
            E::Closed { stream, stats, .. } => {
                (stream, What::Closed(stream, Box::new(stats.clone())))
            }
        };
        let worker = self.worker_of(stream);
        self.push(worker, what);
        self.sequencer.worker(worker, self.seq);
        say_after(&mut self.own, &event);
        self.queue_own();
        let until = (self.sequencer.waiting() > MAX_WAITING).then_some(MAX_WAITING / 2);
        self.merge(until);
    }
}
