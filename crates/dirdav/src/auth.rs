//! HTTP Basic authentication against an Apache htpasswd file, as a tower layer that
//! puts the [`Principal`] into the request.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use dirdav_plugin::Principal;
use http::{HeaderName, HeaderValue, StatusCode, header};

/// How long a verified password is remembered: bcrypt is slow by design, and clients
/// send the credentials with every request.
const CACHE_TTL: Duration = Duration::from_secs(300);

/// Users and their bcrypt hashes. A user may have several lines, one per device (app
/// passwords): any of them admits, and deleting a line revokes that device alone.
#[derive(Debug)]
pub(crate) struct Htpasswd {
    users: HashMap<String, Vec<String>>,
    cache: Mutex<HashMap<blake3::Hash, Instant>>,
    /// A hash no password matches, of the highest cost among the users' hashes: what a
    /// password for an unknown user is checked against.
    dummy: String,
}

/// A well-formed bcrypt hash of `cost` that no password matches (its digest is not one
/// bcrypt can produce for this salt, as far as anyone can tell): verifying against it
/// takes as long as verifying against a real hash of that cost.
fn dummy_hash(cost: u32) -> String {
    format!("$2b${cost:02}${}", ".".repeat(53))
}

/// The cost of a bcrypt hash (`$2y$10$…` is 10).
fn cost_of(hash: &str) -> Option<u32> {
    let mut parts = hash.split('$');
    let (_, _, cost) = (parts.next()?, parts.next()?, parts.next()?);
    cost.parse().ok().filter(|c| (4..=31).contains(c))
}

/// Why an htpasswd file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HtpasswdError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

impl Htpasswd {
    /// Loads `user:hash` lines. Only bcrypt hashes (`htpasswd -B`) are accepted; a line
    /// with another scheme is skipped with a log line saying how to fix it.
    pub(crate) fn load(path: &Path) -> Result<Htpasswd, HtpasswdError> {
        let text = std::fs::read_to_string(path).map_err(|source| HtpasswdError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self::parse(&text, &path.display().to_string()))
    }

    pub(crate) fn parse(text: &str, origin: &str) -> Htpasswd {
        let mut users = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, hash)) = line.split_once(':') else {
                tracing::warn!(file = origin, line = n + 1, "not a user:hash line; skipped");
                continue;
            };
            if ["$2y$", "$2b$", "$2a$"].iter().any(|p| hash.starts_with(p)) {
                users
                    .entry(user.to_owned())
                    .or_insert_with(Vec::new)
                    .push(hash.to_owned());
            } else {
                tracing::warn!(
                    file = origin,
                    user,
                    "only bcrypt hashes are accepted (create them with `htpasswd -B`); user skipped"
                );
            }
        }
        let cost = users.values().flatten().filter_map(|h| cost_of(h)).max();
        Htpasswd {
            users,
            cache: Mutex::new(HashMap::new()),
            dummy: dummy_hash(cost.unwrap_or(bcrypt::DEFAULT_COST)),
        }
    }

    /// Number of usable users.
    pub(crate) fn len(&self) -> usize {
        self.users.len()
    }

    /// The user names.
    pub(crate) fn names(&self) -> Vec<String> {
        self.users.keys().cloned().collect()
    }

    /// Checks a password against each of the user's hashes, remembering a success for
    /// [`CACHE_TTL`].
    ///
    /// A user who is not in the file costs as long to refuse as one who is (a password
    /// is checked against a hash of the same bcrypt cost), so that the time of a refusal
    /// does not tell which user names exist.
    pub(crate) async fn verify(&self, user: &str, password: &str) -> bool {
        let Some(hashes) = self.users.get(user) else {
            let (password, dummy) = (password.to_owned(), self.dummy.clone());
            let _ = tokio::task::spawn_blocking(move || bcrypt::verify(&password, &dummy)).await;
            return false;
        };
        let mut hasher = blake3::Hasher::new();
        for part in [user, password] {
            hasher.update(part.as_bytes());
            hasher.update(&[0]);
        }
        for hash in hashes {
            hasher.update(hash.as_bytes());
            hasher.update(&[0]);
        }
        let key = hasher.finalize();
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache
                .get(&key)
                .is_some_and(|t| now.duration_since(*t) < CACHE_TTL)
            {
                return true;
            }
        }
        let (password, hashes) = (password.to_owned(), hashes.clone());
        let ok = tokio::task::spawn_blocking(move || {
            hashes
                .iter()
                .any(|hash| bcrypt::verify(&password, hash).unwrap_or(false))
        })
        .await
        .unwrap_or(false);
        if ok {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() > 10_000 {
                cache.retain(|_, t| now.duration_since(*t) < CACHE_TTL);
            }
            cache.insert(key, now);
        }
        ok
    }
}

/// Failed logins a client address may make before it is slowed down.
const FREE_FAILURES: u32 = 10;
/// The longest an address is refused, and how long failures are remembered.
const MAX_BLOCK: Duration = Duration::from_secs(15 * 60);

/// How many addresses the throttle remembers before it forgets those whose failures
/// have expired; it stops taking new ones at twice as many.
const REMEMBERED: usize = 100_000;
/// The least time between two sweeps of the throttle's table.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Failed logins by client address: after [`FREE_FAILURES`], each further failure
/// refuses the address for twice as long as the last (1 s, 2 s, 4 s … up to
/// [`MAX_BLOCK`]), with 429 and `Retry-After`, before any password is checked. Other
/// addresses are not affected; failures are forgotten [`MAX_BLOCK`] after the last one.
///
/// An IPv6 client is counted by its /64 (one subscriber's network; its addresses are
/// free to the subscriber). The table is bounded: past [`REMEMBERED`] addresses it is
/// swept for expired ones at most every [`SWEEP_EVERY`], and past twice as many, new
/// addresses are not recorded until a sweep makes room (the ones already refused stay
/// refused), so a flood of addresses costs neither memory nor a scan per request.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    failures: HashMap<IpAddr, Failures>,
    last_sweep: Option<Instant>,
    sweeps: u64,
}

#[derive(Debug)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

/// What the throttle counts an address as: itself, or for IPv6 its /64.
fn throttle_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        other => other.to_canonical(),
    }
}

impl Throttle {
    /// How long the address is still refused, if it is.
    pub(crate) fn blocked(&self, ip: IpAddr) -> Option<Duration> {
        let table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let until = table.failures.get(&throttle_key(ip))?.blocked_until?;
        until.checked_duration_since(Instant::now())
    }

    /// Records a failed login; returns how long the address is now refused, if it is.
    pub(crate) fn failed(&self, ip: IpAddr) -> Option<Duration> {
        self.failed_at(ip, Instant::now())
    }

    fn failed_at(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let key = throttle_key(ip);
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let due = table
            .last_sweep
            .is_none_or(|t| now.saturating_duration_since(t) >= SWEEP_EVERY);
        if table.failures.len() > REMEMBERED && due {
            table
                .failures
                .retain(|_, f| now.saturating_duration_since(f.last) < MAX_BLOCK);
            table.last_sweep = Some(now);
            table.sweeps += 1;
        }
        if table.failures.len() >= 2 * REMEMBERED && !table.failures.contains_key(&key) {
            return None;
        }
        let f = table.failures.entry(key).or_insert(Failures {
            count: 0,
            last: now,
            blocked_until: None,
        });
        if now.saturating_duration_since(f.last) >= MAX_BLOCK {
            f.count = 0;
        }
        f.count += 1;
        f.last = now;
        let beyond = f.count.checked_sub(FREE_FAILURES)?;
        let block = Duration::from_secs(1u64 << beyond.min(20)).min(MAX_BLOCK);
        f.blocked_until = Some(now + block);
        Some(block)
    }
}

/// What identifies a version of a file without reading it: its modification time, size
/// and inode (an editor that renames a new file into place changes the inode).
type Stamp = (Option<std::time::SystemTime>, u64, u64);

fn stamp_of(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.modified().ok(), meta.len(), inode))
}

/// The htpasswd file a running server reads: re-read when it changes (`dirdav user`,
/// an editor, `htpasswd -B`) or on SIGHUP, so that users and passwords take effect
/// without a restart. The names it holds, with those of `[users]`, are the server's
/// [`KnownUsers`](dirdav_plugin::KnownUsers), which the plugins share.
#[derive(Debug)]
pub(crate) struct UsersFile {
    path: std::path::PathBuf,
    current: std::sync::RwLock<Arc<Htpasswd>>,
    stamp: Mutex<Option<Stamp>>,
    /// The users of `[users]` in the settings: known whatever the file says.
    configured: std::collections::BTreeSet<String>,
    known: dirdav_plugin::KnownUsers,
}

impl UsersFile {
    /// Reads the file, and makes its names (and `configured`) the known users.
    pub(crate) fn open(
        path: &Path,
        configured: std::collections::BTreeSet<String>,
        known: dirdav_plugin::KnownUsers,
    ) -> Result<UsersFile, HtpasswdError> {
        let stamp = stamp_of(path);
        let users = Htpasswd::load(path)?;
        known.replace(users.names().into_iter().chain(configured.iter().cloned()));
        Ok(UsersFile {
            path: path.to_owned(),
            current: std::sync::RwLock::new(Arc::new(users)),
            stamp: Mutex::new(stamp),
            configured,
            known,
        })
    }

    /// The users and passwords as last read.
    pub(crate) fn current(&self) -> Arc<Htpasswd> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file again when it changed since last read (always when `forced`),
    /// logging who was added and removed; a file that cannot be read leaves the users
    /// as they were. Returns whether the users were replaced.
    pub(crate) fn reload(&self, forced: bool) -> bool {
        let stamp = stamp_of(&self.path);
        {
            let mut seen = self.stamp.lock().unwrap_or_else(|e| e.into_inner());
            if !forced && *seen == stamp {
                return false;
            }
            *seen = stamp;
        }
        let users = match Htpasswd::load(&self.path) {
            Ok(users) => users,
            Err(e) => {
                tracing::error!(error = %e, "users not reloaded; the old ones stay");
                return false;
            }
        };
        let before = self.current().names();
        let now = users.names();
        let added: Vec<&String> = now.iter().filter(|n| !before.contains(n)).collect();
        let removed: Vec<&String> = before.iter().filter(|n| !now.contains(n)).collect();
        tracing::info!(
            htpasswd = %self.path.display(),
            users = users.len(),
            added = ?added,
            removed = ?removed,
            "users reloaded"
        );
        self.known
            .replace(now.iter().cloned().chain(self.configured.iter().cloned()));
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(users);
        true
    }
}

/// State of the authentication layer.
#[derive(Clone, Debug)]
pub(crate) struct Auth {
    /// The htpasswd users; `None` when users come from a proxy only.
    pub(crate) users: Option<Arc<UsersFile>>,
    pub(crate) realm: HeaderValue,
    pub(crate) dav_header: HeaderValue,
    /// `<base path>/.well-known/`, answered without credentials.
    pub(crate) well_known: String,
    pub(crate) throttle: Arc<Throttle>,
    /// Reverse proxies whose `X-Forwarded-For` and proxy-user header are believed.
    pub(crate) trusted: Arc<Vec<IpAddr>>,
    /// The proxies were named (`--trusted-proxy`), not assumed (loopback): only then
    /// does the throttle count failures by the address their `X-Forwarded-For` names,
    /// since any local process could otherwise name a fresh address per guess.
    pub(crate) throttle_forwarded: bool,
    /// `--trust-proxy-user`: the header a trusted proxy names the user in.
    pub(crate) proxy_user: Option<HeaderName>,
    /// The users the server knows (htpasswd and `[users]`): only they have homes.
    pub(crate) known: dirdav_plugin::KnownUsers,
    /// Users a proxy named who are not known, each logged once (at most 1,000).
    pub(crate) strangers: Arc<Mutex<std::collections::HashSet<String>>>,
    /// `--allow-plain-auth`: accept passwords over plain HTTP from any address.
    pub(crate) allow_plain: bool,
}

/// The address a request comes from: the peer, or for a named trusted proxy the last
/// address of its `X-Forwarded-For`; and whether the peer is a trusted proxy.
fn client_address(auth: &Auth, request: &Request) -> Option<(IpAddr, bool)> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()?
        .0
        .ip()
        .to_canonical();
    let trusted = auth.trusted.contains(&peer);
    let forwarded = (trusted && auth.throttle_forwarded)
        .then(|| request.headers().get("x-forwarded-for")?.to_str().ok())
        .flatten()
        .and_then(|v| v.rsplit(',').next()?.trim().parse::<IpAddr>().ok());
    Some((forwarded.unwrap_or(peer), trusted))
}

fn credentials(request: &Request) -> Option<(String, String)> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Admits requests with valid credentials as their principal, or with the user a
/// trusted proxy names (`--trust-proxy-user`); answers 401 to wrong credentials and 429
/// to an address that failed too often ([`Throttle`]). Passwords over plain HTTP are
/// refused (403) except from loopback and trusted proxies, unless `--allow-plain-auth`.
/// A request without credentials goes on as anonymous: the ACL plugin lets it read what
/// `[acl]` grants to `all` (a public calendar) and answers 401 elsewhere, and this layer
/// adds the challenge to every 401.
pub(crate) async fn require_user(
    State(auth): State<Auth>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.uri().path().starts_with(&auth.well_known) {
        return next.run(request).await;
    }
    let (client, from_proxy) =
        client_address(&auth, &request).unwrap_or((IpAddr::from([127, 0, 0, 1]), false));
    if let Some(header) = &auth.proxy_user {
        let named = request
            .headers_mut()
            .remove(header)
            .filter(|_| from_proxy)
            .and_then(|v| v.to_str().ok().map(str::trim).map(str::to_owned))
            .filter(|v| !v.is_empty() && !v.contains('/'));
        if let Some(user) = named {
            if !auth.known.contains(&user) {
                let mut strangers = auth.strangers.lock().unwrap_or_else(|p| p.into_inner());
                if strangers.len() < 1_000 && strangers.insert(user.clone()) {
                    tracing::warn!(
                        user,
                        "signed in by the proxy but not a known user: no home of their own; \
                         add [users.{user}] to dirdav.toml"
                    );
                }
            }
            return admit(Principal::new(&user), request, next).await;
        }
    }
    match credentials(&request) {
        Some((user, password)) => {
            let secure = request.extensions().get::<dirdav_plugin::Tls>().is_some();
            if !secure && !auth.allow_plain && !client.is_loopback() && !from_proxy {
                tracing::warn!(%client, "password sent over plain HTTP refused");
                return text(
                    StatusCode::FORBIDDEN,
                    "passwords are not accepted over plain HTTP: use https \
                     (--tls-cert and --tls-key), or start dirdav with --allow-plain-auth\n",
                );
            }
            if let Some(wait) = auth.throttle.blocked(client) {
                return too_many(wait);
            }
            let known = match &auth.users {
                Some(users) => users.current().verify(&user, &password).await,
                None => false,
            };
            if known {
                return admit(Principal::new(&user), request, next).await;
            }
            if let Some(block) = auth.throttle.failed(client) {
                tracing::warn!(
                    %client,
                    user,
                    seconds = block.as_secs(),
                    "too many failed logins: address refused for a while"
                );
            } else {
                tracing::info!(%client, user, "failed login");
            }
            challenge(
                &auth,
                Response::new(Body::from("authentication required\n")),
            )
        }
        None if request.headers().contains_key(header::AUTHORIZATION) => challenge(
            &auth,
            Response::new(Body::from("authentication required\n")),
        ),
        None => {
            let response = next.run(request).await;
            if response.status() == StatusCode::UNAUTHORIZED {
                challenge(&auth, response)
            } else {
                response
            }
        }
    }
}

/// Runs the request as this principal.
async fn admit(principal: Principal, mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(principal.clone());
    let mut response = next.run(request).await;
    response.extensions_mut().insert(principal);
    response
}

fn text(status: StatusCode, body: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// 429 with the seconds left in `Retry-After`.
fn too_many(wait: Duration) -> Response {
    let mut response = text(
        StatusCode::TOO_MANY_REQUESTS,
        "too many failed logins from this address; try again later\n",
    );
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Makes a response a 401 challenge for Basic credentials.
fn challenge(auth: &Auth, mut response: Response) -> Response {
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    let headers = response.headers_mut();
    headers.insert(header::WWW_AUTHENTICATE, auth.realm.clone());
    if !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    headers.insert("dav", auth.dav_header.clone());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepts_bcrypt_only_and_verifies() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let text = format!("# demo\nalice:{hash}\nbob:{{SHA}}abc=\ncarol:$apr1$x$y\nbroken\n");
        let users = Htpasswd::parse(&text, "test");
        assert_eq!(users.len(), 1);
        assert!(users.verify("alice", "secret").await);
        assert!(users.verify("alice", "secret").await, "cached");
        assert!(!users.verify("alice", "wrong").await);
        assert!(!users.verify("bob", "abc").await);
        assert!(!users.verify("nobody", "secret").await);
    }

    #[tokio::test]
    async fn several_lines_are_several_passwords_for_one_user() {
        let phone = bcrypt::hash("phone-pw", 4).unwrap();
        let laptop = bcrypt::hash("laptop-pw", 4).unwrap();
        let users = Htpasswd::parse(&format!("alice:{phone}\nalice:{laptop}\n"), "test");
        assert_eq!(users.len(), 1);
        assert!(users.verify("alice", "phone-pw").await);
        assert!(users.verify("alice", "laptop-pw").await);
        assert!(!users.verify("alice", "other").await);
    }

    #[test]
    fn the_throttle_doubles_after_the_free_failures_per_address() {
        let t = Throttle::default();
        let a = IpAddr::from([192, 0, 2, 1]);
        let b = IpAddr::from([192, 0, 2, 2]);
        for _ in 0..FREE_FAILURES - 1 {
            assert_eq!(t.failed(a), None);
        }
        assert!(t.blocked(a).is_none());
        assert_eq!(t.failed(a), Some(Duration::from_secs(1)));
        assert_eq!(t.failed(a), Some(Duration::from_secs(2)));
        assert!(t.blocked(a).is_some());
        assert!(t.blocked(b).is_none());
        for _ in 0..40 {
            t.failed(a);
        }
        assert_eq!(t.failed(a), Some(MAX_BLOCK));
    }

    #[test]
    fn an_unknown_users_password_is_checked_against_a_hash_of_the_users_cost() {
        let users = Htpasswd::parse(
            &format!("alice:{}\n", bcrypt::hash("pw", 6).unwrap()),
            "test",
        );
        assert_eq!(users.dummy, dummy_hash(6));
        assert_eq!(cost_of("$2y$12$abc"), Some(12));
        assert_eq!(cost_of("$2y$xx$abc"), None);
        // A well-formed hash: verifying does the work and fails, it does not error out.
        assert_eq!(bcrypt::verify("pw", &users.dummy).ok(), Some(false));
        assert_eq!(bcrypt::verify("", &dummy_hash(4)).ok(), Some(false));
    }

    #[test]
    fn the_throttle_counts_an_ipv6_network_as_one_client() {
        let t = Throttle::default();
        let first: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        for i in 0..FREE_FAILURES {
            let ip: IpAddr = format!("2001:db8:1:2::{:x}", i + 1).parse().unwrap();
            t.failed(ip);
        }
        assert!(t.blocked(first).is_some(), "one /64");
        assert!(t.blocked("2001:db8:1:3::1".parse().unwrap()).is_none());
        assert!(t.blocked("192.0.2.1".parse().unwrap()).is_none());
    }

    #[test]
    fn a_flood_of_addresses_is_bounded_in_memory_and_in_sweeps() {
        let t = Throttle::default();
        let now = Instant::now();
        for i in 0..(5 * REMEMBERED / 2) as u32 {
            t.failed_at(IpAddr::from((0x0a00_0000 + i).to_be_bytes()), now);
        }
        let (len, sweeps) = {
            let table = t.table.lock().unwrap();
            (table.failures.len(), table.sweeps)
        };
        assert_eq!(
            (len, sweeps),
            (2 * REMEMBERED, 1),
            "one sweep, then no more room"
        );
        // Later, expired failures are swept away and new addresses counted again.
        let later = now + MAX_BLOCK + SWEEP_EVERY;
        t.failed_at(IpAddr::from([192, 0, 2, 1]), later);
        let table = t.table.lock().unwrap();
        assert_eq!((table.failures.len(), table.sweeps), (1, 2));
    }

    #[tokio::test]
    async fn the_users_file_is_read_again_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        let line = |user: &str, pw: &str| format!("{user}:{}\n", bcrypt::hash(pw, 4).unwrap());
        std::fs::write(&path, line("alice", "one")).unwrap();
        let known = dirdav_plugin::KnownUsers::default();
        let configured = ["dave".to_owned()].into();
        let file = UsersFile::open(&path, configured, known.clone()).unwrap();
        assert!(known.contains("alice") && known.contains("dave") && !known.contains("carol"));
        assert!(!file.reload(false), "unchanged: not read again");
        // Written anew beside it and renamed into place, as `dirdav user` does.
        let staged = dir.path().join("staged");
        std::fs::write(&staged, line("alice", "two") + &line("carol", "three")).unwrap();
        std::fs::rename(&staged, &path).unwrap();
        assert!(file.reload(false));
        assert!(known.contains("carol") && known.contains("dave"));
        assert!(file.current().verify("alice", "two").await);
        assert!(
            !file.current().verify("alice", "one").await,
            "the old password is gone"
        );
        assert!(file.current().verify("carol", "three").await);
        // A file that cannot be read leaves the users as they were.
        std::fs::remove_file(&path).unwrap();
        assert!(!file.reload(true));
        assert!(known.contains("carol") && file.current().verify("carol", "three").await);
    }

    /// A router behind the auth layer that answers with the user it runs as.
    fn app(auth: Auth) -> axum::Router {
        async fn whoami(request: Request) -> Response {
            match request.extensions().get::<Principal>() {
                Some(p) => Response::new(Body::from(p.name.to_string())),
                None => text(StatusCode::UNAUTHORIZED, "anonymous"),
            }
        }
        axum::Router::new()
            .fallback(whoami)
            .layer(axum::middleware::from_fn_with_state(auth, require_user))
    }

    fn auth(users: Htpasswd) -> Auth {
        let known = dirdav_plugin::KnownUsers::default();
        known.replace(users.names());
        let file = UsersFile {
            path: "htpasswd".into(),
            current: std::sync::RwLock::new(Arc::new(users)),
            stamp: Mutex::new(None),
            configured: Default::default(),
            known: known.clone(),
        };
        Auth {
            users: Some(Arc::new(file)),
            realm: HeaderValue::from_static("Basic realm=\"t\""),
            dav_header: HeaderValue::from_static("1"),
            well_known: "/.well-known/".to_owned(),
            throttle: Arc::default(),
            trusted: Arc::new(vec![IpAddr::from([10, 0, 0, 2])]),
            throttle_forwarded: true,
            proxy_user: Some(HeaderName::from_static("remote-user")),
            known,
            strangers: Arc::default(),
            allow_plain: false,
        }
    }

    async fn send(
        app: &axum::Router,
        peer: [u8; 4],
        headers: &[(&str, &str)],
        secure: bool,
    ) -> (StatusCode, String) {
        use tower::ServiceExt;
        let mut request = Request::new(Body::empty());
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((peer, 40000))));
        if secure {
            request.extensions_mut().insert(dirdav_plugin::Tls);
        }
        for (name, value) in headers {
            request.headers_mut().insert(
                HeaderName::try_from(*name).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn passwords_need_tls_off_loopback_and_proxies_name_users_only_when_trusted() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        let app = app(auth(Htpasswd::parse(&format!("alice:{hash}\n"), "test")));
        let basic = ("authorization", "Basic YWxpY2U6cHc="); // alice:pw
        let (status, body) = send(&app, [192, 0, 2, 5], &[basic], false).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.contains("plain HTTP"), "{body}");
        assert_eq!(
            send(&app, [192, 0, 2, 5], &[basic], true).await,
            (StatusCode::OK, "alice".to_owned())
        );
        assert_eq!(
            send(&app, [127, 0, 0, 1], &[basic], false).await,
            (StatusCode::OK, "alice".to_owned())
        );
        assert_eq!(
            send(&app, [10, 0, 0, 2], &[basic], false).await.0,
            StatusCode::OK,
            "a trusted proxy"
        );

        let sso = ("remote-user", "bob");
        assert_eq!(
            send(&app, [10, 0, 0, 2], &[sso], false).await,
            (StatusCode::OK, "bob".to_owned())
        );
        let (status, _) = send(&app, [192, 0, 2, 5], &[sso], false).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "an untrusted peer cannot name a user"
        );

        let mut plain = auth(Htpasswd::parse(&format!("alice:{hash}\n"), "test"));
        plain.allow_plain = true;
        assert_eq!(
            send(&self::app(plain), [192, 0, 2, 5], &[basic], false)
                .await
                .0,
            StatusCode::OK
        );
    }
}
