use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum_core::body::Body;
use bytes::Bytes;
use http::{Response, request::Parts};

use crate::{CollectionConfig, DavError, Principal, PropQuery, PropStat, Resource, Summary};
use dirdav_xml::Name;

/// A boxed, sendable future, as handlers return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs CPU-heavy work (parsing many items, expanding recurrences) on the runtime's
/// blocking pool, so that the async workers go on answering other clients meanwhile.
/// Handlers use it for any work that grows with what they read; a panic in `work`
/// becomes a 500 for this request alone.
pub async fn compute<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DavError> + Send + 'static,
) -> Result<T, DavError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| DavError::internal("the request's work failed").source(e))?
}

/// The validators of a collection's export (a calendar or address book as one file,
/// [`Registrar::collection_get`](crate::Registrar::collection_get)), and whether the
/// client already has it (RFC 9110 §13.1): the ETag follows the collection's sync
/// token, `Last-Modified` is the latest change among the collection and its `members`.
/// `If-None-Match` decides when sent, else `If-Modified-Since`. Returns the headers to
/// send, and `true` for a 304.
pub fn export_validators(
    request: &http::HeaderMap,
    collection: &Resource,
    members: &[Resource],
) -> (http::HeaderMap, bool) {
    use http::{HeaderValue, header};
    let etag = collection.collection_etag().unwrap_or_default();
    let modified = members
        .iter()
        .map(|m| m.modified)
        .chain([collection.modified])
        .max()
        .unwrap_or(collection.modified);
    let text = |name: &header::HeaderName| request.get(name).and_then(|v| v.to_str().ok());
    let fresh = match text(&header::IF_NONE_MATCH) {
        Some(tags) => tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        None => text(&header::IF_MODIFIED_SINCE)
            .and_then(|d| httpdate::parse_http_date(d).ok())
            // Not modified since: no later than that second (dates have no fractions).
            .is_some_and(|since| {
                modified
                    .duration_since(since)
                    .map_or(true, |newer| newer.as_secs() == 0)
            }),
    };
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
        headers.insert(header::LAST_MODIFIED, v);
    }
    (headers, fresh)
}

/// What a report, method or route handler returns.
pub type HandlerResult = Result<Response<Body>, DavError>;

/// The `Depth` header (RFC 4918 §10.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// `Depth: 0`.
    Zero,
    /// `Depth: 1`.
    One,
    /// `Depth: infinity`.
    Infinity,
}

/// A request handed to a plugin's report, method or route handler.
#[derive(Debug)]
pub struct DavRequest {
    /// Method, URI and headers.
    pub parts: Parts,
    /// The whole body, already bounded by the server's body limit.
    pub body: Bytes,
    /// The decoded path below the root.
    pub path: String,
    /// The resource at the path, if it exists (and is visible to the principal).
    pub resource: Option<Resource>,
    /// The authenticated user, if any.
    pub principal: Option<Principal>,
    /// The `Depth` header, if given and valid.
    pub depth: Option<Depth>,
    /// The client asked for `Prefer: return=minimal` (or Apple's `Brief: t`): hand it
    /// to [`Multistatus::minimal`](crate::Multistatus::minimal).
    pub minimal: bool,
    /// The core's read API, scoped to `principal`: what they may not read does not
    /// exist through it (see the guide on reports, methods and routes).
    pub store: Arc<dyn Store>,
    /// For a route registered with [`Registrar::streaming_route`](crate::Registrar::streaming_route):
    /// the request body as it arrives (then `body` is empty). `None` otherwise.
    pub stream: Option<Stream>,
}

/// A request body as it arrives ([`DavRequest::stream`]). Wrapped so that a request
/// can be shared between threads while its handler runs.
#[derive(Debug)]
pub struct Stream(std::sync::Mutex<Body>);

impl Stream {
    /// Wraps a body.
    pub fn new(body: Body) -> Self {
        Stream(std::sync::Mutex::new(body))
    }

    /// The body, to read.
    pub fn into_body(self) -> Body {
        self.0.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

/// The settings of collections by path, answered from memory: what decisions that
/// depend on a resource's ancestors (inherited access rules) look up.
pub trait Configs {
    /// The settings of the collection at a decoded path (`""` is the root), if there
    /// is one.
    fn config(&self, path: &str) -> Option<Arc<CollectionConfig>>;
}

/// The core's API for plugins: resolution and reads, all answered from the index
/// except [`Store::read`].
pub trait Store: Configs + Send + Sync + fmt::Debug {
    /// The resource at a decoded path, if it exists.
    fn resource(&self, path: &str) -> Option<Resource>;
    /// The members of a collection, in name order.
    fn members(&self, path: &str) -> Vec<Resource>;
    /// The members of a collection for which `keep(is_collection, summary)` holds, in
    /// name order. The test runs on the index's entries, so reports that rule items out
    /// by their summaries pay nothing for the ones they drop.
    fn members_where(
        &self,
        path: &str,
        keep: &dyn Fn(bool, Option<&Summary>) -> bool,
    ) -> Vec<Resource> {
        self.members(path)
            .into_iter()
            .filter(|r| keep(r.is_collection, r.summary.as_deref()))
            .collect()
    }
    /// The members of a collection whose summary has this UID (for `no-uid-conflict`),
    /// in name order; answered from an index, not a pass over the members.
    fn members_with_uid(&self, path: &str, uid: &str) -> Vec<Resource>;
    /// The bytes of a file.
    fn read(&self, path: &str) -> BoxFuture<'_, Result<Bytes, DavError>>;
    /// The bytes of many files, read in one batch off the async threads (reports that
    /// read candidates one after another pay a thread hop per file otherwise). A file
    /// that cannot be read gives `None` in its place.
    fn read_many(&self, paths: Vec<String>) -> BoxFuture<'_, Vec<Option<Bytes>>>;
    /// The decoded path an href (absolute URL or path, with the base path) names, if it
    /// lies inside the served tree.
    fn path_of_href(&self, href: &str) -> Option<String>;
    /// The href clients use for a path.
    fn href_of(&self, path: &str, is_collection: bool) -> String;
    /// The item an href in a multiget names: 404 when there is none (or it is a
    /// collection), 403 when it lies outside `within`, the collection the report was
    /// sent to.
    fn item_of_href(&self, href: &str, within: &Resource) -> Result<Resource, http::StatusCode> {
        let path = self.path_of_href(href).ok_or(http::StatusCode::NOT_FOUND)?;
        if !within.contains(&path) {
            return Err(http::StatusCode::FORBIDDEN);
        }
        self.resource(&path)
            .filter(|r| !r.is_collection)
            .ok_or(http::StatusCode::NOT_FOUND)
    }
    /// Every collection that has a kind (calendars, address books …), in path order.
    /// It costs every collection of the server: to look in one user's home, ask
    /// [`Store::collections_within`].
    fn collections(&self) -> Vec<Resource>;
    /// The collections that have a kind at or below `folder` (all of them for `""`), in
    /// path order; the core finds them without looking at the others.
    fn collections_within(&self, folder: &str) -> Vec<Resource> {
        self.collections()
            .into_iter()
            .filter(|c| crate::path::within(&c.path, folder))
            .collect()
    }
    /// The paths of the collections the plugins share with `user`
    /// ([`Registrar::shares`](crate::Registrar::shares)): what their home shows of other
    /// homes, as opposed to all that is open to them on a server without access rules.
    fn shared_with(&self, user: &str) -> Vec<String> {
        let _ = user;
        Vec::new()
    }
    /// The items a multiget names, in the order given, each with its bytes when
    /// `read` (one batch read for all): an href naming nothing or a collection is 404,
    /// one outside `within` 403 ([`Store::item_of_href`]), an item gone before it
    /// could be read 404.
    fn multiget_items<'a>(
        &'a self,
        hrefs: Vec<String>,
        within: &'a Resource,
        read: bool,
    ) -> BoxFuture<'a, Vec<MultigetItem>> {
        Box::pin(async move {
            let found: Vec<(String, Result<Resource, http::StatusCode>)> = hrefs
                .into_iter()
                .map(|href| {
                    let item = self.item_of_href(&href, within);
                    (href, item)
                })
                .collect();
            let mut bytes = if read {
                let paths = found
                    .iter()
                    .filter_map(|(_, r)| r.as_ref().ok().map(|r| r.path.clone()))
                    .collect();
                self.read_many(paths).await.into_iter()
            } else {
                Vec::new().into_iter()
            };
            found
                .into_iter()
                .map(|(href, item)| {
                    let item = item.and_then(|r| match read {
                        false => Ok((r, None)),
                        true => match bytes.next().flatten() {
                            Some(b) => Ok((r, Some(b))),
                            None => Err(http::StatusCode::NOT_FOUND),
                        },
                    });
                    (href, item)
                })
                .collect()
        })
    }
    /// The namespace prefixes to declare on multistatus roots.
    fn prefixes(&self) -> Vec<(&'static str, &'static str)>;
    /// The members of a collection changed since a sync token (RFC 6578 §3): with no
    /// token, every member; with `infinite`, the whole subtree; at most `limit` of them
    /// (then `truncated` is set and the token returned resumes after the last one).
    /// Resources the principal may not see are left out. An unknown or expired token is
    /// 403 with `DAV:valid-sync-token`.
    fn changes(
        &self,
        collection: &str,
        token: Option<&str>,
        infinite: bool,
        limit: Option<usize>,
        principal: Option<&Principal>,
    ) -> Result<SyncChanges, DavError>;
    /// Whether a user may see a resource in listings (every plugin's member filter
    /// agrees, as for PROPFIND and sync-collection).
    fn visible(&self, resource: &Resource, principal: Option<&Principal>) -> bool;
    /// The named properties of a resource, grouped by status (200 and 404), as the core
    /// answers them in PROPFIND.
    fn propstats(
        &self,
        resource: &Resource,
        names: &[Name],
        principal: Option<&Principal>,
    ) -> Vec<PropStat> {
        self.query_propstats(resource, &PropQuery::Prop(names.to_vec()), principal)
    }
    /// What a [`PropQuery`] asks of a resource (named properties, `allprop`,
    /// `propname`), grouped by status, as the core answers it in PROPFIND.
    fn query_propstats(
        &self,
        resource: &Resource,
        query: &PropQuery,
        principal: Option<&Principal>,
    ) -> Vec<PropStat>;
    /// Creates a collection: a folder and its `.dav.toml`, as MKCOL and MKCALENDAR do.
    /// Fails with 405 `DAV:resource-must-be-null` when something exists there, 409
    /// without a parent folder, 403 `DAV:cannot-modify-protected-property` for a
    /// protected property; nothing is created then.
    fn make_collection<'a>(&'a self, new: NewCollection<'a>)
    -> BoxFuture<'a, Result<(), DavError>>;

    /// The bytes at or below `path`, from the index: the sizes of the files the tree
    /// serves and of the folders' settings files (which hold dead properties), and
    /// what uploads in flight there have received or declared. Quotas use it.
    fn usage(&self, path: &str) -> u64;

    /// The bytes still available to the server on the file system holding the tree,
    /// where it can tell.
    fn free_space(&self) -> Option<u64>;

    /// Answers a request as the server would answer it from this store's principal
    /// (the scoped store every handler gets) over the network: the same checks run
    /// (access, locks, quotas, the write checks of plugins) and the same observers hear
    /// it. A plugin that acts for a user (the web page's forms) writes through it.
    /// The principal in the request's extensions is replaced by the store's. The path
    /// may be an href as the server writes them (behind a proxy, with its prefix).
    fn request(&self, request: http::Request<Body>) -> BoxFuture<'_, Response<Body>>;

    /// The store as another user sees it, for what the server does on a user's behalf
    /// rather than at a request's bidding: scheduling reads an attendee's calendars for
    /// their free-busy times and delivers an invitation into their inbox with their
    /// authority. A request's own reads and writes go through the store it was given;
    /// a plugin using this decides itself what the requester may learn of the answer.
    /// `None` only while the server is being dropped.
    fn acting_for(&self, user: Principal) -> Option<Arc<dyn Store>>;

    /// Makes ready what a user's first request would (the first-request hooks: their
    /// home, calendar, address book, inbox), if this process has not yet: for what the
    /// server delivers to a user who has never signed in (an invitation).
    fn welcome(&self, user: Principal) -> BoxFuture<'_, Result<(), DavError>>;

    /// Creates an empty file, as a PUT of no bytes would (the write checks of its
    /// folder run; observers hear `method`): LOCK on an unmapped URL (RFC 4918 §7.3).
    /// Fails with 405 when something exists there, 409 without a parent folder, 403
    /// for a hidden name; returns the new file.
    fn create_file<'a>(
        &'a self,
        path: &'a str,
        method: &'a str,
        principal: Option<&'a Principal>,
    ) -> BoxFuture<'a, Result<Resource, DavError>>;
}

/// One href of a multiget ([`Store::multiget_items`]): the item and its bytes, or the
/// status to answer for the href.
pub type MultigetItem = (String, Result<(Resource, Option<Bytes>), http::StatusCode>);

/// A collection to create with [`Store::make_collection`].
#[derive(Debug)]
pub struct NewCollection<'a> {
    /// The decoded path of the new folder.
    pub path: &'a str,
    /// Its kind (`"calendar"`), or `None` for a plain collection.
    pub kind: Option<&'a str>,
    /// Lists of strings to store at key paths of `.dav.toml` (`["caldav", "components"]`).
    pub lists: Vec<(Vec<String>, Vec<String>)>,
    /// Properties to set, as PROPPATCH would: stored live properties go to their keys,
    /// others become dead properties.
    pub props: Vec<dirdav_xml::Element>,
    /// The method creating it, for observers (`MKCALENDAR`).
    pub method: &'a str,
    /// Who creates it.
    pub principal: Option<&'a Principal>,
}

/// What changed in a collection since a sync token.
#[derive(Debug, Clone)]
pub struct SyncChanges {
    /// The token describing the state after these changes.
    pub token: String,
    /// Members that were added or changed, as they are now.
    pub changed: Vec<Resource>,
    /// Hrefs of members that were removed.
    pub removed: Vec<String>,
    /// More changes remain; ask again with `token`.
    pub truncated: bool,
}

/// An async handler for a REPORT, an extra method or an extra route.
///
/// Any `Fn(DavRequest) -> impl Future<Output = HandlerResult>` is one.
pub trait Handler: Send + Sync + 'static {
    /// Handles the request.
    fn call(&self, request: DavRequest) -> BoxFuture<'static, HandlerResult>;
}

impl<F, Fut> Handler for F
where
    F: Fn(DavRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    fn call(&self, request: DavRequest) -> BoxFuture<'static, HandlerResult> {
        Box::pin(self(request))
    }
}

/// A shared handler.
pub type SharedHandler = Arc<dyn Handler>;
