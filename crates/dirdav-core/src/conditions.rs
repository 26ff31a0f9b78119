//! Conditional requests: `If-Match`, `If-None-Match`, `If-Modified-Since`,
//! `If-Unmodified-Since` (RFC 7232 §6 order) and the `If` header (RFC 4918 §10.4).

use std::time::SystemTime;

use dirdav_plugin::DavError;
use dirdav_plugin::locks::{IfCondition, normalise_etag, parse_if};
use http::{HeaderMap, Method, StatusCode, header};

/// What the conditions are evaluated against.
#[derive(Clone, Copy, Debug)]
pub(crate) struct State<'a> {
    /// The current entity tag, if the resource is a file.
    pub(crate) etag: Option<&'a str>,
    /// The last modification, if the resource exists.
    pub(crate) modified: Option<SystemTime>,
    /// Whether the resource exists.
    pub(crate) exists: bool,
}

impl State<'_> {
    /// A resource that does not exist.
    pub(crate) const MISSING: State<'static> = State {
        etag: None,
        modified: None,
        exists: false,
    };
}

/// Evaluates the RFC 7232 preconditions: `Err` carries 412, or 304 for GET and HEAD.
pub(crate) fn check(
    headers: &HeaderMap,
    method: &Method,
    state: State<'_>,
) -> Result<(), DavError> {
    let safe = method == Method::GET || method == Method::HEAD;
    if let Some(v) = header_str(headers, &header::IF_MATCH) {
        if !matches_any(v, state, false) {
            return Err(DavError::precondition_failed("If-Match did not match"));
        }
    } else if let Some(since) = date(headers, &header::IF_UNMODIFIED_SINCE)
        && state.modified.is_some_and(|m| truncate(m) > since)
    {
        return Err(DavError::precondition_failed(
            "modified since If-Unmodified-Since",
        ));
    }
    if let Some(v) = header_str(headers, &header::IF_NONE_MATCH) {
        if matches_any(v, state, true) {
            return Err(if safe {
                DavError::new(StatusCode::NOT_MODIFIED, "not modified")
            } else {
                DavError::precondition_failed("If-None-Match matched")
            });
        }
    } else if safe
        && let Some(since) = date(headers, &header::IF_MODIFIED_SINCE)
        && state.modified.is_some_and(|m| truncate(m) <= since)
    {
        return Err(DavError::new(StatusCode::NOT_MODIFIED, "not modified"));
    }
    Ok(())
}

fn header_str<'h>(headers: &'h HeaderMap, name: &header::HeaderName) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn date(headers: &HeaderMap, name: &header::HeaderName) -> Option<SystemTime> {
    httpdate::parse_http_date(header_str(headers, name)?).ok()
}

/// HTTP dates have whole seconds.
fn truncate(t: SystemTime) -> SystemTime {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(d.as_secs()),
        Err(_) => t,
    }
}

/// `*` or a comma-separated list of entity tags; `weak` allows weak comparison
/// (If-None-Match, RFC 7232 §3.2).
fn matches_any(list: &str, state: State<'_>, weak: bool) -> bool {
    if list.trim() == "*" {
        return state.exists;
    }
    let Some(current) = state.etag else {
        return false;
    };
    list.split(',').map(normalise_etag).any(|tag| {
        let (is_weak, tag) = match tag.strip_prefix("W/") {
            Some(rest) => (true, rest.to_owned()),
            None => (false, tag),
        };
        (weak || !is_weak) && tag == current
    })
}

/// Evaluates the `If` header (RFC 4918 §10.4): true when some list holds for its
/// resource. `etag_of` gives the entity tag of a tagged list's resource (`None` when it
/// has none), `holds` whether a state token names a current lock on a list's resource
/// (`None` for the Request-URI, else the tag's href).
pub(crate) fn check_if(
    headers: &HeaderMap,
    own_etag: Option<&str>,
    etag_of: impl Fn(&str) -> Option<String>,
    holds: impl Fn(Option<&str>, &str) -> bool,
) -> Result<(), DavError> {
    let Some(value) = headers.get("if") else {
        return Ok(());
    };
    let value = value
        .to_str()
        .map_err(|_| DavError::bad_request("If header is not ASCII"))?;
    let lists = parse_if(value).ok_or_else(|| DavError::bad_request("malformed If header"))?;
    let holds = lists.iter().any(|list| {
        let resource = list.resource.as_deref();
        let etag = match resource {
            Some(r) => etag_of(r),
            None => own_etag.map(str::to_owned),
        };
        list.conditions.iter().all(|c| match c {
            IfCondition::StateToken { not, token } => holds(resource, token) != *not,
            IfCondition::ETag { not, tag } => (etag.as_deref() == Some(tag.as_str())) != *not,
        })
    });
    if holds {
        Ok(())
    } else {
        Err(DavError::precondition_failed("If header did not hold"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const ETAG: &str = "\"abc\"";

    fn state() -> State<'static> {
        State {
            etag: Some(ETAG),
            modified: Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000)),
            exists: true,
        }
    }

    fn with(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    fn status(h: &HeaderMap, m: &Method, s: State<'_>) -> u16 {
        match check(h, m, s) {
            Ok(()) => 200,
            Err(e) => e.status().as_u16(),
        }
    }

    #[test]
    fn if_match() {
        assert_eq!(
            status(&with("if-match", "\"abc\""), &Method::PUT, state()),
            200
        );
        assert_eq!(
            status(&with("if-match", "\"x\", \"abc\""), &Method::PUT, state()),
            200
        );
        assert_eq!(
            status(&with("if-match", "\\\"abc\\\""), &Method::PUT, state()),
            200
        );
        assert_eq!(
            status(&with("if-match", "W/\"abc\""), &Method::PUT, state()),
            412
        );
        assert_eq!(
            status(&with("if-match", "\"x\""), &Method::PUT, state()),
            412
        );
        assert_eq!(
            status(&with("if-match", "*"), &Method::PUT, State::MISSING),
            412
        );
    }

    #[test]
    fn if_none_match() {
        assert_eq!(
            status(&with("if-none-match", "*"), &Method::PUT, state()),
            412
        );
        assert_eq!(
            status(&with("if-none-match", "*"), &Method::PUT, State::MISSING),
            200
        );
        assert_eq!(
            status(&with("if-none-match", "\"abc\""), &Method::GET, state()),
            304
        );
        assert_eq!(
            status(&with("if-none-match", "W/\"abc\""), &Method::HEAD, state()),
            304
        );
        assert_eq!(
            status(&with("if-none-match", "\"x\""), &Method::GET, state()),
            200
        );
    }

    #[test]
    fn dates() {
        let before = "Sun, 11 Jan 1970 00:00:00 GMT";
        let after = "Tue, 13 Jan 1970 00:00:00 GMT";
        assert_eq!(
            status(&with("if-modified-since", after), &Method::GET, state()),
            304
        );
        assert_eq!(
            status(&with("if-modified-since", before), &Method::GET, state()),
            200
        );
        assert_eq!(
            status(&with("if-unmodified-since", before), &Method::PUT, state()),
            412
        );
        assert_eq!(
            status(
                &with("if-unmodified-since", after),
                &Method::DELETE,
                state()
            ),
            200
        );
        assert_eq!(
            status(&with("if-modified-since", "garbage"), &Method::GET, state()),
            200
        );
    }

    #[test]
    fn if_header() {
        let none = |_: &str| None;
        // One lock, `urn:uuid:held`, on the Request-URI only.
        let holds = |r: Option<&str>, t: &str| r.is_none() && t == "urn:uuid:held";
        let ok = |v: &str| check_if(&with("if", v), Some(ETAG), none, holds).is_ok();
        assert!(ok("([\"abc\"])"));
        assert!(!ok("([\"x\"])"));
        assert!(ok("(Not [\"x\"])"));
        assert!(!ok("(<urn:uuid:1>)"));
        assert!(ok("(<urn:uuid:1>) (Not <DAV:no-lock>)"));
        assert!(!ok("(<DAV:no-lock> [\"abc\"])"));
        assert!(ok("(<urn:uuid:held> [\"abc\"])"));
        assert!(!ok("(<urn:uuid:heldx>) (<DAV:no-lock>)"));
        assert!(ok("(<urn:uuid:heldx>) (Not <DAV:no-lock>)"));
        assert!(!ok("</other> (<urn:uuid:held>)"));
        let tagged = check_if(
            &with("if", "</other> ([\"t\"])"),
            Some(ETAG),
            |r| (r == "/other").then(|| "\"t\"".to_owned()),
            holds,
        );
        assert!(tagged.is_ok());
        for bad in ["", "garbage", "(", "([\"x\"", "()"] {
            let r = check_if(&with("if", bad), Some(ETAG), none, holds);
            assert_eq!(r.map_err(|e| e.status().as_u16()), Err(400), "{bad:?}");
        }
    }
}
