//! The streaming capture reader: pcap-parser's buffered readers driven block
//! by block, with framing checked before each block is parsed.
//!
//! Takes an opened byte source; gives [`Item`]s in file order, each borrowing
//! one block of the reader's buffer. Never holds more than one block (plus
//! the buffer) in memory, never grows the buffer past
//! `Limits::max_capture_block`, and never fails on the file's content: a cut
//! file, garbage or a read error end the stream with a finding.
//!
//! Framing is checked here, not left to pcap-parser, because its streaming
//! readers report a block whose inner lengths disagree with its total length
//! as "incomplete" (which would read as a truncated file) and cannot skip a
//! block larger than their buffer.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use pcap_parser::pcapng::SecretsType;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{
    Block, LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader, EPB_MAGIC, SHB_MAGIC,
    SPB_MAGIC,
};

use super::pcapng::{
    parse_obsolete_packet, read_u32, Interface, Resolution, DSB_DATA_OFFSET, EPB_DATA_OFFSET,
    PB_MAGIC, SPB_DATA_OFFSET,
};
use super::source::{self, Opened, Progress};
use super::{
    CaptureError, CaptureSummary, Format, InterfaceSummary, Item, LinkType, Packet, Precision,
};
use crate::common::{FrameRef, Timestamp};
use crate::finding::{Finding, Layer, Level};
use crate::limits::Limits;

/// Initial buffer: large enough that refills are rare and cheap.
pub(crate) const DEFAULT_BUFFER: usize = 2 << 20;
/// Wireshark's largest ordinary packet; a pcap record claiming more than this
/// and more than the file's snapshot length is garbage, not a packet.
const PLAUSIBLE_RECORD: u32 = 262_144;
/// Byte-order magic of a pcapng section header, as read little-endian.
const BOM_LE: u32 = 0x1A2B_3C4D;
const BOM_BE: u32 = 0x4D3C_2B1A;

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
    /// Time of the last timestamped packet: SPBs carry no timestamp and get this one.
    last_ts: Timestamp,
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

/// How the bytes at the read position are framed.
enum Frame {
    NeedMore,
    PcapHeader,
    Corrupt(String),
    Oversized {
        len: u64,
        packet: bool,
        trailer: Option<(u32, bool)>,
    },
    Block {
        len: usize,
        big_endian: bool,
        block_type: u32,
    },
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

/// A pcapng block reduced to the owned facts the reader needs.
enum NgBlock {
    Section {
        big_endian: bool,
    },
    Interface(Interface, bool),
    Enhanced {
        if_id: u32,
        ts_units: u64,
        orig_len: u32,
        len: usize,
    },
    Simple {
        orig_len: u32,
        len: usize,
    },
    Secrets {
        tls: bool,
        secrets_type: u32,
        len: usize,
    },
    Other,
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
        let created: Result<Inner, String>;
        let kind = match format {
            Format::Pcap {
                precision,
                byte_order,
                modified,
            } => {
                created = LegacyPcapReader::new(capacity, source)
                    .map(|r| Box::new(r) as Inner)
                    .map_err(|e| describe_error(&e));
                Kind::Pcap {
                    big_endian: byte_order == super::ByteOrder::Big,
                    nanos: precision == Precision::Nanoseconds,
                    record_header: if modified { 24 } else { 16 },
                    snaplen: 0,
                    link_type: LinkType::ETHERNET,
                    header_done: false,
                }
            }
            Format::Pcapng => {
                created = PcapNGReader::new(capacity, source)
                    .map(|r| Box::new(r) as Inner)
                    .map_err(|e| describe_error(&e));
                Kind::Ng {
                    big_endian: false,
                    interfaces: Vec::new(),
                }
            }
        };
        let mut reader = CaptureReader {
            inner: None,
            kind,
            max_block: limits.max_capture_block,
            progress,
            pending_consume: 0,
            skip: None,
            queued: VecDeque::new(),
            last_ts: Timestamp::default(),
            summary: CaptureSummary {
                name,
                format,
                gzip,
                sections: 0,
                interfaces: Vec::new(),
                packets: 0,
                packets_per_link_type: Default::default(),
                first_time: None,
                last_time: None,
                bytes: 0,
                file_bytes: 0,
                key_logs: 0,
                truncated: false,
                corrupt: false,
            },
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

    /// The pcap file header (already parsed when the reader was created).
    fn pcap_header(&mut self) -> Step {
        let Some(inner) = self.inner.as_mut() else {
            return Step::End;
        };
        let header = match inner.next() {
            Ok((len, PcapBlockOwned::LegacyHeader(h))) => Ok((len, h.snaplen, h.network)),
            Ok(_) => Err("expected the file header".to_string()),
            Err(e) => Err(describe_error(&e)),
        };
        let (len, file_snaplen, network) = match header {
            Ok(h) => h,
            Err(what) => return Step::Finding(self.corrupt(0, &what)),
        };
        inner.consume_noshift(len);
        // The upper bits of the link type field carry FCS information (libpcap's LT_LINKTYPE).
        let file_link_type = LinkType(network.0 & 0xffff);
        if let Kind::Pcap {
            snaplen,
            link_type,
            header_done,
            nanos,
            ..
        } = &mut self.kind
        {
            *snaplen = file_snaplen;
            *link_type = file_link_type;
            *header_done = true;
            let resolution = if *nanos {
                Resolution::NANOS
            } else {
                Resolution::MICROS
            };
            self.summary.sections = 1;
            self.summary.interfaces.push(InterfaceSummary {
                section: 0,
                index: 0,
                link_type: file_link_type.0,
                snaplen: file_snaplen,
                ts_resolution: resolution.describe(),
                ts_offset_secs: 0,
            });
        }
        Step::Continue
    }

    fn pcap_record(&mut self, len: usize) -> Step {
        let Kind::Pcap {
            nanos,
            record_header,
            link_type,
            ..
        } = self.kind
        else {
            return Step::End;
        };
        let Some(inner) = self.inner.as_mut() else {
            return Step::End;
        };
        let offset = inner.consumed() as u64;
        let record = match inner.next() {
            Ok((_, PcapBlockOwned::Legacy(b))) => {
                Ok((b.ts_sec, b.ts_usec, b.origlen, b.data.len()))
            }
            Ok(_) => Err("expected a packet record".to_string()),
            Err(e) => Err(describe_error(&e)),
        };
        let (ts_sec, ts_frac, orig_len, data_len) = match record {
            Ok(r) => r,
            // Unreachable after framing; a record is just a header and bytes.
            Err(what) => return Step::Finding(self.corrupt(offset, &what)),
        };
        let frac_nanos = if nanos {
            u64::from(ts_frac)
        } else {
            u64::from(ts_frac) * 1000
        };
        let ts = Timestamp::from_secs_nanos(i64::from(ts_sec), frac_nanos);
        self.packet(ts, link_type, 0, orig_len, record_header, data_len, len)
    }

    /// Counts a packet record and hands out its bytes (`start..start + data_len` of the block).
    #[allow(clippy::too_many_arguments)]
    fn packet(
        &mut self,
        ts: Timestamp,
        link_type: LinkType,
        interface: u32,
        orig_len: u32,
        start: usize,
        data_len: usize,
        block_len: usize,
    ) -> Step {
        let s = &mut self.summary;
        s.packets += 1;
        *s.packets_per_link_type.entry(link_type.0).or_insert(0) += 1;
        s.bytes += data_len as u64;
        s.first_time = Some(s.first_time.map_or(ts, |t| t.min(ts)));
        s.last_time = Some(s.last_time.map_or(ts, |t| t.max(ts)));
        self.last_ts = ts;
        self.pending_consume = block_len;
        Step::Packet(PacketMeta {
            at: FrameRef::new(s.packets, ts),
            link_type,
            orig_len,
            interface,
            start,
            len: data_len,
        })
    }

    fn consume_now(&mut self, len: usize) {
        if let Some(inner) = self.inner.as_mut() {
            inner.consume_noshift(len);
        }
    }

    fn ng_block(&mut self, len: usize, big_endian: bool, block_type: u32) -> Step {
        let Some(inner) = self.inner.as_mut() else {
            return Step::End;
        };
        let offset = inner.consumed() as u64;
        let data = inner.data();
        let Some(block) = data.get(..len) else {
            return Step::End;
        };
        let trailer = read_u32(block, len.saturating_sub(4), big_endian);
        if trailer != Some(len as u32) {
            let what = format!(
                "block type 0x{block_type:08x} of {len} bytes ends with length {}",
                trailer.unwrap_or(0)
            );
            return Step::Finding(self.corrupt(offset, &what));
        }
        if block_type == PB_MAGIC {
            return self.obsolete_packet(offset, len, big_endian);
        }
        let parsed = match inner.next() {
            Ok((_, PcapBlockOwned::NG(b))) => Ok(classify(&b, big_endian)),
            Ok(_) => Ok(NgBlock::Other),
            Err(e) => Err(describe_error(&e)),
        };
        match parsed {
            Ok(block) => self.on_ng_block(block, offset, len),
            Err(what) if block_type == SHB_MAGIC => Step::Finding(self.corrupt(offset, &what)),
            Err(what) => self.bad_block(offset, len, block_type, &what),
        }
    }

    fn on_ng_block(&mut self, block: NgBlock, offset: u64, len: usize) -> Step {
        match block {
            NgBlock::Section { big_endian: be } => {
                if let Kind::Ng {
                    big_endian,
                    interfaces,
                } = &mut self.kind
                {
                    *big_endian = be;
                    interfaces.clear();
                }
                self.summary.sections += 1;
                self.consume_now(len);
                Step::Continue
            }
            NgBlock::Interface(interface, bad_resolution) => {
                self.consume_now(len);
                self.add_interface(interface, bad_resolution, offset)
            }
            NgBlock::Enhanced {
                if_id,
                ts_units,
                orig_len,
                len: data_len,
            } => match self.interface(if_id) {
                Some(i) => {
                    let ts = i.resolution.timestamp(ts_units, i.offset_secs);
                    self.packet(
                        ts,
                        i.link_type,
                        if_id,
                        orig_len,
                        EPB_DATA_OFFSET,
                        data_len,
                        len,
                    )
                }
                None => self.bad_interface(offset, len, if_id),
            },
            NgBlock::Simple {
                orig_len,
                len: data_len,
            } => match self.interface(0) {
                Some(i) => {
                    let cut = if i.snaplen == 0 {
                        data_len
                    } else {
                        data_len.min(i.snaplen as usize)
                    };
                    let ts = self.last_ts;
                    self.packet(ts, i.link_type, 0, orig_len, SPB_DATA_OFFSET, cut, len)
                }
                None => self.bad_interface(offset, len, 0),
            },
            NgBlock::Secrets {
                tls,
                secrets_type,
                len: secrets_len,
            } => {
                if tls {
                    self.summary.key_logs += 1;
                    self.pending_consume = len;
                    return Step::KeyLog {
                        at_offset: offset,
                        start: DSB_DATA_OFFSET,
                        len: secrets_len,
                    };
                }
                self.consume_now(len);
                let message = format!(
                    "decryption secrets of type 0x{secrets_type:08x} at byte {offset} ignored (only TLS key logs are used)"
                );
                Step::Finding(
                    Finding::new(
                        Level::Info,
                        Layer::Capture,
                        "capture.secrets_ignored",
                        message,
                    )
                    .at_offset(offset),
                )
            }
            NgBlock::Other => {
                self.consume_now(len);
                Step::Continue
            }
        }
    }

    fn obsolete_packet(&mut self, offset: u64, len: usize, big_endian: bool) -> Step {
        let block = self.inner.as_ref().and_then(|i| i.data().get(..len));
        match block.and_then(|b| parse_obsolete_packet(b, big_endian)) {
            Some(pb) => match self.interface(u32::from(pb.interface)) {
                Some(i) => {
                    let ts = i.resolution.timestamp(pb.ts_units, i.offset_secs);
                    let interface = u32::from(pb.interface);
                    self.packet(
                        ts,
                        i.link_type,
                        interface,
                        pb.orig_len,
                        EPB_DATA_OFFSET,
                        pb.data_len,
                        len,
                    )
                }
                None => self.bad_interface(offset, len, u32::from(pb.interface)),
            },
            None => self.bad_block(offset, len, PB_MAGIC, "captured length exceeds the block"),
        }
    }

    fn interface(&self, index: u32) -> Option<Interface> {
        match &self.kind {
            Kind::Ng { interfaces, .. } => interfaces.get(usize::try_from(index).ok()?).copied(),
            Kind::Pcap { .. } => None,
        }
    }

    fn add_interface(&mut self, interface: Interface, bad_resolution: bool, offset: u64) -> Step {
        let Kind::Ng { interfaces, .. } = &mut self.kind else {
            return Step::Continue;
        };
        let index = interfaces.len() as u32;
        interfaces.push(interface);
        let section = self.summary.sections.saturating_sub(1);
        self.summary
            .interfaces
            .push(interface.summary(section, index));
        if !bad_resolution {
            return Step::Continue;
        }
        let message = format!(
            "interface {index} (block at byte {offset}) has an unusable if_tsresol; microseconds assumed"
        );
        Step::Finding(
            Finding::new(Level::Warn, Layer::Capture, "capture.bad_tsresol", message)
                .at_offset(offset),
        )
    }

    /// A packet block naming an interface its section never described: counted as a frame, skipped.
    fn bad_interface(&mut self, offset: u64, len: usize, if_id: u32) -> Step {
        self.consume_now(len);
        self.summary.packets += 1;
        let known = match &self.kind {
            Kind::Ng { interfaces, .. } => interfaces.len(),
            Kind::Pcap { .. } => 0,
        };
        let message = format!(
            "packet block at byte {offset} refers to interface {if_id}, but its section describes {known}; skipped"
        );
        let mut finding = Finding::new(
            Level::Warn,
            Layer::Capture,
            "capture.bad_interface",
            message,
        )
        .at_offset(offset);
        finding.frame = Some(self.summary.packets);
        Step::Finding(finding)
    }

    /// A well-framed block whose content is malformed: skipped (a packet block still counts as a frame).
    fn bad_block(&mut self, offset: u64, len: usize, block_type: u32, what: &str) -> Step {
        self.consume_now(len);
        let mut message = format!(
            "block type 0x{block_type:08x} at byte {offset} is malformed ({what}); skipped"
        );
        let mut frame = None;
        if is_packet_block(block_type) {
            self.summary.packets += 1;
            frame = Some(self.summary.packets);
            message.push_str(" as a frame");
        }
        let mut finding = Finding::new(Level::Warn, Layer::Capture, "capture.bad_block", message)
            .at_offset(offset);
        finding.frame = frame;
        Step::Finding(finding)
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
        let mut finding = Finding::new(
            Level::Warn,
            Layer::Capture,
            "capture.oversized_block",
            String::new(),
        );
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
        Finding::new(Level::Warn, Layer::Capture, "capture.truncated", message).at_offset(offset)
    }

    fn corrupt(&mut self, offset: u64, what: &str) -> Finding {
        self.finish();
        self.summary.corrupt = true;
        let message = format!("capture corrupt at byte {offset}: {what}; reading stopped");
        Finding::new(Level::Error, Layer::Capture, "capture.corrupt", message).at_offset(offset)
    }

    fn read_error(&mut self, offset: u64, error: &io::Error) -> Finding {
        self.finish();
        self.summary.corrupt = true;
        let message = format!("read error after byte {offset}: {error}; reading stopped");
        Finding::new(Level::Error, Layer::Capture, "capture.read_error", message).at_offset(offset)
    }
}

/// pcap-parser's message for a reader that could not read a whole file header.
const INCOMPLETE: &str = "incomplete";

fn describe_error(error: &PcapError<&[u8]>) -> String {
    match error {
        PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof => {
            INCOMPLETE.to_string()
        }
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("a field fails check {kind:?}")
        }
        other => other.to_string(),
    }
}

fn internal_error(at: FrameRef) -> Finding {
    Finding::new(
        Level::Error,
        Layer::Capture,
        "capture.internal",
        "internal error: a parsed block was not in the buffer",
    )
    .at(at)
}

fn is_packet_block(block_type: u32) -> bool {
    matches!(block_type, EPB_MAGIC | SPB_MAGIC | PB_MAGIC)
}

fn hex8(data: &[u8]) -> String {
    source::hex_prefix(data)
}

fn frame_pcap_record(
    data: &[u8],
    big_endian: bool,
    header: usize,
    snaplen: u32,
    max_block: usize,
) -> Frame {
    let Some(caplen) = read_u32(data, 8, big_endian).filter(|_| data.len() >= header) else {
        return Frame::NeedMore;
    };
    if caplen > PLAUSIBLE_RECORD && caplen > snaplen {
        return Frame::Corrupt(format!(
            "a record header ({}) claims {caplen} captured bytes, more than the snapshot length {snaplen}",
            hex8(data)
        ));
    }
    let len = header as u64 + u64::from(caplen);
    match usize::try_from(len) {
        Ok(len) if len <= max_block => Frame::Block {
            len,
            big_endian,
            block_type: 0,
        },
        _ => Frame::Oversized {
            len,
            packet: true,
            trailer: None,
        },
    }
}

fn frame_ng_block(data: &[u8], section_big_endian: bool, max_block: usize) -> Frame {
    let Some(block_type) = read_u32(data, 0, section_big_endian) else {
        return Frame::NeedMore;
    };
    let big_endian = if block_type == SHB_MAGIC {
        match read_u32(data, 8, false) {
            None => return Frame::NeedMore,
            Some(BOM_LE) => false,
            Some(BOM_BE) => true,
            Some(bom) => {
                return Frame::Corrupt(format!(
                    "a section header block with byte-order magic 0x{bom:08x}"
                ))
            }
        }
    } else {
        section_big_endian
    };
    let Some(len) = read_u32(data, 4, big_endian) else {
        return Frame::NeedMore;
    };
    if len < 12 || len % 4 != 0 {
        return Frame::Corrupt(format!(
            "expected a block header, saw {}: total length {len} is not a multiple of 4 of at least 12",
            hex8(data)
        ));
    }
    match usize::try_from(len) {
        Ok(len) if len <= max_block => Frame::Block {
            len,
            big_endian,
            block_type,
        },
        _ if block_type == SHB_MAGIC => Frame::Corrupt(format!(
            "a section header block of {len} bytes, more than the {max_block}-byte limit"
        )),
        _ => Frame::Oversized {
            len: u64::from(len),
            packet: is_packet_block(block_type),
            trailer: Some((len, big_endian)),
        },
    }
}

fn classify(block: &Block<'_>, big_endian: bool) -> NgBlock {
    match block {
        Block::SectionHeader(shb) => NgBlock::Section {
            big_endian: shb.big_endian(),
        },
        Block::InterfaceDescription(idb) => {
            let (interface, bad) = Interface::from_idb(idb, big_endian);
            NgBlock::Interface(interface, bad)
        }
        Block::EnhancedPacket(epb) => NgBlock::Enhanced {
            if_id: epb.if_id,
            ts_units: (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low),
            orig_len: epb.origlen,
            len: epb.packet_data().len(),
        },
        Block::SimplePacket(spb) => NgBlock::Simple {
            orig_len: spb.origlen,
            len: spb.packet_data().len(),
        },
        Block::DecryptionSecrets(dsb) => NgBlock::Secrets {
            tls: dsb.secrets_type == SecretsType::TlsKeyLog,
            secrets_type: dsb.secrets_type.0,
            len: (dsb.secrets_len as usize).min(dsb.data.len()),
        },
        _ => NgBlock::Other,
    }
}

#[cfg(test)]
mod tests;
