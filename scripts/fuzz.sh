#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang + ASan + UBSan in
# build-fuzz/ and runs each for a bounded time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 20)
#
# Env: JOBS (build parallelism, default 2), KEEP=1 keeps the work dirs.
# Each target runs in its own temporary directory (corpus, crash artifacts,
# log), so nothing lands in the repository; a failing target's directory is
# kept and printed. Prints one line per target, then
# "fuzz: N passed, M failed"; exits 1 when any target failed, 2 when the
# build failed.
set -uo pipefail

secs="${1:-20}"
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
  echo "usage: $0 [SECONDS_PER_TARGET]" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
jobs="${JOBS:-2}"
targets=(config_fuzz sql_script_fuzz agent_spec_fuzz)

flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
flags+=" -fno-omit-frame-pointer"
log="$(mktemp -t tusk-fuzz-build.XXXXXX)"
if ! CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS="$flags" -DTUSK_BUILD_TESTS=OFF -DTUSK_FUZZ=ON >"$log" 2>&1 ||
   ! cmake --build "$build" --target "${targets[@]}" -j "$jobs" >>"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "fuzz: build failed (full log: $log)" >&2
  exit 2
fi
rm -f "$log"

# Seeds: examples for the config loader and the SQL splitter; a small spec for the agent.
seed_dir() {
  local t="$1" dir="$2"
  mkdir -p "$dir"
  case "$t" in
    config_fuzz) cp "$root"/examples/*.yaml "$dir"/ 2>/dev/null ;;
    sql_script_fuzz) cp "$root"/examples/sql/*.sql "$dir"/ 2>/dev/null ;;
    agent_spec_fuzz)
      cat >"$dir/spec.json" <<'JSON'
{"instances": [{"name": "main", "data_dir": "/srv/tusk/main", "postgres_bin":
 "/usr/lib/postgresql/15/bin", "port": 5432, "socket_dir": "/srv/tusk/.run/main",
 "log_file": "/srv/tusk/main.log", "run_as": {"uid": 105, "gid": 110,
 "name": "postgres", "home": "/var/lib/postgresql"}}]}
JSON
      echo '{"instances": []}' >"$dir/empty.json" ;;
  esac
}

passed=0
failed=0
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
for t in "${targets[@]}"; do
  work="$(mktemp -d -t "tusk-$t.XXXXXX")"
  seed_dir "$t" "$work/seeds"
  mkdir -p "$work/corpus"
  (cd "$work" && "$build/fuzz/$t" -max_total_time="$secs" -max_len=4096 -timeout=10 \
      -artifact_prefix="$work/" -print_final_stats=1 corpus seeds >"$work/log" 2>&1)
  rc=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)"
  artifact="$(ls "$work" | grep -E '^(crash|leak|timeout|oom)-' | head -n 1)"
  if [ "$rc" -eq 0 ] && [ -z "$artifact" ]; then
    passed=$((passed + 1))
    echo "fuzz: $t ok (${secs}s, ${runs:-?} runs)"
    [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
  else
    failed=$((failed + 1))
    echo "fuzz: $t FAILED (exit $rc${artifact:+, $work/$artifact}; log $work/log)"
    grep -E 'ERROR:|runtime error:|SUMMARY:|==[0-9]+==' "$work/log" | head -n 5 | sed 's/^/  /'
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
