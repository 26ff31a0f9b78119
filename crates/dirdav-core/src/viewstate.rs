//! What the views hold ([`crate::views`]): their sync states, what was made of the views
//! in use, and the bounds on both. Data only: the server's state holds it, and the
//! code that makes views lives in `views.rs`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use bytes::Bytes;
use dirdav_plugin::xml::{Name, ns};
use dirdav_plugin::{DavError, Summary};
use serde::{Deserialize, Serialize};

use crate::homes::Generation;

/// How many source items are read at once when a view is made.
pub(crate) const READ_AT_ONCE: usize = 64;

/// How many views' members are held; past it, all are dropped and made anew on use.
pub(crate) const HELD: usize = 1_000;

/// How many bytes of members all views together hold; past it, as past [`HELD`].
pub(crate) const HELD_BYTES: usize = 64 << 20;

/// The most members one view has: what one user's sources can make the server hold and
/// list. Members past it (in source order) are left out, and that is logged.
pub(crate) const MEMBERS: usize = 10_000;

/// A view's sources as listed, with the homes' generation they were listed at.
pub(crate) type Listed = (Generation, Arc<Vec<String>>);

/// What one source item gave: `(name, bytes)` of each member it made.
pub(crate) type Given = Arc<Vec<(String, Bytes)>>;

/// The views' sync states, and what was made of the views in use.
#[derive(Default)]
pub(crate) struct Views {
    /// Each view's sync state, by its path.
    pub(crate) logs: Mutex<HashMap<String, ViewLog>>,
    /// What was made of each view last, by its path.
    pub(crate) made: Mutex<HashMap<String, Arc<Made>>>,
    /// Each view's sources, with the homes' generation they were listed at.
    pub(crate) sources: Mutex<HashMap<String, Listed>>,
    /// Views are made one at a time: two requests never log one change twice.
    pub(crate) making: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Views {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Views")
            .field("logs", &lock(&self.logs).len())
            .field("made", &lock(&self.made).len())
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Views {
    /// The views' sync states as the state database held them.
    pub(crate) fn load(stored: Vec<(String, Vec<u8>)>) -> Views {
        let logs = stored
            .into_iter()
            .filter_map(|(key, bytes)| Some((key, serde_json::from_slice(&bytes).ok()?)))
            .collect();
        Views {
            logs: Mutex::new(logs),
            ..Views::default()
        }
    }
}

/// A view's sync state: its members' ETags as last made, and the log of their changes.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct ViewLog {
    /// The sequence number of its last change (0: none yet).
    pub(crate) rev: u64,
    /// The newest sequence number dropped from the log: older tokens are not answered.
    pub(crate) floor: u64,
    /// Each member's ETag, by name.
    pub(crate) members: BTreeMap<String, String>,
    /// (sequence number, member name, removed), oldest first.
    pub(crate) log: Vec<(u64, String, bool)>,
}

/// A view as made last.
pub(crate) struct Made {
    /// Its sources and their revisions when it was made.
    pub(crate) sources: Vec<(String, u64)>,
    /// Its members, by name.
    pub(crate) members: BTreeMap<String, Member>,
    /// What each source item gave, by (path, ETag).
    pub(crate) given: HashMap<(String, String), Given>,
    /// When it was made: its members' modification time.
    pub(crate) when: SystemTime,
    /// The bytes of its members.
    pub(crate) bytes: usize,
}

pub(crate) struct Member {
    pub(crate) bytes: Bytes,
    pub(crate) etag: String,
    pub(crate) summary: Option<Arc<Summary>>,
}

/// The refusal of a write into a view.
pub(crate) fn refused(method: &str) -> DavError {
    DavError::forbidden(format!(
        "{method} is not possible here: this collection is made from others, change them instead"
    ))
    .condition(Name::new(ns::DAV, "need-privileges"))
}
