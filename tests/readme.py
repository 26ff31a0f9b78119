#!/usr/bin/env python3
"""Runs every ```sh block of README.md as a reader would paste it, from the repository's
root, and checks each command's exit status and what it prints.

    tests/readme.py [BINARY]

Each line (a `\\` continues it) runs in its own bash from the repository's root, in
order. A line that starts a server (`cargo run -- serve`, `dirdav serve`) is started in
the background and waited for until it says it is serving; it keeps running for the
blocks after it and is stopped at the end. What stands in for the reader's machine:

- `dirdav` is BINARY (default `target/debug/dirdav`, the tests' build), put on PATH, as
  `cargo install --path .` would install it (without a release build of minutes);
  `cargo run --` lines run as written and reuse that debug build.
- `cargo test --workspace` is not run again: CI runs it as a step of its own.
- HOME is a scratch folder (for `~/dav`), where git has an identity; the Rust
  toolchain is still found where it was.

Lines whose output matters are checked against EXPECT; every line must exit with 0. At
the end the README's own restore command must have left `example-data/` as committed.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (pattern on the command, strings its output must hold)
EXPECT = [
    (r"PROPFIND .*/alice/calendar/", ["<d:multistatus", "HTTP/1.1 200 OK", ".ics</d:href>"]),
    (r"curl -u bob:builder .*/shared/notes\.txt", ["Buy milk"]),
    (r"dns-records", ["_caldavs._tcp.example.com", "dav.example.com"]),
    (r"doctor", ["ok"]),
    (r"git -C ~/dav log", ["carol: "]),
    (r"dave:dormouse", ["207"]),
    (r"dirdav user list --root ~/dav", ["carol\ndave\n"]),
]
SKIP = [
    (r"^cargo test --workspace\b", "CI runs the tests as a step of their own"),
    (r"^cargo install --locked --path \.$", "BINARY on PATH stands in for it (a release build of minutes)"),
]
SERVER = re.compile(r"(^|\s)(cargo run --|dirdav) serve\b")


def blocks(text):
    """The ```sh blocks, each as its commands (continuations joined)."""
    for block in re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M):
        line = ""
        for raw in block.splitlines():
            if raw.rstrip().endswith("\\"):
                line += raw.rstrip()[:-1] + " "
                continue
            line += raw
            if line.strip() and not line.strip().startswith("#"):
                yield line.strip()
            line = ""


def wait_serving(proc, log, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(log, encoding="utf-8", errors="replace") as f:
            text = f.read()
        if "serving" in text:
            return text
        if proc.poll() is not None:
            raise SystemExit(f"the server stopped before serving:\n{text}")
        time.sleep(0.2)
    raise SystemExit(f"the server did not start within {timeout} s")


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else f"{ROOT}/target/debug/dirdav")
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"{binary}: not built (cargo build first)")
    with open(f"{ROOT}/README.md", encoding="utf-8") as f:
        commands = list(blocks(f.read()))
    scratch = tempfile.mkdtemp(prefix="dirdav-readme-")
    os.makedirs(f"{scratch}/bin")
    with open(f"{scratch}/bin/dirdav", "w") as f:
        f.write(f'#!/bin/sh\nexec "{binary}" "$@"\n')
    os.chmod(f"{scratch}/bin/dirdav", 0o755)
    env = dict(os.environ)
    # The toolchain stays where it is when HOME moves.
    home = os.path.expanduser("~")
    env.setdefault("RUSTUP_HOME", f"{home}/.rustup")
    env.setdefault("CARGO_HOME", f"{home}/.cargo")
    env.update(
        HOME=f"{scratch}/home",
        PATH=f"{scratch}/bin:{env['PATH']}",
        GIT_AUTHOR_NAME="README reader",
        GIT_AUTHOR_EMAIL="reader@example.com",
        GIT_COMMITTER_NAME="README reader",
        GIT_COMMITTER_EMAIL="reader@example.com",
    )
    os.makedirs(env["HOME"])
    env.pop("DIRDAV_PASSWORD", None)
    servers = []
    failures = []
    try:
        for n, command in enumerate(commands, 1):
            skip = next((why for pattern, why in SKIP if re.search(pattern, command)), None)
            if skip:
                print(f"[{n}] skipped ({skip}): {command}")
                continue
            if SERVER.search(command):
                log = f"{scratch}/server{n}.log"
                with open(log, "w") as out:
                    proc = subprocess.Popen(
                        ["bash", "-c", command], cwd=ROOT, env=env, stdout=out,
                        stderr=subprocess.STDOUT, start_new_session=True,
                    )
                servers.append(proc)
                started = wait_serving(proc, log)
                url = re.search(r"url=(\S+)", started)
                print(f"[{n}] started: {command}  ({url.group(1) if url else 'serving'})")
                continue
            result = subprocess.run(
                ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True,
                text=True, timeout=300,
            )
            output = result.stdout + result.stderr
            wanted = [s for pattern, strings in EXPECT if re.search(pattern, command)
                      for s in strings]
            missing = [s for s in wanted if s not in output]
            ok = result.returncode == 0 and not missing
            print(f"[{n}] {'ok' if ok else 'FAIL'} (exit {result.returncode}): {command}")
            if not ok:
                failures.append(command)
                print(f"    missing: {missing}\n    output: {output[-2000:]}")
    finally:
        for proc in servers:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(scratch, ignore_errors=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "example-data"], cwd=ROOT,
        capture_output=True, text=True,
    ).stdout
    if dirty:
        failures.append("example-data/ is not as committed after the restore command")
        print(f"example-data/ changed:\n{dirty}")
    print(f"{len(commands)} commands, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
