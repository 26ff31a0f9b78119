//! End-to-end: what a newcomer sees when a first run goes wrong. Each message names what
//! happened and what to do about it.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::process::{Command, Stdio};

use support::example_server;

/// Runs the binary to its end with no terminal and no password in the environment.
fn run(args: &[&str], cwd: &std::path::Path) -> (bool, String) {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dirdav"))
        .args(args)
        .current_dir(cwd)
        .env("XDG_STATE_HOME", state.path())
        .env_remove("DIRDAV_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_busy_port_names_the_address_and_the_option() {
    let (_copy, srv) = example_server(&[]);
    let addr = format!("127.0.0.1:{}", srv.port);
    let root = env!("CARGO_MANIFEST_DIR");
    let (ok, stderr) = run(&["serve", "--listen", &addr], root.as_ref());
    assert!(!ok);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")) && stderr.contains("--listen"),
        "{stderr}"
    );
}

#[test]
fn outside_the_repository_the_demo_says_where_it_looked_and_how_to_serve_a_folder() {
    let elsewhere = tempfile::tempdir().unwrap();
    let (ok, stderr) = run(&["serve"], elsewhere.path());
    assert!(!ok);
    assert!(
        stderr.contains("no example-data/ folder in") && stderr.contains("--root DIR"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("WARN"),
        "no unrelated warning first: {stderr}"
    );
    let (ok, stderr) = run(&["serve", "--root", "missing"], elsewhere.path());
    assert!(!ok);
    assert!(
        stderr.contains("cannot serve missing: no such folder"),
        "{stderr}"
    );
}

#[cfg(feature = "doctor")]
#[test]
fn the_doctor_without_a_password_says_so() {
    let (_copy, srv) = example_server(&[]);
    let url = format!("http://127.0.0.1:{}/", srv.port);
    let (ok, stderr) = run(
        &["doctor", "--url", &url, "--user", "alice"],
        env!("CARGO_MANIFEST_DIR").as_ref(),
    );
    assert!(!ok);
    assert!(stderr.contains("no password given"), "{stderr}");
    assert!(!stderr.contains("refused"), "{stderr}");
}
