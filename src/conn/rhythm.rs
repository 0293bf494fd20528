//! The rhythm of a connection's records: keepalive exchanges inferred
//! from TLS record sizes and timing, counted keepalives from decrypted
//! facts, and the long silences.
//!
//! Takes, in capture order, each encrypted record's direction, frame and
//! body length (inference) or each decrypted keepalive exchange (counting);
//! gives a [`Tally`] of exchanges (count, bounded sample of intervals for
//! the median, first and last), the idle gaps, and for a role whose
//! keepalives records cannot show (BOSH) the reason no count is inferred.
//! Never keeps a per-record log: a few timestamps per direction and a
//! capped interval sample.

use super::Role;
use crate::position::{Dir, FrameRef, Timestamp};

/// Why keepalives are not inferred on a BOSH connection.
pub(crate) const BOSH_NOT_INFERABLE: &str =
    "BOSH carries pings inside HTTP polls; record sizes cannot tell them apart";

/// Why the keepalive exchanges of a connection with this (inferred) role
/// cannot be inferred from its records, if they cannot. Over BOSH
/// (XEP-0124/0206) a ping is one more stanza in a POST body: its request
/// differs from an `iq` of the login (session, bind) or a presence by a few
/// bytes of id and attributes, and its answer comes at once like every
/// request's while another one is held; an empty poll is answered at once
/// as well whenever a newer request displaces it. Neither size nor timing
/// sets a ping apart, so a count would be a guess presented as a fact.
pub(crate) fn not_inferable(role: Role) -> Option<&'static str> {
    match role {
        Role::XmppBosh => Some(BOSH_NOT_INFERABLE),
        Role::XmppWebsocket | Role::XmppTcp | Role::Rest | Role::Other => None,
    }
}

/// Silence that ends the login burst, and that a side must have kept
/// before the other side's record can be a keepalive request: a keepalive
/// is sent when nothing was heard for a while.
pub(crate) const QUIET_NS: i64 = 1_000_000_000;
/// A silence on the whole connection worth listing.
pub(crate) const IDLE_GAP_NS: i64 = 30_000_000_000;
/// Largest record body that can carry a keepalive: an XMPP ping or its
/// answer (about 100 bytes of XML, less deflated) or a WebSocket
/// ping/pong, plus the framing and AEAD overheads of DOMAIN §6.
pub(crate) const SMALL_RECORD: usize = 512;
/// The client masks its WebSocket frames (RFC 6455 §5.3): a pong echoing a
/// ping's payload is 4 bytes longer from the client than from the server.
const MASK_LEN: usize = 4;

/// How long an answer may take, from the handshake's round trip: a few
/// RTTs, never below 100 ms (the peer has to read and write) nor above 2 s;
/// 500 ms when the handshake was not captured.
pub(crate) fn reply_window_ns(rtt_ms: Option<f64>) -> i64 {
    match rtt_ms {
        Some(ms) => ((ms * 4.0 * 1e6) as i64).clamp(100_000_000, 2_000_000_000),
        None => 500_000_000,
    }
}

/// Keepalive exchanges, counted as they come.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Tally {
    pub exchanges: u64,
    pub first: Option<FrameRef>,
    pub last: Option<FrameRef>,
    /// The side that began the last exchange.
    pub last_by: Option<Dir>,
    /// Intervals between consecutive exchanges, in nanoseconds (capped).
    intervals: Vec<i64>,
}

impl Tally {
    /// One exchange that began at `at`, sent by `by`.
    pub fn add(&mut self, by: Dir, at: FrameRef, max_intervals: usize) {
        if let Some(last) = self.last {
            if self.intervals.len() < max_intervals {
                self.intervals.push(at.ts.nanos_since(last.ts).max(0));
            }
        }
        self.exchanges = self.exchanges.saturating_add(1);
        self.first = self.first.or(Some(at));
        self.last = Some(at);
        self.last_by = Some(by);
    }

    /// The median interval between exchanges, in seconds.
    pub fn median_interval_s(&self) -> Option<f64> {
        let mut sorted = self.intervals.clone();
        sorted.sort_unstable();
        let mid = sorted.len() / 2;
        let median = match sorted.len() {
            0 => return None,
            n if n % 2 == 1 => *sorted.get(mid)?,
            _ => {
                let (a, b) = (*sorted.get(mid - 1)?, *sorted.get(mid)?);
                a / 2 + b / 2
            }
        };
        Some(median as f64 / 1e9)
    }
}

/// A small record waiting for the other side's answer.
#[derive(Clone, Copy, Debug)]
struct Pending {
    dir: Dir,
    at: FrameRef,
    len: usize,
}

/// An exchange waiting to be counted.
#[derive(Clone, Copy, Debug)]
struct Unconfirmed {
    request: Pending,
    /// The answer echoed the request's size (the mask apart).
    echo: bool,
    /// The last record of the back-to-back run since the answer.
    last: Timestamp,
}

/// Infers keepalive exchanges from encrypted records: after the login
/// burst (ended by the first silence of [`QUIET_NS`]), a small record from
/// one side answered by a small record from the other within the reply
/// window. The request must come after the client was quiet for
/// [`QUIET_NS`] (or right after another exchange: an answered WebSocket
/// ping followed by the client's own XMPP ping). An exchange whose answer
/// echoes its request (the 4-byte mask apart: what a WebSocket Close
/// handshake looks like too) and is followed, record after record within
/// the reply window, by the connection's end is a closing handshake, not a
/// keepalive: it is counted only once a pause or another exchange follows.
#[derive(Debug)]
pub(crate) struct Inference {
    reply_ns: i64,
    max_intervals: usize,
    burst_over: bool,
    last_any: Option<Timestamp>,
    last_of: [Option<Timestamp>; 2],
    /// The last record on the connection answered a keepalive.
    chain: bool,
    pending: Option<Pending>,
    /// The last exchange, not counted yet: it may be a closing handshake.
    unconfirmed: Option<Unconfirmed>,
    /// The first FIN or RST.
    ended: Option<Timestamp>,
    tally: Tally,
}

impl Inference {
    pub fn new(rtt_ms: Option<f64>, max_intervals: usize) -> Inference {
        Inference {
            reply_ns: reply_window_ns(rtt_ms),
            max_intervals,
            burst_over: false,
            last_any: None,
            last_of: [None, None],
            chain: false,
            pending: None,
            unconfirmed: None,
            ended: None,
            tally: Tally::default(),
        }
    }

    /// The connection's first FIN or RST.
    pub fn on_end(&mut self, at: Timestamp) {
        self.ended.get_or_insert(at);
    }

    /// The exchanges, with the last one counted unless the end followed it
    /// within the reply window.
    pub fn tally(&self) -> Tally {
        let mut tally = self.tally.clone();
        if let Some(u) = self.unconfirmed {
            let closing = u.echo
                && self
                    .ended
                    .is_some_and(|end| end.nanos_since(u.last) <= self.reply_ns);
            if !closing {
                tally.add(u.request.dir, u.request.at, self.max_intervals);
            }
        }
        tally
    }

    /// One encrypted application record (body length `len`).
    pub fn on_record(&mut self, dir: Dir, at: FrameRef, len: usize) {
        let ts = at.ts;
        if let Some(last) = self.last_any {
            self.burst_over |= ts.nanos_since(last) >= QUIET_NS;
        }
        self.last_any = Some(ts);
        if let Some(u) = self.unconfirmed.as_mut() {
            if ts.nanos_since(u.last) <= self.reply_ns {
                u.last = ts;
            } else {
                self.confirm();
            }
        }
        if let Some(p) = self.pending.take() {
            if self.answers(&p, dir, ts, len) {
                self.confirm();
                let echo = len.abs_diff(p.len) == MASK_LEN;
                self.unconfirmed = Some(Unconfirmed {
                    request: p,
                    echo,
                    last: ts,
                });
                self.chain = true;
                if let Some(slot) = self.last_of.get_mut(dir.index()) {
                    *slot = Some(ts);
                }
                return;
            }
        }
        // A desktop pings on a timer and Openfire when its inbound is idle:
        // either way, after the client kept quiet.
        let client_quiet = self.chain
            || self
                .last_of
                .get(Dir::ClientToServer.index())
                .copied()
                .flatten()
                .is_none_or(|t| ts.nanos_since(t) >= QUIET_NS);
        if self.burst_over && len <= SMALL_RECORD && client_quiet {
            self.pending = Some(Pending { dir, at, len });
        }
        self.chain = false;
        if let Some(slot) = self.last_of.get_mut(dir.index()) {
            *slot = Some(ts);
        }
    }

    fn confirm(&mut self) {
        if let Some(u) = self.unconfirmed.take() {
            self.tally
                .add(u.request.dir, u.request.at, self.max_intervals);
        }
    }

    fn answers(&self, p: &Pending, dir: Dir, ts: Timestamp, len: usize) -> bool {
        if p.dir == dir || len > SMALL_RECORD || ts.nanos_since(p.at.ts) > self.reply_ns {
            return false;
        }
        match p.dir {
            Dir::ClientToServer => true,
            Dir::ServerToClient => len == p.len.saturating_add(MASK_LEN),
        }
    }
}

/// Silences of more than [`IDLE_GAP_NS`] on the whole connection (any
/// packet with payload counts as activity), the first `cap` of them.
#[derive(Debug, Default)]
pub(crate) struct IdleGaps {
    last: Option<FrameRef>,
    pub gaps: Vec<(FrameRef, FrameRef)>,
    pub more: u64,
}

impl IdleGaps {
    /// The last packet with payload, or FIN or RST, seen so far.
    pub fn last(&self) -> Option<FrameRef> {
        self.last
    }

    pub fn on_activity(&mut self, at: FrameRef, cap: usize) {
        if let Some(last) = self.last {
            if at.ts.nanos_since(last.ts) > IDLE_GAP_NS {
                if self.gaps.len() < cap {
                    self.gaps.push((last, at));
                } else {
                    self.more = self.more.saturating_add(1);
                }
            }
        }
        self.last = Some(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C2S: Dir = Dir::ClientToServer;
    const S2C: Dir = Dir::ServerToClient;

    fn at(frame: u64, ms: i64) -> FrameRef {
        FrameRef::new(
            frame,
            Timestamp::from_nanos_i128(i128::from(ms) * 1_000_000),
        )
    }

    /// Feeds (dir, ms, len) records; gives the exchanges' frames.
    fn infer(records: &[(Dir, i64, usize)]) -> Vec<u64> {
        let mut inference = Inference::new(Some(1.0), 16);
        let mut frames = Vec::new();
        for (i, &(dir, ms, len)) in records.iter().enumerate() {
            let before = inference.tally().exchanges;
            inference.on_record(dir, at(i as u64 + 1, ms), len);
            let tally = inference.tally();
            if tally.exchanges > before {
                frames.extend(tally.last.map(|f| f.frame));
            }
        }
        frames
    }

    fn login_burst() -> Vec<(Dir, i64, usize)> {
        (0..12)
            .map(|i| (if i % 2 == 0 { C2S } else { S2C }, i, 60))
            .collect()
    }

    #[test]
    fn exchanges_in_the_login_burst_do_not_count() {
        assert_eq!(infer(&login_burst()), Vec::<u64>::new());
    }

    #[test]
    fn a_client_ping_after_quiet_answered_at_once_is_an_exchange() {
        let mut records = login_burst();
        records.extend([(C2S, 10_000, 50), (S2C, 10_001, 40)]);
        records.extend([(C2S, 20_000, 50), (S2C, 20_001, 40)]);
        assert_eq!(infer(&records), vec![13, 15]);
    }

    #[test]
    fn a_late_or_large_answer_is_no_exchange() {
        let mut records = login_burst();
        records.extend([(C2S, 10_000, 50), (S2C, 10_900, 40)]);
        records.extend([(C2S, 20_000, 50), (S2C, 20_001, 4000)]);
        assert_eq!(infer(&records), Vec::<u64>::new());
    }

    #[test]
    fn a_server_record_counts_only_as_a_websocket_ping_with_its_pong() {
        let mut records = login_burst();
        // A notification and an unrelated client stanza.
        records.extend([(S2C, 10_000, 49), (C2S, 10_001, 38)]);
        // A WebSocket ping (1-byte payload) and the client's masked pong,
        // then the client's own XMPP ping right after.
        records.extend([(S2C, 20_000, 20), (C2S, 20_001, 24)]);
        records.extend([(C2S, 20_002, 50), (S2C, 20_003, 45)]);
        assert_eq!(infer(&records), vec![15, 17]);
    }

    #[test]
    fn closing_frames_echoed_just_before_the_end_are_no_exchange() {
        let mut records = login_burst();
        records.extend([(C2S, 10_000, 50), (S2C, 10_001, 40)]);
        // Close frames with the same code both ways, then FIN.
        records.extend([(S2C, 20_000, 21), (C2S, 20_001, 25)]);
        let mut inference = Inference::new(Some(1.0), 16);
        for (i, &(dir, ms, len)) in records.iter().enumerate() {
            inference.on_record(dir, at(i as u64 + 1, ms), len);
        }
        let mut ended = inference_clone(&inference);
        ended.on_end(at(0, 20_002).ts);
        assert_eq!(ended.tally().exchanges, 1);
        // Without the end right after, the echo counts.
        assert_eq!(inference.tally().exchanges, 2);
        inference.on_end(at(0, 30_000).ts);
        assert_eq!(inference.tally().exchanges, 2);
    }

    fn inference_clone(i: &Inference) -> Inference {
        Inference {
            pending: i.pending,
            unconfirmed: i.unconfirmed,
            tally: i.tally.clone(),
            ..Inference::new(Some(1.0), 16)
        }
    }

    #[test]
    fn only_the_record_right_after_an_exchange_continues_the_chain() {
        let mut records = login_burst();
        records.extend([(C2S, 10_000, 50), (S2C, 10_001, 40)]);
        // Presence unavailable and <close/> from the client, the server's <close/>.
        records.extend([(C2S, 10_002, 30), (C2S, 10_003, 25), (S2C, 10_004, 24)]);
        assert_eq!(infer(&records), vec![13]);
    }

    #[test]
    fn a_client_record_soon_after_its_previous_is_no_request() {
        let mut records = login_burst();
        records.extend([(C2S, 10_000, 50), (C2S, 10_100, 50), (S2C, 10_101, 40)]);
        assert_eq!(infer(&records), Vec::<u64>::new());
        // While the server pushes, the client's timer still pings.
        let mut records = login_burst();
        records.extend([(S2C, 10_000, 400), (C2S, 10_001, 50), (S2C, 10_002, 40)]);
        assert_eq!(infer(&records), vec![14]);
    }

    #[test]
    fn only_bosh_declines_and_says_why() {
        assert_eq!(not_inferable(Role::XmppBosh), Some(BOSH_NOT_INFERABLE));
        for role in [Role::XmppWebsocket, Role::XmppTcp, Role::Rest, Role::Other] {
            assert_eq!(not_inferable(role), None, "{role:?}");
        }
    }

    /// Why BOSH declines: on the records of a BOSH session (lengths of
    /// `fixtures/finesse-bosh.pcapng`, decrypted to check what each was)
    /// the rule counts an XMPP ping (457 → 305), an empty poll displaced
    /// by the next request (341 → 178), the session `iq` (465 → 286) and
    /// the terminate body (417 → 195) alike: all small, all answered at
    /// once. Only the ping is a keepalive.
    #[test]
    fn on_bosh_records_a_ping_looks_like_a_poll_an_iq_or_the_terminate() {
        let mut records = login_burst();
        records.extend([(C2S, 10_000, 457), (S2C, 10_002, 305)]);
        records.extend([(C2S, 20_000, 341), (S2C, 20_002, 178)]);
        records.extend([(C2S, 30_000, 465), (S2C, 30_002, 286)]);
        records.extend([(C2S, 40_000, 417), (S2C, 40_002, 195)]);
        assert_eq!(infer(&records), vec![13, 15, 17, 19]);
    }

    #[test]
    fn the_median_interval_and_its_cap() {
        let mut tally = Tally::default();
        for (i, s) in [0, 10, 20, 35, 45].iter().enumerate() {
            tally.add(C2S, at(i as u64, s * 1000), 3);
        }
        assert_eq!(tally.exchanges, 5);
        // Intervals kept: 10, 10, 15 (the fourth is past the cap).
        assert_eq!(tally.median_interval_s(), Some(10.0));
        assert_eq!(Tally::default().median_interval_s(), None);
        let mut two = Tally::default();
        two.add(C2S, at(1, 0), 8);
        two.add(C2S, at(2, 4000), 8);
        two.add(C2S, at(3, 10_000), 8);
        assert_eq!(two.median_interval_s(), Some(5.0));
    }

    #[test]
    fn idle_gaps_over_thirty_seconds() {
        let mut idle = IdleGaps::default();
        for (i, s) in [0, 10, 45, 46, 100, 200].iter().enumerate() {
            idle.on_activity(at(i as u64 + 1, s * 1000), 2);
        }
        let frames: Vec<(u64, u64)> = idle.gaps.iter().map(|(a, b)| (a.frame, b.frame)).collect();
        assert_eq!(frames, vec![(2, 3), (4, 5)]);
        assert_eq!(idle.more, 1);
    }

    #[test]
    fn the_reply_window_follows_the_rtt_within_bounds() {
        assert_eq!(reply_window_ns(None), 500_000_000);
        assert_eq!(reply_window_ns(Some(1.0)), 100_000_000);
        assert_eq!(reply_window_ns(Some(100.0)), 400_000_000);
        assert_eq!(reply_window_ns(Some(10_000.0)), 2_000_000_000);
    }
}
