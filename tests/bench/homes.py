#!/usr/bin/env python3
"""What one user's requests cost as the server holds more users: PROPFIND Depth 1 of
a user's home (what iOS, DAVx5 and Thunderbird send to discover collections), a sync
of their calendar and a month's calendar-query, at several numbers of users, each user
with a calendar and an address book (ITEMS events and cards each) and sharing their
calendar with the next user (so every home lists a share).

    tests/bench/homes.py BINARY USERS [USERS ...] [--items N] [--rounds N] [--storm CLIENTS]

Prints, for each number of users, the median milliseconds of each request (as the
first user, over one keep-alive connection) and the server's RSS after them. With
`--storm CLIENTS`, then a sync storm for 5 s: CLIENTS clients spread over the users
(client k is user k mod USERS), each in a loop PROPFIND Depth 1 of its home, a sync of
its calendar from its last token and a multiget of what changed, while 5 writers each
change an item of another user's calendar every 100 ms: sync cycles a second and the
writers' median PUT time.
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
import threading
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
        storm = sync_storm(port, names, STORM) if STORM else None
        proc.terminate()
        proc.wait()
        return first, {k: statistics.median(v) for k, v in times.items()}, rss, storm
    finally:
        shutil.rmtree(work, ignore_errors=True)


def sync_storm(port, names, clients, seconds=5.0):
    """Sync cycles a second of `clients` clients over the users, and the median
    milliseconds of the PUTs of 5 writers meanwhile. Every client and writer signs in
    and takes its first token before the clock starts (checking a password costs
    bcrypt's quarter of a second once per user, not what is measured)."""
    writers = 5
    clock = {}
    # When the last one is ready, before any goes on: the clock starts.
    ready = threading.Barrier(clients + writers + 1, action=lambda: clock.update(
        start=time.monotonic(), stop=time.monotonic() + seconds))
    counts = [0] * clients
    put_ms = []

    def connect(user):
        auth = "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
        return http.client.HTTPConnection("127.0.0.1", port, timeout=60), auth

    def ask(c, auth, method, path, body, depth="1"):
        c.request(method, path, body=body, headers={
            "Authorization": auth, "Depth": depth, "Content-Type": "application/xml"})
        r = c.getresponse()
        return r.status, r.read().decode()

    def client(k):
        user = names[k % len(names)]
        c, auth = connect(user)
        cal = f"/{user}/calendar/"
        _, body = ask(c, auth, "REPORT", cal, compare.sync_body(None))
        token = compare.token_of(body)
        ready.wait()
        while time.monotonic() < clock["stop"]:
            ask(c, auth, "PROPFIND", f"/{user}/", HOME_PROPFIND)
            _, body = ask(c, auth, "REPORT", cal, compare.sync_body(token))
            token = compare.token_of(body) or token
            changed = [h for h in compare.hrefs_in(body) if h.endswith(".ics")]
            if changed:
                ask(c, auth, "REPORT", cal, compare.multiget("cal", changed))
            counts[k] += 1

    def writer(w):
        user = names[(w * 7 + 1) % len(names)]
        c, auth = connect(user)
        ask(c, auth, "OPTIONS", f"/{user}/", "")
        ready.wait()
        i = 0
        while time.monotonic() < clock["stop"]:
            t = time.perf_counter()
            c.request("PUT", f"/{user}/calendar/{i % 20:06d}.ics",
                      body=compare.event(i % 20).replace("realistic", f"changed {i}"),
                      headers={"Authorization": auth,
                               "Content-Type": "text/calendar; charset=utf-8"})
            c.getresponse().read()
            put_ms.append((time.perf_counter() - t) * 1000)
            i += 1
            time.sleep(0.1)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    threads += [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    ready.wait()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - clock["start"]), statistics.median(put_ms)


def main():
    global BINARY, STORM
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("users", nargs="+", type=int)
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--storm", type=int, default=0)
    args = ap.parse_args()
    BINARY = args.binary
    STORM = args.storm
    for users in args.users:
        first, medians, rss, storm = measure(users, args.items, args.rounds)
        cells = "; ".join(f"{k} {v:.3f} ms" for k, v in medians.items())
        stormed = (f"; storm of {STORM} clients: {storm[0]:,.0f} cycles/s, writers' PUT "
                   f"p50 {storm[1]:.1f} ms" if storm else "")
        print(f"{users} users x {args.items} events and cards: first answer {first:.2f} s; "
              f"{cells}; RSS {rss:.1f} MiB{stormed}", flush=True)


BINARY = None
STORM = 0

if __name__ == "__main__":
    main()
