//! Test helpers: pcap and pcapng files written byte by byte (in either byte
//! order, with any block, including malformed ones), and a reader that
//! collects everything a capture yields into owned values.

use std::io::Cursor;

use super::reader::CaptureReader;
use super::{CaptureSummary, Item};
use crate::finding::Finding;
use crate::limits::Limits;

fn put_u16(out: &mut Vec<u8>, v: u16, big_endian: bool) {
    out.extend_from_slice(&if big_endian {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    });
}

fn put_u32(out: &mut Vec<u8>, v: u32, big_endian: bool) {
    out.extend_from_slice(&if big_endian {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    });
}

fn pad4(out: &mut Vec<u8>) {
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

/// One libpcap record: seconds, fraction (µs or ns), captured bytes, wire length.
pub(crate) struct Record<'a> {
    pub secs: u32,
    pub frac: u32,
    pub data: &'a [u8],
    pub orig_len: u32,
}

/// A whole libpcap file.
pub(crate) fn pcap_file(
    big_endian: bool,
    nanos: bool,
    link_type: u32,
    snaplen: u32,
    records: &[Record<'_>],
) -> Vec<u8> {
    let mut out = Vec::new();
    put_u32(
        &mut out,
        if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 },
        big_endian,
    );
    put_u16(&mut out, 2, big_endian);
    put_u16(&mut out, 4, big_endian);
    put_u32(&mut out, 0, big_endian);
    put_u32(&mut out, 0, big_endian);
    put_u32(&mut out, snaplen, big_endian);
    put_u32(&mut out, link_type, big_endian);
    for r in records {
        put_u32(&mut out, r.secs, big_endian);
        put_u32(&mut out, r.frac, big_endian);
        put_u32(&mut out, r.data.len() as u32, big_endian);
        put_u32(&mut out, r.orig_len, big_endian);
        out.extend_from_slice(r.data);
    }
    out
}

/// A pcapng file under construction; every section switches the byte order.
pub(crate) struct Ng {
    pub bytes: Vec<u8>,
    big_endian: bool,
}

pub(crate) const OPT_TSRESOL: u16 = 9;
pub(crate) const OPT_TSOFFSET: u16 = 14;

impl Ng {
    pub(crate) fn new() -> Ng {
        Ng {
            bytes: Vec::new(),
            big_endian: false,
        }
    }

    /// Any block: type, body (padded to 4 bytes), with both lengths.
    pub(crate) fn block(mut self, block_type: u32, body: &[u8]) -> Ng {
        let be = self.big_endian;
        let mut body = body.to_vec();
        pad4(&mut body);
        let len = 12 + body.len() as u32;
        put_u32(&mut self.bytes, block_type, be);
        put_u32(&mut self.bytes, len, be);
        self.bytes.extend_from_slice(&body);
        put_u32(&mut self.bytes, len, be);
        self
    }

    /// A Section Header Block in the given byte order.
    pub(crate) fn section(mut self, big_endian: bool) -> Ng {
        self.big_endian = big_endian;
        let mut body = Vec::new();
        put_u32(&mut body, 0x1A2B_3C4D, big_endian);
        put_u16(&mut body, 1, big_endian);
        put_u16(&mut body, 0, big_endian);
        body.extend_from_slice(&[0xff; 8]); // section length unknown
        self.block(0x0A0D_0D0A, &body)
    }

    /// An Interface Description Block with options `(code, value)`.
    pub(crate) fn interface(self, link_type: u16, snaplen: u32, options: &[(u16, &[u8])]) -> Ng {
        let be = self.big_endian;
        let mut body = Vec::new();
        put_u16(&mut body, link_type, be);
        put_u16(&mut body, 0, be);
        put_u32(&mut body, snaplen, be);
        if !options.is_empty() {
            for (code, value) in options {
                put_u16(&mut body, *code, be);
                put_u16(&mut body, value.len() as u16, be);
                body.extend_from_slice(value);
                pad4(&mut body);
            }
            put_u32(&mut body, 0, be);
        }
        self.block(1, &body)
    }

    /// An `if_tsoffset` option value in this section's byte order.
    pub(crate) fn ts_offset(&self, secs: i64) -> Vec<u8> {
        if self.big_endian {
            secs.to_be_bytes().to_vec()
        } else {
            secs.to_le_bytes().to_vec()
        }
    }

    pub(crate) fn epb(self, if_id: u32, ts: u64, data: &[u8], orig_len: u32) -> Ng {
        let be = self.big_endian;
        let mut body = Vec::new();
        put_u32(&mut body, if_id, be);
        put_u32(&mut body, (ts >> 32) as u32, be);
        put_u32(&mut body, ts as u32, be);
        put_u32(&mut body, data.len() as u32, be);
        put_u32(&mut body, orig_len, be);
        body.extend_from_slice(data);
        self.block(6, &body)
    }

    pub(crate) fn spb(self, data: &[u8], orig_len: u32) -> Ng {
        let mut body = Vec::new();
        put_u32(&mut body, orig_len, self.big_endian);
        body.extend_from_slice(data);
        self.block(3, &body)
    }

    /// The obsolete Packet Block (type 2).
    pub(crate) fn pb(self, if_id: u16, ts: u64, data: &[u8], orig_len: u32) -> Ng {
        let be = self.big_endian;
        let mut body = Vec::new();
        put_u16(&mut body, if_id, be);
        put_u16(&mut body, 0, be);
        put_u32(&mut body, (ts >> 32) as u32, be);
        put_u32(&mut body, ts as u32, be);
        put_u32(&mut body, data.len() as u32, be);
        put_u32(&mut body, orig_len, be);
        body.extend_from_slice(data);
        self.block(2, &body)
    }

    /// A Decryption Secrets Block.
    pub(crate) fn dsb(self, secrets_type: u32, secrets: &[u8]) -> Ng {
        let mut body = Vec::new();
        put_u32(&mut body, secrets_type, self.big_endian);
        put_u32(&mut body, secrets.len() as u32, self.big_endian);
        body.extend_from_slice(secrets);
        self.block(10, &body)
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// A packet as the reader gave it, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    pub frame: u64,
    pub nanos: i64,
    pub link_type: i32,
    pub data: Vec<u8>,
    pub orig_len: u32,
    pub interface: u32,
}

/// Everything a capture yields.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub packets: Vec<Seen>,
    pub key_logs: Vec<(u64, Vec<u8>)>,
    pub findings: Vec<Finding>,
    /// `capture.time_glitch` findings.
    pub time_glitches: Vec<Finding>,
    pub summary: Option<CaptureSummary>,
}

/// Reads a capture held in memory with the given limits and initial buffer size.
pub(crate) fn collect_with(bytes: &[u8], limits: &Limits, buffer: usize) -> Collected {
    let source = Box::new(Cursor::new(bytes.to_vec()));
    let mut reader = match CaptureReader::with_buffer(source, "test", limits, buffer) {
        Ok(r) => r,
        Err(e) => panic!("not opened: {e}"),
    };
    let mut out = Collected::default();
    while let Some(item) = reader.next_item() {
        match item {
            Item::Packet(p) => out.packets.push(Seen {
                frame: p.at.frame,
                nanos: p.at.ts.as_nanos(),
                link_type: p.link_type.0,
                data: p.data.to_vec(),
                orig_len: p.orig_len,
                interface: p.interface,
            }),
            Item::KeyLog { at_offset, text } => out.key_logs.push((at_offset, text.to_vec())),
            // Test captures are mostly dated 1970: their time glitches are kept apart.
            Item::Finding(f) if f.code == "capture.time_glitch" => out.time_glitches.push(f),
            Item::Finding(f) => out.findings.push(f),
        }
    }
    out.summary = Some(reader.summary().clone());
    out
}

/// Reads a capture held in memory with default limits.
pub(crate) fn collect(bytes: &[u8]) -> Collected {
    collect_with(bytes, &Limits::default(), 4096)
}
