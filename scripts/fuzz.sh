#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang + ASan + UBSan in
# build-fuzz/ and runs each for a bounded time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 20)
#
# protocol_fuzz (the wire decoder, fed by untrusted clients) runs twice as long.
# Env: JOBS (build parallelism, default 2), KEEP=1 keeps the work dirs.
# Each target runs in its own temporary directory (corpus, crash artifacts,
# log), so nothing lands in the repository; a failing target's directory is
# kept and printed. Prints one line per target (for a failing one also the
# log's error lines and the input in base64), then "fuzz: N passed, M failed";
# exits 1 when any target failed, 2 when the build failed.
set -uo pipefail

secs="${1:-20}"
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
  echo "usage: $0 [SECONDS_PER_TARGET]" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
jobs="${JOBS:-2}"
targets=(config_fuzz sql_script_fuzz agent_spec_fuzz protocol_fuzz router_spec_fuzz pipeline_sql_fuzz
         set_command_fuzz)
# Per-target multiple of SECONDS_PER_TARGET (default 1).
declare -A time_factor=([protocol_fuzz]=2)

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

# Seeds: examples for the config loader and the SQL splitter; a small spec for
# the agent and the router; startup packets, message streams and SCRAM halves for the codec;
# pgbench's queries and quoting/comment/multi-statement cases for the pipelining classifier;
# SET/RESET forms, savepoints, transaction ends, LISTEN and session state (DO blocks too)
# for the settings parser.
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
    router_spec_fuzz)
      cat >"$dir/spec.json" <<'JSON'
{"instance": "main", "listen": "127.0.0.1", "port": 6432, "readonly_port": 6433,
 "mode": "transaction", "pool_size": 20, "pool_wait_timeout_ms": 30000,
 "client_auth": "scram-sha-256", "admin_roles": ["postgres"], "tls_mode": "allow",
 "tls_cert_file": "/s/.tls/main/router.crt", "tls_key_file": "/s/.tls/main/router.key",
 "primary": {"host": "127.0.0.1", "port": 5432},
 "standbys": [{"host": "10.0.0.6", "port": 5432}], "secrets_file": "/s/.secrets/main.router.json",
 "status_file": "/s/.agent/main.router.status.json", "pid_file": "/s/.run/main.router.pid"}
JSON
      echo '{"instance": "m", "port": 1, "tls_mode": "disable", "primary": {"host": "h", "port": 2}, "secrets_file": "s"}' >"$dir/min.json" ;;
    pipeline_sql_fuzz)
      printf '%s' 'SELECT abalance FROM pgbench_accounts WHERE aid = 4242;' >"$dir/select.sql"
      printf '%s' 'UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 1;' >"$dir/update.sql"
      printf '%s' "/* a /* b */ */ with x as (select 'it''s;' as \"q\"\"\") table x -- c" >"$dir/quotes.sql"
      printf '%s' "SELECT 1; BEGIN; SELECT \$\$x\$\$, E'\\'', currval('s')" >"$dir/multi.sql" ;;
    set_command_fuzz)
      printf '%s' "SET search_path = 'My Schema', \"\$user\", public;" >"$dir/list.sql"
      printf '%s' "set session characteristics as transaction isolation level read committed, read only" >"$dir/chars.sql"
      printf '%s' "/* c */ RESET app.Tenant -- x" >"$dir/reset.sql"
      printf '%s' "SET x = -00.5e3, E'a', U&'b', \$\$c\$\$; DISCARD ALL" >"$dir/odd.sql"
      printf '%s' "SELECT 'a;b'; /* ; */ Listen \"Ch\"; UNLISTEN *" >"$dir/listen.sql"
      printf '%s' "BEGIN; SAVEPOINT \"Sp\"; SET a.b = 1; ROLLBACK WORK TO savepoint; RELEASE x" >"$dir/savepoint.sql"
      printf '%s' "CREATE TEMP TABLE t AS SELECT pg_catalog.set_config('a.b', f(1, '2'), 'on'), \"set_config\"(x, y, false)" >"$dir/state.sql"
      printf '%s' "DO \$a\$ BEGIN EXECUTE 'CREATE TEMP TABLE t ()'; PERFORM pg_advisory_lock(1); END \$a\$; COMMIT AND CHAIN" >"$dir/do.sql" ;;
    protocol_fuzz) python3 - "$dir" <<'PY' ;;
import base64, struct, sys
d = sys.argv[1]
def i16(v): return struct.pack("!h", v)
def i32(v): return struct.pack("!i", v)
def cstr(s): return s.encode() + b"\0"
def msg(t, body): return t.encode() + i32(len(body) + 4) + body
def startup(code, body): return i32(len(body) + 8) + i32(code) + body
def write(name, data): open(f"{d}/{name}", "wb").write(data)
write("startup", startup(196608, cstr("user") + cstr("alice") + cstr("database") + cstr("db")
                         + cstr("_pq_.x") + cstr("1") + b"\0"))
write("ssl", startup(80877103, b""))
write("gss", startup(80877104, b""))
write("cancel", startup(80877102, i32(4242) + i32(99)))
bind = cstr("") + cstr("s1") + i16(1) + i16(0) + i16(2) + i32(2) + b"ab" + i32(-1) + i16(1) + i16(0)
write("frontend", msg("Q", cstr("select 1")) + msg("P", cstr("s1") + cstr("select $1") + i16(1)
      + i32(25)) + msg("B", bind) + msg("D", b"S" + cstr("s1")) + msg("E", cstr("") + i32(0))
      + msg("C", b"S" + cstr("s1")) + msg("S", b"") + msg("X", b""))
write("backend", msg("R", i32(0)) + msg("S", cstr("server_version") + cstr("15.4"))
      + msg("K", i32(1) + i32(2)) + msg("Z", b"I") + msg("T", i16(1) + cstr("c") + i32(0) + i16(0)
      + i32(25) + i16(-1) + i32(-1) + i16(0)) + msg("D", i16(2) + i32(1) + b"x" + i32(-1))
      + msg("C", cstr("SELECT 1")) + msg("E", b"SERROR\0C42P01\0Mno such table\0\0"))
write("auth", msg("R", i32(10) + cstr("SCRAM-SHA-256") + b"\0") + msg("R", i32(5) + b"salt")
      + msg("p", cstr("SCRAM-SHA-256") + i32(11) + b"n,,n=,r=abc") + msg("p", cstr("md5abc"))
      + msg("R", i32(11) + b"r=abc,s=QUJD,i=1") + msg("R", i32(12) + b"v=x"))
# SCRAM halves of equal length; "@N" is the other side's nonce.
proof = base64.b64encode(bytes(range(32))).decode()
final = "c=biws,r=@N,p=" + proof
first = "n,,n=,r=abc"
write("scram_server", (first + ",x=" + "a" * (len(final) - len(first) - 3) + final).encode())
server_final = "v=" + proof
server_first = "r=@N{},s=QUJD,i=1"
pad = "s" * (len(server_final) - len(server_first) + 2)
write("scram_client", (server_first.format(pad) + server_final).encode())
PY
  esac
}

passed=0
failed=0
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
for t in "${targets[@]}"; do
  t_secs=$((secs * ${time_factor[$t]:-1}))
  work="$(mktemp -d -t "tusk-$t.XXXXXX")"
  seed_dir "$t" "$work/seeds"
  mkdir -p "$work/corpus"
  (cd "$work" && "$build/fuzz/$t" -max_total_time="$t_secs" -max_len=4096 -timeout=10 \
      -artifact_prefix="$work/" -print_final_stats=1 corpus seeds >"$work/log" 2>&1)
  rc=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)"
  artifact="$(ls "$work" | grep -E '^(crash|leak|timeout|oom)-' | head -n 1)"
  if [ "$rc" -eq 0 ] && [ -z "$artifact" ]; then
    passed=$((passed + 1))
    echo "fuzz: $t ok (${t_secs}s, ${runs:-?} runs)"
    [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
  else
    failed=$((failed + 1))
    echo "fuzz: $t FAILED (exit $rc${artifact:+, $work/$artifact}; log $work/log)"
    grep -E 'ERROR:|runtime error:|SUMMARY:|==[0-9]+==|fuzz invariant failed' "$work/log" |
      head -n 6 | sed 's/^/  /'
    # The input itself, so a failure on a CI machine can be replayed elsewhere:
    # base64 -d > crash && build-fuzz/fuzz/<target> crash
    [ -n "$artifact" ] && echo "  input (base64): $(head -c 4096 "$work/$artifact" | base64 -w0)"
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
