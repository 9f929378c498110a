#!/usr/bin/env bash
# Restores after a deletion, side by side: for each tool, restore into a new folder, delete
# it, then restore again and time that. ext4 without a journal skips free inodes deleted in
# the last 60 seconds (360 while their inode-table block is dirty), so the second restore
# shows what a restore costs soon after a large tree was deleted (README, "Checkout").
#
#   bash bench/penalty.sh [WORKDIR] [RUNS]
#
# WORKDIR is one that `bench/run.sh` left (default /tmp/coffer-bench). Prints one line per
# restore: fresh (first) or after-rm (timed after the deletion), wall, user and system
# seconds, peak memory. The first "fresh" line is free of the penalty only if nothing large
# was deleted in the six minutes before.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/coffer-bench}
runs=${2:-2}
coffer="$here/target/release/coffer"
bupstash=${BUPSTASH:-${BUPSTASH_ROOT:-/tmp/bupstash-bin}/bin/bupstash}
data="$work/data"
[[ -d "$data/.coffer" && -f "$work/bupstash.v2.id" ]] || {
  echo "run bench/run.sh $work first (with bupstash among its TOOLS)" >&2; exit 2; }
export COFFER_IDENTITY="$work/coffer-id" BUPSTASH_REPOSITORY="$work/bupstash" BUPSTASH_KEY="$work/bupstash.key"
id=$(tr -d '[:space:]' < "$work/bupstash.v2.id")
out="$work/penalty-runs"
restore() { # tool dir label
  local f="$3 $1 %e s wall %U user %S system %M KiB"
  case $1 in
    coffer) /usr/bin/time -f "$f" "$coffer" -C "$data" checkout -q HEAD --to "$2" >/dev/null ;;
    bupstash) /usr/bin/time -f "$f" "$bupstash" restore -q --into "$2" "id=$id" ;;
  esac
}
for _ in $(seq "$runs"); do
  for t in coffer bupstash; do
    rm -rf "$out"; mkdir -p "$out/a" "$out/b"
    sync; sleep 1; restore "$t" "$out/a" fresh
    rm -rf "$out/a"; sync; sleep 1
    restore "$t" "$out/b" after-rm
  done
done
rm -rf "$out"
