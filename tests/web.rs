//! End-to-end: the web page (`dirdav-web`) as a browser meets it: folder pages that
//! list what PROPFIND lists, forms that write as the user with every check a client
//! meets, the setup page and the Apple profile. The same in a real browser:
//! `tests/web/browser.mjs` (headless Chromium, in CI).

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::collections::{BTreeSet, VecDeque};

use support::{Dirdav, Response, example_server};

const ALICE: (&str, &str) = ("alice", "wonderland");
const BOB: (&str, &str) = ("bob", "builder");
/// What Chromium sends when it opens an address.
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8";

/// `http://127.0.0.1:PORT`, as the pages name the server.
fn origin(srv: &Dirdav) -> String {
    format!("http://127.0.0.1:{}", srv.port)
}

fn page(srv: &Dirdav, who: (&str, &str), path: &str) -> Response {
    srv.request("GET", path)
        .auth(who.0, who.1)
        .header("Accept", BROWSER)
        .send()
}

/// The `data-name` of each row of a page's listing.
fn listed(html: &str) -> BTreeSet<String> {
    html.split("<tr data-name=\"")
        .skip(1)
        .map(|rest| unescape(&rest[..rest.find('"').unwrap()]))
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Each member of a collection by PROPFIND `Depth: 1`: its decoded name, its href and
/// whether it is a collection.
fn propfind_members(srv: &Dirdav, who: (&str, &str), path: &str) -> Vec<(String, String, bool)> {
    let r = srv
        .request("PROPFIND", path)
        .auth(who.0, who.1)
        .header("Depth", "1")
        .body(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>"#)
        .send();
    assert_eq!(r.status, 207, "{path}: {}", r.body);
    r.body
        .split("<d:response>")
        .skip(1)
        .filter_map(|response| {
            let at = response.find("<d:href>")? + "<d:href>".len();
            let href = response[at..at + response[at..].find('<')?].to_owned();
            (href.trim_end_matches('/') != path.trim_end_matches('/')).then(|| {
                let segment = href.trim_end_matches('/').rsplit('/').next().unwrap();
                let name = percent_decode(segment);
                (name, href.clone(), response.contains("<d:collection/>"))
            })
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Walks every folder a user reaches from the root by the pages' links, and checks
/// each page lists what PROPFIND lists: at the root, other users' homes that show the
/// user nothing are the only ones left out.
fn walk_and_compare(srv: &Dirdav, who: (&str, &str)) -> usize {
    let mut queue = VecDeque::from(["/".to_owned()]);
    let mut seen = 0;
    while let Some(path) = queue.pop_front() {
        let r = page(srv, who, &path);
        assert_eq!(r.status, 200, "{} {path}: {}", who.0, r.body);
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
        let members = propfind_members(srv, who, &path);
        let mut expected: BTreeSet<String> = members.iter().map(|m| m.0.clone()).collect();
        if path == "/" {
            for (name, href, _) in &members {
                let own = name == who.0;
                if !own && propfind_members(srv, who, href).is_empty() {
                    expected.remove(name);
                    assert!(r.body.contains("Homes of other users that share nothing"));
                }
            }
        }
        assert_eq!(listed(&r.body), expected, "{} {path}", who.0);
        seen += 1;
        for (name, href, is_collection) in members {
            if is_collection && expected.contains(&name) {
                queue.push_back(href);
            }
        }
    }
    seen
}

#[test]
fn pages_list_what_propfind_lists_shares_included() {
    let (dir, srv) = example_server(&[]);
    // A third user with nothing shared: bob's and alice's homes are left out of her
    // root page rather than shown empty.
    std::fs::create_dir_all(dir.path().join("example-data/carol")).unwrap();
    let alice_folders = walk_and_compare(&srv, ALICE);
    let bob_folders = walk_and_compare(&srv, BOB);
    assert!(alice_folders >= 8, "{alice_folders}");
    assert!(bob_folders >= 8, "{bob_folders}");
    // Bob's home shows alice's calendar shared with him, under the name PROPFIND gives.
    let r = page(&srv, BOB, "/bob/");
    let shared: Vec<_> = propfind_members(&srv, BOB, "/bob/")
        .into_iter()
        .filter(|(_, href, _)| {
            !href.starts_with("/bob/calendar") && !href.starts_with("/bob/contacts")
        })
        .collect();
    assert!(!shared.is_empty(), "bob sees a share in his home");
    for (name, _, _) in &shared {
        assert!(listed(&r.body).contains(name), "{name}: {}", r.body);
    }
}

#[test]
fn browsers_get_pages_and_clients_get_what_they_always_got() {
    let (_dir, srv) = example_server(&[]);
    let r = page(&srv, ALICE, "/alice/calendar/");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("id=\"collection\""), "{}", r.body);
    assert!(
        r.body
            .contains(&format!("value=\"{}/alice/calendar/\"", origin(&srv))),
        "{}",
        r.body
    );
    assert!(r.body.contains(&format!(
        "href=\"webcal://127.0.0.1:{}/alice/calendar/\"",
        srv.port
    )));
    assert!(r.body.contains("href=\"/alice/calendar/?download\""));
    // The page's own policy: forms to this site, no scripts, referrer kept same-origin.
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("form-action 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("sandbox"), "{csp}");
    assert_eq!(r.header("referrer-policy"), Some("same-origin"));

    // The export, for calendar apps and for the download link.
    for accept in ["text/calendar", "*/*"] {
        let r = srv
            .request("GET", "/alice/calendar/")
            .auth(ALICE.0, ALICE.1)
            .header("Accept", accept)
            .send();
        assert!(
            r.body.starts_with("BEGIN:VCALENDAR"),
            "{accept}: {}",
            r.body
        );
    }
    let r = srv
        .request("GET", "/alice/calendar/?download")
        .auth(ALICE.0, ALICE.1)
        .header("Accept", BROWSER)
        .send();
    assert!(r.body.starts_with("BEGIN:VCALENDAR"), "{}", r.body);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/calendar")
    );
    // A file is the file, whatever the browser accepts; files keep the strict policy.
    let r = page(&srv, ALICE, "/shared/README.md");
    assert!(!r.body.contains("<html"), "{}", r.body);
    assert!(
        r.header("content-security-policy")
            .unwrap()
            .contains("sandbox")
    );
    // HEAD: the page's headers, no body.
    let r = srv
        .request("HEAD", "/shared/")
        .auth(ALICE.0, ALICE.1)
        .header("Accept", BROWSER)
        .send();
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.body.is_empty());
    // Without a sign-in: asked for one, as every client is.
    let r = srv.request("GET", "/").header("Accept", BROWSER).send();
    assert_eq!(r.status, 401);
    let r = srv.request("GET", "/.web/setup").send();
    assert_eq!(r.status, 401);
}

/// The form token on a user's page.
fn token(srv: &Dirdav, who: (&str, &str)) -> String {
    let r = page(srv, who, &format!("/{}/", who.0));
    let at = r.body.find("name=\"token\" value=\"").unwrap() + "name=\"token\" value=\"".len();
    r.body[at..at + 64].to_owned()
}

fn form(srv: &Dirdav, who: (&str, &str), action: &str, fields: &[(&str, &str)]) -> Response {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    srv.request("POST", &format!("/.web/{action}"))
        .auth(who.0, who.1)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Origin", &origin(srv))
        .body(body.join("&"))
        .send()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn upload(
    srv: &Dirdav,
    who: (&str, &str),
    token: &str,
    to: &str,
    files: &[(&str, &[u8])],
) -> Response {
    let boundary = "----dirdavtestboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in [("token", token), ("to", to)] {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (file, bytes) in files {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend(*bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    srv.request("POST", "/.web/upload")
        .auth(who.0, who.1)
        .header(
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .header("Origin", &origin(srv))
        .body(body)
        .send()
}

#[test]
fn forms_write_as_the_user_with_every_check_a_client_meets() {
    let (dir, srv) = example_server(&[]);
    let disk = |p: &str| dir.path().join("example-data").join(p);
    let alice = token(&srv, ALICE);
    let bob = token(&srv, BOB);
    assert_ne!(alice, bob);

    // New folder, then an upload into it: 303 back to the folder, the bytes on disk.
    let r = form(
        &srv,
        ALICE,
        "mkdir",
        &[
            ("token", &alice),
            ("to", "/alice/"),
            ("name", "Holiday photos"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/alice/"));
    assert!(disk("alice/Holiday photos").is_dir());
    let r = upload(
        &srv,
        ALICE,
        &alice,
        "/alice/Holiday%20photos/",
        &[
            ("beach.jpg", b"\xff\xd8 not really a jpeg"),
            ("C:\\Users\\a\\notes ü.txt", b"hello"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/alice/Holiday%20photos/"));
    assert_eq!(
        std::fs::read(disk("alice/Holiday photos/beach.jpg")).unwrap(),
        b"\xff\xd8 not really a jpeg"
    );
    assert_eq!(
        std::fs::read(disk("alice/Holiday photos/notes ü.txt")).unwrap(),
        b"hello"
    );
    let r = page(&srv, ALICE, "/alice/Holiday%20photos/");
    assert_eq!(
        listed(&r.body),
        BTreeSet::from(["beach.jpg".to_owned(), "notes ü.txt".to_owned()])
    );
    assert!(
        r.body
            .contains("href=\"/alice/Holiday%20photos/notes%20%C3%BC.txt\" download"),
        "{}",
        r.body
    );

    // Another user's token, a missing one, or a post from another site: 403, nothing made.
    let r = form(
        &srv,
        ALICE,
        "mkdir",
        &[("token", &bob), ("to", "/alice/"), ("name", "x")],
    );
    assert_eq!(r.status, 403);
    let r = form(&srv, ALICE, "mkdir", &[("to", "/alice/"), ("name", "x")]);
    assert_eq!(r.status, 403);
    let r = srv
        .request("POST", "/.web/mkdir")
        .auth(ALICE.0, ALICE.1)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Origin", "http://evil.example")
        .body(format!("token={alice}&to=%2Falice%2F&name=x"))
        .send();
    assert_eq!(r.status, 403);
    assert!(r.body.contains("another site"), "{}", r.body);
    let r = upload(&srv, ALICE, &bob, "/alice/", &[("x.txt", b"x")]);
    assert_eq!(r.status, 403);
    assert!(!disk("alice/x").exists() && !disk("alice/x.txt").exists());

    // The server's own checks, shown in words: a calendar holds iCalendar only; bob may
    // not write into alice's home.
    let r = upload(
        &srv,
        ALICE,
        &alice,
        "/alice/calendar/",
        &[("notes.txt", b"hello")],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("A calendar holds only iCalendar"),
        "{}",
        r.body
    );
    assert!(!disk("alice/calendar/notes.txt").exists());
    let r = upload(&srv, BOB, &bob, "/alice/", &[("intruder.txt", b"x")]);
    assert!(r.status == 403 || r.status == 404, "{}", r.body);
    assert!(!disk("alice/intruder.txt").exists());

    // A file locked by bob cannot be replaced through alice's page: 423 in words.
    let lock = srv
        .request("LOCK", "/shared/README.md")
        .auth(BOB.0, BOB.1)
        .header("Timeout", "Second-600")
        .body(r#"<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"#)
        .send();
    assert_eq!(lock.status, 200, "{}", lock.body);
    let before = std::fs::read(disk("shared/README.md")).unwrap();
    let r = upload(
        &srv,
        ALICE,
        &alice,
        "/shared/",
        &[("README.md", b"replaced")],
    );
    assert_eq!(r.status, 423, "{}", r.body);
    assert!(r.body.contains("locked"), "{}", r.body);
    assert_eq!(std::fs::read(disk("shared/README.md")).unwrap(), before);

    // Delete: a confirmation page first, then the file is gone; bob may not delete
    // alice's calendar.
    let target = [
        ("token", alice.as_str()),
        ("target", "/alice/Holiday%20photos/beach.jpg"),
        ("back", "/alice/Holiday%20photos/"),
    ];
    let r = form(&srv, ALICE, "delete", &target);
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("Delete beach.jpg?") && r.body.contains("name=\"confirm\" value=\"yes\""),
        "{}",
        r.body
    );
    assert!(disk("alice/Holiday photos/beach.jpg").exists());
    let mut confirmed = target.to_vec();
    confirmed.push(("confirm", "yes"));
    let r = form(&srv, ALICE, "delete", &confirmed);
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(!disk("alice/Holiday photos/beach.jpg").exists());
    let r = form(
        &srv,
        BOB,
        "delete",
        &[
            ("token", &bob),
            ("target", "/alice/calendar/"),
            ("back", "/alice/"),
            ("confirm", "yes"),
        ],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(disk("alice/calendar").is_dir());
}

#[test]
fn the_setup_page_and_the_apple_profile() {
    let (_dir, srv) = example_server(&[]);
    let r = srv
        .request("GET", "/.web/setup")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert_eq!(r.status, 200);
    let server = format!("{}/", origin(&srv));
    assert!(
        r.body
            .contains(&format!("id=\"server-url\" value=\"{server}\"")),
        "{}",
        r.body
    );
    assert!(r.body.contains("<dd id=\"user-name\">alice</dd>"));
    assert!(r.body.contains("<figure id=\"qr\"><svg"), "a QR code");
    assert!(
        r.body
            .contains(&format!("{}/.web/setup</figcaption>", origin(&srv)))
    );
    assert!(
        r.body
            .contains(&format!("value=\"{}/alice/calendar/\"", origin(&srv)))
    );
    assert!(r.body.contains("id=\"https-note\""), "plain HTTP is named");

    let r = srv
        .request("GET", "/.web/setup/dirdav.mobileconfig")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/x-apple-aspen-config")
    );
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains("alice-dirdav.mobileconfig")
    );
    let port = srv.port.to_string();
    for needle in [
        "<key>PayloadType</key><string>com.apple.caldav.account</string>",
        "<key>PayloadType</key><string>com.apple.carddav.account</string>",
        "<key>CalDAVUsername</key><string>alice</string>",
        &format!("<key>CalDAVPort</key><integer>{port}</integer>"),
        &format!(
            "<key>CardDAVPrincipalURL</key><string>{}/alice/</string>",
            origin(&srv)
        ),
        "<key>CalDAVUseSSL</key><false/>",
    ] {
        assert!(r.body.contains(needle), "{needle}: {}", r.body);
    }
    // The same profile downloaded again replaces the installed one: stable UUIDs.
    let again = srv
        .request("GET", "/.web/setup/dirdav.mobileconfig")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert_eq!(again.body, r.body);
    let bobs = srv
        .request("GET", "/.web/setup/dirdav.mobileconfig")
        .auth(BOB.0, BOB.1)
        .send();
    assert_ne!(bobs.body, r.body);

    // Behind a TLS proxy (127.0.0.1 is a trusted proxy by default): https, port 443.
    let r = srv
        .request("GET", "/.web/setup/dirdav.mobileconfig")
        .auth(ALICE.0, ALICE.1)
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "dav.example.org")
        .send();
    assert!(
        r.body.contains("<key>CalDAVUseSSL</key><true/>"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<key>CalDAVPort</key><integer>443</integer>")
    );
    assert!(
        r.body
            .contains("<string>https://dav.example.org/alice/</string>")
    );
    let r = srv
        .request("GET", "/.web/setup")
        .auth(ALICE.0, ALICE.1)
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "dav.example.org")
        .send();
    assert!(!r.body.contains("id=\"https-note\""));
}

#[test]
fn without_the_web_page_a_browser_gets_the_bare_listing() {
    let (_dir, srv) = example_server(&["--no-web"]);
    let r = page(&srv, ALICE, "/shared/");
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .contains("<li><a href=\"/shared/README.md\">README.md</a></li>"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("<form"));
    let r = page(&srv, ALICE, "/alice/calendar/");
    assert!(r.body.starts_with("BEGIN:VCALENDAR"));
    let r = srv
        .request("GET", "/.web/setup")
        .auth(ALICE.0, ALICE.1)
        .send();
    assert_eq!(r.status, 404);
}

/// Below a base path and behind a proxy that strips a prefix of its own, links and
/// forms carry both, and the forms' writes land.
#[test]
fn pages_and_forms_work_below_a_base_path_and_a_proxy_prefix() {
    let (dir, srv) = example_server(&["--base-path", "/dav"]);
    let r = srv
        .request("GET", "/dav/shared/")
        .auth(ALICE.0, ALICE.1)
        .header("Accept", BROWSER)
        .header("X-Forwarded-Prefix", "/proxy")
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<nav class=\"crumbs\"><a href=\"/proxy/dav/\">Files</a> / <a href=\"/proxy/dav/shared/\">shared</a></nav>"), "{}", r.body);
    assert!(r.body.contains("href=\"/proxy/dav/.web/setup\""));
    assert!(r.body.contains("name=\"to\" value=\"/proxy/dav/shared/\""));
    let at = r.body.find("name=\"token\" value=\"").unwrap() + "name=\"token\" value=\"".len();
    let token = &r.body[at..at + 64];
    let r = srv
        .request("POST", "/dav/.web/mkdir")
        .auth(ALICE.0, ALICE.1)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Forwarded-Prefix", "/proxy")
        .body(format!(
            "token={token}&to=%2Fproxy%2Fdav%2Fshared%2F&name=Through%20the%20proxy"
        ))
        .send();
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/proxy/dav/shared/"));
    assert!(
        dir.path()
            .join("example-data/shared/Through the proxy")
            .is_dir()
    );
}

/// A large folder is shown 500 members a page; the pages together list what PROPFIND
/// lists, each once.
#[test]
fn a_large_folder_is_shown_a_page_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("example-data");
    support::copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("example-data"),
        &data,
    );
    std::fs::create_dir_all(data.join("shared/many")).unwrap();
    for i in 0..1201 {
        std::fs::write(data.join(format!("shared/many/file {i:04}.txt")), "x").unwrap();
    }
    let srv = Dirdav::start_in(&[], dir.path());
    let mut seen = Vec::new();
    for (number, rows) in [(1, 500), (2, 500), (3, 201)] {
        let r = page(&srv, ALICE, &format!("/shared/many/?page={number}"));
        assert_eq!(r.status, 200);
        assert!(
            r.body.contains(&format!("Page {number} of 3 (1201 items)")),
            "{}",
            r.body
        );
        let names = listed(&r.body);
        assert_eq!(names.len(), rows);
        seen.extend(names);
    }
    let all: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(all.len(), seen.len(), "no member on two pages");
    let expected: BTreeSet<String> = propfind_members(&srv, ALICE, "/shared/many/")
        .into_iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(all, expected);
    // Past the last page: the last page.
    let r = page(&srv, ALICE, "/shared/many/?page=99");
    assert!(r.body.contains("Page 3 of 3"));
}

/// A form cannot send the browser to another site, and a file that would run in a
/// browser (HTML, SVG) is downloaded, not shown, unless its folder says otherwise.
#[test]
fn forms_redirect_home_only_and_uploaded_pages_are_downloaded() {
    let (dir, srv) = example_server(&[]);
    let alice = token(&srv, ALICE);
    for away in [
        "//evil.example/",
        "/\\evil.example/",
        "https://evil.example/",
    ] {
        let r = form(
            &srv,
            ALICE,
            "mkdir",
            &[("token", &alice), ("to", away), ("name", "x")],
        );
        assert_eq!(r.status, 400, "{away}: {}", r.body);
        assert!(r.header("location").is_none(), "{away}");
        let r = form(
            &srv,
            ALICE,
            "delete",
            &[
                ("token", &alice),
                ("target", "/alice/nothing.txt"),
                ("back", away),
                ("confirm", "yes"),
            ],
        );
        assert!(
            r.header("location").is_none_or(|l| !l.contains("evil")),
            "{away}: {:?}",
            r.headers
        );
    }
    // The legitimate form still goes home.
    let r = form(
        &srv,
        ALICE,
        "mkdir",
        &[("token", &alice), ("to", "/alice/"), ("name", "x")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/alice/"));

    let page = b"<html><script>fetch('/alice/')</script></html>";
    let r = upload(
        &srv,
        ALICE,
        &alice,
        "/alice/",
        &[
            ("page.html", page),
            ("pic.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            ("notes.txt", b"plain"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    for (file, attachment) in [("page.html", true), ("pic.svg", true), ("notes.txt", false)] {
        let r = srv
            .request("GET", &format!("/alice/{file}"))
            .auth(ALICE.0, ALICE.1)
            .send();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-disposition") == Some("attachment"),
            attachment,
            "{file}: {:?}",
            r.headers
        );
    }
    // A folder that keeps a small site shows its pages.
    std::fs::create_dir(dir.path().join("example-data/alice/site")).unwrap();
    std::fs::write(
        dir.path().join("example-data/alice/site/.dav.toml"),
        "inline = true\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("example-data/alice/site/index.html"), page).unwrap();
    // (Made outside the server: the watcher brings it in.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let r = loop {
        let r = srv
            .request("GET", "/alice/site/index.html")
            .auth(ALICE.0, ALICE.1)
            .send();
        if (r.status == 200 && r.header("content-disposition").is_none())
            || std::time::Instant::now() > deadline
        {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-disposition").is_none(), "{:?}", r.headers);
}

/// A home's scheduling inbox and outbox are the server's: the page names them as such,
/// offers no Delete for them and no upload into them, while a calendar beside them keeps
/// its Delete.
#[test]
fn inbox_and_outbox_are_shown_as_mailboxes_without_delete() {
    let (_dir, srv) = example_server(&[]);
    let home = page(&srv, ("alice", "wonderland"), "/alice/");
    assert_eq!(home.status, 200);
    let row = |name: &str| {
        let start = home
            .body
            .find(&format!("<tr data-name=\"{name}\""))
            .unwrap_or_else(|| panic!("{name} listed: {}", home.body));
        let rest = &home.body[start..];
        rest[..rest.find("</tr>").unwrap()].to_owned()
    };
    for (name, kind, label) in [
        ("inbox", "inbox", "Scheduling inbox"),
        ("outbox", "outbox", "Scheduling outbox"),
    ] {
        let row = row(name);
        assert!(row.contains(&format!("data-kind=\"{kind}\"")), "{row}");
        assert!(row.contains(label), "{row}");
        assert!(!row.contains("Delete"), "{row}");
    }
    assert!(row("calendar").contains("Delete"), "{}", row("calendar"));
    let inbox = page(&srv, ("alice", "wonderland"), "/alice/inbox/");
    assert_eq!(inbox.status, 200);
    assert!(!inbox.body.contains("id=\"upload\""), "{}", inbox.body);
    let calendar = page(&srv, ("alice", "wonderland"), "/alice/calendar/");
    assert!(calendar.body.contains("id=\"upload\""), "{}", calendar.body);
}
