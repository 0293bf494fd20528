//! pcapng details pcap-parser leaves to its caller: interface timestamp units
//! and offsets, the obsolete Packet Block, and block framing.
//!
//! Takes raw block bytes and IDB options; gives interface descriptions and
//! timestamps in nanoseconds. Never indexes past the bytes it is given: a
//! short or malformed input gives `None`.

use pcap_parser::{InterfaceDescriptionBlock, OptionCode};

use super::{InterfaceSummary, LinkType};
use crate::position::Timestamp;

/// The obsolete Packet Block (type 2), which pcap-parser reports as unknown.
pub(crate) const PB_MAGIC: u32 = 2;
/// Offset of the packet bytes in an EPB and in an obsolete PB.
pub(crate) const EPB_DATA_OFFSET: usize = 28;
/// Offset of the packet bytes in an SPB.
pub(crate) const SPB_DATA_OFFSET: usize = 12;
/// Offset of the secrets in a DSB.
pub(crate) const DSB_DATA_OFFSET: usize = 16;

/// Reads a u32 at `offset` in the given byte order; `None` past the end.
pub(crate) fn read_u32(bytes: &[u8], offset: usize, big_endian: bool) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(offset..offset.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    })
}

fn read_u16(bytes: &[u8], offset: usize, big_endian: bool) -> Option<u16> {
    let raw: [u8; 2] = bytes.get(offset..offset.checked_add(2)?)?.try_into().ok()?;
    Some(if big_endian {
        u16::from_be_bytes(raw)
    } else {
        u16::from_le_bytes(raw)
    })
}

/// Timestamp unit of an interface: `units` per second, as `if_tsresol` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resolution {
    /// The raw `if_tsresol` byte (high bit set: power of 2, else power of 10).
    raw: u8,
    units_per_sec: u64,
}

impl Resolution {
    pub(crate) const MICROS: Resolution = Resolution {
        raw: 6,
        units_per_sec: 1_000_000,
    };
    pub(crate) const NANOS: Resolution = Resolution {
        raw: 9,
        units_per_sec: 1_000_000_000,
    };

    /// Decodes `if_tsresol`; `None` when the unit does not fit in 64 bits.
    pub(crate) fn parse(raw: u8) -> Option<Resolution> {
        let exponent = u32::from(raw & 0x7f);
        let units_per_sec = if raw & 0x80 == 0 {
            10u64.checked_pow(exponent)?
        } else {
            1u64.checked_shl(exponent).filter(|_| exponent < 64)?
        };
        Some(Resolution { raw, units_per_sec })
    }

    /// `10^-6` or `2^-20`.
    pub(crate) fn describe(self) -> String {
        let exponent = self.raw & 0x7f;
        if self.raw & 0x80 == 0 {
            format!("10^-{exponent}")
        } else {
            format!("2^-{exponent}")
        }
    }

    /// Time of `units` since the epoch, shifted by `offset_secs`; saturates.
    pub(crate) fn timestamp(self, units: u64, offset_secs: i64) -> Timestamp {
        // units_per_sec is never 0: it is a power of 10 or 2.
        let per_sec = u128::from(self.units_per_sec.max(1));
        let units = u128::from(units);
        let secs = (units / per_sec) as i128 + i128::from(offset_secs);
        let nanos = ((units % per_sec) * 1_000_000_000 / per_sec) as i128;
        Timestamp::from_nanos_i128(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
    }
}

/// One pcapng interface, as its IDB describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Interface {
    pub(crate) link_type: LinkType,
    pub(crate) snaplen: u32,
    pub(crate) resolution: Resolution,
    pub(crate) offset_secs: i64,
}

impl Interface {
    /// Reads an IDB. pcap-parser decodes `if_tsoffset` as little-endian whatever
    /// the section's byte order and rejects 2^-n units, so both are read here.
    /// Gives the interface and whether `if_tsresol` was unusable (microseconds assumed).
    pub(crate) fn from_idb(
        idb: &InterfaceDescriptionBlock<'_>,
        big_endian: bool,
    ) -> (Interface, bool) {
        let mut resolution = Resolution::MICROS;
        let mut bad_resolution = false;
        let mut offset_secs = 0;
        for option in &idb.options {
            let value = option.value();
            if option.code == OptionCode::IfTsresol {
                match value.first().and_then(|&raw| Resolution::parse(raw)) {
                    Some(r) => resolution = r,
                    None => bad_resolution = true,
                }
            } else if option.code == OptionCode::IfTsoffset {
                if let Some(raw) = value.get(..8).and_then(|v| <[u8; 8]>::try_from(v).ok()) {
                    offset_secs = if big_endian {
                        i64::from_be_bytes(raw)
                    } else {
                        i64::from_le_bytes(raw)
                    };
                }
            }
        }
        let interface = Interface {
            link_type: idb.linktype,
            snaplen: idb.snaplen,
            resolution,
            offset_secs,
        };
        (interface, bad_resolution)
    }

    pub(crate) fn summary(&self, section: u32, index: u32) -> InterfaceSummary {
        InterfaceSummary {
            section,
            index,
            link_type: self.link_type.0,
            snaplen: self.snaplen,
            ts_resolution: self.resolution.describe(),
            ts_offset_secs: self.offset_secs,
        }
    }
}

/// The fields of an obsolete Packet Block that xmppcap uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ObsoletePacket {
    pub(crate) interface: u16,
    pub(crate) ts_units: u64,
    pub(crate) orig_len: u32,
    /// Captured bytes present in the block (caplen, bounded by the block).
    pub(crate) data_len: usize,
}

/// Parses a whole obsolete Packet Block (header, body and trailer).
pub(crate) fn parse_obsolete_packet(block: &[u8], big_endian: bool) -> Option<ObsoletePacket> {
    let interface = read_u16(block, 8, big_endian)?;
    let ts_high = read_u32(block, 12, big_endian)?;
    let ts_low = read_u32(block, 16, big_endian)?;
    let caplen = read_u32(block, 20, big_endian)?;
    let orig_len = read_u32(block, 24, big_endian)?;
    let room = block.len().checked_sub(EPB_DATA_OFFSET + 4)?;
    let caplen = usize::try_from(caplen).ok()?;
    if caplen > room {
        return None;
    }
    Some(ObsoletePacket {
        interface,
        ts_units: (u64::from(ts_high) << 32) | u64::from(ts_low),
        orig_len,
        data_len: caplen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_powers_of_ten_and_two() {
        let micro = Resolution::parse(6).unwrap();
        assert_eq!(micro, Resolution::MICROS);
        assert_eq!(micro.describe(), "10^-6");
        let nano = Resolution::parse(9).unwrap();
        assert_eq!(
            nano.timestamp(1_500_000_000_123_456_789, 0).as_nanos(),
            1_500_000_000_123_456_789
        );
        let two20 = Resolution::parse(0x80 | 20).unwrap();
        assert_eq!(two20.describe(), "2^-20");
        // 3.5 seconds in 2^-20 units.
        assert_eq!(
            two20.timestamp(3 * (1 << 20) + (1 << 19), 0).as_nanos(),
            3_500_000_000
        );
        assert_eq!(
            Resolution::parse(19).map(|r| r.units_per_sec),
            Some(10u64.pow(19))
        );
        assert_eq!(Resolution::parse(20), None);
        assert_eq!(
            Resolution::parse(0x80 | 63).map(|r| r.units_per_sec),
            Some(1 << 63)
        );
        assert_eq!(Resolution::parse(0x80 | 64), None);
        assert_eq!(Resolution::parse(0xff), None);
    }

    #[test]
    fn offsets_shift_seconds_and_extremes_saturate() {
        let micro = Resolution::MICROS;
        assert_eq!(micro.timestamp(1_000_001, 100).as_nanos(), 101_000_001_000);
        assert_eq!(micro.timestamp(0, -5).as_nanos(), -5_000_000_000);
        assert_eq!(micro.timestamp(u64::MAX, i64::MAX).as_nanos(), i64::MAX);
        let atto = Resolution::parse(18).unwrap();
        assert_eq!(atto.timestamp(u64::MAX, 0).as_nanos(), 18_446_744_073);
    }

    #[test]
    fn obsolete_packet_block_fields_and_every_prefix() {
        let mut block = Vec::new();
        for word in [PB_MAGIC, 36] {
            block.extend_from_slice(&word.to_le_bytes());
        }
        block.extend_from_slice(&3u16.to_le_bytes());
        block.extend_from_slice(&0u16.to_le_bytes());
        for word in [1u32, 2, 3, 60] {
            block.extend_from_slice(&word.to_le_bytes());
        }
        block.extend_from_slice(&[0xaa, 0xbb, 0xcc, 0]);
        block.extend_from_slice(&36u32.to_le_bytes());
        let pb = parse_obsolete_packet(&block, false).unwrap();
        assert_eq!(
            pb,
            ObsoletePacket {
                interface: 3,
                ts_units: (1 << 32) | 2,
                orig_len: 60,
                data_len: 3
            }
        );
        // 28 header bytes + 3 data bytes + 4 trailer bytes are needed.
        for cut in 0..35 {
            assert!(
                parse_obsolete_packet(&block[..cut], false).is_none(),
                "cut {cut}"
            );
        }
        // caplen larger than the block
        block[20] = 9;
        assert_eq!(parse_obsolete_packet(&block, false), None);
    }
}
