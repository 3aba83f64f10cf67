"""A whole catalogue in one task: many Apiframe jobs submitted, awaited and saved by one operator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

from airflow.sdk import AssetAlias, BaseOperator, ObjectStoragePath

from airflow_provider_apiframe.core import clock
from airflow_provider_apiframe.core.batch import Budget, Item, check_item, check_items, item_base_key
from airflow_provider_apiframe.core.budget import ApiframeBudgetError, check_max_credits
from airflow_provider_apiframe.core.errors import ApiframeError, ApiframeInvalidParamsError
from airflow_provider_apiframe.core.models import JobStatus
from airflow_provider_apiframe.core.outcomes import killed_message
from airflow_provider_apiframe.core.validation import check_duration
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.operators.batch_files import (
    MANIFEST,
    SUBMISSIONS,
    LinesWriter,
    earlier_tries,
    read_items,
)
from airflow_provider_apiframe.operators.batch_jobs import Submitting, submit_all, wait_all
from airflow_provider_apiframe.operators.batch_results import Collecting, collect, emit_asset_events
from airflow_provider_apiframe.operators.deferral import meant_for_another_try
from airflow_provider_apiframe.operators.errors import fail_fast_on_bad_input
from airflow_provider_apiframe.operators.results import output_target
from airflow_provider_apiframe.transports.asynchronous import AsyncTransport
from airflow_provider_apiframe.triggers.batch import ApiframeBatchTrigger, BatchEvent

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_apiframe.core.models_catalogue import CatalogueEntry
    from airflow_provider_apiframe.operators.lineage import Lineage
    from airflow_provider_apiframe.operators.results import ResultTask

T = TypeVar("T")


class ApiframeBatchOperator(BaseOperator):
    """
    Submit many Apiframe jobs from one task, wait for all of them in one deferral, save every result.

    Every item is checked before the first submission (a bad one fails the task at once, listing
    every bad item and field; nothing is sent), and so is the team's balance (``GET /v2/me``)
    against the batch's worst case. Items are submitted ``concurrency`` at a time through the
    connection's rate governor (a ``429`` slows the batch, never fails it), each under its own
    ``Idempotency-Key`` (task instance, item key and request), so a retry re-attaches to every job
    already paid for. One trigger then waits for all the jobs; on resuming, their files are saved
    under ``<output_path>/<key>/`` and ``<output_path>/manifest.jsonl`` gets one line per item:
    ``{"key", "job_id", "status", "credits", "estimated_credits", "files", "error", ...}``.

    The XCom is small: ``{"items", "completed", "failed", "skipped", "credits",
    "estimated_credits", "manifest"}``.

    :param requests: The items (templated): a list of ``{"key", "model", "route", "prompt",
        "model_params"}`` (only ``model`` is needed; ``key`` defaults to the item's position), or a
        path / ``ObjectStoragePath`` to a ``.jsonl`` file of such objects or a ``.csv`` file with
        those columns (``model_params`` as a JSON object); files are read line by line.
    :param output_path: The folder of the results and the manifest (templated): local, ``file://``
        or any ``ObjectStoragePath``.
    :param output_conn_id: Connection for an object-store ``output_path`` given as a string.
    :param max_credits: The most the whole batch may cost. Submissions stop when the credits spent
        plus the worst case of the jobs in flight would pass it; the items left are
        ``skipped: budget`` in the manifest. An item whose worst case alone passes it, or of a model
        the catalogue does not price, fails the task before anything is sent.
    :param max_failed_items: How many items may fail (FAILED, CANCELLED, refused, not ended, not
        saved) before the task fails, after saving the rest and writing the manifest. Its retry
        resubmits only what did not complete.
    :param concurrency: Submissions (and saves) in flight at most.
    :param apiframe_conn_id: The Apiframe connection.
    :param deferrable: Wait in the triggerer (default) rather than in the worker.
    :param poll_interval: Seconds between two looks at the jobs.
    :param timeout: Seconds, from the start of the task, before the wait ends; jobs not ended by
        then count as failed (they keep running at Apiframe).
    :param lineage_prompt: Put the items' prompts in the OpenLineage facet (default: left out).
    """

    template_fields: Sequence[str] = ("requests", "output_path")
    ui_color = "#e8f0fe"
    #: The jobs this try submitted or re-attached to and waits for.
    waiting_for: Sequence[str] = ()
    #: The result (counts), once the batch was collected (for lineage).
    last_result: dict[str, Any] | None = None

    def __init__(
        self,
        *,
        requests: list[dict[str, Any]] | str | ObjectStoragePath,
        output_path: str | ObjectStoragePath,
        output_conn_id: str | None = None,
        max_credits: float | None = None,
        max_failed_items: int = 0,
        concurrency: int = 32,
        apiframe_conn_id: str = ApiframeHook.default_conn_name,
        deferrable: bool = True,
        poll_interval: float | timedelta = 5.0,
        timeout: float | timedelta = 7200.0,
        lineage_prompt: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lineage_prompt = lineage_prompt
        self.requests = requests
        self.output_path = output_path
        self.output_conn_id = output_conn_id
        self.max_credits = check_max_credits(max_credits)
        self.max_failed_items = _count("max_failed_items", max_failed_items, 0)
        self.concurrency = _count("concurrency", concurrency, 1, 256)
        self.apiframe_conn_id = apiframe_conn_id
        self.deferrable = deferrable
        self.poll_interval = check_duration("poll_interval", poll_interval)
        self.timeout = check_duration("timeout", timeout)

    @cached_property
    def hook(self) -> ApiframeHook:
        """The hook for :attr:`apiframe_conn_id`."""
        return ApiframeHook(apiframe_conn_id=self.apiframe_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        """Check every item and the balance, submit them all, then wait (deferred or not) and collect."""
        deadline = clock.now() + self.timeout
        with fail_fast_on_bad_input():
            target = self._target()
            catalogue = self.hook.list_models()
            plan = check_items(read_items(self.requests), catalogue, self.max_credits)
            carried, submitted = earlier_tries(target)
            bound = plan.worst_case if self.max_credits is None else min(plan.worst_case, self.max_credits)
            self._check_balance(bound, plan.unpriced)
        estimate = None if plan.unpriced else bound  # an unpriced item leaves the worst case unknown
        self.log.info(
            "Apiframe batch: %d item(s) checked, worst case %g credit(s)%s; %d completed in an earlier try",
            plan.items,
            plan.worst_case,
            "" if self.max_credits is None else f", budget {self.max_credits:g}",
            len(carried),
        )
        budget = Budget(self.max_credits)
        waiting: list[str] = []
        self.waiting_for = waiting
        writer = LinesWriter(target / SUBMISSIONS)

        def record(line: dict[str, Any]) -> None:
            writer(line)
            if line.get("job_id") and line["status"] not in _ENDED:
                waiting.append(line["job_id"])

        ti = context["ti"]
        how = Submitting(
            base_key=lambda item: item_base_key(
                dag_id=ti.dag_id,
                task_id=ti.task_id,
                run_id=ti.run_id,
                map_index=-1 if ti.map_index is None else ti.map_index,
                item=item,
            ),
            try_number=ti.try_number,
            concurrency=self.concurrency,
            deadline=deadline,
            log=self.log,
            conn_id=self.apiframe_conn_id,
        )

        def to_submit() -> Iterator[Item]:
            for item in self._items(catalogue):
                line = carried.get(item.key)
                if line is not None and _same_request(line, how.base_key(item)):
                    budget.spent += line.get("credits") or 0
                    writer({"key": item.key, "carried": line})
                elif (line := submitted.get(item.key)) and _same_request(line, how.base_key(item)):
                    budget.reserve(line["job_id"], item.estimate.credits if item.estimate else 0.0)
                    record({**line, "reattached": True})  # its job still runs, or ended: wait for it
                else:
                    yield item

        try:
            asyncio.run(
                self._in_loop(lambda transport: submit_all(transport, to_submit(), budget, how, record))
            )
        finally:
            writer.close()
        self.log.info("Apiframe batch: submitted; %d job(s) to wait for", len(waiting))
        if waiting and self.deferrable:
            trigger = ApiframeBatchTrigger(
                waiting,
                deadline=deadline,
                apiframe_conn_id=self.apiframe_conn_id,
                poll_interval=self.poll_interval,
                deferred_on_try=ti.try_number,
            )
            self.defer(
                trigger=trigger,
                method_name="execute_complete",
                kwargs={"estimated_credits": estimate, "deadline": deadline},
                timeout=None,
            )
        if waiting:
            asyncio.run(
                self._in_loop(lambda t: wait_all(t, set(waiting), deadline, self.poll_interval, self.log))
            )
        return self._collect(context, estimate, deadline)

    def on_kill(self) -> None:
        """Killed in the worker: the jobs go on at Apiframe; say so, and that a retry re-attaches."""
        if self.waiting_for:
            self.log.warning("%s", killed_message(self.waiting_for))

    def execute_complete(
        self,
        context: Context,
        event: Any = None,
        estimated_credits: float | None = None,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        """
        Resume after the trigger fired: save every result, write the manifest, return the counts.

        :param event: The trigger's :class:`~.triggers.batch.BatchEvent`.
        :param estimated_credits: The batch's worst case, worked out before submitting.
        :param deadline: The task's deadline.
        """
        parsed = BatchEvent.parse(event)
        if meant_for_another_try(self, context, parsed.deferred_on_try):
            return self.execute(context)
        if parsed.status == "error":
            raise ApiframeError(parsed.message)
        self.log.info("%s", parsed.message)
        return self._collect(context, estimated_credits, deadline or clock.now() + self.timeout)

    def _collect(self, context: Context, estimate: float | None, deadline: float) -> dict[str, Any]:
        """Read every job, save the results, write the manifest; fail past ``max_failed_items``."""
        target = self._target()
        outlets = list(self.outlets or [])
        how = Collecting(
            self.hook,
            target,
            self.concurrency,
            max(deadline, clock.now() + 60),  # reading what ended goes on past the wait's deadline
            self.log,
            keep_saved=any(isinstance(outlet, AssetAlias) for outlet in outlets),
        )
        counts, saved = asyncio.run(self._in_loop(lambda transport: collect(transport, how)))
        result = self.last_result = counts.result(estimate, str(target / MANIFEST))
        emit_asset_events(outlets, saved, result, context)
        self.log.info(
            "Apiframe batch: %d item(s): %d completed, %d failed, %d skipped; %g credit(s) spent "
            "(worst case %s%s); manifest %s",
            counts.items,
            counts.completed,
            counts.failed,
            counts.skipped,
            counts.credits,
            "unknown" if estimate is None else f"{estimate:g}",
            "" if self.max_credits is None else f", budget {self.max_credits:g}",
            result["manifest"],
        )
        if counts.failed > self.max_failed_items:
            raise ApiframeError(
                f"Apiframe batch: {counts.failed} item(s) failed, more than max_failed_items "
                f"({self.max_failed_items}); {result['manifest']} lists them with their errors. "
                "A retry resubmits only the items that did not complete."
            )
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Lineage:
        """
        The batch's lineage (OpenLineage provider only): its inputs, output folder and manifest, jobs.

        :param task_instance: The task instance that ran.
        """
        from airflow_provider_apiframe.operators.lineage import batch_lineage  # the optional provider

        return batch_lineage(self, task_instance)

    async def _in_loop(self, work: Callable[[AsyncTransport], Awaitable[T]]) -> T:
        """Run ``work(transport)`` with a transport of this connection, closed afterwards."""
        transport = await AsyncTransport.open(self.hook.config, log=self.log, max_in_flight=self.concurrency)
        try:
            return await work(transport)
        finally:
            await transport.aclose()

    def _target(self) -> ObjectStoragePath:
        if not self.output_path:
            raise ApiframeInvalidParamsError(
                [("output_path", "required: the folder of the results and the manifest")]
            )
        target = output_target(cast("ResultTask", self))
        assert target is not None
        with contextlib.suppress(NotImplementedError, FileExistsError):  # object stores have no real folders
            target.mkdir(parents=True, exist_ok=True)
        return target

    def _items(self, catalogue: list[CatalogueEntry]) -> Iterator[Item]:
        """The items again, one at a time (they were all checked before)."""
        for position, raw in enumerate(read_items(self.requests)):
            item, _ = check_item(raw, position, catalogue, priced=self.max_credits is not None)
            assert item is not None
            yield item

    def _check_balance(self, estimate: float, unpriced: int) -> None:
        """Refuse a batch the team's balance cannot cover, before its first submission."""
        team = self.hook.get_me().team
        if team is None:
            self.log.warning("Apiframe batch: GET /v2/me shows no team, so no balance to check")
            return
        credits = team.credits
        if estimate > credits:
            raise ApiframeBudgetError(
                f"The batch may cost up to {estimate:g} credits and the team has {credits}; nothing was "
                "submitted. Add credits, or set max_credits to what may be spent (the batch then stops "
                "there and skips the rest)."
            )
        self.log.info(
            "Apiframe batch: the team has %d credit(s); the batch may cost up to %g%s",
            credits,
            estimate,
            f" (and {unpriced} item(s) the catalogue does not price)" if unpriced else "",
        )


#: The statuses a job ends in.
_ENDED = frozenset(status.value for status in JobStatus if status.is_terminal)


def _same_request(line: dict[str, Any], base_key: str) -> bool:
    """Whether a recorded line was submitted for the same request (its key is in ``base_key``'s sequence)."""
    return str(line.get("idempotency_key")).split("~")[0] == base_key


def _count(name: str, value: Any, least: int, most: int | None = None) -> int:
    """Check a whole-number argument."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < least
        or (most is not None and value > most)
    ):
        allowed = f"a whole number >= {least}" + ("" if most is None else f" and <= {most}")
        raise ApiframeInvalidParamsError([(name, f"got {value!r}; allowed: {allowed}")])
    return int(value)
