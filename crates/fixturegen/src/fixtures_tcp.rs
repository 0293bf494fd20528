//! The TCP and capture-format fixtures (issue 2): clean and impaired
//! conversations on every link type, pcap layouts, a two-section pcapng,
//! a truncated file and a gzipped one.
//!
//! Takes nothing; gives [`SPECS`]. Each builder is deterministic (fixed
//! clock, seeded RNG).

use std::net::SocketAddr;

use fastrand::Rng;

use super::capture::{Capture, Captured};
use super::catalog::{gzip, pcap_bytes, Fixture, FixtureSpec};
use super::frame::{Endian, Frame, FrameSink, LINKTYPE_ETHERNET, START_NS};
use super::impair;
use super::pcap::PcapFormat;
use super::pcapng::{Interface, PcapNgWriter};
use super::tcp::{ConvConfig, Conversation};
use super::wire::{Link, Wire};
use super::Error;
use crate::Dir;

const C2S: Dir = Dir::ClientToServer;
const S2C: Dir = Dir::ServerToClient;
const MS: i64 = 1_000_000;

/// The TCP fixtures.
pub(crate) const SPECS: &[FixtureSpec] = &[
    FixtureSpec {
        name: "tcp-in-order.pcap",
        about: "three interleaved clean conversations (HTTP-like and 5222), FIN closes",
        build: in_order,
    },
    FixtureSpec {
        name: "tcp-in-order.pcap.gz",
        about: "tcp-in-order.pcap gzipped",
        build: in_order_gz,
    },
    FixtureSpec {
        name: "tcp-reorder-dup-overlap.pcap",
        about: "reordered, exactly duplicated and partially overlapping retransmitted segments",
        build: reorder_dup_overlap,
    },
    FixtureSpec {
        name: "tcp-loss.pcap",
        about: "one server data segment never captured (ACKed by the client): one gap",
        build: loss,
    },
    FixtureSpec {
        name: "tcp-seq-wrap.pcap",
        about: "both initial sequence numbers just below 2^32: sequence numbers wrap",
        build: seq_wrap,
    },
    FixtureSpec {
        name: "tcp-midstream.pcap",
        about: "capture starts after the handshake and the first request",
        build: midstream,
    },
    FixtureSpec {
        name: "tcp-snaplen.pcap",
        about: "snap length 128: every data frame cut, gaps in both directions",
        build: snaplen,
    },
    FixtureSpec {
        name: "tcp-ipv6-ext.pcap",
        about: "IPv6 with hop-by-hop and destination-options extension headers",
        build: ipv6_ext,
    },
    FixtureSpec {
        name: "tcp-vlan-qinq.pcap",
        about: "802.1ad+802.1Q double-tagged conversation and a single-tagged one",
        build: vlan_qinq,
    },
    FixtureSpec {
        name: "tcp-sll2.pcap",
        about: "Linux cooked capture v2 (link type 276), IPv4 and IPv6",
        build: sll2,
    },
    FixtureSpec {
        name: "tcp-ipv4-fragments.pcap",
        about: "three TCP segments sent as IPv4 fragments",
        build: ipv4_fragments,
    },
    FixtureSpec {
        name: "tcp-ns-bigendian.pcap",
        about: "big-endian pcap with nanosecond timestamps",
        build: ns_bigendian,
    },
    FixtureSpec {
        name: "tcp-two-sections.pcapng",
        about: "pcapng: LE section (Ethernet + raw IP, ns, if_tsoffset) then BE section (SLL2 + NULL, 2^-20 s)",
        build: two_sections,
    },
    FixtureSpec {
        name: "tcp-truncated.pcap",
        about: "file cut in the middle of its last record",
        build: truncated,
    },
    FixtureSpec {
        name: "tcp-port-reuse.pcap",
        about: "same 4-tuple twice: FIN close, then a new SYN, ending in RST",
        build: port_reuse,
    },
    FixtureSpec {
        name: "tcp-keepalive-zwp.pcap",
        about: "keep-alives both ways and a zero-window probe before a transfer",
        build: keepalive_zwp,
    },
];

fn addr(s: &str) -> SocketAddr {
    // Only called with literal addresses below.
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// Readable, deterministic text of exactly `n` bytes.
pub(crate) fn text(rng: &mut Rng, n: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "agent", "ready", "queue", "dialog", "team", "state", "event", "update", "finesse", "call",
        "reason", "lunch", "talking", "hold", "wrap", "node",
    ];
    let mut out = Vec::with_capacity(n + 16);
    let mut line = 0u32;
    while out.len() < n {
        out.extend_from_slice(format!("{line:04} ").as_bytes());
        for _ in 0..8 {
            out.extend_from_slice(WORDS[rng.usize(0..WORDS.len())].as_bytes());
            out.push(b' ');
        }
        out.push(b'\n');
        line += 1;
    }
    out.truncate(n);
    out
}

fn conv(id: u32, client: &str, server: &str, start: i64) -> Conversation {
    let mut cfg = ConvConfig::new(addr(client), addr(server));
    // Distinct initial sequence numbers per connection, as real stacks pick
    // them (port reuse is only recognisable that way).
    cfg.isn_client = cfg.isn_client.wrapping_add(id.wrapping_mul(0x0135_7531));
    cfg.isn_server = cfg.isn_server.wrapping_add(id.wrapping_mul(0x0246_8642));
    Conversation::new(id, cfg, START_NS + start)
}

fn exchange(c: &mut Conversation, rng: &mut Rng, req: usize, resp: usize) {
    c.send(C2S, &text(rng, req));
    c.advance(2 * MS);
    c.send(S2C, &text(rng, resp));
    c.advance(5 * MS);
}

fn close(c: &mut Conversation) {
    c.close_fin(C2S);
    c.close_fin(S2C);
}

fn eth_pcap(frames: &[Frame]) -> Result<Vec<u8>, Error> {
    pcap_bytes(frames, PcapFormat::usec(LINKTYPE_ETHERNET))
}

fn fixture(cap: &Capture, bytes: Vec<u8>, frames: usize) -> Result<Fixture, Error> {
    let (_, streams) = cap.finish()?;
    Ok(Fixture {
        bytes,
        keylog: None,
        streams,
        frames: frames as u64,
    })
}

/// A capture of one clean conversation on `wire`, rendered with `write`.
fn simple(
    c: &mut Conversation,
    wire: Wire,
    write: fn(&[Frame]) -> Result<Vec<u8>, Error>,
) -> Result<Fixture, Error> {
    let mut cap = Capture::new();
    let segs = c.drain();
    cap.add(c, segs, wire);
    let (frames, _) = cap.finish()?;
    fixture(&cap, write(&frames)?, frames.len())
}

fn in_order() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(1);
    let mut cap = Capture::new();
    let servers = ["10.20.30.40:80", "10.20.30.40:80", "10.20.30.40:5222"];
    for (i, server) in servers.into_iter().enumerate() {
        let client = format!("192.168.10.21:{}", 51000 + i);
        let mut c = conv(i as u32, &client, server, i as i64 * 300_000);
        c.handshake();
        exchange(&mut c, &mut rng, 300, 4000);
        exchange(&mut c, &mut rng, 120, 900);
        close(&mut c);
        let segs = c.drain();
        cap.add(&c, segs, Wire::ethernet());
    }
    let (frames, _) = cap.finish()?;
    fixture(&cap, eth_pcap(&frames)?, frames.len())
}

fn in_order_gz() -> Result<Fixture, Error> {
    let mut f = in_order()?;
    f.bytes = gzip(&f.bytes)?;
    Ok(f)
}

fn reorder_dup_overlap() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(2);
    let mut c = conv(0, "192.168.10.21:52000", "10.20.30.40:80", 0);
    let mut cfg = *c.config();
    cfg.mss = 536;
    c = Conversation::new(0, cfg, START_NS);
    c.handshake();
    exchange(&mut c, &mut rng, 1200, 6000);
    close(&mut c);
    let mut segs = c.drain();
    impair::overlap(&mut segs, &mut rng, S2C, 2);
    impair::duplicate(&mut segs, &mut rng, S2C, 2);
    impair::duplicate(&mut segs, &mut rng, C2S, 1);
    impair::reorder(&mut segs, &mut rng, S2C, 3);
    impair::reorder(&mut segs, &mut rng, C2S, 1);
    let mut cap = Capture::new();
    cap.add(&c, segs, Wire::ethernet());
    let (frames, _) = cap.finish()?;
    fixture(&cap, eth_pcap(&frames)?, frames.len())
}

fn loss() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(3);
    let mut c = conv(0, "192.168.10.21:52100", "10.20.30.40:80", 0);
    c.handshake();
    exchange(&mut c, &mut rng, 200, 5000);
    exchange(&mut c, &mut rng, 150, 700);
    close(&mut c);
    let mut segs = c.drain();
    impair::lose(&mut segs, S2C, 2);
    let mut cap = Capture::new();
    cap.add(&c, segs, Wire::ethernet());
    let (frames, _) = cap.finish()?;
    fixture(&cap, eth_pcap(&frames)?, frames.len())
}

fn seq_wrap() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(4);
    let mut cfg = ConvConfig::new(addr("192.168.10.21:52200"), addr("10.20.30.40:80"));
    cfg.isn_client = 0xffff_ff00;
    cfg.isn_server = 0xffff_f000;
    cfg.mss = 536;
    let mut c = Conversation::new(0, cfg, START_NS);
    c.handshake();
    exchange(&mut c, &mut rng, 2000, 8000);
    close(&mut c);
    simple(&mut c, Wire::ethernet(), eth_pcap)
}

fn midstream() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(5);
    let mut c = conv(0, "192.168.10.21:52300", "10.20.30.40:80", 0);
    c.handshake();
    exchange(&mut c, &mut rng, 250, 3000);
    exchange(&mut c, &mut rng, 250, 3000);
    close(&mut c);
    let mut segs = c.drain();
    // SYN, SYN-ACK, ACK, the first request and its ACK.
    impair::start_mid_stream(&mut segs, 5);
    let mut cap = Capture::new();
    cap.add(&c, segs, Wire::ethernet());
    let (frames, _) = cap.finish()?;
    fixture(&cap, eth_pcap(&frames)?, frames.len())
}

fn snaplen() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(6);
    let mut c = conv(0, "192.168.10.21:52400", "10.20.30.40:80", 0);
    c.handshake();
    exchange(&mut c, &mut rng, 60, 3000);
    exchange(&mut c, &mut rng, 200, 100);
    close(&mut c);
    let mut cap = Capture::new();
    let segs = c.drain();
    cap.add(&c, segs, Wire::ethernet());
    cap.set_snaplen(128);
    let (frames, _) = cap.finish()?;
    let format = PcapFormat {
        snaplen: 128,
        ..PcapFormat::usec(LINKTYPE_ETHERNET)
    };
    fixture(&cap, pcap_bytes(&frames, format)?, frames.len())
}

fn ipv6_ext() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(7);
    let mut c = conv(0, "[2001:db8:10::21]:52500", "[2001:db8:20::40]:8445", 0);
    c.handshake();
    exchange(&mut c, &mut rng, 400, 2500);
    close(&mut c);
    let wire = Wire {
        ipv6_ext: true,
        ..Wire::ethernet()
    };
    simple(&mut c, wire, eth_pcap)
}

fn vlan_qinq() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(8);
    let mut cap = Capture::new();
    let links = [Link::QinQ(100, 200), Link::Vlan(10)];
    for (i, link) in links.into_iter().enumerate() {
        let client = format!("192.168.10.21:{}", 52600 + i);
        let mut c = conv(i as u32, &client, "10.20.30.40:80", i as i64 * 20 * MS);
        c.handshake();
        exchange(&mut c, &mut rng, 300, 2000);
        close(&mut c);
        let segs = c.drain();
        cap.add(&c, segs, Wire::on(link));
    }
    let (frames, _) = cap.finish()?;
    fixture(&cap, eth_pcap(&frames)?, frames.len())
}

fn sll2() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(9);
    let mut cap = Capture::new();
    let pairs = [
        ("192.168.10.21:52700", "10.20.30.40:80"),
        ("[2001:db8:10::21]:52701", "[2001:db8:20::40]:80"),
    ];
    for (i, (client, server)) in pairs.into_iter().enumerate() {
        let mut c = conv(i as u32, client, server, i as i64 * 20 * MS);
        c.handshake();
        exchange(&mut c, &mut rng, 300, 2000);
        close(&mut c);
        let segs = c.drain();
        cap.add(&c, segs, Wire::on(Link::Sll2));
    }
    let (frames, _) = cap.finish()?;
    let bytes = pcap_bytes(&frames, PcapFormat::usec(Link::Sll2.linktype()))?;
    fixture(&cap, bytes, frames.len())
}

fn ipv4_fragments() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(10);
    let mut c = conv(0, "192.168.10.21:52800", "10.20.30.40:80", 0);
    c.handshake();
    exchange(&mut c, &mut rng, 1000, 4000);
    close(&mut c);
    let mut segs = c.drain();
    impair::fragment(&mut segs, C2S, 0, 400);
    impair::fragment(&mut segs, S2C, 0, 512);
    impair::fragment(&mut segs, S2C, 2, 1000);
    let mut cap = Capture::new();
    cap.add(&c, segs, Wire::ethernet());
    let (frames, _) = cap.finish()?;
    fixture(&cap, eth_pcap(&frames)?, frames.len())
}

fn ns_bigendian() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(11);
    let mut cfg = ConvConfig::new(addr("192.168.10.21:52900"), addr("10.20.30.40:80"));
    cfg.gap_ns = 12_345;
    cfg.rtt_ns = 401_003;
    let mut c = Conversation::new(0, cfg, START_NS + 123_456_789);
    c.handshake();
    exchange(&mut c, &mut rng, 300, 3000);
    close(&mut c);
    fn write(frames: &[Frame]) -> Result<Vec<u8>, Error> {
        let format = PcapFormat {
            endian: Endian::Big,
            nanos: true,
            ..PcapFormat::usec(LINKTYPE_ETHERNET)
        };
        pcap_bytes(frames, format)
    }
    simple(&mut c, Wire::ethernet(), write)
}

fn two_sections() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(12);
    let mut cap = Capture::new();
    let plan = [
        ("192.168.10.21:53000", "10.20.30.40:80", Link::Ethernet, 0),
        (
            "[2001:db8:10::21]:53001",
            "[2001:db8:20::40]:80",
            Link::Raw,
            1,
        ),
        ("192.168.10.21:53002", "10.20.30.40:5222", Link::Sll2, 2),
        ("192.168.10.21:53003", "10.20.30.40:80", Link::Null, 3),
    ];
    for (i, (client, server, link, iface)) in plan.into_iter().enumerate() {
        // Two conversations per section, the second section a second later.
        let start = (i / 2) as i64 * 1000 * MS + (i % 2) as i64 * MS;
        let mut c = conv(i as u32, client, server, start);
        c.handshake();
        exchange(&mut c, &mut rng, 200, 1500);
        close(&mut c);
        let segs = c.drain();
        let wire = Wire {
            iface,
            ..Wire::on(link)
        };
        cap.add(&c, segs, wire);
    }
    let (frames, _) = cap.finish()?;
    let bytes = two_section_file(&frames)?;
    fixture(&cap, bytes, frames.len())
}

/// Interfaces 0 and 1 go to a little-endian section, 2 and 3 (renumbered
/// 0 and 1) to a big-endian one.
fn two_section_file(frames: &[Frame]) -> Result<Vec<u8>, Error> {
    let mut w = PcapNgWriter::new(Vec::new(), Endian::Little)?;
    w.interface(Interface::new(LINKTYPE_ETHERNET))?;
    w.interface(Interface {
        tsresol: 9,
        tsoffset: 1_772_400_000,
        ..Interface::new(Link::Raw.linktype())
    })?;
    let mut second = false;
    for f in frames {
        if f.iface >= 2 && !second {
            second = true;
            w.section(Endian::Big)?;
            w.interface(Interface {
                tsresol: 0x80 | 20,
                ..Interface::new(Link::Sll2.linktype())
            })?;
            w.interface(Interface::new(Link::Null.linktype()))?;
        }
        let mut f = f.clone();
        if second {
            f.iface -= 2;
        }
        w.write_frame(&f)?;
    }
    Ok(w.into_inner()?)
}

fn truncated() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(13);
    let mut c = conv(0, "192.168.10.21:53100", "10.20.30.40:80", 0);
    c.handshake();
    exchange(&mut c, &mut rng, 300, 2000);
    exchange(&mut c, &mut rng, 300, 2000);
    let mut cap = Capture::new();
    let segs = c.drain();
    cap.add(&c, segs, Wire::ethernet());
    let caps: Vec<Captured> = cap.render()?;
    let frames: Vec<Frame> = caps.iter().map(|c| c.frame.clone()).collect();
    let mut bytes = eth_pcap(&frames)?;
    // Cut the last record (16-byte header + data) in the middle of its data.
    let last = frames.last().map_or(0, |f| f.data.len());
    bytes.truncate(bytes.len() - last / 2);
    let kept = caps.len().saturating_sub(1);
    Ok(Fixture {
        bytes,
        keylog: None,
        streams: cap.truth(&caps[..kept]),
        frames: kept as u64,
    })
}

fn port_reuse() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(14);
    let mut cap = Capture::new();
    for i in 0..2u32 {
        let start = i64::from(i) * 2000 * MS;
        let mut c = conv(i, "192.168.10.21:50123", "10.20.30.40:80", start);
        c.handshake();
        exchange(&mut c, &mut rng, 300, 1200);
        if i == 0 {
            close(&mut c);
        } else {
            c.rst(C2S);
        }
        let segs = c.drain();
        cap.add(&c, segs, Wire::ethernet());
    }
    let (frames, _) = cap.finish()?;
    fixture(&cap, eth_pcap(&frames)?, frames.len())
}

fn keepalive_zwp() -> Result<Fixture, Error> {
    let mut rng = Rng::with_seed(15);
    let mut c = conv(0, "192.168.10.21:53200", "10.20.30.40:5222", 0);
    c.handshake();
    exchange(&mut c, &mut rng, 200, 300);
    c.advance(45_000 * MS);
    c.keepalive(C2S);
    c.advance(30_000 * MS);
    c.keepalive(S2C);
    c.send(C2S, &text(&mut rng, 100));
    let body = text(&mut rng, 3000);
    c.zero_window_then_send(S2C, &body);
    close(&mut c);
    simple(&mut c, Wire::ethernet(), eth_pcap)
}
