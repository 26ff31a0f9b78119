//! What the plugins' hooks are given and return: writes to check, changes that
//! landed, methods about to run, shares and merged collections.

use std::fmt;
use std::sync::Arc;

use dirdav_xml::{Element, Name};
use http::Method;

use crate::{Configs, DavError, Principal, Resource, SharedHandler, Store};

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
    /// ([`Registrar::after_item_change`](crate::Registrar::after_item_change)): scheduling compares an attendee's edit with
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

/// A change to an item that has landed ([`Registrar::after_item_change`](crate::Registrar::after_item_change)): a PUT or a
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

/// What [`Registrar::item_headers`](crate::Registrar::item_headers) runs: the headers to add for an item.
pub type ItemHeaders =
    Arc<dyn Fn(&Resource) -> Vec<(http::HeaderName, http::HeaderValue)> + Send + Sync>;

/// What [`Registrar::after_item_change`](crate::Registrar::after_item_change) runs.
pub type ItemHook = Arc<dyn Fn(ItemChange) -> crate::BoxFuture<'static, ()> + Send + Sync>;

/// A write about to bring bytes below a folder, for space checks
/// ([`Registrar::space_check`](crate::Registrar::space_check)): quotas. PUT asks before the body arrives (with its
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
    /// True for a request to a plugin's route ([`Registrar::route`](crate::Registrar::route)): it lies outside
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

pub(crate) type Check = Arc<dyn Fn(&WriteCheck<'_>) -> Result<(), DavError> + Send + Sync>;
pub(crate) type SpaceHook = Arc<dyn Fn(&SpaceCheck<'_>) -> Result<(), DavError> + Send + Sync>;
pub(crate) type Observer = Arc<dyn Fn(&WriteEvent) + Send + Sync>;
pub(crate) type BeforeMethod = Arc<dyn Fn(&MethodCheck<'_>) -> Result<(), DavError> + Send + Sync>;
pub(crate) type MemberFilter =
    Arc<dyn Fn(&Resource, Option<&Principal>, &dyn Configs) -> bool + Send + Sync>;
pub(crate) type Applies = Arc<dyn Fn(&Resource) -> bool + Send + Sync>;
/// Checks that a `.dav.toml` table fits the type a plugin reads it as
/// ([`Registrar::settings`](crate::Registrar::settings)).
pub type TableCheck = Arc<dyn Fn(&toml::Value) -> Result<(), String> + Send + Sync>;
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

/// A plugin's own path outside the tree ([`Registrar::route`](crate::Registrar::route)).
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
