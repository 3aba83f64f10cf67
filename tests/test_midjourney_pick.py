"""ApiframePickImageOperator and its helpers: options and body from a result, the choice back to an index."""

from __future__ import annotations

import inspect
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from airflow.providers.standard.operators import hitl
from support import IMAGE_A, IMAGE_B, FakeTI

from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError
from airflow_provider_apiframe.operators.pick import (
    ApiframePickImageOperator,
    chosen_index,
    image_options,
    pick_body,
    result_images,
)

GRID = [f"https://cdn.apiframe.ai/jobs/0b7c1e52-{n}.png" for n in range(1, 5)]
RESULT = {"job_id": "0b7c1e52", "images": GRID, "files": [{"path": "/tmp/grid/0b7c1e52-1.png"}]}
OPTIONS = ["Image 1", "Image 2", "Image 3", "Image 4"]
WAITS = "response_timeout" in inspect.signature(hitl.HITLOperator.__init__).parameters

try:  # Airflow >= 3.3: the task waits in ``awaiting_input``, no trigger
    from airflow.sdk.exceptions import TaskAwaitingInput as Waiting
except ImportError:  # Airflow 3.1: it defers to the standard provider's HITLTrigger
    from airflow.exceptions import (
        TaskDeferred as Waiting,  # type: ignore[no-redef,attr-defined,unused-ignore]
    )


def test_options_name_each_image_in_order() -> None:
    assert image_options(4) == OPTIONS
    assert image_options(1) == ["Image 1"]
    with pytest.raises(ApiframeInvalidParamsError, match=r"count: got 0; allowed: 1 or more"):
        image_options(0)


def test_result_images_are_the_results_urls() -> None:
    assert result_images(RESULT, 4) == GRID


@pytest.mark.parametrize(
    ("result", "wording"),
    [
        ({"images": GRID[:3]}, "got 3 image(s) for 4 option(s); allowed: 4 images"),
        ({"images": [*GRID, IMAGE_A]}, "got 5 image(s) for 4 option(s)"),
        ({"job_id": "x"}, "got images=None; allowed: an Apiframe task's result"),
        ({"images": "https://a/1.png"}, "got images='https://a/1.png'"),
        ("0b7c1e52", "got str; allowed: an Apiframe task's result"),
    ],
)
def test_a_result_without_one_image_per_option_is_refused(result: Any, wording: str) -> None:
    with pytest.raises(ApiframeInvalidParamsError) as raised:
        result_images(result, 4)
    assert raised.value.problems[0][0] == "result"
    assert wording in raised.value.problems[0][1]


def test_body_shows_each_image_under_its_option_two_to_a_row() -> None:
    body = pick_body(GRID, "Pick **one**.")
    intro, table = body.split("\n\n")
    assert intro == "Pick **one**."
    assert table.splitlines() == [
        "| | |",
        "| --- | --- |",
        "| **Image 1** | **Image 2** |",
        f"| ![Image 1](<{GRID[0]}>) | ![Image 2](<{GRID[1]}>) |",
        "| **Image 3** | **Image 4** |",
        f"| ![Image 3](<{GRID[2]}>) | ![Image 4](<{GRID[3]}>) |",
    ]


def test_body_keeps_a_url_with_parentheses_whole_and_needs_no_intro() -> None:
    odd = "https://cdn.example/a (1).png"
    body = pick_body([odd, IMAGE_B, IMAGE_A])
    assert body.startswith("| | |")
    assert f"![Image 1](<{odd}>)" in body
    assert body.splitlines()[-1] == f"| ![Image 3](<{IMAGE_A}>) |"


@pytest.mark.parametrize(
    ("chosen", "index"),
    [
        ({"chosen_options": ["Image 2"], "params_input": {}}, 2),
        (["Image 4"], 4),
        (("Image 1",), 1),
    ],
)
def test_the_chosen_option_is_its_1_based_index(chosen: Any, index: int) -> None:
    assert chosen_index(chosen, OPTIONS) == index


@pytest.mark.parametrize(
    ("chosen", "wording"),
    [
        (
            ["Image 5"],
            "chosen_options: got 'Image 5'; allowed: one of 'Image 1', 'Image 2', 'Image 3', 'Image 4'",
        ),
        (["image 2"], "got 'image 2'; allowed: one of"),
        (["Image 1", "Image 2"], "got ['Image 1', 'Image 2']; allowed: exactly one of 'Image 1'"),
        ([], "got []; allowed: exactly one of"),
        ({"params_input": {}}, "got None; allowed: exactly one of"),
        ("Image 1", "got 'Image 1'; allowed: exactly one of"),
    ],
)
def test_an_unknown_or_ambiguous_choice_is_refused(chosen: Any, wording: str) -> None:
    with pytest.raises(ValueError, match="chosen_options") as raised:
        chosen_index(chosen, OPTIONS)
    assert wording in str(raised.value)


# --- the operator ----------------------------------------------------------------------------------


def make_pick(**kwargs: Any) -> ApiframePickImageOperator:
    return ApiframePickImageOperator(task_id="pick", result=RESULT, **kwargs)


def test_operator_offers_one_option_per_image_with_a_default() -> None:
    pick = make_pick(defaults="Image 1", response_timeout=timedelta(minutes=5))
    assert pick.options == OPTIONS
    assert pick.defaults == ["Image 1"]
    assert pick.multiple is False
    assert "result" in pick.template_fields
    assert {"subject", "body"} <= set(pick.template_fields)
    # The standard provider's own name for the wait, where it has one; execution_timeout before it.
    if WAITS:
        assert (pick.response_timeout, pick.execution_timeout) == (timedelta(minutes=5), None)
    else:
        assert pick.execution_timeout == timedelta(minutes=5)


def test_operator_without_a_timeout_waits_for_ever() -> None:
    pick = make_pick(count=2)
    assert pick.options == ["Image 1", "Image 2"]
    assert pick.execution_timeout is None
    assert getattr(pick, "response_timeout", None) is None


def test_a_default_that_is_not_an_option_fails_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match="should be a subset of options"):
        make_pick(defaults="Image 5")


class PickTI(FakeTI):
    def __init__(self) -> None:
        super().__init__(dag_id="apiframe_midjourney_pick", task_id="pick")
        self.id = uuid.uuid4()


def test_execute_asks_with_the_images_in_the_body(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: dict[str, Any] = {}
    monkeypatch.setattr(hitl, "upsert_hitl_detail", lambda **kwargs: asked.update(kwargs))
    pick = make_pick(body="Pick one to upsample.", defaults="Image 1")
    ti = PickTI()

    with pytest.raises(Waiting):
        pick.execute({"task_instance": ti, "ti": ti})  # type: ignore[arg-type]

    assert asked["ti_id"] == ti.id
    assert asked["options"] == OPTIONS
    assert asked["defaults"] == ["Image 1"]
    assert asked["subject"] == "Pick an image"
    assert asked["body"] == pick_body(GRID, "Pick one to upsample.")


def test_execute_refuses_a_result_without_four_images(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Any] = []
    monkeypatch.setattr(hitl, "upsert_hitl_detail", lambda **kwargs: asked.append(kwargs))
    pick = ApiframePickImageOperator(task_id="pick", result={"images": GRID[:2]})
    ti = PickTI()
    with pytest.raises(ApiframeInvalidParamsError, match="got 2 image"):
        pick.execute({"task_instance": ti, "ti": ti})  # type: ignore[arg-type]
    assert asked == [], "nobody is asked about images that are not there"


def response(*options: str) -> dict[str, Any]:
    return {
        "chosen_options": list(options),
        "params_input": {},
        "responded_at": datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc),
        "responded_by_user": {"id": "ada", "name": "Ada"},
    }


def test_the_answer_becomes_the_index_and_image_pushed_for_the_next_task() -> None:
    pick = make_pick()
    ti = PickTI()

    result = pick.execute_complete({"ti": ti, "task_instance": ti}, response("Image 2"))  # type: ignore[arg-type]

    assert result["chosen_options"] == ["Image 2"]
    assert result["responded_by_user"] == {"id": "ada", "name": "Ada"}
    assert (result["index"], result["image"]) == (2, GRID[1])
    assert ti.pushed == [("index", 2), ("image", GRID[1])]


def test_an_answer_that_is_not_an_option_fails_the_task() -> None:
    pick = make_pick()
    ti = PickTI()
    with pytest.raises(ValueError, match="Image 7"):
        pick.execute_complete({"ti": ti, "task_instance": ti}, response("Image 7"))  # type: ignore[arg-type]
    assert ti.pushed == []
