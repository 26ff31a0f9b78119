//! The entries the index holds: files, folders and their sync logs' records.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

use dirdav_plugin::{CollectionConfig, Summary};

use crate::compat::Format;

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
