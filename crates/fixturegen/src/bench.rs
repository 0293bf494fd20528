//! Large benchmark captures, streamed: many concurrent connections played
//! round-robin on one clock, each round rendered and written at once, so
//! memory stays flat whatever the size.
//!
//! Takes a [`FrameSink`] and a target size; gives statistics. Never keeps
//! the bytes it sent (conversations run with `record: false`).

use std::io::{self, Write};

use fastrand::Rng;

use super::channel::{Channel, DeflateParams, Transport, WsTransport};
use super::content::{DOMAIN, PASSWORD};
use super::frame::{Frame, FrameSink, START_NS};
use super::impair;
use super::tcp::{ConvConfig, Conversation, Segment};
use super::tls::{TlsEnv, TlsOptions};
use super::wire::{render, Wire};
use super::Error;
use super::{finesse, xmpp};
use crate::Dir;

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct BenchConfig {
    /// Stop once about this many bytes of frames were written.
    pub size: u64,
    /// Concurrent connections.
    pub conns: usize,
    /// RNG seed.
    pub seed: u64,
    /// `bench-wss`: notifications that vary like real ones (see
    /// `bench_varied`) instead of a few near-identical documents.
    pub varied: bool,
}

/// What was generated.
#[derive(Clone, Copy, Debug, Default)]
pub struct BenchStats {
    /// Frames written.
    pub frames: u64,
    /// Frame bytes written (captured lengths).
    pub frame_bytes: u64,
    /// TCP payload bytes sent, both directions.
    pub payload_bytes: u64,
    /// Connections opened.
    pub conns: u64,
}

/// Counts bytes written through it.
#[derive(Debug)]
pub struct Counting<W> {
    inner: W,
    /// Bytes written so far.
    pub count: u64,
}

impl<W: Write> Counting<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Counting<W> {
        Counting { inner, count: 0 }
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Renders and writes segments, counting.
pub(crate) struct Emitter<'a> {
    pub(crate) sink: &'a mut dyn FrameSink,
    pub(crate) stats: BenchStats,
    pub(crate) wire: Wire,
}

impl Emitter<'_> {
    pub(crate) fn emit(&mut self, segs: &[Segment]) -> Result<(), Error> {
        for seg in segs {
            self.stats.payload_bytes += seg.payload.len() as u64;
            for r in render(seg, &self.wire)? {
                self.write(&r.frame)?;
            }
        }
        Ok(())
    }

    fn write(&mut self, frame: &Frame) -> Result<(), Error> {
        self.stats.frames += 1;
        self.stats.frame_bytes += frame.data.len() as u64;
        self.sink.write_frame(frame)?;
        Ok(())
    }
}

/// A pseudo-random but compressible-ish payload pool.
pub(crate) fn pool(rng: &mut Rng, n: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"abcdefghijklmnop <>/=\"0123456789\n";
    (0..n)
        .map(|_| ALPHABET[rng.usize(0..ALPHABET.len())])
        .collect()
}

pub(crate) fn bench_conv(i: usize, start: i64) -> Conversation {
    let client = std::net::SocketAddr::from((
        [
            10,
            1 + (i / 60000) as u8,
            ((i / 250) % 250) as u8,
            (1 + i % 250) as u8,
        ],
        (20000 + i % 40000) as u16,
    ));
    let server = std::net::SocketAddr::from(([10, 200, 0, 1], 8445));
    let mut cfg = ConvConfig::new(client, server);
    cfg.mss = 1448;
    cfg.record = false;
    cfg.isn_client = (i as u32).wrapping_mul(0x9e37_79b9);
    cfg.isn_server = (i as u32).wrapping_mul(0x85eb_ca6b);
    Conversation::new(i as u32, cfg, start)
}

/// Many concurrent TCP connections: small requests, 64 KiB responses in
/// 1448-byte segments, a duplicate and a reordering now and then.
pub fn bench_tcp(sink: &mut dyn FrameSink, cfg: &BenchConfig) -> Result<BenchStats, Error> {
    let mut rng = Rng::with_seed(cfg.seed);
    let data = pool(&mut rng, 1 << 20);
    let mut em = Emitter {
        sink,
        stats: BenchStats::default(),
        wire: Wire::ethernet(),
    };
    let mut now = START_NS;
    let mut conns: Vec<Conversation> = (0..cfg.conns.max(1))
        .map(|i| bench_conv(i, START_NS))
        .collect();
    for c in &mut conns {
        c.set_now(now);
        c.handshake();
        now = c.now();
        em.emit(&c.drain())?;
    }
    em.stats.conns = conns.len() as u64;
    let mut round = 0usize;
    while em.stats.frame_bytes < cfg.size {
        for c in &mut conns {
            c.set_now(now);
            let off = rng.usize(0..data.len() - 70_000);
            c.send(Dir::ClientToServer, &data[off..off + 200]);
            c.send(Dir::ServerToClient, &data[off..off + 65_536]);
            let mut segs = c.drain();
            if round % 50 == 7 {
                impair::duplicate(&mut segs, &mut rng, Dir::ServerToClient, 1);
                impair::reorder(&mut segs, &mut rng, Dir::ServerToClient, 1);
            }
            now = c.now();
            em.emit(&segs)?;
        }
        round += 1;
    }
    for c in &mut conns {
        c.set_now(now);
        c.close_fin(Dir::ClientToServer);
        c.close_fin(Dir::ServerToClient);
        now = c.now();
        em.emit(&c.drain())?;
    }
    Ok(em.stats)
}

/// Many concurrent TLS 1.3 (AES-128-GCM) connections: 300-byte requests,
/// 64 KiB responses in 16 KiB records. Returns the key log too.
pub fn bench_tls(
    sink: &mut dyn FrameSink,
    cfg: &BenchConfig,
) -> Result<(BenchStats, String), Error> {
    let env = TlsEnv::new(&TlsOptions::tls13(), cfg.seed)?;
    let mut rng = Rng::with_seed(cfg.seed);
    let data = pool(&mut rng, 1 << 20);
    let mut em = Emitter {
        sink,
        stats: BenchStats::default(),
        wire: Wire::ethernet(),
    };
    let mut now = START_NS;
    let mut conns = Vec::with_capacity(cfg.conns.max(1));
    for i in 0..cfg.conns.max(1) {
        let mut c = bench_conv(i, now);
        c.handshake();
        let mut s = env.connect(DOMAIN)?;
        s.forget_plaintext();
        s.handshake(&mut c)?;
        now = c.now();
        em.emit(&c.drain())?;
        conns.push((c, s));
    }
    em.stats.conns = conns.len() as u64;
    while em.stats.frame_bytes < cfg.size {
        for (c, s) in &mut conns {
            c.set_now(now);
            let off = rng.usize(0..data.len() - 70_000);
            s.send(c, Dir::ClientToServer, &data[off..off + 300], 16_384)?;
            s.send(c, Dir::ServerToClient, &data[off..off + 65_536], 16_384)?;
            now = c.now();
            em.emit(&c.drain())?;
        }
    }
    for (c, s) in &mut conns {
        c.set_now(now);
        s.close_notify(c, Dir::ClientToServer)?;
        c.close_fin(Dir::ClientToServer);
        c.close_fin(Dir::ServerToClient);
        now = c.now();
        em.emit(&c.drain())?;
    }
    Ok((em.stats, env.keylog.text()))
}

/// Many concurrent Finesse desktops over wss (TLS 1.3 AES-128-GCM,
/// permessage-deflate with context takeover): each logs in, then every
/// round gets User, Dialog and Queue notifications, an XEP-0199 ping and
/// now and then a WebSocket ping. Returns the key log too.
pub fn bench_wss(
    sink: &mut dyn FrameSink,
    cfg: &BenchConfig,
) -> Result<(BenchStats, String), Error> {
    let env = TlsEnv::new(&TlsOptions::tls13(), cfg.seed)?;
    let mut em = Emitter {
        sink,
        stats: BenchStats::default(),
        wire: Wire::ethernet(),
    };
    let mut now = START_NS;
    let mut desks = Vec::with_capacity(cfg.conns.max(1));
    for i in 0..cfg.conns.max(1) {
        let ch = Channel::open(bench_conv(i, now), Some((&env, DOMAIN)))?;
        let mut t = WsTransport::upgrade(ch, Some(DeflateParams::browser()), cfg.seed + i as u64)?;
        t.forget_truth();
        finesse::login(&mut t, DOMAIN, PASSWORD)?;
        now = t.now();
        em.emit(&t.ch.conv.drain())?;
        desks.push(t);
    }
    em.stats.conns = desks.len() as u64;
    let mut round = 0u64;
    while em.stats.frame_bytes < cfg.size {
        for (i, t) in desks.iter_mut().enumerate() {
            t.ch.conv.set_now(now);
            if cfg.varied {
                super::bench_varied::round(t, round, i, cfg.seed)?;
            } else {
                wss_round(t, round, i)?;
            }
            now = t.now();
            em.emit(&t.ch.conv.drain())?;
        }
        round += 1;
    }
    for t in &mut desks {
        t.ch.conv.set_now(now);
        finesse::ws_logout(t)?;
        t.close()?;
        now = t.now();
        em.emit(&t.ch.conv.drain())?;
    }
    Ok((em.stats, env.keylog.text()))
}

fn wss_round(t: &mut WsTransport, round: u64, i: usize) -> Result<(), Error> {
    let mut n = finesse::Notifier::new(DOMAIN);
    let node = "/finesse/api/User/1001";
    let states = ["READY", "NOT_READY", "TALKING", "WORK_READY"];
    let state = states[(round as usize + i) % states.len()];
    let stamp = format!(
        "2026-03-02T09:{:02}:{:02}.000Z",
        (round / 60) % 60,
        round % 60
    );
    n.send(
        t,
        node,
        "PUT",
        "",
        node,
        &xmpp::user(state, Some((12, "Lunch")), &stamp),
    )?;
    let dialogs = "/finesse/api/User/1001/Dialogs";
    let dialog = xmpp::dialog("dialog", "16777301", "ACTIVE", "ACTIVE");
    n.send(
        t,
        dialogs,
        "PUT",
        "",
        "/finesse/api/Dialog/16777301",
        &dialog,
    )?;
    let queue = "/finesse/api/Queue/3";
    n.send(
        t,
        queue,
        "PUT",
        "",
        queue,
        &xmpp::queue(round as u32 % 5, 2),
    )?;
    finesse::ping(t, DOMAIN, &format!("ping_{round}"))?;
    if round % 6 == 5 {
        t.keepalive()?;
    }
    t.wait(1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_tcp_reaches_its_size_in_time_order() {
        let mut frames: Vec<Frame> = Vec::new();
        let cfg = BenchConfig {
            size: 2_000_000,
            conns: 5,
            seed: 1,
            varied: false,
        };
        let stats = bench_tcp(&mut frames, &cfg).unwrap();
        assert!(stats.frame_bytes >= 2_000_000);
        assert_eq!(stats.frames, frames.len() as u64);
        assert!(frames.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
    }

    #[test]
    fn bench_tls_logs_every_connection() {
        let mut frames: Vec<Frame> = Vec::new();
        let cfg = BenchConfig {
            size: 500_000,
            conns: 3,
            seed: 1,
            varied: false,
        };
        let (stats, keylog) = bench_tls(&mut frames, &cfg).unwrap();
        assert!(stats.frame_bytes >= 500_000);
        let clients = keylog
            .lines()
            .filter(|l| l.starts_with("CLIENT_TRAFFIC_SECRET_0"));
        assert_eq!(clients.count(), 3);
    }

    #[test]
    fn bench_wss_streams_sessions() {
        let mut frames: Vec<Frame> = Vec::new();
        let cfg = BenchConfig {
            size: 300_000,
            conns: 2,
            seed: 1,
            varied: false,
        };
        let (stats, keylog) = bench_wss(&mut frames, &cfg).unwrap();
        assert!(stats.frame_bytes >= 300_000);
        assert_eq!(keylog.lines().count(), 2 * 5);
        assert!(frames.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
    }

    #[test]
    fn varied_bench_wss_streams_sessions() {
        let mut frames: Vec<Frame> = Vec::new();
        let cfg = BenchConfig {
            size: 300_000,
            conns: 2,
            seed: 1,
            varied: true,
        };
        let (stats, _) = bench_wss(&mut frames, &cfg).unwrap();
        assert!(stats.frame_bytes >= 300_000);
        assert!(frames.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
    }
}
