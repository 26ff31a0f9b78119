//! `DAV:expand-property` and `DAV:principal-match` as Apple clients and InfCloud send
//! them, on a tree of two users whose homes are private to each.

#![allow(missing_docs, clippy::unwrap_used)]

use dirdav_plugin::http::StatusCode;
use dirdav_testkit::{Reply, TestServer};

async fn server() -> TestServer {
    let mut setup = TestServer::new();
    for (user, name) in [("alice", "Alice's"), ("bob", "Bob's")] {
        setup = setup
            .file(
                &format!("{user}/calendar/.dav.toml"),
                format!("kind = \"calendar\"\ndisplayname = \"{name}\"\n"),
            )
            .file(
                &format!("{user}/.dav.toml"),
                format!("displayname = \"{name} home\"\n"),
            );
    }
    setup
        .plugin(dirdav_caldav::CalDav::default())
        .plugin(dirdav_discovery::Discovery::default().create_homes(false))
        .plugin(dirdav_acl::Acl::default().users(["alice".to_owned(), "bob".to_owned()]))
        .start()
        .await
}

/// A REPORT of Depth 0 by alice.
async fn report(srv: &TestServer, path: &str, body: &str) -> Reply {
    srv.request("REPORT", path)
        .depth("0")
        .user("alice")
        .body(body)
        .send()
        .await
}

#[tokio::test]
async fn expand_property_follows_hrefs_to_what_they_name() {
    let srv = server().await;
    // What Apple's CalendarAgent sends to the principal for delegation (proxies dirdav
    // does not have: 404 in the propstat, not an error), with a property that does
    // exist and points somewhere.
    let Reply {
        status, body: xml, ..
    } = report(
        &srv,
        "/alice/",
        r#"<?xml version="1.0" encoding="UTF-8"?>
<A:expand-property xmlns:A="DAV:">
  <A:property name="calendar-proxy-write-for" namespace="http://calendarserver.org/ns/">
    <A:property name="displayname" namespace="DAV:"/>
    <A:property name="calendar-user-address-set" namespace="urn:ietf:params:xml:ns:caldav"/>
  </A:property>
  <A:property name="calendar-home-set" namespace="urn:ietf:params:xml:ns:caldav">
    <A:property name="displayname"/>
    <A:property name="resourcetype"/>
  </A:property>
  <A:property name="principal-URL"/>
</A:expand-property>"#,
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{xml}");
    assert_eq!(xml.matches("<d:response>").count(), 2, "{xml}");
    // The home set's href became the home's own response, with the nested properties.
    assert!(
        xml.contains(
            "<cal:calendar-home-set><d:response><d:href>/alice/</d:href><d:propstat><d:prop>\
<d:displayname>Alice's home</d:displayname><d:resourcetype><d:collection/></d:resourcetype></d:prop>\
<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></cal:calendar-home-set>"
        ),
        "{xml}"
    );
    // A property without nested ones keeps its plain href.
    assert!(
        xml.contains("<d:principal-URL><d:href>/alice/</d:href></d:principal-URL>"),
        "{xml}"
    );
    assert!(
        xml.contains("<cs:calendar-proxy-write-for/>") && xml.contains("404 Not Found"),
        "{xml}"
    );
}

#[tokio::test]
async fn principal_match_finds_the_user_and_what_they_own() {
    let srv = server().await;
    let Reply { status, body: xml, .. } = report(
        &srv,
        "/",
        r#"<D:principal-match xmlns:D="DAV:"><D:self/><D:prop><D:displayname/></D:prop></D:principal-match>"#,
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{xml}");
    assert_eq!(xml.matches("<d:response>").count(), 1, "{xml}");
    assert!(
        xml.contains("<d:href>/alice/</d:href><d:propstat><d:prop><d:displayname>Alice's home</d:displayname>"),
        "{xml}"
    );
    // By owner: alice's home and calendar, none of bob's (which she may not see).
    let Reply { status, body: xml, .. } = report(
        &srv,
        "/",
        r#"<D:principal-match xmlns:D="DAV:"><D:principal-property><D:owner/></D:principal-property></D:principal-match>"#,
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{xml}");
    let hrefs: Vec<&str> = xml
        .split("<d:href>")
        .skip(1)
        .map(|s| s.split("</d:href>").next().unwrap())
        .collect();
    assert_eq!(hrefs, ["/alice/", "/alice/calendar/"], "{xml}");
    // Neither form: a client error, not a crash.
    let Reply { status, .. } = report(
        &srv,
        "/",
        r#"<D:principal-match xmlns:D="DAV:"><D:prop/></D:principal-match>"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
