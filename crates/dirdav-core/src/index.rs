//! The in-memory index: every folder and file under the root, with what PROPFIND and
//! the reports need (ETag, size, times, parsed `.dav.toml`), so that they never open a
//! file whose body they do not return.
//!
//! It is built at startup by walking the tree and kept current by the server's own
//! writes. Only the server writes through it; the files stay the truth.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use dirdav_plugin::CollectionConfig;

use crate::dotfile::{DOTFILE, parse_config};
use crate::path::{is_within, join, split};
use crate::storage::{hash_file, times};

/// A file's entry.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FileEntry {
    pub(crate) etag: String,
    pub(crate) size: u64,
    pub(crate) modified: SystemTime,
    pub(crate) created: SystemTime,
}

/// A folder's entry.
#[derive(Clone, Debug)]
pub(crate) struct DirEntry {
    pub(crate) config: Arc<CollectionConfig>,
    pub(crate) members: BTreeSet<String>,
    pub(crate) modified: SystemTime,
    pub(crate) created: SystemTime,
}

/// An entry of the index.
#[derive(Clone, Debug)]
pub(crate) enum Entry {
    Dir(DirEntry),
    File(FileEntry),
}

/// Folders and files by key (`"alice/calendar/x.ics"`, `""` for the root).
#[derive(Debug, Default)]
pub(crate) struct Index {
    entries: BTreeMap<String, Entry>,
}

impl Index {
    /// Walks the tree under `root`, hashing every file. Hidden entries (dotfiles, the
    /// server's temporaries) and symbolic links are left out: a link could lead outside
    /// the root, and serving what it points to is a choice the tree's owner makes by
    /// copying, not by linking.
    pub(crate) fn build(root: &Path) -> std::io::Result<Index> {
        let mut index = Index::default();
        let walker = walkdir::WalkDir::new(root)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(error = %e, "skipping unreadable entry");
                    continue;
                }
            };
            let Ok(rel) = entry.path().strip_prefix(root) else {
                continue;
            };
            let Some(key) = rel
                .to_str()
                .map(|s| s.replace(std::path::MAIN_SEPARATOR, "/"))
            else {
                tracing::warn!(path = %entry.path().display(), "skipping a name that is not UTF-8");
                continue;
            };
            let file_type = entry.file_type();
            if file_type.is_symlink() {
                tracing::debug!(path = %entry.path().display(), "symbolic links are not served");
                continue;
            }
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(path = %entry.path().display(), error = %e, "skipping");
                    continue;
                }
            };
            let (modified, created) = times(&meta);
            if file_type.is_dir() {
                let config = load_config(entry.path());
                index.insert_dir(&key, config, modified, created);
            } else if file_type.is_file() {
                match hash_file(entry.path()) {
                    Ok(etag) => index.insert_file(
                        &key,
                        FileEntry {
                            etag,
                            size: meta.len(),
                            modified,
                            created,
                        },
                    ),
                    Err(e) => {
                        tracing::warn!(path = %entry.path().display(), error = %e, "skipping")
                    }
                }
            }
        }
        Ok(index)
    }

    /// Number of folders and files indexed.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry at a key.
    pub(crate) fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// True when the key names a folder.
    pub(crate) fn is_dir(&self, key: &str) -> bool {
        matches!(self.entries.get(key), Some(Entry::Dir(_)))
    }

    /// A folder's entry.
    pub(crate) fn dir(&self, key: &str) -> Option<&DirEntry> {
        match self.entries.get(key)? {
            Entry::Dir(d) => Some(d),
            Entry::File(_) => None,
        }
    }

    /// The members of a folder with their keys, in name order.
    pub(crate) fn members<'a>(
        &'a self,
        key: &'a str,
    ) -> impl Iterator<Item = (String, &'a Entry)> + 'a {
        self.dir(key).into_iter().flat_map(move |d| {
            d.members.iter().filter_map(move |name| {
                let k = join(key, name);
                let e = self.entries.get(&k)?;
                Some((k, e))
            })
        })
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

    fn link(&mut self, key: &str) {
        if let Some((parent, name)) = split(key)
            && let Some(Entry::Dir(d)) = self.entries.get_mut(parent)
        {
            d.members.insert(name.to_owned());
        }
    }

    /// Adds or replaces a file.
    pub(crate) fn insert_file(&mut self, key: &str, file: FileEntry) {
        self.entries.insert(key.to_owned(), Entry::File(file));
        self.link(key);
    }

    /// Adds a folder (keeping its members if it exists).
    pub(crate) fn insert_dir(
        &mut self,
        key: &str,
        config: CollectionConfig,
        modified: SystemTime,
        created: SystemTime,
    ) {
        let members = self.dir(key).map(|d| d.members.clone()).unwrap_or_default();
        let dir = DirEntry {
            config: Arc::new(config),
            members,
            modified,
            created,
        };
        self.entries.insert(key.to_owned(), Entry::Dir(dir));
        self.link(key);
    }

    /// Replaces a folder's parsed settings.
    pub(crate) fn set_config(&mut self, key: &str, config: CollectionConfig) {
        if let Some(Entry::Dir(d)) = self.entries.get_mut(key) {
            d.config = Arc::new(config);
        }
    }

    /// Removes an entry and everything below it.
    pub(crate) fn remove(&mut self, key: &str) {
        let doomed: Vec<String> = self.subtree(key).map(|(k, _)| k.clone()).collect();
        for k in doomed {
            self.entries.remove(&k);
        }
        if let Some((parent, name)) = split(key)
            && let Some(Entry::Dir(d)) = self.entries.get_mut(parent)
        {
            d.members.remove(name);
        }
    }

    /// Copies the entries at and below `from` to `to` (after the same copy on disk).
    /// With `shallow`, only the folder itself, without members.
    pub(crate) fn copy(&mut self, from: &str, to: &str, shallow: bool) {
        let mut copied: Vec<(String, Entry)> = self
            .subtree(from)
            .map(|(k, e)| (format!("{to}{}", &k[from.len()..]), e.clone()))
            .collect();
        if shallow {
            copied.truncate(1);
            if let Some((_, Entry::Dir(d))) = copied.first_mut() {
                d.members.clear();
            }
        }
        self.remove(to);
        for (k, e) in copied {
            self.entries.insert(k.clone(), e);
            self.link(&k);
        }
    }

    /// Moves the entries at and below `from` to `to`.
    pub(crate) fn rename(&mut self, from: &str, to: &str) {
        self.copy(from, to, false);
        self.remove(from);
    }

    /// Number of entries at and below a key, up to `limit + 1`.
    pub(crate) fn count_within(&self, key: &str, limit: usize) -> usize {
        self.subtree(key).take(limit + 1).count()
    }
}

/// Reads a folder's `.dav.toml`; a missing file is an empty config, a broken one is
/// logged and served as an empty config.
pub(crate) fn load_config(dir: &Path) -> CollectionConfig {
    let path = dir.join(DOTFILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_config(&text).unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), error = %e, "malformed .dav.toml: serving the folder as a plain collection");
            CollectionConfig::default()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => CollectionConfig::default(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "unreadable .dav.toml");
            CollectionConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("alice/calendar")).unwrap();
        fs::write(
            root.join("alice/calendar/.dav.toml"),
            "kind = \"calendar\"\n",
        )
        .unwrap();
        fs::write(
            root.join("alice/calendar/a.ics"),
            "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        )
        .unwrap();
        fs::write(root.join("alice/calendar/.dirdav-tmp-1-1"), "half").unwrap();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::write(root.join(".git/HEAD"), "ref").unwrap();
        fs::write(root.join("notes.txt"), "hi").unwrap();
        dir
    }

    #[test]
    fn build_indexes_visible_entries_only() {
        let dir = tree();
        let index = Index::build(dir.path()).unwrap();
        let keys: Vec<&String> = index.subtree("").map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "",
                "alice",
                "alice/calendar",
                "alice/calendar/a.ics",
                "notes.txt"
            ]
        );
        let cal = index.dir("alice/calendar").unwrap();
        assert_eq!(cal.config.kind.as_deref(), Some("calendar"));
        assert_eq!(cal.members.iter().collect::<Vec<_>>(), ["a.ics"]);
        let Some(Entry::File(f)) = index.get("notes.txt") else {
            panic!("notes.txt missing")
        };
        assert_eq!(f.size, 2);
        assert_eq!(f.etag, hash_file(&dir.path().join("notes.txt")).unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_not_indexed() {
        let dir = tree();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("dirlink")).unwrap();
        let index = Index::build(dir.path()).unwrap();
        assert!(index.get("link").is_none());
        assert!(index.get("dirlink").is_none());
    }

    #[test]
    fn copy_rename_and_remove_keep_members_consistent() {
        let dir = tree();
        let mut index = Index::build(dir.path()).unwrap();
        index.copy("alice", "bob", false);
        assert!(index.get("bob/calendar/a.ics").is_some());
        assert!(index.dir("").unwrap().members.contains("bob"));
        index.rename("bob", "carol");
        assert!(index.get("bob").is_none());
        assert!(!index.dir("").unwrap().members.contains("bob"));
        assert!(index.get("carol/calendar/a.ics").is_some());
        index.remove("carol");
        assert_eq!(index.count_within("", 100), 5);
        index.copy("alice", "shallow", true);
        assert_eq!(index.count_within("shallow", 100), 1);
        assert!(index.dir("shallow").unwrap().members.is_empty());
    }
}
