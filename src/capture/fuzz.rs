//! Fuzzing entry for the capture reader, and a deterministic fuzz smoke test.
//!
//! Takes arbitrary bytes; reads them as a capture to the end with a tiny
//! buffer (so buffer growth is exercised) and a 1 MiB block cap. Never
//! expected to panic: that is what the fuzzer looks for.

use std::io::Cursor;

use super::reader::CaptureReader;
use super::Item;
use crate::limits::Limits;

/// Reads `data` as a capture to the end, checking the reader's own promises.
pub(crate) fn read_all(data: &[u8]) {
    let limits = Limits {
        max_capture_block: 1 << 20,
        ..Limits::default()
    };
    let source = Box::new(Cursor::new(data.to_vec()));
    let Ok(mut reader) = CaptureReader::with_buffer(source, "fuzz", &limits, 64) else {
        return;
    };
    let mut frames = 0;
    while let Some(item) = reader.next_item() {
        if let Item::Packet(p) = item {
            assert!(p.at.frame > frames, "frame numbers must increase");
            frames = p.at.frame;
            assert!(p.data.len() <= limits.max_capture_block);
        }
    }
    assert!(reader.summary().packets >= frames);
    assert!(
        reader.next_item().is_none(),
        "a finished reader stays finished"
    );
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::capture::testutil::{pcap_file, Ng, Record, OPT_TSOFFSET, OPT_TSRESOL};

    /// xorshift64*: deterministic, dependency-free pseudo-random numbers.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn seeds() -> Vec<Vec<u8>> {
        let data: Vec<u8> = (0..90).collect();
        let records = [
            Record {
                secs: 1,
                frac: 2,
                data: &data[..60],
                orig_len: 60,
            },
            Record {
                secs: 3,
                frac: 4,
                data: &data,
                orig_len: 1500,
            },
        ];
        let ng = Ng::new().section(false);
        let offset = ng.ts_offset(-3);
        let ng = ng
            .interface(
                1,
                64,
                &[(OPT_TSRESOL, &[0x80 | 10]), (OPT_TSOFFSET, &offset)],
            )
            .interface(113, 0, &[])
            .epb(1, 99, &data[..40], 40)
            .spb(&data, 90)
            .dsb(0x544c_534b, b"CLIENT_RANDOM aa bb\n")
            .block(0x0000_0bad, &[1, 2, 3, 4, 5])
            .section(true)
            .interface(101, 0, &[])
            .pb(0, 5, &data[..20], 20)
            .epb(0, 6, &data[..33], 33);
        let pcapng = ng.finish();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&pcapng).unwrap();
        vec![
            pcap_file(false, false, 1, 65535, &records),
            pcap_file(true, true, 276, 0, &records),
            pcapng,
            gz.finish().unwrap(),
        ]
    }

    fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
        const INTERESTING: [u32; 8] = [0, 1, 12, 0x7f, 0xffff, 0x7fff_ffff, 0xffff_fff0, u32::MAX];
        for _ in 0..1 + rng.below(4) {
            let len = input.len();
            match rng.below(6) {
                0 if len > 0 => {
                    let i = rng.below(len);
                    input[i] ^= 1 << rng.below(8);
                }
                1 if len > 0 => {
                    let i = rng.below(len);
                    input[i] = rng.next() as u8;
                }
                2 if len >= 4 => {
                    let i = rng.below(len / 4) * 4;
                    let v = INTERESTING[rng.below(INTERESTING.len())];
                    let bytes = if rng.below(2) == 0 {
                        v.to_le_bytes()
                    } else {
                        v.to_be_bytes()
                    };
                    input[i..i + 4].copy_from_slice(&bytes);
                }
                3 => input.truncate(rng.below(len + 1)),
                4 if len > 0 => {
                    let start = rng.below(len);
                    let end = (start + rng.below(64)).min(len);
                    let chunk = input[start..end].to_vec();
                    let at = rng.below(len);
                    input.splice(at..at, chunk);
                }
                _ if len > 0 => {
                    let start = rng.below(len);
                    let end = (start + rng.below(64)).min(len);
                    input.drain(start..end);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn fuzz_smoke_mutated_captures_never_panic() {
        let seeds = seeds();
        for seed in &seeds {
            read_all(seed);
        }
        let mut rng = Rng(0x5eed_cafe_f00d_0001);
        for _ in 0..3000 {
            let mut input = seeds[rng.below(seeds.len())].clone();
            mutate(&mut rng, &mut input);
            read_all(&input);
        }
        for _ in 0..200 {
            let len = rng.below(200);
            let mut noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if let Some(magic) = noise.get_mut(..4) {
                magic.copy_from_slice(&[0x0a, 0x0d, 0x0d, 0x0a]);
            }
            read_all(&noise);
        }
    }
}

/// Throughput check, run by hand: `cargo test --release --lib capture::fuzz::bench -- --ignored --nocapture`.
#[cfg(test)]
mod bench {
    use std::io::{BufWriter, Write};
    use std::time::Instant;

    use crate::capture::{CaptureReader, Item};
    use crate::decode::{Decoded, Decoder};
    use crate::limits::Limits;

    fn write_file(path: &std::path::Path, pcapng: bool, packets: usize) {
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 443, 1, 1000)
            .write(&mut frame, &[0x55; 1460])
            .unwrap();
        let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
        if pcapng {
            let head = crate::capture::testutil::Ng::new()
                .section(false)
                .interface(1, 0, &[])
                .finish();
            out.write_all(&head).unwrap();
        } else {
            out.write_all(&crate::capture::testutil::pcap_file(
                false,
                false,
                1,
                65535,
                &[],
            ))
            .unwrap();
        }
        for i in 0..packets {
            let rec = if pcapng {
                crate::capture::testutil::Ng::new()
                    .epb(0, i as u64, &frame, frame.len() as u32)
                    .finish()
            } else {
                let r = crate::capture::testutil::Record {
                    secs: i as u32,
                    frac: 0,
                    data: &frame,
                    orig_len: frame.len() as u32,
                };
                let with_header = crate::capture::testutil::pcap_file(false, false, 1, 65535, &[r]);
                with_header[24..].to_vec()
            };
            out.write_all(&rec).unwrap();
        }
    }

    #[test]
    #[ignore]
    fn bench_read_and_decode_one_gigabyte() {
        // xmppcap-bench.pcap.gz is read when present (make it with `gzip -1 -k`).
        for (name, pcapng) in [("pcap", false), ("pcapng", true), ("pcap.gz", false)] {
            let path = std::env::temp_dir().join(format!("xmppcap-bench.{name}"));
            if !path.exists() && name.ends_with(".gz") {
                continue;
            }
            if !path.exists() {
                write_file(&path, pcapng, 700_000);
            }
            let size = std::fs::metadata(&path).unwrap().len() as f64;
            let limits = Limits::default();
            let start = Instant::now();
            let mut reader = CaptureReader::open(&path, &limits).unwrap();
            let mut bytes = 0u64;
            while let Some(item) = reader.next_item() {
                if let Item::Packet(p) = item {
                    bytes += p.data.len() as u64;
                }
            }
            let read_secs = start.elapsed().as_secs_f64();
            let start = Instant::now();
            let mut reader = CaptureReader::open(&path, &limits).unwrap();
            let mut decoder = Decoder::new(&limits);
            let mut findings = Vec::new();
            let mut payload = 0u64;
            while let Some(item) = reader.next_item() {
                if let Item::Packet(p) = item {
                    if let Decoded::Tcp(s) = decoder.on_packet(&p, &mut findings) {
                        payload += s.payload.len() as u64;
                    }
                }
            }
            let decode_secs = start.elapsed().as_secs_f64();
            let size = if name.ends_with(".gz") {
                bytes as f64
            } else {
                size
            };
            eprintln!(
                "{name}: {:.0} MB, read {:.2} GB/s, read+decode {:.2} GB/s ({bytes} packet bytes, {payload} TCP payload bytes)",
                size / 1e6,
                size / read_secs / 1e9,
                size / decode_secs / 1e9
            );
        }
    }
}
