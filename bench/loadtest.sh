#!/usr/bin/env bash
# Load test of prefect-auth-proxy on loopback with wrk.
#
# Builds the proxy and bench/loadtest, then runs "loadtest run". It measures
# three targets: a fake Prefect upstream alone, a bare httputil.ReverseProxy
# in front of it, and the proxy with a SQLite key. In GraphQL mode (Prefect 1)
# each gets one query and a UI batch of 25 operations. In REST mode
# (Prefect 2/3) a second bare ReverseProxy and a second proxy, with a
# role/viewer key, get GET /api/flows/{id} and POST /api/flow_runs/filter.
# Every scenario runs at 1 and 64 connections.
# The Markdown report goes to standard output, progress to standard error.
# Arguments are passed to "loadtest run" (see "go run ./bench/loadtest run -h").
#
# With the defaults (10 s per measurement, 2 s warm-up, both modes) a run
# takes about five minutes, and up to about thirteen when other processes
# disturb measurements and they are repeated (--repeat-disturbed).
# --modes graphql or --modes rest halves that.
#
# Example: bench/loadtest.sh > /tmp/loadtest.md
#          bench/loadtest.sh --modes rest --duration 5s --connections 1,16,64
set -euo pipefail

cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
	echo "loadtest.sh: wrk is not installed." >&2
	echo "Install the Debian package: apt-get install -y wrk (run apt-get update first on a new machine)" >&2
	exit 1
fi

build_dir="$(mktemp -d)"
trap 'rm -rf "$build_dir"' EXIT

echo "building prefect-auth-proxy and loadtest in $build_dir" >&2
go build -o "$build_dir/prefect-auth-proxy" ./cmd/prefect-auth-proxy
go build -o "$build_dir/loadtest" ./bench/loadtest

"$build_dir/loadtest" run --proxy-binary "$build_dir/prefect-auth-proxy" "$@"
