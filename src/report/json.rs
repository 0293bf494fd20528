//! JSON documents: one per run, `{"schema": ..., "captures": [...]}`, with a
//! failed capture as `{"capture": name, "error": message}`.
//!
//! Takes reports; writes pretty-printed JSON. The schemas are versioned
//! (`xmppcap.report/2`, `xmppcap.ws/1`, `xmppcap.http/1`, `xmppcap.tls/1`)
//! and documented in `docs/report.schema.json` and README.

use std::fmt::Display;
use std::io::{self, Write};
use std::net::SocketAddr;

use serde::Serialize;

use crate::capture::CaptureSummary;
use crate::finding::Finding;
use crate::report::event::Event;
use crate::report::filter::Filter;
use crate::report::model::{KeySourceReport, Report, SCHEMA};
use crate::report::ndjson::Selection;

#[derive(Serialize)]
struct Document<'f, T: Serialize> {
    schema: &'static str,
    /// What the command line narrowed the report to; left out when nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<&'f Filter>,
    captures: Vec<T>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Entry<T: Serialize> {
    Ok(T),
    Err {
        #[serde(skip_serializing_if = "Option::is_none")]
        capture: Option<String>,
        error: String,
    },
}

/// The entry of a failed input: its name (the `names` given beside the
/// reports, in the same order) and why it failed.
fn failed<T: Serialize>(names: &[String], i: usize, error: &dyn Display) -> Entry<T> {
    Entry::Err {
        capture: names.get(i).cloned(),
        error: error.to_string(),
    }
}

fn write<T: Serialize>(
    schema: &'static str,
    captures: Vec<Entry<T>>,
    out: &mut dyn Write,
) -> io::Result<()> {
    write_filtered(schema, None, captures, out)
}

fn write_filtered<T: Serialize>(
    schema: &'static str,
    filter: Option<&Filter>,
    captures: Vec<Entry<T>>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let filter = filter.filter(|f| f.is_active());
    let document = Document {
        schema,
        filter,
        captures,
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)
}

fn entries<'r, T: Serialize, E: Display>(
    reports: &'r [Result<Report, E>],
    names: &[String],
    view: impl Fn(&'r Report) -> T,
) -> Vec<Entry<T>> {
    reports
        .iter()
        .enumerate()
        .map(|(i, r)| match r {
            Ok(report) => Entry::Ok(view(report)),
            Err(e) => failed(names, i, e),
        })
        .collect()
}

/// `xmppcap report --format json`.
pub fn render_reports<E: Display>(
    reports: &[Result<Report, E>],
    out: &mut dyn Write,
) -> io::Result<()> {
    render_reports_filtered(reports, &[], None, out)
}

/// `xmppcap report --format json` of reports narrowed by `filter`
/// ([`Filter::apply`]), which the document names in its `filter` object.
/// `names` are the inputs in the same order: a failed one's entry names it.
pub fn render_reports_filtered<E: Display>(
    reports: &[Result<Report, E>],
    names: &[String],
    filter: Option<&Filter>,
    out: &mut dyn Write,
) -> io::Result<()> {
    write_filtered(SCHEMA, filter, entries(reports, names, |r| r), out)
}

#[derive(Serialize)]
struct EventsView<'r> {
    capture: &'r CaptureSummary,
    events: &'r [Event],
    events_dropped: u64,
    findings: Vec<&'r Finding>,
}

/// `xmppcap ws|http --format json`: the selected events of each capture.
pub fn render_events<E: Display>(
    reports: &[Result<Report, E>],
    selection: Selection,
    out: &mut dyn Write,
) -> io::Result<()> {
    render_events_filtered(reports, &[], selection, None, out)
}

/// [`render_events`] of reports narrowed by `filter`, named in the document;
/// `names` as for [`render_reports_filtered`].
pub fn render_events_filtered<E: Display>(
    reports: &[Result<Report, E>],
    names: &[String],
    selection: Selection,
    filter: Option<&Filter>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let (schema, layers): (&'static str, &[&str]) = match selection {
        Selection::WebSocket => ("xmppcap.ws/1", &["ws"]),
        Selection::Http => ("xmppcap.http/1", &["http", "bosh"]),
        Selection::Tls => ("xmppcap.tls-events/1", &["tls"]),
        Selection::All => (SCHEMA, &[]),
    };
    let captures = reports
        .iter()
        .enumerate()
        .map(|(i, r)| match r {
            Ok(report) => Entry::Ok(EventsView {
                capture: &report.capture,
                events: &report.timeline,
                events_dropped: report.timeline_dropped,
                findings: report
                    .findings
                    .iter()
                    .filter(|f| layers.contains(&f.layer().as_str()))
                    .collect(),
            }),
            Err(e) => failed(names, i, e),
        })
        .collect();
    write_filtered(schema, filter, captures, out)
}

#[derive(Serialize)]
struct TlsConnection<'r> {
    stream: u64,
    client: SocketAddr,
    server: SocketAddr,
    /// XMPP on TCP switched to this TLS with STARTTLS.
    starttls: bool,
    tls: &'r crate::tls::Summary,
}

#[derive(Serialize)]
struct TlsView<'r> {
    capture: &'r CaptureSummary,
    keys: &'r [KeySourceReport],
    connections: Vec<TlsConnection<'r>>,
    findings: Vec<&'r Finding>,
}

/// `xmppcap tls --format json`: every TLS connection's summary.
/// `names` as for [`render_reports_filtered`].
pub fn render_tls<E: Display>(
    reports: &[Result<Report, E>],
    names: &[String],
    out: &mut dyn Write,
) -> io::Result<()> {
    write("xmppcap.tls/1", entries(reports, names, tls_view), out)
}

fn tls_view(r: &Report) -> TlsView<'_> {
    TlsView {
        capture: &r.capture,
        keys: &r.keys,
        connections: r
            .connections
            .iter()
            .filter_map(|c| {
                Some(TlsConnection {
                    stream: c.stream,
                    client: c.client,
                    server: c.server,
                    starttls: c.layers.first() == Some(&"xmpp"),
                    tls: c.tls.as_ref()?,
                })
            })
            .collect(),
        findings: r
            .findings
            .iter()
            // A cap that left connections out of the list is said here too.
            .filter(|f| {
                matches!(
                    f.layer(),
                    crate::finding::Layer::Tls | crate::finding::Layer::Limits
                )
            })
            .collect(),
    }
}
