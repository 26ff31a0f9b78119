//! The birthdays calendar as a calendar client sees it, through CalDAV.

use dirdav_testkit::{TestServer, hrefs};

const CAROL: &str =
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:Carol Díaz\r\nBDAY:1985-04-12\r\nEND:VCARD\r\n";
const DANA: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:d1\r\nFN:Dana\r\nEND:VCARD\r\n";
const ERIK: &str =
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:e1\r\nFN:Erik\r\nBDAY:--06-30\r\nEND:VCARD\r\n";

async fn server() -> TestServer {
    TestServer::new()
        .file("alice/contacts/.dav.toml", "kind = \"addressbook\"\n")
        .file("alice/contacts/carol.vcf", CAROL)
        .file("alice/contacts/dana.vcf", DANA)
        .file("alice/calendar/.dav.toml", "kind = \"calendar\"\n")
        .plugin(dirdav_caldav::CalDav::default())
        .plugin(dirdav_carddav::CardDav::default())
        .plugin(dirdav_birthdays::Birthdays)
        .start()
        .await
}

fn member(card: &str, what: &str) -> String {
    let id = &dirdav_plugin_hash(card)[..16];
    format!("/alice/birthdays/{id}-{what}.ics")
}

fn dirdav_plugin_hash(path: &str) -> String {
    blake3::hash(path.as_bytes()).to_hex().to_string()
}

const SYNC: &str = r#"<sync-collection xmlns="DAV:"><sync-token>TOKEN</sync-token><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#;

fn query(start: &str, end: &str) -> String {
    format!(
        r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
    )
}

#[tokio::test]
async fn the_home_lists_a_calendar_of_the_cards_birthdays() {
    let srv = server().await;
    let home = srv
        .request("PROPFIND", "/alice/")
        .user("alice")
        .depth("1")
        .body(r#"<propfind xmlns="DAV:"><prop><resourcetype/><displayname/></prop></propfind>"#)
        .send()
        .await;
    assert_eq!(home.status, 207);
    let listed = home
        .body
        .split("<d:response>")
        .find(|r| r.contains("<d:href>/alice/birthdays/</d:href>"));
    let listed = listed.unwrap_or_else(|| panic!("{}", home.body));
    assert!(listed.contains("<cal:calendar/>"), "{listed}");
    assert!(
        listed.contains("<d:displayname>Birthdays</d:displayname>"),
        "{listed}"
    );

    let calendar = srv
        .request("PROPFIND", "/alice/birthdays/")
        .user("alice")
        .depth("1")
        .send()
        .await;
    assert_eq!(
        hrefs(&calendar.body),
        [
            "/alice/birthdays/".to_owned(),
            member("alice/contacts/carol.vcf", "birthday")
        ]
    );

    let event = srv
        .request("GET", &member("alice/contacts/carol.vcf", "birthday"))
        .user("alice")
        .send()
        .await;
    assert_eq!(event.status, 200);
    assert_eq!(
        event.header("content-type"),
        Some("text/calendar; charset=utf-8")
    );
    assert!(
        event.body.contains("DTSTART;VALUE=DATE:19850412\r\n"),
        "{}",
        event.body
    );
    assert!(
        event.body.contains("SUMMARY:Birthday: Carol Díaz\r\n"),
        "{}",
        event.body
    );
    let etag = event.header("etag").unwrap_or_default().to_owned();
    let again = srv
        .request("GET", &member("alice/contacts/carol.vcf", "birthday"))
        .user("alice")
        .header("If-None-Match", &etag)
        .send()
        .await;
    assert_eq!(again.status, 304);
}

#[tokio::test]
async fn time_ranges_find_the_yearly_events_through_caldav() {
    let srv = server().await;
    let april = srv
        .request("REPORT", "/alice/birthdays/")
        .user("alice")
        .depth("1")
        .body(query("20270401T000000Z", "20270501T000000Z"))
        .send()
        .await;
    assert_eq!(april.status, 207, "{}", april.body);
    assert_eq!(
        hrefs(&april.body),
        [member("alice/contacts/carol.vcf", "birthday")]
    );
    let june = srv
        .request("REPORT", "/alice/birthdays/")
        .user("alice")
        .depth("1")
        .body(query("20270601T000000Z", "20270701T000000Z"))
        .send()
        .await;
    assert_eq!(hrefs(&june.body), Vec::<String>::new(), "{}", june.body);
}

#[tokio::test]
async fn sync_follows_the_cards_and_writes_are_refused() {
    let srv = server().await;
    let sync = |token: &str| {
        srv.request("REPORT", "/alice/birthdays/")
            .user("alice")
            .body(SYNC.replace("TOKEN", token))
            .send()
    };
    let first = sync("").await;
    assert_eq!(first.status, 207, "{}", first.body);
    assert_eq!(
        hrefs(&first.body),
        [member("alice/contacts/carol.vcf", "birthday")]
    );
    let token = first.texts("sync-token").pop().unwrap_or_default();

    let nothing = sync(&token).await;
    assert_eq!(
        hrefs(&nothing.body),
        Vec::<String>::new(),
        "{}",
        nothing.body
    );

    // A new card through the server, and one removed: the calendar follows.
    let put = srv
        .request("PUT", "/alice/contacts/erik.vcf")
        .user("alice")
        .body(ERIK)
        .send()
        .await;
    assert_eq!(put.status, 201);
    let deleted = srv
        .request("DELETE", "/alice/contacts/carol.vcf")
        .user("alice")
        .send()
        .await;
    assert_eq!(deleted.status, 204);
    let after = sync(&token).await;
    let changed = after.body.split("<d:response>").skip(1).collect::<Vec<_>>();
    assert_eq!(changed.len(), 2, "{}", after.body);
    let erik = member("alice/contacts/erik.vcf", "birthday");
    let carol = member("alice/contacts/carol.vcf", "birthday");
    assert!(
        changed
            .iter()
            .any(|r| r.contains(&erik) && r.contains("200 OK")),
        "{}",
        after.body
    );
    assert!(
        changed
            .iter()
            .any(|r| r.contains(&carol) && r.contains("404 Not Found")),
        "{}",
        after.body
    );
    assert_ne!(after.texts("sync-token").pop(), Some(token));

    // Read-only: nothing can be written into it, by its owner neither.
    let refused = [
        srv.request("PUT", "/alice/birthdays/new.ics").user("alice").body("x").send().await,
        srv.request("DELETE", &erik).user("alice").send().await,
        srv.request("PROPPATCH", "/alice/birthdays/").user("alice").body(r#"<propertyupdate xmlns="DAV:"><set><prop><displayname>B</displayname></prop></set></propertyupdate>"#).send().await,
        srv.request("MKCOL", "/alice/birthdays/").user("alice").send().await,
        srv.request("COPY", "/alice/contacts/erik.vcf").user("alice").header("Destination", "/alice/birthdays/e.ics").send().await,
    ];
    for reply in refused {
        assert_eq!(reply.status, 403, "{}", reply.body);
    }
    assert!(!srv.path("alice/birthdays").exists());
}

#[tokio::test]
async fn other_homes_books_count_only_when_shared_and_homes_without_books_have_none() {
    // No access rules: everything is open, but bob's book is not shared with alice.
    let srv = TestServer::new()
        .file("alice/contacts/.dav.toml", "kind = \"addressbook\"\n")
        .file("alice/contacts/carol.vcf", CAROL)
        .file("bob/contacts/.dav.toml", "kind = \"addressbook\"\n")
        .file("bob/contacts/erik.vcf", ERIK)
        .file("photos/a.jpg", "jpeg")
        .plugin(dirdav_caldav::CalDav::default())
        .plugin(dirdav_carddav::CardDav::default())
        .plugin(dirdav_birthdays::Birthdays)
        .start()
        .await;
    let alice = srv
        .request("PROPFIND", "/alice/birthdays/")
        .user("alice")
        .depth("1")
        .send()
        .await;
    assert_eq!(
        hrefs(&alice.body),
        [
            "/alice/birthdays/".to_owned(),
            member("alice/contacts/carol.vcf", "birthday")
        ]
    );
    let photos = srv
        .request("PROPFIND", "/photos/")
        .user("alice")
        .depth("1")
        .send()
        .await;
    assert_eq!(photos.status, 207);
    assert!(!photos.body.contains("birthdays"), "{}", photos.body);
    let none = srv
        .request("PROPFIND", "/photos/birthdays/")
        .user("alice")
        .send()
        .await;
    assert_eq!(none.status, 404);
}
