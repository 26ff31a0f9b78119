//! The dispatcher: resolves a request to a resource (through routes, shares and merged
//! collections), runs the checks every method shares, and hands it to its method: the
//! core's own or a plugin's.

use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use dirdav_plugin::http::{HeaderValue, Method, StatusCode, header};
use dirdav_plugin::{DavError, LockCheck, MethodCheck, Principal, Resource, Touch};

use crate::context::{Ctx, Inner, PREFIX};
use crate::methods;
use crate::path::{self, DavPath};

impl Inner {
    pub(crate) async fn dispatch(self: &Arc<Self>, request: Request) -> Result<Response, DavError> {
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
            computed: false,
        };
        let reading = matches!(ctx.method().as_str(), "PROPFIND" | "REPORT");
        if !ctx.path.hidden {
            self.settle_for(&ctx.key).await;
        }
        if !ctx.path.hidden && reading {
            self.refresh_for(&ctx.key).await;
        }
        if !ctx.path.hidden {
            self.refresh_views_for(&ctx.key, ctx.method().as_str())
                .await;
        }
        let mut resource = if ctx.path.hidden {
            None
        } else {
            self.resource_in(&self.index(), &ctx.key)
        };
        if resource.is_none() && !ctx.path.hidden && self.in_view(&ctx.key) {
            ctx.computed = true;
            resource = self
                .view_resource(&ctx.key)
                .or_else(|| self.view_member(&ctx.key));
        }
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
        let reads_only = matches!(
            ctx.method().as_str(),
            "OPTIONS" | "GET" | "HEAD" | "PROPFIND" | "REPORT"
        );
        if ctx.merged.is_some() && !reads_only {
            return Err(crate::merged::refused(ctx.method().as_str()));
        }
        let into_view = destination.as_deref().is_some_and(|d| self.in_view(d));
        if (ctx.computed && !reads_only) || into_view {
            return Err(crate::viewstate::refused(ctx.method().as_str()));
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
                    None if ctx.computed && !is_collection => {
                        let member = resource.ok_or_else(DavError::not_found)?;
                        let bytes = self.view_bytes(&ctx.key).ok_or_else(DavError::not_found)?;
                        methods::get::made(self, &ctx, &member, bytes)
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
                let resource = resource.ok_or_else(DavError::not_found)?;
                let handler = methods::report::handler_for(self, &resource, &body)?;
                let depth = ctx.depth()?;
                let mut request = self.plugin_request(ctx.parts, body, ctx.key, ctx.principal);
                request.resource = Some(resource);
                request.depth = depth;
                handler.call(request).await
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
    pub(crate) async fn greet(self: &Arc<Self>, principal: &Principal) -> Result<(), DavError> {
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

    /// Answers a request made inside the server ([`Store::request`](dirdav_plugin::Store::request)): as `dispatch`,
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
