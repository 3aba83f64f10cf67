"""Generate or edit images with GPT Image 1.5 and GPT Image 2, with typed, validated arguments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_apiframe.core import calls
from airflow_provider_apiframe.core.models import (
    GPT_IMAGE_2_MODEL,
    GPT_IMAGE_MODEL,
    GptImage2Params,
    GptImageParams,
)
from airflow_provider_apiframe.operators.base import ApiframeJobOperator
from airflow_provider_apiframe.operators.image import ApiframeImageGenerateOperator

if TYPE_CHECKING:
    from airflow_provider_apiframe.core.exchange import ApiCall
    from airflow_provider_apiframe.core.models import JobAccepted

_SHARED = ("prompt", "webhook_url", "webhook_events", *ApiframeJobOperator.template_fields)


class _TypedImageGenerateOperator(ApiframeImageGenerateOperator):
    """
    A generation operator whose model parameters are its own typed arguments.

    The parameters are declared once, by the model's request model (``GptImageParams``...): the
    operator takes its fields as arguments of the same names, which a test checks against the
    signatures the subclasses spell out for DAG authors and their editors.

    :param arguments: The subclass's arguments by name (its ``locals()``): ``prompt``,
        ``webhook_url``, ``webhook_events`` and every field of :attr:`typed_params`.
    """

    #: The model whose parameters are typed.
    typed_model: ClassVar[str]
    #: The model's parameters, as arguments of the operator (the request model's fields).
    typed_params: ClassVar[tuple[str, ...]] = ()
    media_input_paths = (("input_images", "image"),)

    def __init__(self, *, arguments: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(
            model=self.typed_model,
            prompt=arguments["prompt"],
            webhook_url=arguments["webhook_url"],
            webhook_events=arguments["webhook_events"],
            **kwargs,
        )
        for name in self.typed_params:
            setattr(self, name, arguments[name])

    def request_values(self) -> dict[str, Any]:
        """The rendered arguments, flat (errors then name them as the DAG author wrote them)."""
        names = (*self.typed_params, "prompt", "webhook_url", "webhook_events", "idempotency_key")
        return {name: getattr(self, name) for name in names}

    def build_call(self, values: dict[str, Any]) -> ApiCall[JobAccepted]:
        """Validate every argument and build ``POST /v2/images/generate``."""
        return calls.generate_image(self.model, **values)


class GptImageGenerateOperator(_TypedImageGenerateOperator):
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
    :param input_images: Images to edit or combine: http(s) URLs, local paths or
        ``ObjectStoragePath`` s (uploaded first); a single one is accepted.
    :param webhook_url: http(s) URL the API POSTs job events to.
    :param webhook_events: Events to POST: ``"progress"``, ``"completed"``, ``"failed"``.
    :param kwargs: See :class:`~airflow_provider_apiframe.operators.base.ApiframeJobOperator`:
        ``apiframe_conn_id``, ``idempotency_key``, ``output_path``, ``output_conn_id``,
        ``deferrable``, ``wait_for_completion``, ``poll_interval``, ``timeout``, and every
        ``BaseOperator`` argument.
    """

    typed_model = GPT_IMAGE_MODEL
    typed_params = tuple(GptImageParams.model_fields)
    template_fields: Sequence[str] = (*typed_params, *_SHARED)

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
        input_images: Any = None,
        webhook_url: str | None = None,
        webhook_events: str | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(arguments=locals(), **kwargs)


class GptImage2GenerateOperator(_TypedImageGenerateOperator):
    """
    Generate images with GPT Image 2 (``gpt-image-2``), or edit them by passing ``input_images``.

    Like :class:`GptImageGenerateOperator`, with ``moderation`` and without ``input_fidelity``;
    the background is ``"auto"`` or ``"opaque"`` (no transparency).

    :param prompt: What to draw or change, 1 to 2000 characters.
    :param aspect_ratio: ``"1:1"``, ``"3:2"`` or ``"2:3"``.
    :param quality: ``"low"``, ``"medium"``, ``"high"`` or ``"auto"``.
    :param background: ``"auto"`` or ``"opaque"``.
    :param moderation: ``"auto"`` or ``"low"``.
    :param number_of_images: 1 to 10.
    :param output_format: ``"png"``, ``"jpeg"`` or ``"webp"``.
    :param input_images: Images to edit or combine (URLs, local paths or ``ObjectStoragePath`` s).
    :param kwargs: See :class:`GptImageGenerateOperator`.
    """

    typed_model = GPT_IMAGE_2_MODEL
    typed_params = tuple(GptImage2Params.model_fields)
    template_fields: Sequence[str] = (*typed_params, *_SHARED)

    def __init__(
        self,
        *,
        prompt: str,
        aspect_ratio: str | None = None,
        quality: str | None = None,
        background: str | None = None,
        moderation: str | None = None,
        number_of_images: int | str | None = None,
        output_format: str | None = None,
        input_images: Any = None,
        webhook_url: str | None = None,
        webhook_events: str | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(arguments=locals(), **kwargs)
