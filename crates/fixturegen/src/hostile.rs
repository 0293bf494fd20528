//! Hostile captures: files built to cost an analyzer memory or hide data,
//! for measuring peak memory and checking that every cap is said.
//!
//! Takes a writer and a count; gives a pcapng stream, written as it goes so
//! the generator's own memory stays flat whatever the count. Never writes a
//! packet: each case is only the blocks its attack needs.

use std::io::{self, Write};

use crate::frame::{Endian, LINKTYPE_ETHERNET};
use crate::pcapng::{Interface, PcapNgWriter};

/// `count` empty TLS key log Decryption Secrets Blocks: each one is a key
/// source holding no secret (5 million gzip to about 250 KB).
pub fn empty_dsbs<W: Write>(out: W, count: u64) -> io::Result<W> {
    let mut w = PcapNgWriter::new(out, Endian::Little)?;
    w.interface(Interface::new(LINKTYPE_ETHERNET))?;
    for _ in 0..count {
        w.tls_secrets(b"")?;
    }
    w.into_inner()
}

/// `count` distinct TLS 1.2 secrets (`CLIENT_RANDOM` lines with distinct
/// client randoms), `per_block` lines to a Decryption Secrets Block.
pub fn distinct_secrets<W: Write>(out: W, count: u64, per_block: u64) -> io::Result<W> {
    let mut w = PcapNgWriter::new(out, Endian::Little)?;
    w.interface(Interface::new(LINKTYPE_ETHERNET))?;
    let per_block = per_block.max(1);
    let mut block = Vec::new();
    for i in 0..count {
        block.extend_from_slice(keylog_line(i).as_bytes());
        if (i + 1) % per_block == 0 {
            w.tls_secrets(&block)?;
            block.clear();
        }
    }
    if !block.is_empty() {
        w.tls_secrets(&block)?;
    }
    w.into_inner()
}

/// A `CLIENT_RANDOM` line whose client random encodes `i`.
pub fn keylog_line(i: u64) -> String {
    format!("CLIENT_RANDOM {:064x} {}\n", i, "ab".repeat(48))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_parser::{create_reader, PcapBlockOwned, PcapError};

    fn dsb_lengths(bytes: &[u8]) -> Vec<usize> {
        let mut reader = create_reader(1 << 16, bytes).unwrap();
        let mut lens = Vec::new();
        loop {
            match reader.next() {
                Ok((n, block)) => {
                    if let PcapBlockOwned::NG(pcap_parser::Block::DecryptionSecrets(d)) = block {
                        lens.push(d.data.len());
                    }
                    reader.consume(n);
                }
                Err(PcapError::Eof) => break,
                Err(PcapError::Incomplete(_)) => reader.refill().unwrap(),
                Err(e) => panic!("{e:?}"),
            }
        }
        lens
    }

    #[test]
    fn empty_dsbs_are_empty_key_logs() {
        let bytes = empty_dsbs(Vec::new(), 3).unwrap();
        assert_eq!(dsb_lengths(&bytes), [0, 0, 0]);
    }

    #[test]
    fn distinct_secrets_fill_blocks_of_the_asked_size() {
        let bytes = distinct_secrets(Vec::new(), 5, 2).unwrap();
        let line = keylog_line(0).len();
        assert_eq!(dsb_lengths(&bytes), [2 * line, 2 * line, line]);
        assert_ne!(keylog_line(1), keylog_line(2));
    }
}
