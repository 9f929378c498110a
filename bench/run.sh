#!/usr/bin/env bash
# Side-by-side benchmark: coffer vs restic vs borg on the same generated ~1 GiB dataset.
#
#   bash bench/run.sh [WORKDIR] [SCALE]
#
# Installs restic and borgbackup from Debian if missing, builds coffer in release mode,
# generates the data (bench/gen.rs), and prints one table: first commit, commit of the edited
# version, re-commit with nothing changed, checkout of the edited version, peak memory, bytes
# stored after the first version and bytes added by the second. One run per cell, warm cache.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/coffer-bench}
scale=${2:-1}
tools=${TOOLS:-"coffer restic borg"}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need restic || ! need borg || [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic borgbackup time >/dev/null
fi
(cd "$here" && cargo build --release -q --bin coffer --bin coffer-bench-data)
coffer="$here/target/release/coffer"
gen="$here/target/release/coffer-bench-data"

rm -rf "$work"; mkdir -p "$work"
data="$work/data"
echo "generating data (scale $scale) in $data ..." >&2
"$gen" gen "$data" "$scale"
echo "dataset: $(du -sh --apparent-size "$data" | cut -f1), $(find "$data" -type f | wc -l) files" >&2

export RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export COFFER_IDENTITY="$work/coffer-id"
"$coffer" id new --name bench -q >/dev/null

# measure NAME CMD...: appends "seconds peak_kib" for the command to $work/NAME.
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/.t" "$@" >/dev/null 2>"$work/.err" || { cat "$work/.err" >&2; exit 1; }
  echo "$(cat "$work/.t")" >> "$work/$name"
}
size() { du -sb "$1" | cut -f1; }

commit() { # TOOL LABEL
  case $1 in
    coffer) measure "coffer.$2" "$coffer" -C "$data" commit -q -m "$2" --allow-empty ;;
    restic) measure "restic.$2" restic -q -r "$work/restic" backup "$data" --exclude "$data/.coffer" ;;
    borg)   measure "borg.$2" borg create "$work/borg::$2" "$data" --exclude "$data/.coffer" ;;
  esac
}
stored() { # TOOL
  case $1 in
    coffer) size "$data/.coffer/store" ;;
    restic) size "$work/restic" ;;
    borg)   size "$work/borg" ;;
  esac
}
restore() { # TOOL
  local t="$work/restore-$1"; rm -rf "$t"; mkdir -p "$t"
  case $1 in
    coffer) measure "$1.restore" "$coffer" -C "$data" checkout -q HEAD --to "$t" ;;
    restic) measure "$1.restore" restic -q -r "$work/restic" restore latest --target "$t" ;;
    borg)   (cd "$t" && measure "$1.restore" borg extract "$work/borg::v2") ;;
  esac
  rm -rf "$t"
}

"$coffer" -C "$data" init -q >/dev/null
restic -q -r "$work/restic" init >/dev/null
borg init -e repokey-blake2 "$work/borg" >/dev/null 2>&1

for t in $tools; do commit "$t" v1; echo "$(stored "$t")" > "$work/$t.s1"; done
"$gen" edit "$data"
for t in $tools; do commit "$t" v2; echo "$(stored "$t")" > "$work/$t.s2"; done
for t in $tools; do commit "$t" v3; done
for t in $tools; do restore "$t"; done

printf '\n%-8s %10s %10s %12s %10s %10s %12s %12s\n' tool "first(s)" "edit(s)" "unchanged(s)" "restore(s)" "peak(MiB)" "stored(MiB)" "added(MiB)"
for t in $tools; do
  f=$(cut -d' ' -f1 "$work/$t.v1"); e=$(cut -d' ' -f1 "$work/$t.v2"); u=$(cut -d' ' -f1 "$work/$t.v3")
  r=$(cut -d' ' -f1 "$work/$t.restore")
  peak=$(cat "$work/$t.v1" "$work/$t.v2" "$work/$t.v3" "$work/$t.restore" | cut -d' ' -f2 | sort -n | tail -1)
  s1=$(cat "$work/$t.s1"); s2=$(cat "$work/$t.s2")
  printf '%-8s %10s %10s %12s %10s %10d %12.1f %12.1f\n' "$t" "$f" "$e" "$u" "$r" $((peak / 1024)) \
    "$(echo "$s1 / 1048576" | bc -l)" "$(echo "($s2 - $s1) / 1048576" | bc -l)"
done
