"""The reconciler through `tusk apply`: idempotence, password rotation,
init-once / ensure-always, per-database rollback, drops, dry runs, lock_timeout."""
import os
import re
import time

import psycopg2

from harness import TuskTestCase, free_port


def executed(output):
    m = re.findall(r"(\d+) statements? executed", output)
    assert m, output
    return sum(int(x) for x in m)


class ApplyTest(TuskTestCase):
    def make_config(self, extra_databases="", inventory_state="present",
                    shop_init="shop-init.sql"):
        return self.config(f"""
            instances:
              - name: main
                port: {self.port}
                memory: 512MiB
                databases:
                  - name: shop
                    init: {shop_init}
                    ensure: shop-ensure.sql
                  - name: inventory
                    state: {inventory_state}
                  - name: billing
                    init: billing-init.sql
                  {extra_databases}
                roles:
                  - name: shop
                    password_env: SHOP_PASSWORD
            """)

    def setUp(self):
        super().setUp()
        self.port = free_port()
        self.env["SHOP_PASSWORD"] = "first-secret"
        self.write("shop-init.sql", """
            CREATE TABLE orders (id serial PRIMARY KEY, item text);
            INSERT INTO orders (item) VALUES ('init-row');
            """)
        self.write("shop-ensure.sql", """
            CREATE TABLE IF NOT EXISTS ensure_log (at timestamptz DEFAULT now());
            INSERT INTO ensure_log DEFAULT VALUES;
            """)
        self.write("billing-init.sql", "CREATE TABLE invoices (id int);\n")

    def count(self, db, sql):
        return int(self.admin_psql(self.port, sql, db=db).stdout.strip())

    def test_idempotent_rotation_init_ensure(self):
        cfg = self.make_config()
        first = self.tusk("up", config=cfg)
        self.assertGreater(executed(first.stdout), 0)
        self.assertEqual(self.count("shop", "SELECT count(*) FROM orders"), 1)
        self.assertEqual(self.count("shop", "SELECT count(*) FROM ensure_log"), 1)

        # A second apply of the unchanged file executes zero statements;
        # init does not run again, ensure does.
        second = self.tusk("apply", config=cfg)
        self.assertEqual(executed(second.stdout), 0, second.stdout)
        self.assertEqual(self.count("shop", "SELECT count(*) FROM orders"), 1)
        self.assertEqual(self.count("shop", "SELECT count(*) FROM ensure_log"), 2)

        # Password rotation: the declared secret wins on the next apply.
        uri_old = self.url("shop", config=cfg)
        self.assertIn("first-secret", uri_old)
        self.env["SHOP_PASSWORD"] = "rotated-secret"
        rotated = self.tusk("apply", config=cfg)
        self.assertEqual(executed(rotated.stdout), 1, rotated.stdout)
        self.assertNotIn("rotated-secret", rotated.stdout + rotated.stderr)
        p = self.psql(uri_old, "SELECT 1", check=False)
        self.assertIn("password authentication failed", p.stderr)
        uri_new = self.url("shop", config=cfg)
        self.assertEqual(self.psql(uri_new, "SELECT count(*) FROM orders").stdout.strip(), "1")

        # An init file changed after it ran is reported, not re-run.
        self.write("shop-init.sql", "DROP TABLE orders;\n")
        changed = self.tusk("apply", config=cfg)
        self.assertIn("shop-init.sql", changed.stdout + changed.stderr)
        self.assertEqual(self.count("shop", "SELECT count(*) FROM orders"), 1)

        # A database added later gets its init then.
        self.write("late-init.sql", "CREATE TABLE late (id int); INSERT INTO late VALUES (7);\n")
        cfg = self.make_config(extra_databases="- {name: late, init: late-init.sql}")
        self.tusk("apply", config=cfg)
        self.assertEqual(self.count("late", "SELECT id FROM late"), 7)

    def test_failing_init_rolls_back_only_that_database(self):
        self.write("bad-init.sql", "CREATE TABLE good (id int);\n\nSELECT * FROM no_such_table;\n")
        cfg = self.make_config(shop_init="bad-init.sql")
        up = self.tusk("up", config=cfg, check=False)
        self.assertNotEqual(up.returncode, 0)
        self.assertIn("bad-init.sql:3", up.stderr)
        self.assertIn("no_such_table", up.stderr)
        # shop's transaction rolled back: no table 'good'; billing reconciled.
        self.assertEqual(self.count("shop", "SELECT count(*) FROM pg_tables WHERE tablename = 'good'"), 0)
        self.assertEqual(self.count("billing", "SELECT count(*) FROM invoices"), 0)
        self.assertEqual(self.count(
            "billing", "SELECT count(*) FROM pg_tables WHERE tablename = 'invoices'"), 1)

    def test_drop_only_with_allow_drop_and_dry_run(self):
        cfg = self.make_config()
        self.tusk("up", config=cfg)
        cfg = self.make_config(inventory_state="absent")
        dry = self.tusk("apply", "--dry-run", "--allow-drop", config=cfg)
        self.assertIn("DROP DATABASE", dry.stdout)
        has_inventory = "SELECT count(*) FROM pg_database WHERE datname = 'inventory'"
        self.assertEqual(self.count("postgres", has_inventory), 1)
        kept = self.tusk("apply", config=cfg)
        self.assertIn("allow-drop", kept.stdout + kept.stderr)
        self.assertEqual(self.count("postgres", has_inventory), 1)
        self.tusk("apply", "--allow-drop", config=cfg)
        self.assertEqual(self.count("postgres", has_inventory), 0)


class LockTimeoutTest(TuskTestCase):
    """apply never queues behind a long transaction: its DDL gives up after lock_timeout."""

    def test_apply_gives_up_after_lock_timeout(self):
        port = free_port()
        self.write("ensure.sql", "ALTER TABLE orders ADD COLUMN IF NOT EXISTS note text;\n")
        self.write("init.sql", "CREATE TABLE orders (id int);\n")
        cfg = self.config(f"""
            instances:
              - name: main
                port: {port}
                memory: 512MiB
                lock_timeout: 1s
                databases:
                  - {{name: shop, init: init.sql, ensure: ensure.sql}}
            """)
        self.tusk("up", config=cfg)
        holder = psycopg2.connect(host=os.path.join(self.dir, "tusk-data", ".run"), port=port,
                                  user="postgres", dbname="shop")
        try:
            with holder.cursor() as cur:  # psycopg2 opens a transaction and keeps it open
                cur.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
            started = time.time()
            blocked = self.tusk("apply", config=cfg, check=False, timeout=60)
            elapsed = time.time() - started
            self.assertNotEqual(blocked.returncode, 0)
            self.assertIn("lock timeout", blocked.stderr)
            self.assertLess(elapsed, 20)
        finally:
            holder.rollback()
            holder.close()
        self.tusk("apply", config=cfg)
        self.assertEqual(self.admin_psql(port, "SELECT count(*) FROM information_schema.columns "
                                               "WHERE table_name = 'orders' AND column_name = 'note'",
                                         db="shop").stdout.strip(), "1")
