//! Tests of the working set: summaries and logs leaving memory and coming back.

use std::time::SystemTime;

use super::*;
use crate::index::Held;
use crate::state::State;

fn item(uid: &str, etag: &str) -> FileEntry {
    FileEntry {
        etag: etag.into(),
        size: 1,
        modified: SystemTime::UNIX_EPOCH,
        created: SystemTime::UNIX_EPOCH,
        summary: Held::new(Some(Arc::new(Summary {
            uid: Some(uid.to_owned()),
            ..Summary::default()
        }))),
    }
}

/// Saves what the index changed, as the server does after each change.
fn save(index: &mut Index, state: &State) {
    let ops = index.take_ops();
    let mark = index.begin_save();
    state.apply(&ops, index.seq()).unwrap();
    index.end_save(mark, true);
    index.let_go(None);
}

fn uid(index: &Index, key: &str) -> Option<String> {
    match index.get(key)? {
        Entry::File(f) => index.summary(key, f)?.uid.clone(),
        Entry::Dir(_) => None,
    }
}

/// Three folders of two items, at most three summaries in memory.
fn three_folders() -> (tempfile::TempDir, Arc<State>, Index) {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(State::open(dir.path()).unwrap());
    state.set_meta("test", 0).unwrap();
    let mut index = Index::new(0, 100);
    index.keep_in(state.clone(), 3);
    for folder in ["", "a", "b", "c"] {
        index.put_dir(
            folder,
            Default::default(),
            0,
            crate::compat::Format::DavToml,
            SystemTime::UNIX_EPOCH,
            SystemTime::UNIX_EPOCH,
        );
    }
    for folder in ["a", "b", "c"] {
        for n in 1..=2 {
            let key = format!("{folder}/{n}.ics");
            index.put_file(&key, item(&format!("{folder}{n}"), "\"1\""));
        }
    }
    (dir, state, index)
}

#[test]
fn summaries_leave_memory_once_stored_and_come_back_when_asked() {
    let (_dir, state, mut index) = three_folders();
    assert_eq!(
        index.working_stats().held,
        6,
        "nothing leaves memory before the store has it"
    );
    save(&mut index, &state);
    let held = index.working_stats().held;
    assert!(held <= 3, "{held} summaries held over a limit of 3");
    for key in ["a/1.ics", "a/2.ics", "b/1.ics", "c/2.ics"] {
        let expected = key.replace(".ics", "").replace('/', "");
        assert_eq!(
            uid(&index, key).as_deref(),
            Some(expected.as_str()),
            "{key}"
        );
    }
    assert!(index.working_stats().loads >= 1);
    // Reading back never lets go (readers share the index); the server does at the
    // end of the request, under the write lock.
    assert!(index.over_limit());
    index.let_go(None);
    assert!(index.working_stats().held <= 3);
    assert_eq!(index.with_uid("b", "b2"), ["b/2.ics"]);
    assert!(index.with_uid("b", "a1").is_empty());
}

#[test]
fn a_summary_the_store_lacks_stays_in_memory() {
    let (_dir, state, mut index) = three_folders();
    save(&mut index, &state);
    // A new version of a/1.ics, not saved yet, then folders read back until the
    // limit makes others leave: a/1.ics's new summary must stay.
    index.put_file("a/1.ics", item("new", "\"2\""));
    for key in ["b/1.ics", "c/1.ics", "b/2.ics"] {
        uid(&index, key);
    }
    index.let_go(None);
    assert_eq!(uid(&index, "a/1.ics").as_deref(), Some("new"));
    // Once saved, it may leave, and comes back as saved.
    save(&mut index, &state);
    for key in ["b/1.ics", "c/1.ics"] {
        uid(&index, key);
    }
    assert_eq!(uid(&index, "a/1.ics").as_deref(), Some("new"));
}

#[test]
fn after_a_failed_save_nothing_leaves_memory() {
    let (_dir, _state, mut index) = three_folders();
    index.take_ops();
    let mark = index.begin_save();
    index.end_save(mark, false);
    index.let_go(None);
    assert_eq!(index.working_stats().held, 6);
}

#[test]
fn a_copy_carries_summaries_that_were_out_of_memory() {
    let (_dir, state, mut index) = three_folders();
    save(&mut index, &state);
    index.copy("a", "d", false);
    save(&mut index, &state);
    assert_eq!(uid(&index, "d/2.ics").as_deref(), Some("a2"));
    assert_eq!(index.with_uid("d", "a1"), ["d/1.ics"]);
    // And the store has them under the new keys.
    let mut stored: Vec<_> = state
        .summaries("d")
        .unwrap()
        .into_iter()
        .map(|(name, s)| (name, s.uid))
        .collect();
    stored.sort();
    assert_eq!(
        stored,
        [
            ("1.ics".to_owned(), Some("a1".to_owned())),
            ("2.ics".to_owned(), Some("a2".to_owned()))
        ]
    );
}

#[test]
fn the_store_reads_one_folder_not_its_subfolders() {
    let (_dir, state, mut index) = three_folders();
    index.put_dir(
        "a/sub",
        Default::default(),
        0,
        crate::compat::Format::DavToml,
        SystemTime::UNIX_EPOCH,
        SystemTime::UNIX_EPOCH,
    );
    index.put_file("a/sub/x.ics", item("deep", "\"1\""));
    index.put_file("a/z.ics", item("z", "\"1\""));
    save(&mut index, &state);
    let names: Vec<String> = state
        .summaries("a")
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["1.ics", "2.ics", "z.ics"]);
    let root: Vec<String> = state
        .summaries("")
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(root.is_empty(), "{root:?}");
}

fn names(changes: &[(String, crate::index::Change, u64)]) -> Vec<&str> {
    changes.iter().map(|(k, _, _)| k.as_str()).collect()
}

#[test]
fn a_sync_log_let_go_is_read_back_whole_and_grows_on() {
    let (_dir, state, mut index) = three_folders();
    let since = index.seq();
    index.put_file("a/1.ics", item("a1", "\"2\""));
    index.put_file("a/3.ics", item("a3", "\"1\""));
    save(&mut index, &state);
    let before = index.changes("a", Some(since), false).unwrap();
    assert_eq!(names(&before), ["a/1.ics", "a/3.ics"]);
    // Other folders used since, then too much held: a's log leaves memory.
    for key in ["b/1.ics", "c/1.ics"] {
        uid(&index, key);
    }
    index.let_go(Some("c"));
    assert!(
        index.dir("a").unwrap().log.get().is_none(),
        "a's log let go"
    );
    assert_eq!(index.changes("a", Some(since), false).unwrap(), before);
    // A change logged while the log is out of memory lands after the stored ones.
    index.let_go(Some("c"));
    index.remove("a/2.ics");
    assert_eq!(
        names(&index.changes("a", Some(since), false).unwrap()),
        ["a/1.ics", "a/3.ics", "a/2.ics"]
    );
    save(&mut index, &state);
    let d = index.dir("a").unwrap();
    let held: Vec<u64> = index
        .log_of("a", d)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    let stored: Vec<u64> = state.log("a").unwrap().iter().map(|e| e.0).collect();
    assert_eq!(held, stored);
    assert_eq!(
        held.len(),
        5,
        "two puts, a change, a new item and a removal"
    );
}

/// A store that cannot be read.
#[derive(Debug)]
struct Broken;

impl Stored for Broken {
    fn summaries(&self, _: &str) -> Result<Vec<(String, Summary)>, crate::state::StateError> {
        Err(std::io::Error::other("broken").into())
    }

    fn log(
        &self,
        _: &str,
    ) -> Result<Vec<(u64, String, crate::index::Change)>, crate::state::StateError> {
        Err(std::io::Error::other("broken").into())
    }
}

#[test]
fn a_log_the_store_cannot_give_back_vouches_for_no_token() {
    let loaded = crate::state::Loaded {
        dirs: vec![(String::new(), [5, 0, 0, 0]), ("a".into(), [5, 0, 0, 0])],
        logs_stored: true,
        ..Default::default()
    };
    let mut index = Index::from_loaded(loaded, 10, 100);
    index.keep_in(Arc::new(Broken), 10);
    assert_eq!(
        index.changes("a", Some(3), false),
        Err(crate::index::StaleToken),
        "not an empty list of changes"
    );
    // A change starts the log afresh: tokens from before it are refused, newer ones
    // answered.
    index.put_file("a/x.ics", item("x", "\"1\""));
    assert_eq!(
        index.changes("a", Some(3), false),
        Err(crate::index::StaleToken)
    );
    let now = index.seq();
    index.put_file("a/y.ics", item("y", "\"1\""));
    assert_eq!(
        names(&index.changes("a", Some(now), false).unwrap()),
        ["a/y.ics"]
    );
}
