"""Helpers for the router's integration tests (test_router.py).

RouterCase starts ONE `tusk up` per test class (an instance with a `router:`
section, free ports, a private 0755 directory) and tears it down in
tearDownClass. Wire is a raw PostgreSQL protocol client, with a SCRAM-SHA-256
login written out in Python, for the tests that send what no driver would.
"""
import base64
import glob
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import textwrap
import threading
import time
import unittest

import psycopg2

from harness import TUSK, free_ports, wait_until

PROTOCOL_3 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


# ---------------------------------------------------------------------------
# Raw wire protocol


class Wire:
    """One TCP connection speaking the PostgreSQL protocol by hand."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def start_tls(self):
        """SSLRequest; on 'S' wraps the socket in TLS (no verification). Returns the answer byte."""
        self.send(struct.pack("!ii", 8, SSL_REQUEST))
        answer = self.sock.recv(1)
        if answer == b"S":
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock)
        return answer

    def startup(self, **params):
        self.send(startup_packet(params))

    def message(self, kind, body=b""):
        self.send(frame(kind, body))

    def _fill(self, n):
        """Reads until n bytes are buffered; False on EOF."""
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def read(self):
        """The next (type, body), or None at EOF. socket.timeout propagates."""
        if not self._fill(5):
            return None
        kind = self.buf[:1]
        length = struct.unpack("!i", self.buf[1:5])[0]
        if not self._fill(1 + length):
            return None
        body = self.buf[5:1 + length]
        self.buf = self.buf[1 + length:]
        return kind, body

    def read_messages(self, stop_at=None):
        """Messages up to and including one of type `stop_at`, or up to EOF.
        socket.timeout propagates (e.g. when the peer never closes)."""
        out = []
        while True:
            m = self.read()
            if m is None:
                return out
            out.append(m)
            if m[0] == stop_at:
                return out

    def read_until_ready(self):
        return self.read_messages(b"Z")

    def read_to_eof(self):
        return self.read_messages()

    def query(self, sql):
        self.message(b"Q", sql.encode() + b"\0")
        return self.read_until_ready()


def frame(kind, body=b""):
    """One protocol message: type byte, Int32 length (itself included), body."""
    return kind + struct.pack("!i", len(body) + 4) + body


def startup_packet(params, version=PROTOCOL_3):
    body = struct.pack("!i", version)
    for k, v in params.items():
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!i", len(body) + 4) + body


def error_fields(body):
    """ErrorResponse/NoticeResponse body -> {'C': sqlstate, 'M': message, ...}."""
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[part[:1].decode()] = part[1:].decode(errors="replace")
    return fields


def errors_in(messages):
    return [error_fields(body) for kind, body in messages if kind == b"E"]


class LoginFailed(Exception):
    def __init__(self, fields, messages):
        super().__init__(f"{fields.get('C')}: {fields.get('M')}")
        self.fields = fields
        self.messages = messages


def _auth_code(body):
    return struct.unpack("!i", body[:4])[0]


def scram_server_first(wire, user, database):
    """Startup + SCRAM client-first; returns the server-first attributes
    (r nonce, s base64 salt, i iterations) and leaves the exchange there."""
    wire.startup(user=user, database=database)
    kind, body = wire.read()
    if kind != b"R" or _auth_code(body) != 10:
        raise AssertionError(f"expected AuthenticationSASL, got {kind!r} {body!r}")
    data = ("n,,n=,r=" + base64.b64encode(os.urandom(18)).decode()).encode()
    wire.message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(data)) + data)
    kind, body = wire.read()
    if kind != b"R" or _auth_code(body) != 11:
        raise AssertionError(f"expected AuthenticationSASLContinue, got {kind!r} {body!r}")
    return dict(item.split("=", 1) for item in body[4:].decode().split(","))


def scram_login(wire, user, password, database, version=PROTOCOL_3, **params):
    """Startup (`version`, extra `params`) + SCRAM-SHA-256 (no channel
    binding) as libpq does it. Returns the messages after AuthenticationOk up
    to ReadyForQuery; a NegotiateProtocolVersion before the exchange is kept
    in wire.negotiated (its body). Raises LoginFailed with the ErrorResponse
    fields when the server refuses."""
    wire.send(startup_packet(dict(user=user, database=database, **params), version))
    m = wire.read()
    wire.negotiated = None
    if m is not None and m[0] == b"v":
        wire.negotiated = m[1]
        m = wire.read()
    if m is None or m[0] == b"E":
        raise LoginFailed(error_fields(m[1]) if m else {}, [m])
    kind, body = m
    if kind != b"R" or _auth_code(body) != 10 or b"SCRAM-SHA-256" not in body:
        raise AssertionError(f"expected AuthenticationSASL, got {m!r}")
    nonce = base64.b64encode(os.urandom(18)).decode()
    client_first_bare = f"n=,r={nonce}"
    data = ("n,," + client_first_bare).encode()
    wire.message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(data)) + data)
    m = wire.read()
    if m is None or m[0] == b"E":
        raise LoginFailed(error_fields(m[1]) if m else {}, [m])
    kind, body = m
    if kind != b"R" or _auth_code(body) != 11:
        raise AssertionError(f"expected AuthenticationSASLContinue, got {m!r}")
    server_first = body[4:].decode()
    attrs = dict(item.split("=", 1) for item in server_first.split(","))
    if not attrs["r"].startswith(nonce):
        raise AssertionError(f"server nonce does not extend ours: {server_first}")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = f"c=biws,r={attrs['r']}"
    auth_message = f"{client_first_bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    wire.message(b"p", f"{without_proof},p={base64.b64encode(proof).decode()}".encode())
    m = wire.read()
    if m is None or m[0] == b"E":
        raise LoginFailed(error_fields(m[1]) if m else {}, [m])
    kind, body = m
    if kind != b"R" or _auth_code(body) != 12:
        raise AssertionError(f"expected AuthenticationSASLFinal, got {m!r}")
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    expected = hmac.new(server_key, auth_message, hashlib.sha256).digest()
    final = dict(item.split("=", 1) for item in body[4:].decode().split(","))
    if base64.b64decode(final["v"]) != expected:
        raise AssertionError("server signature does not verify")
    rest = wire.read_until_ready()
    errs = errors_in(rest)
    if errs:
        raise LoginFailed(errs[0], rest)
    if not rest or rest[0][0] != b"R" or _auth_code(rest[0][1]) != 0:
        raise AssertionError(f"expected AuthenticationOk, got {rest[:1]!r}")
    if rest[-1][0] != b"Z":
        raise AssertionError(f"no ReadyForQuery after login: {rest!r}")
    return rest


# ---------------------------------------------------------------------------
# One `tusk up` (instance + router) per test class


def clean_env():
    return {k: v for k, v in os.environ.items()
            if not k.startswith("POSTGRES_") and not k.startswith("PG")}


def in_thread(fn):
    """Starts fn in a thread; returns (thread, box) where box gets 'result',
    'error' and 'done_at'."""
    box = {}

    def run():
        try:
            box["result"] = fn()
        except BaseException as e:  # reported by the test
            box["error"] = e
        box["done_at"] = time.monotonic()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


class RouterCase(unittest.TestCase):
    """Subclasses set `router` (extra lines of the router: section) and may
    set `hba` (a YAML list, as text), `parameters` (a YAML map of GUCs, as
    text; "{dir}" becomes the class's directory), `mode`, and override
    prepare() to write files into cls.dir before `tusk up`."""

    mode = "transaction"
    router = ""
    hba = ""
    parameters = ""
    db = "app"

    @classmethod
    def prepare(cls):
        """Runs after cls.dir exists and before tusk.yaml is written."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="tusk-router-")
        os.chmod(cls.dir, 0o755)
        cls.env = clean_env()
        cls.pg_port, cls.port, cls.ro_port, cls.metrics_port = free_ports(4)
        cls.cleanups = []
        cls.cfg = os.path.join(cls.dir, "tusk.yaml")
        try:
            cls.prepare()
            with open(cls.cfg, "w") as f:
                f.write(cls.config_text())
            cls.up = cls.tusk("up", "--timeout", "120")
            if cls.up.returncode != 0:
                raise AssertionError(f"tusk up exited {cls.up.returncode}\nstdout:\n"
                                     f"{cls.up.stdout}\nstderr:\n{cls.up.stderr}")
            if not wait_until(lambda: port_open(cls.port) and port_open(cls.ro_port), timeout=20):
                raise AssertionError(f"the router never listened on {cls.port}/{cls.ro_port} "
                                     f"after tusk up\n{cls.router_log()}")
            cls.secrets = cls.read_secrets()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def config_text(cls):
        router = textwrap.dedent(cls.router).strip().replace("{metrics_port}",
                                                             str(cls.metrics_port))
        router = textwrap.indent(router, " " * 6)
        hba = textwrap.indent(textwrap.dedent(cls.hba).strip(), " " * 4)
        parameters = textwrap.indent(
            textwrap.dedent(cls.parameters).strip().replace("{dir}", cls.dir), " " * 6)
        return (textwrap.dedent(f"""\
            instances:
              - name: main
                port: {cls.pg_port}
                profile: tiny
                memory: 256MiB
                max_connections: 100
                databases:
                  - name: app
                router:
                  port: {cls.port}
                  readonly_port: {cls.ro_port}
                  mode: {cls.mode}
            """) + (router + "\n" if router.strip() else "")
                + ("    hba:\n" + hba + "\n" if hba.strip() else "")
                + ("    parameters:\n" + parameters + "\n" if parameters.strip() else ""))

    @classmethod
    def tearDownClass(cls):
        for fn in reversed(cls.cleanups):
            try:
                fn()
            except Exception:  # keep cleaning up
                pass
        cls.tusk("down")
        # A router left running by a broken agent must not keep our ports.
        for pidfile in glob.glob(cls.state(".agent", "*.pid")) + glob.glob(cls.state(".run", "*.pid")):
            try:
                with open(pidfile) as f:
                    pid = int(f.read().strip())
                os.kill(pid, signal.SIGTERM)
                wait_until(lambda: not os.path.exists(f"/proc/{pid}"), timeout=30)
            except (OSError, ValueError):
                pass
        shutil.rmtree(cls.dir, ignore_errors=True)

    # -- tusk and files ------------------------------------------------------

    @classmethod
    def tusk(cls, *args, timeout=300):
        cmd = [TUSK, args[0], "-c", cls.cfg, *args[1:]]
        return subprocess.run(cmd, cwd=cls.dir, env=cls.env, capture_output=True, text=True,
                              timeout=timeout)

    @classmethod
    def state(cls, *parts):
        return os.path.join(cls.dir, "tusk-data", *parts)

    @classmethod
    def read_secrets(cls):
        with open(cls.state(".secrets", "main.json")) as f:
            return json.load(f)["roles"]

    @classmethod
    def router_file(cls, where, suffix):
        """The router's file of `suffix` under state_dir/`where` (named
        "<instance>.router<suffix>" or "router-<instance><suffix>")."""
        for name in (f"main.router{suffix}", f"router-main{suffix}"):
            path = cls.state(where, name)
            if os.path.exists(path):
                return path
        found = glob.glob(cls.state(where, f"*router*{suffix}"))
        return found[0] if found else None

    @classmethod
    def spec_path(cls):
        path = cls.router_file(".agent", ".spec.json")
        if path is None:
            raise AssertionError("no router spec under " + cls.state(".agent"))
        return path

    @classmethod
    def router_log(cls, lines=40):
        """The last lines of the router's log, for failure messages."""
        path = cls.router_file(".agent", ".log")
        if path is None:
            return "(no router log under tusk-data/.agent)"
        with open(path, errors="replace") as f:
            tail = f.read().splitlines()[-lines:]
        return f"--- {path} (last {lines} lines) ---\n" + "\n".join(tail)

    # -- connections -----------------------------------------------------------

    def dsn(self, user=None, db=None, port=None, password=None, **extra):
        user = user or self.db
        params = {"host": "127.0.0.1", "port": port or self.port, "dbname": db or self.db,
                  "user": user,
                  "password": password if password is not None else self.secrets.get(user, ""),
                  "connect_timeout": 10}
        params.update(extra)
        return " ".join(f"{k}='{v}'" for k, v in params.items())

    def direct_dsn(self, user="postgres", db=None):
        """Straight to PostgreSQL, not through the router."""
        return self.dsn(user=user, db=db or self.db, port=self.pg_port)

    def connect(self, **kw):
        conn = psycopg2.connect(self.dsn(**kw))
        self.addCleanup(conn.close)
        return conn

    def scalar(self, conn, sql, args=None):
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchone()[0]

    def run_psql(self, dsn, *args, check=True, timeout=60):
        p = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-d", dsn, *args],
                           capture_output=True, text=True, timeout=timeout,
                           env={"PATH": os.environ["PATH"]})
        if check and p.returncode != 0:
            self.fail(f"psql {args} exited {p.returncode}: {p.stderr}\n{self.router_log()}")
        return p

    def admin_command(self, sql, check=True, timeout=60):
        """Runs one admin-console command as the superuser; returns the psql result."""
        return self.run_psql(self.dsn(user="postgres", db="tusk"), "-c", sql, check=check,
                             timeout=timeout)

    def admin(self, sql, check=True, timeout=60):
        """Runs one admin-console command as the superuser; returns (columns, rows)."""
        p = self.run_psql(self.dsn(user="postgres", db="tusk"), "-A", "-F", "|", "-P",
                          "footer=off", "-c", sql, check=check, timeout=timeout)
        lines = p.stdout.splitlines()
        if not lines:
            return [], []
        return lines[0].split("|"), [l.split("|") for l in lines[1:]]

    def wire(self, port=None):
        w = Wire(port or self.port)
        self.addCleanup(w.close)
        return w

    def login(self, user=None, db=None, port=None, password=None):
        w = self.wire(port)
        user = user or self.db
        scram_login(w, user, password if password is not None else self.secrets[user],
                    db or self.db)
        return w


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
