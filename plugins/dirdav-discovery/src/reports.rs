//! Two REPORTs clients use to walk from a principal to what it points at:
//!
//! - `DAV:expand-property` (RFC 3253 §3.8), asked for by Apple clients and InfCloud:
//!   properties of the target, where a property asked for with nested properties has
//!   each of its `DAV:href` values replaced by a `DAV:response` holding those properties
//!   of the resource named (to a bounded depth).
//! - `DAV:principal-match` (RFC 3744 §9.3): with `DAV:self`, the current user's
//!   principal if it lies in the target collection; with `DAV:principal-property`, the
//!   members of the target (at any depth) whose named property holds an href of the
//!   current user's principal (for example `DAV:owner`).
//!
//! Both answer only resources the user may see; others are 404, as if absent.

use dirdav_plugin::http::StatusCode;
use dirdav_plugin::xml::{Element, Limits, Name, Node, ns, parse};
use dirdav_plugin::{
    DavError, DavRequest, HandlerResult, Multistatus, PropStat, Resource, Store, status_line,
};

/// The report roots.
pub(crate) const EXPAND_PROPERTY: Name = Name::new(ns::DAV, "expand-property");
pub(crate) const PRINCIPAL_MATCH: Name = Name::new(ns::DAV, "principal-match");

const PROPERTY: Name = Name::new(ns::DAV, "property");
const HREF: Name = Name::new(ns::DAV, "href");
const PROP: Name = Name::new(ns::DAV, "prop");
/// How deep `property` elements may nest: enough for principal → proxy group →
/// member, and a bound on the work one request can ask for.
const MAX_DEPTH: usize = 4;

/// One `DAV:property` of an expand-property request.
#[derive(Debug)]
struct Wanted {
    name: Name,
    nested: Vec<Wanted>,
}

fn wanted(e: &Element, depth: usize) -> Result<Vec<Wanted>, DavError> {
    if depth > MAX_DEPTH {
        return Err(DavError::forbidden(format!(
            "expand-property nests more than {MAX_DEPTH} levels"
        )));
    }
    e.elements()
        .filter(|c| c.name == PROPERTY)
        .map(|c| {
            let attr = |n: &str| c.get_attr(&Name::owned("", n));
            let local = attr("name")
                .filter(|n| !n.is_empty())
                .ok_or_else(|| DavError::bad_request("DAV:property needs a name"))?;
            Ok(Wanted {
                name: Name::owned(attr("namespace").unwrap_or(ns::DAV), local),
                nested: wanted(c, depth + 1)?,
            })
        })
        .collect()
}

fn response_element(href: String, body: Vec<Element>) -> Element {
    let mut response =
        Element::new(Name::new(ns::DAV, "response")).child_element(Element::with_text(HREF, href));
    for e in body {
        response = response.child_element(e);
    }
    response
}

fn propstat_element(stat: &PropStat) -> Element {
    let mut prop = Element::new(PROP);
    for p in &stat.props {
        prop = prop.child_element(p.clone());
    }
    Element::new(Name::new(ns::DAV, "propstat"))
        .child_element(prop)
        .child_element(Element::with_text(
            Name::new(ns::DAV, "status"),
            status_line(stat.status),
        ))
}

/// The properties of a resource, each href of a property asked for with nested
/// properties replaced by the response for the resource it names.
fn expanded(
    store: &dyn Store,
    resource: &Resource,
    wanted: &[Wanted],
    principal: Option<&dirdav_plugin::Principal>,
) -> Vec<PropStat> {
    let names: Vec<Name> = wanted.iter().map(|w| w.name.clone()).collect();
    let mut stats = store.propstats(resource, &names, principal);
    for stat in stats.iter_mut().filter(|s| s.status == StatusCode::OK) {
        for prop in &mut stat.props {
            let Some(w) = wanted.iter().find(|w| w.name == prop.name) else {
                continue;
            };
            if w.nested.is_empty() {
                continue;
            }
            for child in &mut prop.children {
                let Node::Element(e) = child else { continue };
                if e.name != HREF {
                    continue;
                }
                let href = e.text().trim().to_owned();
                let target = store
                    .path_of_href(&href)
                    .and_then(|p| store.resource(&p))
                    .filter(|r| store.visible(r, principal));
                let body = match target {
                    Some(r) => expanded(store, &r, &w.nested, principal)
                        .iter()
                        .map(propstat_element)
                        .collect(),
                    None => vec![Element::with_text(
                        Name::new(ns::DAV, "status"),
                        status_line(StatusCode::NOT_FOUND),
                    )],
                };
                *e = response_element(href, body);
            }
        }
    }
    stats
}

/// `DAV:expand-property` on any resource.
pub(crate) async fn expand_property(request: DavRequest) -> HandlerResult {
    let target = request.resource.ok_or_else(DavError::not_found)?;
    let root = parse(&request.body, &Limits::default())?;
    let wanted = wanted(&root, 0)?;
    let store = request.store.as_ref();
    let stats = expanded(store, &target, &wanted, request.principal.as_ref());
    let mut ms = Multistatus::new(&store.prefixes());
    ms.propstats(&target.href, &stats);
    Ok(ms.into_response())
}

/// Every resource at and below a path that the user may see, the path's own first.
fn subtree(
    store: &dyn Store,
    top: &Resource,
    principal: Option<&dirdav_plugin::Principal>,
) -> Vec<Resource> {
    let mut out = vec![top.clone()];
    let mut next = 0;
    while next < out.len() {
        if out[next].is_collection {
            let path = out[next].path.clone();
            out.extend(
                store
                    .members(&path)
                    .into_iter()
                    .filter(|r| store.visible(r, principal)),
            );
        }
        next += 1;
    }
    out
}

/// The principal reports of RFC 3744 §9.3–9.5 are defined for `Depth: 0` (the
/// default of REPORT) only: another depth is 400.
pub(crate) fn depth_zero(request: &DavRequest, report: &str) -> Result<(), DavError> {
    match request.depth {
        None | Some(dirdav_plugin::Depth::Zero) => Ok(()),
        Some(_) => Err(DavError::bad_request(format!(
            "{report} is answered for Depth: 0 only (RFC 3744 §9)"
        ))),
    }
}

/// `DAV:principal-match` on a collection.
pub(crate) async fn principal_match(request: DavRequest) -> HandlerResult {
    depth_zero(&request, "principal-match")?;
    let target = request.resource.ok_or_else(DavError::not_found)?;
    let root = parse(&request.body, &Limits::default())?;
    if root.name != PRINCIPAL_MATCH {
        return Err(DavError::bad_request(
            "the body is not a DAV:principal-match",
        ));
    }
    let principal = request.principal.as_ref();
    let store = request.store.as_ref();
    let Some(user) = principal else {
        return Err(DavError::new(
            StatusCode::UNAUTHORIZED,
            "principal-match needs an authenticated user",
        ));
    };
    let names: Vec<Name> = root
        .child(&PROP)
        .map(|p| p.elements().map(|e| e.name.clone()).collect())
        .unwrap_or_default();
    let own = store.href_of(&user.name, true);
    let matches: Vec<Resource> = if root.child(&Name::new(ns::DAV, "self")).is_some() {
        store
            .resource(&user.name)
            .filter(|r| r.is_collection && target.contains(&r.path))
            .into_iter()
            .collect()
    } else if let Some(by) = root.child(&Name::new(ns::DAV, "principal-property")) {
        let property = by
            .elements()
            .next()
            .map(|e| e.name.clone())
            .ok_or_else(|| DavError::bad_request("principal-property names no property"))?;
        subtree(store, &target, principal)
            .into_iter()
            .filter(|r| {
                store
                    .propstats(r, std::slice::from_ref(&property), principal)
                    .iter()
                    .filter(|s| s.status == StatusCode::OK)
                    .flat_map(|s| s.props.iter())
                    .flat_map(Element::elements)
                    .any(|e| e.name == HREF && e.text().trim() == own)
            })
            .collect()
    } else {
        return Err(DavError::bad_request(
            "principal-match needs DAV:self or DAV:principal-property",
        ));
    };
    let mut ms = Multistatus::new(&store.prefixes());
    for r in matches {
        if names.is_empty() {
            ms.status(&r.href, StatusCode::OK, None);
        } else {
            ms.propstats(&r.href, &store.propstats(&r, &names, principal));
        }
    }
    Ok(ms.into_response())
}
