//! Every cap xmppcap puts on memory and work, in one place.
//!
//! Takes nothing; gives the numbers each stage checks before it buffers,
//! allocates or inflates. Hitting a cap is always a finding in the report and
//! the stage skips or resynchronises; it is never a crash or an abort. The
//! per-connection caps multiply by the connections open at once, so one
//! budget ([`Limits::memory_budget`]) bounds what all of them hold together,
//! and what every open connection costs: when it is full, the largest holder
//! or the least recently active connection is finished early
//! ([`FindingCode::Memory`]). What the report keeps for table, JSON and
//! HTML is capped in bytes beside it (`max_report_bytes`,
//! `max_timeline_bytes`: [`FindingCode::Report`], `report.timeline_cut`).
//! The defaults keep peak memory under about 150 MB on any capture in every
//! output format while leaving real Finesse traffic untouched;
//! [`Limits::with_memory_limit`] scales them. README.md lists them.

use std::time::Duration;

/// All caps, grouped by stage. `Limits::default()` is what the CLI uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    // --- whole analysis ---
    /// Bytes every connection's buffers (out-of-order data, partial records,
    /// heads, bodies, WebSocket messages, stanzas), its fixed state (TCP
    /// flow, stages, permessage-deflate inflaters) and the capture-wide
    /// maps (BOSH sessions, the Finesse stage, the TLS key material) may
    /// hold together (`pipeline::budget` says how each is counted). Past it
    /// the connection holding the most in buffers is finished early, or,
    /// when many connections each hold little, the least recently active
    /// one with its TCP flow released; each with a `limits.memory` finding,
    /// and the analysis goes on (`--memory-limit`).
    pub memory_budget: usize,

    // --- capture ---
    /// Largest pcap record or pcapng block accepted; larger ones are skipped with a finding.
    pub max_capture_block: usize,

    // --- decode ---
    /// Encapsulations (GRE, ERSPAN, VXLAN, MPLS, PPPoE, IP-in-IP) unwrapped in
    /// one packet; a deeper packet is skipped and counted (`decode.nesting_limit`).
    pub max_encapsulation_depth: usize,
    /// IPv4 and IPv6 datagrams being reassembled from fragments at once.
    pub max_fragment_datagrams: usize,
    /// Bytes held in all incomplete fragmented datagrams together.
    pub max_fragment_bytes: usize,
    /// An incomplete fragmented datagram older than this (capture time) is dropped.
    pub fragment_timeout: Duration,

    // --- tcp ---
    /// TCP connections tracked at once; the least recently active one is closed to make room.
    pub max_open_flows: usize,
    /// Out-of-order bytes buffered per direction before the hole is declared a gap.
    pub max_ooo_bytes_per_dir: usize,
    /// Out-of-order segments buffered per direction.
    pub max_ooo_segments_per_dir: usize,
    /// A connection whose two FINs came but not the ACK of the last one (the
    /// capture missed it) is released after no packet for this long (capture
    /// time); a RST or both FINs acknowledged release it at once. Its stream
    /// number is remembered either way; an open one is never closed for
    /// being silent.
    pub flow_idle_timeout: Duration,

    // --- tls ---
    /// Largest TLS record body accepted (2^14 + 2048 is the protocol maximum for ciphertext).
    pub max_tls_record: usize,
    /// Largest handshake message (certificate chains can be long).
    pub max_tls_handshake_message: usize,
    /// Sequence numbers tried per key when decryption starts mid-connection.
    pub tls_midstream_seq_search: u64,
    /// Work one search of the key log may do for a direction joined
    /// mid-connection, in AEAD input bytes (record length per trial, plus a
    /// fixed share per trial and per derived key). Past it the search stops
    /// and the direction's `tls.undecryptable` reason says after how many
    /// secrets, so a capture of many such connections against a big key log
    /// costs linear time.
    pub tls_midstream_search_bytes: u64,
    /// Certificates summarised per Certificate message (real chains have 2 to 5).
    pub max_tls_certificates: usize,
    /// Cipher suites, versions and ALPN names kept per hello, and alerts kept
    /// per connection; the rest are counted (`tls.list_limit`).
    pub max_tls_list_items: usize,
    /// TLS secrets held in memory from pcapng Decryption Secrets Blocks and
    /// key log text that is not a regular file (a pipe), together (a
    /// repeated secret counts once); later new ones are counted, not kept
    /// (`tls.key_secret_limit`). About 150 bytes each.
    pub max_key_secrets: usize,
    /// TLS secrets of key log files indexed where they lie (16 bytes each:
    /// the secret is read back from the file when a connection needs it);
    /// later new ones are counted, not kept (`tls.key_secret_limit`).
    pub max_key_file_secrets: usize,
    /// Key sources (key log files, Decryption Secrets Blocks) named one by
    /// one; later ones are still used but named together (`tls.key_source_limit`).
    pub max_key_sources: usize,

    // --- http ---
    /// Bytes of a request or response head (request line plus headers).
    pub max_http_head: usize,
    /// Header lines per request or response.
    pub max_http_headers: usize,
    /// Body bytes kept per message (BOSH, REST payloads); the rest is counted and skipped.
    pub max_http_body: usize,
    /// Bytes of a body copied as text into an exchange (XML, JSON, text bodies).
    pub max_http_body_text: usize,
    /// Requests waiting for their response on one connection (pipelining); older ones are
    /// reported unanswered to make room.
    pub max_http_pending: usize,
    /// BOSH sessions (sid) tracked at once; the least recently active one is forgotten.
    pub max_bosh_sessions: usize,

    // --- ws ---
    /// Bytes of one WebSocket message (all fragments) kept before it is truncated.
    pub max_ws_message: usize,
    /// Inflated bytes of one permessage-deflate message.
    pub max_inflated_message: usize,
    /// Inflated-to-compressed ratio above which inflation stops (decompression bombs).
    pub max_inflate_ratio: u64,
    /// Longest frame payload accepted while hunting for a frame boundary (capture
    /// started mid-connection, or after a gap); bytes buffered while hunting stay
    /// under about twice this.
    pub max_ws_resync_frame: usize,

    // --- xmpp ---
    /// Element nesting depth inside one stanza.
    pub max_xml_depth: usize,

    /// Bytes of one stanza (or notification payload).
    pub max_stanza_bytes: usize,
    /// Elements of one stanza kept for analysis; the rest are still checked, then dropped.
    pub max_xml_nodes: usize,
    /// iq requests awaiting their reply per XMPP session; the oldest is dropped to make room.
    pub max_pending_iqs: usize,
    // --- report ---
    /// Events kept for a table, JSON or HTML timeline (NDJSON streams them all).
    pub max_timeline_events: usize,
    /// About how many bytes those events may hold together (long message
    /// texts and bodies count by their length; each event at least 512).
    pub max_timeline_bytes: usize,
    /// About how many bytes the connection and session summaries and the
    /// findings kept for table, JSON and HTML may hold together (each
    /// counted by its inline size plus its JSON length): summaries stop at
    /// three quarters of it, findings may use the rest. What no longer fits
    /// is counted, not kept, and said once (`limits.report`); NDJSON
    /// streams it all.
    pub max_report_bytes: usize,
    /// Connection and session summaries kept for table, JSON and HTML (each
    /// a few hundred bytes); the rest are counted (`tcp.summary_limit`,
    /// `xmpp.summary_limit`); the desktop story sees every connection.
    pub max_summaries: usize,
    /// Connections listed per desktop (notification connections and refused
    /// or unanswered attempts, about 200 bytes each), and REST nodes, users
    /// and attempt runs followed per desktop; the rest are counted
    /// (`conn.desktop_limit`).
    pub max_desktop_connections: usize,
    /// Desktops (client addresses) followed across connections; connections
    /// of later ones are counted, not told (`conn.desktop_limit`).
    pub max_desktops: usize,
    // --- conn ---
    /// Keepalive intervals kept per connection for their median (the
    /// first ones; later exchanges are counted only).
    pub max_keepalive_intervals: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            // Held bytes are counted by length, and a growing buffer may
            // have up to twice that allocated; beside the budget, what the
            // TCP stage keeps per connection seen (its flow, its table
            // slot, and, in NDJSON too, the desktop story and cut records)
            // is not accounted: 48 MiB leaves room for the report's
            // 32 + 16 MiB and the rest under 150 MB on issue 13's hostile
            // captures in every format (at most 119 MB, BENCHMARKS.md; 64
            // MiB gave 159 MB for NDJSON and 170 MB for JSON on 65,536
            // connections each holding out-of-order segments).
            memory_budget: DEFAULT_MEMORY_BUDGET,
            max_capture_block: 16 << 20,
            max_encapsulation_depth: 8,
            max_fragment_datagrams: 1024,
            max_fragment_bytes: 8 << 20,
            fragment_timeout: Duration::from_secs(60),
            max_open_flows: 65_536,
            max_ooo_bytes_per_dir: 1 << 20,
            max_ooo_segments_per_dir: 4096,
            flow_idle_timeout: Duration::from_secs(3600),
            max_tls_record: (1 << 14) + 2048,
            max_tls_handshake_message: 256 << 10,
            tls_midstream_seq_search: 64,
            tls_midstream_search_bytes: 2 << 20,
            max_tls_certificates: 16,
            max_tls_list_items: 256,
            max_key_secrets: 200_000,
            max_key_file_secrets: 1_000_000,
            max_key_sources: 1024,
            max_http_head: 64 << 10,
            max_http_headers: 128,
            max_http_body: 4 << 20,
            max_http_body_text: 64 << 10,
            max_http_pending: 256,
            max_bosh_sessions: 1024,
            max_ws_message: 8 << 20,
            max_inflated_message: 8 << 20,
            max_inflate_ratio: 1000,
            max_ws_resync_frame: 256 << 10,
            max_xml_depth: 64,
            max_timeline_events: 200_000,
            max_timeline_bytes: DEFAULT_TIMELINE_BYTES,
            max_report_bytes: DEFAULT_REPORT_BYTES,
            max_summaries: 100_000,
            max_desktop_connections: 10_000,
            max_desktops: 10_000,
            max_stanza_bytes: 4 << 20,
            max_xml_nodes: 4096,
            max_pending_iqs: 4096,
            max_keepalive_intervals: 1024,
        }
    }
}

/// The default [`Limits::memory_budget`].
pub const DEFAULT_MEMORY_BUDGET: usize = 48 << 20;
/// The default [`Limits::max_timeline_bytes`]: with the budget full and the
/// report at its cap, peak RSS stays under 150 MB (BENCHMARKS.md, issue 13).
pub const DEFAULT_TIMELINE_BYTES: usize = 16 << 20;
/// The default [`Limits::max_report_bytes`] (see [`DEFAULT_TIMELINE_BYTES`]):
/// about 7,000 connection summaries. The sizes counted are JSON lengths,
/// above the heap they take: 16 MiB of report and 16 MiB of timeline cost
/// 13 MB of RSS on 65,536 connections.
pub const DEFAULT_REPORT_BYTES: usize = 32 << 20;
/// The least [`Limits::with_memory_limit`] gives the report's caps.
const MIN_REPORT_BYTES: usize = 1 << 20;

impl Limits {
    /// The defaults with a memory budget of `bytes` (`--memory-limit`): the
    /// report's byte caps (`max_report_bytes`, `max_timeline_bytes`) scale
    /// by the same ratio to the default budget, so that peak memory stays
    /// about proportional (at least 1 MiB each).
    pub fn with_memory_limit(bytes: usize) -> Limits {
        let scaled = |default: usize| {
            let ratio = bytes as f64 / DEFAULT_MEMORY_BUDGET as f64;
            // A float: `default * bytes` overflows for budgets near usize::MAX.
            let value = (default as f64 * ratio).min(usize::MAX as f64) as usize;
            value.max(MIN_REPORT_BYTES)
        };
        Limits {
            memory_budget: bytes,
            max_timeline_bytes: scaled(DEFAULT_TIMELINE_BYTES),
            max_report_bytes: scaled(DEFAULT_REPORT_BYTES),
            ..Limits::default()
        }
    }
}

crate::finding::codes::finding_codes! {
    /// What the whole-analysis budget cuts.
    pub enum FindingCode in Limits {
        /// What all connections and the capture-wide maps held together passed `memory_budget`: the connection holding the most in buffers was finished early with what it had (its later bytes counted as unparsed), or, under connection-count pressure, the least recently active one, with its TCP flow released.
        Memory => "limits.memory", Warn;
        /// What the report keeps for table, JSON and HTML (connection and session summaries, findings) reached `max_report_bytes`: later ones were counted, not kept; the finding says how many of each. NDJSON streams them all.
        Report => "limits.report", Warn;
    }
}
