#!/usr/bin/env bash
# Packaging, checked: the systemd unit passes `systemd-analyze verify`, and a container
# image is built from scratch with Debian's buildah (the binary, the libraries `ldd`
# names, CA certificates, time zone data, a non-root user, /data and /state as
# volumes, `dirdav health` as its health check), mounted, and the server run from the
# image's root with chroot, as that user, while a client talks to it.
#
#   tests/packaging/run.sh [BINARY]     (as root: buildah and chroot need it)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/listening.sh
bin=$(realpath "${1:-target/debug/dirdav}")
work=$(mktemp -d)
# Docker format: the OCI one has no health check.
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot BUILDAH_FORMAT=docker
ctr=
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  if [ -n "$ctr" ]; then
    buildah umount "$ctr" >/dev/null 2>&1 || true
    buildah rm "$ctr" >/dev/null 2>&1 || true
  fi
  buildah rmi dirdav-ci >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "systemd unit:"
sed "s#^ExecStart=/usr/bin/dirdav#ExecStart=$bin#" packaging/dirdav.service > "$work/dirdav.service"
systemd-analyze verify "$work/dirdav.service"
echo "  systemd-analyze verify: no complaint"

echo "container image:"
ctr=$(buildah from scratch)
mnt=$(buildah mount "$ctr")
install -D -m 0755 "$bin" "$mnt/usr/bin/dirdav"
# The libraries the binary loads, and their loader, where ldd finds them.
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
  cp --parents -L "$lib" "$mnt/"
done
mkdir -p "$mnt/etc/ssl/certs" "$mnt/usr/share" "$mnt/data" "$mnt/state" "$mnt/tmp"
cp -L /etc/ssl/certs/ca-certificates.crt "$mnt/etc/ssl/certs/"
cp -r /usr/share/zoneinfo "$mnt/usr/share/"
echo "dirdav:x:10001:10001:dirdav:/data:/usr/bin/dirdav" > "$mnt/etc/passwd"
echo "dirdav:x:10001:" > "$mnt/etc/group"
chown 10001:10001 "$mnt/data" "$mnt/state"
chmod 1777 "$mnt/tmp"
buildah config --user 10001:10001 --workingdir /data \
  --entrypoint '["/usr/bin/dirdav"]' \
  --cmd 'serve --root /data --state-dir /state --listen 0.0.0.0:8008' \
  --volume /data --volume /state --port 8008 \
  --healthcheck 'CMD /usr/bin/dirdav health --url http://127.0.0.1:8008/' \
  --healthcheck-interval 30s --healthcheck-timeout 5s \
  "$ctr"
buildah commit --format docker -q "$ctr" dirdav-ci >/dev/null
size=$(du -sm "$mnt" | cut -f1)
echo "  built from scratch: ${size} MiB"
image=$(buildah inspect --type image dirdav-ci)
grep -q '"User": "10001:10001"' <<< "$image" || { echo "the image does not run as 10001"; exit 1; }
grep -A4 '"Healthcheck"' <<< "$image" | grep -q '"health",' || { echo "no health check in the image"; exit 1; }
grep -q '"/data": {}' <<< "$image" && grep -q '"/state": {}' <<< "$image" || { echo "/data and /state are not volumes"; exit 1; }

# The server from the image's root, as its user, on a copy of the demo tree.
cp -r example-data/. "$mnt/data/"
chown -R 10001:10001 "$mnt/data"
chroot --userspec=10001:10001 "$mnt" /usr/bin/dirdav serve --root /data --state-dir /state \
  --listen 127.0.0.1:0 2> "$work/log" &
pid=$!
port=$(listening "$work/log")
chroot --userspec=10001:10001 "$mnt" /usr/bin/dirdav health --url "http://127.0.0.1:$port/"
status=$(curl -s -o "$work/answer" -w '%{http_code}' -u alice:wonderland -X PROPFIND -H 'Depth: 1' "http://127.0.0.1:$port/alice/calendar/")
[ "$status" = 207 ] && grep -q '.ics</d:href>' "$work/answer" || { echo "PROPFIND answered $status"; cat "$work/log"; exit 1; }
status=$(curl -s -o /dev/null -w '%{http_code}' -u alice:wonderland -X PUT -H 'Content-Type: text/plain' --data-binary 'from the image' "http://127.0.0.1:$port/alice/note.txt")
[ "$status" = 201 ] || { echo "PUT answered $status"; exit 1; }
[ "$(stat -c %u "$mnt/data/alice/note.txt")" = 10001 ] || { echo "written as another user"; exit 1; }
ls "$mnt/state" | grep -q . || { echo "no state written to /state"; exit 1; }
echo "  run with chroot as 10001: healthy, PROPFIND 207, PUT 201 (owned by 10001), state in /state"
