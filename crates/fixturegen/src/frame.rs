//! Captured frames and the trait every capture writer implements.
//!
//! Takes nothing; gives the [`Frame`] value (link-layer bytes as captured,
//! original length, timestamp, interface) that the packet renderer produces
//! and the pcap/pcapng writers consume, plus the link-type numbers used.
//! Never touches the file system: writers take any `io::Write`.

use std::io;

/// 2026-03-02T09:00:00Z in nanoseconds since the Unix epoch: the start of
/// every generated capture.
pub const START_NS: i64 = 1_772_442_000 * 1_000_000_000;

/// LINKTYPE_NULL (BSD loopback: 4-byte address family in host byte order).
pub const LINKTYPE_NULL: u32 = 0;
/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// LINKTYPE_RAW (raw IPv4/IPv6, no link header).
pub const LINKTYPE_RAW: u32 = 101;
/// LINKTYPE_LINUX_SLL2 (Linux cooked capture v2, 20-byte header).
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

/// Byte order of a pcap file or of one pcapng section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    /// Little-endian (what almost every capture tool writes).
    Little,
    /// Big-endian (SPARC, some routers).
    Big,
}

/// One captured frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// pcapng interface id (ignored by the pcap writer).
    pub iface: u32,
    /// The captured bytes (possibly cut by a snap length).
    pub data: Vec<u8>,
    /// The length of the frame on the wire.
    pub orig_len: u32,
}

impl Frame {
    /// A frame captured whole.
    pub fn whole(ts_ns: i64, iface: u32, data: Vec<u8>) -> Frame {
        let orig_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        Frame {
            ts_ns,
            iface,
            data,
            orig_len,
        }
    }
}

/// Something frames can be written to, in capture order.
pub trait FrameSink {
    /// Write one frame.
    fn write_frame(&mut self, frame: &Frame) -> io::Result<()>;
}

impl FrameSink for Vec<Frame> {
    fn write_frame(&mut self, frame: &Frame) -> io::Result<()> {
        self.push(frame.clone());
        Ok(())
    }
}

/// Splits a nanosecond timestamp into whole seconds and nanoseconds.
pub(crate) fn split_ns(ts_ns: i64) -> (i64, u32) {
    let secs = ts_ns.div_euclid(1_000_000_000);
    // rem_euclid of a positive modulus lies in 0..1e9, which fits a u32.
    let nanos = ts_ns.rem_euclid(1_000_000_000) as u32;
    (secs, nanos)
}

/// Maps a serialisation error of pcap-parser's writer to an io error.
pub(crate) fn gen_err(e: impl std::fmt::Debug) -> io::Error {
    io::Error::other(format!("pcap serialisation failed: {e:?}"))
}

/// An endian-aware byte encoder for the blocks pcap-parser's `ToVec` cannot
/// write (it only writes little-endian).
pub(crate) struct Enc {
    pub(crate) endian: Endian,
    pub(crate) buf: Vec<u8>,
}

impl Enc {
    pub(crate) fn new(endian: Endian) -> Enc {
        Enc {
            endian,
            buf: Vec::with_capacity(64),
        }
    }

    pub(crate) fn u16(&mut self, v: u16) -> &mut Enc {
        let b = match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        self.buf.extend_from_slice(&b);
        self
    }

    pub(crate) fn u32(&mut self, v: u32) -> &mut Enc {
        let b = match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        self.buf.extend_from_slice(&b);
        self
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut Enc {
        let b = match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        self.buf.extend_from_slice(&b);
        self
    }

    /// Raw bytes followed by zero padding to a multiple of 4.
    pub(crate) fn padded(&mut self, b: &[u8]) -> &mut Enc {
        self.buf.extend_from_slice(b);
        let pad = (4 - b.len() % 4) % 4;
        self.buf.extend_from_slice(&[0u8; 3][..pad]);
        self
    }

    /// Patches the two block-length fields of a pcapng block built in `buf`
    /// (offset 4 and the last 4 bytes, which the caller reserved).
    pub(crate) fn finish_block(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        let b = match self.endian {
            Endian::Little => len.to_le_bytes(),
            Endian::Big => len.to_be_bytes(),
        };
        let n = self.buf.len();
        self.buf[4..8].copy_from_slice(&b);
        self.buf[n - 4..].copy_from_slice(&b);
        self.buf
    }
}
