//! Per-block handling of the capture reader: the pcap file header and
//! records, and each pcapng block type.
//!
//! Takes a block known to be whole in the buffer; gives the reader's next
//! step (a packet, a key log, a finding or nothing) and updates the section
//! state and summary. Never reads outside the block.

use pcap_parser::{PcapBlockOwned, SHB_MAGIC};

use super::{CaptureReader, Kind, PacketMeta, Step};
use crate::capture::framing::{classify, describe_error, is_packet_block, NgBlock};
use crate::capture::pcapng::{
    parse_obsolete_packet, read_u32, Interface, Resolution, DSB_DATA_OFFSET, EPB_DATA_OFFSET,
    PB_MAGIC, SPB_DATA_OFFSET,
};
use crate::capture::FindingCode;
use crate::capture::{InterfaceSummary, LinkType};
use crate::finding::Finding;
use crate::position::{FrameRef, Timestamp};

/// Interfaces described in one capture (real ones have a handful); more
/// are ignored with a finding, so a stream of repeated IDBs cannot grow memory.
const MAX_INTERFACES: usize = 4096;

/// A pcapng packet record: EPB, SPB (no timestamp) or obsolete PB.
struct NgRecord {
    if_id: u32,
    ts_units: Option<u64>,
    orig_len: u32,
    /// Where the packet bytes start in the block, and how many were captured.
    start: usize,
    len: usize,
}

impl CaptureReader {
    /// The pcap file header (already parsed when the reader was created).
    pub(super) fn pcap_header(&mut self) -> Step {
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

    pub(super) fn pcap_record(&mut self, len: usize) -> Step {
        let Kind::Pcap {
            nanos,
            record_header,
            link_type,
            snaplen,
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
        let step = self.packet(
            PacketMeta {
                at: FrameRef::new(0, ts),
                link_type,
                interface: 0,
                orig_len,
                start: record_header,
                len: data_len,
            },
            len,
        );
        self.note_over_snaplen(offset, data_len, snaplen);
        step
    }

    /// A record longer than the file's snapshot length is read whole; the
    /// first one is said (0 is an unknown snapshot length, never exceeded).
    fn note_over_snaplen(&mut self, offset: u64, caplen: usize, snaplen: u32) {
        if snaplen == 0 || caplen <= snaplen as usize {
            return;
        }
        self.records_over_snaplen += 1;
        if self.records_over_snaplen > 1 {
            return;
        }
        let frame = self.summary.packets;
        let message = format!(
            "frame {frame} has {caplen} captured bytes, more than the file's snapshot length {snaplen}; read whole, as are any later ones"
        );
        let mut finding = Finding::new(FindingCode::OverSnaplen, message).at_offset(offset);
        finding.frame = Some(frame);
        self.queued.push_back(finding);
    }

    /// Counts a packet record, numbers it (the caller's frame number is
    /// ignored) and hands out `meta.start..meta.start + meta.len` of the block.
    fn packet(&mut self, mut meta: PacketMeta, block_len: usize) -> Step {
        let ts = meta.at.ts;
        let s = &mut self.summary;
        s.packets += 1;
        *s.packets_per_link_type.entry(meta.link_type.0).or_insert(0) += 1;
        s.bytes += meta.len as u64;
        self.last_ts = ts;
        self.pending_consume = block_len;
        meta.at = FrameRef::new(s.packets, ts);
        // Queued findings come out right after this packet. A glitched date
        // stays out of the capture's span: one frame dated 2066 must not
        // make a two-minute capture last forty years.
        match self.clock.on_frame(meta.at) {
            Some(glitch) => self.queued.push_back(glitch),
            None => {
                let s = &mut self.summary;
                s.first_time = Some(s.first_time.map_or(ts, |t| t.min(ts)));
                s.last_time = Some(s.last_time.map_or(ts, |t| t.max(ts)));
            }
        }
        self.summary.time_glitches = self.clock.glitches;
        Step::Packet(meta)
    }

    fn consume_now(&mut self, len: usize) {
        if let Some(inner) = self.inner.as_mut() {
            inner.consume_noshift(len);
        }
    }

    pub(super) fn ng_block(&mut self, len: usize, big_endian: bool, block_type: u32) -> Step {
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
            } => {
                let record = NgRecord {
                    if_id,
                    ts_units: Some(ts_units),
                    orig_len,
                    start: EPB_DATA_OFFSET,
                    len: data_len,
                };
                self.ng_packet(record, offset, len)
            }
            NgBlock::Simple {
                orig_len,
                len: data_len,
            } => {
                let record = NgRecord {
                    if_id: 0,
                    ts_units: None,
                    orig_len,
                    start: SPB_DATA_OFFSET,
                    len: data_len,
                };
                self.ng_packet(record, offset, len)
            }
            NgBlock::Secrets {
                tls,
                secrets_type,
                len: secrets_len,
            } => self.secrets(tls, secrets_type, offset, secrets_len, len),
            NgBlock::Other => {
                self.consume_now(len);
                Step::Continue
            }
        }
    }

    /// A packet block of a described interface; an SPB (no timestamp) is cut
    /// to the snapshot length of interface 0 and keeps the previous packet's time.
    fn ng_packet(&mut self, record: NgRecord, offset: u64, block_len: usize) -> Step {
        let Some(i) = self.interface(record.if_id) else {
            return self.bad_interface(offset, block_len, record.if_id);
        };
        let (ts, len) = match record.ts_units {
            Some(units) => (i.resolution.timestamp(units, i.offset_secs), record.len),
            None if i.snaplen == 0 => (self.last_ts, record.len),
            None => (self.last_ts, record.len.min(i.snaplen as usize)),
        };
        let meta = PacketMeta {
            at: FrameRef::new(0, ts),
            link_type: i.link_type,
            interface: record.if_id,
            orig_len: record.orig_len,
            start: record.start,
            len,
        };
        self.packet(meta, block_len)
    }

    /// A Decryption Secrets Block: TLS key logs are handed out, others noted.
    fn secrets(
        &mut self,
        tls: bool,
        secrets_type: u32,
        offset: u64,
        secrets_len: usize,
        len: usize,
    ) -> Step {
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
        Step::Finding(Finding::new(FindingCode::SecretsIgnored, message).at_offset(offset))
    }

    fn obsolete_packet(&mut self, offset: u64, len: usize, big_endian: bool) -> Step {
        let block = self.inner.as_ref().and_then(|i| i.data().get(..len));
        let Some(pb) = block.and_then(|b| parse_obsolete_packet(b, big_endian)) else {
            return self.bad_block(offset, len, PB_MAGIC, "captured length exceeds the block");
        };
        let record = NgRecord {
            if_id: u32::from(pb.interface),
            ts_units: Some(pb.ts_units),
            orig_len: pb.orig_len,
            start: EPB_DATA_OFFSET,
            len: pb.data_len,
        };
        self.ng_packet(record, offset, len)
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
        if interfaces.len() >= MAX_INTERFACES || self.summary.interfaces.len() >= MAX_INTERFACES {
            let message = format!(
                "interface block at byte {offset} ignored: more than {MAX_INTERFACES} interfaces; its packets are skipped"
            );
            return Step::Finding(
                Finding::new(FindingCode::InterfaceLimit, message).at_offset(offset),
            );
        }
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
        Step::Finding(Finding::new(FindingCode::BadTsresol, message).at_offset(offset))
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
        let mut finding = Finding::new(FindingCode::BadInterface, message).at_offset(offset);
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
        let mut finding = Finding::new(FindingCode::BadBlock, message).at_offset(offset);
        finding.frame = frame;
        Step::Finding(finding)
    }
}
