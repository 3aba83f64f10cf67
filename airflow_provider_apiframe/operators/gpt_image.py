"""Generate or edit images with GPT Image 1.5."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_apiframe.core import calls
from airflow_provider_apiframe.operators.base import ApiframeJobOperator

if TYPE_CHECKING:
    from airflow_provider_apiframe.core.calls import ApiCall
    from airflow_provider_apiframe.core.models import JobAccepted


class GptImageGenerateOperator(ApiframeJobOperator):
    """
    Generate images with GPT Image 1.5 (``gpt-image-1.5``), or edit them by passing ``input_images``.

    Every argument below is templated. Arguments left as ``None`` are not sent, so the API's
    defaults apply (shown in brackets). They are validated after templating and before anything
    is sent; a bad value fails the task at once, without retries, naming the argument.

    :param prompt: What to draw or change, 1 to 2000 characters.
    :param aspect_ratio: ``"1:1"`` (1024x1024), ``"3:2"`` (1536x1024) or ``"2:3"`` (1024x1536) [1:1].
    :param quality: ``"low"``, ``"medium"``, ``"high"`` or ``"auto"`` [auto].
    :param background: ``"auto"``, ``"transparent"`` or ``"opaque"`` [auto].
    :param number_of_images: 1 to 10 images in one job [1].
    :param output_format: ``"png"``, ``"jpeg"`` or ``"webp"`` [webp].
    :param input_fidelity: How closely an edit keeps the input: ``"low"`` or ``"high"`` [low].
    :param input_images: http(s) URL(s) of images to edit or combine; a single URL is accepted.
    :param webhook_url: http(s) URL the API POSTs job events to.
    :param webhook_events: Events to POST: ``"progress"``, ``"completed"``, ``"failed"``.
    :param kwargs: See :class:`~airflow_provider_apiframe.operators.base.ApiframeJobOperator`:
        ``apiframe_conn_id``, ``idempotency_key``, ``deferrable``, ``wait_for_completion``,
        ``poll_interval``, ``timeout``, and every ``BaseOperator`` argument.
    """

    template_fields: Sequence[str] = (
        "prompt",
        "aspect_ratio",
        "quality",
        "background",
        "number_of_images",
        "output_format",
        "input_fidelity",
        "input_images",
        "webhook_url",
        "webhook_events",
        *ApiframeJobOperator.template_fields,
    )

    def __init__(
        self,
        *,
        prompt: str,
        aspect_ratio: str | None = None,
        quality: str | None = None,
        background: str | None = None,
        number_of_images: int | str | None = None,
        output_format: str | None = None,
        input_fidelity: str | None = None,
        input_images: str | list[str] | None = None,
        webhook_url: str | None = None,
        webhook_events: str | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.prompt = prompt
        self.aspect_ratio = aspect_ratio
        self.quality = quality
        self.background = background
        self.number_of_images = number_of_images
        self.output_format = output_format
        self.input_fidelity = input_fidelity
        self.input_images = input_images
        self.webhook_url = webhook_url
        self.webhook_events = webhook_events

    def build_call(self) -> ApiCall[JobAccepted]:
        """Validate the rendered arguments and build ``POST /v2/images/generate``."""
        fields = {name: getattr(self, name) for name in self.template_fields}
        return calls.generate_gpt_image(**{k: v for k, v in fields.items() if v is not None})
