"""
A batch of job requests: its items, checked all at once before anything is sent, and its budget.

An item is a mapping of :data:`ITEM_FIELDS`: ``model`` and what :func:`~.calls.create_job` takes
(``route``, ``prompt``, ``model_params``), and a ``key`` (by default its position) that names its
files and its manifest line. Nothing here does I/O: items come in as an iterable, so that a file of
10,000 lines is read one line at a time.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

from airflow_provider_apiframe.core.budget import ApiframeBudgetError, Estimate, worst_case
from airflow_provider_apiframe.core.calls import create_job
from airflow_provider_apiframe.core.catalog import prompt_of
from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError
from airflow_provider_apiframe.core.exchange import ApiCall
from airflow_provider_apiframe.core.idempotency import derive_key
from airflow_provider_apiframe.core.models import JobAccepted
from airflow_provider_apiframe.core.models_catalogue import CatalogueEntry

#: The fields an item may have.
ITEM_FIELDS = ("key", "model", "route", "prompt", "model_params")
#: A key names a folder: letters, digits and ``._-``, not starting with a dot, at most 128 long.
_SAFE_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")
#: Problems listed in full before the rest are counted.
MAX_PROBLEMS_SHOWN = 50


@dataclasses.dataclass(frozen=True)
class Item:
    """
    One checked item of a batch.

    :param key: Its key (names its files and its manifest line).
    :param call: Its job-creating call, validated.
    :param estimate: Its worst case, when the batch has a budget.
    """

    key: str
    call: ApiCall[JobAccepted]
    estimate: Estimate | None

    @property
    def prompt(self) -> str | None:
        """The item's prompt, as sent (for Asset events)."""
        return prompt_of(self.call.json or {}, self.call.path)


def check_item(
    raw: Any, position: int, catalogue: Iterable[CatalogueEntry], *, priced: bool
) -> tuple[Item | None, list[tuple[str, str]]]:
    """
    Check one item: its fields, its request against the contract, and its worst case.

    :param raw: The item as given.
    :param position: Its position in the batch, from 0 (its key when it has none).
    :param catalogue: The model catalogue.
    :param priced: Whether the item must have a price (the batch has a budget); else an unpriced
        item has no estimate.
    :return: The item, or ``None`` and its problems, each named ``items[<position>].<field>``.
    """
    where = f"items[{position}]"
    if not isinstance(raw, Mapping):
        return None, [(where, f"got {type(raw).__name__}; allowed: a mapping of {', '.join(ITEM_FIELDS)}")]
    problems = [
        (f"{where}.{name}", f"unknown field; allowed: {', '.join(ITEM_FIELDS)}")
        for name in raw
        if name not in ITEM_FIELDS
    ]
    key = raw.get("key")
    key = str(position) if key is None or key == "" else key
    if not isinstance(key, (str, int)) or isinstance(key, bool) or not _SAFE_KEY.match(str(key)):
        problems.append(
            (f"{where}.key", f"got {key!r}; allowed: up to 128 letters, digits and ._- (not starting with .)")
        )
    try:
        call = create_job(
            cast("str", raw.get("model")),
            route=raw.get("route"),
            prompt=raw.get("prompt"),
            model_params=raw.get("model_params"),
        )
    except ApiframeInvalidParamsError as exc:
        problems.extend((f"{where}.{field}", why) for field, why in exc.problems)
        return None, problems
    estimate = None
    try:
        estimate = worst_case(call.json or {}, call.path, catalogue)
    except ApiframeBudgetError as exc:
        if priced:
            problems.append((f"{where}.model", str(exc).removeprefix("max_credits: ")))
    if problems:
        return None, problems
    return Item(str(key), call, estimate), []


def check_items(
    raws: Iterable[Any], catalogue: Iterable[CatalogueEntry], max_credits: float | None
) -> BatchPlan:
    """
    Check every item before anything is sent; refuse the batch listing every bad item and field.

    Items are checked one at a time and not kept: only their keys and the sum of their worst cases.

    :param raws: The items, as given (read lazily).
    :param catalogue: The model catalogue.
    :param max_credits: The batch's budget. An item whose worst case alone passes it could never be
        submitted: the batch is refused up front.
    :raises ApiframeInvalidParamsError: Any bad item (nothing was sent).
    :raises ApiframeBudgetError: An item over the whole budget.
    """
    problems: list[tuple[str, str]] = []
    bad_items = 0
    keys: dict[str, int] = {}
    plan = BatchPlan()
    over: ApiframeBudgetError | None = None
    for position, raw in enumerate(raws):
        item, found = check_item(raw, position, catalogue, priced=max_credits is not None)
        if item is not None and item.key in keys:
            found = [(f"items[{position}].key", f"{item.key!r} is also the key of items[{keys[item.key]}]")]
        if found:
            bad_items += 1
            problems.extend(found)
            continue
        assert item is not None
        keys[item.key] = position
        plan.add(item)
        if max_credits is not None and item.estimate is not None and item.estimate.credits > max_credits:
            over = over or ApiframeBudgetError(
                f"max_credits: items[{position}] (key {item.key!r}) may cost up to {item.estimate.credits:g} "
                f"credits, over the budget of the whole batch, {max_credits:g} ({item.estimate.how}); "
                "it could never be submitted; nothing was submitted"
            )
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        if len(problems) > len(shown):
            shown.append(("...", f"and {len(problems) - len(shown)} more problem(s)"))
        shown.append(("items", f"{bad_items} of {plan.items + bad_items} item(s) are invalid"))
        raise ApiframeInvalidParamsError(shown)
    if over is not None:
        raise over
    return plan


@dataclasses.dataclass
class BatchPlan:
    """What checking the items found: how many, their worst cases summed, how many have no price."""

    items: int = 0
    worst_case: float = 0.0
    unpriced: int = 0

    def add(self, item: Item) -> None:
        """Count a checked item."""
        self.items += 1
        if item.estimate is None:
            self.unpriced += 1
        else:
            self.worst_case += item.estimate.credits


def item_base_key(*, dag_id: str, task_id: str, run_id: str, map_index: int, item: Item) -> str:
    """
    The first ``Idempotency-Key`` of a batch item: from the task instance, the item's key and its request.

    :param dag_id: The DAG.
    :param task_id: The task.
    :param run_id: The DAG run.
    :param map_index: The map index (-1 when not mapped).
    :param item: The item.
    """
    body = {"batch_item": item.key, "route": item.call.path, "body": item.call.json or {}}
    return derive_key(dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=map_index, body=body)


class Budget:
    """
    A batch's budget while it submits: credits spent plus the worst case of the jobs still in flight.

    :param max_credits: The budget (``None``: none; everything fits).
    :param spent: Credits already spent (by items completed in an earlier try).
    """

    def __init__(self, max_credits: float | None, spent: float = 0.0):
        self.max_credits = max_credits
        self.spent = spent
        self.in_flight: dict[str, float] = {}  # job id (or a reservation's name) -> its worst case

    @property
    def committed(self) -> float:
        """Credits spent plus the worst case of everything in flight."""
        return self.spent + sum(self.in_flight.values())

    def fits(self, credits: float) -> bool:
        """Whether a job whose worst case is ``credits`` may be submitted now."""
        return self.max_credits is None or self.committed + credits <= self.max_credits

    def reserve(self, name: str, credits: float) -> None:
        """Hold ``credits`` for a submission (renamed to its job id once accepted, by :meth:`rename`)."""
        self.in_flight[name] = credits

    def rename(self, name: str, job_id: str) -> None:
        """The submission ``name`` is the job ``job_id``."""
        self.in_flight[job_id] = self.in_flight.pop(name)

    def release(self, name: str) -> None:
        """A submission that did not happen holds nothing."""
        self.in_flight.pop(name, None)

    def settle(self, job_id: str, charged: float) -> None:
        """The job ``job_id`` ended and was charged ``charged``."""
        self.in_flight.pop(job_id, None)
        self.spent += charged

    def refusal(self, key: str, credits: float) -> str:
        """Why the item ``key`` was not submitted (its manifest line's error)."""
        return (
            f"skipped: budget (spent {self.spent:g} + in flight {self.committed - self.spent:g} + this "
            f"item's worst case {credits:g} would pass max_credits {self.max_credits:g})"
        )


def read_jsonl(lines: Iterable[str], source: str) -> Iterator[Any]:
    """
    The items of a JSON Lines text, one line at a time; blank lines are skipped.

    :param lines: Its lines.
    :param source: Its name, for errors.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except ValueError as exc:
            raise ApiframeInvalidParamsError(
                [("requests", f"{source} line {number} is not JSON ({exc})")]
            ) from None


def read_csv_rows(rows: Iterable[Mapping[str, Any]], source: str) -> Iterator[dict[str, Any]]:
    """
    The items of CSV rows (with a header): empty cells are unset, ``model_params`` is a JSON object.

    :param rows: The rows, as ``csv.DictReader`` reads them.
    :param source: Its name, for errors.
    """
    for number, row in enumerate(rows, start=2):
        item = {name: value for name, value in row.items() if value not in (None, "")}
        if isinstance(item.get("model_params"), str):
            try:
                item["model_params"] = json.loads(item["model_params"])
            except ValueError as exc:
                raise ApiframeInvalidParamsError(
                    [("requests", f"{source} line {number}: model_params is not JSON ({exc})")]
                ) from None
        yield item
