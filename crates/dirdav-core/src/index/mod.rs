//! The index: every folder and file under the root, with what PROPFIND, sync and the
//! reports need (ETag, size, times, parsed `.dav.toml`, sync revision and log), so that
//! they never open a file whose body they do not return.
//!
//! The index lives in memory and is authoritative while the server runs. Each change
//! it makes is also queued as [`Op`]s, which the server writes to the
//! [state database](crate::state) before answering the request.
//!
//! # Sync revisions (RFC 6578)
//!
//! One sequence number counts every change in the tree. A folder's log records the
//! changes of its direct members, each under the sequence number it got; its `rev` is
//! the number of its last change; its `floor` is the newest number dropped from its
//! bounded log (older tokens can no longer be answered); `born` is the number at which
//! it appeared (older tokens never described it).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

use dirdav_plugin::{CollectionConfig, Configs, Resource};

use crate::compat::Format;
use crate::path::{is_within, join, split};
use crate::state::{Loaded, Op};

pub(crate) mod entry;
mod log;
mod uids;
mod working;

pub(crate) use entry::{Change, DirEntry, Entry, FileEntry, Flag, Held, LogEntry};
use entry::{change_of, held};
use working::Working;
#[cfg(test)]
mod tests;

/// The iterator of [`Index::members`].
struct Members<'a> {
    entries: &'a BTreeMap<String, Entry>,
    /// `"folder/"`, or `""` for the root.
    prefix: String,
    /// The rest of the folder's run; `None` when the folder does not exist.
    range: Option<std::collections::btree_map::Range<'a, String, Entry>>,
}

impl<'a> Iterator for Members<'a> {
    type Item = (String, &'a Entry);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (key, entry) = self.range.as_mut()?.next()?;
            let Some(rest) = key.strip_prefix(self.prefix.as_str()) else {
                self.range = None;
                return None;
            };
            match rest.find('/') {
                // The root's own entry.
                None if rest.is_empty() => {}
                None => return Some((key.clone(), entry)),
                Some(slash) => {
                    let past = format!("{}{}0", self.prefix, &rest[..slash]);
                    self.range = Some(self.entries.range(past..));
                }
            }
        }
    }
}

/// Why a sync token cannot be answered: RFC 6578 §3.2 `DAV:valid-sync-token`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StaleToken;

impl dirdav_plugin::Configs for Index {
    fn config(&self, path: &str) -> Option<Arc<CollectionConfig>> {
        self.dir(path).map(|d| d.config.clone())
    }
}

/// Folders and files by key (`"alice/calendar/x.ics"`, `""` for the root).
#[derive(Debug)]
pub(crate) struct Index {
    entries: BTreeMap<String, Entry>,
    /// The keys of the folders among `entries`, to list collections without walking files.
    dirs: BTreeSet<String>,
    /// The keys of the folders that have a kind (calendars, address books …): what
    /// [`Index::collections`] lists without looking at plain folders.
    kinded: BTreeSet<String>,
    /// Counts changes to folders (added, removed, their settings replaced), so that what
    /// is derived from folders and their settings alone (the collections shared with a
    /// user) can be kept until it changes ([`Index::folders_generation`]).
    folders_generation: u64,
    /// Which summaries are in memory, and where the others are read back from.
    working: Working,
    seq: u64,
    log_limit: usize,
    ops: Vec<Op>,
    /// While building from scratch nothing is logged: every entry exists "at the start".
    quiet: bool,
    /// The last settings of folders removed in this run, so that a sync answer names a
    /// removed folder only to those its own rules let see it; at most [`GRAVES`].
    graves: HashMap<String, Arc<CollectionConfig>>,
    grave_order: VecDeque<String>,
}

/// A number no index of this process had before: an index made anew (a rebuild) never
/// repeats the generation of the one it replaces.
fn next_generation() -> u64 {
    static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// How many removed folders' settings [`Index::graves`] keeps.
const GRAVES: usize = 10_000;

/// The settings of folders as they are, and of one removed member as it was: what a
/// member filter judges a removal in a sync answer by.
pub(crate) struct WithGrave<'a> {
    pub(crate) index: &'a Index,
    /// The removed member ([`Index::grave`]).
    pub(crate) grave: &'a Resource,
}

impl Configs for WithGrave<'_> {
    fn config(&self, path: &str) -> Option<Arc<CollectionConfig>> {
        if self.grave.is_collection && path == self.grave.path {
            return Some(self.grave.collection.clone());
        }
        self.index.config(path)
    }
}

impl Index {
    /// An empty index at sequence number `seq`, keeping at most `log_limit` log entries
    /// per folder.
    pub(crate) fn new(seq: u64, log_limit: usize) -> Index {
        Index {
            entries: BTreeMap::new(),
            dirs: BTreeSet::new(),
            kinded: BTreeSet::new(),
            folders_generation: next_generation(),
            working: Working::default(),
            seq,
            log_limit: log_limit.max(1),
            ops: Vec::new(),
            quiet: false,
            graves: HashMap::new(),
            grave_order: VecDeque::new(),
        }
    }

    /// A removed member as a member filter sees it: its path, and the settings it was
    /// under (a file its folder's, a folder its own last ones when this run removed it,
    /// else none of its own, so that it inherits its parent's).
    pub(crate) fn grave(&self, key: &str, was_dir: bool) -> Resource {
        let collection = if was_dir {
            self.graves.get(key).cloned()
        } else {
            split(key).and_then(|(parent, _)| self.config(parent))
        };
        Resource {
            path: key.to_owned(),
            href: String::new(),
            is_collection: was_dir,
            etag: None,
            size: 0,
            modified: SystemTime::UNIX_EPOCH,
            created: SystemTime::UNIX_EPOCH,
            collection: collection.unwrap_or_default(),
            sync_token: None,
            summary: None,
        }
    }

    /// The index a previous run persisted. Folder settings are read again from the tree
    /// by the reconciliation that follows.
    pub(crate) fn from_loaded(loaded: Loaded, seq: u64, log_limit: usize) -> Index {
        let mut index = Index::new(seq, log_limit);
        let mut dirs = loaded.dirs;
        dirs.sort();
        for (key, [rev, floor, born, config_tag]) in dirs {
            let dir = DirEntry {
                config: Arc::default(),
                heavy: false,
                served: std::sync::OnceLock::new(),
                config_tag,
                format: Format::DavToml,
                modified: SystemTime::UNIX_EPOCH,
                created: SystemTime::UNIX_EPOCH,
                rev,
                floor,
                born,
                // With the logs in the store, each stays there until asked for.
                log: match loaded.logs_stored {
                    true => std::sync::OnceLock::new(),
                    false => std::sync::OnceLock::from(VecDeque::new()),
                },
                used: Default::default(),
                written: 0,
                whole: Default::default(),
            };
            index.insert(key, Entry::Dir(Box::new(dir)));
        }
        for (key, file) in loaded.files {
            index.insert(key, Entry::File(file));
        }
        for (dir, seq, name, change) in loaded.logs {
            if let Some(Entry::Dir(d)) = index.entries.get_mut(&dir)
                && let Some(log) = d.log.get_mut()
            {
                log.push_back(LogEntry {
                    seq,
                    name: name.into_boxed_str(),
                    change,
                });
                index.working.count_log(1, true);
            }
        }
        index
    }

    /// Turns logging off (building from scratch) or back on.
    pub(crate) fn set_quiet(&mut self, quiet: bool) {
        self.quiet = quiet;
    }

    /// The current sequence number.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// The changes made since the last call, to persist.
    pub(crate) fn take_ops(&mut self) -> Vec<Op> {
        std::mem::take(&mut self.ops)
    }

    /// Number of folders and files indexed.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry at a key.
    pub(crate) fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// Adds or replaces an entry.
    fn insert(&mut self, key: String, entry: Entry) {
        match &entry {
            Entry::Dir(d) => {
                self.dirs.insert(key.clone());
                self.classify(&key, d.config.kind.is_some());
            }
            Entry::File(_) => {
                if self.dirs.remove(&key) {
                    self.classify(&key, false);
                }
            }
        };
        self.forget_held(&key);
        if let Entry::File(f) = &entry
            && let Some(summary) = f.summary.get()
        {
            self.holds(&key, summary);
        }
        self.entries.insert(key, entry);
    }

    /// Counts out the summary in memory of the file at `key`, or the log in memory of
    /// the folder, which is replaced or removed.
    fn forget_held(&self, key: &str) {
        match self.entries.get(key) {
            Some(Entry::File(old)) => {
                if let Some(summary) = old.summary.get() {
                    self.lets_go(key, summary);
                }
            }
            Some(Entry::Dir(old)) => {
                if let Some(log) = old.log.get() {
                    self.working.count_log(log.len(), false);
                }
            }
            None => {}
        }
    }

    /// Notes that the folder `key` was added, changed or removed, and whether it has a
    /// kind now.
    fn classify(&mut self, key: &str, kinded: bool) {
        match kinded {
            true => self.kinded.insert(key.to_owned()),
            false => self.kinded.remove(key),
        };
        self.folders_generation = next_generation();
    }

    /// A number that changes whenever a folder is added or removed or its settings are
    /// replaced (and never when only files change), unique in the process.
    pub(crate) fn folders_generation(&self) -> u64 {
        self.folders_generation
    }

    /// The folders that have a kind, with their entries, in key order.
    pub(crate) fn collections(&self) -> impl Iterator<Item = (&String, &DirEntry)> + '_ {
        self.kinded.iter().filter_map(|k| Some((k, self.dir(k)?)))
    }

    /// The folders that have a kind at or below `folder`, with their entries, in key
    /// order: one range of the ordered set, the others not looked at.
    pub(crate) fn collections_within<'a>(
        &'a self,
        folder: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a DirEntry)> + 'a {
        // The folder itself, then what lies below it: the keys from `folder/` up to
        // `folder0` (`'0'` follows `'/'`; `folder-x` sorts before `folder/` and is not
        // among them).
        let (below, past) = match folder.is_empty() {
            true => (String::new(), None),
            false => (format!("{folder}/"), Some(format!("{folder}0"))),
        };
        let itself = self.kinded.get(folder).filter(|_| !folder.is_empty());
        let end = match past {
            Some(past) => std::ops::Bound::Excluded(past),
            None => std::ops::Bound::Unbounded,
        };
        itself
            .into_iter()
            .chain(self.kinded.range((std::ops::Bound::Included(below), end)))
            .filter_map(|k| Some((k, self.dir(k)?)))
    }

    /// The keys of the files of folder `dir` whose summary has this UID, in key order
    /// (their summaries are read back first when they are not in memory).
    pub(crate) fn with_uid(&self, dir: &str, uid: &str) -> Vec<String> {
        self.use_folder(dir);
        let has_uid = |k: &String| {
            split(k).map_or("", |(p, _)| p) == dir
                && matches!(self.entries.get(&k[..]), Some(Entry::File(f))
                    if self.summary(k, f).is_some_and(|s| s.uid.as_deref() == Some(uid)))
        };
        // The UID map knows the summaries in memory: with all of the folder's there (and
        // none leaves under the read lock), it has every file of the folder with that UID.
        self.hold_whole(dir);
        let mut keys: Vec<String> = self
            .working
            .uids
            .find(dir, uid)
            .into_iter()
            .filter(has_uid)
            .collect();
        keys.sort();
        keys
    }

    /// Every folder with its entry, in key order.
    pub(crate) fn dirs(&self) -> impl Iterator<Item = (&String, &DirEntry)> + '_ {
        self.dirs.iter().filter_map(|k| Some((k, self.dir(k)?)))
    }

    /// True when the key names a folder.
    pub(crate) fn is_dir(&self, key: &str) -> bool {
        matches!(self.entries.get(key), Some(Entry::Dir(_)))
    }

    /// `key` itself if it is a folder the index knows, else the nearest folder above it
    /// that it knows (the root at worst): where a scan that must find `key` starts.
    pub(crate) fn nearest_folder(&self, key: &str) -> String {
        let mut folder = key;
        while !folder.is_empty() && !self.is_dir(folder) {
            folder = split(folder).map_or("", |(parent, _)| parent);
        }
        folder.to_owned()
    }

    /// The kind of a folder (`calendar`, `addressbook` …), `None` for a plain folder or
    /// none at all.
    pub(crate) fn kind_of(&self, folder: &str) -> Option<&str> {
        self.dir(folder)?.config.kind.as_deref()
    }

    /// A folder's entry.
    pub(crate) fn dir(&self, key: &str) -> Option<&DirEntry> {
        match self.entries.get(key)? {
            Entry::Dir(d) => Some(d),
            Entry::File(_) => None,
        }
    }

    /// The members of a folder with their keys, in name order.
    ///
    /// They are read from the ordered entries, where a folder's members lie side by side
    /// with only its subfolders' contents between them; each subfolder's contents are
    /// one run (keys starting `"sub/"`), skipped with one seek to the first key past it
    /// (`"sub0"`, `'0'` being the character after `'/'`). So no folder keeps a second
    /// list of its members' names.
    pub(crate) fn members<'a>(&'a self, key: &str) -> impl Iterator<Item = (String, &'a Entry)> {
        self.members_after(key, None)
    }

    /// The members of a folder whose keys come after `after` (all when `None`), for
    /// reading a long folder a page at a time.
    pub(crate) fn members_after<'a>(
        &'a self,
        key: &str,
        after: Option<&str>,
    ) -> impl Iterator<Item = (String, &'a Entry)> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let prefix = if key.is_empty() {
            String::new()
        } else {
            format!("{key}/")
        };
        let start = match after {
            Some(after) if after > prefix.as_str() => Excluded(after),
            _ => Included(prefix.as_str()),
        };
        let range = self
            .dir(key)
            .map(|_| self.entries.range::<str, _>((start, Unbounded)));
        Members {
            entries: &self.entries,
            prefix,
            range,
        }
    }
    /// Every entry at or below a key, parents before children.
    pub(crate) fn subtree<'a>(
        &'a self,
        key: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Entry)> + 'a {
        self.entries
            .range(key.to_owned()..)
            .take_while(move |(k, _)| key.is_empty() || k.starts_with(key))
            .filter(move |(k, _)| is_within(k, key))
    }

    /// The bytes of the files at and below a key.
    pub(crate) fn usage(&self, key: &str) -> u64 {
        self.subtree(key)
            .map(|(_, e)| match e {
                Entry::File(f) => f.size,
                Entry::Dir(d) => d.config.size,
            })
            .sum()
    }

    /// Number of entries at and below a key, up to `limit + 1`.
    pub(crate) fn count_within(&self, key: &str, limit: usize) -> usize {
        self.subtree(key).take(limit + 1).count()
    }
}
