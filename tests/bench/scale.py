#!/usr/bin/env python3
"""Start-up and memory as the tree grows (issue 34): for each size, a tree of N items
(half events, half cards) across homes of 1,000 events and 1,000 cards each (one home
below 2,000 items), then

- cold: time to the first answer with a new state directory, and until the tree is
  indexed (the log's `indexed the tree`);
- warm: the same with the state the cold run left, and until the server has compared
  the tree with it (`checked the tree for changes made while stopped`);
- RSS after listing one calendar (PROPFIND Depth 1) right after the warm start, and
  after a run over every home (PROPFIND of the home, a sync and a month's query of its
  calendar, a sync of its address book).

    tests/bench/scale.py BINARY N [N ...]

The trees are kept in /tmp/dirdav-scale-N (made once; remove them to start over).
"""
import os
import re
import subprocess
import sys
import tempfile
import time
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402

PROPFIND_HOME = '<propfind xmlns="DAV:"><prop><resourcetype/><displayname/></prop></propfind>'


def make_tree(root, n):
    per_home = 1000
    homes = max(1, n // (2 * per_home))
    items = min(per_home, n // 2)
    for h in range(homes):
        home = f"{root}/user{h:03d}"
        for folder, kind in (("calendar", "calendar"), ("contacts", "addressbook")):
            os.makedirs(f"{home}/{folder}")
            with open(f"{home}/{folder}/.dav.toml", "w") as f:
                f.write(f'kind = "{kind}"\n')
        compare.write_items(f"{home}/calendar", [(i, compare.event(i)) for i in range(items)], "ics")
        compare.write_items(f"{home}/contacts", [(i, compare.card(i)) for i in range(items)], "vcf")
    return homes


class Server:
    def __init__(self, binary, root, state):
        self.port = compare.free_port()
        self.log = tempfile.NamedTemporaryFile("w+", delete=False)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [binary, "serve", "--root", root, "--state-dir", state, "--watch", "off",
             "--listen", f"127.0.0.1:{self.port}"],
            stderr=self.log, env={**os.environ, "RUST_LOG": "info"})
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                c.request("OPTIONS", "/")
                c.getresponse().read()
                break
            except OSError:
                time.sleep(0.002)
        self.first = time.perf_counter() - self.started
        self.conn = c

    def until_logged(self, text):
        while True:
            with open(self.log.name) as f:
                if text in f.read():
                    return time.perf_counter() - self.started
            time.sleep(0.005)

    def ask(self, method, path, body, depth="1"):
        self.conn.request(method, path, body=body, headers={"Depth": depth})
        r = self.conn.getresponse()
        r.read()
        assert r.status == 207, (method, path, r.status)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        os.unlink(self.log.name)


def main():
    binary = sys.argv[1]
    for n in map(int, sys.argv[2:]):
        root = f"/tmp/dirdav-scale-{n}"
        if not os.path.exists(root):
            make_tree(root, n)
        homes = sorted(d for d in os.listdir(root) if d.startswith("user"))
        with tempfile.TemporaryDirectory() as state:
            cold = Server(binary, root, state)
            cold_indexed = cold.until_logged("indexed the tree")
            cold.stop()
            warm = Server(binary, root, state)
            warm.ask("PROPFIND", f"/{homes[0]}/calendar/", compare.PROPFIND_ETAG)
            listed_rss = compare.rss_mib(warm.proc.pid)
            text = open(warm.log.name).read()
            checked = ("checked the tree" in text or "loaded the index" in text
                       or "indexed the tree" in text)
            assert checked, text
            warm_checked = warm.until_logged(
                "checked the tree for changes" if "loaded the index" in text
                else "indexed the tree")
            for home in homes:
                warm.ask("PROPFIND", f"/{home}/", PROPFIND_HOME)
                warm.ask("REPORT", f"/{home}/calendar/", compare.sync_body(None))
                warm.ask("REPORT", f"/{home}/calendar/", compare.MONTH_QUERY)
                warm.ask("REPORT", f"/{home}/contacts/", compare.sync_body(None))
            run_rss = compare.rss_mib(warm.proc.pid)
            print(f"{n:>7} items, {len(homes)} homes: cold first answer {cold.first:.2f} s "
                  f"(indexed {cold_indexed:.2f} s); warm first answer {warm.first * 1000:.0f} ms "
                  f"(tree checked {warm_checked:.2f} s); RSS {listed_rss:.1f} MiB after one "
                  f"listing, {run_rss:.1f} MiB after a run over every home", flush=True)
            warm.stop()


if __name__ == "__main__":
    main()
