//! CardDAV (RFC 6352) for dirdav: folders whose `.dav.toml` says
//! `kind = "addressbook"` are address books.
//!
//! This plugin contributes the `addressbook` kind and compliance token; the address book
//! properties (description, supported address data, maximum size, collations,
//! `addressbook-home-set`); checks on every PUT, COPY or MOVE into an address book, each
//! refusal naming its RFC 6352 §6.3.2 precondition; a summary of every card (UID and
//! the FN, N, EMAIL, TEL, NICKNAME, UID and ORG values) for the index; the
//! `addressbook-multiget` and `addressbook-query` REPORTs, the latter answered from the
//! summaries whenever its filter allows, both with `address-data` subsets and vCard
//! 3.0 ⇄ 4.0 conversion; GET on an address book as one `text/vcard`; and an
//! aggregated address book per home merging every book its user can read, for clients
//! that show one address book per account.
//!
//! ```
//! use dirdav_plugin::Registry;
//! let mut registry = Registry::default();
//! registry.register(&dirdav_carddav::CardDav::default());
//! registry.check().unwrap();
//! assert!(registry.compliance.contains(&"addressbook"));
//! ```

mod aggregate;
mod convert;
mod data;
mod query;
mod reports;
mod vcard;

pub use vcard::{check, lint};

use dirdav_plugin::xml::{Element, Name, ns};
use dirdav_plugin::{DavError, LiveProperty, Plugin, Registrar, WriteCheck};

/// The collection kind this plugin serves.
pub const KIND: &str = "addressbook";

/// The largest card accepted (`CARDDAV:max-resource-size`).
const MAX_RESOURCE_SIZE: usize = 10 * 1024 * 1024;

pub(crate) const fn card(local: &'static str) -> Name {
    Name::new(ns::CARDDAV, local)
}

const ADDRESSBOOK: Name = card("addressbook");
const DESCRIPTION: Name = card("addressbook-description");
const SUPPORTED_DATA: Name = card("supported-address-data");
const ADDRESS_DATA_TYPE: Name = card("address-data-type");
const MAX_SIZE: Name = card("max-resource-size");
const HOME_SET: Name = card("addressbook-home-set");
const COLLATIONS: Name = card("supported-collation-set");
pub(crate) const ADDRESS_DATA: Name = card("address-data");

/// The CardDAV plugin.
#[derive(Debug, Default, Clone)]
pub struct CardDav {
    _private: (),
}

/// The checks before a card reaches disk (RFC 6352 §6.3.2.1).
fn check_put(w: &WriteCheck<'_>) -> Result<(), DavError> {
    if w.body.len() > MAX_RESOURCE_SIZE {
        return Err(
            DavError::forbidden(format!("larger than {MAX_RESOURCE_SIZE} bytes"))
                .condition(card("max-resource-size")),
        );
    }
    let other_type = w.media_type().filter(|t| {
        !["text/vcard", "text/x-vcard", "text/directory"]
            .iter()
            .any(|v| t.eq_ignore_ascii_case(v))
    });
    // A type that names another format is refused even when the body parses (RFC
    // 6352 §6.3.2.1).
    if w.names_another_format(
        &["text/vcard", "text/x-vcard", "text/directory"],
        &["text/calendar", "application/ics"],
    ) {
        return Err(DavError::forbidden(format!(
            "{} is not text/vcard",
            other_type.unwrap_or_default()
        ))
        .condition(card("supported-address-data")));
    }
    let parsed = vcard::validate_put(w.body).map_err(|e| match e {
        // Not a vCard, and not said to be: a media type address books do not take. (A
        // valid card under another type is taken: clients get the header wrong.)
        vcard::Invalid::Data(m) if other_type.is_some() => DavError::forbidden(format!(
            "{} is not text/vcard ({m})",
            other_type.unwrap_or_default()
        ))
        .condition(card("supported-address-data")),
        vcard::Invalid::Data(m) => DavError::forbidden(m).condition(card("valid-address-data")),
        vcard::Invalid::Version(m) => {
            DavError::forbidden(m).condition(card("supported-address-data"))
        }
    })?;
    w.require_unique_uid(&parsed.uid, card("no-uid-conflict"))
}

impl Plugin for CardDav {
    fn name(&self) -> &'static str {
        "dirdav-carddav"
    }

    fn register(&self, r: &mut Registrar<'_>) {
        r.namespace(ns::CARDDAV, "card")
            .compliance("addressbook")
            .collection_kind(KIND, vec![ADDRESSBOOK])
            .before_method(|m| match m.nests_kind(KIND) {
                true => Err(DavError::forbidden(
                    "an address book cannot go inside an address book or a calendar (RFC 6352 §5.2)",
                )
                .condition(card("addressbook-collection-location-ok"))),
                false => Ok(()),
            })
            .property(LiveProperty::stored_on(KIND, DESCRIPTION, &["description"]))
            .property(LiveProperty::on_collections_of(
                KIND,
                SUPPORTED_DATA,
                |_| {
                    ["3.0", "4.0"]
                        .into_iter()
                        .fold(Element::new(SUPPORTED_DATA), |set, v| {
                            set.child_element(
                                Element::new(ADDRESS_DATA_TYPE)
                                    .attr(Name::new("", "content-type"), "text/vcard")
                                    .attr(Name::new("", "version"), v),
                            )
                        })
                },
            ))
            .property(LiveProperty::on_collections_of(KIND, MAX_SIZE, |_| {
                Element::with_text(MAX_SIZE, MAX_RESOURCE_SIZE.to_string())
            }))
            .property(LiveProperty::on_collections_of(KIND, COLLATIONS, |_| {
                ["i;ascii-casemap", "i;octet", "i;unicode-casemap"]
                    .into_iter()
                    .fold(Element::new(COLLATIONS), |set, c| {
                        set.child_element(Element::with_text(card("supported-collation"), c))
                    })
            }))
            .property(
                LiveProperty::computed(HOME_SET, |ctx| ctx.home_set(HOME_SET)).not_in_allprop(),
            )
            .write_check(KIND, check_put)
            .summarizer(KIND, vcard::summarize)
            .collection_get(KIND, reports::export)
            .report(
                reports::MULTIGET,
                |r| r.kind() == Some(KIND),
                reports::multiget,
            )
            .report(reports::QUERY, |r| r.kind() == Some(KIND), reports::query)
            .merged(aggregate::merged);
    }
}
