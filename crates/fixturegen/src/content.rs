//! Application payloads shared by the fixtures: HTTP requests and responses
//! of the Finesse REST API, and the identities and secrets every Finesse
//! fixture uses (so tests can check that secrets are redacted).
//!
//! Takes nothing; gives bytes. Never touches the network or the clock.

use base64::Engine;

/// The agent's login id.
pub const AGENT: &str = "1001";
/// The XMPP domain (first Finesse node).
pub const DOMAIN: &str = "finesse1.example.com";
/// The second Finesse node (failover target).
pub const DOMAIN2: &str = "finesse2.example.com";
/// The agent's password: appears on the wire in SASL PLAIN and in Basic
/// auth; must never appear in a report unless secrets are requested.
pub const PASSWORD: &str = "Fin3sse!Secret-1001";
/// A wrong password (SASL failure fixture).
pub const WRONG_PASSWORD: &str = "not-the-password";

/// `Basic base64(AGENT:PASSWORD)`.
pub fn basic_auth() -> String {
    let raw = format!("{AGENT}:{PASSWORD}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// A REST GET of the agent's User object.
pub fn rest_get_user(host: &str) -> Vec<u8> {
    format!(
        "GET /finesse/api/User/{AGENT} HTTP/1.1\r\nHost: {host}:8445\r\nAuthorization: {}\r\n\
         Accept: application/xml\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\n\
         Cookie: JSESSIONID=6C1F0A3B9D2E4F5A7B8C9D0E1F2A3B4C\r\n\r\n",
        basic_auth()
    )
    .into_bytes()
}

/// A 200 response carrying a User document padded with team entries to
/// about `len` bytes of body.
pub fn rest_user_response(len: usize) -> Vec<u8> {
    let mut body = format!(
        "<User><uri>/finesse/api/User/{AGENT}</uri><loginId>{AGENT}</loginId>\
         <loginName>agent1001</loginName><firstName>Ada</firstName><lastName>Agent</lastName>\
         <extension>4001</extension><state>NOT_READY</state><reasonCodeId>12</reasonCodeId>\
         <teamId>7</teamId><teamName>Support</teamName><teams>"
    );
    let mut i = 0;
    while body.len() + 20 < len {
        body.push_str(&format!(
            "<Team><id>{i}</id><name>Team {i:03}</name><uri>/finesse/api/Team/{i}</uri></Team>"
        ));
        i += 1;
    }
    body.push_str("</teams></User>");
    http_response("200 OK", "application/xml", &body)
}

/// An HTTP/1.1 response with a Content-Length.
pub fn http_response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Date: Mon, 02 Mar 2026 09:00:00 GMT\r\nServer: Finesse\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// SASL PLAIN's initial response: base64(authzid NUL authcid NUL password).
pub fn sasl_plain(password: &str) -> String {
    let raw = format!("\0{AGENT}\0{password}");
    base64::engine::general_purpose::STANDARD.encode(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_encoded_as_on_the_wire() {
        assert_eq!(basic_auth(), "Basic MTAwMTpGaW4zc3NlIVNlY3JldC0xMDAx");
        assert_eq!(sasl_plain(PASSWORD), "ADEwMDEARmluM3NzZSFTZWNyZXQtMTAwMQ==");
        let r = rest_user_response(3000);
        assert!(r.len() > 3000 && r.len() < 3300);
    }
}
