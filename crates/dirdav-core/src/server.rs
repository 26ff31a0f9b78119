//! The server: configuration, the builder that registers plugins, and the dispatcher
//! that resolves a request to a resource and runs its method.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use axum::extract::{Request, State as AxumState};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use dirdav_plugin::http::{HeaderValue, Method, StatusCode, header};
use dirdav_plugin::xml::{Name, ns};
use dirdav_plugin::{
    BoxFuture, CollectionConfig, Configs, DavError, DavRequest, Depth, LockCheck, MethodCheck,
    NewCollection, Plugin, Principal, PropContext, PropStat, Registry, Resource, Store,
    SyncChanges, Touch, WriteEvent,
};
use http_body_util::BodyExt;

use crate::body::StallTimeout;
use crate::index::{Change, Entry, Index};
use crate::methods;
use crate::path::{self, DavPath};
use crate::props::{CoreProps, PropRequest, propstats};
use crate::reconcile::{read_all, scan};
use crate::state::{Loaded, State, StateError};
use crate::storage::blocking;

/// After a restart the sequence number jumps by this much, so that no number a client
/// may have seen just before a crash (and that was not yet persisted) is ever reused.
const SEQ_GAP: u64 = 1_000_000;

const VALID_SYNC_TOKEN: Name = Name::new(ns::DAV, "valid-sync-token");
const TOKEN_PREFIX: &str = "urn:dirdav:sync:";

/// How edits made outside the server (git, Syncthing, editors) are noticed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Watch {
    /// Watch the tree with the platform's notification API; where that fails (inotify
    /// limits, network file systems), fall back to [`Watch::OnRequest`].
    Auto,
    /// Re-read a collection's folder before answering PROPFIND or REPORT on it.
    OnRequest,
    /// Notice outside edits only at startup.
    Off,
}

/// What the core needs to know to serve a tree.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// The folder served.
    pub root: PathBuf,
    /// A URL prefix the server lives under behind a reverse proxy (`/dav`), or empty.
    pub base_path: String,
    /// The largest request body accepted, in bytes (PUT); larger gets 413.
    pub max_body: u64,
    /// The largest XML request body accepted, in bytes; larger gets 413.
    pub max_xml_body: usize,
    /// The most resources a `Depth: infinity` PROPFIND answers; past it, 403 with
    /// `DAV:propfind-finite-depth` (RFC 4918 §9.1).
    pub max_propfind_infinity: usize,
    /// Where the index and sync log persist, outside the tree. `None` keeps them in
    /// memory only: every restart rebuilds them and invalidates clients' sync tokens.
    pub state_dir: Option<PathBuf>,
    /// How many changes each collection's sync log keeps; a token older than that is
    /// answered with 403 `DAV:valid-sync-token` and the client syncs in full.
    pub sync_log_limit: usize,
    /// How outside edits are noticed.
    pub watch: Watch,
    /// How long a request body may stay silent before the request is answered 408.
    pub body_timeout: Duration,
    /// The largest value one property may be set to, in bytes of XML; larger gets
    /// 507 for that property (RFC 4918 §9.2.1).
    pub max_property: usize,
    /// The largest a folder's `.dav.toml` may grow through PROPPATCH, COPY or MOVE,
    /// in bytes; an edit that would grow it past this gets 507. It is read into
    /// memory whenever the folder's properties are.
    pub max_settings: usize,
}

impl Config {
    /// Defaults for a tree: no base path, 256 MiB bodies, 4 MiB XML, 30 s of body
    /// silence, 10,000 resources for `Depth: infinity`, 64 KiB per property value,
    /// 1 MiB per `.dav.toml`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Config {
            root: root.into(),
            base_path: String::new(),
            max_body: 256 * 1024 * 1024,
            max_xml_body: 4 * 1024 * 1024,
            max_propfind_infinity: 10_000,
            state_dir: None,
            sync_log_limit: 10_000,
            watch: Watch::Auto,
            body_timeout: Duration::from_secs(30),
            max_property: 64 * 1024,
            max_settings: 1024 * 1024,
        }
    }

    /// Sets the largest value one property may be set to.
    #[must_use]
    pub fn max_property(mut self, bytes: usize) -> Self {
        self.max_property = bytes;
        self
    }

    /// Sets the largest a `.dav.toml` may grow through the server's edits.
    #[must_use]
    pub fn max_settings(mut self, bytes: usize) -> Self {
        self.max_settings = bytes;
        self
    }

    /// Persists the index and sync log in this folder (created if missing).
    #[must_use]
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Sets how outside edits are noticed.
    #[must_use]
    pub fn watch(mut self, watch: Watch) -> Self {
        self.watch = watch;
        self
    }

    /// Sets how long a request body may stay silent mid-transfer (408 after that).
    #[must_use]
    pub fn body_timeout(mut self, limit: Duration) -> Self {
        self.body_timeout = limit;
        self
    }

    /// Sets how many changes each collection's sync log keeps.
    #[must_use]
    pub fn sync_log_limit(mut self, n: usize) -> Self {
        self.sync_log_limit = n;
        self
    }

    /// Sets the base path (normalised to `/prefix` without a trailing slash).
    #[must_use]
    pub fn base_path(mut self, base: &str) -> Self {
        let trimmed = base.trim_matches('/');
        self.base_path = if trimmed.is_empty() {
            String::new()
        } else {
            format!("/{trimmed}")
        };
        self
    }

    /// Sets the largest accepted request body.
    #[must_use]
    pub fn max_body(mut self, bytes: u64) -> Self {
        self.max_body = bytes;
        self
    }

    /// Sets how many resources a `Depth: infinity` PROPFIND may answer.
    #[must_use]
    pub fn max_propfind_infinity(mut self, n: usize) -> Self {
        self.max_propfind_infinity = n;
        self
    }
}

/// Why a server could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The root is missing or not a folder.
    #[error("cannot serve {path}: {source}")]
    Root {
        /// The configured root.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Two plugins registered the same name.
    #[error(transparent)]
    Registry(#[from] dirdav_plugin::RegistryError),
    /// The state directory is unusable (even after rebuilding it) or lies inside the tree.
    #[error("state directory {path}: {reason}")]
    State {
        /// The configured state directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// Collects the configuration and the plugins; [`ServerBuilder::build`] indexes the tree.
#[must_use]
pub struct ServerBuilder {
    config: Config,
    plugins: Vec<Box<dyn Plugin>>,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("config", &self.config)
            .field(
                "plugins",
                &self.plugins.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl ServerBuilder {
    /// Registers a plugin. Order does not matter; conflicts fail the build.
    pub fn plugin(mut self, plugin: impl Plugin) -> Self {
        self.plugins.push(Box::new(plugin));
        self
    }

    /// Registers the plugins and walks the tree to build the index.
    pub async fn build(self) -> Result<Server, BuildError> {
        let root_err = |source| BuildError::Root {
            path: self.config.root.clone(),
            source,
        };
        let root = std::fs::canonicalize(&self.config.root).map_err(root_err)?;
        if !root.is_dir() {
            return Err(root_err(std::io::Error::other("not a folder")));
        }
        let mut registry = Registry::default();
        registry.register(&CoreProps);
        for plugin in &self.plugins {
            registry.register(plugin.as_ref());
        }
        if registry.locks.is_none() {
            registry.register(&crate::props::NoLocks);
        }
        registry.check()?;
        let started = std::time::Instant::now();
        let (state, loaded) = match &self.config.state_dir {
            Some(dir) => {
                let (state, loaded) = open_state(dir, &root)?;
                (Some(Arc::new(state)), loaded)
            }
            None => (None, Loaded::default()),
        };
        let fresh = loaded.instance.is_empty();
        let instance = if fresh {
            new_instance(&root)
        } else {
            loaded.instance.clone()
        };
        let limit = self.config.sync_log_limit;
        let mut index = if fresh {
            Index::new(0, limit)
        } else {
            let seq = loaded.seq + SEQ_GAP;
            Index::from_loaded(loaded, seq, limit)
        };
        index.set_quiet(fresh);
        let registry = Arc::new(registry);
        // A warm start answers at once from the stored index: the tree is checked for
        // what changed while the server was down in the background, folder by folder,
        // and a request first checks the folders it touches ([`Inner::settle_for`]).
        let settle_later = !fresh;
        let mut index = if settle_later {
            tracing::info!(
                root = %root.display(),
                entries = index.len(),
                warm = true,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "loaded the index; checking the tree for changes in the background"
            );
            index
        } else {
            self.scan_whole(&root, index, &registry, started).await?
        };
        index.set_quiet(false);
        let ops = index.take_ops();
        if let Some(state) = &state {
            let (state, instance, seq) = (state.clone(), instance.clone(), index.seq());
            let state_dir = self.config.state_dir.clone().unwrap_or_default();
            tokio::task::spawn_blocking(move || {
                state.set_meta(&instance, seq)?;
                state.apply(&ops, seq)
            })
            .await
            .map_err(|e| state_err(&state_dir, e))?
            .map_err(|e| state_err(&state_dir, e))?;
        }
        // Extended MKCOL (RFC 5689 §3.1) is the core's own.
        let mut tokens = vec!["1", "3", "extended-mkcol"];
        tokens.extend(registry.compliance.iter().copied());
        let dav_header =
            HeaderValue::from_str(&tokens.join(", ")).unwrap_or(HeaderValue::from_static("1, 3"));
        let watch = self.config.watch;
        let root_dir = crate::beneath::RootDir::open(&root).map_err(|source| BuildError::Root {
            path: root.clone(),
            source,
        })?;
        let inner = Arc::new_cyclic(|me| Inner {
            me: me.clone(),
            config: self.config,
            root,
            root_dir,
            registry,
            index: RwLock::new(index),
            locks: Locks::default(),
            dav_header,
            state,
            instance,
            on_request: std::sync::atomic::AtomicBool::new(watch == Watch::OnRequest),
            watcher: std::sync::Mutex::new(None),
            welcomed: std::sync::Mutex::new(std::collections::HashSet::new()),
            uploads: crate::uploads::Uploads::default(),
            dead: Arc::default(),
            homes: crate::homes::HomeViews::default(),
            settling: crate::settle::Settling::new(settle_later),
        });
        match watch {
            Watch::Auto => match crate::watch::spawn(&inner) {
                Ok(watcher) => {
                    tracing::info!("watching the tree for edits made outside the server");
                    *inner.watcher.lock().unwrap_or_else(|p| p.into_inner()) = Some(watcher);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch the tree; re-reading folders before answering instead");
                    inner
                        .on_request
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                }
            },
            Watch::OnRequest => tracing::info!("re-reading folders before answering (no watcher)"),
            Watch::Off => tracing::info!("outside edits are noticed at startup only"),
        }
        if settle_later {
            tokio::spawn(Inner::settle_all(Arc::downgrade(&inner), started));
        }
        Ok(Server { inner })
    }

    /// Indexes the whole tree before the server answers (a cold start: nothing stored),
    /// removing temporaries an earlier run left.
    async fn scan_whole(
        &self,
        root: &Path,
        mut index: Index,
        registry: &Arc<Registry>,
        started: std::time::Instant,
    ) -> Result<Index, BuildError> {
        let walk_root = root.to_path_buf();
        let walk_registry = registry.clone();
        tokio::task::spawn_blocking(move || {
            let scan = scan(&walk_root, "", true);
            crate::storage::remove_stale_temporaries(&scan.temporaries, true);
            let hashes = read_all(scan.to_read(&index, &walk_registry));
            let hashed = hashes.len();
            scan.apply(&mut index, &hashes);
            (index, hashed)
        })
        .await
        .map_err(|e| BuildError::Root {
            path: self.config.root.clone(),
            source: std::io::Error::other(e),
        })
        .map(|(index, hashed)| {
            tracing::info!(
                root = %root.display(),
                entries = index.len(),
                hashed,
                warm = false,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "indexed the tree"
            );
            index
        })
    }
}

fn state_err(dir: &Path, e: impl std::fmt::Display) -> BuildError {
    BuildError::State {
        path: dir.to_owned(),
        reason: e.to_string(),
    }
}

/// Opens the state in `dir`, rebuilding it when it is unreadable, of another format or
/// corrupt: it is derived data, and the tree is the truth. A state another dirdav holds
/// is refused, never rebuilt: removing it would take the running server's state (and
/// every sync token it gave out) with it.
fn open_state(dir: &Path, root: &Path) -> Result<(State, Loaded), BuildError> {
    std::fs::create_dir_all(dir).map_err(|e| state_err(dir, e))?;
    let canonical = std::fs::canonicalize(dir).map_err(|e| state_err(dir, e))?;
    if canonical.starts_with(root) {
        return Err(state_err(
            dir,
            "it lies inside the served tree; choose a folder outside it",
        ));
    }
    let opened = State::open(dir).and_then(|state| match state.load() {
        Ok(loaded) => Ok((state, loaded)),
        Err(e) => {
            tracing::warn!(error = %e, "state unreadable; rebuilding it from the tree");
            Ok((state.recreate()?, Loaded::default()))
        }
    });
    match opened {
        Ok(ok) => Ok(ok),
        Err(StateError::InUse) => Err(state_err(
            dir,
            "another dirdav is using it; stop that one, or give this one its own --state-dir",
        )),
        Err(e) => {
            tracing::warn!(error = %e, "state database damaged; rebuilding it from the tree");
            let _ = std::fs::remove_file(dir.join("index.redb"));
            let state = State::open(dir).map_err(|e: StateError| state_err(dir, e))?;
            Ok((state, Loaded::default()))
        }
    }
}

/// A new, practically unique id for a freshly built state: tokens of another build of
/// the state are never mistaken for ours.
fn new_instance(root: &Path) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seed = format!(
        "{}|{}|{}",
        root.display(),
        now.as_nanos(),
        std::process::id()
    );
    blake3::hash(seed.as_bytes()).to_hex()[..12].to_owned()
}

/// A built server: cheap to clone, answers requests with [`Server::handle`] or as an
/// axum [`Router`](axum::Router).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use dirdav_core::{Config, Server};
/// let server = Server::builder(Config::new("example-data"))
///     .plugin(dirdav_hello::Hello)
///     .build()
///     .await?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8008").await?;
/// axum::serve(listener, server.router()).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Server {
    inner: Arc<Inner>,
}

/// What a server holds at one moment ([`Server::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Files and folders in the index.
    pub entries: usize,
    /// Folders among them.
    pub folders: usize,
    /// The sync log's last change number (it only grows).
    pub change_number: u64,
    /// Bytes of uploads under way.
    pub uploads: u64,
}

impl Server {
    /// What the server holds now, for metrics: entries of the index (files and
    /// folders), folders, and the last change number of the sync log.
    pub fn stats(&self) -> Stats {
        let index = self.inner.index();
        Stats {
            entries: index.len(),
            folders: index.dirs().count(),
            change_number: index.seq(),
            uploads: self.inner.uploads.below(""),
        }
    }

    /// Starts building a server.
    pub fn builder(config: Config) -> ServerBuilder {
        ServerBuilder {
            config,
            plugins: Vec::new(),
        }
    }

    /// An axum router answering every path and method.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .fallback(
                |AxumState(server): AxumState<Server>, request: Request| async move {
                    server.handle(request).await
                },
            )
            .with_state(self.clone())
    }

    /// Answers one request. Never fails: every error becomes its response.
    ///
    /// A request carrying `X-Forwarded-Prefix` (a reverse proxy that serves dirdav below
    /// a path it strips) is answered with that prefix in front of every href, and hrefs
    /// it sends with the prefix are understood. The embedding application must drop the
    /// header from peers that are not trusted proxies, as the binary does.
    pub async fn handle(&self, request: Request) -> Response {
        match forwarded_prefix(&request) {
            Some(prefix) => PREFIX.scope(prefix, self.answer(request)).await,
            None => self.answer(request).await,
        }
    }

    async fn answer(&self, request: Request) -> Response {
        let method = request.method().clone();
        let uri = request.uri().clone();
        let limit = self.inner.config.body_timeout;
        let request = request.map(|body| StallTimeout::wrap(body, limit));
        let mut response = match self.inner.dispatch(request).await {
            Ok(r) => r,
            Err(e) => {
                if e.status().is_server_error() {
                    tracing::error!(%method, %uri, error = %e, "request failed");
                } else {
                    tracing::debug!(%method, %uri, error = %e, "request refused");
                }
                e.into_response()
            }
        };
        response
            .headers_mut()
            .insert("dav", self.inner.dav_header.clone());
        response
    }

    /// The registry of everything the plugins contributed.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The canonical root folder.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The base path (`""` or `/prefix`).
    pub fn base_path(&self) -> &str {
        &self.inner.config.base_path
    }

    /// The `DAV:` header value: `1, 3` and every registered compliance token.
    pub fn dav_header(&self) -> HeaderValue {
        self.inner.dav_header.clone()
    }
}

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

/// The shared state behind a [`Server`].
#[derive(Debug)]
pub(crate) struct Inner {
    /// Itself, for the store's [`Store::request`], which runs a request as `dispatch`
    /// does.
    me: std::sync::Weak<Inner>,
    pub(crate) config: Config,
    pub(crate) root: PathBuf,
    /// The root, opened: files are opened through it, never through a link.
    pub(crate) root_dir: crate::beneath::RootDir,
    pub(crate) registry: Arc<Registry>,
    index: RwLock<Index>,
    pub(crate) locks: Locks,
    dav_header: HeaderValue,
    state: Option<Arc<State>>,
    instance: String,
    /// Re-read folders before answering (no watcher, or it failed).
    on_request: std::sync::atomic::AtomicBool,
    watcher: std::sync::Mutex<Option<notify::RecommendedWatcher>>,
    /// Principals whose first-request hooks have run.
    welcomed: std::sync::Mutex<std::collections::HashSet<Principal>>,
    /// PUTs receiving their bodies: what they bring counts in [`Store::usage`].
    pub(crate) uploads: crate::uploads::Uploads,
    /// Whole settings of folders whose settings files are large.
    dead: Arc<crate::deadcache::DeadCache>,
    /// Each user's shares and merged collections, as the plugins' hooks last listed
    /// them ([`Inner::shares_for`]).
    homes: crate::homes::HomeViews,
    /// After a warm start, the folders compared with the tree so far
    /// ([`Inner::settle_for`]).
    settling: crate::settle::Settling,
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

impl Inner {
    pub(crate) fn index(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn index_mut(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The sync token of a sequence number.
    pub(crate) fn token(&self, seq: u64) -> String {
        format!("{TOKEN_PREFIX}{}:{seq}", self.instance)
    }

    /// A token for a listing paged by `DAV:limit`: the state at `seq` for the members
    /// up to `cursor` (in key order), the ones after it not yet sent.
    fn paged_token(&self, seq: u64, cursor: &str) -> String {
        let hex: String = cursor.bytes().map(|b| format!("{b:02x}")).collect();
        format!("{TOKEN_PREFIX}{}:{seq}.{hex}", self.instance)
    }

    /// The sequence number a token names, and its cursor when it is a paged one.
    fn parse_token(&self, token: &str) -> Option<(u64, Option<String>)> {
        let rest = token.trim().strip_prefix(TOKEN_PREFIX)?;
        let (instance, seq) = rest.rsplit_once(':')?;
        if instance != self.instance {
            return None;
        }
        match seq.split_once('.') {
            None => Some((seq.parse().ok()?, None)),
            Some((seq, hex)) => {
                let bytes = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                    .collect::<Option<Vec<u8>>>()?;
                Some((seq.parse().ok()?, Some(String::from_utf8(bytes).ok()?)))
            }
        }
    }

    /// Changes the index and persists what changed before returning. A failure to
    /// persist is logged, not returned: the change is on disk, the index in memory is
    /// right, and the next start reconciles the state with the tree.
    pub(crate) async fn update<R>(&self, change: impl FnOnce(&mut Index) -> R) -> R {
        let (result, ops, seq) = {
            let mut index = self.index_mut();
            let result = change(&mut index);
            (result, index.take_ops(), index.seq())
        };
        if let Some(state) = self.state.clone()
            && !ops.is_empty()
        {
            let persisted = tokio::task::spawn_blocking(move || state.apply(&ops, seq)).await;
            match persisted {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "persisting the index failed"),
                Err(e) => tracing::error!(error = %e, "persisting the index failed"),
            }
        }
        result
    }

    /// Brings the index in line with the tree for these folders (their direct members;
    /// new sub-folders in full), logging every difference for sync clients.
    pub(crate) async fn reconcile(&self, keys: Vec<String>) {
        self.reconcile_sweeping(keys, false).await;
    }

    /// [`Inner::reconcile`]; with `sweep`, temporary files an earlier run left in the
    /// folders are removed too.
    async fn reconcile_sweeping(&self, keys: Vec<String>, sweep: bool) {
        let _guard = self.locks.tree().await;
        let mut pending: Vec<(String, bool)> = keys.into_iter().map(|k| (k, false)).collect();
        while let Some((key, recursive)) = pending.pop() {
            let root = self.root.clone();
            let scanning = move || {
                let scanned = scan(&root, &key, recursive);
                if sweep {
                    // The server answers meanwhile: its own temporaries are writes.
                    crate::storage::remove_stale_temporaries(&scanned.temporaries, false);
                }
                Ok(scanned)
            };
            let scanned = match blocking("scanning failed", scanning).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "reconciliation failed");
                    continue;
                }
            };
            let (to_read, new_dirs) = {
                let index = self.index();
                (
                    scanned.to_read(&index, &self.registry),
                    scanned.new_dirs(&index),
                )
            };
            let hashes = blocking("hashing failed", move || Ok(read_all(to_read)))
                .await
                .unwrap_or_default();
            self.update(|index| scanned.apply(index, &hashes)).await;
            pending.extend(new_dirs.into_iter().map(|d| (d, true)));
        }
    }

    /// In on-request mode, re-reads the folder a request is about before answering.
    async fn refresh_for(&self, key: &str) {
        if !self.on_request.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let folder = {
            let index = self.index();
            if index.is_dir(key) {
                key.to_owned()
            } else {
                path::split(key).map_or(String::new(), |(p, _)| p.to_owned())
            }
        };
        self.reconcile(vec![folder]).await;
    }

    /// After a warm start, checks every folder the index knows against the tree, one
    /// at a time (each holds the tree lock only while it is checked), then ends the
    /// settling.
    async fn settle_all(inner: std::sync::Weak<Inner>, started: std::time::Instant) {
        let Some(folders) = inner
            .upgrade()
            .map(|i| i.index().dirs().map(|(k, _)| k.clone()).collect::<Vec<_>>())
        else {
            return;
        };
        for folder in folders {
            let Some(inner) = inner.upgrade() else {
                return;
            };
            inner.settle_folder(folder).await;
        }
        if let Some(inner) = inner.upgrade() {
            inner.settling.finish();
            tracing::info!(
                entries = inner.index().len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "checked the tree for changes made while stopped"
            );
        }
    }

    /// While settling, checks the folder a request is about (or, for a key the index
    /// does not know, its nearest known ancestor) before it is answered, once, and
    /// first every folder above it: their settings (access rules among them) count
    /// for it too.
    pub(crate) async fn settle_for(&self, key: &str) {
        if self.settling.is_over() {
            return;
        }
        let folders = crate::settle::folders_for(&self.index(), key);
        for folder in folders {
            self.settle_folder(folder).await;
        }
    }

    /// Checks one folder's members against the tree, unless settling is over or the
    /// folder was checked already; temporaries an earlier run left are removed.
    async fn settle_folder(&self, folder: String) {
        if !self.settling.needs(&folder) {
            return;
        }
        if folder.is_empty() || self.index().is_dir(&folder) {
            self.reconcile_sweeping(vec![folder.clone()], true).await;
        }
        self.settling.done(folder);
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
        Some(self.resource_of(key.to_owned(), entry, parent))
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
        index
            .members_after(path, after)
            .filter(|(_, e)| match e {
                Entry::Dir(_) => keep(true, None),
                Entry::File(f) => keep(false, f.summary.as_deref()),
            })
            .take(limit)
            .map(|(k, e)| self.resource_of(k, e, Some(config.clone())))
            .collect()
    }

    /// The resource view of an entry already at hand; `parent` is the configuration of
    /// the folder a file sits in (unused for a folder, which has its own).
    fn resource_of(
        &self,
        key: String,
        entry: &Entry,
        parent: Option<Arc<CollectionConfig>>,
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
                etag: Some(f.etag.clone()),
                size: f.size,
                modified: f.modified,
                created: f.created,
                collection: parent.unwrap_or_default(),
                sync_token: None,
                summary: f.summary.clone(),
            },
        }
    }

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

    /// Tells the observers about a change that landed: the files and folders it
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

    async fn dispatch(self: &Arc<Self>, request: Request) -> Result<Response, DavError> {
        let (parts, body) = request.into_parts();
        let raw_path = parts.uri.path().to_owned();
        // A route matches the path as sent (`/.well-known/caldav` is at the host's root)
        // or below the base path (a plugin's own resources, under `/dav` like the rest).
        let below_base = (!self.config.base_path.is_empty())
            .then(|| raw_path.strip_prefix(self.config.base_path.as_str()))
            .flatten()
            .filter(|rest| rest.starts_with('/'));
        if let Some(route) = self.registry.routes.iter().find(|r| {
            std::iter::once(raw_path.as_str())
                .chain(below_base)
                .any(|path| {
                    path.strip_prefix(r.item.path.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
                })
        }) {
            let route = route.item.clone();
            let principal = parts.extensions.get::<Principal>().cloned();
            if !route.public {
                let check = MethodCheck {
                    method: &parts.method,
                    path: &raw_path,
                    resource: None,
                    destination: None,
                    destination_resource: None,
                    route: true,
                    principal: principal.as_ref(),
                    headers: &parts.headers,
                    store: self.as_ref(),
                };
                self.run_before_method(&check)?;
            }
            if route.streaming {
                let mut request =
                    self.plugin_request(parts, Bytes::new(), String::new(), principal);
                request.stream = Some(dirdav_plugin::Stream::new(body));
                return route.handler.call(request).await;
            }
            let body = self.read_xml_body(body).await?;
            let request = self.plugin_request(parts, body, String::new(), principal);
            return route.handler.call(request).await;
        }
        if parts.method == Method::OPTIONS && raw_path == "*" {
            return Ok(methods::options::answer(&self.allow(None)));
        }
        let Some(mut path) = path::decode(&raw_path, &self.config.base_path)? else {
            return Err(DavError::not_found());
        };
        let Some(shown) = self.unshare(&mut path).or_else(|| self.unmerge(&mut path)) else {
            return self.serve(parts, body, path, None).await;
        };
        // Through a share or a merged collection: answered by the collection it shows,
        // under the shown hrefs.
        let result = self.serve(parts, body, path, shown.label.clone()).await;
        let response = result.unwrap_or_else(|e| {
            tracing::debug!(error = %e, "request refused");
            e.into_response()
        });
        Ok(shown.rewrite(response).await)
    }

    /// The collections the plugins share with `user` ([`Registry::shares_for`]), kept
    /// until a folder changes (or the known users do): a home's listing then costs what
    /// the home holds, not every collection of the server.
    pub(crate) fn shares_for(&self, user: &str) -> Arc<Vec<dirdav_plugin::Share>> {
        let generation = self.home_generation();
        self.homes
            .shares(user, generation, || self.registry.shares_for(user, self))
    }

    /// The merged collections of `user`'s home ([`Registry::merged_for`]), kept as
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

    /// If `path` lies below a share in a user's home ([`Share`]), makes it the path it
    /// shows and returns how to show hrefs of the answer.
    fn unshare(&self, path: &mut DavPath) -> Option<Shown> {
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
    fn unmerge(&self, path: &mut DavPath) -> Option<Shown> {
        if path.hidden || path.segments.len() != 3 || self.registry.merged.is_empty() {
            return None;
        }
        let view = self.merged_at(&format!("{}/{}", path.segments[0], path.segments[1]))?;
        let (source, name) = view.resolve(&path.segments[2]);
        // The name below the label is checked as any segment is: `work~.dav.toml` is
        // a dotfile and `work~..` no name at all.
        if matches!(name, "." | "..") || crate::reconcile::is_ignored(name) {
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

    /// Answers a request for a decoded path.
    async fn serve(
        self: &Arc<Self>,
        parts: http::request::Parts,
        body: axum::body::Body,
        mut path: DavPath,
        share_label: Option<(String, String)>,
    ) -> Result<Response, DavError> {
        let key = path.key();
        if !path.hidden
            && let Some((parent, name)) = path::split(&key)
            && crate::compat::is_vdir_meta(name)
            && self
                .index()
                .dir(parent)
                .is_some_and(|d| d.format == crate::compat::Format::Vdir)
        {
            // A vdir's metadata files are its settings, changed by PROPPATCH.
            path.hidden = true;
        }
        let principal = parts.extensions.get::<Principal>().cloned();
        if let Some(p) = &principal {
            self.greet(p).await?;
        }
        let mut ctx = Ctx {
            parts,
            path,
            key,
            principal,
            share_label,
            merged: None,
        };
        let reading = matches!(ctx.method().as_str(), "PROPFIND" | "REPORT");
        if !ctx.path.hidden {
            self.settle_for(&ctx.key).await;
        }
        if !ctx.path.hidden && reading {
            self.refresh_for(&ctx.key).await;
        }
        let mut resource = if ctx.path.hidden {
            None
        } else {
            self.resource_in(&self.index(), &ctx.key)
        };
        if resource.is_none()
            && !ctx.path.hidden
            && let Some(view) = self.merged_at(&ctx.key)
        {
            if reading {
                for source in &view.sources {
                    self.refresh_for(&source.path).await;
                }
            }
            resource = self.merged_resource(&view);
            ctx.merged = Some(view);
        }
        let destination = self.destination(&ctx);
        if let Some(destination) = &destination {
            self.settle_for(destination).await;
        }
        self.before_method(&ctx, resource.as_ref(), destination.as_deref())?;
        self.check_if_and_locks(&ctx, resource.as_ref(), destination.as_deref())?;
        if ctx.merged.is_some()
            && !matches!(
                ctx.method().as_str(),
                "OPTIONS" | "GET" | "HEAD" | "PROPFIND" | "REPORT"
            )
        {
            return Err(crate::merged::refused(ctx.method().as_str()));
        }
        let method = ctx.method().clone();
        let key = ctx.key.clone();
        let answer = match method.as_str() {
            "OPTIONS" if ctx.path.hidden => Err(DavError::not_found()),
            "OPTIONS" => Ok(methods::options::answer(&self.allow(resource.as_ref()))),
            "GET" | "HEAD" => {
                let collection = resource.as_ref().filter(|r| r.is_collection);
                let is_collection = collection.is_some();
                let handler = collection
                    .and_then(|_| self.browser_page_for(&ctx))
                    .or_else(|| {
                        collection
                            .and_then(|r| self.registry.collection_get.get(r.kind()?))
                            .map(|h| h.item.clone())
                    });
                let answer = match handler {
                    Some(handler) => {
                        let mut request =
                            self.plugin_request(ctx.parts, Bytes::new(), ctx.key, ctx.principal);
                        request.resource = resource;
                        handler.call(request).await
                    }
                    None => methods::get::get(self, &ctx, resource).await,
                };
                match is_collection {
                    true => answer.map(|r| unsized_body(r, method == Method::HEAD)),
                    false => answer,
                }
            }
            "PUT" => methods::put::put(self, &ctx, resource, body).await,
            "DELETE" => methods::delete::delete(self, &ctx, resource).await,
            "MKCOL" => methods::mkcol::mkcol(self, &ctx, resource, body).await,
            "COPY" | "MOVE" => methods::copymove::copy_move(self, &ctx, resource).await,
            "PROPFIND" => {
                let body = self.read_xml_body(body).await?;
                methods::propfind::propfind(self, &ctx, resource, &body)
            }
            "PROPPATCH" => {
                let body = self.read_xml_body(body).await?;
                methods::proppatch::proppatch(self, &ctx, resource, &body).await
            }
            "REPORT" => {
                let body = self.read_xml_body(body).await?;
                methods::report::report(self, ctx, resource, body).await
            }
            other => match self.registry.methods.get(other) {
                Some(handler) => {
                    let handler = handler.item.clone();
                    let body = self.read_xml_body(body).await?;
                    let depth = ctx.depth().ok().flatten();
                    let mut request = self.plugin_request(ctx.parts, body, ctx.key, ctx.principal);
                    request.resource = resource;
                    request.depth = depth;
                    handler.call(request).await
                }
                None => {
                    let mut response =
                        DavError::method_not_allowed(format!("{other} is not supported here"))
                            .into_response();
                    if let Ok(v) = HeaderValue::from_str(&self.allow(resource.as_ref())) {
                        response.headers_mut().insert(header::ALLOW, v);
                    }
                    Ok(response)
                }
            },
        };
        self.with_allow(answer, &key)
    }

    /// A 405 always says what the resource allows (RFC 7231 §6.5.5), whichever method
    /// handler (the core's or a plugin's) refused.
    fn with_allow(
        &self,
        answer: Result<Response, DavError>,
        key: &str,
    ) -> Result<Response, DavError> {
        let mut response = match answer {
            Err(e) if e.status() == StatusCode::METHOD_NOT_ALLOWED => e.into_response(),
            Ok(r) if r.status() == StatusCode::METHOD_NOT_ALLOWED => r,
            other => return other,
        };
        if !response.headers().contains_key(header::ALLOW) {
            let resource = self.resource_in(&self.index(), key);
            if let Ok(v) = HeaderValue::from_str(&self.allow(resource.as_ref())) {
                response.headers_mut().insert(header::ALLOW, v);
            }
        }
        Ok(response)
    }

    /// Runs the first-request hooks for a principal not seen before in this process.
    async fn greet(self: &Arc<Self>, principal: &Principal) -> Result<(), DavError> {
        if self.registry.first_request.is_empty()
            || self
                .welcomed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(principal)
        {
            return Ok(());
        }
        for hook in &self.registry.first_request {
            (hook.item)(principal.clone(), self.clone()).await?;
        }
        self.welcomed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(principal.clone());
        Ok(())
    }

    /// The browser page's handler, when a plugin registered one and this GET of a
    /// collection prefers HTML ([`dirdav_plugin::prefers_html`]) and does not ask for
    /// the collection's export (`?download`).
    fn browser_page_for(&self, ctx: &Ctx) -> Option<dirdav_plugin::SharedHandler> {
        let page = self.registry.browser_page.as_ref()?;
        let download = ctx.parts.uri.query().is_some_and(|q| {
            q.split('&')
                .any(|p| p == "download" || p.starts_with("download="))
        });
        (!download && dirdav_plugin::prefers_html(&ctx.parts.headers)).then(|| page.item.clone())
    }

    /// The decoded `Destination` of a COPY or MOVE, if it is one of ours.
    fn destination(&self, ctx: &Ctx) -> Option<String> {
        let d = ctx.header("destination")?;
        self.decode_href(d).ok().flatten().map(|p| p.key())
    }

    /// Before any method runs: the `If` header must hold (412), and a write must submit
    /// the tokens of the locks it touches (423). Methods evaluate the `If` header again
    /// under their lock, against the state they change.
    fn check_if_and_locks(
        &self,
        ctx: &Ctx,
        resource: Option<&Resource>,
        destination: Option<&str>,
    ) -> Result<(), DavError> {
        if ctx.parts.headers.contains_key("if") {
            methods::check_if(self, ctx, resource)?;
        }
        let Some(keeper) = &self.registry.locks else {
            return Ok(());
        };
        let destination = destination.map(|d| (d, self.index().get(d).is_some()));
        let touched = touched(ctx.method(), &ctx.key, resource.is_some(), destination);
        if touched.is_empty() {
            return Ok(());
        }
        let submitted = dirdav_plugin::locks::submitted_tokens(&ctx.parts.headers);
        keeper.item.check(&LockCheck {
            method: ctx.method(),
            touched: &touched,
            submitted: &submitted,
            principal: ctx.principal.as_ref(),
            store: self,
        })
    }

    fn before_method(
        &self,
        ctx: &Ctx,
        resource: Option<&Resource>,
        destination: Option<&str>,
    ) -> Result<(), DavError> {
        if self.registry.before_method.is_empty() {
            return Ok(());
        }
        let destination_resource = destination.and_then(|d| self.resource_in(&self.index(), d));
        let check = MethodCheck {
            method: ctx.method(),
            path: &ctx.key,
            resource,
            destination,
            destination_resource: destination_resource.as_ref(),
            route: false,
            principal: ctx.principal.as_ref(),
            headers: &ctx.parts.headers,
            store: self,
        };
        self.run_before_method(&check)
    }

    /// The before-method hooks, in registration order: the first refusal answers.
    fn run_before_method(&self, check: &MethodCheck<'_>) -> Result<(), DavError> {
        self.registry
            .before_method
            .iter()
            .try_for_each(|hook| (hook.item)(check))
    }

    pub(crate) fn plugin_request(
        self: &Arc<Self>,
        parts: http::request::Parts,
        body: Bytes,
        path: String,
        principal: Option<Principal>,
    ) -> DavRequest {
        DavRequest {
            minimal: methods::prefers_minimal(&parts.headers),
            parts,
            body,
            path,
            resource: None,
            depth: None,
            store: Arc::new(crate::scoped::Scoped::new(self.clone(), principal.clone())),
            principal,
            stream: None,
        }
    }

    /// Answers a request made inside the server ([`Store::request`]): as `dispatch`,
    /// with errors made into their responses. Its path may be an href as the server
    /// writes them: behind a proxy that strips a prefix, with the prefix.
    pub(crate) async fn answer_inside(
        self: &Arc<Self>,
        mut request: http::Request<axum::body::Body>,
    ) -> Response {
        let unprefixed = PREFIX
            .try_with(|p| {
                let uri = request.uri();
                let rest = uri.path().strip_prefix(&**p)?;
                let rest = match uri.query() {
                    Some(q) => format!("{rest}?{q}"),
                    None => rest.to_owned(),
                };
                rest.starts_with('/').then_some(rest)
            })
            .ok()
            .flatten()
            .and_then(|rest| rest.parse::<http::Uri>().ok());
        if let Some(uri) = unprefixed {
            *request.uri_mut() = uri;
        }
        match self.dispatch(request).await {
            Ok(response) => response,
            Err(e) => {
                if e.status().is_server_error() {
                    tracing::error!(error = %e, "a request made inside the server failed");
                }
                e.into_response()
            }
        }
    }
}

/// The paths a method writes, for the lock keeper (RFC 4918 §7): what it changes
/// itself, what it removes or replaces whole, and the collection whose membership
/// changes when a member comes or goes. Reading methods, UNLOCK and LOCK of an
/// existing resource (the keeper judges those itself) touch nothing.
fn touched(
    method: &Method,
    key: &str,
    exists: bool,
    destination: Option<(&str, bool)>,
) -> Vec<(String, Touch)> {
    // A new member changes its collection; one that is removed or replaced, too.
    let with_parent = |path: &str, touch: Touch, out: &mut Vec<(String, Touch)>| {
        out.push((path.to_owned(), touch));
        if let Some((parent, _)) = crate::path::split(path) {
            out.push((parent.to_owned(), Touch::Itself));
        }
    };
    let mut out = Vec::new();
    match method.as_str() {
        "OPTIONS" | "GET" | "HEAD" | "PROPFIND" | "REPORT" | "UNLOCK" => {}
        "LOCK" if exists => {}
        "COPY" | "MOVE" => {
            if method.as_str() == "MOVE" {
                with_parent(key, Touch::Tree, &mut out);
            }
            if let Some((dest, dest_exists)) = destination {
                let touch = if dest_exists {
                    Touch::Tree
                } else {
                    Touch::Itself
                };
                with_parent(dest, touch, &mut out);
            }
        }
        "DELETE" => with_parent(key, Touch::Tree, &mut out),
        _ if exists => out.push((key.to_owned(), Touch::Itself)),
        _ => with_parent(key, Touch::Itself, &mut out),
    }
    out
}

tokio::task_local! {
    /// For a request through a reverse proxy that strips a path prefix: the prefix
    /// (`X-Forwarded-Prefix`), put in front of every href of the answer.
    static PREFIX: Arc<str>;
}

/// A request's `X-Forwarded-Prefix`, when it is a plain path: `/` and then segments of
/// unreserved characters, without `.` or `..` segments; a trailing `/` is dropped.
/// Anything else is ignored.
fn forwarded_prefix(request: &Request) -> Option<Arc<str>> {
    let value = request.headers().get("x-forwarded-prefix")?.to_str().ok()?;
    let prefix = value.trim().trim_end_matches('/');
    let plain = prefix.starts_with('/')
        && prefix[1..].split('/').all(|s| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        });
    (plain && !prefix.is_empty()).then(|| prefix.into())
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
struct Shown {
    /// (real prefix, shown prefix) pairs.
    prefixes: Vec<(String, String)>,
    label: Option<(String, String)>,
}

impl Shown {
    fn show(&self, href: &str) -> Option<String> {
        self.prefixes.iter().find_map(|(real, shown)| {
            href.strip_prefix(real.as_str())
                .map(|rest| format!("{shown}{rest}"))
        })
    }

    /// Rewrites the hrefs of an XML answer (multistatus, `DAV:error`) and `Location`.
    async fn rewrite(&self, response: Response) -> Response {
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

impl Configs for Inner {
    fn config(&self, path: &str) -> Option<Arc<CollectionConfig>> {
        self.index().config(path)
    }
}

impl Store for Inner {
    fn resource(&self, path: &str) -> Option<Resource> {
        let found = self.resource_in(&self.index(), path);
        found.or_else(|| {
            self.merged_at(path)
                .and_then(|view| self.merged_resource(&view))
        })
    }

    fn members(&self, path: &str) -> Vec<Resource> {
        self.members_where(path, &|_, _| true)
    }

    fn members_where(
        &self,
        path: &str,
        keep: &dyn Fn(bool, Option<&dirdav_plugin::Summary>) -> bool,
    ) -> Vec<Resource> {
        let index = self.index();
        if !index.is_dir(path) {
            drop(index);
            return match self.merged_at(path) {
                Some(view) => self.merged_members(&view, keep),
                None => Vec::new(),
            };
        }
        self.members_in(&index, path, keep)
    }

    fn members_with_uid(&self, path: &str, uid: &str) -> Vec<Resource> {
        let index = self.index();
        index
            .with_uid(path, uid)
            .iter()
            .filter_map(|k| self.resource_in(&index, k))
            .collect()
    }

    fn read(&self, path: &str) -> BoxFuture<'_, Result<Bytes, DavError>> {
        let (root, key) = (self.root_dir.clone(), path.to_owned());
        Box::pin(async move {
            crate::storage::blocking("reading a file failed", move || {
                root.file(&key).and_then(crate::storage::read_all)
            })
            .await
            .map(Bytes::from)
        })
    }

    fn read_many(&self, paths: Vec<String>) -> BoxFuture<'_, Vec<Option<Bytes>>> {
        let root = self.root_dir.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                paths
                    .iter()
                    .map(|p| {
                        root.file(p)
                            .and_then(crate::storage::read_all)
                            .ok()
                            .map(Bytes::from)
                    })
                    .collect()
            })
            .await
            .unwrap_or_default()
        })
    }

    fn path_of_href(&self, href: &str) -> Option<String> {
        match self.decode_href(href) {
            Ok(Some(p)) if !p.hidden => Some(p.key()),
            _ => None,
        }
    }

    fn href_of(&self, path: &str, is_collection: bool) -> String {
        self.href(path, is_collection)
    }

    fn item_of_href(&self, href: &str, within: &Resource) -> Result<Resource, StatusCode> {
        let path = self.path_of_href(href).ok_or(StatusCode::NOT_FOUND)?;
        // A merged collection holds the members of its sources.
        let inside = match self.merged_of(within) {
            Some(view) => view.holds(&path),
            None => within.contains(&path),
        };
        if !inside {
            return Err(StatusCode::FORBIDDEN);
        }
        self.resource(&path)
            .filter(|r| !r.is_collection)
            .ok_or(StatusCode::NOT_FOUND)
    }

    fn collections(&self) -> Vec<Resource> {
        let index = self.index();
        index
            .collections()
            .filter_map(|(k, _)| self.resource_in(&index, k))
            .collect()
    }

    fn collections_within(&self, folder: &str) -> Vec<Resource> {
        let index = self.index();
        index
            .collections_within(folder)
            .filter_map(|(k, _)| self.resource_in(&index, k))
            .collect()
    }

    fn prefixes(&self) -> Vec<(&'static str, &'static str)> {
        self.registry.prefixes.clone()
    }

    fn changes(
        &self,
        collection: &str,
        token: Option<&str>,
        infinite: bool,
        limit: Option<usize>,
        principal: Option<&Principal>,
    ) -> Result<SyncChanges, DavError> {
        if let Some(view) = self.merged_at(collection) {
            return self.merged_changes(&view, token, limit, principal);
        }
        let stale =
            || DavError::forbidden("unknown or expired sync token").condition(VALID_SYNC_TOKEN);
        let (since, cursor) = match token.map(str::trim).filter(|t| !t.is_empty()) {
            None => (None, None),
            Some(t) => {
                let (seq, cursor) = self.parse_token(t).ok_or_else(stale)?;
                (Some(seq), cursor)
            }
        };
        let index = self.index();
        // Two parts: changes since the token (to members the client has), by sequence
        // number; and members it has not been sent yet (all of them at first, those
        // after a paged token's cursor later), by key.
        // Of the members not sent yet, one more than fits is enough to know there are
        // more: a page is a range scan of its own length.
        let fits = |sent: usize| limit.map_or(usize::MAX, |l| l.saturating_sub(sent) + 1);
        let (mut list, mut rest) = match (since, &cursor) {
            (None, _) => (
                Vec::new(),
                index
                    .listed_after(collection, None, infinite, fits(0))
                    .map_err(|_| stale())?,
            ),
            (Some(since), None) => (
                index
                    .changes(collection, Some(since), infinite)
                    .map_err(|_| stale())?,
                Vec::new(),
            ),
            (Some(since), Some(cursor)) => {
                let mut delta = index
                    .changes(collection, Some(since), infinite)
                    .map_err(|_| stale())?;
                delta.retain(|(k, _, _)| k.as_str() <= cursor.as_str());
                let rest = index
                    .listed_after(collection, Some(cursor), infinite, fits(delta.len()))
                    .map_err(|_| stale())?;
                (delta, rest)
            }
        };
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        let mut token = self.token(index.seq());
        let mut truncated = false;
        if let Some(limit) = limit {
            if list.len() > limit {
                // Cut after whole sequence numbers, so the token resumes exactly there.
                let cut_seq = list[limit.saturating_sub(1)].2;
                list.retain(|(_, _, s)| *s <= cut_seq);
                let cut_seq = cut_seq.max(since.unwrap_or(0));
                token = match &cursor {
                    Some(cursor) => self.paged_token(cut_seq, cursor),
                    None => self.token(cut_seq),
                };
                truncated = true;
                rest.clear();
            } else if list.len() + rest.len() > limit {
                // Page the members not sent yet: the state now, up to the last one sent.
                rest.truncate(limit - list.len());
                let last = rest.last().map(|r| r.0.as_str()).or(cursor.as_deref());
                token = self.paged_token(index.seq(), last.unwrap_or(""));
                truncated = true;
            }
        }
        list.extend(rest);
        let mut changed = Vec::new();
        let mut removed = Vec::new();
        let mut visibility = self.registry.visibility(principal, &*index);
        for (key, change, _) in list {
            match change {
                Change::Deleted(was_dir) => {
                    // Named only to those who could see it: judged by the rules of its
                    // folder, and for a folder by its own last settings too.
                    let gone = index.grave(&key, was_dir);
                    let configs = crate::index::WithGrave {
                        index: &index,
                        grave: &gone,
                    };
                    if self.registry.visible(&gone, principal, &configs) {
                        removed.push(self.href(&key, was_dir));
                    }
                }
                Change::File | Change::Dir => {
                    if let Some(r) = self.resource_in(&index, &key)
                        && visibility.sees(&r)
                    {
                        changed.push(r);
                    }
                }
            }
        }
        Ok(SyncChanges {
            token,
            changed,
            removed,
            truncated,
        })
    }

    fn make_collection<'a>(
        &'a self,
        new: NewCollection<'a>,
    ) -> BoxFuture<'a, Result<(), DavError>> {
        Box::pin(methods::mkcol::create(self, new))
    }

    fn acting_for(&self, user: Principal) -> Option<Arc<dyn Store>> {
        let me = self.me.upgrade()?;
        Some(Arc::new(crate::scoped::Scoped::new(me, Some(user))))
    }

    fn welcome(&self, user: Principal) -> BoxFuture<'_, Result<(), DavError>> {
        Box::pin(async move {
            match self.me.upgrade() {
                Some(me) => me.greet(&user).await,
                None => Err(DavError::internal("the server is stopping")),
            }
        })
    }

    fn request(&self, request: http::Request<axum::body::Body>) -> BoxFuture<'_, Response> {
        Box::pin(async move {
            match self.me.upgrade() {
                Some(me) => me.answer_inside(request).await,
                None => DavError::internal("the server is stopping").into_response(),
            }
        })
    }

    fn create_file<'a>(
        &'a self,
        path: &'a str,
        method: &'a str,
        principal: Option<&'a Principal>,
    ) -> BoxFuture<'a, Result<Resource, DavError>> {
        Box::pin(methods::put::create_empty(self, path, method, principal))
    }

    fn usage(&self, path: &str) -> u64 {
        self.index().usage(path) + self.uploads.below(path)
    }

    fn free_space(&self) -> Option<u64> {
        self.root_dir.free_space()
    }

    fn visible(&self, resource: &Resource, principal: Option<&Principal>) -> bool {
        self.registry.visible(resource, principal, &*self.index())
    }

    fn query_propstats(
        &self,
        resource: &Resource,
        query: &PropRequest,
        principal: Option<&Principal>,
    ) -> Vec<PropStat> {
        let ctx = PropContext {
            resource,
            principal,
            registry: &self.registry,
            store: self,
        };
        propstats(&ctx, query, false)
    }
}

/// A collection's GET answer (a listing, an export) sent without its length: what it
/// holds is made from its members, and `getcontentlength` is not reported for a
/// collection, since finding it would mean making the body for every PROPFIND. RFC 4918
/// §15.4 asks the property of a resource whose GET gives a Content-Length: a
/// collection's gives none (chunked), its HEAD neither (RFC 9110 §9.3.2: the headers of
/// a GET), so the two agree.
fn unsized_body(response: Response, head: bool) -> Response {
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(http::header::CONTENT_LENGTH);
    let body = match head {
        true => axum::body::Body::empty(),
        false => body,
    };
    Response::from_parts(parts, axum::body::Body::new(Unsized(body)))
}

/// A body that does not tell its length ahead ([`unsized_body`]).
struct Unsized(axum::body::Body);

impl http_body::Body for Unsized {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        std::pin::Pin::new(&mut self.get_mut().0).poll_frame(cx)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(method: &str, key: &str, exists: bool, dest: Option<(&str, bool)>) -> Vec<String> {
        let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
        touched(&method, key, exists, dest)
            .into_iter()
            .map(|(p, t)| format!("{p}:{}", if t == Touch::Tree { "tree" } else { "itself" }))
            .collect()
    }

    #[test]
    fn what_each_method_touches_for_the_lock_keeper() {
        for method in ["GET", "PROPFIND", "REPORT", "OPTIONS", "UNLOCK"] {
            assert!(of(method, "a/f", true, None).is_empty(), "{method}");
        }
        assert!(of("LOCK", "a/f", true, None).is_empty());
        assert_eq!(
            of("LOCK", "a/new", false, None),
            ["a/new:itself", "a:itself"]
        );
        assert_eq!(of("PUT", "a/f", true, None), ["a/f:itself"]);
        assert_eq!(
            of("PUT", "a/new", false, None),
            ["a/new:itself", "a:itself"]
        );
        assert_eq!(of("PROPPATCH", "a", true, None), ["a:itself"]);
        assert_eq!(of("MKCOL", "a/d", false, None), ["a/d:itself", "a:itself"]);
        assert_eq!(of("DELETE", "a/d", true, None), ["a/d:tree", "a:itself"]);
        assert_eq!(
            of("COPY", "a/f", true, Some(("b/f", false))),
            ["b/f:itself", "b:itself"]
        );
        assert_eq!(
            of("MOVE", "a/f", true, Some(("b/f", true))),
            ["a/f:tree", "a:itself", "b/f:tree", "b:itself"]
        );
        // A top-level member's collection is the root.
        assert_eq!(of("PUT", "f", false, None), ["f:itself", ":itself"]);
    }
}
