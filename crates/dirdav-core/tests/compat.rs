//! Trees made by other tools, served as they are and written back in their own format:
//! a Radicale collection root and vdirsyncer vdirs.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use dirdav_core::{Config, Server, Watch};
use dirdav_plugin::xml::Name;
use dirdav_plugin::{Plugin, Registrar};
use http::StatusCode;

/// Registers the two collection kinds, as the CalDAV and CardDAV plugins will.
struct Kinds;

impl Plugin for Kinds {
    fn register(&self, r: &mut Registrar<'_>) {
        r.namespace("urn:ietf:params:xml:ns:caldav", "cal")
            .namespace("urn:ietf:params:xml:ns:carddav", "card")
            .namespace("http://apple.com/ns/ical/", "ical")
            .collection_kind(
                "calendar",
                vec![Name::new("urn:ietf:params:xml:ns:caldav", "calendar")],
            )
            .collection_kind(
                "addressbook",
                vec![Name::new("urn:ietf:params:xml:ns:carddav", "addressbook")],
            );
    }
}

const CARD: &str =
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:Carol\r\nN:;Carol;;;\r\nEND:VCARD\r\n";

fn radicale_store(fx: &Fixture) {
    let cal = fx.path("collection-root/alice/5c3ad2ff-work");
    std::fs::create_dir_all(cal.join(".Radicale.cache/item")).unwrap();
    std::fs::write(
        cal.join(".Radicale.props"),
        r##"{"C:calendar-description": "Team meetings", "C:supported-calendar-component-set": "VEVENT,VTODO", "D:displayname": "Work", "ICAL:calendar-color": "#ff8800ff", "tag": "VCALENDAR"}"##,
    )
    .unwrap();
    std::fs::write(cal.join("event1.ics"), EVENT).unwrap();
    std::fs::write(cal.join(".Radicale.cache/item/event1.ics"), "cache").unwrap();
    std::fs::write(fx.path("collection-root/alice/.Radicale.lock"), "").unwrap();
    let book = fx.path("collection-root/alice/contacts");
    std::fs::create_dir_all(&book).unwrap();
    std::fs::write(
        book.join(".Radicale.props"),
        r#"{"D:displayname": "Contacts", "tag": "VADDRESSBOOK"}"#,
    )
    .unwrap();
    std::fs::write(book.join("carol.vcf"), CARD).unwrap();
}

fn vdir(fx: &Fixture) {
    let holidays = fx.path("vdir/holidays");
    std::fs::create_dir_all(&holidays).unwrap();
    std::fs::write(holidays.join("a.ics"), EVENT).unwrap();
    std::fs::write(holidays.join("b.ics"), EVENT.replace("UID:one", "UID:two")).unwrap();
    std::fs::write(holidays.join("displayname"), "Public holidays\n").unwrap();
    std::fs::write(holidays.join("color"), "#00aa00").unwrap();
    let friends = fx.path("vdir/friends");
    std::fs::create_dir_all(&friends).unwrap();
    std::fs::write(friends.join("carol.vcf"), CARD).unwrap();
}

async fn server(fx: &Fixture) -> Server {
    Server::builder(Config::new(fx.root()).watch(Watch::Off))
        .plugin(Kinds)
        .build()
        .await
        .unwrap()
}

const ASK: &str = r#"<propfind xmlns="DAV:" xmlns:I="http://apple.com/ns/ical/" xmlns:C="urn:ietf:params:xml:ns:caldav">
<prop><resourcetype/><displayname/><I:calendar-color/><C:calendar-description/></prop></propfind>"#;

#[tokio::test]
async fn a_radicale_store_is_served_with_its_names_colors_and_items() {
    let fx = Fixture::new();
    radicale_store(&fx);
    let srv = server(&fx).await;
    let r = req("PROPFIND", "/collection-root/alice/")
        .header("depth", "1")
        .header("brief", "t")
        .body(ASK)
        .send(&srv)
        .await;
    assert!(
        r.body.contains(
            "<d:response><d:href>/collection-root/alice/5c3ad2ff-work/</d:href><d:propstat><d:prop>\
<d:resourcetype><d:collection/><cal:calendar/></d:resourcetype><d:displayname>Work</d:displayname>\
<ical:calendar-color>#ff8800ff</ical:calendar-color><cal:calendar-description>Team meetings</cal:calendar-description>"
        ),
        "{}",
        r.body
    );
    assert!(r.body.contains(
        "<d:href>/collection-root/alice/contacts/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype><d:displayname>Contacts</d:displayname>"
    ));
    assert!(
        !r.body.contains("Radicale"),
        "Radicale's own files never show: {}",
        r.body
    );
    let r = req("PROPFIND", "/collection-root/alice/5c3ad2ff-work/")
        .header("depth", "1")
        .body(ASK)
        .send(&srv)
        .await;
    assert_eq!(r.body.matches("<d:response>").count(), 2);
    let r = req("GET", "/collection-root/alice/5c3ad2ff-work/event1.ics")
        .send(&srv)
        .await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, EVENT));
}

#[tokio::test]
async fn proppatch_on_a_radicale_collection_writes_radicale_props() {
    let fx = Fixture::new();
    radicale_store(&fx);
    let srv = server(&fx).await;
    let body = r#"<propertyupdate xmlns="DAV:" xmlns:I="http://apple.com/ns/ical/">
<set><prop><displayname>Work (old)</displayname><I:calendar-order>4</I:calendar-order></prop></set></propertyupdate>"#;
    let r = req("PROPPATCH", "/collection-root/alice/5c3ad2ff-work/")
        .body(body)
        .send(&srv)
        .await;
    assert!(
        r.body.contains("200 OK") && !r.body.contains("403"),
        "{}",
        r.body
    );
    assert_eq!(
        fx.read("collection-root/alice/5c3ad2ff-work/.Radicale.props")
            .unwrap(),
        r##"{"C:calendar-description":"Team meetings","C:supported-calendar-component-set":"VEVENT,VTODO","D:displayname":"Work (old)","ICAL:calendar-color":"#ff8800ff","tag":"VCALENDAR","ICAL:calendar-order":"4"}"##
    );
    assert!(
        !fx.path("collection-root/alice/5c3ad2ff-work/.dav.toml")
            .exists()
    );
    let r = req("PROPFIND", "/collection-root/alice/5c3ad2ff-work/")
        .header("depth", "0")
        .body(ASK)
        .send(&srv)
        .await;
    assert!(r.body.contains("<d:displayname>Work (old)</d:displayname>"));

    // Items have no properties in Radicale's format: refused, nothing written.
    let before = fx.snapshot();
    let on_item = r#"<propertyupdate xmlns="DAV:"><set><prop><x xmlns="urn:x">1</x></prop></set></propertyupdate>"#;
    let r = req(
        "PROPPATCH",
        "/collection-root/alice/5c3ad2ff-work/event1.ics",
    )
    .body(on_item)
    .send(&srv)
    .await;
    assert!(r.body.contains("403 Forbidden"), "{}", r.body);
    assert_eq!(fx.snapshot(), before);

    // New items keep the href the client chose, beside Radicale's.
    let r = req(
        "PUT",
        "/collection-root/alice/5c3ad2ff-work/new-from-dirdav.ics",
    )
    .body(EVENT)
    .send(&srv)
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(
        fx.path("collection-root/alice/5c3ad2ff-work/new-from-dirdav.ics")
            .is_file()
    );
}

#[tokio::test]
async fn vdirs_are_served_with_their_metadata_files_as_properties() {
    let fx = Fixture::new();
    vdir(&fx);
    let srv = server(&fx).await;
    let r = req("PROPFIND", "/vdir/")
        .header("depth", "1")
        .header("brief", "t")
        .body(ASK)
        .send(&srv)
        .await;
    assert!(r.body.contains(
        "<d:href>/vdir/holidays/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cal:calendar/></d:resourcetype>\
<d:displayname>Public holidays</d:displayname><ical:calendar-color>#00aa00</ical:calendar-color>"
    ), "{}", r.body);
    assert!(r.body.contains("<d:href>/vdir/friends/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><card:addressbook/>"));
    let r = req("PROPFIND", "/vdir/holidays/")
        .header("depth", "1")
        .body(ASK)
        .send(&srv)
        .await;
    assert_eq!(
        r.body.matches("<d:response>").count(),
        3,
        "two items, no metadata files: {}",
        r.body
    );
    assert_eq!(
        req("GET", "/vdir/holidays/displayname")
            .send(&srv)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        req("PUT", "/vdir/holidays/color")
            .body("#000")
            .send(&srv)
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let body = r#"<propertyupdate xmlns="DAV:" xmlns:I="http://apple.com/ns/ical/">
<set><prop><displayname>Holidays</displayname><I:calendar-order>2</I:calendar-order></prop></set>
<remove><prop><I:calendar-color/></prop></remove></propertyupdate>"#;
    let r = req("PROPPATCH", "/vdir/holidays/")
        .body(body)
        .send(&srv)
        .await;
    assert!(!r.body.contains("403"), "{}", r.body);
    assert_eq!(fx.read("vdir/holidays/displayname").unwrap(), "Holidays");
    assert_eq!(fx.read("vdir/holidays/order").unwrap(), "2");
    assert!(!fx.path("vdir/holidays/color").exists());
    assert!(!fx.path("vdir/holidays/.dav.toml").exists());

    let before = fx.snapshot();
    let other = r#"<propertyupdate xmlns="DAV:"><set><prop><x xmlns="urn:x">1</x></prop></set></propertyupdate>"#;
    let r = req("PROPPATCH", "/vdir/holidays/")
        .body(other)
        .send(&srv)
        .await;
    assert!(r.body.contains("403 Forbidden"), "{}", r.body);
    assert_eq!(fx.snapshot(), before);
}
