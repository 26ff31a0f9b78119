#!/usr/bin/env python3
"""A bounded soak of dirdav: wrk drives a realistic mix over 64 connections for a fixed
time while this script samples the server's memory and open file descriptors.

Fails (exit 1) on any 5xx answer, on file descriptors growing past the warm-up count,
or on memory growing more than 25% between the end of the first minute and the end.
See tests/bench/soak.sh for the command and BENCHMARKS.md for figures.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import compare  # noqa: E402  (the data and helpers the comparison benchmark uses)

LUA = r"""
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(tonumber(args[1]) + os.time())
  counts = {}
  reqs, weights = {}, {}
  local n = tonumber(args[2])
  local cal, book = args[3], args[4]
  local ev = io.open(args[5]):read("*a")
  local function add(w, f) table.insert(reqs, f); table.insert(weights, w) end
  local function item(i) return string.format("%s%06d.ics", cal, i) end
  add(35, function() return wrk.format("GET", item(math.random(0, n - 1))) end)
  add(10, function() return wrk.format("PROPFIND", cal, {["Depth"] = "1", ["Content-Type"] = "application/xml"}, args[6]) end)
  add(10, function() return wrk.format("REPORT", cal, {["Depth"] = "1", ["Content-Type"] = "application/xml"}, args[7]) end)
  add(10, function() return wrk.format("REPORT", cal, {["Depth"] = "1", ["Content-Type"] = "application/xml"}, args[8]) end)
  add(5, function() return wrk.format("REPORT", book, {["Depth"] = "1", ["Content-Type"] = "application/xml"}, args[9]) end)
  add(5, function() return wrk.format("REPORT", cal, {["Depth"] = "1", ["Content-Type"] = "application/xml"}, args[10]) end)
  add(10, function()
    local i = math.random(0, n - 1)
    local body = ev:gsub("UID:bench%-0\r", string.format("UID:bench-%d\r", i)):gsub("SUMMARY:[^\r]*", "SUMMARY:soak " .. math.random(1, 1e9))
    return wrk.format("PUT", item(i), {["Content-Type"] = "text/calendar"}, body)
  end)
  add(8, function()
    local k = math.random(1, 200)
    local body = ev:gsub("UID:bench%-0\r", "UID:churn-" .. k .. "\r")
    return wrk.format("PUT", string.format("%schurn-%d.ics", cal, k), {["Content-Type"] = "text/calendar"}, body)
  end)
  add(7, function() return wrk.format("DELETE", string.format("%schurn-%d.ics", cal, math.random(1, 200))) end)
  total = 0
  for _, w in ipairs(weights) do total = total + w end
end

function request()
  local r = math.random(1, total)
  for i, w in ipairs(weights) do
    if r <= w then return reqs[i]() end
    r = r - w
  end
  return reqs[1]()
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local t, each = {0, 0, 0, 0, 0}, {}
  for _, th in ipairs(threads) do
    for status, n in pairs(th:get("counts")) do
      local c = math.floor(status / 100)
      t[c] = t[c] + n
      each[status] = (each[status] or 0) + n
    end
  end
  io.write(string.format("STATUS 2xx=%d 3xx=%d 4xx=%d 5xx=%d\n", t[2], t[3], t[4], t[5]))
  local parts = {}
  for status, n in pairs(each) do table.insert(parts, status .. ":" .. n) end
  table.sort(parts)
  io.write("EACH " .. table.concat(parts, " ") .. "\n")
  io.write(string.format("LATENCY p50=%.2fms p99=%.2fms max=%.2fms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dirdav", required=True)
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("-n", type=int, default=2000, help="events and cards loaded first")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as work:
        srv = compare.Dirdav(work, args.dirdav)
        srv.create()
        srv.start()
        try:
            srv.wait()
            compare.request(srv.port, "MKCOL", srv.home)
            assert compare.request(srv.port, "MKCALENDAR", srv.cal, compare.MKCALENDAR)[0] == 201
            assert compare.request(srv.port, "MKCOL", srv.book, compare.MKBOOK)[0] == 201
            compare.put_all(srv, [(i, compare.event(i)) for i in range(args.n)], 8, "cal")
            compare.put_all(srv, [(i, compare.card(i)) for i in range(args.n)], 8, "book")
            _, _, body = compare.request(srv.port, "REPORT", srv.cal, compare.sync_body(None), {"Depth": "1"})
            token = compare.token_of(body)
            rnd = random.Random(3)
            multiget = compare.multiget("cal", [f"{srv.cal}{i:06d}.ics" for i in rnd.sample(range(args.n), 20)])

            files = {}
            for name, text in [("event", compare.event(0)), ("lua", LUA)]:
                files[name] = os.path.join(work, name)
                with open(files[name], "w", newline="") as f:
                    f.write(text)

            samples, stop = [], threading.Event()

            def sample():
                start = time.monotonic()
                while not stop.is_set():
                    samples.append((time.monotonic() - start, srv.rss_mib(), fds(srv.proc.pid)))
                    stop.wait(5)

            before = (srv.rss_mib(), fds(srv.proc.pid))
            sampler = threading.Thread(target=sample)
            sampler.start()
            cmd = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--timeout", "30s",
                   "-s", files["lua"], f"http://127.0.0.1:{srv.port}/", "--",
                   "1", str(args.n), srv.cal, srv.book, files["event"], compare.PROPFIND_ETAG,
                   compare.sync_body(token), compare.MONTH_QUERY, compare.FN_QUERY, multiget]
            out = subprocess.run(cmd, capture_output=True, text=True)
            stop.set()
            sampler.join()
            time.sleep(1)
            after = (srv.rss_mib(), fds(srv.proc.pid))
        finally:
            srv.stop()

    print(out.stdout)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        return 1
    status = dict(kv.split("=") for kv in next(l for l in out.stdout.splitlines() if l.startswith("STATUS")).split()[1:])
    rps = next((l.split()[1] for l in out.stdout.splitlines() if l.startswith("Requests/sec")), "?")
    warm = next((s for s in samples if s[0] >= 60), samples[min(len(samples) - 1, 1)])
    peak_rss = max(s[1] for s in samples)
    print(f"| {args.seconds} s, {args.connections} connections, {args.n} events + {args.n} cards | value |")
    print("|---|---|")
    print(f"| requests/s | {rps} |")
    print(f"| 2xx / 4xx / 5xx | {status['2xx']} / {status['4xx']} / {status['5xx']} |")
    print(f"| RSS before / after 1 min / peak / end (MiB) | {before[0]:.1f} / {warm[1]:.1f} / {peak_rss:.1f} / {after[0]:.1f} |")
    print(f"| open fds before / after 1 min / peak during / end | {before[1]} / {warm[2]} / {max(s[2] for s in samples)} / {after[1]} |")
    minutes = [s for s in samples if s[0] % 60 < 5]
    print("| minute | " + " | ".join(f"{int(s[0] // 60)}" for s in minutes) + " |")
    print("|---|" + "---:|" * len(minutes))
    print("| RSS (MiB) | " + " | ".join(f"{s[1]:.1f}" for s in minutes) + " |")
    print("| open fds | " + " | ".join(f"{s[2]}" for s in minutes) + " |")
    failures = []
    if int(status["5xx"]) > 0:
        failures.append(f"{status['5xx']} answers were 5xx")
    if after[1] > before[1] + 4:
        failures.append(f"file descriptors grew from {before[1]} to {after[1]} once the load stopped")
    if after[0] > warm[1] * 1.25:
        failures.append(f"memory grew from {warm[1]:.1f} MiB at one minute to {after[0]:.1f} MiB")
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
