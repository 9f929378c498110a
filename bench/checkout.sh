#!/usr/bin/env bash
# Checkout side by side, alternating: `coffer checkout HEAD --to`, `bupstash restore` and
# `cp -r` of the same tree, RUNS times, each into a new folder after `sync`. Restored trees are
# deleted only at the end: ext4 makes new files slowly for minutes where many were just
# deleted, which would tax whichever tool went next.
#
#   bash bench/checkout.sh [WORKDIR] [RUNS]
#
# WORKDIR is one that `bench/run.sh` left (default /tmp/coffer-bench): its data folder, coffer
# identity, bupstash repository and key. Prints one line per step: wall, user and system
# seconds, and peak memory.
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
k=0
for _ in $(seq "$runs"); do
  for t in coffer bupstash cp; do
    k=$((k + 1)); d="$out/$k-$t"; mkdir "$d"; sync; sleep 1
    f="$t %e s wall %U user %S system %M KiB"
    case $t in
      coffer) /usr/bin/time -f "$f" "$coffer" -C "$data" checkout -q HEAD --to "$d" >/dev/null ;;
      bupstash) /usr/bin/time -f "$f" "$bupstash" restore -q --into "$d" "id=$id" ;;
      cp) /usr/bin/time -f "$f" sh -c 'find "$1" -mindepth 1 -maxdepth 1 ! -name .coffer -exec cp -r {} "$2" \;' sh "$data" "$d" ;;
    esac
  done
done
rm -rf "$out"
