"""The provisioning side of the router's auth query (router.auth_query):
`tusk up` creates the login role tusk_router_auth, schema tusk_router and the
SECURITY DEFINER function tusk_router.lookup(text) in `postgres`; the function
returns SCRAM verifiers of ordinary login roles only; only tusk_router_auth
may call it; a second apply changes nothing and a tampered function or grant
is repaired. Whether the router uses it is the router's tests' business."""
import json
import os
import re

import psycopg2

from harness import TuskTestCase, free_ports

AUTH_ROLE = "tusk_router_auth"
HAND_PASSWORD = "hand-Secret-41"
PLAIN_PASSWORD = "plain-Secret-42"


def executed(output):
    m = re.findall(r"(\d+) statements? executed", output)
    assert m, output
    return sum(int(x) for x in m)


class RouterAuthSetupTest(TuskTestCase):
    def setUp(self):
        super().setUp()
        self.port, self.router_port = free_ports(2)
        self.state = os.path.join(self.dir, "tusk-data")

    def make_config(self, auth_query=None):
        extra = "" if auth_query is None else f", auth_query: {auth_query}"
        return self.config(f"""
            instances:
              - name: main
                port: {self.port}
                memory: 256MiB
                databases:
                  - name: app
                router: {{port: {self.router_port}{extra}}}
            """)

    def sql(self, text, db="postgres"):
        """Runs `text` as the superuser; returns stdout stripped (rows as a|b)."""
        return self.admin_psql(self.port, text, db=db).stdout.strip()

    def secrets(self):
        """The instance's passwords."""
        with open(os.path.join(self.state, ".secrets", "main.json")) as f:
            return json.load(f)["roles"]

    def router_secrets(self):
        """The router's copy of them."""
        with open(os.path.join(self.state, ".router", "main", "secrets.json")) as f:
            return json.load(f)["roles"]

    def connect(self, user, password):
        return psycopg2.connect(host="127.0.0.1", port=self.port, dbname="postgres", user=user,
                                password=password, connect_timeout=10)

    def assert_denied(self, conn, query):
        with conn.cursor() as cur:
            with self.assertRaises(psycopg2.Error) as ctx:
                cur.execute(query)
        self.assertEqual(ctx.exception.pgcode, "42501", str(ctx.exception))
        conn.rollback()

    def lookup(self, role):
        return self.sql(f"SELECT rolname, rolpassword FROM tusk_router.lookup('{role}')")

    def test_lookup_privileges_idempotence_and_repair(self):
        cfg = self.make_config()
        up = self.tusk("up", config=cfg)
        auth_password = self.secrets()[AUTH_ROLE]
        self.assertNotIn(auth_password, up.stdout + up.stderr)
        self.assertIn("tusk_router.lookup", up.stdout)

        # The role: login, nothing else; its password reaches the router.
        self.assertEqual(
            self.sql("SELECT rolcanlogin, rolsuper, rolinherit, rolcreaterole, rolcreatedb, "
                     "rolreplication FROM pg_roles WHERE rolname = 'tusk_router_auth'"),
            "t|f|f|f|f|f")
        self.assertEqual(self.router_secrets()[AUTH_ROLE], auth_password)
        with open(os.path.join(self.state, ".agent", "main.router.spec.json")) as f:
            spec = json.load(f)
        self.assertEqual((spec["auth_user"], spec["auth_database"], spec["auth_query"]),
                         (AUTH_ROLE, "postgres",
                          "SELECT rolname, rolpassword FROM tusk_router.lookup($1)"))

        self.sql(f"""
            CREATE ROLE handmade LOGIN PASSWORD '{HAND_PASSWORD}';
            CREATE ROLE plain_hand LOGIN PASSWORD '{PLAIN_PASSWORD}';
            CREATE ROLE su_hand LOGIN SUPERUSER PASSWORD 'su-Secret-1';
            CREATE ROLE nologin_hand NOLOGIN PASSWORD 'nl-Secret-1';
            CREATE ROLE repl_hand LOGIN REPLICATION PASSWORD 'repl-Secret-1';
            CREATE ROLE expired_hand LOGIN PASSWORD 'exp-Secret-1' VALID UNTIL '2001-01-01';
            CREATE ROLE later_hand LOGIN PASSWORD 'later-Secret-1' VALID UNTIL 'infinity';
            """)
        verifier = self.sql("SELECT rolpassword FROM pg_authid WHERE rolname = 'handmade'")
        self.assertTrue(verifier.startswith("SCRAM-SHA-256$4096:"), verifier)
        self.assertEqual(self.lookup("handmade"), f"handmade|{verifier}")
        self.assertTrue(self.lookup("later_hand").startswith("later_hand|SCRAM-SHA-256$"))
        for role in ("su_hand", "nologin_hand", "repl_hand", "expired_hand", "postgres",
                     "nobody_at_all"):
            self.assertEqual(self.lookup(role), "", role)

        # tusk_router_auth may call it, but not read pg_authid itself.
        conn = self.connect(AUTH_ROLE, auth_password)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT rolname, rolpassword FROM tusk_router.lookup(%s)",
                            ("handmade",))
                self.assertEqual(cur.fetchall(), [("handmade", verifier)])
                cur.execute("SELECT rolname, rolpassword FROM tusk_router.lookup(%s)",
                            ("su_hand",))
                self.assertEqual(cur.fetchall(), [])
            conn.commit()
            self.assert_denied(conn, "SELECT rolpassword FROM pg_authid")
        finally:
            conn.close()

        # Anybody else (PUBLIC) may not.
        conn = self.connect("plain_hand", PLAIN_PASSWORD)
        try:
            self.assert_denied(conn, "SELECT * FROM tusk_router.lookup('handmade')")
            self.assert_denied(conn, "SELECT tusk_router.lookup('handmade')")
        finally:
            conn.close()

        second = self.tusk("apply", config=cfg)
        self.assertEqual(executed(second.stdout), 0, second.stdout)

        # Tampering by hand is repaired by the next apply, which then is idempotent again.
        self.sql("""
            CREATE OR REPLACE FUNCTION tusk_router.lookup(role_name text, OUT rolname name,
                OUT rolpassword text) RETURNS SETOF record LANGUAGE sql STABLE SECURITY DEFINER
                AS $$ SELECT rolname, rolpassword FROM pg_authid WHERE rolname = role_name $$;
            GRANT USAGE ON SCHEMA tusk_router TO PUBLIC;
            GRANT EXECUTE ON FUNCTION tusk_router.lookup(text) TO PUBLIC;
            GRANT CREATE ON SCHEMA tusk_router TO tusk_router_auth;
            ALTER ROLE tusk_router_auth INHERIT CREATEDB;
            GRANT pg_read_all_data TO tusk_router_auth;
            """)
        self.assertNotEqual(self.lookup("su_hand"), "")
        repair = self.tusk("apply", config=cfg)
        self.assertGreater(executed(repair.stdout), 0, repair.stdout)
        self.assertEqual(self.lookup("su_hand"), "")
        self.assertEqual(self.lookup("handmade"), f"handmade|{verifier}")
        self.assertEqual(
            self.sql("SELECT rolinherit, rolcreatedb, "
                     "(SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid) "
                     "FROM pg_roles r WHERE rolname = 'tusk_router_auth'"),
            "f|f|0")
        self.assertEqual(
            self.sql("SELECT has_schema_privilege('tusk_router_auth', 'tusk_router', 'CREATE')"),
            "f")
        conn = self.connect("plain_hand", PLAIN_PASSWORD)
        try:
            self.assert_denied(conn, "SELECT * FROM tusk_router.lookup('handmade')")
        finally:
            conn.close()
        third = self.tusk("apply", config=cfg)
        self.assertEqual(executed(third.stdout), 0, third.stdout)

        # A dropped function comes back too.
        self.sql("DROP FUNCTION tusk_router.lookup(text)")
        self.tusk("apply", config=cfg)
        self.assertEqual(self.lookup("handmade"), f"handmade|{verifier}")
        self.assertEqual(executed(self.tusk("apply", config=cfg).stdout), 0)

    def test_auth_query_off_creates_nothing(self):
        cfg = self.make_config(auth_query="false")
        self.tusk("up", config=cfg)
        self.assertEqual(self.sql("SELECT to_regnamespace('tusk_router') IS NULL, "
                                  "(SELECT count(*) FROM pg_roles "
                                  "WHERE rolname = 'tusk_router_auth')"),
                         "t|0")
        self.assertNotIn(AUTH_ROLE, self.secrets())
        self.assertNotIn(AUTH_ROLE, self.router_secrets())
        with open(os.path.join(self.state, ".agent", "main.router.spec.json")) as f:
            spec = json.load(f)
        self.assertEqual((spec["auth_user"], spec["auth_database"], spec["auth_query"]),
                         ("", "", ""))
