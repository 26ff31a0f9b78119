#!/usr/bin/env python3
"""What long sync logs cost a restart (issue 34): C calendars of 50 events each, every
event rewritten until each calendar's sync log holds N changes, then each build given
is started on a copy of that state and measured:

- the first answer after the restart, and RSS after one calendar's PROPFIND Depth 1;
- RSS after a sync of every calendar from a token taken before the changes.

    tests/bench/logs.py BINARY [BINARY ...] [--calendars C] [--changes N]

The state is made once, with the first binary, in /tmp/dirdav-logs-C-N (remove it to
start over); every build must read that state's format.
"""
import argparse
import http.client
import os
import shutil
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
from scale import Server  # noqa: E402


def make(binary, root, state, calendars, changes):
    for c in range(calendars):
        cal = f"{root}/user{c:03d}/calendar"
        os.makedirs(cal)
        with open(f"{cal}/.dav.toml", "w") as f:
            f.write('kind = "calendar"\n')
    os.makedirs(state)
    server = Server(binary, root, state)
    tokens = {}

    def churn(c):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        conn.request("REPORT", f"/user{c:03d}/calendar/", body=compare.sync_body(None),
                     headers={"Depth": "1"})
        body = conn.getresponse().read().decode()
        tokens[c] = compare.token_of(body)
        for n in range(changes):
            i = n % 50
            text = compare.event(i).replace("SUMMARY:", f"SUMMARY:v{n} ", 1)
            conn.request("PUT", f"/user{c:03d}/calendar/{i}.ics", body=text,
                         headers={"Content-Type": "text/calendar"})
            r = conn.getresponse()
            r.read()
            assert r.status in (201, 204), r.status

    for start in range(0, calendars, 4):
        threads = [threading.Thread(target=churn, args=(c,))
                   for c in range(start, min(start + 4, calendars))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    server.stop()
    with open(f"{state}/tokens", "w") as f:
        for c in range(calendars):
            f.write(f"{tokens[c]}\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--calendars", type=int, default=20)
    parser.add_argument("--changes", type=int, default=2000)
    args = parser.parse_args()
    base = f"/tmp/dirdav-logs-{args.calendars}-{args.changes}"
    root, made = f"{base}/tree", f"{base}/state"
    if not os.path.exists(made):
        make(args.binaries[0], root, made, args.calendars, args.changes)
    tokens = open(f"{made}/tokens").read().split()
    for binary in args.binaries:
        with tempfile.TemporaryDirectory() as state:
            shutil.copytree(made, state, dirs_exist_ok=True)
            warm = Server(binary, root, state)
            warm.ask("PROPFIND", "/user000/calendar/", compare.PROPFIND_ETAG)
            listed = compare.rss_mib(warm.proc.pid)
            for c, token in enumerate(tokens):
                warm.ask("REPORT", f"/user{c:03d}/calendar/", compare.sync_body(token))
            synced = compare.rss_mib(warm.proc.pid)
            print(f"{os.path.basename(binary)}: {args.calendars} calendars x "
                  f"{args.changes} changes: first answer {warm.first * 1000:.0f} ms; RSS "
                  f"{listed:.1f} MiB after one listing, {synced:.1f} MiB after a sync of "
                  f"every calendar from before the changes", flush=True)
            warm.stop()


if __name__ == "__main__":
    main()
