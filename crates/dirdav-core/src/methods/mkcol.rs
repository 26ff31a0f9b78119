//! MKCOL (RFC 4918 §9.3) and extended MKCOL (RFC 5689): a new folder, and with a body
//! its kind (from the resourcetype asked for) and properties in a new `.dav.toml`.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use dirdav_plugin::http::{Method, StatusCode};
use dirdav_plugin::xml::{Element, Limits, Name, ns, parse};
use dirdav_plugin::{DavError, NewCollection, Resource, WriteEvent};

use super::refuse_hidden;
use crate::context::{Ctx, Inner};
use crate::dotfile::{DOTFILE, Edit, apply};
use crate::path::{join, split};
use crate::props::names::{CANNOT_MODIFY_PROTECTED, COLLECTION, RESOURCETYPE};
use crate::reconcile::read_config;
use crate::storage::{blocking, sync_parent, write_atomic};

const MKCOL: Name = Name::new(ns::DAV, "mkcol");
const SET: Name = Name::new(ns::DAV, "set");
const PROP: Name = Name::new(ns::DAV, "prop");
const RESOURCE_MUST_BE_NULL: Name = Name::new(ns::DAV, "resource-must-be-null");
const VALID_RESOURCETYPE: Name = Name::new(ns::DAV, "valid-resourcetype");

pub(crate) async fn mkcol(
    srv: &Arc<Inner>,
    ctx: &Ctx,
    resource: Option<Resource>,
    body: Body,
) -> Result<Response, DavError> {
    refuse_hidden(ctx)?;
    let body = srv.read_xml_body(body).await?;
    if resource.is_some() {
        return Err(DavError::method_not_allowed("the resource already exists"));
    }
    let (kind, props) = if body.iter().all(u8::is_ascii_whitespace) {
        (None, Vec::new())
    } else {
        extended(srv, &body)?
    };
    let new = NewCollection {
        path: &ctx.key,
        kind: kind.as_deref(),
        lists: Vec::new(),
        props,
        method: "MKCOL",
        principal: ctx.principal.as_ref(),
    };
    create(srv, new).await?;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// An extended MKCOL body: the kind whose registered resourcetype was asked for, and the
/// other properties to set.
fn extended(srv: &Inner, body: &[u8]) -> Result<(Option<String>, Vec<Element>), DavError> {
    let root = parse(body, &Limits::default()).map_err(|_| {
        DavError::unsupported_media_type("MKCOL body is not an extended MKCOL request")
    })?;
    if root.name != MKCOL {
        return Err(DavError::unsupported_media_type(
            "MKCOL body must be DAV:mkcol (RFC 5689)",
        ));
    }
    let mut kind = None;
    let mut props = Vec::new();
    for prop in root
        .elements()
        .filter(|e| e.name == SET)
        .flat_map(|s| s.elements().filter(|e| e.name == PROP))
    {
        for element in prop.elements() {
            if element.name != RESOURCETYPE {
                props.push(element.clone());
                continue;
            }
            let asked: Vec<&Name> = element
                .elements()
                .map(|e| &e.name)
                .filter(|n| **n != COLLECTION)
                .collect();
            if asked.is_empty() {
                continue;
            }
            let found = srv
                .registry
                .kinds
                .iter()
                .find(|(_, k)| asked.iter().all(|n| k.item.contains(n)))
                .map(|(name, _)| name.clone());
            match found {
                Some(k) => kind = Some(k),
                None => {
                    return Err(
                        DavError::forbidden("no collection kind has that resourcetype")
                            .condition(VALID_RESOURCETYPE),
                    );
                }
            }
        }
    }
    Ok((kind, props))
}

/// Creates a collection: checks, then the folder and its `.dav.toml` in one step under
/// the tree lock. Nothing is created when a check fails.
pub(crate) async fn create(srv: &Inner, new: NewCollection<'_>) -> Result<(), DavError> {
    let key = new.path.trim_matches('/').to_owned();
    if key.split('/').any(crate::path::is_ignored) {
        return Err(DavError::forbidden(
            "names starting with '.' cannot be written",
        ));
    }
    let Some((parent, _)) = split(&key) else {
        return Err(
            DavError::method_not_allowed("the root exists").condition(RESOURCE_MUST_BE_NULL)
        );
    };
    let mut edits = Vec::new();
    if let Some(kind) = new.kind {
        edits.push(Edit::Key {
            path: &["kind"],
            value: Some(kind.to_owned()),
        });
    }
    for (path, values) in new.lists {
        edits.push(Edit::List { path, values });
    }
    for element in new.props {
        match srv.registry.property(&element.name) {
            Some(live) => match live.stored_at {
                Some(path) => {
                    let value = live.value_of(&element)?;
                    edits.push(Edit::Key {
                        path,
                        value: Some(value),
                    });
                    let lang = element.get_attr(&crate::props::names::LANG);
                    if let Some(lang) = lang {
                        edits.push(Edit::Lang {
                            path,
                            lang: Some(lang.to_owned()),
                        });
                    }
                }
                None => {
                    return Err(
                        DavError::forbidden(format!("{} is protected", element.name))
                            .condition(CANNOT_MODIFY_PROTECTED),
                    );
                }
            },
            None => edits.push(Edit::Prop {
                file: None,
                name: element.name.clone(),
                value: Some(element),
            }),
        }
    }
    let text =
        apply("", &edits).map_err(|e| DavError::internal("building .dav.toml failed").source(e))?;

    let _guard = srv.locks.tree().await;
    if srv.index().get(&key).is_some() {
        return Err(DavError::method_not_allowed("the resource already exists")
            .condition(RESOURCE_MUST_BE_NULL));
    }
    if !srv.index().is_dir(parent) {
        return Err(DavError::conflict("the parent collection does not exist"));
    }
    let fs_path = srv.fs_path(&key);
    let (meta, (config, tag, format)) = blocking("creating the collection failed", move || {
        std::fs::create_dir(&fs_path)?;
        if let Some(text) = &text
            && let Err(e) = write_atomic(&fs_path.join(DOTFILE), text.as_bytes())
        {
            let _ = std::fs::remove_dir_all(&fs_path);
            return Err(e);
        }
        sync_parent(&fs_path);
        Ok((std::fs::metadata(&fs_path)?, read_config(&fs_path)))
    })
    .await?;
    let (modified, created) = crate::storage::times(&meta);
    srv.update(|index| index.put_dir(&key, config, tag, format, modified, created))
        .await;
    let mut paths = vec![key.clone()];
    if tag != 0 {
        paths.push(join(&key, DOTFILE));
    }
    srv.notify_event(&WriteEvent {
        method: Method::from_bytes(new.method.as_bytes()).unwrap_or(Method::POST),
        target: key,
        destination: None,
        paths,
        principal: new.principal.cloned(),
    });
    Ok(())
}
