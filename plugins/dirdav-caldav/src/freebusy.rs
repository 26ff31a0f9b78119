//! The `free-busy-query` REPORT (RFC 4791 §7.10): one VFREEBUSY for a time range, built
//! from the calendar's opaque events (TRANSP:TRANSPARENT and STATUS:CANCELLED ones do
//! not count; STATUS:TENTATIVE ones are BUSY-TENTATIVE), recurrences included.

use chrono::DateTime;
use dirdav_plugin::http::{HeaderValue, Response, StatusCode, header};
use dirdav_plugin::xml::{Limits, Name, parse};
use dirdav_plugin::{Body, DavError, DavRequest, HandlerResult};
use icalendar::parser::{Component, read_calendar_simple, unfold};

use crate::cal;
use crate::ical::parse_duration;
use crate::query::{TimeRange, first_time, instances, props, recurrence_id, time_range};

/// The report's root element.
pub(crate) const FREE_BUSY_QUERY: Name = cal("free-busy-query");
const DAY: i64 = 86_400;

fn utc(t: i64) -> String {
    DateTime::from_timestamp(t, 0)
        .map_or_else(String::new, |d| d.format("%Y%m%dT%H%M%SZ").to_string())
}

fn value<'c>(c: &'c Component<'c>, name: &str) -> Option<String> {
    props(c, name)
        .next()
        .map(|p| p.val.as_str().trim().to_ascii_uppercase())
}

/// How long each instance of an event lasts.
fn duration(c: &Component<'_>) -> i64 {
    let start = first_time(c, "DTSTART").map(|t| t.0);
    match (start, first_time(c, "DTEND").map(|t| t.0)) {
        (Some(s), Some(e)) => e - s,
        _ => match props(c, "DURATION")
            .next()
            .and_then(|p| parse_duration(p.val.as_str()))
        {
            Some(d) => d,
            None if props(c, "DTSTART")
                .next()
                .is_some_and(|p| p.val.as_str().trim().len() == 8) =>
            {
                DAY
            }
            None => 0,
        },
    }
}

/// Busy periods of one calendar object in the range: (start, end, tentative).
fn busy(root: &Component<'_>, range: TimeRange) -> Vec<(i64, i64, bool)> {
    let events: Vec<&Component<'_>> = root
        .components
        .iter()
        .filter(|c| c.name.as_str().eq_ignore_ascii_case("VEVENT"))
        .collect();
    let overridden: Vec<i64> = events.iter().filter_map(|c| recurrence_id(c)).collect();
    let mut out = Vec::new();
    for c in events {
        if value(c, "TRANSP").as_deref() == Some("TRANSPARENT")
            || value(c, "STATUS").as_deref() == Some("CANCELLED")
        {
            continue;
        }
        let tentative = value(c, "STATUS").as_deref() == Some("TENTATIVE");
        let Some(start) = first_time(c, "DTSTART") else {
            continue;
        };
        let length = duration(c);
        if length <= 0 {
            continue;
        }
        let recurring = recurrence_id(c).is_none()
            && (props(c, "RRULE").next().is_some() || props(c, "RDATE").next().is_some());
        let starts = if recurring {
            instances(c, range, &overridden).unwrap_or_default()
        } else {
            vec![start]
        };
        for (s, _) in starts {
            let (a, b) = (s.max(range.start), (s + length).min(range.end));
            if a < b {
                out.push((a, b, tentative));
            }
        }
    }
    out
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
    let mut periods = Vec::new();
    let items = if calendar.is_collection {
        request.store.members(&calendar.path)
    } else {
        vec![calendar.clone()]
    };
    for item in items.into_iter().filter(|r| !r.is_collection) {
        let skip = item.summary.as_ref().is_some_and(|s| {
            s.component.as_deref().is_some_and(|c| c != "VEVENT")
                || s.span
                    .is_some_and(|(a, b)| b <= range.start || a >= range.end)
        });
        if skip {
            continue;
        }
        let bytes = request.store.read(&item.path).await?;
        let text = String::from_utf8_lossy(&bytes);
        let unfolded = unfold(&text);
        if let Ok(roots) = read_calendar_simple(&unfolded)
            && let Some(root) = roots.first()
        {
            periods.extend(busy(root, range));
        }
    }
    let busy_periods = merge(
        periods
            .iter()
            .filter(|p| !p.2)
            .map(|p| (p.0, p.1))
            .collect(),
    );
    let tentative = merge(periods.iter().filter(|p| p.2).map(|p| (p.0, p.1)).collect());
    let mut text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//dirdav//dirdav {}//EN\r\nBEGIN:VFREEBUSY\r\nDTSTAMP:{}\r\nDTSTART:{}\r\nDTEND:{}\r\n",
        env!("CARGO_PKG_VERSION"),
        utc(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)),
        utc(range.start),
        utc(range.end)
    );
    for (kind, list) in [("BUSY", &busy_periods), ("BUSY-TENTATIVE", &tentative)] {
        for (a, b) in list.iter() {
            text.push_str(&format!(
                "FREEBUSY;FBTYPE={kind}:{}/{}\r\n",
                utc(*a),
                utc(*b)
            ));
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
