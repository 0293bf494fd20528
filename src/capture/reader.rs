//! The streaming capture reader: pcap-parser's buffered readers driven block
//! by block, with framing checked before each block is parsed.
//!
//! Takes an opened byte source; gives [`Item`]s in file order, each borrowing
//! one block of the reader's buffer. Never holds more than one block (plus
//! the buffer) in memory, never grows the buffer past
//! `Limits::max_capture_block`, and never fails on the file's content: a cut
//! file, garbage or a read error end the stream with a finding.
//!
//! Each block is framed first (`framing`: is it whole, too big, garbage?),
//! then parsed by pcap-parser and handled per type (`blocks`).

use std::collections::VecDeque;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapNGReader};

use super::clock;
use super::framing::{describe_error, frame_ng_block, frame_pcap_record, Frame, INCOMPLETE};
use super::pcapng::{read_u32, Interface};
use super::source::{self, Filling, Opened, Progress};
use super::{ByteOrder, CaptureError, CaptureSummary, Format, Item, LinkType, Packet, Precision};
use crate::capture::FindingCode;
use crate::finding::Finding;
use crate::limits::Limits;
use crate::position::{FrameRef, Timestamp};

/// Initial buffer: large enough that refills are rare and cheap.
pub(crate) const DEFAULT_BUFFER: usize = 2 << 20;

type Inner = Box<dyn PcapReaderIterator + Send>;

/// Reads a pcap or pcapng capture (gzip-compressed or not) as a stream of [`Item`]s.
pub struct CaptureReader {
    /// `None` once reading has ended.
    inner: Option<Inner>,
    kind: Kind,
    max_block: usize,
    progress: Arc<Progress>,
    /// Bytes of the block handed out last, consumed at the next call.
    pending_consume: usize,
    skip: Option<Skip>,
    queued: VecDeque<Finding>,
    /// pcap records longer than the file's snapshot length (the first is a finding).
    records_over_snaplen: u64,
    /// Time of the last timestamped packet: SPBs carry no timestamp and get this one.
    last_ts: Timestamp,
    /// Spots absurd timestamps.
    clock: clock::Clock,
    summary: CaptureSummary,
}

enum Kind {
    Pcap {
        big_endian: bool,
        nanos: bool,
        record_header: usize,
        snaplen: u32,
        link_type: LinkType,
        header_done: bool,
    },
    Ng {
        big_endian: bool,
        interfaces: Vec<Interface>,
    },
}

/// An oversized block being skipped without buffering it.
#[derive(Clone, Copy)]
struct Skip {
    start: u64,
    remaining: u64,
    /// pcapng: the total length the trailing length field must repeat.
    trailer: Option<(u32, bool)>,
}

/// One step of reading, owning everything so that the buffer borrow ends.
enum Step {
    Continue,
    End,
    Finding(Finding),
    Packet(PacketMeta),
    KeyLog {
        at_offset: u64,
        start: usize,
        len: usize,
    },
}

struct PacketMeta {
    at: FrameRef,
    link_type: LinkType,
    orig_len: u32,
    interface: u32,
    start: usize,
    len: usize,
}

impl CaptureReader {
    /// Opens a capture file; `-` reads stdin. The format is recognised by content.
    pub fn open(path: &Path, limits: &Limits) -> Result<CaptureReader, CaptureError> {
        Ok(Self::from_opened(
            source::open_path(path)?,
            limits,
            DEFAULT_BUFFER,
        ))
    }

    /// Reads a capture from any byte stream; `name` is used in messages and the summary.
    pub fn from_reader(
        reader: Box<dyn Read + Send>,
        name: &str,
        limits: &Limits,
    ) -> Result<CaptureReader, CaptureError> {
        Self::with_buffer(reader, name, limits, DEFAULT_BUFFER)
    }

    /// Like [`CaptureReader::from_reader`] with a chosen initial buffer size (tests, fuzzing).
    pub(crate) fn with_buffer(
        reader: Box<dyn Read + Send>,
        name: &str,
        limits: &Limits,
        capacity: usize,
    ) -> Result<CaptureReader, CaptureError> {
        Ok(Self::from_opened(
            source::open_reader(reader, name)?,
            limits,
            capacity,
        ))
    }

    fn from_opened(opened: Opened, limits: &Limits, capacity: usize) -> CaptureReader {
        let Opened {
            name,
            format,
            gzip,
            first_block_len,
            source,
            progress,
        } = opened;
        // pcap-parser parses the first section header from its first read; a
        // header larger than the limit stays unread and is reported as corrupt.
        let capacity = capacity.max(first_block_len.unwrap_or(0).min(limits.max_capture_block));
        let (kind, created) = create_inner(format, source, capacity);
        let mut reader = CaptureReader {
            inner: None,
            kind,
            max_block: limits.max_capture_block,
            progress,
            pending_consume: 0,
            skip: None,
            queued: VecDeque::new(),
            records_over_snaplen: 0,
            last_ts: Timestamp::default(),
            clock: clock::Clock::default(),
            summary: CaptureSummary::new(name, format, gzip),
        };
        match created {
            Ok(inner) => reader.inner = Some(inner),
            // The first read did not even hold the file header: a cut file, a
            // read error, or a header pcap-parser rejects.
            Err(what) => {
                let finding = match reader.progress.take_error() {
                    Some(e) if e.kind() != io::ErrorKind::UnexpectedEof => reader.read_error(0, &e),
                    _ if what == INCOMPLETE => reader.truncated(0),
                    _ => reader.corrupt(0, &format!("the file header is malformed ({what})")),
                };
                reader.queued.push_back(finding);
            }
        }
        reader
    }

    /// The next packet, key log or finding; `None` at the end of the capture.
    /// What it borrows stays valid until the next call.
    pub fn next_item(&mut self) -> Option<Item<'_>> {
        if let Some(inner) = self.inner.as_mut() {
            inner.consume_noshift(std::mem::take(&mut self.pending_consume));
        }
        loop {
            if let Some(finding) = self.queued.pop_front() {
                return Some(Item::Finding(finding));
            }
            match self.step() {
                Step::Continue => {}
                Step::End => return None,
                Step::Finding(finding) => return Some(Item::Finding(finding)),
                Step::Packet(meta) => return Some(self.packet_item(meta)),
                Step::KeyLog {
                    at_offset,
                    start,
                    len,
                } => return Some(self.key_log_item(at_offset, start, len)),
            }
        }
    }

    /// Bytes read from the underlying file so far (compressed bytes for gzip): for a progress bar.
    pub fn bytes_read(&self) -> u64 {
        self.progress.raw_bytes()
    }

    /// What the capture is and held so far; complete once `next_item` has returned `None`.
    pub fn summary(&self) -> &CaptureSummary {
        &self.summary
    }

    fn packet_item(&self, meta: PacketMeta) -> Item<'_> {
        let bytes = self.inner.as_ref().and_then(|inner| {
            inner
                .data()
                .get(meta.start..meta.start.checked_add(meta.len)?)
        });
        match bytes {
            Some(data) => Item::Packet(Packet {
                at: meta.at,
                link_type: meta.link_type,
                data,
                orig_len: meta.orig_len,
                interface: meta.interface,
            }),
            // Unreachable: the range was checked against the parsed block, which is in the buffer.
            None => Item::Finding(internal_error(meta.at)),
        }
    }

    fn key_log_item(&self, at_offset: u64, start: usize, len: usize) -> Item<'_> {
        let text = self
            .inner
            .as_ref()
            .and_then(|inner| inner.data().get(start..start.checked_add(len)?));
        match text {
            Some(text) => Item::KeyLog { at_offset, text },
            // Unreachable, as for packets.
            None => Item::Finding(internal_error(FrameRef::default())),
        }
    }

    fn step(&mut self) -> Step {
        if self.inner.is_none() {
            return Step::End;
        }
        if let Some(skip) = self.skip {
            return self.step_skip(skip);
        }
        match self.frame() {
            Frame::NeedMore => self.refill_or_end(None),
            Frame::PcapHeader => self.pcap_header(),
            Frame::Corrupt(what) => {
                let offset = self.offset();
                Step::Finding(self.corrupt(offset, &what))
            }
            Frame::Oversized {
                len,
                packet,
                trailer,
            } => self.start_skip(len, packet, trailer),
            Frame::Block {
                len,
                big_endian,
                block_type,
            } => {
                if self.available() < len {
                    self.grow_for(len);
                    self.refill_or_end(None)
                } else if matches!(self.kind, Kind::Pcap { .. }) {
                    self.pcap_record(len)
                } else {
                    self.ng_block(len, big_endian, block_type)
                }
            }
        }
    }

    fn offset(&self) -> u64 {
        self.inner.as_ref().map_or(0, |i| i.consumed() as u64)
    }

    fn available(&self) -> usize {
        self.inner.as_ref().map_or(0, |i| i.data().len())
    }

    /// Looks at the bytes at the read position and decides how long the next block is.
    fn frame(&self) -> Frame {
        let Some(inner) = self.inner.as_ref() else {
            return Frame::NeedMore;
        };
        let data = inner.data();
        match &self.kind {
            Kind::Pcap {
                header_done: false, ..
            } => Frame::PcapHeader,
            Kind::Pcap {
                big_endian,
                record_header,
                snaplen,
                ..
            } => frame_pcap_record(data, *big_endian, *record_header, *snaplen, self.max_block),
            Kind::Ng { big_endian, .. } => frame_ng_block(data, *big_endian, self.max_block),
        }
    }

    /// Asks for more input; at the end of input, ends with the right finding.
    /// `record_start` overrides where the incomplete record starts (while skipping).
    fn refill_or_end(&mut self, record_start: Option<u64>) -> Step {
        let Some(inner) = self.inner.as_mut() else {
            return Step::End;
        };
        if !inner.reader_exhausted() {
            if inner.refill().is_err() {
                // Filling never fails (it turns errors into end of input); kept for safety.
                let offset = inner.consumed() as u64;
                let error = io::Error::other("read failed");
                return Step::Finding(self.read_error(offset, &error));
            }
            return Step::Continue;
        }
        let partial = !inner.data().is_empty() || record_start.is_some();
        let offset = record_start.unwrap_or(inner.consumed() as u64);
        match self.progress.take_error() {
            Some(e) if e.kind() != io::ErrorKind::UnexpectedEof => {
                Step::Finding(self.read_error(offset, &e))
            }
            Some(_) => Step::Finding(self.truncated(offset)),
            None if partial => Step::Finding(self.truncated(offset)),
            None => {
                self.finish();
                Step::End
            }
        }
    }

    fn grow_for(&mut self, len: usize) {
        if let Some(inner) = self.inner.as_mut() {
            let target = len.next_power_of_two().min(self.max_block).max(len);
            inner.grow(target);
        }
    }

    fn start_skip(&mut self, len: u64, packet: bool, trailer: Option<(u32, bool)>) -> Step {
        let offset = self.offset();
        self.skip = Some(Skip {
            start: offset,
            remaining: len,
            trailer,
        });
        let mut message = format!(
            "block of {len} bytes at byte {offset} exceeds the {}-byte limit (max_capture_block); skipped",
            self.max_block
        );
        let mut finding = Finding::new(FindingCode::OversizedBlock, String::new());
        if packet {
            self.summary.packets += 1;
            finding.frame = Some(self.summary.packets);
            message.push_str(" as a frame");
        }
        finding.message = message;
        Step::Finding(finding.at_offset(offset))
    }

    fn step_skip(&mut self, mut skip: Skip) -> Step {
        let Some(inner) = self.inner.as_mut() else {
            return Step::End;
        };
        let available = inner.data().len();
        let keep: u64 = if skip.trailer.is_some() { 4 } else { 0 };
        if skip.remaining > keep {
            let n = (skip.remaining - keep).min(available as u64);
            if n == 0 {
                return self.refill_or_end(Some(skip.start));
            }
            inner.consume_noshift(n as usize);
            skip.remaining -= n;
            self.skip = Some(skip);
            return Step::Continue;
        }
        if let Some((expected, big_endian)) = skip.trailer {
            if available < 4 {
                return self.refill_or_end(Some(skip.start));
            }
            let found = read_u32(inner.data(), 0, big_endian);
            if found != Some(expected) {
                self.skip = None;
                let what = format!(
                    "the block said to be {expected} bytes long ends with length {}",
                    found.unwrap_or(0)
                );
                return Step::Finding(self.corrupt(skip.start, &what));
            }
            inner.consume_noshift(4);
        }
        self.skip = None;
        Step::Continue
    }

    /// Ends reading and records how many bytes the capture format took.
    fn finish(&mut self) {
        if let Some(inner) = self.inner.take() {
            self.summary.file_bytes = inner.consumed() as u64 + inner.data().len() as u64;
        }
        self.skip = None;
        self.pending_consume = 0;
    }

    fn truncated(&mut self, offset: u64) -> Finding {
        self.finish();
        self.summary.truncated = true;
        let mut message = format!("capture truncated at byte {offset}");
        if self.summary.gzip {
            message.push_str(" of the decompressed data");
        }
        Finding::new(FindingCode::Truncated, message).at_offset(offset)
    }

    fn corrupt(&mut self, offset: u64, what: &str) -> Finding {
        self.finish();
        self.summary.corrupt = true;
        let message = format!("capture corrupt at byte {offset}: {what}; reading stopped");
        Finding::new(FindingCode::Corrupt, message).at_offset(offset)
    }

    fn read_error(&mut self, offset: u64, error: &io::Error) -> Finding {
        self.finish();
        self.summary.corrupt = true;
        let message = format!("read error after byte {offset}: {error}; reading stopped");
        Finding::new(FindingCode::ReadError, message).at_offset(offset)
    }
}

/// pcap-parser's reader for the format, and the reader state it starts with.
fn create_inner(format: Format, source: Filling, capacity: usize) -> (Kind, Result<Inner, String>) {
    match format {
        Format::Pcap {
            precision,
            byte_order,
            modified,
        } => {
            let kind = Kind::Pcap {
                big_endian: byte_order == ByteOrder::Big,
                nanos: precision == Precision::Nanoseconds,
                record_header: if modified { 24 } else { 16 },
                snaplen: 0,
                link_type: LinkType::ETHERNET,
                header_done: false,
            };
            let created = LegacyPcapReader::new(capacity, source)
                .map(|r| Box::new(r) as Inner)
                .map_err(|e| describe_error(&e));
            (kind, created)
        }
        // `source` never opens a HAR as a capture; the arm only keeps the match whole.
        Format::Pcapng | Format::Har => {
            let kind = Kind::Ng {
                big_endian: false,
                interfaces: Vec::new(),
            };
            let created = PcapNGReader::new(capacity, source)
                .map(|r| Box::new(r) as Inner)
                .map_err(|e| describe_error(&e));
            (kind, created)
        }
    }
}

fn internal_error(at: FrameRef) -> Finding {
    Finding::new(
        FindingCode::Internal,
        "internal error: a parsed block was not in the buffer",
    )
    .at(at)
}

mod blocks;
#[cfg(test)]
mod tests;
