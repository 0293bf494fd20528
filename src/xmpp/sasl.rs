//! SASL (RFC 6120 §6): who authenticated, with what, and how it went.
//!
//! Takes the `urn:ietf:params:xml:ns:xmpp-sasl` elements of a session; gives
//! the mechanism, the identities (PLAIN and X-OAUTH2 authzid/authcid, SCRAM
//! `n=`, DIGEST-MD5 `username`), the outcome and failure condition, and marks
//! every secret for redaction: PLAIN's whole base64 blob (and the password in
//! words only with `show_secrets`), SCRAM and DIGEST-MD5 responses, any other
//! mechanism's initial response. An `<auth>` without initial response, or
//! with `=` (an empty one), says so: there is nothing to hide. Never decodes
//! more than the element holds.

use base64::Engine as _;

use super::element::NodeRef;
use super::session::{condition_and_text, Out, Span};
use super::summary::Sasl;
use crate::xmpp::FindingCode;

/// The decoded PLAIN (or X-OAUTH2) initial response: `authzid \0 authcid \0 secret`.
pub(crate) struct Plain {
    pub(crate) authzid: String,
    pub(crate) authcid: String,
    pub(crate) secret: String,
}

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact == "=" {
        return Some(Vec::new());
    }
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .ok()
}

pub(crate) fn parse_plain(text: &str) -> Option<Plain> {
    let bytes = decode_b64(text)?;
    let mut parts = bytes.split(|&b| b == 0);
    let authzid = parts.next()?;
    let authcid = parts.next()?;
    let secret = parts.next()?;
    Some(Plain {
        authzid: String::from_utf8_lossy(authzid).into_owned(),
        authcid: String::from_utf8_lossy(authcid).into_owned(),
        secret: String::from_utf8_lossy(secret).into_owned(),
    })
}

/// The user of a SCRAM client-first message: `n,,n=user,r=nonce` (RFC 5802 §5.1).
pub(crate) fn scram_user(text: &str) -> Option<String> {
    let bytes = decode_b64(text)?;
    let msg = String::from_utf8_lossy(&bytes).into_owned();
    // gs2-header is `cbind-flag,[a=authzid],` then the bare message.
    let bare = msg.splitn(3, ',').nth(2)?;
    let user = bare.split(',').find_map(|f| f.strip_prefix("n="))?;
    Some(user.replace("=2C", ",").replace("=3D", "="))
}

/// The `username` of a DIGEST-MD5 response (RFC 2831 §2.1.2).
pub(crate) fn digest_user(text: &str) -> Option<String> {
    let bytes = decode_b64(text)?;
    let msg = String::from_utf8_lossy(&bytes).into_owned();
    let rest = msg
        .split(',')
        .find_map(|f| f.trim().strip_prefix("username="))?;
    Some(rest.trim_matches('"').to_owned())
}

/// One session's SASL exchange: the mechanism in progress (to read the
/// client's `<response>`s), filling the session summary's [`Sasl`].
#[derive(Debug)]
pub(crate) struct SaslExchange {
    /// The mechanism of the last `<auth>`.
    mechanism: Option<String>,
    /// Say PLAIN passwords and tokens in the summary line.
    show_secrets: bool,
}

impl SaslExchange {
    pub(crate) fn new(show_secrets: bool) -> SaslExchange {
        SaslExchange {
            mechanism: None,
            show_secrets,
        }
    }

    /// One element of the SASL namespace; `summary` is the session's.
    pub(crate) fn on_element(
        &mut self,
        span: Span,
        root: NodeRef<'_, '_>,
        summary: &mut Option<Sasl>,
        out: &mut Out,
    ) {
        match root.local() {
            "auth" => self.auth(span, root, summary, out),
            "response" => self.response(root, summary, out),
            "challenge" => out.summary = "challenge".to_owned(),
            "success" => {
                let sasl = summary.get_or_insert_with(Sasl::default);
                sasl.outcome = Some("success".to_owned());
                out.summary = match &sasl.user {
                    Some(user) => format!("success: authenticated as {user}"),
                    None => "success".to_owned(),
                };
            }
            "failure" => failure(root, summary, out),
            "abort" => out.summary = "abort".to_owned(),
            other => out.summary = other.to_owned(),
        }
    }

    fn auth(
        &mut self,
        span: Span,
        root: NodeRef<'_, '_>,
        summary: &mut Option<Sasl>,
        out: &mut Out,
    ) {
        let mechanism = root.attr("mechanism").map(|m| m.into_owned());
        let mech = mechanism.as_deref().unwrap_or("?").to_owned();
        let text = root.text().trim();
        let mut sasl = Sasl {
            mechanism: mechanism.clone(),
            at: Some(span.first),
            ..Sasl::default()
        };
        // RFC 6120 §6.4.2: no text is no initial response, `=` an empty one;
        // neither hides anything.
        let nothing = match text {
            "" => Some("no initial response"),
            "=" => Some("empty initial response"),
            _ => None,
        };
        let redact = match (mech.as_str(), nothing) {
            (m, _) if m.starts_with("SCRAM-") => {
                sasl.user = scram_user(text);
                out.summary = match &sasl.user {
                    Some(u) => format!("auth {mech} as {u}"),
                    None => format!("auth {mech}"),
                };
                false
            }
            ("ANONYMOUS" | "EXTERNAL" | "DIGEST-MD5", _) => {
                out.summary = format!("auth {mech}");
                false
            }
            (_, Some(what)) => {
                out.summary = format!("auth {mech} ({what})");
                false
            }
            ("PLAIN" | "X-OAUTH2", None) => {
                out.summary = self.plain_auth(&mech, text, &mut sasl);
                true
            }
            (_, None) => {
                out.summary = format!("auth {mech} (initial response redacted)");
                true
            }
        };
        if redact {
            out.redact.extend(root.text_span());
        }
        self.mechanism = mechanism;
        *summary = Some(sasl);
    }

    /// A PLAIN or X-OAUTH2 initial response in words (the secret only with
    /// `show_secrets`); fills the identities.
    fn plain_auth(&self, mech: &str, text: &str, sasl: &mut Sasl) -> String {
        let secret_word = if mech == "X-OAUTH2" {
            "token"
        } else {
            "password"
        };
        let Some(p) = parse_plain(text) else {
            return format!("auth {mech} (unreadable credentials, redacted)");
        };
        let mut s = format!("auth {mech} as {}", p.authcid);
        if !p.authzid.is_empty() {
            s.push_str(&format!(" for {}", p.authzid));
        }
        if self.show_secrets {
            s.push_str(&format!(", {secret_word} \"{}\"", p.secret));
        } else {
            s.push_str(&format!(" ({secret_word} redacted)"));
        }
        sasl.user = Some(p.authcid).filter(|u| !u.is_empty());
        sasl.authzid = Some(p.authzid).filter(|a| !a.is_empty());
        s
    }

    fn response(&self, root: NodeRef<'_, '_>, summary: &mut Option<Sasl>, out: &mut Out) {
        let text = root.text().trim();
        let mech = self.mechanism.clone().unwrap_or_default();
        out.redact.extend(root.text_span());
        if text.is_empty() || text == "=" {
            out.summary = "response (empty)".to_owned();
            return;
        }
        if mech == "DIGEST-MD5" {
            if let Some(user) = digest_user(text) {
                let sasl = summary.get_or_insert_with(Sasl::default);
                sasl.user.get_or_insert(user.clone());
                out.summary = format!("response DIGEST-MD5 as {user} (redacted)");
                return;
            }
        }
        out.summary = if mech.starts_with("SCRAM-") {
            format!("response {mech} (proof redacted)")
        } else if mech.is_empty() {
            "response (redacted)".to_owned()
        } else {
            format!("response {mech} (redacted)")
        };
    }
}

/// A `<failure>`: the condition into the summary, and a finding.
fn failure(root: NodeRef<'_, '_>, summary: &mut Option<Sasl>, out: &mut Out) {
    let (condition, text) = condition_and_text(root);
    let cond = condition.as_deref().unwrap_or("unspecified");
    out.summary = match &text {
        Some(t) => format!("failure {cond}: {t}"),
        None => format!("failure {cond}"),
    };
    let sasl = summary.get_or_insert_with(Sasl::default);
    sasl.outcome = Some("failure".to_owned());
    sasl.condition = condition.clone();
    sasl.text = text.clone();
    let mut message = format!(
        "SASL {} authentication failed",
        sasl.mechanism.as_deref().unwrap_or("?")
    );
    if let Some(user) = &sasl.user {
        message.push_str(&format!(" for {user}"));
    }
    message.push_str(&format!(": {cond}"));
    if let Some(t) = &text {
        message.push_str(&format!(" ({t})"));
    }
    out.find(FindingCode::SaslFailure, message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_splits_three_parts() {
        // base64("\0" "1001" "\0" "s3cret")
        let p = parse_plain("ADEwMDEAczNjcmV0").unwrap();
        assert_eq!(
            (p.authzid.as_str(), p.authcid.as_str(), p.secret.as_str()),
            ("", "1001", "s3cret")
        );
        assert!(parse_plain("!!").is_none());
        assert!(parse_plain("YWJj").is_none()); // "abc": no NULs
    }

    #[test]
    fn scram_user_from_client_first() {
        // From softportal-Bin/xmpp.out: "n,,n=sergio,r=28IEAAAAAAAblSVaAAAAAA=="
        assert_eq!(
            scram_user("biwsbj1zZXJnaW8scj0yOElFQUFBQUFBQWJsU1ZhQUFBQUFBPT0=").as_deref(),
            Some("sergio")
        );
        // "n,a=admin,n=a=2Cb,r=x"
        let b64 = base64::engine::general_purpose::STANDARD.encode("n,a=admin,n=a=2Cb,r=x");
        assert_eq!(scram_user(&b64).as_deref(), Some("a,b"));
    }

    #[test]
    fn digest_user_from_response() {
        // From ndpi/jabber.pcap frame 17.
        let r = "dXNlcm5hbWU9InRvbSIscmVhbG09ImNzLXhtcHAubGFuIixub25jZT0iMTUzMDc1MTg4ODE1MjAyNTYzNDEiLGNub25jZT0iZWVlMTkwZmUxNTAyMzc5NzIzNzViNGFhM2MiLG5jPTAwMDAwMDAxLHFvcD1hdXRoLGRpZ2VzdC11cmk9InhtcHAvY3MteG1wcC5sYW4iLHJlc3BvbnNlPThlMWEzODE2OTk2ZmZlM2Q4N2EzNDY4YzMyZGE4ZDk1LGNoYXJzZXQ9dXRmLTg=";
        assert_eq!(digest_user(r).as_deref(), Some("tom"));
    }

    /// Feeds one SASL element to `x` and gives its summary line.
    fn feed(
        x: &mut SaslExchange,
        xml: &str,
        summary: &mut Option<Sasl>,
    ) -> (String, Vec<&'static str>) {
        use crate::position::{Dir, FrameRef};
        let limits = crate::limits::Limits::default();
        let mut scratch = super::super::escaped::Scratch::default();
        let ctx = super::super::element::Namespaces::default();
        let el = super::super::element::parse_element(xml, &ctx, &limits, &mut scratch).unwrap();
        let at = FrameRef::default();
        let span = Span {
            dir: Dir::ClientToServer,
            first: at,
            last: at,
        };
        let mut out = Out::default();
        x.on_element(span, el.root(), summary, &mut out);
        (
            out.summary,
            out.findings.iter().map(|f| f.code.code()).collect(),
        )
    }

    const NS: &str = "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'";

    #[test]
    fn the_exchange_remembers_the_mechanism_for_the_responses() {
        let mut x = SaslExchange::new(false);
        let mut summary = None;
        let auth = format!("<auth {NS} mechanism='DIGEST-MD5'/>");
        assert_eq!(feed(&mut x, &auth, &mut summary).0, "auth DIGEST-MD5");
        // base64("username=\"1001\",realm=\"f1\"")
        let response = format!("<response {NS}>dXNlcm5hbWU9IjEwMDEiLHJlYWxtPSJmMSI=</response>");
        assert_eq!(
            feed(&mut x, &response, &mut summary).0,
            "response DIGEST-MD5 as 1001 (redacted)"
        );
        let failure = format!("<failure {NS}><not-authorized/></failure>");
        let (line, codes) = feed(&mut x, &failure, &mut summary);
        assert_eq!(
            (line.as_str(), codes),
            ("failure not-authorized", vec!["xmpp.sasl_failure"])
        );
        let sasl = summary.unwrap();
        assert_eq!(sasl.user.as_deref(), Some("1001"));
        assert_eq!(sasl.outcome.as_deref(), Some("failure"));
    }

    #[test]
    fn plain_passwords_are_said_only_when_secrets_are_shown() {
        let auth = format!("<auth {NS} mechanism='PLAIN'>ADEwMDEAczNjcmV0</auth>");
        let mut summary = None;
        let hidden = feed(&mut SaslExchange::new(false), &auth, &mut summary).0;
        assert_eq!(hidden, "auth PLAIN as 1001 (password redacted)");
        let shown = feed(&mut SaslExchange::new(true), &auth, &mut summary).0;
        assert_eq!(shown, "auth PLAIN as 1001, password \"s3cret\"");
    }
}
