//! Small text helpers shared by the table renderers: sizes, durations,
//! clock times and safe display of captured bytes. Never fails.

use crate::common::Timestamp;

/// `1448 B`, `12.3 KiB`, `4.0 MiB`: exact below 10 KiB, one decimal above.
/// `n` and the noun, plural unless `n` is 1: "1 XMPP session", "2 XMPP sessions".
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 10 * 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS.get(unit).copied().unwrap_or("TiB"))
}

/// A duration in seconds, short: `850 µs`, `12 ms`, `1.234 s`, `2 min 5 s`, `3 h 02 min`.
pub(crate) fn duration_nanos(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let text = if n < 1_000_000 {
        format!("{} µs", n / 1_000)
    } else if n < 1_000_000_000 {
        format!("{} ms", n / 1_000_000)
    } else if n < 60_000_000_000 {
        format!("{:.3} s", n as f64 / 1e9)
    } else if n < 3_600_000_000_000 {
        format!("{} min {} s", n / 60_000_000_000, (n / 1_000_000_000) % 60)
    } else {
        format!(
            "{} h {:02} min",
            n / 3_600_000_000_000,
            (n / 60_000_000_000) % 60
        )
    };
    format!("{sign}{text}")
}

/// Time of day with milliseconds, UTC: `09:00:01.234`.
pub(crate) fn clock(ts: Timestamp) -> String {
    let full = ts.to_rfc3339();
    // RFC 3339 from Timestamp is `YYYY-MM-DDTHH:MM:SS.ffffffZ`; take `HH:MM:SS.fff`.
    full.get(11..23).map(str::to_owned).unwrap_or(full)
}

/// Captured bytes as text a terminal can show safely: printable ASCII, tabs
/// and newlines as they are; anything else (including escape sequences) as
/// `\xNN` so captured data can never drive the terminal.
pub(crate) fn printable(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len());
    for chunk in data.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' | '\t' => out.push(c),
                '\r' => {}
                c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_say_one_or_many() {
        assert_eq!(count(1, "XMPP session"), "1 XMPP session");
        assert_eq!(count(0, "XMPP session"), "0 XMPP sessions");
        assert_eq!(count(2, "TCP connection"), "2 TCP connections");
    }

    #[test]
    fn sizes() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(10239), "10239 B");
        assert_eq!(bytes(10 * 1024), "10.0 KiB");
        assert_eq!(bytes(5 << 20), "5.0 MiB");
    }

    #[test]
    fn durations() {
        assert_eq!(duration_nanos(850_000), "850 µs");
        assert_eq!(duration_nanos(12_000_000), "12 ms");
        assert_eq!(duration_nanos(1_234_000_000), "1.234 s");
        assert_eq!(duration_nanos(125_000_000_000), "2 min 5 s");
        assert_eq!(duration_nanos(-12_000_000), "-12 ms");
    }

    #[test]
    fn clock_is_time_of_day() {
        assert_eq!(
            clock(Timestamp::from_secs_nanos(1_700_000_000, 123_456_789)),
            "22:13:20.123"
        );
    }

    #[test]
    fn printable_escapes_control_and_invalid_bytes() {
        assert_eq!(
            printable(b"GET / HTTP/1.1\r\nHost: x\r\n"),
            "GET / HTTP/1.1\nHost: x\n"
        );
        assert_eq!(printable(b"\x1b[31mred\xff"), "\\u{1b}[31mred\\xff");
    }
}
