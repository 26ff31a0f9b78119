//! Request/response tests of every class 1 method and its error paths.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use http::StatusCode;

#[tokio::test]
async fn options_answers_200_with_allow_and_dav_per_resource() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let r = req("OPTIONS", "/docs/").send(&srv).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-length"), Some("0"));
    assert_eq!(r.header("dav"), Some("1, 3, extended-mkcol, hello"));
    assert_eq!(
        r.header("allow"),
        Some("OPTIONS, GET, HEAD, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, MKCOL, REPORT")
    );
    let r = req("OPTIONS", "/docs/readme.txt").send(&srv).await;
    assert_eq!(
        r.header("allow"),
        Some("OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, COPY, MOVE")
    );
    let r = req("OPTIONS", "/docs/new").send(&srv).await;
    assert_eq!(r.header("allow"), Some("OPTIONS, PUT, MKCOL"));
}

#[tokio::test]
async fn every_response_carries_the_dav_header() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    for (m, p) in [
        ("GET", "/docs/readme.txt"),
        ("PROPFIND", "/"),
        ("GET", "/missing"),
        ("LOCK", "/docs/"),
    ] {
        let r = req(m, p).send(&srv).await;
        assert_eq!(
            r.header("dav"),
            Some("1, 3, extended-mkcol, hello"),
            "{m} {p}"
        );
    }
}

#[tokio::test]
async fn unknown_methods_get_405_with_allow() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let r = req("LOCK", "/docs/readme.txt").send(&srv).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.header("allow").unwrap().starts_with("OPTIONS, GET"));
}

#[tokio::test]
async fn put_stores_the_bytes_as_sent_and_get_returns_them() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let body = "BEGIN:VCALENDAR\nversion:2.0\r\nX-ODD: keep  me \r\nEND:VCALENDAR";
    let r = req("PUT", "/alice/calendar/new.ics")
        .body(body)
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let etag = r.header("etag").unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34,
        "{etag}"
    );
    assert_eq!(fx.read("alice/calendar/new.ics").unwrap(), body);

    let r = req("GET", "/alice/calendar/new.ics").send(&srv).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, body);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(
        r.header("content-type"),
        Some("text/calendar; charset=utf-8")
    );
    assert_eq!(
        r.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert!(r.header("last-modified").is_some());

    let r = req("PUT", "/alice/calendar/new.ics")
        .body("changed")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_ne!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(fx.read("alice/calendar/new.ics").unwrap(), "changed");
}

#[tokio::test]
async fn put_preconditions() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let path = "/docs/readme.txt";
    let etag = req("GET", path)
        .send(&srv)
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let r = req("PUT", path)
        .header("if-none-match", "*")
        .body("x")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = req("PUT", path)
        .header("if-match", "\"nope\"")
        .body("x")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(fx.read("docs/readme.txt").unwrap(), "hello world\n");
    let r = req("PUT", path)
        .header("if-match", &etag)
        .body("x")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = req("PUT", "/docs/fresh.txt")
        .header("if-none-match", "*")
        .body("y")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = req("PUT", "/docs/other.txt")
        .header("if-match", "*")
        .body("y")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert!(fx.read("docs/other.txt").is_none());
    // The If header's entity-tag conditions (RFC 4918 §10.4).
    let etag = req("GET", path)
        .send(&srv)
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let r = req("PUT", path)
        .header("if", "([\"stale\"])")
        .body("z")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = req("PUT", path)
        .header("if", &format!("([{etag}])"))
        .body("z")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn put_errors() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let before = fx.snapshot();
    assert_eq!(
        req("PUT", "/nowhere/x.txt")
            .body("x")
            .send(&srv)
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        req("PUT", "/docs/readme.txt/x")
            .body("x")
            .send(&srv)
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        req("PUT", "/docs").body("x").send(&srv).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        req("PUT", "/").body("x").send(&srv).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let r = req("PUT", "/docs/readme.txt")
        .header("content-range", "bytes 0-1/2")
        .body("x")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(fx.snapshot(), before);
}

#[tokio::test]
async fn get_conditionals_and_ranges() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let path = "/docs/readme.txt";
    let first = req("GET", path).send(&srv).await;
    let etag = first.header("etag").unwrap().to_owned();
    let lm = first.header("last-modified").unwrap().to_owned();
    let r = req("GET", path)
        .header("if-none-match", &etag)
        .send(&srv)
        .await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::NOT_MODIFIED, ""));
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let r = req("GET", path)
        .header("if-modified-since", &lm)
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    let r = req("GET", path)
        .header("if-match", "\"other\"")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = req("GET", path)
        .header("if-unmodified-since", "Thu, 01 Jan 1970 00:00:00 GMT")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);

    let r = req("GET", path)
        .header("range", "bytes=0-4")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.body, "hello");
    assert_eq!(r.header("content-range"), Some("bytes 0-4/12"));
    let r = req("GET", path)
        .header("range", "bytes=-6")
        .send(&srv)
        .await;
    assert_eq!(r.body, "world\n");
    let r = req("GET", path)
        .header("range", "bytes=50-")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.header("content-range"), Some("bytes */12"));
    let r = req("GET", path)
        .header("range", "bytes=0-4")
        .header("if-range", "\"old\"")
        .send(&srv)
        .await;
    assert_eq!((r.status, r.body.len()), (StatusCode::OK, 12));

    let r = req("HEAD", path).send(&srv).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, ""));
    assert_eq!(r.header("content-length"), Some("12"));
}

#[tokio::test]
async fn get_on_a_folder_lists_visible_members() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let r = req("GET", "/").send(&srv).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.body.contains("<a href=\"/alice/\">alice/</a>"));
    assert!(r.body.contains("<a href=\"/docs/\">docs/</a>"));
    assert!(!r.body.contains("htpasswd"));
}

#[tokio::test]
async fn delete_files_and_folders() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let r = req("DELETE", "/docs/readme.txt").send(&srv).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(!fx.path("docs/readme.txt").exists());
    assert_eq!(
        req("GET", "/docs/readme.txt").send(&srv).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        req("DELETE", "/docs/readme.txt").send(&srv).await.status,
        StatusCode::NOT_FOUND
    );
    let r = req("DELETE", "/alice/")
        .header("depth", "0")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(fx.path("alice/calendar/one.ics").exists());
    let r = req("DELETE", "/alice/calendar/one.ics")
        .header("if-match", "\"stale\"")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        req("DELETE", "/alice/").send(&srv).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(!fx.path("alice").exists());
    assert_eq!(
        req("DELETE", "/").send(&srv).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(fx.root().exists());
}

#[tokio::test]
async fn mkcol() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    assert_eq!(
        req("MKCOL", "/docs/sub/").send(&srv).await.status,
        StatusCode::CREATED
    );
    assert!(fx.path("docs/sub").is_dir());
    assert_eq!(
        req("MKCOL", "/docs/sub/").send(&srv).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        req("MKCOL", "/docs/readme.txt").send(&srv).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        req("MKCOL", "/a/b/c/").send(&srv).await.status,
        StatusCode::CONFLICT
    );
    let r = req("MKCOL", "/docs/withbody/")
        .body("<x/>")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(!fx.path("docs/withbody").exists());
    assert_eq!(
        req("PUT", "/docs/sub/f.txt")
            .body("f")
            .send(&srv)
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn copy_and_move_files() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let r = req("COPY", "/docs/readme.txt")
        .header("destination", "http://localhost/docs/copy.txt")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("location"), Some("/docs/copy.txt"));
    assert_eq!(fx.read("docs/copy.txt").unwrap(), "hello world\n");
    let r = req("COPY", "/alice/calendar/one.ics")
        .header("destination", "/docs/copy.txt")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(fx.read("docs/copy.txt").unwrap(), EVENT);
    let r = req("COPY", "/docs/readme.txt")
        .header("destination", "/docs/copy.txt")
        .header("overwrite", "F")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(fx.read("docs/copy.txt").unwrap(), EVENT);
    let r = req("COPY", "/docs/readme.txt")
        .header("destination", "/nowhere/x")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = req("COPY", "/docs/readme.txt")
        .header("destination", "/docs/readme.txt")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = req("COPY", "/docs/readme.txt").send(&srv).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = req("COPY", "/docs/readme.txt")
        .header("destination", "/docs/x")
        .header("overwrite", "maybe")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = req("MOVE", "/docs/copy.txt")
        .header("destination", "/alice/moved.ics")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(!fx.path("docs/copy.txt").exists());
    assert_eq!(fx.read("alice/moved.ics").unwrap(), EVENT);
    assert_eq!(
        req("GET", "/docs/copy.txt").send(&srv).await.status,
        StatusCode::NOT_FOUND
    );
    let r = req("GET", "/alice/moved.ics").send(&srv).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, EVENT));
}

#[tokio::test]
async fn destinations_may_be_unencoded_and_names_too_long_are_400() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let r = req("COPY", "/docs/readme.txt")
        .header(
            "destination",
            "http://127.0.0.1:8008/docs/Read me (copy).txt",
        )
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(fx.path("docs/Read me (copy).txt").is_file());
    let r = req("MOVE", "/docs/readme.txt")
        .header("destination", "ftp://x/docs/y")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let long = format!("/docs/{}.txt", "n".repeat(300));
    let r = req("PUT", &long).body("x").send(&srv).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        std::fs::read_dir(fx.path("docs")).unwrap().count(),
        2,
        "no temporary file left"
    );
}

#[tokio::test]
async fn copy_and_move_folders() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let r = req("COPY", "/alice/")
        .header("destination", "/bob/")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("location"), Some("/bob/"));
    assert_eq!(fx.read("bob/calendar/one.ics").unwrap(), EVENT);
    assert!(
        fx.read("bob/calendar/.dav.toml")
            .unwrap()
            .contains("kind = \"calendar\"")
    );
    let r = req("COPY", "/alice/calendar/")
        .header("destination", "/docs/shallow/")
        .header("depth", "0")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(fx.path("docs/shallow/.dav.toml").exists());
    assert!(!fx.path("docs/shallow/one.ics").exists());
    let r = req("COPY", "/alice/")
        .header("destination", "/x/")
        .header("depth", "1")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = req("COPY", "/alice/")
        .header("destination", "/alice/calendar/inner/")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = req("MOVE", "/bob/")
        .header("destination", "/docs/")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(!fx.path("bob").exists());
    assert!(
        !fx.path("docs/readme.txt").exists(),
        "overwritten destination is replaced, not merged"
    );
    assert_eq!(fx.read("docs/calendar/one.ics").unwrap(), EVENT);
    let r = req("PROPFIND", "/docs/calendar/")
        .header("depth", "0")
        .body(PROP_RESOURCETYPE)
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS);
    let r = req("MOVE", "/docs/")
        .header("destination", "/docs2/")
        .header("depth", "0")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

const PROP_RESOURCETYPE: &str =
    r#"<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#;

#[tokio::test]
async fn propfind_depth_0_whole_response() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let body = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:X="urn:x"><D:prop>
  <D:resourcetype/><D:displayname/><D:getcontentlength/><D:getcontenttype/><X:unknown/>
</D:prop></D:propfind>"#;
    let r = req("PROPFIND", "/alice/calendar/")
        .header("depth", "0")
        .body(body)
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS);
    assert_eq!(
        r.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    assert_eq!(
        r.body,
        format!(
            "{XML_HEAD}<d:multistatus xmlns:d=\"DAV:\" xmlns:cs=\"http://calendarserver.org/ns/\" xmlns:hello=\"https://dirdav.example/ns/hello\">\
<d:response><d:href>/alice/calendar/</d:href>\
<d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype><d:displayname>Work</d:displayname></d:prop>\
<d:status>HTTP/1.1 200 OK</d:status></d:propstat>\
<d:propstat><d:prop><d:getcontentlength/><d:getcontenttype/><unknown xmlns=\"urn:x\"/></d:prop>\
<d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response></d:multistatus>\n"
        )
    );
}

#[tokio::test]
async fn propfind_depth_1_lists_members_from_the_index() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let body = r#"<propfind xmlns="DAV:"><prop><getetag/><getcontentlength/></prop></propfind>"#;
    let r = req("PROPFIND", "/alice/calendar/")
        .header("depth", "1")
        .body(body)
        .send(&srv)
        .await;
    let etag = req("GET", "/alice/calendar/one.ics")
        .send(&srv)
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    assert_eq!(
        r.body,
        format!(
            "{XML_HEAD}<d:multistatus xmlns:d=\"DAV:\" xmlns:cs=\"http://calendarserver.org/ns/\" xmlns:hello=\"https://dirdav.example/ns/hello\">\
<d:response><d:href>/alice/calendar/</d:href>\
<d:propstat><d:prop><d:getetag/><d:getcontentlength/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>\
<d:response><d:href>/alice/calendar/one.ics</d:href>\
<d:propstat><d:prop><d:getetag>{etag}</d:getetag><d:getcontentlength>{}</d:getcontentlength></d:prop>\
<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>\n",
            EVENT.len()
        )
    );
    // Brief: t (Apple) and Prefer: return=minimal leave the 404s out.
    let r = req("PROPFIND", "/alice/calendar/")
        .header("depth", "1")
        .header("brief", "t")
        .body(body)
        .send(&srv)
        .await;
    assert!(!r.body.contains("404"), "{}", r.body);
    assert_eq!(r.header("vary"), Some("Brief, Prefer"));
    let r = req("PROPFIND", "/alice/calendar/")
        .header("depth", "1")
        .header("prefer", "return=minimal")
        .body(body)
        .send(&srv)
        .await;
    assert!(!r.body.contains("404"));
}

#[tokio::test]
async fn propfind_allprop_propname_and_infinity() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let r = req("PROPFIND", "/docs/readme.txt")
        .header("depth", "0")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS);
    for p in [
        "<d:getetag>",
        "<d:getcontentlength>12<",
        "<d:getcontenttype>text/plain<",
        "<d:creationdate>",
        "<d:getlastmodified>",
        "<d:resourcetype/>",
    ] {
        assert!(r.body.contains(p), "allprop lacks {p}: {}", r.body);
    }
    assert!(
        !r.body.contains("supported-report-set"),
        "not in allprop (RFC 3253)"
    );
    let body =
        r#"<propfind xmlns="DAV:"><allprop/><include><supported-report-set/></include></propfind>"#;
    let r = req("PROPFIND", "/docs/readme.txt")
        .header("depth", "0")
        .body(body)
        .send(&srv)
        .await;
    assert!(r.body.contains("<d:supported-report-set/>"));

    let body = r#"<propfind xmlns="DAV:"><propname/></propfind>"#;
    let r = req("PROPFIND", "/docs/")
        .header("depth", "0")
        .body(body)
        .send(&srv)
        .await;
    assert!(
        r.body
            .contains("<d:resourcetype/><d:getlastmodified/><d:creationdate/>"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("getetag"));

    let r = req("PROPFIND", "/")
        .header("depth", "infinity")
        .body(PROP_RESOURCETYPE)
        .send(&srv)
        .await;
    assert_eq!(r.body.matches("<d:response>").count(), 6, "{}", r.body);
    let r = req("PROPFIND", "/")
        .body(PROP_RESOURCETYPE)
        .send(&srv)
        .await;
    assert_eq!(
        r.body.matches("<d:response>").count(),
        6,
        "no Depth means infinity"
    );
}

#[tokio::test]
async fn propfind_infinity_past_the_limit_is_refused_with_finite_depth() {
    let fx = Fixture::new();
    let srv = dirdav_core::Server::builder(fx.config().max_propfind_infinity(3))
        .build()
        .await
        .unwrap();
    let r = req("PROPFIND", "/")
        .header("depth", "infinity")
        .body(PROP_RESOURCETYPE)
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body,
        format!("{XML_HEAD}<d:error xmlns:d=\"DAV:\"><d:propfind-finite-depth/></d:error>\n")
    );
    let r = req("PROPFIND", "/")
        .header("depth", "1")
        .body(PROP_RESOURCETYPE)
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS);
}

#[tokio::test]
async fn propfind_errors() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let cases = [
        (
            "/docs/",
            "0",
            "<propfind xmlns='DAV:'><prop>",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/docs/",
            "0",
            "<nonsense xmlns='DAV:'/>",
            StatusCode::BAD_REQUEST,
        ),
        ("/docs/", "2", "", StatusCode::BAD_REQUEST),
        ("/missing/", "0", "", StatusCode::NOT_FOUND),
        (
            "/docs/",
            "0",
            "<!DOCTYPE x [<!ENTITY a 'b'>]><propfind xmlns='DAV:'><allprop/></propfind>",
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (path, depth, body, status) in cases {
        let r = req("PROPFIND", path)
            .header("depth", depth)
            .body(body)
            .send(&srv)
            .await;
        assert_eq!(r.status, status, "{path} {depth} {body}");
    }
}

#[tokio::test]
async fn proppatch_dead_properties_on_files_live_in_the_folder_dotfile() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let body = r#"<?xml version="1.0"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://example.com/z">
  <D:set><D:prop><Z:author>Alice</Z:author><Z:tags xml:lang="en"><Z:tag>a</Z:tag></Z:tags></D:prop></D:set>
</D:propertyupdate>"#;
    let r = req("PROPPATCH", "/docs/readme.txt")
        .body(body)
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS);
    assert!(
        r.body.contains("<d:status>HTTP/1.1 200 OK</d:status>"),
        "{}",
        r.body
    );
    assert_eq!(
        fx.read("docs/.dav.toml").unwrap(),
        "[files.\"readme.txt\"]\n\"{http://example.com/z}author\" = \"Alice\"\n\
\"{http://example.com/z}tags\" = { xml = '<tags xmlns=\"http://example.com/z\" xml:lang=\"en\"><tag>a</tag></tags>' }\n"
    );
    let ask = r#"<propfind xmlns="DAV:" xmlns:Z="http://example.com/z"><prop><Z:author/><Z:tags/></prop></propfind>"#;
    let r = req("PROPFIND", "/docs/readme.txt")
        .header("depth", "0")
        .body(ask)
        .send(&srv)
        .await;
    assert!(
        r.body
            .contains("<author xmlns=\"http://example.com/z\">Alice</author>"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<tags xmlns=\"http://example.com/z\" xml:lang=\"en\"><tag>a</tag></tags>"),
        "{}",
        r.body
    );

    // They follow the file on MOVE, and leave with it on DELETE.
    let r = req("MOVE", "/docs/readme.txt")
        .header("destination", "/alice/readme.txt")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(
        !fx.path("docs/.dav.toml").exists(),
        "emptied dotfile is removed"
    );
    assert!(
        fx.read("alice/.dav.toml")
            .unwrap()
            .contains("[files.\"readme.txt\"]")
    );
    let r = req("PROPFIND", "/alice/readme.txt")
        .header("depth", "0")
        .body(ask)
        .send(&srv)
        .await;
    assert!(r.body.contains(">Alice</author>"));
    assert_eq!(
        req("DELETE", "/alice/readme.txt").send(&srv).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(!fx.path("alice/.dav.toml").exists());
}

#[tokio::test]
async fn proppatch_on_a_collection_edits_its_dotfile_in_place() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let body = r#"<propertyupdate xmlns="DAV:" xmlns:A="http://apple.com/ns/ical/">
  <set><prop><displayname>Büro</displayname><A:calendar-color>#3A87ADFF</A:calendar-color></prop></set>
</propertyupdate>"#;
    let r = req("PROPPATCH", "/alice/calendar/")
        .body(body)
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS);
    assert_eq!(
        fx.read("alice/calendar/.dav.toml").unwrap(),
        "# Alice's calendar\nkind = \"calendar\"\ndisplayname = \"Büro\"\n\n[props]\n\
\"{http://apple.com/ns/ical/}calendar-color\" = \"#3A87ADFF\"\n"
    );
    let r = req("PROPFIND", "/alice/calendar/")
        .header("depth", "0")
        .body(r#"<propfind xmlns="DAV:"><prop><displayname/></prop></propfind>"#)
        .send(&srv)
        .await;
    assert!(r.body.contains("<d:displayname>Büro</d:displayname>"));
    let remove = r#"<propertyupdate xmlns="DAV:"><remove><prop><displayname/></prop></remove></propertyupdate>"#;
    req("PROPPATCH", "/alice/calendar/")
        .body(remove)
        .send(&srv)
        .await;
    assert!(
        !fx.read("alice/calendar/.dav.toml")
            .unwrap()
            .contains("displayname")
    );
}

#[tokio::test]
async fn proppatch_is_all_or_nothing() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let before = fx.snapshot();
    let body = r#"<propertyupdate xmlns="DAV:" xmlns:Z="urn:z">
  <set><prop><Z:a>1</Z:a><getetag>"forged"</getetag></prop></set></propertyupdate>"#;
    let r = req("PROPPATCH", "/docs/readme.txt")
        .body(body)
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS);
    assert_eq!(
        r.body,
        format!(
            "{XML_HEAD}<d:multistatus xmlns:d=\"DAV:\" xmlns:cs=\"http://calendarserver.org/ns/\" xmlns:hello=\"https://dirdav.example/ns/hello\">\
<d:response><d:href>/docs/readme.txt</d:href>\
<d:propstat><d:prop><a xmlns=\"urn:z\"/></d:prop><d:status>HTTP/1.1 424 Failed Dependency</d:status></d:propstat>\
<d:propstat><d:prop><d:getetag/></d:prop><d:status>HTTP/1.1 403 Forbidden</d:status>\
<d:error><d:cannot-modify-protected-property/></d:error></d:propstat></d:response></d:multistatus>\n"
        )
    );
    assert_eq!(fx.snapshot(), before);
    for bad in ["<propertyupdate xmlns='DAV:'/>", "<x/>", "not xml"] {
        let r = req("PROPPATCH", "/docs/readme.txt")
            .body(bad)
            .send(&srv)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(fx.snapshot(), before);
}

#[tokio::test]
async fn a_proxys_forwarded_prefix_is_in_every_href_and_understood_in_those_sent() {
    let fx = Fixture::new();
    let srv = fx.server().await;
    let r = req("PROPFIND", "/alice/calendar/")
        .header("depth", "1")
        .header("x-forwarded-prefix", "/dav/")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS);
    assert!(
        r.body.contains("<d:href>/dav/alice/calendar/</d:href>"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<d:href>/dav/alice/calendar/one.ics</d:href>"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("<d:href>/alice/"), "{}", r.body);

    // A client copies with the hrefs it was given.
    let r = req("COPY", "/alice/calendar/one.ics")
        .header("x-forwarded-prefix", "/dav")
        .header("destination", "http://proxy.example/dav/docs/one.ics")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(fx.read("docs/one.ics").is_some());
    assert!(!fx.path("dav").exists());

    // Without the header, or with one that is not a plain path, nothing changes.
    for prefix in [None, Some("dav"), Some("/a/../b"), Some("/a b")] {
        let mut request = req("PROPFIND", "/docs/").header("depth", "0");
        if let Some(p) = prefix {
            request = request.header("x-forwarded-prefix", p);
        }
        let r = request.send(&srv).await;
        assert!(
            r.body.contains("<d:href>/docs/</d:href>"),
            "{prefix:?}: {}",
            r.body
        );
    }
}
