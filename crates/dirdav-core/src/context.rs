//! The context every method runs in: the server's shared state ([`Inner`]), one
//! resolved request ([`Ctx`]), the write locks, and what builds resources from the
//! index. Method modules depend on this, never on the dispatcher above them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use dirdav_plugin::http::{HeaderValue, Method, StatusCode};
use dirdav_plugin::{CollectionConfig, DavError, Depth, Principal, Registry, Resource, WriteEvent};
use http_body_util::BodyExt;

use crate::config::Config;
use crate::index::{Entry, Index};
use crate::path::{self, DavPath};
use crate::state::State;

/// Serialises writes: item writes hold the tree lock shared and their collection's lock
/// exclusively; changes to the folder structure (MKCOL, folder DELETE, COPY, MOVE)
/// hold the tree lock exclusively.
#[derive(Debug, Default)]
pub(crate) struct Locks {
    tree: tokio::sync::RwLock<()>,
    collections: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A held write lock.
#[derive(Debug)]
#[allow(dead_code)] // held for its Drop
pub(crate) enum WriteGuard<'a> {
    Item(
        tokio::sync::RwLockReadGuard<'a, ()>,
        tokio::sync::OwnedMutexGuard<()>,
    ),
    Tree(tokio::sync::RwLockWriteGuard<'a, ()>),
}

impl Locks {
    pub(crate) async fn item(&self, collection: &str) -> WriteGuard<'_> {
        let tree = self.tree.read().await;
        let lock = {
            let mut map = self.collections.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(collection.to_owned()).or_default().clone()
        };
        WriteGuard::Item(tree, lock.lock_owned().await)
    }

    pub(crate) async fn tree(&self) -> WriteGuard<'_> {
        WriteGuard::Tree(self.tree.write().await)
    }
}

/// The shared state behind a [`Server`](crate::Server).
#[derive(Debug)]
pub(crate) struct Inner {
    /// Itself, for the store's [`Store::request`](dirdav_plugin::Store::request), which runs a request as `dispatch`
    /// does.
    pub(crate) me: std::sync::Weak<Inner>,
    pub(crate) config: Config,
    pub(crate) root: PathBuf,
    /// The root, opened: files are opened through it, never through a link.
    pub(crate) root_dir: crate::beneath::RootDir,
    pub(crate) registry: Arc<Registry>,
    pub(crate) index: RwLock<Index>,
    pub(crate) locks: Locks,
    pub(crate) dav_header: HeaderValue,
    pub(crate) state: Option<Arc<State>>,
    pub(crate) instance: String,
    /// Re-read folders before answering (no watcher, or it failed).
    pub(crate) on_request: std::sync::atomic::AtomicBool,
    pub(crate) watcher: std::sync::Mutex<Option<notify::RecommendedWatcher>>,
    /// Principals whose first-request hooks have run.
    pub(crate) welcomed: std::sync::Mutex<std::collections::HashSet<Principal>>,
    /// PUTs receiving their bodies: what they bring counts in [`Store::usage`](dirdav_plugin::Store::usage).
    pub(crate) uploads: crate::uploads::Uploads,
    /// Whole settings of folders whose settings files are large.
    pub(crate) dead: Arc<crate::deadcache::DeadCache>,
    /// Each user's shares and merged collections, as the plugins' hooks last listed
    /// them ([`Inner::shares_for`]).
    pub(crate) homes: crate::homes::HomeViews,
    /// After a warm start, the folders compared with the tree so far
    /// ([`Inner::settle_for`]).
    pub(crate) settling: crate::settle::Settling,
    /// The views' sync states and what was made of the views in use.
    pub(crate) views: crate::viewstate::Views,
}

/// One request, resolved.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) parts: http::request::Parts,
    pub(crate) path: DavPath,
    pub(crate) key: String,
    pub(crate) principal: Option<Principal>,
    /// For a request through a share: the collection it shows and the display name it
    /// shows it with.
    pub(crate) share_label: Option<(String, String)>,
    /// For a request to a merged collection itself: what it merges.
    pub(crate) merged: Option<crate::merged::View>,
    /// The request is at or in a view ([`dirdav_plugin::View`]).
    pub(crate) computed: bool,
}

impl Ctx {
    pub(crate) fn method(&self) -> &Method {
        &self.parts.method
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Depth` header; `None` when absent, 400 when malformed.
    pub(crate) fn depth(&self) -> Result<Option<Depth>, DavError> {
        match self.header("depth").map(str::trim) {
            None => Ok(None),
            Some("0") => Ok(Some(Depth::Zero)),
            Some("1") => Ok(Some(Depth::One)),
            Some(v) if v.eq_ignore_ascii_case("infinity") => Ok(Some(Depth::Infinity)),
            Some(v) => Err(DavError::bad_request(format!("invalid Depth {v:?}"))),
        }
    }
}

#[cfg(debug_assertions)]
thread_local! {
    /// The index guards this thread holds (debug builds).
    static INDEX_GUARDS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// A guard of the index ([`Inner::index`], [`Inner::index_mut`]). A thread that takes
/// the index while it holds it deadlocks as soon as a writer waits between the two
/// (std's lock lets no new reader past a waiting writer), which happens one run in
/// many; so in debug builds taking a second guard panics at once, and every test that
/// does it fails every time.
pub(crate) struct IndexGuard<G>(G);

impl<G> IndexGuard<G> {
    fn take(take: impl FnOnce() -> G) -> IndexGuard<G> {
        #[cfg(debug_assertions)]
        INDEX_GUARDS.with(|held| {
            assert_eq!(
                held.get(),
                0,
                "this thread takes the index while it holds it: a deadlock once a writer waits"
            );
            held.set(1);
        });
        IndexGuard(take())
    }
}

impl<G> Drop for IndexGuard<G> {
    fn drop(&mut self) {
        #[cfg(debug_assertions)]
        INDEX_GUARDS.with(|held| held.set(0));
    }
}

impl<G: std::ops::Deref> std::ops::Deref for IndexGuard<G> {
    type Target = G::Target;

    fn deref(&self) -> &G::Target {
        &self.0
    }
}

impl<G: std::ops::DerefMut> std::ops::DerefMut for IndexGuard<G> {
    fn deref_mut(&mut self) -> &mut G::Target {
        &mut self.0
    }
}

impl Inner {
    pub(crate) fn index(&self) -> IndexGuard<RwLockReadGuard<'_, Index>> {
        IndexGuard::take(|| self.index.read().unwrap_or_else(|p| p.into_inner()))
    }

    pub(crate) fn index_mut(&self) -> IndexGuard<RwLockWriteGuard<'_, Index>> {
        IndexGuard::take(|| self.index.write().unwrap_or_else(|p| p.into_inner()))
    }

    /// Changes the index and persists what changed before returning. A failure to
    /// persist is logged, not returned: the change is on disk, the index in memory is
    /// right, and the next start reconciles the state with the tree.
    pub(crate) async fn update<R>(&self, change: impl FnOnce(&mut Index) -> R) -> R {
        let (result, ops, seq, mark) = {
            let mut index = self.index_mut();
            let result = change(&mut index);
            let ops = index.take_ops();
            let mark = (!ops.is_empty() && self.state.is_some()).then(|| index.begin_save());
            (result, ops, index.seq(), mark)
        };
        if let Some(state) = self.state.clone()
            && let Some(mark) = mark
        {
            let persisted = tokio::task::spawn_blocking(move || state.apply(&ops, seq)).await;
            let failed = match persisted {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            if let Some(error) = &failed {
                tracing::error!(error, "persisting the index failed");
            }
            let ok = failed.is_none();
            // Summaries and log entries of what was saved may now leave memory; after a
            // failure none does (the store may lack them).
            self.index().end_save(mark, ok);
        }
        result
    }

    /// Lets go of the summaries of the folders used longest ago when more are held than
    /// [`Config::index_cache`](crate::Config::index_cache) (after a request that
    /// read some back, or a change once saved).
    pub(crate) fn trim_working_set(&self) {
        if self.index().over_limit() {
            self.index_mut().let_go(None);
        }
    }

    /// The file-system path of a key.
    pub(crate) fn fs_path(&self, key: &str) -> PathBuf {
        let mut p = self.root.clone();
        p.extend(key.split('/').filter(|s| !s.is_empty()));
        p
    }

    pub(crate) fn href(&self, key: &str, is_collection: bool) -> String {
        match PREFIX.try_with(|p| format!("{p}{}", self.config.base_path)) {
            Ok(base) => path::href(&base, key, is_collection),
            Err(_) => path::href(&self.config.base_path, key, is_collection),
        }
    }

    /// A folder's settings for the resources built from it: as the index holds them,
    /// and for a large settings file (held without its dead properties) with a loader
    /// that reads them back, through the cache, when a property asks
    /// ([`dirdav_plugin::DeadLoader`]): listings that name no dead property never read
    /// the file.
    fn settings_of(&self, key: &str, dir: &crate::index::DirEntry) -> Arc<CollectionConfig> {
        if !dir.heavy {
            return dir.config.clone();
        }
        dir.served
            .get_or_init(|| {
                let (cache, folder, key, tag) = (
                    self.dead.clone(),
                    self.fs_path(key),
                    key.to_owned(),
                    dir.config_tag,
                );
                let loader = dirdav_plugin::DeadLoader::new(move || {
                    cache.get(&key, tag, || {
                        let (config, tag, _) = crate::reconcile::read_config(&folder);
                        (config, tag)
                    })
                });
                Arc::new(CollectionConfig {
                    dead: loader,
                    ..(*dir.config).clone()
                })
            })
            .clone()
    }

    /// The resource view of an index entry.
    pub(crate) fn resource_in(&self, index: &Index, key: &str) -> Option<Resource> {
        let entry = index.get(key)?;
        let parent = match entry {
            Entry::Dir(_) => None,
            Entry::File(_) => {
                let folder = path::split(key).map_or("", |(p, _)| p);
                Some(self.settings_of(folder, index.dir(folder)?))
            }
        };
        let summary = match entry {
            Entry::File(f) if f.summary.is_some() => {
                index.use_folder(path::split(key).map_or("", |(p, _)| p));
                index.summary(key, f)
            }
            _ => None,
        };
        Some(self.resource_of(key.to_owned(), entry, parent, summary))
    }

    /// The members of a folder that `keep` accepts, built from the entries the index
    /// lists, without looking each up again.
    pub(crate) fn members_in(
        &self,
        index: &Index,
        path: &str,
        keep: &dyn Fn(bool, Option<&dirdav_plugin::Summary>) -> bool,
    ) -> Vec<Resource> {
        self.members_page(index, path, None, usize::MAX, keep)
    }

    /// Like [`Inner::members_in`], but at most `limit` members, starting after the
    /// member at `after`: a long folder a page at a time.
    pub(crate) fn members_page(
        &self,
        index: &Index,
        path: &str,
        after: Option<&str>,
        limit: usize,
        keep: &dyn Fn(bool, Option<&dirdav_plugin::Summary>) -> bool,
    ) -> Vec<Resource> {
        let Some(folder) = index.dir(path) else {
            return Vec::new();
        };
        let config = self.settings_of(path, folder);
        index.use_folder(path);
        index
            .members_after(path, after)
            .filter(|(k, e)| match e {
                Entry::Dir(_) => keep(true, None),
                Entry::File(f) => match f.summary.known() {
                    Some(summary) => keep(false, summary.map(|s| &**s)),
                    None => keep(false, index.summary(k, f).as_deref()),
                },
            })
            .take(limit)
            .map(|(k, e)| {
                let summary = match e {
                    Entry::File(f) => index.summary(&k, f),
                    Entry::Dir(_) => None,
                };
                self.resource_of(k, e, Some(config.clone()), summary)
            })
            .collect()
    }

    /// The resource view of an entry already at hand; `parent` is the configuration of
    /// the folder a file sits in (unused for a folder, which has its own), `summary` a
    /// file's summary ([`Index::summary`]).
    fn resource_of(
        &self,
        key: String,
        entry: &Entry,
        parent: Option<Arc<CollectionConfig>>,
        summary: Option<Arc<dirdav_plugin::Summary>>,
    ) -> Resource {
        match entry {
            Entry::Dir(d) => Resource {
                href: self.href(&key, true),
                collection: self.settings_of(&key, d),
                path: key,
                is_collection: true,
                etag: None,
                size: 0,
                modified: d.modified,
                created: d.created,
                sync_token: Some(self.token(d.rev)),
                summary: None,
            },
            Entry::File(f) => Resource {
                href: self.href(&key, false),
                path: key,
                is_collection: false,
                etag: Some(f.etag.to_string()),
                size: f.size,
                modified: f.modified,
                created: f.created,
                collection: parent.unwrap_or_default(),
                sync_token: None,
                summary,
            },
        }
    }

    /// created, changed or removed, `.dav.toml` files included.
    pub(crate) fn notify(&self, ctx: &Ctx, destination: Option<String>, paths: Vec<String>) {
        self.notify_event(&WriteEvent {
            method: ctx.method().clone(),
            target: ctx.key.clone(),
            destination,
            paths,
            principal: ctx.principal.clone(),
        });
    }

    /// Tells the observers about a change.
    pub(crate) fn notify_event(&self, event: &WriteEvent) {
        for o in &self.registry.observers {
            (o.item)(event);
        }
    }

    /// The methods a resource allows, for `Allow` and 405 answers.
    pub(crate) fn allow(&self, resource: Option<&Resource>) -> String {
        let mut methods: Vec<&str> = match resource {
            None => vec!["OPTIONS", "PUT", "MKCOL"],
            // MKCOL is listed on collections, where clients look for it to learn that
            // they may make collections (in a home, a new calendar): it makes members.
            Some(r) if r.is_collection => {
                vec![
                    "OPTIONS",
                    "GET",
                    "HEAD",
                    "DELETE",
                    "PROPFIND",
                    "PROPPATCH",
                    "COPY",
                    "MOVE",
                    "MKCOL",
                ]
            }
            Some(_) => vec![
                "OPTIONS",
                "GET",
                "HEAD",
                "PUT",
                "DELETE",
                "PROPFIND",
                "PROPPATCH",
                "COPY",
                "MOVE",
            ],
        };
        if let Some(r) = resource
            && !self.registry.reports_for(r).is_empty()
        {
            methods.push("REPORT");
        }
        methods.extend(
            self.registry
                .methods
                .keys()
                .filter(|m| !self.registry.unlisted_methods.contains(*m))
                .map(String::as_str),
        );
        methods.join(", ")
    }

    pub(crate) async fn read_xml_body(&self, body: axum::body::Body) -> Result<Bytes, DavError> {
        let limited = http_body_util::Limited::new(body, self.config.max_xml_body);
        match limited.collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(DavError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large",
            )),
            Err(e) => Err(crate::body::body_error(&*e)),
        }
    }
}

tokio::task_local! {
    /// For a request through a reverse proxy that strips a path prefix: the prefix
    /// (`X-Forwarded-Prefix`), put in front of every href of the answer.
    pub(crate) static PREFIX: Arc<str>;
}
