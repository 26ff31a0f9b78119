//! Views ([`dirdav_plugin::View`]): collections in users' homes whose members plugins
//! make from the items of other collections (a birthdays calendar from address books).
//!
//! A view lives at `<user>/<name>` where the user's home exists and no real entry has
//! that path. Before a request touches it (or lists the home), the core compares its
//! sources' revisions with those it was made from; when they differ it asks the plugin
//! again for the members of the source items whose ETag changed, and compares every
//! member's name and ETag with the view's sync state: each difference gets a sequence
//! number of the index's sequence, so its tokens are the tree's tokens, and the state
//! is persisted with the index ([`crate::state`]), so they survive a restart. The
//! members' bytes are held in memory for the views in use, and made again after a
//! restart or when many views were used.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use dirdav_plugin::http::StatusCode;
use dirdav_plugin::xml::{Name, ns};
use dirdav_plugin::{
    CollectionConfig, DavError, Principal, Resource, Store, Summary, SyncChanges, View,
};

use crate::context::Inner;
use crate::path;
use crate::viewstate::{HELD, HELD_BYTES, MEMBERS, Made, Member, READ_AT_ONCE, lock};

impl Inner {
    /// The view at `key` and its user: `key` is `<user>/<name>` for a registered view's
    /// name, the user's home exists, nothing real has that path, and the view has
    /// sources for that user.
    pub(crate) fn view_at<'k>(&self, key: &'k str) -> Option<(&'k str, &View)> {
        if self.registry.views.is_empty() {
            return None;
        }
        let (user, name) = path::split(key)?;
        let view = self.registry.views.iter().find(|v| v.item.name == name)?;
        let index = self.index();
        let home = !user.is_empty() && !user.contains('/') && index.is_dir(user);
        if !home || index.get(key).is_some() {
            return None;
        }
        drop(index);
        // A view with nothing to be made from, for this user, is not there: no
        // birthdays calendar in a folder of photos.
        let sources = self.view_sources(key, user, &view.item);
        (!sources.is_empty()).then_some((user, &view.item))
    }

    /// Whether `key` is a view or lies in one.
    pub(crate) fn in_view(&self, key: &str) -> bool {
        self.view_at(key).is_some()
            || path::split(key).is_some_and(|(parent, _)| self.view_at(parent).is_some())
    }

    /// Brings the views a request touches up to date: each view of a home listed by
    /// PROPFIND, the view a request is at or in.
    pub(crate) async fn refresh_views_for(&self, key: &str, method: &str) {
        if self.registry.views.is_empty() || key.is_empty() {
            return;
        }
        // Decided from the path alone, without allocating: this runs for every request.
        let mut segments = key.splitn(3, '/');
        let home = segments.next().unwrap_or_default();
        match segments.next() {
            None if method == "PROPFIND" => {
                for view in &self.registry.views {
                    self.refresh_view(&path::join(home, &view.item.name)).await;
                }
            }
            Some(name) if self.registry.views.iter().any(|v| v.item.name == name) => {
                self.refresh_view(&path::join(home, name)).await;
            }
            _ => {}
        }
    }

    /// The collections a view is made from for its user, listed by its plugin through
    /// a store that shows what the user may read; kept while the folders, their
    /// settings and the known users stay as they are.
    fn view_sources(&self, key: &str, user: &str, view: &View) -> Arc<Vec<String>> {
        let generation = (
            self.index().folders_generation(),
            dirdav_plugin::KnownUsers::changes(),
        );
        if let Some((at, sources)) = lock(&self.views.sources).get(key)
            && *at == generation
        {
            return sources.clone();
        }
        let listed = match self.me.upgrade() {
            Some(me) => {
                let store = crate::store::Scoped::new(me, Some(Principal::new(user)));
                (view.sources)(user, &store)
            }
            None => Vec::new(),
        };
        let listed = Arc::new(listed);
        let mut sources = lock(&self.views.sources);
        if sources.len() >= HELD {
            sources.clear();
        }
        sources.insert(key.to_owned(), (generation, listed.clone()));
        listed
    }

    /// Makes the view at `key` again if its sources changed since it was made, and logs
    /// what changed of its members.
    async fn refresh_view(&self, key: &str) {
        let Some((user, view)) = self.view_at(key) else {
            return;
        };
        let sources = self.view_sources(key, user, view);
        let revisions = |inner: &Inner| -> Vec<(String, u64)> {
            let index = inner.index();
            sources
                .iter()
                .filter_map(|p| Some((p.clone(), index.dir(p)?.rev)))
                .collect()
        };
        let current = |inner: &Inner, revisions: &[(String, u64)]| {
            lock(&inner.views.made)
                .get(key)
                .filter(|m| m.sources == revisions)
                .is_some()
        };
        if current(self, &revisions(self)) {
            return;
        }
        let _making = self.views.making.lock().await;
        let revisions = revisions(self);
        if current(self, &revisions) {
            return;
        }
        let before = lock(&self.views.made).get(key).cloned();
        let items: Vec<Resource> = {
            let index = self.index();
            revisions
                .iter()
                .flat_map(|(p, _)| self.members_in(&index, p, &|is_collection, _| !is_collection))
                .collect()
        };
        // Each item's (path, ETag), once: what it gave is kept under it.
        let ids: Vec<(String, String)> = items
            .iter()
            .map(|r| (r.path.clone(), r.etag.clone().unwrap_or_default()))
            .collect();
        let mut given = HashMap::new();
        let mut to_read = Vec::new();
        for (item, id) in items.iter().zip(&ids) {
            match before.as_ref().and_then(|b| b.given.get(id)) {
                Some(kept) => {
                    given.insert(id.clone(), kept.clone());
                }
                None => to_read.push((item, id)),
            }
        }
        // A few at a time: what is read is held only until its members are made.
        for chunk in to_read.chunks(READ_AT_ONCE) {
            let paths = chunk.iter().map(|(r, _)| r.path.clone()).collect();
            let read = Store::read_many(self, paths).await;
            for ((item, id), bytes) in chunk.iter().zip(read) {
                let Some(bytes) = bytes else { continue };
                let made = (view.members)(item, &bytes)
                    .into_iter()
                    .map(|(name, bytes)| (name, Bytes::from(bytes)))
                    .collect();
                given.insert((*id).clone(), Arc::new(made));
            }
        }
        let summarize = self.registry.summarizer(Some(&view.kind));
        let mut members: BTreeMap<String, Member> = BTreeMap::new();
        'items: for id in &ids {
            for (name, bytes) in given.get(id).map_or(&[][..], |g| g.as_slice()) {
                if members.contains_key(name) || !is_member_name(name) {
                    continue;
                }
                if members.len() >= MEMBERS {
                    tracing::warn!(
                        view = key,
                        limit = MEMBERS,
                        "a view has more members than it may hold: the rest are left out"
                    );
                    break 'items;
                }
                let etag = format!("\"{}\"", &blake3::hash(bytes).to_hex()[..32]);
                let kept = before.as_ref().and_then(|b| b.members.get(name));
                let summary = match kept.filter(|m| m.etag == etag) {
                    Some(m) => m.summary.clone(),
                    None => summarize.map(|s| Arc::new(s(bytes))),
                };
                let member = Member {
                    bytes: bytes.clone(),
                    etag,
                    summary,
                };
                members.insert(name.clone(), member);
            }
        }
        self.log_view(key, &members).await;
        let bytes = members.values().map(|m| m.bytes.len()).sum();
        let made = Made {
            sources: revisions,
            members,
            given,
            when: SystemTime::now(),
            bytes,
        };
        let mut all = lock(&self.views.made);
        all.remove(key);
        let held: usize = all.values().map(|m| m.bytes).sum();
        if all.len() >= HELD || held + bytes > HELD_BYTES {
            all.clear();
        }
        all.insert(key.to_owned(), Arc::new(made));
    }

    /// Logs the differences between `members` and the view's sync state, under one new
    /// sequence number, and persists the state.
    async fn log_view(&self, key: &str, members: &BTreeMap<String, Member>) {
        let changed: Vec<(String, bool)> = {
            let logs = lock(&self.views.logs);
            let known = logs.get(key).map(|l| &l.members);
            let etag_of = |name: &str| known.and_then(|k| k.get(name));
            let mut changed: Vec<(String, bool)> = members
                .iter()
                .filter(|(name, m)| etag_of(name) != Some(&m.etag))
                .map(|(name, _)| (name.clone(), false))
                .collect();
            changed.extend(
                known
                    .into_iter()
                    .flat_map(|k| k.keys())
                    .filter(|name| !members.contains_key(*name))
                    .map(|name| (name.clone(), true)),
            );
            changed
        };
        if changed.is_empty() {
            return;
        }
        let limit = self.config.sync_log_limit.max(1);
        self.update(|index| {
            index.record_view(key, |seq| {
                let mut logs = lock(&self.views.logs);
                let log = logs.entry(key.to_owned()).or_default();
                log.rev = seq;
                log.members = members
                    .iter()
                    .map(|(name, m)| (name.clone(), m.etag.clone()))
                    .collect();
                let names: std::collections::HashSet<&str> =
                    changed.iter().map(|(name, _)| name.as_str()).collect();
                log.log
                    .retain(|(_, name, _)| !names.contains(name.as_str()));
                log.log.extend(
                    changed
                        .iter()
                        .map(|(name, removed)| (seq, name.clone(), *removed)),
                );
                if log.log.len() > limit {
                    let cut = log.log.len() - limit;
                    log.floor = log.floor.max(log.log[cut - 1].0);
                    log.log.drain(..cut);
                }
                serde_json::to_vec(&*log).unwrap_or_default()
            })
        })
        .await;
    }

    /// The settings a view answers with: its own, with its kind, and read-only.
    pub(crate) fn view_config(&self, view: &View) -> Arc<CollectionConfig> {
        let mut document = view.settings.clone();
        document.insert("kind".to_owned(), toml::Value::String(view.kind.clone()));
        Arc::new(CollectionConfig {
            kind: Some(view.kind.clone()),
            document,
            read_only: true,
            ..CollectionConfig::default()
        })
    }

    /// The view at `key` as a collection resource.
    pub(crate) fn view_resource(&self, key: &str) -> Option<Resource> {
        let (_, view) = self.view_at(key)?;
        let rev = lock(&self.views.logs).get(key).map_or(0, |l| l.rev);
        let when = lock(&self.views.made)
            .get(key)
            .map_or(SystemTime::UNIX_EPOCH, |m| m.when);
        Some(Resource {
            href: self.href(key, true),
            path: key.to_owned(),
            is_collection: true,
            etag: None,
            size: 0,
            modified: when,
            created: when,
            collection: self.view_config(view),
            sync_token: Some(self.token(rev)),
            summary: None,
        })
    }

    /// The members of the view at `key` that `keep` accepts, as made last.
    pub(crate) fn view_members(
        &self,
        key: &str,
        keep: &dyn Fn(bool, Option<&Summary>) -> bool,
    ) -> Vec<Resource> {
        let Some((_, view)) = self.view_at(key) else {
            return Vec::new();
        };
        let Some(made) = lock(&self.views.made).get(key).cloned() else {
            return Vec::new();
        };
        let config = self.view_config(view);
        made.members
            .iter()
            .filter(|(_, m)| keep(false, m.summary.as_deref()))
            .map(|(name, m)| self.view_member_resource(key, name, m, &made, &config))
            .collect()
    }

    fn view_member_resource(
        &self,
        key: &str,
        name: &str,
        member: &Member,
        made: &Made,
        config: &Arc<CollectionConfig>,
    ) -> Resource {
        let path = path::join(key, name);
        Resource {
            href: self.href(&path, false),
            path,
            is_collection: false,
            etag: Some(member.etag.clone()),
            size: member.bytes.len() as u64,
            modified: made.when,
            created: made.when,
            collection: config.clone(),
            sync_token: None,
            summary: member.summary.clone(),
        }
    }

    /// The member of a view at `key` (`<user>/<view>/<name>`), as made last.
    pub(crate) fn view_member(&self, key: &str) -> Option<Resource> {
        let (parent, name) = path::split(key)?;
        let (_, view) = self.view_at(parent)?;
        let made = lock(&self.views.made).get(parent).cloned()?;
        let member = made.members.get(name)?;
        Some(self.view_member_resource(parent, name, member, &made, &self.view_config(view)))
    }

    /// The bytes of the member of a view at `key`, as made last.
    pub(crate) fn view_bytes(&self, key: &str) -> Option<Bytes> {
        let (parent, name) = path::split(key)?;
        self.view_at(parent)?;
        let made = lock(&self.views.made).get(parent).cloned()?;
        made.members.get(name).map(|m| m.bytes.clone())
    }

    /// The views of `home` as collection resources, for its listing.
    pub(crate) fn views_listing(&self, home: &str) -> Vec<Resource> {
        self.registry
            .views
            .iter()
            .filter_map(|v| self.view_resource(&path::join(home, &v.item.name)))
            .collect()
    }

    /// The changes of the view at `key` since `token` (every member without one).
    pub(crate) fn view_changes(
        &self,
        key: &str,
        token: Option<&str>,
        limit: Option<usize>,
    ) -> Result<SyncChanges, DavError> {
        let stale =
            || DavError::forbidden("unknown or expired sync token").condition(VALID_SYNC_TOKEN);
        let since = match token.map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => match self.parse_token(t) {
                Some((seq, None)) => Some(seq),
                _ => return Err(stale()),
            },
        };
        let (rev, floor, names) = {
            let logs = lock(&self.views.logs);
            let log = logs.get(key).cloned().unwrap_or_default();
            let names: Vec<(String, bool)> = match since {
                None => log.members.keys().map(|n| (n.clone(), false)).collect(),
                Some(since) => log
                    .log
                    .iter()
                    .filter(|(seq, _, _)| *seq > since)
                    .map(|(_, name, removed)| (name.clone(), *removed))
                    .collect(),
            };
            (log.rev, log.floor, names)
        };
        if since.is_some_and(|s| s < floor) {
            return Err(stale());
        }
        if let Some(limit) = limit
            && names.len() > limit
        {
            return Err(DavError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "more changes than the limit",
            )
            .condition(Name::new(ns::DAV, "number-of-matches-within-limits")));
        }
        let mut changes = SyncChanges {
            token: self.token(rev.max(since.unwrap_or(0))),
            changed: Vec::new(),
            removed: Vec::new(),
            truncated: false,
        };
        // One look at what was made and one settings value for every member named.
        let made = lock(&self.views.made).get(key).cloned();
        let config = self.view_at(key).map(|(_, view)| self.view_config(view));
        for (name, removed) in names {
            let member = made
                .as_ref()
                .zip(config.as_ref())
                .and_then(|(made, config)| {
                    let m = made.members.get(&name)?;
                    Some(self.view_member_resource(key, &name, m, made, config))
                });
            match member {
                Some(member) if !removed => changes.changed.push(member),
                _ => changes
                    .removed
                    .push(self.href(&path::join(key, &name), false)),
            }
        }
        Ok(changes)
    }
}

const VALID_SYNC_TOKEN: Name = Name::new(ns::DAV, "valid-sync-token");

/// A member's name must be one plain path segment the tree could hold.
fn is_member_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('/')
        && !matches!(name, "." | "..")
        && !path::is_ignored(name)
}
