//! The locks in force, by root path: which cover a path, which conflict with a new
//! one, which a write must name. Pure bookkeeping; times are seconds since the epoch,
//! handed in, so that tests can move the clock.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One write lock (RFC 4918 §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lock {
    /// `urn:uuid:…`.
    pub(crate) token: String,
    /// The path it was taken on (its lock root).
    pub(crate) root: String,
    /// Whether the root was a collection (for its href).
    pub(crate) collection: bool,
    /// Depth infinity: it covers everything below the root too.
    pub(crate) deep: bool,
    /// Exclusive, or shared.
    pub(crate) exclusive: bool,
    /// The client's `DAV:owner` element, as XML, to hand back as it came.
    pub(crate) owner: Option<String>,
    /// The user who took it; only they can use its token or remove it.
    pub(crate) principal: Option<String>,
    /// When it lapses, in seconds since the epoch.
    pub(crate) expires: u64,
}

impl Lock {
    /// Whether the lock applies to `path`: its root, or below a depth-infinity root.
    pub(crate) fn covers(&self, path: &str) -> bool {
        self.root == path || (self.deep && below(path, &self.root))
    }
}

/// Whether `path` lies strictly below `root` (`""` is the tree's root).
pub(crate) fn below(path: &str, root: &str) -> bool {
    path != root && dirdav_plugin::path::within(path, root)
}

/// Every lock in force, by root.
#[derive(Debug, Default)]
pub(crate) struct Table {
    by_root: BTreeMap<String, Vec<Lock>>,
}

impl Table {
    /// A table holding `locks`, less those lapsed by `now`.
    pub(crate) fn from_locks(locks: Vec<Lock>, now: u64) -> Table {
        let mut table = Table::default();
        for lock in locks.into_iter().filter(|l| l.expires > now) {
            table
                .by_root
                .entry(lock.root.clone())
                .or_default()
                .push(lock);
        }
        table
    }

    /// Every lock, lapsed or not, for saving.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Lock> {
        self.by_root.values().flatten()
    }

    /// True when no lock is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_root.is_empty()
    }

    /// Drops the locks lapsed by `now`; returns their tokens.
    pub(crate) fn expire(&mut self, now: u64) -> Vec<String> {
        let mut gone = Vec::new();
        for locks in self.by_root.values_mut() {
            locks.retain(|l| {
                let keep = l.expires > now;
                if !keep {
                    gone.push(l.token.clone());
                }
                keep
            });
        }
        self.by_root.retain(|_, locks| !locks.is_empty());
        gone
    }

    /// How many locks are rooted at `root`.
    pub(crate) fn on(&self, root: &str) -> usize {
        self.by_root.get(root).map_or(0, Vec::len)
    }

    /// How many locks `principal` holds.
    pub(crate) fn held_by(&self, principal: Option<&str>) -> usize {
        self.all()
            .filter(|l| l.principal.as_deref() == principal)
            .count()
    }

    /// The locks in force at `now` that cover `path`: on it, or depth infinity on one
    /// of its ancestors. One map lookup per ancestor.
    pub(crate) fn covering(&self, path: &str, now: u64) -> Vec<&Lock> {
        if self.by_root.is_empty() {
            return Vec::new();
        }
        dirdav_plugin::path::ancestors(path)
            .filter_map(|root| self.by_root.get(root))
            .flatten()
            .filter(|l| l.expires > now && l.covers(path))
            .collect()
    }

    /// The locks in force at `now` rooted strictly below `path`.
    pub(crate) fn below(&self, path: &str, now: u64) -> Vec<&Lock> {
        let start = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        self.by_root
            .range(start.clone()..)
            .take_while(|(root, _)| root.starts_with(&start))
            .flat_map(|(_, locks)| locks)
            .filter(|l| l.expires > now && below(&l.root, path))
            .collect()
    }

    /// The lock in force with this token.
    pub(crate) fn find(&self, token: &str, now: u64) -> Option<&Lock> {
        self.all().find(|l| l.token == token && l.expires > now)
    }

    /// A lock in force that a new one would conflict with (RFC 4918 §6.1, §7): they
    /// overlap (one covers the other's root, or the new one is deep and an existing one
    /// lies below it) and either is exclusive.
    pub(crate) fn conflict(&self, new: &Lock, now: u64) -> Option<&Lock> {
        let mut overlapping = self.covering(&new.root, now);
        if new.deep {
            overlapping.extend(self.below(&new.root, now));
        }
        overlapping
            .into_iter()
            .find(|l| l.exclusive || new.exclusive)
    }

    /// Adds a lock (the caller has checked for conflicts).
    pub(crate) fn insert(&mut self, lock: Lock) {
        self.by_root
            .entry(lock.root.clone())
            .or_default()
            .push(lock);
    }

    /// Removes the lock with this token; returns it.
    pub(crate) fn remove(&mut self, token: &str) -> Option<Lock> {
        let root = self.all().find(|l| l.token == token)?.root.clone();
        let locks = self.by_root.get_mut(&root)?;
        let at = locks.iter().position(|l| l.token == token)?;
        let lock = locks.remove(at);
        if locks.is_empty() {
            self.by_root.remove(&root);
        }
        Some(lock)
    }

    /// Removes every lock rooted at `path` or below it (the resource is gone); returns
    /// their tokens.
    pub(crate) fn remove_tree(&mut self, path: &str) -> Vec<String> {
        let mut gone = Vec::new();
        self.by_root.retain(|root, locks| {
            let keep = root != path && !below(root, path);
            if !keep {
                gone.extend(locks.iter().map(|l| l.token.clone()));
            }
            keep
        });
        gone
    }

    /// Sets a lock's expiry; returns the lock as it is now.
    pub(crate) fn refresh(&mut self, token: &str, expires: u64) -> Option<Lock> {
        let lock = self
            .by_root
            .values_mut()
            .flatten()
            .find(|l| l.token == token)?;
        lock.expires = expires;
        Some(lock.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(token: &str, root: &str, deep: bool, exclusive: bool) -> Lock {
        Lock {
            token: token.into(),
            root: root.into(),
            collection: deep,
            deep,
            exclusive,
            owner: None,
            principal: Some("alice".into()),
            expires: 100,
        }
    }

    #[test]
    fn covering_and_below() {
        let mut t = Table::default();
        t.insert(lock("a", "docs", true, true));
        t.insert(lock("b", "docs/x/y", false, false));
        t.insert(lock("c", "docsx", false, true));
        let tokens = |v: Vec<&Lock>| v.iter().map(|l| l.token.clone()).collect::<Vec<_>>();
        assert_eq!(tokens(t.covering("docs/x/y", 50)), ["a", "b"]);
        assert_eq!(tokens(t.covering("docs", 50)), ["a"]);
        assert_eq!(tokens(t.covering("docsx", 50)), ["c"]);
        assert!(t.covering("other", 50).is_empty());
        assert!(t.covering("docs/x/y", 100).is_empty(), "lapsed");
        assert_eq!(tokens(t.below("docs", 50)), ["b"]);
        assert_eq!(tokens(t.below("", 50)), ["a", "b", "c"]);
        assert!(t.below("docs/x/y", 50).is_empty());
    }

    #[test]
    fn conflicts() {
        let mut t = Table::default();
        t.insert(lock("s", "a/f", false, false));
        assert!(t.conflict(&lock("n", "a/f", false, false), 0).is_none());
        assert_eq!(
            t.conflict(&lock("n", "a/f", false, true), 0)
                .map(|l| &*l.token),
            Some("s")
        );
        // A deep lock above conflicts with an exclusive one below it; a shallow does not.
        assert!(t.conflict(&lock("n", "a", false, true), 0).is_none());
        assert!(t.conflict(&lock("n", "a", true, true), 0).is_some());
        assert!(t.conflict(&lock("n", "a", true, false), 0).is_none());
        assert!(t.conflict(&lock("n", "a/f", false, true), 200).is_none());
    }

    #[test]
    fn locks_are_counted_per_resource_and_per_user() {
        let mut t = Table::default();
        t.insert(lock("a", "f", false, false));
        t.insert(lock("b", "f", false, false));
        let mut bobs = lock("c", "g", false, false);
        bobs.principal = Some("bob".into());
        t.insert(bobs);
        assert_eq!((t.on("f"), t.on("g"), t.on("h")), (2, 1, 0));
        assert_eq!(t.held_by(Some("alice")), 2);
        assert_eq!(t.held_by(Some("bob")), 1);
        assert_eq!(t.held_by(None), 0);
    }

    #[test]
    fn remove_refresh_expire() {
        let mut t = Table::default();
        t.insert(lock("a", "d", true, true));
        t.insert(lock("b", "d/f", false, false));
        t.insert(lock("c", "e", false, false));
        assert_eq!(t.refresh("b", 300).map(|l| l.expires), Some(300));
        assert_eq!(t.expire(150), ["a", "c"]);
        assert_eq!(t.all().count(), 1);
        assert!(t.find("b", 150).is_some());
        assert_eq!(t.remove_tree("d"), ["b"]);
        assert!(t.is_empty());
        t.insert(lock("x", "z", false, false));
        assert_eq!(t.remove("x").map(|l| l.root), Some("z".into()));
        assert!(t.remove("x").is_none());
        assert!(t.is_empty());
    }
}
