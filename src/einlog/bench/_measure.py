"""Run one command and report its wall time and peak RSS as JSON.

Why a wrapper process: ``ru_maxrss`` of ``RUSAGE_CHILDREN`` is the maximum
over *all* children a process ever waited for, so a fresh wrapper per
measurement makes it the peak memory of exactly one run, for einlog and its
peers alike.  Usage: ``python -m einlog.bench._measure TIMEOUT cmd ...``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main() -> None:
    timeout = float(sys.argv[1])
    cmd = sys.argv[2:]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
        timed_out = False
    except subprocess.TimeoutExpired as exc:
        rc, timed_out = -9, True
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = ""
    wall = time.perf_counter() - t0
    rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"rc": rc, "timeout": timed_out, "wall": wall, "rss_mb": rss_kb / 1024,
                      "stdout": out[-4000:], "stderr": err[-4000:]}))


if __name__ == "__main__":
    main()
