//! Conditional requests: `If-Match`, `If-None-Match`, `If-Modified-Since`,
//! `If-Unmodified-Since` (RFC 7232 §6 order) and the `If` header (RFC 4918 §10.4).

use std::time::SystemTime;

use dirdav_plugin::DavError;
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

/// Normalises an entity tag as clients send it: Evolution escapes the quotes (`\"`).
fn normalise(tag: &str) -> String {
    tag.trim().replace("\\\"", "\"")
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
    list.split(',').map(normalise).any(|tag| {
        let (is_weak, tag) = match tag.strip_prefix("W/") {
            Some(rest) => (true, rest.to_owned()),
            None => (false, tag),
        };
        (weak || !is_weak) && tag == current
    })
}

/// One condition of an `If` header list.
#[derive(Debug, PartialEq)]
enum Condition {
    /// `<state-token>`; dirdav issues no locks, so none is ever current.
    StateToken { not: bool },
    /// `[etag]`.
    ETag { not: bool, tag: String },
}

/// One list, with the resource it is tagged with.
#[derive(Debug, PartialEq)]
struct List {
    resource: Option<String>,
    conditions: Vec<Condition>,
}

fn parse_if(value: &str) -> Result<Vec<List>, DavError> {
    let bad = || DavError::bad_request("malformed If header");
    let mut lists = Vec::new();
    let mut tag: Option<String> = None;
    let mut rest = value.trim_start();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('<') {
            let end = r.find('>').ok_or_else(bad)?;
            tag = Some(r[..end].to_owned());
            rest = r[end + 1..].trim_start();
        } else if let Some(r) = rest.strip_prefix('(') {
            let end = r.find(')').ok_or_else(bad)?;
            let conditions = parse_conditions(&r[..end]).ok_or_else(bad)?;
            if conditions.is_empty() {
                return Err(bad());
            }
            lists.push(List {
                resource: tag.clone(),
                conditions,
            });
            rest = r[end + 1..].trim_start();
        } else {
            return Err(bad());
        }
    }
    if lists.is_empty() {
        return Err(bad());
    }
    Ok(lists)
}

fn parse_conditions(mut s: &str) -> Option<Vec<Condition>> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return Some(out);
        }
        let mut not = false;
        if s.len() >= 3 && s[..3].eq_ignore_ascii_case("not") {
            not = true;
            s = s[3..].trim_start();
        }
        if let Some(r) = s.strip_prefix('<') {
            let end = r.find('>')?;
            out.push(Condition::StateToken { not });
            s = &r[end + 1..];
        } else if let Some(r) = s.strip_prefix('[') {
            let end = r.find(']')?;
            out.push(Condition::ETag {
                not,
                tag: normalise(&r[..end]),
            });
            s = &r[end + 1..];
        } else {
            return None;
        }
    }
}

/// Evaluates the `If` header: true when some list holds for its resource. `lookup`
/// gives the entity tag of a tagged list's resource (`None` when it has none).
pub(crate) fn check_if(
    headers: &HeaderMap,
    own_etag: Option<&str>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(), DavError> {
    let Some(value) = headers.get("if") else {
        return Ok(());
    };
    let value = value
        .to_str()
        .map_err(|_| DavError::bad_request("If header is not ASCII"))?;
    let lists = parse_if(value)?;
    let holds = lists.iter().any(|list| {
        let etag = match &list.resource {
            Some(r) => lookup(r),
            None => own_etag.map(str::to_owned),
        };
        list.conditions.iter().all(|c| match c {
            Condition::StateToken { not } => *not,
            Condition::ETag { not, tag } => (etag.as_deref() == Some(tag.as_str())) != *not,
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
        let ok = |v: &str| check_if(&with("if", v), Some(ETAG), none).is_ok();
        assert!(ok("([\"abc\"])"));
        assert!(!ok("([\"x\"])"));
        assert!(ok("(Not [\"x\"])"));
        assert!(!ok("(<urn:uuid:1>)"));
        assert!(ok("(<urn:uuid:1>) (Not <DAV:no-lock>)"));
        assert!(!ok("(<DAV:no-lock> [\"abc\"])"));
        let tagged = check_if(&with("if", "</other> ([\"t\"])"), Some(ETAG), |r| {
            (r == "/other").then(|| "\"t\"".to_owned())
        });
        assert!(tagged.is_ok());
        for bad in ["", "garbage", "(", "([\"x\"", "()"] {
            let r = check_if(&with("if", bad), Some(ETAG), none);
            assert_eq!(r.map_err(|e| e.status().as_u16()), Err(400), "{bad:?}");
        }
    }
}
