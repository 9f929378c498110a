#!/usr/bin/env bash
# The auditor's cost: a history of N versions with small, realistic edits (rows appended to
# and changed in a few CSVs, a file added now and then), pushed to a folder store, then
# `coffer audit` of that store with no identity. Prints wall and CPU time and peak memory.
#
#   bash bench/audit.sh [N] [WORKDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000}
work=${2:-/tmp/coffer-audit-bench}
(cd "$here" && cargo build --release -q --bin coffer)
coffer="$here/target/release/coffer"
rm -rf "$work"; mkdir -p "$work/data/housing" "$work/data/schools"
export COFFER_IDENTITY="$work/camden.id" XDG_CONFIG_HOME="$work/config"
"$coffer" id new -q --name Camden --out "$work/camden.id" >/dev/null
cd "$work/data"
for f in housing/register schools/places care/packages; do
  mkdir -p "$(dirname "$f")"
  python3 -c "import random; random.seed('$f'); print('id,ward,value'); [print(f'{i},W{i%33},{random.randint(0,999)}') for i in range(20000)]" > "$f.csv"
done
"$coffer" init -q >/dev/null
"$coffer" remote add origin "$work/store" --create >/dev/null
start=$(date +%s)
for i in $(seq 1 "$n"); do
  echo "$((20000 + i)),W$((i % 33)),$i" >> housing/register.csv
  sed -i "$(( (i * 7919) % 20000 + 2 ))s/,[0-9]*\$/,$i/" schools/places.csv
  if (( i % 50 == 0 )); then echo "note $i" > "notes-$i.txt"; fi
  "$coffer" commit -q -m "edit $i" >/dev/null
done
echo "made $n versions in $(( $(date +%s) - start )) s"
"$coffer" push -q >/dev/null
echo "store: $(du -sb "$work/store" | cut -f1) bytes, $(find "$work/store" -type f | wc -l) objects"
unset COFFER_IDENTITY
cd "$work"
/usr/bin/time -f "audit: %e s wall (%U s user, %S s system), peak %M KiB" \
  "$coffer" audit "$work/store" --json > "$work/audit.json"
python3 -c "import json; r=json.load(open('$work/audit.json')); print('versions', r['versions'], 'packs', r['packs'], 'findings', len(r['findings']))"
