"""Shared helpers for tusk's integration tests.

Each test gets a private directory (mode 0755 so the unprivileged server
account can reach it), free TCP ports, and the real `tusk` binary. Teardown
runs `tusk down` and removes everything it created, so the suite can run twice
in a row. Nothing here mocks PostgreSQL: tusk starts real servers.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
import unittest

TUSK = os.environ.get("TUSK_BIN", os.path.join(os.path.dirname(__file__), "../../build/tusk"))
SOURCE_DIR = os.environ.get("TUSK_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
PG_BIN = "/usr/lib/postgresql/15/bin"


def free_port():
    """A TCP port nothing listens on right now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n):
    ports = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


class TuskTestCase(unittest.TestCase):
    """Base class: a scratch directory and a `tusk` runner bound to it."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tusk-it-")
        os.chmod(self.dir, 0o755)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("POSTGRES_") and not k.startswith("PG")}
        self.configs = []

    def tearDown(self):
        for cfg in self.configs:
            self.tusk("down", config=cfg, check=False)
        if not self.configs:
            self.tusk("down", config=None, check=False)
        self.stop_leftover_agents()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stop_leftover_agents(self):
        """Fallback when `tusk down` could not load a (deliberately broken)
        config: SIGTERM every agent whose pid file lies under self.dir; the
        agent fast-stops its servers before it exits."""
        for root, _, files in os.walk(self.dir):
            if "agent.pid" not in files:
                continue
            try:
                with open(os.path.join(root, "agent.pid")) as f:
                    pid = int(f.read().strip())
                os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError):
                continue
            wait_until(lambda: not os.path.exists(f"/proc/{pid}"), timeout=60)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        return path

    def config(self, text, name="tusk.yaml"):
        path = self.write(name, text)
        self.configs.append(path)
        return path

    def tusk(self, *args, config=None, check=True, env=None, timeout=300):
        """Runs tusk in self.dir; returns CompletedProcess (text)."""
        cmd = [TUSK, *args]
        if config:
            cmd[2:2] = ["-c", config]
        e = dict(self.env)
        if env:
            e.update(env)
        p = subprocess.run(cmd, cwd=self.dir, env=e, capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            self.fail(f"{' '.join(args)} exited {p.returncode}\nstdout:\n{p.stdout}\n"
                      f"stderr:\n{p.stderr}")
        return p

    def url(self, database, config=None, role=None, instance=None):
        args = ["url", database]
        if role:
            args += ["--role", role]
        if instance:
            args += ["--instance", instance]
        return self.tusk(*args, config=config).stdout.strip()

    def psql(self, uri, sql, check=True):
        """Runs psql -At with one command; returns CompletedProcess."""
        p = subprocess.run(["psql", uri, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                           capture_output=True, text=True, timeout=60,
                           env={"PATH": os.environ["PATH"], "PGCONNECT_TIMEOUT": "10"})
        if check and p.returncode != 0:
            self.fail(f"psql failed: {p.stderr}")
        return p

    def admin_psql(self, port, sql, db="postgres", socket_dir=None):
        """Runs SQL as the superuser over the instance's unix socket (peer via map tusk)."""
        host = socket_dir or os.path.join(self.dir, "tusk-data", ".run")
        return self.psql(f"host={host} port={port} user=postgres dbname={db}", sql)


def wait_until(predicate, timeout=30, interval=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
