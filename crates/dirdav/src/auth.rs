//! HTTP Basic authentication against an Apache htpasswd file, as a tower layer that
//! puts the [`Principal`] into the request.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use dirdav_plugin::Principal;
use http::{HeaderValue, StatusCode, header};

/// How long a verified password is remembered: bcrypt is slow by design, and clients
/// send the credentials with every request.
const CACHE_TTL: Duration = Duration::from_secs(300);

/// Users and their bcrypt hashes.
#[derive(Debug)]
pub(crate) struct Htpasswd {
    users: HashMap<String, String>,
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
                users.insert(user.to_owned(), hash.to_owned());
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

    /// Checks a password, remembering a success for [`CACHE_TTL`].
    pub(crate) async fn verify(&self, user: &str, password: &str) -> bool {
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        let mut hasher = blake3::Hasher::new();
        for part in [user, password, hash] {
            hasher.update(part.as_bytes());
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
        let (password, hash) = (password.to_owned(), hash.clone());
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
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

/// State of the authentication layer.
#[derive(Clone, Debug)]
pub(crate) struct Auth {
    pub(crate) users: Arc<Htpasswd>,
    pub(crate) realm: HeaderValue,
    pub(crate) dav_header: HeaderValue,
    /// `<base path>/.well-known/`, answered without credentials.
    pub(crate) well_known: String,
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

/// Admits requests with valid credentials as their principal and answers 401 to wrong
/// ones. A request without credentials goes on as anonymous: the ACL plugin lets it read
/// what `[acl]` grants to `all` (a public calendar) and answers 401 elsewhere, and this
/// layer adds the challenge to every 401.
pub(crate) async fn require_user(
    State(auth): State<Auth>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.uri().path().starts_with(&auth.well_known) {
        return next.run(request).await;
    }
    match credentials(&request) {
        Some((user, password)) if auth.users.verify(&user, &password).await => {
            let principal = Principal::new(&user);
            request.extensions_mut().insert(principal.clone());
            let mut response = next.run(request).await;
            response.extensions_mut().insert(principal);
            response
        }
        Some(_) => challenge(
            &auth,
            Response::new(Body::from("authentication required\n")),
        ),
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
}
