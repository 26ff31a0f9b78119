# Sourced by the test scripts. `listening LOG` waits (up to 10 s) until the dirdav
# writing LOG says where it listens, and prints the port; otherwise it shows the log
# and fails, which stops a script under `set -e`:
#
#   port=$(listening "$work/log")
listening() {
  local port=
  for _ in $(seq 100); do
    port=$(grep -o 'url=http://127.0.0.1:[0-9]*' "$1" | head -1 | sed 's/.*://') || true
    if [ -n "$port" ]; then
      echo "$port"
      return 0
    fi
    sleep 0.1
  done
  cat "$1" >&2
  echo "dirdav did not start" >&2
  return 1
}
