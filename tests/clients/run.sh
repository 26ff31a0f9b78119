#!/usr/bin/env bash
# Real client libraries against the built binary, each in a private virtualenv:
# python-caldav (PyPI `caldav`). Serves a fresh copy of example-data.
#
#   tests/clients/run.sh [path/to/dirdav]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/debug/dirdav}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "caldav>=2,<4"
cp -r example-data "$work/example-data"
(cd "$work" && exec "$OLDPWD/$bin" serve --listen 127.0.0.1:0 --state-dir "$work/state" 2> "$work/log") &
pid=$!
for _ in $(seq 100); do
  port=$(grep -o 'url=http://127.0.0.1:[0-9]*' "$work/log" | head -1 | sed 's/.*://') || true
  [ -n "${port:-}" ] && break
  sleep 0.1
done
[ -n "${port:-}" ] || { cat "$work/log"; echo "dirdav did not start"; exit 1; }
"$work/venv/bin/python" tests/clients/python_caldav.py "http://127.0.0.1:$port"
