//! The entries the index holds: files, folders and their sync logs' records.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

use dirdav_plugin::{CollectionConfig, Summary};

use crate::compat::Format;

/// A file's entry.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FileEntry {
    pub(crate) etag: Box<str>,
    pub(crate) size: u64,
    pub(crate) modified: SystemTime,
    pub(crate) created: SystemTime,
    /// The plugin's summary, for items of a kind that has a summarizer: in memory, or
    /// only in the state store until asked for ([`Index::summary`](super::Index::summary)).
    pub(crate) summary: Held,
}

/// A file's summary as the index holds it. A summary the state store keeps may be out of
/// memory: the index reads a folder's summaries back when one of them is asked for, and
/// lets go of those of folders nobody asked for lately ([`super::Index`]'s working set).
///
/// One cell of 16 bytes: set to `None` for a file without a summary, to the summary
/// when it is in memory, and unset for a summary only the store has. Filled through a
/// shared reference (a reader that reads a folder's summaries back holds the index's
/// read lock), emptied only under the write lock, so that readers never see a summary
/// leave.
#[derive(Debug)]
pub(crate) struct Held {
    cell: std::sync::OnceLock<Option<Arc<Summary>>>,
}

/// No summary.
impl Default for Held {
    fn default() -> Held {
        Held::new(None)
    }
}

impl Held {
    /// A summary in memory, or none.
    pub(crate) fn new(summary: Option<Arc<Summary>>) -> Held {
        Held {
            cell: std::sync::OnceLock::from(summary),
        }
    }

    /// A summary the state store keeps, not yet in memory.
    pub(crate) fn stored() -> Held {
        Held {
            cell: std::sync::OnceLock::new(),
        }
    }

    /// The file has a summary (in memory or not).
    pub(crate) fn is_some(&self) -> bool {
        !matches!(self.cell.get(), Some(None))
    }

    /// The summary, when it is in memory.
    pub(crate) fn get(&self) -> Option<&Arc<Summary>> {
        self.cell.get()?.as_ref()
    }

    /// What memory knows: the summary or that there is none, or `None` when only the
    /// store knows.
    pub(crate) fn known(&self) -> Option<Option<&Arc<Summary>>> {
        self.cell.get().map(Option::as_ref)
    }

    /// Puts a summary read back from the state store in memory, unless one is there
    /// already (then that one is newer or the same); true when it was put.
    pub(super) fn fill(&self, summary: Arc<Summary>) -> bool {
        self.cell.set(Some(summary)).is_ok()
    }

    /// Lets go of the summary in memory (the state store keeps it), and answers it.
    pub(super) fn release(&mut self) -> Option<Arc<Summary>> {
        match self.cell.get() {
            Some(Some(_)) => self.cell.take().flatten(),
            _ => None,
        }
    }
}

impl Clone for Held {
    fn clone(&self) -> Held {
        Held {
            cell: self.cell.clone(),
        }
    }
}

/// Two summaries are equal when both files have one and both are the same, or one of
/// them is only in the state store (it is the same there), or neither has one.
impl PartialEq for Held {
    fn eq(&self, other: &Held) -> bool {
        self.is_some() == other.is_some()
            && match (self.get(), other.get()) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
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
    /// The sync log, when in memory; else the state store has all of it
    /// ([`super::Index::log_of`]). Filled through a shared reference, emptied only under
    /// the write lock.
    pub(crate) log: std::sync::OnceLock<VecDeque<LogEntry>>,
    /// When one of its files' summaries or its log was last asked for (the index's clock): the
    /// working set lets go of the folders used longest ago first.
    pub(crate) used: Tick,
    /// The index's write count when a summary of one of its files or an entry of its
    /// log was last put: they may be let go once the state store has that write.
    pub(crate) written: u64,
    /// Every summary of its files is in memory (as after it was read back): a UID check
    /// need not read the store.
    pub(crate) whole: Flag,
}

/// A folder's flag, set through a shared reference.
#[derive(Debug, Default)]
pub(crate) struct Flag(pub(crate) std::sync::atomic::AtomicBool);

impl Clone for Flag {
    fn clone(&self) -> Flag {
        Flag(self.0.load(std::sync::atomic::Ordering::Relaxed).into())
    }
}

/// A folder's last use, set through a shared reference.
#[derive(Debug, Default)]
pub(crate) struct Tick(pub(crate) std::sync::atomic::AtomicU64);

impl Clone for Tick {
    fn clone(&self) -> Tick {
        Tick(self.0.load(std::sync::atomic::Ordering::Relaxed).into())
    }
}

/// The largest settings file whose dead properties the index keeps in memory; larger
/// ones are read back through [`crate::deadcache`] when a resource is built.
pub(crate) const INLINE_SETTINGS: u64 = 8 * 1024;

/// Settings as the index holds them: whole when small, else without dead properties
/// (the `props` and `files` tables, parsed and as TOML); and whether they were large.
pub(super) fn held(config: CollectionConfig) -> (CollectionConfig, bool) {
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

pub(super) fn change_of(entry: &Entry) -> Change {
    match entry {
        Entry::Dir(_) => Change::Dir,
        Entry::File(_) => Change::File,
    }
}
