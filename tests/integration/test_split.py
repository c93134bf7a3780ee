"""examples/split.yaml end to end: two instances side by side, per-service
roles, isolation, PostGIS, a read-only reporting role, and the vector
extension reported missing until tusk ships it."""
import json
import os
import shutil

import psycopg2

from harness import SOURCE_DIR, TuskTestCase, free_ports


class SplitExampleTest(TuskTestCase):
    def setUp(self):
        super().setUp()
        shutil.copy(os.path.join(SOURCE_DIR, "examples/split.yaml"), self.dir)
        shutil.copytree(os.path.join(SOURCE_DIR, "examples/sql"), os.path.join(self.dir, "sql"))
        self.cfg = os.path.join(self.dir, "split.yaml")
        self.configs.append(self.cfg)
        self.infra_port, self.data_port = free_ports(2)
        self.env.update(INFRA_PORT=str(self.infra_port), DATA_PORT=str(self.data_port))

    def test_split_instances_serve_their_services(self):
        up = self.tusk("up", config=self.cfg, check=False)
        vector_available = self.admin_psql(
            self.data_port,
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'").stdout.strip()
        if vector_available == "0":
            # Only the rag database may fail, and it must say what is missing.
            self.assertNotEqual(up.returncode, 0)
            self.assertIn("vector", up.stderr)
            self.assertIn("rag", up.stderr)
            errors = [l for l in up.stderr.splitlines() if l.startswith("error:")]
            self.assertTrue(errors and all("rag" in l for l in errors), up.stderr)
        else:
            self.assertEqual(up.returncode, 0, up.stderr)

        # Every infra service connects as its own role through psql and psycopg2.
        for db in ["keycloak", "backend", "airflow", "superset", "polaris", "openmetadata", "mlflow",
                   "jupyterhub", "litellm"]:
            uri = self.url(db, config=self.cfg)
            self.assertIn(f":{self.infra_port}/{db}", uri)
            self.assertEqual(self.psql(uri, "SELECT current_user").stdout.strip(), db)
        with psycopg2.connect(self.url("analytics", config=self.cfg)) as conn:
            with conn.cursor() as cur:
                cur.execute("SELECT current_user, current_database(), "
                            "current_setting('port')")
                self.assertEqual(cur.fetchone(),
                                 ("analytics", "analytics", str(self.data_port)))
                cur.execute("SELECT count(*) FROM information_schema.schemata "
                            "WHERE schema_name IN ('staging', 'marts')")
                self.assertEqual(cur.fetchone()[0], 2)
        conn.close()

        # PostGIS works in geospatial, as geospatial's own role.
        geo = self.url("geospatial", config=self.cfg)
        self.assertEqual(self.psql(geo, "SELECT ST_Distance('POINT(0 0)'::geometry, "
                                        "'POINT(3 4)'::geometry)").stdout.strip(), "5")

        # Isolation: one service's role cannot enter another service's database.
        airflow_on_keycloak = self.url("keycloak", config=self.cfg, role="airflow")
        p = self.psql(airflow_on_keycloak, "SELECT 1", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("permission denied for database", p.stderr)

        # The reporting role reads analytics tables (the init file made one) but cannot write.
        rep = self.url("analytics", config=self.cfg, role="reporting")
        tables = self.psql(rep, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        self.assertGreater(int(tables.stdout.strip()), 0)
        table = self.psql(rep, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                               "ORDER BY 1 LIMIT 1").stdout.strip()
        self.psql(rep, f"SELECT count(*) FROM public.{table}")
        denied = self.psql(rep, f"DELETE FROM public.{table}", check=False)
        self.assertIn("permission denied", denied.stderr)

        # Two instances side by side, both supervised, on their own ports.
        st = json.loads(self.tusk("status", "--json", config=self.cfg).stdout)
        by_name = {i["name"]: i for i in st["instances"]}
        self.assertEqual(by_name["infra"]["state"], "running")
        self.assertEqual(by_name["data"]["state"], "running")
        self.assertEqual(by_name["infra"]["port"], self.infra_port)
        self.assertEqual(by_name["data"]["port"], self.data_port)
        self.assertNotEqual(by_name["infra"]["pid"], by_name["data"]["pid"])
        # Tuning follows each instance's profile.
        self.assertEqual(self.admin_psql(self.data_port, "SHOW max_connections").stdout.strip(),
                         "50")
        self.assertEqual(self.admin_psql(self.infra_port, "SHOW max_connections").stdout.strip(),
                         "200")
