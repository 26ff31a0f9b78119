//! End-to-end: users managed while the server runs. `dirdav user add` (and an edit of
//! the htpasswd file by hand) lets the new user sign in, with a home made at their
//! first request, without a restart; `dirdav user passwd` and `remove` take effect
//! the same way; SIGHUP reloads and never stops a server without TLS.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use support::Dirdav;

/// Runs `dirdav user ...` on the tree's htpasswd file, the password on standard input.
fn user(root: &Path, args: &[&str], password: &str) -> (bool, String, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dirdav"))
        .arg("user")
        .args(args)
        .arg("--root")
        .arg(root)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The status of a PROPFIND of a user's home as that user, retried until it is
/// `want` (the server looks at the file every two seconds) or five seconds pass.
fn home_status(srv: &Dirdav, name: &str, password: &str, want: u16) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = srv
            .request("PROPFIND", &format!("/{name}/"))
            .auth(name, password)
            .header("Depth", "0")
            .send()
            .status;
        if status == want || Instant::now() > deadline {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn users_added_changed_and_removed_take_effect_without_a_restart() {
    let (dir, srv) = support::example_server(&[]);
    let root = dir.path().join("example-data");
    assert_eq!(home_status(&srv, "carol", "tea-party", 401), 401);

    let (ok, out, err) = user(&root, &["add", "carol"], "tea-party");
    assert!(ok, "{out}{err}");
    assert_eq!(home_status(&srv, "carol", "tea-party", 207), 207);
    // Her home was made at her first request, with its calendar and address book.
    assert!(root.join("carol/calendar/.dav.toml").is_file());
    assert!(root.join("carol/contacts/.dav.toml").is_file());
    let put = srv
        .request("PUT", "/carol/calendar/e.ics")
        .auth("carol", "tea-party")
        .body(support::event("e"))
        .send();
    assert_eq!(put.status, 201, "{}", put.body);
    // An app password for her phone signs in beside the first.
    let (ok, out, _) = user(&root, &["app", "carol"], "");
    assert!(ok);
    let app = out.lines().next().unwrap().to_owned();
    assert_eq!(home_status(&srv, "carol", &app, 207), 207);

    // A new password signs every device out.
    let (ok, _, err) = user(&root, &["passwd", "carol"], "march-hare");
    assert!(ok, "{err}");
    assert_eq!(home_status(&srv, "carol", "tea-party", 401), 401);
    assert_eq!(home_status(&srv, "carol", &app, 401), 401);
    assert_eq!(home_status(&srv, "carol", "march-hare", 207), 207);

    // A user added by editing the file, as `htpasswd -B` would.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(root.join(".htpasswd"))
        .unwrap();
    writeln!(file, "dave:{}", bcrypt::hash("dormouse", 4).unwrap()).unwrap();
    drop(file);
    assert_eq!(home_status(&srv, "dave", "dormouse", 207), 207);

    let (ok, out, _) = user(&root, &["remove", "carol"], "");
    assert!(ok && out.contains("their files stay"), "{out}");
    assert_eq!(home_status(&srv, "carol", "march-hare", 401), 401);
    assert!(root.join("carol/calendar/e.ics").is_file(), "files stay");
    let (ok, out, _) = user(&root, &["list"], "");
    assert!(ok);
    assert_eq!(out, "alice\nbob\ndave\n");
    let (ok, _, err) = user(&root, &["add", "alice"], "x");
    assert!(!ok && err.contains("already a user"), "{err}");
    let log = srv.drain_log().join("\n");
    assert!(log.contains("users reloaded"), "{log}");
}

#[test]
fn sighup_reloads_and_keeps_a_plain_http_server_running() {
    let (dir, srv) = support::example_server(&[]);
    let root = dir.path().join("example-data");
    srv.drain_log();
    let hup = std::process::Command::new("kill")
        .arg("-HUP")
        .arg(srv.pid().to_string())
        .status()
        .unwrap();
    assert!(hup.success());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        home_status(&srv, "alice", "wonderland", 207),
        207,
        "still serving"
    );
    let log = srv.drain_log().join("\n");
    assert!(
        log.contains("SIGHUP") && log.contains("users reloaded"),
        "{log}"
    );
    // A second one too, after a change to the file.
    let (ok, _, _) = user(&root, &["passwd", "bob"], "new-pw");
    assert!(ok);
    let hup = std::process::Command::new("kill")
        .arg("-HUP")
        .arg(srv.pid().to_string())
        .status()
        .unwrap();
    assert!(hup.success());
    assert_eq!(home_status(&srv, "bob", "new-pw", 207), 207);
}
