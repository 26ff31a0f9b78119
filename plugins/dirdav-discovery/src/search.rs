//! `DAV:principal-property-search` and `DAV:principal-search-property-set` (RFC 3744
//! §9.4, §9.5): finding users by name, as iOS does for invitees and CalDAV libraries do
//! to list principals. Principals are the configured users; a user's display name is
//! their principal's `displayname`: their home's own, else the one `dirdav.toml` gives,
//! else their user name.

use std::collections::BTreeMap;

use dirdav_plugin::http::{HeaderValue, Response, StatusCode, header};
use dirdav_plugin::xml::{Element, Limits, Name, XmlWriter, ns, parse};
use dirdav_plugin::{Body, DavRequest, HandlerResult, Multistatus, PropStat};

pub(crate) const PROPERTY_SEARCH: Name = Name::new(ns::DAV, "principal-property-search");
pub(crate) const SEARCH_PROPERTY_SET: Name = Name::new(ns::DAV, "principal-search-property-set");
const PROPERTY_SEARCH_ELEMENT: Name = Name::new(ns::DAV, "property-search");
const PROP: Name = Name::new(ns::DAV, "prop");
const MATCH: Name = Name::new(ns::DAV, "match");
const DISPLAYNAME: Name = Name::new(ns::DAV, "displayname");

/// The name a user is found by, as their principal's `displayname` gives it: their
/// home's own `displayname`, else the configured one, else the user name.
fn display_name(request: &DavRequest, user: &str, shown: &BTreeMap<String, String>) -> String {
    request
        .store
        .resource(user)
        .and_then(|home| {
            home.collection
                .string_at(&["displayname"])
                .map(str::to_owned)
        })
        .or_else(|| shown.get(user).cloned())
        .unwrap_or_else(|| user.to_owned())
}

pub(crate) async fn property_search(
    request: DavRequest,
    users: &[String],
    shown: &BTreeMap<String, String>,
) -> HandlerResult {
    crate::reports::depth_zero(&request, "principal-property-search")?;
    let root = parse(&request.body, &Limits::default())?;
    if root.name != PROPERTY_SEARCH {
        return Err(dirdav_plugin::DavError::bad_request(
            "the body is not a DAV:principal-property-search",
        ));
    }
    let any = root.get_attr(&Name::new("", "test")) == Some("anyof");
    let mut terms: Vec<String> = Vec::new();
    for search in root
        .elements()
        .filter(|e| e.name == PROPERTY_SEARCH_ELEMENT)
    {
        let searches_name = search
            .child(&PROP)
            .is_some_and(|p| p.elements().any(|e| e.name == DISPLAYNAME));
        if !searches_name {
            continue;
        }
        terms.push(
            search
                .child(&MATCH)
                .map(Element::text)
                .unwrap_or_default()
                .to_lowercase(),
        );
    }
    let mut names: Vec<Name> = root
        .child(&PROP)
        .map(|p| p.elements().map(|e| e.name.clone()).collect())
        .unwrap_or_default();
    if names.is_empty() {
        // python-caldav puts the properties beside an empty DAV:prop.
        let search_parts = [
            PROPERTY_SEARCH_ELEMENT,
            PROP,
            Name::new(ns::DAV, "apply-to-principal-collection-set"),
        ];
        names = root
            .elements()
            .map(|e| e.name.clone())
            .filter(|n| !search_parts.contains(n))
            .collect();
    }
    if names.is_empty() {
        names.push(DISPLAYNAME);
    }
    let mut ms = Multistatus::new(&request.store.prefixes());
    for user in users {
        let name = display_name(&request, user, shown);
        let lower = name.to_lowercase();
        let hit =
            |t: &String| lower.contains(t.as_str()) || user.to_lowercase().contains(t.as_str());
        let found = terms.is_empty()
            || if any {
                terms.iter().any(hit)
            } else {
                terms.iter().all(hit)
            };
        if !found {
            continue;
        }
        let href = request.store.href_of(user, true);
        match request.store.resource(user) {
            Some(home) => {
                let mut stats = request
                    .store
                    .propstats(&home, &names, request.principal.as_ref());
                // A home without a display name is shown by its user name.
                if let Some(missing) = stats.iter_mut().find(|p| p.status == StatusCode::NOT_FOUND)
                    && missing.props.iter().any(|p| p.name == DISPLAYNAME)
                {
                    missing.props.retain(|p| p.name != DISPLAYNAME);
                    let name = Element::with_text(DISPLAYNAME, name.clone());
                    match stats.iter_mut().find(|p| p.status == StatusCode::OK) {
                        Some(ok) => ok.props.push(name),
                        None => stats.insert(
                            0,
                            PropStat {
                                status: StatusCode::OK,
                                props: vec![name],
                                error: None,
                            },
                        ),
                    }
                }
                ms.propstats(&href, &stats);
            }
            None => {
                let name = Element::with_text(DISPLAYNAME, name.clone());
                ms.propstats(
                    &href,
                    &[PropStat {
                        status: StatusCode::OK,
                        props: vec![name],
                        error: None,
                    }],
                );
            }
        }
    }
    Ok(ms.into_response())
}

/// What can be searched: the display name.
pub(crate) async fn search_property_set(request: DavRequest) -> HandlerResult {
    crate::reports::depth_zero(&request, "principal-search-property-set")?;
    let empty = request.body.iter().all(u8::is_ascii_whitespace);
    let root = match empty {
        true => Element::new(SEARCH_PROPERTY_SET),
        false => parse(&request.body, &Limits::default())?,
    };
    if root.name != SEARCH_PROPERTY_SET || root.elements().next().is_some() {
        return Err(dirdav_plugin::DavError::bad_request(
            "the body is an empty DAV:principal-search-property-set",
        ));
    }
    let mut w = XmlWriter::new(&[(ns::DAV, "d")]);
    w.start(&SEARCH_PROPERTY_SET);
    w.start(&Name::new(ns::DAV, "principal-search-property"));
    w.start(&PROP);
    w.empty(&DISPLAYNAME);
    w.end();
    w.text_element(&Name::new(ns::DAV, "description"), "Display name");
    w.end();
    w.end();
    let mut response = Response::new(Body::from(w.finish()));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    Ok(response)
}
