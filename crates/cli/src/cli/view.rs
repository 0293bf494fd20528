//! The options that shape what the event-listing commands (`report`, `ws`,
//! `http`) show and how: width, colour, time, and the filters.
//!
//! Takes the parsed flags and whether the output is a terminal; gives the
//! renderers' [`Style`] and the library's [`Filter`]. Never looks at a
//! capture: offsets in `--since`/`--until` are resolved per capture by the
//! filter itself.

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use chrono::{DateTime, Local, Offset, TimeZone};
use clap::{Args, ValueEnum};
use xmppcap::position::Timestamp;
use xmppcap::report::filter::{Bound, Filter, WindowEnd};
use xmppcap::report::text::{Clock, Precision};

use crate::render::style::Style;

/// Layout and time options of the tables.
#[derive(Args, Debug, Clone)]
pub(super) struct ViewArgs {
    /// Wrap the table at N columns. Default: the terminal's width, or no
    /// wrapping at all (one line per event) when stdout is not a terminal.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(40..))]
    width: Option<u16>,
    /// Colour levels, directions and finding codes: `auto` when stdout is a
    /// terminal and NO_COLOR is unset or empty.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    color: ColorWhen,
    /// Digits of the time and `+` columns (both truncated).
    #[arg(long, value_enum, default_value_t = PrecisionArg::Ms)]
    precision: PrecisionArg,
    /// Times in this machine's local time zone instead of UTC.
    #[arg(long)]
    local: bool,
}

/// What to keep of each capture.
#[derive(Args, Debug, Clone)]
pub(super) struct FilterArgs {
    /// Only this TCP stream (Wireshark `tcp.stream`); repeatable.
    #[arg(long = "stream", value_name = "N")]
    streams: Vec<u64>,
    /// Only the XMPP sessions of this agent (login id: the JID's local part or
    /// the SASL user) and their connections.
    #[arg(long, value_name = "ID")]
    agent: Option<String>,
    /// Only what happened at or after T: RFC 3339 (`2026-03-02T09:00:05Z`) or
    /// an offset from the capture's first packet (`+90s`, `+2m`, `+1h`, `+250ms`).
    #[arg(long, value_name = "T", value_parser = parse_window_end, allow_hyphen_values = true)]
    since: Option<WindowEnd>,
    /// Only what happened at or before T (same forms as --since).
    #[arg(long, value_name = "T", value_parser = parse_window_end, allow_hyphen_values = true)]
    until: Option<WindowEnd>,
    /// Headers, connection stories and findings, without the timelines.
    #[arg(long)]
    summary: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum PrecisionArg {
    Ms,
    Us,
}

impl FilterArgs {
    pub(super) fn filter(&self) -> Filter {
        Filter {
            streams: self.streams.clone(),
            agent: self.agent.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
            summary: self.summary,
        }
    }
}

impl ViewArgs {
    /// The renderers' style for output to `output` (stdout when `None`).
    pub(super) fn style(&self, output: Option<&PathBuf>, raw: bool, filter: &Filter) -> Style {
        let to_terminal = output.is_none() && io::stdout().is_terminal();
        let width = self
            .width
            .or_else(|| to_terminal.then(terminal_width).flatten());
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match self.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => to_terminal && !no_color,
        };
        let precision = match self.precision {
            PrecisionArg::Ms => Precision::Millis,
            PrecisionArg::Us => Precision::Micros,
        };
        Style {
            width,
            color,
            clock: Clock {
                precision,
                local_offset: self.local.then_some(local_offset as fn(Timestamp) -> i32),
            },
            raw,
            filter: filter.describe(),
        }
    }
}

/// The terminal's width, as comfy-table reads it from stdout.
fn terminal_width() -> Option<u16> {
    comfy_table::Table::new().width()
}

/// This machine's offset from UTC at `ts`, in seconds (0 when the time zone
/// database has no answer for that instant).
fn local_offset(ts: Timestamp) -> i32 {
    let nanos = ts.as_nanos();
    let secs = nanos.div_euclid(1_000_000_000);
    Local
        .timestamp_opt(secs, 0)
        .earliest()
        .map_or(0, |t| t.offset().fix().local_minus_utc())
}

/// `--since`/`--until`: RFC 3339, or `+N` with a unit (`ms`, `s`, `m`, `h`;
/// seconds when none) counted from the capture's first packet.
fn parse_window_end(typed: &str) -> Result<WindowEnd, String> {
    let bound = match typed.strip_prefix('+') {
        Some(offset) => Bound::AfterStart(parse_offset(offset)?),
        None => {
            let t = DateTime::parse_from_rfc3339(typed).map_err(|e| {
                format!("{typed:?} is neither RFC 3339 (2026-03-02T09:00:05Z) nor an offset like +90s: {e}")
            })?;
            let nanos = t
                .timestamp_nanos_opt()
                .ok_or_else(|| format!("{typed:?} is outside the years 1677..2262"))?;
            Bound::At(Timestamp::from_nanos_i128(i128::from(nanos)))
        }
    };
    Ok(WindowEnd {
        typed: typed.to_owned(),
        bound,
    })
}

/// `90s`, `2m`, `1.5h`, `250ms`, `90` → nanoseconds.
fn parse_offset(text: &str) -> Result<i64, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: f64 = match unit {
        "ms" => 1e6,
        "" | "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in +{text}: use ms, s, m or h"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("+{text} is not an offset like +90s, +2m or +1.5h"))?;
    let nanos = value * scale;
    // About 292 years of nanoseconds fit an i64.
    if !nanos.is_finite() || nanos >= 9.2e18 {
        return Err(format!("+{text} is too far from the capture's start"));
    }
    Ok(nanos as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(typed: &str) -> Result<Bound, String> {
        parse_window_end(typed).map(|e| e.bound)
    }

    #[test]
    fn offsets_take_units() {
        assert_eq!(bound("+90s"), Ok(Bound::AfterStart(90_000_000_000)));
        assert_eq!(bound("+2m"), Ok(Bound::AfterStart(120_000_000_000)));
        assert_eq!(bound("+1.5h"), Ok(Bound::AfterStart(5_400_000_000_000)));
        assert_eq!(bound("+250ms"), Ok(Bound::AfterStart(250_000_000)));
        assert_eq!(bound("+7"), Ok(Bound::AfterStart(7_000_000_000)));
    }

    #[test]
    fn rfc3339_with_any_offset() {
        let utc = Timestamp::from_secs_nanos(1_772_442_005, 0);
        assert_eq!(bound("2026-03-02T09:00:05Z"), Ok(Bound::At(utc)));
        assert_eq!(bound("2026-03-02T10:00:05+01:00"), Ok(Bound::At(utc)));
    }

    #[test]
    fn malformed_times_say_what_is_expected() {
        for bad in ["+", "+5x", "+1e400", "yesterday", "+-3s", "2026-03-02"] {
            assert!(bound(bad).is_err(), "{bad}");
        }
    }
}
