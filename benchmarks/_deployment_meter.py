"""
What a deployment's processes spend: CPU seconds per component, peak RSS per process role, rows written.

CPU: each component's process tree (root and descendants) at an instant, each process's own
``user + system`` plus its ``children_user + children_system`` (the children it has reaped, with
theirs), so short-lived task processes count once reaped by their LocalExecutor worker. The delta
of two snapshots is what the tree spent between them. RSS: sampled every ``every`` seconds.
Rows: ``n_tup_ins + n_tup_upd`` of ``pg_stat_user_tables`` (PostgreSQL flushes a backend's counts
within about 10 s of it going idle; read them after a pause).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from harness import Deployment

#: The roles of the scheduler's tree that run tasks.
WORKERS = ("executor_worker", "task_process")
#: The components measured (the scheduler's tree holds the LocalExecutor workers and task processes).
COMPONENTS = ("scheduler", "triggerer", "api-server", "dag-processor", "postgres")


def roots(airflow: Deployment) -> dict[str, int]:
    """
    The root pid of each component's process tree.

    :param airflow: The running deployment.
    """
    found = {
        ("triggerer" if name.startswith("triggerer") else name): process.pid
        for name, process in airflow.processes.items()
    }
    postmaster = airflow.postgres.dir / "data" / "postmaster.pid"
    found["postgres"] = int(postmaster.read_text().split()[0])
    return {component: found[component] for component in COMPONENTS}


def tree(pid: int) -> Iterator[tuple[psutil.Process, int]]:
    """
    A process and its descendants, each with its depth (the root is 0).

    :param pid: The root.
    """
    stack = [(psutil.Process(pid), 0)]
    while stack:
        process, depth = stack.pop()
        yield process, depth
        with contextlib.suppress(psutil.Error):
            stack.extend((child, depth + 1) for child in process.children())


def role(component: str, process: psutil.Process, depth: int) -> str:
    """
    What a process of a component's tree is: by its title (Airflow sets them) and its depth.

    :param component: The component.
    :param process: The process.
    :param depth: Its depth in the tree.
    """
    if depth == 0:
        return component
    try:
        title = " ".join(process.cmdline())
    except psutil.Error:
        title = ""
    if "serve-logs" in title:
        return f"{component}_serve_logs"
    if component == "scheduler":
        return "executor_worker" if depth == 1 else "task_process"
    if component == "triggerer":
        return "trigger_runner"
    return f"{component}_child"


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """
    CPU seconds each tree has spent so far (dead descendants included once reaped).

    The scheduler's tree is split: ``scheduler`` (its own process and its log server) and
    ``workers`` (the LocalExecutor workers, with the task processes they ran and reaped).

    :param pids: Each component's root pid.
    """
    spent = dict.fromkeys([*COMPONENTS, "workers"], 0.0)
    for component, pid in pids.items():
        for process, depth in tree(pid):
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            bucket = component
            if component == "scheduler" and role(component, process, depth) in WORKERS:
                bucket = "workers"
            spent[bucket] += times.user + times.system + times.children_user + times.children_system
    return spent


def task_processes(pids: dict[str, int]) -> int:
    """
    How many task processes are alive (the scheduler's tree, below its LocalExecutor workers).

    :param pids: Each component's root pid.
    """
    return sum(1 for _, depth in tree(pids["scheduler"]) if depth >= 2)


class RssSampler:
    """
    Peak RSS per process role (and per component tree, summed), sampled in a thread.

    :param pids: Each component's root pid.
    :param every: Seconds between two samples.
    """

    def __init__(self, pids: dict[str, int], every: float = 0.5):
        self.pids = pids
        self.every = every
        self.peaks: dict[str, int] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.every):
                return

    def sample(self) -> None:
        """Read every process's RSS once."""
        for component, pid in self.pids.items():
            total = 0
            with contextlib.suppress(psutil.Error):
                for process, depth in tree(pid):
                    try:
                        rss = process.memory_info().rss
                    except psutil.Error:
                        continue
                    total += rss
                    name = role(component, process, depth)
                    self.peaks[name] = max(self.peaks.get(name, 0), rss)
            key = f"{component}_tree"
            self.peaks[key] = max(self.peaks.get(key, 0), total)
        self.samples += 1

    def peaks_mb(self) -> dict[str, float]:
        """The peaks, in MB (10^6 bytes)."""
        return {name: round(rss / 1e6, 1) for name, rss in sorted(self.peaks.items())}


def rows_written(airflow: Deployment) -> dict[str, int]:
    """
    Rows inserted plus rows updated so far, per table of Airflow's metadata database.

    :param airflow: The running deployment.
    """
    rows = airflow.postgres.query("SELECT relname, n_tup_ins + n_tup_upd FROM pg_stat_user_tables")
    return {str(table): int(count) for table, count in rows}
