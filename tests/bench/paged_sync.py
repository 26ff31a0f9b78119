"""A sync-collection from scratch, paged with DAV:limit, followed to its end: two dirdav
builds side by side on the same tree (ab.py's, with bench/cal/ of 10,000 events),
medians of 5 walks at 100 and 1,000 results a page.

    tests/bench/paged_sync.py OLD_BINARY NEW_BINARY TREE
"""
import subprocess, tempfile, time, urllib.request, re, statistics, sys
def start(b, port):
    st = tempfile.mkdtemp()
    p = subprocess.Popen([b, "serve", "--root", sys.argv[3], "--state-dir", st, "--watch", "off", "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
    time.sleep(3); return p
def walk(port, n):
    token = ""; pages = 0; t = time.perf_counter()
    while True:
        body = f'<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:limit><d:nresults>{n}</d:nresults></d:limit><d:prop><d:getetag/></d:prop></d:sync-collection>'
        r = urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/bench/cal/", data=body.encode(), method="REPORT", headers={"Depth": "1"})).read().decode()
        pages += 1
        token = re.search(r"<d:sync-token>([^<]*)</d:sync-token>", r).group(1)
        if "507" not in r: break
    return time.perf_counter() - t, pages
a = start(sys.argv[1], 8791); b = start(sys.argv[2], 8792)
for n in (100, 1000):
    ta, tb = [], []
    for _ in range(5):
        x, pa = walk(8791, n); ta.append(x); y, pb = walk(8792, n); tb.append(y)
    print(f"limit {n}: {pa} pages, old {statistics.median(ta)*1000:.0f} ms, new {statistics.median(tb)*1000:.0f} ms ({pb} pages)")
a.kill(); b.kill()
