//! `POST` to an outbox (RFC 6638 §5): a VFREEBUSY request naming attendees, answered
//! with each one's busy times, as iOS/macOS Calendar and Thunderbird ask to show
//! availability while someone plans a meeting.
//!
//! The busy times of a local user come from `free-busy-query` REPORTs (RFC 4791 §7.10)
//! on each of their calendars that counts (`schedule-calendar-transp` opaque), made
//! with that user's authority: the asker learns when they are busy, not what they do.
//! Any signed-in user may ask about any user, as a shared office calendar system lets
//! colleagues see each other's availability.

use dirdav_plugin::http::{Request, Response, StatusCode, header};
use dirdav_plugin::xml::{Name, XmlWriter, ns};
use dirdav_plugin::{Body, DavError, DavRequest, HandlerResult, Principal, Store};
use http_body_util::BodyExt;
use icalendar::parser::{Component, read_calendar_simple, unfold};

use crate::itip::same_address;
use crate::limits::Limits;
use crate::{OUTBOX, Users, cal, transparent};

/// One attendee's answer: the address asked about, a request status (RFC 5545 §3.8.8.3)
/// and, when known, the VFREEBUSY reply.
struct Answer {
    recipient: String,
    status: &'static str,
    reply: Option<String>,
}

/// The parts of a VFREEBUSY request the answer needs.
#[derive(Debug, PartialEq)]
struct Query {
    uid: Option<String>,
    start: String,
    end: String,
    organizer: String,
    attendees: Vec<String>,
}

fn prop<'c>(c: &'c Component<'c>, name: &str) -> Option<&'c icalendar::parser::Property<'c>> {
    c.properties
        .iter()
        .find(|p| p.name.as_str().eq_ignore_ascii_case(name))
}

fn invalid(message: impl Into<String>) -> DavError {
    DavError::bad_request(message.into()).condition(cal("valid-calendar-data"))
}

fn not_scheduling(message: impl Into<String>) -> DavError {
    DavError::forbidden(message.into()).condition(cal("valid-scheduling-message"))
}

/// Reads a VFREEBUSY request (RFC 5546 §3.3.2): `METHOD:REQUEST`, one VFREEBUSY with
/// DTSTART, DTEND (UTC), ORGANIZER and at least one ATTENDEE.
fn read_query(text: &str) -> Result<Query, DavError> {
    let text = dirdav_plugin::contentline::without_bom(text);
    dirdav_plugin::contentline::check_nesting(text).map_err(invalid)?;
    let unfolded = unfold(text);
    let roots =
        read_calendar_simple(&unfolded).map_err(|e| invalid(format!("not iCalendar: {e}")))?;
    let root = roots
        .iter()
        .find(|c| c.name.as_str().eq_ignore_ascii_case("VCALENDAR"))
        .ok_or_else(|| invalid("no VCALENDAR"))?;
    let method = prop(root, "METHOD").map(|p| p.val.as_str().trim().to_ascii_uppercase());
    let mut freebusies = root
        .components
        .iter()
        .filter(|c| c.name.as_str().eq_ignore_ascii_case("VFREEBUSY"));
    let freebusy = freebusies.next();
    // A free-busy request holds one VFREEBUSY (RFC 5546 §3.3.2): a second would be
    // a second lookup the answer has no place for.
    if freebusies.next().is_some() {
        return Err(DavError::forbidden(
            "a free-busy request holds one VFREEBUSY (RFC 5546 §3.3.2)",
        )
        .condition(cal("valid-calendar-data")));
    }
    let Some(freebusy) = freebusy.filter(|_| method.as_deref() == Some("REQUEST")) else {
        return Err(not_scheduling(
            "an outbox answers free-busy requests (METHOD:REQUEST with a VFREEBUSY); \
             invitations are sent by mail by the client",
        ));
    };
    let text_of = |name: &str| prop(freebusy, name).map(|p| p.val.as_str().trim().to_owned());
    // RFC 5546 asks for UTC; a time without a zone (python-caldav sends the local
    // time of a naive datetime so) is read as UTC rather than refused.
    let utc = |name: &str| {
        text_of(name)
            .map(|v| match v.ends_with('Z') {
                true => v,
                false => format!("{v}Z"),
            })
            .filter(|v| {
                v.len() == 16
                    && v.as_bytes()[8] == b'T'
                    && v[..8]
                        .bytes()
                        .chain(v[9..15].bytes())
                        .all(|b| b.is_ascii_digit())
            })
            .ok_or_else(|| not_scheduling(format!("the VFREEBUSY needs {name} as a date-time")))
    };
    let (start, end) = (utc("DTSTART")?, utc("DTEND")?);
    if start >= end {
        return Err(not_scheduling("the VFREEBUSY ends before it starts"));
    }
    let organizer =
        text_of("ORGANIZER").ok_or_else(|| not_scheduling("the VFREEBUSY has no ORGANIZER"))?;
    // Each attendee once, however often named.
    let mut attendees: Vec<String> = Vec::new();
    for p in freebusy
        .properties
        .iter()
        .filter(|p| p.name.as_str().eq_ignore_ascii_case("ATTENDEE"))
    {
        let address = p.val.as_str().trim();
        if !attendees.iter().any(|a| same_address(a, address)) {
            attendees.push(address.to_owned());
        }
    }
    if attendees.is_empty() {
        return Err(not_scheduling("the VFREEBUSY names no ATTENDEE"));
    }
    Ok(Query {
        uid: text_of("UID"),
        start,
        end,
        organizer,
        attendees,
    })
}

impl Query {
    /// Refuses a lookup past the limits: more attendees than allowed (403
    /// `CALDAV:max-attendees-per-instance`), a span longer than allowed (403
    /// `CALDAV:max-date-time`) or outside the years 1900 to 2200 (403
    /// `CALDAV:min-date-time` / `max-date-time`), so that one POST cannot make the
    /// server expand years of recurrences for thousands of people.
    fn within(&self, limits: &Limits) -> Result<(), DavError> {
        if self.attendees.len() > limits.freebusy_attendees {
            return Err(DavError::forbidden(format!(
                "a free-busy lookup may name at most {} attendees; this one names {}",
                limits.freebusy_attendees,
                self.attendees.len()
            ))
            .condition(cal("max-attendees-per-instance")));
        }
        let day = |t: &str| -> Option<i64> {
            let (y, m, d) = (t.get(..4)?, t.get(4..6)?, t.get(6..8)?);
            let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
            // Days from a fixed point (a proleptic count, close enough for a bound).
            Some(y * 372 + m * 31 + d)
        };
        let year = |t: &str| t.get(..4).and_then(|y| y.parse::<i64>().ok()).unwrap_or(0);
        if year(&self.start) < 1900 {
            return Err(
                DavError::forbidden("a free-busy lookup starts in 1900 or later")
                    .condition(cal("min-date-time")),
            );
        }
        if year(&self.end) > 2200 {
            return Err(DavError::forbidden("a free-busy lookup ends by 2200")
                .condition(cal("max-date-time")));
        }
        let span = day(&self.end).unwrap_or(0) - day(&self.start).unwrap_or(0);
        // The count above gives at most 372 a year: allow for it.
        if span * 365 > limits.freebusy_days * 372 {
            return Err(DavError::forbidden(format!(
                "a free-busy lookup covers at most {} days",
                limits.freebusy_days
            ))
            .condition(cal("max-date-time")));
        }
        Ok(())
    }
}

/// `POST` to a collection: free-busy through one's own outbox; 405 elsewhere.
pub(crate) async fn outbox_post(
    users: &Users,
    limits: &Limits,
    request: DavRequest,
) -> HandlerResult {
    let outbox = request
        .resource
        .as_ref()
        .filter(|r| r.is_collection_of(OUTBOX))
        .ok_or_else(|| DavError::method_not_allowed("POST is answered by scheduling outboxes"))?;
    let owner = outbox.path.split('/').next().unwrap_or_default().to_owned();
    let asker = request.principal.as_ref().map(|p| p.name.to_string());
    if asker.as_deref() != Some(owner.as_str()) {
        return Err(
            DavError::forbidden("only the outbox's owner may send through it")
                .condition(Name::new(ns::DAV, "need-privileges")),
        );
    }
    // An outbox takes iCalendar (RFC 6638 §5.1): a POST that says it sends something
    // else is refused as such, whatever the body.
    if let Some(media) = request
        .parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(dirdav_plugin::media_essence)
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("text/calendar"))
    {
        return Err(
            DavError::forbidden(format!("an outbox takes text/calendar, not {media}"))
                .condition(cal("supported-calendar-data")),
        );
    }
    let text = std::str::from_utf8(&request.body).map_err(|_| invalid("not UTF-8"))?;
    let query = read_query(text)?;
    query.within(limits)?;
    let own = users.addresses(&owner, &*request.store);
    if users.resolve(&query.organizer, &*request.store).as_deref() != Some(owner.as_str()) {
        return Err(DavError::forbidden(format!(
            "the ORGANIZER must be one of the outbox owner's addresses ({})",
            own.join(", ")
        ))
        .condition(cal("organizer-allowed")));
    }
    let mut answers = Vec::with_capacity(query.attendees.len());
    for attendee in &query.attendees {
        let answer = match users.resolve(attendee, &*request.store) {
            None => Answer {
                recipient: attendee.clone(),
                status: "3.7;Invalid calendar user",
                reply: None,
            },
            Some(user) => match busy_times(&*request.store, &user, &query).await {
                Some(periods) => Answer {
                    recipient: attendee.clone(),
                    status: "2.0;Success",
                    reply: Some(reply(&query, attendee, &periods)),
                },
                None => Answer {
                    recipient: attendee.clone(),
                    status: "5.1;Service unavailable",
                    reply: None,
                },
            },
        };
        answers.push(answer);
    }
    Ok(schedule_response(&answers, &request.store.prefixes()))
}

/// The FREEBUSY lines of a user's opaque calendars over the query's range, by a
/// `free-busy-query` on each made as that user. `None` when one fails.
async fn busy_times(store: &dyn Store, user: &str, query: &Query) -> Option<Vec<String>> {
    let theirs = store.acting_for(Principal { name: user.into() })?;
    let prefix = format!("{user}/");
    let calendars: Vec<_> = theirs
        .collections_within(user)
        .into_iter()
        .filter(|c| {
            c.path.starts_with(&prefix)
                && c.is_collection_of(dirdav_caldav::KIND)
                && !transparent(c)
        })
        .collect();
    let body = format!(
        "<C:free-busy-query xmlns:C=\"urn:ietf:params:xml:ns:caldav\">\
         <C:time-range start=\"{}\" end=\"{}\"/></C:free-busy-query>",
        query.start, query.end
    );
    let mut lines = Vec::new();
    for calendar in calendars {
        let href = theirs.href_of(&calendar.path, true);
        let report = Request::builder()
            .method("REPORT")
            .uri(&href)
            .header("depth", "1")
            .header(header::CONTENT_TYPE, "application/xml; charset=utf-8")
            .body(Body::from(body.clone()))
            .ok()?;
        let response = theirs.request(report).await;
        if response.status() != StatusCode::OK {
            tracing::warn!(calendar = %calendar.path, status = %response.status(), "free-busy of a calendar failed");
            return None;
        }
        let bytes = response.into_body().collect().await.ok()?.to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        lines.extend(
            unfold(&text)
                .lines()
                .filter(|l| l.len() > 8 && l[..8].eq_ignore_ascii_case("FREEBUSY"))
                .map(str::to_owned),
        );
    }
    Some(lines)
}

/// The VFREEBUSY reply for one attendee (RFC 5546 §3.3.3).
fn reply(query: &Query, attendee: &str, periods: &[String]) -> String {
    let now = httpdate::fmt_http_date(std::time::SystemTime::now());
    let stamp = dtstamp(&now).unwrap_or_else(|| query.start.clone());
    let mut out = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//dirdav//scheduling//EN\r\nMETHOD:REPLY\r\nBEGIN:VFREEBUSY\r\n",
    );
    let mut line = |text: &str| dirdav_plugin::contentline::fold_into(&mut out, text);
    if let Some(uid) = &query.uid {
        line(&format!("UID:{uid}"));
    }
    line(&format!("DTSTAMP:{stamp}"));
    line(&format!("DTSTART:{}", query.start));
    line(&format!("DTEND:{}", query.end));
    line(&format!("ORGANIZER:{}", query.organizer));
    line(&format!("ATTENDEE:{attendee}"));
    for period in periods {
        line(period);
    }
    out.push_str("END:VFREEBUSY\r\nEND:VCALENDAR\r\n");
    out
}

/// `Thu, 03 Dec 2026 01:02:03 GMT` as an iCalendar UTC time.
fn dtstamp(http_date: &str) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = http_date.split_whitespace().skip(1);
    let day: u32 = parts.next()?.parse().ok()?;
    let name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == name)? + 1;
    let year: u32 = parts.next()?.parse().ok()?;
    let time = parts.next()?.replace(':', "");
    Some(format!("{year:04}{month:02}{day:02}T{time}Z"))
}

/// The `CALDAV:schedule-response` document (RFC 6638 §10.1).
fn schedule_response(answers: &[Answer], prefixes: &[(&str, &str)]) -> Response<Body> {
    let mut w = XmlWriter::new(prefixes);
    w.start(&cal("schedule-response"));
    for answer in answers {
        w.start(&cal("response"));
        w.start(&cal("recipient"));
        w.text_element(&Name::new(ns::DAV, "href"), &answer.recipient);
        w.end();
        w.text_element(&cal("request-status"), answer.status);
        if let Some(reply) = &answer.reply {
            w.text_element(&cal("calendar-data"), reply);
        }
        w.end();
    }
    w.end();
    let body = w.finish();
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/xml; charset=utf-8")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nMETHOD:REQUEST\r\n\
        BEGIN:VFREEBUSY\r\nUID:fb-1\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20261203T000000Z\r\n\
        DTEND:20261204T000000Z\r\nORGANIZER:mailto:alice@example.com\r\n\
        ATTENDEE:mailto:bob@example.com\r\nATTENDEE:mailto:nobody@example.net\r\n\
        END:VFREEBUSY\r\nEND:VCALENDAR\r\n";

    #[test]
    fn a_freebusy_request_is_read() {
        let q = read_query(REQUEST).unwrap();
        assert_eq!(q.uid.as_deref(), Some("fb-1"));
        assert_eq!(
            (q.start.as_str(), q.end.as_str()),
            ("20261203T000000Z", "20261204T000000Z")
        );
        assert_eq!(q.organizer, "mailto:alice@example.com");
        assert_eq!(
            q.attendees,
            ["mailto:bob@example.com", "mailto:nobody@example.net"]
        );
    }

    #[test]
    fn what_is_not_a_freebusy_request_is_refused_with_its_condition() {
        let event = REQUEST.replace("VFREEBUSY", "VEVENT");
        let e = read_query(&event).unwrap_err();
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        assert!(e.body().unwrap().contains("valid-scheduling-message"));
        let e = read_query("hello").unwrap_err();
        assert!(e.body().unwrap().contains("valid-calendar-data"));
        let local = REQUEST.replace("DTSTART:20261203T000000Z", "DTSTART:20261203T000000");
        assert_eq!(
            read_query(&local).unwrap().start,
            "20261203T000000Z",
            "read as UTC"
        );
        let date = REQUEST.replace("DTSTART:20261203T000000Z", "DTSTART;VALUE=DATE:20261203");
        assert!(read_query(&date).is_err());
        let backwards = REQUEST.replace("DTEND:20261204T000000Z", "DTEND:20261202T000000Z");
        assert!(read_query(&backwards).is_err());
        let deep = "BEGIN:X\r\n".repeat(10_000);
        assert!(
            read_query(&deep).is_err(),
            "deep nesting is refused before parsing"
        );
    }

    #[test]
    fn http_dates_become_utc_times() {
        assert_eq!(
            dtstamp("Thu, 03 Dec 2026 01:02:03 GMT").as_deref(),
            Some("20261203T010203Z")
        );
    }
}
