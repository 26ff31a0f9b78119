//! Runs the real `dirdav` binary on 127.0.0.1 and talks HTTP/1.1 to it over a socket.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::zombie_processes
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running server; killed when dropped.
pub struct Dirdav {
    child: Child,
    /// A private XDG_STATE_HOME, so the default state directory is the test's own.
    _state_home: tempfile::TempDir,
    pub port: u16,
    pub base: String,
    pub log: mpsc::Receiver<String>,
    /// Lines printed before the server said it was serving.
    early: std::cell::RefCell<Vec<String>>,
}

impl Dirdav {
    /// Starts `dirdav serve` with these extra arguments, listening on a free port.
    pub fn start(args: &[&str]) -> Dirdav {
        Self::start_in(args, Path::new(env!("CARGO_MANIFEST_DIR")))
    }

    pub fn start_in(args: &[&str], cwd: &Path) -> Dirdav {
        let state_home = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_dirdav"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(cwd)
            .env("RUST_LOG", "info")
            .env("XDG_STATE_HOME", state_home.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dirdav starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        loop {
            let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) else {
                // A server stuck in its start-up must not outlive the test.
                let _ = child.kill();
                let _ = child.wait();
                panic!("dirdav did not start:\n{}", seen.join("\n"));
            };
            if let Some(i) = line.find("url=http://127.0.0.1:") {
                let rest = &line[i + "url=http://127.0.0.1:".len()..];
                let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let base = rest[port.len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("/")
                    .trim_end_matches('/')
                    .to_owned();
                return Dirdav {
                    child,
                    _state_home: state_home,
                    port: port.parse().unwrap(),
                    base,
                    log: rx,
                    early: std::cell::RefCell::new(seen),
                };
            }
            seen.push(line);
        }
    }

    pub fn request(&self, method: &str, path: &str) -> Request {
        Request::to(self.port, method, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL, as a crash or power cut would stop it.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        let _ = self.child.wait();
        std::mem::forget(self);
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }

    /// The HTTPS port, when the server was started with TLS (logged before the HTTP one).
    pub fn tls_port(&self) -> Option<u16> {
        let early = self.early.borrow();
        let line = early
            .iter()
            .find(|l| l.contains("url=https://127.0.0.1:"))?;
        let rest = &line[line.find("url=https://127.0.0.1:")? + "url=https://127.0.0.1:".len()..];
        rest.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    }

    /// Log lines printed so far.
    pub fn drain_log(&self) -> Vec<String> {
        let mut out = std::mem::take(&mut *self.early.borrow_mut());
        while let Ok(l) = self.log.recv_timeout(Duration::from_millis(200)) {
            out.push(l);
        }
        out
    }
}

impl Drop for Dirdav {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Request {
    port: u16,
    head: String,
    body: Vec<u8>,
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Request {
    /// A request to the server on `port`, for threads that do not hold the server.
    pub fn to(port: u16, method: &str, path: &str) -> Request {
        Request {
            port,
            head: format!(
                "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
            ),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.head.push_str(&format!("{name}: {value}\r\n"));
        self
    }

    pub fn auth(self, user: &str, password: &str) -> Request {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.header("Authorization", &format!("Basic {token}"))
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Opens the connection and sends the head (with Content-Length) only.
    pub fn send_head(&self) -> TcpStream {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        let head = format!("{}Content-Length: {}\r\n\r\n", self.head, self.body.len());
        stream.write_all(head.as_bytes()).unwrap();
        stream
    }

    pub fn send(self) -> Response {
        let mut stream = self.send_head();
        // A server may answer before it has read the whole body (a refusal by its
        // headers, 507 past a quota) and close: its answer is still there to read.
        if let Err(e) = stream.write_all(&self.body) {
            assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ),
                "{e}"
            );
        }
        read_response(&mut stream)
    }
}

/// Reads a whole response from a `Connection: close` stream.
pub fn read_response(stream: &mut impl Read) -> Response {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    // Skip interim 1xx responses (100 Continue).
    while raw.starts_with(b"HTTP/1.1 1") {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete head");
        raw.drain(..end + 4);
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    if headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

/// Copies a folder tree (for running against a private copy of example-data).
/// A connection to 127.0.0.1:`port` from the source address `from` (any of 127.0.0.0/8
/// on Linux), for tests that need clients at different addresses.
pub fn connect_from(from: std::net::Ipv4Addr, port: u16) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((from, 0).into()).unwrap();
        socket
            .connect((std::net::Ipv4Addr::LOCALHOST, port).into())
            .await
            .unwrap()
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// Whether the server closed `stream` (read gives end of file or a reset) within 5 s.
pub fn closed_by_server(stream: &mut std::net::TcpStream) -> bool {
    use std::io::Read;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    dirdav_harness::copy_dir(from, to).unwrap();
}

/// A private copy of example-data in a temp dir, served the way the README says:
/// `dirdav serve` (with these extra arguments) from the folder holding `example-data/`.
pub fn example_server(args: &[&str]) -> (tempfile::TempDir, Dirdav) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("example-data"),
        &dir.path().join("example-data"),
    );
    let server = Dirdav::start_in(args, dir.path());
    (dir, server)
}

const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260102T100000Z\r\nSUMMARY:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

/// A one-event calendar object whose UID and summary are `uid`.
pub fn event(uid: &str) -> String {
    EVENT.replace("{uid}", uid)
}

fn sync_body(token: &str, level: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>{level}</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
    )
}

/// A sync-collection REPORT: each href reported with its ETag (`None`: removed; empty
/// for a folder), in the order given, and the new token.
pub fn sync_entries(
    srv: &Dirdav,
    path: &str,
    token: &str,
    level: &str,
) -> (Vec<(String, Option<String>)>, String) {
    let r = srv
        .request("REPORT", path)
        .body(sync_body(token, level))
        .send();
    assert_eq!(r.status, 207, "{}", r.body);
    let between = |text: &str, open: &str, close: &str| -> Option<String> {
        let start = text.find(open)? + open.len();
        Some(text[start..start + text[start..].find(close)?].to_owned())
    };
    let entries = r
        .body
        .split("<d:response>")
        .skip(1)
        .map(|resp| {
            let href = between(resp, "<d:href>", "</d:href>").unwrap();
            let etag = resp.contains("<d:propstat>").then(|| {
                between(resp, "<d:getetag>", "</d:getetag>")
                    .unwrap_or_default()
                    .replace("&quot;", "\"")
            });
            (href, etag)
        })
        .collect();
    let token = between(&r.body, "<d:sync-token>", "</d:sync-token>").unwrap();
    (entries, token)
}

/// A sync-collection REPORT: the hrefs reported (removed ones with " 404"), sorted,
/// and the new token.
pub fn sync(srv: &Dirdav, path: &str, token: &str, level: &str) -> (Vec<String>, String) {
    let (entries, token) = sync_entries(srv, path, token, level);
    let mut hrefs: Vec<String> = entries
        .into_iter()
        .map(|(href, etag)| match etag {
            Some(_) => href,
            None => format!("{href} 404"),
        })
        .collect();
    hrefs.sort();
    (hrefs, token)
}

/// A tree with one calendar, `cal/`, and its state folder, for a server of its own.
pub fn calendar_tree() -> (tempfile::TempDir, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("cal")).unwrap();
    std::fs::write(root.path().join("cal/.dav.toml"), "kind = \"calendar\"\n").unwrap();
    (root, state)
}

/// Every file below `root` with its bytes, dotfiles included.
pub fn snapshot(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                out.insert(format!("{}/", entry.path().display()), Vec::new());
                stack.push(entry.path());
            } else {
                out.insert(
                    entry.path().display().to_string(),
                    std::fs::read(entry.path()).unwrap(),
                );
            }
        }
    }
    out
}

/// A one-event calendar object with this UID and summary, on 2026-12-01 at 10:00 UTC.
pub fn event_titled(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20261101T000000Z\r\nDTSTART:20261201T100000Z\r\nDURATION:PT1H\r\n\
         SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// A vCard 3.0 with this UID and formatted name.
pub fn card(uid: &str, name: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEND:VCARD\r\n")
}

/// Writes a file below `root`, making its folders.
pub fn write_file(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The bytes a folder on disk holds as quotas count them: its files and its folders'
/// settings files (`.dav.toml`), other dotfiles left out.
pub fn bytes_below(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name != ".dav.toml" {
            continue;
        }
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            bytes_below(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}
