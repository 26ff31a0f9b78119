#!/usr/bin/env bash
# Real file clients against the built binary, as people mount and sync a share:
#   - rclone syncs a tree of 2,000 files (nested folders, names with spaces and
#     accents, empty and larger files) up, checks it, changes it and syncs again, and
#     the server's folder must then equal the local one byte for byte;
#   - cadaver locks a file, writes it through its lock, unlocks it, and a write
#     without the token is refused meanwhile;
#   - davfs2 mounts the user's home (with root and /dev/fuse): files written, moved
#     and removed through the mount land on disk, and while a file is open for
#     writing davfs2 holds a lock on it that refuses other writers.
# Installs rclone, cadaver and davfs2 from Debian's packages when missing.
#
#   tests/clients/files.sh [path/to/dirdav] [files]
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/listening.sh
bin=${1:-target/debug/dirdav}
files=${2:-2000}
need=()
command -v rclone >/dev/null || need+=(rclone)
command -v cadaver >/dev/null || need+=(cadaver)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
trap 'umount "$work/mnt" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/root" "$work/home"
htpasswd -cbB -C 4 "$work/htpasswd" alice secret 2>/dev/null
"$bin" serve --root "$work/root" --htpasswd "$work/htpasswd" --state-dir "$work/state" \
  --listen 127.0.0.1:0 2> "$work/log" &
pid=$!
port=$(listening "$work/log")
url="http://127.0.0.1:$port"

fail() { echo "files: FAILED: $*"; tail -20 "$work/log"; exit 1; }

# --- rclone -------------------------------------------------------------------------
python3 - "$work/local" "$files" <<'EOF'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
names = ["notes", "Übersicht", "photo 1", "report-final", "ça va", "data"]
for i in range(n):
    depth = rng.randrange(4)
    folder = os.path.join(root, *[f"dir {rng.randrange(6)}" for _ in range(depth)])
    os.makedirs(folder, exist_ok=True)
    size = rng.choice([0, 1, 100, 4096, 70000])
    name = f"{rng.choice(names)} {i}.{rng.choice(['txt', 'bin', 'md'])}"
    with open(os.path.join(folder, name), "wb") as f:
        f.write(rng.randbytes(size))
EOF
export RCLONE_CONFIG_DIRDAV_TYPE=webdav
export RCLONE_CONFIG_DIRDAV_URL="$url/alice/"
export RCLONE_CONFIG_DIRDAV_VENDOR=other
export RCLONE_CONFIG_DIRDAV_USER=alice
RCLONE_CONFIG_DIRDAV_PASS=$(rclone obscure secret)
export RCLONE_CONFIG_DIRDAV_PASS
export RCLONE_CONFIG=/dev/null
rc() { rclone --transfers 8 --checkers 8 --retries 1 --low-level-retries 1 "$@"; }

start=$(date +%s)
rc sync "$work/local" dirdav:files || fail "rclone sync"
rc check "$work/local" dirdav:files || fail "rclone check after the first sync"
# Change the tree: edit, remove and add files, remove a folder.
python3 - "$work/local" <<'EOF'
import os, random, shutil, sys
root = sys.argv[1]
rng = random.Random(8)
paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
for p in rng.sample(paths, len(paths) // 20):
    with open(p, "ab") as f:
        f.write(b"changed")
for p in rng.sample(paths, len(paths) // 40):
    if os.path.exists(p):
        os.remove(p)
os.makedirs(os.path.join(root, "new folder"), exist_ok=True)
for i in range(20):
    with open(os.path.join(root, "new folder", f"added {i}.txt"), "w") as f:
        f.write(f"added {i}\n")
dirs = sorted(os.path.join(d, s) for d, ss, _ in os.walk(root) for s in ss if d != root)
if dirs:
    shutil.rmtree(dirs[0])
EOF
rc sync "$work/local" dirdav:files || fail "rclone sync of the changes"
rc check "$work/local" dirdav:files || fail "rclone check after the changes"
# What rclone says is what is on disk.
diff -r "$work/local" "$work/root/alice/files" > "$work/diff.txt" || {
  head -20 "$work/diff.txt"; fail "the server's folder differs from the local one"
}
count=$(find "$work/root/alice/files" -type f ! -name '.*' | wc -l)
echo "rclone: synced, changed and checked $files files ($count now) in $(( $(date +%s) - start )) s"

# --- cadaver ------------------------------------------------------------------------
printf 'machine 127.0.0.1\nlogin alice\npassword secret\n' > "$work/home/.netrc"
chmod 600 "$work/home/.netrc"
echo "first version" > "$work/home/hello.txt"
echo "second version" > "$work/home/second.txt"
# cadaver keeps its lock tokens for the session: the second PUT goes through the lock.
# While it waits in `discover`, a write without the token is tried from outside.
cadaver_script() {
  printf 'put hello.txt\nlock hello.txt\ndiscover hello.txt\n'
  sleep 1
  curl -s -o /dev/null -w '%{http_code}' -u alice:secret -T "$work/home/second.txt" \
    "$url/alice/hello.txt" > "$work/outside.txt"
  printf 'put second.txt hello.txt\nunlock hello.txt\nshowlocks\nquit\n'
}
(cd "$work/home" && cadaver_script | HOME="$work/home" timeout 60 cadaver "$url/alice/") \
  > "$work/cadaver.txt" 2>&1 || true
cat "$work/cadaver.txt"
grep -q "Locking \`hello.txt': succeeded" "$work/cadaver.txt" || fail "cadaver lock"
grep -q "Scope: exclusive  Type: write" "$work/cadaver.txt" || fail "cadaver discover"
grep -q "Uploading second.txt to \`/alice/hello.txt': .*succeeded" "$work/cadaver.txt" \
  || fail "cadaver put through its lock"
grep -q "Unlocking \`hello.txt': succeeded" "$work/cadaver.txt" || fail "cadaver unlock"
[ "$(cat "$work/outside.txt")" = 423 ] || fail "a write without the token got $(cat "$work/outside.txt"), not 423"
[ "$(cat "$work/root/alice/hello.txt")" = "second version" ] || fail "hello.txt is not cadaver's second version"
code=$(curl -s -o /dev/null -w '%{http_code}' -u alice:secret -T "$work/home/hello.txt" "$url/alice/hello.txt")
[ "$code" = 204 ] || fail "a write after the unlock got $code"
echo "cadaver: lock, discover, put through the lock, unlock: passed (a write without the token: 423)"

# --- davfs2 -------------------------------------------------------------------------
if [ ! -c /dev/fuse ] || [ "$(id -u)" != 0 ]; then
  echo "davfs2: not run (mounting needs root and /dev/fuse)"
  exit 0
fi
if ! command -v mount.davfs >/dev/null; then
  echo "davfs2 davfs2/suid_file boolean false" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq davfs2 >/dev/null
fi
mkdir "$work/mnt" "$work/davcache"
chmod 711 "$work"; chmod 777 "$work/davcache"   # davfs2 drops to its own user for the cache
printf '%s alice secret\n' "$url/alice/" > "$work/davsecrets"
chmod 600 "$work/davsecrets"
printf 'secrets %s\nuse_locks 1\ncache_dir %s\n' "$work/davsecrets" "$work/davcache" > "$work/davfs2.conf"
mount.davfs "$url/alice/" "$work/mnt" -o conf="$work/davfs2.conf" 2>&1 || fail "mount.davfs"
# Listing a folder fails here with EINVAL for any server (WsgiDAV too): davfs2's
# readdir and this kernel's FUSE disagree. Files are named, not listed.
echo "through davfs2" > "$work/mnt/mounted.txt"
mkdir "$work/mnt/mounted"
head -c 70000 /dev/urandom > "$work/big.bin"
cp "$work/big.bin" "$work/mnt/mounted/big.bin"
mv "$work/mnt/mounted.txt" "$work/mnt/mounted/moved.txt"
rm "$work/mnt/hello.txt"
exec 3>>"$work/mnt/mounted/moved.txt"   # davfs2 locks the file while it is open
sleep 1
outside=$(curl -s -o /dev/null -w '%{http_code}' -u alice:secret -T "$work/home/second.txt" \
  "$url/alice/mounted/moved.txt")
echo "appended" >&3
exec 3>&-
umount "$work/mnt" || fail "umount"
[ "$outside" = 423 ] || fail "a write beside davfs2's open file got $outside, not 423"
[ "$(cat "$work/root/alice/mounted/moved.txt")" = "$(printf 'through davfs2\nappended')" ] \
  || fail "moved.txt: $(cat "$work/root/alice/mounted/moved.txt")"
cmp "$work/big.bin" "$work/root/alice/mounted/big.bin" || fail "big.bin differs"
[ ! -e "$work/root/alice/mounted.txt" ] && [ ! -e "$work/root/alice/hello.txt" ] \
  || fail "a moved or removed file is still there"
locks=$(grep -c 'method=LOCK .*status=20' "$work/log" || true)
unlocks=$(grep -c 'method=UNLOCK .*status=204' "$work/log" || true)
[ "$locks" -gt 0 ] && [ "$unlocks" -gt 0 ] || fail "davfs2 took no locks ($locks LOCK, $unlocks UNLOCK)"
echo "davfs2: write, mkdir, copy, move, remove and a locked open file through the mount: passed ($locks locks taken, $unlocks released)"
