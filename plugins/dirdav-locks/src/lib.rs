//! WebDAV class 2 (RFC 4918 §6, §7): write locks, so that Windows Explorer and Office
//! can edit, macOS Finder mounts a share read-write and davfs2 works as it expects.
//!
//! - `LOCK` takes an exclusive or shared write lock, depth 0 or infinity, on a file or
//!   a folder; on an unmapped URL it creates an empty file first (no lock-null
//!   resources). A `LOCK` without a body refreshes the lock named in the `If` header.
//! - `UNLOCK` removes the lock named in `Lock-Token`, for the user who took it.
//! - `DAV:lockdiscovery` and `DAV:supportedlock` on every resource.
//! - Every write (PUT, DELETE, PROPPATCH, MKCOL, COPY, MOVE, and plugins' methods)
//!   that touches a locked resource must name the lock's token in its `If` header, and
//!   come from the user who took it: 423 `DAV:lock-token-submitted` otherwise. The core
//!   hands it every write ([`LockKeeper`]).
//! - Locks are kept in `locks.json` in the state directory and survive a restart; a
//!   lock lasts as long as the client asked, at most a day, and is refreshed by the
//!   client while it needs it.
//!
//! Registering it adds the `2` compliance token to the `DAV:` header.

mod table;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use dirdav_plugin::http::{HeaderValue, Response, StatusCode, header};
use dirdav_plugin::locks::submitted_tokens;
use dirdav_plugin::xml::{Element, Name, XmlWriter, ns::DAV};
use dirdav_plugin::{
    Body, DavError, DavRequest, Depth, LiveProperty, LockCheck, LockKeeper, Plugin, PropContext,
    Registrar, Store, Touch, WriteEvent,
};
use serde::{Deserialize, Serialize};

use crate::table::{Lock, Table};

/// The longest a lock lasts without a refresh. Windows asks for `Infinite`; a client
/// that crashed would otherwise keep a file locked for good.
pub const MAX_TIMEOUT: u64 = 24 * 60 * 60;

/// How long a lock lasts when the client names no timeout.
pub const DEFAULT_TIMEOUT: u64 = 60 * 60;

/// The file in the state directory that holds the locks.
pub const FILE: &str = "locks.json";

const fn dav(local: &'static str) -> Name {
    Name::new(DAV, local)
}

const LOCKDISCOVERY: Name = dav("lockdiscovery");
const SUPPORTEDLOCK: Name = dav("supportedlock");

/// The locking plugin. `Locks::open(state_dir)` keeps locks across restarts;
/// `Locks::default()` in memory only.
#[derive(Debug, Clone, Default)]
pub struct Locks {
    keeper: Arc<Keeper>,
}

impl Locks {
    /// Locks kept in `dir/locks.json`, loaded now. Locks that lapsed while the server
    /// was down are dropped; a file that does not parse is set aside as
    /// `locks.json.unreadable` (and logged) rather than stop the server.
    pub fn open(dir: &Path) -> std::io::Result<Locks> {
        let file = dir.join(FILE);
        let locks = match std::fs::read(&file) {
            Ok(bytes) => match serde_json::from_slice::<Saved>(&bytes) {
                Ok(saved) => saved.locks,
                Err(e) => {
                    let aside = dir.join(format!("{FILE}.unreadable"));
                    tracing::error!(file = %file.display(), error = %e,
                        "the saved locks do not parse; starting without them");
                    std::fs::rename(&file, aside)?;
                    Vec::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let keeper = Keeper {
            table: Mutex::new(Table::from_locks(locks, now())),
            file: Some(file),
            saving: Mutex::new(()),
        };
        Ok(Locks {
            keeper: Arc::new(keeper),
        })
    }
}

impl Plugin for Locks {
    fn name(&self) -> &'static str {
        "locks"
    }

    fn register(&self, r: &mut Registrar<'_>) {
        let keeper = self.keeper.clone();
        let supported = supported_lock();
        let (lock_keeper, unlock_keeper, observer) =
            (keeper.clone(), keeper.clone(), keeper.clone());
        r.compliance("2")
            .locks(keeper.clone())
            .method("LOCK", move |req: DavRequest| {
                let keeper = lock_keeper.clone();
                async move { lock(&keeper, req).await }
            })
            .method("UNLOCK", move |req: DavRequest| {
                let keeper = unlock_keeper.clone();
                async move { unlock(&keeper, &req).await }
            })
            .property(LiveProperty::computed(LOCKDISCOVERY, move |ctx| {
                Some(keeper.discovery(ctx))
            }))
            .property(LiveProperty::computed(SUPPORTEDLOCK, move |_| {
                Some(supported.clone())
            }))
            .after_write(move |event| observer.written(event));
    }
}

/// The locks on disk.
#[derive(Serialize, Deserialize)]
struct Saved {
    locks: Vec<Lock>,
}

/// The lock table, shared by the handlers, the properties and the core.
#[derive(Debug, Default)]
struct Keeper {
    table: Mutex<Table>,
    file: Option<PathBuf>,
    /// Held while `locks.json` is written, so that saves land in order.
    saving: Mutex<()>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn principal_name(p: Option<&dirdav_plugin::Principal>) -> Option<String> {
    p.map(|p| p.name.to_string())
}

impl Keeper {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the table to `locks.json`, atomically (temporary, fsync, rename).
    fn save_now(&self) -> std::io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let _order = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        let saved = Saved {
            locks: self.table().all().cloned().collect(),
        };
        let bytes = serde_json::to_vec_pretty(&saved).map_err(std::io::Error::other)?;
        let tmp = file.with_extension("json.tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, file)
    }

    /// [`Keeper::save_now`], off the async workers.
    async fn save(self: &Arc<Self>) -> Result<(), DavError> {
        if self.file.is_none() {
            return Ok(());
        }
        let keeper = self.clone();
        let failed = |e: &dyn std::fmt::Display| {
            tracing::error!(error = %e, "saving the locks failed");
            DavError::internal("saving the locks failed")
        };
        tokio::task::spawn_blocking(move || keeper.save_now())
            .await
            .map_err(|e| failed(&e))?
            .map_err(|e| failed(&e))
    }

    /// `DAV:lockdiscovery`: the locks that cover the resource. Their tokens are shown
    /// to the user who took them only.
    fn discovery(&self, ctx: &PropContext<'_>) -> Element {
        let mut element = Element::new(LOCKDISCOVERY);
        let table = self.table();
        if table.is_empty() {
            return element;
        }
        let now = now();
        let asker = principal_name(ctx.principal);
        for lock in table.covering(&ctx.resource.path, now) {
            let show_token = lock.principal == asker;
            element = element.child_element(active_lock(lock, ctx.store, now, show_token));
        }
        element
    }

    /// Forgets locks on what a DELETE or MOVE removed (RFC 4918 §7.5, §9.9.2: a lock
    /// does not follow its resource).
    fn written(self: &Arc<Self>, event: &WriteEvent) {
        if !matches!(event.method.as_str(), "DELETE" | "MOVE") {
            return;
        }
        if self.table().remove_tree(&event.target) {
            let keeper = self.clone();
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(async move { keeper.save().await });
                }
                Err(_) => {
                    if let Err(e) = keeper.save_now() {
                        tracing::error!(error = %e, "saving the locks failed");
                    }
                }
            }
        }
    }
}

impl LockKeeper for Keeper {
    fn holds(&self, path: &str, token: &str) -> bool {
        self.table()
            .find(token, now())
            .is_some_and(|l| l.covers(path))
    }

    fn check(&self, write: &LockCheck<'_>) -> Result<(), DavError> {
        let table = self.table();
        if table.is_empty() {
            return Ok(());
        }
        let now = now();
        let who = principal_name(write.principal);
        let mut missing: Vec<&Lock> = Vec::new();
        for (path, touch) in write.touched {
            let mut locks = table.covering(path, now);
            if *touch == Touch::Tree {
                locks.extend(table.below(path, now));
            }
            for lock in locks {
                let submitted = write.submitted.contains(&lock.token) && lock.principal == who;
                if !submitted && !missing.iter().any(|m| m.token == lock.token) {
                    missing.push(lock);
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let mut condition = Element::new(dav("lock-token-submitted"));
        for lock in &missing {
            condition =
                condition.child_element(href(write.store.href_of(&lock.root, lock.collection)));
        }
        Err(DavError::new(
            StatusCode::LOCKED,
            "the resource is locked; submit the lock's token",
        )
        .condition_element(condition))
    }
}

fn href(href: String) -> Element {
    Element::with_text(dav("href"), href)
}

/// One `DAV:activelock`.
fn active_lock(lock: &Lock, store: &dyn Store, now: u64, show_token: bool) -> Element {
    let scope = if lock.exclusive {
        "exclusive"
    } else {
        "shared"
    };
    let mut e = Element::new(dav("activelock"))
        .child_element(Element::new(dav("locktype")).child_element(Element::new(dav("write"))))
        .child_element(Element::new(dav("lockscope")).child_element(Element::new(dav(scope))))
        .child_element(Element::with_text(
            dav("depth"),
            if lock.deep { "infinity" } else { "0" },
        ));
    if let Some(owner) = lock
        .owner
        .as_deref()
        .and_then(|xml| dirdav_plugin::xml::parse(xml.as_bytes(), &Default::default()).ok())
    {
        e = e.child_element(owner);
    }
    e = e.child_element(Element::with_text(
        dav("timeout"),
        format!("Second-{}", lock.expires.saturating_sub(now)),
    ));
    if show_token {
        e = e.child_element(Element::new(dav("locktoken")).child_element(href(lock.token.clone())));
    }
    e.child_element(
        Element::new(dav("lockroot"))
            .child_element(href(store.href_of(&lock.root, lock.collection))),
    )
}

/// `DAV:supportedlock`: exclusive and shared write locks.
fn supported_lock() -> Element {
    let entry = |scope: &'static str| {
        Element::new(dav("lockentry"))
            .child_element(Element::new(dav("lockscope")).child_element(Element::new(dav(scope))))
            .child_element(Element::new(dav("locktype")).child_element(Element::new(dav("write"))))
    };
    Element::new(SUPPORTEDLOCK)
        .child_element(entry("exclusive"))
        .child_element(entry("shared"))
}

/// The lifetime a client asks for (`Timeout: Second-3600, Infinite`, RFC 4918 §10.7):
/// the first it names that we understand, at most [`MAX_TIMEOUT`].
fn timeout(headers: &dirdav_plugin::http::HeaderMap) -> u64 {
    let asked = headers
        .get("timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',').map(str::trim).find_map(|t| {
                if t.eq_ignore_ascii_case("infinite") {
                    Some(MAX_TIMEOUT)
                } else {
                    t.get(..7)
                        .filter(|p| p.eq_ignore_ascii_case("second-"))
                        .and_then(|_| t[7..].parse::<u64>().ok())
                }
            })
        });
    asked.unwrap_or(DEFAULT_TIMEOUT).clamp(1, MAX_TIMEOUT)
}

/// The answer to a LOCK: the lock's `DAV:lockdiscovery` (RFC 4918 §9.10.1).
fn lock_answer(status: StatusCode, lock: &Lock, store: &dyn Store, new: bool) -> Response<Body> {
    let mut w = XmlWriter::new(&[(DAV, "d")]);
    let discovery =
        Element::new(LOCKDISCOVERY).child_element(active_lock(lock, store, now(), true));
    w.element(&Element::new(dav("prop")).child_element(discovery));
    let mut response = Response::new(Body::from(w.finish()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    if new && let Ok(v) = HeaderValue::from_str(&format!("<{}>", lock.token)) {
        headers.insert("lock-token", v);
    }
    response
}

/// What a `DAV:lockinfo` body asks for.
struct LockInfo {
    exclusive: bool,
    owner: Option<String>,
}

fn lock_info(body: &[u8]) -> Result<LockInfo, DavError> {
    let root = dirdav_plugin::xml::parse(body, &Default::default())
        .map_err(|e| DavError::bad_request("the LOCK body is not XML").source(e))?;
    if root.name != dav("lockinfo") {
        return Err(DavError::bad_request("a LOCK body is a DAV:lockinfo"));
    }
    let scope = root
        .child(&dav("lockscope"))
        .and_then(|s| s.elements().next())
        .ok_or_else(|| DavError::bad_request("DAV:lockinfo needs a DAV:lockscope"))?;
    let exclusive = match scope.name.local() {
        "exclusive" if scope.name.ns() == DAV => true,
        "shared" if scope.name.ns() == DAV => false,
        _ => {
            return Err(DavError::bad_request(
                "the lock scope is exclusive or shared",
            ));
        }
    };
    let write = root
        .child(&dav("locktype"))
        .and_then(|t| t.elements().next())
        .is_some_and(|t| t.name == dav("write"));
    if !write {
        return Err(DavError::bad_request(
            "only write locks exist (DAV:locktype/DAV:write)",
        ));
    }
    let owner = root.child(&dav("owner")).map(|o| {
        let mut w = XmlWriter::fragment();
        w.element(o);
        String::from_utf8_lossy(&w.finish()).into_owned()
    });
    Ok(LockInfo { exclusive, owner })
}

/// LOCK (RFC 4918 §9.10): a new lock, or with no body a refresh of the one named in
/// the `If` header.
async fn lock(keeper: &Arc<Keeper>, req: DavRequest) -> Result<Response<Body>, DavError> {
    let timeout = timeout(&req.parts.headers);
    let who = principal_name(req.principal.as_ref());
    if req.body.iter().all(u8::is_ascii_whitespace) {
        let tokens = submitted_tokens(&req.parts.headers);
        if tokens.is_empty() {
            return Err(DavError::bad_request(
                "a LOCK without a body refreshes a lock: name its token in the If header",
            ));
        }
        let now = now();
        let refreshed = {
            let mut table = keeper.table();
            let token = tokens.iter().find(|t| {
                table
                    .find(t, now)
                    .is_some_and(|l| l.covers(&req.path) && l.principal == who)
            });
            token.and_then(|t| table.refresh(t, now + timeout))
        };
        let lock = refreshed.ok_or_else(|| {
            DavError::precondition_failed("no lock of yours with that token covers this resource")
        })?;
        keeper.save().await?;
        return Ok(lock_answer(StatusCode::OK, &lock, &*req.store, false));
    }
    let info = lock_info(&req.body)?;
    let deep = match req.depth {
        None | Some(Depth::Infinity) => true,
        Some(Depth::Zero) => false,
        Some(Depth::One) => return Err(DavError::bad_request("LOCK takes Depth 0 or infinity")),
    };
    let collection = req.resource.as_ref().is_some_and(|r| r.is_collection);
    let lock = Lock {
        token: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        root: req.path.clone(),
        collection,
        deep: deep && collection,
        exclusive: info.exclusive,
        owner: info.owner,
        principal: who,
        expires: now() + timeout,
    };
    {
        let mut table = keeper.table();
        let now = now();
        table.expire(now);
        if let Some(other) = table.conflict(&lock, now) {
            let at = href(req.store.href_of(&other.root, other.collection));
            return Err(
                DavError::new(StatusCode::LOCKED, "a conflicting lock is held")
                    .condition_element(Element::new(dav("no-conflicting-lock")).child_element(at)),
            );
        }
        table.insert(lock.clone());
    }
    let mut status = StatusCode::OK;
    if req.resource.is_none() {
        if let Err(e) = req
            .store
            .create_file(&req.path, "LOCK", req.principal.as_ref())
            .await
        {
            keeper.table().remove(&lock.token);
            return Err(e);
        }
        status = StatusCode::CREATED;
    }
    if let Err(e) = keeper.save().await {
        // A lock the client is told it did not get must not keep others out.
        keeper.table().remove(&lock.token);
        return Err(e);
    }
    Ok(lock_answer(status, &lock, &*req.store, true))
}

/// UNLOCK (RFC 4918 §9.11): removes the lock named in `Lock-Token`.
async fn unlock(keeper: &Arc<Keeper>, req: &DavRequest) -> Result<Response<Body>, DavError> {
    let token = req
        .parts
        .headers
        .get("lock-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(|t| t.strip_prefix('<')?.strip_suffix('>'))
        .ok_or_else(|| DavError::bad_request("UNLOCK needs a Lock-Token header: <token>"))?;
    {
        let mut table = keeper.table();
        let lock = table
            .find(token, now())
            .filter(|l| l.covers(&req.path))
            .ok_or_else(|| {
                DavError::conflict("no lock with that token covers this resource")
                    .condition(dav("lock-token-matches-request-uri"))
            })?;
        if lock.principal != principal_name(req.principal.as_ref()) {
            return Err(DavError::forbidden("the lock belongs to another user"));
        }
        table.remove(token);
    }
    keeper.save().await?;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> dirdav_plugin::http::HeaderMap {
        let mut h = dirdav_plugin::http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                dirdav_plugin::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn a_lock(token: &str, expires: u64) -> Lock {
        Lock {
            token: token.into(),
            root: "alice/notes.txt".into(),
            collection: false,
            deep: false,
            exclusive: true,
            owner: Some("<owner xmlns=\"DAV:\">me</owner>".into()),
            principal: Some("alice".into()),
            expires,
        }
    }

    #[test]
    fn locks_are_saved_and_read_back_less_the_lapsed() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Locks::open(dir.path()).unwrap();
        {
            let mut table = locks.keeper.table();
            table.insert(a_lock("urn:uuid:kept", now() + 600));
            table.insert(a_lock("urn:uuid:lapsed", now().saturating_sub(1)));
        }
        locks.keeper.save_now().unwrap();
        assert!(!dir.path().join("locks.json.tmp").exists());
        let again = Locks::open(dir.path()).unwrap();
        let table = again.keeper.table();
        let tokens: Vec<_> = table.all().map(|l| l.token.clone()).collect();
        assert_eq!(tokens, ["urn:uuid:kept"]);
        assert_eq!(
            table.all().next(),
            Some(&a_lock(
                "urn:uuid:kept",
                table.all().next().unwrap().expires
            ))
        );
    }

    #[test]
    fn an_unreadable_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "{ not json").unwrap();
        let locks = Locks::open(dir.path()).unwrap();
        assert!(locks.keeper.table().is_empty());
        assert!(!dir.path().join(FILE).exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("locks.json.unreadable")).unwrap(),
            "{ not json"
        );
    }

    #[test]
    fn timeouts() {
        assert_eq!(timeout(&headers(&[])), DEFAULT_TIMEOUT);
        assert_eq!(timeout(&headers(&[("timeout", "Second-600")])), 600);
        assert_eq!(
            timeout(&headers(&[("timeout", "Infinite, Second-4100000000")])),
            MAX_TIMEOUT
        );
        assert_eq!(
            timeout(&headers(&[("timeout", "Second-99999999")])),
            MAX_TIMEOUT
        );
        assert_eq!(timeout(&headers(&[("timeout", "garbage, Second-5")])), 5);
        assert_eq!(timeout(&headers(&[("timeout", "Second-0")])), 1);
    }

    #[test]
    fn lockinfo() {
        let body = br#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:">
            <D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype>
            <D:owner><D:href>mailto:a@example.com</D:href></D:owner></D:lockinfo>"#;
        let info = lock_info(body).unwrap();
        assert!(!info.exclusive);
        let owner = info.owner.unwrap();
        let parsed = dirdav_plugin::xml::parse(owner.as_bytes(), &Default::default()).unwrap();
        assert_eq!(parsed.name, dav("owner"));
        assert_eq!(
            parsed.child(&dav("href")).unwrap().text(),
            "mailto:a@example.com"
        );
        for bad in [
            &b"<x/>"[..],
            b"<D:lockinfo xmlns:D=\"DAV:\"><D:locktype><D:write/></D:locktype></D:lockinfo>",
            b"<D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope></D:lockinfo>",
            b"not xml",
        ] {
            assert_eq!(lock_info(bad).err().map(|e| e.status().as_u16()), Some(400));
        }
    }
}
