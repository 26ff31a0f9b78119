//! The `calendar-multiget` REPORT (RFC 4791 §7.9): the named members of a calendar,
//! with their properties and `calendar-data`, in one request.

use dirdav_plugin::http::StatusCode;
use dirdav_plugin::xml::{Element, Limits, Name, ns, parse};
use dirdav_plugin::{DavError, DavRequest, HandlerResult, Multistatus, PropStat};

use crate::{CALENDAR_DATA, cal};

/// The report's root element.
pub(crate) const CALENDAR_MULTIGET: Name = cal("calendar-multiget");
const PROP: Name = Name::new(ns::DAV, "prop");
const HREF: Name = Name::new(ns::DAV, "href");

/// True when `path` is `within` or lies below it.
fn inside(path: &str, within: &str) -> bool {
    within.is_empty()
        || path == within
        || path
            .strip_prefix(within)
            .is_some_and(|r| r.starts_with('/'))
}

/// Answers each href in the order given: its properties and calendar data, 404 for one
/// that does not exist, 403 for one outside the collection the report was sent to.
/// Responses carry the href as the client wrote it, so that it finds them again.
pub(crate) async fn report(request: DavRequest) -> HandlerResult {
    let target = request.resource.ok_or_else(DavError::not_found)?;
    let root = parse(&request.body, &Limits::default())?;
    let prop = root
        .child(&PROP)
        .ok_or_else(|| DavError::bad_request("calendar-multiget needs DAV:prop"))?;
    let names: Vec<Name> = prop.elements().map(|e| e.name.clone()).collect();
    let data_request = crate::data::requested(Some(prop))?;
    let others: Vec<Name> = names.into_iter().filter(|n| *n != CALENDAR_DATA).collect();
    let principal = request.principal.as_ref();
    let store = &request.store;
    let mut ms = Multistatus::new(&store.prefixes());
    for href in root
        .elements()
        .filter(|e| e.name == HREF)
        .map(Element::text)
    {
        let href = href.trim();
        let Some(path) = store.path_of_href(href) else {
            ms.status(href, StatusCode::NOT_FOUND, None);
            continue;
        };
        if !inside(&path, &target.path) {
            ms.status(href, StatusCode::FORBIDDEN, None);
            continue;
        }
        let Some(resource) = store.resource(&path).filter(|r| !r.is_collection) else {
            ms.status(href, StatusCode::NOT_FOUND, None);
            continue;
        };
        let mut propstats = store.propstats(&resource, &others, principal);
        if let Some(data_request) = data_request {
            let bytes = store.read(&path).await?;
            let data = crate::data::render(data_request, &bytes);
            match propstats.iter_mut().find(|p| p.status == StatusCode::OK) {
                Some(ok) => ok.props.push(data),
                None => propstats.insert(
                    0,
                    PropStat {
                        status: StatusCode::OK,
                        props: vec![data],
                        error: None,
                    },
                ),
            }
        }
        ms.propstats(href, &propstats);
    }
    Ok(ms.into_response())
}
