#!/usr/bin/env bash
# Start-up time to the first listing, cold (no state: every file hashed) and warm (the
# state from the previous run: only mtime and size compared), for N items spread over
# 100 calendar folders (default N = 100,000). Release build; median of 3 runs each.
#
#   tests/bench/startup.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-100000}
cargo build --release -q
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work/root" "$n" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
ev = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:%d\r\n"
      "DTSTAMP:20260101T000000Z\r\nDTSTART:20260102T100000Z\r\nDURATION:PT1H\r\n"
      "SUMMARY:Event number %d\r\nDESCRIPTION:%s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
for c in range(100):
    d = f"{root}/cal{c:03d}"
    os.makedirs(d)
    open(f"{d}/.dav.toml", "w").write('kind = "calendar"\n')
for i in range(n):
    open(f"{root}/cal{i % 100:03d}/{i:07d}.ics", "w").write(ev % (i, i, "x" * 300))
PY
# Seconds from launch until a PROPFIND on one calendar answers 207.
first_listing() {
  local start end pid port=""
  start=$(date +%s.%N)
  target/release/dirdav serve --root "$work/root" --state-dir "$work/state" --watch off \
    --listen 127.0.0.1:0 2> "$work/log" &
  pid=$!
  while [ -z "$port" ]; do
    port=$(grep -o 'url=http://127.0.0.1:[0-9]*' "$work/log" | sed 's/.*://' || true)
    sleep 0.005
  done
  until [ "$(curl -s -o /dev/null -w '%{http_code}' -X PROPFIND -H 'Depth: 1' "http://127.0.0.1:$port/cal000/")" = 207 ]; do
    sleep 0.005
  done
  end=$(date +%s.%N)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  awk -v a="$end" -v b="$start" 'BEGIN { print a - b }'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cold=$(for _ in 1 2 3; do rm -rf "$work/state"; first_listing; done | median)
first_listing > /dev/null
warm=$(for _ in 1 2 3; do first_listing; done | median)
printf 'items: %d\ncold start to first listing: %.2f s\nwarm start to first listing: %.2f s\n' "$n" "$cold" "$warm"
grep -o 'entries=[0-9]* hashed=[0-9]* warm=true elapsed_ms=[0-9]*' "$work/log" | sed 's/^/last warm start: /'
