#!/usr/bin/env bash
# Memory per file: FILES small files (default a million, 100 folders of 10,000), committed,
# committed again unchanged, checked out into an empty folder and in place, verified, pushed
# to a folder remote and cloned from it; prints time and peak memory of each, and the growth
# per file against a run with a tenth of the files.
#
#   bash bench/many.sh [FILES] [WORKDIR]       (STEPS="commit verify" runs some steps)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
work=${2:-/tmp/coffer-many}
(cd "$here" && cargo build --release -q --bin coffer --bin coffer-bench-data)
coffer="$here/target/release/coffer"
gen="$here/target/release/coffer-bench-data"
export COFFER_IDENTITY="$work/id" XDG_CONFIG_HOME="$work/config"
run() { # FILES -> prints one line per step: step files seconds peak_kib
  local files=$1 d="$work/data-$1"
  rm -rf "$d" "$work/out-$1"; mkdir -p "$d"
  "$gen" many "$d" "$files"
  "$coffer" -C "$d" init -q >/dev/null
  for step in $steps; do
    case $step in
      commit)   cmd=("$coffer" -C "$d" commit -q -m v1) ;;
      recommit) cmd=("$coffer" -C "$d" commit -q -m v2 --allow-empty) ;;
      checkout) cmd=("$coffer" -C "$d" checkout -q HEAD --to "$work/out-$files") ;;
      inplace)  cmd=("$coffer" -C "$d" checkout -q HEAD~1) ;;
      verify)   cmd=("$coffer" -C "$d" verify -q) ;;
      push)     "$coffer" -C "$d" remote add -q origin "$work/remote-$files" >/dev/null
                cmd=("$coffer" -C "$d" push -q origin) ;;
      clone)    cmd=("$coffer" clone -q "$work/remote-$files" "$work/clone-$files") ;;
    esac
    /usr/bin/time -f "%e %M" -o "$work/.t" "${cmd[@]}" >/dev/null
    echo "$step $files $(cat "$work/.t")"
  done
  rm -rf "$d" "$work/out-$files" "$work/remote-$files" "$work/clone-$files"
}
steps=${STEPS:-"commit recommit checkout inplace verify push clone"}
rm -rf "$work"; mkdir -p "$work"
"$coffer" id new --name bench -q --out "$work/id" >/dev/null
small=$((n / 10))
{ run "$small"; run "$n"; } | tee "$work/results"
echo
printf '%-9s %12s %12s %12s %12s %14s\n' step "files" "seconds" "peak MiB" "at 1/10" "bytes per file"
for step in $steps; do
  read -r _ f1 s1 k1 < <(grep "^$step $small " "$work/results")
  read -r _ f2 s2 k2 < <(grep "^$step $n " "$work/results")
  printf '%-9s %12d %12.1f %12.1f %12.1f %14.0f\n' "$step" "$f2" "$s2" "$((k2 / 1024))" "$((k1 / 1024))" \
    "$(echo "($k2 - $k1) * 1024 / ($f2 - $f1)" | bc -l)"
done
