//! End-to-end: WebDAV locking (class 2, RFC 4918 §6-7, the `dirdav-locks` plugin) as
//! Windows, Office, Finder and cadaver use it, over the socket, with what is on disk.
//! In example-data, `/shared/` is a folder alice and bob may both change.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::path::Path;

use support::{Dirdav, Response, example_server};

const ALICE: (&str, &str) = ("alice", "wonderland");
const BOB: (&str, &str) = ("bob", "builder");

fn lockinfo(scope: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:{scope}/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:someone@example.com</D:href></D:owner></D:lockinfo>"#
    )
}

/// Takes a lock as `who`; returns the answer.
fn lock(srv: &Dirdav, who: (&str, &str), path: &str, scope: &str, depth: &str) -> Response {
    srv.request("LOCK", path)
        .auth(who.0, who.1)
        .header("Depth", depth)
        .header("Timeout", "Second-600")
        .header("Content-Type", "application/xml")
        .body(lockinfo(scope))
        .send()
}

/// The token of a granted lock, from its `Lock-Token` header.
fn token_of(r: &Response) -> String {
    assert!(matches!(r.status, 200 | 201), "{} {}", r.status, r.body);
    let header = r.header("lock-token").expect("a Lock-Token header");
    let token = header
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap();
    assert!(token.starts_with("urn:uuid:"), "{token}");
    token.to_owned()
}

fn put(srv: &Dirdav, who: (&str, &str), path: &str, body: &str, if_header: Option<&str>) -> u16 {
    let mut r = srv.request("PUT", path).auth(who.0, who.1).body(body);
    if let Some(v) = if_header {
        r = r.header("If", v);
    }
    r.send().status
}

/// The status of a request without a body, with a `Destination` for COPY and MOVE.
fn status(
    srv: &Dirdav,
    who: (&str, &str),
    method: &str,
    path: &str,
    destination: Option<&str>,
) -> u16 {
    let mut r = srv.request(method, path).auth(who.0, who.1);
    if let Some(d) = destination {
        r = r.header("Destination", d);
    }
    r.send().status
}

fn discovery(srv: &Dirdav, who: (&str, &str), path: &str) -> String {
    let r = srv
        .request("PROPFIND", path)
        .auth(who.0, who.1)
        .header("Depth", "0")
        .body(r#"<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>"#)
        .send();
    assert_eq!(r.status, 207, "{}", r.body);
    r.body
}

fn on_disk(dir: &Path, path: &str) -> Option<String> {
    std::fs::read_to_string(dir.join("example-data").join(path)).ok()
}

/// A locked file takes writes only with its token, and only from the user who took
/// the lock; everyone else gets 423 naming the lock's root, and the file is untouched.
#[test]
fn a_locked_file_takes_writes_only_with_its_token_from_its_owner() {
    let (dir, srv) = example_server(&[]);
    let file = "/shared/README.md";
    let before = on_disk(dir.path(), "shared/README.md").unwrap();

    let options = srv.request("OPTIONS", file).auth(ALICE.0, ALICE.1).send();
    let dav = options.header("dav").unwrap();
    assert!(dav.split(',').any(|t| t.trim() == "2"), "{dav}");
    let allow = options.header("allow").unwrap();
    assert!(
        allow.contains("LOCK") && allow.contains("UNLOCK"),
        "{allow}"
    );

    let granted = lock(&srv, ALICE, file, "exclusive", "0");
    let token = token_of(&granted);
    assert_eq!(granted.status, 200);
    for part in [
        "<d:lockscope><d:exclusive/></d:lockscope>",
        "<d:depth>0</d:depth>",
        "<d:timeout>Second-600</d:timeout>",
        "mailto:someone@example.com",
        &format!("<d:locktoken><d:href>{token}</d:href></d:locktoken>"),
        "<d:lockroot><d:href>/shared/README.md</d:href></d:lockroot>",
    ] {
        assert!(granted.body.contains(part), "{part} in {}", granted.body);
    }

    // Nobody writes without the token: not bob, not alice herself.
    let refused = srv
        .request("PUT", file)
        .auth(BOB.0, BOB.1)
        .body("bob was here")
        .send();
    assert_eq!(refused.status, 423);
    assert!(
        refused.body.contains(
            "<d:lock-token-submitted><d:href>/shared/README.md</d:href></d:lock-token-submitted>"
        ),
        "{}",
        refused.body
    );
    assert_eq!(put(&srv, ALICE, file, "no token", None), 423);
    // A token is its owner's: bob cannot use alice's.
    let with_token = format!("(<{token}>)");
    assert_eq!(put(&srv, BOB, file, "stolen", Some(&with_token)), 423);
    for (method, extra) in [
        ("DELETE", None),
        ("MOVE", Some("/shared/moved.md")),
        ("PROPPATCH", None),
    ] {
        let mut r = srv.request(method, file).auth(BOB.0, BOB.1);
        if let Some(dest) = extra {
            r = r.header("Destination", dest);
        }
        if method == "PROPPATCH" {
            r = r.body(r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:n xmlns:x="urn:x">v</x:n></D:prop></D:set></D:propertyupdate>"#);
        }
        assert_eq!(r.send().status, 423, "{method}");
    }
    assert_eq!(on_disk(dir.path(), "shared/README.md").unwrap(), before);
    assert!(on_disk(dir.path(), "shared/moved.md").is_none());

    // Reading and copying away are not writes to it; the copy is not locked.
    let copied = srv
        .request("COPY", file)
        .auth(BOB.0, BOB.1)
        .header("Destination", "/shared/copy.md")
        .send();
    assert_eq!(copied.status, 201);
    assert!(!discovery(&srv, BOB, "/shared/copy.md").contains("activelock"));
    // Nor onto it.
    let onto = srv
        .request("COPY", "/shared/copy.md")
        .auth(BOB.0, BOB.1)
        .header("Destination", file)
        .send();
    assert_eq!(onto.status, 423);

    // Everyone who can read it sees the lock; its token is shown to those who may
    // remove it: alice, and bob, who may write /shared/ too.
    let seen = discovery(&srv, BOB, file);
    assert!(
        seen.contains("<d:activelock>") && seen.contains(&token),
        "{seen}"
    );
    assert!(discovery(&srv, ALICE, file).contains(&token));

    // Another lock conflicts.
    let conflict = lock(&srv, BOB, file, "shared", "0");
    assert_eq!(conflict.status, 423);
    assert!(
        conflict.body.contains("no-conflicting-lock"),
        "{}",
        conflict.body
    );

    // With the token, alice writes.
    assert_eq!(
        put(&srv, ALICE, file, "alice's edit", Some(&with_token)),
        204
    );
    assert_eq!(
        on_disk(dir.path(), "shared/README.md").as_deref(),
        Some("alice's edit")
    );

    // UNLOCK: a token that is no lock here is a 409.
    let bogus = srv
        .request("UNLOCK", file)
        .auth(BOB.0, BOB.1)
        .header(
            "Lock-Token",
            "<urn:uuid:00000000-0000-0000-0000-000000000000>",
        )
        .send();
    assert_eq!(bogus.status, 409);
    assert!(bogus.body.contains("lock-token-matches-request-uri"));
    let lifted = srv
        .request("UNLOCK", file)
        .auth(ALICE.0, ALICE.1)
        .header("Lock-Token", &format!("<{token}>"))
        .send();
    assert_eq!(lifted.status, 204);
    assert_eq!(put(&srv, BOB, file, "bob's turn", None), 204);
    assert!(!discovery(&srv, ALICE, file).contains("activelock"));
}

/// Locks are kept in the state directory: after a crash (SIGKILL) and a start, the
/// lock still guards the file and its token still works.
#[test]
fn a_lock_survives_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_str().unwrap();
    let (dir, srv) = example_server(&["--state-dir", state_arg]);
    let file = "/shared/Budget 2027.csv".replace(' ', "%20");
    let token = token_of(&lock(&srv, ALICE, &file, "exclusive", "0"));
    srv.kill();

    let srv = Dirdav::start_in(&["--state-dir", state_arg], dir.path());
    assert_eq!(put(&srv, BOB, &file, "x", None), 423);
    let seen = discovery(&srv, ALICE, &file);
    assert!(seen.contains(&token), "{seen}");
    assert_eq!(
        put(
            &srv,
            ALICE,
            &file,
            "after the restart",
            Some(&format!("(<{token}>)"))
        ),
        204
    );
    let lifted = srv
        .request("UNLOCK", &file)
        .auth(ALICE.0, ALICE.1)
        .header("Lock-Token", &format!("<{token}>"))
        .send();
    assert_eq!(lifted.status, 204);
    srv.terminate();

    // And an UNLOCK is kept too.
    let srv = Dirdav::start_in(&["--state-dir", state_arg], dir.path());
    assert_eq!(put(&srv, BOB, &file, "free again", None), 204);
}

/// LOCK on an unmapped URL creates an empty file (RFC 4918 §7.3, no lock-null
/// resources); where no file can be made, nothing is created and no lock is kept.
#[test]
fn locking_an_unmapped_url_creates_an_empty_file() {
    let (dir, srv) = example_server(&[]);
    let r = lock(&srv, ALICE, "/alice/notes.txt", "exclusive", "0");
    let token = token_of(&r);
    assert_eq!(r.status, 201);
    assert_eq!(on_disk(dir.path(), "alice/notes.txt").as_deref(), Some(""));
    let seen = discovery(&srv, ALICE, "/alice/notes.txt");
    assert!(seen.contains(&token), "{seen}");
    assert_eq!(
        put(
            &srv,
            ALICE,
            "/alice/notes.txt",
            "first words",
            Some(&format!("(<{token}>)"))
        ),
        204
    );

    // No folder: 409, and the lock it would have been is not kept.
    let r = lock(&srv, ALICE, "/alice/later/x.txt", "exclusive", "0");
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(status(&srv, ALICE, "MKCOL", "/alice/later/", None), 201);
    assert_eq!(
        lock(&srv, BOB, "/shared/x.txt", "exclusive", "0").status,
        201,
        "an unrelated lock"
    );
    let r = lock(&srv, ALICE, "/alice/later/x.txt", "exclusive", "0");
    assert_eq!(r.status, 201, "{}", r.body);

    // A hidden name is not made; an empty file is no calendar object.
    assert_eq!(
        lock(&srv, ALICE, "/alice/.secret", "exclusive", "0").status,
        403
    );
    assert!(on_disk(dir.path(), "alice/.secret").is_none());
    let r = lock(&srv, ALICE, "/alice/calendar/new.ics", "exclusive", "0");
    assert!(matches!(r.status, 400..=499), "{} {}", r.status, r.body);
    assert!(on_disk(dir.path(), "alice/calendar/new.ics").is_none());
    assert!(!discovery(&srv, ALICE, "/alice/calendar/").contains("activelock"));
}

/// A depth-infinity lock on a folder guards the folder, its membership and
/// everything in it; the owner writes with the token in a tagged list (as neon and
/// Windows send it); removing the folder removes the lock. A depth-0 lock guards the
/// membership only.
#[test]
fn a_deep_lock_on_a_folder_guards_everything_in_it() {
    let (dir, srv) = example_server(&[]);
    assert_eq!(status(&srv, ALICE, "MKCOL", "/shared/docs/", None), 201);
    let token = token_of(&lock(&srv, ALICE, "/shared/docs/", "exclusive", "infinity"));
    let tagged = format!("<http://127.0.0.1:{}/shared/docs/> (<{token}>)", srv.port);
    assert_eq!(put(&srv, BOB, "/shared/docs/new.txt", "x", None), 423);
    assert_eq!(status(&srv, BOB, "MKCOL", "/shared/docs/sub/", None), 423);
    assert_eq!(
        status(
            &srv,
            BOB,
            "COPY",
            "/shared/README.md",
            Some("/shared/docs/readme.md")
        ),
        423
    );
    assert_eq!(
        put(&srv, ALICE, "/shared/docs/new.txt", "mine", Some(&tagged)),
        201
    );
    let inside = discovery(&srv, BOB, "/shared/docs/new.txt");
    assert!(
        inside.contains("<d:lockroot><d:href>/shared/docs/</d:href></d:lockroot>"),
        "{inside}"
    );
    assert_eq!(
        status(
            &srv,
            BOB,
            "MOVE",
            "/shared/docs/new.txt",
            Some("/shared/moved.txt")
        ),
        423
    );
    assert_eq!(status(&srv, BOB, "DELETE", "/shared/docs/", None), 423);
    assert_eq!(
        on_disk(dir.path(), "shared/docs/new.txt").as_deref(),
        Some("mine")
    );

    let deleted = srv
        .request("DELETE", "/shared/docs/")
        .auth(ALICE.0, ALICE.1)
        .header("If", &tagged)
        .send();
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(status(&srv, BOB, "MKCOL", "/shared/docs/", None), 201);
    assert!(!discovery(&srv, BOB, "/shared/docs/").contains("activelock"));
    assert_eq!(put(&srv, BOB, "/shared/docs/new.txt", "x", None), 201);
    // A lock below a folder guards the folder's removal too.
    let below = token_of(&lock(&srv, BOB, "/shared/docs/new.txt", "exclusive", "0"));
    let delete = |if_header: Option<String>| {
        let mut r = srv.request("DELETE", "/shared/docs/").auth(BOB.0, BOB.1);
        if let Some(v) = &if_header {
            r = r.header("If", v);
        }
        r.send().status
    };
    assert_eq!(delete(None), 423);
    assert!(on_disk(dir.path(), "shared/docs/new.txt").is_some());
    assert_eq!(
        delete(Some(format!("</shared/docs/new.txt> (<{below}>)"))),
        204
    );

    // Depth 0 on a folder: its members' content is free, its membership is not.
    let recipes = "/shared/Recipes/";
    let member = srv
        .request("PROPFIND", recipes)
        .auth(BOB.0, BOB.1)
        .header("Depth", "1")
        .send();
    let first = member
        .body
        .split("<d:href>")
        .skip(2)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .find(|h| !h.ends_with('/'))
        .expect("a recipe");
    lock(&srv, ALICE, recipes, "exclusive", "0");
    assert_eq!(put(&srv, BOB, &first, "changed", None), 204);
    assert_eq!(put(&srv, BOB, "/shared/Recipes/new.txt", "x", None), 423);
}

/// Shared locks coexist; an exclusive one waits for them.
#[test]
fn shared_locks_coexist_and_exclude_an_exclusive_one() {
    let (_dir, srv) = example_server(&[]);
    let file = "/shared/README.md";
    let a = token_of(&lock(&srv, ALICE, file, "shared", "0"));
    let b = token_of(&lock(&srv, BOB, file, "shared", "0"));
    assert_ne!(a, b);
    assert_eq!(lock(&srv, ALICE, file, "exclusive", "0").status, 423);
    // A write must submit every lock's token: with both shared locks held, neither
    // user alone can write.
    assert_eq!(put(&srv, ALICE, file, "x", Some(&format!("(<{a}>)"))), 423);
    let unlocked = srv
        .request("UNLOCK", file)
        .auth(BOB.0, BOB.1)
        .header("Lock-Token", &format!("<{b}>"))
        .send();
    assert_eq!(unlocked.status, 204);
    assert_eq!(put(&srv, ALICE, file, "x", Some(&format!("(<{a}>)"))), 204);
}

/// A LOCK without a body refreshes the lock named in the `If` header, with a new
/// timeout; a lock that lapsed guards nothing and its token no longer holds (412).
#[test]
fn refresh_and_expiry() {
    let (_dir, srv) = example_server(&[]);
    let file = "/shared/README.md";
    let token = token_of(&lock(&srv, ALICE, file, "exclusive", "0"));
    let refreshed = srv
        .request("LOCK", file)
        .auth(ALICE.0, ALICE.1)
        .header("If", &format!("(<{token}>)"))
        .header("Timeout", "Second-1")
        .send();
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert!(refreshed.header("lock-token").is_none());
    assert!(refreshed.body.contains(&token));
    assert!(
        refreshed.body.contains("<d:timeout>Second-1</d:timeout>"),
        "{}",
        refreshed.body
    );
    let bogus = srv
        .request("LOCK", file)
        .auth(ALICE.0, ALICE.1)
        .header("If", "(<urn:uuid:00000000-0000-0000-0000-000000000000>)")
        .send();
    assert_eq!(bogus.status, 412);

    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(put(&srv, BOB, file, "lapsed", None), 204);
    assert_eq!(
        put(&srv, ALICE, file, "x", Some(&format!("(<{token}>)"))),
        412
    );
    assert!(!discovery(&srv, ALICE, file).contains("activelock"));
}

/// `--no-locking` leaves class 2 out: no `2` in the `DAV:` header, LOCK is not a
/// method here, and resources say they support no lock.
#[test]
fn without_locking_the_server_is_class_1() {
    let (_dir, srv) = example_server(&["--no-locking"]);
    let options = srv
        .request("OPTIONS", "/shared/")
        .auth(ALICE.0, ALICE.1)
        .send();
    let dav = options.header("dav").unwrap();
    assert!(!dav.split(',').any(|t| t.trim() == "2"), "{dav}");
    assert!(!options.header("allow").unwrap().contains("LOCK"));
    assert_eq!(
        lock(&srv, ALICE, "/shared/README.md", "exclusive", "0").status,
        405
    );
    let r = srv
        .request("PROPFIND", "/shared/README.md")
        .auth(ALICE.0, ALICE.1)
        .header("Depth", "0")
        .body(r#"<D:propfind xmlns:D="DAV:"><D:prop><D:supportedlock/></D:prop></D:propfind>"#)
        .send();
    assert!(r.body.contains("<d:supportedlock/>"), "{}", r.body);
}

/// A LOCK creates its empty file only where nothing is: a file written into the tree
/// that the server has not noticed yet (here with `--watch off`) is kept whole, and
/// the LOCK is refused.
#[test]
fn locking_never_empties_a_file_the_server_has_not_seen() {
    let (dir, srv) = example_server(&["--watch", "off"]);
    std::fs::write(dir.path().join("example-data/shared/fresh.txt"), "keep me").unwrap();
    let r = lock(&srv, ALICE, "/shared/fresh.txt", "exclusive", "0");
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(
        on_disk(dir.path(), "shared/fresh.txt").as_deref(),
        Some("keep me")
    );
    assert!(!discovery(&srv, ALICE, "/shared/").contains("activelock"));
}

/// RFC 4918 §7.4, RFC 3744 §7.1.1: a lock covers only what its taker may write; those
/// who may write where a lock lies may remove it; what one user can make the lock table
/// hold is bounded, and each lock is its own small file in the state directory.
#[test]
fn locks_stay_within_what_their_taker_may_write_and_are_bounded() {
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("example-data");
    support::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("example-data"),
        &data,
    );
    std::fs::create_dir(data.join("shared/alice-only")).unwrap();
    std::fs::write(
        data.join("shared/alice-only/.dav.toml"),
        "[acl]\nread = [\"alice\"]\nwrite = [\"alice\"]\n",
    )
    .unwrap();
    std::fs::write(data.join("shared/alice-only/plan.txt"), "alice's").unwrap();
    let srv = Dirdav::start_in(&["--state-dir", state_arg], dir.path());
    let lock_files = || {
        std::fs::read_dir(state.path().join("locks"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "json")
            })
            .count()
    };

    // Bob may write /shared/ but not alice's folder in it: no deep lock over it, and
    // the refusal does not name what he cannot see.
    let r = lock(&srv, BOB, "/shared/", "exclusive", "infinity");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("need-privileges") && !r.body.contains("alice-only"),
        "{}",
        r.body
    );
    assert_eq!(
        put(
            &srv,
            ALICE,
            "/shared/alice-only/plan.txt",
            "still hers",
            None
        ),
        204
    );
    // A lock on the folder alone, or deep on a folder he may write all of, he gets.
    let shallow = token_of(&lock(&srv, BOB, "/shared/", "exclusive", "0"));
    assert_eq!(
        put(&srv, ALICE, "/shared/alice-only/new.txt", "x", None),
        201
    );
    let deep = token_of(&lock(
        &srv,
        BOB,
        "/shared/Recipes/",
        "exclusive",
        "infinity",
    ));
    assert_eq!(lock_files(), 2, "one file per lock");
    let r = srv
        .request("PUT", "/shared/Recipes/pie.txt")
        .auth(ALICE.0, ALICE.1)
        .body("pie")
        .send();
    assert_eq!(r.status, 423);
    assert!(
        r.body.contains("<d:href>/shared/Recipes/</d:href>"),
        "{}",
        r.body
    );
    // Alice may write there: she sees the token and may lift bob's lock.
    assert!(discovery(&srv, ALICE, "/shared/Recipes/").contains(&deep));
    let r = srv
        .request("UNLOCK", "/shared/Recipes/")
        .auth(ALICE.0, ALICE.1)
        .header("Lock-Token", &format!("<{deep}>"))
        .send();
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        put(&srv, ALICE, "/shared/Recipes/pie.txt", "pie", None),
        201
    );
    assert_eq!(lock_files(), 1);
    let r = srv
        .request("UNLOCK", "/shared/")
        .auth(BOB.0, BOB.1)
        .header("Lock-Token", &format!("<{shallow}>"))
        .send();
    assert_eq!(r.status, 204);
    assert_eq!(lock_files(), 0);

    // Bob reads alice's calendar but may not write it: he sees her lock without its
    // token and cannot lift it.
    let item = srv
        .request("PROPFIND", "/alice/calendar/")
        .auth(ALICE.0, ALICE.1)
        .header("Depth", "1")
        .body(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#)
        .send()
        .body
        .split("<d:href>")
        .map(|h| h[..h.find('<').unwrap_or(0)].to_owned())
        .find(|h| h.ends_with(".ics"))
        .unwrap();
    let hers = token_of(&lock(&srv, ALICE, &item, "exclusive", "0"));
    let seen = discovery(&srv, BOB, &item);
    assert!(
        seen.contains("<d:activelock>") && !seen.contains(&hers),
        "{seen}"
    );
    let r = srv
        .request("UNLOCK", &item)
        .auth(BOB.0, BOB.1)
        .header("Lock-Token", &format!("<{hers}>"))
        .send();
    assert_eq!(r.status, 403);

    // Bounds: a 1 MB owner is refused; one resource carries at most 32 locks.
    let huge = lockinfo("shared").replace("mailto:someone@example.com", &"x".repeat(1 << 20));
    let r = srv
        .request("LOCK", "/shared/README.md")
        .auth(BOB.0, BOB.1)
        .header("Depth", "0")
        .body(huge)
        .send();
    assert_eq!(r.status, 400, "{}", r.body);
    for i in 0..32 {
        let r = lock(
            &srv,
            if i % 2 == 0 { BOB } else { ALICE },
            "/shared/README.md",
            "shared",
            "0",
        );
        assert_eq!(r.status, 200, "{i}: {}", r.body);
    }
    let r = lock(&srv, BOB, "/shared/README.md", "shared", "0");
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(lock_files(), 33);
    let on_disk: u64 = std::fs::read_dir(state.path().join("locks"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(on_disk < 33 * 1024, "{on_disk} bytes");
}
