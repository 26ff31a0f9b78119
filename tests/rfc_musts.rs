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
