//! Hostile captures: files built to cost an analyzer memory or hide data,
//! for measuring peak memory and checking that every cap is said.
//!
//! Takes a writer and a count; gives a pcapng stream, written as it goes so
//! the generator's own memory stays flat whatever the count. Never writes a
//! packet: each case is only the blocks its attack needs.

use std::io::{self, Write};
use std::net::SocketAddr;

use crate::frame::{Endian, FrameSink, LINKTYPE_ETHERNET, START_NS};
use crate::pcap::{PcapFormat, PcapWriter};
use crate::pcapng::{Interface, PcapNgWriter};
use crate::tcp::{ConvConfig, Conversation};
use crate::wire::{render, Wire};
use crate::{Dir, Error};

/// How far [`seq_jump`] moves the client's sequence numbers: more than half
/// the sequence space, so the signed distance reads "behind".
pub const SEQ_JUMP: u32 = (1 << 31) + 1000;

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

/// A pcap (Ethernet) of one TCP connection whose client sends `before`
/// bytes, then jumps [`SEQ_JUMP`] ahead in its sequence space (the server's
/// ACKs follow it) and sends `after` bytes and its FIN.
pub fn seq_jump<W: Write>(out: W, before: usize, after: usize) -> Result<W, Error> {
    let client: SocketAddr = ([192, 168, 10, 21], 50_900).into();
    let server: SocketAddr = ([10, 20, 30, 41], 5222).into();
    let mut conv = Conversation::new(0, ConvConfig::new(client, server), START_NS);
    conv.handshake();
    conv.send(Dir::ClientToServer, &vec![b'a'; before]);
    let mut segments = conv.drain();
    conv.send(Dir::ClientToServer, &vec![b'z'; after]);
    conv.close_fin(Dir::ClientToServer);
    conv.close_fin(Dir::ServerToClient);
    for mut seg in conv.drain() {
        match seg.dir {
            Dir::ClientToServer => seg.seq = seg.seq.wrapping_add(SEQ_JUMP),
            Dir::ServerToClient => seg.ack = seg.ack.map(|a| a.wrapping_add(SEQ_JUMP)),
        }
        segments.push(seg);
    }
    let mut w = PcapWriter::new(out, PcapFormat::usec(LINKTYPE_ETHERNET))?;
    let wire = Wire::ethernet();
    for seg in &segments {
        for r in render(seg, &wire)? {
            w.write_frame(&r.frame)?;
        }
    }
    Ok(w.into_inner()?)
}

/// A pcap of one plain XMPP connection (port 5222) whose server sends a
/// message of `elements` empty child elements, each with an attribute
/// written twice (a stanza of about 20 bytes per element).
pub fn xml_flood<W: Write>(out: W, elements: usize) -> Result<W, Error> {
    let client: SocketAddr = ([192, 168, 10, 21], 50_901).into();
    let server: SocketAddr = ([10, 20, 30, 41], 5222).into();
    let mut conv = Conversation::new(0, ConvConfig::new(client, server), START_NS);
    conv.handshake();
    conv.send(Dir::ClientToServer, b"<?xml version='1.0'?><stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
    conv.send(Dir::ServerToClient, b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='example.com' version='1.0'>");
    let mut message = b"<message from='example.com'>".to_vec();
    for _ in 0..elements {
        message.extend_from_slice(b"<a b='1' b='2'/>");
    }
    message.extend_from_slice(b"</message>");
    conv.send(Dir::ServerToClient, &message);
    conv.close_fin(Dir::ClientToServer);
    conv.close_fin(Dir::ServerToClient);
    let mut w = PcapWriter::new(out, PcapFormat::usec(LINKTYPE_ETHERNET))?;
    let wire = Wire::ethernet();
    for seg in &conv.drain() {
        for r in render(seg, &wire)? {
            w.write_frame(&r.frame)?;
        }
    }
    Ok(w.into_inner()?)
}

/// A little-endian microsecond pcap whose header says `snaplen`, with one
/// record of each of `sizes` bytes (zeros: Ethernet frames of no known
/// type), written as they are whatever the snapshot length.
pub fn raw_records<W: Write>(mut out: W, snaplen: u32, sizes: &[usize]) -> io::Result<W> {
    let mut header = Vec::with_capacity(24);
    for word in [
        0xa1b2_c3d4u32,
        0x0004_0002,
        0,
        0,
        snaplen,
        LINKTYPE_ETHERNET,
    ] {
        header.extend_from_slice(&word.to_le_bytes());
    }
    out.write_all(&header)?;
    for (i, &size) in sizes.iter().enumerate() {
        let len = u32::try_from(size).unwrap_or(u32::MAX);
        for word in [1_772_442_000 + i as u32, 0, len, len] {
            out.write_all(&word.to_le_bytes())?;
        }
        out.write_all(&vec![0; size])?;
    }
    out.flush()?;
    Ok(out)
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
    fn raw_records_keep_their_size_whatever_the_snaplen() {
        let bytes = raw_records(Vec::new(), 100, &[60, 300]).unwrap();
        assert_eq!(bytes.len(), 24 + 16 + 60 + 16 + 300);
        assert_eq!(bytes[16..20], 100u32.to_le_bytes());
    }

    #[test]
    fn seq_jump_moves_the_client_after_the_first_bytes() {
        let bytes = seq_jump(Vec::new(), 100, 3000).unwrap();
        let mut reader = create_reader(1 << 16, &bytes[..]).unwrap();
        let mut records = 0;
        loop {
            match reader.next() {
                Ok((n, _)) => {
                    records += 1;
                    reader.consume(n);
                }
                Err(PcapError::Eof) => break,
                Err(PcapError::Incomplete(_)) => reader.refill().unwrap(),
                Err(e) => panic!("{e:?}"),
            }
        }
        // Header, handshake, 1 + 3 data segments with ACKs, two FINs with ACKs.
        assert!(records > 10, "{records}");
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
