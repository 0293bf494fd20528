//! The two clocks a HAR uses: `startedDateTime` (RFC 3339 text with an
//! offset, ISO 8601 as browsers write it) and message `time` (Unix epoch
//! seconds with a fraction).
//!
//! Takes text or a number; gives a UTC [`Timestamp`] or `None`. Pure, never
//! panics; says nothing about whether a time is plausible (the reader does).

use crate::position::Timestamp;

/// True from 2000-01-01T00:00:00Z on: anything earlier in a HAR is a placeholder (Chrome's
/// 1969 for a request never sent) or a monotonic clock, not a wall-clock time.
pub(crate) fn is_wall_clock(time: Timestamp) -> bool {
    time >= Timestamp::from_secs_nanos(946_684_800, 0)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)`; `t` or a space
/// may stand for `T` and `z` for `Z`. Fractions beyond nanoseconds are cut.
pub(crate) fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, c)| b.get(at) != Some(&c))
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
        || !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut at = 19;
    let mut nanos: i64 = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        let mut scale = 100_000_000;
        while let Some(d) = b.get(at).filter(|c| c.is_ascii_digit()) {
            nanos += i64::from(d - b'0') * scale;
            scale /= 10;
            at += 1;
        }
        if at == start {
            return None;
        }
    }
    let offset_secs = parse_offset(b.get(at..)?)?;
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(Timestamp::from_nanos_i128(
        i128::from(secs) * 1_000_000_000 + i128::from(nanos),
    ))
}

/// `Z`, `+01:00`, `-0530`: seconds east of UTC.
fn parse_offset(b: &[u8]) -> Option<i64> {
    match b {
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (hours, minutes) = match rest {
                [_, _, b':', _, _] => (digits(rest, 0, 2)?, digits(rest, 3, 2)?),
                [_, _, _, _] => (digits(rest, 0, 2)?, digits(rest, 2, 2)?),
                _ => return None,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let secs = hours * 3600 + minutes * 60;
            Some(if *sign == b'-' { -secs } else { secs })
        }
        _ => None,
    }
}

/// Unix epoch seconds (a JSON number) at microsecond precision, the precision
/// Chrome records; `None` when not finite or beyond the `Timestamp` range.
pub(crate) fn from_epoch_secs(secs: f64) -> Option<Timestamp> {
    // i64 nanoseconds end in 2262: about 9.2e9 seconds.
    if !secs.is_finite() || secs.abs() > 9.0e9 {
        return None;
    }
    let micros = (secs * 1e6).round() as i64;
    Some(Timestamp::from_nanos_i128(i128::from(micros) * 1_000))
}

fn digits(b: &[u8], at: usize, len: usize) -> Option<i64> {
    let field = b.get(at..at.checked_add(len)?)?;
    field.iter().try_fold(0i64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`); years are four digits here, so nothing overflows.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
