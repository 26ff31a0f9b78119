#!/usr/bin/env bash
# A bounded soak: 10 minutes (or SECONDS given), 64 connections, a realistic mix
# (GET, PROPFIND, sync-collection, calendar-query, addressbook-query, multiget, PUT,
# create and delete) against a release build. Exits non-zero on any 5xx, on file
# descriptor growth, or on memory growing more than 25% after the first minute.
#
#   tests/bench/soak.sh [SECONDS]        (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=${BENCH_PROFILE:-release}
if [ "$profile" = release ]; then
  cargo build --release -q
else
  cargo build -q
fi
exec python3 tests/bench/soak.py --dirdav "target/$profile/dirdav" --seconds "${1:-600}"
