//! Calendar queries (RFC 4791 §9.7): the filter grammar, a prefilter on the index's
//! summary that skips items before any is read, and the exact evaluation of a filter
//! against a parsed item, recurrences included (expanded with the `rrule` crate).

use chrono::{Offset, TimeZone};
use dirdav_plugin::xml::{Element, Name};
use dirdav_plugin::{DavError, Periodic, Summary};
use icalendar::parser::{Component, Property};

use crate::cal;
use crate::time::{parse_duration, parse_time};

/// The time zone floating times are placed in (RFC 4791 §9.9): the query's, else the
/// calendar's, else UTC (see [`crate::floating_zone`]).
pub(crate) type Zone = chrono_tz::Tz;

const DAY: i64 = 86_400;
/// No time zone is more than 14 hours from UTC.
const SLACK: i64 = 14 * 3600;
/// The most instances of one recurrence looked at for one query.
const MAX_INSTANCES: u16 = 5000;

/// A time range, seconds since the epoch, start inclusive, end exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeRange {
    pub(crate) start: i64,
    pub(crate) end: i64,
}

/// How text is compared (RFC 4790 collations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Collation {
    AsciiCasemap,
    Octet,
    UnicodeCasemap,
}

/// `CALDAV:text-match`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TextMatch {
    value: String,
    collation: Collation,
    negate: bool,
}

/// `CALDAV:param-filter`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParamFilter {
    name: String,
    not_defined: bool,
    text: Option<TextMatch>,
}

/// `CALDAV:prop-filter`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PropFilter {
    name: String,
    not_defined: bool,
    time_range: Option<TimeRange>,
    text: Option<TextMatch>,
    params: Vec<ParamFilter>,
}

/// `CALDAV:comp-filter`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CompFilter {
    name: String,
    not_defined: bool,
    time_range: Option<TimeRange>,
    props: Vec<PropFilter>,
    comps: Vec<CompFilter>,
}

fn invalid(message: impl Into<std::borrow::Cow<'static, str>>) -> DavError {
    DavError::forbidden(message).condition(cal("valid-filter"))
}

fn attr<'e>(e: &'e Element, name: &str) -> Option<&'e str> {
    e.get_attr(&Name::owned("", name))
}

pub(crate) fn time_range(e: &Element) -> Result<Option<TimeRange>, DavError> {
    let Some(tr) = e.child(&cal("time-range")) else {
        return Ok(None);
    };
    let bound = |name: &str| -> Result<Option<i64>, DavError> {
        match attr(tr, name) {
            None => Ok(None),
            Some(v) => match parse_time(v) {
                Some((t, true)) => Ok(Some(t)),
                _ => Err(invalid(format!(
                    "time-range {name} must be a UTC date-time"
                ))),
            },
        }
    };
    let (start, end) = (bound("start")?, bound("end")?);
    if start.is_none() && end.is_none() {
        return Err(invalid("time-range needs start or end"));
    }
    Ok(Some(TimeRange {
        start: start.unwrap_or(i64::MIN),
        end: end.unwrap_or(i64::MAX),
    }))
}

fn text_match(e: &Element) -> Result<Option<TextMatch>, DavError> {
    let Some(tm) = e.child(&cal("text-match")) else {
        return Ok(None);
    };
    let collation = match attr(tm, "collation").unwrap_or("i;ascii-casemap") {
        "i;ascii-casemap" => Collation::AsciiCasemap,
        "i;octet" => Collation::Octet,
        "i;unicode-casemap" => Collation::UnicodeCasemap,
        other => {
            return Err(
                DavError::forbidden(format!("unsupported collation {other}"))
                    .condition(cal("supported-collation")),
            );
        }
    };
    Ok(Some(TextMatch {
        value: tm.text(),
        collation,
        negate: attr(tm, "negate-condition") == Some("yes"),
    }))
}

fn name_of(e: &Element) -> Result<String, DavError> {
    attr(e, "name")
        .map(|n| n.trim().to_ascii_uppercase())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid(format!("{} needs a name", e.name.local())))
}

fn param_filter(e: &Element) -> Result<ParamFilter, DavError> {
    Ok(ParamFilter {
        name: name_of(e)?,
        not_defined: e.child(&cal("is-not-defined")).is_some(),
        text: text_match(e)?,
    })
}

fn prop_filter(e: &Element) -> Result<PropFilter, DavError> {
    Ok(PropFilter {
        name: name_of(e)?,
        not_defined: e.child(&cal("is-not-defined")).is_some(),
        time_range: time_range(e)?,
        text: text_match(e)?,
        params: e
            .elements()
            .filter(|c| c.name == cal("param-filter"))
            .map(param_filter)
            .collect::<Result<_, _>>()?,
    })
}

/// The components RFC 5545 lets a component hold (§3.6): a comp-filter naming any
/// other inside one of these can never match, and is refused with `valid-filter`
/// (RFC 4791 §9.7.1). Components not named here (`X-`, newer IANA ones) are taken
/// wherever they are asked for.
const CHILDREN: [(&str, &[&str]); 9] = [
    (
        "VCALENDAR",
        &[
            "VEVENT",
            "VTODO",
            "VJOURNAL",
            "VFREEBUSY",
            "VTIMEZONE",
            "VAVAILABILITY",
        ],
    ),
    ("VEVENT", &["VALARM"]),
    ("VTODO", &["VALARM"]),
    ("VJOURNAL", &[]),
    ("VFREEBUSY", &[]),
    ("VTIMEZONE", &["STANDARD", "DAYLIGHT"]),
    ("VALARM", &[]),
    ("STANDARD", &[]),
    ("DAYLIGHT", &[]),
];

/// Properties RFC 5545 gives a value that is no date, time or period (§3.7–§3.8): a
/// time-range on one can never match (RFC 4791 §9.7.2; SUMMARY is the RFC's example).
const UNTIMED: [&str; 33] = [
    "CALSCALE",
    "METHOD",
    "PRODID",
    "VERSION",
    "ATTACH",
    "CATEGORIES",
    "CLASS",
    "COMMENT",
    "DESCRIPTION",
    "GEO",
    "LOCATION",
    "PERCENT-COMPLETE",
    "PRIORITY",
    "RESOURCES",
    "STATUS",
    "SUMMARY",
    "DURATION",
    "TRANSP",
    "TZID",
    "TZNAME",
    "TZOFFSETFROM",
    "TZOFFSETTO",
    "TZURL",
    "ATTENDEE",
    "CONTACT",
    "ORGANIZER",
    "RELATED-TO",
    "URL",
    "UID",
    "RRULE",
    "ACTION",
    "REPEAT",
    "SEQUENCE",
];

/// Refuses a filter that cannot match by the grammar of iCalendar: a component inside
/// one that never holds it, a time-range on a property that holds no time.
fn check_grammar(filter: &CompFilter) -> Result<(), DavError> {
    let allowed = CHILDREN
        .iter()
        .find(|(parent, _)| *parent == filter.name)
        .map(|(_, children)| *children);
    for child in &filter.comps {
        let known = CHILDREN.iter().any(|(name, _)| *name == child.name);
        if let Some(allowed) = allowed
            && known
            && !allowed.contains(&child.name.as_str())
        {
            return Err(invalid(format!(
                "a {} never holds a {}: this comp-filter cannot match (RFC 4791 §9.7.1)",
                filter.name, child.name
            )));
        }
        check_grammar(child)?;
    }
    for prop in &filter.props {
        if prop.time_range.is_some() && UNTIMED.contains(&prop.name.as_str()) {
            return Err(invalid(format!(
                "{} holds no time: a time-range on it cannot match (RFC 4791 §9.7.2)",
                prop.name
            )));
        }
    }
    Ok(())
}

fn comp_filter(e: &Element) -> Result<CompFilter, DavError> {
    Ok(CompFilter {
        name: name_of(e)?,
        not_defined: e.child(&cal("is-not-defined")).is_some(),
        time_range: time_range(e)?,
        props: e
            .elements()
            .filter(|c| c.name == cal("prop-filter"))
            .map(prop_filter)
            .collect::<Result<_, _>>()?,
        comps: e
            .elements()
            .filter(|c| c.name == cal("comp-filter"))
            .map(comp_filter)
            .collect::<Result<_, _>>()?,
    })
}

/// Parses `CALDAV:filter`: one comp-filter, for VCALENDAR.
pub(crate) fn parse_filter(filter: &Element) -> Result<CompFilter, DavError> {
    let mut comps = filter.elements().filter(|c| c.name == cal("comp-filter"));
    let top = comps
        .next()
        .ok_or_else(|| invalid("the filter needs a comp-filter"))?;
    if comps.next().is_some() {
        return Err(invalid("the filter takes one comp-filter"));
    }
    let top = comp_filter(top)?;
    if top.name != "VCALENDAR" {
        return Err(invalid("the top comp-filter must be VCALENDAR"));
    }
    check_grammar(&top)?;
    Ok(top)
}

fn overlaps(span: (i64, i64), range: TimeRange) -> bool {
    span.0 < range.end && span.1 > range.start
}

/// The span of a summary in UTC. A floating event's exact span is kept on the wall clock
/// (`span_floating`): it starts at its wall-clock start in `zone` and lasts as long as
/// on the wall clock, as [`instance_matches`] takes it.
pub(crate) fn span_in(summary: &Summary, zone: Zone) -> Option<(i64, i64)> {
    let (lo, hi) = summary.span?;
    if !summary.span_floating {
        return Some((lo, hi));
    }
    let start = wall_to_utc(zone, lo);
    Some((start, start.saturating_add(hi.saturating_sub(lo))))
}

/// Whether an item with this summary can match: its component type and the time span
/// it may cover, floating times placed in `zone`. Items failing this are never read.
pub(crate) fn may_match(filter: &CompFilter, summary: Option<&Summary>, zone: Zone) -> bool {
    let Some(summary) = summary else {
        return true;
    };
    filter.comps.iter().all(|cf| {
        if cf.not_defined || cf.name == "VTIMEZONE" {
            return true;
        }
        if summary.component.as_deref().is_some_and(|c| c != cf.name) {
            return false;
        }
        match (cf.time_range, span_in(summary, zone)) {
            (Some(range), Some(span)) => overlaps(span, range),
            _ => true,
        }
    })
}

/// The filter's answer when the summary alone gives it, `None` when the item must be
/// read. The summary decides filters that ask only which component an object holds
/// (validated objects hold one type besides VTIMEZONE) and time ranges on an event
/// whose span is exact; anything with properties, nested components or VTIMEZONE
/// needs the item.
pub(crate) fn decided(filter: &CompFilter, summary: Option<&Summary>, zone: Zone) -> Option<bool> {
    let summary = summary?;
    let component = summary.component.as_deref()?;
    if filter.not_defined || filter.time_range.is_some() || !filter.props.is_empty() {
        return None;
    }
    let mut answer = true;
    for cf in &filter.comps {
        if !cf.props.is_empty() || !cf.comps.is_empty() || cf.name == "VTIMEZONE" {
            return None;
        }
        let this = if cf.name != component {
            cf.not_defined
        } else if cf.not_defined {
            false
        } else {
            match cf.time_range {
                None => true,
                Some(_) if component != "VEVENT" => return None,
                Some(range) if !summary.instances.is_empty() => {
                    summary.instances.iter().any(|span| overlaps(*span, range))
                }
                Some(range) if summary.periodic.is_some() => summary
                    .periodic
                    .as_deref()
                    .and_then(|p| periodic_overlaps(p, range))?,
                Some(range) => match span_in(summary, zone) {
                    Some(span) if summary.span_exact => overlaps(span, range),
                    _ => return None,
                },
            }
        };
        answer &= this;
    }
    Some(answer)
}

/// The most instances of a periodic summary one test looks at; a longer range is
/// answered by reading the item.
const PERIODIC_TESTS: usize = 10_000;

/// Whether an instance of a periodic event ([`Periodic`]) overlaps `range`, an
/// override's included; `None` when its zone is unknown or the range holds more than
/// [`PERIODIC_TESTS`] instances.
pub(crate) fn periodic_overlaps(p: &Periodic, range: TimeRange) -> Option<bool> {
    if p.extra.iter().any(|span| overlaps(*span, range)) {
        return Some(true);
    }
    let zone = zone_named(&p.zone)?;
    let from = range.start.saturating_sub(p.length);
    for (tested, start) in periodic_starts(p, zone, from, range.end).enumerate() {
        if tested >= PERIODIC_TESTS {
            return None;
        }
        if !p.skip.contains(&start) && overlaps((start, start.saturating_add(p.length)), range) {
            return Some(true);
        }
    }
    Some(false)
}

/// The starts, in UTC, of a periodic event's instances from `from` to before `to`
/// (those in `skip` among them), in order.
pub(crate) fn periodic_starts(
    p: &Periodic,
    zone: Zone,
    from: i64,
    to: i64,
) -> impl Iterator<Item = i64> + '_ {
    let period = i64::from(p.period_days.max(1)) * DAY;
    // A wall clock is less than a day from UTC: start a period before that.
    let first = from
        .saturating_sub(DAY)
        .saturating_sub(p.start)
        .div_euclid(period)
        .saturating_sub(1)
        .max(0);
    (first..)
        .flat_map(move |k| {
            p.offsets.iter().map(move |d| {
                p.start
                    .saturating_add(k.saturating_mul(period))
                    .saturating_add(i64::from(*d) * DAY)
            })
        })
        .map(move |wall| wall_to_utc(zone, wall))
        .take_while(move |t| *t < to && *t <= p.until)
        .filter(move |t| *t >= from)
}

fn upper_eq(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b)
}

pub(crate) fn props<'c, 'n>(
    c: &'c Component<'c>,
    name: &'n str,
) -> impl Iterator<Item = &'c Property<'c>> + use<'c, 'n> {
    c.properties
        .iter()
        .filter(move |p| upper_eq(p.name.as_str(), name))
}

pub(crate) fn param<'p>(p: &'p Property<'_>, name: &str) -> Option<&'p str> {
    p.params
        .iter()
        .find(|x| upper_eq(x.key.as_str(), name))
        .and_then(|x| x.val.as_ref().map(|v| v.as_str()))
}

/// A zone by its TZID: an IANA name, or one behind a vendor's prefix
/// (`/mozilla.org/20050126_1/Europe/Berlin`).
pub(crate) fn zone_named(name: &str) -> Option<Zone> {
    let name = name.trim().trim_matches('"');
    name.parse().ok().or_else(|| {
        name.match_indices('/')
            .find_map(|(i, _)| name.get(i + 1..)?.parse().ok())
    })
}

/// The instant a wall-clock time (seconds since the epoch as if it were UTC) names in
/// `zone`. A time the clocks skip takes the offset from before the gap, a time they
/// pass twice the first (RFC 5545 §3.3.5).
pub(crate) fn wall_to_utc(zone: Zone, wall: i64) -> i64 {
    if zone == chrono_tz::UTC {
        return wall;
    }
    let Some(naive) = chrono::DateTime::from_timestamp(wall, 0).map(|d| d.naive_utc()) else {
        return wall;
    };
    let offset = match zone.offset_from_local_datetime(&naive).earliest() {
        Some(offset) => offset,
        None => zone.offset_from_utc_datetime(&(naive - chrono::TimeDelta::days(1))),
    };
    wall - i64::from(offset.fix().local_minus_utc())
}

/// The wall-clock time in `zone` of an instant.
pub(crate) fn utc_to_wall(zone: Zone, t: i64) -> i64 {
    let Some(at) = chrono::DateTime::from_timestamp(t, 0) else {
        return t;
    };
    t + i64::from(
        zone.offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc(),
    )
}

/// True for a floating time: a DATE, or a DATE-TIME with neither `Z` nor TZID.
pub(crate) fn is_floating(p: &Property<'_>) -> bool {
    parse_time(p.val.as_str()).is_some_and(|(_, utc)| floating_when(p, utc))
}

/// Whether a property whose value parsed (UTC or not) is floating.
fn floating_when(p: &Property<'_>, utc: bool) -> bool {
    !utc && (p.val.as_str().trim().len() == 8 || param(p, "TZID").is_none())
}

/// A property's time in UTC seconds and whether it is exact. UTC times are; so are
/// times in a TZID the time zone database knows, and floating times, placed in `zone`.
/// A TZID it does not know (a custom VTIMEZONE) is taken as UTC, inexact.
pub(crate) fn utc_time(p: &Property<'_>, zone: Zone) -> Option<(i64, bool)> {
    let (wall, utc) = parse_time(p.val.as_str())?;
    if utc {
        return Some((wall, true));
    }
    if floating_when(p, utc) {
        return Some((wall_to_utc(zone, wall), true));
    }
    let tzid = param(p, "TZID")?;
    match zone_named(tzid) {
        Some(tz) => Some((wall_to_utc(tz, wall), true)),
        None => match object_zone_offset(tzid, wall) {
            Some(offset) => Some((wall - offset, true)),
            None => Some((wall, false)),
        },
    }
}

/// The transitions of a VTIMEZONE the time zone database does not know (a custom zone,
/// Outlook's `W. Europe Standard Time`): each onset on the wall clock before it and the
/// offset from then on, in order, and the offset before the first.
#[derive(Debug, Default)]
struct Transitions {
    onsets: Vec<(i64, i64)>,
    before: i64,
}

impl Transitions {
    /// Reads a VTIMEZONE's STANDARD and DAYLIGHT observances (RFC 5545 §3.6.5), their
    /// rules expanded over the years 1900 to 2200.
    fn of(vtimezone: &Component<'_>) -> Transitions {
        let offset = |c: &Component<'_>, name: &str| {
            props(c, name)
                .next()
                .and_then(|p| parse_offset(p.val.as_str()))
        };
        let mut onsets = Vec::new();
        let mut first: Option<(i64, i64)> = None;
        for observance in &vtimezone.components {
            let (Some(to), Some(start)) = (
                offset(observance, "TZOFFSETTO"),
                props(observance, "DTSTART")
                    .next()
                    .and_then(|p| parse_time(p.val.as_str())),
            ) else {
                continue;
            };
            let from = offset(observance, "TZOFFSETFROM").unwrap_or(to);
            if first.is_none_or(|(at, _)| start.0 < at) {
                first = Some((start.0, from));
            }
            let recurs = props(observance, "RRULE").next().is_some()
                || props(observance, "RDATE").next().is_some();
            let found = match recurs {
                true => rule_set(observance)
                    .and_then(|set| walk(set, YEAR_1900, YEAR_2200, 1_000, false))
                    .unwrap_or_else(|| vec![start.0]),
                false => vec![start.0],
            };
            onsets.extend(found.into_iter().map(|t| (t, to)));
        }
        onsets.sort_unstable();
        Transitions {
            before: first.map_or(0, |(_, from)| from),
            onsets,
        }
    }

    /// The offset (seconds east of UTC) at a wall-clock time.
    fn offset_at(&self, wall: i64) -> i64 {
        match self.onsets.partition_point(|(onset, _)| *onset <= wall) {
            0 => self.before,
            n => self.onsets[n - 1].1,
        }
    }
}

const YEAR_1900: i64 = -2_208_988_800;
const YEAR_2200: i64 = 7_258_118_400;

/// A UTC offset value (`+0100`, `-0530`, `+013045`) in seconds.
fn parse_offset(value: &str) -> Option<i64> {
    let v = value.trim();
    let sign = match v.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digit = |r: std::ops::Range<usize>| v.get(r)?.parse::<i64>().ok();
    let seconds = match v.len() {
        5 => 0,
        7 => digit(5..7)?,
        _ => return None,
    };
    Some(sign * (digit(1..3)? * 3600 + digit(3..5)? * 60 + seconds))
}

thread_local! {
    /// The custom zones of the object being evaluated ([`with_object_zones`]).
    static OBJECT_ZONES: std::cell::RefCell<Vec<(String, std::sync::Arc<Transitions>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Transitions of the custom zones already read, by the digest of their VTIMEZONE text:
/// calendars exported by one program repeat one VTIMEZONE in every object.
static ZONE_CACHE: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<[u8; 32], std::sync::Arc<Transitions>>>,
> = std::sync::LazyLock::new(Default::default);

/// The most custom zones kept in [`ZONE_CACHE`]; past it the cache starts afresh.
const ZONE_CACHE_SIZE: usize = 256;

/// Runs `work` with the VTIMEZONEs of `root` that the time zone database does not know
/// in force: a TZID naming one is placed by the object's own rules (RFC 5545 §3.2.19),
/// not taken as UTC. (Known zones are the database's.)
pub(crate) fn with_object_zones<T>(root: &Component<'_>, work: impl FnOnce() -> T) -> T {
    let zones: Vec<(String, std::sync::Arc<Transitions>)> = root
        .components
        .iter()
        .filter(|c| upper_eq(c.name.as_str(), "VTIMEZONE"))
        .filter_map(|z| {
            let tzid = props(z, "TZID").next()?.val.as_str().trim().to_owned();
            if zone_named(&tzid).is_some() {
                return None;
            }
            let key = *blake3::hash(format!("{z:?}").as_bytes()).as_bytes();
            let mut cache = ZONE_CACHE.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= ZONE_CACHE_SIZE {
                cache.clear();
            }
            let transitions = cache
                .entry(key)
                .or_insert_with(|| std::sync::Arc::new(Transitions::of(z)))
                .clone();
            Some((tzid, transitions))
        })
        .collect();
    if zones.is_empty() {
        return work();
    }
    let previous = OBJECT_ZONES.replace(zones);
    let result = work();
    OBJECT_ZONES.set(previous);
    result
}

/// The offset a custom zone of the object being evaluated gives a wall-clock time.
fn object_zone_offset(tzid: &str, wall: i64) -> Option<i64> {
    let tzid = tzid.trim().trim_matches('"');
    OBJECT_ZONES.with_borrow(|zones| {
        zones
            .iter()
            .find(|(name, _)| name == tzid)
            .map(|(_, t)| t.offset_at(wall))
    })
}

/// Whether a date-time is in a custom zone of the object being evaluated.
fn in_object_zone(p: &Property<'_>) -> bool {
    param(p, "TZID")
        .is_some_and(|tzid| zone_named(tzid).is_none() && object_zone_offset(tzid, 0).is_some())
}

pub(crate) fn first_time(c: &Component<'_>, name: &str, zone: Zone) -> Option<(i64, bool)> {
    props(c, name).next().and_then(|p| utc_time(p, zone))
}

/// How long after DTSTART the time `name` (DTEND, DUE) comes: on the wall clock when
/// both are floating, so that a floating event lasts as long in every zone, else
/// between the two instants. `None` without either.
pub(crate) fn after_start(c: &Component<'_>, name: &str, zone: Zone) -> Option<i64> {
    let start = props(c, "DTSTART").next()?;
    let end = props(c, name).next()?;
    if is_floating(start) && is_floating(end) {
        let wall = |p: &Property<'_>| parse_time(p.val.as_str()).map(|t| t.0);
        return Some(wall(end)? - wall(start)?);
    }
    Some(utc_time(end, zone)?.0 - utc_time(start, zone)?.0)
}

/// How long an event's instances last when [`instance_matches`] tests them as an
/// interval: until DTEND ([`after_start`]), for a positive DURATION, or a day for an
/// all-day start. `None` for an event tested as a point in time (no end, a DURATION of
/// zero or less). The summaries' exact spans and instance lists, and free-busy, take
/// their lengths from here.
pub(crate) fn interval_length(event: &Component<'_>, zone: Zone) -> Option<i64> {
    if let Some(length) = after_start(event, "DTEND", zone) {
        return Some(length);
    }
    match props(event, "DURATION")
        .next()
        .and_then(|p| parse_duration(p.val.as_str()))
    {
        Some(d) => (d > 0).then_some(d),
        None => is_date(event, "DTSTART").then_some(DAY),
    }
}

fn is_date(c: &Component<'_>, name: &str) -> bool {
    props(c, name)
        .next()
        .is_some_and(|p| p.val.as_str().trim().len() == 8)
}

/// Does the range match an instance starting at `start` (RFC 4791 §9.9)? Floating
/// times are placed in `zone`. To test many instances of one component, take its
/// [`Shape`] once.
pub(crate) fn instance_matches(
    c: &Component<'_>,
    start: (i64, bool),
    range: TimeRange,
    zone: Zone,
) -> bool {
    Shape::of(c, zone).matches(start, range)
}

/// What RFC 4791 §9.9's table asks of a component, read once so that testing each of
/// its instances is arithmetic: its type and the times it is measured by (DTSTART,
/// DTEND, DURATION, DUE, and for a task without a start COMPLETED and CREATED).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    kind: ShapeKind,
    /// Whether the component has a DTSTART the instance's start stands for.
    has_start: bool,
    /// An event's instance length ([`interval_length`]).
    length: Option<i64>,
    /// How long after the start DTEND comes ([`after_start`]), or with no DTSTART,
    /// DTEND as it stands.
    dtend: Option<i64>,
    /// The same for DUE.
    due: Option<i64>,
    duration: Option<i64>,
    /// A VJOURNAL whose DTSTART is a DATE.
    all_day: bool,
    /// A VTODO without DTSTART: its COMPLETED and CREATED.
    completed: Option<i64>,
    created: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ShapeKind {
    Event,
    Todo,
    Journal,
    Other,
}

impl Shape {
    /// Reads `c`'s times, floating ones placed in `zone`.
    pub(crate) fn of(c: &Component<'_>, zone: Zone) -> Shape {
        let kind = match c.name.as_str() {
            k if k.eq_ignore_ascii_case("VEVENT") => ShapeKind::Event,
            k if k.eq_ignore_ascii_case("VTODO") => ShapeKind::Todo,
            k if k.eq_ignore_ascii_case("VJOURNAL") => ShapeKind::Journal,
            _ => ShapeKind::Other,
        };
        let has_start = first_time(c, "DTSTART", zone).is_some();
        // The end of an instance: as far after its start as DTEND (or DUE) is after
        // DTSTART, or without a start, the time as it stands.
        let end_of = |name: &str| match has_start {
            true => after_start(c, name, zone),
            false => first_time(c, name, zone).map(|t| t.0),
        };
        let todo = kind == ShapeKind::Todo;
        let without_start = |name: &str| match todo && !has_start {
            true => first_time(c, name, zone).map(|t| t.0),
            false => None,
        };
        Shape {
            kind,
            has_start,
            length: match kind {
                ShapeKind::Event => interval_length(c, zone),
                _ => None,
            },
            dtend: match kind {
                ShapeKind::Event | ShapeKind::Other => end_of("DTEND"),
                _ => None,
            },
            due: match todo {
                true => end_of("DUE"),
                false => None,
            },
            duration: props(c, "DURATION")
                .next()
                .and_then(|p| parse_duration(p.val.as_str())),
            all_day: kind == ShapeKind::Journal && is_date(c, "DTSTART"),
            completed: without_start("COMPLETED"),
            created: without_start("CREATED"),
        }
    }

    /// How long before a range an instance may start and still touch it.
    pub(crate) fn reach(&self) -> i64 {
        [self.length, self.dtend, self.due, self.duration]
            .into_iter()
            .flatten()
            .chain(self.all_day.then_some(DAY))
            .max()
            .unwrap_or(0)
            .max(0)
    }

    /// Does the range match the instance starting at `start` (RFC 4791 §9.9)?
    pub(crate) fn matches(&self, start: (i64, bool), range: TimeRange) -> bool {
        let slack = if start.1 { 0 } else { SLACK };
        let range = TimeRange {
            start: range.start.saturating_sub(slack),
            end: range.end.saturating_add(slack),
        };
        let s = start.0;
        let after = |offset: Option<i64>| match self.has_start {
            true => offset.map(|d| s.saturating_add(d)),
            false => offset,
        };
        match self.kind {
            ShapeKind::Event => {
                let end = match self.has_start {
                    true => self.length.map(|l| s.saturating_add(l)),
                    // No start to measure from: DTEND as it stands, else a positive
                    // DURATION.
                    false => self.dtend.or_else(|| self.length.map(|l| s + l)),
                };
                match end {
                    Some(end) => range.start < end && range.end > s,
                    None => range.start <= s && range.end > s,
                }
            }
            ShapeKind::Todo => match (self.has_start, self.duration, after(self.due)) {
                (true, Some(d), _) => range.start <= s + d && (range.end > s || range.end >= s + d),
                (true, None, Some(due)) => {
                    (range.start < due || range.start <= s) && (range.end > s || range.end >= due)
                }
                (true, None, None) => range.start <= s && range.end > s,
                (false, _, _) => self.unreachable_todo(range),
            },
            ShapeKind::Journal => match self.all_day {
                true => range.start < s + DAY && range.end > s,
                false => range.start <= s && range.end > s,
            },
            ShapeKind::Other => {
                let end = after(self.dtend).unwrap_or(s);
                range.start < end.max(s + 1) && range.end > s
            }
        }
    }

    /// VTODO without DTSTART (RFC 4791 §9.9, the rows without a start).
    fn unreachable_todo(&self, range: TimeRange) -> bool {
        match (self.due, self.completed, self.created) {
            (Some(due), _, _) => range.start < due && range.end >= due,
            (None, Some(done), Some(made)) => {
                (range.start <= made || range.start <= done)
                    && (range.end >= made || range.end >= done)
            }
            (None, Some(done), None) => range.start <= done && range.end >= done,
            (None, None, Some(made)) => range.end > made,
            (None, None, None) => true,
        }
    }
}

/// Whether an override's RECURRENCE-ID has `RANGE=THISANDFUTURE` (RFC 5545
/// §3.8.4.4): it then stands for its instance and every later one.
pub(crate) fn this_and_future(c: &Component<'_>) -> bool {
    props(c, "RECURRENCE-ID").next().is_some_and(|p| {
        p.params.iter().any(|param| {
            param.key.as_str().eq_ignore_ascii_case("RANGE")
                && param
                    .val
                    .as_ref()
                    .is_some_and(|v| v.as_str().eq_ignore_ascii_case("THISANDFUTURE"))
        })
    })
}

/// A `RANGE=THISANDFUTURE` override: from the instance its RECURRENCE-ID names on,
/// every instance of the master is this component, moved by as much as the override
/// moved its own instance (RFC 5545 §3.8.4.4).
#[derive(Clone, Copy)]
pub(crate) struct Future<'c> {
    component: &'c Component<'c>,
    /// The RECURRENCE-ID: the first instance it stands for.
    from: i64,
    /// Its DTSTART less its RECURRENCE-ID.
    shift: i64,
}

/// The THISANDFUTURE overrides among a master's siblings, earliest first.
pub(crate) fn futures<'c>(siblings: &[&'c Component<'c>], zone: Zone) -> Vec<Future<'c>> {
    let mut out: Vec<Future<'c>> = siblings
        .iter()
        .filter(|c| this_and_future(c))
        .filter_map(|c| {
            let from = recurrence_id(c, zone)?;
            let start = first_time(c, "DTSTART", zone).map_or(from, |t| t.0);
            Some(Future {
                component: c,
                from,
                shift: start.saturating_sub(from),
            })
        })
        .collect();
    out.sort_by_key(|f| f.from);
    out
}

/// What the master's instance at `start` is: the master itself, or the latest
/// THISANDFUTURE override at or before it, with the instance moved by its shift.
pub(crate) fn resolve<'c>(
    master: &'c Component<'c>,
    futures: &[Future<'c>],
    start: (i64, bool),
) -> (&'c Component<'c>, (i64, bool)) {
    match futures.iter().rev().find(|f| f.from <= start.0) {
        Some(f) => (f.component, (start.0.saturating_add(f.shift), start.1)),
        None => (master, start),
    }
}

/// `range` widened so that the master's instances a THISANDFUTURE override moves into
/// it are among those expanded.
pub(crate) fn widened(range: TimeRange, futures: &[Future<'_>]) -> TimeRange {
    let later = futures.iter().map(|f| f.shift).max().unwrap_or(0).max(0);
    let earlier = futures.iter().map(|f| f.shift).min().unwrap_or(0).min(0);
    TimeRange {
        start: range.start.saturating_sub(later),
        end: range.end.saturating_sub(earlier),
    }
}

/// The instant a RECURRENCE-ID names, in UTC seconds.
pub(crate) fn recurrence_id(c: &Component<'_>, zone: Zone) -> Option<i64> {
    first_time(c, "RECURRENCE-ID", zone).map(|t| t.0)
}

/// A floating DATE or DATE-TIME list (`20260101`, `20260101T090000`) written as UTC
/// date-times, so that the `rrule` crate expands it on the wall clock instead of in
/// the server's own zone.
fn wall_as_utc(values: &str) -> String {
    values
        .split(',')
        .map(|v| {
            let v = v.trim();
            match v.len() {
                8 => format!("{v}T000000Z"),
                _ if v.ends_with(['Z', 'z']) => v.to_owned(),
                _ => format!("{v}Z"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The recurrence set of a master component, for the `rrule` crate. When DTSTART is
/// floating, the set is on the wall clock: its instants are wall-clock times, to be
/// placed in a zone ([`instances`]).
fn rule_set(c: &Component<'_>) -> Option<rrule::RRuleSet> {
    rule_set_from(c, None)
}

/// [`rule_set`] for a walk whose instants before `from` are not wanted: a simple rule's
/// DTSTART is moved forward by whole periods ([`skippable_days`]), so that the walk
/// starts near `from` instead of years before it.
fn rule_set_from(c: &Component<'_>, from: Option<i64>) -> Option<rrule::RRuleSet> {
    let start = props(c, "DTSTART").next()?;
    // A custom zone's instances are found on the wall clock too, then placed by its rules.
    let floating = is_floating(start) || in_object_zone(start);
    let mut text = String::new();
    let line = |p: &Property<'_>, name: &str| {
        if floating && (is_floating(p) || in_object_zone(p)) {
            return format!("{name}:{}\n", wall_as_utc(p.val.as_str()));
        }
        let params: String = p
            .params
            .iter()
            .filter_map(|x| {
                let key = x.key.as_str().to_ascii_uppercase();
                let value = x.val.as_ref().map_or("", |v| v.as_str());
                match key.as_str() {
                    // The zone's own name, as the crate knows it.
                    "TZID" => Some(format!(
                        ";TZID={}",
                        zone_named(value).map_or(value, |z| z.name())
                    )),
                    "VALUE" => Some(format!(";VALUE={value}")),
                    _ => None,
                }
            })
            .collect();
        format!("{name}{params}:{}\n", p.val.as_str().trim())
    };
    let mut first = line(start, "DTSTART");
    if let Some(days) = from.and_then(|from| skippable_days(c, start, from)) {
        first = moved_by_days(&first, days)?;
    }
    text.push_str(&first);
    for p in props(c, "RRULE") {
        let rule = p.val.as_str().trim();
        let rule = match floating {
            true => rule
                .split(';')
                .map(|part| match part.split_once('=') {
                    Some((key, until)) if key.trim().eq_ignore_ascii_case("UNTIL") => {
                        format!("UNTIL={}", wall_as_utc(until))
                    }
                    _ => part.to_owned(),
                })
                .collect::<Vec<_>>()
                .join(";"),
            false => rule.to_owned(),
        };
        text.push_str(&format!("RRULE:{rule}\n"));
    }
    for name in ["RDATE", "EXDATE"] {
        for p in props(c, name) {
            text.push_str(&line(p, name));
        }
    }
    text.parse().ok()
}

/// How many days a master's DTSTART can be moved forward, to a day at least two days
/// before `from` (an instant of the walk, UTC or on the wall clock: the two days cover
/// the difference), without changing any instance from `from` on: a whole number of
/// periods of its one RRULE when that is DAILY or WEEKLY with no COUNT (which moving
/// would change) and no BY parts but a WEEKLY rule's plain weekdays, DTSTART's among
/// them (a start that is no instance of the rule counts once, where it is). `None` for
/// anything else, or nothing to skip.
fn skippable_days(c: &Component<'_>, start: &Property<'_>, from: i64) -> Option<i64> {
    let rule = SimpleRule::of(c)?;
    let (wall, _) = parse_time(start.val.as_str())?;
    if !rule.weekdays.is_empty() && !rule.weekdays.contains(&weekday(wall)?) {
        return None;
    }
    let step = i64::from(rule.period_days());
    let days = (from.saturating_sub(wall) / DAY - 2) / step * step;
    (days > 0).then_some(days)
}

/// The weekdays as RRULE names them, Monday first.
const WEEKDAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

/// The day of the week of a wall-clock time (seconds as if UTC), Monday 0.
pub(crate) fn weekday(wall: i64) -> Option<u32> {
    use chrono::Datelike;
    Some(
        chrono::DateTime::from_timestamp(wall, 0)?
            .weekday()
            .num_days_from_monday(),
    )
}

/// A component's one RRULE when it is `DAILY` or `WEEKLY`, without COUNT and without BY
/// parts but a weekly rule's plain weekdays: what can be walked from a later start
/// ([`skippable_days`]) or kept as a periodic summary (`ical::periodic_rule`).
#[derive(Debug)]
pub(crate) struct SimpleRule<'r> {
    /// 1 for DAILY, 7 for WEEKLY.
    pub(crate) period: u32,
    /// Its INTERVAL (1 to 1,000).
    pub(crate) interval: u32,
    /// Its UNTIL, as written.
    pub(crate) until: Option<&'r str>,
    /// Its BYDAY, Monday 0; empty without one.
    pub(crate) weekdays: Vec<u32>,
}

impl<'r> SimpleRule<'r> {
    /// The rule of `c`, if it has exactly one and it is simple.
    pub(crate) fn of(c: &'r Component<'r>) -> Option<SimpleRule<'r>> {
        let mut rules = props(c, "RRULE");
        let rule = rules.next()?;
        if rules.next().is_some() {
            return None;
        }
        let mut simple = SimpleRule {
            period: 0,
            interval: 1,
            until: None,
            weekdays: Vec::new(),
        };
        for part in rule.val.as_str().trim().split(';') {
            let (key, value) = part.split_once('=')?;
            let value = value.trim();
            match key.trim().to_ascii_uppercase().as_str() {
                "FREQ" if value.eq_ignore_ascii_case("DAILY") => simple.period = 1,
                "FREQ" if value.eq_ignore_ascii_case("WEEKLY") => simple.period = 7,
                "INTERVAL" => {
                    simple.interval = value.parse().ok().filter(|i| (1..=1000).contains(i))?;
                }
                "UNTIL" => simple.until = Some(value),
                "WKST" => {}
                "BYDAY" => {
                    for day in value.split(',') {
                        let day = WEEKDAYS
                            .iter()
                            .position(|w| w.eq_ignore_ascii_case(day.trim()))?;
                        simple.weekdays.push(u32::try_from(day).ok()?);
                    }
                }
                _ => return None,
            }
        }
        let weekdays_fit = simple.period == 7 || simple.weekdays.is_empty();
        (simple.period != 0 && weekdays_fit).then_some(simple)
    }

    /// The days from one period to the next.
    pub(crate) fn period_days(&self) -> u32 {
        self.period * self.interval
    }
}

/// A `DTSTART…:VALUE` line with its value's date moved forward by `days`.
fn moved_by_days(line: &str, days: i64) -> Option<String> {
    let at = line.rfind(':')? + 1;
    let date = chrono::NaiveDate::parse_from_str(line.get(at..at + 8)?, "%Y%m%d").ok()?;
    let moved = date.checked_add_signed(chrono::TimeDelta::try_days(days)?)?;
    Some(format!(
        "{}{}{}",
        &line[..at],
        moved.format("%Y%m%d"),
        &line[at + 8..]
    ))
}

/// The most instances one walk of a recurrence set examines, before and within the
/// range together. An open-ended `FREQ=SECONDLY` rule (or a daily one from year 1)
/// would otherwise be walked for hours to reach a range in this century; past the
/// bound, or past [`WALK_TIME`], the walk gives up and the item is taken as recurring
/// for ever from its start.
pub(crate) const WALK_INSTANCES: u32 = 200_000;
/// The longest one walk of a recurrence set may take (see [`WALK_INSTANCES`]).
const WALK_TIME: std::time::Duration = std::time::Duration::from_millis(250);

/// What one request may spend walking recurrence sets in all, so that many items each
/// within [`WALK_INSTANCES`] cannot add up to minutes: instances examined, and a
/// deadline. Set for the work of one request by [`with_walk_budget`].
#[derive(Clone, Copy, Debug)]
struct Budget {
    instances: usize,
    deadline: std::time::Instant,
}

thread_local! {
    static BUDGET: std::cell::Cell<Option<Budget>> = const { std::cell::Cell::new(None) };
}

/// The instances one request may examine across all its walks.
pub(crate) const REQUEST_INSTANCES: usize = 2_000_000;
/// How long one request may spend walking recurrence sets in all.
const REQUEST_WALK_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs one request's evaluation (on one thread) with a budget for all its walks;
/// once spent, further recurring items are taken as recurring for ever from their
/// start, as a single walk past its bound is.
pub(crate) fn with_walk_budget<T>(work: impl FnOnce() -> T) -> T {
    let previous = BUDGET.replace(Some(Budget {
        instances: REQUEST_INSTANCES,
        deadline: std::time::Instant::now() + REQUEST_WALK_TIME,
    }));
    let result = work();
    BUDGET.set(previous);
    result
}

/// Runs one request's evaluation (parsing items, walking their recurrences) on the
/// blocking pool, with one walking budget for all of it ([`with_walk_budget`]).
pub(crate) async fn evaluate<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DavError> {
    dirdav_plugin::compute(move || Ok(with_walk_budget(work))).await
}

/// The instants of a recurrence set from its start up to `to`, those
/// before `from` skipped: `None` when the walk would examine more than
/// [`WALK_INSTANCES`] instances (or what is left of the request's budget) or, when
/// `timed`, take longer than [`WALK_TIME`] (or pass the request's deadline). At most
/// `limit` instants are returned.
fn walk(set: rrule::RRuleSet, from: i64, to: i64, limit: usize, timed: bool) -> Option<Vec<i64>> {
    let started = std::time::Instant::now();
    let budget = BUDGET.get();
    // A rule whose parts never match spends the crate's whole bound inside one step,
    // yielding nothing to count: the request's deadline is checked before each walk.
    if timed && budget.is_some_and(|b| started > b.deadline) {
        return None;
    }
    let deadline = match budget {
        Some(b) => b.deadline.min(started + WALK_TIME),
        None => started + WALK_TIME,
    };
    let most = budget.map_or(WALK_INSTANCES as usize, |b| {
        b.instances.min(WALK_INSTANCES as usize)
    });
    let mut found = Vec::new();
    let mut examined = 0;
    let mut within = true;
    // `limit()` turns on the crate's own bound on fruitless iterations (a rule whose
    // BY parts never match).
    for date in &set.limit() {
        if examined >= most
            || (timed && examined % 1024 == 1023 && std::time::Instant::now() > deadline)
        {
            within = false;
            break;
        }
        examined += 1;
        let t = date.timestamp();
        if t > to || found.len() >= limit {
            break;
        }
        if t >= from {
            found.push(t);
        }
    }
    if let Some(b) = budget {
        BUDGET.set(Some(Budget {
            instances: b.instances.saturating_sub(examined),
            ..b
        }));
    }
    within.then_some(found)
}

/// Start times of a master component's instances that may touch `range`, without the
/// ones its overrides replace. `None` when the rule cannot be expanded within the
/// bounds of [`walk`].
pub(crate) fn instances(
    c: &Component<'_>,
    range: TimeRange,
    overridden: &[i64],
    zone: Zone,
) -> Option<Vec<(i64, bool)>> {
    // Instances starting this long before the range still count.
    instances_reaching(c, range, 400 * DAY, overridden, zone)
}

/// [`instances`] for instances that last at most `reach` seconds: those starting
/// earlier than that before the range are not returned.
pub(crate) fn instances_reaching(
    c: &Component<'_>,
    range: TimeRange,
    reach: i64,
    overridden: &[i64],
    zone: Zone,
) -> Option<Vec<(i64, bool)>> {
    let start = props(c, "DTSTART").next()?;
    let exact = utc_time(start, zone)?.1;
    let floating = is_floating(start);
    let custom = match floating {
        true => None,
        false => param(start, "TZID").filter(|_| in_object_zone(start)),
    };
    let from = range
        .start
        .saturating_sub(reach.saturating_add(SLACK))
        .max(-8_000_000_000);
    // A rule moved past its UNTIL is refused by the crate: it is then walked whole.
    let set = rule_set_from(c, Some(from)).or_else(|| rule_set(c))?;
    let to = range.end.saturating_add(SLACK).min(200_000_000_000);
    let found = walk(set, from, to, usize::from(MAX_INSTANCES), true)?;
    Some(
        found
            .into_iter()
            .map(|t| match (floating, custom) {
                (true, _) => wall_to_utc(zone, t),
                (false, Some(tzid)) => t - object_zone_offset(tzid, t).unwrap_or(0),
                (false, None) => t,
            })
            .filter(|t| !overridden.contains(t))
            .map(|t| (t, exact))
            .collect(),
    )
}

/// Whether a master component's recurrence set can be walked from its start to
/// `until` within [`WALK_INSTANCES`] and [`WALK_TIME`]: false for an open-ended rule
/// too dense or starting too long ago to be expanded when queried. A single rule
/// without `BY` parts is decided by arithmetic, without walking: its instances are
/// one per period.
pub(crate) fn walkable_until(c: &Component<'_>, until: i64) -> bool {
    if let Some(count) = periods_until(c, until) {
        return count <= u64::from(WALK_INSTANCES);
    }
    rule_set(c).is_none_or(|set| walk(set, until, until, 1, true).is_some())
}

/// For a master with one `RRULE` and no `BY` parts (nor RDATE), bounds on how many
/// periods lie between its start and `until`, when both bounds fall on the same side
/// of [`WALK_INSTANCES`]: the count then decides as a walk would. `None` otherwise.
fn periods_until(c: &Component<'_>, until: i64) -> Option<u64> {
    let mut rules = props(c, "RRULE");
    let rule = rules.next()?.val.as_str().to_ascii_uppercase();
    if rules.next().is_some() || props(c, "RDATE").next().is_some() {
        return None;
    }
    let mut freq = None;
    let mut interval = 1u64;
    for part in rule.split(';') {
        let (key, value) = part.split_once('=')?;
        match key.trim() {
            "FREQ" => freq = Some(value.trim().to_owned()),
            "INTERVAL" => interval = value.trim().parse().ok().filter(|n| *n > 0)?,
            "WKST" | "COUNT" | "UNTIL" => {}
            _ => return None,
        }
    }
    // The shortest and longest a period can be, in seconds.
    let (short, long): (u64, u64) = match freq?.as_str() {
        "SECONDLY" => (1, 1),
        "MINUTELY" => (60, 60),
        "HOURLY" => (3_600, 3_600),
        "DAILY" => (82_800, 90_000), // a day across a change of clocks
        "WEEKLY" => (604_800 - 3_600, 604_800 + 3_600),
        "MONTHLY" => (28 * 86_400 - 3_600, 31 * 86_400 + 3_600),
        "YEARLY" => (365 * 86_400, 366 * 86_400),
        _ => return None,
    };
    let start = first_time(c, "DTSTART", Zone::UTC)?.0;
    let span = u64::try_from(until.saturating_sub(start)).unwrap_or(0);
    let most = span / (short * interval) + 1;
    let least = span / (long * interval);
    let bound = u64::from(WALK_INSTANCES);
    match (least > bound, most <= bound) {
        (true, _) => Some(least),
        (_, true) => Some(most),
        _ => None,
    }
}

/// Whether a master component's rule stalls: the `rrule` crate gives up (after its
/// own bound of fruitless steps) before it has found the first few instances the rule
/// must have, as for
/// `FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30`. Such a rule cannot be expanded, and costs
/// that bound again each time it is tried.
pub(crate) fn stalls(c: &Component<'_>) -> bool {
    let Some(rule) = props(c, "RRULE").next() else {
        return false;
    };
    // How many instances the rule must have at least, up to three: all of them for a
    // COUNT, three for an open-ended rule; an UNTIL may end it after any number.
    let rule = rule.val.as_str().to_ascii_uppercase();
    let count = rule.split(';').find_map(|part| {
        let (key, value) = part.split_once('=')?;
        (key.trim() == "COUNT").then(|| value.trim().parse::<usize>().ok())?
    });
    let expected = match count {
        Some(n) => n.min(3),
        None if rule.contains("UNTIL=") => return false,
        None => 3,
    };
    rule_set(c).is_some_and(|set| set.all(3).dates.len() < expected)
}

/// How many instances a master component's recurrence set has, counting up to
/// `limit`; `None` when the rule cannot be expanded.
pub(crate) fn count_instances(c: &Component<'_>, limit: u16) -> Option<usize> {
    Some(rule_set(c)?.all(limit).dates.len())
}

/// The start of the last instance of a finite rule (`COUNT`, no `UNTIL`, no `RDATE`),
/// so that summaries need not take such rules as open-ended.
pub(crate) fn last_counted_instance(c: &Component<'_>) -> Option<i64> {
    let rule = props(c, "RRULE").next()?.val.as_str().to_ascii_uppercase();
    if !rule.contains("COUNT=") || rule.contains("UNTIL=") || props(c, "RDATE").next().is_some() {
        return None;
    }
    let result = rule_set(c)?.all(MAX_INSTANCES);
    if result.limited {
        return None;
    }
    result.dates.last().map(|d| d.timestamp())
}

fn component_in_range(
    c: &Component<'_>,
    siblings: &[&Component<'_>],
    range: TimeRange,
    zone: Zone,
) -> bool {
    let Some(start) = first_time(c, "DTSTART", zone) else {
        return instance_matches(c, (0, true), range, zone);
    };
    let recurring = props(c, "RRULE").next().is_some() || props(c, "RDATE").next().is_some();
    if !recurring || recurrence_id(c, zone).is_some() {
        return instance_matches(c, start, range, zone);
    }
    let overridden: Vec<i64> = siblings
        .iter()
        .filter_map(|s| recurrence_id(s, zone))
        .collect();
    let futures = futures(siblings, zone);
    // Each component's times are read once, not for every instance tested.
    let master = Shape::of(c, zone);
    let shapes: Vec<Shape> = futures
        .iter()
        .map(|f| Shape::of(f.component, zone))
        .collect();
    let reach = shapes
        .iter()
        .map(Shape::reach)
        .fold(master.reach(), i64::max);
    match instances_reaching(c, widened(range, &futures), reach, &overridden, zone) {
        Some(list) => list
            .into_iter()
            .any(|s| match futures.iter().rposition(|f| f.from <= s.0) {
                Some(i) => shapes[i].matches((s.0.saturating_add(futures[i].shift), s.1), range),
                None => master.matches(s, range),
            }),
        // A rule we cannot expand: answer as if it went on forever from its start.
        None => range.end > start.0.saturating_sub(SLACK),
    }
}

fn text_matches(tm: &TextMatch, value: &str) -> bool {
    let found = match tm.collation {
        Collation::Octet => value.contains(&tm.value),
        Collation::AsciiCasemap => value
            .to_ascii_lowercase()
            .contains(&tm.value.to_ascii_lowercase()),
        Collation::UnicodeCasemap => value.to_lowercase().contains(&tm.value.to_lowercase()),
    };
    found != tm.negate
}

fn prop_matches(pf: &PropFilter, c: &Component<'_>, zone: Zone) -> bool {
    let mut found = props(c, &pf.name).peekable();
    if pf.not_defined {
        return found.peek().is_none();
    }
    found.any(|p| {
        let time_ok = pf.time_range.is_none_or(|range| {
            utc_time(p, zone).is_some_and(|(t, exact)| {
                let slack = if exact { 0 } else { SLACK };
                t < range.end.saturating_add(slack) && t >= range.start.saturating_sub(slack)
            })
        });
        let text_ok = pf
            .text
            .as_ref()
            .is_none_or(|tm| text_matches(tm, p.val.as_str()));
        let params_ok = pf.params.iter().all(|pf| match param(p, &pf.name) {
            None => pf.not_defined,
            Some(_) if pf.not_defined => false,
            Some(v) => pf.text.as_ref().is_none_or(|tm| text_matches(tm, v)),
        });
        time_ok && text_ok && params_ok
    })
}

/// Does one component satisfy a comp-filter's tests (not its name)?
fn satisfies(cf: &CompFilter, c: &Component<'_>, siblings: &[&Component<'_>], zone: Zone) -> bool {
    cf.time_range
        .is_none_or(|range| component_in_range(c, siblings, range, zone))
        && cf.props.iter().all(|pf| prop_matches(pf, c, zone))
        && cf
            .comps
            .iter()
            .all(|sub| comp_matches(sub, c, siblings, zone))
}

/// Does `parent` hold a component `cf` matches? `parent_siblings` are the components
/// beside the parent of its UID (a recurring master's overridden instances), whose
/// instances are theirs and not the master's.
fn comp_matches(
    cf: &CompFilter,
    parent: &Component<'_>,
    parent_siblings: &[&Component<'_>],
    zone: Zone,
) -> bool {
    let children: Vec<&Component<'_>> = parent
        .components
        .iter()
        .filter(|c| upper_eq(c.name.as_str(), &cf.name))
        .collect();
    if cf.not_defined {
        return children.is_empty();
    }
    if cf.name == "VALARM"
        && let Some(range) = cf.time_range
    {
        let rest = CompFilter {
            time_range: None,
            ..cf.clone()
        };
        return children.iter().any(|alarm| {
            alarm_in_range(alarm, parent, parent_siblings, range, zone)
                && satisfies(&rest, alarm, &children, zone)
        });
    }
    children.iter().any(|c| satisfies(cf, c, &children, zone))
}

/// Does an alarm trigger within the range (RFC 4791 §9.9, VALARM)? Triggers are
/// absolute, or relative to the start (or, with RELATED=END, the end) of each instance
/// of the component holding the alarm; REPEAT and DURATION add repetitions. An
/// instance of a recurring parent that one of `parent_siblings` overrides has that
/// override's alarms, not the parent's (RFC 5545 §3.8.4.4): none, if it has none.
fn alarm_in_range(
    alarm: &Component<'_>,
    parent: &Component<'_>,
    parent_siblings: &[&Component<'_>],
    range: TimeRange,
    zone: Zone,
) -> bool {
    let Some(trigger) = props(alarm, "TRIGGER").next() else {
        return false;
    };
    let repeat = props(alarm, "REPEAT")
        .next()
        .and_then(|p| p.val.as_str().trim().parse::<i64>().ok())
        .unwrap_or(0);
    let every = props(alarm, "DURATION")
        .next()
        .and_then(|p| parse_duration(p.val.as_str()))
        .unwrap_or(0);
    let fires = |t: i64| {
        (0..=repeat.clamp(0, 1000)).any(|k| {
            let at = t + k * every;
            range.start <= at && at < range.end
        })
    };
    let absolute = param(trigger, "VALUE").is_some_and(|v| upper_eq(v, "DATE-TIME"));
    if absolute {
        return utc_time(trigger, zone).is_some_and(|(t, _)| fires(t));
    }
    let Some(offset) = parse_duration(trigger.val.as_str()) else {
        return false;
    };
    let Some(start) =
        first_time(parent, "DTSTART", zone).or_else(|| first_time(parent, "DUE", zone))
    else {
        return false;
    };
    let length = match (
        after_start(parent, "DTEND", zone).or_else(|| after_start(parent, "DUE", zone)),
        props(parent, "DURATION").next(),
    ) {
        (Some(length), _) => length,
        (None, Some(d)) => parse_duration(d.val.as_str()).unwrap_or(0),
        (None, None) => 0,
    };
    let from_end = param(trigger, "RELATED").is_some_and(|r| upper_eq(r, "END"));
    let shift = offset + if from_end { length } else { 0 };
    let recurring =
        props(parent, "RRULE").next().is_some() || props(parent, "RDATE").next().is_some();
    let starts = if recurring && recurrence_id(parent, zone).is_none() {
        let widened = TimeRange {
            start: range
                .start
                .saturating_sub(shift.max(0) + repeat * every.abs()),
            end: range.end.saturating_sub(shift.min(0)),
        };
        let overridden: Vec<i64> = parent_siblings
            .iter()
            .filter_map(|s| recurrence_id(s, zone))
            .collect();
        instances(parent, widened, &overridden, zone).unwrap_or_default()
    } else {
        vec![start]
    };
    starts.into_iter().any(|(s, _)| fires(s + shift))
}

/// Evaluates the filter against a parsed VCALENDAR, floating times placed in `zone`.
pub(crate) fn matches(filter: &CompFilter, root: &Component<'_>, zone: Zone) -> bool {
    upper_eq(root.name.as_str(), "VCALENDAR")
        && with_object_zones(root, || satisfies(filter, root, &[], zone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dirdav_plugin::xml::{Limits, parse};
    use icalendar::parser::{read_calendar_simple, unfold};

    fn filter(xml: &str) -> CompFilter {
        let doc = format!(r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav">{xml}</C:filter>"#);
        parse_filter(&parse(doc.as_bytes(), &Limits::default()).unwrap()).unwrap()
    }

    fn check(f: &CompFilter, ics: &str) -> bool {
        check_in(f, ics, chrono_tz::UTC)
    }

    fn check_in(f: &CompFilter, ics: &str, zone: Zone) -> bool {
        let text = unfold(ics);
        let roots = read_calendar_simple(&text).unwrap();
        matches(f, &roots[0], zone)
    }

    fn range(start: &str, end: &str) -> String {
        format!(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter>"#
        )
    }

    const WEEKLY: &str = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:w\r\nDTSTART;TZID=Europe/Berlin:20260105T090000\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=10\r\nEXDATE;TZID=Europe/Berlin:20260112T090000\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:w\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260119T090000\r\nDTSTART;TZID=Europe/Berlin:20260120T150000\r\nDURATION:PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn one_request_walks_within_one_budget() {
        let set = |start: &str| -> rrule::RRuleSet {
            format!("DTSTART:{start}\nRRULE:FREQ=DAILY\n")
                .parse()
                .unwrap()
        };
        let now = 1_780_272_000;
        with_walk_budget(|| {
            assert!(walk(set("20200101T000000Z"), now, now, 1, true).is_some());
            // Each within its own bound; together past the request's (its instances
            // or its time, whichever runs out first).
            let spent = || {
                BUDGET
                    .get()
                    .is_some_and(|b| b.instances == 0 || std::time::Instant::now() > b.deadline)
            };
            for _ in 0..1000 {
                if spent() {
                    break;
                }
                walk(set("19000101T000000Z"), now, now, 1, true);
            }
            assert!(spent(), "the request's budget was never spent");
            assert!(walk(set("20200101T000000Z"), now, now, 1, true).is_none());
        });
        // The next request has a budget of its own.
        with_walk_budget(|| assert!(walk(set("20200101T000000Z"), now, now, 1, true).is_some()));
    }

    #[test]
    fn a_walk_skipping_whole_periods_finds_the_same_instances() {
        let rules = [
            (
                "DTSTART;TZID=Europe/Zurich:20190301T093000",
                "FREQ=WEEKLY",
                "",
            ),
            (
                "DTSTART;TZID=Europe/Zurich:20190301T093000",
                "FREQ=DAILY;INTERVAL=3",
                "",
            ),
            (
                "DTSTART:20200106T080000Z",
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;WKST=SU",
                "",
            ),
            (
                "DTSTART:20200106T080000",
                "FREQ=DAILY",
                "EXDATE:20260610T080000\r\n",
            ),
            (
                "DTSTART;VALUE=DATE:20180704",
                "FREQ=WEEKLY;UNTIL=20260620",
                "",
            ),
            (
                "DTSTART:20200106T080000Z",
                "FREQ=WEEKLY;UNTIL=20210101T000000Z",
                "",
            ),
            // Not moved: DTSTART (a Tuesday) is no instance of the rule, and COUNT.
            ("DTSTART:20200107T080000Z", "FREQ=WEEKLY;BYDAY=MO", ""),
            ("DTSTART:20200106T080000Z", "FREQ=DAILY;COUNT=3000", ""),
        ];
        let june = TimeRange {
            start: 1_780_272_000,
            end: 1_782_864_000,
        };
        let zone: Zone = "America/New_York".parse().unwrap();
        for (start, rule, extra) in rules {
            let text = unfold(&format!(
                "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:r\r\n{start}\r\nRRULE:{rule}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
            ));
            let root = read_calendar_simple(&text).unwrap();
            let event = &root[0].components[0];
            let (from, to) = (june.start - SLACK, june.end + SLACK);
            let moved = skippable_days(event, props(event, "DTSTART").next().unwrap(), from);
            let movable = !rule.contains("COUNT") && !rule.ends_with("BYDAY=MO");
            assert_eq!(moved.is_some(), movable, "{start} {rule}");
            let whole = walk(rule_set(event).unwrap(), from, to, 1000, false);
            let skipped = instances_reaching(event, june, 0, &[], zone);
            let placed = |list: Vec<i64>| -> Vec<(i64, bool)> {
                let floating = is_floating(props(event, "DTSTART").next().unwrap());
                list.into_iter()
                    .map(|t| (if floating { wall_to_utc(zone, t) } else { t }, true))
                    .collect()
            };
            let whole = whole.map(placed);
            assert_eq!(skipped, whole, "{start} {rule}");
            assert!(
                whole.as_ref().is_some_and(|w| !w.is_empty()) || rule.contains("2021"),
                "{rule} has instances in June"
            );
        }
    }

    #[test]
    fn walks_of_unbounded_rules_give_up_and_match_from_their_start() {
        let event = |rule: &str, start: &str| {
            format!(
                "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:r\r\nDTSTART:{start}\r\nDURATION:PT1S\r\nRRULE:{rule}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            )
        };
        let june = filter(&range("20260601T000000Z", "20260601T000002Z"));
        let before = filter(&range("00010101T000000Z", "00010102T000000Z"));
        // Every second from year 1: the walk stops at its bound and the item is taken
        // as recurring for ever from its start.
        let secondly = event("FREQ=SECONDLY", "00010105T000000Z");
        assert!(check(&june, &secondly));
        assert!(!check(&before, &secondly), "not before its start");
        let text = unfold(&secondly);
        let root = read_calendar_simple(&text).unwrap();
        let span = TimeRange {
            start: 1_780_272_000,
            end: 1_780_272_002,
        };
        assert_eq!(
            instances(&root[0].components[0], span, &[], Zone::UTC),
            None
        );
        assert!(!walkable_until(&root[0].components[0], 1_780_272_000));
        // A daily rule from 2000 is walked to 2026 exactly.
        let daily = event("FREQ=DAILY;BYHOUR=12", "20000101T120000Z");
        assert!(!check(&june, &daily));
        assert!(!check(
            &filter(&range("20260601T115959Z", "20260601T120000Z")),
            &daily
        ));
        assert!(check(
            &filter(&range("20260601T120000Z", "20260601T120001Z")),
            &daily
        ));
        let text = unfold(&daily);
        let root = read_calendar_simple(&text).unwrap();
        assert!(walkable_until(&root[0].components[0], 1_780_272_000));
    }

    #[test]
    fn floating_times_are_placed_in_the_zone_asked_for() {
        let berlin = chrono_tz::Europe::Berlin;
        let june = filter(&range("20260601T000000Z", "20260701T000000Z"));
        let all_day = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20260701\r\nDURATION:P1D\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        // 1 July begins at 22:00 UTC on 30 June in Berlin, at 00:00 in UTC.
        assert!(!check(&june, all_day));
        assert!(check_in(&june, all_day, berlin));
        assert!(!check_in(&june, all_day, chrono_tz::America::New_York));
        // A weekly floating event stays at 9:00 on the wall clock across the change to
        // summer time (29 March in Berlin): 8:00 UTC before, 7:00 UTC after.
        let weekly = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:w\r\nDTSTART:20260322T090000\r\nDTEND:20260322T100000\r\nRRULE:FREQ=WEEKLY;UNTIL=20260412T090000\r\nEXDATE:20260405T090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let at = |a: &str, b: &str| filter(&range(a, b));
        assert!(check_in(
            &at("20260322T080000Z", "20260322T080001Z"),
            weekly,
            berlin
        ));
        assert!(!check_in(
            &at("20260329T080000Z", "20260329T090000Z"),
            weekly,
            berlin
        ));
        assert!(check_in(
            &at("20260329T070000Z", "20260329T070001Z"),
            weekly,
            berlin
        ));
        assert!(check(&at("20260329T090000Z", "20260329T090001Z"), weekly));
        assert!(
            !check_in(&at("20260405T000000Z", "20260406T000000Z"), weekly, berlin),
            "EXDATE"
        );
        assert!(
            check_in(&at("20260412T070000Z", "20260412T070001Z"), weekly, berlin),
            "UNTIL"
        );
        assert!(!check_in(
            &at("20260419T000000Z", "20260420T000000Z"),
            weekly,
            berlin
        ));
        // A time the clocks skip takes the offset from before the gap.
        assert_eq!(
            wall_to_utc(berlin, parse_time("20260329T023000").unwrap().0),
            parse_time("20260329T013000Z").unwrap().0
        );
        // Vendors' zone names resolve to the zone they end in.
        assert_eq!(
            zone_named("/mozilla.org/20050126_1/Europe/Berlin"),
            Some(berlin)
        );
        assert_eq!(zone_named("Mars/Olympus"), None);
    }

    /// A zone the database does not know, as Outlook exports it: its own rules decide.
    const OFFICE: &str = "BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\n\
        BEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n\
        RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n\
        BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n\
        RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n";

    #[test]
    fn a_zone_the_database_does_not_know_is_placed_by_the_objects_vtimezone() {
        let object = |start: &str, rule: &str| {
            format!(
                "BEGIN:VCALENDAR\r\n{OFFICE}BEGIN:VEVENT\r\nUID:o\r\n\
                 DTSTART;TZID=W. Europe Standard Time:{start}\r\nDURATION:PT1H\r\n{rule}END:VEVENT\r\nEND:VCALENDAR\r\n"
            )
        };
        // 9:00 in January is 8:00 UTC; in July (summer time) 7:00 UTC.
        let winter = object("20260105T090000", "");
        assert!(check(
            &filter(&range("20260105T080000Z", "20260105T083000Z")),
            &winter
        ));
        assert!(!check(
            &filter(&range("20260105T090000Z", "20260105T093000Z")),
            &winter
        ));
        let summer = object("20260706T090000", "");
        assert!(check(
            &filter(&range("20260706T070000Z", "20260706T073000Z")),
            &summer
        ));
        assert!(!check(
            &filter(&range("20260706T080000Z", "20260706T083000Z")),
            &summer
        ));
        // A weekly rule stays at 9:00 on the wall clock across the change in March.
        let weekly = object("20260302T090000", "RRULE:FREQ=WEEKLY;COUNT=6\r\n");
        assert!(check(
            &filter(&range("20260302T080000Z", "20260302T083000Z")),
            &weekly
        ));
        assert!(check(
            &filter(&range("20260330T070000Z", "20260330T073000Z")),
            &weekly
        ));
        assert!(!check(
            &filter(&range("20260330T080000Z", "20260330T083000Z")),
            &weekly
        ));
        // Outside the evaluation of an object, the zone is unknown again.
        assert_eq!(object_zone_offset("W. Europe Standard Time", 0), None);
    }

    #[test]
    fn an_overridden_instance_without_an_alarm_does_not_match_an_alarm_query() {
        let alarms = |start: &str, end: &str| {
            filter(&format!(
                r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:comp-filter name="VALARM"><C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:comp-filter>"#
            ))
        };
        // Daily at 9:00 UTC with an alarm 15 minutes before; the third day is moved to
        // 12:00 and has no alarm.
        let daily = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTART:20260105T090000Z\r\n\
            DURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=5\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\n\
            DESCRIPTION:x\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:d\r\n\
            RECURRENCE-ID:20260107T090000Z\r\nDTSTART:20260107T120000Z\r\nDURATION:PT1H\r\n\
            END:VEVENT\r\nEND:VCALENDAR\r\n";
        assert!(check(
            &alarms("20260106T084000Z", "20260106T085000Z"),
            daily
        ));
        assert!(!check(
            &alarms("20260107T084000Z", "20260107T085000Z"),
            daily
        ));
        assert!(!check(
            &alarms("20260107T114000Z", "20260107T115000Z"),
            daily
        ));
        // With its own alarm, the override's alarm fires at its own time.
        let own = daily.replace(
            "DTSTART:20260107T120000Z\r\nDURATION:PT1H\r\n",
            "DTSTART:20260107T120000Z\r\nDURATION:PT1H\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\n\
             DESCRIPTION:y\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n",
        );
        assert!(check(&alarms("20260107T114000Z", "20260107T115000Z"), &own));
        assert!(!check(
            &alarms("20260107T084000Z", "20260107T085000Z"),
            &own
        ));
    }

    #[test]
    fn recurring_events_with_exceptions_and_overrides() {
        // 9:00 Berlin is 8:00 UTC in winter.
        assert!(
            check(
                &filter(&range("20260105T080000Z", "20260105T083000Z")),
                WEEKLY
            ),
            "first instance"
        );
        assert!(
            !check(
                &filter(&range("20260112T000000Z", "20260113T000000Z")),
                WEEKLY
            ),
            "excluded by EXDATE"
        );
        assert!(
            !check(
                &filter(&range("20260119T000000Z", "20260120T000000Z")),
                WEEKLY
            ),
            "moved away by its override"
        );
        assert!(
            check(
                &filter(&range("20260120T140000Z", "20260120T143000Z")),
                WEEKLY
            ),
            "the override, 15:00 Berlin"
        );
        assert!(
            check(
                &filter(&range("20260309T000000Z", "20260310T000000Z")),
                WEEKLY
            ),
            "the tenth and last"
        );
        assert!(
            !check(
                &filter(&range("20260316T000000Z", "20260317T000000Z")),
                WEEKLY
            ),
            "after COUNT"
        );
        assert!(
            !check(
                &filter(&range("20260105T090000Z", "20260105T100000Z")),
                WEEKLY
            ),
            "after the first ends"
        );
    }

    #[test]
    fn tasks_follow_the_rfc_table() {
        let todo = |lines: &str| {
            format!(
                "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t\r\n{lines}END:VTODO\r\nEND:VCALENDAR\r\n"
            )
        };
        let f = filter(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:time-range start="20260101T000000Z" end="20260201T000000Z"/></C:comp-filter></C:comp-filter>"#,
        );
        assert!(
            check(&f, &todo("")),
            "a task without dates matches any range"
        );
        assert!(check(&f, &todo("DUE:20260115T120000Z\r\n")));
        assert!(!check(&f, &todo("DUE:20260215T120000Z\r\n")));
        assert!(
            check(
                &f,
                &todo("DTSTART:20251201T000000Z\r\nDUE:20260301T000000Z\r\n")
            ),
            "spans the range"
        );
        assert!(check(&f, &todo("COMPLETED:20260110T000000Z\r\n")));
        assert!(!check(&f, &todo("CREATED:20260301T000000Z\r\n")));
    }

    #[test]
    fn text_and_param_matching() {
        let ics = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nSUMMARY:Café Meeting\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let f = |inner: &str| {
            filter(&format!(
                r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">{inner}</C:comp-filter></C:comp-filter>"#
            ))
        };
        assert!(check(
            &f(
                r#"<C:prop-filter name="SUMMARY"><C:text-match>meeting</C:text-match></C:prop-filter>"#
            ),
            ics
        ));
        assert!(!check(
            &f(
                r#"<C:prop-filter name="SUMMARY"><C:text-match collation="i;octet">meeting</C:text-match></C:prop-filter>"#
            ),
            ics
        ));
        assert!(check(
            &f(
                r#"<C:prop-filter name="SUMMARY"><C:text-match collation="i;unicode-casemap">CAFÉ</C:text-match></C:prop-filter>"#
            ),
            ics
        ));
        assert!(!check(
            &f(
                r#"<C:prop-filter name="SUMMARY"><C:text-match negate-condition="yes">café</C:text-match></C:prop-filter>"#
            ),
            ics
        ));
        assert!(check(
            &f(r#"<C:prop-filter name="DESCRIPTION"><C:is-not-defined/></C:prop-filter>"#),
            ics
        ));
        assert!(check(
            &f(
                r#"<C:prop-filter name="ATTENDEE"><C:param-filter name="PARTSTAT"><C:text-match>NEEDS-ACTION</C:text-match></C:param-filter></C:prop-filter>"#
            ),
            ics
        ));
        assert!(!check(&f(r#"<C:comp-filter name="VALARM"/>"#), ics));
        let with_alarm = ics.replace(
            "END:VEVENT",
            "DTSTART:20260110T100000Z\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT",
        );
        let alarm = |a: &str, b: &str| {
            f(&format!(
                r#"<C:comp-filter name="VALARM"><C:time-range start="{a}" end="{b}"/></C:comp-filter>"#
            ))
        };
        assert!(
            check(&alarm("20260110T094000Z", "20260110T095000Z"), &with_alarm),
            "fires at 09:45"
        );
        assert!(!check(
            &alarm("20260110T095000Z", "20260110T100000Z"),
            &with_alarm
        ));
        let weekly = with_alarm.replace(
            "DTSTART:20260110T100000Z",
            "DTSTART:20260110T100000Z\r\nRRULE:FREQ=WEEKLY",
        );
        assert!(
            check(&alarm("20260117T094000Z", "20260117T095000Z"), &weekly),
            "fires before every instance"
        );
        assert!(check(
            &f(r#"<C:comp-filter name="VALARM"><C:is-not-defined/></C:comp-filter>"#),
            ics
        ));
    }

    #[test]
    fn the_prefilter_skips_by_component_and_span() {
        let f = filter(&range("20260105T000000Z", "20260106T000000Z"));
        let summary = |c: &'static str, span| Summary {
            component: Some(c.into()),
            span,
            ..Summary::default()
        };
        let utc = chrono_tz::UTC;
        assert!(may_match(
            &f,
            Some(&summary("VEVENT", Some((0, i64::MAX)))),
            utc
        ));
        assert!(!may_match(&f, Some(&summary("VTODO", None)), utc));
        assert!(!may_match(&f, Some(&summary("VEVENT", Some((0, 10)))), utc));
        assert!(may_match(&f, None, utc));
    }

    #[test]
    fn the_summary_decides_only_as_the_exact_test_would() {
        let event = |times: &str| {
            format!(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e\r\n{times}END:VEVENT\r\nEND:VCALENDAR\r\n"
            )
        };
        let decidable = [
            event("DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\n"),
            event(
                "DTSTART;TZID=Europe/Berlin:20260105T100000\r\nDTEND;TZID=Europe/Berlin:20260105T110000\r\n",
            ),
            event("DTSTART;TZID=America/New_York:20260105T220000\r\nDURATION:PT3H\r\n"),
            event("DTSTART;VALUE=DATE:20260105\r\n"),
            event("DTSTART;VALUE=DATE:20260105\r\nDURATION:P1D\r\n"),
            event("DTSTART;VALUE=DATE:20260105\r\nDTEND;VALUE=DATE:20260107\r\n"),
            event("DTSTART:20260105T100000\r\nDTEND:20260105T110000\r\n"),
            event("DTSTART:20260105T100000\r\nDURATION:PT2H\r\n"),
            // Across the night the clocks go forward in Europe and in North America.
            event("DTSTART;VALUE=DATE:20260329\r\nDURATION:P1D\r\n"),
            event("DTSTART:20260308T013000\r\nDTEND:20260308T033000\r\n"),
            event(
                "DTSTART;TZID=Mars/Olympus:20260105T100000\r\nDTEND;TZID=Mars/Olympus:20260105T110000\r\n",
            ),
            // Recurrences with every instance in the summary.
            event(
                "DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nRRULE:FREQ=DAILY;COUNT=3\r\n",
            ),
            WEEKLY.to_owned(),
            event(
                "DTSTART;VALUE=DATE:20260105\r\nRRULE:FREQ=DAILY;COUNT=2\r\n",
            )
            .replace("VALUE=DATE:20260105", "TZID=Asia/Tokyo:20260105T000000")
            .replace("END:VEVENT", "DURATION:P1D\r\nRDATE;TZID=Asia/Tokyo:20260120T000000\r\nEXDATE:20260105T150000Z\r\nEND:VEVENT"),
            // Recurrences without end, decided by their rule (a periodic summary).
            event("DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nRRULE:FREQ=DAILY\r\n"),
            event(
                "DTSTART;TZID=Europe/Berlin:20251103T230000\r\nDURATION:PT2H\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE,SA\r\n\
                 EXDATE;TZID=Europe/Berlin:20260112T230000,20260328T230000\r\n",
            ),
            event(
                "DTSTART;TZID=America/New_York:20240307T013000\r\nDTEND;TZID=America/New_York:20240307T033000\r\n\
                 RRULE:FREQ=DAILY;INTERVAL=3;UNTIL=20260320T000000Z\r\n",
            ),
            event(
                "DTSTART;TZID=Europe/Berlin:20251229T090000\r\nDURATION:PT30M\r\nRRULE:FREQ=WEEKLY;INTERVAL=2;WKST=SU\r\n",
            )
            .replace(
                "END:VEVENT\r\n",
                "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:e\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260112T090000\r\n\
                 DTSTART:20260120T140000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\n",
            ),
        ];
        let undecidable = [
            event("DTSTART:20260105T100000Z\r\n"),
            event("DTSTART:20260105T100000Z\r\nDURATION:PT0S\r\n"),
            event("DTSTART:20260105T100000\r\n"),
            // A floating end to a fixed start: its length depends on the zone.
            event("DTSTART:20260105T100000Z\r\nDTEND:20260105T110000\r\n"),
            // Floating, point-like, too many instances, or a rule too rich for a
            // periodic summary.
            event("DTSTART:20260105T100000\r\nDTEND:20260105T110000\r\nRRULE:FREQ=DAILY\r\n"),
            event("DTSTART:20260105T100000Z\r\nRRULE:FREQ=DAILY\r\n"),
            event("DTSTART:20260105T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=MONTHLY\r\n"),
            event("DTSTART:20260105T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;BYDAY=TU\r\n"),
            event(
                "DTSTART:20260105T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH\r\n",
            ),
            event(
                "DTSTART:20260105T100000\r\nDTEND:20260105T110000\r\nRRULE:FREQ=DAILY;COUNT=3\r\n",
            ),
            event("DTSTART:20260105T100000Z\r\nRRULE:FREQ=DAILY;COUNT=3\r\n"),
            event("DTSTART:20260105T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=HOURLY;COUNT=65\r\n"),
        ];
        let todo = "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t\r\nDUE:20260105T100000Z\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        let mut filters: Vec<String> = [
            ("20260105T090000Z", "20260105T100000Z"),
            ("20260105T090000Z", "20260105T100001Z"),
            ("20260105T105959Z", "20260106T000000Z"),
            ("20260105T110000Z", "20260106T000000Z"),
            ("20260106T020000Z", "20260106T030000Z"),
            ("20260106T005959Z", "20260106T010000Z"),
            ("20250101T000000Z", "20270101T000000Z"),
            // Around the 14 hours of slack of floating and all-day times.
            ("20260104T100000Z", "20260104T200000Z"),
            ("20260104T095959Z", "20260104T100001Z"),
            ("20260106T000000Z", "20260106T010000Z"),
            ("20260106T235959Z", "20260107T000001Z"),
            ("20260107T135959Z", "20260107T140001Z"),
            ("20260107T140000Z", "20260107T150000Z"),
            ("20260105T235959Z", "20260106T000000Z"),
            ("20260106T135959Z", "20260106T150000Z"),
            ("20260106T140000Z", "20260106T150000Z"),
            // Around the nights of the clock changes.
            ("20260328T220000Z", "20260328T230000Z"),
            ("20260328T225959Z", "20260328T230001Z"),
            ("20260329T215959Z", "20260329T220001Z"),
            ("20260329T220000Z", "20260329T230000Z"),
            ("20260308T060000Z", "20260308T063001Z"),
            ("20260308T063000Z", "20260308T070000Z"),
            ("20260308T065959Z", "20260308T070000Z"),
            // Around the weekly event's exception (12 January) and moved instance (19
            // January, moved to the 20th at 15:00 Berlin), and the daily one's last day.
            ("20260112T000000Z", "20260113T000000Z"),
            ("20260119T075959Z", "20260119T090001Z"),
            ("20260120T135959Z", "20260120T140001Z"),
            ("20260120T150000Z", "20260120T160000Z"),
            ("20260107T105959Z", "20260107T110000Z"),
            ("20260107T110000Z", "20260108T000000Z"),
            ("20260119T145959Z", "20260119T150001Z"),
            ("20260120T145959Z", "20260120T150000Z"),
            ("20260309T075959Z", "20260309T080001Z"),
            ("20260310T000000Z", "20260401T000000Z"),
            // Years later: the periodic summaries' instances then, around the clock
            // changes of 2028 and the daily rule's UNTIL.
            ("20281029T000000Z", "20281029T020000Z"),
            ("20281028T205959Z", "20281028T220001Z"),
            ("20281030T215959Z", "20281030T220001Z"),
            ("20281105T060000Z", "20281105T090000Z"),
            ("20260317T050000Z", "20260317T053001Z"),
            ("20260317T070000Z", "20260321T000000Z"),
            ("20260323T000000Z", "20260323T235959Z"),
            ("20260126T080000Z", "20260126T083000Z"),
            ("20260119T080000Z", "20260119T090000Z"),
        ]
        .iter()
        .map(|(a, b)| range(a, b))
        .collect();
        filters.extend([
            r#"<C:comp-filter name="VCALENDAR"/>"#.to_owned(),
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter>"#.to_owned(),
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"/></C:comp-filter>"#.to_owned(),
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:is-not-defined/></C:comp-filter></C:comp-filter>"#.to_owned(),
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:time-range start="20260101T000000Z"/></C:comp-filter></C:comp-filter>"#.to_owned(),
        ]);
        let zones = [
            chrono_tz::UTC,
            chrono_tz::Europe::Berlin,
            chrono_tz::America::New_York,
            chrono_tz::Pacific::Kiritimati,
            chrono_tz::Pacific::Pago_Pago,
        ];
        let mut decisions = 0;
        for (ics, expect_decided) in decidable
            .iter()
            .map(|e| (e.as_str(), true))
            .chain(undecidable.iter().map(|e| (e.as_str(), false)))
            .chain([(todo, false)])
        {
            let summary = crate::ical::summarize(ics.as_bytes());
            assert_eq!(
                summary.span_exact || !summary.instances.is_empty() || summary.periodic.is_some(),
                expect_decided,
                "{ics}"
            );
            for (xml, zone) in filters.iter().flat_map(|x| zones.map(|z| (x, z))) {
                let f = filter(xml);
                let exact = check_in(&f, ics, zone);
                match decided(&f, Some(&summary), zone) {
                    Some(answer) => {
                        assert_eq!(answer, exact, "{xml} on {ics} in {zone}");
                        decisions += 1;
                    }
                    None => assert!(
                        !expect_decided || xml.contains("VTODO\"><C:time"),
                        "undecided: {xml} on {ics}"
                    ),
                }
                assert!(
                    !exact || may_match(&f, Some(&summary), zone),
                    "{xml} on {ics} in {zone}"
                );
            }
        }
        assert!(decisions > 1000, "{decisions}");
        let props = filter(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"/></C:comp-filter></C:comp-filter>"#,
        );
        let summary = crate::ical::summarize(decidable[0].as_bytes());
        assert_eq!(decided(&props, Some(&summary), chrono_tz::UTC), None);
        assert_eq!(decided(&props, None, chrono_tz::UTC), None);
    }

    #[test]
    fn malformed_filters_are_refused() {
        let bad = |xml: &str| {
            let doc =
                format!(r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav">{xml}</C:filter>"#);
            parse_filter(&parse(doc.as_bytes(), &Limits::default()).unwrap()).is_err()
        };
        assert!(bad(""));
        assert!(bad(r#"<C:comp-filter name="VEVENT"/>"#));
        assert!(bad(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20260101"/></C:comp-filter></C:comp-filter>"#
        ));
        assert!(bad(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="X"><C:text-match collation="i;klingon">a</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>"#
        ));
        // What the grammar of iCalendar never holds (RFC 4791 §9.7.1, §9.7.2).
        let nested = |outer: &str, inner: &str| {
            bad(&format!(
                r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="{outer}"><C:comp-filter name="{inner}"/></C:comp-filter></C:comp-filter>"#
            ))
        };
        assert!(nested("VTODO", "VEVENT"));
        assert!(nested("VEVENT", "VEVENT"));
        assert!(nested("VEVENT", "VCALENDAR"));
        assert!(!nested("VEVENT", "VALARM"));
        assert!(!nested("VTODO", "VALARM"));
        assert!(!nested("VEVENT", "X-VENDOR"));
        assert!(!nested("X-VENDOR", "VEVENT"));
        let timed = |prop: &str| {
            bad(&format!(
                r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="{prop}"><C:time-range start="20260101T000000Z"/></C:prop-filter></C:comp-filter></C:comp-filter>"#
            ))
        };
        assert!(timed("SUMMARY"));
        assert!(timed("ATTENDEE"));
        assert!(!timed("DTSTAMP"));
        assert!(!timed("COMPLETED"));
        assert!(!timed("X-DEADLINE"));
    }
}
