//! What the plugins show in users' homes besides their folders (the collections shared
//! with them, their merged address books), kept per user until it may have changed: a
//! home's listing then costs what the home holds, not every collection of the server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dirdav_plugin::{Merged, Share};

/// How many users' views are kept; past it, all are dropped and listed anew.
const USERS: usize = 10_000;

/// The kept views, by user.
#[derive(Debug, Default)]
pub(crate) struct HomeViews(Mutex<HashMap<String, Kept>>);

/// One user's views, with the generation they were listed at.
#[derive(Debug)]
struct Kept {
    generation: Generation,
    shares: Option<Arc<Vec<Share>>>,
    merged: Option<Arc<Vec<Merged>>>,
}

/// What the views follow from: the index's folders generation and the known users'
/// changes. Views listed at another generation are listed anew.
pub(crate) type Generation = (u64, u64);

impl HomeViews {
    /// `user`'s shares, listed by `list` unless kept from this generation.
    pub(crate) fn shares(
        &self,
        user: &str,
        generation: Generation,
        list: impl FnOnce() -> Vec<Share>,
    ) -> Arc<Vec<Share>> {
        self.view(user, generation, |k| &mut k.shares, list)
    }

    /// `user`'s merged collections, listed by `list` unless kept from this generation.
    pub(crate) fn merged(
        &self,
        user: &str,
        generation: Generation,
        list: impl FnOnce() -> Vec<Merged>,
    ) -> Arc<Vec<Merged>> {
        self.view(user, generation, |k| &mut k.merged, list)
    }

    /// One view: kept if listed at `generation`, else listed by `list` (without the
    /// lock held: the plugins' hooks call the store) and kept.
    fn view<T>(
        &self,
        user: &str,
        generation: Generation,
        slot: impl Fn(&mut Kept) -> &mut Option<Arc<T>>,
        list: impl FnOnce() -> T,
    ) -> Arc<T> {
        {
            let mut users = self.0.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(kept) = users
                .get_mut(user)
                .filter(|k| k.generation == generation)
                .and_then(|k| slot(k).clone())
            {
                return kept;
            }
        }
        let listed = Arc::new(list());
        let mut users = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if users.len() >= USERS && !users.contains_key(user) {
            users.clear();
        }
        let kept = users.entry(user.to_owned()).or_insert(Kept {
            generation,
            shares: None,
            merged: None,
        });
        if kept.generation != generation {
            *kept = Kept {
                generation,
                shares: None,
                merged: None,
            };
        }
        *slot(kept) = Some(listed.clone());
        listed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_is_kept_for_its_generation_only() {
        let views = HomeViews::default();
        let share = |name: &str| Share {
            name: name.into(),
            target: format!("alice/{name}"),
            displayname: None,
        };
        let listed = std::cell::Cell::new(0);
        let list = |name: &'static str| {
            listed.set(listed.get() + 1);
            vec![share(name)]
        };
        assert_eq!(views.shares("bob", (1, 0), || list("a"))[0].name, "a");
        assert_eq!(views.shares("bob", (1, 0), || list("b"))[0].name, "a");
        assert_eq!(listed.get(), 1, "kept");
        assert_eq!(views.shares("bob", (2, 0), || list("b"))[0].name, "b");
        assert_eq!(views.shares("bob", (2, 1), || list("c"))[0].name, "c");
        assert_eq!(views.shares("carol", (2, 1), || list("d"))[0].name, "d");
        assert_eq!(listed.get(), 4);
        assert!(views.merged("bob", (2, 1), Vec::new).is_empty());
    }
}
