"""vdirsyncer syncs an address book both ways with a running dirdav.

Usage: vdirsyncer_roundtrip.py BASE_URL VDIRSYNCER WORKDIR
Creates, modifies and deletes cards on each side between syncs; both sides must end
equal, card for card. Then alice gets a second book, and vdirsyncer syncs the merged
book `/alice/all-contacts/` the same way: each change lands in the card's own book.
Last, it syncs the birthdays calendar `/alice/birthdays/` read-only, as cards come and
go on the server.
Prints "vdirsyncer: N passed, 0 failed".
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


def http(method, url, body=None, content_type="text/vcard"):
    req = urllib.request.Request(url, data=body.encode() if body else None, method=method,
                                 headers={"Authorization": auth, "Content-Type": content_type})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def sync(pair="contacts"):
    out = subprocess.run([vdirsyncer, "-c", config, "sync", pair], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stdout, out.stderr)
    return out.returncode == 0


def uid_of(text):
    for line in text.splitlines():
        if line.upper().startswith("UID:"):
            return line[4:].strip()


def server_cards(book=book):
    status, text = http("GET", book)
    cards = {}
    for chunk in text.split("BEGIN:VCARD")[1:]:
        card = "BEGIN:VCARD" + chunk
        cards[uid_of(card)] = card.strip()
    return cards


def local_cards(local=local):
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

# The merged book: alice gets a second address book, and syncs both as one.
merged = base + "/alice/all-contacts/"
work_book = base + "/alice/work/"
merged_local = os.path.join(work, "all-contacts")
os.makedirs(merged_local, exist_ok=True)
with open(config, "a") as f:
    f.write(f"""
[pair merged]
a = "merged_local"
b = "merged_remote"
collections = null
conflict_resolution = "b wins"
[storage merged_local]
type = "filesystem"
path = "{merged_local}/"
fileext = ".vcf"
[storage merged_remote]
type = "carddav"
url = "{merged}"
username = "alice"
password = "wonderland"
""")
status, _ = http("MKCOL", work_book, '<d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">'
                 '<d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype>'
                 '</d:prop></d:set></d:mkcol>', "application/xml")
check("a second address book", status == 201, status)
status, _ = http("PUT", work_book + "colleague.vcf", card("colleague", "Cora Colleague"))
check("a card in it", status == 201, status)
subprocess.run([vdirsyncer, "-c", config, "discover", "merged"], input="y\n", capture_output=True, text=True)
check("first sync of the merged book", sync("merged"))
both = {**server_cards(book), **server_cards(work_book)}
check("the merged book holds both books' cards", set(local_cards(merged_local)) == set(both) and len(both) == 14,
      sorted(set(local_cards(merged_local)) ^ set(both)))

for name in os.listdir(merged_local):
    path = os.path.join(merged_local, name)
    with open(path, newline="") as f:
        text = f.read()
    if uid_of(text) == "colleague":
        with open(path, "w", newline="") as f:
            f.write(text.replace("END:VCARD", "NOTE:edited through the merged book\r\nEND:VCARD"))
with open(os.path.join(merged_local, "new-in-merged.vcf"), "w", newline="") as f:
    f.write(card("new-in-merged", "New In Merged"))
check("sync the merged book up", sync("merged"))
work_cards = server_cards(work_book)
check("an edit reached the card's own book", "edited through the merged book" in work_cards.get("colleague", ""),
      sorted(work_cards))
check("a new card landed in the first book", "new-in-merged" in server_cards(book)
      and "new-in-merged" not in work_cards)

status, _ = http("PUT", work_book + "from-work.vcf", card("from-work", "From Work"))
check("PUT into the second book", status == 201, status)
for name in os.listdir(merged_local):
    with open(os.path.join(merged_local, name), newline="") as f:
        if uid_of(f.read()) == "colleague":
            os.remove(os.path.join(merged_local, name))
check("sync the merged book again", sync("merged"))
both = {**server_cards(book), **server_cards(work_book)}
check("a local deletion reached the card's own book", "colleague" not in server_cards(work_book))
check("both sides of the merged book are equal, card for card", local_cards(merged_local) == both,
      sorted(set(local_cards(merged_local)) ^ set(both)))

# The birthdays calendar: made by the server from alice's cards, synced read-only.
birthdays = base + "/alice/birthdays/"
birthdays_local = os.path.join(work, "birthdays")
os.makedirs(birthdays_local, exist_ok=True)
with open(config, "a") as f:
    f.write(f"""
[pair birthdays]
a = "birthdays_local"
b = "birthdays_remote"
collections = null
[storage birthdays_local]
type = "filesystem"
path = "{birthdays_local}/"
fileext = ".ics"
[storage birthdays_remote]
type = "caldav"
url = "{birthdays}"
username = "alice"
password = "wonderland"
read_only = true
""")


def summaries(text):
    return sorted(l[8:].strip() for l in text.splitlines() if l.startswith("SUMMARY:"))


def local_summaries():
    out = []
    for name in os.listdir(birthdays_local):
        with open(os.path.join(birthdays_local, name), newline="") as f:
            out += summaries(f.read())
    return sorted(out)


born = card("born", "Bea Born").replace("END:VCARD", "BDAY:1990-05-17\r\nEND:VCARD")
status, _ = http("PUT", book + "born.vcf", born)
check("a card with a birthday", status == 201, status)
subprocess.run([vdirsyncer, "-c", config, "discover", "birthdays"], input="y\n", capture_output=True, text=True)
check("first sync of the birthdays calendar", sync("birthdays"))
status, export = http("GET", birthdays)
check("the birthdays calendar exports", status == 200 and "Birthday: Bea Born" in summaries(export), status)
check("every birthday is local, as the server makes them", local_summaries() == summaries(export),
      (local_summaries(), summaries(export)))
status, _ = http("DELETE", book + "born.vcf")
check("the card is deleted", status == 204, status)
check("sync the birthdays calendar again", sync("birthdays"))
check("its birthday is gone locally too", "Birthday: Bea Born" not in local_summaries()
      and local_summaries() == summaries(http("GET", birthdays)[1]), local_summaries())
status, _ = http("PUT", birthdays + "mine.ics", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text/calendar")
check("the server refuses writes into it", status == 403, status)

print(f"vdirsyncer: {passed} passed, 0 failed")
