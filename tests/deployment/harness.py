"""
A real Airflow 3 deployment on loopback, for the reliability tests.

PostgreSQL (the Debian server, started here as its own user), then Airflow's api-server, scheduler,
dag-processor and triggerer(s) with the LocalExecutor, each its own process group so that a test
can kill one with SIGKILL as a crash would, and the Apiframe emulator as a process of its own.
Or a Celery fleet: the CeleryExecutor on a Redis broker (Debian's ``redis-server``, started here),
with ``airflow celery worker`` s beside the same components.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psutil
import psycopg2
from cryptography.fernet import Fernet

from airflow_provider_apiframe.emulator import EmulatorProcess, free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def _descendants(pid: int) -> list[int]:
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _postgres_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))[::-1]), None
    )
    if found is None:
        raise RuntimeError("PostgreSQL's server is not installed (Debian: apt-get install postgresql)")
    return found


class Postgres:
    """A throwaway PostgreSQL server (run as the ``postgres`` user when the tests run as root)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="apiframe-pg-"))
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/airflow"

    def start(self) -> None:
        data = self.dir / "data"
        run = [
            *self.as_user,
            _postgres_bin("initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ]
        subprocess.run(run, check=True, capture_output=True)
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        subprocess.run(
            [
                *self.as_user,
                _postgres_bin("pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(self.dir / "log"),
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        admin = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        admin.autocommit = True  # CREATE DATABASE cannot run in a transaction
        try:
            admin.cursor().execute("CREATE DATABASE airflow")
        finally:
            admin.close()

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Run a query against Airflow's metadata database."""
        db = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="airflow")
        try:
            cursor = db.cursor()
            cursor.execute(sql, args)
            return cursor.fetchall() if cursor.description else []
        finally:
            db.close()

    def dump(self) -> str:
        """All of Airflow's metadata database, as SQL text."""
        return subprocess.run(
            [
                _postgres_bin("pg_dump"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "--data-only",
                "airflow",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, _postgres_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    """
    A throwaway Redis server (Debian's ``redis-server``), the Celery broker of the fleet tests.

    It runs in ``workdir`` on a free loopback port, saves nothing to disk, and logs to
    ``redis.log`` there (so :meth:`Deployment.logs` reads it too).
    """

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
        )
        if binary is None:
            raise RuntimeError("Redis's server is not installed (Debian: apt-get install redis-server)")
        with (self.dir / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    binary, "--save", "", "--appendonly", "no", "--port", str(self.port),
                    "--bind", "127.0.0.1", "--daemonize", "no", "--dir", str(self.dir),
                ],
                cwd=self.dir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        wait_for(f"redis-server on port {self.port}", self._answers, timeout=30, every=0.1)

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2).ping())
        except redis.RedisError:
            return False

    def dump(self) -> str:
        """Every key and value the broker holds, as text (queued and unacknowledged messages too)."""
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)
        parts: list[str] = []
        for key in client.scan_iter(count=1000):
            kind = client.type(key)
            value: Any
            if kind == b"string":
                value = client.get(key)
            elif kind == b"list":
                value = client.lrange(key, 0, -1)
            elif kind == b"hash":
                value = client.hgetall(key)
            elif kind == b"set":
                value = client.smembers(key)
            elif kind == b"zset":
                value = client.zrange(key, 0, -1, withscores=True)
            else:
                value = kind
            parts.append(f"{key!r} {value!r}")
        return "\n".join(parts)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)


def emulator_process(api_key: str, workdir: Path) -> EmulatorProcess:
    """
    The Apiframe emulator as its own process group on a fixed port, restartable like a real server.

    ``start(job_seconds=..., state_file=...)`` restarts it with other settings (8 s jobs by
    default); ``stop(signal.SIGKILL)`` kills it as a crash would. Each start logs to
    ``emulator-<n>.log`` in ``workdir``.
    """
    return EmulatorProcess(
        api_key=api_key,
        settings={"job_seconds": 8.0, "jitter": 0.1},
        log=workdir / "emulator-{start}.log",
        own_session=True,
    )


class Deployment:
    """Airflow's components as processes against one metadata database and one emulator."""

    def __init__(
        self,
        workdir: Path,
        postgres: Postgres,
        emulator: EmulatorProcess,
        dags: list[Path],
        *,
        broker: Redis | None = None,
        celery_workers: int = 2,
        triggerers: int = 1,
    ) -> None:
        """
        :param broker: Run the CeleryExecutor on this broker (``None``: the LocalExecutor), its
            results in the same PostgreSQL, with ``celery_workers`` workers (``worker-1``, ...).
        :param triggerers: How many triggerers :meth:`up` starts (``triggerer``, ``triggerer-2``, ...).
        """
        self.workdir = workdir
        self.broker = broker
        self.celery_workers = celery_workers if broker is not None else 0
        self.triggerers = triggerers
        #: Each triggerer's job id (``job.id``, what ``trigger.triggerer_id`` holds), by name.
        self.triggerer_jobs: dict[str, int] = {}
        self.postgres = postgres
        self.emulator = emulator
        self.home = workdir / "airflow-home"
        self.images = workdir / "images"
        self.dags = workdir / "dags"
        self.dags.mkdir(parents=True)
        for source in dags:
            shutil.copy(source, self.dags / source.name)
        if (ROOT / "example_dags" / "inputs").is_dir():
            shutil.copytree(ROOT / "example_dags" / "inputs", self.dags / "inputs")
        self.api_port = free_port()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.url,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__SECRET_KEY": "deployment-test-secret",
            "AIRFLOW__API_AUTH__JWT_SECRET": "deployment-test-jwt-secret",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "8",
            "AIRFLOW__TRIGGERER__MAX_TRIGGER_TO_SELECT_PER_LOOP": "2",
            # Connections are stored in the database, encrypted, as the UI stores them.
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            # The public REST API without a login (a user's actions: mark failed, clear), as admin.
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "APIFRAME_EXAMPLE_OUTPUT": str(self.images),
            "APIFRAME_REPO": str(ROOT),
        }
        self.env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
        self.env.pop("AIRFLOW_CONN_APIFRAME_DEFAULT", None)
        if broker is not None:
            self.env.update(
                {
                    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                    "AIRFLOW__CELERY__BROKER_URL": broker.url,
                    "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + postgres.url,
                }
            )

    def airflow(self, *args: str, check: bool = True) -> str:
        """Run an ``airflow`` command against this deployment; return its output."""
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"airflow {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc.stdout

    def start(self, component: str, name: str | None = None, *, args: Sequence[str] = ()) -> None:
        """Start ``airflow <component> <args>`` in its own process group, logging to ``<name>.log``."""
        name = name or component
        log = (self.workdir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "airflow", component, *args], env=self.env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def kill(self, name: str, sig: int = signal.SIGKILL) -> list[int]:
        """
        Kill a component and every process it started, as a crash would (SIGKILL by default).

        With SIGKILL, the processes it started in process groups of their own die too (a Celery
        worker's task processes: Airflow's supervisor gives each task its own group), all at
        once: the whole tree is stopped first, then killed. Returns the pids of the tree.
        """
        process = self.processes.pop(name)
        tree = [process.pid]
        if sig == signal.SIGKILL:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGSTOP)  # nothing forks or exits cleanly from here
            tree += _descendants(process.pid)
            for pid in tree[1:]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
            tree += [pid for pid in _descendants(process.pid) if pid not in tree]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        for pid in tree[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        process.wait(30)
        return tree

    def start_worker(self, name: str, concurrency: int = 4) -> None:
        """Start an ``airflow celery worker`` named ``name`` (its Celery node ``<name>@<host>``)."""
        self.start(
            "celery",
            name,
            args=(
                "worker", "--celery-hostname", f"{name}@%h", "--concurrency", str(concurrency),
                "--skip-serve-logs", "--without-mingle", "--without-gossip",
            ),
        )  # fmt: skip

    def start_triggerer(self, name: str, *args: str) -> int:
        """
        Start a triggerer and wait until its job is in the database; return the job's id.

        The id (also kept in :attr:`triggerer_jobs`) is what ``trigger.triggerer_id`` holds, so a
        test can tell which process holds which triggers.
        """
        known = {row[0] for row in self.postgres.query("SELECT id FROM job WHERE job_type = 'TriggererJob'")}
        self.start("triggerer", name, args=args)
        return self._triggerer_job(name, known)

    def _triggerer_job(self, name: str, known: set[int]) -> int:
        def new_job() -> int | None:
            rows = self.postgres.query(
                "SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running'"
            )
            fresh = sorted(job_id for (job_id,) in rows if job_id not in known)
            return fresh[0] if fresh else None

        job_id = int(wait_for(f"the triggerer {name} to start its job", new_job, timeout=120))
        self.triggerer_jobs[name] = job_id
        return job_id

    def up(self) -> None:
        """Migrate the database and start the api-server, scheduler, dag-processor and a triggerer."""
        self.airflow("db", "migrate")
        self.airflow(
            "connections", "add", "apiframe_default", "--conn-type", "apiframe",
            "--conn-password", self.emulator.api_key, "--conn-host", self.emulator.url,
            "--conn-extra", json.dumps({"timeout": 3, "max_retries": 3}),
        )  # fmt: skip
        if self.broker is None and self.triggerers == 1:
            for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
                self.start(component)
        else:
            # Every triggerer is started once the one before it has its job, so that each job id
            # is known to belong to its process (start order alone does not say which is which).
            serve_logs = ("--skip-serve-logs",) if self.broker is not None else ()
            for component in ("api-server", "scheduler", "dag-processor"):
                self.start(component)
            for n in range(1, self.celery_workers + 1):
                self.start_worker(f"worker-{n}")
            for n in range(1, self.triggerers + 1):
                self.start_triggerer("triggerer" if n == 1 else f"triggerer-{n}", *serve_logs)
        wait_for("the api-server", self._api_is_up, timeout=120)
        dag_ids = [path.stem for path in self.dags.glob("*.py")]
        wait_for(f"the DAGs {dag_ids} to be parsed", lambda: self.parsed(dag_ids), timeout=180)

    def _api_is_up(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health", timeout=2):
                return True
        except OSError:
            return False

    def live_triggerers(self) -> list[int]:
        """Job ids of the triggerers whose heartbeat is fresh."""
        rows = self.postgres.query(
            "SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running' "
            "AND latest_heartbeat > now() - interval '5 seconds'"
        )
        return sorted(job_id for (job_id,) in rows)

    def parsed(self, files: list[str]) -> bool:
        """Whether every DAG file has been parsed into the database."""
        rows = self.postgres.query("SELECT fileloc FROM dag WHERE is_stale IS NOT TRUE")
        seen = {Path(fileloc).stem for (fileloc,) in rows}
        return set(files) <= seen

    def trigger(self, dag_id: str, run_id: str) -> str:
        """
        Trigger a manual DAG run now, as the UI's *Trigger* button does (no logical date).

        Waits, for up to a minute, for the DAG to be in the database.
        """
        deadline = time.monotonic() + 60
        while True:
            try:
                self.airflow("dags", "trigger", dag_id, "--run-id", run_id)
                return run_id
            except AssertionError as exc:
                if "DagNotFound" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(2)

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.postgres.query(
            "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", dag_id, run_id
        )
        return rows[0][0] if rows else None

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        """Wait until the run ends; return its state."""
        return str(
            wait_for(
                f"{dag_id} {run_id} to end",
                lambda: state if (state := self.run_state(dag_id, run_id)) in ("success", "failed") else None,
                timeout,
            )
        )

    def task_instances(self, dag_id: str, run_id: str) -> dict[tuple[str, int], tuple[str, int]]:
        """``(task_id, map_index) -> (state, try_number)`` for every task instance of a run."""
        rows = self.postgres.query(
            "SELECT task_id, map_index, state, try_number FROM task_instance "
            "WHERE dag_id = %s AND run_id = %s",
            dag_id,
            run_id,
        )
        return {(task, index): (state, tries) for task, index, state, tries in rows}

    def results(self, dag_id: str, run_id: str) -> dict[tuple[str, int], Any]:
        """The XCom return values of a run."""
        rows = self.postgres.query(
            "SELECT task_id, map_index, value FROM xcom "
            "WHERE dag_id = %s AND run_id = %s AND key = 'return_value'",
            dag_id,
            run_id,
        )
        return {
            (task, index): value if not isinstance(value, str) else json.loads(value)
            for task, index, value in rows
        }

    def count(self, dag_id: str, run_id: str, state: str) -> int:
        return sum(1 for s, _ in self.task_instances(dag_id, run_id).values() if s == state)

    def logs(self) -> str:
        """Every log this deployment wrote: components' output, task and trigger logs."""
        texts = [p.read_text(errors="replace") for p in self.workdir.glob("*.log")]
        texts += [p.read_text(errors="replace") for p in (self.home / "logs").rglob("*") if p.is_file()]
        return "\n".join(texts)

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        """Every attempt's log of one task, trigger logs included."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return "\n".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*")) if p.is_file())

    def down(self) -> None:
        for name in list(self.processes):
            self.kill(name, signal.SIGTERM)


@contextlib.contextmanager
def deployment(
    dags: list[Path],
    api_key: str,
    *,
    settings: dict[str, str] | None = None,
    celery_workers: int = 0,
    triggerers: int = 1,
) -> Iterator[Deployment]:
    """
    PostgreSQL, the emulator, and Airflow's components, all on loopback, torn down at the end.

    :param dags: DAG files to deploy.
    :param api_key: The key the emulator accepts (and the connection holds).
    :param settings: More environment for every component, e.g. ``AIRFLOW__WORKERS__...``.
    :param celery_workers: With 1 or more, the CeleryExecutor with that many ``airflow celery
        worker`` s and a Redis broker started here (``airflow.broker``); with 0, the LocalExecutor.
    :param triggerers: How many triggerers to start (their job ids in ``airflow.triggerer_jobs``
        when more than one, or on the Celery fleet).
    """
    workdir = Path(tempfile.mkdtemp(prefix="apiframe-deployment-"))
    postgres = Postgres()
    postgres.start()
    emulator = emulator_process(api_key, workdir)
    emulator.start()
    broker = Redis(workdir) if celery_workers else None
    if broker is not None:
        broker.start()
    airflow = Deployment(
        workdir, postgres, emulator, dags, broker=broker, celery_workers=celery_workers, triggerers=triggerers
    )
    airflow.env.update(settings or {})
    try:
        airflow.up()
        yield airflow
    finally:
        airflow.down()
        if broker is not None:
            broker.stop()
        emulator.stop()
        postgres.stop()
        if not os.environ.get("APIFRAME_KEEP_DEPLOYMENT"):
            shutil.rmtree(workdir, ignore_errors=True)
