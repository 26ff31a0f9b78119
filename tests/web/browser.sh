#!/usr/bin/env bash
# The web page in a real browser: Debian's headless Chromium, driven by Playwright
# (tests/web/browser.mjs) with JavaScript off, as alice on a copy of example-data/.
# Screenshots go to target/web-screenshots/; the setup page's QR code is read back from
# its screenshot with zbarimg. Installs chromium, Node.js, zbar-tools and
# playwright-core when missing.
#
#   tests/web/browser.sh [path/to/dirdav]
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/listening.sh
bin=${1:-target/debug/dirdav}
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v node >/dev/null || need+=(nodejs npm)
command -v zbarimg >/dev/null || need+=(zbar-tools)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
(cd tests/web && npm ci --no-audit --no-fund --silent)

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cp -r example-data "$work/data"
"$bin" serve --root "$work/data" --htpasswd "$work/data/.htpasswd" --state-dir "$work/state" \
  --listen 127.0.0.1:0 2> "$work/log" &
pid=$!
port=$(listening "$work/log")
out=target/web-screenshots
rm -rf "$out" && mkdir -p "$out"

fail() { echo "web: FAILED: $*"; tail -20 "$work/log"; exit 1; }
node tests/web/browser.mjs "http://127.0.0.1:$port" "$out" || fail "the browser test"

# What the browser did is on disk, and what it was refused is not.
[ -d "$work/data/shared/Made in Chromium" ] || fail "the new folder is not on disk"
[ ! -e "$work/data/shared/from chromium.txt" ] || fail "the deleted file is still on disk"
[ ! -e "$work/data/shared/from another site" ] || fail "another site's post made a folder"
[ ! -e "$work/data/alice/calendar/not-an-event.txt" ] || fail "a text file landed in a calendar"
# The profile is a property list Apple's tools would read.
python3 -c 'import plistlib,sys; p=plistlib.load(open(sys.argv[1],"rb")); \
  kinds=[c["PayloadType"] for c in p["PayloadContent"]]; \
  assert kinds==["com.apple.caldav.account","com.apple.carddav.account"], kinds; \
  assert all(c["CalDAVUsername" if "caldav" in c["PayloadType"] else "CardDAVUsername"]=="alice" for c in p["PayloadContent"])' \
  "$out/alice.mobileconfig" || fail "the profile is not a valid property list"
# The QR code on the setup page reads as the page's address.
qr=$(zbarimg -q --raw "$out/7-setup.png" 2>/dev/null | head -1)
[ "$qr" = "http://127.0.0.1:$port/.web/setup" ] || fail "the QR code reads as '$qr'"
shots=$(ls "$out"/*.png | wc -l)
[ "$shots" -ge 7 ] || fail "only $shots screenshots"
echo "web: passed ($shots screenshots in $out)"
