//! End-to-end: CalDAV scheduling (RFC 6638, `dirdav-scheduling`): inboxes and outboxes,
//! the properties clients read to find them, free-busy lookups by a POST to one's
//! outbox, and implicit scheduling: an invitation reaching a local attendee's inbox and
//! calendar and an external one by mail (an SMTP sink here), the answer reaching the
//! organizer's copy, and a cancellation reaching both.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::path::Path;

use support::{Dirdav, Response};

const ALICE: (&str, &str) = ("alice", "wonderland");
const BOB: (&str, &str) = ("bob", "builder");

/// example-data with e-mail addresses for alice and bob in `dirdav.toml`; `edit` runs
/// on the tree before the server starts.
fn server(edit: impl FnOnce(&Path)) -> (tempfile::TempDir, Dirdav) {
    server_with(edit, "")
}

/// [`server`], with more of `dirdav.toml` (its top-level keys first).
fn server_with(edit: impl FnOnce(&Path), settings: &str) -> (tempfile::TempDir, Dirdav) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("example-data");
    support::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("example-data"),
        &data,
    );
    std::fs::write(
        dir.path().join("dirdav.toml"),
        format!(
            "{settings}\n[users.alice]\nemail = \"alice@example.com\"\n[users.bob]\nemail = \"bob@example.com\"\n"
        ),
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
    // Clients are told the server schedules.
    let r = srv
        .request("OPTIONS", "/alice/")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert!(r.header("dav").unwrap().contains("calendar-auto-schedule"));
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

/// A mail server that accepts everything and keeps each message's text.
fn smtp_sink() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = messages.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut out) = stream else { continue };
            let mut lines = BufReader::new(out.try_clone().unwrap());
            let _ = out.write_all(b"220 sink ESMTP\r\n");
            let mut line = String::new();
            while lines.read_line(&mut line).unwrap_or(0) > 0 {
                let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let answer: &[u8] = match verb.as_str() {
                    "EHLO" | "HELO" => b"250 sink\r\n",
                    "DATA" => {
                        let _ = out.write_all(b"354 go on\r\n");
                        let mut text = String::new();
                        let mut part = String::new();
                        while lines.read_line(&mut part).unwrap_or(0) > 0 && part != ".\r\n" {
                            text.push_str(&part);
                            part.clear();
                        }
                        kept.lock().unwrap().push(text);
                        b"250 queued\r\n"
                    }
                    "QUIT" => {
                        let _ = out.write_all(b"221 bye\r\n");
                        break;
                    }
                    _ => b"250 ok\r\n",
                };
                let _ = out.write_all(answer);
                line.clear();
            }
        }
    });
    (port, messages)
}

/// The messages the sink holds once it holds `n` (or after ten seconds).
fn wait_for_mail(mail: &std::sync::Mutex<Vec<String>>, n: usize) -> Vec<String> {
    wait_for_mail_at_most(mail, n, 10_000)
}

/// The messages the sink holds after a second, when it should hold no more than `n`.
fn mail_after_a_second(mail: &std::sync::Mutex<Vec<String>>, n: usize) -> Vec<String> {
    wait_for_mail_at_most(mail, n + 1, 1_000)
}

fn wait_for_mail_at_most(mail: &std::sync::Mutex<Vec<String>>, n: usize, ms: u64) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(ms);
    loop {
        let now = mail.lock().unwrap().clone();
        if now.len() >= n || std::time::Instant::now() > deadline {
            // A moment more, so that a message too many shows.
            std::thread::sleep(std::time::Duration::from_millis(100));
            return mail.lock().unwrap().clone();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

const INVITATION: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n\
    UID:planning-2027\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20270110T100000Z\r\n\
    DTEND:20270110T110000Z\r\nSUMMARY:Planning 2027\r\n\
    ORGANIZER;CN=Alice:mailto:alice@example.com\r\n\
    ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.com\r\n\
    ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com\r\n\
    ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:erin@example.net\r\n\
    END:VEVENT\r\nEND:VCALENDAR\r\n";

fn get(srv: &Dirdav, who: (&str, &str), path: &str) -> Response {
    srv.request("GET", path).auth(who.0, who.1).send()
}

fn put(srv: &Dirdav, who: (&str, &str), path: &str, body: &str) -> Response {
    put_if(srv, who, path, body, None)
}

/// A PUT with a condition header (`If-Match`, `If-Schedule-Tag-Match`).
fn put_if(
    srv: &Dirdav,
    who: (&str, &str),
    path: &str,
    body: &str,
    condition: Option<(&str, &str)>,
) -> Response {
    let mut request = srv
        .request("PUT", path)
        .auth(who.0, who.1)
        .header("Content-Type", "text/calendar");
    if let Some((name, value)) = condition {
        request = request.header(name, value);
    }
    request.body(body).send()
}

/// Bob's copy of the meeting with his answer changed to ACCEPTED.
fn accepted_by_bob(copy: &str) -> String {
    copy.replace(
        "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob",
        "PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob",
    )
}

/// The texts of the files in a user's inbox.
fn inbox(srv: &Dirdav, who: (&str, &str)) -> Vec<String> {
    let r = srv
        .request("PROPFIND", &format!("/{}/inbox/", who.0))
        .auth(who.0, who.1)
        .header("Depth", "1")
        .body(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#)
        .send();
    assert_eq!(r.status, 207, "{}", r.body);
    r.body
        .split("<d:href>")
        .skip(1)
        .map(|rest| rest[..rest.find('<').unwrap()].to_owned())
        .filter(|href| href.ends_with(".ics"))
        .map(|href| get(srv, who, &href).body)
        .collect()
}

#[test]
fn alice_invites_bob_and_erin_bob_accepts_and_alice_cancels() {
    let (port, mail) = smtp_sink();
    let settings =
        format!("smtp-url = \"smtp://127.0.0.1:{port}\"\nmail-from = \"calendar@example.com\"");
    let (_dir, srv) = server_with(|_| {}, &settings);
    let sent = || mail.lock().unwrap().clone();
    // Mail leaves after the answer: wait for it.
    let sent_after = |n: usize| wait_for_mail(&mail, n);

    // Alice saves the meeting: bob's inbox gets the REQUEST, his calendar a copy waiting
    // for his answer, and erin (no user here) one message by mail.
    let r = put(&srv, ALICE, "/alice/calendar/planning.ics", INVITATION);
    assert_eq!(r.status, 201, "{}", r.body);
    // Her copy now says how each invitation went, so her client is not told the ETag
    // of what it sent.
    assert!(r.header("etag").is_none(), "{:?}", r.headers);
    let organizers = get(&srv, ALICE, "/alice/calendar/planning.ics");
    let unfolded = organizers.body.replace("\r\n ", "");
    assert!(
        unfolded.contains("RSVP=TRUE;SCHEDULE-STATUS=1.2:mailto:bob@example.com"),
        "delivered: {unfolded}"
    );
    assert!(
        unfolded.contains("RSVP=TRUE;SCHEDULE-STATUS=1.1:mailto:erin@example.net"),
        "sent by mail: {unfolded}"
    );
    assert!(!unfolded.contains("SCHEDULE-STATUS=1.2:mailto:alice"));
    let messages = inbox(&srv, BOB);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].contains("METHOD:REQUEST") && messages[0].contains("UID:planning-2027"));
    let copy = get(&srv, BOB, "/bob/calendar/planning-2027.ics");
    assert_eq!(copy.status, 200);
    assert!(
        copy.body
            .contains("PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com"),
        "{}",
        copy.body
    );
    assert!(!copy.body.contains("METHOD"), "a calendar keeps no METHOD");
    assert!(!copy.body.contains("SCHEDULE-STATUS") && !messages[0].contains("SCHEDULE-STATUS"));
    let mails = sent_after(1);
    assert_eq!(mails.len(), 1, "{mails:?}");
    for needle in [
        "To: erin@example.net",
        "Subject: Invitation: Planning 2027",
        "method=REQUEST",
        "Reply-To: alice@example.com",
        "UID:planning-2027",
    ] {
        assert!(mails[0].contains(needle), "{needle}: {}", mails[0]);
    }
    assert!(
        inbox(&srv, ALICE).is_empty(),
        "the organizer is not sent her own invitation"
    );

    // Bob accepts in his calendar: alice's copy shows it and her inbox has his REPLY.
    let r = put_if(
        &srv,
        BOB,
        "/bob/calendar/planning-2027.ics",
        &accepted_by_bob(&copy.body),
        Some(("If-Match", copy.header("etag").unwrap())),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let organizers = get(&srv, ALICE, "/alice/calendar/planning.ics");
    let unfolded = organizers.body.replace("\r\n ", "");
    assert!(
        unfolded.contains("PARTSTAT=ACCEPTED;RSVP=TRUE;SCHEDULE-STATUS=1.2:mailto:bob@example.com"),
        "{unfolded}"
    );
    assert!(
        unfolded.contains(
            "PARTSTAT=NEEDS-ACTION;RSVP=TRUE;SCHEDULE-STATUS=1.1:mailto:erin@example.net"
        )
    );
    let replies = inbox(&srv, ALICE);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(replies[0].contains("METHOD:REPLY"));
    assert!(replies[0].contains("PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob@example.com"));
    assert!(
        !replies[0].contains("erin"),
        "a reply names its attendee only"
    );
    // An edit of bob's that changes no answer (an alarm) sends nothing; an attendee
    // may not change the meeting itself (RFC 6638 §3.2.2.1).
    let copy = get(&srv, BOB, "/bob/calendar/planning-2027.ics");
    let r = put(
        &srv,
        BOB,
        "/bob/calendar/planning-2027.ics",
        &copy
            .body
            .replace("SUMMARY:Planning 2027", "SUMMARY:Planning (bring numbers)"),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("allowed-attendee-scheduling-object-change"),
        "{}",
        r.body
    );
    assert_eq!(
        get(&srv, BOB, "/bob/calendar/planning-2027.ics").body,
        copy.body
    );
    let r = put(
        &srv,
        BOB,
        "/bob/calendar/planning-2027.ics",
        &copy.body.replace(
            "END:VEVENT",
            "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\nEND:VEVENT",
        ),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(inbox(&srv, ALICE).len(), 1);
    assert_eq!(sent().len(), 1, "a local reply goes by no mail");

    // Alice moves the meeting: bob's copy follows and keeps his answer; erin is told.
    let moved = organizers
        .body
        .replace("DTSTART:20270110T100000Z", "DTSTART:20270111T100000Z")
        .replace("DTEND:20270110T110000Z", "DTEND:20270111T110000Z");
    let r = put(&srv, ALICE, "/alice/calendar/planning.ics", &moved);
    assert_eq!(r.status, 204, "{}", r.body);
    let copy = get(&srv, BOB, "/bob/calendar/planning-2027.ics");
    assert!(
        copy.body.contains("DTSTART:20270111T100000Z"),
        "{}",
        copy.body
    );
    assert!(
        copy.body
            .contains("PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob@example.com"),
        "{}",
        copy.body
    );
    assert_eq!(inbox(&srv, BOB).len(), 2);
    assert_eq!(sent_after(2).len(), 2);

    // Alice cancels by deleting it: bob's copy is cancelled, his inbox has the CANCEL,
    // erin gets a cancellation by mail.
    let r = srv
        .request("DELETE", "/alice/calendar/planning.ics")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert_eq!(r.status, 204);
    let copy = get(&srv, BOB, "/bob/calendar/planning-2027.ics");
    assert!(copy.body.contains("STATUS:CANCELLED"), "{}", copy.body);
    let messages = inbox(&srv, BOB);
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.contains("METHOD:CANCEL"))
            .count(),
        1
    );
    let mails = sent_after(3);
    assert_eq!(mails.len(), 3);
    assert!(
        mails[2].contains("Subject: Cancelled: Planning 2027"),
        "{}",
        mails[2]
    );
    assert!(mails[2].contains("method=CANCEL"), "{}", mails[2]);
}

/// The schedule tag (RFC 6638 §3.2.10): on GET, PUT and PROPFIND of scheduling objects;
/// unchanged by answers, changed by the organizer; `If-Schedule-Tag-Match` refuses a
/// write made against an older invitation.
#[test]
fn schedule_tags_follow_the_organizer_and_guard_the_attendees_writes() {
    let (_dir, srv) = server(|_| {});
    let r = put(&srv, ALICE, "/alice/calendar/planning.ics", INVITATION);
    assert_eq!(r.status, 201);
    let organizers_tag = r.header("schedule-tag").expect("on PUT").to_owned();
    assert!(organizers_tag.starts_with('"'));
    let copy = get(&srv, BOB, "/bob/calendar/planning-2027.ics");
    let tag = copy.header("schedule-tag").expect("on GET").to_owned();
    let r = propfind(
        &srv,
        BOB,
        "/bob/calendar/planning-2027.ics",
        "<C:schedule-tag/>",
    );
    assert!(
        r.body
            .contains(&format!("<cal:schedule-tag>{tag}</cal:schedule-tag>")),
        "{}",
        r.body
    );

    // Bob answers against the tag he read: accepted, and the tag stays.
    let accepted = accepted_by_bob(&copy.body);
    let r = put_if(
        &srv,
        BOB,
        "/bob/calendar/planning-2027.ics",
        &accepted,
        Some(("If-Schedule-Tag-Match", &tag)),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.header("schedule-tag"), Some(tag.as_str()));
    let organizers = get(&srv, ALICE, "/alice/calendar/planning.ics");
    assert!(
        organizers
            .body
            .replace("\r\n ", "")
            .contains("PARTSTAT=ACCEPTED;RSVP=TRUE;SCHEDULE-STATUS=1.2:mailto:bob")
    );
    assert_eq!(
        organizers.header("schedule-tag"),
        Some(organizers_tag.as_str()),
        "a reply merged into the organizer's copy keeps its tag"
    );

    // Alice changes the meeting: bob's tag changes, and a write against the old one is
    // refused with nothing changed.
    let r = put(
        &srv,
        ALICE,
        "/alice/calendar/planning.ics",
        &organizers
            .body
            .replace("SUMMARY:Planning 2027", "SUMMARY:Planning 2027, room 4"),
    );
    assert_eq!(r.status, 204);
    let copy = get(&srv, BOB, "/bob/calendar/planning-2027.ics");
    let newer = copy.header("schedule-tag").unwrap();
    assert_ne!(newer, tag);
    let r = put_if(
        &srv,
        BOB,
        "/bob/calendar/planning-2027.ics",
        &accepted,
        Some(("If-Schedule-Tag-Match", &tag)),
    );
    assert_eq!(r.status, 412, "{}", r.body);
    assert!(
        get(&srv, BOB, "/bob/calendar/planning-2027.ics")
            .body
            .contains("room 4")
    );
    let r = srv
        .request("DELETE", "/bob/calendar/planning-2027.ics")
        .auth(BOB.0, BOB.1)
        .header("If-Schedule-Tag-Match", &tag)
        .send();
    assert_eq!(r.status, 412);

    // An event without an organizer has no schedule tag.
    let plain = get(&srv, ALICE, "/alice/calendar/");
    assert!(plain.header("schedule-tag").is_none());
    let r = put(
        &srv,
        ALICE,
        "/alice/calendar/alone.ics",
        &support::event("alone"),
    );
    assert_eq!(r.status, 201);
    assert!(r.header("schedule-tag").is_none());
}

/// `--no-scheduling`: no token, no mailboxes made, no outbox POST, and a meeting is
/// stored without being sent anywhere.
#[test]
fn without_scheduling_nothing_is_sent_and_no_token_is_claimed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("example-data");
    support::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("example-data"),
        &data,
    );
    std::fs::remove_dir_all(data.join("bob/inbox")).unwrap();
    let srv = Dirdav::start_in(&["--no-scheduling"], dir.path());
    let r = srv
        .request("OPTIONS", "/alice/")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert!(!r.header("dav").unwrap().contains("calendar-auto-schedule"));
    let r = put(&srv, ALICE, "/alice/calendar/planning.ics", INVITATION);
    assert_eq!(r.status, 201);
    assert!(r.header("etag").is_some());
    assert_eq!(
        get(&srv, BOB, "/bob/calendar/planning-2027.ics").status,
        404
    );
    assert!(!data.join("bob/inbox").exists());
    let r = post(
        &srv,
        ALICE,
        "/alice/outbox/",
        &freebusy_request("mailto:alice@example.com", &["mailto:bob@example.com"]),
    );
    assert_eq!(r.status, 405, "{}", r.body);
}

/// A meeting of `organizer`'s with these attendees (addresses), an optional extra line
/// in its VEVENT.
fn meeting(uid: &str, organizer: &str, attendees: &[&str], extra: &str) -> String {
    let mut text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20261201T000000Z\r\nDTSTART:20270301T100000Z\r\nDTEND:20270301T110000Z\r\n\
         SUMMARY:Meeting {uid}\r\nORGANIZER:{organizer}\r\n"
    );
    for a in attendees {
        text.push_str(&format!("ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:{a}\r\n"));
    }
    text.push_str(extra);
    text.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
    text
}

/// RFC 6638 §3.2.2, §3.2.4: a delivery changes only a copy of the sender's own meeting,
/// and an attendee's copy takes only an attendee's changes. Bob reads alice's calendar
/// (so he knows her UIDs) and attends one of her meetings.
#[test]
fn nobody_can_rewrite_or_cancel_another_users_meeting_by_its_uid() {
    let (dir, srv) = server(|_| {});
    let alice_file = |name: &str| {
        std::fs::read_to_string(dir.path().join("example-data/alice/calendar").join(name)).unwrap()
    };
    // Alice's own meeting with someone outside, and her meeting with bob.
    let board = meeting(
        "board-1",
        "mailto:alice@example.com",
        &["mailto:erin@example.net"],
        "",
    );
    assert_eq!(
        put(&srv, ALICE, "/alice/calendar/board.ics", &board).status,
        201
    );
    let team = meeting(
        "team-1",
        "mailto:alice@example.com",
        &["mailto:bob@example.com"],
        "",
    );
    assert_eq!(
        put(&srv, ALICE, "/alice/calendar/team.ics", &team).status,
        201
    );
    let (board_before, team_before) = (alice_file("board.ics"), alice_file("team.ics"));
    assert_eq!(inbox(&srv, BOB).len(), 1, "bob was invited to team-1");

    // Bob, with alice's UID, organizes "the same" meeting and invites her: she gets no
    // message, her copy stays as it was, and bob's copy says 3.8 (no authority).
    let forged = meeting(
        "board-1",
        "mailto:bob@example.com",
        &["mailto:alice@example.com"],
        "",
    );
    let r = put(&srv, BOB, "/bob/calendar/forged.ics", &forged);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(alice_file("board.ics"), board_before);
    assert!(inbox(&srv, ALICE).is_empty());
    let bobs = get(&srv, BOB, "/bob/calendar/forged.ics")
        .body
        .replace("\r\n ", "");
    assert!(
        bobs.contains("SCHEDULE-STATUS=3.8:mailto:alice@example.com"),
        "{bobs}"
    );
    // … nor can he cancel it.
    let r = put(
        &srv,
        BOB,
        "/bob/calendar/forged.ics",
        &forged.replace("SUMMARY:", "STATUS:CANCELLED\r\nSUMMARY:"),
    );
    assert!(r.status == 204, "{}", r.body);
    let r = srv
        .request("DELETE", "/bob/calendar/forged.ics")
        .auth(BOB.0, BOB.1)
        .send();
    assert_eq!(r.status, 204);
    assert_eq!(alice_file("board.ics"), board_before);
    assert!(inbox(&srv, ALICE).is_empty());

    // Bob, an attendee, makes himself the organizer of his copy: refused, nothing
    // changes on either side.
    let copy = get(&srv, BOB, "/bob/calendar/team-1.ics");
    let taken = copy.body.replace(
        "ORGANIZER:mailto:alice@example.com",
        "ORGANIZER:mailto:bob@example.com",
    );
    let r = put(&srv, BOB, "/bob/calendar/team-1.ics", &taken);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("allowed-attendee-scheduling-object-change"),
        "{}",
        r.body
    );
    assert_eq!(get(&srv, BOB, "/bob/calendar/team-1.ics").body, copy.body);
    // A meeting whose parts name two organizers is refused anywhere.
    let two = meeting(
        "two-1",
        "mailto:bob@example.com",
        &["mailto:alice@example.com"],
        "",
    )
    .replace(
        "END:VCALENDAR",
        "BEGIN:VEVENT\r\nUID:two-1\r\nRECURRENCE-ID:20270301T100000Z\r\n\
             DTSTART:20270302T100000Z\r\nORGANIZER:mailto:alice@example.com\r\n\
             END:VEVENT\r\nEND:VCALENDAR",
    );
    let r = put(&srv, BOB, "/bob/calendar/two.ics", &two);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("same-organizer-in-all-components"),
        "{}",
        r.body
    );
    // After declining (deleting his copy), bob reorganizes the UID: alice's copy,
    // which she organizes, is not his to change.
    let r = srv
        .request("DELETE", "/bob/calendar/team-1.ics")
        .auth(BOB.0, BOB.1)
        .send();
    assert_eq!(r.status, 204);
    let declined = alice_file("team.ics");
    assert!(
        declined.replace("\r\n ", "").contains("PARTSTAT=DECLINED"),
        "the legitimate answer: {declined}"
    );
    let replies_before = inbox(&srv, ALICE).len();
    let r = put(
        &srv,
        BOB,
        "/bob/calendar/team-again.ics",
        &meeting(
            "team-1",
            "mailto:bob@example.com",
            &["mailto:alice@example.com"],
            "",
        ),
    );
    assert_eq!(r.status, 201);
    assert_eq!(alice_file("team.ics"), declined);
    assert_eq!(inbox(&srv, ALICE).len(), replies_before);
    assert!(team_before.contains("UID:team-1"));
}

/// `n` external addresses, `prefix`0@example.net …
fn strangers(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("mailto:{prefix}{i}@example.net"))
        .collect()
}

fn refs(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

/// RFC 6638 §3.2, RFC 5546 §2.1.4: how much mail one organizer can make the server
/// send: attendees counted across every instance and capped, mail per hour capped (5.3
/// past it), and a save that changes nothing attendees see sends nothing. A mail server
/// that never answers does not hold up the PUT.
#[test]
fn an_organizer_cannot_make_the_server_mail_thousands() {
    let (port, mail) = smtp_sink();
    let settings = format!(
        "smtp-url = \"smtp://127.0.0.1:{port}\"\nmail-from = \"calendar@example.com\"\n\
         max-attendees = 20\nmail-per-hour = 10"
    );
    let (dir, srv) = server_with(|_| {}, &settings);
    // Five overridden instances of 10 strangers each: 50 attendees in all.
    let mut text = meeting(
        "many-1",
        "mailto:alice@example.com",
        &[],
        "RRULE:FREQ=DAILY\r\n",
    );
    for day in 2..7 {
        let people = strangers(&format!("d{day}-"), 10);
        let attendees: String = people
            .iter()
            .map(|a| format!("ATTENDEE;RSVP=TRUE:{a}\r\n"))
            .collect();
        text = text.replace(
            "END:VCALENDAR",
            &format!(
                "BEGIN:VEVENT\r\nUID:many-1\r\nRECURRENCE-ID:2027030{day}T100000Z\r\n\
                 DTSTART:2027030{day}T120000Z\r\nDTEND:2027030{day}T130000Z\r\n\
                 ORGANIZER:mailto:alice@example.com\r\n{attendees}END:VEVENT\r\nEND:VCALENDAR"
            ),
        );
    }
    let r = put(&srv, ALICE, "/alice/calendar/many.ics", &text);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("max-attendees-per-instance"), "{}", r.body);
    assert!(
        !dir.path()
            .join("example-data/alice/calendar/many.ics")
            .exists()
    );
    assert!(mail_after_a_second(&mail, 0).is_empty(), "nothing sent");

    // A meeting with 8 strangers: 8 messages, once.
    let eight = strangers("guest", 8);
    let first = meeting("eight-1", "mailto:alice@example.com", &refs(&eight), "");
    assert_eq!(
        put(&srv, ALICE, "/alice/calendar/eight.ics", &first).status,
        201
    );
    assert_eq!(wait_for_mail(&mail, 8).len(), 8);
    // Saved again with new stamps and sequence, a new alarm: nothing more is sent.
    let restamped = first
        .replace("DTSTAMP:20261201T000000Z", "DTSTAMP:20261202T000000Z")
        .replace(
            "END:VEVENT",
            "SEQUENCE:1\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT",
        );
    assert_eq!(
        put(&srv, ALICE, "/alice/calendar/eight.ics", &restamped).status,
        204
    );
    assert_eq!(
        mail_after_a_second(&mail, 8).len(),
        8,
        "a restamp sends nothing"
    );
    // One more attendee: only they are told.
    let nine = [eight, vec!["mailto:late@example.net".to_owned()]].concat();
    let added = meeting("eight-1", "mailto:alice@example.com", &refs(&nine), "");
    assert_eq!(
        put(&srv, ALICE, "/alice/calendar/eight.ics", &added).status,
        204
    );
    let mails = wait_for_mail(&mail, 9);
    assert_eq!(mail_after_a_second(&mail, 9).len(), 9);
    assert!(mails[8].contains("To: late@example.net"), "{}", mails[8]);
    // A new time is news for everyone, but the hour's budget (10) is spent after one:
    // the others' SCHEDULE-STATUS says 5.3 and no more is sent.
    let moved = added.replace("DTSTART:20270301T100000Z", "DTSTART:20270302T100000Z");
    assert_eq!(
        put(&srv, ALICE, "/alice/calendar/eight.ics", &moved).status,
        204
    );
    assert_eq!(wait_for_mail(&mail, 10).len(), 10);
    assert_eq!(mail_after_a_second(&mail, 10).len(), 10);
    let copy = get(&srv, ALICE, "/alice/calendar/eight.ics")
        .body
        .replace("\r\n ", "");
    assert_eq!(copy.matches("SCHEDULE-STATUS=5.3").count(), 8, "{copy}");
    assert_eq!(copy.matches("SCHEDULE-STATUS=1.1").count(), 1, "{copy}");

    // A mail server that takes connections and never answers: the PUT is answered at
    // once all the same.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let settings = format!(
        "smtp-url = \"smtp://127.0.0.1:{silent_port}\"\nmail-from = \"calendar@example.com\""
    );
    let (_dir2, srv2) = server_with(|_| {}, &settings);
    let started = std::time::Instant::now();
    let r = put(&srv2, ALICE, "/alice/calendar/slow.ics", &first);
    assert_eq!(r.status, 201);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the PUT waited for the mail server: {:?}",
        started.elapsed()
    );
    drop(silent);
}

/// Scheduling acts for the user who writes, in their own calendars: bob, who may
/// write alice's calendar, cannot invite or mail people as alice.
#[test]
fn a_writer_of_another_users_calendar_does_not_schedule_as_them() {
    let (port, mail) = smtp_sink();
    let settings =
        format!("smtp-url = \"smtp://127.0.0.1:{port}\"\nmail-from = \"calendar@example.com\"");
    let (dir, srv) = server_with(
        |data| {
            let config = data.join("alice/calendar/.dav.toml");
            let text = std::fs::read_to_string(&config).unwrap();
            std::fs::write(
                &config,
                text.replace("read = [\"bob\"]", "read = [\"bob\"]\nwrite = [\"bob\"]"),
            )
            .unwrap();
        },
        &settings,
    );
    let invite = meeting(
        "as-alice",
        "mailto:alice@example.com",
        &["mailto:erin@example.net", "mailto:bob@example.com"],
        "",
    );
    let r = put(&srv, BOB, "/alice/calendar/as-alice.ics", &invite);
    assert_eq!(r.status, 201, "stored as data: {}", r.body);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("example-data/alice/calendar/as-alice.ics"))
            .unwrap(),
        invite
    );
    assert!(mail_after_a_second(&mail, 0).is_empty(), "no mail as alice");
    assert!(inbox(&srv, BOB).is_empty(), "no delivery as alice");
    // Alice saving her own meeting invites as always.
    let r = put(
        &srv,
        ALICE,
        "/alice/calendar/hers.ics",
        &invite.replace("as-alice", "hers"),
    );
    assert_eq!(r.status, 201);
    assert_eq!(wait_for_mail(&mail, 1).len(), 1);
    assert_eq!(inbox(&srv, BOB).len(), 1);
}

/// RFC 5545 §3.2.12: a PARTSTAT is a token; an answer that smuggles parameters or an
/// address in a quoted value is read as no answer and never written into the
/// organizer's copy.
#[test]
fn an_answer_cannot_inject_parameters_into_the_organizers_copy() {
    let (dir, srv) = server(|_| {});
    let team = meeting(
        "inject-1",
        "mailto:alice@example.com",
        &["mailto:bob@example.com"],
        "",
    );
    assert_eq!(
        put(&srv, ALICE, "/alice/calendar/inject.ics", &team).status,
        201
    );
    let organizers = || {
        std::fs::read_to_string(dir.path().join("example-data/alice/calendar/inject.ics"))
            .unwrap()
            .replace("\r\n ", "")
    };
    let before = organizers();
    let copy = get(&srv, BOB, "/bob/calendar/inject-1.ics");
    let evil = copy.body.replace(
        "PARTSTAT=NEEDS-ACTION",
        "PARTSTAT=\"ACCEPTED;ROLE=CHAIR;CN=x:mailto:evil@example.net\"",
    );
    assert_ne!(evil, copy.body);
    let r = put(&srv, BOB, "/bob/calendar/inject-1.ics", &evil);
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(organizers(), before, "nothing reached alice's copy");
    assert!(!organizers().contains("evil") && !organizers().contains("CHAIR"));
    assert!(inbox(&srv, ALICE).is_empty());
    // A real answer arrives.
    let r = put(
        &srv,
        BOB,
        "/bob/calendar/inject-1.ics",
        &copy
            .body
            .replace("PARTSTAT=NEEDS-ACTION", "PARTSTAT=TENTATIVE"),
    );
    assert_eq!(r.status, 204);
    assert!(
        organizers().contains("PARTSTAT=TENTATIVE;RSVP=TRUE;SCHEDULE-STATUS=1.2:mailto:bob"),
        "{}",
        organizers()
    );
}

/// How much one sender can put into another's inbox and calendar, and what it costs
/// the recipient: deliveries per sender per recipient per hour (5.3 past it), an inbox
/// that keeps its newest messages, deliveries that may pass the recipient's quota by a
/// bounded margin only. And a free-busy lookup's cost: attendees counted once and
/// capped, its span bounded.
#[test]
fn one_sender_cannot_flood_an_inbox_or_a_quota_and_free_busy_is_bounded() {
    // Bob is at his limit to the byte.
    let (dir, srv) = server_with(
        |data| {
            // The limit counts its own settings file: written once to know its size.
            let settings = data.join("bob/.dav.toml");
            std::fs::write(&settings, "[quota]\nlimit = \"0000000000\"\n").unwrap();
            let used = support::bytes_below(&data.join("bob"));
            std::fs::write(&settings, format!("[quota]\nlimit = \"{used:010}\"\n")).unwrap();
            assert_eq!(support::bytes_below(&data.join("bob")), used);
        },
        "deliveries-per-hour = 5\ninbox-size = 3",
    );
    for i in 0..8 {
        let invite = meeting(
            &format!("flood-{i}"),
            "mailto:alice@example.com",
            &["mailto:bob@example.com"],
            "",
        );
        let r = put(
            &srv,
            ALICE,
            &format!("/alice/calendar/flood-{i}.ics"),
            &invite,
        );
        assert_eq!(r.status, 201);
        let copy = get(&srv, ALICE, &format!("/alice/calendar/flood-{i}.ics"))
            .body
            .replace("\r\n ", "");
        let expected = if i < 5 {
            "SCHEDULE-STATUS=1.2"
        } else {
            "SCHEDULE-STATUS=5.3"
        };
        assert!(copy.contains(expected), "{i}: {copy}");
    }
    let calendar = dir.path().join("example-data/bob/calendar");
    let copies = (0..8)
        .filter(|i| calendar.join(format!("flood-{i}.ics")).exists())
        .count();
    // Delivered past his limit, by less than the margin; his own writes still stop at it.
    let used = support::bytes_below(&dir.path().join("example-data/bob"));
    let limit: u64 = std::fs::read_to_string(dir.path().join("example-data/bob/.dav.toml"))
        .unwrap()
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_matches('"')
        .parse()
        .unwrap();
    assert!(used > limit && used < limit + (1 << 20), "{used} / {limit}");
    let r = put(
        &srv,
        BOB,
        "/bob/calendar/mine.ics",
        &meeting("mine", "mailto:bob@example.com", &[], ""),
    );
    assert_eq!(r.status, 507, "{}", r.body);
    assert_eq!(copies, 5);
    let kept = inbox(&srv, BOB);
    assert_eq!(kept.len(), 3, "the inbox keeps its newest");
    assert!(
        kept.iter().all(|m| m.contains("UID:flood-2")
            || m.contains("UID:flood-3")
            || m.contains("UID:flood-4")),
        "{kept:?}"
    );

    // Free-busy: bob named 2,000 times over a month is one answer; over years 1-9999,
    // or 60 people at once, is refused.
    let many: Vec<&str> = std::iter::repeat_n("mailto:bob@example.com", 2000).collect();
    let r = post(
        &srv,
        ALICE,
        "/alice/outbox/",
        &freebusy_request("mailto:alice@example.com", &many),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body.matches("<cal:response>").count(), 1, "{}", r.body);
    let ages = freebusy_request("mailto:alice@example.com", &["mailto:bob@example.com"])
        .replace("DTSTART:20261101T000000Z", "DTSTART:00010101T000000Z")
        .replace("DTEND:20261201T000000Z", "DTEND:99991231T000000Z");
    let r = post(&srv, ALICE, "/alice/outbox/", &ages);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("min-date-time"), "{}", r.body);
    let years = freebusy_request("mailto:alice@example.com", &["mailto:bob@example.com"])
        .replace("DTEND:20261201T000000Z", "DTEND:20301201T000000Z");
    let r = post(&srv, ALICE, "/alice/outbox/", &years);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("max-date-time"), "{}", r.body);
    let sixty = strangers("p", 60);
    let r = post(
        &srv,
        ALICE,
        "/alice/outbox/",
        &freebusy_request("mailto:alice@example.com", &refs(&sixty)),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("max-attendees-per-instance"), "{}", r.body);
}

/// An attendee address with a carriage return, which would forge a log line when the
/// invitation is logged, does not get in: control characters are no text iCalendar
/// holds (RFC 5545 §3.1), so the PUT is refused and nothing is sent or logged as sent.
/// (What is logged has its control characters escaped besides: `log_field`.)
#[test]
fn an_attendee_address_cannot_forge_a_log_line() {
    let (dir, srv) = server(|_| {});
    srv.drain_log();
    let forged = "mailto:x\r2026-12-07T00:00:00Z  INFO forged@example.net";
    let r = put(
        &srv,
        ALICE,
        "/alice/calendar/forge.ics",
        &meeting("forge-1", "mailto:alice@example.com", &[forged], ""),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("valid-calendar-data"), "{}", r.body);
    assert!(
        !dir.path()
            .join("example-data/alice/calendar/forge.ics")
            .exists()
    );
    let log = srv.drain_log();
    assert!(
        log.iter()
            .all(|l| !l.contains('\r') && !l.contains("forged@")),
        "{log:?}"
    );
}

/// RFC 6638 §3.2.2: deleting a calendar, or moving a meeting out of one, tells the
/// attendees as deleting each meeting would (CANCEL); an attendee deleting their
/// calendar declines (REPLY).
#[test]
fn deleting_a_calendar_cancels_its_meetings_and_moving_one_out_cancels_it() {
    let (dir, srv) = server(|_| {});
    let on_disk = |p: &str| std::fs::read_to_string(dir.path().join("example-data").join(p)).ok();
    // A meeting moved out of a calendar into a plain folder.
    let moved = meeting(
        "moved-1",
        "mailto:alice@example.com",
        &["mailto:bob@example.com"],
        "",
    );
    assert_eq!(
        put(&srv, ALICE, "/alice/calendar/moved.ics", &moved).status,
        201
    );
    assert!(on_disk("bob/calendar/moved-1.ics").is_some());
    assert_eq!(
        srv.request("MKCOL", "/alice/archive/")
            .auth(ALICE.0, ALICE.1)
            .send()
            .status,
        201
    );
    let r = srv
        .request("MOVE", "/alice/calendar/moved.ics")
        .auth(ALICE.0, ALICE.1)
        .header("Destination", "/alice/archive/moved.ics")
        .send();
    assert_eq!(r.status, 201, "{}", r.body);
    let copy = on_disk("bob/calendar/moved-1.ics").unwrap();
    assert!(copy.contains("STATUS:CANCELLED"), "{copy}");
    assert!(
        inbox(&srv, BOB)
            .iter()
            .any(|m| m.contains("METHOD:CANCEL") && m.contains("moved-1"))
    );

    // A calendar of alice's holding two meetings with bob, deleted whole.
    let mk = srv
        .request("MKCALENDAR", "/alice/projects/")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert_eq!(mk.status, 201, "{}", mk.body);
    for uid in ["proj-1", "proj-2"] {
        let m = meeting(
            uid,
            "mailto:alice@example.com",
            &["mailto:bob@example.com"],
            "",
        );
        assert_eq!(
            put(&srv, ALICE, &format!("/alice/projects/{uid}.ics"), &m).status,
            201
        );
    }
    let r = srv
        .request("DELETE", "/alice/projects/")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert_eq!(r.status, 204, "{}", r.body);
    for uid in ["proj-1", "proj-2"] {
        let copy = on_disk(&format!("bob/calendar/{uid}.ics")).unwrap();
        assert!(copy.contains("STATUS:CANCELLED"), "{uid}: {copy}");
    }

    // Bob deletes a calendar holding his copy of a meeting of alice's: he declines.
    let mk = srv
        .request("MKCALENDAR", "/bob/extra/")
        .auth(BOB.0, BOB.1)
        .send();
    assert_eq!(mk.status, 201, "{}", mk.body);
    let lunch = meeting(
        "lunch-1",
        "mailto:alice@example.com",
        &["mailto:bob@example.com"],
        "",
    );
    assert_eq!(
        put(&srv, ALICE, "/alice/calendar/lunch.ics", &lunch).status,
        201
    );
    let r = srv
        .request("MOVE", "/bob/calendar/lunch-1.ics")
        .auth(BOB.0, BOB.1)
        .header("Destination", "/bob/extra/lunch-1.ics")
        .send();
    assert_eq!(r.status, 201, "between calendars: {}", r.body);
    assert!(
        !on_disk("alice/calendar/lunch.ics")
            .unwrap()
            .contains("DECLINED"),
        "a move between calendars is no answer"
    );
    let r = srv
        .request("DELETE", "/bob/extra/")
        .auth(BOB.0, BOB.1)
        .send();
    assert_eq!(r.status, 204, "{}", r.body);
    let organizers = on_disk("alice/calendar/lunch.ics")
        .unwrap()
        .replace("\r\n ", "");
    assert!(
        organizers
            .contains("PARTSTAT=DECLINED;RSVP=TRUE;SCHEDULE-STATUS=1.2:mailto:bob@example.com"),
        "{organizers}"
    );
}

/// RFC 6638 §8.1: `Schedule-Reply: F` on an attendee's DELETE sends no reply; §3.2.9:
/// after a reply, the attendee's copy says how it went on its ORGANIZER line.
#[test]
fn schedule_reply_f_keeps_a_delete_quiet_and_a_reply_records_its_status() {
    let (dir, srv) = server(|_| {});
    let on_disk =
        |p: &str| std::fs::read_to_string(dir.path().join("example-data").join(p)).unwrap();
    for uid in ["quiet-1", "loud-1"] {
        let m = meeting(
            uid,
            "mailto:alice@example.com",
            &["mailto:bob@example.com"],
            "",
        );
        assert_eq!(
            put(&srv, ALICE, &format!("/alice/calendar/{uid}.ics"), &m).status,
            201
        );
    }
    let r = srv
        .request("DELETE", "/bob/calendar/quiet-1.ics")
        .auth(BOB.0, BOB.1)
        .header("Schedule-Reply", "F")
        .send();
    assert_eq!(r.status, 204);
    assert!(
        on_disk("alice/calendar/quiet-1.ics")
            .contains("PARTSTAT=NEEDS-ACTION;RSVP=TRUE;SCHEDULE-STATUS=1.2:mailto:bob")
    );
    assert!(inbox(&srv, ALICE).is_empty());
    let r = srv
        .request("DELETE", "/bob/calendar/loud-1.ics")
        .auth(BOB.0, BOB.1)
        .send();
    assert_eq!(r.status, 204);
    assert!(on_disk("alice/calendar/loud-1.ics").contains("PARTSTAT=DECLINED"));
    assert_eq!(inbox(&srv, ALICE).len(), 1);

    let m = meeting(
        "answer-1",
        "mailto:alice@example.com",
        &["mailto:bob@example.com"],
        "",
    );
    assert_eq!(
        put(&srv, ALICE, "/alice/calendar/answer-1.ics", &m).status,
        201
    );
    let copy = get(&srv, BOB, "/bob/calendar/answer-1.ics");
    let accepted = copy.body.replace(
        "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob",
        "PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob",
    );
    let r = put(&srv, BOB, "/bob/calendar/answer-1.ics", &accepted);
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(
        r.header("etag").is_none(),
        "his copy changed after the write: {:?}",
        r.headers
    );
    let copy = on_disk("bob/calendar/answer-1.ics").replace("\r\n ", "");
    assert!(
        copy.contains("ORGANIZER;SCHEDULE-STATUS=1.2:mailto:alice@example.com"),
        "{copy}"
    );
    let replies = inbox(&srv, ALICE);
    assert!(
        replies.iter().all(|m| !m.contains("SCHEDULE-STATUS")),
        "{replies:?}"
    );
}

/// RFC 6638 §3.2.6 and RFC 5546 §3.2.5: an attendee invited to one instance of a
/// series gets that instance alone; one taken off an instance gets a CANCEL of it and a
/// copy without it. carol has never signed in: the invitation makes her home, calendar
/// and inbox (RFC 6638 §3.2.1).
#[test]
fn instances_reach_only_their_attendees_and_a_new_user_gets_a_home() {
    let (dir, srv) = server_with(
        |data| {
            let mut users = std::fs::read_to_string(data.join(".htpasswd")).unwrap();
            users.push_str(&format!("carol:{}\n", bcrypt::hash("carol-pw", 4).unwrap()));
            std::fs::write(data.join(".htpasswd"), users).unwrap();
        },
        "[users.carol]\nemail = \"carol@example.com\"",
    );
    let data = dir.path().join("example-data");
    assert!(!data.join("carol").exists());
    let series = |bob_in_override: bool| {
        let bob = match bob_in_override {
            true => "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.com\r\n",
            false => "",
        };
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:weekly-1\r\n\
             DTSTAMP:20261201T000000Z\r\nDTSTART:20270104T100000Z\r\nDURATION:PT1H\r\n\
             RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Weekly\r\nORGANIZER:mailto:alice@example.com\r\n\
             ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.com\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20261201T000000Z\r\nRECURRENCE-ID:20270111T100000Z\r\n\
             DTSTART:20270111T140000Z\r\nDURATION:PT1H\r\nSUMMARY:Weekly\r\nORGANIZER:mailto:alice@example.com\r\n\
             {bob}ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:carol@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    };
    let r = put(&srv, ALICE, "/alice/calendar/weekly.ics", &series(true));
    assert_eq!(r.status, 201, "{}", r.body);
    // carol's home was made, and she has the one instance she is invited to.
    let carol = std::fs::read_to_string(data.join("carol/calendar/weekly-1.ics")).unwrap();
    assert!(carol.contains("RECURRENCE-ID:20270111T100000Z"), "{carol}");
    assert!(!carol.contains("RRULE"), "{carol}");
    let carol_inbox: Vec<_> = std::fs::read_dir(data.join("carol/inbox"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".ics")
        })
        .collect();
    assert_eq!(carol_inbox.len(), 1);
    let bob = std::fs::read_to_string(data.join("bob/calendar/weekly-1.ics")).unwrap();
    assert!(
        bob.contains("RRULE") && bob.contains("RECURRENCE-ID"),
        "{bob}"
    );

    // Bob taken off the second week: a CANCEL of that week, and his copy without it.
    let stored = std::fs::read_to_string(data.join("alice/calendar/weekly.ics")).unwrap();
    let without_bob = stored.replace("\r\n ", "").replace(
        "ATTENDEE;PARTSTAT=NEEDS-ACTION;SCHEDULE-STATUS=1.2:mailto:bob@example.com\r\nATTENDEE",
        "ATTENDEE",
    );
    assert_ne!(without_bob, stored.replace("\r\n ", ""), "{stored}");
    let r = put(&srv, ALICE, "/alice/calendar/weekly.ics", &without_bob);
    assert_eq!(r.status, 204, "{}", r.body);
    let bob = std::fs::read_to_string(data.join("bob/calendar/weekly-1.ics")).unwrap();
    assert!(
        bob.contains("EXDATE:20270111T100000Z") && !bob.contains("RECURRENCE-ID"),
        "{bob}"
    );
    assert!(bob.contains("RRULE") && !bob.contains("CANCELLED"), "{bob}");
    let cancels: Vec<String> = inbox(&srv, BOB)
        .into_iter()
        .filter(|m| m.contains("METHOD:CANCEL"))
        .collect();
    assert_eq!(cancels.len(), 1, "{cancels:?}");
    assert!(
        cancels[0].contains("RECURRENCE-ID:20270111T100000Z") && !cancels[0].contains("RRULE"),
        "{}",
        cancels[0]
    );
}
