#!/usr/bin/env bash
# The cost of `share add --from-now` on the benchmark dataset: a first commit, then a
# newcomer added from now on, whose reseal version seals the whole head again.
#
#   bash bench/reseal.sh [WORKDIR] [SCALE]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/coffer-reseal}
scale=${2:-1}
(cd "$here" && cargo build --release -q --bin coffer --bin coffer-bench-data)
coffer="$here/target/release/coffer"
rm -rf "$work"; mkdir -p "$work"
"$here/target/release/coffer-bench-data" gen "$work/data" "$scale" >/dev/null
export COFFER_IDENTITY="$work/camden.id" XDG_CONFIG_HOME="$work/config"
"$coffer" id new -q --name Camden --out "$work/camden.id" >/dev/null
gla=$("$coffer" id new -q --name GLA --out "$work/gla.id")
cd "$work/data"
"$coffer" init -q >/dev/null
/usr/bin/time -f "first commit: %e s (%U s user, %S s system), peak %M KiB" "$coffer" commit -q -m v1 >/dev/null
echo "stored: $(du -sb .coffer/store | cut -f1) bytes"
/usr/bin/time -f "share add --from-now: %e s (%U s user, %S s system), peak %M KiB" \
  "$coffer" share add "$gla" --name GLA --from-now --json > "$work/reseal.json"
cat "$work/reseal.json"
echo "stored: $(du -sb .coffer/store | cut -f1) bytes"
