#!/usr/bin/env python3
"""PUT alone, two dirdav builds side by side on the same tree: ROUNDS rounds of 500
keep-alive PUTs replacing one event, the two builds taking turns and the order
swapped every round (median milliseconds per round, and the median of those).

    tests/bench/ab_put.py OLD_BINARY NEW_BINARY TREE ROUNDS

TREE is one ab.py makes (`bench/cal/` with 10,000 events).
"""
import http.client, re, statistics, subprocess, sys, tempfile, time, os
old_bin, new_bin, tree, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
work=tempfile.mkdtemp()
ports={}; procs={}
for i,(name,b) in enumerate((("old",old_bin),("new",new_bin))):
    port=18201+i
    procs[name]=subprocess.Popen([b,"serve","--root",tree,"--listen",f"127.0.0.1:{port}","--state-dir",f"{work}/{name}","--watch","off"],stderr=open(f"{work}/{name}.log","w"))
    ports[name]=port
time.sleep(10)
body=open(f"{tree}/bench/cal/000042.ics","rb").read()
def run(port,n=500):
    c=http.client.HTTPConnection("127.0.0.1",port); ts=[]
    for i in range(n):
        b=re.sub(rb"UID:[^\r\n]*",b"UID:putab-%d"%port,body,count=1).replace(b"SUMMARY:",b"SUMMARY:%d "%i,1)
        t=time.perf_counter(); c.request("PUT",f"/bench/cal/putab-{port}.ics",body=b,headers={"Content-Type":"text/calendar"}); r=c.getresponse(); r.read(); ts.append((time.perf_counter()-t)*1000)
    return statistics.median(ts)
res={"old":[],"new":[]}
for r in range(rounds):
    order=("old","new") if r%2==0 else ("new","old")
    for name in order: res[name].append(run(ports[name]))
for name in ("old","new"): print(name, "p50 of medians %.3f"%statistics.median(res[name]), ["%.3f"%x for x in res[name]])
for p in procs.values(): p.terminate()
