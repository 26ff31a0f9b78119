//! The `calendar-query` REPORT (RFC 4791 §7.8): the members of a calendar that match a
//! filter. Items whose summary rules them out are never read; items it decides (a
//! single timed event against a time range) are read only when their data is asked
//! for; the others are parsed and the filter evaluated exactly. Depth 0 on a calendar is treated like Depth 1,
//! as Microsoft clients expect.

use dirdav_plugin::http::StatusCode;
use dirdav_plugin::xml::{Limits, Name, ns, parse};
use dirdav_plugin::{DavError, DavRequest, Depth, HandlerResult, Multistatus, PropStat, Resource};
use icalendar::parser::unfold;

use crate::query::{CompFilter, Zone, decided, matches, may_match, parse_filter};
use crate::{CALENDAR_DATA, cal};

/// The report's root element.
pub(crate) const CALENDAR_QUERY: Name = cal("calendar-query");
const PROP: Name = Name::new(ns::DAV, "prop");

pub(crate) async fn report(request: DavRequest) -> HandlerResult {
    let target = request.resource.ok_or_else(DavError::not_found)?;
    let root = parse(&request.body, &Limits::default())?;
    let filter = root.child(&cal("filter")).ok_or_else(|| {
        DavError::forbidden("calendar-query needs a filter").condition(cal("valid-filter"))
    })?;
    let filter = parse_filter(filter)?;
    let asked = crate::zone_asked(&root)?;
    let zone = asked.unwrap_or_else(|| crate::floating_zone(&target.collection));
    let names: Vec<Name> = root
        .child(&PROP)
        .map(|p| p.elements().map(|e| e.name.clone()).collect())
        .unwrap_or_default();
    let data_request = crate::data::requested(root.child(&PROP), || zone)?;
    let want_data = data_request.is_some();
    let others: Vec<Name> = names.into_iter().filter(|n| *n != CALENDAR_DATA).collect();
    let store = &request.store;
    // The calendars searched, each with the zone its floating times fall in: the
    // target, or for a plain collection (a home) the calendars below it, its members
    // with Depth 1, all below with Depth infinity.
    let calendars: Vec<(Resource, Zone)> = if target.is_collection_of(crate::KIND) {
        vec![(target.clone(), zone)]
    } else {
        let infinite = request.depth == Some(Depth::Infinity);
        store
            .collections_within(&target.path)
            .into_iter()
            .filter(|c| c.is_collection_of(crate::KIND) && target.contains(&c.path))
            .filter(|c| c.path != target.path)
            .filter(|c| infinite || dirdav_plugin::path::parent(&c.path) == target.path)
            .map(|c| {
                let zone = asked.unwrap_or_else(|| crate::floating_zone(&c.collection));
                (c, zone)
            })
            .collect()
    };
    let mut candidates: Vec<(Resource, Zone)> = Vec::new();
    if target.is_collection {
        for (calendar, zone) in &calendars {
            let zone = *zone;
            let found = store.members_where(&calendar.path, &|is_collection, summary| {
                !is_collection && may_match(&filter, summary, zone)
            });
            candidates.extend(found.into_iter().map(|item| (item, zone)));
        }
    } else if may_match(&filter, target.summary.as_deref(), zone) {
        candidates.push((target, zone));
    }
    // Items the summary decides match without a parse, and are read only when their
    // data is asked for.
    let candidates: Vec<(Resource, Zone, bool)> = candidates
        .into_iter()
        .filter_map(
            |(item, zone)| match decided(&filter, item.summary.as_deref(), zone) {
                Some(false) => None,
                Some(true) => Some((item, zone, true)),
                None => Some((item, zone, false)),
            },
        )
        .collect();
    let read = move |known: bool| want_data || !known;
    let paths = candidates
        .iter()
        .filter(|(_, _, known)| read(*known))
        .map(|(r, _, _)| r.path.clone())
        .collect();
    let mut contents = store.read_many(paths).await.into_iter();
    let store = request.store.clone();
    let principal = request.principal.clone();
    let minimal = request.minimal;
    // Parsing and evaluating grow with the items read: off the async workers.
    let ms = crate::query::evaluate(move || {
        let mut ms = Multistatus::new(&store.prefixes()).minimal(minimal);
        for (item, zone, known) in candidates {
            let bytes = if read(known) {
                let Some(bytes) = contents.next().flatten() else {
                    continue;
                };
                if !known && !parsed_matches(&filter, &bytes, zone) {
                    continue;
                }
                Some(bytes)
            } else {
                None
            };
            let mut propstats = store.propstats(&item, &others, principal.as_ref());
            if let (Some(data_request), Some(bytes)) = (&data_request, &bytes) {
                let data = crate::data::render(data_request, bytes);
                PropStat::add_found(&mut propstats, data);
            }
            if others.is_empty() && !want_data {
                ms.status(&item.href, StatusCode::OK, None);
            } else {
                ms.propstats(&item.href, &propstats);
            }
        }
        ms
    })
    .await?;
    Ok(ms.into_response())
}

/// The exact test: the item parsed and the filter evaluated, recurrences included,
/// floating times placed in `zone`.
fn parsed_matches(filter: &CompFilter, bytes: &[u8], zone: Zone) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let unfolded = unfold(&text);
    crate::ical::parse(&unfolded)
        .ok()
        .and_then(|parsed| parsed.into_iter().next())
        .is_some_and(|root| matches(filter, &root, zone))
}
