//! Crash safety: writers keep a calendar busy (PUT, DELETE, MOVE, PROPPATCH) while the
//! server is killed with SIGKILL at random moments; after each restart every item on
//! disk is a whole version some client sent, no temporary file is left or served, the
//! index agrees with the disk, and a sync token from before the crash still brings a
//! client up to date. Run alone with `cargo test --test crash_safety`; set
//! `CRASH_ROUNDS` for more rounds and `CRASH_SEED` to replay one run.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{Dirdav, calendar_tree, event, sync_entries};

/// A small deterministic generator, so a failing run can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// One version of an item: its UID stays, its summary names the writer, and a long
/// description makes a torn write visible.
fn version(item: u64, writer: &str) -> String {
    let filler = format!("{writer} ").repeat(400);
    event(&format!("item-{item}")).replace(
        &format!("SUMMARY:item-{item}"),
        &format!("SUMMARY:{writer}\r\nDESCRIPTION:{}", fold(&filler)),
    )
}

/// Folds a long value into 74-octet content lines.
fn fold(value: &str) -> String {
    value
        .as_bytes()
        .chunks(74)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// Sends one request without panicking when the server is gone; the status, if any.
fn try_send(port: u16, head: &str, body: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!(
        "{head}Host: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    std::str::from_utf8(answer.get(9..12)?).ok()?.parse().ok()
}

/// What the writers sent: every item body, and every display name.
#[derive(Default)]
struct Sent {
    bodies: HashSet<String>,
    names: HashSet<String>,
    /// Requests answered 2xx.
    succeeded: usize,
}

/// Runs one writer until `stop`; `kind` picks its mix.
fn writer(port: u16, kind: u64, seed: u64, sent: &Mutex<Sent>, stop: &AtomicBool) {
    let mut rng = Rng(seed);
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let item = rng.below(8);
        let status = match (kind, rng.below(4)) {
            (0 | 1, _) | (2, 0) => {
                let body = version(item, &format!("w{kind}-{seed}-{n}"));
                sent.lock().unwrap().bodies.insert(body.clone());
                try_send(
                    port,
                    &format!("PUT /cal/item-{item}.ics HTTP/1.1\r\n"),
                    &body,
                )
            }
            (2, 1 | 2) => try_send(
                port,
                &format!("DELETE /cal/item-{item}.ics HTTP/1.1\r\n"),
                "",
            ),
            (2, _) => try_send(
                port,
                &format!(
                    "MOVE /cal/item-{item}.ics HTTP/1.1\r\nDestination: /cal/item-{}.ics\r\n",
                    rng.below(8)
                ),
                "",
            ),
            _ => {
                let name = format!("name {seed}-{n}");
                sent.lock().unwrap().names.insert(name.clone());
                let body = format!(
                    r#"<propertyupdate xmlns="DAV:"><set><prop><displayname>{name}</displayname></prop></set></propertyupdate>"#
                );
                try_send(port, "PROPPATCH /cal/ HTTP/1.1\r\n", &body)
            }
        };
        if status.is_some_and(|s| (200..300).contains(&s)) {
            sent.lock().unwrap().succeeded += 1;
        }
        if status.is_none() {
            // The server is down: wait for the next round rather than spin.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The items on disk: name → bytes. Panics on anything but items and `.dav.toml`,
/// except the server's temporaries when `temporaries_allowed`.
fn items_on_disk(root: &std::path::Path, temporaries_allowed: bool) -> BTreeMap<String, String> {
    let mut items = BTreeMap::new();
    for entry in std::fs::read_dir(root.join("cal")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name == ".dav.toml" {
            continue;
        }
        if name.starts_with(".dirdav-tmp-") {
            assert!(
                temporaries_allowed,
                "a temporary survived the restart: {name}"
            );
            continue;
        }
        assert!(name.ends_with(".ics"), "unexpected file {name}");
        let bytes = std::fs::read_to_string(root.join("cal").join(&name)).unwrap();
        items.insert(name, bytes);
    }
    items
}

fn etag_of(bytes: &str) -> String {
    format!("\"{}\"", &blake3::hash(bytes.as_bytes()).to_hex()[..32])
}

#[test]
fn killed_mid_write_the_server_comes_back_whole() {
    let rounds: u64 = std::env::var("CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(6);
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("CRASH_SEED={seed}");
    let mut rng = Rng(seed);

    let (root, state) = calendar_tree();
    let sent = Arc::new(Mutex::new(Sent::default()));
    for item in 0..8 {
        let body = version(item, "initial");
        std::fs::write(root.path().join(format!("cal/item-{item}.ics")), &body).unwrap();
        sent.lock().unwrap().bodies.insert(body);
    }
    let args = [
        "--root",
        root.path().to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
        "--watch",
        "off",
    ];

    // What a client knows: hrefs and ETags as of its token.
    let mut srv = Dirdav::start(&args);
    let (entries, mut token) = sync_entries(&srv, "/cal/", "", "1");
    let mut view: BTreeMap<String, String> = entries
        .into_iter()
        .map(|(href, etag)| (href, etag.unwrap()))
        .collect();

    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..4)
            .map(|kind| {
                let (sent, stop) = (sent.clone(), stop.clone());
                let (port, seed) = (srv.port, rng.below(u64::MAX));
                std::thread::spawn(move || writer(port, kind, seed, &sent, &stop))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100 + rng.below(500)));
        srv.kill();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }

        // Whatever the kill interrupted, each item is one whole version.
        let mut sent_now = sent.lock().unwrap();
        assert!(
            sent_now.succeeded > 0,
            "round {round}: no write landed before the kill"
        );
        eprintln!("round {round}: {} writes landed", sent_now.succeeded);
        sent_now.succeeded = 0;
        for (name, bytes) in items_on_disk(root.path(), true) {
            assert!(
                sent_now.bodies.contains(&bytes),
                "round {round}: {name} holds bytes no client sent ({} bytes)",
                bytes.len()
            );
        }
        let settings = std::fs::read_to_string(root.path().join("cal/.dav.toml")).unwrap();
        let settings: toml::Table = toml::from_str(&settings)
            .unwrap_or_else(|e| panic!("round {round}: .dav.toml is torn: {e}\n{settings}"));
        if let Some(name) = settings.get("displayname").and_then(|v| v.as_str()) {
            assert!(
                sent_now.names.contains(name),
                "round {round}: displayname {name}"
            );
        }
        drop(sent_now);

        srv = Dirdav::start(&args);
        // The index agrees with the disk: same members, ETags of the bytes on disk. The
        // first request to the folder has it checked against the tree (the server
        // answers before it has checked every folder), and the temporaries the killed
        // server left in it removed.
        let (listed, new_token) = sync_entries(&srv, "/cal/", "", "1");
        let on_disk = items_on_disk(root.path(), false);
        let listed: BTreeMap<String, String> = listed
            .into_iter()
            .map(|(href, etag)| (href, etag.unwrap()))
            .collect();
        let expected: BTreeMap<String, String> = on_disk
            .iter()
            .map(|(name, bytes)| (format!("/cal/{name}"), etag_of(bytes)))
            .collect();
        assert_eq!(
            listed, expected,
            "round {round}: the index and the disk differ"
        );
        for (name, bytes) in &on_disk {
            let got = srv.request("GET", &format!("/cal/{name}")).send();
            assert_eq!(&got.body, bytes, "round {round}: GET {name}");
        }

        // The token from before the crash brings the client's view to the same place.
        let (changes, _) = sync_entries(&srv, "/cal/", &token, "1");
        for (href, etag) in changes {
            match etag {
                Some(etag) => view.insert(href, etag),
                None => view.remove(&href),
            };
        }
        assert_eq!(view, expected, "round {round}: a sync from the old token");
        token = new_token;
        view = expected;
    }
}
