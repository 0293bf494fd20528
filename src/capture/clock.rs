//! Absurd capture times: frames dated before 1971, beyond the latest date a
//! nanosecond timestamp holds (2262), or far from the frames around them.
//!
//! Takes each packet's frame number and time, in file order; gives a
//! `capture.time_glitch` finding naming the frame and the jump (the first
//! [`MAX_REPORTED`] of them, then one saying the rest are only counted).
//! Never changes a timestamp: absurd ones are shown as they are, and every
//! stage computes with saturating arithmetic.
//!
//! A frame dated before 1971 or beyond 2262 is a glitch; the frames right
//! after it dated the same way are not new glitches (a capture whose clock
//! was never set gives one finding, not one per frame). A frame more than
//! [`MAX_JUMP_NANOS`] away from the capture's clock (the time of the last
//! frame that was not a glitch) is a glitch. If the next
//! frame is near the glitched one rather than the clock, the capture's clock
//! really moved (merged captures, a clock corrected mid-capture): it follows,
//! and the jump was reported once. So a lone frame dated decades away gives
//! one finding, and so does a capture that jumps once and goes on.

use crate::capture::FindingCode;
use crate::finding::{Finding, Level};
use crate::position::{FrameRef, Timestamp};

/// A day: captures are silent for hours, never for a day between two frames
/// of one recording.
pub(crate) const MAX_JUMP_NANOS: i64 = 86_400 * NANOS;
/// Glitches reported one by one; the rest are counted in the summary.
pub(crate) const MAX_REPORTED: u64 = 16;
/// 1971-01-01T00:00:00Z: earlier dates come from clocks never set.
const EARLIEST_SECS: i64 = 365 * 86_400;
const NANOS: i64 = 1_000_000_000;
const YEAR_NANOS: i64 = 365 * 86_400 * NANOS;

#[derive(Debug, Default)]
pub(crate) struct Clock {
    /// The last frame not taken for a glitch.
    reference: Option<FrameRef>,
    /// The last frame that jumped away from `reference`.
    jumped: Option<Timestamp>,
    /// The previous frame was dated absurdly, this way.
    absurd: Option<Absurd>,
    /// Glitches seen (reported or not).
    pub(crate) glitches: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Absurd {
    BeforeUnixClocks,
    BeyondNanoseconds,
}

impl Absurd {
    fn of(ts: Timestamp) -> Option<Absurd> {
        if ts.is_saturated() && ts.as_nanos() > 0 {
            Some(Absurd::BeyondNanoseconds)
        } else if ts.as_nanos() < EARLIEST_SECS.saturating_mul(NANOS) {
            Some(Absurd::BeforeUnixClocks)
        } else {
            None
        }
    }

    fn why(self) -> &'static str {
        match self {
            Absurd::BeforeUnixClocks => {
                "before 1971: the capturing clock was not set, or the timestamp is corrupt"
            }
            Absurd::BeyondNanoseconds => {
                "beyond 2262-04-11, the latest date a nanosecond timestamp holds; it is shown as that date"
            }
        }
    }
}

impl Clock {
    /// One frame; a finding if its date is absurd.
    pub(crate) fn on_frame(&mut self, at: FrameRef) -> Option<Finding> {
        let absurd = Absurd::of(at.ts);
        let previous = std::mem::replace(&mut self.absurd, absurd);
        let (why, level) = match absurd {
            Some(kind) if previous == Some(kind) => return None,
            Some(kind) => (kind.why().to_owned(), Level::Warn),
            None => self.jump(at)?,
        };
        self.report(at, why, level)
    }

    /// Why `at` is far from the capture's clock, if it is: `warn` from a
    /// year on (no recording lasts that long), `info` below (captures merged).
    fn jump(&mut self, at: FrameRef) -> Option<(String, Level)> {
        let Some(reference) = self.reference else {
            self.reference = Some(at);
            return None;
        };
        let jump = at.ts.nanos_since(reference.ts);
        let near_jumped = self
            .jumped
            .is_some_and(|j| at.ts.nanos_since(j).saturating_abs() <= MAX_JUMP_NANOS);
        if jump.saturating_abs() <= MAX_JUMP_NANOS || near_jumped {
            self.reference = Some(at);
            self.jumped = None;
            return None;
        }
        self.jumped = Some(at.ts);
        let direction = if jump > 0 { "after" } else { "before" };
        let level = if jump.saturating_abs() >= YEAR_NANOS {
            Level::Warn
        } else {
            Level::Info
        };
        let why = format!(
            "{} {direction} frame {} ({}): the capture's clock jumped, or captures recorded apart were merged; time spans across it are not durations of the traffic",
            span_words(jump),
            reference.frame,
            reference.ts
        );
        Some((why, level))
    }

    fn report(&mut self, at: FrameRef, why: String, level: Level) -> Option<Finding> {
        self.glitches += 1;
        let message = match self.glitches {
            n if n <= MAX_REPORTED => format!("frame {} is dated {}: {why}", at.frame, at.ts),
            n if n == MAX_REPORTED + 1 => format!(
                "frame {} is dated {}: {why}; further time glitches are only counted (capture summary: time_glitches)",
                at.frame, at.ts
            ),
            _ => return None,
        };
        Some(
            Finding::new(FindingCode::TimeGlitch, message)
                .with_level(level)
                .at(at),
        )
    }
}

/// A time span longer than a day, in the unit that reads best: `40.0 years`, `3.2 days`.
fn span_words(nanos: i64) -> String {
    let secs = nanos.saturating_abs() as f64 / NANOS as f64;
    let (value, unit) = if secs >= 365.0 * 86_400.0 {
        (secs / (365.25 * 86_400.0), "years")
    } else {
        (secs / 86_400.0, "days")
    };
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(frame: u64, secs: i64) -> FrameRef {
        FrameRef::new(frame, Timestamp::from_secs_nanos(secs, 0))
    }

    const T0: i64 = 1_700_000_000;
    const YEAR: i64 = 365 * 86_400;

    fn run(frames: &[(u64, i64)]) -> (Vec<Finding>, Clock) {
        let mut clock = Clock::default();
        let findings = frames
            .iter()
            .filter_map(|&(n, secs)| clock.on_frame(at(n, secs)))
            .collect();
        (findings, clock)
    }

    #[test]
    fn a_lone_frame_forty_years_later_is_one_glitch() {
        let (findings, clock) = run(&[
            (1, T0),
            (2, T0 + 1),
            (3, T0 + 40 * YEAR),
            (4, T0 + 2),
            (5, T0 + 3),
        ]);
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(
            (f.code.code(), f.level, f.frame),
            ("capture.time_glitch", Level::Warn, Some(3))
        );
        assert_eq!(
            f.message,
            "frame 3 is dated 2063-11-04T22:13:20.000000Z: 40.0 years after frame 2 (2023-11-14T22:13:21.000000Z): the capture's clock jumped, or captures recorded apart were merged; time spans across it are not durations of the traffic"
        );
        assert_eq!(clock.glitches, 1);
    }

    #[test]
    fn a_clock_that_moves_once_is_one_glitch_and_hours_of_silence_none() {
        let (findings, _) = run(&[
            (1, T0),
            (2, T0 + 7200),
            (3, T0 + 9 * 86_400),
            (4, T0 + 9 * 86_400 + 5),
            (5, T0 + 9 * 86_400 + 9),
        ]);
        assert_eq!(findings.len(), 1);
        assert_eq!(
            (findings[0].frame, findings[0].level),
            (Some(3), Level::Info)
        );
        assert!(
            findings[0].message.contains("8.9 days after frame 2"),
            "{}",
            findings[0].message
        );
        // Merged out of order: a week back, once.
        let (findings, _) = run(&[(1, T0), (2, T0 - 7 * 86_400), (3, T0 - 7 * 86_400 + 1)]);
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0].message.contains("7.0 days before frame 1"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn dates_before_1971_and_beyond_2262_are_glitches() {
        let mut clock = Clock::default();
        let zero = clock.on_frame(at(1, 5)).unwrap();
        assert_eq!(
            zero.message,
            "frame 1 is dated 1970-01-01T00:00:05.000000Z: before 1971: the capturing clock was not set, or the timestamp is corrupt"
        );
        assert!(clock.on_frame(at(2, T0)).is_none());
        let saturated = FrameRef::new(3, Timestamp::from_secs_nanos(i64::MAX, 0));
        let far = clock.on_frame(saturated).unwrap();
        assert!(
            far.message
                .starts_with("frame 3 is dated 2262-04-11T23:47:16.854775Z: beyond 2262-04-11"),
            "{}",
            far.message
        );
        assert!(clock.on_frame(at(4, T0 + 1)).is_none());
    }

    #[test]
    fn a_clock_never_set_is_one_glitch_not_one_per_frame() {
        let (findings, clock) = run(&[(1, 0), (2, 1), (3, 2), (4, T0), (5, T0 + 1), (6, 3)]);
        let frames: Vec<Option<u64>> = findings.iter().map(|f| f.frame).collect();
        assert_eq!(frames, vec![Some(1), Some(6)]);
        assert_eq!(clock.glitches, 2);
    }

    #[test]
    fn reports_are_capped_then_counted() {
        let frames: Vec<(u64, i64)> = (0..100u64)
            .map(|i| (i + 1, if i % 2 == 0 { T0 } else { T0 + 50 * YEAR }))
            .collect();
        let (findings, clock) = run(&frames);
        assert_eq!(clock.glitches, 50);
        assert_eq!(findings.len() as u64, MAX_REPORTED + 1);
        assert!(findings
            .last()
            .unwrap()
            .message
            .contains("further time glitches are only counted"));
    }
}
