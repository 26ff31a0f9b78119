#!/usr/bin/env bash
# dirdav beside Radicale and Xandikos on the same data and requests (see compare.py):
# builds dirdav and the bare GET server in release mode, installs Radicale and Xandikos
# from PyPI into a virtualenv under target/, and prints one Markdown table per N.
#
#   tests/bench/compare.sh [N ...]        (default: 1000 10000)
#   BENCH_ONLY=dirdav tests/bench/compare.sh 50000
#   BENCH_BUDGET=3600 tests/bench/compare.sh 10000   (seconds per server and N; default 1800)
#   BENCH_PUTS=1000   items of each kind stored by PUT; the rest of N is written into each
#                     server's storage before the PUTs (default 1000)
#
# GET throughput needs wrk (apt-get install wrk); without it that row is left out.
# BENCH_PROFILE=debug uses the debug build (CI's smoke run, which has built it already:
# its figures are meaningless, only that every server answers every request counts).
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=${BENCH_PROFILE:-release}
if [ "$profile" = release ]; then
  cargo build --release -q
  cargo build --release -q -p dirdav-core --example bare_get
else
  cargo build -q
  cargo build -q -p dirdav-core --example bare_get
fi
venv=target/bench-venv
if [ ! -x "$venv/bin/xandikos" ] || [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q radicale xandikos
fi
wrk_flag=()
command -v wrk >/dev/null && wrk_flag=(--wrk)
only=()
[ -n "${BENCH_ONLY:-}" ] && only=(--only "$BENCH_ONLY")
"$venv/bin/python" -c 'import radicale, xandikos; print("Radicale", radicale.VERSION, "· Xandikos", xandikos.__version__ if hasattr(xandikos, "__version__") else "")' >&2 || true
exec python3 tests/bench/compare.py --dirdav "target/$profile/dirdav" \
  --bare "target/$profile/examples/bare_get" --venv "$venv" "${wrk_flag[@]}" "${only[@]}" \
  --budget "${BENCH_BUDGET:-1800}" --puts "${BENCH_PUTS:-1000}" "$@"
