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
