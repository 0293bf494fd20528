//! The Certificate handshake message and what the report shows of each
//! certificate (subject, issuer, subjectAltName, validity, serial).
//!
//! Takes the message body (TLS 1.2 list or TLS 1.3 entries); gives one
//! [`CertSummary`] per certificate up to a cap, the rest counted. X.509 is
//! read by `x509-parser`; a certificate it refuses is summarised by its
//! error, never a failure of the handshake.

use serde::Serialize;

use super::{done, HandshakeError};
use crate::position::Timestamp;
use crate::tls::record::Reader;

/// What the report shows about one certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CertSummary {
    pub subject: String,
    pub subject_cn: Option<String>,
    pub issuer: String,
    pub issuer_cn: Option<String>,
    /// DNS names, IP addresses, e-mails and URIs from subjectAltName.
    pub sans: Vec<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub serial: String,
    /// Set when the DER could not be parsed; the other fields are then empty.
    pub error: Option<String>,
}

fn summarize_cert(der: &[u8]) -> CertSummary {
    use x509_parser::extensions::GeneralName;
    let cert = match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => cert,
        Err(e) => {
            return CertSummary {
                error: Some(format!("not an X.509 certificate: {e}")),
                ..CertSummary::default()
            }
        }
    };
    let cn = |name: &x509_parser::x509::X509Name<'_>| {
        name.iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned)
    };
    let time =
        |t: &x509_parser::time::ASN1Time| Timestamp::from_secs_nanos(t.timestamp(), 0).to_rfc3339();
    let mut sans = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                    sans.push((*s).to_owned())
                }
                GeneralName::IPAddress(ip) => sans.push(ip_string(ip)),
                _ => {}
            }
        }
    }
    let validity = cert.validity();
    CertSummary {
        subject: cert.subject().to_string(),
        subject_cn: cn(cert.subject()),
        issuer: cert.issuer().to_string(),
        issuer_cn: cn(cert.issuer()),
        sans,
        not_before: Some(time(&validity.not_before)),
        not_after: Some(time(&validity.not_after)),
        serial: cert.raw_serial_as_string(),
        error: None,
    }
}

fn ip_string(ip: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(ip) {
        return std::net::Ipv4Addr::from(v4).to_string();
    }
    if let Ok(v6) = <[u8; 16]>::try_from(ip) {
        return std::net::Ipv6Addr::from(v6).to_string();
    }
    ip.iter().map(|b| format!("{b:02x}")).collect()
}

/// Certificate message: TLS ≤ 1.2 (a plain list) or TLS 1.3 (context and
/// per-entry extensions). The first `max` certificates are summarised; the
/// others are checked for framing and counted (the second value).
pub(crate) fn parse_certificate(
    body: &[u8],
    tls13: bool,
    max: usize,
) -> Result<(Vec<CertSummary>, usize), HandshakeError> {
    let mut r = Reader::new(body);
    if tls13 {
        r.vec_u8("certificate_request_context")?;
    }
    let mut list = r.vec_u24("certificate_list")?;
    let (mut out, mut omitted) = (Vec::new(), 0);
    while !list.is_empty() {
        let der = list.vec_u24("cert_data")?.rest();
        if tls13 {
            list.vec_u16("extensions")?;
        }
        if out.len() < max {
            out.push(summarize_cert(der));
        } else {
            omitted += 1;
        }
    }
    done(&r, "Certificate")?;
    Ok((out, omitted))
}
