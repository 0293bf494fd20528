//! The table of connections above TCP and the memory budget over them:
//! what the analysis does with each TCP event once the TCP stage's own
//! report events are said. One table runs the whole capture with one
//! thread (`analysis`); with `-j N` each worker runs one over its share of
//! the streams (`workers`), against a recording `Wiring`.
//!
//! Takes a stream's TCP events (opened, data, gaps, ends, closed) and the
//! TCP stage's out-of-order holdings; gives them to the stream's
//! [`Connection`], accounts what each connection holds after each event
//! and, past the budget, finishes connections early (`limits.memory`):
//! the one holding the most in buffers (its out-of-order holes given up
//! and its later bytes only counted), or, when many connections each hold
//! little, the least recently active one (its TCP flow released, except
//! on a worker, which cannot reach the TCP table). Never emits the TCP
//! stage's events itself (the caller does, before or after).

use std::collections::BTreeMap;

use crate::pipeline::budget::{Cut, Holder, Holdings, MemoryBudget};
use crate::pipeline::connection::{Connection, ConnectionStack};
use crate::pipeline::context::Wiring;
use crate::pipeline::TcpEnds;
use crate::position::{Dir, FrameRef};
use crate::tcp;
use crate::tls::KeyLog;

/// TCP events between two readings of the capture-wide layer's held bytes:
/// reading them walks its BOSH sessions and Finesse maps, so it is done once
/// every this many events, not per event (a connection's end included: with
/// many connections that would be quadratic).
const CAPTURE_WIDE_EVERY: u64 = 1024;

pub(crate) struct ConnTable {
    /// Open connections and those settled at their two FINs, until the
    /// TCP stage releases their stream.
    conns: BTreeMap<u64, Connection>,
    pub budget: MemoryBudget,
    /// Connections finished early for the budget whose TCP flow is still
    /// open: their bytes from then on, per direction, added to their report
    /// as unparsed when they close.
    cut: BTreeMap<u64, CutConnection>,
    /// TCP events seen, for [`CAPTURE_WIDE_EVERY`].
    events: u64,
    /// What the capture-wide layer held when last read.
    wide_held: usize,
    /// Out-of-order bytes the TCP stage holds, by stream (only those holding some).
    tcp_held: BTreeMap<u64, (usize, TcpEnds)>,
    /// Streams whose out-of-order buffers are to be given up after this segment.
    tcp_cuts: Vec<(u64, TcpEnds)>,
    /// Streams the TCP stage is to release after this segment.
    tcp_releases: Vec<(u64, TcpEnds)>,
    /// A worker's table: the capture-wide layer and the key log are not its
    /// to account, and no TCP flow is its to release.
    on_worker: bool,
}

/// A connection finished early for the budget, while its TCP flow lasts.
#[derive(Clone, Copy, Debug)]
struct CutConnection {
    ends: TcpEnds,
    /// Bytes per direction since the cut.
    after: [u64; 2],
    /// Its TCP flow is being released: no longer accounted.
    released: bool,
}

impl CutConnection {
    fn new(ends: TcpEnds) -> CutConnection {
        CutConnection {
            ends,
            after: [0; 2],
            released: false,
        }
    }
}

impl ConnTable {
    /// The table of a whole capture, within `budget`.
    pub fn new(budget: MemoryBudget) -> ConnTable {
        ConnTable {
            conns: BTreeMap::new(),
            budget,
            cut: BTreeMap::new(),
            events: 0,
            wide_held: 0,
            tcp_held: BTreeMap::new(),
            tcp_cuts: Vec::new(),
            tcp_releases: Vec::new(),
            on_worker: false,
        }
    }

    /// A worker's table, within its share of the budget.
    pub fn of_worker(budget: MemoryBudget) -> ConnTable {
        ConnTable {
            on_worker: true,
            ..ConnTable::new(budget)
        }
    }

    /// Accounts what connection `stream` holds after an event, then
    /// finishes connections while the total is over the budget.
    fn account(&mut self, ctx: &mut Wiring, keys: &KeyLog, stream: u64) {
        if self.cut.get(&stream).is_some_and(|c| c.released) {
            return;
        }
        let held = self.holdings(stream);
        self.budget.set_connection(stream, &held);
        self.events += 1;
        if self.events % CAPTURE_WIDE_EVERY == 0 {
            self.wide_held = if self.on_worker {
                0
            } else {
                ctx.wide.held_bytes()
            };
            self.account_keys(keys);
        }
        self.cut_while_over(ctx);
    }

    /// The key material grew (a Decryption Secrets Block): O(1), with the
    /// capture-wide layer as last read.
    pub fn account_keys(&mut self, keys: &KeyLog) {
        if self.on_worker {
            return;
        }
        let held = self.wide_held.saturating_add(keys.held_bytes());
        self.budget.set_capture_wide(held);
    }

    pub fn cut_while_over(&mut self, ctx: &mut Wiring) {
        while let Some(cut) = self.budget.over() {
            self.cut_connection(ctx, cut);
        }
    }

    /// What connection `stream` holds: its TCP flow's state and
    /// out-of-order buffers, and its stages (until it is cut).
    fn holdings(&self, stream: u64) -> Holdings {
        let conn = self.conns.get(&stream);
        let mut held = conn.map(Connection::holdings).unwrap_or_default();
        if conn.is_some() || self.cut.contains_key(&stream) {
            held.add(Holder::ConnectionState, tcp::FLOW_STATE_BYTES);
        }
        if let Some((tcp, _)) = self.tcp_held.get(&stream) {
            held.add(Holder::TcpOutOfOrder, *tcp);
        }
        held
    }

    /// Finishes the connection `cut` names with what it has. The largest
    /// holder's out-of-order holes are given up and its flow goes on,
    /// charging its TCP state; the oldest's flow is released.
    fn cut_connection(&mut self, ctx: &mut Wiring, cut: Cut) {
        let (Cut::Largest(stream) | Cut::Oldest(stream)) = cut;
        let held = self.holdings(stream);
        // A connection cut before and holding out-of-order data again is
        // only relieved of it: it was named once.
        if self.conns.contains_key(&stream) || matches!(cut, Cut::Oldest(_)) {
            let finding = self.budget.cut_finding(cut, &held);
            ctx.finding(finding, Some(stream), None);
        }
        self.budget.forget(stream);
        if let Some(conn) = self.conns.remove(&stream) {
            let ends = conn.ends();
            conn.finish(ctx, None);
            self.cut.insert(stream, CutConnection::new(ends));
        }
        if let Some((_, ends)) = self.tcp_held.remove(&stream) {
            self.tcp_cuts.push((stream, ends));
        }
        match cut {
            Cut::Largest(_) => {
                let held = self.holdings(stream);
                self.budget.set_connection(stream, &held);
            }
            Cut::Oldest(_) => {
                if let Some(cut) = self.cut.get_mut(&stream) {
                    cut.released = true;
                    if !self.on_worker {
                        self.tcp_releases.push((stream, cut.ends));
                    }
                }
            }
        }
    }

    /// After a segment: the TCP stage holds `held` out-of-order bytes of `stream`.
    pub fn on_tcp_held(
        &mut self,
        ctx: &mut Wiring,
        keys: &KeyLog,
        stream: u64,
        ends: TcpEnds,
        held: usize,
    ) {
        let before = match held {
            0 => self.tcp_held.remove(&stream).map(|(b, _)| b),
            _ => self.tcp_held.insert(stream, (held, ends)).map(|(b, _)| b),
        };
        if before.unwrap_or(0) != held {
            self.account(ctx, keys, stream);
        }
    }

    pub fn take_tcp_cuts(&mut self) -> Vec<(u64, TcpEnds)> {
        std::mem::take(&mut self.tcp_cuts)
    }

    pub fn take_tcp_releases(&mut self) -> Vec<(u64, TcpEnds)> {
        std::mem::take(&mut self.tcp_releases)
    }

    /// `Opened`: the stream's stack, with its story (after its `tcp.open`).
    pub fn on_opened(
        &mut self,
        ctx: &mut Wiring,
        keys: &KeyLog,
        opened: (u64, FrameRef, TcpEnds, tcp::Origin),
    ) {
        let (stream, at, (client, server), origin) = opened;
        let story = crate::conn::Tracker::new(stream, client, server, at, origin, &ctx.limits);
        let stack = ConnectionStack::new(stream, client, server).with_story(story);
        self.conns.insert(stream, Connection::open(stack));
        self.account(ctx, keys, stream);
    }

    pub fn on_data(
        &mut self,
        ctx: &mut Wiring,
        keys: &KeyLog,
        (stream, dir, at): (u64, Dir, FrameRef),
        bytes: &[u8],
    ) {
        if let Some(conn) = self.conns.get_mut(&stream) {
            conn.on_data(ctx, keys, dir, at, bytes);
            self.account(ctx, keys, stream);
        } else if let Some(cut) = self.cut.get_mut(&stream) {
            if let Some(n) = cut.after.get_mut(dir.index()) {
                *n += bytes.len() as u64;
            }
        }
    }

    /// A gap (after its `tcp.gap` event and finding).
    pub fn on_gap(
        &mut self,
        ctx: &mut Wiring,
        keys: &KeyLog,
        (stream, dir, at): (u64, Dir, FrameRef),
        len: u64,
    ) {
        if let Some(conn) = self.conns.get_mut(&stream) {
            conn.on_gap(ctx, dir, at, len);
            self.account(ctx, keys, stream);
        }
    }

    /// A FIN or RST (after its `tcp` event).
    pub fn on_end(
        &mut self,
        ctx: &mut Wiring,
        keys: &KeyLog,
        (stream, dir, at): (u64, Dir, FrameRef),
        rst: bool,
    ) {
        if let Some(conn) = self.conns.get_mut(&stream) {
            conn.on_tcp_end(ctx, dir, at, rst);
            if conn.both_fins() {
                // Its stages go now, and the stack that held them:
                // the TCP stage ends the stream at the last FIN's
                // ACK, or an hour later if the capture missed it.
                if let Some(open) = self.conns.remove(&stream) {
                    self.conns.insert(stream, open.settle_closed(ctx, keys));
                }
            }
            self.account(ctx, keys, stream);
        }
    }

    /// `Closed` (before its `tcp.close` event): the connection files its reports.
    pub fn on_closed(
        &mut self,
        ctx: &mut Wiring,
        keys: &KeyLog,
        stream: u64,
        stats: &tcp::StreamStats,
    ) {
        if let Some(mut conn) = self.conns.remove(&stream) {
            conn.settle_at_end(ctx, keys);
            conn.finish(ctx, Some(stats));
        } else if let Some(cut) = self.cut.remove(&stream) {
            ctx.close_cut(stream, cut.after, stats);
        }
        self.tcp_held.remove(&stream);
        self.budget.forget(stream);
    }
}
