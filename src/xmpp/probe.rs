//! Whether the first bytes of a TCP direction start an XMPP stream, and
//! whether a WebSocket message is XMPP.
//!
//! Takes the first bytes of one direction (any length, possibly cut
//! anywhere); gives [`Probe::Xmpp`] when they start with XML markup (a
//! declaration, a comment, a stream header or any element, after optional
//! whitespace), [`Probe::NeedMore`] when too few bytes are there to tell,
//! [`Probe::NotXmpp`] otherwise. Takes the text of one WebSocket message
//! whose handshake negotiated no `xmpp` subprotocol (or was not captured);
//! gives whether it starts like an RFC 7395 (or legacy `<stream:stream>`)
//! element ([`looks_like_ws_message`]). Pure: no state, no allocation,
//! never panics.

/// The answer of [`detect`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// XML markup: an XMPP stream (or one of its elements, mid-stream).
    Xmpp,
    /// Certainly not XML.
    NotXmpp,
    /// Nothing but whitespace, or a lone `<`: wait for more bytes.
    NeedMore,
}

/// Tells XMPP from other protocols by content, on any port: optional
/// whitespace, then `<` followed by a name start, `?` (the XML
/// declaration), `!` (a comment) or `/` (an end tag, mid-stream).
pub fn detect(bytes: &[u8]) -> Probe {
    let text = bytes
        .iter()
        .position(|b| !b" \t\r\n".contains(b))
        .and_then(|i| bytes.get(i..));
    match text {
        Some([b'<', next, ..]) if next.is_ascii_alphabetic() || b"?!/_".contains(next) => {
            Probe::Xmpp
        }
        Some([b'<']) | None => Probe::NeedMore,
        Some(_) => Probe::NotXmpp,
    }
}

/// Element starts that only XMPP sends as a whole message.
const MESSAGE_STARTS: [&str; 9] = [
    "<open",
    "<close",
    "<stream:",
    "<?xml",
    "<iq",
    "<presence",
    "<message",
    "<auth",
    "<success",
];

/// Whether a WebSocket text message starts like an XMPP element.
pub fn looks_like_ws_message(text: &str) -> bool {
    let t = text.trim_start();
    MESSAGE_STARTS.iter().any(|s| t.starts_with(s))
        || (t.starts_with('<') && t.contains("urn:ietf:params:xml:ns:xmpp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Prosody sends a client that opened its stream with TLS: a stream
    /// header, then `<stream:error><not-well-formed/>` (mod_c2s closes the
    /// session with that condition when the XML parser fails).
    const PROSODY_REPLY: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' version='1.0'>";

    #[test]
    fn xml_starts_are_xmpp() {
        for start in [
            PROSODY_REPLY,
            b"<stream:stream to='f'>",
            b"\r\n  <iq type='get'/>",
            b"<!-- hello -->",
            b"</stream:stream>",
            b"<_x/>",
        ] {
            assert_eq!(
                detect(start),
                Probe::Xmpp,
                "{:?}",
                String::from_utf8_lossy(start)
            );
        }
    }

    #[test]
    fn other_protocols_are_not_xmpp() {
        for start in [
            b"\x16\x03\x01\x02\x00\x01".as_slice(),
            b"GET / HTTP/1.1\r\n",
            b"SSH-2.0-OpenSSH_9.6\r\n",
            b"<1",
            b"< stream",
            b"\x81\x05hello",
            b"\xef\xbb\xbf<stream:stream>",
        ] {
            assert_eq!(detect(start), Probe::NotXmpp, "{start:?}");
        }
    }

    #[test]
    fn every_prefix_of_a_stream_header_is_need_more_or_xmpp() {
        for cut in 0..=PROSODY_REPLY.len() {
            let want = if cut < 2 {
                Probe::NeedMore
            } else {
                Probe::Xmpp
            };
            assert_eq!(detect(&PROSODY_REPLY[..cut]), want, "prefix {cut}");
        }
        assert_eq!(detect(b" \r\n\t"), Probe::NeedMore);
        assert_eq!(detect(b"\n<"), Probe::NeedMore);
    }

    #[test]
    fn xmpp_messages_and_others() {
        for xmpp in [
            "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='f1' version='1.0'/>",
            "  <iq type='get' id='1'/>",
            "<?xml version='1.0'?><stream:stream>",
            "<features xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>",
        ] {
            assert!(looks_like_ws_message(xmpp), "{xmpp}");
        }
        for other in ["{\"type\":\"ping\"}", "<html>", "", "hello", "<"] {
            assert!(!looks_like_ws_message(other), "{other}");
        }
    }
}
