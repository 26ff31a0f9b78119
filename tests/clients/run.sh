#!/usr/bin/env bash
# Real client libraries against the built binary, in a private virtualenv:
# python-caldav (PyPI `caldav`), caldav-server-tester, which probes what a server
# supports, and vdirsyncer, syncing an address book both ways. Serves a fresh copy of example-data. Fails on any failed python-caldav
# check and on any feature the tester finds "broken"; features it finds unsupported
# are printed (they are the known gaps, listed in the project notes).
#
#   tests/clients/run.sh [path/to/dirdav]
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/listening.sh
bin=${1:-target/debug/dirdav}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "caldav>=2,<4" "caldav-server-tester>=1.7,<2" vobject "vdirsyncer>=0.19,<0.22"
cp -r example-data "$work/example-data"
# E-mail addresses, as a deployment gives them: scheduling names users by them.
printf '[users.alice]\nemail = "alice@example.com"\n[users.bob]\nemail = "bob@example.com"\n' > "$work/dirdav.toml"
(cd "$work" && exec "$OLDPWD/$bin" serve --config dirdav.toml --listen 127.0.0.1:0 --state-dir "$work/state" 2> "$work/log") &
pid=$!
port=$(listening "$work/log")
"$work/venv/bin/python" tests/clients/python_caldav.py "http://127.0.0.1:$port"

"$work/venv/bin/caldav-server-tester" --caldav-url "http://127.0.0.1:$port/" \
  --caldav-username alice --caldav-password wonderland --format text > "$work/tester.txt" 2>&1 || true
levels=$(grep -B1 'Feature support level found' "$work/tester.txt" | grep -v '^--' | paste - - \
  | sed 's/Feature support level found: //' | awk -F'\t' '{ print $2 "\t" $1 }' | sort)
echo "caldav-server-tester, deviations from full support:"
echo "$levels" | sed 's/^/  /'
if echo "$levels" | grep -q '^broken'; then
  echo "caldav-server-tester: a feature is broken"
  exit 1
fi

mkdir -p "$work/vdirsyncer"
"$work/venv/bin/python" tests/clients/vdirsyncer_roundtrip.py "http://127.0.0.1:$port" "$work/venv/bin/vdirsyncer" "$work/vdirsyncer"
