#!/bin/sh
# Run the privacy/ benchmarks. Usage: bench/privacy.sh BUILD_DIR [--quick]
# (build with -DCMAKE_BUILD_TYPE=Release for meaningful figures).
set -e
B=${1:-build}
shift || true
exec "$B/bench/bench_privacy" "$@"
