"""Router options no other test covers, against a real PostgreSQL with TLS
on: `client_auth: md5` and `plain` (switched by `tusk up`, which reloads the
router), `server_tls` (pg_hba.conf refuses the application role anything
but TLS, so only an encrypted router login can work), `server_lifetime`
(old server connections are closed once idle, never inside a transaction),
`busy_poll_us` (a busy router polls, an idle one stops) and `sched_policy`
(the workers' Linux scheduling policy, switched by a reload).
"""
import glob
import hashlib
import json
import os
import pwd
import shutil
import struct
import subprocess
import time

import psycopg2

from harness import wait_until
from router_support import LoginFailed, RouterCase, errors_in


def password_login(wire, user, password, database):
    """Startup + a password exchange (AuthenticationMD5Password or
    AuthenticationCleartextPassword). Returns (auth code, messages after the
    password up to ReadyForQuery); raises LoginFailed on ErrorResponse."""
    wire.startup(user=user, database=database)
    kind, body = wire.read()
    code = struct.unpack("!i", body[:4])[0]
    if kind != b"R" or code not in (3, 5):
        raise AssertionError(f"expected a password request, got {kind!r} {body!r}")
    if code == 5:  # md5(md5(password || user) || salt), as libpq sends it
        inner = hashlib.md5((password + user).encode()).hexdigest()
        answer = "md5" + hashlib.md5(inner.encode() + body[4:8]).hexdigest()
    else:
        answer = password
    wire.message(b"p", answer.encode() + b"\0")
    rest = wire.read_until_ready()
    errs = errors_in(rest)
    if errs:
        raise LoginFailed(errs[0], rest)
    return code, rest


def server_account():
    """The account tusk runs PostgreSQL under when started as root (see
    src/sys/account.cc): `postgres` if it exists, else `tusk`."""
    for name in ("postgres", "tusk"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    raise AssertionError("no postgres or tusk account")


class RouterOptionsTest(RouterCase):
    router = """
        pool_size: 3
        client_auth: md5
        server_tls: true
        server_lifetime: 1s
        busy_poll_us: 10000
        sched_policy: batch
        tls: {mode: disable}
        admin_roles: [postgres]
        """
    hba = """
        - {type: local, database: all, user: postgres, method: "peer map=tusk"}
        - {type: hostnossl, database: all, user: app, address: 127.0.0.1/32, method: reject}
        - {type: host, database: all, user: all, address: 127.0.0.1/32, method: scram-sha-256}
        """
    parameters = """
        ssl: "on"
        ssl_cert_file: {dir}/pgtls/server.crt
        ssl_key_file: {dir}/pgtls/server.key
        """

    @classmethod
    def prepare(cls):
        """A self-signed certificate for PostgreSQL, its key owned by the
        server's account with mode 0600 (PostgreSQL refuses anything looser)."""
        tls = os.path.join(cls.dir, "pgtls")
        os.makedirs(tls)
        os.chmod(tls, 0o755)
        crt, key = os.path.join(tls, "server.crt"), os.path.join(tls, "server.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-keyout", key, "-out", crt],
                       check=True, capture_output=True)
        os.chmod(key, 0o600)
        os.chmod(crt, 0o644)
        if os.geteuid() == 0:
            account = server_account()
            shutil.chown(key, account.pw_uid, account.pw_gid)

    def setUp(self):
        self.direct = psycopg2.connect(self.direct_dsn())
        self.direct.autocommit = True
        self.addCleanup(self.direct.close)

    def set_router_option(self, key, value):
        """Rewrites router.`key` in tusk.yaml and runs `tusk up`."""
        with open(self.cfg) as f:
            text = f.read()
        old = next(l for l in text.splitlines() if l.strip().startswith(key + ":"))
        with open(self.cfg, "w") as f:
            f.write(text.replace(old, old.split(":")[0] + ": " + str(value)))
        up = self.tusk("up", "--timeout", "120")
        self.assertEqual(up.returncode, 0, up.stdout + up.stderr)

    def auth_code(self):
        """The authentication request the router sends a new client now."""
        w = self.wire()
        w.startup(user="app", database="app")
        kind, body = w.read()
        w.close()
        return struct.unpack("!i", body[:4])[0] if kind == b"R" else None

    def assert_password_refused(self):
        with self.assertRaises(LoginFailed) as cm:
            password_login(self.wire(), "app", "not the password", "app")
        self.assertEqual(cm.exception.fields.get("C"), "28P01", cm.exception.fields)
        self.assertEqual(cm.exception.fields.get("M"),
                         'password authentication failed for user "app"')
        with self.assertRaises(psycopg2.OperationalError) as cm:
            psycopg2.connect(self.dsn(password="not the password"))
        self.assertIn('password authentication failed for user "app"', str(cm.exception))

    def test_md5_then_plain_after_up(self):
        code, _ = password_login(self.wire(), "app", self.secrets["app"], "app")
        self.assertEqual(code, 5, "client_auth: md5 must send AuthenticationMD5Password")
        self.assert_password_refused()
        p = self.run_psql(self.dsn(), "-At", "-c", "SELECT current_user")
        self.assertEqual(p.stdout.strip(), "app")
        kept = self.connect()
        kept.autocommit = True
        self.assertEqual(self.scalar(kept, "SELECT 1"), 1)

        self.set_router_option("client_auth", "plain")
        self.assertTrue(wait_until(lambda: self.auth_code() == 3, timeout=15),
                        f"still sends code {self.auth_code()} after up\n{self.router_log()}")
        code, _ = password_login(self.wire(), "app", self.secrets["app"], "app")
        self.assertEqual(code, 3)
        self.assert_password_refused()
        fresh = self.connect()
        self.assertEqual(self.scalar(fresh, "SELECT current_user"), "app")
        # The reload dropped no client.
        self.assertEqual(self.scalar(kept, "SELECT 2"), 2)

        self.set_router_option("client_auth", "md5")
        self.assertTrue(wait_until(lambda: self.auth_code() == 5, timeout=15),
                        self.router_log())

    def router_pid(self):
        with open(self.spec_path()) as f:
            pid_file = json.load(f)["pid_file"]
        with open(pid_file) as f:
            return int(f.read())

    def router_cpu_seconds(self):
        """User + system CPU time of the router process so far, s."""
        with open(f"/proc/{self.router_pid()}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def sleeps_per_query(self, conn, n=2000):
        """How often the router's threads went to sleep (voluntary context
        switches, all threads) per query, over n back-to-back queries of one
        client."""
        def sleeps():
            total = 0
            for status in glob.glob(f"/proc/{self.router_pid()}/task/*/status"):
                with open(status) as f:
                    total += sum(int(l.split()[1]) for l in f
                                 if l.startswith("voluntary_ctxt_switches"))
            return total
        before = sleeps()
        for _ in range(n):
            self.scalar(conn, "SELECT 1")
        return (sleeps() - before) / n

    def test_busy_poll_runs_under_load_and_stops_when_idle(self):
        conn = self.connect()
        conn.autocommit = True
        # One client's queries come back to back, well within 10 ms of each
        # other: the router polls between them instead of sleeping ...
        polling = self.sleeps_per_query(conn)
        self.assertLess(polling, 0.3, self.router_log())
        # ... and once they stop, the window closes: an idle router polling
        # 10 ms after each 100 ms tick would use 10 % of a core per worker.
        time.sleep(0.5)
        c0 = self.router_cpu_seconds()
        time.sleep(3)
        idle = self.router_cpu_seconds() - c0
        self.assertLess(idle, 0.1, f"{idle:.2f} s of CPU in 3 s idle\n{self.router_log()}")
        # busy_poll_us: 0 (reloaded by `tusk up`; the client stays) sleeps
        # while waiting for the client and for PostgreSQL.
        self.set_router_option("busy_poll_us", 0)
        try:
            self.assertTrue(wait_until(lambda: self.sleeps_per_query(conn, 500) >= 1, timeout=30),
                            f"{self.sleeps_per_query(conn, 500):.2f} sleeps per query "
                            f"after busy_poll_us: 0\n{self.router_log()}")
        finally:
            self.set_router_option("busy_poll_us", 10000)

    def worker_policies(self):
        """{thread name: scheduling policy} of the router's worker threads
        (field 41 of /proc/PID/task/TID/stat: 0 = SCHED_OTHER, 3 = SCHED_BATCH)."""
        policies = {}
        for task in glob.glob(f"/proc/{self.router_pid()}/task/*"):
            try:
                with open(task + "/comm") as f:
                    name = f.read().strip()
                with open(task + "/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except FileNotFoundError:  # a short-lived thread (cancel) ended
                continue
            if name.startswith("tusk-worker-"):
                policies[name] = int(fields[38])
        return policies

    def test_sched_policy_applies_to_every_worker_and_reloads(self):
        SCHED_OTHER, SCHED_BATCH = 0, 3
        workers = self.worker_policies()
        self.assertGreaterEqual(len(workers), 1, self.router_log())
        self.assertEqual(set(workers.values()), {SCHED_BATCH}, workers)
        kept = self.connect()
        kept.autocommit = True
        self.set_router_option("sched_policy", "normal")
        try:
            self.assertTrue(
                wait_until(lambda: set(self.worker_policies().values()) == {SCHED_OTHER},
                           timeout=15), f"{self.worker_policies()}\n{self.router_log()}")
            self.assertEqual(self.worker_policies().keys(), workers.keys())
            self.assertEqual(self.scalar(kept, "SELECT 3"), 3)  # the reload dropped no client
        finally:
            self.set_router_option("sched_policy", "batch")
        self.assertTrue(
            wait_until(lambda: set(self.worker_policies().values()) == {SCHED_BATCH}, timeout=15),
            self.worker_policies())

    def test_server_connections_use_tls(self):
        # pg_hba.conf refuses `app` without TLS ...
        with self.assertRaises(psycopg2.OperationalError) as cm:
            psycopg2.connect(self.dsn(port=self.pg_port, sslmode="disable"))
        self.assertIn("no encryption", str(cm.exception))
        # ... so the router's server connection for it must be encrypted.
        conn = self.connect()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            ssl_on, version = cur.fetchone()
        self.assertTrue(ssl_on)
        self.assertTrue(version.startswith("TLSv1."), version)
        # The client side stayed plaintext (tls.mode: disable).
        self.assertIsNone(conn.info.ssl_attribute("protocol"))
        n = self.scalar(self.direct, "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a "
                        "USING (pid) WHERE a.usename = 'app' AND NOT s.ssl")
        self.assertEqual(n, 0)

    def test_server_lifetime_retires_idle_servers_only(self):
        def alive(pid):
            return self.scalar(self.direct, "SELECT count(*) FROM pg_stat_activity "
                               "WHERE pid = %s", (pid,)) == 1

        in_tx = self.connect()  # psycopg2 opens a transaction and keeps it
        held = self.scalar(in_tx, "SELECT pg_backend_pid()")
        auto = self.connect()
        auto.autocommit = True
        first = self.scalar(auto, "SELECT pg_backend_pid()")
        self.assertNotEqual(first, held)
        # The idle server is closed once older than server_lifetime (1 s) ...
        self.assertTrue(wait_until(lambda: not alive(first), timeout=15),
                        f"server {first} outlived server_lifetime\n{self.router_log()}")
        # ... the one inside a transaction is not, however old it is.
        time.sleep(0.5)
        self.assertTrue(alive(held))
        self.assertEqual(self.scalar(in_tx, "SELECT pg_backend_pid()"), held)
        in_tx.commit()
        self.assertTrue(wait_until(lambda: not alive(held), timeout=15),
                        f"server {held} outlived its transaction\n{self.router_log()}")
        # Clients go on over new server connections.
        self.assertNotIn(self.scalar(auto, "SELECT pg_backend_pid()"), (first, held))
        self.assertEqual(self.scalar(in_tx, "SELECT 3"), 3)
        in_tx.commit()


if __name__ == "__main__":
    import unittest
    unittest.main()
