"""Every video model of the Apiframe API: generation (41 models), instruction-based edits and upscaling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_apiframe.core.catalog import VIDEO_EDIT, VIDEO_GENERATE, VIDEO_UPSCALE
from airflow_provider_apiframe.operators.model_job import ApiframeModelJobOperator


class ApiframeVideoGenerateOperator(ApiframeModelJobOperator):
    """
    Generate a video with any model of ``POST /v2/videos/generate`` (Kling, Sora, Veo, Seedance...).

    Image, video and audio inputs among the parameters (``start_image``, ``end_image``,
    ``reference_video``...) may be local paths or ``ObjectStoragePath`` s: they are checked and
    uploaded first (videos up to 50 MB).

    .. code-block:: python

        ApiframeVideoGenerateOperator(
            task_id="clip",
            model="kling-2.6",
            prompt="The watch turns slowly on its stand",
            model_params={"start_image": "/data/watch.png", "duration": 5, "aspect_ratio": "16:9"},
        )

    :param model: The model (templated).
    :param prompt: What happens in the video (templated).
    :param model_params: The model's parameters (templated), sent under its ``<family>Params`` key.
    :param kwargs: See :class:`~airflow_provider_apiframe.operators.model_job.ApiframeModelJobOperator`.
    """

    route = VIDEO_GENERATE

    def __init__(self, *, model: str, prompt: str, **kwargs: Any) -> None:
        super().__init__(model=model, prompt=prompt, **kwargs)


class ApiframeVideoEditOperator(ApiframeModelJobOperator):
    """
    Edit a video by instruction (``POST /v2/videos/edit``, Wan 2.7 VideoEdit).

    :param prompt: The instruction (templated).
    :param model_params: ``{"video": ..., ...}`` (templated); ``video`` may be a local file.
    :param model: ``wan-2.7-videoedit`` (the route's only model).
    :param kwargs: See :class:`~airflow_provider_apiframe.operators.model_job.ApiframeModelJobOperator`.
    """

    route = VIDEO_EDIT

    def __init__(
        self, *, prompt: str, model_params: Mapping[str, Any], model: str = "wan-2.7-videoedit", **kwargs: Any
    ) -> None:
        super().__init__(model=model, prompt=prompt, model_params=model_params, **kwargs)


class ApiframeVideoUpscaleOperator(ApiframeModelJobOperator):
    """
    Upscale a video (``POST /v2/videos/upscale``, Topaz).

    :param model_params: ``{"video": ..., "target_resolution": "1080p", "target_fps": 30, ...}`` (templated).
    :param model: ``topaz-video-upscale`` (the route's only model).
    :param kwargs: See :class:`~airflow_provider_apiframe.operators.model_job.ApiframeModelJobOperator`.
    """

    route = VIDEO_UPSCALE

    def __init__(
        self, *, model_params: Mapping[str, Any], model: str = "topaz-video-upscale", **kwargs: Any
    ) -> None:
        super().__init__(model=model, model_params=model_params, **kwargs)
