//! The decoder: one packet in, its TCP segment (or why none) out; at the
//! end of the capture, what it could not decode.
//!
//! Takes packets in capture order; gives a [`Decoded`] per packet, findings
//! for malformed packets and dropped fragments as they happen, and from
//! [`Decoder::finish`] one finding per kind of traffic it skipped. Never
//! panics on any bytes and never reads past the captured length.

use super::fragment::Reassembler;
use super::link::{self, Link};
use super::net::{Net, Next};
use super::{DecodeStats, Decoded, Skipped};
use crate::capture::Packet;
use crate::finding::{Finding, Findings, Layer, Level};
use crate::limits::Limits;

/// Nesting allowed whatever `Limits` says: each level may keep one reassembled datagram.
const MAX_DEPTH: usize = 64;

/// Decodes packets to TCP segments; holds IP fragments between packets.
pub struct Decoder {
    fragments: Reassembler,
    /// Payloads of the datagrams the current packet completed (one per IP layer).
    buffers: Vec<Vec<u8>>,
    max_depth: usize,
    stats: DecodeStats,
}

impl Decoder {
    pub fn new(limits: &Limits) -> Decoder {
        let max_depth = limits.max_encapsulation_depth.min(MAX_DEPTH);
        Decoder {
            fragments: Reassembler::new(limits),
            buffers: vec![Vec::new(); max_depth + 1],
            max_depth,
            stats: DecodeStats::default(),
        }
    }

    /// Decodes one packet. Malformed packets and dropped fragments also give a finding.
    pub fn on_packet<'a>(
        &'a mut self,
        packet: &Packet<'a>,
        findings: &mut impl Findings,
    ) -> Decoded<'a> {
        let decoded = match link::parse_link(packet.link_type, packet.data) {
            Err(e) => Decoded::Malformed(e),
            Ok(None) => Decoded::Skipped(Skipped::Link(packet.link_type.0)),
            Ok(Some(Link::Other(kind))) => Decoded::NotTcp(kind),
            Ok(Some(Link::Net {
                ether_type,
                payload,
            })) => {
                let net = Net {
                    at: packet.at,
                    fragments: &mut self.fragments,
                    buffers: self.buffers.iter_mut(),
                    encapsulations: &mut self.stats.encapsulations,
                    max_depth: self.max_depth,
                    findings,
                };
                net.decode(Next::Ether(ether_type, payload))
            }
        };
        if let Decoded::Malformed(e) = &decoded {
            let message = format!("packet not decoded: {e}");
            findings.push_finding(
                Finding::new(Level::Warn, Layer::Decode, "decode.malformed", message).at(packet.at),
            );
        }
        self.stats
            .count(packet.at, packet.link_type.0, packet.data.len(), &decoded);
        self.stats.fragments = self.fragments.stats.clone();
        decoded
    }

    /// End of the capture: one finding per kind of traffic not decoded
    /// (`warn` when no TCP at all was decoded, else `info`), and one for
    /// fragments never completed.
    pub fn finish(&mut self, findings: &mut impl Findings) {
        let no_tcp = self.stats.tcp_segments == 0;
        let (level, consequence) = if no_tcp {
            (Level::Warn, "; no TCP at all was decoded from this capture")
        } else {
            (Level::Info, "")
        };
        for (kind, count) in &self.stats.skipped {
            let what = match kind {
                Skipped::NestingLimit => format!(
                    "packets nesting more than {} encapsulations (max_encapsulation_depth)",
                    self.max_depth
                ),
                other => other.describe(),
            };
            let message = format!(
                "{} packets ({} bytes) not decoded: {what}; the first is frame {}{consequence}",
                count.packets, count.bytes, count.first.frame
            );
            findings.push_finding(
                Finding::new(level, Layer::Decode, kind.code(), message).at(count.first),
            );
        }
        if let Some(incomplete) = self.fragments.incomplete() {
            self.stats.fragments.incomplete_at_end = incomplete.datagrams as u64;
            let message = format!(
                "{} fragmented IP datagrams ({} bytes held) were still incomplete at the end of the capture, so their payload was not decoded; the oldest began in frame {}{consequence}",
                incomplete.datagrams, incomplete.bytes, incomplete.first.frame
            );
            findings.push_finding(
                Finding::new(level, Layer::Decode, "decode.fragments_incomplete", message)
                    .at(incomplete.first),
            );
        }
    }

    /// Counts of everything decoded so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }
}

#[cfg(test)]
mod fragment_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tunnel_tests;
