"""
What a job makes, decided when it is accepted: its kind of result, its files, its price, its inputs.

The result of a COMPLETED job, by kind (``GET /v2/jobs/{id}`` and the completed webhook):

- ``images`` (every image model): ``{"images": [url, ...]}``, one ``.png``/``.jpeg``/``.webp``
  URL per image;
- ``grid`` (a ``midjourney`` generation, and every Midjourney action but ``upsample``):
  ``{"images": [url x 4]}``;
- ``upsample`` (Midjourney's ``upsample``, derived from the chosen grid image):
  ``{"images": [url]}``;
- ``video`` (every video model, edit and upscale): ``{"videos": [url]}``, an ``.mp4``;
- ``audio`` (every music model but Suno): ``{"audio": [url, ...]}``, ``.mp3`` (or ``.wav``);
- ``tracks`` (a ``suno`` generation, and Suno's ``extend``, ``cover``, ``add_vocals``):
  ``{"tracks": [{"id", "title", "audio_url", "duration"} x 2]}``;
- ``stems`` (Suno's ``stems``): ``{"vocals": url, "instrumental": url}``.

Files are served under ``/files/<job id>-<n>.<ext>``, drawn on first request (see ``results.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from airflow_provider_apiframe.core.catalog import media_inputs_of, prompt_of, spec_for
from airflow_provider_apiframe.emulator.audio import DEFAULT_SECONDS, AudioSpec, audio_spec
from airflow_provider_apiframe.emulator.images import ImageSpec, image_spec
from airflow_provider_apiframe.emulator.state.ledger import price
from airflow_provider_apiframe.emulator.video import VideoSpec, video_spec

OutputKind = Literal["images", "grid", "upsample", "video", "audio", "tracks", "stems"]
#: Midjourney's grid: the images a generation (or a variation, inpaint, outpaint or pan) makes.
GRID_SIZE = 4
#: The pair of tracks a Suno generation (or extend, cover, add_vocals) makes.
SUNO_TRACKS = 2


@dataclasses.dataclass(frozen=True)
class Output:
    """
    What a job makes.

    :param kind: Its kind of result (see the module's docstring).
    :param cost: Credits it costs when it completes.
    :param caption: The text its files show (its prompt, or its parent's).
    :param images: Its images, for the image kinds.
    :param video: Its video, for ``video``.
    :param audio: Its sounds, for ``audio``, ``tracks`` and ``stems``.
    :param title: Its tracks' title (``tracks``).
    :param source: What its sounds are made from: the seed of the parent's track (``stems``:
        the parts of that tune), else empty (each file's own).
    :param inputs: The input media it fetches before it can end, each with its kind.
    """

    kind: OutputKind
    cost: int
    caption: str
    images: ImageSpec | None = None
    video: VideoSpec | None = None
    audio: AudioSpec | None = None
    title: str = ""
    source: str = ""
    inputs: tuple[tuple[str, str], ...] = ()


def plan(route: str, body: Mapping[str, Any]) -> Output:
    """
    What a request to a model route makes (the action routes plan theirs from the parent job).

    :param route: The route.
    :param body: The validated body.
    :raises KeyError: When the body names no model of the catalogue.
    """
    spec = spec_for(body, route)
    if spec is None or spec.is_action:
        raise KeyError(f"no model of {route} in {dict(body).get('model')!r}")
    params: dict[str, Any] = dict(body.get(spec.params_key or "") or {})
    caption = prompt_of(body, route) or spec.model
    inputs = tuple(media_inputs_of(body, route))
    if spec.modality == "video":
        cost = price(spec.model, params, 1, modality="video")
        return Output("video", cost, caption, video=video_spec(params, route=route), inputs=inputs)
    if spec.modality == "music":
        cost = price(spec.model, params, 1, modality="music")
        if spec.model == "suno":
            title = str(params.get("title") or caption[:60])
            audio = AudioSpec(SUNO_TRACKS, DEFAULT_SECONDS)
            return Output("tracks", cost, caption, audio=audio, title=title, inputs=inputs)
        return Output("audio", cost, caption, audio=audio_spec(spec.model, params), inputs=inputs)
    images = image_spec(spec.model, params, route=route)
    if spec.model == "midjourney":  # a grid of 4, priced as one result
        grid = dataclasses.replace(images, count=GRID_SIZE)
        return Output("grid", price(spec.model, params, 1), caption, images=grid, inputs=inputs)
    return Output("images", price(spec.model, params, images.count), caption, images=images, inputs=inputs)
