//! Request paths: decoding, normalisation and hrefs.

use dirdav_plugin::DavError;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// What may stay unescaped in a path segment of an href (RFC 3986 `pchar`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// A request path, decoded and checked: it cannot name anything outside the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DavPath {
    /// Decoded segments below the root.
    pub(crate) segments: Vec<String>,
    /// A segment is a dotfile or an editor's temporary
    /// ([`is_ignored`]): never listed, served or written.
    pub(crate) hidden: bool,
}

impl DavPath {
    /// The path as the index keys it: segments joined with `/`, `""` for the root.
    pub(crate) fn key(&self) -> String {
        self.segments.join("/")
    }
}

/// Decodes a URL path below `base` (`""` or `/prefix`). `None` when the path is not
/// under the base path at all.
pub(crate) fn decode(raw: &str, base: &str) -> Result<Option<DavPath>, DavError> {
    let Some(rest) = strip_base(raw, base) else {
        return Ok(None);
    };
    let mut segments = Vec::new();
    let mut hidden = false;
    for raw_segment in rest.split('/').filter(|s| !s.is_empty()) {
        let bytes: Vec<u8> = percent_decode_str(raw_segment).collect();
        let segment = String::from_utf8(bytes)
            .map_err(|_| DavError::bad_request("path is not valid UTF-8"))?;
        if segment.contains(['/', '\\', '\0']) {
            return Err(DavError::bad_request("encoded separator in path"));
        }
        match segment.as_str() {
            "." => continue,
            ".." => return Err(DavError::bad_request("'..' is not allowed in paths")),
            s if is_ignored(s) => hidden = true,
            _ => {}
        }
        segments.push(segment);
    }
    Ok(Some(DavPath { segments, hidden }))
}

fn strip_base<'a>(raw: &'a str, base: &str) -> Option<&'a str> {
    if base.is_empty() {
        return Some(raw);
    }
    let rest = raw.strip_prefix(base)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The href of a path: the base path, each segment percent-encoded, and a trailing
/// `/` for collections (clients such as InfCloud and iOS rely on it).
pub(crate) fn href(base: &str, key: &str, is_collection: bool) -> String {
    let mut out = String::with_capacity(base.len() + key.len() + 8);
    out.push_str(base);
    for segment in key.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.extend(utf8_percent_encode(segment, SEGMENT));
    }
    if is_collection || out.is_empty() {
        out.push('/');
    }
    out
}

/// The parent key and the last segment of a key (`""` has none).
pub(crate) fn split(key: &str) -> Option<(&str, &str)> {
    if key.is_empty() {
        return None;
    }
    Some(key.rsplit_once('/').unwrap_or(("", key)))
}

/// Joins a collection key and a member name.
pub(crate) fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}/{name}")
    }
}

/// True when `key` is `ancestor` or lies below it.
pub(crate) fn is_within(key: &str, ancestor: &str) -> bool {
    ancestor.is_empty()
        || key == ancestor
        || (key.starts_with(ancestor) && key.as_bytes().get(ancestor.len()) == Some(&b'/'))
}

/// Names that are never indexed, served or written: dotfiles (`.dav.toml`, `.git`, the
/// server's and sync tools' temporaries) and editors' working files, which appear and
/// vanish while a save is under way (`*.tmp`, `*.swp`, `*.swx`, `*~`, Vim's `4913`).
pub(crate) fn is_ignored(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || name == "4913"
        || [".tmp", ".swp", ".swx"].iter().any(|ext| {
            // `get`, not slicing: the name may end in a multi-byte character.
            name.len() > ext.len()
                && name
                    .get(name.len() - ext.len()..)
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(ext))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(raw: &str) -> Result<Option<DavPath>, DavError> {
        decode(raw, "")
    }

    #[test]
    fn decodes_and_normalises() {
        let p = d("/alice//calendar/./a%20b.ics").unwrap().unwrap();
        assert_eq!(p.segments, ["alice", "calendar", "a b.ics"]);
        assert!(!p.hidden);
        assert_eq!(d("/").unwrap().unwrap().key(), "");
        assert_eq!(d("/caf%C3%A9").unwrap().unwrap().key(), "café");
    }

    #[test]
    fn refuses_traversal_and_encoded_separators() {
        for bad in [
            "/../etc/passwd",
            "/a/%2e%2e/b",
            "/a%2Fb",
            "/a%5Cb",
            "/a%00",
            "/%ff",
        ] {
            assert!(d(bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn marks_dotfiles_hidden() {
        assert!(d("/alice/calendar/.dav.toml").unwrap().unwrap().hidden);
        assert!(d("/.git/config").unwrap().unwrap().hidden);
        assert!(d("/%2Egit/config").unwrap().unwrap().hidden);
        assert!(d("/docs/report.docx.tmp").unwrap().unwrap().hidden);
        assert!(!d("/docs/report.docx").unwrap().unwrap().hidden);
    }

    #[test]
    fn strips_the_base_path() {
        assert_eq!(
            decode("/dav/alice", "/dav").unwrap().unwrap().key(),
            "alice"
        );
        assert_eq!(decode("/dav", "/dav").unwrap().unwrap().key(), "");
        assert_eq!(decode("/davx/alice", "/dav").unwrap(), None);
        assert_eq!(decode("/other", "/dav").unwrap(), None);
    }

    #[test]
    fn builds_hrefs() {
        assert_eq!(href("", "", true), "/");
        assert_eq!(href("/dav", "", true), "/dav/");
        assert_eq!(href("", "a b/c@d.ics", false), "/a%20b/c@d.ics");
        assert_eq!(href("", "alice/calendar", true), "/alice/calendar/");
        assert_eq!(href("", "x%y#z?", false), "/x%25y%23z%3F");
    }

    #[test]
    fn within() {
        assert!(is_within("a/b", "a"));
        assert!(is_within("a", "a"));
        assert!(!is_within("ab", "a"));
        assert!(is_within("x", ""));
    }

    #[test]
    fn ignored_names() {
        for n in [
            ".dav.toml",
            ".git",
            "x.tmp",
            "X.TMP",
            ".x.swp",
            "notes.txt~",
            "4913",
            "a.swx",
        ] {
            assert!(is_ignored(n), "{n}");
        }
        for n in [
            "a.ics",
            "tmp",
            ".tmp.ics"[1..].as_ref(),
            "4914",
            "swp",
            "x€€",
            "€",
            "Grüße.ics",
        ] {
            assert!(!is_ignored(n), "{n}");
        }
    }
}
