//! PROPPATCH (RFC 4918 §9.2): all instructions succeed together or none is applied.

use std::sync::Arc;

use axum::response::Response;
use dirdav_plugin::http::StatusCode;
use dirdav_plugin::xml::{Element, Limits, Name, XmlWriter, ns, parse};
use dirdav_plugin::{DavError, Multistatus, PropStat, Resource};

use super::{Effect, edit_compat, edit_dotfile, refuse_hidden};
use crate::compat::{Format, vdir_file};
use crate::context::{Ctx, Inner};
use crate::dotfile::Edit;
use crate::path::split;
use crate::props::names::CANNOT_MODIFY_PROTECTED;

const PROPERTYUPDATE: Name = Name::new(ns::DAV, "propertyupdate");
const SET: Name = Name::new(ns::DAV, "set");
const REMOVE: Name = Name::new(ns::DAV, "remove");
const PROP: Name = Name::new(ns::DAV, "prop");
const LANG: Name = Name::new(ns::XML, "lang");

/// One instruction: the property element (with its value for `set`), and whether it
/// is set or removed.
#[derive(Debug)]
struct Instruction {
    element: Element,
    set: bool,
}

fn parse_update(body: &[u8]) -> Result<Vec<Instruction>, DavError> {
    let root = parse(body, &Limits::default())?;
    if root.name != PROPERTYUPDATE {
        return Err(DavError::bad_request("expected DAV:propertyupdate"));
    }
    let root_lang = root.get_attr(&LANG).map(str::to_owned);
    let mut out = Vec::new();
    for op in root.elements() {
        let set = match &op.name {
            n if *n == SET => true,
            n if *n == REMOVE => false,
            _ => continue,
        };
        let op_lang = op.get_attr(&LANG).map(str::to_owned).or(root_lang.clone());
        for prop in op.elements().filter(|e| e.name == PROP) {
            let lang = prop.get_attr(&LANG).map(str::to_owned).or(op_lang.clone());
            for element in prop.elements() {
                let mut element = element.clone();
                // xml:lang is inherited (XML 1.0 §2.12): keep it with the value.
                if set
                    && element.get_attr(&LANG).is_none()
                    && let Some(l) = &lang
                {
                    element = element.attr(LANG, l.clone());
                }
                out.push(Instruction { element, set });
            }
        }
    }
    if out.is_empty() {
        return Err(DavError::bad_request(
            "DAV:propertyupdate names no property",
        ));
    }
    Ok(out)
}

pub(crate) async fn proppatch(
    srv: &Arc<Inner>,
    ctx: &Ctx,
    resource: Option<Resource>,
    body: &[u8],
) -> Result<Response, DavError> {
    refuse_hidden(ctx)?;
    let resource = resource.ok_or_else(DavError::not_found)?;
    let instructions = parse_update(body)?;
    let (collection, file) = if resource.is_collection {
        (resource.path.clone(), None)
    } else {
        let (parent, name) = split(&resource.path).unwrap_or(("", ""));
        (parent.to_owned(), Some(name.to_owned()))
    };
    let _guard = srv.locks.item(&collection).await;
    let format = srv
        .index()
        .dir(&collection)
        .map(|d| d.format)
        .unwrap_or_default();
    if format != Format::DavToml {
        return compat(srv, ctx, &resource, &collection, format, instructions).await;
    }

    let mut failed = false;
    let mut edits = Vec::new();
    let mut outcomes: Vec<(Name, Result<(), DavError>)> = Vec::new();
    for Instruction { element, set } in instructions {
        let name = element.name.clone();
        let outcome = match srv.registry.property(&name) {
            _ if set && too_large(srv, &element) => Err(value_too_large(srv)),
            Some(live) if live.stored_at.is_none() => {
                Err(DavError::forbidden(format!("{name} is protected"))
                    .condition(CANNOT_MODIFY_PROTECTED))
            }
            Some(live) if resource.is_collection => {
                let value = match set {
                    true => live.value_of(&element).map(Some),
                    false => Ok(None),
                };
                value.map(|value| {
                    if let Some(path) = live.stored_at {
                        let lang = value
                            .is_some()
                            .then(|| element.get_attr(&LANG).map(str::to_owned))
                            .flatten();
                        edits.push(Edit::Key { path, value });
                        edits.push(Edit::Lang { path, lang });
                    }
                })
            }
            _ => {
                edits.push(Edit::Prop {
                    file: file.clone(),
                    name: name.clone(),
                    value: set.then_some(element),
                });
                Ok(())
            }
        };
        failed |= outcome.is_err();
        outcomes.push((name, outcome));
    }
    if !failed && !srv.registry.space_checks.is_empty() {
        // Dead properties take room in `.dav.toml`, which quotas count: what the edits
        // add (a bound: what they replace or remove is not subtracted) must fit.
        let adding: u64 = edits.iter().map(Edit::size).sum();
        srv.registry.check_space(&dirdav_plugin::SpaceCheck {
            method: ctx.method(),
            path: &crate::path::join(&collection, crate::dotfile::DOTFILE),
            from: None,
            adding,
            replacing: 0,
            uploading: 0,
            principal: ctx.principal.as_ref(),
            by_agent: ctx.parts.extensions.get::<dirdav_plugin::Agent>().is_some(),
            store: srv.as_ref(),
        })?;
    }
    if !failed {
        let effect = if resource.is_collection {
            Effect::Collection
        } else {
            Effect::File(&resource.path)
        };
        let dotfile = edit_dotfile(srv, &collection, edits, effect).await?;
        srv.notify(ctx, None, vec![dotfile]);
    }

    Ok(answer(srv, ctx, &resource, failed, outcomes))
}

/// Whether a value is larger, written as XML, than one property may be.
fn too_large(srv: &Inner, value: &Element) -> bool {
    let mut writer = XmlWriter::fragment();
    writer.element(value);
    writer.len() > srv.config.max_property
}

fn value_too_large(srv: &Inner) -> DavError {
    DavError::new(
        StatusCode::INSUFFICIENT_STORAGE,
        format!(
            "a property value may be at most {} bytes",
            srv.config.max_property
        ),
    )
}

/// The 207 answer: each property with its status; when any failed, the others 424.
fn answer(
    srv: &Inner,
    ctx: &Ctx,
    resource: &Resource,
    failed: bool,
    outcomes: Vec<(Name, Result<(), DavError>)>,
) -> Response {
    if !failed && super::prefers_minimal(&ctx.parts.headers) {
        // Every instruction succeeded and the client asked for a minimal answer: 200
        // with no body (RFC 8144 §2.2).
        let mut response = Response::new(axum::body::Body::empty());
        Multistatus::say_minimal(response.headers_mut());
        return response;
    }
    let mut propstats: Vec<PropStat> = Vec::new();
    for (name, outcome) in outcomes {
        let (status, error) = match outcome {
            Ok(()) if failed => (StatusCode::FAILED_DEPENDENCY, None),
            Ok(()) => (StatusCode::OK, None),
            Err(e) => (e.status(), e.condition_ref().cloned()),
        };
        match propstats
            .iter_mut()
            .find(|p| p.status == status && p.error == error)
        {
            Some(p) => p.props.push(Element::new(name)),
            None => propstats.push(PropStat {
                status,
                props: vec![Element::new(name)],
                error,
            }),
        }
    }
    let mut ms = Multistatus::new(&srv.registry.prefixes);
    ms.propstats(&resource.href, &propstats);
    ms.into_response()
}

/// PROPPATCH on a Radicale or vdir collection: text values of the collection only,
/// written back in the folder's own format.
async fn compat(
    srv: &Inner,
    ctx: &Ctx,
    resource: &Resource,
    collection: &str,
    format: Format,
    instructions: Vec<Instruction>,
) -> Result<Response, DavError> {
    let mut failed = false;
    let mut changes = Vec::new();
    let mut outcomes = Vec::new();
    for Instruction { element, set } in instructions {
        let name = element.name.clone();
        let outcome = match srv.registry.property(&name) {
            _ if set && too_large(srv, &element) => Err(value_too_large(srv)),
            Some(live) if live.stored_at.is_none() => {
                Err(DavError::forbidden(format!("{name} is protected"))
                    .condition(CANNOT_MODIFY_PROTECTED))
            }
            _ if !resource.is_collection => Err(DavError::forbidden(
                "this collection's format (Radicale or vdir) keeps no properties for items",
            )),
            _ if format == Format::Vdir && vdir_file(&name).is_none() => Err(DavError::forbidden(
                "a vdir keeps only displayname, color, description and order",
            )),
            _ => {
                changes.push((name.clone(), set.then(|| element.text())));
                Ok(())
            }
        };
        failed |= outcome.is_err();
        outcomes.push((name, outcome));
    }
    if !failed {
        let written = edit_compat(srv, collection, format, changes).await?;
        srv.notify(ctx, None, written);
    }
    Ok(answer(srv, ctx, resource, failed, outcomes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_keep_order_and_inherit_lang() {
        let body = br#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z" xml:lang="en">
            <D:set><D:prop><Z:a>1</Z:a></D:prop></D:set>
            <D:remove><D:prop><Z:b/></D:prop></D:remove>
            <D:set><D:prop xml:lang="de"><Z:c>2</Z:c></D:prop></D:set>
        </D:propertyupdate>"#;
        let ins = parse_update(body).unwrap();
        let summary: Vec<(String, bool, Option<&str>)> = ins
            .iter()
            .map(|i| {
                (
                    i.element.name.local().to_owned(),
                    i.set,
                    i.element.get_attr(&LANG),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("a".into(), true, Some("en")),
                ("b".into(), false, None),
                ("c".into(), true, Some("de"))
            ]
        );
    }

    #[test]
    fn refuses_empty_and_foreign_bodies() {
        assert!(parse_update(br#"<propertyupdate xmlns="DAV:"/>"#).is_err());
        assert!(parse_update(br#"<propfind xmlns="DAV:"/>"#).is_err());
    }
}
