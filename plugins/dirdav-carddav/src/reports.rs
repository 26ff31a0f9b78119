//! `addressbook-multiget` (RFC 6352 §8.7), `addressbook-query` (§8.6) and GET on an
//! address book.

use dirdav_plugin::http::{HeaderValue, Response, StatusCode, header};
use dirdav_plugin::xml::{Element, Limits, Name, ns, parse};
use dirdav_plugin::{
    Body, DavError, DavRequest, HandlerResult, Multistatus, PropQuery, PropStat, Resource, Store,
    Summary,
};

use crate::data::{self, DataRequest};
use crate::query::{Prop, matches, matches_summary, parse_filter};
use crate::{ADDRESS_DATA, card, vcard};

pub(crate) const MULTIGET: Name = card("addressbook-multiget");
pub(crate) const QUERY: Name = card("addressbook-query");
const PROP: Name = Name::new(ns::DAV, "prop");
const HREF: Name = Name::new(ns::DAV, "href");

/// What a report asks for: WebDAV properties, and address data if any.
struct Wanted {
    /// The properties asked for besides `address-data`: named, `allprop` or `propname`.
    query: PropQuery,
    data: Option<DataRequest>,
}

/// One card's response: its properties and, when asked, its data; 415 with
/// `supported-address-data-conversion` when its data cannot be given as asked.
fn respond(
    ms: &mut Multistatus,
    store: &dyn Store,
    href: &str,
    item: &Resource,
    wanted: &Wanted,
    bytes: Option<&[u8]>,
    principal: Option<&dirdav_plugin::Principal>,
) {
    let mut stats = store.query_propstats(item, &wanted.query, principal);
    if let (Some(request), Some(bytes)) = (&wanted.data, bytes) {
        match data::render(request, bytes) {
            Ok(element) => PropStat::add_found(&mut stats, element),
            Err(reason) => {
                let error = DavError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, reason)
                    .condition(card("supported-address-data-conversion"));
                ms.status(href, StatusCode::UNSUPPORTED_MEDIA_TYPE, Some(&error));
                return;
            }
        }
    }
    if stats.iter().all(|p| p.props.is_empty()) {
        ms.status(href, StatusCode::OK, None);
    } else {
        ms.propstats(href, &stats);
    }
}

/// The requested properties (named, `DAV:allprop` or `DAV:propname`, as RFC 6352
/// §8.7 allows), and the address data asked for, if any.
fn wanted(root: &Element) -> Result<Wanted, DavError> {
    Ok(match PropQuery::of(root) {
        Some(PropQuery::Prop(names)) => Wanted {
            query: PropQuery::Prop(names.into_iter().filter(|n| *n != ADDRESS_DATA).collect()),
            data: data::requested(root.child(&PROP))?,
        },
        Some(query) => Wanted { query, data: None },
        None => Wanted {
            query: PropQuery::Prop(Vec::new()),
            data: None,
        },
    })
}

pub(crate) async fn multiget(request: DavRequest) -> HandlerResult {
    let target = request.resource.ok_or_else(DavError::not_found)?;
    let root = parse(&request.body, &Limits::default())?;
    let wanted = wanted(&root)?;
    let want_data = wanted.data.is_some();
    let store = request.store.as_ref();
    let mut ms = Multistatus::new(&store.prefixes()).minimal(request.minimal);
    let hrefs = root
        .elements()
        .filter(|e| e.name == HREF)
        .map(|e| e.text().trim().to_owned())
        .collect();
    for (href, item) in store.multiget_items(hrefs, &target, want_data).await {
        let (item, data) = match item {
            Ok(found) => found,
            Err(status) => {
                ms.status(&href, status, None);
                continue;
            }
        };
        respond(
            &mut ms,
            store,
            &href,
            &item,
            &wanted,
            data.as_deref(),
            request.principal.as_ref(),
        );
    }
    Ok(ms.into_response())
}

pub(crate) async fn query(request: DavRequest) -> HandlerResult {
    let target = request.resource.ok_or_else(DavError::not_found)?;
    let root = parse(&request.body, &Limits::default())?;
    let filter = match root.child(&card("filter")) {
        Some(f) => parse_filter(f)?,
        None => {
            return Err(DavError::forbidden("addressbook-query needs a filter")
                .condition(card("valid-filter")));
        }
    };
    let limit = root
        .child(&card("limit"))
        .and_then(|l| l.child(&card("nresults")))
        .map(|n| {
            n.text()
                .trim()
                .parse::<usize>()
                .map_err(|_| DavError::bad_request("invalid nresults"))
        })
        .transpose()?;
    let wanted = wanted(&root)?;
    let want_data = wanted.data.is_some();
    let store = request.store.as_ref();
    // Summaries rule cards out before any is built or read; where the filter names
    // only summarized fields, they also decide. A card without a summary (one that
    // could not be read) is left to the parser.
    let from_summary = filter.summary_suffices();
    let by_summary = |summary: Option<&Summary>| {
        !from_summary || summary.is_none_or(|s| matches_summary(&filter, s))
    };
    let items: Vec<Resource> = if target.is_collection {
        store.members_where(&target.path, &|is_collection, summary| {
            !is_collection && by_summary(summary)
        })
    } else {
        vec![target.clone()]
            .into_iter()
            .filter(|r| !r.is_collection && by_summary(r.summary.as_deref()))
            .collect()
    };
    let decided = |r: &Resource| from_summary && r.summary.is_some();
    let to_read: Vec<String> = items
        .iter()
        .filter(|r| want_data || !decided(r))
        .map(|r| r.path.clone())
        .collect();
    let mut read = store.read_many(to_read).await.into_iter();
    let mut found = Vec::new();
    for item in items {
        let bytes = if want_data || !decided(&item) {
            read.next().flatten()
        } else {
            None
        };
        let hit = decided(&item)
            || bytes.as_ref().is_some_and(|bytes| {
                let text = String::from_utf8_lossy(bytes);
                vcard::with_card(&text, |c| {
                    let props: Vec<Prop<'_>> = c
                        .properties
                        .iter()
                        .map(|p| Prop {
                            name: vcard::property_name(p.name.as_str()).into(),
                            value: p.val.as_str().trim(),
                            params: p
                                .params
                                .iter()
                                .map(|x| {
                                    (
                                        x.key.as_str().to_ascii_uppercase(),
                                        x.val
                                            .as_ref()
                                            .map_or(String::new(), |v| v.as_str().to_owned()),
                                    )
                                })
                                .collect(),
                        })
                        .collect();
                    matches(&filter, &props.iter())
                })
                .unwrap_or(false)
            });
        if hit {
            found.push((item, bytes));
        }
    }
    let mut ms = Multistatus::new(&store.prefixes()).minimal(request.minimal);
    let truncated = limit.is_some_and(|n| found.len() > n);
    for (item, bytes) in found.into_iter().take(limit.unwrap_or(usize::MAX)) {
        let data = if want_data { bytes.as_deref() } else { None };
        respond(
            &mut ms,
            store,
            &item.href,
            &item,
            &wanted,
            data,
            request.principal.as_ref(),
        );
    }
    if truncated {
        let error = DavError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "more matches than the limit",
        )
        .condition(Name::new(ns::DAV, "number-of-matches-within-limits"));
        ms.status(&target.href, StatusCode::INSUFFICIENT_STORAGE, Some(&error));
    }
    Ok(ms.into_response())
}

/// GET on an address book: every card, one after another, as one `text/vcard`.
pub(crate) async fn export(request: DavRequest) -> HandlerResult {
    let book = request.resource.ok_or_else(DavError::not_found)?;
    let items: Vec<Resource> = request
        .store
        .members(&book.path)
        .into_iter()
        .filter(|r| !r.is_collection)
        .collect();
    let (validators, fresh) =
        dirdav_plugin::export_validators(&request.parts.headers, &book, &items);
    if fresh {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response.headers_mut().extend(validators);
        return Ok(response);
    }
    let contents = request
        .store
        .read_many(items.iter().map(|r| r.path.clone()).collect())
        .await;
    let mut text = String::new();
    for bytes in contents.into_iter().flatten() {
        let card = String::from_utf8_lossy(&bytes);
        text.push_str(card.trim_end_matches(['\r', '\n']));
        text.push_str("\r\n");
    }
    let mut response = Response::new(Body::from(text));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/vcard; charset=utf-8"),
    );
    headers.extend(validators);
    Ok(response)
}
