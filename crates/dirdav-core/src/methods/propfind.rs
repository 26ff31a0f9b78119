//! PROPFIND (RFC 4918 §9.1), answered from the index alone.

use std::sync::Arc;

use axum::response::Response;
use dirdav_plugin::http::{HeaderValue, header};
use dirdav_plugin::xml::{Limits, Name, ns, parse};
use dirdav_plugin::{DavError, Depth, Multistatus, Principal, PropContext, Resource};

use crate::context::{Ctx, Inner};
use crate::props::{PropRequest, propstats};

const PROPFIND: Name = Name::new(ns::DAV, "propfind");
const FINITE_DEPTH: Name = Name::new(ns::DAV, "propfind-finite-depth");

/// Parses a PROPFIND body; an empty body means `allprop`.
pub(crate) fn parse_request(body: &[u8]) -> Result<PropRequest, DavError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(PropRequest::AllProp(Vec::new()));
    }
    let root = parse(body, &Limits::default())?;
    if root.name != PROPFIND {
        return Err(DavError::bad_request(format!(
            "expected DAV:propfind, got {}",
            root.name
        )));
    }
    PropRequest::of(&root)
        .ok_or_else(|| DavError::bad_request("DAV:propfind needs prop, allprop or propname"))
}

/// `Prefer: return=minimal` (RFC 7240) or `Brief: t` (Apple): leave out the 404s.
fn wants_minimal(ctx: &Ctx) -> bool {
    super::prefers_minimal(&ctx.parts.headers)
}

pub(crate) fn propfind(
    srv: &Arc<Inner>,
    ctx: &Ctx,
    resource: Option<Resource>,
    body: &[u8],
) -> Result<Response, DavError> {
    let resource = resource.ok_or_else(DavError::not_found)?;
    let principal = ctx.principal.as_ref();
    if !srv.registry.visible(&resource, principal, &*srv.index()) {
        return Err(DavError::not_found());
    }
    let depth = ctx.depth()?.unwrap_or(Depth::Infinity);
    let request = parse_request(body)?;
    let minimal = wants_minimal(ctx);
    if depth == Depth::One
        && ctx.merged.is_none()
        && !ctx.computed
        && resource.is_collection
        && !is_home(&resource)
    {
        return Ok(paged_listing(srv, ctx, resource, &request, minimal));
    }
    let resources: Vec<Resource> = if let Some(view) = &ctx.merged {
        // A merged collection has members one level down only.
        let mut list = vec![resource];
        if depth != Depth::Zero {
            let members = srv.merged_members(view, &|_, _| true);
            let index = srv.index();
            let mut visibility = srv.registry.visibility(principal, &*index);
            list.extend(members.into_iter().filter(|r| visibility.sees(r)));
        }
        list
    } else if ctx.computed {
        // A view has members one level down only.
        let mut list = vec![resource];
        if depth != Depth::Zero {
            let members = srv.view_members(&list[0].path, &|_, _| true);
            let index = srv.index();
            let mut visibility = srv.registry.visibility(principal, &*index);
            list.extend(members.into_iter().filter(|r| visibility.sees(r)));
        }
        list
    } else {
        let index = srv.index();
        let list: Vec<Resource> = match depth {
            Depth::Zero => vec![resource],
            Depth::One => {
                // Members come with their entries: no second lookup for each.
                let members = srv.members_in(&index, &resource.path, &|_, _| true);
                std::iter::once(resource).chain(members).collect()
            }
            Depth::Infinity => {
                let limit = srv.config.max_propfind_infinity;
                if index.count_within(&resource.path, limit) > limit {
                    return Err(
                        DavError::forbidden(format!("more than {limit} resources below"))
                            .condition(FINITE_DEPTH),
                    );
                }
                index
                    .subtree(&resource.path)
                    .filter_map(|(k, _)| srv.resource_in(&index, k))
                    .collect()
            }
        };
        let mut visibility = srv.registry.visibility(principal, &*index);
        list.into_iter().filter(|r| visibility.sees(r)).collect()
    };
    let mut resources: Vec<Resource> = resources
        .into_iter()
        .map(|r| share_labelled(ctx, r))
        .collect();
    if depth == Depth::One
        && let Some(home) = resources.first()
    {
        let shared = shared_members(srv, home, principal);
        let home = is_home(home).then(|| home.path.clone());
        resources.extend(shared);
        if let Some(home) = &home {
            // Listed before the index is taken: making a view takes it.
            let views = srv.views_listing(home);
            let index = srv.index();
            let views: Vec<Resource> = views
                .into_iter()
                .filter(|r| srv.registry.visible(r, principal, &*index))
                .collect();
            drop(index);
            resources.extend(views);
        }
        if let Some(home) = home
            && ctx.merged.is_none()
        {
            let (merged, instead) = srv.merged_listing(&home, ctx.header("user-agent"));
            let index = srv.index();
            let merged: Vec<Resource> = merged
                .into_iter()
                .filter(|r| srv.registry.visible(r, principal, &*index))
                .collect();
            drop(index);
            if !merged.is_empty() {
                resources.retain(|r| !(r.is_collection && instead.contains(&r.path)));
                resources.extend(merged);
            }
        }
    }
    let mut ms = Multistatus::new(&srv.registry.prefixes);
    for r in &resources {
        write(srv, &mut ms, r, principal, &request, minimal);
    }
    Ok(finish(ms, minimal))
}

/// How many members a long listing builds at a time.
const PAGE: usize = 256;

/// Depth 1 on a folder that is not a home (a calendar, an address book, a folder of
/// files): written a page of members at a time, so that a listing of 10,000 items
/// never holds 10,000 resources at once. (A home's listing also gains shared and
/// merged collections, and is short: it takes the general path.)
fn paged_listing(
    srv: &Arc<Inner>,
    ctx: &Ctx,
    resource: Resource,
    request: &PropRequest,
    minimal: bool,
) -> Response {
    let principal = ctx.principal.as_ref();
    let mut ms = Multistatus::new(&srv.registry.prefixes);
    let top = share_labelled(ctx, resource);
    write(srv, &mut ms, &top, principal, request, minimal);
    let mut after: Option<String> = None;
    loop {
        let page: Vec<Resource> = {
            let index = srv.index();
            let page = srv.members_page(&index, &top.path, after.as_deref(), PAGE, &|_, _| true);
            after = page.last().map(|r| r.path.clone());
            let mut visibility = srv.registry.visibility(principal, &*index);
            page.into_iter().filter(|r| visibility.sees(r)).collect()
        };
        for r in &page {
            write(srv, &mut ms, r, principal, request, minimal);
        }
        if after.is_none() {
            break;
        }
    }
    finish(ms, minimal)
}

/// The resource as shown through the share the request came by: the shared collection
/// under the name its share gives it.
fn share_labelled(ctx: &Ctx, resource: Resource) -> Resource {
    match &ctx.share_label {
        Some((target, label)) if resource.path == *target => {
            crate::shares::labelled(resource, label)
        }
        _ => resource,
    }
}

/// Writes one resource's response.
fn write(
    srv: &Arc<Inner>,
    ms: &mut Multistatus,
    resource: &Resource,
    principal: Option<&Principal>,
    request: &PropRequest,
    minimal: bool,
) {
    let pctx = PropContext {
        resource,
        principal,
        registry: &srv.registry,
        store: srv.as_ref(),
    };
    ms.propstats(&resource.href, &propstats(&pctx, request, minimal));
}

/// The finished answer, with the headers saying how `Prefer` was read.
fn finish(ms: Multistatus, minimal: bool) -> Response {
    let mut response = ms.into_response();
    if minimal {
        Multistatus::say_minimal(response.headers_mut());
    } else {
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Brief, Prefer"));
    }
    response
}

/// Whether a resource is a top-level folder, the place of a user's home.
fn is_home(resource: &Resource) -> bool {
    resource.is_collection && !resource.path.is_empty() && !resource.path.contains('/')
}

/// The collections shared with the user whose home `home` is, shown among its members
/// under their share names (RFC-wise ordinary members; on disk they live elsewhere).
fn shared_members(
    srv: &Arc<Inner>,
    home: &Resource,
    principal: Option<&Principal>,
) -> Vec<Resource> {
    if !is_home(home) || srv.registry.shares.is_empty() {
        return Vec::new();
    }
    let shares = srv.shares_for(&home.path);
    let index = srv.index();
    shares
        .iter()
        .filter(|s| index.get(&format!("{}/{}", home.path, s.name)).is_none())
        .filter_map(|s| {
            let mut r = srv.resource_in(&index, &s.target)?;
            if let Some(label) = &s.displayname {
                r = crate::shares::labelled(r, label);
            }
            r.href = srv.href(&format!("{}/{}", home.path, s.name), true);
            Some(r)
        })
        .filter(|r| r.is_collection && srv.registry.visible(r, principal, &*index))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        let p = parse_request(
            br#"<propfind xmlns="DAV:"><prop><getetag/><x xmlns="urn:x"/></prop></propfind>"#,
        )
        .unwrap();
        assert!(
            matches!(p, PropRequest::Prop(ref n) if n.len() == 2 && n[1] == Name::new("urn:x", "x"))
        );
        let a = parse_request(br#"<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:supported-report-set/></D:include></D:propfind>"#).unwrap();
        assert!(matches!(a, PropRequest::AllProp(ref n) if n.len() == 1));
        assert!(matches!(
            parse_request(b"").unwrap(),
            PropRequest::AllProp(_)
        ));
        assert!(matches!(
            parse_request(br#"<propfind xmlns="DAV:"><propname/></propfind>"#).unwrap(),
            PropRequest::PropName
        ));
    }

    #[test]
    fn refuses_malformed_requests() {
        for bad in [
            &b"<propfind xmlns='DAV:'>"[..],
            b"<foo xmlns='DAV:'/>",
            b"<propfind xmlns='DAV:'/>",
        ] {
            assert_eq!(parse_request(bad).unwrap_err().status().as_u16(), 400);
        }
    }
}
