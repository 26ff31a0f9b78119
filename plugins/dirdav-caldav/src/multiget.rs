//! The `calendar-multiget` REPORT (RFC 4791 §7.9): the named members of a calendar,
//! with their properties and `calendar-data`, in one request.

use dirdav_plugin::xml::{Limits, Name, ns, parse};
use dirdav_plugin::{DavError, DavRequest, HandlerResult, Multistatus, PropQuery, PropStat};

use crate::{CALENDAR_DATA, cal};

/// The report's root element.
pub(crate) const CALENDAR_MULTIGET: Name = cal("calendar-multiget");
const PROP: Name = Name::new(ns::DAV, "prop");
const HREF: Name = Name::new(ns::DAV, "href");

/// Answers each href in the order given: its properties and calendar data, 404 for one
/// that does not exist, 403 for one outside the collection the report was sent to.
/// Responses carry the href as the client wrote it, so that it finds them again.
pub(crate) async fn report(request: DavRequest) -> HandlerResult {
    let target = request.resource.ok_or_else(DavError::not_found)?;
    let root = parse(&request.body, &Limits::default())?;
    // DAV:prop, or DAV:allprop or DAV:propname (RFC 4791 §9.10), which give no
    // calendar data.
    let query = PropQuery::of(&root).ok_or_else(|| {
        DavError::bad_request("calendar-multiget needs DAV:prop, DAV:allprop or DAV:propname")
    })?;
    let (others, data_request) = match query {
        PropQuery::Prop(names) => {
            let data_request = crate::data::requested(root.child(&PROP), || {
                crate::floating_zone(&target.collection)
            })?;
            let others = names.into_iter().filter(|n| *n != CALENDAR_DATA).collect();
            (PropQuery::Prop(others), data_request)
        }
        query => (query, None),
    };
    let store = &request.store;
    let hrefs = root
        .elements()
        .filter(|e| e.name == HREF)
        .map(|e| e.text().trim().to_owned())
        .collect();
    let items = store
        .multiget_items(hrefs, &target, data_request.is_some())
        .await;
    let (store, principal) = (request.store.clone(), request.principal.clone());
    let minimal = request.minimal;
    // Rendering calendar data (narrowed or expanded) parses each item: off the async
    // workers.
    let ms = crate::query::evaluate(move || {
        let mut ms = Multistatus::new(&store.prefixes()).minimal(minimal);
        for (href, item) in items {
            let (resource, bytes) = match item {
                Ok(found) => found,
                Err(status) => {
                    ms.status(&href, status, None);
                    continue;
                }
            };
            let mut propstats = store.query_propstats(&resource, &others, principal.as_ref());
            if let (Some(data_request), Some(bytes)) = (&data_request, bytes) {
                PropStat::add_found(&mut propstats, crate::data::render(data_request, &bytes));
            }
            ms.propstats(&href, &propstats);
        }
        ms
    })
    .await?;
    Ok(ms.into_response())
}
