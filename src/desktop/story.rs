//! The capture-wide desktop stage: groups connection summaries per desktop
//! (client address) and tells what happened across them.
//!
//! Takes each connection's [`Summary`] as it ends, with the user of the XMPP
//! session it carried when that was decrypted; gives findings as it goes and
//! at [`Story::finish`], and one [`Desktop`] per client address for the
//! report. Holds per desktop the list the report shows (capped by
//! `max_desktop_connections`), one chain per user and the open attempt runs;
//! never reads payload and never re-decides a connection's role.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::conn::{Basis, EndHow, Role, Summary};
use crate::finding::{Finding, Findings};
use crate::limits::Limits;
use crate::position::Timestamp;

use super::attempts::Attempts;
use super::chain::{end_of, node_of, Chain, Who};
use super::model::{Desktop, DesktopConnection, Node, RestTraffic};
use super::FindingCode;

/// What a connection is to the desktop story.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Refused or never answered: it never opened.
    Attempt,
    /// A notification channel (XMPP over WebSocket, BOSH or TCP).
    Notification,
    Rest,
    /// Anything else: not part of the story.
    Other,
}

fn kind_of(s: &Summary) -> Kind {
    match (s.ended.how, s.role) {
        (EndHow::Refused | EndHow::NoAnswer, _) => Kind::Attempt,
        (_, Role::XmppWebsocket | Role::XmppBosh | Role::XmppTcp) => Kind::Notification,
        (_, Role::Rest) => Kind::Rest,
        (_, Role::Other) => Kind::Other,
    }
}

/// One desktop's state while the capture is read.
#[derive(Debug, Default)]
struct DesktopState {
    listed: Vec<DesktopConnection>,
    dropped: u64,
    told_limit: bool,
    /// Boxed: a map node has room for eleven values, and one desktop has
    /// one user or a few, so inline chains cost 2.7 KB per desktop (27 MB
    /// for 10,000 desktops of one connection each: issue 13's NDJSON floor).
    chains: BTreeMap<Option<String>, Box<Chain>>,
    attempts: Attempts,
    rest: BTreeMap<Node, RestTraffic>,
}

/// See the module docs.
#[derive(Debug)]
pub struct Story {
    max_connections: usize,
    max_desktops: usize,
    desktops: BTreeMap<IpAddr, DesktopState>,
    /// Connections of desktops past `max_desktops`.
    unfollowed: u64,
}

impl Story {
    pub fn new(limits: &Limits) -> Story {
        Story {
            max_connections: limits.max_desktop_connections.max(1),
            max_desktops: limits.max_desktops.max(1),
            desktops: BTreeMap::new(),
            unfollowed: 0,
        }
    }

    /// One connection that ended (or was still open at the end of the
    /// capture), with the user of the session it carried when decrypted.
    /// Connections are fed in the order they end.
    pub fn on_connection(&mut self, s: &Summary, user: Option<&str>, sink: &mut dyn Findings) {
        let kind = kind_of(s);
        if kind == Kind::Other {
            return;
        }
        let client = s.client.ip();
        let known = self.desktops.len();
        let desktop = match self.desktops.get_mut(&client) {
            Some(d) => d,
            None if known < self.max_desktops => self.desktops.entry(client).or_default(),
            None => {
                self.unfollowed = self.unfollowed.saturating_add(1);
                if self.unfollowed == 1 {
                    sink.push_finding(desktop_limit(
                        format!("more than {} desktops (client addresses): the connections of {client} and later new ones are not told", self.max_desktops),
                        s,
                    ));
                }
                return;
            }
        };
        desktop.on_connection(client, kind, s, user, self.max_connections, sink);
    }

    /// The end of the capture: tells open runs and loops; gives the desktops
    /// in address order.
    pub fn finish(self, sink: &mut dyn Findings) -> Vec<Desktop> {
        self.desktops
            .into_iter()
            .map(|(client, state)| state.finish(client, sink))
            .collect()
    }
}

impl DesktopState {
    fn on_connection(
        &mut self,
        client: IpAddr,
        kind: Kind,
        s: &Summary,
        user: Option<&str>,
        cap: usize,
        sink: &mut dyn Findings,
    ) {
        match kind {
            Kind::Rest => return self.on_rest(client, s, cap, sink),
            Kind::Attempt => {
                if self.attempts.opens_run(s) && self.attempts.len() >= cap {
                    self.over_cap(client, s, cap, sink);
                } else {
                    self.attempts.on_attempt(client, s, sink);
                }
            }
            Kind::Notification => {
                self.attempts.on_opened(client, s.server, s.first.ts, sink);
                let key = user.map(str::to_owned);
                if !self.chains.contains_key(&key) && self.chains.len() >= cap {
                    self.over_cap(client, s, cap, sink);
                } else {
                    let who = Who { client, user };
                    let chain = self.chains.entry(key).or_default();
                    chain.on_notification(&who, s, sink);
                }
            }
            Kind::Other => return,
        }
        if self.listed.len() >= cap {
            self.dropped = self.dropped.saturating_add(1);
            return self.over_cap(client, s, cap, sink);
        }
        if self.listed.len() == self.listed.capacity() {
            // Doubling from one, not from Vec's four: most desktops of a
            // server-side capture have one connection, and three spare
            // slots cost 560 bytes each (5.6 MB for 10,000 desktops).
            self.listed.reserve_exact(self.listed.len().max(1));
        }
        self.listed.push(listed(s, user));
    }

    fn on_rest(&mut self, client: IpAddr, s: &Summary, cap: usize, sink: &mut dyn Findings) {
        self.attempts.on_opened(client, s.server, s.first.ts, sink);
        let node = node_of(s);
        let (start, end) = (s.first.ts, end_of(s));
        let decrypted = s.role_basis == Basis::Decrypted;
        if let Some(r) = self.rest.get_mut(&node) {
            r.connections = r.connections.saturating_add(1);
            r.first = r.first.min(start);
            r.last = r.last.max(end);
            r.span_s = r.last.secs_since(r.first);
            if !decrypted {
                r.basis = Basis::Inferred;
            }
        } else if self.rest.len() >= cap {
            self.over_cap(client, s, cap, sink);
        } else {
            let r = RestTraffic {
                node: node.clone(),
                connections: 1,
                first: start,
                last: end,
                span_s: end.secs_since(start),
                basis: s.role_basis,
            };
            self.rest.insert(node, r);
        }
    }

    /// Says once per desktop that a cap was reached (the list's, or of the
    /// users, runs or REST nodes followed).
    fn over_cap(&mut self, client: IpAddr, s: &Summary, cap: usize, sink: &mut dyn Findings) {
        if !self.told_limit {
            self.told_limit = true;
            sink.push_finding(desktop_limit(
                format!("desktop {client}: more than {cap} connections, users, attempt runs or REST nodes; from stream {} on, some are counted, not told", s.stream),
                s,
            ));
        }
    }

    fn finish(mut self, client: IpAddr, sink: &mut dyn Findings) -> Desktop {
        for (user, chain) in std::mem::take(&mut self.chains) {
            let who = Who {
                client,
                user: user.as_deref(),
            };
            chain.finish(&who, sink);
        }
        self.attempts.finish(client, sink);
        let mut connections = self.listed;
        connections.sort_by_key(|c| (c.start, c.stream));
        fill_gaps(&mut connections);
        let mut users: Vec<String> = connections.iter().filter_map(|c| c.user.clone()).collect();
        users.sort();
        users.dedup();
        Desktop {
            client,
            users,
            connections,
            connections_dropped: self.dropped,
            rest: self.rest.into_values().collect(),
        }
    }
}

fn listed(s: &Summary, user: Option<&str>) -> DesktopConnection {
    DesktopConnection {
        stream: s.stream,
        frame: s.first.frame,
        start: s.first.ts,
        server: s.server,
        node: node_of(s),
        user: user.map(str::to_owned),
        role: s.role,
        role_basis: s.role_basis,
        ended: s.ended.how,
        ended_by: s.ended.by,
        ended_frame: s.ended.frame,
        end: s.ended.time,
        duration_s: s.duration_s,
        syn_retries: s.ended.syn_retries,
        gap_s: None,
    }
}

/// The gap of each connection since the previous notification connection
/// of its user ended (an attempt, which has no user: of any user), in start
/// order, so it does not depend on the order connections ended in.
fn fill_gaps(connections: &mut [DesktopConnection]) {
    let mut ended: BTreeMap<Option<String>, Timestamp> = BTreeMap::new();
    let mut any_ended: Option<Timestamp> = None;
    for c in connections.iter_mut() {
        let attempt = matches!(c.ended, EndHow::Refused | EndHow::NoAnswer);
        let previous = if attempt {
            any_ended
        } else {
            ended.get(&c.user).copied()
        };
        c.gap_s = previous
            .filter(|end| c.start >= *end)
            .map(|end| c.start.secs_since(end));
        if !attempt {
            let end = c.end.unwrap_or_else(|| {
                let nanos = (c.duration_s.max(0.0) * 1e9) as i128;
                Timestamp::from_nanos_i128(i128::from(c.start.as_nanos()).saturating_add(nanos))
            });
            let slot = ended.entry(c.user.clone()).or_insert(end);
            *slot = (*slot).max(end);
            any_ended = Some(any_ended.map_or(end, |a| a.max(end)));
        }
    }
}

fn desktop_limit(message: String, s: &Summary) -> Finding {
    Finding::new(FindingCode::DesktopLimit, message)
        .at(s.first)
        .in_stream(s.stream, None)
}
