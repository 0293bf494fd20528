//! How sure the stage is that a connection seen without its handshake is
//! WebSocket.
//!
//! Takes what the frames of both directions showed (their mask bits, the
//! text of their text messages, with unknown bytes as 0xFF) and the
//! connection's ports; gives a graded [`Confidence`], the [`Evidence`]
//! behind it, and the words for it. Frame structure alone is weak: many
//! binary protocols start their records with a type byte and a length byte
//! that parse as a frame header. What a binary protocol does not do is mask
//! every record of one side and none of the other while sending readable
//! text, or carry XMPP. Pure: looks only at the text it is given, keeps none.

use serde::Serialize;

use crate::position::Dir;
use crate::ws::deflate::UNKNOWN;

/// How sure the stage is that the connection is WebSocket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// The HTTP upgrade (101) was seen.
    #[default]
    Handshake,
    /// No handshake, but the text messages carry XMPP or Finesse content, or
    /// readable UTF-8 text while the client's frames are all masked and the
    /// server's none (RFC 6455 §5.1), as no binary protocol does by chance.
    Content,
    /// Only frame structure: frames parse and nothing more says WebSocket.
    /// Messages are decoded but no WebSocket finding rests on them.
    FramesOnly,
}

/// The connection's TCP ports: `client` sends [`Dir::ClientToServer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Ports {
    pub client: u16,
    pub server: u16,
}

impl Ports {
    /// The port of the side that sends `dir`.
    pub fn of_sender(self, dir: Dir) -> u16 {
        match dir {
            Dir::ClientToServer => self.client,
            Dir::ServerToClient => self.server,
        }
    }
}

/// Ports WebSocket servers listen on, Finesse's and Openfire's among them:
/// supporting evidence, never enough alone (and never required: any port
/// can carry WebSocket).
const WEBSOCKET_PORTS: [u16; 12] = [
    80, 443, 5280, 5281, 5443, 7070, 7071, 7443, 8080, 8443, 8445, 9443,
];

/// A text message counts as text when this many of its bytes are known.
const MIN_TEXT: usize = 4;

/// What one direction's frames and text messages showed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirEvidence {
    /// Frames decoded.
    pub frames: u64,
    /// Of those, masked.
    pub masked: u64,
    /// Text messages whose known bytes are readable UTF-8 text.
    pub text: u64,
    /// Of those, carrying XMPP (RFC 7395 framing, stanzas) or Finesse content.
    pub xmpp: u64,
}

/// Everything gathered until the grade was reached (or the end).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub c2s: DirEvidence,
    pub s2c: DirEvidence,
    /// The connection's ports, when the caller gave them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<Ports>,
}

/// What a text message's known bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TextKind {
    Xmpp,
    Readable,
    /// Too few known bytes, not UTF-8, or control characters.
    Neither,
}

impl Evidence {
    pub(crate) fn new(ports: Option<Ports>) -> Evidence {
        Evidence {
            ports,
            ..Evidence::default()
        }
    }

    fn dir_mut(&mut self, dir: Dir) -> &mut DirEvidence {
        match dir {
            Dir::ClientToServer => &mut self.c2s,
            Dir::ServerToClient => &mut self.s2c,
        }
    }

    fn dir(&self, dir: Dir) -> &DirEvidence {
        match dir {
            Dir::ClientToServer => &self.c2s,
            Dir::ServerToClient => &self.s2c,
        }
    }

    pub(crate) fn on_frame(&mut self, dir: Dir, masked: bool) {
        let d = self.dir_mut(dir);
        d.frames += 1;
        d.masked += u64::from(masked);
    }

    /// A whole text message (unmasked, inflated; unknown bytes 0xFF).
    pub(crate) fn on_text(&mut self, dir: Dir, payload: &[u8]) {
        let kind = read_text(payload);
        let d = self.dir_mut(dir);
        d.text += u64::from(kind != TextKind::Neither);
        d.xmpp += u64::from(kind == TextKind::Xmpp);
    }

    /// The WebSocket client's direction when both directions sent frames,
    /// one side all masked and the other none.
    pub(crate) fn masking_client(&self) -> Option<Dir> {
        let masks_all = |d: &DirEvidence| d.frames > 0 && d.masked == d.frames;
        let masks_none = |d: &DirEvidence| d.frames > 0 && d.masked == 0;
        Dir::BOTH
            .into_iter()
            .find(|&dir| masks_all(self.dir(dir)) && masks_none(self.dir(dir.flip())))
    }

    pub(crate) fn frames(&self) -> u64 {
        self.c2s.frames + self.s2c.frames
    }

    pub(crate) fn confidence(&self) -> Confidence {
        let xmpp = self.c2s.xmpp + self.s2c.xmpp > 0;
        let text = self.c2s.text + self.s2c.text > 0;
        if xmpp || (text && self.masking_client().is_some()) {
            Confidence::Content
        } else {
            Confidence::FramesOnly
        }
    }

    /// The reasons, in words: what was seen, and what was not.
    pub(crate) fn because(&self, client: Option<Dir>) -> String {
        let mut reasons = Vec::new();
        let xmpp = self.c2s.xmpp + self.s2c.xmpp;
        let text = self.c2s.text + self.s2c.text;
        if xmpp > 0 {
            reasons.push(format!(
                "{xmpp} text message(s) carry XMPP or Finesse content"
            ));
        } else if text > 0 {
            reasons.push(format!("{text} text message(s) are readable UTF-8"));
        } else {
            reasons.push("no text message is readable".to_owned());
        }
        reasons.push(
            match (self.masking_client(), self.c2s.frames, self.s2c.frames) {
                (Some(c), ..) => format!("the client ({c}) masks every frame and the server none"),
                (None, 0, _) | (None, _, 0) => "frames were found in one direction only".to_owned(),
                (None, ..) => "masking does not tell a browser's client from its server \
                           (both sides, or neither, mask)"
                    .to_owned(),
            },
        );
        if let (Some(ports), Some(client)) = (self.ports, client.or(self.masking_client())) {
            let port = ports.of_sender(client.flip());
            reasons.push(if WEBSOCKET_PORTS.contains(&port) {
                format!("the server's port {port} is one WebSocket servers use")
            } else {
                format!("the server's port {port} is not a usual WebSocket port")
            });
        }
        reasons.join("; ")
    }
}

/// Reads a text message's known bytes: XMPP, readable text, or neither.
pub(crate) fn read_text(payload: &[u8]) -> TextKind {
    let mut known = 0usize;
    let mut runs = payload.split(|&b| b == UNKNOWN).peekable();
    let mut cut_before = false;
    while let Some(run) = runs.next() {
        let cut_after = runs.peek().is_some();
        if !readable(run, cut_before, cut_after) {
            return TextKind::Neither;
        }
        known += run.len();
        cut_before = true;
    }
    if known < MIN_TEXT {
        TextKind::Neither
    } else if is_xmpp(payload) {
        TextKind::Xmpp
    } else {
        TextKind::Readable
    }
}

/// A run of known bytes is UTF-8 without control characters (tab and line
/// ends aside); where an unknown byte cuts it, a character may be cut too.
fn readable(run: &[u8], cut_before: bool, cut_after: bool) -> bool {
    let mut run = run;
    if cut_before {
        // At most 3 continuation bytes of a character whose start is unknown.
        let skip = run
            .iter()
            .take(3)
            .take_while(|&&b| b & 0xc0 == 0x80)
            .count();
        run = run.get(skip..).unwrap_or_default();
    }
    let text = match std::str::from_utf8(run) {
        Ok(text) => text,
        Err(e) if cut_after && e.error_len().is_none() => {
            std::str::from_utf8(run.get(..e.valid_up_to()).unwrap_or_default()).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// Words only XMPP (and Finesse inside it) puts in a message.
const XMPP_MARKS: [&[u8]; 7] = [
    b"urn:ietf:params:xml:ns:xmpp",
    b"jabber:client",
    b"http://jabber.org/protocol",
    b"urn:xmpp:",
    b"&lt;Update&gt;",
    b"<Update>",
    b"/finesse/api/",
];

/// RFC 7395 elements and stanzas a message starts with.
const XMPP_STARTS: [&[u8]; 12] = [
    b"open",
    b"close",
    b"iq",
    b"presence",
    b"message",
    b"stream:features",
    b"stream:error",
    b"auth",
    b"success",
    b"failure",
    b"challenge",
    b"response",
];

fn is_xmpp(payload: &[u8]) -> bool {
    if XMPP_MARKS
        .iter()
        .any(|m| memchr::memmem::find(payload, m).is_some())
    {
        return true;
    }
    let Some(rest) = payload.strip_prefix(b"<") else {
        return false;
    };
    XMPP_STARTS.iter().any(|name| {
        rest.strip_prefix(*name)
            .and_then(|after| after.first())
            .is_some_and(|b| matches!(b, b' ' | b'>' | b'/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const C2S: Dir = Dir::ClientToServer;
    const S2C: Dir = Dir::ServerToClient;

    #[test]
    fn texts_are_read_by_their_known_bytes() {
        assert_eq!(
            read_text(b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='f'/>"),
            TextKind::Xmpp
        );
        assert_eq!(read_text(b"<iq type='get' id='1'/>"), TextKind::Xmpp);
        assert_eq!(read_text(b"<iqx/>"), TextKind::Readable);
        // Finesse inside a partly known notification.
        assert_eq!(
            read_text(b"\xff\xff\xff&lt;Update&gt;\xff\xffREADY\xff"),
            TextKind::Xmpp
        );
        assert_eq!(read_text(b"test message"), TextKind::Readable);
        assert_eq!(read_text("état".as_bytes()), TextKind::Readable);
        // Too few known bytes, control characters, not UTF-8.
        assert_eq!(read_text(b"\xff\xff2\xff"), TextKind::Neither);
        assert_eq!(read_text(b"ab\x00\x01cd"), TextKind::Neither);
        assert_eq!(read_text(b"abc\xc3\x28def"), TextKind::Neither);
        // An unknown byte may cut a character: its known half is not an error.
        let cut = [
            b"\xff",
            &"é".as_bytes()[1..],
            b"tat\xff",
            &"é".as_bytes()[..1],
            b"\xff",
        ]
        .concat();
        assert_eq!(read_text(&cut), TextKind::Readable);
        // ... but a message does not end inside a character.
        assert_eq!(read_text(&cut[..cut.len() - 1]), TextKind::Neither);
    }

    #[test]
    fn graded_by_masking_text_and_xmpp() {
        let mut e = Evidence::new(None);
        for _ in 0..5 {
            e.on_frame(S2C, false);
        }
        e.on_text(S2C, b"Welcome, 192.168.43.1 !");
        assert_eq!(
            e.confidence(),
            Confidence::FramesOnly,
            "one direction's text"
        );
        e.on_frame(C2S, true);
        assert_eq!(e.masking_client(), Some(C2S));
        assert_eq!(e.confidence(), Confidence::Content);
        // Both sides unmasked: text is not enough.
        let mut both = Evidence::new(None);
        both.on_frame(C2S, false);
        both.on_frame(S2C, false);
        both.on_text(S2C, b"readable text");
        assert_eq!(both.masking_client(), None);
        assert_eq!(both.confidence(), Confidence::FramesOnly);
        // XMPP is enough on its own.
        both.on_text(C2S, b"<presence/>\n");
        assert_eq!(both.confidence(), Confidence::Content);
        // A masked frame among unmasked ones breaks the pattern.
        let mut mixed = Evidence::new(None);
        mixed.on_frame(C2S, true);
        mixed.on_frame(C2S, false);
        mixed.on_frame(S2C, false);
        assert_eq!(mixed.masking_client(), None);
    }

    #[test]
    fn the_words_say_what_was_seen() {
        let ports = Ports {
            client: 50999,
            server: 8445,
        };
        let mut e = Evidence::new(Some(ports));
        e.on_frame(C2S, true);
        e.on_frame(S2C, false);
        e.on_text(S2C, b"<message to='a@b'/>");
        assert_eq!(
            e.because(None),
            "1 text message(s) carry XMPP or Finesse content; the client (c2s) masks every \
             frame and the server none; the server's port 8445 is one WebSocket servers use"
        );
        let mut e = Evidence::new(Some(Ports {
            client: 6653,
            server: 40000,
        }));
        e.on_frame(C2S, false);
        e.on_frame(S2C, false);
        assert_eq!(
            e.because(Some(S2C)),
            "no text message is readable; masking does not tell a browser's client from its \
             server (both sides, or neither, mask); the server's port 6653 is not a usual \
             WebSocket port"
        );
    }
}
