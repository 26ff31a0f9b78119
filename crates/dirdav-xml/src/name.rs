use std::borrow::Cow;
use std::fmt;

/// An XML expanded name: a namespace URI and a local name.
///
/// Property, report and element names are always compared as such pairs, never by
/// prefix. `Display` shows Clark notation, `{DAV:}getetag`, which is also how dead
/// properties are keyed in `.dav.toml`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    ns: Cow<'static, str>,
    local: Cow<'static, str>,
}

impl Name {
    /// A name from static strings, usable in `const` items.
    pub const fn new(ns: &'static str, local: &'static str) -> Self {
        Name {
            ns: Cow::Borrowed(ns),
            local: Cow::Borrowed(local),
        }
    }

    /// A name from owned strings, as read from a request.
    pub fn owned(ns: impl Into<String>, local: impl Into<String>) -> Self {
        Name {
            ns: Cow::Owned(ns.into()),
            local: Cow::Owned(local.into()),
        }
    }

    /// The namespace URI; empty for a name in no namespace.
    pub fn ns(&self) -> &str {
        &self.ns
    }

    /// The local part.
    pub fn local(&self) -> &str {
        &self.local
    }

    /// Parses Clark notation (`{ns}local`, or `local` for no namespace).
    pub fn from_clark(s: &str) -> Option<Name> {
        match s.strip_prefix('{') {
            Some(rest) => {
                let (ns, local) = rest.split_once('}')?;
                (!local.is_empty()).then(|| Name::owned(ns, local))
            }
            None => (!s.is_empty()).then(|| Name::owned("", s)),
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}{}", self.ns, self.local)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clark_round_trip() {
        let n = Name::new("DAV:", "getetag");
        assert_eq!(n.to_string(), "{DAV:}getetag");
        assert_eq!(Name::from_clark("{DAV:}getetag"), Some(n));
        assert_eq!(Name::from_clark("{}x"), Some(Name::owned("", "x")));
        assert_eq!(Name::from_clark("{DAV:}"), None);
        assert_eq!(Name::from_clark("{DAV:"), None);
    }

    #[test]
    fn static_and_owned_names_compare_equal() {
        assert_eq!(Name::new("DAV:", "prop"), Name::owned("DAV:", "prop"));
    }
}
