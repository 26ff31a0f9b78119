//! The builder: registers the plugins, opens the state and indexes the tree (or, on a
//! warm start, loads the stored index and checks the tree in the background).

use std::path::Path;
use std::sync::{Arc, RwLock};

use dirdav_plugin::http::HeaderValue;
use dirdav_plugin::{Plugin, Registry};

use crate::config::{BuildError, Config, Watch};
use crate::context::{Inner, Locks};
use crate::index::Index;
use crate::props::CoreProps;
use crate::reconcile::{read_all, scan};
use crate::server::Server;
use crate::state::{Loaded, State, StateError};

/// After a restart the sequence number jumps by this much, so that no number a client
/// may have seen just before a crash (and that was not yet persisted) is ever reused.
const SEQ_GAP: u64 = 1_000_000;

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

impl Server {
    /// Starts building a server.
    pub fn builder(config: Config) -> ServerBuilder {
        ServerBuilder {
            config,
            plugins: Vec::new(),
        }
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
        let (state, mut loaded) = match &self.config.state_dir {
            Some(dir) => {
                let (state, loaded) = open_state(dir, &root)?;
                (Some(Arc::new(state)), loaded)
            }
            None => (None, Loaded::default()),
        };
        let views = crate::viewstate::Views::load(std::mem::take(&mut loaded.views));
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
        if let Some(state) = &state {
            index.keep_in(state.clone(), self.config.index_cache);
        }
        index.set_quiet(fresh);
        let registry = Arc::new(registry);
        // A warm start answers at once from the stored index: the tree is checked for
        // what changed while the server was down in the background, folder by folder,
        // and a request first checks the folders it touches ([`Inner::settle_for`]).
        let settle_later = !fresh;
        let index = if settle_later {
            restore_settings(&root, index).await?
        } else {
            index
        };
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
            let mark = index.begin_save();
            tokio::task::spawn_blocking(move || {
                state.set_meta(&instance, seq)?;
                state.apply(&ops, seq)
            })
            .await
            .map_err(|e| state_err(&state_dir, e))?
            .map_err(|e| state_err(&state_dir, e))?;
            // A cold start put every summary in memory: the store has them now.
            index.end_save(mark, true);
            index.let_go(None);
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
            views,
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
            crate::reconcile::check_tables(&scan, &walk_root, &walk_registry);
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

/// On a warm start, reads every known folder's settings before the server answers: the
/// state keeps only a tag of them, and until a folder is checked its kind and access
/// rules would be unknown to listings across folders (shares, views, collections). A
/// file changed while the server was stopped is read as it is now, under the old tag, so
/// the check that follows still logs the change for sync clients.
async fn restore_settings(root: &Path, mut index: Index) -> Result<Index, BuildError> {
    let (root, at) = (root.to_path_buf(), root.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let folders: Vec<String> = index.dirs().map(|(k, _)| k.clone()).collect();
        for key in folders {
            let mut path = root.clone();
            path.extend(key.split('/').filter(|s| !s.is_empty()));
            let (config, _, format) = crate::reconcile::read_config(&path);
            index.restore_settings(&key, config, format);
        }
        index
    })
    .await
    .map_err(|e| BuildError::Root {
        path: at,
        source: std::io::Error::other(e),
    })
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
