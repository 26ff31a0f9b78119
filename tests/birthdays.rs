//! End-to-end: the shipped birthdays calendar over a real socket, with users, access
//! rules, an outside edit and a restart.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use support::{Dirdav, write_file};

fn card(uid: &str, name: &str, bday: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nBDAY:{bday}\r\nEND:VCARD\r\n")
}

/// alice has an address book; bob has a private one and one he lets alice read.
fn tree() -> (tempfile::TempDir, std::path::PathBuf, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    let write = |path: &str, text: &str| write_file(&root, path, text);
    write("alice/contacts/.dav.toml", "kind = \"addressbook\"\n");
    write(
        "alice/contacts/carol.vcf",
        &card("c", "Carol", "1985-04-12"),
    );
    write("bob/private/.dav.toml", "kind = \"addressbook\"\n");
    write(
        "bob/private/zed.vcf",
        &card("z", "Zed Secret", "1970-01-02"),
    );
    write(
        "bob/family/.dav.toml",
        "kind = \"addressbook\"\n\n[acl]\nread = [\"alice\"]\n",
    );
    write("bob/family/yara.vcf", &card("y", "Yara", "--07-14"));
    let htpasswd: String = ["alice", "bob"]
        .iter()
        .map(|u| format!("{u}:{}\n", bcrypt::hash(format!("{u}-pw"), 4).unwrap()))
        .collect();
    std::fs::write(dir.path().join("htpasswd"), htpasswd).unwrap();
    let state = dir.path().join("state");
    let args = vec![
        "--root".to_owned(),
        root.display().to_string(),
        "--htpasswd".to_owned(),
        dir.path().join("htpasswd").display().to_string(),
        "--state-dir".to_owned(),
        state.display().to_string(),
        "--no-create-homes".to_owned(),
    ];
    (dir, root, args)
}

fn start(args: &[String]) -> Dirdav {
    Dirdav::start(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn sync(srv: &Dirdav, user: &str, token: &str) -> support::Response {
    let body = format!(
        r#"<sync-collection xmlns="DAV:"><sync-token>{token}</sync-token><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#
    );
    srv.request("REPORT", "/alice/birthdays/")
        .auth(user, &format!("{user}-pw"))
        .body(body)
        .send()
}

fn token_of(body: &str) -> String {
    let start = body.find("sync-token>").unwrap() + "sync-token>".len();
    body[start..].split('<').next().unwrap().to_owned()
}

fn summaries(srv: &Dirdav) -> Vec<String> {
    let export = srv
        .request("GET", "/alice/birthdays/")
        .auth("alice", "alice-pw")
        .send();
    assert_eq!(export.status, 200, "{}", export.body);
    let mut out: Vec<String> = export
        .body
        .lines()
        .filter_map(|l| l.strip_prefix("SUMMARY:"))
        .map(|s| s.trim().to_owned())
        .collect();
    out.sort();
    out
}

#[test]
fn birthdays_come_from_what_the_user_may_read_and_no_one_else_sees_them() {
    let (_dir, _root, args) = tree();
    let srv = start(&args);
    // alice's own cards and the ones bob lets her read; never bob's private ones.
    assert_eq!(summaries(&srv), ["Birthday: Carol", "Birthday: Yara"]);

    // bob may not look into alice's birthdays, by any request.
    for (method, path) in [
        ("PROPFIND", "/alice/birthdays/"),
        ("GET", "/alice/birthdays/"),
        ("REPORT", "/alice/birthdays/"),
    ] {
        let reply = srv
            .request(method, path)
            .auth("bob", "bob-pw")
            .header("Depth", "1")
            .body(r#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#)
            .send();
        assert!(
            [403, 404].contains(&reply.status),
            "{method}: {} {}",
            reply.status,
            reply.body
        );
        assert!(!reply.body.contains("Carol"), "{}", reply.body);
    }

    // alice is told it is read-only: no write privilege, hers neither.
    let privileges = srv
        .request("PROPFIND", "/alice/birthdays/")
        .auth("alice", "alice-pw")
        .header("Depth", "0")
        .body(r#"<propfind xmlns="DAV:"><prop><current-user-privilege-set/></prop></propfind>"#)
        .send();
    assert_eq!(privileges.status, 207, "{}", privileges.body);
    assert!(privileges.body.contains("<d:read/>"), "{}", privileges.body);
    assert!(!privileges.body.contains("write"), "{}", privileges.body);
}

#[test]
fn outside_edits_of_the_cards_reach_sync_and_tokens_survive_a_restart() {
    let (_dir, root, args) = tree();
    let srv = start(&args);
    let first = sync(&srv, "alice", "");
    assert_eq!(first.status, 207, "{}", first.body);
    let token = token_of(&first.body);

    // A card written by an editor (or a git pull): the watcher sees it, and the next
    // sync names the new event.
    write_file(
        &root,
        "alice/contacts/dana.vcf",
        &card("d", "Dana", "19900101"),
    );
    let started = Instant::now();
    let changed = loop {
        let reply = sync(&srv, "alice", &token);
        assert_eq!(reply.status, 207, "{}", reply.body);
        if reply.body.contains("-birthday.ics") {
            break reply;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            reply.body
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        changed.body.matches("<d:response>").count(),
        1,
        "{}",
        changed.body
    );
    let token = token_of(&changed.body);
    drop(srv);

    // After a restart the token is still good: nothing changed, nothing is sent.
    let srv = start(&args);
    let after = sync(&srv, "alice", &token);
    assert_eq!(after.status, 207, "{}", after.body);
    assert!(!after.body.contains("<d:response>"), "{}", after.body);
    assert_eq!(summaries(&srv).len(), 3);
}

#[test]
fn the_plugins_setting_can_leave_it_out() {
    let (_dir, _root, mut args) = tree();
    args.extend([
        "--plugins".to_owned(),
        "caldav,carddav,discovery".to_owned(),
    ]);
    let srv = start(&args);
    let home = srv
        .request("PROPFIND", "/alice/")
        .auth("alice", "alice-pw")
        .header("Depth", "1")
        .send();
    assert_eq!(home.status, 207);
    assert!(home.body.contains("/alice/contacts/"), "{}", home.body);
    assert!(!home.body.contains("birthdays"), "{}", home.body);
}
