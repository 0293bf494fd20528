//! The words of a connection's story ([`crate::conn::Summary`]), shared by
//! the `conn.summary` event, the table, and the HTML report.
//!
//! Takes a finished summary; gives short lines in words, each saying what
//! was seen and what inferred. Never derives a fact the summary lacks.

use crate::conn::{Basis, EndHow, Opened, Role, Side, Summary};
use crate::report::text::{self, Clock};

fn role_word(role: Role) -> &'static str {
    match role {
        Role::XmppWebsocket => "xmpp-websocket",
        Role::XmppBosh => "xmpp-bosh",
        Role::XmppTcp => "xmpp-tcp",
        Role::Rest => "rest",
        Role::Other => "other",
    }
}

fn basis_word(basis: Basis) -> &'static str {
    match basis {
        Basis::Decrypted => "decrypted",
        Basis::Inferred => "inferred",
    }
}

fn side_word(side: Side) -> &'static str {
    match side {
        Side::Client => "client",
        Side::Server => "server",
    }
}

/// `role xmpp-websocket (inferred: port 8445, long-lived (35.3 s), ...)`.
pub fn role(s: &Summary) -> String {
    format!(
        "role {} ({}: {})",
        role_word(s.role),
        basis_word(s.role_basis),
        s.role_reasons.join(", ")
    )
}

/// `ended rst by server frame 54` / `refused by server frame 3` / `no answer after 2 SYN retries` / `open at the end`.
pub fn ending(s: &Summary) -> String {
    let e = &s.ended;
    let how = match e.how {
        EndHow::Fin => "ended fin",
        EndHow::Rst => "ended rst",
        EndHow::Refused => "refused",
        EndHow::NoAnswer => "no answer",
        EndHow::Open => "open at the end of the capture",
        EndHow::NotFollowed => "not followed to its end (cut for the memory budget, limits.memory)",
    };
    let mut line = how.to_owned();
    if let Some(by) = e.by {
        line.push_str(&format!(" by {}", side_word(by)));
    }
    if let Some(frame) = e.frame {
        line.push_str(&format!(" frame {frame}"));
    }
    if e.syn_retries > 0 {
        line.push_str(&format!(" ({} SYN retries)", e.syn_retries));
    }
    if s.opened == Opened::Midstream {
        line.push_str(", opened before the capture");
    }
    line
}

/// `keepalive 3 every 11.2 s, last 09:00:41.355 (inferred)`, `no keepalive
/// (decrypted)`, or `keepalive not inferred: <why>` when no count is given.
pub fn keepalive(s: &Summary) -> String {
    keepalive_with(s, &Clock::default())
}

/// [`keepalive`] with its time written by `clock`.
pub fn keepalive_with(s: &Summary, clock: &Clock) -> String {
    let k = &s.keepalive;
    let basis = basis_word(k.basis);
    let Some(exchanges) = k.exchanges else {
        let why = k.not_inferred_because.unwrap_or("no reason given");
        return format!("keepalive not inferred: {why}");
    };
    let cut = s.ended.how == EndHow::NotFollowed;
    if exchanges == 0 && cut {
        return format!("no keepalive before the cut ({basis})");
    }
    if exchanges == 0 {
        return format!("no keepalive ({basis})");
    }
    let mut line = format!("keepalive {exchanges}");
    if let Some(interval) = k.interval_s {
        line.push_str(&format!(" every {interval:.1} s"));
    }
    if let Some(last) = k.last_time {
        line.push_str(&format!(", last {}", clock.time_of_day(last)));
    }
    line.push_str(&format!(" ({basis})"));
    line
}

/// The transport facts: duration, RTT, records, retransmissions, zero windows, idle gaps.
pub fn transport(s: &Summary) -> String {
    let mut parts = vec![format!("{:.3} s", s.duration_s)];
    if let Some(rtt) = s.rtt_ms {
        parts.push(format!("rtt {rtt:.1} ms"));
    }
    if s.c2s.tls_records + s.s2c.tls_records > 0 {
        parts.push(format!(
            "TLS records {} → / {} ←",
            s.c2s.tls_records, s.s2c.tls_records
        ));
    }
    let retrans = s.c2s.retransmitted_bytes + s.s2c.retransmitted_bytes;
    if retrans > 0 {
        parts.push(format!("{} retransmitted", text::bytes(retrans)));
    }
    let zero = s.c2s.zero_windows + s.s2c.zero_windows;
    if zero > 0 {
        parts.push(format!("{zero} zero windows"));
    }
    if !s.idle_gaps.is_empty() {
        let longest = s.idle_gaps.iter().map(|g| g.seconds).fold(0.0, f64::max);
        parts.push(format!(
            "{} idle gaps over 30 s (longest {longest:.0} s)",
            s.idle_gaps.len()
        ));
    }
    parts.join(", ")
}

/// The certificate as the wire shows it, when there is something to say.
pub fn certificate(s: &Summary) -> Option<String> {
    let cert = s.tls.as_ref()?.certificate.as_ref()?;
    let Some(subject) = &cert.subject else {
        return Some("certificate encrypted (TLS 1.3)".to_owned());
    };
    let mut line = format!("certificate {subject}");
    if let Some(validity) = cert.validity {
        line.push_str(&format!(", {}", validity.replace('_', " ")));
    }
    if cert.name_mismatch {
        line.push_str(", does not name the SNI");
    }
    Some(line)
}

/// The one-line summary of the `conn.summary` event (UTC).
pub fn one_line(s: &Summary) -> String {
    one_line_with(s, &Clock::default())
}

/// [`one_line`] with its time written by `clock` (the table's `--local`).
pub fn one_line_with(s: &Summary, clock: &Clock) -> String {
    format!("{} · {} · {}", role(s), ending(s), keepalive_with(s, clock))
}
