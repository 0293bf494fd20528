//! `xmppcap streams` as a table: one row per TCP connection, then the
//! findings. At the terminal's width, or unwrapped for a pipe ([`Style`]).
//!
//! Takes the library's [`StreamsReport`]s; gives text. Never derives a fact
//! the model does not hold.

use std::io::{self, Write};

use comfy_table::{presets, Cell, CellAlignment};
use xmppcap::capture::CaptureSummary;
use xmppcap::decode::DecodeStats;
use xmppcap::pipeline::PipelineError;
use xmppcap::report::streams::StreamsReport;
use xmppcap::report::terminal;
use xmppcap::report::text;
use xmppcap::tcp::{DirStats, Origin, StreamStats};

use super::render_findings_with;
use super::style::Style;

/// Renders each capture's table and findings, one after the other.
pub(crate) fn render_table(
    reports: &[Result<StreamsReport, PipelineError>],
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    // Failed captures are reported on stderr by the caller.
    for (i, report) in reports.iter().flatten().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        render_one_table(report, style, out)?;
    }
    Ok(())
}

fn render_one_table(report: &StreamsReport, style: &Style, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", capture_line(&report.capture, style))?;
    writeln!(out, "{}", decode_line(&report.decode))?;
    if report.streams.is_empty() {
        writeln!(out, "no TCP connections")?;
        return render_findings_with(&report.findings, style, out);
    }
    let header = [
        "stream",
        "client → server",
        "frames, time",
        "c→s",
        "s→c",
        "anomalies",
        "opened, ended",
    ];
    let mut table = style.table(header.iter().map(|h| h.to_string()).collect());
    table.load_style(presets::UTF8_HORIZONTAL_ONLY);
    for s in &report.streams {
        table.add_row(vec![
            Cell::new(s.stream).set_alignment(CellAlignment::Right),
            Cell::new(format!("{}\n→ {}", s.client, s.server)),
            Cell::new(format!(
                "{}–{}\n{}\n{}",
                s.first.frame,
                s.last.frame,
                style.clock.time_of_day(s.first.ts),
                text::duration_nanos(s.last.ts.nanos_since(s.first.ts))
            )),
            Cell::new(traffic(&s.client_to_server)),
            Cell::new(traffic(&s.server_to_client)),
            Cell::new(anomalies(s)),
            Cell::new(format!("{}\n{}", opened(s), s.ending_words())),
        ]);
    }
    for column in table.column_iter_mut() {
        column.set_padding((1, 1));
    }
    // Addresses and the anomaly lines read badly when wrapped: give them room first.
    use comfy_table::{ColumnConstraint, Width};
    for (index, width) in [(1, 22), (2, 14), (5, 17)] {
        if let Some(column) = table.column_mut(index) {
            column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(width)));
        }
    }
    style.write_table(&table, out)?;
    if report.streams.iter().any(|s| anomalies(s) != "none") {
        writeln!(
            out,
            "(anomalies a/b: client → server / server → client; ooo: out-of-order)"
        )?;
    }
    render_findings_with(&report.findings, style, out)
}

fn traffic(d: &DirStats) -> String {
    format!("{} pkts\n{}", d.packets, text::bytes(d.bytes))
}

/// Retransmissions, out-of-order and out-of-window segments and gaps, one
/// line each, only when present.
fn anomalies(s: &StreamStats) -> String {
    let pair = |c: u64, v: u64| format!("{c}/{v}");
    let (c, v) = (&s.client_to_server, &s.server_to_client);
    let mut lines = Vec::new();
    if c.retransmitted_bytes + v.retransmitted_bytes > 0 {
        lines.push(format!(
            "retrans {} B",
            pair(c.retransmitted_bytes, v.retransmitted_bytes)
        ));
    }
    if c.out_of_order_segments + v.out_of_order_segments > 0 {
        lines.push(format!(
            "ooo segs {}",
            pair(c.out_of_order_segments, v.out_of_order_segments)
        ));
    }
    if c.out_of_window_segments + v.out_of_window_segments > 0 {
        lines.push(format!(
            "out of window {} segs",
            pair(c.out_of_window_segments, v.out_of_window_segments)
        ));
    }
    if c.gaps + v.gaps > 0 {
        lines.push(format!(
            "gaps {} {}",
            c.gaps + v.gaps,
            text::bytes(c.gap_bytes + v.gap_bytes)
        ));
    }
    if lines.is_empty() {
        "none".to_owned()
    } else {
        lines.join("\n")
    }
}

fn capture_line(c: &CaptureSummary, style: &Style) -> String {
    let span = match (c.first_time, c.last_time) {
        (Some(first), Some(last)) => format!(
            ", {} → {} ({})",
            style.clock.date_time(first),
            style.clock.span_end(first, last),
            text::duration_nanos(last.nanos_since(first))
        ),
        _ => String::new(),
    };
    let format = match c.format {
        xmppcap::capture::Format::Pcap { .. } => "pcap",
        xmppcap::capture::Format::Pcapng => "pcapng",
        xmppcap::capture::Format::Har => "HAR",
    };
    let gzip = if c.gzip { ", gzip" } else { "" };
    format!(
        "capture {} ({format}{gzip}): {} packets{span}",
        terminal::field(&c.name),
        c.packets
    )
}

/// What the packets were: TCP segments, and the rest by kind.
fn decode_line(d: &DecodeStats) -> String {
    let mut parts = vec![format!("{} TCP segments", d.tcp_segments)];
    parts.extend(d.not_tcp.iter().map(|(kind, n)| format!("{n} {kind}")));
    let unsupported: u64 = d.unsupported_link_types.values().sum();
    if unsupported > 0 {
        let types: Vec<String> = d
            .unsupported_link_types
            .keys()
            .map(i32::to_string)
            .collect();
        parts.push(format!(
            "{unsupported} on unsupported link types ({})",
            types.join(", ")
        ));
    }
    let malformed: u64 = d.malformed.values().sum();
    if malformed > 0 {
        parts.push(format!("{malformed} malformed"));
    }
    format!("packets: {}", parts.join(", "))
}

fn opened(s: &StreamStats) -> &'static str {
    match s.origin {
        Origin::Handshake if s.syn_ack_seen => "SYN, SYN-ACK",
        Origin::Handshake => "SYN (no SYN-ACK)",
        Origin::SynAck => "SYN-ACK only",
        Origin::MidStream => "mid-stream",
    }
}
