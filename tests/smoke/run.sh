#!/usr/bin/env bash
# Random hostile requests (tests/smoke/random_requests.py) against a built binary serving
# a copy of example-data; fails on any 5xx, dropped connection or panic in the log.
#
#   tests/smoke/run.sh [path/to/dirdav] [COUNT]
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/listening.sh
bin=${1:-target/debug/dirdav}
count=${2:-2000}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cp -r example-data "$work/example-data"
(cd "$work" && exec "$OLDPWD/$bin" serve --listen 127.0.0.1:0 --state-dir "$work/state" 2> "$work/log") &
pid=$!
port=$(listening "$work/log")
python3 tests/smoke/random_requests.py "$port" 1 "$count"
if grep -q panicked "$work/log"; then
  grep -A3 panicked "$work/log" | head -20
  echo "smoke: the server panicked"
  exit 1
fi
