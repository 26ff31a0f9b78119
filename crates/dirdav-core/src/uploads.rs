//! Uploads in flight: the bytes each PUT has received (or declared it will send) and
//! not yet stored, so that quotas count what concurrent uploads are bringing and two
//! uploads cannot together pass a limit that each alone would not.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The uploads in flight.
#[derive(Debug, Default)]
pub(crate) struct Uploads {
    next: AtomicU64,
    open: Mutex<HashMap<u64, (String, Arc<AtomicU64>)>>,
}

/// One upload in flight; it leaves the table when dropped.
#[derive(Debug)]
pub(crate) struct Upload<'a> {
    uploads: &'a Uploads,
    id: u64,
    bytes: Arc<AtomicU64>,
}

impl Uploads {
    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (String, Arc<AtomicU64>)>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts an upload to `key` that reserves `reserved` bytes (its declared length,
    /// or 0).
    pub(crate) fn start(&self, key: &str, reserved: u64) -> Upload<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let bytes = Arc::new(AtomicU64::new(reserved));
        self.open().insert(id, (key.to_owned(), bytes.clone()));
        Upload {
            uploads: self,
            id,
            bytes,
        }
    }

    /// The bytes uploads in flight bring at or below `path`.
    pub(crate) fn below(&self, path: &str) -> u64 {
        let open = self.open();
        if open.is_empty() {
            return 0;
        }
        open.values()
            .filter(|(key, _)| dirdav_plugin::path::within(key, path))
            .map(|(_, bytes)| bytes.load(Ordering::Relaxed))
            .sum()
    }
}

impl Upload<'_> {
    /// Records that the upload has received `received` bytes; it counts the larger of
    /// that and what it reserved.
    pub(crate) fn received(&self, received: u64) {
        self.bytes.fetch_max(received, Ordering::Relaxed);
    }

    /// What the upload counts now.
    pub(crate) fn counted(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

impl Drop for Upload<'_> {
    fn drop(&mut self) {
        self.uploads.open().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_count_below_their_folders_until_dropped() {
        let uploads = Uploads::default();
        let a = uploads.start("alice/big.bin", 100);
        let b = uploads.start("alice/docs/x", 0);
        b.received(30);
        a.received(50);
        assert_eq!(a.counted(), 100, "the reservation holds");
        assert_eq!(uploads.below("alice"), 130);
        assert_eq!(uploads.below("alice/docs"), 30);
        assert_eq!(uploads.below("bob"), 0);
        drop(a);
        assert_eq!(uploads.below(""), 30);
        drop(b);
        assert_eq!(uploads.below(""), 0);
    }
}
