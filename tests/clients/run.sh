#!/usr/bin/env bash
# Real client libraries against the built binary, in a private virtualenv:
# python-caldav (PyPI `caldav`) with our script and its own functional test suite
# (scheduling tests included), caldav-server-tester, which probes what a server
# supports (scheduling with a second account), vdirsyncer, syncing an address book
# both ways, and calcurse (tests/clients/calcurse.sh). Serves a fresh copy of example-data. Fails on any failed python-caldav
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
cat > "$work/dirdav.toml" <<'EOF'
[users.alice]
displayname = "Alice Example"
email = "alice@example.com"
[users.bob]
displayname = "Bob Example"
email = "bob@example.com"
EOF
(cd "$work" && exec "$OLDPWD/$bin" serve --config dirdav.toml --listen 127.0.0.1:0 --state-dir "$work/state" 2> "$work/log") &
pid=$!
port=$(listening "$work/log")
"$work/venv/bin/python" tests/clients/python_caldav.py "http://127.0.0.1:$port"

# bob is the second account of the tester's multi-user (scheduling) checks.
printf '{"bob": {"caldav_url": "http://127.0.0.1:%s/", "caldav_username": "bob", "caldav_password": "builder"}}' \
  "$port" > "$work/caldav.json"
CALDAV_CONFIG_FILE="$work/caldav.json" "$work/venv/bin/caldav-server-tester" --caldav-url "http://127.0.0.1:$port/" \
  --caldav-username alice --caldav-password wonderland --config-section bob --format text > "$work/tester.txt" 2>&1 || true
levels=$(grep -B1 'Feature support level found' "$work/tester.txt" | grep -v '^--' | paste - - \
  | sed 's/Feature support level found: //' | awk -F'\t' '{ print $2 "\t" $1 }' | sort)
echo "caldav-server-tester, deviations from full support:"
echo "$levels" | sed 's/^/  /'
if echo "$levels" | grep -q '^broken'; then
  echo "caldav-server-tester: a feature is broken"
  exit 1
fi
# Scheduling (RFC 6638) must be found fully supported: no deviation may name it.
if echo "$levels" | grep -q '## scheduling'; then
  echo "caldav-server-tester: scheduling is not fully supported"
  grep -A3 '## scheduling' "$work/tester.txt"
  exit 1
fi

# python-caldav's own functional test suite (tests/test_caldav.py of the installed
# release), against this server with alice and bob as its scheduling users. The
# scheduling features are declared, so its scheduling tests run instead of skipping.
version=$("$work/venv/bin/python" -c 'import caldav; print(caldav.__version__)')
"$work/venv/bin/pip" install -q --disable-pip-version-check pytest pytest-asyncio tzlocal proxy.py manuel pyfakefs httpx
"$work/venv/bin/pip" download -q --disable-pip-version-check --no-deps --no-binary :all: \
  "caldav==$version" -d "$work/sdist"
tar xzf "$work/sdist/caldav-$version.tar.gz" -C "$work"
cat > "$work/caldav-$version/tests/caldav_test_servers.yaml" <<EOF
test-servers:
  dirdav:
    type: external
    enabled: true
    url: http://127.0.0.1:$port/
    username: alice
    password: wonderland
    scheduling_users:
      - {url: "http://127.0.0.1:$port/", username: alice, password: wonderland}
      - {url: "http://127.0.0.1:$port/", username: bob, password: builder}
    features:
      scheduling: {support: full}
      scheduling.mailbox: {support: full}
      scheduling.mailbox.inbox-delivery: {support: full}
      scheduling.auto-schedule: {support: full}
      scheduling.freebusy-query: {support: full}
      scheduling.schedule-tag: {support: full}
EOF
# Its testPrincipals calls the library's own deprecated principals(): that warning is
# the library's, not the server's.
(cd "$work/caldav-$version" && PYTHON_CALDAV_TEST_DOCKER=0 "$work/venv/bin/python" -m pytest \
  tests/test_caldav.py -k dirdav -q -rs -p no:cacheprovider \
  -o asyncio_default_fixture_loop_scope=function \
  -W "ignore:principals() is deprecated:DeprecationWarning" 2>&1 | tail -8; exit "${PIPESTATUS[0]}")

mkdir -p "$work/vdirsyncer"
"$work/venv/bin/python" tests/clients/vdirsyncer_roundtrip.py "http://127.0.0.1:$port" "$work/venv/bin/vdirsyncer" "$work/vdirsyncer"

# calcurse, on its own fresh copy of the demo tree; its script needs httplib2.
"$work/venv/bin/pip" install -q --disable-pip-version-check httplib2
PYTHON="$work/venv/bin/python" bash tests/clients/calcurse.sh "$bin"
