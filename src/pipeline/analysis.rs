//! The whole analysis of one capture: TCP events in, every stage above fed
//! per connection, report events out as they happen, and the report model
//! at the end.
//!
//! Takes a capture path and options; gives events to an [`EventSink`] (the
//! NDJSON writer streams them) and an [`Analyzed`] with connections, XMPP
//! sessions and findings. Memory grows with the connections open at once,
//! within one budget ([`MemoryBudget`]): after each TCP event a connection
//! handled, what it holds is accounted (its fixed state and its buffers);
//! past the budget the connection holding the most in buffers is finished
//! early (`limits.memory`) and its later bytes are only counted, or, when
//! many connections each hold little, the least recently active one is
//! finished and its TCP flow released.

use std::collections::BTreeMap;
use std::path::Path;

use crate::finding::{Finding, Findings};
use crate::pipeline::budget::{Cut, Holder, Holdings, MemoryBudget};
use crate::pipeline::connection::{Connection, ConnectionStack};
use crate::pipeline::context::Wiring;
use crate::pipeline::key_sources::KeySources;
use crate::pipeline::{run_tcp, CaptureRun, Options, PipelineError, TcpConsumer, TcpEnds};
use crate::report::from_stages;
use crate::report::model::{ConnectionReport, KeySourceReport, SessionReport};
use crate::report::sink::EventSink;
use crate::tcp;
use crate::tls::{KeyCaps, KeyLog, KeySource};

/// What an analysis found besides the events it emitted.
pub struct Analyzed {
    pub run: CaptureRun,
    pub keys: Vec<KeySourceReport>,
    pub connections: Vec<ConnectionReport>,
    pub sessions: Vec<SessionReport>,
    /// One per client address, with its connections in order (the desktop story).
    pub desktops: Vec<crate::desktop::Desktop>,
    /// Connections and sessions seen, including those beyond `max_summaries`.
    pub connections_seen: u64,
    pub sessions_seen: u64,
    /// In frame order, bounded per code.
    pub findings: Vec<Finding>,
    /// What the Finesse stage kept for the agents' stories.
    pub finesse: crate::finesse::Records,
    /// The most bytes the memory budget accounted at once (connections'
    /// buffers and capture-wide maps), before any cut it caused.
    pub memory_peak: usize,
}

impl Analyzed {
    /// Each agent's story ([`crate::report::agents`]); the dialogs' call
    /// variables only when `raw`.
    pub fn agent_stories(&self, raw: bool) -> Vec<crate::report::agents::AgentStory> {
        crate::report::agents::build(&crate::report::agents::Sources {
            sessions: &self.sessions,
            connections: &self.connections,
            desktops: &self.desktops,
            findings: &self.findings,
            records: &self.finesse,
            capture_end: self.run.summary.last_time,
            raw,
        })
    }
}

/// Reads `path` through every stage, emitting events into `sink` as they
/// happen. A browser HAR (recognised by content) is read as its entries and
/// messages instead of packets (`har_input`).
pub fn analyze(
    path: &Path,
    opts: &Options,
    sink: &mut dyn EventSink,
) -> Result<Analyzed, PipelineError> {
    if crate::pipeline::har_input::is_har(path) {
        return crate::pipeline::har_input::analyze(path, opts, sink);
    }
    let mut ctx = Wiring::new(
        opts.limits.clone(),
        opts.show_secrets,
        opts.raw,
        opts.xmpp_message_text,
        sink,
    );
    ctx.events_only = opts.events_only;
    let (keys, key_sources) = load_keys(opts, &mut ctx)?;
    // Given, even when a source held nothing: then each connection says
    // its key is missing, and `tls.keylog_empty` says why.
    ctx.keys_given = !keys.is_empty()
        || !opts.rsa_keys.is_empty()
        || !opts.keylogs.is_empty()
        || !opts.keylog_texts.is_empty()
        || (opts.use_env_keylog
            && std::env::var_os("SSLKEYLOGFILE").is_some_and(|p| !p.is_empty()));
    ctx.set_depth(opts.depth);
    let mut analysis = Analysis {
        ctx,
        keys,
        key_sources,
        conns: BTreeMap::new(),
        budget: MemoryBudget::new(opts.limits.memory_budget),
        cut: BTreeMap::new(),
        events: 0,
        wide_held: 0,
        tcp_held: BTreeMap::new(),
        tcp_cuts: Vec::new(),
        tcp_releases: Vec::new(),
    };
    analysis.account_keys();
    let run = run_tcp(path, opts, &mut analysis)?;
    let Analysis {
        mut ctx,
        key_sources,
        budget,
        ..
    } = analysis;
    crate::pipeline::bosh::finish(&mut ctx);
    let mut sessions = std::mem::take(&mut ctx.sessions);
    sessions.sort_by_key(|s| s.id);
    let mut desktop_findings: Vec<Finding> = Vec::new();
    let desktops = ctx
        .wide
        .finish_desktops(&opts.limits, &mut desktop_findings);
    for finding in desktop_findings {
        ctx.finding(finding, None, None);
    }
    if let Some(advice) = ctx.wide.tls.advice(ctx.keys_given) {
        ctx.finding(advice, None, None);
    }
    let mut connections = std::mem::take(&mut ctx.connections);
    connections.sort_by_key(|c| c.stream);
    fill_bosh_endpoints(&mut sessions, &connections, &ctx.connection_ends);
    let findings = ctx.take_findings();
    Ok(Analyzed {
        run,
        keys: key_sources.into_list(),
        connections,
        sessions,
        desktops,
        connections_seen: ctx.connections_seen,
        sessions_seen: ctx.sessions_seen,
        findings,
        finesse: ctx.wide.finesse.take_records(),
        memory_peak: budget.peak(),
    })
}

/// `--keylog` files (an unreadable one is fatal) and `SSLKEYLOGFILE`.
fn load_keys(opts: &Options, ctx: &mut Wiring) -> Result<(KeyLog, KeySources), PipelineError> {
    let mut keys = KeyLog::with_caps(KeyCaps::of(&opts.limits));
    let mut sources = KeySources::new(opts.limits.max_key_sources);
    let mut findings = Vec::new();
    for path in &opts.keylogs {
        let secrets = keys.load_file(path, &mut findings)?;
        sources.note(|| path.display().to_string(), secrets);
    }
    for (name, text) in &opts.keylog_texts {
        let source = crate::tls::KeySource::Named(name.clone());
        let secrets = keys.add_text(text, source, &mut findings);
        sources.note(|| name.clone(), secrets);
    }
    #[cfg(feature = "rsa-keys")]
    for path in &opts.rsa_keys {
        keys.load_rsa_key(path)?;
        sources.note(|| format!("RSA private key {}", path.display()), 1);
    }
    if opts.use_env_keylog {
        let secrets = keys.load_env(&mut findings);
        if let Some(path) = std::env::var_os("SSLKEYLOGFILE").filter(|p| !p.is_empty()) {
            sources.note(
                || format!("SSLKEYLOGFILE={}", path.to_string_lossy()),
                secrets,
            );
        }
    }
    for f in findings {
        ctx.finding(f, None, None);
    }
    Ok((keys, sources))
}

/// BOSH sessions span connections: take client and server from the first
/// one (`connections` sorted by stream; an NDJSON run keeps no connection
/// reports, only each connection's two ends in `ends`).
fn fill_bosh_endpoints(
    sessions: &mut [SessionReport],
    connections: &[ConnectionReport],
    ends: &BTreeMap<u64, crate::pipeline::TcpEnds>,
) {
    for s in sessions.iter_mut().filter(|s| s.client.is_none()) {
        let Some(&first) = s.streams.first() else {
            continue;
        };
        if let Ok(i) = connections.binary_search_by_key(&first, |c| c.stream) {
            if let Some(c) = connections.get(i) {
                s.client = Some(c.client);
                s.server = Some(c.server);
                s.tls = c.tls.as_ref().map(crate::tls::Summary::describe);
            }
        } else if let Some(&(client, server)) = ends.get(&first) {
            s.client = Some(client);
            s.server = Some(server);
        }
    }
}

/// TCP events between two readings of the capture-wide layer's held bytes:
/// reading them walks its BOSH sessions and Finesse maps, so it is done once
/// every this many events, not per event (a connection's end included: with
/// many connections that would be quadratic).
const CAPTURE_WIDE_EVERY: u64 = 1024;

struct Analysis<'s> {
    ctx: Wiring<'s>,
    keys: KeyLog,
    key_sources: KeySources,
    /// Open connections and those settled at their two FINs, until the
    /// TCP stage releases their stream.
    conns: BTreeMap<u64, Connection>,
    budget: MemoryBudget,
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

impl Analysis<'_> {
    /// Accounts what connection `stream` holds after an event, then
    /// finishes connections while the total is over the budget.
    fn account(&mut self, stream: u64) {
        if self.cut.get(&stream).is_some_and(|c| c.released) {
            return;
        }
        let held = self.holdings(stream);
        self.budget.set_connection(stream, &held);
        self.events += 1;
        if self.events % CAPTURE_WIDE_EVERY == 0 {
            self.account_capture_wide();
        }
        self.cut_while_over();
    }

    /// What spans connections: the capture-wide layer (walked, so read
    /// only every [`CAPTURE_WIDE_EVERY`] events) and the key material.
    fn account_capture_wide(&mut self) {
        self.wide_held = self.ctx.wide.held_bytes();
        self.account_keys();
    }

    /// The key material grew (a Decryption Secrets Block): O(1), with the
    /// capture-wide layer as last read.
    fn account_keys(&mut self) {
        let held = self.wide_held.saturating_add(self.keys.held_bytes());
        self.budget.set_capture_wide(held);
    }

    fn cut_while_over(&mut self) {
        while let Some(cut) = self.budget.over() {
            self.cut_connection(cut);
        }
    }

    /// What connection `stream` holds: its TCP flow's state and
    /// out-of-order buffers, and its stages (until it is cut).
    fn holdings(&self, stream: u64) -> Holdings {
        let mut held = self
            .conns
            .get(&stream)
            .map(Connection::holdings)
            .unwrap_or_default();
        if self.conns.contains_key(&stream) || self.cut.contains_key(&stream) {
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
    fn cut_connection(&mut self, cut: Cut) {
        let (Cut::Largest(stream) | Cut::Oldest(stream)) = cut;
        let held = self.holdings(stream);
        // A connection cut before and holding out-of-order data again is
        // only relieved of it: it was named once.
        if self.conns.contains_key(&stream) || matches!(cut, Cut::Oldest(_)) {
            let finding = self.budget.cut_finding(cut, &held);
            self.ctx.finding(finding, Some(stream), None);
        }
        self.budget.forget(stream);
        if let Some(conn) = self.conns.remove(&stream) {
            let ends = conn.ends();
            conn.finish(&mut self.ctx, None);
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
                    self.tcp_releases.push((stream, cut.ends));
                }
            }
        }
    }

    /// A connection cut early closed: its report gets its TCP statistics
    /// and the bytes that came after the cut, as unparsed.
    fn close_cut(&mut self, stream: u64, after: [u64; 2], stats: &tcp::StreamStats) {
        let Some(report) = self
            .ctx
            .connections
            .iter_mut()
            .rev()
            .find(|c| c.stream == stream)
        else {
            return;
        };
        report.tcp = Some(stats.clone());
        for dir in crate::position::Dir::BOTH {
            let n = after.get(dir.index()).copied().unwrap_or(0);
            let bytes = report.bytes.dir_mut(dir);
            bytes.tcp += n;
            bytes.unparsed += n;
        }
    }
}

impl Findings for Analysis<'_> {
    fn push_finding(&mut self, finding: Finding) {
        self.ctx.finding(finding, None, None);
    }
}

impl TcpConsumer for Analysis<'_> {
    fn on_tcp_held(&mut self, stream: u64, ends: TcpEnds, held: usize) {
        let before = match held {
            0 => self.tcp_held.remove(&stream).map(|(b, _)| b),
            _ => self.tcp_held.insert(stream, (held, ends)).map(|(b, _)| b),
        };
        if before.unwrap_or(0) != held {
            self.account(stream);
        }
    }

    fn take_tcp_cuts(&mut self) -> Vec<(u64, TcpEnds)> {
        std::mem::take(&mut self.tcp_cuts)
    }

    fn take_tcp_releases(&mut self) -> Vec<(u64, TcpEnds)> {
        std::mem::take(&mut self.tcp_releases)
    }

    fn on_key_log(&mut self, at_offset: u64, text: &[u8]) {
        let mut findings = Vec::new();
        let secrets = self
            .keys
            .add_text(text, KeySource::Dsb { offset: at_offset }, &mut findings);
        self.key_sources
            .note(|| format!("pcapng DSB at byte {at_offset}"), secrets);
        for f in findings {
            self.ctx.finding(f, None, None);
        }
        self.account_keys();
        self.cut_while_over();
    }
}

impl tcp::Sink for Analysis<'_> {
    fn on_tcp(&mut self, event: tcp::Event<'_>) {
        use tcp::Event as E;
        let (ctx, keys) = (&mut self.ctx, &self.keys);
        ctx.sink.on_tcp(&event);
        match event {
            E::Opened {
                stream,
                at,
                client,
                server,
                origin,
            } => {
                let story =
                    crate::conn::Tracker::new(stream, client, server, at, origin, &ctx.limits);
                let stack = ConnectionStack::new(stream, client, server).with_story(story);
                self.conns.insert(stream, Connection::open(stack));
                ctx.emit(from_stages::tcp_open(stream, at, client, server, origin));
                self.account(stream);
            }
            E::Data {
                stream,
                dir,
                at,
                bytes,
                ..
            } => {
                if let Some(conn) = self.conns.get_mut(&stream) {
                    conn.on_data(ctx, keys, dir, at, bytes);
                    self.account(stream);
                } else if let Some(cut) = self.cut.get_mut(&stream) {
                    if let Some(n) = cut.after.get_mut(dir.index()) {
                        *n += bytes.len() as u64;
                    }
                }
            }
            E::Gap {
                stream,
                dir,
                at,
                offset,
                len,
                reason,
            } => {
                ctx.emit(from_stages::tcp_gap(stream, dir, at, offset, len, reason));
                ctx.finding(
                    tcp::gap_finding(stream, dir, at, offset, len, reason),
                    Some(stream),
                    None,
                );
                if let Some(conn) = self.conns.get_mut(&stream) {
                    conn.on_gap(ctx, dir, at, len);
                    self.account(stream);
                }
            }
            E::Fin { stream, dir, at } | E::Rst { stream, dir, at } => {
                let rst = matches!(event, E::Rst { .. });
                ctx.emit(from_stages::tcp_end(stream, dir, at, rst));
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
                    self.account(stream);
                }
            }
            E::Closed { stream, at, stats } => {
                if let Some(mut conn) = self.conns.remove(&stream) {
                    conn.settle_at_end(ctx, &self.keys);
                    conn.finish(ctx, Some(stats));
                } else if let Some(cut) = self.cut.remove(&stream) {
                    self.close_cut(stream, cut.after, stats);
                }
                self.tcp_held.remove(&stream);
                self.budget.forget(stream);
                self.ctx.emit(from_stages::tcp_close(stream, at, stats));
            }
        }
    }
}
