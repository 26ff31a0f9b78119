//! End-to-end: `--log-format json` writes one JSON object per line, the access log's
//! fields (and a refusal's reason) among them, for log collectors.

#![allow(missing_docs, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tree")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dirdav"))
        .args([
            "serve",
            "--log-format",
            "json",
            "--listen",
            "127.0.0.1:0",
            "--root",
        ])
        .arg(dir.path().join("tree"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut port = None;
    let mut seen = Vec::new();
    while port.is_none() {
        let line = lines.next().unwrap().unwrap();
        let object: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if let Some(url) = object["url"].as_str() {
            port = url
                .trim_start_matches("http://127.0.0.1:")
                .trim_end_matches('/')
                .parse::<u16>()
                .ok();
        }
        seen.push(object);
    }
    assert!(seen.iter().any(|o| o["level"] == "INFO"), "{seen:?}");
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port.unwrap())).unwrap();
    stream
        .write_all(b"DELETE /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let line = lines.next().unwrap().unwrap();
    let object: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(object["method"], "DELETE", "{line}");
    assert_eq!(object["status"], 404, "{line}");
    assert_eq!(object["why"], "not found", "{line}");
    let _ = child.kill();
    let _ = child.wait();
}
