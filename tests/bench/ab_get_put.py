#!/usr/bin/env python3
"""Two dirdav builds side by side on the same tree, taken in turn: GET of one event
under `wrk -t2 -c16` for 5 s (requests per second), and 300 keep-alive PUTs replacing
one event of its calendar (median milliseconds).

    tests/bench/ab_get_put.py OLD_BINARY NEW_BINARY TREE ROUNDS

TREE is one ab.py makes (`bench/cal/` with 10,000 events).
"""
import http.client, os, re, shutil, statistics, subprocess, sys, tempfile, time
old, new, tree, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
work = tempfile.mkdtemp()
ports, procs = {}, {}
for name, binary in (("old", old), ("new", new)):
    log = open(f"{work}/{name}.log", "w")
    p = subprocess.Popen([binary, "serve", "--root", tree, "--listen", "127.0.0.1:0", "--state-dir", f"{work}/{name}-state", "--watch", "off"], stderr=log)
    procs[name] = p
    for _ in range(600):
        text = open(f"{work}/{name}.log").read()
        m = re.search(r"127\.0\.0\.1:(\d+)", text)
        if m and "serving" in text.lower() or (m and "listening" in text.lower()):
            ports[name] = int(m.group(1)); break
        time.sleep(0.1)
    else:
        sys.exit(f"{name} did not start: {text}")
item = "/bench/cal/000042.ics"
body = open(f"{tree}/bench/cal/000042.ics", "rb").read()
def get_rps(port):
    out = subprocess.run(["wrk", "-t2", "-c16", "-d5s", f"http://127.0.0.1:{port}{item}"], capture_output=True, text=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
def put_ms(port, n=300):
    c = http.client.HTTPConnection("127.0.0.1", port)
    times = []
    for i in range(n):
        b = re.sub(rb"UID:[^\r\n]*", b"UID:ab-bench-%d" % port, body, count=1).replace(b"SUMMARY:", b"SUMMARY:%d " % i, 1)
        t = time.perf_counter()
        c.request("PUT", f"/bench/cal/ab-{port}.ics", body=b, headers={"Content-Type": "text/calendar"})
        r = c.getresponse(); r.read()
        times.append((time.perf_counter() - t) * 1000)
        assert r.status in (201, 204), r.status
    return statistics.median(times)
res = {"old": {"get": [], "put": []}, "new": {"get": [], "put": []}}
for r in range(rounds):
    order = ("old", "new") if r % 2 == 0 else ("new", "old")
    for name in order:
        res[name]["get"].append(get_rps(ports[name]))
        res[name]["put"].append(put_ms(ports[name]))
for name in ("old", "new"):
    g, p = res[name]["get"], res[name]["put"]
    print(f"{name}: GET {statistics.median(g):.0f} req/s (min {min(g):.0f}, max {max(g):.0f}); PUT replace p50 {statistics.median(p):.3f} ms (min {min(p):.3f}, max {max(p):.3f})")
for p in procs.values(): p.terminate()
