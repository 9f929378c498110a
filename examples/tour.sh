#!/usr/bin/env bash
# A short tour of coffer on the embedded local store: identities, init, commit, edit, commit,
# status, log, diff, show, checkout of an old version, verify; then sharing through a remote
# (a folder here): push, clone, a second writer, pull, withdrawal and the access history; and
# an auditor's keyless audit of the shared store (with its HTML page). Run from the repository:
#
#   bash examples/tour.sh
#
# Everything happens in a fresh temporary folder; nothing outside it is touched.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -q --manifest-path "$here/Cargo.toml" --bin coffer
coffer="$here/target/release/coffer"
work=$(mktemp -d /tmp/coffer-tour.XXXXXX)
export COFFER_IDENTITY="$work/camden.id"
export XDG_CONFIG_HOME="$work/config"   # clone remembers dataset ids here, not in your ~/.config

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
in_data() { printf '\n\033[1m$ %s\033[0m\n' "$*"; (cd "$work/export" && "$@"); }

echo "tour folder: $work"
step "$coffer" id new --name "Camden data office"
step "$coffer" id show

# A folder as a legacy system would export it.
mkdir -p "$work/export/schools" "$work/export/housing" "$work/export/maps"
printf 'school,ward,places,offers\nAcland Burghley,Highgate,1200,1180\nHaverstock,Haverstock,1100,1093\n' > "$work/export/schools/places.csv"
for i in $(seq 1 20000); do echo "$i,Camden,E0$((7000000 + i)),2026-03-$((1 + i % 28)),band $((1 + i % 4)),waiting"; done > "$work/export/housing/register.csv"
printf '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"ward":"Highgate"},"geometry":{"type":"Point","coordinates":[-0.147,51.571]}}]}\n' > "$work/export/maps/wards.geojson"
head -c 300000 /dev/urandom > "$work/export/report.pdf"

in_data "$coffer" init --name "camden-services"
in_data "$coffer" commit -m "March export from the housing system"

# Realistic edits: a row changed in the middle, rows appended, a file added, one removed.
sed -i 's/^10000,Camden,\(.*\),waiting$/10000,Camden,\1,offered/' "$work/export/housing/register.csv"
for i in $(seq 20001 20100); do echo "$i,Camden,E0$((7000000 + i)),2026-04-01,band 2,waiting"; done >> "$work/export/housing/register.csv"
printf 'school,ward,places,offers\nAcland Burghley,Highgate,1200,1190\nHaverstock,Haverstock,1100,1099\n' > "$work/export/schools/places.csv"
printf 'care home,beds\nWesthorpe,40\n' > "$work/export/care.csv"
rm "$work/export/report.pdf"

in_data "$coffer" status
in_data "$coffer" commit -m "April export: offers updated, new care data"
in_data "$coffer" log
in_data "$coffer" diff HEAD~1 HEAD
in_data "$coffer" show HEAD~1
in_data "$coffer" checkout HEAD~1 --to "$work/march"
step diff -r --exclude=.coffer "$work/march/housing" "$work/export/housing" --brief || true
in_data "$coffer" verify

# Sharing: Hackney (a reader) and the GLA (a writer) each have their own identity.
step "$coffer" id new --name "Hackney" --out "$work/hackney.id"
step "$coffer" id new --name "GLA" --out "$work/gla.id"
in_data "$coffer" share add "$(COFFER_IDENTITY=$work/hackney.id "$coffer" id show 2>/dev/null)" --name Hackney
in_data "$coffer" share add "$(COFFER_IDENTITY=$work/gla.id "$coffer" id show 2>/dev/null)" --name GLA --role writer
in_data "$coffer" share list
# A remote: a folder standing in for an S3 bucket (s3://bucket/prefix works the same way,
# with credentials from AWS_* variables). Only encrypted objects go there.
in_data "$coffer" remote add origin "$work/hub"
in_data "$coffer" push
step env COFFER_IDENTITY="$work/hackney.id" "$coffer" clone "$work/hub" "$work/hackney"
step env COFFER_IDENTITY="$work/gla.id" "$coffer" clone "$work/hub" "$work/gla"
printf 'borough,places\nCamden,2300\n' > "$work/gla/gla-summary.csv"
step env COFFER_IDENTITY="$work/gla.id" "$coffer" -C "$work/gla" commit -m "GLA summary"
step env COFFER_IDENTITY="$work/gla.id" "$coffer" -C "$work/gla" push
in_data "$coffer" pull
step env COFFER_IDENTITY="$work/hackney.id" "$coffer" -C "$work/hackney" pull
step env COFFER_IDENTITY="$work/hackney.id" "$coffer" -C "$work/hackney" log -n 1
# Withdraw Hackney: versions from now on are sealed under a key it does not get.
in_data "$coffer" share remove Hackney
echo "May export" > "$work/export/may.csv"
in_data "$coffer" commit -m "May export, after Hackney's access ended"
in_data "$coffer" push
step env COFFER_IDENTITY="$work/hackney.id" "$coffer" -C "$work/hackney" pull || echo "(refused, as it should be: Camden withdrew Hackney, and the new version is sealed under a key Hackney was not given)"
in_data "$coffer" access
in_data "$coffer" verify
# An auditor: no identity, no membership, only where the store is and the dataset id.
dataset=$(sed -n 's/.*"dataset": *"\([0-9a-f]*\)".*/\1/p' "$work/export/.coffer/config.json")
step env COFFER_IDENTITY="$work/no-identity" "$coffer" audit "$work/hub" --expect-id "$dataset"
# Every push published a checkpoint (fresh for 7 days); the data office renews it from cron,
# and the auditor's page shows it with the members, versions and readers.
in_data "$coffer" checkpoint
step env COFFER_IDENTITY="$work/no-identity" "$coffer" audit "$work/hub" --html "$work/audit.html"
echo
echo "Stored bytes contain no plaintext:"
if grep -rq "Acland Burghley" "$work/export/.coffer/store" "$work/hub"; then echo "FOUND PLAINTEXT"; exit 1; else echo "  grep for 'Acland Burghley' in .coffer/store and the hub: no match"; fi
echo
echo "tour finished; files are in $work"
