"""Helpers shared by the benchmark scripts: free ports, a clean environment,
timed commands, scratch directories, and a cleanup registry that the scripts
run in reverse order at exit (also on failure)."""
import math
import os
import shutil
import socket
import subprocess
import tempfile
import time

CLEANUPS = []  # callables run in reverse order at exit


def free_port():
    """A TCP port nothing listens on right now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env():
    """os.environ without PG* and POSTGRES_* variables (they would steer libpq/tusk)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("PG") and not k.startswith("POSTGRES_")}


def run(cmd, cwd=None, timeout=300):
    """Runs cmd; raises with its output on failure; returns (seconds, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True,
                       timeout=timeout)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}\n{p.stdout}{p.stderr}")
    return dt, p.stdout


def scratch_dir(prefix):
    """A temp dir (0755: the unprivileged server account must traverse it), removed at exit."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    CLEANUPS.append(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def quiet(cmd, timeout=120):
    """Best-effort command (teardown): output and failures are ignored."""
    try:
        subprocess.run(cmd, env=clean_env(), capture_output=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        pass


def as_postgres(cmd):
    """cmd run as the `postgres` account when we are root (PostgreSQL refuses root)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def stop_process(proc, timeout=10):
    """SIGTERM, then SIGKILL after `timeout` seconds; no-op when it already exited."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_port(port, proc=None, timeout=30.0, host="127.0.0.1"):
    """Waits until host:port accepts TCP connections. False when `proc` exited first
    or the time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def rss_bytes(pid):
    """Resident set size of a process (VmRSS in /proc/PID/status), in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid):
    """CPU time a process has used so far, user + system, all its threads (also the
    ones that exited): /proc/PID/stat fields 14 (utime) and 15 (stime), in seconds.
    Raises OSError when the process is gone."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # field 2 (comm) is in parentheses and may hold spaces: count from the last ')'
    fields = stat[stat.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_xs, q):
    """Nearest-rank percentile (q in 0..100) of a sorted list; None when empty."""
    if not sorted_xs:
        return None
    k = math.ceil(q / 100.0 * len(sorted_xs)) - 1
    return sorted_xs[max(0, min(len(sorted_xs) - 1, k))]
