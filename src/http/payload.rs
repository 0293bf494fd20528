//! Turning a finished body into what is reported: content decoding, the text
//! copy, and the redaction of secrets in it.
//!
//! Takes a body reader and the message's header fields; gives a [`Payload`],
//! the decoded bytes (for BOSH) and a finding when a cap was hit or inflation
//! failed. Never inflates past `limits.max_http_body` or the inflate ratio.

use crate::http::FindingCode;
use crate::limits::Limits;

use super::body::{inflate, Coding, Reader};
use super::exchange::{redact_text, Payload};
use super::parser::Fields;

/// A problem met while finishing a body: (level, code, message).
pub(crate) type Note = (crate::finding::Code, String);

/// A finished body: the reported payload and the decoded bytes kept.
pub(crate) struct Finished {
    pub payload: Payload,
    pub decoded: Vec<u8>,
    pub notes: Vec<Note>,
}

/// Is a body of this content type (or, without one, these bytes) worth showing as text?
fn is_textual(content_type: Option<&str>, bytes: &[u8]) -> bool {
    match content_type.map(str::to_ascii_lowercase) {
        Some(ct) => {
            ct.starts_with("text/")
                || ct.contains("xml")
                || ct.contains("json")
                || ct.contains("x-www-form-urlencoded")
                || ct.contains("javascript")
        }
        None => {
            let start = bytes.iter().find(|b| !b.is_ascii_whitespace());
            matches!(start, Some(b'<' | b'{' | b'['))
        }
    }
}

/// Finishes a body read by `reader`; `complete` is false when it was cut.
pub(crate) fn finish(
    reader: Reader,
    fields: &Fields,
    complete: bool,
    limits: &Limits,
    show_secrets: bool,
) -> Finished {
    let mut notes = Vec::new();
    if reader.skipped > 0 {
        notes.push((
            FindingCode::BodyTruncated.into(),
            format!(
                "body of {} bytes: only the first {} kept (limits.max_http_body)",
                reader.len,
                reader.kept.len()
            ),
        ));
    }
    let whole = complete && reader.skipped == 0 && reader.missing == 0;
    let coding = fields.get("content-encoding");
    let decoded = match coding.as_deref().map(|c| (c, Coding::from_header(c))) {
        None | Some(("identity", _)) => reader.kept,
        Some((_, Some(coding))) if whole => {
            let (out, err) = inflate(
                &reader.kept,
                coding,
                limits.max_http_body,
                limits.max_inflate_ratio,
            );
            if let Some(e) = err {
                notes.push((e.code().into(), format!("body: {e}")));
            }
            out
        }
        // Coded and cut, or a coding we do not undo (br, compress): nothing readable.
        Some(_) => Vec::new(),
    };
    let content_type = fields.get("content-type");
    let (text, text_truncated) = if is_textual(content_type.as_deref(), &decoded) {
        let cut = decoded.len().min(limits.max_http_body_text);
        let raw = String::from_utf8_lossy(decoded.get(..cut).unwrap_or_default());
        let text = if show_secrets {
            raw.into_owned()
        } else {
            redact_text(&raw, content_type.as_deref())
        };
        (Some(text), cut < decoded.len())
    } else {
        (None, false)
    };
    let payload = Payload {
        wire_len: reader.len,
        decoded_len: decoded.len() as u64,
        skipped: reader.skipped,
        missing: reader.missing,
        complete,
        text,
        text_truncated,
        trailers: reader.trailers,
    };
    Finished {
        payload,
        decoded,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::super::parser::{Field, Fields, Framing};
    use super::*;

    fn fields(list: &[(&str, &str)]) -> Fields {
        Fields(
            list.iter()
                .map(|(n, v)| Field {
                    name: n.to_string(),
                    value: v.as_bytes().to_vec(),
                })
                .collect(),
        )
    }

    fn reader(bytes: &[u8]) -> Reader {
        let mut r = Reader::new(Framing::UntilClose, 1 << 20, 256);
        r.feed(bytes);
        r
    }

    #[test]
    fn xml_body_becomes_text_with_cap() {
        let limits = Limits {
            max_http_body_text: 10,
            ..Limits::default()
        };
        let f = finish(
            reader(b"<ApiErrors><ApiError/></ApiErrors>"),
            &fields(&[("Content-Type", "application/xml")]),
            true,
            &limits,
            false,
        );
        assert_eq!(f.payload.text.as_deref(), Some("<ApiErrors"));
        assert!(f.payload.text_truncated);
        assert_eq!(f.payload.decoded_len, 34);
    }

    #[test]
    fn binary_body_has_no_text() {
        let f = finish(
            reader(b"\x89PNG"),
            &fields(&[("Content-Type", "image/png")]),
            true,
            &Limits::default(),
            false,
        );
        assert_eq!(f.payload.text, None);
    }
}
