//! MKCOL (RFC 4918 §9.3).

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use dirdav_plugin::http::StatusCode;
use dirdav_plugin::{DavError, Resource};

use super::refuse_hidden;
use crate::path::split;
use crate::server::{Ctx, Inner};
use crate::storage::{blocking, sync_parent, times};

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
    if !body.is_empty() {
        return Err(DavError::unsupported_media_type(
            "MKCOL with a body is not supported",
        ));
    }
    let Some((parent_key, _)) = split(&ctx.key) else {
        return Err(DavError::method_not_allowed("the root exists"));
    };
    let _guard = srv.locks.tree().await;
    if !srv.index().is_dir(parent_key) {
        return Err(DavError::conflict("the parent collection does not exist"));
    }
    if srv.index().get(&ctx.key).is_some() {
        return Err(DavError::method_not_allowed("the resource already exists"));
    }
    let fs_path = srv.fs_path(&ctx.key);
    let meta = blocking("creating the collection failed", move || {
        std::fs::create_dir(&fs_path)?;
        sync_parent(&fs_path);
        std::fs::metadata(&fs_path)
    })
    .await?;
    let (modified, created) = times(&meta);
    srv.update(|index| {
        index.put_dir(
            &ctx.key,
            Default::default(),
            0,
            Default::default(),
            modified,
            created,
        )
    })
    .await;
    srv.notify(ctx, None, vec![ctx.key.clone()]);
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}
