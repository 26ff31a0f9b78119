#!/usr/bin/env python3
"""GET of one event as deployed (the tree watched, the access log on at `info`, written
to a file), two dirdav builds and the bare axum server taken in turn under
`wrk -t2 -c16` for 4 s a round: requests per second, and each build's median as a share
of the bare server's.

    tests/bench/ab_get.py OLD_BINARY NEW_BINARY BARE_BINARY TREE [ROUNDS]

TREE is one ab.py makes (`bench/cal/` with 10,000 events). Each build serves a copy of
its own: a watcher asked for opens is woken by the other server's reads of a shared tree. BARE_BINARY is
`target/release/examples/bare_get` (`cargo build --release -p dirdav-core --example
bare_get`).
"""
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port):
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing answers on {port}")


def rps(port, path):
    out = subprocess.run(["wrk", "-t2", "-c16", "-d4s", f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main():
    old, new, bare, tree = sys.argv[1:5]
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 6
    item = "/bench/cal/000042.ics"
    work = tempfile.mkdtemp()
    procs, ports = {}, {}
    try:
        for name, binary in (("old", old), ("new", new)):
            ports[name] = free_port()
            shutil.copytree(f"{tree}/bench/cal", f"{work}/{name}-tree/bench/cal")
            log = open(f"{work}/{name}.log", "w")
            procs[name] = subprocess.Popen(
                [binary, "serve", "--root", f"{work}/{name}-tree", "--state-dir", f"{work}/{name}-state",
                 "--listen", f"127.0.0.1:{ports[name]}"],
                stderr=log, env={**os.environ, "RUST_LOG": "info"})
        ports["bare"] = free_port()
        procs["bare"] = subprocess.Popen([bare, f"{tree}{item}", str(ports["bare"])])
        for port in ports.values():
            wait_for(port)
        paths = {"old": item, "new": item, "bare": "/"}
        results = {name: [] for name in ports}
        for r in range(rounds):
            order = ["old", "new", "bare"]
            if r % 2:
                order.reverse()
            for name in order:
                results[name].append(rps(ports[name], paths[name]))
        bare_median = statistics.median(results["bare"])
        for name, got in results.items():
            m = statistics.median(got)
            print(f"{name}: median {m:,.0f} req/s ({100 * m / bare_median:.0f}% of bare); "
                  + " · ".join(f"{x:,.0f}" for x in got))
    finally:
        for p in procs.values():
            p.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
