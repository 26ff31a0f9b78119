//! After a warm start the server answers before it has compared the tree with its
//! stored index; until it has, a request has the folders it touches compared first.
//! This is the record of which folders have been.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::index::Index;
use crate::path;

/// The folders compared so far; `None` once every folder is (or when nothing was to be
/// compared: a cold start indexes the whole tree before answering). Every request asks
/// [`Settling::is_over`], so that is one atomic load, not a lock.
#[derive(Debug, Default)]
pub(crate) struct Settling {
    done: Mutex<Option<HashSet<String>>>,
    over: AtomicBool,
}

impl Settling {
    /// Settling under way (`true`), or over.
    pub(crate) fn new(under_way: bool) -> Settling {
        Settling {
            done: Mutex::new(under_way.then(HashSet::new)),
            over: AtomicBool::new(!under_way),
        }
    }

    /// Whether every folder has been compared.
    pub(crate) fn is_over(&self) -> bool {
        self.over.load(Ordering::Acquire)
    }

    /// Whether `folder` is still to be compared.
    pub(crate) fn needs(&self, folder: &str) -> bool {
        self.done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|done| !done.contains(folder))
    }

    /// Records `folder` as compared.
    pub(crate) fn done(&self, folder: String) {
        if let Some(done) = &mut *self.done.lock().unwrap_or_else(|p| p.into_inner()) {
            done.insert(folder);
        }
    }

    /// Ends settling: every folder has been compared.
    pub(crate) fn finish(&self) {
        *self.done.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.over.store(true, Ordering::Release);
    }
}

/// The folders to compare before answering a request about `key`, top down: the root,
/// every folder above, and the folder itself (for a file, its folder; for a key the
/// index does not know, the nearest folder above it that it does). The folders above
/// count for it: their settings (access rules among them) apply to it.
pub(crate) fn folders_for(index: &Index, key: &str) -> Vec<String> {
    let folder = index.nearest_folder(key);
    let mut chain = vec![String::new()];
    let mut above = String::new();
    for segment in folder.split('/').filter(|s| !s.is_empty()) {
        above = path::join(&above, segment);
        chain.push(above.clone());
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_compared_top_down_once() {
        let settling = Settling::new(true);
        assert!(settling.needs("") && !settling.is_over());
        settling.done(String::new());
        assert!(!settling.needs("") && settling.needs("a"));
        settling.finish();
        assert!(settling.is_over() && !settling.needs("a"));
        assert!(Settling::new(false).is_over());
    }
}
