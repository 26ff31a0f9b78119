//! Group principals (RFC 3744 §2, §4.3–§4.4) for the `[groups]` of `dirdav.toml`.
//!
//! A group has no folder, so its principal lives at `/.groups/<name>/` (below the base
//! path when there is one), answered by a route: the tree never serves a path starting
//! with `.`, so the route shadows nothing. It answers PROPFIND with its display name,
//! `DAV:principal` resource type, `group-member-set` (the members' principals, which are
//! their homes) and `resource-id`; a user's home answers `group-membership` with the
//! groups that name them.

use std::collections::BTreeMap;
use std::sync::Arc;

use dirdav_plugin::http::{HeaderValue, Response, StatusCode, header};
use dirdav_plugin::xml::{Element, Limits, Name, ns, parse};
use dirdav_plugin::{Body, DavError, DavRequest, HandlerResult, Multistatus, PropStat, Store};

/// The route below which group principals live.
pub(crate) const ROUTE: &str = "/.groups";

pub(crate) const GROUP_MEMBER_SET: Name = Name::new(ns::DAV, "group-member-set");
pub(crate) const GROUP_MEMBERSHIP: Name = Name::new(ns::DAV, "group-membership");
pub(crate) const RESOURCE_ID: Name = Name::new(ns::DAV, "resource-id");
const HREF: Name = Name::new(ns::DAV, "href");
const RESOURCETYPE: Name = Name::new(ns::DAV, "resourcetype");
const DISPLAYNAME: Name = Name::new(ns::DAV, "displayname");
const PRINCIPAL_URL: Name = Name::new(ns::DAV, "principal-URL");
const PROP: Name = Name::new(ns::DAV, "prop");
const PROPNAME: Name = Name::new(ns::DAV, "propname");

/// Group name → its members' user names.
pub(crate) type Groups = Arc<BTreeMap<String, Vec<String>>>;

/// The href of a group's principal.
pub(crate) fn group_href(store: &dyn Store, group: &str) -> String {
    store.href_of(&format!(".groups/{group}"), true)
}

/// The groups that name `user`, by href.
pub(crate) fn membership(store: &dyn Store, groups: &Groups, user: &str) -> Element {
    groups
        .iter()
        .filter(|(_, members)| members.iter().any(|m| m == user))
        .fold(Element::new(GROUP_MEMBERSHIP), |set, (group, _)| {
            set.child_element(Element::with_text(HREF, group_href(store, group)))
        })
}

/// A `urn:uuid:` that names a principal for good (RFC 5842 §3.1): derived from what
/// it is and its name, so it is the same on every start and differs between principals.
pub(crate) fn resource_id(kind: &str, name: &str) -> Element {
    let hash = blake3::hash(format!("dirdav {kind} principal\0{name}").as_bytes());
    let mut b: [u8; 16] = hash.as_bytes()[..16].try_into().unwrap_or_default();
    // A version 8 (RFC 9562 custom) UUID: the bits say so, the rest is the hash.
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let uuid = format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    Element::new(RESOURCE_ID).child_element(Element::with_text(HREF, uuid))
}

/// Answers requests below [`ROUTE`]: PROPFIND and OPTIONS on a group's principal.
/// Only signed-in users see them: the members of a group are not public.
pub(crate) async fn serve(request: DavRequest, groups: Groups) -> HandlerResult {
    if request.principal.is_none() {
        return Err(DavError::new(
            StatusCode::UNAUTHORIZED,
            "group principals are shown to signed-in users",
        ));
    }
    let store = request.store.as_ref();
    let path = request.parts.uri.path();
    let with_slash = if path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    };
    let Some(group) = groups.keys().find(|g| group_href(store, g) == with_slash) else {
        return Err(DavError::not_found());
    };
    match request.parts.method.as_str() {
        "OPTIONS" => {
            let mut response = Response::new(Body::empty());
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("OPTIONS, PROPFIND"));
            response
                .headers_mut()
                .insert("dav", HeaderValue::from_static("1, 3, access-control"));
            Ok(response)
        }
        "PROPFIND" => Ok(propfind(store, &groups, group, &request.body)?),
        other => {
            let mut response = Response::new(Body::from(format!(
                "{other} is not supported on a group principal\n"
            )));
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("OPTIONS, PROPFIND"));
            Ok(response)
        }
    }
}

/// The properties of a group's principal; every other name asked for is a 404 there.
fn propfind(
    store: &dyn Store,
    groups: &Groups,
    group: &str,
    body: &[u8],
) -> Result<Response<Body>, DavError> {
    let href = group_href(store, group);
    let members = groups.get(group).map(Vec::as_slice).unwrap_or_default();
    let all = [
        Element::new(RESOURCETYPE).child_element(Element::new(Name::new(ns::DAV, "principal"))),
        Element::with_text(DISPLAYNAME, group),
        Element::new(PRINCIPAL_URL).child_element(Element::with_text(HREF, href.clone())),
        members
            .iter()
            .fold(Element::new(GROUP_MEMBER_SET), |set, user| {
                set.child_element(Element::with_text(HREF, store.href_of(user, true)))
            }),
        Element::new(GROUP_MEMBERSHIP),
        resource_id("group", group),
    ];
    let root = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(parse(body, &Limits::default())?)
    };
    let asked: Option<Vec<Name>> = root
        .as_ref()
        .and_then(|r| r.child(&PROP))
        .map(|p| p.elements().map(|e| e.name.clone()).collect());
    let names_only = root.as_ref().is_some_and(|r| r.child(&PROPNAME).is_some());
    let mut propstats = Vec::new();
    match asked {
        Some(names) => {
            let mut missing = Vec::new();
            for name in names {
                match all.iter().find(|e| e.name == name) {
                    Some(found) => PropStat::add_found(&mut propstats, found.clone()),
                    None => missing.push(Element::new(name)),
                }
            }
            if !missing.is_empty() {
                propstats.push(PropStat {
                    status: StatusCode::NOT_FOUND,
                    props: missing,
                    error: None,
                });
            }
        }
        None => propstats.push(PropStat {
            status: StatusCode::OK,
            props: all
                .iter()
                .map(|e| match names_only {
                    true => Element::new(e.name.clone()),
                    false => e.clone(),
                })
                .collect(),
            error: None,
        }),
    }
    let mut ms = Multistatus::new(&store.prefixes());
    ms.propstats(&href, &propstats);
    Ok(ms.into_response())
}
