//! dirdav in a box, driven by arbitrary bytes.
//!
//! A [`Harness`] runs the real server (core, CalDAV, CardDAV, discovery and access
//! control, as `dirdav serve` registers them) in-process, on a private copy of
//! `example-data/` kept in memory where the system allows (`/dev/shm`), with requests
//! made as the user `alice`. The [`targets`] turn fuzzer input into requests; the fuzz
//! targets under `tests/fuzz/` call them, and so does the regression test that replays
//! every input a fuzzer ever crashed on (`tests/fuzz_regressions.rs`).
//!
//! What counts as a failure: a panic anywhere, or a 5xx answer other than 507 (no
//! input a client can send should make the server fail).

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use axum::body::Body;
use dirdav_core::{Config, Server, Watch};
use dirdav_plugin::Principal;
use http_body_util::BodyExt;

pub mod targets;

/// The example tree the server runs on.
const EXAMPLE_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../example-data");

/// An answer: status and body.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Answer {
    /// Whether the request succeeded (2xx).
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The server and the tree it serves.
pub struct Harness {
    runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    server: Server,
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    };
    dir.expect("a temporary folder")
}

fn build(runtime: &tokio::runtime::Runtime, root: PathBuf) -> Server {
    let config = Config::new(root).watch(Watch::Off);
    let users = vec!["alice".to_owned(), "bob".to_owned()];
    runtime
        .block_on(
            Server::builder(config)
                .plugin(dirdav_caldav::CalDav::default())
                .plugin(dirdav_carddav::CardDav::default())
                .plugin(dirdav_acl::Acl::default().users(users.clone()))
                .plugin(dirdav_discovery::Discovery::default().users(users))
                .build(),
        )
        .expect("the server starts on example-data")
}

impl Harness {
    /// Copies example-data and starts a server on it.
    pub fn new() -> Harness {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = scratch_dir();
        copy_dir(Path::new(EXAMPLE_DATA), dir.path()).expect("example-data is copied");
        let server = build(&runtime, dir.path().to_owned());
        Harness {
            runtime,
            dir,
            server,
        }
    }

    /// Puts the tree back as it was: a fresh copy and a fresh server.
    pub fn reset(&mut self) {
        let dir = scratch_dir();
        copy_dir(Path::new(EXAMPLE_DATA), dir.path()).expect("example-data is copied");
        self.server = build(&self.runtime, dir.path().to_owned());
        self.dir = dir;
    }

    /// Sends one request as alice. `None` when the bytes cannot form an HTTP request
    /// at all (hyper would refuse them before the server saw them).
    ///
    /// # Panics
    /// When the server answers 5xx (other than 507): a bug the input revealed.
    pub fn send(
        &mut self,
        method: &[u8],
        uri: &[u8],
        headers: &[(&str, &[u8])],
        body: Vec<u8>,
    ) -> Option<Answer> {
        let mut request = http::Request::builder()
            .method(http::Method::from_bytes(method).ok()?)
            .uri(http::Uri::try_from(uri).ok()?);
        for (name, value) in headers {
            request = request.header(*name, http::HeaderValue::from_bytes(value).ok()?);
        }
        let mut request = request.body(Body::from(body)).ok()?;
        request.extensions_mut().insert(Principal::new("alice"));
        let server = self.server.clone();
        let answer = self.runtime.block_on(async move {
            let response = server.handle(request).await;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .unwrap_or_default();
            Answer { status, body }
        });
        assert!(
            answer.status < 500 || answer.status == 507,
            "{} {} answered {}: {}",
            String::from_utf8_lossy(method),
            String::from_utf8_lossy(uri),
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
        Some(answer)
    }

    /// The folder served.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("root", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

thread_local! {
    static HARNESS: RefCell<Option<Harness>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's harness, started on first use and kept between calls
/// (a fuzzer calls a target millions of times).
pub fn with_harness<T>(f: impl FnOnce(&mut Harness) -> T) -> T {
    HARNESS.with(|cell| {
        let mut slot = cell.borrow_mut();
        f(slot.get_or_insert_with(Harness::new))
    })
}
