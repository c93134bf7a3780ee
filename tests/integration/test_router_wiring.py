"""The wiring around the router: `tusk up` writes its spec, secrets and
certificate and has the agent run it; `tusk url --via-router` points at it;
a bad `router:` section exits 2 with FILE:LINE; removing the section or
`tusk down` leaves no router process. Whether the router serves traffic is
the router's own tests' business, not asserted here."""
import json
import os
import socket
import ssl
import stat
import struct
import subprocess

from harness import TuskTestCase, free_ports, wait_until

SVC_PASSWORD = "svc-Secret-42"


def live_processes(*words):
    """pids (not zombies) whose command line contains every one of `words`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and all(w in cmdline for w in words):
            found.append(int(pid))
    return found


class RouterWiringTest(TuskTestCase):
    def setUp(self):
        super().setUp()
        self.port, self.router_port, self.readonly_port = free_ports(3)
        self.env["SVC_PW"] = SVC_PASSWORD
        self.state = os.path.join(self.dir, "tusk-data")

    def with_router(self, router="", name="tusk.yaml"):
        router = router or (f"router: {{port: {self.router_port}, "
                            f"readonly_port: {self.readonly_port}, pool_size: 7}}")
        return self.config(f"""
            instances:
              - name: main
                port: {self.port}
                memory: 256MiB
                databases:
                  - name: keycloak
                roles:
                  - name: svc
                    password_env: SVC_PW
                {router}
            """, name=name)

    def path(self, *parts):
        return os.path.join(self.state, *parts)

    def test_up_writes_router_files_and_down_stops_it(self):
        cfg = self.with_router()
        up = self.tusk("up", config=cfg)
        self.assertNotIn(SVC_PASSWORD, up.stdout + up.stderr)

        spec_file = self.path(".agent", "main.router.spec.json")
        with open(spec_file) as f:
            spec_text = f.read()
        spec = json.loads(spec_text)
        self.assertEqual(spec["port"], self.router_port)
        self.assertEqual(spec["readonly_port"], self.readonly_port)
        self.assertEqual(spec["pool_size"], 7)
        self.assertEqual(spec["mode"], "transaction")
        self.assertEqual(spec["primary"], {"host": "127.0.0.1", "port": self.port})
        self.assertEqual(spec["secrets_file"], self.path(".router", "main", "secrets.json"))
        self.assertEqual(spec["status_file"], self.path(".router", "main", "status.json"))
        self.assertEqual(spec["admin_roles"], ["postgres"])

        # Passwords live in the 0600 secrets file, never in the spec.
        secrets_file = spec["secrets_file"]
        self.assertEqual(stat.S_IMODE(os.stat(secrets_file).st_mode), 0o600)
        with open(secrets_file) as f:
            roles = json.load(f)["roles"]
        self.assertEqual(set(roles), {"postgres", "keycloak", "svc", "tusk_router_auth"})
        self.assertEqual(roles["svc"], SVC_PASSWORD)
        for password in roles.values():
            self.assertNotIn(password, spec_text)

        # A generated certificate; the key is private.
        self.assertEqual(spec["tls_mode"], "allow")
        self.assertEqual(spec["tls_cert_file"], self.path(".router", "main", "router.crt"))
        self.assertEqual(stat.S_IMODE(os.stat(spec["tls_key_file"]).st_mode), 0o600)
        with open(spec["tls_cert_file"]) as f:
            self.assertIn("BEGIN CERTIFICATE", f.read())

        # The agent runs it from its spec.
        with open(self.path(".agent", "spec.json")) as f:
            agent_spec = json.load(f)
        self.assertEqual([r["instance"] for r in agent_spec["routers"]], ["main"])
        self.assertEqual(agent_spec["routers"][0]["spec_file"], spec_file)

        # Run as root, tusk runs the router as the server's account, which
        # owns the router's private directory and nothing else of tusk's.
        router_dir = self.path(".router", "main")
        self.assertEqual(stat.S_IMODE(os.stat(router_dir).st_mode), 0o700)
        pids = []
        self.assertTrue(wait_until(lambda: pids.extend(live_processes("router", spec_file))
                                   or pids, timeout=20), "no router process")
        with open(f"/proc/{pids[0]}/status") as f:
            uid = int(next(l for l in f if l.startswith("Uid:")).split()[1])
        if os.geteuid() == 0:
            self.assertNotEqual(uid, 0, "the router runs as root")
            self.assertEqual(uid, agent_spec["routers"][0]["run_as"]["uid"])
            for p in (router_dir, secrets_file, spec["tls_key_file"]):
                self.assertEqual(os.stat(p).st_uid, uid, p)
            self.assertEqual(os.stat(self.path(".secrets")).st_uid, 0)
        else:
            self.assertEqual(uid, os.geteuid())
        self.assertTrue(wait_until(lambda: os.path.exists(spec["status_file"]), timeout=10),
                        "the router wrote no status file")

        # URIs through the router, with the same credentials as `tusk url`.
        direct = self.url("keycloak", config=cfg)
        via = self.tusk("url", "keycloak", "--via-router", config=cfg).stdout.strip()
        self.assertEqual(via, direct.replace(f":{self.port}/", f":{self.router_port}/"))
        ro = self.tusk("url", "keycloak", "--via-router", "--readonly", config=cfg).stdout.strip()
        self.assertIn(f"@127.0.0.1:{self.readonly_port}/keycloak", ro)

        st = json.loads(self.tusk("status", "--json", config=cfg).stdout)
        router = st["instances"][0]["router"]
        self.assertEqual((router["port"], router["readonly_port"], router["mode"]),
                         (self.router_port, self.readonly_port, "transaction"))
        self.assertIn("router:", self.tusk("status", config=cfg).stdout)

        # A second up with an unchanged config changes no router file.
        self.tusk("up", config=cfg)
        with open(spec_file) as f:
            self.assertEqual(f.read(), spec_text)

        # A rotated password reaches the router's secrets with `apply` too.
        apply = self.tusk("apply", config=cfg, env={"SVC_PW": "rotated-Secret-7"})
        self.assertNotIn("rotated-Secret-7", apply.stdout + apply.stderr)
        with open(secrets_file) as f:
            self.assertEqual(json.load(f)["roles"]["svc"], "rotated-Secret-7")

        self.tusk("down", config=cfg)
        self.assertEqual(live_processes("router", spec_file), [])
        self.assertEqual(live_processes("agent --state-dir", self.state), [])
        self.assertFalse(os.path.exists(self.path(".agent", "agent.pid")))

    def make_certificate(self, name):
        """A self-signed certificate and a root-only key in <dir>/tls/; its DER."""
        tls = os.path.join(self.dir, "tls")
        os.makedirs(tls, exist_ok=True)
        crt, key = os.path.join(tls, name + ".crt"), os.path.join(tls, name + ".key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        f"/CN={name}", "-keyout", key, "-out", crt],
                       check=True, capture_output=True)
        os.chmod(key, 0o600)
        with open(crt) as f:
            return ssl.PEM_cert_to_DER_cert(f.read())

    def served_certificate(self):
        """DER of the certificate the router presents after SSLRequest."""
        with socket.create_connection(("127.0.0.1", self.router_port), timeout=10) as sock:
            sock.sendall(struct.pack("!ii", 8, 80877103))
            self.assertEqual(sock.recv(1), b"S")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with ctx.wrap_socket(sock) as tls:
                return tls.getpeercert(binary_form=True)

    def test_configured_tls_files_reach_the_router_as_private_copies(self):
        first = self.make_certificate("one")
        os.rename(os.path.join(self.dir, "tls", "one.crt"), os.path.join(self.dir, "tls", "r.crt"))
        os.rename(os.path.join(self.dir, "tls", "one.key"), os.path.join(self.dir, "tls", "r.key"))
        cfg = self.with_router(f"router: {{port: {self.router_port}, readonly_port: "
                               f"{self.readonly_port}, tls: {{mode: require, "
                               f"cert_file: tls/r.crt, key_file: tls/r.key}}}}")
        self.tusk("up", config=cfg)
        with open(self.path(".agent", "main.router.spec.json")) as f:
            spec = json.load(f)
        self.assertEqual(spec["tls_cert_file"], self.path(".router", "main", "tls.crt"))
        self.assertEqual(spec["tls_key_file"], self.path(".router", "main", "tls.key"))
        with open(os.path.join(self.dir, "tls", "r.key")) as a, open(spec["tls_key_file"]) as b:
            self.assertEqual(a.read(), b.read())
        self.assertEqual(stat.S_IMODE(os.stat(spec["tls_key_file"]).st_mode), 0o600)
        with open(self.path(".agent", "spec.json")) as f:
            run_as = json.load(f)["routers"][0]["run_as"]
        if os.geteuid() == 0:
            self.assertEqual(os.stat(spec["tls_key_file"]).st_uid, run_as["uid"])
        self.assertTrue(wait_until(lambda: self.port_serves_tls(), timeout=20),
                        "the router never served TLS with the configured files")
        self.assertEqual(self.served_certificate(), first)

        # A replaced certificate reaches the router at the next `tusk up`.
        second = self.make_certificate("two")
        os.replace(os.path.join(self.dir, "tls", "two.crt"), os.path.join(self.dir, "tls", "r.crt"))
        os.replace(os.path.join(self.dir, "tls", "two.key"), os.path.join(self.dir, "tls", "r.key"))
        self.tusk("up", config=cfg)
        self.assertTrue(wait_until(lambda: self.port_serves_tls() and
                                   self.served_certificate() == second, timeout=30),
                        "the router kept the old certificate")

        # A missing file is a config error (exit 2, naming it) before anything
        # is written: the copies and the running router stay as they were.
        os.remove(os.path.join(self.dir, "tls", "r.key"))
        bad = self.tusk("up", config=cfg, check=False)
        self.assertEqual(bad.returncode, 2, bad.stderr)
        self.assertIn("key_file", bad.stderr)
        self.assertIn("cannot read", bad.stderr)
        with open(spec["tls_key_file"]) as f:
            self.assertIn("PRIVATE KEY", f.read())
        self.assertEqual(self.served_certificate(), second)

    def port_serves_tls(self):
        try:
            self.served_certificate()
            return True
        except (OSError, AssertionError):
            return False

    def test_down_stops_a_router_whose_agent_was_killed(self):
        cfg = self.with_router()
        self.tusk("up", config=cfg)
        spec_file = self.path(".agent", "main.router.spec.json")
        # `up` returned once the router port accepted: by then the router's
        # pid file must exist, or `down` could not find an orphaned router.
        with open(spec_file) as f:
            pid_file = json.load(f)["pid_file"]
        self.assertTrue(os.path.exists(pid_file), pid_file)
        with open(self.path(".agent", "agent.pid")) as f:
            os.kill(int(f.read()), 9)
        self.assertTrue(wait_until(lambda: not live_processes("agent --state-dir", self.state),
                                   timeout=10))
        orphaned = live_processes("router", spec_file)
        down = self.tusk("down", config=cfg)
        if orphaned:
            self.assertIn("stopped router main", down.stdout)
        self.assertEqual(live_processes("router", spec_file), [])
        self.assertEqual(self.tusk("ready", config=cfg, check=False).returncode, 2)

    def test_removing_the_router_section_stops_it(self):
        cfg = self.with_router()
        self.tusk("up", config=cfg)
        spec_file = self.path(".agent", "main.router.spec.json")
        self.assertTrue(os.path.exists(spec_file))
        cfg = self.with_router(router="max_connections: 50")
        self.tusk("up", config=cfg)
        self.assertFalse(os.path.exists(spec_file))
        self.assertFalse(os.path.exists(self.path(".router", "main", "secrets.json")))
        self.assertTrue(wait_until(lambda: not live_processes("router", spec_file), timeout=10))
        with open(self.path(".agent", "spec.json")) as f:
            self.assertEqual(json.load(f)["routers"], [])
        # Without a router, --via-router is a usage error.
        p = self.tusk("url", "keycloak", "--via-router", config=cfg, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("has no router", p.stderr)

    def test_bad_router_config_exits_2_and_changes_nothing(self):
        cfg = self.with_router(router="router: {port: 0}")
        p = self.tusk("up", config=cfg, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertRegex(p.stderr, r"tusk\.yaml:\d+:\d+: instances\[0\]\.router\.port: "
                                   r"must be between 1 and 65535")
        cfg = self.with_router(router=f"router: {{port: {self.router_port}, pool: 3}}",
                               name="unknown.yaml")
        p = self.tusk("up", config=cfg, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertRegex(p.stderr, r"unknown\.yaml:\d+:\d+: instances\[0\]\.router\.pool: "
                                   r"unknown key")
        cfg = self.with_router(router=f"router: {{port: {self.port}}}", name="clash.yaml")
        p = self.tusk("up", config=cfg, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"port {self.port} is already used by instance \"main\"", p.stderr)
        self.assertFalse(os.path.exists(self.state))

    def test_url_argument_errors_exit_2(self):
        cfg = self.with_router(router=f"router: {{port: {self.router_port}}}")
        p = self.tusk("url", "keycloak", "--via-router", "--readonly", config=cfg, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("no read-only port", p.stderr)
        p = self.tusk("url", "keycloak", "--readonly", config=cfg, check=False)
        self.assertEqual(p.returncode, 2)
