#!/usr/bin/env python3
"""Resident memory of dirdav builds serving 2,000 folders, each with 10 KB of dead
properties in its .dav.toml (20 MB in all): after start, after a PROPFIND Depth 1 of
their parent that names no dead property (getetag), and after one with allprop (which
answers every dead property), with the time of each listing.

    tests/bench/dead_props_memory.py BINARY [BINARY ...]

The tree is made in /tmp/deadtree when it does not exist.
"""
import http.client, os, re, subprocess, sys, tempfile, time

TREE = "/tmp/deadtree"


def make_tree():
    os.makedirs(f"{TREE}/props")
    for i in range(2000):
        d = f"{TREE}/props/f{i:04d}"
        os.makedirs(d)
        with open(f"{d}/.dav.toml", "w") as f:
            f.write("[props]\n")
            for j in range(10):
                f.write(f'"{{urn:x}}p{j}" = "{"v" * 990}"\n')


def rss(pid):
    status = open(f"/proc/{pid}/status").read()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


def listing(conn, body):
    started = time.perf_counter()
    conn.request("PROPFIND", "/props/", body=body, headers={"Depth": "1"})
    answer = conn.getresponse().read()
    return (time.perf_counter() - started) * 1000, len(answer)


def main():
    if not os.path.exists(TREE):
        make_tree()
    for binary in sys.argv[1:]:
        work = tempfile.mkdtemp()
        log = open(f"{work}/log", "w")
        proc = subprocess.Popen([binary, "serve", "--root", TREE, "--listen", "127.0.0.1:0",
                                 "--state-dir", f"{work}/state", "--watch", "off"], stderr=log)
        for _ in range(600):
            m = re.search(r"127\.0\.0\.1:(\d+)", open(f"{work}/log").read())
            if m:
                break
            time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", int(m.group(1)))
        conn.request("PROPFIND", "/props/", headers={"Depth": "0"})
        conn.getresponse().read()
        start = rss(proc.pid)
        etag_ms, _ = listing(conn, '<propfind xmlns="DAV:"><prop><getetag/><resourcetype/></prop></propfind>')
        after_etag = rss(proc.pid)
        all_ms, size = listing(conn, '<propfind xmlns="DAV:"><allprop/></propfind>')
        time.sleep(2)
        after_all = rss(proc.pid)
        print(f"{binary}: RSS {start:.1f} MiB after start; getetag Depth 1 {etag_ms:.0f} ms, "
              f"RSS {after_etag:.1f}; allprop Depth 1 ({size / 1e6:.1f} MB) {all_ms:.0f} ms, RSS {after_all:.1f}")
        proc.terminate()
        proc.wait()


main()
