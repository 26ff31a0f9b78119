//! `dirdav doctor` against a running dirdav, a misconfigured one and something that is
//! not a DAV server at all.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::process::{Command, Output};

use support::example_server;

fn doctor(url: &str, user: &str, password: &str, extra: &[&str]) -> (bool, String) {
    let Output { status, stdout, .. } = Command::new(env!("CARGO_BIN_EXE_dirdav"))
        .args(["doctor", "--url", url, "--user", user])
        .args(extra)
        .env("DIRDAV_PASSWORD", password)
        .output()
        .unwrap();
    (status.success(), String::from_utf8(stdout).unwrap())
}

#[test]
fn doctor_passes_against_a_working_server_and_its_test_write_leaves_nothing() {
    let (dir, srv) = example_server(&[]);
    let url = format!("http://127.0.0.1:{}/", srv.port);
    let (ok, out) = doctor(&url, "alice", "wonderland", &["--write"]);
    assert!(ok, "{out}");
    for line in [
        "ok    /.well-known/caldav: 301 to /",
        "ok    current-user-principal: /alice/",
        "ok    calendar-home-set: /alice/",
        "ok    addressbook-home-set: /alice/",
        "ok    write to /alice/calendar/: created and deleted",
        "ok    write to /alice/contacts/: created and deleted",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    assert!(out.contains("calendar-access"), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
    let calendar = dir.path().join("example-data/alice/calendar");
    let left: Vec<_> = std::fs::read_dir(calendar)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("doctor"))
        .collect();
    assert!(left.is_empty(), "the test item stayed: {left:?}");
}

#[test]
fn doctor_fails_with_the_reason_for_a_wrong_password() {
    let (_dir, srv) = example_server(&[]);
    let url = format!("http://127.0.0.1:{}/", srv.port);
    let (ok, out) = doctor(&url, "alice", "not-her-password", &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("FAIL  OPTIONS: the server refused the password of alice (401)"),
        "{out}"
    );
}

#[test]
fn doctor_fails_with_the_reason_for_a_wrong_base_path() {
    let (_dir, srv) = example_server(&["--base-path", "/dav"]);
    // The right path passes, through the well-known redirect or directly.
    for path in ["/", "/dav/"] {
        let url = format!("http://127.0.0.1:{}{path}", srv.port);
        let (ok, out) = doctor(&url, "alice", "wonderland", &[]);
        assert!(ok, "{out}");
        assert!(out.contains("current-user-principal: /dav/alice/"), "{out}");
    }
    let url = format!("http://127.0.0.1:{}/caldav/", srv.port);
    let (ok, out) = doctor(&url, "alice", "wonderland", &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("nothing is served at /caldav/ (404)"), "{out}");
    assert!(out.contains("--base-path"), "{out}");
}

#[test]
fn doctor_fails_without_well_known_and_without_dav() {
    // A plain web server that answers 404 to everything.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let (ok, out) = doctor(
        &format!("http://127.0.0.1:{port}/"),
        "alice",
        "wonderland",
        &[],
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains(
            "FAIL  /.well-known/caldav: 404: clients given only the host name will not find the server"
        ),
        "{out}"
    );
    assert!(
        out.contains("FAIL  OPTIONS: nothing is served at / (404)"),
        "{out}"
    );
}
