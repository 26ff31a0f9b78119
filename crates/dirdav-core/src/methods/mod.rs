//! One module per method. Each takes the resolved request and the resource (if any)
//! and returns a response or a [`DavError`].

pub(crate) mod copymove;
pub(crate) mod delete;
pub(crate) mod get;
pub(crate) mod mkcol;
pub(crate) mod options;
pub(crate) mod propfind;
pub(crate) mod proppatch;
pub(crate) mod put;
pub(crate) mod report;
pub(crate) mod sync_collection;

use dirdav_plugin::{DavError, Resource};

use crate::compat::{Format, RADICALE_PROPS, radicale_apply, vdir_file};
use crate::conditions::{self, State};
use crate::context::{Ctx, Inner};
use crate::dotfile::{self, DOTFILE, Edit};
use crate::reconcile::{config_tag, read_config};
use crate::storage::blocking;
use crate::storage::{io_error, write_atomic};
use dirdav_plugin::xml::Name;

/// The condition state of a resource.
pub(crate) fn state_of(resource: Option<&Resource>) -> State<'_> {
    match resource {
        Some(r) => State {
            etag: r.etag.as_deref(),
            modified: Some(r.modified),
            exists: true,
        },
        None => State::MISSING,
    }
}

/// Evaluates every precondition header against the resource.
pub(crate) fn preconditions(
    srv: &Inner,
    ctx: &Ctx,
    resource: Option<&Resource>,
) -> Result<(), DavError> {
    conditions::check(&ctx.parts.headers, ctx.method(), state_of(resource))?;
    check_if(srv, ctx, resource)
}

/// Evaluates the `If` header (RFC 4918 §10.4) against the resource: entity tags, and
/// lock tokens through the lock keeper, if a plugin keeps locks.
pub(crate) fn check_if(
    srv: &Inner,
    ctx: &Ctx,
    resource: Option<&Resource>,
) -> Result<(), DavError> {
    let keeper = srv.registry.locks.as_ref().map(|k| &k.item);
    let path_of = |href: &str| srv.decode_href(href).ok().flatten().map(|p| p.key());
    conditions::check_if(
        &ctx.parts.headers,
        resource.and_then(|r| r.etag.as_deref()),
        |href| {
            // A resource the user may not read has no entity tag for them: its bytes
            // could be guessed through it otherwise.
            let key = path_of(href)?;
            let index = srv.index();
            let resource = srv.resource_in(&index, &key)?;
            srv.registry
                .visible(&resource, ctx.principal.as_ref(), &*index)
                .then_some(resource.etag)?
        },
        |href, token| {
            let Some(keeper) = keeper else {
                return false;
            };
            match href {
                None => keeper.holds(&ctx.key, token),
                Some(href) => path_of(href).is_some_and(|key| keeper.holds(&key, token)),
            }
        },
    )
}

/// Whether the client asked for a minimal answer: `Prefer: return=minimal` (RFC 7240,
/// RFC 8144) or Apple's `Brief: t`.
pub(crate) fn prefers_minimal(headers: &http::HeaderMap) -> bool {
    headers
        .get("brief")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("t"))
        || headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|p| p.trim().eq_ignore_ascii_case("return=minimal"))
            })
}

/// Refuses writes to hidden names (dotfiles) with 403.
pub(crate) fn refuse_hidden(ctx: &Ctx) -> Result<(), DavError> {
    if ctx.path.hidden {
        Err(DavError::forbidden(
            "names starting with '.' cannot be written",
        ))
    } else {
        Ok(())
    }
}

/// Sets or removes text properties of a Radicale or vdir collection, written back in
/// its own format. Returns the paths written, for observers.
pub(crate) async fn edit_compat(
    srv: &Inner,
    collection: &str,
    format: Format,
    changes: Vec<(Name, Option<String>)>,
) -> Result<Vec<String>, DavError> {
    let dir = srv.fs_path(collection);
    let written = blocking("writing the collection's settings failed", move || {
        let mut written = Vec::new();
        match format {
            Format::Radicale => {
                let path = dir.join(RADICALE_PROPS);
                let bytes = std::fs::read(&path)?;
                let edited = radicale_apply(&bytes, &changes).map_err(std::io::Error::other)?;
                write_atomic(&path, &edited)?;
                written.push(RADICALE_PROPS.to_owned());
            }
            Format::Vdir => {
                for (name, value) in &changes {
                    let Some(file) = vdir_file(name) else {
                        continue;
                    };
                    let path = dir.join(file);
                    match value {
                        Some(v) => {
                            write_atomic(&path, v.as_bytes())?;
                        }
                        None => match std::fs::remove_file(&path) {
                            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                            _ => {}
                        },
                    }
                    written.push(file.to_owned());
                }
            }
            Format::DavToml => {}
        }
        let settings = read_config(&dir);
        Ok((written, settings))
    })
    .await?;
    let (files, (config, tag, _)) = written;
    srv.update(|index| index.set_config(collection, config, tag, true))
        .await;
    Ok(files
        .iter()
        .map(|f| crate::path::join(collection, f))
        .collect())
}

/// What a `.dav.toml` edit means for sync clients.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Effect<'a> {
    /// The collection's own properties changed: it is reported as changed.
    Collection,
    /// A file's dead properties changed: the file is reported as changed.
    File(&'a str),
    /// Bookkeeping that follows a change already reported (COPY, MOVE, DELETE).
    Silent,
}

/// Applies edits to a collection's `.dav.toml`, atomically, and refreshes the index.
/// Removes the file when nothing is left in it. Returns the dotfile's path below the
/// root, for observers.
pub(crate) async fn edit_dotfile(
    srv: &Inner,
    collection: &str,
    edits: Vec<Edit>,
    effect: Effect<'_>,
) -> Result<String, DavError> {
    let key = crate::path::join(collection, DOTFILE);
    let format = srv
        .index()
        .dir(collection)
        .map(|d| d.format)
        .unwrap_or_default();
    if edits.is_empty() || format != Format::DavToml {
        // Radicale's and vdir folders keep no item properties: nothing to carry over.
        return Ok(key);
    }
    let path = srv.fs_path(collection).join(DOTFILE);
    let max = srv.config.max_settings;
    let result = tokio::task::spawn_blocking(move || -> Result<_, DavError> {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io_error("reading .dav.toml failed", e)),
        };
        let edited = dotfile::apply(&text, &edits).map_err(|e| {
            DavError::conflict(format!(
                "{} is not valid TOML; fix it by hand first",
                DOTFILE
            ))
            .source(e)
        })?;
        // Growing past the bound is refused; an edit that shrinks a file already
        // past it (a hand-written one) is let through.
        if let Some(new) = &edited
            && new.len() > max
            && new.len() > text.len()
        {
            return Err(DavError::new(
                dirdav_plugin::http::StatusCode::INSUFFICIENT_STORAGE,
                format!("the folder's {DOTFILE} would grow past {max} bytes"),
            ));
        }
        match &edited {
            Some(new) => {
                write_atomic(&path, new.as_bytes())
                    .map_err(|e| io_error("writing .dav.toml failed", e))?;
            }
            None => match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("removing .dav.toml failed", e)),
            },
        }
        Ok(edited)
    })
    .await
    .map_err(|e| DavError::internal("dotfile task failed").source(e))??;
    let (config, tag) = match result {
        Some(text) => (
            dirdav_plugin::CollectionConfig {
                size: text.len() as u64,
                ..dotfile::parse_config(&text).unwrap_or_default()
            },
            config_tag(text.as_bytes()),
        ),
        None => (Default::default(), 0),
    };
    srv.update(|index| {
        index.set_config(
            collection,
            config,
            tag,
            matches!(effect, Effect::Collection),
        );
        if let Effect::File(key) = effect {
            index.touch(key);
        }
    })
    .await;
    Ok(key)
}

/// Runs the hooks of an item's change ([`Registrar::after_item_change`]), one after
/// another, once the write has landed and its lock is released.
///
/// [`Registrar::after_item_change`]: dirdav_plugin::Registrar::after_item_change
pub(crate) async fn run_item_hooks(
    srv: &std::sync::Arc<Inner>,
    ctx: &Ctx,
    hooks: Vec<dirdav_plugin::ItemHook>,
    before: Option<bytes::Bytes>,
    after: Option<bytes::Bytes>,
) {
    let method = ctx.method().clone();
    run_hooks_at(srv, ctx, &hooks, method, &ctx.key, before, after).await;
}

/// [`run_item_hooks`] for an item other than the request's own (an item of a deleted
/// collection, one moved away), as `method`.
pub(crate) async fn run_hooks_at(
    srv: &std::sync::Arc<Inner>,
    ctx: &Ctx,
    hooks: &[dirdav_plugin::ItemHook],
    method: dirdav_plugin::http::Method,
    path: &str,
    before: Option<bytes::Bytes>,
    after: Option<bytes::Bytes>,
) {
    for hook in hooks {
        hook(dirdav_plugin::ItemChange {
            method: method.clone(),
            path: path.to_owned(),
            headers: ctx.parts.headers.clone(),
            before: before.clone(),
            after: after.clone(),
            principal: ctx.principal.clone(),
            by_agent: ctx.parts.extensions.get::<dirdav_plugin::Agent>().is_some(),
            store: srv.clone(),
        })
        .await;
    }
}

/// The most items of a deleted collection whose hooks are run (scheduling's CANCEL and
/// REPLY for each meeting of a deleted calendar), and the most bytes of them held
/// while it is deleted: past either, the rest are deleted without their hooks (logged).
const HOOKED_ITEMS: usize = 10_000;
const HOOKED_BYTES: u64 = 32 << 20;

/// The items below a collection about to be deleted whose kind has item hooks, with
/// their bytes and their hooks, within [`HOOKED_ITEMS`] and [`HOOKED_BYTES`] (by the
/// sizes the index knows), read in one batch.
pub(crate) async fn hooked_items_below(
    srv: &std::sync::Arc<Inner>,
    key: &str,
) -> Vec<(String, bytes::Bytes, Vec<dirdav_plugin::ItemHook>)> {
    if srv.registry.item_hooks.is_empty() {
        return Vec::new();
    }
    let (wanted, total) = {
        let index = srv.index();
        let mut wanted = Vec::new();
        let (mut total, mut bytes_held) = (0, 0u64);
        for (item, entry) in index.subtree(key) {
            let crate::index::Entry::File(file) = entry else {
                continue;
            };
            let parent = crate::path::split(item).map_or("", |(parent, _)| parent);
            let hooks = srv.registry.item_hooks_for(index.kind_of(parent));
            if hooks.is_empty() {
                continue;
            }
            total += 1;
            // The first that does not fit ends the list: the rest go without hooks.
            let none_left_out = wanted.len() + 1 == total;
            if none_left_out
                && wanted.len() < HOOKED_ITEMS
                && bytes_held + file.size <= HOOKED_BYTES
            {
                bytes_held += file.size;
                wanted.push((item.clone(), hooks));
            }
        }
        (wanted, total)
    };
    if wanted.len() < total {
        tracing::warn!(collection = %key, items = total, hooked = wanted.len(),
            "a deleted collection holds more items than their hooks are run for; the rest are deleted without them");
    }
    let paths = wanted.iter().map(|(item, _)| item.clone()).collect();
    let read = dirdav_plugin::Store::read_many(&**srv, paths).await;
    wanted
        .into_iter()
        .zip(read)
        .filter_map(|((item, hooks), bytes)| Some((item, bytes?, hooks)))
        .collect()
}
