//! Whether the first bytes of a TCP direction start an XMPP stream.
//!
//! Takes the first bytes of one direction (any length, possibly cut
//! anywhere); gives [`Probe::Xmpp`] when they start with XML markup (a
//! declaration, a comment, a stream header or any element, after optional
//! whitespace), [`Probe::NeedMore`] when too few bytes are there to tell,
//! [`Probe::NotXmpp`] otherwise. Pure: no state, no allocation, never reads
//! past the first markup character, never panics.

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
}
