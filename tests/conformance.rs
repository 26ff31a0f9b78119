//! End-to-end: CalDAV and CardDAV details an independent test suite checks, each as a
//! client sees it over the socket (the list of issue 21).

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use support::example_server;

fn text(r: &support::Response) -> &str {
    &r.body
}

/// A calendar has a description, and an address book has one, each under its own name
/// only: a calendar never reports `CARDDAV:addressbook-description`, nor a book
/// `CALDAV:calendar-description`.
#[test]
fn each_collection_reports_only_its_own_kind_of_description() {
    let (_dir, srv) = example_server(&[]);
    let ask = r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:R="urn:ietf:params:xml:ns:carddav"><D:prop><C:calendar-description/><R:addressbook-description/></D:prop></D:propfind>"#;
    let r = srv
        .request("PROPPATCH", "/alice/contacts/")
        .auth("alice", "wonderland")
        .body(r#"<D:propertyupdate xmlns:D="DAV:" xmlns:R="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><R:addressbook-description>Friends and family</R:addressbook-description></D:prop></D:set></D:propertyupdate>"#)
        .send();
    assert_eq!(r.status, 207, "{}", text(&r));
    for (path, own, other) in [
        (
            "/alice/calendar/",
            "cal:calendar-description>Appointments",
            "card:addressbook-description",
        ),
        (
            "/alice/contacts/",
            "card:addressbook-description>Friends",
            "cal:calendar-description",
        ),
    ] {
        let r = srv
            .request("PROPFIND", path)
            .auth("alice", "wonderland")
            .header("Depth", "0")
            .body(ask)
            .send();
        let xml = text(&r);
        assert!(xml.contains(own), "{path}: {xml}");
        assert!(
            !xml.contains(&format!("<{other}>")),
            "{path} reports {other}: {xml}"
        );
        assert!(
            xml.contains(&format!("<{other}/>")),
            "{other} is a 404: {xml}"
        );
    }
}

/// A home's `Allow` says that collections may be made in it (MKCOL) and does not offer
/// ACL, which every resource refuses here (the rules live in `.dav.toml`).
#[test]
fn a_homes_allow_offers_mkcol_and_not_acl() {
    let (_dir, srv) = example_server(&[]);
    let r = srv
        .request("OPTIONS", "/alice/")
        .auth("alice", "wonderland")
        .send();
    let allow = r.header("allow").unwrap_or_default().to_owned();
    let methods: Vec<&str> = allow.split(", ").collect();
    assert!(methods.contains(&"MKCOL"), "{allow}");
    assert!(methods.contains(&"MKCALENDAR"), "{allow}");
    assert!(!methods.contains(&"ACL"), "{allow}");
    let acl = srv
        .request("ACL", "/alice/")
        .auth("alice", "wonderland")
        .body(r#"<D:acl xmlns:D="DAV:"/>"#)
        .send();
    assert_eq!(acl.status, 403);
    assert!(
        acl.body.contains("no-protected-ace-conflict"),
        "{}",
        acl.body
    );
}

/// `calendar-timezone` takes an iCalendar object with one valid VTIMEZONE (RFC 4791
/// §5.2.2, RFC 5545 §3.6.5):
/// anything else is refused with `valid-calendar-data`, by PROPPATCH and by MKCALENDAR,
/// and nothing is written.
#[test]
fn calendar_timezone_must_be_one_vtimezone() {
    let (dir, srv) = example_server(&[]);
    let settings = dir.path().join("example-data/alice/calendar/.dav.toml");
    let before = std::fs::read(&settings).unwrap();
    let set = |value: &str| {
        format!(
            r#"<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:calendar-timezone>{value}</C:calendar-timezone></D:prop></D:set></D:propertyupdate>"#
        )
    };
    let zone = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";
    let no_zone = zone.replace("VTIMEZONE", "VTODO");
    // Not a valid VTIMEZONE (RFC 5545 §3.6.5): no STANDARD or DAYLIGHT, an offset that
    // is none, no TZID; nor one VTIMEZONE alone (a second, an event beside it).
    let no_rules = zone.replace(
        "BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n",
        "",
    );
    let bad_offset = zone.replace("TZOFFSETTO:+0100", "TZOFFSETTO:one hour");
    let no_tzid = zone.replace("TZID:Europe/Berlin\r\n", "");
    let body = &zone[zone.find("BEGIN:VTIMEZONE").unwrap()..zone.find("END:VCALENDAR").unwrap()];
    let two = zone.replace("END:VCALENDAR", &format!("{body}END:VCALENDAR"));
    let with_event = zone.replace(
        "END:VCALENDAR",
        "BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20260101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR",
    );
    for bad in [
        "Europe/Berlin",
        no_zone.as_str(),
        &no_rules,
        &bad_offset,
        &no_tzid,
        &two,
        &with_event,
    ] {
        let r = srv
            .request("PROPPATCH", "/alice/calendar/")
            .auth("alice", "wonderland")
            .body(set(bad))
            .send();
        assert_eq!(r.status, 207);
        assert!(r.body.contains("403 Forbidden"), "{}", r.body);
        assert!(r.body.contains("valid-calendar-data"), "{}", r.body);
        assert_eq!(std::fs::read(&settings).unwrap(), before, "nothing written");
    }
    let mk = srv
        .request("MKCALENDAR", "/alice/elsewhere/")
        .auth("alice", "wonderland")
        .body(set("Europe/Berlin").replace("D:propertyupdate", "C:mkcalendar"))
        .send();
    assert_eq!(mk.status, 403, "{}", mk.body);
    assert!(mk.body.contains("valid-calendar-data"), "{}", mk.body);
    assert!(!dir.path().join("example-data/alice/elsewhere").exists());
    let r = srv
        .request("PROPPATCH", "/alice/calendar/")
        .auth("alice", "wonderland")
        .body(set(zone))
        .send();
    assert!(
        r.body.contains("200 OK") && !r.body.contains("403"),
        "{}",
        r.body
    );
}

/// `Prefer: return=minimal` (and Apple's `Brief: t`) is honoured by REPORT and PROPPATCH
/// as by PROPFIND (RFC 8144): reports leave out the 404 propstats, a PROPPATCH that
/// succeeds in full answers 200 without a body; both say `Preference-Applied`.
#[test]
fn reports_and_proppatch_honour_prefer_minimal() {
    let (_dir, srv) = example_server(&[]);
    let listing = srv
        .request("PROPFIND", "/alice/calendar/")
        .auth("alice", "wonderland")
        .header("Depth", "1")
        .body(r#"<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>"#)
        .send();
    let item = listing
        .body
        .split("<d:href>")
        .filter_map(|s| s.split("</d:href>").next())
        .find(|h| h.ends_with(".ics"))
        .unwrap()
        .to_owned();
    let reports = [
        format!(
            r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><X:nothing xmlns:X="urn:x"/></D:prop><D:href>{item}</D:href></C:calendar-multiget>"#
        ),
        r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><X:nothing xmlns:X="urn:x"/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>"#.to_owned(),
        r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/><X:nothing xmlns:X="urn:x"/></D:prop></D:sync-collection>"#.to_owned(),
    ];
    for body in &reports {
        for (name, value) in [("Prefer", "return=minimal"), ("Brief", "t")] {
            let r = srv
                .request("REPORT", "/alice/calendar/")
                .auth("alice", "wonderland")
                .header("Depth", "1")
                .header(name, value)
                .body(body.as_str())
                .send();
            assert_eq!(r.status, 207, "{}", r.body);
            assert!(r.body.contains("<d:getetag>"), "{}", r.body);
            assert!(!r.body.contains("404 Not Found"), "{name}: {}", r.body);
            assert_eq!(r.header("preference-applied"), Some("return=minimal"));
        }
        let full = srv
            .request("REPORT", "/alice/calendar/")
            .auth("alice", "wonderland")
            .header("Depth", "1")
            .body(body.as_str())
            .send();
        assert!(full.body.contains("404 Not Found"), "{}", full.body);
    }
    let patch = |value: &str| {
        srv.request("PROPPATCH", "/alice/calendar/")
            .auth("alice", "wonderland")
            .header("Prefer", "return=minimal")
            .body(format!(
                r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>{value}</D:prop></D:set></D:propertyupdate>"#
            ))
            .send()
    };
    let ok = patch("<D:displayname>Work</D:displayname>");
    assert_eq!((ok.status, ok.body.as_str()), (200, ""));
    assert_eq!(ok.header("preference-applied"), Some("return=minimal"));
    let refused = patch("<D:getetag>\"x\"</D:getetag>");
    assert_eq!(refused.status, 207, "a failure is still told in full");
}

/// A calendar's and an address book's export (GET on the collection) carries ETag and
/// Last-Modified, and answers 304 to a client that has it, by either validator.
#[test]
fn exports_carry_validators_and_answer_304() {
    let (_dir, srv) = example_server(&[]);
    for path in ["/alice/calendar/", "/alice/contacts/"] {
        let get = |headers: &[(&str, &str)]| {
            let mut r = srv.request("GET", path).auth("alice", "wonderland");
            for (k, v) in headers {
                r = r.header(k, v);
            }
            r.send()
        };
        let full = get(&[]);
        assert_eq!(full.status, 200, "{path}");
        let etag = full.header("etag").unwrap().to_owned();
        let modified = full.header("last-modified").unwrap().to_owned();
        let by_tag = get(&[("If-None-Match", &etag)]);
        assert_eq!((by_tag.status, by_tag.body.as_str()), (304, ""), "{path}");
        let by_date = get(&[("If-Modified-Since", &modified)]);
        assert_eq!(by_date.status, 304, "{path}");
        let old = get(&[("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")]);
        assert_eq!(old.status, 200, "{path}");
        let other = get(&[
            ("If-None-Match", "\"other\""),
            ("If-Modified-Since", &modified),
        ]);
        assert_eq!(other.status, 200, "If-None-Match decides: {path}");
    }
}

/// A plain file keeps the media type it was uploaded with when that says more than its
/// name does: GET and PROPFIND give it back; an upload without one goes back to the
/// name's; one the name already gives, or `application/octet-stream`, writes nothing.
#[test]
fn a_plain_file_keeps_the_content_type_it_was_put_with() {
    let (dir, srv) = example_server(&[]);
    let settings = dir.path().join("example-data/shared/.dav.toml");
    let put = |path: &str, content_type: Option<&str>| {
        let mut r = srv
            .request("PUT", path)
            .auth("alice", "wonderland")
            .body("# Plan\n");
        if let Some(t) = content_type {
            r = r.header("Content-Type", t);
        }
        let r = r.send();
        assert!(r.status == 201 || r.status == 204, "{}", r.body);
    };
    let served = |path: &str| {
        let get = srv.request("GET", path).auth("alice", "wonderland").send();
        let find = srv
            .request("PROPFIND", path)
            .auth("alice", "wonderland")
            .header("Depth", "0")
            .body(r#"<D:propfind xmlns:D="DAV:"><D:prop><D:getcontenttype/></D:prop></D:propfind>"#)
            .send();
        (
            get.header("content-type").unwrap_or_default().to_owned(),
            find.body,
        )
    };
    put("/shared/plan", Some("text/markdown; charset=utf-8"));
    let (get, find) = served("/shared/plan");
    assert_eq!(get, "text/markdown; charset=utf-8");
    assert!(
        find.contains("<d:getcontenttype>text/markdown; charset=utf-8</d:getcontenttype>"),
        "{find}"
    );
    put("/shared/plan", None);
    assert_eq!(served("/shared/plan").0, "application/octet-stream");
    let before = std::fs::read(&settings).unwrap();
    put("/shared/list.txt", Some("text/plain"));
    put("/shared/blob", Some("application/octet-stream"));
    assert_eq!(std::fs::read(&settings).unwrap(), before, "nothing kept");
    assert_eq!(served("/shared/list.txt").0, "text/plain");
}

/// calendar-query sent to a home searches the calendars below it: with Depth 1 its
/// calendars, with Depth infinity every calendar below; the hrefs are the items' own.
#[test]
fn calendar_query_on_a_home_searches_the_calendars_below() {
    let (_dir, srv) = example_server(&[]);
    let query = r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter></C:calendar-query>"#;
    let ask = |path: &str, depth: &str| {
        srv.request("REPORT", path)
            .auth("alice", "wonderland")
            .header("Depth", depth)
            .body(query)
            .send()
    };
    let direct = ask("/alice/calendar/", "1");
    assert_eq!(direct.status, 207);
    let count = |body: &str| body.matches("<d:href>/alice/calendar/").count();
    let events = count(&direct.body);
    assert!(events > 0, "{}", direct.body);
    // A calendar one level further down is found with Depth infinity only.
    let mk = srv
        .request("MKCOL", "/alice/projects/")
        .auth("alice", "wonderland")
        .send();
    assert_eq!(mk.status, 201);
    let mk = srv
        .request("MKCALENDAR", "/alice/projects/launch/")
        .auth("alice", "wonderland")
        .send();
    assert_eq!(mk.status, 201, "{}", mk.body);
    let event = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:launch\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261201T100000Z\r\nSUMMARY:Launch\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let put = srv
        .request("PUT", "/alice/projects/launch/l.ics")
        .auth("alice", "wonderland")
        .body(event)
        .send();
    assert_eq!(put.status, 201);
    let home = ask("/alice/", "1");
    assert_eq!(home.status, 207, "{}", home.body);
    assert_eq!(count(&home.body), events, "{}", home.body);
    assert!(!home.body.contains("launch/l.ics"), "{}", home.body);
    let deep = ask("/alice/", "infinity");
    assert_eq!(count(&deep.body), events);
    assert!(
        deep.body
            .contains("<d:href>/alice/projects/launch/l.ics</d:href>"),
        "{}",
        deep.body
    );
}

/// `RECURRENCE-ID;RANGE=THISANDFUTURE` (RFC 5545 §3.8.4.4): an override that moves
/// its instance moves every later one too. A weekly meeting on Mondays 10:00 UTC is
/// moved to 15:00 from 19 January on; time-range queries, `expand` and free-busy see
/// the later instances at 15:00, with the override's summary. A second object's
/// override moves its last instance past where its rule ends, which the index must not
/// rule out.
#[test]
fn this_and_future_overrides_move_every_later_instance() {
    let (_dir, srv) = example_server(&[]);
    let weekly = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n\
BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nRRULE:FREQ=WEEKLY;COUNT=6\r\nSUMMARY:Planning\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;RANGE=THISANDFUTURE:20260119T100000Z\r\nDTSTART:20260119T150000Z\r\nDTEND:20260119T160000Z\r\nSUMMARY:Planning, afternoons\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";
    let moved_past_its_end = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n\
BEGIN:VEVENT\r\nUID:short\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T080000Z\r\nDTEND:20260105T090000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Short series\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:short\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;RANGE=THISANDFUTURE:20260112T080000Z\r\nDTSTART:20260211T080000Z\r\nDTEND:20260211T090000Z\r\nSUMMARY:Short series, later\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";
    for (name, body) in [("weekly.ics", weekly), ("short.ics", moved_past_its_end)] {
        let r = srv
            .request("PUT", &format!("/alice/calendar/{name}"))
            .auth("alice", "wonderland")
            .header("Content-Type", "text/calendar")
            .body(body)
            .send();
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let report = |body: String| {
        let r = srv
            .request("REPORT", "/alice/calendar/")
            .auth("alice", "wonderland")
            .header("Depth", "1")
            .body(body)
            .send();
        assert!(matches!(r.status, 200 | 207), "{}", r.body);
        r.body
    };
    let query = |start: &str, end: &str| {
        report(format!(
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
        ))
    };
    // The 26th's instance is at 15:00, no longer at 10:00; the 12th's still at 10:00.
    assert!(query("20260126T143000Z", "20260126T153000Z").contains("weekly.ics"));
    assert!(!query("20260126T093000Z", "20260126T103000Z").contains("weekly.ics"));
    assert!(query("20260112T093000Z", "20260112T103000Z").contains("weekly.ics"));
    // Moved four weeks and two days later than its rule's last instance (19 Jan).
    let february = query("20260218T000000Z", "20260219T000000Z");
    assert!(february.contains("short.ics"), "{february}");
    assert!(!query("20260119T000000Z", "20260120T000000Z").contains("short.ics"));

    let expanded = report(r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data><C:expand start="20260101T000000Z" end="20260201T000000Z"/></C:calendar-data></D:prop><D:href>/alice/calendar/weekly.ics</D:href></C:calendar-multiget>"#.to_owned())
        .replace("&#13;", "");
    let instance = |day: &str, hour: &str, summary: &str| {
        format!("SUMMARY:{summary}\nDTSTART:202601{day}T{hour}0000Z\nDTEND:")
    };
    for (day, hour, summary) in [
        ("05", "10", "Planning"),
        ("12", "10", "Planning"),
        ("19", "15", "Planning, afternoons"),
        ("26", "15", "Planning, afternoons"),
    ] {
        assert!(
            expanded.contains(&instance(day, hour, summary)),
            "{day} at {hour}: {expanded}"
        );
    }
    assert!(
        expanded.contains("RECURRENCE-ID:20260126T100000Z"),
        "{expanded}"
    );
    assert!(!expanded.contains("DTSTART:20260126T100000Z"), "{expanded}");

    let busy = report(r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20260126T000000Z" end="20260127T000000Z"/></C:free-busy-query>"#.to_owned());
    assert!(
        busy.contains("FREEBUSY;FBTYPE=BUSY:20260126T150000Z/20260126T160000Z"),
        "{busy}"
    );
    assert!(!busy.contains("20260126T100000Z"), "{busy}");
}

/// `xml:lang` stays with a value (RFC 4918 §4.3), for the properties kept as settings
/// (`displayname`, `calendar-description`) as for dead ones: set on the property or
/// inherited from `propertyupdate`, given back by PROPFIND, dropped when a value comes
/// without one. The languages are kept in the folder's `[lang]` table.
#[test]
fn xml_lang_stays_with_stored_properties() {
    let (dir, srv) = example_server(&[]);
    let patch = |body: &str| {
        let r = srv
            .request("PROPPATCH", "/alice/calendar/")
            .auth("alice", "wonderland")
            .body(body.to_owned())
            .send();
        assert_eq!(r.status, 207, "{}", r.body);
        assert!(!r.body.contains("HTTP/1.1 4"), "{}", r.body);
    };
    let props = || {
        srv.request("PROPFIND", "/alice/calendar/")
            .auth("alice", "wonderland")
            .header("Depth", "0")
            .body(r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:displayname/><C:calendar-description/></D:prop></D:propfind>"#)
            .send()
            .body
    };
    patch(
        r#"<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xml:lang="de"><D:set><D:prop><D:displayname>Termine</D:displayname><C:calendar-description xml:lang="fr">Rendez-vous</C:calendar-description></D:prop></D:set></D:propertyupdate>"#,
    );
    let seen = props();
    assert!(
        seen.contains(r#"<d:displayname xml:lang="de">Termine</d:displayname>"#),
        "{seen}"
    );
    assert!(
        seen.contains(
            r#"<cal:calendar-description xml:lang="fr">Rendez-vous</cal:calendar-description>"#
        ),
        "{seen}"
    );
    let settings =
        std::fs::read_to_string(dir.path().join("example-data/alice/calendar/.dav.toml")).unwrap();
    assert!(settings.contains("[lang]"), "{settings}");

    patch(
        r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>Appointments</D:displayname></D:prop></D:set></D:propertyupdate>"#,
    );
    let seen = props();
    assert!(
        seen.contains("<d:displayname>Appointments</d:displayname>"),
        "{seen}"
    );
    assert!(seen.contains(r#"xml:lang="fr""#), "{seen}");

    // MKCALENDAR keeps it too.
    let r = srv
        .request("MKCALENDAR", "/alice/travel/")
        .auth("alice", "wonderland")
        .body(r#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname xml:lang="it">Viaggi</D:displayname></D:prop></D:set></C:mkcalendar>"#)
        .send();
    assert_eq!(r.status, 201, "{}", r.body);
    let r = srv
        .request("PROPFIND", "/alice/travel/")
        .auth("alice", "wonderland")
        .header("Depth", "0")
        .body(r#"<D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:propfind>"#)
        .send();
    assert!(
        r.body
            .contains(r#"<d:displayname xml:lang="it">Viaggi</d:displayname>"#),
        "{}",
        r.body
    );
}
