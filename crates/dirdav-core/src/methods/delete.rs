//! DELETE (RFC 4918 §9.6).

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use dirdav_plugin::http::StatusCode;
use dirdav_plugin::{DavError, Depth, Resource};

use super::{Effect, edit_dotfile, preconditions, refuse_hidden};
use crate::context::{Ctx, Inner};
use crate::dotfile::Edit;
use crate::path::split;
use crate::storage::{blocking, remove_beneath};

pub(crate) async fn delete(
    srv: &Arc<Inner>,
    ctx: &Ctx,
    resource: Option<Resource>,
) -> Result<Response, DavError> {
    refuse_hidden(ctx)?;
    let resource = resource.ok_or_else(DavError::not_found)?;
    let Some((parent_key, name)) = split(&ctx.key) else {
        return Err(DavError::forbidden("the root collection cannot be deleted"));
    };
    if resource.is_collection && !matches!(ctx.depth()?, None | Some(Depth::Infinity)) {
        return Err(DavError::bad_request(
            "DELETE of a collection needs Depth: infinity",
        ));
    }
    let guard = if resource.is_collection {
        srv.locks.tree().await
    } else {
        srv.locks.item(parent_key).await
    };
    let current = srv
        .resource_in(&srv.index(), &ctx.key)
        .ok_or_else(DavError::not_found)?;
    preconditions(srv, ctx, Some(&current))?;
    let hooks = match current.is_collection {
        true => Vec::new(),
        false => srv.registry.item_hooks_for(current.kind()),
    };
    let before = match hooks.is_empty() {
        true => None,
        false => dirdav_plugin::Store::read(&**srv, &ctx.key).await.ok(),
    };
    // Deleting a collection deletes each item in it, as far as the items' hooks are
    // concerned (RFC 6638 §3.2.2: a deleted calendar cancels its meetings).
    let items_below = match current.is_collection {
        true => super::hooked_items_below(srv, &ctx.key).await,
        false => Vec::new(),
    };
    let fs_path = srv.fs_path(&ctx.key);
    let is_dir = current.is_collection;
    let (root, parent, item) = (srv.root_dir.clone(), parent_key.to_owned(), name.to_owned());
    blocking("deleting failed", move || {
        remove_beneath(&root, &parent, &item, &fs_path, is_dir)
    })
    .await?;
    srv.update(|index| index.remove(&ctx.key)).await;
    let mut changed = vec![ctx.key.clone()];
    if !is_dir && current.dead_props().is_some_and(|p| !p.is_empty()) {
        let edit = Edit::FileProps {
            file: name.to_owned(),
            props: Default::default(),
        };
        changed.push(edit_dotfile(srv, parent_key, vec![edit], Effect::Silent).await?);
    }
    srv.notify(ctx, None, changed);
    drop(guard);
    if !hooks.is_empty() {
        super::run_item_hooks(srv, ctx, hooks, before, None).await;
    }
    for (item, bytes, hooks) in items_below {
        let method = ctx.method().clone();
        super::run_hooks_at(srv, ctx, &hooks, method, &item, Some(bytes), None).await;
    }
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}
