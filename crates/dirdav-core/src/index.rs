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

use dirdav_plugin::{CollectionConfig, Configs, Resource, Summary};

use crate::compat::Format;
use crate::path::{is_within, join, split};
use crate::state::{Loaded, Op};

/// A file's entry.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FileEntry {
    pub(crate) etag: String,
    pub(crate) size: u64,
    pub(crate) modified: SystemTime,
    pub(crate) created: SystemTime,
    /// The plugin's summary, for items of a kind that has a summarizer.
    pub(crate) summary: Option<Arc<Summary>>,
}

/// What happened to a member, as the sync log records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// A file was created or changed (a sync answer takes its ETag from the index).
    File,
    /// A folder was created or its settings changed.
    Dir,
    /// The member is gone; `true` when it was a folder.
    Deleted(bool),
}

/// One entry of a folder's sync log.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LogEntry {
    pub(crate) seq: u64,
    pub(crate) name: Box<str>,
    pub(crate) change: Change,
}

/// A folder's entry.
#[derive(Clone, Debug)]
pub(crate) struct DirEntry {
    /// The folder's settings; without their dead properties when the settings file is
    /// larger than [`INLINE_SETTINGS`] (`heavy`): those are read back when asked.
    pub(crate) config: Arc<CollectionConfig>,
    /// The settings file is large: `config` holds no dead properties.
    pub(crate) heavy: bool,
    /// For a large settings file, `config` with the loader of its dead properties,
    /// made at the first resource built for the folder.
    pub(crate) served: std::sync::OnceLock<Arc<CollectionConfig>>,
    /// Identifies the `.dav.toml` content the config was parsed from (0: none).
    pub(crate) config_tag: u64,
    /// Where the settings are kept (`.dav.toml`, Radicale's, a vdir's).
    pub(crate) format: Format,
    pub(crate) modified: SystemTime,
    pub(crate) created: SystemTime,
    pub(crate) rev: u64,
    pub(crate) floor: u64,
    pub(crate) born: u64,
    pub(crate) log: VecDeque<LogEntry>,
}

/// The largest settings file whose dead properties the index keeps in memory; larger
/// ones are read back through [`crate::deadcache`] when a resource is built.
pub(crate) const INLINE_SETTINGS: u64 = 8 * 1024;

/// Settings as the index holds them: whole when small, else without dead properties
/// (the `props` and `files` tables, parsed and as TOML); and whether they were large.
fn held(config: CollectionConfig) -> (CollectionConfig, bool) {
    if config.size <= INLINE_SETTINGS || (config.props.is_empty() && config.files.is_empty()) {
        return (config, false);
    }
    let mut document = config.document;
    document.remove("props");
    document.remove("files");
    let light = CollectionConfig {
        document,
        props: Default::default(),
        files: Default::default(),
        ..config
    };
    (light, true)
}

/// An entry of the index.
#[derive(Clone, Debug)]
pub(crate) enum Entry {
    Dir(Box<DirEntry>),
    File(FileEntry),
}

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

/// The files of one (folder, UID) slot of [`Index::uids`]: almost always one.
#[derive(Debug)]
enum UidKeys {
    One(Box<str>),
    Many(Vec<Box<str>>),
}

impl UidKeys {
    fn as_slice(&self) -> &[Box<str>] {
        match self {
            UidKeys::One(key) => std::slice::from_ref(key),
            UidKeys::Many(keys) => keys,
        }
    }

    fn add(&mut self, key: &str) {
        if self.as_slice().iter().any(|k| **k == *key) {
            return;
        }
        match self {
            UidKeys::One(first) => {
                let first = std::mem::take(first);
                *self = UidKeys::Many(vec![first, key.into()]);
            }
            UidKeys::Many(keys) => keys.push(key.into()),
        }
    }

    /// Removes `key`; true when none is left.
    fn remove(&mut self, key: &str) -> bool {
        match self {
            UidKeys::One(k) => **k == *key,
            UidKeys::Many(keys) => {
                keys.retain(|k| **k != *key);
                keys.is_empty()
            }
        }
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
    /// (folder, UID) → the keys of its files with that UID, from their summaries: the
    /// `no-uid-conflict` check of every PUT without a pass over the folder.
    /// Keyed by a hash of the pair (see [`Index::uid_slot`]) rather than the pair itself,
    /// so an item costs one small allocation here; [`Index::with_uid`] checks each
    /// key's summary, so a collision of hashes costs a comparison, never a wrong answer.
    uids: HashMap<u64, UidKeys>,
    /// Keys the hashes of `uids`, random per run.
    uid_hasher: std::hash::RandomState,
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
            uids: HashMap::new(),
            uid_hasher: std::hash::RandomState::new(),
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
                log: VecDeque::new(),
            };
            index.insert(key, Entry::Dir(Box::new(dir)));
        }
        for (key, file) in loaded.files {
            index.insert(key, Entry::File(file));
        }
        for (dir, seq, name, change) in loaded.logs {
            if let Some(Entry::Dir(d)) = index.entries.get_mut(&dir) {
                d.log.push_back(LogEntry {
                    seq,
                    name: name.into_boxed_str(),
                    change,
                });
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
        self.unmap_uid(&key);
        if let Entry::File(f) = &entry
            && let Some(uid) = f.summary.as_ref().and_then(|s| s.uid.as_deref())
        {
            let slot = self.uid_slot(split(&key).map_or("", |(p, _)| p), uid);
            self.uids
                .entry(slot)
                .and_modify(|keys| keys.add(&key))
                .or_insert_with(|| UidKeys::One(key.as_str().into()));
        }
        self.entries.insert(key, entry);
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

    /// The slot of a (folder, UID) pair in `uids`.
    fn uid_slot(&self, dir: &str, uid: &str) -> u64 {
        use std::hash::BuildHasher;
        self.uid_hasher.hash_one((dir, uid))
    }

    /// Forgets the UID of the file at `key`, if it had one.
    fn unmap_uid(&mut self, key: &str) {
        let slot = match self.entries.get(key) {
            Some(Entry::File(old)) => old
                .summary
                .as_ref()
                .and_then(|s| s.uid.as_deref())
                .map(|uid| self.uid_slot(split(key).map_or("", |(p, _)| p), uid)),
            _ => None,
        };
        if let Some(slot) = slot
            && let Some(keys) = self.uids.get_mut(&slot)
            && keys.remove(key)
        {
            self.uids.remove(&slot);
        }
    }

    /// The keys of the files of folder `dir` whose summary has this UID.
    pub(crate) fn with_uid(&self, dir: &str, uid: &str) -> Vec<String> {
        let Some(keys) = self.uids.get(&self.uid_slot(dir, uid)) else {
            return Vec::new();
        };
        let mut keys: Vec<String> = keys
            .as_slice()
            .iter()
            .filter(|k| {
                split(k).map_or("", |(p, _)| p) == dir
                    && matches!(self.entries.get(&k[..]), Some(Entry::File(f))
                        if f.summary.as_ref().and_then(|s| s.uid.as_deref()) == Some(uid))
            })
            .map(|k| k.to_string())
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

    /// What a sync from scratch sends, a page at a time: the folder's members (with
    /// `infinite`, everything below it) whose keys come after `after`, in key order, at
    /// most `take` of them. A range scan from `after`, so a page costs its own length.
    pub(crate) fn listed_after(
        &self,
        key: &str,
        after: Option<&str>,
        infinite: bool,
        take: usize,
    ) -> Result<Vec<(String, Change, u64)>, StaleToken> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        self.dir(key).ok_or(StaleToken)?;
        if !infinite {
            return Ok(self
                .members_after(key, after)
                .take(take)
                .map(|(k, e)| (k, change_of(e), 0))
                .collect());
        }
        let start = match after {
            Some(after) if after > key => Excluded(after),
            _ => Included(key),
        };
        Ok(self
            .entries
            .range::<str, _>((start, Unbounded))
            .take_while(|(k, _)| key.is_empty() || k.starts_with(key))
            .filter(|(k, _)| k.as_str() != key && is_within(k, key))
            .take(take)
            .map(|(k, e)| (k.clone(), change_of(e), 0))
            .collect())
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

    fn dir_op(key: &str, d: &DirEntry) -> Op {
        Op::Dir {
            key: key.to_owned(),
            rev: d.rev,
            floor: d.floor,
            born: d.born,
            config_tag: d.config_tag,
        }
    }

    /// Records a change of the member `key` in its folder's log.
    fn log(&mut self, key: &str, change: Change) {
        if self.quiet {
            return;
        }
        let Some((parent, name)) = split(key) else {
            return;
        };
        let Some(Entry::Dir(d)) = self.entries.get_mut(parent) else {
            return;
        };
        self.seq += 1;
        let seq = self.seq;
        d.rev = seq;
        d.log.push_back(LogEntry {
            seq,
            name: name.into(),
            change: change.clone(),
        });
        self.ops.push(Op::Log {
            dir: parent.to_owned(),
            seq,
            name: name.to_owned(),
            change,
        });
        let mut trimmed = None;
        while d.log.len() > self.log_limit {
            if let Some(old) = d.log.pop_front() {
                d.floor = old.seq;
                trimmed = Some(old.seq);
            }
        }
        if let Some(upto) = trimmed {
            self.ops.push(Op::Trim {
                dir: parent.to_owned(),
                upto,
            });
        }
        let op = Self::dir_op(parent, d);
        self.ops.push(op);
    }

    /// Adds or replaces a file; logs it when it is new or its bytes changed.
    pub(crate) fn put_file(&mut self, key: &str, file: FileEntry) {
        let changed = match self.entries.get(key) {
            Some(Entry::File(old)) => old.etag != file.etag,
            Some(Entry::Dir(_)) => {
                self.remove(key);
                true
            }
            None => true,
        };
        self.ops.push(Op::File(key.to_owned(), file.clone()));
        self.insert(key.to_owned(), Entry::File(file));
        if changed {
            self.log(key, Change::File);
        }
    }

    /// Adds a folder, or updates an existing one's settings and times; logs it when it
    /// is new or its settings changed.
    pub(crate) fn put_dir(
        &mut self,
        key: &str,
        config: CollectionConfig,
        config_tag: u64,
        format: Format,
        modified: SystemTime,
        created: SystemTime,
    ) {
        let (config, heavy) = held(config);
        if let Some(Entry::Dir(d)) = self.entries.get_mut(key) {
            d.modified = modified;
            d.created = created;
            d.format = format;
            if d.config_tag != config_tag || d.config.as_ref() != &config {
                let changed = d.config_tag != config_tag;
                let kinded = config.kind.is_some();
                d.config = Arc::new(config);
                d.heavy = heavy;
                d.served = std::sync::OnceLock::new();
                d.config_tag = config_tag;
                let op = Self::dir_op(key, d);
                self.ops.push(op);
                self.classify(key, kinded);
                if changed {
                    self.log(key, Change::Dir);
                }
            }
            return;
        }
        if self.entries.contains_key(key) {
            self.remove(key);
        }
        let dir = DirEntry {
            config: Arc::new(config),
            heavy,
            served: std::sync::OnceLock::new(),
            config_tag,
            format,
            modified,
            created,
            rev: 0,
            floor: 0,
            born: 0,
            log: VecDeque::new(),
        };
        self.insert(key.to_owned(), Entry::Dir(Box::new(dir)));
        self.log(key, Change::Dir);
        self.mark_born(key);
    }

    /// A new folder's history starts now: tokens from before this point never
    /// described it.
    fn mark_born(&mut self, key: &str) {
        let seq = self.seq;
        if let Some(Entry::Dir(d)) = self.entries.get_mut(key) {
            (d.rev, d.floor, d.born) = (seq, seq, seq);
            let op = Self::dir_op(key, d);
            self.ops.push(op);
        }
    }

    /// Replaces a folder's settings after the server edited its `.dav.toml`; with
    /// `log`, sync clients of its parent see the folder as changed.
    pub(crate) fn set_config(
        &mut self,
        key: &str,
        config: CollectionConfig,
        config_tag: u64,
        log: bool,
    ) {
        let (config, heavy) = held(config);
        if let Some(Entry::Dir(d)) = self.entries.get_mut(key) {
            let kinded = config.kind.is_some();
            d.config = Arc::new(config);
            d.heavy = heavy;
            d.served = std::sync::OnceLock::new();
            d.config_tag = config_tag;
            let op = Self::dir_op(key, d);
            self.ops.push(op);
            self.classify(key, kinded);
            if log {
                self.log(key, Change::Dir);
            }
        }
    }

    /// Logs a change of a file's properties (its bytes are unchanged).
    pub(crate) fn touch(&mut self, key: &str) {
        if let Some(Entry::File(_)) = self.entries.get(key) {
            self.log(key, Change::File);
        }
    }

    /// Removes an entry and everything below it; logs the removal in its folder.
    pub(crate) fn remove(&mut self, key: &str) {
        let doomed: Vec<String> = self.subtree(key).map(|(k, _)| k.clone()).collect();
        if doomed.is_empty() {
            return;
        }
        let was_dir = self.is_dir(key);
        if let Some(d) = self.dir(key) {
            let config = d.config.clone();
            if self.graves.insert(key.to_owned(), config).is_none() {
                self.grave_order.push_back(key.to_owned());
            }
            while self.grave_order.len() > GRAVES {
                if let Some(old) = self.grave_order.pop_front() {
                    self.graves.remove(&old);
                }
            }
        }
        for k in doomed {
            self.unmap_uid(&k);
            self.entries.remove(&k);
            if self.dirs.remove(&k) {
                self.classify(&k, false);
            }
            self.ops.push(Op::Remove(k));
        }
        self.log(key, Change::Deleted(was_dir));
    }

    /// Copies the entries at and below `from` to `to` (after the same copy on disk).
    /// Folders below `to` are new collections with their own, empty logs. With
    /// `shallow`, only the folder itself, without members.
    pub(crate) fn copy(&mut self, from: &str, to: &str, shallow: bool) {
        let mut copied: Vec<(String, Entry)> = self
            .subtree(from)
            .map(|(k, e)| (format!("{to}{}", &k[from.len()..]), e.clone()))
            .collect();
        if shallow {
            copied.truncate(1);
        }
        self.remove(to);
        for (k, entry) in &mut copied {
            match entry {
                Entry::Dir(d) => d.log.clear(),
                Entry::File(f) => self.ops.push(Op::File(k.clone(), f.clone())),
            }
        }
        let top = copied.first().map(|(_, e)| match e {
            Entry::Dir(_) => Change::Dir,
            Entry::File(_) => Change::File,
        });
        let dirs: Vec<String> = copied
            .iter()
            .filter(|(_, e)| matches!(e, Entry::Dir(_)))
            .map(|(k, _)| k.clone())
            .collect();
        for (k, e) in copied {
            self.insert(k, e);
        }
        if let Some(change) = top {
            self.log(to, change);
        }
        for d in dirs {
            self.mark_born(&d);
        }
    }

    /// Moves the entries at and below `from` to `to`.
    pub(crate) fn rename(&mut self, from: &str, to: &str) {
        self.copy(from, to, false);
        self.remove(from);
    }

    /// The members of a folder (or, with `infinite`, of its whole subtree) that changed
    /// after sequence number `since`, with the sequence number of their last change;
    /// `None` for `since` lists every member. Sorted by sequence number.
    pub(crate) fn changes(
        &self,
        key: &str,
        since: Option<u64>,
        infinite: bool,
    ) -> Result<Vec<(String, Change, u64)>, StaleToken> {
        let top = self.dir(key).ok_or(StaleToken)?;
        let Some(since) = since else {
            let all: Vec<(String, Change, u64)> = if infinite {
                self.subtree(key)
                    .filter(|(k, _)| k.as_str() != key)
                    .map(|(k, e)| (k.clone(), change_of(e), 0))
                    .collect()
            } else {
                self.members(key)
                    .map(|(k, e)| (k, change_of(e), 0))
                    .collect()
            };
            return Ok(all);
        };
        if since > self.seq || since < top.floor || since < top.born {
            return Err(StaleToken);
        }
        let mut latest: BTreeMap<String, (Change, u64)> = BTreeMap::new();
        let dirs: Vec<(&str, &DirEntry)> = if infinite {
            self.subtree(key)
                .filter_map(|(k, e)| match e {
                    Entry::Dir(d) => Some((k.as_str(), &**d)),
                    Entry::File(_) => None,
                })
                .collect()
        } else {
            vec![(key, top)]
        };
        for (dk, d) in dirs {
            if d.born > since && dk != key {
                // Born after the token: everything in it is new to the client.
                for (k, e) in self.members(dk) {
                    latest.insert(k, (change_of(e), d.born));
                }
                continue;
            }
            if since < d.floor {
                return Err(StaleToken);
            }
            for entry in d.log.iter().filter(|e| e.seq > since) {
                latest.insert(join(dk, &entry.name), (entry.change.clone(), entry.seq));
            }
        }
        let mut out: Vec<(String, Change, u64)> =
            latest.into_iter().map(|(k, (c, s))| (k, c, s)).collect();
        out.sort_by_key(|(_, _, s)| *s);
        Ok(out)
    }
}

fn change_of(entry: &Entry) -> Change {
    match entry {
        Entry::Dir(_) => Change::Dir,
        Entry::File(_) => Change::File,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(etag: &str) -> FileEntry {
        FileEntry {
            etag: etag.to_owned(),
            size: 1,
            modified: SystemTime::UNIX_EPOCH,
            created: SystemTime::UNIX_EPOCH,
            summary: None,
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
            summary: Some(Arc::new(Summary {
                uid: Some(uid.to_owned()),
                ..Summary::default()
            })),
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
        assert!(index.dir("alice/calendar").unwrap().log.is_empty());
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
        assert_eq!(d.log.len(), 3);
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
        assert!(index.dir("bob/calendar").unwrap().log.is_empty());
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
}
