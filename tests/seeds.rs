//! The command-line session of seed `002_4b39593ae850a034.txt`, against the real binary:
//! a user whose name is an e-mail address finds the services through `/.well-known`,
//! lists calendars and address books with PROPFIND (without a body, and Depth
//! infinity), then fetches a card. dirdav's URLs replace the seed server's
//! (`/calendars/<user>/` there, the user's home `/<user>/` here).

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use support::Dirdav;

const USER: &str = "demo@example.com";

#[test]
fn the_curl_session_of_seed_002() {
    let root = tempfile::tempdir().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let htpasswd = secrets.path().join("users");
    std::fs::write(
        &htpasswd,
        format!("{USER}:{}\n", bcrypt::hash("ThePassword", 4).unwrap()),
    )
    .unwrap();
    let srv = Dirdav::start(&[
        "--root",
        root.path().to_str().unwrap(),
        "--htpasswd",
        htpasswd.to_str().unwrap(),
    ]);

    // The well-known URLs redirect to where the services are.
    for service in ["caldav", "carddav"] {
        let r = srv
            .request("GET", &format!("/.well-known/{service}"))
            .send();
        assert_eq!(r.status, 301, "{service}");
        assert_eq!(
            r.header("location"),
            Some(format!("http://127.0.0.1:{}/", srv.port).as_str())
        );
    }

    // "Ensuring service": PROPFIND without a body (allprop) on the context path.
    let r = srv
        .request("PROPFIND", "/")
        .auth(USER, "ThePassword")
        .header("Content-Type", "application/xml")
        .send();
    assert_eq!(r.status, 207);
    assert!(r.header("dav").unwrap().contains("calendar-access"));
    assert!(
        r.body.contains("<d:href>/demo@example.com/</d:href>"),
        "the home was created at the first request: {}",
        r.body
    );

    // The user's calendars, Depth infinity, with the seed's body.
    let body = r#"<d:propfind xmlns:d="DAV:" xmlns:cs="https://calendarserver.org/ns/"><d:prop><d:resourcetype /><d:displayname /></d:prop></d:propfind>"#;
    let r = srv
        .request("PROPFIND", "/demo@example.com/")
        .auth(USER, "ThePassword")
        .header("Content-Type", "application/xml")
        .header("Depth", "infinity")
        .body(body)
        .send();
    assert_eq!(r.status, 207);
    assert!(r.body.contains(
        "<d:href>/demo@example.com/calendar/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cal:calendar/></d:resourcetype><d:displayname>Personal</d:displayname>"
    ), "{}", r.body);
    assert!(r.body.contains(
        "<d:href>/demo@example.com/contacts/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype><d:displayname>Contacts</d:displayname>"
    ));
    // The seed's server keeps the calendar home apart from the principal, and its home
    // has no display name; here the home is the principal, named as principal search
    // finds it (the configured name, else the user name).
    assert!(r.body.contains("<d:href>/demo@example.com/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype><d:displayname>demo@example.com</d:displayname></d:prop><d:status>HTTP/1.1 200 OK</d:status>"), "{}", r.body);

    // A card, then the address book listing (allprop, Depth infinity) and the card itself.
    let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:49e6be92-e235-4372-91cd-145673caed4f\r\nFN:Jane Citizen\r\nN:Citizen;Jane;;;\r\nEMAIL:jane@example.com\r\nEND:VCARD\r\n";
    let href = "/demo@example.com/contacts/49e6be92-e235-4372-91cd-145673caed4f.vcf";
    assert_eq!(
        srv.request("PUT", href)
            .auth(USER, "ThePassword")
            .body(card)
            .send()
            .status,
        201
    );
    let r = srv
        .request("PROPFIND", "/demo@example.com/contacts/")
        .auth(USER, "ThePassword")
        .send();
    assert_eq!(r.status, 207);
    assert!(
        r.body
            .contains(&format!("<d:href>{href}</d:href><d:propstat><d:prop>")),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<d:getcontenttype>text/vcard; charset=utf-8</d:getcontenttype>")
    );
    let r = srv.request("GET", href).auth(USER, "ThePassword").send();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/vcard; charset=utf-8"));
    assert_eq!(r.body, card);
}
