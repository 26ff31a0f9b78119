//! End-to-end: HTTPS built in. The test makes its own certificate, syncs a calendar
//! through TLS, and swaps the certificate with SIGHUP.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{Dirdav, Response, read_response};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, pki_types::CertificateDer};

/// A self-signed certificate for localhost and 127.0.0.1, written as PEM files; returns
/// the certificate's DER for the client to trust.
fn make_certificate(dir: &Path) -> CertificateDer<'static> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(names).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), signing_key.serialize_pem()).unwrap();
    cert.der().clone()
}

/// The server on `dir/tree` with HTTPS from `dir`'s certificate, and these further
/// arguments.
fn start_tls(dir: &Path, extra: &[&str]) -> Dirdav {
    let arg = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let (tree, cert, key) = (arg("tree"), arg("cert.pem"), arg("key.pem"));
    let mut args = vec![
        "--root",
        &tree,
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--tls-listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    Dirdav::start(&args)
}

/// One HTTPS request trusting only `root`; `Err` when the handshake fails.
fn https(
    port: u16,
    root: &CertificateDer<'static>,
    head: &str,
    body: &str,
) -> Result<Response, rustls::Error> {
    let mut roots = RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let name = "localhost".try_into().unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name)?;
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let request = format!(
        "{head}\r\nHost: localhost:{port}\r\nConnection: close\r\n\
         Authorization: Basic YWxpY2U6c2VjcmV0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if let Err(e) = tls.write_all(request.as_bytes()) {
        return Err(e
            .into_inner()
            .and_then(|e| e.downcast::<rustls::Error>().ok())
            .map_or(rustls::Error::HandshakeNotComplete, |e| *e));
    }
    Ok(read_response(&mut tls))
}

fn event(uid: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20260101T000000Z\r\nDTSTART:20260301T100000Z\r\nSUMMARY:{uid}\r\nEND:VEVENT\r\n\
         END:VCALENDAR\r\n"
    )
}

const SYNC: &str = r#"<sync-collection xmlns="DAV:"><sync-token>TOKEN</sync-token><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#;

fn token(body: &str) -> String {
    let start = body.find("<d:sync-token>").unwrap() + "<d:sync-token>".len();
    body[start..start + body[start..].find('<').unwrap()].to_owned()
}

#[test]
fn a_calendar_syncs_over_https_and_sighup_swaps_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let root = make_certificate(dir.path());
    std::fs::create_dir(dir.path().join("tree")).unwrap();
    std::fs::write(
        dir.path().join("htpasswd"),
        format!("alice:{}\n", bcrypt::hash("secret", 4).unwrap()),
    )
    .unwrap();
    let htpasswd = dir.path().join("htpasswd");
    let srv = start_tls(dir.path(), &["--htpasswd", htpasswd.to_str().unwrap()]);
    let port = srv.tls_port().expect("an https URL in the log");

    // A client's sync: create, list, change, list only the change.
    let r = https(
        port,
        &root,
        "PUT /alice/calendar/a.ics HTTP/1.1",
        &event("a"),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    let r = https(
        port,
        &root,
        "REPORT /alice/calendar/ HTTP/1.1",
        &SYNC.replace("TOKEN", ""),
    )
    .unwrap();
    assert_eq!(r.status, 207);
    assert!(r.body.contains("/alice/calendar/a.ics"), "{}", r.body);
    let first = token(&r.body);
    let r = https(
        port,
        &root,
        "PUT /alice/calendar/b.ics HTTP/1.1",
        &event("b"),
    )
    .unwrap();
    assert_eq!(r.status, 201);
    let r = https(
        port,
        &root,
        "REPORT /alice/calendar/ HTTP/1.1",
        &SYNC.replace("TOKEN", &first),
    )
    .unwrap();
    assert_eq!(r.status, 207);
    assert!(
        r.body.contains("/alice/calendar/b.ics") && !r.body.contains("a.ics"),
        "{}",
        r.body
    );
    let r = https(port, &root, "GET /alice/calendar/b.ics HTTP/1.1", "").unwrap();
    assert!(r.body.contains("UID:b"));
    assert!(dir.path().join("tree/alice/calendar/b.ics").is_file());
    // Plain HTTP goes on beside it (from loopback, passwords are accepted there too).
    let r = srv
        .request("GET", "/alice/calendar/a.ics")
        .auth("alice", "secret")
        .send();
    assert_eq!(r.status, 200);
    assert!(r.header("strict-transport-security").is_none());

    // A renewed certificate is taken on SIGHUP, without a restart.
    let renewed = make_certificate(dir.path());
    assert!(
        https(port, &root, "OPTIONS / HTTP/1.1", "").is_ok(),
        "old certificate until SIGHUP"
    );
    std::process::Command::new("kill")
        .args(["-HUP", &srv.pid().to_string()])
        .status()
        .unwrap();
    let started = Instant::now();
    while !srv
        .drain_log()
        .iter()
        .any(|l| l.contains("certificate reloaded"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no reload logged"
        );
    }
    assert!(
        https(port, &root, "OPTIONS / HTTP/1.1", "").is_err(),
        "the old certificate is gone"
    );
    let r = https(port, &renewed, "PROPFIND /alice/ HTTP/1.1", "").unwrap();
    assert_eq!(r.status, 207);
}

#[test]
fn silent_tls_sockets_are_bounded_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let root = make_certificate(dir.path());
    std::fs::create_dir(dir.path().join("tree")).unwrap();
    std::fs::write(dir.path().join("tree/a.txt"), "a").unwrap();
    let srv = start_tls(
        dir.path(),
        &[
            "--max-connections-per-address",
            "3",
            "--trusted-proxy",
            "10.9.9.9",
        ],
    );
    let port = srv.tls_port().expect("an https URL in the log");
    // Sockets that never send a ClientHello: three are waited for, the next closed.
    let silent: Vec<_> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut fourth = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert!(
        support::closed_by_server(&mut fourth),
        "the fourth handshake was waited for"
    );
    // Plain HTTP from the same address is counted apart and answered.
    assert_eq!(srv.request("GET", "/a.txt").send().status, 200);
    drop(silent);
    std::thread::sleep(Duration::from_millis(300));
    let r = https(port, &root, "GET /a.txt HTTP/1.1", "").unwrap();
    assert_eq!(r.status, 200);
    assert!(
        srv.drain_log().iter().any(|l| l.contains("TLS handshakes")),
        "the limit is logged"
    );
}
