//! Reading calendar object resources: validation for PUT (RFC 4791 §4.1, §5.3.2) and
//! the summary the index keeps, with the `icalendar` crate's parser doing the parsing.

use dirdav_plugin::contentline::check_nesting;
use icalendar::parser::{Component, read_calendar_simple, unfold};

use crate::time::{DAY, parse_duration, parse_time};

/// Why a body is not a calendar object resource we store.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// Not iCalendar at all (`CALDAV:valid-calendar-data`).
    Data(String),
    /// iCalendar, but not one calendar object (`CALDAV:valid-calendar-object-resource`).
    Object(String),
    /// Beyond a limit the calendar advertises: the precondition's name, and why.
    Limit(&'static str, String),
}

/// A parsed calendar object resource: its component type and UID.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Object {
    pub(crate) component: String,
    pub(crate) uid: String,
}

fn upper(s: &str) -> String {
    s.trim().to_ascii_uppercase()
}

fn prop<'c>(c: &'c Component<'_>, name: &str) -> Option<&'c icalendar::parser::Property<'c>> {
    c.properties
        .iter()
        .find(|p| p.name.as_str().eq_ignore_ascii_case(name))
}

/// Parses unfolded iCalendar text: the `icalendar` parser, after refusing nesting past
/// [`MAX_NESTING`](dirdav_plugin::contentline::MAX_NESTING) (the parser recurses per component, so a deep body would overflow
/// the stack and abort the process).
pub(crate) fn parse(unfolded: &str) -> Result<Vec<Component<'_>>, String> {
    let unfolded = dirdav_plugin::contentline::without_bom(unfolded);
    check_nesting(unfolded)?;
    read_calendar_simple(unfolded).map_err(|e| e.to_string())
}

/// Parses the one VCALENDAR a body must hold.
fn root(text: &str) -> Result<Component<'_>, Invalid> {
    let roots = parse(text).map_err(|e| Invalid::Data(format!("not iCalendar: {e}")))?;
    let mut roots = roots.into_iter();
    let root = roots
        .next()
        .ok_or_else(|| Invalid::Data("no VCALENDAR".into()))?;
    if roots.next().is_some() {
        return Err(Invalid::Object("more than one VCALENDAR".into()));
    }
    if upper(root.name.as_str()) != "VCALENDAR" {
        return Err(Invalid::Data(format!("{} is not VCALENDAR", root.name)));
    }
    Ok(root)
}

/// Checks that `bytes` are one calendar object resource: a VCALENDAR whose components
/// other than VTIMEZONE are all of one type and share one UID (a recurring event and
/// its overridden instances). Tolerates what real clients send: lowercase names, a
/// missing VERSION, folded lines, a `METHOD`.
pub(crate) fn validate(bytes: &[u8]) -> Result<Object, Invalid> {
    with_root(bytes, object)
}

/// [`validate`], and the limits a calendar advertises (RFC 4791 §5.2.8–§5.2.9): no
/// finite recurrence with more than [`MAX_INSTANCES`] instances, no instance with more
/// than [`MAX_ATTENDEES`] attendees. Open-ended rules are accepted: queries expand them
/// only over the range asked for.
pub(crate) fn validate_put(bytes: &[u8]) -> Result<Object, Invalid> {
    let found = with_root(bytes, |root| {
        let found = object(root)?;
        limits(root)?;
        Ok(found)
    })?;
    // `with_root` has seen UTF-8.
    let text = String::from_utf8_lossy(bytes);
    match lint(&text).into_iter().next() {
        Some(problem) => Err(Invalid::Data(problem.to_string())),
        None => Ok(found),
    }
}

/// Every problem of a stored calendar object, for `dirdav check`: what a PUT would be
/// refused for. A body that is not one calendar object at all gives one problem, at
/// line 1; else each line [`lint`] finds.
pub fn check(bytes: &[u8]) -> Vec<dirdav_plugin::contentline::Problem> {
    let whole = with_root(bytes, |root| {
        object(root)?;
        limits(root)
    });
    match whole {
        Err(Invalid::Data(m) | Invalid::Object(m) | Invalid::Limit(_, m)) => {
            vec![dirdav_plugin::contentline::Problem {
                line: 1,
                message: m,
            }]
        }
        Ok(()) => {
            let text = String::from_utf8_lossy(bytes);
            let mut problems = lint(&text);
            problems.extend(unescaped_separators(&text));
            problems.sort_by_key(|p| p.line);
            problems
        }
    }
}

/// Single TEXT values with a `,` or `;` not escaped (RFC 5545 §3.3.11), which some
/// clients refuse to read (calcurse) and most read as written. Reported by `dirdav
/// check`; a PUT takes them, since clients write them and readers cope.
fn unescaped_separators(text: &str) -> Vec<dirdav_plugin::contentline::Problem> {
    use dirdav_plugin::contentline::{numbered_lines, split_line, unescaped_separator};
    numbered_lines(dirdav_plugin::contentline::without_bom(text))
        .into_iter()
        .filter_map(|(line, content)| {
            let (head, value) = split_line(&content);
            let name = head[0].trim().to_ascii_uppercase();
            let single = ["SUMMARY", "LOCATION", "DESCRIPTION", "COMMENT"].contains(&name.as_str());
            let found = unescaped_separator(value).filter(|_| single)?;
            Some(dirdav_plugin::contentline::Problem {
                line,
                message: format!(
                    "{name} holds an unescaped {found:?} (RFC 5545 §3.3.11: write \\{found})"
                ),
            })
        })
        .collect()
}

/// TEXT-valued properties (RFC 5545 §3.8) whose escapes are checked: those people
/// write in, where a client's quoting mistake shows. (`X-` properties are left alone:
/// clients put URIs and HTML there.)
const TEXT_PROPERTIES: [&str; 8] = [
    "SUMMARY",
    "DESCRIPTION",
    "LOCATION",
    "COMMENT",
    "CATEGORIES",
    "RESOURCES",
    "CONTACT",
    "TZNAME",
];

/// What the parser forgives but RFC 5545 and RFC 4791 do not, line by line, for a
/// PUT (403 `valid-calendar-data`) and for `dirdav check`: control characters other
/// than HTAB (§3.1), undefined escapes in TEXT values (§3.3.11), a malformed RRULE
/// (§3.3.10), a TZID parameter that no VTIMEZONE of the object defines and the time
/// zone database does not know (§3.2.19; RFC 7809's zones by reference), a
/// `METHOD` in a stored object (RFC 4791 §4.1).
pub fn lint(text: &str) -> Vec<dirdav_plugin::contentline::Problem> {
    use dirdav_plugin::contentline::{
        Problem, control_character, numbered_lines, split_line, undefined_escape,
    };
    let mut problems = Vec::new();
    let mut problem = |line: usize, message: String| problems.push(Problem { line, message });
    let mut depth = 0usize;
    let mut in_timezone = false;
    let mut zones = std::collections::HashSet::new();
    let mut uses: Vec<(usize, String)> = Vec::new();
    for (line, content) in numbered_lines(dirdav_plugin::contentline::without_bom(text)) {
        if let Some(c) = control_character(&content) {
            problem(
                line,
                format!(
                    "control character U+{:04X} (only HTAB is allowed)",
                    c as u32
                ),
            );
        }
        let (head, value) = split_line(&content);
        let name = head[0].trim().to_ascii_uppercase();
        match name.as_str() {
            "BEGIN" => {
                depth += 1;
                in_timezone |= value.trim().eq_ignore_ascii_case("VTIMEZONE");
            }
            "END" => {
                depth = depth.saturating_sub(1);
                if value.trim().eq_ignore_ascii_case("VTIMEZONE") {
                    in_timezone = false;
                }
            }
            "METHOD" if depth == 1 => problem(
                line,
                "METHOD is for scheduling messages; a stored calendar object has none (RFC 4791 §4.1)".into(),
            ),
            "TZID" if in_timezone => {
                zones.insert(value.trim().to_owned());
            }
            "RRULE" => {
                if let Err(e) = value.trim().parse::<rrule::RRule<rrule::Unvalidated>>() {
                    problem(line, format!("malformed RRULE {:?}: {e}", value.trim()));
                }
            }
            _ => {}
        }
        let typed = head[1..].iter().any(|p| {
            p.split_once('=')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("VALUE"))
        });
        if TEXT_PROPERTIES.contains(&name.as_str())
            && !typed
            && let Some(escape) = undefined_escape(value)
        {
            problem(
                line,
                format!("{name} holds {escape}, an escape TEXT does not have (RFC 5545 §3.3.11)"),
            );
        }
        if !in_timezone {
            for param in &head[1..] {
                if let Some((key, zone)) = param.split_once('=')
                    && key.trim().eq_ignore_ascii_case("TZID")
                {
                    uses.push((line, zone.trim().trim_matches('"').to_owned()));
                }
            }
        }
    }
    // A zone the object does not define is taken when the time zone database knows
    // it (zones by reference, RFC 7809): python-caldav and the `icalendar` library
    // write `TZID=Europe/Zurich` without a VTIMEZONE, and its meaning is not in doubt.
    for (line, zone) in uses {
        if !zones.contains(&zone) && crate::query::zone_named(&zone).is_none() {
            problem(
                line,
                format!(
                    "TZID={zone} names no VTIMEZONE of this object and no zone of the time zone database (RFC 5545 §3.2.19)"
                ),
            );
        }
    }
    problems.sort_by_key(|p| p.line);
    problems
}

fn with_root<T>(
    bytes: &[u8],
    f: impl FnOnce(&Component<'_>) -> Result<T, Invalid>,
) -> Result<T, Invalid> {
    let text = std::str::from_utf8(bytes).map_err(|_| Invalid::Data("not UTF-8".into()))?;
    let text = dirdav_plugin::contentline::without_bom(text);
    if !upper(text.lines().next().unwrap_or("")).starts_with("BEGIN:VCALENDAR") {
        return Err(Invalid::Data("does not start with BEGIN:VCALENDAR".into()));
    }
    let unfolded = unfold(text);
    let root = root(&unfolded)?;
    f(&root)
}

/// The most instances a finite recurrence may have (`CALDAV:max-instances`).
pub(crate) const MAX_INSTANCES: u16 = 10_000;
/// The most attendees one instance may have (`CALDAV:max-attendees-per-instance`).
pub(crate) const MAX_ATTENDEES: usize = 1_000;

fn limits(root: &Component<'_>) -> Result<(), Invalid> {
    let next_year = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
        + 366 * DAY;
    for c in &root.components {
        let attendees = c
            .properties
            .iter()
            .filter(|p| p.name.as_str().eq_ignore_ascii_case("ATTENDEE"))
            .count();
        if attendees > MAX_ATTENDEES {
            return Err(Invalid::Limit(
                "max-attendees-per-instance",
                format!("{attendees} attendees; at most {MAX_ATTENDEES} are taken"),
            ));
        }
        let finite = c.properties.iter().any(|p| {
            p.name.as_str().eq_ignore_ascii_case("RRULE") && {
                let rule = p.val.as_str().to_ascii_uppercase();
                rule.contains("COUNT=") || rule.contains("UNTIL=")
            }
        });
        if finite
            && let Some(count) = crate::query::count_instances(c, MAX_INSTANCES + 1)
            && count > usize::from(MAX_INSTANCES)
        {
            return Err(Invalid::Limit(
                "max-instances",
                format!("more than {MAX_INSTANCES} instances"),
            ));
        }
        // An open-ended rule is expanded from its start whenever it is queried: one
        // that cannot be walked to a year from now within the bound never could be.
        let recurring = c
            .properties
            .iter()
            .any(|p| p.name.as_str().eq_ignore_ascii_case("RRULE"));
        if recurring && crate::query::stalls(c) {
            return Err(Invalid::Object(
                "a recurrence rule whose parts never (or almost never) match; it cannot be expanded".into(),
            ));
        }
        if recurring && !finite && !crate::query::walkable_until(c, next_year) {
            return Err(Invalid::Limit(
                "max-instances",
                format!(
                    "an open-ended rule with more than {} instances between its start and a year from now",
                    crate::query::WALK_INSTANCES
                ),
            ));
        }
    }
    Ok(())
}

/// The component type and UID of a parsed VCALENDAR, if it is one calendar object.
fn object(root: &Component<'_>) -> Result<Object, Invalid> {
    let mut component: Option<String> = None;
    let mut uid: Option<String> = None;
    for c in root
        .components
        .iter()
        .filter(|c| upper(c.name.as_str()) != "VTIMEZONE")
    {
        let name = upper(c.name.as_str());
        match &component {
            Some(existing) if *existing != name => {
                return Err(Invalid::Object(format!("mixes {existing} and {name}")));
            }
            _ => component = Some(name.clone()),
        }
        let this = prop(c, "UID")
            .map(|p| p.val.as_str().trim().to_owned())
            .filter(|u| !u.is_empty())
            .ok_or_else(|| Invalid::Object(format!("{name} without UID")))?;
        match &uid {
            Some(existing) if *existing != this => {
                return Err(Invalid::Object("more than one UID".into()));
            }
            _ => uid = Some(this),
        }
    }
    match (component, uid) {
        (Some(component), Some(uid)) => Ok(Object { component, uid }),
        _ => Err(Invalid::Object("no calendar component".into())),
    }
}

/// Slack around local and floating times: no time zone is more than 14 hours from UTC.
const SLACK: i64 = 14 * 3600;

/// The span one component may cover, conservatively: wide enough for any time zone,
/// open-ended for a recurrence without an UNTIL.
fn component_span(c: &Component<'_>) -> Option<(i64, i64)> {
    let time = |name: &str| prop(c, name).and_then(|p| parse_time(p.val.as_str()));
    let start = time("DTSTART");
    let end = time("DTEND").or(time("DUE"));
    let duration = prop(c, "DURATION").and_then(|p| parse_duration(p.val.as_str()));
    let (lo, lo_exact) = match (start, end) {
        (Some(s), _) => s,
        (None, Some(e)) => e,
        // Neither start nor end (a task without dates): it may match any range.
        (None, None) => return Some((i64::MIN, i64::MAX)),
    };
    let mut hi = match (end, duration) {
        (Some((e, _)), _) => e,
        (None, Some(d)) => lo + d.max(0),
        (None, None) => lo + DAY,
    };
    if let Some(rule) = prop(c, "RRULE") {
        let until = rule
            .val
            .as_str()
            .split(';')
            .find_map(|part| {
                part.strip_prefix("UNTIL=")
                    .or_else(|| part.strip_prefix("until="))
            })
            .and_then(parse_time);
        hi = match until {
            Some((u, _)) => u.saturating_add(hi - lo).saturating_add(DAY),
            None => match crate::query::last_counted_instance(c) {
                // The last start is in UTC; local times keep their slack below.
                Some(last) => last.saturating_add(hi - lo).saturating_add(SLACK),
                None => i64::MAX,
            },
        };
    }
    if prop(c, "RDATE").is_some() {
        hi = i64::MAX;
    }
    // Local and floating times at either end may be off by a zone's offset.
    let hi_exact = lo_exact && end.is_none_or(|(_, exact)| exact);
    let slack = |exact: bool| if exact { 0 } else { SLACK };
    Some((
        lo.saturating_sub(slack(lo_exact)),
        hi.saturating_add(slack(hi_exact)),
    ))
}

/// What the index keeps of a calendar object: UID, component type and the span all its
/// components (overrides included) may cover, exact for a single timed event (see
/// [`exact_span`]). Anything unreadable yields an empty summary, and queries then read
/// the item.
pub(crate) fn summarize(bytes: &[u8]) -> dirdav_plugin::Summary {
    let Ok(object) = validate(bytes) else {
        return dirdav_plugin::Summary::default();
    };
    let text = String::from_utf8_lossy(bytes);
    let unfolded = unfold(&text);
    let root = root(&unfolded).ok();
    let span = root.as_ref().and_then(|root| {
        root.components
            .iter()
            .filter(|c| upper(c.name.as_str()) != "VTIMEZONE")
            .map(component_span)
            .try_fold((i64::MAX, i64::MIN), |(lo, hi), span| {
                let (a, b) = span?;
                Some((lo.min(a), hi.max(b)))
            })
    });
    // A THISANDFUTURE override moves every later instance: the spans of the master's
    // rule no longer bound them, so the object is taken as open-ended.
    let moves_later = root
        .as_ref()
        .is_some_and(|root| root.components.iter().any(crate::query::this_and_future));
    let span = span.map(|(lo, hi)| (lo, if moves_later { i64::MAX } else { hi }));
    let exact = root.as_ref().and_then(exact_span);
    let instances: Box<[(i64, i64)]> = match moves_later {
        true => Default::default(),
        false => root.as_ref().and_then(instance_spans).unwrap_or_default(),
    };
    let periodic = match moves_later || !instances.is_empty() {
        true => None,
        false => root.as_ref().and_then(periodic_rule).map(Box::new),
    };
    dirdav_plugin::Summary {
        uid: Some(object.uid),
        component: Some(dirdav_plugin::Summary::component_name(object.component)),
        instances,
        periodic,
        span: exact.map(|(span, _)| span).or(span),
        span_exact: exact.is_some(),
        span_floating: exact.is_some_and(|(_, floating)| floating),
        fields: schedule_tag(&unfolded)
            .map(|tag| [(SCHEDULE_TAG, tag)].into_iter().collect())
            .unwrap_or_default(),
    }
}

/// The summary field holding a scheduling object's schedule tag (RFC 6638 §3.2.10),
/// which the scheduling plugin answers as `CALDAV:schedule-tag`.
pub(crate) const SCHEDULE_TAG: &str = "SCHEDULE-TAG";

/// The schedule tag of a scheduling object (one with an ORGANIZER): a digest of what
/// the organizer decides ([`dirdav_plugin::contentline::organizer_view`]), so that it
/// changes when the organizer changes the meeting and not when an attendee answers,
/// sets an alarm, adds `X-` properties, or their client restamps, renumbers or reorders
/// what it saves. `None` for other objects.
fn schedule_tag(unfolded: &str) -> Option<String> {
    let lines = dirdav_plugin::contentline::organizer_view(unfolded)?;
    let mut hasher = blake3::Hasher::new();
    for line in lines {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    Some(hasher.finalize().to_hex()[..16].to_owned())
}

/// The exact span of an object that is one VEVENT occurring once: the interval
/// [`crate::query::instance_matches`] tests a time range against, so that overlapping
/// it is the answer. That is RFC 4791 §9.9's `start < end-of-event AND end >
/// start-of-event`, the event ending at DTEND, after a positive DURATION, or a day
/// after an all-day start. A floating or all-day event's span is on the wall clock
/// (the flag returned with it): a query places it in its zone. An event in a zone the
/// time zone database does not know is matched with 14 hours of slack either side,
/// so its span is widened by as much. An event without an end, or with a zero
/// DURATION, is tested differently (`start <= DTSTART`) and has no exact span; nor has
/// a recurrence, nor an event whose start is floating and end is not, or the reverse.
fn exact_span(root: &Component<'_>) -> Option<((i64, i64), bool)> {
    let mut components = root
        .components
        .iter()
        .filter(|c| upper(c.name.as_str()) != "VTIMEZONE");
    let event = components.next()?;
    if components.next().is_some() || upper(event.name.as_str()) != "VEVENT" {
        return None;
    }
    if ["RRULE", "RDATE", "RECURRENCE-ID"]
        .iter()
        .any(|name| prop(event, name).is_some())
    {
        return None;
    }
    let dtstart = prop(event, "DTSTART")?;
    let floating = crate::query::is_floating(dtstart);
    // In UTC, floating times are their wall-clock times.
    let (start, exact) = crate::query::utc_time(dtstart, chrono_tz::UTC)?;
    if prop(event, "DTEND").is_some_and(|dtend| crate::query::is_floating(dtend) != floating) {
        return None;
    }
    let end = start.saturating_add(crate::query::interval_length(event, chrono_tz::UTC)?);
    let slack = if exact { 0 } else { SLACK };
    Some((
        (start.saturating_sub(slack), end.saturating_add(slack)),
        floating,
    ))
}

/// The object's components but VTIMEZONE, when every one is a VEVENT whose times
/// `names` are in UTC or a zone the time zone database knows (none floating): what
/// [`instance_spans`] and [`periodic_rule`] can decide from.
fn fixed_events<'c>(root: &'c Component<'c>, names: &[&str]) -> Option<Vec<&'c Component<'c>>> {
    use crate::query::{is_floating, props, utc_time};
    let events: Vec<&Component<'_>> = root
        .components
        .iter()
        .filter(|c| upper(c.name.as_str()) != "VTIMEZONE")
        .collect();
    if events.iter().any(|c| upper(c.name.as_str()) != "VEVENT") {
        return None;
    }
    for c in &events {
        for name in names {
            for p in props(c, name) {
                if is_floating(p) || !utc_time(p, chrono_tz::UTC)?.1 {
                    return None;
                }
            }
        }
    }
    Some(events)
}

/// The most instances a summary lists; a recurrence with more is read at query time.
const SUMMARY_INSTANCES: usize = 64;

/// Every instance of a recurring event as an interval in UTC, the instances its
/// overrides replace left out and the overrides put in, when a time range on it can be
/// decided from them alone: the object holds only VEVENTs (one master with RRULE or
/// RDATE, and overrides), every time is in UTC or a zone the database knows (nothing
/// floating, so nothing depends on a query's zone), each instance is an interval of at
/// most 400 days (as far back as a query expands), and there are at most
/// [`SUMMARY_INSTANCES`] of them. Instances are found by the same expansion the exact
/// evaluation uses, so the two agree.
fn instance_spans(root: &Component<'_>) -> Option<Box<[(i64, i64)]>> {
    use crate::query::{first_time, instances, interval_length, recurrence_id};
    let utc = chrono_tz::UTC;
    let events = fixed_events(
        root,
        &["DTSTART", "DTEND", "RECURRENCE-ID", "RDATE", "EXDATE"],
    )?;
    let mut masters = events.iter().filter(|c| recurrence_id(c, utc).is_none());
    let master = masters.next()?;
    if masters.next().is_some()
        || (prop(master, "RRULE").is_none() && prop(master, "RDATE").is_none())
    {
        return None;
    }
    let overridden: Vec<i64> = events
        .iter()
        .filter_map(|c| recurrence_id(c, utc))
        .collect();
    let everything = crate::query::TimeRange {
        start: i64::MIN,
        end: i64::MAX,
    };
    let starts = instances(master, everything, &overridden, utc)?;
    let longest = 400 * DAY;
    let length = interval_length(master, utc).filter(|l| *l <= longest)?;
    let mut spans: Vec<(i64, i64)> = starts.iter().map(|(s, _)| (*s, s + length)).collect();
    for o in events.iter().filter(|c| recurrence_id(c, utc).is_some()) {
        let start = first_time(o, "DTSTART", utc)?.0;
        let length = interval_length(o, utc).filter(|l| *l <= longest)?;
        spans.push((start, start + length));
    }
    (spans.len() <= SUMMARY_INSTANCES).then(|| spans.into_boxed_slice())
}

/// The rule of a recurring event with too many instances to list ([`instance_spans`]),
/// when a time range can be tested on it by arithmetic ([`dirdav_plugin::Periodic`]):
/// the object holds only VEVENTs (one master, overrides of single instances), every
/// time in UTC or a zone the database knows, the master has one RRULE, `DAILY` or
/// `WEEKLY`, without COUNT and without BY parts but a weekly rule's weekdays (DTSTART's
/// among them, and only DTSTART's when INTERVAL is more than 1), no RDATE, and its
/// instances and the overrides last more than nothing and at most 400 days. The rule
/// is then checked against the expansion queries make, over its first 800 days and
/// the last periods before its UNTIL: a rule the two read differently keeps no
/// periodic summary, and queries read the item.
fn periodic_rule(root: &Component<'_>) -> Option<dirdav_plugin::Periodic> {
    use crate::query::{
        SimpleRule, TimeRange, first_time, instances_reaching, interval_length, param,
        periodic_starts, props, recurrence_id, this_and_future, wall_to_utc, weekday, zone_named,
    };
    let utc = chrono_tz::UTC;
    // Most objects recur not at all: they are told apart before anything is parsed.
    if !root.components.iter().any(|c| prop(c, "RRULE").is_some()) {
        return None;
    }
    // EXDATE lists are read below, value by value.
    let events = fixed_events(root, &["DTSTART", "DTEND", "RECURRENCE-ID", "RDATE"])?;
    if events.iter().any(|c| this_and_future(c)) {
        return None;
    }
    let mut masters = events.iter().filter(|c| recurrence_id(c, utc).is_none());
    let master = *masters.next()?;
    if masters.next().is_some() || prop(master, "RDATE").is_some() {
        return None;
    }
    let rule = SimpleRule::of(master)?;
    let until = match rule.until {
        Some(value) => parse_time(value).filter(|(_, z)| *z)?.0,
        None => i64::MAX,
    };
    let dtstart = prop(master, "DTSTART")?;
    let (wall, in_utc) = parse_time(dtstart.val.as_str())?;
    let zone = match in_utc {
        true => utc,
        false => zone_named(param(dtstart, "TZID")?)?,
    };
    let longest = 400 * DAY;
    let length = interval_length(master, utc).filter(|l| *l > 0 && *l <= longest)?;
    let first_day = weekday(wall)?;
    let mut offsets: Vec<u32> = rule
        .weekdays
        .iter()
        .map(|d| (d + 7 - first_day) % 7)
        .collect();
    if offsets.is_empty() {
        offsets.push(0);
    }
    offsets.sort_unstable();
    offsets.dedup();
    if offsets[0] != 0 || (rule.interval > 1 && offsets.len() > 1) {
        return None;
    }
    let mut skip = Vec::new();
    for p in props(master, "EXDATE") {
        let zone = match param(p, "TZID") {
            Some(name) => Some(zone_named(name)?),
            None => None,
        };
        for value in p.val.as_str().split(',') {
            let (t, in_utc) = parse_time(value).filter(|_| value.trim().len() > 8)?;
            skip.push(match (in_utc, zone) {
                (true, _) => t,
                (false, Some(zone)) => wall_to_utc(zone, t),
                (false, None) => return None,
            });
        }
    }
    let mut overridden = Vec::new();
    let mut extra = Vec::new();
    for o in events.iter().filter(|c| recurrence_id(c, utc).is_some()) {
        overridden.push(recurrence_id(o, utc)?);
        let start = first_time(o, "DTSTART", utc)?.0;
        let length = interval_length(o, utc).filter(|l| *l > 0 && *l <= longest)?;
        extra.push((start, start + length));
    }
    skip.extend(&overridden);
    let periodic = dirdav_plugin::Periodic {
        start: wall,
        zone: zone.name().into(),
        length,
        period_days: rule.period_days(),
        offsets: offsets.into(),
        until,
        skip: skip.into(),
        extra: extra.into(),
    };
    // The instances from `from` to before `to` both ways, the left-out ones left out.
    let agree = |from: i64, to: i64| -> bool {
        let range = TimeRange {
            start: from,
            end: to,
        };
        let walked: Option<Vec<i64>> =
            instances_reaching(master, range, 0, &overridden, utc).map(|list| {
                list.into_iter()
                    .map(|(t, _)| t)
                    .filter(|t| (from..to).contains(t))
                    .collect()
            });
        let reckoned: Vec<i64> = periodic_starts(&periodic, zone, from, to)
            .filter(|t| !periodic.skip.contains(t))
            .collect();
        walked.is_some_and(|walked| walked == reckoned)
    };
    let first = wall_to_utc(zone, wall);
    let period_length = i64::from(periodic.period_days) * DAY;
    let checked = agree(first, first.saturating_add(800 * DAY))
        && (until == i64::MAX
            || agree(
                until.saturating_sub(30 * period_length),
                until.saturating_add(2 * period_length),
            ));
    checked.then_some(periodic)
}

#[cfg(test)]
mod tests {

    #[test]
    fn lint_finds_what_the_parser_forgives_with_its_line() {
        let object = |body: &str| {
            format!(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\n{body}BEGIN:VEVENT\r\nUID:u\r\n\
                 DTSTART:20261210T100000Z\r\nSUMMARY:a\\, b\\; c\\n\r\n END\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            )
        };
        assert_eq!(super::lint(&object("")), vec![]);
        let lines = |text: &str| -> Vec<(usize, bool)> {
            super::lint(text)
                .into_iter()
                .map(|p| (p.line, !p.message.is_empty()))
                .collect()
        };
        assert_eq!(lines(&object("METHOD:REQUEST\r\n")), vec![(4, true)]);
        let event = |lines: &str| object("").replace("UID:u\r\n", &format!("UID:u\r\n{lines}"));
        assert_eq!(
            lines(&event("LOCATION:say \\\"hi\\\"\r\n")),
            vec![(6, true)]
        );
        assert_eq!(lines(&event("DESCRIPTION:bell \u{7}\r\n")), vec![(6, true)]);
        assert_eq!(lines(&event("DESCRIPTION:tab\tok\r\n")), vec![]);
        assert_eq!(
            lines(&event("RRULE:FREQ=MONTHLY;BYDAY=+1,3MO\r\n")),
            vec![(6, true)]
        );
        for good in [
            "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270101T000000Z",
            "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3",
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;WKST=MO",
            "FREQ=DAILY;INTERVAL=2",
        ] {
            assert_eq!(
                lines(&event(&format!("RRULE:{good}\r\n"))),
                vec![],
                "{good}"
            );
        }
        assert_eq!(
            lines(&event("DTEND;TZID=Nowhere/Land:20261210T120000\r\n")),
            vec![(6, true)]
        );
        // A zone the database knows is taken by reference, as python-caldav writes it.
        assert_eq!(
            lines(&event("DTEND;TZID=Europe/Zurich:20261210T120000\r\n")),
            vec![]
        );
        let custom = "BEGIN:VTIMEZONE\r\nTZID:Office\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
                      TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";
        let office = object(custom).replace(
            "UID:u\r\n",
            "UID:u\r\nDTEND;TZID=Office:20261210T120000\r\n",
        );
        assert_eq!(lines(&office), vec![]);
        let zone = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
                    TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";
        let zoned = object(zone).replace(
            "UID:u\r\n",
            "UID:u\r\nDTEND;TZID=\"Europe/Berlin\":20261210T120000\r\n",
        );
        assert_eq!(lines(&zoned), vec![]);
        // A PUT is refused with the first problem's line.
        let refused = super::validate_put(event("X-A:1\r\nRRULE:FREQ=SOMETIMES\r\n").as_bytes());
        assert!(
            matches!(refused, Err(super::Invalid::Data(m)) if m.starts_with("line 7: malformed RRULE"))
        );
    }

    #[test]
    fn a_schedule_tag_follows_the_organizer_not_the_answers() {
        let object = |partstat: &str, summary: &str, extra: &str| {
            format!(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\nUID:m\r\n\
                 DTSTAMP:2026120{}T000000Z\r\nDTSTART:20261210T100000Z\r\nSUMMARY:{summary}\r\n\
                 ORGANIZER:mailto:a@example.com\r\n\
                 ATTENDEE;CN=\"B; b\";PARTSTAT={partstat};RSVP=TRUE:mailto:b@example.com\r\n{extra}\
                 END:VEVENT\r\nEND:VCALENDAR\r\n",
                partstat.len() % 9
            )
        };
        let tag = |text: String| {
            summarize(text.as_bytes())
                .fields
                .iter()
                .find(|(n, _)| *n == SCHEDULE_TAG)
                .map(|(_, v)| v.to_owned())
        };
        let first = tag(object("NEEDS-ACTION", "Plan", "")).expect("a scheduling object has one");
        let alarm = "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nX-MOZ-LASTACK:20261201T000000Z\r\n";
        assert_eq!(
            tag(object("ACCEPTED", "Plan", alarm)).as_deref(),
            Some(first.as_str())
        );
        let renumbered = object("TENTATIVE", "Plan", "SEQUENCE:4\r\n").replace(
            "ATTENDEE;CN=\"B; b\";PARTSTAT=TENTATIVE;RSVP=TRUE",
            "ATTENDEE;RSVP=TRUE;PARTSTAT=TENTATIVE;CN=\"B; b\"",
        );
        assert_eq!(tag(renumbered).as_deref(), Some(first.as_str()));
        assert_ne!(
            tag(object("NEEDS-ACTION", "Plan again", "")).as_deref(),
            Some(first.as_str())
        );
        let plain = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\nUID:p\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20261210T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert_eq!(tag(plain.to_owned()), None);
    }

    use super::*;

    const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\nUID:e1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260102T100000Z\r\nDTEND:20260102T110000Z\r\nSUMMARY:A long summary that is folded over\r\n two lines\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn accepts_what_clients_send() {
        assert_eq!(
            validate(EVENT.as_bytes()),
            Ok(Object {
                component: "VEVENT".into(),
                uid: "e1".into()
            })
        );
        let lower = "begin:vcalendar\nprodid:x\nbegin:vtodo\nuid:t1\nsummary:milk\nend:vtodo\nend:vcalendar\n";
        assert_eq!(validate(lower.as_bytes()).unwrap().component, "VTODO");
        let recurring = EVENT.replace(
            "END:VCALENDAR",
            "BEGIN:VEVENT\r\nUID:e1\r\nRECURRENCE-ID:20260109T100000Z\r\nDTSTART:20260109T120000Z\r\nEND:VEVENT\r\nEND:VCALENDAR",
        );
        assert!(validate(recurring.as_bytes()).is_ok());
        // A byte order mark before BEGIN: (some exporters write one) is passed over.
        let bom = format!("\u{feff}{EVENT}");
        assert_eq!(validate(bom.as_bytes()).unwrap().uid, "e1");
        assert_eq!(summarize(bom.as_bytes()).uid.as_deref(), Some("e1"));
    }

    #[test]
    fn refuses_nesting_and_rules_no_query_could_expand() {
        let deep = format!(
            "BEGIN:VCALENDAR\r\n{}{}END:VCALENDAR\r\n",
            "BEGIN:X\r\n".repeat(100_000),
            "END:X\r\n".repeat(100_000)
        );
        assert!(matches!(validate(deep.as_bytes()), Err(Invalid::Data(m)) if m.contains("nested")));
        assert_eq!(
            summarize(deep.as_bytes()),
            dirdav_plugin::Summary::default()
        );
        let alarm = EVENT.replace(
            "END:VEVENT",
            "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT",
        );
        assert!(validate_put(alarm.as_bytes()).is_ok());
        let limit = |rule: &str| match validate_put(EVENT.replace("DTEND", rule).as_bytes()) {
            Err(Invalid::Limit(c, _)) => Some(c),
            _ => None,
        };
        assert_eq!(limit("RRULE:FREQ=SECONDLY\r\nDTEND"), Some("max-instances"));
        assert_eq!(limit("RRULE:FREQ=MINUTELY\r\nDTEND"), Some("max-instances"));
        assert_eq!(limit("RRULE:FREQ=DAILY\r\nDTEND"), None);
        assert_eq!(limit("RRULE:FREQ=HOURLY\r\nDTEND"), None);
        assert_eq!(
            limit("RRULE:FREQ=SECONDLY;BYHOUR=1\r\nDTEND"),
            Some("max-instances")
        );
        assert_eq!(
            limit("RRULE:FREQ=WEEKLY;BYDAY=MO,WE;INTERVAL=2\r\nDTEND"),
            None
        );
        assert_eq!(limit("RRULE:FREQ=MINUTELY;INTERVAL=1440\r\nDTEND"), None);
        // Rules the rrule crate gives up on: refused as objects that cannot be expanded.
        let stalls = EVENT.replace(
            "DTEND",
            "RRULE:FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30\r\nDTEND",
        );
        assert!(matches!(
            validate_put(stalls.as_bytes()),
            Err(Invalid::Object(_))
        ));
        let leap = EVENT.replace(
            "DTEND",
            "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29\r\nDTEND",
        );
        assert!(
            validate_put(leap.as_bytes()).is_ok(),
            "leap days are rare but found"
        );
        let ancient = EVENT.replace("DTSTART:2026", "DTSTART:0001");
        assert!(matches!(
            validate_put(
                ancient
                    .replace("DTEND", "RRULE:FREQ=DAILY\r\nDTEND")
                    .as_bytes()
            ),
            Err(Invalid::Limit("max-instances", _))
        ));
        assert!(
            validate_put(ancient.as_bytes()).is_ok(),
            "a single event in year 1"
        );
    }

    #[test]
    fn refuses_what_is_not_one_calendar_object() {
        let data = |s: &str| matches!(validate(s.as_bytes()), Err(Invalid::Data(_)));
        let object = |s: &str| matches!(validate(s.as_bytes()), Err(Invalid::Object(_)));
        assert!(data("hello"));
        assert!(data("BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n"));
        assert!(matches!(
            validate(&[0xff, 0xfe, b'B']),
            Err(Invalid::Data(_))
        ));
        assert!(object(&EVENT.replace("UID:e1\r\n", "")));
        assert!(object(&EVENT.replace(
            "END:VCALENDAR",
            "BEGIN:VEVENT\r\nUID:other\r\nDTSTART:20260109T120000Z\r\nEND:VEVENT\r\nEND:VCALENDAR"
        )));
        assert!(object(&EVENT.replace(
            "END:VCALENDAR",
            "BEGIN:VTODO\r\nUID:e1\r\nEND:VTODO\r\nEND:VCALENDAR"
        )));
        assert!(object(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
        ));
    }

    #[test]
    fn times_and_durations() {
        assert_eq!(parse_time("19700101T000000Z"), Some((0, true)));
        assert_eq!(parse_time("20260102"), Some((20_455 * DAY, false)));
        assert_eq!(
            parse_time("20260102T100000"),
            Some((20_455 * DAY + 36_000, false))
        );
        assert_eq!(parse_time("2026-01-02"), None);
        assert_eq!(parse_duration("PT1H30M"), Some(5400));
        assert_eq!(parse_duration("-P1D"), Some(-DAY));
        assert_eq!(parse_duration("P2W"), Some(14 * DAY));
        assert_eq!(parse_duration("P"), None);
        assert_eq!(parse_duration("1H"), None);
    }

    #[test]
    fn summaries_bound_what_an_item_covers() {
        let s = summarize(EVENT.as_bytes());
        assert_eq!(
            (s.uid.as_deref(), s.component.as_deref()),
            (Some("e1"), Some("VEVENT"))
        );
        let start = parse_time("20260102T100000Z").unwrap().0;
        assert_eq!(
            s.span,
            Some((start, start + 3600)),
            "UTC times need no slack"
        );
        let local = EVENT
            .replace("20260102T100000Z", "20260102T100000")
            .replace("20260102T110000Z", "20260102T110000");
        let floating = summarize(local.as_bytes());
        assert_eq!(
            (floating.span, floating.span_exact, floating.span_floating),
            (Some((start, start + 3600)), true, true),
            "floating times keep their wall-clock span, placed in a zone at query time"
        );
        let berlin = local.replace("DTSTART:", "DTSTART;TZID=Europe/Berlin:");
        assert_eq!(
            summarize(berlin.as_bytes()).span,
            Some((start - SLACK, start + 3600 + SLACK)),
            "a zoned start with a floating end is bounded"
        );
        let weekly = EVENT.replace(
            "DTEND:20260102T110000Z",
            "DURATION:PT1H\r\nRRULE:FREQ=WEEKLY",
        );
        assert_eq!(summarize(weekly.as_bytes()).span.unwrap().1, i64::MAX);
        let counted = weekly.replace("FREQ=WEEKLY", "FREQ=WEEKLY;COUNT=3");
        let end = start + 2 * 7 * DAY + 3600;
        assert_eq!(
            summarize(counted.as_bytes()).span,
            Some((start, end + SLACK)),
            "COUNT rules end"
        );
        let task = "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        assert_eq!(summarize(task.as_bytes()).span, Some((i64::MIN, i64::MAX)));
        assert_eq!(summarize(b"garbage"), dirdav_plugin::Summary::default());
    }
}
