//! Legacy pcap writer: microsecond or nanosecond timestamps, little- or
//! big-endian, any link type.
//!
//! Takes frames one at a time and streams them to any `io::Write` (never
//! holds the capture). Little-endian records go through pcap-parser's
//! `ToVec`; big-endian ones through `Enc`, since `ToVec` only writes
//! little-endian.

use std::io::{self, Write};

use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};

use super::frame::{gen_err, split_ns, Enc, Endian, Frame, FrameSink};

/// How a pcap file is laid out.
#[derive(Clone, Copy, Debug)]
pub struct PcapFormat {
    /// Byte order of header and records.
    pub endian: Endian,
    /// Nanosecond timestamps (magic `a1b23c4d`) instead of microseconds.
    pub nanos: bool,
    /// The file's single link type.
    pub linktype: u32,
    /// Snap length written in the header; longer frames are cut to it.
    pub snaplen: u32,
}

impl PcapFormat {
    /// Little-endian, microseconds, snap length 262144.
    pub fn usec(linktype: u32) -> PcapFormat {
        PcapFormat {
            endian: Endian::Little,
            nanos: false,
            linktype,
            snaplen: 262_144,
        }
    }
}

/// Streams a pcap file.
pub struct PcapWriter<W: Write> {
    out: W,
    format: PcapFormat,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut out: W, format: PcapFormat) -> io::Result<PcapWriter<W>> {
        let magic = if format.nanos {
            0xa1b2_3c4d
        } else {
            0xa1b2_c3d4
        };
        let bytes = match format.endian {
            Endian::Little => {
                let header = PcapHeader {
                    magic_number: magic,
                    version_major: 2,
                    version_minor: 4,
                    thiszone: 0,
                    sigfigs: 0,
                    snaplen: format.snaplen,
                    network: Linktype(format.linktype as i32),
                };
                header.to_vec_raw().map_err(gen_err)?
            }
            Endian::Big => {
                let mut e = Enc::new(Endian::Big);
                e.u32(magic).u16(2).u16(4).u32(0).u32(0);
                e.u32(format.snaplen).u32(format.linktype);
                e.buf
            }
        };
        out.write_all(&bytes)?;
        Ok(PcapWriter { out, format })
    }

    /// Flushes and returns the output.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> FrameSink for PcapWriter<W> {
    fn write_frame(&mut self, frame: &Frame) -> io::Result<()> {
        let (secs, nanos) = split_ns(frame.ts_ns);
        let frac = if self.format.nanos {
            nanos
        } else {
            nanos / 1000
        };
        let cut = frame.data.len().min(self.format.snaplen as usize);
        let data = &frame.data[..cut];
        let caplen = cut as u32;
        let secs = u32::try_from(secs).unwrap_or(0);
        match self.format.endian {
            Endian::Little => {
                let block = LegacyPcapBlock {
                    ts_sec: secs,
                    ts_usec: frac,
                    caplen,
                    origlen: frame.orig_len,
                    data,
                };
                self.out.write_all(&block.to_vec_raw().map_err(gen_err)?)
            }
            Endian::Big => {
                let mut e = Enc::new(Endian::Big);
                e.u32(secs).u32(frac).u32(caplen).u32(frame.orig_len);
                self.out.write_all(&e.buf)?;
                self.out.write_all(data)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{LINKTYPE_ETHERNET, START_NS};

    fn frames() -> Vec<Frame> {
        (0..3)
            .map(|i| {
                Frame::whole(
                    START_NS + i * 1_000_123_456,
                    0,
                    vec![i as u8; 60 + i as usize],
                )
            })
            .collect()
    }

    fn write(format: PcapFormat) -> Vec<u8> {
        let mut w = PcapWriter::new(Vec::new(), format).unwrap();
        for f in frames() {
            w.write_frame(&f).unwrap();
        }
        w.into_inner().unwrap()
    }

    #[test]
    fn every_layout_reads_back() {
        for endian in [Endian::Little, Endian::Big] {
            for nanos in [false, true] {
                let format = PcapFormat {
                    endian,
                    nanos,
                    linktype: LINKTYPE_ETHERNET,
                    snaplen: 61,
                };
                let bytes = write(format);
                assert_eq!(
                    &bytes[..4] == b"\xa1\xb2\xc3\xd4",
                    endian == Endian::Big && !nanos
                );
                let back = crate::readback::read(&bytes);
                assert_eq!(back.frames.len(), 3);
                let f = &back.frames[2];
                assert_eq!(f.linktype, 1);
                let frac = if nanos { 246_912 } else { 246_000 };
                assert_eq!(f.ts_ns, START_NS + 2_000_000_000 + frac);
                assert_eq!((f.data.len(), f.orig_len), (61, 62));
            }
        }
    }
}
