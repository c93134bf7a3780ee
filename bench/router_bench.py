#!/usr/bin/python3
"""Benchmark: tusk's router vs PgBouncer vs direct PostgreSQL, side by side, with pgbench.

One PostgreSQL 15 is initialised in a temp dir (as `postgres`; scram-sha-256 for TCP
and for the bench role on the unix socket; max_connections 600, shared_buffers 256MB,
max_wal_size 4GB) with a role `bench` and `pgbench -i -s 10`. In front of it run
  * PgBouncer (/usr/sbin/pgbouncer): pool_mode transaction, default_pool_size POOL,
    max_client_conn 6000, auth_type scram-sha-256 with the role's SCRAM verifier from
    pg_authid in its auth_file, connection logging off;
  * tusk's router (`tusk router --spec FILE`): mode transaction, pool_size POOL, TLS
    disabled, client_auth scram-sha-256, workers = CPUs (the spec default; --router-workers),
    pipeline_depth 8 (--pipeline-depth; 0 turns pipelining off), busy_poll_us and
    sched_policy and concurrency_limit as the spec's defaults (--busy-poll-us N sets it,
    0 turns polling off; --sched-policy normal|batch; --concurrency-limit N, 0 = off).
Both poolers reach PostgreSQL over its unix socket (--server-socket tcp: 127.0.0.1).
pgbench always connects over TCP to 127.0.0.1, to each of the three targets in turn:
  * -S (select only) and TPC-B-like, -M simple and -M prepared, at 10/50/100/500
    clients, DURATION s per target (-j = min(clients, CPUs));
  * -S -C (a new connection per transaction) at 50 clients.
Each point runs in ROUNDS interleaved rounds (default 3 x 10 s): a round runs every
target for DURATION/ROUNDS s, the order rotating from round to round and point to
point, so the machine's slow drifts (shared hosts) hit the three targets alike. A
target's TPS is the mean over its rounds; p50/p99 are over all its transactions.
Before each TPC-B-like run: VACUUM pgbench_branches/pgbench_tellers, TRUNCATE
pgbench_history, CHECKPOINT (what pgbench does without -n, plus a checkpoint).
TPS is pgbench's "tps = ..." line; p50/p99 latency come from its per-transaction log
(-l, 3rd column, microseconds).
Pooler CPU µs/txn (PgBouncer and tusk; not direct): every run here is CPU-bound on a
small box, so what the pooler itself burns per transaction explains the TPS ratios.
The pooler's current process (after a restart, the new one) is read just before and
just after each pgbench run: utime + stime of all its threads, /proc/PID/stat fields
14 + 15 / SC_CLK_TCK (10 ms ticks); the difference x 1e6 / pgbench's "number of
transactions actually processed". It includes the pooler's side of the clients' logins
at the start of the run (one per transaction with -C) and its server-side work; not
pgbench's own CPU. Below the table: the median over rows of tusk's µs/txn / PgBouncer's
(rows where both were measured).
Prepared mode is reported "n/a" for PgBouncer once a prepared run fails (1.18 has no
max_prepared_statements: statements do not survive a change of server connection).
One-hop floor (--skip-floor to leave out): the -S -M simple 10-client point again, with
a fourth target, bench/hop.cc's byte relay (built with c++ -O2): one thread and one
epoll loop that pairs each client with its own server connection and copies bytes,
with no parsing, pooling or batching, i.e. what the extra hop alone costs on this host;
and hop's round trip between two processes over a unix socket on one CPU and across
two (the price of waking a thread on another, possibly idle, CPU).
-S -C rows also print pgbench's "average connection time" per target; with
--trace-connect (root), bench/lo_trace.py splits each -C transaction's latency into
the target's answer time and the time pgbench left the answer unread (packets on lo).
Idle-client memory: fresh PgBouncer and router processes get 5,000 client connections
that log in (startup + SCRAM, raw sockets in asyncio) and stay idle; reported is
(VmRSS with them - VmRSS after one warm-up client) / 5,000.

Goals (checked per row): tusk >= 0.85x direct on -S -M simple at 10-100 clients;
>= 0.75x direct on -S -M prepared; -C TPS >= PgBouncer's; p99 <= PgBouncer's at every
point PgBouncer has one; idle-client memory <= PgBouncer's. A failing router shows
"error" in its cells (first error line listed below the table) and the run goes on.
Exit status is non-zero only when the setup failed, never for a missed goal.
Everything (servers, poolers, temp dirs) is torn down, also on failure or Ctrl-C.

  sudo /usr/bin/python3 bench/router_bench.py --tusk build/tusk   # ~30 min
  sudo /usr/bin/python3 bench/router_bench.py --quick              # 5 s, 10/50 clients
"""
import argparse
import asyncio
import base64
import glob
import hashlib
import hmac
import json
import os
import re
import resource
import secrets
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import time

from benchlib import (CLEANUPS, as_postgres, clean_env, cpu_seconds, free_port, percentile,
                      quiet, rss_bytes, run, scratch_dir, stop_process, wait_port)
from lo_trace import LoopbackTrace, summary as lo_summary

PGBOUNCER = "/usr/sbin/pgbouncer"
SCALE = 10
POOL = 20
IDLE_CLIENTS = 5000
NOFILE = 65536
TARGETS = ("direct", "pgbouncer", "tusk")
GOAL_SELECT_SIMPLE = 0.85      # x direct, -S -M simple at 10..100 clients
GOAL_SELECT_SIMPLE_CLIENTS = (10, 50, 100)
GOAL_SELECT_PREPARED = 0.75    # x direct, -S -M prepared
CONNECT_CLIENTS = 50
TPS_RE = re.compile(r"^tps = ([0-9.]+)", re.M)
TXNS_RE = re.compile(r"^number of transactions actually processed: (\d+)", re.M)
CONN_RE = re.compile(r"^average connection time = ([0-9.]+) ms", re.M)  # -C only


# ---------------------------------------------------------------- PostgreSQL

class Postgres:
    def __init__(self, pg_bin, root, password, max_connections):
        self.bin = pg_bin
        self.home = os.path.join(root, "pg")  # everything the server account writes
        self.data = os.path.join(self.home, "data")
        self.sock = os.path.join(self.home, "run")
        self.log = os.path.join(self.home, "server.log")
        self.port = free_port()
        self.password = password
        os.makedirs(self.sock)
        pwfile = os.path.join(self.home, "superuser.pw")
        with open(pwfile, "w") as f:
            f.write(secrets.token_hex(16) + "\n")
        os.chmod(pwfile, 0o600)
        if os.geteuid() == 0:
            for p in (self.home, self.sock, pwfile):
                shutil.chown(p, "postgres", "postgres")
        run(as_postgres([f"{pg_bin}/initdb", "-D", self.data, "-U", "postgres",
                         f"--pwfile={pwfile}", "--encoding=UTF8", "--locale=C.UTF-8",
                         "--auth-local=peer", "--auth-host=scram-sha-256"]), cwd="/")
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("local all postgres peer\n"
                    "local all bench scram-sha-256\n"
                    "host all all 127.0.0.1/32 scram-sha-256\n")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"\n# router_bench\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.sock}'\n"
                    f"max_connections = {max_connections}\nshared_buffers = 256MB\n"
                    "max_wal_size = 4GB\ncheckpoint_timeout = 30min\n"
                    "password_encryption = scram-sha-256\n")
        CLEANUPS.append(lambda: quiet(as_postgres(
            [f"{pg_bin}/pg_ctl", "-D", self.data, "stop", "-m", "immediate"])))
        run(as_postgres([f"{pg_bin}/pg_ctl", "-D", self.data, "-l", self.log, "-w",
                         "-t", "120", "start"]), cwd="/")
        self.sql(f"CREATE ROLE bench LOGIN PASSWORD '{password}'")
        self.sql("CREATE DATABASE bench OWNER bench")
        self.version = self.sql("SHOW server_version").strip()
        self.verifier = self.sql("SELECT rolpassword FROM pg_authid WHERE rolname = 'bench'").strip()

    def sql(self, statement, db="postgres"):
        _, out = run(as_postgres([f"{self.bin}/psql", "-h", self.sock, "-p", str(self.port),
                                  "-U", "postgres", "-d", db, "-XAtq", "-v", "ON_ERROR_STOP=1",
                                  "-c", statement]), cwd="/")
        return out


def client_env(password):
    env = clean_env()
    env["PGPASSWORD"] = password
    env["PGCONNECT_TIMEOUT"] = "30"  # a pooler that never answers fails, not hangs
    return env


# ---------------------------------------------------------------- poolers

def raise_nofile():
    """Children inherit the limit: PgBouncer, the router and pgbench need > 5,000 fds.
    Raises the hard limit too when allowed, else the soft limit up to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < NOFILE:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
            return
        except (ValueError, OSError):
            pass
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY
                                                else max(soft, NOFILE), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < IDLE_CLIENTS + 1000:
        print(f"router_bench: warning: open files limited to {hard}", file=sys.stderr)


def first_line(text, default=""):
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return default


def first_error_line(text, default=""):
    """The first line that names an error (else the first non-empty line)."""
    for line in text.splitlines():
        low = line.lower()
        if "error" in low or "fatal" in low or "failed" in low or "abort" in low:
            return line.strip()
    return first_line(text, default)


def tail(path, n=5):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()[-n:]
    except OSError:
        return []


class Pooler:
    """A pooler process we started: Popen + log file; restartable."""

    def __init__(self, name, cmd, port, log, user=None):
        self.name, self.cmd, self.port, self.log, self.user = name, cmd, port, log, user
        self.proc = None
        self.starts = 0
        self.exits = []  # (exit code, last log line) of unexpected exits

    def start(self):
        kw = {"user": self.user, "group": self.user} if self.user else {}
        with open(self.log, "a") as logf:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, cwd="/", env=clean_env(),
                                         start_new_session=True, **kw)
        self.starts += 1
        if self.starts == 1:
            CLEANUPS.append(self.stop)
        if not wait_port(self.port, self.proc, timeout=30):
            code = self.proc.poll()
            stop_process(self.proc)
            with open(self.log, errors="replace") as f:
                text = f.read()
            why = f"exited with {code}" if code is not None else "did not listen within 30 s"
            raise RuntimeError(f"{self.name} {why}: {first_error_line(text, '(no output)')}")

    def ensure_running(self):
        """Restarts the pooler when it died since the last check (and records that)."""
        if self.proc is not None and self.proc.poll() is not None:
            last = tail(self.log, 1)
            self.exits.append((self.proc.returncode, last[0] if last else ""))
            self.start()

    def restart(self, reason):
        """Stop and start again (after a stall), recorded like an unexpected exit."""
        self.exits.append(("restarted", reason))
        stop_process(self.proc)
        self.start()

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)


def start_pgbouncer(root, pg, pool, server_socket):
    d = os.path.join(root, "pgbouncer")
    os.makedirs(d)
    port = free_port()
    host = pg.sock if server_socket == "unix" else "127.0.0.1"
    ini, users = os.path.join(d, "pgbouncer.ini"), os.path.join(d, "userlist.txt")
    with open(ini, "w") as f:
        f.write(f"[databases]\nbench = host={host} port={pg.port} dbname=bench\n\n"
                f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n"
                "unix_socket_dir =\n"
                f"auth_type = scram-sha-256\nauth_file = {users}\n"
                f"pool_mode = transaction\ndefault_pool_size = {pool}\n"
                "max_client_conn = 6000\nreserve_pool_size = 0\n"
                "log_connections = 0\nlog_disconnections = 0\n"
                f"pidfile = {os.path.join(d, 'pgbouncer.pid')}\n")
    with open(users, "w") as f:
        f.write(f'"bench" "{pg.verifier}"\n')
    os.chmod(users, 0o600)
    user = None
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        user = "postgres"
        for p in (d, ini, users):
            shutil.chown(p, "postgres", "postgres")
    b = Pooler("pgbouncer", [PGBOUNCER, ini], port, os.path.join(d, "pgbouncer.log"), user)
    b.start()
    return b


def start_router(root, tusk, pg, pool, server_socket, tag, workers=0, pipeline_depth=0,
                 options=None):
    """Starts `tusk router` with a spec for `pg`; `options` ({spec key: value})
    overrides or adds spec keys (busy_poll_us, sched_policy, concurrency_limit)."""
    d = os.path.join(root, f"router-{tag}")
    os.makedirs(d)
    port = free_port()
    secrets_file, spec_file = os.path.join(d, "secrets.json"), os.path.join(d, "spec.json")
    fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"roles": {"bench": pg.password}}, f)
    spec = {
        "instance": "bench", "listen": "127.0.0.1", "port": port, "mode": "transaction",
        "pool_size": pool, "workers": workers, "max_client_connections": 10000,
        "client_auth": "scram-sha-256", "tls_mode": "disable",
        "pipeline_depth": pipeline_depth,
        "primary": {"host": pg.sock if server_socket == "unix" else "127.0.0.1",
                    "port": pg.port},
        "secrets_file": secrets_file,
        "status_file": os.path.join(d, "status.json"),
        "pid_file": os.path.join(d, "router.pid"),
    }
    spec.update(options or {})
    with open(spec_file, "w") as f:
        json.dump(spec, f, indent=2)
    r = Pooler("tusk router", [tusk, "router", "--spec", spec_file], port,
               os.path.join(d, "router.log"))
    r.start()
    return r


def router_options(args):
    """The spec keys the command line sets: {} when it sets none."""
    options = {"busy_poll_us": args.busy_poll_us, "sched_policy": args.sched_policy,
               "concurrency_limit": args.concurrency_limit}
    return {k: v for k, v in options.items() if v is not None}


# ---------------------------------------------------------------- pgbench

class Result:
    def __init__(self, tps=None, p50=None, p99=None, error=None, na=None, txns=None,
                 stalled=False, lat=None):
        self.tps, self.p50, self.p99, self.error, self.na = tps, p50, p99, error, na
        self.txns, self.stalled = txns, stalled  # txns: pgbench's processed count
        self.lat = lat or []  # per-transaction latencies (µs, sorted) of this run
        self.cpu_s = None   # the pooler's CPU seconds during this run (poolers only)
        self.cpu_us = None  # the pooler's CPU µs per transaction (poolers only)
        self.conn_ms = None  # pgbench's average connection time (-C only)
        self.trace = []  # lo_trace pairs (answer ms, pickup ms) (--trace-connect only)
        self.round_p99 = []  # each round's p99 (µs), in round order (combined results)


def combine(rounds):
    """One Result from the rounds of one target at one point: the mean TPS (the
    rounds last equally long), p50/p99 over every transaction of all rounds,
    and the pooler's CPU per transaction over all rounds. The first failed
    round decides an error."""
    for r in rounds:
        if r.error or r.na:
            return r
    lat = sorted(x for r in rounds for x in r.lat)
    out = Result(tps=sum(r.tps for r in rounds) / len(rounds), p50=percentile(lat, 50),
                 p99=percentile(lat, 99), txns=sum(r.txns or 0 for r in rounds))
    if out.txns and all(r.cpu_s is not None for r in rounds):
        out.cpu_us = sum(r.cpu_s for r in rounds) * 1e6 / out.txns
    if all(r.conn_ms is not None for r in rounds):
        out.conn_ms = sum(r.conn_ms for r in rounds) / len(rounds)
    out.trace = [x for r in rounds for x in r.trace]
    out.round_p99 = [r.p99 for r in rounds]
    return out


def latencies_us(prefix):
    """Per-transaction latencies (3rd column, µs) of every log file pgbench wrote."""
    xs = []
    for path in glob.glob(prefix + ".*"):
        with open(path) as f:
            for line in f:
                parts = line.split(None, 3)
                if len(parts) >= 3:
                    xs.append(int(parts[2]))
        os.unlink(path)
    xs.sort()
    return xs


def pgbench(pg_bin, port, password, logdir, tag, clients, select_only, mode, connect,
            duration):
    prefix = os.path.join(logdir, tag)
    cmd = [f"{pg_bin}/pgbench", "-n", "-h", "127.0.0.1", "-p", str(port), "-U", "bench",
           "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 1)),
           "-T", str(duration), "-M", mode, "-l", f"--log-prefix={prefix}"]
    if select_only:
        cmd.append("-S")
    if connect:
        cmd.append("-C")
    cmd.append("bench")
    timeout = duration + 120
    try:
        p = subprocess.run(cmd, cwd=logdir, env=client_env(password), capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        latencies_us(prefix)  # discard partial logs
        out = (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) \
            else (e.stderr or "")
        return Result(error=f"pgbench did not finish within {timeout} s (stall?)"
                            + (f"; {first_error_line(out)}" if out else ""), stalled=True)
    lat = latencies_us(prefix)
    m = TPS_RE.search(p.stdout)
    if p.returncode != 0 or not m:
        return Result(error=first_error_line(p.stderr + p.stdout, f"pgbench exit {p.returncode}"))
    n = TXNS_RE.search(p.stdout)
    r = Result(tps=float(m.group(1)), p50=percentile(lat, 50), p99=percentile(lat, 99),
               txns=int(n.group(1)) if n else None, lat=lat)
    c = CONN_RE.search(p.stdout)
    r.conn_ms = float(c.group(1)) if c else None
    return r


def pooler_cpu(pooler):
    """CPU seconds the pooler's current process has used so far; None when it is gone."""
    if pooler is None or pooler.proc.poll() is not None:
        return None
    try:
        return cpu_seconds(pooler.proc.pid)
    except (OSError, ValueError, IndexError):
        return None


def maintenance(pg):
    """What pgbench does before a TPC-B run without -n, plus a checkpoint, so every
    run starts from the same state."""
    pg.sql("VACUUM pgbench_branches", db="bench")
    pg.sql("VACUUM pgbench_tellers", db="bench")
    pg.sql("TRUNCATE pgbench_history", db="bench")
    pg.sql("CHECKPOINT", db="bench")


# ---------------------------------------------------------------- idle clients

def _msg(kind, payload):
    return kind + struct.pack("!i", 4 + len(payload)) + payload


async def _read_msg(reader):
    hdr = await reader.readexactly(5)
    n = struct.unpack("!i", hdr[1:5])[0]
    return hdr[:1], await reader.readexactly(n - 4)


def _error_text(body):
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[part[:1]] = part[1:].decode(errors="replace")
    return f"{fields.get(b'S', 'ERROR')}: {fields.get(b'M', '?')} ({fields.get(b'C', '')})"


async def login(port, user, database, password, salted_cache):
    """Opens a connection and completes startup + authentication (SCRAM-SHA-256,
    md5 or cleartext) until ReadyForQuery. Returns (reader, writer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        params = f"user\0{user}\0database\0{database}\0\0".encode()
        writer.write(struct.pack("!ii", 8 + len(params), 196608) + params)
        nonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = f"n=,r={nonce}"
        while True:
            kind, body = await _read_msg(reader)
            if kind == b"E":
                raise RuntimeError(_error_text(body))
            if kind == b"Z":
                return reader, writer
            if kind != b"R":
                continue  # ParameterStatus, BackendKeyData, NoticeResponse
            code = struct.unpack("!i", body[:4])[0]
            if code == 10:  # SASL
                cf = ("n,," + first_bare).encode()
                writer.write(_msg(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(cf)) + cf))
            elif code == 11:  # SASLContinue
                server_first = body[4:].decode()
                attrs = dict(a.split("=", 1) for a in server_first.split(","))
                if not attrs["r"].startswith(nonce):
                    raise RuntimeError("SCRAM: server nonce does not extend ours")
                key = (attrs["s"], int(attrs["i"]))
                salted = salted_cache.get(key)
                if salted is None:
                    salted = hashlib.pbkdf2_hmac("sha256", password.encode(),
                                                 base64.b64decode(attrs["s"]), key[1])
                    salted_cache[key] = salted
                final_wo_proof = f"c=biws,r={attrs['r']}"
                auth_message = f"{first_bare},{server_first},{final_wo_proof}".encode()
                client_key = hmac.digest(salted, b"Client Key", "sha256")
                signature = hmac.digest(hashlib.sha256(client_key).digest(), auth_message,
                                        "sha256")
                proof = bytes(a ^ b for a, b in zip(client_key, signature))
                writer.write(_msg(b"p", f"{final_wo_proof},p={base64.b64encode(proof).decode()}"
                                  .encode()))
            elif code == 5:  # MD5
                inner = hashlib.md5((password + user).encode()).hexdigest()
                outer = hashlib.md5(inner.encode() + body[4:8]).hexdigest()
                writer.write(_msg(b"p", f"md5{outer}\0".encode()))
            elif code == 3:  # cleartext
                writer.write(_msg(b"p", password.encode() + b"\0"))
            elif code not in (0, 12):
                raise RuntimeError(f"unsupported authentication request {code}")
    except BaseException:
        writer.close()
        raise


async def simple_query(reader, writer, sql):
    writer.write(_msg(b"Q", sql.encode() + b"\0"))
    error = None
    while True:
        kind, body = await _read_msg(reader)
        if kind == b"E":
            error = _error_text(body)
        elif kind == b"Z":
            if error:
                raise RuntimeError(error)
            return


async def idle_clients(pid, port, password, n):
    """RSS of `pid` after one warm-up client, and with n idle logged-in clients.
    Returns (rss_before, rss_after, connected, first_error)."""
    cache = {}
    r, w = await login(port, "bench", "bench", password, cache)
    await simple_query(r, w, "SELECT 1")
    await asyncio.sleep(1.0)
    before = rss_bytes(pid)
    sem = asyncio.Semaphore(64)
    conns, errors = [], []

    async def one():
        async with sem:
            try:
                conns.append(await asyncio.wait_for(
                    login(port, "bench", "bench", password, cache), 60))
            except Exception as e:  # noqa: BLE001 - reported, not fatal
                errors.append(f"{type(e).__name__}: {e}")

    await asyncio.gather(*(one() for _ in range(n)))
    await asyncio.sleep(2.0)
    after = rss_bytes(pid)
    # the pooler still serves queries with all of them connected
    try:
        await asyncio.wait_for(simple_query(r, w, "SELECT 1"), 30)
    except Exception as e:  # noqa: BLE001
        errors.append(f"query with {len(conns)} idle clients: {type(e).__name__}: {e}")
    for _, cw in conns + [(r, w)]:
        try:
            cw.write(_msg(b"X", b""))
            cw.close()
        except Exception:  # noqa: BLE001
            pass
    return before, after, len(conns), (errors[0] if errors else None), len(errors)


# ---------------------------------------------------------------- table

def cell(res, attr):
    """A table cell: TPS (attr "tps") or a latency in ms ("p50", "p99")."""
    if res is None:
        return "-"
    if res.na or res.error:
        return "n/a" if res.na else "error"
    v = getattr(res, attr)
    if v is None:
        return "-"
    return f"{v:.0f}" if attr == "tps" else f"{v / 1000.0:.2f}"


def cpu_cell(res):
    """A table cell: the pooler's CPU µs per transaction."""
    if res is None:
        return "-"
    if res.na or res.error:
        return "n/a" if res.na else "error"
    return "-" if res.cpu_us is None else f"{res.cpu_us:.1f}"


def cpu_ratio(res):
    """tusk µs/txn / PgBouncer µs/txn of one row, None unless both were measured."""
    t, b = res.get("tusk"), res.get("pgbouncer")
    if ok(t) and ok(b) and t.cpu_us is not None and b.cpu_us:
        return t.cpu_us / b.cpu_us
    return None


def ok(res):
    return res is not None and not res.na and not res.error


def ratio(a, b):
    return a.tps / b.tps if ok(a) and ok(b) and b.tps > 0 else None


def goals(point, res):
    """List of (goal text, held) for one row."""
    workload, mode, clients = point
    t, d, b = res.get("tusk"), res.get("direct"), res.get("pgbouncer")
    out = []
    if t is None:  # not measured (interrupted run)
        return out
    rd = ratio(t, d)
    if workload == "select" and mode == "simple" and clients in GOAL_SELECT_SIMPLE_CLIENTS:
        out.append((f">={GOAL_SELECT_SIMPLE}x direct", rd is not None and rd >= GOAL_SELECT_SIMPLE))
    if workload == "select" and mode == "prepared":
        out.append((f">={GOAL_SELECT_PREPARED}x direct",
                    rd is not None and rd >= GOAL_SELECT_PREPARED))
    if workload == "select -C":
        out.append((">=pgbouncer", ok(t) and ok(b) and t.tps >= b.tps))
    if ok(b):
        out.append(("p99<=pgbouncer", ok(t) and t.p99 <= b.p99))
    return out


def goal_cell(gs):
    if not gs:
        return "-"
    missed = [g for g, held in gs if not held]
    return "ok" if not missed else "MISS " + ", ".join(missed)


WORKLOAD_NAMES = {"select": "-S", "tpcb": "TPC-B", "select -C": "-S -C"}


def print_table(points, results):
    h1 = (f"{'':<26}|{'TPS':^29}|{'p50 ms':^25}|{'p99 ms':^25}|{'pooler CPU µs/txn':^19}|"
          f"{'tusk /':^17}|")
    h2 = (f"{'workload':<9}{'mode':<9}{'clients':>7} |{'direct':>9}{'pgbouncer':>10}{'tusk':>9}"
          f" |{'direct':>8}{'pgb':>8}{'tusk':>8} |{'direct':>8}{'pgb':>8}{'tusk':>8} |"
          f"{'pgb':>9}{'tusk':>9} |{'direct':>8}{'pgb':>8} | goals")
    print(h1)
    print(h2)
    print("-" * (len(h2) + 24))
    for point in points:
        res = results.get(point, {})
        workload, mode, clients = point
        d, b, t = (res.get(x) for x in TARGETS)
        rd, rb = ratio(t, d), ratio(t, b)
        print(f"{WORKLOAD_NAMES[workload]:<9}{mode:<9}{clients:>7} |"
              f"{cell(d, 'tps'):>9}{cell(b, 'tps'):>10}{cell(t, 'tps'):>9} |"
              f"{cell(d, 'p50'):>8}{cell(b, 'p50'):>8}{cell(t, 'p50'):>8} |"
              f"{cell(d, 'p99'):>8}{cell(b, 'p99'):>8}{cell(t, 'p99'):>8} |"
              f"{cpu_cell(b):>9}{cpu_cell(t):>9} |"
              f"{(f'{rd:.2f}x' if rd else '-'):>8}{(f'{rb:.2f}x' if rb else '-'):>8} | "
              f"{goal_cell(goals(point, res))}")
    rs = [r for r in (cpu_ratio(results.get(p, {})) for p in points) if r is not None]
    if rs:
        print(f"pooler CPU per transaction, tusk / pgbouncer: median {statistics.median(rs):.2f}x "
              f"over {len(rs)} row{'s' if len(rs) != 1 else ''} with both "
              f"(min {min(rs):.2f}x, max {max(rs):.2f}x)")
    else:
        print("pooler CPU per transaction, tusk / pgbouncer: no row with both")
    for point in points:
        if point[0] != "select -C":
            continue
        res = results.get(point, {})
        conn = [f"{t} {res[t].conn_ms:.2f}" for t in TARGETS
                if t in res and res[t].conn_ms is not None]
        if conn:
            print(f"-S -C: pgbench's average connection time (ms): {', '.join(conn)}")
        for t in TARGETS:
            if t in res and res[t].trace:
                print(f"-S -C trace, {t:<9}: {lo_summary(res[t].trace)}")
    for line in p99_round_lines(points, results):
        print(line)


def p99_round_lines(points, results):
    """For each row whose p99 goal missed: both poolers' p99 round by round,
    and in how many rounds tusk's was the lower, to tell a tie within the
    rounds' spread from a loss in every round."""
    lines = []
    for point in points:
        res = results.get(point, {})
        if ("p99<=pgbouncer", False) not in goals(point, res):
            continue
        b, t = res["pgbouncer"], res["tusk"]
        if not (ok(b) and ok(t)) or len(b.round_p99) != len(t.round_p99):
            continue
        wins = sum(x <= y for x, y in zip(t.round_p99, b.round_p99))
        fmt = lambda xs: " / ".join(f"{x / 1000:.2f}" for x in xs)
        workload, mode, clients = point
        lines.append(f"p99 per round (ms), {WORKLOAD_NAMES[workload]} {mode} {clients}: "
                     f"pgbouncer {fmt(b.round_p99)}, tusk {fmt(t.round_p99)}; tusk's lower "
                     f"or equal in {wins} of {len(t.round_p99)}")
    return lines


def pgbouncer_version():
    try:
        p = subprocess.run([PGBOUNCER, "--version"], capture_output=True, text=True, timeout=10)
        return first_line(p.stdout, "?")
    except OSError:
        return "?"


def tusk_version(tusk):
    """The binary and when it was built (the source tree may have moved on since)."""
    try:
        built = time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(tusk)))
    except OSError:
        built = "?"
    return f"{tusk} (built {built})"


# ---------------------------------------------------------------- main

def build_points(clients):
    points = []
    for workload in ("select", "tpcb"):
        for mode in ("simple", "prepared"):
            for c in clients:
                points.append((workload, mode, c))
    points.append(("select -C", "simple", CONNECT_CLIENTS))
    return points


def run_benchmarks(args, pg, poolers, points, logdir, results, notes):
    """Each point runs `args.rounds` rounds; a round runs every target for
    duration / rounds seconds, the order rotating from round to round and
    point to point, so a slow drift of the machine's speed hits all targets
    alike."""
    pgb_na = None  # why PgBouncer cannot run prepared, once a prepared run failed
    for i, point in enumerate(points):
        res = results.setdefault(point, {})
        res.update(run_rounds(args, pg, poolers, logdir, point, i, TARGETS, notes, pgb_na))
        if point[1] == "prepared" and res["pgbouncer"].na:
            pgb_na = res["pgbouncer"].na
    return pgb_na


def run_rounds(args, pg, poolers, logdir, point, index, targets, notes, pgb_na=None):
    """`args.rounds` rounds of `point`, each running every target for duration /
    rounds seconds in an order rotated by round and `index`; one combined
    Result per target (a target that failed or was n/a in a round keeps that).
    `pgb_na`: why PgBouncer cannot run prepared, if known (it is then n/a)."""
    workload, mode, clients = point
    ports = {"direct": pg.port}
    ports.update({k: p.port for k, p in poolers.items() if p})
    seconds = max(1, args.duration // args.rounds)
    runs = {t: [] for t in targets}
    for rnd in range(args.rounds):
        k = (index + rnd) % len(targets)
        for target in targets[k:] + targets[:k]:
            if runs[target] and (runs[target][-1].error or runs[target][-1].na):
                continue  # failed in an earlier round
            r = run_one(args, pg, poolers, ports, logdir, point, target, seconds,
                        notes, pgb_na)
            runs[target].append(r)
            if r.error or r.na:
                state = ("n/a: " + r.na) if r.na else ("error: " + r.error)
            else:
                state = (f"{r.tps:.0f} tps, p50 {r.p50 / 1000:.2f} ms, "
                         f"p99 {r.p99 / 1000:.2f} ms")
                if r.cpu_s is not None and r.txns:
                    state += f", cpu {r.cpu_s * 1e6 / r.txns:.1f} µs/txn"
            print(f"  {WORKLOAD_NAMES[workload]:<6} {mode:<8} {clients:>4} clients  "
                  f"{target:<9} round {rnd + 1}/{args.rounds}: {state}", flush=True)
    return {t: combine(runs[t]) for t in targets}


def run_one(args, pg, poolers, ports, logdir, point, target, seconds, notes, pgb_prepared_na):
    """One pgbench run of `target` at `point`; the pooler's CPU seconds in cpu_s."""
    workload, mode, clients = point
    if target == "tusk" and poolers.get("tusk") is None:
        return Result(error=notes["tusk-start"])
    if target == "pgbouncer" and mode == "prepared" and pgb_prepared_na:
        return Result(na=pgb_prepared_na)
    if target in poolers:
        try:
            poolers[target].ensure_running()
        except RuntimeError as e:
            return Result(error=f"restart after exit failed: {e}")
    if workload == "tpcb":
        maintenance(pg)
    pooler = poolers.get(target)  # None for direct
    trace = None
    if args.trace_connect and workload == "select -C":
        trace = LoopbackTrace(ports[target]).start()
    cpu0 = pooler_cpu(pooler)
    r = pgbench(args.pg_bin, ports[target], pg.password, logdir,
                f"{target}-{workload.replace(' ', '')}-{mode}-{clients}", clients,
                workload != "tpcb", mode, workload == "select -C", seconds)
    cpu1 = pooler_cpu(pooler)
    if trace is not None:
        r.trace = trace.stop().split()
    if cpu0 is not None and cpu1 is not None and ok(r) and r.txns:
        r.cpu_s = cpu1 - cpu0
    if r.error and target == "pgbouncer" and mode == "prepared":
        return Result(na=r.error)
    if r.error and r.stalled and target in poolers:
        try:  # a wedged pooler would stall every later point too
            poolers[target].restart(f"pgbench stalled at {point}")
        except RuntimeError as e:
            print(f"  {target}: restart after a stall failed: {e}", flush=True)
    return r


def run_memory(args, pg, tusk, root, tusk_error):
    rows = []  # (pooler, measurement or None, error or None), pgbouncer first
    factories = [("pgbouncer", lambda: start_pgbouncer(root + "/mem", pg, POOL,
                                                       args.server_socket))]
    if tusk_error is None:
        factories.append(("tusk", lambda: start_router(root, tusk, pg, POOL, args.server_socket,
                                                       "mem", args.router_workers,
                                                       args.pipeline_depth,
                                                       router_options(args))))
    os.makedirs(root + "/mem", exist_ok=True)
    for name, factory in factories:
        try:
            p = factory()
        except RuntimeError as e:
            rows.append((name, None, str(e)))
            continue
        try:
            m = asyncio.run(idle_clients(p.proc.pid, p.port, pg.password, IDLE_CLIENTS))
            rows.append((name, m, None))
        except Exception as e:  # noqa: BLE001 - reported in the table
            rows.append((name, None, f"{type(e).__name__}: {e}"))
        finally:
            alive = p.proc.poll() is None
            p.stop()
            if not alive:
                rows.append((name, None, f"exited with {p.proc.returncode} during the test: "
                             + " | ".join(tail(p.log, 3))))
    if tusk_error is not None:
        rows.append(("tusk", None, tusk_error))
    return rows


def print_memory(rows):
    print(f"\nidle clients: {IDLE_CLIENTS} logged-in idle connections per pooler "
          "(fresh processes; RSS from /proc/PID/status)")
    print(f"{'pooler':<10}{'RSS before':>12}{'RSS after':>12}{'connected':>11}"
          f"{'bytes/client':>14}  note")
    per = {}
    for name, m, err in rows:
        if m is None:
            print(f"{name:<10}{'error':>12}{'error':>12}{'-':>11}{'error':>14}  {err}")
            continue
        before, after, n, first_err, n_err = m
        per_client = (after - before) / IDLE_CLIENTS
        per[name] = per_client
        note = "" if not first_err else f"{n_err} failed, first: {first_err}"
        print(f"{name:<10}{before / 2**20:>10.1f}Mi{after / 2**20:>10.1f}Mi{n:>11}"
              f"{per_client:>14.0f}  {note}")
    if "tusk" in per and "pgbouncer" in per:
        held = per["tusk"] <= per["pgbouncer"]
        print(f"goal tusk <= pgbouncer per idle client: "
              f"{'ok' if held else 'MISS'} ({per['tusk'] / per['pgbouncer']:.2f}x)")
    else:
        print("goal tusk <= pgbouncer per idle client: MISS (no measurement)")


# ---------------------------------------------------------------- one-hop floor

FLOOR_POINT = ("select", "simple", 10)
FLOOR_TARGETS = ("direct", "relay", "pgbouncer", "tusk")


def start_relay(root, pg):
    """bench/hop.cc built with c++ -O2 and started as `hop relay PORT SOCKET`."""
    d = os.path.join(root, "hop")
    os.makedirs(d)
    binary = os.path.join(d, "hop")
    run(["c++", "-O2", "-std=c++17", "-o", binary,
         os.path.join(os.path.dirname(os.path.abspath(__file__)), "hop.cc")])
    port = free_port()
    relay = Pooler("hop relay", [binary, "relay", str(port),
                                 os.path.join(pg.sock, f".s.PGSQL.{pg.port}")],
                   port, os.path.join(d, "relay.log"))
    relay.start()
    return binary, relay


def run_floor(args, pg, poolers, root, logdir, notes):
    """The -S -M simple 10-client point once more, with a byte relay (bench/hop.cc)
    as a fourth target, and the host's process wake-up round trip (same CPU and
    across CPUs). Returns (results by target, pingpong line or error)."""
    binary, relay = start_relay(root, pg)
    try:
        _, out = run([binary, "pingpong", "20000"])
        pingpong = out.strip()
        targets = {**poolers, "relay": relay}
        res = run_rounds(args, pg, targets, logdir, FLOOR_POINT, 0, FLOOR_TARGETS, notes)
    finally:
        relay.stop()
    return res, pingpong


def print_floor(res, pingpong):
    workload, mode, clients = FLOOR_POINT
    print(f"\none-hop floor: {WORKLOAD_NAMES[workload]} -M {mode}, {clients} clients, "
          "interleaved rounds as above; relay = bench/hop.cc (one thread, one epoll loop, a "
          "server connection per client for the session, no parsing, pooling or batching)")
    print(f"{'target':<10}{'TPS':>9}{'x direct':>10}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'proxy CPU µs/txn':>18}")
    for t in FLOOR_TARGETS:
        r = res.get(t)
        x = ratio(r, res.get("direct"))
        x = "-" if x is None else f"{x:.2f}x"
        cpu = cpu_cell(r) if t != "direct" else "-"
        print(f"{t:<10}{cell(r, 'tps'):>9}{x:>10}{cell(r, 'p50'):>9}{cell(r, 'p99'):>9}"
              f"{cpu:>18}")
    m = re.match(r"same_cpu_us ([0-9.]+) cross_cpu_us (-?[0-9.]+)", pingpong)
    if m:
        pingpong = f"same CPU {m.group(1)} µs, across CPUs {m.group(2)} µs"
    print(f"round trip between two processes (unix socket, 64 bytes, bench/hop.cc "
          f"pingpong): {pingpong}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tusk", default=os.path.join(os.path.dirname(__file__), "../build/tusk"))
    ap.add_argument("--duration", type=int, default=30,
                    help="seconds per target and point, split over --rounds")
    ap.add_argument("--rounds", type=int, default=3,
                    help="interleaved rounds per point (each target runs duration/rounds s)")
    ap.add_argument("--clients", default="10,50,100,500", help="comma-separated client counts")
    ap.add_argument("--quick", action="store_true", help="smoke run: 5 s, 10,50 clients")
    ap.add_argument("--skip-memory", action="store_true", help="no idle-client memory test")
    ap.add_argument("--skip-floor", action="store_true",
                    help="no one-hop floor (byte relay at -S simple, 10 clients)")
    ap.add_argument("--only", default="",
                    help="comma-separated rows to run, named like the table: -S/simple, "
                         "TPC-B/prepared, -S -C/simple (default: all)")
    ap.add_argument("--pg-bin", default="/usr/lib/postgresql/15/bin")
    ap.add_argument("--router-workers", type=int, default=0,
                    help="the router's worker threads (default 0: one per CPU)")
    ap.add_argument("--pipeline-depth", type=int, default=8,
                    help="the router's pipeline_depth (0: off; default 8)")
    ap.add_argument("--busy-poll-us", type=int, default=None,
                    help="the router's busy_poll_us (0: off; default: the spec's default)")
    ap.add_argument("--sched-policy", choices=("batch", "normal"), default=None,
                    help="the router workers' sched_policy (default: the spec's default)")
    ap.add_argument("--concurrency-limit", type=int, default=None,
                    help="the router's concurrency_limit (0: off; default: the spec's "
                         "default, auto = 4 per CPU)")
    ap.add_argument("--server-socket", choices=("unix", "tcp"), default="unix",
                    help="how both poolers reach PostgreSQL")
    ap.add_argument("--trace-connect", action="store_true",
                    help="packet-trace the -S -C runs on lo (root; bench/lo_trace.py): how "
                         "long the target took to answer and how long pgbench left the "
                         "answer unread")
    args = ap.parse_args()
    if args.quick:
        args.duration, args.rounds, args.clients = 5, 1, "10,50"
    if args.trace_connect and os.geteuid() != 0:
        sys.exit("router_bench: --trace-connect needs root (it reads packets on lo)")
    if args.rounds < 1 or args.duration < args.rounds:
        sys.exit("router_bench: --rounds must be >= 1 and <= --duration")
    clients = [int(c) for c in args.clients.split(",") if c.strip()]
    tusk = os.path.abspath(args.tusk)
    for path in (PGBOUNCER, f"{args.pg_bin}/pgbench", f"{args.pg_bin}/initdb"):
        if not os.access(path, os.X_OK):
            sys.exit(f"router_bench: {path} is missing (run scripts/setup.sh)")
    def interrupt(*_):
        raise KeyboardInterrupt
    # SIGTERM and SIGINT (also when started in the background) stop the run, tear
    # everything down and print what was measured so far
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    raise_nofile()

    points = build_points(clients)
    if args.only:
        wanted = {w.strip() for w in args.only.split(",")}
        points = [p for p in points if f"{WORKLOAD_NAMES[p[0]]}/{p[1]}" in wanted]
        if not points:
            sys.exit(f"router_bench: --only {args.only!r} names no row")
    results, notes, memory, poolers, floor = {}, {}, None, {}, None
    load0 = os.getloadavg()[0]
    status, pg, pgb_na = 0, None, None
    started = time.strftime("%Y-%m-%d %H:%M")
    try:
        root = scratch_dir("tusk-bench-router-")
        logdir = os.path.join(root, "pgbench")
        os.makedirs(logdir)
        password = secrets.token_hex(16)
        print(f"setup: PostgreSQL, pgbench -i -s {SCALE} ...", flush=True)
        t0 = time.monotonic()
        pg = Postgres(args.pg_bin, root, password, max(600, max(clients) + 100))
        subprocess.run([f"{args.pg_bin}/pgbench", "-i", "-q", "-s", str(SCALE), "-h",
                        "127.0.0.1", "-p", str(pg.port), "-U", "bench", "bench"],
                       cwd=logdir, env=client_env(password), check=True,
                       capture_output=True, timeout=600)
        pg.sql("VACUUM ANALYZE", db="bench")
        print(f"setup: done in {time.monotonic() - t0:.0f} s", flush=True)
        poolers["pgbouncer"] = start_pgbouncer(root, pg, POOL, args.server_socket)
        try:
            poolers["tusk"] = start_router(root, tusk, pg, POOL, args.server_socket, "bench",
                                           args.router_workers, args.pipeline_depth,
                                           router_options(args))
        except (RuntimeError, OSError) as e:
            poolers["tusk"] = None
            notes["tusk-start"] = str(e)
            print(f"setup: tusk router failed to start: {e}", flush=True)
        # warm-up: cache, pools; a first failure here is reported like any other
        for target in TARGETS:
            if target == "tusk" and poolers["tusk"] is None:
                continue
            port = pg.port if target == "direct" else poolers[target].port
            r = pgbench(args.pg_bin, port, password, logdir, f"warmup-{target}", 10, True,
                        "simple", False, 3)
            print(f"  warm-up {target:<9} "
                  + (f"error: {r.error}" if r.error else f"{r.tps:.0f} tps"), flush=True)
        pgb_na = run_benchmarks(args, pg, poolers, points, logdir, results, notes)
        for p in poolers.values():
            if p and p.proc.poll() is not None:
                p.exits.append((p.proc.returncode, " | ".join(tail(p.log, 1))))
        if not args.skip_floor:
            print("one-hop floor: byte relay ...", flush=True)
            try:
                floor = run_floor(args, pg, poolers, root, logdir, notes)
            except (RuntimeError, OSError) as e:
                floor = ({}, f"error: {e}")
        if not args.skip_memory:
            print(f"idle clients: {IDLE_CLIENTS} per pooler ...", flush=True)
            memory = run_memory(args, pg, tusk, root, notes.get("tusk-start"))
    except KeyboardInterrupt:
        print("router_bench: interrupted", file=sys.stderr)
        status = 130
    except Exception as e:  # report, clean up, exit non-zero
        print(f"router_bench: FAILED: {e}", file=sys.stderr)
        status = 1
    finally:
        router = poolers.get("tusk")
        router_log = tail(router.log, 10) if router else []
        for c in reversed(CLEANUPS):
            try:
                c()
            except Exception:  # noqa: BLE001 - best effort teardown
                pass
        CLEANUPS.clear()

    load1 = os.getloadavg()[0]
    print()
    print(f"router_bench: {started}; pgbench {args.duration} s per target and point in "
          f"{args.rounds} interleaved round(s), scale {SCALE}, "
          f"-j min(clients, {os.cpu_count()}), TCP 127.0.0.1; pool size {POOL} for both "
          f"poolers (transaction mode), router workers "
          f"{args.router_workers or f'{os.cpu_count()} (CPUs)'}, router pipeline_depth "
          f"{args.pipeline_depth or 'off'}, router busy_poll_us "
          f"{'default' if args.busy_poll_us is None else args.busy_poll_us or 'off'}, "
          f"router sched_policy {args.sched_policy or 'default'}, router concurrency_limit "
          f"{'default' if args.concurrency_limit is None else args.concurrency_limit or 'off'}, "
          f"poolers -> PostgreSQL over "
          f"{'the unix socket' if args.server_socket == 'unix' else 'TCP'}")
    print(f"PostgreSQL {getattr(pg, 'version', '?')}; {pgbouncer_version()}; "
          f"tusk {tusk_version(tusk)}; nproc {os.cpu_count()}; "
          f"load avg (1 min) {load0:.2f} at start, {load1:.2f} at end")
    print_table(points, results)
    if pgb_na:
        print(f"pgbouncer -M prepared: n/a ({pgb_na})")
    errors = {}  # (target, first error line) -> points
    for p in points:
        for t, r in results.get(p, {}).items():
            if r.error:
                errors.setdefault((t, r.error), []).append(p)
    if errors:
        print("errors (first line; where):")
        for (t, e), where in errors.items():
            spots = ", ".join(f"{WORKLOAD_NAMES[w]} {m} {c}" for w, m, c in where)
            print(f"  {t}: {e}\n    at {spots if len(where) < len(points) else 'every point'}")
    for p in poolers.values():
        for code, last in (p.exits if p else []):
            if code == "restarted":
                print(f"{p.name} restarted: {last}")
            else:
                print(f"{p.name} exited unexpectedly with {code} (restarted for the next "
                      f"run); last log line: {last}")
    if router_log and (errors or router.exits):
        print("tusk router log (last lines):")
        for line in router_log:
            print(f"  {line}")
    if floor is not None:
        print_floor(*floor)
    if memory is not None:
        print_memory(memory)
    misses = [(p, g) for p in points for g, held in goals(p, results.get(p, {})) if not held]
    print(f"goals: {sum(len(goals(p, results.get(p, {}))) for p in points) - len(misses)} held, "
          f"{len(misses)} missed (the goals column, counted per row)")
    return status


if __name__ == "__main__":
    sys.exit(main())
