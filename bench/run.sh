#!/usr/bin/env bash
# Side-by-side benchmark: coffer vs bupstash, restic and borg on the same generated ~1 GiB
# dataset.
#
#   bash bench/run.sh [WORKDIR] [SCALE]
#
# Installs restic and borgbackup from Debian if missing, and bupstash 0.12 with
# `cargo install --locked` (needs libsodium-dev and pkg-config from Debian; about 4 minutes,
# once, into $BUPSTASH_ROOT, default /tmp/bupstash-bin), builds coffer in release mode,
# generates the data (bench/gen.rs), and prints one table: first commit, commit of the edited
# version, re-commit with nothing changed, checkout of the edited version, peak memory, bytes
# stored after the first version and bytes added by the second, and `cp -r` of the tree as
# the reference for checkout. One run per cell, warm cache.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/coffer-bench}
scale=${2:-1}
tools=${TOOLS:-"coffer bupstash restic borg"}
bupstash_root=${BUPSTASH_ROOT:-/tmp/bupstash-bin}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need restic || ! need borg || [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic borgbackup time >/dev/null
fi
if [[ " $tools " == *" bupstash "* ]] && [ ! -x "$bupstash_root/bin/bupstash" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsodium-dev pkg-config >/dev/null
  cargo install -q --locked bupstash --version 0.12.0 --root "$bupstash_root"
fi
bupstash="$bupstash_root/bin/bupstash"
(cd "$here" && cargo build --release -q --bin coffer --bin coffer-bench-data)
coffer="$here/target/release/coffer"
gen="$here/target/release/coffer-bench-data"

rm -rf "$work"; mkdir -p "$work"
data="$work/data"
echo "generating data (scale $scale) in $data ..." >&2
"$gen" gen "$data" "$scale"
echo "dataset: $(du -sh --apparent-size "$data" | cut -f1), $(find "$data" -type f | wc -l) files" >&2

export RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export BUPSTASH_REPOSITORY="$work/bupstash" BUPSTASH_KEY="$work/bupstash.key"
export COFFER_IDENTITY="$work/coffer-id"
"$coffer" id new --name bench -q >/dev/null

# measure NAME CMD...: appends "seconds peak_kib cpu_seconds" for the command to $work/NAME;
# its stdout is kept in $work/.out.
# Each starts from a quiet machine: the previous step's dirty pages are written out first,
# so no tool pays for another's writeback.
measure() {
  local name=$1; shift
  sync
  /usr/bin/time -f "%e %M %U %S" -o "$work/.t" "$@" >"$work/.out" 2>"$work/.err" || { cat "$work/.err" >&2; exit 1; }
  read -r wall peak user sys < "$work/.t"
  echo "$wall $peak $(echo "$user + $sys" | bc -l)" >> "$work/$name"
}
size() { du -sb "$1" | cut -f1; }

commit() { # TOOL LABEL
  case $1 in
    coffer) measure "coffer.$2" "$coffer" -C "$data" commit -q -m "$2" --allow-empty ;;
    bupstash) measure "bupstash.$2" "$bupstash" put --exclude "$data/.coffer" "$data"
              cp "$work/.out" "$work/bupstash.$2.id" ;;
    restic) measure "restic.$2" restic -q -r "$work/restic" backup "$data" --exclude "$data/.coffer" ;;
    borg)   measure "borg.$2" borg create "$work/borg::$2" "$data" --exclude "$data/.coffer" ;;
  esac
}
stored() { # TOOL
  case $1 in
    coffer) size "$data/.coffer/store" ;;
    bupstash) size "$work/bupstash" ;;
    restic) size "$work/restic" ;;
    borg)   size "$work/borg" ;;
  esac
}
restore() { # TOOL
  local t="$work/restore-$1"; rm -rf "$t"; mkdir -p "$t"
  case $1 in
    coffer) measure "$1.restore" "$coffer" -C "$data" checkout -q HEAD --to "$t" ;;
    bupstash) measure "$1.restore" "$bupstash" restore --into "$t" "id=$(tr -d '[:space:]' < "$work/bupstash.v2.id")" ;;
    restic) measure "$1.restore" restic -q -r "$work/restic" restore latest --target "$t" ;;
    borg)   (cd "$t" && measure "$1.restore" borg extract "$work/borg::v2") ;;
  esac
}

"$coffer" -C "$data" init -q >/dev/null
restic -q -r "$work/restic" init >/dev/null
borg init -e repokey-blake2 "$work/borg" >/dev/null 2>&1
if [[ " $tools " == *" bupstash "* ]]; then
  "$bupstash" new-key -o "$work/bupstash.key" && "$bupstash" init >/dev/null
fi

for t in $tools; do commit "$t" v1; echo "$(stored "$t")" > "$work/$t.s1"; done
"$gen" edit "$data"
for t in $tools; do commit "$t" v2; echo "$(stored "$t")" > "$work/$t.s2"; done
for t in $tools; do commit "$t" v3; done
for t in $tools; do restore "$t"; done
# The reference for checkout: cp -r of the same tree (the edited version, store left out),
# from the same warm cache into the same file system.
ref="$work/restore-cp"; rm -rf "$ref"; mkdir -p "$ref"
measure cp.restore sh -c 'find "$1" -mindepth 1 -maxdepth 1 ! -name .coffer -exec cp -r {} "$2" \;' sh "$data" "$ref"
# Restored trees go only now: ext4 makes new files slowly for a few minutes where many were
# just deleted (find_inode_bit skips recently freed inodes), which would tax whichever tool
# restored next.
for t in $tools cp; do rm -rf "$work/restore-$t"; done

# Each cell: wall seconds (CPU seconds, user + system).
cell() { printf '%s (%.2f)' "$(cut -d' ' -f1 "$1")" "$(cut -d' ' -f3 "$1")"; }
printf '\n%-9s %16s %16s %16s %16s %10s %12s %12s\n' tool "first(s)" "edit(s)" "unchanged(s)" "restore(s)" "peak(MiB)" "stored(MiB)" "added(MiB)"
for t in $tools; do
  f=$(cell "$work/$t.v1"); e=$(cell "$work/$t.v2"); u=$(cell "$work/$t.v3")
  r=$(cell "$work/$t.restore")
  peak=$(cat "$work/$t.v1" "$work/$t.v2" "$work/$t.v3" "$work/$t.restore" | cut -d' ' -f2 | sort -n | tail -1)
  s1=$(cat "$work/$t.s1"); s2=$(cat "$work/$t.s2")
  printf '%-9s %16s %16s %16s %16s %10d %12.1f %12.1f\n' "$t" "$f" "$e" "$u" "$r" $((peak / 1024)) \
    "$(echo "$s1 / 1048576" | bc -l)" "$(echo "($s2 - $s1) / 1048576" | bc -l)"
done
printf '%-9s %16s %16s %16s %16s %10d %12s %12s\n' "cp -r" - - - "$(cell "$work/cp.restore")" \
  $(($(cut -d' ' -f2 "$work/cp.restore") / 1024)) - -
