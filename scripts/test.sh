#!/usr/bin/env bash
# Builds tusk and runs the whole test suite: unit tests (GoogleTest) and
# integration tests (real PostgreSQL 15, psql, pgbench, psycopg2) through ctest.
# Usage: scripts/test.sh [extra ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTUSK_BUILD_TESTS=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
ctest --test-dir "$BUILD" --output-on-failure "$@"
