//! `CALDAV:expand` (RFC 4791 §9.6.5): a recurring object returned as the instances that
//! overlap a time range, each with its `RECURRENCE-ID`, start and end in UTC, and no
//! recurrence rules; overridden instances as their overrides; time zones left out.

use chrono::DateTime;
use icalendar::parser::{Component, Property, unfold};

use crate::query::{
    TimeRange, Zone, after_start, first_time, futures, instance_matches, instances, props,
    recurrence_id, resolve, utc_to_wall, widened,
};
use crate::write::{component, line, property};

/// Properties an expanded instance loses or gets rewritten.
const DROPPED: [&str; 7] = [
    "RRULE",
    "RDATE",
    "EXDATE",
    "EXRULE",
    "DTSTART",
    "DTEND",
    "RECURRENCE-ID",
];

fn utc_text(t: i64) -> String {
    DateTime::from_timestamp(t, 0)
        .map_or_else(String::new, |d| d.format("%Y%m%dT%H%M%SZ").to_string())
}

/// A date or date-time as an instance carries it: DATE values stay dates (all-day, the
/// date in `zone`), date-times become UTC.
fn time_value(p: &Property<'_>, start: i64, zone: Zone) -> String {
    if p.val.as_str().trim().len() == 8 {
        format!(
            ";VALUE=DATE:{}",
            utc_text(utc_to_wall(zone, start))
                .get(..8)
                .unwrap_or_default()
        )
    } else {
        format!(":{}", utc_text(start))
    }
}

/// One instance: the component's other properties, then its times in UTC.
fn instance(out: &mut String, c: &Component<'_>, start: i64, recurrence: Option<i64>, zone: Zone) {
    let name = c.name.as_str().to_ascii_uppercase();
    line(out, &format!("BEGIN:{name}"));
    for p in c.properties.iter().filter(|p| {
        !DROPPED
            .iter()
            .any(|d| p.name.as_str().eq_ignore_ascii_case(d))
    }) {
        property(out, p);
    }
    let dtstart = props(c, "DTSTART").next();
    if let Some(p) = dtstart {
        line(out, &format!("DTSTART{}", time_value(p, start, zone)));
    }
    if let Some(p) = props(c, "DTEND").next()
        && let Some(length) = after_start(c, "DTEND", zone)
    {
        line(
            out,
            &format!("DTEND{}", time_value(p, start + length, zone)),
        );
    }
    if let (Some(r), Some(p)) = (recurrence, dtstart) {
        line(out, &format!("RECURRENCE-ID{}", time_value(p, r, zone)));
    }
    for sub in &c.components {
        component(out, sub);
    }
    line(out, &format!("END:{name}"));
}

/// The object expanded over `range`; `None` when it cannot be parsed.
pub(crate) fn expand(text: &str, range: TimeRange, zone: Zone) -> Option<String> {
    let unfolded = unfold(text);
    let roots = crate::ical::parse(&unfolded).ok()?;
    let root = roots.first()?;
    crate::query::with_object_zones(root, || expand_root(root, range, zone))
}

/// [`expand`] of a parsed VCALENDAR, its own zones in force.
fn expand_root(root: &Component<'_>, range: TimeRange, zone: Zone) -> Option<String> {
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    for p in &root.properties {
        property(&mut out, p);
    }
    let parts: Vec<&Component<'_>> = root
        .components
        .iter()
        .filter(|c| !c.name.as_str().eq_ignore_ascii_case("VTIMEZONE"))
        .collect();
    let overridden: Vec<i64> = parts
        .iter()
        .filter_map(|c| recurrence_id(c, zone))
        .collect();
    let futures = futures(&parts, zone);
    for c in &parts {
        let Some(start) = first_time(c, "DTSTART", zone) else {
            component(&mut out, c);
            continue;
        };
        if let Some(r) = recurrence_id(c, zone) {
            if instance_matches(c, start, range, zone) {
                instance(&mut out, c, start.0, Some(r), zone);
            }
            continue;
        }
        let recurring = props(c, "RRULE").next().is_some() || props(c, "RDATE").next().is_some();
        if !recurring {
            if instance_matches(c, start, range, zone) {
                instance(&mut out, c, start.0, None, zone);
            }
            continue;
        }
        for s in instances(c, widened(range, &futures), &overridden, zone).unwrap_or_default() {
            // An instance a THISANDFUTURE override stands for is that override, moved.
            let (like, moved) = resolve(c, &futures, s);
            if instance_matches(like, moved, range, zone) {
                instance(&mut out, like, moved.0, Some(s.0), zone);
            }
        }
    }
    line(&mut out, "END:VCALENDAR");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_time;

    fn range(a: &str, b: &str) -> TimeRange {
        TimeRange {
            start: parse_time(a).unwrap().0,
            end: parse_time(b).unwrap().0,
        }
    }

    #[test]
    fn expands_into_utc_instances_with_their_overrides() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:w\r\nDTSTART;TZID=Europe/Berlin:20260105T090000\r\nDTEND;TZID=Europe/Berlin:20260105T100000\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE;TZID=Europe/Berlin:20260112T090000\r\nSUMMARY:Stand-up\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:w\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260119T090000\r\nDTSTART;TZID=Europe/Berlin:20260119T110000\r\nDTEND;TZID=Europe/Berlin:20260119T120000\r\nSUMMARY:Stand-up, later\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let out = expand(
            ics,
            range("20260101T000000Z", "20260201T000000Z"),
            chrono_tz::UTC,
        )
        .unwrap();
        assert_eq!(
            out,
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n\
BEGIN:VEVENT\r\nUID:w\r\nSUMMARY:Stand-up\r\nDTSTART:20260105T080000Z\r\nDTEND:20260105T090000Z\r\nRECURRENCE-ID:20260105T080000Z\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:w\r\nSUMMARY:Stand-up\r\nDTSTART:20260126T080000Z\r\nDTEND:20260126T090000Z\r\nRECURRENCE-ID:20260126T080000Z\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:w\r\nSUMMARY:Stand-up, later\r\nDTSTART:20260119T100000Z\r\nDTEND:20260119T110000Z\r\nRECURRENCE-ID:20260119T080000Z\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n"
        );
        let narrow = expand(
            ics,
            range("20260126T000000Z", "20260127T000000Z"),
            chrono_tz::UTC,
        )
        .unwrap();
        assert_eq!(narrow.matches("BEGIN:VEVENT").count(), 1);
    }
}
