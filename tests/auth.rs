//! End-to-end: authentication as it faces the internet: throttled guessing, app
//! passwords, user names with `@`.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use support::Dirdav;

fn server(htpasswd: &str) -> (tempfile::TempDir, Dirdav) {
    server_with(htpasswd, &[])
}

fn server_with(htpasswd: &str, extra: &[&str]) -> (tempfile::TempDir, Dirdav) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tree")).unwrap();
    std::fs::write(dir.path().join("htpasswd"), htpasswd).unwrap();
    let mut args = vec![
        "--root".to_owned(),
        dir.path().join("tree").display().to_string(),
        "--htpasswd".to_owned(),
        dir.path().join("htpasswd").display().to_string(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let srv = Dirdav::start(&args);
    (dir, srv)
}

const PROPFIND: &str =
    r#"<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>"#;

#[test]
fn a_thousand_wrong_passwords_from_one_address_are_throttled_and_others_are_served() {
    let hash = bcrypt::hash("right", 4).unwrap();
    // The loopback peer is named as a trusted proxy: X-Forwarded-For names the client.
    let (_dir, srv) = server_with(
        &format!("alice:{hash}\nbob:{hash}\n"),
        &["--trusted-proxy", "127.0.0.1"],
    );
    let from = |ip: &str, user: &str, password: &str| {
        srv.request("PROPFIND", "/")
            .header("Depth", "0")
            .header("X-Forwarded-For", ip)
            .auth(user, password)
            .body(PROPFIND)
            .send()
    };
    let started = Instant::now();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..1000 {
        let r = from("203.0.113.9", "alice", &format!("guess{i}"));
        *statuses.entry(r.status).or_default() += 1;
        if r.status == 429 {
            assert!(
                r.header("retry-after")
                    .is_some_and(|s| s.parse::<u64>().is_ok())
            );
        }
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    assert_eq!(statuses.values().sum::<usize>(), 1000);
    assert!(
        statuses.get(&401).copied().unwrap_or(0) <= 20,
        "{statuses:?}"
    );
    assert!(
        statuses.get(&429).copied().unwrap_or(0) >= 980,
        "{statuses:?}"
    );
    // The guesser is refused even with the right password; everyone else is served.
    assert_eq!(from("203.0.113.9", "alice", "right").status, 429);
    assert_eq!(from("198.51.100.7", "alice", "right").status, 207);
    assert_eq!(from("198.51.100.8", "bob", "right").status, 207);
    let log = srv.drain_log().join("\n");
    assert!(log.contains("too many failed logins"), "{log}");
    assert!(!log.contains("guess1"), "no password in the log");
}

#[test]
fn app_passwords_and_user_names_with_an_at_sign() {
    let phone = bcrypt::hash("phone-pw", 4).unwrap();
    let laptop = bcrypt::hash("laptop-pw", 4).unwrap();
    let (dir, srv) = server(&format!(
        "carol@example.com:{phone}\ncarol@example.com:{laptop}\n"
    ));
    for password in ["phone-pw", "laptop-pw"] {
        let r = srv
            .request("PROPFIND", "/")
            .header("Depth", "0")
            .auth("carol@example.com", password)
            .body(PROPFIND)
            .send();
        assert_eq!(r.status, 207, "{password}");
        assert!(
            r.body
                .contains("<d:current-user-principal><d:href>/carol@example.com/</d:href>"),
            "{}",
            r.body
        );
    }
    assert_eq!(
        srv.request("PROPFIND", "/")
            .auth("carol@example.com", "revoked")
            .send()
            .status,
        401
    );
    // Her home was made at her first request, and she may write in it.
    assert!(
        dir.path()
            .join("tree/carol@example.com/calendar/.dav.toml")
            .is_file()
    );
    let r = srv
        .request("PUT", "/carol@example.com/calendar/x.ics")
        .auth("carol@example.com", "phone-pw")
        .body("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
        .send();
    assert_eq!(r.status, 201, "{}", r.body);
    let r = srv
        .request("PROPFIND", "/carol%40example.com/calendar/")
        .header("Depth", "0")
        .auth("carol@example.com", "phone-pw")
        .body(PROPFIND)
        .send();
    assert_eq!(r.status, 207, "an encoded @ names the same home");
}

/// Without `--trusted-proxy`, loopback is trusted for the scheme and host it forwards,
/// but the throttle does not believe its `X-Forwarded-For`: any local process could
/// name a fresh address for every guess.
#[test]
fn the_throttle_believes_forwarded_addresses_only_from_named_proxies() {
    let hash = bcrypt::hash("right", 4).unwrap();
    let (_dir, srv) = server(&format!("alice:{hash}\n"));
    let statuses: Vec<u16> = (0..15)
        .map(|i| {
            srv.request("PROPFIND", "/")
                .header("Depth", "0")
                .header("X-Forwarded-For", &format!("203.0.113.{i}"))
                .auth("alice", &format!("guess{i}"))
                .body(PROPFIND)
                .send()
                .status
        })
        .collect();
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}

/// A refusal takes as long for a user name that does not exist as for one that does:
/// its time does not tell which names are users.
#[test]
fn refusing_an_unknown_user_takes_as_long_as_refusing_a_known_one() {
    let hash = bcrypt::hash("right", 8).unwrap();
    let (_dir, srv) = server_with(
        &format!("alice:{hash}\n"),
        &["--trusted-proxy", "127.0.0.1"],
    );
    // The fastest of a few refusals each, from addresses of their own (no throttle).
    let fastest = |user: &str, first: u8| {
        (0..4u8)
            .map(|i| {
                let started = Instant::now();
                let r = srv
                    .request("PROPFIND", "/")
                    .header("Depth", "0")
                    .header("X-Forwarded-For", &format!("198.51.100.{}", first + i))
                    .auth(user, "wrong")
                    .body(PROPFIND)
                    .send();
                assert_eq!(r.status, 401);
                started.elapsed()
            })
            .min()
            .unwrap()
    };
    let known = fastest("alice", 0);
    let unknown = fastest("mallory", 10);
    assert!(
        unknown * 3 >= known,
        "unknown user refused in {unknown:?}, known in {known:?}"
    );
}
