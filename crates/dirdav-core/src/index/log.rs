//! What changes the index, and the sync log that records each change (RFC 6578).

use super::*;

impl Index {
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

    fn dir_op(key: &str, d: &DirEntry) -> Op {
        Op::Dir {
            key: key.to_owned(),
            rev: d.rev,
            floor: d.floor,
            born: d.born,
            config_tag: d.config_tag,
        }
    }

    /// Puts back a known folder's settings as read at a warm start, without logging or
    /// persisting anything: its stored tag stays, so a reconcile that finds the file
    /// changed while the server was stopped logs that change.
    pub(crate) fn restore_settings(&mut self, key: &str, config: CollectionConfig, format: Format) {
        let (config, heavy) = held(config);
        if let Some(Entry::Dir(d)) = self.entries.get_mut(key) {
            d.format = format;
        }
        self.place_settings(key, config, heavy, None);
    }

    /// Takes the next sequence number for a change of a view (`key`), whose sync state
    /// `record` makes with that number; the state is persisted with the index's.
    pub(crate) fn record_view(&mut self, key: &str, record: impl FnOnce(u64) -> Vec<u8>) -> u64 {
        self.seq += 1;
        let seq = self.seq;
        self.ops.push(Op::View {
            key: key.to_owned(),
            state: record(seq),
        });
        seq
    }

    /// Records a change of the member `key` in its folder's log (read back from the
    /// store first when it is not in memory).
    fn log(&mut self, key: &str, change: Change) {
        if self.quiet {
            return;
        }
        let Some((parent, name)) = split(key) else {
            return;
        };
        self.hold_log(parent);
        let Some(Entry::Dir(d)) = self.entries.get_mut(parent) else {
            return;
        };
        let Some(log) = d.log.get_mut() else {
            return;
        };
        self.seq += 1;
        let seq = self.seq;
        d.rev = seq;
        log.push_back(LogEntry {
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
        let mut dropped = 0;
        while log.len() > self.log_limit {
            if let Some(old) = log.pop_front() {
                d.floor = old.seq;
                trimmed = Some(old.seq);
                dropped += 1;
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
        self.working.count_log(1, true);
        self.working.count_log(dropped, false);
        self.wrote_in(parent);
        self.let_go(Some(parent));
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
        let wrote = file.summary.get().is_some();
        self.insert(key.to_owned(), Entry::File(file));
        if wrote {
            let folder = split(key).map_or("", |(p, _)| p);
            self.wrote_in(folder);
            self.let_go(Some(folder));
        }
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
                self.place_settings(key, config, heavy, Some(config_tag));
                self.push_dir_op(key);
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
            log: std::sync::OnceLock::from(VecDeque::new()),
            used: Default::default(),
            written: 0,
            whole: Flag(true.into()),
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
        if self.place_settings(key, config, heavy, Some(config_tag)) {
            self.push_dir_op(key);
            if log {
                self.log(key, Change::Dir);
            }
        }
    }

    /// Puts settings, already as the index holds them ([`held`]), in place for the
    /// folder `key`, with a new tag if one is given, and notes whether the folder has a
    /// kind now; false when there is no such folder.
    fn place_settings(
        &mut self,
        key: &str,
        config: CollectionConfig,
        heavy: bool,
        tag: Option<u64>,
    ) -> bool {
        let kinded = config.kind.is_some();
        let Some(Entry::Dir(d)) = self.entries.get_mut(key) else {
            return false;
        };
        d.config = Arc::new(config);
        d.heavy = heavy;
        d.served = std::sync::OnceLock::new();
        if let Some(tag) = tag {
            d.config_tag = tag;
        }
        self.classify(key, kinded);
        true
    }

    /// Queues the folder `key`'s sync state to be persisted.
    fn push_dir_op(&mut self, key: &str) {
        if let Some(Entry::Dir(d)) = self.entries.get(key) {
            let op = Self::dir_op(key, d);
            self.ops.push(op);
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
            self.forget_held(&k);
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
        // Copies carry their summaries in memory: the store has them under the old keys.
        let mut copied: Vec<(String, Entry)> = self
            .subtree(from)
            .map(|(k, e)| {
                let copy = match e {
                    Entry::File(f) if f.summary.is_some() && f.summary.get().is_none() => {
                        Entry::File(FileEntry {
                            summary: Held::new(self.summary(k, f)),
                            ..f.clone()
                        })
                    }
                    _ => e.clone(),
                };
                (format!("{to}{}", &k[from.len()..]), copy)
            })
            .collect();
        if shallow {
            copied.truncate(1);
        }
        self.remove(to);
        for (k, entry) in &mut copied {
            match entry {
                Entry::Dir(d) => d.log = std::sync::OnceLock::from(VecDeque::new()),
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
            let wrote = matches!(&e, Entry::File(f) if f.summary.get().is_some());
            let folder = split(&k).map_or("", |(p, _)| p).to_owned();
            self.insert(k, e);
            if wrote {
                self.wrote_in(&folder);
            }
        }
        self.let_go(Some(to));
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
            // A log the store cannot give back cannot vouch for the token.
            let log = self.log_of(dk, d).ok_or(StaleToken)?;
            for entry in log.iter().filter(|e| e.seq > since) {
                latest.insert(join(dk, &entry.name), (entry.change.clone(), entry.seq));
            }
        }
        let mut out: Vec<(String, Change, u64)> =
            latest.into_iter().map(|(k, (c, s))| (k, c, s)).collect();
        out.sort_by_key(|(_, _, s)| *s);
        Ok(out)
    }
}
