//! `CALDAV:calendar-data` in REPORT requests (RFC 4791 §9.6): what to return of each
//! item. Supported: the whole object, and `expand` over a time range.

use dirdav_plugin::DavError;
use dirdav_plugin::xml::{Element, Name};

use crate::expand::expand;
use crate::ical::parse_time;
use crate::query::TimeRange;
use crate::{CALENDAR_DATA, cal};

/// How calendar data is to be returned.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DataRequest {
    expand: Option<TimeRange>,
}

/// Reads the `calendar-data` element of a request's `DAV:prop`, if it asks for one.
pub(crate) fn requested(prop: Option<&Element>) -> Result<Option<DataRequest>, DavError> {
    let Some(element) = prop.and_then(|p| p.child(&CALENDAR_DATA)) else {
        return Ok(None);
    };
    let expand = match element.child(&cal("expand")) {
        None => None,
        Some(e) => {
            let bound = |name: &str| {
                e.get_attr(&Name::owned("", name))
                    .and_then(parse_time)
                    .filter(|(_, utc)| *utc)
                    .map(|(t, _)| t)
                    .ok_or_else(|| {
                        DavError::forbidden(format!("expand needs a UTC {name}"))
                            .condition(cal("valid-filter"))
                    })
            };
            Some(TimeRange {
                start: bound("start")?,
                end: bound("end")?,
            })
        }
    };
    Ok(Some(DataRequest { expand }))
}

/// The calendar data to return for an item's bytes.
pub(crate) fn render(request: DataRequest, bytes: &[u8]) -> Element {
    let text = String::from_utf8_lossy(bytes);
    let data = match request.expand {
        Some(range) => expand(&text, range).unwrap_or_else(|| text.into_owned()),
        None => text.into_owned(),
    };
    Element::with_text(CALENDAR_DATA, data)
}
