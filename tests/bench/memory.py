#!/usr/bin/env python3
"""Where dirdav's resident memory goes during the benchmark's run.

Starts a dirdav binary on a fresh folder, stores N events and N cards by PUT (as
compare.py does), then runs the listings, the 16-client sync cycle and wrk, printing
the resident set after each step and, at the end, the largest mappings (glibc's thread
heaps show up as large anonymous ones).

    tests/bench/memory.py target/release/dirdav [N]        (N defaults to 10,000)
"""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402


def status(srv, tag):
    fields = {}
    with open(f"/proc/{srv.proc.pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    mib = lambda k: int(fields[k][0]) / 1024  # noqa: E731
    print(f"{tag:<22} RSS {mib('VmRSS'):5.1f} MiB  (anonymous {mib('RssAnon'):5.1f}, "
          f"file {mib('RssFile'):5.1f})  threads {fields['Threads'][0]}", flush=True)


def largest_mappings(srv, count=8):
    rows, current = [], None
    with open(f"/proc/{srv.proc.pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if parts and "-" in parts[0] and not parts[0].endswith(":"):
                current = (parts[0], parts[5] if len(parts) > 5 else "[anonymous]")
            elif parts and parts[0] == "Rss:" and current:
                rows.append((int(parts[1]), current))
    for kb, (span, name) in sorted(rows, reverse=True)[:count]:
        print(f"  {kb / 1024:6.1f} MiB  {name}  {span}")


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    with tempfile.TemporaryDirectory() as work:
        srv = compare.Dirdav(work, binary)
        srv.create()
        srv.start()
        try:
            srv.wait()
            compare.request(srv.port, "MKCOL", srv.home)
            compare.request(srv.port, "MKCALENDAR", srv.cal, compare.MKCALENDAR)
            compare.request(srv.port, "MKCOL", srv.book, compare.MKBOOK)
            status(srv, "started")
            events = [(i, compare.event(i)) for i in range(n)]
            compare.put_all(srv, events[: n // 4], 1, "cal")
            compare.put_all(srv, events[n // 4:], 8, "cal")
            compare.put_all(srv, [(i, compare.card(i)) for i in range(n)], 8, "book")
            status(srv, "after the PUTs")
            depth1 = {"Depth": "1"}
            for _ in range(5):
                compare.request(srv.port, "PROPFIND", srv.cal, compare.PROPFIND_ETAG, depth1)
                compare.request(srv.port, "REPORT", srv.cal, compare.MONTH_QUERY, depth1)
                compare.request(srv.port, "REPORT", srv.cal, compare.sync_body(None), depth1)
                compare.request(srv.port, "REPORT", srv.book, compare.FN_QUERY, depth1)
            status(srv, "after listings")
            compare.sync_cycles(srv)
            status(srv, "after 16 clients")
            if shutil.which("wrk"):
                compare.wrk(srv.port, f"{srv.cal}{n - 1:06d}.ics")
                status(srv, "after wrk")
            largest_mappings(srv)
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
