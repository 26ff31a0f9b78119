//! Shared helpers: a fixture tree in a fresh temp dir, and requests sent to the
//! service with `oneshot`, no socket.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::new_without_default
)]

use std::path::{Path, PathBuf};

use axum::body::Body;
use dirdav_core::{Config, Server};
use dirdav_plugin::Principal;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:one\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260102T100000Z\r\nSUMMARY:One\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

#[derive(Debug)]
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// A small tree: a calendar, a plain folder with a document, a hidden file.
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("alice/calendar")).unwrap();
        std::fs::write(
            root.join("alice/calendar/.dav.toml"),
            "# Alice's calendar\nkind = \"calendar\"\ndisplayname = \"Work\"\n",
        )
        .unwrap();
        std::fs::write(root.join("alice/calendar/one.ics"), EVENT).unwrap();
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(root.join("docs/readme.txt"), "hello world\n").unwrap();
        std::fs::write(root.join(".htpasswd"), "alice:$2y$04$secret\n").unwrap();
        Fixture { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.path(rel)).ok()
    }

    pub fn config(&self) -> Config {
        Config::new(self.root())
    }

    pub async fn server(&self) -> Server {
        Server::builder(self.config())
            .plugin(dirdav_hello::Hello)
            .build()
            .await
            .unwrap()
    }

    /// Every file below the root, with its bytes, for "nothing changed" checks.
    pub fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(self.root())
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .map(|e| {
                let rel = e
                    .path()
                    .strip_prefix(self.root())
                    .unwrap()
                    .display()
                    .to_string();
                let bytes = if e.file_type().is_file() {
                    std::fs::read(e.path()).unwrap()
                } else {
                    Vec::new()
                };
                (rel, bytes)
            })
            .collect();
        out.sort();
        out
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Debug)]
pub struct Req {
    builder: http::request::Builder,
    body: Vec<u8>,
}

pub fn req(method: &str, path: &str) -> Req {
    Req {
        builder: Request::builder().method(method).uri(path),
        body: Vec::new(),
    }
}

impl Req {
    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Req {
        self.body = body.into();
        self
    }

    pub fn user(mut self, name: &str) -> Req {
        self.builder = self.builder.extension(Principal::new(name));
        self
    }

    pub async fn send(self, server: &Server) -> Reply {
        let request = self.builder.body(Body::from(self.body)).unwrap();
        let response = server.router().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}

pub const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";
