#!/usr/bin/env bash
# PROPFIND Depth 1 on a collection of N iCalendar files (default 10,000) against a
# release build: startup indexing time, the median of 7 PROPFINDs, and how many files
# the server opens while answering one (with strace, when installed). The calendar is
# alice's and shared with bob to read: the PROPFINDs run as alice (the owner) and as bob
# (whose listing goes through the access rules of every member). Without `htpasswd`
# (apache2-utils) the server runs without authentication and one PROPFIND is timed.
#
#   tests/bench/propfind-10k.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-10000}
cargo build --release -q
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/root/alice/cal"
printf 'kind = "calendar"\n[acl]\nread = ["bob"]\n' > "$work/root/alice/cal/.dav.toml"
python3 - "$work/root/alice/cal" "$n" <<'PY'
import sys
d, n = sys.argv[1], int(sys.argv[2])
ev = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:%d\r\n"
      "DTSTAMP:20260101T000000Z\r\nDTSTART:20260102T100000Z\r\nDURATION:PT1H\r\n"
      "SUMMARY:Event number %d with a realistic length of summary\r\nDESCRIPTION:%s\r\n"
      "END:VEVENT\r\nEND:VCALENDAR\r\n")
for i in range(n):
    open(f"{d}/{i:06d}.ics", "w").write(ev % (i, i, "x" * 400))
PY
users=(anonymous)
auth_args=()
if command -v htpasswd >/dev/null; then
  htpasswd -cbB -C 4 "$work/htpasswd" alice alice 2>/dev/null
  htpasswd -bB -C 4 "$work/htpasswd" bob bob 2>/dev/null
  users=(alice bob)
  auth_args=(--htpasswd "$work/htpasswd")
fi
target/release/dirdav serve --root "$work/root" "${auth_args[@]}" --listen 127.0.0.1:0 2> "$work/log" &
pid=$!
for _ in $(seq 600); do grep -q 'url=http' "$work/log" && break; sleep 0.1; done
port=$(grep -o 'url=http://127.0.0.1:[0-9]*' "$work/log" | sed 's/.*://')
grep -o 'entries=[0-9]* .*elapsed_ms=[0-9]*' "$work/log" | sed 's/^/startup index: /'
body='<propfind xmlns="DAV:"><prop><getetag/><getcontentlength/><getcontenttype/><resourcetype/></prop></propfind>'
url="http://127.0.0.1:$port/alice/cal/"
query='<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter></C:calendar-query>'
# Interleaved, so that neither user gets the server warm or the host quiet alone: a
# round asks each user once, for the listing and for the report; medians of 15 rounds.
timed() { # user method body → seconds
  local cred=()
  [ "$1" = anonymous ] || cred=(-u "$1:$1")
  curl -s "${cred[@]}" -o /dev/null -w '%{time_total}\n' -X "$2" -H 'Depth: 1' -d "$3" "$url"
}
for user in "${users[@]}"; do timed "$user" PROPFIND "$body" > /dev/null; done
for _ in $(seq 15); do
  for user in "${users[@]}"; do
    timed "$user" PROPFIND "$body" >> "$work/propfind-$user"
    # A report reaches the members through the store scoped to the user.
    timed "$user" REPORT "$query" >> "$work/query-$user"
  done
done
for user in "${users[@]}"; do
  cred=()
  [ "$user" = anonymous ] || cred=(-u "$user:$user")
  for what in propfind query; do
    case $what in
      propfind) bytes=$(curl -s "${cred[@]}" -X PROPFIND -H 'Depth: 1' -d "$body" "$url" | wc -c); label="PROPFIND Depth 1" ;;
      query) bytes=$(curl -s "${cred[@]}" -X REPORT -H 'Depth: 1' -d "$query" "$url" | wc -c); label="calendar-query (etags, all)" ;;
    esac
    sort -n "$work/$what-$user" | awk -v b="$bytes" -v u="$user" -v l="$label" '{a[NR]=$1} END {printf "%s as %s: median %.1f ms (min %.1f, max %.1f), %d bytes\n", l, u, a[8]*1000, a[1]*1000, a[NR]*1000, b}'
  done
done
if command -v strace >/dev/null; then
  strace -f -p "$pid" -e trace=openat -o "$work/strace" 2>/dev/null &
  spid=$!
  sleep 1
  cred=()
  [ "${users[-1]}" = anonymous ] || cred=(-u "${users[-1]}:${users[-1]}")
  curl -s "${cred[@]}" -o /dev/null -X PROPFIND -H 'Depth: 1' -d "$body" "$url"
  sleep 0.5
  kill "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  echo "files opened while answering: $(grep -c 'openat(' "$work/strace" || true)"
  grep 'openat(' "$work/strace" | head -5 >&2 || true
fi
