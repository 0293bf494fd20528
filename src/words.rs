//! How durations are said in finding messages and reports: one place, so a
//! stage's finding and a renderer's table say the same span the same way.
//!
//! Takes plain numbers; gives short strings. Never fails, never panics
//! (every sign and size has words), and depends on no stage or renderer:
//! stages below `report` use it without reaching up into `report`.

/// A duration in seconds, short: `850 µs`, `12 ms`, `1.234 s`, `2 min 5 s`, `3 h 02 min`.
pub fn duration_nanos(nanos: i64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_nanos(850_000), "850 µs");
        assert_eq!(duration_nanos(12_000_000), "12 ms");
        assert_eq!(duration_nanos(1_234_000_000), "1.234 s");
        assert_eq!(duration_nanos(125_000_000_000), "2 min 5 s");
        assert_eq!(duration_nanos(-12_000_000), "-12 ms");
    }

    #[test]
    fn hours_keep_two_digit_minutes() {
        assert_eq!(
            duration_nanos(3 * 3_600_000_000_000 + 2 * 60_000_000_000),
            "3 h 02 min"
        );
    }

    #[test]
    fn extremes_have_words() {
        assert_eq!(duration_nanos(0), "0 µs");
        assert!(duration_nanos(i64::MIN).starts_with("-"));
        assert!(duration_nanos(i64::MAX).ends_with(" min"));
    }
}
