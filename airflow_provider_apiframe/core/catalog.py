"""
Which models each job-creating route takes, and under which ``<family>Params`` key.

Read off the official contract (``apiframe-openapi.json``, API 2.0.0); ``tests/test_catalog.py``
checks this table against the contract so the two cannot drift apart silently.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """
    How a request for one model is laid out.

    :param model: The ``model`` value.
    :param route: The path the job is submitted to.
    :param params_key: The body key holding this model's parameters.
    :param params_required: Whether the parameters block must be sent.
    :param top_level_prompt: Whether ``prompt`` sits at the top of the body (generation routes).
    """

    @property
    def image_fields(self) -> tuple[str, ...]:
        """The parameters of this model that take input images."""
        return IMAGE_FIELDS.get(self.params_key, ())

    model: str
    route: str
    params_key: str
    params_required: bool = False
    top_level_prompt: bool = True


GENERATE = "/v2/images/generate"
EDIT = "/v2/images/edit"
UPSCALE = "/v2/images/upscale"
BACKGROUND_REMOVE = "/v2/images/background-remove"

_GENERATE_FAMILIES: dict[str, tuple[str, ...]] = {
    "midjourneyParams": ("midjourney",),
    "nanoBananaParams": ("nano-banana", "nano-banana-pro", "nano-banana-2", "nano-banana-2-lite"),
    "fluxParams": (
        "flux-1.1-pro",
        "flux-1.1-pro-ultra",
        "flux-2-pro",
        "flux-2-dev",
        "flux-2-flex",
        "flux-2-max",
    ),
    "seedreamParams": (
        "seedream-3",
        "seedream-3.1",
        "seedream-4",
        "seedream-4.5",
        "seedream-5-lite",
        "seedream-5-pro",
    ),
    "ideogramParams": (
        "ideogram-v2",
        "ideogram-v2-turbo",
        "ideogram-v2a",
        "ideogram-v2a-turbo",
        "ideogram-v3-balanced",
        "ideogram-v3-turbo",
        "ideogram-v3-quality",
        "ideogram-v4-balanced",
        "ideogram-v4-turbo",
        "ideogram-v4-quality",
        "ideogram-character",
    ),
    "stableDiffusionParams": (
        "stable-diffusion-3.5-large",
        "stable-diffusion-3.5-large-turbo",
        "stable-diffusion-3.5-medium",
        "stable-diffusion-3",
    ),
    "imagenParams": ("imagen-3", "imagen-3-fast", "imagen-4", "imagen-4-ultra", "imagen-4-fast"),
    "dalleParams": ("dall-e-3", "dall-e-2"),
    "gptImageParams": ("gpt-image-1.5",),
    "gptImage2Params": ("gpt-image-2",),
    "klingImageParams": ("kling-image",),
    "qwenImageParams": ("qwen-image",),
    "qwenImage2Params": ("qwen-image-2", "qwen-image-2-pro"),
    "wanImageParams": ("wan-image-2.6",),
    "wanImage27Params": ("wan-image-2.7", "wan-image-2.7-pro"),
    "grokImagineParams": ("grok-imagine-image",),
    "reveParams": ("reve-create",),
    "fluxLoraParams": ("flux-lora",),
}
_PARAMS_REQUIRED = {"ideogram-character", "flux-lora"}

_OTHER_ROUTES: dict[str, dict[str, str]] = {
    EDIT: {"flux-fill-pro": "fluxFillParams"},
    UPSCALE: {"topaz-image-upscale": "topazUpscaleParams", "clarity-upscale": "clarityUpscaleParams"},
    BACKGROUND_REMOVE: {"bria-bg-remove": "briaBgRemoveParams", "851-bg-remove": "lab851BgRemoveParams"},
}


#: The parameters that take input images (URLs in the contract), by parameters block.
IMAGE_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "nanoBananaParams": ("image_input",),
        "fluxParams": ("image_prompt", "input_images"),
        "seedreamParams": ("image_input",),
        "ideogramParams": ("character_reference_image", "image", "mask", "style_reference_images"),
        "stableDiffusionParams": ("image",),
        "gptImageParams": ("input_images",),
        "gptImage2Params": ("input_images",),
        "klingImageParams": ("image",),
        "qwenImageParams": ("image_url",),
        "qwenImage2Params": ("image",),
        "wanImageParams": ("image",),
        "wanImage27Params": ("image",),
        "grokImagineParams": ("image",),
        "fluxFillParams": ("image", "mask"),
        "topazUpscaleParams": ("image",),
        "clarityUpscaleParams": ("image",),
        "briaBgRemoveParams": ("image",),
        "lab851BgRemoveParams": ("image",),
    }
)


def _build() -> dict[str, ModelSpec]:
    models = {
        model: ModelSpec(model, GENERATE, key, params_required=model in _PARAMS_REQUIRED)
        for key, names in _GENERATE_FAMILIES.items()
        for model in names
    }
    for route, entries in _OTHER_ROUTES.items():
        for model, key in entries.items():
            models[model] = ModelSpec(model, route, key, params_required=True, top_level_prompt=False)
    return models


#: Every image model of the API, by ``model`` value.
IMAGE_MODELS: Mapping[str, ModelSpec] = MappingProxyType(_build())

#: The contract's request schema for each job-creating image route.
ROUTE_SCHEMAS: Mapping[str, str] = MappingProxyType(
    {
        GENERATE: "GenerateImageRequest",
        EDIT: "ImageEditRequest",
        UPSCALE: "ImageUpscaleRequest",
        BACKGROUND_REMOVE: "ImageBackgroundRemoveRequest",
    }
)


def models_of(route: str) -> list[str]:
    """
    The models a route takes.

    :param route: e.g. ``/v2/images/generate``.
    """
    return [spec.model for spec in IMAGE_MODELS.values() if spec.route == route]


def prompt_of(body: Mapping[str, Any]) -> str | None:
    """
    The prompt of a job request, at the top or in its parameters (edit and upscale routes).

    :param body: A job-creating request body (or a job's ``input``).
    """
    spec = IMAGE_MODELS.get(str(body.get("model")))
    params = body.get(spec.params_key) if spec else None
    prompt = body.get("prompt") or (params.get("prompt") if isinstance(params, Mapping) else None)
    return prompt if isinstance(prompt, str) else None


def image_inputs_of(body: Mapping[str, Any]) -> list[str]:
    """
    The input image URLs of a job request, from its model's image parameters.

    :param body: A job-creating request body.
    """
    spec = IMAGE_MODELS.get(str(body.get("model")))
    params = body.get(spec.params_key) if spec else None
    if spec is None or not isinstance(params, Mapping):
        return []
    urls: list[str] = []
    for field in spec.image_fields:
        value = params.get(field)
        urls.extend(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
    return urls
