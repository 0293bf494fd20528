//! Capture reader tests on pcap and pcapng files written byte by byte
//! (testutil), following the pcapng draft (draft-ietf-opsawg-pcapng) and the
//! libpcap file format (draft-ietf-opsawg-pcap) for every layout.

use std::io::{Cursor, Write};

use super::*;
use crate::capture::testutil::{
    collect, collect_with, pcap_file, Collected, Ng, Record, Seen, OPT_TSOFFSET, OPT_TSRESOL,
};
use crate::capture::ByteOrder;
use crate::finding::Level;

const T0: i64 = 1_700_000_000;

fn packet(n: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| n.wrapping_add(i as u8)).collect()
}

fn codes(c: &Collected) -> Vec<&'static str> {
    c.findings.iter().map(|f| f.code.code()).collect()
}

fn summary(c: &Collected) -> &CaptureSummary {
    c.summary.as_ref().unwrap()
}

fn two_record_pcap(big_endian: bool, nanos: bool) -> Vec<u8> {
    let (a, b) = (packet(1, 60), packet(2, 100));
    pcap_file(
        big_endian,
        nanos,
        1,
        65535,
        &[
            Record {
                secs: T0 as u32,
                frac: 5,
                data: &a,
                orig_len: 60,
            },
            Record {
                secs: T0 as u32 + 1,
                frac: 7,
                data: &b,
                orig_len: 1514,
            },
        ],
    )
}

#[test]
fn pcap_both_byte_orders_micro_and_nano() {
    for big_endian in [false, true] {
        for nanos in [false, true] {
            let c = collect(&two_record_pcap(big_endian, nanos));
            let unit = if nanos { 1 } else { 1000 };
            assert_eq!(
                c.packets,
                vec![
                    Seen {
                        frame: 1,
                        nanos: T0 * 1_000_000_000 + 5 * unit,
                        link_type: 1,
                        data: packet(1, 60),
                        orig_len: 60,
                        interface: 0
                    },
                    Seen {
                        frame: 2,
                        nanos: (T0 + 1) * 1_000_000_000 + 7 * unit,
                        link_type: 1,
                        data: packet(2, 100),
                        orig_len: 1514,
                        interface: 0
                    },
                ],
                "big_endian {big_endian} nanos {nanos}"
            );
            assert!(c.findings.is_empty(), "{:?}", c.findings);
            let s = summary(&c);
            let precision = if nanos {
                Precision::Nanoseconds
            } else {
                Precision::Microseconds
            };
            let byte_order = if big_endian {
                ByteOrder::Big
            } else {
                ByteOrder::Little
            };
            assert_eq!(
                s.format,
                Format::Pcap {
                    precision,
                    byte_order,
                    modified: false
                }
            );
            assert_eq!((s.packets, s.bytes, s.sections), (2, 160, 1));
            assert_eq!(s.file_bytes, 24 + 16 + 60 + 16 + 100);
            assert_eq!(s.packets_per_link_type.get(&1), Some(&2));
            assert_eq!(s.interfaces[0].snaplen, 65535);
            assert!(!s.truncated && !s.corrupt);
        }
    }
}

#[test]
fn pcap_link_type_field_drops_fcs_bits() {
    let data = packet(0, 20);
    let file = pcap_file(
        false,
        false,
        0x1000_0000 | 113,
        0,
        &[Record {
            secs: 1,
            frac: 0,
            data: &data,
            orig_len: 20,
        }],
    );
    assert_eq!(collect(&file).packets[0].link_type, 113);
}

#[test]
fn pcapng_sections_with_mixed_byte_order_and_interfaces() {
    let mut ng = Ng::new()
        .section(false)
        .interface(1, 0, &[])
        .interface(113, 0, &[]);
    ng = ng
        .epb(1, 1_000_000, &packet(1, 20), 20)
        .epb(0, 2_000_000, &packet(2, 30), 30);
    ng = ng
        .section(true)
        .interface(101, 0, &[])
        .epb(0, 3_000_000, &packet(3, 40), 40);
    let c = collect(&ng.finish());
    let seen: Vec<(u64, i64, i32, u32)> = c
        .packets
        .iter()
        .map(|p| (p.frame, p.nanos, p.link_type, p.interface))
        .collect();
    assert_eq!(
        seen,
        vec![
            (1, 1_000_000_000, 113, 1),
            (2, 2_000_000_000, 1, 0),
            (3, 3_000_000_000, 101, 0)
        ]
    );
    assert_eq!(c.packets[2].data, packet(3, 40));
    let s = summary(&c);
    assert_eq!(s.sections, 2);
    let ifs: Vec<(u32, u32, i32)> = s
        .interfaces
        .iter()
        .map(|i| (i.section, i.index, i.link_type))
        .collect();
    assert_eq!(ifs, vec![(0, 0, 1), (0, 1, 113), (1, 0, 101)]);
    assert_eq!(s.packets_per_link_type.len(), 3);
    assert!(c.findings.is_empty(), "{:?}", c.findings);
}

#[test]
fn pcapng_tsresol_powers_of_ten_and_two_and_tsoffset() {
    for big_endian in [false, true] {
        let ng = Ng::new().section(big_endian);
        let offset = ng.ts_offset(1000);
        let ng = ng
            .interface(1, 0, &[(OPT_TSRESOL, &[9])])
            .interface(
                1,
                0,
                &[(OPT_TSRESOL, &[0x80 | 20]), (OPT_TSOFFSET, &offset)],
            )
            .epb(0, 1_500_000_000_123_456_789, &packet(0, 10), 10)
            .epb(1, (5 << 20) | (1 << 18), &packet(0, 10), 10);
        let c = collect(&ng.finish());
        let nanos: Vec<i64> = c.packets.iter().map(|p| p.nanos).collect();
        assert_eq!(nanos, vec![1_500_000_000_123_456_789, 1_005_250_000_000]);
        let res: Vec<&str> = summary(&c)
            .interfaces
            .iter()
            .map(|i| i.ts_resolution.as_str())
            .collect();
        assert_eq!(res, vec!["10^-9", "2^-20"]);
        assert_eq!(summary(&c).interfaces[1].ts_offset_secs, 1000);
    }
}

#[test]
fn unusable_tsresol_is_a_finding_and_microseconds() {
    let ng = Ng::new()
        .section(false)
        .interface(1, 0, &[(OPT_TSRESOL, &[0x80 | 70])])
        .epb(0, 2_000_000, &packet(0, 4), 4);
    let c = collect(&ng.finish());
    assert_eq!(codes(&c), vec!["capture.bad_tsresol"]);
    assert_eq!(c.packets[0].nanos, 2_000_000_000);
}

#[test]
fn interfaces_beyond_the_cap_are_ignored_with_a_finding() {
    let mut ng = Ng::new().section(false);
    for _ in 0..4100 {
        ng = ng.interface(1, 0, &[]);
    }
    let c = collect(&ng.epb(5, 1_000_000, &packet(0, 4), 4).finish());
    assert_eq!(summary(&c).interfaces.len(), 4096);
    let limit = codes(&c)
        .iter()
        .filter(|c| **c == "capture.interface_limit")
        .count();
    assert_eq!(limit, 4);
    assert_eq!(c.packets.len(), 1);
}

#[test]
fn simple_packet_block_is_cut_by_snaplen_of_interface_zero_and_keeps_last_time() {
    let ng = Ng::new()
        .section(false)
        .interface(1, 50, &[])
        .epb(0, 7_000_000, &packet(1, 20), 20);
    let ng = ng.spb(&packet(2, 64), 64).spb(&packet(3, 40), 30);
    let c = collect(&ng.finish());
    let seen: Vec<(u64, usize, u32, i64)> = c
        .packets
        .iter()
        .map(|p| (p.frame, p.data.len(), p.orig_len, p.nanos))
        .collect();
    assert_eq!(
        seen,
        vec![
            (1, 20, 20, 7_000_000_000),
            (2, 50, 64, 7_000_000_000),
            (3, 30, 30, 7_000_000_000)
        ]
    );
    assert_eq!(c.packets[1].data, packet(2, 50));
}

#[test]
fn obsolete_packet_block_is_a_packet() {
    let ng = Ng::new()
        .section(true)
        .interface(1, 0, &[])
        .interface(228, 0, &[])
        .pb(1, 3_000_000, &packet(9, 33), 40);
    let c = collect(&ng.finish());
    assert_eq!(
        c.packets,
        vec![Seen {
            frame: 1,
            nanos: 3_000_000_000,
            link_type: 228,
            data: packet(9, 33),
            orig_len: 40,
            interface: 1
        }]
    );
}

#[test]
fn unknown_and_other_blocks_are_skipped_without_findings() {
    let ng = Ng::new()
        .section(false)
        .block(0x0000_0bad, &[0, 0, 0, 1, 2])
        .interface(1, 0, &[]);
    let ng = ng
        .block(0x1234_5678, &[9; 17])
        .block(5, &[0; 20])
        .block(4, &[0; 4])
        .epb(0, 0, &packet(0, 8), 8);
    let c = collect(&ng.finish());
    assert_eq!(c.packets.len(), 1);
    assert_eq!(c.packets[0].frame, 1);
    assert!(c.findings.is_empty(), "{:?}", c.findings);
}

#[test]
fn decryption_secrets_block_gives_key_log_and_others_a_finding() {
    let text = b"CLIENT_RANDOM 0011 2233\n";
    let ng = Ng::new()
        .section(false)
        .interface(1, 0, &[])
        .epb(0, 0, &packet(0, 8), 8);
    let dsb_offset = ng.bytes.len() as u64;
    let ng = ng
        .dsb(0x544c_534b, text)
        .dsb(0x5747_4b4c, b"wireguard")
        .epb(0, 0, &packet(1, 8), 8);
    let c = collect(&ng.finish());
    assert_eq!(c.key_logs, vec![(dsb_offset, text.to_vec())]);
    assert_eq!(codes(&c), vec!["capture.secrets_ignored"]);
    assert_eq!(
        c.packets.iter().map(|p| p.frame).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(summary(&c).key_logs, 1);
}

/// 2023-11-14T22:13:20Z in microseconds (pcapng's default resolution): a
/// date no time-glitch finding comments on.
const REAL_MICROS: u64 = 1_700_000_000_000_000;

#[test]
fn items_come_in_file_order() {
    let ng = Ng::new()
        .section(false)
        .interface(1, 0, &[])
        .epb(0, REAL_MICROS, &packet(0, 8), 8)
        .dsb(0x544c_534b, b"x")
        .epb(0, REAL_MICROS, &packet(1, 8), 8);
    let bytes = ng.finish();
    let mut reader =
        CaptureReader::with_buffer(Box::new(Cursor::new(bytes)), "t", &Limits::default(), 4096)
            .unwrap();
    let mut order = Vec::new();
    while let Some(item) = reader.next_item() {
        order.push(match item {
            Item::Packet(p) => format!("p{}", p.at.frame),
            Item::KeyLog { .. } => "k".to_string(),
            Item::Finding(f) => f.code.to_string(),
        });
    }
    assert_eq!(order, vec!["p1", "k", "p2"]);
    assert!(reader.next_item().is_none());
}

#[test]
fn gzip_capture_reads_the_same_and_counts_compressed_bytes() {
    let plain = two_record_pcap(false, false);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&plain).unwrap();
    let gz = enc.finish().unwrap();
    let c = collect(&gz);
    assert_eq!(c.packets, collect(&plain).packets);
    assert!(summary(&c).gzip);
    let mut reader =
        CaptureReader::from_reader(Box::new(Cursor::new(gz.clone())), "t", &Limits::default())
            .unwrap();
    while reader.next_item().is_some() {}
    assert_eq!(reader.bytes_read(), gz.len() as u64);
    // A gzip file cut short: the packets before the cut, then a truncation finding.
    let cut = collect(&gz[..gz.len() - 10]);
    assert_eq!(codes(&cut), vec!["capture.truncated"]);
    assert!(summary(&cut).truncated);
    assert!(
        cut.findings[0]
            .message
            .ends_with("of the decompressed data"),
        "{}",
        cut.findings[0].message
    );
}

/// Block boundaries of a file: every cut inside a block yields the packets of
/// the earlier blocks and "capture truncated at byte <block start>".
fn check_every_cut(file: &[u8], boundaries: &[usize], packets_before: &dyn Fn(usize) -> usize) {
    let whole = collect(file);
    for cut in 0..file.len() {
        let prefix = &file[..cut];
        if cut < 4 {
            let opened = CaptureReader::from_reader(
                Box::new(Cursor::new(prefix.to_vec())),
                "t",
                &Limits::default(),
            );
            assert!(
                matches!(opened, Err(CaptureError::NotCapture { .. })),
                "cut {cut}"
            );
            continue;
        }
        let c = collect_with(prefix, &Limits::default(), 64);
        let start = boundaries
            .iter()
            .copied()
            .filter(|&b| b <= cut)
            .max()
            .unwrap_or(0);
        let n = packets_before(start);
        assert_eq!(c.packets, whole.packets[..n].to_vec(), "cut {cut}");
        if boundaries.contains(&cut) && cut != 0 {
            assert!(c.findings.is_empty(), "cut {cut}: {:?}", c.findings);
        } else {
            assert_eq!(codes(&c), vec!["capture.truncated"], "cut {cut}");
            assert_eq!(
                c.findings[0].message,
                format!("capture truncated at byte {start}"),
                "cut {cut}"
            );
            assert_eq!(c.findings[0].offset, Some(start as u64));
        }
    }
}

#[test]
fn pcap_truncated_at_every_byte() {
    let file = two_record_pcap(true, false);
    let boundaries = [0, 24, 24 + 16 + 60, file.len()];
    check_every_cut(&file, &boundaries, &|start| {
        boundaries
            .iter()
            .filter(|&&b| b <= start)
            .count()
            .saturating_sub(2)
    });
}

#[test]
fn pcapng_truncated_at_every_byte() {
    let mut ng = Ng::new().section(false);
    let mut boundaries = vec![0, ng.bytes.len()];
    ng = ng.interface(1, 0, &[(OPT_TSRESOL, &[9])]);
    boundaries.push(ng.bytes.len());
    ng = ng.epb(0, 1, &packet(1, 13), 13);
    let first_packet_end = ng.bytes.len();
    boundaries.push(first_packet_end);
    ng = ng.dsb(0x544c_534b, b"CLIENT_RANDOM a b\n");
    boundaries.push(ng.bytes.len());
    ng = ng.spb(&packet(2, 7), 7);
    boundaries.push(ng.bytes.len());
    let file = ng.finish();
    let packets_before =
        |start: usize| usize::from(start >= first_packet_end) + usize::from(start == file.len());
    check_every_cut(&file, &boundaries, &packets_before);
}

#[test]
fn garbage_instead_of_a_block_is_corrupt_and_stops() {
    let mut file = Ng::new()
        .section(false)
        .interface(1, 0, &[])
        .epb(0, 0, &packet(0, 8), 8)
        .finish();
    let garbage_at = file.len();
    file.extend_from_slice(b"GARBAGE! and more garbage");
    file.extend_from_slice(
        &Ng::new()
            .section(false)
            .interface(1, 0, &[])
            .epb(0, 0, &packet(0, 8), 8)
            .finish(),
    );
    let c = collect(&file);
    assert_eq!(c.packets.len(), 1);
    assert_eq!(codes(&c), vec!["capture.corrupt"]);
    let msg = &c.findings[0].message;
    assert!(
        msg.starts_with(&format!(
            "capture corrupt at byte {garbage_at}: expected a block header, saw 47 41 52 42"
        )),
        "{msg}"
    );
    assert_eq!(c.findings[0].level, Level::Error);
    assert!(summary(&c).corrupt);
}

#[test]
fn block_whose_trailing_length_disagrees_is_corrupt() {
    let mut file = Ng::new()
        .section(false)
        .interface(1, 0, &[])
        .epb(0, 0, &packet(0, 8), 8)
        .finish();
    let last = file.len() - 1;
    file[last] = 0x7f;
    let c = collect(&file);
    assert!(c.packets.is_empty());
    assert_eq!(codes(&c), vec!["capture.corrupt"]);
    assert!(
        c.findings[0].message.contains("ends with length"),
        "{}",
        c.findings[0].message
    );
}

#[test]
fn section_header_with_bad_byte_order_magic_is_corrupt() {
    let mut file = Ng::new().section(false).interface(1, 0, &[]).finish();
    let second = file.len();
    file.extend_from_slice(&Ng::new().section(false).finish());
    file[second + 8] = 0x99;
    let c = collect(&file);
    assert_eq!(codes(&c), vec!["capture.corrupt"]);
    assert!(
        c.findings[0].message.contains("byte-order magic"),
        "{}",
        c.findings[0].message
    );
}

#[test]
fn pcap_record_with_absurd_length_is_corrupt() {
    let mut file = two_record_pcap(false, false);
    let second = 24 + 16 + 60;
    file[second + 8..second + 12].copy_from_slice(&0x4141_4141u32.to_le_bytes());
    let c = collect(&file);
    assert_eq!(c.packets.len(), 1);
    assert_eq!(codes(&c), vec!["capture.corrupt"]);
    assert!(
        c.findings[0]
            .message
            .contains("more than the snapshot length 65535"),
        "{}",
        c.findings[0].message
    );
}

#[test]
fn oversized_blocks_are_skipped_and_counted_as_frames() {
    let limits = Limits {
        max_capture_block: 256,
        ..Limits::default()
    };
    let ng = Ng::new()
        .section(false)
        .interface(1, 0, &[])
        .epb(0, 0, &packet(1, 8), 8);
    let ng = ng
        .epb(0, 0, &packet(2, 1000), 1000)
        .block(0x99, &[0; 600])
        .epb(0, 0, &packet(3, 8), 8);
    let c = collect_with(&ng.finish(), &limits, 64);
    assert_eq!(
        c.packets.iter().map(|p| p.frame).collect::<Vec<_>>(),
        vec![1, 3]
    );
    assert_eq!(
        codes(&c),
        vec!["capture.oversized_block", "capture.oversized_block"]
    );
    assert_eq!(c.findings[0].frame, Some(2));
    assert_eq!(c.findings[1].frame, None);

    let big = packet(7, 1000);
    let small = packet(8, 10);
    let file = pcap_file(
        false,
        false,
        1,
        65535,
        &[
            Record {
                secs: 1,
                frac: 0,
                data: &big,
                orig_len: 1000,
            },
            Record {
                secs: 2,
                frac: 0,
                data: &small,
                orig_len: 10,
            },
        ],
    );
    let c = collect_with(&file, &limits, 64);
    assert_eq!(
        c.packets.iter().map(|p| p.frame).collect::<Vec<_>>(),
        vec![2]
    );
    assert_eq!(codes(&c), vec!["capture.oversized_block"]);
    // Cut inside the skipped block: truncated at the block's start.
    let c = collect_with(&file[..500], &limits, 64);
    assert_eq!(
        codes(&c),
        vec!["capture.oversized_block", "capture.truncated"]
    );
    assert_eq!(c.findings[1].offset, Some(24));
}

#[test]
fn oversized_block_with_wrong_trailer_is_corrupt() {
    let limits = Limits {
        max_capture_block: 256,
        ..Limits::default()
    };
    let mut file = Ng::new()
        .section(false)
        .interface(1, 0, &[])
        .epb(0, 0, &packet(2, 1000), 1000)
        .finish();
    let last = file.len() - 2;
    file[last] = 0x55;
    let c = collect_with(&file, &limits, 64);
    assert_eq!(
        codes(&c),
        vec!["capture.oversized_block", "capture.corrupt"]
    );
}

#[test]
fn buffer_grows_for_blocks_larger_than_it() {
    let ng = Ng::new()
        .section(false)
        .interface(1, 0, &[])
        .epb(0, 0, &packet(1, 5000), 5000)
        .epb(0, 0, &packet(2, 9000), 9000);
    let c = collect_with(&ng.finish(), &Limits::default(), 16);
    assert_eq!(c.packets.len(), 2);
    assert_eq!(c.packets[1].data, packet(2, 9000));
}

#[test]
fn packet_naming_an_unknown_interface_is_skipped_as_a_frame() {
    let ng = Ng::new()
        .section(false)
        .interface(1, 0, &[])
        .epb(3, 0, &packet(1, 8), 8)
        .epb(0, 0, &packet(2, 8), 8);
    let c = collect(&ng.finish());
    assert_eq!(codes(&c), vec!["capture.bad_interface"]);
    assert_eq!(c.findings[0].frame, Some(1));
    assert_eq!(c.packets[0].frame, 2);
    // An SPB before any IDB, too.
    let c = collect(&Ng::new().section(false).spb(&packet(1, 8), 8).finish());
    assert_eq!(codes(&c), vec!["capture.bad_interface"]);
}

#[test]
fn well_framed_malformed_packet_block_is_skipped_as_a_frame() {
    // An EPB whose captured length runs past its block.
    let mut body = Vec::new();
    for word in [0u32, 0, 0, 500, 500] {
        body.extend_from_slice(&word.to_le_bytes());
    }
    body.extend_from_slice(&[0; 8]);
    let ng = Ng::new()
        .section(false)
        .interface(1, 0, &[])
        .block(6, &body)
        .epb(0, 0, &packet(2, 8), 8);
    let c = collect(&ng.finish());
    assert_eq!(codes(&c), vec!["capture.bad_block"]);
    assert_eq!(c.findings[0].frame, Some(1));
    assert_eq!(
        c.packets.iter().map(|p| p.frame).collect::<Vec<_>>(),
        vec![2]
    );
}

#[test]
fn short_reads_give_the_same_items() {
    struct Trickle(Cursor<Vec<u8>>);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.read(&mut buf[..n])
        }
    }
    let file = Ng::new()
        .section(true)
        .interface(1, 0, &[])
        .epb(0, REAL_MICROS, &packet(1, 77), 77)
        .finish();
    let mut reader = CaptureReader::from_reader(
        Box::new(Trickle(Cursor::new(file.clone()))),
        "t",
        &Limits::default(),
    )
    .unwrap();
    let mut n = 0;
    while let Some(item) = reader.next_item() {
        assert!(matches!(item, Item::Packet(p) if p.data == packet(1, 77).as_slice()));
        n += 1;
    }
    assert_eq!(n, 1);
    assert_eq!(reader.summary().file_bytes, file.len() as u64);
}

#[test]
fn read_error_mid_file_is_a_finding() {
    struct Broken(Cursor<Vec<u8>>);
    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(io::Error::other("cable unplugged")),
                n => Ok(n),
            }
        }
    }
    let file = two_record_pcap(false, false);
    let mut reader = CaptureReader::with_buffer(
        Box::new(Broken(Cursor::new(file[..110].to_vec()))),
        "t",
        &Limits::default(),
        64,
    )
    .unwrap();
    let mut findings = Vec::new();
    let mut packets = 0;
    while let Some(item) = reader.next_item() {
        match item {
            Item::Packet(_) => packets += 1,
            Item::Finding(f) => findings.push(f),
            Item::KeyLog { .. } => {}
        }
    }
    assert_eq!(packets, 1);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].code, "capture.read_error");
    assert!(
        findings[0].message.contains("cable unplugged"),
        "{}",
        findings[0].message
    );
}

#[test]
fn not_a_capture_is_an_error_with_a_guess() {
    let cases: [(&[u8], &str); 4] = [
        (b"", "empty file"),
        (b"PK\x03\x04\x14\x00\x08\x00", "zip archive"),
        (b"CLIENT_RANDOM 00 11\n", "looks like a TLS key log"),
        (b"this is a text file\n", "looks like text"),
    ];
    for (bytes, guess) in cases {
        match CaptureReader::from_reader(
            Box::new(Cursor::new(bytes.to_vec())),
            "x.pcap",
            &Limits::default(),
        ) {
            Err(CaptureError::NotCapture { name, guess: g, .. }) => {
                assert_eq!((name.as_str(), g.as_str()), ("x.pcap", guess));
            }
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("{guess} accepted as a capture"),
        }
    }
}

#[test]
fn summary_serialises_deterministically() {
    let c = collect(&two_record_pcap(false, true));
    let json = serde_json::to_string(summary(&c)).unwrap();
    assert!(json.contains(r#""format":{"kind":"pcap","precision":"nanoseconds","byte_order":"little","modified":false}"#), "{json}");
    assert!(
        json.contains(r#""packets_per_link_type":{"1":2}"#),
        "{json}"
    );
}

#[test]
fn gzip_cut_in_its_trailer_is_still_truncated() {
    let plain = two_record_pcap(false, false);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&plain).unwrap();
    let gz = enc.finish().unwrap();
    // The 8-byte trailer (CRC, size) is cut: every packet is there, the file is not whole.
    let c = collect(&gz[..gz.len() - 3]);
    assert_eq!(c.packets.len(), 2);
    assert_eq!(codes(&c), vec!["capture.truncated"]);
    assert_eq!(c.findings[0].offset, Some(plain.len() as u64));
    // A corrupt deflate stream mid-file is a read error, after the packets before it.
    let mut broken = gz.clone();
    let mid = broken.len() / 2;
    broken[mid..mid + 8].copy_from_slice(&[0xff; 8]);
    let c = collect(&broken);
    assert!(
        matches!(
            codes(&c).as_slice(),
            ["capture.read_error"] | ["capture.truncated"]
        ),
        "{:?}",
        c.findings
    );
}

#[test]
fn reader_and_decoder_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<CaptureReader>();
    assert_send::<crate::decode::Decoder>();
}

/// A frame dated forty years after its neighbours, and a clock never set:
/// each a `capture.time_glitch` right after its packet; timestamps unchanged.
#[test]
fn absurd_dates_are_time_glitches_after_their_packet() {
    const YEAR_MICROS: u64 = 365 * 86_400 * 1_000_000;
    let ng = Ng::new()
        .section(false)
        .interface(1, 0, &[])
        .epb(0, REAL_MICROS, &packet(0, 8), 8)
        .epb(0, REAL_MICROS + 40 * YEAR_MICROS, &packet(1, 8), 8)
        .epb(0, REAL_MICROS + 1_000_000, &packet(2, 8), 8)
        .epb(0, 5, &packet(3, 8), 8)
        .epb(0, 6, &packet(4, 8), 8);
    let mut reader = CaptureReader::with_buffer(
        Box::new(Cursor::new(ng.finish())),
        "t",
        &Limits::default(),
        4096,
    )
    .unwrap();
    let mut order = Vec::new();
    while let Some(item) = reader.next_item() {
        order.push(match item {
            Item::Packet(p) => format!("p{} {}", p.at.frame, p.at.ts),
            Item::KeyLog { .. } => "k".to_string(),
            Item::Finding(f) => format!("{} {} {:?}", f.code, f.level, f.frame),
        });
    }
    assert_eq!(
        order,
        vec![
            "p1 2023-11-14T22:13:20.000000Z",
            "p2 2063-11-04T22:13:20.000000Z",
            "capture.time_glitch warn Some(2)",
            "p3 2023-11-14T22:13:21.000000Z",
            "p4 1970-01-01T00:00:00.000005Z",
            "capture.time_glitch warn Some(4)",
            "p5 1970-01-01T00:00:00.000006Z",
        ]
    );
    assert_eq!(reader.summary().time_glitches, 2);
    let json = serde_json::to_string(reader.summary()).unwrap();
    assert!(json.contains(r#""time_glitches":2"#), "{json}");
}

fn pcap_of_sizes(snaplen: u32, sizes: &[usize]) -> Vec<u8> {
    let data: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![0x5a; n]).collect();
    let records: Vec<Record<'_>> = data
        .iter()
        .enumerate()
        .map(|(i, d)| Record {
            secs: T0 as u32 + i as u32,
            frac: 0,
            data: d,
            orig_len: d.len() as u32,
        })
        .collect();
    pcap_file(false, false, 1, snaplen, &records)
}

#[test]
fn a_record_over_the_snapshot_length_is_read_said_and_the_rest_follows() {
    let file = pcap_of_sizes(65535, &[60, 70_000, 100, 80_000, 60]);
    let c = collect(&file);
    let lens: Vec<usize> = c.packets.iter().map(|p| p.data.len()).collect();
    assert_eq!(lens, [60, 70_000, 100, 80_000, 60]);
    assert_eq!(codes(&c), vec!["capture.over_snaplen"], "said once");
    let f = &c.findings[0];
    assert_eq!(f.frame, Some(2));
    assert!(
        f.message
            .contains("70000 captured bytes, more than the file's snapshot length 65535"),
        "{}",
        f.message
    );
}

#[test]
fn records_between_256_kib_and_the_block_cap_are_read() {
    for snaplen in [0, 262_144, 1 << 24] {
        let file = pcap_of_sizes(snaplen, &[60, 300_000, (8 << 20) + 1, 60]);
        let c = collect(&file);
        let lens: Vec<usize> = c.packets.iter().map(|p| p.data.len()).collect();
        assert_eq!(lens, [60, 300_000, (8 << 20) + 1, 60], "snaplen {snaplen}");
        let expected: &[&str] = if snaplen == 262_144 {
            &["capture.over_snaplen"]
        } else {
            &[]
        };
        assert_eq!(codes(&c), expected, "snaplen {snaplen}");
    }
}

#[test]
fn snaplen_zero_is_unknown_a_record_over_the_cap_is_skipped_not_corrupt() {
    let limits = Limits {
        max_capture_block: 4096,
        ..Limits::default()
    };
    let file = pcap_of_sizes(0, &[60, 5000, 60]);
    let c = collect_with(&file, &limits, 1024);
    assert_eq!(c.packets.len(), 2, "the records around it are read");
    assert_eq!(codes(&c), vec!["capture.oversized_block"]);
}
