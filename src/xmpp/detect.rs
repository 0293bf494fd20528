//! How XMPP is recognised where a transport does not say it: a WebSocket
//! whose handshake negotiated no `xmpp` subprotocol (or was not captured).
//!
//! Takes the text of one WebSocket message; gives whether it starts like
//! an RFC 7395 (or legacy `<stream:stream>`) XMPP element. Pure; never
//! parses beyond the first element's name.

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
