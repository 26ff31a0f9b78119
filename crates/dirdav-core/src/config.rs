//! What the core needs to know to serve a tree, and why a server could not be built.

use std::path::PathBuf;
use std::time::Duration;

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
    /// How many items' summaries (what reports and UID checks read instead of the
    /// files) and sync-log entries the index holds in memory with a state directory;
    /// past it, the folders used longest ago keep theirs in the state database until
    /// asked again. A folder in use holds all of its own, whatever this says.
    pub index_cache: usize,
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
    /// 1 MiB per `.dav.toml`, 50,000 items' summaries in memory.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Config {
            root: root.into(),
            base_path: String::new(),
            max_body: 256 * 1024 * 1024,
            max_xml_body: 4 * 1024 * 1024,
            max_propfind_infinity: 10_000,
            state_dir: None,
            sync_log_limit: 10_000,
            index_cache: 50_000,
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

    /// Sets how many items' summaries the index holds in memory.
    #[must_use]
    pub fn index_cache(mut self, n: usize) -> Self {
        self.index_cache = n;
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
    /// Two plugins registered the same name, or one extends a kind none registers.
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
