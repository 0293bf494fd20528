//! XMPP on a TCP connection (5222, 5269): bytes in, elements out.
//!
//! Takes the payload of each direction in segments of any size; splits it
//! into the stream's top-level items whatever the segmentation (an element
//! may span many segments, many may share one), keeps the bytes of a partial
//! element (up to `max_stanza_bytes`, beyond which it is counted and
//! skipped), and feeds each complete element, with the frames of its first
//! and last bytes, to the connection's [`Session`]. Hands a direction over to
//! TLS at the exact byte after `<proceed/>` (server) or `<starttls/>`
//! (client), resynchronises after a capture gap on the next plausible
//! top-level element, and reports bytes that are not XMPP. A client whose
//! first bytes are a TLS record (a ClientHello sent to a plain XMPP port) is
//! named with `xmpp.tls_on_plaintext_port`; its bytes are counted, not read,
//! while the server's reply is read as usual. Never panics, never buffers
//! more than one capped element per direction.

use super::scan::{ItemKind, Pending, Scanner, Step};
use super::session::{Session, Signal, Span};
use super::{Ending, Sink, Summary, TlsHandover, Transport};
use crate::finding::Finding;
use crate::limits::Limits;
use crate::position::{Dir, FrameRef};
use crate::xmpp::FindingCode;

/// The first byte of a TLS record carrying a handshake (the ClientHello).
const TLS_HANDSHAKE: u8 = 0x16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Plain XML.
    Xml,
    /// The client sent `<starttls/>`: its next bytes are a ClientHello or more XML.
    StartTlsRequested,
    /// Handed over to TLS: raw bytes are no longer ours.
    HandedOver,
    /// Fed the plaintext from inside TLS (`on_tls_data`).
    InsideTls,
    /// The client opened with TLS where the server speaks plain XMPP: its
    /// bytes are counted as unparsed, never read as XML.
    ClientTls,
}

#[derive(Debug)]
struct Direction {
    scanner: Scanner,
    state: State,
    /// Bytes of the item in progress (empty while it is zero-copy or oversized).
    buf: Vec<u8>,
    item_len: usize,
    oversized: bool,
    /// Frame of the first byte of the item in progress.
    first: FrameRef,
    /// Offset of the next byte in this direction (of the TCP payload, or of
    /// the plaintext once inside TLS).
    offset: u64,
    /// Junk skipped since the last element, and where it began.
    junk: u64,
    junk_at: Option<FrameRef>,
    /// Bytes counted but not read (see [`State::ClientTls`]).
    unparsed: u64,
}

impl Direction {
    fn new() -> Direction {
        Direction {
            // A capture may start mid-connection: hunt for the first real item.
            scanner: Scanner::hunting(),
            state: State::Xml,
            buf: Vec::new(),
            item_len: 0,
            oversized: false,
            first: FrameRef::default(),
            offset: 0,
            junk: 0,
            junk_at: None,
            unparsed: 0,
        }
    }

    fn begin(&mut self, at: FrameRef) {
        self.buf.clear();
        self.item_len = 0;
        self.oversized = false;
        self.first = at;
    }

    fn keep(&mut self, piece: &[u8], cap: usize) {
        self.item_len = self.item_len.saturating_add(piece.len());
        if self.oversized {
            return;
        }
        if self.item_len > cap {
            self.oversized = true;
            self.buf = Vec::new();
        } else {
            self.buf.extend_from_slice(piece);
        }
    }
}

/// One TCP connection carrying XMPP, with its session.
#[derive(Debug)]
pub struct StreamFramer {
    session: Session,
    dirs: [Direction; 2],
    finished: bool,
}

impl StreamFramer {
    /// A connection with Wireshark's `tcp.stream` index `stream`.
    pub fn new(stream: u64, limits: &Limits, show_secrets: bool) -> StreamFramer {
        Self::over(Session::new(stream, Transport::Tcp, limits, show_secrets))
    }

    /// Frames the stream of a session made elsewhere (over [`Transport::Tcp`]).
    pub fn over(session: Session) -> StreamFramer {
        StreamFramer {
            session,
            dirs: [Direction::new(), Direction::new()],
            finished: false,
        }
    }

    /// Bytes held now: each direction's element in progress (by length,
    /// as every stage counts for the memory budget), and the session's.
    pub fn held_bytes(&self) -> usize {
        let items: usize = self.dirs.iter().map(|d| d.buf.len()).sum();
        items + self.session.held_bytes()
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn summary(&self) -> &Summary {
        self.session.summary()
    }

    /// Bytes of `dir` that were counted but not read: a TLS client's
    /// records on a plain XMPP connection.
    pub fn unparsed(&self, dir: Dir) -> u64 {
        self.dirs[dir.index()].unparsed
    }

    /// Bytes of one frame in one direction. Returns how many were taken:
    /// all of them, unless the direction switched to TLS (then a
    /// [`TlsHandover`] was emitted and the rest belongs to the TLS stage).
    pub fn on_data(&mut self, dir: Dir, at: FrameRef, bytes: &[u8], sink: &mut impl Sink) -> usize {
        let d = &mut self.dirs[dir.index()];
        match d.state {
            State::HandedOver | State::InsideTls => return 0,
            State::ClientTls => {
                d.unparsed = d.unparsed.saturating_add(bytes.len() as u64);
                return bytes.len();
            }
            State::Xml if dir == Dir::ClientToServer && d.offset == 0 => {
                // XML never starts with 0x16: this is a TLS handshake record.
                if bytes.first() == Some(&TLS_HANDSHAKE) {
                    self.client_spoke_tls(at, sink);
                    return self.on_data(dir, at, bytes, sink);
                }
            }
            State::StartTlsRequested => {
                if bytes.first() == Some(&TLS_HANDSHAKE) {
                    self.hand_over(dir, at, sink);
                    return 0;
                }
                if !bytes.is_empty() {
                    d.state = State::Xml;
                }
            }
            State::Xml => {}
        }
        self.feed(dir, at, bytes, sink)
    }

    /// Plaintext from inside TLS after STARTTLS (decrypted by the TLS stage).
    /// The stream restarts with a new header.
    pub fn on_tls_data(&mut self, dir: Dir, at: FrameRef, bytes: &[u8], sink: &mut impl Sink) {
        let d = &mut self.dirs[dir.index()];
        if d.state != State::InsideTls {
            d.state = State::InsideTls;
            d.scanner = Scanner::hunting();
            d.begin(at);
            d.offset = 0;
        }
        self.feed(dir, at, bytes, sink);
    }

    /// `len` bytes of this direction were lost: resynchronise on the next element.
    pub fn on_gap(&mut self, dir: Dir, at: FrameRef, len: u64, sink: &mut impl Sink) {
        self.on_missing(dir, at, len, None, sink);
    }

    /// `len` bytes of this direction were captured but the TLS stage could
    /// not decrypt them (`why`): resynchronise as after a gap, said as such.
    pub fn on_undecrypted(
        &mut self,
        dir: Dir,
        at: FrameRef,
        len: u64,
        why: &str,
        sink: &mut impl Sink,
    ) {
        self.on_missing(dir, at, len, Some(why), sink);
    }

    fn on_missing(
        &mut self,
        dir: Dir,
        at: FrameRef,
        len: u64,
        not_decrypted: Option<&str>,
        sink: &mut impl Sink,
    ) {
        let stream = self.session.summary().stream;
        let d = &mut self.dirs[dir.index()];
        let offset = d.offset;
        d.offset = d.offset.saturating_add(len);
        if matches!(d.state, State::HandedOver | State::ClientTls) {
            return;
        }
        let partial = if d.scanner.in_item() {
            let name = String::from_utf8_lossy(d.scanner.name()).into_owned();
            format!(" with the partial <{name}> element they belonged to")
        } else {
            String::new()
        };
        d.scanner.hunt();
        d.begin(at);
        let side = dir.side();
        let (code, message) = match not_decrypted {
            None => {
                self.session.note_gap();
                let message = format!(
                    "{len} bytes from the {side} were lost{partial}; resynchronising on the next element"
                );
                (FindingCode::Gap, message)
            }
            Some(why) => {
                let message = format!(
                    "{len} bytes from the {side} not decrypted ({why}){partial}; resynchronising on the next element"
                );
                (FindingCode::NotDecrypted, message)
            }
        };
        sink.push_finding(
            Finding::new(code, message)
                .at(at)
                .in_stream(stream, Some(dir))
                .at_offset(offset),
        );
    }

    /// The connection ended; the session learns how.
    pub fn on_transport_end(&mut self, at: Option<FrameRef>, how: Ending, sink: &mut impl Sink) {
        self.flush(sink);
        self.session.on_transport_end(at, how, sink);
    }

    /// End of the capture or connection: reports what is left over.
    pub fn finish(&mut self, sink: &mut impl Sink) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.flush(sink);
        self.session.finish(sink);
    }

    fn flush(&mut self, sink: &mut impl Sink) {
        let stream = self.session.summary().stream;
        for dir in Dir::BOTH {
            let d = &mut self.dirs[dir.index()];
            report_junk(d, stream, dir, sink);
            if d.scanner.in_item() && matches!(d.state, State::Xml | State::InsideTls) {
                let name = String::from_utf8_lossy(d.scanner.name()).into_owned();
                sink.push_finding(
                    Finding::new(
                        FindingCode::Truncated,
                        format!(
                            "the stream ended inside <{name}> ({} bytes never completed)",
                            d.item_len
                        ),
                    )
                    .at(d.first)
                    .in_stream(stream, Some(dir)),
                );
                d.scanner.hunt();
                d.begin(d.first);
            }
        }
    }

    fn feed(&mut self, dir: Dir, at: FrameRef, bytes: &[u8], sink: &mut impl Sink) -> usize {
        let cap = self.session.limits.max_stanza_bytes;
        let mut pos = 0;
        while let Some(rest) = bytes.get(pos..).filter(|r| !r.is_empty()) {
            let d = &mut self.dirs[dir.index()];
            match d.scanner.scan(rest) {
                Step::Item { start, end, kind } => {
                    if start.is_some() {
                        d.begin(at);
                    }
                    let piece = rest.get(start.unwrap_or(0)..end).unwrap_or_default();
                    pos += end;
                    let signal = self.complete(dir, at, kind, piece, sink);
                    let d = &mut self.dirs[dir.index()];
                    if d.state == State::InsideTls {
                        continue;
                    }
                    match (signal, dir) {
                        (Some(Signal::StartTls), Dir::ClientToServer) => {
                            d.state = State::StartTlsRequested;
                            if bytes.get(pos) == Some(&TLS_HANDSHAKE) {
                                d.offset += pos as u64;
                                self.hand_over(dir, at, sink);
                                return pos;
                            }
                        }
                        (Some(Signal::Proceed), Dir::ServerToClient) => {
                            d.offset += pos as u64;
                            self.hand_over(dir, at, sink);
                            if self.dirs[Dir::ClientToServer.index()].state
                                == State::StartTlsRequested
                            {
                                self.hand_over(Dir::ClientToServer, at, sink);
                            }
                            return pos;
                        }
                        _ => {}
                    }
                }
                Step::More(pending) => {
                    match pending {
                        Pending::From(s) => {
                            d.begin(at);
                            d.keep(rest.get(s..).unwrap_or_default(), cap);
                        }
                        Pending::All => d.keep(rest, cap),
                        Pending::None => {}
                    }
                    pos = bytes.len();
                }
            }
        }
        let d = &mut self.dirs[dir.index()];
        d.offset = d.offset.saturating_add(pos as u64);
        pos
    }

    /// An item is complete; `piece` is its last (or only) part.
    fn complete(
        &mut self,
        dir: Dir,
        at: FrameRef,
        kind: ItemKind,
        piece: &[u8],
        sink: &mut impl Sink,
    ) -> Option<Signal> {
        let stream = self.session.summary().stream;
        let cap = self.session.limits.max_stanza_bytes;
        let d = &mut self.dirs[dir.index()];
        if kind == ItemKind::Junk {
            d.junk = d.junk.saturating_add((d.item_len + piece.len()) as u64);
            d.junk_at.get_or_insert(d.first);
            d.begin(at);
            return None;
        }
        report_junk(d, stream, dir, sink);
        let span = Span {
            dir,
            first: d.first,
            last: at,
        };
        let zero_copy = d.item_len == 0;
        if !zero_copy {
            d.keep(piece, cap);
        }
        if d.oversized || (zero_copy && piece.len() > cap) {
            let name = String::from_utf8_lossy(d.scanner.name()).into_owned();
            let len = d.item_len.max(piece.len());
            d.begin(at);
            self.session.oversized(span, &name, len, sink);
            return None;
        }
        if zero_copy {
            return self.session.on_item(span, kind, piece, sink);
        }
        let buf = std::mem::take(&mut d.buf);
        let signal = self.session.on_item(span, kind, &buf, sink);
        // Give the allocation back for the next partial element.
        let d = &mut self.dirs[dir.index()];
        d.buf = buf;
        d.begin(at);
        signal
    }

    /// The client's first bytes are a TLS record on a stream where the
    /// server speaks XMPP (the pipeline chose XMPP from the server's bytes).
    fn client_spoke_tls(&mut self, at: FrameRef, sink: &mut impl Sink) {
        let stream = self.session.summary().stream;
        self.dirs[Dir::ClientToServer.index()].state = State::ClientTls;
        sink.push_finding(
            Finding::new(
                FindingCode::TlsOnPlaintextPort,
                "the client sent a TLS ClientHello to a port where the server speaks plain XMPP (STARTTLS expected, or the client should use 5223 direct TLS)",
            )
            .at(at)
            .in_stream(stream, Some(Dir::ClientToServer))
            .at_offset(0),
        );
    }

    fn hand_over(&mut self, dir: Dir, at: FrameRef, sink: &mut impl Sink) {
        let d = &mut self.dirs[dir.index()];
        d.state = State::HandedOver;
        d.buf = Vec::new();
        sink.on_tls_handover(&TlsHandover {
            dir,
            at,
            offset: d.offset,
        });
    }
}

fn report_junk(d: &mut Direction, stream: u64, dir: Dir, sink: &mut impl Sink) {
    if d.junk == 0 {
        return;
    }
    let at = d.junk_at.take().unwrap_or_default();
    sink.push_finding(
        Finding::new(
            FindingCode::Junk,
            format!(
                "{} bytes from the {} are not part of any XMPP element (stream seen from its middle, after a gap, or not XMPP)",
                d.junk,
                dir.side()
            ),
        )
        .at(at)
        .in_stream(stream, Some(dir)),
    );
    d.junk = 0;
}

#[cfg(test)]
mod tests;
