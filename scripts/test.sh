#!/usr/bin/env bash
# Builds tusk and runs the whole test suite: unit tests (GoogleTest) and
# integration tests (real PostgreSQL 15, psql, pgbench, psycopg2) through ctest.
# Usage: scripts/test.sh [extra ctest args]
# Env: BUILD_DIR (default build), SANITIZE=1 builds with ASan+UBSan (default
# build dir build-asan) so unit and integration tests run sanitized binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
SAN=OFF
if [ "${SANITIZE:-0}" = 1 ]; then
  SAN=ON
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
fi
BUILD=${BUILD_DIR:-$([ "$SAN" = ON ] && echo build-asan || echo build)}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTUSK_BUILD_TESTS=ON \
  -DTUSK_SANITIZE="$SAN" >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
ctest --test-dir "$BUILD" --output-on-failure "$@"
