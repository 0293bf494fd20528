//! Test support: reads a generated pcap or pcapng back with pcap-parser
//! (never with xmppcap's own `capture` stage), to check the writers.
//!
//! Takes file bytes; gives frames with link type and nanosecond time, and
//! the TLS key logs of Decryption Secrets Blocks. Stops at a cut record.

use pcap_parser::pcapng::Block;
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};

/// One frame read back.
#[derive(Clone, Debug)]
pub(crate) struct ReadFrame {
    pub(crate) linktype: i32,
    pub(crate) ts_ns: i64,
    pub(crate) data: Vec<u8>,
    pub(crate) orig_len: u32,
}

/// Everything read back from a file.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReadBack {
    pub(crate) frames: Vec<ReadFrame>,
    pub(crate) secrets: Vec<Vec<u8>>,
    pub(crate) sections: usize,
    /// The file ended inside a record.
    pub(crate) cut: bool,
}

#[derive(Clone, Copy)]
struct Iface {
    linktype: i32,
    per_sec: u128,
    offset: i64,
}

fn ts_ns(units: u64, iface: Iface) -> i64 {
    let ns = u128::from(units) * 1_000_000_000 / iface.per_sec;
    ns as i64 + iface.offset * 1_000_000_000
}

/// Reads a whole (uncompressed) capture.
pub(crate) fn read(bytes: &[u8]) -> ReadBack {
    let mut out = ReadBack::default();
    let mut reader = create_reader(1 << 16, bytes).expect("a pcap or pcapng file");
    let mut legacy = (0i32, 1_000_000u128);
    let mut ifaces: Vec<Iface> = Vec::new();
    loop {
        match reader.next() {
            Ok((n, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        let per_sec = if h.is_nanosecond_precision() {
                            1_000_000_000
                        } else {
                            1_000_000
                        };
                        legacy = (h.network.0, per_sec);
                    }
                    PcapBlockOwned::Legacy(b) => out.frames.push(ReadFrame {
                        linktype: legacy.0,
                        ts_ns: i64::from(b.ts_sec) * 1_000_000_000
                            + (u128::from(b.ts_usec) * 1_000_000_000 / legacy.1) as i64,
                        data: b.data.to_vec(),
                        orig_len: b.origlen,
                    }),
                    PcapBlockOwned::NG(b) => on_block(&mut out, &mut ifaces, b),
                }
                reader.consume(n);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                let before = reader.data().len();
                reader.refill().expect("refill from a slice");
                if reader.data().len() == before {
                    out.cut = before > 0;
                    break;
                }
            }
            Err(e) => panic!("unreadable block: {e:?}"),
        }
    }
    out
}

fn on_block(out: &mut ReadBack, ifaces: &mut Vec<Iface>, b: Block) {
    match b {
        Block::SectionHeader(_) => {
            out.sections += 1;
            ifaces.clear();
        }
        Block::InterfaceDescription(i) => ifaces.push(Iface {
            linktype: i.linktype.0,
            // Not `ts_resolution()`: pcap-parser 0.17 rejects every power-of-2
            // resolution (it compares the byte with the mode bit set to 63).
            per_sec: if i.if_tsresol & 0x80 != 0 {
                1u128 << (i.if_tsresol & 0x7f)
            } else {
                10u128.pow(u32::from(i.if_tsresol))
            },
            offset: i.ts_offset(),
        }),
        Block::EnhancedPacket(e) => {
            let iface = ifaces[e.if_id as usize];
            let units = (u64::from(e.ts_high) << 32) | u64::from(e.ts_low);
            out.frames.push(ReadFrame {
                linktype: iface.linktype,
                ts_ns: ts_ns(units, iface),
                data: e.data[..e.caplen as usize].to_vec(),
                orig_len: e.origlen,
            });
        }
        Block::SimplePacket(s) => out.frames.push(ReadFrame {
            linktype: ifaces[0].linktype,
            ts_ns: 0,
            data: s.data[..(s.origlen as usize).min(s.data.len())].to_vec(),
            orig_len: s.origlen,
        }),
        Block::DecryptionSecrets(d) => {
            out.secrets.push(d.data[..d.secrets_len as usize].to_vec());
        }
        _ => {}
    }
}
