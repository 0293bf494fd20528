//! What a connection stack does to the capture, as values: the recording
//! layer of `-j N` (`pipeline::workers`). On a worker thread the stacks run
//! against a `Wiring` that records instead of acting; every call that would
//! reach the event sink, the finding log, the kept summaries or the
//! capture-wide layer becomes one [`Op`], in the order the calls were made.
//! The merger (`pipeline::merge`) applies them to the real `Wiring`.
//!
//! Takes the stacks' calls; gives ops. Never reads anything capture-wide
//! back: what a stack would have read synchronously (a session number, the
//! Finesse stage's output about a stanza) is a placeholder the merger fills
//! in ([`Recorder::name_session`], [`Emitted::Finesse`]).

use std::borrow::Cow;

use crate::finding::Finding;
use crate::finesse::StanzaAt;
use crate::http::bosh;
use crate::position::{Dir, FrameRef};
use crate::report::event::Event;
use crate::report::model::{ConnectionReport, SessionReport};
use crate::tcp::StreamStats;
use crate::{tls, xmpp};

/// Session numbers a worker gives have this bit set; the merger replaces
/// them with the capture's numbers (real numbers never come near it).
pub(crate) const LOCAL_SESSION: u32 = 1 << 31;

/// One thing a stack said: an event, or the place where the Finesse stage's
/// events about a stanza go (computed by the merger, see
/// [`Op::FinesseStanza`]).
#[derive(Debug)]
// Nearly always an event: boxing it would add an allocation per event.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Emitted {
    Event(Event),
    Finesse(u64),
}

/// One call a stack made on the `Wiring`, recorded.
#[derive(Debug)]
pub(crate) enum Op {
    /// `Wiring::emit`.
    Emit(Event),
    /// An [`Op::Emit`] whose NDJSON line its worker rendered
    /// (`report::ndjson_lines`), when the sink takes lines: bytes `line`
    /// of the output's `lines`; the value of `session` at `session`, for
    /// the number the merger gives the local name `local`.
    Line {
        line: std::ops::Range<usize>,
        session: Option<(std::ops::Range<usize>, u32)>,
    },
    /// An [`Op::Emit`] the sink does not keep, dropped by its worker.
    Unselected,
    /// The events of the Finesse call recorded under this slot, emitted here.
    EmitFinesse(u64),
    /// A finding for the log (its event comes as an [`Op::Emit`]).
    LogFinding(Finding),
    /// A session began: the worker named it with this local number.
    StartSession(u32),
    /// `finesse::Stage::on_stanza`, its events to be kept under `slot`.
    FinesseStanza {
        slot: u64,
        at: StanzaAt,
        stanza: OwnedStanza,
    },
    /// `finesse::Stage::on_pubsub_items`, its events to be kept under
    /// `slot`; the notifications already read by the worker
    /// (`finesse::read_notifications`: pure).
    FinessePubsub {
        slot: u64,
        at: StanzaAt,
        stanza: OwnedStanza,
        read: Vec<Result<crate::finesse::Update, Finding>>,
    },
    /// `finesse::Stage::on_rest_exchange` (its findings located in the stream).
    RestExchange(OwnedRest),
    /// The BOSH events of a connection (BOSH sessions span connections:
    /// routed by the merger).
    Bosh {
        stream: u64,
        events: Vec<bosh::Event>,
    },
    /// `DecryptionTally::note`.
    TlsNote(Box<tls::Summary>),
    /// A connection's story is told (`Wiring::on_conn_summary` after its
    /// findings), once it heard the stanzas of the BOSH bodies it carried.
    Story(Box<crate::pipeline::settled::StoryEnd>),
    KeepSession(Box<SessionReport>),
    KeepConnection(Box<ConnectionReport>),
    /// A connection finished early for the budget closed (`Wiring::close_cut`).
    CloseCut {
        stream: u64,
        after: [u64; 2],
        stats: Box<StreamStats>,
    },
}

/// The ops one worker records, and the local names it gives.
#[derive(Debug)]
pub(crate) struct Recorder {
    pub ops: Vec<Op>,
    worker: u32,
    workers: u32,
    sessions: u32,
    slots: u64,
}

impl Recorder {
    /// The recorder of worker `worker` of `workers`: the names it gives are
    /// unique among all workers.
    pub fn new(worker: usize, workers: usize) -> Recorder {
        Recorder {
            ops: Vec::new(),
            worker: u32::try_from(worker).unwrap_or(0),
            workers: u32::try_from(workers.max(1)).unwrap_or(1),
            sessions: 0,
            slots: 0,
        }
    }

    /// A local session number (with [`LOCAL_SESSION`] set), recorded.
    pub fn name_session(&mut self) -> u32 {
        let n = self
            .sessions
            .wrapping_mul(self.workers)
            .wrapping_add(self.worker);
        self.sessions = self.sessions.wrapping_add(1);
        let id = LOCAL_SESSION | (n & !LOCAL_SESSION);
        self.ops.push(Op::StartSession(id));
        id
    }

    /// A slot for one Finesse call's events, unique among all workers.
    pub fn finesse_slot(&mut self) -> u64 {
        let slot = self
            .slots
            .wrapping_mul(u64::from(self.workers))
            .wrapping_add(u64::from(self.worker));
        self.slots = self.slots.wrapping_add(1);
        slot
    }
}

/// What the Finesse stage and the Update events read of a stanza, owned so
/// that it can cross threads: its place, name and addressing attributes.
/// Its summary and XML are left out (neither reads them).
#[derive(Clone, Debug)]
pub(crate) struct OwnedStanza {
    dir: Dir,
    first: FrameRef,
    last: FrameRef,
    name: String,
    kind: Option<String>,
    id: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

impl OwnedStanza {
    pub fn of(s: &xmpp::Stanza<'_>) -> OwnedStanza {
        let owned = |v: &Option<Cow<'_, str>>| v.as_deref().map(str::to_owned);
        OwnedStanza {
            dir: s.dir,
            first: s.first,
            last: s.last,
            name: s.name.to_owned(),
            kind: owned(&s.kind),
            id: owned(&s.id),
            from: owned(&s.from),
            to: owned(&s.to),
        }
    }

    pub fn view(&self) -> xmpp::Stanza<'_> {
        fn borrowed(v: &Option<String>) -> Option<Cow<'_, str>> {
            v.as_deref().map(Cow::Borrowed)
        }
        xmpp::Stanza {
            dir: self.dir,
            first: self.first,
            last: self.last,
            name: &self.name,
            kind: borrowed(&self.kind),
            id: borrowed(&self.id),
            from: borrowed(&self.from),
            to: borrowed(&self.to),
            summary: String::new(),
            raw: Cow::Borrowed(""),
        }
    }
}

/// A REST exchange as the Finesse stage reads it, owned.
#[derive(Clone, Debug)]
pub(crate) struct OwnedRest {
    stream: u64,
    request: Option<(FrameRef, String, String, Option<String>)>,
    response: Option<(FrameRef, u16, String, Option<String>)>,
}

impl OwnedRest {
    pub fn of(r: &crate::finesse::RestExchange<'_>) -> OwnedRest {
        OwnedRest {
            stream: r.stream,
            request: r.request.map(|q| {
                let id = q.request_id.map(str::to_owned);
                (q.at, q.method.to_owned(), q.path.to_owned(), id)
            }),
            response: r.response.map(|p| {
                let body = p.body.map(str::to_owned);
                (p.at, p.status, p.reason.to_owned(), body)
            }),
        }
    }

    pub fn view(&self) -> crate::finesse::RestExchange<'_> {
        crate::finesse::RestExchange {
            stream: self.stream,
            request: self.request.as_ref().map(|(at, method, path, id)| {
                crate::finesse::RestRequest {
                    at: *at,
                    method,
                    path,
                    request_id: id.as_deref(),
                }
            }),
            response: self.response.as_ref().map(|(at, status, reason, body)| {
                crate::finesse::RestResponse {
                    at: *at,
                    status: *status,
                    reason,
                    body: body.as_deref(),
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_op_is_no_bigger_than_an_event() {
        // Ops are written once on their worker and read in place by the
        // merger (`Op::Line`) or moved out once: an op carrying more than
        // an event would be a copy on every step.
        let event = std::mem::size_of::<Event>();
        assert!(std::mem::size_of::<Op>() <= event + 8, "{event}");
        assert!(std::mem::size_of::<Emitted>() <= event + 8);
        assert_eq!(std::mem::size_of::<crate::pipeline::merge::Place>(), 24);
    }

    #[test]
    fn local_names_are_unique_across_workers_and_marked() {
        let mut a = Recorder::new(0, 2);
        let mut b = Recorder::new(1, 2);
        let names = [
            a.name_session(),
            b.name_session(),
            a.name_session(),
            b.name_session(),
        ];
        let mut sorted = names.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 4);
        assert!(names.iter().all(|n| n & LOCAL_SESSION != 0));
        assert_eq!(
            (a.finesse_slot(), b.finesse_slot(), a.finesse_slot()),
            (0, 1, 2)
        );
        assert_eq!(a.ops.len(), 2, "each name is recorded");
    }
}
