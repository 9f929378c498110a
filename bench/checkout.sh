#!/usr/bin/env bash
# Checkout side by side, alternating: `coffer checkout HEAD --to`, `bupstash restore` and
# `cp -r` of the same tree, RUNS times, each into a new folder after `sync`. Restored trees are
# deleted only at the end: ext4 makes new files slowly for minutes where many were just
# deleted, which would tax whichever tool went next.
#
#   bash bench/checkout.sh [WORKDIR] [RUNS]
#   AFTER_DELETE=1 bash bench/checkout.sh [WORKDIR] [RUNS]
#
# WORKDIR is one that `bench/run.sh` left (default /tmp/coffer-bench): its data folder, coffer
# identity, bupstash repository and key. Prints one line per step: wall, user and system
# seconds, and peak memory. With AFTER_DELETE=1 each tool instead restores, deletes that tree
# and restores again, and the second restore is timed ("after-delete"): what a restore costs
# soon after a large tree was deleted (ext4 without a journal skips inodes freed in the last
# 60 s, 360 s while their inode-table block is dirty; README, "Checkout").
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/coffer-bench}
runs=${2:-3}
coffer="$here/target/release/coffer"
bupstash=${BUPSTASH:-${BUPSTASH_ROOT:-/tmp/bupstash-bin}/bin/bupstash}
data="$work/data"
[[ -d "$data/.coffer" && -f "$work/bupstash.v2.id" ]] || {
  echo "run bench/run.sh $work first (with bupstash among its TOOLS)" >&2; exit 2; }
export COFFER_IDENTITY="$work/coffer-id" BUPSTASH_REPOSITORY="$work/bupstash" BUPSTASH_KEY="$work/bupstash.key"
id=$(tr -d '[:space:]' < "$work/bupstash.v2.id")
out="$work/checkout-runs"; rm -rf "$out"; mkdir -p "$out"
restore() { # tool folder label
  local f="$3 %e s wall %U user %S system %M KiB"
  case $1 in
    coffer) /usr/bin/time -f "$f" "$coffer" -C "$data" checkout -q HEAD --to "$2" >/dev/null ;;
    bupstash) /usr/bin/time -f "$f" "$bupstash" restore -q --into "$2" "id=$id" ;;
    cp) /usr/bin/time -f "$f" sh -c 'find "$1" -mindepth 1 -maxdepth 1 ! -name .coffer -exec cp -r {} "$2" \;' sh "$data" "$2" ;;
  esac
}
if [[ -n "${AFTER_DELETE:-}" ]]; then
  for _ in $(seq "$runs"); do
    for t in coffer bupstash; do
      mkdir "$out/a" "$out/b"; sync; sleep 1
      restore "$t" "$out/a" "$t first"
      rm -rf "$out/a"; sync; sleep 1
      restore "$t" "$out/b" "$t after-delete"
      rm -rf "$out/b"
    done
  done
  rm -rf "$out"
  exit 0
fi
k=0
for _ in $(seq "$runs"); do
  for t in coffer bupstash cp; do
    k=$((k + 1)); d="$out/$k-$t"; mkdir "$d"; sync; sleep 1
    restore "$t" "$d" "$t"
  done
done
rm -rf "$out"
