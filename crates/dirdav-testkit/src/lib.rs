//! Tests for dirdav plugins: a server on a tree of your own with the plugins under
//! test ([`TestServer`]), requests as a client sends them ([`Request`]), what it sees
//! ([`Reply`]), and whole answers kept as golden files ([`expect_file!`]).
//!
//! The server runs in the test's process and is spoken to without a socket, through
//! the same router a socket's requests go through; the tree is a fresh temporary
//! folder, removed with the server. Outside edits are noticed only at start
//! ([`Watch::Off`]) unless the test changes the config.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use dirdav_testkit::TestServer;
//!
//! let srv = TestServer::new()
//!     .file("alice/notes/.dav.toml", "displayname = \"Notes\"\n")
//!     .file("alice/notes/a.txt", "hello")
//!     .plugin(dirdav_hello::Hello)
//!     .start()
//!     .await;
//! let reply = srv
//!     .request("PROPFIND", "/alice/notes/")
//!     .user("alice")
//!     .depth("1")
//!     .send()
//!     .await;
//! assert_eq!(reply.status, 207);
//! assert_eq!(reply.hrefs(), ["/alice/notes/", "/alice/notes/a.txt"]);
//! assert!(reply.body.contains("Hello, alice!"));
//! # }
//! ```
//!
//! A golden file holds a whole answer as [`Reply::golden`] writes it (status, the
//! headers that do not vary between runs, body); `UPDATE_EXPECT=1 cargo test` writes it
//! anew, and `git diff` then shows what changed:
//!
//! ```no_run
//! # async fn run(srv: dirdav_testkit::TestServer) {
//! let reply = srv.request("OPTIONS", "/").send().await;
//! dirdav_testkit::expect_file!["golden/options.txt"].assert_eq(&reply.golden());
//! # }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::body::Body;
use dirdav_core::{Config, Server, Watch};
use dirdav_plugin::http::{self, HeaderMap, StatusCode};
use dirdav_plugin::{Plugin, Principal};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Compares a text with a golden file, named relative to the test's source file
/// (`UPDATE_EXPECT=1` writes it anew). From the `expect-test` crate.
pub use expect_test::expect_file;

/// A tree and plugins, before the server starts ([`TestServer::new`]).
#[must_use]
pub struct Setup {
    files: Vec<(String, Vec<u8>)>,
    plugins: Vec<Box<dyn Plugin>>,
    config: Box<dyn FnOnce(Config) -> Config + Send>,
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field(
                "files",
                &self.files.iter().map(|f| &f.0).collect::<Vec<_>>(),
            )
            .field(
                "plugins",
                &self.plugins.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Setup {
    /// A file of the tree, at a path below the root (`alice/work/a.ics`); its folders
    /// are made. A folder's settings are its `.dav.toml` file.
    pub fn file(mut self, path: &str, contents: impl Into<Vec<u8>>) -> Setup {
        self.files.push((path.to_owned(), contents.into()));
        self
    }

    /// An empty folder of the tree.
    pub fn folder(self, path: &str) -> Setup {
        self.file(&format!("{}/", path.trim_end_matches('/')), Vec::new())
    }

    /// A plugin the server runs. Plugins register in the order given.
    pub fn plugin(mut self, plugin: impl Plugin) -> Setup {
        self.plugins.push(Box::new(plugin));
        self
    }

    /// Changes the core's configuration (it starts as `Config::new(root)` with
    /// [`Watch::Off`]).
    pub fn config(mut self, change: impl FnOnce(Config) -> Config + Send + 'static) -> Setup {
        let before = self.config;
        self.config = Box::new(move |c| change(before(c)));
        self
    }

    /// Writes the tree to a fresh temporary folder and builds the server on it.
    ///
    /// # Panics
    ///
    /// When the tree cannot be written or the server not built (two plugins claiming
    /// one name, say): a test cannot go on without them.
    pub async fn start(self) -> TestServer {
        let dir = tempfile::tempdir().expect("a temporary folder");
        for (path, contents) in &self.files {
            let at = dir.path().join(path);
            if path.ends_with('/') {
                std::fs::create_dir_all(&at).expect("the folder is made");
                continue;
            }
            if let Some(parent) = at.parent() {
                std::fs::create_dir_all(parent).expect("the folder is made");
            }
            std::fs::write(&at, contents).expect("the file is written");
        }
        let config = (self.config)(Config::new(dir.path()));
        let mut builder = Server::builder(config);
        for plugin in self.plugins {
            builder = builder.plugin(plugin);
        }
        let server = builder.build().await.expect("the server is built");
        TestServer { dir, server }
    }
}

/// A server on a temporary tree; the tree is removed when it is dropped.
#[derive(Debug)]
pub struct TestServer {
    dir: tempfile::TempDir,
    server: Server,
}

impl TestServer {
    /// An empty tree and no plugins: add them, then [`Setup::start`].
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> Setup {
        Setup {
            files: Vec::new(),
            plugins: Vec::new(),
            config: Box::new(|c| c.watch(Watch::Off)),
        }
    }

    /// A request to send to this server.
    pub fn request(&self, method: &str, path: &str) -> Request<'_> {
        Request {
            server: &self.server,
            builder: http::Request::builder().method(method).uri(path),
            body: Vec::new(),
        }
    }

    /// The server, for what the kit does not offer.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The root of the tree.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The file-system path of a path below the root.
    pub fn path(&self, path: &str) -> PathBuf {
        self.dir.path().join(path)
    }

    /// A file's text as it is on disk, `None` when there is none.
    pub fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.path(path)).ok()
    }

    /// Writes a file as an outside edit would (an editor, `git pull`); with
    /// [`Watch::Off`] the server does not see it until a test configures otherwise.
    ///
    /// # Panics
    ///
    /// When the file cannot be written.
    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) {
        let at = self.path(path);
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent).expect("the folder is made");
        }
        std::fs::write(at, contents).expect("the file is written");
    }

    /// Every file of the tree with its bytes, and every folder (ending in `/`, with no
    /// bytes): for "nothing on disk changed" checks.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.root().to_path_buf()];
        while let Some(folder) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let rel = path
                    .strip_prefix(self.root())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    out.insert(format!("{rel}/"), Vec::new());
                    stack.push(path);
                } else {
                    out.insert(rel, std::fs::read(&path).unwrap_or_default());
                }
            }
        }
        out
    }
}

/// A request being written ([`TestServer::request`]).
#[must_use]
#[derive(Debug)]
pub struct Request<'s> {
    server: &'s Server,
    builder: http::request::Builder,
    body: Vec<u8>,
}

impl Request<'_> {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    /// The `Depth` header: `0`, `1` or `infinity`.
    pub fn depth(self, depth: &str) -> Self {
        self.header("Depth", depth)
    }

    /// The body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends it as this user, signed in (as the binary's authentication would mark
    /// it); without, the request is anonymous.
    pub fn user(mut self, name: &str) -> Self {
        self.builder = self.builder.extension(Principal::new(name));
        self
    }

    /// Sends it and reads the whole answer.
    ///
    /// # Panics
    ///
    /// When the request is malformed (a header value with a line break, say).
    pub async fn send(self) -> Reply {
        let request = self
            .builder
            .body(Body::from(self.body))
            .expect("a well-formed request");
        let response = match self.server.router().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}

/// An answer as a client sees it.
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, as text (bytes that are not UTF-8 replaced).
    pub body: String,
}

/// Headers whose values change from run to run, left out of [`Reply::golden`].
const VARYING: [&str; 2] = ["date", "last-modified"];

impl Reply {
    /// A header's value, if there is one and it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The text of every `href` element of the body, in order ([`hrefs`]).
    pub fn hrefs(&self) -> Vec<String> {
        hrefs(&self.body)
    }

    /// The text of every element of this local name (any prefix) in the body.
    pub fn texts(&self, local_name: &str) -> Vec<String> {
        texts_of(&self.body, local_name)
    }

    /// The whole answer as a golden file keeps it: the status line, the headers in
    /// name order (but `Date` and `Last-Modified`), a blank line and the body, with
    /// what differs between runs replaced by `…`: the server instance in sync tokens,
    /// and the times of `getlastmodified` and `creationdate`.
    pub fn golden(&self) -> String {
        let mut out = format!("HTTP/1.1 {}\n", self.status);
        let mut headers: Vec<(&str, String)> = self
            .headers
            .iter()
            .filter(|(n, _)| !VARYING.contains(&n.as_str()))
            .map(|(n, v)| (n.as_str(), mask(&String::from_utf8_lossy(v.as_bytes()))))
            .collect();
        headers.sort();
        for (name, value) in headers {
            out.push_str(&format!("{name}: {value}\n"));
        }
        out.push('\n');
        out.push_str(&mask(&self.body));
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }
}

/// The text of every `href` element of an XML text, in order, whatever its prefix.
pub fn hrefs(xml: &str) -> Vec<String> {
    texts_of(xml, "href")
}

/// The text of every `<prefix:name>` or `<name>` element in `xml`.
fn texts_of(xml: &str, local_name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        let name = tag.split_whitespace().next().unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or(name);
        if local == local_name && !tag.ends_with('/') && !tag.starts_with('/') {
            let inner = &rest[end + 1..];
            if let Some(close) = inner.find("</") {
                out.push(inner[..close].to_owned());
            }
        }
        rest = &rest[end + 1..];
    }
    out
}

/// `text` with what differs between runs replaced by `…`.
fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // Sync tokens: `urn:dirdav:sync:<instance>:<number>`; the instance is random.
    const TOKEN: &str = "urn:dirdav:sync:";
    while let Some(i) = rest.find(TOKEN) {
        out.push_str(&rest[..i + TOKEN.len()]);
        rest = &rest[i + TOKEN.len()..];
        match rest.find(':') {
            Some(colon) if rest[..colon].bytes().all(|b| b.is_ascii_alphanumeric()) => {
                out.push('…');
                rest = &rest[colon..];
            }
            _ => {}
        }
    }
    out.push_str(rest);
    for element in ["getlastmodified", "creationdate"] {
        out = mask_element(&out, element);
    }
    out
}

/// `xml` with the text of every element of this local name replaced by `…`.
fn mask_element(xml: &str, local_name: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        let Some(end) = rest[start..].find('>').map(|e| start + e) else {
            break;
        };
        let tag = &rest[start + 1..end];
        let name = tag.split_whitespace().next().unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or(name);
        out.push_str(&rest[..=end]);
        rest = &rest[end + 1..];
        if local == local_name
            && !tag.ends_with('/')
            && !tag.starts_with('/')
            && let Some(close) = rest.find("</")
        {
            out.push('…');
            rest = &rest[close..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varying_parts_are_masked_and_the_rest_kept() {
        let xml = "<d:sync-token>urn:dirdav:sync:0a1b2c:1000007</d:sync-token>\
                   <d:getlastmodified>Tue, 08 Dec 2026 00:00:00 GMT</d:getlastmodified>\
                   <d:getetag>\"abc\"</d:getetag><creationdate/>";
        assert_eq!(
            mask(xml),
            "<d:sync-token>urn:dirdav:sync:…:1000007</d:sync-token>\
             <d:getlastmodified>…</d:getlastmodified>\
             <d:getetag>\"abc\"</d:getetag><creationdate/>"
        );
    }

    #[test]
    fn hrefs_are_read_whatever_their_prefix() {
        let xml = "<d:multistatus><d:response><d:href>/a/</d:href></d:response>\
                   <response><href>/a/b</href></response><D:href/></d:multistatus>";
        assert_eq!(texts_of(xml, "href"), ["/a/", "/a/b"]);
    }
}
