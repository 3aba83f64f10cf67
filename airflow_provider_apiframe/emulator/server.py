"""Run the emulator: in a background thread (tests, notebooks) or as a process (``apiframe-emulator``)."""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from airflow_provider_apiframe.core import contract
from airflow_provider_apiframe.emulator.app import create_app
from airflow_provider_apiframe.emulator.config import EMULATOR_API_KEY, EmulatorConfig, load_spec
from airflow_provider_apiframe.emulator.process import free_port
from airflow_provider_apiframe.emulator.state import EmulatorState, FaultRule, OutcomeRule


class Emulator:
    """
    A local Apiframe API: give it a config, run it, point a connection at :attr:`url`.

    .. code-block:: python

        with Emulator(EmulatorConfig(job_seconds=0.5)).running() as emulator:
            os.environ["AIRFLOW_CONN_APIFRAME_DEFAULT"] = emulator.connection_json()
            ...
            assert len(emulator.state.charges) == 1

    :param config: Its settings (defaults: realistic timing, one key, 100,000 credits).
    """

    def __init__(self, config: EmulatorConfig | None = None):
        self.config = config or EmulatorConfig()
        self.state = EmulatorState(self.config)
        self.app = create_app(self.state)
        self.url = ""

    @property
    def api_key(self) -> str:
        """The first key the emulator accepts."""
        return self.config.api_keys[0]

    def connection_json(self, conn_type: str = "apiframe") -> str:
        """An ``AIRFLOW_CONN_...`` value pointing at this emulator with its key."""
        return json.dumps({"conn_type": conn_type, "password": self.api_key, "host": self.url})

    def inject(self, **rule: Any) -> None:
        """Add a fault rule (see :class:`~airflow_provider_apiframe.emulator.state.FaultRule`)."""
        self.state.faults.append(FaultRule(**rule))

    def decide(self, **rule: Any) -> None:
        """Add a job outcome rule (see :class:`~airflow_provider_apiframe.emulator.state.OutcomeRule`)."""
        self.state.outcomes.append(OutcomeRule(**rule))

    @contextmanager
    def running(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
    ) -> Iterator[Emulator]:
        """
        Serve in a background thread until the block ends.

        :param host: Interface to listen on.
        :param port: Port; 0 picks a free one.
        :param ssl_certfile: Serve HTTPS with this certificate (PEM).
        :param ssl_keyfile: And this private key (PEM).
        """
        port = port or free_port(host)
        tls = {"ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile} if ssl_certfile else {}
        server = uvicorn.Server(_uvicorn_config(self.app, host, port, "warning", **tls))
        thread = threading.Thread(target=server.run, name="apiframe-emulator", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"The Apiframe emulator did not start on {host}:{port}")
            time.sleep(0.01)
        self.url = f"{'https' if ssl_certfile else 'http'}://{host}:{port}"
        try:
            yield self
        finally:
            server.should_exit = True
            thread.join(10)


def _uvicorn_config(app: Any, host: str, port: int, log_level: str, **tls: Any) -> uvicorn.Config:
    # A graceful stop waits at most 5 s for requests in flight (a slow fault may hold one far longer);
    # idle connections stay open 30 s, as an API behind a load balancer keeps them, not uvicorn's 5 s.
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=False, lifespan="on",
        timeout_graceful_shutdown=5, timeout_keep_alive=30, **tls,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``apiframe-emulator`` command."""
    parser = argparse.ArgumentParser(prog="apiframe-emulator", description="A local Apiframe v2 API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--api-key", action="append", help=f"accepted key (repeatable; default {EMULATOR_API_KEY})"
    )
    parser.add_argument("--inactive-key", action="append", default=[], help="known but inactive key (403)")
    parser.add_argument("--credits", type=int, default=EmulatorConfig.credits)
    parser.add_argument("--job-seconds", type=float, default=EmulatorConfig.job_seconds)
    parser.add_argument("--jitter", type=float, default=EmulatorConfig.jitter)
    parser.add_argument("--retention-seconds", type=float, default=EmulatorConfig.retention_seconds)
    parser.add_argument("--rate-limit", type=float, help="requests per second per key before 429")
    parser.add_argument(
        "--spec",
        help="a (newer) OpenAPI document to validate requests with (default: $APIFRAME_OPENAPI_SPEC, "
        "else the contract snapshot shipped with the package)",
    )
    parser.add_argument("--public-url", help="base URL for result links (default: as requested)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--state-file", help="keep jobs, keys and the ledger across (graceful) restarts")
    parser.add_argument("--ssl-certfile", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--ssl-keyfile", help="and this private key (PEM)")
    parser.add_argument(
        "--large-image-side",
        type=int,
        default=EmulatorConfig.large_image_side,
        help="side in pixels of the large-result outcome's noise PNG",
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    named = contract.document_path(args.spec, default=None)
    config = EmulatorConfig(
        api_keys=tuple(args.api_key or (EMULATOR_API_KEY,)),
        inactive_keys=tuple(args.inactive_key),
        credits=args.credits,
        job_seconds=args.job_seconds,
        jitter=args.jitter,
        retention_seconds=args.retention_seconds,
        rate_limit=args.rate_limit,
        spec=load_spec(named) if named else None,
        public_url=args.public_url,
        seed=args.seed,
        large_image_side=args.large_image_side,
        state_file=args.state_file,
    )
    emulator = Emulator(config)
    source = str(named) if named else "the snapshot shipped with the package"
    validation = f"the contract (API {contract.version(config.spec or contract.snapshot())}, {source})"
    print(
        f"Apiframe emulator on http://{args.host}:{args.port} ({len(config.api_keys)} key(s), "
        f"{config.credits} credits, ~{config.job_seconds:g} s per job, requests checked against "
        f"{validation})",
        flush=True,
    )
    tls = {"ssl_certfile": args.ssl_certfile, "ssl_keyfile": args.ssl_keyfile} if args.ssl_certfile else {}
    uvicorn.Server(_uvicorn_config(emulator.app, args.host, args.port, args.log_level, **tls)).run()


if __name__ == "__main__":
    main()
