"""Instance lifecycle: supervision after kill -9, giving up on crash loops,
bad config changing nothing, reload vs restart pending, hand edits, the
embedded default with the postgres image's environment, ready codes."""
import json
import os
import signal
import subprocess
import time

from harness import TuskTestCase, free_port, wait_until


class LifecycleTest(TuskTestCase):
    def setUp(self):
        super().setUp()
        self.port = free_port()

    def simple(self, params="", name="tusk.yaml"):
        return self.config(f"""
            instances:
              - name: main
                port: {self.port}
                memory: 512MiB
                parameters: {{{params}}}
                databases:
                  - name: app
            """, name=name)

    def postmaster_pid(self):
        with open(os.path.join(self.dir, "tusk-data/main/postmaster.pid")) as f:
            return int(f.readline())

    def test_kill_9_is_restarted_and_down_ready_codes(self):
        cfg = self.simple()
        self.tusk("up", config=cfg)
        self.assertEqual(self.tusk("ready", config=cfg).returncode, 0)
        old = self.postmaster_pid()
        os.kill(old, signal.SIGKILL)
        self.assertTrue(wait_until(
            lambda: self.tusk("ready", config=cfg, check=False).returncode == 0
            and self.postmaster_pid() != old, timeout=60))
        st = json.loads(self.tusk("status", "--json", config=cfg).stdout)
        self.assertEqual(st["instances"][0]["state"], "running")
        self.assertGreaterEqual(st["instances"][0]["restarts"], 1)
        logs = self.tusk("logs", "main", config=cfg)
        self.assertIn("database system is ready to accept connections", logs.stdout)
        self.tusk("down", config=cfg)
        self.assertEqual(self.tusk("ready", config=cfg, check=False).returncode, 2)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "tusk-data/.agent/agent.pid")))

    def test_status_shows_long_queries(self):
        cfg = self.simple()
        self.tusk("up", config=cfg)
        uri = self.url("app", config=cfg)
        sleeper = subprocess.Popen(["psql", uri, "-X", "-c", "SELECT pg_sleep(9)"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def long_query_seen():
                st = json.loads(self.tusk("status", "--json", config=cfg).stdout)
                return [q for q in st["instances"][0].get("long_queries", [])
                        if "pg_sleep" in q["query"]]
            self.assertTrue(wait_until(long_query_seen, timeout=8.5, interval=0.5))
            q = long_query_seen()[0]
            self.assertEqual(q["database"], "app")
            self.assertEqual(q["user"], "app")
            self.assertGreaterEqual(q["seconds"], 5)
            text = self.tusk("status", config=cfg).stdout
            self.assertIn("long query: pid", text)
        finally:
            sleeper.wait(timeout=30)

    def test_crash_loop_gives_up_and_status_says_why(self):
        cfg = self.simple(params="shared_preload_libraries: no_such_library")
        up = self.tusk("up", "--timeout", "60", config=cfg, check=False)
        self.assertNotEqual(up.returncode, 0)
        self.assertIn("gave up", up.stderr)
        self.assertIn("no_such_library", up.stderr)
        st = json.loads(self.tusk("status", "--json", config=cfg).stdout)
        self.assertEqual(st["instances"][0]["state"], "failed")
        self.assertIn("gave up", st["instances"][0]["reason"])

    def test_bad_config_exits_2_and_changes_nothing(self):
        cfg = self.config(f"""
            instances:
              - name: main
                port: {self.port}
                databases:
                  - name: app
                    extensions: postgis
                    colour: blue
            """)
        p = self.tusk("up", config=cfg, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertRegex(p.stderr, r"tusk\.yaml:\d+:\d+: instances\[0\]\.databases\[0\]")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "tusk-data")))

    def test_reload_restart_pending_and_hand_edits(self):
        cfg = self.simple(params="work_mem: 8MB")
        self.tusk("up", config=cfg)
        conf = os.path.join(self.dir, "tusk-data/main/postgresql.conf")
        with open(conf, "a") as f:
            f.write("\n# hand edit\nlog_connections = on\n")
        pid = self.postmaster_pid()
        # A reloadable parameter changes without a restart.
        cfg = self.simple(params="work_mem: 16MB")
        up = self.tusk("up", config=cfg)
        self.assertIn("reloaded main", up.stdout)
        self.assertEqual(self.admin_psql(self.port, "SHOW work_mem").stdout.strip(), "16MB")
        self.assertEqual(self.postmaster_pid(), pid)
        self.assertEqual(self.admin_psql(self.port, "SHOW log_connections").stdout.strip(), "on")
        # A restart-only parameter is reported, then applied by `tusk restart`.
        cfg = self.simple(params="work_mem: 16MB, shared_buffers: 48MB")
        up = self.tusk("up", config=cfg)
        self.assertIn("restart pending on main: shared_buffers", up.stdout)
        st = json.loads(self.tusk("status", "--json", config=cfg).stdout)
        self.assertIn("shared_buffers", st["instances"][0]["restart_pending"])
        self.tusk("restart", "main", config=cfg)
        self.assertEqual(self.admin_psql(self.port, "SHOW shared_buffers").stdout.strip(), "48MB")
        self.assertNotEqual(self.postmaster_pid(), pid)
        with open(conf) as f:
            self.assertIn("log_connections = on", f.read())

    def test_embedded_default_with_postgres_image_env(self):
        env = {"POSTGRES_MULTIPLE_DATABASES": "keycloak, backend", "POSTGRES_PASSWORD": "s3cret"}
        up = self.tusk("up", env=env)
        self.assertIn("/keycloak?passfile=", up.stdout)
        self.assertIn("/backend?passfile=", up.stdout)
        self.assertNotIn("s3cret", up.stdout + up.stderr)
        port = int(up.stdout.split("ready on 127.0.0.1:")[1].split()[0])
        self.assertGreaterEqual(port, 5432)
        uri = self.tusk("url", "backend", env=env).stdout.strip()
        self.assertEqual(self.psql(uri, "SELECT current_user").stdout.strip(), "backend")
        su = self.tusk("url", "postgres", "--role", "postgres", env=env).stdout.strip()
        self.assertIn(":s3cret@", su)
        self.assertEqual(self.psql(su, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                         .stdout.strip(), "t")
        # Second up reuses the same port and data.
        again = self.tusk("up", env=env)
        self.assertIn(f"ready on 127.0.0.1:{port}", again.stdout)
        self.tusk("down", env=env)
