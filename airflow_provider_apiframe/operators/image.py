"""Every image model of the Apiframe API, on each of its job routes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_apiframe.core.catalog import BACKGROUND_REMOVE, EDIT, GENERATE, UPSCALE
from airflow_provider_apiframe.operators.model_job import ApiframeModelJobOperator


class ApiframeImageJobOperator(ApiframeModelJobOperator):
    """Run one image job of any model on this operator's route (see the subclasses)."""


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
