"""vdirsyncer syncs an address book both ways with a running dirdav.

Usage: vdirsyncer_roundtrip.py BASE_URL VDIRSYNCER WORKDIR
Creates, modifies and deletes cards on each side between syncs; both sides must end
equal, card for card. Prints "vdirsyncer: N passed, 0 failed".
"""
import base64
import os
import subprocess
import sys
import urllib.request

base, vdirsyncer, work = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
book = base + "/alice/contacts/"
local = os.path.join(work, "contacts")
os.makedirs(local, exist_ok=True)
os.makedirs(os.path.join(work, "status"), exist_ok=True)
config = os.path.join(work, "config")
with open(config, "w") as f:
    f.write(f"""[general]
status_path = "{work}/status/"
[pair contacts]
a = "local"
b = "remote"
collections = null
conflict_resolution = "b wins"
[storage local]
type = "filesystem"
path = "{local}/"
fileext = ".vcf"
[storage remote]
type = "carddav"
url = "{book}"
username = "alice"
password = "wonderland"
""")
auth = "Basic " + base64.b64encode(b"alice:wonderland").decode()
passed = 0


def check(what, ok, detail=""):
    global passed
    if not ok:
        print(f"FAILED: {what} {detail}")
        sys.exit(1)
    passed += 1
    print(f"ok: {what}")


def http(method, url, body=None):
    req = urllib.request.Request(url, data=body.encode() if body else None, method=method,
                                 headers={"Authorization": auth, "Content-Type": "text/vcard"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def sync():
    out = subprocess.run([vdirsyncer, "-c", config, "sync"], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stdout, out.stderr)
    return out.returncode == 0


def uid_of(text):
    for line in text.splitlines():
        if line.upper().startswith("UID:"):
            return line[4:].strip()


def server_cards():
    status, text = http("GET", book)
    cards = {}
    for chunk in text.split("BEGIN:VCARD")[1:]:
        card = "BEGIN:VCARD" + chunk
        cards[uid_of(card)] = card.strip()
    return cards


def local_cards():
    cards = {}
    for name in os.listdir(local):
        with open(os.path.join(local, name), newline="") as f:
            text = f.read()
        cards[uid_of(text)] = text.strip()
    return cards


def card(uid, name):
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEND:VCARD\r\n"


subprocess.run([vdirsyncer, "-c", config, "discover", "contacts"], input="y\n", capture_output=True, text=True)
check("first sync", sync())
check("every server card is local", set(local_cards()) == set(server_cards()) and len(local_cards()) == 13)

# Local side: create, modify, delete.
with open(os.path.join(local, "made-locally.vcf"), "w", newline="") as f:
    f.write(card("made-locally", "Made Locally"))
victim = sorted(os.listdir(local))[0]
os.remove(os.path.join(local, victim))
changed = sorted(os.listdir(local))[1]
path = os.path.join(local, changed)
with open(path, newline="") as f:
    text = f.read()
with open(path, "w", newline="") as f:
    f.write(text.replace("END:VCARD", "NOTE:edited locally\r\nEND:VCARD"))
check("sync local changes up", sync())
server = server_cards()
check("local creation reached the server", "made-locally" in server)
check("local edit reached the server", any("edited locally" in c for c in server.values()))
check("local deletion reached the server", len(server) == 13)

# Server side: create, modify, delete.
status, _ = http("PUT", book + "made-on-server.vcf", card("made-on-server", "Made On Server"))
check("PUT on the server", status == 201, status)
status, _ = http("PUT", book + "made-on-server.vcf", card("made-on-server", "Made On Server, edited"))
check("edit on the server", status == 204, status)
status, _ = http("DELETE", book + "made-locally.vcf")
status_local = [n for n in os.listdir(local) if "made-locally" in n]
check("DELETE on the server", status in (204, 404))
check("sync server changes down", sync())
check("both sides are equal, card for card", local_cards() == server_cards(),
      sorted(set(local_cards()) ^ set(server_cards())))
check("server edit reached the local side", any("edited" in c and "Made On Server" in c for c in local_cards().values()))

print(f"vdirsyncer: {passed} passed, 0 failed")
