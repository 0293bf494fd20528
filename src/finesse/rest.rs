//! Failed Finesse REST calls: a `/finesse/...` request answered 4xx or 5xx.
//!
//! Takes the request's method and path, the response's status and reason,
//! and the response body's text when it was kept; gives a finding naming the
//! call and, when the body is Finesse's `<ApiErrors>` document (XML or
//! JSON), what Finesse said. A state change refused with 400, a 401 after a
//! password change or a 503 while a node fails over is what a support
//! engineer looks for next to the desktop's XMPP session. Never fails: a
//! body that does not parse is simply not quoted.

use super::map::api_errors_in;
use super::tree;
use super::ApiError;
use crate::finding::{Finding, Level};
use crate::http::FindingCode::RestError;
use crate::limits::Limits;

/// The response of one REST call, as the HTTP stage saw it.
pub struct RestCall<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub reason: &'a str,
    pub body: Option<&'a str>,
}

/// A finding for a Finesse REST call answered with an error status; None
/// for other paths and for success.
pub fn rest_failure(call: &RestCall<'_>, limits: &Limits) -> Option<Finding> {
    if !call.path.starts_with("/finesse/") || call.status < 400 {
        return None;
    }
    let level = if call.status >= 500 {
        Level::Error
    } else {
        Level::Warn
    };
    let path = call.path.split('?').next().unwrap_or(call.path);
    let mut msg = format!(
        "REST {} {path} answered {} {}",
        call.method, call.status, call.reason
    );
    let errors = call.body.map(|b| api_errors(b, limits)).unwrap_or_default();
    for (i, e) in errors.iter().enumerate() {
        msg.push_str(if i == 0 { ": " } else { "; " });
        msg.push_str(&e.describe());
    }
    // Layer HTTP: `xmppcap http` shows it beside the exchange.
    Some(Finding::new(RestError, msg).with_level(level))
}

/// The errors of an `<ApiErrors>` body (any case, XML or JSON); empty when
/// the body is something else.
pub fn api_errors(body: &str, limits: &Limits) -> Vec<ApiError> {
    let text = body.trim();
    if text.len() > limits.max_stanza_bytes {
        return Vec::new();
    }
    let scratch = &mut tree::Scratch::default();
    let tree = if text.starts_with('{') {
        tree::parse_json(text, limits, scratch)
    } else {
        tree::parse_xml(text, limits, scratch)
    };
    let Ok(tree) = tree else {
        return Vec::new();
    };
    let doc = tree.doc();
    doc.children().filter_map(api_errors_in).flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call<'a>(path: &'a str, status: u16, body: Option<&'a str>) -> RestCall<'a> {
        RestCall {
            method: "PUT",
            path,
            status,
            reason: if status >= 500 {
                "Service Unavailable"
            } else {
                "Bad Request"
            },
            body,
        }
    }

    const INVALID_STATE: &str = "<ApiErrors><ApiError><ErrorData>state</ErrorData><ErrorMessage>Invalid state transition</ErrorMessage><ErrorType>Invalid Input</ErrorType></ApiError></ApiErrors>";

    #[test]
    fn refused_state_change_quotes_finesse() {
        let f = rest_failure(
            &call("/finesse/api/User/1001", 400, Some(INVALID_STATE)),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(f.level, Level::Warn);
        assert_eq!(f.code, "http.rest_error");
        assert_eq!(
            f.message,
            "REST PUT /finesse/api/User/1001 answered 400 Bad Request: Invalid state transition (Invalid Input), data state"
        );
    }

    #[test]
    fn server_errors_are_errors_and_other_bodies_are_not_quoted() {
        let f = rest_failure(
            &call("/finesse/api/User/1001?x=1", 503, Some("<html>down</html>")),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(f.level, Level::Error);
        assert_eq!(
            f.message,
            "REST PUT /finesse/api/User/1001 answered 503 Service Unavailable"
        );
    }

    #[test]
    fn json_errors_and_success_and_other_paths() {
        let json = r#"{"ApiErrors":{"ApiError":{"ErrorType":"Authorization Failure","ErrorMessage":"Unauthorized"}}}"#;
        assert_eq!(
            api_errors(json, &Limits::default()).len(),
            1,
            "{:?}",
            api_errors(json, &Limits::default())
        );
        assert!(rest_failure(
            &call("/finesse/api/User/1001", 202, None),
            &Limits::default()
        )
        .is_none());
        assert!(rest_failure(&call("/ws/", 503, None), &Limits::default()).is_none());
    }

    #[test]
    fn every_prefix_of_an_error_body_is_safe() {
        for end in 0..=INVALID_STATE.len() {
            let errors = api_errors(&INVALID_STATE[..end], &Limits::default());
            assert!(errors.len() <= 1);
        }
    }
}
