//! What the wire shows of a server certificate, checked against the
//! capture: validity at the connection's time, and whether it names the SNI.
//!
//! Takes the TLS stage's summary of the leaf certificate (when the
//! Certificate message could be read: in clear up to TLS 1.2, or decrypted),
//! the version, the SNI and the connection's time; gives
//! [`CertificateFacts`]. Never verifies a chain or a signature: it says what
//! the certificate claims.

use crate::position::Timestamp;
use crate::tls::CertSummary;

use super::CertificateFacts;

/// The facts of the leaf certificate `leaf` of a connection of `version`
/// to `sni` at `time`; `None` when there is nothing to say (no Certificate
/// message seen and not TLS 1.3).
pub(crate) fn certificate_facts(
    leaf: Option<&CertSummary>,
    version: Option<&str>,
    sni: Option<&str>,
    time: Timestamp,
) -> Option<CertificateFacts> {
    let encrypted = version == Some("TLS 1.3");
    let Some(cert) = leaf.filter(|c| c.error.is_none()) else {
        return encrypted.then(|| CertificateFacts {
            encrypted,
            subject: None,
            issuer: None,
            sans: Vec::new(),
            not_before: None,
            not_after: None,
            validity: None,
            name_mismatch: false,
        });
    };
    // Both sides come from `Timestamp::to_rfc3339`: same width, so they
    // compare as strings.
    let now = time.to_rfc3339();
    let validity = match (&cert.not_before, &cert.not_after) {
        (_, Some(after)) if now.as_str() > after.as_str() => "expired",
        (Some(before), _) if now.as_str() < before.as_str() => "not_yet_valid",
        _ => "valid",
    };
    Some(CertificateFacts {
        encrypted,
        subject: Some(cert.subject.clone()),
        issuer: Some(cert.issuer.clone()),
        sans: cert.sans.clone(),
        not_before: cert.not_before.clone(),
        not_after: cert.not_after.clone(),
        validity: Some(validity),
        name_mismatch: sni.is_some_and(|sni| !names(cert, sni)),
    })
}

/// Whether the certificate names `host`: a SAN, or the subject's CN when
/// there is no DNS SAN (RFC 6125 §6.4.4), with a `*.` wildcard standing for
/// exactly one leftmost label (§6.4.3).
fn names(cert: &CertSummary, host: &str) -> bool {
    let dns_sans: Vec<&str> = cert
        .sans
        .iter()
        .map(String::as_str)
        .filter(|s| !s.contains('@') && !s.contains(':') && s.parse::<std::net::IpAddr>().is_err())
        .collect();
    let host = host.trim_end_matches('.');
    if cert.sans.iter().any(|s| s.eq_ignore_ascii_case(host)) {
        return true;
    }
    if !dns_sans.is_empty() {
        return dns_sans.iter().any(|pattern| matches(pattern, host));
    }
    cert.subject_cn
        .as_deref()
        .is_some_and(|cn| matches(cn, host))
}

fn matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(label, parent)| !label.is_empty() && parent.eq_ignore_ascii_case(rest)),
        None => pattern.eq_ignore_ascii_case(host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(cn: &str, sans: &[&str], from: &str, until: &str) -> CertSummary {
        CertSummary {
            subject: format!("CN={cn}"),
            subject_cn: Some(cn.to_owned()),
            issuer: "CN=Example CA".to_owned(),
            sans: sans.iter().map(|s| (*s).to_owned()).collect(),
            not_before: Some(from.to_owned()),
            not_after: Some(until.to_owned()),
            ..CertSummary::default()
        }
    }

    fn at(rfc3339_secs: i64) -> Timestamp {
        Timestamp::from_secs_nanos(rfc3339_secs, 0)
    }

    /// 2026-03-02T09:00:00Z.
    const CAPTURE: i64 = 1_772_442_000;

    #[test]
    fn validity_is_checked_against_the_capture_time() {
        let c = at(CAPTURE);
        let check = |from: &str, until: &str| {
            let leaf = cert("finesse1.example.com", &[], from, until);
            certificate_facts(Some(&leaf), Some("TLS 1.2"), None, c).and_then(|f| f.validity)
        };
        assert_eq!(c.to_rfc3339(), "2026-03-02T09:00:00.000000Z");
        let from = "2025-01-01T00:00:00.000000Z";
        assert_eq!(check(from, "2027-01-01T00:00:00.000000Z"), Some("valid"));
        assert_eq!(check(from, "2026-03-01T00:00:00.000000Z"), Some("expired"));
        assert_eq!(
            check("2026-04-01T00:00:00.000000Z", "2027-01-01T00:00:00.000000Z"),
            Some("not_yet_valid")
        );
    }

    #[test]
    fn the_sni_must_be_named_by_a_san_or_else_the_cn() {
        let (from, until) = ("2025-01-01T00:00:00.000000Z", "2027-01-01T00:00:00.000000Z");
        let mismatch = |leaf: &CertSummary, sni: &str| {
            certificate_facts(Some(leaf), Some("TLS 1.2"), Some(sni), at(CAPTURE))
                .is_some_and(|f| f.name_mismatch)
        };
        let by_san = cert(
            "ignored",
            &["finesse1.example.com", "10.0.0.1"],
            from,
            until,
        );
        assert!(!mismatch(&by_san, "FINESSE1.example.com"));
        assert!(mismatch(&by_san, "ignored"), "a DNS SAN hides the CN");
        assert!(mismatch(&by_san, "finesse2.example.com"));
        let wildcard = cert("x", &["*.example.com"], from, until);
        assert!(!mismatch(&wildcard, "finesse2.example.com"));
        assert!(mismatch(&wildcard, "a.b.example.com"));
        assert!(mismatch(&wildcard, "example.com"));
        let by_cn = cert("finesse1.example.com", &[], from, until);
        assert!(!mismatch(&by_cn, "finesse1.example.com"));
        assert!(mismatch(&by_cn, "other.example.com"));
    }

    #[test]
    fn tls13_without_a_readable_certificate_says_encrypted() {
        let facts = certificate_facts(None, Some("TLS 1.3"), Some("a"), at(CAPTURE));
        assert!(facts
            .as_ref()
            .is_some_and(|f| f.encrypted && f.subject.is_none()));
        assert_eq!(
            certificate_facts(None, Some("TLS 1.2"), None, at(CAPTURE)),
            None
        );
        let broken = CertSummary {
            error: Some("not an X.509 certificate".to_owned()),
            ..CertSummary::default()
        };
        assert_eq!(
            certificate_facts(Some(&broken), Some("TLS 1.2"), None, at(CAPTURE)),
            None
        );
    }
}
