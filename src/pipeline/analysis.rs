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
use crate::pipeline::budget::MemoryBudget;
use crate::pipeline::conn_table::ConnTable;
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
    let jobs = if sink.follows_bytes() { 1 } else { opts.jobs };
    let mut ctx = Wiring::new(
        opts.limits.clone(),
        opts.show_secrets,
        opts.raw,
        opts.xmpp_message_text,
        sink,
    );
    ctx.events_only = opts.events_only;
    let (keys, mut key_sources) = load_keys(opts, &mut ctx)?;
    // Given, even when a source held nothing: then each connection says
    // its key is missing, and `tls.keylog_empty` says why.
    ctx.keys_given = !keys.is_empty()
        || !opts.rsa_keys.is_empty()
        || !opts.keylogs.is_empty()
        || !opts.keylog_texts.is_empty()
        || (opts.use_env_keylog
            && std::env::var_os("SSLKEYLOGFILE").is_some_and(|p| !p.is_empty()));
    ctx.set_depth(opts.depth);
    let (run, memory_peak) = if jobs > 1 {
        crate::pipeline::workers::run(path, opts, &mut ctx, keys, &mut key_sources, jobs)?
    } else {
        let mut analysis = Analysis {
            ctx: &mut ctx,
            keys,
            key_sources: &mut key_sources,
            table: ConnTable::new(MemoryBudget::new(opts.limits.memory_budget)),
        };
        analysis.table.account_keys(&analysis.keys);
        let run = run_tcp(path, opts, &mut analysis)?;
        (run, analysis.table.budget.peak())
    };
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
        memory_peak,
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

/// One thread's analysis: every connection in one table.
struct Analysis<'c, 's> {
    ctx: &'c mut Wiring<'s>,
    keys: KeyLog,
    key_sources: &'c mut KeySources,
    table: ConnTable,
}

impl Findings for Analysis<'_, '_> {
    fn push_finding(&mut self, finding: Finding) {
        self.ctx.finding(finding, None, None);
    }
}

impl TcpConsumer for Analysis<'_, '_> {
    fn on_tcp_held(&mut self, stream: u64, ends: TcpEnds, held: usize) {
        let (ctx, keys) = (&mut *self.ctx, &self.keys);
        self.table.on_tcp_held(ctx, keys, stream, ends, held);
    }

    fn take_tcp_cuts(&mut self) -> Vec<(u64, TcpEnds)> {
        self.table.take_tcp_cuts()
    }

    fn take_tcp_releases(&mut self) -> Vec<(u64, TcpEnds)> {
        self.table.take_tcp_releases()
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
        self.table.account_keys(&self.keys);
        self.table.cut_while_over(self.ctx);
    }
}

impl tcp::Sink for Analysis<'_, '_> {
    fn on_tcp(&mut self, event: tcp::Event<'_>) {
        use tcp::Event as E;
        let (ctx, keys) = (&mut *self.ctx, &self.keys);
        ctx.sink.on_tcp(&event);
        say_before(ctx, &event);
        let table = &mut self.table;
        match event {
            E::Opened {
                stream,
                at,
                client,
                server,
                origin,
            } => table.on_opened(ctx, keys, (stream, at, (client, server), origin)),
            E::Data {
                stream,
                dir,
                at,
                bytes,
                ..
            } => table.on_data(ctx, keys, (stream, dir, at), bytes),
            E::Gap {
                stream,
                dir,
                at,
                len,
                ..
            } => table.on_gap(ctx, keys, (stream, dir, at), len),
            E::Fin { stream, dir, at } => table.on_end(ctx, keys, (stream, dir, at), false),
            E::Rst { stream, dir, at } => table.on_end(ctx, keys, (stream, dir, at), true),
            E::Closed { stream, stats, .. } => {
                table.on_closed(ctx, keys, stream, stats);
                say_after(ctx, &event);
            }
        }
    }
}

/// What the TCP stage says of `event` before the connection hears of it:
/// `tcp.open`, a gap's event and finding, a FIN's or RST's event.
pub(crate) fn say_before(ctx: &mut Wiring, event: &tcp::Event<'_>) {
    use tcp::Event as E;
    match *event {
        E::Opened {
            stream,
            at,
            client,
            server,
            origin,
        } => ctx.emit(from_stages::tcp_open(stream, at, client, server, origin)),
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
        }
        E::Fin { stream, dir, at } => ctx.emit(from_stages::tcp_end(stream, dir, at, false)),
        E::Rst { stream, dir, at } => ctx.emit(from_stages::tcp_end(stream, dir, at, true)),
        E::Data { .. } | E::Closed { .. } => {}
    }
}

/// What the TCP stage says of `event` after the connection heard of it:
/// `tcp.close` once the connection filed its reports.
pub(crate) fn say_after(ctx: &mut Wiring, event: &tcp::Event<'_>) {
    if let tcp::Event::Closed { stream, at, stats } = *event {
        ctx.emit(from_stages::tcp_close(stream, at, stats));
    }
}
