//! Hostile and careless input: refused with a 4xx, and nothing on disk changes.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use http::StatusCode;

#[tokio::test]
async fn traversal_is_refused_and_changes_nothing() {
    let fx = Fixture::new();
    let outside = fx.root().parent().unwrap().join("outside-target");
    let srv = fx.server().await;
    let before = fx.snapshot();
    for path in [
        "/../outside-target",
        "/docs/%2e%2e/%2e%2e/outside-target",
        "/docs/..%2Foutside-target",
        "/docs%5C..%5Cx",
        "/%00",
    ] {
        for method in ["GET", "PUT", "MKCOL", "DELETE", "PROPFIND"] {
            let r = req(method, path).body("x").send(&srv).await;
            assert!(r.status.is_client_error(), "{method} {path}: {}", r.status);
        }
    }
    let r = req("COPY", "/docs/readme.txt")
        .header("destination", "/docs/%2e%2e/%2e%2e/outside-target")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = req("MOVE", "/docs/readme.txt")
        .header("destination", "http://evil/../../outside-target")
        .send(&srv)
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert!(!outside.exists());
    assert_eq!(fx.snapshot(), before);
}

#[tokio::test]
async fn dotfiles_are_never_served_listed_or_written() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let before = fx.snapshot();
    for path in ["/.htpasswd", "/alice/calendar/.dav.toml", "/%2Ehtpasswd"] {
        assert_eq!(
            req("GET", path).send(&srv).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(
            req("PROPFIND", path).send(&srv).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(
            req("PUT", path).body("owned").send(&srv).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        assert_eq!(
            req("DELETE", path).send(&srv).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        assert_eq!(
            req("PROPPATCH", path).body("<x/>").send(&srv).await.status,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        req("MKCOL", "/.git/").send(&srv).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        req("PUT", "/.git/config").body("x").send(&srv).await.status,
        StatusCode::FORBIDDEN
    );
    for dest in ["/docs/.hidden", "/alice/calendar/.dav.toml", "/.htpasswd"] {
        for method in ["COPY", "MOVE"] {
            let r = req(method, "/docs/readme.txt")
                .header("destination", dest)
                .send(&srv)
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} -> {dest}");
        }
    }
    let r = req("MOVE", "/.htpasswd")
        .header("destination", "/docs/stolen")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = req("COPY", "/.htpasswd")
        .header("destination", "/docs/stolen")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = req("PROPFIND", "/")
        .header("depth", "infinity")
        .send(&srv)
        .await;
    assert!(!r.body.contains("htpasswd") && !r.body.contains("dav.toml"));
    assert_eq!(fx.snapshot(), before);
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_leading_outside_are_not_served() {
    let fx = Fixture::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "secret").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), fx.path("docs/link")).unwrap();
    std::os::unix::fs::symlink(outside.path(), fx.path("escape")).unwrap();
    let srv = fx.server().await;
    assert_eq!(
        req("GET", "/docs/link").send(&srv).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        req("GET", "/escape/secret").send(&srv).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        req("PUT", "/escape/new").body("x").send(&srv).await.status,
        StatusCode::CONFLICT
    );
    assert!(!outside.path().join("new").exists());
    let r = req("PROPFIND", "/").send(&srv).await;
    assert!(!r.body.contains("secret") && !r.body.contains("escape"));
}

#[tokio::test]
async fn oversized_bodies_get_413_and_leave_nothing() {
    let fx = Fixture::new();
    let srv = dirdav_core::Server::builder(fx.config().max_body(1024))
        .build()
        .await
        .unwrap();
    let before = fx.snapshot();
    let r = req("PUT", "/docs/readme.txt")
        .body(vec![b'x'; 4096])
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let r = req("PUT", "/docs/big.bin")
        .body(vec![b'x'; 1025])
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(fx.snapshot(), before, "no temporary file, no partial file");
    let r = req("PUT", "/docs/ok.bin")
        .body(vec![b'x'; 1024])
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let huge = format!(
        "<propfind xmlns='DAV:'><prop>{}</prop></propfind>",
        "<getetag/>".repeat(500_000)
    );
    let r = req("PROPFIND", "/")
        .header("depth", "0")
        .body(huge)
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn hostile_xml_gets_400() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let billion = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><propfind xmlns="DAV:"><prop>&lol2;</prop></propfind>"#;
    let deep = format!(
        "<propfind xmlns='DAV:'>{}{}</propfind>",
        "<prop>".repeat(1000),
        "</prop>".repeat(1000)
    );
    let external =
        r#"<!DOCTYPE x SYSTEM "file:///etc/passwd"><propfind xmlns="DAV:"><allprop/></propfind>"#;
    for body in [
        billion,
        deep.as_str(),
        external,
        "<propfind xmlns='DAV:'><prop><x:y/></prop></propfind>",
        "\u{feff}<<<",
    ] {
        let r = req("PROPFIND", "/")
            .header("depth", "0")
            .body(body)
            .send(&srv)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body:.60}");
        let r = req("PROPPATCH", "/docs/").body(body).send(&srv).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body:.60}");
    }
    let r = req("PROPFIND", "/")
        .header("depth", "0")
        .body(vec![0xff, 0xfe, 0x00])
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_broken_dotfile_is_served_plain_and_never_overwritten() {
    let fx = Fixture::new();
    std::fs::write(fx.path("docs/.dav.toml"), "kind = \"calendar\nbroken").unwrap();
    let srv = fx.server().await;
    let r = req("PROPFIND", "/docs/")
        .header("depth", "0")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS);
    let body = r#"<propertyupdate xmlns="DAV:"><set><prop><displayname>x</displayname></prop></set></propertyupdate>"#;
    let r = req("PROPPATCH", "/docs/").body(body).send(&srv).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        fx.read("docs/.dav.toml").unwrap(),
        "kind = \"calendar\nbroken"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_never_tear_a_file() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let bodies: Vec<String> = (0..16).map(|i| format!("{i:02}").repeat(50_000)).collect();
    let mut tasks = Vec::new();
    for body in bodies.clone() {
        let srv = srv.clone();
        tasks.push(tokio::spawn(async move {
            req("PUT", "/docs/contended.txt")
                .body(body)
                .send(&srv)
                .await
                .status
        }));
    }
    let mut created = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(
            status == StatusCode::CREATED || status == StatusCode::NO_CONTENT,
            "{status}"
        );
        created += usize::from(status == StatusCode::CREATED);
    }
    assert_eq!(created, 1, "exactly one writer created the file");
    let on_disk = fx.read("docs/contended.txt").unwrap();
    assert!(bodies.contains(&on_disk), "the file is one whole version");
    let r = req("GET", "/docs/contended.txt").send(&srv).await;
    assert_eq!(r.body, on_disk);
    let leftovers: Vec<_> = std::fs::read_dir(fx.path("docs"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".dirdav-tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_if_match_updates_let_exactly_one_win() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let etag = req("GET", "/docs/readme.txt")
        .send(&srv)
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (srv, etag) = (srv.clone(), etag.clone());
        tasks.push(tokio::spawn(async move {
            req("PUT", "/docs/readme.txt")
                .header("if-match", &etag)
                .body(format!("v{i}"))
                .send(&srv)
                .await
                .status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::NO_CONTENT)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::PRECONDITION_FAILED)
            .count(),
        7
    );
}

/// A name ending in a multi-byte character once panicked the check for editors'
/// temporaries (it sliced at `len - 4`), dropping the connection.
#[tokio::test]
async fn names_ending_in_multibyte_characters_are_served() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    for name in [
        "x%E2%82%AC%E2%82%AC",
        "%E2%82%AC",
        "Gr%C3%BC%C3%9Fe.tmp%C3%A9",
    ] {
        let path = format!("/docs/{name}");
        let r = req("PUT", &path).body("bytes").send(&srv).await;
        assert_eq!(r.status, StatusCode::CREATED, "{path}");
        let r = req("GET", &path).send(&srv).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (StatusCode::OK, "bytes"),
            "{path}"
        );
    }
    assert_eq!(fx.read("docs/x€€").as_deref(), Some("bytes"));
}
