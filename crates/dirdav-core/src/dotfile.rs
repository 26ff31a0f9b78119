//! `.dav.toml`: a collection's settings and dead properties.
//!
//! Read with `toml` into a [`CollectionConfig`]; changed with `toml_edit`, so that a
//! PROPPATCH rewrites only the keys it touches and comments and order stay put.
//!
//! Dead property values are stored as a plain string when they are text alone
//! (`"{urn:x}color" = "blue"`), and otherwise as the whole property element serialised
//! as XML (`"{urn:x}a" = { xml = '<a xmlns="urn:x" xml:lang="en">…</a>' }`), so that
//! namespaces, attributes and `xml:lang` round-trip.

use std::collections::BTreeMap;

use dirdav_plugin::CollectionConfig;
use dirdav_xml::{Element, Limits, Name, Node, XmlWriter, parse};
use toml_edit::{DocumentMut, InlineTable, Item, Table, Value};

/// The file name of a collection's settings.
pub(crate) const DOTFILE: &str = ".dav.toml";

/// Parses `.dav.toml`. A malformed file yields an error the caller logs; the
/// collection is then served as a plain one and PROPPATCH refuses to touch the file.
pub(crate) fn parse_config(text: &str) -> Result<CollectionConfig, toml::de::Error> {
    let document: toml::Table = text.parse()?;
    let kind = document
        .get("kind")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let props = document
        .get("props")
        .and_then(|v| v.as_table())
        .map(props_from_table)
        .unwrap_or_default();
    let files = document
        .get("files")
        .and_then(|v| v.as_table())
        .map(|files| {
            files
                .iter()
                .filter_map(|(name, t)| Some((name.clone(), props_from_table(t.as_table()?))))
                .collect()
        })
        .unwrap_or_default();
    Ok(CollectionConfig {
        kind,
        document,
        props,
        files,
        error: None,
        size: 0,
        dead: Default::default(),
        read_only: false,
    })
}

fn props_from_table(table: &toml::Table) -> BTreeMap<Name, Element> {
    table
        .iter()
        .filter_map(|(key, value)| {
            let name = Name::from_clark(key)?;
            let element = match value {
                toml::Value::String(s) => Element::with_text(name.clone(), s.clone()),
                toml::Value::Table(t) => {
                    let xml = t.get("xml")?.as_str()?;
                    let mut e = parse(xml.as_bytes(), &Limits::default()).ok()?;
                    e.name = name.clone();
                    e
                }
                _ => return None,
            };
            Some((name, element))
        })
        .collect()
}

impl Edit {
    /// At most how many bytes the edit adds to the file.
    pub(crate) fn size(&self) -> u64 {
        let text = match self {
            Edit::Prop {
                file, name, value, ..
            } => {
                let mut w = XmlWriter::fragment();
                if let Some(v) = value {
                    w.element(v);
                }
                w.len() + name.to_string().len() + file.as_ref().map_or(0, String::len)
            }
            Edit::Key { path, value } => {
                value.as_ref().map_or(0, String::len) + path.iter().map(|p| p.len()).sum::<usize>()
            }
            Edit::Lang { path, lang } => {
                lang.as_ref().map_or(0, String::len) + path.iter().map(|p| p.len()).sum::<usize>()
            }
            Edit::List { path, values } => {
                values.iter().chain(path).map(String::len).sum::<usize>()
            }
            Edit::FileProps { file, props } => {
                let mut w = XmlWriter::fragment();
                for value in props.values() {
                    w.element(value);
                }
                let names: usize = props.keys().map(|n| n.to_string().len()).sum();
                w.len() + names + file.len()
            }
        };
        // Quoting, escaping and the key's own line.
        (text as u64) * 2 + 16
    }
}

/// How a dead property value is stored.
fn prop_value(element: &Element) -> Value {
    let text_only =
        element.attrs.is_empty() && element.children.iter().all(|c| matches!(c, Node::Text(_)));
    if text_only {
        return Value::from(element.text());
    }
    let mut w = XmlWriter::fragment();
    w.element(element);
    let xml = String::from_utf8_lossy(&w.finish()).into_owned();
    let mut table = InlineTable::new();
    table.insert("xml", Value::from(xml));
    Value::InlineTable(table)
}

/// The core's table of the languages of stored live properties' values.
pub(crate) const LANG_TABLE: &str = "lang";

/// One change to a `.dav.toml`.
#[derive(Debug, Clone)]
pub(crate) enum Edit {
    /// Sets (or with `None` removes) a dead property of the collection, or of the named file.
    Prop {
        file: Option<String>,
        name: Name,
        value: Option<Element>,
    },
    /// Sets (or removes) a string at a key path (a stored live property).
    Key {
        path: &'static [&'static str],
        value: Option<String>,
    },
    /// Sets (or removes) the language of a stored live property's value, kept in the
    /// core's `[lang]` table under the key path joined with dots (RFC 4918 §4.3:
    /// `xml:lang` goes with the value).
    Lang {
        path: &'static [&'static str],
        lang: Option<String>,
    },
    /// Sets a list of strings at a key path (`[caldav] components`).
    List {
        path: Vec<String>,
        values: Vec<String>,
    },
    /// Replaces all dead properties of a file (after COPY or MOVE); empty removes them.
    FileProps {
        file: String,
        props: BTreeMap<Name, Element>,
    },
}

/// Applies edits to the text of a `.dav.toml` (empty for a new one). Returns `None`
/// when nothing is left, so the caller removes the file instead of leaving it empty.
pub(crate) fn apply(text: &str, edits: &[Edit]) -> Result<Option<String>, toml_edit::TomlError> {
    let mut doc: DocumentMut = text.parse()?;
    for edit in edits {
        match edit {
            Edit::Prop { file, name, value } => {
                let table = match file {
                    None => subtable(doc.as_table_mut(), "props"),
                    Some(f) => subtable(subtable(doc.as_table_mut(), "files"), f),
                };
                let key = name.to_string();
                match value {
                    Some(v) => {
                        table.insert(&key, Item::Value(prop_value(v)));
                    }
                    None => {
                        table.remove(&key);
                    }
                }
            }
            Edit::Key { path, value } => {
                let Some((last, tables)) = path.split_last() else {
                    continue;
                };
                let mut table = doc.as_table_mut();
                for t in tables {
                    table = subtable(table, t);
                }
                match value {
                    Some(v) => {
                        table.insert(last, toml_edit::value(v.as_str()));
                    }
                    None => {
                        table.remove(last);
                    }
                }
            }
            Edit::Lang { path, lang } => {
                let table = subtable(doc.as_table_mut(), LANG_TABLE);
                let key = path.join(".");
                match lang {
                    Some(l) => {
                        table.insert(&key, toml_edit::value(l.as_str()));
                    }
                    None => {
                        table.remove(&key);
                    }
                }
            }
            Edit::List { path, values } => {
                let Some((last, tables)) = path.split_last() else {
                    continue;
                };
                let mut table = doc.as_table_mut();
                for t in tables {
                    table = subtable(table, t);
                }
                let array: toml_edit::Array = values.iter().map(String::as_str).collect();
                table.insert(last, toml_edit::value(array));
            }
            Edit::FileProps { file, props } => {
                let files = subtable(doc.as_table_mut(), "files");
                files.remove(file);
                if !props.is_empty() {
                    let table = subtable(files, file);
                    for (name, value) in props {
                        table.insert(&name.to_string(), Item::Value(prop_value(value)));
                    }
                }
            }
        }
    }
    prune(doc.as_table_mut());
    let out = doc.to_string();
    Ok((!out.trim().is_empty()).then_some(out))
}

/// The named subtable, created (as an implicit table, so no empty header is written)
/// when missing. A non-table value under that key is replaced.
fn subtable<'t>(table: &'t mut Table, key: &str) -> &'t mut Table {
    if !table.get(key).is_some_and(Item::is_table) {
        let mut t = Table::new();
        t.set_implicit(true);
        table.insert(key, Item::Table(t));
    }
    match table.get_mut(key) {
        Some(Item::Table(t)) => t,
        _ => unreachable!("inserted a table above"),
    }
}

/// Drops tables that edits left empty.
fn prune(table: &mut Table) {
    let keys: Vec<String> = table.iter().map(|(k, _)| k.to_owned()).collect();
    for key in keys {
        if let Some(Item::Table(t)) = table.get_mut(&key) {
            prune(t);
            if t.is_empty() {
                table.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r##"# Alice's work calendar
kind = "calendar"                 # set by hand
displayname = "Work"
color = "#3A87ADFF"

[caldav]
components = ["VEVENT", "VTODO"]

[props]
"{http://apple.com/ns/ical/}calendar-order" = "3"
"##;

    #[test]
    fn parses_core_keys_plugin_tables_and_props() {
        let c = parse_config(SAMPLE).unwrap();
        assert_eq!(c.kind.as_deref(), Some("calendar"));
        assert_eq!(c.string_at(&["displayname"]), Some("Work"));
        assert!(c.table("caldav").unwrap().contains_key("components"));
        let order = &c.props[&Name::new("http://apple.com/ns/ical/", "calendar-order")];
        assert_eq!(order.text(), "3");
    }

    #[test]
    fn edits_keep_comments_and_order() {
        let edits = [
            Edit::Key {
                path: &["displayname"],
                value: Some("Büro".into()),
            },
            Edit::Prop {
                file: None,
                name: Name::new("urn:x", "a"),
                value: Some(Element::with_text(Name::new("urn:x", "a"), "1")),
            },
        ];
        let out = apply(SAMPLE, &edits).unwrap().unwrap();
        assert!(out.starts_with(
            "# Alice's work calendar\nkind = \"calendar\"                 # set by hand\n"
        ));
        assert!(out.contains("displayname = \"Büro\"\n"));
        assert!(out.contains("\"{urn:x}a\" = \"1\""));
        assert!(out.contains("[caldav]\ncomponents = [\"VEVENT\", \"VTODO\"]"));
    }

    #[test]
    fn structured_values_round_trip() {
        let src = r#"<x:a xmlns:x="urn:x" xmlns:y="urn:y" xml:lang="en"><y:b k="v">t</y:b></x:a>"#;
        let value = parse(src.as_bytes(), &Limits::default()).unwrap();
        let edit = Edit::Prop {
            file: Some("f.txt".into()),
            name: value.name.clone(),
            value: Some(value.clone()),
        };
        let out = apply("", &[edit]).unwrap().unwrap();
        let c = parse_config(&out).unwrap();
        assert_eq!(c.files["f.txt"][&value.name], value, "{out}");
    }

    #[test]
    fn removing_the_last_property_empties_the_file() {
        let name = Name::new("urn:x", "a");
        let set = Edit::Prop {
            file: Some("f".into()),
            name: name.clone(),
            value: Some(Element::with_text(name.clone(), "v")),
        };
        let out = apply("", &[set]).unwrap().unwrap();
        let remove = Edit::Prop {
            file: Some("f".into()),
            name,
            value: None,
        };
        assert_eq!(apply(&out, &[remove]).unwrap(), None);
    }
}
