#!/usr/bin/env python3
"""What one user's requests cost as the server holds more users: PROPFIND Depth 1 of
a user's home (what iOS, DAVx5 and Thunderbird send to discover collections), a sync
of their calendar and a month's calendar-query, at several numbers of users, each user
with a calendar and an address book (ITEMS events and cards each) and sharing their
calendar with the next user (so every home lists a share).

    tests/bench/homes.py BINARY USERS [USERS ...] [--items N] [--rounds N]

Prints, for each number of users, the median milliseconds of each request (as the
first user, over one keep-alive connection) and the server's RSS after them.
"""
import argparse
import base64
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402

PASSWORD = "bench-password"
HOME_PROPFIND = ('<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
                 '<prop><resourcetype/><displayname/><getetag/><sync-token/>'
                 '<current-user-privilege-set/><C:supported-calendar-component-set/>'
                 '</prop></propfind>')


def make_tree(root, users, items):
    os.makedirs(root)
    names = [f"user{u:03d}" for u in range(users)]
    for u, name in enumerate(names):
        cal, book = f"{root}/{name}/calendar", f"{root}/{name}/contacts"
        os.makedirs(cal)
        os.makedirs(book)
        neighbour = names[(u + 1) % users]
        with open(f"{cal}/.dav.toml", "w") as f:
            f.write(f'kind = "calendar"\n[acl]\nread = ["{neighbour}"]\n')
        with open(f"{book}/.dav.toml", "w") as f:
            f.write('kind = "addressbook"\n')
        compare.write_items(cal, [(i, compare.event(i)) for i in range(items)], "ics")
        compare.write_items(book, [(i, compare.card(i)) for i in range(items)], "vcf")
    # One hash for every user: `dirdav user add` hashes with bcrypt, slow for hundreds.
    line = subprocess.run(
        [BINARY, "user", "add", "--htpasswd", f"{root}/.first", names[0]],
        input=PASSWORD + "\n", capture_output=True, text=True, check=True)
    del line
    hashed = open(f"{root}/.first").read().split(":", 1)[1].strip()
    os.remove(f"{root}/.first")
    with open(f"{root}/.htpasswd", "w") as f:
        for name in names:
            f.write(f"{name}:{hashed}\n")
    return names


def measure(users, items, rounds):
    work = tempfile.mkdtemp()
    try:
        names = make_tree(f"{work}/root", users, items)
        port = compare.free_port()
        started = time.perf_counter()
        proc = subprocess.Popen(
            [BINARY, "serve", "--root", f"{work}/root", "--state-dir", f"{work}/state",
             "--listen", f"127.0.0.1:{port}", "--watch", "off"],
            stderr=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "warn"})
        auth = "Basic " + base64.b64encode(f"{names[0]}:{PASSWORD}".encode()).decode()
        for _ in range(3000):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                c.request("OPTIONS", "/", headers={"Authorization": auth})
                c.getresponse().read()
                break
            except OSError:
                time.sleep(0.05)
        first = time.perf_counter() - started

        def ask(method, path, body, depth="1"):
            t = time.perf_counter()
            c.request(method, path, body=body, headers={
                "Authorization": auth, "Depth": depth,
                "Content-Type": "application/xml"})
            r = c.getresponse()
            text = r.read()
            return (time.perf_counter() - t) * 1000, r.status, text

        home = f"/{names[0]}/"
        cal = f"/{names[0]}/calendar/"
        _, status, text = ask("PROPFIND", home, HOME_PROPFIND)
        assert status == 207, status
        shared = f"{names[-1]}-calendar".encode()
        assert shared in text, "the home lists the calendar shared with its user"
        requests = {
            "home PROPFIND Depth 1": ("PROPFIND", home, HOME_PROPFIND),
            "calendar sync": ("REPORT", cal, compare.sync_body(None)),
            "month calendar-query": ("REPORT", cal, compare.MONTH_QUERY),
        }
        times = {k: [] for k in requests}
        for _ in range(rounds):
            for name, (method, path, body) in requests.items():
                ms, status, _ = ask(method, path, body)
                assert status == 207, (name, status)
                times[name].append(ms)
        rss = compare.rss_mib(proc.pid)
        proc.terminate()
        proc.wait()
        return first, {k: statistics.median(v) for k, v in times.items()}, rss
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    global BINARY
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("users", nargs="+", type=int)
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    BINARY = args.binary
    for users in args.users:
        first, medians, rss = measure(users, args.items, args.rounds)
        cells = "; ".join(f"{k} {v:.3f} ms" for k, v in medians.items())
        print(f"{users} users x {args.items} events and cards: first answer {first:.2f} s; "
              f"{cells}; RSS {rss:.1f} MiB", flush=True)


BINARY = None

if __name__ == "__main__":
    main()
