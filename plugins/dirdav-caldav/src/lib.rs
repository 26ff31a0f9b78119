//! CalDAV (RFC 4791) for dirdav: folders whose `.dav.toml` says `kind = "calendar"` are
//! calendar collections.
//!
//! This plugin contributes the `calendar` collection kind and the `calendar-access`
//! compliance token; the calendar properties (description, colour, time zone, supported
//! components and data, maximum size, `calendar-home-set`); checks on every PUT into a
//! calendar, each refusal naming its RFC 4791 §5.3.2 precondition; a summary of every
//! item (UID, component, time span) for the index; MKCALENDAR; GET on a calendar as
//! one `text/calendar` (subscriptions and exports); and the
//! `calendar-multiget`, `calendar-query` and `free-busy-query` REPORTs (the whole filter
//! grammar of RFC 4791 §9.7, time ranges on recurring events and tasks included; partial
//! retrieval, `expand`, `limit-recurrence-set` and `limit-freebusy-set` in
//! `calendar-data`).
//!
//! ```
//! use dirdav_plugin::Registry;
//! let mut registry = Registry::default();
//! registry.register(&dirdav_caldav::CalDav::default());
//! registry.check().unwrap();
//! assert!(registry.compliance.contains(&"calendar-access"));
//! ```

mod calendar_query;
mod data;
mod expand;
mod export;
mod freebusy;
mod ical;
mod mkcalendar;
mod multiget;
mod query;
mod time;
mod write;

pub use ical::{check, lint};

use dirdav_plugin::xml::{Element, Name, ns};
use dirdav_plugin::{
    CollectionConfig, DavError, LiveProperty, Plugin, Registrar, Resource, WriteCheck,
};

use crate::query::{Zone, props, zone_named};

/// The collection kind this plugin serves.
pub const KIND: &str = "calendar";

/// Where a calendar's `.dav.toml` names the component types it takes
/// (`[caldav] components = ["VEVENT"]`): for plugins that make calendars.
pub const COMPONENTS: [&str; 2] = ["caldav", "components"];

/// The component types a calendar whose `.dav.toml` names none reports in
/// `supported-calendar-component-set`: those RFC 5545 and RFC 7953 define. Such a
/// calendar accepts every type, these and any other (RFC 4791 §5.2.3: without the
/// property, all component types are accepted; MKCALENDAR without it makes one).
const EVERY_COMPONENT: [&str; 5] = ["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VAVAILABILITY"];

/// The largest calendar object accepted (`CALDAV:max-resource-size`).
const MAX_RESOURCE_SIZE: usize = 10 * 1024 * 1024;

pub(crate) const fn cal(local: &'static str) -> Name {
    Name::new(ns::CALDAV, local)
}

const CALENDAR: Name = cal("calendar");
const CALENDAR_DESCRIPTION: Name = cal("calendar-description");
const CALENDAR_TIMEZONE: Name = cal("calendar-timezone");
const SUPPORTED_COMPONENTS: Name = cal("supported-calendar-component-set");
const SUPPORTED_DATA: Name = cal("supported-calendar-data");
const MAX_SIZE: Name = cal("max-resource-size");
const HOME_SET: Name = cal("calendar-home-set");
const COMP: Name = cal("comp");
const CALENDAR_DATA: Name = cal("calendar-data");
const CALENDAR_COLOR: Name = Name::new(ns::APPLE_ICAL, "calendar-color");
const COLLATIONS: Name = cal("supported-collation-set");
/// The earliest and latest times stored: the whole range iCalendar can write, as
/// dirdav has no narrower one.
const MIN_DATE: Name = cal("min-date-time");
const MAX_DATE: Name = cal("max-date-time");
const MAX_INSTANCES: Name = cal("max-instances");
const MAX_ATTENDEES: Name = cal("max-attendees-per-instance");

/// The CalDAV plugin.
#[derive(Debug, Default, Clone)]
pub struct CalDav {
    _private: (),
}

/// The zones a text's VTIMEZONE components name (their TZID, else `X-LIC-LOCATION`),
/// where the time zone database knows one: `None` when the text holds no VTIMEZONE at
/// all, `Some(None)` when it does but names no zone the database knows.
fn zone_of_vtimezone(text: &str) -> Option<Option<Zone>> {
    let unfolded = icalendar::parser::unfold(text);
    let calendars = ical::parse(&unfolded).ok()?;
    let mut zones = calendars
        .iter()
        .flat_map(|c| &c.components)
        .filter(|c| c.name.as_str().eq_ignore_ascii_case("VTIMEZONE"))
        .peekable();
    zones.peek()?;
    Some(
        zones
            .flat_map(|z| props(z, "TZID").chain(props(z, "X-LIC-LOCATION")))
            .find_map(|p| zone_named(p.val.as_str())),
    )
}

/// Why a time zone given as iCalendar text (a `calendar-timezone` value, a query's
/// `CALDAV:timezone`) is not one, if it is not: it must be one VCALENDAR holding
/// exactly one VTIMEZONE and nothing else (RFC 4791 §5.2.2, §9.8), and that VTIMEZONE
/// a valid one (RFC 5545 §3.6.5): a TZID, and at least one STANDARD or DAYLIGHT, each
/// with DTSTART and the offsets it goes from and to. Nesting is bounded as for any body.
fn invalid_vtimezone(text: &str) -> Option<String> {
    let unfolded = icalendar::parser::unfold(text.trim());
    let calendars = match ical::parse(&unfolded) {
        Ok(c) => c,
        Err(e) => return Some(format!("is not iCalendar: {e}")),
    };
    let [calendar] = calendars.as_slice() else {
        return Some("must be one VCALENDAR".into());
    };
    if !calendar.name.as_str().eq_ignore_ascii_case("VCALENDAR") {
        return Some("must be a VCALENDAR".into());
    }
    let [zone] = calendar.components.as_slice() else {
        return Some(format!(
            "must hold one VTIMEZONE and nothing else, not {} components",
            calendar.components.len()
        ));
    };
    if !zone.name.as_str().eq_ignore_ascii_case("VTIMEZONE") {
        return Some(format!("must hold a VTIMEZONE, not {}", zone.name));
    }
    if props(zone, "TZID")
        .next()
        .is_none_or(|p| p.val.as_str().trim().is_empty())
    {
        return Some("VTIMEZONE without TZID".into());
    }
    let offset = |v: &str| {
        let v = v.trim();
        let digits = v.get(1..).unwrap_or("");
        v.starts_with(['+', '-'])
            && matches!(digits.len(), 4 | 6)
            && digits.bytes().all(|b| b.is_ascii_digit())
    };
    let mut rules = 0;
    for rule in &zone.components {
        let name = rule.name.as_str().to_ascii_uppercase();
        if name != "STANDARD" && name != "DAYLIGHT" {
            return Some(format!(
                "a VTIMEZONE holds STANDARD and DAYLIGHT, not {name}"
            ));
        }
        rules += 1;
        if props(rule, "DTSTART").next().is_none() {
            return Some(format!("{name} without DTSTART"));
        }
        for needed in ["TZOFFSETFROM", "TZOFFSETTO"] {
            if !props(rule, needed)
                .next()
                .is_some_and(|p| offset(p.val.as_str()))
            {
                return Some(format!("{name} without a valid {needed}"));
            }
        }
    }
    (rules == 0).then(|| "a VTIMEZONE needs a STANDARD or DAYLIGHT component".into())
}

/// A `calendar-timezone` value must be a valid time zone ([`invalid_vtimezone`]), or
/// 403 `valid-calendar-data` (RFC 4791 §5.2.2).
fn check_calendar_timezone(text: &str) -> Result<(), DavError> {
    match invalid_vtimezone(text) {
        None => Ok(()),
        Some(why) => Err(DavError::forbidden(format!("calendar-timezone {why}"))
            .condition(cal("valid-calendar-data"))),
    }
}

/// The zone a calendar-query names for floating times, if it names one: RFC 7809's
/// `CALDAV:timezone-id`, refused with `valid-timezone` when the time zone database does
/// not know it, or `CALDAV:timezone`, refused with `valid-calendar-data` (RFC 4791
/// §7.8, §9.8) when it is not one valid VTIMEZONE ([`invalid_vtimezone`]). A VTIMEZONE of a zone the database does not know
/// (a custom one) names none, and the calendar's zone is used.
pub(crate) fn zone_asked(query: &Element) -> Result<Option<Zone>, DavError> {
    if let Some(id) = query.child(&cal("timezone-id")) {
        return zone_named(&id.text()).map(Some).ok_or_else(|| {
            DavError::forbidden(format!("unknown time zone {:?}", id.text().trim()))
                .condition(cal("valid-timezone"))
        });
    }
    match query.child(&cal("timezone")) {
        None => Ok(None),
        Some(tz) => {
            let text = tz.text();
            if let Some(why) = invalid_vtimezone(&text) {
                return Err(DavError::forbidden(format!("CALDAV:timezone {why}"))
                    .condition(cal("valid-calendar-data")));
            }
            Ok(zone_of_vtimezone(&text).flatten())
        }
    }
}

/// The zone floating times (DATE values and local times without TZID) are placed in
/// for a request on a calendar that names none (RFC 4791 §9.9): the calendar's
/// (`[caldav] timezone` in its `.dav.toml`, else its `calendar-timezone` property),
/// else UTC. A zone the time zone database does not know is passed over.
pub(crate) fn floating_zone(calendar: &CollectionConfig) -> Zone {
    calendar
        .string_at(&["caldav", "timezone"])
        .and_then(zone_named)
        .or_else(|| {
            calendar
                .string_at(&["caldav", "calendar-timezone"])
                .and_then(zone_of_vtimezone)
                .flatten()
        })
        .unwrap_or(chrono_tz::UTC)
}

/// The components a calendar collection takes (`[caldav] components`), `None` when
/// it names none and takes every type.
pub(crate) fn components(resource: &Resource) -> Option<Vec<String>> {
    resource
        .collection
        .table(COMPONENTS[0])
        .and_then(|t| t.get(COMPONENTS[1]))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .map(str::to_ascii_uppercase)
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty())
}

/// The checks before a calendar object reaches disk (RFC 4791 §5.3.2).
fn check_put(w: &WriteCheck<'_>) -> Result<(), DavError> {
    let forbidden =
        |name: &'static str, message: String| DavError::forbidden(message).condition(cal(name));
    if w.body.len() > MAX_RESOURCE_SIZE {
        return Err(forbidden(
            "max-resource-size",
            format!("larger than {MAX_RESOURCE_SIZE} bytes"),
        ));
    }
    let other_type = w
        .media_type()
        .filter(|t| !t.eq_ignore_ascii_case("text/calendar"));
    // A type that names another format is refused even when the body parses (RFC
    // 4791 §5.3.2.1): what the client meant to store is not a calendar object.
    if w.names_another_format(
        &["text/calendar", "application/ics"],
        &["text/vcard", "text/x-vcard", "text/directory"],
    ) {
        return Err(forbidden(
            "supported-calendar-data",
            format!("{} is not text/calendar", other_type.unwrap_or_default()),
        ));
    }
    let object = ical::validate_put(w.body).map_err(|e| match e {
        // Not iCalendar, and not said to be: a media type calendars do not take. (A
        // valid body under another type is taken: clients get the header wrong.)
        ical::Invalid::Data(m) if other_type.is_some() => forbidden(
            "supported-calendar-data",
            format!(
                "{} is not text/calendar ({m})",
                other_type.unwrap_or_default()
            ),
        ),
        ical::Invalid::Data(m) => forbidden("valid-calendar-data", m),
        ical::Invalid::Object(m) => forbidden("valid-calendar-object-resource", m),
        ical::Invalid::Limit(condition, m) => forbidden(condition, m),
    })?;
    if components(w.parent).is_some_and(|c| !c.contains(&object.component)) {
        return Err(forbidden(
            "supported-calendar-component",
            format!("this calendar does not take {}", object.component),
        ));
    }
    w.require_unique_uid(&object.uid, cal("no-uid-conflict"))
}

impl Plugin for CalDav {
    fn name(&self) -> &'static str {
        "dirdav-caldav"
    }

    fn register(&self, r: &mut Registrar<'_>) {
        r.namespace(ns::CALDAV, "cal")
            .namespace(ns::APPLE_ICAL, "ical")
            .compliance("calendar-access")
            .collection_kind(KIND, vec![CALENDAR])
            .before_method(|m| match m.nests_kind(KIND) {
                true => Err(DavError::forbidden(
                    "a calendar cannot go inside a calendar or an address book (RFC 4791 §4.2)",
                )
                .condition(cal("calendar-collection-location-ok"))),
                false => Ok(()),
            })
            .property(LiveProperty::stored_on(
                KIND,
                CALENDAR_DESCRIPTION,
                &["description"],
            ))
            .property(LiveProperty::stored(CALENDAR_COLOR, &["color"]))
            .property(
                LiveProperty::stored(CALENDAR_TIMEZONE, &["caldav", "calendar-timezone"])
                    .checked(check_calendar_timezone)
                    .not_in_allprop(),
            )
            .property(LiveProperty::on_collections_of(
                KIND,
                SUPPORTED_COMPONENTS,
                |ctx| {
                    components(ctx.resource)
                        .unwrap_or_else(|| EVERY_COMPONENT.map(str::to_owned).to_vec())
                        .into_iter()
                        .fold(Element::new(SUPPORTED_COMPONENTS), |set, c| {
                            set.child_element(Element::new(COMP).attr(Name::new("", "name"), c))
                        })
                },
            ))
            .property(LiveProperty::on_collections_of(
                KIND,
                SUPPORTED_DATA,
                |_| {
                    let data = Element::new(CALENDAR_DATA)
                        .attr(Name::new("", "content-type"), "text/calendar")
                        .attr(Name::new("", "version"), "2.0");
                    Element::new(SUPPORTED_DATA).child_element(data)
                },
            ))
            .property(LiveProperty::on_collections_of(KIND, MAX_SIZE, |_| {
                Element::with_text(MAX_SIZE, MAX_RESOURCE_SIZE.to_string())
            }))
            .property(LiveProperty::on_collections_of(KIND, MIN_DATE, |_| {
                Element::with_text(MIN_DATE, "00010101T000000Z")
            }))
            .property(LiveProperty::on_collections_of(KIND, MAX_DATE, |_| {
                Element::with_text(MAX_DATE, "99991231T235959Z")
            }))
            .property(LiveProperty::on_collections_of(KIND, MAX_INSTANCES, |_| {
                Element::with_text(MAX_INSTANCES, ical::MAX_INSTANCES.to_string())
            }))
            .property(LiveProperty::on_collections_of(KIND, MAX_ATTENDEES, |_| {
                Element::with_text(MAX_ATTENDEES, ical::MAX_ATTENDEES.to_string())
            }))
            .property(
                LiveProperty::computed(HOME_SET, |ctx| ctx.home_set(HOME_SET)).not_in_allprop(),
            )
            .property(LiveProperty::on_collections_of(KIND, COLLATIONS, |_| {
                ["i;ascii-casemap", "i;octet", "i;unicode-casemap"]
                    .into_iter()
                    .fold(Element::new(COLLATIONS), |set, c| {
                        set.child_element(Element::with_text(cal("supported-collation"), c))
                    })
            }))
            .write_check(KIND, check_put)
            .summarizer(KIND, ical::summarize)
            .method("MKCALENDAR", mkcalendar::mkcalendar)
            .collection_get(KIND, export::export)
            .report(
                multiget::CALENDAR_MULTIGET,
                |r| r.kind() == Some(KIND),
                multiget::report,
            )
            .report(
                calendar_query::CALENDAR_QUERY,
                // A calendar and its items, and a plain collection (a home) to search
                // the calendars below it.
                |r| r.kind() == Some(KIND) || (r.is_collection && r.kind().is_none()),
                calendar_query::report,
            )
            .report(
                freebusy::FREE_BUSY_QUERY,
                |r| r.is_collection_of(KIND),
                freebusy::report,
            );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dirdav_plugin::xml::{Limits, parse};

    const BERLIN: &str = "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:/mozilla.org/20050126_1/Europe/Berlin\r\nX-LIC-LOCATION:Europe/Berlin\r\n\
        BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";
    const CUSTOM: &str = "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Office time\r\nX-LIC-LOCATION:America/New_York\r\n\
        BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";

    fn calendar(toml: &str) -> CollectionConfig {
        CollectionConfig {
            document: toml.parse().unwrap(),
            ..CollectionConfig::default()
        }
    }

    fn query(inner: &str) -> Element {
        let doc = format!(
            r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav">{inner}</C:calendar-query>"#
        );
        parse(doc.as_bytes(), &Limits::default()).unwrap()
    }

    #[test]
    fn floating_times_take_the_query_zone_then_the_calendar_zone_then_utc() {
        let none = calendar("");
        assert_eq!(floating_zone(&none), chrono_tz::UTC);
        let configured = calendar("[caldav]\ntimezone = \"Asia/Tokyo\"\n");
        assert_eq!(floating_zone(&configured), chrono_tz::Asia::Tokyo);
        let mut property = toml::Table::new();
        property.insert("calendar-timezone".into(), BERLIN.into());
        let mut document = toml::Table::new();
        document.insert("caldav".into(), property.into());
        let by_property = CollectionConfig {
            document,
            ..CollectionConfig::default()
        };
        assert_eq!(floating_zone(&by_property), chrono_tz::Europe::Berlin);
        let escaped = BERLIN.replace("\r\n", "&#13;\n");
        let asked = query(&format!("<C:timezone>{escaped}</C:timezone>"));
        assert_eq!(zone_asked(&asked).unwrap(), Some(chrono_tz::Europe::Berlin));
        let by_id = query("<C:timezone-id>America/Chicago</C:timezone-id>");
        assert_eq!(
            zone_asked(&by_id).unwrap(),
            Some(chrono_tz::America::Chicago)
        );
        let custom = query(&format!("<C:timezone>{CUSTOM}</C:timezone>"));
        assert_eq!(
            zone_asked(&custom).unwrap(),
            Some(chrono_tz::America::New_York),
            "a TZID the database does not know falls back to X-LIC-LOCATION"
        );
        let own = CUSTOM.replace("X-LIC-LOCATION:America/New_York\r\n", "");
        let own = query(&format!("<C:timezone>{own}</C:timezone>"));
        assert_eq!(
            zone_asked(&own).unwrap(),
            None,
            "the calendar's zone is used"
        );
        assert_eq!(zone_asked(&query("")).unwrap(), None);
    }
}
