//! The iOS/macOS Calendar handshake of the founding seed `000_892e4c86e91fe4f0.txt`,
//! request by request, with the bodies it shows.

#![allow(missing_docs, clippy::unwrap_used)]

use dirdav_plugin::http::StatusCode;
use dirdav_testkit::TestServer;

/// A request by alice from macOS's CalendarAgent, through the kit: status, headers,
/// body.
async fn send(
    srv: &TestServer,
    method: &str,
    path: &str,
    depth: Option<&str>,
    body: &str,
) -> (StatusCode, Vec<(String, String)>, String) {
    let mut request = srv
        .request(method, path)
        .header("host", "dav.example.com:8008")
        .header("user-agent", "macOS/14.0 (23A344) CalendarAgent/988")
        .user("alice")
        .body(body);
    if let Some(depth) = depth {
        request = request.depth(depth);
    }
    let reply = request.send().await;
    let headers = reply
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    (reply.status, headers, reply.body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn the_ios_calendar_handshake_works_as_the_seed_shows() {
    let srv = TestServer::new()
        .file(
            "alice/calendar/.dav.toml",
            "kind = \"calendar\"\ndisplayname = \"Personal\"\n",
        )
        .file(
            "alice/calendar/e1.ics",
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e1\r\nDTSTART:20111209T140000Z\r\nDTEND:20111209T180000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        )
        .plugin(dirdav_caldav::CalDav::default())
        .plugin(dirdav_discovery::Discovery::default())
        .start()
        .await;

    // 1. PROPFIND on /.well-known/caldav with the seed's body: a redirect to the context path.
    let first = r#"<?xml version="1.0" encoding="UTF-8"?>
<A:propfind xmlns:A="DAV:">
  <A:prop>
    <A:current-user-principal/>
    <A:principal-URL/>
    <A:resourcetype/>
  </A:prop>
</A:propfind>"#;
    let (status, headers, _) =
        send(&srv, "PROPFIND", "/.well-known/caldav", Some("0"), first).await;
    assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        header(&headers, "location"),
        Some("http://dav.example.com:8008/")
    );
    for method in ["GET", "OPTIONS"] {
        let (status, _, _) = send(&srv, method, "/.well-known/carddav", None, "").await;
        assert_eq!(status, StatusCode::MOVED_PERMANENTLY, "{method}");
    }

    // 2. The same PROPFIND on the context path: 207 with current-user-principal.
    let (status, headers, xml) = send(&srv, "PROPFIND", "/", Some("0"), first).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert!(header(&headers, "dav").unwrap().contains("calendar-access"));
    assert!(
        xml.contains(
            "<d:current-user-principal><d:href>/alice/</d:href></d:current-user-principal>"
        ),
        "{xml}"
    );
    assert!(xml.contains("<d:resourcetype><d:collection/></d:resourcetype>"));

    // 3. OPTIONS on the principal: the DAV header names what the server does.
    let (status, headers, _) = send(&srv, "OPTIONS", "/alice/", None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, "dav"),
        Some("1, 3, extended-mkcol, calendar-access")
    );

    // 4. The principal PROPFIND (the seed's body; its `/&gt` is a transcription slip of
    //    the page, a real client sends `/>`).
    let principal = r#"<?xml version="1.0" encoding="UTF-8"?>
<A:propfind xmlns:A="DAV:">
  <A:prop>
    <C:calendar-home-set xmlns:C="urn:ietf:params:xml:ns:caldav"/>
    <C:calendar-user-address-set xmlns:C="urn:ietf:params:xml:ns:caldav"/>
    <A:current-user-principal/>
    <A:displayname/>
    <B:dropbox-home-URL xmlns:B="http://calendarserver.org/ns/"/>
    <B:email-address-set xmlns:B="http://calendarserver.org/ns/"/>
    <B:notification-URL xmlns:B="http://calendarserver.org/ns/"/>
    <A:principal-collection-set/>
    <A:principal-URL/>
    <A:resource-id/>
    <C:schedule-inbox-URL xmlns:C="urn:ietf:params:xml:ns:caldav"/>
    <C:schedule-outbox-URL xmlns:C="urn:ietf:params:xml:ns:caldav"/>    <A:supported-report-set/>
  </A:prop>
</A:propfind>"#;
    let (status, _, xml) = send(&srv, "PROPFIND", "/alice/", Some("0"), principal).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    for found in [
        "<cal:calendar-home-set><d:href>/alice/</d:href></cal:calendar-home-set>",
        "<cal:calendar-user-address-set><d:href>/alice/</d:href></cal:calendar-user-address-set>",
        "<d:current-user-principal><d:href>/alice/</d:href></d:current-user-principal>",
        "<d:principal-collection-set><d:href>/</d:href></d:principal-collection-set>",
        "<d:principal-URL><d:href>/alice/</d:href></d:principal-URL>",
        "<d:supported-report-set>",
    ] {
        assert!(xml.contains(found), "missing {found}: {xml}");
    }
    let missing = xml.split("HTTP/1.1 200 OK").nth(1).unwrap();
    for unknown in [
        "<cs:dropbox-home-URL/>",
        "<cs:email-address-set/>",
        "<cs:notification-URL/>",
        "<cal:schedule-inbox-URL/>",
    ] {
        assert!(
            missing.contains(unknown),
            "{unknown} must be a 404 propstat: {xml}"
        );
    }
    assert!(xml.contains("HTTP/1.1 404 Not Found"));

    // 5. The home listing: each calendar with its ctag and sync token.
    let listing = r#"<A:propfind xmlns:A="DAV:" xmlns:CS="http://calendarserver.org/ns/"><A:prop><A:resourcetype/><CS:getctag/><A:sync-token/></A:prop></A:propfind>"#;
    let (_, _, xml) = send(&srv, "PROPFIND", "/alice/", Some("1"), listing).await;
    assert!(xml.contains("<d:href>/alice/calendar/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cal:calendar/></d:resourcetype><cs:getctag>urn:dirdav:sync:"), "{xml}");

    // 6. The items, then calendar-multiget with Apple's extra properties.
    let etags = r#"<A:propfind xmlns:A="DAV:"><A:prop><A:getcontenttype/><A:getetag/></A:prop></A:propfind>"#;
    let (_, _, xml) = send(&srv, "PROPFIND", "/alice/calendar/", Some("1"), etags).await;
    assert!(xml.contains("<d:href>/alice/calendar/e1.ics</d:href><d:propstat><d:prop><d:getcontenttype>text/calendar; charset=utf-8</d:getcontenttype><d:getetag>\""));
    let multiget = r#"<?xml version="1.0" encoding="UTF-8"?>
<B:calendar-multiget xmlns:B="urn:ietf:params:xml:ns:caldav">
  <A:prop xmlns:A="DAV:">
  <A:getetag/>
  <B:calendar-data/>
  <C:updated-by xmlns:C="http://calendarserver.org/ns/"/>
  <C:created-by xmlns:C="http://calendarserver.org/ns/"/>
  </A:prop>
  <A:href xmlns:A="DAV:">/alice/calendar/e1.ics</A:href>
</B:calendar-multiget>"#;
    let (status, _, xml) = send(&srv, "REPORT", "/alice/calendar/", Some("1"), multiget).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert!(xml.contains("<cal:calendar-data>BEGIN:VCALENDAR"), "{xml}");
    assert!(
        xml.contains("<cs:updated-by/><cs:created-by/></d:prop><d:status>HTTP/1.1 404 Not Found"),
        "{xml}"
    );
}

#[tokio::test]
async fn a_new_user_gets_a_home_with_a_calendar_and_an_address_book() {
    let srv = TestServer::new()
        .folder("alice/custom")
        .plugin(dirdav_caldav::CalDav::default())
        .plugin(dirdav_discovery::Discovery::default())
        .start()
        .await;
    async fn first(srv: &TestServer, user: &str) -> dirdav_testkit::Reply {
        srv.request("PROPFIND", "/")
            .depth("0")
            .user(user)
            .send()
            .await
    }
    let response = first(&srv, "carol").await;
    assert_eq!(response.status, StatusCode::MULTI_STATUS);
    assert_eq!(
        srv.read("carol/calendar/.dav.toml").unwrap(),
        "kind = \"calendar\"\ndisplayname = \"Personal\"\n\n[caldav]\ncomponents = [\"VEVENT\", \"VTODO\"]\n"
    );
    assert_eq!(
        srv.read("carol/contacts/.dav.toml").unwrap(),
        "kind = \"addressbook\"\ndisplayname = \"Contacts\"\n"
    );
    assert!(
        !srv.path("carol/.dav.toml").exists(),
        "the home itself is a plain folder"
    );
    // An existing home is left as it is.
    first(&srv, "alice").await;
    let alice: Vec<_> = std::fs::read_dir(srv.path("alice"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(alice, ["custom"]);
    // Switched off, nothing is created.
    let off = TestServer::new()
        .plugin(dirdav_discovery::Discovery::default().create_homes(false))
        .start()
        .await;
    first(&off, "dave").await;
    assert!(!off.path("dave").exists());
}

#[tokio::test]
async fn principals_are_found_by_name() {
    let srv = TestServer::new()
        .file("bob/.dav.toml", "displayname = \"Bob Builder\"\n")
        .plugin(
            dirdav_discovery::Discovery::default()
                .users(vec!["alice".into(), "bob".into()])
                .create_homes(false),
        )
        .start()
        .await;
    let search = |term: &str| {
        format!(
            r#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:prop><D:displayname/></D:prop>
<D:match>{term}</D:match></D:property-search><D:prop><D:displayname/></D:prop></D:principal-property-search>"#
        )
    };
    let (status, _, xml) = send(&srv, "REPORT", "/", Some("0"), &search("builder")).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert!(
        xml.contains(
            "<d:href>/bob/</d:href><d:propstat><d:prop><d:displayname>Bob Builder</d:displayname>"
        ),
        "{xml}"
    );
    assert!(!xml.contains("/alice/"));
    let (_, _, xml) = send(&srv, "REPORT", "/", Some("0"), &search("")).await;
    assert_eq!(
        xml.matches("<d:response>").count(),
        2,
        "an empty match lists everyone: {xml}"
    );
    assert!(xml.contains(
        "<d:href>/alice/</d:href><d:propstat><d:prop><d:displayname>alice</d:displayname>"
    ));
    let (status, _, xml) = send(
        &srv,
        "REPORT",
        "/",
        Some("0"),
        r#"<D:principal-search-property-set xmlns:D="DAV:"/>"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        xml.contains("<d:principal-search-property><d:prop><d:displayname/></d:prop>"),
        "{xml}"
    );
}

/// The CardDAV equivalent, as seed `001_4f7ce248e61ec003.txt` describes it: context path,
/// current user principal, features on the principal, home set, address books.
#[tokio::test]
async fn the_carddav_discovery_sequence_of_seed_001() {
    let srv = TestServer::new()
        .file(
            "alice/contacts/.dav.toml",
            "kind = \"addressbook\"\ndisplayname = \"Contacts\"\n",
        )
        .plugin(dirdav_carddav::CardDav::default())
        .plugin(dirdav_discovery::Discovery::default())
        .start()
        .await;
    let (status, headers, _) = send(&srv, "PROPFIND", "/.well-known/carddav", Some("0"), "").await;
    assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        header(&headers, "location"),
        Some("http://dav.example.com:8008/")
    );
    let cup = r#"<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>"#;
    let (_, headers, xml) = send(&srv, "PROPFIND", "/", Some("0"), cup).await;
    assert!(header(&headers, "dav").unwrap().contains("addressbook"));
    assert!(
        xml.contains(
            "<d:current-user-principal><d:href>/alice/</d:href></d:current-user-principal>"
        )
    );
    let (status, headers, _) = send(&srv, "OPTIONS", "/alice/", None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, "dav"),
        Some("1, 3, extended-mkcol, addressbook")
    );
    let home = r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><prop><C:addressbook-home-set/><principal-URL/></prop></propfind>"#;
    let (_, _, xml) = send(&srv, "PROPFIND", "/alice/", Some("0"), home).await;
    assert!(
        xml.contains(
            "<card:addressbook-home-set><d:href>/alice/</d:href></card:addressbook-home-set>"
        ),
        "{xml}"
    );
    let listing = r#"<propfind xmlns="DAV:"><prop><resourcetype/><displayname/></prop></propfind>"#;
    let (_, _, xml) = send(&srv, "PROPFIND", "/alice/", Some("1"), listing).await;
    assert!(xml.contains("<d:href>/alice/contacts/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype><d:displayname>Contacts</d:displayname>"), "{xml}");
}

/// A principal says the name it is found by: its home's own `displayname`, else the
/// configured one, else the user name; PROPFIND and principal search agree.
#[tokio::test]
async fn a_principal_is_named_as_it_is_found() {
    let setup = TestServer::new()
        .folder("alice")
        .file("bob/.dav.toml", "displayname = \"Bob Builder\"\n")
        .folder("carol")
        .folder("shared");
    let info = |name: &str| dirdav_discovery::UserInfo {
        displayname: Some(name.to_owned()),
        email: None,
    };
    let srv = setup
        .plugin(
            dirdav_discovery::Discovery::default()
                .users(vec!["alice".into(), "bob".into(), "carol".into()])
                .user_info(
                    [
                        ("alice".to_owned(), info("Alice Example")),
                        ("bob".to_owned(), info("Robert")),
                    ]
                    .into_iter()
                    .collect(),
                )
                .create_homes(false),
        )
        .start()
        .await;
    let propfind = r#"<d:propfind xmlns:d="DAV:"><d:prop><d:displayname/></d:prop></d:propfind>"#;
    for (home, name) in [
        ("alice", "Alice Example"),
        ("bob", "Bob Builder"),
        ("carol", "carol"),
    ] {
        let (status, _, xml) =
            send(&srv, "PROPFIND", &format!("/{home}/"), Some("0"), propfind).await;
        assert_eq!(status, StatusCode::MULTI_STATUS);
        assert!(
            xml.contains(&format!("<d:displayname>{name}</d:displayname>")),
            "{home}: {xml}"
        );
        let search = format!(
            r#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:prop><D:displayname/></D:prop>
<D:match>{name}</D:match></D:property-search><D:prop><D:displayname/></D:prop></D:principal-property-search>"#
        );
        let (_, _, xml) = send(&srv, "REPORT", "/", Some("0"), &search).await;
        assert!(
            xml.contains(&format!("<d:href>/{home}/</d:href>")),
            "{name}: {xml}"
        );
    }
    // A folder that is nobody's home gets no name it was not given.
    let (_, _, xml) = send(&srv, "PROPFIND", "/shared/", Some("0"), propfind).await;
    assert!(xml.contains("404 Not Found"), "{xml}");
}
