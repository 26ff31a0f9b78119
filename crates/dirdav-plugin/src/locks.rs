//! What a locking plugin (RFC 4918 class 2) needs from the core and gives it: the
//! `If` header's lists, and a keeper of locks that takes part in every write.
//!
//! The core parses the `If` header, asks the keeper whether a state token names a
//! current lock ([`LockKeeper::holds`]) and, once the header holds, hands it every
//! write with the paths it touches and the tokens the request submitted
//! ([`LockKeeper::check`]): a write that touches a lock without its token is refused
//! there with 423 `DAV:lock-token-submitted`.

use http::{HeaderMap, Method};

use crate::{DavError, Principal, Store};

/// One condition of an `If` header list (RFC 4918 §10.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfCondition {
    /// `<state-token>`, such as a lock token or `DAV:no-lock`.
    StateToken {
        /// Preceded by `Not`.
        not: bool,
        /// The token, without the angle brackets.
        token: String,
    },
    /// `[entity-tag]`, with Evolution's escaped quotes undone.
    ETag {
        /// Preceded by `Not`.
        not: bool,
        /// The entity tag, quotes included.
        tag: String,
    },
}

/// One list of an `If` header: it holds when all its conditions do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfList {
    /// The resource the list is tagged with (an href), or `None` for the Request-URI.
    pub resource: Option<String>,
    /// The conditions, all of which must hold.
    pub conditions: Vec<IfCondition>,
}

/// Normalises an entity tag as clients send it: Evolution escapes the quotes (`\"`).
pub fn normalise_etag(tag: &str) -> String {
    tag.trim().replace("\\\"", "\"")
}

/// Parses an `If` header value into its lists; `None` when it is malformed (a 400).
pub fn parse_if(value: &str) -> Option<Vec<IfList>> {
    let mut lists = Vec::new();
    let mut tag: Option<String> = None;
    let mut rest = value.trim_start();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('<') {
            let end = r.find('>')?;
            tag = Some(r[..end].to_owned());
            rest = r[end + 1..].trim_start();
        } else if let Some(r) = rest.strip_prefix('(') {
            let end = r.find(')')?;
            let conditions = parse_conditions(&r[..end])?;
            if conditions.is_empty() {
                return None;
            }
            lists.push(IfList {
                resource: tag.clone(),
                conditions,
            });
            rest = r[end + 1..].trim_start();
        } else {
            return None;
        }
    }
    (!lists.is_empty()).then_some(lists)
}

fn parse_conditions(mut s: &str) -> Option<Vec<IfCondition>> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return Some(out);
        }
        let mut not = false;
        if s.get(..3).is_some_and(|w| w.eq_ignore_ascii_case("not")) {
            not = true;
            s = s[3..].trim_start();
        }
        if let Some(r) = s.strip_prefix('<') {
            let end = r.find('>')?;
            out.push(IfCondition::StateToken {
                not,
                token: r[..end].trim().to_owned(),
            });
            s = &r[end + 1..];
        } else if let Some(r) = s.strip_prefix('[') {
            let end = r.find(']')?;
            out.push(IfCondition::ETag {
                not,
                tag: normalise_etag(&r[..end]),
            });
            s = &r[end + 1..];
        } else {
            return None;
        }
    }
}

/// The lock tokens a request submits: every state token named without `Not` anywhere
/// in its `If` header (RFC 4918 §10.4.1), whichever list it is in. Empty when there is
/// no header or it is malformed.
pub fn submitted_tokens(headers: &HeaderMap) -> Vec<String> {
    let Some(lists) = headers
        .get("if")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_if)
    else {
        return Vec::new();
    };
    let mut tokens: Vec<String> = lists
        .into_iter()
        .flat_map(|l| l.conditions)
        .filter_map(|c| match c {
            IfCondition::StateToken { not: false, token } => Some(token),
            _ => None,
        })
        .collect();
    tokens.sort();
    tokens.dedup();
    tokens
}

/// How a write touches a path, for [`LockKeeper::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// The resource itself: its content, its properties, or (for a collection) its
    /// membership. Locks on it, and depth-infinity locks above it, apply.
    Itself,
    /// The resource and everything below it: it is removed or replaced (DELETE, a
    /// MOVE's source, an overwritten destination). Locks below it apply too.
    Tree,
}

/// A write about to run, for [`LockKeeper::check`].
#[derive(Debug)]
pub struct LockCheck<'a> {
    /// The method.
    pub method: &'a Method,
    /// Every path the write touches, and how. A new member also touches its parent.
    pub touched: &'a [(String, Touch)],
    /// The lock tokens the request submitted ([`submitted_tokens`]).
    pub submitted: &'a [String],
    /// Who writes: a lock's token counts only from the principal who took the lock.
    pub principal: Option<&'a Principal>,
    /// The core's read API (hrefs for the error body).
    pub store: &'a dyn Store,
}

/// Keeps write locks for the core ([`Registrar::locks`](crate::Registrar::locks)).
pub trait LockKeeper: Send + Sync + 'static {
    /// Whether `token` names a lock that is current and covers `path` (its root, or
    /// below a depth-infinity root): the `If` header's state token holds then.
    fn holds(&self, path: &str, token: &str) -> bool;

    /// Refuses a write that touches a locked resource without that lock's token,
    /// submitted by the lock's owner: 423 with `DAV:lock-token-submitted` naming the
    /// locks' roots.
    fn check(&self, write: &LockCheck<'_>) -> Result<(), DavError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_tokens() {
        let lists = parse_if("</a> (<urn:uuid:1> [\"e\"]) (Not <DAV:no-lock>)").unwrap();
        assert_eq!(lists.len(), 2);
        assert_eq!(lists[0].resource.as_deref(), Some("/a"));
        assert_eq!(lists[1].resource.as_deref(), Some("/a"));
        assert_eq!(
            lists[1].conditions,
            [IfCondition::StateToken {
                not: true,
                token: "DAV:no-lock".into()
            }]
        );
        for bad in ["", "garbage", "(", "([\"x\"", "()", "<a>"] {
            assert_eq!(parse_if(bad), None, "{bad:?}");
        }
        let mut h = HeaderMap::new();
        h.insert(
            "if",
            "(<urn:uuid:2>) (Not <urn:uuid:3>) </x> (<urn:uuid:1> [\"e\"]) (<urn:uuid:2>)"
                .parse()
                .unwrap(),
        );
        assert_eq!(submitted_tokens(&h), ["urn:uuid:1", "urn:uuid:2"]);
        h.insert("if", "(garbage".parse().unwrap());
        assert!(submitted_tokens(&h).is_empty());
    }
}
