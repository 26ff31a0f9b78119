#!/usr/bin/env bash
# addressbook-query "FN contains" over N cards (default 10,000), release build: the
# median of 7 runs, the number of matches, and how many card files the server opened
# (with strace when installed): a filter on summarized fields reads none.
#
#   tests/bench/addressbook-query.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-10000}
cargo build --release -q
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/root/book"
printf 'kind = "addressbook"\n' > "$work/root/book/.dav.toml"
python3 - "$work/root/book" "$n" <<'PY'
import sys
d, n = sys.argv[1], int(sys.argv[2])
first = ["Anna", "Bernd", "Carol", "Dana", "Erik", "Fatima", "Grete", "Hiroshi", "Ines", "Jonas"]
last = ["Smith", "Müller", "Díaz", "Tanaka", "Rossi", "Haddad", "Johansson", "Martin", "Lee", "Becker"]
for i in range(n):
    fn = f"{first[i % 10]} {last[(i // 10) % 10]} {i}"
    open(f"{d}/{i:06d}.vcf", "w").write(
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-{i}\r\nFN:{fn}\r\nN:{last[(i // 10) % 10]};{first[i % 10]};;;\r\n"
        f"EMAIL;TYPE=WORK:user{i}@example.com\r\nTEL;TYPE=CELL:+49 30 {i:07d}\r\nEND:VCARD\r\n")
PY
target/release/dirdav serve --root "$work/root" --state-dir "$work/state" --watch off --listen 127.0.0.1:0 2> "$work/log" &
pid=$!
for _ in $(seq 600); do grep -q 'url=http' "$work/log" && break; sleep 0.1; done
port=$(grep -o 'url=http://127.0.0.1:[0-9]*' "$work/log" | sed 's/.*://')
body='<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop>
<C:filter><C:prop-filter name="FN"><C:text-match match-type="contains">tanaka</C:text-match></C:prop-filter></C:filter></C:addressbook-query>'
url="http://127.0.0.1:$port/book/"
matches=$(curl -s -X REPORT -H 'Depth: 1' -d "$body" "$url" | grep -o '<d:response>' | wc -l)
for _ in 1 2 3 4 5 6 7; do
  curl -s -o /dev/null -w '%{time_total}\n' -X REPORT -H 'Depth: 1' -d "$body" "$url"
done | sort -n | awk -v m="$matches" -v n="$n" '{a[NR]=$1} END {printf "addressbook-query FN contains, %d cards: median %.1f ms (min %.1f, max %.1f), %d matches\n", n, a[4]*1000, a[1]*1000, a[NR]*1000, m}'
if command -v strace >/dev/null; then
  strace -f -p "$pid" -e trace=openat -o "$work/strace" 2>/dev/null &
  spid=$!
  sleep 1
  curl -s -o /dev/null -X REPORT -H 'Depth: 1' -d "$body" "$url"
  sleep 0.5
  kill "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  echo "card files opened while answering: $(grep -c '\.vcf"' "$work/strace" || true)"
fi
