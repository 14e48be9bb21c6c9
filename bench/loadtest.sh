#!/usr/bin/env bash
# Load test of prefect-auth-proxy on loopback with wrk.
#
# Builds the proxy and bench/loadtest, then runs "loadtest run". It measures
# three targets: a fake Prefect 1 upstream alone, a bare
# httputil.ReverseProxy in front of it, and the proxy with a SQLite key. Each
# gets one query and a UI batch of 25 operations, at 1 and 64 connections.
# The Markdown report goes to standard output, progress to standard error.
# Arguments are passed to "loadtest run" (see "go run ./bench/loadtest run -h").
#
# With the defaults (10 s per measurement, 2 s warm-up) a run takes about
# two and a half minutes, and up to about six and a half when other
# processes disturb measurements and they are repeated (--repeat-disturbed).
#
# Example: bench/loadtest.sh > /tmp/loadtest.md
#          bench/loadtest.sh --duration 5s --connections 1,16,64
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
