"""Session settings in transaction pooling mode: what a client SETs (or
passes at startup) must hold on whichever server connection runs its next
transaction, exactly as PostgreSQL would show it, and nowhere else: list
values such as search_path, custom settings (app.tenant_id), SETs that fail
or roll back, RESET/RESET ALL back to the startup values, SET forms the
router cannot carry (refused with 0A000), DISCARD ALL next to clients
using prepared statements, LISTEN (refused wherever it appears), and
session state a statement leaves on a server (temporary tables, advisory
locks, WITH HOLD cursors, SQL PREPARE, set_config(..., false): discarded
before the next client).
"""
import os
import re
import struct
import subprocess

import psycopg2
import psycopg2.errors

from harness import wait_until
from router_support import RouterCase, errors_in


def extended(wire, statement, query=None):
    """[Parse `query` as `statement`,] Bind it to the unnamed portal,
    Execute, Sync; returns the messages up to ReadyForQuery."""
    if query is not None:
        wire.message(b"P", statement.encode() + b"\0" + query.encode() + b"\0" +
                     struct.pack("!h", 0))
    wire.message(b"B", b"\0" + statement.encode() + b"\0" + struct.pack("!hhh", 0, 0, 0))
    wire.message(b"E", b"\0" + struct.pack("!i", 0))
    wire.message(b"S")
    return wire.read_until_ready()


def first_value(messages):
    """The first column of the first DataRow, as text."""
    body = next(body for kind, body in messages if kind == b"D")
    length = struct.unpack("!i", body[2:6])[0]
    return body[6:6 + length].decode()


class SettingsTest(RouterCase):
    router = """
        pool_size: 10
        tls: {mode: disable}
        """
    parameters = """
        max_prepared_transactions: 4
        """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        conn = psycopg2.connect(cls.dsn(cls))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE SCHEMA IF NOT EXISTS tenant_a")
            cur.execute("CREATE TABLE IF NOT EXISTS tenant_a.items (x int)")
            cur.execute("INSERT INTO tenant_a.items VALUES (1), (2), (3)")
            # Changes a setting where the router cannot see it.
            cur.execute("CREATE OR REPLACE FUNCTION tenant_a.mark() RETURNS text LANGUAGE sql"
                        " AS $$SELECT set_config('app.marker', 'm', false)$$")
        conn.close()

    def session(self, **kw):
        conn = self.connect(**kw)
        conn.autocommit = True
        return conn

    def pid(self, conn):
        return self.scalar(conn, "SELECT pg_backend_pid()")

    def hold_server(self, pid):
        """Opens transactions until one of them holds server `pid`; returns
        that connection (the others stay open, so `pid` is busy until the
        test ends) and what `SHOW search_path` says there."""
        for _ in range(9):
            holder = self.connect()  # psycopg2 keeps a transaction open
            if self.pid(holder) == pid:
                return holder, self.scalar(holder, "SHOW search_path")
        self.fail(f"no new transaction got server {pid}\n{self.router_log()}")

    def elsewhere(self, conn):
        """Makes `conn`'s next transaction run on another server than its
        last one did; returns the holder of that last one."""
        holder, _ = self.hold_server(self.pid(conn))
        return holder

    def refused_in_a_transaction(self, sql):
        """Runs `sql` inside a transaction: it must fail with 0A000 and take
        the transaction with it, as any error does. Returns the connection,
        rolled back."""
        conn = self.connect()
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            with self.assertRaises(psycopg2.errors.FeatureNotSupported):
                cur.execute(sql)
            with self.assertRaises(psycopg2.errors.InFailedSqlTransaction):
                cur.execute("SELECT 2")
        conn.rollback()
        return conn

    def show(self, conn, name):
        return self.scalar(conn, "SELECT current_setting(%s)", (name,))

    def test_search_path_list_follows_the_client_and_stays_with_it(self):
        a = self.session()
        with a.cursor() as cur:
            cur.execute("SET search_path = tenant_a, public")
        first = self.pid(a)
        holder, holder_path = self.hold_server(first)
        # The server it ran on went back to the login's value for others ...
        self.assertEqual(holder_path, '"$user", public')
        # ... and the client's next transaction has the list, not one name.
        self.assertNotEqual(self.pid(a), first)
        self.assertEqual(self.show(a, "search_path"), "tenant_a, public")
        self.assertEqual(self.scalar(a, "SELECT current_schemas(false)"), ["tenant_a", "public"])
        self.assertEqual(self.scalar(a, "SELECT count(*) FROM items"), 3)
        holder.rollback()

    def test_quoted_names_and_startup_lists(self):
        a = self.session()
        with a.cursor() as cur:
            cur.execute("SET search_path = 'tenant_a', \"$user\", public")
        self.elsewhere(a)
        self.assertEqual(self.show(a, "search_path"), 'tenant_a, "$user", public')
        b = self.session(options="-c search_path=tenant_a,public")
        self.elsewhere(b)
        self.assertEqual(self.scalar(b, "SELECT count(*) FROM items"), 3)
        self.assertEqual(self.show(b, "search_path"), "tenant_a,public")

    def test_custom_setting_follows_the_client(self):
        a = self.session()
        with a.cursor() as cur:
            cur.execute("SET app.tenant_id = '42'")
        self.elsewhere(a)
        self.assertEqual(self.show(a, "app.tenant_id"), "42")

    def test_failed_set_is_not_carried_and_spoils_nothing(self):
        a = self.session()
        with a.cursor() as cur:
            cur.execute("SET statement_timeout = '1234'")
            with self.assertRaises(psycopg2.errors.InvalidParameterValue):
                cur.execute("SET work_mem = 'lots'")
            cur.execute("SET lock_timeout = '4321'")
        self.elsewhere(a)
        self.assertEqual(self.show(a, "statement_timeout"), "1234ms")
        self.assertEqual(self.show(a, "lock_timeout"), "4321ms")
        self.assertEqual(self.show(a, "work_mem"), self.show(self.session(), "work_mem"))

    def test_sets_in_a_multi_statement_query(self):
        a = self.session()
        with a.cursor() as cur:
            cur.execute("SET statement_timeout = 1111; SELECT 1; SET lock_timeout = 2222")
        self.elsewhere(a)
        self.assertEqual(self.show(a, "statement_timeout"), "1111ms")
        self.assertEqual(self.show(a, "lock_timeout"), "2222ms")
        # One implicit transaction: a failing statement takes the SETs with it.
        with a.cursor() as cur:
            with self.assertRaises(psycopg2.errors.DivisionByZero):
                cur.execute("SET statement_timeout = 3333; SELECT 1/0")
        self.elsewhere(a)
        self.assertEqual(self.show(a, "statement_timeout"), "1111ms")
        # asyncpg's reset when a connection goes back to its pool.
        with a.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock_all();\nCLOSE ALL;\nUNLISTEN *;\nRESET ALL;")
        self.assertEqual(self.show(a, "statement_timeout"), "0")
        self.elsewhere(a)
        self.assertEqual(self.show(a, "lock_timeout"), "0")

    def test_set_in_a_transaction_counts_only_when_committed(self):
        a = self.connect()
        with a.cursor() as cur:
            cur.execute("SET statement_timeout = '1111'")
        a.rollback()
        with a.cursor() as cur:
            cur.execute("SET lock_timeout = '2222'")
        a.commit()
        a.autocommit = True
        self.elsewhere(a)
        self.assertEqual(self.show(a, "statement_timeout"), "0")
        self.assertEqual(self.show(a, "lock_timeout"), "2222ms")

    def test_prepare_transaction_keeps_the_sets_as_commit_does(self):
        """PREPARE TRANSACTION ends the block and keeps its SETs, as COMMIT
        does; one that fails (a gid in use) rolls them back."""
        direct = psycopg2.connect(self.direct_dsn())
        self.addCleanup(direct.close)
        direct.autocommit = True
        a = self.session()
        with a.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SET app.prepared = 'kept'")
            cur.execute("PREPARE TRANSACTION 'tusk_settings_p1'")
            self.addCleanup(lambda: direct.cursor().execute(
                "ROLLBACK PREPARED 'tusk_settings_p1'"))
            cur.execute("BEGIN")
            cur.execute("SET app.failed = 'dropped'")
            with self.assertRaises(psycopg2.errors.DuplicateObject):
                cur.execute("PREPARE TRANSACTION 'tusk_settings_p1'")
        self.assertEqual(a.info.transaction_status, psycopg2.extensions.TRANSACTION_STATUS_IDLE)
        self.elsewhere(a)
        self.assertEqual(self.show(a, "app.prepared"), "kept")
        self.assertIn(self.scalar(a, "SELECT current_setting('app.failed', true)"), (None, ""))

    def test_savepoints_undo_the_sets_made_after_them(self):
        def custom(conn, name):
            return self.scalar(conn, "SELECT current_setting(%s, true)", (name,)) or ""

        a = self.connect()
        with a.cursor() as cur:
            cur.execute("SAVEPOINT a")
            cur.execute("SET app.undone = 'x'")
            cur.execute("ROLLBACK TO SAVEPOINT a")
            cur.execute("SET app.kept = 'k'")
            cur.execute("SAVEPOINT b")
            cur.execute("SET app.undone_too = 'y'")
            with self.assertRaises(psycopg2.errors.DivisionByZero):
                cur.execute("SELECT 1/0")
            cur.execute("ROLLBACK TO b")  # recovers the transaction (pgJDBC autosave)
            cur.execute("SAVEPOINT c")
            cur.execute("SET app.released = 'r'")
            cur.execute("RELEASE c")
        a.commit()
        # In one Query: ROLLBACK TO's tag is ROLLBACK, but COMMIT ends it.
        a.autocommit = True
        with a.cursor() as cur:
            cur.execute("BEGIN; SET app.one_query = 'q'; SAVEPOINT d; ROLLBACK TO d; COMMIT")
        expected = {"app.undone": "", "app.undone_too": "", "app.kept": "k",
                    "app.released": "r", "app.one_query": "q"}
        self.assertEqual({n: custom(a, n) for n in expected}, expected)  # as PostgreSQL has them
        self.elsewhere(a)
        self.assertEqual({n: custom(a, n) for n in expected}, expected)  # carried the same
        # The extended protocol (as pgJDBC sends them).
        w = self.login()
        w.query("BEGIN")
        for sql in ("SAVEPOINT e", "SET app.ext = 'e'", "ROLLBACK TO SAVEPOINT e",
                    "SET app.ext_kept = 'f'"):
            self.assertEqual(errors_in(extended(w, "", sql)), [], sql)
        self.assertEqual(errors_in(w.query("COMMIT")), [])
        pid = int(first_value(w.query("SELECT pg_backend_pid()")))
        holder, _ = self.hold_server(pid)
        self.assertEqual(first_value(w.query("SELECT current_setting('app.ext_kept')")), "f")
        self.assertEqual(first_value(w.query("SELECT current_setting('app.ext', true)")) or "", "")
        holder.rollback()

    def test_transactions_ended_inside_a_request(self):
        """COMMIT/ROLLBACK AND CHAIN and several transactions in one Query:
        each transaction's SETs count by how it ended, for the client and
        for the record of what its server holds."""
        def custom(conn, name):
            return self.scalar(conn, "SELECT current_setting(%s, true)", (name,)) or ""

        a = self.session()
        with a.cursor() as cur:
            cur.execute("BEGIN; SET app.chained = 'c'; COMMIT AND CHAIN;"
                        " SET app.chain_undone = 'u'; ROLLBACK")
            pid = self.pid(a)
            cur.execute("BEGIN; SET app.first_tx = '1'; COMMIT;"
                        " BEGIN; SET app.second_tx = '2'; ROLLBACK")
            cur.execute("BEGIN")
            cur.execute("SET app.rolled_back = 'r'")
            cur.execute("ROLLBACK AND CHAIN")
            cur.execute("SET app.after_chain = 'a'")
            cur.execute("COMMIT")
        expected = {"app.chained": "c", "app.chain_undone": "", "app.first_tx": "1",
                    "app.second_tx": "", "app.rolled_back": "", "app.after_chain": "a"}
        self.assertEqual({n: custom(a, n) for n in expected}, expected)  # as PostgreSQL has them
        # The next client of that server finds none of them there ...
        holder, _ = self.hold_server(pid)
        self.assertEqual({n: custom(holder, n) for n in expected}, dict.fromkeys(expected, ""))
        # ... and the client has them on another server.
        self.assertNotEqual(self.pid(a), pid)
        self.assertEqual({n: custom(a, n) for n in expected}, expected)
        holder.rollback()
        # The extended protocol: COMMIT AND CHAIN as its own statement.
        w = self.login()
        w.query("BEGIN")
        for sql in ("SET app.ext_chained = 'e'", "COMMIT AND CHAIN", "SET app.ext_undone = 'x'"):
            self.assertEqual(errors_in(extended(w, "", sql)), [], sql)
        self.assertEqual(errors_in(w.query("ROLLBACK")), [])
        pid = int(first_value(w.query("SELECT pg_backend_pid()")))
        holder, _ = self.hold_server(pid)
        self.assertEqual(custom(holder, "app.ext_chained"), "")
        self.assertEqual(first_value(w.query("SELECT current_setting('app.ext_chained')")), "e")
        self.assertEqual(
            first_value(w.query("SELECT current_setting('app.ext_undone', true)")) or "", "")
        holder.rollback()

    def test_reset_and_reset_all_go_back_to_startup_values(self):
        a = self.session(options="-c statement_timeout=1234")
        with a.cursor() as cur:
            cur.execute("SET statement_timeout = 999")
            cur.execute("SET lock_timeout = 888")
        self.elsewhere(a)
        self.assertEqual(self.show(a, "statement_timeout"), "999ms")
        with a.cursor() as cur:
            cur.execute("RESET statement_timeout")
        self.elsewhere(a)
        self.assertEqual(self.show(a, "statement_timeout"), "1234ms")
        self.assertEqual(self.show(a, "lock_timeout"), "888ms")
        with a.cursor() as cur:
            cur.execute("SET statement_timeout = 777")
            cur.execute("RESET ALL")
        self.elsewhere(a)
        self.assertEqual(self.show(a, "statement_timeout"), "1234ms")
        self.assertEqual(self.show(a, "lock_timeout"), "0")

    def test_values_the_router_cannot_carry_are_refused(self):
        a = self.session()
        with self.assertRaises(psycopg2.errors.FeatureNotSupported) as cm:
            with a.cursor() as cur:
                cur.execute("SET application_name = E'tab\\there'")
        self.assertIn("not supported in transaction pooling mode", str(cm.exception))
        self.assertEqual(self.show(a, "application_name"), "")
        b = self.refused_in_a_transaction("SET search_path = $$tenant_a$$")
        self.assertEqual(self.scalar(b, "SHOW search_path"), '"$user", public')

    def test_sets_sent_with_the_extended_protocol(self):
        w = self.login()
        self.assertEqual(errors_in(extended(w, "", "SET search_path = tenant_a, public")), [])
        # A named statement, prepared once and bound twice (as pgJDBC does).
        self.assertEqual(errors_in(extended(w, "tenant", "SET app.tenant_id = '7'")), [])
        self.assertEqual(errors_in(extended(w, "tenant")), [])
        self.hold_server(int(first_value(w.query("SELECT pg_backend_pid()"))))
        self.assertEqual(first_value(w.query("SELECT current_setting('search_path')")),
                         "tenant_a, public")
        self.assertEqual(first_value(w.query("SELECT current_setting('app.tenant_id')")), "7")
        refused = errors_in(extended(w, "", "SET application_name = E'x'"))
        self.assertEqual([e.get("C") for e in refused], ["0A000"], refused)
        self.assertEqual(first_value(w.query("SHOW application_name")), "")

    def test_listen_anywhere_is_refused_and_no_server_keeps_a_channel(self):
        a = self.session()
        for sql in ("SELECT 1; LISTEN tusk_chan", "/* x */ listen tusk_chan"):
            with self.assertRaises(psycopg2.errors.FeatureNotSupported, msg=sql) as cm:
                with a.cursor() as cur:
                    cur.execute(sql)
            self.assertIn("session", cm.exception.diag.message_hint)
        with a.cursor() as cur:  # look-alikes run
            cur.execute("UNLISTEN *; SELECT 'listen' AS listen")
            self.assertEqual(cur.fetchone(), ("listen",))
        self.refused_in_a_transaction("LISTEN tusk_chan")
        # The extended protocol: unnamed and named statements.
        w = self.login()
        for name in ("", "l"):
            refused = errors_in(extended(w, name, "LISTEN tusk_chan"))
            self.assertEqual([e.get("C") for e in refused], ["0A000"], refused)
        # Every server of the pool (10), held at once: none listens.
        holders = [self.connect() for _ in range(10)]
        counts = [self.scalar(h, "SELECT count(*) FROM pg_listening_channels()") for h in holders]
        self.assertEqual(len({self.pid(h) for h in holders}), 10)
        self.assertEqual(counts, [0] * 10)
        for h in holders:
            h.rollback()

    def test_session_state_left_on_a_server_is_discarded_before_the_next_client(self):
        a = self.session()
        # A setting changed inside a function, which the router cannot see,
        # shows whether the server was reset: a column named temp, a
        # transaction-local set_config or a DO block that leaves nothing must
        # not reset it, a temporary table must.
        with a.cursor() as cur:
            cur.execute("SELECT tenant_a.mark()")
            cur.execute("SELECT 1 AS temp, 2 AS hold, set_config('app.local', 'l', true)")
            cur.execute("DO $$BEGIN RAISE NOTICE 'temp'; END$$")
        holder, _ = self.hold_server(self.pid(a))
        self.assertEqual(self.scalar(holder, "SELECT current_setting('app.marker', true)"), "m")
        holder.rollback()
        left_behind = {
            "temporary table": "SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()",
            "advisory lock": "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                             "AND pid = pg_backend_pid()",
            "WITH HOLD cursor": "SELECT count(*) FROM pg_cursors",
            "SQL PREPARE": "SELECT count(*) FROM pg_prepared_statements WHERE name = 'p'",
            "set_config": "SELECT count(*) FILTER (WHERE current_setting('app.tenant', true) "
                          "= '42')",
        }
        rounds = [
            ["CREATE TEMP TABLE scratch (x int)", "SELECT pg_advisory_lock(4242)",
             "DECLARE c CURSOR WITH HOLD FOR SELECT 1", "PREPARE p AS SELECT 1",
             "SELECT set_config('app.tenant', '42', false)"],
            # The same from the code of DO blocks (and a string it EXECUTEs).
            ["DO $$BEGIN EXECUTE 'CREATE TEMP TABLE scratch (x int)'; END$$",
             "DO $$BEGIN PERFORM pg_advisory_lock(4242);"
             " PERFORM set_config('app.tenant', '42', false); END$$"],
        ]
        for statements in rounds:
            with a.cursor() as cur:
                cur.execute("SELECT tenant_a.mark()")
                for sql in statements:
                    cur.execute(sql)
            # Every server of the pool, held at once: none shows any of it.
            holders = [self.connect() for _ in range(10)]
            self.assertEqual(len({self.pid(h) for h in holders}), 10)
            for h in holders:
                found = {what: self.scalar(h, sql) for what, sql in left_behind.items()}
                self.assertEqual(found, dict.fromkeys(left_behind, 0), (self.pid(h), statements))
                self.assertIn(self.scalar(h, "SELECT current_setting('app.marker', true)"),
                              (None, ""))
            for h in holders:
                h.rollback()
        # A client leaving inside a transaction that took a session lock.
        b = self.connect()
        self.scalar(b, "SELECT pg_advisory_lock(4343)")
        b.close()
        direct = psycopg2.connect(self.direct_dsn())
        direct.autocommit = True
        self.addCleanup(direct.close)
        self.assertTrue(wait_until(lambda: self.scalar(
            direct, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0, timeout=10))

    def test_discard_all_leaves_other_clients_prepared_statements(self):
        p = subprocess.run(["pgbench", "-i", "-s", "1", self.direct_dsn(user="app")],
                           capture_output=True, text=True, timeout=300,
                           env={"PATH": os.environ["PATH"]})
        self.assertEqual(p.returncode, 0, p.stderr)
        bench = subprocess.Popen(["pgbench", "-n", "-S", "-M", "prepared", "-c", "4", "-j", "2",
                                  "-T", "4", self.dsn()],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={"PATH": os.environ["PATH"]})
        self.addCleanup(lambda: bench.poll() is None and bench.kill())
        a = self.session()
        discards = 0
        with a.cursor() as cur:
            while bench.poll() is None:
                cur.execute("SET statement_timeout = 5000")
                cur.execute("DISCARD ALL")
                discards += 1
        out, err = bench.communicate(timeout=60)
        self.assertGreater(discards, 50)
        self.assertEqual(bench.returncode, 0, out + err + self.router_log())
        self.assertRegex(out, r"number of failed transactions: 0\b")
        self.assertGreater(int(re.search(r"actually processed: (\d+)", out).group(1)), 100)
        # DISCARD ALL also reset the client's own settings.
        self.elsewhere(a)
        self.assertEqual(self.show(a, "statement_timeout"), "0")


if __name__ == "__main__":
    import unittest
    unittest.main()
