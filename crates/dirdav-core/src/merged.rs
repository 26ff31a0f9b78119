//! Merged collections ([`Merged`], `Registrar::merged`): one collection in a user's
//! home that shows the members of several, for clients that show one address book per
//! account. Nothing is copied and nothing is stored: the view is worked out from the
//! plugins' hooks on each request that needs it.
//!
//! A request for the merged collection itself (PROPFIND, REPORT, GET, OPTIONS) is
//! answered with a resource made for it ([`Inner::merged_resource`]) whose members,
//! changes and multiget hrefs the store resolves through its sources. A request for a
//! member is turned into a request for the member of its source, and the hrefs of the
//! answer are shown under the merged collection again.

use dirdav_plugin::http::StatusCode;
use dirdav_plugin::xml::{Name, ns};
use dirdav_plugin::{DavError, Merged, Principal, Resource, Store, SyncChanges};

use crate::path;
use crate::server::{Inner, labelled};

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
    label: String,
    /// The href prefix of its members as they really are (`/alice/work/`).
    real: String,
    /// The href prefix of its members as the merged collection shows them
    /// (`/alice/all-contacts/work~`).
    shown: String,
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
    fn digest(&self) -> String {
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
fn label(user: &str, source: &str) -> String {
    let below = source
        .strip_prefix(user)
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or(source);
    format!("{}~", below.replace('/', "-"))
}

impl Inner {
    /// The merged collection at `key`, if a plugin shows one there: `key` is
    /// `<user>/<name>` and no real folder or file has that path.
    pub(crate) fn merged_at(&self, key: &str) -> Option<View> {
        if self.registry.merged.is_empty() {
            return None;
        }
        let (user, name) = path::split(key)?;
        if user.is_empty() || user.contains('/') || self.index().get(key).is_some() {
            return None;
        }
        let merged = self
            .merged_for(user)
            .iter()
            .find(|m| m.name == name)?
            .clone();
        let href = self.href(key, true);
        let index = self.index();
        let mut sources: Vec<Source> = Vec::new();
        for source in &merged.sources {
            if index.dir(source).is_none() || sources.iter().any(|s| s.path == *source) {
                continue;
            }
            let label = if sources.is_empty() {
                String::new()
            } else {
                label(user, source)
            };
            if sources.iter().any(|s| s.label == label) {
                tracing::debug!(%source, %label, "merged source skipped: its label is taken");
                continue;
            }
            sources.push(Source {
                real: self.href(source, true),
                shown: format!(
                    "{href}{}",
                    path::href("", &label, false).trim_start_matches('/')
                ),
                path: source.clone(),
                label,
            });
        }
        drop(index);
        (!sources.is_empty()).then(|| View {
            key: key.to_owned(),
            href,
            merged,
            sources,
        })
    }

    /// The merged collection at the path of `resource`, if that is one (it has no
    /// index entry of its own).
    pub(crate) fn merged_of(&self, resource: &Resource) -> Option<View> {
        resource
            .is_collection
            .then(|| self.merged_at(&resource.path))
            .flatten()
    }

    /// The resource a merged collection answers as: its first source's settings (so
    /// it has that source's kind, properties and privileges), its own path, href and
    /// display name, and a sync token that changes whenever any source changes.
    pub(crate) fn merged_resource(&self, view: &View) -> Option<Resource> {
        let index = self.index();
        let rev = view
            .sources
            .iter()
            .filter_map(|s| index.dir(&s.path))
            .map(|d| d.rev)
            .max()?;
        let mut resource = self.resource_in(&index, &view.sources[0].path)?;
        drop(index);
        if let Some(name) = &view.merged.displayname {
            resource = labelled(resource, name);
        }
        resource.path = view.key.clone();
        resource.href = view.href.clone();
        resource.sync_token = Some(format!("{}.{}", self.token(rev), view.digest()));
        Some(resource)
    }

    /// The members of every source, shown under the merged collection.
    pub(crate) fn merged_members(
        &self,
        view: &View,
        keep: &dyn Fn(bool, Option<&dirdav_plugin::Summary>) -> bool,
    ) -> Vec<Resource> {
        view.sources
            .iter()
            .flat_map(|s| {
                self.members_where(&s.path, &|is_collection, summary| {
                    !is_collection && keep(false, summary)
                })
            })
            .map(|mut r| {
                r.href = view.shown(&r.href);
                r
            })
            .collect()
    }

    /// The changes of every source since a token of the merged collection, shown under
    /// it. A token from another set of sources is refused like an expired one.
    pub(crate) fn merged_changes(
        &self,
        view: &View,
        token: Option<&str>,
        limit: Option<usize>,
        principal: Option<&Principal>,
    ) -> Result<SyncChanges, DavError> {
        let digest = view.digest();
        let since = match token.map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => match t.rsplit_once('.') {
                Some((base, d)) if d == digest => Some(base.to_owned()),
                _ => {
                    return Err(DavError::forbidden(
                        "unknown or expired sync token (the merged collections changed)",
                    )
                    .condition(Name::new(ns::DAV, "valid-sync-token")));
                }
            },
        };
        let mut all = SyncChanges {
            token: String::new(),
            changed: Vec::new(),
            removed: Vec::new(),
            truncated: false,
        };
        for (i, source) in view.sources.iter().enumerate() {
            let changes = self.changes(&source.path, since.as_deref(), false, None, principal)?;
            if i == 0 {
                // The first answer's token is the oldest: a change landing while the
                // others are read is sent again next time rather than lost.
                all.token = format!("{}.{digest}", changes.token);
            }
            all.changed.extend(
                changes
                    .changed
                    .into_iter()
                    .filter(|r| !r.is_collection)
                    .map(|mut r| {
                        r.href = view.shown(&r.href);
                        r
                    }),
            );
            all.removed.extend(
                changes
                    .removed
                    .iter()
                    .filter(|h| !h.ends_with('/'))
                    .map(|h| view.shown(h)),
            );
        }
        if let Some(limit) = limit
            && all.changed.len() + all.removed.len() > limit
        {
            return Err(DavError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "more changes than the limit",
            )
            .condition(Name::new(ns::DAV, "number-of-matches-within-limits")));
        }
        Ok(all)
    }

    /// What a Depth 1 listing of a user's home shows of its merged collections for this
    /// client: the merged collections listed for it, and the paths of the sources they
    /// stand in for.
    pub(crate) fn merged_listing(
        &self,
        user: &str,
        user_agent: Option<&str>,
    ) -> (Vec<Resource>, Vec<String>) {
        if self.registry.merged.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let mut shown = Vec::new();
        let mut hidden = Vec::new();
        for merged in self.merged_for(user).iter() {
            if !merged.listed_for(user_agent) {
                continue;
            }
            let Some(view) = self.merged_at(&path::join(user, &merged.name)) else {
                continue;
            };
            if let Some(r) = self.merged_resource(&view) {
                hidden.extend(view.sources.iter().map(|s| s.path.clone()));
                shown.push(r);
            }
        }
        (shown, hidden)
    }
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
