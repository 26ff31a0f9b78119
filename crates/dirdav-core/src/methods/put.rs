//! PUT (RFC 4918 §9.7): the bytes are stored as sent, atomically.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use dirdav_plugin::http::{HeaderValue, StatusCode, header};
use dirdav_plugin::xml::Element;
use dirdav_plugin::{DavError, Resource, WriteCheck, media_essence};
use http_body_util::BodyExt;

use super::{Effect, edit_dotfile, preconditions, refuse_hidden};
use crate::body::body_error;
use crate::context::{Ctx, Inner};
use crate::dotfile::Edit;
use crate::index::FileEntry;
use crate::path::split;
use crate::storage::{TempFile, blocking, io_error, times};

fn too_large() -> DavError {
    DavError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
}

pub(crate) async fn put(
    srv: &Arc<Inner>,
    ctx: &Ctx,
    resource: Option<Resource>,
    body: Body,
) -> Result<Response, DavError> {
    refuse_hidden(ctx)?;
    if resource.as_ref().is_some_and(|r| r.is_collection) {
        return Err(DavError::method_not_allowed("PUT on a collection"));
    }
    let Some((parent_key, _)) = split(&ctx.key) else {
        return Err(DavError::method_not_allowed("PUT on the root collection"));
    };
    if ctx.header("content-range").is_some() {
        return Err(DavError::bad_request(
            "partial PUT with Content-Range is not supported",
        ));
    }
    let declared = ctx
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > srv.config.max_body) {
        return Err(too_large());
    }

    // Fail early, before a byte is uploaded, where the answer is already known.
    if !srv.index().is_dir(parent_key) {
        return Err(DavError::conflict("the parent collection does not exist"));
    }
    preconditions(srv, ctx, resource.as_ref())?;
    if let Some(declared) = declared {
        check_space(srv, ctx, declared, resource.as_ref(), 0)?;
    }

    // The body is received and made durable before the collection's lock is taken, so
    // a slow upload never holds up other writers; under the lock only the checks, the
    // rename and the index update remain.
    // The folder is reached without following links: one swapped in after indexing
    // must not lead the upload out of the tree (it reads as missing: 409).
    let mut tmp = temp_in(srv, parent_key)?;
    // While it arrives the upload counts against quotas (its declared length at once),
    // and is checked as it grows: one that did not say its length, or lied, stops
    // at the limit instead of filling the disk first.
    let upload = srv.uploads.start(&ctx.key, declared.unwrap_or(0));
    let mut next_check = SPACE_CHECK_EVERY;
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| body_error(&e))?;
        if let Some(data) = frame.data_ref() {
            if tmp.len() + data.len() as u64 > srv.config.max_body {
                return Err(too_large());
            }
            tmp.write(data).map_err(|e| io_error("writing failed", e))?;
            upload.received(tmp.len());
            if tmp.len() >= next_check {
                next_check = tmp.len() + SPACE_CHECK_EVERY;
                check_space(srv, ctx, tmp.len(), resource.as_ref(), upload.counted())?;
            }
        }
    }
    let tmp = blocking("storing the file failed", move || {
        tmp.sync()?;
        Ok(tmp)
    })
    .await?;

    let guard = srv.locks.item(parent_key).await;
    // What the lock protects: the state as it is now, not as it was when resolved.
    // Under the collection's lock, before the index's: the folder the temporary is in
    // is still the one at the parent's path.
    let same_folder = tmp.still_in(&srv.root_dir, parent_key);
    let (parent, current) = {
        let index = srv.index();
        if !index.is_dir(parent_key) || !same_folder {
            return Err(DavError::conflict("the parent collection does not exist"));
        }
        (
            srv.resource_in(&index, parent_key),
            srv.resource_in(&index, &ctx.key),
        )
    };
    let parent =
        parent.ok_or_else(|| DavError::conflict("the parent collection does not exist"))?;
    if current.as_ref().is_some_and(|r| r.is_collection) {
        return Err(DavError::method_not_allowed("PUT on a collection"));
    }
    preconditions(srv, ctx, current.as_ref())?;
    check_space(srv, ctx, tmp.len(), current.as_ref(), upload.counted())?;

    // Checks and summaries parse the item and may expand its recurrences: CPU work of
    // bounded but real cost, done on the blocking pool so that the async workers keep
    // answering other clients meanwhile. What the item held before is read there too,
    // for the checks and the item hooks.
    let hooks = srv.registry.item_hooks_for(parent.kind());
    let (tmp, summary, checked, before) = {
        let srv = Arc::clone(srv);
        let key = ctx.key.clone();
        let content_type = ctx.header("content-type").map(str::to_owned);
        let (parent, current) = (parent.clone(), current.clone());
        let principal = ctx.principal.clone();
        let by_agent = ctx.parts.extensions.get::<dirdav_plugin::Agent>().is_some();
        let want_before = !hooks.is_empty();
        dirdav_plugin::compute(move || {
            check_and_summarize(
                &srv,
                &Upload {
                    key: &key,
                    parent: &parent,
                    current: current.as_ref(),
                    content_type: content_type.as_deref(),
                    principal: principal.as_ref(),
                    by_agent,
                    want_before,
                },
                tmp,
            )
        })
        .await?
    };

    let etag = store(srv, &ctx.key, tmp, summary, true).await?;
    drop(upload);
    let mut changed = vec![ctx.key.clone()];
    changed.extend(keep_media_type(srv, ctx, &parent, current.as_ref()).await?);
    srv.notify(ctx, None, changed);
    drop(guard);
    let hooked = !hooks.is_empty();
    if !hooks.is_empty() {
        // The bytes the checks read back are what landed; read them again only when no
        // check did.
        let after = match checked {
            Some(bytes) => Some(bytes),
            None => dirdav_plugin::Store::read(&**srv, &ctx.key).await.ok(),
        };
        super::run_item_hooks(srv, ctx, hooks, before, after).await;
    }

    let mut response = Response::new(Body::empty());
    *response.status_mut() = if current.is_some() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::CREATED
    };
    // A hook may have changed the item after it landed (scheduling records how each
    // invitation went): then the client's copy is not the stored one, and it gets no
    // ETag, so that it reads the item again (RFC 4791 §5.3.4).
    let changed_since = hooked
        && srv
            .resource_in(&srv.index(), &ctx.key)
            .and_then(|r| r.etag)
            .is_some_and(|now| now != etag);
    if !changed_since && let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    if !srv.registry.item_headers.is_empty()
        && let Some(stored) = srv.resource_in(&srv.index(), &ctx.key)
    {
        for (name, value) in srv.registry.headers_for_item(&stored) {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(response)
}

/// A temporary file in the folder `parent_key`, reached without following links (a
/// folder swapped for a link after indexing reads as missing: 409).
fn temp_in(srv: &Inner, parent_key: &str) -> Result<TempFile, DavError> {
    TempFile::new_beneath(&srv.root_dir, parent_key, &srv.fs_path(parent_key)).map_err(|e| match e
        .kind()
    {
        std::io::ErrorKind::NotFound => DavError::conflict("the parent collection does not exist"),
        _ => io_error("creating a temporary file failed", e),
    })
}

/// Renames the temporary to `key` (made durable first) and records the file in the
/// index; returns its entity tag. Without `replace`, a file already on disk there (one
/// the index has not seen yet) is kept and the answer is 405. Runs under the folder's
/// lock.
async fn store(
    srv: &Inner,
    key: &str,
    tmp: TempFile,
    summary: Option<Arc<dirdav_plugin::Summary>>,
    replace: bool,
) -> Result<String, DavError> {
    let target = srv.fs_path(key);
    let stored = blocking("storing the file failed", move || {
        let etag = match replace {
            true => tmp.commit(&target),
            false => tmp.commit_new(&target),
        };
        match etag {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
            etag => Ok(Some((etag?, std::fs::metadata(&target)?))),
        }
    })
    .await?;
    let (etag, meta) =
        stored.ok_or_else(|| DavError::method_not_allowed("something exists there"))?;
    let (modified, created) = times(&meta);
    let file = FileEntry {
        etag: etag.as_str().into(),
        size: meta.len(),
        modified,
        created,
        summary: crate::index::Held::new(summary),
    };
    srv.update(|index| index.put_file(key, file)).await;
    Ok(etag)
}

/// How often, in bytes received, an upload asks the space checks again.
const SPACE_CHECK_EVERY: u64 = 256 * 1024;

/// Asks the space checks (quotas) whether `size` bytes may replace what is there;
/// `uploading` of them are already counted as in flight.
fn check_space(
    srv: &Inner,
    ctx: &Ctx,
    size: u64,
    current: Option<&Resource>,
    uploading: u64,
) -> Result<(), DavError> {
    if srv.registry.space_checks.is_empty() {
        return Ok(());
    }
    srv.registry.check_space(&dirdav_plugin::SpaceCheck {
        method: ctx.method(),
        path: &ctx.key,
        from: None,
        adding: size,
        replacing: current.map_or(0, |r| r.size),
        uploading,
        principal: ctx.principal.as_ref(),
        by_agent: ctx.parts.extensions.get::<dirdav_plugin::Agent>().is_some(),
        store: srv,
    })
}

/// A file in a plain folder keeps the media type it was uploaded with, as a dead
/// `getcontenttype` in the folder's `.dav.toml`, when that says more than its name
/// does (a `notes` uploaded as `text/markdown`); GET and PROPFIND then give it.
/// `application/octet-stream` says nothing and is not kept; an upload without a type,
/// or with the one the name gives, drops a kept one. Collections of a kind have the
/// type of their items, and Radicale or vdir folders have no place for it. Returns the
/// settings file it wrote, if any. Runs under the folder's lock.
async fn keep_media_type(
    srv: &Inner,
    ctx: &Ctx,
    parent: &Resource,
    current: Option<&Resource>,
) -> Result<Option<String>, DavError> {
    let plain = parent.kind().is_none()
        && srv
            .index()
            .dir(&parent.path)
            .is_some_and(|d| d.format == crate::compat::Format::DavToml);
    let Some((_, name)) = split(&ctx.key) else {
        return Ok(None);
    };
    if !plain {
        return Ok(None);
    }
    let guessed = crate::props::content_type(name);
    let keep = ctx
        .header("content-type")
        .map(str::trim)
        .filter(|t| t.len() <= 255 && HeaderValue::from_str(t).is_ok())
        .filter(|t| {
            let essence = media_essence(t);
            !(essence.is_empty()
                || essence.eq_ignore_ascii_case("application/octet-stream")
                || essence.eq_ignore_ascii_case(media_essence(&guessed)))
        });
    let kept = current.and_then(|r| r.dead_props()).and_then(|props| {
        props
            .get(&crate::props::names::GETCONTENTTYPE)
            .map(Element::text)
    });
    if keep == kept.as_deref() {
        return Ok(None);
    }
    let edit = Edit::Prop {
        file: Some(name.to_owned()),
        name: crate::props::names::GETCONTENTTYPE,
        value: keep.map(|t| Element::with_text(crate::props::names::GETCONTENTTYPE, t)),
    };
    let dotfile = edit_dotfile(srv, &parent.path, vec![edit], Effect::Silent).await?;
    Ok(Some(dotfile))
}

/// An upload past its checks: the temporary file, its summary, its bytes when the
/// checks read them, and the bytes of the file it replaces when they were read.
type Checked = (
    TempFile,
    Option<Arc<dirdav_plugin::Summary>>,
    Option<bytes::Bytes>,
    Option<bytes::Bytes>,
);

/// What [`check_and_summarize`] checks: an upload to `key` in `parent`.
struct Upload<'a> {
    key: &'a str,
    parent: &'a Resource,
    current: Option<&'a Resource>,
    content_type: Option<&'a str>,
    principal: Option<&'a dirdav_plugin::Principal>,
    /// Made by a plugin on its own behalf ([`dirdav_plugin::Agent`]).
    by_agent: bool,
    /// Read what the file held before: a plugin watches this kind's items
    /// ([`dirdav_plugin::Registrar::after_item_change`]), and its checks and hooks
    /// compare the item before and after.
    want_before: bool,
}

/// Runs the write checks of the parent's kind on the uploaded bytes and summarizes
/// them, handing the temporary file back for the commit, with the bytes when it read
/// them, and those of the file replaced when `want_before` asks for them.
fn check_and_summarize(
    srv: &Inner,
    upload: &Upload<'_>,
    mut tmp: TempFile,
) -> Result<Checked, DavError> {
    let checked = srv.registry.checks_writes_into(upload.parent);
    let summarizer = srv.registry.summarizer(upload.parent.kind());
    let before = match upload.current {
        Some(_) if upload.want_before => srv
            .root_dir
            .file(upload.key)
            .and_then(crate::storage::read_all)
            .ok()
            .map(bytes::Bytes::from),
        _ => None,
    };
    if !checked && summarizer.is_none() {
        return Ok((tmp, None, None, before));
    }
    let bytes = tmp
        .read_back()
        .map_err(|e| io_error("reading back failed", e))?;
    let check = WriteCheck {
        path: upload.key,
        parent: upload.parent,
        existing: upload.current,
        content_type: upload.content_type,
        body: &bytes,
        before: before.as_deref(),
        moving: None,
        principal: upload.principal,
        by_agent: upload.by_agent,
        store: srv,
    };
    srv.registry.check_write(&check)?;
    let summary = summarizer.map(|summarize| Arc::new(summarize(&bytes)));
    Ok((tmp, summary, Some(bytes::Bytes::from(bytes)), before))
}

/// Creates an empty file at `key` ([`Store::create_file`](dirdav_plugin::Store)): LOCK
/// on an unmapped URL. The folder's write checks see an upload of no bytes; nothing is
/// overwritten.
pub(crate) async fn create_empty(
    srv: &Inner,
    key: &str,
    method: &str,
    principal: Option<&dirdav_plugin::Principal>,
) -> Result<Resource, DavError> {
    let method = method
        .parse()
        .map_err(|_| DavError::bad_request(format!("{method:?} is not a method")))?;
    let Some((parent_key, name)) = split(key) else {
        return Err(DavError::method_not_allowed("the root collection exists"));
    };
    if crate::path::is_ignored(name) {
        return Err(DavError::forbidden(
            "names starting with '.' cannot be written",
        ));
    }
    let _guard = srv.locks.item(parent_key).await;
    let parent = {
        let index = srv.index();
        if index.get(key).is_some() {
            return Err(DavError::method_not_allowed("something exists there"));
        }
        srv.resource_in(&index, parent_key)
            .filter(|p| p.is_collection)
            .ok_or_else(|| DavError::conflict("the parent collection does not exist"))?
    };
    let tmp = temp_in(srv, parent_key)?;
    let upload = Upload {
        key,
        parent: &parent,
        current: None,
        content_type: None,
        principal,
        by_agent: false,
        want_before: false,
    };
    let (tmp, summary, ..) = check_and_summarize(srv, &upload, tmp)?;
    store(srv, key, tmp, summary, false).await?;
    srv.notify_event(&dirdav_plugin::WriteEvent {
        method,
        target: key.to_owned(),
        destination: None,
        paths: vec![key.to_owned()],
        principal: principal.cloned(),
    });
    srv.resource_in(&srv.index(), key)
        .ok_or_else(|| DavError::internal("the new file is not in the index"))
}
