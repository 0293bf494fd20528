//! A TCP conversation model: two endpoints, initial sequence numbers, an
//! MSS and a clock, producing the segments a capture point between them
//! would see.
//!
//! Takes application bytes per direction; gives [`Segment`]s with
//! timestamps, sequence and acknowledgement numbers (wrapping), peer ACKs
//! every `ack_every` segments, FIN and RST teardown, keep-alives and
//! zero-window probes. Never renders packets (see `wire`) and never
//! impairs (see `impair`): it is the clean truth those start from.

use std::net::SocketAddr;

use crate::Dir;

/// One TCP segment as the model sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// The conversation it belongs to (index given by the fixture builder).
    pub conv: u32,
    /// Direction relative to the client.
    pub dir: Dir,
    /// Sender address.
    pub src: SocketAddr,
    /// Receiver address.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number, if the ACK flag is set.
    pub ack: Option<u32>,
    /// SYN flag.
    pub syn: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
    /// PSH flag.
    pub psh: bool,
    /// Advertised window.
    pub window: u16,
    /// MSS option (SYN segments only).
    pub mss: Option<u16>,
    /// IPv4 identification.
    pub ip_id: u16,
    /// Offset of the payload's first byte in its direction's byte stream.
    pub stream_off: u64,
    /// The payload.
    pub payload: Vec<u8>,
    /// Send as IPv4 fragments with this much IP payload each (multiple of 8).
    pub fragment: Option<usize>,
}

/// How a conversation behaves.
#[derive(Clone, Copy, Debug)]
pub struct ConvConfig {
    /// The side that sends the SYN.
    pub client: SocketAddr,
    /// The side that listens.
    pub server: SocketAddr,
    /// Client initial sequence number.
    pub isn_client: u32,
    /// Server initial sequence number.
    pub isn_server: u32,
    /// Largest payload per segment.
    pub mss: usize,
    /// Round-trip time: a peer's ACK arrives `rtt_ns / 2` after the data.
    pub rtt_ns: i64,
    /// Time between two back-to-back segments of one flight.
    pub gap_ns: i64,
    /// The receiver ACKs every this many data segments (and the last one).
    pub ack_every: usize,
    /// Keep a copy of every byte sent (the truth); off for benchmarks.
    pub record: bool,
}

impl ConvConfig {
    /// A LAN conversation: MSS 1460, RTT 400 µs, ACK every 2 segments.
    pub fn new(client: SocketAddr, server: SocketAddr) -> ConvConfig {
        ConvConfig {
            client,
            server,
            isn_client: 0x1000_0000,
            isn_server: 0x7000_0000,
            mss: 1460,
            rtt_ns: 400_000,
            gap_ns: 12_000,
            ack_every: 2,
            record: true,
        }
    }
}

/// A TCP connection being played out.
#[derive(Debug)]
pub struct Conversation {
    cfg: ConvConfig,
    id: u32,
    now: i64,
    next: [u32; 2],
    sent: [u64; 2],
    ip_id: [u16; 2],
    window: [u16; 2],
    data: [Vec<u8>; 2],
    out: Vec<Segment>,
}

impl Conversation {
    /// A connection that has not opened yet; its clock starts at `start_ns`.
    pub fn new(id: u32, cfg: ConvConfig, start_ns: i64) -> Conversation {
        Conversation {
            cfg,
            id,
            now: start_ns,
            next: [cfg.isn_client, cfg.isn_server],
            sent: [0, 0],
            ip_id: [0x1f00u16.wrapping_add((id as u16).wrapping_mul(97)), 0x4a00],
            window: [64_240, 65_160],
            data: [Vec::new(), Vec::new()],
            out: Vec::new(),
        }
    }

    /// The conversation's id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Its configuration.
    pub fn config(&self) -> &ConvConfig {
        &self.cfg
    }

    /// The current time of this conversation's clock.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Moves the clock to `ns` (never backwards).
    pub fn set_now(&mut self, ns: i64) {
        self.now = self.now.max(ns);
    }

    /// Moves the clock forward.
    pub fn advance(&mut self, ns: i64) {
        self.now += ns.max(0);
    }

    /// Every byte sent so far in `dir` (empty unless `record`).
    pub fn data(&self, dir: Dir) -> &[u8] {
        &self.data[dir.index()]
    }

    /// Bytes sent so far in `dir`.
    pub fn sent(&self, dir: Dir) -> u64 {
        self.sent[dir.index()]
    }

    /// SYN, SYN-ACK, ACK. Sequence numbers then start at ISN + 1.
    pub fn handshake(&mut self) {
        let s = Dir::ServerToClient;
        let syn = self.syn();
        self.push(syn);
        self.next[0] = self.next[0].wrapping_add(1);
        self.now += self.cfg.rtt_ns / 2;
        let mut syn_ack = self.segment(s, Vec::new());
        syn_ack.syn = true;
        syn_ack.mss = Some(self.cfg.mss as u16);
        self.push(syn_ack);
        self.next[1] = self.next[1].wrapping_add(1);
        self.now += self.cfg.rtt_ns / 2;
        let ack = self.segment(Dir::ClientToServer, Vec::new());
        self.push(ack);
        self.now += self.cfg.gap_ns;
    }

    /// A connection attempt the server's host refuses (nothing listens on
    /// the port): the SYN is answered by a RST-ACK (sequence 0, as Linux
    /// sends it, acknowledging the SYN), never by a SYN-ACK.
    pub fn syn_refused(&mut self) {
        let syn = self.syn();
        self.push(syn);
        self.now += self.cfg.rtt_ns / 2;
        let mut rst = self.segment(Dir::ServerToClient, Vec::new());
        rst.rst = true;
        rst.seq = 0;
        rst.ack = Some(self.cfg.isn_client.wrapping_add(1));
        rst.window = 0;
        self.push(rst);
        self.now += self.cfg.gap_ns;
    }

    /// A connection attempt nobody answers (a firewall drops it, or the
    /// host is down): the SYN and `retries` retransmissions of it, the
    /// retransmission timeout doubling from `rto_ns` (RFC 6298 backoff).
    pub fn syn_unanswered(&mut self, retries: u32, rto_ns: i64) {
        let mut rto = rto_ns;
        for _ in 0..=retries {
            let syn = self.syn();
            self.push(syn);
            self.now += rto;
            rto = rto.saturating_mul(2);
        }
    }

    /// The client's SYN (its sequence number is the ISN; not advanced here).
    fn syn(&mut self) -> Segment {
        let mut syn = self.segment(Dir::ClientToServer, Vec::new());
        syn.syn = true;
        syn.ack = None;
        syn.mss = Some(self.cfg.mss as u16);
        syn
    }

    /// Sends `bytes` in `dir`, cut into MSS-sized segments, each flight
    /// acknowledged by the peer; the clock ends after the last ACK.
    pub fn send(&mut self, dir: Dir, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let chunks: Vec<&[u8]> = bytes.chunks(self.cfg.mss.max(1)).collect();
        let last = chunks.len() - 1;
        let mut last_ack = self.now;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let mut seg = self.segment(dir, chunk.to_vec());
            seg.psh = i == last;
            self.push(seg);
            self.advance_seq(dir, chunk);
            let due = (i + 1) % self.cfg.ack_every.max(1) == 0 || i == last;
            if due {
                let at = self.now + self.cfg.rtt_ns / 2;
                let ack = self.segment_at(dir.flip(), Vec::new(), at);
                self.push(ack);
                last_ack = at;
            }
            self.now += self.cfg.gap_ns;
        }
        self.now = self.now.max(last_ack) + self.cfg.gap_ns;
    }

    /// Sends a FIN in `dir`; the peer ACKs it.
    pub fn close_fin(&mut self, dir: Dir) {
        let mut fin = self.segment(dir, Vec::new());
        fin.fin = true;
        self.push(fin);
        let i = dir.index();
        self.next[i] = self.next[i].wrapping_add(1);
        self.now += self.cfg.rtt_ns / 2;
        let ack = self.segment(dir.flip(), Vec::new());
        self.push(ack);
        self.now += self.cfg.gap_ns;
    }

    /// Sends a RST (with ACK) in `dir`.
    pub fn rst(&mut self, dir: Dir) {
        let mut rst = self.segment(dir, Vec::new());
        rst.rst = true;
        self.push(rst);
        self.now += self.cfg.gap_ns;
    }

    /// A keep-alive from `dir` (sequence number one below the next, no
    /// payload, as Linux sends it) and the peer's ACK.
    pub fn keepalive(&mut self, dir: Dir) {
        let mut probe = self.segment(dir, Vec::new());
        probe.seq = probe.seq.wrapping_sub(1);
        self.push(probe);
        self.now += self.cfg.rtt_ns / 2;
        let ack = self.segment(dir.flip(), Vec::new());
        self.push(ack);
        self.now += self.cfg.gap_ns;
    }

    /// The peer of `dir` closes its window; `dir` probes it with the first
    /// byte of `next` (not accepted), the peer reopens, then `next` is sent.
    pub fn zero_window_then_send(&mut self, dir: Dir, next: &[u8]) {
        let peer = dir.flip();
        self.window[peer.index()] = 0;
        let zero = self.segment(peer, Vec::new());
        self.push(zero);
        self.now += self.cfg.rtt_ns;
        if let Some(first) = next.first() {
            let probe = self.segment(dir, vec![*first]);
            self.push(probe);
            self.now += self.cfg.rtt_ns / 2;
            let still_zero = self.segment(peer, Vec::new());
            self.push(still_zero);
            self.now += self.cfg.rtt_ns;
        }
        self.window[peer.index()] = 65_160;
        let update = self.segment(peer, Vec::new());
        self.push(update);
        self.now += self.cfg.rtt_ns / 2;
        self.send(dir, next);
    }

    /// Takes the segments produced so far, in capture-time order.
    pub fn drain(&mut self) -> Vec<Segment> {
        let mut out = std::mem::take(&mut self.out);
        out.sort_by_key(|s| s.ts_ns);
        out
    }

    fn advance_seq(&mut self, dir: Dir, chunk: &[u8]) {
        let i = dir.index();
        self.next[i] = self.next[i].wrapping_add(chunk.len() as u32);
        self.sent[i] += chunk.len() as u64;
        if self.cfg.record {
            self.data[i].extend_from_slice(chunk);
        }
    }

    fn segment(&mut self, dir: Dir, payload: Vec<u8>) -> Segment {
        let at = self.now;
        self.segment_at(dir, payload, at)
    }

    fn segment_at(&mut self, dir: Dir, payload: Vec<u8>, ts_ns: i64) -> Segment {
        let i = dir.index();
        let (src, dst) = match dir {
            Dir::ClientToServer => (self.cfg.client, self.cfg.server),
            Dir::ServerToClient => (self.cfg.server, self.cfg.client),
        };
        self.ip_id[i] = self.ip_id[i].wrapping_add(1);
        Segment {
            ts_ns,
            conv: self.id,
            dir,
            src,
            dst,
            seq: self.next[i],
            ack: Some(self.next[1 - i]),
            syn: false,
            fin: false,
            rst: false,
            psh: false,
            window: self.window[i],
            mss: None,
            ip_id: self.ip_id[i],
            stream_off: self.sent[i],
            payload,
            fragment: None,
        }
    }

    fn push(&mut self, seg: Segment) {
        self.out.push(seg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv() -> Conversation {
        let cfg = ConvConfig {
            mss: 10,
            isn_client: u32::MAX - 5,
            ..ConvConfig::new(
                "10.0.0.1:40000".parse().unwrap(),
                "10.0.0.2:5222".parse().unwrap(),
            )
        };
        Conversation::new(0, cfg, 0)
    }

    #[test]
    fn handshake_data_and_fin_are_consistent() {
        let mut c = conv();
        c.handshake();
        c.send(Dir::ClientToServer, &[7u8; 25]);
        c.send(Dir::ServerToClient, b"ok");
        c.close_fin(Dir::ClientToServer);
        let segs = c.drain();
        assert!(segs.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
        assert!(segs[0].syn && segs[0].ack.is_none());
        assert_eq!(segs[1].ack, Some(u32::MAX - 4));
        let data: Vec<_> = segs
            .iter()
            .filter(|s| s.dir == Dir::ClientToServer && !s.payload.is_empty())
            .collect();
        assert_eq!(data.len(), 3);
        // The sequence space wraps inside the second segment's range.
        assert_eq!(data[1].seq, 5);
        assert_eq!(data[2].stream_off, 20);
        assert_eq!(c.data(Dir::ClientToServer).len(), 25);
        let fin = segs.iter().find(|s| s.fin).unwrap();
        assert_eq!(fin.seq, 25u32.wrapping_add(u32::MAX - 4));
        let last = segs.last().unwrap();
        assert_eq!(last.ack, Some(fin.seq.wrapping_add(1)));
    }

    #[test]
    fn a_refused_attempt_is_a_syn_and_a_rst_ack_of_it() {
        let mut c = conv();
        c.syn_refused();
        let segs = c.drain();
        assert_eq!(segs.len(), 2);
        assert!(segs[0].syn && !segs[0].rst && segs[0].ack.is_none());
        assert_eq!(segs[1].dir, Dir::ServerToClient);
        assert!(segs[1].rst && !segs[1].syn);
        assert_eq!(segs[1].ack, Some(segs[0].seq.wrapping_add(1)));
    }

    #[test]
    fn an_unanswered_attempt_retransmits_its_syn_with_backoff() {
        let mut c = conv();
        c.syn_unanswered(3, 1_000);
        let segs = c.drain();
        assert_eq!(segs.len(), 4);
        assert!(segs.iter().all(|s| s.syn && s.dir == Dir::ClientToServer));
        assert!(segs.iter().all(|s| s.seq == segs[0].seq));
        let times: Vec<i64> = segs.iter().map(|s| s.ts_ns).collect();
        assert_eq!(times, [0, 1_000, 3_000, 7_000]);
    }

    #[test]
    fn every_data_segment_is_acknowledged() {
        let mut c = conv();
        c.handshake();
        c.send(Dir::ServerToClient, &[1u8; 95]);
        let segs = c.drain();
        let top = segs
            .iter()
            .filter(|s| s.dir == Dir::ClientToServer)
            .filter_map(|s| s.ack)
            .max_by_key(|a| a.wrapping_sub(0x7000_0000));
        assert_eq!(top, Some(0x7000_0001 + 95));
    }
}
