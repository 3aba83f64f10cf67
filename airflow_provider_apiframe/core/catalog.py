"""
Which models each job-creating route takes, how their requests are laid out, and which fields are media.

Read off the shipped contract snapshot (``contract.json``) when first imported, so a route or model
the contract adds is catalogued by ``scripts/update_contract.py`` alone; ``tests/core/test_catalog.py``
checks the result against the official document.

A route's alternatives are chosen by ``model`` (the generation, edit and upscale routes of images,
videos and music) or by ``action`` (the follow-up actions on a Midjourney or Suno job). A model's
parameters go under its ``<family>Params`` key; an action's are the body's own fields.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

from airflow_provider_apiframe.core import contract
from airflow_provider_apiframe.core.media import Kind

Modality = Literal["image", "video", "music"]

GENERATE = "/v2/images/generate"
EDIT = "/v2/images/edit"
UPSCALE = "/v2/images/upscale"
BACKGROUND_REMOVE = "/v2/images/background-remove"
MIDJOURNEY_ACTION = "/v2/images/midjourney/action"
VIDEO_GENERATE = "/v2/videos/generate"
VIDEO_EDIT = "/v2/videos/edit"
VIDEO_UPSCALE = "/v2/videos/upscale"
MUSIC_GENERATE = "/v2/music/generate"
SUNO_ACTION = "/v2/music/suno/action"

#: The model whose jobs each action route acts on.
ACTION_PARENTS: Mapping[str, str] = MappingProxyType({MIDJOURNEY_ACTION: "midjourney", SUNO_ACTION: "suno"})


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """
    How a request for one model (or, on an action route, for the actions on one model's jobs) is laid out.

    :param model: The ``model`` value (on an action route: the parent's model, which is not sent).
    :param route: The path the job is submitted to.
    :param params_key: The body key holding this model's parameters; ``None`` on an action route,
        whose fields are the body's own.
    :param params_required: Whether the parameters block must be sent.
    :param params_needed: Whether it must hold something (some of its fields are required).
    :param top_level_prompt: Whether ``prompt`` sits at the top of the body.
    :param media_fields: The parameters that take input media (URLs in the contract), each with the
        kind of file it takes, in the contract's order.
    """

    model: str
    route: str
    params_key: str | None
    params_required: bool = False
    params_needed: bool = False
    top_level_prompt: bool = True
    media_fields: tuple[tuple[str, Kind], ...] = ()

    @property
    def image_fields(self) -> tuple[str, ...]:
        """The parameters of this model that take input images."""
        return tuple(field for field, kind in self.media_fields if kind == "image")

    @property
    def is_action(self) -> bool:
        """Whether this is an action route's entry (no ``model`` sent, fields at the top)."""
        return self.params_key is None

    @property
    def modality(self) -> Modality:
        """``image``, ``video`` or ``music``: what the route makes."""
        return modality_of(self.route)


def modality_of(route: str) -> Modality:
    """
    What a job route makes, from its path.

    :param route: e.g. ``/v2/videos/generate``.
    """
    if route.startswith("/v2/videos/"):
        return "video"
    if route.startswith("/v2/music/"):
        return "music"
    return "image"


def media_kind(field: str) -> Kind:
    """
    The kind of file a media parameter takes, from its name (``start_image``, ``reference_video``...).

    :param field: The parameter's name.
    """
    if "video" in field or "clip" in field:
        return "video"
    return "audio" if "audio" in field else "image"


def _resolve(schemas: Mapping[str, Any], node: Any) -> Any:
    while isinstance(node, Mapping) and "$ref" in node:
        node = schemas[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _takes_url(schemas: Mapping[str, Any], node: Any) -> bool:
    """Whether a parameter's schema is (a list of, or one of several) URLs."""
    return '"format": "uri"' in json.dumps(_resolve(schemas, node))


def _build(document: Mapping[str, Any]) -> tuple[dict[str, ModelSpec], dict[str, ModelSpec], dict[str, str]]:
    """The models of the model routes, the action routes' entries, and every job route's schema name."""
    schemas = document["components"]["schemas"]
    models: dict[str, ModelSpec] = {}
    actions: dict[str, ModelSpec] = {}
    routes: dict[str, str] = {}
    for route, item in document["paths"].items():
        ref = item.get("post", {}).get("requestBody", {}).get("content", {})
        ref = ref.get("application/json", {}).get("schema", {}).get("$ref", "")
        if not ref or "oneOf" not in (schema := _resolve(schemas, {"$ref": ref})):
            continue
        branches = [_resolve(schemas, branch) for branch in schema["oneOf"]]
        if route in ACTION_PARENTS:
            routes[route] = ref.rsplit("/", 1)[-1]
            actions[route] = ModelSpec(ACTION_PARENTS[route], route, None, params_required=True)
            continue
        for branch in branches:
            properties = branch.get("properties", {})
            if "model" not in properties:
                break
            routes[route] = ref.rsplit("/", 1)[-1]
            (key,) = [name for name in properties if name.endswith("Params")]
            block = _resolve(schemas, properties[key])
            media = tuple(
                (f, media_kind(f))
                for f, node in block.get("properties", {}).items()
                if _takes_url(schemas, node)
            )
            for model in properties["model"]["enum"]:
                models[model] = ModelSpec(
                    model,
                    route,
                    key,
                    params_required=key in branch.get("required", []),
                    params_needed=key in branch.get("required", []) and bool(block.get("required")),
                    top_level_prompt="prompt" in properties,
                    media_fields=media,
                )
    return models, actions, routes


_MODELS, _ACTIONS, _ROUTES = _build(contract.snapshot())

#: Every model of every job route, by ``model`` value.
MODELS: Mapping[str, ModelSpec] = MappingProxyType(_MODELS)
#: The image models (the ``/v2/images/*`` routes that take a ``model``).
IMAGE_MODELS: Mapping[str, ModelSpec] = MappingProxyType(
    {name: spec for name, spec in _MODELS.items() if spec.modality == "image"}
)
#: The entry of each action route (Midjourney's and Suno's follow-up actions).
ACTIONS: Mapping[str, ModelSpec] = MappingProxyType(_ACTIONS)
#: The contract's request schema of each job route whose alternatives are chosen by ``model``.
ROUTE_SCHEMAS: Mapping[str, str] = MappingProxyType(
    {route: name for route, name in _ROUTES.items() if route not in ACTION_PARENTS}
)
#: The contract's request schema of every job-creating route, actions included.
JOB_ROUTES: Mapping[str, str] = MappingProxyType(_ROUTES)


def models_of(route: str) -> list[str]:
    """
    The models a route takes, in the contract's order.

    :param route: e.g. ``/v2/images/generate``.
    """
    return [spec.model for spec in MODELS.values() if spec.route == route]


def spec_for(body: Mapping[str, Any], route: str | None = None) -> ModelSpec | None:
    """
    The catalogue entry a job request (or a job's ``input``) was made from.

    :param body: The request body.
    :param route: Its route, when known: an action's body names no model.
    """
    if route is not None and route in ACTIONS:
        return ACTIONS[route]
    return MODELS.get(str(body.get("model")))


def prompt_of(body: Mapping[str, Any], route: str | None = None) -> str | None:
    """
    The prompt of a job request, at the top or in its parameters (edit and upscale routes).

    :param body: A job-creating request body (or a job's ``input``).
    :param route: Its route, when known.
    """
    spec = spec_for(body, route)
    params = body.get(spec.params_key) if spec and spec.params_key else None
    prompt = body.get("prompt") or (params.get("prompt") if isinstance(params, Mapping) else None)
    return prompt if isinstance(prompt, str) else None


def media_inputs_of(body: Mapping[str, Any], route: str | None = None) -> list[tuple[str, Kind]]:
    """
    The input media URLs of a job request, each with its kind, from its model's media parameters.

    :param body: A job-creating request body.
    :param route: Its route, when known.
    """
    spec = spec_for(body, route)
    params = body.get(spec.params_key) if spec and spec.params_key else None
    if spec is None or not isinstance(params, Mapping):
        return []
    found: list[tuple[str, Kind]] = []
    for field, kind in spec.media_fields:
        value = params.get(field)
        found.extend((v, kind) for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
    return found


def image_inputs_of(body: Mapping[str, Any]) -> list[str]:
    """
    The input image URLs of a job request, from its model's image parameters.

    :param body: A job-creating request body.
    """
    return [url for url, kind in media_inputs_of(body) if kind == "image"]
