#!/usr/bin/env bash
# Runs the five litmus WebDAV suites (basic, copymove, props, http, locks) against a
# built dirdav, with Basic authentication on, in a scratch tree. Fails on any failed
# test and on any warning other than the one documented in
# crates/dirdav-core/decisions/known-litmus-warnings.md.
#
#   tests/litmus.sh [path/to/dirdav]      (default: target/debug/dirdav)
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/listening.sh
bin=${1:-target/debug/dirdav}
command -v litmus >/dev/null || { echo "litmus is not installed (apt-get install litmus)"; exit 1; }
[ -x "$bin" ] || { echo "no binary at $bin; build it first"; exit 1; }

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/root"
command -v htpasswd >/dev/null || { echo "htpasswd is not installed (apt-get install apache2-utils)"; exit 1; }
htpasswd -cbB -C 4 "$work/htpasswd" litmus litmus 2>/dev/null
[ -s "$work/htpasswd" ] || { echo "could not create an htpasswd file"; exit 1; }

"$bin" serve --root "$work/root" --htpasswd "$work/htpasswd" --listen 127.0.0.1:0 2> "$work/server.log" &
pid=$!
port=$(listening "$work/server.log")

status=0
# In the user's home: a user may create collections there, not at the root.
# litmus writes debug.log and child.log where it runs: in the scratch folder.
(cd "$work" && TESTS="basic copymove props http locks" litmus "http://127.0.0.1:$port/litmus/" litmus litmus) > "$work/litmus.out" 2>&1 || status=$?
cat "$work/litmus.out"
summaries=$(grep -c '^<- summary for' "$work/litmus.out" || true)
failed=$(grep -E '^<- summary' "$work/litmus.out" | grep -vc ' 0 failed' || true)
# The one known, documented warning: the http crate drops a URI fragment before the
# server sees the request (RFC 9110 §7.1).
unexpected=$(grep 'WARNING:' "$work/litmus.out" \
  | grep -v 'DELETE removed collection resource with Request-URI including fragment' || true)
if [ "$status" -ne 0 ] || [ "$summaries" -ne 5 ] || [ "$failed" -ne 0 ] || [ -n "$unexpected" ]; then
  echo "litmus: FAILED (exit $status, $summaries suites summarised, $failed with failures)"
  [ -n "$unexpected" ] && echo "unexpected warnings:" && echo "$unexpected"
  exit 1
fi
passed=$(grep -E '^<- summary' "$work/litmus.out" | sed -E 's/.* ([0-9]+) passed.*/\1/' | awk '{ s += $1 } END { print s }')
echo "litmus: $passed passed, 0 failed"
