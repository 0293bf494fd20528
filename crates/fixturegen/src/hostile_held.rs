//! Hostile captures that make many connections hold a buffer at once, each
//! just under its per-connection cap, for the whole-analysis memory budget.
//!
//! Takes a writer, a connection count and the bytes each connection holds;
//! gives a little-endian microsecond pcap, one connection after the other,
//! none ever ended (so all of them hold their buffer at the end). Never
//! builds the whole capture in memory: each connection is written as it is
//! made.

use std::io::Write;
use std::net::SocketAddr;

use flate2::{Compress, Compression, FlushCompress};

use crate::frame::{FrameSink, LINKTYPE_ETHERNET, START_NS};
use crate::pcap::{PcapFormat, PcapWriter};
use crate::tcp::{ConvConfig, Conversation};
use crate::wire::{render, Wire};
use crate::{Dir, Error};

/// Which buffer each connection fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeldCase {
    /// Plain XMPP (port 5222): an unfinished `<message>` stanza.
    Stanza,
    /// HTTP (port 80): a POST whose body never ends.
    HttpBody,
    /// WebSocket with permessage-deflate (port 80): a first compressed
    /// fragment of a message never finished.
    CompressedWsMessage,
}

/// `count` connections, each holding about `held` bytes in `case`'s buffer.
pub fn held_connections<W: Write>(
    out: W,
    case: HeldCase,
    count: u32,
    held: usize,
) -> Result<W, Error> {
    let mut w = PcapWriter::new(out, PcapFormat::usec(LINKTYPE_ETHERNET))?;
    let wire = Wire::ethernet();
    for i in 0..count {
        let octets = (i + 1).to_be_bytes();
        let client: SocketAddr = ([10, octets[1], octets[2], octets[3]], 40_000).into();
        let port = if case == HeldCase::Stanza { 5222 } else { 80 };
        let server: SocketAddr = ([10, 250, 0, 1], port).into();
        let start = START_NS + i64::from(i) * 1_000_000;
        let mut conv = Conversation::new(i, ConvConfig::new(client, server), start);
        conv.handshake();
        for (dir, bytes) in script(case, held) {
            conv.send(dir, &bytes);
        }
        for seg in &conv.drain() {
            for r in render(seg, &wire)? {
                w.write_frame(&r.frame)?;
            }
        }
    }
    Ok(w.into_inner()?)
}

/// `count` connections (never ended) whose client sends `segments + 1`
/// full segments after the handshake, of which the capture lost the first
/// and every ACK from the server: each connection holds `segments`
/// out-of-order segments waiting for a hole that never fills.
pub fn held_out_of_order<W: Write>(out: W, count: u32, segments: usize) -> Result<W, Error> {
    let mut w = PcapWriter::new(out, PcapFormat::usec(LINKTYPE_ETHERNET))?;
    let wire = Wire::ethernet();
    for i in 0..count {
        let octets = (i + 1).to_be_bytes();
        let client: SocketAddr = ([10, octets[1], octets[2], octets[3]], 40_000).into();
        let server: SocketAddr = ([10, 250, 0, 1], 5222).into();
        let cfg = ConvConfig::new(client, server);
        let mss = cfg.mss;
        let start = START_NS + i64::from(i) * 100_000;
        let mut conv = Conversation::new(i, cfg, start);
        conv.handshake();
        let handshake = conv.drain();
        conv.send(Dir::ClientToServer, &vec![b'a'; mss * (segments + 1)]);
        let data = conv
            .drain()
            .into_iter()
            .filter(|seg| seg.dir == Dir::ClientToServer && !seg.payload.is_empty());
        for seg in handshake
            .iter()
            .chain(data.skip(1).collect::<Vec<_>>().iter())
        {
            for r in render(seg, &wire)? {
                w.write_frame(&r.frame)?;
            }
        }
    }
    Ok(w.into_inner()?)
}

/// What one connection says, up to the buffer it leaves unfinished.
fn script(case: HeldCase, held: usize) -> Vec<(Dir, Vec<u8>)> {
    let filler = vec![b'a'; held];
    match case {
        HeldCase::Stanza => {
            let ns = "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'";
            let mut stanza = b"<message to='a@example.com'><body>".to_vec();
            stanza.extend_from_slice(&filler);
            vec![
                (Dir::ClientToServer, format!("<?xml version='1.0'?><stream:stream to='example.com' {ns}>").into_bytes()),
                (Dir::ServerToClient, format!("<?xml version='1.0'?><stream:stream from='example.com' id='s1' {ns}>").into_bytes()),
                (Dir::ClientToServer, stanza),
            ]
        }
        HeldCase::HttpBody => {
            let mut request = format!(
                "POST /http-bind/ HTTP/1.1\r\nHost: finesse.example\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
                held.saturating_mul(2)
            )
            .into_bytes();
            request.extend_from_slice(&filler);
            vec![(Dir::ClientToServer, request)]
        }
        HeldCase::CompressedWsMessage => vec![
            (
                Dir::ClientToServer,
                b"GET /ws HTTP/1.1\r\nHost: finesse.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n".to_vec(),
            ),
            (
                Dir::ServerToClient,
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: xmpp\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n".to_vec(),
            ),
            (Dir::ServerToClient, first_compressed_fragment(held)),
        ],
    }
}

/// A server WebSocket frame (unmasked, FIN clear, RSV1 set: the first
/// fragment of a compressed text message, RFC 7692 §6) carrying `held`
/// bytes of stored deflate blocks (which inflate one to one).
fn first_compressed_fragment(held: usize) -> Vec<u8> {
    let text = vec![b'a'; held];
    let mut z = Compress::new(Compression::none(), false);
    let mut payload = Vec::with_capacity(held + held / 1000 + 64);
    // Stored blocks, sync-flushed: no final block, the message goes on.
    let _ = z.compress_vec(&text, &mut payload, FlushCompress::Sync);
    let mut frame = vec![0x40 | 0x01, 127];
    frame.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    frame.extend_from_slice(&payload);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_case_writes_every_connection_with_its_held_bytes() {
        for case in [
            HeldCase::Stanza,
            HeldCase::HttpBody,
            HeldCase::CompressedWsMessage,
        ] {
            let one = held_connections(Vec::new(), case, 1, 10_000).unwrap();
            let three = held_connections(Vec::new(), case, 3, 10_000).unwrap();
            assert!(one.len() > 10_000, "{case:?}: {}", one.len());
            assert!(three.len() > 3 * 10_000, "{case:?}");
        }
    }

    #[test]
    fn out_of_order_connections_lose_their_first_data_segment_and_every_ack() {
        let one = held_out_of_order(Vec::new(), 1, 4).unwrap();
        // Three handshake frames, then four of the five data segments.
        assert!(
            one.len() > 4 * 1460 && one.len() < 5 * 1460 + 1000,
            "{}",
            one.len()
        );
    }

    #[test]
    fn the_compressed_fragment_is_stored_deflate_without_a_final_block() {
        let frame = first_compressed_fragment(1000);
        assert_eq!(frame.first(), Some(&0x41));
        let payload = &frame[10..];
        let mut z = flate2::Decompress::new(false);
        let mut out = Vec::with_capacity(2000);
        z.decompress_vec(payload, &mut out, flate2::FlushDecompress::Sync)
            .unwrap();
        assert_eq!(out, vec![b'a'; 1000]);
    }
}
