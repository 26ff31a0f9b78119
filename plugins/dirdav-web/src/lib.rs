//! A web page for people with a browser: the tree as they may see it (folders, files,
//! calendars and address books, with sizes and dates), downloads, uploads, new folders
//! and deleting, each calendar's and address book's URL to copy, and a setup page per
//! user with what to enter on iOS/macOS, DAVx⁵ and Thunderbird, an Apple configuration
//! profile and a QR code.
//!
//! Pages are rendered on the server and need no JavaScript. Everything they show and
//! do goes through the server as the signed-in user would over WebDAV: a page lists a
//! folder by a `PROPFIND` ([`Store::request`](dirdav_plugin::Store::request)), and
//! the forms upload by `PUT`, make folders by `MKCOL` and delete by `DELETE`, so access
//! rules, locks, quotas and the calendars' checks apply as they do to any client, and a
//! listing shows what `PROPFIND` shows (shares in the sharee's home included).
//!
//! Browsers reach the pages by opening a collection's address (the core hands GET of a
//! collection that prefers HTML to [`Registrar::browser_page`]); the forms post to
//! `/.web/` with a token bound to the user ([`Web::open`] keeps its key), and a post whose
//! `Origin` is another site's is refused.

mod forms;
mod html;
mod listing;
mod setup;

use std::path::Path;
use std::sync::Arc;

use dirdav_plugin::http::{Method, Response, StatusCode, header};
use dirdav_plugin::{Body, DavError, DavRequest, HandlerResult, Plugin, Registrar};

/// The path below which the plugin answers (forms, setup page, profile).
pub const ROUTE: &str = "/.web";

/// The file in the state directory holding the key of form tokens.
const KEY_FILE: &str = "web.key";

/// The web page plugin.
#[derive(Clone)]
pub struct Web {
    key: Arc<[u8; 32]>,
}

impl std::fmt::Debug for Web {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Web").finish_non_exhaustive()
    }
}

impl Default for Web {
    /// A page whose form tokens hold until the server stops (the key is in memory only).
    fn default() -> Self {
        Web {
            key: Arc::new(random_key()),
        }
    }
}

impl Web {
    /// Keeps the key of form tokens in `web.key` in the state directory (created, with
    /// mode 0600, when missing), so that a page opened before a restart still submits.
    pub fn open(state_dir: &Path) -> std::io::Result<Self> {
        let path = state_dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes.try_into().map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{} is not a 32-byte key", path.display()),
                    )
                })?;
                Ok(Web { key: Arc::new(key) })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(state_dir)?;
                let key = random_key();
                write_private(&path, &key)?;
                Ok(Web { key: Arc::new(key) })
            }
            Err(e) => Err(e),
        }
    }

    /// The form token a page gives a user now: a keyed hash of the name and the
    /// current [`TOKEN_WINDOW`], which a page of another site cannot know and which
    /// lapses: one that leaked (a shared screenshot, a proxy's log) is good for a day
    /// at most.
    fn token(&self, user: &str) -> blake3::Hash {
        self.token_in(user, window_now())
    }

    fn token_in(&self, user: &str, window: u64) -> blake3::Hash {
        let mut hasher = blake3::Hasher::new_keyed(&self.key);
        hasher.update(b"dirdav-web form token\0");
        hasher.update(user.as_bytes());
        hasher.update(b"\0");
        hasher.update(&window.to_le_bytes());
        hasher.finalize()
    }

    /// Whether a submitted token is the user's, from this window or the one before
    /// (a page loaded just before the window turned still posts); compared in
    /// constant time.
    fn token_holds(&self, user: &str, submitted: &str) -> bool {
        self.token_holds_at(user, submitted, window_now())
    }

    fn token_holds_at(&self, user: &str, submitted: &str, window: u64) -> bool {
        blake3::Hash::from_hex(submitted.trim()).is_ok_and(|given| {
            let now = given == self.token_in(user, window);
            let before = given == self.token_in(user, window.saturating_sub(1));
            now | before
        })
    }
}

/// How long one form token is given out: a token works for one to two of these.
pub const TOKEN_WINDOW: std::time::Duration = std::time::Duration::from_secs(12 * 60 * 60);

/// The number of the current token window.
fn window_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / TOKEN_WINDOW.as_secs())
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    if getrandom::fill(&mut key).is_err() {
        // No randomness source: a key from the clock and the process, still unknown
        // to other sites, which is what the token needs.
        let seed = format!("{:?} {}", std::time::SystemTime::now(), std::process::id());
        key = *blake3::hash(seed.as_bytes()).as_bytes();
    }
    key
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

impl Plugin for Web {
    fn name(&self) -> &'static str {
        "dirdav-web"
    }

    fn register(&self, r: &mut Registrar<'_>) {
        let web = self.clone();
        r.browser_page(move |request: DavRequest| {
            let web = web.clone();
            async move { html::folder_page(&web, request).await }
        });
        let web = self.clone();
        r.streaming_route(ROUTE, move |request: DavRequest| {
            let web = web.clone();
            async move { web.route(request).await }
        });
    }
}

impl Web {
    /// `/.web/…`: the setup page and profile (GET), the forms (POST).
    async fn route(&self, request: DavRequest) -> HandlerResult {
        let path = request.parts.uri.path();
        let rest = path
            .find(ROUTE)
            .map(|at| &path[at + ROUTE.len()..])
            .unwrap_or_default()
            .to_owned();
        let method = request.parts.method.clone();
        match (method, rest.trim_end_matches('/')) {
            (Method::GET | Method::HEAD, "" | "/setup") => setup::page(self, &request).await,
            (Method::GET | Method::HEAD, "/setup/dirdav.mobileconfig") => {
                setup::profile(self, &request)
            }
            (Method::POST, "/upload") => forms::upload(self, request).await,
            (Method::POST, "/mkdir") => forms::mkdir(self, request).await,
            (Method::POST, "/delete") => forms::delete(self, request).await,
            (Method::POST, _) => Err(DavError::not_found()),
            (Method::GET | Method::HEAD, _) => Err(DavError::not_found()),
            _ => Err(DavError::method_not_allowed(
                "the web page takes GET and POST",
            )),
        }
    }
}

/// The user a request runs as (`""` on a server without sign-in).
fn user_of(request: &DavRequest) -> String {
    request
        .principal
        .as_ref()
        .map(|p| p.name.to_string())
        .unwrap_or_default()
}

/// The href of the route, below the base path (`/dav/.web`).
fn route_href(request: &DavRequest) -> String {
    let base = request.store.href_of("", true);
    format!("{}{}", base.trim_end_matches('/'), ROUTE)
}

/// An HTML answer. Pages set their own security headers: no scripts, no framing,
/// forms only to this site, and a referrer policy that lets their posts carry an
/// `Origin` (`no-referrer` would make it `null`).
fn html_response(status: StatusCode, html: String) -> HandlerResult {
    let length = html.len();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CONTENT_LENGTH, length)
        .header(header::CACHE_CONTROL, "no-store")
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        .header("referrer-policy", "same-origin")
        .body(Body::from(html))
        .map_err(|e| DavError::internal("building the page failed").source(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_per_user_and_per_key_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let web = Web::open(dir.path()).unwrap();
        let alice = web.token("alice").to_hex().to_string();
        assert!(web.token_holds("alice", &alice));
        assert!(!web.token_holds("bob", &alice));
        assert!(!web.token_holds("alice", "not hex"));
        assert!(!web.token_holds("alice", ""));
        let again = Web::open(dir.path()).unwrap();
        assert!(again.token_holds("alice", &alice), "the key is kept");
        assert!(!Web::default().token_holds("alice", &alice));
        // A token lapses after the window it was given in and the next.
        let w = window_now();
        let old = web.token_in("alice", w).to_hex().to_string();
        assert!(web.token_holds_at("alice", &old, w + 1));
        assert!(!web.token_holds_at("alice", &old, w + 2));
        assert!(!web.token_holds_at("alice", &old, w.saturating_sub(1)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_key_file_of_the_wrong_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), b"short").unwrap();
        assert!(Web::open(dir.path()).is_err());
    }
}
