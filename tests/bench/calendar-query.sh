#!/usr/bin/env bash
# calendar-query with a one-month time range over a calendar of N events spread over
# a year (default 10,000; every 20th weekly-recurring), release build. Prints the
# median of 7 runs, the number of matches, and how many item files the server opened
# while answering (with strace when installed): only the items whose indexed time span
# overlaps the month are read.
#
# With MIX=open, a share of the events recur without end, as real calendars' do (the
# summaries cannot list their instances, so they are read and their rules walked):
# every 30th weekly in Europe/Zurich since 2024, every 120th daily since 2025, every
# 200th weekly until 2030 (more than 64 instances), every 20th of the rest weekly
# for 8 weeks.
#
#   tests/bench/calendar-query.sh [N]
#   MIX=open tests/bench/calendar-query.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-10000}
bin=${DIRDAV:-target/release/dirdav}
[ -n "${DIRDAV:-}" ] || cargo build --release -q
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/root/cal"
printf 'kind = "calendar"\n' > "$work/root/cal/.dav.toml"
python3 - "$work/root/cal" "$n" "${MIX:-}" <<'PY'
import sys, datetime
d, n, mix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
base = datetime.datetime(2026, 1, 1)
for i in range(n):
    start = base + datetime.timedelta(minutes=i * 525600 // n)
    dtstart = f"DTSTART:{start:%Y%m%dT%H%M%S}Z"
    rule = "RRULE:FREQ=WEEKLY;COUNT=8\r\n" if i % 20 == 0 else ""
    if mix == "open" and i % 30 == 0:
        dtstart = f"DTSTART;TZID=Europe/Zurich:{start.replace(year=2024):%Y%m%dT%H%M%S}"
        rule = "RRULE:FREQ=WEEKLY\r\n"
    elif mix == "open" and i % 120 == 1:
        dtstart = f"DTSTART:{start.replace(year=2025):%Y%m%dT%H%M%S}Z"
        rule = "RRULE:FREQ=DAILY\r\n"
    elif mix == "open" and i % 200 == 2:
        rule = "RRULE:FREQ=WEEKLY;UNTIL=20300101T000000Z\r\n"
    open(f"{d}/{i:06d}.ics", "w").write(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{i}\r\nDTSTAMP:20260101T000000Z\r\n{dtstart}\r\nDURATION:PT1H\r\n"
        f"{rule}SUMMARY:Event {i}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
PY
"$bin" serve --root "$work/root" --state-dir "$work/state" --watch off --listen 127.0.0.1:0 2> "$work/log" &
pid=$!
for _ in $(seq 600); do grep -q 'url=http' "$work/log" && break; sleep 0.1; done
port=$(grep -o 'url=http://127.0.0.1:[0-9]*' "$work/log" | sed 's/.*://')
body='<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="20260601T000000Z" end="20260701T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>'
url="http://127.0.0.1:$port/cal/"
matches=$(curl -s -X REPORT -H 'Depth: 1' -d "$body" "$url" | grep -o '<d:response>' | wc -l)
for _ in $(seq "${RUNS:-7}"); do
  curl -s -o /dev/null -w '%{time_total}\n' -X REPORT -H 'Depth: 1' -d "$body" "$url"
done | sort -n | awk -v m="$matches" -v n="$n" '{a[NR]=$1} END {printf "calendar-query, one month of %d events: median %.1f ms (min %.1f, max %.1f), %d matches\n", n, a[int((NR+1)/2)]*1000, a[1]*1000, a[NR]*1000, m}'
if command -v strace >/dev/null; then
  strace -f -p "$pid" -e trace=openat,openat2 -o "$work/strace" 2>/dev/null &
  spid=$!
  sleep 1
  curl -s -o /dev/null -X REPORT -H 'Depth: 1' -d "$body" "$url"
  sleep 0.5
  kill "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  echo "item files opened while answering: $(grep -c '\.ics"' "$work/strace" || true)"
fi
