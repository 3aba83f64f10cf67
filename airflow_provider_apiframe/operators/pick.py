"""
A person picks one of a job's result images in Airflow's UI (human in the loop, Airflow 3.1+).

:class:`ApiframePickImageOperator` is the standard provider's ``HITLOperator`` with the images
shown: its options are ``Image 1`` ... ``Image n`` and its body (Markdown, rendered by the UI's
*Required Actions* page) shows each result image by its URL, so the browser loads them from the
API's file host. Its XCom is the ``HITLOperator``'s (``chosen_options``, ``params_input``,
``responded_at``, ``responded_by_user``) plus ``index`` (1-based, what the Midjourney actions take)
and ``image`` (the chosen URL), each also pushed under its own key (``pick.output["index"]``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import HITLOperator

from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError

if TYPE_CHECKING:
    from airflow.sdk import Context

#: How the options read; ``Image 1`` is the result's first image.
OPTION = "Image {}"
#: Newer standard providers take ``response_timeout`` (Airflow 3.3+ enforces it in the scheduler);
#: older ones (1.8, with Airflow 3.1) bound the wait for a person by ``execution_timeout``.
_RESPONSE_TIMEOUT = "response_timeout" in inspect.signature(HITLOperator.__init__).parameters


def image_options(count: int) -> list[str]:
    """
    Return the options that name ``count`` images: ``["Image 1", ..., "Image <count>"]``.

    :param count: How many images are offered, at least 1.
    """
    if count < 1:
        raise ApiframeInvalidParamsError([("count", f"got {count!r}; allowed: 1 or more images")])
    return [OPTION.format(n) for n in range(1, count + 1)]


def result_images(result: Mapping[str, Any], count: int) -> list[str]:
    """
    Return the image URLs of a task's result (its ``images``), checking there is one per option.

    :param result: An Apiframe task's XCom (``result["images"]``: the URLs, in the API's order).
    :param count: How many options are offered.
    """
    images = result.get("images") if isinstance(result, Mapping) else None
    if not isinstance(images, list) or not all(isinstance(url, str) for url in images):
        got = type(result).__name__ if not isinstance(result, Mapping) else f"images={images!r}"
        raise ApiframeInvalidParamsError(
            [("result", f"got {got}; allowed: an Apiframe task's result, with a list of image URLs")]
        )
    if len(images) != count:
        raise ApiframeInvalidParamsError(
            [("result", f"got {len(images)} image(s) for {count} option(s); allowed: {count} images")]
        )
    return images


def pick_body(images: Sequence[str], intro: str | None = None) -> str:
    """
    Return the Markdown that shows the images to the person, two to a row, each under its option.

    :param images: The image URLs, in the options' order.
    :param intro: Markdown put above the images.
    """
    names = image_options(len(images))
    cells = [(f"**{name}**", f"![{name}](<{url}>)") for name, url in zip(names, images, strict=True)]
    rows = [cells[i : i + 2] for i in range(0, len(cells), 2)]
    lines = ["| | |", "| --- | --- |"]
    for row in rows:
        lines.append("| " + " | ".join(label for label, _ in row) + " |")
        lines.append("| " + " | ".join(image for _, image in row) + " |")
    return "\n\n".join(part for part in (intro, "\n".join(lines)) if part)


def chosen_index(chosen: Mapping[str, Any] | Sequence[str], options: Sequence[str]) -> int:
    """
    Return the 1-based index of the one option chosen.

    :param chosen: The ``HITLOperator``'s XCom (its ``chosen_options``), or the chosen options.
    :param options: The options offered, in order.
    """
    picked = chosen.get("chosen_options") if isinstance(chosen, Mapping) else chosen
    allowed = ", ".join(repr(option) for option in options)
    if isinstance(picked, str) or not isinstance(picked, Sequence) or len(picked) != 1:
        raise ValueError(f"chosen_options: got {picked!r}; allowed: exactly one of {allowed}")
    (option,) = picked
    if option not in options:
        raise ValueError(f"chosen_options: got {option!r}; allowed: one of {allowed}")
    return list(options).index(option) + 1


class ApiframePickImageOperator(HITLOperator):
    """
    Offer a job's result images to a person (the UI's *Required Actions*) and return the chosen one.

    .. code-block:: python

        grid = ApiframeImageGenerateOperator(task_id="grid", model="midjourney", prompt="...")
        pick = ApiframePickImageOperator(task_id="pick", result=grid.output, defaults="Image 1")
        ApiframeMidjourneyActionOperator(
            task_id="upsample", action="upsample", index=pick.output["index"], parent_job_id=...
        )

    :param result: The job's result, e.g. ``grid.output`` (templated); its ``images`` are offered.
    :param count: How many images the result has (4 for a Midjourney grid).
    :param subject: The request's headline (templated).
    :param body: Markdown shown above the images (templated).
    :param defaults: The option taken when ``response_timeout`` passes, e.g. ``"Image 1"``
        (``None``: the task fails then).
    :param response_timeout: How long to wait for the person (``None``: forever). Passed to the
        standard provider as ``response_timeout``, or as ``execution_timeout`` where it predates it.
    :param kwargs: See ``HITLOperator`` (``notifiers``, ``assigned_users``, ``params``...).
    """

    template_fields: Sequence[str] = (*HITLOperator.template_fields, "result")

    def __init__(
        self,
        *,
        result: Any,
        count: int = 4,
        subject: str = "Pick an image",
        body: str | None = None,
        defaults: str | list[str] | None = None,
        response_timeout: timedelta | None = None,
        **kwargs: Any,
    ) -> None:
        if response_timeout is not None:
            kwargs["response_timeout" if _RESPONSE_TIMEOUT else "execution_timeout"] = response_timeout
        super().__init__(
            subject=subject, options=image_options(count), body=body, defaults=defaults, **kwargs
        )
        self.result = result

    def execute(self, context: Context) -> Any:
        """Show the images (the body, then one image per option), then wait for the person."""
        self.body = pick_body(result_images(self.result, len(self.options)), self.body)
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Return the ``HITLOperator``'s result with the chosen image's ``index`` and URL (also pushed)."""
        payload = super().execute_complete(context, event)
        index = chosen_index(payload, self.options)
        image = result_images(self.result, len(self.options))[index - 1]
        self.log.info("%s chosen: %s", self.options[index - 1], image)
        context["ti"].xcom_push(key="index", value=index)
        context["ti"].xcom_push(key="image", value=image)
        return {**payload, "index": index, "image": image}
