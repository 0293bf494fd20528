//! Which protocol a direction's first bytes start, asked of each protocol's
//! own probe in the pipeline's order: TLS (not inside TLS), HTTP, XMPP,
//! then WebSocket framing.
//!
//! Takes held bytes, their direction and what the WebSocket probe said;
//! gives a [`Guess`]. Never decides a protocol's byte rules itself: those
//! are `tls::detect`, `http::detect`, `xmpp::detect` and `ws::probe`.

use crate::position::Dir;
use crate::{http, tls, ws, xmpp};

/// What the first bytes of a direction look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Guess {
    Tls,
    Http,
    Xmpp,
    WebSocket,
    Unknown,
    NeedMore,
}

/// One direction's first bytes: what protocol they start (`websocket`: what
/// both directions' first bytes say about WebSocket).
pub(crate) fn classify(bytes: &[u8], dir: Dir, via_tls: bool, websocket: ws::Probe) -> Guess {
    if bytes.is_empty() {
        return Guess::NeedMore;
    }
    let mut maybe = false;
    if !via_tls {
        match tls::detect(bytes) {
            tls::Probe::Tls => return Guess::Tls,
            tls::Probe::NeedMore => maybe = true,
            tls::Probe::NotTls => {}
        }
    }
    match http::detect(dir, bytes) {
        http::Probe::Http => return Guess::Http,
        http::Probe::NeedMore => maybe = true,
        http::Probe::NotHttp => {}
    }
    match xmpp::detect(bytes) {
        xmpp::Probe::Xmpp => return Guess::Xmpp,
        xmpp::Probe::NeedMore => maybe = true,
        xmpp::Probe::NotXmpp => {}
    }
    match websocket {
        ws::Probe::WebSocket => return Guess::WebSocket,
        ws::Probe::NeedMore => maybe = true,
        ws::Probe::NotWebSocket => {}
    }
    if maybe {
        Guess::NeedMore
    } else {
        Guess::Unknown
    }
}

pub(crate) fn layer_name(guess: Guess) -> &'static str {
    match guess {
        Guess::Tls => "tls",
        Guess::Http => "http",
        Guess::Xmpp => "xmpp",
        Guess::WebSocket => "websocket",
        Guess::Unknown | Guess::NeedMore => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_WS: ws::Probe = ws::Probe::NotWebSocket;

    #[test]
    fn classify_by_content_on_any_port() {
        let c2s = Dir::ClientToServer;
        let s2c = Dir::ServerToClient;
        assert_eq!(
            classify(b"\x16\x03\x01\x02\x00\x01", c2s, false, NO_WS),
            Guess::Tls
        );
        // Inside TLS, a TLS-looking record is not TLS again.
        assert_ne!(
            classify(b"\x16\x03\x01\x02\x00\x01", c2s, true, NO_WS),
            Guess::Tls
        );
        assert_eq!(
            classify(b"GET /ws/ HTTP/1.1\r\n", c2s, false, NO_WS),
            Guess::Http
        );
        assert_eq!(
            classify(b"HTTP/1.1 200 OK\r\n", s2c, false, NO_WS),
            Guess::Http
        );
        assert_eq!(
            classify(b"<?xml version='1.0'?><stream:stream", c2s, false, NO_WS),
            Guess::Xmpp
        );
        assert_eq!(
            classify(b"\n <iq type='get'/>", s2c, false, NO_WS),
            Guess::Xmpp
        );
        let frames = [b"\x81\x03one".as_slice(), b"\x81\x03two", b"\x81\x05three"].concat();
        assert_eq!(
            classify(&frames, s2c, false, ws::Probe::WebSocket),
            Guess::WebSocket
        );
        assert_eq!(
            classify(b"SSH-2.0-OpenSSH_9.6\r\n", s2c, false, NO_WS),
            Guess::Unknown
        );
        assert_eq!(classify(b"GE", c2s, false, NO_WS), Guess::NeedMore);
        assert_eq!(
            classify(&frames, s2c, false, ws::Probe::NeedMore),
            Guess::NeedMore
        );
        assert_eq!(classify(b"", c2s, false, NO_WS), Guess::NeedMore);
    }
}
