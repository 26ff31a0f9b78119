//! COPY and MOVE (RFC 4918 §9.8, §9.9).

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use dirdav_plugin::http::{HeaderValue, StatusCode, header};
use dirdav_plugin::{DavError, Depth, Resource, WriteCheck};

use super::{Effect, edit_dotfile, preconditions, refuse_hidden};
use crate::context::{Ctx, Inner};
use crate::dotfile::Edit;
use crate::path::{is_within, split};
use crate::storage::{blocking, copy_file, copy_tree, io_error, remove, sync_parent};

pub(crate) async fn copy_move(
    srv: &Arc<Inner>,
    ctx: &Ctx,
    resource: Option<Resource>,
) -> Result<Response, DavError> {
    let is_move = ctx.method().as_str() == "MOVE";
    if is_move {
        refuse_hidden(ctx)?;
    }
    let source = resource.ok_or_else(DavError::not_found)?;
    let destination = ctx
        .header("destination")
        .ok_or_else(|| DavError::bad_request("Destination header required"))?;
    // The destination's host is not compared with ours: behind a reverse proxy the two
    // legitimately differ. Only its path matters, and it must lie under the base path.
    let dest = srv.decode_href(destination)?.ok_or_else(|| {
        DavError::new(
            StatusCode::BAD_GATEWAY,
            "destination is outside this server",
        )
    })?;
    if dest.hidden {
        return Err(DavError::forbidden(
            "names starting with '.' cannot be written",
        ));
    }
    let dest_key = dest.key();
    let overwrite = match ctx.header("overwrite").map(str::trim) {
        None | Some("T" | "t") => true,
        Some("F" | "f") => false,
        Some(v) => return Err(DavError::bad_request(format!("invalid Overwrite {v:?}"))),
    };
    let shallow = match (is_move, ctx.depth()?) {
        (_, None | Some(Depth::Infinity)) => false,
        (false, Some(Depth::Zero)) => true,
        _ => return Err(DavError::bad_request("invalid Depth for COPY or MOVE")),
    };
    if dest_key == source.path {
        return Err(DavError::forbidden("source and destination are the same"));
    }
    if is_within(&dest_key, &source.path) || is_within(&source.path, &dest_key) {
        return Err(DavError::forbidden("source and destination overlap"));
    }
    let Some((dest_parent, dest_name)) = split(&dest_key) else {
        return Err(DavError::forbidden(
            "the root collection cannot be replaced",
        ));
    };

    let guard = srv.locks.tree().await;
    let (source, existing) = {
        let index = srv.index();
        if !index.is_dir(dest_parent) {
            return Err(DavError::conflict(
                "the destination's parent collection does not exist",
            ));
        }
        let source = srv
            .resource_in(&index, &source.path)
            .ok_or_else(DavError::not_found)?;
        (source, srv.resource_in(&index, &dest_key))
    };
    preconditions(srv, ctx, Some(&source))?;
    if existing.is_some() && !overwrite {
        return Err(DavError::precondition_failed(
            "destination exists and Overwrite is F",
        ));
    }

    // The source and the destination's folder are reached without following links
    // (a folder swapped for one after indexing reads as missing). The copy itself still
    // works on paths: a link swapped in during it is followed at the top, though links
    // inside a copied folder are skipped.
    let reachable = match source.is_collection {
        true => srv.root_dir.dir(&source.path),
        false => srv.root_dir.file(&source.path),
    }
    .and_then(|_| srv.root_dir.dir(dest_parent));
    if let Err(e) = reachable {
        return Err(match e.kind() {
            std::io::ErrorKind::NotFound => DavError::not_found(),
            _ => io_error("opening the source failed", e),
        });
    }
    // An item copied or moved into a collection is checked as a PUT of its bytes would
    // be (RFC 4791 §5.3.2 names COPY and MOVE too).
    let parent = srv.resource_in(&srv.index(), dest_parent);
    if !source.is_collection
        && let Some(parent) = parent
        && srv.registry.checks_writes_into(&parent)
    {
        // On the blocking pool, as for PUT: the checks parse the item.
        let srv = Arc::clone(srv);
        let (dest_key, existing) = (dest_key.clone(), existing.clone());
        let (source_path, moving) = (source.path.clone(), is_move);
        let principal = ctx.principal.clone();
        let watched = !srv.registry.item_hooks_for(parent.kind()).is_empty();
        dirdav_plugin::compute(move || {
            let bytes = srv
                .root_dir
                .file(&source_path)
                .and_then(crate::storage::read_all)
                .map_err(|e| io_error("reading the source failed", e))?;
            let media = crate::props::content_type(&source_path);
            let before = existing
                .as_ref()
                .filter(|e| !e.is_collection && watched)
                .and_then(|e| {
                    srv.root_dir
                        .file(&e.path)
                        .and_then(crate::storage::read_all)
                        .ok()
                });
            let check = WriteCheck {
                path: &dest_key,
                parent: &parent,
                existing: existing.as_ref(),
                content_type: Some(&media),
                body: &bytes,
                before: before.as_deref(),
                moving: moving.then_some(source_path.as_str()),
                principal: principal.as_ref(),
                by_agent: false,
                store: srv.as_ref(),
            };
            srv.registry.check_write(&check)
        })
        .await?;
    }
    if !srv.registry.space_checks.is_empty() {
        let index = srv.index();
        let adding = if shallow {
            0
        } else {
            index.usage(&source.path)
        };
        let replacing = existing.as_ref().map_or(0, |e| index.usage(&e.path));
        drop(index);
        srv.registry.check_space(&dirdav_plugin::SpaceCheck {
            method: ctx.method(),
            path: &dest_key,
            from: is_move.then_some(source.path.as_str()),
            adding,
            replacing,
            uploading: 0,
            principal: ctx.principal.as_ref(),
            by_agent: false,
            store: srv.as_ref(),
        })?;
    }
    // An item moved out of a collection into one of another kind leaves the first as a
    // DELETE would, for the hooks of its kind (a meeting moved out of a calendar is
    // cancelled, RFC 6638 §3.2.2).
    let moved_out = match (is_move, source.is_collection) {
        (true, false) => {
            let (from_kind, to_kind) = {
                let index = srv.index();
                let from = split(&source.path).and_then(|(p, _)| index.kind_of(p));
                (
                    from.map(str::to_owned),
                    index.kind_of(dest_parent).map(str::to_owned),
                )
            };
            let hooks = match from_kind == to_kind {
                true => Vec::new(),
                false => srv.registry.item_hooks_for(from_kind.as_deref()),
            };
            match hooks.is_empty() {
                true => None,
                false => dirdav_plugin::Store::read(&**srv, &source.path)
                    .await
                    .ok()
                    .map(|bytes| (bytes, hooks)),
            }
        }
        _ => None,
    };
    let src_path = srv.fs_path(&source.path);
    let dest_path = srv.fs_path(&dest_key);
    let src_is_dir = source.is_collection;
    let replace_dir = existing.as_ref().map(|e| e.is_collection);
    blocking("copying failed", move || {
        if !is_move && src_is_dir {
            // A folder is copied beside the destination under a temporary's name and
            // renamed into place once whole: a copy that fails (a full disk) leaves
            // nothing behind, and an existing destination is kept until then.
            let staged = crate::storage::staging_path(&dest_path);
            if let Err(e) = copy_tree(&src_path, &staged, shallow) {
                let _ = std::fs::remove_dir_all(&staged);
                return Err(e);
            }
            if let Some(dest_is_dir) = replace_dir {
                remove(&dest_path, dest_is_dir)?;
            }
            std::fs::rename(&staged, &dest_path)?;
            sync_parent(&dest_path);
            return Ok(());
        }
        match replace_dir {
            // A file may be renamed or copied over a file atomically; anything else
            // replaces the destination by deleting it first (RFC 4918 §9.8.4).
            Some(dest_is_dir) if dest_is_dir || src_is_dir => remove(&dest_path, dest_is_dir)?,
            _ => {}
        }
        match (is_move, src_is_dir) {
            (true, _) => {
                std::fs::rename(&src_path, &dest_path)?;
                sync_parent(&src_path);
                sync_parent(&dest_path);
            }
            (false, true) => copy_tree(&src_path, &dest_path, shallow)?,
            (false, false) => {
                copy_file(&src_path, &dest_path)?;
            }
        }
        Ok(())
    })
    .await?;

    srv.update(|index| {
        if is_move {
            index.rename(&source.path, &dest_key);
        } else {
            index.copy(&source.path, &dest_key, shallow);
        }
    })
    .await;
    // Items arriving in a collection of another kind get that kind's summary.
    if !src_is_dir {
        let summarizer = srv
            .index()
            .dir(dest_parent)
            .and_then(|d| srv.registry.summarizer(d.config.kind.as_deref()).cloned());
        let entry = match srv.index().get(&dest_key) {
            Some(crate::index::Entry::File(f)) => Some(f.clone()),
            _ => None,
        };
        if let (Some(summarize), Some(mut entry)) = (summarizer, entry) {
            let path = srv.fs_path(&dest_key);
            let summary = blocking("reading the copy failed", move || {
                std::fs::read(path).map(|bytes| summarize(&bytes))
            })
            .await?;
            entry.summary = crate::index::Held::new(Some(std::sync::Arc::new(summary)));
            srv.update(|index| index.put_file(&dest_key, entry)).await;
        }
    }
    let mut changed = vec![dest_key.clone()];
    if is_move {
        changed.push(source.path.clone());
    }
    // A file's dead properties live in its folder's .dav.toml: they follow the file.
    if !src_is_dir {
        let props = source
            .dead_props()
            .map(std::borrow::Cow::into_owned)
            .unwrap_or_default();
        let had = existing
            .as_ref()
            .and_then(Resource::dead_props)
            .is_some_and(|p| !p.is_empty());
        if !props.is_empty() || had {
            let edit = Edit::FileProps {
                file: dest_name.to_owned(),
                props: props.clone(),
            };
            changed.push(edit_dotfile(srv, dest_parent, vec![edit], Effect::Silent).await?);
        }
        if is_move
            && !props.is_empty()
            && let Some((src_parent, src_name)) = split(&source.path)
        {
            let edit = Edit::FileProps {
                file: src_name.to_owned(),
                props: Default::default(),
            };
            changed.push(edit_dotfile(srv, src_parent, vec![edit], Effect::Silent).await?);
        }
    }
    srv.notify(ctx, Some(dest_key.clone()), changed);
    drop(guard);
    if let Some((bytes, hooks)) = moved_out {
        let method = dirdav_plugin::http::Method::DELETE;
        super::run_hooks_at(srv, ctx, &hooks, method, &source.path, Some(bytes), None).await;
    }
    let mut response = Response::new(Body::empty());
    *response.status_mut() = if existing.is_some() {
        StatusCode::NO_CONTENT
    } else {
        // The request named the source: the created resource is said where it is
        // (RFC 9110 §15.3.2).
        let href = srv.href(&dest_key, source.is_collection);
        if let Ok(v) = HeaderValue::from_str(&href) {
            response.headers_mut().insert(header::LOCATION, v);
        }
        StatusCode::CREATED
    };
    Ok(response)
}
