"""
A job's worst-case price, from the public model catalogue (``GET /v2/models``), and the budget it must fit.

The worst case of one request, by the model's ``pricingMode``:

- ``per-output``: ``costMax`` times the number of outputs asked for (``number_of_images``,
  ``num_images`` or ``num_outputs`` of the parameters block; 1 when not given, every model's
  documented default);
- ``per-second``: ``costMax`` times the requested ``duration``; when none is given, the longest the
  contract allows for the model (the contract states no defaults, so the worst case is the longest);
- ``flat``: ``costMax``.

A follow-up action (Midjourney's, Suno's) has no entry of its own: it is priced as one output of
its parent model. A model the catalogue does not price (no entry, no ``costMax``, an unknown mode)
cannot be kept to a budget, so a budget refuses it rather than guess.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_apiframe.core.catalog import spec_for
from airflow_provider_apiframe.core.errors import ApiframeError
from airflow_provider_apiframe.core.models_catalogue import CatalogueEntry
from airflow_provider_apiframe.core.schema_check import shipped

#: The parameters that say how many outputs a per-output job makes.
COUNT_FIELDS = ("number_of_images", "num_images", "num_outputs")


class ApiframeBudgetError(ApiframeError, ValueError):
    """A request over its budget, or one a budget cannot price: retrying cannot help."""


@dataclasses.dataclass(frozen=True)
class Estimate:
    """
    The most a request can cost, and how that was worked out.

    :param credits: The worst case, in credits.
    :param how: The working, e.g. ``gpt-image-1.5 is per-output: 24 (costMax) x 4 (number_of_images)``.
    """

    credits: float
    how: str


def worst_case(body: Mapping[str, Any], route: str, catalogue: Iterable[CatalogueEntry]) -> Estimate:
    """
    The most the job ``body`` on ``route`` can cost.

    :param body: The request body, as it will be sent (already validated).
    :param route: Its route, e.g. ``/v2/images/generate``.
    :param catalogue: The model catalogue's entries.
    :raises ApiframeBudgetError: When the catalogue does not price the model.
    """
    spec = spec_for(body, route)
    model = spec.model if spec is not None else str(body.get("model"))
    entry = next((e for e in catalogue if e.id == model), None)
    if (
        entry is None
        or entry.cost_max is None
        or entry.pricing_mode not in ("per-output", "per-second", "flat")
    ):
        shown = (
            "no entry" if entry is None else f"pricingMode {entry.pricing_mode!r}, costMax {entry.cost_max!r}"
        )
        raise ApiframeBudgetError(
            f"max_credits: the model catalogue does not price {model!r} ({shown}), so no budget can be "
            "kept for it; remove max_credits or choose a priced model (GET /v2/models)"
        )
    cost = entry.cost_max
    if spec is not None and spec.is_action:
        return Estimate(
            cost, f"{body.get('action')!r} on {model} is priced as one output of {model}: {cost:g} (costMax)"
        )
    params = body.get(spec.params_key, None) if spec is not None and spec.params_key else None
    params = params if isinstance(params, Mapping) else {}
    if entry.pricing_mode == "flat":
        return Estimate(cost, f"{model} is flat: {cost:g} (costMax) a job")
    if entry.pricing_mode == "per-second":
        seconds, said = _seconds(params, route, model)
        return Estimate(cost * seconds, f"{model} is per-second: {cost:g} (costMax) x {seconds:g} s ({said})")
    field = next((f for f in COUNT_FIELDS if isinstance(params.get(f), int)), None)
    count = params[field] if field else 1
    said = field or "one output, the default"
    return Estimate(cost * count, f"{model} is per-output: {cost:g} (costMax) x {count} ({said})")


def check_budget(estimate: Estimate, max_credits: float | None) -> None:
    """
    Refuse a request whose worst case is over ``max_credits``.

    :param estimate: Its :func:`worst_case`.
    :param max_credits: The budget; ``None`` for none.
    :raises ApiframeBudgetError: Over budget, with the estimate and its working.
    """
    if max_credits is not None and estimate.credits > max_credits:
        raise ApiframeBudgetError(
            f"max_credits: the request may cost up to {estimate.credits:g} credits, over the budget of "
            f"{max_credits:g} ({estimate.how}); nothing was submitted"
        )


def check_max_credits(max_credits: Any) -> float | None:
    """
    Check a ``max_credits`` argument: ``None``, or a number of credits >= 0.

    :param max_credits: The value given.
    :raises ApiframeBudgetError: For anything else.
    """
    if max_credits is None:
        return None
    if isinstance(max_credits, bool) or not isinstance(max_credits, (int, float)) or not max_credits >= 0:
        raise ApiframeBudgetError(
            f"max_credits: got {max_credits!r}; allowed: a number of credits >= 0, or None"
        )
    return float(max_credits)


def _seconds(params: Mapping[str, Any], route: str, model: str) -> tuple[float, str]:
    """The requested duration, else the longest the contract allows the model, and which it was."""
    given = params.get("duration")
    if isinstance(given, (int, float)) and not isinstance(given, bool) and given > 0:
        return float(math.ceil(given)), "duration"
    longest = _longest_duration(route, model)
    if longest is None:
        raise ApiframeBudgetError(
            f"max_credits: {model} is priced per second and neither the request nor the contract bounds "
            "its length, so no budget can be kept for it; give model_params.duration where the model "
            "takes one, or remove max_credits"
        )
    return longest, "no duration given: the longest the contract allows"


def _longest_duration(route: str, model: str) -> float | None:
    """The largest ``duration`` the contract allows ``model`` on ``route``, if it bounds one."""
    check = shipped()
    schemas = check.spec["components"]["schemas"]
    try:
        index = check.choices(route).index(model)
        branch = schemas[check.request_schemas()[route]]["oneOf"][index]
    except (KeyError, ValueError, IndexError):
        return None
    values: list[float] = []
    stack: list[Any] = [branch]
    seen: set[str] = set()
    while stack:  # every "duration" property below the model's alternative
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            ref = str(node.get("$ref", "")).rsplit("/", 1)[-1]
            if ref and ref not in seen:
                seen.add(ref)
                stack.append(schemas.get(ref))
            duration = (
                node.get("properties", {}).get("duration")
                if isinstance(node.get("properties"), dict)
                else None
            )
            if isinstance(duration, dict):
                values.extend(_bounds(duration))
            stack.extend(v for k, v in node.items() if k not in ("$ref", "properties"))
            if isinstance(node.get("properties"), dict):
                stack.extend(v for k, v in node["properties"].items() if k != "duration")
    return max(values) if values else None


def _bounds(schema: Mapping[str, Any]) -> list[float]:
    """The largest values a ``duration`` schema allows (``maximum``, ``enum``, its ``anyOf``)."""
    found = [float(v) for v in schema.get("enum", []) if isinstance(v, (int, float))]
    if isinstance(schema.get("maximum"), (int, float)):
        found.append(float(schema["maximum"]))
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []):
        found.extend(_bounds(alternative))
    return found
