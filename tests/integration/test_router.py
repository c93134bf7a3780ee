"""The router (tusk's wire-protocol pooler) with real clients: psql,
psycopg2, pgbench and a hand-written protocol client, in transaction and in
session mode, with TLS, limits, the admin console, metrics and standbys.

Each class runs one `tusk up` (an instance `main` with database `app`, owned
by the non-superuser login role `app`, and a `router:` section) in its own
directory on its own free ports; the tests of a class share it.
"""
import base64
import io
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import psycopg2
import psycopg2.errors

from harness import PG_BIN, free_port, wait_until
from router_support import (GSSENC_REQUEST, RouterCase, LoginFailed, errors_in, in_thread,
                            scram_login, scram_server_first)


def assert_held_until_resume(case, blocked):
    """With the router paused, blocked() must not complete within 1.5 s; then
    RESUME is sent (always) and blocked() must finish. Returns its result."""
    t, box = in_thread(blocked)
    time.sleep(1.5)
    held = t.is_alive()
    case.admin_command("RESUME")
    case.assertTrue(held, f"work went through while paused: {box}")
    t.join(timeout=10)
    case.assertFalse(t.is_alive(), "the waiting work did not run after RESUME")
    case.assertNotIn("error", box, box)
    return box.get("result")


class ClientTests:
    """Tests every pooling mode must pass; mixed into a RouterCase."""

    def test_psql_read_write_and_read_only_ports(self):
        for port, label in ((self.port, "read-write"), (self.ro_port, "read-only")):
            with self.subTest(port=label):
                p = self.run_psql(self.dsn(port=port), "-At", "-c",
                                  "SELECT current_user, current_database(), pg_is_in_recovery()")
                self.assertEqual(p.stdout.strip(), "app|app|f")
                # Several statements and a transaction in one psql session.
                p = self.run_psql(self.dsn(port=port), "-At", "-c", "BEGIN", "-c",
                                  "SELECT 40 + 2", "-c", "COMMIT")
                self.assertIn("42", p.stdout.split())

    def test_psycopg2_read_write_and_read_only_ports(self):
        rw = self.connect()
        with rw.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS pg2_items (id int, name text)")
            cur.executemany("INSERT INTO pg2_items VALUES (%s, %s)",
                            [(i, f"item {i}") for i in range(20)])
        rw.commit()
        self.assertEqual(self.scalar(rw, "SELECT count(*) FROM pg2_items"), 20)
        self.assertFalse(self.scalar(rw, "SELECT pg_is_in_recovery()"))
        rw.commit()
        ro = self.connect(port=self.ro_port)
        # No standbys configured: the read-only port falls back to the primary.
        self.assertFalse(self.scalar(ro, "SELECT pg_is_in_recovery()"))
        self.assertEqual(self.scalar(ro, "SELECT name FROM pg2_items WHERE id = %s", (7,)),
                         "item 7")
        ro.commit()
        # Parameters (extended protocol with server-side binding via psycopg2 literals)
        # and a session setting that must stick across transactions.
        with rw.cursor() as cur:
            cur.execute("SET application_name = 'router_it'")
        rw.commit()
        for _ in range(3):
            self.assertEqual(self.scalar(rw, "SHOW application_name"), "router_it")
            rw.commit()

    def test_copy_in_and_out(self):
        conn = self.connect()
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE copy_rows (id int, note text)")
            data = "".join(f"{i}\tnote {i}\n" for i in range(5000))
            cur.copy_expert("COPY copy_rows FROM STDIN", io.StringIO(data))
            self.assertEqual(cur.rowcount, 5000)
        conn.commit()
        self.assertEqual(self.scalar(conn, "SELECT count(*) FROM copy_rows"), 5000)
        conn.commit()
        out = io.StringIO()
        with conn.cursor() as cur:
            cur.copy_expert("COPY (SELECT * FROM copy_rows ORDER BY id) TO STDOUT", out)
        conn.commit()
        lines = out.getvalue().splitlines()
        self.assertEqual(len(lines), 5000)
        self.assertEqual(lines[4999], "4999\tnote 4999")
        # psql's \copy through the router, both directions.
        path = os.path.join(self.dir, "copy_out.tsv")
        self.run_psql(self.dsn(), "-c", f"\\copy copy_rows TO '{path}'")
        with open(path) as f:
            self.assertEqual(len(f.read().splitlines()), 5000)
        p = self.run_psql(self.dsn(), "-c", f"\\copy copy_rows FROM '{path}'")
        self.assertIn("COPY 5000", p.stdout)
        self.assertEqual(self.scalar(conn, "SELECT count(*) FROM copy_rows"), 10000)
        conn.commit()

    def test_results_past_the_back_pressure_mark_to_a_fast_reader(self):
        # Results of 1.5-7 MB read as fast as they come: the router stops
        # reading PostgreSQL whenever 1 MiB waits for the client, and when the
        # flush at the end of the event batch then sends it all, no EPOLLOUT
        # follows, so the router must restart the server's reads itself. When
        # it did not, a result whose tail was already in the server socket
        # stalled (PostgreSQL had nothing more to send): in 5 of 6 runs of
        # this class, with SHOW CLIENTS showing the client's output empty and
        # the server's socket unread.
        w = self.login()
        try:
            w.sock.settimeout(30)
            for i in range(40):
                rows = 1500 + 150 * i
                w.message(b"Q", f"SELECT repeat('y', 1000) FROM generate_series(1, {rows})"
                                .encode() + b"\0")
                messages = w.read_until_ready()
                self.assertEqual(errors_in(messages), [])
                self.assertEqual(sum(1 for kind, _ in messages if kind == b"D"), rows)
                self.assertEqual(messages[-1], (b"Z", b"I"))
        finally:
            w.close()

    def test_result_larger_than_the_socket_buffers_to_a_slow_reader(self):
        # 48 MB of rows towards a client that reads nothing for a while: the
        # router's writes to it block, so it must ask for EPOLLOUT, stop
        # reading the server (1 MiB back-pressure) and resume both once the
        # client drains. A lost wake-up would leave the read below waiting.
        w = self.login()
        try:
            rows = 48_000
            w.message(b"Q", f"SELECT repeat('x', 1000) FROM generate_series(1, {rows})"
                            .encode() + b"\0")
            time.sleep(1.5)
            w.sock.settimeout(30)
            messages = w.read_until_ready()
            data_rows = [body for kind, body in messages if kind == b"D"]
            self.assertEqual(errors_in(messages), [])
            self.assertEqual(len(data_rows), rows)
            self.assertTrue(all(body.endswith(b"x" * 1000) for body in data_rows))
            self.assertEqual(messages[-1], (b"Z", b"I"))
            # The connection still serves the next query.
            self.assertEqual([b for k, b in w.query("SELECT 7") if k == b"D"],
                             [struct.pack("!hi", 1, 1) + b"7"])
        finally:
            w.close()

    def test_copy_in_larger_than_the_socket_buffers(self):
        # 32 MiB arrive faster than PostgreSQL stores them, so the router's
        # writes to the server block and it must wait for the socket to drain
        # (it asks for EPOLLOUT only then) and hold back reading the client
        # (1 MiB back-pressure). A lost wake-up would stall psql: the timeout.
        conn = self.connect()
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE copy_big (id int, pad text)")
        conn.commit()
        path = os.path.join(self.dir, "copy_big.tsv")
        rows, pad = 320_000, "x" * 96
        with open(path, "w") as f:
            for i in range(rows):
                f.write(f"{i}\t{pad}\n")
        p = self.run_psql(self.dsn(), "-c", f"\\copy copy_big FROM '{path}'", timeout=120)
        self.assertIn(f"COPY {rows}", p.stdout)
        with conn.cursor() as cur:
            cur.execute("SELECT count(*), sum(id), sum(length(pad)) FROM copy_big")
            self.assertEqual(cur.fetchone(), (rows, rows * (rows - 1) // 2, rows * len(pad)))
        conn.commit()

    def test_cancel(self):
        conn = self.connect()
        start = time.monotonic()

        def sleep_query():
            with conn.cursor() as cur:
                cur.execute("SELECT pg_sleep(30)")

        t, box = in_thread(sleep_query)
        time.sleep(1)
        conn.cancel()
        t.join(timeout=15)
        self.assertFalse(t.is_alive(), "the cancelled query was still running 16 s later\n"
                         + self.router_log())
        self.assertIsInstance(box.get("error"), psycopg2.errors.QueryCanceled, box)
        self.assertLess(box["done_at"] - start, 10)
        conn.rollback()
        self.assertEqual(self.scalar(conn, "SELECT 1"), 1)  # the connection is still usable
        conn.rollback()

    def test_killed_client_leaves_no_open_transaction(self):
        setup = self.connect()
        with setup.cursor() as cur:
            cur.execute("CREATE TABLE killed_rows (tag text)")
        setup.commit()
        marker = f"killed-{self.mode}"
        script = ("import psycopg2, sys, time\n"
                  "conn = psycopg2.connect(sys.argv[1])\n"
                  "cur = conn.cursor()\n"
                  "cur.execute('INSERT INTO killed_rows VALUES (%s)', (sys.argv[2],))\n"
                  "print('inserted', flush=True)\n"
                  "time.sleep(120)\n")
        child = subprocess.Popen([sys.executable, "-c", script, self.dsn(), marker],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        def reap():
            if child.poll() is None:
                child.kill()
            child.communicate(timeout=10)  # also closes the pipes

        self.addCleanup(reap)
        line = child.stdout.readline()
        self.assertEqual(line.strip(), "inserted", child.stderr.read() if not line else line)
        direct = psycopg2.connect(self.direct_dsn())
        direct.autocommit = True
        self.addCleanup(direct.close)
        open_tx = ("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' "
                   "AND state LIKE 'idle in transaction%'")
        self.assertEqual(self.scalar(direct, open_tx), 1, "the child's transaction should be open")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        gone = wait_until(lambda: self.scalar(direct, open_tx) == 0, timeout=5, interval=0.1)
        self.assertTrue(gone, "an 'idle in transaction' backend of role app survived its "
                        "client's SIGKILL by 5 s\n" + self.router_log())
        self.assertEqual(
            self.scalar(direct, "SELECT count(*) FROM killed_rows WHERE tag = %s", (marker,)), 0)

    def test_scram_wrong_password_and_unknown_role(self):
        # The real password works (SCRAM, by psycopg2 and by hand).
        self.assertEqual(self.scalar(self.connect(), "SELECT current_user"), "app")
        w = self.login()
        self.assertEqual(errors_in(w.query("SELECT 1")), [])
        for user, password in (("app", "wrong password"), ("nobody_here", "whatever")):
            with self.subTest(user=user):
                with self.assertRaises(psycopg2.OperationalError) as cm:
                    psycopg2.connect(self.dsn(user=user, password=password))
                self.assertIn(f'password authentication failed for user "{user}"',
                              str(cm.exception))
                with self.assertRaises(LoginFailed) as raw:
                    scram_login(self.wire(), user, password, "app")
                self.assertEqual(raw.exception.fields.get("C"), "28P01", raw.exception.fields)
        # An unknown role looks like a real one: its salt is the same on every
        # attempt (PostgreSQL's mock salt), yet differs from role to role.
        salts = {user: [scram_server_first(self.wire(), user, "app")["s"] for _ in range(2)]
                 for user in ("app", "nobody_here", "nobody_else")}
        for user, (first, second) in salts.items():
            self.assertEqual(first, second, user)
            self.assertEqual(len(base64.b64decode(first)), 16, user)
        self.assertEqual(len({s[0] for s in salts.values()}), 3, salts)


    def check_pause(self, release, blocked, expected):
        """PAUSE must wait while a client holds a server; release() lets it
        finish. While paused, blocked() must not complete; after RESUME it
        returns `expected`."""
        pause = subprocess.Popen(
            ["psql", "-X", "-d", self.dsn(user="postgres", db="tusk"), "-c", "PAUSE"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={"PATH": os.environ["PATH"]})
        self.addCleanup(lambda: pause.poll() is None and pause.kill())
        resumed = False
        try:
            time.sleep(1.5)
            if pause.poll() is not None:
                self.fail("PAUSE returned while a client held a server: "
                          + "".join(pause.communicate()))
            release()
            out, err = pause.communicate(timeout=10)
            self.assertEqual(pause.returncode, 0, err)
            self.assertIn("PAUSE", out)
            _, rows = self.admin("SHOW POOLS")
            self.assertIn("yes", [r[10] for r in rows if r[0] == "app"], rows)
            resumed = True  # assert_held_until_resume always resumes
            self.assertEqual(assert_held_until_resume(self, blocked), expected)
        finally:
            if not resumed:
                self.admin_command("RESUME", check=False)


class TransactionModeTest(ClientTests, RouterCase):
    mode = "transaction"
    router = """
        pool_size: 10
        max_client_connections: 10000
        pool_wait_timeout: 30s
        idle_client_timeout: 0
        idle_transaction_timeout: 0
        query_timeout: 0
        server_lifetime: 1h
        client_auth: scram-sha-256
        admin_roles: [postgres]
        tls: {mode: allow}
        metrics_port: {metrics_port}
        """

    # -- pgbench ---------------------------------------------------------------

    pgbench_ready = False

    def pgbench_init(self):
        if TransactionModeTest.pgbench_ready:
            return
        p = subprocess.run(["pgbench", "-i", "-s", "1", self.direct_dsn(user="app")],
                           capture_output=True, text=True, timeout=300,
                           env={"PATH": os.environ["PATH"]})
        self.assertEqual(p.returncode, 0, p.stderr)
        TransactionModeTest.pgbench_ready = True

    def pgbench(self, protocol):
        """50 pgbench clients over a pool of 10: no failures, and PostgreSQL
        never sees more than 10 of their server connections."""
        self.pgbench_init()
        direct = psycopg2.connect(self.direct_dsn())
        direct.autocommit = True
        self.addCleanup(direct.close)
        bench = subprocess.Popen(["pgbench", "-M", protocol, "-c", "50", "-j", "2", "-T", "5",
                                  self.dsn()],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={"PATH": os.environ["PATH"]})
        self.addCleanup(lambda: bench.poll() is None and bench.kill())
        servers = []
        while bench.poll() is None:
            servers.append(self.scalar(direct, "SELECT count(*) FROM pg_stat_activity WHERE "
                                       "usename = 'app' AND application_name = 'pgbench'"))
            time.sleep(0.25)
        out, err = bench.communicate(timeout=60)
        report = f"stdout:\n{out}\nstderr:\n{err}\n{self.router_log()}"
        self.assertEqual(bench.returncode, 0, report)
        self.assertRegex(out, r"number of failed transactions: 0\b", report)
        errors = [l for l in (out + err).splitlines() if "error" in l.lower()]
        self.assertEqual(errors, [], report)
        processed = int(re.search(r"number of transactions actually processed: (\d+)",
                                  out).group(1))
        self.assertGreater(processed, 50, report)
        self.assertTrue(0 < max(servers) <= 10, f"pgbench server connections seen: {servers}")

    def test_pgbench_simple(self):
        self.pgbench("simple")

    def test_pgbench_extended(self):
        self.pgbench("extended")

    def test_pgbench_prepared(self):
        self.pgbench("prepared")

    # -- transaction-mode rules ------------------------------------------------

    def test_client_leaving_inside_a_transaction_is_rolled_back_and_its_server_kept(self):
        setup = self.connect()
        with setup.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS left_rows (tag text, pid int)")
        setup.commit()
        direct = psycopg2.connect(self.direct_dsn())
        direct.autocommit = True
        self.addCleanup(direct.close)
        # psycopg2 opens a transaction implicitly; close() without commit leaves it.
        leaver = psycopg2.connect(self.dsn())
        with leaver.cursor() as cur:
            cur.execute("SET statement_timeout = 4321")
            cur.execute("INSERT INTO left_rows SELECT 'left', pg_backend_pid() RETURNING pid")
            pid = cur.fetchone()[0]
        leaver.close()
        state = ("SELECT coalesce((SELECT state FROM pg_stat_activity WHERE pid = %s), 'gone')")
        self.assertTrue(wait_until(lambda: self.scalar(direct, state, (pid,)) == "idle",
                                   timeout=5, interval=0.1),
                        f"backend {pid} is {self.scalar(direct, state, (pid,))}, not idle and "
                        "reused\n" + self.router_log())
        self.assertEqual(self.scalar(direct, "SELECT count(*) FROM left_rows"), 0)
        # Whoever gets that server next sees neither the row nor the SET.
        others = [self.connect() for _ in range(3)]
        for c in others:
            c.autocommit = True
            self.assertEqual(self.scalar(c, "SHOW statement_timeout"), "0")

    def test_startup_options_follow_the_client_across_servers(self):
        # PGOPTIONS-style settings apply wherever the client's transactions run.
        with_opts = self.connect(options="-c statement_timeout=1234 --lock-timeout=4321")
        plain = self.connect()
        with_opts.autocommit = plain.autocommit = True
        for _ in range(5):
            self.assertEqual(self.scalar(with_opts, "SHOW statement_timeout"), "1234ms")
            self.assertEqual(self.scalar(with_opts, "SHOW lock_timeout"), "4321ms")
            self.assertEqual(self.scalar(plain, "SHOW statement_timeout"), "0")
        with self.assertRaises(psycopg2.OperationalError) as cm:
            psycopg2.connect(self.dsn(options="-B 100"))
        self.assertIn("invalid command-line argument", str(cm.exception))

    def test_listen_is_refused_with_a_pointer_to_session_mode(self):
        conn = self.connect()
        conn.autocommit = True
        with self.assertRaises(psycopg2.errors.FeatureNotSupported) as cm:
            with conn.cursor() as cur:
                cur.execute("LISTEN router_events")
        e = cm.exception
        self.assertEqual(e.pgcode, "0A000")
        self.assertIn("session", f"{e.diag.message_primary} {e.diag.message_hint}")
        self.assertEqual(self.scalar(conn, "SELECT 1"), 1)  # the client is still fine

    # -- TLS -------------------------------------------------------------------

    def test_tls_with_psql_and_psycopg2(self):
        p = self.run_psql(self.dsn(sslmode="require"), "-c", "\\conninfo")
        self.assertIn("SSL connection", p.stdout)
        p = self.run_psql(self.dsn(sslmode="require"), "-At", "-c", "SELECT current_user")
        self.assertEqual(p.stdout.strip(), "app")
        tls = self.connect(sslmode="require")
        self.assertTrue(tls.info.ssl_in_use)
        self.assertEqual(self.scalar(tls, "SELECT 7"), 7)
        tls_ro = self.connect(sslmode="require", port=self.ro_port)
        self.assertTrue(tls_ro.info.ssl_in_use)
        self.assertEqual(self.scalar(tls_ro, "SELECT 8"), 8)
        # tls mode allow: plaintext is accepted too.
        plain = self.connect(sslmode="disable")
        self.assertFalse(plain.info.ssl_in_use)
        self.assertEqual(self.scalar(plain, "SELECT 9"), 9)

    # -- startup negotiation -----------------------------------------------------

    def test_gssenc_refused_and_newer_minor_version_negotiated(self):
        # GSSENCRequest is answered 'N'; the client goes on in plaintext.
        w = self.wire()
        w.send(struct.pack("!ii", 8, GSSENC_REQUEST))
        self.assertEqual(w.sock.recv(1), b"N")
        # Protocol 3.2 with an option the router does not know: it answers
        # NegotiateProtocolVersion (newest minor 0, the option refused) and
        # the login goes on at 3.0, as PostgreSQL's does.
        scram_login(w, "app", self.secrets["app"], "app", version=(3 << 16) | 2,
                    **{"_pq_.unknown_option": "x"})
        self.assertIsNotNone(w.negotiated, "no NegotiateProtocolVersion")
        newest, count = struct.unpack("!ii", w.negotiated[:8])
        self.assertEqual((newest, count), (0, 1))
        self.assertEqual(w.negotiated[8:], b"_pq_.unknown_option\0")
        rows = [body for kind, body in w.query("SELECT 41 + 1") if kind == b"D"]
        self.assertEqual(len(rows), 1)
        self.assertTrue(rows[0].endswith(b"42"), rows)
        # A plain 3.0 startup gets no NegotiateProtocolVersion.
        w2 = self.wire()
        scram_login(w2, "app", self.secrets["app"], "app")
        self.assertIsNone(w2.negotiated)

    # -- malformed input ---------------------------------------------------------

    def test_startup_packet_with_bad_length(self):
        for length in (3, 20000):
            with self.subTest(length=length):
                w = self.wire()
                w.send(struct.pack("!ii", length, 196608))
                messages = w.read_to_eof()
                self.assertEqual([e.get("C") for e in errors_in(messages)], ["08P01"],
                                 f"{messages!r}\n{self.router_log()}")
        # The router still serves.
        self.assertEqual(self.scalar(self.connect(), "SELECT 1"), 1)

    def test_message_with_bad_length_after_login(self):
        bystander = self.connect()
        self.assertEqual(self.scalar(bystander, "SELECT 1"), 1)
        bystander.commit()
        for length in (2, 0x7FFFFFFF):
            with self.subTest(length=length):
                w = self.login()
                self.assertEqual(errors_in(w.query("SELECT 1")), [])
                w.send(b"Q" + struct.pack("!i", length) + b"SELECT 1\0")
                messages = w.read_to_eof()
                self.assertEqual([e.get("C") for e in errors_in(messages)], ["08P01"],
                                 f"{messages!r}\n{self.router_log()}")
                self.assertEqual(self.scalar(bystander, "SELECT %s", (length,)), length)
                bystander.commit()

    # -- admin console -------------------------------------------------------------

    def test_admin_console_show(self):
        app = self.connect()
        self.assertEqual(self.scalar(app, "SELECT 1"), 1)
        app.commit()
        expected = {
            "POOLS": ["database", "user", "port", "cl_active", "cl_waiting", "cl_idle",
                      "sv_active", "sv_idle", "sv_total", "pool_size", "paused"],
            "CLIENTS": ["database", "user", "state", "addr", "tls", "age_s", "worker",
                        "server_pid"],
            "SERVERS": ["database", "user", "state", "backend", "pid", "age_s", "worker",
                        "prepared"],
            "STATS": ["database", "user", "port", "total_xact_count", "total_query_count",
                      "total_received", "total_sent", "avg_xact_time_us", "avg_query_time_us",
                      "avg_wait_time_us", "wait_timeouts", "server_connects", "server_errors",
                      "pipelined"],
            "LATENCY": ["database", "user", "port", "metric", "count", "p50_us", "p95_us",
                        "p99_us", "p99_9_us", "max_us"],
            "BACKENDS": ["role", "host", "port", "state", "outstanding"],
        }
        tables = {}
        for what, columns in expected.items():
            with self.subTest(show=what):
                got, rows = self.admin(f"SHOW {what}")
                self.assertEqual(got[:len(columns)], columns)  # extra columns may follow
                self.assertTrue(all(len(r) == len(got) for r in rows), rows)
                tables[what] = [dict(zip(got, r)) for r in rows]
        pools = [r for r in tables["POOLS"] if r["database"] == "app" and r["user"] == "app"
                 and r["port"] == "rw"]
        self.assertEqual(len(pools), 1, tables["POOLS"])
        self.assertEqual(pools[0]["pool_size"], "10")
        self.assertGreaterEqual(int(pools[0]["sv_total"]), 1)
        self.assertTrue(any(r["user"] == "app" and r["database"] == "app"
                            for r in tables["CLIENTS"]), tables["CLIENTS"])
        # addr is the client's own end of the connection, host:port.
        with socket.socket(fileno=os.dup(app.fileno())) as own:
            host, port = own.getsockname()[:2]
        self.assertIn(f"{host}:{port}", [r["addr"] for r in tables["CLIENTS"]], tables["CLIENTS"])
        servers = [r for r in tables["SERVERS"] if r["user"] == "app"]
        self.assertTrue(servers and all(int(r["pid"]) > 0 for r in servers), tables["SERVERS"])
        stats = [r for r in tables["STATS"] if r["database"] == "app" and r["port"] == "rw"]
        self.assertTrue(stats and int(stats[0]["total_xact_count"]) > 0, tables["STATS"])
        self.assertTrue({"query", "transaction", "wait"} <=
                        {r["metric"] for r in tables["LATENCY"] if r["database"] == "app"},
                        tables["LATENCY"])
        self.assertEqual([(r["host"], r["port"], r["state"]) for r in tables["BACKENDS"]
                          if r["role"] == "primary"], [("127.0.0.1", str(self.pg_port), "up")],
                         tables["BACKENDS"])
        # Unknown commands are errors, not silence.
        p = self.run_psql(self.dsn(user="postgres", db="tusk"), "-c", "SHOW NONSENSE",
                          check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("unknown admin command", p.stderr)

    def test_admin_console_refuses_non_admin_roles(self):
        with self.assertRaises(psycopg2.OperationalError) as cm:
            psycopg2.connect(self.dsn(user="app", db="tusk"))
        self.assertIn("permission denied", str(cm.exception))
        with self.assertRaises(LoginFailed) as raw:
            self.login(user="app", db="tusk")
        self.assertEqual(raw.exception.fields.get("C"), "42501", raw.exception.fields)

    def test_pause_waits_for_open_transactions_and_resume_releases_queries(self):
        holder = self.connect()
        with holder.cursor() as cur:
            cur.execute("SELECT 1")  # psycopg2 opened a transaction: the server is held
        waiter = self.connect()
        waiter.autocommit = True
        self.assertEqual(self.scalar(waiter, "SELECT 2"), 2)
        self.addCleanup(waiter.cancel)  # runs before close(): never block on a stuck query
        # After COMMIT the holder keeps its connection but no longer holds a server.
        self.check_pause(release=holder.commit,
                         blocked=lambda: self.scalar(waiter, "SELECT 3"), expected=3)

    # -- metrics, status, url ---------------------------------------------------

    def test_prometheus_metrics(self):
        conn = self.connect()
        for i in range(5):
            self.assertEqual(self.scalar(conn, "SELECT %s", (i,)), i)
            conn.commit()
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                    timeout=10) as r:
            self.assertEqual(r.status, 200)
            text = r.read().decode()
        self.assertRegex(text, r'tusk_router_query_seconds_bucket\{[^}]*database="app"')
        m = re.search(r'^tusk_router_transactions_total\{[^}]*database="app"[^}]*port="rw"'
                      r'[^}]*\} (\d+)', text, re.M)
        self.assertTrue(m, text[:3000])
        self.assertGreaterEqual(int(m.group(1)), 5)

    def test_status_and_url_via_router(self):
        st = self.tusk("status")
        self.assertEqual(st.returncode, 0, st.stderr)
        router_lines = [l for l in st.stdout.splitlines() if "router" in l.lower()]
        self.assertTrue(any(f":{self.port}" in l for l in router_lines), st.stdout)
        url = self.tusk("url", "app", "--via-router")
        self.assertEqual(url.returncode, 0, url.stderr)
        uri = url.stdout.strip()
        self.assertIn(f":{self.port}/", uri)
        p = self.run_psql(uri, "-At", "-c", "SELECT current_user, current_database()")
        self.assertEqual(p.stdout.strip(), "app|app")
        url = self.tusk("url", "app", "--via-router", "--readonly")
        self.assertEqual(url.returncode, 0, url.stderr)
        uri = url.stdout.strip()
        self.assertIn(f":{self.ro_port}/", uri)
        p = self.run_psql(uri, "-At", "-c", "SELECT current_user, pg_is_in_recovery()")
        self.assertEqual(p.stdout.strip(), "app|f")


class SessionModeTest(ClientTests, RouterCase):
    mode = "session"
    router = """
        pool_size: 10
        tls: {mode: allow}
        """

    def test_listen_notify(self):
        listener = self.connect()
        listener.autocommit = True
        with listener.cursor() as cur:
            cur.execute("LISTEN router_events")
        notifier = self.connect()
        notifier.autocommit = True
        with notifier.cursor() as cur:
            cur.execute("NOTIFY router_events, 'hello'")

        def received():
            listener.poll()
            return listener.notifies

        self.assertTrue(wait_until(received, timeout=5, interval=0.1),
                        "no notification within 5 s\n" + self.router_log())
        n = listener.notifies.pop(0)
        self.assertEqual((n.channel, n.payload), ("router_events", "hello"))

    def test_session_state_persists_and_the_next_session_starts_clean(self):
        first = psycopg2.connect(self.dsn())
        first.autocommit = True
        with first.cursor() as cur:
            cur.execute("SET statement_timeout = 4321")
            cur.execute("CREATE TEMP TABLE session_only (x int)")
            cur.execute("INSERT INTO session_only VALUES (1), (2)")
            cur.execute("PREPARE two AS SELECT count(*) FROM session_only")
            cur.execute("LISTEN left_channel")
            cur.execute("EXECUTE two")
            self.assertEqual(cur.fetchone()[0], 2)
            cur.execute("SHOW statement_timeout")
            self.assertEqual(cur.fetchone()[0], "4321ms")
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
        first.close()
        # Hold each new session until one lands on that server (pool_size 10).
        for _ in range(10):
            conn = self.connect()
            conn.autocommit = True
            if self.scalar(conn, "SELECT pg_backend_pid()") == pid:
                break
        else:
            self.fail(f"no new session got server {pid} back\n{self.router_log()}")
        self.assertEqual(self.scalar(conn, "SHOW statement_timeout"), "0")
        self.assertIsNone(self.scalar(conn, "SELECT to_regclass('pg_temp.session_only')"))
        self.assertEqual(self.scalar(conn, "SELECT count(*) FROM pg_prepared_statements"), 0)
        self.assertEqual(self.scalar(conn, "SELECT count(*) FROM pg_listening_channels()"), 0)

    def test_pause_waits_for_session_clients(self):
        holder = self.connect()
        with holder.cursor() as cur:
            cur.execute("SELECT 1")  # transaction open; the session holds its server anyway

        def release():  # session mode: the server is released when the client leaves
            holder.commit()
            holder.close()

        # A new session needs a server at login: it waits until RESUME.
        self.check_pause(release=release,
                         blocked=lambda: self.scalar(psycopg2.connect(self.dsn()), "SELECT 4"),
                         expected=4)


class LimitsTest(RouterCase):
    """TLS required, at most 3 clients, one server connection, 1 s pool wait."""
    router = """
        pool_size: 1
        max_client_connections: 3
        pool_wait_timeout: 1s
        tls: {mode: require}
        """

    def test_plaintext_is_refused_when_tls_is_required(self):
        with self.assertRaises(psycopg2.OperationalError) as cm:
            psycopg2.connect(self.dsn(sslmode="disable"))
        self.assertIn("SSL", str(cm.exception))
        w = self.wire()
        w.startup(user="app", database="app")
        errors = errors_in(w.read_to_eof())
        self.assertEqual([e.get("C") for e in errors], ["28000"], errors)
        conn = self.connect(sslmode="require")
        self.assertTrue(conn.info.ssl_in_use)
        self.assertEqual(self.scalar(conn, "SELECT 1"), 1)
        p = self.run_psql(self.dsn(sslmode="require"), "-c", "\\conninfo")
        self.assertIn("SSL connection", p.stdout)

    def test_max_client_connections(self):
        held = [self.connect(sslmode="require") for _ in range(3)]
        with self.assertRaises(psycopg2.OperationalError) as cm:
            psycopg2.connect(self.dsn(sslmode="require"))
        self.assertIn("sorry, too many clients already", str(cm.exception))
        # By hand, the SQLSTATE: refused right after the startup packet.
        w = self.wire()
        self.assertEqual(w.start_tls(), b"S")
        w.startup(user="app", database="app")
        errors = errors_in(w.read_to_eof())
        self.assertEqual([e.get("C") for e in errors], ["53300"], errors)
        held.pop().close()
        fresh = wait_until(lambda: _connects(self.dsn(sslmode="require")), timeout=5)
        self.assertTrue(fresh, "a slot freed by a closed client was not given back")
        for c in held:
            c.close()

    def test_pool_wait_timeout(self):
        a = self.connect(sslmode="require")
        with a.cursor() as cur:
            cur.execute("SELECT 1")  # BEGIN ...: A holds the only server connection
        # B, by hand: logged in at once, but its query gets a FATAL after ~1 s.
        b = self.wire()
        self.assertEqual(b.start_tls(), b"S")
        scram_login(b, "app", self.secrets["app"], "app")
        start = time.monotonic()
        b.message(b"Q", b"SELECT 1\0")
        messages = b.read_to_eof()
        waited = time.monotonic() - start
        errors = errors_in(messages)
        self.assertEqual([(e.get("S"), e.get("C")) for e in errors], [("FATAL", "08P01")],
                         messages)
        self.assertIn("pool_wait_timeout", errors[0]["M"])
        self.assertGreater(waited, 0.8)
        self.assertLess(waited, 5)
        # psql shows the same FATAL to a person.
        p = self.run_psql(self.dsn(sslmode="require"), "-c", "SELECT 1", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("pool_wait_timeout", p.stderr)
        # A is unaffected.
        with a.cursor() as cur:
            cur.execute("SELECT 2")
            self.assertEqual(cur.fetchone()[0], 2)
        a.commit()
        self.assertEqual(self.scalar(a, "SELECT 3"), 3)
        a.commit()


class TimeoutsTest(RouterCase):
    """idle_transaction_timeout, query_timeout and idle_client_timeout, each
    with the SQLSTATE PostgreSQL itself uses."""
    router = """
        idle_transaction_timeout: 1s
        query_timeout: 1s
        idle_client_timeout: 3s
        """

    def test_query_timeout_cancels_the_query(self):
        conn = self.connect()
        conn.autocommit = True
        start = time.monotonic()
        with self.assertRaises(psycopg2.errors.QueryCanceled) as cm:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_sleep(20)")
        self.assertEqual(cm.exception.pgcode, "57014")
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(self.scalar(conn, "SELECT 1"), 1)  # the session goes on

    def test_idle_in_transaction_timeout(self):
        w = self.wire()
        scram_login(w, "app", self.secrets["app"], "app")
        w.message(b"Q", b"BEGIN\0")
        start = time.monotonic()
        messages = w.read_to_eof()
        errors = errors_in(messages)
        self.assertEqual([(e.get("S"), e.get("C")) for e in errors], [("FATAL", "25P03")],
                         messages)
        self.assertGreater(time.monotonic() - start, 0.8)
        # No transaction was left open on the server.
        direct = psycopg2.connect(self.direct_dsn())
        self.addCleanup(direct.close)
        direct.autocommit = True
        self.assertTrue(wait_until(lambda: self.scalar(
            direct, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' "
            "AND state LIKE 'idle in transaction%'") == 0, timeout=5))

    def test_idle_client_timeout(self):
        w = self.wire()
        scram_login(w, "app", self.secrets["app"], "app")
        start = time.monotonic()
        errors = errors_in(w.read_to_eof())
        self.assertEqual([(e.get("S"), e.get("C")) for e in errors], [("FATAL", "57P05")])
        self.assertGreater(time.monotonic() - start, 2.5)


def _quietly(fn):
    """fn(), or False when it raises a psycopg2 error."""
    try:
        return fn()
    except psycopg2.Error:
        return False


def _connects(dsn):
    try:
        psycopg2.connect(dsn).close()
        return True
    except psycopg2.OperationalError:
        return False


class StandbyTest(RouterCase):
    """The read-only port with no standby, then a pg_basebackup standby added by
    editing the router spec and RELOAD, then the standby stopped."""
    router = """
        pool_size: 5
        tls: {mode: disable}
        """
    hba = """
        - {type: local, database: all, user: postgres, method: "peer map=tusk"}
        - {type: host, database: all, user: all, address: 127.0.0.1/32, method: scram-sha-256}
        - {type: host, database: replication, user: postgres, address: 127.0.0.1/32, method: scram-sha-256}
        """

    def in_recovery(self, port):
        """pg_is_in_recovery() on a new connection, in its own transaction."""
        conn = psycopg2.connect(self.dsn(port=port))
        conn.autocommit = True  # the server goes back to the pool cleanly
        try:
            return self.scalar(conn, "SELECT pg_is_in_recovery()")
        finally:
            conn.close()

    def start_standby(self):
        root = tempfile.mkdtemp(prefix="tusk-standby-")
        os.chmod(root, 0o755)
        shutil.chown(root, "postgres", "postgres")
        type(self).cleanups.append(lambda: shutil.rmtree(root, ignore_errors=True))
        data = os.path.join(root, "data")
        port = free_port()
        as_postgres = ["runuser", "-u", "postgres", "--"]
        p = subprocess.run(
            as_postgres + ["env", f"PGPASSWORD={self.secrets['postgres']}",
                           os.path.join(PG_BIN, "pg_basebackup"), "-h", "127.0.0.1", "-p",
                           str(self.pg_port), "-U", "postgres", "-D", data, "-R", "-X",
                           "stream", "-c", "fast"],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        pg_ctl = as_postgres + [os.path.join(PG_BIN, "pg_ctl"), "-D", data]
        type(self).cleanups.append(lambda: subprocess.run(
            pg_ctl + ["stop", "-m", "immediate"], capture_output=True, timeout=60))
        p = subprocess.run(pg_ctl + ["-l", os.path.join(root, "standby.log"), "-w", "-t", "60",
                                     "-o", f"-p {port} -k {root}", "start"],
                           capture_output=True, text=True, timeout=90)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return port, pg_ctl

    def test_read_only_port_follows_standbys(self):
        # No standbys: the read-only port falls back to the primary.
        self.assertFalse(self.in_recovery(self.ro_port))
        rw_before = self.connect()
        ro_before = self.connect(port=self.ro_port)
        self.assertFalse(self.scalar(ro_before, "SELECT pg_is_in_recovery()"))
        ro_before.commit()
        with rw_before.cursor() as cur:
            cur.execute("CREATE TABLE replicated (x int)")
            cur.execute("INSERT INTO replicated VALUES (1)")
        rw_before.commit()
        # Warm the read-only pool on the primary (several server connections, on
        # every worker), so that stale fallback connections exist at RELOAD time.
        warm = [self.connect(port=self.ro_port) for _ in range(4)]
        for c in warm:
            self.assertFalse(self.scalar(c, "SELECT pg_is_in_recovery()"))
        for c in warm:
            c.commit()
            c.close()
        # A psql session opened before the reload, kept open across it.
        psql = subprocess.Popen(
            ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.dsn(port=self.ro_port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={"PATH": os.environ["PATH"]})
        self.addCleanup(lambda: psql.poll() is None and psql.kill())
        psql.stdin.write("SELECT 'before', pg_is_in_recovery();\n")
        psql.stdin.flush()
        self.assertEqual(psql.stdout.readline().strip(), "before|f")

        standby_port, pg_ctl = self.start_standby()
        self.assertTrue(self.in_recovery(standby_port), "the standby is not in recovery")

        with open(self.spec_path()) as f:
            spec = json.load(f)
        spec["standbys"] = [{"host": "127.0.0.1", "port": standby_port}]
        with open(self.spec_path(), "w") as f:
            json.dump(spec, f, indent=2)
        self.assertIn("RELOAD", self.admin_command("RELOAD").stdout)
        backends = self.admin("SHOW BACKENDS")[1]
        self.assertIn(["standby", "127.0.0.1", str(standby_port)], [r[:3] for r in backends],
                      backends)

        # Connections opened before the reload keep working.
        self.assertEqual(self.scalar(rw_before, "SELECT count(*) FROM replicated"), 1)
        rw_before.commit()
        self.assertEqual(self.scalar(ro_before, "SELECT 5"), 5)
        ro_before.commit()
        out, err = psql.communicate("SELECT 'after', count(*) FROM replicated;\n", timeout=30)
        self.assertEqual(psql.returncode, 0, err)
        self.assertEqual(out.strip(), "after|1")
        # New read-only transactions go to the standby (workers apply the reload
        # asynchronously: give them a moment), never to a leftover idle server
        # connection that was opened on the primary while there was no standby.
        time.sleep(0.5)
        with self.subTest("no leftover primary connection serves the read-only port"):
            seen = [self.in_recovery(self.ro_port) for _ in range(8)]
            if seen != [True] * 8:
                servers = [r[3] + " " + r[2] for r in self.admin("SHOW SERVERS")[1]]
                self.fail(f"pg_is_in_recovery() of 8 new read-only-port transactions after "
                          f"RELOAD: {seen} (False = the primary); primary :{self.pg_port}, "
                          f"standby :{standby_port}; SHOW SERVERS: {servers}\n"
                          + self.router_log())
        # Whatever that found, end the primary's idle app backends (as
        # server_idle_timeout eventually would): new server connections of the
        # read-only pool must then go to the standby.
        direct = psycopg2.connect(self.direct_dsn())
        direct.autocommit = True
        self.addCleanup(direct.close)
        self.scalar(direct, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE usename = 'app' AND state = 'idle'")
        self.assertTrue(wait_until(lambda: _quietly(lambda: self.in_recovery(self.ro_port)),
                                   timeout=5),
                        "the read-only port never reached the standby\n" + self.router_log())
        self.assertEqual([self.in_recovery(self.ro_port) for _ in range(5)], [True] * 5)
        self.assertFalse(self.in_recovery(self.port), "the read-write port must stay on the "
                         "primary")

        # The standby goes away: the read-only port falls back to the primary.
        p = subprocess.run(pg_ctl + ["stop", "-m", "fast", "-w"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)

        # (a transaction that was on the standby may fail once)
        on_primary = lambda: _quietly(lambda: self.in_recovery(self.ro_port) is False)
        self.assertTrue(wait_until(on_primary, timeout=10, interval=0.3),
                        "the read-only port did not fall back to the primary\n"
                        + self.router_log())
        self.assertEqual([self.in_recovery(self.ro_port) for _ in range(3)], [False] * 3)
        self.assertEqual(self.scalar(rw_before, "SELECT count(*) FROM replicated"), 1)
        rw_before.commit()


class AuthQueryTest(RouterCase):
    """Roles tusk does not manage log in through the router with the
    verifier the auth query (tusk_router_auth + tusk_router.lookup) reads."""
    mode = "transaction"
    router = """
        pool_size: 4
        admin_roles: [postgres]
        """

    def setUp(self):
        self.direct = psycopg2.connect(self.direct_dsn())
        self.direct.autocommit = True
        self.addCleanup(self.direct.close)

    def make_role(self, name, password, attrs="LOGIN"):
        with self.direct.cursor() as cur:
            cur.execute(f"DROP ROLE IF EXISTS {name}")
            cur.execute(f"CREATE ROLE {name} {attrs} PASSWORD %s", (password,))
            cur.execute(f"GRANT CONNECT ON DATABASE app TO {name}")
        self.addCleanup(self.drop_role, name)

    def drop_role(self, name):
        with self.direct.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE usename = %s", (name,))
            cur.execute(f"REVOKE CONNECT ON DATABASE app FROM {name}")
            for _ in range(50):
                try:
                    cur.execute(f"DROP ROLE IF EXISTS {name}")
                    return
                except psycopg2.errors.DependentObjectsStillReferenced:
                    time.sleep(0.1)

    def assert_refused(self, user, password):
        with self.assertRaises(psycopg2.OperationalError) as cm:
            psycopg2.connect(self.dsn(user=user, password=password))
        self.assertIn(f'password authentication failed for user "{user}"', str(cm.exception))
        with self.assertRaises(LoginFailed) as raw:
            scram_login(self.wire(), user, password, "app")
        self.assertEqual(raw.exception.fields.get("C"), "28P01", raw.exception.fields)

    def test_unmanaged_role_logs_in_and_is_pooled(self):
        self.make_role("hand_made", "first secret")
        conns = [self.connect(user="hand_made", password="first secret") for _ in range(6)]
        for i, conn in enumerate(conns):
            conn.autocommit = True
            self.assertEqual(self.scalar(conn, "SELECT current_user"), "hand_made",
                             self.router_log())
            self.assertEqual(self.scalar(conn, "SELECT %s::int + 1", (i,)), i + 1)
        # The router logged its server connections in as the role itself
        # (SCRAM from the client's proof), at most pool_size of them.
        n = self.scalar(self.direct, "SELECT count(*) FROM pg_stat_activity "
                        "WHERE usename = 'hand_made' AND datname = 'app'")
        self.assertTrue(1 <= n <= 4, f"{n} server connections of hand_made")
        # Nothing but the lookup role may run the lookup (it lives in `postgres`).
        other = psycopg2.connect(self.dsn(user="hand_made", password="first secret",
                                          db="postgres", port=self.pg_port))
        self.addCleanup(other.close)
        with self.assertRaises(psycopg2.errors.InsufficientPrivilege):
            self.scalar(other, "SELECT count(*) FROM tusk_router.lookup('hand_made')")

    def test_wrong_password_unknown_nologin_and_superuser_are_refused(self):
        self.make_role("hand_made2", "right one")
        self.make_role("no_login", "right one", attrs="NOLOGIN")
        self.make_role("other_super", "right one", attrs="LOGIN SUPERUSER")
        self.assert_refused("hand_made2", "wrong one")
        self.assert_refused("not_a_role", "right one")
        self.assert_refused("no_login", "right one")
        self.assert_refused("other_super", "right one")
        # The superuser can still connect straight to PostgreSQL.
        c = psycopg2.connect(self.dsn(user="other_super", password="right one",
                                      port=self.pg_port))
        c.close()

    def test_password_change_takes_effect_at_the_next_login(self):
        self.make_role("rotating", "old password")
        old = self.connect(user="rotating", password="old password")
        self.assertEqual(self.scalar(old, "SELECT 1"), 1)
        with self.direct.cursor() as cur:
            cur.execute("ALTER ROLE rotating PASSWORD 'new password'")
            # New server connections must log in with the new keys.
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE usename = 'rotating'")
        self.assert_refused("rotating", "old password")
        new = self.connect(user="rotating", password="new password")
        self.assertEqual(self.scalar(new, "SELECT current_user"), "rotating",
                         self.router_log())

    def test_broken_lookup_fails_clearly_and_apply_repairs_it(self):
        self.make_role("hand_made3", "pw three")
        su = psycopg2.connect(self.direct_dsn(db="postgres"))
        su.autocommit = True
        self.addCleanup(su.close)
        with su.cursor() as cur:
            cur.execute("REVOKE EXECUTE ON FUNCTION tusk_router.lookup(text) "
                        "FROM tusk_router_auth")
        applied = False
        try:
            with self.assertRaises(psycopg2.OperationalError) as cm:
                psycopg2.connect(self.dsn(user="hand_made3", password="pw three"))
            self.assertIn("auth query failed", str(cm.exception))
            self.assertIn("permission denied", self.router_log())
            p = self.tusk("apply")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            applied = True
            conn = self.connect(user="hand_made3", password="pw three")
            self.assertEqual(self.scalar(conn, "SELECT current_user"), "hand_made3")
        finally:
            if not applied:
                with su.cursor() as cur:
                    cur.execute("GRANT EXECUTE ON FUNCTION tusk_router.lookup(text) "
                                "TO tusk_router_auth")

    def test_pause_holds_pools_created_after_it(self):
        self.make_role("late_pool", "late pw")

        def work():
            conn = psycopg2.connect(self.dsn(user="late_pool", password="late pw"))
            try:
                return self.scalar(conn, "SELECT 42")
            finally:
                conn.close()

        self.admin_command("PAUSE")
        self.assertEqual(assert_held_until_resume(self, work), 42)


if __name__ == "__main__":
    import unittest
    unittest.main()
