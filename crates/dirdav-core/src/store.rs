//! The store the plugins see ([`Store`]): the core's own, and the one a plugin's
//! request gets, limited to what its principal may read ([`Scoped`]).
//!
//! Every request a plugin handles (a report, a method, a route, a collection's GET)
//! gets a [`Scoped`] store. What the principal may not read, by every plugin's member
//! filter ([`Registry::visible`](dirdav_plugin::Registry::visible), the same test
//! PROPFIND lists by and GET answers 404 by), does not exist through it: `resource` is
//! `None`, listings leave it out, `read` is 404, a multiget href naming it is 404, and a
//! sync answer neither lists it nor names it when it is gone. A new report cannot forget
//! the check, because it has no other way to reach the tree.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use dirdav_plugin::http::StatusCode;
use dirdav_plugin::{
    BoxFuture, CollectionConfig, Configs, DavError, DavRequest, NewCollection, Principal,
    PropContext, PropQuery, PropStat, Resource, Store, Summary, SyncChanges,
};

use crate::context::Inner;
use crate::methods;
use crate::props::{PropRequest, propstats};

impl Inner {
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
            store: Arc::new(Scoped::new(self.clone(), principal.clone())),
            principal,
            stream: None,
        }
    }
}

impl Configs for Inner {
    fn config(&self, path: &str) -> Option<Arc<CollectionConfig>> {
        let config = self.index().config(path);
        config.or_else(|| self.view_at(path).map(|(_, view)| self.view_config(view)))
    }
}

impl Store for Inner {
    fn resource(&self, path: &str) -> Option<Resource> {
        let found = self.resource_in(&self.index(), path);
        found
            .or_else(|| {
                self.merged_at(path)
                    .and_then(|view| self.merged_resource(&view))
            })
            .or_else(|| self.view_resource(path))
            .or_else(|| self.view_member(path))
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
                None => self.view_members(path, keep),
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
        if let Some(made) = self.view_bytes(path) {
            return Box::pin(async move { Ok(made) });
        }
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
        // Members of views are held in memory; everything else is a file.
        let made: Vec<Option<Bytes>> = match self.registry.views.is_empty() {
            true => vec![None; paths.len()],
            false => paths.iter().map(|p| self.view_bytes(p)).collect(),
        };
        Box::pin(async move {
            if made.iter().all(Option::is_some) {
                return made;
            }
            tokio::task::spawn_blocking(move || {
                paths
                    .iter()
                    .zip(made)
                    .map(|(p, made)| {
                        made.or_else(|| {
                            root.file(p)
                                .and_then(crate::storage::read_all)
                                .ok()
                                .map(Bytes::from)
                        })
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

    fn shared_with(&self, user: &str) -> Vec<String> {
        self.shares_for(user)
            .iter()
            .map(|s| s.target.clone())
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
        self.sync_changes(collection, token, infinite, limit, principal)
    }

    fn make_collection<'a>(
        &'a self,
        new: NewCollection<'a>,
    ) -> BoxFuture<'a, Result<(), DavError>> {
        Box::pin(methods::mkcol::create(self, new))
    }

    fn acting_for(&self, user: Principal) -> Option<Arc<dyn Store>> {
        let me = self.me.upgrade()?;
        Some(Arc::new(Scoped::new(me, Some(user))))
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

/// The core's [`Store`] limited to what one principal may read.
#[derive(Debug)]
pub(crate) struct Scoped {
    inner: Arc<Inner>,
    principal: Option<Principal>,
}

impl Scoped {
    pub(crate) fn new(inner: Arc<Inner>, principal: Option<Principal>) -> Scoped {
        Scoped { inner, principal }
    }

    fn sees(&self, resource: &Resource) -> bool {
        self.inner.visible(resource, self.principal.as_ref())
    }

    /// Keeps the resources the principal sees, deciding them all under one look at the
    /// index.
    fn keep_seen(&self, mut list: Vec<Resource>) -> Vec<Resource> {
        if self.inner.registry.member_filters.is_empty() {
            return list;
        }
        let index = self.inner.index();
        let mut visibility = self
            .inner
            .registry
            .visibility(self.principal.as_ref(), &*index);
        list.retain(|r| visibility.sees(r));
        list
    }

    /// Whether a path names something the principal may read.
    fn readable(&self, path: &str) -> bool {
        self.inner.resource(path).is_some_and(|r| self.sees(&r))
    }
}

impl Configs for Scoped {
    fn config(&self, path: &str) -> Option<Arc<CollectionConfig>> {
        self.inner.config(path)
    }
}

impl Store for Scoped {
    fn resource(&self, path: &str) -> Option<Resource> {
        self.inner.resource(path).filter(|r| self.sees(r))
    }

    fn members(&self, path: &str) -> Vec<Resource> {
        self.keep_seen(self.inner.members(path))
    }

    fn members_where(
        &self,
        path: &str,
        keep: &dyn Fn(bool, Option<&Summary>) -> bool,
    ) -> Vec<Resource> {
        self.keep_seen(self.inner.members_where(path, keep))
    }

    fn members_with_uid(&self, path: &str, uid: &str) -> Vec<Resource> {
        self.keep_seen(self.inner.members_with_uid(path, uid))
    }

    fn read(&self, path: &str) -> BoxFuture<'_, Result<Bytes, DavError>> {
        if !self.readable(path) {
            return Box::pin(async { Err(DavError::not_found()) });
        }
        self.inner.read(path)
    }

    fn read_many(&self, paths: Vec<String>) -> BoxFuture<'_, Vec<Option<Bytes>>> {
        let allowed: Vec<bool> = paths.iter().map(|p| self.readable(p)).collect();
        let wanted: Vec<String> = paths
            .into_iter()
            .zip(&allowed)
            .filter(|(_, ok)| **ok)
            .map(|(p, _)| p)
            .collect();
        Box::pin(async move {
            let mut read = self.inner.read_many(wanted).await.into_iter();
            allowed
                .into_iter()
                .map(|ok| if ok { read.next().flatten() } else { None })
                .collect()
        })
    }

    fn path_of_href(&self, href: &str) -> Option<String> {
        self.inner.path_of_href(href)
    }

    fn href_of(&self, path: &str, is_collection: bool) -> String {
        self.inner.href_of(path, is_collection)
    }

    fn item_of_href(&self, href: &str, within: &Resource) -> Result<Resource, StatusCode> {
        self.inner
            .item_of_href(href, within)
            .and_then(|r| match self.sees(&r) {
                true => Ok(r),
                false => Err(StatusCode::NOT_FOUND),
            })
    }

    fn collections(&self) -> Vec<Resource> {
        self.keep_seen(self.inner.collections())
    }

    fn collections_within(&self, folder: &str) -> Vec<Resource> {
        self.keep_seen(self.inner.collections_within(folder))
    }

    fn shared_with(&self, user: &str) -> Vec<String> {
        let shared = self.inner.shared_with(user);
        shared.into_iter().filter(|p| self.readable(p)).collect()
    }

    fn prefixes(&self) -> Vec<(&'static str, &'static str)> {
        self.inner.prefixes()
    }

    /// Answered for the scope's principal, whichever principal the caller names.
    fn changes(
        &self,
        collection: &str,
        token: Option<&str>,
        infinite: bool,
        limit: Option<usize>,
        _principal: Option<&Principal>,
    ) -> Result<SyncChanges, DavError> {
        self.inner
            .changes(collection, token, infinite, limit, self.principal.as_ref())
    }

    fn visible(&self, resource: &Resource, principal: Option<&Principal>) -> bool {
        self.inner.visible(resource, principal)
    }

    fn query_propstats(
        &self,
        resource: &Resource,
        query: &PropQuery,
        principal: Option<&Principal>,
    ) -> Vec<PropStat> {
        self.inner.query_propstats(resource, query, principal)
    }

    fn make_collection<'a>(
        &'a self,
        new: NewCollection<'a>,
    ) -> BoxFuture<'a, Result<(), DavError>> {
        self.inner.make_collection(new)
    }

    fn acting_for(&self, user: Principal) -> Option<Arc<dyn Store>> {
        Some(Arc::new(Scoped::new(self.inner.clone(), Some(user))))
    }

    fn welcome(&self, user: Principal) -> BoxFuture<'_, Result<(), DavError>> {
        Store::welcome(&*self.inner, user)
    }

    fn request(
        &self,
        mut request: dirdav_plugin::http::Request<dirdav_plugin::Body>,
    ) -> BoxFuture<'_, dirdav_plugin::http::Response<dirdav_plugin::Body>> {
        match &self.principal {
            Some(p) => request.extensions_mut().insert(p.clone()),
            None => request.extensions_mut().remove::<Principal>(),
        };
        Box::pin(async move { self.inner.answer_inside(request).await })
    }

    fn create_file<'a>(
        &'a self,
        path: &'a str,
        method: &'a str,
        principal: Option<&'a Principal>,
    ) -> BoxFuture<'a, Result<Resource, DavError>> {
        self.inner.create_file(path, method, principal)
    }

    /// Every file counts, seen or not: a quota is about the bytes a folder holds.
    fn usage(&self, path: &str) -> u64 {
        self.inner.usage(path)
    }

    fn free_space(&self) -> Option<u64> {
        self.inner.free_space()
    }
}
