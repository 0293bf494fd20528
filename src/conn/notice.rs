//! What the connection story finds worth saying about one connection:
//! a notification connection reset, a keepalive rhythm that stopped, a
//! side that went silent, a failed handshake, a bad certificate.
//!
//! Takes a finished [`Summary`], the longest one-sided [`Silence`] and the
//! handshake facts; gives findings that name the frames proving them and
//! say what was seen and what inferred. Never raises above `info` what
//! rests on an inferred role alone.

use crate::finding::{Finding, Level};
use crate::position::{Dir, FrameRef};
use crate::tls;

use super::FindingCode;
use super::{Basis, EndHow, Role, Side, Summary};

/// How long the client's records may go unanswered: two missed answers to
/// a Finesse desktop's pings (every 10 s, 10 s timeout).
const CLIENT_UNANSWERED_NS: i64 = 20_000_000_000;
/// On BOSH the server holds a request up to `wait` seconds before answering
/// (CAXL asks 30, Strophe 60; DOMAIN §1): a client record unanswered for
/// less than the longest `wait` is a held poll, and there is no ping rhythm
/// to time the silence against.
const BOSH_UNANSWERED_NS: i64 = 60_000_000_000;
/// How long the server may push with no word from the client: beyond the
/// longest keepalive interval a desktop or Openfire uses (about 60 s).
const SERVER_UNANSWERED_NS: i64 = 60_000_000_000;
/// A rhythm stopped when the silence after its last exchange exceeds
/// three intervals and at least this much.
const STOPPED_MIN_NS: i64 = 10_000_000_000;

/// One side's run of application records with none from the other side:
/// the first and last record, and how many.
type Run = (FrameRef, FrameRef, u64);

/// Per sender, the longest stretch in which it sent application records
/// and the other side none, streaming; whether it was too long depends on
/// the connection's role, known only at the end.
#[derive(Clone, Debug, Default)]
pub(crate) struct Silence {
    /// Per sender: its current unanswered run.
    run: [Option<Run>; 2],
    /// Per sender: its longest run of at least two records.
    longest: [Option<Run>; 2],
}

fn span_ns((first, last, _): Run) -> i64 {
    last.ts.nanos_since(first.ts)
}

impl Silence {
    pub fn on_record(&mut self, dir: Dir, at: FrameRef) {
        if let Some(other) = self.run.get_mut(dir.flip().index()) {
            *other = None;
        }
        let Some(run) = self.run.get_mut(dir.index()) else {
            return;
        };
        let (first, _, n) = run.unwrap_or((at, at, 0));
        let current = (first, at, n.saturating_add(1));
        *run = Some(current);
        if let Some(longest) = self.longest.get_mut(dir.index()) {
            if current.2 >= 2 && longest.is_none_or(|l| span_ns(current) > span_ns(l)) {
                *longest = Some(current);
            }
        }
    }

    /// The longest run past its sender's timeout on a connection of
    /// `role`, with its sender.
    fn worst(&self, role: Role) -> Option<(Dir, Run)> {
        [Dir::ClientToServer, Dir::ServerToClient]
            .into_iter()
            .filter_map(|dir| {
                let run = self.longest.get(dir.index()).copied().flatten()?;
                (span_ns(run) > unanswered_ns(dir, role)).then_some((dir, run))
            })
            .max_by_key(|&(_, run)| span_ns(run))
    }
}

/// How long `dir`'s records may go unanswered on a connection of `role`.
fn unanswered_ns(dir: Dir, role: Role) -> i64 {
    match (dir, role) {
        (Dir::ClientToServer, Role::XmppBosh) => BOSH_UNANSWERED_NS,
        (Dir::ClientToServer, _) => CLIENT_UNANSWERED_NS,
        (Dir::ServerToClient, _) => SERVER_UNANSWERED_NS,
    }
}

/// What the tracker saw besides the summary, for the findings.
pub(crate) struct Evidence<'a> {
    pub silence: &'a Silence,
    pub client_hello: Option<FrameRef>,
    pub server_hello: bool,
    pub certificate_at: Option<FrameRef>,
    /// Each side's last application record.
    pub last_record: [Option<FrameRef>; 2],
    /// The side that began the last keepalive exchange.
    pub pinger: Option<Dir>,
    pub tls: Option<&'a tls::Summary>,
}

/// Every finding about the finished connection `s`.
pub(crate) fn findings(s: &Summary, e: &Evidence<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(reset(s));
    out.extend(keepalive_stopped(s, e));
    out.extend(peer_silent(s, e.silence));
    out.extend(handshake_failed(s, e));
    out.extend(certificate(s, e.certificate_at));
    out.into_iter()
        .map(|f| f.in_stream(s.stream, None))
        .collect()
}

fn side_word(side: Option<Side>) -> &'static str {
    match side {
        Some(Side::Client) => "the client",
        Some(Side::Server) => "the server",
        None => "neither side",
    }
}

fn role_words(s: &Summary) -> String {
    let role = serde_json::to_value(s.role)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    match s.role_basis {
        Basis::Decrypted => format!("{role} (seen decrypted)"),
        Basis::Inferred => format!("{role} (inferred: {})", s.role_reasons.join(", ")),
    }
}

fn at(frame: Option<u64>, time: Option<crate::position::Timestamp>) -> Option<FrameRef> {
    Some(FrameRef::new(frame?, time?))
}

/// A notification connection ended by a RST.
fn reset(s: &Summary) -> Option<Finding> {
    let notification = matches!(s.role, Role::XmppWebsocket | Role::XmppBosh | Role::XmppTcp);
    if !notification || s.ended.how != EndHow::Rst {
        return None;
    }
    let established = s.c2s.payload_bytes > 0 && s.s2c.payload_bytes > 0;
    let by_server = s.ended.by == Some(Side::Server);
    let seen = s.role_basis == Basis::Decrypted;
    let level = if seen || (by_server && established) {
        Level::Warn
    } else {
        Level::Info
    };
    let frame = s.ended.frame.unwrap_or_default();
    let why = match (seen, by_server && established) {
        (true, _) => "the role is seen decrypted",
        (false, true) => "seen: the RST came from the server's address after traffic both ways",
        (false, false) => "the role is only inferred",
    };
    let message = format!(
        "{} connection reset by {} at frame {frame}, {:.1} s after it opened; {why}",
        role_words(s),
        side_word(s.ended.by),
        s.duration_s,
    );
    let f = Finding::new(FindingCode::Reset, message).with_level(level);
    Some(match at(s.ended.frame, s.ended.time) {
        Some(a) => f.at(a),
        None => f,
    })
}

/// The keepalive rhythm stopped well before the end.
fn keepalive_stopped(s: &Summary, e: &Evidence<'_>) -> Option<Finding> {
    let k = &s.keepalive;
    // A declined count (`None`) has no rhythm that could stop.
    let (exchanges, interval, last_time) = (k.exchanges?, k.interval_s?, k.last_time?);
    if exchanges < 2 || interval <= 0.0 {
        return None;
    }
    let end = s
        .ended
        .time
        .unwrap_or(last_time)
        .max(crate::position::Timestamp::from_nanos_i128(
            i128::from(s.first.ts.as_nanos()) + (s.duration_s * 1e9) as i128,
        ));
    let quiet_ns = end.nanos_since(last_time);
    let limit = ((interval * 3.0 * 1e9) as i64).max(STOPPED_MIN_NS);
    if quiet_ns <= limit {
        return None;
    }
    let basis = match k.basis {
        Basis::Decrypted => "seen decrypted",
        Basis::Inferred => "inferred from record sizes and timing",
    };
    let ending = match s.ended.how {
        EndHow::Open => "the capture ended".to_owned(),
        EndHow::NotFollowed => "the analysis stopped following the connection".to_owned(),
        how => format!("the connection ended ({})", end_word(how)),
    };
    let message = format!(
        "keepalive stopped {:.1} s before {ending}: {} exchanges every {interval:.1} s, the last at frame {} ({basis}); {}",
        quiet_ns as f64 / 1e9,
        exchanges,
        k.last_frame.unwrap_or_default(),
        quiet_side(e, last_time),
    );
    let f = Finding::new(FindingCode::KeepaliveStopped, message);
    Some(match at(k.last_frame, k.last_time) {
        Some(a) => f.at(a),
        None => f,
    })
}

fn end_word(how: EndHow) -> &'static str {
    match how {
        EndHow::Fin => "FIN",
        EndHow::Rst => "RST",
        EndHow::Refused => "refused",
        EndHow::NoAnswer => "no answer",
        EndHow::Open => "open",
        EndHow::NotFollowed => "not followed",
    }
}

/// Which side went quiet: the side that pinged, unless it went on
/// sending after the last exchange (then the other stopped answering).
fn quiet_side(e: &Evidence<'_>, last_exchange: crate::position::Timestamp) -> String {
    let Some(pinger) = e.pinger else {
        return "which side went quiet is not known".to_owned();
    };
    let pinger_last = e.last_record.get(pinger.index()).copied().flatten();
    let kept_sending =
        pinger_last.is_some_and(|l| l.ts.nanos_since(last_exchange) > STOPPED_MIN_NS);
    let (p, other) = (pinger.side(), pinger.flip().side());
    match (kept_sending, pinger_last) {
        (true, Some(l)) => format!(
            "the {p} went on sending (last record frame {}), the {other} stopped answering",
            l.frame
        ),
        _ => format!("the {p}, which pinged, went quiet"),
    }
}

/// One side's records unanswered for longer than a keepalive timeout.
fn peer_silent(s: &Summary, silence: &Silence) -> Option<Finding> {
    let (dir, (first, last, n)) = silence.worst(s.role)?;
    let (talker, silent) = match dir {
        Dir::ClientToServer => ("client", "server"),
        Dir::ServerToClient => ("server", "client"),
    };
    let basis = if s.role_basis == Basis::Decrypted {
        "records seen; the connection was decrypted"
    } else {
        "records seen; what they carried is not known"
    };
    let message = format!(
        "the {silent} sent nothing for {:.1} s while the {talker} sent {n} records (frames {}–{}; {basis})",
        last.ts.secs_since(first.ts),
        first.frame,
        last.frame,
    );
    Some(Finding::new(FindingCode::PeerSilent, message).at(first))
}

/// An alert in clear during the handshake, or no ServerHello.
fn handshake_failed(s: &Summary, e: &Evidence<'_>) -> Option<Finding> {
    let hello = e.client_hello?;
    let tls = e.tls?;
    let server_hello = e.server_hello;
    let fatal = tls
        .alerts
        .iter()
        .find(|a| !a.encrypted && a.level == "fatal");
    let sni = s
        .sni
        .as_deref()
        .map_or(String::new(), |n| format!(" (SNI {n})"));
    let (message, frame) = match (fatal, server_hello) {
        (Some(a), _) => (
            format!(
                "TLS handshake failed{sni}: fatal {} alert from the {} in clear at frame {}",
                a.description,
                a.dir.side(),
                a.frame
            ),
            a.frame,
        ),
        // Cut by the budget before a ServerHello: it may yet have come.
        (None, false) if s.ended.how == EndHow::NotFollowed => return None,
        (None, false) => (
            format!(
                "TLS handshake failed{sni}: the ClientHello at frame {} got no ServerHello before the connection {}",
                hello.frame,
                match s.ended.how {
                    EndHow::Open => "or the capture ended".to_owned(),
                    how => format!("ended ({})", end_word(how)),
                }
            ),
            hello.frame,
        ),
        (None, true) => return None,
    };
    let f = Finding::new(FindingCode::HandshakeFailed, message);
    Some(if frame == hello.frame {
        f.at(hello)
    } else {
        f.at(FrameRef::new(frame, hello.ts))
    })
}

/// An expired, not yet valid or misnamed certificate, seen.
fn certificate(s: &Summary, at: Option<FrameRef>) -> Option<Finding> {
    let cert = s.tls.as_ref()?.certificate.as_ref()?;
    let mut problems = Vec::new();
    match cert.validity {
        Some("expired") => problems.push(format!(
            "expired on {} (the capture is later)",
            cert.not_after.as_deref().unwrap_or("?")
        )),
        Some("not_yet_valid") => problems.push(format!(
            "not valid before {} (the capture is earlier)",
            cert.not_before.as_deref().unwrap_or("?")
        )),
        _ => {}
    }
    if cert.name_mismatch {
        problems.push(format!(
            "does not name the SNI {} (subject {}, SANs {})",
            s.sni.as_deref().unwrap_or("?"),
            cert.subject.as_deref().unwrap_or("?"),
            if cert.sans.is_empty() {
                "none".to_owned()
            } else {
                cert.sans.join(", ")
            }
        ));
    }
    if problems.is_empty() {
        return None;
    }
    let seen = if cert.encrypted {
        "seen decrypted"
    } else {
        "seen in clear"
    };
    let message = format!(
        "the certificate of {} {} ({seen})",
        s.server,
        problems.join("; ")
    );
    Some(Finding::new(FindingCode::Certificate, message).at(at.unwrap_or(s.first)))
}
