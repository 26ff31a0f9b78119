//! CalDAV through the real service: what a calendar client sees.

#![allow(missing_docs, clippy::unwrap_used)]

use dirdav_caldav::CalDav;
use dirdav_plugin::http::StatusCode;
use dirdav_testkit::TestServer;

const XML: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";
const ROOT: &str = "<d:multistatus xmlns:d=\"DAV:\" xmlns:cs=\"http://calendarserver.org/ns/\" \
xmlns:cal=\"urn:ietf:params:xml:ns:caldav\" xmlns:ical=\"http://apple.com/ns/ical/\">";

fn event(uid: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:20260102T100000Z\r\nDTEND:20260102T110000Z\r\nSUMMARY:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

struct Fx {
    srv: TestServer,
}

/// alice's calendar `work` (VEVENT only) with two events, and what `more` adds.
async fn fixture_with(more: impl FnOnce(dirdav_testkit::Setup) -> dirdav_testkit::Setup) -> Fx {
    let setup = TestServer::new()
        .file(
            "alice/work/.dav.toml",
            "kind = \"calendar\"\ndisplayname = \"Work\"\n\n[caldav]\ncomponents = [\"VEVENT\"]\n",
        )
        .file("alice/work/a.ics", event("a"))
        .file("alice/work/b.ics", event("b"))
        .plugin(CalDav::default());
    Fx {
        srv: more(setup).start().await,
    }
}

async fn fixture() -> Fx {
    fixture_with(|s| s).await
}

/// A request by alice with these headers, through the kit: its status and body.
async fn send(
    srv: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, String) {
    let mut request = srv.request(method, path).user("alice").body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let reply = request.send().await;
    (reply.status, reply.body)
}

#[tokio::test]
async fn a_calendar_describes_itself() {
    let fx = fixture().await;
    let body = r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/">
<prop><resourcetype/><displayname/><C:supported-calendar-component-set/><C:supported-calendar-data/>
<C:max-resource-size/><C:min-date-time/><C:max-date-time/><C:max-instances/><C:max-attendees-per-instance/>\
<supported-report-set/></prop></propfind>"#;
    let (status, xml) = send(&fx.srv, "PROPFIND", "/alice/work/", &[("depth", "0")], body).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(
        xml,
        format!(
            "{XML}{ROOT}<d:response><d:href>/alice/work/</d:href><d:propstat><d:prop>\
<d:resourcetype><d:collection/><cal:calendar/></d:resourcetype><d:displayname>Work</d:displayname>\
<cal:supported-calendar-component-set><cal:comp name=\"VEVENT\"/></cal:supported-calendar-component-set>\
<cal:supported-calendar-data><cal:calendar-data content-type=\"text/calendar\" version=\"2.0\"/></cal:supported-calendar-data>\
<cal:max-resource-size>10485760</cal:max-resource-size>\
<cal:min-date-time>00010101T000000Z</cal:min-date-time><cal:max-date-time>99991231T235959Z</cal:max-date-time>\
<cal:max-instances>10000</cal:max-instances><cal:max-attendees-per-instance>1000</cal:max-attendees-per-instance>\
<d:supported-report-set><d:supported-report><d:report><d:sync-collection/></d:report></d:supported-report>\
<d:supported-report><d:report><cal:calendar-multiget/></d:report></d:supported-report>\
<d:supported-report><d:report><cal:calendar-query/></d:report></d:supported-report>\
<d:supported-report><d:report><cal:free-busy-query/></d:report></d:supported-report></d:supported-report-set>\
</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>\n"
        )
    );
    let (_, xml) = send(&fx.srv, "PROPFIND", "/alice/", &[("depth", "0")], r#"<propfind xmlns="DAV:"><prop><calendar-home-set xmlns="urn:ietf:params:xml:ns:caldav"/></prop></propfind>"#).await;
    assert!(
        xml.contains("<cal:calendar-home-set><d:href>/alice/</d:href></cal:calendar-home-set>"),
        "{xml}"
    );
    let (status, _) = send(&fx.srv, "OPTIONS", "/alice/work/", &[], "").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn put_checks_refuse_with_their_preconditions_and_write_nothing() {
    let fx = fixture().await;
    let before = fx.srv.snapshot();
    let cases = [
        (
            "not a calendar".to_owned(),
            "<valid-calendar-data xmlns=\"urn:ietf:params:xml:ns:caldav\"/>",
        ),
        (
            event("x").replace("UID:x\r\n", ""),
            "<valid-calendar-object-resource xmlns=\"urn:ietf:params:xml:ns:caldav\"/>",
        ),
        (
            event("x").replace("VEVENT", "VTODO"),
            "<supported-calendar-component xmlns=\"urn:ietf:params:xml:ns:caldav\"/>",
        ),
        (
            event("a"),
            "<no-uid-conflict xmlns=\"urn:ietf:params:xml:ns:caldav\"><d:href>/alice/work/a.ics</d:href></no-uid-conflict>",
        ),
        (
            event("x").replace("SUMMARY", "RRULE:FREQ=MINUTELY;COUNT=20000\r\nSUMMARY"),
            "<max-instances xmlns=\"urn:ietf:params:xml:ns:caldav\"/>",
        ),
        (
            event("x").replace(
                "SUMMARY",
                "RRULE:FREQ=HOURLY;UNTIL=20300101T000000Z\r\nSUMMARY",
            ),
            "<max-instances xmlns=\"urn:ietf:params:xml:ns:caldav\"/>",
        ),
        (
            event("x").replace(
                "SUMMARY",
                &(0..1001)
                    .map(|i| format!("ATTENDEE:mailto:guest{i}@example.com\r\n"))
                    .chain(["SUMMARY".to_owned()])
                    .collect::<String>(),
            ),
            "<max-attendees-per-instance xmlns=\"urn:ietf:params:xml:ns:caldav\"/>",
        ),
    ];
    for (body, condition) in cases {
        let (status, xml) = send(&fx.srv, "PUT", "/alice/work/x.ics", &[], &body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(
            xml,
            format!("{XML}<d:error xmlns:d=\"DAV:\">{condition}</d:error>\n"),
            "{body}"
        );
    }
    assert_eq!(fx.srv.snapshot(), before);
    // Something that is not iCalendar and not said to be: not a media type a calendar
    // takes (RFC 4791 §5.3.2.1), by PUT as by COPY of a text file.
    let (status, xml) = send(
        &fx.srv,
        "PUT",
        "/alice/work/x.ics",
        &[("content-type", "text/plain")],
        "hello",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(xml.contains("<supported-calendar-data "), "{xml}");
    let (status, _) = send(&fx.srv, "PUT", "/alice/notes.txt", &[], "hello").await;
    assert_eq!(status, StatusCode::CREATED);
    for method in ["COPY", "MOVE"] {
        let (status, xml) = send(
            &fx.srv,
            method,
            "/alice/notes.txt",
            &[("destination", "/alice/work/n.ics")],
            "",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}");
        assert!(xml.contains("<supported-calendar-data "), "{method}: {xml}");
    }
    // A valid object under the wrong type is taken: clients get the header wrong.
    let (status, _) = send(
        &fx.srv,
        "PUT",
        "/alice/work/typed.ics",
        &[("content-type", "application/octet-stream")],
        &event("typed"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = send(
        &fx.srv,
        "PUT",
        "/alice/work/a.ics",
        &[],
        &event("a").replace("SUMMARY:a", "SUMMARY:moved"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "rewriting an item keeps its UID"
    );
    let (status, _) = send(&fx.srv, "PUT", "/alice/work/c.ics", &[], &event("c")).await;
    assert_eq!(status, StatusCode::CREATED);
    // Open-ended rules are fine, however many instances they would have in all, as
    // long as a query could walk them from their start to a year from now.
    let forever = event("f").replace("SUMMARY", "RRULE:FREQ=HOURLY\r\nSUMMARY");
    let (status, _) = send(&fx.srv, "PUT", "/alice/work/f.ics", &[], &forever).await;
    assert_eq!(status, StatusCode::CREATED);
    let dense = event("s").replace("SUMMARY", "RRULE:FREQ=SECONDLY\r\nSUMMARY");
    let (status, body) = send(&fx.srv, "PUT", "/alice/work/s.ics", &[], &dense).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body.contains("<C:max-instances/>") || body.contains("max-instances"),
        "{body}"
    );
    assert!(!fx.srv.path("alice/work/s.ics").exists());
    let daily = event("g").replace("SUMMARY", "RRULE:FREQ=DAILY;COUNT=3650\r\nSUMMARY");
    let (status, _) = send(&fx.srv, "PUT", "/alice/work/g.ics", &[], &daily).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = send(
        &fx.srv,
        "PUT",
        "/alice/d.ics",
        &[],
        "anything goes outside calendars",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn mkcalendar_creates_a_calendar_with_its_properties() {
    let fx = fixture().await;
    let body = r#"<?xml version="1.0" encoding="utf-8" ?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:I="http://apple.com/ns/ical/">
  <D:set><D:prop>
    <D:displayname>Lisa's Events</D:displayname>
    <C:calendar-description xml:lang="en">Calendar restricted to events.</C:calendar-description>
    <C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="VTODO"/></C:supported-calendar-component-set>
    <I:calendar-color>#FF5733FF</I:calendar-color>
  </D:prop></D:set>
</C:mkcalendar>"#;
    let (status, _) = send(&fx.srv, "MKCALENDAR", "/alice/events/", &[], body).await;
    assert_eq!(status, StatusCode::CREATED);
    // The description's language is kept beside it (RFC 4918 §4.3).
    assert_eq!(
        fx.srv.read("alice/events/.dav.toml").unwrap(),
        "kind = \"calendar\"\ndisplayname = \"Lisa's Events\"\ndescription = \"Calendar restricted to events.\"\ncolor = \"#FF5733FF\"\n\n[caldav]\ncomponents = [\"VEVENT\", \"VTODO\"]\n\n[lang]\ndescription = \"en\"\n"
    );
    let (_, xml) = send(
        &fx.srv,
        "PROPFIND",
        "/alice/events/",
        &[("depth", "0")],
        r#"<propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#,
    )
    .await;
    assert!(xml.contains("<cal:calendar/>"));
    let (status, xml) = send(&fx.srv, "MKCALENDAR", "/alice/events/", &[], "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(xml.contains("resource-must-be-null"));
    let (status, xml) = send(&fx.srv, "MKCALENDAR", "/alice/work/inner/", &[], "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        xml.contains("<calendar-collection-location-ok xmlns=\"urn:ietf:params:xml:ns:caldav\"/>"),
        "{xml}"
    );
    let (status, _) = send(&fx.srv, "MKCALENDAR", "/nobody/cal/", &[], "").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(!fx.srv.path("nobody").exists());
}

#[tokio::test]
async fn calendar_multiget_answers_each_href() {
    let fx = fixture().await;
    let body = r#"<?xml version="1.0" encoding="utf-8" ?>
<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <D:href>/alice/work/b.ics</D:href>
  <D:href>/alice/work/missing.ics</D:href>
  <D:href>/alice/elsewhere.ics</D:href>
  <D:href>/alice/work/a.ics</D:href>
</C:calendar-multiget>"#;
    let (status, xml) = send(&fx.srv, "REPORT", "/alice/work/", &[("depth", "1")], body).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    let etag = |name: &str| {
        let bytes = std::fs::read(fx.srv.path(&format!("alice/work/{name}"))).unwrap();
        format!("\"{}\"", &blake3_hex(&bytes)[..32])
    };
    let item = |name: &str, uid: &str| {
        format!(
            "<d:response><d:href>/alice/work/{name}</d:href><d:propstat><d:prop><d:getetag>{}</d:getetag>\
<cal:calendar-data>{}</cal:calendar-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>",
            etag(name),
            // CR is written as a character reference, so the client's XML parser keeps
            // the CRLF line ends of the stored bytes.
            event(uid).replace('\r', "&#13;")
        )
    };
    assert_eq!(
        xml,
        format!(
            "{XML}{ROOT}{}<d:response><d:href>/alice/work/missing.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>\
<d:response><d:href>/alice/elsewhere.ics</d:href><d:status>HTTP/1.1 403 Forbidden</d:status></d:response>{}</d:multistatus>\n",
            item("b.ics", "b"),
            item("a.ics", "a")
        )
    );
}

#[tokio::test]
async fn calendar_multiget_takes_allprop_and_propname() {
    let fx = fixture().await;
    let ask = |what: &str| {
        format!(
            r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">{what}<D:href>/alice/work/a.ics</D:href></C:calendar-multiget>"#
        )
    };
    let (status, xml) = send(&fx.srv, "REPORT", "/alice/work/", &[], &ask("<D:allprop/>")).await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{xml}");
    assert!(xml.contains("<d:getetag>\""), "{xml}");
    assert!(xml.contains("<d:getcontenttype>text/calendar"), "{xml}");
    assert!(
        !xml.contains("calendar-data"),
        "allprop gives no data: {xml}"
    );
    let (status, xml) = send(
        &fx.srv,
        "REPORT",
        "/alice/work/",
        &[],
        &ask("<D:propname/>"),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{xml}");
    assert!(xml.contains("<d:getetag/>"), "{xml}");
    assert!(!xml.contains("<d:getetag>\""), "names only: {xml}");
    let (status, _) = send(&fx.srv, "REPORT", "/alice/work/", &[], &ask("")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// The server's ETag is the blake3 hash of the bytes, computed here independently.
fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

fn event_at(uid: &str, start: &str, end: &str) -> String {
    event(uid)
        .replace("DTSTART:20260102T100000Z", &format!("DTSTART:{start}"))
        .replace("DTEND:20260102T110000Z", &format!("DTEND:{end}"))
}

fn hrefs(xml: &str) -> Vec<String> {
    let mut out = dirdav_testkit::hrefs(xml);
    out.sort();
    out
}

#[tokio::test]
async fn calendar_query_by_time_range_reads_only_candidates() {
    let srv = TestServer::new()
        .file("alice/cal/.dav.toml", "kind = \"calendar\"\n")
        .file(
            "alice/cal/jan.ics",
            event_at("jan", "20260110T100000Z", "20260110T110000Z"),
        )
        .file(
            "alice/cal/feb.ics",
            event_at("feb", "20260210T100000Z", "20260210T110000Z"),
        )
        .file(
            "alice/cal/mar.ics",
            event_at("mar", "20260310T100000Z", "20260310T110000Z"),
        )
        .file(
            "alice/cal/weekly.ics",
            event_at("weekly", "20251201T090000Z", "20251201T100000Z")
                .replace("DTEND", "RRULE:FREQ=WEEKLY\r\nDTEND"),
        )
        .file(
            "alice/cal/task.ics",
            "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:task\r\nDUE:20260215T120000Z\r\nSUMMARY:Taxes\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
        )
        .plugin(CalDav::default())
        .start()
        .await;
    let cal = srv.path("alice/cal");
    // Items the summaries rule out are never read: remove them from under the server.
    std::fs::remove_file(cal.join("jan.ics")).unwrap();
    std::fs::remove_file(cal.join("mar.ics")).unwrap();

    let query = |comp: &str| {
        format!(
            r#"<?xml version="1.0" encoding="utf-8" ?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="{comp}">
    <C:time-range start="20260201T000000Z" end="20260301T000000Z"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"#
        )
    };
    let (status, xml) = send(
        &srv,
        "REPORT",
        "/alice/cal/",
        &[("depth", "1")],
        &query("VEVENT"),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{xml}");
    assert_eq!(hrefs(&xml), ["/alice/cal/feb.ics", "/alice/cal/weekly.ics"]);
    let (_, xml) = send(
        &srv,
        "REPORT",
        "/alice/cal/",
        &[("depth", "0")],
        &query("VTODO"),
    )
    .await;
    assert_eq!(
        hrefs(&xml),
        ["/alice/cal/task.ics"],
        "Depth 0 on a calendar is treated like Depth 1"
    );

    let bad = query("VEVENT").replace("20260201T000000Z", "yesterday");
    let (status, xml) = send(&srv, "REPORT", "/alice/cal/", &[("depth", "1")], &bad).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(xml.contains("valid-filter"), "{xml}");
}

#[tokio::test]
async fn get_on_a_calendar_exports_it_whole() {
    let fx = fixture().await;
    let berlin = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";
    for uid in ["z1", "z2"] {
        let body = event(uid).replace("BEGIN:VEVENT", &format!("{berlin}BEGIN:VEVENT"));
        let (status, _) = send(
            &fx.srv,
            "PUT",
            &format!("/alice/work/{uid}.ics"),
            &[],
            &body,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, text) = send(&fx.srv, "GET", "/alice/work/", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//dirdav//dirdav "),
        "{text}"
    );
    assert!(text.contains("X-WR-CALNAME:Work\r\n"));
    assert_eq!(
        text.matches("BEGIN:VTIMEZONE").count(),
        1,
        "time zones merged once"
    );
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 4);
    for uid in ["a", "b", "z1", "z2"] {
        assert!(text.contains(&format!("UID:{uid}\r\n")));
    }
    assert!(text.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"));

    let response = fx
        .srv
        .request("GET", "/alice/work/")
        .user("alice")
        .send()
        .await;
    let etag = response.header("etag").unwrap().to_owned();
    assert_eq!(
        response.header("content-type"),
        Some("text/calendar; charset=utf-8")
    );
    let (status, _) = send(
        &fx.srv,
        "GET",
        "/alice/work/",
        &[("if-none-match", &etag)],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    send(&fx.srv, "DELETE", "/alice/work/a.ics", &[], "").await;
    let (status, text) = send(
        &fx.srv,
        "GET",
        "/alice/work/",
        &[("if-none-match", &etag)],
        "",
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the ETag follows the calendar's changes"
    );
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 3);
    let (status, text) = send(&fx.srv, "GET", "/alice/", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains("<!DOCTYPE html>"),
        "plain folders still list as HTML"
    );
}

#[tokio::test]
async fn calendar_query_can_expand_recurrences() {
    let fx = fixture().await;
    let weekly = event_at("weekly", "20260105T090000Z", "20260105T100000Z")
        .replace("DTEND", "RRULE:FREQ=WEEKLY;COUNT=3\r\nDTEND");
    let (status, _) = send(&fx.srv, "PUT", "/alice/work/weekly.ics", &[], &weekly).await;
    assert_eq!(status, StatusCode::CREATED);
    let body = r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><C:calendar-data><C:expand start="20260110T000000Z" end="20260201T000000Z"/></C:calendar-data></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="20260110T000000Z" end="20260201T000000Z"/></C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"#;
    let (status, xml) = send(&fx.srv, "REPORT", "/alice/work/", &[("depth", "1")], body).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(hrefs(&xml), ["/alice/work/weekly.ics"], "{xml}");
    assert!(
        xml.contains("BEGIN:VEVENT&#13;\nUID:weekly&#13;\nDTSTAMP:20260101T000000Z&#13;\nSUMMARY:weekly&#13;\nDTSTART:20260112T090000Z&#13;\nDTEND:20260112T100000Z&#13;\nRECURRENCE-ID:20260112T090000Z&#13;\nEND:VEVENT"),
        "{xml}"
    );
    assert_eq!(
        xml.matches("BEGIN:VEVENT").count(),
        2,
        "the instances of 12 and 19 January"
    );
    assert!(!xml.contains("RRULE"));
}

#[tokio::test]
async fn free_busy_query_reports_opaque_time() {
    let fx = fixture().await;
    let put = |name: &'static str, body: String| {
        let srv = &fx.srv;
        async move {
            send(srv, "PUT", &format!("/alice/work/{name}"), &[], &body)
                .await
                .0
        }
    };
    assert_eq!(
        put(
            "free.ics",
            event_at("free", "20260102T140000Z", "20260102T150000Z")
                .replace("SUMMARY", "TRANSP:TRANSPARENT\r\nSUMMARY")
        )
        .await,
        StatusCode::CREATED
    );
    assert_eq!(
        put(
            "maybe.ics",
            event_at("maybe", "20260102T160000Z", "20260102T170000Z")
                .replace("SUMMARY", "STATUS:TENTATIVE\r\nSUMMARY")
        )
        .await,
        StatusCode::CREATED
    );
    assert_eq!(
        put(
            "overlap.ics",
            event_at("overlap", "20260102T103000Z", "20260102T120000Z")
        )
        .await,
        StatusCode::CREATED
    );
    let body = r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20260102T000000Z" end="20260103T000000Z"/></C:free-busy-query>"#;
    let (status, text) = send(&fx.srv, "REPORT", "/alice/work/", &[("depth", "1")], body).await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("FREEBUSY") || l.starts_with("DTSTART") || l.starts_with("DTEND"))
        .collect();
    assert_eq!(
        lines,
        [
            "DTSTART:20260102T000000Z",
            "DTEND:20260103T000000Z",
            // a.ics and b.ics (10:00-11:00) merged with overlap.ics (10:30-12:00).
            "FREEBUSY;FBTYPE=BUSY:20260102T100000Z/20260102T120000Z",
            "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20260102T160000Z/20260102T170000Z",
        ]
    );
    let (status, _) = send(
        &fx.srv,
        "REPORT",
        "/alice/work/",
        &[("depth", "1")],
        r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#,
    )
    .await;
    assert!(status.is_client_error());
}

#[tokio::test]
async fn copy_and_move_into_a_calendar_are_checked_like_put() {
    let fx = fixture_with(|s| s.folder("alice/inbox")).await;
    send(
        &fx.srv,
        "PUT",
        "/alice/inbox/notes.txt",
        &[],
        "not a calendar",
    )
    .await;
    send(&fx.srv, "PUT", "/alice/inbox/dup.ics", &[], &event("a")).await;
    send(&fx.srv, "PUT", "/alice/inbox/new.ics", &[], &event("n")).await;
    let (status, xml) = send(
        &fx.srv,
        "COPY",
        "/alice/inbox/notes.txt",
        &[("destination", "/alice/work/notes.ics")],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A text file is not a media type a calendar takes (RFC 4791 §5.3.2.1).
    assert!(xml.contains("supported-calendar-data"), "{xml}");
    let (status, xml) = send(
        &fx.srv,
        "MOVE",
        "/alice/inbox/dup.ics",
        &[("destination", "/alice/work/dup.ics")],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(xml.contains("<d:href>/alice/work/a.ics</d:href>"), "{xml}");
    assert!(
        fx.srv.path("alice/inbox/dup.ics").exists(),
        "a refused MOVE leaves the source"
    );
    let (status, _) = send(
        &fx.srv,
        "MOVE",
        "/alice/inbox/new.ics",
        &[("destination", "/alice/work/new.ics")],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, xml) = send(
        &fx.srv,
        "MOVE",
        "/alice/work/new.ics",
        &[("destination", "/alice/work/renamed.ics")],
        "",
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a rename within the calendar is not a UID conflict with itself: {xml}"
    );
    // The moved item now has a summary: its UID is taken.
    let (status, xml) = send(&fx.srv, "PUT", "/alice/work/again.ics", &[], &event("n")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        xml.contains("<d:href>/alice/work/renamed.ics</d:href>"),
        "{xml}"
    );
}
