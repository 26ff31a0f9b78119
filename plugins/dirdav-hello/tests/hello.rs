//! The hello plugin through the real service, with the test kit.

use dirdav_testkit::{TestServer, expect_file};

const GREETING: &str = r#"<propfind xmlns="DAV:"><prop><greeting xmlns="https://dirdav.example/ns/hello"/></prop></propfind>"#;

#[tokio::test]
async fn collections_greet_whoever_asks_and_files_do_not() {
    let srv = TestServer::new()
        .file("alice/notes.txt", "hi")
        .plugin(dirdav_hello::Hello)
        .start()
        .await;
    let asked = |user: Option<&str>| {
        let request = srv.request("PROPFIND", "/alice/").depth("1").body(GREETING);
        match user {
            Some(user) => request.user(user),
            None => request,
        }
    };
    expect_file!["golden/greeting-alice.txt"]
        .assert_eq(&asked(Some("alice")).send().await.golden());
    let anonymous = asked(None).send().await;
    assert_eq!(
        anonymous.texts("greeting"),
        ["Hello, stranger!"],
        "{}",
        anonymous.body
    );
}

#[tokio::test]
async fn the_dav_header_names_the_token() {
    let srv = TestServer::new().plugin(dirdav_hello::Hello).start().await;
    let options = srv.request("OPTIONS", "/").send().await;
    assert_eq!(options.header("dav"), Some("1, 3, extended-mkcol, hello"));
}
