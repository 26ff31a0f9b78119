//! After a warm start the server answers before it has compared the tree with its
//! stored index; until it has, a request has the folders it touches compared first.
//! This is the record of which folders have been.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::index::Index;
use crate::path;

/// The folders compared so far; `None` once every folder is (or when nothing was to be
/// compared: a cold start indexes the whole tree before answering).
#[derive(Debug, Default)]
pub(crate) struct Settling(Mutex<Option<HashSet<String>>>);

impl Settling {
    /// Settling under way (`true`), or over.
    pub(crate) fn new(under_way: bool) -> Settling {
        Settling(Mutex::new(under_way.then(HashSet::new)))
    }

    /// Whether every folder has been compared.
    pub(crate) fn is_over(&self) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).is_none()
    }

    /// Whether `folder` is still to be compared.
    pub(crate) fn needs(&self, folder: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|done| !done.contains(folder))
    }

    /// Records `folder` as compared.
    pub(crate) fn done(&self, folder: String) {
        if let Some(done) = &mut *self.0.lock().unwrap_or_else(|p| p.into_inner()) {
            done.insert(folder);
        }
    }

    /// Ends settling: every folder has been compared.
    pub(crate) fn finish(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// The folders to compare before answering a request about `key`, top down: the root,
/// every folder above, and the folder itself (for a file, its folder; for a key the
/// index does not know, the nearest folder above it that it does). The folders above
/// count for it: their settings (access rules among them) apply to it.
pub(crate) fn folders_for(index: &Index, key: &str) -> Vec<String> {
    let mut folder = match index.is_dir(key) {
        true => key.to_owned(),
        false => path::split(key).map_or(String::new(), |(p, _)| p.to_owned()),
    };
    while !folder.is_empty() && !index.is_dir(&folder) {
        folder = path::split(&folder).map_or(String::new(), |(p, _)| p.to_owned());
    }
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
