//! Shares and merged collections as the server resolves them: a path in a user's home
//! that names one is turned into the path it shows, and the answer's hrefs are shown
//! under the home again.

use std::sync::Arc;

use axum::response::Response;
use bytes::Bytes;
use dirdav_plugin::http::{HeaderValue, StatusCode, header};
use dirdav_plugin::xml::{Name, ns};
use dirdav_plugin::{DavError, Principal, Resource, Store, SyncChanges};
use http_body_util::BodyExt;

use crate::context::{Inner, PREFIX};
use crate::merged::{Source, View, label};
use crate::path::{self, DavPath};

impl Inner {
    /// Decodes an href or absolute URL (a `Destination`, an `If` tag) to a path. Only
    /// the path counts; it may arrive unencoded (Apple clients send spaces as they are).
    pub(crate) fn decode_href(&self, href: &str) -> Result<Option<DavPath>, DavError> {
        let href = href.trim();
        let path = match href.split_once("://") {
            Some((scheme, rest))
                if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
            {
                rest.find('/').map_or("/", |i| &rest[i..])
            }
            Some(_) => {
                return Err(DavError::bad_request(
                    "href must be an http(s) URL or an absolute path",
                ));
            }
            None => href,
        };
        let path = path.split(['?', '#']).next().unwrap_or("");
        if !path.starts_with('/') {
            return Err(DavError::bad_request(
                "href must be an absolute path or URL",
            ));
        }
        // Behind a proxy that strips a prefix, clients send hrefs with it.
        let unprefixed = PREFIX
            .try_with(|p| path.strip_prefix(&**p).map(str::to_owned))
            .ok()
            .flatten()
            .filter(|rest| rest.starts_with('/'));
        let path = unprefixed.as_deref().unwrap_or(path);
        let mut path = path::decode(path, &self.config.base_path)?;
        if let Some(p) = path.as_mut()
            && self.unshare(p).is_none()
        {
            self.unmerge(p);
        }
        Ok(path)
    }

    /// until a folder changes (or the known users do): a home's listing then costs what
    /// the home holds, not every collection of the server.
    pub(crate) fn shares_for(&self, user: &str) -> Arc<Vec<dirdav_plugin::Share>> {
        let generation = self.home_generation();
        self.homes
            .shares(user, generation, || self.registry.shares_for(user, self))
    }

    /// The merged collections of `user`'s home ([`Registry::merged_for`](dirdav_plugin::Registry::merged_for)), kept as
    /// [`Inner::shares_for`] keeps shares.
    pub(crate) fn merged_for(&self, user: &str) -> Arc<Vec<dirdav_plugin::Merged>> {
        let generation = self.home_generation();
        self.homes
            .merged(user, generation, || self.registry.merged_for(user, self))
    }

    /// What the plugins' views of homes follow from: the folders and the known users.
    fn home_generation(&self) -> crate::homes::Generation {
        (
            self.index().folders_generation(),
            dirdav_plugin::KnownUsers::changes(),
        )
    }

    /// If `path` lies below a share in a user's home ([`Share`](dirdav_plugin::Share)), makes it the path it
    /// shows and returns how to show hrefs of the answer.
    pub(crate) fn unshare(&self, path: &mut DavPath) -> Option<Shown> {
        if path.hidden || path.segments.len() < 2 || self.registry.shares.is_empty() {
            return None;
        }
        let member = format!("{}/{}", path.segments[0], path.segments[1]);
        if self.index().get(&member).is_some() {
            return None;
        }
        let share = self
            .shares_for(&path.segments[0])
            .iter()
            .find(|s| s.name == path.segments[1])?
            .clone();
        let shown = Shown {
            prefixes: vec![(self.href(&share.target, true), self.href(&member, true))],
            label: share.displayname.map(|d| (share.target.clone(), d)),
        };
        path.segments
            .splice(0..2, share.target.split('/').map(str::to_owned));
        Some(shown)
    }

    /// If `path` names a member of a merged collection ([`dirdav_plugin::Merged`]), makes it the path
    /// of that member in its source and returns how to show hrefs of the answer.
    pub(crate) fn unmerge(&self, path: &mut DavPath) -> Option<Shown> {
        if path.hidden || path.segments.len() != 3 || self.registry.merged.is_empty() {
            return None;
        }
        let view = self.merged_at(&format!("{}/{}", path.segments[0], path.segments[1]))?;
        let (source, name) = view.resolve(&path.segments[2]);
        // The name below the label is checked as any segment is: `work~.dav.toml` is
        // a dotfile and `work~..` no name at all.
        if matches!(name, "." | "..") || crate::path::is_ignored(name) {
            path.hidden = true;
        }
        let mut segments: Vec<String> = source.path.split('/').map(str::to_owned).collect();
        segments.push(name.to_owned());
        path.segments = segments;
        Some(Shown {
            prefixes: view.prefixes(),
            label: None,
        })
    }

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

/// A collection as a share shows it: with the share's display name.
pub(crate) fn labelled(mut resource: Resource, label: &str) -> Resource {
    let mut config = (*resource.collection).clone();
    config.document.insert(
        "displayname".to_owned(),
        toml::Value::String(label.to_owned()),
    );
    resource.collection = Arc::new(config);
    resource
}

/// How the hrefs of an answer given through a share or a merged collection are shown:
/// each real href prefix is replaced by the one it is shown under.
#[derive(Debug)]
pub(crate) struct Shown {
    /// (real prefix, shown prefix) pairs.
    prefixes: Vec<(String, String)>,
    pub(crate) label: Option<(String, String)>,
}

impl Shown {
    fn show(&self, href: &str) -> Option<String> {
        self.prefixes.iter().find_map(|(real, shown)| {
            href.strip_prefix(real.as_str())
                .map(|rest| format!("{shown}{rest}"))
        })
    }

    /// Rewrites the hrefs of an XML answer (multistatus, `DAV:error`) and `Location`.
    pub(crate) async fn rewrite(&self, response: Response) -> Response {
        let (mut parts, body) = response.into_parts();
        if let Some(location) = parts.headers.get(header::LOCATION)
            && let Some(shown) = location.to_str().ok().and_then(|l| self.show(l))
            && let Ok(v) = HeaderValue::from_str(&shown)
        {
            parts.headers.insert(header::LOCATION, v);
        }
        let xml = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.contains("xml"));
        if !xml {
            return Response::from_parts(parts, body);
        }
        let bytes = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => Bytes::new(),
        };
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        for (real, shown) in &self.prefixes {
            text = text.replace(&format!("href>{real}"), &format!("href>{shown}"));
        }
        parts.headers.remove(header::CONTENT_LENGTH);
        Response::from_parts(parts, axum::body::Body::from(text))
    }
}
