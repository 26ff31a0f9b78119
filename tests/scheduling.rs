//! End-to-end: CalDAV scheduling's first part (RFC 6638, `dirdav-scheduling`): inboxes
//! and outboxes, the properties clients read to find them, and free-busy lookups by a
//! POST to one's outbox, as iOS/macOS Calendar and Thunderbird make them.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::path::Path;

use support::{Dirdav, Response};

const ALICE: (&str, &str) = ("alice", "wonderland");
const BOB: (&str, &str) = ("bob", "builder");

/// example-data with e-mail addresses for alice and bob in `dirdav.toml`; `edit` runs
/// on the tree before the server starts.
fn server(edit: impl FnOnce(&Path)) -> (tempfile::TempDir, Dirdav) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("example-data");
    support::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("example-data"),
        &data,
    );
    std::fs::write(
        dir.path().join("dirdav.toml"),
        "[users.alice]\nemail = \"alice@example.com\"\n[users.bob]\nemail = \"bob@example.com\"\n",
    )
    .unwrap();
    edit(&data);
    let srv = Dirdav::start_in(&["--config", "dirdav.toml"], dir.path());
    (dir, srv)
}

fn propfind(srv: &Dirdav, who: (&str, &str), path: &str, props: &str) -> Response {
    let r = srv
        .request("PROPFIND", path)
        .auth(who.0, who.1)
        .header("Depth", "0")
        .body(format!(
            r#"<d:propfind xmlns:d="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><d:prop>{props}</d:prop></d:propfind>"#
        ))
        .send();
    assert_eq!(r.status, 207, "{}", r.body);
    r
}

fn freebusy_request(organizer: &str, attendees: &[&str]) -> String {
    let mut text = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\n\
         UID:fb-test\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261101T000000Z\r\nDTEND:20261201T000000Z\r\n",
    );
    text.push_str(&format!("ORGANIZER:{organizer}\r\n"));
    for a in attendees {
        text.push_str(&format!("ATTENDEE:{a}\r\n"));
    }
    text.push_str("END:VFREEBUSY\r\nEND:VCALENDAR\r\n");
    text
}

fn post(srv: &Dirdav, who: (&str, &str), path: &str, body: &str) -> Response {
    srv.request("POST", path)
        .auth(who.0, who.1)
        .header("Content-Type", "text/calendar; charset=utf-8")
        .body(body)
        .send()
}

/// The FREEBUSY lines of the `calendar-data` answered for one recipient.
fn busy_for(answer: &str, recipient: &str) -> Vec<String> {
    let at = answer
        .find(&format!("<d:href>{recipient}</d:href>"))
        .unwrap_or_else(|| panic!("{recipient} answered: {answer}"));
    let part = &answer[at..];
    let part = &part[..part.find("</cal:response>").unwrap()];
    part.replace("&#13;", "")
        .lines()
        .filter(|l| l.starts_with("FREEBUSY"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn principals_name_their_inbox_and_outbox_and_mailboxes_are_made_at_first_login() {
    let (dir, srv) = server(|data| {
        std::fs::remove_dir_all(data.join("bob/inbox")).unwrap();
        std::fs::remove_dir_all(data.join("bob/outbox")).unwrap();
    });
    let r = propfind(
        &srv,
        ALICE,
        "/alice/",
        "<C:schedule-inbox-URL/><C:schedule-outbox-URL/><C:calendar-user-type/><C:calendar-user-address-set/>",
    );
    for needle in [
        "<cal:schedule-inbox-URL><d:href>/alice/inbox/</d:href></cal:schedule-inbox-URL>",
        "<cal:schedule-outbox-URL><d:href>/alice/outbox/</d:href></cal:schedule-outbox-URL>",
        "<cal:calendar-user-type>INDIVIDUAL</cal:calendar-user-type>",
        "<d:href>mailto:alice@example.com</d:href>",
    ] {
        assert!(r.body.contains(needle), "{needle}: {}", r.body);
    }
    let r = propfind(
        &srv,
        ALICE,
        "/alice/inbox/",
        "<d:resourcetype/><C:schedule-default-calendar-URL/>",
    );
    assert!(
        r.body
            .contains("<d:resourcetype><d:collection/><cal:schedule-inbox/></d:resourcetype>"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<cal:schedule-default-calendar-URL><d:href>/alice/calendar/</d:href>"),
        "{}",
        r.body
    );
    let r = propfind(&srv, ALICE, "/alice/outbox/", "<d:resourcetype/>");
    assert!(r.body.contains("<cal:schedule-outbox/>"), "{}", r.body);
    let r = propfind(
        &srv,
        ALICE,
        "/alice/calendar/",
        "<C:schedule-calendar-transp/>",
    );
    assert!(
        r.body
            .contains("<cal:schedule-calendar-transp><cal:opaque/></cal:schedule-calendar-transp>"),
        "{}",
        r.body
    );

    // Bob's mailboxes were removed: his first request makes them again, on disk.
    let bob = dir.path().join("example-data/bob");
    assert!(!bob.join("inbox").exists());
    let r = propfind(&srv, BOB, "/bob/", "<C:schedule-inbox-URL/>");
    assert!(
        r.body.contains("<d:href>/bob/inbox/</d:href>"),
        "{}",
        r.body
    );
    assert!(
        std::fs::read_to_string(bob.join("inbox/.dav.toml"))
            .unwrap()
            .contains("kind = \"schedule-inbox\"")
    );
    assert!(
        std::fs::read_to_string(bob.join("outbox/.dav.toml"))
            .unwrap()
            .contains("kind = \"schedule-outbox\"")
    );
    // Nobody else reads alice's mailboxes.
    let r = srv
        .request("PROPFIND", "/alice/inbox/")
        .auth(BOB.0, BOB.1)
        .header("Depth", "0")
        .send();
    assert!(r.status == 403 || r.status == 404, "{}", r.status);
    // Implicit scheduling is not offered yet, so clients are not told it is.
    let r = srv
        .request("OPTIONS", "/alice/")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert!(!r.header("dav").unwrap().contains("calendar-auto-schedule"));
}

#[test]
fn a_post_to_the_outbox_answers_each_attendees_busy_times() {
    let (_dir, srv) = server(|_| {});
    let body = freebusy_request(
        "mailto:alice@example.com",
        &[
            "mailto:BOB@example.com",
            "/alice/",
            "mailto:nobody@example.net",
        ],
    );
    let r = post(&srv, ALICE, "/alice/outbox/", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/xml")
    );
    assert!(r.body.contains("<cal:schedule-response"), "{}", r.body);

    // Bob's busy times are what a free-busy-query on his calendar answers him.
    let report = srv
        .request("REPORT", "/bob/calendar/")
        .auth(BOB.0, BOB.1)
        .header("Depth", "1")
        .body(r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20261101T000000Z" end="20261201T000000Z"/></C:free-busy-query>"#)
        .send();
    assert_eq!(report.status, 200);
    let expected: Vec<String> = report
        .body
        .replace('\r', "")
        .lines()
        .filter(|l| l.starts_with("FREEBUSY"))
        .map(str::to_owned)
        .collect();
    assert!(
        !expected.is_empty(),
        "bob is busy in November: {}",
        report.body
    );
    assert_eq!(busy_for(&r.body, "mailto:BOB@example.com"), expected);
    assert!(!busy_for(&r.body, "/alice/").is_empty());
    // The reply names the request and the attendee, and leaks no event details.
    assert!(r.body.contains("METHOD:REPLY") && r.body.contains("UID:fb-test"));
    assert!(r.body.contains("ATTENDEE:mailto:BOB@example.com"));
    assert!(!r.body.contains("SUMMARY"), "{}", r.body);
    let nobody = &r.body[r.body.find("mailto:nobody@example.net").unwrap()..];
    assert!(
        nobody.starts_with(
            "mailto:nobody@example.net</d:href></cal:recipient><cal:request-status>3.7;"
        ),
        "{nobody}"
    );
}

#[test]
fn a_transparent_calendar_does_not_make_its_owner_busy() {
    let (_dir, srv) = server(|data| {
        let toml = data.join("bob/calendar/.dav.toml");
        let mut text = std::fs::read_to_string(&toml).unwrap();
        if text.contains("[caldav]") {
            text = text.replace(
                "[caldav]",
                "[caldav]\nschedule-calendar-transp = \"transparent\"",
            );
        } else {
            text.push_str("\n[caldav]\nschedule-calendar-transp = \"transparent\"\n");
        }
        std::fs::write(toml, text).unwrap();
    });
    let r = propfind(&srv, BOB, "/bob/calendar/", "<C:schedule-calendar-transp/>");
    assert!(r.body.contains("<cal:transparent/>"), "{}", r.body);
    let r = post(
        &srv,
        ALICE,
        "/alice/outbox/",
        &freebusy_request("mailto:alice@example.com", &["mailto:bob@example.com"]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        busy_for(&r.body, "mailto:bob@example.com"),
        Vec::<String>::new()
    );
    assert!(r.body.contains("2.0;Success"));
}

#[test]
fn outbox_posts_are_refused_with_their_conditions() {
    let (_dir, srv) = server(|_| {});
    let request = freebusy_request("mailto:alice@example.com", &["mailto:bob@example.com"]);
    // Someone else's outbox.
    let r = post(&srv, BOB, "/alice/outbox/", &request);
    assert!(
        r.status == 403 || r.status == 404,
        "{} {}",
        r.status,
        r.body
    );
    // An organizer who is not the owner.
    let r = post(
        &srv,
        ALICE,
        "/alice/outbox/",
        &freebusy_request("mailto:bob@example.com", &["mailto:alice@example.com"]),
    );
    assert_eq!(r.status, 403);
    assert!(r.body.contains("organizer-allowed"), "{}", r.body);
    // Not a free-busy request: an invitation through the outbox is not taken.
    let invitation = request.replace("VFREEBUSY", "VEVENT");
    let r = post(&srv, ALICE, "/alice/outbox/", &invitation);
    assert_eq!(r.status, 403);
    assert!(r.body.contains("valid-scheduling-message"), "{}", r.body);
    let r = post(&srv, ALICE, "/alice/outbox/", "not a calendar");
    assert_eq!(r.status, 400);
    assert!(r.body.contains("valid-calendar-data"), "{}", r.body);
    // POST elsewhere.
    let r = post(&srv, ALICE, "/alice/calendar/", &request);
    assert_eq!(r.status, 405, "{}", r.body);
}
