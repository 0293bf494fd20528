//! pcapng writer: several sections (each with its own byte order), several
//! interfaces with different link types, `if_tsresol` and `if_tsoffset`,
//! Enhanced and Simple Packet Blocks, and Decryption Secrets Blocks carrying
//! a TLS key log.
//!
//! Takes frames one at a time and streams blocks to any `io::Write`.
//! Little-endian blocks go through pcap-parser's `ToVec`; big-endian ones
//! through `Enc` (same layout, tested equal in little-endian).

use std::borrow::Cow;
use std::io::{self, Write};

use pcap_parser::pcapng::{
    DecryptionSecretsBlock, EnhancedPacketBlock, InterfaceDescriptionBlock, OptionCode,
    PcapNGOption, SecretsType, SectionHeaderBlock, SimplePacketBlock,
};
use pcap_parser::{Linktype, ToVec};

use super::frame::{gen_err, Enc, Endian, Frame, FrameSink};

const APP: &[u8] = b"xmppcap fixturegen";

/// One pcapng interface (IDB).
#[derive(Clone, Copy, Debug)]
pub struct Interface {
    /// Link type of every packet on this interface.
    pub linktype: u32,
    /// Snap length; longer frames are cut to it.
    pub snaplen: u32,
    /// `if_tsresol`: bit 7 clear = 10^-n s, set = 2^-n s.
    pub tsresol: u8,
    /// `if_tsoffset`: seconds added to every timestamp of the interface.
    pub tsoffset: i64,
}

impl Interface {
    /// Microsecond resolution, no offset, snap length 262144.
    pub fn new(linktype: u32) -> Interface {
        Interface {
            linktype,
            snaplen: 262_144,
            tsresol: 6,
            tsoffset: 0,
        }
    }

    /// Converts a capture time to this interface's timestamp units.
    fn units(&self, ts_ns: i64) -> u64 {
        let rel = i128::from(ts_ns) - i128::from(self.tsoffset) * 1_000_000_000;
        let rel = rel.max(0) as u128;
        let n = u32::from(self.tsresol & 0x7f);
        let per_sec: u128 = if self.tsresol & 0x80 != 0 {
            1u128 << n
        } else {
            10u128.pow(n)
        };
        (rel * per_sec / 1_000_000_000) as u64
    }
}

/// Streams a pcapng file.
pub struct PcapNgWriter<W: Write> {
    out: W,
    endian: Endian,
    ifaces: Vec<Interface>,
}

impl<W: Write> PcapNgWriter<W> {
    /// Starts a file with one section of the given byte order.
    pub fn new(out: W, endian: Endian) -> io::Result<PcapNgWriter<W>> {
        let mut w = PcapNgWriter {
            out,
            endian,
            ifaces: Vec::new(),
        };
        w.section(endian)?;
        Ok(w)
    }

    /// Starts a new section; interfaces of the previous one are forgotten.
    pub fn section(&mut self, endian: Endian) -> io::Result<()> {
        self.endian = endian;
        self.ifaces.clear();
        let bytes = match endian {
            Endian::Little => shb_le()?,
            Endian::Big => shb_enc(endian),
        };
        self.out.write_all(&bytes)
    }

    /// Adds an interface to the current section; returns its id.
    pub fn interface(&mut self, iface: Interface) -> io::Result<u32> {
        let bytes = match self.endian {
            Endian::Little => idb_le(&iface)?,
            Endian::Big => idb_enc(self.endian, &iface),
        };
        self.out.write_all(&bytes)?;
        self.ifaces.push(iface);
        Ok(self.ifaces.len() as u32 - 1)
    }

    /// Writes a Simple Packet Block (implicitly interface 0, no timestamp).
    pub fn simple_packet(&mut self, frame: &Frame) -> io::Result<()> {
        let snaplen = self.ifaces.first().map_or(u32::MAX, |i| i.snaplen);
        let cut = frame.data.len().min(snaplen as usize);
        let data = &frame.data[..cut];
        let bytes = match self.endian {
            Endian::Little => {
                let mut b = SimplePacketBlock {
                    block_type: 0,
                    block_len1: 0,
                    origlen: frame.orig_len,
                    data,
                    block_len2: 0,
                };
                b.to_vec().map_err(gen_err)?
            }
            Endian::Big => spb_enc(self.endian, frame.orig_len, data),
        };
        self.out.write_all(&bytes)
    }

    /// Writes a Decryption Secrets Block holding an NSS key log.
    pub fn tls_secrets(&mut self, keylog: &[u8]) -> io::Result<()> {
        let bytes = match self.endian {
            Endian::Little => {
                let mut b = DecryptionSecretsBlock {
                    block_type: 0,
                    block_len1: 0,
                    secrets_type: SecretsType::TlsKeyLog,
                    secrets_len: keylog.len() as u32,
                    data: keylog,
                    options: Vec::new(),
                    block_len2: 0,
                };
                b.to_vec().map_err(gen_err)?
            }
            Endian::Big => dsb_enc(self.endian, keylog),
        };
        self.out.write_all(&bytes)
    }

    /// Flushes and returns the output.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> FrameSink for PcapNgWriter<W> {
    /// Writes an Enhanced Packet Block on `frame.iface`.
    fn write_frame(&mut self, frame: &Frame) -> io::Result<()> {
        let iface = self
            .ifaces
            .get(frame.iface as usize)
            .copied()
            .ok_or_else(|| io::Error::other(format!("no interface {}", frame.iface)))?;
        let units = iface.units(frame.ts_ns);
        let cut = frame.data.len().min(iface.snaplen as usize);
        let data = &frame.data[..cut];
        let bytes = match self.endian {
            Endian::Little => {
                let mut b = EnhancedPacketBlock {
                    block_type: 0,
                    block_len1: 0,
                    if_id: frame.iface,
                    ts_high: (units >> 32) as u32,
                    ts_low: units as u32,
                    caplen: cut as u32,
                    origlen: frame.orig_len,
                    data,
                    options: Vec::new(),
                    block_len2: 0,
                };
                b.to_vec().map_err(gen_err)?
            }
            Endian::Big => epb_enc(self.endian, frame, units, data),
        };
        self.out.write_all(&bytes)
    }
}

fn shb_le() -> io::Result<Vec<u8>> {
    let mut b = SectionHeaderBlock {
        block_type: 0,
        block_len1: 0,
        bom: 0,
        major_version: 1,
        minor_version: 0,
        section_len: -1,
        options: vec![PcapNGOption {
            code: OptionCode::ShbUserAppl,
            len: APP.len() as u16,
            value: Cow::Borrowed(APP),
        }],
        block_len2: 0,
    };
    b.to_vec().map_err(gen_err)
}

fn idb_le(iface: &Interface) -> io::Result<Vec<u8>> {
    let mut b = InterfaceDescriptionBlock {
        block_type: 0,
        block_len1: 0,
        linktype: Linktype(iface.linktype as i32),
        reserved: 0,
        snaplen: iface.snaplen,
        options: Vec::new(),
        block_len2: 0,
        if_tsresol: iface.tsresol,
        if_tsoffset: iface.tsoffset,
    };
    b.to_vec().map_err(gen_err)
}

fn shb_enc(endian: Endian) -> Vec<u8> {
    let mut e = Enc::new(endian);
    e.u32(0x0a0d_0d0a).u32(0).u32(0x1a2b_3c4d).u16(1).u16(0);
    e.u64(u64::MAX);
    e.u16(4).u16(APP.len() as u16).padded(APP);
    e.u16(0).u16(0).u32(0);
    e.finish_block()
}

fn idb_enc(endian: Endian, iface: &Interface) -> Vec<u8> {
    let mut e = Enc::new(endian);
    e.u32(1)
        .u32(0)
        .u16(iface.linktype as u16)
        .u16(0)
        .u32(iface.snaplen);
    e.u16(9).u16(1).padded(&[iface.tsresol]);
    e.u16(14).u16(8).u64(iface.tsoffset as u64);
    e.u16(0).u16(0).u32(0);
    e.finish_block()
}

fn epb_enc(endian: Endian, frame: &Frame, units: u64, data: &[u8]) -> Vec<u8> {
    let mut e = Enc::new(endian);
    e.u32(6).u32(0).u32(frame.iface);
    e.u32((units >> 32) as u32).u32(units as u32);
    e.u32(data.len() as u32).u32(frame.orig_len).padded(data);
    e.u32(0);
    e.finish_block()
}

fn spb_enc(endian: Endian, orig_len: u32, data: &[u8]) -> Vec<u8> {
    let mut e = Enc::new(endian);
    e.u32(3).u32(0).u32(orig_len).padded(data).u32(0);
    e.finish_block()
}

fn dsb_enc(endian: Endian, keylog: &[u8]) -> Vec<u8> {
    let mut e = Enc::new(endian);
    e.u32(0x0a).u32(0).u32(0x544c_534b).u32(keylog.len() as u32);
    e.padded(keylog).u32(0);
    e.finish_block()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{LINKTYPE_ETHERNET, LINKTYPE_RAW, START_NS};
    use pcap_parser::pcapng::{Block, PcapNGSlice};
    use pcap_parser::PcapBlockOwned;

    fn frame(iface: u32, len: usize) -> Frame {
        Frame::whole(START_NS + 1_500_000_000, iface, vec![0xab; len])
    }

    #[test]
    fn enc_matches_to_vec_in_little_endian() {
        let iface = Interface {
            tsresol: 9,
            tsoffset: 7,
            ..Interface::new(LINKTYPE_ETHERNET)
        };
        assert_eq!(shb_le().unwrap(), shb_enc(Endian::Little));
        assert_eq!(idb_le(&iface).unwrap(), idb_enc(Endian::Little, &iface));
        let mut w = PcapNgWriter::new(Vec::new(), Endian::Little).unwrap();
        w.interface(iface).unwrap();
        let start = w.out.len();
        w.write_frame(&frame(0, 61)).unwrap();
        let f = frame(0, 61);
        let enc = epb_enc(Endian::Little, &f, iface.units(f.ts_ns), &f.data);
        assert_eq!(&w.out[start..], &enc[..]);
        let start = w.out.len();
        w.tls_secrets(b"CLIENT_RANDOM 00 11\n").unwrap();
        assert_eq!(
            &w.out[start..],
            &dsb_enc(Endian::Little, b"CLIENT_RANDOM 00 11\n")[..]
        );
        let start = w.out.len();
        w.simple_packet(&f).unwrap();
        assert_eq!(&w.out[start..], &spb_enc(Endian::Little, 61, &f.data)[..]);
    }

    #[test]
    fn two_sections_of_different_endianness_read_back() {
        let mut w = PcapNgWriter::new(Vec::new(), Endian::Little).unwrap();
        w.interface(Interface::new(LINKTYPE_ETHERNET)).unwrap();
        let ns = Interface {
            tsresol: 9,
            tsoffset: 100,
            ..Interface::new(LINKTYPE_RAW)
        };
        w.interface(ns).unwrap();
        w.write_frame(&frame(0, 60)).unwrap();
        w.write_frame(&frame(1, 40)).unwrap();
        w.section(Endian::Big).unwrap();
        w.interface(Interface::new(LINKTYPE_RAW)).unwrap();
        w.tls_secrets(b"x\n").unwrap();
        w.write_frame(&frame(0, 41)).unwrap();
        w.simple_packet(&frame(0, 42)).unwrap();
        let bytes = w.into_inner().unwrap();
        let blocks: Vec<_> = PcapNGSlice::from_slice(&bytes)
            .unwrap()
            .map(|b| match b.unwrap() {
                PcapBlockOwned::NG(b) => format!("{:?}", block_summary(&b)),
                _ => panic!("legacy block in pcapng"),
            })
            .collect();
        assert_eq!(blocks.len(), 10, "{blocks:?}");
        let usec = (START_NS + 1_500_000_000) as u64 / 1000;
        assert!(
            blocks[3].contains(&format!("EPB(0, {usec:#x}, 60)")),
            "{blocks:?}"
        );
        // 1.5 s after START minus 100 s offset, in nanoseconds.
        let want = (START_NS + 1_500_000_000 - 100_000_000_000) as u64;
        assert!(
            blocks[4].contains(&format!("EPB(1, {want:#x}, 40)")),
            "{blocks:?}"
        );
        assert!(blocks[5].contains("SHB(true)"));
        assert!(blocks[7].contains("DSB(TlsKeyLog)"));
        assert!(blocks[8].contains("EPB(0"));
        assert!(blocks[9].contains("SPB(42)"));
        let back = crate::readback::read(&bytes);
        assert_eq!((back.frames.len(), back.sections), (4, 2));
        assert_eq!(back.secrets, vec![b"x\n".to_vec()]);
        let times: Vec<i64> = back.frames[..3].iter().map(|f| f.ts_ns).collect();
        assert_eq!(times, vec![START_NS + 1_500_000_000; 3]);
        assert_eq!(back.frames[3].data, vec![0xab; 42]);
    }

    fn block_summary(b: &Block) -> String {
        match b {
            Block::SectionHeader(s) => format!("SHB({})", s.big_endian()),
            Block::InterfaceDescription(i) => format!("IDB({:?})", i.linktype),
            Block::EnhancedPacket(e) => {
                let ts = (u64::from(e.ts_high) << 32) | u64::from(e.ts_low);
                format!("EPB({}, {ts:#x}, {})", e.if_id, e.caplen)
            }
            Block::SimplePacket(s) => format!("SPB({})", s.origlen),
            Block::DecryptionSecrets(d) => format!("DSB({:?})", d.secrets_type),
            _ => "other".to_string(),
        }
    }

    #[test]
    fn power_of_two_resolution() {
        let iface = Interface {
            tsresol: 0x80 | 20,
            ..Interface::new(LINKTYPE_RAW)
        };
        assert_eq!(iface.units(1_000_000_000), 1 << 20);
        assert_eq!(iface.units(500_000_000), 1 << 19);
    }
}
