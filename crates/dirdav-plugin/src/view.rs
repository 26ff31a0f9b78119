//! Views: collections whose members a plugin computes ([`View`]).

use std::sync::Arc;

use crate::{Resource, Store};

/// Lists the collections a view is made from, for one user ([`View::sources`]).
pub type SourcesHook = Arc<dyn Fn(&str, &dyn Store) -> Vec<String> + Send + Sync>;

/// Makes a view's members from one item of its sources: `(name, bytes)` pairs, none
/// for an item that gives nothing ([`View::members_from`]).
pub type MembersHook = Arc<dyn Fn(&Resource, &[u8]) -> Vec<(String, Vec<u8>)> + Send + Sync>;

/// A collection in every user's home whose members a plugin computes from the items of
/// other collections: a birthdays calendar from the cards of the user's address books.
///
/// The core lists it in the home (`/<user>/<name>/`) unless a real folder has that
/// name, answers it as a collection of its kind (a `calendar` view gets CalDAV's
/// reports, multiget and export, and its members the kind's summaries), keeps its sync
/// log by comparing each member's name and ETag whenever its sources changed (tokens
/// survive restarts and follow outside edits of the sources), and refuses every write
/// to it. Members are made again only from source items whose ETag changed.
///
/// ```
/// use dirdav_plugin::{Registry, Plugin, Registrar, View};
///
/// struct Shouting;
/// impl Plugin for Shouting {
///     fn register(&self, r: &mut Registrar<'_>) {
///         r.view(
///             View::new("shouting", "notes")
///                 .setting("displayname", "Shouting")
///                 .sources(|user, _store| vec![format!("{user}/notes")])
///                 .members_from(|item, bytes| {
///                     let name = item.path.rsplit('/').next().unwrap_or("").to_owned();
///                     vec![(name, bytes.to_ascii_uppercase())]
///                 }),
///         );
///     }
/// }
/// let mut registry = Registry::default();
/// registry.register(&Shouting);
/// assert_eq!(registry.views[0].item.name, "shouting");
/// ```
#[derive(Clone)]
#[allow(missing_debug_implementations)] // closures have no useful Debug
pub struct View {
    /// Its name in each home: the last segment of its path.
    pub name: String,
    /// The kind it is answered as (`"calendar"`), as a folder whose settings say
    /// `kind = ...`.
    pub kind: String,
    /// Its settings, as a folder's `.dav.toml` would hold them (`displayname`, the
    /// kind's tables).
    pub settings: toml::Table,
    /// The collections it is made from for a user, read through a store that shows
    /// what that user may read. Asked again when folders or their settings change, or
    /// the known users do.
    pub sources: SourcesHook,
    /// Makes members from one item of a source.
    pub members: MembersHook,
}

impl View {
    /// A view named `name` of `kind`, with no sources yet.
    pub fn new(name: &str, kind: &str) -> View {
        View {
            name: name.to_owned(),
            kind: kind.to_owned(),
            settings: toml::Table::new(),
            sources: Arc::new(|_, _| Vec::new()),
            members: Arc::new(|_, _| Vec::new()),
        }
    }

    /// A setting, as a key of a `.dav.toml` would give it (`displayname`).
    pub fn setting(mut self, key: &str, value: impl Into<toml::Value>) -> View {
        self.settings.insert(key.to_owned(), value.into());
        self
    }

    /// Where its members come from: the paths of the collections it is made from for a
    /// user. The store shows only what that user may read.
    pub fn sources(
        mut self,
        sources: impl Fn(&str, &dyn Store) -> Vec<String> + Send + Sync + 'static,
    ) -> View {
        self.sources = Arc::new(sources);
        self
    }

    /// How its members are made from each item of its sources.
    pub fn members_from(
        mut self,
        members: impl Fn(&Resource, &[u8]) -> Vec<(String, Vec<u8>)> + Send + Sync + 'static,
    ) -> View {
        self.members = Arc::new(members);
        self
    }
}
