//! Properties: the core's own live properties (registered like any plugin's), dead
//! properties, and the evaluation of `prop`, `allprop` and `propname`.

use dirdav_plugin::http::StatusCode;
use dirdav_plugin::xml::{Element, Name, ns};
use dirdav_plugin::{LiveProperty, Plugin, PropContext, PropStat, Registrar};

/// `DAV:` property names the core answers (RFC 4918 §15).
pub(crate) mod names {
    use super::*;
    /// `xml:lang`, the language of a property's value.
    pub(crate) const LANG: Name = Name::new(ns::XML, "lang");
    pub(crate) const RESOURCETYPE: Name = Name::new(ns::DAV, "resourcetype");
    pub(crate) const COLLECTION: Name = Name::new(ns::DAV, "collection");
    pub(crate) const DISPLAYNAME: Name = Name::new(ns::DAV, "displayname");
    pub(crate) const GETCONTENTLENGTH: Name = Name::new(ns::DAV, "getcontentlength");
    pub(crate) const GETCONTENTTYPE: Name = Name::new(ns::DAV, "getcontenttype");
    pub(crate) const GETETAG: Name = Name::new(ns::DAV, "getetag");
    pub(crate) const GETLASTMODIFIED: Name = Name::new(ns::DAV, "getlastmodified");
    pub(crate) const CREATIONDATE: Name = Name::new(ns::DAV, "creationdate");
    pub(crate) const SUPPORTEDLOCK: Name = Name::new(ns::DAV, "supportedlock");
    pub(crate) const LOCKDISCOVERY: Name = Name::new(ns::DAV, "lockdiscovery");
    pub(crate) const SUPPORTED_REPORT_SET: Name = Name::new(ns::DAV, "supported-report-set");
    pub(crate) const SUPPORTED_REPORT: Name = Name::new(ns::DAV, "supported-report");
    pub(crate) const REPORT: Name = Name::new(ns::DAV, "report");
    pub(crate) const SYNC_TOKEN: Name = Name::new(ns::DAV, "sync-token");
    pub(crate) const GETCTAG: Name = Name::new(ns::CALENDARSERVER, "getctag");
    pub(crate) const CANNOT_MODIFY_PROTECTED: Name =
        Name::new(ns::DAV, "cannot-modify-protected-property");
}
use names::*;

/// The media type of a file as served: the one it was uploaded with when that was kept
/// (a dead `getcontenttype`, see PUT), else [`content_type`] of its name.
pub(crate) fn media_type_of(resource: &dirdav_plugin::Resource) -> String {
    resource
        .dead_props()
        .and_then(|props| props.get(&names::GETCONTENTTYPE).map(Element::text))
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| content_type(resource.name()))
}

/// The media type of a file, from its name: calendars and cards with their charset,
/// everything else guessed from the extension.
pub(crate) fn content_type(name: &str) -> String {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("ics") => "text/calendar; charset=utf-8".to_owned(),
        Some("vcf") => "text/vcard; charset=utf-8".to_owned(),
        _ => mime_guess::from_path(name)
            .first_or_octet_stream()
            .essence_str()
            .to_owned(),
    }
}

/// The class 1 core, registered like a plugin so that its properties appear in the
/// same registry as everyone else's (SabreDAV's "the core is a plugin").
#[derive(Debug)]
pub(crate) struct CoreProps;

/// Without a plugin that keeps locks, every resource says it supports none and holds
/// none (empty `DAV:supportedlock` and `DAV:lockdiscovery`): clients ask for them.
/// Registered after the plugins, when none registered a lock keeper.
#[derive(Debug)]
pub(crate) struct NoLocks;

impl Plugin for NoLocks {
    fn name(&self) -> &'static str {
        "dirdav-core"
    }

    fn register(&self, r: &mut Registrar<'_>) {
        r.property(LiveProperty::computed(SUPPORTEDLOCK, |_| {
            Some(Element::new(SUPPORTEDLOCK))
        }))
        .property(LiveProperty::computed(LOCKDISCOVERY, |_| {
            Some(Element::new(LOCKDISCOVERY))
        }));
    }
}

impl Plugin for CoreProps {
    fn name(&self) -> &'static str {
        "dirdav-core"
    }

    fn register(&self, r: &mut Registrar<'_>) {
        r.namespace(ns::DAV, "d")
            .namespace(ns::CALENDARSERVER, "cs")
            .property(LiveProperty::computed(RESOURCETYPE, |ctx| {
                let mut rt = Element::new(RESOURCETYPE);
                if ctx.resource.is_collection {
                    rt = rt.child_element(Element::new(COLLECTION));
                    let kind = ctx.resource.kind().and_then(|k| ctx.registry.kinds.get(k));
                    for name in kind.map(|k| k.item.as_slice()).unwrap_or_default() {
                        rt = rt.child_element(Element::new(name.clone()));
                    }
                }
                Some(rt)
            }))
            .property(LiveProperty::stored(DISPLAYNAME, &["displayname"]))
            .property(LiveProperty::computed(GETCONTENTLENGTH, |ctx| {
                (!ctx.resource.is_collection)
                    .then(|| Element::with_text(GETCONTENTLENGTH, ctx.resource.size.to_string()))
            }))
            .property(LiveProperty::computed(GETCONTENTTYPE, |ctx| {
                (!ctx.resource.is_collection)
                    .then(|| Element::with_text(GETCONTENTTYPE, media_type_of(ctx.resource)))
            }))
            .property(LiveProperty::computed(GETETAG, |ctx| {
                let etag = ctx.resource.etag.as_ref()?;
                Some(Element::with_text(GETETAG, etag.clone()))
            }))
            .property(LiveProperty::computed(GETLASTMODIFIED, |ctx| {
                let date = httpdate::fmt_http_date(ctx.resource.modified);
                Some(Element::with_text(GETLASTMODIFIED, date))
            }))
            .property(LiveProperty::computed(CREATIONDATE, |ctx| {
                let date = humantime::format_rfc3339_seconds(ctx.resource.created);
                Some(Element::with_text(CREATIONDATE, date.to_string()))
            }))
            .property(
                LiveProperty::computed(SUPPORTED_REPORT_SET, supported_report_set).not_in_allprop(),
            )
            // RFC 6578 §4: not in allprop. CS:getctag is the same value, for clients
            // that check it before syncing.
            .property(
                LiveProperty::computed(SYNC_TOKEN, |ctx| {
                    let token = ctx.resource.sync_token.as_ref()?;
                    Some(Element::with_text(SYNC_TOKEN, token.clone()))
                })
                .not_in_allprop(),
            )
            .property(
                LiveProperty::computed(GETCTAG, |ctx| {
                    let token = ctx.resource.sync_token.as_ref()?;
                    Some(Element::with_text(GETCTAG, token.clone()))
                })
                .not_in_allprop(),
            )
            .report(
                crate::methods::sync_collection::SYNC_COLLECTION,
                |r| r.is_collection,
                crate::methods::sync_collection::report,
            );
    }
}

/// `DAV:supported-report-set` (RFC 3253 §3.1.5), from the registered reports.
fn supported_report_set(ctx: &PropContext<'_>) -> Option<Element> {
    let mut set = Element::new(SUPPORTED_REPORT_SET);
    for name in ctx.registry.reports_for(ctx.resource) {
        let report = Element::new(REPORT).child_element(Element::new(name.clone()));
        set = set.child_element(Element::new(SUPPORTED_REPORT).child_element(report));
    }
    Some(set)
}

/// What a request asks of each resource's properties.
pub(crate) use dirdav_plugin::PropQuery as PropRequest;

/// The value of one property, live or dead.
pub(crate) fn value(ctx: &PropContext<'_>, name: &Name) -> Option<Element> {
    let dead = || ctx.resource.dead_props()?.get(name).cloned();
    match ctx.registry.property(name) {
        Some(live) if live.stored_at.is_some() && !ctx.resource.is_collection => dead(),
        Some(live) => {
            let value = match (&live.getter, live.stored_at) {
                (Some(getter), _) => getter(ctx),
                (None, Some(key)) => match ctx.resource.collection.string_at(key) {
                    Some(s) => Some(Element::with_text(name.clone(), s)),
                    None => return ctx.registry.fallback_value(name, ctx),
                },
                (None, None) => None,
            };
            match (value, live.stored_at) {
                (Some(v), Some(key)) => Some(with_lang(ctx, v, key)),
                (value, _) => value,
            }
        }
        None => dead(),
    }
}

/// A stored live property's value with the `xml:lang` it was set with, if any (kept
/// in the collection's `[lang]` table).
fn with_lang(ctx: &PropContext<'_>, value: Element, key: &[&str]) -> Element {
    let Some(langs) = ctx.resource.collection.table(crate::dotfile::LANG_TABLE) else {
        return value;
    };
    match langs.get(&key.join(".")).and_then(|v| v.as_str()) {
        Some(lang) => value.attr(names::LANG, lang),
        None => value,
    }
}

/// Answers a property request for one resource, grouping by status. With `minimal`
/// (`Prefer: return=minimal`, `Brief: t`), the 404 group is left out.
pub(crate) fn propstats(
    ctx: &PropContext<'_>,
    request: &PropRequest,
    minimal: bool,
) -> Vec<PropStat> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    match request {
        PropRequest::Prop(names) => {
            for name in names {
                match value(ctx, name) {
                    Some(v) => found.push(v),
                    None => missing.push(Element::new(name.clone())),
                }
            }
        }
        PropRequest::AllProp(include) => {
            for live in ctx.registry.properties.iter().map(|p| &p.item) {
                if (live.in_allprop || include.contains(&live.name))
                    && let Some(v) = value(ctx, &live.name)
                {
                    found.push(v);
                }
            }
            if let Some(dead) = ctx.resource.dead_props() {
                let live = |n: &Name| ctx.registry.property(n).is_some();
                found.extend(
                    dead.iter()
                        .filter(|(n, _)| !live(n))
                        .map(|(_, v)| v.clone()),
                );
            }
        }
        PropRequest::PropName => {
            for live in ctx.registry.properties.iter().map(|p| &p.item) {
                if value(ctx, &live.name).is_some() {
                    found.push(Element::new(live.name.clone()));
                }
            }
            if let Some(dead) = ctx.resource.dead_props() {
                let live = |n: &Name| ctx.registry.property(n).is_some();
                found.extend(
                    dead.keys()
                        .filter(|n| !live(n))
                        .map(|n| Element::new(n.clone())),
                );
            }
        }
    }
    let mut out = vec![PropStat {
        status: StatusCode::OK,
        props: found,
        error: None,
    }];
    if !minimal && !missing.is_empty() {
        out.push(PropStat {
            status: StatusCode::NOT_FOUND,
            props: missing,
            error: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(content_type("a.ics"), "text/calendar; charset=utf-8");
        assert_eq!(content_type("A.VCF"), "text/vcard; charset=utf-8");
        assert_eq!(content_type("notes.txt"), "text/plain");
        assert_eq!(content_type("x.pdf"), "application/pdf");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }
}
