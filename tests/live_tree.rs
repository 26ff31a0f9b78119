//! The live tree, end to end: sync tokens across restarts of the real binary, and a
//! `git checkout` in the served tree seen by a syncing client.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Dirdav, event, sync};

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sync_tokens_survive_a_restart_and_see_edits_made_while_down() {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("cal")).unwrap();
    std::fs::write(root.path().join("cal/.dav.toml"), "kind = \"calendar\"\n").unwrap();
    std::fs::write(root.path().join("cal/a.ics"), event("a")).unwrap();
    std::fs::write(root.path().join("cal/b.ics"), event("b")).unwrap();
    let args = [
        "--root",
        root.path().to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
    ];

    let srv = Dirdav::start(&args);
    let (_, token) = sync(&srv, "/cal/", "", "1");
    assert_eq!(
        srv.request("PUT", "/cal/c.ics")
            .body(event("c"))
            .send()
            .status,
        201
    );
    let (changed, token) = sync(&srv, "/cal/", &token, "1");
    assert_eq!(changed, ["/cal/c.ics"]);
    assert!(srv.terminate().success());

    std::fs::write(root.path().join("cal/a.ics"), event("a-edited")).unwrap();
    std::fs::remove_file(root.path().join("cal/b.ics")).unwrap();
    std::fs::write(root.path().join("cal/d.ics"), event("d")).unwrap();

    let srv = Dirdav::start(&args);
    let log = srv.drain_log().join("\n");
    assert!(log.contains("warm=true"), "{log}");
    let (changed, _) = sync(&srv, "/cal/", &token, "1");
    assert_eq!(changed, ["/cal/a.ics", "/cal/b.ics 404", "/cal/d.ics"]);
}

fn wait_for_changes(
    srv: &Dirdav,
    path: &str,
    token: &str,
    level: &str,
    expect: usize,
) -> (Vec<String>, Duration) {
    let started = Instant::now();
    loop {
        let (changed, _) = sync(srv, path, token, level);
        if changed.len() >= expect || started.elapsed() > Duration::from_secs(5) {
            return (changed, started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_git_checkout_of_another_branch_is_seen_by_the_next_sync() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    git(r, &["init", "-q"]);
    std::fs::create_dir(r.join("cal")).unwrap();
    std::fs::write(
        r.join("cal/.dav.toml"),
        "kind = \"calendar\"\ndisplayname = \"Main\"\n",
    )
    .unwrap();
    for uid in ["keep", "edit", "drop", "move"] {
        std::fs::write(r.join(format!("cal/{uid}.ics")), event(uid)).unwrap();
    }
    git(r, &["add", "-A"]);
    git(r, &["commit", "-q", "-m", "main"]);
    git(r, &["checkout", "-q", "-b", "other"]);
    std::fs::write(r.join("cal/edit.ics"), event("edited on the other branch")).unwrap();
    std::fs::remove_file(r.join("cal/drop.ics")).unwrap();
    std::fs::rename(r.join("cal/move.ics"), r.join("cal/moved.ics")).unwrap();
    std::fs::write(r.join("cal/new.ics"), event("new")).unwrap();
    std::fs::create_dir(r.join("work")).unwrap();
    std::fs::write(r.join("work/.dav.toml"), "kind = \"calendar\"\n").unwrap();
    std::fs::write(r.join("work/w.ics"), event("w")).unwrap();
    std::fs::write(
        r.join("cal/.dav.toml"),
        "kind = \"calendar\"\ndisplayname = \"Other\"\n",
    )
    .unwrap();
    git(r, &["add", "-A"]);
    git(r, &["commit", "-q", "-m", "other"]);
    git(r, &["checkout", "-q", "main"]);

    let srv = Dirdav::start(&["--root", r.to_str().unwrap()]);
    assert!(srv.drain_log().join("\n").contains("watching the tree"));
    let (_, cal_token) = sync(&srv, "/cal/", "", "1");
    let (_, root_token) = sync(&srv, "/", "", "infinite");
    git(r, &["checkout", "-q", "other"]);

    let (changed, took) = wait_for_changes(&srv, "/cal/", &cal_token, "1", 5);
    assert_eq!(
        changed,
        [
            "/cal/drop.ics 404",
            "/cal/edit.ics",
            "/cal/move.ics 404",
            "/cal/moved.ics",
            "/cal/new.ics"
        ],
        "seen after {took:?}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let (changed, _) = wait_for_changes(&srv, "/", &root_token, "infinite", 8);
    assert_eq!(
        changed,
        [
            "/cal/",
            "/cal/drop.ics 404",
            "/cal/edit.ics",
            "/cal/move.ics 404",
            "/cal/moved.ics",
            "/cal/new.ics",
            "/work/",
            "/work/w.ics"
        ]
    );
    let r = srv
        .request("PROPFIND", "/cal/")
        .header("Depth", "0")
        .body(r#"<propfind xmlns="DAV:"><prop><displayname/></prop></propfind>"#)
        .send();
    assert!(
        r.body.contains("<d:displayname>Other</d:displayname>"),
        "{}",
        r.body
    );
    let r = srv.request("GET", "/cal/edit.ics").send();
    assert!(r.body.contains("edited on the other branch"));
    assert_eq!(srv.request("GET", "/cal/drop.ics").send().status, 404);
    // Git's own files never show.
    assert_eq!(srv.request("GET", "/.git/HEAD").send().status, 404);
}

fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn git_commit_makes_one_commit_per_change_authored_by_the_user() {
    let repo = tempfile::tempdir().unwrap();
    let r = repo.path();
    git(r, &["init", "-q"]);
    std::fs::write(r.join("notes.txt"), "first\n").unwrap();
    std::fs::create_dir_all(r.join("tree/cal")).unwrap();
    std::fs::write(
        r.join("tree/cal/.dav.toml"),
        "# my calendar\nkind = \"calendar\"\n\n[acl]\nall = [\"alice\"]\n",
    )
    .unwrap();
    git(r, &["add", "-A"]);
    git(r, &["commit", "-q", "-m", "start"]);
    // Unrelated work in progress that the server must leave alone.
    std::fs::write(r.join("notes.txt"), "first\nsecond, not committed\n").unwrap();
    std::fs::write(r.join("tree/cal/draft.ics"), event("draft")).unwrap();

    let secrets = tempfile::tempdir().unwrap();
    let htpasswd = secrets.path().join("users");
    std::fs::write(
        &htpasswd,
        format!("alice:{}\n", bcrypt::hash("pw", 4).unwrap()),
    )
    .unwrap();
    let srv = Dirdav::start(&[
        "--root",
        r.join("tree").to_str().unwrap(),
        "--htpasswd",
        htpasswd.to_str().unwrap(),
        "--git-commit",
        // This test is about commits of requests; home creation is tested elsewhere.
        "--no-create-homes",
    ]);
    let ok = |status: u16| assert!((200..300).contains(&status), "{status}");
    ok(srv
        .request("PUT", "/cal/x.ics")
        .auth("alice", "pw")
        .body(event("x"))
        .send()
        .status);
    ok(srv
        .request("PROPPATCH", "/cal/")
        .auth("alice", "pw")
        .body(r#"<propertyupdate xmlns="DAV:"><set><prop><displayname>Work</displayname></prop></set></propertyupdate>"#)
        .send()
        .status);
    ok(srv
        .request("MOVE", "/cal/x.ics")
        .auth("alice", "pw")
        .header("Destination", "/cal/y.ics")
        .send()
        .status);
    ok(srv
        .request("DELETE", "/cal/y.ics")
        .auth("alice", "pw")
        .send()
        .status);

    let started = Instant::now();
    let mut log;
    loop {
        log = git_out(r, &["log", "--format=%an|%s"]);
        if log.lines().count() >= 5 || started.elapsed() > Duration::from_secs(10) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let server_log = srv.drain_log().join("\n");
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "alice|DELETE cal/y.ics",
            "alice|MOVE cal/x.ics -> cal/y.ics",
            "alice|PROPPATCH cal",
            "alice|PUT cal/x.ics",
            "Test|start"
        ],
        "{server_log}"
    );
    let files = |rev: &str| {
        git_out(
            r,
            &["show", "--no-renames", "--name-only", "--format=", rev],
        )
    };
    assert_eq!(files("HEAD~3"), "tree/cal/x.ics\n");
    assert_eq!(files("HEAD~2"), "tree/cal/.dav.toml\n");
    assert_eq!(files("HEAD~1"), "tree/cal/x.ics\ntree/cal/y.ics\n");
    assert_eq!(files("HEAD"), "tree/cal/y.ics\n");
    assert!(git_out(r, &["show", "HEAD~2:tree/cal/.dav.toml"]).starts_with("# my calendar\n"));
    // Only the unrelated work in progress remains; no state directory anywhere.
    assert_eq!(
        git_out(r, &["status", "--porcelain", "--untracked-files=all"]),
        " M notes.txt\n?? tree/cal/draft.ics\n"
    );
}

/// A `.dav.toml` that does not parse is logged once for its bytes, on one line, however
/// many times an editor's saves make the server read it again; other bytes are logged
/// again.
#[test]
fn a_broken_settings_file_is_logged_once_per_content() {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("cal")).unwrap();
    std::fs::write(root.path().join("cal/.dav.toml"), "kind = \"calendar\"\n").unwrap();
    let srv = Dirdav::start(&[
        "--root",
        root.path().to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
    ]);
    srv.drain_log();
    let broken = "kind = \"calendar\"\ndisplayname = \"unterminated\n";
    let listing = || {
        srv.request("PROPFIND", "/cal/")
            .header("Depth", "0")
            .send()
            .status
    };
    for _ in 0..4 {
        std::fs::write(root.path().join("cal/.dav.toml"), broken).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(listing(), 207);
    }
    let reports = |log: &[String]| {
        log.iter()
            .filter(|l| l.contains("malformed settings"))
            .count()
    };
    let log = srv.drain_log();
    assert_eq!(reports(&log), 1, "{log:#?}");
    std::fs::write(
        root.path().join("cal/.dav.toml"),
        "kind = \"calendar\"\ncolor = [\n",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(listing(), 207);
    let log = srv.drain_log();
    assert_eq!(reports(&log), 1, "new bytes are reported: {log:#?}");
}

/// A restart with its state answers at once and checks the tree in the background; a
/// request first has the folders it touches checked, so every answer already shows what
/// changed while the server was stopped (a GET and a PUT as much as a PROPFIND), and the
/// background pass finishes the rest: the temporaries a killed server left are removed.
#[test]
fn a_warm_start_answers_at_once_and_every_answer_sees_edits_made_while_down() {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let r = root.path();
    for folder in ["alice/cal", "bob/cal"] {
        std::fs::create_dir_all(r.join(folder)).unwrap();
        std::fs::write(r.join(folder).join(".dav.toml"), "kind = \"calendar\"\n").unwrap();
        std::fs::write(r.join(folder).join("a.ics"), event("a")).unwrap();
        std::fs::write(r.join(folder).join("b.ics"), event("b")).unwrap();
    }
    let args = [
        "--root",
        r.to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
        "--watch",
        "off",
    ];
    // Folders the background pass checks before alice's and bob's (in key order), so
    // that the first requests come while it is still under way.
    for i in 0..2000 {
        std::fs::create_dir_all(r.join(format!("a/{i:04}"))).unwrap();
    }
    let srv = Dirdav::start(&args);
    let (_, bob_token) = sync(&srv, "/bob/cal/", "", "1");
    let old_etag = srv
        .request("GET", "/alice/cal/a.ics")
        .send()
        .header("etag")
        .unwrap()
        .to_owned();
    assert!(srv.terminate().success());

    std::fs::write(r.join("alice/cal/a.ics"), event("a-edited")).unwrap();
    std::fs::remove_file(r.join("bob/cal/b.ics")).unwrap();
    std::fs::create_dir(r.join("alice/work")).unwrap();
    std::fs::write(r.join("alice/work/.dav.toml"), "kind = \"calendar\"\n").unwrap();
    std::fs::write(r.join("alice/work/w.ics"), event("w")).unwrap();
    // A temporary of a process that no longer runs (the PID is above the kernel's limit).
    let stale = r.join("bob/cal/.dirdav-tmp-4194999-0");
    std::fs::write(&stale, "half a file").unwrap();

    let srv = Dirdav::start(&args);
    let got = srv.request("GET", "/alice/cal/a.ics").send();
    assert_eq!(got.status, 200);
    assert!(got.body.contains("UID:a-edited"), "{}", got.body);
    assert_ne!(got.header("etag").unwrap(), old_etag);
    let put = srv
        .request("PUT", "/alice/cal/a.ics")
        .header("If-Match", &old_etag)
        .body(event("a"))
        .send();
    assert_eq!(put.status, 412, "the old ETag no longer matches");
    let r2 = srv
        .request("PROPFIND", "/alice/")
        .header("Depth", "1")
        .body(r#"<propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#)
        .send();
    assert!(r2.body.contains("/alice/work/"), "{}", r2.body);
    let (changed, _) = sync(&srv, "/bob/cal/", &bob_token, "1");
    assert_eq!(changed, ["/bob/cal/b.ics 404"]);

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut log = srv.drain_log().join("\n");
    while !log.contains("checked the tree for changes made while stopped") {
        assert!(Instant::now() < deadline, "{log}");
        log.push_str(&srv.drain_log().join("\n"));
    }
    assert!(
        log.contains("loaded the index") && log.contains("warm=true"),
        "{log}"
    );
    assert!(!stale.exists(), "the stale temporary is removed");
}
