//! The `free-busy-query` REPORT (RFC 4791 §7.10): one VFREEBUSY for a time range, built
//! from the calendar's opaque events (TRANSP:TRANSPARENT and STATUS:CANCELLED ones do
//! not count; STATUS:TENTATIVE ones are BUSY-TENTATIVE), recurrences included, and from
//! the busy periods of stored VFREEBUSY components, each keeping its FBTYPE.

use chrono::DateTime;
use dirdav_plugin::http::{HeaderValue, Response, StatusCode, header};
use dirdav_plugin::xml::{Limits, Name, parse};
use dirdav_plugin::{Body, DavError, DavRequest, HandlerResult};
use icalendar::parser::{Component, unfold};

use crate::cal;
use crate::query::{
    TimeRange, Zone, first_time, futures, instances, interval_length, props, recurrence_id,
    resolve, span_in, time_range, widened,
};
use crate::time::{parse_duration, parse_time};

/// The report's root element.
pub(crate) const FREE_BUSY_QUERY: Name = cal("free-busy-query");

fn utc(t: i64) -> String {
    DateTime::from_timestamp(t, 0)
        .map_or_else(String::new, |d| d.format("%Y%m%dT%H%M%SZ").to_string())
}

fn value<'c>(c: &'c Component<'c>, name: &str) -> Option<String> {
    props(c, name)
        .next()
        .map(|p| p.val.as_str().trim().to_ascii_uppercase())
}

/// The busy types a free-busy answer reports, in the order it lists them.
const KINDS: [&str; 3] = ["BUSY", "BUSY-TENTATIVE", "BUSY-UNAVAILABLE"];

/// The busy periods of a stored VFREEBUSY that overlap the range, clipped to it:
/// (start, end, index into [`KINDS`]). FREE periods and unknown types are left out.
fn stored_busy(c: &Component<'_>, range: TimeRange) -> Vec<(i64, i64, usize)> {
    let mut out = Vec::new();
    for p in props(c, "FREEBUSY") {
        let kind = p
            .params
            .iter()
            .find(|x| x.key.as_str().eq_ignore_ascii_case("FBTYPE"))
            .and_then(|x| x.val.as_ref())
            .map_or_else(|| "BUSY".to_owned(), |v| v.as_str().to_ascii_uppercase());
        let Some(kind) = KINDS.iter().position(|k| *k == kind) else {
            continue;
        };
        for period in p.val.as_str().split(',') {
            let Some((from, to)) = period.trim().split_once('/') else {
                continue;
            };
            let Some((start, _)) = parse_time(from) else {
                continue;
            };
            let end = parse_time(to)
                .map(|t| t.0)
                .or_else(|| parse_duration(to).map(|d| start + d));
            if let Some(end) = end {
                let (a, b) = (start.max(range.start), end.min(range.end));
                if a < b {
                    out.push((a, b, kind));
                }
            }
        }
    }
    out
}

/// Busy periods of one calendar object in the range: (start, end, index into [`KINDS`]).
fn busy(root: &Component<'_>, range: TimeRange, zone: Zone) -> Vec<(i64, i64, usize)> {
    crate::query::with_object_zones(root, || busy_in(root, range, zone))
}

/// [`busy`], with the object's own zones in force.
fn busy_in(root: &Component<'_>, range: TimeRange, zone: Zone) -> Vec<(i64, i64, usize)> {
    let events: Vec<&Component<'_>> = root
        .components
        .iter()
        .filter(|c| c.name.as_str().eq_ignore_ascii_case("VEVENT"))
        .collect();
    let overridden: Vec<i64> = events
        .iter()
        .filter_map(|c| recurrence_id(c, zone))
        .collect();
    let mut out: Vec<(i64, i64, usize)> = root
        .components
        .iter()
        .filter(|c| c.name.as_str().eq_ignore_ascii_case("VFREEBUSY"))
        .flat_map(|c| stored_busy(c, range))
        .collect();
    let futures = futures(&events, zone);
    for c in &events {
        let Some(start) = first_time(c, "DTSTART", zone) else {
            continue;
        };
        let recurring = recurrence_id(c, zone).is_none()
            && (props(c, "RRULE").next().is_some() || props(c, "RDATE").next().is_some());
        if !recurring {
            out.extend(busy_instance(c, start.0, range, zone));
            continue;
        }
        // An instance a THISANDFUTURE override stands for is that override, moved.
        for s in instances(c, widened(range, &futures), &overridden, zone).unwrap_or_default() {
            let (like, moved) = resolve(c, &futures, s);
            out.extend(busy_instance(like, moved.0, range, zone));
        }
    }
    out
}

/// The busy period of one instance of an event starting at `start`, within the range:
/// none for a transparent or cancelled event, or one of no length.
fn busy_instance(
    c: &Component<'_>,
    start: i64,
    range: TimeRange,
    zone: Zone,
) -> Option<(i64, i64, usize)> {
    if value(c, "TRANSP").as_deref() == Some("TRANSPARENT")
        || value(c, "STATUS").as_deref() == Some("CANCELLED")
    {
        return None;
    }
    let kind = usize::from(value(c, "STATUS").as_deref() == Some("TENTATIVE"));
    let length = interval_length(c, zone).filter(|l| *l > 0)?;
    let (a, b) = (start.max(range.start), (start + length).min(range.end));
    (a < b).then_some((a, b, kind))
}

/// Sorts and merges overlapping periods of one kind.
fn merge(mut periods: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    periods.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (a, b) in periods {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

pub(crate) async fn report(request: DavRequest) -> HandlerResult {
    let calendar = request.resource.ok_or_else(DavError::not_found)?;
    let root = parse(&request.body, &Limits::default())?;
    let range = time_range(&root)?
        .filter(|r| r.start > i64::MIN && r.end < i64::MAX)
        .ok_or_else(|| {
            DavError::bad_request("free-busy-query needs a time-range with start and end")
        })?;
    // Floating times are placed in the calendar's zone.
    let zone = crate::floating_zone(&calendar.collection);
    // Items whose summary says they cannot be busy in the range are never built or read.
    let may_be_busy = |summary: Option<&dirdav_plugin::Summary>| {
        !summary.is_some_and(|s| {
            s.component
                .as_deref()
                .is_some_and(|c| c != "VEVENT" && c != "VFREEBUSY")
                || span_in(s, zone).is_some_and(|(a, b)| b <= range.start || a >= range.end)
        })
    };
    let items = if calendar.is_collection {
        request
            .store
            .members_where(&calendar.path, &|is_collection, summary| {
                !is_collection && may_be_busy(summary)
            })
    } else {
        vec![calendar.clone()]
            .into_iter()
            .filter(|r| !r.is_collection && may_be_busy(r.summary.as_deref()))
            .collect()
    };
    let paths = items.into_iter().map(|item| item.path).collect();
    let contents = request.store.read_many(paths).await;
    // Parsing and expanding grow with the items read: off the async workers.
    let periods = crate::query::evaluate(move || {
        let mut periods = Vec::new();
        for bytes in contents.into_iter().flatten() {
            let text = String::from_utf8_lossy(&bytes);
            let unfolded = unfold(&text);
            if let Ok(roots) = crate::ical::parse(&unfolded)
                && let Some(root) = roots.first()
            {
                periods.extend(busy(root, range, zone));
            }
        }
        periods
    })
    .await?;
    let mut text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//dirdav//dirdav {}//EN\r\nBEGIN:VFREEBUSY\r\nDTSTAMP:{}\r\nDTSTART:{}\r\nDTEND:{}\r\n",
        env!("CARGO_PKG_VERSION"),
        utc(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)),
        utc(range.start),
        utc(range.end)
    );
    for (index, kind) in KINDS.iter().enumerate() {
        let of_kind = periods
            .iter()
            .filter(|p| p.2 == index)
            .map(|p| (p.0, p.1))
            .collect();
        for (a, b) in merge(of_kind) {
            text.push_str(&format!("FREEBUSY;FBTYPE={kind}:{}/{}\r\n", utc(a), utc(b)));
        }
    }
    text.push_str("END:VFREEBUSY\r\nEND:VCALENDAR\r\n");
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_merge() {
        assert_eq!(
            merge(vec![(5, 8), (1, 3), (2, 4), (8, 9)]),
            [(1, 4), (5, 9)]
        );
    }
}
