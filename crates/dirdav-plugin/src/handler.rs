use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum_core::body::Body;
use bytes::Bytes;
use http::{Response, request::Parts};

use crate::{DavError, Principal, Resource};

/// A boxed, sendable future, as handlers return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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
    /// The core's read API.
    pub store: Arc<dyn Store>,
}

/// The core's API for plugins: resolution and reads, all answered from the index
/// except [`Store::read`].
pub trait Store: Send + Sync + fmt::Debug {
    /// The resource at a decoded path, if it exists.
    fn resource(&self, path: &str) -> Option<Resource>;
    /// The members of a collection, in name order.
    fn members(&self, path: &str) -> Vec<Resource>;
    /// The bytes of a file.
    fn read(&self, path: &str) -> BoxFuture<'_, Result<Bytes, DavError>>;
    /// The decoded path an href (absolute URL or path, with the base path) names, if it
    /// lies inside the served tree.
    fn path_of_href(&self, href: &str) -> Option<String>;
    /// The href clients use for a path.
    fn href_of(&self, path: &str, is_collection: bool) -> String;
    /// The namespace prefixes to declare on multistatus roots.
    fn prefixes(&self) -> Vec<(&'static str, &'static str)>;
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
