"""Commands that need no running server: init, tune, argument errors."""
import os

from harness import TuskTestCase


class CliTest(TuskTestCase):
    def test_init_writes_loadable_examples_and_refuses_overwrite(self):
        for example in ["shared", "split"]:
            d = os.path.join(self.dir, example)
            self.tusk("init", "--example", example, "--dir", d)
            cfg = os.path.join(d, "tusk.yaml")
            self.assertTrue(os.path.exists(cfg))
            tune = self.tusk("tune", config=cfg)
            self.assertIn("shared_buffers = ", tune.stdout)
            again = self.tusk("init", "--example", example, "--dir", d, check=False)
            self.assertEqual(again.returncode, 2)
            self.assertIn("--force", again.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "split/sql/rag-ensure.sql")))
        self.assertFalse(os.path.exists(os.path.join(self.dir, "tusk-data")))

    def test_tune_explain_golden_case(self):
        cfg = self.config("""
            instances:
              - name: main
                port: 6543
                memory: 2GiB
                cpus: 2
                storage: ssd
                max_connections: 200
            """)
        out = self.tusk("tune", "main", "--explain", config=cfg).stdout
        lines = {l.split()[0]: l.split()[1] for l in out.splitlines()
                 if l and not l.startswith("#") and len(l.split()) > 1}
        self.assertEqual(lines["shared_buffers"], "512MB")
        self.assertEqual(lines["effective_cache_size"], "1536MB")
        self.assertEqual(lines["maintenance_work_mem"], "128MB")
        self.assertEqual(lines["work_mem"], "4MB")
        self.assertIn("25%", out)

    def test_bad_arguments_exit_2(self):
        self.assertEqual(self.tusk("frobnicate", check=False).returncode, 2)
        self.assertEqual(self.tusk("init", "--example", "nope", check=False).returncode, 2)
        cfg = self.config("instances: []\n")
        p = self.tusk("status", config=cfg, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("instances", p.stderr)
        self.assertEqual(self.tusk("ready", config=cfg, check=False).returncode, 3)
        self.assertEqual(self.tusk("logs", "nosuch", config=self.config(
            "instances: [{name: main, port: 6544}]\n", name="one.yaml"), check=False).returncode, 2)
