//! sync-collection (RFC 6578), the persistent sync log, and edits made outside the
//! server, seen as a syncing client sees them.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use dirdav_core::{Server, Watch};
use http::StatusCode;

fn sync_body(token: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level>
<d:prop><d:getetag/></d:prop></d:sync-collection>"#
    )
}

/// The hrefs a sync answer lists (with " 404" for removed ones) and its new token.
async fn sync(srv: &Server, path: &str, token: &str) -> (Vec<String>, String) {
    let r = req("REPORT", path).body(sync_body(token)).send(srv).await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS, "{}", r.body);
    parse_sync(&r.body)
}

fn parse_sync(body: &str) -> (Vec<String>, String) {
    let mut hrefs = Vec::new();
    for response in body.split("<d:response>").skip(1) {
        let href = response
            .split("<d:href>")
            .nth(1)
            .unwrap()
            .split("</d:href>")
            .next()
            .unwrap();
        let gone = response.contains("<d:status>HTTP/1.1 404 Not Found</d:status></d:response>")
            || response.starts_with(&format!("<d:href>{href}</d:href><d:status>HTTP/1.1 404"));
        hrefs.push(if gone {
            format!("{href} 404")
        } else {
            href.to_owned()
        });
    }
    let token = body
        .split("<d:sync-token>")
        .nth(1)
        .unwrap()
        .split("</d:sync-token>")
        .next()
        .unwrap()
        .to_owned();
    (hrefs, token)
}

async fn prop(srv: &Server, path: &str, prop: &str) -> String {
    let body = format!(
        r#"<propfind xmlns="DAV:" xmlns:cs="http://calendarserver.org/ns/"><prop><{prop}/></prop></propfind>"#
    );
    let r = req("PROPFIND", path)
        .header("depth", "0")
        .body(body)
        .send(srv)
        .await;
    let local = prop.rsplit(':').next().unwrap();
    r.body
        .split(&format!("{local}>"))
        .nth(1)
        .unwrap_or("")
        .trim_end_matches("</d:")
        .trim_end_matches("</cs:")
        .to_owned()
}

#[tokio::test]
async fn initial_and_incremental_sync() {
    let fx = Fixture::new();
    let srv = Server::builder(fx.config().watch(Watch::Off))
        .build()
        .await
        .unwrap();
    let (all, token) = sync(&srv, "/alice/calendar/", "").await;
    assert_eq!(all, ["/alice/calendar/one.ics"]);
    assert_eq!(prop(&srv, "/alice/calendar/", "sync-token").await, token);
    assert_eq!(prop(&srv, "/alice/calendar/", "cs:getctag").await, token);

    let (none, same) = sync(&srv, "/alice/calendar/", &token).await;
    assert!(none.is_empty());
    assert_eq!(same, token);

    req("PUT", "/alice/calendar/two.ics")
        .body(EVENT)
        .send(&srv)
        .await;
    req("PUT", "/docs/elsewhere.txt").body("x").send(&srv).await;
    let (changed, token2) = sync(&srv, "/alice/calendar/", &token).await;
    assert_eq!(changed, ["/alice/calendar/two.ics"]);
    assert_ne!(token2, token);
    assert_ne!(
        prop(&srv, "/alice/calendar/", "cs:getctag").await,
        token,
        "ctag moves with changes"
    );

    req("DELETE", "/alice/calendar/one.ics").send(&srv).await;
    req("PUT", "/alice/calendar/two.ics")
        .body("changed")
        .send(&srv)
        .await;
    let (changed, _) = sync(&srv, "/alice/calendar/", &token2).await;
    assert_eq!(
        changed,
        ["/alice/calendar/two.ics", "/alice/calendar/one.ics 404"]
    );
    let (changed, _) = sync(&srv, "/alice/calendar/", &token).await;
    assert_eq!(
        changed,
        ["/alice/calendar/two.ics", "/alice/calendar/one.ics 404"],
        "older tokens see the sum"
    );

    // The whole response, for one change.
    let before = prop(&srv, "/docs/", "sync-token").await;
    req("PROPPATCH", "/docs/readme.txt")
        .body(r#"<propertyupdate xmlns="DAV:"><set><prop><x xmlns="urn:x">1</x></prop></set></propertyupdate>"#)
        .send(&srv)
        .await;
    let r = req("REPORT", "/docs/")
        .body(sync_body(&before))
        .send(&srv)
        .await;
    let etag = req("GET", "/docs/readme.txt")
        .send(&srv)
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let after = prop(&srv, "/docs/", "sync-token").await;
    assert_eq!(
        r.body,
        format!(
            "{XML_HEAD}<d:multistatus xmlns:d=\"DAV:\" xmlns:cs=\"http://calendarserver.org/ns/\">\
<d:response><d:href>/docs/readme.txt</d:href><d:propstat><d:prop><d:getetag>{etag}</d:getetag></d:prop>\
<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response><d:sync-token>{after}</d:sync-token></d:multistatus>\n"
        ),
        "a changed dead property is a change"
    );
}

#[tokio::test]
async fn bad_tokens_get_403_valid_sync_token() {
    let fx = Fixture::new();
    let srv = Server::builder(fx.config().watch(Watch::Off))
        .build()
        .await
        .unwrap();
    let (_, token) = sync(&srv, "/docs/", "").await;
    let (prefix, seq) = token.rsplit_once(':').unwrap();
    for bad in [
        "garbage".to_owned(),
        format!("{prefix}:{}", seq.parse::<u64>().unwrap() + 5),
        token.replace("urn:dirdav:sync:", "urn:dirdav:sync:x"),
        format!("http://other.example/sync/{seq}"),
    ] {
        let r = req("REPORT", "/docs/")
            .body(sync_body(&bad))
            .send(&srv)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{bad}");
        assert_eq!(
            r.body,
            format!("{XML_HEAD}<d:error xmlns:d=\"DAV:\"><d:valid-sync-token/></d:error>\n")
        );
    }
    let r = req("REPORT", "/docs/readme.txt")
        .body(sync_body(""))
        .send(&srv)
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "sync-collection applies to collections only"
    );
    let bad_level = sync_body("").replace("<d:sync-level>1<", "<d:sync-level>2<");
    assert_eq!(
        req("REPORT", "/docs/")
            .body(bad_level)
            .send(&srv)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_token_older_than_the_log_is_refused() {
    let fx = Fixture::new();
    let srv = Server::builder(fx.config().watch(Watch::Off).sync_log_limit(2))
        .build()
        .await
        .unwrap();
    let (_, token) = sync(&srv, "/docs/", "").await;
    for i in 0..3 {
        req("PUT", &format!("/docs/{i}.txt"))
            .body("x")
            .send(&srv)
            .await;
    }
    let r = req("REPORT", "/docs/")
        .body(sync_body(&token))
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("valid-sync-token"));
}

#[tokio::test]
async fn a_limit_truncates_with_507_and_the_token_resumes() {
    let fx = Fixture::new();
    let srv = Server::builder(fx.config().watch(Watch::Off))
        .build()
        .await
        .unwrap();
    let (_, token) = sync(&srv, "/docs/", "").await;
    for name in ["a", "b", "c"] {
        req("PUT", &format!("/docs/{name}.txt"))
            .body(name)
            .send(&srv)
            .await;
    }
    let limited = sync_body(&token).replace(
        "<d:prop>",
        "<d:limit><d:nresults>2</d:nresults></d:limit><d:prop>",
    );
    let r = req("REPORT", "/docs/").body(limited).send(&srv).await;
    let (first, next) = parse_sync(&r.body);
    assert_eq!(first, ["/docs/a.txt", "/docs/b.txt", "/docs/"]);
    assert!(
        r.body.contains(
            "<d:href>/docs/</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status>"
        )
    );
    let (rest, _) = sync(&srv, "/docs/", &next).await;
    assert_eq!(rest, ["/docs/c.txt"]);
}

#[tokio::test]
async fn an_initial_sync_with_a_limit_pages_through_the_members() {
    let fx = Fixture::new();
    let srv = Server::builder(fx.config().watch(Watch::Off))
        .build()
        .await
        .unwrap();
    for name in ["a", "b", "c", "d", "e"] {
        req("PUT", &format!("/docs/{name}.txt"))
            .body(name)
            .send(&srv)
            .await;
    }
    let page = |token: String| {
        let body = sync_body(&token).replace(
            "<d:prop>",
            "<d:limit><d:nresults>2</d:nresults></d:limit><d:prop>",
        );
        let srv = &srv;
        async move {
            let r = req("REPORT", "/docs/").body(body).send(srv).await;
            assert_eq!(r.status, StatusCode::MULTI_STATUS, "{}", r.body);
            let more = r.body.contains("507 Insufficient Storage");
            let (hrefs, token) = parse_sync(&r.body);
            (hrefs, token, more)
        }
    };
    // Pages in key order, each with the collection's 507 but the last.
    let (first, token, more) = page(String::new()).await;
    assert_eq!(first, ["/docs/a.txt", "/docs/b.txt", "/docs/"]);
    assert!(more);
    // Between pages: a member already sent changes, one is removed, one is added
    // after the cursor.
    req("PUT", "/docs/a.txt").body("a2").send(&srv).await;
    req("DELETE", "/docs/b.txt").send(&srv).await;
    req("PUT", "/docs/f.txt").body("f").send(&srv).await;
    let (second, token, more) = page(token).await;
    assert_eq!(second, ["/docs/a.txt", "/docs/b.txt 404", "/docs/"]);
    assert!(more);
    let mut seen = Vec::new();
    let mut token = token;
    loop {
        let (hrefs, next, more) = page(token).await;
        seen.extend(hrefs.into_iter().filter(|h| h != "/docs/"));
        token = next;
        if !more {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            "/docs/c.txt",
            "/docs/d.txt",
            "/docs/e.txt",
            "/docs/f.txt",
            "/docs/readme.txt"
        ]
    );
    // The last token is an ordinary one: nothing more has changed.
    let (after, _) = sync(&srv, "/docs/", &token).await;
    assert!(after.is_empty(), "{after:?}");
}

/// Paging an infinite-depth sync from scratch gives, page by page, what one answer
/// without a limit gives.
#[tokio::test]
async fn an_infinite_initial_sync_pages_through_the_whole_tree() {
    let fx = Fixture::new();
    let srv = Server::builder(fx.config().watch(Watch::Off))
        .build()
        .await
        .unwrap();
    for name in [
        "docs/x/a.txt",
        "docs/x/b.txt",
        "docs/y.txt",
        "docs/x%20y.txt",
    ] {
        let folder = name.rsplit_once('/').unwrap().0;
        req("MKCOL", &format!("/{folder}/")).send(&srv).await;
        req("PUT", &format!("/{name}")).body(name).send(&srv).await;
    }
    let body = |token: &str, limit: Option<usize>| {
        let b = sync_body(token).replace("<d:sync-level>1<", "<d:sync-level>infinite<");
        match limit {
            Some(n) => b.replace(
                "<d:prop>",
                &format!("<d:limit><d:nresults>{n}</d:nresults></d:limit><d:prop>"),
            ),
            None => b,
        }
    };
    let r = req("REPORT", "/").body(body("", None)).send(&srv).await;
    let (whole, _) = parse_sync(&r.body);
    let mut paged = Vec::new();
    let mut token = String::new();
    for _ in 0..100 {
        let r = req("REPORT", "/")
            .body(body(&token, Some(2)))
            .send(&srv)
            .await;
        let more = r.body.contains("507 Insufficient Storage");
        let (hrefs, next) = parse_sync(&r.body);
        paged.extend(hrefs.into_iter().filter(|h| h != "/"));
        token = next;
        if !more {
            break;
        }
    }
    let whole: Vec<_> = whole.into_iter().filter(|h| h != "/").collect();
    assert_eq!(paged, whole);
    assert!(whole.iter().any(|h| h == "/docs/x%20y.txt"), "{whole:?}");
}

#[tokio::test]
async fn infinite_depth_on_a_plain_folder() {
    let fx = Fixture::new();
    let srv = Server::builder(fx.config().watch(Watch::Off))
        .build()
        .await
        .unwrap();
    let body =
        |token: &str| sync_body(token).replace("<d:sync-level>1<", "<d:sync-level>infinite<");
    let r = req("REPORT", "/").body(body("")).send(&srv).await;
    let (all, token) = parse_sync(&r.body);
    assert_eq!(
        all,
        [
            "/alice/",
            "/alice/calendar/",
            "/alice/calendar/one.ics",
            "/docs/",
            "/docs/readme.txt"
        ]
    );
    req("PUT", "/alice/calendar/new.ics")
        .body(EVENT)
        .send(&srv)
        .await;
    req("MKCOL", "/docs/sub/").send(&srv).await;
    req("PUT", "/docs/sub/x.txt").body("x").send(&srv).await;
    let r = req("REPORT", "/").body(body(&token)).send(&srv).await;
    let (changed, _) = parse_sync(&r.body);
    assert_eq!(
        changed,
        ["/alice/calendar/new.ics", "/docs/sub/", "/docs/sub/x.txt"]
    );
}

#[tokio::test]
async fn tokens_survive_a_restart_and_see_what_changed_while_down() {
    let fx = Fixture::new();
    let state = tempfile::tempdir().unwrap();
    let config = || fx.config().watch(Watch::Off).state_dir(state.path());
    let srv = Server::builder(config()).build().await.unwrap();
    let (_, token) = sync(&srv, "/alice/calendar/", "").await;
    req("PUT", "/alice/calendar/two.ics")
        .body(EVENT)
        .send(&srv)
        .await;
    let (_, token_after_put) = sync(&srv, "/alice/calendar/", &token).await;
    drop(srv);

    // While the server is down: an edit, an addition, a deletion, a rename.
    std::fs::write(
        fx.path("alice/calendar/one.ics"),
        EVENT.replace("One", "One, edited"),
    )
    .unwrap();
    std::fs::write(fx.path("alice/calendar/three.ics"), EVENT).unwrap();
    std::fs::rename(
        fx.path("alice/calendar/two.ics"),
        fx.path("alice/calendar/renamed.ics"),
    )
    .unwrap();

    let srv = Server::builder(config()).build().await.unwrap();
    let (changed, _) = sync(&srv, "/alice/calendar/", &token_after_put).await;
    let mut changed_sorted = changed.clone();
    changed_sorted.sort();
    assert_eq!(
        changed_sorted,
        [
            "/alice/calendar/one.ics",
            "/alice/calendar/renamed.ics",
            "/alice/calendar/three.ics",
            "/alice/calendar/two.ics 404"
        ]
    );
    let (from_start, _) = sync(&srv, "/alice/calendar/", &token).await;
    assert_eq!(
        from_start.len(),
        4,
        "the oldest token still works: {from_start:?}"
    );
    let (nothing, _) = sync(&srv, "/docs/", &token).await;
    assert!(
        nothing.is_empty(),
        "untouched collections report nothing after a restart"
    );
}

#[tokio::test]
async fn a_damaged_state_is_rebuilt_and_old_tokens_refused() {
    let fx = Fixture::new();
    let state = tempfile::tempdir().unwrap();
    let config = || fx.config().watch(Watch::Off).state_dir(state.path());
    let srv = Server::builder(config()).build().await.unwrap();
    let (_, token) = sync(&srv, "/docs/", "").await;
    drop(srv);
    std::fs::write(state.path().join("index.redb"), b"this is not a database").unwrap();
    let srv = Server::builder(config()).build().await.unwrap();
    let r = req("REPORT", "/docs/")
        .body(sync_body(&token))
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let (all, _) = sync(&srv, "/docs/", "").await;
    assert_eq!(all, ["/docs/readme.txt"]);
}

#[tokio::test]
async fn a_state_dir_inside_the_tree_is_refused() {
    let fx = Fixture::new();
    let err = Server::builder(fx.config().state_dir(fx.path("docs/state")))
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("inside the served tree"), "{err}");
}

/// Polls a sync until it reports something or two seconds pass.
async fn sync_until_changed(srv: &Server, path: &str, token: &str) -> (Vec<String>, Duration) {
    let started = Instant::now();
    loop {
        let (changed, _) = sync(srv, path, token).await;
        if !changed.is_empty() || started.elapsed() > Duration::from_secs(2) {
            return (changed, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_sees_outside_edits_within_two_seconds() {
    let fx = Fixture::new();
    let srv = Server::builder(fx.config().watch(Watch::Auto))
        .build()
        .await
        .unwrap();
    let (_, token) = sync(&srv, "/alice/calendar/", "").await;
    std::fs::write(fx.path("alice/calendar/outside.ics"), EVENT).unwrap();
    std::fs::write(fx.path("alice/calendar/.outside.ics.swp"), "vim").unwrap();
    let (changed, took) = sync_until_changed(&srv, "/alice/calendar/", &token).await;
    assert_eq!(changed, ["/alice/calendar/outside.ics"], "after {took:?}");

    let (_, token) = sync(&srv, "/", "").await;
    std::fs::write(
        fx.path("alice/calendar/.dav.toml"),
        "kind = \"calendar\"\ndisplayname = \"Renamed in an editor\"\n",
    )
    .unwrap();
    let (changed, _) = sync_until_changed(&srv, "/alice/", &token).await;
    assert_eq!(changed, ["/alice/calendar/"]);
    assert_eq!(
        prop(&srv, "/alice/calendar/", "displayname").await,
        "Renamed in an editor"
    );
}

#[tokio::test]
async fn on_request_mode_rereads_the_folder_before_answering() {
    let fx = Fixture::new();
    let srv = Server::builder(fx.config().watch(Watch::OnRequest))
        .build()
        .await
        .unwrap();
    let (_, token) = sync(&srv, "/docs/", "").await;
    std::fs::remove_file(fx.path("docs/readme.txt")).unwrap();
    std::fs::write(fx.path("docs/new.txt"), "new").unwrap();
    let (changed, _) = sync(&srv, "/docs/", &token).await;
    assert_eq!(changed, ["/docs/new.txt", "/docs/readme.txt 404"]);
    let r = req("PROPFIND", "/docs/")
        .header("depth", "1")
        .send(&srv)
        .await;
    assert!(r.body.contains("/docs/new.txt") && !r.body.contains("readme"));
}
