//! `CALDAV:calendar-data` in REPORT requests (RFC 4791 §9.6): what to return of each
//! item. The object as stored, unless the request narrows it: partial retrieval
//! (`comp`, `prop`, `allprop`, `allcomp`, §9.6.1–§9.6.4), `expand` (§9.6.5),
//! `limit-recurrence-set` (§9.6.6) and `limit-freebusy-set` (§9.6.7).
//!
//! A `comp` element with neither properties nor components named (`<C:comp
//! name="VTIMEZONE"/>`) returns the component whole, as the examples of RFC 4791 §7.8.1
//! show; otherwise a component returns exactly the properties and subcomponents named.

use dirdav_plugin::DavError;
use dirdav_plugin::xml::{Element, Name};
use icalendar::parser::{Component, Property, unfold};

use crate::expand::expand;
use crate::query::{TimeRange, Zone, first_time, instance_matches, recurrence_id};
use crate::time::{parse_duration, parse_time};
use crate::write::{line, property, property_with};
use crate::{CALENDAR_DATA, cal};

/// One `CALDAV:prop` of a `comp`: a property name, and whether to leave out its value.
#[derive(Debug, Clone)]
struct PropSelect {
    name: String,
    novalue: bool,
}

/// One `CALDAV:comp`: what to return of a component; `None` lists mean all.
#[derive(Debug, Clone)]
struct CompSelect {
    name: String,
    props: Option<Vec<PropSelect>>,
    comps: Option<Vec<CompSelect>>,
}

/// How calendar data is to be returned.
#[derive(Debug, Clone, Default)]
pub(crate) struct DataRequest {
    select: Option<CompSelect>,
    expand: Option<TimeRange>,
    limit_recurrence: Option<TimeRange>,
    limit_freebusy: Option<TimeRange>,
    /// Where floating times are placed, for `expand` and `limit-recurrence-set`.
    zone: Zone,
}

fn attr<'e>(e: &'e Element, name: &str) -> Option<&'e str> {
    e.get_attr(&Name::owned("", name))
}

fn invalid(message: String) -> DavError {
    DavError::forbidden(message).condition(cal("valid-filter"))
}

/// The `start` and `end` of an `expand` or `limit-*` element: both required, in UTC.
fn range_of(e: &Element) -> Result<TimeRange, DavError> {
    let bound = |name: &str| {
        attr(e, name)
            .and_then(parse_time)
            .filter(|(_, utc)| *utc)
            .map(|(t, _)| t)
            .ok_or_else(|| invalid(format!("{} needs a UTC {name}", e.name.local())))
    };
    let range = TimeRange {
        start: bound("start")?,
        end: bound("end")?,
    };
    if range.start >= range.end {
        return Err(invalid(format!("{} ends before it starts", e.name.local())));
    }
    Ok(range)
}

fn name_attr(e: &Element) -> Result<String, DavError> {
    attr(e, "name")
        .map(|n| n.trim().to_ascii_uppercase())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid(format!("{} needs a name", e.name.local())))
}

fn comp_select(e: &Element) -> Result<CompSelect, DavError> {
    let children = |local: &'static str| e.elements().filter(move |c| c.name == cal(local));
    let allprop = children("allprop").next().is_some();
    let allcomp = children("allcomp").next().is_some();
    let named_props = children("prop")
        .map(|p| {
            Ok(PropSelect {
                name: name_attr(p)?,
                novalue: attr(p, "novalue") == Some("yes"),
            })
        })
        .collect::<Result<Vec<_>, DavError>>()?;
    let named_comps = children("comp")
        .map(comp_select)
        .collect::<Result<Vec<_>, DavError>>()?;
    let bare = !allprop && !allcomp && named_props.is_empty() && named_comps.is_empty();
    Ok(CompSelect {
        name: name_attr(e)?,
        props: (!(allprop || bare)).then_some(named_props),
        comps: (!(allcomp || bare)).then_some(named_comps),
    })
}

/// Reads the `calendar-data` element of a request's `DAV:prop`, if it asks for one;
/// floating times are placed in the zone `zone` gives, asked for only when the request
/// expands or limits recurrences (it may parse the calendar's VTIMEZONE).
pub(crate) fn requested(
    prop: Option<&Element>,
    zone: impl FnOnce() -> Zone,
) -> Result<Option<DataRequest>, DavError> {
    let Some(element) = prop.and_then(|p| p.child(&CALENDAR_DATA)) else {
        return Ok(None);
    };
    let content_type = attr(element, "content-type").unwrap_or("text/calendar");
    let version = attr(element, "version").unwrap_or("2.0");
    if !content_type.trim().eq_ignore_ascii_case("text/calendar") || version.trim() != "2.0" {
        return Err(DavError::forbidden(format!(
            "calendar data is served as text/calendar 2.0, not {content_type} {version}"
        ))
        .condition(cal("supported-calendar-data")));
    }
    let select = match element.child(&cal("comp")) {
        None => None,
        Some(c) => {
            let select = comp_select(c)?;
            if select.name != "VCALENDAR" {
                return Err(invalid("calendar-data's comp must be VCALENDAR".into()));
            }
            Some(select)
        }
    };
    let limit = |local| element.child(&cal(local)).map(range_of).transpose();
    let (expand, limit_recurrence) = (limit("expand")?, limit("limit-recurrence-set")?);
    let zone = match expand.is_some() || limit_recurrence.is_some() {
        true => zone(),
        false => chrono_tz::UTC,
    };
    Ok(Some(DataRequest {
        select,
        expand,
        limit_recurrence,
        limit_freebusy: limit("limit-freebusy-set")?,
        zone,
    }))
}

/// The calendar data to return for an item's bytes.
pub(crate) fn render(request: &DataRequest, bytes: &[u8]) -> Element {
    let text = String::from_utf8_lossy(bytes);
    let mut data = match request.expand {
        Some(range) => {
            expand(&text, range, request.zone).unwrap_or_else(|| text.clone().into_owned())
        }
        None => text.into_owned(),
    };
    let narrowed = request.select.is_some()
        || request.limit_recurrence.is_some()
        || request.limit_freebusy.is_some();
    if narrowed && let Some(n) = narrow(request, &data) {
        data = n;
    }
    Element::with_text(CALENDAR_DATA, data)
}

/// The object with only what the request selects; `None` when it cannot be parsed.
fn narrow(request: &DataRequest, text: &str) -> Option<String> {
    let unfolded = unfold(text);
    let roots = crate::ical::parse(&unfolded).ok()?;
    let root = roots.first()?;
    let masters: Vec<&Component<'_>> = root
        .components
        .iter()
        .filter(|c| recurrence_id(c, request.zone).is_none())
        .collect();
    let keep = |c: &Component<'_>| {
        request.limit_recurrence.is_none_or(|range| {
            let master = masters
                .iter()
                .find(|m| m.name.as_str().eq_ignore_ascii_case(c.name.as_str()));
            override_affects(c, master.copied(), range, request.zone)
        })
    };
    let mut out = String::new();
    let writer = Writer {
        keep: &keep,
        freebusy: request.limit_freebusy,
    };
    crate::query::with_object_zones(root, || {
        writer.component(&mut out, root, request.select.as_ref(), true);
    });
    Some(out)
}

/// Does a component survive `limit-recurrence-set` (RFC 4791 §9.6.6)? Masters and
/// non-recurring components always do; an override does when its own time or the
/// time of the instance it replaces overlaps the range, or when it is THISANDFUTURE
/// and starts before the range ends.
fn override_affects(
    c: &Component<'_>,
    master: Option<&Component<'_>>,
    range: TimeRange,
    zone: Zone,
) -> bool {
    let Some((was, exact)) = first_time(c, "RECURRENCE-ID", zone) else {
        return true;
    };
    if crate::query::this_and_future(c) && was < range.end {
        return true;
    }
    let now = first_time(c, "DTSTART", zone).is_some_and(|s| instance_matches(c, s, range, zone));
    let before = master.is_some_and(|m| instance_matches(m, (was, exact), range, zone));
    now || before
}

/// The periods of a FREEBUSY value that overlap the range, or `None` if none does.
fn periods_within(value: &str, range: TimeRange) -> Option<String> {
    let kept: Vec<&str> = value
        .split(',')
        .filter(|period| {
            let Some((from, to)) = period.trim().split_once('/') else {
                return false;
            };
            let Some((start, _)) = parse_time(from) else {
                return false;
            };
            let end = parse_time(to)
                .map(|t| t.0)
                .or_else(|| parse_duration(to).map(|d| start + d));
            end.is_some_and(|end| start < range.end && end > range.start)
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

/// Writes the selected parts of a component.
struct Writer<'k> {
    keep: &'k dyn Fn(&Component<'_>) -> bool,
    freebusy: Option<TimeRange>,
}

impl Writer<'_> {
    fn property(&self, out: &mut String, owner: &str, p: &Property<'_>, novalue: bool) {
        if novalue {
            property_with(out, p, "");
            return;
        }
        if let Some(range) = self.freebusy
            && owner == "VFREEBUSY"
            && p.name.as_str().eq_ignore_ascii_case("FREEBUSY")
        {
            if let Some(value) = periods_within(p.val.as_str(), range) {
                property_with(out, p, &value);
            }
            return;
        }
        property(out, p);
    }

    fn component(
        &self,
        out: &mut String,
        c: &Component<'_>,
        select: Option<&CompSelect>,
        top: bool,
    ) {
        let name = c.name.as_str().to_ascii_uppercase();
        line(out, &format!("BEGIN:{name}"));
        for p in &c.properties {
            let novalue = match select.and_then(|s| s.props.as_ref()) {
                None => Some(false),
                Some(list) => list
                    .iter()
                    .find(|x| p.name.as_str().eq_ignore_ascii_case(&x.name))
                    .map(|x| x.novalue),
            };
            if let Some(novalue) = novalue {
                self.property(out, &name, p, novalue);
            }
        }
        for sub in &c.components {
            if top && !(self.keep)(sub) {
                continue;
            }
            match select.and_then(|s| s.comps.as_ref()) {
                None => self.component(out, sub, None, false),
                Some(list) => {
                    if let Some(s) = list
                        .iter()
                        .find(|x| sub.name.as_str().eq_ignore_ascii_case(&x.name))
                    {
                        self.component(out, sub, Some(s), false);
                    }
                }
            }
        }
        line(out, &format!("END:{name}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dirdav_plugin::xml::{Limits, parse};

    fn request(inner: &str) -> Result<Option<DataRequest>, DavError> {
        let doc = format!(
            "<D:prop xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">{inner}</D:prop>"
        );
        requested(
            Some(&parse(doc.as_bytes(), &Limits::default()).unwrap()),
            || chrono_tz::UTC,
        )
    }

    fn rendered(inner: &str, ics: &str) -> String {
        render(&request(inner).unwrap().unwrap(), ics.as_bytes()).text()
    }

    const TASK: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTODO\r\nUID:t\r\n\
SUMMARY:Pay rent\r\nDESCRIPTION:On time\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n\
END:VTODO\r\nEND:VCALENDAR\r\n";

    #[test]
    fn without_a_selection_the_stored_bytes_are_returned() {
        let odd = "BEGIN:VCALENDAR\nversion:2.0\nBEGIN:VTODO\nUID:t\nEND:VTODO\nEND:VCALENDAR\n";
        assert_eq!(rendered("<C:calendar-data/>", odd), odd);
    }

    #[test]
    fn named_properties_and_components_only() {
        let out = rendered(
            "<C:calendar-data><C:comp name=\"VCALENDAR\"><C:prop name=\"VERSION\"/>\
<C:comp name=\"VTODO\"><C:prop name=\"UID\"/><C:prop name=\"description\" novalue=\"yes\"/></C:comp>\
</C:comp></C:calendar-data>",
            TASK,
        );
        assert_eq!(
            out,
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t\r\nDESCRIPTION:\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
        );
    }

    #[test]
    fn allprop_allcomp_and_a_bare_comp_return_everything_below() {
        let all = rendered(
            "<C:calendar-data><C:comp name=\"VCALENDAR\"><C:allprop/><C:allcomp/></C:comp></C:calendar-data>",
            TASK,
        );
        assert_eq!(all, TASK);
        let bare = rendered(
            "<C:calendar-data><C:comp name=\"VCALENDAR\"><C:comp name=\"VTODO\"/></C:comp></C:calendar-data>",
            TASK,
        );
        assert!(bare.starts_with("BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t\r\n"));
        assert!(bare.contains("BEGIN:VALARM\r\nACTION:DISPLAY\r\n"));
    }

    #[test]
    fn limits_keep_only_what_touches_the_range() {
        let fb = "BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\nUID:f\r\n\
FREEBUSY:20060101T100000Z/PT1H,20060102T100000Z/20060102T120000Z\r\n\
FREEBUSY;FBTYPE=BUSY-TENTATIVE:20060103T100000Z/PT1H\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
        let out = rendered(
            "<C:calendar-data><C:limit-freebusy-set start=\"20060102T000000Z\" end=\"20060103T000000Z\"/></C:calendar-data>",
            fb,
        );
        assert_eq!(
            out,
            "BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\nUID:f\r\nFREEBUSY:20060102T100000Z/20060102T120000Z\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n"
        );
        let weekly = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:w\r\nDTSTART:20060102T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:w\r\nRECURRENCE-ID:20060109T100000Z\r\nDTSTART:20060109T150000Z\r\nDURATION:PT1H\r\nSUMMARY:moved\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:w\r\nRECURRENCE-ID:20060116T100000Z\r\nDTSTART:20060110T100000Z\r\nDURATION:PT1H\r\nSUMMARY:moved out\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:w\r\nRECURRENCE-ID;RANGE=THISANDFUTURE:20060102T100000Z\r\nDTSTART:20060102T110000Z\r\nDURATION:PT1H\r\nSUMMARY:all later\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";
        let out = rendered(
            "<C:calendar-data><C:limit-recurrence-set start=\"20060116T000000Z\" end=\"20060117T000000Z\"/></C:calendar-data>",
            weekly,
        );
        // The master, the override moved away from the 16th, the THISANDFUTURE one;
        // not the override whose old and new times both lie outside the range.
        assert!(out.contains("RRULE:FREQ=WEEKLY;COUNT=4"));
        assert!(out.contains("SUMMARY:moved out"));
        assert!(out.contains("SUMMARY:all later"));
        assert!(!out.contains("SUMMARY:moved\r\n"));
    }

    #[test]
    fn bad_requests_are_refused_with_their_condition() {
        let text = |r: Result<Option<DataRequest>, DavError>| format!("{:?}", r.unwrap_err());
        assert!(
            text(request(
                "<C:calendar-data content-type=\"application/calendar+json\"/>"
            ))
            .contains("supported-calendar-data")
        );
        assert!(
            text(request(
                "<C:calendar-data><C:expand start=\"20060103T000000\" end=\"20060105T000000Z\"/></C:calendar-data>"
            ))
            .contains("valid-filter")
        );
        assert!(
            text(request(
                "<C:calendar-data><C:comp name=\"VEVENT\"/></C:calendar-data>"
            ))
            .contains("valid-filter")
        );
    }
}
