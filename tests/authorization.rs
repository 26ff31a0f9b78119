//! End-to-end: authorization is one gate that every path passes, and it fails closed.
//! Each test is a way another user tried to read or destroy what the ACL forbids; after
//! every refusal the tree on disk is compared with what it was.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::path::PathBuf;

use support::{Dirdav, Request, Response, card, event_titled as event, snapshot, write_file};

/// alice and bob sign in with passwords; carol and dan are `[users]` users named by the
/// proxy (`Remote-User`); `shared` and `stranger` are names a proxy may send that are no
/// user's.
///
/// - `alice/drop/`: bob may read and write; `hidden/` below it grants read to nobody,
///   `box/` holds `inner/`, which grants read to nobody either.
/// - `alice/projects/`: a calendar bob may read, holding `secret/` (read by nobody)
///   and `gone/` (read by nobody).
/// - `alice/private/`: alice's alone.
/// - `shared/a/` and `shared/b/`: address books in a top-level folder that is nobody's
///   home; `a` grants read to `shared`, `b` to nobody.
/// - `public/`: read by all; `broken/` has a `.dav.toml` that does not parse, `typo/`
///   an `[acl]` key that is no privilege, both meant to keep the folder to alice.
fn tree() -> (tempfile::TempDir, Dirdav) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    let write = |path: &str, text: &str| write_file(&root, path, text);
    write(
        "alice/drop/.dav.toml",
        "[acl]\nread = [\"bob\"]\nwrite = [\"bob\"]\n",
    );
    write("alice/drop/x.txt", "x");
    write("alice/drop/hidden/.dav.toml", "[acl]\nread = []\n");
    write("alice/drop/hidden/h.txt", "alice's secret");
    write("alice/drop/box/b.txt", "b");
    write("alice/drop/box/inner/.dav.toml", "[acl]\nread = []\n");
    write("alice/drop/box/inner/i.txt", "alice's other secret");
    write(
        "alice/projects/.dav.toml",
        "kind = \"calendar\"\n\n[acl]\nread = [\"bob\"]\n",
    );
    write("alice/projects/p.ics", &event("p", "Kick-off"));
    write(
        "alice/projects/secret/.dav.toml",
        "kind = \"calendar\"\n\n[acl]\nread = []\n",
    );
    write("alice/projects/secret/s.ics", &event("s", "Takeover talks"));
    write("alice/projects/secret/s2.ics", &event("s2", "Layoffs"));
    write("alice/projects/gone/.dav.toml", "[acl]\nread = []\n");
    write("alice/projects/gone/g.txt", "g");
    write("alice/private/.dav.toml", "kind = \"calendar\"\n");
    write("alice/private/p.ics", &event("pp", "Doctor"));
    write("bob/.keep", "");
    write("carol/calendar/.dav.toml", "kind = \"calendar\"\n");
    write(
        "shared/a/.dav.toml",
        "kind = \"addressbook\"\n\n[acl]\nread = [\"shared\"]\n",
    );
    write("shared/a/a.vcf", &card("a", "Ann Open"));
    write("shared/b/.dav.toml", "kind = \"addressbook\"\n");
    write("shared/b/b.vcf", &card("b", "Bea Hidden"));
    write("shared/notes.txt", "nobody's notes");
    write("public/.dav.toml", "[acl]\nread = [\"all\"]\n");
    write("public/f.txt", "for everyone");
    write("public/broken/.dav.toml", "[acl\nread = [\"alice\"]\n");
    write("public/broken/f.txt", "for alice only");
    write("public/typo/.dav.toml", "[acl]\nRead = [\"alice\"]\n");
    write("public/typo/f.txt", "for alice only");
    let htpasswd: String = ["alice", "bob"]
        .iter()
        .map(|u| format!("{u}:{}\n", bcrypt::hash(format!("{u}-pw"), 4).unwrap()))
        .collect();
    std::fs::write(dir.path().join("htpasswd"), htpasswd).unwrap();
    std::fs::write(
        dir.path().join("dirdav.toml"),
        "root = \"tree\"\nhtpasswd = \"htpasswd\"\ntrust-proxy-user = \"Remote-User\"\n\n\
         [users.carol]\ndisplayname = \"Carol\"\n\n[users.dan]\ndisplayname = \"Dan\"\n",
    )
    .unwrap();
    let config = dir.path().join("dirdav.toml");
    let srv = Dirdav::start(&["--config", config.to_str().unwrap()]);
    (dir, srv)
}

fn root(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("tree")
}

/// A request as a signed-in user: alice and bob by password, anyone else named by the
/// proxy (the test connects from loopback, a trusted proxy by default).
fn as_user(srv: &Dirdav, user: &str, method: &str, path: &str) -> Request {
    let request = srv.request(method, path);
    match user {
        "alice" | "bob" => request.auth(user, &format!("{user}-pw")),
        other => request.header("Remote-User", other),
    }
}

fn text(r: &Response) -> String {
    r.body.clone()
}

const PROPFIND_ETAG: &str = r#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#;

/// 1. A merged address book holds only the books its user may read: a principal named
///    like a top-level folder gets no merged view of the books there.
#[test]
fn a_merged_address_book_shows_only_books_its_user_may_read() {
    let (_dir, srv) = tree();
    let listing = as_user(&srv, "shared", "PROPFIND", "/shared/all-contacts/")
        .header("Depth", "1")
        .body(PROPFIND_ETAG)
        .send();
    assert!(
        !text(&listing).contains("b.vcf"),
        "{} {}",
        listing.status,
        text(&listing)
    );
    let query = r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><C:address-data/></D:prop></C:addressbook-query>"#;
    let report = as_user(&srv, "shared", "REPORT", "/shared/all-contacts/")
        .header("Depth", "1")
        .body(query)
        .send();
    assert!(!text(&report).contains("Bea Hidden"), "{}", text(&report));
    for href in ["/shared/all-contacts/b~b.vcf", "/shared/b/b.vcf"] {
        let get = as_user(&srv, "shared", "GET", href).send();
        assert_eq!(get.status, 404, "{href}: {}", text(&get));
    }
    // The book granted to `shared` by name is still theirs to read.
    let own = as_user(&srv, "shared", "GET", "/shared/a/a.vcf").send();
    assert_eq!(own.status, 200);
}

/// 2. A top-level folder is a user's home only when the user is known (htpasswd or
///    `[users]`): a proxy-named `shared` owns nothing in `/shared/`.
#[test]
fn a_top_level_folder_is_a_home_only_for_a_known_user() {
    let (dir, srv) = tree();
    let before = snapshot(&root(&dir));
    for (method, path, body) in [
        ("GET", "/shared/notes.txt", ""),
        ("PUT", "/shared/new.txt", "mine now"),
        ("PUT", "/shared/notes.txt", "mine now"),
        ("DELETE", "/shared/notes.txt", ""),
        ("DELETE", "/shared/b/", ""),
        ("MKCOL", "/shared/new/", ""),
    ] {
        let r = as_user(&srv, "shared", method, path).body(body).send();
        assert_eq!(r.status, 404, "{method} {path}: {}", text(&r));
    }
    assert_eq!(snapshot(&root(&dir)), before, "nothing changed on disk");
    // carol, a [users] user named by the proxy, has her home.
    let put = as_user(&srv, "carol", "PUT", "/carol/calendar/e.ics")
        .body(event("e", "Carol's"))
        .send();
    assert_eq!(put.status, 201, "{}", text(&put));
    // Homes are made for known users only: dan gets one, a stranger does not.
    for user in ["dan", "stranger"] {
        let r = as_user(&srv, user, "PROPFIND", "/")
            .header("Depth", "0")
            .body(PROPFIND_ETAG)
            .send();
        assert_eq!(r.status, 207, "{user}");
    }
    assert!(root(&dir).join("dan/calendar/.dav.toml").exists());
    assert!(!root(&dir).join("stranger").exists());
    // The operator is told, once per name, how to give such a user a home.
    let log = srv.drain_log().join("\n");
    assert_eq!(log.matches("add [users.stranger]").count(), 1, "{log}");
    assert!(!log.contains("add [users.dan]"), "{log}");
}

/// 3. COPY and MOVE cannot overwrite a destination the user may not read, nor tell it
///    from a free name; overwriting a folder needs the privileges DELETE would.
#[test]
fn copy_and_move_neither_destroy_nor_reveal_what_the_user_cannot_read() {
    let (dir, srv) = tree();
    // Bob's first request makes his scheduling inbox and outbox: not a refusal's doing.
    as_user(&srv, "bob", "OPTIONS", "/").send();
    let before = snapshot(&root(&dir));
    for method in ["COPY", "MOVE"] {
        for overwrite in ["T", "F"] {
            for dest in ["/alice/drop/hidden", "/alice/drop/hidden/h.txt"] {
                let r = as_user(&srv, "bob", method, "/alice/drop/x.txt")
                    .header("Destination", dest)
                    .header("Overwrite", overwrite)
                    .send();
                assert_eq!(
                    r.status,
                    404,
                    "{method} onto {dest}, Overwrite {overwrite}: {}",
                    text(&r)
                );
            }
        }
        // A folder holding one bob may not read is not his to overwrite or delete.
        let r = as_user(&srv, "bob", method, "/alice/drop/x.txt")
            .header("Destination", "/alice/drop/box")
            .header("Overwrite", "T")
            .send();
        assert_eq!(r.status, 403, "{method} onto box: {}", text(&r));
    }
    let delete = as_user(&srv, "bob", "DELETE", "/alice/drop/box/").send();
    assert_eq!(delete.status, 403, "{}", text(&delete));
    // Nor may he carry it off whole into his own home, where he would own its secret.
    for method in ["COPY", "MOVE"] {
        let r = as_user(&srv, "bob", method, "/alice/drop/box/")
            .header("Destination", "/bob/box/")
            .send();
        assert_eq!(r.status, 403, "{method} box out: {}", text(&r));
    }
    assert_eq!(snapshot(&root(&dir)), before, "nothing changed on disk");
    // A free name is still free.
    let copy = as_user(&srv, "bob", "COPY", "/alice/drop/x.txt")
        .header("Destination", "/alice/drop/free.txt")
        .header("Overwrite", "F")
        .send();
    assert_eq!(copy.status, 201, "{}", text(&copy));
    // And alice, who owns it all, may delete the box.
    let delete = as_user(&srv, "alice", "DELETE", "/alice/drop/box/").send();
    assert_eq!(delete.status, 204, "{}", text(&delete));
}

/// 4. A multiget answers each href with the check GET makes: an item in a folder the
///    user may not read is 404, even inside the collection the report was sent to.
#[test]
fn multiget_answers_only_items_the_user_may_read() {
    let (_dir, srv) = tree();
    let body = r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><D:href>/alice/projects/p.ics</D:href><D:href>/alice/projects/secret/s.ics</D:href></C:calendar-multiget>"#;
    let bob = as_user(&srv, "bob", "REPORT", "/alice/projects/")
        .header("Depth", "1")
        .body(body)
        .send();
    assert_eq!(bob.status, 207);
    let answer = text(&bob);
    assert!(answer.contains("Kick-off"), "{answer}");
    assert!(!answer.contains("Takeover"), "{answer}");
    let s = answer.split("secret/s.ics</").nth(1).unwrap_or("");
    assert!(s.contains("404"), "{answer}");
    let alice = as_user(&srv, "alice", "REPORT", "/alice/projects/")
        .header("Depth", "1")
        .body(body)
        .send();
    assert!(text(&alice).contains("Takeover"), "the owner reads both");
}

/// 5. sync-collection does not name deleted members the user could not see: neither an
///    item of a hidden folder nor a hidden folder itself.
#[test]
fn sync_collection_reports_only_deletions_the_user_could_have_seen() {
    let (_dir, srv) = tree();
    let sync = |user: &str, token: &str| {
        let body = format!(
            r#"<sync-collection xmlns="DAV:"><sync-token>{token}</sync-token><sync-level>infinite</sync-level><prop><getetag/></prop></sync-collection>"#
        );
        let r = as_user(&srv, user, "REPORT", "/alice/projects/")
            .body(body)
            .send();
        assert_eq!(r.status, 207, "{}", text(&r));
        let answer = text(&r);
        let token = answer
            .split("sync-token>")
            .nth(1)
            .and_then(|t| t.split('<').next())
            .unwrap()
            .to_owned();
        (answer, token)
    };
    let (first, bob_token) = sync("bob", "");
    assert!(
        first.contains("p.ics") && !first.contains("secret"),
        "{first}"
    );
    let (_, alice_token) = sync("alice", "");
    for path in ["/alice/projects/secret/s2.ics", "/alice/projects/gone/"] {
        let r = as_user(&srv, "alice", "DELETE", path).send();
        assert_eq!(r.status, 204, "{path}");
    }
    let (alice_sees, _) = sync("alice", &alice_token);
    assert!(
        alice_sees.contains("s2.ics") && alice_sees.contains("gone"),
        "{alice_sees}"
    );
    let (bob_sees, _) = sync("bob", &bob_token);
    assert!(
        !bob_sees.contains("s2.ics") && !bob_sees.contains("gone"),
        "{bob_sees}"
    );
}

/// 6. The `If` header treats a resource the user may not read as one that does not
///    exist: its ETag cannot be guessed through it.
#[test]
fn the_if_header_knows_no_etag_of_what_the_user_cannot_read() {
    let (_dir, srv) = tree();
    let found = as_user(&srv, "alice", "PROPFIND", "/alice/private/p.ics")
        .header("Depth", "0")
        .body(PROPFIND_ETAG)
        .send();
    let etag = text(&found)
        .split("getetag>")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .unwrap()
        .replace("&quot;", "\"");
    let guess = |tag: &str, name: &str| {
        as_user(&srv, "bob", "PUT", &format!("/alice/drop/{name}"))
            .header("If", &format!("</alice/private/p.ics> ([{tag}])"))
            .body("guess")
            .send()
            .status
    };
    let right = guess(&etag, "right.txt");
    let wrong = guess("\"not-it\"", "wrong.txt");
    assert_eq!((right, wrong), (412, 412));
    // The owner's If header works as before.
    let own = as_user(&srv, "alice", "PUT", "/alice/drop/own.txt")
        .header("If", &format!("</alice/private/p.ics> ([{etag}])"))
        .body("mine")
        .send();
    assert_eq!(own.status, 201, "{}", text(&own));
}

/// 7. A `.dav.toml` that does not parse, or an `[acl]` key that is no privilege, closes
///    the folder instead of opening it to what its parent grants; the log names the
///    file.
#[test]
fn a_broken_or_misspelt_acl_closes_the_folder_and_says_so() {
    let (_dir, srv) = tree();
    assert_eq!(srv.request("GET", "/public/f.txt").send().status, 200);
    for path in ["/public/broken/f.txt", "/public/typo/f.txt"] {
        let anonymous = srv.request("GET", path).send();
        assert_eq!(anonymous.status, 401, "{path}: {}", text(&anonymous));
        let bob = as_user(&srv, "bob", "GET", path).send();
        assert_eq!(bob.status, 404, "{path}");
        let listing = srv
            .request("PROPFIND", "/public/")
            .header("Depth", "infinity")
            .body(PROPFIND_ETAG)
            .send();
        assert!(!text(&listing).contains(path), "{}", text(&listing));
    }
    let log = srv.drain_log().join("\n");
    for file in ["public/broken/.dav.toml", "public/typo/.dav.toml"] {
        assert!(log.contains(file), "the log names {file}:\n{log}");
    }
    assert!(log.contains("Read"), "the log names the key:\n{log}");
}
