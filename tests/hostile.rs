//! Requests and files made to take the server down: each test shows the server still
//! answering, start-up completing on a tree that holds the bad files, and nothing on
//! disk lost.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{Dirdav, event};

/// A tree with a calendar `cal/` and an address book `book/`, and its state folder.
fn tree() -> (tempfile::TempDir, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    for (name, kind) in [("cal", "calendar"), ("book", "addressbook")] {
        std::fs::create_dir(root.path().join(name)).unwrap();
        std::fs::write(
            root.path().join(name).join(".dav.toml"),
            format!("kind = \"{kind}\"\n"),
        )
        .unwrap();
    }
    (root, state)
}

/// The server on `root` with its state in `state`, and these further arguments.
fn serve(root: &Path, state: &Path, extra: &[&str]) -> Dirdav {
    let mut args = vec![
        "--root",
        root.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Dirdav::start(&args)
}

/// Components nested `depth` deep inside a calendar object or a card.
fn nested(outer: &str, depth: usize) -> String {
    let (open, close) = ("BEGIN:X-DEEP\r\n", "END:X-DEEP\r\n");
    outer.replacen(
        "END:",
        &format!("{}{}END:", open.repeat(depth), close.repeat(depth)),
        1,
    )
}

const CARD: &str =
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:Carol\r\nN:;Carol;;;\r\nEND:VCARD\r\n";

fn query(srv: &Dirdav, path: &str, extra: &str) -> support::Response {
    let body = format!(
        r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20260101T000000Z" end="20260201T000000Z"/></C:comp-filter></C:comp-filter></C:filter>{extra}</C:calendar-query>"#
    );
    srv.request("REPORT", path)
        .header("Depth", "1")
        .body(body)
        .send()
}

#[test]
fn deeply_nested_components_are_refused_and_never_stop_the_server() {
    let (root, state) = tree();
    // Files that were in the tree before the server started.
    let deep_event = nested(&event("deep"), 50_000);
    let deep_card = nested(CARD, 50_000);
    std::fs::write(root.path().join("cal/deep.ics"), &deep_event).unwrap();
    std::fs::write(root.path().join("book/deep.vcf"), &deep_card).unwrap();
    std::fs::write(root.path().join("cal/good.ics"), event("good")).unwrap();
    let srv = serve(root.path(), state.path(), &[]);

    // As a PUT: refused with the precondition, nothing written.
    let put = srv
        .request("PUT", "/cal/new.ics")
        .body(deep_event.clone())
        .send();
    assert_eq!(put.status, 403, "{}", put.body);
    assert!(put.body.contains("valid-calendar-data"), "{}", put.body);
    let put = srv.request("PUT", "/book/new.vcf").body(deep_card).send();
    assert_eq!(put.status, 403, "{}", put.body);
    assert!(put.body.contains("valid-address-data"), "{}", put.body);
    assert!(!root.path().join("cal/new.ics").exists());
    assert!(!root.path().join("book/new.vcf").exists());

    // As a query's time zone: refused.
    let zone = format!(
        "<C:timezone>{}</C:timezone>",
        nested(
            "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n",
            20_000
        )
    );
    let refused = query(&srv, "/cal/", &zone);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("valid-calendar-data"),
        "{}",
        refused.body
    );

    // As a calendar's stored zone (PROPPATCH): queries still answer.
    let proppatch = format!(
        r#"<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:calendar-timezone>{}</C:calendar-timezone></D:prop></D:set></D:propertyupdate>"#,
        nested(
            "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:X\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n",
            5_000
        )
    );
    let patched = srv.request("PROPPATCH", "/cal/").body(proppatch).send();
    assert!(patched.status < 500, "{}", patched.body);

    // The files already in the tree are served as they are, and queries over them
    // answer with the good item.
    let found = query(&srv, "/cal/", "");
    assert_eq!(found.status, 207, "{}", found.body);
    assert!(found.body.contains("good.ics"), "{}", found.body);
    assert!(!found.body.contains("deep.ics"), "{}", found.body);
    let get = srv.request("GET", "/cal/deep.ics").send();
    assert_eq!(get.status, 200);
    assert_eq!(get.body.len(), deep_event.len());
    let cards = srv
        .request("REPORT", "/book/")
        .header("Depth", "1")
        .body(r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop><C:filter><C:prop-filter name="FN"><C:text-match>Carol</C:text-match></C:prop-filter></C:filter></C:addressbook-query>"#)
        .send();
    assert!(cards.status == 207, "{}", cards.body);

    // The process is alive after all of it, and a restart indexes the tree again.
    assert_eq!(srv.request("GET", "/cal/good.ics").send().status, 200);
    assert!(srv.terminate().success());
    std::fs::remove_dir_all(state.path()).unwrap();
    let srv = serve(root.path(), state.path(), &[]);
    assert_eq!(srv.request("GET", "/cal/good.ics").send().status, 200);
    assert_eq!(
        std::fs::read_to_string(root.path().join("cal/deep.ics")).unwrap(),
        deep_event
    );
}

#[test]
fn recurrences_that_cannot_be_walked_cost_a_bounded_time() {
    let (root, state) = tree();
    let rule = |uid: &str, start: &str, rule: &str| {
        event(uid).replace(
            "DTSTART:20260102T100000Z",
            &format!("DTSTART:{start}\r\nDURATION:PT1S\r\nRRULE:{rule}"),
        )
    };
    // In the tree before start-up: every second from year 1, daily from year 1, and a
    // rule whose parts never match.
    let files = [
        (
            "secondly.ics",
            rule("s", "00010101T000000Z", "FREQ=SECONDLY"),
        ),
        ("daily.ics", rule("d", "00010101T000000Z", "FREQ=DAILY")),
        (
            "never.ics",
            rule(
                "n",
                "20260101T000000Z",
                "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30",
            ),
        ),
        ("good.ics", event("good")),
    ];
    for (name, body) in &files {
        std::fs::write(root.path().join("cal").join(name), body).unwrap();
    }
    let started = Instant::now();
    let srv = serve(root.path(), state.path(), &[]);
    assert!(started.elapsed() < Duration::from_secs(30), "start-up");

    // Two such queries at once, and another client answered meanwhile.
    let queries: Vec<_> = (0..2)
        .map(|_| {
            let port = srv.port;
            std::thread::spawn(move || {
                let started = Instant::now();
                let response = support::Request::to(port, "REPORT", "/cal/")
                    .header("Depth", "1")
                    .body(r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data><C:expand start="20260101T000000Z" end="20260101T000010Z"/></C:calendar-data></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20260101T000000Z" end="20260201T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#)
                    .send();
                (response, started.elapsed())
            })
        })
        .collect();
    let other = Instant::now();
    let listing = srv.request("PROPFIND", "/cal/").header("Depth", "1").send();
    assert_eq!(listing.status, 207);
    assert!(
        other.elapsed() < Duration::from_secs(2),
        "{:?}",
        other.elapsed()
    );
    for q in queries {
        let (response, took) = q.join().unwrap();
        assert_eq!(response.status, 207, "{}", response.body);
        assert!(took < Duration::from_secs(20), "{took:?}");
        // The rules that cannot be walked are taken as recurring from their start: a
        // client gets them and decides; the one that never occurs is not among them.
        assert!(response.body.contains("good.ics"), "{}", response.body);
        assert!(response.body.contains("secondly.ics"), "{}", response.body);
        assert!(!response.body.contains("never.ics"), "{}", response.body);
    }

    // Such a rule is not taken by PUT, with the limit the calendar advertises.
    let put = srv
        .request("PUT", "/cal/new.ics")
        .body(rule("x", "20260101T000000Z", "FREQ=SECONDLY"))
        .send();
    assert_eq!(put.status, 403, "{}", put.body);
    assert!(put.body.contains("max-instances"), "{}", put.body);
    assert!(!root.path().join("cal/new.ics").exists());

    // SIGTERM ends it promptly.
    let stopping = Instant::now();
    assert!(srv.terminate().success());
    assert!(stopping.elapsed() < Duration::from_secs(10));
    for (name, body) in &files {
        assert_eq!(
            &std::fs::read_to_string(root.path().join("cal").join(name)).unwrap(),
            body
        );
    }
}

#[test]
fn an_answer_given_before_the_body_is_read_says_the_connection_closes() {
    use std::io::{Read, Write};
    let (root, state) = tree();
    std::fs::write(root.path().join("cal/a.ics"), event("a")).unwrap();
    let srv = serve(root.path(), state.path(), &[]);
    let body = event("b").replace("SUMMARY:b", &format!("SUMMARY:{}", "b".repeat(300_000)));
    // A refused PUT of 300 KB on a kept-alive connection, as python-caldav sends it.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    let head = format!(
        "PUT /cal/a.ics HTTP/1.1\r\nHost: x\r\nIf-Match: \"nope\"\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(body.as_bytes());
    let response = support::read_response(&mut stream);
    assert_eq!(response.status, 412);
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(
        std::fs::read_to_string(root.path().join("cal/a.ics")).unwrap(),
        event("a")
    );
    // A PUT whose body was read keeps the connection for the next request.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let put = format!(
        "PUT /cal/b.ics HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(put.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1);
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    stream
        .write_all(b"GET /cal/b.ics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let response = support::read_response(&mut stream);
    assert_eq!(response.status, 200);
    assert_eq!(response.body, body);
}

#[test]
fn one_address_cannot_hold_every_connection() {
    let (root, state) = tree();
    std::fs::write(root.path().join("cal/a.ics"), event("a")).unwrap();
    // 127.0.0.1 is not a trusted proxy here, so it is limited like any client.
    let srv = serve(
        root.path(),
        state.path(),
        &[
            "--max-connections-per-address",
            "4",
            "--trusted-proxy",
            "10.9.9.9",
        ],
    );
    let attacker = std::net::Ipv4Addr::new(127, 0, 0, 1);
    // Four silent connections are held; the fifth is closed at once.
    let held: Vec<_> = (0..4)
        .map(|_| support::connect_from(attacker, srv.port))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut fifth = support::connect_from(attacker, srv.port);
    assert!(
        support::closed_by_server(&mut fifth),
        "the fifth connection was kept"
    );
    // Another address is answered meanwhile.
    let mut other = support::connect_from(std::net::Ipv4Addr::new(127, 0, 0, 2), srv.port);
    std::io::Write::write_all(
        &mut other,
        b"GET /cal/a.ics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(support::read_response(&mut other).status, 200);
    // Once the silent ones are gone, the address is served again.
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(srv.request("GET", "/cal/a.ics").send().status, 200);
    assert!(
        srv.drain_log()
            .iter()
            .any(|l| l.contains("closing new ones")),
        "the limit is logged"
    );
}

/// Parses an answer as strict XML 1.0, failing the test when it is not well-formed.
fn well_formed(response: &support::Response) {
    assert_eq!(response.status, 207, "{}", response.body);
    if let Err(e) = dirdav_xml::parse(response.body.as_bytes(), &dirdav_xml::Limits::default()) {
        panic!("ill-formed answer ({e}):\n{}", response.body);
    }
}

#[test]
fn control_characters_never_make_an_answer_ill_formed() {
    let (root, state) = tree();
    // Items holding controls XML cannot carry, as they may arrive from other programs.
    let bell = event("bell").replace("SUMMARY:bell", "SUMMARY:ring\u{7}ring\u{1}\u{b}");
    std::fs::write(root.path().join("cal/bell.ics"), &bell).unwrap();
    std::fs::write(root.path().join("cal/good.ics"), event("good")).unwrap();
    let card = CARD.replace("FN:Carol", "FN:Car\u{1b}ol");
    std::fs::write(root.path().join("book/carol.vcf"), &card).unwrap();
    std::fs::write(
        root.path().join("book/.dav.toml"),
        "kind = \"addressbook\"\ndisplayname = \"Con\\u0001tacts\"\n",
    )
    .unwrap();
    let srv = serve(root.path(), state.path(), &[]);

    // PROPPATCH cannot store them, raw or as references: 400, nothing changed.
    let settings = std::fs::read(root.path().join("cal/.dav.toml")).unwrap();
    for value in ["a&#1;b", "a\u{1}b", "a\u{ffff}b"] {
        let patch = format!(
            r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>{value}</D:displayname><X:note xmlns:X="urn:x">{value}</X:note></D:prop></D:set></D:propertyupdate>"#
        );
        let refused = srv.request("PROPPATCH", "/cal/").body(patch).send();
        assert_eq!(refused.status, 400, "{value:?}: {}", refused.body);
    }
    assert_eq!(
        std::fs::read(root.path().join("cal/.dav.toml")).unwrap(),
        settings
    );

    // Every answer that carries them is well-formed XML, with U+FFFD in their place.
    let data = r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>"#;
    let query = srv
        .request("REPORT", "/cal/")
        .header("Depth", "1")
        .body(data)
        .send();
    well_formed(&query);
    assert!(query.body.contains("good.ics"));
    assert!(
        query.body.contains("ring\u{fffd}ring\u{fffd}\u{fffd}"),
        "{}",
        query.body
    );
    let multiget = srv
        .request("REPORT", "/cal/")
        .body(r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop><D:href>/cal/bell.ics</D:href><D:href>/cal/good.ics</D:href></C:calendar-multiget>"#)
        .send();
    well_formed(&multiget);
    let cards = srv
        .request("REPORT", "/book/")
        .header("Depth", "1")
        .body(r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop><C:filter><C:prop-filter name="FN"/></C:filter></C:addressbook-query>"#)
        .send();
    well_formed(&cards);
    assert!(cards.body.contains("Car\u{fffd}ol"), "{}", cards.body);
    let listing = srv
        .request("PROPFIND", "/")
        .header("Depth", "1")
        .body(r#"<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#)
        .send();
    well_formed(&listing);
    assert!(
        listing.body.contains("Con\u{fffd}tacts"),
        "{}",
        listing.body
    );
    // GET gives the bytes as stored.
    assert_eq!(srv.request("GET", "/cal/bell.ics").send().body, bell);
}

#[test]
fn property_values_and_settings_files_are_bounded() {
    let (root, state) = tree();
    let srv = serve(
        root.path(),
        state.path(),
        &["--max-property-size", "4K", "--max-settings-size", "20K"],
    );
    let patch = |name: &str, size: usize| {
        let body = format!(
            r#"<D:propertyupdate xmlns:D="DAV:" xmlns:X="urn:x"><D:set><D:prop><X:{name}>{}</X:{name}></D:prop></D:set></D:propertyupdate>"#,
            "v".repeat(size)
        );
        srv.request("PROPPATCH", "/cal/").body(body).send()
    };
    // One value past the bound: 507 for it, nothing stored.
    let settings = root.path().join("cal/.dav.toml");
    let before = std::fs::read(&settings).unwrap();
    let big = patch("big", 8_000);
    assert_eq!(big.status, 207, "{}", big.body);
    assert!(
        big.body.contains("507 Insufficient Storage"),
        "{}",
        big.body
    );
    assert_eq!(std::fs::read(&settings).unwrap(), before);
    // Values within it, until the file would grow past its bound.
    let mut stored = 0;
    for i in 0..12 {
        let r = patch(&format!("p{i}"), 3_000);
        match r.status {
            207 => {
                assert!(r.body.contains("200 OK"), "{}", r.body);
                stored += 1;
            }
            507 => break,
            other => panic!("{other}: {}", r.body),
        }
    }
    assert!((4..12).contains(&stored), "{stored} values stored");
    let size = std::fs::metadata(&settings).unwrap().len();
    assert!(size <= 20 * 1024, "{size} bytes");
    // What was stored is intact and served.
    let found = srv
        .request("PROPFIND", "/cal/")
        .header("Depth", "0")
        .body(r#"<D:propfind xmlns:D="DAV:" xmlns:X="urn:x"><D:prop><X:p0/></D:prop></D:propfind>"#)
        .send();
    assert_eq!(found.status, 207);
    assert!(found.body.contains(&"v".repeat(3_000)), "{}", found.body);
    // Removing still works once the file is full.
    let remove = srv
        .request("PROPPATCH", "/cal/")
        .body(r#"<D:propertyupdate xmlns:D="DAV:" xmlns:X="urn:x"><D:remove><D:prop><X:p0/></D:prop></D:remove></D:propertyupdate>"#)
        .send();
    assert_eq!(remove.status, 207, "{}", remove.body);
    assert!(std::fs::metadata(&settings).unwrap().len() < size);
}

#[test]
fn links_swapped_in_after_indexing_are_not_followed() {
    let (root, state) = tree();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("a.txt"), "outside").unwrap();
    std::fs::create_dir(root.path().join("docs")).unwrap();
    std::fs::write(root.path().join("docs/a.txt"), "inside").unwrap();
    std::fs::write(root.path().join("cal/a.ics"), event("a")).unwrap();
    // Unwatched, so the index keeps believing what it saw at start-up.
    let srv = serve(root.path(), state.path(), &["--watch", "off"]);
    assert_eq!(srv.request("GET", "/docs/a.txt").send().body, "inside");
    // A local user swaps the folder for a link out of the tree, and an item for a link.
    std::fs::rename(root.path().join("docs"), root.path().join("docs.old")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("docs")).unwrap();
    std::fs::remove_file(root.path().join("cal/a.ics")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("a.txt"), root.path().join("cal/a.ics"))
        .unwrap();
    for path in ["/docs/a.txt", "/cal/a.ics"] {
        let get = srv.request("GET", path).send();
        assert_eq!(get.status, 404, "{path}: {}", get.body);
        assert!(!get.body.contains("outside"));
    }
    let report = srv
        .request("REPORT", "/cal/")
        .body(r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop><D:href>/cal/a.ics</D:href></C:calendar-multiget>"#)
        .send();
    assert!(!report.body.contains("outside"), "{}", report.body);
    let put = srv.request("PUT", "/docs/new.txt").body("x").send();
    assert!(put.status == 409 || put.status == 404, "{}", put.status);
    let put = srv.request("PUT", "/docs/a.txt").body("x").send();
    assert!(put.status == 409 || put.status == 404, "{}", put.status);
    // Copying or moving out of the swapped folder brings nothing from outside in.
    for method in ["COPY", "MOVE"] {
        let copy = srv
            .request(method, "/docs/a.txt")
            .header("Destination", "/cal/leak.txt")
            .send();
        assert_eq!(copy.status, 404, "{method}: {}", copy.body);
    }
    let copy = srv
        .request("COPY", "/docs/")
        .header("Destination", "/copied/")
        .send();
    assert_eq!(copy.status, 404, "{}", copy.body);
    assert!(!root.path().join("cal/leak.txt").exists());
    assert!(!root.path().join("copied").exists());
    // Deleting through the swapped folder, or the link itself, leaves what it names.
    let delete = srv.request("DELETE", "/docs/a.txt").send();
    assert_eq!(delete.status, 404, "{}", delete.body);
    let delete = srv.request("DELETE", "/docs/").send();
    assert!(delete.status < 500, "{}", delete.body);
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        1,
        "nothing written or deleted outside"
    );
    assert_eq!(
        std::fs::read_to_string(outside.path().join("a.txt")).unwrap(),
        "outside"
    );
    assert_eq!(srv.request("GET", "/").send().status, 200);
}

#[test]
fn a_get_racing_puts_sends_the_etag_of_the_bytes_it_sends() {
    let (root, state) = tree();
    std::fs::create_dir(root.path().join("docs")).unwrap();
    std::fs::write(root.path().join("docs/f.txt"), "start").unwrap();
    let srv = serve(root.path(), state.path(), &[]);
    let port = srv.port;
    let writer = std::thread::spawn(move || {
        for i in 0..300 {
            // Versions of different lengths and of equal length.
            let body = format!("{}{}", "x".repeat(i % 3 * 1000), i);
            let r = support::Request::to(port, "PUT", "/docs/f.txt")
                .body(body)
                .send();
            assert!(r.status == 204 || r.status == 201, "{}", r.status);
        }
    });
    let mut checked = 0;
    while !writer.is_finished() {
        let get = srv.request("GET", "/docs/f.txt").send();
        assert_eq!(get.status, 200);
        let hash = blake3::hash(get.body.as_bytes()).to_hex();
        let expected = format!("\"{}\"", &hash[..32]);
        assert_eq!(
            get.header("etag"),
            Some(expected.as_str()),
            "the ETag is not that of the {} bytes sent",
            get.body.len()
        );
        assert_eq!(
            get.header("content-length"),
            Some(get.body.len().to_string().as_str())
        );
        checked += 1;
    }
    writer.join().unwrap();
    assert!(checked > 20, "{checked} reads");
}

#[test]
fn deleting_a_folder_while_uploads_go_into_it_leaves_tree_and_index_in_agreement() {
    let (root, state) = tree();
    for round in 0..3 {
        let folder = format!("docs{round}");
        std::fs::create_dir(root.path().join(&folder)).unwrap();
        for i in 0..300 {
            std::fs::write(root.path().join(format!("{folder}/{i}.txt")), "x").unwrap();
        }
    }
    let srv = serve(root.path(), state.path(), &[]);
    for round in 0..3 {
        let folder = format!("docs{round}");
        let port = srv.port;
        let uploads: Vec<_> = (0..4)
            .map(|t| {
                let folder = folder.clone();
                std::thread::spawn(move || {
                    let mut statuses = Vec::new();
                    for i in 0..25 {
                        let r = support::Request::to(
                            port,
                            "PUT",
                            &format!("/{folder}/new-{t}-{i}.txt"),
                        )
                        .body("y".repeat(200_000))
                        .send();
                        statuses.push(r.status);
                    }
                    statuses
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        let delete = srv
            .request("DELETE", &format!("/{folder}/"))
            .header("Depth", "infinity")
            .send();
        assert_eq!(delete.status, 204, "{}", delete.body);
        for u in uploads {
            for status in u.join().unwrap() {
                assert!(
                    [201, 409].contains(&status),
                    "an upload racing the DELETE got {status}"
                );
            }
        }
        // What clients see and what is on disk agree: the folder is gone, or (if an
        // upload came after the DELETE... it cannot: its parent is gone) nothing half.
        let listing = srv.request("PROPFIND", "/").header("Depth", "1").send();
        assert!(
            !listing.body.contains(&format!("/{folder}/")),
            "{}",
            listing.body
        );
        assert!(!root.path().join(&folder).exists());
        assert_eq!(
            srv.request("GET", &format!("/{folder}/1.txt"))
                .send()
                .status,
            404
        );
    }
    // Only hidden leftovers may remain beside them, and a restart sweeps those.
    assert!(srv.terminate().success());
    let srv = serve(root.path(), state.path(), &[]);
    let left: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".dirdav-tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(srv.request("GET", "/").send().status, 200);
}

/// Slow senders from many addresses, together holding every connection the server
/// allows, do not keep a client with a complete request waiting: the connection that
/// has waited longest without a request makes room.
#[test]
fn slow_senders_from_many_addresses_cannot_starve_a_complete_request() {
    let (root, state) = tree();
    std::fs::write(root.path().join("cal/a.ics"), event("a")).unwrap();
    let srv = serve(
        root.path(),
        state.path(),
        &[
            "--max-connections",
            "20",
            "--max-connections-per-address",
            "6",
            "--idle-timeout",
            "30",
        ],
    );
    // Ten addresses, up to six sockets each, each sending a byte of headers now and
    // then: the server holds 20 of them at most.
    let mut slow = Vec::new();
    for a in 2..12 {
        for _ in 0..6 {
            let mut s = support::connect_from(std::net::Ipv4Addr::new(127, 0, 0, a), srv.port);
            let _ = std::io::Write::write_all(&mut s, b"GET /cal/a.ics HTTP/1.1\r\nHost: x\r\n");
            slow.push(s);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    // An eleventh address with a whole request is answered at once, several times.
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let mut client = support::connect_from(std::net::Ipv4Addr::new(127, 0, 0, 20), srv.port);
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        std::io::Write::write_all(
            &mut client,
            b"GET /cal/a.ics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        assert_eq!(support::read_response(&mut client).status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "answered after {:?}",
            started.elapsed()
        );
        // The slow ones keep coming back.
        for s in slow.iter_mut().take(10) {
            let _ = std::io::Write::write_all(s, b"X");
        }
    }
    // A request under way is never closed to make room: a long upload finishes while
    // new connections keep arriving.
    let mut upload = support::connect_from(std::net::Ipv4Addr::new(127, 0, 0, 21), srv.port);
    let body = event("b");
    std::io::Write::write_all(
        &mut upload,
        format!(
            "PUT /cal/b.ics HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    std::io::Write::write_all(&mut upload, &body.as_bytes()[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let newcomers: Vec<_> = (0..30)
        .map(|i| support::connect_from(std::net::Ipv4Addr::new(127, 0, 1, i), srv.port))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    std::io::Write::write_all(&mut upload, &body.as_bytes()[10..]).unwrap();
    assert_eq!(support::read_response(&mut upload).status, 201);
    drop((slow, newcomers));
}
