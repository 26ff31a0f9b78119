//! The index's working set: which items' summaries it holds in memory.
//!
//! Every file's entry (ETag, size, times) stays in memory, and so does every folder's. A
//! summary is larger and is only needed when someone asks about its item (a report, a
//! listing, a UID check), so after a restart summaries stay in the state store until
//! one of a folder's is asked for; then the whole folder's are read back, in one range
//! of the store. When more than [`Working::limit`] summaries are held, the folders used
//! longest ago let go of theirs, once the store has them.
//!
//! The store is behind [`Stored`]: the seam a shared backend (several nodes on one
//! tree) plugs into.

use crate::state::Stored;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use dirdav_plugin::Summary;

use super::uids::Uids;
use super::{Entry, FileEntry, Index, join, split};

/// What the index holds of summaries, and where it finds the rest.
#[derive(Debug, Default)]
pub(super) struct Working {
    /// Where summaries out of memory are read back; without one every summary stays in
    /// memory.
    stored: Option<Arc<dyn Stored>>,
    /// The most summaries held before folders let go of theirs.
    limit: usize,
    /// Summaries in memory.
    held: AtomicUsize,
    /// Folders that may have summaries in memory.
    folders: Mutex<BTreeSet<String>>,
    /// Counts uses of folders ([`super::DirEntry::used`]).
    clock: AtomicU64,
    /// Counts writes of summaries ([`super::DirEntry::written`]).
    writes: u64,
    /// Every write up to this count is in the store.
    saved: AtomicU64,
    /// Saves under way.
    saving: AtomicUsize,
    /// A save failed: the store may lack summaries the index holds, so none is let go
    /// until the next start.
    failed: AtomicBool,
    /// Folders whose summaries were read back from the store.
    loads: AtomicU64,
    /// The UIDs of the summaries in memory.
    pub(super) uids: Uids,
}

/// The working set's figures, for metrics.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WorkingStats {
    /// Summaries in memory.
    pub(crate) held: usize,
    /// Folders whose summaries were read back from the store since the start.
    pub(crate) loads: u64,
}

impl Index {
    /// Keeps summaries in `stored` and holds at most about `limit` of them in memory
    /// (a folder being used keeps all of its own, whatever its size).
    pub(crate) fn keep_in(&mut self, stored: Arc<dyn Stored>, limit: usize) {
        self.working.stored = Some(stored);
        self.working.limit = limit;
    }

    /// The summary of the file at `key` (its entry `file`), read back from the store
    /// with the rest of its folder's when it is not in memory.
    pub(crate) fn summary(&self, key: &str, file: &FileEntry) -> Option<Arc<Summary>> {
        match file.summary.known() {
            Some(summary) => summary.cloned(),
            None => {
                let wanted = self.load(split(key).map_or("", |(p, _)| p), Some(key));
                file.summary.get().cloned().or(wanted)
            }
        }
    }

    /// Puts every summary of `folder`'s files in memory, unless they are all there.
    pub(super) fn hold_whole(&self, folder: &str) {
        if self.working.stored.is_none() {
            return;
        }
        if let Some(d) = self.dir(folder)
            && !d.whole.0.load(Relaxed)
        {
            self.load(folder, None);
        }
    }

    /// Notes a summary in memory for the file at `key`.
    pub(super) fn holds(&self, key: &str, summary: &Summary) {
        self.working.held.fetch_add(1, Relaxed);
        if let Some(uid) = &summary.uid {
            let dir = split(key).map_or("", |(p, _)| p);
            self.working.uids.add(dir, key, uid);
        }
    }

    /// Notes that the summary of the file at `key` leaves memory.
    pub(super) fn lets_go(&self, key: &str, summary: &Summary) {
        self.working.held.fetch_sub(1, Relaxed);
        if let Some(uid) = &summary.uid {
            let dir = split(key).map_or("", |(p, _)| p);
            self.working.uids.remove(dir, key, uid);
        }
    }

    /// Notes that a folder's summaries are in use now: those of the folders used
    /// longest ago are let go first.
    pub(crate) fn use_folder(&self, folder: &str) {
        if self.working.stored.is_none() {
            return;
        }
        if let Some(d) = self.dir(folder) {
            let now = self.working.clock.fetch_add(1, Relaxed);
            d.used.0.store(now, Relaxed);
        }
    }

    /// Reads a folder's summaries back from the store into its files' entries (those
    /// already in memory are newer or the same and stay), then lets go of others' if
    /// too many are held; answers the summary read for `key`.
    fn load(&self, folder: &str, key: Option<&str>) -> Option<Arc<Summary>> {
        let stored = self.working.stored.as_ref()?;
        let rows = match stored.summaries(folder) {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(folder, error = %e, "reading summaries back from the state failed");
                return None;
            }
        };
        let mut wanted = None;
        {
            let mut folders = self.folders();
            for (name, summary) in rows {
                let k = join(folder, &name);
                let Some(Entry::File(f)) = self.entries.get(&k) else {
                    continue;
                };
                let summary = Arc::new(summary);
                if Some(k.as_str()) == key {
                    wanted = Some(summary.clone());
                }
                if f.summary.fill(summary.clone()) {
                    self.holds(&k, &summary);
                }
            }
            if let Some(d) = self.dir(folder) {
                d.whole.0.store(true, Relaxed);
            }
            if !folders.contains(folder) {
                folders.insert(folder.to_owned());
            }
        }
        self.working.loads.fetch_add(1, Relaxed);
        self.use_folder(folder);
        wanted
    }

    fn folders(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.working
            .folders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Notes that `folder` has summaries in memory.
    pub(super) fn held_in(&self, folder: &str) {
        if self.working.stored.is_none() {
            return;
        }
        let mut folders = self.folders();
        if !folders.contains(folder) {
            folders.insert(folder.to_owned());
        }
    }

    /// Notes a summary put in memory by a change of the index (not read back): its
    /// folder holds it at least until the store has it.
    pub(super) fn wrote_in(&mut self, folder: &str) {
        self.working.writes += 1;
        let writes = self.working.writes;
        if let Some(Entry::Dir(d)) = self.entries.get_mut(folder) {
            d.written = writes;
        }
        self.held_in(folder);
        self.use_folder(folder);
    }

    /// More summaries are held than the limit: the next holder of the write lock
    /// should call [`Index::let_go`].
    pub(crate) fn over_limit(&self) -> bool {
        let w = &self.working;
        w.stored.is_some() && w.held.load(Relaxed) > w.limit && !w.failed.load(Relaxed)
    }

    /// When more summaries are held than the limit, lets go of those of the folders
    /// used longest ago (never `keep`'s, nor any the store may lack). Under the write
    /// lock: a reader never sees a summary leave.
    pub(crate) fn let_go(&mut self, keep: Option<&str>) {
        if !self.over_limit() {
            return;
        }
        let w = &self.working;
        // With no save under way and nothing waiting to be saved, the store has every
        // summary; else only folders written before the last save's start are safe.
        let settled = w.saving.load(Relaxed) == 0 && self.ops.is_empty();
        let saved = w.saved.load(Relaxed);
        let mut folders = std::mem::take(&mut *self.folders());
        folders.retain(|f| self.is_dir(f));
        let mut oldest: Vec<(u64, String)> = folders
            .iter()
            .filter(|f| Some(f.as_str()) != keep)
            .filter_map(|f| {
                let d = self.dir(f)?;
                (settled || d.written <= saved).then(|| (d.used.0.load(Relaxed), f.clone()))
            })
            .collect();
        oldest.sort_unstable();
        for (_, folder) in oldest {
            if self.working.held.load(Relaxed) <= self.working.limit {
                break;
            }
            let files: Vec<String> = self
                .members(&folder)
                .filter(|(_, e)| matches!(e, Entry::File(f) if f.summary.get().is_some()))
                .map(|(k, _)| k)
                .collect();
            if let Some(Entry::Dir(d)) = self.entries.get_mut(&folder) {
                d.whole.0.store(false, Relaxed);
            }
            for key in files {
                if let Some(Entry::File(f)) = self.entries.get_mut(&key)
                    && let Some(summary) = f.summary.release()
                {
                    self.lets_go(&key, &summary);
                }
            }
            folders.remove(&folder);
        }
        self.folders().append(&mut folders);
    }

    /// A save of the changes taken now starts; answers its mark for
    /// [`Index::end_save`].
    pub(crate) fn begin_save(&self) -> u64 {
        self.working.saving.fetch_add(1, Relaxed);
        self.working.writes
    }

    /// The save begun at `mark` ended, well or not.
    pub(crate) fn end_save(&self, mark: u64, ok: bool) {
        let w = &self.working;
        match ok {
            true => w.saved.fetch_max(mark, Relaxed),
            false => {
                w.failed.store(true, Relaxed);
                0
            }
        };
        w.saving.fetch_sub(1, Relaxed);
    }

    /// The working set's figures.
    pub(crate) fn working_stats(&self) -> WorkingStats {
        WorkingStats {
            held: self.working.held.load(Relaxed),
            loads: self.working.loads.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
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
}
