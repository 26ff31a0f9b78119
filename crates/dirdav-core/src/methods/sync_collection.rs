//! The `DAV:sync-collection` REPORT (RFC 6578 §3), answered from the index's sync log.

use dirdav_plugin::http::StatusCode;
use dirdav_plugin::xml::{Element, Limits, Name, ns, parse};
use dirdav_plugin::{DavError, DavRequest, HandlerResult, Multistatus};

/// The report's root element.
pub(crate) const SYNC_COLLECTION: Name = Name::new(ns::DAV, "sync-collection");
const SYNC_TOKEN: Name = Name::new(ns::DAV, "sync-token");
const SYNC_LEVEL: Name = Name::new(ns::DAV, "sync-level");
const LIMIT: Name = Name::new(ns::DAV, "limit");
const NRESULTS: Name = Name::new(ns::DAV, "nresults");
const PROP: Name = Name::new(ns::DAV, "prop");

/// Answers a sync-collection request: the members changed since the client's token
/// (all of them without one), deleted ones as 404 responses, and the new token. When
/// the client's `DAV:limit` cuts the answer short, a 507 response for the collection
/// tells it to ask again from the returned token (RFC 6578 §3.6).
pub(crate) async fn report(request: DavRequest) -> HandlerResult {
    let collection = request.resource.ok_or_else(DavError::not_found)?;
    let root = parse(&request.body, &Limits::default())?;
    let token = root.child(&SYNC_TOKEN).map(Element::text);
    let infinite = match root.child(&SYNC_LEVEL).map(|e| e.text()) {
        None => false,
        Some(level) => match level.trim() {
            "1" => false,
            "infinite" | "infinity" => true,
            other => {
                return Err(DavError::bad_request(format!(
                    "invalid sync-level {other:?}"
                )));
            }
        },
    };
    let limit = match root.child(&LIMIT).and_then(|l| l.child(&NRESULTS)) {
        None => None,
        Some(n) => Some(
            n.text()
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| DavError::bad_request("invalid DAV:nresults"))?,
        ),
    };
    let names: Vec<Name> = root
        .child(&PROP)
        .map(|p| p.elements().map(|e| e.name.clone()).collect())
        .unwrap_or_default();
    let principal = request.principal.as_ref();
    let changes = request.store.changes(
        &collection.path,
        token.as_deref(),
        infinite,
        limit,
        principal,
    )?;
    let mut ms = Multistatus::new(&request.store.prefixes()).minimal(request.minimal);
    for resource in &changes.changed {
        if names.is_empty() {
            ms.status(&resource.href, StatusCode::OK, None);
        } else {
            ms.propstats(
                &resource.href,
                &request.store.propstats(resource, &names, principal),
            );
        }
    }
    for href in &changes.removed {
        ms.status(href, StatusCode::NOT_FOUND, None);
    }
    if changes.truncated {
        ms.status(&collection.href, StatusCode::INSUFFICIENT_STORAGE, None);
    }
    ms.sync_token(&changes.token);
    Ok(ms.into_response())
}
