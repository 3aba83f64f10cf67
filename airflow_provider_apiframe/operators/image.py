"""Every image model of the Apiframe API, on each of its job routes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_apiframe.core import calls
from airflow_provider_apiframe.core.catalog import BACKGROUND_REMOVE, EDIT, GENERATE, IMAGE_MODELS, UPSCALE
from airflow_provider_apiframe.operators.base import ApiframeJobOperator

if TYPE_CHECKING:
    from airflow_provider_apiframe.core.calls import ApiCall
    from airflow_provider_apiframe.core.models import JobAccepted


class ApiframeImageJobOperator(ApiframeJobOperator):
    """
    Run one image job of any model on this operator's route (see the subclasses).

    The model's parameters go, as given (those set to ``None`` left out), under its
    ``<family>Params`` key (``fluxParams``, ``nanoBananaParams``...). Every family's parameters are
    checked against the contract before anything is sent, each refused one named
    ``model_params.<field>``.
    Input images among the parameters (``image``, ``image_input``, ``input_images``...) may be URLs,
    local paths or ``ObjectStoragePath`` s; the others are uploaded first.

    :param model: The model, e.g. ``flux-2-pro`` (templated).
    :param model_params: The model's parameters (templated). Named so because ``params`` is
        Airflow's own (DAG params), which Airflow merges into any argument of that name.
    :param prompt: The prompt, on routes that take one at the top (generation); templated.
    :param webhook_url: http(s) URL the API POSTs job events to (templated).
    :param webhook_events: Events to POST: ``"progress"``, ``"completed"``, ``"failed"`` (templated).
    :param kwargs: See :class:`~airflow_provider_apiframe.operators.base.ApiframeJobOperator`.
    """

    #: The route this operator submits to.
    route: ClassVar[str] = GENERATE
    template_fields: Sequence[str] = (
        "model",
        "prompt",
        "model_params",
        "webhook_url",
        "webhook_events",
        *ApiframeJobOperator.template_fields,
    )

    def __init__(
        self,
        *,
        model: str,
        model_params: Mapping[str, Any] | None = None,
        prompt: str | None = None,
        webhook_url: str | None = None,
        webhook_events: str | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.model_params = model_params
        self.prompt = prompt
        self.webhook_url = webhook_url
        self.webhook_events = webhook_events

    @property
    def image_input_paths(self) -> tuple[str, ...]:  # type: ignore[override]
        """The model's image parameters, within ``model_params``."""
        spec = IMAGE_MODELS.get(self.model)
        return tuple(f"model_params.{field}" for field in spec.image_fields) if spec else ()

    def request_values(self) -> dict[str, Any]:
        """The rendered arguments."""
        names = ("prompt", "model_params", "webhook_url", "webhook_events", "idempotency_key")
        return {name: getattr(self, name) for name in names}

    def build_call(self, values: dict[str, Any]) -> ApiCall[JobAccepted]:
        """Validate and build the job for :attr:`model` on :attr:`route`."""
        return calls.create_image_job(self.model, route=self.route, **values)


class ApiframeImageGenerateOperator(ApiframeImageJobOperator):
    """
    Generate images with any model of ``POST /v2/images/generate``.

    That is 51 models: Flux, Midjourney, Nano Banana, Seedream, Ideogram, Imagen, GPT Image...

    .. code-block:: python

        ApiframeImageGenerateOperator(
            task_id="poster",
            model="flux-2-pro",
            prompt="A travel poster of Lisbon",
            model_params={"aspect_ratio": "2:3"},
        )

    :param model: The model (templated).
    :param prompt: What to draw (templated): 1 to 2000 characters, or as many as the model's
        contract says (5000 for ``wan-image-2.7``).
    :param model_params: The model's parameters (templated), sent under its ``<family>Params`` key.
    :param kwargs: See :class:`ApiframeImageJobOperator`.
    """

    route = GENERATE

    def __init__(self, *, model: str, prompt: str, **kwargs: Any) -> None:
        super().__init__(model=model, prompt=prompt, **kwargs)


class ApiframeImageEditOperator(ApiframeImageJobOperator):
    """
    Inpaint or outpaint an image (``POST /v2/images/edit``, Flux Fill Pro).

    The prompt goes in ``model_params`` with the ``image`` (and ``mask``) and ``mode``.

    :param model: ``flux-fill-pro`` (the route's only model).
    :param model_params: ``{"image": ..., "prompt": ..., "mode": "inpaint" | "outpaint", ...}``.
    """

    route = EDIT

    def __init__(
        self, *, model_params: Mapping[str, Any], model: str = "flux-fill-pro", **kwargs: Any
    ) -> None:
        super().__init__(model=model, model_params=model_params, **kwargs)


class ApiframeImageUpscaleOperator(ApiframeImageJobOperator):
    """
    Upscale an image (``POST /v2/images/upscale``).

    :param model: ``topaz-image-upscale`` (default) or ``clarity-upscale``.
    :param model_params: ``{"image": ..., ...}``, e.g. ``upscale_factor`` for Topaz.
    """

    route = UPSCALE

    def __init__(
        self, *, model_params: Mapping[str, Any], model: str = "topaz-image-upscale", **kwargs: Any
    ) -> None:
        super().__init__(model=model, model_params=model_params, **kwargs)


class ApiframeImageBackgroundRemoveOperator(ApiframeImageJobOperator):
    """
    Remove an image's background (``POST /v2/images/background-remove``).

    :param model: ``bria-bg-remove`` (default) or ``851-bg-remove``.
    :param model_params: ``{"image": ..., ...}``.
    """

    route = BACKGROUND_REMOVE

    def __init__(
        self, *, model_params: Mapping[str, Any], model: str = "bria-bg-remove", **kwargs: Any
    ) -> None:
        super().__init__(model=model, model_params=model_params, **kwargs)
