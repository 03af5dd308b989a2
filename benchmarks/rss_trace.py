"""Per-process memory of a running command's process tree, sampled from /proc: who holds the peak, and when.

``RssTrace(pid)`` is a thread that every ``interval`` seconds reads each process of the tree under ``pid`` (the
backfill: depth 0 the command itself, depth 1 its crawler process, depth 2 the crawler's extraction workers):
its RSS now and its VmHWM (the kernel's own peak RSS of that process, so nothing between samples is missed).
``peaks()`` gives the peak per process; ``write(path)`` the time series as TSV (seconds, pid, depth, RSS MB),
to see which stage the memory grows in.

Usage (standalone):  .venv/bin/python benchmarks/rss_trace.py OUT.tsv -- COMMAND ...
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (tid / "children").read_text().split()]
    except OSError:
        pass
    return out


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in kB (empty once it is gone)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    except (OSError, ValueError):
        pass
    return out


class RssTrace(threading.Thread):
    def __init__(self, root: int, interval: float = 0.5):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.started = time.monotonic()
        self.samples: list[tuple[float, int, int, float]] = []  # seconds, pid, depth, RSS MB
        self.procs: dict[int, dict[str, Any]] = {}  # pid -> depth, peak MB (VmHWM), first and last seen
        self.tree_peak_mb = 0.0  # the largest sum of RSS over the tree at one sample (shared pages counted twice)
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def sample(self) -> None:
        now = round(time.monotonic() - self.started, 2)
        todo, total = [(self.root, 0)], 0.0
        while todo:
            pid, depth = todo.pop()
            todo += [(c, depth + 1) for c in _children(pid)]
            st = _status(pid)
            if "VmRSS" not in st:
                continue
            rss = st["VmRSS"] / 1024
            total += rss
            self.samples.append((now, pid, depth, round(rss, 1)))
            p = self.procs.setdefault(pid, {"depth": depth, "peak_mb": 0.0, "first_s": now})
            p["peak_mb"] = max(p["peak_mb"], round(st.get("VmHWM", 0) / 1024, 1))
            p["last_s"] = now
        self.tree_peak_mb = max(self.tree_peak_mb, round(total, 1))

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def peaks(self) -> dict[str, Any]:
        """The peak of each role (the largest over the processes of that depth) and the tree's peak sum."""
        roles = {0: "backfill", 1: "crawler", 2: "extraction_worker"}
        out: dict[str, Any] = {}
        for p in self.procs.values():
            role = roles.get(p["depth"], f"depth{p['depth']}")
            out[f"{role}_peak_mb"] = max(out.get(f"{role}_peak_mb", 0.0), p["peak_mb"])
        out["tree_sum_peak_mb"] = self.tree_peak_mb
        out["processes"] = len(self.procs)
        return out

    def write(self, path: str | Path) -> None:
        lines = ["seconds\tpid\tdepth\trss_mb"] + ["\t".join(map(str, s)) for s in self.samples]
        Path(path).write_text("\n".join(lines) + "\n", "utf-8")


def main(argv: list[str]) -> int:
    out, _, command = argv[0], argv[1], argv[2:]
    proc = subprocess.Popen(command)
    trace = RssTrace(proc.pid)
    trace.start()
    code = proc.wait()
    trace.stop()
    trace.write(out)
    print(trace.peaks(), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
