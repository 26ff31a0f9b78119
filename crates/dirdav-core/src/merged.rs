//! Merged collections ([`Merged`], `Registrar::merged`): one collection in a user's
//! home that shows the members of several, for clients that show one address book per
//! account. Nothing is copied and nothing is stored: the view is worked out from the
//! plugins' hooks on each request that needs it.
//!
//! A request for the merged collection itself (PROPFIND, REPORT, GET, OPTIONS) is
//! answered with a resource made for it (`Inner::merged_resource`, in `shares`) whose members,
//! changes and multiget hrefs the store resolves through its sources. A request for a
//! member is turned into a request for the member of its source, and the hrefs of the
//! answer are shown under the merged collection again.

use dirdav_plugin::{DavError, Merged};

use crate::path;

/// A merged collection as the store sees it: where it is shown and what it shows.
#[derive(Debug, Clone)]
pub(crate) struct View {
    /// Its decoded path, `<user>/<name>`.
    pub(crate) key: String,
    /// Its href.
    pub(crate) href: String,
    /// What the hook said of it.
    pub(crate) merged: Merged,
    /// The sources that exist, the one taking new members first.
    pub(crate) sources: Vec<Source>,
}

/// One merged collection.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// Its decoded path.
    pub(crate) path: String,
    /// The prefix its members' names get (`work~`); empty for the first source.
    pub(crate) label: String,
    /// The href prefix of its members as they really are (`/alice/work/`).
    pub(crate) real: String,
    /// The href prefix of its members as the merged collection shows them
    /// (`/alice/all-contacts/work~`).
    pub(crate) shown: String,
}

impl View {
    /// The source a member name belongs to, and the member's name there.
    pub(crate) fn resolve<'n>(&self, name: &'n str) -> (&Source, &'n str) {
        let labelled = self
            .sources
            .iter()
            .filter(|s| !s.label.is_empty())
            .filter_map(|s| Some((s, name.strip_prefix(s.label.as_str())?)))
            .filter(|(_, rest)| !rest.is_empty())
            .max_by_key(|(s, _)| s.label.len());
        labelled.unwrap_or((&self.sources[0], name))
    }

    /// The href a member of a source is shown with; other hrefs are returned as given.
    pub(crate) fn shown(&self, real: &str) -> String {
        self.sources
            .iter()
            .find_map(|s| {
                let rest = real.strip_prefix(&s.real)?;
                (!rest.is_empty() && !rest.contains('/')).then(|| format!("{}{rest}", s.shown))
            })
            .unwrap_or_else(|| real.to_owned())
    }

    /// Whether a decoded path is a member of one of the sources.
    pub(crate) fn holds(&self, key: &str) -> bool {
        path::split(key).is_some_and(|(parent, _)| self.sources.iter().any(|s| s.path == parent))
    }

    /// Each source's real href prefix with the prefix it is shown under, for rewriting
    /// the hrefs of an answer about one member.
    pub(crate) fn prefixes(&self) -> Vec<(String, String)> {
        self.sources
            .iter()
            .map(|s| (s.real.clone(), s.shown.clone()))
            .collect()
    }

    /// A short digest of the sources, part of the view's sync tokens: a token from
    /// before a source was added or removed is refused, and the client syncs afresh.
    pub(crate) fn digest(&self) -> String {
        let mut hasher = blake3::Hasher::new();
        for s in &self.sources {
            hasher.update(s.path.as_bytes());
            hasher.update(b"\0");
        }
        hasher.finalize().to_hex()[..8].to_owned()
    }
}

/// The label of a source: its path below the user's home, or below the root for one
/// outside it, with `/` as `-`, and `~` to end it.
pub(crate) fn label(user: &str, source: &str) -> String {
    let below = source
        .strip_prefix(user)
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or(source);
    format!("{}~", below.replace('/', "-"))
}

/// The refusal of a method that would change a merged collection itself.
pub(crate) fn refused(method: &str) -> DavError {
    DavError::forbidden(format!(
        "{method} is not possible on a merged collection: change its sources instead"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> View {
        let source = |path: &str, label: &str, real: &str, shown: &str| Source {
            path: path.into(),
            label: label.into(),
            real: real.into(),
            shown: shown.into(),
        };
        View {
            key: "alice/all".into(),
            href: "/alice/all/".into(),
            merged: Merged {
                name: "all".into(),
                displayname: None,
                sources: vec![],
                instead_for: None,
            },
            sources: vec![
                source("alice/contacts", "", "/alice/contacts/", "/alice/all/"),
                source("alice/work", "work~", "/alice/work/", "/alice/all/work~"),
                source(
                    "alice/work-old",
                    "work-old~",
                    "/alice/work-old/",
                    "/alice/all/work-old~",
                ),
            ],
        }
    }

    #[test]
    fn member_names_map_to_their_source_and_back() {
        let v = view();
        let at = |name: &str| {
            let (s, rest) = v.resolve(name);
            (s.path.clone(), rest.to_owned())
        };
        assert_eq!(at("a.vcf"), ("alice/contacts".into(), "a.vcf".into()));
        assert_eq!(at("work~b.vcf"), ("alice/work".into(), "b.vcf".into()));
        assert_eq!(
            at("work-old~c.vcf"),
            ("alice/work-old".into(), "c.vcf".into())
        );
        assert_eq!(at("work~"), ("alice/contacts".into(), "work~".into()));
        assert_eq!(v.shown("/alice/work/b.vcf"), "/alice/all/work~b.vcf");
        assert_eq!(v.shown("/alice/contacts/a.vcf"), "/alice/all/a.vcf");
        assert_eq!(v.shown("/alice/contacts/"), "/alice/contacts/");
        assert_eq!(v.shown("/bob/x.vcf"), "/bob/x.vcf");
        assert!(v.holds("alice/work/b.vcf"));
        assert!(!v.holds("alice/other/b.vcf"));
    }

    #[test]
    fn labels_are_paths_below_the_home() {
        assert_eq!(label("alice", "alice/work"), "work~");
        assert_eq!(label("alice", "alice/a/b"), "a-b~");
        assert_eq!(label("alice", "shared/team"), "shared-team~");
        assert_eq!(label("alice", "alicex/book"), "alicex-book~");
    }

    #[test]
    fn listing_depends_on_the_user_agent() {
        let mut m = view().merged;
        assert!(m.listed_for(None));
        m.instead_for = Some(vec!["AddressBook".into()]);
        assert!(m.listed_for(Some("macOS/14.5 (23F79) AddressBookCore/2498.5.1")));
        assert!(!m.listed_for(Some("DAVx5/4.4 (okhttp)")));
        assert!(!m.listed_for(None));
    }
}
