//! End-to-end: quotas and free space (RFC 4331, the `dirdav-quota` plugin) as Finder,
//! Windows and davfs2 ask for them, and a folder's `[quota] limit` as writers meet it.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::path::Path;

use support::{Dirdav, bytes_below, copy_dir, read_response};

const ALICE: (&str, &str) = ("alice", "wonderland");

const QUOTA_PROPS: &str = r#"<D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>"#;

/// `(available, used)` of a collection, as numbers.
fn quota(srv: &Dirdav, path: &str) -> (Option<u64>, Option<u64>) {
    let r = srv
        .request("PROPFIND", path)
        .auth(ALICE.0, ALICE.1)
        .header("Depth", "0")
        .body(QUOTA_PROPS)
        .send();
    assert_eq!(r.status, 207, "{}", r.body);
    let number = |name: &str| {
        let open = format!("<d:{name}>");
        let at = r.body.find(&open)? + open.len();
        let end = r.body[at..].find('<')?;
        Some(r.body[at..at + end].parse().unwrap())
    };
    (number("quota-available-bytes"), number("quota-used-bytes"))
}

fn put(srv: &Dirdav, path: &str, size: usize) -> u16 {
    srv.request("PUT", path)
        .auth(ALICE.0, ALICE.1)
        .body(vec![b'x'; size])
        .send()
        .status
}

/// A copy of example-data whose `shared/box/` may hold 1,000 bytes, `shared/box/inner/`
/// 5,000 (so 1,000 at most, through its parent), and `shared/bad/` has a limit that
/// does not parse.
fn tree_with_limits() -> (tempfile::TempDir, Dirdav) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("example-data");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("example-data"),
        &data,
    );
    for (folder, limit) in [
        ("shared/box", "1000"),
        ("shared/box/inner", "\"5K\""),
        ("shared/bad", "\"lots\""),
    ] {
        std::fs::create_dir_all(data.join(folder)).unwrap();
        std::fs::write(
            data.join(folder).join(".dav.toml"),
            format!("[quota]\nlimit = {limit}\n"),
        )
        .unwrap();
    }
    let srv = Dirdav::start_in(&[], dir.path());
    (dir, srv)
}

/// A home says what it holds and how much room is left; allprop leaves both out.
#[test]
fn a_home_reports_its_bytes_and_the_room_left() {
    let (dir, srv) = support::example_server(&[]);
    let (available, used) = quota(&srv, "/alice/");
    assert_eq!(
        used,
        Some(bytes_below(&dir.path().join("example-data/alice")))
    );
    assert!(available.is_some_and(|a| a > 0), "{available:?}");
    // Files have neither.
    let r = srv
        .request("PROPFIND", "/shared/README.md")
        .auth(ALICE.0, ALICE.1)
        .header("Depth", "0")
        .body(QUOTA_PROPS)
        .send();
    assert!(r.body.contains("404 Not Found"), "{}", r.body);
    let all = srv
        .request("PROPFIND", "/alice/")
        .auth(ALICE.0, ALICE.1)
        .header("Depth", "0")
        .body(r#"<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#)
        .send();
    assert!(!all.body.contains("quota-"), "{}", all.body);
}

/// A folder's limit holds for PUT (declared or chunked), COPY and MOVE into it, with
/// 507 `DAV:quota-not-exceeded` and nothing written; a file may be replaced by a
/// larger one while it fits, and moves inside the folder cost nothing.
#[test]
fn a_folder_limit_refuses_what_would_not_fit() {
    let (dir, srv) = tree_with_limits();
    let on_disk = |p: &str| dir.path().join("example-data").join(p);
    // The settings files count: they hold dead properties.
    let inner = bytes_below(&on_disk("shared/box/inner"));
    let settings = bytes_below(&on_disk("shared/box"));
    assert_eq!((inner, settings), (21, 42));
    assert_eq!(
        quota(&srv, "/shared/box/"),
        (Some(1000 - settings), Some(settings))
    );
    assert_eq!(put(&srv, "/shared/box/a.bin", 600), 201);
    assert_eq!(
        quota(&srv, "/shared/box/"),
        (Some(400 - settings), Some(600 + settings))
    );
    // Through the parent's limit: 5,000 of its own, but what is left above it.
    assert_eq!(
        quota(&srv, "/shared/box/inner/"),
        (Some(400 - settings), Some(inner))
    );

    let r = srv
        .request("PUT", "/shared/box/b.bin")
        .auth(ALICE.0, ALICE.1)
        .body(vec![b'x'; 500])
        .send();
    assert_eq!(r.status, 507);
    assert!(r.body.contains("<d:quota-not-exceeded/>"), "{}", r.body);
    assert!(!on_disk("shared/box/b.bin").exists());

    // Without a Content-Length the bytes are counted as they arrive.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    let auth = "Basic YWxpY2U6d29uZGVybGFuZA=="; // alice:wonderland
    write!(
        stream,
        "PUT /shared/box/inner/c.bin HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n1f4\r\n{}\r\n0\r\n\r\n",
        "y".repeat(500)
    )
    .unwrap();
    let r = read_response(&mut stream);
    assert_eq!(r.status, 507, "{}", r.body);
    assert!(!on_disk("shared/box/inner/c.bin").exists());

    // Replacing 600 bytes with 900 fits; 1,100 does not.
    assert_eq!(put(&srv, "/shared/box/a.bin", 900), 204);
    assert_eq!(put(&srv, "/shared/box/a.bin", 1100), 507);
    assert_eq!(
        std::fs::metadata(on_disk("shared/box/a.bin"))
            .unwrap()
            .len(),
        900
    );

    for method in ["COPY", "MOVE"] {
        let r = srv
            .request(method, "/shared/README.md")
            .auth(ALICE.0, ALICE.1)
            .header("Destination", "/shared/box/readme.md")
            .send();
        assert_eq!(r.status, 507, "{method}: {}", r.body);
    }
    assert!(on_disk("shared/README.md").exists());
    assert!(!on_disk("shared/box/readme.md").exists());
    let moved = srv
        .request("MOVE", "/shared/box/a.bin")
        .auth(ALICE.0, ALICE.1)
        .header("Destination", "/shared/box/inner/a.bin")
        .send();
    assert_eq!(moved.status, 201, "{}", moved.body);
    assert_eq!(
        quota(&srv, "/shared/box/"),
        (Some(100 - settings), Some(900 + settings))
    );
}

/// A limit that does not parse allows nothing, and the refusal says why.
#[test]
fn a_limit_that_does_not_parse_allows_nothing() {
    let (_dir, srv) = tree_with_limits();
    assert_eq!(quota(&srv, "/shared/bad/").0, Some(0));
    let r = srv
        .request("PUT", "/shared/bad/x.txt")
        .auth(ALICE.0, ALICE.1)
        .body("x")
        .send();
    assert_eq!(r.status, 507);
    let log = srv.drain_log().join("\n");
    assert!(
        r.body.contains("quota-not-exceeded") && log.contains("does not parse"),
        "{}\n{log}",
        r.body
    );
}

/// An upload that does not say its length stops at the limit, not at its end; two
/// uploads in flight cannot together pass a limit; dead properties count and are
/// refused past it (RFC 4331 §6).
#[test]
fn uploads_stop_at_the_limit_and_dead_properties_count() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("example-data");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("example-data"),
        &data,
    );
    std::fs::create_dir_all(data.join("shared/mb")).unwrap();
    std::fs::write(
        data.join("shared/mb/.dav.toml"),
        "[quota]\nlimit = \"1M\"\n",
    )
    .unwrap();
    let srv = Dirdav::start_in(&[], dir.path());
    let auth = "Basic YWxpY2U6d29uZGVybGFuZA=="; // alice:wonderland
    let temporaries = || {
        std::fs::read_dir(data.join("shared/mb"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name() != ".dav.toml")
            .count()
    };

    // 60 MB announced as chunks: refused once past 1 MB, long before its end.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    write!(
        stream,
        "PUT /shared/mb/huge.bin HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let chunk = vec![b'z'; 64 * 1024];
    let mut sent = 0usize;
    while sent < 60 << 20 {
        let ok = write!(stream, "{:x}\r\n", chunk.len()).is_ok()
            && stream.write_all(&chunk).is_ok()
            && stream.write_all(b"\r\n").is_ok();
        if !ok {
            break;
        }
        sent += chunk.len();
        if sent > 8 << 20 {
            // The answer may be waiting in the socket while the kernel still takes
            // bytes; stop feeding and read it.
            break;
        }
    }
    let r = read_response(&mut stream);
    assert_eq!(r.status, 507, "{}", r.body);
    assert!(!data.join("shared/mb/huge.bin").exists());
    assert_eq!(temporaries(), 0, "no temporary file is left");

    // Two uploads of 700 KB each, at once: the second is refused while the first is
    // still arriving, and the first lands.
    let body = vec![b'a'; 700 * 1024];
    let first = srv
        .request("PUT", "/shared/mb/one.bin")
        .auth(ALICE.0, ALICE.1)
        .body(body.clone());
    let mut first_stream = first.send_head();
    first_stream.write_all(&body[..1024]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let second = srv
        .request("PUT", "/shared/mb/two.bin")
        .auth(ALICE.0, ALICE.1)
        .body(body.clone())
        .send();
    assert_eq!(second.status, 507, "{}", second.body);
    first_stream.write_all(&body[1024..]).unwrap();
    assert_eq!(read_response(&mut first_stream).status, 201);
    assert!(!data.join("shared/mb/two.bin").exists());

    // Dead properties take room in .dav.toml: they count, and stop at the limit.
    let before = quota(&srv, "/shared/mb/").1.unwrap();
    let prop = |value: &str| {
        format!(
            r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:note xmlns:x="urn:x">{value}</x:note></D:prop></D:set></D:propertyupdate>"#
        )
    };
    let r = srv
        .request("PROPPATCH", "/shared/mb/one.bin")
        .auth(ALICE.0, ALICE.1)
        .body(prop(&"n".repeat(10_000)))
        .send();
    assert_eq!(r.status, 207, "{}", r.body);
    let after = quota(&srv, "/shared/mb/").1.unwrap();
    assert!(after >= before + 10_000, "{before} -> {after}");
    let mut refused = None;
    for i in 0..200 {
        let r = srv
            .request("PROPPATCH", "/shared/mb/one.bin")
            .auth(ALICE.0, ALICE.1)
            .body(prop(&"m".repeat(50_000)).replace("x:note", &format!("x:n{i}")))
            .send();
        if r.status != 207 {
            refused = Some(r);
            break;
        }
    }
    let r = refused.expect("refused at the limit");
    assert_eq!(r.status, 507, "{}", r.body);
    assert!(r.body.contains("quota-not-exceeded"), "{}", r.body);
    let settings = std::fs::metadata(data.join("shared/mb/.dav.toml"))
        .unwrap()
        .len();
    assert!(
        settings + 700 * 1024 <= 1 << 20,
        "{settings} bytes of settings"
    );
}

/// Large dead properties are not all held in memory: a folder whose settings pass a
/// few KiB is kept in the index without them and read back (through a bounded cache)
/// when asked. What clients see is the same: every value, after a restart too.
#[test]
fn large_dead_properties_are_answered_from_disk() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("example-data");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("example-data"),
        &data,
    );
    let args = ["--state-dir", state.path().to_str().unwrap()];
    let srv = Dirdav::start_in(&args, dir.path());
    let set = |path: &str, name: &str, value: &str| {
        let r = srv
            .request("PROPPATCH", path)
            .auth(ALICE.0, ALICE.1)
            .body(format!(
                r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:{name} xmlns:x="urn:x">{value}</x:{name}></D:prop></D:set></D:propertyupdate>"#
            ))
            .send();
        assert_eq!(r.status, 207, "{}", r.body);
    };
    // Forty properties of 1,000 bytes on the folder and on one of its files.
    for i in 0..40 {
        set(
            "/shared/",
            &format!("p{i}"),
            &format!("{i:04}{}", "v".repeat(996)),
        );
    }
    set("/shared/README.md", "note", &"n".repeat(5000));
    let get = |srv: &Dirdav, path: &str, name: &str| {
        let r = srv
            .request("PROPFIND", path)
            .auth(ALICE.0, ALICE.1)
            .header("Depth", "0")
            .body(format!(
                r#"<D:propfind xmlns:D="DAV:"><D:prop><x:{name} xmlns:x="urn:x"/><D:getcontenttype/></D:prop></D:propfind>"#
            ))
            .send();
        assert_eq!(r.status, 207, "{}", r.body);
        r.body
    };
    let check = |srv: &Dirdav| {
        for i in [0, 17, 39] {
            let body = get(srv, "/shared/", &format!("p{i}"));
            assert!(
                body.contains(&format!("{i:04}{}", "v".repeat(996))),
                "p{i}: {body}"
            );
        }
        let body = get(srv, "/shared/README.md", "note");
        assert!(body.contains(&"n".repeat(5000)), "{body}");
        assert!(body.contains("text/markdown"), "{body}");
        let r = srv
            .request("GET", "/shared/README.md")
            .auth(ALICE.0, ALICE.1)
            .send();
        assert_eq!(r.status, 200);
    };
    check(&srv);
    srv.kill();
    let srv = Dirdav::start_in(&args, dir.path());
    check(&srv);
    // A change made outside the server is seen.
    let settings = data.join("shared/.dav.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(&settings, text.replace("0017vvv", "0017www")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !get(&srv, "/shared/", "p17").contains("0017www") {
        assert!(
            std::time::Instant::now() < deadline,
            "the outside edit was not seen"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
