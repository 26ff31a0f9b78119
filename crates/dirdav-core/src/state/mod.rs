//! Derived state kept outside the tree: the index and the sync log, persisted with
//! redb so that a restart neither rehashes every file nor invalidates clients' sync
//! tokens.
//!
//! The in-memory [`Index`](crate::index::Index) is authoritative while the server runs;
//! every change it makes is also recorded as [`Op`]s and written here in one durable
//! transaction before the request that caused it is answered.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use dirdav_plugin::Summary;

use crate::index::entry::{Change, FileEntry};

mod codec;
use codec::{decode_file, decode_log, decode_stored_summary, encode_file, encode_log};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const FILES: TableDefinition<&str, &[u8]> = TableDefinition::new("files");
const DIRS: TableDefinition<&str, &[u8]> = TableDefinition::new("dirs");
const LOG: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("log");
/// Views' sync state by view path (`alice/birthdays`), as [`crate::views`] encodes it.
/// Added without a format change: a state without the table has no views yet.
const VIEWS: TableDefinition<&str, &[u8]> = TableDefinition::new("views");

/// The database's page cache, in bytes.
const STATE_CACHE: usize = 1024 * 1024;

/// Bumped when the layout changes, or what the summarizers keep (3: exact event spans,
/// grouped vCard properties under their names; 4: floating events' spans on the wall
/// clock); a state of another version is rebuilt
/// from the tree, and clients holding its sync tokens sync afresh.
const FORMAT: &[u8] = b"dirdav-state-4";

/// Why the state could not be used. The server then rebuilds it from the tree.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    #[error("state database: {0}")]
    Db(#[from] redb::Error),
    #[error("state database holds another format")]
    Format,
    /// Another process (another dirdav on the same state) holds the database's lock.
    #[error("state database is in use by another process")]
    InUse,
    #[error("state directory: {0}")]
    Io(#[from] std::io::Error),
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StateError {
            fn from(e: $t) -> Self {
                StateError::Db(e.into())
            }
        }
    )*};
}
db_err!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// One persisted change, produced by the index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// A file's entry, added or replaced.
    File(String, FileEntry),
    /// A folder's sync state (see [`DirEntry`](crate::index::DirEntry)).
    Dir {
        key: String,
        rev: u64,
        floor: u64,
        born: u64,
        config_tag: u64,
    },
    /// A file or folder removed (a folder's log goes with it).
    Remove(String),
    /// A sync log entry of a folder.
    Log {
        dir: String,
        seq: u64,
        name: String,
        change: Change,
    },
    /// Log entries of a folder up to and including `upto` are dropped.
    Trim { dir: String, upto: u64 },
    /// A view's sync state, replaced whole.
    View { key: String, state: Vec<u8> },
}

/// What a previous run left.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub(crate) instance: String,
    pub(crate) seq: u64,
    pub(crate) files: Vec<(String, FileEntry)>,
    /// Key, revision, floor, birth and config tag of each folder.
    pub(crate) dirs: Vec<(String, [u64; 4])>,
    pub(crate) logs: Vec<(String, u64, String, Change)>,
    /// The logs stay in the store (`logs` is empty): they are read back when asked
    /// for ([`Stored::log`]).
    pub(crate) logs_stored: bool,
    /// Each view's sync state, as stored.
    pub(crate) views: Vec<(String, Vec<u8>)>,
}

/// The state database.
#[derive(Debug)]
pub(crate) struct State {
    db: Database,
    path: PathBuf,
}

impl State {
    /// Opens (or creates) the database in `dir`.
    pub(crate) fn open(dir: &Path) -> Result<State, StateError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("index.redb");
        // redb caches up to 1 GiB by default, and reading the whole state at startup
        // would keep all of it resident; the in-memory index is what serves reads, so
        // the database needs only enough cache to write.
        let db = Database::builder()
            .set_cache_size(STATE_CACHE)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen
                | redb::DatabaseError::LockProtocolMismatch => StateError::InUse,
                other => other.into(),
            })?;
        Ok(State { db, path })
    }

    /// Removes the database file and creates an empty one.
    pub(crate) fn recreate(self) -> Result<State, StateError> {
        let path = self.path.clone();
        drop(self);
        std::fs::remove_file(&path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        State::open(dir)
    }

    /// Reads everything; an empty database yields a fresh instance id.
    pub(crate) fn load(&self) -> Result<Loaded, StateError> {
        let txn = self.db.begin_read()?;
        let meta = match txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Loaded::default()),
            Err(e) => return Err(e.into()),
        };
        match meta.get("format")? {
            Some(f) if f.value() == FORMAT => {}
            Some(_) => return Err(StateError::Format),
            None => return Ok(Loaded::default()),
        }
        let text = |k: &str| -> Result<Option<Vec<u8>>, StateError> {
            Ok(meta.get(k)?.map(|v| v.value().to_vec()))
        };
        let instance = String::from_utf8_lossy(&text("instance")?.unwrap_or_default()).into_owned();
        let seq = text("seq")?
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0);
        let mut loaded = Loaded {
            instance,
            seq,
            ..Loaded::default()
        };
        for row in txn.open_table(FILES)?.iter()? {
            let (k, v) = row?;
            if let Some(f) = decode_file(v.value()) {
                loaded.files.push((k.value().to_owned(), f));
            }
        }
        for row in txn.open_table(DIRS)?.iter()? {
            let (k, v) = row?;
            let v = v.value();
            if v.len() >= 32 {
                let n = |i: usize| {
                    u64::from_le_bytes(v[i * 8..i * 8 + 8].try_into().unwrap_or_default())
                };
                loaded
                    .dirs
                    .push((k.value().to_owned(), [n(0), n(1), n(2), n(3)]));
            }
        }
        // Sync logs stay here until a folder's is asked for (`Stored::log`).
        loaded.logs_stored = true;
        match txn.open_table(VIEWS) {
            Ok(views) => {
                for row in views.iter()? {
                    let (k, v) = row?;
                    loaded
                        .views
                        .push((k.value().to_owned(), v.value().to_vec()));
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(loaded)
    }

    /// Writes the instance id and sequence number (at startup).
    pub(crate) fn set_meta(&self, instance: &str, seq: u64) -> Result<(), StateError> {
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            meta.insert("format", FORMAT)?;
            meta.insert("instance", instance.as_bytes())?;
            meta.insert("seq", seq.to_le_bytes().as_slice())?;
            txn.open_table(FILES)?;
            txn.open_table(DIRS)?;
            txn.open_table(LOG)?;
            txn.open_table(VIEWS)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Writes a batch of changes and the new sequence number in one durable transaction.
    pub(crate) fn apply(&self, ops: &[Op], seq: u64) -> Result<(), StateError> {
        if ops.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let stored = meta
                .get("seq")?
                .and_then(|v| v.value().try_into().ok())
                .map(u64::from_le_bytes)
                .unwrap_or(0);
            meta.insert("seq", stored.max(seq).to_le_bytes().as_slice())?;
            let mut files = txn.open_table(FILES)?;
            let mut dirs = txn.open_table(DIRS)?;
            let mut log = txn.open_table(LOG)?;
            for op in ops {
                match op {
                    Op::File(key, f) => {
                        files.insert(key.as_str(), encode_file(f).as_slice())?;
                    }
                    Op::Dir {
                        key,
                        rev,
                        floor,
                        born,
                        config_tag,
                    } => {
                        let mut v = Vec::with_capacity(32);
                        for n in [rev, floor, born, config_tag] {
                            v.extend_from_slice(&n.to_le_bytes());
                        }
                        dirs.insert(key.as_str(), v.as_slice())?;
                    }
                    Op::Remove(key) => {
                        files.remove(key.as_str())?;
                        if dirs.remove(key.as_str())?.is_some() {
                            log.retain_in((key.as_str(), 0)..=(key.as_str(), u64::MAX), |_, _| {
                                false
                            })?;
                        }
                    }
                    Op::Log {
                        dir,
                        seq,
                        name,
                        change,
                    } => {
                        log.insert((dir.as_str(), *seq), encode_log(name, change).as_slice())?;
                    }
                    Op::Trim { dir, upto } => {
                        log.retain_in((dir.as_str(), 0)..=(dir.as_str(), *upto), |_, _| false)?;
                    }
                    Op::View { key, state } => {
                        txn.open_table(VIEWS)?
                            .insert(key.as_str(), state.as_slice())?;
                    }
                }
            }
        }
        txn.commit()?;
        Ok(())
    }
}

/// Where the index reads back what it does not hold in memory
/// ([`crate::index::Index::summary`]): the state directory's database, or (issue 32) a
/// store shared by several nodes.
pub(crate) trait Stored: Send + Sync + std::fmt::Debug {
    /// The summaries of the files directly in `folder`, by file name, as last stored.
    fn summaries(&self, folder: &str) -> Result<Vec<(String, Summary)>, StateError>;

    /// The sync log of `folder`, oldest first.
    fn log(&self, folder: &str) -> Result<Vec<(u64, String, Change)>, StateError>;
}

impl Stored for State {
    /// One range of the files table from `folder/`, skipping each subfolder's run with
    /// one seek past it (`sub0`, `'0'` being the character after `'/'`).
    fn summaries(&self, folder: &str) -> Result<Vec<(String, Summary)>, StateError> {
        let txn = self.db.begin_read()?;
        let files = txn.open_table(FILES)?;
        let prefix = match folder.is_empty() {
            true => String::new(),
            false => format!("{folder}/"),
        };
        let mut out = Vec::new();
        let mut from = prefix.clone();
        'runs: loop {
            let start = std::mem::take(&mut from);
            for row in files.range::<&str>(start.as_str()..)? {
                let (k, v) = row?;
                let key = k.value();
                let Some(name) = key.strip_prefix(prefix.as_str()) else {
                    break 'runs;
                };
                if let Some(slash) = name.find('/') {
                    from = format!("{prefix}{}0", &name[..slash]);
                    continue 'runs;
                }
                if let Some(summary) = decode_stored_summary(v.value()) {
                    out.push((name.to_owned(), summary));
                }
            }
            break;
        }
        Ok(out)
    }

    fn log(&self, folder: &str) -> Result<Vec<(u64, String, Change)>, StateError> {
        let txn = self.db.begin_read()?;
        let log = txn.open_table(LOG)?;
        let mut out = Vec::new();
        for row in log.range((folder, 0)..=(folder, u64::MAX))? {
            let (k, v) = row?;
            if let Some((name, change)) = decode_log(v.value()) {
                out.push((k.value().1, name, change));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use dirdav_plugin::Periodic;

    use super::*;
    use crate::index::entry::Held;

    fn file(etag: &str) -> FileEntry {
        FileEntry {
            etag: etag.into(),
            size: 42,
            modified: UNIX_EPOCH + Duration::new(1_700_000_000, 123),
            created: UNIX_EPOCH + Duration::new(1_600_000_000, 0),
            summary: Held::new(Some(std::sync::Arc::new(Summary {
                uid: Some("u1".into()),
                component: Some("VEVENT".into()),
                span: Some((10, i64::MAX)),
                span_exact: true,
                span_floating: true,
                instances: [(10, 20), (30, 40)].into(),
                periodic: Some(Box::new(Periodic {
                    start: 1_700_000_000,
                    zone: "Europe/Zurich".into(),
                    length: 3_600,
                    period_days: 7,
                    offsets: [0, 3].into(),
                    until: i64::MAX,
                    skip: [1_700_604_800].into(),
                    extra: [(1_700_608_400, 1_700_612_000)].into(),
                })),
                fields: [("FN", "Carol")].into_iter().collect(),
            }))),
        }
    }

    #[test]
    fn round_trips_everything() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        assert!(state.load().unwrap().instance.is_empty());
        state.set_meta("abc", 7).unwrap();
        let ops = vec![
            Op::File("a/x.ics".into(), file("\"e1\"")),
            Op::Dir {
                key: "a".into(),
                rev: 9,
                floor: 3,
                born: 2,
                config_tag: 77,
            },
            Op::Log {
                dir: "a".into(),
                seq: 8,
                name: "x.ics".into(),
                change: Change::File,
            },
            Op::Log {
                dir: "a".into(),
                seq: 9,
                name: "y.ics".into(),
                change: Change::Deleted(false),
            },
            Op::Log {
                dir: "".into(),
                seq: 9,
                name: "a".into(),
                change: Change::Dir,
            },
        ];
        state.apply(&ops, 9).unwrap();
        drop(state);
        let state = State::open(dir.path()).unwrap();
        let loaded = state.load().unwrap();
        assert_eq!((loaded.instance.as_str(), loaded.seq), ("abc", 9));
        assert_eq!(loaded.files, [("a/x.ics".to_owned(), file("\"e1\""))]);
        assert!(
            loaded.files[0].1.summary.get().is_none(),
            "summaries stay in the store at loading"
        );
        let summaries = state.summaries("a").unwrap();
        assert_eq!(summaries.len(), 1);
        assert_eq!(
            (
                summaries[0].0.as_str(),
                Some(std::sync::Arc::new(summaries[0].1.clone()))
            ),
            ("x.ics", file("\"e1\"").summary.get().cloned())
        );
        assert_eq!(loaded.dirs, [("a".to_owned(), [9, 3, 2, 77])]);
        assert!(loaded.logs.is_empty() && loaded.logs_stored);
        assert_eq!(
            state.log("a").unwrap(),
            [
                (8, "x.ics".to_owned(), Change::File),
                (9, "y.ics".to_owned(), Change::Deleted(false))
            ]
        );
        assert_eq!(state.log("").unwrap().len(), 1);
        state
            .apply(
                &[Op::Trim {
                    dir: "a".into(),
                    upto: 8,
                }],
                9,
            )
            .unwrap();
        assert_eq!(state.log("a").unwrap().len(), 1);
        state
            .apply(&[Op::Remove("a".into()), Op::Remove("a/x.ics".into())], 10)
            .unwrap();
        let loaded = state.load().unwrap();
        assert!(loaded.files.is_empty() && loaded.dirs.is_empty());
        assert!(
            state.log("a").unwrap().is_empty(),
            "a folder's log goes with it"
        );
        assert_eq!(state.log("").unwrap(), [(9, "a".to_owned(), Change::Dir)]);
        assert_eq!(loaded.seq, 10);
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.redb"), b"not a database at all").unwrap();
        assert!(State::open(dir.path()).is_err());
    }
}
