//! The `[accept]` rule through the real service, with the test kit.

use dirdav_testkit::TestServer;

async fn server(accept: &str) -> TestServer {
    TestServer::new()
        .file("photos/.dav.toml", format!("[accept]\n{accept}\n"))
        .file("docs/notes.txt", "notes")
        .plugin(dirdav_accept::AcceptPlugin)
        .start()
        .await
}

#[tokio::test]
async fn a_folder_takes_only_what_its_settings_name() {
    let srv = server(r#"extensions = ["jpg", "png"]"#).await;
    for name in ["a.jpg", "IMG_0001.JPG", "b.png"] {
        let put = srv
            .request("PUT", &format!("/photos/{name}"))
            .body("x")
            .send()
            .await;
        assert_eq!(put.status, 201, "{name}: {}", put.body);
    }
    let refused = [
        srv.request("PUT", "/photos/notes.txt")
            .body("x")
            .send()
            .await,
        srv.request("PUT", "/photos/no-extension")
            .body("x")
            .send()
            .await,
        srv.request("COPY", "/docs/notes.txt")
            .header("Destination", "/photos/n.txt")
            .send()
            .await,
        srv.request("MOVE", "/docs/notes.txt")
            .header("Destination", "/photos/n.txt")
            .send()
            .await,
    ];
    for reply in refused {
        assert_eq!(reply.status, 403, "{}", reply.body);
    }
    assert_eq!(srv.read("photos/notes.txt"), None);
    assert_eq!(srv.read("photos/n.txt"), None);
    assert_eq!(srv.read("docs/notes.txt").as_deref(), Some("notes"));
    // Other folders are not the rule's business.
    let elsewhere = srv.request("PUT", "/docs/more.txt").body("x").send().await;
    assert_eq!(elsewhere.status, 201);
}

#[tokio::test]
async fn a_typo_in_the_table_is_refused_not_ignored() {
    let srv = server(r#"extension = ["jpg"]"#).await;
    let put = srv.request("PUT", "/photos/a.jpg").body("x").send().await;
    assert_eq!(put.status, 403);
    assert_eq!(srv.read("photos/a.jpg"), None);
    let other = srv.request("PUT", "/docs/a.txt").body("x").send().await;
    assert_eq!(
        other.status, 201,
        "only the folder with the broken table is affected"
    );
}
