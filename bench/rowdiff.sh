#!/usr/bin/env bash
# Row diff of a large CSV: a table of N million rows (about 40 bytes each), committed, then
# rows appended, cells changed and rows removed, committed again; `coffer diff --rows --key
# id` between the two versions, then without a key, then `coffer cat` of both versions as
# the reference. Prints wall and CPU time and peak memory.
#
#   bash bench/rowdiff.sh [MILLION_ROWS] [WORKDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
m=${1:-5}
work=${2:-/tmp/coffer-rowdiff-bench}
(cd "$here" && cargo build --release -q --bin coffer)
coffer="$here/target/release/coffer"
rm -rf "$work"; mkdir -p "$work/data"
export COFFER_IDENTITY="$work/id" XDG_CONFIG_HOME="$work/config"
"$coffer" id new -q --name bench --out "$work/id" >/dev/null
cd "$work/data"
python3 - "$m" <<'PY'
import random, sys
n = int(float(sys.argv[1]) * 1_000_000)
random.seed(1)
with open("register.csv", "w") as f:
    f.write("id,ward,tenure,rent\n")
    for i in range(n):
        f.write(f"{i},W{i % 33:02},{'council' if i % 3 else 'housing association'},{random.randint(80, 400)}\n")
PY
"$coffer" init -q >/dev/null
"$coffer" commit -q -m v1 >/dev/null
python3 - "$m" <<'PY'
import sys
n = int(float(sys.argv[1]) * 1_000_000)
lines = open("register.csv").read().split("\n")
for k in range(1, n, n // 50):          # 50 changed cells spread through the file
    parts = lines[k].split(","); parts[3] = "999"; lines[k] = ",".join(parts)
del lines[n // 2]                        # one row removed mid-file
lines.insert(-1, f"{n},W01,council,123")  # one appended
open("register.csv", "w").write("\n".join(lines))
PY
"$coffer" commit -q -m v2 >/dev/null
echo "table: $(du -h --apparent-size register.csv | cut -f1)"
/usr/bin/time -f "diff --rows --key id: %e s wall (%U s user, %S s system), peak %M KiB" \
  "$coffer" diff HEAD~1 HEAD --rows --key id --json > "$work/diff.json"
python3 -c "import json; d=json.load(open('$work/diff.json'))[0]; print('added', len(d['added']), 'removed', len(d['removed']), 'changed', len(d['changed']), 'rows skipped by chunk id', d.get('rows_skipped', 0))"
/usr/bin/time -f "diff --rows (no key): %e s wall (%U s user, %S s system), peak %M KiB" \
  "$coffer" diff HEAD~1 HEAD --rows --json > /dev/null
# The reference: reading (decrypting, decompressing) both versions of the table.
/usr/bin/time -f "cat of both versions: %e s wall (%U s user, %S s system), peak %M KiB" \
  sh -c '"$0" cat HEAD~1 register.csv >/dev/null && "$0" cat HEAD register.csv >/dev/null' "$coffer"
