//! The words of a desktop's section, shared by the terminal table and the
//! HTML report: one row per connection (time, stream, node, role with its
//! basis, how it ended, the gap since the previous notification connection)
//! and one line per node of REST traffic.
//!
//! Takes a [`Desktop`] of the report model; gives strings. Never derives a
//! fact: every number is in the model, only said here.

use crate::conn::{Basis, EndHow, Role, Side};
use crate::desktop::{Desktop, DesktopConnection, RestTraffic};
use crate::report::text::{self, Clock};
use crate::words;

/// The column heads of [`connection_row`] (UTC).
pub const COLUMNS: [&str; 6] = ["time (UTC)", "stream", "node", "role", "ended", "gap"];

/// The column heads of [`connection_row_with`] in `clock`'s zone.
pub fn columns(clock: &Clock) -> [String; 6] {
    let [_, rest @ ..] = COLUMNS;
    let [a, b, c, d, e] = rest;
    [
        format!("time ({})", clock.zone()),
        a.to_owned(),
        b.to_owned(),
        c.to_owned(),
        d.to_owned(),
        e.to_owned(),
    ]
}

/// The title of a desktop's section: its address and the users it carried.
pub fn title(d: &Desktop) -> String {
    match d.users.as_slice() {
        [] => format!("desktop {}", d.client),
        users => format!("desktop {} · {}", d.client, users.join(", ")),
    }
}

/// One connection in words, in [`COLUMNS`] order; the node names the
/// connection's user when the desktop carried several (agents behind one
/// NAT address), the title names a single one.
pub fn connection_row(d: &Desktop, c: &DesktopConnection) -> [String; 6] {
    connection_row_with(d, c, &Clock::default())
}

/// [`connection_row`] with its time written by `clock`.
pub fn connection_row_with(d: &Desktop, c: &DesktopConnection, clock: &Clock) -> [String; 6] {
    let node = match c.node.sni {
        Some(_) => c.node.to_string(),
        None => c.server.to_string(),
    };
    let role = match (c.ended, c.role) {
        (EndHow::Refused | EndHow::NoAnswer, Role::Other) => "attempt".to_owned(),
        (_, role) => format!("{} ({})", role_word(role), basis_word(c.role_basis)),
    };
    let user = match c.user.as_deref() {
        Some(u) if d.users.len() > 1 => format!(" · {u}"),
        _ => String::new(),
    };
    [
        clock.time_of_day(c.start),
        c.stream.to_string(),
        format!("{node}{user}"),
        role,
        ended(c),
        c.gap_s.map(seconds).unwrap_or_default(),
    ]
}

/// How a connection ended: how, by whom, at which frame, after how long.
pub fn ended(c: &DesktopConnection) -> String {
    let by = match c.ended_by {
        Some(Side::Client) => " by client",
        Some(Side::Server) => " by server",
        None => "",
    };
    let frame = match (c.ended, c.ended_frame) {
        (EndHow::NoAnswer, Some(f)) => format!(", last SYN frame {f}"),
        (_, Some(f)) => format!(", frame {f}"),
        (_, None) => String::new(),
    };
    let retries = match c.syn_retries {
        0 => String::new(),
        1 => ", 1 SYN retry".to_owned(),
        n => format!(", {n} SYN retries"),
    };
    let lived = match c.ended {
        EndHow::Refused | EndHow::NoAnswer => String::new(),
        _ => format!(" after {}", seconds(c.duration_s)),
    };
    format!("{}{by}{frame}{lived}{retries}", how_word(c.ended))
}

/// A node's REST traffic in one line (UTC).
pub fn rest_line(r: &RestTraffic) -> String {
    rest_line_with(r, &Clock::default())
}

/// [`rest_line`] with its time written by `clock`.
pub fn rest_line_with(r: &RestTraffic, clock: &Clock) -> String {
    format!(
        "REST to {}: {} over {} (from {}, {})",
        r.node,
        text::count(
            usize::try_from(r.connections).unwrap_or(usize::MAX),
            "connection"
        ),
        seconds(r.span_s),
        clock.time_of_day(r.first),
        basis_word(r.basis)
    )
}

/// Connections the list left out, when any.
pub fn dropped_line(d: &Desktop) -> Option<String> {
    (d.connections_dropped > 0).then(|| {
        format!(
            "{} more not listed (max_desktop_connections)",
            d.connections_dropped
        )
    })
}

fn seconds(s: f64) -> String {
    words::duration_nanos((s * 1e9) as i64)
}

pub fn role_word(role: Role) -> &'static str {
    match role {
        Role::XmppWebsocket => "xmpp-websocket",
        Role::XmppBosh => "xmpp-bosh",
        Role::XmppTcp => "xmpp-tcp",
        Role::Rest => "rest",
        Role::Other => "other",
    }
}

pub fn basis_word(basis: Basis) -> &'static str {
    match basis {
        Basis::Decrypted => "decrypted",
        Basis::Inferred => "inferred",
    }
}

pub fn how_word(how: EndHow) -> &'static str {
    match how {
        EndHow::Fin => "fin",
        EndHow::Rst => "rst",
        EndHow::Refused => "refused",
        EndHow::NoAnswer => "no-answer",
        EndHow::Open => "open",
        EndHow::NotFollowed => "not-followed",
    }
}
