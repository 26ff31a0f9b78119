#!/usr/bin/env bash
# Runs every fuzz target (or those named) for a bounded time each, two at a time.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]      # default: 600 s, all targets
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Seeds come
# from tests/fuzz/seeds/<target>/ (request bodies from the RFCs, the seed documents and
# the tests, example-data's items); the growing corpus lives in
# tests/fuzz/corpus/<target>/ (not committed). A crash leaves its input in
# tests/fuzz/regressions/<target>/: fix the cause and commit the input, and
# `cargo test --test fuzz_regressions` replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(xml report dav_body put_item headers)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo +nightly fuzz build --fuzz-dir tests/fuzz 2>&1 | tail -1
# libFuzzer runs each input in this process; two targets at a time fill two cores.
run() {
  local t=$1
  mkdir -p "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t"
  cargo +nightly fuzz run --fuzz-dir tests/fuzz "$t" "tests/fuzz/corpus/$t" "tests/fuzz/seeds/$t" -- \
    -max_total_time="$secs" -max_len=65536 -timeout=10 -report_slow_units=1 -rss_limit_mb=4096 \
    -artifact_prefix="tests/fuzz/regressions/$t/" -print_final_stats=1 \
    >"tests/fuzz/corpus/$t.log" 2>&1 && status=ok || status=CRASH
  echo "$t: $status ($(grep -E '^stat::number_of_executed_units' "tests/fuzz/corpus/$t.log" | awk '{print $2}') runs; log tests/fuzz/corpus/$t.log)"
}
pids=()
for t in "${targets[@]}"; do
  run "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge 2 ]; then
    wait "${pids[0]}"
    pids=("${pids[@]:1}")
  fi
done
wait
ls tests/fuzz/regressions/*/ 2>/dev/null | grep -v '^$' || true
