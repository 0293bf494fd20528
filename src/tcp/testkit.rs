//! Test helpers: a sink that records owned events, and segment builders.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::decode::{TcpFlags, TcpSegment};
use crate::finding::{Finding, Findings};
use crate::position::{Dir, FrameRef, Timestamp};

use super::event::{Event, GapReason, Origin, Sink, StreamStats};

/// An [`Event`] with owned bytes, comparing by frame number only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Owned {
    Opened {
        stream: u64,
        frame: u64,
        client: SocketAddr,
        server: SocketAddr,
        origin: Origin,
    },
    Data {
        stream: u64,
        dir: Dir,
        frame: u64,
        offset: u64,
        bytes: Vec<u8>,
    },
    Gap {
        stream: u64,
        dir: Dir,
        frame: u64,
        offset: u64,
        len: u64,
        reason: GapReason,
    },
    Fin {
        stream: u64,
        dir: Dir,
        frame: u64,
    },
    Rst {
        stream: u64,
        dir: Dir,
        frame: u64,
    },
    Closed {
        stream: u64,
        frame: u64,
        stats: Box<StreamStats>,
    },
}

impl Owned {
    pub(crate) fn data(stream: u64, dir: Dir, frame: u64, offset: u64, bytes: &[u8]) -> Owned {
        Owned::Data {
            stream,
            dir,
            frame,
            offset,
            bytes: bytes.to_vec(),
        }
    }

    pub(crate) fn gap(
        stream: u64,
        dir: Dir,
        frame: u64,
        offset: u64,
        len: u64,
        reason: GapReason,
    ) -> Owned {
        Owned::Gap {
            stream,
            dir,
            frame,
            offset,
            len,
            reason,
        }
    }

    pub(crate) fn fin(stream: u64, dir: Dir, frame: u64) -> Owned {
        Owned::Fin { stream, dir, frame }
    }
}

/// Records everything a stage emits.
#[derive(Default, Debug)]
pub(crate) struct Recorder {
    pub events: Vec<Owned>,
    pub findings: Vec<Finding>,
}

impl Findings for Recorder {
    fn push_finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}

impl Sink for Recorder {
    fn on_tcp(&mut self, event: Event<'_>) {
        self.events.push(match event {
            Event::Opened {
                stream,
                at,
                client,
                server,
                origin,
            } => Owned::Opened {
                stream,
                frame: at.frame,
                client,
                server,
                origin,
            },
            Event::Data {
                stream,
                dir,
                at,
                offset,
                bytes,
            } => Owned::data(stream, dir, at.frame, offset, bytes),
            Event::Gap {
                stream,
                dir,
                at,
                offset,
                len,
                reason,
            } => Owned::gap(stream, dir, at.frame, offset, len, reason),
            Event::Fin { stream, dir, at } => Owned::Fin {
                stream,
                dir,
                frame: at.frame,
            },
            Event::Rst { stream, dir, at } => Owned::Rst {
                stream,
                dir,
                frame: at.frame,
            },
            Event::Closed { stream, at, stats } => Owned::Closed {
                stream,
                frame: at.frame,
                stats: Box::new(stats.clone()),
            },
        });
    }
}

impl Recorder {
    /// All delivered bytes of one direction (every stream), in event order.
    pub(crate) fn concat(&self, dir: Dir) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.events {
            if let Owned::Data { dir: d, bytes, .. } = e {
                if *d == dir {
                    out.extend_from_slice(bytes);
                }
            }
        }
        out
    }

    /// Frame numbers of the `Data` events of one direction.
    pub(crate) fn frames(&self, dir: Dir) -> Vec<u64> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Owned::Data { dir: d, frame, .. } if *d == dir => Some(*frame),
                _ => None,
            })
            .collect()
    }

    /// Stats of every `Closed` event, in event order.
    pub(crate) fn closed(&self) -> Vec<&StreamStats> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Owned::Closed { stats, .. } => Some(stats.as_ref()),
                _ => None,
            })
            .collect()
    }

    /// Asserts the stream contract: Opened first and Closed last per stream,
    /// Data/Gap offsets contiguous from 0 per direction, nothing after Fin.
    pub(crate) fn assert_well_formed(&self) {
        let mut next: BTreeMap<(u64, Dir), u64> = BTreeMap::new();
        let mut finished: BTreeMap<(u64, Dir), bool> = BTreeMap::new();
        let mut opened: BTreeMap<u64, bool> = BTreeMap::new();
        for e in &self.events {
            match e {
                Owned::Opened { stream, .. } => {
                    assert!(
                        opened.insert(*stream, true).is_none(),
                        "stream {stream} opened twice"
                    );
                }
                Owned::Data {
                    stream,
                    dir,
                    offset,
                    bytes,
                    ..
                } => {
                    assert_eq!(
                        opened.get(stream),
                        Some(&true),
                        "data outside stream {stream}"
                    );
                    assert!(!bytes.is_empty());
                    let n = next.entry((*stream, *dir)).or_insert(0);
                    assert_eq!(*offset, *n, "stream {stream} {dir}: data not contiguous");
                    assert!(!finished.contains_key(&(*stream, *dir)), "data after fin");
                    *n += bytes.len() as u64;
                }
                Owned::Gap {
                    stream,
                    dir,
                    offset,
                    len,
                    ..
                } => {
                    assert_eq!(
                        opened.get(stream),
                        Some(&true),
                        "gap outside stream {stream}"
                    );
                    assert!(*len > 0);
                    let n = next.entry((*stream, *dir)).or_insert(0);
                    assert_eq!(*offset, *n, "stream {stream} {dir}: gap not contiguous");
                    assert!(!finished.contains_key(&(*stream, *dir)), "gap after fin");
                    *n += len;
                }
                Owned::Fin { stream, dir, .. } => {
                    assert!(finished.insert((*stream, *dir), true).is_none(), "two fins");
                }
                Owned::Rst { stream, .. } => assert_eq!(opened.get(stream), Some(&true)),
                Owned::Closed { stream, stats, .. } => {
                    assert_eq!(opened.insert(*stream, false), Some(true), "closed twice");
                    for dir in Dir::BOTH {
                        let d = stats.dir(dir);
                        let seen = next.get(&(*stream, dir)).copied().unwrap_or(0);
                        assert_eq!(
                            d.bytes + d.gap_bytes,
                            seen,
                            "stream {stream} {dir}: stats disagree"
                        );
                    }
                }
            }
        }
        let open: Vec<_> = opened.iter().filter(|(_, open)| **open).collect();
        assert!(open.is_empty(), "streams never closed: {open:?}");
    }
}

pub(crate) fn frame(n: u64) -> FrameRef {
    FrameRef::new(n, Timestamp::from_secs_nanos(1_700_000_000 + n as i64, 0))
}

pub(crate) fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A segment builder: `seg(src, dst).seq(..).syn().data(..)`.
#[derive(Clone, Debug)]
pub(crate) struct Seg {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: Option<u32>,
    pub flags: TcpFlags,
    pub window: u16,
    pub payload: Vec<u8>,
    pub missing: u32,
}

pub(crate) fn seg(src: &str, dst: &str) -> Seg {
    Seg {
        src: addr(src),
        dst: addr(dst),
        seq: 0,
        ack: None,
        flags: TcpFlags::default(),
        window: 65535,
        payload: Vec::new(),
        missing: 0,
    }
}

impl Seg {
    pub(crate) fn seq(mut self, seq: u32) -> Seg {
        self.seq = seq;
        self
    }
    pub(crate) fn ack(mut self, ack: u32) -> Seg {
        self.ack = Some(ack);
        self.flags.ack = true;
        self
    }
    pub(crate) fn syn(mut self) -> Seg {
        self.flags.syn = true;
        self
    }
    pub(crate) fn fin(mut self) -> Seg {
        self.flags.fin = true;
        self
    }
    pub(crate) fn rst(mut self) -> Seg {
        self.flags.rst = true;
        self
    }
    pub(crate) fn window(mut self, window: u16) -> Seg {
        self.window = window;
        self
    }
    pub(crate) fn data(mut self, payload: &[u8]) -> Seg {
        self.payload = payload.to_vec();
        self
    }
    pub(crate) fn missing(mut self, missing: u32) -> Seg {
        self.missing = missing;
        self
    }
    pub(crate) fn view(&self) -> TcpSegment<'_> {
        TcpSegment {
            src: self.src,
            dst: self.dst,
            seq: self.seq,
            ack: self.ack.unwrap_or(0),
            flags: self.flags,
            window: self.window,
            payload: &self.payload,
            missing: self.missing,
        }
    }
}
