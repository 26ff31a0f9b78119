//! End-to-end: the real binary on 127.0.0.1, spoken to over a socket.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{Dirdav, read_response};

/// `dirdav serve` with no options, as the README says, on a private copy of example-data.
fn example_server() -> (tempfile::TempDir, Dirdav) {
    support::example_server(&[])
}

#[test]
fn the_default_command_serves_example_data_to_its_demo_users() {
    let (_dir, srv) = example_server();
    let r = srv.request("PROPFIND", "/").header("Depth", "1").send();
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"dirdav\", charset=\"UTF-8\"")
    );
    assert!(r.header("dav").is_some());
    assert_eq!(
        srv.request("PROPFIND", "/")
            .auth("alice", "wrong")
            .send()
            .status,
        401
    );
    assert_eq!(
        srv.request("PROPFIND", "/")
            .auth("mallory", "wonderland")
            .send()
            .status,
        401
    );
    let r = srv
        .request("PROPFIND", "/")
        .header("Depth", "1")
        .auth("alice", "wonderland")
        .send();
    assert_eq!(r.status, 207);
    for href in [
        "<d:href>/alice/</d:href>",
        "<d:href>/bob/</d:href>",
        "<d:href>/shared/</d:href>",
    ] {
        assert!(r.body.contains(href), "{href} missing from {}", r.body);
    }
    assert!(!r.body.contains("htpasswd"));
    // alice shares her calendar with bob to read: it is in his home, read-only.
    let r = srv
        .request("PROPFIND", "/bob/")
        .header("Depth", "1")
        .auth("bob", "builder")
        .body(r#"<propfind xmlns="DAV:"><prop><current-user-privilege-set/></prop></propfind>"#)
        .send();
    let shared = r
        .body
        .split("<d:response>")
        .find(|p| p.contains("<d:href>/bob/alice-calendar/</d:href>"))
        .unwrap_or_else(|| panic!("{}", r.body));
    assert!(
        shared.contains("<d:read/>") && !shared.contains("<d:write/>"),
        "{shared}"
    );
    let r = srv.request("OPTIONS", "/").auth("bob", "builder").send();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("0"));
    let log = srv.drain_log().join("\n");
    assert!(
        log.contains("method=OPTIONS path=/ status=200"),
        "one line per request: {log}"
    );
    assert!(log.contains("user=bob"), "{log}");
}

#[test]
fn a_client_session_writes_and_reads_through_the_socket() {
    let root = tempfile::tempdir().unwrap();
    let srv = Dirdav::start(&["--root", root.path().to_str().unwrap()]);
    assert_eq!(srv.request("MKCOL", "/notes/").send().status, 201);
    let r = srv
        .request("PUT", "/notes/todo.txt")
        .header("Content-Type", "text/plain")
        .body("milk\neggs\n")
        .send();
    assert_eq!(r.status, 201);
    let etag = r.header("etag").unwrap().to_owned();
    assert_eq!(
        std::fs::read_to_string(root.path().join("notes/todo.txt")).unwrap(),
        "milk\neggs\n"
    );
    let r = srv.request("GET", "/notes/todo.txt").send();
    assert_eq!((r.status, r.body.as_str()), (200, "milk\neggs\n"));
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let r = srv.request("HEAD", "/notes/todo.txt").send();
    assert_eq!(
        (r.status, r.body.as_str(), r.header("content-length")),
        (200, "", Some("10"))
    );
    let r = srv
        .request("COPY", "/notes/todo.txt")
        .header(
            "Destination",
            &format!("http://127.0.0.1:{}/notes/copy.txt", srv.port),
        )
        .send();
    assert_eq!(r.status, 201);
    let r = srv
        .request("MOVE", "/notes/")
        .header("Destination", "/archive/")
        .send();
    assert_eq!(r.status, 201);
    assert!(root.path().join("archive/copy.txt").is_file());
    let r = srv
        .request("PROPFIND", "/archive/")
        .header("Depth", "1")
        .body(r#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#)
        .send();
    assert_eq!(r.status, 207);
    assert_eq!(
        r.body
            .matches(&format!("<d:getetag>{etag}</d:getetag>"))
            .count(),
        2,
        "{}",
        r.body
    );
    assert_eq!(srv.request("DELETE", "/archive/").send().status, 204);
    assert!(!root.path().join("archive").exists());
    // Expect: 100-continue, as curl and litmus send it.
    let r = srv
        .request("PUT", "/big.bin")
        .header("Expect", "100-continue")
        .body(vec![7u8; 100_000])
        .send();
    assert!(r.status == 201, "{r:?}");
}

#[test]
fn base_path_serves_under_a_prefix() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("docs")).unwrap();
    let srv = Dirdav::start(&[
        "--root",
        root.path().to_str().unwrap(),
        "--base-path",
        "/dav/",
    ]);
    assert_eq!(srv.base, "/dav");
    let r = srv.request("PROPFIND", "/dav/").header("Depth", "1").send();
    assert_eq!(r.status, 207);
    assert!(r.body.contains("<d:href>/dav/docs/</d:href>"), "{}", r.body);
    assert_eq!(srv.request("PROPFIND", "/docs/").send().status, 404);
    assert_eq!(
        srv.request("PUT", "/dav/docs/a.txt")
            .body("a")
            .send()
            .status,
        201
    );
    let r = srv
        .request("MOVE", "/dav/docs/a.txt")
        .header("Destination", "/dav/b.txt")
        .send();
    assert_eq!(r.status, 201);
    assert!(root.path().join("b.txt").is_file());
    let r = srv
        .request("MOVE", "/dav/b.txt")
        .header("Destination", "/elsewhere/b.txt")
        .send();
    assert_eq!(r.status, 502);
}

#[test]
fn a_config_file_sets_what_flags_do_not() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tree/inside")).unwrap();
    std::fs::write(
        dir.path().join("dirdav.toml"),
        "root = \"tree\"\nbase-path = \"/files\"\nmax-body = \"1K\"\npropfind-infinity-limit = 1\n",
    )
    .unwrap();
    let config = dir.path().join("dirdav.toml");
    let srv = Dirdav::start(&["--config", config.to_str().unwrap()]);
    let r = srv
        .request("PROPFIND", "/files/")
        .header("Depth", "1")
        .send();
    assert!(r.body.contains("/files/inside/"), "{}", r.body);
    assert_eq!(
        srv.request("PUT", "/files/x")
            .body(vec![1u8; 2048])
            .send()
            .status,
        413
    );
    assert_eq!(
        srv.request("PUT", "/files/x")
            .body(vec![1u8; 1000])
            .send()
            .status,
        201
    );
    let r = srv
        .request("PROPFIND", "/files/")
        .header("Depth", "infinity")
        .send();
    assert_eq!(r.status, 403);
    assert!(r.body.contains("<d:propfind-finite-depth/>"), "{}", r.body);
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dirdav"))
        .args([
            "serve",
            "--root",
            dir.path().join("missing").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot serve"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_dirdav"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--config",
        "--root",
        "--listen",
        "--htpasswd",
        "--state-dir",
        "--base-path",
        "--max-body",
        "--propfind-infinity-limit",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

/// A second dirdav started on a state another one holds refuses to start, and leaves
/// that state alone: the first server's sync tokens still work after it restarts.
#[test]
fn a_second_server_on_the_same_state_refuses_and_leaves_it_alone() {
    let (root, state) = support::calendar_tree();
    let args = [
        "--root",
        root.path().to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
    ];
    let first = Dirdav::start(&args);
    let put = first
        .request("PUT", "/cal/a.ics")
        .body(support::event("a"))
        .send();
    assert_eq!(put.status, 201);
    let (_, token) = support::sync(&first, "/cal/", "", "1");

    let mut second = std::process::Command::new(env!("CARGO_BIN_EXE_dirdav"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("XDG_STATE_HOME", state.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            second.kill().unwrap();
            panic!("a second server on the same state kept running");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(stderr.contains("another dirdav is using it"), "{stderr}");
    assert!(!stderr.contains("rebuilding"), "{stderr}");

    // The first server's state survives: after a restart, its token needs no new start.
    assert!(first.terminate().success());
    let again = Dirdav::start(&args);
    let (changes, _) = support::sync(&again, "/cal/", &token, "1");
    assert!(changes.is_empty(), "{changes:?}");
}

#[test]
fn sigterm_lets_a_running_write_finish() {
    let root = tempfile::tempdir().unwrap();
    let srv = Dirdav::start(&["--root", root.path().to_str().unwrap()]);
    let body = vec![b'x'; 200_000];
    let request = srv.request("PUT", "/slow.bin").body(body.clone());
    let mut stream = request.send_head();
    use std::io::Write;
    stream.write_all(&body[..1000]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(srv.pid().to_string())
        .status();
    std::thread::sleep(Duration::from_millis(200));
    stream.write_all(&body[1000..]).unwrap();
    let r = read_response(&mut stream);
    assert_eq!(r.status, 201);
    assert_eq!(std::fs::read(root.path().join("slow.bin")).unwrap(), body);
    let status = srv.terminate();
    assert!(status.success(), "{status:?}");
}

/// PROPFIND Depth 1 on a collection of 10,000 files answers from the index: the files
/// are deleted from disk after startup, and the answer still lists every one with the
/// ETag and size it had. (The timing is printed for BENCHMARKS.md, not asserted.)
#[test]
fn propfind_depth_1_over_10000_files_reads_no_file() {
    let root = tempfile::tempdir().unwrap();
    let coll = root.path().join("big");
    std::fs::create_dir(&coll).unwrap();
    for i in 0..10_000 {
        std::fs::write(coll.join(format!("{i:05}.ics")), format!("item {i}\n")).unwrap();
    }
    // A subfolder among the files: a member, its contents not.
    std::fs::create_dir(coll.join("05000 sub")).unwrap();
    std::fs::write(coll.join("05000 sub/inner.txt"), "inner\n").unwrap();
    let srv = Dirdav::start(&["--root", root.path().to_str().unwrap()]);
    let etag_of_42 = srv
        .request("GET", "/big/00042.ics")
        .send()
        .header("etag")
        .unwrap()
        .to_owned();
    for i in 0..10_000 {
        std::fs::remove_file(coll.join(format!("{i:05}.ics"))).unwrap();
    }
    let body = r#"<propfind xmlns="DAV:"><prop><getetag/><getcontentlength/><getcontenttype/></prop></propfind>"#;
    let started = Instant::now();
    let r = srv
        .request("PROPFIND", "/big/")
        .header("Depth", "1")
        .body(body)
        .send();
    let elapsed = started.elapsed();
    assert_eq!(r.status, 207);
    assert_eq!(r.body.matches("<d:response>").count(), 10_002);
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    assert!(r.body.ends_with("</d:multistatus>\n"));
    // Every member once, in name order (the listing is written a page at a time).
    let hrefs: Vec<&str> = r
        .body
        .split("<d:href>")
        .skip(1)
        .map(|s| &s[..s.find('<').unwrap()])
        .collect();
    let mut expected: Vec<String> = (0..10_000).map(|i| format!("/big/{i:05}.ics")).collect();
    expected.push("/big/05000%20sub/".to_owned());
    expected.sort();
    expected.insert(0, "/big/".to_owned());
    assert_eq!(hrefs, expected);
    assert!(r.body.contains(&format!("<d:href>/big/00042.ics</d:href><d:propstat><d:prop><d:getetag>{etag_of_42}</d:getetag><d:getcontentlength>8</d:getcontentlength>")));
    eprintln!(
        "PROPFIND Depth 1, 10,000 members (debug build): {:.1} ms, {} bytes",
        elapsed.as_secs_f64() * 1000.0,
        r.body.len()
    );
}

/// A folder below a home is listed a page of members at a time: with 600 members (over
/// two pages) and a subfolder among them, each appears once, in name order, and the
/// subfolder's contents do not.
#[test]
fn a_long_listing_below_a_home_has_every_member_once() {
    let root = tempfile::tempdir().unwrap();
    let coll = root.path().join("alice/files");
    std::fs::create_dir_all(coll.join("0300 sub")).unwrap();
    std::fs::write(coll.join("0300 sub/inner.txt"), "inner\n").unwrap();
    for i in 0..600 {
        std::fs::write(coll.join(format!("{i:04}.txt")), format!("item {i}\n")).unwrap();
    }
    let srv = Dirdav::start(&["--root", root.path().to_str().unwrap()]);
    let r = srv
        .request("PROPFIND", "/alice/files/")
        .header("Depth", "1")
        .body(r#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#)
        .send();
    assert_eq!(r.status, 207);
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    let hrefs: Vec<&str> = r
        .body
        .split("<d:href>")
        .skip(1)
        .map(|s| &s[..s.find('<').unwrap()])
        .collect();
    let mut expected: Vec<String> = (0..600)
        .map(|i| format!("/alice/files/{i:04}.txt"))
        .collect();
    expected.push("/alice/files/0300%20sub/".to_owned());
    expected.sort();
    expected.insert(0, "/alice/files/".to_owned());
    assert_eq!(hrefs, expected);
}

/// The server re-runs itself with glibc's malloc threshold fixed (see `main.rs`): same
/// process, the tunable in its environment.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn the_server_runs_with_a_fixed_malloc_threshold() {
    let (_root, srv) = example_server();
    let environ = std::fs::read(format!("/proc/{}/environ", srv.pid())).unwrap();
    assert!(
        environ
            .split(|b| *b == 0)
            .any(|v| v == b"GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576")
    );
    assert_eq!(srv.request("GET", "/").send().status, 401);
}

/// A full disk answers 507 and the old version stays whole. Needs a small tmpfs, so it
/// runs as root (as CI does) and says so when it cannot.
#[test]
fn a_full_disk_answers_507_and_keeps_the_old_file() {
    let mnt = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=512k",
            "tmpfs",
            mnt.path().to_str().unwrap(),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(mnt.path());
    std::fs::write(mnt.path().join("keep.txt"), "the old version\n").unwrap();
    let srv = Dirdav::start(&["--root", mnt.path().to_str().unwrap()]);
    let r = srv
        .request("PUT", "/keep.txt")
        .body(vec![b'n'; 2 * 1024 * 1024])
        .send();
    assert_eq!(r.status, 507, "{r:?}");
    assert_eq!(
        std::fs::read_to_string(mnt.path().join("keep.txt")).unwrap(),
        "the old version\n"
    );
    let leftovers: Vec<_> = std::fs::read_dir(mnt.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers, ["keep.txt"], "no temporary file left behind");
    let r = srv.request("GET", "/keep.txt").send();
    assert_eq!(r.body, "the old version\n");
    drop(srv);

    // A folder copy that does not fit: 507, no partial copy, the replaced folder kept.
    std::fs::create_dir(mnt.path().join("big")).unwrap();
    for i in 0..3 {
        std::fs::write(
            mnt.path().join(format!("big/{i}.bin")),
            vec![b'b'; 140 * 1024],
        )
        .unwrap();
    }
    std::fs::create_dir(mnt.path().join("old")).unwrap();
    std::fs::write(mnt.path().join("old/a.txt"), "old").unwrap();
    let srv = Dirdav::start(&["--root", mnt.path().to_str().unwrap()]);
    for (dest, overwrite) in [("/copy/", "F"), ("/old/", "T")] {
        let r = srv
            .request("COPY", "/big/")
            .header("Destination", dest)
            .header("Overwrite", overwrite)
            .send();
        assert_eq!(r.status, 507, "{dest}: {r:?}");
    }
    let mut names: Vec<_> = std::fs::read_dir(mnt.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["big", "keep.txt", "old"],
        "no partial copy left behind"
    );
    assert_eq!(
        std::fs::read_to_string(mnt.path().join("old/a.txt")).unwrap(),
        "old"
    );
    assert_eq!(srv.request("GET", "/old/a.txt").send().body, "old");
    assert_eq!(srv.request("GET", "/copy/").send().status, 404);
}

#[test]
fn dns_records_prints_zone_file_lines() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dirdav"))
            .arg("dns-records")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let plain = run(&["--domain", "example.com"]);
    assert!(
        plain.contains("\n_caldav._tcp.example.com. 3600 IN SRV 0 1 8008 example.com.\n"),
        "{plain}"
    );
    assert!(plain.contains("\n_carddav._tcp.example.com. 3600 IN SRV 0 1 8008 example.com.\n"));
    assert!(!plain.contains("TXT"));
    let tls = run(&[
        "--domain",
        "example.com",
        "--host",
        "dav.example.com",
        "--port",
        "8443",
        "--tls",
        "--base-path",
        "/dav/",
    ]);
    assert!(tls.contains("\n_caldavs._tcp.example.com. 3600 IN SRV 0 1 8443 dav.example.com.\n_caldavs._tcp.example.com. 3600 IN TXT \"path=/dav/\"\n"), "{tls}");
    assert!(tls.contains("\n_carddavs._tcp.example.com. 3600 IN TXT \"path=/dav/\"\n"));
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_dirdav"))
        .arg("dns-records")
        .output()
        .unwrap();
    assert!(!missing.status.success(), "--domain is required");
}

#[test]
fn clients_are_told_they_may_write_so_calendars_are_not_read_only() {
    let (_dir, srv) = example_server();
    let body =
        r#"<propfind xmlns="DAV:"><prop><current-user-privilege-set/><owner/></prop></propfind>"#;
    let r = srv
        .request("PROPFIND", "/alice/calendar/")
        .header("Depth", "0")
        .auth("alice", "wonderland")
        .body(body)
        .send();
    assert_eq!(r.status, 207);
    assert!(
        r.body.contains("<d:privilege><d:write/></d:privilege>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<d:privilege><d:read/></d:privilege>"));
    assert!(
        r.body
            .contains("<d:owner><d:href>/alice/</d:href></d:owner>")
    );
}

#[test]
fn the_well_known_redirect_keeps_https_host_and_prefix_behind_a_trusted_proxy_only() {
    let (_dir, srv) = example_server();
    let redirect = |srv: &Dirdav| {
        let r = srv
            .request("PROPFIND", "/.well-known/caldav")
            .header("Depth", "0")
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-Host", "dav.example.com")
            .header("X-Forwarded-Prefix", "/dav")
            .send();
        assert_eq!(r.status, 301);
        r.header("location").unwrap().to_owned()
    };
    // The proxy on this machine is trusted by default, and serves dirdav below /dav.
    assert_eq!(redirect(&srv), "https://dav.example.com/dav/");
    // Naming another proxy withdraws that trust: the headers are ignored.
    let (_other_dir, other) = support::example_server(&["--trusted-proxy", "192.0.2.1"]);
    assert_eq!(
        redirect(&other),
        format!("http://127.0.0.1:{}/", other.port)
    );
}

/// RFC 4791 §9.9: floating times and all-day dates are placed in the zone the query
/// names, else the calendar's, else UTC; the answer is the same whether the summary
/// decides it or the item is read, and after a restart from the saved state.
#[test]
fn floating_times_follow_the_zone_of_the_query_or_the_calendar() {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    for (name, extra) in [
        ("utc", ""),
        ("berlin", "[caldav]\ntimezone = \"Europe/Berlin\"\n"),
    ] {
        std::fs::create_dir(root.path().join(name)).unwrap();
        std::fs::write(
            root.path().join(name).join(".dav.toml"),
            format!("kind = \"calendar\"\n{extra}"),
        )
        .unwrap();
    }
    let start = || {
        Dirdav::start(&[
            "--root",
            root.path().to_str().unwrap(),
            "--state-dir",
            state.path().to_str().unwrap(),
        ])
    };
    let first_of_july = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:july\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20260701\r\nDURATION:P1D\r\nSUMMARY:Canada Day\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let srv = start();
    for calendar in ["utc", "berlin"] {
        let put = srv
            .request("PUT", &format!("/{calendar}/july.ics"))
            .body(first_of_july)
            .send();
        assert_eq!(put.status, 201, "{}", put.body);
    }
    // June in UTC; 1 July begins at 22:00 UTC on 30 June in Berlin.
    let june = |srv: &Dirdav, calendar: &str, zone: &str, data: &str| {
        let body = format!(
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/>{data}</D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20260601T000000Z" end="20260701T000000Z"/></C:comp-filter></C:comp-filter></C:filter>{zone}</C:calendar-query>"#
        );
        let response = srv
            .request("REPORT", &format!("/{calendar}/"))
            .header("Depth", "1")
            .body(body)
            .send();
        assert_eq!(response.status, 207, "{}", response.body);
        if !data.is_empty() && response.body.contains("july.ics") {
            assert!(response.body.contains("Canada Day"), "{}", response.body);
        }
        response.body.contains("july.ics")
    };
    let vtimezone = "<C:timezone>BEGIN:VCALENDAR&#13;\nBEGIN:VTIMEZONE&#13;\nTZID:Europe/Berlin&#13;\n\
        BEGIN:DAYLIGHT&#13;\nDTSTART:19700329T020000&#13;\nTZOFFSETFROM:+0100&#13;\nTZOFFSETTO:+0200&#13;\n\
        END:DAYLIGHT&#13;\nEND:VTIMEZONE&#13;\nEND:VCALENDAR&#13;\n</C:timezone>";
    let by_id = "<C:timezone-id>Europe/Berlin</C:timezone-id>";
    let data = "<C:calendar-data/>";
    let check = |srv: &Dirdav| {
        for data in ["", data] {
            assert!(!june(srv, "utc", "", data), "UTC by default");
            assert!(june(srv, "berlin", "", data), "the calendar's zone");
            assert!(june(srv, "utc", vtimezone, data), "the query's VTIMEZONE");
            assert!(june(srv, "utc", by_id, data), "the query's timezone-id");
        }
    };
    check(&srv);
    // A zone the query names but that is none is refused with the RFC's condition.
    for (zone, condition) in [
        (
            "<C:timezone-id>Mars/Olympus</C:timezone-id>",
            "valid-timezone",
        ),
        (
            "<C:timezone>Europe/Berlin</C:timezone>",
            "valid-calendar-data",
        ),
    ] {
        let body = format!(
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter>{zone}</C:calendar-query>"#
        );
        let refused = srv
            .request("REPORT", "/utc/")
            .header("Depth", "1")
            .body(body)
            .send();
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert!(refused.body.contains(condition), "{}", refused.body);
    }
    assert!(srv.terminate().success());
    check(&start());
}

/// The example plugin stays an example: the shipped binary does not register it, so no
/// `hello` token in the DAV header and no `hello` namespace in answers.
#[test]
fn the_shipped_binary_registers_no_example_plugin() {
    let (_dir, srv) = example_server();
    let options = srv
        .request("OPTIONS", "/alice/calendar/")
        .auth("alice", "wonderland")
        .send();
    let dav = options.header("dav").unwrap_or_default().to_owned();
    assert!(dav.contains("calendar-access"), "{dav}");
    assert!(!dav.contains("hello"), "{dav}");
    let listing = srv
        .request("PROPFIND", "/alice/")
        .auth("alice", "wonderland")
        .header("Depth", "0")
        .send();
    assert!(!listing.body.contains("ns/hello"), "{}", listing.body);
}
