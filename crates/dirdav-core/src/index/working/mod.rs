//! The index's working set: which items' summaries and which folders' sync logs it
//! holds in memory.
//!
//! Every file's entry (ETag, size, times) stays in memory, and so does every folder's.
//! A summary is larger and is only needed when someone asks about its item (a report, a
//! listing, a UID check); a sync log only when a client syncs. So after a restart both
//! stay in the state store until asked for; then the whole folder's summaries, or its
//! log, are read back, each in one range of the store. When more than
//! [`Working::limit`] summaries and log entries are held, the folders used longest ago
//! let go of theirs, once the store has them.
//!
//! The store is behind [`Stored`]: the seam a shared backend (several nodes on one
//! tree) plugs into.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use dirdav_plugin::Summary;

use super::uids::Uids;
use super::{Entry, FileEntry, Index, join, split};
use crate::state::Stored;

/// What the index holds of summaries, and where it finds the rest.
#[derive(Debug, Default)]
pub(super) struct Working {
    /// Where summaries out of memory are read back; without one every summary stays in
    /// memory.
    stored: Option<Arc<dyn Stored>>,
    /// The most summaries and log entries held before folders let go of theirs.
    limit: usize,
    /// Summaries in memory.
    held: AtomicUsize,
    /// Sync-log entries in memory.
    log_held: AtomicUsize,
    /// Folders that may have summaries in memory.
    folders: Mutex<BTreeSet<String>>,
    /// Counts uses of folders ([`super::DirEntry::used`]).
    clock: AtomicU64,
    /// Counts writes of summaries and log entries ([`super::DirEntry::written`]).
    pub(super) writes: u64,
    /// Every write up to this count is in the store.
    saved: AtomicU64,
    /// Saves under way.
    saving: AtomicUsize,
    /// A save failed: the store may lack summaries the index holds, so none is let go
    /// until the next start.
    failed: AtomicBool,
    /// Folders whose summaries or log were read back from the store.
    loads: AtomicU64,
    /// The UIDs of the summaries in memory.
    pub(super) uids: Uids,
}

impl Working {
    /// Summaries and log entries in memory.
    fn held(&self) -> usize {
        self.held.load(Relaxed) + self.log_held.load(Relaxed)
    }

    /// Counts `n` log entries put in memory, or let go (`false`).
    pub(super) fn count_log(&self, n: usize, held: bool) {
        match held {
            true => self.log_held.fetch_add(n, Relaxed),
            false => self.log_held.fetch_sub(n, Relaxed),
        };
    }
}

/// The working set's figures, for metrics.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WorkingStats {
    /// Summaries in memory.
    pub(crate) held: usize,
    /// Sync-log entries in memory.
    pub(crate) log_held: usize,
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

    /// The sync log of the folder `key` (its entry `d`), read back from the store when
    /// it is not in memory; `None` when the store cannot give it back.
    pub(crate) fn log_of<'a>(
        &'a self,
        key: &str,
        d: &'a super::DirEntry,
    ) -> Option<&'a std::collections::VecDeque<super::LogEntry>> {
        if let Some(log) = d.log.get() {
            return Some(log);
        }
        let rows = match self.working.stored.as_ref()?.log(key) {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(folder = key, error = %e, "reading a sync log back from the state failed");
                return None;
            }
        };
        let log: std::collections::VecDeque<super::LogEntry> = rows
            .into_iter()
            .map(|(seq, name, change)| super::LogEntry {
                seq,
                name: name.into_boxed_str(),
                change,
            })
            .collect();
        let n = log.len();
        if d.log.set(log).is_ok() {
            self.working.count_log(n, true);
            self.working.loads.fetch_add(1, Relaxed);
            self.held_in(key);
        }
        self.use_folder(key);
        d.log.get()
    }

    /// Puts the folder `key`'s log in memory before a change is logged; a log the store
    /// cannot give back starts afresh, and tokens from before it are no longer answered.
    pub(super) fn hold_log(&mut self, key: &str) {
        let Some(d) = self.dir(key) else {
            return;
        };
        if d.log.get().is_some() || self.log_of(key, d).is_some() {
            return;
        }
        let seq = self.seq;
        if let Some(Entry::Dir(d)) = self.entries.get_mut(key) {
            let _ = d.log.set(std::collections::VecDeque::new());
            d.floor = d.floor.max(seq);
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
    /// already in memory are newer or the same and stay); answers the summary read for
    /// `key`. Nothing is let go here: readers share the index ([`Index::let_go`]).
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

    /// Notes a summary or log entry put in memory by a change of the index (not read
    /// back): its folder holds it at least until the store has it.
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
        w.stored.is_some() && w.held() > w.limit && !w.failed.load(Relaxed)
    }

    /// When more summaries are held than the limit, lets go of those of the folders
    /// used longest ago (never `keep`'s, nor any the store may lack). Under the write
    /// lock: a reader never sees a summary leave.
    pub(crate) fn let_go(&mut self, keep: Option<&str>) {
        // While building from scratch nothing is in the store yet: the builder lets go
        // once it has saved.
        if self.quiet || !self.over_limit() {
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
            if self.working.held() <= self.working.limit {
                break;
            }
            let files: Vec<String> = self
                .members(&folder)
                .filter(|(_, e)| matches!(e, Entry::File(f) if f.summary.get().is_some()))
                .map(|(k, _)| k)
                .collect();
            if let Some(Entry::Dir(d)) = self.entries.get_mut(&folder) {
                d.whole.0.store(false, Relaxed);
                if let Some(log) = d.log.take() {
                    self.working.count_log(log.len(), false);
                }
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
            log_held: self.working.log_held.load(Relaxed),
            loads: self.working.loads.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests;
