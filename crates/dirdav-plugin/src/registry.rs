use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use dirdav_xml::{Element, Name};
use http::Method;

use crate::{Configs, DavError, Principal, Resource, SharedHandler, Store, handler::Handler};

/// A dirdav plugin: a value that registers what it contributes on a [`Registrar`].
///
/// Registration happens once, when the server is built; the registered closures and
/// handlers then run on every request that concerns them.
pub trait Plugin: Send + Sync + 'static {
    /// The name used in errors about conflicting registrations.
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// Registers the plugin's contributions.
    fn register(&self, registrar: &mut Registrar<'_>);
}

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

/// A file about to be written into a collection of the kind the check was registered for.
#[derive(Debug)]
pub struct WriteCheck<'a> {
    /// The decoded path of the target file.
    pub path: &'a str,
    /// The collection it goes into.
    pub parent: &'a Resource,
    /// The file it replaces, if any.
    pub existing: Option<&'a Resource>,
    /// The media type of what is written: a PUT's `Content-Type`, or for a COPY or MOVE
    /// the source's type as GET would give it (from its name).
    pub content_type: Option<&'a str>,
    /// The bytes that will be stored, exactly as sent.
    pub body: &'a [u8],
    /// The bytes of the file it replaces, when it replaces one (`existing`) that could
    /// be read and a plugin watches the items of this kind
    /// ([`Registrar::after_item_change`]): scheduling compares an attendee's edit with
    /// what it changes. Elsewhere `None`, so that no other write reads the old file.
    pub before: Option<&'a [u8]>,
    /// For a MOVE, the item being moved: it leaves, so its UID is no conflict.
    pub moving: Option<&'a str>,
    /// Who writes (`None`: an anonymous request), for per-user policies.
    pub principal: Option<&'a Principal>,
    /// A plugin writes on its own behalf ([`Agent`]): a delivery, not a person's edit.
    pub by_agent: bool,
    /// The core's read API.
    pub store: &'a dyn Store,
}

impl WriteCheck<'_> {
    /// The media type's essence (`text/calendar` of `text/calendar; charset=utf-8`),
    /// when one was given.
    pub fn media_type(&self) -> Option<&str> {
        self.content_type
            .map(crate::media_essence)
            .filter(|t| !t.is_empty())
    }

    /// Whether the write's media type names a format other than the collection's
    /// (`accepted`, essences compared without case): XML or JSON of any kind, HTML,
    /// or one of `others` (vCard into a calendar, iCalendar into an address book).
    /// Types that say nothing of a format (none, `application/octet-stream`,
    /// `text/plain`, a form's) do not: clients send those for whatever they upload.
    pub fn names_another_format(&self, accepted: &[&str], others: &[&str]) -> bool {
        let Some(essence) = self.media_type() else {
            return false;
        };
        let e = essence.to_ascii_lowercase();
        if accepted.iter().any(|a| a.eq_ignore_ascii_case(&e)) {
            return false;
        }
        e.ends_with("/xml")
            || e.ends_with("+xml")
            || e.ends_with("/json")
            || e.ends_with("+json")
            || e == "text/html"
            || others.iter().any(|o| o.eq_ignore_ascii_case(&e))
    }

    /// Another item of the target collection with this UID (by the index's summaries),
    /// for the `no-uid-conflict` preconditions of CalDAV and CardDAV. The item being
    /// replaced or moved is no conflict.
    pub fn uid_taken(&self, uid: &str) -> Option<Resource> {
        let name = self.path.rsplit('/').next().unwrap_or("");
        self.store
            .members_with_uid(&self.parent.path, uid)
            .into_iter()
            .find(|m| m.name() != name && Some(m.path.as_str()) != self.moving)
    }

    /// The `no-uid-conflict` precondition (RFC 4791 §5.3.2.1, RFC 6352 §6.3.2.1): 403
    /// with `condition` holding the href of the item that already has this UID, or of
    /// the item being replaced when it has another UID (a write may not change the UID
    /// of the resource it replaces).
    pub fn require_unique_uid(&self, uid: &str, condition: Name) -> Result<(), DavError> {
        if let Some(existing) = self.existing
            && let Some(old) = existing.summary.as_ref().and_then(|s| s.uid.as_deref())
            && old != uid
        {
            let href = Element::with_text(
                Name::new(dirdav_xml::ns::DAV, "href"),
                existing.href.clone(),
            );
            return Err(DavError::forbidden(format!(
                "{} holds UID {old}; a write may not change it to {uid}",
                existing.path
            ))
            .condition_element(Element::new(condition).child_element(href)));
        }
        let Some(other) = self.uid_taken(uid) else {
            return Ok(());
        };
        let href = Element::with_text(Name::new(dirdav_xml::ns::DAV, "href"), other.href);
        Err(
            DavError::forbidden(format!("UID {uid} is used by {}", other.path))
                .condition_element(Element::new(condition).child_element(href)),
        )
    }
}

/// A collection shown in a user's home although it lives elsewhere: one shared with
/// them. The core lists it among the home's members as `/<user>/<name>/` and answers
/// every request below that href from `target`, with hrefs under the shown one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Share {
    /// The member name in the user's home. A real folder of that name wins.
    pub name: String,
    /// The decoded path of the collection it shows.
    pub target: String,
    /// The display name the share shows instead of the collection's own (so that
    /// alice's "Personal" is not mistaken for bob's), if any.
    pub displayname: Option<String>,
}

/// A collection shown in a user's home that merges several collections of one kind
/// into one, for clients that show only one per account (macOS Contacts with address
/// books). Nothing is copied: the core lists the members of every source under
/// `/<user>/<name>/` and answers a request for one of them from its source.
///
/// Members of the first source keep their names; members of the others are shown as
/// `<label>~<name>`, the label being the source's path below the home (or below the
/// root, for a source outside it) with `/` as `-`. A new member written through the
/// merged collection lands in the first source. A real folder of the same name wins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merged {
    /// The member name in the user's home.
    pub name: String,
    /// Its display name.
    pub displayname: Option<String>,
    /// The decoded paths of the merged collections; the first takes new members.
    pub sources: Vec<String>,
    /// Which clients see it in the home's listing *instead of* its sources: every
    /// client (`None`), or those whose `User-Agent` contains one of these strings,
    /// compared ASCII-caselessly. Others see the sources; the merged collection still
    /// answers at its href.
    pub instead_for: Option<Vec<String>>,
}

impl Merged {
    /// Whether a client with this `User-Agent` sees this collection in place of its
    /// sources.
    pub fn listed_for(&self, user_agent: Option<&str>) -> bool {
        match &self.instead_for {
            None => true,
            Some(patterns) => user_agent.is_some_and(|ua| {
                let ua = ua.to_ascii_lowercase();
                patterns
                    .iter()
                    .any(|p| !p.is_empty() && ua.contains(&p.to_ascii_lowercase()))
            }),
        }
    }
}

/// A change that has landed on disk, for observers.
#[derive(Debug, Clone)]
pub struct WriteEvent {
    /// The method that made it.
    pub method: Method,
    /// The decoded path the request was about.
    pub target: String,
    /// The decoded destination of a COPY or MOVE.
    pub destination: Option<String>,
    /// Every path below the root it created, changed or removed, including the
    /// `.dav.toml` files it edited; folders stand for everything in them.
    pub paths: Vec<String>,
    /// Who made it.
    pub principal: Option<Principal>,
}

/// A change to an item that has landed ([`Registrar::after_item_change`]): a PUT or a
/// DELETE of a file in a collection of the hook's kind, with the bytes before and after.
#[allow(missing_debug_implementations)] // the store has no useful Debug
pub struct ItemChange {
    /// `PUT` or `DELETE`; `DELETE` too for each item of a collection deleted, and for an
    /// item moved out into a collection of another kind (`path` is where it was).
    pub method: Method,
    /// The item's decoded path.
    pub path: String,
    /// The headers of the request that made the change (`Schedule-Reply`, say).
    pub headers: http::HeaderMap,
    /// What it held before, if it existed.
    pub before: Option<bytes::Bytes>,
    /// What it holds now; `None` once deleted.
    pub after: Option<bytes::Bytes>,
    /// Who made the change.
    pub principal: Option<Principal>,
    /// The request was made by a plugin on its own behalf (it carried [`Agent`]): a
    /// delivery, not a person's edit.
    pub by_agent: bool,
    /// The whole tree, unscoped: act as a user with [`Store::acting_for`].
    pub store: Arc<dyn Store>,
}

/// Put into the extensions of a request a plugin makes on its own behalf through
/// [`Store::request`] (scheduling delivering an invitation), so that
/// [`ItemChange::by_agent`] tells it from a person's edit. Clients cannot set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Agent;

/// What [`Registrar::item_headers`] runs: the headers to add for an item.
pub type ItemHeaders =
    Arc<dyn Fn(&Resource) -> Vec<(http::HeaderName, http::HeaderValue)> + Send + Sync>;

/// What [`Registrar::after_item_change`] runs.
pub type ItemHook = Arc<dyn Fn(ItemChange) -> crate::BoxFuture<'static, ()> + Send + Sync>;

/// A write about to bring bytes below a folder, for space checks
/// ([`Registrar::space_check`]): quotas. PUT asks before the body arrives (with its
/// `Content-Length`, when given) and again with the bytes received; COPY and MOVE ask
/// with the size of what they bring.
#[derive(Debug)]
pub struct SpaceCheck<'a> {
    /// The method.
    pub method: &'a Method,
    /// Where the bytes land: the file or folder written.
    pub path: &'a str,
    /// Where they come from when they only move (a MOVE's source): a quota holding
    /// both places gains nothing.
    pub from: Option<&'a str>,
    /// Bytes that arrive at `path`.
    pub adding: u64,
    /// Bytes at `path` now that the write replaces.
    pub replacing: u64,
    /// Bytes of this very write that [`Store::usage`] already counts (an upload in
    /// flight counts what it has received or declared); they are in `adding` too.
    pub uploading: u64,
    /// Who writes.
    pub principal: Option<&'a Principal>,
    /// A plugin writes on its own behalf ([`Agent`]): a delivery into a user's inbox
    /// and calendar, which quotas may let exceed a limit by a bounded margin.
    pub by_agent: bool,
    /// The core's read API ([`Store::usage`], [`Store::config`](crate::Configs::config)).
    pub store: &'a dyn Store,
}

/// A request about to run, for before-method hooks (authorization).
pub struct MethodCheck<'a> {
    /// The method.
    pub method: &'a Method,
    /// The decoded target path.
    pub path: &'a str,
    /// The target, if it exists.
    pub resource: Option<&'a Resource>,
    /// The decoded `Destination` of COPY and MOVE.
    pub destination: Option<&'a str>,
    /// What exists at `destination`, if anything (it would be overwritten).
    pub destination_resource: Option<&'a Resource>,
    /// True for a request to a plugin's route ([`Registrar::route`]): it lies outside
    /// the tree, `path` is the path as sent and `resource` is `None`.
    pub route: bool,
    /// Who asks.
    pub principal: Option<&'a Principal>,
    /// The request's headers (conditions plugins evaluate, as `If-Schedule-Tag-Match`).
    pub headers: &'a http::HeaderMap,
    /// The core's read API; as a [`Configs`], it answers the settings of ancestors.
    pub store: &'a dyn Store,
}

impl MethodCheck<'_> {
    /// Whether this COPY or MOVE takes a collection of `kind` (the source, or one below
    /// it) into a collection that has a kind (the destination's folder or one above it):
    /// RFC 4791 §4.2 and RFC 6352 §5.2 forbid calendars and address books inside
    /// calendars, address books and the like, at any depth. Plain folders stay allowed.
    pub fn nests_kind(&self, kind: &str) -> bool {
        if !matches!(self.method.as_str(), "COPY" | "MOVE") {
            return false;
        }
        let (Some(source), Some(destination)) = (self.resource, self.destination) else {
            return false;
        };
        if !source.is_collection {
            return false;
        }
        let carries = source.is_collection_of(kind)
            || self
                .store
                .collections_within(&source.path)
                .iter()
                .any(|c| c.is_collection_of(kind));
        carries
            && crate::path::ancestors(crate::path::parent(destination)).any(|folder| {
                self.store
                    .resource(folder)
                    .is_some_and(|r| r.is_collection && r.kind().is_some())
            })
    }
}

impl fmt::Debug for MethodCheck<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MethodCheck")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("destination", &self.destination)
            .field("route", &self.route)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

type Check = Arc<dyn Fn(&WriteCheck<'_>) -> Result<(), DavError> + Send + Sync>;
type SpaceHook = Arc<dyn Fn(&SpaceCheck<'_>) -> Result<(), DavError> + Send + Sync>;
type Observer = Arc<dyn Fn(&WriteEvent) + Send + Sync>;
type BeforeMethod = Arc<dyn Fn(&MethodCheck<'_>) -> Result<(), DavError> + Send + Sync>;
type MemberFilter = Arc<dyn Fn(&Resource, Option<&Principal>, &dyn Configs) -> bool + Send + Sync>;
type Applies = Arc<dyn Fn(&Resource) -> bool + Send + Sync>;
/// Lists the collections shared with a user (see [`Share`]).
pub type SharesHook = Arc<dyn Fn(&str, &dyn Store) -> Vec<Share> + Send + Sync>;
/// Lists the merged collections of a user's home (see [`Merged`]).
pub type MergedHook = Arc<dyn Fn(&str, &dyn Store) -> Vec<Merged> + Send + Sync>;
/// Runs once per principal per server process, before its first request is answered.
pub type PrincipalHook = Arc<
    dyn Fn(Principal, Arc<dyn Store>) -> crate::BoxFuture<'static, Result<(), DavError>>
        + Send
        + Sync,
>;
/// Extracts a [`Summary`](crate::Summary) from an item's bytes.
pub type Summarizer = Arc<dyn Fn(&[u8]) -> crate::Summary + Send + Sync>;

/// A plugin's own path outside the tree ([`Registrar::route`]).
#[derive(Clone)]
#[allow(missing_debug_implementations)] // handlers have no useful Debug
pub struct Route {
    /// The path prefix, without a trailing `/`.
    pub path: String,
    /// The handler.
    pub handler: SharedHandler,
    /// Answered for anyone, without the before-method hooks (`/.well-known/`).
    pub public: bool,
    /// The handler gets the body as it arrives ([`DavRequest::stream`](crate::DavRequest::stream)).
    pub streaming: bool,
}

/// A REPORT a plugin answers.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // closures and handlers have no useful Debug
pub struct Report {
    /// The handler.
    pub handler: SharedHandler,
    /// Which resources support it (listed in their `supported-report-set`).
    pub applies: Applies,
}

/// Owned by its plugin: one entry of the registry.
#[derive(Clone, Debug)]
pub struct Owned<T> {
    /// The plugin that registered it.
    pub plugin: &'static str,
    /// What it registered.
    pub item: T,
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
    /// Runs a plugin's registration, recording conflicts with earlier registrations.
    pub fn register(&mut self, plugin: &dyn Plugin) {
        let mut registrar = Registrar {
            plugin: plugin.name(),
            registry: self,
        };
        plugin.register(&mut registrar);
    }

    /// Fails if two plugins registered the same name, naming both.
    pub fn check(&self) -> Result<(), RegistryError> {
        if self.conflicts.is_empty() {
            Ok(())
        } else {
            Err(RegistryError(self.conflicts.clone()))
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

/// Two plugins registered the same name.
#[derive(Debug, thiserror::Error)]
#[error("conflicting plugin registrations: {}", .0.join("; "))]
pub struct RegistryError(pub Vec<String>);

/// Handed to [`Plugin::register`]; each method records one contribution and returns
/// the registrar, so registrations chain.
#[derive(Debug)]
pub struct Registrar<'r> {
    plugin: &'static str,
    registry: &'r mut Registry,
}

impl Registrar<'_> {
    fn owned<T>(&self, item: T) -> Owned<T> {
        Owned {
            plugin: self.plugin,
            item,
        }
    }

    fn conflict(&mut self, what: impl fmt::Display, other: &'static str) {
        let msg = format!("{what} is registered by both {other} and {}", self.plugin);
        self.registry.conflicts.push(msg);
    }

    /// Adds a token to the `DAV:` header (RFC 4918 §10.1), e.g. `calendar-access`.
    pub fn compliance(&mut self, token: &'static str) -> &mut Self {
        if !self.registry.compliance.contains(&token) {
            self.registry.compliance.push(token);
        }
        self
    }

    /// Declares the stable prefix for a namespace in every multistatus.
    pub fn namespace(&mut self, ns: &'static str, prefix: &'static str) -> &mut Self {
        let clash = self
            .registry
            .prefixes
            .iter()
            .find(|(n, p)| (*n == ns) != (*p == prefix));
        if let Some((n, p)) = clash {
            let msg = format!(
                "namespace prefix {prefix}={ns} clashes with {p}={n} (registered by {})",
                self.plugin
            );
            self.registry.conflicts.push(msg);
        } else if !self.registry.prefixes.contains(&(ns, prefix)) {
            self.registry.prefixes.push((ns, prefix));
        }
        self
    }

    /// Declares a collection kind (the `kind` of `.dav.toml`) and the resourcetype
    /// elements its collections carry besides `DAV:collection`.
    pub fn collection_kind(&mut self, kind: &str, resourcetype: Vec<Name>) -> &mut Self {
        if let Some(other) = self.registry.kinds.get(kind) {
            let other = other.plugin;
            self.conflict(format_args!("collection kind {kind:?}"), other);
        } else {
            let owned = self.owned(resourcetype);
            self.registry.kinds.insert(kind.to_owned(), owned);
        }
        self
    }

    /// Adds a live property.
    pub fn property(&mut self, property: LiveProperty) -> &mut Self {
        let existing = self
            .registry
            .properties
            .iter()
            .find(|p| p.item.name == property.name)
            .map(|p| p.plugin);
        match existing {
            Some(other) => self.conflict(format_args!("property {}", property.name), other),
            None => {
                let owned = self.owned(property);
                self.registry.properties.push(owned);
            }
        }
        self
    }

    /// Answers a REPORT whose body's root element is `name`, on the resources for
    /// which `applies` is true.
    pub fn report(
        &mut self,
        name: Name,
        applies: impl Fn(&Resource) -> bool + Send + Sync + 'static,
        handler: impl Handler,
    ) -> &mut Self {
        if let Some(other) = self.registry.reports.get(&name) {
            let other = other.plugin;
            self.conflict(format_args!("report {name}"), other);
        } else {
            let report = Report {
                handler: Arc::new(handler),
                applies: Arc::new(applies),
            };
            let owned = self.owned(report);
            self.registry.reports.insert(name, owned);
        }
        self
    }

    /// Answers an extra method, such as `MKCALENDAR`.
    pub fn method(&mut self, method: &str, handler: impl Handler) -> &mut Self {
        let method = method.to_ascii_uppercase();
        if let Some(other) = self.registry.methods.get(&method) {
            let other = other.plugin;
            self.conflict(format_args!("method {method}"), other);
        } else {
            let owned = self.owned(Arc::new(handler) as SharedHandler);
            self.registry.methods.insert(method, owned);
        }
        self
    }

    /// Answers an extra method that every resource refuses, leaving it out of `Allow`:
    /// `ACL` where the rules live in files answers 403 with the RFC's precondition,
    /// which says more than 405 would, but no client should be told it may use it.
    pub fn method_unlisted(&mut self, method: &str, handler: impl Handler) -> &mut Self {
        self.registry
            .unlisted_methods
            .insert(method.to_ascii_uppercase());
        self.method(method, handler)
    }

    /// Checks every write into a collection of `kind` before a byte reaches disk.
    pub fn write_check(
        &mut self,
        kind: &str,
        check: impl Fn(&WriteCheck<'_>) -> Result<(), DavError> + Send + Sync + 'static,
    ) -> &mut Self {
        let kind = kind.to_owned();
        self.write_check_where(move |c| c.kind() == Some(kind.as_str()), check)
    }

    /// Checks every write (PUT, and COPY or MOVE of an item) into a folder for which
    /// `applies` holds, of any kind or none (`|_| true` for every folder), before a byte
    /// reaches disk. The check sees the bytes, the folder and who writes.
    pub fn write_check_where(
        &mut self,
        applies: impl Fn(&Resource) -> bool + Send + Sync + 'static,
        check: impl Fn(&WriteCheck<'_>) -> Result<(), DavError> + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned((Arc::new(applies) as Applies, Arc::new(check) as Check));
        self.registry.write_checks.push(owned);
        self
    }

    /// Keeps write locks (RFC 4918 class 2): the core evaluates the `If` header's state
    /// tokens with it and hands it every write before it runs. One plugin only.
    pub fn locks(&mut self, keeper: Arc<dyn crate::LockKeeper>) -> &mut Self {
        if let Some(other) = &self.registry.locks {
            let other = other.plugin;
            self.conflict("the lock keeper", other);
        } else {
            self.registry.locks = Some(self.owned(keeper));
        }
        self
    }

    /// Checks every write that brings bytes (PUT, COPY, MOVE) before it lands, with how
    /// many and where: a quota refuses with 507 `DAV:quota-not-exceeded`.
    pub fn space_check(
        &mut self,
        check: impl Fn(&SpaceCheck<'_>) -> Result<(), DavError> + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned(Arc::new(check) as SpaceHook);
        self.registry.space_checks.push(owned);
        self
    }

    /// Observes every change after it has landed.
    pub fn after_write(
        &mut self,
        observer: impl Fn(&WriteEvent) + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned(Arc::new(observer) as Observer);
        self.registry.observers.push(owned);
        self
    }

    /// Runs after a PUT or DELETE of an item in a collection of `kind` has landed,
    /// with the item's bytes before and after, once the collection's lock is released
    /// and before the request is answered (so a client that sees the answer sees what
    /// the hook did). The hook cannot fail the request: it logs what goes wrong. Writes
    /// it makes through the store run every check and every hook again; it marks them
    /// with [`Agent`] to tell them apart. COPY and MOVE do not run it.
    pub fn after_item_change<F, Fut>(&mut self, kind: &str, hook: F) -> &mut Self
    where
        F: Fn(ItemChange) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let hook: ItemHook = Arc::new(move |change| Box::pin(hook(change)));
        let owned = self.owned((kind.to_owned(), hook));
        self.registry.item_hooks.push(owned);
        self
    }

    /// Answers a stored property (one [`LiveProperty::stored`] keeps in `.dav.toml`)
    /// where the collection does not set it: a user's home gives the display name the
    /// configuration has for them. The first fallback with a value answers.
    pub fn fallback(
        &mut self,
        name: Name,
        getter: impl Fn(&PropContext<'_>) -> Option<Element> + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned((name, Arc::new(getter) as PropGetter));
        self.registry.fallbacks.push(owned);
        self
    }

    /// Adds response headers to GET, HEAD and PUT of items in collections of `kind`,
    /// from what the index knows of the item (`Schedule-Tag`, RFC 6638 §3.2.10).
    pub fn item_headers(
        &mut self,
        kind: &str,
        hook: impl Fn(&Resource) -> Vec<(http::HeaderName, http::HeaderValue)> + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned((kind.to_owned(), Arc::new(hook) as ItemHeaders));
        self.registry.item_headers.push(owned);
        self
    }

    /// Runs before every method; an error answers the request instead.
    pub fn before_method(
        &mut self,
        hook: impl Fn(&MethodCheck<'_>) -> Result<(), DavError> + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned(Arc::new(hook) as BeforeMethod);
        self.registry.before_method.push(owned);
        self
    }

    /// Hides resources from listings (PROPFIND, REPORT, sync-collection) when the filter
    /// returns false. The filter runs while the core holds its index: it must look up
    /// other collections through the [`Configs`] it is handed, never through a `Store`.
    pub fn member_filter(
        &mut self,
        filter: impl Fn(&Resource, Option<&Principal>, &dyn Configs) -> bool + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned(Arc::new(filter) as MemberFilter);
        self.registry.filters_by_folder = false;
        self.registry.member_filters.push(owned);
        self
    }

    /// Like [`Registrar::member_filter`], for a filter that judges a file by its folder
    /// alone (its path's parent and the principal, never its name or contents), as
    /// access rules set per folder do. A listing then asks it once for the files of a
    /// folder: 10,000 items cost one decision.
    pub fn member_filter_by_folder(
        &mut self,
        filter: impl Fn(&Resource, Option<&Principal>, &dyn Configs) -> bool + Send + Sync + 'static,
    ) -> &mut Self {
        let first = self.registry.member_filters.is_empty();
        let owned = self.owned(Arc::new(filter) as MemberFilter);
        self.registry.filters_by_folder = first || self.registry.filters_by_folder;
        self.registry.member_filters.push(owned);
        self
    }

    /// Summarizes every item of collections of `kind` when it is indexed (at startup,
    /// after outside edits, on PUT); the summary is kept in the index and handed to
    /// checks, properties and reports on [`Resource::summary`]. The function must not
    /// fail: for an item it cannot read, return `Summary::default()`.
    pub fn summarizer(
        &mut self,
        kind: &str,
        summarize: impl Fn(&[u8]) -> crate::Summary + Send + Sync + 'static,
    ) -> &mut Self {
        if let Some(other) = self.registry.summarizers.get(kind) {
            let other = other.plugin;
            self.conflict(format_args!("summarizer for {kind:?}"), other);
        } else {
            let owned = self.owned(Arc::new(summarize) as Summarizer);
            self.registry.summarizers.insert(kind.to_owned(), owned);
        }
        self
    }

    /// Runs before the first request of each principal (per server process), e.g. to
    /// create the user's home. An error answers that request; the hook runs again on
    /// the next one.
    pub fn first_request<F, Fut>(&mut self, hook: F) -> &mut Self
    where
        F: Fn(Principal, Arc<dyn Store>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), DavError>> + Send + 'static,
    {
        let hook: PrincipalHook = Arc::new(move |p, s| Box::pin(hook(p, s)));
        let owned = self.owned(hook);
        self.registry.first_request.push(owned);
        self
    }

    /// Lists the collections shared with a user, shown in their home (see [`Share`]).
    /// Its answer must follow from the folders and their settings alone: the core keeps
    /// each user's answer until a folder is added, removed or has its settings changed,
    /// so that listing a home does not cost every collection of the server.
    pub fn shares(
        &mut self,
        hook: impl Fn(&str, &dyn Store) -> Vec<Share> + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned(Arc::new(hook) as SharesHook);
        self.registry.shares.push(owned);
        self
    }

    /// Lists the merged collections of a user's home (see [`Merged`]). As for
    /// [`shares`](Self::shares), its answer must follow from the folders and their
    /// settings alone: the core keeps it until they change. The hook may call the
    /// store; the core holds no lock while it runs.
    pub fn merged(
        &mut self,
        hook: impl Fn(&str, &dyn Store) -> Vec<Merged> + Send + Sync + 'static,
    ) -> &mut Self {
        let owned = self.owned(Arc::new(hook) as MergedHook);
        self.registry.merged.push(owned);
        self
    }

    /// Answers GET and HEAD on collections of `kind` (a calendar's export), instead of
    /// the HTML listing plain folders get. For HEAD the core drops the body.
    pub fn collection_get(&mut self, kind: &str, handler: impl Handler) -> &mut Self {
        if let Some(other) = self.registry.collection_get.get(kind) {
            let other = other.plugin;
            self.conflict(format_args!("GET on {kind:?} collections"), other);
        } else {
            let owned = self.owned(Arc::new(handler) as SharedHandler);
            self.registry.collection_get.insert(kind.to_owned(), owned);
        }
        self
    }

    /// Answers GET and HEAD on every collection when the request prefers HTML (a
    /// browser opening the address, see [`prefers_html`](crate::prefers_html)) and the
    /// query does not ask for the export (`?download`): a web page instead of the
    /// core's bare listing and the calendars' and address books' exports. One plugin.
    /// For HEAD the core drops the body.
    pub fn browser_page(&mut self, handler: impl Handler) -> &mut Self {
        if let Some(other) = &self.registry.browser_page {
            let other = other.plugin;
            self.conflict(format_args!("the browser page"), other);
        } else {
            let owned = self.owned(Arc::new(handler) as SharedHandler);
            self.registry.browser_page = Some(owned);
        }
        self
    }

    /// Answers every request whose path is `path` or lies below it, before the tree is
    /// consulted (`/.groups/`). The path matches at the host's root and, when the server
    /// has a base path, below it too (`/dav/.groups/…` for `/.groups`); the handler sees
    /// the path as sent. Choose a path starting with `.`: the tree never serves one, so
    /// the route shadows nothing.
    ///
    /// The request passes the before-method hooks first, as every request to the tree
    /// does, with [`MethodCheck::route`] set: the access control plugin lets signed-in
    /// users through and asks anonymous requests to sign in. A path that must answer
    /// anyone is registered with [`Registrar::public_route`] instead.
    pub fn route(&mut self, path: &str, handler: impl Handler) -> &mut Self {
        self.add_route(path, Arc::new(handler), false, false)
    }

    /// Like [`Registrar::route`], for requests whose bodies may be large (uploads): the
    /// handler reads [`DavRequest::stream`](crate::DavRequest::stream) as it arrives,
    /// instead of a body the core has collected (and bounded by the XML limit).
    pub fn streaming_route(&mut self, path: &str, handler: impl Handler) -> &mut Self {
        self.add_route(path, Arc::new(handler), false, true)
    }

    /// Like [`Registrar::route`], for a path that answers anyone, signed in or not,
    /// without the before-method hooks: what a client asks before it has credentials
    /// (`/.well-known/caldav`). The handler alone decides what it reveals.
    pub fn public_route(&mut self, path: &str, handler: impl Handler) -> &mut Self {
        self.add_route(path, Arc::new(handler), true, false)
    }

    fn add_route(
        &mut self,
        path: &str,
        handler: SharedHandler,
        public: bool,
        streaming: bool,
    ) -> &mut Self {
        let path = path.trim_end_matches('/').to_owned();
        let existing = self
            .registry
            .routes
            .iter()
            .find(|r| r.item.path == path)
            .map(|r| r.plugin);
        match existing {
            Some(other) => self.conflict(format_args!("route {path}"), other),
            None => {
                let owned = self.owned(Route {
                    path,
                    handler,
                    public,
                    streaming,
                });
                self.registry.routes.push(owned);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct NoConfigs;
    impl Configs for NoConfigs {
        fn config(&self, _: &str) -> Option<Arc<crate::CollectionConfig>> {
            None
        }
    }

    fn file(path: &str) -> Resource {
        Resource {
            path: path.to_owned(),
            href: String::new(),
            is_collection: false,
            etag: None,
            size: 0,
            modified: std::time::SystemTime::UNIX_EPOCH,
            created: std::time::SystemTime::UNIX_EPOCH,
            collection: Arc::default(),
            sync_token: None,
            summary: None,
        }
    }

    /// A plugin whose filter hides folder `b` and counts its calls.
    struct Counting(Arc<AtomicUsize>, bool);
    impl Plugin for Counting {
        fn register(&self, r: &mut Registrar<'_>) {
            let calls = self.0.clone();
            let filter = move |res: &Resource, _: Option<&Principal>, _: &dyn Configs| {
                calls.fetch_add(1, Ordering::Relaxed);
                !res.path.starts_with("b/")
            };
            match self.1 {
                true => r.member_filter_by_folder(filter),
                false => r.member_filter(filter),
            };
        }
    }

    fn decide(registry: &Registry) -> Vec<bool> {
        let mut visibility = registry.visibility(None, &NoConfigs);
        ["a/1", "a/2", "a/3", "b/1", "b/2", "c/1"]
            .map(|p| visibility.sees(&file(p)))
            .to_vec()
    }

    #[test]
    fn files_of_one_folder_cost_one_decision_when_every_filter_judges_by_folder() {
        let expected = [true, true, true, false, false, true];
        let calls = Arc::new(AtomicUsize::new(0));
        let mut registry = Registry::default();
        registry.register(&Counting(calls.clone(), true));
        assert_eq!(decide(&registry), expected);
        assert_eq!(calls.load(Ordering::Relaxed), 3, "one per folder");
        // A filter that looks at each file makes every file a decision again.
        let other = Arc::new(AtomicUsize::new(0));
        registry.register(&Counting(other.clone(), false));
        calls.store(0, Ordering::Relaxed);
        assert_eq!(decide(&registry), expected);
        assert_eq!(calls.load(Ordering::Relaxed), 6, "one per file");
        assert_eq!(
            other.load(Ordering::Relaxed),
            4,
            "not asked after the first no"
        );
    }
}
