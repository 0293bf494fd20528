//! `xmppcap streams`: the model (one row per TCP connection) and its JSON
//! renderer. The table is drawn by the `xmppcap` binary.
//!
//! Takes [`StreamsReport`]s built by the pipeline; gives JSON. Never derives
//! a fact the model does not hold.

use std::fmt::Display;
use std::io::{self, Write};

use serde::Serialize;

use crate::capture::CaptureSummary;
use crate::decode::DecodeStats;
use crate::finding::{Finding, Level};
use crate::tcp::StreamStats;

/// JSON schema identifier of `xmppcap streams --format json`.
pub const SCHEMA: &str = "xmppcap.streams/1";

/// Everything `xmppcap streams` says about one capture.
#[derive(Debug, Serialize)]
pub struct StreamsReport {
    pub capture: CaptureSummary,
    pub decode: DecodeStats,
    /// In `tcp.stream` order.
    pub streams: Vec<StreamStats>,
    /// In frame order.
    pub findings: Vec<Finding>,
}

impl StreamsReport {
    /// The worst level among the findings, for `--fail-on`.
    pub fn worst_level(&self) -> Option<Level> {
        self.findings.iter().map(|f| f.level).max()
    }
}

/// One JSON document for all captures: `{"schema": ..., "captures": [...]}`.
pub fn render_json<E: Display>(
    reports: &[Result<StreamsReport, E>],
    out: &mut dyn Write,
) -> io::Result<()> {
    #[derive(Serialize)]
    #[serde(untagged)]
    enum Entry<'a> {
        Ok(&'a StreamsReport),
        Err { error: String },
    }
    #[derive(Serialize)]
    struct Document<'a> {
        schema: &'static str,
        captures: Vec<Entry<'a>>,
    }
    let captures = reports
        .iter()
        .map(|r| match r {
            Ok(report) => Entry::Ok(report),
            Err(e) => Entry::Err {
                error: e.to_string(),
            },
        })
        .collect();
    serde_json::to_writer_pretty(
        &mut *out,
        &Document {
            schema: SCHEMA,
            captures,
        },
    )?;
    writeln!(out)
}
