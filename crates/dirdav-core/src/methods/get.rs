//! GET and HEAD: files with ranges and validators; folders as an HTML listing.

use std::io::SeekFrom;
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use dirdav_plugin::http::{HeaderValue, Method, StatusCode, header};
use dirdav_plugin::{DavError, Resource};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::preconditions;
use crate::context::{Ctx, Inner};
use crate::props::media_type_of;
use crate::storage::io_error;

pub(crate) async fn get(
    srv: &Arc<Inner>,
    ctx: &Ctx,
    resource: Option<Resource>,
) -> Result<Response, DavError> {
    let resource = resource.ok_or_else(DavError::not_found)?;
    let head = ctx.method() == Method::HEAD;
    if resource.is_collection {
        return Ok(listing(srv, ctx, &resource, head));
    }
    // The bytes served and the validators sent must describe one version: open the
    // file first and make sure it is the version the index describes.
    let (file, resource) = open_consistent(srv, resource).await?;
    let etag = resource.etag.clone().unwrap_or_default();
    if let Err(e) = preconditions(srv, ctx, Some(&resource)) {
        if e.status() != StatusCode::NOT_MODIFIED {
            return Err(e);
        }
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        insert(&mut response, header::ETAG, &etag);
        return Ok(response);
    }
    let size = resource.size;
    let if_range_ok = ctx.header("if-range").is_none_or(|v| v.trim() == etag);
    let range = match ctx.header("range") {
        Some(r) if if_range_ok => parse_range(r, size),
        _ => Range::Full,
    };
    let (status, start, len) = match range {
        Range::Full => (StatusCode::OK, 0, size),
        Range::Part(start, end) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Range::Unsatisfiable => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            insert(
                &mut response,
                header::CONTENT_RANGE,
                &format!("bytes */{size}"),
            );
            return Ok(response);
        }
    };
    let mut len = len;
    let body = if head {
        Body::empty()
    } else if len <= IN_ONE_READ {
        // Items are small: read from the page cache right here when the kernel can do
        // that without waiting for the disk, else one trip to the blocking pool; one
        // body the server sends with the head in a single write.
        let bytes = match read_cached(&file, start, len) {
            Some(bytes) => bytes,
            None => {
                crate::storage::blocking("reading the file failed", move || {
                    read_range(file, start, len)
                })
                .await?
            }
        };
        len = bytes.len() as u64;
        Body::from(bytes)
    } else {
        let mut file = tokio::fs::File::from_std(file);
        if start > 0 {
            file.seek(SeekFrom::Start(start))
                .await
                .map_err(|e| io_error("seeking failed", e))?;
        }
        Body::from_stream(tokio_util::io::ReaderStream::new(file.take(len)))
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    insert(&mut response, header::ETAG, &etag);
    let media = media_type_of(&resource);
    if runs_in_browsers(&media) && !inline_allowed(&resource) {
        insert(&mut response, header::CONTENT_DISPOSITION, "attachment");
    }
    insert(&mut response, header::CONTENT_TYPE, &media);
    insert(&mut response, header::CONTENT_LENGTH, &len.to_string());
    insert(
        &mut response,
        header::LAST_MODIFIED,
        &httpdate::fmt_http_date(resource.modified),
    );
    insert(&mut response, header::ACCEPT_RANGES, "bytes");
    for (name, value) in srv.registry.headers_for_item(&resource) {
        response.headers_mut().insert(name, value);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {start}-{}/{size}", start + len - 1);
        insert(&mut response, header::CONTENT_RANGE, &value);
    }
    Ok(response)
}

/// GET and HEAD of a member of a view ([`dirdav_plugin::View`]): its bytes as made,
/// whole, with the validators and type a file of its name would have.
pub(crate) fn made(
    srv: &Inner,
    ctx: &Ctx,
    resource: &Resource,
    bytes: bytes::Bytes,
) -> Result<Response, DavError> {
    let etag = resource.etag.clone().unwrap_or_default();
    if let Err(e) = preconditions(srv, ctx, Some(resource)) {
        if e.status() != StatusCode::NOT_MODIFIED {
            return Err(e);
        }
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        insert(&mut response, header::ETAG, &etag);
        return Ok(response);
    }
    let len = bytes.len();
    let body = match ctx.method() == Method::HEAD {
        true => Body::empty(),
        false => Body::from(bytes),
    };
    let mut response = Response::new(body);
    insert(&mut response, header::ETAG, &etag);
    insert(
        &mut response,
        header::CONTENT_TYPE,
        &media_type_of(resource),
    );
    insert(&mut response, header::CONTENT_LENGTH, &len.to_string());
    insert(
        &mut response,
        header::LAST_MODIFIED,
        &httpdate::fmt_http_date(resource.modified),
    );
    for (name, value) in srv.registry.headers_for_item(resource) {
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

/// Whether a browser opening a file of this type would run what it holds (HTML, SVG,
/// XHTML): such files are downloaded, not shown, so that an uploaded page cannot act
/// on this origin with the visitor's session, whatever the sandbox policy manages.
fn runs_in_browsers(media: &str) -> bool {
    let essence = dirdav_plugin::media_essence(media);
    ["text/html", "application/xhtml+xml", "image/svg+xml"]
        .iter()
        .any(|t| essence.eq_ignore_ascii_case(t))
}

/// A folder whose `.dav.toml` says `inline = true` (a small web site kept in the
/// tree, on a server whose users trust each other) shows its HTML and SVG files.
fn inline_allowed(file: &Resource) -> bool {
    file.collection
        .document
        .get("inline")
        .and_then(toml::Value::as_bool)
        .unwrap_or(false)
}

/// Opens a file's current version, with the resource describing it. The index's entry
/// is the version when its size and modification time are the open file's; a PUT
/// renames the new version into place just before it updates the index, so a mismatch
/// is retried a few times against the fresh entry. A file changed outside the server
/// and not yet seen by the index is hashed as opened.
async fn open_consistent(
    srv: &Arc<Inner>,
    mut resource: Resource,
) -> Result<(std::fs::File, Resource), DavError> {
    let open = |key: &str| {
        srv.root_dir
            .file(key)
            .and_then(|f| Ok((identity(&f)?, f)))
            .map_err(|e| io_error("opening the file failed", e))
    };
    let ((mut size, mut modified), mut file) = open(&resource.path)?;
    for attempt in 0..3 {
        if size == resource.size && modified == resource.modified {
            return Ok((file, resource));
        }
        tokio::time::sleep(std::time::Duration::from_millis(1 << attempt)).await;
        resource = srv
            .resource_in(&srv.index(), &resource.path)
            .filter(|r| !r.is_collection)
            .ok_or_else(DavError::not_found)?;
        ((size, modified), file) = open(&resource.path)?;
    }
    if size == resource.size && modified == resource.modified {
        return Ok((file, resource));
    }
    let (file, etag) = crate::storage::blocking("reading the file failed", move || {
        crate::storage::hash_open(&file).map(|etag| (file, etag))
    })
    .await?;
    resource.etag = Some(etag);
    resource.size = size;
    resource.modified = modified;
    Ok((file, resource))
}

/// An open file's size and modification time: one `fstat` on Linux (cheaper than the
/// `statx` behind `File::metadata`, on the path of every GET).
fn identity(file: &std::fs::File) -> std::io::Result<(u64, std::time::SystemTime)> {
    #[cfg(target_os = "linux")]
    {
        use std::time::{Duration, UNIX_EPOCH};
        let stat = rustix::fs::fstat(file)?;
        // As the standard library reads it: seconds (before 1970 negative) plus
        // nanoseconds.
        // The field is unsigned on some targets and signed on others.
        #[allow(clippy::useless_conversion)]
        let nanos = Duration::from_nanos(u64::try_from(stat.st_mtime_nsec).unwrap_or(0));
        let seconds = Duration::from_secs(stat.st_mtime.unsigned_abs());
        let modified = match stat.st_mtime >= 0 {
            true => UNIX_EPOCH.checked_add(seconds + nanos),
            false => UNIX_EPOCH
                .checked_sub(seconds)
                .and_then(|t| t.checked_add(nanos)),
        }
        .unwrap_or(UNIX_EPOCH);
        Ok((u64::try_from(stat.st_size).unwrap_or(0), modified))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let meta = file.metadata()?;
        Ok((meta.len(), crate::storage::times(&meta).0))
    }
}

/// Reads a small range without leaving the async thread, when all of it is in the page
/// cache: `preadv2` with `RWF_NOWAIT` fails rather than wait for the disk. Opening a
/// file whose folder the index has just walked needs no disk either, as a rule. A GET
/// then costs no hand-over to the blocking pool and back, which was most of its time
/// under load (futex wake-ups in `perf`). `None`: read it the blocking way.
#[cfg(target_os = "linux")]
fn read_cached(file: &std::fs::File, start: u64, len: u64) -> Option<Vec<u8>> {
    use rustix::io::{ReadWriteFlags, preadv2};
    let mut buf = vec![0u8; usize::try_from(len).ok()?];
    let mut filled = 0;
    while filled < buf.len() {
        let at = start + filled as u64;
        let read = preadv2(
            file,
            &mut [std::io::IoSliceMut::new(&mut buf[filled..])],
            at,
            ReadWriteFlags::NOWAIT,
        )
        .ok()?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    buf.truncate(filled);
    Some(buf)
}

#[cfg(not(target_os = "linux"))]
fn read_cached(_file: &std::fs::File, _start: u64, _len: u64) -> Option<Vec<u8>> {
    None
}

fn insert(response: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}

#[derive(Debug, PartialEq)]
enum Range {
    Full,
    /// Inclusive byte positions.
    Part(u64, u64),
    Unsatisfiable,
}

/// A single `bytes=` range (RFC 7233 §2.1); several ranges are answered in full,
/// which the RFC allows.
fn parse_range(value: &str, size: u64) -> Range {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Range::Full;
    };
    if spec.contains(',') {
        return Range::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let parsed = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(a), Ok(b)) if a <= b => Some((a, b.min(size.saturating_sub(1)))),
        (Ok(a), Err(_)) if last.is_empty() => Some((a, size.saturating_sub(1))),
        (Err(_), Ok(n)) if first.is_empty() => {
            if n == 0 {
                return Range::Unsatisfiable;
            }
            Some((size.saturating_sub(n), size.saturating_sub(1)))
        }
        _ => return Range::Full,
    };
    match parsed {
        Some((a, b)) if a < size && a <= b => Range::Part(a, b),
        _ => Range::Unsatisfiable,
    }
}

/// A folder as a plain HTML page, so that a browser can walk the tree too.
fn listing(srv: &Inner, ctx: &Ctx, resource: &Resource, head: bool) -> Response {
    let title = escape(&resource.href);
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><ul>\n"
    );
    if !resource.path.is_empty() {
        html.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    let index = srv.index();
    for (key, _) in index.members(&resource.path) {
        let Some(member) = srv.resource_in(&index, &key) else {
            continue;
        };
        if !srv
            .registry
            .visible(&member, ctx.principal.as_ref(), &*index)
        {
            continue;
        }
        let mut label = escape(member.name());
        if member.is_collection {
            label.push('/');
        }
        html.push_str(&format!(
            "<li><a href=\"{}\">{label}</a></li>\n",
            escape(&member.href)
        ));
    }
    html.push_str("</ul></body></html>\n");
    let len = html.len();
    let mut response = Response::new(if head {
        Body::empty()
    } else {
        Body::from(html)
    });
    insert(
        &mut response,
        header::CONTENT_TYPE,
        "text/html; charset=utf-8",
    );
    insert(&mut response, header::CONTENT_LENGTH, &len.to_string());
    response
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Files up to this size are read whole and sent as one body.
const IN_ONE_READ: u64 = 256 * 1024;

/// Up to `len` bytes of a file from `start`.
fn read_range(mut file: std::fs::File, start: u64, len: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek};
    if start > 0 {
        file.seek(SeekFrom::Start(start))?;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_reads_as_the_metadata_does_before_and_after_1970() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "12345").unwrap();
        let file = std::fs::File::open(&path).unwrap();
        for when in [
            std::time::UNIX_EPOCH + std::time::Duration::new(1_780_000_000, 123_456_789),
            std::time::UNIX_EPOCH - std::time::Duration::new(86_400, 0)
                + std::time::Duration::new(0, 500),
        ] {
            file.set_modified(when).unwrap();
            let meta = file.metadata().unwrap();
            assert_eq!(
                identity(&file).unwrap(),
                (5, crate::storage::times(&meta).0)
            );
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-4", 10), Range::Part(0, 4));
        assert_eq!(parse_range("bytes=5-", 10), Range::Part(5, 9));
        assert_eq!(parse_range("bytes=-3", 10), Range::Part(7, 9));
        assert_eq!(parse_range("bytes=8-100", 10), Range::Part(8, 9));
        assert_eq!(parse_range("bytes=10-", 10), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 10), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,3-4", 10), Range::Full);
        assert_eq!(parse_range("items=0-1", 10), Range::Full);
        assert_eq!(parse_range("bytes=5-2", 10), Range::Full);
        assert_eq!(parse_range("bytes=0-", 0), Range::Unsatisfiable);
    }
}
