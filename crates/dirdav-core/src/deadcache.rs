//! Large settings files, read back when asked: the index holds a folder's settings
//! without their dead properties once the file passes [`crate::index::entry::INLINE_SETTINGS`],
//! and a resource built for it (or for a file in it) carries a loader
//! ([`dirdav_plugin::DeadLoader`]) that gets the whole settings from this cache when a
//! dead property is asked for. The cache holds at most a budget of settings bytes and
//! forgets the least recently used first. So memory does not grow with the dead
//! properties users store, listings that name no dead property never read the file,
//! and the hot paths (calendars, address books, folders with a few properties) never
//! come here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dirdav_plugin::CollectionConfig;

/// How many bytes of settings files the cache holds at most.
pub(crate) const BUDGET: u64 = 4 << 20;

/// Whole settings of folders whose files are large, by folder.
#[derive(Debug, Default)]
pub(crate) struct DeadCache {
    held: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    /// Per folder: the settings' tag, the settings, and when they were last used.
    entries: HashMap<String, (u64, Arc<CollectionConfig>, u64)>,
    bytes: u64,
    clock: u64,
}

impl DeadCache {
    /// The whole settings of the folder `key` as of `tag`: from the cache, or read by
    /// `load` (which returns them with the tag of what it read). What was read under
    /// another tag (the file changed since the index saw it) is returned, not kept.
    pub(crate) fn get(
        &self,
        key: &str,
        tag: u64,
        load: impl FnOnce() -> (CollectionConfig, u64),
    ) -> Arc<CollectionConfig> {
        {
            let mut held = self.lock();
            held.clock += 1;
            let now = held.clock;
            if let Some((t, config, used)) = held.entries.get_mut(key)
                && *t == tag
            {
                *used = now;
                return config.clone();
            }
        }
        let (config, read_tag) = load();
        let config = Arc::new(config);
        if read_tag != tag || config.size > BUDGET {
            return config;
        }
        let mut held = self.lock();
        let now = held.clock;
        if let Some((_, old, _)) = held
            .entries
            .insert(key.to_owned(), (tag, config.clone(), now))
        {
            held.bytes = held.bytes.saturating_sub(old.size);
        }
        held.bytes += config.size;
        while held.bytes > BUDGET {
            let Some(oldest) = held
                .entries
                .iter()
                .min_by_key(|(_, (_, _, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((_, gone, _)) = held.entries.remove(&oldest) {
                held.bytes = held.bytes.saturating_sub(gone.size);
            }
        }
        config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many settings bytes are held (for tests).
    #[cfg(test)]
    fn bytes(&self) -> u64 {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(size: u64) -> CollectionConfig {
        CollectionConfig {
            size,
            ..CollectionConfig::default()
        }
    }

    #[test]
    fn the_cache_keeps_to_its_budget_and_rereads_what_changed() {
        let cache = DeadCache::default();
        let mut loads = 0;
        for round in 0..2 {
            for i in 0..8 {
                cache.get(&format!("f{i}"), 1, || {
                    loads += 1;
                    (settings(BUDGET / 4), 1)
                });
            }
            assert!(cache.bytes() <= BUDGET, "round {round}");
        }
        assert_eq!(
            loads, 16,
            "eight folders of a quarter budget each do not fit"
        );
        // A hit.
        let mut again = 0;
        cache.get("f7", 1, || {
            again += 1;
            (settings(1), 1)
        });
        assert_eq!(again, 0);
        // Another tag is read again; a file read under a tag other than asked is not kept.
        cache.get("f7", 2, || {
            again += 1;
            (settings(10), 3)
        });
        cache.get("f7", 2, || {
            again += 1;
            (settings(10), 2)
        });
        assert_eq!(again, 2);
    }
}
