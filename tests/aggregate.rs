//! End-to-end: the aggregated address book, over a real socket. alice has two address
//! books of her own and reads one of bob's; macOS Contacts sees one book merging the
//! three, DAVx5 sees them apart, and every read and write through the merged book
//! reaches the card's own folder.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};

use support::{Dirdav, Response, card, write_file};

const MACOS: &str = "macOS/14.5 (23F79) AddressBookCore/2498.5.1";
const DAVX5: &str = "DAVx5/4.4.2-ose (2024/07/01; dav4jvm; okhttp/4.12.0) Android/14";

fn tree() -> (tempfile::TempDir, PathBuf, Dirdav) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    let write = |path: &str, text: &str| write_file(&root, path, text);
    write(
        "alice/contacts/.dav.toml",
        "kind = \"addressbook\"\ndisplayname = \"Personal\"\n",
    );
    write("alice/contacts/anna.vcf", &card("anna", "Anna Berg"));
    write("alice/contacts/carl.vcf", &card("carl", "Carl Dahl"));
    write("alice/work/.dav.toml", "kind = \"addressbook\"\n");
    write("alice/work/wendy.vcf", &card("wendy", "Wendy Work"));
    write("alice/calendar/.dav.toml", "kind = \"calendar\"\n");
    write(
        "bob/team/.dav.toml",
        "kind = \"addressbook\"\n\n[acl]\nread = [\"alice\"]\n",
    );
    write("bob/team/tom.vcf", &card("tom", "Tom Team"));
    write("bob/private/.dav.toml", "kind = \"addressbook\"\n");
    write("bob/private/pia.vcf", &card("pia", "Pia Private"));
    let htpasswd: String = ["alice", "bob"]
        .iter()
        .map(|u| format!("{u}:{}\n", bcrypt::hash(format!("{u}-pw"), 4).unwrap()))
        .collect();
    std::fs::write(dir.path().join("htpasswd"), htpasswd).unwrap();
    std::fs::write(
        dir.path().join("dirdav.toml"),
        "root = \"tree\"\nhtpasswd = \"htpasswd\"\ncreate-homes = false\n",
    )
    .unwrap();
    let config = dir.path().join("dirdav.toml");
    let srv = Dirdav::start(&["--config", config.to_str().unwrap()]);
    (dir, root, srv)
}

fn send(
    srv: &Dirdav,
    user: &str,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> Response {
    let mut request = srv
        .request(method, path)
        .auth(user, &format!("{user}-pw"))
        .body(body.as_bytes().to_vec());
    for (name, value) in extra {
        request = request.header(name, value);
    }
    request.send()
}

/// The hrefs of a multistatus, in order.
fn hrefs(body: &str) -> Vec<String> {
    body.split("<d:href>")
        .skip(1)
        .map(|s| s[..s.find("</d:href>").unwrap()].to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn home_listing(srv: &Dirdav, user_agent: &str) -> Vec<String> {
    let r = send(
        srv,
        "alice",
        "PROPFIND",
        "/alice/",
        &[("Depth", "1"), ("User-Agent", user_agent)],
        r#"<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:displayname/></d:prop></d:propfind>"#,
    );
    assert_eq!(r.status, 207, "{}", r.body);
    sorted(hrefs(&r.body))
}

/// A sync-collection as alice: each href (removed ones with " 404") and the new token.
fn sync(srv: &Dirdav, token: &str) -> (Vec<String>, String) {
    let body = format!(
        r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
    );
    let r = send(srv, "alice", "REPORT", "/alice/all-contacts/", &[], &body);
    assert_eq!(r.status, 207, "{}", r.body);
    let entries = r
        .body
        .split("<d:response>")
        .skip(1)
        .map(|resp| {
            let href = hrefs(resp).remove(0);
            if resp.contains("404 Not Found") {
                format!("{href} 404")
            } else {
                href
            }
        })
        .collect();
    let start = r.body.find("<d:sync-token>").unwrap() + "<d:sync-token>".len();
    let end = r.body.find("</d:sync-token>").unwrap();
    (sorted(entries), r.body[start..end].to_owned())
}

fn read(root: &Path, path: &str) -> Option<String> {
    std::fs::read_to_string(root.join(path)).ok()
}

#[test]
fn macos_sees_one_book_and_davx5_sees_each() {
    let (_dir, _root, srv) = tree();
    assert_eq!(
        home_listing(&srv, MACOS),
        [
            "/alice/",
            "/alice/all-contacts/",
            "/alice/birthdays/",
            "/alice/calendar/",
            "/alice/inbox/",
            "/alice/outbox/"
        ],
        "the merged book stands in for alice's two books and bob's shared one (the \
         scheduling mailboxes are made at her first request; the birthdays calendar is \
         made from the books)"
    );
    assert_eq!(
        home_listing(&srv, DAVX5),
        [
            "/alice/",
            "/alice/birthdays/",
            "/alice/bob-team/",
            "/alice/calendar/",
            "/alice/contacts/",
            "/alice/inbox/",
            "/alice/outbox/",
            "/alice/work/"
        ]
    );

    let r = send(
        &srv,
        "alice",
        "PROPFIND",
        "/alice/all-contacts/",
        &[("Depth", "1"), ("User-Agent", MACOS)],
        r#"<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><d:resourcetype/><d:displayname/><d:getetag/><cs:getctag/><d:sync-token/></d:prop></d:propfind>"#,
    );
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(
        sorted(hrefs(&r.body)),
        [
            "/alice/all-contacts/",
            "/alice/all-contacts/anna.vcf",
            "/alice/all-contacts/bob-team~tom.vcf",
            "/alice/all-contacts/carl.vcf",
            "/alice/all-contacts/work~wendy.vcf",
        ],
        "bob's private book is not merged: {}",
        r.body
    );
    assert!(r.body.contains("<card:addressbook/>"), "{}", r.body);
    assert!(
        r.body
            .contains("<d:displayname>All contacts</d:displayname>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("getctag>"), "{}", r.body);

    let r = send(
        &srv,
        "alice",
        "GET",
        "/alice/all-contacts/bob-team~tom.vcf",
        &[],
        "",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, card("tom", "Tom Team"));
    let r = send(&srv, "alice", "GET", "/alice/all-contacts/", &[], "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body.matches("BEGIN:VCARD").count(), 4, "{}", r.body);

    // Not a door into another home.
    let r = send(
        &srv,
        "bob",
        "PROPFIND",
        "/alice/all-contacts/",
        &[("Depth", "1")],
        "",
    );
    assert!(matches!(r.status, 403 | 404), "{}", r.status);
    let r = send(&srv, "bob", "GET", "/alice/all-contacts/anna.vcf", &[], "");
    assert!(matches!(r.status, 403 | 404), "{}", r.status);
}

#[test]
fn writes_through_the_merged_book_land_in_the_cards_own_folder() {
    let (_dir, root, srv) = tree();
    let new = card("nina", "Nina New");
    let r = send(
        &srv,
        "alice",
        "PUT",
        "/alice/all-contacts/nina.vcf",
        &[("If-None-Match", "*"), ("Content-Type", "text/vcard")],
        &new,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        read(&root, "alice/contacts/nina.vcf").as_deref(),
        Some(new.as_str())
    );

    let changed = card("wendy", "Wendy Changed");
    let r = send(
        &srv,
        "alice",
        "PUT",
        "/alice/all-contacts/work~wendy.vcf",
        &[],
        &changed,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        read(&root, "alice/work/wendy.vcf").as_deref(),
        Some(changed.as_str())
    );
    assert!(read(&root, "alice/contacts/work~wendy.vcf").is_none());

    // alice may only read bob's book: refused, and the card stays.
    let r = send(
        &srv,
        "alice",
        "DELETE",
        "/alice/all-contacts/bob-team~tom.vcf",
        &[],
        "",
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(read(&root, "bob/team/tom.vcf").is_some());

    let r = send(
        &srv,
        "alice",
        "DELETE",
        "/alice/all-contacts/carl.vcf",
        &[],
        "",
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(read(&root, "alice/contacts/carl.vcf").is_none());

    // A label does not hide what follows it: dotfiles and `..` stay out of reach.
    let settings = (
        read(&root, "alice/work/.dav.toml"),
        read(&root, "bob/team/.dav.toml"),
    );
    for name in ["work~.dav.toml", "work~..", "bob-team~.dav.toml"] {
        let href = format!("/alice/all-contacts/{name}");
        let r = send(&srv, "alice", "GET", &href, &[], "");
        assert!(matches!(r.status, 400 | 404), "GET {name}: {}", r.status);
        assert!(!r.body.contains("kind"), "{}", r.body);
        let r = send(&srv, "alice", "PUT", &href, &[], "kind = \"calendar\"\n");
        assert!(
            matches!(r.status, 400 | 403 | 404 | 405),
            "PUT {name}: {}",
            r.status
        );
    }
    assert_eq!(
        (
            read(&root, "alice/work/.dav.toml"),
            read(&root, "bob/team/.dav.toml")
        ),
        settings
    );
    assert!(root.join("alice/work/wendy.vcf").is_file());

    // The merged book itself is a view: it cannot be changed or removed.
    let r = send(
        &srv,
        "alice",
        "PROPPATCH",
        "/alice/all-contacts/",
        &[],
        r#"<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>X</d:displayname></d:prop></d:set></d:propertyupdate>"#,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = send(&srv, "alice", "DELETE", "/alice/all-contacts/", &[], "");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(read(&root, "alice/contacts/anna.vcf").is_some());
}

#[test]
fn sync_multiget_and_query_answer_with_the_merged_hrefs() {
    let (_dir, _root, srv) = tree();
    let (all, token) = sync(&srv, "");
    assert_eq!(
        all,
        [
            "/alice/all-contacts/anna.vcf",
            "/alice/all-contacts/bob-team~tom.vcf",
            "/alice/all-contacts/carl.vcf",
            "/alice/all-contacts/work~wendy.vcf",
        ]
    );
    // Changes made in the books themselves show up under the merged hrefs.
    let r = send(
        &srv,
        "alice",
        "PUT",
        "/alice/work/wendy.vcf",
        &[],
        &card("wendy", "W"),
    );
    assert_eq!(r.status, 204);
    let (changed, token) = sync(&srv, &token);
    assert_eq!(changed, ["/alice/all-contacts/work~wendy.vcf"]);
    let r = send(&srv, "alice", "DELETE", "/alice/work/wendy.vcf", &[], "");
    assert_eq!(r.status, 204);
    let (removed, token) = sync(&srv, &token);
    assert_eq!(removed, ["/alice/all-contacts/work~wendy.vcf 404"]);
    let (none, _) = sync(&srv, &token);
    assert!(none.is_empty(), "{none:?}");

    let multiget = r#"<card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><card:address-data/></d:prop><d:href>/alice/all-contacts/anna.vcf</d:href><d:href>/alice/all-contacts/bob-team~tom.vcf</d:href><d:href>/bob/private/pia.vcf</d:href><d:href>/alice/all-contacts/gone.vcf</d:href></card:addressbook-multiget>"#;
    let r = send(
        &srv,
        "alice",
        "REPORT",
        "/alice/all-contacts/",
        &[],
        multiget,
    );
    assert_eq!(r.status, 207, "{}", r.body);
    let responses: Vec<&str> = r.body.split("<d:response>").skip(1).collect();
    assert_eq!(responses.len(), 4, "{}", r.body);
    assert!(responses[0].contains("FN:Anna Berg"), "{}", responses[0]);
    assert!(responses[1].contains("FN:Tom Team"), "{}", responses[1]);
    assert!(
        responses[2].contains("403") && !responses[2].contains("Pia"),
        "{}",
        responses[2]
    );
    assert!(responses[3].contains("404"), "{}", responses[3]);

    let query = r#"<card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/></d:prop><card:filter><card:prop-filter name="FN"><card:text-match match-type="contains">t</card:text-match></card:prop-filter></card:filter></card:addressbook-query>"#;
    let r = send(
        &srv,
        "alice",
        "REPORT",
        "/alice/all-contacts/",
        &[("Depth", "1")],
        query,
    );
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(
        sorted(hrefs(&r.body)),
        ["/alice/all-contacts/bob-team~tom.vcf"]
    );
}

#[test]
fn a_new_book_makes_old_tokens_stale_and_settings_turn_it_off() {
    let (_dir, root, srv) = tree();
    let (_, token) = sync(&srv, "");
    let r = send(
        &srv,
        "alice",
        "MKCOL",
        "/alice/family/",
        &[],
        r#"<d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>"#,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let body = format!(
        r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
    );
    let r = send(&srv, "alice", "REPORT", "/alice/all-contacts/", &[], &body);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("valid-sync-token"), "{}", r.body);

    // `aggregate = "never"` in alice's home: no merged book at all.
    std::fs::write(
        root.join("alice/.dav.toml"),
        "[carddav]\naggregate = \"never\"\n",
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = send(
            &srv,
            "alice",
            "PROPFIND",
            "/alice/all-contacts/",
            &[("Depth", "0")],
            "",
        );
        if r.status == 404 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {}", r.status);
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!home_listing(&srv, MACOS).contains(&"/alice/all-contacts/".to_owned()));
}
