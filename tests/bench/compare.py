#!/usr/bin/env python3
"""dirdav beside Radicale and Xandikos: the same data, the same requests, one run.

Started by tests/bench/compare.sh, which builds dirdav and installs the other two in a
virtualenv. Each server gets a fresh folder on 127.0.0.1, is filled with the same
deterministic events and cards, and is asked the same questions; the medians go into a
Markdown table with dirdav's ratio to the faster of the other two.

    compare.py --dirdav BIN --bare BIN --venv DIR [--wrk] N [N ...]
"""

import argparse
import http.client
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

CALDAV = "urn:ietf:params:xml:ns:caldav"
CARDDAV = "urn:ietf:params:xml:ns:carddav"
AUTH = "Basic YmVuY2g6YmVuY2g="  # bench:bench; dirdav without htpasswd ignores it


# --- data -------------------------------------------------------------------------

def event(i):
    """A deterministic mix: timed, all-day, weekly with an exception and an override,
    with an alarm and attendees; spread over 2026."""
    day = 1 + (i * 7) % 365
    month, mday = month_day(day)
    start = f"2026{month:02d}{mday:02d}T{8 + i % 10:02d}0000Z"
    kind = i % 20
    head = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//dirdav bench//EN\r\n")
    common = f"UID:bench-{i}\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Event {i} with a realistic title\r\n"
    if kind < 12:
        body = f"BEGIN:VEVENT\r\n{common}DTSTART:{start}\r\nDURATION:PT1H\r\nLOCATION:Room {i % 7}\r\nEND:VEVENT\r\n"
    elif kind < 15:
        body = (f"BEGIN:VEVENT\r\n{common}DTSTART;VALUE=DATE:2026{month:02d}{mday:02d}\r\n"
                f"DURATION:P1D\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n")
    elif kind < 18:
        later = start.replace("T", "T").split("T")
        ex = f"{later[0]}T{later[1]}"
        body = (f"BEGIN:VEVENT\r\n{common}DTSTART:{start}\r\nDURATION:PT30M\r\n"
                f"RRULE:FREQ=WEEKLY;COUNT=10\r\nEXDATE:{shift(ex, 14)}\r\nEND:VEVENT\r\n"
                f"BEGIN:VEVENT\r\nUID:bench-{i}\r\nDTSTAMP:20260101T000000Z\r\n"
                f"RECURRENCE-ID:{shift(ex, 7)}\r\nDTSTART:{shift(ex, 8)}\r\nDURATION:PT30M\r\n"
                f"SUMMARY:Event {i} moved\r\nEND:VEVENT\r\n")
    else:
        body = (f"BEGIN:VEVENT\r\n{common}DTSTART:{start}\r\nDURATION:PT1H\r\n"
                f"ORGANIZER:mailto:alice@example.com\r\n"
                f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n"
                f"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:carol@example.com\r\n"
                f"BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n"
                f"END:VEVENT\r\n")
    return head + body + "END:VCALENDAR\r\n"


def month_day(day):
    lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    for m, n in enumerate(lengths, 1):
        if day <= n:
            return m, day
        day -= n
    return 12, 31


def shift(stamp, days):
    t = time.strptime(stamp, "%Y%m%dT%H%M%SZ")
    s = time.mktime(t) + days * 86400
    return time.strftime("%Y%m%dT%H%M%SZ", time.localtime(s))


NAMES = ["Anna", "Ben", "Carla", "Dieter", "Eva", "Farid", "Greta", "Hannah", "Ivan", "Jana"]


def card(i):
    first, last = NAMES[i % 10], f"Example{i}"
    if i % 2:
        return (f"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:card-{i}\r\nFN:{first} {last}\r\n"
                f"N:{last};{first};;;\r\nEMAIL;TYPE=work:{first.lower()}.{i}@example.com\r\n"
                f"TEL;TYPE=cell:+49 30 {i:07d}\r\nORG:Company {i % 50}\r\nEND:VCARD\r\n")
    return (f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-{i}\r\nFN:{first} {last}\r\n"
            f"N:{last};{first};;;\r\nEMAIL;TYPE=INTERNET:{first.lower()}.{i}@example.com\r\n"
            f"TEL;TYPE=CELL:+49 30 {i:07d}\r\nEND:VCARD\r\n")


# --- servers ----------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server under test: how to start it and where its collections are."""

    def __init__(self, name, work):
        self.name, self.work, self.proc = name, work, None
        self.port = free_port()

    def wait(self, timeout=120):
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                status, _, _ = request(self.port, "PROPFIND", self.home, PROPFIND_ETAG, {"Depth": "0"})
                if status in (207, 404):
                    return time.monotonic() - start
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.proc.returncode}")
            time.sleep(0.01)
        raise RuntimeError(f"{self.name} did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rss_mib(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None


class Dirdav(Server):
    def __init__(self, work, binary):
        super().__init__("dirdav", work)
        self.binary = binary
        self.home, self.cal, self.book = "/bench/", "/bench/cal/", "/bench/book/"

    def start(self, cold=False):
        if cold:
            shutil.rmtree(f"{self.work}/state", ignore_errors=True)
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--root", f"{self.work}/tree", "--state-dir", f"{self.work}/state",
             "--listen", f"127.0.0.1:{self.port}"],
            stderr=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "warn"})

    def create(self):
        os.makedirs(f"{self.work}/tree", exist_ok=True)

    def fill(self, events, cards):
        write_items(f"{self.work}/tree{self.cal}", events, "ics")
        write_items(f"{self.work}/tree{self.book}", cards, "vcf")


class Radicale(Server):
    def __init__(self, work, venv):
        super().__init__("Radicale", work)
        self.venv = venv
        self.home, self.cal, self.book = "/bench/", "/bench/cal/", "/bench/book/"

    def start(self, cold=False):
        if cold:
            shutil.rmtree(f"{self.work}/store/.Radicale.cache", ignore_errors=True)
        self.proc = subprocess.Popen(
            [f"{self.venv}/bin/python", "-m", "radicale", "--server-hosts", f"127.0.0.1:{self.port}",
             "--storage-filesystem-folder", f"{self.work}/store", "--auth-type", "none",
             "--logging-level", "error"],
            stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    def create(self):
        pass

    def fill(self, events, cards):
        root = f"{self.work}/store/collection-root"
        write_items(f"{root}{self.cal}", events, "ics")
        write_items(f"{root}{self.book}", cards, "vcf")


class Xandikos(Server):
    def __init__(self, work, venv):
        super().__init__("Xandikos", work)
        self.venv = venv
        self.home = "/bench/"
        self.cal, self.book = "/bench/calendars/calendar/", "/bench/contacts/addressbook/"

    def start(self, cold=False):
        self.proc = subprocess.Popen(
            [f"{self.venv}/bin/xandikos", "serve", "-d", f"{self.work}/store", "--defaults",
             "--current-user-principal", "/bench/", "-l", "127.0.0.1", "-p", str(self.port),
             "--state-dir", f"{self.work}/xstate", "--no-detect-systemd"],
            stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    def create(self):
        pass

    def fill(self, events, cards):
        # Each collection is a Git repository with a work tree: Xandikos serves what is
        # committed, so the files are added and committed in one commit per collection.
        for path, items, ext in ((self.cal, events, "ics"), (self.book, cards, "vcf")):
            repo = f"{self.work}/store{path}"
            write_items(repo, items, ext)
            git = ["git", "-C", repo, "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
            subprocess.run(git + ["add", "-A"], check=True)
            subprocess.run(git + ["commit", "-q", "-m", "fill"], check=True)


def rss_mib(pid):
    """The resident set of a process, in MiB."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def write_items(folder, items, ext):
    """Writes (index, body) pairs as files, named as the PUTs name them."""
    if not os.path.isdir(folder):
        raise RuntimeError(f"no collection folder at {folder}")
    for i, body in items:
        with open(f"{folder}/{i:06d}.{ext}", "w", newline="") as f:
            f.write(body)


# --- HTTP -------------------------------------------------------------------------

_local = threading.local()


def request(port, method, path, body="", headers=None):
    """One request on this thread's keep-alive connection: (status, headers, body)."""
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    for attempt in (0, 1):
        conn = conns.get(port)
        if conn is None:
            conn = conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            h = {"Authorization": AUTH, "Content-Type": "application/xml; charset=utf-8"}
            h.update(headers or {})
            conn.request(method, path, body=body.encode() if isinstance(body, str) else body, headers=h)
            r = conn.getresponse()
            data = r.read()
            return r.status, r.headers, data.decode("utf-8", "replace")
        except (http.client.HTTPException, OSError):
            conn.close()
            conns.pop(port, None)
            if attempt:
                raise


PROPFIND_ETAG = '<propfind xmlns="DAV:"><prop><getetag/><resourcetype/></prop></propfind>'
MKCALENDAR = ('<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
              '<D:displayname>Bench</D:displayname></D:prop></D:set></C:mkcalendar>')
MKBOOK = ('<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>'
          '<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>'
          '<D:displayname>Bench</D:displayname></D:prop></D:set></D:mkcol>')


def multiget(kind, hrefs):
    ns, root, data = (CALDAV, "calendar-multiget", "calendar-data") if kind == "cal" else (
        CARDDAV, "addressbook-multiget", "address-data")
    return (f'<C:{root} xmlns:D="DAV:" xmlns:C="{ns}"><D:prop><D:getetag/><C:{data}/></D:prop>'
            + "".join(f"<D:href>{h}</D:href>" for h in hrefs) + f"</C:{root}>")


MONTH_QUERY = ('<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
               '<D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR">'
               '<C:comp-filter name="VEVENT"><C:time-range start="20260601T000000Z" '
               'end="20260701T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>')
FN_QUERY = ('<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
            '<D:prop><D:getetag/></D:prop><C:filter><C:prop-filter name="FN">'
            '<C:text-match collation="i;unicode-casemap" match-type="contains">anna</C:text-match>'
            '</C:prop-filter></C:filter></C:addressbook-query>')


def sync_body(token):
    return ('<sync-collection xmlns="DAV:"><sync-token>' + (token or "") +
            '</sync-token><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>')


def token_of(body):
    start = body.find("sync-token>")
    if start < 0:
        return None
    start += len("sync-token>")
    return body[start:body.find("<", start)]


def responses(body):
    return body.count("<D:response>") + body.count("<d:response>") + body.count("<ns0:response>") \
        + body.count("<response>")


# --- measurements -----------------------------------------------------------------

class OverBudget(Exception):
    """A server used up its time budget; its remaining measures are left blank."""


# When the current server's budget runs out (time.monotonic()), set by `measure`.
_deadline = None


def check_budget():
    if _deadline is not None and time.monotonic() > _deadline:
        raise OverBudget()


def timed(f, runs=7):
    check_budget()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def put_all(srv, items, concurrency, kind):
    """PUTs (index, body) pairs; returns (items/s, p50 ms, p99 ms)."""
    base = srv.cal if kind == "cal" else srv.book
    ctype = "text/calendar; charset=utf-8" if kind == "cal" else "text/vcard; charset=utf-8"
    ext = "ics" if kind == "cal" else "vcf"
    latencies, lock, queue = [], threading.Lock(), list(items)
    deadline = _deadline or float("inf")

    def worker():
        while True:
            with lock:
                if not queue or time.monotonic() > deadline:
                    return
                i, body = queue.pop()
            t = time.perf_counter()
            status, _, text = request(srv.port, "PUT", f"{base}{i:06d}.{ext}", body, {"Content-Type": ctype})
            if status not in (201, 204):
                raise RuntimeError(f"{srv.name} PUT {i}: {status} {text[:200]}")
            with lock:
                latencies.append((time.perf_counter() - t) * 1000)

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if queue:
        raise OverBudget(f"PUT {kind} c={concurrency}: {len(latencies)} of {len(items)} stored")
    latencies.sort()
    if not latencies:
        return (0, 0, 0)
    return (len(latencies) / elapsed, latencies[len(latencies) // 2],
            latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))])


def sync_cycles(srv, seconds=5, clients=16):
    """16 clients each: PROPFIND Depth 1 of the home, sync-collection from its last
    token, multiget of what changed; one writer changes an item every 100 ms."""
    check_budget()
    stop, counts = time.monotonic() + seconds, [0] * clients

    def client(k):
        _, _, body = request(srv.port, "REPORT", srv.cal, sync_body(None), {"Depth": "1"})
        token = token_of(body)
        while time.monotonic() < stop:
            request(srv.port, "PROPFIND", srv.home, PROPFIND_ETAG, {"Depth": "1"})
            status, _, body = request(srv.port, "REPORT", srv.cal, sync_body(token), {"Depth": "1"})
            token = token_of(body) or token
            changed = [h for h in hrefs_in(body) if h.endswith(".ics")]
            if changed:
                request(srv.port, "REPORT", srv.cal, multiget("cal", changed), {"Depth": "1"})
            counts[k] += 1

    def writer():
        i = 0
        while time.monotonic() < stop:
            request(srv.port, "PUT", f"{srv.cal}{i % 50:06d}.ics", event(i % 50).replace("realistic", f"changed {i}"),
                    {"Content-Type": "text/calendar; charset=utf-8"})
            i += 1
            time.sleep(0.1)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    threads.append(threading.Thread(target=writer))
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - start)


def hrefs_in(body):
    out, pos = [], 0
    while True:
        start = body.find("href>", pos)
        if start < 0:
            return out
        start += len("href>")
        end = body.find("<", start)
        out.append(body[start:end])
        pos = end


def wrk(port, path, seconds=5):
    """GET throughput and latency under wrk: (requests/s, p50 ms, p99 ms)."""
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency",
                          "-H", f"Authorization: {AUTH}", f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True).stdout
    rps = p50 = p99 = None
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(parts[1])
        elif len(parts) == 2 and parts[0] in ("50%", "99%"):
            v = parts[1]
            ms = float(v[:-2]) if v.endswith("ms") else float(v[:-2]) / 1000 if v.endswith("us") else float(v[:-1]) * 1000
            if parts[0] == "50%":
                p50 = ms
            else:
                p99 = ms
    return rps, p50, p99


def measure(srv, n, use_wrk, budget, puts):
    """Runs every measure on one server; a server that goes past `budget` seconds keeps
    what it measured so far and the rest is left blank (with the reason) in the table."""
    global _deadline
    r = {}
    _deadline = time.monotonic() + budget
    try:
        measure_steps(srv, n, use_wrk, r, puts)
    except OverBudget as e:
        where = str(e) or f"the measure after {list(r)[-1]}"
        r["over budget"] = f"stopped after {budget:.0f} s at {where}"
    finally:
        _deadline = None
    return r


def measure_steps(srv, n, use_wrk, r, puts):
    srv.create()
    srv.start()
    srv.wait()
    if srv.name != "Xandikos":
        request(srv.port, "MKCOL", srv.home)
        s, _, b = request(srv.port, "MKCALENDAR", srv.cal, MKCALENDAR)
        assert s == 201, f"{srv.name} MKCALENDAR {s} {b[:300]}"
        s, _, b = request(srv.port, "MKCOL", srv.book, MKBOOK)
        assert s == 201, f"{srv.name} MKCOL addressbook {s} {b[:300]}"
    events = [(i, event(i)) for i in range(n)]
    cards = [(i, card(i)) for i in range(n)]
    puts = min(n, puts)
    if puts < n:
        # Items past the first `puts` go straight into the server's own storage while
        # it is stopped, so the PUTs below land in a collection of nearly N items.
        srv.stop()
        srv.fill(events[puts:], cards[puts:])
        srv.start()
        srv.wait()
        _local.conns = {}
        for path in (srv.cal, srv.book):
            status, _, _ = request(srv.port, "PROPFIND", path, PROPFIND_ETAG, {"Depth": "1"})
            assert status == 207, f"{srv.name} listing after the fill: {status}"
    one = max(1, puts // 4)
    r["PUT c=1 (items/s)"], r["PUT c=1 p50 (ms)"], r["PUT c=1 p99 (ms)"] = put_all(srv, events[:one], 1, "cal")
    r["PUT c=8 (items/s)"], r["PUT c=8 p50 (ms)"], r["PUT c=8 p99 (ms)"] = put_all(srv, events[one:puts], 8, "cal")
    put_all(srv, cards[:puts], 8, "book")
    depth1 = {"Depth": "1"}
    r["PROPFIND Depth 1 (ms)"] = timed(lambda: request(srv.port, "PROPFIND", srv.cal, PROPFIND_ETAG, depth1), 5)
    rnd = random.Random(7)
    cal_hrefs = [f"{srv.cal}{i:06d}.ics" for i in rnd.sample(range(n), min(100, n))]
    book_hrefs = [f"{srv.book}{i:06d}.vcf" for i in rnd.sample(range(n), min(100, n))]
    r["calendar-multiget 100 (ms)"] = timed(lambda: request(srv.port, "REPORT", srv.cal, multiget("cal", cal_hrefs), depth1))
    _, _, body = request(srv.port, "REPORT", srv.cal, MONTH_QUERY, depth1)
    r["calendar-query one month: matches"] = responses(body)
    r["calendar-query one month (ms)"] = timed(lambda: request(srv.port, "REPORT", srv.cal, MONTH_QUERY, depth1))
    r["sync-collection initial (ms)"] = timed(lambda: request(srv.port, "REPORT", srv.cal, sync_body(None), depth1), 5)
    check_budget()
    times = []
    for k in range(7):
        _, _, body = request(srv.port, "REPORT", srv.cal, sync_body(None), depth1)
        token = token_of(body)
        request(srv.port, "PUT", f"{srv.cal}{k:06d}.ics", event(k).replace("realistic", f"edited {k}"),
                {"Content-Type": "text/calendar; charset=utf-8"})
        t = time.perf_counter()
        _, _, body = request(srv.port, "REPORT", srv.cal, sync_body(token), depth1)
        times.append((time.perf_counter() - t) * 1000)
        assert f"{k:06d}.ics" in body, f"{srv.name}: the change is not in the sync answer"
    r["sync-collection after one change (ms)"] = statistics.median(times)
    _, _, body = request(srv.port, "REPORT", srv.book, FN_QUERY, depth1)
    r["addressbook-query FN contains: matches"] = responses(body)
    r["addressbook-query FN contains (ms)"] = timed(lambda: request(srv.port, "REPORT", srv.book, FN_QUERY, depth1))
    r["addressbook-multiget 100 (ms)"] = timed(lambda: request(srv.port, "REPORT", srv.book, multiget("book", book_hrefs), depth1))
    r["16-client sync cycle (cycles/s)"] = sync_cycles(srv)
    if use_wrk:
        r["GET under wrk (req/s)"], r["GET p50 (ms)"], r["GET p99 (ms)"] = wrk(srv.port, f"{srv.cal}{n - 1:06d}.ics")
    r["RSS after the run (MiB)"] = srv.rss_mib()
    srv.stop()
    _local.conns = {}
    srv.start()
    r["start-up to first listing, warm (s)"] = wait_listing(srv)
    srv.stop()
    srv.start(cold=True)
    r["start-up to first listing, cold (s)"] = wait_listing(srv)
    srv.stop()


def wait_listing(srv):
    check_budget()
    start = time.monotonic()
    while time.monotonic() - start < 600:
        try:
            status, _, _ = request(srv.port, "PROPFIND", srv.cal, PROPFIND_ETAG, {"Depth": "1"})
            if status == 207:
                return time.monotonic() - start
        except OSError:
            _local.conns = {}
        time.sleep(0.005)
    return None


LOWER_IS_BETTER = ("(ms)", "(s)", "(MiB)")


def fmt(v):
    if v is None:
        return "—"
    if isinstance(v, int):
        return str(v)
    return f"{v:,.0f}" if v >= 100 else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def table(n, results, bare):
    names = list(results)
    print(f"\n### N = {n:,}\n")
    print("| measure | " + " | ".join(names) + " | dirdav vs the faster anchor |")
    print("|---|" + "---:|" * (len(names) + 1))
    keys = [k for s in names for k in results[s] if k != "over budget"]
    for key in dict.fromkeys(keys):
        row = [results[s].get(key) for s in names]
        ratio = ""
        anchors = [v for s, v in zip(names, row) if s != "dirdav" and isinstance(v, (int, float)) and v]
        d = results.get("dirdav", {}).get(key)
        if "matches" in key:
            measured = [v for v in row if v is not None]
            ratio = "" if len(measured) < 2 else "same" if len(set(measured)) == 1 else "DIFFER"
        elif anchors and isinstance(d, (int, float)) and d:
            if key.endswith(LOWER_IS_BETTER):
                ratio = f"{min(anchors) / d:.1f}× faster" if key.endswith(("(ms)", "(s)")) else f"{min(anchors) / d:.1f}× less"
            else:
                ratio = f"{d / max(anchors):.1f}× more"
        print(f"| {key} | " + " | ".join(fmt(v) for v in row) + f" | {ratio} |")
    for s in names:
        if "over budget" in results[s]:
            print(f"\n{s} went past its time budget and was stopped: {results[s]['over budget']}; "
                  "its blank cells were not measured.")
    if bare:
        d = results.get("dirdav", {}).get("GET under wrk (req/s)")
        print(f"\nThe bare axum server (same bytes from memory) under the same wrk: {bare:,.0f} req/s;"
              + (f" dirdav's GET is {100 * d / bare:.0f}% of it." if d else ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dirdav", required=True)
    ap.add_argument("--bare")
    ap.add_argument("--venv", required=True)
    ap.add_argument("--wrk", action="store_true")
    ap.add_argument("--budget", type=float, default=1800,
                    help="seconds each server may take for one N before its remaining measures are skipped")
    ap.add_argument("--puts", type=int, default=1000,
                    help="items of each kind stored by PUT; the rest of N is written to the server's storage first")
    ap.add_argument("--only", help="comma-separated servers to run (dirdav,Radicale,Xandikos)")
    ap.add_argument("sizes", nargs="*", type=int, default=[1000, 10000])
    args = ap.parse_args()
    for n in args.sizes:
        results = {}
        with tempfile.TemporaryDirectory() as work:
            servers = [Dirdav(f"{work}/dirdav", args.dirdav), Radicale(f"{work}/radicale", args.venv),
                       Xandikos(f"{work}/xandikos", args.venv)]
            for srv in servers:
                if args.only and srv.name not in args.only.split(","):
                    continue
                os.makedirs(srv.work, exist_ok=True)
                print(f"N={n}: {srv.name} ...", file=sys.stderr, flush=True)
                t = time.monotonic()
                try:
                    results[srv.name] = measure(srv, n, args.wrk, args.budget, args.puts)
                finally:
                    srv.stop()
                print(f"  done in {time.monotonic() - t:.0f} s", file=sys.stderr, flush=True)
            bare = None
            if args.wrk and args.bare:
                port = free_port()
                path = f"{work}/event.ics"
                with open(path, "w") as f:
                    f.write(event(n - 1))
                proc = subprocess.Popen([args.bare, path, str(port)])
                time.sleep(0.5)
                bare = wrk(port, "/x.ics")[0]
                proc.terminate()
                proc.wait()
        table(n, results, bare)


if __name__ == "__main__":
    main()
