"""
``POST /v2/images/midjourney/action``: a follow-up action on a completed Midjourney job.

The body is judged against the contract's ``MidjourneyActionRequest`` (the alternative its
``action`` names); the parent must be a ``midjourney`` job of the caller (else ``400`` on
``parentJobId``). What the action acts on decides whether it is available (else ``409``):

- ``upsample`` and ``variation`` act on a completed grid (a generation, or a variation, inpaint,
  outpaint or pan); ``index`` (1-4) chooses its image;
- ``inpaint``, ``outpaint`` and ``pan`` act on a completed upsample.

An upsample makes one image, every other action a fresh grid of 4, all derived from the chosen
image (fetched as the job's input, like any input image) and as large as the parent's. The new
job then runs, is charged, replayed and faulted as every job is.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from airflow_provider_apiframe.core.catalog import MIDJOURNEY_ACTION
from airflow_provider_apiframe.emulator.routes.actions import action_router
from airflow_provider_apiframe.emulator.state import JobRecord
from airflow_provider_apiframe.emulator.state.ledger import action_price
from airflow_provider_apiframe.emulator.state.outputs import GRID_SIZE, Output

ROUTE = MIDJOURNEY_ACTION
_MODEL = "midjourney"
#: The kind of parent each action acts on.
ACTS_ON = {
    "upsample": "grid",
    "variation": "grid",
    "inpaint": "upsample",
    "outpaint": "upsample",
    "pan": "upsample",
}


def unavailable(parent: JobRecord, action: str) -> str | None:
    """
    Why ``action`` is not available for ``parent`` (the ``409``'s message), or None when it is.

    :param parent: A completed Midjourney job of the caller.
    :param action: The action asked for.
    """
    wanted = ACTS_ON[action]
    if parent.output != wanted:
        made = {"grid": "a grid", "upsample": "an upsample"}.get(parent.output, "no grid")
        return (
            f"The {action} action is not available for job {parent.id}: it acts on "
            f"{'a grid' if wanted == 'grid' else 'an upsample'}, and that job made {made}."
        )
    return None


def plan_action(parent: JobRecord, body: dict[str, Any], _: dict[str, list[str]], links: str) -> Output:
    """
    What an available action on ``parent`` makes: from the chosen image, as large as the parent's.

    :param parent: The completed grid (upsample, variation) or upsample (the others).
    :param body: The validated action.
    :param _: The request's problems by field (an available action adds none).
    :param links: The base URL of the parent's result files.
    """
    action = str(body["action"])
    index = int(body.get("index") or 1) if parent.output == "grid" else 1
    assert parent.images is not None
    chosen = f"{links}/files/{parent.id}-{index}.{parent.images.fmt}"
    count = 1 if action == "upsample" else GRID_SIZE
    prompt = body.get("prompt") if action == "inpaint" else None
    return Output(
        "upsample" if action == "upsample" else "grid",
        action_price(action),
        str(prompt or parent.prompt),
        images=dataclasses.replace(parent.images, count=count),
        inputs=((chosen, "image"),),
    )


router = action_router(
    ROUTE,
    _MODEL,
    unavailable,
    plan_action,
    "Start an upsample, variation, inpaint, outpaint or pan of a Midjourney job.",
)
