//! Existing trees served as they are: a Radicale collection root (`.Radicale.props`)
//! and vdirsyncer vdirs (`displayname`, `color`, `description`, `order` files beside
//! the items). Both are read into a [`CollectionConfig`] and written back in their own
//! format, so a user switching from Radicale or syncing with vdirsyncer keeps every
//! collection, property and item href.
//!
//! Both formats hold text values for the collection alone; they have no place for dead
//! properties of items, so PROPPATCH on an item there is refused.

use std::collections::BTreeMap;
use std::path::Path;

use dirdav_plugin::CollectionConfig;
use dirdav_xml::{Element, Name, ns};

/// Radicale's collection settings file.
pub(crate) const RADICALE_PROPS: &str = ".Radicale.props";

/// Where a folder's settings come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Format {
    /// `.dav.toml` (or nothing: a plain folder).
    #[default]
    DavToml,
    /// `.Radicale.props`, JSON.
    Radicale,
    /// A vdir: metadata files beside the items.
    Vdir,
}

/// Radicale's short prefixes for the namespaces it knows; other names are stored in
/// Clark notation.
const RADICALE_NS: [(&str, &str); 7] = [
    ("C", ns::CALDAV),
    ("CR", ns::CARDDAV),
    ("D", ns::DAV),
    ("CS", ns::CALENDARSERVER),
    ("ICAL", ns::APPLE_ICAL),
    ("ME", "http://me.com/_namespace/"),
    ("RADICALE", "http://radicale.org/ns/"),
];

fn from_radicale_key(key: &str) -> Option<Name> {
    if key.starts_with('{') {
        return Name::from_clark(key);
    }
    let (prefix, local) = key.split_once(':')?;
    let ns = RADICALE_NS.iter().find(|(p, _)| *p == prefix)?.1;
    Some(Name::owned(ns, local))
}

fn radicale_key(name: &Name) -> String {
    match RADICALE_NS.iter().find(|(_, n)| *n == name.ns()) {
        Some((prefix, _)) => format!("{prefix}:{}", name.local()),
        None => name.to_string(),
    }
}

/// The core keys of `.dav.toml` that well-known properties map to.
fn core_key(name: &Name) -> Option<&'static str> {
    match (name.ns(), name.local()) {
        (ns::DAV, "displayname") => Some("displayname"),
        (ns::CALDAV, "calendar-description") | (ns::CARDDAV, "addressbook-description") => {
            Some("description")
        }
        (ns::APPLE_ICAL, "calendar-color") => Some("color"),
        _ => None,
    }
}

/// Builds a config from text properties: the well-known ones also set the core keys,
/// and every one is a dead property too (so it is answered whether or not a plugin
/// registered it as live).
fn config_from(
    kind: Option<&str>,
    props: Vec<(Name, String)>,
    components: Option<Vec<String>>,
) -> CollectionConfig {
    let mut document = toml::Table::new();
    if let Some(kind) = kind {
        document.insert("kind".into(), toml::Value::String(kind.to_owned()));
    }
    if let Some(components) = components {
        let mut caldav = toml::Table::new();
        let list = components.into_iter().map(toml::Value::String).collect();
        caldav.insert("components".into(), toml::Value::Array(list));
        document.insert("caldav".into(), toml::Value::Table(caldav));
    }
    let mut dead = BTreeMap::new();
    for (name, value) in props {
        if let Some(key) = core_key(&name) {
            document.insert(key.into(), toml::Value::String(value.clone()));
        }
        dead.insert(name.clone(), Element::with_text(name, value));
    }
    CollectionConfig {
        kind: kind.map(str::to_owned),
        document,
        props: dead,
        files: BTreeMap::new(),
        error: None,
        size: 0,
        dead: Default::default(),
        read_only: false,
    }
}

/// Reads `.Radicale.props`.
pub(crate) fn radicale_config(bytes: &[u8]) -> Result<CollectionConfig, String> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let kind = match map.get("tag").and_then(|v| v.as_str()) {
        Some("VCALENDAR") => Some("calendar"),
        Some("VADDRESSBOOK") => Some("addressbook"),
        _ => None,
    };
    let components = map
        .get("C:supported-calendar-component-set")
        .and_then(|v| v.as_str())
        .map(|s| {
            s.split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect()
        });
    let props = map
        .iter()
        .filter(|(k, _)| k.as_str() != "tag")
        .filter_map(|(k, v)| Some((from_radicale_key(k)?, v.as_str()?.to_owned())))
        .collect();
    Ok(config_from(kind, props, components))
}

/// Applies property changes to `.Radicale.props`, keeping its other keys and order.
pub(crate) fn radicale_apply(
    bytes: &[u8],
    changes: &[(Name, Option<String>)],
) -> Result<Vec<u8>, String> {
    let mut map: serde_json::Map<String, serde_json::Value> = if bytes.is_empty() {
        serde_json::Map::new()
    } else {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())?
    };
    for (name, value) in changes {
        let key = radicale_key(name);
        match value {
            Some(v) => {
                map.insert(key, serde_json::Value::String(v.clone()));
            }
            None => {
                map.remove(&key);
            }
        }
    }
    serde_json::to_vec(&map).map_err(|e| e.to_string())
}

/// vdir metadata files and the properties they hold.
static VDIR_FILES: [(&str, Name); 4] = [
    ("displayname", Name::new(ns::DAV, "displayname")),
    ("color", Name::new(ns::APPLE_ICAL, "calendar-color")),
    ("description", Name::new(ns::CALDAV, "calendar-description")),
    ("order", Name::new(ns::APPLE_ICAL, "calendar-order")),
];

/// True for a vdir's metadata file name.
pub(crate) fn is_vdir_meta(name: &str) -> bool {
    VDIR_FILES.iter().any(|(f, _)| *f == name)
}

/// The vdir file a property is kept in.
pub(crate) fn vdir_file(name: &Name) -> Option<&'static str> {
    let name = if name.ns() == ns::CARDDAV && name.local() == "addressbook-description" {
        Name::new(ns::CALDAV, "calendar-description")
    } else {
        name.clone()
    };
    VDIR_FILES.iter().find(|(_, n)| *n == name).map(|(f, _)| *f)
}

/// Reads a folder as a vdir: one kind of item (`.ics` or `.vcf`), no sub-folders, and
/// nothing else but metadata files. Returns the config and the metadata's bytes.
pub(crate) fn vdir_config(dir: &Path) -> Option<(CollectionConfig, Vec<u8>)> {
    let mut kind = None;
    let mut meta = Vec::new();
    let mut props = Vec::new();
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if crate::path::is_ignored(&name) {
            continue;
        }
        let file_type = entry.file_type().ok()?;
        if !file_type.is_file() {
            return None;
        }
        if is_vdir_meta(&name) {
            let text = std::fs::read_to_string(entry.path()).ok()?;
            meta.extend_from_slice(name.as_bytes());
            meta.extend_from_slice(text.as_bytes());
            let (_, prop) = VDIR_FILES.iter().find(|(f, _)| *f == name)?;
            props.push((prop.clone(), text.trim().to_owned()));
            continue;
        }
        let this = match name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()) {
            Some(e) if e == "ics" => "calendar",
            Some(e) if e == "vcf" => "addressbook",
            _ => return None,
        };
        if kind.is_some_and(|k| k != this) {
            return None;
        }
        kind = Some(this);
    }
    let kind = kind?;
    if kind == "addressbook" {
        for (name, _) in &mut props {
            if *name == Name::new(ns::CALDAV, "calendar-description") {
                *name = Name::new(ns::CARDDAV, "addressbook-description");
            }
        }
    }
    Some((config_from(Some(kind), props, None), meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROPS: &str = r##"{"C:calendar-description": "Team", "C:supported-calendar-component-set": "VEVENT,VTODO", "D:displayname": "Work", "ICAL:calendar-color": "#ff0000ff", "tag": "VCALENDAR", "{urn:x}odd": "y"}"##;

    #[test]
    fn reads_radicale_props() {
        let c = radicale_config(PROPS.as_bytes()).unwrap();
        assert_eq!(c.kind.as_deref(), Some("calendar"));
        assert_eq!(c.string_at(&["displayname"]), Some("Work"));
        assert_eq!(c.string_at(&["description"]), Some("Team"));
        assert_eq!(c.string_at(&["color"]), Some("#ff0000ff"));
        let components = c.table("caldav").unwrap()["components"].as_array().unwrap();
        assert_eq!(components.len(), 2);
        assert_eq!(c.props[&Name::new("urn:x", "odd")].text(), "y");
        assert_eq!(
            c.props[&Name::new(ns::APPLE_ICAL, "calendar-color")].text(),
            "#ff0000ff"
        );
    }

    #[test]
    fn writes_radicale_props_back_in_place() {
        let changes = [
            (Name::new(ns::DAV, "displayname"), Some("Büro".to_owned())),
            (Name::new("urn:x", "odd"), None),
            (
                Name::new(ns::APPLE_ICAL, "calendar-order"),
                Some("2".to_owned()),
            ),
        ];
        let out = String::from_utf8(radicale_apply(PROPS.as_bytes(), &changes).unwrap()).unwrap();
        assert_eq!(
            out,
            r##"{"C:calendar-description":"Team","C:supported-calendar-component-set":"VEVENT,VTODO","D:displayname":"Büro","ICAL:calendar-color":"#ff0000ff","tag":"VCALENDAR","ICAL:calendar-order":"2"}"##
        );
    }

    #[test]
    fn recognises_vdirs_and_only_vdirs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.ics"), "x").unwrap();
        std::fs::write(d.join("displayname"), "Holidays\n").unwrap();
        std::fs::write(d.join("color"), "#00ff00").unwrap();
        let (c, _) = vdir_config(d).unwrap();
        assert_eq!(c.kind.as_deref(), Some("calendar"));
        assert_eq!(c.string_at(&["displayname"]), Some("Holidays"));
        assert_eq!(c.string_at(&["color"]), Some("#00ff00"));
        std::fs::write(d.join("notes.pdf"), "x").unwrap();
        assert!(
            vdir_config(d).is_none(),
            "other files make it a plain folder"
        );
        std::fs::remove_file(d.join("notes.pdf")).unwrap();
        std::fs::write(d.join("b.vcf"), "x").unwrap();
        assert!(vdir_config(d).is_none(), "mixed kinds");
        let empty = tempfile::tempdir().unwrap();
        assert!(vdir_config(empty.path()).is_none());
    }
}
