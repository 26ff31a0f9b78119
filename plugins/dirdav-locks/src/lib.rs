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
//! - Locks are kept in `locks/` in the state directory, one file each, and survive a
//!   restart; a lock lasts as long as the client asked, at most a day, and is refreshed
//!   by the client while it needs it.
//! - What one user can hold is bounded: a `DAV:owner` of at most [`MAX_OWNER`] bytes,
//!   [`MAX_PER_RESOURCE`] locks on one resource, [`MAX_PER_USER`] locks in all.
//! - A depth-infinity lock covers only what its taker may write (the access control
//!   plugin refuses it otherwise); a lock is removed by its taker, or by anyone who may
//!   write the folder it lies in (the lock root, for a folder). Refusals name only
//!   what the asker may read.
//!
//! Registering it adds the `2` compliance token to the `DAV:` header.

mod saved;
mod table;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::saved::Saved;
use crate::table::{Lock, Table};
use dirdav_plugin::http::{HeaderValue, Response, StatusCode, header};
use dirdav_plugin::locks::submitted_tokens;
use dirdav_plugin::xml::{Element, Name, XmlWriter, ns::DAV};
use dirdav_plugin::{
    Body, DavError, DavRequest, Depth, LiveProperty, LockCheck, LockKeeper, Plugin, PropContext,
    Registrar, Store, Touch, WriteEvent,
};

/// The longest a lock lasts without a refresh. Windows asks for `Infinite`; a client
/// that crashed would otherwise keep a file locked for good.
pub const MAX_TIMEOUT: u64 = 24 * 60 * 60;

/// How long a lock lasts when the client names no timeout.
pub const DEFAULT_TIMEOUT: u64 = 60 * 60;

/// The folder in the state directory that holds the locks, one file each.
pub const DIR: &str = saved::DIR;

/// The longest `DAV:owner` a LOCK may carry, in bytes of XML.
pub const MAX_OWNER: usize = 4096;

/// The most locks one resource may carry (shared locks, one per taker).
pub const MAX_PER_RESOURCE: usize = 32;

/// The most locks one user may hold at once.
pub const MAX_PER_USER: usize = 1000;

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
    /// Locks kept in `dir/locks/`, loaded now. Locks that lapsed while the server was
    /// down are dropped; a file that does not parse is set aside (and logged) rather
    /// than stop the server.
    pub fn open(dir: &Path) -> std::io::Result<Locks> {
        let (saved, locks) = Saved::open(dir)?;
        let now = now();
        let lapsed: Vec<String> = locks
            .iter()
            .filter(|l| l.expires <= now)
            .map(|l| l.token.clone())
            .collect();
        saved.remove(&lapsed)?;
        let keeper = Keeper {
            table: Mutex::new(Table::from_locks(locks, now)),
            saved: Some(saved),
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

/// The lock table, shared by the handlers, the properties and the core.
#[derive(Debug, Default)]
struct Keeper {
    table: Mutex<Table>,
    /// Where locks are kept across restarts (none: in memory only).
    saved: Option<Saved>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn principal_name(p: Option<&dirdav_plugin::Principal>) -> Option<String> {
    p.map(|p| p.name.to_string())
}

fn save_failed(e: &dyn std::fmt::Display) -> DavError {
    tracing::error!(error = %e, "saving the locks failed");
    DavError::internal("saving the locks failed")
}

impl Keeper {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes one lock's file, off the async workers.
    async fn save(&self, lock: &Lock) -> Result<(), DavError> {
        let Some(saved) = self.saved.clone() else {
            return Ok(());
        };
        let lock = lock.clone();
        tokio::task::spawn_blocking(move || saved.write(&lock))
            .await
            .map_err(|e| save_failed(&e))?
            .map_err(|e| save_failed(&e))
    }

    /// Removes a lock's file before the UNLOCK is answered, off the async workers.
    async fn unsave(&self, token: &str) -> Result<(), DavError> {
        let Some(saved) = self.saved.clone() else {
            return Ok(());
        };
        let tokens = vec![token.to_owned()];
        tokio::task::spawn_blocking(move || saved.remove(&tokens))
            .await
            .map_err(|e| save_failed(&e))?
            .map_err(|e| save_failed(&e))
    }

    /// Removes the files of locks that are gone, off the async workers when there are
    /// any; a failure is logged (a stale file is dropped as lapsed at the next start).
    fn forget(&self, tokens: Vec<String>) {
        let Some(saved) = self.saved.clone() else {
            return;
        };
        if tokens.is_empty() {
            return;
        }
        let remove = move || {
            if let Err(e) = saved.remove(&tokens) {
                tracing::error!(error = %e, "removing saved locks failed");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(remove);
            }
            Err(_) => remove(),
        }
    }

    /// `DAV:lockdiscovery`: the locks that cover the resource. Their tokens are shown
    /// to those who may remove them.
    fn discovery(&self, ctx: &PropContext<'_>) -> Element {
        let mut element = Element::new(LOCKDISCOVERY);
        let table = self.table();
        if table.is_empty() {
            return element;
        }
        let now = now();
        let asker = principal_name(ctx.principal);
        for lock in table.covering(&ctx.resource.path, now) {
            // Shown to whoever may remove the lock: its taker, and those who may write
            // where it lies (the token lets them UNLOCK it, not write with it).
            let show_token =
                lock.principal == asker || may_write_around(ctx.store, ctx.principal, lock);
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
        let gone = self.table().remove_tree(&event.target);
        self.forget(gone);
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
        // The locks are named where the writer may read them; else the writer's own
        // target stands for them (the element needs an href).
        let mut hrefs: Vec<String> = missing
            .iter()
            .filter_map(|l| readable_href(write.store, write.principal, &l.root, l.collection))
            .collect();
        if hrefs.is_empty()
            && let Some((path, _)) = write.touched.first()
        {
            let is_collection = write.store.resource(path).is_some_and(|r| r.is_collection);
            hrefs.push(write.store.href_of(path, is_collection));
        }
        let condition = hrefs
            .into_iter()
            .fold(Element::new(dav("lock-token-submitted")), |c, h| {
                c.child_element(href(h))
            });
        Err(DavError::new(
            StatusCode::LOCKED,
            "the resource is locked; submit the lock's token",
        )
        .condition_element(condition))
    }
}

/// The href of a lock root, when `principal` may read it.
fn readable_href(
    store: &dyn Store,
    principal: Option<&dirdav_plugin::Principal>,
    root: &str,
    collection: bool,
) -> Option<String> {
    let resource = store.resource(root)?;
    store
        .visible(&resource, principal)
        .then(|| store.href_of(root, collection))
}

/// Whether `principal` may write the folder a lock lies in (its root, for a folder;
/// the folder holding it, for a file), as `DAV:current-user-privilege-set` says: such
/// a user may remove a lock someone else took there. Without access control (no such
/// property), only the lock's taker may.
fn may_write_around(
    store: &dyn Store,
    principal: Option<&dirdav_plugin::Principal>,
    lock: &Lock,
) -> bool {
    let folder = match lock.collection {
        true => lock.root.as_str(),
        false => dirdav_plugin::path::parent(&lock.root),
    };
    let Some(resource) = store.resource(folder) else {
        return false;
    };
    let set = Name::new(DAV, "current-user-privilege-set");
    store
        .propstats(&resource, std::slice::from_ref(&set), principal)
        .iter()
        .filter(|p| p.status == StatusCode::OK)
        .flat_map(|p| p.props.iter())
        .filter(|e| e.name == set)
        .flat_map(|e| e.elements())
        .flat_map(|privilege| privilege.elements())
        .any(|p| p.name.ns() == DAV && matches!(p.name.local(), "all" | "write" | "write-content"))
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
    if owner.as_ref().is_some_and(|o| o.len() > MAX_OWNER) {
        return Err(DavError::bad_request(format!(
            "the DAV:owner of a lock is at most {MAX_OWNER} bytes"
        )));
    }
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
        keeper.save(&lock).await?;
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
        let lapsed = table.expire(now);
        keeper.forget(lapsed);
        if let Some(other) = table.conflict(&lock, now) {
            let at = href(
                readable_href(
                    &*req.store,
                    req.principal.as_ref(),
                    &other.root,
                    other.collection,
                )
                .unwrap_or_else(|| req.store.href_of(&req.path, collection)),
            );
            return Err(
                DavError::new(StatusCode::LOCKED, "a conflicting lock is held")
                    .condition_element(Element::new(dav("no-conflicting-lock")).child_element(at)),
            );
        }
        if table.on(&lock.root) >= MAX_PER_RESOURCE {
            return Err(DavError::forbidden(format!(
                "a resource carries at most {MAX_PER_RESOURCE} locks"
            )));
        }
        if table.held_by(lock.principal.as_deref()) >= MAX_PER_USER {
            return Err(DavError::forbidden(format!(
                "a user holds at most {MAX_PER_USER} locks at once; unlock some first"
            )));
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
    if let Err(e) = keeper.save(&lock).await {
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
        if lock.principal != principal_name(req.principal.as_ref())
            && !may_write_around(&*req.store, req.principal.as_ref(), lock)
        {
            return Err(DavError::forbidden(
                "the lock belongs to another user, and you may not write where it lies",
            ));
        }
        table.remove(token);
    }
    keeper.unsave(token).await?;
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
    fn locks_are_saved_one_file_each_and_read_back_less_the_lapsed() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Locks::open(dir.path()).unwrap();
        let saved = locks.keeper.saved.clone().unwrap();
        let kept = a_lock("urn:uuid:kept", now() + 600);
        let lapsed = a_lock("urn:uuid:lapsed", now().saturating_sub(1));
        for lock in [&kept, &lapsed] {
            locks.keeper.table().insert(lock.clone());
            saved.write(lock).unwrap();
        }
        assert_eq!(saved.count(), 2);
        let again = Locks::open(dir.path()).unwrap();
        let table = again.keeper.table();
        let all: Vec<_> = table.all().cloned().collect();
        assert_eq!(all, [kept]);
        assert_eq!(saved.count(), 1, "the lapsed lock's file is removed");
        saved.remove(&["urn:uuid:kept".to_owned()]).unwrap();
        assert_eq!(saved.count(), 0);
    }

    #[test]
    fn the_locks_json_of_earlier_versions_is_read_once_and_an_unreadable_one_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let lock = a_lock("urn:uuid:old", now() + 600);
        let legacy = format!("{{\"locks\":[{}]}}", serde_json::to_string(&lock).unwrap());
        std::fs::write(dir.path().join("locks.json"), legacy).unwrap();
        let locks = Locks::open(dir.path()).unwrap();
        assert_eq!(locks.keeper.table().all().count(), 1);
        assert!(!dir.path().join("locks.json").exists());
        assert_eq!(
            Locks::open(dir.path())
                .unwrap()
                .keeper
                .table()
                .all()
                .count(),
            1
        );

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("locks.json"), "{ not json").unwrap();
        let locks = Locks::open(dir.path()).unwrap();
        assert!(locks.keeper.table().is_empty());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("locks.json.unreadable")).unwrap(),
            "{ not json"
        );
        std::fs::write(dir.path().join(DIR).join("bad.json"), "nope").unwrap();
        let locks = Locks::open(dir.path()).unwrap();
        assert!(locks.keeper.table().is_empty());
        assert!(dir.path().join(DIR).join("bad.json.unreadable").exists());
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
        let huge = format!(
            "<D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:shared/></D:lockscope>\
             <D:locktype><D:write/></D:locktype><D:owner>{}</D:owner></D:lockinfo>",
            "x".repeat(MAX_OWNER)
        );
        for bad in [
            huge.as_bytes(),
            &b"<x/>"[..],
            b"<D:lockinfo xmlns:D=\"DAV:\"><D:locktype><D:write/></D:locktype></D:lockinfo>",
            b"<D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope></D:lockinfo>",
            b"not xml",
        ] {
            assert_eq!(lock_info(bad).err().map(|e| e.status().as_u16()), Some(400));
        }
    }
}
