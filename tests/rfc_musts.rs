//! End-to-end: RFC requirements a conformance suite checks, over the socket with what
//! is on disk: a write may not change the UID of the item it replaces (RFC 4791
//! §5.3.2.1, RFC 6352 §6.3.2.1), a media type naming another format is refused even
//! when the body parses, and the DAV header names extended MKCOL (RFC 5689 §3.1).

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use support::{card, event, example_server};

const ALICE: (&str, &str) = ("alice", "wonderland");

fn put(
    srv: &support::Dirdav,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> support::Response {
    let mut r = srv.request("PUT", path).auth(ALICE.0, ALICE.1);
    if let Some(t) = content_type {
        r = r.header("Content-Type", t);
    }
    r.body(body).send()
}

#[test]
fn a_write_may_not_change_the_uid_of_the_item_it_replaces() {
    let (dir, srv) = example_server(&[]);
    let disk = |p: &str| std::fs::read_to_string(dir.path().join("example-data").join(p)).ok();
    for (folder, first, second, ns, kind) in [
        (
            "calendar",
            event("uid-one"),
            event("uid-two"),
            "urn:ietf:params:xml:ns:caldav",
            "ics",
        ),
        (
            "contacts",
            card("uid-one", "One"),
            card("uid-two", "Two"),
            "urn:ietf:params:xml:ns:carddav",
            "vcf",
        ),
    ] {
        let path = format!("/alice/{folder}/item.{kind}");
        assert_eq!(put(&srv, &path, None, &first).status, 201);
        let r = put(&srv, &path, None, &second);
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(
            r.body.contains(&format!(
                "<no-uid-conflict xmlns=\"{ns}\"><d:href>{path}</d:href></no-uid-conflict>"
            )),
            "{}",
            r.body
        );
        assert_eq!(
            disk(&format!("alice/{folder}/item.{kind}")).as_deref(),
            Some(first.as_str())
        );
        // The same UID, changed otherwise, is an update.
        let edited = first
            .replace("uid-one\r\n", "uid-one\r\nCATEGORIES:x\r\n")
            .replace("FN:One", "FN:One Again");
        assert_eq!(put(&srv, &path, None, &edited).status, 204);
        // Nor may a MOVE or COPY put an item of another UID in its place.
        let other = format!("/alice/{folder}/other.{kind}");
        assert_eq!(put(&srv, &other, None, &second).status, 201);
        for method in ["COPY", "MOVE"] {
            let r = srv
                .request(method, &other)
                .auth(ALICE.0, ALICE.1)
                .header("Destination", &path)
                .send();
            assert_eq!(r.status, 403, "{method}: {}", r.body);
            assert!(r.body.contains("no-uid-conflict"), "{}", r.body);
        }
        assert!(
            disk(&format!("alice/{folder}/item.{kind}"))
                .unwrap()
                .contains("uid-one")
        );
        assert!(disk(&format!("alice/{folder}/other.{kind}")).is_some());
    }
}

#[test]
fn a_media_type_naming_another_format_is_refused_even_when_the_body_parses() {
    let (dir, srv) = example_server(&[]);
    let exists = |p: &str| dir.path().join("example-data").join(p).exists();
    for (t, status) in [
        ("text/vcard", 403),
        ("text/xml", 403),
        ("application/json", 403),
        ("text/html", 403),
        ("text/calendar; charset=utf-8", 201),
        ("application/octet-stream", 201),
        ("text/plain", 201),
    ] {
        let name = format!("t{}.ics", t.len());
        let r = put(
            &srv,
            &format!("/alice/calendar/{name}"),
            Some(t),
            &event(&format!("typed-{}", t.len())),
        );
        assert_eq!(r.status, status, "{t}: {}", r.body);
        if status == 403 {
            assert!(r.body.contains("supported-calendar-data"), "{}", r.body);
        }
        assert_eq!(
            exists(&format!("alice/calendar/{name}")),
            status == 201,
            "{t}"
        );
    }
    let r = put(&srv, "/alice/calendar/none.ics", None, &event("typed-none"));
    assert_eq!(r.status, 201);
    for (t, status) in [
        ("text/calendar", 403),
        ("application/xml", 403),
        ("text/vcard", 201),
        ("text/x-vcard", 201),
    ] {
        let name = format!("c{}.vcf", t.len());
        let r = put(
            &srv,
            &format!("/alice/contacts/{name}"),
            Some(t),
            &card(&format!("card-{}", t.len()), "Typed"),
        );
        assert_eq!(r.status, status, "{t}: {}", r.body);
        if status == 403 {
            assert!(r.body.contains("supported-address-data"), "{}", r.body);
        }
    }
}

#[test]
fn the_dav_header_names_extended_mkcol() {
    let (_dir, srv) = example_server(&[]);
    let r = srv
        .request("OPTIONS", "/alice/")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert_eq!(r.status, 200);
    let dav = r.header("dav").unwrap();
    assert!(
        dav.split(',').any(|t| t.trim() == "extended-mkcol"),
        "{dav}"
    );
    // And it is what it says: MKCOL with a body makes a calendar.
    let r = srv
        .request("MKCOL", "/alice/made/")
        .auth(ALICE.0, ALICE.1)
        .body(r#"<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:resourcetype><D:collection/><C:calendar/></D:resourcetype></D:prop></D:set></D:mkcol>"#)
        .send();
    assert_eq!(r.status, 201, "{}", r.body);
}

/// RFC 3744 §9.3–9.5: the principal reports are defined for Depth 0 only (400
/// otherwise), a body that is not the report's is 400, and a principal search works
/// from any collection, as clients send it from a calendar.
#[test]
fn principal_reports_take_depth_0_and_their_own_bodies() {
    let (_dir, srv) = example_server(&[]);
    let report = |path: &str, depth: Option<&str>, body: &str| {
        let mut r = srv.request("REPORT", path).auth(ALICE.0, ALICE.1);
        if let Some(d) = depth {
            r = r.header("Depth", d);
        }
        r.body(body).send()
    };
    let search = r#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:prop><D:displayname/></D:prop><D:match>bo</D:match></D:property-search><D:prop><D:displayname/></D:prop></D:principal-property-search>"#;
    let set = r#"<D:principal-search-property-set xmlns:D="DAV:"/>"#;
    let matching = r#"<D:principal-match xmlns:D="DAV:"><D:self/><D:prop><D:displayname/></D:prop></D:principal-match>"#;
    for (path, body) in [("/", search), ("/alice/", set), ("/alice/", matching)] {
        for depth in [Some("1"), Some("infinity")] {
            let r = report(path, depth, body);
            assert_eq!(r.status, 400, "{body} at {depth:?}: {}", r.body);
        }
        let r = report(path, Some("0"), body);
        assert!(
            matches!(r.status, 200 | 207),
            "{body}: {} {}",
            r.status,
            r.body
        );
        let r = report(path, None, body);
        assert!(
            matches!(r.status, 200 | 207),
            "{body}: {} {}",
            r.status,
            r.body
        );
    }
    // Bodies that do not say what the report needs are 400: a property set with
    // content, a match with neither self nor principal-property, and no XML at all.
    // (A search with no property-search lists every principal, as caldav-server-tester
    // and python-caldav ask: it is answered.)
    for (path, body) in [
        (
            "/alice/",
            r#"<D:principal-search-property-set xmlns:D="DAV:"><D:prop/></D:principal-search-property-set>"#,
        ),
        (
            "/alice/",
            r#"<D:principal-match xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:principal-match>"#,
        ),
        ("/alice/", "<D:principal-match xmlns:D=\"DAV:\">"),
    ] {
        let r = report(path, Some("0"), body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
    }
    // From a calendar: bob is found.
    let r = report("/alice/calendar/", Some("0"), search);
    assert_eq!(r.status, 207, "{}", r.body);
    assert!(r.body.contains("<d:href>/bob/</d:href>"), "{}", r.body);
}

/// RFC 4791 §4.2, §5.3.2 and RFC 6352 §5.2: no calendar or address book inside a
/// calendar or an address book, at any depth, by COPY or MOVE (plain folders inside
/// them stay allowed); and a 405 always says what is allowed (RFC 7231 §6.5.5).
#[test]
fn calendars_and_address_books_do_not_nest_and_405_names_what_is_allowed() {
    let (dir, srv) = example_server(&[]);
    let on_disk = |p: &str| dir.path().join("example-data").join(p).exists();
    let send = |method: &str, path: &str, destination: &str| {
        srv.request(method, path)
            .auth(ALICE.0, ALICE.1)
            .header("Destination", destination)
            .send()
    };
    // A folder holding a calendar, to move as a whole.
    let r = srv
        .request("MKCOL", "/alice/holder/")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert_eq!(r.status, 201);
    let r = srv
        .request("MKCALENDAR", "/alice/holder/inner/")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert_eq!(r.status, 201, "{}", r.body);
    for (method, source, destination, condition) in [
        (
            "COPY",
            "/alice/calendar/",
            "/alice/contacts/cal/",
            "calendar-collection-location-ok",
        ),
        (
            "MOVE",
            "/alice/calendar/",
            "/alice/contacts/cal/",
            "calendar-collection-location-ok",
        ),
        (
            "COPY",
            "/alice/contacts/",
            "/alice/calendar/book/",
            "addressbook-collection-location-ok",
        ),
        (
            "MOVE",
            "/alice/holder/",
            "/alice/calendar/deep/",
            "calendar-collection-location-ok",
        ),
    ] {
        let r = send(method, source, destination);
        assert_eq!(
            r.status, 403,
            "{method} {source} -> {destination}: {}",
            r.body
        );
        assert!(r.body.contains(condition), "{}", r.body);
    }
    assert!(on_disk("alice/calendar/.dav.toml") && on_disk("alice/holder/inner/.dav.toml"));
    assert!(
        !on_disk("alice/contacts/cal")
            && !on_disk("alice/calendar/book")
            && !on_disk("alice/calendar/deep")
    );
    // A plain folder may go into a calendar; a calendar into a plain folder.
    let r = srv
        .request("MKCOL", "/alice/plain/")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert_eq!(r.status, 201);
    assert_eq!(
        send("COPY", "/alice/plain/", "/alice/calendar/plain/").status,
        201
    );
    assert_eq!(
        send("COPY", "/alice/calendar/", "/alice/plain/copy/").status,
        201
    );

    // MKCALENDAR where a collection exists: 405, with Allow.
    let r = srv
        .request("MKCALENDAR", "/alice/contacts/")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert_eq!(r.status, 405, "{}", r.body);
    let allow = r.header("allow").expect("a 405 names what is allowed");
    assert!(allow.contains("PROPFIND"), "{allow}");
    let r = srv
        .request("PUT", "/alice/contacts/")
        .auth(ALICE.0, ALICE.1)
        .body("x")
        .send();
    assert_eq!(r.status, 405);
    assert!(r.header("allow").is_some(), "{:?}", r.headers);
}

/// RFC 6638 §5.1 (and RFC 4791 §5.3.2.1's `supported-calendar-data`): an outbox takes
/// iCalendar; a POST that says it sends another type is 403, whatever its body.
#[test]
fn an_outbox_post_of_another_type_is_refused() {
    let (_dir, srv) = example_server(&[]);
    let lookup = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\n\
        BEGIN:VFREEBUSY\r\nUID:fb\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261101T000000Z\r\n\
        DTEND:20261201T000000Z\r\nORGANIZER:/alice/\r\nATTENDEE:/bob/\r\nEND:VFREEBUSY\r\n\
        END:VCALENDAR\r\n";
    let post = |t: Option<&str>, body: &str| {
        let mut r = srv.request("POST", "/alice/outbox/").auth(ALICE.0, ALICE.1);
        if let Some(t) = t {
            r = r.header("Content-Type", t);
        }
        r.body(body).send()
    };
    for t in ["application/xml", "text/plain", "text/vcard"] {
        for body in [lookup, "<x/>"] {
            let r = post(Some(t), body);
            assert_eq!(r.status, 403, "{t}: {}", r.body);
            assert!(r.body.contains("supported-calendar-data"), "{}", r.body);
        }
    }
    for t in [Some("text/calendar; charset=utf-8"), None] {
        let r = post(t, lookup);
        assert_eq!(r.status, 200, "{t:?}: {}", r.body);
        assert!(r.body.contains("<d:href>/bob/</d:href>"), "{}", r.body);
    }
}

/// RFC 6352 §10.5.2: a param-filter matches a repeated parameter by any of its
/// occurrences (vCard 3 writes `TYPE=internet;TYPE=work`).
#[test]
fn a_param_filter_matches_any_occurrence_of_a_repeated_parameter() {
    let (_dir, srv) = example_server(&[]);
    let vcard = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:repeat-1\r\nFN:Rita Repeat\r\nN:Repeat;Rita;;;\r\n\
        EMAIL;TYPE=internet;TYPE=work:rita@work.example\r\nEND:VCARD\r\n";
    assert_eq!(
        put(
            &srv,
            "/alice/contacts/repeat.vcf",
            Some("text/vcard"),
            vcard
        )
        .status,
        201
    );
    let query = |value: &str| {
        let body = format!(
            r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop><C:filter><C:prop-filter name="EMAIL"><C:param-filter name="TYPE"><C:text-match match-type="equals">{value}</C:text-match></C:param-filter></C:prop-filter></C:filter></C:addressbook-query>"#
        );
        let r = srv
            .request("REPORT", "/alice/contacts/")
            .auth(ALICE.0, ALICE.1)
            .header("Depth", "1")
            .body(body)
            .send();
        assert_eq!(r.status, 207, "{}", r.body);
        r.body.contains("/alice/contacts/repeat.vcf")
    };
    assert!(query("internet"), "the first occurrence");
    assert!(query("work"), "the second occurrence");
    assert!(!query("home"));
}

/// RFC 3744 §9.2: `acl-principal-prop-set` answers the named properties of every
/// principal the ACL names, for those who may read the ACL, at Depth 0.
#[test]
fn acl_principal_prop_set_names_the_principals_of_the_acl() {
    let (_dir, srv) = example_server(&[]);
    let body = r#"<D:acl-principal-prop-set xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:acl-principal-prop-set>"#;
    let report = |who: (&str, &str), depth: &str| {
        srv.request("REPORT", "/alice/calendar/")
            .auth(who.0, who.1)
            .header("Depth", depth)
            .body(body)
            .send()
    };
    // Alice's calendar: hers, and bob may read it.
    let r = report(ALICE, "0");
    assert_eq!(r.status, 207, "{}", r.body);
    for user in ["alice", "bob"] {
        assert!(
            r.body.contains(&format!(
                "<d:href>/{user}/</d:href><d:propstat><d:prop><d:displayname>"
            )),
            "{user}: {}",
            r.body
        );
    }
    assert_eq!(r.body.matches("<d:response>").count(), 2, "{}", r.body);
    assert_eq!(report(ALICE, "1").status, 400);
    // Bob may read the calendar, not its ACL.
    let r = report(("bob", "builder"), "0");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("read-acl"), "{}", r.body);
}

/// `dirdav check` reads a tree as a client's PUT would be checked, and names each
/// problem as `path:line: why`: the demo data has none (calcurse refuses an unescaped
/// comma in LOCATION, RFC 5545 §3.3.11), a tree edited by hand shows where it went wrong.
#[test]
fn dirdav_check_names_invalid_objects_with_file_and_line() {
    let check = |root: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dirdav"))
            .args(["check", "--root"])
            .arg(root)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("example-data");
    let (ok, out, err) = check(&demo);
    assert!(ok && out.is_empty(), "{out}{err}");
    fn items(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| match p.is_dir() {
                true => items(&p),
                false => usize::from(p.extension().is_some_and(|x| x == "ics" || x == "vcf")),
            })
            .sum()
    }
    let read = format!(
        "{} calendar objects and vCards read, 0 problems",
        items(&demo)
    );
    assert!(err.contains(&read), "{read}: {err}");

    let dir = tempfile::tempdir().unwrap();
    support::write_file(
        dir.path(),
        "alice/calendar/.dav.toml",
        "kind = \"calendar\"\n",
    );
    support::write_file(
        dir.path(),
        "alice/calendar/visit.ics",
        &event("visit").replace(
            "SUMMARY:visit\r\n",
            "SUMMARY:visit\r\nLOCATION:Dr. Weber, Hauptstr. 5\r\nRRULE:FREQ=WEEKLY;BYDAY=+1,3MO\r\n",
        ),
    );
    support::write_file(
        dir.path(),
        "alice/contacts/.dav.toml",
        "kind = \"addressbook\"\n",
    );
    support::write_file(
        dir.path(),
        "alice/contacts/carol.vcf",
        &card("c", "Carol").replace("UID:c\r\n", "UID:c\r\nUID:d\r\n"),
    );
    let (ok, out, _) = check(dir.path());
    assert!(!ok);
    let lines: Vec<&str> = out.lines().collect();
    let at = |p: &str| dir.path().join(p).display().to_string();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with(&format!(
            "{}:9: LOCATION holds an unescaped ','",
            at("alice/calendar/visit.ics")
        )),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "{}:10: malformed RRULE",
            at("alice/calendar/visit.ics")
        )),
        "{out}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "{}:4: a vCard has at most one UID",
            at("alice/contacts/carol.vcf")
        )),
        "{out}"
    );
}

/// RFC 5545 §3.1, §3.3.10, §3.3.11, §3.2.19, RFC 4791 §4.1 and RFC 6350's cardinalities:
/// what the parser would forgive is refused with `valid-calendar-data` /
/// `valid-address-data` (the line at fault is in the log and `dirdav check` names it),
/// and nothing reaches the disk; the same objects written correctly are taken.
#[test]
fn invalid_calendar_and_address_data_is_refused() {
    let (dir, srv) = example_server(&[]);
    let on_disk = |p: &str| dir.path().join("example-data").join(p).exists();
    let zone = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
                TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";
    let with = |lines: &str| event("bad").replace("UID:bad\r\n", &format!("UID:bad\r\n{lines}"));
    let refused = [
        ("control character", with("DESCRIPTION:ring \u{7}\r\n")),
        (
            "malformed RRULE",
            with("RRULE:FREQ=MONTHLY;BYDAY=+1,3MO\r\n"),
        ),
        (
            "escape TEXT does not have",
            with("SUMMARY:say \\\"hi\\\"\r\n"),
        ),
        (
            "names no VTIMEZONE",
            with("DTEND;TZID=Nowhere/Land:20260102T120000\r\n"),
        ),
        (
            "METHOD",
            event("bad").replace("VERSION:2.0\r\n", "VERSION:2.0\r\nMETHOD:PUBLISH\r\n"),
        ),
    ];
    for (why, body) in refused {
        srv.drain_log();
        let r = put(
            &srv,
            "/alice/calendar/bad.ics",
            Some("text/calendar"),
            &body,
        );
        assert_eq!(r.status, 403, "{why}: {}", r.body);
        assert!(r.body.contains("<valid-calendar-data"), "{why}: {}", r.body);
        assert!(!on_disk("alice/calendar/bad.ics"), "{why}");
        // The access log says why, with the line at fault.
        let log = srv.drain_log().join("\n");
        assert!(
            log.contains("status=403")
                && log.contains("why=valid-calendar-data: line ")
                && log.contains(why),
            "{why}: {log}"
        );
    }
    let good = with(
        "DESCRIPTION:tab\there\\, a comma\r\nRRULE:FREQ=MONTHLY;BYDAY=1MO,3MO\r\n\
         DTEND;TZID=Europe/Berlin:20260102T120000\r\n",
    )
    .replace("BEGIN:VEVENT", &format!("{zone}BEGIN:VEVENT"));
    let r = put(
        &srv,
        "/alice/calendar/good.ics",
        Some("text/calendar"),
        &good,
    );
    assert_eq!(r.status, 201, "{}", r.body);

    let two = |name: &str, line: &str| {
        card("c", "Carol").replace(&format!("{name}:"), &format!("{line}\r\n{name}:"))
    };
    for (why, body) in [
        ("at most one UID", two("UID", "UID:c0")),
        ("one FN", two("FN", "FN:Caroline")),
        ("control character", card("c", "Carol\u{1b}[2J")),
    ] {
        let r = put(&srv, "/alice/contacts/bad.vcf", Some("text/vcard"), &body);
        assert_eq!(r.status, 403, "{why}: {}", r.body);
        assert!(r.body.contains("<valid-address-data"), "{why}: {}", r.body);
        assert!(!on_disk("alice/contacts/bad.vcf"), "{why}");
    }
    // vCard 4.0 may name a contact once per language.
    let four = card("c4", "Carol")
        .replace("3.0", "4.0")
        .replace("FN:Carol\r\n", "FN:Carol\r\nFN;LANGUAGE=ja:キャロル\r\n");
    let r = put(&srv, "/alice/contacts/four.vcf", Some("text/vcard"), &four);
    assert_eq!(r.status, 201, "{}", r.body);

    // A free-busy request is one lookup: one VFREEBUSY (RFC 5546 §3.3.2).
    let lookup = "BEGIN:VFREEBUSY\r\nUID:fb\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261101T000000Z\r\n\
        DTEND:20261201T000000Z\r\nORGANIZER:/alice/\r\nATTENDEE:/bob/\r\nEND:VFREEBUSY\r\n";
    let post = |count: usize| {
        srv.request("POST", "/alice/outbox/")
            .auth(ALICE.0, ALICE.1)
            .header("Content-Type", "text/calendar")
            .body(format!(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\n{}END:VCALENDAR\r\n",
                lookup.repeat(count)
            ))
            .send()
    };
    let r = post(2);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("<valid-calendar-data"), "{}", r.body);
    assert_eq!(post(1).status, 200);
}

/// RFC 4791 §7.8, §9.7: a calendar-query whose filter cannot match by the grammar of
/// iCalendar (the RFC's own examples: a VEVENT inside a VTODO, a time-range on
/// SUMMARY) is refused with `valid-filter`, and a `CALDAV:timezone` that is no valid
/// VTIMEZONE with `valid-calendar-data` (§9.8, RFC 5545 §3.6.5); the filters clients
/// send are answered.
#[test]
fn a_filter_that_cannot_match_by_the_grammar_is_refused() {
    let (_dir, srv) = example_server(&[]);
    let query = |inner: &str, zone: &str| {
        srv.request("REPORT", "/alice/calendar/")
            .auth(ALICE.0, ALICE.1)
            .header("Depth", "1")
            .body(format!(
                r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR">{inner}</C:comp-filter></C:filter>{zone}</C:calendar-query>"#
            ))
            .send()
    };
    let range = r#"<C:time-range start="20260101T000000Z" end="20280101T000000Z"/>"#;
    for inner in [
        r#"<C:comp-filter name="VTODO"><C:comp-filter name="VEVENT"/></C:comp-filter>"#.to_owned(),
        r#"<C:comp-filter name="VEVENT"><C:comp-filter name="VEVENT"/></C:comp-filter>"#.to_owned(),
        format!(
            r#"<C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY">{range}</C:prop-filter></C:comp-filter>"#
        ),
    ] {
        let r = query(&inner, "");
        assert_eq!(r.status, 403, "{inner}: {}", r.body);
        assert!(r.body.contains("<valid-filter"), "{}", r.body);
    }
    for inner in [
        format!(r#"<C:comp-filter name="VEVENT">{range}</C:comp-filter>"#),
        format!(
            r#"<C:comp-filter name="VEVENT"><C:comp-filter name="VALARM">{range}</C:comp-filter></C:comp-filter>"#
        ),
        format!(
            r#"<C:comp-filter name="VEVENT"><C:prop-filter name="DTSTAMP">{range}</C:prop-filter></C:comp-filter>"#
        ),
    ] {
        let r = query(&inner, "");
        assert_eq!(r.status, 207, "{inner}: {}", r.body);
    }
    let zone = |z: &str| format!("<C:timezone>{z}</C:timezone>").replace("\r\n", "&#13;\n");
    let berlin = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n\
                  BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n\
                  END:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";
    let events = r#"<C:comp-filter name="VEVENT"/>"#;
    assert_eq!(query(events, &zone(berlin)).status, 207);
    for bad in [
        berlin.replace("TZOFFSETFROM:+0200", "TZOFFSETFROM:2"),
        berlin
            .replace("BEGIN:STANDARD", "BEGIN:X-RULE")
            .replace("END:STANDARD", "END:X-RULE"),
        berlin.replace("TZID:Europe/Berlin\r\n", ""),
    ] {
        let r = query(events, &zone(&bad));
        assert_eq!(r.status, 403, "{bad}: {}", r.body);
        assert!(r.body.contains("<valid-calendar-data"), "{}", r.body);
    }
}

/// RFC 4918 §15.4: `getcontentlength` is the Content-Length a GET gives. A collection's
/// GET (a listing, a calendar or address book export) is made from its members and
/// sent without a length (chunked; HEAD with the same headers, RFC 9110 §9.3.2), and
/// PROPFIND reports no length for it, while a file's agree byte for byte.
#[test]
fn a_collection_reports_no_length_and_its_get_sends_none() {
    let (_dir, srv) = example_server(&[]);
    let length_property = |path: &str| {
        let r = srv
            .request("PROPFIND", path)
            .auth(ALICE.0, ALICE.1)
            .header("Depth", "0")
            .body(
                r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getcontentlength/></d:prop></d:propfind>"#,
            )
            .send();
        assert_eq!(r.status, 207, "{}", r.body);
        let found = r.body.split("<d:getcontentlength>").nth(1);
        found.map(|rest| rest.split('<').next().unwrap().to_owned())
    };
    for path in ["/alice/", "/alice/calendar/", "/alice/contacts/"] {
        assert_eq!(length_property(path), None, "{path}");
        let get = srv.request("GET", path).auth(ALICE.0, ALICE.1).send();
        assert_eq!(get.status, 200, "{path}");
        assert!(!get.body.is_empty(), "{path}");
        assert_eq!(get.header("content-length"), None, "{path}");
        let head = srv.request("HEAD", path).auth(ALICE.0, ALICE.1).send();
        assert_eq!(head.status, 200, "{path}");
        assert_eq!(head.header("content-length"), None, "HEAD {path}");
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "{path}"
        );
    }
    let item = "/alice/calendar/1546fc21-51e7-a5c4-c795-5bfb110695b3.ics";
    let get = srv.request("GET", item).auth(ALICE.0, ALICE.1).send();
    assert_eq!(get.status, 200);
    let length = get.body.len().to_string();
    assert_eq!(get.header("content-length"), Some(length.as_str()));
    assert_eq!(length_property(item).as_deref(), Some(length.as_str()));
}

/// RFC 4791 §5.2.3: a calendar made without `supported-calendar-component-set` takes
/// every component type (and lists those iCalendar defines), one made with it only
/// those named, and the calendars a home is made with keep their declared sets.
#[test]
fn mkcalendar_without_a_component_set_takes_every_type() {
    // carol can sign in and has no home yet.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("example-data");
    support::copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("example-data"),
        &data,
    );
    let mut users = std::fs::read_to_string(data.join(".htpasswd")).unwrap();
    users.push_str(&format!("carol:{}\n", bcrypt::hash("carol-pw", 4).unwrap()));
    std::fs::write(data.join(".htpasswd"), users).unwrap();
    let srv = support::Dirdav::start_in(&[], dir.path());

    let item = |kind: &str, uid: &str| {
        event(uid)
            .replace("BEGIN:VEVENT", &format!("BEGIN:{kind}"))
            .replace("END:VEVENT", &format!("END:{kind}"))
    };
    let set = |path: &str| {
        srv.request("PROPFIND", path)
            .auth(ALICE.0, ALICE.1)
            .header("Depth", "0")
            .body(r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:supported-calendar-component-set/></d:prop></d:propfind>"#)
            .send()
            .body
    };
    let mk = srv
        .request("MKCALENDAR", "/alice/everything/")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert_eq!(mk.status, 201, "{}", mk.body);
    let listed = set("/alice/everything/");
    for kind in ["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VAVAILABILITY"] {
        assert!(listed.contains(&format!("name=\"{kind}\"")), "{listed}");
        let r = put(
            &srv,
            &format!("/alice/everything/{kind}.ics"),
            None,
            &item(kind, kind),
        );
        assert_eq!(r.status, 201, "{kind}: {}", r.body);
    }
    assert!(
        dir.path()
            .join("example-data/alice/everything/VFREEBUSY.ics")
            .exists()
    );

    let named = r#"<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><c:supported-calendar-component-set><c:comp name="VTODO"/></c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>"#;
    let mk = srv
        .request("MKCALENDAR", "/alice/tasks-only/")
        .auth(ALICE.0, ALICE.1)
        .body(named)
        .send();
    assert_eq!(mk.status, 201, "{}", mk.body);
    assert_eq!(
        put(&srv, "/alice/tasks-only/t.ics", None, &item("VTODO", "t")).status,
        201
    );
    let r = put(&srv, "/alice/tasks-only/e.ics", None, &event("e"));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("supported-calendar-component"),
        "{}",
        r.body
    );

    // A home made at first sign-in: its calendar keeps the set it is made with.
    let home = srv
        .request("PROPFIND", "/carol/")
        .auth("carol", "carol-pw")
        .header("Depth", "1")
        .send();
    assert_eq!(home.status, 207, "{}", home.body);
    let made = srv
        .request("PROPFIND", "/carol/calendar/")
        .auth("carol", "carol-pw")
        .header("Depth", "0")
        .body(r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:supported-calendar-component-set/></d:prop></d:propfind>"#)
        .send();
    assert!(
        made.body.contains("name=\"VEVENT\"")
            && made.body.contains("name=\"VTODO\"")
            && !made.body.contains("VJOURNAL"),
        "{}",
        made.body
    );
    let bob = srv
        .request("PROPFIND", "/bob/calendar/")
        .auth("bob", "builder")
        .header("Depth", "0")
        .body(r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:supported-calendar-component-set/></d:prop></d:propfind>"#)
        .send();
    assert!(
        bob.body.contains("name=\"VEVENT\"") && !bob.body.contains("VTODO"),
        "{}",
        bob.body
    );
}

/// RFC 5545 §3.2.19 and RFC 4791 §7.10, §9.9: an event in a zone the object defines
/// itself (Outlook's `W. Europe Standard Time`, which no time zone database names) is
/// placed by that VTIMEZONE's rules in free-busy and in queries, not taken as UTC; an
/// alarm query does not match an overridden instance that has no alarm.
#[test]
fn free_busy_follows_the_objects_own_zone_and_overrides_keep_their_alarms() {
    let (_dir, srv) = example_server(&[]);
    let office = "BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\n\
        BEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n\
        RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n\
        BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n\
        RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n";
    let meeting = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{office}BEGIN:VEVENT\r\nUID:office\r\n\
         DTSTAMP:20260101T000000Z\r\nDTSTART;TZID=W. Europe Standard Time:20270705T090000\r\n\
         DTEND;TZID=W. Europe Standard Time:20270705T100000\r\nSUMMARY:Standup\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    assert_eq!(
        put(&srv, "/alice/calendar/office.ics", None, &meeting).status,
        201
    );
    let r = srv
        .request("REPORT", "/alice/calendar/")
        .auth(ALICE.0, ALICE.1)
        .header("Depth", "1")
        .body(r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20270705T000000Z" end="20270706T000000Z"/></C:free-busy-query>"#)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    // 9:00 in July in that zone is 7:00 UTC (summer time, +0200).
    assert!(
        r.body.contains("20270705T070000Z/20270705T080000Z"),
        "{}",
        r.body
    );

    let daily = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:daily\r\n\
        DTSTAMP:20260101T000000Z\r\nDTSTART:20270105T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=5\r\n\
        BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:daily\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:20270107T090000Z\r\n\
        DTSTART:20270107T120000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(
        put(&srv, "/alice/calendar/daily.ics", None, daily).status,
        201
    );
    let alarms = |start: &str, end: &str| {
        srv.request("REPORT", "/alice/calendar/")
            .auth(ALICE.0, ALICE.1)
            .header("Depth", "1")
            .body(format!(
                r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:comp-filter name="VALARM"><C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
            ))
            .send()
            .body
    };
    assert!(alarms("20270106T084000Z", "20270106T085000Z").contains("daily.ics"));
    assert!(!alarms("20270107T084000Z", "20270107T085000Z").contains("daily.ics"));
}

/// RFC 6638 §9.1: `schedule-calendar-transp` is set by PROPPATCH (and MKCALENDAR), kept
/// in the calendar's `.dav.toml`, reported as set, and a transparent calendar's events
/// no longer make its owner busy to others; a value that is neither choice is 409.
#[test]
fn schedule_calendar_transp_is_writable() {
    let (dir, srv) = example_server(&[]);
    let settings = dir.path().join("example-data/bob/calendar/.dav.toml");
    let patch = |value: &str| {
        srv.request("PROPPATCH", "/bob/calendar/")
            .auth("bob", "builder")
            .body(format!(
                r#"<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:schedule-calendar-transp>{value}</C:schedule-calendar-transp></D:prop></D:set></D:propertyupdate>"#
            ))
            .send()
    };
    let shown = || {
        srv.request("PROPFIND", "/bob/calendar/")
            .auth("bob", "builder")
            .header("Depth", "0")
            .body(r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:schedule-calendar-transp/></D:prop></D:propfind>"#)
            .send()
            .body
    };
    let lookup = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\n\
        BEGIN:VFREEBUSY\r\nUID:fb\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20200101T000000Z\r\n\
        DTEND:20200301T000000Z\r\nORGANIZER:/alice/\r\nATTENDEE:/bob/\r\nEND:VFREEBUSY\r\n\
        END:VCALENDAR\r\n";
    let busy = |srv: &support::Dirdav| {
        let r = srv
            .request("POST", "/alice/outbox/")
            .auth(ALICE.0, ALICE.1)
            .header("Content-Type", "text/calendar")
            .body(lookup)
            .send();
        assert_eq!(r.status, 200, "{}", r.body);
        r.body.matches("FREEBUSY").count()
    };
    let bob_event = event("bob-busy").replace(
        "DTSTART:20260102T100000Z",
        "DTSTART:20200115T100000Z\r\nDURATION:PT1H",
    );
    let r = srv
        .request("PUT", "/bob/calendar/busy.ics")
        .auth("bob", "builder")
        .body(bob_event)
        .send();
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        shown().contains("<C:opaque/>") || shown().contains(":opaque/>"),
        "{}",
        shown()
    );
    let opaque = busy(&srv);

    let r = patch("<C:transparent/>");
    assert_eq!(r.status, 207, "{}", r.body);
    assert!(r.body.contains("200 OK"), "{}", r.body);
    let kept = std::fs::read_to_string(&settings).unwrap();
    assert!(
        kept.contains("schedule-calendar-transp = \"transparent\""),
        "{kept}"
    );
    assert!(shown().contains("transparent/>"), "{}", shown());
    assert!(
        busy(&srv) < opaque,
        "a transparent calendar makes bob busy no more"
    );

    for bad in [
        "<C:sometimes/>",
        "transparent",
        "<C:opaque/><C:transparent/>",
    ] {
        let r = patch(bad);
        assert_eq!(r.status, 207, "{}", r.body);
        assert!(r.body.contains("409 Conflict"), "{bad}: {}", r.body);
    }
    assert_eq!(
        std::fs::read_to_string(&settings).unwrap(),
        kept,
        "nothing written"
    );
    let r = patch("<C:opaque/>");
    assert!(r.body.contains("200 OK"), "{}", r.body);
    assert!(shown().contains("opaque/>"), "{}", shown());
    assert_eq!(busy(&srv), opaque);
}

/// A refusal's log line names why (the precondition or the privilege missing), so that
/// whoever reads the log can tell bad data from missing rights; clients see the status
/// and the condition only, as before.
#[test]
fn a_refusal_is_logged_with_its_reason() {
    let (_dir, srv) = example_server(&[]);
    srv.drain_log();
    let r = srv
        .request("PUT", "/alice/calendar/y.ics")
        .auth("bob", "builder")
        .body(event("y"))
        .send();
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(!r.body.contains("bob may not"), "{}", r.body);
    let log = srv.drain_log().join("\n");
    assert!(
        log.contains("status=403") && log.contains("why=need-privileges: bob may not PUT"),
        "{log}"
    );
    let r = srv
        .request("GET", "/alice/calendar/missing.ics")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert_eq!(r.status, 404);
    let log = srv.drain_log().join("\n");
    assert!(
        log.contains("status=404") && log.contains("why=not found"),
        "{log}"
    );
}
