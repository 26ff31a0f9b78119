//! End-to-end: who may do what, over a real socket. A matrix of users × requests
//! checks every status, and that a refused request leaves the tree as it was.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use support::{Dirdav, event_titled as event, snapshot, write_file};

const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// alice shares `calendar` with the group `friends` (bob and carol) to read, and with
/// carol to write; `private` is hers alone; `public/holidays` may be read by anyone.
/// dave is a user nothing is shared with.
fn tree() -> (tempfile::TempDir, Dirdav) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    let write = |path: &str, text: &str| write_file(&root, path, text);
    write(
        "alice/calendar/.dav.toml",
        "kind = \"calendar\"\ndisplayname = \"Personal\"\n\n[acl]\nread = [\"@friends\"]\nwrite = [\"carol\"]\n",
    );
    write("alice/calendar/ev.ics", &event("ev", "Lunch"));
    write("alice/calendar/ev2.ics", &event("ev2", "Dentist"));
    write("alice/private/.dav.toml", "kind = \"calendar\"\n");
    write(
        "alice/contacts/.dav.toml",
        "kind = \"addressbook\"\n\n[acl]\nread = [\"bob\"]\n",
    );
    write(
        "alice/contacts/k.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:k\r\nFN:Kim Example\r\nN:Example;Kim;;;\r\nEND:VCARD\r\n",
    );
    write("alice/private/p.ics", &event("p", "Secret"));
    write(
        "public/holidays/.dav.toml",
        "kind = \"calendar\"\n\n[acl]\nread = [\"all\"]\n",
    );
    write("public/holidays/h.ics", &event("h", "New Year"));
    for user in ["bob", "carol", "dave"] {
        write(
            &format!("{user}/calendar/.dav.toml"),
            "kind = \"calendar\"\n",
        );
    }
    let htpasswd: String = USERS
        .iter()
        .map(|u| format!("{u}:{}\n", bcrypt::hash(format!("{u}-pw"), 4).unwrap()))
        .collect();
    std::fs::write(dir.path().join("htpasswd"), htpasswd).unwrap();
    std::fs::write(
        dir.path().join("dirdav.toml"),
        "root = \"tree\"\nhtpasswd = \"htpasswd\"\ncreate-homes = false\n\n[users.alice]\ndisplayname = \"Alice Example\"\n\n[groups]\nfriends = [\"bob\", \"carol\"]\n",
    )
    .unwrap();
    let config = dir.path().join("dirdav.toml");
    let srv = Dirdav::start(&["--config", config.to_str().unwrap()]);
    (dir, srv)
}

struct Case {
    method: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: String,
    /// Expected status for alice, bob, carol, dave and an anonymous request.
    expect: [u16; 5],
}

fn case(
    method: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: impl Into<String>,
    expect: [u16; 5],
) -> Case {
    Case {
        method,
        path,
        headers,
        body: body.into(),
        expect,
    }
}

#[test]
fn every_user_gets_exactly_what_the_acl_grants_and_refusals_change_nothing() {
    const PROPFIND: &str = r#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#;
    const PROPPATCH: &str = r#"<propertyupdate xmlns="DAV:"><set><prop><displayname>Ours</displayname></prop></set></propertyupdate>"#;
    let cases = [
        //                                                        alice bob carol dave anon
        case(
            "GET",
            "/alice/calendar/ev.ics",
            &[],
            "",
            [200, 200, 200, 404, 401],
        ),
        case(
            "PROPFIND",
            "/alice/calendar/",
            &[("Depth", "1")],
            PROPFIND,
            [207, 207, 207, 404, 401],
        ),
        case(
            "PUT",
            "/alice/calendar/ev.ics",
            &[],
            event("ev", "Long lunch"),
            [204, 403, 204, 404, 401],
        ),
        case(
            "PUT",
            "/alice/calendar/new.ics",
            &[],
            event("new", "Party"),
            [201, 403, 201, 404, 401],
        ),
        case(
            "PROPPATCH",
            "/alice/calendar/",
            &[],
            PROPPATCH,
            [207, 403, 207, 404, 401],
        ),
        case(
            "MOVE",
            "/alice/calendar/ev.ics",
            &[("Destination", "/alice/calendar/moved.ics")],
            "",
            [201, 403, 201, 404, 401],
        ),
        case(
            "DELETE",
            "/alice/calendar/ev2.ics",
            &[],
            "",
            [204, 403, 204, 404, 401],
        ),
        case(
            "GET",
            "/alice/private/p.ics",
            &[],
            "",
            [200, 404, 404, 404, 401],
        ),
        case(
            "PUT",
            "/alice/private/p.ics",
            &[],
            event("p", "Not secret"),
            [204, 404, 404, 404, 401],
        ),
        case(
            "PROPFIND",
            "/alice/private/",
            &[("Depth", "0")],
            PROPFIND,
            [207, 404, 404, 404, 401],
        ),
        case(
            "MKCOL",
            "/alice/newcol/",
            &[],
            "",
            [201, 403, 403, 403, 401],
        ),
        case(
            "GET",
            "/public/holidays/h.ics",
            &[],
            "",
            [200, 200, 200, 200, 200],
        ),
        case(
            "PROPFIND",
            "/public/holidays/",
            &[("Depth", "1")],
            PROPFIND,
            [207, 207, 207, 207, 207],
        ),
        case(
            "PUT",
            "/public/holidays/h.ics",
            &[],
            event("h", "Changed"),
            [403, 403, 403, 403, 401],
        ),
        case("DELETE", "/alice/", &[], "", [403, 403, 403, 403, 401]),
        case(
            "PUT",
            "/top.txt",
            &[],
            "at the root",
            [403, 403, 403, 403, 401],
        ),
    ];
    let who: [Option<&str>; 5] = [
        Some("alice"),
        Some("bob"),
        Some("carol"),
        Some("dave"),
        None,
    ];
    for (column, user) in who.iter().enumerate() {
        // A fresh tree per user: the writes of one row do not change the next.
        let (dir, srv) = tree();
        let root = dir.path().join("tree");
        // A user's first request makes what they own but lack (their home, their
        // scheduling inbox and outbox), whatever it asks: not a refusal's doing.
        if let Some(user) = user {
            srv.request("OPTIONS", "/")
                .auth(user, &format!("{user}-pw"))
                .send();
        }
        for c in &cases {
            let before = snapshot(&root);
            let mut request = srv.request(c.method, c.path);
            for (name, value) in c.headers {
                request = request.header(name, value);
            }
            if let Some(user) = user {
                request = request.auth(user, &format!("{user}-pw"));
            }
            let r = request.body(c.body.clone()).send();
            let expected = c.expect[column];
            let name = user.unwrap_or("anonymous");
            assert_eq!(
                r.status, expected,
                "{name}: {} {}: {}",
                c.method, c.path, r.body
            );
            if expected >= 400 {
                assert_eq!(
                    snapshot(&root),
                    before,
                    "{name}: {} {} changed the tree",
                    c.method,
                    c.path
                );
            }
            match expected {
                401 => assert!(
                    r.header("www-authenticate")
                        .is_some_and(|v| v.starts_with("Basic"))
                ),
                403 if c.path.starts_with("/alice/calendar/") => assert!(
                    r.body
                        .contains("<d:need-privileges><d:resource><d:href>/alice/calendar/"),
                    "{name}: {} {}: {}",
                    c.method,
                    c.path,
                    r.body
                ),
                404 => assert!(!r.body.contains("alice"), "a 404 names nothing: {}", r.body),
                _ => {}
            }
        }
    }
}

#[test]
fn listings_show_only_what_the_user_may_read_and_privilege_sets_tell_clients_the_truth() {
    let (_dir, srv) = tree();
    let propfind = |user: &str, path: &str, depth: &str, prop: &str| {
        srv.request("PROPFIND", path)
            .header("Depth", depth)
            .auth(user, &format!("{user}-pw"))
            .body(format!(
                r#"<propfind xmlns="DAV:"><prop><{prop}/></prop></propfind>"#
            ))
            .send()
    };
    let r = propfind("bob", "/alice/", "1", "resourcetype");
    assert_eq!(r.status, 207);
    assert!(
        r.body.contains("<d:href>/alice/calendar/</d:href>"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("private"), "{}", r.body);
    let r = propfind("dave", "/alice/", "1", "resourcetype");
    assert_eq!(r.status, 207, "a home is its user's principal: readable");
    assert!(!r.body.contains("/alice/calendar/"), "{}", r.body);
    let r = propfind("bob", "/", "1", "resourcetype");
    assert!(
        !r.body.contains("/public/"),
        "nothing is granted on /public/ itself: {}",
        r.body
    );

    let cups =
        |user: &str| propfind(user, "/alice/calendar/", "0", "current-user-privilege-set").body;
    let bob = cups("bob");
    assert!(
        bob.contains("<d:read/>") && !bob.contains("<d:write/>") && !bob.contains("write-content"),
        "{bob}"
    );
    let carol = cups("carol");
    assert!(
        carol.contains("<d:read/>") && carol.contains("<d:write/>"),
        "{carol}"
    );
    let alice = cups("alice");
    assert!(
        alice.contains("<d:all/>") && alice.contains("<d:write/>"),
        "{alice}"
    );

    // The owner reads the rules in effect; a sharee without read-acl does not.
    let r = propfind("alice", "/alice/calendar/ev.ics", "0", "acl");
    assert!(
        r.body.contains("<d:property><d:owner/></d:property>"),
        "{}",
        r.body
    );
    for member in ["/bob/", "/carol/"] {
        assert!(
            r.body.contains(&format!(
                "<d:href>{member}</d:href></d:principal><d:grant><d:privilege><d:read/>"
            )),
            "{}",
            r.body
        );
    }
    assert!(
        r.body
            .contains("<d:inherited><d:href>/alice/calendar/</d:href></d:inherited>"),
        "{}",
        r.body
    );
    let r = propfind("bob", "/alice/calendar/", "0", "acl");
    assert!(r.body.contains("404 Not Found"), "{}", r.body);

    let r = srv
        .request("ACL", "/alice/calendar/")
        .auth("alice", "alice-pw")
        .body(r#"<acl xmlns="DAV:"><ace><principal><all/></principal><grant><privilege><write/></privilege></grant></ace></acl>"#)
        .send();
    assert_eq!(r.status, 403);
    assert!(r.body.contains("no-protected-ace-conflict"), "{}", r.body);
    let r = srv.request("OPTIONS", "/").auth("bob", "bob-pw").send();
    assert!(r.header("dav").unwrap().contains("access-control"));

    // sync-collection and calendar-query answer sharees too, and only with readable items.
    let r = srv
        .request("REPORT", "/alice/calendar/")
        .header("Depth", "1")
        .auth("bob", "bob-pw")
        .body(r#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#)
        .send();
    assert_eq!(r.status, 207);
    assert!(r.body.contains("/alice/calendar/ev.ics"), "{}", r.body);
    let r = srv
        .request("REPORT", "/alice/private/")
        .header("Depth", "1")
        .auth("bob", "bob-pw")
        .body(r#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#)
        .send();
    assert_eq!(r.status, 404);
}

#[test]
fn a_shared_calendar_shows_in_the_sharees_home_read_only_when_only_read_is_granted() {
    let (dir, srv) = tree();
    let root = dir.path().join("tree");
    const PROPS: &str = r#"<propfind xmlns="DAV:"><prop><resourcetype/><displayname/><owner/><current-user-privilege-set/></prop></propfind>"#;
    let r = srv
        .request("PROPFIND", "/bob/")
        .header("Depth", "1")
        .auth("bob", "bob-pw")
        .body(PROPS)
        .send();
    assert_eq!(r.status, 207);
    let shared = r
        .body
        .split("<d:response>")
        .find(|part| part.contains("<d:href>/bob/alice-calendar/</d:href>"))
        .unwrap_or_else(|| panic!("the share is listed in bob's home: {}", r.body));
    assert!(
        shared.contains("<d:displayname>Personal (Alice Example)</d:displayname>"),
        "{shared}"
    );
    assert!(shared.contains("calendar"), "{shared}");
    assert!(
        shared.contains("<d:owner><d:href>/alice/</d:href></d:owner>"),
        "{shared}"
    );
    assert!(
        shared.contains("<d:read/>") && !shared.contains("<d:write/>"),
        "{shared}"
    );
    assert!(!r.body.contains("private"), "{}", r.body);
    assert!(
        !root.join("bob/alice-calendar").exists(),
        "nothing is copied"
    );

    let r = srv
        .request("PROPFIND", "/bob/alice-calendar/")
        .header("Depth", "0")
        .auth("bob", "bob-pw")
        .body(PROPS)
        .send();
    assert!(
        r.body
            .contains("<d:displayname>Personal (Alice Example)</d:displayname>"),
        "{}",
        r.body
    );
    let r = srv
        .request("PROPFIND", "/alice/calendar/")
        .header("Depth", "0")
        .auth("alice", "alice-pw")
        .body(PROPS)
        .send();
    assert!(
        r.body.contains("<d:displayname>Personal</d:displayname>"),
        "the owner sees the name: {}",
        r.body
    );

    // Everything below the share answers from alice's calendar, with hrefs under the share.
    let r = srv
        .request("GET", "/bob/alice-calendar/ev.ics")
        .auth("bob", "bob-pw")
        .send();
    assert_eq!(r.status, 200);
    assert!(r.body.contains("SUMMARY:Lunch"));
    let r = srv
        .request("REPORT", "/bob/alice-calendar/")
        .header("Depth", "1")
        .auth("bob", "bob-pw")
        .body(r#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#)
        .send();
    assert_eq!(r.status, 207);
    assert!(
        r.body
            .contains("<d:href>/bob/alice-calendar/ev.ics</d:href>"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("/alice/calendar/"), "{}", r.body);
    let r = srv
        .request("REPORT", "/bob/alice-calendar/")
        .header("Depth", "1")
        .auth("bob", "bob-pw")
        .body(r#"<C:calendar-multiget xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><prop><getetag/><C:calendar-data/></prop><href>/bob/alice-calendar/ev2.ics</href></C:calendar-multiget>"#)
        .send();
    assert_eq!(r.status, 207);
    assert!(
        r.body
            .contains("<d:href>/bob/alice-calendar/ev2.ics</d:href>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("SUMMARY:Dentist"), "{}", r.body);

    // bob may only read: his PUT is refused with need-privileges, and nothing changes.
    let before = snapshot(&root);
    let r = srv
        .request("PUT", "/bob/alice-calendar/new.ics")
        .auth("bob", "bob-pw")
        .body(event("new", "Sneaky"))
        .send();
    assert_eq!(r.status, 403);
    assert!(
        r.body.contains("<d:need-privileges><d:resource><d:href>/bob/alice-calendar/</d:href><d:privilege><d:bind/></d:privilege></d:resource></d:need-privileges>"),
        "{}",
        r.body
    );
    assert_eq!(snapshot(&root), before);

    // carol may write: her changes land in alice's folder.
    let r = srv
        .request("PUT", "/carol/alice-calendar/new.ics")
        .auth("carol", "carol-pw")
        .body(event("new", "Party"))
        .send();
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        std::fs::read_to_string(root.join("alice/calendar/new.ics"))
            .unwrap()
            .contains("Party")
    );
    let r = srv
        .request("MOVE", "/carol/alice-calendar/new.ics")
        .header("Destination", "/carol/alice-calendar/party.ics")
        .auth("carol", "carol-pw")
        .send();
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(root.join("alice/calendar/party.ics").exists());
    assert!(!root.join("alice/calendar/new.ics").exists());

    // dave has nothing shared with him.
    let r = srv
        .request("PROPFIND", "/dave/")
        .header("Depth", "1")
        .auth("dave", "dave-pw")
        .body(PROPS)
        .send();
    assert!(!r.body.contains("alice"), "{}", r.body);
    let r = srv
        .request("GET", "/dave/alice-calendar/ev.ics")
        .auth("dave", "dave-pw")
        .send();
    assert_eq!(r.status, 404);
}

#[test]
fn groups_have_principals_that_only_signed_in_users_see() {
    let (_dir, srv) = tree();
    let body = r#"<d:propfind xmlns:d="DAV:"><d:prop><d:group-member-set/><d:group-membership/></d:prop></d:propfind>"#;
    let anonymous = srv
        .request("PROPFIND", "/.groups/friends/")
        .header("Depth", "0")
        .body(body)
        .send();
    assert_eq!(anonymous.status, 401);
    let r = srv
        .request("PROPFIND", "/.groups/friends/")
        .header("Depth", "0")
        .auth("dave", "dave-pw")
        .body(body)
        .send();
    assert_eq!(r.status, 207, "{}", r.body);
    assert!(
        r.body.contains(
            "<d:group-member-set><d:href>/bob/</d:href><d:href>/carol/</d:href></d:group-member-set>"
        ),
        "{}",
        r.body
    );
    let r = srv
        .request("PROPFIND", "/carol/")
        .header("Depth", "0")
        .auth("carol", "carol-pw")
        .body(body)
        .send();
    assert!(
        r.body.contains(
            "<d:group-membership><d:href>/.groups/friends/</d:href></d:group-membership>"
        ),
        "{}",
        r.body
    );
}

/// A home's shares are listed once and kept until a folder's settings change: a grant
/// taken away or given in `.dav.toml` (an edit outside the server) shows in the
/// sharee's next listing.
#[test]
fn a_home_lists_shares_as_the_grants_are_now() {
    let (dir, srv) = tree();
    let settings = dir.path().join("tree/alice/calendar/.dav.toml");
    const PROPS: &str = r#"<propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#;
    let bobs_home = || {
        let r = srv
            .request("PROPFIND", "/bob/")
            .header("Depth", "1")
            .auth("bob", "bob-pw")
            .body(PROPS)
            .send();
        assert_eq!(r.status, 207);
        r.body.contains("/bob/alice-calendar/")
    };
    let eventually = |listed: bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while bobs_home() != listed {
            assert!(std::time::Instant::now() < deadline, "listed: {listed}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    // The grant is taken away before bob's home is first listed (the change is seen
    // once bob cannot read the calendar at its own path), then given.
    std::fs::write(&settings, "kind = \"calendar\"\n").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = srv
            .request("PROPFIND", "/alice/calendar/")
            .header("Depth", "0")
            .auth("bob", "bob-pw")
            .body(PROPS)
            .send();
        if r.status == 404 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", r.status);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!bobs_home());
    assert!(!bobs_home(), "listed again");
    let r = srv
        .request("PROPFIND", "/bob/alice-calendar/")
        .header("Depth", "0")
        .auth("bob", "bob-pw")
        .body(PROPS)
        .send();
    assert_eq!(r.status, 404, "the share is gone, not only unlisted");
    std::fs::write(&settings, "kind = \"calendar\"\n[acl]\nread = [\"bob\"]\n").unwrap();
    eventually(true);
    std::fs::write(&settings, "kind = \"calendar\"\n").unwrap();
    eventually(false);
}

/// After a restart with its state, the first listing of a home already shows what other
/// users share with its owner: folders' settings (their access rules) are known before
/// the server answers, not only once the background check reaches each folder.
#[test]
fn a_warm_start_lists_shares_at_the_first_request() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    write_file(
        &root,
        "bob/calendar/.dav.toml",
        "kind = \"calendar\"\n\n[acl]\nread = [\"alice\"]\n",
    );
    write_file(&root, "bob/calendar/ev.ics", &event("ev", "Lunch"));
    write_file(&root, "alice/calendar/.dav.toml", "kind = \"calendar\"\n");
    // Folders the background check takes before bob's, in key order.
    for i in 0..2000 {
        std::fs::create_dir_all(root.join(format!("alice/calendar-archive/{i:04}"))).unwrap();
    }
    let htpasswd: String = ["alice", "bob"]
        .iter()
        .map(|u| format!("{u}:{}\n", bcrypt::hash(format!("{u}-pw"), 4).unwrap()))
        .collect();
    std::fs::write(dir.path().join("htpasswd"), htpasswd).unwrap();
    let state = dir.path().join("state");
    let htpasswd = dir.path().join("htpasswd");
    let args = [
        "--root",
        root.to_str().unwrap(),
        "--htpasswd",
        htpasswd.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--no-create-homes",
    ];
    let home = |srv: &Dirdav| {
        let r = srv
            .request("PROPFIND", "/alice/")
            .header("Depth", "1")
            .auth("alice", "alice-pw")
            .body(r#"<propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#)
            .send();
        assert_eq!(r.status, 207, "{}", r.body);
        r.body
    };
    let srv = Dirdav::start(&args);
    assert!(home(&srv).contains("/alice/bob-calendar/"));
    assert!(srv.terminate().success());
    let srv = Dirdav::start(&args);
    let first = home(&srv);
    assert!(first.contains("/alice/bob-calendar/"), "{first}");
}
