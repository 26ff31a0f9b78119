//! The UIDs of the items whose summaries are in memory, by (folder, UID): the
//! `no-uid-conflict` check of a PUT without a pass over the folder.

use std::collections::HashMap;
use std::sync::Mutex;

/// (folder, UID) → the keys of the files in memory with that UID. Keyed by a hash of the
/// pair rather than the pair itself, so an item costs one small allocation here;
/// [`super::Index::with_uid`] checks each key's summary, so a collision of hashes costs
/// a comparison, never a wrong answer. Filled and emptied through a shared reference, as
/// summaries are read back and let go under the index's read lock.
#[derive(Debug, Default)]
pub(super) struct Uids {
    slots: Mutex<HashMap<u64, Keys>>,
    /// Keys the hashes, random per run.
    hasher: std::hash::RandomState,
}

/// The files of one slot: almost always one.
#[derive(Debug)]
enum Keys {
    One(Box<str>),
    Many(Vec<Box<str>>),
}

impl Keys {
    fn as_slice(&self) -> &[Box<str>] {
        match self {
            Keys::One(key) => std::slice::from_ref(key),
            Keys::Many(keys) => keys,
        }
    }

    fn add(&mut self, key: &str) {
        if self.as_slice().iter().any(|k| **k == *key) {
            return;
        }
        match self {
            Keys::One(first) => {
                let first = std::mem::take(first);
                *self = Keys::Many(vec![first, key.into()]);
            }
            Keys::Many(keys) => keys.push(key.into()),
        }
    }

    /// Removes `key`; true when none is left.
    fn remove(&mut self, key: &str) -> bool {
        match self {
            Keys::One(k) => **k == *key,
            Keys::Many(keys) => {
                keys.retain(|k| **k != *key);
                keys.is_empty()
            }
        }
    }
}

impl Uids {
    fn slot(&self, dir: &str, uid: &str) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one((dir, uid))
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Keys>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes that the file at `key` (in folder `dir`) has this UID.
    pub(super) fn add(&self, dir: &str, key: &str, uid: &str) {
        let slot = self.slot(dir, uid);
        self.slots()
            .entry(slot)
            .and_modify(|keys| keys.add(key))
            .or_insert_with(|| Keys::One(key.into()));
    }

    /// Forgets that the file at `key` has this UID.
    pub(super) fn remove(&self, dir: &str, key: &str, uid: &str) {
        let slot = self.slot(dir, uid);
        let mut slots = self.slots();
        if let Some(keys) = slots.get_mut(&slot)
            && keys.remove(key)
        {
            slots.remove(&slot);
        }
    }

    /// The keys noted for (folder, UID), and maybe others of the same hash.
    pub(super) fn find(&self, dir: &str, uid: &str) -> Vec<String> {
        self.slots()
            .get(&self.slot(dir, uid))
            .map(|keys| keys.as_slice().iter().map(|k| k.to_string()).collect())
            .unwrap_or_default()
    }
}
