//! The server as an embedding application sees it: built by [`ServerBuilder`], it
//! answers requests with [`Server::handle`] or as an axum router.
//!
//! [`ServerBuilder`]: crate::ServerBuilder

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State as AxumState};
use axum::response::{IntoResponse, Response};
use dirdav_plugin::Registry;
use dirdav_plugin::http::HeaderValue;

use crate::body::StallTimeout;
use crate::context::{Inner, PREFIX};

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
    pub(crate) inner: Arc<Inner>,
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
    /// Items whose summaries the index holds in memory ([`Config::index_cache`](crate::Config::index_cache)).
    pub summaries_held: usize,
    /// Sync-log entries the index holds in memory (they count against the same
    /// [`Config::index_cache`](crate::Config::index_cache)).
    pub log_entries_held: usize,
    /// Folders whose summaries or sync log were read back from the state database
    /// since the start.
    pub index_loads: u64,
}

impl Server {
    /// What the server holds now, for metrics: entries of the index (files and
    /// folders), folders, and the last change number of the sync log.
    pub fn stats(&self) -> Stats {
        let index = self.inner.index();
        let working = index.working_stats();
        Stats {
            entries: index.len(),
            folders: index.dirs().count(),
            change_number: index.seq(),
            uploads: self.inner.uploads.below(""),
            summaries_held: working.held,
            log_entries_held: working.log_held,
            index_loads: working.loads,
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
        let answered = self.inner.dispatch(request).await;
        self.inner.trim_working_set();
        let mut response = match answered {
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
