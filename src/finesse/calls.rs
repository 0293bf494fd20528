//! The Finesse REST calls of a capture, kept for the agents' stories: an
//! agent's calls rarely ride the connection of its XMPP session (the
//! failover's `503` comes on a connection of its own).
//!
//! Takes complete REST exchanges to `/finesse/…`; gives typed
//! [`RestCallRecord`]s in capture order, each naming the agent its URL
//! names (`/User/<id>`) when it does. Never keeps more than
//! [`MAX_REST_CALLS`] calls (past that they are counted), each with at most
//! [`MAX_PATH_BYTES`] of its path and [`MAX_REQUEST_ID_BYTES`] of its id;
//! never keeps a header value other than `requestId`, so no credential.

use serde::Serialize;

use super::correlate::{prefix, MAX_PATH_BYTES, MAX_REQUEST_ID_BYTES};
use super::dialogs::agent_of_path;
use super::stage::RestExchange;
use crate::position::FrameRef;

/// REST calls kept per capture (a desktop makes a few per minute).
pub(crate) const MAX_REST_CALLS: usize = 65_536;

/// One REST call to Finesse.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RestCallRecord {
    /// The connection that carried it.
    pub stream: u64,
    /// The frame of the request's first byte.
    pub at: FrameRef,
    pub method: String,
    pub path: String,
    pub request_id: Option<String>,
    /// The response's status; `None` when the capture has no response.
    pub status: Option<u16>,
    /// From the request's first frame to the response's first frame.
    pub latency_ms: Option<f64>,
    /// The agent its URL names (`/finesse/api/User/1001…`).
    pub agent: Option<String>,
}

/// Every Finesse REST call, in capture order.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    calls: Vec<RestCallRecord>,
    not_kept: u64,
    /// What [`CallLog::held_bytes`] says, kept as calls are added: the
    /// budget asks often and a recount walks every call kept.
    held: usize,
}

impl CallLog {
    /// Keeps `exchange` when it is a request to `/finesse/`.
    pub(crate) fn on_exchange(&mut self, exchange: &RestExchange<'_>) {
        let Some(q) = exchange.request.as_ref() else {
            return;
        };
        if !q.path.starts_with("/finesse/") {
            return;
        }
        if self.calls.len() >= MAX_REST_CALLS {
            self.not_kept += 1;
            return;
        }
        let response = exchange.response.as_ref();
        let path = prefix(q.path, MAX_PATH_BYTES);
        let call = RestCallRecord {
            stream: exchange.stream,
            at: q.at,
            method: prefix(q.method, MAX_PATH_BYTES).to_owned(),
            path: path.to_owned(),
            request_id: q
                .request_id
                .map(|id| prefix(id, MAX_REQUEST_ID_BYTES).to_owned()),
            status: response.map(|r| r.status),
            latency_ms: response.map(|r| r.at.ts.nanos_since(q.at.ts) as f64 / 1e6),
            agent: agent_of_path(path).map(str::to_owned),
        };
        self.held += call.held_bytes();
        self.calls.push(call);
    }

    #[cfg(test)]
    pub(crate) fn calls(&self) -> &[RestCallRecord] {
        &self.calls
    }

    pub(crate) fn into_calls(self) -> Vec<RestCallRecord> {
        self.calls
    }

    pub(crate) fn not_kept(&self) -> u64 {
        self.not_kept
    }

    /// Bytes of the records held now (strings counted by length).
    pub(crate) fn held_bytes(&self) -> usize {
        self.held
    }

    /// [`CallLog::held_bytes`] counted over every record.
    #[cfg(test)]
    fn recount_held_bytes(&self) -> usize {
        self.calls.iter().map(RestCallRecord::held_bytes).sum()
    }
}

impl RestCallRecord {
    /// Its size and its strings' lengths.
    fn held_bytes(&self) -> usize {
        std::mem::size_of::<RestCallRecord>()
            + self.method.len()
            + self.path.len()
            + self.request_id.as_ref().map_or(0, String::len)
            + self.agent.as_ref().map_or(0, String::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finesse::{RestRequest, RestResponse};
    use crate::position::Timestamp;

    fn at(frame: u64, ms: u64) -> FrameRef {
        FrameRef::new(frame, Timestamp::from_secs_nanos(100, ms * 1_000_000))
    }

    fn exchange<'a>(path: &'a str, status: Option<u16>) -> RestExchange<'a> {
        RestExchange {
            stream: 1,
            request: Some(RestRequest {
                at: at(66, 0),
                method: "GET",
                path,
                request_id: Some("r-1"),
            }),
            response: status.map(|status| RestResponse {
                at: at(68, 12),
                status,
                reason: "",
                body: None,
            }),
        }
    }

    #[test]
    fn finesse_calls_are_kept_with_status_latency_and_agent() {
        let mut log = CallLog::default();
        log.on_exchange(&exchange("/finesse/api/User/1001", Some(503)));
        log.on_exchange(&exchange("/http-bind/", Some(200)));
        log.on_exchange(&exchange("/finesse/api/SystemInfo", None));
        let [user, system] = log.calls() else {
            panic!("two calls expected, got {:?}", log.calls());
        };
        assert_eq!(
            (user.status, user.latency_ms, user.agent.as_deref()),
            (Some(503), Some(12.0), Some("1001"))
        );
        assert_eq!(
            (user.request_id.as_deref(), user.at.frame),
            (Some("r-1"), 66)
        );
        assert_eq!(
            (system.status, system.latency_ms, system.agent.as_deref()),
            (None, None, None)
        );
        assert!(log.held_bytes() > 2 * std::mem::size_of::<RestCallRecord>());
        assert_eq!(log.held_bytes(), log.recount_held_bytes());
    }

    #[test]
    fn past_the_cap_calls_are_counted_and_long_paths_cut() {
        let mut log = CallLog::default();
        let long = format!("/finesse/api/User/{}", "1".repeat(5_000));
        log.on_exchange(&exchange(&long, Some(200)));
        assert_eq!(log.calls()[0].path.len(), MAX_PATH_BYTES);
        log.calls.resize(MAX_REST_CALLS, log.calls[0].clone());
        log.on_exchange(&exchange("/finesse/api/User/1001", Some(200)));
        assert_eq!((log.calls().len(), log.not_kept()), (MAX_REST_CALLS, 1));
        // A request without a request line part is not a call.
        log.on_exchange(&RestExchange {
            stream: 1,
            request: None,
            response: None,
        });
        assert_eq!(log.not_kept(), 1);
    }
}
