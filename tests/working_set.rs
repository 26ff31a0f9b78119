//! The index's working set, end to end: with a state directory, items' summaries wait
//! there after a restart and are read back a folder at a time when asked for; past
//! `--index-cache`, the folders used longest ago let go of theirs. Reports, UID checks
//! and copies answer as they would with every summary in memory, before and after a
//! restart.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use support::{Dirdav, event};

/// An event on day `day` of January 2026.
fn event_on(uid: &str, day: u32) -> String {
    event(uid).replace(
        "DTSTART:20260102T100000Z",
        &format!("DTSTART:202601{day:02}T100000Z"),
    )
}

/// The hrefs a calendar-query for 5–15 January finds in `calendar`, sorted.
fn in_range(srv: &Dirdav, calendar: &str) -> Vec<String> {
    let query = r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20260105T000000Z" end="20260115T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#;
    let r = srv
        .request("REPORT", calendar)
        .header("Depth", "1")
        .body(query)
        .send();
    assert_eq!(r.status, 207, "{}", r.body);
    let mut hrefs: Vec<String> = r
        .body
        .split("<d:href>")
        .skip(1)
        .filter_map(|s| s.split("</d:href>").next())
        .map(str::to_owned)
        .collect();
    hrefs.sort();
    hrefs
}

/// A server's arguments: the tree, its state, no watcher, and at most `cache` summaries
/// and log entries in memory.
fn args<'a>(root: &'a std::path::Path, state: &'a std::path::Path, cache: &'a str) -> [&'a str; 8] {
    [
        "--root",
        root.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--watch",
        "off",
        "--index-cache",
        cache,
    ]
}

/// A metric's value from `GET /metrics`.
fn metric(srv: &Dirdav, name: &str) -> u64 {
    let r = srv.request("GET", "/metrics").send();
    r.body
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {}", r.body))
        .parse()
        .unwrap()
}

#[test]
fn summaries_read_back_from_the_state_answer_as_those_in_memory() {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let r = root.path();
    let users = ["alice", "bob", "carol", "dave"];
    for (u, user) in users.iter().enumerate() {
        let cal = r.join(user).join("cal");
        std::fs::create_dir_all(&cal).unwrap();
        std::fs::write(cal.join(".dav.toml"), "kind = \"calendar\"\n").unwrap();
        for day in 1..=20u32 {
            let uid = format!("{user}-{day}");
            // Every user has other days, so that each answer is their own.
            let day = (day + u as u32) % 28 + 1;
            std::fs::write(cal.join(format!("{uid}.ics")), event_on(&uid, day)).unwrap();
        }
    }
    // At most 10 summaries in memory: every calendar's 20 are more than that.
    let args = args(r, state.path(), "10");
    let srv = Dirdav::start(&args);
    let expected: Vec<Vec<String>> = users
        .iter()
        .map(|u| in_range(&srv, &format!("/{u}/cal/")))
        .collect();
    for (user, hrefs) in users.iter().zip(&expected) {
        assert!(
            hrefs.len() >= 5
                && hrefs
                    .iter()
                    .all(|h| h.starts_with(&format!("/{user}/cal/"))),
            "{user}: {hrefs:?}"
        );
    }
    assert!(
        metric(&srv, "dirdav_index_summaries_held") <= 20,
        "a cold start lets go of what the state holds"
    );
    assert!(srv.terminate().success());

    let srv = Dirdav::start(&args);
    assert_eq!(
        metric(&srv, "dirdav_index_summaries_held"),
        0,
        "nothing read yet"
    );
    // Twice around, so that every calendar is read back after being let go.
    for _ in 0..2 {
        for (user, hrefs) in users.iter().zip(&expected) {
            assert_eq!(&in_range(&srv, &format!("/{user}/cal/")), hrefs, "{user}");
        }
    }
    assert!(metric(&srv, "dirdav_index_loads_total") >= 8);
    assert!(metric(&srv, "dirdav_index_summaries_held") <= 30);

    // A UID already in a calendar whose summaries are out of memory is found.
    in_range(&srv, "/dave/cal/");
    let put = srv
        .request("PUT", "/alice/cal/again.ics")
        .body(event_on("alice-3", 9))
        .send();
    assert_eq!(put.status, 403, "{}", put.body);
    assert!(
        put.body
            .contains("<no-uid-conflict xmlns=\"urn:ietf:params:xml:ns:caldav\"><d:href>/alice/cal/alice-3.ics</d:href>"),
        "{}",
        put.body
    );

    // A copy made while the source's summaries are out of memory carries them, into
    // memory and into the state, under the new name.
    in_range(&srv, "/dave/cal/");
    let copy = srv
        .request("COPY", "/bob/cal/")
        .header("Destination", "/erin-cal/")
        .send();
    assert_eq!(copy.status, 201, "{}", copy.body);
    let copied: Vec<String> = expected[1]
        .iter()
        .map(|h| h.replace("/bob/cal/", "/erin-cal/"))
        .collect();
    assert_eq!(in_range(&srv, "/erin-cal/"), copied);
    assert!(srv.terminate().success());

    let srv = Dirdav::start(&args);
    assert_eq!(in_range(&srv, "/erin-cal/"), copied);
    assert_eq!(in_range(&srv, "/bob/cal/"), expected[1]);
    let put = srv
        .request("PUT", "/erin-cal/again.ics")
        .body(event_on("bob-4", 9))
        .send();
    assert_eq!(
        put.status, 403,
        "the copy's summaries were stored: {}",
        put.body
    );
    assert!(put.body.contains("/erin-cal/bob-4.ics"), "{}", put.body);
    assert!(srv.terminate().success());
}

/// Sync logs stay in the state after a restart and are read back when a client syncs;
/// with a cache too small for them, every token from before the restart still gets
/// exactly the changes made since, in every calendar.
#[test]
fn sync_logs_read_back_from_the_state_answer_old_tokens() {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let r = root.path();
    let users = ["alice", "bob", "carol"];
    for user in users {
        let cal = r.join(user).join("cal");
        std::fs::create_dir_all(&cal).unwrap();
        std::fs::write(cal.join(".dav.toml"), "kind = \"calendar\"\n").unwrap();
    }
    let args = args(r, state.path(), "5");
    let srv = Dirdav::start(&args);
    let mut tokens = Vec::new();
    for user in users {
        let (_, token) = support::sync(&srv, &format!("/{user}/cal/"), "", "1");
        for n in 0..8 {
            let put = srv
                .request("PUT", &format!("/{user}/cal/{n}.ics"))
                .body(event(&format!("{user}-{n}")))
                .send();
            assert_eq!(put.status, 201);
        }
        tokens.push(token);
    }
    assert!(metric(&srv, "dirdav_index_log_entries_held") <= 20);
    assert!(srv.terminate().success());

    let srv = Dirdav::start(&args);
    assert_eq!(metric(&srv, "dirdav_index_log_entries_held"), 0);
    for (user, token) in users.iter().zip(&tokens) {
        let path = format!("/{user}/cal/");
        let (changed, _) = support::sync(&srv, &path, token, "1");
        let expected: Vec<String> = (0..8).map(|n| format!("{path}{n}.ics")).collect();
        let mut hrefs: Vec<String> = changed
            .iter()
            .map(|c| c.split(' ').next().unwrap().to_owned())
            .collect();
        hrefs.sort();
        assert_eq!(hrefs, expected, "{user}: {changed:?}");
    }
    // A change after the restart, into a log out of memory, follows the old ones.
    let (_, token) = support::sync(&srv, "/alice/cal/", &tokens[0], "1");
    support::sync(&srv, "/bob/cal/", &tokens[1], "1");
    support::sync(&srv, "/carol/cal/", &tokens[2], "1");
    let del = srv.request("DELETE", "/alice/cal/3.ics").send();
    assert_eq!(del.status, 204);
    let (changed, _) = support::sync(&srv, "/alice/cal/", &token, "1");
    assert_eq!(changed, ["/alice/cal/3.ics 404"]);
    let (changed, _) = support::sync(&srv, "/alice/cal/", &tokens[0], "1");
    assert_eq!(changed.len(), 8, "{changed:?}");
    assert!(metric(&srv, "dirdav_index_loads_total") >= 3);
    assert!(srv.terminate().success());
}
