"""The Apiframe hook: an Airflow connection in, authenticated sync and async API calls out."""

from __future__ import annotations

import asyncio
import dataclasses
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

from airflow.sdk import BaseHook
from pydantic import BaseModel

from airflow_provider_apiframe import metrics
from airflow_provider_apiframe._compat import AirflowNotFoundException, connection_outside_a_task
from airflow_provider_apiframe.core import calls, models_catalogue, waiting
from airflow_provider_apiframe.core.config import ClientConfig, client_config
from airflow_provider_apiframe.core.errors import ApiframeError, ApiframeJobTimeoutError
from airflow_provider_apiframe.core.models import Job
from airflow_provider_apiframe.core.waiting import JobPoller
from airflow_provider_apiframe.hooks import connection_form
from airflow_provider_apiframe.hooks.resources import ApiframeResourcesMixin
from airflow_provider_apiframe.triggerer import pool

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_apiframe.core.exchange import ApiCall
    from airflow_provider_apiframe.core.models import JobAccepted, JobList, Me, Upload
    from airflow_provider_apiframe.core.models_catalogue import CatalogueEntry, ModelCatalogue
    from airflow_provider_apiframe.transports.asynchronous import AsyncTransport
    from airflow_provider_apiframe.transports.base import DownloadedFile, SinkOpener
    from airflow_provider_apiframe.transports.sync import SyncTransport

T = TypeVar("T", bound=BaseModel)

#: The model catalogue read in this process, by base URL (``list_models(refresh=True)`` reads it again).
_CATALOGUES: dict[str, ModelCatalogue] = {}


class ApiframeHook(ApiframeResourcesMixin, BaseHook):
    """
    Talk to the Apiframe v2 API with the key of an Airflow connection.

    The connection's password is the API key (``afk_...``); its host is optional: empty for
    ``https://api.apiframe.ai``, or any base URL such as ``http://127.0.0.1:8080`` for a local
    emulator. Extras: ``timeout`` (seconds per request, default 30), ``max_retries`` (default 4) and
    ``verify_ssl`` (default true).

    Sync methods serve workers over one pooled ``requests`` session; ``a``-prefixed methods serve
    triggers over one pooled ``httpx.AsyncClient`` shared by every hook of the connection in the
    event loop (see :mod:`airflow_provider_apiframe.triggerer`; leave it with :meth:`aclose`).

    :param apiframe_conn_id: The Apiframe connection to use.
    """

    conn_name_attr = "apiframe_conn_id"
    default_conn_name = "apiframe_default"
    conn_type = "apiframe"
    hook_name = "Apiframe"

    def __init__(self, apiframe_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.apiframe_conn_id = apiframe_conn_id
        self._shared: pool.SharedConnection | None = None
        self._shared_lock = asyncio.Lock()

    # --- connection -> config ------------------------------------------------------------------

    def _config_from(self, conn: Connection) -> ClientConfig:
        config = client_config(
            api_key=conn.password, host=conn.host, port=conn.port, extras=conn.extra_dejson
        )
        config = dataclasses.replace(config, on_retry=metrics.on_retry(self.apiframe_conn_id))
        if not config.verify_ssl:
            self.log.warning(
                "TLS certificate verification is OFF for connection %r (extra verify_ssl=false); "
                "use this only for local test setups.",
                self.apiframe_conn_id,
            )
        return config

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        """
        Get the connection, from a task, a trigger or the command line alike.

        :param conn_id: The connection id.
        """
        try:
            return super().get_connection(conn_id)
        except ImportError:  # Airflow 3.1 outside any task (airflow connections test)
            return cast("Connection", connection_outside_a_task(conn_id))

    @cached_property
    def config(self) -> ClientConfig:
        """The client configuration read from the connection."""
        return self._config_from(self.get_connection(self.apiframe_conn_id))

    # --- sync ----------------------------------------------------------------------------------

    def get_conn(self) -> SyncTransport:
        """Return the pooled sync transport (one per hook)."""
        return self._transport

    @cached_property
    def _transport(self) -> SyncTransport:
        # Imported on first use: a task resuming from its trigger without files to save never
        # loads requests (a seventh of a second of every such worker start).
        from airflow_provider_apiframe.transports.sync import SyncTransport

        return SyncTransport(self.config, log=self.log)

    def submit_job(self, call: ApiCall[JobAccepted], *, deadline: float | None = None) -> JobAccepted:
        """
        Submit a job-creating call built by :mod:`~airflow_provider_apiframe.core.calls`.

        A call with an ``Idempotency-Key`` is retried on transient errors and replays the original
        job instead of paying twice; without one, only ``429`` is retried.

        :param call: e.g. ``calls.create_job("kling-2.6", prompt=..., idempotency_key=...)``.
        :param deadline: No retry starts after this wall-clock time.
        """
        return self._transport.send(call, retry=self.config.retry.capped_at(deadline))

    #: The former name of :meth:`submit_job`.
    submit_image_generation = submit_job

    def get_job(self, job_id: str, *, deadline: float | None = None) -> Job:
        """
        Read a job.

        :param job_id: The job.
        :param deadline: No retry starts after this wall-clock time.
        """
        return self._transport.send(calls.get_job(job_id), retry=self.config.retry.capped_at(deadline))

    def list_jobs(self, **filters: Any) -> JobList:
        """
        Read one page of the caller's jobs, newest first.

        :param filters: ``status``, ``model``, ``limit`` (1..100), ``cursor``, ``scope``, ``search``.
        """
        return self._transport.send(calls.list_jobs(**filters))

    def get_me(self) -> Me:
        """Read the caller, its team and the team's credit balance."""
        return self._transport.send(calls.get_me())

    def list_models(self, modality: str | None = None, *, refresh: bool = False) -> list[CatalogueEntry]:
        """
        The public model catalogue (``GET /v2/models``): each model's modality, cost range and pricing mode.

        Read once per process and base URL, then served from memory; the filter applies to that copy.

        :param modality: Only ``image``, ``video`` or ``music`` models; ``None`` for all.
        :param refresh: Read the catalogue again instead of the copy in memory.
        :raises ApiframeInvalidParamsError: For another modality (nothing is sent).
        """
        models_catalogue.check_modality(modality)
        base_url = self.config.base_url
        catalogue = None if refresh else _CATALOGUES.get(base_url)
        if catalogue is None:
            catalogue = _CATALOGUES[base_url] = self._transport.send(models_catalogue.list_models())
        return catalogue.of(modality)

    def upload_file(self, filename: str, data: bytes, content_type: str) -> Upload:
        """
        Upload an input file (``POST /v2/uploads``): image, video or audio; its URL lives 1-2 hours.

        :param filename: A name for the file (informative only).
        :param data: Its bytes: at most 25 MB (50 MB for a video).
        :param content_type: Its content type.
        """
        return self._transport.send(calls.upload(filename, data, content_type))

    #: The former name of :meth:`upload_file`.
    upload_image = upload_file

    def download_result(self, url: str, open_sink: SinkOpener) -> DownloadedFile:
        """
        Stream a result image into a file, in constant memory; the API key is not sent.

        :param url: A result URL of a job.
        :param open_sink: Opens the destination, given the image's content type.
        """
        return self._transport.download(url, open_sink)

    def wait_for_job(
        self, job_id: str, *, timeout: float, poll_interval: float = 5.0, poll_now: bool = True
    ) -> Job:
        """
        Poll a job until it ends, in this process; for ``deferrable=False`` tasks.

        Polls start every 2 s and slow down to ``poll_interval``. Transient errors are ridden out
        until the deadline; permanent ones raise at once.

        :param job_id: The job.
        :param timeout: Seconds to wait before raising
            :class:`~airflow_provider_apiframe.core.errors.ApiframeJobTimeoutError`.
        :param poll_interval: Longest wait between polls, in seconds.
        :param poll_now: ``False`` when the status was just read: the first poll waits.
        """
        poller = JobPoller(job_id, timeout=timeout, max_interval=poll_interval, log=self.log)

        def read(deadline: float) -> Job:
            return self._transport.send(calls.get_job(job_id), retry=self.config.retry.until(deadline))

        try:
            return waiting.wait_for_job(poller, read, poll_now=poll_now)
        except ApiframeJobTimeoutError:
            metrics.job_timed_out(self.apiframe_conn_id)
            raise

    def test_connection(self) -> tuple[bool, str]:
        """Check the key with ``GET /v2/me`` and report the team's credits."""
        try:
            me = self.get_me()
        except ApiframeError as exc:
            return False, str(exc)
        if me.team is None:
            return True, f"Connected to Apiframe as {me.user.email} (no team)."
        return True, (
            f"Connected to Apiframe as {me.user.email}, team {me.team.name!r}: "
            f"{me.team.credits} credits available."
        )

    # --- async (triggerer) -------------------------------------------------------------------------

    async def _ashared(self) -> pool.SharedConnection:
        """The connection's transport and job watcher, shared by every hook in this event loop."""
        async with self._shared_lock:
            if self._shared is None:
                self._shared = await pool.acquire(self.apiframe_conn_id, self._aopen_transport)
        return self._shared

    async def _aopen_transport(self) -> AsyncTransport:
        from airflow_provider_apiframe.transports.asynchronous import AsyncTransport  # triggers only

        return await AsyncTransport.open(self._config_from(await self._afind_connection()), log=self.log)

    async def _afind_connection(self) -> Connection:
        """
        Read the connection without blocking the event loop, wherever Airflow stores it.

        A real triggerer's async lookup reaches every secrets backend. ``airflow dags test`` runs
        triggers in its own process, where the async lookup misses connections stored in the
        metadata database (apache/airflow#63929); there the sync lookup finds them, so it runs
        next, in a worker thread.
        """
        try:
            return await self.aget_connection(self.apiframe_conn_id)
        except AirflowNotFoundException:
            return await asyncio.to_thread(self.get_connection, self.apiframe_conn_id)

    async def _aget_transport(self) -> AsyncTransport:
        return (await self._ashared()).transport

    async def aget_job(self, job_id: str, *, deadline: float | None = None) -> Job:
        """
        Read a job without blocking the event loop.

        :param job_id: The job.
        :param deadline: No retry starts after this wall-clock time.
        """
        transport = await self._aget_transport()
        retry = transport.config.retry.capped_at(deadline)
        return await transport.send(calls.get_job(job_id), retry=retry, log=self.log)

    async def await_for_job(
        self, job_id: str, *, timeout: float, poll_interval: float = 5.0, poll_now: bool = True
    ) -> Job:
        """
        :meth:`wait_for_job` without blocking the event loop; for triggers.

        While several jobs of the connection are awaited in this event loop, they are read from
        shared ``GET /v2/jobs`` pages (see :mod:`airflow_provider_apiframe.triggerer.watcher`); a job is
        read on its own when the pages do not show it. The pages carry everything of a job but its
        ``input``.

        :param job_id: The job.
        :param timeout: Seconds to wait before raising
            :class:`~airflow_provider_apiframe.core.errors.ApiframeJobTimeoutError`.
        :param poll_interval: Longest wait between polls, in seconds.
        :param poll_now: ``False`` when the status was just read: the first poll waits.
        """
        connection = await self._ashared()
        transport = connection.transport
        poller = JobPoller(job_id, timeout=timeout, max_interval=poll_interval, log=self.log)

        async def read(deadline: float) -> Job:
            retry = transport.config.retry.until(deadline)
            return await transport.send(calls.get_job(job_id), retry=retry, log=self.log)

        with connection.watcher.watch(job_id) as sighting:
            return await waiting.await_for_job(poller, read, look=sighting.look, poll_now=poll_now)

    async def aget_me(self) -> Me:
        """Read the caller, its team and the team's credit balance without blocking the event loop."""
        transport = await self._aget_transport()
        return await transport.send(calls.get_me(), log=self.log)

    async def aclose(self) -> None:
        """Leave the shared async transport; the last hook of the connection to leave closes it."""
        if self._shared is not None:
            await pool.release(self.apiframe_conn_id, self._shared)
            self._shared = None

    # --- connection form (Airflow < 3.2 reads it from the hook; later versions from provider info) ---

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hide what the API does not use and relabel the rest."""
        return connection_form.ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The timeout, retry and TLS extras, as form fields."""
        return connection_form.form_widgets()
