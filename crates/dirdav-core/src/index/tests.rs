//! Tests of the index: listings, UIDs, sync logs, loading and settings.

use super::*;
use dirdav_plugin::Summary;

fn file(etag: &str) -> FileEntry {
    FileEntry {
        etag: etag.into(),
        size: 1,
        modified: SystemTime::UNIX_EPOCH,
        created: SystemTime::UNIX_EPOCH,
        summary: Held::default(),
    }
}

fn dir(index: &mut Index, key: &str) {
    kinded(index, key, None);
}

/// A folder with a kind, or (`None`) a plain one (a kind taken away).
fn kinded(index: &mut Index, key: &str, kind: Option<&str>) {
    let config = CollectionConfig {
        kind: kind.map(str::to_owned),
        ..CollectionConfig::default()
    };
    index.put_dir(
        key,
        config,
        u64::from(kind.is_some()),
        Format::DavToml,
        SystemTime::UNIX_EPOCH,
        SystemTime::UNIX_EPOCH,
    );
}

#[test]
fn collections_are_listed_by_folder_and_folders_count_their_changes() {
    let mut index = Index::new(0, 100);
    dir(&mut index, "");
    for key in ["alice", "alice-x", "bob", "public"] {
        dir(&mut index, key);
    }
    kinded(&mut index, "alice-x/cal", Some("calendar"));
    kinded(&mut index, "alice/calendar", Some("calendar"));
    kinded(&mut index, "alice/contacts", Some("addressbook"));
    kinded(&mut index, "bob/calendar", Some("calendar"));
    dir(&mut index, "alice/notes");
    let within = |index: &Index, folder: &str| -> Vec<String> {
        index
            .collections_within(folder)
            .map(|(k, _)| k.clone())
            .collect()
    };
    assert_eq!(
        within(&index, "alice"),
        ["alice/calendar", "alice/contacts"]
    );
    assert_eq!(within(&index, "alice/calendar"), ["alice/calendar"]);
    assert_eq!(within(&index, "alice-x"), ["alice-x/cal"]);
    assert!(within(&index, "public").is_empty());
    assert_eq!(within(&index, "").len(), 4);
    assert_eq!(index.collections().count(), 4);

    let before = index.folders_generation();
    index.put_file("alice/calendar/x.ics", file("\"1\""));
    assert_eq!(index.folders_generation(), before, "files do not count");
    kinded(&mut index, "alice/contacts", None);
    assert_eq!(within(&index, "alice"), ["alice/calendar"]);
    let after_kind = index.folders_generation();
    assert_ne!(after_kind, before);
    index.rename("alice/calendar", "alice/work");
    assert_eq!(within(&index, "alice"), ["alice/work"]);
    assert_ne!(index.folders_generation(), after_kind);
    let gone = index.folders_generation();
    index.remove("alice");
    assert!(within(&index, "alice").is_empty());
    assert_ne!(index.folders_generation(), gone);
}

fn tree() -> Index {
    let mut index = Index::new(0, 100);
    index.set_quiet(true);
    dir(&mut index, "");
    dir(&mut index, "alice");
    dir(&mut index, "alice/calendar");
    index.put_file("alice/calendar/a.ics", file("\"a\""));
    index.put_file("notes.txt", file("\"n\""));
    index.set_quiet(false);
    index.take_ops();
    index
}

#[test]
fn large_settings_are_held_without_their_dead_properties() {
    let text = |n: usize| {
        format!(
            "kind = \"calendar\"\n[props]\n\"{{urn:x}}a\" = \"{}\"\n[files.\"x.ics\"]\n\"{{urn:x}}b\" = \"c\"\n",
            "v".repeat(n)
        )
    };
    let mut index = Index::new(0, 100);
    for (key, n) in [("small", 10), ("large", 10_000)] {
        let body = text(n);
        let config = CollectionConfig {
            size: body.len() as u64,
            ..crate::dotfile::parse_config(&body).unwrap()
        };
        index.put_dir(
            key,
            config,
            1,
            Format::DavToml,
            SystemTime::UNIX_EPOCH,
            SystemTime::UNIX_EPOCH,
        );
    }
    let small = index.dir("small").unwrap();
    assert!(!small.heavy && small.config.props.len() == 1 && small.config.files.len() == 1);
    let large = index.dir("large").unwrap();
    assert!(large.heavy);
    assert!(large.config.props.is_empty() && large.config.files.is_empty());
    assert!(large.config.document.get("props").is_none());
    assert_eq!(
        large.config.kind.as_deref(),
        Some("calendar"),
        "the rest stays"
    );
    assert_eq!(
        large.config.size,
        text(10_000).len() as u64,
        "and counts in quotas"
    );
}

fn names(changes: &[(String, Change, u64)]) -> Vec<&str> {
    changes.iter().map(|(k, _, _)| k.as_str()).collect()
}

#[test]
fn members_are_the_direct_children_in_name_order_with_or_without_subfolders() {
    let mut index = Index::new(0, 100);
    dir(&mut index, "");
    dir(&mut index, "cal");
    dir(&mut index, "docs");
    for name in ["b.ics", "a.ics", "a b.ics", "a-b.ics", "c.ics"] {
        index.put_file(&format!("cal/{name}"), file("\"e\""));
    }
    index.put_file("docs/a", file("\"e\""));
    dir(&mut index, "docs/a b");
    index.put_file("docs/a b/deep.txt", file("\"e\""));
    dir(&mut index, "docs/a0");
    index.put_file("docs/a0/deeper.txt", file("\"e\""));
    index.put_file("docs/z.txt", file("\"e\""));
    index.put_file("caldav.txt", file("\"e\""));
    let keys = |k: &str| index.members(k).map(|(k, _)| k).collect::<Vec<_>>();
    // A flat folder; "caldav.txt" is not in it.
    assert_eq!(
        keys("cal"),
        [
            "cal/a b.ics",
            "cal/a-b.ics",
            "cal/a.ics",
            "cal/b.ics",
            "cal/c.ics"
        ]
    );
    // A folder with subfolders: their contents are not members.
    assert_eq!(
        keys("docs"),
        ["docs/a", "docs/a b", "docs/a0", "docs/z.txt"]
    );
    assert_eq!(keys(""), ["cal", "caldav.txt", "docs"]);
    assert!(keys("nothing").is_empty());
}

#[test]
fn files_are_found_by_uid_through_puts_moves_and_removals() {
    let with = |uid: &str, etag: &str| FileEntry {
        summary: Held::new(Some(Arc::new(Summary {
            uid: Some(uid.to_owned()),
            ..Summary::default()
        }))),
        ..file(etag)
    };
    let mut index = Index::new(0, 100);
    dir(&mut index, "");
    dir(&mut index, "a");
    dir(&mut index, "b");
    index.put_file("a/x.ics", with("u1", "\"1\""));
    index.put_file("a/y.ics", with("u2", "\"2\""));
    assert_eq!(index.with_uid("a", "u1"), ["a/x.ics"]);
    index.put_file("a/x.ics", with("u3", "\"3\""));
    assert!(
        index.with_uid("a", "u1").is_empty(),
        "a new version forgets the old UID"
    );
    assert_eq!(index.with_uid("a", "u3"), ["a/x.ics"]);
    index.rename("a/x.ics", "b/x.ics");
    assert!(index.with_uid("a", "u3").is_empty());
    assert_eq!(index.with_uid("b", "u3"), ["b/x.ics"]);
    index.copy("a", "c", false);
    assert_eq!(index.with_uid("c", "u2"), ["c/y.ics"]);
    index.remove("a");
    assert!(index.with_uid("a", "u2").is_empty());
    assert_eq!(index.with_uid("c", "u2"), ["c/y.ics"]);
}

#[test]
fn a_quiet_build_logs_nothing() {
    let index = tree();
    assert_eq!(index.seq(), 0);
    assert!(
        index
            .dir("alice/calendar")
            .unwrap()
            .log
            .get()
            .unwrap()
            .is_empty()
    );
    let all = index.changes("alice/calendar", None, false).unwrap();
    assert_eq!(names(&all), ["alice/calendar/a.ics"]);
}

#[test]
fn changes_since_a_token() {
    let mut index = tree();
    let token = index.seq();
    index.put_file("alice/calendar/b.ics", file("\"b\""));
    index.put_file("alice/calendar/a.ics", file("\"a2\""));
    index.put_file("alice/calendar/a.ics", file("\"a2\""));
    index.remove("alice/calendar/b.ics");
    let c = index.changes("alice/calendar", Some(token), false).unwrap();
    assert_eq!(
        c.iter()
            .map(|(k, ch, _)| (k.as_str(), ch.clone()))
            .collect::<Vec<_>>(),
        [
            ("alice/calendar/a.ics", Change::File),
            ("alice/calendar/b.ics", Change::Deleted(false))
        ]
    );
    assert_eq!(index.dir("alice/calendar").unwrap().rev, index.seq());
    assert!(
        index
            .changes("alice/calendar", Some(index.seq()), false)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        index.changes("alice/calendar", Some(index.seq() + 1), false),
        Err(StaleToken)
    );
    let ops = index.take_ops();
    assert!(
        ops.iter()
            .any(|o| matches!(o, Op::Remove(k) if k == "alice/calendar/b.ics"))
    );
}

#[test]
fn infinite_depth_includes_new_folders_whole() {
    let mut index = tree();
    let token = index.seq();
    dir(&mut index, "alice/new");
    index.put_file("alice/new/x.txt", file("\"x\""));
    index.put_file("alice/calendar/c.ics", file("\"c\""));
    let c = index.changes("alice", Some(token), true).unwrap();
    assert_eq!(
        names(&c),
        ["alice/new", "alice/new/x.txt", "alice/calendar/c.ics"]
    );
    let c = index.changes("alice", Some(token), false).unwrap();
    assert_eq!(names(&c), ["alice/new"]);
    // A token from before a folder existed does not describe it.
    assert_eq!(
        index.changes("alice/new", Some(token), false),
        Err(StaleToken)
    );
}

#[test]
fn the_log_is_bounded_and_knows_its_floor() {
    let mut index = Index::new(0, 3);
    dir(&mut index, "");
    dir(&mut index, "c");
    let start = index.seq();
    for i in 0..5 {
        index.put_file(&format!("c/{i}"), file(&format!("\"{i}\"")));
    }
    let d = index.dir("c").unwrap();
    assert_eq!(d.log.get().unwrap().len(), 3);
    assert_eq!(index.changes("c", Some(start), false), Err(StaleToken));
    assert_eq!(index.changes("c", Some(d.floor), false).unwrap().len(), 3);
    assert!(
        index
            .take_ops()
            .iter()
            .any(|o| matches!(o, Op::Trim { .. }))
    );
}

#[test]
fn copy_rename_and_remove_keep_members_consistent() {
    let mut index = tree();
    index.copy("alice", "bob", false);
    assert!(index.get("bob/calendar/a.ics").is_some());
    assert!(index.members("").any(|(k, _)| k == "bob"));
    assert!(
        index
            .dir("bob/calendar")
            .unwrap()
            .log
            .get()
            .unwrap()
            .is_empty()
    );
    index.rename("bob", "carol");
    assert!(index.get("bob").is_none());
    assert!(!index.members("").any(|(k, _)| k == "bob"));
    assert!(index.get("carol/calendar/a.ics").is_some());
    index.remove("carol");
    assert_eq!(index.count_within("", 100), 5);
    index.copy("alice", "shallow", true);
    assert_eq!(index.count_within("shallow", 100), 1);
    assert_eq!(index.members("shallow").count(), 0);
    let root = index.changes("", Some(0), false).unwrap();
    assert_eq!(names(&root), ["bob", "carol", "shallow"]);
    assert_eq!(root[0].1, Change::Deleted(true));
}

#[test]
fn a_loaded_index_keeps_its_logs() {
    let mut index = tree();
    index.put_file("alice/calendar/b.ics", file("\"b\""));
    let seq = index.seq();
    let mut loaded = Loaded::default();
    for op in index.take_ops() {
        if let Op::Log {
            dir,
            seq,
            name,
            change,
        } = op
        {
            loaded.logs.push((dir, seq, name, change));
        }
    }
    loaded.dirs.push(("".into(), [0; 4]));
    loaded.dirs.push(("alice".into(), [0; 4]));
    loaded.dirs.push(("alice/calendar".into(), [seq, 0, 0, 0]));
    loaded
        .files
        .push(("alice/calendar/b.ics".into(), file("\"b\"")));
    let again = Index::from_loaded(loaded, seq, 100);
    assert_eq!(
        names(&again.changes("alice/calendar", Some(0), false).unwrap()),
        ["alice/calendar/b.ics"]
    );
    assert!(again.members("alice").any(|(k, _)| k == "alice/calendar"));
}
