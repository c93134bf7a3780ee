"""The router's pipelining (router.pipeline_depth) with real clients:
autocommit requests of several clients queued on one server connection.

PipelineTest keeps the default busy limit (1 ms), so a request is queued only
behind one that has just started; PipelineQueueTest sets it to an hour on a
pool of ONE server connection, so that requests queue behind long ones and the
queue itself can be observed (cancel, a client leaving, a BEGIN that must not
join the queue); PipelineSpreadTest watches the depth follow the demand.
"""
import json
import os
import re
import struct
import subprocess
import threading
import time

import psycopg2
import psycopg2.errors

from router_support import RouterCase, errors_in, frame, in_thread


class PipelineCase(RouterCase):
    def autocommit(self):
        conn = self.connect()
        conn.autocommit = True
        return conn

    def stat(self, column):
        cols, rows = self.admin("SHOW STATS")
        row = next(r for r in rows if r[0] == "app" and r[2] == "rw")
        return int(row[cols.index(column)])

    def pgbench(self, protocol, clients, select_only=True, seconds=4):
        """Runs pgbench through the router; asserts zero errors; returns the
        number of transactions processed."""
        if not getattr(type(self), "pgbench_ready", False):
            p = subprocess.run(["pgbench", "-i", "-s", "1", self.direct_dsn(user="app")],
                               capture_output=True, text=True, timeout=300,
                               env={"PATH": os.environ["PATH"]})
            self.assertEqual(p.returncode, 0, p.stderr)
            type(self).pgbench_ready = True
        cmd = ["pgbench", "-M", protocol, "-c", str(clients), "-j", "2", "-T", str(seconds)]
        if select_only:
            cmd.append("-S")
        p = subprocess.run(cmd + [self.dsn()], capture_output=True, text=True,
                           timeout=seconds + 120, env={"PATH": os.environ["PATH"]})
        report = f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}\n{self.router_log()}"
        self.assertEqual(p.returncode, 0, report)
        self.assertRegex(p.stdout, r"number of failed transactions: 0\b", report)
        errors = [l for l in (p.stdout + p.stderr).splitlines() if "error" in l.lower()]
        self.assertEqual(errors, [], report)
        return int(re.search(r"number of transactions actually processed: (\d+)",
                             p.stdout).group(1))


class PipelineTest(PipelineCase):
    router = """
        pool_size: 4
        pipeline_depth: 8
        query_timeout: 3s
        admin_roles: [postgres]
        """

    def test_pgbench_every_protocol_and_tpcb_with_zero_errors(self):
        before = self.stat("pipelined")
        for protocol in ("simple", "extended", "prepared"):
            with self.subTest(protocol=protocol):
                self.assertGreater(self.pgbench(protocol, 20), 100)
        # TPC-B-like: BEGIN ... END transactions take whole servers, between
        # the queued autocommit SELECTs of the -S run above.
        with self.subTest(protocol="tpcb"):
            self.assertGreater(self.pgbench("simple", 8, select_only=False), 10)
        self.assertGreater(self.stat("pipelined"), before,
                           "no request was ever queued behind another client's")

    def test_each_client_gets_its_own_results_and_errors(self):
        # 8 clients on 4 server connections, one of them failing every query.
        failures, wrong = [], []

        def worker(n):
            conn = psycopg2.connect(self.dsn())
            conn.autocommit = True
            try:
                with conn.cursor() as cur:
                    for i in range(300):
                        if n == 0:
                            try:
                                cur.execute("SELECT 1 / (%s - %s)", (i, i))
                                wrong.append(("no error", n, i))
                            except psycopg2.errors.DivisionByZero:
                                pass
                        else:
                            cur.execute("SELECT %s, %s", (n, i))
                            row = cur.fetchone()
                            if row != (n, i):
                                wrong.append((row, n, i))
            except Exception as e:
                failures.append((n, repr(e)))
            finally:
                conn.close()

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(failures, [], self.router_log())
        self.assertEqual(wrong, [])

    def test_no_request_is_queued_behind_a_query_running_longer_than_the_limit(self):
        slow = self.autocommit()
        t, box = in_thread(lambda: self.scalar(slow, "SELECT pg_sleep(2)"))
        time.sleep(0.5)
        fast = self.autocommit()
        start = time.monotonic()
        for i in range(20):
            self.assertEqual(self.scalar(fast, "SELECT %s", (i,)), i)
        self.assertLess(time.monotonic() - start, 1.2,
                        "a quick query waited behind the 2 s one")
        t.join(timeout=10)
        self.assertNotIn("error", box, box)

    def test_begin_takes_its_own_server(self):
        slow = self.autocommit()
        t, box = in_thread(lambda: self.scalar(slow, "SELECT pg_backend_pid() FROM pg_sleep(1.5)"))
        time.sleep(0.3)
        tx = self.connect()  # psycopg2 sends BEGIN before the first statement
        start = time.monotonic()
        pid = self.scalar(tx, "SELECT pg_backend_pid()")
        self.assertLess(time.monotonic() - start, 1.0, "BEGIN waited behind the slow query")
        self.assertEqual(self.scalar(tx, "SELECT count(*) FROM pg_stat_activity "
                                         "WHERE pid = pg_backend_pid() AND xact_start IS NOT NULL"),
                         1)
        tx.commit()
        t.join(timeout=10)
        self.assertNotIn("error", box, box)
        self.assertNotEqual(box["result"], pid)

    def test_reload_turning_pipelining_off_and_on_under_load(self):
        with open(self.spec_path()) as f:
            spec = json.load(f)
        self.assertEqual(spec["pipeline_depth"], 8)

        def reload_with(depth):
            spec["pipeline_depth"] = depth
            with open(self.spec_path(), "w") as f:
                json.dump(spec, f, indent=2)
            self.assertIn("RELOAD", self.admin_command("RELOAD").stdout)

        self.addCleanup(reload_with, 8)
        # Ends off: queueable requests that waited under depth 8 must then
        # get servers of their own, not a pipelining server with no room.
        t, box = in_thread(lambda: self.pgbench("simple", 12, seconds=6))
        for depth in (0, 8, 0):
            time.sleep(1)
            reload_with(depth)
        t.join(timeout=180)
        self.assertNotIn("error", box, box)
        self.assertGreater(box["result"], 100)

    def test_query_timeout_cancels_a_queued_request(self):
        conn = self.autocommit()
        start = time.monotonic()
        with self.assertRaises(psycopg2.errors.QueryCanceled):
            self.scalar(conn, "SELECT pg_sleep(20)")
        self.assertLess(time.monotonic() - start, 8)
        self.assertEqual(self.scalar(conn, "SELECT 1"), 1)

    def test_session_parameters_follow_queued_requests(self):
        a, b = self.autocommit(), self.autocommit()
        with a.cursor() as cur:
            cur.execute("SET application_name = 'pipe_a'")
        with b.cursor() as cur:
            cur.execute("SET application_name = 'pipe_b'")
        for _ in range(50):
            self.assertEqual(self.scalar(a, "SELECT current_setting('application_name')"),
                             "pipe_a")
            self.assertEqual(self.scalar(b, "SELECT current_setting('application_name')"),
                             "pipe_b")


class PipelineSpreadTest(PipelineCase):
    """The queue depth follows the demand (src/router/pipeline_depth.h): a few
    requests are spread two to a server over the idle ones, and queues grow
    deeper as more requests come."""
    router = """
        pool_size: 3
        pipeline_depth: 8
        pipeline_busy_limit: 1h
        admin_roles: [postgres]
        """

    def sleepers(self, n, seconds=2.0):
        """Opens every server connection of the pool (3 transactions at once,
        then committed: 3 idle servers), then n autocommit clients send
        `SELECT pg_backend_pid() FROM pg_sleep(seconds)` 50 ms apart, so each
        arrives while the first ones still run (with seconds of margin for a
        loaded box). Returns the backend pid each request ran on."""
        holders = [self.connect() for _ in range(3)]
        for h in holders:
            self.scalar(h, "SELECT 1")  # a transaction each: 3 servers at once
        for h in holders:
            h.commit()
        clients = [self.autocommit() for _ in range(n)]
        threads = []
        for c in clients:
            threads.append(in_thread(
                lambda c=c: self.scalar(c, "SELECT pg_backend_pid() FROM pg_sleep(%s)",
                                        (seconds,))))
            time.sleep(0.05)
        for t, _ in threads:
            t.join(timeout=30)
        pids = [box.get("result") for _, box in threads]
        self.assertNotIn(None, pids, [box for _, box in threads])
        return pids

    def test_few_requests_are_spread_two_to_a_server(self):
        # Under a fixed depth of 8 all six would queue on the first server.
        pids = self.sleepers(6)
        self.assertEqual(sorted(pids.count(p) for p in set(pids)), [2, 2, 2], pids)

    def test_with_every_server_busy_queues_grow_deeper(self):
        # Nine requests on the pool's three servers: no request waits for a
        # server to drain; each queue is three deep.
        before = self.stat("pipelined")
        pids = self.sleepers(9)
        self.assertEqual(sorted(pids.count(p) for p in set(pids)), [3, 3, 3], pids)
        self.assertEqual(self.stat("pipelined") - before, 6)


class PipelineQueueTest(PipelineCase):
    router = """
        pool_size: 1
        pipeline_depth: 8
        pipeline_busy_limit: 1h
        admin_roles: [postgres]
        """

    def test_pgbench_on_one_server_connection(self):
        before = self.stat("pipelined")
        self.assertGreater(self.pgbench("prepared", 16), 100)
        self.assertGreater(self.pgbench("simple", 16), 100)
        self.assertGreater(self.stat("pipelined") - before, 100)

    def test_cancel_reaches_the_queued_query_not_the_one_ahead(self):
        first, second = self.autocommit(), self.autocommit()
        start = time.monotonic()
        t1, box1 = in_thread(lambda: self.scalar(first, "SELECT 'first' FROM pg_sleep(2)"))
        time.sleep(0.3)
        t2, box2 = in_thread(lambda: self.scalar(second, "SELECT 'second' FROM pg_sleep(10)"))
        time.sleep(0.3)  # queued behind `first` on the one server connection
        second.cancel()
        t1.join(timeout=15)
        t2.join(timeout=15)
        self.assertEqual(box1.get("result"), "first", box1)  # not cancelled
        self.assertIsInstance(box2.get("error"), psycopg2.errors.QueryCanceled, box2)
        # Cancelled as soon as it ran: well before its 10 s sleep would end.
        self.assertLess(box2["done_at"] - start, 6)
        self.assertEqual(self.scalar(second, "SELECT 1"), 1)

    def test_client_leaving_while_queued_does_not_disturb_others(self):
        first = self.autocommit()
        t1, box1 = in_thread(lambda: self.scalar(first, "SELECT 'first' FROM pg_sleep(1)"))
        time.sleep(0.2)
        w = self.login()
        w.message(b"Q", b"SELECT 42 FROM pg_sleep(0.5)\0")
        time.sleep(0.2)
        w.close()  # gone before its queued query ran
        t1.join(timeout=10)
        self.assertEqual(box1.get("result"), "first", box1)
        other = self.autocommit()
        for i in range(10):
            self.assertEqual(self.scalar(other, "SELECT %s", (i,)), i)
        self.assertEqual(self.scalar(first, "SELECT 'again'"), "again")

    def test_client_leaving_with_its_result_unread_frees_the_queue(self):
        # `big` reads nothing of a 20 MB result, so the router stops reading
        # the server for it (1 MiB back-pressure) and PostgreSQL blocks on a
        # full socket; `small` is queued behind it. When `big` leaves, its
        # rest is dropped: the server must be read again at once, since
        # PostgreSQL, still blocked, sends nothing that would wake the router.
        big = self.login()
        big.message(b"Q", b"SELECT repeat('x', 1000) FROM generate_series(1, 20000)\0")
        time.sleep(0.5)
        small = self.login()
        small.sock.settimeout(30)
        small.message(b"Q", b"SELECT 'small'\0")
        time.sleep(0.3)
        big.close()
        messages = small.read_until_ready()
        self.assertEqual(errors_in(messages), [])
        self.assertEqual([body for kind, body in messages if kind == b"D"],
                         [struct.pack("!hi", 1, 5) + b"small"])

    def two_queued_executions(self, sql):
        """Two raw clients prepare the same `sql` (one server-side statement;
        the router acknowledges a Parse/Sync batch without a server) and send
        Bind/Execute/Sync while a third client holds the one server
        connection, so both requests queue behind it. Returns each client's
        messages up to its ReadyForQuery."""
        holder = self.autocommit()
        # Long enough that both requests are queued while it runs, also
        # under ASan on a loaded box (each raw login takes milliseconds).
        t, box = in_thread(lambda: self.scalar(holder, "SELECT 'held' FROM pg_sleep(2)"))
        time.sleep(0.3)
        before = self.stat("pipelined")
        wires = []
        for name in (b"first", b"second"):
            w = self.login()
            w.send(frame(b"P", name + b"\0" + sql + b"\0" + struct.pack("!h", 0)) + frame(b"S"))
            self.assertEqual([k for k, _ in w.read_until_ready()], [b"1", b"Z"])
            # One write, so that the router sees the whole request at once.
            w.send(frame(b"B", b"\0" + name + b"\0" + struct.pack("!hhh", 0, 0, 0)) +
                   frame(b"E", b"\0" + struct.pack("!i", 0)) + frame(b"S"))
            wires.append(w)
        out = [w.read_until_ready() for w in wires]
        t.join(timeout=10)
        self.assertEqual(box.get("result"), "held", box)
        self.assertEqual(self.stat("pipelined") - before, 2)  # both queued behind `holder`
        return out

    def test_failed_parse_ahead_gives_the_next_client_the_same_error(self):
        # The first request's injected Parse fails; the second must get
        # PostgreSQL's error for its own Parse, not "prepared statement does
        # not exist" (26000).
        for messages in self.two_queued_executions(b"SELECT * FROM no_such_table_here"):
            errors = errors_in(messages)
            self.assertEqual([e["C"] for e in errors], ["42P01"], errors)
        # A statement that does prepare: both get its row.
        for messages in self.two_queued_executions(b"SELECT 'prepared ' || 7"):
            self.assertEqual(errors_in(messages), [])
            rows = [body for kind, body in messages if kind == b"D"]
            self.assertEqual(len(rows), 1, messages)
            self.assertIn(b"prepared 7", rows[0])

    def test_begin_waits_for_the_queue_to_drain(self):
        slow = self.autocommit()
        start = time.monotonic()
        t, box = in_thread(lambda: self.scalar(slow, "SELECT 'slow' FROM pg_sleep(1.5)"))
        time.sleep(0.3)
        tx = self.connect()
        self.assertEqual(self.scalar(tx, "SELECT txid_current_if_assigned() IS NULL"), True)
        began = time.monotonic() - start
        # The BEGIN was not queued behind the sleep: it got the server after it.
        self.assertGreater(began, 1.3)
        self.assertEqual(box.get("result"), "slow", box)
        # Nothing is queued on a server inside a transaction: an autocommit
        # query waits until the COMMIT frees it.
        other = self.autocommit()
        t2, box2 = in_thread(lambda: self.scalar(other, "SELECT 'other'"))
        time.sleep(0.5)
        self.assertTrue(t2.is_alive(), f"a query ran on the server of an open transaction: {box2}")
        tx.commit()
        t2.join(timeout=10)
        self.assertEqual(box2.get("result"), "other", box2)
        t.join(timeout=10)


class PipelineBusyLimitTest(PipelineCase):
    """pipeline_busy_limit counts from when a server's queue was last empty,
    not from when its running request started: a server that has run queued
    requests back to back for that long takes no more until it has drained."""
    router = """
        pool_size: 1
        pipeline_depth: 8
        pipeline_busy_limit: 1s
        admin_roles: [postgres]
        """

    def test_a_server_busy_past_the_limit_takes_no_more_requests(self):
        a, b, c = self.autocommit(), self.autocommit(), self.autocommit()
        before = self.stat("pipelined")
        start = time.monotonic()
        # 0.0-0.8 s: a runs; the server's streak starts.
        ta, box_a = in_thread(lambda: self.scalar(a, "SELECT 'a' FROM pg_sleep(0.8)"))
        time.sleep(0.3)
        # 0.3 s, streak 0.3 s: b is queued behind a and runs 0.8-1.6 s.
        tb, box_b = in_thread(lambda: self.scalar(b, "SELECT 'b' FROM pg_sleep(0.8)"))
        time.sleep(1.0)
        # 1.3 s: the running request (b) started 0.5 s ago, but the server has
        # been busy for 1.3 s: c is not queued; it waits for the server to
        # drain and then runs on it (pool_size 1) as the first of a new streak.
        tc, box_c = in_thread(lambda: self.scalar(c, "SELECT 'c'"))
        for t in (ta, tb, tc):
            t.join(timeout=15)
        self.assertEqual([box_a.get("result"), box_b.get("result"), box_c.get("result")],
                         ["a", "b", "c"], (box_a, box_b, box_c))
        self.assertGreater(box_c["done_at"] - start, 1.5)  # after b
        self.assertEqual(self.stat("pipelined") - before, 1)  # b only
