#!/usr/bin/env python3
"""Two dirdav builds side by side on the same tree: medians of the same requests,
taken in turn, and whether their answers are byte for byte the same.

    tests/bench/ab.py OLD_BINARY NEW_BINARY TREE [ROUNDS]

TREE is a folder with `bench/cal/` and `bench/book/`; when it does not exist it is made
with compare.py's 10,000 events and 10,000 cards. Both servers index it on start
(`--watch off`, a fresh state each) and are asked for PROPFIND Depth 1 of the calendar
(getetag and resourcetype, and allprop), the month calendar-query, addressbook-query and a calendar-multiget of 100.
Set `GLIBC_TUNABLES_OLD` / `GLIBC_TUNABLES_NEW` to give one side its own tunables.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402


def make_tree(tree, n=10_000):
    for folder, kind in (("cal", "calendar"), ("book", "addressbook")):
        os.makedirs(f"{tree}/bench/{folder}")
        with open(f"{tree}/bench/{folder}/.dav.toml", "w") as f:
            f.write(f'kind = "{kind}"\n')
    compare.write_items(f"{tree}/bench/cal", [(i, compare.event(i)) for i in range(n)], "ics")
    compare.write_items(f"{tree}/bench/book", [(i, compare.card(i)) for i in range(n)], "vcf")


def main():
    binaries = {"old": sys.argv[1], "new": sys.argv[2]}
    tree = sys.argv[3]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 15
    if not os.path.exists(tree):
        make_tree(tree)
    requests = {
        "PROPFIND Depth 1": ("PROPFIND", "/bench/cal/", compare.PROPFIND_ETAG),
        "PROPFIND allprop": ("PROPFIND", "/bench/cal/",
                             '<propfind xmlns="DAV:"><allprop/></propfind>'),
        "calendar-query": ("REPORT", "/bench/cal/", compare.MONTH_QUERY),
        "addressbook-query": ("REPORT", "/bench/book/", compare.FN_QUERY),
        "calendar-multiget 100": ("REPORT", "/bench/cal/", compare.multiget(
            "cal", [f"/bench/cal/{i:06d}.ics" for i in range(0, 10_000, 100)])),
    }
    procs, ports = {}, {}
    with tempfile.TemporaryDirectory() as work:
        try:
            for side, binary in binaries.items():
                env = {**os.environ, "RUST_LOG": "warn"}
                tunables = os.environ.get(f"GLIBC_TUNABLES_{side.upper()}")
                if tunables is not None:
                    env["GLIBC_TUNABLES"] = tunables
                ports[side] = compare.free_port()
                procs[side] = subprocess.Popen(
                    [binary, "serve", "--root", tree, "--state-dir", f"{work}/{side}",
                     "--listen", f"127.0.0.1:{ports[side]}", "--watch", "off"],
                    stderr=subprocess.DEVNULL, env=env)
            for side in binaries:
                while True:
                    try:
                        if compare.request(ports[side], "PROPFIND", "/bench/cal/", compare.PROPFIND_ETAG,
                                           {"Depth": "0"})[0] == 207:
                            break
                    except OSError:
                        pass
                    time.sleep(0.05)
            times = {(s, r): [] for s in binaries for r in requests}
            bodies = {}
            for _ in range(rounds):
                for name, (method, path, body) in requests.items():
                    for side in binaries:
                        t = time.perf_counter()
                        _, _, answer = compare.request(ports[side], method, path, body, {"Depth": "1"})
                        times[(side, name)].append((time.perf_counter() - t) * 1000)
                        bodies[(side, name)] = answer
            for name in requests:
                same = "same answer" if bodies[("old", name)] == bodies[("new", name)] else "ANSWERS DIFFER"
                print(f"{name:<24} " + "  ".join(
                    f"{side} {statistics.median(times[(side, name)]):6.2f} ms" for side in binaries) + f"  {same}")
            for side in binaries:
                with open(f"/proc/{procs[side].pid}/status") as f:
                    rss = next(line.split()[1] for line in f if line.startswith("VmRSS:"))
                print(f"{side} RSS {int(rss) / 1024:.1f} MiB")
        finally:
            for p in procs.values():
                p.terminate()
                p.wait()


if __name__ == "__main__":
    main()
