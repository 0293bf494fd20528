//! Matching a Finesse Update to the REST request that caused it, by the
//! `requestId` the desktop sends as a header and Finesse echoes in the
//! Update, across connections (the REST call and the XMPP session rarely
//! share one).
//!
//! Takes REST requests carrying a `requestId`, in capture order; gives, for
//! an Update, the request it echoes and the time between them. Never holds
//! more than [`MAX_PENDING_REST`] requests: past that the oldest is forgotten.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use crate::common::FrameRef;

/// REST requests remembered for `requestId` matching.
pub(crate) const MAX_PENDING_REST: usize = 4096;

/// The REST request an Update answers, and how long the Update took.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RestMatch {
    /// Frame of the request's first byte.
    pub frame: u64,
    /// The connection that carried the request.
    pub stream: u64,
    pub method: String,
    pub path: String,
    /// From the request's first frame to the Update's first frame.
    pub ms_before_update: f64,
}

/// One REST request waiting for the Update that echoes its `requestId`.
#[derive(Clone, Debug)]
struct Pending {
    at: FrameRef,
    stream: u64,
    method: String,
    path: String,
}

/// REST requests by `requestId`, oldest forgotten first.
#[derive(Debug, Default)]
pub(crate) struct RestLog {
    by_id: BTreeMap<String, Pending>,
    order: VecDeque<String>,
}

impl RestLog {
    /// Remembers a request carrying `request_id` (an empty id is not remembered).
    pub(crate) fn remember(
        &mut self,
        request_id: &str,
        at: FrameRef,
        stream: u64,
        method: &str,
        path: &str,
    ) {
        if request_id.is_empty() {
            return;
        }
        if self.by_id.len() >= MAX_PENDING_REST {
            if let Some(oldest) = self.order.pop_front() {
                self.by_id.remove(&oldest);
            }
        }
        let pending = Pending {
            at,
            stream,
            method: method.to_owned(),
            path: path.to_owned(),
        };
        if self.by_id.insert(request_id.to_owned(), pending).is_none() {
            self.order.push_back(request_id.to_owned());
        }
    }

    /// The request an Update at `update_at` echoes, with the time between them.
    pub(crate) fn find(&self, request_id: Option<&str>, update_at: FrameRef) -> Option<RestMatch> {
        let pending = self.by_id.get(request_id.filter(|r| !r.is_empty())?)?;
        Some(RestMatch {
            frame: pending.at.frame,
            stream: pending.stream,
            method: pending.method.clone(),
            path: pending.path.clone(),
            ms_before_update: update_at.ts.nanos_since(pending.at.ts) as f64 / 1e6,
        })
    }

    /// Bytes of ids, methods and paths held now.
    pub(crate) fn held_bytes(&self) -> usize {
        let pending: usize = self
            .by_id
            .iter()
            .map(|(id, p)| id.len() + p.method.len() + p.path.len())
            .sum();
        let order: usize = self.order.iter().map(String::len).sum();
        pending + order
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Timestamp;

    fn at(frame: u64, ms: i64) -> FrameRef {
        FrameRef::new(
            frame,
            Timestamp::from_secs_nanos(100, (ms * 1_000_000) as u64),
        )
    }

    #[test]
    fn an_update_finds_its_request_with_the_latency() {
        let mut log = RestLog::default();
        log.remember("r-1", at(10, 0), 3, "PUT", "/finesse/api/User/1001");
        let m = log.find(Some("r-1"), at(12, 250)).unwrap();
        assert_eq!((m.frame, m.stream, m.ms_before_update), (10, 3, 250.0));
        assert_eq!(m.path, "/finesse/api/User/1001");
        assert!(log.find(Some("r-2"), at(12, 250)).is_none());
        assert!(log.find(Some(""), at(12, 250)).is_none());
        assert!(log.find(None, at(12, 250)).is_none());
    }

    #[test]
    fn empty_ids_are_not_remembered_and_the_oldest_goes_first() {
        let mut log = RestLog::default();
        log.remember("", at(1, 0), 0, "PUT", "/x");
        assert_eq!((log.len(), log.held_bytes()), (0, 0));
        for i in 0..=MAX_PENDING_REST {
            log.remember(&format!("r-{i}"), at(i as u64, 0), 0, "PUT", "/x");
        }
        assert_eq!(log.len(), MAX_PENDING_REST);
        assert!(log.find(Some("r-0"), at(1, 0)).is_none());
        assert!(log.find(Some("r-1"), at(1, 0)).is_some());
        let one = "r-1".len() * 2 + "PUT".len() + "/x".len();
        assert!(log.held_bytes() >= MAX_PENDING_REST * one);
    }
}
