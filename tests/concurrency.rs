//! Many clients at once against the real binary: racing conditional updates, a hundred
//! writers in one collection, a slow upload among fast ones, and clients that open
//! connections and go quiet. Run alone with `cargo test --test concurrency`.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use support::{Dirdav, calendar_tree, event, read_response, sync};

fn serve(root: &tempfile::TempDir, state: &tempfile::TempDir, extra: &[&str]) -> Dirdav {
    let mut args = vec![
        "--root",
        root.path().to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Dirdav::start(&args)
}

/// The event `a` with a summary naming who wrote it.
fn version(writer: &str) -> String {
    event("a").replace("SUMMARY:a", &format!("SUMMARY:{writer}"))
}

#[test]
fn racing_if_match_updates_one_wins_and_the_other_gets_412() {
    let (root, state) = calendar_tree();
    let srv = serve(&root, &state, &[]);
    let created = srv
        .request("PUT", "/cal/a.ics")
        .body(version("start"))
        .send();
    assert_eq!(created.status, 201);
    let mut etag = created.header("etag").unwrap().to_owned();

    for round in 0..25 {
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = (0..2)
            .map(|k| {
                let barrier = barrier.clone();
                let body = version(&format!("round {round} writer {k}"));
                let request = srv
                    .request("PUT", "/cal/a.ics")
                    .header("If-Match", &etag)
                    .body(body.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    (request.send(), body)
                })
            })
            .collect();
        let mut results: Vec<_> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        results.sort_by_key(|(r, _)| r.status);
        let statuses: Vec<u16> = results.iter().map(|(r, _)| r.status).collect();
        assert_eq!(statuses, [204, 412], "round {round}");

        let (winner, body) = &results[0];
        let now = srv.request("GET", "/cal/a.ics").send();
        assert_eq!(
            &now.body, body,
            "round {round}: the winner's bytes are stored"
        );
        assert_eq!(now.header("etag"), winner.header("etag"));
        let on_disk = std::fs::read_to_string(root.path().join("cal/a.ics")).unwrap();
        assert_eq!(&on_disk, body);
        etag = winner.header("etag").unwrap().to_owned();
    }
}

#[test]
fn a_hundred_clients_writing_one_collection_all_land_once_each() {
    let (root, state) = calendar_tree();
    let srv = serve(&root, &state, &[]);
    let (_, before) = sync(&srv, "/cal/", "", "1");

    let barrier = Arc::new(Barrier::new(100));
    let writers: Vec<_> = (0..100)
        .map(|i| {
            let barrier = barrier.clone();
            let request = srv
                .request("PUT", &format!("/cal/item-{i:03}.ics"))
                .body(event(&format!("item-{i:03}")));
            std::thread::spawn(move || {
                barrier.wait();
                request.send().status
            })
        })
        .collect();
    for (i, w) in writers.into_iter().enumerate() {
        assert_eq!(w.join().unwrap(), 201, "item {i}");
    }

    let expected: Vec<String> = (0..100).map(|i| format!("/cal/item-{i:03}.ics")).collect();
    let (changed, _) = sync(&srv, "/cal/", &before, "1");
    assert_eq!(
        changed, expected,
        "each write is in the sync log exactly once"
    );
    let (all, _) = sync(&srv, "/cal/", "", "1");
    assert_eq!(all, expected);
    for i in 0..100 {
        let on_disk =
            std::fs::read_to_string(root.path().join(format!("cal/item-{i:03}.ics"))).unwrap();
        assert_eq!(on_disk, event(&format!("item-{i:03}")));
    }
}

/// Files in `cal/` other than the items, such as temporaries left behind.
fn strays(root: &tempfile::TempDir) -> Vec<String> {
    std::fs::read_dir(root.path().join("cal"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".dav.toml" && !n.ends_with(".ics"))
        .collect()
}

#[test]
fn a_stalled_upload_holds_up_no_other_writer_and_ends_in_408() {
    let (root, state) = calendar_tree();
    let srv = serve(&root, &state, &["--idle-timeout", "3"]);
    let body = event("slow");
    let mut slow = srv
        .request("PUT", "/cal/slow.ics")
        .body(body.clone())
        .send_head();
    slow.write_all(&body.as_bytes()[..20]).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let started = Instant::now();
    let fast = srv
        .request("PUT", "/cal/fast.ics")
        .body(event("fast"))
        .send();
    assert_eq!(fast.status, 201);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a write waited {:?} behind a stalled upload",
        started.elapsed()
    );

    let answer = read_response(&mut slow);
    assert_eq!(answer.status, 408, "{}", answer.body);
    assert!(!root.path().join("cal/slow.ics").exists());
    assert_eq!(
        strays(&root),
        Vec::<String>::new(),
        "no temporary file is left"
    );
    let listing = srv.request("GET", "/cal/fast.ics").send();
    assert_eq!(listing.status, 200);
}

#[test]
fn silent_connections_are_closed_and_the_connection_bound_holds() {
    let (root, state) = calendar_tree();
    let srv = serve(
        &root,
        &state,
        &["--idle-timeout", "2", "--max-connections", "4"],
    );
    // Four connections take every slot: two say nothing, two send half a request head.
    let mut quiet: Vec<TcpStream> = (0..4)
        .map(|i| {
            let mut s = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            if i % 2 == 1 {
                s.write_all(b"PROPFIND /cal/ HTTP/1.1\r\nHost: 127.0.0.1\r\nDep")
                    .unwrap();
            }
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));

    // A fifth client with a whole request takes the place of the one silent longest,
    // at once; the deadline closes the others.
    let started = Instant::now();
    let answer = srv.request("OPTIONS", "/").send();
    let waited = started.elapsed();
    assert_eq!(answer.status, 200);
    assert!(
        waited < Duration::from_millis(1000),
        "the fifth connection was answered after {waited:?}"
    );
    for s in &mut quiet {
        let mut buf = [0u8; 64];
        assert_eq!(
            s.read(&mut buf).unwrap(),
            0,
            "the server closed the silent connection"
        );
    }
}
