#!/usr/bin/python3
"""Benchmark: `tusk apply` on an unchanged tusk.yaml (the no-op reconcile) at scale.

For each size N (default 10, 50, 100) a tusk.yaml is generated with one instance and
N databases, each with 3 contrib extensions (pg_trgm, hstore, citext). Every config is
brought up once with `tusk up` (setup; its time is reported, not part of the goal).
Then, K times (default 5), interleaved across the sizes, `tusk apply -c FILE` runs on
the unchanged file; each run's wall-clock time (process start to exit) is measured and
its summary line "apply main: N statement(s) executed" is parsed.

Goal at the largest size: median < 1 s and 0 statements executed on every run.
Prints an aligned table and "goal met"/"goal missed"; exit status is non-zero only
when a command failed. Every instance is stopped and every directory removed, also
on failure.

  sudo /usr/bin/python3 bench/apply_bench.py --tusk build/tusk [--runs 5] [--sizes 10,50,100]
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time

from benchlib import CLEANUPS, clean_env, free_port, run, scratch_dir

EXTENSIONS = ("pg_trgm", "hstore", "citext")
GOAL_SECONDS = 1.0
SUMMARY = re.compile(r"^apply (\S+): (\d+) statements? executed", re.M)





def write_config(n, memory):
    d = scratch_dir(f"tusk-bench-apply{n}-")
    lines = ["instances:", "  - name: main", f"    port: {free_port()}",
             f"    memory: {memory}", "    databases:"]
    for i in range(1, n + 1):
        lines.append(f"      - name: db{i:03d}")
        lines.append(f"        extensions: [{', '.join(EXTENSIONS)}]")
    cfg = os.path.join(d, "tusk.yaml")
    with open(cfg, "w") as f:
        f.write("\n".join(lines) + "\n")
    return d, cfg


def statements(stdout, cmd):
    m = SUMMARY.findall(stdout)
    if len(m) != 1:
        raise RuntimeError(f"{cmd}: expected one 'apply main: N statements executed' line, "
                           f"got {len(m)}:\n{stdout}")
    return int(m[0][1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tusk", default=os.path.join(os.path.dirname(__file__), "../build/tusk"))
    ap.add_argument("--runs", type=int, default=5, help="timed applies per size")
    ap.add_argument("--sizes", default="10,50,100", help="comma list of database counts")
    ap.add_argument("--memory", default="512MiB", help="memory budget of each instance")
    args = ap.parse_args()
    tusk = os.path.abspath(args.tusk)
    if not os.access(tusk, os.X_OK):
        sys.exit(f"apply_bench: {tusk} is not an executable tusk binary (build it, or pass --tusk)")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run finally/cleanups

    load0 = os.getloadavg()[0]
    setups, times, stmts = {}, {n: [] for n in sizes}, {n: [] for n in sizes}
    configs = {}
    status = 0
    try:
        for n in sizes:
            d, cfg = write_config(n, args.memory)
            CLEANUPS.append(lambda cfg=cfg: subprocess.run(
                [tusk, "down", "-c", cfg], env=clean_env(), capture_output=True, timeout=120))
            configs[n] = (d, cfg)
            setups[n], out = run([tusk, "up", "-c", cfg], d, timeout=1800)
            print(f"setup: tusk up with {n} databases x {len(EXTENSIONS)} extensions: "
                  f"{setups[n]:.2f}s, {statements(out, 'up')} statements", flush=True)
        for k in range(args.runs):
            for n in sizes:
                d, cfg = configs[n]
                dt, out = run([tusk, "apply", "-c", cfg], d, timeout=1800)
                times[n].append(dt)
                stmts[n].append(statements(out, "apply"))
            print(f"run {k + 1}/{args.runs}: " + ", ".join(
                f"{n} dbs {times[n][-1]:.3f}s/{stmts[n][-1]} stmts" for n in sizes), flush=True)
    except Exception as e:  # report, clean up, exit non-zero
        print(f"apply_bench: FAILED: {e}", file=sys.stderr)
        status = 1
    finally:
        for c in reversed(CLEANUPS):
            try:
                c()
            except (OSError, subprocess.SubprocessError):
                pass
        CLEANUPS.clear()

    load1 = os.getloadavg()[0]
    print()
    print(f"apply_bench: unchanged `tusk apply`, {args.runs} run(s) per size, interleaved; "
          f"{len(EXTENSIONS)} extensions per database ({', '.join(EXTENSIONS)}); "
          f"nproc {os.cpu_count()}; load avg (1 min) {load0:.2f} at start, {load1:.2f} at end")
    print(f"{'databases':>9}{'setup up':>11}{'apply median':>14}{'min':>9}{'max':>9}"
          f"{'statements':>12}")
    for n in sizes:
        xs = times[n]
        setup = f"{setups[n]:.2f}s" if n in setups else "-"
        if xs:
            st = sorted(set(stmts[n]))
            st_s = str(st[0]) if len(st) == 1 else f"{st[0]}..{st[-1]}"
            print(f"{n:>9}{setup:>11}{statistics.median(xs):>13.3f}s{min(xs):>8.3f}s"
                  f"{max(xs):>8.3f}s{st_s:>12}")
        else:
            print(f"{n:>9}{setup:>11}{'-':>14}{'-':>9}{'-':>9}{'-':>12}")
    big = max(sizes) if sizes else None
    if big is not None and times.get(big):
        med = statistics.median(times[big])
        ok = med < GOAL_SECONDS and all(s == 0 for s in stmts[big])
        print(f"goal at {big} databases (median < {GOAL_SECONDS:g} s, 0 statements): "
              f"{'goal met' if ok else 'goal missed'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
