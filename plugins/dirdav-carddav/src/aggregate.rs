//! The aggregated address book: one address book in a user's home that merges every
//! address book the user can read, for clients that show only one per account (macOS
//! Contacts, iOS). The core does the merging ([`Merged`]); this module decides when
//! there is one and what it merges, from `[carddav]` in the home's `.dav.toml` or, for
//! every home, the root's:
//!
//! ```toml
//! [carddav]
//! aggregate = "user-agent"   # "never", "always", or "user-agent" (the default)
//! aggregate-user-agents = ["AddressBook", "dataaccessd"]   # the default
//! aggregate-name = "all-contacts"                          # the default
//! aggregate-default = "contacts"   # the book new cards go to; default: the first
//! ```
//!
//! With `"always"` every client sees the aggregated book in the home instead of the
//! separate ones; with `"user-agent"` only clients whose `User-Agent` contains one of
//! the strings do. Either way it answers at its href, and a user with only one address
//! book gets none.

use dirdav_plugin::{Merged, Principal, Store};

use crate::KIND;

/// The User-Agent fragments of clients that show one address book per account:
/// macOS Contacts (`AddressBookCore`, earlier `AddressBook`) and iOS (`dataaccessd`).
const ONE_BOOK_CLIENTS: [&str; 2] = ["AddressBook", "dataaccessd"];

/// A setting from the home's `[carddav]` table, else the root's.
fn setting<'a>(
    home: Option<&'a toml::Table>,
    root: Option<&'a toml::Table>,
    key: &str,
) -> Option<&'a toml::Value> {
    home.and_then(|t| t.get(key))
        .or_else(|| root.and_then(|t| t.get(key)))
}

/// The aggregated address book of `user`'s home, if it has one.
pub(crate) fn merged(user: &str, store: &dyn Store) -> Vec<Merged> {
    let home_config = store.config(user);
    let root_config = store.config("");
    let home = home_config.as_deref().and_then(|c| c.table("carddav"));
    let root = root_config.as_deref().and_then(|c| c.table("carddav"));
    let get = |key: &str| setting(home, root, key);
    let instead_for = match get("aggregate").and_then(|v| v.as_str()) {
        Some("never") => return Vec::new(),
        Some("always") => None,
        _ => Some(
            match get("aggregate-user-agents").and_then(|v| v.as_array()) {
                Some(list) => list
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                None => ONE_BOOK_CLIENTS.map(str::to_owned).to_vec(),
            },
        ),
    };
    let name = get("aggregate-name")
        .and_then(|v| v.as_str())
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .unwrap_or("all-contacts");
    let principal = Principal::new(user);
    let prefix = format!("{user}/");
    let books: Vec<String> = store
        .collections()
        .into_iter()
        .filter(|c| c.kind() == Some(KIND))
        .filter(|c| store.visible(c, Some(&principal)))
        .map(|c| c.path)
        .collect();
    let mut sources: Vec<String> = books
        .iter()
        .filter(|p| p.starts_with(&prefix))
        .chain(books.iter().filter(|p| !p.starts_with(&prefix)))
        .cloned()
        .collect();
    if let Some(default) = get("aggregate-default").and_then(|v| v.as_str()) {
        let default = format!("{prefix}{}", default.trim_matches('/'));
        if let Some(i) = sources.iter().position(|s| *s == default) {
            let book = sources.remove(i);
            sources.insert(0, book);
        }
    }
    if sources.len() < 2 {
        return Vec::new();
    }
    vec![Merged {
        name: name.to_owned(),
        displayname: Some("All contacts".to_owned()),
        sources,
        instead_for,
    }]
}
