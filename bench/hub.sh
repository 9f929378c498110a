#!/usr/bin/env bash
# `coffer list` of a hub bucket holding N datasets (each: a genesis, one share change, two
# versions, a checkpoint per push) on a local S3 server (moto on 127.0.0.1): time, peak
# memory and requests.
#
#   bash bench/hub.sh [N] [WORKDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100}
work=${2:-/tmp/coffer-hub-bench}
venv="$work/venv"
mkdir -p "$work"
if [ ! -x "$venv/bin/moto_server" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'moto[s3]==5.2.5' flask==3.1.3 flask-cors==6.0.5
fi
(cd "$here" && cargo build --release -q --bin coffer)
coffer="$here/target/release/coffer"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  python3 -c "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:$port/hub', method='PUT'))" 2>/dev/null && break
  sleep 0.1
done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 \
  AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ALLOW_HTTP=true \
  COFFER_IDENTITY="$work/id" XDG_CONFIG_HOME="$work/config"
rm -rf "$work/ds" "$work/config" "$work/id" "$work/other.id"
"$coffer" id new -q --name camden --out "$work/id" >/dev/null
other=$("$coffer" id new -q --name hackney --out "$work/other.id")
for i in $(seq 1 "$n"); do
  d="$work/ds/$i"; mkdir -p "$d"
  echo "id,value" > "$d/t.csv"; echo "1,$i" >> "$d/t.csv"
  "$coffer" -C "$d" init -q --name "dataset-$i" >/dev/null
  "$coffer" -C "$d" commit -q -m v1 >/dev/null
  "$coffer" -C "$d" share add "$other" --name Hackney -q >/dev/null
  "$coffer" -C "$d" remote add origin "s3://hub/borough-$((i % 33))/dataset-$i" >/dev/null
  "$coffer" -C "$d" push -q >/dev/null
  echo "2,$i" >> "$d/t.csv"
  "$coffer" -C "$d" commit -q -m v2 >/dev/null
  "$coffer" -C "$d" push -q >/dev/null
done
/usr/bin/time -f "list: %e s wall (%U s user, %S s system), peak %M KiB" \
  "$coffer" list s3://hub --json > "$work/list.json"
python3 -c "import json; h=json.load(open('$work/list.json')); print(len([d for d in h['datasets'] if 'id' in d]), 'datasets,', h['requests'], 'requests')"
