#!/usr/bin/python3
"""Benchmark: `tusk up` from an empty directory vs bare `initdb && pg_ctl start -w`.

What is measured, per round (wall clock, from process start to exit):
  * tusk up      - `tusk up -c tusk.yaml` in an empty directory until it reports the
                   instance ready: initdb, tuning, agent start, server start, and the
                   reconcile of one database (CREATE ROLE + CREATE DATABASE).
                   Config: one instance, one database, memory 512MiB, a free port.
  * bare         - `initdb` with the flags tusk uses (-E UTF8 --locale=C.UTF-8
                   --data-checksums --auth=scram-sha-256 --pwfile) followed by
                   `pg_ctl start -w` on a free port with a socket dir in the temp dir.
                   As root both run as the `postgres` account via `runuser -u postgres --`.
  * tusk up (2nd) - `tusk up` again on the already-running service: the
                   reconcile-only cost (config load, readiness check, no-op apply).

Rounds alternate which path runs first. Reports median/min/max seconds and the ratio
tusk/bare of the medians (goal <= 1.5x). Exit status is non-zero only when a command
failed, never because the goal was missed. Everything is torn down even on failure.

  sudo /usr/bin/python3 bench/up_bench.py --tusk build/tusk [--rounds 5]
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

from benchlib import CLEANUPS, as_postgres, clean_env, free_port, quiet, run, scratch_dir

GOAL_RATIO = 1.5





def tusk_round(tusk):
    d = scratch_dir("tusk-bench-up-")
    cfg = os.path.join(d, "tusk.yaml")
    with open(cfg, "w") as f:
        f.write("instances:\n"
                "  - name: main\n"
                f"    port: {free_port()}\n"
                "    memory: 512MiB\n"
                "    databases:\n"
                "      - name: app\n")
    down = lambda: quiet([tusk, "down", "-c", cfg])
    CLEANUPS.append(down)
    try:
        first, _ = run([tusk, "up", "-c", cfg], cwd=d)
        second, _ = run([tusk, "up", "-c", cfg], cwd=d)
    finally:
        down()
        CLEANUPS.remove(down)
    return first, second


def bare_round(pg_bin):
    d = scratch_dir("tusk-bench-bare-")
    home = os.path.join(d, "pg")  # everything the server account writes lives here
    data, sock, log, pw = (os.path.join(home, n) for n in ("data", "run", "server.log", "pw"))
    os.makedirs(sock)
    with open(pw, "w") as f:
        f.write("bench-password\n")
    os.chmod(pw, 0o600)
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
        for p in (sock, pw):
            shutil.chown(p, "postgres", "postgres")
    port = free_port()
    stop = lambda: quiet(as_postgres([f"{pg_bin}/pg_ctl", "-D", data, "stop", "-m", "fast"]))
    CLEANUPS.append(stop)
    try:
        t0 = time.perf_counter()
        run(as_postgres([f"{pg_bin}/initdb", "-D", data, "-U", "postgres", f"--pwfile={pw}",
                         "--encoding=UTF8", "--locale=C.UTF-8", "--data-checksums",
                         "--auth=scram-sha-256"]), cwd="/")
        run(as_postgres([f"{pg_bin}/pg_ctl", "-D", data, "-l", log, "-w", "-t", "90",
                         "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1",
                         "start"]), cwd="/")
        return time.perf_counter() - t0
    finally:
        stop()
        CLEANUPS.remove(stop)


def row(name, xs, unit="s"):
    if not xs:
        return f"{name:<34}{'-':>9}{'-':>9}{'-':>9}"
    return (f"{name:<34}{statistics.median(xs):>8.3f}{unit}{min(xs):>8.3f}{unit}"
            f"{max(xs):>8.3f}{unit}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tusk", default=os.path.join(os.path.dirname(__file__), "../build/tusk"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pg-bin", default="/usr/lib/postgresql/15/bin")
    args = ap.parse_args()
    tusk = os.path.abspath(args.tusk)
    if not os.access(tusk, os.X_OK):
        sys.exit(f"up_bench: {tusk} is not an executable tusk binary (build it, or pass --tusk)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run finally/cleanups

    load0 = os.getloadavg()[0]
    ups, reconciles, bares = [], [], []
    status = 0
    try:
        for i in range(args.rounds):
            order = ("tusk", "bare") if i % 2 == 0 else ("bare", "tusk")
            for which in order:
                if which == "tusk":
                    a, b = tusk_round(tusk)
                    ups.append(a)
                    reconciles.append(b)
                else:
                    bares.append(bare_round(args.pg_bin))
            print(f"round {i + 1}/{args.rounds}: tusk up {ups[-1]:.3f}s, "
                  f"bare {bares[-1]:.3f}s, tusk up (2nd) {reconciles[-1]:.3f}s", flush=True)
    except Exception as e:  # report, clean up, exit non-zero
        print(f"up_bench: FAILED: {e}", file=sys.stderr)
        status = 1
    finally:
        for c in reversed(CLEANUPS):
            c()
        CLEANUPS.clear()

    load1 = os.getloadavg()[0]
    print()
    print(f"up_bench: {len(ups)} round(s), interleaved; nproc {os.cpu_count()}; "
          f"load avg (1 min) {load0:.2f} at start, {load1:.2f} at end")
    print(f"{'path':<34}{'median':>9}{'min':>9}{'max':>9}")
    print(row("tusk up (empty dir -> ready)", ups))
    print(row("initdb + pg_ctl start -w (bare)", bares))
    print(row("tusk up again (reconcile only)", reconciles))
    if ups and bares:
        med = statistics.median(ups) / statistics.median(bares)
        mn = min(ups) / min(bares)
        verdict = "goal met" if med <= GOAL_RATIO else "goal missed"
        print(f"{'ratio tusk/bare':<34}{med:>8.2f}x{mn:>8.2f}x"
              f"   (median; goal <= {GOAL_RATIO}x: {verdict})")
    return status


if __name__ == "__main__":
    sys.exit(main())
