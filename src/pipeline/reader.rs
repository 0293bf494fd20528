//! The reading thread of `-j N` (`pipeline::workers`): reads, decodes and
//! reassembles TCP (through `run_tcp`), numbers the TCP events, says the
//! TCP stage's own events through a recording `Wiring`, and hands each
//! stream's events to its worker (`stream % N`) in batches.
//!
//! Takes the TCP stage's events and the capture's key log blocks; gives
//! the workers their batches (a Decryption Secrets Block's text to every
//! worker, at its place) and the merger the places in event order: its own
//! ops, and which worker's output comes next. Never waits for the merger
//! with a place unsent to its worker (that would wait forever): it sends
//! every batch first.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::Arc;

use crate::finding::{Finding, Findings};
use crate::pipeline::analysis::{say_after, say_before};
use crate::pipeline::budget::{Cut, Holder, Holdings, MemoryBudget};
use crate::pipeline::context::Wiring;
use crate::pipeline::key_sources::KeySources;
use crate::pipeline::merge::Place;
use crate::pipeline::workers::{Batch, Gate, ToMerger, What, Work};
use crate::pipeline::{TcpConsumer, TcpEnds};
use crate::tcp;
use crate::tls::{KeyLog, KeySource};

/// TCP events per batch handed to a worker.
const BATCH_EVENTS: usize = 512;
/// Payload bytes per batch handed to a worker.
const BATCH_BYTES: usize = 256 << 10;
/// Places per message to the merger.
const BATCH_PLACES: usize = 1024;

pub(crate) struct Reader<'r, 'k, 'g> {
    /// Records what the reading thread itself says.
    own: Wiring<'r>,
    keys: Arc<KeyLog>,
    key_sources: &'k mut KeySources,
    workers: Vec<(SyncSender<Batch>, Receiver<Batch>)>,
    /// Per worker: the batch being filled.
    batches: Vec<Batch>,
    /// Places not given to the merger yet.
    places: Vec<Place>,
    merger: Sender<ToMerger>,
    gate: &'g Gate,
    /// The number of the last TCP event.
    seq: u64,
    /// Over the TCP stage's out-of-order buffers (the connections' stages
    /// are the workers' to account).
    pub budget: MemoryBudget,
    /// Out-of-order bytes the TCP stage holds, by stream (only those holding some).
    tcp_held: BTreeMap<u64, (usize, TcpEnds)>,
    /// Streams whose out-of-order buffers are to be given up after this segment.
    tcp_cuts: Vec<(u64, TcpEnds)>,
}

impl<'r, 'k, 'g> Reader<'r, 'k, 'g> {
    pub fn new(
        own: Wiring<'r>,
        keys: Arc<KeyLog>,
        key_sources: &'k mut KeySources,
        workers: Vec<(SyncSender<Batch>, Receiver<Batch>)>,
        merger: Sender<ToMerger>,
        gate: &'g Gate,
    ) -> Self {
        Reader {
            own,
            keys,
            key_sources,
            batches: workers.iter().map(|_| Batch::default()).collect(),
            workers,
            places: Vec::with_capacity(BATCH_PLACES),
            merger,
            gate,
            seq: 0,
            budget: MemoryBudget::new(usize::MAX),
            tcp_held: BTreeMap::new(),
            tcp_cuts: Vec::new(),
        }
    }

    /// Gives up the out-of-order holes of the streams holding the most
    /// while the TCP stage holds more than the reading thread's share.
    fn cut_while_over(&mut self) {
        while let Some(cut) = self.budget.over() {
            let (Cut::Largest(stream) | Cut::Oldest(stream)) = cut;
            let mut held = Holdings::default();
            if let Some((bytes, ends)) = self.tcp_held.remove(&stream) {
                held.add(Holder::TcpOutOfOrder, bytes);
                self.tcp_cuts.push((stream, ends));
            }
            let finding = self.budget.cut_finding(cut, &held);
            self.own.finding(finding, Some(stream), None);
            self.budget.forget(stream);
        }
        self.queue_own();
    }

    /// The capture is read: every batch and place goes, then the workers
    /// and the merger are told there is no more.
    pub fn finish(mut self) {
        self.give_places();
        let _ = self.merger.send(ToMerger::Read);
        // Dropping the senders ends the workers' loops.
        self.workers.clear();
    }

    /// What the reading thread said since the last call becomes places.
    fn queue_own(&mut self) {
        for op in self.own.take_ops() {
            self.places.push(Place::Own(Box::new(op)));
        }
    }

    fn push(&mut self, worker: usize, what: What) {
        let Some(batch) = self.batches.get_mut(worker) else {
            return;
        };
        batch.work.push(Work {
            seq: self.seq,
            what,
        });
        if batch.work.len() >= BATCH_EVENTS || batch.bytes.len() >= BATCH_BYTES {
            self.send(worker);
        }
    }

    /// Copies `bytes` into worker `worker`'s batch: where they are in it.
    fn keep_bytes(&mut self, worker: usize, bytes: &[u8]) -> std::ops::Range<usize> {
        let Some(batch) = self.batches.get_mut(worker) else {
            return 0..0;
        };
        let start = batch.bytes.len();
        batch.bytes.extend_from_slice(bytes);
        start..batch.bytes.len()
    }

    /// Hands worker `worker` its batch (waiting while its queue is full).
    fn send(&mut self, worker: usize) {
        let Some(batch) = self.batches.get_mut(worker) else {
            return;
        };
        if batch.work.is_empty() {
            return;
        }
        let Some((sender, recycled)) = self.workers.get(worker) else {
            return;
        };
        let next = recycled.try_recv().unwrap_or_default();
        let full = std::mem::replace(batch, next);
        // A worker gone panicked: the merger stops and raises it.
        let _ = sender.send(full);
    }

    /// Gives the merger the places so far, every batch sent first (the
    /// merger may need any of them to go on).
    fn give_places(&mut self) {
        for worker in 0..self.batches.len() {
            self.send(worker);
        }
        if self.places.is_empty() {
            return;
        }
        self.gate.enter(self.places.len());
        let places = std::mem::replace(&mut self.places, Vec::with_capacity(BATCH_PLACES));
        let _ = self.merger.send(ToMerger::Places(places));
    }

    /// Gives the places when there are enough, or when the merger runs
    /// short of them (then every batch is sent too).
    fn maybe_give_places(&mut self) {
        if self.places.len() >= BATCH_PLACES {
            if self.gate.is_full(self.places.len()) {
                self.give_places();
            } else {
                self.gate.enter(self.places.len());
                let places = std::mem::replace(&mut self.places, Vec::with_capacity(BATCH_PLACES));
                let _ = self.merger.send(ToMerger::Places(places));
            }
        }
    }

    fn worker_of(&self, stream: u64) -> usize {
        let workers = self.batches.len().max(1) as u64;
        usize::try_from(stream % workers).unwrap_or(0)
    }
}

impl Findings for Reader<'_, '_, '_> {
    fn push_finding(&mut self, finding: Finding) {
        self.own.finding(finding, None, None);
        self.queue_own();
    }
}

impl TcpConsumer for Reader<'_, '_, '_> {
    fn on_tcp_held(&mut self, stream: u64, ends: TcpEnds, held: usize) {
        let before = match held {
            0 => self.tcp_held.remove(&stream).map(|(b, _)| b),
            _ => self.tcp_held.insert(stream, (held, ends)).map(|(b, _)| b),
        };
        if before.unwrap_or(0) == held {
            return;
        }
        let mut holdings = Holdings::default();
        holdings.add(Holder::TcpOutOfOrder, held);
        self.budget.set_connection(stream, &holdings);
        self.cut_while_over();
    }

    fn take_tcp_cuts(&mut self) -> Vec<(u64, TcpEnds)> {
        std::mem::take(&mut self.tcp_cuts)
    }

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

impl tcp::Sink for Reader<'_, '_, '_> {
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
            } => {
                let range = self.keep_bytes(self.worker_of(stream), bytes);
                (stream, What::Data(stream, dir, at, range))
            }
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
        if let E::Closed { stream, .. } = event {
            self.tcp_held.remove(&stream);
            self.budget.forget(stream);
        }
        let worker = self.worker_of(stream);
        self.push(worker, what);
        self.places.push(Place::Worker(worker, self.seq));
        say_after(&mut self.own, &event);
        self.queue_own();
        self.maybe_give_places();
    }
}
