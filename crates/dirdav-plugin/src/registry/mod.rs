//! What the plugins registered ([`Registry`]), and the live properties they define.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use dirdav_xml::{Element, Name};

use crate::{Configs, DavError, Principal, Resource, SharedHandler, Store};

mod hooks;
mod registrar;

pub use hooks::*;
pub use registrar::{Plugin, Registrar};

/// Everything a property getter may look at: in-memory data only.
#[derive(Debug)]
pub struct PropContext<'a> {
    /// The resource whose property is asked for.
    pub resource: &'a Resource,
    /// The user asking.
    pub principal: Option<&'a Principal>,
    /// What every plugin registered (for `supported-report-set` and the like).
    pub registry: &'a Registry,
    /// The core's read API (hrefs, resolution).
    pub store: &'a dyn Store,
}

impl PropContext<'_> {
    /// The href of the home a home-set property (`calendar-home-set`,
    /// `addressbook-home-set`) names here: a user's home is `/<user>/`, so a top-level
    /// collection names itself and the root names the asking user's home. `None`
    /// elsewhere, and at the root for an anonymous request.
    pub fn home_set_href(&self) -> Option<String> {
        let path = self.resource.path.as_str();
        if !self.resource.is_collection || path.contains('/') {
            return None;
        }
        let home = if path.is_empty() {
            &*self.principal?.name
        } else {
            path
        };
        Some(self.store.href_of(home, true))
    }

    /// A home-set property (`CALDAV:calendar-home-set`, `CARDDAV:addressbook-home-set`)
    /// holding [`PropContext::home_set_href`].
    pub fn home_set(&self, name: Name) -> Option<Element> {
        let href = Element::with_text(
            Name::new(dirdav_xml::ns::DAV, "href"),
            self.home_set_href()?,
        );
        Some(Element::new(name).child_element(href))
    }
}

/// Computes a live property's value; `None` means the resource has no such property
/// (a 404 in the propstat).
pub type PropGetter = Arc<dyn Fn(&PropContext<'_>) -> Option<Element> + Send + Sync>;

/// A live property: computed by a getter, or stored as a string in the collection's
/// `.dav.toml` at a key path (then PROPPATCH can set it).
#[derive(Clone)]
pub struct LiveProperty {
    /// The property name.
    pub name: Name,
    /// Computes the value; for stored properties without a getter, the core reads the key.
    pub getter: Option<PropGetter>,
    /// Where a writable property is kept in `.dav.toml`, e.g. `["caldav", "timezone"]`.
    pub stored_at: Option<&'static [&'static str]>,
    /// Whether `allprop` includes it (RFC 4918 §9.1: some live properties need not be).
    pub in_allprop: bool,
    /// Checks a value before PROPPATCH, MKCOL or MKCALENDAR stores it; an error refuses
    /// that property (and so the whole request) with its precondition.
    pub check: Option<ValueCheck>,
    /// Reads the text to store from the element a client sets, for a property whose
    /// value is an element (`<C:schedule-calendar-transp><C:transparent/>…`); without
    /// it, the element's text is stored.
    pub reader: Option<ValueReader>,
}

/// Reads the text to store from a stored property's new value ([`LiveProperty::reader`]).
pub type ValueReader = Arc<dyn Fn(&Element) -> Result<String, DavError> + Send + Sync>;

/// Checks the text of a stored property's new value ([`LiveProperty::checked`]).
pub type ValueCheck = Arc<dyn Fn(&str) -> Result<(), DavError> + Send + Sync>;

impl LiveProperty {
    /// A protected, computed property included in `allprop`.
    pub fn computed(
        name: Name,
        getter: impl Fn(&PropContext<'_>) -> Option<Element> + Send + Sync + 'static,
    ) -> Self {
        LiveProperty {
            name,
            getter: Some(Arc::new(getter)),
            stored_at: None,
            in_allprop: true,
            check: None,
            reader: None,
        }
    }

    /// A protected, computed property that only collections of `kind` have (a 404 in
    /// the propstat elsewhere).
    pub fn on_collections_of(
        kind: &'static str,
        name: Name,
        value: impl Fn(&PropContext<'_>) -> Element + Send + Sync + 'static,
    ) -> Self {
        Self::computed(name, move |ctx| {
            ctx.resource.is_collection_of(kind).then(|| value(ctx))
        })
    }

    /// A writable property kept as a string at `key` in a collection's `.dav.toml`.
    /// On files it behaves as a dead property.
    pub fn stored(name: Name, key: &'static [&'static str]) -> Self {
        LiveProperty {
            name,
            getter: None,
            stored_at: Some(key),
            in_allprop: true,
            check: None,
            reader: None,
        }
    }

    /// A stored property whose value is one of a few empty elements, as RFC 6638's
    /// `schedule-calendar-transp` (`opaque` or `transparent`): only collections of
    /// `kind` have it; the chosen element's name is kept at `key` and reported as
    /// `<name><choice/></name>`, the first choice when none is kept. Setting anything
    /// but one of the choices is refused with 409 (RFC 4918 §9.2.1).
    pub fn stored_choice(
        kind: &'static str,
        name: Name,
        key: &'static [&'static str],
        choices: &'static [Name],
    ) -> Self {
        let shown = name.clone();
        let choice_of = move |value: &str| {
            choices
                .iter()
                .find(|c| c.local().eq_ignore_ascii_case(value.trim()))
        };
        LiveProperty {
            getter: Some(Arc::new(move |ctx: &PropContext<'_>| {
                if !ctx.resource.is_collection_of(kind) {
                    return None;
                }
                let kept = ctx.resource.collection.string_at(key);
                let choice = kept.and_then(choice_of).or(choices.first())?;
                Some(Element::new(shown.clone()).child_element(Element::new(choice.clone())))
            })),
            reader: Some(Arc::new(move |element: &Element| {
                let mut children = element.elements();
                match (children.next(), children.next()) {
                    (Some(choice), None) if choices.contains(&choice.name) => {
                        Ok(choice.name.local().to_owned())
                    }
                    _ => Err(DavError::conflict(format!(
                        "{} takes one of: {}",
                        element.name.local(),
                        choices
                            .iter()
                            .map(Name::local)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))),
                }
            })),
            ..Self::stored(name, key)
        }
    }

    /// The text to store for the element a client sets: read by [`LiveProperty::reader`]
    /// or the element's text, then checked ([`LiveProperty::checked`]).
    pub fn value_of(&self, element: &Element) -> Result<String, DavError> {
        let value = match &self.reader {
            Some(read) => read(element)?,
            None => element.text(),
        };
        if let Some(check) = &self.check {
            check(&value)?;
        }
        Ok(value)
    }

    /// Like [`LiveProperty::stored`], for a property that only collections of `kind`
    /// have: others answer 404 for it even when the key is set (a calendar's
    /// `description` is no `addressbook-description`).
    pub fn stored_on(kind: &'static str, name: Name, key: &'static [&'static str]) -> Self {
        let shown = name.clone();
        LiveProperty {
            getter: Some(Arc::new(move |ctx: &PropContext<'_>| {
                if !ctx.resource.is_collection_of(kind) {
                    return None;
                }
                let value = ctx.resource.collection.string_at(key)?;
                Some(Element::with_text(shown.clone(), value))
            })),
            ..Self::stored(name, key)
        }
    }

    /// Checks each value a client sets before it is stored: `calendar-timezone` must be
    /// an iCalendar object with one VTIMEZONE (RFC 4791 §5.2.2).
    #[must_use]
    pub fn checked(
        mut self,
        check: impl Fn(&str) -> Result<(), DavError> + Send + Sync + 'static,
    ) -> Self {
        self.check = Some(Arc::new(check));
        self
    }

    /// Leaves the property out of `allprop`; clients get it by naming it.
    #[must_use]
    pub fn not_in_allprop(mut self) -> Self {
        self.in_allprop = false;
        self
    }
}

impl fmt::Debug for LiveProperty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveProperty")
            .field("name", &self.name)
            .field("stored_at", &self.stored_at)
            .finish_non_exhaustive()
    }
}

/// Everything the plugins registered. The core computes the `DAV:` header, `Allow`,
/// `supported-report-set`, `allprop` and namespace prefixes from it.
#[derive(Default)]
pub struct Registry {
    /// Compliance tokens for the `DAV:` header, in registration order.
    pub compliance: Vec<&'static str>,
    /// Namespace → prefix.
    pub prefixes: Vec<(&'static str, &'static str)>,
    /// Collection kind → the extra resourcetype elements of its collections.
    pub kinds: BTreeMap<String, Owned<Vec<Name>>>,
    /// Live properties in registration order.
    pub properties: Vec<Owned<LiveProperty>>,
    /// REPORT handlers by the report's root element.
    pub reports: BTreeMap<Name, Owned<Report>>,
    /// Extra methods (MKCALENDAR).
    pub methods: BTreeMap<String, Owned<SharedHandler>>,
    /// Extra methods left out of `Allow` ([`Registrar::method_unlisted`]).
    pub unlisted_methods: std::collections::BTreeSet<String>,
    /// Checks before a write, with the collections they apply to.
    pub write_checks: Vec<Owned<(Applies, Check)>>,
    /// Observers after a write.
    pub observers: Vec<Owned<Observer>>,
    /// Hooks before a method runs.
    pub before_method: Vec<Owned<BeforeMethod>>,
    /// Filters deciding which members a principal sees.
    pub member_filters: Vec<Owned<MemberFilter>>,
    /// True while every member filter judges a file by its folder alone
    /// ([`Registrar::member_filter_by_folder`]).
    pub filters_by_folder: bool,
    /// Extra routes by path prefix (`/.well-known/caldav`).
    pub routes: Vec<Owned<Route>>,
    /// Summarizers by collection kind.
    pub summarizers: BTreeMap<String, Owned<Summarizer>>,
    /// Handlers for GET and HEAD on collections, by collection kind.
    pub collection_get: BTreeMap<String, Owned<SharedHandler>>,
    /// The handler of GET and HEAD on collections for browsers ([`Registrar::browser_page`]).
    pub browser_page: Option<Owned<SharedHandler>>,
    /// Hooks run before a principal's first request (creating its home).
    pub first_request: Vec<Owned<PrincipalHook>>,
    /// Hooks listing the collections shared with a user.
    pub shares: Vec<Owned<SharesHook>>,
    /// Hooks listing the merged collections of a user's home.
    pub merged: Vec<Owned<MergedHook>>,
    /// The `.dav.toml` tables plugins read as types, by name ([`Registrar::settings`]).
    pub tables: BTreeMap<String, Owned<TableCheck>>,
    /// Collections whose members plugins compute, by name ([`Registrar::view`]).
    pub views: Vec<Owned<crate::View>>,
    /// The keeper of write locks, if a plugin keeps them (RFC 4918 class 2).
    pub locks: Option<Owned<Arc<dyn crate::LockKeeper>>>,
    /// Checks before a write brings bytes (quotas).
    pub space_checks: Vec<Owned<SpaceHook>>,
    /// Hooks after an item of a kind changed, by collection kind.
    pub item_hooks: Vec<Owned<(String, ItemHook)>>,
    /// Extra response headers for items of a kind ([`Registrar::item_headers`]).
    pub item_headers: Vec<Owned<(String, ItemHeaders)>>,
    /// Values of stored properties a collection does not set ([`Registrar::fallback`]).
    pub fallbacks: Vec<Owned<(Name, PropGetter)>>,
    conflicts: Vec<String>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("compliance", &self.compliance)
            .field("prefixes", &self.prefixes)
            .field("kinds", &self.kinds.keys().collect::<Vec<_>>())
            .field(
                "properties",
                &self
                    .properties
                    .iter()
                    .map(|p| &p.item.name)
                    .collect::<Vec<_>>(),
            )
            .field("reports", &self.reports.keys().collect::<Vec<_>>())
            .field("methods", &self.methods.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Fails if two plugins registered the same name, naming both.
    ///
    /// Also fails if a plugin extends a collection kind (its summaries, item headers,
    /// item hooks, collection GET, a view of it) that no plugin registers: that plugin
    /// needs the one that makes the kind (scheduling needs CalDAV).
    pub fn check(&self) -> Result<(), RegistryError> {
        let mut problems = self.conflicts.clone();
        let extended = (self.summarizers.iter().map(|(k, o)| (k.as_str(), o.plugin)))
            .chain(
                self.collection_get
                    .iter()
                    .map(|(k, o)| (k.as_str(), o.plugin)),
            )
            .chain(
                self.item_hooks
                    .iter()
                    .map(|o| (o.item.0.as_str(), o.plugin)),
            )
            .chain(
                self.item_headers
                    .iter()
                    .map(|o| (o.item.0.as_str(), o.plugin)),
            )
            .chain(self.views.iter().map(|o| (o.item.kind.as_str(), o.plugin)));
        for (kind, plugin) in extended {
            let missing =
                format!("{plugin} extends the collection kind {kind:?}, which no plugin registers");
            if !self.kinds.contains_key(kind) && !problems.contains(&missing) {
                problems.push(missing);
            }
        }
        match problems.is_empty() {
            true => Ok(()),
            false => Err(RegistryError(problems)),
        }
    }

    /// The live property with this name.
    pub fn property(&self, name: &Name) -> Option<&LiveProperty> {
        self.properties
            .iter()
            .map(|p| &p.item)
            .find(|p| p.name == *name)
    }

    /// The names of the reports a resource supports.
    pub fn reports_for(&self, resource: &Resource) -> Vec<&Name> {
        self.reports
            .iter()
            .filter(|(_, r)| (r.item.applies)(resource))
            .map(|(n, _)| n)
            .collect()
    }

    /// The prefix declared for a namespace.
    pub fn prefix(&self, ns: &str) -> Option<&'static str> {
        self.prefixes
            .iter()
            .find(|(n, _)| *n == ns)
            .map(|(_, p)| *p)
    }

    /// The collections shared with a user, from every plugin's hook; the first of two
    /// with the same name wins.
    pub fn shares_for(&self, user: &str, store: &dyn Store) -> Vec<Share> {
        let mut shares: Vec<Share> = Vec::new();
        for share in self.shares.iter().flat_map(|h| (h.item)(user, store)) {
            if !share.target.is_empty()
                && !share.name.is_empty()
                && !share.name.contains('/')
                && !shares.iter().any(|s| s.name == share.name)
            {
                shares.push(share);
            }
        }
        shares
    }

    /// The merged collections of a user's home, from every plugin's hook; the first of
    /// two with the same name wins, and one without sources is dropped.
    pub fn merged_for(&self, user: &str, store: &dyn Store) -> Vec<Merged> {
        let mut merged: Vec<Merged> = Vec::new();
        for m in self.merged.iter().flat_map(|h| (h.item)(user, store)) {
            if !m.sources.is_empty()
                && !m.name.is_empty()
                && !m.name.contains('/')
                && !merged.iter().any(|x| x.name == m.name)
            {
                merged.push(m);
            }
        }
        merged
    }

    /// The fallback value of a stored property ([`Registrar::fallback`]).
    pub fn fallback_value(&self, name: &Name, ctx: &PropContext<'_>) -> Option<Element> {
        self.fallbacks
            .iter()
            .filter(|f| f.item.0 == *name)
            .find_map(|f| (f.item.1)(ctx))
    }

    /// The extra response headers for an item ([`Registrar::item_headers`]).
    pub fn headers_for_item(&self, item: &Resource) -> Vec<(http::HeaderName, http::HeaderValue)> {
        let Some(kind) = item.kind().filter(|_| !item.is_collection) else {
            return Vec::new();
        };
        self.item_headers
            .iter()
            .filter(|h| h.item.0 == kind)
            .flat_map(|h| (h.item.1)(item))
            .collect()
    }

    /// The hooks run after an item of a collection of `kind` changed.
    pub fn item_hooks_for(&self, kind: Option<&str>) -> Vec<ItemHook> {
        let Some(kind) = kind else {
            return Vec::new();
        };
        self.item_hooks
            .iter()
            .filter(|h| h.item.0 == kind)
            .map(|h| h.item.1.clone())
            .collect()
    }

    /// The summarizer for items of a collection kind.
    pub fn summarizer(&self, kind: Option<&str>) -> Option<&Summarizer> {
        self.summarizers.get(kind?).map(|s| &s.item)
    }

    /// True when a write check applies to writes into `parent`.
    pub fn checks_writes_into(&self, parent: &Resource) -> bool {
        self.write_checks.iter().any(|c| (c.item.0)(parent))
    }

    /// Runs the space checks (quotas): the first refusal answers.
    pub fn check_space(&self, write: &SpaceCheck<'_>) -> Result<(), DavError> {
        self.space_checks.iter().try_for_each(|c| (c.item)(write))
    }

    /// Runs every write check that applies to the write's collection, in registration
    /// order; the first refusal answers.
    pub fn check_write(&self, write: &WriteCheck<'_>) -> Result<(), DavError> {
        self.write_checks
            .iter()
            .filter(|c| (c.item.0)(write.parent))
            .try_for_each(|c| (c.item.1)(write))
    }

    /// True when this principal may see this resource in listings; `configs` answers
    /// the settings of its ancestors.
    pub fn visible(
        &self,
        resource: &Resource,
        principal: Option<&Principal>,
        configs: &dyn Configs,
    ) -> bool {
        self.member_filters
            .iter()
            .all(|f| (f.item)(resource, principal, configs))
    }

    /// Decides [`Registry::visible`] for the members of a listing, one after another:
    /// when every filter judges a file by its folder, the files of one folder cost one
    /// decision, not one each.
    pub fn visibility<'a>(
        &'a self,
        principal: Option<&'a Principal>,
        configs: &'a dyn Configs,
    ) -> Visibility<'a> {
        Visibility {
            registry: self,
            principal,
            configs,
            last: None,
        }
    }
}

/// [`Registry::visible`] for many resources in a row ([`Registry::visibility`]).
#[allow(missing_debug_implementations)] // holds a `dyn Configs`
pub struct Visibility<'a> {
    registry: &'a Registry,
    principal: Option<&'a Principal>,
    configs: &'a dyn Configs,
    /// The folder of the last file decided, and the decision.
    last: Option<(String, bool)>,
}

impl Visibility<'_> {
    /// Whether the principal may see this resource in listings.
    pub fn sees(&mut self, resource: &Resource) -> bool {
        let registry = self.registry;
        if registry.member_filters.is_empty() {
            return true;
        }
        if resource.is_collection || !registry.filters_by_folder {
            return registry.visible(resource, self.principal, self.configs);
        }
        let folder = crate::path::parent(&resource.path);
        if let Some((last, seen)) = &self.last
            && last == folder
        {
            return *seen;
        }
        let seen = registry.visible(resource, self.principal, self.configs);
        self.last = Some((folder.to_owned(), seen));
        seen
    }
}

/// Two plugins registered the same name, or a plugin extends a kind none registers.
#[derive(Debug, thiserror::Error)]
#[error("the plugins cannot run together: {}", .0.join("; "))]
pub struct RegistryError(pub Vec<String>);
