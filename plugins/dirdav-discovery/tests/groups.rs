//! Group principals from `[groups]`: what a client finds when it follows
//! `DAV:group-membership` from a user's principal, with and without a base path.

#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::BTreeMap;

use dirdav_plugin::http::StatusCode;
use dirdav_testkit::{Reply, TestServer};

async fn server(base: &str) -> TestServer {
    let groups = BTreeMap::from([
        (
            "family".to_owned(),
            vec!["alice".to_owned(), "bob".to_owned()],
        ),
        (
            "choir".to_owned(),
            vec!["alice".to_owned(), "carol".to_owned()],
        ),
    ]);
    let base = base.to_owned();
    TestServer::new()
        .folder("alice")
        .folder("bob")
        .folder("carol")
        .plugin(
            dirdav_discovery::Discovery::default()
                .create_homes(false)
                .groups(groups),
        )
        .config(move |c| c.base_path(&base))
        .start()
        .await
}

const PROPS: &str = r#"<d:propfind xmlns:d="DAV:"><d:prop><d:group-membership/><d:group-member-set/><d:resource-id/><d:displayname/><d:resourcetype/><d:calendar-proxy-read-for/></d:prop></d:propfind>"#;

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text
        .find(open)
        .unwrap_or_else(|| panic!("{open} in {text}"))
        + open.len();
    &text[start..start + text[start..].find(close).unwrap()]
}

#[tokio::test]
async fn users_name_their_groups_and_groups_their_members() {
    let srv = server("").await;
    let Reply {
        status, body: xml, ..
    } = srv
        .request("PROPFIND", "/bob/")
        .depth("0")
        .user("alice")
        .body(PROPS)
        .send()
        .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{xml}");
    assert_eq!(
        between(&xml, "<d:group-membership>", "</d:group-membership>"),
        "<d:href>/.groups/family/</d:href>"
    );
    let bob_id = between(&xml, "<d:resource-id><d:href>", "</d:href>").to_owned();
    assert!(
        bob_id.starts_with("urn:uuid:") && bob_id.len() == 45,
        "{bob_id}"
    );

    let Reply { body: xml, .. } = srv
        .request("PROPFIND", "/alice/")
        .depth("0")
        .user("alice")
        .body(PROPS)
        .send()
        .await;
    assert_eq!(
        between(&xml, "<d:group-membership>", "</d:group-membership>"),
        "<d:href>/.groups/choir/</d:href><d:href>/.groups/family/</d:href>"
    );
    let alice_id = between(&xml, "<d:resource-id><d:href>", "</d:href>").to_owned();
    assert_ne!(alice_id, bob_id);
    let Reply { body: again, .. } = srv
        .request("PROPFIND", "/alice/")
        .depth("0")
        .user("alice")
        .body(PROPS)
        .send()
        .await;
    assert!(again.contains(&alice_id), "resource-id is stable");

    let Reply {
        status, body: xml, ..
    } = srv
        .request("PROPFIND", "/.groups/family/")
        .depth("0")
        .user("alice")
        .body(PROPS)
        .send()
        .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{xml}");
    assert!(xml.contains("<d:href>/.groups/family/</d:href>"), "{xml}");
    assert_eq!(
        between(&xml, "<d:group-member-set>", "</d:group-member-set>"),
        "<d:href>/alice/</d:href><d:href>/bob/</d:href>"
    );
    assert!(xml.contains("<d:principal/>"), "{xml}");
    assert!(
        xml.contains("<d:displayname>family</d:displayname>"),
        "{xml}"
    );
    assert!(xml.contains("<d:group-membership/>"), "{xml}");
    // Apple's proxy properties are not there: a 404 propstat, not an error.
    assert!(
        xml.contains("calendar-proxy-read-for") && xml.contains("404"),
        "{xml}"
    );
    let family_id = between(&xml, "<d:resource-id><d:href>", "</d:href>").to_owned();
    assert!(![&alice_id, &bob_id].contains(&&family_id));

    let Reply { status, .. } = srv
        .request("PROPFIND", "/.groups/nobody/")
        .depth("0")
        .user("alice")
        .body(PROPS)
        .send()
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let Reply { status, .. } = srv
        .request("DELETE", "/.groups/family/")
        .depth("0")
        .user("alice")
        .body("")
        .send()
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let Reply { status, .. } = srv
        .request("OPTIONS", "/.groups/family/")
        .depth("0")
        .user("alice")
        .body("")
        .send()
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn group_principals_live_below_the_base_path() {
    let srv = server("/dav").await;
    let Reply { body: xml, .. } = srv
        .request("PROPFIND", "/dav/carol/")
        .depth("0")
        .user("alice")
        .body(PROPS)
        .send()
        .await;
    assert_eq!(
        between(&xml, "<d:group-membership>", "</d:group-membership>"),
        "<d:href>/dav/.groups/choir/</d:href>"
    );
    let Reply {
        status, body: xml, ..
    } = srv
        .request("PROPFIND", "/dav/.groups/choir/")
        .depth("0")
        .user("alice")
        .body(PROPS)
        .send()
        .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{xml}");
    assert_eq!(
        between(&xml, "<d:group-member-set>", "</d:group-member-set>"),
        "<d:href>/dav/alice/</d:href><d:href>/dav/carol/</d:href>"
    );
    let Reply { status, .. } = srv
        .request("PROPFIND", "/.groups/choir/")
        .depth("0")
        .user("alice")
        .body(PROPS)
        .send()
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
