use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use dirdav_xml::{Element, Name};

/// Put into a request's extensions when it arrived over dirdav's own TLS listener, so
/// that what a plugin answers can say `https` (a redirect, an absolute URL). Behind a
/// reverse proxy doing TLS, `X-Forwarded-Proto` says it instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tls;

/// The authenticated user a request runs as, put into the request's extensions by the
/// authentication layer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The user name, as in the htpasswd file.
    pub name: Arc<str>,
}

impl Principal {
    /// A principal for this user name.
    pub fn new(name: &str) -> Self {
        Principal { name: name.into() }
    }
}

/// A media type's essence, without parameters: `text/calendar` of
/// `text/calendar; charset=utf-8` (compare it ASCII-caselessly).
pub fn media_essence(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

/// A collection's settings: its `.dav.toml`, parsed once and kept by the index.
///
/// The core owns `kind`, `displayname`, `description`, `color`, `inline`, `[props]`,
/// `[files]` and `[lang]` (the languages of stored values);
/// every other top-level table belongs to the plugin of that name and is handed over
/// as parsed TOML ([`CollectionConfig::table`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CollectionConfig {
    /// `kind`: which plugin's collection this is (`"calendar"`, `"addressbook"`).
    pub kind: Option<String>,
    /// The whole document, for plugins' tables and stored live properties.
    pub document: toml::Table,
    /// Dead properties of the collection (`[props]`), by name.
    pub props: BTreeMap<Name, Element>,
    /// Dead properties of the collection's files (`[files."name"]`), by file name.
    pub files: BTreeMap<String, BTreeMap<Name, Element>>,
    /// Why the folder's settings file could not be used, when it could not (it does not
    /// parse): the folder is then served as a plain collection, and a plugin that
    /// decides access from the file must treat it as closed, never as open.
    pub error: Option<String>,
    /// The bytes of the settings file this was read from (0 without one): dead
    /// properties take room, and quotas count it.
    pub size: u64,
    /// For the settings of a folder whose settings file is large, `props` and `files`
    /// are empty and this reads them back when asked ([`Resource::dead_props`] does):
    /// the core does not hold large dead properties in memory.
    pub dead: DeadLoader,
    /// The collection takes no writes: a view ([`View`](crate::View)), made from
    /// others. Access control lists no write privilege on it.
    pub read_only: bool,
}

/// Reads back the whole settings of a folder whose dead properties are not held in
/// memory ([`CollectionConfig::dead`]); empty for every other folder.
#[derive(Clone, Default)]
pub struct DeadLoader(Option<Arc<dyn Fn() -> Arc<CollectionConfig> + Send + Sync>>);

impl DeadLoader {
    /// A loader that reads the whole settings with `load`.
    pub fn new(load: impl Fn() -> Arc<CollectionConfig> + Send + Sync + 'static) -> Self {
        DeadLoader(Some(Arc::new(load)))
    }

    /// The whole settings, when these are partial.
    pub fn load(&self) -> Option<Arc<CollectionConfig>> {
        self.0.as_ref().map(|load| load())
    }
}

impl std::fmt::Debug for DeadLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Some(_) => "DeadLoader(on disk)",
            None => "DeadLoader(none)",
        })
    }
}

impl PartialEq for DeadLoader {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl CollectionConfig {
    /// A plugin's table read as `T` (a `#[derive(Deserialize)]` type the plugin claimed
    /// with [`Registrar::settings`](crate::Registrar::settings)): `None` without the
    /// table, the reason when it does not fit `T` (the core logged it, with the file's
    /// path, when it read the file).
    pub fn settings<T: serde::de::DeserializeOwned>(
        &self,
        table: &str,
    ) -> Result<Option<T>, String> {
        match self.document.get(table) {
            None => Ok(None),
            Some(value) => value
                .clone()
                .try_into()
                .map(Some)
                .map_err(|e: toml::de::Error| format!("[{table}]: {}", e.message())),
        }
    }

    /// A plugin's own table, e.g. `[caldav]`.
    pub fn table(&self, name: &str) -> Option<&toml::Table> {
        self.document.get(name)?.as_table()
    }

    /// A string value at a key path, e.g. `["caldav", "timezone"]` or `["displayname"]`.
    pub fn string_at(&self, path: &[&str]) -> Option<&str> {
        let (last, tables) = path.split_last()?;
        let mut table = &self.document;
        for key in tables {
            table = table.get(*key)?.as_table()?;
        }
        table.get(*last)?.as_str()
    }
}

/// What a plugin extracts from an item when it is indexed (see
/// [`Registrar::summarizer`](crate::Registrar::summarizer)), so that checks and queries
/// can decide without reading the file again. Kept in the index and persisted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The item's UID.
    pub uid: Option<String>,
    /// Its main component or kind: `VEVENT`, `VTODO`, `VJOURNAL`, `VCARD` (borrowed
    /// from a constant where it can be, so that most summaries hold no copy of it).
    pub component: Option<std::borrow::Cow<'static, str>>,
    /// The time span it may cover, in seconds since the epoch, end exclusive: a
    /// recurring item spans from its first instance to its last (`i64::MAX` when
    /// unbounded). `None` when unknown: queries must then read the item.
    pub span: Option<(i64, i64)>,
    /// True when `span` is exactly the time the item's one instance covers, not a bound
    /// on it (no recurrence, times known in UTC): a time-range test then decides on the
    /// summary alone, without reading the item.
    pub span_exact: bool,
    /// True when `span` is on the wall clock: the exact span of a floating event, which
    /// starts at `span.0` read as a local time in whatever zone a query places floating
    /// times in, and lasts `span.1 - span.0` seconds.
    pub span_floating: bool,
    /// For a recurring event decided on the summary: every instance's interval
    /// (overrides in place of the instances they replace), in UTC, so that a time-range
    /// test is whether one overlaps. Empty otherwise.
    pub instances: Box<[(i64, i64)]>,
    /// For a recurring event with too many instances to list (one without end): the
    /// rule its instances follow, when it is simple enough to test a time range on by
    /// arithmetic. `None` otherwise.
    pub periodic: Option<Box<Periodic>>,
    /// Searchable values (`FN`, `EMAIL`, `TEL` …), by property name.
    pub fields: Fields,
}

/// A recurring event whose instances come back on the same days of every period, at
/// the same time of day in one zone (a `FREQ=DAILY` or `WEEKLY` rule), each lasting
/// as long: what a time range is tested against without reading the item. Instance
/// `k` of offset `d` starts at `start + k * period_days + d` days on the wall clock of
/// `zone`, for every `k >= 0` whose start is at most `until`, but for those in `skip`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Periodic {
    /// The first instance's start on the wall clock of `zone`, in seconds since the
    /// epoch as if that wall clock were UTC.
    pub start: i64,
    /// The zone's name in the time zone database (`UTC` for times in UTC).
    pub zone: Box<str>,
    /// How long each instance lasts, in seconds (more than zero).
    pub length: i64,
    /// The days from one period to the next.
    pub period_days: u32,
    /// The days after a period's first day that instances fall on, ascending, the
    /// first 0.
    pub offsets: Box<[u32]>,
    /// The latest start of an instance, in UTC (`i64::MAX` when the rule has no end).
    pub until: i64,
    /// Starts, in UTC, of instances left out: excluded (EXDATE) or replaced by an
    /// override.
    pub skip: Box<[i64]>,
    /// The overrides' own intervals, in UTC.
    pub extra: Box<[(i64, i64)]>,
}

impl Summary {
    /// A component name as a summary keeps it: borrowed for the names plugins summarize
    /// (`VEVENT`, `VTODO`, `VJOURNAL`, `VFREEBUSY`, `VCARD`), owned for any other.
    pub fn component_name(name: String) -> std::borrow::Cow<'static, str> {
        const KNOWN: [&str; 5] = ["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VCARD"];
        match KNOWN.into_iter().find(|known| *known == name) {
            Some(known) => known.into(),
            None => name.into(),
        }
    }
}

/// A summary's searchable `(name, value)` pairs, in the order they were given.
///
/// Kept packed (all the text in one allocation, the ends of its pieces in another)
/// rather than as a vector of strings: an index holds one of these for every card, and
/// at two allocations instead of two per pair a card's summary costs a fifth of the
/// memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    /// Names and values, one after the other.
    text: Box<str>,
    /// Where each name and each value ends in `text`, two per pair.
    ends: Box<[u32]>,
}

impl Fields {
    /// The pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone + '_ {
        self.ends.chunks_exact(2).scan(0usize, |start, ends| {
            let (name_end, value_end) = (ends[0] as usize, ends[1] as usize);
            let pair = (
                &self.text[*start..name_end],
                &self.text[name_end..value_end],
            );
            *start = value_end;
            Some(pair)
        })
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// How many pairs there are.
    pub fn len(&self) -> usize {
        self.ends.len() / 2
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Fields {
    /// Packs the pairs. Should the text pass 4 GiB (it never does for a summary), the
    /// pairs past that point are left out.
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> Self {
        let (mut text, mut ends) = (String::new(), Vec::new());
        for (name, value) in pairs {
            let (name, value) = (name.as_ref(), value.as_ref());
            let (Ok(name_end), Ok(value_end)) = (
                u32::try_from(text.len() + name.len()),
                u32::try_from(text.len() + name.len() + value.len()),
            ) else {
                break;
            };
            text.push_str(name);
            text.push_str(value);
            ends.extend([name_end, value_end]);
        }
        Fields {
            text: text.into_boxed_str(),
            ends: ends.into_boxed_slice(),
        }
    }
}

/// What a plugin sees of one resource: data the core already holds in memory, so
/// reading it costs no I/O.
#[derive(Clone, Debug)]
pub struct Resource {
    /// The decoded path below the root, without leading or trailing `/` (`""` is the root).
    pub path: String,
    /// The URL path clients use, percent-encoded, with the base path, ending in `/`
    /// for collections.
    pub href: String,
    /// True for a collection (a folder).
    pub is_collection: bool,
    /// The strong entity tag of a file, quoted (`"…"`), from the blake3 hash of its bytes.
    pub etag: Option<String>,
    /// Size in bytes of a file.
    pub size: u64,
    /// Last modification time.
    pub modified: SystemTime,
    /// Creation time where the file system keeps one, else the modification time.
    pub created: SystemTime,
    /// The settings of the collection this resource is (for a collection) or sits in
    /// (for a file).
    pub collection: Arc<CollectionConfig>,
    /// For a collection: the sync token of its current state (RFC 6578 §4), which also
    /// serves as `CS:getctag`. It changes whenever a member is added, changed or removed.
    pub sync_token: Option<String>,
    /// For an item of a collection whose kind has a summarizer: its summary.
    pub summary: Option<Arc<Summary>>,
}

impl Resource {
    /// The kind of the collection this resource is or sits in.
    pub fn kind(&self) -> Option<&str> {
        self.collection.kind.as_deref()
    }

    /// True for a collection of this kind.
    pub fn is_collection_of(&self, kind: &str) -> bool {
        self.is_collection && self.kind() == Some(kind)
    }

    /// True for a file inside a collection of this kind.
    pub fn is_item_of(&self, kind: &str) -> bool {
        !self.is_collection && self.kind() == Some(kind)
    }

    /// The last path segment (`""` for the root).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or("")
    }

    /// True when `path` is this resource or lies below it.
    pub fn contains(&self, path: &str) -> bool {
        crate::path::within(path, &self.path)
    }

    /// A strong entity tag for a collection's whole content (an export), derived from
    /// its sync token: it changes whenever a member does.
    pub fn collection_etag(&self) -> Option<String> {
        let token = self.sync_token.as_ref()?;
        let hash = token.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Some(format!("\"{hash:016x}\""))
    }

    /// Dead properties of this resource: from its folder's settings, or read back
    /// when the folder's settings file is large ([`CollectionConfig::dead`]).
    pub fn dead_props(&self) -> Option<std::borrow::Cow<'_, BTreeMap<Name, Element>>> {
        use std::borrow::Cow;
        if let Some(whole) = self.collection.dead.load() {
            return match self.is_collection {
                true => Some(Cow::Owned(whole.props.clone())),
                false => whole.files.get(self.name()).cloned().map(Cow::Owned),
            };
        }
        match self.is_collection {
            true => Some(Cow::Borrowed(&self.collection.props)),
            false => self.collection.files.get(self.name()).map(Cow::Borrowed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Fields;

    #[test]
    fn fields_come_back_in_order() {
        let pairs = [
            ("FN", "Carol Díaz"),
            ("EMAIL", ""),
            ("", "x"),
            ("TEL", "+49 30 1"),
        ];
        let fields: Fields = pairs.iter().copied().collect();
        assert_eq!(fields.iter().collect::<Vec<_>>(), pairs);
        assert_eq!(fields.len(), 4);
        assert!(!fields.is_empty());
        let empty: Fields = std::iter::empty::<(&str, &str)>().collect();
        assert!(empty.is_empty());
        assert_eq!(empty.iter().count(), 0);
        assert_eq!(empty, Fields::default());
    }
}
