//! `dirdav doctor` against a running dirdav, a misconfigured one and something that is
//! not a DAV server at all.

#![cfg(feature = "doctor")]
#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::process::{Command, Output};

use support::example_server;

fn doctor(url: &str, user: &str, password: &str, extra: &[&str]) -> (bool, String) {
    let Output { status, stdout, .. } = Command::new(env!("CARGO_BIN_EXE_dirdav"))
        .args(["doctor", "--url", url, "--user", user])
        .args(extra)
        .env("DIRDAV_PASSWORD", password)
        .output()
        .unwrap();
    (status.success(), String::from_utf8(stdout).unwrap())
}

#[test]
fn doctor_passes_against_a_working_server_and_its_test_write_leaves_nothing() {
    let (dir, srv) = example_server(&[]);
    let url = format!("http://127.0.0.1:{}/", srv.port);
    let (ok, out) = doctor(&url, "alice", "wonderland", &["--write"]);
    assert!(ok, "{out}");
    for line in [
        "ok    /.well-known/caldav: 301 to /",
        "ok    current-user-principal: /alice/",
        "ok    calendar-home-set: /alice/",
        "ok    addressbook-home-set: /alice/",
        "ok    write to /alice/calendar/: created and deleted",
        "ok    write to /alice/contacts/: created and deleted",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    assert!(out.contains("calendar-access"), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
    let calendar = dir.path().join("example-data/alice/calendar");
    let left: Vec<_> = std::fs::read_dir(calendar)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("doctor"))
        .collect();
    assert!(left.is_empty(), "the test item stayed: {left:?}");
}

#[test]
fn doctor_fails_with_the_reason_for_a_wrong_password() {
    let (_dir, srv) = example_server(&[]);
    let url = format!("http://127.0.0.1:{}/", srv.port);
    let (ok, out) = doctor(&url, "alice", "not-her-password", &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("FAIL  OPTIONS: the server refused the password of alice (401)"),
        "{out}"
    );
}

#[test]
fn doctor_fails_with_the_reason_for_a_wrong_base_path() {
    let (_dir, srv) = example_server(&["--base-path", "/dav"]);
    // The right path passes, through the well-known redirect or directly.
    for path in ["/", "/dav/"] {
        let url = format!("http://127.0.0.1:{}{path}", srv.port);
        let (ok, out) = doctor(&url, "alice", "wonderland", &[]);
        assert!(ok, "{out}");
        assert!(out.contains("current-user-principal: /dav/alice/"), "{out}");
    }
    let url = format!("http://127.0.0.1:{}/caldav/", srv.port);
    let (ok, out) = doctor(&url, "alice", "wonderland", &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("nothing is served at /caldav/ (404)"), "{out}");
    assert!(out.contains("--base-path"), "{out}");
}

#[test]
fn doctor_fails_without_well_known_and_without_dav() {
    // A plain web server that answers 404 to everything.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let (ok, out) = doctor(
        &format!("http://127.0.0.1:{port}/"),
        "alice",
        "wonderland",
        &[],
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains(
            "FAIL  /.well-known/caldav: 404: clients given only the host name will not find the server"
        ),
        "{out}"
    );
    assert!(
        out.contains("FAIL  OPTIONS: nothing is served at / (404)"),
        "{out}"
    );
}

/// A DNS server on 127.0.0.1 answering from a table of (name, record), with NXDOMAIN
/// for anything else: what `dirdav doctor` finds when given only a domain.
fn dns_server(
    records: Vec<(&'static str, hickory_resolver::proto::rr::RData)>,
) -> std::net::SocketAddr {
    use hickory_resolver::proto::op::{Message, OpCode, ResponseCode};
    use hickory_resolver::proto::rr::Record;
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let at = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut reply = Message::response(query.metadata.id, OpCode::Query);
            reply.metadata.authoritative = true;
            reply.metadata.recursion_desired = query.metadata.recursion_desired;
            reply.add_queries(query.queries.clone());
            for q in &query.queries {
                for (name, data) in &records {
                    if q.name().to_utf8().eq_ignore_ascii_case(name)
                        && data.record_type() == q.query_type()
                    {
                        reply.add_answer(Record::from_rdata(q.name().clone(), 60, data.clone()));
                    }
                }
            }
            if reply.answers.is_empty() {
                reply.metadata.response_code = ResponseCode::NXDomain;
            }
            let _ = socket.send_to(&reply.to_vec().unwrap(), from);
        }
    });
    at
}

fn srv(port: u16) -> hickory_resolver::proto::rr::RData {
    use hickory_resolver::proto::rr::{Name, RData, rdata::SRV};
    RData::SRV(SRV::new(
        0,
        1,
        port,
        Name::from_ascii("127.0.0.1.").unwrap(),
    ))
}

fn txt(text: &str) -> hickory_resolver::proto::rr::RData {
    use hickory_resolver::proto::rr::{RData, rdata::TXT};
    RData::TXT(TXT::new(vec![text.to_owned()]))
}

fn doctor_by_dns(dns: std::net::SocketAddr, domain: &str) -> (bool, String) {
    let Output { status, stdout, .. } = Command::new(env!("CARGO_BIN_EXE_dirdav"))
        .args(["doctor", "--user", "alice", "--domain", domain])
        .args(["--dns-server", &dns.to_string()])
        .env("DIRDAV_PASSWORD", "wonderland")
        .output()
        .unwrap();
    (status.success(), String::from_utf8(stdout).unwrap())
}

#[test]
fn doctor_finds_the_server_through_srv_and_txt_records() {
    let (_dir, srv_at) = example_server(&["--base-path", "/dav"]);
    let port = srv_at.port;
    let dns = dns_server(vec![
        ("_caldav._tcp.example.test.", srv(port)),
        ("_caldav._tcp.example.test.", txt("path=/dav/")),
        ("_carddav._tcp.example.test.", srv(port)),
    ]);
    let (ok, out) = doctor_by_dns(dns, "example.test");
    assert!(ok, "{out}");
    for line in [
        format!("ok    DNS _caldavs/_caldav._tcp.example.test: http://127.0.0.1:{port}/dav/\n"),
        format!(
            "ok    DNS _carddavs/_carddav._tcp.example.test: http://127.0.0.1:{port}/ (no path= TXT record: clients try /.well-known)\n"
        ),
        "ok    current-user-principal: /dav/alice/".to_owned(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in\n{out}");
    }
}

#[test]
fn doctor_says_what_is_wrong_with_the_dns_records() {
    let (_dir, srv_at) = example_server(&["--base-path", "/dav"]);
    let port = srv_at.port;
    // A path outside the server's base path, and no CardDAV records at all.
    let dns = dns_server(vec![
        ("_caldav._tcp.example.test.", srv(port)),
        ("_caldav._tcp.example.test.", txt("path=/caldav/")),
    ]);
    let (ok, out) = doctor_by_dns(dns, "example.test");
    assert!(!ok, "{out}");
    assert!(
        out.contains("warn  DNS _carddavs/_carddav._tcp.example.test: no SRV record\n      fix: publish the records `dirdav dns-records --domain example.test` prints"),
        "{out}"
    );
    assert!(out.contains("nothing is served at /caldav/ (404)"), "{out}");
}

/// A self-signed certificate for localhost, as PEM files in `dir`.
fn self_signed(dir: &std::path::Path) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), signing_key.serialize_pem()).unwrap();
}

#[test]
fn doctor_checks_https_against_the_certificates_it_is_told_to_trust() {
    let certs = tempfile::tempdir().unwrap();
    self_signed(certs.path());
    let file = |name: &str| certs.path().join(name).to_str().unwrap().to_owned();
    let (_dir, srv) = example_server(&[
        "--tls-cert",
        &file("cert.pem"),
        "--tls-key",
        &file("key.pem"),
        "--tls-listen",
        "127.0.0.1:0",
    ]);
    let url = format!("https://localhost:{}/", srv.tls_port().unwrap());

    // Trusting the server's certificate, every step passes, the well-known redirect
    // included: on the TLS listener it must point to https.
    let (ok, out) = doctor(
        &url,
        "alice",
        "wonderland",
        &["--write", "--ca-file", &file("cert.pem")],
    );
    assert!(ok, "{out}");
    assert!(out.contains("ok    /.well-known/caldav: 301 to /"), "{out}");
    assert!(
        out.contains("ok    write to /alice/contacts/: created and deleted"),
        "{out}"
    );
    assert!(!out.contains("FAIL"), "{out}");

    // Without it, the self-signed certificate is refused as a phone would refuse it,
    // and the message says what to do.
    let output = Command::new(env!("CARGO_BIN_EXE_dirdav"))
        .args(["doctor", "--url", &url, "--user", "alice"])
        .env("DIRDAV_PASSWORD", "wonderland")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{said}");
    assert!(said.contains("--ca-file"), "{said}");
}

/// A self-signed certificate as `openssl req -x509` makes it, saying CA:TRUE, given with
/// `--ca-file` is trusted as itself for the names it carries (curl accepts it so); a
/// host it does not name is still refused.
#[test]
fn doctor_trusts_a_self_signed_ca_true_certificate_it_is_given() {
    let certs = tempfile::tempdir().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(certs.path().join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(certs.path().join("key.pem"), key.serialize_pem()).unwrap();
    let file = |name: &str| certs.path().join(name).to_str().unwrap().to_owned();
    let (_dir, srv) = example_server(&[
        "--tls-cert",
        &file("cert.pem"),
        "--tls-key",
        &file("key.pem"),
        "--tls-listen",
        "127.0.0.1:0",
    ]);
    let port = srv.tls_port().unwrap();
    let (ok, out) = doctor(
        &format!("https://localhost:{port}/"),
        "alice",
        "wonderland",
        &["--ca-file", &file("cert.pem")],
    );
    assert!(ok, "{out}");
    assert!(!out.contains("FAIL"), "{out}");
    // Reached by an address the certificate does not name: refused.
    let (ok, out) = doctor(
        &format!("https://127.0.0.1:{port}/"),
        "alice",
        "wonderland",
        &["--ca-file", &file("cert.pem")],
    );
    assert!(!ok, "{out}");
}
