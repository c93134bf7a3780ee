"""`concurrency_limit` against a real PostgreSQL, through psycopg2: with a
limit of 2 and a pool of 6, six clients running queries back to back never
have more than 2 of them running on PostgreSQL at once (pg_stat_activity,
sampled over a direct connection) and each gets its turn; a query that
would wait behind transactions whose clients are idle, or behind queries
that run long, starts anyway (concurrency_count.h: neither counts for long).
"""
import threading
from collections import Counter
import time

import psycopg2

from router_support import RouterCase, in_thread

# Queries of the application role running now, that started less than 80 ms
# ago: the router counts a running query for 100 ms from when it sent it
# (concurrency_count.h), so on a slow, loaded host a longer one may rightly
# let another transaction start.
ACTIVE_APP_QUERIES = ("SELECT count(*) FROM pg_stat_activity "
                      "WHERE usename = 'app' AND state = 'active' "
                      "AND clock_timestamp() - query_start < interval '80 ms'")


class RouterConcurrencyTest(RouterCase):
    router = """
        pool_size: 6
        concurrency_limit: 2
        pool_wait_timeout: 20s
        """

    def autocommit(self):
        conn = self.connect()
        conn.autocommit = True
        return conn

    def test_at_most_the_limit_runs_and_every_client_gets_its_turn(self):
        direct = psycopg2.connect(self.direct_dsn())
        self.addCleanup(direct.close)
        direct.autocommit = True
        clients = [self.autocommit() for _ in range(6)]
        stop = threading.Event()
        done = [0] * len(clients)

        def work(i):
            with clients[i].cursor() as cur:
                while not stop.is_set():
                    cur.execute("SELECT pg_sleep(0.01)")
                    done[i] += 1

        threads = [in_thread(lambda i=i: work(i)) for i in range(len(clients))]
        samples = []
        end = time.monotonic() + 3
        try:
            while time.monotonic() < end:
                samples.append(self.scalar(direct, ACTIVE_APP_QUERIES))
        finally:
            stop.set()
            for t, _ in threads:
                t.join(timeout=30)
        for _, box in threads:
            self.assertNotIn("error", box, self.router_log())
        self.assertGreater(len(samples), 50)
        # Without the limit all six run at once (pool_size 6).
        self.assertEqual(max(samples), 2,
                         f"running queries: {sorted(Counter(samples).items())} (value, samples)\n"
                         f"{self.router_log()}")
        # FIFO: nobody starves (10 ms each, 3 s, two at a time: about 100 each).
        self.assertGreaterEqual(min(done), 20, f"queries per client {done}")

    def test_idle_transactions_do_not_hold_the_limit(self):
        holders = [self.connect() for _ in range(2)]
        for conn in holders:  # psycopg2 opens a transaction: BEGIN; SELECT 1; then idle in it
            self.assertEqual(self.scalar(conn, "SELECT 1"), 1)
        other = self.autocommit()
        t0 = time.monotonic()
        self.assertEqual(self.scalar(other, "SELECT 2"), 2)
        elapsed = time.monotonic() - t0
        # Held, it would wait for pool_wait_timeout (20 s); idle transactions
        # stop counting 100 ms after their last answer.
        self.assertLess(elapsed, 5, self.router_log())
        for conn in holders:
            self.assertEqual(conn.get_transaction_status(),
                             psycopg2.extensions.TRANSACTION_STATUS_INTRANS)
            conn.rollback()

    def test_long_queries_do_not_hold_the_limit(self):
        sleepers = [self.autocommit() for _ in range(2)]
        other = self.autocommit()
        threads = [in_thread(lambda c=c: self.scalar(c, "SELECT pg_sleep(3)")) for c in sleepers]
        time.sleep(0.5)  # both run (and have run for more than 100 ms)
        self.assertEqual(self.scalar(other, "SELECT 3"), 3)
        answered = time.monotonic()
        for t, box in threads:
            t.join(timeout=30)
            self.assertNotIn("error", box)
            # Held behind them, it would have run only once they ended.
            self.assertLess(answered, box["done_at"] - 1,
                            f"answered {box['done_at'] - answered:.2f} s before the sleeps "
                            f"ended\n{self.router_log()}")
