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
        Htpasswd {
            users,
            cache: Mutex::new(HashMap::new()),
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
    pub(crate) async fn verify(&self, user: &str, password: &str) -> bool {
        let Some(hashes) = self.users.get(user) else {
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

/// Failed logins by client address: after [`FREE_FAILURES`], each further failure
/// refuses the address for twice as long as the last (1 s, 2 s, 4 s … up to
/// [`MAX_BLOCK`]), with 429 and `Retry-After`, before any password is checked. Other
/// addresses are not affected; failures are forgotten [`MAX_BLOCK`] after the last one.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

#[derive(Debug)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

impl Throttle {
    /// How long the address is still refused, if it is.
    pub(crate) fn blocked(&self, ip: IpAddr) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let until = failures.get(&ip)?.blocked_until?;
        until.checked_duration_since(Instant::now())
    }

    /// Records a failed login; returns how long the address is now refused, if it is.
    pub(crate) fn failed(&self, ip: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > 100_000 {
            failures.retain(|_, f| now.duration_since(f.last) < MAX_BLOCK);
        }
        let f = failures.entry(ip).or_insert(Failures {
            count: 0,
            last: now,
            blocked_until: None,
        });
        if now.duration_since(f.last) >= MAX_BLOCK {
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

/// State of the authentication layer.
#[derive(Clone, Debug)]
pub(crate) struct Auth {
    /// The htpasswd users; `None` when users come from a proxy only.
    pub(crate) users: Option<Arc<Htpasswd>>,
    pub(crate) realm: HeaderValue,
    pub(crate) dav_header: HeaderValue,
    /// `<base path>/.well-known/`, answered without credentials.
    pub(crate) well_known: String,
    pub(crate) throttle: Arc<Throttle>,
    /// Reverse proxies whose `X-Forwarded-For` and proxy-user header are believed.
    pub(crate) trusted: Arc<Vec<IpAddr>>,
    /// `--trust-proxy-user`: the header a trusted proxy names the user in.
    pub(crate) proxy_user: Option<HeaderName>,
    /// `--allow-plain-auth`: accept passwords over plain HTTP from any address.
    pub(crate) allow_plain: bool,
}

/// The address a request comes from: the peer, or for a trusted proxy the last address
/// of its `X-Forwarded-For`.
fn client_address(auth: &Auth, request: &Request) -> Option<(IpAddr, bool)> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()?
        .0
        .ip()
        .to_canonical();
    let trusted = auth.trusted.contains(&peer);
    let forwarded = trusted
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
                Some(users) => users.verify(&user, &password).await,
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
        Auth {
            users: Some(Arc::new(users)),
            realm: HeaderValue::from_static("Basic realm=\"t\""),
            dav_header: HeaderValue::from_static("1"),
            well_known: "/.well-known/".to_owned(),
            throttle: Arc::default(),
            trusted: Arc::new(vec![IpAddr::from([10, 0, 0, 2])]),
            proxy_user: Some(HeaderName::from_static("remote-user")),
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
