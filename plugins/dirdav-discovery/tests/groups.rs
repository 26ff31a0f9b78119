//! Group principals from `[groups]`: what a client finds when it follows
//! `DAV:group-membership` from a user's principal, with and without a base path.

#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::BTreeMap;

use axum::body::Body;
use dirdav_core::{Config, Server, Watch};
use dirdav_plugin::Principal;
use dirdav_plugin::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn server(base: &str) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    for user in ["alice", "bob", "carol"] {
        std::fs::create_dir_all(dir.path().join(user)).unwrap();
    }
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
    let srv = Server::builder(Config::new(dir.path()).base_path(base).watch(Watch::Off))
        .plugin(
            dirdav_discovery::Discovery::default()
                .create_homes(false)
                .groups(groups),
        )
        .build()
        .await
        .unwrap();
    (dir, srv)
}

async fn send(srv: &Server, method: &str, path: &str, body: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("depth", "0")
        .extension(Principal::new("alice"))
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = srv.router().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
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
    let (_dir, srv) = server("").await;
    let (status, xml) = send(&srv, "PROPFIND", "/bob/", PROPS).await;
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

    let (_, xml) = send(&srv, "PROPFIND", "/alice/", PROPS).await;
    assert_eq!(
        between(&xml, "<d:group-membership>", "</d:group-membership>"),
        "<d:href>/.groups/choir/</d:href><d:href>/.groups/family/</d:href>"
    );
    let alice_id = between(&xml, "<d:resource-id><d:href>", "</d:href>").to_owned();
    assert_ne!(alice_id, bob_id);
    let (_, again) = send(&srv, "PROPFIND", "/alice/", PROPS).await;
    assert!(again.contains(&alice_id), "resource-id is stable");

    let (status, xml) = send(&srv, "PROPFIND", "/.groups/family/", PROPS).await;
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

    let (status, _) = send(&srv, "PROPFIND", "/.groups/nobody/", PROPS).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(&srv, "DELETE", "/.groups/family/", "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _) = send(&srv, "OPTIONS", "/.groups/family/", "").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn group_principals_live_below_the_base_path() {
    let (_dir, srv) = server("/dav").await;
    let (_, xml) = send(&srv, "PROPFIND", "/dav/carol/", PROPS).await;
    assert_eq!(
        between(&xml, "<d:group-membership>", "</d:group-membership>"),
        "<d:href>/dav/.groups/choir/</d:href>"
    );
    let (status, xml) = send(&srv, "PROPFIND", "/dav/.groups/choir/", PROPS).await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{xml}");
    assert_eq!(
        between(&xml, "<d:group-member-set>", "</d:group-member-set>"),
        "<d:href>/dav/alice/</d:href><d:href>/dav/carol/</d:href>"
    );
    let (status, _) = send(&srv, "PROPFIND", "/.groups/choir/", PROPS).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
