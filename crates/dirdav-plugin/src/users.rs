//! The users the server knows: those of its htpasswd file and of `[users]` in its
//! settings. Only they have homes; scheduling resolves addresses to them; principal
//! searches find them. One list, shared by the binary and every plugin that asks, and
//! replaced in place when the users file changes, so that a user added while the
//! server runs has a home at their first request.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Counts replacements of known users ([`KnownUsers::changes`]).
static CHANGES: AtomicU64 = AtomicU64::new(0);

/// A shared, replaceable set of user names ([`KnownUsers::replace`]). Clones share it.
///
/// ```
/// let users = dirdav_plugin::KnownUsers::new(["alice".to_owned()]);
/// let seen_by_a_plugin = users.clone();
/// users.replace(["alice".to_owned(), "carol".to_owned()]);
/// assert!(seen_by_a_plugin.contains("carol"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct KnownUsers(Arc<RwLock<Arc<BTreeSet<String>>>>);

impl KnownUsers {
    /// A set of these names.
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        KnownUsers(Arc::new(RwLock::new(Arc::new(names.into_iter().collect()))))
    }

    /// The names as they are now (a snapshot: later replacements do not change it).
    pub fn names(&self) -> Arc<BTreeSet<String>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether `name` is a known user.
    pub fn contains(&self, name: &str) -> bool {
        self.names().contains(name)
    }

    /// Whether no user is known (a server without users).
    pub fn is_empty(&self) -> bool {
        self.names().is_empty()
    }

    /// Replaces the names, for every clone.
    pub fn replace(&self, names: impl IntoIterator<Item = String>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(names.into_iter().collect());
        CHANGES.fetch_add(1, Ordering::Relaxed);
    }

    /// A number that changes whenever any set of known users of the process is
    /// replaced: what the core keeps of a user's home (shares, merged collections) is
    /// listed anew when it does.
    pub fn changes() -> u64 {
        CHANGES.load(Ordering::Relaxed)
    }

    /// Adds names, for every clone.
    pub fn extend(&self, names: impl IntoIterator<Item = String>) {
        let mut all = (*self.names()).clone();
        all.extend(names);
        self.replace(all);
    }
}
