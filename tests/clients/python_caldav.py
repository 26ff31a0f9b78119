"""python-caldav (the `caldav` library on PyPI) against a running dirdav.

Usage: python_caldav.py BASE_URL   (a server serving a copy of example-data)
Exits non-zero on the first failed check; prints "python-caldav: N passed, 0 failed".
"""
import datetime
import glob
import sys

import caldav

base = sys.argv[1].rstrip("/")
passed = 0


def check(what, ok, detail=""):
    global passed
    if not ok:
        print(f"FAILED: {what} {detail}")
        sys.exit(1)
    passed += 1
    print(f"ok: {what}")


client = caldav.DAVClient(url=base + "/", username="alice", password="wonderland")
principal = client.principal()
check("discovery: current-user-principal", str(principal.url).rstrip("/").endswith("/alice"), principal.url)
names = sorted(c.get_display_name() for c in principal.calendars())
check("discovery: calendars of the calendar home", "Personal" in names, names)
cal = client.calendar(url=base + "/alice/calendar/")
check("display name", cal.get_display_name() == "Personal")

utc = datetime.timezone.utc
november = cal.search(start=datetime.datetime(2026, 11, 1, tzinfo=utc),
                      end=datetime.datetime(2026, 12, 1, tzinfo=utc), event=True, expand=False)
summaries = sorted(str(e.icalendar_component.get("summary")) for e in november)
check("time-range query over the demo calendar (recurring, floating, cancelled events)", summaries == [
    "Book club", "Dentist", "Lunch with Carol", "Morning run (wherever I am)",
    "Quarterly review with the New York office", "Team stand-up", "Yoga"], summaries)

december = cal.search(start=datetime.datetime(2026, 12, 4, tzinfo=utc),
                      end=datetime.datetime(2026, 12, 5, tzinfo=utc), event=True, expand=False)
check("a moved meeting is found on its day, and the instance it replaces (EXDATE) is not",
      [str(e.icalendar_component.get("summary")) for e in december]
      == ["Team stand-up (moved: all-hands at 9:30)"])
# bob's football training has an overridden instance (RECURRENCE-ID in the same object):
# found at its new time (18:00-19:30 Berlin, 17:00 UTC), not in the last hour of the
# one it replaced (19:00-20:30 Berlin, until 19:30 UTC).
bob = caldav.DAVClient(url=base + "/", username="bob", password="builder")
football = bob.calendar(url=base + "/bob/calendar/")
early = football.search(start=datetime.datetime(2026, 11, 19, 17, tzinfo=utc),
                        end=datetime.datetime(2026, 11, 19, 17, 30, tzinfo=utc), event=True, expand=True)
check("an overridden instance is found at its new time",
      [str(e.icalendar_component.get("summary")) for e in early] == ["Football training (early kick-off)"],
      [str(e.icalendar_component.get("summary")) for e in early])
late = football.search(start=datetime.datetime(2026, 11, 19, 18, 40, tzinfo=utc),
                       end=datetime.datetime(2026, 11, 19, 19, 20, tzinfo=utc), event=True, expand=True)
check("and not at the time it replaced", late == [], late)
christmas = cal.search(start=datetime.datetime(2026, 11, 25, 0, tzinfo=utc),
                       end=datetime.datetime(2026, 11, 25, 23, tzinfo=utc), event=True, expand=False)
check("an excluded instance (EXDATE) is not found",
      "Team stand-up" not in [str(e.icalendar_component.get("summary")) for e in christmas])

event = cal.save_event(dtstart=datetime.datetime(2026, 11, 25, 10, tzinfo=utc),
                       dtend=datetime.datetime(2026, 11, 25, 11, tzinfo=utc),
                       summary="Made by python-caldav", uid="pyc-event-1")
check("save an event", str(event.url).endswith("/alice/calendar/pyc-event-1.ics"), event.url)
check("find it by UID", cal.event_by_uid("pyc-event-1").icalendar_component.get("summary") == "Made by python-caldav")

cal.save_todo(summary="Buy milk", uid="pyc-todo-1", due=datetime.date(2026, 11, 28))
cal.save_todo(summary="Water the plants", uid="pyc-todo-2",
              dtstart=datetime.datetime(2026, 11, 2, 9, tzinfo=utc),
              due=datetime.datetime(2026, 11, 2, 10, tzinfo=utc), rrule={"FREQ": "WEEKLY"})
todos = sorted(str(t.icalendar_component.get("summary")) for t in cal.todos())
check("plain and recurring tasks are listed", todos == ["Buy milk", "Water the plants"], todos)
week = cal.search(start=datetime.datetime(2026, 12, 7, tzinfo=utc),
                  end=datetime.datetime(2026, 12, 8, tzinfo=utc), todo=True, expand=False)
found = [str(t.icalendar_component.get("summary")) for t in week]
check("a time range finds a recurring task by a later instance, and not a task due elsewhere",
      found == ["Water the plants"], found)

objects = cal.objects_by_sync_token(load_objects=True)
token = objects.sync_token
# The demo calendar's objects (this script runs from the repository's root) and the
# event and two tasks saved above.
demo = len(glob.glob("example-data/alice/calendar/*.ics"))
check("initial sync lists every item", len(list(objects)) == demo + 3, (len(list(objects)), demo))
event.delete()
changed = cal.objects_by_sync_token(sync_token=token, load_objects=False)
check("incremental sync reports the deletion", len(list(changed)) == 1)
try:
    cal.event_by_uid("pyc-event-1")
    check("deleted event is gone", False)
except caldav.error.NotFoundError:
    check("deleted event is gone", True)

home = caldav.Calendar(client=client, url=base + "/alice/")
new = caldav.Calendar(client=client, parent=home, name="Made by python-caldav", id="pyc-cal")
new.save()
check("MKCALENDAR", client.calendar(url=base + "/alice/pyc-cal/").get_display_name() == "Made by python-caldav")
new.save_event(dtstart=datetime.datetime(2027, 1, 1, 9, tzinfo=utc), summary="New year", uid="pyc-ny")
check("write into the new calendar", len(new.events()) == 1)

# Scheduling (RFC 6638), as far as dirdav offers it: mailboxes, addresses, and a
# free-busy lookup through the outbox (run.sh gives alice and bob e-mail addresses).
inbox, outbox = principal.schedule_inbox(), principal.schedule_outbox()
check("scheduling: the principal names its inbox and outbox",
      str(inbox.url).endswith("/alice/inbox/") and str(outbox.url).endswith("/alice/outbox/"),
      (inbox.url, outbox.url))
addresses = principal.calendar_user_address_set()
check("scheduling: calendar-user-address-set", "mailto:alice@example.com" in addresses, addresses)
answer = principal.freebusy_request(datetime.datetime(2026, 11, 1, tzinfo=utc),
                                    datetime.datetime(2026, 12, 1, tzinfo=utc),
                                    ["mailto:bob@example.com", "mailto:nobody@example.net"])
busy = answer.get("mailto:bob@example.com")
check("scheduling: free-busy of bob through the outbox",
      busy is not None and "FREEBUSY" in busy.data and "SUMMARY" not in busy.data, answer)
check("scheduling: an unknown attendee is answered with an error status",
      answer["errors"].get("mailto:nobody@example.net", "").startswith("3.7"), answer["errors"])

print(f"python-caldav: {passed} passed, 0 failed")
