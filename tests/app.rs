//! `dirdav::App`: a binary of one's own (`examples/with_hello.rs`) is the shipped
//! server with one more plugin, run in this process here and spoken to over a socket.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use support::Request;

#[test]
fn an_app_with_one_more_plugin_serves_it_beside_the_shipped_ones() {
    let tree = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::create_dir(tree.path().join("alice")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let args = [
        "dirdav".to_owned(),
        "serve".to_owned(),
        "--root".to_owned(),
        tree.path().display().to_string(),
        "--state-dir".to_owned(),
        state.path().display().to_string(),
        "--listen".to_owned(),
        format!("127.0.0.1:{port}"),
    ];
    // Runs until this test process ends.
    std::thread::spawn(move || {
        dirdav::App::new()
            .plugin(dirdav_hello::Hello)
            .run_from(args)
    });
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // The DAV header names the added plugin's token and the shipped ones'.
    let options = Request::to(port, "OPTIONS", "/alice/").send();
    assert_eq!(options.status, 200);
    let dav = options.header("dav").unwrap();
    for token in ["hello", "calendar-access", "addressbook"] {
        assert!(dav.split(", ").any(|t| t == token), "{token} in {dav}");
    }

    // The added plugin's property is answered, and CalDAV's beside it.
    let propfind = Request::to(port, "PROPFIND", "/alice/")
        .header("Depth", "0")
        .body(
            r#"<propfind xmlns="DAV:" xmlns:h="https://dirdav.example/ns/hello" xmlns:c="urn:ietf:params:xml:ns:caldav"><prop><h:greeting/><c:calendar-home-set/></prop></propfind>"#,
        )
        .send();
    assert_eq!(propfind.status, 207, "{}", propfind.body);
    let ok = concat!(
        "<d:prop><hello:greeting>Hello, stranger!</hello:greeting>",
        "<cal:calendar-home-set><d:href>/alice/</d:href></cal:calendar-home-set></d:prop>",
        "<d:status>HTTP/1.1 200 OK</d:status>"
    );
    assert!(propfind.body.contains(ok), "{}", propfind.body);
    assert_eq!(propfind.body.matches("<d:propstat>").count(), 1);
}

#[test]
fn the_plugins_setting_chooses_what_runs_and_refuses_unknown_names() {
    let tree = tempfile::tempdir().unwrap();
    std::fs::create_dir(tree.path().join("alice")).unwrap();
    let root = tree.path().display().to_string();
    let srv = support::Dirdav::start(&["--root", &root, "--plugins", "caldav,carddav"]);
    let options = srv.request("OPTIONS", "/alice/").send();
    let dav = options.header("dav").unwrap();
    // CalDAV and CardDAV (and access control, which always runs), without locking
    // (`2`), scheduling or anything else.
    assert_eq!(
        dav,
        "1, 3, extended-mkcol, calendar-access, addressbook, access-control"
    );
    assert_eq!(srv.request("LOCK", "/alice/").send().status, 405);
    drop(srv);

    let state = tempfile::tempdir().unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_dirdav"))
        .args(["serve", "--listen", "127.0.0.1:0", "--root", &root])
        .args(["--plugins", "caldav,ical"])
        .env("XDG_STATE_HOME", state.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("plugins: no shipped plugin is called \"ical\""),
        "{said}"
    );
}
