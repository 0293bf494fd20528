//! Matching a Finesse Update to the REST request that caused it, by the
//! `requestId` the desktop sends as a header and Finesse echoes in the
//! Update, across connections (the REST call and the XMPP session rarely
//! share one).
//!
//! Takes REST requests carrying a `requestId`, in capture order; gives, for
//! an Update, the request it echoes and the time between them. Never holds
//! more than [`MAX_PENDING_REST`] requests (past that the oldest is
//! forgotten), each with at most [`MAX_REQUEST_ID_BYTES`] of its id and
//! [`MAX_PATH_BYTES`] of its path: 4,096 requests with 60 KB ids would
//! otherwise hold half a gigabyte.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use crate::position::FrameRef;

/// REST requests remembered for `requestId` matching.
pub(crate) const MAX_PENDING_REST: usize = 4096;
/// Bytes of a `requestId` kept as its key; Finesse desktops send a UUID (36).
pub(crate) const MAX_REQUEST_ID_BYTES: usize = 256;
/// Bytes of a request's path kept to name it.
pub(crate) const MAX_PATH_BYTES: usize = 1024;

/// What remembering a request had to cut.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cut {
    /// The id was longer than [`MAX_REQUEST_ID_BYTES`]: it is matched on its start.
    pub(crate) id_len: Option<usize>,
}

/// The first `max` bytes of `text`, at a character boundary.
pub(crate) fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

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
    /// Remembers a request carrying `request_id` (an empty id is not
    /// remembered); says what had to be cut.
    pub(crate) fn remember(
        &mut self,
        request_id: &str,
        at: FrameRef,
        stream: u64,
        method: &str,
        path: &str,
    ) -> Cut {
        if request_id.is_empty() {
            return Cut::default();
        }
        let key = prefix(request_id, MAX_REQUEST_ID_BYTES);
        let cut = Cut {
            id_len: (key.len() < request_id.len()).then_some(request_id.len()),
        };
        if self.by_id.len() >= MAX_PENDING_REST {
            if let Some(oldest) = self.order.pop_front() {
                self.by_id.remove(&oldest);
            }
        }
        let pending = Pending {
            at,
            stream,
            method: prefix(method, MAX_PATH_BYTES).to_owned(),
            path: prefix(path, MAX_PATH_BYTES).to_owned(),
        };
        if self.by_id.insert(key.to_owned(), pending).is_none() {
            self.order.push_back(key.to_owned());
        }
        cut
    }

    /// The request an Update at `update_at` echoes, with the time between them.
    pub(crate) fn find(&self, request_id: Option<&str>, update_at: FrameRef) -> Option<RestMatch> {
        let id = request_id.filter(|r| !r.is_empty())?;
        let pending = self.by_id.get(prefix(id, MAX_REQUEST_ID_BYTES))?;
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
    use crate::position::Timestamp;

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

    #[test]
    fn long_ids_and_paths_are_cut_and_still_matched_on_their_start() {
        let mut log = RestLog::default();
        // 60 KB ids, as an abusive client sends them: what is held stays small.
        for i in 0..64 {
            let id = format!("{i:04}{}", "é".repeat(30_000));
            let path = format!("/finesse/api/User/{}", "p".repeat(70_000));
            let cut = log.remember(&id, at(i, 0), 0, "PUT", &path);
            assert_eq!(cut.id_len, Some(id.len()));
        }
        assert!(log.held_bytes() <= 64 * (2 * MAX_REQUEST_ID_BYTES + 3 + MAX_PATH_BYTES));
        let id = format!("0007{}", "é".repeat(30_000));
        let m = log.find(Some(&id), at(9, 5)).unwrap();
        assert_eq!((m.frame, m.path.len()), (7, MAX_PATH_BYTES));
        // A short id is kept whole and says nothing was cut.
        let cut = log.remember("r-1", at(1, 0), 0, "PUT", "/x");
        assert_eq!(cut, Cut::default());
        // The cut falls on a character boundary.
        assert_eq!(prefix("aé", 2), "a");
    }
}
