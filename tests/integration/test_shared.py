"""examples/shared.yaml with real clients: psql, psycopg2 and pgbench, each
as the service's own (non-superuser) role."""
import os
import re
import shutil
import subprocess

import psycopg2

from harness import SOURCE_DIR, TuskTestCase, free_port


class SharedExampleTest(TuskTestCase):
    def setUp(self):
        super().setUp()
        shutil.copy(os.path.join(SOURCE_DIR, "examples/shared.yaml"), self.dir)
        self.cfg = os.path.join(self.dir, "shared.yaml")
        self.configs.append(self.cfg)
        self.port = free_port()
        self.env["TUSK_PORT"] = str(self.port)

    def test_clients_and_pgbench_as_service_roles(self):
        up = self.tusk("up", config=self.cfg)
        self.assertIn(f"127.0.0.1:{self.port}", up.stdout)
        # up prints a URI a person can paste into psql (password via passfile, not printed).
        pasted = [l.strip() for l in up.stdout.splitlines() if "/backend?passfile=" in l]
        self.assertEqual(len(pasted), 1, up.stdout)
        self.assertEqual(self.psql(pasted[0], "SELECT current_user").stdout.strip(), "backend")

        backend = self.url("backend", config=self.cfg)
        with psycopg2.connect(backend) as conn, conn.cursor() as cur:
            cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            self.assertFalse(cur.fetchone()[0], "applications never get superuser")
            cur.execute("SELECT extname FROM pg_extension WHERE extname = 'pgcrypto'")
            self.assertEqual(cur.fetchone(), ("pgcrypto",))
            cur.execute("CREATE TABLE app.items (id int)")
        conn.close()

        # backend's role is refused by keycloak's database.
        p = self.psql(self.url("keycloak", config=self.cfg, role="backend"), "SELECT 1",
                      check=False)
        self.assertIn("permission denied for database", p.stderr)

        env = {"PATH": os.environ["PATH"]}
        init = subprocess.run(["pgbench", "-i", "-s", "1", backend], capture_output=True,
                              text=True, env=env, timeout=300)
        self.assertEqual(init.returncode, 0, init.stderr)
        run = subprocess.run(["pgbench", "-T", "10", "-c", "4", "-j", "2", backend],
                             capture_output=True, text=True, env=env, timeout=300)
        self.assertEqual(run.returncode, 0, run.stderr)
        tps = float(re.search(r"tps = ([0-9.]+)", run.stdout).group(1))
        self.assertGreater(tps, 10)
        failed = re.search(r"number of failed transactions: (\d+)", run.stdout)
        self.assertTrue(failed is None or failed.group(1) == "0", run.stdout)
