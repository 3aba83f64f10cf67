"""
The emulator as a process of its own: the command line built once, started, waited for, stopped.

Used by the demo, the deployment tests, the benchmarks and the command's own test, so that the
emulator does not share their interpreter (or can be killed and restarted like a real server).

.. code-block:: python

    with EmulatorProcess(api_key="afk_local", settings={"job_seconds": 1}) as emulator:
        requests.get(f"{emulator.url}/v2/me", headers={"X-API-Key": emulator.api_key})
        emulator.stop()
        emulator.start(job_seconds=4, state_file="state.json")  # same port, other settings
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import IO, Any

#: The command that runs the emulator with this interpreter (what ``apiframe-emulator`` runs).
COMMAND = (sys.executable, "-m", "airflow_provider_apiframe.emulator")


class EmulatorDidNotStop(RuntimeError):
    """The emulator outlived the signal meant to stop it (it was then killed)."""


class EmulatorProcess:
    """
    ``apiframe-emulator`` on a loopback port, as a child process; restartable on the same port.

    :param options: Command-line options for every start, e.g. ``"--job-seconds", "1"``.
    :param api_key: The key it accepts (``None``: the emulator's default key).
    :param settings: Options for every start by name, e.g. ``{"job_seconds": 8, "jitter": 0.1}``
        for ``--job-seconds 8 --jitter 0.1`` (a start's own settings win; ``None`` leaves one out).
    :param port: Its port (default: one free now, kept across restarts).
    :param host: The interface it listens on.
    :param log_level: Its ``--log-level`` (``None``: its default).
    :param log: A file for its output (stdout and stderr), written anew at each start; ``{start}``
        in it is replaced by the start's number. ``None``: this process's own output.
    :param command: The command before the options (default :data:`COMMAND`).
    :param cwd: The folder it runs in (default: this process's).
    :param own_session: Start it in a process group of its own; signals then go to the whole group.
    """

    def __init__(
        self,
        *options: str,
        api_key: str | None = None,
        settings: Mapping[str, object] | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        log_level: str | None = "warning",
        log: str | os.PathLike[str] | None = None,
        command: Sequence[str] = COMMAND,
        cwd: str | os.PathLike[str] | None = None,
        own_session: bool = False,
    ):
        self.options = options
        self.api_key = api_key
        self.settings = dict(settings or {})
        self.log = log
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.log_level = log_level
        self.command = tuple(command)
        self.cwd = cwd
        self.own_session = own_session
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log: IO[bytes] | None = None

    def command_line(self, *options: str, **settings: object) -> list[str]:
        """
        The command that starts it.

        :param options: Options for this start, after those given at construction.
        :param settings: Settings for this start, over those given at construction.
        """
        line = [*self.command, "--host", self.host, "--port", str(self.port)]
        if self.api_key is not None:
            line += ["--api-key", self.api_key]
        if self.log_level is not None:
            line += ["--log-level", self.log_level]
        for name, value in {**self.settings, **settings}.items():
            if value is not None:
                line += [f"--{name.replace('_', '-')}", str(value)]
        return [*line, *self.options, *options]

    def start(self, *options: str, wait: bool = True, timeout: float = 30.0, **settings: object) -> None:
        """
        Start it (and wait until it answers).

        :param options: Options for this start only.
        :param wait: Wait until it answers (else call :meth:`wait_until_up`); stop it if it does not.
        :param timeout: Seconds to wait.
        :param settings: Settings for this start only, e.g. ``job_seconds=4, state_file="state.json"``.
        """
        self.starts += 1
        log = None if self.log is None else str(self.log).replace("{start}", str(self.starts))
        self._log = None if log is None else open(log, "wb")  # noqa: SIM115 (closed by stop)
        self.process = subprocess.Popen(
            self.command_line(*options, **settings),
            stdout=self._log,
            stderr=None if self._log is None else subprocess.STDOUT,
            cwd=self.cwd,
            start_new_session=self.own_session,
        )
        if wait:
            try:
                self.wait_until_up(timeout)
            except BaseException:
                self.stop()
                raise

    def wait_until_up(self, timeout: float = 30.0) -> None:
        """
        Wait until it answers.

        :param timeout: Seconds to wait.
        """
        wait_until_up(self.url, timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        """
        Stop it with ``sig`` (``SIGTERM``: gracefully, saving its state file) and wait.

        :param sig: The signal.
        :param timeout: Seconds it has to stop; then it is killed and :class:`EmulatorDidNotStop` raised.
        """
        process, self.process = self.process, None
        try:
            if process is not None and process.poll() is None:
                self._signal(process, sig)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._signal(process, signal.SIGKILL)
                    process.wait(10)
                    raise EmulatorDidNotStop(f"the emulator ignored signal {sig} for {timeout:g} s") from None
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def admin(self, path: str, body: Any = None, method: str | None = None) -> Any:
        """
        Call an ``/_emulator/...`` route (state, jobs, requests, faults, outcomes, rules ...).

        :param path: The route after ``/_emulator/``.
        :param body: A JSON body (the method is then POST unless given).
        :param method: The HTTP method.
        """
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/_emulator/{path}",
            data=data,
            method=method or ("POST" if data else "GET"),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def __enter__(self) -> EmulatorProcess:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _signal(self, process: subprocess.Popen[bytes], sig: int) -> None:
        if self.own_session:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)


def free_port(host: str = "127.0.0.1") -> int:
    """
    A TCP port nothing listens on right now.

    :param host: The interface.
    """
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    """
    Wait for an emulator started elsewhere (e.g. as a process) to answer.

    :param url: Its base URL.
    :param timeout: Seconds to wait.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_emulator/state", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
