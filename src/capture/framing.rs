//! Block framing: how long the next pcap record or pcapng block is, checked
//! before pcap-parser parses it, and the owned facts kept from a parsed block.
//!
//! Takes the bytes at the read position; gives "need more", a block length,
//! an oversized block to skip, or what garbage was seen. Never reads past the
//! bytes it is given.
//!
//! Framing is checked here, not left to pcap-parser, because its streaming
//! readers report a block whose inner lengths disagree with its total length
//! as "incomplete" (which would read as a truncated file) and cannot skip a
//! block larger than their buffer.

use pcap_parser::pcapng::SecretsType;
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{Block, PcapError, EPB_MAGIC, SHB_MAGIC, SPB_MAGIC};

use super::pcapng::{read_u32, Interface, PB_MAGIC};
use super::source;

/// Byte-order magic of a pcapng section header, as read little-endian.
const BOM_LE: u32 = 0x1A2B_3C4D;
const BOM_BE: u32 = 0x4D3C_2B1A;

/// How the bytes at the read position are framed.
pub(crate) enum Frame {
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

/// A pcapng block reduced to the owned facts the reader needs.
pub(crate) enum NgBlock {
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

/// pcap-parser's message for a reader that could not read a whole file header.
pub(crate) const INCOMPLETE: &str = "incomplete";

pub(crate) fn describe_error(error: &PcapError<&[u8]>) -> String {
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

pub(crate) fn is_packet_block(block_type: u32) -> bool {
    matches!(block_type, EPB_MAGIC | SPB_MAGIC | PB_MAGIC)
}

fn hex8(data: &[u8]) -> String {
    source::hex_prefix(data)
}

pub(crate) fn frame_pcap_record(
    data: &[u8],
    big_endian: bool,
    header: usize,
    snaplen: u32,
    max_block: usize,
) -> Frame {
    let Some(caplen) = read_u32(data, 8, big_endian).filter(|_| data.len() >= header) else {
        return Frame::NeedMore;
    };
    let len = header as u64 + u64::from(caplen);
    let over_cap = usize::try_from(len).map_or(true, |len| len > max_block);
    // Within the cap, a record longer than the snapshot length is read (the
    // reader says so): writers get snaplen wrong. Beyond both, the header is
    // garbage, and skipping gigabytes it claims would only eat the file.
    // Snaplen 0 means unknown: only the cap applies.
    if over_cap && snaplen != 0 && caplen > snaplen {
        return Frame::Corrupt(format!(
            "a record header ({}) claims {caplen} captured bytes, more than the snapshot length {snaplen} and the {max_block}-byte limit (max_capture_block)",
            hex8(data)
        ));
    }
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

pub(crate) fn frame_ng_block(data: &[u8], section_big_endian: bool, max_block: usize) -> Frame {
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

pub(crate) fn classify(block: &Block<'_>, big_endian: bool) -> NgBlock {
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
mod tests {
    use super::*;
    use crate::capture::testutil::{pcap_file, Ng, Record};

    fn len_of(frame: Frame) -> Option<usize> {
        match frame {
            Frame::Block { len, .. } => Some(len),
            _ => None,
        }
    }

    #[test]
    fn every_prefix_of_a_block_header_needs_more() {
        let epb = Ng::new().epb(0, 0, &[1, 2, 3], 3).finish();
        for cut in 0..8 {
            assert!(
                matches!(frame_ng_block(&epb[..cut], false, 1 << 20), Frame::NeedMore),
                "cut {cut}"
            );
        }
        // The length is known from 8 bytes on, before the block is whole.
        assert_eq!(
            len_of(frame_ng_block(&epb[..8], false, 1 << 20)),
            Some(epb.len())
        );
        let shb = Ng::new().section(true).finish();
        for cut in 0..12 {
            assert!(
                matches!(frame_ng_block(&shb[..cut], false, 1 << 20), Frame::NeedMore),
                "cut {cut}"
            );
        }
        assert!(matches!(
            frame_ng_block(&shb, false, 1 << 20),
            Frame::Block {
                big_endian: true,
                block_type: SHB_MAGIC,
                ..
            }
        ));
        let data = [7u8; 10];
        let pcap = pcap_file(
            false,
            false,
            1,
            100,
            &[Record {
                secs: 0,
                frac: 0,
                data: &data,
                orig_len: 10,
            }],
        );
        let record = &pcap[24..];
        for cut in 0..16 {
            assert!(matches!(
                frame_pcap_record(&record[..cut], false, 16, 100, 1 << 20),
                Frame::NeedMore
            ));
        }
        assert_eq!(
            len_of(frame_pcap_record(record, false, 16, 100, 1 << 20)),
            Some(26)
        );
    }

    #[test]
    fn impossible_lengths_are_corrupt_and_big_ones_oversized() {
        let header = |len: u32| [6u32.to_le_bytes(), len.to_le_bytes()].concat();
        for bad in [0u32, 8, 13, 30] {
            let Frame::Corrupt(what) = frame_ng_block(&header(bad), false, 1 << 20) else {
                panic!("length {bad} accepted");
            };
            assert!(
                what.contains(&format!(
                    "total length {bad} is not a multiple of 4 of at least 12"
                )),
                "{what}"
            );
        }
        assert!(matches!(
            frame_ng_block(&header(4096), false, 1024),
            Frame::Oversized {
                len: 4096,
                packet: true,
                trailer: Some((4096, false))
            }
        ));
        let shb = [
            SHB_MAGIC.to_le_bytes(),
            4096u32.to_le_bytes(),
            BOM_LE.to_le_bytes(),
        ]
        .concat();
        assert!(matches!(
            frame_ng_block(&shb, false, 1024),
            Frame::Corrupt(_)
        ));
        let bad_bom = [
            SHB_MAGIC.to_le_bytes(),
            28u32.to_le_bytes(),
            0x1234_5678u32.to_le_bytes(),
        ]
        .concat();
        assert!(
            matches!(frame_ng_block(&bad_bom, false, 1024), Frame::Corrupt(w) if w.contains("0x12345678"))
        );
        let record = |caplen: u32| [[0u8; 8].as_slice(), &caplen.to_be_bytes(), &[0; 4]].concat();
        assert!(matches!(
            frame_pcap_record(&record(300_000), true, 16, 65535, 1 << 20),
            Frame::Block { len: 300_016, .. }
        ));
        assert!(matches!(
            frame_pcap_record(&record(300_000), true, 16, 65535, 1 << 16),
            Frame::Corrupt(_)
        ));
        // Snaplen 0 is unknown: an over-cap record is skipped, not garbage.
        assert!(matches!(
            frame_pcap_record(&record(300_000), true, 16, 0, 1 << 16),
            Frame::Oversized { .. }
        ));
        assert!(matches!(
            frame_pcap_record(&record(300_000), true, 16, 400_000, 1 << 16),
            Frame::Oversized {
                len: 300_016,
                packet: true,
                trailer: None
            }
        ));
    }
}
