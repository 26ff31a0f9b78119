//! Derived state kept outside the tree: the index and the sync log, persisted with
//! redb so that a restart neither rehashes every file nor invalidates clients' sync
//! tokens.
//!
//! The in-memory [`Index`](crate::index::Index) is authoritative while the server runs;
//! every change it makes is also recorded as [`Op`]s and written here in one durable
//! transaction before the request that caused it is answered.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use dirdav_plugin::{Periodic, Summary};

use crate::index::entry::{Change, FileEntry};

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
        for row in txn.open_table(LOG)?.iter()? {
            let (k, v) = row?;
            let (dir, seq) = k.value();
            if let Some((name, change)) = decode_log(v.value()) {
                loaded.logs.push((dir.to_owned(), seq, name, change));
            }
        }
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

fn put_time(out: &mut Vec<u8>, t: SystemTime) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    out.extend_from_slice(&d.as_secs().to_le_bytes());
    out.extend_from_slice(&d.subsec_nanos().to_le_bytes());
}

fn get_time(b: &[u8]) -> Option<SystemTime> {
    let secs = u64::from_le_bytes(b.get(0..8)?.try_into().ok()?);
    let nanos = u32::from_le_bytes(b.get(8..12)?.try_into().ok()?);
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

fn encode_file(f: &FileEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(33 + f.etag.len());
    out.extend_from_slice(&f.size.to_le_bytes());
    put_time(&mut out, f.modified);
    put_time(&mut out, f.created);
    out.push(f.etag.len() as u8);
    out.extend_from_slice(f.etag.as_bytes());
    if let Some(summary) = &f.summary {
        out.extend_from_slice(&encode_summary(summary));
    }
    out
}

fn decode_file(b: &[u8]) -> Option<FileEntry> {
    let etag_len = *b.get(32)? as usize;
    let etag = String::from_utf8(b.get(33..33 + etag_len)?.to_vec()).ok()?;
    let rest = b.get(33 + etag_len..)?;
    Some(FileEntry {
        size: u64::from_le_bytes(b.get(0..8)?.try_into().ok()?),
        modified: get_time(b.get(8..20)?)?,
        created: get_time(b.get(20..32)?)?,
        etag,
        summary: (!rest.is_empty())
            .then(|| decode_summary(rest))
            .flatten()
            .map(std::sync::Arc::new),
    })
}

/// Summaries are stored as a small JSON object: `{"u": uid, "c": component, "s": [start,
/// end], "x": true, "l": true, "i": [[start, end], …], "p": {…}, "f": [[name, value],
/// …]}`, `x` when the span is exact, `l` when it is on the wall clock, `i` the instances
/// of a recurring event, `p` the rule of a periodic one ([`Periodic`]). A summary stored
/// without `x`, `i` or `p` reads as inexact, which only costs a query a read.
fn encode_summary(s: &Summary) -> Vec<u8> {
    let mut map = serde_json::Map::new();
    if let Some(uid) = &s.uid {
        map.insert("u".into(), uid.clone().into());
    }
    if let Some(c) = &s.component {
        map.insert("c".into(), c.as_ref().into());
    }
    if let Some((a, b)) = s.span {
        map.insert("s".into(), serde_json::json!([a, b]));
    }
    if s.span_exact {
        map.insert("x".into(), true.into());
    }
    if s.span_floating {
        map.insert("l".into(), true.into());
    }
    if !s.instances.is_empty() {
        map.insert("i".into(), serde_json::json!(s.instances));
    }
    if let Some(p) = &s.periodic {
        map.insert(
            "p".into(),
            serde_json::json!({
                "s": p.start, "z": p.zone, "l": p.length, "d": p.period_days,
                "o": p.offsets, "u": p.until, "k": p.skip, "e": p.extra,
            }),
        );
    }
    if !s.fields.is_empty() {
        let pairs: Vec<[&str; 2]> = s.fields.iter().map(|(n, v)| [n, v]).collect();
        map.insert("f".into(), serde_json::json!(pairs));
    }
    serde_json::to_vec(&map).unwrap_or_default()
}

fn decode_summary(b: &[u8]) -> Option<Summary> {
    let v: serde_json::Value = serde_json::from_slice(b).ok()?;
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let flag = |k: &str| v.get(k).and_then(|x| x.as_bool()).unwrap_or(false);
    let times = |p: &serde_json::Value| Some((p.get(0)?.as_i64()?, p.get(1)?.as_i64()?));
    let list = |k: &str| v.get(k).and_then(|x| x.as_array()).map(Vec::as_slice);
    let fields = list("f")
        .unwrap_or_default()
        .iter()
        .filter_map(|p| Some((p.get(0)?.as_str()?, p.get(1)?.as_str()?)))
        .collect();
    Some(Summary {
        uid: text("u"),
        component: text("c").map(Summary::component_name),
        span: v.get("s").and_then(times),
        span_exact: flag("x"),
        span_floating: flag("l"),
        instances: list("i")
            .unwrap_or_default()
            .iter()
            .filter_map(times)
            .collect(),
        periodic: v.get("p").and_then(decode_periodic).map(Box::new),
        fields,
    })
}

fn decode_periodic(p: &serde_json::Value) -> Option<Periodic> {
    let int = |k: &str| p.get(k)?.as_i64();
    let list = |k: &str| p.get(k)?.as_array();
    Some(Periodic {
        start: int("s")?,
        zone: p.get("z")?.as_str()?.into(),
        length: int("l")?,
        period_days: u32::try_from(int("d")?).ok()?,
        offsets: list("o")?
            .iter()
            .map(|o| u32::try_from(o.as_i64()?).ok())
            .collect::<Option<_>>()?,
        until: int("u")?,
        skip: list("k")?
            .iter()
            .map(serde_json::Value::as_i64)
            .collect::<Option<_>>()?,
        extra: list("e")?
            .iter()
            .map(|e| Some((e.get(0)?.as_i64()?, e.get(1)?.as_i64()?)))
            .collect::<Option<_>>()?,
    })
}

fn encode_log(name: &str, change: &Change) -> Vec<u8> {
    let tag = match change {
        Change::File => b'f',
        Change::Dir => b'd',
        Change::Deleted(false) => b'x',
        Change::Deleted(true) => b'X',
    };
    // The second byte is the length of an ETag, which earlier formats kept here.
    let mut out = vec![tag, 0];
    out.extend_from_slice(name.as_bytes());
    out
}

fn decode_log(b: &[u8]) -> Option<(String, Change)> {
    let (&tag, rest) = b.split_first()?;
    let (&len, rest) = rest.split_first()?;
    let (_etag, name) = rest.split_at_checked(len as usize)?;
    let name = String::from_utf8(name.to_vec()).ok()?;
    let change = match tag {
        b'f' => Change::File,
        b'd' => Change::Dir,
        b'x' => Change::Deleted(false),
        b'X' => Change::Deleted(true),
        _ => return None,
    };
    Some((name, change))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(etag: &str) -> FileEntry {
        FileEntry {
            etag: etag.to_owned(),
            size: 42,
            modified: UNIX_EPOCH + Duration::new(1_700_000_000, 123),
            created: UNIX_EPOCH + Duration::new(1_600_000_000, 0),
            summary: Some(std::sync::Arc::new(Summary {
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
            })),
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
        assert_eq!(loaded.dirs, [("a".to_owned(), [9, 3, 2, 77])]);
        assert_eq!(loaded.logs.len(), 3);
        state
            .apply(
                &[Op::Trim {
                    dir: "a".into(),
                    upto: 8,
                }],
                9,
            )
            .unwrap();
        assert_eq!(state.load().unwrap().logs.len(), 2);
        state
            .apply(&[Op::Remove("a".into()), Op::Remove("a/x.ics".into())], 10)
            .unwrap();
        let loaded = state.load().unwrap();
        assert!(loaded.files.is_empty() && loaded.dirs.is_empty());
        assert_eq!(
            loaded.logs,
            [(String::new(), 9, "a".to_owned(), Change::Dir)]
        );
        assert_eq!(loaded.seq, 10);
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.redb"), b"not a database at all").unwrap();
        assert!(State::open(dir.path()).is_err());
    }
}
