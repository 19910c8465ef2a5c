#!/usr/bin/env bash
# Builds Prometheus Alertmanager from its Go module source into $1:
#
#   scripts/e2e/build-alertmanager.sh /tmp/alertmanager [v0.34.0]
#
# `go install github.com/prometheus/alertmanager/cmd/alertmanager@v0.34.0`
# fails: the module embeds ui/app/dist, which is built by npm and not in
# the module. So the module source is downloaded, copied, given a
# placeholder ui/app/dist/index.html, and built. Needs Go and the module
# proxy; takes 1-3 minutes on 2 cores.
set -euo pipefail
out=${1:?usage: build-alertmanager.sh OUTPUT [VERSION]}
version=${2:-${AM_VERSION:-v0.34.0}}
work=$(mktemp -d "${TMPDIR:-/tmp}/firebreak-am-build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
src=$(cd "$work" && GOFLAGS= go mod download -json "github.com/prometheus/alertmanager@$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$src" ] && [ -d "$src" ] || { echo "go mod download of alertmanager@$version gave no directory" >&2; exit 1; }
cp -r "$src" "$work/src"
chmod -R u+w "$work/src"
mkdir -p "$work/src/ui/app/dist"
echo '<!doctype html><title>Alertmanager UI not built</title>' >"$work/src/ui/app/dist/index.html"
case "$out" in /*) ;; *) out="$(pwd)/$out" ;; esac
(cd "$work/src" && GOFLAGS=-mod=mod go build -o "$out" ./cmd/alertmanager)
