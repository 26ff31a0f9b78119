//! Bringing the index in line with the tree: at startup, after edits made outside the
//! server (a `git pull`, Syncthing, an editor), and on request where no watcher runs.
//!
//! A scan reads the file system without holding the index; only files whose size or
//! modification time differ from the index are hashed; the result is then applied in
//! one step, which logs every difference for sync clients.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use std::sync::Arc;

use dirdav_plugin::{CollectionConfig, Registry, Summarizer, Summary};

use crate::compat::{Format, RADICALE_PROPS, is_vdir_meta, radicale_config, vdir_config};
use crate::dotfile::{DOTFILE, parse_config};
use crate::index::{Entry, FileEntry, Index};
use crate::path::{is_ignored, join};
use crate::storage::{TEMP_PREFIX, etag_of, hash_file, times};

/// A folder as found on disk.
#[derive(Debug)]
pub(crate) struct ScannedDir {
    pub(crate) key: String,
    pub(crate) config: CollectionConfig,
    pub(crate) config_tag: u64,
    pub(crate) format: Format,
    pub(crate) modified: SystemTime,
    pub(crate) created: SystemTime,
}

/// A file as found on disk.
#[derive(Debug)]
pub(crate) struct ScannedFile {
    pub(crate) key: String,
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    pub(crate) modified: SystemTime,
    pub(crate) created: SystemTime,
}

/// What a scan of one folder (or subtree) found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub(crate) dirs: Vec<ScannedDir>,
    pub(crate) files: Vec<ScannedFile>,
    /// Folders whose members were all listed: index members not found are gone.
    pub(crate) listed: Vec<String>,
    /// The scanned folder itself is gone.
    pub(crate) missing: Option<String>,
    /// The server's own temporary files found on the way (see
    /// [`remove_stale_temporaries`](crate::storage::remove_stale_temporaries)).
    pub(crate) temporaries: Vec<PathBuf>,
}

/// Identifies the bytes of a `.dav.toml` (never 0, which stands for "no file").
pub(crate) fn config_tag(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(
        blake3::hash(bytes).as_bytes()[..8]
            .try_into()
            .unwrap_or_default(),
    ) | 1
}

/// Whether a malformed settings file is reported for the first time: a folder's file is
/// read again on every change the watcher sees (an editor's save is several), and the
/// same bytes need saying once. Bounded: past 10,000 files remembered, it starts afresh.
fn first_report(dir: &Path, tag: u64) -> bool {
    static REPORTED: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashSet<(PathBuf, u64)>>,
    > = std::sync::LazyLock::new(Default::default);
    let mut reported = REPORTED.lock().unwrap_or_else(|e| e.into_inner());
    if reported.len() >= 10_000 {
        reported.clear();
    }
    reported.insert((dir.to_owned(), tag))
}

/// Reads a folder's settings: from `.dav.toml`, else from Radicale's `.Radicale.props`,
/// else from vdir metadata files when the folder is a vdir. Returns them with a tag
/// identifying the bytes they came from (0: none) and the format to write back in. A
/// malformed file is logged and the folder served as a plain collection.
pub(crate) fn read_config(dir: &Path) -> (CollectionConfig, u64, Format) {
    let read = |name: &str| match std::fs::read(dir.join(name)) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::warn!(path = %dir.join(name).display(), error = %e, "unreadable settings");
            None
        }
    };
    let parsed = |bytes: &[u8], format: Format| {
        let config = match format {
            Format::Radicale => radicale_config(bytes),
            _ => std::str::from_utf8(bytes)
                .map_err(|e| e.to_string())
                .and_then(|text| parse_config(text).map_err(|e| e.to_string())),
        };
        let config = config.unwrap_or_else(|e| {
            if first_report(dir, config_tag(bytes)) {
                tracing::error!(path = %dir.display(), error = %e.replace('\n', " "), "malformed settings: serving the folder as a plain collection, closed to access rules");
            }
            CollectionConfig {
                error: Some(e),
                ..CollectionConfig::default()
            }
        });
        let config = CollectionConfig {
            size: bytes.len() as u64,
            ..config
        };
        (config, config_tag(bytes), format)
    };
    if let Some(bytes) = read(DOTFILE) {
        return parsed(&bytes, Format::DavToml);
    }
    if let Some(bytes) = read(RADICALE_PROPS) {
        return parsed(&bytes, Format::Radicale);
    }
    if let Some((config, meta)) = vdir_config(dir) {
        let mut tagged = b"vdir".to_vec();
        tagged.extend_from_slice(&meta);
        return (config, config_tag(&tagged), Format::Vdir);
    }
    (CollectionConfig::default(), 0, Format::DavToml)
}

/// Logs each plugin table of the scanned folders' `.dav.toml` files that does not fit
/// the type its plugin reads it as ([`Registrar::settings`](dirdav_plugin::Registrar::settings)),
/// with the file's path, once per version of the file. The folder is served; the plugin
/// gets the reason from [`CollectionConfig::settings`].
pub(crate) fn check_tables(scan: &Scan, root: &Path, registry: &Registry) {
    if registry.tables.is_empty() {
        return;
    }
    for dir in &scan.dirs {
        if dir.format != Format::DavToml || dir.config_tag == 0 || dir.config.error.is_some() {
            continue;
        }
        for (table, check) in &registry.tables {
            let Some(value) = dir.config.document.get(table) else {
                continue;
            };
            let Err(e) = (check.item)(value) else {
                continue;
            };
            let mut file = root.to_path_buf();
            file.extend(dir.key.split('/').filter(|s| !s.is_empty()));
            file.push(DOTFILE);
            if first_report(&file.join(table), dir.config_tag) {
                tracing::error!(
                    path = %file.display(),
                    plugin = check.plugin,
                    error = %e.replace('\n', " "),
                    "a plugin's table in a settings file does not fit what the plugin reads"
                );
            }
        }
    }
}

fn scanned_dir(key: &str, path: &Path, meta: &std::fs::Metadata) -> ScannedDir {
    let (modified, created) = times(meta);
    let (config, config_tag, format) = read_config(path);
    ScannedDir {
        key: key.to_owned(),
        config,
        config_tag,
        format,
        modified,
        created,
    }
}

/// Scans the folder `key` below `root`: its direct members, or with `recursive` its
/// whole subtree. Symbolic links and ignored names are left out.
pub(crate) fn scan(root: &Path, key: &str, recursive: bool) -> Scan {
    let mut scan = Scan::default();
    let mut base = root.to_path_buf();
    base.extend(key.split('/').filter(|s| !s.is_empty()));
    let meta = match std::fs::symlink_metadata(&base) {
        Ok(m) if m.is_dir() => m,
        _ => {
            scan.missing = Some(key.to_owned());
            return scan;
        }
    };
    scan.dirs.push(scanned_dir(key, &base, &meta));
    scan.listed.push(key.to_owned());
    let mut temporaries = Vec::new();
    let walker = walkdir::WalkDir::new(&base)
        .min_depth(1)
        .max_depth(if recursive { usize::MAX } else { 1 })
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            if name.starts_with(TEMP_PREFIX) {
                temporaries.push(e.path().to_path_buf());
            }
            !is_ignored(&name)
        });
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "skipping unreadable entry");
                continue;
            }
        };
        let Ok(rel) = entry.path().strip_prefix(&base) else {
            continue;
        };
        let Some(rel) = rel
            .to_str()
            .map(|s| s.replace(std::path::MAIN_SEPARATOR, "/"))
        else {
            tracing::warn!(path = %entry.path().display(), "skipping a name that is not UTF-8");
            continue;
        };
        let child = join(key, &rel);
        let file_type = entry.file_type();
        if file_type.is_symlink() {
            tracing::debug!(path = %entry.path().display(), "symbolic links are not served");
            continue;
        }
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if file_type.is_dir() {
            scan.dirs.push(scanned_dir(&child, entry.path(), &meta));
            if recursive {
                scan.listed.push(child);
            }
        } else if file_type.is_file() {
            let (modified, created) = times(&meta);
            scan.files.push(ScannedFile {
                key: child,
                path: entry.path().to_path_buf(),
                size: meta.len(),
                modified,
                created,
            });
        }
    }
    scan.temporaries = temporaries;
    // A vdir's metadata files are its settings, not members.
    let vdirs: BTreeSet<String> = scan
        .dirs
        .iter()
        .filter(|d| d.format == Format::Vdir)
        .map(|d| d.key.clone())
        .collect();
    if !vdirs.is_empty() {
        scan.files.retain(|f| match crate::path::split(&f.key) {
            Some((parent, name)) => !(is_vdir_meta(name) && vdirs.contains(parent)),
            None => true,
        });
    }
    scan
}

impl Scan {
    /// The files to read: those whose size or modification time differ from the index,
    /// and items that lack the summary their collection's kind calls for. Each comes
    /// with the summarizer to run on its bytes.
    pub(crate) fn to_read(&self, index: &Index, registry: &Registry) -> Vec<ToRead> {
        let kind_of = |folder: &str| -> Option<String> {
            match self.dirs.iter().find(|d| d.key == folder) {
                Some(d) => d.config.kind.clone(),
                None => index.dir(folder)?.config.kind.clone(),
            }
        };
        self.files
            .iter()
            .filter_map(|f| {
                let parent = crate::path::split(&f.key).map_or("", |(p, _)| p);
                let summarizer = registry.summarizer(kind_of(parent).as_deref()).cloned();
                let stale = match index.get(&f.key) {
                    Some(Entry::File(e)) => {
                        e.size != f.size
                            || e.modified != f.modified
                            || (summarizer.is_some() && !e.summary.is_some())
                    }
                    _ => true,
                };
                stale.then(|| ToRead {
                    key: f.key.clone(),
                    path: f.path.clone(),
                    summarizer,
                })
            })
            .collect()
    }

    /// Sub-folders the index does not know: their contents must be scanned in full.
    pub(crate) fn new_dirs(&self, index: &Index) -> Vec<String> {
        self.dirs
            .iter()
            .filter(|d| !self.listed.contains(&d.key) && !index.is_dir(&d.key))
            .map(|d| d.key.clone())
            .collect()
    }

    /// Applies the scan to the index, logging every difference.
    pub(crate) fn apply(self, index: &mut Index, reads: &HashMap<String, Read>) {
        if let Some(key) = &self.missing {
            index.remove(key);
            return;
        }
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for d in &self.dirs {
            seen.insert(&d.key);
            index.put_dir(
                &d.key,
                d.config.clone(),
                d.config_tag,
                d.format,
                d.modified,
                d.created,
            );
        }
        for f in &self.files {
            seen.insert(&f.key);
            // Files not read are unchanged, or vanished meanwhile (the next event
            // catches those).
            let Some(read) = reads.get(&f.key) else {
                continue;
            };
            index.put_file(
                &f.key,
                FileEntry {
                    etag: read.etag.as_str().into(),
                    size: f.size,
                    modified: f.modified,
                    created: f.created,
                    summary: crate::index::Held::new(read.summary.clone()),
                },
            );
        }
        for listed in &self.listed {
            let gone: Vec<String> = index
                .members(listed)
                .map(|(k, _)| k)
                .filter(|k| !seen.contains(k.as_str()))
                .collect();
            for k in gone {
                index.remove(&k);
            }
        }
    }
}

/// A file to read during reconciliation.
pub(crate) struct ToRead {
    key: String,
    path: PathBuf,
    summarizer: Option<Summarizer>,
}

impl std::fmt::Debug for ToRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToRead")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// What reading a file gave.
#[derive(Debug, Clone)]
pub(crate) struct Read {
    pub(crate) etag: String,
    pub(crate) summary: Option<Arc<Summary>>,
}

/// Reads files once each: hashed, and summarized where a summarizer applies. Those
/// that vanished meanwhile are left out.
pub(crate) fn read_all(files: Vec<ToRead>) -> HashMap<String, Read> {
    files
        .into_iter()
        .filter_map(|f| {
            let read = match &f.summarizer {
                None => Read {
                    etag: hash_file(&f.path).ok()?,
                    summary: None,
                },
                Some(summarize) => {
                    let bytes = std::fs::read(&f.path).ok()?;
                    // A summarizer that fails on one file must not stop the start-up:
                    // the file is kept as an item without a summary, read whenever
                    // a query needs it.
                    let summary = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        summarize(&bytes)
                    }))
                    .unwrap_or_else(|_| {
                        tracing::error!(
                            path = %f.path.display(),
                            "the file could not be summarized; it is served as it is"
                        );
                        Summary::default()
                    });
                    Read {
                        etag: etag_of(&blake3::hash(&bytes)),
                        summary: Some(Arc::new(summary)),
                    }
                }
            };
            Some((f.key, read))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn reconcile(root: &Path, index: &mut Index, key: &str, recursive: bool) {
        let scan = scan(root, key, recursive);
        let hashes = read_all(scan.to_read(index, &Registry::default()));
        let new_dirs = scan.new_dirs(index);
        scan.apply(index, &hashes);
        for d in new_dirs {
            reconcile(root, index, &d, true);
        }
    }

    #[test]
    fn finds_additions_changes_and_removals() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("cal")).unwrap();
        fs::write(root.join("cal/.dav.toml"), "kind = \"calendar\"\n").unwrap();
        fs::write(root.join("cal/a.ics"), "A").unwrap();
        fs::write(root.join("cal/b.ics"), "B").unwrap();
        fs::write(root.join("cal/.b.ics.swp"), "vim").unwrap();
        let mut index = Index::new(0, 100);
        index.set_quiet(true);
        reconcile(root, &mut index, "", true);
        index.set_quiet(false);
        assert_eq!(
            index.dir("cal").unwrap().config.kind.as_deref(),
            Some("calendar")
        );
        assert_eq!(index.count_within("", 100), 4);
        let token = index.seq();

        fs::write(root.join("cal/a.ics"), "A changed, longer").unwrap();
        fs::remove_file(root.join("cal/b.ics")).unwrap();
        fs::write(root.join("cal/c.ics"), "C").unwrap();
        fs::write(root.join("cal/d.ics.tmp"), "half").unwrap();
        fs::create_dir_all(root.join("cal/sub/deeper")).unwrap();
        fs::write(root.join("cal/sub/deeper/e.ics"), "E").unwrap();
        reconcile(root, &mut index, "cal", false);
        let changed: Vec<String> = index
            .changes("cal", Some(token), false)
            .unwrap()
            .into_iter()
            .map(|(k, c, _)| format!("{k} {c:?}").split('(').next().unwrap().to_owned())
            .collect();
        assert_eq!(
            changed,
            [
                "cal/sub Dir",
                "cal/a.ics File",
                "cal/c.ics File",
                "cal/b.ics Deleted"
            ]
        );
        assert!(
            index.get("cal/sub/deeper/e.ics").is_some(),
            "new folders are scanned whole"
        );
        assert!(index.get("cal/d.ics.tmp").is_none());

        // Nothing changed: nothing logged, nothing hashed.
        let seq = index.seq();
        let again = scan(root, "cal", false);
        assert!(again.to_read(&index, &Registry::default()).is_empty());
        again.apply(&mut index, &HashMap::new());
        assert_eq!(index.seq(), seq);

        fs::write(
            root.join("cal/.dav.toml"),
            "kind = \"calendar\"\ndisplayname = \"Work\"\n",
        )
        .unwrap();
        reconcile(root, &mut index, "cal", false);
        assert_eq!(
            index.dir("cal").unwrap().config.string_at(&["displayname"]),
            Some("Work")
        );
        assert_eq!(index.changes("", Some(seq), false).unwrap()[0].0, "cal");

        fs::remove_dir_all(root.join("cal")).unwrap();
        reconcile(root, &mut index, "cal", false);
        assert!(index.get("cal").is_none() && index.get("cal/a.ics").is_none());
    }
}
