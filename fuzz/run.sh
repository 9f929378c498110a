#!/usr/bin/env bash
# Run every fuzz target for a set time (default 600 s each), two at a time, on the nightly
# toolchain (cargo install cargo-fuzz once), starting from the committed seed corpus; crashes
# land in fuzz/artifacts/TARGET/. Prints each target's final coverage line.
#
#   bash fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
targets="envelope version policy tree pack claim identity public_identity tree_walk"
cargo +nightly fuzz build -O >/dev/null
mkdir -p logs
run() {
  local t=$1
  mkdir -p "corpus/$t" "work/$t"
  cargo +nightly fuzz run -O "$t" "work/$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 \
    > "logs/$t.log" 2>&1 || echo "$t: FOUND A FAILURE (see logs/$t.log and artifacts/$t/)"
  echo "$t: $(grep -E '^#[0-9]+.*(DONE|cov)' "logs/$t.log" | tail -1)"
}
set -- $targets
while [ $# -gt 0 ]; do
  run "$1" & a=$!
  if [ $# -gt 1 ]; then run "$2" & b=$!; wait $b; fi
  wait $a
  shift; [ $# -gt 0 ] && shift
done
